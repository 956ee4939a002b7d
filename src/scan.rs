//! SELECT (and the scans under UPDATE and DELETE).
//!
//! The planner picks the WHERE conditions CDF can answer (`id`/`external_id` equality and IN,
//! series identity and time ranges of datapoints, RAW database/table/key) and stores their value
//! expressions in `fdw_exprs` and their attribute numbers and operators in `fdw_private`
//! (`plan::ScanPrivate`): no pointers, so cached plans (PREPARE, plpgsql) re-run safely. The executor evaluates the values
//! when the scan starts (parameters included), plans the CDF reads and pages through them.
//! PostgreSQL re-checks every condition on the rows that come back.

use std::collections::VecDeque;
use std::ffi::{c_int, CStr, CString};

use cdf_client::references::ExternalIdFiller;
use cdf_client::{Reader, Row};
use cdf_tables::reads::{
    describe_request, estimated_rows, pushable, requirement_message, requirements_met, PlannedQual,
};
use cdf_tables::{plan_read, PushedQual, QualOp, Value};
use pgrx::pg_sys;
use pgrx::prelude::*;
use pgrx::{PgList, PgMemoryContexts};

use crate::backend;
use crate::context::{is_view_table, table_context, table_resource, TableContext};
use crate::convert::{condition_value_fits, datum_to_value};
use crate::errors;
use crate::plan::{PushedCondition, ScanPrivate};
use crate::tuple::{bind_columns, store_row, Binding};

pub struct ScanState {
    ctx: TableContext,
    bindings: Vec<Binding>,
    /// Pushed conditions: column, operator, the value's ExprState and type.
    conditions: Vec<(String, QualOp, *mut pg_sys::ExprState, pg_sys::Oid)>,
    econtext: *mut pg_sys::ExprContext,
    reader: Option<Reader>,
    page: VecDeque<Row>,
    /// Turns the ids of references into the external ids of the columns the query reads.
    external_ids: Option<ExternalIdFiller>,
}

impl ScanState {
    /// Evaluates the pushed conditions and plans the CDF reads; runs at the first row and after
    /// each rescan, when parameter values may have changed.
    unsafe fn start(&mut self) {
        let mut quals = Vec::with_capacity(self.conditions.len());
        for (column, op, expr_state, typoid) in &self.conditions {
            let mut isnull = false;
            let datum = pg_sys::ExecEvalExprSwitchContext(*expr_state, self.econtext, &mut isnull);
            let value = if isnull {
                Value::Null
            } else {
                datum_to_value(datum, *typoid).unwrap_or_else(|m| {
                    errors::raise(
                        PgSqlErrorCode::ERRCODE_FDW_INVALID_DATA_TYPE,
                        format!("condition on \"{column}\": {m}"),
                        None,
                    )
                })
            };
            quals.push(PushedQual { column: column.clone(), op: *op, value });
        }
        let plan = plan_read(self.ctx.resource, &quals)
            .unwrap_or_else(|m| errors::raise(PgSqlErrorCode::ERRCODE_FDW_DYNAMIC_PARAMETER_VALUE_NEEDED, m, None));
        self.reader = Some(Reader::new(self.ctx.resource, plan));
        self.page.clear();
    }

    /// The next row, fetching pages as needed; `None` at the end.
    fn next_row(&mut self) -> Option<Row> {
        loop {
            if let Some(row) = self.page.pop_front() {
                return Some(row);
            }
            let ScanState { ctx, reader, .. } = self;
            let reader = reader.as_mut()?;
            let ScanState { external_ids, .. } = self;
            let page = backend::run(ctx, async |session| {
                let mut page = reader.next_page(session).await?;
                if let (Some(filler), Some(rows)) = (external_ids.as_mut(), page.as_mut()) {
                    filler.fill(session, rows).await?;
                }
                Ok(page)
            });
            match page {
                Ok(Some(rows)) => self.page.extend(rows),
                Ok(None) => return None,
                Err(e) => errors::raise_cdf(&e, Some(&format!("reading CDF table \"{}\"", self.ctx.table_name))),
            }
        }
    }
}

