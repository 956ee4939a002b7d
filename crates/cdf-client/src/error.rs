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

impl CdfError {
    /// The same error with every text run through `scrub` (secrets, tokens and anything that
    /// looks like one replaced by `[redacted]`): identity providers and APIs that echo the request
    /// cannot put a client secret or bearer token into an error a client or the server log sees.
    pub fn scrubbed(self, secrets: &[&str]) -> CdfError {
        let s = |t: String| scrub(&t, secrets);
        match self {
            CdfError::Api { status, message, missing, duplicated, request_id } => {
                CdfError::Api { status, message: s(message), missing, duplicated, request_id }
            }
            CdfError::Auth { message } => CdfError::Auth { message: s(message) },
            CdfError::Network { message } => CdfError::Network { message: s(message) },
            CdfError::Protocol { message, request_id } => CdfError::Protocol { message: s(message), request_id },
        }
    }
}

const REDACTED: &str = "[redacted]";

/// Key names whose values are credentials, in forms (`client_secret=...`), JSON (`"access_token":
/// "..."`) or headers (`Authorization: Bearer ...`).
const SECRET_KEYS: &[&str] = &[
    "client_secret",
    "clientsecret",
    "access_token",
    "accesstoken",
    "refresh_token",
    "id_token",
    "password",
    "assertion",
    "sessionkey",
    "api_key",
    "apikey",
];

fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-._~+/=%".contains(c)
}

/// Removes from a remote error text: the given secrets (verbatim and form-encoded), the value
/// after a credential-like key or `Bearer`/`Basic`, and JSON Web Tokens (`eyJ...`).
pub fn scrub(text: &str, secrets: &[&str]) -> String {
    let mut out = text.to_string();
    for secret in secrets.iter().filter(|s| s.len() >= 4) {
        let encoded: String = url_form_encode(secret);
        out = out.replace(*secret, REDACTED);
        if encoded != *secret {
            out = out.replace(&encoded, REDACTED);
        }
    }
    // Values after credential keys and auth schemes.
    let lower = out.to_ascii_lowercase();
    let mut cuts: Vec<(usize, usize)> = Vec::new();
    let mut mark_value_after = |from: usize| {
        let bytes = out.as_bytes();
        let mut i = from;
        // Skip separators: quotes, colons, equals signs, spaces.
        while i < bytes.len() && matches!(bytes[i], b'"' | b'\'' | b':' | b'=' | b' ' | b'\\') {
            i += 1;
        }
        let start = i;
        while i < out.len() && out[i..].chars().next().is_some_and(is_token_char) {
            i += out[i..].chars().next().map_or(1, char::len_utf8);
        }
        if i > start {
            cuts.push((start, i));
        }
    };
    for key in SECRET_KEYS.iter().chain(&["bearer ", "basic "]) {
        let mut from = 0;
        while let Some(pos) = lower[from..].find(key) {
            let end = from + pos + key.len();
            mark_value_after(end);
            from = end;
        }
    }
    // JSON Web Tokens: eyJ<base64url>.<base64url>[.<base64url>]
    let mut from = 0;
    while let Some(pos) = out[from..].find("eyJ") {
        let start = from + pos;
        let end = start
            + out[start..]
                .find(|c: char| !(c.is_ascii_alphanumeric() || "-_.=".contains(c)))
                .unwrap_or(out.len() - start);
        if out[start..end].matches('.').count() >= 1 && end - start >= 16 {
            cuts.push((start, end));
        }
        from = end.max(start + 3);
    }
    if cuts.is_empty() {
        return out;
    }
    cuts.sort();
    let mut result = String::with_capacity(out.len());
    let mut last = 0;
    for (start, end) in cuts {
        if end <= last {
            continue;
        }
        let start = start.max(last);
        result.push_str(&out[last..start]);
        result.push_str(REDACTED);
        last = end;
    }
    result.push_str(&out[last..]);
    // A redacted value next to a redacted value: keep one marker.
    result.replace(&format!("{REDACTED}{REDACTED}"), REDACTED)
}

fn url_form_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => out.push(b as char),
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
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
    fn secrets_and_tokens_are_scrubbed_from_remote_texts() {
        let secret = "s3cr3t+value/with=chars";
        for text in [
            format!("echo: grant_type=client_credentials&client_id=app&client_secret={}", url_form_encode(secret)),
            format!("invalid client secret {secret} given"),
            "header was Authorization: Bearer emu.0123456789abcdef0123 (expired)".to_string(),
            r#"{"access_token": "opaque-token-123456", "x": 1}"#.to_string(),
            "token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl rejected".to_string(),
            "password=hunter22 was wrong".to_string(),
        ] {
            let s = scrub(&text, &[secret]);
            for leak in [secret, "emu.0123456789abcdef0123", "opaque-token-123456", "eyJhbGci", "hunter22", "s3cr3t"] {
                assert!(!s.contains(leak), "{text} -> {s}");
            }
            assert!(s.contains(REDACTED), "{s}");
        }
        // Ordinary messages stay as they are.
        let plain = "Duplicate external ids; duplicated: externalId \"pump-17\"";
        assert_eq!(scrub(plain, &["s3cr3t"]), plain);
        let e = CdfError::from_response(400, format!("bad request for secret {secret}").as_bytes(), None);
        assert!(!e.scrubbed(&[secret]).to_string().contains(secret));
    }

    #[test]
    fn long_identifier_lists_are_cut() {
        let ids: Vec<Json> = (0..25).map(|i| json!({"id": i})).collect();
        let s = describe_identifiers(&ids);
        assert!(s.ends_with("id 19, and 5 more"), "{s}");
    }
}
