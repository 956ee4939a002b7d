//! What one row of a table becomes when it is written: an item for the asset-centric APIs, or a
//! keyed entry for the APIs that group rows (datapoints, sequence rows, RAW).

use serde_json::{Map, Value as Json};

use crate::catalogue::{Access, Column, ColumnType, Field, Resource, WriteKind};
use crate::mapping::{
    check_text, row_to_item, timestamp_to_ms, value_to_json, ValueError, ValueErrorKind, MAX_DATAPOINT_MAGNITUDE,
};
use crate::points::PointValue;
use crate::value::Value;

/// A time series or sequence, by id or external id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SeriesRef {
    Id(i64),
    ExternalId(String),
    /// A time series node: `{"instanceId": {"space", "externalId"}}`.
    InstanceId {
        space: String,
        external_id: String,
    },
}

impl SeriesRef {
    /// The identifier object CDF expects, e.g. `{"externalId": "x"}`.
    pub fn to_json(&self) -> Map<String, Json> {
        let mut m = Map::new();
        match self {
            SeriesRef::Id(id) => m.insert("id".into(), Json::from(*id)),
            SeriesRef::ExternalId(x) => m.insert("externalId".into(), Json::from(x.clone())),
            SeriesRef::InstanceId { space, external_id } => {
                m.insert("instanceId".into(), serde_json::json!({"space": space, "externalId": external_id}))
            }
        };
        m
    }
}

/// One row, ready for its writer.
#[derive(Debug, Clone, PartialEq)]
pub enum WriteRow {
    /// An item of an items-style resource (assets, events, files, RAW databases...).
    Item(Map<String, Json>),
    /// A table of a RAW database.
    RawTable { database: String, table: Map<String, Json> },
    /// A row of a RAW table: `{"key", "columns"}`.
    RawRow { database: String, table: String, row: Map<String, Json> },
    /// A datapoint of a series.
    Datapoint { series: SeriesRef, point: DatapointRow },
    /// A sequence row: its number and its values by column external id.
    SequenceRow { sequence: SeriesRef, row_number: i64, values: Map<String, Json> },
}

/// A datapoint as written: a COPY of millions of points builds one per row, so it holds plain
/// values and serializes itself, with no JSON object per point.
#[derive(Debug, Clone, PartialEq)]
pub struct DatapointRow {
    /// Milliseconds since 1970.
    pub timestamp: i64,
    /// Finite and within CDF's range for a double series (`Missing` only with a bad status).
    pub value: PointValue,
    pub status: Option<WriteStatus>,
}

/// A datapoint's status as given: a code, a symbol, or both.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WriteStatus {
    pub code: Option<i64>,
    pub symbol: Option<String>,
}

impl WriteStatus {
    /// Bad statuses (top two bits `10`) allow a point without a value.
    fn is_bad(&self) -> bool {
        self.code.is_some_and(|code| (code as u64 >> 30) == 2)
    }
}

impl DatapointRow {
    /// Appends the point as CDF's request entry: `{"status"?, "timestamp", "value"?}`, keys in
    /// the order (and numbers in the text) serde_json gives the same point as a JSON object.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        out.push(b'{');
        if let Some(status) = &self.status {
            out.extend_from_slice(b"\"status\":{");
            if let Some(code) = status.code {
                out.extend_from_slice(b"\"code\":");
                write_json_i64(out, code);
            }
            if let Some(symbol) = &status.symbol {
                if status.code.is_some() {
                    out.push(b',');
                }
                out.extend_from_slice(b"\"symbol\":");
                write_json_string(out, symbol);
            }
            out.extend_from_slice(b"},");
        }
        out.extend_from_slice(b"\"timestamp\":");
        write_json_i64(out, self.timestamp);
        match &self.value {
            PointValue::Missing => {}
            PointValue::Double(v) => {
                out.extend_from_slice(b",\"value\":");
                write_json_f64(out, *v);
            }
            PointValue::Text(s) => {
                out.extend_from_slice(b",\"value\":");
                write_json_string(out, s);
            }
        }
        out.push(b'}');
    }

    /// The entry as a JSON text (see `write_json`).
    pub fn to_json_text(&self) -> String {
        let mut out = Vec::with_capacity(48);
        self.write_json(&mut out);
        String::from_utf8(out).expect("JSON written from strings is UTF-8")
    }
}

