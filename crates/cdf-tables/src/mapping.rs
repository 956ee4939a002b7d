//! Conversion between a row of column values and a CDF JSON item.

use std::fmt;

use serde_json::{Map, Number, Value as Json};

use crate::catalogue::{
    Access, Column, ColumnType, Field, MetadataLimits, Reference, TimeDomain, MAX_DATAPOINT_MS, MAX_TIMESTAMP_MS,
    MIN_DATAPOINT_MS,
};
use crate::points::{non_finite_text, Point, PointValue};
use crate::value::{format_timestamp_micros, Value};

/// Largest magnitude CDF accepts for a numeric datapoint.
pub const MAX_DATAPOINT_MAGNITUDE: f64 = 1e100;

/// Why a value cannot be sent to CDF. The pgrx layer adds the row number and raises it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueError {
    pub column: &'static str,
    pub kind: ValueErrorKind,
    pub message: String,
}

/// The class of a bad value, so callers can pick an SQLSTATE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueErrorKind {
    /// NULL in a column CDF requires.
    Required,
    /// Longer than CDF accepts.
    TooLong,
    /// A timestamp outside CDF's range or with sub-millisecond precision.
    TimeOutOfRange,
    /// A value in a column CDF assigns itself.
    ReadOnly,
    /// An empty string where CDF wants a non-empty one.
    Empty,
    /// Anything else: wrong type, NaN, bad metadata.
    Invalid,
    /// An external id that names no object of its kind in CDF.
    UnknownReference,
}

impl fmt::Display for ValueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "column \"{}\": {}", self.column, self.message)
    }
}

impl std::error::Error for ValueError {}

fn err(column: &Column, message: impl Into<String>) -> ValueError {
    err_of(ValueErrorKind::Invalid, column, message)
}

fn err_of(kind: ValueErrorKind, column: &Column, message: impl Into<String>) -> ValueError {
    ValueError { column: column.name, kind, message: message.into() }
}

/// What to do with a timestamp that has a sub-millisecond part (CDF stores milliseconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SubMillisecond {
    /// Drop the microseconds, as the CDF SDKs do (`date_trunc('milliseconds', ts)`).
    #[default]
    Truncate,
    /// Refuse the row, so two source rows can never collapse onto one CDF timestamp.
    Reject,
}

/// What to do with `''` in a text field CDF wants non-empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EmptyStrings {
    /// Refuse the row with an error naming row, column and the remedy.
    #[default]
    Reject,
    /// Send nothing for optional fields (as NULL); required fields are still refused.
    Null,
}

/// How raw input values become what CDF accepts: server or table options.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct InputPolicy {
    pub sub_millisecond: SubMillisecond,
    pub empty_strings: EmptyStrings,
}

impl SubMillisecond {
    pub fn parse(s: &str) -> Option<SubMillisecond> {
        match s {
            "truncate" => Some(SubMillisecond::Truncate),
            "reject" => Some(SubMillisecond::Reject),
            _ => None,
        }
    }
}

impl EmptyStrings {
    pub fn parse(s: &str) -> Option<EmptyStrings> {
        match s {
            "reject" => Some(EmptyStrings::Reject),
            "null" => Some(EmptyStrings::Null),
            _ => None,
        }
    }
}

fn empty_string_error(column: &Column) -> ValueError {
    err_of(
        ValueErrorKind::Empty,
        column,
        "is an empty string, which CDF does not accept here; send NULL instead \
         (COPY ... WITH (FORCE_NULL (column)), NULLIF(column, ''), or the table option empty_strings 'null')",
    )
}

