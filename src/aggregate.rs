//! Aggregates of datapoints computed by CDF: `avg/min/max/sum(value)` and `count(*)` of one
//! series over a time range, grouped by `date_bin(stride, timestamp, origin)` or
//! `date_trunc(unit, timestamp, 'UTC')` or not grouped, become one aggregates request.
//!
//! The planner offers a path for the grouped relation (UPPERREL_GROUP_AGG) only when CDF's answer
//! is exactly what PostgreSQL would compute: every WHERE condition names the series or bounds the
//! time with a constant, and `cdf_tables::aggregates::plan_aggregates` accepts the buckets.
//! Otherwise nothing is offered and PostgreSQL aggregates the raw points itself. Likewise
//! `count(*)` of an object resource without WHERE is CDF's aggregate count. The scan has
//! no relation of its own (scanrelid 0): its rows are `fdw_scan_tlist`, the bucket and the
//! aggregates, and PostgreSQL computes the select list from them.

use std::collections::VecDeque;
use std::ffi::{c_int, CStr, CString};

use cdf_client::aggregates::{count_objects, read_aggregates};
use cdf_tables::aggregates::{
    empty_value, interval_value, plan_aggregates, AggregateFn, AggregateRequest, AggregateValue, Buckets,
};
use cdf_tables::reads::ReadShape;
use cdf_tables::value::PG_EPOCH_OFFSET_MICROS;
use cdf_tables::{plan_read, PushedQual, QualOp, ReadKind, ReadPlan, Value};
use pgrx::pg_sys;
use pgrx::prelude::*;
use pgrx::{PgList, PgMemoryContexts};
use serde_json::{json, Value as Json};

use crate::backend;
use crate::context::{is_view_table, table_context, table_resource, TableContext};
use crate::convert::datum_to_value;
use crate::errors;
use crate::scan::{pushable_conditions, scanned_column, strip_relabel};

/// What CDF computes.
enum Source {
    /// Datapoint aggregates of one series.
    Datapoints(AggregateRequest),
    /// The number of objects of the table's resource.
    Count,
}

/// What the planner decided: the request, and what each column of the scan holds (`None`: the
/// bucket's start, else an aggregate).
struct AggregatePlan {
    table: pg_sys::Oid,
    /// Range table index of the foreign table (whose user mapping the scan uses).
    rti: pg_sys::Index,
    source: Source,
    columns: Vec<Option<AggregateFn>>,
    grouped: bool,
}

impl AggregatePlan {
    fn to_json(&self) -> String {
        let columns: Vec<Json> = self
            .columns
            .iter()
            .map(|c| match c {
                None => Json::Null,
                Some(f) => json!(AggregateFn::ALL.iter().position(|x| x == f)),
            })
            .collect();
        json!({
            "table": u32::from(self.table),
            "rti": self.rti,
            "request": match &self.source {
                Source::Datapoints(request) => request.to_plan_json(),
                Source::Count => Json::Null,
            },
            "columns": columns,
            "grouped": self.grouped,
        })
        .to_string()
    }

    fn from_json(text: &str) -> AggregatePlan {
        let json: Json = serde_json::from_str(text).expect("plan data written by to_json");
        AggregatePlan {
            table: pg_sys::Oid::from(json["table"].as_u64().unwrap_or(0) as u32),
            rti: json["rti"].as_u64().unwrap_or(0) as pg_sys::Index,
            source: match &json["request"] {
                Json::Null => Source::Count,
                request => Source::Datapoints(AggregateRequest::from_plan_json(request).expect("written by to_json")),
            },
            columns: json["columns"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|c| c.as_u64().map(|i| AggregateFn::ALL[i as usize]))
                .collect(),
            grouped: json["grouped"].as_bool().unwrap_or(false),
        }
    }

    /// The plan data of a ForeignScan made by `plan_scan`.
    unsafe fn of_scan(plan: *mut pg_sys::ForeignScan) -> AggregatePlan {
        let private = PgList::<pg_sys::Node>::from_pg((*plan).fdw_private);
        AggregatePlan::from_json(&crate::compat::string_value(private.get_ptr(0).expect("aggregate plan data")))
    }
}

