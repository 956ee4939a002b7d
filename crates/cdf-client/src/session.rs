//! One CDF identity in one project: token cache, authenticated requests, retries.

use std::fmt;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::Value as Json;

use crate::error::{describe_reqwest_error, is_certificate_failure, CdfError};
use crate::metrics::{url_endpoint_template, Probe, RequestLog, TOKEN_ENDPOINT};

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

/// Whether a request may be sent again after an ambiguous failure (one where CDF may have acted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idempotency {
    /// Reads, updates, natural upserts (RAW rows, datapoints), creates by external id that an
    /// upsert or ignore turns into a no-op when resent: retried on 429, 500/502/503/504, timeouts
    /// and lost answers.
    Idempotent,
    /// Creates without external id, `insert_mode 'create'`, deletes: retried only when CDF
    /// certainly did not act (429, a connection that was never established, an answer marked
    /// `cdf-is-auto-retryable`).
    NotIdempotent,
}

/// Retry policy, as the official SDKs do it: truncated exponential backoff with jitter, bounded
/// by a number of retries and by an overall deadline.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub max_retries: u32,
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    /// One attempt (connect, send, answer) fails after this long. The Python SDK's default is
    /// 30 s for API requests, with the same per-request limits as ours.
    pub request_timeout: Duration,
    /// One logical request with all its retries, token fetch included, fails after this long:
    /// no attempt starts or runs past it, and no backoff sleeps past it.
    pub retry_deadline: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 6,
            initial_backoff: Duration::from_millis(125),
            max_backoff: Duration::from_secs(30),
            request_timeout: Duration::from_secs(30),
            retry_deadline: Duration::from_secs(120),
        }
    }
}

/// A successful answer.
#[derive(Debug)]
pub struct ApiResponse {
    pub status: u16,
    pub body: Vec<u8>,
    pub request_id: Option<String>,
    /// The `content-type` of the answer (JSON unless a request asked for another, see `accept`).
    pub content_type: Option<String>,
}

impl ApiResponse {
    pub fn json(&self) -> Result<Json, CdfError> {
        serde_json::from_slice(&self.body).map_err(|e| CdfError::Protocol {
            message: format!("response is not JSON: {e}"),
            request_id: self.request_id.clone(),
        })
    }
}

#[derive(Clone)]
struct CachedToken {
    access_token: String,
    refresh_at: Instant,
}

/// Refresh this long before the identity provider's expiry, as the Rust SDK does.
const TOKEN_LEEWAY: Duration = Duration::from_secs(60);
/// Backstop of the HTTP client; every request sets its own, shorter timeout from `RetryPolicy`.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);
/// Idle pooled connections are dropped after this long. Load balancers close idle connections
/// after 60 s (AWS ALB, nginx's 75 s keepalive_timeout), 4 min (Azure) or more; 20 s keeps a
/// wide margin below the shortest, and reconnecting after 20 s of silence costs one TLS
/// handshake per statement at most.
pub const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(20);

/// Default cap on one response body (`cdf_fdw.max_response_size`). A CDF page of 1000 items or
/// 10,000 RAW rows of ordinary size is a few MB; past the cap the statement fails cleanly instead
/// of letting one answer take the backend's memory.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 64 * 1024 * 1024;

/// Why a body could not be read.
enum BodyError {
    Network(reqwest::Error),
    /// Longer than the cap: never retried.
    TooLarge(String),
    /// The memory for it could not be reserved: never retried.
    Limit(String),
}

