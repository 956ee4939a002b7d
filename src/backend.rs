//! Per-backend state: one tokio runtime, one HTTP client per trusted-CA set and one CDF session
//! per user mapping, created lazily on first use (never in `_PG_init`, which may run in the
//! postmaster). `run` is the one way the pgrx layer talks to CDF: it blocks the backend on a
//! request in short slices, so cancels and `statement_timeout` are honoured.

use std::cell::RefCell;
use std::collections::HashMap;

use cdf_client::reqwest;
use cdf_client::{CdfError, Credentials, Runtime, ServerConfig, Session};
use pgrx::pg_sys;

use crate::context::Connected;
use crate::errors;

struct Backend {
    runtime: Runtime,
    /// One client per trusted-CA set, shared by every server that uses it (keeps connections).
    clients: HashMap<Option<String>, reqwest::Client>,
    /// Keyed by user mapping; the token cache lives in the session.
    sessions: HashMap<pg_sys::Oid, Session>,
}

thread_local! {
    static BACKEND: RefCell<Option<Backend>> = const { RefCell::new(None) };
}

fn check_interrupts() {
    pgrx::check_for_interrupts!();
}

impl Backend {
    fn http_client(&mut self, ca_file: &Option<String>) -> reqwest::Client {
        self.clients
            .entry(ca_file.clone())
            .or_insert_with(|| {
                cdf_client::new_http_client(ca_file.as_deref())
                    .unwrap_or_else(|e| errors::raise_cdf(&e, Some("setting up TLS")))
            })
            .clone()
    }
}

fn with_backend<T>(op: impl FnOnce(&mut Backend) -> T) -> T {
    BACKEND.with(|cell| {
        let mut slot = cell.borrow_mut();
        let backend = slot.get_or_insert_with(|| {
            let runtime = Runtime::new().unwrap_or_else(|e| {
                errors::raise_cdf(&CdfError::Network { message: format!("cannot start the I/O runtime: {e}") }, None)
            });
            Backend { runtime, clients: HashMap::new(), sessions: HashMap::new() }
        });
        op(backend)
    })
}

/// Runs `op` on the session of `ctx`'s user mapping and blocks (interruptibly) until it is done.
pub fn run<T>(ctx: &impl Connected, op: impl AsyncFnOnce(&mut Session) -> T) -> T {
    let (umid, server, credentials) = (ctx.user_mapping_oid(), ctx.server(), ctx.credentials());
    with_backend(|backend| {
        // ALTER SERVER / USER MAPPING may change options between statements: start afresh then.
        let stale = backend.sessions.get(&umid).is_some_and(|s| &s.server != server || s.credentials() != credentials);
        if stale || !backend.sessions.contains_key(&umid) {
            let http = backend.http_client(&server.ca_file);
            let session = Session::new(server.clone(), credentials.clone(), http);
            backend.sessions.insert(umid, session);
        }
        let Backend { runtime, sessions, .. } = backend;
        let session = sessions.get_mut(&umid).expect("session inserted above");
        session.max_response_bytes = crate::settings::max_response_bytes();
        crate::stats::prepare();
        let collected = Collect { ctx, log: session.log.clone() };
        let out = runtime.block_on(op(session), &check_interrupts);
        drop(collected);
        crate::stats::flush();
        out
    })
}

/// Files the requests of a run in the statistics when it ends, also when it unwinds (error,
/// cancel), after the dropped future's requests have recorded themselves.
struct Collect<'a, C: Connected> {
    ctx: &'a C,
    log: cdf_client::RequestLog,
}

impl<C: Connected> Drop for Collect<'_, C> {
    fn drop(&mut self) {
        let (server, table, usage) = self.ctx.stats_target();
        crate::stats::collect(server, table, usage, self.log.drain());
    }
}

/// As `run`, for credentials that have no user mapping yet (checked, not cached).
pub fn run_with_credentials<T>(
    server: &ServerConfig,
    credentials: &Credentials,
    op: impl AsyncFnOnce(&mut Session) -> T,
) -> T {
    with_backend(|backend| {
        let http = backend.http_client(&server.ca_file);
        let mut session = Session::new(server.clone(), credentials.clone(), http);
        session.max_response_bytes = crate::settings::max_response_bytes();
        backend.runtime.block_on(op(&mut session), &check_interrupts)
    })
}
