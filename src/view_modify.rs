//! INSERT, COPY, UPDATE and DELETE on view tables: rows become node or edge writes through the
//! view (`POST /models/instances`, chunks of 1000) or deletes (`/models/instances/delete`).
//! `modify.rs` dispatches here for tables with the `view` option.
//!
//! Writes (upsert, create, UPDATE's patches) go through the concurrent `TableWriter` as items of
//! `cdf_tables::catalogue::INSTANCES`, so requests are in flight side by side and
//! `batch_scope 'transaction'` gathers them like any table's rows. `ignore` (which asks byids
//! first) and DELETE use `InstanceWriter`, one request at a time.

use std::collections::HashSet;
use std::ffi::{c_int, CString};

use cdf_client::instances::{InstanceRead, InstanceWriteError, InstanceWriter};
use cdf_client::{TableWriter, WriteError};
use cdf_tables::options::BatchScope;
use cdf_tables::views::INSTANCES_PER_REQUEST;
use cdf_tables::InsertMode;
use cdf_tables::WriteRow;
use pgrx::pg_sys;
use pgrx::prelude::*;
use serde_json::{json, Value as Json};

use crate::backend;
use crate::context::TableContext;
use crate::errors;
use crate::plan::ModifyPrivate;
use crate::views::{bind_view, raise_row, slot_json, store_instance, BoundView};
use crate::xact;

/// What a statement does to a view table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operation {
    Insert,
    Update,
    Delete,
}

/// Per-statement state of a modify on a view table.
pub struct ViewModify {
    bound: BoundView,
    operation: Operation,
    mode: InsertMode,
    writer: InstanceWriter,
    /// Upsert, create and UPDATE: the concurrent writer, and the external ids it buffers (a node
    /// named twice goes in a later request, after the first, rather than merged into it).
    table_writer: Option<(TableContext, TableWriter, HashSet<String>)>,
    /// `batch_scope 'transaction'`: the table whose transaction-wide batch takes the rows.
    batched: Option<pg_sys::Oid>,
    /// Set while waiting for CDF (see `InsertState::waiting`).
    waiting: bool,
    /// RETURNING: each row is sent at once and read back, so it shows what CDF stored.
    returning: bool,
    rows_seen: u64,
    /// UPDATE/DELETE: junk attribute numbers of `space` (if the table has it) and `external_id`.
    identity: (Option<pg_sys::AttrNumber>, pg_sys::AttrNumber),
    /// UPDATE: the indexes (into the table's columns) of the SET columns.
    updated: Vec<usize>,
}

/// Name of the junk column that carries an identity column through UPDATE/DELETE plans.
fn junk_name(column: &str) -> CString {
    CString::new(format!("cdf_{column}")).expect("no NUL in column names")
}

impl ViewModify {
    /// The CDF requests of this statement: the concurrent writer's connection (a copy of the
    /// table's) when it writes, else the table's.
    pub fn usage(&self) -> &std::cell::RefCell<crate::stats::NodeUsage> {
        match &self.table_writer {
            Some((ctx, ..)) => &ctx.usage,
            None => &self.bound.conn.usage,
        }
    }

    /// State of an INSERT or COPY.
    pub unsafe fn insert(
        rel: pg_sys::Relation,
        user: pg_sys::Oid,
        on_conflict_do_nothing: bool,
        returning: bool,
    ) -> ViewModify {
        let bound = bind_view(rel, user);
        let mode = if on_conflict_do_nothing { InsertMode::Ignore } else { bound.conn.insert_mode };
        let concurrent = mode != InsertMode::Ignore;
        let transaction_scope = crate::settings::batch_scope(bound.conn.batch_scope) == BatchScope::Transaction;
        let batched = (concurrent && transaction_scope && !returning).then_some((*rel).rd_id);
        if batched.is_none() {
            // Rows batched earlier in the transaction reach CDF before this statement's.
            crate::batch::flush_all();
        }
        let table_writer = concurrent.then(|| Self::table_writer(&bound, mode));
        ViewModify {
            bound,
            operation: Operation::Insert,
            mode,
            writer: InstanceWriter::new(mode),
            table_writer,
            batched,
            waiting: false,
            returning,
            rows_seen: 0,
            identity: (None, 0),
            updated: Vec::new(),
        }
    }

    fn table_writer(bound: &BoundView, mode: InsertMode) -> (TableContext, TableWriter, HashSet<String>) {
        let ctx = TableContext { connection: bound.conn.clone(), resource: &cdf_tables::catalogue::INSTANCES };
        let mut writer = TableWriter::new(ctx.resource, mode);
        writer.set_max_concurrency(ctx.max_concurrent_requests);
        (ctx, writer, HashSet::new())
    }

