//! Joins of two cdf_fdw tables read as one scan (GetForeignJoinPaths): the driving side is read
//! as its own scan would read it, and the other side is looked up once per batch of the driving
//! rows' join keys (`cdf_tables::joins`), where a nested loop would send one request per outer
//! row. Every WHERE and join condition stays PostgreSQL's filter on the joined rows, so the
//! batch only decides what is fetched.
//!
//! Only inner joins of a SELECT (or INSERT ... SELECT) without row locks: other join types would
//! need the join's semantics here, and UPDATE/DELETE/FOR UPDATE an EvalPlanQual recheck path.

use std::ffi::{c_int, CStr, CString};

use cdf_client::Row;
use cdf_tables::joins::{batch_size, keys_of, JoinKey, OuterBatch};
use cdf_tables::reads::{describe_request, requirements_met};
use cdf_tables::{Column, QualOp};
use pgrx::pg_sys;
use pgrx::prelude::*;
use pgrx::{PgList, PgMemoryContexts};

use crate::context::{is_view_table, table_context, table_resource};
use crate::errors;
use crate::plan::{JoinPrivate, PushedCondition, ScanPrivate};
use crate::scan::{self, attribute_name, Pushable, ScanState};
use crate::tuple::{bind_columns, row_value, store_joined, Binding};

/// The table of a base relation the join can read: a classic cdf_fdw table (not a view or
/// typed RAW table, whose rows are read differently).
unsafe fn joinable_table(root: *mut pg_sys::PlannerInfo, rel: *mut pg_sys::RelOptInfo) -> Option<pg_sys::Oid> {
    if (*rel).reloptkind != pg_sys::RelOptKind::RELOPT_BASEREL || !(*rel).lateral_relids.is_null() {
        return None;
    }
    let rte = *(*root).simple_rte_array.add((*rel).relid as usize);
    let oid = (*rte).relid;
    (!is_view_table(oid) && !crate::typed_raw::is_typed_raw(oid)).then_some(oid)
}

/// A column of the driving side that gives the keys: the join value itself, or the element of
/// `ARRAY[column]` (`d.id = ANY(l.asset_ids)` is `l.asset_ids && ARRAY[d.id]`).
unsafe fn driver_column(value: *mut pg_sys::Node, relid: pg_sys::Index) -> Option<pg_sys::AttrNumber> {
    let node = scan::strip_relabel(value);
    if let Some(attno) = scan::scanned_column(node, relid) {
        return Some(attno);
    }
    if (*node).type_ != pg_sys::NodeTag::T_ArrayExpr {
        return None;
    }
    let elements = PgList::<pg_sys::Node>::from_pg((*(node as *mut pg_sys::ArrayExpr)).elements);
    match elements.len() {
        1 => scan::scanned_column(elements.get_ptr(0)?, relid),
        _ => None,
    }
}

/// The join clause that gives the looked-up side its keys: a condition CDF answers for that side
/// (`=`, `= ANY`, `&&`) whose value is a column of the driving side.
unsafe fn join_key(
    restrictlist: *mut pg_sys::List,
    driver: *mut pg_sys::RelOptInfo,
    lookup: *mut pg_sys::RelOptInfo,
    lookup_table: pg_sys::Oid,
) -> Option<(Pushable, pg_sys::AttrNumber)> {
    let resource = table_resource(lookup_table).0;
    for rinfo in PgList::<pg_sys::RestrictInfo>::from_pg(restrictlist).iter_ptr() {
        let single = pg_sys::lappend(std::ptr::null_mut(), (*rinfo).clause.cast());
        let Some(p) = scan::pushable_conditions(single, (*lookup).relid, lookup_table, Some(resource)).pop() else {
            continue;
        };
        if !matches!(p.op, QualOp::Eq | QualOp::In | QualOp::Overlaps) {
            continue;
        }
        if let Some(attno) = driver_column(p.value, (*driver).relid) {
            return Some((p, attno));
        }
    }
    None
}

/// A relation's own pushed conditions (its WHERE clauses CDF answers).
unsafe fn own_conditions(rel: *mut pg_sys::RelOptInfo, table: pg_sys::Oid) -> Vec<Pushable> {
    let quals = pg_sys::extract_actual_clauses((*rel).baserestrictinfo, false);
    scan::pushable_conditions(quals, (*rel).relid, table, Some(table_resource(table).0))
}