/// Applies the input policy to a row before it is mapped: truncates sub-millisecond timestamps
/// (or leaves them for the mapper to refuse) and turns or refuses empty strings.
pub fn apply_input_policy(policy: &InputPolicy, row: &mut [(&'static Column, Value)]) -> Result<(), ValueError> {
    for (column, value) in row.iter_mut() {
        match value {
            Value::Timestamp(micros) if policy.sub_millisecond == SubMillisecond::Truncate => {
                *micros -= micros.rem_euclid(1000);
            }
            Value::Text(s) if s.is_empty() && !column.allows_empty => {
                if policy.empty_strings == EmptyStrings::Null && column.access == Access::Optional {
                    *value = Value::Null;
                } else {
                    return Err(empty_string_error(column));
                }
            }
            Value::TextArray(items) if items.iter().any(|i| i.as_deref() == Some("")) => {
                return Err(empty_string_error(column));
            }
            _ => {}
        }
    }
    Ok(())
}

/// Converts a timestamp to CDF's whole milliseconds.
///
/// A value with a sub-millisecond part reaches here only under `sub_millisecond 'reject'`
/// (`apply_input_policy` truncates otherwise), and is refused.
pub fn timestamp_to_ms(column: &Column, micros: i64) -> Result<i64, ValueError> {
    if micros.rem_euclid(1000) != 0 {
        return Err(err_of(
            ValueErrorKind::TimeOutOfRange,
            column,
            format!(
                "{} has sub-millisecond precision; CDF stores whole milliseconds \
                 (round it first, e.g. date_trunc('milliseconds', ...))",
                format_timestamp_micros(micros)
            ),
        ));
    }
    let ms = micros.div_euclid(1000);
    let (min, max) = match column.time_domain {
        TimeDomain::SinceEpoch => (0, MAX_TIMESTAMP_MS),
        TimeDomain::Datapoint => (MIN_DATAPOINT_MS, MAX_DATAPOINT_MS),
    };
    if ms < min || ms > max {
        return Err(err_of(
            ValueErrorKind::TimeOutOfRange,
            column,
            format!(
                "{} is outside the range CDF accepts ({} .. {})",
                format_timestamp_micros(micros),
                format_timestamp_micros(min * 1000),
                format_timestamp_micros(max * 1000)
            ),
        ));
    }
    Ok(ms)
}

fn check_length(column: &Column, s: &str) -> Result<(), ValueError> {
    if let Some(max) = column.max_chars {
        let n = s.chars().count();
        if n > max {
            return Err(err_of(
                ValueErrorKind::TooLong,
                column,
                format!("value is {n} characters long; CDF accepts at most {max}"),
            ));
        }
    }
    Ok(())
}

fn check_metadata(column: &Column, v: &Json, limits: &MetadataLimits) -> Result<(), ValueError> {
    let Json::Object(map) = v else {
        return Err(err(column, format!("metadata must be a JSON object of strings, got {v}")));
    };
    if map.len() > limits.max_pairs {
        return Err(err(column, format!("metadata has {} keys; CDF accepts at most {}", map.len(), limits.max_pairs)));
    }
    let mut total = 0;
    for (k, val) in map {
        let Json::String(s) = val else {
            return Err(err(column, format!("metadata value of key \"{k}\" must be a string, got {val}")));
        };
        if k.len() > limits.max_key_bytes {
            return Err(err(
                column,
                format!("metadata key \"{k}\" is {} bytes; CDF accepts at most {}", k.len(), limits.max_key_bytes),
            ));
        }
        if s.len() > limits.max_value_bytes {
            return Err(err(
                column,
                format!(
                    "metadata value of key \"{k}\" is {} bytes; CDF accepts at most {}",
                    s.len(),
                    limits.max_value_bytes
                ),
            ));
        }
        total += k.len() + s.len();
    }
    if total > limits.max_total_bytes {
        return Err(err(
            column,
            format!("metadata is {total} bytes in all; CDF accepts at most {}", limits.max_total_bytes),
        ));
    }
    Ok(())
}

/// The checks a text value of a text column passes (`value_to_json` without building JSON).
pub fn check_text(column: &Column, s: &str) -> Result<(), ValueError> {
    check_length(column, s)?;
    if column.in_url_path && (s == "." || s == "..") {
        // URL parsers resolve these (also as %2E) before the request leaves: the name
        // could be written but never read, updated or deleted by key again.
        return Err(err(column, format!("\"{s}\" cannot be a RAW name or key: CDF's URLs cannot address it")));
    }
    Ok(())
}

/// Converts one non-NULL column value to its CDF JSON value.
pub fn value_to_json(column: &Column, value: &Value) -> Result<Json, ValueError> {
    let mismatch = || err(column, format!("a {} value cannot be stored in a {} column", value.kind(), column.ty.sql()));
    let json = match (column.ty, value) {
        (_, Value::Null) => Json::Null,
        (ColumnType::BigInt, Value::Int(i)) => Json::from(*i),
        (ColumnType::BigIntArray, Value::IntArray(items)) => {
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                match item {
                    Some(i) => out.push(Json::from(*i)),
                    None => return Err(err(column, "array elements must not be NULL")),
                }
            }
            Json::Array(out)
        }
        (ColumnType::Text | ColumnType::Varchar(_), Value::Text(s)) => {
            check_text(column, s)?;
            Json::String(s.clone())
        }
        (ColumnType::TextArray, Value::TextArray(items)) => {
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                match item {
                    Some(s) => {
                        check_length(column, s)?;
                        out.push(Json::String(s.clone()))
                    }
                    None => return Err(err(column, "array elements must not be NULL")),
                }
            }
            Json::Array(out)
        }
        (ColumnType::Bool, Value::Bool(b)) => Json::Bool(*b),
        (ColumnType::Double, Value::Double(d)) => {
            let Some(n) = Number::from_f64(*d) else {
                let shown = crate::points::non_finite_text(*d);
                return Err(err(column, format!("{shown} is not a number CDF can store")));
            };
            Json::Number(n)
        }
        (ColumnType::Double, Value::Int(i)) => Json::from(*i as f64),
        (ColumnType::TimestampTz, Value::Timestamp(micros)) => Json::from(timestamp_to_ms(column, *micros)?),
        (ColumnType::Json, Value::Json(v)) => {
            if let Some(limits) = &column.metadata_limits {
                check_metadata(column, v, limits)?;
            }
            v.clone()
        }
        _ => return Err(mismatch()),
    };
    Ok(json)
}