/// The attributes of the scanned table the plan reads (target list and local conditions), as
/// `pull_varattnos` offsets them.
unsafe fn used_attributes(plan: *mut pg_sys::ForeignScan) -> *mut pg_sys::Bitmapset {
    let relid = (*plan).scan.scanrelid;
    let mut attrs: *mut pg_sys::Bitmapset = std::ptr::null_mut();
    pg_sys::pull_varattnos((*plan).scan.plan.targetlist as *mut pg_sys::Node, relid, &mut attrs);
    pg_sys::pull_varattnos((*plan).scan.plan.qual as *mut pg_sys::Node, relid, &mut attrs);
    attrs
}

/// Whether attribute `attno` (1-based) is among `used`, or the whole row is.
unsafe fn uses_attribute(used: *mut pg_sys::Bitmapset, attno: usize) -> bool {
    let offset = |a: i32| a - pg_sys::FirstLowInvalidHeapAttributeNumber;
    pg_sys::bms_is_member(offset(attno as i32), used) || pg_sys::bms_is_member(offset(0), used)
}

/// Strips binary-compatible casts (varchar -> text) around an expression.
pub(crate) unsafe fn strip_relabel(mut node: *mut pg_sys::Node) -> *mut pg_sys::Node {
    while !node.is_null() && (*node).type_ == pg_sys::NodeTag::T_RelabelType {
        node = (*(node as *mut pg_sys::RelabelType)).arg as *mut pg_sys::Node;
    }
    node
}

/// A column of the scanned relation, as a Var.
pub(crate) unsafe fn scanned_column(node: *mut pg_sys::Node, relid: pg_sys::Index) -> Option<pg_sys::AttrNumber> {
    let node = strip_relabel(node);
    if node.is_null() || (*node).type_ != pg_sys::NodeTag::T_Var {
        return None;
    }
    let var = node as *mut pg_sys::Var;
    ((*var).varno as pg_sys::Index == relid && (*var).varlevelsup == 0 && (*var).varattno > 0)
        .then_some((*var).varattno)
}

/// An expression whose value is known when the scan starts: no column of the scanned relation,
/// nothing volatile. Columns of other relations are a join's outer row (parameterized paths:
/// PostgreSQL turns them into parameters set before each rescan).
unsafe fn scan_time_value(node: *mut pg_sys::Node, relid: pg_sys::Index) -> bool {
    if node.is_null() || pg_sys::contain_volatile_functions(node) {
        return false;
    }
    let flags = pg_sys::PVC_RECURSE_AGGREGATES | pg_sys::PVC_RECURSE_WINDOWFUNCS | pg_sys::PVC_RECURSE_PLACEHOLDERS;
    let vars = PgList::<pg_sys::Node>::from_pg(pg_sys::pull_var_clause(node, flags as c_int));
    let own_column = vars.iter_ptr().any(|v| {
        (*v).type_ == pg_sys::NodeTag::T_Var && {
            let var = v as *mut pg_sys::Var;
            (*var).varno as pg_sys::Index == relid && (*var).varlevelsup == 0
        }
    });
    !own_column
}