/// Every clause the join scan leaves to PostgreSQL: both sides' WHERE clauses and the join's.
unsafe fn all_clauses(
    restrictlist: *mut pg_sys::List,
    sides: [*mut pg_sys::RelOptInfo; 2],
) -> PgList<pg_sys::RestrictInfo> {
    let mut all = PgList::<pg_sys::RestrictInfo>::new();
    for rinfo in PgList::<pg_sys::RestrictInfo>::from_pg(restrictlist).iter_ptr() {
        all.push(rinfo);
    }
    for rel in sides {
        for rinfo in PgList::<pg_sys::RestrictInfo>::from_pg((*rel).baserestrictinfo).iter_ptr() {
            all.push(rinfo);
        }
    }
    all
}

/// Whether the joined row can be made of the two sides' columns: only plain columns (no
/// whole-row or system columns) in the output and the conditions, and nothing volatile (the
/// conditions run once per joined row, not once per side's row).
unsafe fn plain_columns_only(joinrel: *mut pg_sys::RelOptInfo, clauses: &PgList<pg_sys::RestrictInfo>) -> bool {
    let flags = pg_sys::PVC_RECURSE_PLACEHOLDERS as c_int;
    let mut exprs: Vec<*mut pg_sys::Node> = vec![(*(*joinrel).reltarget).exprs as *mut pg_sys::Node];
    for rinfo in clauses.iter_ptr() {
        if (*rinfo).pseudoconstant || pg_sys::contain_volatile_functions((*rinfo).clause as *mut pg_sys::Node) {
            return false;
        }
        exprs.push((*rinfo).clause as *mut pg_sys::Node);
    }
    exprs.into_iter().all(|e| {
        PgList::<pg_sys::Node>::from_pg(pg_sys::pull_var_clause(e, flags)).iter_ptr().all(|v| {
            (*v).type_ == pg_sys::NodeTag::T_Var
                && (*(v as *mut pg_sys::Var)).varattno > 0
                && (*(v as *mut pg_sys::Var)).varlevelsup == 0
        })
    })
}

#[pg_guard]
pub unsafe extern "C-unwind" fn get_foreign_join_paths(
    root: *mut pg_sys::PlannerInfo,
    joinrel: *mut pg_sys::RelOptInfo,
    outerrel: *mut pg_sys::RelOptInfo,
    innerrel: *mut pg_sys::RelOptInfo,
    jointype: pg_sys::JoinType::Type,
    extra: *mut pg_sys::JoinPathExtraData,
) {
    // PostgreSQL asks once for each order of the two sides; both orders are weighed at the first.
    if !(*joinrel).fdw_private.is_null() {
        return;
    }
    (*joinrel).fdw_private = pg_sys::lappend_int(std::ptr::null_mut(), 1).cast();
    let parse = (*root).parse;
    if !crate::settings::ENABLE_JOIN_PUSHDOWN.get()
        || jointype != pg_sys::JoinType::JOIN_INNER
        || !matches!((*parse).commandType, pg_sys::CmdType::CMD_SELECT | pg_sys::CmdType::CMD_INSERT)
        || !(*root).rowMarks.is_null()
        || !(*joinrel).lateral_relids.is_null()
    {
        return;
    }
    let restrictlist = (*extra).restrictlist;
    if !plain_columns_only(joinrel, &all_clauses(restrictlist, [outerrel, innerrel])) {
        return;
    }
    for (driver, lookup) in [(outerrel, innerrel), (innerrel, outerrel)] {
        if let Some(path) = batched_join_path(root, joinrel, driver, lookup, restrictlist) {
            pg_sys::add_path(joinrel, path as *mut pg_sys::Path);
        }
    }
}