unsafe fn function_name(funcid: pg_sys::Oid) -> Option<String> {
    if pg_sys::get_func_namespace(funcid) != pg_sys::Oid::from(pg_sys::PG_CATALOG_NAMESPACE) {
        return None;
    }
    let name = pg_sys::get_func_name(funcid);
    (!name.is_null()).then(|| CStr::from_ptr(name).to_string_lossy().into_owned())
}

/// A non-NULL constant, without binary-compatible casts.
unsafe fn constant(node: *mut pg_sys::Node) -> Option<*mut pg_sys::Const> {
    let node = strip_relabel(node);
    (!node.is_null() && (*node).type_ == pg_sys::NodeTag::T_Const && !(*(node as *mut pg_sys::Const)).constisnull)
        .then_some(node as *mut pg_sys::Const)
}

unsafe fn constant_text(node: *mut pg_sys::Node) -> Option<String> {
    let c = constant(node)?;
    matches!((*c).consttype, pg_sys::TEXTOID | pg_sys::VARCHAROID)
        .then(|| String::from_datum((*c).constvalue, false))
        .flatten()
}

/// Whether `node` is the `timestamp` column of the scanned table.
unsafe fn is_timestamp_column(node: *mut pg_sys::Node, relid: pg_sys::Index, table: pg_sys::Oid) -> bool {
    scanned_column(node, relid).is_some_and(|att| pg_sys::get_attnum(table, c"timestamp".as_ptr()) == att)
        && pg_sys::exprType(node) == pg_sys::TIMESTAMPTZOID
}

/// Microseconds since 1970 of a timestamptz constant; whole milliseconds only.
unsafe fn constant_epoch_ms(node: *mut pg_sys::Node) -> Option<i64> {
    let c = constant(node)?;
    if (*c).consttype != pg_sys::TIMESTAMPTZOID {
        return None;
    }
    let micros = ((*c).constvalue.value() as i64).checked_add(PG_EPOCH_OFFSET_MICROS)?;
    (micros % 1000 == 0).then_some(micros / 1000)
}

/// The buckets of `date_bin(const interval, timestamp, const origin)` or
/// `date_trunc('second'|'minute'|'hour'|'day', timestamp, 'UTC')`. The two-argument date_trunc
/// follows the session's TimeZone, which the plan cannot pin: not pushed.
unsafe fn buckets_of(expr: *mut pg_sys::Node, relid: pg_sys::Index, table: pg_sys::Oid) -> Option<Buckets> {
    if expr.is_null() || (*expr).type_ != pg_sys::NodeTag::T_FuncExpr {
        return None;
    }
    let func = expr as *mut pg_sys::FuncExpr;
    let args = PgList::<pg_sys::Node>::from_pg((*func).args);
    if args.len() != 3 || !is_timestamp_column(args.get_ptr(1)?, relid, table) {
        return None;
    }
    match function_name((*func).funcid)?.as_str() {
        "date_bin" => {
            let stride = constant(args.get_ptr(0)?)?;
            if (*stride).consttype != pg_sys::INTERVALOID {
                return None;
            }
            let interval = (*stride).constvalue.cast_mut_ptr::<pg_sys::Interval>();
            if (*interval).month != 0 {
                return None;
            }
            let micros = (*interval).time.checked_add(i64::from((*interval).day) * 86_400_000_000)?;
            (micros > 0 && micros % 1000 == 0)
                .then_some(Buckets { stride_ms: micros / 1000, origin_ms: constant_epoch_ms(args.get_ptr(2)?)? })
        }
        "date_trunc" => {
            let zone = constant_text(args.get_ptr(2)?)?;
            if !["utc", "etc/utc"].contains(&zone.to_ascii_lowercase().as_str()) {
                return None;
            }
            let stride_ms = match constant_text(args.get_ptr(0)?)?.to_ascii_lowercase().as_str() {
                "second" => 1000,
                "minute" => 60_000,
                "hour" => 3_600_000,
                "day" => 86_400_000,
                _ => return None,
            };
            Some(Buckets { stride_ms, origin_ms: 0 })
        }
        _ => None,
    }
}

