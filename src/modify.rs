//! INSERT (row and batch), COPY FROM, UPDATE and DELETE, and their planning callbacks.
//!
//! PostgreSQL 15 hands COPY rows to `ExecForeignInsert` one at a time, so rows are buffered here
//! and sent in chunks of the endpoint's maximum; the rest goes out at `End*`. The buffer is the
//! only place rows wait, so backend memory is bounded by one chunk whatever the size of the COPY.

use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::c_int;
use std::ffi::CString;

use cdf_client::references::{ExternalIdFiller, Pushed, ReferenceError, ReferenceResolver, Resolved, RowReferences};
use cdf_client::{ChangeWriter, HierarchyOrder, TableWriter, WriteError};
use cdf_tables::options::BatchScope;
use cdf_tables::writes as cdf_row;
use cdf_tables::{
    apply_input_policy, delete_change, identity_columns, insert_update_change, mark_cleared_fields, row_references,
    row_to_write, update_changes, Change, Column, DeleteUnknown, InsertMode, NullValues, Value, WriteKind,
};
use pgrx::pg_sys;
use pgrx::prelude::*;
use pgrx::{PgMemoryContexts, PgTupleDesc};

use crate::backend;
use crate::batch;
use crate::context::{is_view_table, table_context, table_resource, TableContext};
use crate::convert::datum_to_value;
use crate::errors;
use crate::plan::ModifyPrivate;
use crate::settings::ALLOW_UNQUALIFIED_CHANGES;
use crate::tuple::{bind_columns, slot_values, store_row, Binding};
use crate::typed_raw::{is_typed_raw, BoundTypedRaw};
use crate::xact;

/// Per-statement state of an INSERT or COPY into one foreign table.
pub struct InsertState {
    ctx: TableContext,
    bindings: Vec<Binding>,
    writer: TableWriter,
    rows_seen: u64,
    /// RETURNING needs CDF's object (ids, times) for each row: such rows are sent one by one.
    returning: bool,
    /// Assets: rows whose parent is not in CDF yet wait here until it is (not with RETURNING,
    /// which must answer each row at once).
    hierarchy: Option<HierarchyOrder>,
    /// insert_mode 'update' or 'delete': rows become `/update` or `/delete` of existing objects.
    changes: Option<ChangeWriter>,
    /// Set when the table has columns that name objects by external id: rows wait here for
    /// the batched lookup of the ids.
    references: Option<ReferenceResolver<Payload>>,
    /// `batch_scope 'transaction'`: the table whose transaction-wide batch takes the rows.
    batched: Option<pg_sys::Oid>,
    /// A typed RAW table: its rows are written as raw_rows rows.
    typed: Option<BoundTypedRaw>,
    mode: InsertMode,
    /// Set while the backend waits for CDF: still set in `drop` when a cancel or timeout
    /// interrupted that wait, and then the requests in flight are abandoned at once.
    waiting: bool,
}

/// What a row of an INSERT becomes: a write, or (insert_mode update/delete) a change.
enum Payload {
    Write(cdf_row::WriteRow),
    Change(Change),
}

/// Rows between two moments in which the requests in flight progress while a statement
/// produces rows (RAW requests carry 5,000 rows, about 700 kB, more than a socket buffer holds).
const PROGRESS_EVERY_ROWS: u64 = 256;

