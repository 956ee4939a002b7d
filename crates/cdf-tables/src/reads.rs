//! SELECT: which WHERE conditions go to CDF, and which CDF reads a scan makes.
//!
//! Every condition is also re-checked by PostgreSQL, so pushing one down only narrows what is
//! fetched; it never changes the result.

use serde_json::{json, Map, Value as Json};

use crate::catalogue::{FilterKind, ReadKind, Resource, MAX_DATAPOINT_MS, MAX_FILTER_VALUES, MIN_DATAPOINT_MS};
use crate::value::Value;
use crate::writes::SeriesRef;

/// A comparison of a column with a value known when the scan starts (constant or parameter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QualOp {
    Eq,
    /// `= ANY(array)` / `IN (...)`.
    In,
    Lt,
    Le,
    Gt,
    Ge,
    /// `IS NULL` / `IS NOT NULL` (no value; view tables send them as DMS `exists`).
    IsNull,
    IsNotNull,
    /// `LIKE pattern` (text).
    Like,
    /// `column->>'key' = value` on a JSON column; the value is `TEXT[] {key, value}`.
    KeyEq,
    /// `&&` (arrays overlap).
    Overlaps,
    /// `@>` (the column's array contains the value's).
    Contains,
}

impl QualOp {
    /// Every operator, in a fixed order (its index is the operator's code in plan data).
    pub const ALL: [QualOp; 12] = [
        QualOp::Eq,
        QualOp::In,
        QualOp::Lt,
        QualOp::Le,
        QualOp::Gt,
        QualOp::Ge,
        QualOp::IsNull,
        QualOp::IsNotNull,
        QualOp::Like,
        QualOp::KeyEq,
        QualOp::Overlaps,
        QualOp::Contains,
    ];

    pub fn from_operator(name: &str) -> Option<QualOp> {
        Some(match name {
            "=" => QualOp::Eq,
            "<" => QualOp::Lt,
            "<=" => QualOp::Le,
            ">" => QualOp::Gt,
            ">=" => QualOp::Ge,
            "~~" => QualOp::Like,
            "&&" => QualOp::Overlaps,
            "@>" => QualOp::Contains,
            _ => return None,
        })
    }

    /// The operator with its operands swapped (`5 < x` is `x > 5`); `None` when the swapped form
    /// is no operator of ours (`'p' LIKE x`, `a @> x`).
    pub fn commuted(self) -> Option<QualOp> {
        Some(match self {
            QualOp::Lt => QualOp::Gt,
            QualOp::Le => QualOp::Ge,
            QualOp::Gt => QualOp::Lt,
            QualOp::Ge => QualOp::Le,
            QualOp::Like | QualOp::Contains | QualOp::KeyEq => return None,
            other => other,
        })
    }

    /// Whether the operator is one view tables also understand (comparisons and NULL tests).
    pub fn is_comparison(self) -> bool {
        !matches!(self, QualOp::Like | QualOp::KeyEq | QualOp::Overlaps | QualOp::Contains)
    }

    pub fn code(self) -> &'static str {
        match self {
            QualOp::Eq => "=",
            QualOp::In => "in",
            QualOp::Lt => "<",
            QualOp::Le => "<=",
            QualOp::Gt => ">",
            QualOp::Ge => ">=",
            QualOp::IsNull => "is null",
            QualOp::IsNotNull => "is not null",
            QualOp::Like => "like",
            QualOp::KeyEq => "->> =",
            QualOp::Overlaps => "&&",
            QualOp::Contains => "@>",
        }
    }

    pub fn from_code(code: &str) -> Option<QualOp> {
        if code == "in" {
            Some(QualOp::In)
        } else {
            QualOp::from_operator(code)
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct PushedQual {
    pub column: String,
    pub op: QualOp,
    pub value: Value,
}

/// What the query above a scan lets it do: stop after `limit` rows (set only when every condition
/// is pushed and nothing but the scan feeds the LIMIT), return the rows newest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReadShape {
    pub limit: Option<u64>,
    /// `ORDER BY timestamp DESC` (datapoints) / `row_number DESC` (sequence rows), from CDF's
    /// `latest` endpoints.
    pub descending: bool,
}

/// The order a list request asks CDF for (`sort`): one field, its direction, and where objects
/// without it go (CDF takes `nulls` explicitly, so any PostgreSQL `NULLS FIRST/LAST` is met).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListSort {
    pub field: &'static str,
    pub descending: bool,
    pub nulls_first: bool,
}

impl ListSort {
    /// The `sort` of the list request body.
    pub fn to_json(self) -> Json {
        json!([{
            "property": [self.field],
            "order": if self.descending { "desc" } else { "asc" },
            "nulls": if self.nulls_first { "first" } else { "last" },
        }])
    }
}

/// What a scan reads from CDF.
#[derive(Debug, Clone, PartialEq)]
pub enum ReadPlan {
    /// `POST /{resource}/list` with this `filter` (empty: every object).
    List(Map<String, Json>),
    /// `POST /{resource}/byids` for these `{"id"}` / `{"externalId"}` items.
    ByIds(Vec<Json>),
    /// A condition can never hold (e.g. `id = NULL`): no request at all.
    Nothing,
    /// `POST /extpipes/runs/list` of one pipeline.
    Runs {
        external_ids: Vec<String>,
    },
    /// `POST /timeseries/data/list`; `end` is exclusive, in ms.
    /// `descending`: newest first, point by point from `POST /timeseries/data/latest`.
    Datapoints {
        series: Vec<SeriesRef>,
        start: i64,
        end: i64,
        descending: bool,
    },
    /// `POST /sequences/data/list`; `end` is exclusive. `descending`: from `/sequences/data/latest`.
    SequenceRows {
        sequences: Vec<SeriesRef>,
        start: i64,
        end: Option<i64>,
        descending: bool,
    },
    /// A preview (a LIMIT without a series condition): the points of each time series of the
    /// table's kind (`POST /timeseries/list` filtered by `isString`), series after series.
    SeriesPreview {
        is_string: bool,
        start: i64,
        end: i64,
    },
    /// A preview: the rows of each sequence, sequence after sequence.
    SequencePreview {
        start: i64,
        end: Option<i64>,
    },
    /// A preview: the rows of each RAW table (of `database`, named `table` when given).
    RawPreview {
        database: Option<String>,
        table: Option<String>,
    },
    RawDatabases,
    RawTables {
        database: Option<String>,
    },
    RawRows {
        database: String,
        table: String,
        keys: Option<Vec<String>>,
    },
}

