//! SELECT: which WHERE conditions go to CDF, and which CDF reads a scan makes.
//!
//! Every condition is also re-checked by PostgreSQL, so pushing one down only narrows what is
//! fetched; it never changes the result.

use serde_json::{json, Value as Json};

use crate::catalogue::{ReadKind, Resource, MAX_DATAPOINT_MS, MIN_DATAPOINT_MS};
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
    /// `LIKE 'prefix%'`, the value being the prefix (view tables send it as DMS `prefix`).
    Prefix,
}

impl QualOp {
    /// The prefix a `LIKE` pattern matches, when the pattern is a plain prefix (`'abc%'`: no
    /// other wildcard, no escape); `None` otherwise.
    pub fn like_prefix(pattern: &str) -> Option<&str> {
        let prefix = pattern.strip_suffix('%')?;
        (!prefix.is_empty() && !prefix.contains(['%', '_', '\\'])).then_some(prefix)
    }

    /// Every operator, in a fixed order (its index is the operator's code in plan data).
    pub const ALL: [QualOp; 9] = [
        QualOp::Eq,
        QualOp::In,
        QualOp::Lt,
        QualOp::Le,
        QualOp::Gt,
        QualOp::Ge,
        QualOp::IsNull,
        QualOp::IsNotNull,
        QualOp::Prefix,
    ];

    pub fn from_operator(name: &str) -> Option<QualOp> {
        Some(match name {
            "=" => QualOp::Eq,
            "<" => QualOp::Lt,
            "<=" => QualOp::Le,
            ">" => QualOp::Gt,
            ">=" => QualOp::Ge,
            _ => return None,
        })
    }