impl InsertState {
    unsafe fn new(
        mtstate: *mut pg_sys::ModifyTableState,
        rinfo: *mut pg_sys::ResultRelInfo,
        on_conflict_do_nothing: bool,
        returning: bool,
    ) -> InsertState {
        let rel = (*rinfo).ri_RelationDesc;
        let ctx = table_context((*rel).rd_id, modify_user(mtstate, rinfo));
        let typed = is_typed_raw((*rel).rd_id).then(|| crate::typed_raw::bind(rel, &ctx.table_name));
        let bindings = if typed.is_some() { Vec::new() } else { table_bindings(rel, &ctx) };
        let mode = if on_conflict_do_nothing { InsertMode::Ignore } else { ctx.insert_mode };
        let returning = returning && ctx.resource.returns_objects();
        let changes = mode.changes_existing().then(|| change_writer_for_insert(&ctx, mode, returning));
        // Transaction scope gathers plain writes (not RETURNING, not insert_mode update/delete);
        // its rows go in input order, without the hierarchy's reordering.
        let transaction_scope = crate::settings::batch_scope(ctx.batch_scope) == BatchScope::Transaction;
        let batched = (transaction_scope && !returning && changes.is_none()).then_some((*rel).rd_id);
        if batched.is_none() {
            // Rows batched earlier in the transaction reach CDF before this statement's.
            batch::flush_all();
        }
        // Only rows that can name a parent need ordering.
        let binds_parent = bindings.iter().any(|b| b.column.names_parent());
        let hierarchy =
            (ctx.resource.has_hierarchy() && binds_parent && !returning && changes.is_none() && batched.is_none())
                .then(|| HierarchyOrder::new(ctx.resource, ctx.hierarchy_buffer_mb));
        let binds_references = bindings.iter().any(|b| b.column.reference().is_some());
        let references =
            (binds_references && mode != InsertMode::Delete).then(|| ReferenceResolver::new(ctx.unknown_references));
        let mut writer = TableWriter::new(ctx.resource, mode);
        writer.set_max_concurrency(ctx.max_concurrent_requests);
        InsertState {
            writer,
            ctx,
            bindings,
            rows_seen: 0,
            returning,
            hierarchy,
            changes,
            references,
            batched,
            typed,
            mode,
            waiting: false,
        }
    }

    fn rows_written(&self) -> u64 {
        self.writer.rows_written + self.changes.as_ref().map_or(0, |c| c.rows_changed)
    }

