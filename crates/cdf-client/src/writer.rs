//! Buffers the rows of one statement and sends them to CDF in requests as large as each endpoint
//! allows, grouping rows by series or RAW table where the API wants that.
//!
//! Requests go out side by side: `send_buffered` starts the buffer's requests and returns while
//! they are in flight (up to the writer's concurrency), so PostgreSQL produces the next rows
//! while CDF works; `flush` also waits for every request in flight. The outcome is the one
//! serial sending gives:
//! - a request never starts while one in flight carries a row of the same key (external id,
//!   RAW key, series and timestamp range, sequence and row range) or the parent an asset names,
//!   so the last row in input order wins and parents exist before their children;
//! - after the first failure no request starts; those in flight finish and the error counts
//!   every row CDF accepted (`WriteError::rows_written`);
//! - a 429 halves the concurrency (once per round of requests), calm answers raise it again by
//!   one, never past the configured maximum.
//!
//! Requests run as tasks on the backend's current-thread runtime: they progress whenever the
//! backend is inside `block_on` (the next request, a read, the end of the statement), and the
//! kernel's socket buffers carry them in between. Memory is bounded by one buffer plus one
//! request per slot.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::hash::{Hash, Hasher};
use std::pin::Pin;
use std::task::{Context, Poll};

use cdf_tables::limits::{
    CHANGES_PER_REQUEST, DATAPOINTS_PER_REQUEST, RAW_NAMES_PER_REQUEST, RAW_ROWS_PER_REQUEST, SEQUENCES_PER_REQUEST,
    SEQUENCE_ROWS_PER_REQUEST, SEQUENCE_VALUES_PER_REQUEST, SERIES_PER_REQUEST,
};
use cdf_tables::{Change, DeleteKind, InsertMode, Resource, SeriesRef, WriteKind, WriteRow};
use serde_json::{json, Map, Value as Json};

use crate::error::CdfError;
use crate::session::{encode_segment, Idempotency, Session};

/// Rows buffered across all RAW tables of a statement before everything is flushed.
const RAW_ROWS_BUFFERED: usize = 5 * RAW_ROWS_PER_REQUEST;
/// Bytes of serialized RAW rows buffered before a flush: big rows (CDF allows 5 MB each) keep
/// a statement's buffer and each request's body to a few MB, not 10,000 rows' worth.
const RAW_BYTES_BUFFERED: usize = 8 * 1024 * 1024;

/// A request CDF rejected, with what the statement had already written before it.
#[derive(Debug, Clone, PartialEq)]
pub struct WriteError {
    pub error: CdfError,
    /// Rows CDF accepted in this statement (they stay: CDF has no transactions), including
    /// those of requests that were in flight alongside the failing one.
    pub rows_written: u64,
    /// Rows in the rejected request.
    pub rows_in_failed_chunk: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum GroupKey {
    Database(String),
    RawTable(String, String),
    Series(SeriesRef),
    Sequence(SeriesRef, Vec<String>),
}

type PendingItem = Map<String, Json>;

/// Serialized JSON entries back to back in one buffer: no allocation per entry, and a request
/// body copies them in one pass.
#[derive(Default)]
struct Entries {
    text: Vec<u8>,
    /// Where each entry ends in `text`.
    ends: Vec<usize>,
}

impl Entries {
    fn len(&self) -> usize {
        self.ends.len()
    }

    /// Appends the entry `write` writes; returns its size.
    fn push_with(&mut self, write: impl FnOnce(&mut Vec<u8>)) -> usize {
        let start = self.text.len();
        write(&mut self.text);
        self.ends.push(self.text.len());
        self.text.len() - start
    }

    /// Entries `range` of the buffer.
    fn slice(&self, range: std::ops::Range<usize>) -> impl Iterator<Item = &[u8]> {
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        starts.zip(self.ends.iter().copied()).skip(range.start).take(range.len()).map(|(a, b)| &self.text[a..b])
    }

    fn iter(&self) -> impl Iterator<Item = &[u8]> {
        self.slice(0..self.len())
    }
}

/// Buffered entries of one series, sequence, RAW table or database, kept serialized: a JSON
/// text is a few dozen bytes where a parsed object is several hundred, and 100,000 datapoints
/// wait here before each request.
struct Group {
    key: GroupKey,
    entries: Entries,
    /// RAW rows: the hash of each row's key, for the key check of requests in flight.
    row_keys: Vec<u64>,
    /// Datapoints and sequence rows: lowest and highest timestamp or row number.
    range: Option<(i64, i64)>,
}

/// `{"items": [...]}` serialized straight from the buffered items, without copying them.
#[derive(serde::Serialize)]
struct ItemsBody<'a> {
    items: &'a [PendingItem],
}

impl ItemsBody<'_> {
    fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("serializing JSON cannot fail")
    }
}

/// FNV-1a: the group index is looked up once per row (a datapoint COPY's series key), where
/// SipHash's protection against chosen keys costs more than it guards (keys are the statement's
/// own rows, and each lookup compares the key too).
struct FnvHasher(u64);