/// Recognises `column op value`, `value op column` and `column = ANY(value)`.
unsafe fn pushable_condition(
    clause: *mut pg_sys::Node,
    relid: pg_sys::Index,
) -> Option<(pg_sys::AttrNumber, QualOp, *mut pg_sys::Node)> {
    match (*clause).type_ {
        pg_sys::NodeTag::T_OpExpr => {
            let op = clause as *mut pg_sys::OpExpr;
            let args = PgList::<pg_sys::Node>::from_pg((*op).args);
            if args.len() != 2 {
                return None;
            }
            let name = CStr::from_ptr(pg_sys::get_opname((*op).opno)).to_str().ok()?;
            let qop = QualOp::from_operator(name)?;
            let (l, r) = (args.get_ptr(0)?, args.get_ptr(1)?);
            if let Some(att) = scanned_column(l, relid) {
                scan_time_value(r, relid).then_some((att, qop, r))
            } else if let Some(att) = scanned_column(r, relid) {
                scan_time_value(l, relid).then_some((att, qop.commuted(), l))
            } else {
                None
            }
        }
        pg_sys::NodeTag::T_NullTest => {
            let test = clause as *mut pg_sys::NullTest;
            if (*test).argisrow {
                return None;
            }
            let att = scanned_column((*test).arg as *mut pg_sys::Node, relid)?;
            let op =
                if (*test).nulltesttype == pg_sys::NullTestType::IS_NULL { QualOp::IsNull } else { QualOp::IsNotNull };
            // No value: a NULL constant keeps fdw_exprs parallel to the conditions.
            let none = pg_sys::makeNullConst(pg_sys::BOOLOID, -1, pg_sys::InvalidOid);
            Some((att, op, none as *mut pg_sys::Node))
        }
        pg_sys::NodeTag::T_ScalarArrayOpExpr => {
            let op = clause as *mut pg_sys::ScalarArrayOpExpr;
            let args = PgList::<pg_sys::Node>::from_pg((*op).args);
            if !(*op).useOr || args.len() != 2 {
                return None;
            }
            let name = CStr::from_ptr(pg_sys::get_opname((*op).opno)).to_str().ok()?;
            if name != "=" {
                return None;
            }
            let att = scanned_column(args.get_ptr(0)?, relid)?;
            let r = args.get_ptr(1)?;
            scan_time_value(r, relid).then_some((att, QualOp::In, r))
        }
        _ => None,
    }
}

/// The pushed conditions of a plan as column names and operators.
unsafe fn named_conditions(relid: pg_sys::Oid, private: &ScanPrivate) -> Vec<(String, QualOp)> {
    private.conditions.iter().map(|c| (attribute_name(relid, c.attno), c.op)).collect()
}

unsafe fn attribute_name(relid: pg_sys::Oid, attno: pg_sys::AttrNumber) -> String {
    CStr::from_ptr(pg_sys::get_attname(relid, attno, false)).to_string_lossy().into_owned()
}

/// A condition of the scan that CDF can answer.
pub(crate) struct Pushable {
    pub attno: pg_sys::AttrNumber,
    pub column: String,
    pub op: QualOp,
    /// The value expression, evaluated when the scan starts.
    pub value: *mut pg_sys::Node,
}

/// The conditions among `quals` (plain clauses) that go to CDF.
pub(crate) unsafe fn pushable_conditions(
    quals: *mut pg_sys::List,
    relid: pg_sys::Index,
    foreigntableid: pg_sys::Oid,
    resource: Option<&cdf_tables::Resource>,
) -> Vec<Pushable> {
    let mut out = Vec::new();
    for clause in PgList::<pg_sys::Node>::from_pg(quals).iter_ptr() {
        let Some((attno, op, value)) = pushable_condition(clause, relid) else { continue };
        let column = attribute_name(foreigntableid, attno);
        let column_type = pg_sys::get_atttype(foreigntableid, attno);
        // `None`: a view table, whose pushable conditions the view decides.
        let push = match resource {
            Some(resource) => pushable(resource, &column, op),
            None => crate::views::pushable(&column, op),
        };
        let null_test = matches!(op, QualOp::IsNull | QualOp::IsNotNull);
        if push && (null_test || condition_value_fits(column_type, pg_sys::exprType(value), op == QualOp::In)) {
            out.push(Pushable { attno, column, op, value });
        }
    }
    out
}