    /// Buffers (or, for RETURNING, sends) one row; false when it was skipped as existing.
    unsafe fn insert(&mut self, slot: *mut pg_sys::TupleTableSlot) -> bool {
        self.rows_seen += 1;
        let row_number = self.rows_seen;
        let written = self.rows_written();
        let row = match &self.typed {
            Some(typed) => typed.slot_row(slot),
            None => slot_values(slot, &self.bindings),
        };
        let row = row.and_then(|mut row| {
            apply_input_policy(&self.ctx.input, &mut row)?;
            Ok(row)
        });
        let row = row.unwrap_or_else(|e| self.raise_value(e, row_number));
        let references = match &self.references {
            Some(_) => row_references(&row).unwrap_or_else(|e| self.raise_value(e, row_number)),
            None => Vec::new(),
        };
        let clear_nulls = self.ctx.null_values == NullValues::Clear;
        let payload = if self.changes.is_some() {
            let change = match self.ctx.insert_mode {
                InsertMode::Update => insert_update_change(self.ctx.resource, &row, clear_nulls),
                _ => delete_change(self.ctx.resource, &row),
            };
            Payload::Change(change.unwrap_or_else(|e| self.raise_value(e, row_number)))
        } else {
            let mut write = row_to_write(self.ctx.resource, &row).unwrap_or_else(|e| self.raise_value(e, row_number));
            if let (true, cdf_row::WriteRow::Item(item)) = (clear_nulls, &mut write) {
                mark_cleared_fields(item, &row);
            }
            Payload::Write(write)
        };
        if self.returning {
            let Payload::Write(cdf_row::WriteRow::Item(mut item)) = payload else {
                unreachable!("returns_objects covers items only")
            };
            // The external ids RETURNING shows are those of what CDF stored.
            let mut filler = ExternalIdFiller::new(
                self.bindings.iter().filter_map(|b| b.column.reference().map(|r| (b.column, r))).collect(),
            );
            if !references.is_empty() {
                let resolved = self.resolve_now(row_number, references);
                cdf_client::references::place_in_item(&mut item, resolved);
            }
            let InsertState { ctx, writer, .. } = self;
            let result = backend::run(ctx, async |session| {
                let mut object = writer.write_returning(session, item).await?;
                if let (Some(filler), Some(object)) = (filler.as_mut(), object.as_mut()) {
                    filler.fill(session, std::iter::once(object)).await.map_err(|error| WriteError {
                        error,
                        rows_written: writer.rows_written,
                        rows_in_failed_chunk: 0,
                    })?;
                }
                Ok(object)
            });
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
        if let Some(relid) = self.batched {
            let Payload::Write(mut write) = payload else { unreachable!("changes are never batched") };
            if !references.is_empty() {
                // Resolved at once (the batch holds finished rows only), after the rows batched
                // for other tables are in CDF: the assets these events name may be among them.
                batch::flush_others(relid);
                let resolved = self.resolve_now(row_number, references);
                if let cdf_row::WriteRow::Item(item) = &mut write {
                    cdf_client::references::place_in_item(item, resolved);
                }
            }
            batch::push(relid, &self.ctx, self.mode, write);
            return true;
        }
        match &mut self.references {
            Some(resolver) if !references.is_empty() => match resolver.push(row_number, payload, references) {
                Pushed::Ready(resolved) => self.send_resolved(resolved),
                Pushed::Waiting { lookup_due: true } => self.resolve_references(),
                Pushed::Waiting { lookup_due: false } => {}
            },
            Some(resolver) if resolver.pending() > 0 => {
                // Behind rows that wait for their lookups, so rows reach CDF in statement order.
                if let Pushed::Waiting { lookup_due: true } = resolver.push(row_number, payload, Vec::new()) {
                    self.resolve_references();
                }
            }
            _ => self.send(row_number, payload),
        }
        true
    }

    /// A bad value: the requests in flight finish first, so the error counts what CDF accepted.
    fn raise_value(&mut self, e: cdf_tables::ValueError, row: u64) -> ! {
        self.send_requests(true, false);
        errors::raise_value(&e, &self.ctx.table_name, row, self.rows_written())
    }

    /// Resolves the references of one row at once (RETURNING answers each row as it comes; a transaction's batch holds finished rows).
    fn resolve_now(&mut self, row: u64, references: RowReferences) -> Vec<(cdf_tables::Reference, serde_json::Value)> {
        let mut resolver = ReferenceResolver::new(self.ctx.unknown_references);
        let _ = resolver.push(row, (), references);
        let result = backend::run(&self.ctx, async |session| resolver.resolve(session).await);
        let resolved = self.raise_reference_error(result);
        if let Some(r) = self.references.as_mut() {
            r.dropped.extend(resolver.dropped);
        }
        resolved.into_iter().next().map(|r| r.ids).unwrap_or_default()
    }

    fn raise_reference_error<T>(&self, result: Result<T, ReferenceError>) -> T {
        match result {
            Ok(v) => v,
            Err(ReferenceError::Cdf(e)) => {
                errors::raise_cdf(&e, Some(&format!("looking up references of CDF table \"{}\"", self.ctx.table_name)))
            }
            Err(ReferenceError::Unknown(u)) => {
                let e = cdf_tables::ValueError {
                    column: u.column,
                    kind: cdf_tables::ValueErrorKind::UnknownReference,
                    message: format!("\"{}\" is not the external id of any {} in CDF", u.external_id, u.noun),
                };
                errors::raise_value(&e, &self.ctx.table_name, u.row, self.rows_written())
            }
        }
    }

    /// Looks up what the waiting rows refer to and sends them on.
    fn resolve_references(&mut self) {
        let Some(resolver) = self.references.as_mut() else { return };
        if resolver.pending() == 0 {
            return;
        }
        let result = backend::run(&self.ctx, async |session| resolver.resolve(session).await);
        for resolved in self.raise_reference_error(result) {
            self.send_resolved(resolved);
        }
    }

    fn send_resolved(&mut self, resolved: Resolved<Payload>) {
        let Resolved { row, mut payload, ids } = resolved;
        match &mut payload {
            Payload::Write(cdf_row::WriteRow::Item(item)) => cdf_client::references::place_in_item(item, ids),
            Payload::Change(Change::ItemUpdate(update)) => cdf_client::references::place_in_update(update, ids),
            _ => {}
        }
        self.send(row, payload);
    }

    /// Hands a finished row to its writer (through the hierarchy for assets).
    fn send(&mut self, row: u64, payload: Payload) {
        let write = match payload {
            Payload::Change(change) => {
                let full = self.changes.as_mut().is_some_and(|c| c.push(change));
                if full {
                    self.flush_changes();
                }
                return;
            }
            Payload::Write(write) => write,
        };
        if let Some(hierarchy) = &mut self.hierarchy {
            let cdf_row::WriteRow::Item(item) = write else { unreachable!("assets are items") };
            if hierarchy.offer(&mut self.writer, row, item) {
                self.drive_hierarchy();
            }
            return;
        }
        if self.writer.needs_flush_before(&write) {
            self.send_requests(false, true);
        }
        if self.writer.push_numbered(write, row) {
            self.send_requests(false, true);
        } else if row.is_multiple_of(PROGRESS_EVERY_ROWS) && self.writer.in_flight() > 0 {
            backend::run(&self.ctx, async |_| cdf_client::runtime::let_requests_progress().await);
        }
    }

    /// Sends what the hierarchy released and looks parents up when due.
    fn drive_hierarchy(&mut self) {
        let InsertState { ctx, writer, hierarchy, waiting, .. } = self;
        let Some(hierarchy) = hierarchy else { return };
        let before = writer.rows_written;
        *waiting = true;
        let result = backend::run(ctx, async |session| hierarchy.drive(session, writer).await);
        *waiting = false;
        xact::note_written(writer.rows_written - before);
        if let Err(e) = result {
            errors::raise_hierarchy(&e, &self.ctx.table_name);
        }
    }

    /// The rows of insert_mode update/delete so far reach CDF.
    fn flush_changes(&mut self) {
        let Some(changes) = &mut self.changes else { return };
        let before = changes.rows_changed;
        let result = backend::run(&self.ctx, async |session| changes.flush(session).await);
        xact::note_written(changes.rows_changed - before);
        if let Err(e) = result {
            errors::raise_write(&e, &self.ctx.table_name);
        }
    }

    /// End of the statement's plain writes: everything buffered reaches CDF, and every request
    /// has answered.
    fn flush(&mut self) {
        if self.changes.is_some() {
            return self.flush_changes();
        }
        self.send_requests(true, true);
    }

    /// Starts requests for what is buffered (`buffered`) while earlier ones are in flight, and
    /// with `wait` waits for all of them; raises the first failure.
    fn send_requests(&mut self, wait: bool, buffered: bool) {
        if self.writer.in_flight() == 0 && (!buffered || self.writer.buffered() == 0) {
            return;
        }
        let InsertState { ctx, writer, waiting, .. } = self;
        let before = writer.rows_written;
        *waiting = true;
        let result = backend::run(ctx, async |session| {
            if buffered {
                writer.send_buffered(session).await?;
            }
            if wait {
                writer.wait_in_flight().await?;
            }
            Ok(())
        });
        *waiting = false;
        xact::note_written(writer.rows_written - before);
        if let Err(e) = result {
            errors::raise_write(&e, &self.ctx.table_name);
        }
    }

    /// End of the statement: everything still buffered or waiting goes out; assets whose
    /// parents never came are reported.
    fn finish(&mut self) {
        self.resolve_references();
        if let Some(resolver) = &self.references {
            if !resolver.dropped.is_empty() {
                let counts: Vec<String> =
                    resolver.dropped.iter().map(|(column, n)| format!("{n} in column \"{column}\"")).collect();
                pgrx::notice!(
                    "{} reference(s) by external id of CDF table \"{}\" named nothing in CDF and were left out: {}",
                    resolver.dropped.iter().map(|(_, n)| n).sum::<u64>(),
                    self.ctx.table_name,
                    counts.join(", ")
                );
            }
        }
        let InsertState { ctx, writer, hierarchy, waiting, .. } = self;
        let Some(hierarchy) = hierarchy else { return self.flush() };
        let before = writer.rows_written;
        *waiting = true;
        let result = backend::run(ctx, async |session| hierarchy.finish(session, writer).await);
        *waiting = false;
        xact::note_written(writer.rows_written - before);
        match result {
            Err(e) => errors::raise_hierarchy(&e, &self.ctx.table_name),
            Ok(unwritten) if !unwritten.is_empty() => {
                errors::raise_unwritten(&unwritten, &self.ctx.table_name, self.writer.rows_written)
            }
            Ok(_) => {}
        }
    }
}

thread_local! {
    /// Column bindings per foreign table, kept until an invalidation of it (see `invalidation`).
    static BINDINGS: RefCell<HashMap<pg_sys::Oid, Vec<Binding>>> = RefCell::new(HashMap::new());
}

/// Drops the cached bindings of `relid` (or of every table), on a catalog invalidation.
pub fn forget(relid: Option<pg_sys::Oid>) {
    BINDINGS.with_borrow_mut(|b| match relid {
        Some(relid) => {
            b.remove(&relid);
        }
        None => b.clear(),
    });
}

/// `bind_columns` of a foreign table, cached: a row-at-a-time client binds once.
unsafe fn table_bindings(rel: pg_sys::Relation, ctx: &TableContext) -> Vec<Binding> {
    let relid = (*rel).rd_id;
    if let Some(bindings) = BINDINGS.with_borrow(|b| b.get(&relid).cloned()) {
        return bindings;
    }
    let generation = crate::invalidation::generation("column bindings", forget);
    let bindings = bind_columns(rel, ctx.resource, &ctx.table_name);
    if crate::invalidation::unchanged_since(generation) {
        BINDINGS.with_borrow_mut(|b| b.insert(relid, bindings.clone()));
    }
    bindings
}

/// The writer of an INSERT whose insert_mode changes existing objects, refusing tables and
/// statements where that cannot work.
fn change_writer_for_insert(ctx: &TableContext, mode: InsertMode, returning: bool) -> ChangeWriter {
    let resource = ctx.resource;
    let refuse = |why: String, hint: &str| -> ! {
        errors::raise(PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED, why, Some(hint.to_string()))
    };
    let is_items = matches!(resource.write, WriteKind::Items { .. } | WriteKind::File);
    if mode == InsertMode::Update && !(resource.supports_update && is_items) {
        refuse(
            format!("insert_mode 'update' is not available for CDF table \"{}\" ({})", ctx.table_name, resource.table),
            "It updates objects of resources with an /update endpoint (assets, events, files, time series, ...); \
             tables CDF overwrites by key (datapoints, RAW rows, sequence rows) take plain inserts.",
        );
    }
    if mode == InsertMode::Delete && !resource.supports_delete() {
        refuse(
            format!("insert_mode 'delete' is not available for CDF table \"{}\" ({})", ctx.table_name, resource.table),
            "CDF has no delete endpoint for this resource.",
        );
    }
    if returning {
        refuse(
            format!("RETURNING is not supported with insert_mode '{}'", format!("{mode:?}").to_lowercase()),
            "Leave RETURNING out, or SELECT the objects afterwards.",
        );
    }
    let mut writer = ChangeWriter::new(resource);
    if mode == InsertMode::Delete && ctx.delete_unknown == DeleteUnknown::Error {
        writer.strict_deletes();
    }
    writer
}

/// A statement that an error aborts may still have requests in flight: PostgreSQL frees its
/// executor memory (and so this state) before the abort's WARNING is written, so wait here
/// (briefly, interrupts are held during abort) for CDF's answers and count their rows. Raises
/// nothing: the statement's error is already on its way. After a normal end nothing is in
/// flight; after a cancel or timeout of a wait for CDF the requests are abandoned, promptly.
impl Drop for InsertState {
    fn drop(&mut self) {
        if self.writer.in_flight() == 0 || self.waiting {
            return;
        }
        let InsertState { ctx, writer, .. } = self;
        let before = writer.rows_written;
        backend::run(ctx, async |_session| writer.settle_within(SETTLE_ON_ABORT).await);
        xact::note_written(writer.rows_written - before);
    }
}

/// How long an aborted statement waits for CDF to answer requests already sent.
const SETTLE_ON_ABORT: std::time::Duration = std::time::Duration::from_secs(5);

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
    /// A typed RAW table: the junk attribute of its key column, and the table.
    typed: Option<(pg_sys::AttrNumber, BoundTypedRaw)>,
}

