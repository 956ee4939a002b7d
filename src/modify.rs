//! INSERT (row and batch), COPY FROM, and the modify planning callbacks.
//!
//! PostgreSQL 15 hands COPY rows to `ExecForeignInsert` one at a time, so rows are buffered here
//! and sent in chunks of the endpoint's maximum; the rest goes out at `End*`. The buffer is the
//! only place rows wait, so backend memory is bounded by one chunk whatever the size of the COPY.

use std::ffi::c_int;

use cdf_client::TableWriter;
use cdf_tables::{row_to_write, Column, InsertMode, Value};
use pgrx::pg_sys;
use pgrx::prelude::*;
use pgrx::{PgList, PgMemoryContexts, PgTupleDesc};

use crate::backend;
use crate::convert::{datum_to_value, type_fits};
use crate::errors;
use crate::options::{table_context, TableContext};

/// One foreign-table attribute bound to its catalogue column.
#[derive(Debug, Clone, Copy)]
pub struct Binding {
    /// Index into the slot's values (attnum - 1).
    pub attidx: usize,
    pub column: &'static Column,
    pub typoid: pg_sys::Oid,
}

/// Binds every live attribute of a foreign table to its resource's column, rejecting columns the
/// resource does not have and types that cannot carry its values.
pub unsafe fn bind_columns(rel: pg_sys::Relation, ctx: &TableContext) -> Vec<Binding> {
    let tupdesc = PgTupleDesc::from_pg_unchecked((*rel).rd_att);
    let mut bindings = Vec::with_capacity(tupdesc.len());
    for (attidx, attr) in tupdesc.iter().enumerate() {
        if attr.is_dropped() {
            continue;
        }
        let name = attr.name();
        let Some(column) = ctx.resource.column(name) else {
            let valid: Vec<&str> = ctx.resource.columns.iter().map(|c| c.name).collect();
            errors::raise(
                PgSqlErrorCode::ERRCODE_FDW_COLUMN_NAME_NOT_FOUND,
                format!(
                    "column \"{name}\" of foreign table \"{}\" is not a field of CDF resource \"{}\"",
                    ctx.table_name, ctx.resource.table
                ),
                Some(format!("Columns of {}: {}.", ctx.resource.table, valid.join(", "))),
            );
        };
        let typoid = attr.type_oid().value();
        if !type_fits(column.ty, typoid) {
            errors::raise(
                PgSqlErrorCode::ERRCODE_FDW_INVALID_DATA_TYPE,
                format!(
                    "column \"{name}\" of foreign table \"{}\" has a type that cannot hold CDF's {} values",
                    ctx.table_name,
                    column.ty.sql()
                ),
                Some(format!("Declare it as {}.", column.ty.sql())),
            );
        }
        bindings.push(Binding { attidx, column, typoid });
    }
    bindings
}

/// Reads the bound attributes of a slot into values.
pub unsafe fn slot_values(
    slot: *mut pg_sys::TupleTableSlot,
    bindings: &[Binding],
    table: &str,
    row: u64,
) -> Vec<(&'static Column, Value)> {
    pg_sys::slot_getallattrs(slot);
    let natts = (*slot).tts_nvalid as usize;
    let datums = std::slice::from_raw_parts((*slot).tts_values, natts);
    let nulls = std::slice::from_raw_parts((*slot).tts_isnull, natts);
    bindings
        .iter()
        .map(|b| {
            let value = if nulls[b.attidx] {
                Value::Null
            } else {
                datum_to_value(datums[b.attidx], b.typoid).unwrap_or_else(|message| {
                    errors::raise(
                        PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
                        format!(
                            "invalid value for CDF table \"{table}\", row {row}, column \"{}\": {message}",
                            b.column.name
                        ),
                        None,
                    )
                })
            };
            (b.column, value)
        })
        .collect()
}

/// Per-statement state of an INSERT or COPY into one foreign table.
pub struct InsertState {
    ctx: TableContext,
    bindings: Vec<Binding>,
    writer: TableWriter,
    rows_seen: u64,
}

