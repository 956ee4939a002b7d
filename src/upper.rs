//! GetForeignUpperPaths: paths computing an upper relation (grouping, ordering, limits) in CDF,
//! one arm per stage; and the scan callbacks that tell such a scan (no relation of its own)
//! from a scan of a table.

use std::ffi::c_int;

use pgrx::pg_sys;
use pgrx::prelude::*;

use crate::plan::JoinPrivate;
use crate::{aggregate, join, scan};

#[pg_guard]
pub unsafe extern "C-unwind" fn get_foreign_upper_paths(
    root: *mut pg_sys::PlannerInfo,
    stage: pg_sys::UpperRelationKind::Type,
    input_rel: *mut pg_sys::RelOptInfo,
    output_rel: *mut pg_sys::RelOptInfo,
    _extra: *mut std::ffi::c_void,
) {
    if stage == pg_sys::UpperRelationKind::UPPERREL_GROUP_AGG {
        aggregate::add_grouping_paths(root, input_rel, output_rel);
    }
}

/// A scan without a relation of its own (scanrelid 0): an aggregate's or a join's.
unsafe fn is_upper_scan(node: *mut pg_sys::ForeignScanState) -> bool {
    (*((*node).ss.ps.plan as *mut pg_sys::ForeignScan)).scan.scanrelid == 0
}

/// A scan of a join of two tables (its private data says so).
unsafe fn is_join_scan(node: *mut pg_sys::ForeignScanState) -> bool {
    JoinPrivate::is_join((*((*node).ss.ps.plan as *mut pg_sys::ForeignScan)).fdw_private)
}

#[pg_guard]
pub unsafe extern "C-unwind" fn get_foreign_plan(
    root: *mut pg_sys::PlannerInfo,
    rel: *mut pg_sys::RelOptInfo,
    foreigntableid: pg_sys::Oid,
    best_path: *mut pg_sys::ForeignPath,
    tlist: *mut pg_sys::List,
    scan_clauses: *mut pg_sys::List,
    outer_plan: *mut pg_sys::Plan,
) -> *mut pg_sys::ForeignScan {
    if (*rel).reloptkind == pg_sys::RelOptKind::RELOPT_UPPER_REL {
        return aggregate::plan_scan(best_path, tlist, outer_plan);
    }
    if (*rel).reloptkind == pg_sys::RelOptKind::RELOPT_JOINREL {
        return join::plan_scan(root, best_path, tlist, outer_plan);
    }
    scan::get_foreign_plan(root, rel, foreigntableid, best_path, tlist, scan_clauses, outer_plan)
}

#[pg_guard]
pub unsafe extern "C-unwind" fn explain_foreign_scan(
    node: *mut pg_sys::ForeignScanState,
    es: *mut pg_sys::ExplainState,
) {
    if is_upper_scan(node) {
        if is_join_scan(node) {
            return join::explain(node, es);
        }
        return aggregate::explain(node, es);
    }
    scan::explain_foreign_scan(node, es)
}

#[pg_guard]
pub unsafe extern "C-unwind" fn begin_foreign_scan(node: *mut pg_sys::ForeignScanState, eflags: c_int) {
    if is_upper_scan(node) {
        if is_join_scan(node) {
            return join::begin(node, eflags);
        }
        return aggregate::begin(node, eflags);
    }
    scan::begin_foreign_scan(node, eflags)
}

#[pg_guard]
pub unsafe extern "C-unwind" fn iterate_foreign_scan(
    node: *mut pg_sys::ForeignScanState,
) -> *mut pg_sys::TupleTableSlot {
    if is_upper_scan(node) {
        if is_join_scan(node) {
            return join::iterate(node);
        }
        return aggregate::iterate(node);
    }
    scan::iterate_foreign_scan(node)
}

#[pg_guard]
pub unsafe extern "C-unwind" fn rescan_foreign_scan(node: *mut pg_sys::ForeignScanState) {
    if is_upper_scan(node) {
        if is_join_scan(node) {
            return join::rescan(node);
        }
        return aggregate::rescan(node);
    }
    scan::rescan_foreign_scan(node)
}