/// The columns a query on `resource` must constrain with `=` or `IN` before CDF can be read,
/// as alternatives (any one of the inner lists, all of its columns). Empty: none needed.
pub fn required_quals(resource: &Resource) -> &'static [&'static [&'static str]] {
    match resource.read {
        ReadKind::Datapoints => &[&["external_id"], &["id"], &["instance_space", "instance_external_id"]],
        ReadKind::SequenceRows => &[&["external_id"], &["id"]],
        ReadKind::RawRows => &[&["_raw_database", "_raw_table"]],
        ReadKind::PipelineRuns => &[&["external_id"]],
        ReadKind::Items | ReadKind::RawDatabases | ReadKind::RawTables => &[],
    }
}

/// Explains a missing required condition, for the planner's error.
pub fn requirement_message(resource: &Resource) -> Option<String> {
    let alternatives = required_quals(resource);
    if alternatives.is_empty() {
        return None;
    }
    let text: Vec<String> = alternatives
        .iter()
        .map(|cols| cols.iter().map(|c| format!("{c} = ...")).collect::<Vec<_>>().join(" AND "))
        .collect();
    Some(format!(
        "a query on {} must say which {} to read: WHERE {}",
        resource.table,
        match resource.read {
            ReadKind::Datapoints => "time series",
            ReadKind::SequenceRows => "sequence",
            ReadKind::RawRows => "RAW table",
            _ => "extraction pipeline",
        },
        text.join(", or WHERE ")
    ))
}

/// Whether the pushable columns named in `present` satisfy `required_quals`.
pub fn requirements_met(resource: &Resource, present: &[&str]) -> bool {
    let alternatives = required_quals(resource);
    alternatives.is_empty() || alternatives.iter().any(|cols| cols.iter().all(|c| present.contains(c)))
}

/// Whether a condition on this column and operator is worth sending to CDF.
pub fn pushable(resource: &Resource, column: &str, op: QualOp) -> bool {
    let eq = matches!(op, QualOp::Eq | QualOp::In);
    let range = matches!(op, QualOp::Eq | QualOp::Lt | QualOp::Le | QualOp::Gt | QualOp::Ge);
    let identity = eq
        && matches!(column, "id" | "external_id" | "instance_space" | "instance_external_id")
        && resource.column(column).is_some();
    match resource.read {
        ReadKind::Items => identity || resource.list_filter(column).is_some_and(|f| filter_takes(f.kind, op)),
        ReadKind::PipelineRuns => eq && column == "external_id",
        ReadKind::Datapoints => identity || (range && column == "timestamp"),
        ReadKind::SequenceRows => identity || (range && column == "row_number"),
        ReadKind::RawRows => eq && matches!(column, "_raw_database" | "_raw_table" | "_raw_key"),
        ReadKind::RawTables => op == QualOp::Eq && column == "_raw_database",
        ReadKind::RawDatabases => false,
    }
}

/// Whether a list filter of this kind answers the operator.
fn filter_takes(kind: FilterKind, op: QualOp) -> bool {
    match kind {
        FilterKind::Equals | FilterKind::AnyOf | FilterKind::AnyOfIds => matches!(op, QualOp::Eq | QualOp::In),
        FilterKind::Prefix => op == QualOp::Like,
        FilterKind::TimeRange => matches!(op, QualOp::Eq | QualOp::Lt | QualOp::Le | QualOp::Gt | QualOp::Ge),
        FilterKind::Metadata => op == QualOp::KeyEq,
        FilterKind::Overlaps => op == QualOp::Overlaps,
        FilterKind::Labels => matches!(op, QualOp::Overlaps | QualOp::Contains),
    }
}

/// The literal start of a LIKE pattern (backslash escapes), and whether the pattern is exactly
/// that start followed by `%` (then the prefix filter returns exactly the matching rows).
pub fn like_prefix(pattern: &str) -> (String, bool) {
    let mut prefix = String::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(next) => prefix.push(next),
                None => return (prefix, false),
            },
            '%' => return (prefix, chars.all(|c| c == '%')),
            '_' => return (prefix, false),
            c => prefix.push(c),
        }
    }
    // No wildcard: LIKE is equality, which the prefix filter only narrows.
    (prefix, false)
}

fn value_json(v: &Value) -> Json {
    match v {
        Value::Int(i) => json!(i),
        Value::Text(s) => json!(s),
        Value::Bool(b) => json!(b),
        Value::Double(d) => json!(d),
        other => json!(other.to_string()),
    }
}