/// The path of `driver` joined to `lookup` looked up by batches of keys, when the clause for it
/// exists, the driving side can be read alone and the other can be read by the keys.
unsafe fn batched_join_path(
    root: *mut pg_sys::PlannerInfo,
    joinrel: *mut pg_sys::RelOptInfo,
    driver: *mut pg_sys::RelOptInfo,
    lookup: *mut pg_sys::RelOptInfo,
    restrictlist: *mut pg_sys::List,
) -> Option<*mut pg_sys::ForeignPath> {
    let (driver_table, lookup_table) = (joinable_table(root, driver)?, joinable_table(root, lookup)?);
    let (key, _) = join_key(restrictlist, driver, lookup, lookup_table)?;
    if !scan::readable_alone(root, driver, driver_table) {
        return None;
    }
    let resource = table_resource(lookup_table).0;
    let mut present: Vec<String> = own_conditions(lookup, lookup_table)
        .into_iter()
        .filter(|p| matches!(p.op, QualOp::Eq | QualOp::In))
        .map(|p| p.column)
        .collect();
    present.push(key.column.clone());
    if !requirements_met(resource, &present.iter().map(String::as_str).collect::<Vec<_>>()) {
        return None;
    }
    // As a scan: 100 per request, 0.1 per fetched row. One request reads the driving side's
    // first page, one per batch looks its keys up; the inner side fetches no more than its
    // whole list nor than the join returns; each joined row costs a local one.
    let driver_rows = (*driver).rows.max(1.0);
    let batches = (driver_rows / batch_size(resource, &key.column) as f64).ceil();
    let rows = (*joinrel).rows;
    let fetched = rows.min((*lookup).rows);
    let total = 100.0 + driver_rows * 0.1 + batches * 100.0 + fetched * 0.1 + rows * pg_sys::cpu_tuple_cost;
    let sides = pg_sys::lappend_int(
        pg_sys::lappend_int(std::ptr::null_mut(), (*driver).relid as c_int),
        (*lookup).relid as c_int,
    );
    let mut private = PgList::<pg_sys::Node>::new();
    private.push(sides.cast());
    private.push(restrictlist.cast());
    Some(crate::compat::create_foreign_join_path(root, joinrel, rows, 200.0, total, private.into_pg()))
}

/// The ForeignScan of a batched join: no relation of its own (scanrelid 0); its row
/// (`fdw_scan_tlist`) holds the columns of both sides the query and the conditions use.
pub unsafe fn plan_scan(
    root: *mut pg_sys::PlannerInfo,
    best_path: *mut pg_sys::ForeignPath,
    tlist: *mut pg_sys::List,
    outer_plan: *mut pg_sys::Plan,
) -> *mut pg_sys::ForeignScan {
    let path_private = PgList::<pg_sys::Node>::from_pg((*best_path).fdw_private);
    let sides = path_private.get_ptr(0).expect("join sides") as *mut pg_sys::List;
    let restrictlist = path_private.get_ptr(1).unwrap_or(std::ptr::null_mut()) as *mut pg_sys::List;
    let rel = |i: c_int| *(*root).simple_rel_array.add(pg_sys::list_nth_int(sides, i) as usize);
    let (driver, lookup) = (rel(0), rel(1));
    let table = |r: *mut pg_sys::RelOptInfo| joinable_table(root, r).expect("planned join sides are joinable");
    let (driver_table, lookup_table) = (table(driver), table(lookup));
    let (key, driver_key) = join_key(restrictlist, driver, lookup, lookup_table).expect("the planned join key");
    let mut exprs = PgList::<pg_sys::Node>::new();
    let mut conditions = |pushed: Vec<Pushable>| -> Vec<PushedCondition> {
        pushed
            .into_iter()
            .map(|p| {
                exprs.push(p.value);
                PushedCondition { attno: p.attno, op: p.op }
            })
            .collect()
    };
    let private = JoinPrivate {
        driver_first: (*driver).relid < (*lookup).relid,
        driver: conditions(own_conditions(driver, driver_table)),
        lookup: conditions(own_conditions(lookup, lookup_table)),
        lookup_key: PushedCondition { attno: key.attno, op: key.op },
        driver_key,
    };
    let clauses = all_clauses(restrictlist, [driver, lookup]);
    let quals = pg_sys::extract_actual_clauses(clauses.into_pg(), false);
    let flags = pg_sys::PVC_RECURSE_PLACEHOLDERS as c_int;
    let mut scan_tlist = pg_sys::add_to_flat_tlist(
        std::ptr::null_mut(),
        pg_sys::pull_var_clause((*(*(*best_path).path.parent).reltarget).exprs as *mut pg_sys::Node, flags),
    );
    scan_tlist = pg_sys::add_to_flat_tlist(scan_tlist, pg_sys::pull_var_clause(quals as *mut pg_sys::Node, flags));
    pg_sys::make_foreignscan(
        tlist,
        quals,
        0,
        exprs.into_pg(),
        private.to_list(),
        scan_tlist,
        std::ptr::null_mut(),
        outer_plan,
    )
}