impl ChangeState {
    unsafe fn identity_values(&self, plan_slot: *mut pg_sys::TupleTableSlot) -> Vec<(&'static Column, Value)> {
        if let Some((attno, typed)) = &self.typed {
            let mut isnull = false;
            let datum = pg_sys::slot_getattr(plan_slot, *attno as c_int, &mut isnull);
            let key_type = typed.bindings[typed.table.key].typoid;
            return typed.identity((!isnull).then_some((datum, key_type)));
        }
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
            Some(slot) => match &self.typed {
                Some((_, typed)) => typed.slot_row(slot),
                None => slot_values(slot, &self.bindings),
            }
            .and_then(|mut new| {
                apply_input_policy(&self.ctx.input, &mut new)?;
                update_changes(self.ctx.resource, &old, &new, &self.updated)
            }),
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
            ModifyState::Insert(s) => s.finish(),
            ModifyState::Change(s) => s.flush(),
            ModifyState::View(s) => s.flush(),
        }
    }

    /// The CDF requests this node made (EXPLAIN ANALYZE).
    fn usage(&self) -> &std::cell::RefCell<crate::stats::NodeUsage> {
        match self {
            ModifyState::Insert(s) => &s.ctx.usage,
            ModifyState::Change(s) => &s.ctx.usage,
            ModifyState::View(s) => s.usage(),
        }
    }
}

