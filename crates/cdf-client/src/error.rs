//! Errors of CDF calls, shaped so that the pgrx layer can map them to SQLSTATEs.

use std::fmt;

use serde_json::Value as Json;

#[derive(Debug, Clone, PartialEq)]
pub enum CdfError {
    /// CDF answered with an error body `{"error": {...}}`.
    Api { status: u16, message: String, missing: Vec<Json>, duplicated: Vec<Json>, request_id: Option<String> },
    /// The identity provider refused the client credentials, or answered nonsense.
    Auth { message: String },
    /// The request never got an answer: connection, TLS, timeout.
    Network { message: String },
    /// CDF answered, but not in the shape the API documents.
    Protocol { message: String, request_id: Option<String> },
}

impl CdfError {
    pub fn request_id(&self) -> Option<&str> {
        match self {
            CdfError::Api { request_id, .. } | CdfError::Protocol { request_id, .. } => request_id.as_deref(),
            _ => None,
        }
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            CdfError::Api { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Builds an API error from a status, body and request id.
    pub fn from_response(status: u16, body: &[u8], request_id: Option<String>) -> CdfError {
        let parsed: Option<Json> = serde_json::from_slice(body).ok();
        let error = parsed.as_ref().and_then(|v| v.get("error"));
        let list = |key: &str| error.and_then(|e| e.get(key)).and_then(|v| v.as_array()).cloned().unwrap_or_default();
        let message = match error.and_then(|e| e.get("message")).and_then(|m| m.as_str()) {
            Some(m) => m.to_string(),
            None => {
                let text = String::from_utf8_lossy(body);
                let text = text.trim();
                if text.is_empty() {
                    format!("HTTP {status} with an empty body")
                } else {
                    format!("HTTP {status}: {}", truncate(text, 300))
                }
            }
        };
        CdfError::Api { status, message, missing: list("missing"), duplicated: list("duplicated"), request_id }
    }
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// Renders identifiers such as `[{"externalId":"a"},{"id":3}]` as `externalId "a", id 3`.
pub fn describe_identifiers(ids: &[Json]) -> String {
    let mut parts = Vec::new();
    for id in ids.iter().take(20) {
        match id.as_object() {
            Some(obj) => {
                for (k, v) in obj {
                    parts.push(format!("{k} {v}"));
                }
            }
            None => parts.push(id.to_string()),
        }
    }
    if ids.len() > 20 {
        parts.push(format!("and {} more", ids.len() - 20));
    }
    parts.join(", ")
}

impl fmt::Display for CdfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CdfError::Api { status, message, missing, duplicated, .. } => {
                write!(f, "CDF rejected the request ({status}): {message}")?;
                if !duplicated.is_empty() {
                    write!(f, "; duplicated: {}", describe_identifiers(duplicated))?;
                }
                if !missing.is_empty() {
                    write!(f, "; missing: {}", describe_identifiers(missing))?;
                }
                Ok(())
            }
            CdfError::Auth { message } => write!(f, "could not get a CDF token: {message}"),
            CdfError::Network { message } => write!(f, "could not reach CDF: {message}"),
            CdfError::Protocol { message, .. } => write!(f, "unexpected answer from CDF: {message}"),
        }
    }
}

impl std::error::Error for CdfError {}

/// reqwest's Display hides the cause ("error sending request"); this walks the source chain.
pub fn describe_reqwest_error(e: &reqwest::Error) -> String {
    let mut msg = e.without_url_ref().to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let text = s.to_string();
        if !msg.contains(&text) {
            msg.push_str(": ");
            msg.push_str(&text);
        }
        source = s.source();
    }
    msg
}

/// A TLS handshake that failed on the certificate (unknown issuer, wrong name, expired): trying
/// again cannot help, so it is not retried.
pub fn is_certificate_failure(e: &reqwest::Error) -> bool {
    e.is_connect() && describe_reqwest_error(e).contains("certificate")
}

trait WithoutUrl {
    fn without_url_ref(&self) -> String;
}

impl WithoutUrl for reqwest::Error {
    fn without_url_ref(&self) -> String {
        let kind = if self.is_timeout() {
            "request timed out"
        } else if self.is_connect() {
            "connection failed"
        } else if self.is_body() || self.is_decode() {
            "reading the response failed"
        } else {
            "request failed"
        };
        match self.url() {
            Some(u) => format!("{kind} ({}://{}{})", u.scheme(), u.host_str().unwrap_or(""), port_suffix(u)),
            None => kind.to_string(),
        }
    }
}

fn port_suffix(u: &reqwest::Url) -> String {
    u.port().map(|p| format!(":{p}")).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_cdf_error_bodies() {
        let body = br#"{"error":{"code":409,"message":"Duplicate external ids","duplicated":[{"externalId":"a"}]}}"#;
        let e = CdfError::from_response(409, body, Some("req-1".into()));
        assert_eq!(e.request_id(), Some("req-1"));
        assert_eq!(
            e.to_string(),
            "CDF rejected the request (409): Duplicate external ids; duplicated: externalId \"a\""
        );
    }

    #[test]
    fn non_json_bodies_keep_their_text() {
        let e = CdfError::from_response(502, b"Bad Gateway", None);
        assert_eq!(e.to_string(), "CDF rejected the request (502): HTTP 502: Bad Gateway");
    }

    #[test]
    fn long_identifier_lists_are_cut() {
        let ids: Vec<Json> = (0..25).map(|i| json!({"id": i})).collect();
        let s = describe_identifiers(&ids);
        assert!(s.ends_with("id 19, and 5 more"), "{s}");
    }
}
