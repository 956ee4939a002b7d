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

    /// The request that finished last had an error answer its caller expected and handled (the
    /// 409 duplicates an upsert turns into updates, the 404 of a RAW table that does not exist):
    /// not a failure. Same timing rule as `note_rows_sent`.
    pub fn note_handled(&self) {
        self.with(|r| r.last_mut().map(|l| l.failed = false));
    }
}

/// Buckets of the latency histogram: 0 holds requests under 1 ms, bucket k those from 2^(k-1)
/// to 2^k ms; the last one everything from about 9 minutes up.
pub const LATENCY_BUCKETS: usize = 20;

/// Sums over many requests, as kept per server, table and endpoint. Plain integers and a fixed
/// array, so it can live in PostgreSQL shared memory as it is.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counters {
    pub requests: u64,
    pub rows_sent: u64,
    pub rows_received: u64,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    pub retries: u64,
    pub throttled: u64,
    pub failures: u64,
    pub total_us: u64,
    pub max_us: u64,
    pub latency: [u64; LATENCY_BUCKETS],
}

impl Counters {
    pub const ZERO: Counters = Counters {
        requests: 0,
        rows_sent: 0,
        rows_received: 0,
        bytes_sent: 0,
        bytes_received: 0,
        retries: 0,
        throttled: 0,
        failures: 0,
        total_us: 0,
        max_us: 0,
        latency: [0; LATENCY_BUCKETS],
    };

    fn bucket(us: u64) -> usize {
        let ms = us / 1000;
        if ms == 0 {
            0
        } else {
            ((u64::BITS - ms.leading_zeros()) as usize).min(LATENCY_BUCKETS - 1)
        }
    }

    pub fn add(&mut self, r: &RequestRecord) {
        let us = r.elapsed.as_micros().min(u128::from(u64::MAX)) as u64;
        self.requests += 1;
        self.rows_sent += r.rows_sent;
        self.rows_received += r.rows_received;
        self.bytes_sent += r.bytes_sent;
        self.bytes_received += r.bytes_received;
        self.retries += u64::from(r.retries());
        self.throttled += u64::from(r.throttled);
        self.failures += u64::from(r.failed);
        self.total_us += us;
        self.max_us = self.max_us.max(us);
        self.latency[Self::bucket(us)] += 1;
    }

    pub fn merge(&mut self, o: &Counters) {
        self.requests += o.requests;
        self.rows_sent += o.rows_sent;
        self.rows_received += o.rows_received;
        self.bytes_sent += o.bytes_sent;
        self.bytes_received += o.bytes_received;
        self.retries += o.retries;
        self.throttled += o.throttled;
        self.failures += o.failures;
        self.total_us += o.total_us;
        self.max_us = self.max_us.max(o.max_us);
        for (a, b) in self.latency.iter_mut().zip(o.latency) {
            *a += b;
        }
    }

    pub fn total_ms(&self) -> f64 {
        self.total_us as f64 / 1000.0
    }

    pub fn mean_ms(&self) -> Option<f64> {
        (self.requests > 0).then(|| self.total_ms() / self.requests as f64)
    }

    pub fn max_ms(&self) -> f64 {
        self.max_us as f64 / 1000.0
    }

    /// The `q`-quantile of request time in ms (0 < q <= 1), from the histogram: interpolated
    /// within its power-of-two bucket, never above the largest time seen.
    pub fn percentile_ms(&self, q: f64) -> Option<f64> {
        let n: u64 = self.latency.iter().sum();
        if n == 0 {
            return None;
        }
        let rank = (q.clamp(0.0, 1.0) * n as f64).ceil().max(1.0);
        let mut below = 0u64;
        for (k, &count) in self.latency.iter().enumerate() {
            if count > 0 && (below + count) as f64 >= rank {
                let (lo, hi) = if k == 0 { (0.0, 1.0) } else { ((1u64 << (k - 1)) as f64, (1u64 << k) as f64) };
                let at = lo + (hi - lo) * (rank - below as f64) / count as f64;
                return Some(at.min(self.max_ms()));
            }
            below += count;
        }
        Some(self.max_ms())
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

    fn took(ms: u64) -> RequestRecord {
        RequestRecord {
            elapsed: Duration::from_millis(ms),
            failed: false,
            attempts: 1,
            ..RequestRecord::new("e".into())
        }
    }

    #[test]
    fn counters_sum_requests_and_estimate_percentiles() {
        let mut c = Counters::ZERO;
        for ms in 1..=100 {
            c.add(&took(ms));
        }
        let mut throttled = took(300);
        (throttled.attempts, throttled.throttled, throttled.failed, throttled.rows_sent) = (3, 2, true, 0);
        c.add(&throttled);
        assert_eq!((c.requests, c.retries, c.throttled, c.failures), (101, 2, 2, 1));
        assert_eq!(c.max_ms(), 300.0);
        assert!((c.mean_ms().unwrap() - (5050.0 + 300.0) / 101.0).abs() < 1e-9);
        // The true median is 51 ms, the 95th percentile 96 ms; buckets are powers of two.
        let p50 = c.percentile_ms(0.5).unwrap();
        assert!((32.0..=64.0).contains(&p50), "{p50}");
        let p95 = c.percentile_ms(0.95).unwrap();
        assert!((64.0..=128.0).contains(&p95), "{p95}");
        assert_eq!(c.percentile_ms(1.0), Some(300.0), "never above the maximum");
        let mut sum = Counters::ZERO;
        sum.merge(&c);
        sum.merge(&c);
        assert_eq!((sum.requests, sum.max_us, sum.latency[0]), (202, c.max_us, 0));
        assert_eq!(Counters::ZERO.percentile_ms(0.5), None);
        assert_eq!(Counters::ZERO.mean_ms(), None);
        // Sub-millisecond requests land in bucket 0; very long ones in the last.
        let mut edge = Counters::ZERO;
        edge.add(&RequestRecord { elapsed: Duration::from_micros(300), ..took(0) });
        edge.add(&took(3_600_000));
        assert_eq!((edge.latency[0], edge.latency[LATENCY_BUCKETS - 1]), (1, 1));
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