/// serde_json's own number text (what `Json::from(n)` / `Number::from_f64` give).
fn write_json_i64(out: &mut Vec<u8>, n: i64) {
    serde_json::to_writer(out, &n).expect("writing to a Vec cannot fail");
}

fn write_json_f64(out: &mut Vec<u8>, n: f64) {
    serde_json::to_writer(out, &n).expect("writing to a Vec cannot fail");
}

fn write_json_string(out: &mut Vec<u8>, s: &str) {
    serde_json::to_writer(out, s).expect("writing to a Vec cannot fail");
}

fn named<'a>(row: &'a [(&'static Column, Value)], name: &str) -> Option<&'a (&'static Column, Value)> {
    row.iter().find(|(c, _)| c.name == name)
}

fn invalid(column: &'static str, message: impl Into<String>) -> ValueError {
    ValueError { column, kind: ValueErrorKind::Invalid, message: message.into() }
}

fn required_text(row: &[(&'static Column, Value)], name: &'static str) -> Result<String, ValueError> {
    match named(row, name) {
        Some((c, Value::Text(s))) => {
            check_text(c, s)?;
            Ok(s.clone())
        }
        _ => Err(ValueError {
            column: name,
            kind: ValueErrorKind::Required,
            message: "must not be NULL: it names where the row goes".into(),
        }),
    }
}

/// The series a datapoint or sequence row belongs to: `id` or `external_id`, exactly one.
fn series_ref(row: &[(&'static Column, Value)]) -> Result<SeriesRef, ValueError> {
    let id = named(row, "id").map(|(_, v)| v).filter(|v| !v.is_null());
    let xid = named(row, "external_id").map(|(_, v)| v).filter(|v| !v.is_null());
    let ispace = named(row, "instance_space").map(|(_, v)| v).filter(|v| !v.is_null());
    let ixid = named(row, "instance_external_id").map(|(_, v)| v).filter(|v| !v.is_null());
    if ispace.is_some() || ixid.is_some() {
        return match (ispace, ixid, id.or(xid)) {
            (_, _, Some(_)) => Err(invalid(
                "instance_external_id",
                "give the series either as id, external_id or instance_space + instance_external_id, not several",
            )),
            (Some(Value::Text(s)), Some(Value::Text(x)), None) if !s.is_empty() && !x.is_empty() => {
                Ok(SeriesRef::InstanceId { space: s.clone(), external_id: x.clone() })
            }
            (None, _, None) => Err(ValueError {
                column: "instance_space",
                kind: ValueErrorKind::Required,
                message: "must not be NULL when instance_external_id is given: an instance id has both".into(),
            }),
            _ => Err(ValueError {
                column: "instance_external_id",
                kind: ValueErrorKind::Required,
                message: "must not be NULL or empty when instance_space is given: an instance id has both".into(),
            }),
        };
    }
    match (id, xid) {
        (Some(Value::Int(i)), None) => Ok(SeriesRef::Id(*i)),
        (None, Some(Value::Text(x))) => {
            let (c, _) = named(row, "external_id").expect("bound");
            check_text(c, x)?;
            Ok(SeriesRef::ExternalId(x.clone()))
        }
        (Some(_), Some(_)) => Err(invalid("external_id", "give either id or external_id of the series, not both")),
        _ => Err(ValueError {
            column: "external_id",
            kind: ValueErrorKind::Required,
            message: "must not be NULL when id is NULL: each row needs its series' id or external_id".into(),
        }),
    }
}

/// The point of a datapoint row, checked as `row_to_item` checks an item (the common value
/// types converted directly; anything else goes through `value_to_json`, whose errors it keeps).
fn datapoint_row(row: &[(&'static Column, Value)]) -> Result<DatapointRow, ValueError> {
    let mut point = DatapointRow { timestamp: 0, value: PointValue::Missing, status: None };
    let mut has_timestamp = false;
    for (column, value) in row {
        if value.is_null() || column.field == Field::Address {
            continue;
        }
        if column.access == Access::ReadOnly {
            return row_to_item(&[(column, value.clone())]).map(|_| unreachable!("a read-only column is refused"));
        }
        match (column.field, value) {
            (Field::Json("timestamp"), Value::Timestamp(micros)) => {
                point.timestamp = timestamp_to_ms(column, *micros)?;
                has_timestamp = true;
            }
            (Field::Json("value"), Value::Double(d)) if d.is_finite() && column.ty == ColumnType::Double => {
                point.value = PointValue::Double(*d);
            }
            (Field::Json("value"), Value::Text(s)) if column.ty != ColumnType::Double => {
                check_text(column, s)?;
                point.value = PointValue::Text(s.clone());
            }
            (Field::Nested("status", "code"), Value::Int(code)) => {
                point.status.get_or_insert_with(WriteStatus::default).code = Some(*code);
            }
            (Field::Nested("status", "symbol"), Value::Text(s)) => {
                check_text(column, s)?;
                point.status.get_or_insert_with(WriteStatus::default).symbol = Some(s.clone());
            }
            _ => match (column.field, value_to_json(column, value)?) {
                (Field::Json("timestamp"), json) => {
                    point.timestamp = json.as_i64().unwrap_or_default();
                    has_timestamp = true;
                }
                (Field::Json("value"), Json::Number(n)) => point.value = PointValue::Double(n.as_f64().unwrap_or(0.0)),
                (Field::Json("value"), Json::String(s)) => point.value = PointValue::Text(s),
                (Field::Nested("status", "code"), json) => {
                    point.status.get_or_insert_with(WriteStatus::default).code = json.as_i64();
                }
                (Field::Nested("status", "symbol"), Json::String(s)) => {
                    point.status.get_or_insert_with(WriteStatus::default).symbol = Some(s);
                }
                (field, json) => unreachable!("datapoint column {} ({field:?}) gave {json}", column.name),
            },
        }
    }
    if !has_timestamp {
        // The NULL timestamp: row_to_item words that error.
        return row_to_item(row).map(|_| unreachable!("a datapoint row without a timestamp is refused"));
    }
    Ok(point)
}

/// Converts one bound row of `resource` into what its writer sends.
pub fn row_to_write(resource: &Resource, row: &[(&'static Column, Value)]) -> Result<WriteRow, ValueError> {
    match resource.write {
        WriteKind::Items { .. } | WriteKind::File | WriteKind::RawDatabases => Ok(WriteRow::Item(row_to_item(row)?)),
        WriteKind::RawTables => {
            let database = required_text(row, "_raw_database")?;
            let table = row_to_item(row)?;
            Ok(WriteRow::RawTable { database, table })
        }
        WriteKind::RawRows => {
            let database = required_text(row, "_raw_database")?;
            let table = required_text(row, "_raw_table")?;
            let mut item = row_to_item(row)?;
            match item.get("columns") {
                Some(Json::Object(_)) => {}
                Some(other) => {
                    return Err(invalid("_raw_columns", format!("must be a JSON object of column values, got {other}")))
                }
                None => {
                    item.insert("columns".into(), Json::Object(Map::new()));
                }
            }
            Ok(WriteRow::RawRow { database, table, row: item })
        }
        WriteKind::Datapoints { is_string } => {
            let series = series_ref(row)?;
            let point = datapoint_row(row)?;
            let bad_status = point.status.as_ref().is_some_and(WriteStatus::is_bad);
            match point.value {
                PointValue::Missing if !bad_status => {
                    return Err(ValueError {
                        column: "value",
                        kind: ValueErrorKind::Required,
                        message: "must not be NULL unless the status code marks the point as bad".into(),
                    })
                }
                PointValue::Double(v) if !is_string && v.abs() > MAX_DATAPOINT_MAGNITUDE && !bad_status => {
                    return Err(invalid("value", format!("{v:e} is outside CDF's range [-1e100, 1e100]")));
                }
                _ => {}
            }
            Ok(WriteRow::Datapoint { series, point })
        }
        WriteKind::SequenceRows => {
            let sequence = series_ref(row)?;
            let item = row_to_item(row)?;
            let row_number = item.get("rowNumber").and_then(|n| n.as_i64()).unwrap_or(-1);
            if row_number < 0 {
                return Err(invalid("row_number", format!("{row_number} is not a valid row number (0 or more)")));
            }
            let values = match item.get("values") {
                Some(Json::Object(m)) if !m.is_empty() => m.clone(),
                other => {
                    return Err(invalid(
                        "values",
                        format!(
                            "must be a JSON object of values by column external id, e.g. {{\"depth\": 1.5}}, got {}",
                            other.map(|v| v.to_string()).unwrap_or_else(|| "NULL".into())
                        ),
                    ))
                }
            };
            if values.values().all(Json::is_null) {
                // CDF rejects a row without a value (cognite-sdk-python's insert_dataframe drops
                // such rows for that reason); said here, naming the row, not as a late 400.
                return Err(invalid(
                    "values",
                    format!(
                        "every value is null (row_number {row_number}), and CDF rejects a sequence row \
                         without a value; leave the row out, or DELETE it to remove the row"
                    ),
                ));
            }
            Ok(WriteRow::SequenceRow { sequence, row_number, values })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::resource;
    use serde_json::json;

    fn bind(table: &str, pairs: Vec<(&str, Value)>) -> (&'static Resource, Vec<(&'static Column, Value)>) {
        let r = resource(table).unwrap();
        (r, pairs.into_iter().map(|(n, v)| (r.column(n).unwrap(), v)).collect())
    }

    #[test]
    fn datapoint_rows_group_by_series() {
        let (r, row) = bind(
            "double_datapoints",
            vec![
                ("external_id", Value::Text("temp".into())),
                ("timestamp", Value::Timestamp(1_000_000)),
                ("value", Value::Double(21.5)),
            ],
        );
        assert_eq!(
            row_to_write(r, &row).unwrap(),
            WriteRow::Datapoint {
                series: SeriesRef::ExternalId("temp".into()),
                point: DatapointRow { timestamp: 1000, value: PointValue::Double(21.5), status: None }
            }
        );
    }

    fn entry_of(table: &str, pairs: Vec<(&str, Value)>) -> Result<(String, String), ValueError> {
        let (r, row) = bind(table, pairs);
        let WriteRow::Datapoint { point, .. } = row_to_write(r, &row)? else { panic!("a datapoint") };
        // What the writer sent before: the point as a serde_json object.
        Ok((point.to_json_text(), Json::Object(row_to_item(&row).unwrap()).to_string()))
    }

    #[test]
    fn datapoint_entries_are_the_json_serde_json_writes() {
        let mut values = vec![0.0, -0.0, 1.0, 0.1, 1.0 / 3.0, -2.5e-300, 1e100, -1e100, 123456789.0, 1e21, 5e-324];
        // Numbers whose shortest text varies in length and exponent.
        let mut x = 0.7131_f64;
        for i in 0..2000 {
            x = (x * 7919.0 + i as f64).sin() * 10f64.powi(i % 41 - 20);
            values.push(x);
        }
        for v in values {
            let (entry, before) = entry_of(
                "double_datapoints",
                vec![
                    ("external_id", Value::Text("s".into())),
                    ("timestamp", Value::Timestamp(-86_400_000_000 + 1000)),
                    ("value", Value::Double(v)),
                ],
            )
            .unwrap();
            assert_eq!(entry, before, "{v:e}");
        }
        let (entry, before) = entry_of(
            "double_datapoints",
            vec![("id", Value::Int(7)), ("timestamp", Value::Timestamp(2_000)), ("value", Value::Int(42))],
        )
        .unwrap();
        assert_eq!(
            (entry.as_str(), before.as_str()),
            (r#"{"timestamp":2,"value":42.0}"#, r#"{"timestamp":2,"value":42.0}"#)
        );
    }

    #[test]
    fn datapoint_entries_escape_text_and_carry_statuses() {
        let cases = vec![
            vec![("status_code", Value::Int(2_147_483_648)), ("value", Value::Null)],
            vec![("status_symbol", Value::Text("Uncertain".into())), ("value", Value::Text("a\"b\\c\n\u{1}é".into()))],
            vec![("status_code", Value::Int(1_073_741_824)), ("status_symbol", Value::Text("Uncertain".into()))],
            vec![("value", Value::Text(String::new()))],
        ];
        let mut entries = Vec::new();
        for extra in cases {
            let mut pairs = vec![("external_id", Value::Text("x\"y".into())), ("timestamp", Value::Timestamp(5_000))];
            pairs.extend(extra);
            if !pairs.iter().any(|(n, _)| *n == "value") {
                pairs.push(("value", Value::Text("v".into())));
            }
            let (entry, before) = entry_of("string_datapoints", pairs).unwrap();
            assert_eq!(entry, before);
            entries.push(entry);
        }
        assert_eq!(
            entries,
            [
                r#"{"status":{"code":2147483648},"timestamp":5}"#,
                r#"{"status":{"symbol":"Uncertain"},"timestamp":5,"value":"a\"b\\c\n\u0001é"}"#,
                r#"{"status":{"code":1073741824,"symbol":"Uncertain"},"timestamp":5,"value":"v"}"#,
                r#"{"timestamp":5,"value":""}"#,
            ]
        );
    }

    #[test]
    fn datapoint_rows_refuse_what_cdf_cannot_store() {
        let row = |value: Value| {
            vec![("external_id", Value::Text("s".into())), ("timestamp", Value::Timestamp(0)), ("value", value)]
        };
        for (v, shown) in [(f64::NAN, "NaN"), (f64::INFINITY, "Infinity"), (f64::NEG_INFINITY, "-Infinity")] {
            let e = entry_of("double_datapoints", row(Value::Double(v))).unwrap_err();
            assert_eq!((e.column, e.kind), ("value", ValueErrorKind::Invalid));
            assert!(e.message.contains(shown) && e.message.contains("not a number CDF can store"), "{}", e.message);
        }
        let e = entry_of("double_datapoints", row(Value::Text("1.5".into()))).unwrap_err();
        assert!(e.message.contains("cannot be stored in a DOUBLE PRECISION column"), "{}", e.message);
        let e = entry_of("string_datapoints", row(Value::Text("é".repeat(256)))).unwrap_err();
        assert_eq!((e.column, e.kind), ("value", ValueErrorKind::TooLong));
        let e = entry_of(
            "double_datapoints",
            vec![("external_id", Value::Text("s".into())), ("timestamp", Value::Null), ("value", Value::Double(1.0))],
        )
        .unwrap_err();
        assert_eq!((e.column, e.kind), ("timestamp", ValueErrorKind::Required));
        assert_eq!(e.message, "must not be NULL: CDF requires it");
        let e = entry_of(
            "double_datapoints",
            vec![("external_id", Value::Text("s".repeat(256))), ("timestamp", Value::Timestamp(0))],
        )
        .unwrap_err();
        assert_eq!((e.column, e.kind), ("external_id", ValueErrorKind::TooLong));
        let (r, row) = bind(
            "double_datapoints",
            vec![
                ("instance_space", Value::Text("sp".into())),
                ("instance_external_id", Value::Text("n".into())),
                ("timestamp", Value::Timestamp(0)),
                ("value", Value::Double(1.0)),
            ],
        );
        assert!(matches!(
            row_to_write(r, &row).unwrap(),
            WriteRow::Datapoint { series: SeriesRef::InstanceId { .. }, .. }
        ));
    }

    #[test]
    fn datapoints_need_exactly_one_series_identity() {
        let (r, row) =
            bind("double_datapoints", vec![("timestamp", Value::Timestamp(0)), ("value", Value::Double(1.0))]);
        assert_eq!(row_to_write(r, &row).unwrap_err().kind, ValueErrorKind::Required);
        let (r, row) = bind(
            "double_datapoints",
            vec![
                ("id", Value::Int(1)),
                ("external_id", Value::Text("x".into())),
                ("timestamp", Value::Timestamp(0)),
                ("value", Value::Double(1.0)),
            ],
        );
        assert!(row_to_write(r, &row).unwrap_err().message.contains("not both"));
    }

    #[test]
    fn datapoint_values_are_range_checked_unless_bad() {
        let (r, row) = bind(
            "double_datapoints",
            vec![("id", Value::Int(1)), ("timestamp", Value::Timestamp(0)), ("value", Value::Double(2e100))],
        );
        assert!(row_to_write(r, &row).unwrap_err().message.contains("outside CDF's range"));
        let (r, row) = bind(
            "double_datapoints",
            vec![("id", Value::Int(1)), ("timestamp", Value::Timestamp(0)), ("value", Value::Null)],
        );
        assert_eq!(row_to_write(r, &row).unwrap_err().column, "value");
        let (r, row) = bind(
            "double_datapoints",
            vec![
                ("id", Value::Int(1)),
                ("timestamp", Value::Timestamp(0)),
                ("value", Value::Null),
                ("status_code", Value::Int(2_147_483_648)),
            ],
        );
        assert!(row_to_write(r, &row).is_ok(), "a bad point may have no value");
    }

    #[test]
    fn raw_rows_carry_their_address_and_an_object_of_columns() {
        let (r, row) = bind(
            "raw_rows",
            vec![
                ("_raw_database", Value::Text("db".into())),
                ("_raw_table", Value::Text("t".into())),
                ("_raw_key", Value::Text("k1".into())),
                ("_raw_columns", Value::Json(json!({"a": 1, "b": [true]}))),
            ],
        );
        assert_eq!(
            row_to_write(r, &row).unwrap(),
            WriteRow::RawRow {
                database: "db".into(),
                table: "t".into(),
                row: json!({"key": "k1", "columns": {"a": 1, "b": [true]}}).as_object().unwrap().clone()
            }
        );
        let (r, row) = bind(
            "raw_rows",
            vec![
                ("_raw_database", Value::Text("db".into())),
                ("_raw_table", Value::Text("t".into())),
                ("_raw_key", Value::Text("k".into())),
                ("_raw_columns", Value::Json(json!([1]))),
            ],
        );
        assert_eq!(row_to_write(r, &row).unwrap_err().column, "_raw_columns");
        let (r, row) = bind(
            "raw_rows",
            vec![
                ("_raw_database", Value::Text("d".repeat(33))),
                ("_raw_table", Value::Text("t".into())),
                ("_raw_key", Value::Text("k".into())),
            ],
        );
        assert_eq!(row_to_write(r, &row).unwrap_err().kind, ValueErrorKind::TooLong);
    }

    #[test]
    fn sequence_rows_take_values_by_column() {
        let (r, row) = bind(
            "sequence_rows",
            vec![
                ("external_id", Value::Text("s".into())),
                ("row_number", Value::Int(3)),
                ("values", Value::Json(json!({"depth": 1.5, "name": "x"}))),
            ],
        );
        match row_to_write(r, &row).unwrap() {
            WriteRow::SequenceRow { sequence, row_number, values } => {
                assert_eq!(sequence, SeriesRef::ExternalId("s".into()));
                assert_eq!(row_number, 3);
                assert_eq!(Json::Object(values), json!({"depth": 1.5, "name": "x"}));
            }
            other => panic!("{other:?}"),
        }
        let (r, row) = bind(
            "sequence_rows",
            vec![("id", Value::Int(1)), ("row_number", Value::Int(3)), ("values", Value::Json(json!([1.5])))],
        );
        assert!(row_to_write(r, &row).unwrap_err().message.contains("by column external id"));
        let (r, row) = bind(
            "sequence_rows",
            vec![
                ("id", Value::Int(1)),
                ("row_number", Value::Int(7)),
                ("values", Value::Json(json!({"depth": null, "name": null}))),
            ],
        );
        let e = row_to_write(r, &row).unwrap_err();
        assert!(e.message.contains("every value is null (row_number 7)"), "{}", e.message);
        let (r, row) = bind(
            "sequence_rows",
            vec![
                ("id", Value::Int(1)),
                ("row_number", Value::Int(7)),
                ("values", Value::Json(json!({"depth": null, "name": "x"}))),
            ],
        );
        assert!(row_to_write(r, &row).is_ok(), "one null among values clears that column");
    }
}
