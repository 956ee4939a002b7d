//! Statistics a DBA can read: what every request to CDF cost, summed per database, server,
//! foreign table and endpoint across all backends since the last `cdf.stats_reset()`
//! (the `cdf.stats` view), and per plan node for EXPLAIN ANALYZE.
//!
//! Each `backend::run` drains its session's request records (`cdf_client::metrics`) into the
//! node's usage and into this backend's pending sums, also when the run unwinds (an error, a
//! cancel): nothing there calls PostgreSQL. The pending sums move into shared memory after each
//! run, at the end of every transaction (commit or abort) and before the view is read.
//!
//! Shared memory is reserved at server start when the library is in `shared_preload_libraries`.
//! Without it, 17+ keeps the same table in a DSM registry segment; 14–16 keep the sums per
//! backend, and the view says so in a NOTICE.

use std::cell::{Cell, RefCell};
use std::ffi::CString;

use cdf_client::{Counters, RequestRecord};
use pgrx::pg_sys;
use pgrx::prelude::*;
use pgrx::{pg_shmem_init, PGRXSharedMemory, PgLwLock};

/// Entries (database, server, table, endpoint) shared memory holds; requests of further ones
/// are summed in one overflow entry (endpoint `(other)`, no server or table).
const MAX_ENTRIES: usize = 2000;
/// Endpoint templates are short (`POST /raw/dbs/{db}/tables/{table}/rows/delete` is 45 bytes).
const ENDPOINT_BYTES: usize = 64;
const OVERFLOW_ENDPOINT: &str = "(other)";

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    database: u32,
    server: u32,
    table: u32,
    endpoint: String,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct Entry {
    database: u32,
    server: u32,
    table: u32,
    endpoint_len: u8,
    endpoint: [u8; ENDPOINT_BYTES],
    counters: Counters,
}

impl Entry {
    const EMPTY: Entry = Entry {
        database: 0,
        server: 0,
        table: 0,
        endpoint_len: 0,
        endpoint: [0; ENDPOINT_BYTES],
        counters: Counters::ZERO,
    };

    fn endpoint(&self) -> &str {
        std::str::from_utf8(&self.endpoint[..self.endpoint_len as usize]).unwrap_or("?")
    }

    fn is(&self, key: &Key) -> bool {
        self.database == key.database
            && self.server == key.server
            && self.table == key.table
            && self.endpoint() == key.endpoint
    }

    fn new(key: &Key) -> Entry {
        let mut e = Entry { database: key.database, server: key.server, table: key.table, ..Entry::EMPTY };
        // Templates are ASCII; cut on a char boundary anyway.
        let mut n = key.endpoint.len().min(ENDPOINT_BYTES);
        while !key.endpoint.is_char_boundary(n) {
            n -= 1;
        }
        e.endpoint[..n].copy_from_slice(&key.endpoint.as_bytes()[..n]);
        e.endpoint_len = n as u8;
        e
    }
}

/// The statistics of the whole cluster (or, without preload, of one backend).
#[repr(C)]
#[derive(Clone, Copy)]
struct Table {
    len: usize,
    /// When the sums started (`TimestampTz`; 0 until the first request or reset).
    since: i64,
    entries: [Entry; MAX_ENTRIES],
}

unsafe impl PGRXSharedMemory for Table {}

impl Default for Table {
    fn default() -> Table {
        Table { len: 0, since: 0, entries: [Entry::EMPTY; MAX_ENTRIES] }
    }
}

impl Table {
    fn add(&mut self, key: &Key, counters: &Counters) {
        if self.since == 0 {
            self.since = unsafe { pg_sys::GetCurrentTimestamp() };
        }
        let used = &mut self.entries[..self.len];
        if let Some(e) = used.iter_mut().find(|e| e.is(key)) {
            e.counters.merge(counters);
            return;
        }
        let overflow = Key { database: 0, server: 0, table: 0, endpoint: OVERFLOW_ENDPOINT.into() };
        // The last slot is kept for the overflow entry.
        if self.len + 1 < MAX_ENTRIES || (self.len + 1 == MAX_ENTRIES && key == &overflow) {
            self.entries[self.len] = Entry::new(key);
            self.entries[self.len].counters.merge(counters);
            self.len += 1;
        } else if key != &overflow {
            self.add(&overflow, counters);
        }
    }