impl InsertState {
    unsafe fn new(rel: pg_sys::Relation, on_conflict_do_nothing: bool) -> InsertState {
        let ctx = table_context((*rel).rd_id);
        let bindings = bind_columns(rel, &ctx);
        let mode = if on_conflict_do_nothing { InsertMode::Ignore } else { ctx.insert_mode };
        InsertState { writer: TableWriter::new(ctx.resource, mode), ctx, bindings, rows_seen: 0 }
    }

    unsafe fn insert(&mut self, slot: *mut pg_sys::TupleTableSlot) {
        self.rows_seen += 1;
        let row = slot_values(slot, &self.bindings, &self.ctx.table_name, self.rows_seen);
        let write = row_to_write(self.ctx.resource, &row)
            .unwrap_or_else(|e| errors::raise_value(&e, &self.ctx.table_name, self.rows_seen));
        if self.writer.push(write) {
            self.flush();
        }
    }

    fn flush(&mut self) {
        if self.writer.buffered() == 0 {
            return;
        }
        let InsertState { ctx, writer, .. } = self;
        let result = backend::with_session(ctx, |session, http, io| io.block_on(writer.flush(session, http)));
        if let Err(e) = result {
            errors::raise_write(&e, &self.ctx.table_name);
        }
    }
}

unsafe fn state<'a>(rinfo: *mut pg_sys::ResultRelInfo) -> Option<&'a mut InsertState> {
    ((*rinfo).ri_FdwState as *mut InsertState).as_mut()
}

/// Creates the state in the executor's query memory context, so an aborted statement drops it.
unsafe fn install_state(rinfo: *mut pg_sys::ResultRelInfo, on_conflict_do_nothing: bool) {
    let state = InsertState::new((*rinfo).ri_RelationDesc, on_conflict_do_nothing);
    let ptr = PgMemoryContexts::CurrentMemoryContext.leak_and_drop_on_delete(state);
    (*rinfo).ri_FdwState = ptr as *mut std::ffi::c_void;
}

#[pg_guard]
pub unsafe extern "C-unwind" fn plan_foreign_modify(
    root: *mut pg_sys::PlannerInfo,
    plan: *mut pg_sys::ModifyTable,
    result_relation: pg_sys::Index,
    _subplan_index: c_int,
) -> *mut pg_sys::List {
    let rte = *(*root).simple_rte_array.add(result_relation as usize);
    let ctx = table_context((*rte).relid);
    match (*plan).operation {
        pg_sys::CmdType::CMD_INSERT => {}
        pg_sys::CmdType::CMD_UPDATE | pg_sys::CmdType::CMD_DELETE => errors::raise(
            PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
            format!("UPDATE and DELETE on CDF table \"{}\" are not supported by this version of cdf_fdw", ctx.table_name),
            None,
        ),
        _ => {}
    }
    // Plain values only: the plan may be cached and re-executed (PREPARE, plpgsql).
    let do_nothing = (*plan).onConflictAction == pg_sys::OnConflictAction::ONCONFLICT_NOTHING;
    let mut private = PgList::<pg_sys::Node>::new();
    private.push(pg_sys::makeInteger(do_nothing as i32) as *mut pg_sys::Node);
    private.into_pg()
}

#[pg_guard]
pub unsafe extern "C-unwind" fn begin_foreign_modify(
    _mtstate: *mut pg_sys::ModifyTableState,
    rinfo: *mut pg_sys::ResultRelInfo,
    fdw_private: *mut pg_sys::List,
    _subplan_index: c_int,
    eflags: c_int,
) {
    if eflags & pg_sys::EXEC_FLAG_EXPLAIN_ONLY as c_int != 0 {
        return;
    }
    install_state(rinfo, on_conflict_do_nothing(fdw_private));
}

#[pg_guard]
pub unsafe extern "C-unwind" fn begin_foreign_insert(
    _mtstate: *mut pg_sys::ModifyTableState,
    rinfo: *mut pg_sys::ResultRelInfo,
) {
    install_state(rinfo, false);
}

unsafe fn on_conflict_do_nothing(fdw_private: *mut pg_sys::List) -> bool {
    let list = PgList::<pg_sys::Node>::from_pg(fdw_private);
    list.get_ptr(0).is_some_and(|n| (*(n as *mut pg_sys::Integer)).ival != 0)
}

