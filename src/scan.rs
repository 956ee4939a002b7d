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

use cdf_client::aggregates::count_objects;
use cdf_client::references::ExternalIdFiller;
use cdf_client::{Reader, Row};
use cdf_tables::reads::{
    answers_every_condition, describe_request, estimated_rows, pushable, requirement_message, requirements_met,
    PlannedQual, ReadShape, MAX_LATEST_READS,
};
use cdf_tables::{plan_read, ListSort, PushedQual, QualOp, ReadPlan, Value};
use pgrx::pg_sys;
use pgrx::prelude::*;
use pgrx::{PgList, PgMemoryContexts};

use crate::backend;
use crate::context::{is_view_table, table_context, table_resource, TableContext};
use crate::convert::{array_condition_fits, condition_value_fits, datum_to_value};
use crate::errors;
use crate::plan::{ParamLimit, PushedCondition, ScanKind, ScanPrivate};
use crate::tuple::{bind_columns, store_point, store_row, Binding};
use crate::typed_raw::BoundTypedRaw;

/// Whether the scan's `fdw_state` is a view table's (`views::ViewScan`).
unsafe fn is_view_scan(node: *mut pg_sys::ForeignScanState) -> bool {
    let kind = (*node).fdw_state as *const ScanKind;
    !kind.is_null() && *kind == ScanKind::View
}

#[repr(C)]
pub struct ScanState {
    kind: ScanKind,
    ctx: TableContext,
    bindings: Vec<Binding>,
    /// Pushed conditions: column, operator, the value's ExprState and type.
    conditions: Vec<Condition>,
    econtext: *mut pg_sys::ExprContext,
    /// LIMIT and order the planner pushed.
    shape: ReadShape,
    /// A LIMIT that is a parameter (`LIMIT $1`): its count and OFFSET, evaluated at each start.
    limit_exprs: Vec<*mut pg_sys::ExprState>,
    /// The LIMIT of the last start (the planned one or the parameter's value), for EXPLAIN.
    limit_used: Option<u64>,
    /// The `sort` of a list read in the query's order.
    sort: Option<serde_json::Value>,
    /// The filter of the list request the scan made, for EXPLAIN ANALYZE.
    sent_filter: Option<String>,
    /// Whether the planned LIMIT went to CDF (it does not when CDF answers a condition only in part).
    limit_sent: bool,
    reader: Option<Reader>,
    page: VecDeque<Row>,
    /// Turns the ids of references into the external ids of the columns the query reads.
    external_ids: Option<ExternalIdFiller>,
    /// A typed RAW table: its rows are raw_rows rows of one RAW table, converted to its columns.
    typed: Option<BoundTypedRaw>,
}

impl ScanState {
    /// Evaluates the pushed conditions and plans the CDF reads; runs at the first row and after
    /// each rescan, when parameter values may have changed.
    pub(crate) unsafe fn start(&mut self) {
        self.start_with(Vec::new());
    }

    /// As `start`, with `extra` conditions besides the pushed ones (a batched join's keys).
    pub(crate) unsafe fn start_with(&mut self, extra: Vec<PushedQual>) {
        let mut quals = evaluate_conditions(&self.conditions, self.econtext);
        quals.extend(extra);
        if let Some(typed) = &self.typed {
            for q in &mut quals {
                q.value = crate::typed_raw::key_value(std::mem::replace(&mut q.value, Value::Null));
            }
            quals.extend(typed.address_quals());
        }
        let shape = ReadShape {
            limit: self.shape.limit.or_else(|| parameter_limit_value(&self.limit_exprs, self.econtext)),
            ..self.shape
        };
        self.limit_used = shape.limit;
        let plan = plan_read(self.ctx.resource, &quals, shape)
            .unwrap_or_else(|m| errors::raise(PgSqlErrorCode::ERRCODE_FDW_DYNAMIC_PARAMETER_VALUE_NEEDED, m, None));
        self.sent_filter = list_filter_text(&plan);
        // A LIMIT stops the reads only when CDF answers every condition exactly; otherwise
        // PostgreSQL's re-check could drop rows the LIMIT counted.
        let limit = shape.limit.filter(|_| answers_every_condition(self.ctx.resource, &quals));
        self.limit_sent = limit.is_some() || shape.limit.is_none();
        let reader = Reader::new(self.ctx.resource, plan).sorted(self.sort.clone()).limit(limit);
        self.reader = Some(reader.concurrency(self.ctx.max_concurrent_requests));
        self.page.clear();
    }

    /// The scan of one side of a batched join: `bindings` are the columns it stores (at their
    /// places in the join's row), `conditions` its pushed ones; no LIMIT, no order.
    pub(crate) fn join_side(
        ctx: TableContext,
        bindings: Vec<Binding>,
        conditions: Vec<Condition>,
        econtext: *mut pg_sys::ExprContext,
    ) -> ScanState {
        let external_ids = external_id_filler(&bindings);
        ScanState {
            kind: ScanKind::Table,
            ctx,
            bindings,
            conditions,
            econtext,
            shape: ReadShape::default(),
            limit_exprs: Vec::new(),
            limit_used: None,
            sort: None,
            sent_filter: None,
            limit_sent: true,
            reader: None,
            page: VecDeque::new(),
            external_ids,
            typed: None,
        }
    }

    pub(crate) fn context(&self) -> &TableContext {
        &self.ctx
    }

    pub(crate) fn bindings(&self) -> &[Binding] {
        &self.bindings
    }

    /// Forgets the read, so that the next `start` reads anew.
    pub(crate) fn reset(&mut self) {
        self.reader = None;
        self.page.clear();
    }

