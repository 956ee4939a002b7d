//! The options of servers, user mappings and foreign tables, and their validation.

use crate::catalogue;
pub use crate::catalogue::InsertMode;

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
                "sub_millisecond",
                "empty_strings",
                "ca_file",
                "allow_insecure_http",
            ],
            OptionTarget::UserMapping => &["client_id", "client_secret"],
            OptionTarget::Table => &["resource", "insert_mode", "sub_millisecond", "empty_strings"],
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
    /// The role may not set this (42501): URLs outside `cdf_fdw.allowed_urls`, `ca_file`.
    NotAllowed,
}

/// Who sets server options, and what the DBA allows non-superusers to point servers at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlPolicy {
    pub is_superuser: bool,
    /// URL patterns (`*` matches within one host name part or path segment) that roles other
    /// than superusers may use in `base_url` and `token_url`.
    pub allowed_urls: Vec<String>,
}

/// Default of the `cdf_fdw.allowed_urls` setting: CDF clusters and Entra ID.
pub const DEFAULT_ALLOWED_URLS_C: &std::ffi::CStr = c"https://*.cognitedata.com/, https://login.microsoftonline.com/";
pub const DEFAULT_ALLOWED_URLS: &str = match DEFAULT_ALLOWED_URLS_C.to_str() {
    Ok(s) => s,
    Err(_) => panic!("the default is ASCII"),
};

/// Host of an http(s) URL, without port or brackets.
pub fn url_host(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if let Some(v6) = authority.strip_prefix('[') {
        return v6.split_once(']').map(|(h, _)| h);
    }
    Some(authority.split(':').next().unwrap_or(authority))
}

/// Whether a host is this machine's loopback interface.
pub fn is_loopback(host: &str) -> bool {
    host == "localhost" || host == "::1" || host.split('.').next() == Some("127") && host.split('.').count() == 4
}

/// `*` matches any run of characters other than `/`; the pattern must match a prefix of `url`.
fn pattern_matches(pattern: &str, url: &str) -> bool {
    fn go(p: &[u8], u: &[u8]) -> bool {
        match p.split_first() {
            None => true,
            Some((b'*', rest)) => (0..=u.len()).take_while(|&i| i == 0 || u[i - 1] != b'/').any(|i| go(rest, &u[i..])),
            Some((c, rest)) => u.first() == Some(c) && go(rest, &u[1..]),
        }
    }
    go(pattern.as_bytes(), url.as_bytes())
}

