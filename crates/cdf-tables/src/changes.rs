//! UPDATE and DELETE: which columns identify a row of each table, and what a changed or deleted
//! row becomes in CDF's API.

use serde_json::{json, Map, Value as Json};

use crate::catalogue::{Access, Column, DeleteKind, Field, ItemRef, Resource, WriteKind};
use crate::mapping::{value_to_json, ValueError, ValueErrorKind};
use crate::value::Value;
use crate::writes::{row_to_write, SeriesRef, WriteRow};

/// One CDF operation caused by an updated or deleted row.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// `POST /{resource}/update` item: `{"id"|"externalId", "update": {...}}`.
    ItemUpdate(Json),
    /// `POST /{resource}/delete` item: `{"id"}` or `{"externalId"}`.
    ItemDelete(Json),
    /// `POST /timeseries/data/delete`: the one-millisecond range of a datapoint.
    DatapointDelete {
        series: SeriesRef,
        timestamp_ms: i64,
    },
    RawRowDelete {
        database: String,
        table: String,
        key: String,
    },
    SequenceRowDelete {
        sequence: SeriesRef,
        row_number: i64,
    },
    RawDatabaseDelete {
        name: String,
    },
    RawTableDelete {
        database: String,
        name: String,
    },
    /// Natural-upsert tables change a row by writing it again.
    Write(WriteRow),
}

/// The columns whose values identify a row of `resource`, chosen among the columns `present` in
/// the foreign table. `None` when the table lacks what is needed.
pub fn identity_columns(resource: &Resource, present: &[&str]) -> Option<Vec<&'static str>> {
    let has = |c: &str| present.contains(&c);
    let pick = |cols: &[&'static str]| cols.iter().all(|c| has(c)).then(|| cols.to_vec());
    let series = || {
        if has("id") && has("external_id") {
            Some(vec!["id", "external_id"])
        } else if has("id") {
            Some(vec!["id"])
        } else if has("external_id") {
            Some(vec!["external_id"])
        } else {
            None
        }
    };
    match resource.write {
        WriteKind::Items { .. } | WriteKind::File => {
            if resource.column("id").is_some() && has("id") {
                Some(vec!["id"])
            } else {
                pick(&["external_id"])
            }
        }
        WriteKind::Datapoints { .. } => series().map(|mut s| {
            s.push("timestamp");
            s
        }),
        WriteKind::SequenceRows => series().map(|mut s| {
            s.push("row_number");
            s
        }),
        WriteKind::RawRows => pick(&["_raw_database", "_raw_table", "_raw_key"]),
        WriteKind::RawTables => pick(&["_raw_database", "_raw_table"]),
        WriteKind::RawDatabases => pick(&["_raw_database"]),
    }
}

