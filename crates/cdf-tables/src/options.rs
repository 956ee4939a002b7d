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
            OptionTarget::Wrapper => &[],
            // A view table's column: the view property it holds, when the names differ (for a
            // typed RAW table, the RAW column).
            OptionTarget::Column => &["property"],
            OptionTarget::Server => &[
                "base_url",
                "project",
                "token_url",
                "scopes",
                "audience",
                "insert_mode",
                "sub_millisecond",
                "empty_strings",
                "null_values",
                "delete_unknown",
                "unknown_references",
                "hierarchy_buffer_mb",
                "ca_file",
                "allow_insecure_http",
                "max_concurrent_requests",
                "batch_scope",
                "use_remote_estimate",
            ],
            OptionTarget::UserMapping => &["client_id", "client_secret"],
            OptionTarget::Table => &[
                "resource",
                "space",
                "view",
                "version",
                "instance_space",
                "database",
                "table",
                "primary_key",
                "insert_mode",
                "sub_millisecond",
                "empty_strings",
                "null_values",
                "delete_unknown",
                "unknown_references",
                "hierarchy_buffer_mb",
                "max_concurrent_requests",
                "batch_scope",
                "use_remote_estimate",
            ],
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

/// Parses `base_url` / `token_url` with the parser the HTTP client uses (reqwest is built on the
/// `url` crate): whatever this says about scheme, host and port is where requests go.
///
/// Refused: anything but http(s), URLs without a host, user names or passwords (reqwest would
/// turn them into a Basic `Authorization` header), fragments (never sent: a classic way to hide
/// a host from string checks) and, for `base_url`, query strings (API paths are appended).
pub fn parse_http_url(name: &str, value: &str) -> Result<url::Url, OptionError> {
    let bad = |why: &str| bad_value(format!("option \"{name}\" is not a usable http(s) URL: {why}"), None);
    let url = url::Url::parse(value).map_err(|e| bad(&e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad("the scheme must be https or http"));
    }
    if url.host().is_none() {
        return Err(bad("it has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("it carries a user name or password (put credentials in the user mapping)"));
    }
    if url.fragment().is_some() {
        return Err(bad("it has a #fragment"));
    }
    if name == "base_url" && url.query().is_some() {
        return Err(bad("it has a ?query (API paths are appended to base_url)"));
    }
    Ok(url)
}

/// Host of an http(s) URL as the HTTP client sees it, without port or brackets.
pub fn url_host(url: &str) -> Option<String> {
    let u = url::Url::parse(url).ok()?;
    match u.host()? {
        url::Host::Ipv6(a) => Some(a.to_string()),
        h => Some(h.to_string()),
    }
}

/// Whether a parsed URL's host is this machine's loopback interface: `localhost`, 127.0.0.0/8
/// (in whatever notation: the parser turns `2130706433` or `0x7f.1` into `127.0.0.1`) or `::1`.
pub fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(a)) => a.is_loopback(),
        Some(url::Host::Ipv6(a)) => a.is_loopback(),
        None => false,
    }
}

/// One entry of `cdf_fdw.allowed_urls`, parsed: `scheme://host[:port][/path]`.
///
/// - scheme and host compare case-insensitively (the parser lowercases both);
/// - a host label `*` matches exactly one DNS label (`https://*.cognitedata.com/` matches
///   `https://westeurope-1.cognitedata.com/` but neither `cognitedata.com` nor `a.b.cognitedata.com`);
///   `*` elsewhere, or next to other characters in a label, makes the entry invalid; wildcards
///   never match IP addresses;
/// - no port in the entry means the scheme's default port (443, 80); otherwise exactly that port;
/// - the path is a prefix on segment boundaries: `/tenant` matches `/tenant` and `/tenant/x`,
///   not `/tenantx`; `/` or no path matches every path;
/// - entries with a user name, query or fragment, and entries that do not parse, match nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlPattern {
    scheme: String,
    host: PatternHost,
    port: Option<u16>,
    path: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum PatternHost {
    /// Lowercased labels; `None` is a `*` label.
    Domain(Vec<Option<String>>),
    Ip(url::Host),
}

