//! INSERT (row and batch), COPY FROM, UPDATE and DELETE, and their planning callbacks.
//!
//! PostgreSQL 15 hands COPY rows to `ExecForeignInsert` one at a time, so rows are buffered here
//! and sent in chunks of the endpoint's maximum; the rest goes out at `End*`. The buffer is the
//! only place rows wait, so backend memory is bounded by one chunk whatever the size of the COPY.

use std::ffi::c_int;

use std::ffi::CString;

use cdf_client::{ChangeWriter, TableWriter, WriteError};
use cdf_tables::writes as cdf_row;
use cdf_tables::{
    apply_input_policy, delete_change, identity_columns, row_to_write, update_changes, Column, InsertMode, Value,
};
use pgrx::pg_sys;
use pgrx::prelude::*;
use pgrx::{PgMemoryContexts, PgTupleDesc};

use crate::backend;
use crate::context::{is_view_table, table_context, table_resource, TableContext};
use crate::convert::datum_to_value;
use crate::errors;
use crate::plan::ModifyPrivate;
use crate::settings::ALLOW_UNQUALIFIED_CHANGES;
use crate::tuple::{bind_columns, slot_values, store_row, Binding};
use crate::xact;

/// Per-statement state of an INSERT or COPY into one foreign table.
pub struct InsertState {
    ctx: TableContext,
    bindings: Vec<Binding>,
    writer: TableWriter,
    rows_seen: u64,
    /// RETURNING needs CDF's object (ids, times) for each row: such rows are sent one by one.
    returning: bool,
}

impl InsertState {
    unsafe fn new(
        mtstate: *mut pg_sys::ModifyTableState,
        rinfo: *mut pg_sys::ResultRelInfo,
        on_conflict_do_nothing: bool,
        returning: bool,
    ) -> InsertState {
        let rel = (*rinfo).ri_RelationDesc;
        let ctx = table_context((*rel).rd_id, modify_user(mtstate, rinfo));
        let bindings = bind_columns(rel, ctx.resource, &ctx.table_name);
        let mode = if on_conflict_do_nothing { InsertMode::Ignore } else { ctx.insert_mode };
        let returning = returning && ctx.resource.returns_objects();
        InsertState { writer: TableWriter::new(ctx.resource, mode), ctx, bindings, rows_seen: 0, returning }
    }

    /// Buffers (or, for RETURNING, sends) one row; false when it was skipped as existing.
    unsafe fn insert(&mut self, slot: *mut pg_sys::TupleTableSlot) -> bool {
        self.rows_seen += 1;
        let written = self.writer.rows_written;
        let mut row = slot_values(slot, &self.bindings, &self.ctx.table_name, self.rows_seen, written);
        let write = apply_input_policy(&self.ctx.input, &mut row)
            .and_then(|()| row_to_write(self.ctx.resource, &row))
            .unwrap_or_else(|e| errors::raise_value(&e, &self.ctx.table_name, self.rows_seen, written));
        if self.returning {
            let cdf_row::WriteRow::Item(item) = write else { unreachable!("returns_objects covers items only") };
            let InsertState { ctx, writer, .. } = self;
            let result = backend::run(ctx, async |session| writer.write_returning(session, item).await);
            xact::note_written(self.writer.rows_written - written);
            return match result {
                Ok(Some(object)) => {
                    store_row(slot, &self.bindings, &object);
                    true
                }
                Ok(None) => false,
                Err(e) => errors::raise_write(&e, &self.ctx.table_name),
            };
        }
        if self.writer.needs_flush_before(&write) {
            self.flush();
        }
        if self.writer.push(write) {
            self.flush();
        }
        true
    }

    fn flush(&mut self) {
        if self.writer.buffered() == 0 {
            return;
        }
        let InsertState { ctx, writer, .. } = self;
        let before = writer.rows_written;
        let result = backend::run(ctx, async |session| writer.flush(session).await);
        xact::note_written(writer.rows_written - before);
        if let Err(e) = result {
            errors::raise_write(&e, &self.ctx.table_name);
        }
    }
}