/// EXPLAIN ANALYZE prints before `EndForeignModify`: send what is buffered first, so that the
/// requests shown are all the statement makes.
unsafe fn explain_usage(rinfo: *mut pg_sys::ResultRelInfo, es: *mut pg_sys::ExplainState) {
    if let Some(state) = state(rinfo).filter(|_| (*es).analyze) {
        state.flush();
        crate::stats::explain(&state.usage().borrow(), es);
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

/// Keeps the state in the executor's query memory context, so an aborted statement drops it
/// (an INSERT's requests in flight are settled then, see `impl Drop for InsertState`).
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
    // A typed RAW table's rows are identified by its primary key (database and table are options).
    let identity: Vec<(String, &str)> = match crate::typed_raw::primary_key((*target_relation).rd_id) {
        Some(key) => vec![(key, crate::typed_raw::KEY_COLUMN)],
        None => identity_of(target_relation, &table, resource).into_iter().map(|c| (c.to_string(), c)).collect(),
    };
    for (column, junk_column) in identity {
        let Some((attno, _)) = names.iter().find(|(_, n)| *n == column) else {
            // A dropped primary-key column: the table cannot be bound, say so.
            crate::typed_raw::bind(target_relation, &table);
            unreachable!("binding a table without its key column fails")
        };
        let attr = PgTupleDesc::from_pg_unchecked(tupdesc).get(*attno as usize - 1).copied().expect("attribute");
        let var = pg_sys::makeVar(rtindex as _, *attno, attr.atttypid, attr.atttypmod, attr.attcollation, 0);
        let junk = identity_junk_name(junk_column);
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
            crate::view_modify::ViewModify::insert(rel, user, private.on_conflict_do_nothing, private.returning)
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
    let subplan = (*(*mtstate).ps.lefttree).plan;
    if is_typed_raw((*rel).rd_id) {
        let typed = crate::typed_raw::bind(rel, &ctx.table_name);
        let junk = identity_junk_name(crate::typed_raw::KEY_COLUMN);
        let attno = pg_sys::ExecFindJunkAttributeInTlist((*subplan).targetlist, junk.as_ptr());
        // RAW rows are replaced whole: an UPDATE writes the new row (and deletes the old key
        // when the key changed), after the scan has ended.
        let mut writer = ChangeWriter::new(ctx.resource);
        writer.defer_until_end();
        let state = ChangeState {
            ctx,
            bindings: Vec::new(),
            identity: Vec::new(),
            updated: Vec::new(),
            writer,
            rows_seen: 0,
            typed: Some((attno, typed)),
        };
        install(rinfo, ModifyState::Change(state));
        return;
    }
    let bindings = table_bindings(rel, &ctx);
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
    install(
        rinfo,
        ModifyState::Change(ChangeState { ctx, bindings, identity, updated, writer, rows_seen: 0, typed: None }),
    );
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
        let state = crate::view_modify::ViewModify::insert(rel, modify_user(mtstate, rinfo), false, returning);
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
        if !state.insert_row(slot) {
            // Skipped as existing (insert_mode ignore, ON CONFLICT DO NOTHING) under RETURNING.
            return std::ptr::null_mut();
        }
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
        crate::view_modify::explain((*mtstate).operation, es);
        return explain_usage(rinfo, es);
    }
    if (*mtstate).operation != pg_sys::CmdType::CMD_INSERT {
        let (resource, _) = table_resource((*(*rinfo).ri_RelationDesc).rd_id);
        let endpoint = resource.change_endpoint((*mtstate).operation == pg_sys::CmdType::CMD_DELETE);
        let endpoint = CString::new(endpoint).unwrap();
        pg_sys::ExplainPropertyText(c"CDF Endpoint".as_ptr(), endpoint.as_ptr(), es);
        explain_usage(rinfo, es);
        return;
    }
    let ctx = table_context((*(*rinfo).ri_RelationDesc).rd_id, modify_user(mtstate, rinfo));
    let plan = (*mtstate).ps.plan as *mut pg_sys::ModifyTable;
    let do_nothing = !plan.is_null() && (*plan).onConflictAction == pg_sys::OnConflictAction::ONCONFLICT_NOTHING;
    let mode = ctx.resource.effective_insert_mode(if do_nothing { InsertMode::Ignore } else { ctx.insert_mode });
    let endpoint = match mode {
        InsertMode::Update | InsertMode::Delete => ctx.resource.change_endpoint(mode == InsertMode::Delete),
        _ => ctx.resource.write_endpoint(),
    };
    let endpoint = std::ffi::CString::new(endpoint).unwrap();
    let mode_text = std::ffi::CString::new(format!("{mode:?}").to_lowercase()).unwrap();
    pg_sys::ExplainPropertyText(c"CDF Endpoint".as_ptr(), endpoint.as_ptr(), es);
    pg_sys::ExplainPropertyInteger(
        c"Rows per Request".as_ptr(),
        std::ptr::null(),
        ctx.resource.rows_per_request() as i64,
        es,
    );
    pg_sys::ExplainPropertyText(c"Insert Mode".as_ptr(), mode_text.as_ptr(), es);
    // What InsertState::new will do: RETURNING and insert_mode update/delete go one request at a
    // time and are never batched across the transaction.
    let returning = !plan.is_null() && !(*plan).returningLists.is_null() && ctx.resource.returns_objects();
    let serial = returning || mode.changes_existing();
    let concurrency = if serial { 1 } else { ctx.resource.write_concurrency(ctx.max_concurrent_requests) };
    pg_sys::ExplainPropertyInteger(c"Concurrent Requests".as_ptr(), std::ptr::null(), concurrency as i64, es);
    let scope = if serial { BatchScope::Statement } else { crate::settings::batch_scope(ctx.batch_scope) };
    let scope = CString::new(scope.as_str()).unwrap();
    pg_sys::ExplainPropertyText(c"Batch Scope".as_ptr(), scope.as_ptr(), es);
    explain_usage(rinfo, es);
}
