//! One CDF identity in one project: token cache, authenticated requests, retries.

use std::fmt;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::Value as Json;

use crate::error::{describe_reqwest_error, CdfError};

/// The CDF project a server points at (server options).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// e.g. `https://westeurope-1.cognitedata.com`, without `/api/v1`.
    pub base_url: String,
    pub project: String,
    pub token_url: String,
    pub scopes: Vec<String>,
    pub audience: Option<String>,
    /// PEM bundle of a private CA to trust besides the built-in roots.
    pub ca_file: Option<String>,
}

/// OIDC client credentials (user-mapping options). Debug never prints the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub client_id: String,
    pub client_secret: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials").field("client_id", &self.client_id).field("client_secret", &"<redacted>").finish()
    }
}

/// Whether a request may be sent again after an ambiguous failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idempotency {
    /// Reads, updates, natural upserts (RAW rows, datapoints): retried on 429/5xx/timeouts.
    Idempotent,
    /// Creates and deletes: retried only when CDF certainly did not act (429, refused connection).
    NotIdempotent,
}

/// Retry policy, as the official SDKs do it: truncated exponential backoff with jitter.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub max_retries: u32,
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 6,
            initial_backoff: Duration::from_millis(125),
            max_backoff: Duration::from_secs(30),
        }
    }
}

/// A successful answer.
#[derive(Debug)]
pub struct ApiResponse {
    pub status: u16,
    pub body: Vec<u8>,
    pub request_id: Option<String>,
}

impl ApiResponse {
    pub fn json(&self) -> Result<Json, CdfError> {
        serde_json::from_slice(&self.body).map_err(|e| CdfError::Protocol {
            message: format!("response is not JSON: {e}"),
            request_id: self.request_id.clone(),
        })
    }
}

struct CachedToken {
    access_token: String,
    refresh_at: Instant,
}

/// Refresh this long before the identity provider's expiry, as the Rust SDK does.
const TOKEN_LEEWAY: Duration = Duration::from_secs(60);
/// Per-request timeout; a hung CDF request fails rather than blocking forever.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

pub struct Session {
    pub server: ServerConfig,
    /// Shared by every session that trusts the same CAs (cloning shares its connection pool).
    http: reqwest::Client,
    credentials: Credentials,
    token: Option<CachedToken>,
    pub retry: RetryPolicy,
}