/// Per-statement state of an UPDATE or DELETE.
pub struct ChangeState {
    ctx: TableContext,
    bindings: Vec<Binding>,
    /// The row-identity columns: junk attribute number in the plan slot, column, type.
    identity: Vec<(pg_sys::AttrNumber, &'static Column, pg_sys::Oid)>,
    /// The columns an UPDATE sets.
    updated: Vec<&'static str>,
    writer: ChangeWriter,
    rows_seen: u64,
}

impl ChangeState {
    unsafe fn identity_values(&self, plan_slot: *mut pg_sys::TupleTableSlot) -> Vec<(&'static Column, Value)> {
        self.identity
            .iter()
            .map(|(attno, column, typoid)| {
                let mut isnull = false;
                let datum = pg_sys::slot_getattr(plan_slot, *attno as c_int, &mut isnull);
                let value = if isnull { Value::Null } else { datum_to_value(datum, *typoid).unwrap_or(Value::Null) };
                (*column, value)
            })
            .collect()
    }

    /// Buffers the change of one row: an update when `new_slot` holds the new row, else a delete.
    unsafe fn change(&mut self, plan_slot: *mut pg_sys::TupleTableSlot, new_slot: Option<*mut pg_sys::TupleTableSlot>) {
        self.rows_seen += 1;
        let written = self.writer.rows_changed;
        let old = self.identity_values(plan_slot);
        let changes = match new_slot {
            Some(slot) => {
                let mut new = slot_values(slot, &self.bindings, &self.ctx.table_name, self.rows_seen, written);
                apply_input_policy(&self.ctx.input, &mut new)
                    .and_then(|()| update_changes(self.ctx.resource, &old, &new, &self.updated))
            }
            None => delete_change(self.ctx.resource, &old).map(|c| vec![c]),
        };
        let changes =
            changes.unwrap_or_else(|e| errors::raise_value(&e, &self.ctx.table_name, self.rows_seen, written));
        self.push(changes);
    }

    fn push(&mut self, changes: Vec<cdf_tables::Change>) {
        let mut full = false;
        for change in changes {
            full |= self.writer.push(change);
        }
        if full {
            self.flush();
        }
    }

    fn flush(&mut self) {
        if self.writer.buffered() == 0 {
            return;
        }
        let ChangeState { ctx, writer, .. } = self;
        let before = writer.rows_changed;
        let result: Result<(), WriteError> = backend::run(ctx, async |session| writer.flush(session).await);
        xact::note_written(writer.rows_changed - before);
        if let Err(e) = result {
            errors::raise_write(&e, &self.ctx.table_name);
        }
    }
}

/// One per statement and table, in the executor's memory context: its size does not matter.
#[allow(clippy::large_enum_variant)]
pub enum ModifyState {
    Insert(InsertState),
    Change(ChangeState),
    View(crate::view_modify::ViewModify),
}

impl ModifyState {
    fn flush(&mut self) {
        match self {
            ModifyState::Insert(s) => s.flush(),
            ModifyState::Change(s) => s.flush(),
            ModifyState::View(s) => s.flush(),
        }
    }
}

unsafe fn state<'a>(rinfo: *mut pg_sys::ResultRelInfo) -> Option<&'a mut ModifyState> {
    ((*rinfo).ri_FdwState as *mut ModifyState).as_mut()
}

/// The role whose user mapping a modify uses (see `table_context`).
unsafe fn modify_user(mtstate: *mut pg_sys::ModifyTableState, rinfo: *mut pg_sys::ResultRelInfo) -> pg_sys::Oid {
    let estate = if mtstate.is_null() { std::ptr::null_mut() } else { (*mtstate).ps.state };
    crate::compat::modify_user(rinfo, estate)
}

/// Keeps the state in the executor's query memory context, so an aborted statement drops it.
unsafe fn install(rinfo: *mut pg_sys::ResultRelInfo, state: ModifyState) {
    let ptr = PgMemoryContexts::CurrentMemoryContext.leak_and_drop_on_delete(state);
    (*rinfo).ri_FdwState = ptr as *mut std::ffi::c_void;
}

/// Name of the junk column that carries an identity column through UPDATE/DELETE plans.
fn identity_junk_name(column: &str) -> CString {
    CString::new(format!("cdf_{column}")).expect("no NUL in column names")
}

/// Live attribute names of a relation, in order.
unsafe fn attribute_names(rel: pg_sys::Relation) -> Vec<(pg_sys::AttrNumber, String)> {
    PgTupleDesc::from_pg_unchecked((*rel).rd_att)
        .iter()
        .enumerate()
        .filter(|(_, a)| !a.is_dropped())
        .map(|(i, a)| ((i + 1) as pg_sys::AttrNumber, a.name().to_string()))
        .collect()
}

unsafe fn identity_of(
    rel: pg_sys::Relation,
    table: &str,
    resource: &'static cdf_tables::Resource,
) -> Vec<&'static str> {
    let names = attribute_names(rel);
    let present: Vec<&str> = names.iter().map(|(_, n)| n.as_str()).collect();
    identity_columns(resource, &present).unwrap_or_else(|| {
        errors::raise(
            PgSqlErrorCode::ERRCODE_FDW_COLUMN_NAME_NOT_FOUND,
            format!("foreign table \"{table}\" lacks the columns that identify a row of {} in CDF", resource.table),
            Some("Add the id or external_id column (the key columns for datapoints, sequence rows and RAW) to the table.".into()),
        )
    })
}