    fn rows_written(&self) -> u64 {
        self.writer.rows_written + self.table_writer.as_ref().map_or(0, |(_, w, _)| w.rows_written)
    }

    /// State of an UPDATE or DELETE.
    pub unsafe fn change(
        mtstate: *mut pg_sys::ModifyTableState,
        rel: pg_sys::Relation,
        user: pg_sys::Oid,
        private: &ModifyPrivate,
    ) -> ViewModify {
        let bound = bind_view(rel, user);
        let operation =
            if (*mtstate).operation == pg_sys::CmdType::CMD_UPDATE { Operation::Update } else { Operation::Delete };
        let subplan = (*(*mtstate).ps.lefttree).plan;
        let junk = |name: &str| {
            let n = junk_name(name);
            let attno = pg_sys::ExecFindJunkAttributeInTlist((*subplan).targetlist, n.as_ptr());
            (attno > 0).then_some(attno)
        };
        let space = junk("space");
        let external_id = junk("external_id").unwrap_or_else(|| missing_identity(&bound.conn.table_name));
        let updated = private
            .updated
            .iter()
            .filter_map(|attno| bound.bindings.iter().position(|b| b.attidx + 1 == *attno as usize))
            .collect();
        crate::batch::flush_all();
        let table_writer = (operation == Operation::Update).then(|| Self::table_writer(&bound, InsertMode::Upsert));
        ViewModify {
            bound,
            operation,
            mode: InsertMode::Upsert,
            writer: InstanceWriter::new(InsertMode::Upsert),
            table_writer,
            batched: None,
            waiting: false,
            returning: false,
            rows_seen: 0,
            identity: (space, external_id),
            updated,
        }
    }

    /// Buffers one inserted row.
    /// Buffers one inserted row; with RETURNING sends it and stores what CDF holds into the
    /// slot. False when the row was skipped as existing (ignore, RETURNING only).
    pub unsafe fn insert_row(&mut self, slot: *mut pg_sys::TupleTableSlot) -> bool {
        self.rows_seen += 1;
        let written = self.rows_written();
        let values = slot_json(slot, &self.bound, self.rows_seen, written);
        let item = self.bound.table.node_write(&values, self.mode).unwrap_or_else(|e| {
            raise_row(&self.bound.conn.table_name, self.rows_seen, &e.column, e.kind, &e.message, written)
        });
        let id =
            json!({"instanceType": item["instanceType"], "space": item["space"], "externalId": item["externalId"]});
        self.push(item);
        if !self.returning {
            return true;
        }
        self.flush();
        if self.rows_written() == written {
            return false;
        }
        let mut read = InstanceRead::by_ids(vec![id], self.bound.table.sources());
        let found = backend::run(self.usage_connection(), async |session| read.next_page(session).await)
            .unwrap_or_else(|e| errors::raise_cdf(&e, Some("reading back the row RETURNING shows")));
        if let Some(stored) = found.into_iter().flatten().next() {
            store_instance(slot, &self.bound, &stored);
        }
        true
    }

    /// The connection whose usage counts this statement's requests (see `usage`).
    fn usage_connection(&self) -> &crate::context::Connection {
        match &self.table_writer {
            Some((ctx, ..)) => &ctx.connection,
            None => &self.bound.conn,
        }
    }

    /// Buffers the change of one row: an update when `new_slot` holds the new row, else a delete.
    pub unsafe fn change_row(
        &mut self,
        plan_slot: *mut pg_sys::TupleTableSlot,
        new_slot: Option<*mut pg_sys::TupleTableSlot>,
    ) {
        self.rows_seen += 1;
        let written = self.rows_written();
        let text_at = |attno: pg_sys::AttrNumber| {
            let mut isnull = false;
            let datum = pg_sys::slot_getattr(plan_slot, attno as c_int, &mut isnull);
            (!isnull).then(|| String::from_datum(datum, false)).flatten()
        };
        let space = self.identity.0.and_then(text_at).or_else(|| self.bound.table.instance_space.clone());
        let external_id = text_at(self.identity.1);
        let (Some(space), Some(external_id)) = (space, external_id) else {
            // A row PostgreSQL read from the scan always has them; nothing to change otherwise.
            return;
        };
        let item = match new_slot {
            Some(slot) => {
                let values = slot_json(slot, &self.bound, self.rows_seen, written);
                self.bound.table.node_patch((space, external_id), &values, &self.updated).unwrap_or_else(|e| {
                    raise_row(&self.bound.conn.table_name, self.rows_seen, &e.column, e.kind, &e.message, written)
                })
            }
            None => {
                json!({"instanceType": self.bound.table.instance_type(), "space": space, "externalId": external_id})
            }
        };
        self.push(item);
    }