/// Reads a body chunk by chunk into a buffer that never grows past `cap` bytes, reserving memory
/// fallibly: an oversized or endless answer is an error, never an allocation failure (which would
/// abort the backend and make PostgreSQL restart every session).
async fn read_body(mut resp: reqwest::Response, cap: usize) -> Result<Vec<u8>, BodyError> {
    let too_big =
        || BodyError::TooLarge(format!("the answer is larger than cdf_fdw.max_response_size ({} kB)", cap / 1024));
    if resp.content_length().is_some_and(|n| n > cap as u64) {
        return Err(too_big());
    }
    let mut body: Vec<u8> = Vec::new();
    if let Some(n) = resp.content_length() {
        body.try_reserve_exact(n as usize).map_err(|_| BodyError::Limit("out of memory for the answer".into()))?;
    }
    while let Some(chunk) = resp.chunk().await.map_err(BodyError::Network)? {
        if body.len() + chunk.len() > cap {
            return Err(too_big());
        }
        if body.capacity() - body.len() < chunk.len() {
            // Doubling, but never past the cap.
            let want = (body.len() + chunk.len()).max(body.capacity() * 2).min(cap);
            body.try_reserve_exact(want - body.len())
                .map_err(|_| BodyError::Limit("out of memory for the answer".into()))?;
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Cloning is cheap (the HTTP client's pool is shared) and gives a session that can run a
/// request on its own, as the writer does for requests in flight side by side; the clone starts
/// with this session's token.
#[derive(Clone)]
pub struct Session {
    pub server: ServerConfig,
    /// Largest response body accepted, in bytes.
    pub max_response_bytes: usize,
    /// A smaller cap for the one request `get_page` makes, whose excess is not an error.
    page_cap: Option<usize>,
    /// Whether that request was cut off for being longer than `page_cap`.
    page_cut_off: bool,
    /// The `accept` header of the next request (`post_accepting`).
    accept: Option<&'static str>,
    /// Shared by every session that trusts the same CAs (cloning shares its connection pool).
    http: reqwest::Client,
    credentials: Credentials,
    token: Option<CachedToken>,
    pub retry: RetryPolicy,
    /// Every request made through this session records itself here (`metrics`).
    pub log: RequestLog,
    /// 429 answers this session has received (retried or not): the writer lowers its
    /// concurrency when a request was throttled.
    pub throttled: u64,
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
        .pool_idle_timeout(POOL_IDLE_TIMEOUT)
        .user_agent(concat!("cdf_fdw/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| CdfError::Network { message: describe_reqwest_error(&e) })
}

/// Lets the runtime handle socket events that arrived while it was not running. A backend's
/// runtime runs only inside `block_on`, so between statements nobody reads the FIN of a pooled
/// connection that the server (or a load balancer) closed; without this the next request is
/// written to that dead connection and fails with "connection closed before message completed"
/// although it never reached CDF. After the yields the connection task has seen the close, the
/// pool drops the connection, and the request goes out on a fresh one (hyper resends a request
/// queued on a connection that closes before writing it).
async fn settle_pooled_connections() {
    // First yield: the I/O driver is polled and wakes the connection tasks; second: they run.
    for _ in 0..3 {
        tokio::task::yield_now().await;
    }
}

/// `POST /api/v1/projects/p/assets`: what a network error names (no host, no query string).
fn endpoint_name(method: &Method, url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(u) => format!("{method} {}", u.path()),
        Err(_) => format!("{method} {url}"),
    }
}

/// A retryable failure of one attempt, kept to report if the retries run out.
struct Failed {
    error: CdfError,
    retry_after: Option<Duration>,
    timed_out: bool,
}

impl Failed {
    fn answered(error: CdfError, retry_after: Option<Duration>) -> Self {
        Failed { error, retry_after, timed_out: false }
    }

    fn network(error: CdfError, e: &reqwest::Error) -> Self {
        Failed { error, retry_after: None, timed_out: e.is_timeout() }
    }
}

/// The retries of one request so far.
struct Attempts {
    started: Instant,
    retries: u32,
    /// The last failure that was not a timeout: when the retry deadline cuts the final attempt
    /// short, its timeout says less about the cause than the answer before it.
    cause: Option<CdfError>,
}

impl Attempts {
    fn new(started: Instant) -> Self {
        Attempts { started, retries: 0, cause: None }
    }
}

/// The error of a request whose retries ran out (`why`): the last failure, or, when the deadline
/// cut the last attempt short, the answer before it.
fn gave_up(attempts: &Attempts, failed: Failed, cut_by_deadline: bool, why: &str) -> CdfError {
    let (error, cut_off) = match (&attempts.cause, cut_by_deadline) {
        (Some(cause), true) => (cause.clone(), "; the last attempt was cut off by the deadline"),
        _ => (failed.error, ""),
    };
    match error {
        CdfError::Network { message } => CdfError::Network {
            message: format!(
                "{message}; gave up after {} attempt(s) in {:.1} s ({why}){cut_off}",
                attempts.retries + 1,
                attempts.started.elapsed().as_secs_f64()
            ),
        },
        other => other,
    }
}

/// Percent-encodes one URL path segment (RAW database and table names may hold anything).
pub fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

impl Session {
    pub fn new(server: ServerConfig, credentials: Credentials, http: reqwest::Client) -> Session {
        Session {
            server,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            page_cap: None,
            page_cut_off: false,
            accept: None,
            http,
            credentials,
            token: None,
            retry: RetryPolicy::default(),
            log: RequestLog::default(),
            throttled: 0,
        }
    }

    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    /// URL of a project API path such as `assets` or `raw/dbs/x/tables`.
    pub fn api_url(&self, path: &str) -> String {
        format!(
            "{}/api/v1/projects/{}/{}",
            self.server.base_url.trim_end_matches('/'),
            encode_segment(&self.server.project),
            path.trim_start_matches('/')
        )
    }

    /// Drops the cached token, so the next request fetches a new one.
    pub fn forget_token(&mut self) {
        self.token = None;
    }

    /// The timeout of the next attempt: the policy's, cut to what is left before `deadline`.
    fn attempt_timeout(&self, deadline: Instant) -> Option<Duration> {
        let left = deadline.checked_duration_since(Instant::now())?;
        if left < Duration::from_millis(1) {
            return None;
        }
        Some(self.retry.request_timeout.min(left))
    }

    /// After a retryable failure: sleeps the backoff and returns `None` to try again, or returns
    /// the error to give up with (retries or deadline exhausted).
    async fn next_attempt(&self, attempts: &mut Attempts, failed: Failed) -> Option<CdfError> {
        let deadline = attempts.started + self.retry.retry_deadline;
        let cut_by_deadline = failed.timed_out && Instant::now() + Duration::from_millis(5) >= deadline;
        let past_deadline = || format!("retry deadline of {} s", self.retry.retry_deadline.as_secs_f64());
        if attempts.retries >= self.retry.max_retries {
            let why = format!("at most {} retries", self.retry.max_retries);
            return Some(gave_up(attempts, failed, cut_by_deadline, &why));
        }
        let wait = self.backoff(attempts.retries + 1, failed.retry_after);
        if cut_by_deadline || Instant::now() + wait >= deadline {
            return Some(gave_up(attempts, failed, cut_by_deadline, &past_deadline()));
        }
        tokio::time::sleep(wait).await;
        // A loaded machine may oversleep: no time left is the deadline, with this failure.
        if self.attempt_timeout(deadline).is_none() {
            return Some(gave_up(attempts, failed, false, &past_deadline()));
        }
        if !failed.timed_out {
            attempts.cause = Some(failed.error);
        }
        attempts.retries += 1;
        None
    }

    /// The secrets of this session, to scrub from remote error texts.
    fn scrub(&self, e: CdfError) -> CdfError {
        let token = self.token.as_ref().map(|t| t.access_token.as_str()).unwrap_or("");
        e.scrubbed(&[self.credentials.client_secret.as_str(), token])
    }

    /// Fetches a token unless a fresh one is cached, so that clones made next share it.
    pub async fn ensure_token(&mut self) -> Result<(), CdfError> {
        self.token(Instant::now()).await.map(|_| ())
    }

    async fn token(&mut self, started: Instant) -> Result<String, CdfError> {
        match self.fetch_token(started).await {
            Ok(t) => Ok(t),
            Err(e) => Err(self.scrub(e)),
        }
    }

    async fn fetch_token(&mut self, started: Instant) -> Result<String, CdfError> {
        if let Some(t) = &self.token {
            if Instant::now() < t.refresh_at {
                return Ok(t.access_token.clone());
            }
        }
        let mut form: Vec<(&str, String)> = vec![
            ("grant_type", "client_credentials".into()),
            ("client_id", self.credentials.client_id.clone()),
            ("client_secret", self.credentials.client_secret.clone()),
        ];
        if !self.server.scopes.is_empty() {
            form.push(("scope", self.server.scopes.join(" ")));
        }
        if let Some(a) = &self.server.audience {
            form.push(("audience", a.clone()));
        }
        let endpoint = format!("token endpoint {}", endpoint_name(&Method::POST, &self.server.token_url));
        let mut probe = Probe::start(&self.log, TOKEN_ENDPOINT.into());
        let deadline = started + self.retry.retry_deadline;
        let mut attempts = Attempts::new(started);
        // The token request changes nothing at the identity provider: it is retried like an
        // idempotent API request. Only a 400/401 answer says something about the credentials.
        loop {
            let Some(timeout) = self.attempt_timeout(deadline) else {
                return Err(CdfError::Network { message: format!("{endpoint}: no token within the retry deadline") });
            };
            settle_pooled_connections().await;
            probe.attempt(0);
            let sent = self.http.post(&self.server.token_url).form(&form).timeout(timeout).send().await;
            let failed = match sent {
                Err(e) if is_certificate_failure(&e) => {
                    return Err(CdfError::Network { message: format!("{endpoint}: {}", describe_reqwest_error(&e)) })
                }
                Err(e) => Failed::network(
                    CdfError::Network { message: format!("{endpoint}: {}", describe_reqwest_error(&e)) },
                    &e,
                ),
                Ok(resp) => {
                    let status = resp.status();
                    let retry_after = retry_after_of(resp.headers());
                    match read_body(resp, self.max_response_bytes).await {
                        Err(BodyError::TooLarge(why) | BodyError::Limit(why)) => {
                            return Err(CdfError::Protocol { message: format!("{endpoint}: {why}"), request_id: None })
                        }
                        Err(BodyError::Network(e)) => Failed::network(
                            CdfError::Network {
                                message: format!("{endpoint}: reading the answer: {}", describe_reqwest_error(&e)),
                            },
                            &e,
                        ),
                        Ok(body) if status.is_success() => {
                            probe.answer(status.as_u16(), body.len());
                            let accepted = self.accept_token(&body);
                            if accepted.is_ok() {
                                probe.succeeded();
                            }
                            return accepted;
                        }
                        Ok(body) => {
                            probe.answer(status.as_u16(), body.len());
                            let detail = oauth_error_detail(&body);
                            if matches!(status.as_u16(), 400 | 401) {
                                return Err(CdfError::Auth {
                                    message: format!(
                                        "the identity provider refused client \"{}\" (HTTP {}){}",
                                        self.credentials.client_id,
                                        status.as_u16(),
                                        detail
                                    ),
                                });
                            }
                            let error = CdfError::Network {
                                message: format!("{endpoint}: the identity provider answered HTTP {}{detail}", status),
                            };
                            if !(status.as_u16() == 429 || status.is_server_error()) {
                                return Err(error);
                            }
                            Failed::answered(error, retry_after)
                        }
                    }
                }
            };
            if let Some(error) = self.next_attempt(&mut attempts, failed).await {
                return Err(error);
            }
        }
    }

    /// Caches the token of a successful token response.
    fn accept_token(&mut self, body: &[u8]) -> Result<String, CdfError> {
        let protocol = |m: &str| CdfError::Protocol { message: format!("token response {m}"), request_id: None };
        let json: Json = serde_json::from_slice(body).map_err(|_| protocol("is not JSON"))?;
        let access_token = json
            .get("access_token")
            .and_then(|v| v.as_str())
            .ok_or_else(|| protocol("has no access_token"))?
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

    /// GETs one page whose answer should stay under `page_cap` bytes. `Ok(None)` when it is
    /// longer: the answer is dropped unread past the cap and the caller asks again for fewer rows.
    /// `max_response_bytes` stays the hard limit, with its error.
    pub async fn get_page(
        &mut self,
        path: &str,
        query: &[(&str, String)],
        page_cap: usize,
    ) -> Result<Option<ApiResponse>, CdfError> {
        self.page_cap = Some(page_cap);
        self.page_cut_off = false;
        let answer = self.request(Method::GET, path, query, None, Idempotency::Idempotent).await;
        self.page_cap = None;
        match answer {
            Err(_) if std::mem::take(&mut self.page_cut_off) => {
                self.log.note_handled();
                Ok(None)
            }
            answer => answer.map(Some),
        }
    }

    /// `request` for a full URL (also outside the project, like `token/inspect`).
    ///
    /// | failure                                   | idempotent | not idempotent |
    /// |-------------------------------------------|------------|----------------|
    /// | 429 (waits at least Retry-After)          | retried    | retried        |
    /// | 500, 502, 503, 504                        | retried    | no             |
    /// | other status with `cdf-is-auto-retryable` | retried    | retried        |
    /// | connection never established              | retried    | retried        |
    /// | TLS certificate refused (permanent)       | no         | no             |
    /// | pooled connection already closed          | fresh one  | fresh one      |
    /// | timeout, dropped/reset, body cut off      | retried    | no             |
    /// | 401                                       | new token, once | new token, once |
    ///
    /// Retries stop after `max_retries` or when the next attempt would start after
    /// `retry_deadline`; each attempt is cut off at `request_timeout` or the deadline.
    async fn request_url(
        &mut self,
        method: Method,
        url: &str,
        query: &[(&str, String)],
        body: Option<Vec<u8>>,
        idempotency: Idempotency,
    ) -> Result<ApiResponse, CdfError> {
        let mut probe = Probe::start(&self.log, url_endpoint_template(method.as_str(), url));
        match self.send_with_retries(method, url, query, body, idempotency, &mut probe).await {
            Ok(r) => {
                probe.succeeded();
                Ok(r)
            }
            Err(e) => Err(self.scrub(e)),
        }
    }

    async fn send_with_retries(
        &mut self,
        method: Method,
        url: &str,
        query: &[(&str, String)],
        body: Option<Vec<u8>>,
        idempotency: Idempotency,
        probe: &mut Probe,
    ) -> Result<ApiResponse, CdfError> {
        // Taken in the first poll: a cancelled request leaves no `accept` for the next one.
        let accept = self.accept.take();
        let started = Instant::now();
        let deadline = started + self.retry.retry_deadline;
        let endpoint = endpoint_name(&method, url);
        let idempotent = idempotency == Idempotency::Idempotent;
        let mut attempts = Attempts::new(started);
        let mut refreshed_after_401 = false;
        loop {
            let fetching = Instant::now();
            let token = self.fetch_token(started).await?;
            probe.excluded += fetching.elapsed();
            let Some(timeout) = self.attempt_timeout(deadline) else {
                return Err(CdfError::Network {
                    message: format!(
                        "{endpoint}: no answer within the retry deadline of {} s",
                        self.retry.retry_deadline.as_secs_f64()
                    ),
                });
            };
            let mut req = self
                .http
                .request(method.clone(), url)
                .bearer_auth(&token)
                .header("cdf-version", "20230101")
                .header("x-cdp-app", "cdf_fdw")
                .query(query)
                .timeout(timeout);
            if let Some(b) = &body {
                req = req.header("content-type", "application/json").body(b.clone());
            }
            if let Some(accept) = accept {
                req = req.header("accept", accept);
            }
            settle_pooled_connections().await;
            probe.attempt(body.as_ref().map_or(0, Vec::len));
            let network = |e: &reqwest::Error| CdfError::Network {
                message: format!("{endpoint}: {}", describe_reqwest_error(e)),
            };
            let failed = match req.send().await {
                Ok(resp) => {
                    let status = resp.status();
                    let request_id =
                        resp.headers().get("x-request-id").and_then(|v| v.to_str().ok()).map(str::to_string);
                    let auto_retryable = resp
                        .headers()
                        .get("cdf-is-auto-retryable")
                        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"true"));
                    let retry_after = retry_after_of(resp.headers());
                    let content_type =
                        resp.headers().get("content-type").and_then(|v| v.to_str().ok()).map(str::to_string);
                    let cap = self.page_cap.map_or(self.max_response_bytes, |c| c.min(self.max_response_bytes));
                    let bytes = match read_body(resp, cap).await {
                        Ok(b) => b,
                        Err(BodyError::TooLarge(why)) => {
                            self.page_cut_off = cap < self.max_response_bytes;
                            return Err(CdfError::Protocol { message: format!("{endpoint}: {why}"), request_id });
                        }
                        Err(BodyError::Limit(why)) => {
                            return Err(CdfError::Protocol { message: format!("{endpoint}: {why}"), request_id })
                        }
                        // The answer was cut off: CDF may have acted.
                        Err(BodyError::Network(e)) if idempotent => {
                            let failed = Failed::network(network(&e), &e);
                            match self.next_attempt(&mut attempts, failed).await {
                                Some(error) => return Err(error),
                                None => continue,
                            }
                        }
                        Err(BodyError::Network(e)) => return Err(network(&e)),
                    };
                    probe.answer(status.as_u16(), bytes.len());
                    if status.is_success() {
                        return Ok(ApiResponse { status: status.as_u16(), body: bytes, request_id, content_type });
                    }
                    if status == StatusCode::UNAUTHORIZED && !refreshed_after_401 {
                        refreshed_after_401 = true;
                        self.forget_token();
                        continue;
                    }
                    let retryable = match status.as_u16() {
                        // CDF did not act on a throttled request.
                        429 => {
                            self.throttled += 1;
                            true
                        }
                        500 | 502..=504 => idempotent || auto_retryable,
                        _ => auto_retryable,
                    };
                    let error = CdfError::from_response(status.as_u16(), &bytes, request_id);
                    if !retryable {
                        return Err(error);
                    }
                    Failed::answered(error, retry_after)
                }
                Err(e) => {
                    // A connection that was never established never carried the request, so even
                    // creates are safe to resend. (A pooled connection closed before the request
                    // was written is resent on a fresh one by hyper; see settle_pooled_connections.)
                    let never_sent = e.is_connect();
                    if !(idempotent || never_sent) || is_certificate_failure(&e) {
                        return Err(network(&e));
                    }
                    Failed::network(network(&e), &e)
                }
            };
            if let Some(error) = self.next_attempt(&mut attempts, failed).await {
                return Err(error);
            }
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
        self.token(Instant::now()).await.map(|_| ())
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

    /// `post_json` asking for an answer of the media type `accept` (CDF answers datapoint lists
    /// in protobuf when asked); the answer's `content_type` tells what came.
    pub async fn post_accepting(
        &mut self,
        path: &str,
        body: &Json,
        accept: &'static str,
        idempotency: Idempotency,
    ) -> Result<ApiResponse, CdfError> {
        self.accept = Some(accept);
        self.post_json(path, &[], body, idempotency).await
    }
}

/// `Retry-After` in seconds (CDF and Entra ID send seconds, not dates).
fn retry_after_of(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|s| s.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
}

/// `: invalid_client description` from an OAuth error body; neither field echoes the secret.
fn oauth_error_detail(body: &[u8]) -> String {
    let Ok(j) = serde_json::from_slice::<Json>(body) else {
        return String::new();
    };
    let code = j.get("error").and_then(|v| v.as_str()).unwrap_or("");
    let desc = j.get("error_description").and_then(|v| v.as_str()).unwrap_or("");
    let detail = format!("{code} {desc}").trim().to_string();
    if detail.is_empty() {
        detail
    } else {
        format!(": {detail}")
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
    fn path_segments_are_percent_encoded() {
        assert_eq!(encode_segment("my db/ä"), "my%20db%2F%C3%A4");
        assert_eq!(encode_segment("plain_name-1.x"), "plain_name-1.x");
    }

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
        let mut odd = s.server.clone();
        odd.project = "a b/../c".into();
        let s = Session::new(odd, s.credentials.clone(), new_http_client(None).unwrap());
        assert_eq!(s.api_url("assets"), "https://x.cognitedata.com/api/v1/projects/a%20b%2F..%2Fc/assets");
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