/// The placeholder that stands for a `*` label while the parser checks the rest of a pattern.
const WILDCARD_LABEL: &str = "cdf-fdw-wildcard-label";

impl UrlPattern {
    pub fn parse(pattern: &str) -> Option<UrlPattern> {
        let (scheme, rest) = pattern.split_once("://")?;
        let authority_end = rest.find(['/', '?', '#', '\\']).unwrap_or(rest.len());
        let authority = &rest[..authority_end];
        if authority.contains('@') || authority.contains('%') {
            return None;
        }
        // `*` only as a whole label of a host name.
        let (host, port) = if authority.starts_with('[') {
            let close = authority.find(']')?;
            let (h, after) = authority.split_at(close + 1);
            match after {
                "" => (h, None),
                p => (h, Some(p.strip_prefix(':')?)),
            }
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            }
        };
        let mut labels = Vec::new();
        if !host.starts_with('[') {
            for label in host.split('.') {
                if label == "*" {
                    labels.push(WILDCARD_LABEL.to_string());
                } else if label.contains('*') {
                    return None;
                } else {
                    labels.push(label.to_string());
                }
            }
        } else if host.contains('*') {
            return None;
        }
        let host_text = if host.starts_with('[') { host.to_string() } else { labels.join(".") };
        let rebuilt = match port {
            Some(p) => format!("{scheme}://{host_text}:{p}{}", &rest[authority_end..]),
            None => format!("{scheme}://{host_text}{}", &rest[authority_end..]),
        };
        let url = url::Url::parse(&rebuilt).ok()?;
        if !matches!(url.scheme(), "http" | "https") || url.query().is_some() || url.fragment().is_some() {
            return None;
        }
        let host = match url.host()? {
            url::Host::Domain(d) => PatternHost::Domain(
                d.split('.').map(|l| if l == WILDCARD_LABEL { None } else { Some(l.to_string()) }).collect(),
            ),
            ip => PatternHost::Ip(ip.to_owned()),
        };
        Some(UrlPattern {
            scheme: url.scheme().to_string(),
            host,
            port: url.port_or_known_default(),
            path: url.path().to_string(),
        })
    }

    /// Whether a URL (parsed as the HTTP client parses it) falls under this entry.
    pub fn matches(&self, url: &url::Url) -> bool {
        if url.scheme() != self.scheme || url.port_or_known_default() != self.port {
            return false;
        }
        if !url.username().is_empty() || url.password().is_some() {
            return false;
        }
        let host_ok = match (&self.host, url.host()) {
            (PatternHost::Domain(labels), Some(url::Host::Domain(d))) => {
                let parts: Vec<&str> = d.split('.').collect();
                parts.len() == labels.len()
                    && parts.iter().zip(labels).all(|(part, label)| match label {
                        // A DNS label: letters, digits, hyphens (punycode included), underscores.
                        None => {
                            !part.is_empty()
                                && part.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                        }
                        Some(l) => l == part,
                    })
            }
            (PatternHost::Ip(a), Some(b)) => *a == b.to_owned(),
            _ => false,
        };
        host_ok && path_has_prefix(url.path(), &self.path)
    }
}

/// `/a/b` is under `/a` and `/a/`, not under `/ab`.
fn path_has_prefix(path: &str, prefix: &str) -> bool {
    if prefix.is_empty() || prefix == "/" {
        return true;
    }
    let prefix = prefix.trim_end_matches('/');
    path == prefix || path.strip_prefix(prefix).is_some_and(|rest| rest.starts_with('/'))
}

