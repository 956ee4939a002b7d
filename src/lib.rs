//! cdf_fdw: a PostgreSQL foreign data wrapper that forwards writes on foreign tables to
//! Cognite Data Fusion. This crate is the thin pgrx layer; the CDF client and the table
//! catalogue live in the pgrx-free crates `cdf-client` and `cdf-tables`.

use pgrx::prelude::*;

mod aggregate;
mod backend;
mod batch;
mod compat;
mod context;
mod convert;
mod errors;
mod import;
mod invalidation;
mod join;
mod modify;
mod options;
mod plan;
mod routine;
mod scan;
mod settings;
mod stats;
mod tuple;
mod typed_raw;
mod upper;
mod users;
mod view_modify;
mod views;
mod xact;

pgrx::pg_module_magic!();

/// Registers settings only; the runtime and HTTP client are created lazily in each backend.
#[pg_guard]
pub extern "C-unwind" fn _PG_init() {
    no_backtraces();
    settings::register();
    stats::init();
}

/// pgrx puts a Rust backtrace (build paths, crate versions) into the DETAIL of an error from a
/// panic when `RUST_BACKTRACE` or `RUST_LIB_BACKTRACE` is set in the server's environment, and
/// that DETAIL goes to the client. `RUST_LIB_BACKTRACE=0` wins over `RUST_BACKTRACE` for
/// `Backtrace::capture`, which reads it once per process: set it before any panic can happen.
fn no_backtraces() {
    // SAFETY: _PG_init runs on the backend's (or postmaster's) only thread, before the
    // extension starts its runtime; nothing reads the environment concurrently.
    unsafe { std::env::set_var("RUST_LIB_BACKTRACE", "0") };
}

/// The FDW handler: PostgreSQL calls it to get the callback table.
#[pg_extern(create_or_replace)]
#[search_path(pg_catalog, pg_temp)]
fn cdf_fdw_handler() -> PgBox<pg_sys::FdwRoutine> {
    routine::build()
}

/// Validates the options of the wrapper, servers, user mappings, tables and columns.
#[pg_extern(create_or_replace)]
#[search_path(pg_catalog, pg_temp)]
fn cdf_fdw_validator(options: Option<Vec<Option<String>>>, catalog: Option<pg_sys::Oid>) {
    options::validate(options.unwrap_or_default(), catalog);
}

/// Checks a new or altered foreign table of this wrapper: every column must be a field of its
/// resource, with a type that can hold its values. Called by the event trigger in sql/fdw.sql,
/// so a bad table fails at CREATE FOREIGN TABLE rather than at its first use.
#[pg_extern]
#[search_path(pg_catalog, pg_temp)]
fn cdf_fdw_check_table(relid: pg_sys::Oid) {
    options::check_table_columns(relid);
}

extension_sql_file!(
    "../sql/fdw.sql",
    name = "create_fdw",
    requires = [cdf_fdw_handler, cdf_fdw_validator, cdf_fdw_check_table]
);

#[cfg(any(test, feature = "pg_test"))]
#[pg_schema]
mod tests {
    include!("tests.rs");
}

/// Required by `cargo pgrx test`.
#[cfg(test)]
pub mod pg_test {
    pub fn setup(_options: Vec<&str>) {}

    pub fn postgresql_conf_options() -> Vec<&'static str> {
        vec![]
    }
}