/// One side of a planned join at execution: range-table index, table, pushed conditions and
/// the `fdw_exprs` of their values.
struct Side {
    rti: pg_sys::Index,
    table: pg_sys::Oid,
    conditions: Vec<PushedCondition>,
    exprs: Vec<*mut pg_sys::Node>,
}

/// The driving and the looked-up side of a join scan.
unsafe fn sides(node: *mut pg_sys::ForeignScanState) -> (JoinPrivate, Side, Side) {
    let plan = (*node).ss.ps.plan as *mut pg_sys::ForeignScan;
    let private = JoinPrivate::from_list((*plan).fdw_private);
    let relids = crate::compat::scan_base_relids(plan);
    let first = pg_sys::bms_next_member(relids, -1);
    let second = pg_sys::bms_next_member(relids, first);
    let (driver_rti, lookup_rti) = if private.driver_first { (first, second) } else { (second, first) };
    let range_table = (*(*node).ss.ps.state).es_range_table;
    let table = |rti: c_int| (*(pg_sys::list_nth(range_table, rti - 1) as *mut pg_sys::RangeTblEntry)).relid;
    let exprs: Vec<*mut pg_sys::Node> = PgList::<pg_sys::Node>::from_pg((*plan).fdw_exprs).iter_ptr().collect();
    let (driver_exprs, lookup_exprs) = exprs.split_at(private.driver.len().min(exprs.len()));
    let driver = Side {
        rti: driver_rti as pg_sys::Index,
        table: table(driver_rti),
        conditions: private.driver.clone(),
        exprs: driver_exprs.to_vec(),
    };
    let lookup = Side {
        rti: lookup_rti as pg_sys::Index,
        table: table(lookup_rti),
        conditions: private.lookup.clone(),
        exprs: lookup_exprs.to_vec(),
    };
    (private, driver, lookup)
}

/// The pushed conditions of a side by column name, as EXPLAIN and the scan name them.
unsafe fn named(side: &Side) -> Vec<(String, QualOp)> {
    let private = ScanPrivate { conditions: side.conditions.clone(), ..ScanPrivate::default() };
    scan::named_conditions(side.table, &private)
}

/// How a query names a side: its alias, else the table's name.
unsafe fn alias(node: *mut pg_sys::ForeignScanState, rti: pg_sys::Index) -> String {
    let rte = pg_sys::list_nth((*(*node).ss.ps.state).es_range_table, rti as c_int - 1) as *mut pg_sys::RangeTblEntry;
    CStr::from_ptr((*(*rte).eref).aliasname).to_string_lossy().into_owned()
}

/// `schema.table alias`, as postgres_fdw's `Relations` line names a side.
unsafe fn relation(node: *mut pg_sys::ForeignScanState, side: &Side) -> String {
    let name = |p: *const std::ffi::c_char| CStr::from_ptr(p).to_string_lossy().into_owned();
    let schema = name(pg_sys::get_namespace_name(pg_sys::get_rel_namespace(side.table)));
    format!("{schema}.{} {}", name(pg_sys::get_rel_name(side.table)), alias(node, side.rti))
}

