//! What each HTTP request to CDF cost: endpoint (as a template, no ids or names), final status,
//! attempts, 429s, bytes and rows each way, time. `Session` records one `RequestRecord` per
//! logical request (retries included) into its `RequestLog`; the caller drains the log after
//! each piece of work and keeps the statistics (the pgrx layer: EXPLAIN ANALYZE, `cdf.stats`).
//!
//! The log is a shared handle, so requests running concurrently on one runtime all record into
//! it, and a request whose future is dropped (statement cancelled) still records itself, as failed.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Endpoint label of token requests (the identity provider's URL names a tenant: not shown).
pub const TOKEN_ENDPOINT: &str = "POST token_url";

/// One logical request: every attempt until success or giving up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    /// `POST /raw/dbs/{db}/tables/{table}/rows`: method and path template, as CDF's API
    /// reference (and the emulator's statistics) name endpoints.
    pub endpoint: String,
    /// HTTP status of the last answer; 0 when none came (network error, cancel).
    pub status: u16,
    /// HTTP attempts made (1 without retries; 0 if cancelled before the first was sent).
    pub attempts: u32,
    /// Answers with status 429 among the attempts.
    pub throttled: u32,
    /// The request gave no usable answer (error status, network failure, cancelled).
    pub failed: bool,
    /// Request bodies over all attempts.
    pub bytes_sent: u64,
    /// Response bodies over all attempts.
    pub bytes_received: u64,
    /// Rows the request carried and CDF accepted (writes), or returned (reads).
    pub rows_sent: u64,
    pub rows_received: u64,
    /// From the first attempt to the outcome, backoff sleeps included, token fetches excluded
    /// (they are records of their own).
    pub elapsed: Duration,
}

impl RequestRecord {
    pub fn new(endpoint: String) -> RequestRecord {
        RequestRecord {
            endpoint,
            status: 0,
            attempts: 0,
            throttled: 0,
            failed: true,
            bytes_sent: 0,
            bytes_received: 0,
            rows_sent: 0,
            rows_received: 0,
            elapsed: Duration::ZERO,
        }
    }

    pub fn retries(&self) -> u32 {
        self.attempts.saturating_sub(1)
    }
}

/// Where a session's requests record themselves. Cloning shares the log.
#[derive(Debug, Clone, Default)]
pub struct RequestLog {
    records: Arc<Mutex<Vec<RequestRecord>>>,
}

impl RequestLog {
    fn with<T>(&self, op: impl FnOnce(&mut Vec<RequestRecord>) -> T) -> T {
        // A panic while holding this lock cannot leave a record half-written: take it anyway.
        let mut guard = self.records.lock().unwrap_or_else(|p| p.into_inner());
        op(&mut guard)
    }

    pub fn push(&self, record: RequestRecord) {
        self.with(|r| r.push(record));
    }

    /// Everything recorded since the last drain, oldest first.
    pub fn drain(&self) -> Vec<RequestRecord> {
        self.with(std::mem::take)
    }

    /// Adds rows to the request that finished last. Call it right after awaiting that request,
    /// before the next `.await`: on a single-threaded runtime nothing else finishes in between.
    pub fn note_rows_sent(&self, rows: usize) {
        self.with(|r| r.last_mut().map(|l| l.rows_sent += rows as u64));
    }

    pub fn note_rows_received(&self, rows: usize) {
        self.with(|r| r.last_mut().map(|l| l.rows_received += rows as u64));
    }
}

/// A request being made: it records itself into the log when dropped, which also covers every
/// early return and a cancelled future (then as failed, with what it saw so far).
pub(crate) struct Probe {
    log: RequestLog,
    pub record: RequestRecord,
    started: Instant,
    /// Time spent fetching tokens inside this request, kept out of its `elapsed`.
    pub excluded: Duration,
}

impl Probe {
    pub fn start(log: &RequestLog, endpoint: String) -> Probe {
        Probe {
            log: log.clone(),
            record: RequestRecord::new(endpoint),
            started: Instant::now(),
            excluded: Duration::ZERO,
        }
    }

    /// One more attempt carrying `body_len` bytes.
    pub fn attempt(&mut self, body_len: usize) {
        self.record.attempts += 1;
        self.record.bytes_sent += body_len as u64;
    }

    /// An answer arrived with `status` and a body of `body_len` bytes.
    pub fn answer(&mut self, status: u16, body_len: usize) {
        self.record.status = status;
        self.record.bytes_received += body_len as u64;
        if status == 429 {
            self.record.throttled += 1;
        }
    }

    pub fn succeeded(&mut self) {
        self.record.failed = false;
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        self.record.elapsed = self.started.elapsed().saturating_sub(self.excluded);
        self.log.push(self.record.clone());
    }
}