    fn push(&mut self, item: Json) {
        if let Some(relid) = self.batched {
            let Json::Object(item) = item else { unreachable!("instance items are objects") };
            let ctx = &self.table_writer.as_ref().expect("batched rows have a table writer").0;
            crate::batch::push(relid, ctx, self.mode, WriteRow::Item(item));
            return;
        }
        if self.table_writer.is_some() {
            let xid = item.get("externalId").and_then(Json::as_str).unwrap_or_default().to_string();
            if self.table_writer.as_ref().is_some_and(|(_, _, buffered)| buffered.contains(&xid)) {
                self.send_requests(false);
            }
            let Some((_, writer, buffered)) = &mut self.table_writer else { unreachable!() };
            buffered.insert(xid);
            let Json::Object(item) = item else { unreachable!("instance items are objects") };
            if writer.push_numbered(WriteRow::Item(item), self.rows_seen) {
                self.send_requests(false);
            }
            return;
        }
        if self.writer.holds(&item) {
            self.flush();
        }
        if self.writer.push(self.rows_seen, item) {
            self.flush();
        }
    }

    /// Starts requests for what the concurrent writer buffers (requests in flight side by
    /// side); with `wait`, waits until every request has answered.
    fn send_requests(&mut self, wait: bool) {
        let ViewModify { table_writer, waiting, bound, .. } = self;
        let Some((ctx, writer, buffered)) = table_writer else { return };
        if writer.in_flight() == 0 && writer.buffered() == 0 {
            return;
        }
        buffered.clear();
        let before = writer.rows_written;
        *waiting = true;
        let result = backend::run(ctx, async |session| {
            writer.send_buffered(session).await?;
            if wait {
                writer.wait_in_flight().await?;
            }
            Ok::<(), WriteError>(())
        });
        *waiting = false;
        xact::note_written(writer.rows_written - before);
        if let Err(e) = result {
            raise_instance_write(&InstanceWriteError { write: e, failed_row: None }, bound);
        }
    }

    /// Sends what is buffered.
    pub fn flush(&mut self) {
        if self.table_writer.is_some() && self.batched.is_none() {
            return self.send_requests(true);
        }
        if self.writer.buffered() == 0 {
            return;
        }
        let ViewModify { bound, writer, operation, .. } = self;
        let before = writer.rows_written;
        let result = if *operation == Operation::Delete {
            backend::run(&bound.conn, async |session| writer.flush_deletes(session).await)
        } else {
            backend::run(&bound.conn, async |session| writer.flush(session).await)
        };
        xact::note_written(writer.rows_written - before);
        if let Err(e) = result {
            raise_instance_write(&e, &self.bound);
        }
    }
}

/// As `InsertState`: an aborted statement settles (briefly) the requests it has in flight, so
/// the abort's WARNING counts their rows; after a cancelled wait they are abandoned.
impl Drop for ViewModify {
    fn drop(&mut self) {
        let ViewModify { table_writer, waiting, .. } = self;
        let Some((ctx, writer, _)) = table_writer else { return };
        if writer.in_flight() == 0 || *waiting {
            return;
        }
        let before = writer.rows_written;
        backend::run(ctx, async |_session| writer.settle_within(std::time::Duration::from_secs(5)).await);
        xact::note_written(writer.rows_written - before);
    }
}

fn missing_identity(table: &str) -> ! {
    errors::raise(
        PgSqlErrorCode::ERRCODE_FDW_COLUMN_NAME_NOT_FOUND,
        format!("view table \"{table}\" lacks the column external_id that identifies a node"),
        Some("Add external_id (and space, unless the table has the option instance_space) to the table.".into()),
    )
}

