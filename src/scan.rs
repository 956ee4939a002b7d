//! SELECT: pages through `POST /{resource}/list` with cursors; PostgreSQL filters locally.
//!
//! Plan-private data holds nothing but plain values, and all Rust state is rebuilt in
//! `BeginForeignScan`, so cached plans (PREPARE, plpgsql) re-run safely.

use std::collections::VecDeque;
use std::ffi::c_int;

use cdf_client::{CdfError, Idempotency};
use cdf_tables::{item_to_value, WriteKind};
use pgrx::pg_sys;
use pgrx::prelude::*;
use pgrx::{PgList, PgMemoryContexts};

use crate::backend;
use crate::convert::value_to_datum;
use crate::errors;
use crate::modify::{bind_columns, Binding};
use crate::options::{table_context, TableContext};

/// Rows per list request; CDF's maximum for the asset-centric resources.
const PAGE_SIZE: usize = 1000;

pub struct ScanState {
    ctx: TableContext,
    bindings: Vec<Binding>,
    page: VecDeque<serde_json::Map<String, serde_json::Value>>,
    cursor: Option<String>,
    exhausted: bool,
}

impl ScanState {
    fn fetch_page(&mut self) {
        let mut body = serde_json::json!({ "limit": PAGE_SIZE });
        if let Some(c) = &self.cursor {
            body["cursor"] = serde_json::Value::String(c.clone());
        }
        let path = format!("{}/list", self.ctx.resource.api_path);
        let result = backend::with_session(&self.ctx, |session, http, io| {
            io.block_on(session.post_json(http, &path, &[], &body, Idempotency::Idempotent))
                .and_then(|resp| resp.json())
        });
        let json = result.unwrap_or_else(|e: CdfError| {
            errors::raise_cdf(&e, Some(&format!("reading CDF table \"{}\"", self.ctx.table_name)))
        });
        self.cursor = json.get("nextCursor").and_then(|c| c.as_str()).map(str::to_string);
        self.exhausted = self.cursor.is_none();
        if let Some(items) = json.get("items").and_then(|i| i.as_array()) {
            for item in items {
                if let Some(obj) = item.as_object() {
                    self.page.push_back(obj.clone());
                }
            }
        }
    }

    fn restart(&mut self) {
        self.page.clear();
        self.cursor = None;
        self.exhausted = false;
    }
}

fn list_path(ctx: &TableContext) -> String {
    match ctx.resource.write {
        WriteKind::Items { .. } | WriteKind::File => format!("POST /{}/list", ctx.resource.api_path),
        _ => errors::raise(
            PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
            format!("reading CDF resource \"{}\" is not supported by this version of cdf_fdw", ctx.resource.table),
            None,
        ),
    }
}

#[pg_guard]
pub unsafe extern "C-unwind" fn get_foreign_rel_size(
    _root: *mut pg_sys::PlannerInfo,
    baserel: *mut pg_sys::RelOptInfo,
    _foreigntableid: pg_sys::Oid,
) {
    (*baserel).rows = 1000.0;
}

#[pg_guard]
pub unsafe extern "C-unwind" fn get_foreign_paths(
    root: *mut pg_sys::PlannerInfo,
    baserel: *mut pg_sys::RelOptInfo,
    _foreigntableid: pg_sys::Oid,
) {
    let rows = (*baserel).rows;
    // A remote call costs far more than a local row; make the planner avoid rescans.
    let startup = 100.0;
    let total = startup + rows * 0.1;
    let path = pg_sys::create_foreignscan_path(
        root,
        baserel,
        std::ptr::null_mut(),
        rows,
        startup,
        total,
        std::ptr::null_mut(),
        std::ptr::null_mut(),
        std::ptr::null_mut(),
        std::ptr::null_mut(),
    );
    pg_sys::add_path(baserel, path as *mut pg_sys::Path);
}