/// Checks the URLs and file paths of a server's complete option list against the policy:
/// TLS unless the host is loopback or `allow_insecure_http` is set; non-superusers only to
/// allowed URLs and never a `ca_file` (it makes the server read a file).
pub fn validate_server_policy(options: &[(String, String)], policy: &UrlPolicy) -> Result<(), OptionError> {
    let insecure_ok = get(options, "allow_insecure_http") == Some("true");
    let patterns: Vec<UrlPattern> = policy.allowed_urls.iter().filter_map(|p| UrlPattern::parse(p)).collect();
    for name in ["base_url", "token_url"] {
        let Some(value) = get(options, name) else { continue };
        let url = parse_http_url(name, value)?;
        let host = url.host_str().unwrap_or("");
        if url.scheme() == "http" && !is_loopback(&url) && !insecure_ok {
            return Err(OptionError {
                kind: OptionErrorKind::InvalidValue,
                message: format!("option \"{name}\" uses plain http to \"{host}\": client secrets and tokens would cross the network unencrypted"),
                hint: Some("Use https, or set allow_insecure_http 'true' on the server if the network is trusted.".into()),
            });
        }
        if !policy.is_superuser && !patterns.iter().any(|p| p.matches(&url)) {
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
    let has = |name: &str| options.iter().any(|(n, _)| n == name);
    let view_options = ["space", "view", "version"];
    let raw_options = crate::typed_raw::TABLE_OPTIONS;
    if target == OptionTarget::Table && raw_options.iter().any(|o| has(o)) {
        if let Some(other) = ["resource", "space", "view", "version", "instance_space"].iter().find(|o| has(o)) {
            return Err(bad_value(
                format!("option \"{other}\" does not belong to a typed RAW table (options database, table, primary_key)"),
                Some("A foreign table is a classic resource (resource), a view (space, view, version) or a typed RAW table (database, table, primary_key).".into()),
            ));
        }
        if let Some(missing) = raw_options[..2].iter().find(|o| !has(o)) {
            return Err(bad_value(
                format!("a typed RAW table needs the option \"{missing}\""),
                Some("A typed RAW table names its RAW table with database '...', table '...' and its key column with primary_key '...'.".into()),
            ));
        }
        if !has("primary_key") {
            return Err(bad_value(
                "a typed RAW table needs the option \"primary_key\": the column whose value is the RAW row key".into(),
                Some("Add OPTIONS (primary_key '<column>'); cdf_fdw never makes up keys, so that re-running a load upserts the same rows instead of adding new ones.".into()),
            ));
        }
    } else if target == OptionTarget::Table && has("resource") {
        if let Some(v) = view_options.iter().chain(&["instance_space"]).find(|o| has(o)) {
            return Err(bad_value(
                format!("option \"{v}\" belongs to view tables, which have no option \"resource\""),
                Some(
                    "A foreign table is either a classic resource (resource '...') or a view (space, view, version)."
                        .into(),
                ),
            ));
        }
    } else if target == OptionTarget::Table && view_options.iter().any(|o| has(o)) {
        if let Some(missing) = view_options.iter().find(|o| !has(o)) {
            return Err(bad_value(
                format!("a cdf_fdw view table needs the option \"{missing}\""),
                Some(
                    "A view table names its view with space '...', view '...' (its external id) and version '...'."
                        .into(),
                ),
            ));
        }
    } else if target == OptionTarget::Table {
        return Err(OptionError {
            kind: OptionErrorKind::InvalidValue,
            message: "a cdf_fdw foreign table needs the option \"resource\" (or, over a data-modeling view, space, view and version)".into(),
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
        "database" if value.is_empty() || value.chars().count() > 32 => {
            ("option \"database\" must name a RAW database of 1 to 32 characters".to_string(), None)
        }
        "table" if value.is_empty() || value.chars().count() > 64 => {
            ("option \"table\" must name a RAW table of 1 to 64 characters".to_string(), None)
        }
        "space" | "view" | "version" | "instance_space" | "property" | "primary_key"
            if value.is_empty() || value.len() > 255 =>
        {
            (format!("option \"{name}\" must be a non-empty identifier of at most 255 characters"), None)
        }
        "resource" if catalogue::resource(value).is_none() => (
            format!("unknown CDF resource \"{value}\""),
            Some(format!("Valid resources: {}.", catalogue::resource_names().join(", "))),
        ),
        "insert_mode" if InsertMode::parse(value).is_none() => {
            (format!("invalid insert_mode \"{value}\""), Some(format!("Valid values: {}.", InsertMode::NAMES)))
        }
        "null_values" if NullValues::parse(value).is_none() => (
            format!("invalid null_values \"{value}\""),
            Some("Valid values: keep (a NULL leaves CDF's value), clear (a NULL clears it).".into()),
        ),
        "delete_unknown" if DeleteUnknown::parse(value).is_none() => (
            format!("invalid delete_unknown \"{value}\""),
            Some("Valid values: ignore (skip ids CDF does not have), error (fail the statement).".into()),
        ),
        "unknown_references" if UnknownReferences::parse(value).is_none() => (
            format!("invalid unknown_references \"{value}\""),
            Some("Valid values: error (fail naming row, column and value), drop (leave the reference out).".into()),
        ),
        "hierarchy_buffer_mb" if parse_buffer_mb(value).is_none() => (
            format!("invalid hierarchy_buffer_mb \"{value}\""),
            Some("A whole number of megabytes from 1 to 65536.".into()),
        ),
        "sub_millisecond" if crate::SubMillisecond::parse(value).is_none() => (
            format!("invalid sub_millisecond \"{value}\""),
            Some("Valid values: truncate (drop the microseconds), reject (refuse the row).".into()),
        ),
        "empty_strings" if crate::EmptyStrings::parse(value).is_none() => (
            format!("invalid empty_strings \"{value}\""),
            Some("Valid values: reject, null (send optional fields as NULL).".into()),
        ),
        "max_concurrent_requests" if parse_concurrency(value).is_none() => (
            format!("invalid max_concurrent_requests \"{value}\""),
            Some(format!(
                "A whole number from 1 to {}; it is cut to CDF's documented concurrency per identity of the \
                 table's resource (assets 23, events 30, RAW 48).",
                crate::limits::RAW_CONCURRENT_REQUESTS
            )),
        ),
        "batch_scope" if BatchScope::parse(value).is_none() => {
            (format!("invalid batch_scope \"{value}\""), Some("Valid values: statement, transaction.".into()))
        }
        "base_url" | "token_url" if !(value.starts_with("https://") || value.starts_with("http://")) => {
            (format!("option \"{name}\" must be an http(s) URL, got \"{value}\""), None)
        }
        "allow_insecure_http" | "use_remote_estimate" if value != "true" && value != "false" => {
            (format!("{name} must be 'true' or 'false', got \"{value}\""), None)
        }
        "ca_file" if !value.starts_with('/') => (format!("ca_file must be an absolute path, got \"{value}\""), None),
        // It becomes a path segment of every API URL: nothing that could end or climb the path.
        "project"
            if value.is_empty() || !value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
        {
            (
                format!("invalid CDF project name \"{value}\""),
                Some("CDF project names consist of letters, digits, hyphens and underscores.".into()),
            )
        }
        _ => return Ok(()),
    };
    Err(bad_value(message, hint))
}

/// What a NULL in an upsert (or insert_mode update) does to the object's value in CDF.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NullValues {
    /// Leaves CDF's value: a NULL may just be a column the source does not have.
    #[default]
    Keep,
    /// Clears it (`setNull`; lists and metadata are set empty): for sources that send full rows.
    Clear,
}

impl NullValues {
    pub fn parse(s: &str) -> Option<NullValues> {
        match s {
            "keep" => Some(NullValues::Keep),
            "clear" => Some(NullValues::Clear),
            _ => None,
        }
    }
}

/// What insert_mode 'delete' does with an id or external id CDF does not have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeleteUnknown {
    #[default]
    Ignore,
    Error,
}

impl DeleteUnknown {
    pub fn parse(s: &str) -> Option<DeleteUnknown> {
        match s {
            "ignore" => Some(DeleteUnknown::Ignore),
            "error" => Some(DeleteUnknown::Error),
            _ => None,
        }
    }
}

/// What a reference by external id (`asset_external_ids`, `data_set_external_id`, ...) that
/// CDF does not know does to its row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UnknownReferences {
    /// The statement fails, naming row, column and value.
    #[default]
    Error,
    /// The reference is left out of the row; the statement's NOTICE counts them.
    Drop,
}

impl UnknownReferences {
    pub fn parse(s: &str) -> Option<UnknownReferences> {
        match s {
            "error" => Some(UnknownReferences::Error),
            "drop" => Some(UnknownReferences::Drop),
            _ => None,
        }
    }
}

/// `hierarchy_buffer_mb`: 1 to 65536 megabytes.
pub fn parse_buffer_mb(s: &str) -> Option<usize> {
    s.trim().parse::<usize>().ok().filter(|mb| (1..=65_536).contains(mb))
}

/// `max_concurrent_requests`: 1 up to the highest per-identity concurrency CDF documents.
pub fn parse_concurrency(value: &str) -> Option<usize> {
    value.trim().parse::<usize>().ok().filter(|n| (1..=crate::limits::RAW_CONCURRENT_REQUESTS).contains(n))
}

/// Which rows of INSERTs share CDF requests: those of one statement, or of the whole
/// transaction (single-row INSERTs from `executemany` loops), sent when a request is full,
/// before a read of a cdf_fdw table and at commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchScope {
    Statement,
    Transaction,
}

