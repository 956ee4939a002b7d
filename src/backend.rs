//! Per-backend state: one tokio runtime, one HTTP client and one CDF session per user mapping,
//! created lazily on first use (never in `_PG_init`, which may run in the postmaster).

use std::cell::RefCell;
use std::collections::HashMap;

use cdf_client::reqwest;
use cdf_client::{CdfError, Runtime, Session};
use pgrx::pg_sys;

use crate::errors;
use crate::options::TableContext;

struct Backend {
    runtime: Runtime,
    http: reqwest::Client,
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

/// Gives `op` the session of `ctx`'s user mapping, the shared HTTP client and a blocker.
pub fn with_session<T>(
    ctx: &TableContext,
    op: impl FnOnce(&mut Session, &reqwest::Client, &Blocker) -> T,
) -> T {
    BACKEND.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            let runtime = Runtime::new().unwrap_or_else(|e| {
                errors::raise_cdf(&CdfError::Network { message: format!("cannot start the I/O runtime: {e}") }, None)
            });
            let http = cdf_client::new_http_client().unwrap_or_else(|e| errors::raise_cdf(&e, None));
            *slot = Some(Backend { runtime, http, sessions: HashMap::new() });
        }
        let Backend { runtime, http, sessions } = slot.as_mut().expect("backend initialised above");
        // ALTER SERVER / USER MAPPING may change options between statements: start afresh then.
        let stale = sessions.get(&ctx.user_mapping_oid).is_some_and(|s| {
            s.server != ctx.server || s.credentials() != &ctx.credentials
        });
        if stale {
            sessions.remove(&ctx.user_mapping_oid);
        }
        let session = sessions
            .entry(ctx.user_mapping_oid)
            .or_insert_with(|| Session::new(ctx.server.clone(), ctx.credentials.clone()));
        op(session, http, &Blocker { runtime })
    })
}