#[pg_guard]
pub unsafe extern "C-unwind" fn get_foreign_plan(
    _root: *mut pg_sys::PlannerInfo,
    baserel: *mut pg_sys::RelOptInfo,
    _foreigntableid: pg_sys::Oid,
    _best_path: *mut pg_sys::ForeignPath,
    tlist: *mut pg_sys::List,
    scan_clauses: *mut pg_sys::List,
    outer_plan: *mut pg_sys::Plan,
) -> *mut pg_sys::ForeignScan {
    // Every qual is re-checked locally.
    let quals = pg_sys::extract_actual_clauses(scan_clauses, false);
    pg_sys::make_foreignscan(
        tlist,
        quals,
        (*baserel).relid,
        std::ptr::null_mut(),
        PgList::<std::ffi::c_void>::new().into_pg(),
        std::ptr::null_mut(),
        std::ptr::null_mut(),
        outer_plan,
    )
}

#[pg_guard]
pub unsafe extern "C-unwind" fn explain_foreign_scan(node: *mut pg_sys::ForeignScanState, es: *mut pg_sys::ExplainState) {
    let rel = (*node).ss.ss_currentRelation;
    let ctx = table_context((*rel).rd_id);
    let request = std::ffi::CString::new(list_path(&ctx)).unwrap();
    pg_sys::ExplainPropertyText(c"CDF Request".as_ptr(), request.as_ptr(), es);
}

#[pg_guard]
pub unsafe extern "C-unwind" fn begin_foreign_scan(node: *mut pg_sys::ForeignScanState, eflags: c_int) {
    if eflags & pg_sys::EXEC_FLAG_EXPLAIN_ONLY as c_int != 0 {
        return;
    }
    let rel = (*node).ss.ss_currentRelation;
    let ctx = table_context((*rel).rd_id);
    list_path(&ctx);
    let bindings = bind_columns(rel, &ctx);
    let state = ScanState { ctx, bindings, page: VecDeque::new(), cursor: None, exhausted: false };
    let ptr = PgMemoryContexts::CurrentMemoryContext.leak_and_drop_on_delete(state);
    (*node).fdw_state = ptr as *mut std::ffi::c_void;
}

#[pg_guard]
pub unsafe extern "C-unwind" fn iterate_foreign_scan(node: *mut pg_sys::ForeignScanState) -> *mut pg_sys::TupleTableSlot {
    let slot = (*node).ss.ss_ScanTupleSlot;
    pg_sys::ExecClearTuple(slot);
    let Some(state) = ((*node).fdw_state as *mut ScanState).as_mut() else {
        return slot;
    };
    if state.page.is_empty() && !state.exhausted {
        state.fetch_page();
    }
    let Some(item) = state.page.pop_front() else {
        return slot;
    };
    let natts = (*(*slot).tts_tupleDescriptor).natts as usize;
    let values = std::slice::from_raw_parts_mut((*slot).tts_values, natts);
    let nulls = std::slice::from_raw_parts_mut((*slot).tts_isnull, natts);
    nulls.fill(true);
    for b in &state.bindings {
        let value = item_to_value(b.column, &item).unwrap_or_else(|e| {
            errors::raise(PgSqlErrorCode::ERRCODE_FDW_INVALID_DATA_TYPE, e.to_string(), None)
        });
        if let Some(d) = value_to_datum(value, b.typoid) {
            values[b.attidx] = d;
            nulls[b.attidx] = false;
        }
    }
    pg_sys::ExecStoreVirtualTuple(slot);
    slot
}

#[pg_guard]
pub unsafe extern "C-unwind" fn rescan_foreign_scan(node: *mut pg_sys::ForeignScanState) {
    if let Some(state) = ((*node).fdw_state as *mut ScanState).as_mut() {
        state.restart();
    }
}

#[pg_guard]
pub unsafe extern "C-unwind" fn end_foreign_scan(_node: *mut pg_sys::ForeignScanState) {
    // The state lives in the query memory context and is dropped with it.
}
