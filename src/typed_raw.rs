//! Typed RAW tables in the pgrx layer (`cdf_tables::typed_raw` has the mapping): a slot becomes
//! a `raw_rows` row (database, table, key, columns) for the classic write path, and a RAW row
//! read through raw_rows becomes a slot of the declared types. Scans, modifies and the planner
//! treat the table as raw_rows otherwise (see `context::table_resource`).

use cdf_tables::typed_raw::TypedRawTable;
use cdf_tables::{Column, PushedQual, QualOp, Value, ValueError, ValueErrorKind};
use pgrx::pg_sys;
use pgrx::prelude::*;
use serde_json::{Map, Value as Json};

use crate::errors;
use crate::views::{datum_to_json, declared_columns, json_to_datum, ViewBinding};

/// The name under which raw_rows knows the row key (pushdown, identity of UPDATE/DELETE).
pub const KEY_COLUMN: &str = "_raw_key";

/// Whether a foreign table is a typed RAW table (options database, table, primary_key).
pub fn is_typed_raw(relid: pg_sys::Oid) -> bool {
    TypedRawTable::is_typed_raw(&crate::context::foreign_table(relid).options)
}

/// The primary-key column of a typed RAW table, when it is one.
pub fn primary_key(relid: pg_sys::Oid) -> Option<String> {
    let options = &crate::context::foreign_table(relid).options;
    TypedRawTable::is_typed_raw(options)
        .then(|| cdf_tables::options::get(options, "primary_key").unwrap_or_default().to_string())
}

/// The raw_rows column a condition on `column` of `relid` stands for: the primary key is the
/// RAW key; other columns live inside the row's JSON and are not pushed.
pub fn pushed_column(relid: pg_sys::Oid, column: &str) -> Option<&'static str> {
    (primary_key(relid)? == column).then_some(KEY_COLUMN)
}

/// A typed RAW table bound to its declared columns.
pub struct BoundTypedRaw {
    pub table: TypedRawTable,
    /// Parallel to `table.columns`.
    pub bindings: Vec<ViewBinding>,
    pub table_name: String,
}

fn raw_column(name: &str) -> &'static Column {
    cdf_tables::resource("raw_rows").and_then(|r| r.column(name)).expect("raw_rows has the RAW row columns")
}

/// Binds a typed RAW table's columns, with clear errors for a missing key and unreadable types.
pub unsafe fn bind(rel: pg_sys::Relation, table_name: &str) -> BoundTypedRaw {
    let options = &crate::context::foreign_table((*rel).rd_id).options;
    let (declared, bindings) = declared_columns(rel);
    let table = TypedRawTable::bind(table_name, options, &declared).unwrap_or_else(|e| {
        let code = if e.unknown_column {
            PgSqlErrorCode::ERRCODE_FDW_COLUMN_NAME_NOT_FOUND
        } else {
            PgSqlErrorCode::ERRCODE_FDW_INVALID_DATA_TYPE
        };
        errors::raise(code, e.message, Some(e.hint))
    });
    BoundTypedRaw { table, bindings, table_name: table_name.to_string() }
}

/// ValueError names columns by `&'static str`; a typed RAW table's columns are the catalog's.
fn leaked(name: &str) -> &'static str {
    Box::leak(name.to_string().into_boxed_str())
}

impl BoundTypedRaw {
    /// The `(_raw_database, _raw_table)` conditions every read of the table has.
    pub fn address_quals(&self) -> [PushedQual; 2] {
        [
            PushedQual {
                column: "_raw_database".into(),
                op: QualOp::Eq,
                value: Value::Text(self.table.database.clone()),
            },
            PushedQual { column: "_raw_table".into(), op: QualOp::Eq, value: Value::Text(self.table.table.clone()) },
        ]
    }

    /// A slot's row as the raw_rows row it is written as.
    pub unsafe fn slot_row(
        &self,
        slot: *mut pg_sys::TupleTableSlot,
    ) -> Result<Vec<(&'static Column, Value)>, ValueError> {
        pg_sys::slot_getallattrs(slot);
        let natts = (*slot).tts_nvalid as usize;
        let datums = std::slice::from_raw_parts((*slot).tts_values, natts);
        let nulls = std::slice::from_raw_parts((*slot).tts_isnull, natts);
        let mut values = Vec::with_capacity(self.bindings.len());
        for (b, c) in self.bindings.iter().zip(&self.table.columns) {
            if nulls[b.attidx] {
                values.push(None);
                continue;
            }
            let json = datum_to_json(datums[b.attidx], b.typoid).map_err(|message| ValueError {
                column: leaked(&c.name),
                kind: ValueErrorKind::Invalid,
                message,
            })?;
            values.push(Some(json));
        }
        self.row_of(&values)
    }