    /// The next row, fetching pages as needed; `None` at the end.
    pub(crate) fn next_row(&mut self) -> Option<Row> {
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
                    filler.fill(session, rows.iter_mut().filter_map(Row::item_mut)).await?;
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

/// A scan's pushed condition: column, operator, the value's ExprState and type.
pub(crate) type Condition = (String, QualOp, *mut pg_sys::ExprState, pg_sys::Oid);

/// The pushed conditions of a scan node, their value expressions (`exprs`, in order) made ready
/// for evaluation.
pub(crate) unsafe fn init_conditions(
    node: *mut pg_sys::ForeignScanState,
    named: Vec<(String, QualOp)>,
    exprs: &[*mut pg_sys::Node],
) -> Vec<Condition> {
    named
        .into_iter()
        .zip(exprs)
        .map(|((column, op), expr)| {
            let state = pg_sys::ExecInitExpr(*expr as *mut pg_sys::Expr, node as *mut pg_sys::PlanState);
            (column, op, state, pg_sys::exprType(*expr))
        })
        .collect()
}

/// The reference columns among `bindings` whose external ids the scan looks up.
fn external_id_filler<'a>(bindings: impl IntoIterator<Item = &'a Binding>) -> Option<ExternalIdFiller> {
    ExternalIdFiller::new(bindings.into_iter().filter_map(|b| b.column.reference().map(|r| (b.column, r))).collect())
}

/// The pushed conditions with their values, evaluated now (constants and parameters).
unsafe fn evaluate_conditions(conditions: &[Condition], econtext: *mut pg_sys::ExprContext) -> Vec<PushedQual> {
    let mut quals = Vec::with_capacity(conditions.len());
    for (column, op, expr_state, typoid) in conditions {
        let mut isnull = false;
        let datum = pg_sys::ExecEvalExprSwitchContext(*expr_state, econtext, &mut isnull);
        if !isnull && *typoid == pg_sys::TIMESTAMPTZOID {
            // 'infinity' / '-infinity' (the extreme int64 values): a bound every CDF time meets
            // (left out), or none does (NULL: nothing to read, as a NULL comparison).
            let micros = datum.value() as i64;
            if micros == i64::MAX || micros == i64::MIN {
                let positive = micros == i64::MAX;
                let always = match op {
                    QualOp::Lt | QualOp::Le => positive,
                    QualOp::Gt | QualOp::Ge => !positive,
                    _ => false,
                };
                if !always {
                    quals.push(PushedQual { column: column.clone(), op: *op, value: Value::Null });
                }
                continue;
            }
        }
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
    quals
}

/// LIMIT plus OFFSET of a parameter LIMIT, evaluated now; `None` for `LIMIT NULL` (no limit) or
/// a plan without one.
unsafe fn parameter_limit_value(exprs: &[*mut pg_sys::ExprState], econtext: *mut pg_sys::ExprContext) -> Option<u64> {
    let mut total: u64 = 0;
    for (i, expr) in exprs.iter().enumerate() {
        let mut isnull = false;
        let datum = pg_sys::ExecEvalExprSwitchContext(*expr, econtext, &mut isnull);
        match (i, isnull) {
            // LIMIT NULL is LIMIT ALL; OFFSET NULL is OFFSET 0.
            (0, true) => return None,
            (_, true) => {}
            // int8 (the parser casts LIMIT and OFFSET to bigint); PostgreSQL's Limit rejects
            // negative values before the scan runs.
            (_, false) => total = total.saturating_add(u64::try_from(datum.value() as i64).unwrap_or(0)),
        }
    }
    (!exprs.is_empty()).then_some(total)
}

/// The order a sorted list read asks CDF for.
unsafe fn list_sort(
    relid: pg_sys::Oid,
    resource: &'static cdf_tables::Resource,
    private: &ScanPrivate,
) -> Option<ListSort> {
    let (attno, nulls_first) = private.sort?;
    let field = resource.sort_field(&attribute_name(relid, attno))?;
    Some(ListSort { field, descending: private.descending, nulls_first })
}

/// The `filter` JSON of a list read, for EXPLAIN.
fn list_filter_text(plan: &ReadPlan) -> Option<String> {
    match plan {
        ReadPlan::List(filter) if !filter.is_empty() => Some(serde_json::Value::Object(filter.clone()).to_string()),
        _ => None,
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

/// `ARRAY[element]`, of the element's array type.
unsafe fn one_element_array(element: *mut pg_sys::Node) -> Option<*mut pg_sys::Node> {
    let element_type = pg_sys::exprType(element);
    let array_type = pg_sys::get_array_type(element_type);
    if array_type == pg_sys::InvalidOid {
        return None;
    }
    let array = pg_sys::palloc0(std::mem::size_of::<pg_sys::ArrayExpr>()) as *mut pg_sys::ArrayExpr;
    (*array).xpr.type_ = pg_sys::NodeTag::T_ArrayExpr;
    (*array).array_typeid = array_type;
    (*array).array_collid = pg_sys::exprCollation(element);
    (*array).element_typeid = element_type;
    let mut elements = PgList::<pg_sys::Node>::new();
    elements.push(element);
    (*array).elements = elements.into_pg();
    (*array).multidims = false;
    (*array).location = -1;
    Some(array as *mut pg_sys::Node)
}

/// `column->>'key' = value` on a JSON column, as a `KeyEq` condition whose value is the
/// expression `ARRAY['key', value]` (text).
unsafe fn json_key_condition(
    lookup: *mut pg_sys::Node,
    value: *mut pg_sys::Node,
    relid: pg_sys::Index,
) -> Option<(pg_sys::AttrNumber, QualOp, *mut pg_sys::Node)> {
    if (*lookup).type_ != pg_sys::NodeTag::T_OpExpr || !scan_time_value(value, relid) {
        return None;
    }
    let op = lookup as *mut pg_sys::OpExpr;
    let args = PgList::<pg_sys::Node>::from_pg((*op).args);
    let name = CStr::from_ptr(pg_sys::get_opname((*op).opno)).to_str().ok()?;
    if name != "->>" || args.len() != 2 {
        return None;
    }
    let att = scanned_column(args.get_ptr(0)?, relid)?;
    let key = strip_relabel(args.get_ptr(1)?);
    let text = |n: *mut pg_sys::Node| [pg_sys::TEXTOID, pg_sys::VARCHAROID].contains(&pg_sys::exprType(n));
    if (*key).type_ != pg_sys::NodeTag::T_Const || !text(key) || !text(value) {
        return None;
    }
    let array = pg_sys::palloc0(std::mem::size_of::<pg_sys::ArrayExpr>()) as *mut pg_sys::ArrayExpr;
    (*array).xpr.type_ = pg_sys::NodeTag::T_ArrayExpr;
    (*array).array_typeid = pg_sys::TEXTARRAYOID;
    (*array).array_collid = pg_sys::DEFAULT_COLLATION_OID;
    (*array).element_typeid = pg_sys::TEXTOID;
    let mut elements = PgList::<pg_sys::Node>::new();
    elements.push(key);
    elements.push(strip_relabel(value));
    (*array).elements = elements.into_pg();
    (*array).multidims = false;
    (*array).location = -1;
    Some((att, QualOp::KeyEq, array as *mut pg_sys::Node))
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
                scan_time_value(l, relid).then_some((att, qop.commuted()?, l))
            } else if qop == QualOp::Eq {
                json_key_condition(l, r, relid).or_else(|| json_key_condition(r, l, relid))
            } else {
                None
            }
        }
        // PostgreSQL turns `flag = true` into `flag` and `flag = false` into `NOT flag`.
        pg_sys::NodeTag::T_Var if pg_sys::exprType(clause) == pg_sys::BOOLOID => {
            let att = scanned_column(clause, relid)?;
            Some((att, QualOp::Eq, pg_sys::makeBoolConst(true, false)))
        }
        pg_sys::NodeTag::T_BoolExpr => {
            let expr = clause as *mut pg_sys::BoolExpr;
            let args = PgList::<pg_sys::Node>::from_pg((*expr).args);
            if (*expr).boolop != pg_sys::BoolExprType::NOT_EXPR || args.len() != 1 {
                return None;
            }
            let arg = args.get_ptr(0)?;
            if pg_sys::exprType(arg) != pg_sys::BOOLOID {
                return None;
            }
            let att = scanned_column(arg, relid)?;
            Some((att, QualOp::Eq, pg_sys::makeBoolConst(false, false)))
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
            let (l, r) = (args.get_ptr(0)?, args.get_ptr(1)?);
            if let Some(att) = scanned_column(l, relid) {
                return scan_time_value(r, relid).then_some((att, QualOp::In, r));
            }
            // `value = ANY(array_column)` (`a.id = ANY(e.asset_ids)`): the column overlaps
            // `ARRAY[value]`.
            let att = scanned_column(r, relid)?;
            if !scan_time_value(l, relid) {
                return None;
            }
            Some((att, QualOp::Overlaps, one_element_array(strip_relabel(l))?))
        }
        _ => None,
    }
}

/// The pushed conditions of a plan as column names and operators.
/// A typed RAW table's key column is named as raw_rows knows it (`_raw_key`).
pub(crate) unsafe fn named_conditions(relid: pg_sys::Oid, private: &ScanPrivate) -> Vec<(String, QualOp)> {
    let mut named: Vec<(String, QualOp)> = private
        .conditions
        .iter()
        .map(|c| {
            let name = attribute_name(relid, c.attno);
            (crate::typed_raw::pushed_column(relid, &name).map(str::to_string).unwrap_or(name), c.op)
        })
        .collect();
    if crate::typed_raw::is_typed_raw(relid) {
        // The table's options name its RAW table.
        named.extend([("_raw_database".to_string(), QualOp::Eq), ("_raw_table".to_string(), QualOp::Eq)]);
    }
    named
}

pub(crate) unsafe fn attribute_name(relid: pg_sys::Oid, attno: pg_sys::AttrNumber) -> String {
    CStr::from_ptr(pg_sys::get_attname(relid, attno, false)).to_string_lossy().into_owned()
}

/// A condition of the scan that CDF can answer.
pub(crate) struct Pushable {
    pub attno: pg_sys::AttrNumber,
    pub column: String,
    pub op: QualOp,
    /// The value expression, evaluated when the scan starts.
    pub value: *mut pg_sys::Node,
    /// The clause it comes from.
    pub clause: *mut pg_sys::Node,
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
        let mut column = attribute_name(foreigntableid, attno);
        if crate::typed_raw::is_typed_raw(foreigntableid) {
            // Only the primary key is outside the RAW row's JSON.
            match crate::typed_raw::pushed_column(foreigntableid, &column) {
                Some(key) => column = key.to_string(),
                None => continue,
            }
        }
        let column_type = pg_sys::get_atttype(foreigntableid, attno);
        // `None`: a view table, whose pushable conditions the view decides.
        let push = match resource {
            Some(resource) => pushable(resource, &column, op),
            None => (op.is_comparison() || op == QualOp::Like) && crate::views::pushable(&column, op),
        };
        let value_type = pg_sys::exprType(value);
        let fits = match op {
            QualOp::IsNull | QualOp::IsNotNull | QualOp::KeyEq => true,
            QualOp::Overlaps | QualOp::Contains => array_condition_fits(column_type, value_type),
            _ => condition_value_fits(column_type, value_type, op == QualOp::In),
        };
        if push && fits && !(op == QualOp::Like && like_without_literal_start(value)) {
            out.push(Pushable { attno, column, op, value, clause });
        }
    }
    out
}