/// Registers the identity columns as row-identity junk columns of UPDATE and DELETE plans.
#[pg_guard]
pub unsafe extern "C-unwind" fn add_foreign_update_targets(
    root: *mut pg_sys::PlannerInfo,
    rtindex: pg_sys::Index,
    _target_rte: *mut pg_sys::RangeTblEntry,
    target_relation: pg_sys::Relation,
) {
    if is_view_table((*target_relation).rd_id) {
        return crate::view_modify::add_update_targets(root, rtindex, target_relation);
    }
    let (resource, table) = table_resource((*target_relation).rd_id);
    let names = attribute_names(target_relation);
    let tupdesc = (*target_relation).rd_att;
    for column in identity_of(target_relation, &table, resource) {
        let (attno, _) = names.iter().find(|(_, n)| n == column).expect("identity columns exist");
        let attr = PgTupleDesc::from_pg_unchecked(tupdesc).get(*attno as usize - 1).copied().expect("attribute");
        let var = pg_sys::makeVar(rtindex as _, *attno, attr.atttypid, attr.atttypmod, attr.attcollation, 0);
        let junk = identity_junk_name(column);
        pg_sys::add_row_identity_var(root, var, rtindex, pg_sys::pstrdup(junk.as_ptr()));
    }
}

#[pg_guard]
pub unsafe extern "C-unwind" fn plan_foreign_modify(
    root: *mut pg_sys::PlannerInfo,
    plan: *mut pg_sys::ModifyTable,
    result_relation: pg_sys::Index,
    subplan_index: c_int,
) -> *mut pg_sys::List {
    let rte = *(*root).simple_rte_array.add(result_relation as usize);
    if is_view_table((*rte).relid) {
        return crate::view_modify::plan(root, plan, rte, subplan_index);
    }
    let (resource, table) = table_resource((*rte).relid);
    let unsupported = |what: &str| {
        errors::raise(
            PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
            format!("CDF does not support {what} on {} (table \"{table}\")", resource.table),
            Some(match what {
                "UPDATE" => {
                    "Its objects cannot be changed once created; DELETE and INSERT again where CDF allows it.".into()
                }
                _ => "CDF has no delete endpoint for this resource.".into(),
            }),
        )
    };
    let operation = (*plan).operation;
    let changes = matches!(operation, pg_sys::CmdType::CMD_UPDATE | pg_sys::CmdType::CMD_DELETE);
    if changes && !crate::plan::has_where_clause(root) && !ALLOW_UNQUALIFIED_CHANGES.get() {
        let verb = if operation == pg_sys::CmdType::CMD_UPDATE { "UPDATE" } else { "DELETE" };
        errors::raise(
            PgSqlErrorCode::ERRCODE_CARDINALITY_VIOLATION,
            format!(
                "{verb} without WHERE on CDF table \"{table}\" would change every object of {} in CDF",
                resource.table
            ),
            Some(format!(
                "Add a WHERE clause, or SET cdf_fdw.allow_unqualified_changes = on for this session \
                 (ALTER ROLE ... SET for a role) if you mean every {}.",
                resource.table
            )),
        );
    }
    let mut private = ModifyPrivate::default();
    match operation {
        pg_sys::CmdType::CMD_UPDATE if !resource.supports_update => unsupported("UPDATE"),
        pg_sys::CmdType::CMD_DELETE if !resource.supports_delete() => unsupported("DELETE"),
        pg_sys::CmdType::CMD_UPDATE => private.updated = crate::plan::updated_attnos(root, rte),
        _ => {}
    }
    crate::plan::statement_flags(&mut private, plan, subplan_index);
    private.to_list()
}