/// A rejected instance write, naming the statement's row when CDF named the item; a required
/// property a new node lacks is a NOT NULL violation of its column.
fn raise_instance_write(e: &InstanceWriteError, bound: &BoundView) -> ! {
    let table = &bound.conn.table_name;
    let named_row = |m: &str| {
        // "... (row 17)": the concurrent writer's note of the row DMS named.
        let at = m.rfind("(row ")? + "(row ".len();
        m[at..].split(')').next()?.parse::<u64>().ok()
    };
    let failed_row = e.failed_row.or_else(|| match &e.write.error {
        cdf_client::CdfError::Api { message, .. } => named_row(message),
        _ => None,
    });
    let e = &InstanceWriteError { write: e.write.clone(), failed_row };
    if let cdf_client::CdfError::Api { message, .. } = &e.write.error {
        if let Some(property) = cdf_tables::views::missing_required_property(message) {
            let column = bound.table.column_of_property(&property).unwrap_or(&property);
            // The concurrent writer adds "(row N)" to CDF's message where DMS named the node.
            let at = e.failed_row.map(|r| format!(", row {r}")).unwrap_or_default();
            errors::raise_write_coded(
                &e.write,
                "this statement",
                PgSqlErrorCode::ERRCODE_NOT_NULL_VIOLATION,
                format!(
                    "null value in column \"{column}\" of CDF view table \"{table}\"{at}: property \"{property}\" of view {} is required for a new {} ({message})",
                    bound.table.view.id.describe(),
                    bound.table.instance_type()
                ),
            )
        }
    }
    errors::raise_write_at(&e.write, table, e.failed_row)
}

/// The identity columns UPDATE and DELETE plans carry: `external_id`, and `space` if present.
pub unsafe fn add_update_targets(root: *mut pg_sys::PlannerInfo, rtindex: pg_sys::Index, rel: pg_sys::Relation) {
    let tupdesc = pgrx::PgTupleDesc::from_pg_unchecked((*rel).rd_att);
    let mut found_xid = false;
    for (i, attr) in tupdesc.iter().enumerate() {
        let name = attr.name();
        if attr.is_dropped() || !matches!(name, "space" | "external_id") {
            continue;
        }
        let column_options = crate::context::def_elems(pg_sys::GetForeignColumnOptions((*rel).rd_id, (i + 1) as i16));
        if cdf_tables::options::get(&column_options, "property").is_some() {
            continue;
        }
        found_xid |= name == "external_id";
        let var = pg_sys::makeVar(rtindex as _, (i + 1) as i16, attr.atttypid, attr.atttypmod, attr.attcollation, 0);
        let junk = junk_name(name);
        pg_sys::add_row_identity_var(root, var, rtindex, pg_sys::pstrdup(junk.as_ptr()));
    }
    if !found_xid {
        let name = std::ffi::CStr::from_ptr(pg_sys::get_rel_name((*rel).rd_id)).to_string_lossy().into_owned();
        missing_identity(&name);
    }
}

/// Rows per ExecForeignBatchInsert call for a view table.
pub fn batch_size() -> c_int {
    INSTANCES_PER_REQUEST as c_int
}

/// What EXPLAIN shows for a modify on a view table.
pub unsafe fn explain(operation: pg_sys::CmdType::Type, es: *mut pg_sys::ExplainState) {
    let endpoint = if operation == pg_sys::CmdType::CMD_DELETE {
        "POST /models/instances/delete"
    } else {
        "POST /models/instances"
    };
    let endpoint = CString::new(endpoint).unwrap();
    pg_sys::ExplainPropertyText(c"CDF Endpoint".as_ptr(), endpoint.as_ptr(), es);
    pg_sys::ExplainPropertyInteger(c"Rows per Request".as_ptr(), std::ptr::null(), INSTANCES_PER_REQUEST as i64, es);
}

/// `PlanForeignModify` of a view table: every operation is supported; UPDATE and DELETE
/// without WHERE are refused as for classic tables.
pub unsafe fn plan(
    root: *mut pg_sys::PlannerInfo,
    plan: *mut pg_sys::ModifyTable,
    rte: *mut pg_sys::RangeTblEntry,
    subplan_index: c_int,
) -> *mut pg_sys::List {
    let operation = (*plan).operation;
    let changes = matches!(operation, pg_sys::CmdType::CMD_UPDATE | pg_sys::CmdType::CMD_DELETE);
    if changes && !crate::plan::has_where_clause(root) && !crate::settings::ALLOW_UNQUALIFIED_CHANGES.get() {
        let table = std::ffi::CStr::from_ptr(pg_sys::get_rel_name((*rte).relid)).to_string_lossy().into_owned();
        let verb = if operation == pg_sys::CmdType::CMD_UPDATE { "UPDATE" } else { "DELETE" };
        errors::raise(
            PgSqlErrorCode::ERRCODE_CARDINALITY_VIOLATION,
            format!("{verb} without WHERE on CDF view table \"{table}\" would change every node of its view in CDF"),
            Some("Add a WHERE clause, or SET cdf_fdw.allow_unqualified_changes = on for this session.".into()),
        );
    }
    let mut private = ModifyPrivate::default();
    if operation == pg_sys::CmdType::CMD_UPDATE {
        private.updated = crate::plan::updated_attnos(root, rte);
    }
    crate::plan::statement_flags(&mut private, plan, subplan_index);
    private.to_list()
}