/// `avg/min/max/sum(value)` on a double precision `value`, or `count(*)`; plain aggregates only
/// (no FILTER, DISTINCT, ORDER BY).
unsafe fn aggregate_of(aggref: *mut pg_sys::Aggref, relid: pg_sys::Index, table: pg_sys::Oid) -> Option<AggregateFn> {
    let plain = (*aggref).aggfilter.is_null()
        && (*aggref).aggdistinct.is_null()
        && (*aggref).aggorder.is_null()
        && (*aggref).aggkind as u8 == b'n'
        && (*aggref).aggsplit == pg_sys::AggSplit::AGGSPLIT_SIMPLE
        && (*aggref).agglevelsup == 0;
    if !plain {
        return None;
    }
    let name = function_name((*aggref).aggfnoid)?;
    if (*aggref).aggstar {
        return AggregateFn::from_sql(&name, true);
    }
    let args = PgList::<pg_sys::TargetEntry>::from_pg((*aggref).args);
    if args.len() != 1 {
        return None;
    }
    let arg = (*args.get_ptr(0)?).expr as *mut pg_sys::Node;
    let att = scanned_column(arg, relid)?;
    let value_column = pg_sys::get_attnum(table, c"value".as_ptr()) == att;
    (value_column && pg_sys::exprType(arg) == pg_sys::FLOAT8OID).then(|| AggregateFn::from_sql(&name, false)).flatten()
}

/// The series and [start, end) in ms when every condition on the table is one CDF applies
/// exactly: the series (by one identity) and constant time bounds.
unsafe fn exact_range(
    rel: *mut pg_sys::RelOptInfo,
    table: pg_sys::Oid,
    resource: &'static cdf_tables::Resource,
) -> Option<(cdf_tables::SeriesRef, i64, i64)> {
    let mut quals = Vec::new();
    for rinfo in PgList::<pg_sys::RestrictInfo>::from_pg((*rel).baserestrictinfo).iter_ptr() {
        let clause = (*rinfo).clause as *mut pg_sys::Node;
        let single = pg_sys::lappend(std::ptr::null_mut(), clause.cast());
        let pushed = pushable_conditions(single, (*rel).relid, table, Some(resource)).pop()?;
        let c = strip_relabel(pushed.value);
        if (*c).type_ != pg_sys::NodeTag::T_Const
            || !matches!(pushed.op, QualOp::Eq | QualOp::Lt | QualOp::Le | QualOp::Gt | QualOp::Ge)
        {
            return None;
        }
        let c = c as *mut pg_sys::Const;
        let value =
            if (*c).constisnull { Value::Null } else { datum_to_value((*c).constvalue, (*c).consttype).ok()? };
        quals.push(PushedQual { column: pushed.column, op: pushed.op, value });
    }
    // One way of naming the series, once: plan_read prefers `id` over `external_id`, so a
    // condition on both would not be applied exactly.
    let named = |c: &str| quals.iter().filter(|q| q.column == c).count();
    let identity = (named("id"), named("external_id"), named("instance_space"), named("instance_external_id"));
    if !matches!(identity, (1, 0, 0, 0) | (0, 1, 0, 0) | (0, 0, 1, 1)) {
        return None;
    }
    match plan_read(resource, &quals, ReadShape::default()).ok()? {
        ReadPlan::Datapoints { mut series, start, end, descending: false } if series.len() == 1 => {
            Some((series.remove(0), start, end))
        }
        _ => None,
    }
}