#[pg_guard]
pub unsafe extern "C-unwind" fn begin_foreign_modify(
    mtstate: *mut pg_sys::ModifyTableState,
    rinfo: *mut pg_sys::ResultRelInfo,
    fdw_private: *mut pg_sys::List,
    _subplan_index: c_int,
    eflags: c_int,
) {
    if eflags & pg_sys::EXEC_FLAG_EXPLAIN_ONLY as c_int != 0 {
        return;
    }
    let private = ModifyPrivate::from_list(fdw_private);
    let rel = (*rinfo).ri_RelationDesc;
    if is_view_table((*rel).rd_id) {
        let user = modify_user(mtstate, rinfo);
        let state = if (*mtstate).operation == pg_sys::CmdType::CMD_INSERT {
            crate::view_modify::ViewModify::insert(rel, user, private.on_conflict_do_nothing)
        } else {
            crate::view_modify::ViewModify::change(mtstate, rel, user, &private)
        };
        install(rinfo, ModifyState::View(state));
        return;
    }
    if (*mtstate).operation == pg_sys::CmdType::CMD_INSERT {
        let state = InsertState::new(mtstate, rinfo, private.on_conflict_do_nothing, private.returning);
        install(rinfo, ModifyState::Insert(state));
        return;
    }
    let rel = (*rinfo).ri_RelationDesc;
    let ctx = table_context((*rel).rd_id, modify_user(mtstate, rinfo));
    let bindings = bind_columns(rel, ctx.resource, &ctx.table_name);
    let subplan = (*(*mtstate).ps.lefttree).plan;
    let identity = identity_of(rel, &ctx.table_name, ctx.resource)
        .into_iter()
        .map(|column| {
            let junk = identity_junk_name(column);
            let attno = pg_sys::ExecFindJunkAttributeInTlist((*subplan).targetlist, junk.as_ptr());
            let binding = bindings.iter().find(|b| b.column.name == column).expect("identity columns are bound");
            (attno, binding.column, binding.typoid)
        })
        .collect();
    let updated = private
        .updated
        .iter()
        .filter_map(|attno| bindings.iter().find(|b| b.attidx + 1 == *attno as usize))
        .map(|b| b.column.name)
        .collect();
    let mut writer = ChangeWriter::new(ctx.resource);
    if (*mtstate).operation == pg_sys::CmdType::CMD_UPDATE && ctx.resource.overwrites_by_key() {
        // The scan must not read rows this UPDATE writes, nor may a chunk's delete of old keys
        // remove rows an earlier chunk wrote: hold everything until the scan has ended.
        writer.defer_until_end();
    }
    install(rinfo, ModifyState::Change(ChangeState { ctx, bindings, identity, updated, writer, rows_seen: 0 }));
}

#[pg_guard]
pub unsafe extern "C-unwind" fn begin_foreign_insert(
    mtstate: *mut pg_sys::ModifyTableState,
    rinfo: *mut pg_sys::ResultRelInfo,
) {
    // COPY, or rows routed into a foreign partition: RETURNING as the partition's parent has it.
    let returning = !(*rinfo).ri_projectReturning.is_null();
    let rel = (*rinfo).ri_RelationDesc;
    if is_view_table((*rel).rd_id) {
        let state = crate::view_modify::ViewModify::insert(rel, modify_user(mtstate, rinfo), false);
        install(rinfo, ModifyState::View(state));
        return;
    }
    install(rinfo, ModifyState::Insert(InsertState::new(mtstate, rinfo, false, returning)));
}

#[pg_guard]
pub unsafe extern "C-unwind" fn exec_foreign_insert(
    _estate: *mut pg_sys::EState,
    rinfo: *mut pg_sys::ResultRelInfo,
    slot: *mut pg_sys::TupleTableSlot,
    _plan_slot: *mut pg_sys::TupleTableSlot,
) -> *mut pg_sys::TupleTableSlot {
    if let Some(ModifyState::View(state)) = state(rinfo) {
        state.insert_row(slot);
        return slot;
    }
    if let Some(ModifyState::Insert(state)) = state(rinfo) {
        if !state.insert(slot) {
            // Skipped as existing (insert_mode ignore): not inserted, not returned, not counted.
            return std::ptr::null_mut();
        }
    }
    slot
}

#[pg_guard]
pub unsafe extern "C-unwind" fn exec_foreign_update(
    _estate: *mut pg_sys::EState,
    rinfo: *mut pg_sys::ResultRelInfo,
    slot: *mut pg_sys::TupleTableSlot,
    plan_slot: *mut pg_sys::TupleTableSlot,
) -> *mut pg_sys::TupleTableSlot {
    match state(rinfo) {
        Some(ModifyState::Change(state)) => state.change(plan_slot, Some(slot)),
        Some(ModifyState::View(state)) => state.change_row(plan_slot, Some(slot)),
        _ => {}
    }
    slot
}