/// A constant LIKE pattern that starts with a wildcard (`'%1'`): CDF's prefix filters cannot
/// narrow the read by it, so it is PostgreSQL's condition alone (and EXPLAIN does not list it).
unsafe fn like_without_literal_start(value: *mut pg_sys::Node) -> bool {
    let node = strip_relabel(value);
    if (*node).type_ != pg_sys::NodeTag::T_Const {
        return false;
    }
    let c = node as *mut pg_sys::Const;
    if (*c).constisnull {
        return false;
    }
    let pattern = pg_sys::text_to_cstring((*c).constvalue.cast_mut_ptr());
    let empty = cdf_tables::reads::like_prefix(&std::ffi::CStr::from_ptr(pattern).to_string_lossy()).0.is_empty();
    pg_sys::pfree(pattern.cast());
    empty
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

/// The restriction clauses of the scan, each as the condition CDF answers for it if any.
unsafe fn classified_clauses(
    baserel: *mut pg_sys::RelOptInfo,
    foreigntableid: pg_sys::Oid,
    resource: &cdf_tables::Resource,
) -> Vec<(*mut pg_sys::RestrictInfo, Option<Pushable>)> {
    let restrictions = PgList::<pg_sys::RestrictInfo>::from_pg((*baserel).baserestrictinfo);
    let mut out = Vec::new();
    for rinfo in restrictions.iter_ptr() {
        let clause = (*rinfo).clause as *mut pg_sys::Node;
        let single = PgList::<pg_sys::Node>::from_pg(pg_sys::lappend(std::ptr::null_mut(), clause.cast()));
        out.push((
            rinfo,
            pushable_conditions(single.into_pg(), (*baserel).relid, foreigntableid, Some(resource)).pop(),
        ));
    }
    out
}

/// The LIMIT (plus OFFSET) the scan may stop at: the planner's own bound on the rows of the
/// FROM/WHERE part (`limit_tuples`, set only without grouping, aggregates, DISTINCT, window
/// functions and set-returning functions), when this scan is that whole part (one relation, a
/// SELECT) and CDF answers every condition (none is left for PostgreSQL alone). Whether the
/// query's ORDER BY allows it is the caller's question.
unsafe fn scan_limit(
    root: *mut pg_sys::PlannerInfo,
    baserel: *mut pg_sys::RelOptInfo,
    all_pushed: bool,
) -> Option<u64> {
    let parse = (*root).parse;
    let one_relation = (*baserel).reloptkind == pg_sys::RelOptKind::RELOPT_BASEREL
        && pg_sys::bms_membership((*root).all_baserels) == pg_sys::BMS_Membership::BMS_SINGLETON;
    let limit = (*root).limit_tuples;
    (all_pushed && one_relation && (*parse).commandType == pg_sys::CmdType::CMD_SELECT && limit >= 1.0)
        .then_some(limit as u64)
}

/// An expression the scan can evaluate when it starts: constants, and parameters of the
/// statement (PREPARE, the extended protocol) under casts, functions and operators that are not
/// volatile. No columns, no subquery results.
unsafe fn statement_parameter_expression(node: *mut pg_sys::Node) -> bool {
    if node.is_null() || pg_sys::contain_volatile_functions(node) {
        return false;
    }
    let all = |args: *mut pg_sys::List| {
        PgList::<pg_sys::Node>::from_pg(args).iter_ptr().all(|a| statement_parameter_expression(a))
    };
    match (*node).type_ {
        pg_sys::NodeTag::T_Const => true,
        pg_sys::NodeTag::T_Param => (*(node as *mut pg_sys::Param)).paramkind == pg_sys::ParamKind::PARAM_EXTERN,
        pg_sys::NodeTag::T_RelabelType => {
            statement_parameter_expression((*(node as *mut pg_sys::RelabelType)).arg as *mut pg_sys::Node)
        }
        pg_sys::NodeTag::T_FuncExpr => all((*(node as *mut pg_sys::FuncExpr)).args),
        pg_sys::NodeTag::T_OpExpr => all((*(node as *mut pg_sys::OpExpr)).args),
        _ => false,
    }
}

/// A LIMIT (and OFFSET) whose value only the statement's parameters give (`LIMIT $1` in a
/// generic plan), where a constant one would hold for the scan: the planner then has no
/// `limit_tuples`, so the same conditions are checked here (one relation, a SELECT, every
/// condition pushed, no grouping, aggregates, DISTINCT, window functions, set-returning
/// functions or WITH TIES). The count and OFFSET expressions, evaluated when the scan starts.
unsafe fn parameter_limit(
    root: *mut pg_sys::PlannerInfo,
    baserel: *mut pg_sys::RelOptInfo,
    all_pushed: bool,
) -> Option<(*mut pg_sys::Node, Option<*mut pg_sys::Node>)> {
    let parse = (*root).parse;
    let one_relation = (*baserel).reloptkind == pg_sys::RelOptKind::RELOPT_BASEREL
        && pg_sys::bms_membership((*root).all_baserels) == pg_sys::BMS_Membership::BMS_SINGLETON;
    let count = (*parse).limitCount;
    let plain = (*parse).groupClause.is_null()
        && (*parse).groupingSets.is_null()
        && (*parse).distinctClause.is_null()
        && !(*parse).hasAggs
        && !(*parse).hasWindowFuncs
        && !(*parse).hasTargetSRFs
        && (*parse).havingQual.is_null()
        && (*parse).setOperations.is_null()
        && (*parse).limitOption != pg_sys::LimitOption::LIMIT_OPTION_WITH_TIES;
    if !(all_pushed && one_relation && plain && (*parse).commandType == pg_sys::CmdType::CMD_SELECT)
        || count.is_null()
        || (*root).limit_tuples >= 1.0
        || !statement_parameter_expression(count)
    {
        return None;
    }
    let offset = (*parse).limitOffset;
    if !offset.is_null() && !statement_parameter_expression(offset) {
        return None;
    }
    Some((count, (!offset.is_null()).then_some(offset)))
}

/// The planned view of the pushed conditions, for estimates.
unsafe fn planned_quals(clauses: &[(*mut pg_sys::RestrictInfo, Option<Pushable>)]) -> Vec<PlannedQual> {
    clauses
        .iter()
        .filter_map(|(_, p)| p.as_ref())
        .map(|p| PlannedQual { values: values_known_at_plan_time(p), column: p.column.clone(), op: p.op })
        .collect()
}

/// The column the query orders by, when it is one pathkey on this relation's `column`: the
/// pathkey list and whether it is descending.
unsafe fn ordering_on(
    root: *mut pg_sys::PlannerInfo,
    baserel: *mut pg_sys::RelOptInfo,
    foreigntableid: pg_sys::Oid,
    column: &CStr,
) -> Option<(*mut pg_sys::List, bool)> {
    let pathkeys = PgList::<pg_sys::PathKey>::from_pg((*root).query_pathkeys);
    if pathkeys.len() != 1 {
        return None;
    }
    let pathkey = pathkeys.get_ptr(0)?;
    let attno = pg_sys::get_attnum(foreigntableid, column.as_ptr());
    let members = PgList::<pg_sys::EquivalenceMember>::from_pg((*(*pathkey).pk_eclass).ec_members);
    let ours = members
        .iter_ptr()
        .any(|em| scanned_column((*em).em_expr as *mut pg_sys::Node, (*baserel).relid) == Some(attno));
    ours.then(|| ((*root).query_pathkeys, crate::compat::pathkey_descending(pathkey)))
}

/// Rows a scan returns from what the pushed conditions allow (ids, keys, a LIMIT), times the
/// selectivity of the other conditions, which only PostgreSQL evaluates; `join` is an equality
/// with the outer row of a parameterized path. Also whether the scan can say what to read (the
/// table's required conditions, or a LIMIT that makes it a preview).
unsafe fn scan_estimate(
    root: *mut pg_sys::PlannerInfo,
    baserel: *mut pg_sys::RelOptInfo,
    foreigntableid: pg_sys::Oid,
    resource: &'static cdf_tables::Resource,
    join: Option<&JoinKey>,
) -> (f64, bool) {
    let clauses = classified_clauses(baserel, foreigntableid, resource);
    // estimated_rows counts what ids, series and keys allow; every other condition (a list filter
    // too: CDF narrows by it, but how much is as unknown) lowers that by its selectivity.
    let mut selective = PgList::<pg_sys::RestrictInfo>::new();
    for (rinfo, pushed) in &clauses {
        let counted = pushed.as_ref().is_some_and(|p| {
            resource.read != cdf_tables::ReadKind::Items
                || (matches!(p.op, QualOp::Eq | QualOp::In) && matches!(p.column.as_str(), "id" | "external_id"))
        });
        if !counted {
            selective.push(*rinfo);
        }
    }
    let all_pushed = clauses.iter().all(|(_, p)| p.is_some());
    let selectivity = pg_sys::clauselist_selectivity(
        root,
        selective.into_pg(),
        (*baserel).relid as c_int,
        pg_sys::JoinType::JOIN_INNER,
        std::ptr::null_mut(),
    );
    let mut planned = planned_quals(&clauses);
    if crate::typed_raw::is_typed_raw(foreigntableid) {
        for column in ["_raw_database", "_raw_table"] {
            planned.push(PlannedQual { values: Some(1), column: column.into(), op: QualOp::Eq });
        }
    }
    let mut join_selectivity = 1.0;
    if let Some(key) = join {
        // `=`: one key per outer row. `IN` / overlap with the outer row's array: as many as
        // PostgreSQL's selectivity of the join clause leaves of the list.
        let values = (key.op == QualOp::Eq).then_some(1);
        planned.push(PlannedQual { column: key.column.clone(), op: key.op, values });
        if key.op != QualOp::Eq {
            // PostgreSQL has no statistics of a foreign array column (`a.id = ANY(e.asset_ids)`
            // comes out as 1): one outer key is taken to leave at most 1% of the list.
            join_selectivity = pg_sys::clause_selectivity(
                root,
                key.rinfo as *mut pg_sys::Node,
                0,
                pg_sys::JoinType::JOIN_INNER,
                std::ptr::null_mut(),
            )
            .min(0.01);
        }
    }
    // Without an ORDER BY, every path stops at the LIMIT (a sorted path says so itself).
    let limit = scan_limit(root, baserel, all_pushed).filter(|_| (*root).query_pathkeys.is_null());
    let present: Vec<&str> =
        planned.iter().filter(|q| matches!(q.op, QualOp::Eq | QualOp::In)).map(|q| q.column.as_str()).collect();
    let readable = requirements_met(resource, &present) || limit.is_some();
    ((estimated_rows(resource, &planned, limit) * selectivity * join_selectivity).max(1.0).round(), readable)
}

/// Whether a scan of the relation can say what to read from its own conditions.
pub(crate) unsafe fn readable_alone(
    root: *mut pg_sys::PlannerInfo,
    baserel: *mut pg_sys::RelOptInfo,
    foreigntableid: pg_sys::Oid,
) -> bool {
    let (resource, _) = table_resource(foreigntableid);
    scan_estimate(root, baserel, foreigntableid, resource, None).1
}

/// Rows from what the pushed conditions allow (ids, keys, a LIMIT), times the selectivity of
/// the other conditions, which only PostgreSQL evaluates.
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
    (*baserel).rows = match remote_estimate(root, baserel, foreigntableid, resource) {
        Some(rows) => rows,
        None => scan_estimate(root, baserel, foreigntableid, resource, None).0,
    };
}