    /// The operator with its operands swapped (`5 < x` is `x > 5`).
    pub fn commuted(self) -> QualOp {
        match self {
            QualOp::Lt => QualOp::Gt,
            QualOp::Le => QualOp::Ge,
            QualOp::Gt => QualOp::Lt,
            QualOp::Ge => QualOp::Le,
            other => other,
        }
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
            QualOp::Prefix => "like prefix",
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

/// What a scan reads from CDF.
#[derive(Debug, Clone, PartialEq)]
pub enum ReadPlan {
    /// `POST /{resource}/list`, every object.
    List,
    /// `POST /{resource}/byids` for these `{"id"}` / `{"externalId"}` items.
    ByIds(Vec<Json>),
    /// A condition can never hold (e.g. `id = NULL`): no request at all.
    Nothing,
    /// `POST /extpipes/runs/list` of one pipeline.
    Runs {
        external_ids: Vec<String>,
    },
    /// `POST /timeseries/data/list`; `end` is exclusive, in ms.
    Datapoints {
        series: Vec<SeriesRef>,
        start: i64,
        end: i64,
    },
    /// `POST /sequences/data/list`; `end` is exclusive.
    SequenceRows {
        sequences: Vec<SeriesRef>,
        start: i64,
        end: Option<i64>,
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
        ReadKind::Items => identity,
        ReadKind::PipelineRuns => eq && column == "external_id",
        ReadKind::Datapoints => identity || (range && column == "timestamp"),
        ReadKind::SequenceRows => identity || (range && column == "row_number"),
        ReadKind::RawRows => eq && matches!(column, "_raw_database" | "_raw_table" | "_raw_key"),
        ReadKind::RawTables => op == QualOp::Eq && column == "_raw_database",
        ReadKind::RawDatabases => false,
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
            QualOp::In | QualOp::IsNull | QualOp::IsNotNull | QualOp::Prefix => (None, None),
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
pub fn plan_read(resource: &Resource, quals: &[PushedQual]) -> Result<ReadPlan, String> {
    let missing = || requirement_message(resource).unwrap_or_else(|| "missing condition".into());
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
            (None, None) => ReadPlan::List,
        },
        ReadKind::Datapoints => {
            let series = series_refs(quals).ok_or_else(missing)?;
            let (lo, hi) = bounds(quals, "timestamp", true);
            let start = lo.unwrap_or(MIN_DATAPOINT_MS).max(MIN_DATAPOINT_MS);
            let end = hi.unwrap_or(MAX_DATAPOINT_MS + 1).min(MAX_DATAPOINT_MS + 1);
            if series.is_empty() || start >= end {
                ReadPlan::Nothing
            } else {
                ReadPlan::Datapoints { series, start, end }
            }
        }
        ReadKind::SequenceRows => {
            let sequences = series_refs(quals).ok_or_else(missing)?;
            let (lo, hi) = bounds(quals, "row_number", false);
            let start = lo.unwrap_or(0).max(0);
            if sequences.is_empty() || hi.is_some_and(|h| h <= start) {
                ReadPlan::Nothing
            } else {
                ReadPlan::SequenceRows { sequences, start, end: hi }
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
pub fn estimated_rows(resource: &Resource, quals: &[PlannedQual]) -> f64 {
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
    rows.unwrap_or(DEFAULT_SCAN_ROWS).max(1.0)
}

/// A short description of the reads, for EXPLAIN.
pub fn describe_request(resource: &Resource, pushed: &[(String, QualOp)]) -> String {
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

    fn q(column: &str, op: QualOp, value: Value) -> PushedQual {
        PushedQual { column: column.into(), op, value }
    }

    fn planned(column: &str, op: QualOp, values: Option<usize>) -> PlannedQual {
        PlannedQual { column: column.into(), op, values }
    }

    #[test]
    fn estimates_follow_the_ids_pushed() {
        let assets = resource("assets").unwrap();
        assert_eq!(estimated_rows(assets, &[]), DEFAULT_SCAN_ROWS);
        assert_eq!(estimated_rows(assets, &[planned("external_id", QualOp::Eq, Some(1))]), 1.0);
        assert_eq!(estimated_rows(assets, &[planned("id", QualOp::In, Some(3))]), 3.0);
        // Both an id list and an external id: at most the shorter list.
        let both = [planned("id", QualOp::In, Some(5)), planned("external_id", QualOp::Eq, Some(1))];
        assert_eq!(estimated_rows(assets, &both), 1.0);
        // A parameter array's length is unknown at plan time; an empty list still costs a row.
        assert_eq!(estimated_rows(assets, &[planned("id", QualOp::In, None)]), DEFAULT_SCAN_ROWS);
        assert_eq!(estimated_rows(assets, &[planned("id", QualOp::In, Some(0))]), 1.0);
        let points = resource("double_datapoints").unwrap();
        assert_eq!(estimated_rows(points, &[planned("external_id", QualOp::In, Some(2))]), 2.0 * DEFAULT_SCAN_ROWS);
        let raw = resource("raw_rows").unwrap();
        let one_key = [
            planned("_raw_database", QualOp::Eq, Some(1)),
            planned("_raw_table", QualOp::Eq, Some(1)),
            planned("_raw_key", QualOp::In, Some(4)),
        ];
        assert_eq!(estimated_rows(raw, &one_key), 4.0);
        assert_eq!(estimated_rows(raw, &one_key[..2]), DEFAULT_SCAN_ROWS);
    }

    #[test]
    fn ids_and_external_ids_become_byids() {
        let assets = resource("assets").unwrap();
        assert_eq!(plan_read(assets, &[]).unwrap(), ReadPlan::List);
        assert_eq!(
            plan_read(
                assets,
                &[q(
                    "external_id",
                    QualOp::In,
                    Value::TextArray(vec![Some("a".into()), None, Some("a".into()), Some("b".into())])
                )]
            )
            .unwrap(),
            ReadPlan::ByIds(vec![json!({"externalId": "a"}), json!({"externalId": "b"})])
        );
        assert_eq!(
            plan_read(
                assets,
                &[q("id", QualOp::In, Value::IntArray(vec![Some(1), Some(2)])), q("id", QualOp::Eq, Value::Int(2))]
            )
            .unwrap(),
            ReadPlan::ByIds(vec![json!({"id": 2})])
        );
        assert_eq!(plan_read(assets, &[q("id", QualOp::Eq, Value::Null)]).unwrap(), ReadPlan::Nothing);
    }

    #[test]
    fn like_patterns_that_are_plain_prefixes() {
        assert_eq!(QualOp::like_prefix("pump%"), Some("pump"));
        assert_eq!(QualOp::like_prefix("pu_mp%"), None);
        assert_eq!(QualOp::like_prefix("%pump"), None);
        assert_eq!(QualOp::like_prefix("pump"), None);
        assert_eq!(QualOp::like_prefix("%"), None);
        assert_eq!(QualOp::like_prefix("a\\%%"), None);
        let assets = resource("assets").unwrap();
        assert!(!pushable(assets, "name", QualOp::Prefix));
    }

    #[test]
    fn datapoints_need_a_series_and_take_time_ranges() {
        let dps = resource("double_datapoints").unwrap();
        assert!(plan_read(dps, &[]).unwrap_err().contains("WHERE external_id = ..., or WHERE id = ..."));
        let plan = plan_read(
            dps,
            &[
                q("external_id", QualOp::Eq, Value::Text("s".into())),
                q("timestamp", QualOp::Ge, Value::Timestamp(1_000_500)),
                q("timestamp", QualOp::Lt, Value::Timestamp(5_000_000)),
            ],
        )
        .unwrap();
        assert_eq!(
            plan,
            ReadPlan::Datapoints { series: vec![SeriesRef::ExternalId("s".into())], start: 1001, end: 5000 }
        );
        let plan = plan_read(
            dps,
            &[q("id", QualOp::Eq, Value::Int(4)), q("timestamp", QualOp::Le, Value::Timestamp(5_000_000))],
        )
        .unwrap();
        assert_eq!(plan, ReadPlan::Datapoints { series: vec![SeriesRef::Id(4)], start: MIN_DATAPOINT_MS, end: 5001 });
        let plan = plan_read(
            dps,
            &[
                q("id", QualOp::Eq, Value::Int(4)),
                q("timestamp", QualOp::Gt, Value::Timestamp(9_000_000)),
                q("timestamp", QualOp::Lt, Value::Timestamp(1_000_000)),
            ],
        )
        .unwrap();
        assert_eq!(plan, ReadPlan::Nothing);
    }

    #[test]
    fn raw_rows_need_database_and_table() {
        let raw = resource("raw_rows").unwrap();
        assert!(plan_read(raw, &[q("_raw_database", QualOp::Eq, Value::Text("d".into()))]).is_err());
        let plan = plan_read(
            raw,
            &[
                q("_raw_database", QualOp::Eq, Value::Text("d".into())),
                q("_raw_table", QualOp::Eq, Value::Text("t".into())),
                q("_raw_key", QualOp::Eq, Value::Text("k".into())),
            ],
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
        assert!(!pushable(assets, "name", QualOp::Eq));
        assert!(!pushable(assets, "id", QualOp::Lt));
        let dps = resource("double_datapoints").unwrap();
        assert!(pushable(dps, "timestamp", QualOp::Ge));
        assert!(!pushable(dps, "value", QualOp::Eq));
        assert!(!pushable(dps, "timestamp", QualOp::IsNull));
        assert!(!pushable(assets, "external_id", QualOp::IsNotNull));
    }
}