impl Default for FnvHasher {
    fn default() -> FnvHasher {
        FnvHasher(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for FnvHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut h = self.0;
        for b in bytes {
            h = (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
        self.0 = h;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

type GroupIndex = HashMap<GroupKey, usize, std::hash::BuildHasherDefault<FnvHasher>>;

fn hash_of(value: impl Hash) -> u64 {
    let mut h = std::hash::DefaultHasher::new();
    value.hash(&mut h);
    h.finish()
}

/// What a request writes and what must exist before it, as hashes: a collision only makes a
/// request wait for another it did not need to wait for.
#[derive(Default, Debug)]
struct Keys {
    /// External ids of items, RAW (database, table, key).
    writes: HashSet<u64>,
    /// External ids the request refers to (an asset's parent).
    needs: HashSet<u64>,
    /// Series or sequence → range of timestamps or row numbers.
    ranges: HashMap<u64, (i64, i64)>,
}

impl Keys {
    /// Whether `later` must wait until the request with these keys has finished.
    fn blocks(&self, later: &Keys) -> bool {
        let meets = |a: &HashSet<u64>, b: &HashSet<u64>| {
            let (small, big) = if a.len() <= b.len() { (a, b) } else { (b, a) };
            small.iter().any(|k| big.contains(k))
        };
        meets(&self.writes, &later.writes)
            || meets(&self.writes, &later.needs)
            || later.ranges.iter().any(|(s, (lo, hi))| self.ranges.get(s).is_some_and(|(a, b)| lo <= b && a <= hi))
    }

    fn item(&mut self, item: &PendingItem) {
        if let Some(x) = item.get("externalId").and_then(Json::as_str) {
            self.writes.insert(hash_of(("xid", x)));
        }
        if let Some(x) = item.get("parentExternalId").and_then(Json::as_str) {
            self.needs.insert(hash_of(("xid", x)));
        }
    }
}

/// What one request ended with.
struct Outcome {
    /// Rows CDF accepted (all of them, or the part an upsert got through before failing).
    written: u64,
    failure: Option<(CdfError, usize)>,
    /// 429 answers on the way.
    throttled: u64,
}

impl Outcome {
    fn of(session: &Session, result: Result<u64, (u64, CdfError, usize)>) -> Outcome {
        match result {
            Ok(written) => Outcome { written, failure: None, throttled: session.throttled },
            Err((written, e, rows)) => Outcome { written, failure: Some((e, rows)), throttled: session.throttled },
        }
    }
}

/// A request ready to start: its rows, keys and body.
struct Request {
    keys: Keys,
    rows: usize,
    kind: RequestKind,
}

enum RequestKind {
    /// All rows written or none.
    Post { path: String, query: Vec<(&'static str, String)>, body: Vec<u8>, idempotency: Idempotency },
    /// Items created, then on 409 updated or skipped; `merged` rows count when it succeeds.
    Items { path: &'static str, items: Vec<PendingItem>, rows: Vec<u64>, merged: u64 },
    /// One file (one per request).
    File { item: PendingItem },
}

impl Request {
    async fn run(self, mut session: Session, resource: &'static Resource, mode: InsertMode) -> Outcome {
        let rows = self.rows;
        let result = match self.kind {
            RequestKind::Post { path, query, body, idempotency } => {
                match session.request(reqwest::Method::POST, &path, &query, Some(body), idempotency).await {
                    Ok(_) => {
                        session.log.note_rows_sent(rows);
                        Ok(rows as u64)
                    }
                    Err(e) => Err((0, e, rows)),
                }
            }
            RequestKind::Items { path, items, rows, merged } => {
                create_items(&mut session, resource, mode, path, items, rows).await.map(|n| n + merged)
            }
            RequestKind::File { item } => {
                write_one(&mut session, resource, mode, item).await.map(|_| 1).map_err(|(e, n)| (0, e, n))
            }
        };
        Outcome::of(&session, result)
    }
}

/// A request in flight; dropping it (a cancelled statement) aborts it.
struct Running {
    seq: u64,
    keys: Keys,
    task: tokio::task::JoinHandle<Outcome>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// How many requests may be in flight: additive increase, multiplicative decrease on 429.
#[derive(Debug)]
struct Concurrency {
    max: usize,
    now: usize,
    /// Calm answers since the last change.
    calm: usize,
    /// Only requests started from here on may halve it again (one cut per round of 429s).
    cut_from_seq: u64,
}

impl Concurrency {
    fn new(max: usize) -> Concurrency {
        let max = max.max(1);
        Concurrency { max, now: max, calm: 0, cut_from_seq: 0 }
    }

    fn observe(&mut self, seq: u64, throttled: bool, next_seq: u64) {
        if throttled {
            self.calm = 0;
            if seq >= self.cut_from_seq {
                self.now = (self.now / 2).max(1);
                self.cut_from_seq = next_seq;
            }
        } else {
            self.calm += 1;
            if self.calm >= self.now && self.now < self.max {
                self.now += 1;
                self.calm = 0;
            }
        }
    }
}

pub struct TableWriter {
    resource: &'static Resource,
    mode: InsertMode,
    items: Vec<PendingItem>,
    groups: Vec<Group>,
    group_index: GroupIndex,
    buffered_rows: usize,
    /// Serialized size of the buffered entries.
    buffered_bytes: usize,
    buffered_values: usize,
    /// Position in `items` of each buffered external id: CDF refuses an external id twice in
    /// one request, so a repeat is merged here (upsert) or dropped (ignore), as separate
    /// requests would end, whatever the chunking.
    item_index: HashMap<String, usize>,
    /// Rows merged into an earlier row of the buffer; written when the buffer is.
    merged_rows: u64,
    /// Rows pushed so far, and the statement row number of each buffered item, so that CDF's
    /// `items[N]` in an error can be told as the statement's row.
    rows_pushed: u64,
    item_rows: Vec<u64>,
    /// Rows CDF accepted (created, updated or overwritten) so far.
    pub rows_written: u64,
    running: Vec<Running>,
    next_seq: u64,
    concurrency: Concurrency,
    /// The first failure (request number, error, rows in it); nothing starts after it.
    failure: Option<(u64, CdfError, usize)>,
    /// Highest number of requests in flight at once, and 429s seen (for tests and EXPLAIN).
    pub peak_in_flight: usize,
    pub throttled: u64,
}

impl TableWriter {
    /// A writer that keeps one request in flight at a time (see `set_max_concurrency`).
    pub fn new(resource: &'static Resource, mode: InsertMode) -> TableWriter {
        TableWriter {
            resource,
            mode: resource.effective_insert_mode(mode),
            items: Vec::new(),
            groups: Vec::new(),
            group_index: GroupIndex::default(),
            buffered_rows: 0,
            buffered_bytes: 0,
            buffered_values: 0,
            item_index: HashMap::new(),
            merged_rows: 0,
            rows_pushed: 0,
            item_rows: Vec::new(),
            rows_written: 0,
            running: Vec::new(),
            next_seq: 0,
            concurrency: Concurrency::new(1),
            failure: None,
            peak_in_flight: 0,
            throttled: 0,
        }
    }

    /// Requests this writer may keep in flight at once (`Resource::write_concurrency`).
    pub fn set_max_concurrency(&mut self, max: usize) {
        self.concurrency = Concurrency::new(self.resource.write_concurrency(max));
    }

    /// The concurrency in force now (lower than the maximum after 429s).
    pub fn concurrency(&self) -> usize {
        self.concurrency.now
    }

    pub fn buffered(&self) -> usize {
        self.buffered_rows
    }

    /// Requests started and not yet seen finishing.
    pub fn in_flight(&self) -> usize {
        self.running.len()
    }

    /// Adds the entry `write` serializes to its group; returns the group's size.
    fn push_grouped(
        &mut self,
        key: GroupKey,
        write: impl FnOnce(&mut Vec<u8>),
        row_key: Option<u64>,
        position: Option<i64>,
    ) -> usize {
        let i = match self.group_index.get(&key) {
            Some(&i) => i,
            None => {
                self.group_index.insert(key.clone(), self.groups.len());
                self.groups.push(Group { key, entries: Entries::default(), row_keys: Vec::new(), range: None });
                self.groups.len() - 1
            }
        };
        let group = &mut self.groups[i];
        self.buffered_bytes += group.entries.push_with(write);
        group.row_keys.extend(row_key);
        if let Some(p) = position {
            group.range = Some(group.range.map_or((p, p), |(lo, hi)| (lo.min(p), hi.max(p))));
        }
        group.entries.len()
    }

    /// Whether the buffer must be sent before `row` joins it: in create mode a repeated external
    /// id goes in a later request, where CDF refuses it as it would any existing one. A
    /// data-modeling instance named again always goes in a later request: DMS applies each item's
    /// properties as a patch, which merging the two items here would not reproduce.
    pub fn needs_flush_before(&self, row: &WriteRow) -> bool {
        let later_request = self.mode == InsertMode::Create || Self::is_instance(row);
        later_request && Self::item_key(row).is_some_and(|x| self.item_index.contains_key(&x))
    }

    fn is_instance(row: &WriteRow) -> bool {
        matches!(row, WriteRow::Item(item) if item.contains_key("instanceType"))
    }

    /// What identifies an item within one request: its external id, and for a data-modeling
    /// instance its space too (one external id may name a node in each space).
    fn item_key(row: &WriteRow) -> Option<String> {
        let WriteRow::Item(item) = row else { return None };
        let xid = item.get("externalId").and_then(Json::as_str)?;
        match item.get("space").and_then(Json::as_str) {
            Some(space) if Self::is_instance(row) => Some(format!("{space}\u{0}{xid}")),
            _ => Some(xid.to_string()),
        }
    }

    /// Adds a row; true when the buffer holds a full request and must be sent now.
    pub fn push(&mut self, row: WriteRow) -> bool {
        self.push_numbered(row, self.rows_pushed + 1)
    }

    /// As `push`, for rows that reach the writer out of statement order (asset hierarchies):
    /// `statement_row` is the row an error about this item names.
    pub fn push_numbered(&mut self, row: WriteRow, statement_row: u64) -> bool {
        self.rows_pushed = self.rows_pushed.max(statement_row);
        if let (WriteRow::Item(item), Some(xid)) = (&row, Self::item_key(&row)) {
            if let Some(&at) = self.item_index.get(&xid) {
                // Upsert: what create-then-update would leave (the later row's values win);
                // ignore: the first row stays. (Create flushed first: needs_flush_before.)
                if self.mode == InsertMode::Upsert {
                    let earlier = &mut self.items[at];
                    earlier.extend(item.iter().map(|(k, v)| (k.clone(), v.clone())));
                }
                self.merged_rows += 1;
                return false;
            }
            self.item_index.insert(xid, self.items.len());
        }
        self.buffered_rows += 1;
        let mut group_size = 0;
        match row {
            WriteRow::Item(item) => {
                self.items.push(item);
                self.item_rows.push(statement_row);
            }
            WriteRow::RawTable { database, table } => {
                self.push_grouped(GroupKey::Database(database), json_entry(Json::Object(table)), None, None);
            }
            WriteRow::RawRow { database, table, row } => {
                let key = row.get("key").and_then(Json::as_str).map(|k| hash_of(("raw", &database, &table, k)));
                let entry = json_entry(Json::Object(row));
                group_size = self.push_grouped(GroupKey::RawTable(database, table), entry, key, None);
            }
            WriteRow::Datapoint { series, point } => {
                let timestamp = Some(point.timestamp);
                self.push_grouped(GroupKey::Series(series), |out| point.write_json(out), None, timestamp);
            }
            WriteRow::SequenceRow { sequence, row_number, values } => {
                let columns: Vec<String> = values.keys().cloned().collect();
                self.buffered_values += columns.len();
                let values: Vec<Json> = values.into_values().collect();
                self.push_grouped(
                    GroupKey::Sequence(sequence, columns),
                    json_entry(json!({ "rowNumber": row_number, "values": values })),
                    None,
                    Some(row_number),
                );
            }
        }
        match self.resource.write {
            // Each RAW table is its own request: flush when one is full, or when many tables
            // together hold more than memory should.
            WriteKind::RawRows => {
                group_size >= RAW_ROWS_PER_REQUEST
                    || self.buffered_rows >= RAW_ROWS_BUFFERED
                    || self.buffered_bytes >= RAW_BYTES_BUFFERED
            }
            WriteKind::Datapoints { .. } => {
                self.buffered_rows >= DATAPOINTS_PER_REQUEST || self.groups.len() >= SERIES_PER_REQUEST
            }
            WriteKind::SequenceRows => {
                self.buffered_rows >= SEQUENCE_ROWS_PER_REQUEST
                    || self.buffered_values + 400 > SEQUENCE_VALUES_PER_REQUEST
                    || self.groups.len() >= SEQUENCES_PER_REQUEST
            }
            _ => self.buffered_rows >= self.resource.rows_per_request(),
        }
    }

    /// Sends everything buffered and waits for every request in flight: when it returns Ok,
    /// CDF holds every row pushed so far (a barrier, e.g. between levels of an asset hierarchy).
    pub async fn flush(&mut self, session: &mut Session) -> Result<(), WriteError> {
        self.send_buffered(session).await?;
        self.wait_in_flight().await
    }

    /// Starts the requests of everything buffered, waiting only for a free slot or for a
    /// request in flight that carries one of the same keys; returns while they are in flight.
    /// A failure of any request (this one's or an earlier one's) is returned once every
    /// request in flight has finished.
    pub async fn send_buffered(&mut self, session: &mut Session) -> Result<(), WriteError> {
        let requests = self.take_requests();
        self.collect_finished();
        if self.failure.is_none() {
            match self.resource.write {
                WriteKind::RawDatabases | WriteKind::RawTables => {
                    // Few and small: sent one by one, after whatever is in flight.
                    self.wait_in_flight().await?;
                    let result = self.send_names(session, requests).await;
                    self.rows_written += self.merged_rows_taken(result.is_ok());
                    return result;
                }
                _ => {
                    for request in requests {
                        if !self.start(session, request).await {
                            break;
                        }
                    }
                }
            }
        }
        if self.failure.is_some() {
            return self.wait_in_flight().await;
        }
        crate::runtime::let_requests_out().await;
        Ok(())
    }

    /// Waits at most `limit` for the requests in flight and counts what they wrote; for a
    /// statement that is being aborted (its error is already on the way).
    pub async fn settle_within(&mut self, limit: std::time::Duration) {
        let _ = tokio::time::timeout(limit, async {
            while !self.running.is_empty() {
                self.wait_one().await;
            }
        })
        .await;
    }

    /// Waits for every request in flight; the first failure among them (or an earlier one not
    /// yet reported) is returned, counting all rows CDF accepted.
    pub async fn wait_in_flight(&mut self) -> Result<(), WriteError> {
        while !self.running.is_empty() {
            self.wait_one().await;
        }
        match self.failure.take() {
            Some((_, error, rows)) => {
                Err(WriteError { error, rows_written: self.rows_written, rows_in_failed_chunk: rows })
            }
            None => Ok(()),
        }
    }

    fn merged_rows_taken(&mut self, ok: bool) -> u64 {
        let merged = std::mem::take(&mut self.merged_rows);
        if ok {
            merged
        } else {
            0
        }
    }

    /// Starts one request once a slot is free and no request in flight holds one of its keys;
    /// false when a failure came first (the request is not sent).
    async fn start(&mut self, session: &mut Session, request: Request) -> bool {
        loop {
            if self.failure.is_some() {
                return false;
            }
            let blocked = self.running.iter().any(|r| r.keys.blocks(&request.keys));
            if !blocked && self.running.len() < self.concurrency.now {
                break;
            }
            self.wait_one().await;
        }
        // Fetched here once, so the request's own session (a clone) does not fetch another.
        if let Err(e) = session.ensure_token().await {
            self.failure = Some((self.next_seq, e, request.rows));
            return false;
        }
        let mut own = session.clone();
        own.throttled = 0;
        let (resource, mode) = (self.resource, self.mode);
        let seq = self.next_seq;
        self.next_seq += 1;
        let Request { keys, rows, kind } = request;
        let task = tokio::spawn(Request { keys: Keys::default(), rows, kind }.run(own, resource, mode));
        self.running.push(Running { seq, keys, task });
        self.peak_in_flight = self.peak_in_flight.max(self.running.len());
        true
    }

    /// Waits until one request in flight has finished and books its outcome.
    async fn wait_one(&mut self) {
        if self.running.is_empty() {
            return;
        }
        let (i, outcome) = std::future::poll_fn(|cx: &mut Context<'_>| {
            for (i, r) in self.running.iter_mut().enumerate() {
                if let Poll::Ready(out) = Pin::new(&mut r.task).poll(cx) {
                    return Poll::Ready((i, out));
                }
            }
            Poll::Pending
        })
        .await;
        let running = self.running.swap_remove(i);
        self.book(running.seq, outcome);
    }

    /// Books the requests that have finished, without waiting.
    fn collect_finished(&mut self) {
        let mut cx = Context::from_waker(std::task::Waker::noop());
        let mut i = 0;
        while i < self.running.len() {
            match Pin::new(&mut self.running[i].task).poll(&mut cx) {
                Poll::Ready(outcome) => {
                    let running = self.running.swap_remove(i);
                    self.book(running.seq, outcome);
                }
                Poll::Pending => i += 1,
            }
        }
    }

    fn book(&mut self, seq: u64, outcome: Result<Outcome, tokio::task::JoinError>) {
        let outcome = outcome.unwrap_or_else(|e| Outcome {
            written: 0,
            failure: Some((
                CdfError::Protocol { message: format!("a request to CDF was lost: {e}"), request_id: None },
                0,
            )),
            throttled: 0,
        });
        self.rows_written += outcome.written;
        self.throttled += outcome.throttled;
        self.concurrency.observe(seq, outcome.throttled > 0, self.next_seq);
        if let Some((error, rows)) = outcome.failure {
            // The earliest request's failure is the one reported, as serial sending would.
            if self.failure.as_ref().is_none_or(|(s, _, _)| seq < *s) {
                self.failure = Some((seq, error, rows));
            }
        }
    }

    /// Empties the buffer into requests, in input order.
    fn take_requests(&mut self) -> Vec<Request> {
        let resource = self.resource;
        let mut requests = Vec::new();
        let merged = std::mem::take(&mut self.merged_rows);
        self.item_index.clear();
        self.group_index.clear();
        self.buffered_rows = 0;
        self.buffered_bytes = 0;
        self.buffered_values = 0;
        let items = std::mem::take(&mut self.items);
        let item_rows = std::mem::take(&mut self.item_rows);
        let groups = std::mem::take(&mut self.groups);
        match resource.write {
            WriteKind::Items { max_items } => {
                let (mut items, mut rows) = (items, item_rows);
                while !items.is_empty() {
                    let rest = items.split_off(items.len().min(max_items));
                    let rest_rows = rows.split_off(rows.len().min(max_items));
                    let mut keys = Keys::default();
                    items.iter().for_each(|i| keys.item(i));
                    let merged = if rest.is_empty() { merged } else { 0 };
                    requests.push(Request {
                        keys,
                        rows: items.len(),
                        kind: RequestKind::Items { path: resource.api_path, items, rows, merged },
                    });
                    (items, rows) = (rest, rest_rows);
                }
            }
            WriteKind::File => {
                for item in items {
                    let mut keys = Keys::default();
                    keys.item(&item);
                    requests.push(Request { keys, rows: 1, kind: RequestKind::File { item } });
                }
            }
            WriteKind::RawDatabases => {
                self.merged_rows = merged;
                for chunk in items.chunks(RAW_NAMES_PER_REQUEST) {
                    let names: Vec<Json> = chunk.iter().map(|i| Json::Object(i.clone())).collect();
                    requests.push(Request {
                        keys: Keys::default(),
                        rows: names.len(),
                        kind: RequestKind::Post {
                            path: "raw/dbs".into(),
                            query: vec![],
                            body: serde_json::to_vec(&names).expect("JSON"),
                            idempotency: Idempotency::NotIdempotent,
                        },
                    });
                }
            }
            WriteKind::RawTables => {
                self.merged_rows = merged;
                for group in groups {
                    let GroupKey::Database(db) = group.key else { continue };
                    let path = format!("raw/dbs/{}/tables", encode_segment(&db));
                    let tables: Vec<Json> =
                        group.entries.iter().filter_map(|t| serde_json::from_slice(t).ok()).collect();
                    for chunk in tables.chunks(RAW_NAMES_PER_REQUEST) {
                        requests.push(Request {
                            keys: Keys::default(),
                            rows: chunk.len(),
                            kind: RequestKind::Post {
                                path: path.clone(),
                                query: vec![("ensureParent", "true".into())],
                                body: serde_json::to_vec(chunk).expect("JSON"),
                                idempotency: Idempotency::NotIdempotent,
                            },
                        });
                    }
                }
            }
            WriteKind::RawRows => {
                for group in groups {
                    let GroupKey::RawTable(db, table) = group.key else { continue };
                    let path = format!("raw/dbs/{}/tables/{}/rows", encode_segment(&db), encode_segment(&table));
                    let starts = (0..group.entries.len()).step_by(RAW_ROWS_PER_REQUEST);
                    for (start, keys) in starts.zip(group.row_keys.chunks(RAW_ROWS_PER_REQUEST)) {
                        let chunk = start..group.entries.len().min(start + RAW_ROWS_PER_REQUEST);
                        requests.push(Request {
                            keys: Keys { writes: keys.iter().copied().collect(), ..Keys::default() },
                            rows: chunk.len(),
                            kind: RequestKind::Post {
                                path: path.clone(),
                                query: vec![("ensureParent", "true".into())],
                                body: items_body(group.entries.slice(chunk)),
                                idempotency: Idempotency::Idempotent,
                            },
                        });
                    }
                }
            }
            WriteKind::Datapoints { .. } | WriteKind::SequenceRows => {
                let datapoints = matches!(resource.write, WriteKind::Datapoints { .. });
                let n = groups.iter().map(|g| g.entries.len()).sum();
                let mut keys = Keys::default();
                let entries: Vec<Vec<u8>> = groups
                    .into_iter()
                    .filter_map(|group| {
                        let (lo, hi) = group.range.unwrap_or((0, 0));
                        match group.key {
                            GroupKey::Series(series) => {
                                keys.ranges.insert(hash_of(("series", &series)), (lo, hi));
                                Some(object_with_array(series.to_json(), "datapoints", group.entries.iter()))
                            }
                            GroupKey::Sequence(sequence, columns) => {
                                // Rows of one sequence with other columns overlap too.
                                let range = keys.ranges.entry(hash_of(("sequence", &sequence))).or_insert((lo, hi));
                                *range = (range.0.min(lo), range.1.max(hi));
                                let mut item = sequence.to_json();
                                item.insert("columns".into(), json!(columns));
                                Some(object_with_array(item, "rows", group.entries.iter()))
                            }
                            _ => None,
                        }
                    })
                    .collect();
                if !entries.is_empty() {
                    requests.push(Request {
                        keys,
                        rows: n,
                        kind: RequestKind::Post {
                            path: if datapoints { "timeseries/data" } else { "sequences/data" }.into(),
                            query: vec![],
                            body: items_body(entries.iter().map(Vec::as_slice)),
                            idempotency: Idempotency::Idempotent,
                        },
                    });
                }
            }
        }
        requests
    }

    /// RAW databases and tables, one request after the other; existing ones are fine unless
    /// insert_mode is create.
    async fn send_names(&mut self, session: &mut Session, requests: Vec<Request>) -> Result<(), WriteError> {
        for request in requests {
            let RequestKind::Post { path, query, body, .. } = request.kind else { continue };
            let names: Vec<Json> = serde_json::from_slice(&body).expect("built above");
            self.create_names(session, path, names, &query).await?;
        }
        Ok(())
    }

    fn fail(&self, error: CdfError, rows: usize) -> WriteError {
        WriteError { error, rows_written: self.rows_written, rows_in_failed_chunk: rows }
    }

    /// Writes one item at once (RETURNING, files) and returns the object CDF holds afterwards:
    /// created, or updated (upsert), or `None` when skipped as existing (ignore).
    pub async fn write_returning(
        &mut self,
        session: &mut Session,
        item: Map<String, Json>,
    ) -> Result<Option<Map<String, Json>>, WriteError> {
        self.wait_in_flight().await?;
        match write_one(session, self.resource, self.mode, item).await {
            Ok(object) => {
                self.rows_written += 1;
                Ok(object)
            }
            Err((e, rows)) => Err(self.fail(e, rows)),
        }
    }

    /// Creates RAW databases or tables; existing ones are fine unless insert_mode is create.
    async fn create_names(
        &mut self,
        session: &mut Session,
        path: String,
        names: Vec<Json>,
        query: &[(&str, String)],
    ) -> Result<(), WriteError> {
        let n = names.len();
        let mut pending = names;
        for _round in 0..4 {
            if pending.is_empty() {
                return Ok(());
            }
            let body = json!({ "items": pending });
            match session.post_json(&path, query, &body, Idempotency::NotIdempotent).await {
                Ok(_) => {
                    session.log.note_rows_sent(pending.len());
                    self.rows_written += pending.len() as u64;
                    return Ok(());
                }
                Err(err) => {
                    let existing: HashSet<String> = match &err {
                        CdfError::Api { status: 400 | 409, duplicated, .. }
                            if self.mode != InsertMode::Create && !duplicated.is_empty() =>
                        {
                            duplicated
                                .iter()
                                .filter_map(|d| d.get("name").and_then(|x| x.as_str()).map(str::to_string))
                                .collect()
                        }
                        _ => return Err(self.fail(err, n)),
                    };
                    let before = pending.len();
                    pending.retain(|item| {
                        !item.get("name").and_then(|x| x.as_str()).is_some_and(|x| existing.contains(x))
                    });
                    if pending.len() == before {
                        return Err(self.fail(err, n));
                    }
                    session.log.note_handled();
                    // Existing databases and tables are what the row asked for: count them.
                    self.rows_written += (before - pending.len()) as u64;
                }
            }
        }
        Ok(())
    }
}

/// Writes one item (RETURNING, files): the object CDF holds afterwards, `None` when skipped as
/// existing (ignore); on failure the error and the rows of the failing request.
async fn write_one(
    session: &mut Session,
    resource: &'static Resource,
    mode: InsertMode,
    item: Map<String, Json>,
) -> Result<Option<Map<String, Json>>, (CdfError, usize)> {
    let first_object = |json: &Json| -> Option<Map<String, Json>> {
        let obj = json.get("items").and_then(|i| i.get(0)).unwrap_or(json);
        obj.as_object().cloned()
    };
    let path = resource.api_path;
    // Resent after a lost answer, a keyed upsert (overwrite=true for files) or ignore ends
    // the same; a create without external id could create twice.
    let idempotency = if mode != InsertMode::Create && item.contains_key("externalId") {
        Idempotency::Idempotent
    } else {
        Idempotency::NotIdempotent
    };
    let created = match resource.write {
        WriteKind::File => {
            let overwrite = (mode == InsertMode::Upsert).to_string();
            session.post_json("files", &[("overwrite", overwrite)], &Json::Object(item.clone()), idempotency).await
        }
        _ => {
            let body = json!({ "items": [Json::Object(item.clone())] });
            session.post_json(path, &[], &body, idempotency).await
        }
    };
    let response = match created {
        Ok(r) => r,
        Err(CdfError::Api { status: 409, .. }) if mode == InsertMode::Ignore => {
            session.log.note_handled();
            return Ok(None);
        }
        Err(CdfError::Api { status: 409, .. }) if mode == InsertMode::Upsert && item.contains_key("externalId") => {
            session.log.note_handled();
            let body = json!({ "items": [update_patch(resource, &item)] });
            match session.post_json(&format!("{path}/update"), &[], &body, Idempotency::Idempotent).await {
                Ok(r) => r,
                Err(e) => return Err((e, 1)),
            }
        }
        Err(e) => return Err((e, 1)),
    };
    session.log.note_rows_sent(1);
    let json = response.json().map_err(|e| (e, 0))?;
    Ok(first_object(&json))
}

/// Creates items; on 409 `duplicated` updates (upsert) or skips (ignore) the existing ones and
/// creates the rest. Ok: rows written; Err: rows written before the failure, the error, rows
/// of the failing request.
async fn create_items(
    session: &mut Session,
    resource: &'static Resource,
    mode: InsertMode,
    path: &str,
    mut chunk: Vec<PendingItem>,
    mut rows: Vec<u64>,
) -> Result<u64, (u64, CdfError, usize)> {
    let mut written = 0u64;
    // Existing objects are updated after the rest is created: an asset moved below a new
    // parent in the same request needs that parent to exist first.
    let mut existing = Vec::new();
    // A few rounds cover rows created concurrently by someone else between our requests.
    for _round in 0..4 {
        if chunk.is_empty() {
            break;
        }
        let body = ItemsBody { items: &chunk }.to_bytes();
        // A resent create is harmless when a duplicate answer leads to update or skip, which
        // needs every item to carry an external id.
        let all_keyed = chunk.iter().all(|i| i.contains_key("externalId"));
        let idempotency =
            if mode != InsertMode::Create && all_keyed { Idempotency::Idempotent } else { Idempotency::NotIdempotent };
        let err = match session.request(reqwest::Method::POST, path, &[], Some(body), idempotency).await {
            Ok(_) => {
                session.log.note_rows_sent(chunk.len());
                written += chunk.len() as u64;
                chunk.clear();
                break;
            }
            Err(e) => e,
        };
        let duplicated = match &err {
            CdfError::Api { status: 409, duplicated, .. } if mode != InsertMode::Create => {
                duplicated_external_ids(duplicated)
            }
            _ => {
                let err = name_instance_rows(name_statement_rows(err, &rows), path, &chunk, &rows);
                return Err((written, err, chunk.len()));
            }
        };
        let is_dup = |item: &PendingItem| {
            item.get("externalId").and_then(|x| x.as_str()).is_some_and(|x| duplicated.contains(x))
        };
        rows = chunk.iter().zip(rows).filter(|(item, _)| !is_dup(item)).map(|(_, r)| r).collect();
        let (dups, rest): (Vec<PendingItem>, Vec<PendingItem>) = chunk.into_iter().partition(is_dup);
        if dups.is_empty() {
            return Err((written, err, rest.len()));
        }
        session.log.note_handled();
        // Ignore skips the existing rows; upsert updates them.
        if mode == InsertMode::Upsert {
            existing.extend(dups);
        }
        chunk = rest;
    }
    if !chunk.is_empty() {
        return Err((
            written,
            CdfError::Protocol {
                message: "CDF kept reporting duplicates; giving up after 4 rounds".into(),
                request_id: None,
            },
            chunk.len(),
        ));
    }
    if !existing.is_empty() {
        let updates: Vec<Json> = existing.iter().map(|item| update_patch(resource, item)).collect();
        let n = updates.len();
        let body = json!({ "items": updates }).to_string().into_bytes();
        match session
            .request(reqwest::Method::POST, &format!("{path}/update"), &[], Some(body), Idempotency::Idempotent)
            .await
        {
            Ok(_) => {
                session.log.note_rows_sent(n);
                written += n as u64;
            }
            Err(e) => return Err((written, e, n)),
        }
    }
    Ok(written)
}

/// CDF names a bad item by its place in the request (`items[499]`); the user knows rows of the
/// statement: `items[499]` becomes `row 1499 (items[499])`, `rows[i]` being item i's row.
fn name_statement_rows(error: CdfError, rows: &[u64]) -> CdfError {
    let CdfError::Api { status, message, missing, duplicated, request_id } = error else {
        return error;
    };
    let mut out = String::with_capacity(message.len() + 16);
    let mut rest = message.as_str();
    while let Some(at) = rest.find("items[") {
        out.push_str(&rest[..at]);
        let after = &rest[at + "items[".len()..];
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        let index: Option<usize> = after[..digits].parse().ok().filter(|_| after[digits..].starts_with(']'));
        match index.and_then(|i| rows.get(i)) {
            Some(row) => {
                out.push_str(&format!("row {row} (items[{}])", &after[..digits]));
                rest = &after[digits + 1..];
            }
            None => {
                out.push_str("items[");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    CdfError::Api { status, message: out, missing, duplicated, request_id }
}

/// DMS names a rejected instance as `'space:externalId'` rather than by position: the
/// statement's row of the first item so named is added (`... (row 17)`).
fn name_instance_rows(error: CdfError, path: &str, chunk: &[PendingItem], rows: &[u64]) -> CdfError {
    let CdfError::Api { status, message, missing, duplicated, request_id } = error else {
        return error;
    };
    let text = |item: &PendingItem, k: &str| item.get(k).and_then(Json::as_str).unwrap_or_default().to_string();
    let named = (path == "models/instances")
        .then(|| {
            chunk
                .iter()
                .zip(rows)
                .find(|(i, _)| message.contains(&format!("'{}:{}'", text(i, "space"), text(i, "externalId"))))
        })
        .flatten();
    let message = match named {
        Some((_, row)) => format!("{message} (row {row})"),
        None => message,
    };
    CdfError::Api { status, message, missing, duplicated, request_id }
}

fn duplicated_external_ids(duplicated: &[Json]) -> HashSet<String> {
    duplicated.iter().filter_map(|d| d.get("externalId").and_then(|x| x.as_str()).map(str::to_string)).collect()
}

/// The `/update` item an upsert sends for an existing object: `set` for every non-NULL column
/// of the row. NULL columns keep their value in CDF: PostgreSQL does not tell an FDW which
/// columns an INSERT or COPY listed, so a NULL may just be a column the source does not have.
/// A field the row carries as JSON null (`null_values 'clear'`) is cleared.
pub fn update_patch(resource: &Resource, item: &Map<String, Json>) -> Json {
    let mut update = Map::new();
    for (field, value) in item {
        if field == "externalId" || resource.create_only_fields().any(|f| f == field) {
            continue;
        }
        let op = match value {
            Json::Null => match resource.column_of_field(field) {
                Some(column) => cdf_tables::clear_op(column),
                None => continue,
            },
            _ => json!({ "set": value }),
        };
        update.insert(field.clone(), op);
    }
    json!({ "externalId": item.get("externalId"), "update": update })
}

/// `{"items":[...]}` from already serialized items.
fn items_body<'a>(items: impl Iterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut body = Vec::with_capacity(1 << 16);
    body.extend_from_slice(b"{\"items\":");
    push_array(&mut body, items);
    body.push(b'}');
    body
}

/// Appends `[e1,e2,...]` of already serialized elements.
fn push_array<'a>(out: &mut Vec<u8>, elements: impl Iterator<Item = &'a [u8]>) {
    out.push(b'[');
    for (i, element) in elements.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(element);
    }
    out.push(b']');
}

/// A JSON value's text as a grouped entry.
fn json_entry(value: Json) -> impl FnOnce(&mut Vec<u8>) {
    move |out| serde_json::to_writer(out, &value).expect("serializing JSON cannot fail")
}

/// Serializes `object` with an extra array field whose elements are already serialized.
fn object_with_array<'a>(object: Map<String, Json>, name: &str, elements: impl Iterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut out = serde_json::to_vec(&object).expect("serializing JSON cannot fail");
    out.pop(); // the closing brace
    if out.len() > 1 {
        out.push(b',');
    }
    serde_json::to_writer(&mut out, name).expect("serializing JSON cannot fail");
    out.push(b':');
    push_array(&mut out, elements);
    out.push(b'}');
    out
}

/// Buffers the changes of an UPDATE or DELETE and sends them in chunks: deletes first, then
/// updates, then rows written again (natural-upsert tables), so a moved key ends up right.
pub struct ChangeWriter {
    resource: &'static Resource,
    /// Set for an UPDATE of a table CDF overwrites by key: nothing is sent until the scan has
    /// ended (so it never reads the statement's own writes), then all rows are written, then
    /// the old keys that no rewritten row took over are deleted.
    deferred: Option<Deferred>,
    item_updates: Vec<Json>,
    item_deletes: Vec<Json>,
    datapoint_deletes: Vec<Json>,
    keyed_deletes: Vec<(GroupKey, Vec<Json>)>,
    keyed_index: HashMap<GroupKey, usize>,
    raw_database_deletes: Vec<Json>,
    writes: TableWriter,
    buffered: usize,
    /// Deletes of unknown ids fail instead of being ignored (insert_mode 'delete' with
    /// delete_unknown 'error').
    strict_deletes: bool,
    /// Rows whose change CDF accepted.
    pub rows_changed: u64,
}

/// The key of a row of a table CDF overwrites by key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum RowKey {
    Datapoint(SeriesRef, i64),
    SequenceRow(SeriesRef, i64),
    RawRow(String, String, String),
}

impl RowKey {
    fn of_write(row: &WriteRow) -> Option<RowKey> {
        match row {
            WriteRow::Datapoint { series, point } => Some(RowKey::Datapoint(series.clone(), point.timestamp)),
            WriteRow::SequenceRow { sequence, row_number, .. } => {
                Some(RowKey::SequenceRow(sequence.clone(), *row_number))
            }
            WriteRow::RawRow { database, table, row } => {
                Some(RowKey::RawRow(database.clone(), table.clone(), row.get("key")?.as_str()?.to_string()))
            }
            WriteRow::Item(_) | WriteRow::RawTable { .. } => None,
        }
    }

    fn of_delete(change: &Change) -> Option<RowKey> {
        match change {
            Change::DatapointDelete { series, timestamp_ms } => Some(RowKey::Datapoint(series.clone(), *timestamp_ms)),
            Change::SequenceRowDelete { sequence, row_number } => {
                Some(RowKey::SequenceRow(sequence.clone(), *row_number))
            }
            Change::RawRowDelete { database, table, key } => {
                Some(RowKey::RawRow(database.clone(), table.clone(), key.clone()))
            }
            _ => None,
        }
    }

    fn into_delete(self) -> Change {
        match self {
            RowKey::Datapoint(series, timestamp_ms) => Change::DatapointDelete { series, timestamp_ms },
            RowKey::SequenceRow(sequence, row_number) => Change::SequenceRowDelete { sequence, row_number },
            RowKey::RawRow(database, table, key) => Change::RawRowDelete { database, table, key },
        }
    }
}

/// What a deferred UPDATE holds until the end of its scan.
#[derive(Default)]
struct Deferred {
    /// Full write requests, kept serialized, in input order.
    sealed: Vec<TableWriter>,
    /// Keys the UPDATE moved rows away from.
    old_keys: Vec<RowKey>,
    /// Keys the UPDATE writes: an old key among them is overwritten, not deleted.
    new_keys: HashSet<RowKey>,
}

impl ChangeWriter {
    pub fn new(resource: &'static Resource) -> ChangeWriter {
        ChangeWriter {
            resource,
            deferred: None,
            item_updates: Vec::new(),
            item_deletes: Vec::new(),
            datapoint_deletes: Vec::new(),
            keyed_deletes: Vec::new(),
            keyed_index: HashMap::new(),
            raw_database_deletes: Vec::new(),
            writes: TableWriter::new(resource, InsertMode::Upsert),
            buffered: 0,
            strict_deletes: false,
            rows_changed: 0,
        }
    }

    /// Makes a delete of an id CDF does not have an error (400 naming it) instead of a no-op.
    pub fn strict_deletes(&mut self) {
        self.strict_deletes = true;
    }

    /// Holds every change until `flush` at the end of the statement (see `deferred`).
    pub fn defer_until_end(&mut self) {
        self.deferred = Some(Deferred::default());
    }

    pub fn buffered(&self) -> usize {
        let deferred = self
            .deferred
            .as_ref()
            .map_or(0, |d| d.old_keys.len() + d.sealed.iter().map(TableWriter::buffered).sum::<usize>());
        self.buffered + self.writes.buffered() + deferred
    }

    fn push_keyed(&mut self, key: GroupKey, entry: Json) {
        match self.keyed_index.get(&key) {
            Some(&i) => self.keyed_deletes[i].1.push(entry),
            None => {
                self.keyed_index.insert(key.clone(), self.keyed_deletes.len());
                self.keyed_deletes.push((key, vec![entry]));
            }
        }
    }

    /// Adds one change; true when a request is full and the caller must flush.
    pub fn push(&mut self, change: Change) -> bool {
        let ChangeWriter { deferred, writes, resource, .. } = self;
        if let Some(deferred) = deferred {
            if let Change::Write(row) = change {
                deferred.new_keys.extend(RowKey::of_write(&row));
                if writes.push(row) {
                    let full = std::mem::replace(writes, TableWriter::new(resource, InsertMode::Upsert));
                    deferred.sealed.push(full);
                }
                return false;
            }
            if let Some(key) = RowKey::of_delete(&change) {
                deferred.old_keys.push(key);
                return false;
            }
        }
        if let Change::Write(row) = change {
            return self.writes.push(row);
        }
        self.buffered += 1;
        match change {
            Change::ItemUpdate(item) => self.item_updates.push(item),
            Change::ItemDelete(item) => self.item_deletes.push(item),
            Change::DatapointDelete { series, timestamp_ms } => {
                let mut item = series.to_json();
                item.insert("inclusiveBegin".into(), json!(timestamp_ms));
                item.insert("exclusiveEnd".into(), json!(timestamp_ms + 1));
                self.datapoint_deletes.push(Json::Object(item));
            }
            Change::RawRowDelete { database, table, key } => {
                self.push_keyed(GroupKey::RawTable(database, table), json!({ "key": key }))
            }
            Change::SequenceRowDelete { sequence, row_number } => {
                self.push_keyed(GroupKey::Sequence(sequence, Vec::new()), json!(row_number))
            }
            Change::RawTableDelete { database, name } => {
                self.push_keyed(GroupKey::Database(database), json!({ "name": name }))
            }
            Change::RawDatabaseDelete { name } => self.raw_database_deletes.push(json!({ "name": name })),
            Change::Write(_) => unreachable!("handled above"),
        }
        self.buffered >= CHANGES_PER_REQUEST
    }

    fn fail(&self, error: CdfError, rows: usize) -> WriteError {
        WriteError { error, rows_written: self.rows_changed, rows_in_failed_chunk: rows }
    }

    async fn post_chunks(
        &mut self,
        session: &mut Session,
        path: &str,
        items: Vec<Json>,
        extra: &Json,
        chunk_size: usize,
    ) -> Result<(), WriteError> {
        for chunk in items.chunks(chunk_size) {
            let mut body = json!({ "items": chunk });
            if let (Json::Object(b), Json::Object(e)) = (&mut body, extra) {
                b.extend(e.clone());
            }
            match session.post_json(path, &[], &body, Idempotency::Idempotent).await {
                Ok(_) => {
                    session.log.note_rows_sent(chunk.len());
                    self.rows_changed += chunk.len() as u64
                }
                Err(e) => return Err(self.fail(e, chunk.len())),
            }
        }
        Ok(())
    }

    /// Sends everything buffered; for a deferred UPDATE, everything it held (writes first).
    pub async fn flush(&mut self, session: &mut Session) -> Result<(), WriteError> {
        let Some(deferred) = self.deferred.take() else {
            return self.flush_buffers(session).await;
        };
        for mut writer in deferred.sealed {
            self.send_writes(session, &mut writer).await?;
        }
        let mut writes = std::mem::replace(&mut self.writes, TableWriter::new(self.resource, InsertMode::Upsert));
        self.send_writes(session, &mut writes).await?;
        for key in deferred.old_keys {
            if !deferred.new_keys.contains(&key) && self.push(key.into_delete()) {
                self.flush_buffers(session).await?;
            }
        }
        self.flush_buffers(session).await
    }

    /// Flushes `writer`, counting what it wrote as changed rows (errors report the total).
    async fn send_writes(&mut self, session: &mut Session, writer: &mut TableWriter) -> Result<(), WriteError> {
        let before = writer.rows_written;
        let result = writer.flush(session).await;
        self.rows_changed += writer.rows_written - before;
        result.map_err(|mut e| {
            e.rows_written = self.rows_changed;
            e
        })
    }

    async fn flush_buffers(&mut self, session: &mut Session) -> Result<(), WriteError> {
        let resource = self.resource;
        let ignore_unknown = match resource.delete {
            DeleteKind::Items { ignore_unknown_ids: true, .. } if !self.strict_deletes => {
                json!({ "ignoreUnknownIds": true })
            }
            _ => json!({}),
        };
        let deletes = std::mem::take(&mut self.item_deletes);
        self.post_chunks(
            session,
            &format!("{}/delete", resource.api_path),
            deletes,
            &ignore_unknown,
            CHANGES_PER_REQUEST,
        )
        .await?;
        let deletes = std::mem::take(&mut self.datapoint_deletes);
        self.post_chunks(session, "timeseries/data/delete", deletes, &json!({}), CHANGES_PER_REQUEST).await?;
        for (key, entries) in std::mem::take(&mut self.keyed_deletes) {
            match key {
                GroupKey::RawTable(db, table) => {
                    let path = format!("raw/dbs/{}/tables/{}/rows/delete", encode_segment(&db), encode_segment(&table));
                    self.post_chunks(session, &path, entries, &json!({}), RAW_ROWS_PER_REQUEST).await?;
                }
                GroupKey::Database(db) => {
                    let path = format!("raw/dbs/{}/tables/delete", encode_segment(&db));
                    self.post_chunks(session, &path, entries, &json!({}), CHANGES_PER_REQUEST).await?;
                }
                GroupKey::Sequence(sequence, _) => {
                    let n = entries.len();
                    let mut item = sequence.to_json();
                    item.insert("rows".into(), Json::Array(entries));
                    let body = json!({ "items": [item] });
                    match session.post_json("sequences/data/delete", &[], &body, Idempotency::Idempotent).await {
                        Ok(_) => {
                            session.log.note_rows_sent(n);
                            self.rows_changed += n as u64
                        }
                        Err(e) => return Err(self.fail(e, n)),
                    }
                }
                GroupKey::Series(_) => {}
            }
        }
        self.keyed_index.clear();
        let deletes = std::mem::take(&mut self.raw_database_deletes);
        self.post_chunks(session, "raw/dbs/delete", deletes, &json!({ "recursive": true }), CHANGES_PER_REQUEST)
            .await?;
        let updates = std::mem::take(&mut self.item_updates);
        self.post_chunks(session, &format!("{}/update", resource.api_path), updates, &json!({}), CHANGES_PER_REQUEST)
            .await?;
        self.buffered = 0;
        let mut writes = std::mem::replace(&mut self.writes, TableWriter::new(self.resource, InsertMode::Upsert));
        let result = self.send_writes(session, &mut writes).await;
        self.writes = writes;
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cdf_tables::{resource, DatapointRow, PointValue};

    #[test]
    fn upsert_patch_sets_values_but_not_identity_or_immutables() {
        let item = json!({"externalId": "a", "id": 3, "name": "A", "isString": false, "metadata": {"k": "v"}});
        let patch = update_patch(resource("time_series").unwrap(), item.as_object().unwrap());
        assert_eq!(
            patch,
            json!({"externalId": "a", "update": {"name": {"set": "A"}, "metadata": {"set": {"k": "v"}}}})
        );
    }

    #[test]
    fn serialized_entries_assemble_into_valid_bodies() {
        let mut entries = Entries::default();
        for entry in [&b"{\"timestamp\":1,\"value\":2.5}"[..], b"{\"timestamp\":2,\"value\":3}", b"{}"] {
            entries.push_with(|out| out.extend_from_slice(entry));
        }
        assert_eq!(entries.slice(1..3).collect::<Vec<_>>(), [&b"{\"timestamp\":2,\"value\":3}"[..], b"{}"]);
        let item = object_with_array(
            json!({"externalId": "x"}).as_object().unwrap().clone(),
            "datapoints",
            entries.slice(0..2),
        );
        let body: Json = serde_json::from_slice(&items_body(std::iter::once(item.as_slice()))).unwrap();
        assert_eq!(
            body,
            json!({"items": [{"externalId": "x", "datapoints": [{"timestamp": 1, "value": 2.5}, {"timestamp": 2, "value": 3}]}]})
        );
        let empty = object_with_array(Map::new(), "rows", std::iter::empty());
        assert_eq!(serde_json::from_slice::<Json>(&empty).unwrap(), json!({"rows": []}));
    }

    #[test]
    fn datapoint_buffers_fill_at_cdf_limits() {
        let r = resource("double_datapoints").unwrap();
        let mut w = TableWriter::new(r, InsertMode::Upsert);
        let point = |i: i64| WriteRow::Datapoint {
            series: SeriesRef::ExternalId(format!("s{}", i % 3)),
            point: DatapointRow { timestamp: i, value: PointValue::Double(1.0), status: None },
        };
        for i in 0..(DATAPOINTS_PER_REQUEST as i64 - 1) {
            assert!(!w.push(point(i)));
        }
        assert!(w.push(point(-1)), "the 100,000th point fills the request");
        let mut w = TableWriter::new(r, InsertMode::Upsert);
        for i in 0..(SERIES_PER_REQUEST as i64 - 1) {
            assert!(!w.push(WriteRow::Datapoint {
                series: SeriesRef::Id(i),
                point: DatapointRow { timestamp: 0, value: PointValue::Double(1.0), status: None },
            }));
        }
        assert!(w.push(WriteRow::Datapoint {
            series: SeriesRef::Id(-1),
            point: DatapointRow { timestamp: 0, value: PointValue::Double(1.0), status: None },
        }));
    }

    #[test]
    fn raw_buffers_fill_at_a_byte_limit() {
        let mut w = TableWriter::new(resource("raw_rows").unwrap(), InsertMode::Upsert);
        let row = |i: usize| WriteRow::RawRow {
            database: "d".into(),
            table: "t".into(),
            row: json!({"key": format!("k{i}"), "columns": {"blob": "x".repeat(1 << 20)}}).as_object().unwrap().clone(),
        };
        for i in 0..7 {
            assert!(!w.push(row(i)), "row {i}");
        }
        assert!(w.push(row(7)), "8 rows of 1 MB fill the buffer");
    }

    #[test]
    fn a_repeated_external_id_merges_like_separate_requests() {
        let assets = resource("assets").unwrap();
        let item = |v: Json| WriteRow::Item(v.as_object().unwrap().clone());
        let mut upsert = TableWriter::new(assets, InsertMode::Upsert);
        upsert.push(item(json!({"externalId": "a", "name": "first", "description": "kept"})));
        upsert.push(item(json!({"externalId": "b", "name": "other"})));
        upsert.push(item(json!({"externalId": "a", "name": "second"})));
        assert_eq!(upsert.buffered(), 2);
        assert_eq!(
            upsert.items[0],
            *json!({"externalId": "a", "name": "second", "description": "kept"}).as_object().unwrap()
        );
        let mut ignore = TableWriter::new(assets, InsertMode::Ignore);
        ignore.push(item(json!({"externalId": "a", "name": "first"})));
        ignore.push(item(json!({"externalId": "a", "name": "second"})));
        assert_eq!(ignore.items, vec![json!({"externalId": "a", "name": "first"}).as_object().unwrap().clone()]);
        let mut create = TableWriter::new(assets, InsertMode::Create);
        let again = item(json!({"externalId": "a", "name": "second"}));
        create.push(item(json!({"externalId": "a", "name": "first"})));
        assert!(create.needs_flush_before(&again));
        assert!(!create.needs_flush_before(&item(json!({"externalId": "c", "name": "x"}))));
        assert!(!upsert.needs_flush_before(&again));
        // Data-modeling instances: one external id in two spaces is two items; the same node
        // named again goes in a later request (DMS patches each item's properties).
        let node = |space: &str, name: &str| {
            item(json!({"instanceType": "node", "space": space, "externalId": "n",
                        "sources": [{"source": {"type": "view"}, "properties": {"name": name}}]}))
        };
        let mut nodes = TableWriter::new(&cdf_tables::catalogue::INSTANCES, InsertMode::Upsert);
        nodes.push(node("a", "first"));
        assert!(!nodes.needs_flush_before(&node("b", "other space")));
        nodes.push(node("b", "other space"));
        assert_eq!(nodes.items.len(), 2);
        assert!(nodes.needs_flush_before(&node("a", "again")));
    }

    #[test]
    fn cdf_item_indexes_become_statement_rows() {
        let api = |message: &str| CdfError::Api {
            status: 400,
            message: message.into(),
            missing: vec![],
            duplicated: vec![],
            request_id: None,
        };
        let named = name_statement_rows(api("items[1].name: too long; items[7]: bad; items[x]"), &[1001, 1003]);
        assert_eq!(named, api("row 1003 (items[1]).name: too long; items[7]: bad; items[x]"));
    }
}