/// The HTTP client. `ca_file` adds a private CA (PEM bundle) to the built-in web roots; either
/// way certificates are verified.
pub fn new_http_client(ca_file: Option<&str>) -> Result<reqwest::Client, CdfError> {
    let mut builder = reqwest::Client::builder();
    if let Some(path) = ca_file {
        let pem = std::fs::read(path)
            .map_err(|e| CdfError::Network { message: format!("cannot read ca_file {path}: {e}") })?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| CdfError::Network {
            message: format!("ca_file {path} holds no usable PEM certificate: {e}"),
        })?;
        if certs.is_empty() {
            return Err(CdfError::Network { message: format!("ca_file {path} holds no PEM certificate") });
        }
        for cert in certs {
            builder = builder.add_root_certificate(cert);
        }
    }
    builder
        // A redirect would carry the client secret (token form) or request bodies to a place
        // nobody configured, past the cdf_fdw.allowed_urls check: CDF and Entra ID do not redirect.
        .redirect(reqwest::redirect::Policy::none())
        .timeout(REQUEST_TIMEOUT)
        .connect_timeout(Duration::from_secs(15))
        .pool_idle_timeout(Duration::from_secs(60))
        .user_agent(concat!("cdf_fdw/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| CdfError::Network { message: describe_reqwest_error(&e) })
}

impl Session {
    pub fn new(server: ServerConfig, credentials: Credentials, http: reqwest::Client) -> Session {
        Session { server, http, credentials, token: None, retry: RetryPolicy::default() }
    }

    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    /// URL of a project API path such as `assets` or `raw/dbs/x/tables`.
    pub fn api_url(&self, path: &str) -> String {
        format!(
            "{}/api/v1/projects/{}/{}",
            self.server.base_url.trim_end_matches('/'),
            self.server.project,
            path.trim_start_matches('/')
        )
    }

    /// Drops the cached token, so the next request fetches a new one.
    pub fn forget_token(&mut self) {
        self.token = None;
    }

    async fn token(&mut self) -> Result<String, CdfError> {
        if let Some(t) = &self.token {
            if Instant::now() < t.refresh_at {
                return Ok(t.access_token.clone());
            }
        }
        let scope = self.server.scopes.join(" ");
        let mut form: Vec<(&str, &str)> = vec![
            ("grant_type", "client_credentials"),
            ("client_id", &self.credentials.client_id),
            ("client_secret", &self.credentials.client_secret),
        ];
        if !scope.is_empty() {
            form.push(("scope", &scope));
        }
        if let Some(a) = &self.server.audience {
            form.push(("audience", a));
        }
        let resp = self
            .http
            .post(&self.server.token_url)
            .form(&form)
            .send()
            .await
            // Not reaching the identity provider (TLS, DNS, refused) says nothing about the
            // credentials: a network error, not an authentication one.
            .map_err(|e| CdfError::Network {
                message: format!("token endpoint unreachable: {}", describe_reqwest_error(&e)),
            })?;
        let status = resp.status();
        let body = resp.bytes().await.map_err(|e| CdfError::Network {
            message: format!("reading the token response: {}", describe_reqwest_error(&e)),
        })?;
        let json: Option<Json> = serde_json::from_slice(&body).ok();
        if !status.is_success() {
            // OAuth errors carry `error` and `error_description`; neither echoes the secret.
            let detail = json
                .as_ref()
                .map(|j| {
                    let code = j.get("error").and_then(|v| v.as_str()).unwrap_or("");
                    let desc = j.get("error_description").and_then(|v| v.as_str()).unwrap_or("");
                    format!("{code} {desc}").trim().to_string()
                })
                .unwrap_or_default();
            return Err(CdfError::Auth {
                message: format!(
                    "the identity provider refused client \"{}\" (HTTP {}){}",
                    self.credentials.client_id,
                    status.as_u16(),
                    if detail.is_empty() { String::new() } else { format!(": {detail}") }
                ),
            });
        }
        let json = json.ok_or_else(|| CdfError::Auth { message: "token response is not JSON".into() })?;
        let access_token = json
            .get("access_token")
            .and_then(|v| v.as_str())
            .ok_or_else(|| CdfError::Auth { message: "token response has no access_token".into() })?
            .to_string();
        // expires_in is a number, or a string at some providers.
        let expires_in = json
            .get("expires_in")
            .and_then(|v| v.as_u64().or_else(|| v.as_str().and_then(|s| s.parse().ok())))
            .unwrap_or(3600);
        let lifetime = Duration::from_secs(expires_in);
        let refresh_in = lifetime.checked_sub(TOKEN_LEEWAY).unwrap_or(lifetime / 2);
        self.token = Some(CachedToken { access_token: access_token.clone(), refresh_at: Instant::now() + refresh_in });
        Ok(access_token)
    }

    /// Sends one API request with auth, retries and a single token refresh on 401.
    pub async fn request(
        &mut self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<Vec<u8>>,
        idempotency: Idempotency,
    ) -> Result<ApiResponse, CdfError> {
        let url = self.api_url(path);
        self.request_url(method, &url, query, body, idempotency).await
    }

    /// `request` for a full URL (also outside the project, like `token/inspect`).
    async fn request_url(
        &mut self,
        method: Method,
        url: &str,
        query: &[(&str, String)],
        body: Option<Vec<u8>>,
        idempotency: Idempotency,
    ) -> Result<ApiResponse, CdfError> {
        let mut attempt: u32 = 0;
        let mut refreshed_after_401 = false;
        loop {
            let token = self.token().await?;
            let mut req = self
                .http
                .request(method.clone(), url)
                .bearer_auth(&token)
                .header("cdf-version", "20230101")
                .header("x-cdp-app", "cdf_fdw")
                .query(query);
            if let Some(b) = &body {
                req = req.header("content-type", "application/json").body(b.clone());
            }
            let outcome = req.send().await;
            let retry_after;
            match outcome {
                Ok(resp) => {
                    let status = resp.status();
                    let request_id =
                        resp.headers().get("x-request-id").and_then(|v| v.to_str().ok()).map(str::to_string);
                    let auto_retryable = resp
                        .headers()
                        .get("cdf-is-auto-retryable")
                        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"true"));
                    retry_after = resp
                        .headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|s| s.trim().parse::<u64>().ok())
                        .map(Duration::from_secs);
                    let bytes = match resp.bytes().await {
                        Ok(b) => b.to_vec(),
                        Err(e) if idempotency == Idempotency::Idempotent && attempt < self.retry.max_retries => {
                            let _ = e;
                            attempt += 1;
                            tokio::time::sleep(self.backoff(attempt, None)).await;
                            continue;
                        }
                        Err(e) => return Err(CdfError::Network { message: describe_reqwest_error(&e) }),
                    };
                    if status.is_success() {
                        return Ok(ApiResponse { status: status.as_u16(), body: bytes, request_id });
                    }
                    if status == StatusCode::UNAUTHORIZED && !refreshed_after_401 {
                        refreshed_after_401 = true;
                        self.forget_token();
                        continue;
                    }
                    let retryable = match status.as_u16() {
                        429 => true,
                        502..=504 => idempotency == Idempotency::Idempotent,
                        _ => auto_retryable && idempotency == Idempotency::Idempotent,
                    };
                    if !retryable || attempt >= self.retry.max_retries {
                        return Err(CdfError::from_response(status.as_u16(), &bytes, request_id));
                    }
                }
                Err(e) => {
                    // A refused connection never reached CDF, so even creates are safe to resend.
                    let safe = idempotency == Idempotency::Idempotent || (e.is_connect() && !e.is_timeout());
                    if !safe || attempt >= self.retry.max_retries {
                        return Err(CdfError::Network { message: describe_reqwest_error(&e) });
                    }
                    retry_after = None;
                }
            }
            attempt += 1;
            tokio::time::sleep(self.backoff(attempt, retry_after)).await;
        }
    }

    /// Truncated exponential backoff with ±25% jitter; Retry-After wins when it is longer.
    fn backoff(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let exp = self.retry.initial_backoff.saturating_mul(1u32 << attempt.min(16)).min(self.retry.max_backoff);
        let jitter = 0.75 + 0.5 * pseudo_random_fraction();
        let computed = exp.mul_f64(jitter);
        match retry_after {
            Some(ra) if ra > computed => ra.min(self.retry.max_backoff),
            _ => computed,
        }
    }

    /// `GET /api/v1/token/inspect`: who the credentials are and what they may do.
    pub async fn inspect_token(&mut self) -> Result<Json, CdfError> {
        let url = format!("{}/api/v1/token/inspect", self.server.base_url.trim_end_matches('/'));
        self.request_url(Method::GET, &url, &[], None, Idempotency::Idempotent).await?.json()
    }

    /// Fetches a token now, to check credentials.
    pub async fn check_credentials(&mut self) -> Result<(), CdfError> {
        self.forget_token();
        self.token().await.map(|_| ())
    }

    /// POSTs a JSON body to a project path.
    pub async fn post_json(
        &mut self,
        path: &str,
        query: &[(&str, String)],
        body: &Json,
        idempotency: Idempotency,
    ) -> Result<ApiResponse, CdfError> {
        let bytes = serde_json::to_vec(body).expect("serializing JSON cannot fail");
        self.request(Method::POST, path, query, Some(bytes), idempotency).await
    }
}