/// The `filter` of a list request for the conditions that have a list filter, and whether it
/// answers every one of them exactly; `None` when they can never hold (NULL, empty lists,
/// disjoint ranges).
pub fn list_filter(resource: &Resource, quals: &[PushedQual]) -> Option<(Map<String, Json>, bool)> {
    let mut filter = Map::new();
    let mut exact = true;
    for f in resource.list_filters {
        let on: Vec<&PushedQual> =
            quals.iter().filter(|q| q.column == f.column && filter_takes(f.kind, q.op)).collect();
        if on.is_empty() {
            continue;
        }
        if on.iter().any(|q| q.value.is_null()) {
            return None;
        }
        exact &= f.exact;
        match f.kind {
            FilterKind::Equals | FilterKind::AnyOf | FilterKind::AnyOfIds => {
                let values = values_of(quals, f.column).unwrap_or_default();
                if values.is_empty() {
                    return None;
                }
                let single = f.kind == FilterKind::Equals;
                if (single && values.len() > 1) || values.len() > MAX_FILTER_VALUES {
                    exact = false;
                    continue;
                }
                let value = match f.kind {
                    FilterKind::Equals => value_json(&values[0]),
                    FilterKind::AnyOf => values.iter().map(value_json).collect(),
                    _ => values.iter().map(|v| json!({ "id": value_json(v) })).collect(),
                };
                filter.insert(f.field.into(), value);
            }
            FilterKind::Prefix => {
                let mut longest = String::new();
                for q in &on {
                    let Value::Text(pattern) = &q.value else { continue };
                    let (prefix, pure) = like_prefix(pattern);
                    exact &= pure;
                    if prefix.starts_with(&longest) {
                        longest = prefix;
                    } else if !longest.starts_with(&prefix) {
                        // 'ab%' and 'ac%': no value starts with both.
                        return None;
                    }
                }
                if longest.is_empty() {
                    exact = false;
                } else {
                    filter.insert(f.field.into(), json!(longest));
                }
            }
            FilterKind::TimeRange => {
                let (lo, hi) = bounds(quals, f.column, true);
                // Resource times are never before 1970: a negative bound is no bound.
                let min = lo.unwrap_or(0).max(0);
                let max = hi.map(|h| h - 1);
                if max.is_some_and(|m| m < min) {
                    return None;
                }
                let mut range = Map::new();
                if lo.is_some_and(|l| l > 0) {
                    range.insert("min".into(), json!(min));
                }
                if let Some(m) = max {
                    range.insert("max".into(), json!(m));
                }
                if !range.is_empty() {
                    filter.insert(f.field.into(), Json::Object(range));
                }
            }
            FilterKind::Metadata => {
                let mut pairs = Map::new();
                for q in &on {
                    let Value::TextArray(kv) = &q.value else { continue };
                    let (Some(Some(k)), Some(Some(v))) = (kv.first(), kv.get(1)) else { return None };
                    if pairs.get(k).is_some_and(|old| old != v) {
                        return None;
                    }
                    pairs.insert(k.clone(), json!(v));
                }
                filter.insert(f.field.into(), Json::Object(pairs));
            }
            FilterKind::Overlaps | FilterKind::Labels => {
                let element = |v: &Value| -> Vec<Json> {
                    match v {
                        Value::IntArray(xs) => xs.iter().flatten().map(|x| json!(x)).collect(),
                        Value::TextArray(xs) => xs.iter().flatten().map(|x| json!(x)).collect(),
                        _ => Vec::new(),
                    }
                };
                let has_nulls = |v: &Value| match v {
                    Value::IntArray(xs) => xs.iter().any(Option::is_none),
                    Value::TextArray(xs) => xs.iter().any(Option::is_none),
                    _ => false,
                };
                let overlaps: Vec<&&PushedQual> = on.iter().filter(|q| q.op == QualOp::Overlaps).collect();
                let contains: Vec<&&PushedQual> = on.iter().filter(|q| q.op == QualOp::Contains).collect();
                // CDF takes one list per filter: the first `&&`, or every `@>` (labels' containsAll).
                if !contains.is_empty() {
                    if contains.iter().any(|q| has_nulls(&q.value)) {
                        // `@> ARRAY[NULL]` never holds in PostgreSQL; leave it to PostgreSQL.
                        exact = false;
                        continue;
                    }
                    let mut all: Vec<Json> = Vec::new();
                    for q in &contains {
                        for x in element(&q.value) {
                            if !all.contains(&x) {
                                all.push(x);
                            }
                        }
                    }
                    exact &= overlaps.is_empty();
                    if !all.is_empty() {
                        let refs: Vec<Json> = all.into_iter().map(|x| json!({ "externalId": x })).collect();
                        filter.insert(f.field.into(), json!({ "containsAll": refs }));
                    }
                    continue;
                }
                exact &= overlaps.len() == 1;
                let any = element(&overlaps[0].value);
                if any.is_empty() {
                    return None;
                }
                if any.len() > MAX_FILTER_VALUES {
                    exact = false;
                    continue;
                }
                let value = if f.kind == FilterKind::Labels {
                    json!({ "containsAny": any.into_iter().map(|x| json!({ "externalId": x })).collect::<Vec<_>>() })
                } else {
                    Json::Array(any)
                };
                filter.insert(f.field.into(), value);
            }
        }
    }
    Some((filter, exact))
}

/// Whether the plan for these conditions returns exactly the rows they hold for (no superset
/// that only PostgreSQL's re-check narrows): then a LIMIT may stop reading early.
pub fn answers_every_condition(resource: &Resource, quals: &[PushedQual]) -> bool {
    let on = |cols: &[&str]| quals.iter().any(|q| cols.contains(&q.column.as_str()));
    let only = |cols: &[&str]| quals.iter().all(|q| cols.contains(&q.column.as_str()));
    let identity_eq = |q: &PushedQual| matches!(q.op, QualOp::Eq | QualOp::In);
    match resource.read {
        ReadKind::Items => {
            if on(&["id"]) {
                only(&["id"]) && quals.iter().all(identity_eq)
            } else if on(&["external_id"]) && quals.iter().any(|q| q.column == "external_id" && identity_eq(q)) {
                only(&["external_id"]) && quals.iter().all(identity_eq)
            } else {
                list_filter(resource, quals).is_none_or(|(_, exact)| exact)
            }
        }
        ReadKind::Datapoints | ReadKind::SequenceRows => {
            // Series are named by id first, then external id, then instance id (series_refs).
            let kinds = [on(&["id"]), on(&["external_id"]), on(&["instance_space", "instance_external_id"])];
            kinds.iter().filter(|k| **k).count() <= 1
        }
        _ => true,
    }
}