/// UPPERREL_GROUP_AGG: a path computing the aggregates in CDF, when CDF's answer is exact.
pub unsafe fn add_grouping_paths(
    root: *mut pg_sys::PlannerInfo,
    input_rel: *mut pg_sys::RelOptInfo,
    output_rel: *mut pg_sys::RelOptInfo,
) {
    if (*input_rel).reloptkind != pg_sys::RelOptKind::RELOPT_BASEREL || !(*input_rel).lateral_relids.is_null() {
        return;
    }
    let relid = (*input_rel).relid;
    let table = (*(*(*root).simple_rte_array.add(relid as usize))).relid;
    if is_view_table(table) {
        return;
    }
    let (resource, _) = table_resource(table);
    let parse = (*root).parse;
    if resource.has_aggregate_count() && (*parse).groupingSets.is_null() && (*parse).havingQual.is_null() {
        return add_count_path(root, input_rel, output_rel, table);
    }
    if resource.read != ReadKind::Datapoints
        || !(*parse).groupingSets.is_null()
        || !(*parse).havingQual.is_null()
        || !(*parse).hasAggs
    {
        return;
    }
    let groups = PgList::<pg_sys::SortGroupClause>::from_pg((*parse).groupClause);
    let group_expr = match groups.len() {
        0 => None,
        1 => {
            let tle = pg_sys::get_sortgroupclause_tle(groups.get_ptr(0).expect("one"), (*parse).targetList);
            Some((*tle).expr as *mut pg_sys::Node)
        }
        _ => return,
    };
    let buckets = match group_expr {
        Some(expr) => match buckets_of(expr, relid, table) {
            Some(b) => Some(b),
            None => return,
        },
        None => None,
    };
    let Some((series, start, end)) = exact_range(input_rel, table, resource) else { return };

    // The scan's columns: the bucket and each aggregate the grouping target uses.
    let target = (*root).upper_targets[pg_sys::UpperRelationKind::UPPERREL_GROUP_AGG as usize];
    let mut scan_tlist: *mut pg_sys::List = std::ptr::null_mut();
    let mut columns: Vec<Option<AggregateFn>> = Vec::new();
    let mut add = |expr: *mut pg_sys::Node, column: Option<AggregateFn>| {
        if pg_sys::tlist_member(expr as *mut pg_sys::Expr, scan_tlist).is_null() {
            let resno = columns.len() as pg_sys::AttrNumber + 1;
            let tle = pg_sys::makeTargetEntry(expr as *mut pg_sys::Expr, resno, std::ptr::null_mut(), false);
            scan_tlist = pg_sys::lappend(scan_tlist, tle.cast());
            columns.push(column);
        }
    };
    for expr in PgList::<pg_sys::Node>::from_pg((*target).exprs).iter_ptr() {
        if group_expr.is_some_and(|g| pg_sys::equal(g.cast(), expr.cast())) {
            add(expr, None);
            continue;
        }
        let flags = pg_sys::PVC_INCLUDE_AGGREGATES as c_int;
        for node in PgList::<pg_sys::Node>::from_pg(pg_sys::pull_var_clause(expr, flags)).iter_ptr() {
            if (*node).type_ != pg_sys::NodeTag::T_Aggref {
                return;
            }
            let Some(f) = aggregate_of(node as *mut pg_sys::Aggref, relid, table) else { return };
            add(node, Some(f));
        }
    }
    let aggregates: Vec<AggregateFn> = columns.iter().flatten().copied().collect();
    if aggregates.is_empty() {
        return;
    }
    let Some(request) = plan_aggregates(series, start, end, buckets, aggregates) else { return };
    let rows = match buckets {
        Some(b) => (((end - start) / b.stride_ms) as f64).clamp(1.0, (*input_rel).rows.max(1.0)),
        None => 1.0,
    };
    let plan =
        AggregatePlan { table, rti: relid, source: Source::Datapoints(request), columns, grouped: buckets.is_some() };
    add_path(root, output_rel, target, scan_tlist, &plan, rows);
}

/// Offers the scan of `plan`: one request, far cheaper than reading every row.
unsafe fn add_path(
    root: *mut pg_sys::PlannerInfo,
    output_rel: *mut pg_sys::RelOptInfo,
    target: *mut pg_sys::PathTarget,
    scan_tlist: *mut pg_sys::List,
    plan: &AggregatePlan,
    rows: f64,
) {
    let text = CString::new(plan.to_json()).expect("JSON has no NUL");
    let spec = crate::compat::make_string(&text);
    let mut private = pg_sys::lappend(std::ptr::null_mut(), scan_tlist.cast());
    private = pg_sys::lappend(private, spec.cast());
    let (startup, total) = (10.0, 10.0 + rows * 0.01);
    let path = crate::compat::create_foreign_upper_path(root, output_rel, target, rows, startup, total, private);
    pg_sys::add_path(output_rel, path as *mut pg_sys::Path);
}

