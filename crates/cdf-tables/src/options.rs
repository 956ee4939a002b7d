//! The options of servers, user mappings and foreign tables, and their validation.

use crate::catalogue;

/// The catalog object an option list belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptionTarget {
    Wrapper,
    Server,
    UserMapping,
    Table,
    Column,
}

impl OptionTarget {
    pub fn describe(&self) -> &'static str {
        match self {
            OptionTarget::Wrapper => "foreign-data wrapper",
            OptionTarget::Server => "server",
            OptionTarget::UserMapping => "user mapping",
            OptionTarget::Table => "foreign table",
            OptionTarget::Column => "column",
        }
    }

    pub fn allowed(&self) -> &'static [&'static str] {
        match self {
            OptionTarget::Wrapper | OptionTarget::Column => &[],
            OptionTarget::Server => &[
                "base_url",
                "project",
                "token_url",
                "scopes",
                "audience",
                "insert_mode",
            ],
            OptionTarget::UserMapping => &["client_id", "client_secret"],
            OptionTarget::Table => &["resource", "insert_mode"],
        }
    }
}

/// How INSERT and COPY treat rows whose external id already exists in CDF.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InsertMode {
    /// Create, then update the rows CDF reports as duplicated.
    Upsert,
    /// Create; a duplicate is an error.
    Create,
    /// Create; duplicates are skipped.
    Ignore,
}

impl InsertMode {
    pub fn parse(s: &str) -> Option<InsertMode> {
        match s {
            "upsert" => Some(InsertMode::Upsert),
            "create" => Some(InsertMode::Create),
            "ignore" => Some(InsertMode::Ignore),
            _ => None,
        }
    }
}

/// A rejected option: `sqlstate_class` tells the pgrx layer which FDW error code to raise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionError {
    pub kind: OptionErrorKind,
    pub message: String,
    pub hint: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptionErrorKind {
    /// Unknown option name (HV00D).
    InvalidName,
    /// Known option with a bad value (HV024).
    InvalidValue,
}

/// Checks one catalog object's option list, as the FDW validator sees it.
pub fn validate(target: OptionTarget, options: &[(String, String)]) -> Result<(), OptionError> {
    let allowed = target.allowed();
    for (name, value) in options {
        if !allowed.contains(&name.as_str()) {
            let hint = if allowed.is_empty() {
                format!("A {} of cdf_fdw takes no options.", target.describe())
            } else {
                format!("Valid options of a {}: {}.", target.describe(), allowed.join(", "))
            };
            return Err(OptionError {
                kind: OptionErrorKind::InvalidName,
                message: format!("invalid option \"{name}\" for a cdf_fdw {}", target.describe()),
                hint: Some(hint),
            });
        }
        validate_value(name, value)?;
    }
    if target == OptionTarget::Table && !options.iter().any(|(n, _)| n == "resource") {
        return Err(OptionError {
            kind: OptionErrorKind::InvalidValue,
            message: "a cdf_fdw foreign table needs the option \"resource\"".into(),
            hint: Some(format!("Valid resources: {}.", catalogue::resource_names().join(", "))),
        });
    }
    Ok(())
}

fn bad_value(message: String, hint: Option<String>) -> OptionError {
    OptionError { kind: OptionErrorKind::InvalidValue, message, hint }
}

fn validate_value(name: &str, value: &str) -> Result<(), OptionError> {
    match name {
        "resource" => {
            if catalogue::resource(value).is_none() {
                return Err(bad_value(
                    format!("unknown CDF resource \"{value}\""),
                    Some(format!("Valid resources: {}.", catalogue::resource_names().join(", "))),
                ));
            }
        }
        "insert_mode" => {
            if InsertMode::parse(value).is_none() {
                return Err(bad_value(
                    format!("invalid insert_mode \"{value}\""),
                    Some("Valid values: upsert, create, ignore.".into()),
                ));
            }
        }
        "base_url" | "token_url" => {
            if !(value.starts_with("https://") || value.starts_with("http://")) {
                return Err(bad_value(
                    format!("option \"{name}\" must be an http(s) URL, got \"{value}\""),
                    None,
                ));
            }
        }
        "project" => {
            if value.is_empty() || value.contains('/') {
                return Err(bad_value(format!("invalid CDF project name \"{value}\""), None));
            }
        }
        _ => {}
    }
    Ok(())
}

/// Looks an option up in a list.
pub fn get<'a>(options: &'a [(String, String)], name: &str) -> Option<&'a str> {
    options.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
    }

    #[test]
    fn unknown_option_names_the_valid_ones() {
        let e = validate(OptionTarget::Server, &opts(&[("url", "x")])).unwrap_err();
        assert_eq!(e.kind, OptionErrorKind::InvalidName);
        assert_eq!(e.message, "invalid option \"url\" for a cdf_fdw server");
        assert!(e.hint.unwrap().contains("base_url, project, token_url"));
    }

    #[test]
    fn table_needs_a_known_resource() {
        assert!(validate(OptionTarget::Table, &opts(&[("resource", "assets")])).is_ok());
        let e = validate(OptionTarget::Table, &opts(&[("resource", "asset")])).unwrap_err();
        assert_eq!(e.kind, OptionErrorKind::InvalidValue);
        assert!(e.message.contains("unknown CDF resource \"asset\""));
        let e = validate(OptionTarget::Table, &opts(&[])).unwrap_err();
        assert!(e.message.contains("needs the option \"resource\""));
    }

    #[test]
    fn secrets_belong_to_user_mappings_only() {
        assert!(validate(OptionTarget::UserMapping, &opts(&[("client_secret", "s")])).is_ok());
        assert!(validate(OptionTarget::Server, &opts(&[("client_secret", "s")])).is_err());
    }

    #[test]
    fn values_are_checked() {
        assert!(validate(OptionTarget::Server, &opts(&[("base_url", "ftp://x")])).is_err());
        assert!(validate(OptionTarget::Server, &opts(&[("insert_mode", "merge")])).is_err());
        assert!(validate(OptionTarget::Server, &opts(&[("insert_mode", "ignore")])).is_ok());
    }
}