/// The values an `=` or `IN` condition allows; `None` if it allows nothing (NULL).
fn allowed_values(q: &PushedQual) -> Option<Vec<Value>> {
    match (&q.op, &q.value) {
        (_, Value::Null) => None,
        (QualOp::In, Value::IntArray(xs)) => Some(xs.iter().flatten().map(|x| Value::Int(*x)).collect()),
        (QualOp::In, Value::TextArray(xs)) => Some(xs.iter().flatten().map(|x| Value::Text(x.clone())).collect()),
        (_, v) => Some(vec![v.clone()]),
    }
}

/// Intersects the value sets of every `=`/`IN` condition on `column`; `None` = unconstrained.
fn values_of(quals: &[PushedQual], column: &str) -> Option<Vec<Value>> {
    let mut result: Option<Vec<Value>> = None;
    for q in quals.iter().filter(|q| q.column == column && matches!(q.op, QualOp::Eq | QualOp::In)) {
        let allowed = allowed_values(q).unwrap_or_default();
        result = Some(match result {
            None => allowed,
            Some(prev) => prev.into_iter().filter(|v| allowed.contains(v)).collect(),
        });
    }
    result.map(|mut vs| {
        let mut seen = Vec::new();
        vs.retain(|v| {
            let new = !seen.contains(v);
            if new {
                seen.push(v.clone());
            }
            new
        });
        vs
    })
}

fn texts(values: Vec<Value>) -> Vec<String> {
    values.into_iter().filter_map(|v| if let Value::Text(s) = v { Some(s) } else { None }).collect()
}

/// Series or sequences named by `id` and `external_id` conditions.
fn series_refs(quals: &[PushedQual]) -> Option<Vec<SeriesRef>> {
    match (values_of(quals, "id"), values_of(quals, "external_id")) {
        (Some(ids), _) => Some(
            ids.into_iter().filter_map(|v| if let Value::Int(i) = v { Some(SeriesRef::Id(i)) } else { None }).collect(),
        ),
        (None, Some(xids)) => Some(texts(xids).into_iter().map(SeriesRef::ExternalId).collect()),
        (None, None) => match (values_of(quals, "instance_space"), values_of(quals, "instance_external_id")) {
            (Some(spaces), Some(xids)) => {
                let xids = texts(xids);
                Some(
                    texts(spaces)
                        .into_iter()
                        .flat_map(|s| {
                            xids.iter().map(move |x| SeriesRef::InstanceId { space: s.clone(), external_id: x.clone() })
                        })
                        .collect(),
                )
            }
            _ => None,
        },
    }
}

/// Lower (inclusive) and upper (exclusive) bounds from range conditions on a column; timestamp
/// values (microseconds) become CDF's whole milliseconds.
fn bounds(quals: &[PushedQual], column: &str, micros_to_ms: bool) -> (Option<i64>, Option<i64>) {
    let unit = if micros_to_ms { 1000 } else { 1 };
    let (mut lo, mut hi): (Option<i64>, Option<i64>) = (None, None);
    for q in quals.iter().filter(|q| q.column == column) {
        let v = match &q.value {
            Value::Timestamp(us) if micros_to_ms => *us,
            Value::Int(i) if !micros_to_ms => *i,
            _ => continue,
        };
        let floor = v.div_euclid(unit);
        let ceil = floor + i64::from(v.rem_euclid(unit) != 0);
        let (l, h) = match q.op {
            QualOp::Eq => (Some(ceil), Some(floor + 1)),
            QualOp::Gt => (Some(floor + 1), None),
            QualOp::Ge => (Some(ceil), None),
            QualOp::Lt => (None, Some(ceil)),
            QualOp::Le => (None, Some(floor + 1)),
            _ => (None, None),
        };
        if let Some(l) = l {
            lo = Some(lo.map_or(l, |p| p.max(l)));
        }
        if let Some(h) = h {
            hi = Some(hi.map_or(h, |p| p.min(h)));
        }
    }
    (lo, hi)
}