/// `SELECT count(*) FROM <object table>` without WHERE (expressions over it allowed): CDF's
/// aggregate count, where the resource has one.
unsafe fn add_count_path(
    root: *mut pg_sys::PlannerInfo,
    input_rel: *mut pg_sys::RelOptInfo,
    output_rel: *mut pg_sys::RelOptInfo,
    table: pg_sys::Oid,
) {
    let parse = (*root).parse;
    if !(*input_rel).baserestrictinfo.is_null() || !(*parse).groupClause.is_null() {
        return;
    }
    let target = (*root).upper_targets[pg_sys::UpperRelationKind::UPPERREL_GROUP_AGG as usize];
    let mut scan_tlist: *mut pg_sys::List = std::ptr::null_mut();
    let mut columns = Vec::new();
    for expr in PgList::<pg_sys::Node>::from_pg((*target).exprs).iter_ptr() {
        let flags = pg_sys::PVC_INCLUDE_AGGREGATES as c_int;
        for node in PgList::<pg_sys::Node>::from_pg(pg_sys::pull_var_clause(expr, flags)).iter_ptr() {
            if (*node).type_ != pg_sys::NodeTag::T_Aggref
                || aggregate_of(node as *mut pg_sys::Aggref, (*input_rel).relid, table) != Some(AggregateFn::CountRows)
            {
                return;
            }
            if pg_sys::tlist_member(node as *mut pg_sys::Expr, scan_tlist).is_null() {
                let resno = columns.len() as pg_sys::AttrNumber + 1;
                let tle = pg_sys::makeTargetEntry(node as *mut pg_sys::Expr, resno, std::ptr::null_mut(), false);
                scan_tlist = pg_sys::lappend(scan_tlist, tle.cast());
                columns.push(Some(AggregateFn::CountRows));
            }
        }
    }
    if columns.is_empty() {
        return;
    }
    let plan = AggregatePlan { table, rti: (*input_rel).relid, source: Source::Count, columns, grouped: false };
    add_path(root, output_rel, target, scan_tlist, &plan, 1.0);
}

/// The ForeignScan of an aggregate path: no relation, `fdw_scan_tlist` as its row.
pub unsafe fn plan_scan(
    best_path: *mut pg_sys::ForeignPath,
    tlist: *mut pg_sys::List,
    outer_plan: *mut pg_sys::Plan,
) -> *mut pg_sys::ForeignScan {
    let private = PgList::<pg_sys::Node>::from_pg((*best_path).fdw_private);
    let scan_tlist = private.get_ptr(0).expect("scan tlist") as *mut pg_sys::List;
    let spec = private.get_ptr(1).expect("plan data");
    pg_sys::make_foreignscan(
        tlist,
        std::ptr::null_mut(),
        0,
        std::ptr::null_mut(),
        pg_sys::lappend(std::ptr::null_mut(), spec.cast()),
        scan_tlist,
        std::ptr::null_mut(),
        outer_plan,
    )
}

pub unsafe fn explain(node: *mut pg_sys::ForeignScanState, es: *mut pg_sys::ExplainState) {
    let plan = AggregatePlan::of_scan((*node).ss.ps.plan as *mut pg_sys::ForeignScan);
    let request = match &plan.source {
        Source::Datapoints(request) => request.describe(),
        Source::Count => format!("POST /{}/aggregate (count)", table_resource(plan.table).0.api_path),
    };
    let request = CString::new(request).unwrap();
    pg_sys::ExplainPropertyText(c"CDF Request".as_ptr(), request.as_ptr(), es);
    let computed: Vec<&str> = plan.columns.iter().flatten().map(|a| a.sql()).collect();
    let computed = CString::new(computed.join(", ")).unwrap();
    pg_sys::ExplainPropertyText(c"CDF Aggregates".as_ptr(), computed.as_ptr(), es);
    if (*es).analyze {
        if let Some(state) = ((*node).fdw_state as *mut AggregateScan).as_ref() {
            crate::stats::explain(&state.ctx.usage.borrow(), es);
        }
    }
}

/// One output row: a value per scan column.
type OutputRow = Vec<Option<pg_sys::Datum>>;