/// How many values a condition allows, when the plan says: one for `=`, the elements of a
/// constant array or `ARRAY[...]` for `IN`; `None` for a parameter or an expression.
unsafe fn values_known_at_plan_time(condition: &Pushable) -> Option<usize> {
    if condition.op != QualOp::In {
        return Some(1);
    }
    let node = strip_relabel(condition.value);
    match (*node).type_ {
        pg_sys::NodeTag::T_Const => {
            let c = node as *mut pg_sys::Const;
            if (*c).constisnull {
                return Some(0);
            }
            let array = pg_sys::pg_detoast_datum((*c).constvalue.cast_mut_ptr()) as *mut pg_sys::ArrayType;
            // ARR_DIMS: the dimensions follow the array header.
            let dims = (array as *mut u8).add(std::mem::size_of::<pg_sys::ArrayType>()) as *mut c_int;
            Some(pg_sys::ArrayGetNItems((*array).ndim, dims).max(0) as usize)
        }
        pg_sys::NodeTag::T_ArrayExpr => {
            Some(PgList::<pg_sys::Node>::from_pg((*(node as *mut pg_sys::ArrayExpr)).elements).len())
        }
        _ => None,
    }
}

/// Rows a scan returns from what the pushed conditions allow (ids, keys), times the selectivity
/// of the other conditions, which only PostgreSQL evaluates; `join` is an equality with the
/// outer row of a parameterized path. Also whether the pushed conditions say what to read.
unsafe fn scan_estimate(
    root: *mut pg_sys::PlannerInfo,
    baserel: *mut pg_sys::RelOptInfo,
    foreigntableid: pg_sys::Oid,
    resource: &'static cdf_tables::Resource,
    join: Option<&str>,
) -> (f64, bool) {
    let restrictions = PgList::<pg_sys::RestrictInfo>::from_pg((*baserel).baserestrictinfo);
    let mut local = PgList::<pg_sys::RestrictInfo>::new();
    let mut planned = Vec::new();
    for rinfo in restrictions.iter_ptr() {
        let clause = (*rinfo).clause as *mut pg_sys::Node;
        let single = PgList::<pg_sys::Node>::from_pg(pg_sys::lappend(std::ptr::null_mut(), clause.cast()));
        match pushable_conditions(single.into_pg(), (*baserel).relid, foreigntableid, Some(resource)).pop() {
            Some(p) => planned.push(PlannedQual { values: values_known_at_plan_time(&p), column: p.column, op: p.op }),
            None => local.push(rinfo),
        }
    }
    if let Some(column) = join {
        planned.push(PlannedQual { column: column.to_string(), op: QualOp::Eq, values: Some(1) });
    }
    let present: Vec<&str> =
        planned.iter().filter(|q| matches!(q.op, QualOp::Eq | QualOp::In)).map(|q| q.column.as_str()).collect();
    let readable = requirements_met(resource, &present);
    let selectivity = pg_sys::clauselist_selectivity(
        root,
        local.into_pg(),
        (*baserel).relid as c_int,
        pg_sys::JoinType::JOIN_INNER,
        std::ptr::null_mut(),
    );
    ((estimated_rows(resource, &planned) * selectivity).max(1.0).round(), readable)
}

#[pg_guard]
pub unsafe extern "C-unwind" fn get_foreign_rel_size(
    root: *mut pg_sys::PlannerInfo,
    baserel: *mut pg_sys::RelOptInfo,
    foreigntableid: pg_sys::Oid,
) {
    if is_view_table(foreigntableid) {
        // Nodes of a view: no count is cheap to know; estimated as a plain list.
        (*baserel).rows = cdf_tables::reads::DEFAULT_SCAN_ROWS;
        return;
    }
    let (resource, _) = table_resource(foreigntableid);
    (*baserel).rows = scan_estimate(root, baserel, foreigntableid, resource, None).0;
}

/// Matches the equivalence class member that is column `arg` = (relid, attno).
#[pg_guard]
unsafe extern "C-unwind" fn member_is_column(
    _root: *mut pg_sys::PlannerInfo,
    _rel: *mut pg_sys::RelOptInfo,
    _ec: *mut pg_sys::EquivalenceClass,
    em: *mut pg_sys::EquivalenceMember,
    arg: *mut std::ffi::c_void,
) -> bool {
    let (relid, attno) = *(arg as *const (pg_sys::Index, pg_sys::AttrNumber));
    scanned_column((*em).em_expr as *mut pg_sys::Node, relid) == Some(attno)
}