/// A cheap jitter source; retries need spread, not cryptographic randomness.
fn pseudo_random_fraction() -> f64 {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    let mut h = RandomState::new().build_hasher();
    h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0));
    (h.finish() % 10_000) as f64 / 10_000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_hides_the_client_secret() {
        let c = Credentials { client_id: "app".into(), client_secret: "s3cr3t-value".into() };
        let s = format!("{c:?}");
        assert!(s.contains("app"));
        assert!(!s.contains("s3cr3t-value"));
    }

    #[test]
    fn api_urls_join_project_and_path() {
        let s = Session::new(
            ServerConfig {
                base_url: "https://x.cognitedata.com/".into(),
                project: "p".into(),
                token_url: "https://login/t".into(),
                scopes: vec![],
                audience: None,
                ca_file: None,
            },
            Credentials { client_id: "a".into(), client_secret: "b".into() },
            new_http_client(None).unwrap(),
        );
        assert_eq!(s.api_url("assets/list"), "https://x.cognitedata.com/api/v1/projects/p/assets/list");
    }

    #[test]
    fn backoff_grows_and_respects_retry_after() {
        let s = Session::new(
            ServerConfig {
                base_url: "http://h".into(),
                project: "p".into(),
                token_url: "http://h/t".into(),
                scopes: vec![],
                audience: None,
                ca_file: None,
            },
            Credentials { client_id: "a".into(), client_secret: "b".into() },
            new_http_client(None).unwrap(),
        );
        let b1 = s.backoff(1, None);
        let b4 = s.backoff(4, None);
        assert!(b1 >= Duration::from_millis(187) && b1 <= Duration::from_millis(313), "{b1:?}");
        assert!(b4 > b1);
        assert!(s.backoff(1, Some(Duration::from_secs(3))) >= Duration::from_secs(3));
        assert!(s.backoff(30, None) <= Duration::from_secs(38));
    }
}
