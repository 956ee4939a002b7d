//! Catalog invalidation for the backend's caches of foreign-table facts (options, connection,
//! column bindings): a row-at-a-time client in transaction scope runs one INSERT per row, and
//! reading the catalogs and parsing the server's URLs anew for each was a tenth of its time.
//!
//! As postgres_fdw's connection.c does, the caches are dropped by PostgreSQL's own invalidation
//! callbacks: a relcache invalidation of a foreign table (ALTER FOREIGN TABLE, its columns)
//! drops what is cached for it, a change of any foreign server, user mapping or foreign table
//! options (pg_foreign_server, pg_user_mapping, pg_foreign_table: ALTER/DROP/CREATE, also by
//! another session) drops everything. Invalidations are processed when a statement takes its
//! locks and at each command boundary, so the next statement sees the change.

use std::cell::{Cell, RefCell};
use std::ffi::c_int;

use pgrx::pg_sys;
use pgrx::prelude::*;

/// Drops what a cache holds for one relation, or (`None`) everything.
pub type Forget = fn(Option<pg_sys::Oid>);

thread_local! {
    /// The caches, by name (each registers itself on first use).
    static CACHES: RefCell<Vec<(&'static str, Forget)>> = const { RefCell::new(Vec::new()) };
    /// Bumped by every invalidation: a value computed while one arrived is not cached.
    static GENERATION: Cell<u64> = const { Cell::new(0) };
    static REGISTERED: Cell<bool> = const { Cell::new(false) };
}

/// Registers PostgreSQL's callbacks (once per backend: it has a fixed number of slots).
fn register() {
    if REGISTERED.get() {
        return;
    }
    unsafe {
        pg_sys::CacheRegisterRelcacheCallback(Some(on_relcache), pg_sys::Datum::from(0));
        for cache in [
            pg_sys::SysCacheIdentifier::FOREIGNSERVEROID,
            pg_sys::SysCacheIdentifier::USERMAPPINGOID,
            pg_sys::SysCacheIdentifier::FOREIGNTABLEREL,
        ] {
            pg_sys::CacheRegisterSyscacheCallback(cache as c_int, Some(on_syscache), pg_sys::Datum::from(0));
        }
    }
    REGISTERED.set(true);
}

/// The current generation, for the cache `name` (whose `forget` is called on invalidations
/// from now on): take it before reading the catalogs, and cache what was read only if
/// `unchanged_since` still holds afterwards.
pub fn generation(name: &'static str, forget: Forget) -> u64 {
    register();
    CACHES.with_borrow_mut(|caches| {
        if !caches.iter().any(|(n, _)| *n == name) {
            caches.push((name, forget));
        }
    });
    GENERATION.get()
}

pub fn unchanged_since(generation: u64) -> bool {
    GENERATION.get() == generation
}

fn forget(relid: Option<pg_sys::Oid>) {
    GENERATION.set(GENERATION.get() + 1);
    let caches: Vec<Forget> = CACHES.with_borrow(|caches| caches.iter().map(|(_, f)| *f).collect());
    for f in caches {
        f(relid);
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn on_relcache(_arg: pg_sys::Datum, relid: pg_sys::Oid) {
    forget((relid != pg_sys::InvalidOid).then_some(relid));
}

#[pg_guard]
unsafe extern "C-unwind" fn on_syscache(_arg: pg_sys::Datum, _cacheid: c_int, _hashvalue: u32) {
    forget(None);
}