    /// Moves the entries of dropped foreign tables of `database` into their server's entry for
    /// the same endpoint (table 0) and removes those of dropped servers.
    fn fold_dropped(&mut self, database: u32, servers: &[u32], tables: &[u32]) {
        let old = self.entries[..self.len].to_vec();
        self.len = 0;
        let ours = |e: &Entry| e.database == database;
        let mut folded = Vec::new();
        for e in old {
            if ours(&e) && servers.contains(&e.server) {
                continue;
            }
            if ours(&e) && tables.contains(&e.table) {
                folded.push(e);
            } else {
                self.entries[self.len] = e;
                self.len += 1;
            }
        }
        // After the kept entries, so a server's existing entry takes the counts.
        for e in folded {
            let key = Key { database, server: e.server, table: 0, endpoint: e.endpoint().to_string() };
            self.add(&key, &e.counters);
        }
    }

    fn reset(&mut self) {
        self.len = 0;
        self.since = unsafe { pg_sys::GetCurrentTimestamp() };
    }
}

static SHARED: PgLwLock<Table> = unsafe { PgLwLock::new(c"cdf_fdw_stats") };

/// Without preload, on 17 and later: the statistics in a named dynamic shared memory segment
/// (the DSM registry), created by the first backend that needs it, with a lock of its own.
#[repr(C)]
struct Segment {
    lock: pg_sys::LWLock,
    tranche: std::ffi::c_int,
    table: Table,
}

const TRANCHE: &std::ffi::CStr = c"cdf_fdw_stats";

/// Initialises a new segment (called once per cluster, under the registry's lock).
#[pg_guard]
unsafe extern "C-unwind" fn init_segment(ptr: *mut std::ffi::c_void) {
    let segment = ptr as *mut Segment;
    // All zeros is an empty table.
    std::ptr::write_bytes(&raw mut (*segment).table, 0, 1);
    (*segment).tranche = pg_sys::LWLockNewTrancheId();
    pg_sys::LWLockInitialize(&raw mut (*segment).lock, (*segment).tranche);
}

/// Where this backend keeps the statistics.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Store {
    /// Preloaded: shared memory reserved at server start.
    Preloaded,
    /// 17+ without preload: a DSM registry segment, shared all the same.
    Segment(*mut Segment),
    /// 14–16 without preload: this backend only.
    Backend,
}

thread_local! {
    /// Shared memory was reserved (the library was preloaded).
    static SHARED_READY: Cell<bool> = const { Cell::new(false) };
    static STORE: Cell<Option<Store>> = const { Cell::new(None) };
    /// Sums of this backend not yet moved to shared memory.
    static PENDING: RefCell<Vec<(Key, Counters)>> = const { RefCell::new(Vec::new()) };
    /// Without preload: this backend's statistics.
    static LOCAL: RefCell<Option<Box<Table>>> = const { RefCell::new(None) };
    static XACT_CALLBACK: Cell<bool> = const { Cell::new(false) };
}

/// Reserves the shared statistics when the library is being preloaded (`_PG_init`).
#[allow(unexpected_cfgs)] // pg_shmem_init! tests a pg13 feature this crate does not have
pub fn init() {
    if unsafe { pg_sys::process_shared_preload_libraries_in_progress } {
        pg_shmem_init!(SHARED);
        SHARED_READY.set(true);
    }
}

pub fn shared() -> bool {
    SHARED_READY.get()
}

/// The store of this backend, found (or the segment attached) on first use. Called on normal
/// paths first (`prepare`), so an abort callback never attaches the segment.
fn store() -> Store {
    if let Some(s) = STORE.get() {
        return s;
    }
    let store = if shared() {
        Store::Preloaded
    } else {
        let size = std::mem::size_of::<Segment>();
        match unsafe { crate::compat::named_dsm_segment(TRANCHE, size, init_segment) } {
            Some(ptr) => {
                let segment = ptr as *mut Segment;
                // Each backend names the segment's tranche (for pg_stat_activity's wait events).
                unsafe { pg_sys::LWLockRegisterTranche((*segment).tranche, TRANCHE.as_ptr()) };
                Store::Segment(segment)
            }
            None => Store::Backend,
        }
    };
    STORE.set(Some(store));
    store
}