/// Join clauses `column = <outer row's expression>` CDF can answer for each outer row: from the
/// relation's join clauses and from equivalence classes (`a.x = b.y` PostgreSQL keeps as one).
unsafe fn join_equalities(
    root: *mut pg_sys::PlannerInfo,
    baserel: *mut pg_sys::RelOptInfo,
    foreigntableid: pg_sys::Oid,
    resource: &'static cdf_tables::Resource,
) -> Vec<(*mut pg_sys::RestrictInfo, String)> {
    let relid = (*baserel).relid;
    let mut candidates: Vec<*mut pg_sys::RestrictInfo> = PgList::<pg_sys::RestrictInfo>::from_pg((*baserel).joininfo)
        .iter_ptr()
        .filter(|r| pg_sys::join_clause_is_movable_to(*r, baserel))
        .collect();
    for column in resource.columns.iter().filter(|c| pushable(resource, c.name, QualOp::Eq)) {
        let name = CString::new(column.name).expect("column names have no NUL");
        let attno = pg_sys::get_attnum(foreigntableid, name.as_ptr());
        if attno <= 0 {
            continue;
        }
        let mut arg = (relid, attno);
        let implied = pg_sys::generate_implied_equalities_for_column(
            root,
            baserel,
            Some(member_is_column),
            &mut arg as *mut _ as *mut std::ffi::c_void,
            (*baserel).lateral_referencers,
        );
        candidates.extend(PgList::<pg_sys::RestrictInfo>::from_pg(implied).iter_ptr());
    }
    candidates
        .into_iter()
        .filter(|r| !(**r).pseudoconstant)
        .filter_map(|rinfo| {
            let single = pg_sys::lappend(std::ptr::null_mut(), (*rinfo).clause.cast());
            let p = pushable_conditions(single, relid, foreigntableid, Some(resource)).pop()?;
            (p.op == QualOp::Eq).then_some((rinfo, p.column))
        })
        .collect()
}

/// A plain path, and one parameterized path per set of outer relations whose row gives a pushed
/// equality (`d.external_id = ts.external_id`): a nested loop then reads only what each outer
/// row names, the values evaluated at each rescan. A plain scan that cannot say what to read
/// (datapoints without a series) costs so much that the planner takes the parameterized one.
#[pg_guard]
pub unsafe extern "C-unwind" fn get_foreign_paths(
    root: *mut pg_sys::PlannerInfo,
    baserel: *mut pg_sys::RelOptInfo,
    foreigntableid: pg_sys::Oid,
) {
    let rows = (*baserel).rows;
    // A remote call costs far more than a local row: keep the planner from rescanning.
    let startup = 100.0;
    let cost = |rows: f64| startup + rows * 0.1;
    if is_view_table(foreigntableid) {
        let path =
            crate::compat::create_foreignscan_path(root, baserel, rows, startup, cost(rows), std::ptr::null_mut());
        pg_sys::add_path(baserel, path as *mut pg_sys::Path);
        return;
    }
    let (resource, _) = table_resource(foreigntableid);
    let unreadable = 1.0e10;
    let (_, readable) = scan_estimate(root, baserel, foreigntableid, resource, None);
    let total = if readable { cost(rows) } else { unreadable };
    let path = crate::compat::create_foreignscan_path(root, baserel, rows, startup, total, std::ptr::null_mut());
    pg_sys::add_path(baserel, path as *mut pg_sys::Path);
    let mut seen: Vec<*mut pg_sys::Bitmapset> = Vec::new();
    for (rinfo, column) in join_equalities(root, baserel, foreigntableid, resource) {
        let mut required_outer = pg_sys::bms_union((*rinfo).clause_relids, (*baserel).lateral_relids);
        required_outer = pg_sys::bms_del_member(required_outer, (*baserel).relid as c_int);
        if pg_sys::bms_num_members(required_outer) == 0 || seen.iter().any(|s| pg_sys::bms_equal(*s, required_outer)) {
            continue;
        }
        seen.push(required_outer);
        // Registers the clauses PostgreSQL moves into this path (get_foreign_plan gets them).
        pg_sys::get_baserel_parampathinfo(root, baserel, required_outer);
        let (rows, readable) = scan_estimate(root, baserel, foreigntableid, resource, Some(&column));
        let total = if readable { cost(rows) } else { unreadable };
        let path = crate::compat::create_foreignscan_path(root, baserel, rows, startup, total, required_outer);
        pg_sys::add_path(baserel, path as *mut pg_sys::Path);
    }
}