/// Chooses the CDF reads for a scan with these pushed conditions (values already evaluated).
pub fn plan_read(resource: &Resource, quals: &[PushedQual], shape: ReadShape) -> Result<ReadPlan, String> {
    let missing = || requirement_message(resource).unwrap_or_else(|| "missing condition".into());
    // A LIMIT without the series / RAW table: a preview, when nothing but ranges is asked for.
    let preview = shape.limit.is_some()
        && !requirements_met(resource, &quals.iter().map(|q| q.column.as_str()).collect::<Vec<_>>())
        && quals
            .iter()
            .all(|q| matches!(q.column.as_str(), "timestamp" | "row_number" | "_raw_database" | "_raw_table"));
    Ok(match resource.read {
        ReadKind::PipelineRuns => match values_of(quals, "external_id") {
            Some(xids) => Runs { external_ids: texts(xids) },
            None => return Err(missing()),
        },
        ReadKind::Items => match (values_of(quals, "id"), values_of(quals, "external_id")) {
            (Some(ids), _) => ids_plan(ids.into_iter().map(|v| match v {
                Value::Int(i) => json!({ "id": i }),
                other => json!({ "id": other.to_string() }),
            })),
            (None, Some(xids)) => ids_plan(texts(xids).into_iter().map(|x| json!({ "externalId": x }))),
            (None, None) => match list_filter(resource, quals) {
                Some((filter, _)) => ReadPlan::List(filter),
                None => ReadPlan::Nothing,
            },
        },
        // A strict comparison with NULL keeps no row: the scan leaves exact datapoint
        // conditions to CDF (scan.rs `answered_exactly`), so their NULLs must read nothing.
        ReadKind::Datapoints
            if quals.iter().any(|q| {
                matches!(q.op, QualOp::Eq | QualOp::In | QualOp::Lt | QualOp::Le | QualOp::Gt | QualOp::Ge)
                    && q.value == Value::Null
            }) =>
        {
            ReadPlan::Nothing
        }
        ReadKind::Datapoints => {
            let (lo, hi) = bounds(quals, "timestamp", true);
            let start = lo.unwrap_or(MIN_DATAPOINT_MS).max(MIN_DATAPOINT_MS);
            let end = hi.unwrap_or(MAX_DATAPOINT_MS + 1).min(MAX_DATAPOINT_MS + 1);
            let series = match series_refs(quals) {
                Some(series) => series,
                None if preview && start < end => {
                    let is_string =
                        matches!(resource.write, crate::catalogue::WriteKind::Datapoints { is_string: true });
                    return Ok(ReadPlan::SeriesPreview { is_string, start, end });
                }
                None => return Err(missing()),
            };
            if series.is_empty() || start >= end {
                ReadPlan::Nothing
            } else {
                ReadPlan::Datapoints { series, start, end, descending: shape.descending }
            }
        }
        ReadKind::SequenceRows => {
            let (lo, hi) = bounds(quals, "row_number", false);
            let start = lo.unwrap_or(0).max(0);
            let sequences = match series_refs(quals) {
                Some(sequences) => sequences,
                None if preview && hi.is_none_or(|h| h > start) => {
                    return Ok(ReadPlan::SequencePreview { start, end: hi })
                }
                None => return Err(missing()),
            };
            if sequences.is_empty() || hi.is_some_and(|h| h <= start) {
                ReadPlan::Nothing
            } else {
                ReadPlan::SequenceRows { sequences, start, end: hi, descending: shape.descending }
            }
        }
        ReadKind::RawRows if preview => {
            let (database, table) =
                (values_of(quals, "_raw_database").map(texts), values_of(quals, "_raw_table").map(texts));
            // Several names (IN) are not previewed; none (NULL, an empty list) reads nothing.
            if [&database, &table].iter().any(|v| v.as_ref().is_some_and(|v| v.len() != 1)) {
                return Ok(ReadPlan::Nothing);
            }
            ReadPlan::RawPreview {
                database: database.and_then(|v| v.into_iter().next()),
                table: table.and_then(|v| v.into_iter().next()),
            }
        }
        ReadKind::RawRows => {
            let (Some(dbs), Some(tables)) = (values_of(quals, "_raw_database"), values_of(quals, "_raw_table")) else {
                return Err(missing());
            };
            let (dbs, tables) = (texts(dbs), texts(tables));
            if dbs.len() != 1 || tables.len() != 1 {
                // Several RAW tables in one scan: IN lists on database or table are not pushed.
                if dbs.is_empty() || tables.is_empty() {
                    return Ok(ReadPlan::Nothing);
                }
                return Err(format!("{}: name one RAW database and one table (= rather than IN)", missing()));
            }
            let keys = values_of(quals, "_raw_key").map(texts);
            if keys.as_ref().is_some_and(|k| k.is_empty()) {
                return Ok(ReadPlan::Nothing);
            }
            ReadPlan::RawRows { database: dbs[0].clone(), table: tables[0].clone(), keys }
        }
        ReadKind::RawTables => ReadPlan::RawTables {
            database: values_of(quals, "_raw_database").and_then(|v| texts(v).into_iter().next()),
        },
        ReadKind::RawDatabases => ReadPlan::RawDatabases,
    })
}

use ReadPlan::Runs;

fn ids_plan(ids: impl Iterator<Item = Json>) -> ReadPlan {
    let ids: Vec<Json> = ids.collect();
    if ids.is_empty() {
        ReadPlan::Nothing
    } else {
        ReadPlan::ByIds(ids)
    }
}

/// Most rows `ORDER BY timestamp DESC LIMIT n` reads newest first: each comes from its own
/// `latest` request, so a larger LIMIT reads the range and sorts it instead.
pub const MAX_LATEST_READS: u64 = 100;

/// Rows the planner assumes a scan returns when its conditions do not bound them (a whole list,
/// or one series or RAW table).
pub const DEFAULT_SCAN_ROWS: f64 = 1000.0;

/// A condition as the planner sees it: column, operator, and how many values it allows when
/// that is known at plan time (1 for `=`, the array's length for `IN` of constants; `None` for
/// a parameter array).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedQual {
    pub column: String,
    pub op: QualOp,
    pub values: Option<usize>,
}

/// The rows a scan with these pushed conditions is expected to return: each id, external id or
/// RAW key names at most one row; series (datapoints, sequence rows) and pipelines multiply the
/// default. Never below 1, so that PostgreSQL's costs stay sane.
pub fn estimated_rows(resource: &Resource, quals: &[PlannedQual], limit: Option<u64>) -> f64 {
    // The fewest values over the equality conditions on any of `columns` (they intersect).
    let values = |columns: &[&str]| {
        quals
            .iter()
            .filter(|q| columns.contains(&q.column.as_str()) && matches!(q.op, QualOp::Eq | QualOp::In))
            .filter_map(|q| q.values)
            .min()
    };
    let identity = values(&["id", "external_id"]);
    let rows = match resource.read {
        ReadKind::Items => identity.map(|n| n as f64),
        ReadKind::Datapoints | ReadKind::SequenceRows | ReadKind::PipelineRuns => {
            identity.map(|n| n as f64 * DEFAULT_SCAN_ROWS)
        }
        ReadKind::RawRows => values(&["_raw_key"]).map(|n| n as f64),
        ReadKind::RawTables | ReadKind::RawDatabases => None,
    };
    let rows = rows.unwrap_or(DEFAULT_SCAN_ROWS);
    limit.map_or(rows, |n| rows.min(n as f64)).max(1.0)
}