/// The endpoint template of a project API path (`raw/dbs/my%20db/tables/t/rows` ->
/// `POST /raw/dbs/{db}/tables/{table}/rows`, `assets/123` -> `GET /assets/{id}`). Names of RAW
/// databases, tables and keys and numeric ids are replaced, so neither data nor identifiers
/// reach the statistics, and one endpoint is one entry however many tables it serves.
pub fn endpoint_template(method: &str, path: &str) -> String {
    let segments: Vec<&str> = path.trim_matches('/').split('/').filter(|s| !s.is_empty()).collect();
    let mut out = String::with_capacity(path.len() + method.len() + 2);
    out.push_str(method);
    out.push(' ');
    let raw = segments.first() == Some(&"raw");
    for (i, seg) in segments.iter().enumerate() {
        out.push('/');
        let previous = if i > 0 { segments[i - 1] } else { "" };
        let placeholder = match previous {
            "dbs" if raw => Some("{db}"),
            "tables" if raw => Some("{table}"),
            "rows" if raw => Some("{key}"),
            _ if seg.bytes().all(|b| b.is_ascii_digit()) => Some("{id}"),
            _ => None,
        };
        // `raw/dbs/delete`, `.../tables/delete` and `.../rows/delete` are endpoints, not names
        // (a RAW name in the last position is a key only for GET).
        let last = i + 1 == segments.len();
        let endpoint_word = *seg == "delete" && last && method != "GET";
        match placeholder {
            Some(p) if !endpoint_word => out.push_str(p),
            _ => out.push_str(seg),
        }
    }
    out
}

/// The endpoint template of a full API URL: the path after `/api/v1/projects/<project>/`, or
/// after `/api/v1/` for paths outside the project (`GET /token/inspect`).
pub fn url_endpoint_template(method: &str, url: &str) -> String {
    let path = url.split_once("://").map_or(url, |(_, rest)| rest.find('/').map_or("", |i| &rest[i..]));
    let path = path.split(['?', '#']).next().unwrap_or("");
    let api = path.strip_prefix("/api/v1/").unwrap_or(path.trim_start_matches('/'));
    let in_project = api.strip_prefix("projects/").map(|p| p.split_once('/').map_or("", |(_, rest)| rest));
    endpoint_template(method, in_project.unwrap_or(api))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_hide_names_and_ids() {
        assert_eq!(endpoint_template("POST", "assets"), "POST /assets");
        assert_eq!(endpoint_template("POST", "timeseries/data/list"), "POST /timeseries/data/list");
        assert_eq!(endpoint_template("GET", "assets/123"), "GET /assets/{id}");
        assert_eq!(
            endpoint_template("POST", "raw/dbs/my%20db/tables/secret_table/rows"),
            "POST /raw/dbs/{db}/tables/{table}/rows"
        );
        assert_eq!(
            endpoint_template("GET", "raw/dbs/d/tables/t/rows/key%2F1"),
            "GET /raw/dbs/{db}/tables/{table}/rows/{key}"
        );
        assert_eq!(
            endpoint_template("POST", "raw/dbs/d/tables/t/rows/delete"),
            "POST /raw/dbs/{db}/tables/{table}/rows/delete"
        );
        assert_eq!(endpoint_template("POST", "raw/dbs/delete"), "POST /raw/dbs/delete");
        assert_eq!(endpoint_template("POST", "raw/dbs/d/tables/delete"), "POST /raw/dbs/{db}/tables/delete");
        assert_eq!(endpoint_template("GET", "raw/dbs"), "GET /raw/dbs");
    }

    #[test]
    fn url_templates_drop_host_project_and_query() {
        assert_eq!(
            url_endpoint_template(
                "POST",
                "https://x.cognitedata.com/api/v1/projects/p/raw/dbs/a/tables/b/rows?ensureParent=true"
            ),
            "POST /raw/dbs/{db}/tables/{table}/rows"
        );
        assert_eq!(url_endpoint_template("GET", "http://127.0.0.1:1/api/v1/token/inspect"), "GET /token/inspect");
    }

    #[test]
    fn probes_record_on_drop_also_when_abandoned() {
        let log = RequestLog::default();
        {
            let mut p = Probe::start(&log, "POST /assets".into());
            p.attempt(100);
            p.answer(429, 20);
            p.attempt(100);
            p.answer(200, 50);
            p.succeeded();
        }
        log.note_rows_sent(3);
        {
            // Cancelled while the first attempt was in flight.
            let mut p = Probe::start(&log, "POST /assets/list".into());
            p.attempt(10);
        }
        let records = log.drain();
        assert_eq!(records.len(), 2);
        let ok = &records[0];
        assert_eq!((ok.status, ok.attempts, ok.retries(), ok.throttled, ok.failed), (200, 2, 1, 1, false));
        assert_eq!((ok.bytes_sent, ok.bytes_received, ok.rows_sent), (200, 70, 3));
        let cancelled = &records[1];
        assert_eq!((cancelled.status, cancelled.attempts, cancelled.failed, cancelled.rows_sent), (0, 1, true, 0));
        assert!(log.drain().is_empty());
    }

    #[test]
    fn rows_go_to_the_request_that_finished_last() {
        let log = RequestLog::default();
        log.note_rows_received(5); // nothing recorded yet: ignored
        drop(Probe::start(&log, "POST /assets/list".into()));
        log.note_rows_received(7);
        drop(Probe::start(&log, "POST /assets/byids".into()));
        log.note_rows_received(2);
        let r = log.drain();
        assert_eq!((r[0].rows_received, r[1].rows_received), (7, 2));
    }
}