pub struct AggregateScan {
    ctx: TableContext,
    plan: AggregatePlan,
    /// The answer, fetched at the first row and replayed on rescans (its inputs are constants).
    rows: Option<Vec<OutputRow>>,
    pending: VecDeque<OutputRow>,
}

impl AggregateScan {
    fn fetch(&mut self) -> Vec<OutputRow> {
        let context = format!("aggregating CDF table \"{}\"", self.ctx.table_name);
        let request = match &self.plan.source {
            Source::Datapoints(request) => request,
            Source::Count => {
                let path = self.ctx.resource.api_path;
                let count = backend::run(&self.ctx, async |session| {
                    count_objects(session, path, &serde_json::Map::new()).await
                })
                .unwrap_or_else(|e| errors::raise_cdf(&e, Some(&context)));
                return vec![self.plan.columns.iter().map(|_| count.into_datum()).collect()];
            }
        };
        let intervals = backend::run(&self.ctx, async |session| read_aggregates(session, request).await)
            .unwrap_or_else(|e| errors::raise_cdf(&e, Some(&context)));
        let datum = |v: AggregateValue| match v {
            AggregateValue::Double(d) => d.into_datum(),
            AggregateValue::Count(c) => c.into_datum(),
            AggregateValue::Null => None,
        };
        let row_of = |point: Option<&serde_json::Map<String, Json>>| -> OutputRow {
            self.plan
                .columns
                .iter()
                .map(|column| match (column, point) {
                    (None, Some(p)) => {
                        let ms = p.get("timestamp").and_then(|t| t.as_i64()).unwrap_or(0);
                        Some(pg_sys::Datum::from(ms * 1000 - PG_EPOCH_OFFSET_MICROS))
                    }
                    (None, None) => None,
                    (Some(f), Some(p)) => datum(interval_value(p, *f)),
                    (Some(f), None) => datum(empty_value(*f)),
                })
                .collect()
        };
        if self.plan.grouped {
            return intervals.iter().map(|p| row_of(Some(p))).collect();
        }
        // Without GROUP BY there is exactly one row, also over no points.
        if intervals.len() > 1 {
            errors::raise(
                PgSqlErrorCode::ERRCODE_FDW_ERROR,
                format!("CDF answered {} intervals for a single aggregate interval", intervals.len()),
                None,
            );
        }
        vec![row_of(intervals.first())]
    }
}

pub unsafe fn begin(node: *mut pg_sys::ForeignScanState, eflags: c_int) {
    if eflags & pg_sys::EXEC_FLAG_EXPLAIN_ONLY as c_int != 0 {
        return;
    }
    crate::batch::flush_all();
    let plan = AggregatePlan::of_scan((*node).ss.ps.plan as *mut pg_sys::ForeignScan);
    let ctx = table_context(plan.table, crate::compat::upper_scan_user(node, plan.rti));
    let state = AggregateScan { ctx, plan, rows: None, pending: VecDeque::new() };
    let ptr = PgMemoryContexts::CurrentMemoryContext.leak_and_drop_on_delete(state);
    (*node).fdw_state = ptr as *mut std::ffi::c_void;
}

pub unsafe fn iterate(node: *mut pg_sys::ForeignScanState) -> *mut pg_sys::TupleTableSlot {
    let slot = (*node).ss.ss_ScanTupleSlot;
    pg_sys::ExecClearTuple(slot);
    let Some(state) = ((*node).fdw_state as *mut AggregateScan).as_mut() else { return slot };
    if state.rows.is_none() {
        let rows = state.fetch();
        state.pending = rows.iter().cloned().collect();
        state.rows = Some(rows);
    }
    let Some(row) = state.pending.pop_front() else { return slot };
    for (i, value) in row.into_iter().enumerate() {
        *(*slot).tts_values.add(i) = value.unwrap_or(pg_sys::Datum::from(0));
        *(*slot).tts_isnull.add(i) = value.is_none();
    }
    pg_sys::ExecStoreVirtualTuple(slot);
    slot
}

pub unsafe fn rescan(node: *mut pg_sys::ForeignScanState) {
    if let Some(state) = ((*node).fdw_state as *mut AggregateScan).as_mut() {
        state.pending = state.rows.iter().flatten().cloned().collect();
    }
}
