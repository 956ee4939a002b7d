//! Per-backend state: one tokio runtime, one HTTP client and one CDF session per user mapping,
//! created lazily on first use (never in `_PG_init`, which may run in the postmaster).

use std::cell::RefCell;
use std::collections::HashMap;

use cdf_client::reqwest;
use cdf_client::{CdfError, Credentials, Runtime, ServerConfig, Session};
use pgrx::pg_sys;

use crate::errors;
use crate::options::TableContext;

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

/// Blocks the backend on futures in short slices, so cancels and statement_timeout are honoured.
pub struct Blocker<'a> {
    runtime: &'a Runtime,
}

impl Blocker<'_> {
    pub fn block_on<F: std::future::Future>(&self, fut: F) -> F::Output {
        self.runtime.block_on(fut, &check_interrupts)
    }
}

fn with_backend<T>(
    ca_file: &Option<String>,
    op: impl FnOnce(&Runtime, &reqwest::Client, &mut HashMap<pg_sys::Oid, Session>) -> T,
) -> T {
    BACKEND.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            let runtime = Runtime::new().unwrap_or_else(|e| {
                errors::raise_cdf(&CdfError::Network { message: format!("cannot start the I/O runtime: {e}") }, None)
            });
            *slot = Some(Backend { runtime, clients: HashMap::new(), sessions: HashMap::new() });
        }
        let Backend { runtime, clients, sessions } = slot.as_mut().expect("backend initialised above");
        if !clients.contains_key(ca_file) {
            let client = cdf_client::new_http_client(ca_file.as_deref())
                .unwrap_or_else(|e| errors::raise_cdf(&e, Some("setting up TLS")));
            clients.insert(ca_file.clone(), client);
        }
        op(runtime, &clients[ca_file], sessions)
    })
}

/// Gives `op` the session of `ctx`'s user mapping, the shared HTTP client and a blocker.
pub fn with_session<T>(ctx: &TableContext, op: impl FnOnce(&mut Session, &reqwest::Client, &Blocker) -> T) -> T {
    with_backend(&ctx.server.ca_file, |runtime, http, sessions| {
        // ALTER SERVER / USER MAPPING may change options between statements: start afresh then.
        let stale = sessions
            .get(&ctx.user_mapping_oid)
            .is_some_and(|s| s.server != ctx.server || s.credentials() != &ctx.credentials);
        if stale {
            sessions.remove(&ctx.user_mapping_oid);
        }
        let session = sessions
            .entry(ctx.user_mapping_oid)
            .or_insert_with(|| Session::new(ctx.server.clone(), ctx.credentials.clone()));
        op(session, http, &Blocker { runtime })
    })
}

/// As `with_session`, for credentials that have no user mapping yet (checked, not cached).
pub fn with_credentials<T>(
    server: &ServerConfig,
    credentials: &Credentials,
    op: impl FnOnce(&mut Session, &reqwest::Client, &Blocker) -> T,
) -> T {
    with_backend(&server.ca_file, |runtime, http, _| {
        let mut session = Session::new(server.clone(), credentials.clone());
        op(&mut session, http, &Blocker { runtime })
    })
}