/// With `use_remote_estimate`, the rows of a list read: CDF's count of the objects its list
/// filter matches (one `POST /{resource}/aggregate` while planning), times the selectivity of
/// the conditions CDF does not filter by. `None` (the plain estimate stands) for resources
/// without aggregate counts, byids lookups (their ids count), a condition whose value planning
/// does not know (a parameter of a generic plan), or a count CDF does not give.
unsafe fn remote_estimate(
    root: *mut pg_sys::PlannerInfo,
    baserel: *mut pg_sys::RelOptInfo,
    foreigntableid: pg_sys::Oid,
    resource: &'static cdf_tables::Resource,
) -> Option<f64> {
    let enabled = || crate::context::table_or_server_option(foreigntableid, "use_remote_estimate");
    if !resource.has_aggregate_count() || enabled().as_deref() != Some("true") {
        return None;
    }
    let mut quals = Vec::new();
    let mut local = PgList::<pg_sys::RestrictInfo>::new();
    for (rinfo, pushed) in classified_clauses(baserel, foreigntableid, resource) {
        let Some(p) = pushed else {
            local.push(rinfo);
            continue;
        };
        let value = strip_relabel(pg_sys::estimate_expression_value(root, p.value));
        if (*value).type_ != pg_sys::NodeTag::T_Const {
            return None;
        }
        let c = value as *mut pg_sys::Const;
        let value =
            if (*c).constisnull { Value::Null } else { datum_to_value((*c).constvalue, (*c).consttype).ok()? };
        quals.push(PushedQual { column: p.column, op: p.op, value });
    }
    if quals
        .iter()
        .any(|q| matches!(q.column.as_str(), "id" | "external_id") && matches!(q.op, QualOp::Eq | QualOp::In))
    {
        return None;
    }
    let (filter, _) = cdf_tables::reads::list_filter(resource, &quals)?;
    let ctx = table_context(foreigntableid, (*baserel).userid);
    let path = ctx.resource.api_path;
    let count = backend::run(&ctx, async |session| count_objects(session, path, &filter).await).ok()?;
    let selectivity = pg_sys::clauselist_selectivity(
        root,
        local.into_pg(),
        (*baserel).relid as c_int,
        pg_sys::JoinType::JOIN_INNER,
        std::ptr::null_mut(),
    );
    Some((count as f64 * selectivity).max(1.0).round())
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

/// A join clause CDF answers for each outer row: `column = <outer value>`, `column = ANY(<outer
/// array>)`, or `array_column && <outer array>` (also as `<outer value> = ANY(array_column)`).
pub(crate) struct JoinKey {
    rinfo: *mut pg_sys::RestrictInfo,
    column: String,
    op: QualOp,
}

/// The join clauses CDF can answer for each outer row: from the relation's join clauses and
/// from equivalence classes (`a.x = b.y` PostgreSQL keeps as one).
unsafe fn join_keys(
    root: *mut pg_sys::PlannerInfo,
    baserel: *mut pg_sys::RelOptInfo,
    foreigntableid: pg_sys::Oid,
    resource: &'static cdf_tables::Resource,
) -> Vec<JoinKey> {
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
            matches!(p.op, QualOp::Eq | QualOp::In | QualOp::Overlaps).then_some(JoinKey {
                rinfo,
                column: p.column,
                op: p.op,
            })
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
    let add = |rows: f64, total: f64, pathkeys, required_outer, private| {
        let path = crate::compat::create_foreignscan_path(
            root,
            baserel,
            rows,
            startup,
            total,
            pathkeys,
            required_outer,
            private,
        );
        pg_sys::add_path(baserel, path as *mut pg_sys::Path);
    };
    if is_view_table(foreigntableid) {
        add(rows, cost(rows), std::ptr::null_mut(), std::ptr::null_mut(), std::ptr::null_mut());
        return;
    }
    let (resource, _) = table_resource(foreigntableid);
    let unreadable = 1.0e10;
    let (_, readable) = scan_estimate(root, baserel, foreigntableid, resource, None);
    add(
        rows,
        if readable { cost(rows) } else { unreadable },
        std::ptr::null_mut(),
        std::ptr::null_mut(),
        std::ptr::null_mut(),
    );
    if let Some((pathkeys, descending, rows, sort)) = sorted_read(root, baserel, foreigntableid) {
        // [descending] for datapoints and sequence rows; [descending, attno, nulls first] for a
        // sorted object list.
        let mut private = pg_sys::lappend_int(std::ptr::null_mut(), i32::from(descending));
        if let Some((attno, nulls_first)) = sort {
            private = pg_sys::lappend_int(private, i32::from(attno));
            private = pg_sys::lappend_int(private, i32::from(nulls_first));
        }
        add(rows, cost(rows), pathkeys, std::ptr::null_mut(), private);
    }
    let mut seen: Vec<*mut pg_sys::Bitmapset> = Vec::new();
    for key in join_keys(root, baserel, foreigntableid, resource) {
        let mut required_outer = pg_sys::bms_union((*key.rinfo).clause_relids, (*baserel).lateral_relids);
        required_outer = pg_sys::bms_del_member(required_outer, (*baserel).relid as c_int);
        if pg_sys::bms_num_members(required_outer) == 0 || seen.iter().any(|s| pg_sys::bms_equal(*s, required_outer)) {
            continue;
        }
        seen.push(required_outer);
        // Registers the clauses PostgreSQL moves into this path (get_foreign_plan gets them).
        pg_sys::get_baserel_parampathinfo(root, baserel, required_outer);
        let (rows, readable) = scan_estimate(root, baserel, foreigntableid, resource, Some(&key));
        add(
            rows,
            if readable { cost(rows) } else { unreadable },
            std::ptr::null_mut(),
            required_outer,
            std::ptr::null_mut(),
        );
    }
}

/// A read in the query's order, when CDF returns rows in it: the points of one series by
/// timestamp (ascending as listed; descending from `latest`, LIMIT n ≤ MAX_LATEST_READS), the
/// rows of one sequence by row number likewise; an object list CDF sorts (`sorted_list`). The
/// pathkeys, the direction, the rows, and for a list the sort column and NULLS FIRST.
unsafe fn sorted_read(
    root: *mut pg_sys::PlannerInfo,
    baserel: *mut pg_sys::RelOptInfo,
    foreigntableid: pg_sys::Oid,
) -> Option<SortedRead> {
    if is_view_table(foreigntableid) || (*root).query_pathkeys.is_null() {
        return None;
    }
    let (resource, _) = table_resource(foreigntableid);
    let column = match resource.read {
        cdf_tables::ReadKind::Datapoints => c"timestamp",
        cdf_tables::ReadKind::SequenceRows => c"row_number",
        _ => return sorted_list(root, baserel, foreigntableid, resource),
    };
    let (pathkeys, descending) = ordering_on(root, baserel, foreigntableid, column)?;
    let clauses = classified_clauses(baserel, foreigntableid, resource);
    let planned = planned_quals(&clauses);
    // One series: an `=` (or a one-value IN) on its id, external id or instance id.
    let one_series = planned.iter().any(|q| {
        matches!(q.column.as_str(), "id" | "external_id" | "instance_external_id")
            && matches!(q.op, QualOp::Eq | QualOp::In)
            && q.values == Some(1)
    });
    // Named one way only (id, external id or instance id): then CDF answers every condition and
    // the LIMIT holds when the scan runs, so a newest-first walk never runs over the whole series.
    let named_by = |cols: &[&str]| planned.iter().any(|q| cols.contains(&q.column.as_str()));
    let ways = [named_by(&["id"]), named_by(&["external_id"]), named_by(&["instance_space", "instance_external_id"])];
    if !one_series || ways.iter().filter(|w| **w).count() != 1 {
        return None;
    }
    let limit = scan_limit(root, baserel, clauses.iter().all(|(_, p)| p.is_some()));
    if descending && limit.is_none_or(|n| n > MAX_LATEST_READS) {
        return None;
    }
    Some((pathkeys, descending, estimated_rows(resource, &planned, limit), None))
}

/// A sorted read: pathkeys, descending, rows, and for an object list (attno, NULLS FIRST).
type SortedRead = (*mut pg_sys::List, bool, f64, Option<(pg_sys::AttrNumber, bool)>);

/// `ORDER BY <column> [DESC] [NULLS FIRST|LAST] LIMIT n` on an object list CDF sorts by that
/// column (`Resource::sort_field`): one list request with `sort` (and `nulls`, so any NULLs
/// placement is met) returns the first n rows, and PostgreSQL does not sort. Only with a LIMIT
/// the scan stops at (without one, a partitioned read and a local sort are faster), and not for
/// id / external id lookups (byids does not sort).
unsafe fn sorted_list(
    root: *mut pg_sys::PlannerInfo,
    baserel: *mut pg_sys::RelOptInfo,
    foreigntableid: pg_sys::Oid,
    resource: &'static cdf_tables::Resource,
) -> Option<SortedRead> {
    let pathkeys = PgList::<pg_sys::PathKey>::from_pg((*root).query_pathkeys);
    if pathkeys.len() != 1 {
        return None;
    }
    let pathkey = pathkeys.get_ptr(0)?;
    let members = PgList::<pg_sys::EquivalenceMember>::from_pg((*(*pathkey).pk_eclass).ec_members);
    let attno =
        members.iter_ptr().find_map(|em| scanned_column((*em).em_expr as *mut pg_sys::Node, (*baserel).relid))?;
    resource.sort_field(&attribute_name(foreigntableid, attno))?;
    let clauses = classified_clauses(baserel, foreigntableid, resource);
    let by_ids = planned_quals(&clauses)
        .iter()
        .any(|q| matches!(q.column.as_str(), "id" | "external_id") && matches!(q.op, QualOp::Eq | QualOp::In));
    let all_pushed = clauses.iter().all(|(_, p)| p.is_some());
    let limit = scan_limit(root, baserel, all_pushed);
    if by_ids || (limit.is_none() && parameter_limit(root, baserel, all_pushed).is_none()) {
        return None;
    }
    let (rows, _) = scan_estimate(root, baserel, foreigntableid, resource, None);
    let rows = limit.map_or(rows, |n| rows.min(n as f64));
    let descending = crate::compat::pathkey_descending(pathkey);
    Some(((*root).query_pathkeys, descending, rows, Some((attno, (*pathkey).pk_nulls_first))))
}

#[pg_guard]
pub unsafe extern "C-unwind" fn get_foreign_plan(
    root: *mut pg_sys::PlannerInfo,
    baserel: *mut pg_sys::RelOptInfo,
    foreigntableid: pg_sys::Oid,
    best_path: *mut pg_sys::ForeignPath,
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
    let pushed = pushable_conditions(quals, (*baserel).relid, foreigntableid, classic.as_ref().map(|(r, _)| *r));
    let all_pushed = pushed.len() == PgList::<pg_sys::Node>::from_pg(quals).len();
    let answered = match &classic {
        Some((resource, _)) if resource.read == cdf_tables::ReadKind::Datapoints => {
            answered_exactly(foreigntableid, &pushed)
        }
        _ => Vec::new(),
    };
    for Pushable { attno, column, op, value, .. } in pushed {
        exprs.push(value);
        private.conditions.push(PushedCondition { attno, op });
        if matches!(op, QualOp::Eq | QualOp::In) {
            pushed_columns.push(column);
        }
    }
    let sorted = !(*best_path).path.pathkeys.is_null();
    if sorted {
        let path_private = (*best_path).fdw_private;
        private.descending = pg_sys::list_nth_int(path_private, 0) != 0;
        if (*path_private).length >= 3 {
            let attno = pg_sys::list_nth_int(path_private, 1) as pg_sys::AttrNumber;
            private.sort = Some((attno, pg_sys::list_nth_int(path_private, 2) != 0));
        }
    }
    // The LIMIT holds for the scan when the query has no ORDER BY or this path yields its order.
    if !view && ((*root).query_pathkeys.is_null() || sorted) {
        private.limit = scan_limit(root, baserel, all_pushed);
        if private.limit.is_none() {
            if let Some((count, offset)) = parameter_limit(root, baserel, all_pushed) {
                // After the conditions' values in fdw_exprs.
                exprs.push(count);
                private.param_limit = ParamLimit::Count;
                if let Some(offset) = offset {
                    exprs.push(offset);
                    private.param_limit = ParamLimit::WithOffset;
                }
            }
        }
    }
    if crate::typed_raw::is_typed_raw(foreigntableid) {
        // The table's options name the RAW table.
        pushed_columns.extend(["_raw_database".to_string(), "_raw_table".to_string()]);
    }
    let present: Vec<&str> = pushed_columns.iter().map(String::as_str).collect();
    let previewed = private.limit.is_some() || private.param_limit != ParamLimit::None;
    if let Some((resource, table_name)) = classic.filter(|(r, _)| !requirements_met(r, &present) && !previewed) {
        errors::raise(
            PgSqlErrorCode::ERRCODE_FDW_DYNAMIC_PARAMETER_VALUE_NEEDED,
            format!(
                "cannot read CDF table \"{table_name}\" without a condition: {}",
                requirement_message(resource).unwrap_or_default()
            ),
            Some(
                "CDF cannot list every series or RAW table at once; add the condition to the WHERE clause \
                 (or a LIMIT, with no other condition, to preview the first rows)."
                    .into(),
            ),
        );
    }
    // A condition stays in the local filter unless CDF's answer meets it exactly (it is still
    // listed among EXPLAIN's CDF Conditions): pushing down otherwise only narrows what is fetched.
    let mut local = PgList::<pg_sys::Node>::new();
    for clause in PgList::<pg_sys::Node>::from_pg(quals).iter_ptr() {
        if !answered.contains(&clause) {
            local.push(clause);
        }
    }
    pg_sys::make_foreignscan(
        tlist,
        local.into_pg(),
        (*baserel).relid,
        exprs.into_pg(),
        private.to_list(),
        std::ptr::null_mut(),
        std::ptr::null_mut(),
        outer_plan,
    )
}

/// The clauses of a datapoints scan whose rows CDF's answer meets exactly, so PostgreSQL need
/// not check them on each of a million rows: the time range (`reads::bounds` turns a
/// timestamptz value, sub-millisecond ones included, into CDF's whole-ms bounds exactly; a NULL
/// value reads nothing, as the strict operator keeps nothing) and the series when one
/// condition names it by `id` or `external_id` (each row's address is CDF's answer for that
/// identifier). Values of another type (cast at comparison), several series conditions (only one
/// is sent) and instance ids stay local.
unsafe fn answered_exactly(foreigntableid: pg_sys::Oid, pushed: &[Pushable]) -> Vec<*mut pg_sys::Node> {
    let column_type = |p: &Pushable| pg_sys::get_atttype(foreigntableid, p.attno);
    let typed = |p: &Pushable, oid: pg_sys::Oid| {
        let column = match oid {
            pg_sys::INT8ARRAYOID => pg_sys::INT8OID,
            pg_sys::TEXTARRAYOID => pg_sys::TEXTOID,
            other => other,
        };
        let column_fits =
            column_type(p) == column || (column == pg_sys::TEXTOID && column_type(p) == pg_sys::VARCHAROID);
        column_fits && pg_sys::exprType(p.value) == oid
    };
    let address = ["id", "external_id", "instance_space", "instance_external_id"];
    let series: Vec<&Pushable> = pushed.iter().filter(|p| address.contains(&p.column.as_str())).collect();
    let mut exact = Vec::new();
    if let [only] = series.as_slice() {
        let types = match (only.column.as_str(), only.op) {
            ("id", QualOp::Eq) => Some(pg_sys::INT8OID),
            ("id", QualOp::In) => Some(pg_sys::INT8ARRAYOID),
            ("external_id", QualOp::Eq) => Some(pg_sys::TEXTOID),
            ("external_id", QualOp::In) => Some(pg_sys::TEXTARRAYOID),
            _ => None,
        };
        if types.is_some_and(|oid| typed(only, oid)) {
            exact.push(only.clause);
        }
    }
    for p in pushed.iter().filter(|p| p.column == "timestamp") {
        let range = matches!(p.op, QualOp::Eq | QualOp::Lt | QualOp::Le | QualOp::Gt | QualOp::Ge);
        if range && typed(p, pg_sys::TIMESTAMPTZOID) {
            exact.push(p.clause);
        }
    }
    exact
}

/// Whether EXPLAIN can evaluate the expression without running anything: constants, and
/// parameters when EXPLAIN EXECUTE bound them (not those of subqueries, nor unbound ones).
unsafe fn known_at_explain(node: *mut pg_sys::Node, params_bound: bool) -> bool {
    let node = strip_relabel(node);
    match (*node).type_ {
        pg_sys::NodeTag::T_Const => true,
        pg_sys::NodeTag::T_Param => {
            params_bound && (*(node as *mut pg_sys::Param)).paramkind == pg_sys::ParamKind::PARAM_EXTERN
        }
        pg_sys::NodeTag::T_ArrayExpr => PgList::<pg_sys::Node>::from_pg((*(node as *mut pg_sys::ArrayExpr)).elements)
            .iter_ptr()
            .all(|e| known_at_explain(e, params_bound)),
        _ => false,
    }
}

/// The list filter the scan sends (classic tables), computed from the plan's conditions, and
/// whether CDF answers every condition exactly (so the planned LIMIT is sent); `None` when that
/// depends on parameters EXPLAIN does not know.
unsafe fn explained_read(
    node: *mut pg_sys::ForeignScanState,
    resource: &'static cdf_tables::Resource,
) -> Option<(Option<String>, bool)> {
    let rel = (*node).ss.ss_currentRelation;
    let plan = (*node).ss.ps.plan as *mut pg_sys::ForeignScan;
    let private = ScanPrivate::from_list((*plan).fdw_private);
    let exprs: Vec<*mut pg_sys::Node> = PgList::<pg_sys::Node>::from_pg((*plan).fdw_exprs).iter_ptr().collect();
    let quals = conditions_at_explain(node, named_conditions((*rel).rd_id, &private), &exprs)?;
    let shape = ReadShape { limit: private.limit, descending: private.descending };
    let filter = plan_read(resource, &quals, shape).ok().as_ref().and_then(list_filter_text);
    Some((filter, answers_every_condition(resource, &quals)))
}

/// The pushed conditions with their values, when EXPLAIN knows them (constants, bound
/// parameters); `exprs` are their value expressions, in order.
unsafe fn conditions_at_explain(
    node: *mut pg_sys::ForeignScanState,
    named: Vec<(String, QualOp)>,
    exprs: &[*mut pg_sys::Node],
) -> Option<Vec<PushedQual>> {
    let params_bound = !(*(*node).ss.ps.state).es_param_list_info.is_null();
    if !exprs.iter().take(named.len()).all(|e| known_at_explain(*e, params_bound)) {
        return None;
    }
    let conditions = init_conditions(node, named, exprs);
    Some(evaluate_conditions(&conditions, (*node).ss.ps.ps_ExprContext))
}

/// The list filter a read with these pushed conditions sends, when EXPLAIN knows their values:
/// `Some(None)` when it sends none (not a list, or no filter).
pub(crate) unsafe fn explained_filter(
    node: *mut pg_sys::ForeignScanState,
    resource: &'static cdf_tables::Resource,
    named: Vec<(String, QualOp)>,
    exprs: &[*mut pg_sys::Node],
) -> Option<Option<String>> {
    let quals = conditions_at_explain(node, named, exprs)?;
    Some(plan_read(resource, &quals, ReadShape::default()).ok().as_ref().and_then(list_filter_text))
}

#[pg_guard]
pub unsafe extern "C-unwind" fn explain_foreign_scan(
    node: *mut pg_sys::ForeignScanState,
    es: *mut pg_sys::ExplainState,
) {
    let rel = (*node).ss.ss_currentRelation;
    let plan = (*node).ss.ps.plan as *mut pg_sys::ForeignScan;
    let private = ScanPrivate::from_list((*plan).fdw_private);
    let conditions = named_conditions((*rel).rd_id, &private);
    let view = is_view_table((*rel).rd_id);
    let text = |label: &CStr, value: &str| {
        let value = CString::new(value).unwrap();
        pg_sys::ExplainPropertyText(label.as_ptr(), value.as_ptr(), es);
    };
    let mut lists = false;
    if view {
        crate::views::explain_read(node, &conditions, es);
    } else {
        let request = describe_request(table_resource((*rel).rd_id).0, &conditions, private.descending);
        lists = request.contains("/list");
        text(c"CDF Request", &request);
        if let Some(sort) = list_sort((*rel).rd_id, table_resource((*rel).rd_id).0, &private) {
            text(c"CDF Sort", &sort.to_json().to_string());
        }
    }
    if !conditions.is_empty() {
        // Column names as the table has them (a typed RAW table's key is `_raw_key` to CDF).
        let list: Vec<String> = private
            .conditions
            .iter()
            .map(|c| format!("{} {}", attribute_name((*rel).rd_id, c.attno), c.op.code()))
            .collect();
        text(c"CDF Conditions", &list.join(", "));
    }
    if !view {
        let state = ((*node).fdw_state as *mut ScanState).as_ref();
        // After the scan ran (ANALYZE), what it sent; before, what it will send.
        let read = match state {
            Some(state) if state.reader.is_some() => Some((state.sent_filter.clone(), state.limit_sent)),
            _ => explained_read(node, table_resource((*rel).rd_id).0),
        };
        match &read {
            Some((Some(filter), _)) => text(c"CDF Filter", filter),
            Some((None, _)) => {}
            // Only lists take a filter (datapoints, RAW and byids reads have none to show).
            None if lists && !table_resource((*rel).rd_id).0.list_filters.is_empty() => {
                text(c"CDF Filter", "(computed from parameters when the scan starts)")
            }
            None => {}
        }
        let ran_limit = state.filter(|s| s.reader.is_some()).map(|s| s.limit_used);
        let limit = match (private.limit, private.param_limit, ran_limit) {
            (Some(limit), _, _) => Some(limit.to_string()),
            (None, ParamLimit::None, _) => None,
            // A parameter LIMIT: its value once the scan ran.
            (None, _, Some(Some(limit))) => Some(format!("{limit} (from a parameter)")),
            (None, _, Some(None)) => None,
            (None, _, None) => Some("(computed from parameters when the scan starts)".to_string()),
        };
        if let Some(limit) = limit {
            let note = match read {
                Some((_, false)) => " (not sent: CDF answers a condition only in part)",
                _ => "",
            };
            text(c"CDF Limit", &format!("{limit}{note}"));
        }
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
    let private = ScanPrivate::from_list((*plan).fdw_private);
    let descriptions = named_conditions((*rel).rd_id, &private);
    let exprs: Vec<*mut pg_sys::Node> = PgList::<pg_sys::Node>::from_pg((*plan).fdw_exprs).iter_ptr().collect();
    let limit_exprs = exprs
        .iter()
        .skip(descriptions.len())
        .map(|e| pg_sys::ExecInitExpr(*e as *mut pg_sys::Expr, node as *mut pg_sys::PlanState))
        .collect();
    let conditions = init_conditions(node, descriptions, &exprs);
    if is_view_table((*rel).rd_id) {
        let bound = crate::views::bind_view(rel, crate::compat::scan_user(node));
        let state = crate::views::ViewScan::new(bound, conditions, (*node).ss.ps.ps_ExprContext);
        let ptr = PgMemoryContexts::CurrentMemoryContext.leak_and_drop_on_delete(state);
        (*node).fdw_state = ptr as *mut std::ffi::c_void;
        return;
    }
    let ctx = table_context((*rel).rd_id, crate::compat::scan_user(node));
    let sort = list_sort((*rel).rd_id, ctx.resource, &private).map(ListSort::to_json);
    let typed = crate::typed_raw::is_typed_raw((*rel).rd_id).then(|| crate::typed_raw::bind(rel, &ctx.table_name));
    let bindings = if typed.is_some() { Vec::new() } else { bind_columns(rel, ctx.resource, &ctx.table_name) };
    let used = used_attributes(plan);
    let external_ids = external_id_filler(bindings.iter().filter(|b| uses_attribute(used, b.attidx + 1)));
    // A SELECT stores only the columns its target list and conditions read (the others stay
    // NULL): a million datapoints need not each make an external_id string nobody looks at.
    // UPDATE and DELETE get whole rows, as their writes may read any column.
    let select = (*(*(*node).ss.ps.state).es_plannedstmt).commandType == pg_sys::CmdType::CMD_SELECT;
    let bindings =
        if select { bindings.into_iter().filter(|b| uses_attribute(used, b.attidx + 1)).collect() } else { bindings };
    let state = ScanState {
        kind: ScanKind::Table,
        ctx,
        bindings,
        conditions,
        econtext: (*node).ss.ps.ps_ExprContext,
        shape: ReadShape { limit: private.limit, descending: private.descending },
        limit_exprs,
        limit_used: None,
        sort,
        sent_filter: None,
        limit_sent: false,
        reader: None,
        page: VecDeque::new(),
        external_ids,
        typed,
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
    if is_view_scan(node) {
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
    match (&state.typed, &row) {
        (Some(typed), Row::Item(item)) => typed.store(slot, item),
        (None, Row::Item(item)) => store_row(slot, &state.bindings, item),
        (_, Row::Point(point)) => store_point(slot, &state.bindings, point),
    }
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
        state.reset();
    }
}

#[pg_guard]
pub unsafe extern "C-unwind" fn end_foreign_scan(_node: *mut pg_sys::ForeignScanState) {
    // The state lives in the query memory context and is dropped with it.
}