#[pg_guard]
pub unsafe extern "C-unwind" fn exec_foreign_delete(
    _estate: *mut pg_sys::EState,
    rinfo: *mut pg_sys::ResultRelInfo,
    slot: *mut pg_sys::TupleTableSlot,
    plan_slot: *mut pg_sys::TupleTableSlot,
) -> *mut pg_sys::TupleTableSlot {
    match state(rinfo) {
        Some(ModifyState::Change(state)) => state.change(plan_slot, None),
        Some(ModifyState::View(state)) => state.change_row(plan_slot, None),
        _ => {}
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
    match state(rinfo) {
        Some(ModifyState::Insert(state)) => {
            for i in 0..(*num_slots).max(0) as usize {
                state.insert(*slots.add(i));
            }
        }
        Some(ModifyState::View(state)) => {
            for i in 0..(*num_slots).max(0) as usize {
                state.insert_row(*slots.add(i));
            }
        }
        _ => {}
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
        Some(ModifyState::Insert(s)) => s.ctx.resource.rows_per_request().clamp(1, 1000) as c_int,
        Some(ModifyState::View(_)) => crate::view_modify::batch_size(),
        _ => 1,
    }
}

/// End of a modify or of a COPY: sends what is still buffered.
#[pg_guard]
pub unsafe extern "C-unwind" fn end_foreign_modify(_estate: *mut pg_sys::EState, rinfo: *mut pg_sys::ResultRelInfo) {
    if let Some(state) = state(rinfo) {
        state.flush();
    }
}

#[pg_guard]
pub unsafe extern "C-unwind" fn is_foreign_rel_updatable(rel: pg_sys::Relation) -> c_int {
    if is_view_table((*rel).rd_id) {
        return [pg_sys::CmdType::CMD_INSERT, pg_sys::CmdType::CMD_UPDATE, pg_sys::CmdType::CMD_DELETE]
            .iter()
            .fold(0, |ops, op| ops | 1 << *op as c_int);
    }
    let (resource, _) = table_resource((*rel).rd_id);
    let mut ops = 1 << pg_sys::CmdType::CMD_INSERT as c_int;
    if resource.supports_update {
        ops |= 1 << pg_sys::CmdType::CMD_UPDATE as c_int;
    }
    if resource.supports_delete() {
        ops |= 1 << pg_sys::CmdType::CMD_DELETE as c_int;
    }
    ops
}

#[pg_guard]
pub unsafe extern "C-unwind" fn explain_foreign_modify(
    mtstate: *mut pg_sys::ModifyTableState,
    rinfo: *mut pg_sys::ResultRelInfo,
    _fdw_private: *mut pg_sys::List,
    _subplan_index: c_int,
    es: *mut pg_sys::ExplainState,
) {
    if is_view_table((*(*rinfo).ri_RelationDesc).rd_id) {
        return crate::view_modify::explain((*mtstate).operation, es);
    }
    if (*mtstate).operation != pg_sys::CmdType::CMD_INSERT {
        let (resource, _) = table_resource((*(*rinfo).ri_RelationDesc).rd_id);
        let endpoint = resource.change_endpoint((*mtstate).operation == pg_sys::CmdType::CMD_DELETE);
        let endpoint = CString::new(endpoint).unwrap();
        pg_sys::ExplainPropertyText(c"CDF Endpoint".as_ptr(), endpoint.as_ptr(), es);
        return;
    }
    let ctx = table_context((*(*rinfo).ri_RelationDesc).rd_id, modify_user(mtstate, rinfo));
    let plan = (*mtstate).ps.plan as *mut pg_sys::ModifyTable;
    let do_nothing = !plan.is_null() && (*plan).onConflictAction == pg_sys::OnConflictAction::ONCONFLICT_NOTHING;
    let mode = ctx.resource.effective_insert_mode(if do_nothing { InsertMode::Ignore } else { ctx.insert_mode });
    let endpoint = std::ffi::CString::new(ctx.resource.write_endpoint()).unwrap();
    let mode = std::ffi::CString::new(format!("{mode:?}").to_lowercase()).unwrap();
    pg_sys::ExplainPropertyText(c"CDF Endpoint".as_ptr(), endpoint.as_ptr(), es);
    pg_sys::ExplainPropertyInteger(
        c"Rows per Request".as_ptr(),
        std::ptr::null(),
        ctx.resource.rows_per_request() as i64,
        es,
    );
    pg_sys::ExplainPropertyText(c"Insert Mode".as_ptr(), mode.as_ptr(), es);
}