fn eq_columns(pushed: &[(String, QualOp)]) -> Vec<&str> {
    pushed.iter().filter(|(_, op)| matches!(op, QualOp::Eq | QualOp::In)).map(|(c, _)| c.as_str()).collect()
}

/// A short description of the reads, for EXPLAIN.
pub fn describe_request(resource: &Resource, pushed: &[(String, QualOp)], descending: bool) -> String {
    let has = |c: &str| pushed.iter().any(|(n, op)| n == c && matches!(op, QualOp::Eq | QualOp::In));
    match resource.read {
        ReadKind::PipelineRuns => format!("POST /{}/list", resource.api_path),
        ReadKind::Items => {
            if has("id") || has("external_id") {
                format!("POST /{}/byids", resource.api_path)
            } else {
                format!("POST /{}/list", resource.api_path)
            }
        }
        ReadKind::Datapoints | ReadKind::SequenceRows if !requirements_met(resource, &eq_columns(pushed)) => {
            let (list, data) = if resource.read == ReadKind::SequenceRows {
                ("sequences", "sequences/data")
            } else {
                ("timeseries", "timeseries/data")
            };
            format!("preview: POST /{list}/list, then POST /{data}/list per item")
        }
        ReadKind::RawRows if !requirements_met(resource, &eq_columns(pushed)) => {
            "preview: GET /raw/dbs, GET /raw/dbs/{db}/tables, then GET /raw/dbs/{db}/tables/{table}/rows".into()
        }
        ReadKind::Datapoints if descending => "POST /timeseries/data/latest (newest first, one point each)".into(),
        ReadKind::SequenceRows if descending => "POST /sequences/data/latest (last first, one row each)".into(),
        ReadKind::Datapoints => "POST /timeseries/data/list".into(),
        ReadKind::SequenceRows => "POST /sequences/data/list".into(),
        ReadKind::RawRows => {
            if has("_raw_key") {
                "GET /raw/dbs/{db}/tables/{table}/rows/{key}".into()
            } else {
                "GET /raw/dbs/{db}/tables/{table}/rows".into()
            }
        }
        ReadKind::RawTables => "GET /raw/dbs/{db}/tables".into(),
        ReadKind::RawDatabases => "GET /raw/dbs".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::resource;

    #[test]
    fn events_sort_by_their_time_columns_with_explicit_nulls() {
        let events = resource("events").unwrap();
        assert_eq!(events.sort_field("start_time"), Some("startTime"));
        assert_eq!(events.sort_field("last_updated_time"), Some("lastUpdatedTime"));
        // CDF does not sort events by type; assets are not sorted at all.
        assert_eq!(events.sort_field("type"), None);
        assert_eq!(resource("assets").unwrap().sort_field("created_time"), None);
        let sort = ListSort { field: "startTime", descending: true, nulls_first: false };
        assert_eq!(sort.to_json(), json!([{"property": ["startTime"], "order": "desc", "nulls": "last"}]));
    }

    fn q(column: &str, op: QualOp, value: Value) -> PushedQual {
        PushedQual { column: column.into(), op, value }
    }

    fn planned(column: &str, op: QualOp, values: Option<usize>) -> PlannedQual {
        PlannedQual { column: column.into(), op, values }
    }

    #[test]
    fn estimates_follow_the_ids_pushed() {
        let assets = resource("assets").unwrap();
        assert_eq!(estimated_rows(assets, &[], None), DEFAULT_SCAN_ROWS);
        assert_eq!(estimated_rows(assets, &[planned("external_id", QualOp::Eq, Some(1))], None), 1.0);
        assert_eq!(estimated_rows(assets, &[planned("id", QualOp::In, Some(3))], None), 3.0);
        // Both an id list and an external id: at most the shorter list.
        let both = [planned("id", QualOp::In, Some(5)), planned("external_id", QualOp::Eq, Some(1))];
        assert_eq!(estimated_rows(assets, &both, None), 1.0);
        // A parameter array's length is unknown at plan time; an empty list still costs a row.
        assert_eq!(estimated_rows(assets, &[planned("id", QualOp::In, None)], None), DEFAULT_SCAN_ROWS);
        assert_eq!(estimated_rows(assets, &[planned("id", QualOp::In, Some(0))], None), 1.0);
        let points = resource("double_datapoints").unwrap();
        assert_eq!(
            estimated_rows(points, &[planned("external_id", QualOp::In, Some(2))], None),
            2.0 * DEFAULT_SCAN_ROWS
        );
        let raw = resource("raw_rows").unwrap();
        let one_key = [
            planned("_raw_database", QualOp::Eq, Some(1)),
            planned("_raw_table", QualOp::Eq, Some(1)),
            planned("_raw_key", QualOp::In, Some(4)),
        ];
        assert_eq!(estimated_rows(raw, &one_key, None), 4.0);
        assert_eq!(estimated_rows(raw, &one_key[..2], None), DEFAULT_SCAN_ROWS);
    }

    #[test]
    fn ids_and_external_ids_become_byids() {
        let assets = resource("assets").unwrap();
        assert_eq!(plan_read(assets, &[], ReadShape::default()).unwrap(), ReadPlan::List(Map::new()));
        assert_eq!(
            plan_read(
                assets,
                &[q(
                    "external_id",
                    QualOp::In,
                    Value::TextArray(vec![Some("a".into()), None, Some("a".into()), Some("b".into())])
                )],
                ReadShape::default()
            )
            .unwrap(),
            ReadPlan::ByIds(vec![json!({"externalId": "a"}), json!({"externalId": "b"})])
        );
        assert_eq!(
            plan_read(
                assets,
                &[q("id", QualOp::In, Value::IntArray(vec![Some(1), Some(2)])), q("id", QualOp::Eq, Value::Int(2))],
                ReadShape::default()
            )
            .unwrap(),
            ReadPlan::ByIds(vec![json!({"id": 2})])
        );
        assert_eq!(
            plan_read(assets, &[q("id", QualOp::Eq, Value::Null)], ReadShape::default()).unwrap(),
            ReadPlan::Nothing
        );
    }

    #[test]
    fn datapoints_need_a_series_and_take_time_ranges() {
        let dps = resource("double_datapoints").unwrap();
        assert!(plan_read(dps, &[], ReadShape::default())
            .unwrap_err()
            .contains("WHERE external_id = ..., or WHERE id = ..."));
        let plan = plan_read(
            dps,
            &[
                q("external_id", QualOp::Eq, Value::Text("s".into())),
                q("timestamp", QualOp::Ge, Value::Timestamp(1_000_500)),
                q("timestamp", QualOp::Lt, Value::Timestamp(5_000_000)),
            ],
            ReadShape::default(),
        )
        .unwrap();
        assert_eq!(
            plan,
            ReadPlan::Datapoints {
                series: vec![SeriesRef::ExternalId("s".into())],
                start: 1001,
                end: 5000,
                descending: false
            }
        );
        let plan = plan_read(
            dps,
            &[q("id", QualOp::Eq, Value::Int(4)), q("timestamp", QualOp::Le, Value::Timestamp(5_000_000))],
            ReadShape::default(),
        )
        .unwrap();
        assert_eq!(
            plan,
            ReadPlan::Datapoints {
                series: vec![SeriesRef::Id(4)],
                start: MIN_DATAPOINT_MS,
                end: 5001,
                descending: false
            }
        );
        let plan = plan_read(
            dps,
            &[
                q("id", QualOp::Eq, Value::Int(4)),
                q("timestamp", QualOp::Gt, Value::Timestamp(9_000_000)),
                q("timestamp", QualOp::Lt, Value::Timestamp(1_000_000)),
            ],
            ReadShape::default(),
        )
        .unwrap();
        assert_eq!(plan, ReadPlan::Nothing);
    }

    #[test]
    fn raw_rows_need_database_and_table() {
        let raw = resource("raw_rows").unwrap();
        assert!(
            plan_read(raw, &[q("_raw_database", QualOp::Eq, Value::Text("d".into()))], ReadShape::default()).is_err()
        );
        let plan = plan_read(
            raw,
            &[
                q("_raw_database", QualOp::Eq, Value::Text("d".into())),
                q("_raw_table", QualOp::Eq, Value::Text("t".into())),
                q("_raw_key", QualOp::Eq, Value::Text("k".into())),
            ],
            ReadShape::default(),
        )
        .unwrap();
        assert_eq!(plan, ReadPlan::RawRows { database: "d".into(), table: "t".into(), keys: Some(vec!["k".into()]) });
        assert!(requirements_met(raw, &["_raw_database", "_raw_table"]));
        assert!(!requirements_met(raw, &["_raw_table"]));
    }

    #[test]
    fn only_useful_conditions_are_pushed() {
        let assets = resource("assets").unwrap();
        assert!(pushable(assets, "external_id", QualOp::In));
        assert!(pushable(assets, "name", QualOp::Eq));
        assert!(!pushable(assets, "description", QualOp::Eq));
        assert!(pushable(assets, "external_id", QualOp::Like));
        assert!(!pushable(assets, "name", QualOp::Like));
        assert!(!pushable(assets, "id", QualOp::Lt));
        let dps = resource("double_datapoints").unwrap();
        assert!(pushable(dps, "timestamp", QualOp::Ge));
        assert!(!pushable(dps, "value", QualOp::Eq));
        assert!(!pushable(dps, "timestamp", QualOp::IsNull));
        assert!(!pushable(assets, "external_id", QualOp::IsNotNull));
    }

    fn filter_of(table: &str, quals: &[PushedQual]) -> (Json, bool) {
        let resource = resource(table).unwrap();
        let plan = plan_read(resource, quals, ReadShape::default()).unwrap();
        let ReadPlan::List(filter) = plan else { panic!("not a list: {plan:?}") };
        (Json::Object(filter), answers_every_condition(resource, quals))
    }

    fn text(s: &str) -> Value {
        Value::Text(s.into())
    }

    #[test]
    fn conditions_become_list_filters() {
        let (f, exact) = filter_of(
            "assets",
            &[
                q("data_set_id", QualOp::In, Value::IntArray(vec![Some(1), None, Some(2)])),
                q("source", QualOp::Eq, text("sap")),
                q("external_id", QualOp::Like, text("pump\\_%")),
                q("metadata", QualOp::KeyEq, Value::TextArray(vec![Some("site".into()), Some("oslo".into())])),
                q("parent_id", QualOp::Eq, Value::Int(7)),
                q("root_id", QualOp::Eq, Value::Int(3)),
                q("labels", QualOp::Contains, Value::TextArray(vec![Some("a".into()), Some("b".into())])),
                q("created_time", QualOp::Ge, Value::Timestamp(1_000_500)),
                q("created_time", QualOp::Lt, Value::Timestamp(2_000_000)),
            ],
        );
        assert_eq!(
            f,
            json!({
                "dataSetIds": [{"id": 1}, {"id": 2}],
                "source": "sap",
                "externalIdPrefix": "pump_",
                "metadata": {"site": "oslo"},
                "parentIds": [7],
                "rootIds": [{"id": 3}],
                "labels": {"containsAll": [{"externalId": "a"}, {"externalId": "b"}]},
                "createdTime": {"min": 1001, "max": 1999},
            })
        );
        assert!(exact);
        let (f, exact) = filter_of(
            "events",
            &[
                q("asset_ids", QualOp::Overlaps, Value::IntArray(vec![Some(4), Some(5)])),
                q("type", QualOp::Eq, text("alarm")),
                q("start_time", QualOp::Le, Value::Timestamp(5_000_000)),
            ],
        );
        assert_eq!(f, json!({"assetIds": [4, 5], "type": "alarm", "startTime": {"max": 5000}}));
        assert!(exact);
        let (f, _) = filter_of(
            "time_series",
            &[
                q("is_string", QualOp::Eq, Value::Bool(false)),
                q("asset_id", QualOp::In, Value::IntArray(vec![Some(9)])),
                q("unit", QualOp::Eq, text("bar")),
            ],
        );
        assert_eq!(f, json!({"isString": false, "assetIds": [9], "unit": "bar"}));
    }

    #[test]
    fn inexact_filters_keep_the_limit_local() {
        // A LIKE that is more than a prefix: the prefix narrows, PostgreSQL decides.
        let (f, exact) = filter_of("assets", &[q("external_id", QualOp::Like, text("ab%c"))]);
        assert_eq!(f, json!({"externalIdPrefix": "ab"}));
        assert!(!exact);
        let (f, exact) = filter_of("assets", &[q("external_id", QualOp::Like, text("%c"))]);
        assert_eq!(f, json!({}));
        assert!(!exact);
        // One `source` value only; IN of two is left to PostgreSQL.
        let (f, exact) =
            filter_of("assets", &[q("source", QualOp::In, Value::TextArray(vec![Some("a".into()), Some("b".into())]))]);
        assert_eq!(f, json!({}));
        assert!(!exact);
        let (_, exact) = filter_of("relationships", &[q("source_external_id", QualOp::Eq, text("a"))]);
        assert!(!exact);
        // byids answers the ids, not the other conditions.
        let assets = resource("assets").unwrap();
        assert!(answers_every_condition(assets, &[q("id", QualOp::Eq, Value::Int(1))]));
        assert!(!answers_every_condition(
            assets,
            &[q("id", QualOp::Eq, Value::Int(1)), q("source", QualOp::Eq, text("a"))]
        ));
    }

    #[test]
    fn impossible_filters_read_nothing() {
        let assets = resource("assets").unwrap();
        let nothing =
            |quals: &[PushedQual]| plan_read(assets, quals, ReadShape::default()).unwrap() == ReadPlan::Nothing;
        assert!(nothing(&[q("source", QualOp::Eq, Value::Null)]));
        assert!(nothing(&[q("data_set_id", QualOp::In, Value::IntArray(vec![]))]));
        assert!(nothing(&[q("data_set_id", QualOp::Eq, Value::Int(1)), q("data_set_id", QualOp::Eq, Value::Int(2))]));
        assert!(nothing(&[q("external_id", QualOp::Like, text("ab%")), q("external_id", QualOp::Like, text("ac%"))]));
        assert!(nothing(&[
            q("created_time", QualOp::Gt, Value::Timestamp(5_000_000)),
            q("created_time", QualOp::Lt, Value::Timestamp(5_000_000))
        ]));
        let kv = |k: &str, v: &str| Value::TextArray(vec![Some(k.into()), Some(v.into())]);
        assert!(nothing(&[q("metadata", QualOp::KeyEq, kv("a", "1")), q("metadata", QualOp::KeyEq, kv("a", "2"))]));
    }

    #[test]
    fn like_prefixes() {
        assert_eq!(like_prefix("abc%"), ("abc".into(), true));
        assert_eq!(like_prefix("abc%%"), ("abc".into(), true));
        assert_eq!(like_prefix("a\\%b%"), ("a%b".into(), true));
        assert_eq!(like_prefix("a_c%"), ("a".into(), false));
        assert_eq!(like_prefix("abc"), ("abc".into(), false));
    }

    #[test]
    fn previews_need_a_limit() {
        let dps = resource("double_datapoints").unwrap();
        let limited = ReadShape { limit: Some(5), descending: false };
        assert!(plan_read(dps, &[], ReadShape::default()).is_err());
        assert_eq!(
            plan_read(dps, &[q("timestamp", QualOp::Ge, Value::Timestamp(1_000_000))], limited).unwrap(),
            ReadPlan::SeriesPreview { is_string: false, start: 1000, end: MAX_DATAPOINT_MS + 1 }
        );
        let strings = resource("string_datapoints").unwrap();
        assert!(matches!(plan_read(strings, &[], limited).unwrap(), ReadPlan::SeriesPreview { is_string: true, .. }));
        let raw = resource("raw_rows").unwrap();
        assert_eq!(
            plan_read(raw, &[q("_raw_database", QualOp::Eq, text("db"))], limited).unwrap(),
            ReadPlan::RawPreview { database: Some("db".into()), table: None }
        );
        // A key names rows of some table: without the table, no preview.
        assert!(plan_read(raw, &[q("_raw_key", QualOp::Eq, text("k"))], limited).is_err());
        let rows = resource("sequence_rows").unwrap();
        assert_eq!(plan_read(rows, &[], limited).unwrap(), ReadPlan::SequencePreview { start: 0, end: None });
    }

    #[test]
    fn limits_cut_estimates() {
        let assets = resource("assets").unwrap();
        assert_eq!(estimated_rows(assets, &[], Some(10)), 10.0);
        assert_eq!(estimated_rows(assets, &[planned("id", QualOp::Eq, Some(1))], Some(10)), 1.0);
    }
}