#[pg_guard]
pub unsafe extern "C-unwind" fn get_foreign_plan(
    _root: *mut pg_sys::PlannerInfo,
    baserel: *mut pg_sys::RelOptInfo,
    foreigntableid: pg_sys::Oid,
    _best_path: *mut pg_sys::ForeignPath,
    tlist: *mut pg_sys::List,
    scan_clauses: *mut pg_sys::List,
    outer_plan: *mut pg_sys::Plan,
) -> *mut pg_sys::ForeignScan {
    let view = is_view_table(foreigntableid);
    let classic = (!view).then(|| table_resource(foreigntableid));
    let quals = pg_sys::extract_actual_clauses(scan_clauses, false);
    let mut exprs = PgList::<pg_sys::Node>::new();
    let mut private = ScanPrivate::default();
    let mut pushed_columns: Vec<String> = Vec::new();
    for Pushable { attno, column, op, value } in
        pushable_conditions(quals, (*baserel).relid, foreigntableid, classic.as_ref().map(|(r, _)| *r))
    {
        exprs.push(value);
        private.conditions.push(PushedCondition { attno, op });
        if matches!(op, QualOp::Eq | QualOp::In) {
            pushed_columns.push(column);
        }
    }
    let present: Vec<&str> = pushed_columns.iter().map(String::as_str).collect();
    if let Some((resource, table_name)) = classic.filter(|(r, _)| !requirements_met(r, &present)) {
        errors::raise(
            PgSqlErrorCode::ERRCODE_FDW_DYNAMIC_PARAMETER_VALUE_NEEDED,
            format!(
                "cannot read CDF table \"{table_name}\" without a condition: {}",
                requirement_message(resource).unwrap_or_default()
            ),
            Some("CDF cannot list every series or RAW table at once; add the condition to the WHERE clause.".into()),
        );
    }
    // Every condition stays in the local filter: pushing down only narrows what is fetched.
    pg_sys::make_foreignscan(
        tlist,
        quals,
        (*baserel).relid,
        exprs.into_pg(),
        private.to_list(),
        std::ptr::null_mut(),
        std::ptr::null_mut(),
        outer_plan,
    )
}

#[pg_guard]
pub unsafe extern "C-unwind" fn explain_foreign_scan(
    node: *mut pg_sys::ForeignScanState,
    es: *mut pg_sys::ExplainState,
) {
    let rel = (*node).ss.ss_currentRelation;
    let plan = (*node).ss.ps.plan as *mut pg_sys::ForeignScan;
    let conditions = named_conditions((*rel).rd_id, &ScanPrivate::from_list((*plan).fdw_private));
    let request = if is_view_table((*rel).rd_id) {
        crate::views::describe_read(&conditions)
    } else {
        describe_request(table_resource((*rel).rd_id).0, &conditions)
    };
    let request = CString::new(request).unwrap();
    pg_sys::ExplainPropertyText(c"CDF Request".as_ptr(), request.as_ptr(), es);
    if !conditions.is_empty() {
        let text: Vec<String> = conditions.iter().map(|(c, op)| format!("{c} {}", op.code())).collect();
        let text = CString::new(text.join(", ")).unwrap();
        pg_sys::ExplainPropertyText(c"CDF Conditions".as_ptr(), text.as_ptr(), es);
    }
    if !(*es).analyze || (*node).fdw_state.is_null() {
        return;
    }
    // fdw_state is a ViewScan for view tables, a ScanState for the others.
    let usage = if is_view_table((*rel).rd_id) {
        &(*((*node).fdw_state as *mut crate::views::ViewScan)).bound.conn.usage
    } else {
        &(&*((*node).fdw_state as *mut ScanState)).ctx.usage
    };
    crate::stats::explain(&usage.borrow(), es);
}