fn get<'a>(row: &'a [(&'static Column, Value)], name: &str) -> Option<&'a Value> {
    row.iter().find(|(c, _)| c.name == name).map(|(_, v)| v).filter(|v| !v.is_null())
}

fn missing_identity(column: &'static str) -> ValueError {
    ValueError {
        column,
        kind: ValueErrorKind::Required,
        message: "is NULL in a row being changed; the row cannot be identified in CDF".into(),
    }
}

fn text(row: &[(&'static Column, Value)], name: &'static str) -> Result<String, ValueError> {
    match get(row, name) {
        Some(Value::Text(s)) => Ok(s.clone()),
        _ => Err(missing_identity(name)),
    }
}

fn int(row: &[(&'static Column, Value)], name: &'static str) -> Result<i64, ValueError> {
    match get(row, name) {
        Some(Value::Int(i)) => Ok(*i),
        _ => Err(missing_identity(name)),
    }
}

/// The series (or sequence) of a row: its id when known, else its external id.
fn series(row: &[(&'static Column, Value)]) -> Result<SeriesRef, ValueError> {
    match (get(row, "id"), get(row, "external_id"), get(row, "instance_space"), get(row, "instance_external_id")) {
        (Some(Value::Int(i)), ..) => Ok(SeriesRef::Id(*i)),
        (_, Some(Value::Text(x)), ..) => Ok(SeriesRef::ExternalId(x.clone())),
        (_, _, Some(Value::Text(s)), Some(Value::Text(x))) => {
            Ok(SeriesRef::InstanceId { space: s.clone(), external_id: x.clone() })
        }
        _ => Err(missing_identity("external_id")),
    }
}

fn timestamp_ms(row: &[(&'static Column, Value)]) -> Result<i64, ValueError> {
    match get(row, "timestamp") {
        Some(Value::Timestamp(micros)) => Ok(micros.div_euclid(1000)),
        _ => Err(missing_identity("timestamp")),
    }
}

/// The object an items-style row refers to: `{"id": n}` or `{"externalId": "x"}`.
fn object_ref(row: &[(&'static Column, Value)]) -> Result<Map<String, Json>, ValueError> {
    let mut m = Map::new();
    match (get(row, "id"), get(row, "external_id")) {
        (Some(Value::Int(i)), _) => m.insert("id".into(), json!(i)),
        (_, Some(Value::Text(x))) => m.insert("externalId".into(), json!(x)),
        _ => return Err(missing_identity("id")),
    };
    Ok(m)
}

/// What deleting a row does, given the row's identity columns.
pub fn delete_change(resource: &Resource, identity: &[(&'static Column, Value)]) -> Result<Change, ValueError> {
    Ok(match resource.write {
        WriteKind::Items { .. } | WriteKind::File => match resource.delete {
            DeleteKind::Items { by: ItemRef::ExternalId, .. } => {
                Change::ItemDelete(json!({ "externalId": text(identity, "external_id")? }))
            }
            _ => Change::ItemDelete(Json::Object(object_ref(identity)?)),
        },
        WriteKind::Datapoints { .. } => {
            Change::DatapointDelete { series: series(identity)?, timestamp_ms: timestamp_ms(identity)? }
        }
        WriteKind::SequenceRows => {
            Change::SequenceRowDelete { sequence: series(identity)?, row_number: int(identity, "row_number")? }
        }
        WriteKind::RawRows => Change::RawRowDelete {
            database: text(identity, "_raw_database")?,
            table: text(identity, "_raw_table")?,
            key: text(identity, "_raw_key")?,
        },
        WriteKind::RawTables => {
            Change::RawTableDelete { database: text(identity, "_raw_database")?, name: text(identity, "_raw_table")? }
        }
        WriteKind::RawDatabases => Change::RawDatabaseDelete { name: text(identity, "_raw_database")? },
    })
}

/// The `/update` operation that clears a field. Lists and maps have no setNull in CDF:
/// clearing them is setting them empty.
pub fn clear_op(column: &Column) -> Json {
    match column.ty {
        crate::ColumnType::BigIntArray | crate::ColumnType::TextArray
            if !matches!(column.field, Field::SingleFromArray(_)) =>
        {
            json!({"set": []})
        }
        _ if column.metadata_limits.is_some() || column.name == "metadata" => json!({"set": {}}),
        _ => json!({"setNull": true}),
    }
}

/// What a row of an INSERT with insert_mode 'update' does: an `/update` of the object its id
/// (else external id) names, setting the row's other columns; NULLs leave CDF's value unless
/// `clear_nulls`, when they clear it.
pub fn insert_update_change(
    resource: &Resource,
    row: &[(&'static Column, Value)],
    clear_nulls: bool,
) -> Result<Change, ValueError> {
    let by_id = get(row, "id").is_some();
    let identity: Vec<(&'static Column, Value)> =
        row.iter().filter(|(c, _)| if by_id { c.name == "id" } else { c.name == "external_id" }).cloned().collect();
    let updated: Vec<&str> = row
        .iter()
        .filter(|(c, _)| c.name != identity.first().map_or("", |(ic, _)| ic.name))
        // References by external id are resolved and placed by the caller.
        .filter(|(c, _)| !matches!(c.field, Field::ExternalIdRef(_)))
        // Under clear, a NULL in a required column is refused by update_changes, not kept silently.
        .filter(|(c, v)| !v.is_null() || (clear_nulls && c.access != Access::ReadOnly && !c.create_only && !c.set_only))
        .map(|(c, _)| c.name)
        .collect();
    let mut changes = update_changes(resource, &identity, row, &updated)?;
    Ok(changes.remove(0))
}

/// What updating a row does. `old` holds the identity columns as they were, `new` the whole new
/// row, `updated` the names of the columns the UPDATE sets.
pub fn update_changes(
    resource: &Resource,
    old: &[(&'static Column, Value)],
    new: &[(&'static Column, Value)],
    updated: &[&str],
) -> Result<Vec<Change>, ValueError> {
    match resource.write {
        WriteKind::Items { .. } | WriteKind::File => {
            let mut update = Map::new();
            for (column, value) in new.iter().filter(|(c, _)| updated.contains(&c.name)) {
                if column.access == Access::ReadOnly {
                    return Err(ValueError {
                        column: column.name,
                        kind: ValueErrorKind::ReadOnly,
                        message: "is assigned by CDF and cannot be updated".into(),
                    });
                }
                let (field, op) = match (column.field, value) {
                    (Field::Json(f) | Field::LabelRefs(f) | Field::SingleFromArray(f), Value::Null) => {
                        if column.access == Access::Required {
                            return Err(ValueError {
                                column: column.name,
                                kind: ValueErrorKind::Required,
                                message: "must not be NULL: CDF requires it".into(),
                            });
                        }
                        (f, clear_op(column))
                    }
                    (Field::Json(f), v) => (f, json!({ "set": value_to_json(column, v)? })),
                    (Field::LabelRefs(f), v) => {
                        let refs: Vec<Json> = match value_to_json(column, v)? {
                            Json::Array(xs) => xs.into_iter().map(|x| json!({ "externalId": x })).collect(),
                            _ => Vec::new(),
                        };
                        (f, json!({ "set": refs }))
                    }
                    (Field::SingleFromArray(f), v) => match value_to_json(column, v)? {
                        Json::Array(mut xs) if xs.len() <= 1 => match xs.pop() {
                            Some(x) => (f, json!({ "set": x })),
                            None => (f, json!({ "setNull": true })),
                        },
                        _ => {
                            return Err(ValueError {
                                column: column.name,
                                kind: ValueErrorKind::Invalid,
                                message: "CDF holds at most one id here".into(),
                            })
                        }
                    },
                    (Field::Nested(..) | Field::Address, _) => continue,
                    (Field::ExternalIdRef(r), _) => {
                        return Err(ValueError {
                            column: column.name,
                            kind: ValueErrorKind::Invalid,
                            message: format!("UPDATE cannot set it; set {} instead", r.id_column),
                        })
                    }
                };
                update.insert(field.to_string(), op);
            }
            let mut item = object_ref(old)?;
            item.insert("update".into(), Json::Object(update));
            Ok(vec![Change::ItemUpdate(Json::Object(item))])
        }
        WriteKind::Datapoints { .. } | WriteKind::SequenceRows | WriteKind::RawRows => {
            // The new row comes from the scan: drop what CDF assigns, and name the series once
            // (by id, unless the UPDATE changed the external id to move the row).
            let drop_column =
                if updated.contains(&"external_id") && !updated.contains(&"id") { "id" } else { "external_id" };
            let has_id = get(new, "id").is_some();
            let new: Vec<(&'static Column, Value)> = new
                .iter()
                .filter(|(c, _)| c.access != Access::ReadOnly)
                .filter(|(c, _)| !(has_id && get(new, "external_id").is_some() && c.name == drop_column))
                .cloned()
                .collect();
            let new = new.as_slice();
            let old_delete = delete_change(resource, old)?;
            let new_write = row_to_write(resource, new)?;
            let new_delete = delete_change(resource, new)?;
            // Writing the new row overwrites the old one when the key stays; a moved key needs
            // the old row deleted.
            let mut changes = Vec::new();
            if old_delete != new_delete {
                changes.push(old_delete);
            }
            changes.push(Change::Write(new_write));
            Ok(changes)
        }
        WriteKind::RawDatabases | WriteKind::RawTables => Err(ValueError {
            column: resource.columns[0].name,
            kind: ValueErrorKind::Invalid,
            message: "RAW databases and tables cannot be renamed".into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::resource;

    fn bind(table: &str, pairs: Vec<(&str, Value)>) -> Vec<(&'static Column, Value)> {
        let r = resource(table).unwrap();
        pairs.into_iter().map(|(n, v)| (r.column(n).unwrap(), v)).collect()
    }

    #[test]
    fn identity_prefers_ids_and_needs_the_key_columns() {
        let assets = resource("assets").unwrap();
        assert_eq!(identity_columns(assets, &["id", "external_id", "name"]), Some(vec!["id"]));
        assert_eq!(identity_columns(assets, &["external_id", "name"]), Some(vec!["external_id"]));
        assert_eq!(identity_columns(assets, &["name"]), None);
        let raw = resource("raw_rows").unwrap();
        assert_eq!(identity_columns(raw, &["_raw_database", "_raw_table", "_raw_key"]).unwrap().len(), 3);
        assert_eq!(identity_columns(raw, &["_raw_database", "_raw_key"]), None);
        let dps = resource("double_datapoints").unwrap();
        assert_eq!(
            identity_columns(dps, &["external_id", "timestamp", "value"]),
            Some(vec!["external_id", "timestamp"])
        );
    }

    #[test]
    fn item_updates_set_and_clear_only_the_updated_columns() {
        let r = resource("assets").unwrap();
        let old = bind("assets", vec![("id", Value::Int(7))]);
        let new = bind(
            "assets",
            vec![
                ("id", Value::Int(7)),
                ("name", Value::Text("same".into())),
                ("description", Value::Null),
                ("labels", Value::Null),
                ("metadata", Value::Json(json!({"a": "b"}))),
            ],
        );
        let changes = update_changes(r, &old, &new, &["description", "labels", "metadata"]).unwrap();
        assert_eq!(
            changes,
            vec![Change::ItemUpdate(json!({"id": 7, "update": {
                "description": {"setNull": true}, "labels": {"set": []}, "metadata": {"set": {"a": "b"}}}}))]
        );
        let e = update_changes(r, &old, &new, &["id"]).unwrap_err();
        assert_eq!(e.kind, ValueErrorKind::ReadOnly);
        let e = update_changes(r, &old, &bind("assets", vec![("name", Value::Null)]), &["name"]).unwrap_err();
        assert_eq!(e.kind, ValueErrorKind::Required);
    }

    #[test]
    fn moving_a_datapoint_deletes_the_old_one() {
        let r = resource("double_datapoints").unwrap();
        let old = bind(
            "double_datapoints",
            vec![("external_id", Value::Text("s".into())), ("timestamp", Value::Timestamp(1_000_000))],
        );
        let same = bind(
            "double_datapoints",
            vec![
                ("external_id", Value::Text("s".into())),
                ("timestamp", Value::Timestamp(1_000_000)),
                ("value", Value::Double(2.0)),
            ],
        );
        let changes = update_changes(r, &old, &same, &["value"]).unwrap();
        assert_eq!(changes.len(), 1, "same key: overwrite only");
        let moved = bind(
            "double_datapoints",
            vec![
                ("external_id", Value::Text("s".into())),
                ("timestamp", Value::Timestamp(2_000_000)),
                ("value", Value::Double(2.0)),
            ],
        );
        let changes = update_changes(r, &old, &moved, &["timestamp"]).unwrap();
        assert_eq!(
            changes[0],
            Change::DatapointDelete { series: SeriesRef::ExternalId("s".into()), timestamp_ms: 1000 }
        );
        assert!(matches!(changes[1], Change::Write(WriteRow::Datapoint { .. })));
    }

    #[test]
    fn rewritten_rows_name_their_series_once_and_skip_assigned_columns() {
        let r = resource("raw_rows").unwrap();
        let id = vec![
            ("_raw_database", Value::Text("d".into())),
            ("_raw_table", Value::Text("t".into())),
            ("_raw_key", Value::Text("k".into())),
        ];
        let old = bind("raw_rows", id.clone());
        let mut new_pairs = id;
        new_pairs.push(("_raw_columns", Value::Json(json!({"a": 1}))));
        new_pairs.push(("_raw_last_updated_time", Value::Timestamp(5_000)));
        let changes = update_changes(r, &old, &bind("raw_rows", new_pairs), &["_raw_columns"]).unwrap();
        assert!(matches!(&changes[..], [Change::Write(WriteRow::RawRow { .. })]));
        let dps = resource("double_datapoints").unwrap();
        let both = vec![
            ("id", Value::Int(3)),
            ("external_id", Value::Text("s".into())),
            ("timestamp", Value::Timestamp(1000)),
            ("value", Value::Double(1.0)),
        ];
        let changes =
            update_changes(dps, &bind("double_datapoints", both.clone()), &bind("double_datapoints", both), &["value"])
                .unwrap();
        assert!(matches!(&changes[..], [Change::Write(WriteRow::Datapoint { series: SeriesRef::Id(3), .. })]));
    }

    #[test]
    fn deletes_name_what_the_api_wants() {
        let raw = resource("raw_rows").unwrap();
        let id = bind(
            "raw_rows",
            vec![
                ("_raw_database", Value::Text("d".into())),
                ("_raw_table", Value::Text("t".into())),
                ("_raw_key", Value::Text("k".into())),
            ],
        );
        assert_eq!(
            delete_change(raw, &id).unwrap(),
            Change::RawRowDelete { database: "d".into(), table: "t".into(), key: "k".into() }
        );
        let labels = resource("labels").unwrap();
        let id = bind("labels", vec![("external_id", Value::Text("l".into()))]);
        assert_eq!(delete_change(labels, &id).unwrap(), Change::ItemDelete(json!({"externalId": "l"})));
        let assets = resource("assets").unwrap();
        assert_eq!(
            delete_change(assets, &bind("assets", vec![("id", Value::Null)])).unwrap_err().kind,
            ValueErrorKind::Required
        );
    }

    #[test]
    fn insert_mode_update_names_the_object_and_sets_or_clears() {
        let r = crate::catalogue::resource("assets").unwrap();
        let c = |n: &str| r.column(n).unwrap();
        let row = vec![
            (c("external_id"), Value::Text("a".into())),
            (c("description"), Value::Null),
            (c("name"), Value::Text("A".into())),
            (c("parent_external_id"), Value::Null),
            (c("data_set_external_id"), Value::Text("ds".into())),
        ];
        let Change::ItemUpdate(keep) = insert_update_change(r, &row, false).unwrap() else { panic!() };
        assert_eq!(keep, json!({"externalId": "a", "update": {"name": {"set": "A"}}}));
        let Change::ItemUpdate(clear) = insert_update_change(r, &row, true).unwrap() else { panic!() };
        assert_eq!(
            clear,
            json!({"externalId": "a", "update": {"name": {"set": "A"}, "description": {"setNull": true}}}),
            "a parent cannot be cleared; references are placed by the caller"
        );
        let by_id = vec![(c("id"), Value::Int(7)), (c("external_id"), Value::Text("new".into()))];
        let Change::ItemUpdate(rename) = insert_update_change(r, &by_id, false).unwrap() else { panic!() };
        assert_eq!(rename, json!({"id": 7, "update": {"externalId": {"set": "new"}}}));
        let nameless = vec![(c("external_id"), Value::Text("a".into())), (c("name"), Value::Null)];
        assert_eq!(insert_update_change(r, &nameless, true).unwrap_err().kind, ValueErrorKind::Required);
    }
}