#[pg_guard]
pub unsafe extern "C-unwind" fn exec_foreign_insert(
    _estate: *mut pg_sys::EState,
    rinfo: *mut pg_sys::ResultRelInfo,
    slot: *mut pg_sys::TupleTableSlot,
    _plan_slot: *mut pg_sys::TupleTableSlot,
) -> *mut pg_sys::TupleTableSlot {
    if let Some(state) = state(rinfo) {
        state.insert(slot);
    }
    slot
}

#[pg_guard]
pub unsafe extern "C-unwind" fn exec_foreign_batch_insert(
    _estate: *mut pg_sys::EState,
    rinfo: *mut pg_sys::ResultRelInfo,
    slots: *mut *mut pg_sys::TupleTableSlot,
    _plan_slots: *mut *mut pg_sys::TupleTableSlot,
    num_slots: *mut c_int,
) -> *mut *mut pg_sys::TupleTableSlot {
    if let Some(state) = state(rinfo) {
        for i in 0..(*num_slots).max(0) as usize {
            state.insert(*slots.add(i));
        }
    }
    slots
}

/// Rows per `ExecForeignBatchInsert` call. RETURNING and AFTER ROW triggers need each row back
/// as it is inserted, so they get row-at-a-time calls (rows are still buffered for CDF).
#[pg_guard]
pub unsafe extern "C-unwind" fn get_foreign_modify_batch_size(rinfo: *mut pg_sys::ResultRelInfo) -> c_int {
    let triggers = (*rinfo).ri_TrigDesc;
    if !(*rinfo).ri_projectReturning.is_null() || (!triggers.is_null() && (*triggers).trig_insert_after_row) {
        return 1;
    }
    match state(rinfo) {
        Some(s) => TableWriter::rows_per_request(s.ctx.resource).clamp(1, 1000) as c_int,
        None => 1,
    }
}

#[pg_guard]
pub unsafe extern "C-unwind" fn end_foreign_modify(_estate: *mut pg_sys::EState, rinfo: *mut pg_sys::ResultRelInfo) {
    if let Some(state) = state(rinfo) {
        state.flush();
    }
}

#[pg_guard]
pub unsafe extern "C-unwind" fn end_foreign_insert(_estate: *mut pg_sys::EState, rinfo: *mut pg_sys::ResultRelInfo) {
    if let Some(state) = state(rinfo) {
        state.flush();
    }
}

#[pg_guard]
pub unsafe extern "C-unwind" fn is_foreign_rel_updatable(rel: pg_sys::Relation) -> c_int {
    let _ = rel;
    1 << pg_sys::CmdType::CMD_INSERT as c_int
}

#[pg_guard]
pub unsafe extern "C-unwind" fn explain_foreign_modify(
    mtstate: *mut pg_sys::ModifyTableState,
    rinfo: *mut pg_sys::ResultRelInfo,
    _fdw_private: *mut pg_sys::List,
    _subplan_index: c_int,
    es: *mut pg_sys::ExplainState,
) {
    let ctx = table_context((*(*rinfo).ri_RelationDesc).rd_id);
    let plan = (*mtstate).ps.plan as *mut pg_sys::ModifyTable;
    let do_nothing = !plan.is_null() && (*plan).onConflictAction == pg_sys::OnConflictAction::ONCONFLICT_NOTHING;
    let mode = TableWriter::new(ctx.resource, if do_nothing { InsertMode::Ignore } else { ctx.insert_mode }).mode();
    let endpoint = std::ffi::CString::new(TableWriter::endpoint(ctx.resource)).unwrap();
    let mode = std::ffi::CString::new(format!("{mode:?}").to_lowercase()).unwrap();
    pg_sys::ExplainPropertyText(c"CDF Endpoint".as_ptr(), endpoint.as_ptr(), es);
    pg_sys::ExplainPropertyInteger(c"Rows per Request".as_ptr(), std::ptr::null(), TableWriter::rows_per_request(ctx.resource) as i64, es);
    pg_sys::ExplainPropertyText(c"Insert Mode".as_ptr(), mode.as_ptr(), es);
}
