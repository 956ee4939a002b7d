//! What one row of a table becomes when it is written: an item for the asset-centric APIs, or a
//! keyed entry for the APIs that group rows (datapoints, sequence rows, RAW).

use serde_json::{Map, Value as Json};

use crate::catalogue::{Column, Resource, WriteKind};
use crate::mapping::{row_to_item, value_to_json, ValueError, ValueErrorKind, MAX_DATAPOINT_MAGNITUDE};
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
    /// A datapoint `{"timestamp", "value", "status"?}` of a series.
    Datapoint { series: SeriesRef, point: Map<String, Json> },
    /// A sequence row: its number and its values by column external id.
    SequenceRow { sequence: SeriesRef, row_number: i64, values: Map<String, Json> },
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
            value_to_json(c, &Value::Text(s.clone()))?;
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
        (None, Some(value @ Value::Text(x))) => {
            let (c, _) = named(row, "external_id").expect("bound");
            value_to_json(c, value)?;
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
            let point = row_to_item(row)?;
            let bad_status = point
                .get("status")
                .and_then(|s| s.get("code"))
                .and_then(|c| c.as_i64())
                .is_some_and(|code| (code as u64 >> 30) == 2);
            match point.get("value") {
                None if !bad_status => {
                    return Err(ValueError {
                        column: "value",
                        kind: ValueErrorKind::Required,
                        message: "must not be NULL unless the status code marks the point as bad".into(),
                    })
                }
                Some(Json::Number(n)) if !is_string => {
                    let v = n.as_f64().unwrap_or(0.0);
                    if v.abs() > MAX_DATAPOINT_MAGNITUDE && !bad_status {
                        return Err(invalid("value", format!("{v:e} is outside CDF's range [-1e100, 1e100]")));
                    }
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
                point: json!({"timestamp": 1000, "value": 21.5}).as_object().unwrap().clone()
            }
        );
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