    /// `row_values` of the pgrx-free part: the key column's value as text, the rest as columns.
    fn row_of(&self, values: &[Option<Json>]) -> Result<Vec<(&'static Column, Value)>, ValueError> {
        let key_name = &self.table.columns[self.table.key].name;
        let key = values[self.table.key].as_ref().map(|k| match k {
            Json::String(s) => s.clone(),
            other => other.to_string(),
        });
        let key = self.table.check_key(key.as_deref()).map_err(|(kind, message)| ValueError {
            column: leaked(key_name),
            kind,
            message,
        })?;
        Ok(vec![
            (raw_column("_raw_database"), Value::Text(self.table.database.clone())),
            (raw_column("_raw_table"), Value::Text(self.table.table.clone())),
            (raw_column(KEY_COLUMN), Value::Text(key)),
            (raw_column("_raw_columns"), Value::Json(self.table.raw_columns(values))),
        ])
    }

    /// The identity (database, table, key) of UPDATE/DELETE from the key column's value.
    pub unsafe fn identity(&self, key: Option<(pg_sys::Datum, pg_sys::Oid)>) -> Vec<(&'static Column, Value)> {
        let key = key.and_then(|(d, t)| datum_to_json(d, t).ok()).map(|k| match k {
            Json::String(s) => s,
            other => other.to_string(),
        });
        vec![
            (raw_column("_raw_database"), Value::Text(self.table.database.clone())),
            (raw_column("_raw_table"), Value::Text(self.table.table.clone())),
            (raw_column(KEY_COLUMN), key.map(Value::Text).unwrap_or(Value::Null)),
        ]
    }

    /// Stores one RAW row (as raw_rows reads it: `key`, `columns`) as the slot's row; a value
    /// that does not fit its column is an error naming the row key and the column.
    pub unsafe fn store(&self, slot: *mut pg_sys::TupleTableSlot, row: &Map<String, Json>) {
        pg_sys::ExecClearTuple(slot);
        let natts = (*(*slot).tts_tupleDescriptor).natts as usize;
        let values = std::slice::from_raw_parts_mut((*slot).tts_values, natts);
        let nulls = std::slice::from_raw_parts_mut((*slot).tts_isnull, natts);
        nulls.fill(true);
        let key = row.get("key").and_then(Json::as_str).unwrap_or("").to_string();
        let row_values = self.table.row_values(row).unwrap_or_else(|(i, m)| self.raise_unfit(&key, i, &m));
        for (i, ((b, c), v)) in self.bindings.iter().zip(&self.table.columns).zip(row_values).enumerate() {
            let Some(v) = v else { continue };
            let binding = *b;
            let sql = c.sql;
            let datum = PgTryBuilder::new(move || json_to_datum(&v, &binding, sql))
                .catch_others(|e| {
                    let message = match &e {
                        pg_sys::panic::CaughtError::PostgresError(r) | pg_sys::panic::CaughtError::ErrorReport(r) => {
                            r.message().to_string()
                        }
                        pg_sys::panic::CaughtError::RustPanic { ereport, .. } => ereport.message().to_string(),
                    };
                    self.raise_unfit(&key, i, &message)
                })
                .execute();
            values[b.attidx] = datum;
            nulls[b.attidx] = false;
        }
        pg_sys::ExecStoreVirtualTuple(slot);
    }

    fn raise_unfit(&self, key: &str, column: usize, message: &str) -> ! {
        let c = &self.table.columns[column];
        errors::raise(
            PgSqlErrorCode::ERRCODE_FDW_INVALID_DATA_TYPE,
            format!(
                "RAW row \"{key}\" of {}/{} (typed RAW table \"{}\"): column \"{}\" ({}) cannot hold the RAW value: {message}",
                self.table.database,
                self.table.table,
                self.table_name,
                c.name,
                c.sql.sql()
            ),
            Some("Declare the column as jsonb (or text) to read any value, or correct the row in CDF.".into()),
        )
    }
}

/// A pushed condition's value on the key column as the RAW key text (an integer key column
/// compares as text in RAW).
pub fn key_value(value: Value) -> Value {
    match value {
        Value::Int(i) => Value::Text(i.to_string()),
        Value::IntArray(xs) => Value::TextArray(xs.into_iter().map(|x| x.map(|i| i.to_string())).collect()),
        other => other,
    }
}
