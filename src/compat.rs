//! The PostgreSQL APIs that differ between the supported majors (14–18), in one place. Every
//! `#[cfg(feature = "pgNN")]` of the extension lives here; the rest of the crate calls these.
//!
//! COPY FROM into a foreign table takes a different path per major, with no code here:
//! - 14, 15: core calls `ExecForeignInsert` once per row (`CopyFrom` never batches foreign
//!   tables); the rows collect in the table's writer buffer, sent a CDF chunk at a time.
//! - 16, 17, 18: core asks `GetForeignModifyBatchSize` after `BeginForeignInsert` and, when it
//!   is above 1 (no RETURNING, no AFTER ROW trigger, a resource with more than one row per
//!   request), fills its multi-insert buffer (at most 1000 rows or 64 kB) and hands it over
//!   through `ExecForeignBatchInsert`, into the same writer buffer. Otherwise, as on 14/15.

use pgrx::pg_sys;

/// `create_foreignscan_path` for a base relation without pathkeys, outer rels or private data.
/// 17 added `fdw_restrictinfo`; 18 added `disabled_nodes`.
pub unsafe fn create_foreignscan_path(
    root: *mut pg_sys::PlannerInfo,
    baserel: *mut pg_sys::RelOptInfo,
    rows: f64,
    startup_cost: f64,
    total_cost: f64,
) -> *mut pg_sys::ForeignPath {
    let null = std::ptr::null_mut;
    #[cfg(any(feature = "pg14", feature = "pg15", feature = "pg16"))]
    return pg_sys::create_foreignscan_path(
        root,
        baserel,
        null(),
        rows,
        startup_cost,
        total_cost,
        null(),
        null(),
        null(),
        null(),
    );
    #[cfg(feature = "pg17")]
    return pg_sys::create_foreignscan_path(
        root,
        baserel,
        null(),
        rows,
        startup_cost,
        total_cost,
        null(),
        null(),
        null(),
        null(),
        null(),
    );
    #[cfg(feature = "pg18")]
    return pg_sys::create_foreignscan_path(
        root,
        baserel,
        null(),
        rows,
        0,
        startup_cost,
        total_cost,
        null(),
        null(),
        null(),
        null(),
        null(),
    );
}