/// Runs `op` with the segment's lock held in `mode`.
unsafe fn locked<T>(segment: *mut Segment, mode: pg_sys::LWLockMode::Type, op: impl FnOnce(&mut Table) -> T) -> T {
    pg_sys::LWLockAcquire(&raw mut (*segment).lock, mode);
    // Nothing in `op` raises an error; were it to, aborting the transaction releases the lock.
    let out = op(&mut (*segment).table);
    pg_sys::LWLockRelease(&raw mut (*segment).lock);
    out
}

/// What the requests of one plan node cost, for EXPLAIN ANALYZE.
#[derive(Debug, Clone, Default)]
pub struct NodeUsage {
    pub total: Counters,
    /// Requests per endpoint, in order of first use.
    pub endpoints: Vec<(String, u64)>,
}

impl NodeUsage {
    /// Adds another node's usage (both sides of a join scan are one plan node).
    pub fn merge(&mut self, other: &NodeUsage) {
        self.total.merge(&other.total);
        for (endpoint, n) in &other.endpoints {
            self.count_endpoint(endpoint, *n);
        }
    }

    fn add(&mut self, r: &RequestRecord) {
        self.total.add(r);
        self.count_endpoint(&r.endpoint, 1);
    }

    fn count_endpoint(&mut self, endpoint: &str, n: u64) {
        match self.endpoints.iter_mut().find(|(e, _)| e == endpoint) {
            Some((_, m)) => *m += n,
            None => self.endpoints.push((endpoint.to_string(), n)),
        }
    }
}

/// Files the records of one run made for a foreign table of a server: into its node's usage (token fetches stay out:
/// whether one is due depends on the backend's past, not on the statement) and into the
/// pending sums. Pure Rust, safe while unwinding.
pub fn collect(server: pg_sys::Oid, table: pg_sys::Oid, usage: &RefCell<NodeUsage>, records: Vec<RequestRecord>) {
    if records.is_empty() {
        return;
    }
    let database = unsafe { pg_sys::MyDatabaseId }.to_u32();
    let mut usage = usage.borrow_mut();
    PENDING.with_borrow_mut(|pending| {
        for r in &records {
            if r.endpoint != cdf_client::metrics::TOKEN_ENDPOINT {
                usage.add(r);
            }
            let key = Key { database, server: server.to_u32(), table: table.to_u32(), endpoint: r.endpoint.clone() };
            match pending.iter_mut().find(|(k, _)| *k == key) {
                Some((_, c)) => c.add(r),
                None => {
                    let mut c = Counters::ZERO;
                    c.add(r);
                    pending.push((key, c));
                }
            }
        }
    });
}

/// Before a run: makes sure that sums collected while it unwinds are moved at the end of the
/// transaction (registering there is not possible: it allocates).
pub fn prepare() {
    store();
    if !XACT_CALLBACK.get() {
        unsafe { pg_sys::RegisterXactCallback(Some(on_transaction_end), std::ptr::null_mut()) };
        XACT_CALLBACK.set(true);
    }
}

/// Moves the pending sums into the shared (or this backend's) statistics.
pub fn flush() {
    let pending = PENDING.with_borrow_mut(std::mem::take);
    if pending.is_empty() {
        return;
    }
    with_table(|t| {
        for (key, counters) in &pending {
            t.add(key, counters);
        }
    });
}

/// Runs `op` on the statistics: shared memory under its exclusive lock, or this backend's own.
fn with_table<T>(op: impl FnOnce(&mut Table) -> T) -> T {
    match store() {
        Store::Preloaded => op(&mut SHARED.exclusive()),
        Store::Segment(s) => unsafe { locked(s, pg_sys::LWLockMode::LW_EXCLUSIVE, op) },
        Store::Backend => LOCAL.with_borrow_mut(|local| op(local.get_or_insert_with(Box::default))),
    }
}