/// Checks the URLs and file paths of a server's complete option list against the policy:
/// TLS unless the host is loopback or `allow_insecure_http` is set; non-superusers only to
/// allowed URLs and never a `ca_file` (it makes the server read a file).
pub fn validate_server_policy(options: &[(String, String)], policy: &UrlPolicy) -> Result<(), OptionError> {
    let insecure_ok = get(options, "allow_insecure_http") == Some("true");
    for name in ["base_url", "token_url"] {
        let Some(url) = get(options, name) else { continue };
        let host = url_host(url).unwrap_or("");
        if url.starts_with("http://") && !is_loopback(host) && !insecure_ok {
            return Err(OptionError {
                kind: OptionErrorKind::InvalidValue,
                message: format!("option \"{name}\" uses plain http to \"{host}\": client secrets and tokens would cross the network unencrypted"),
                hint: Some("Use https, or set allow_insecure_http 'true' on the server if the network is trusted.".into()),
            });
        }
        // "https://host" and "https://host/" name the same place.
        let has_path = url.split_once("://").is_some_and(|(_, rest)| rest.contains('/'));
        let normalized = if has_path { url.to_string() } else { format!("{url}/") };
        if !policy.is_superuser && !policy.allowed_urls.iter().any(|p| pattern_matches(p, &normalized)) {
            return Err(OptionError {
                kind: OptionErrorKind::NotAllowed,
                message: format!("only superusers may point a cdf_fdw server at \"{url}\""),
                hint: Some(format!(
                    "A superuser can allow it by adding a pattern to the setting cdf_fdw.allowed_urls (now: {}).",
                    policy.allowed_urls.join(", ")
                )),
            });
        }
    }
    if !policy.is_superuser && (get(options, "ca_file").is_some() || insecure_ok) {
        return Err(OptionError {
            kind: OptionErrorKind::NotAllowed,
            message: "only superusers may set ca_file or allow_insecure_http on a cdf_fdw server".into(),
            hint: None,
        });
    }
    Ok(())
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
    let (message, hint) = match name {
        "resource" if catalogue::resource(value).is_none() => (
            format!("unknown CDF resource \"{value}\""),
            Some(format!("Valid resources: {}.", catalogue::resource_names().join(", "))),
        ),
        "insert_mode" if InsertMode::parse(value).is_none() => {
            (format!("invalid insert_mode \"{value}\""), Some("Valid values: upsert, create, ignore.".into()))
        }
        "sub_millisecond" if crate::SubMillisecond::parse(value).is_none() => (
            format!("invalid sub_millisecond \"{value}\""),
            Some("Valid values: truncate (drop the microseconds), reject (refuse the row).".into()),
        ),
        "empty_strings" if crate::EmptyStrings::parse(value).is_none() => (
            format!("invalid empty_strings \"{value}\""),
            Some("Valid values: reject, null (send optional fields as NULL).".into()),
        ),
        "base_url" | "token_url" if !(value.starts_with("https://") || value.starts_with("http://")) => {
            (format!("option \"{name}\" must be an http(s) URL, got \"{value}\""), None)
        }
        "allow_insecure_http" if value != "true" && value != "false" => {
            (format!("allow_insecure_http must be 'true' or 'false', got \"{value}\""), None)
        }
        "ca_file" if !value.starts_with('/') => (format!("ca_file must be an absolute path, got \"{value}\""), None),
        "project" if value.is_empty() || value.contains('/') => (format!("invalid CDF project name \"{value}\""), None),
        _ => return Ok(()),
    };
    Err(bad_value(message, hint))
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

    fn superuser() -> UrlPolicy {
        UrlPolicy { is_superuser: true, allowed_urls: vec![] }
    }

    fn ordinary() -> UrlPolicy {
        UrlPolicy { is_superuser: false, allowed_urls: DEFAULT_ALLOWED_URLS.split(", ").map(str::to_string).collect() }
    }

    #[test]
    fn plain_http_only_to_loopback_unless_allowed() {
        let ok = opts(&[("base_url", "http://127.0.0.1:4080"), ("token_url", "http://localhost/t")]);
        assert!(validate_server_policy(&ok, &superuser()).is_ok());
        let remote = opts(&[("base_url", "http://cdf.internal:80")]);
        let e = validate_server_policy(&remote, &superuser()).unwrap_err();
        assert!(e.message.contains("plain http to \"cdf.internal\""), "{}", e.message);
        let allowed = opts(&[("base_url", "http://cdf.internal:80"), ("allow_insecure_http", "true")]);
        assert!(validate_server_policy(&allowed, &superuser()).is_ok());
        assert!(validate_server_policy(&opts(&[("base_url", "http://[::1]:8/")]), &superuser()).is_ok());
        assert!(validate_server_policy(&opts(&[("base_url", "http://127.evil.com/")]), &superuser()).is_err());
    }

    #[test]
    fn non_superusers_are_held_to_the_allowed_urls() {
        let cdf = opts(&[
            ("base_url", "https://westeurope-1.cognitedata.com"),
            ("token_url", "https://login.microsoftonline.com/tenant/oauth2/v2.0/token"),
        ]);
        assert!(validate_server_policy(&cdf, &ordinary()).is_ok());
        for url in [
            "https://169.254.169.254/latest",
            "http://127.0.0.1:5432",
            "https://cognitedata.com.evil.io/",
            "https://evil.io/x.cognitedata.com/",
        ] {
            let e = validate_server_policy(&opts(&[("base_url", url)]), &ordinary()).unwrap_err();
            assert_eq!(e.kind, OptionErrorKind::NotAllowed, "{url}");
        }
        let ca = opts(&[("base_url", "https://a.cognitedata.com"), ("ca_file", "/etc/passwd")]);
        assert_eq!(validate_server_policy(&ca, &ordinary()).unwrap_err().kind, OptionErrorKind::NotAllowed);
        assert!(validate_server_policy(&ca, &superuser()).is_ok());
    }

    #[test]
    fn url_hosts_are_extracted() {
        assert_eq!(url_host("https://user@a.b:443/x"), Some("a.b"));
        assert_eq!(url_host("http://[::1]:80/"), Some("::1"));
        assert_eq!(url_host("nonsense"), None);
    }

    #[test]
    fn values_are_checked() {
        assert!(validate(OptionTarget::Server, &opts(&[("base_url", "ftp://x")])).is_err());
        assert!(validate(OptionTarget::Server, &opts(&[("insert_mode", "merge")])).is_err());
        assert!(validate(OptionTarget::Server, &opts(&[("insert_mode", "ignore")])).is_ok());
    }
}