#[pg_guard]
pub unsafe extern "C-unwind" fn begin_foreign_scan(node: *mut pg_sys::ForeignScanState, eflags: c_int) {
    if eflags & pg_sys::EXEC_FLAG_EXPLAIN_ONLY as c_int != 0 {
        return;
    }
    // Read-your-writes: rows batched in this transaction reach CDF before anything is read.
    crate::batch::flush_all();
    let rel = (*node).ss.ss_currentRelation;
    let plan = (*node).ss.ps.plan as *mut pg_sys::ForeignScan;
    let descriptions = named_conditions((*rel).rd_id, &ScanPrivate::from_list((*plan).fdw_private));
    let exprs = PgList::<pg_sys::Node>::from_pg((*plan).fdw_exprs);
    let mut conditions = Vec::with_capacity(descriptions.len());
    for ((column, op), expr) in descriptions.into_iter().zip(exprs.iter_ptr()) {
        let state = pg_sys::ExecInitExpr(expr as *mut pg_sys::Expr, node as *mut pg_sys::PlanState);
        conditions.push((column, op, state, pg_sys::exprType(expr)));
    }
    if is_view_table((*rel).rd_id) {
        let bound = crate::views::bind_view(rel, crate::compat::scan_user(node));
        let state = crate::views::ViewScan::new(bound, conditions, (*node).ss.ps.ps_ExprContext);
        let ptr = PgMemoryContexts::CurrentMemoryContext.leak_and_drop_on_delete(state);
        (*node).fdw_state = ptr as *mut std::ffi::c_void;
        return;
    }
    let ctx = table_context((*rel).rd_id, crate::compat::scan_user(node));
    let bindings = bind_columns(rel, ctx.resource, &ctx.table_name);
    let used = used_attributes(plan);
    let references = bindings
        .iter()
        .filter(|b| uses_attribute(used, b.attidx + 1))
        .filter_map(|b| b.column.reference().map(|r| (b.column, r)))
        .collect();
    let state = ScanState {
        ctx,
        bindings,
        conditions,
        econtext: (*node).ss.ps.ps_ExprContext,
        reader: None,
        page: VecDeque::new(),
        external_ids: ExternalIdFiller::new(references),
    };
    let ptr = PgMemoryContexts::CurrentMemoryContext.leak_and_drop_on_delete(state);
    (*node).fdw_state = ptr as *mut std::ffi::c_void;
}

#[pg_guard]
pub unsafe extern "C-unwind" fn iterate_foreign_scan(
    node: *mut pg_sys::ForeignScanState,
) -> *mut pg_sys::TupleTableSlot {
    let slot = (*node).ss.ss_ScanTupleSlot;
    pg_sys::ExecClearTuple(slot);
    if is_view_table((*(*node).ss.ss_currentRelation).rd_id) {
        return crate::views::iterate(node);
    }
    let Some(state) = ((*node).fdw_state as *mut ScanState).as_mut() else {
        return slot;
    };
    if state.reader.is_none() {
        state.start();
    }
    let Some(row) = state.next_row() else {
        return slot;
    };
    store_row(slot, &state.bindings, &row);
    slot
}

#[pg_guard]
pub unsafe extern "C-unwind" fn rescan_foreign_scan(node: *mut pg_sys::ForeignScanState) {
    if is_view_table((*(*node).ss.ss_currentRelation).rd_id) {
        if let Some(state) = ((*node).fdw_state as *mut crate::views::ViewScan).as_mut() {
            state.reset();
        }
        return;
    }
    if let Some(state) = ((*node).fdw_state as *mut ScanState).as_mut() {
        state.reader = None;
        state.page.clear();
    }
}

#[pg_guard]
pub unsafe extern "C-unwind" fn end_foreign_scan(_node: *mut pg_sys::ForeignScanState) {
    // The state lives in the query memory context and is dropped with it.
}