pub unsafe fn explain(node: *mut pg_sys::ForeignScanState, es: *mut pg_sys::ExplainState) {
    let (private, driver, lookup) = sides(node);
    let text = |label: &CStr, value: String| {
        let value = CString::new(value).expect("no NUL");
        pg_sys::ExplainPropertyText(label.as_ptr(), value.as_ptr(), es);
    };
    let lookup_resource = table_resource(lookup.table).0;
    let key_column = attribute_name(lookup.table, private.lookup_key.attno);
    let (driver_name, lookup_name) = (alias(node, driver.rti), alias(node, lookup.rti));
    text(c"Relations", format!("({}) INNER JOIN ({})", relation(node, &driver), relation(node, &lookup)));
    text(
        c"CDF Join",
        format!(
            "{lookup_name}.{key_column} {} keys of {driver_name}.{}, up to {} keys per lookup",
            private.lookup_key.op.code(),
            attribute_name(driver.table, private.driver_key),
            batch_size(lookup_resource, &key_column)
        ),
    );
    for (label, conditions_label, side, key) in [
        (c"CDF Outer Request", c"CDF Outer Conditions", &driver, None),
        (c"CDF Inner Request", c"CDF Inner Conditions", &lookup, Some((key_column.clone(), private.lookup_key.op))),
    ] {
        let mut conditions = named(side);
        if let Some((column, op)) = &key {
            conditions.push((column.clone(), if *op == QualOp::Eq { QualOp::In } else { *op }));
        }
        text(label, describe_request(table_resource(side.table).0, &conditions, false));
        if !conditions.is_empty() {
            let list: Vec<String> = conditions.iter().map(|(c, op)| format!("{c} {}", op.code())).collect();
            text(conditions_label, list.join(", "));
        }
        // The driving side's list filter, as its own scan shows it (the inner one holds the keys,
        // known only when the scan runs).
        if key.is_none() {
            let filter = scan::explained_filter(node, table_resource(side.table).0, named(side), &side.exprs);
            if let Some(Some(filter)) = filter {
                text(c"CDF Outer Filter", filter);
            }
        }
    }
    if !(*es).analyze {
        return;
    }
    if let Some(state) = ((*node).fdw_state as *mut JoinScan).as_ref() {
        pg_sys::ExplainPropertyInteger(c"CDF Lookups".as_ptr(), std::ptr::null(), state.lookups as i64, es);
        let mut usage = state.driver.context().usage.borrow().clone();
        usage.merge(&state.lookup.context().usage.borrow());
        crate::stats::explain(&usage, es);
    }
}

/// The scan of a join in progress.
pub struct JoinScan {
    driver: ScanState,
    lookup: ScanState,
    driver_key: &'static Column,
    lookup_key: &'static Column,
    lookup_op: QualOp,
    driver_started: bool,
    driver_done: bool,
    batch: OuterBatch<Row>,
    /// A driving row that did not fit the last batch: the next one starts with it.
    carry: Option<(Row, Vec<JoinKey>)>,
    /// The looked-up row being joined, and the batch rows (indexes) it still meets, last first.
    inner: Option<Row>,
    pending: Vec<usize>,
    reading_lookup: bool,
    /// Lookups made (batches), for EXPLAIN ANALYZE.
    lookups: u64,
}

/// A side's scan: its columns bound to their places in the join's row.
unsafe fn side_scan(node: *mut pg_sys::ForeignScanState, side: &Side) -> ScanState {
    let ctx = table_context(side.table, crate::compat::upper_scan_user(node, side.rti));
    let rel = pg_sys::RelationIdGetRelation(side.table);
    let own = bind_columns(rel, ctx.resource, &ctx.table_name);
    pg_sys::RelationClose(rel);
    let plan = (*node).ss.ps.plan as *mut pg_sys::ForeignScan;
    let mut bindings = Vec::new();
    for (i, entry) in PgList::<pg_sys::TargetEntry>::from_pg((*plan).fdw_scan_tlist).iter_ptr().enumerate() {
        let var = (*entry).expr as *mut pg_sys::Var;
        if (*var).xpr.type_ != pg_sys::NodeTag::T_Var || (*var).varno as pg_sys::Index != side.rti {
            continue;
        }
        if let Some(b) = own.iter().find(|b| b.attidx + 1 == (*var).varattno as usize) {
            bindings.push(Binding { attidx: i, ..*b });
        }
    }
    let conditions = scan::init_conditions(node, named(side), &side.exprs);
    ScanState::join_side(ctx, bindings, conditions, (*node).ss.ps.ps_ExprContext)
}

/// The catalogue column of a side's attribute.
unsafe fn catalogue_column(side: &Side, attno: pg_sys::AttrNumber) -> &'static Column {
    let name = attribute_name(side.table, attno);
    table_resource(side.table).0.column(&name).unwrap_or_else(|| {
        errors::raise(
            PgSqlErrorCode::ERRCODE_FDW_COLUMN_NAME_NOT_FOUND,
            format!("join column \"{name}\" is not a CDF field"),
            None,
        )
    })
}