/// Builds the CDF item for one row of an items-style resource (assets, events, ...).
///
/// `values` pairs each bound column with its value; columns the statement did not bind are
/// absent. NULLs are left out of the item; a NULL in a required column is an error.
pub fn row_to_item(values: &[(&'static Column, Value)]) -> Result<Map<String, Json>, ValueError> {
    let mut item = Map::with_capacity(values.len());
    for (column, value) in values {
        if value.is_null() {
            continue;
        }
        if column.access == Access::ReadOnly {
            return Err(err_of(
                ValueErrorKind::ReadOnly,
                column,
                "is assigned by CDF and cannot be written; leave it out or set it to NULL",
            ));
        }
        let json = value_to_json(column, value)?;
        match column.field {
            Field::Json(name) => {
                item.insert(name.to_string(), json);
            }
            Field::Nested(outer, inner) => {
                let obj = item.entry(outer.to_string()).or_insert_with(|| Json::Object(Map::new()));
                if let Json::Object(o) = obj {
                    o.insert(inner.to_string(), json);
                }
            }
            Field::LabelRefs(name) => {
                let refs = match json {
                    Json::Array(xs) => xs
                        .into_iter()
                        .map(|x| {
                            let mut m = Map::new();
                            m.insert("externalId".into(), x);
                            Json::Object(m)
                        })
                        .collect(),
                    _ => Vec::new(),
                };
                item.insert(name.to_string(), Json::Array(refs));
            }
            Field::SingleFromArray(name) => match json {
                Json::Array(mut xs) if xs.len() <= 1 => {
                    if let Some(x) = xs.pop() {
                        item.insert(name.to_string(), x);
                    }
                }
                _ => return Err(err(column, "CDF holds at most one id here; give an array of one element")),
            },
            // Looked up by the writer's caller (`row_references`), placed as ids.
            Field::Address | Field::ExternalIdRef(_) => {}
        }
    }
    for (column, value) in values {
        if column.access == Access::Required && value.is_null() && column.field != Field::Address {
            return Err(err_of(ValueErrorKind::Required, column, "must not be NULL: CDF requires it"));
        }
    }
    Ok(item)
}

/// The references by external id a row makes: column, what it points at, the external ids.
/// A row that also gives the same field by internal id (`data_set_id` and
/// `data_set_external_id`) is refused: the two could disagree.
#[allow(clippy::type_complexity)]
pub fn row_references(
    values: &[(&'static Column, Value)],
) -> Result<Vec<(&'static Column, Reference, Vec<String>)>, ValueError> {
    let mut out = Vec::new();
    for (column, value) in values {
        let Field::ExternalIdRef(reference) = column.field else { continue };
        let external_ids = match value {
            Value::Null => continue,
            Value::Text(x) => vec![x.clone()],
            Value::TextArray(xs) => xs.iter().flatten().cloned().collect(),
            _ => return Err(err(column, "must be text")),
        };
        value_to_json(column, value)?;
        let by_id = values.iter().any(|(c, v)| c.name == reference.id_column && !v.is_null());
        if by_id {
            return Err(err(column, format!("give either {} or {}, not both", reference.id_column, column.name)));
        }
        out.push((*column, reference, external_ids));
    }
    Ok(out)
}

/// For `null_values 'clear'`: puts an explicit JSON null into the item for each NULL optional
/// column of the row, so that an upsert which finds the object clears those fields (a create
/// treats null as absent, as CDF does).
pub fn mark_cleared_fields(item: &mut Map<String, Json>, values: &[(&'static Column, Value)]) {
    for (column, value) in values {
        if !value.is_null() || column.access != Access::Optional || column.create_only || column.set_only {
            continue;
        }
        if let Field::Json(name) | Field::LabelRefs(name) | Field::SingleFromArray(name) = column.field {
            item.entry(name.to_string()).or_insert(Json::Null);
        }
    }
}

/// Reads one column of a CDF JSON item back into a value (for SELECT).
pub fn item_to_value(column: &Column, item: &Map<String, Json>) -> Result<Value, ValueError> {
    let raw = match column.field {
        Field::Json(name) | Field::LabelRefs(name) | Field::SingleFromArray(name) => item.get(name),
        Field::Nested(outer, inner) => item.get(outer).and_then(|o| o.get(inner)),
        // Readers put what addresses a row (series, RAW table) under the column's own name, and
        // the external ids they looked up for the ids of references too.
        Field::Address | Field::ExternalIdRef(_) => item.get(column.name),
    };
    let Some(raw) = raw.filter(|v| !v.is_null()) else {
        return Ok(Value::Null);
    };
    let bad = || err(column, format!("CDF returned {raw}, which does not fit {}", column.ty.sql()));
    Ok(match column.ty {
        ColumnType::BigInt => Value::Int(raw.as_i64().ok_or_else(bad)?),
        ColumnType::BigIntArray => match (column.field, raw) {
            (Field::SingleFromArray(_), v) => Value::IntArray(vec![Some(v.as_i64().ok_or_else(bad)?)]),
            (_, Json::Array(xs)) => Value::IntArray(xs.iter().map(|x| x.as_i64()).collect()),
            _ => return Err(bad()),
        },
        ColumnType::Text | ColumnType::Varchar(_) => match raw {
            Json::String(s) => Value::Text(s.clone()),
            other => Value::Text(other.to_string()),
        },
        ColumnType::TextArray => match (column.field, raw) {
            (Field::LabelRefs(_), Json::Array(xs)) => Value::TextArray(
                xs.iter().map(|x| x.get("externalId").and_then(|e| e.as_str()).map(str::to_string)).collect(),
            ),
            (_, Json::Array(xs)) => Value::TextArray(xs.iter().map(|x| x.as_str().map(str::to_string)).collect()),
            _ => return Err(bad()),
        },
        ColumnType::Bool => Value::Bool(raw.as_bool().ok_or_else(bad)?),
        ColumnType::Double => Value::Double(raw.as_f64().ok_or_else(bad)?),
        ColumnType::TimestampTz => Value::Timestamp(raw.as_i64().ok_or_else(bad)?.checked_mul(1000).ok_or_else(bad)?),
        ColumnType::Json => Value::Json(raw.clone()),
    })
}

/// The value of a datapoints-table column for a compact point, by the column's `Field` as
/// `item_to_value` reads it from a JSON point: `timestamp`, `value`, `status.code`/`symbol`,
/// and the series' address under the column's name.
pub fn point_to_value(column: &Column, point: &Point) -> Result<Value, ValueError> {
    Ok(match column.field {
        Field::Json("timestamp") => {
            let bad = || err(column, format!("CDF returned timestamp {}, which is out of range", point.timestamp));
            Value::Timestamp(point.timestamp.checked_mul(1000).ok_or_else(bad)?)
        }
        Field::Json("value") => match (&point.value, column.ty) {
            (PointValue::Missing, _) => Value::Null,
            (PointValue::Double(x), ColumnType::Double) => Value::Double(*x),
            (PointValue::Text(s), ColumnType::Text | ColumnType::Varchar(_)) => Value::Text(s.clone()),
            // What item_to_value makes of a JSON number in a text column.
            (PointValue::Double(x), ColumnType::Text | ColumnType::Varchar(_)) => {
                Value::Text(Number::from_f64(*x).map_or_else(|| non_finite_text(*x).to_string(), |n| n.to_string()))
            }
            (PointValue::Text(s), ty) => {
                return Err(err(
                    column,
                    format!("CDF returned {}, which does not fit {}", Json::from(s.as_str()), ty.sql()),
                ))
            }
            (PointValue::Double(x), ty) => {
                return Err(err(column, format!("CDF returned {x}, which does not fit {}", ty.sql())))
            }
        },
        Field::Nested("status", "code") => point.status.as_ref().map_or(Value::Null, |s| Value::Int(s.code)),
        Field::Nested("status", "symbol") => {
            point.status.as_ref().map_or(Value::Null, |s| Value::Text(s.symbol.clone()))
        }
        Field::Address => match point.series.column(column.name) {
            Json::Null => Value::Null,
            Json::Number(n) => Value::Int(n.as_i64().unwrap_or_default()),
            Json::String(s) => Value::Text(s),
            other => Value::Json(other),
        },
        _ => Value::Null,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::resource;
    use serde_json::json;

    fn c(table: &str, name: &str) -> &'static Column {
        resource(table).unwrap().column(name).unwrap()
    }

    #[test]
    fn asset_row_becomes_camel_case_item() {
        let row = vec![
            (c("assets", "external_id"), Value::Text("pump-1".into())),
            (c("assets", "name"), Value::Text("Pump 1".into())),
            (c("assets", "parent_external_id"), Value::Text("site".into())),
            (c("assets", "description"), Value::Null),
            (c("assets", "metadata"), Value::Json(json!({"maker": "ACME"}))),
            (c("assets", "labels"), Value::TextArray(vec![Some("pump".into())])),
            (c("assets", "data_set_id"), Value::Int(42)),
        ];
        let item = row_to_item(&row).unwrap();
        assert_eq!(
            Json::Object(item),
            json!({
                "externalId": "pump-1",
                "name": "Pump 1",
                "parentExternalId": "site",
                "metadata": {"maker": "ACME"},
                "labels": [{"externalId": "pump"}],
                "dataSetId": 42
            })
        );
    }

    #[test]
    fn null_in_required_column_names_the_column() {
        let row = vec![(c("assets", "external_id"), Value::Text("x".into())), (c("assets", "name"), Value::Null)];
        let e = row_to_item(&row).unwrap_err();
        assert_eq!(e.column, "name");
        assert!(e.message.contains("must not be NULL"));
    }

    #[test]
    fn read_only_columns_are_rejected() {
        let row = vec![(c("assets", "name"), Value::Text("x".into())), (c("assets", "id"), Value::Int(7))];
        let e = row_to_item(&row).unwrap_err();
        assert_eq!(e.column, "id");
        assert!(e.message.contains("assigned by CDF"));
    }

    #[test]
    fn over_long_text_is_rejected_with_its_length() {
        let row = vec![(c("assets", "name"), Value::Text("é".repeat(141)))];
        let e = row_to_item(&row).unwrap_err();
        assert_eq!(e.column, "name");
        assert_eq!(e.message, "value is 141 characters long; CDF accepts at most 140");
        let ok = vec![(c("assets", "name"), Value::Text("é".repeat(140)))];
        assert!(row_to_item(&ok).is_ok());
    }

    #[test]
    fn json_numbers_keep_their_exact_text() {
        // Issue 9 item 11: beyond u64, 30 digits, 23-digit decimals, exponents past f64.
        let text = r#"{"d23":0.12345678901234567890123,"e":1e400,"i30":-123456789012345678901234567890,"u65":18446744073709551617}"#;
        let v: Json = serde_json::from_str(text).unwrap();
        let item = row_to_item(&[(c("raw_rows", "_raw_columns"), Value::Json(v))]).unwrap();
        // Every digit kept; serde_json writes an exponent with its sign (the same number).
        let sent = text.replace("1e400", "1e+400");
        assert_eq!(serde_json::to_string(&item["columns"]).unwrap(), sent);
        let read = item_to_value(c("raw_rows", "_raw_columns"), &item).unwrap();
        let Value::Json(back) = read else { panic!("{read:?}") };
        assert_eq!(back.to_string(), sent);
    }

    #[test]
    fn metadata_must_be_an_object_of_strings() {
        let m = c("assets", "metadata");
        let e = value_to_json(m, &Value::Json(json!({"a": 1}))).unwrap_err();
        assert!(e.message.contains("key \"a\" must be a string"), "{}", e.message);
        let e = value_to_json(m, &Value::Json(json!([1]))).unwrap_err();
        assert!(e.message.contains("must be a JSON object"));
        let big = json!({"k": "v".repeat(10_241)});
        assert!(value_to_json(m, &Value::Json(big)).unwrap_err().message.contains("10241 bytes"));
    }

    #[test]
    fn timestamps_become_milliseconds_and_sub_millisecond_is_an_error() {
        let start = c("events", "start_time");
        assert_eq!(
            value_to_json(start, &Value::Timestamp(1_700_000_000_123_000)).unwrap(),
            json!(1_700_000_000_123i64)
        );
        let e = value_to_json(start, &Value::Timestamp(1_700_000_000_123_456)).unwrap_err();
        assert!(e.message.contains("sub-millisecond"), "{}", e.message);
        let e = value_to_json(start, &Value::Timestamp(-1000)).unwrap_err();
        assert!(e.message.contains("outside the range"), "{}", e.message);
        let ts = c("double_datapoints", "timestamp");
        assert!(value_to_json(ts, &Value::Timestamp(MIN_DATAPOINT_MS * 1000)).is_ok());
        assert!(value_to_json(ts, &Value::Timestamp((MIN_DATAPOINT_MS - 1) * 1000)).is_err());
        assert!(value_to_json(ts, &Value::Timestamp((MAX_DATAPOINT_MS + 1) * 1000)).is_err());
    }

    #[test]
    fn nan_is_rejected() {
        let v = c("double_datapoints", "value");
        assert!(value_to_json(v, &Value::Double(f64::NAN)).is_err());
        assert!(value_to_json(v, &Value::Double(f64::INFINITY)).is_err());
        assert_eq!(value_to_json(v, &Value::Double(1.5)).unwrap(), json!(1.5));
    }

    #[test]
    fn label_data_set_id_array_holds_one_id() {
        let d = c("labels", "data_set_id");
        let row = vec![
            (c("labels", "external_id"), Value::Text("l".into())),
            (c("labels", "name"), Value::Text("L".into())),
            (d, Value::IntArray(vec![Some(5)])),
        ];
        assert_eq!(row_to_item(&row).unwrap()["dataSetId"], json!(5));
        let two = vec![(d, Value::IntArray(vec![Some(5), Some(6)]))];
        assert!(row_to_item(&two).is_err());
    }

    #[test]
    fn items_read_back_into_values() {
        let item = json!({"id": 9, "externalId": "a", "labels": [{"externalId": "x"}],
                          "createdTime": 1000, "metadata": {"k": "v"}});
        let item = item.as_object().unwrap();
        assert_eq!(item_to_value(c("assets", "id"), item).unwrap(), Value::Int(9));
        assert_eq!(item_to_value(c("assets", "labels"), item).unwrap(), Value::TextArray(vec![Some("x".into())]));
        assert_eq!(item_to_value(c("assets", "created_time"), item).unwrap(), Value::Timestamp(1_000_000));
        assert_eq!(item_to_value(c("assets", "name"), item).unwrap(), Value::Null);
    }

    #[test]
    fn references_by_external_id_are_collected_and_conflicts_refused() {
        let row = vec![
            (c("events", "external_id"), Value::Text("e".into())),
            (c("events", "asset_external_ids"), Value::TextArray(vec![Some("a".into()), Some("b".into())])),
            (c("events", "data_set_external_id"), Value::Null),
        ];
        let refs = row_references(&row).unwrap();
        assert_eq!(refs.len(), 1);
        assert_eq!(
            (refs[0].0.name, refs[0].1.id_field, refs[0].2.clone()),
            ("asset_external_ids", "assetIds", vec!["a".to_string(), "b".to_string()])
        );
        assert!(!row_to_item(&row).unwrap().contains_key("assetIds"), "placed after the lookup");
        let both = vec![
            (c("time_series", "data_set_id"), Value::Int(1)),
            (c("time_series", "data_set_external_id"), Value::Text("ds".into())),
        ];
        assert!(row_references(&both).unwrap_err().message.contains("not both"));
    }

    #[test]
    fn cleared_fields_are_marked_except_parents_and_required_ones() {
        let row = vec![
            (c("assets", "name"), Value::Text("x".into())),
            (c("assets", "description"), Value::Null),
            (c("assets", "labels"), Value::Null),
            (c("assets", "parent_external_id"), Value::Null),
        ];
        let mut item = row_to_item(&row).unwrap();
        mark_cleared_fields(&mut item, &row);
        assert_eq!(Json::Object(item), json!({"name": "x", "description": null, "labels": null}));
    }

    #[test]
    fn a_compact_point_reads_as_its_json_point_does() {
        use crate::points::{PointStatus, SeriesAddress};
        use std::sync::Arc;
        let series = Arc::new(SeriesAddress {
            id: Some(7),
            external_id: Some("s".into()),
            instance_space: Some("sp".into()),
            instance_external_id: Some("node".into()),
        });
        let status = Some(PointStatus { code: 2_147_483_648, symbol: "Bad".into() });
        let points = [
            (
                Point { series: series.clone(), timestamp: 1_000, value: PointValue::Double(2.5), status: None },
                "double",
            ),
            (Point { series: series.clone(), timestamp: -5, value: PointValue::Missing, status }, "double"),
            (
                Point { series: Arc::default(), timestamp: 3, value: PointValue::Text("a".into()), status: None },
                "string",
            ),
            (Point { series: series.clone(), timestamp: 4, value: PointValue::Double(3.0), status: None }, "string"),
        ];
        for (point, kind) in &points {
            let table = resource(&format!("{kind}_datapoints")).unwrap();
            for column in table.columns {
                assert_eq!(
                    point_to_value(column, point),
                    item_to_value(column, &point.to_json()),
                    "{} of {point:?}",
                    column.name
                );
            }
        }
        // Values JSON cannot hold as numbers are doubles all the same.
        let nan = Point { series, timestamp: 1, value: PointValue::Double(f64::NAN), status: None };
        assert!(matches!(point_to_value(c("double_datapoints", "value"), &nan), Ok(Value::Double(x)) if x.is_nan()));
        let text = Point { value: PointValue::Text("x".into()), ..nan };
        let e = point_to_value(c("double_datapoints", "value"), &text).unwrap_err();
        assert_eq!(e.message, "CDF returned \"x\", which does not fit DOUBLE PRECISION");
    }
}