impl BatchScope {
    pub fn parse(value: &str) -> Option<BatchScope> {
        match value {
            "statement" => Some(BatchScope::Statement),
            "transaction" => Some(BatchScope::Transaction),
            _ => None,
        }
    }

    /// The option's value as written in OPTIONS (and shown by EXPLAIN).
    pub fn as_str(self) -> &'static str {
        match self {
            BatchScope::Statement => "statement",
            BatchScope::Transaction => "transaction",
        }
    }
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
    fn typed_raw_tables_need_database_table_and_primary_key() {
        let raw = [("database", "db"), ("table", "books"), ("primary_key", "title")];
        assert!(validate(OptionTarget::Table, &opts(&raw)).is_ok());
        let e = validate(OptionTarget::Table, &opts(&raw[..2])).unwrap_err();
        assert!(e.message.contains("primary_key") && e.hint.unwrap().contains("never makes up keys"));
        let e = validate(OptionTarget::Table, &opts(&raw[1..])).unwrap_err();
        assert!(e.message.contains("\"database\""));
        let e = validate(OptionTarget::Table, &opts(&[raw[0], raw[1], raw[2], ("resource", "raw_rows")])).unwrap_err();
        assert!(e.message.contains("does not belong"));
        let long = "d".repeat(33);
        assert!(validate(OptionTarget::Table, &opts(&[("database", long.as_str()), raw[1], raw[2]])).is_err());
    }

    #[test]
    fn view_tables_name_space_view_and_version() {
        let view = [("space", "cdf_cdm"), ("view", "CogniteAsset"), ("version", "v1")];
        assert!(validate(OptionTarget::Table, &opts(&view)).is_ok());
        let e = validate(OptionTarget::Table, &opts(&view[..2])).unwrap_err();
        assert!(e.message.contains("needs the option \"version\""), "{}", e.message);
        let e = validate(OptionTarget::Table, &opts(&[("resource", "assets"), ("view", "x")])).unwrap_err();
        assert!(e.message.contains("belongs to view tables"));
        assert!(validate(OptionTarget::Column, &opts(&[("property", "startTime")])).is_ok());
        assert!(validate(OptionTarget::Column, &opts(&[("property", "")])).is_err());
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
        assert_eq!(url_host("https://a.B:443/x").as_deref(), Some("a.b"));
        assert_eq!(url_host("http://[::1]:80/").as_deref(), Some("::1"));
        assert_eq!(url_host("http://2130706433/").as_deref(), Some("127.0.0.1"));
        assert_eq!(url_host("nonsense"), None);
    }

    fn allowed(patterns: &[&str], url: &str) -> Result<(), OptionError> {
        let policy = UrlPolicy { is_superuser: false, allowed_urls: patterns.iter().map(|p| p.to_string()).collect() };
        validate_server_policy(&opts(&[("base_url", url)]), &policy)
    }

    /// Every trick of issue 10 and its cousins: each URL goes somewhere the default allow-list
    /// does not cover (or is refused outright), although its text contains an allowed one.
    #[test]
    fn allow_list_tricks_are_refused() {
        for url in [
            "https://127.0.0.1:5432#.cognitedata.com/",
            "https://127.0.0.1:5432/#.cognitedata.com/",
            "https://127.0.0.1:5432?.cognitedata.com/",
            "https://127.0.0.1:5432\\.cognitedata.com/",
            "https://169.254.169.254\\x.cognitedata.com/",
            "https://evil.example\\@x.cognitedata.com/",
            "https://x.cognitedata.com@evil.example/",
            "https://x.cognitedata.com:pw@evil.example/",
            "https://user@x.cognitedata.com/",
            "https://x.cognitedata.com.evil.example/",
            "https://cognitedata.com/",
            "https://a.b.cognitedata.com/",
            "https://x.cognitedata.com:8443/",
            "https://x.cognitedata.com./",
            "https://x.cognitedata.com%2e/",
            "https://x.cognitedata.com%2fevil.example/",
            "https://evil.example/x.cognitedata.com/",
            "https://evil.example/?x.cognitedata.com/",
            "http://x.cognitedata.com/",
            "https://[::1]/",
            "https://[::ffff:127.0.0.1]/",
            "https://2130706433/",
            "https://0177.0.0.1/",
            "https://0x7f.1/",
            "https://login.microsoftonline.com.evil.example/",
            "https://login.microsoftonline.com:444/t",
            "https://*.cognitedata.com/",
            "ftp://x.cognitedata.com/",
        ] {
            let e = allowed(&["https://*.cognitedata.com/", "https://login.microsoftonline.com/"], url).expect_err(url);
            assert!(matches!(e.kind, OptionErrorKind::NotAllowed | OptionErrorKind::InvalidValue), "{url}: {e:?}");
        }
    }

    #[test]
    fn allow_list_matches_the_parsed_url() {
        let default = ["https://*.cognitedata.com/", "https://login.microsoftonline.com/"];
        for url in [
            "https://westeurope-1.cognitedata.com",
            "https://WestEurope-1.CogniteData.COM/",
            "HTTPS://api.cognitedata.com:443/",
            "https://api.cognitedata.com/x/../y",
            "https://login.microsoftonline.com/tenant/oauth2/v2.0/token",
        ] {
            assert!(allowed(&default, url).is_ok(), "{url}");
        }
        // Paths are prefixes on segment boundaries, also after the parser's normalization.
        let tenant = ["https://login.microsoftonline.com/tenant"];
        assert!(allowed(&tenant, "https://login.microsoftonline.com/tenant").is_ok());
        assert!(allowed(&tenant, "https://login.microsoftonline.com/tenant/oauth2/v2.0/token").is_ok());
        for url in [
            "https://login.microsoftonline.com/tenantx/oauth2",
            "https://login.microsoftonline.com/",
            "https://login.microsoftonline.com/tenant/../other/oauth2",
            "https://login.microsoftonline.com/tenant/%2e%2e/other",
            "https://login.microsoftonline.com/tenant\\..\\other",
            "https://login.microsoftonline.com/other/tenant",
        ] {
            assert!(allowed(&tenant, url).is_err(), "{url}");
        }
        // Explicit ports and IP literals match exactly; patterns the parser normalizes too.
        assert!(allowed(&["http://127.0.0.1:4080/"], "http://127.0.0.1:4080/api").is_ok());
        assert!(allowed(&["http://127.0.0.1:4080/"], "http://2130706433:4080/api").is_ok());
        assert!(allowed(&["http://127.0.0.1:4080/"], "http://127.0.0.1:4081/").is_err());
        assert!(allowed(&["http://127.0.0.1:4080/"], "http://127.0.0.1/").is_err());
        assert!(allowed(&["https://[::1]:8443/"], "https://[0:0::1]:8443/x").is_ok());
        // Wildcards stand for one label of a host name, never for an address or a port.
        for bad in ["https://*.*.*.*/", "https://*/", "http://127.0.0.1:*/", "https://a*.cognitedata.com/"] {
            assert!(allowed(&[bad], "https://10.0.0.1/").is_err(), "{bad}");
            assert!(allowed(&[bad], "http://127.0.0.1:5432/").is_err(), "{bad}");
            assert!(allowed(&[bad], "https://ab.cognitedata.com/").is_err(), "{bad}");
        }
        assert!(allowed(&["https://*/"], "https://intranet/").is_ok());
        // Patterns with user info, queries or fragments match nothing.
        for bad in ["https://u@x.cognitedata.com/", "https://x.cognitedata.com/?a", "https://x.cognitedata.com/#a"] {
            assert!(allowed(&[bad], "https://x.cognitedata.com/").is_err(), "{bad}");
        }
    }

    #[test]
    fn loopback_is_decided_on_the_parsed_host() {
        for url in [
            "http://127.0.0.1:4080",
            "http://127.1.2.3/",
            "http://localhost/t",
            "http://LOCALHOST/t",
            "http://[::1]:8/",
            "http://2130706433/",
            "http://0x7f.1/",
        ] {
            assert!(validate_server_policy(&opts(&[("base_url", url)]), &superuser()).is_ok(), "{url}");
        }
        for url in [
            "http://127.a.b.c/",
            "http://127.evil.com/",
            "http://host\\@127.0.0.1/",
            "http://127.0.0.1.evil.com/",
            "http://127.0.0.1#@evil.com/",
            "http://evil.com#@127.0.0.1/",
            "http://localhost.evil.com/",
            "http://[::ffff:10.0.0.1]/",
            "http://10.0.0.1/",
            "http://u:p@127.0.0.1/",
        ] {
            assert!(validate_server_policy(&opts(&[("base_url", url)]), &superuser()).is_err(), "{url}");
        }
    }

    #[test]
    fn values_are_checked() {
        assert!(validate(OptionTarget::Server, &opts(&[("base_url", "ftp://x")])).is_err());
        assert!(validate(OptionTarget::Server, &opts(&[("insert_mode", "merge")])).is_err());
        assert!(validate(OptionTarget::Server, &opts(&[("insert_mode", "ignore")])).is_ok());
        for ok in ["1", "8", "48"] {
            assert!(validate(OptionTarget::Server, &opts(&[("max_concurrent_requests", ok)])).is_ok(), "{ok}");
        }
        for bad in ["0", "49", "-1", "four"] {
            let e = validate(OptionTarget::Server, &opts(&[("max_concurrent_requests", bad)])).unwrap_err();
            assert!(e.message.contains("invalid max_concurrent_requests"), "{bad}: {}", e.message);
        }
        let table = |o: &str, v: &str| opts(&[("resource", "assets"), (o, v)]);
        assert!(validate(OptionTarget::Table, &table("max_concurrent_requests", "4")).is_ok());
        assert!(validate(OptionTarget::Table, &table("batch_scope", "transaction")).is_ok());
        assert!(validate(OptionTarget::Server, &opts(&[("batch_scope", "statement")])).is_ok());
        assert!(validate(OptionTarget::Server, &opts(&[("batch_scope", "session")])).is_err());
        for project in ["a/b", "..", "a\\..", "a#", "a?b", "a%2fb", ""] {
            assert!(validate(OptionTarget::Server, &opts(&[("project", project)])).is_err(), "{project}");
        }
        assert!(validate(OptionTarget::Server, &opts(&[("project", "my-project_1")])).is_ok());
    }
}