pub unsafe fn begin(node: *mut pg_sys::ForeignScanState, eflags: c_int) {
    if eflags & pg_sys::EXEC_FLAG_EXPLAIN_ONLY as c_int != 0 {
        return;
    }
    crate::batch::flush_all();
    let (private, driver, lookup) = sides(node);
    let lookup_key = catalogue_column(&lookup, private.lookup_key.attno);
    let state = JoinScan {
        driver_key: catalogue_column(&driver, private.driver_key),
        lookup_key,
        lookup_op: private.lookup_key.op,
        batch: OuterBatch::new(batch_size(table_resource(lookup.table).0, lookup_key.name)),
        driver: side_scan(node, &driver),
        lookup: side_scan(node, &lookup),
        driver_started: false,
        driver_done: false,
        carry: None,
        inner: None,
        pending: Vec::new(),
        reading_lookup: false,
        lookups: 0,
    };
    let ptr = PgMemoryContexts::CurrentMemoryContext.leak_and_drop_on_delete(state);
    (*node).fdw_state = ptr as *mut std::ffi::c_void;
}

/// The keys a row carries in `column`.
fn row_keys(column: &Column, row: &Row) -> Vec<JoinKey> {
    match row_value(column, row) {
        Ok(value) => keys_of(&value),
        Err(e) => errors::raise(PgSqlErrorCode::ERRCODE_FDW_INVALID_DATA_TYPE, e.to_string(), None),
    }
}

impl JoinScan {
    /// Gathers the next batch of driving rows; false when none is left.
    unsafe fn next_batch(&mut self) -> bool {
        self.batch.clear();
        if let Some((row, keys)) = self.carry.take() {
            self.batch.push(row, keys);
        }
        if !self.driver_started {
            self.driver.start();
            self.driver_started = true;
        }
        while !self.driver_done && !self.batch.is_full() {
            pg_sys::check_for_interrupts!();
            let Some(row) = self.driver.next_row() else {
                self.driver_done = true;
                break;
            };
            let keys = row_keys(self.driver_key, &row);
            if keys.is_empty() {
                continue;
            }
            if !self.batch.fits(&keys) {
                self.carry = Some((row, keys));
                break;
            }
            self.batch.push(row, keys);
        }
        !self.batch.is_empty()
    }

    /// The next joined pair (driving row index, looked-up row); `None` at the end.
    unsafe fn next_pair(&mut self) -> Option<usize> {
        loop {
            if self.inner.is_some() {
                if let Some(i) = self.pending.pop() {
                    return Some(i);
                }
            }
            if self.reading_lookup {
                match self.lookup.next_row() {
                    Some(row) => {
                        self.pending = self.batch.matches(&row_keys(self.lookup_key, &row));
                        self.pending.reverse();
                        self.inner = Some(row);
                        continue;
                    }
                    None => {
                        self.reading_lookup = false;
                        self.inner = None;
                    }
                }
            }
            if !self.next_batch() {
                return None;
            }
            self.lookup.start_with(vec![self.batch.condition(self.lookup_key.name, self.lookup_op)]);
            self.reading_lookup = true;
            self.lookups += 1;
        }
    }

    fn reset(&mut self) {
        self.driver.reset();
        self.lookup.reset();
        self.driver_started = false;
        self.driver_done = false;
        self.batch.clear();
        self.carry = None;
        self.inner = None;
        self.pending.clear();
        self.reading_lookup = false;
    }
}

pub unsafe fn iterate(node: *mut pg_sys::ForeignScanState) -> *mut pg_sys::TupleTableSlot {
    let slot = (*node).ss.ss_ScanTupleSlot;
    pg_sys::ExecClearTuple(slot);
    let Some(state) = ((*node).fdw_state as *mut JoinScan).as_mut() else { return slot };
    let Some(index) = state.next_pair() else { return slot };
    let inner = state.inner.as_ref().expect("a pair has its looked-up row");
    store_joined(slot, [(state.driver.bindings(), state.batch.row(index)), (state.lookup.bindings(), inner)]);
    slot
}

pub unsafe fn rescan(node: *mut pg_sys::ForeignScanState) {
    if let Some(state) = ((*node).fdw_state as *mut JoinScan).as_mut() {
        state.reset();
    }
}