/// The start of the sums and the entries in use, copied (under the shared lock).
fn snapshot() -> (i64, Vec<Entry>) {
    let copy = |t: &Table| (t.since, t.entries[..t.len].to_vec());
    match store() {
        Store::Preloaded => copy(&SHARED.share()),
        Store::Segment(s) => unsafe { locked(s, pg_sys::LWLockMode::LW_SHARED, |t| copy(t)) },
        Store::Backend => LOCAL.with_borrow(|local| local.as_deref().map(copy).unwrap_or_default()),
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn on_transaction_end(event: pg_sys::XactEvent::Type, _arg: *mut std::ffi::c_void) {
    if matches!(
        event,
        pg_sys::XactEvent::XACT_EVENT_COMMIT
            | pg_sys::XactEvent::XACT_EVENT_ABORT
            | pg_sys::XactEvent::XACT_EVENT_PREPARE
            | pg_sys::XactEvent::XACT_EVENT_PARALLEL_COMMIT
            | pg_sys::XactEvent::XACT_EVENT_PARALLEL_ABORT
    ) {
        flush();
    }
}

/// The role may see the statistics of this server or table: a member of pg_read_all_stats, or a
/// role with USAGE on the server or any privilege on the table.
unsafe fn may_see(user: pg_sys::Oid, server: pg_sys::Oid, table: pg_sys::Oid) -> bool {
    if pg_sys::has_privs_of_role(user, pg_sys::Oid::from(pg_sys::ROLE_PG_READ_ALL_STATS)) {
        return true;
    }
    let modes = (pg_sys::ACL_SELECT | pg_sys::ACL_INSERT | pg_sys::ACL_UPDATE | pg_sys::ACL_DELETE) as pg_sys::AclMode;
    let mut missing = false;
    if table != pg_sys::InvalidOid
        && pg_sys::pg_class_aclcheck_ext(table, user, modes, &mut missing) == pg_sys::AclResult::ACLCHECK_OK
        && !missing
    {
        return true;
    }
    server != pg_sys::InvalidOid && crate::compat::may_use_server(server, user)
}

/// A row of `cdf.stats`.
type StatsRow = (
    Option<pg_sys::Oid>,
    Option<pg_sys::Oid>,
    String,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    f64,
    Option<f64>,
    f64,
    Option<f64>,
    Option<f64>,
    Option<f64>,
    Option<pgrx::datum::TimestampWithTimeZone>,
);

fn rows() -> Vec<StatsRow> {
    flush();
    if store() == Store::Backend {
        pgrx::pg_sys::panic::ErrorReport::new(
            PgSqlErrorCode::ERRCODE_WARNING,
            "cdf_fdw is not in shared_preload_libraries: these statistics are this session's only",
            function_name!(),
        )
        .set_hint("Add cdf_fdw to shared_preload_libraries in postgresql.conf and restart PostgreSQL for statistics across all sessions.")
        .report(PgLogLevel::NOTICE);
    }
    let database = unsafe { pg_sys::MyDatabaseId }.to_u32();
    let user = unsafe { pg_sys::GetUserId() };
    let see_all = unsafe { pg_sys::has_privs_of_role(user, pg_sys::Oid::from(pg_sys::ROLE_PG_READ_ALL_STATS)) };
    let big = |v: u64| v.min(i64::MAX as u64) as i64;
    fold_dropped();
    let (since, entries) = snapshot();
    let since = (since != 0)
        .then(|| unsafe { pgrx::datum::TimestampWithTimeZone::from_datum(pg_sys::Datum::from(since), false) })
        .flatten();
    entries
        .iter()
        .filter(|e| e.database == database || (e.database == 0 && see_all))
        .filter(|e| {
            let (server, table) = (pg_sys::Oid::from(e.server), pg_sys::Oid::from(e.table));
            see_all || unsafe { may_see(user, server, table) }
        })
        .map(|e| {
            let c = &e.counters;
            let oid = |v: u32| (v != 0).then(|| pg_sys::Oid::from(v));
            (
                oid(e.server),
                oid(e.table),
                e.endpoint().to_string(),
                big(c.requests),
                big(c.rows_sent),
                big(c.rows_received),
                big(c.bytes_sent),
                big(c.bytes_received),
                big(c.retries),
                big(c.throttled),
                big(c.failures),
                c.total_ms(),
                c.mean_ms(),
                c.max_ms(),
                c.percentile_ms(0.5),
                c.percentile_ms(0.95),
                c.percentile_ms(0.99),
                since,
            )
        })
        .collect()
}

/// Folds the statistics of foreign tables and servers dropped from this database
/// (`Table::fold_dropped`): a dropped table's requests stay in its server's sums, shown with
/// `foreign_table` NULL like requests made for no table, and its entry does not name a stale oid
/// (which a new table could reuse). Run as the view is read; other databases' entries wait until
/// the view is read there.
fn fold_dropped() {
    let database = unsafe { pg_sys::MyDatabaseId }.to_u32();
    let (_, entries) = snapshot();
    let (mut servers, mut tables) = (Vec::new(), Vec::new());
    for e in entries.iter().filter(|e| e.database == database) {
        if e.server != 0 && !servers.contains(&e.server) && !unsafe { catalog_row_exists(Catalog::Server, e.server) } {
            servers.push(e.server);
        }
        if e.table != 0 && !tables.contains(&e.table) && !unsafe { catalog_row_exists(Catalog::Class, e.table) } {
            tables.push(e.table);
        }
    }
    if !servers.is_empty() || !tables.is_empty() {
        with_table(|t| t.fold_dropped(database, &servers, &tables));
    }
}

#[derive(Clone, Copy)]
enum Catalog {
    Class,
    Server,
}

/// Whether the catalog has a row with this oid, counting rows that transactions in progress
/// insert or delete (a dirty snapshot): a table another session is creating has statistics
/// already, and only a committed drop makes an object gone.
unsafe fn catalog_row_exists(catalog: Catalog, oid: u32) -> bool {
    let (relation, index, oid_column) = match catalog {
        Catalog::Class => (pg_sys::RelationRelationId, pg_sys::ClassOidIndexId, pg_sys::Anum_pg_class_oid),
        Catalog::Server => {
            (pg_sys::ForeignServerRelationId, pg_sys::ForeignServerOidIndexId, pg_sys::Anum_pg_foreign_server_oid)
        }
    };
    let lock = pg_sys::AccessShareLock as pg_sys::LOCKMODE;
    let rel = pg_sys::table_open(relation, lock);
    let mut key: pg_sys::ScanKeyData = std::mem::zeroed();
    pg_sys::ScanKeyInit(
        &mut key,
        oid_column as pg_sys::AttrNumber,
        pg_sys::BTEqualStrategyNumber as pg_sys::StrategyNumber,
        pg_sys::Oid::from(pg_sys::F_OIDEQ),
        pg_sys::Datum::from(oid),
    );
    let mut snapshot: pg_sys::SnapshotData = std::mem::zeroed();
    snapshot.snapshot_type = pg_sys::SnapshotType::SNAPSHOT_DIRTY;
    let scan = pg_sys::systable_beginscan(rel, pg_sys::Oid::from(index), true, &mut snapshot, 1, &mut key);
    let found = !pg_sys::systable_getnext(scan).is_null();
    pg_sys::systable_endscan(scan);
    pg_sys::table_close(rel, lock);
    found
}

/// Empties the statistics (all databases) and restarts their clock.
fn reset() {
    PENDING.with_borrow_mut(Vec::clear);
    with_table(Table::reset);
}

/// Prints a node's CDF requests under EXPLAIN ANALYZE: counts always, bytes with VERBOSE, time
/// with TIMING (so that `TIMING OFF` output is stable).
pub unsafe fn explain(usage: &NodeUsage, es: *mut pg_sys::ExplainState) {
    let c = &usage.total;
    let text = |label: &std::ffi::CStr, value: String| {
        let value = CString::new(value).expect("no NUL");
        pg_sys::ExplainPropertyText(label.as_ptr(), value.as_ptr(), es);
    };
    let int = |label: &std::ffi::CStr, v: u64| {
        pg_sys::ExplainPropertyInteger(label.as_ptr(), std::ptr::null(), v.min(i64::MAX as u64) as i64, es)
    };
    if (*es).format == pg_sys::ExplainFormat::EXPLAIN_FORMAT_TEXT {
        let per_endpoint: Vec<String> = usage.endpoints.iter().map(|(e, n)| format!("{e}: {n}")).collect();
        let mut line = c.requests.to_string();
        if !per_endpoint.is_empty() {
            line.push_str(&format!(" ({})", per_endpoint.join(", ")));
        }
        text(c"CDF Requests", line);
        text(c"CDF Retries", format!("{} (throttled {}, failed {})", c.retries, c.throttled, c.failures));
        text(c"CDF Rows", format!("sent {}, received {}", c.rows_sent, c.rows_received));
        if (*es).verbose {
            text(c"CDF Bytes", format!("sent {}, received {}", c.bytes_sent, c.bytes_received));
        }
    } else {
        int(c"CDF Requests", c.requests);
        int(c"CDF Retries", c.retries);
        int(c"CDF Throttled", c.throttled);
        int(c"CDF Failed Requests", c.failures);
        int(c"CDF Rows Sent", c.rows_sent);
        int(c"CDF Rows Received", c.rows_received);
        if (*es).verbose {
            int(c"CDF Bytes Sent", c.bytes_sent);
            int(c"CDF Bytes Received", c.bytes_received);
        }
    }
    if (*es).timing {
        pg_sys::ExplainPropertyFloat(c"CDF Time".as_ptr(), c"ms".as_ptr(), c.total_ms(), 3, es);
    }
}

#[pg_schema]
mod cdf {
    use pgrx::prelude::*;

    /// What requests to CDF cost, per server, foreign table and endpoint, since the last reset
    /// (the `cdf.stats` view names the server and table). Shows the rows the calling role may
    /// see: its servers' and tables', or all for members of pg_read_all_stats.
    #[pg_extern(volatile, parallel_unsafe)]
    #[search_path(pg_catalog, pg_temp)]
    #[allow(clippy::type_complexity)]
    fn request_stats() -> TableIterator<
        'static,
        (
            name!(serverid, Option<pg_sys::Oid>),
            name!(tableid, Option<pg_sys::Oid>),
            name!(endpoint, String),
            name!(requests, i64),
            name!(rows_sent, i64),
            name!(rows_received, i64),
            name!(bytes_sent, i64),
            name!(bytes_received, i64),
            name!(retries, i64),
            name!(throttled, i64),
            name!(failures, i64),
            name!(total_ms, f64),
            name!(mean_ms, Option<f64>),
            name!(max_ms, f64),
            name!(p50_ms, Option<f64>),
            name!(p95_ms, Option<f64>),
            name!(p99_ms, Option<f64>),
            name!(since, Option<pgrx::datum::TimestampWithTimeZone>),
        ),
    > {
        TableIterator::new(super::rows())
    }

    /// Empties the statistics of every database. Superuser-only unless granted.
    #[pg_extern(volatile, parallel_unsafe)]
    #[search_path(pg_catalog, pg_temp)]
    fn stats_reset() {
        super::reset();
    }
}

extension_sql!(
    r#"
CREATE VIEW cdf.stats AS
  SELECT s.srvname AS server, c.oid::pg_catalog.regclass AS foreign_table, r.endpoint,
         r.requests, r.rows_sent, r.rows_received, r.bytes_sent, r.bytes_received,
         r.retries, r.throttled, r.failures,
         pg_catalog.round(r.total_ms::pg_catalog.numeric, 3) AS total_ms,
         pg_catalog.round(r.mean_ms::pg_catalog.numeric, 3) AS mean_ms,
         pg_catalog.round(r.max_ms::pg_catalog.numeric, 3) AS max_ms,
         pg_catalog.round(r.p50_ms::pg_catalog.numeric, 3) AS p50_ms,
         pg_catalog.round(r.p95_ms::pg_catalog.numeric, 3) AS p95_ms,
         pg_catalog.round(r.p99_ms::pg_catalog.numeric, 3) AS p99_ms,
         r.since, r.serverid, r.tableid
    FROM cdf.request_stats() r
    LEFT JOIN pg_catalog.pg_foreign_server s ON s.oid OPERATOR(pg_catalog.=) r.serverid
    LEFT JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) r.tableid;
COMMENT ON VIEW cdf.stats IS 'cdf_fdw: requests to CDF per server, foreign table and endpoint since cdf.stats_reset()';
-- Rows are filtered by the reader's privileges; the schema is opened to monitoring roles only
-- (GRANT USAGE ON SCHEMA cdf TO a role to let it read its servers' and tables' statistics).
GRANT SELECT ON cdf.stats TO PUBLIC;
GRANT USAGE ON SCHEMA cdf TO pg_read_all_stats;
REVOKE EXECUTE ON FUNCTION cdf.stats_reset() FROM PUBLIC;
"#,
    name = "stats_view",
    requires = [request_stats, stats_reset]
);

#[cfg(any(test, feature = "pg_test"))]
#[pg_schema]
mod tests {
    use std::time::Duration;

    use cdf_client::RequestRecord;
    use pgrx::prelude::*;

    use super::*;

    fn record(endpoint: &str, ms: u64) -> RequestRecord {
        RequestRecord {
            elapsed: Duration::from_millis(ms),
            attempts: 2,
            throttled: 1,
            failed: false,
            rows_sent: 10,
            ..RequestRecord::new(endpoint.into())
        }
    }

    /// `cargo pgrx test` does not preload the library: the statistics are the backend's own
    /// (14–16) or in a DSM registry segment (17+).
    #[pg_test]
    fn without_preload_the_view_still_counts() {
        assert!(!shared());
        Spi::run("SELECT cdf.stats_reset()").unwrap();
        let usage = RefCell::default();
        let invalid = pg_sys::InvalidOid;
        collect(
            invalid,
            invalid,
            &usage,
            vec![record("POST /assets", 5), record("POST /assets", 7), record(cdf_client::metrics::TOKEN_ENDPOINT, 1)],
        );
        let usage: NodeUsage = usage.into_inner();
        assert_eq!(
            (usage.total.requests, usage.total.retries, usage.total.rows_sent),
            (2, 2, 20),
            "no token in EXPLAIN"
        );
        let (requests, throttled, max) = Spi::get_three::<i64, i64, pgrx::AnyNumeric>(
            "SELECT requests, throttled, max_ms FROM cdf.stats WHERE endpoint = 'POST /assets'",
        )
        .unwrap();
        assert_eq!((requests, throttled), (Some(2), Some(2)));
        assert_eq!(max.unwrap().to_string(), "7.000");
        assert_eq!(Spi::get_one::<i64>("SELECT count(*) FROM cdf.stats").unwrap(), Some(2));
        Spi::run("SELECT cdf.stats_reset()").unwrap();
        assert_eq!(Spi::get_one::<i64>("SELECT count(*) FROM cdf.stats").unwrap(), Some(0));
    }

    #[pg_test]
    fn a_full_table_sums_the_rest_in_one_overflow_entry() {
        let mut t = Box::<Table>::default();
        let mut c = Counters::ZERO;
        c.add(&record("e", 1));
        for i in 0..MAX_ENTRIES + 10 {
            let key = Key { database: 1, server: 2, table: i as u32, endpoint: "POST /assets".into() };
            t.add(&key, &c);
        }
        assert_eq!(t.len, MAX_ENTRIES);
        let last = &t.entries[MAX_ENTRIES - 1];
        assert_eq!((last.endpoint(), last.table, last.counters.requests), (OVERFLOW_ENDPOINT, 0, 11));
        // Known keys still add up in their own entry.
        t.add(&Key { database: 1, server: 2, table: 0, endpoint: "POST /assets".into() }, &c);
        assert_eq!(t.entries[0].counters.requests, 2);
    }
}
