//! Typed RAW tables: a foreign table with declared columns over one RAW table
//! (`OPTIONS (database '...', table '...', primary_key 'title')`).
//!
//! Each PostgreSQL row is one RAW row: the primary-key column is the row key, every other
//! non-NULL column a RAW column holding the JSON of its value (numbers, booleans, strings, ISO
//! timestamps, `YYYY-MM-DD` dates, arrays, JSON as is). Reads turn the RAW columns back into
//! the declared types and name row key and column when a value does not fit. The requests are
//! those of `raw_rows` (the catalogue's RAW resource): the pgrx layer rewrites a typed row into
//! a `raw_rows` row (`_raw_database`, `_raw_table`, `_raw_key`, `_raw_columns`), so writes,
//! COPY, pushdown of the key, UPDATE and DELETE share raw_rows' path.
//!
//! There is no generated key: an ETL that re-runs must upsert the same rows, which only a key
//! taken from the data gives.

use serde_json::{json, Map, Value as Json};

use crate::mapping::ValueErrorKind;
use crate::views::{iso_of_ms, ColumnSqlType, DeclaredColumn, SqlType};

/// The table options that make a typed RAW table.
pub const TABLE_OPTIONS: [&str; 3] = ["database", "table", "primary_key"];

/// Longest RAW row key (characters), as for raw_rows' `_raw_key`.
pub const MAX_KEY_CHARS: usize = 1024;

/// One declared column of a typed RAW table.
#[derive(Debug, Clone, PartialEq)]
pub struct TypedRawColumn {
    /// The PostgreSQL column name.
    pub name: String,
    /// The RAW column it holds (column option `property`, else the name).
    pub raw_name: String,
    pub sql: ColumnSqlType,
}

/// A typed RAW table bound to its declared columns (in attribute order).
#[derive(Debug, Clone, PartialEq)]
pub struct TypedRawTable {
    pub database: String,
    pub table: String,
    pub columns: Vec<TypedRawColumn>,
    /// Index into `columns` of the primary-key column.
    pub key: usize,
}

/// A declaration that cannot be a typed RAW table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypedRawError {
    pub unknown_column: bool,
    pub message: String,
    pub hint: String,
}

/// The types a typed RAW column may have.
const VALUE_TYPES: &[SqlType] = &[
    SqlType::Text,
    SqlType::Varchar,
    SqlType::Int2,
    SqlType::Int4,
    SqlType::Int8,
    SqlType::Float4,
    SqlType::Float8,
    SqlType::Bool,
    SqlType::TimestampTz,
    SqlType::Date,
    SqlType::Json,
    SqlType::Jsonb,
];

/// The types a primary-key column may have: the key is text in RAW, and these read back exactly.
const KEY_TYPES: &[SqlType] = &[SqlType::Text, SqlType::Varchar, SqlType::Int2, SqlType::Int4, SqlType::Int8];

fn type_names(types: &[SqlType]) -> String {
    types.iter().map(SqlType::sql).collect::<Vec<_>>().join(", ")
}

impl TypedRawTable {
    /// Whether a foreign table's options make it a typed RAW table.
    pub fn is_typed_raw(options: &[(String, String)]) -> bool {
        options.iter().any(|(n, _)| TABLE_OPTIONS.contains(&n.as_str()))
    }

    /// Binds the declared columns, checking the primary key and the types.
    pub fn bind(
        table: &str,
        options: &[(String, String)],
        declared: &[DeclaredColumn],
    ) -> Result<TypedRawTable, TypedRawError> {
        // Not options::get: options validates these names with TABLE_OPTIONS (no module cycle).
        let get = |n: &str| options.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone()).unwrap_or_default();
        let (database, raw_table, primary_key) = (get("database"), get("table"), get("primary_key"));
        let mut columns = Vec::with_capacity(declared.len());
        for d in declared {
            let raw_name = d.property.clone().unwrap_or_else(|| d.name.clone());
            let allowed = if d.name == primary_key { KEY_TYPES } else { VALUE_TYPES };
            if !allowed.contains(&d.sql.base) || (d.name == primary_key && d.sql.array) {
                let what = if d.name == primary_key { "primary key" } else { "column" };
                return Err(TypedRawError {
                    unknown_column: false,
                    message: format!(
                        "{what} \"{}\" of typed RAW table \"{table}\" has a type RAW values cannot be read as",
                        d.name
                    ),
                    hint: format!(
                        "Declare it as one of {}{}.",
                        type_names(allowed),
                        if d.name == primary_key { "" } else { " (or an array of one)" }
                    ),
                });
            }
            if columns.iter().any(|c: &TypedRawColumn| c.raw_name == raw_name) {
                return Err(TypedRawError {
                    unknown_column: false,
                    message: format!("two columns of typed RAW table \"{table}\" hold RAW column \"{raw_name}\""),
                    hint: "Give one of them another column option property '...'.".into(),
                });
            }
            columns.push(TypedRawColumn { name: d.name.clone(), raw_name, sql: d.sql });
        }
        let Some(key) = columns.iter().position(|c| c.name == primary_key) else {
            let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
            return Err(TypedRawError {
                unknown_column: true,
                message: format!(
                    "primary_key \"{primary_key}\" of typed RAW table \"{table}\" is not one of its columns"
                ),
                hint: format!("Name the column that holds the RAW row key; columns: {}.", names.join(", ")),
            });
        };
        Ok(TypedRawTable { database, table: raw_table, columns, key })
    }

    /// The RAW `columns` object of one row (`values` in column order, plain JSON of each
    /// column's type, `None` = NULL): every non-key, non-NULL column. A NULL column is left out
    /// (RAW rows are replaced whole, so the RAW row then lacks it and it reads back as NULL).
    pub fn raw_columns(&self, values: &[Option<Json>]) -> Json {
        let mut out = Map::new();
        for (i, (c, v)) in self.columns.iter().zip(values).enumerate() {
            if let (false, Some(v)) = (i == self.key, v) {
                out.insert(c.raw_name.clone(), v.clone());
            }
        }
        Json::Object(out)
    }

    /// Checks a row key (the primary key's text).
    pub fn check_key(&self, key: Option<&str>) -> Result<String, (ValueErrorKind, String)> {
        match key {
            None => Err((ValueErrorKind::Required, "the primary key of a RAW row cannot be NULL".into())),
            Some("") => Err((ValueErrorKind::Empty, "the primary key of a RAW row cannot be empty".into())),
            Some(k) if k.chars().count() > MAX_KEY_CHARS => {
                Err((ValueErrorKind::TooLong, format!("a RAW row key has at most {MAX_KEY_CHARS} characters")))
            }
            Some(k) => Ok(k.to_string()),
        }
    }

    /// One RAW row (`key`, `columns` as raw_rows reads them) in column order, each value the
    /// plain JSON the pgrx layer hands to the column type's input function; an error names the
    /// column and says why its value does not fit.
    pub fn row_values(&self, row: &Map<String, Json>) -> Result<Vec<Option<Json>>, (usize, String)> {
        let columns = row.get("columns").and_then(Json::as_object);
        self.columns
            .iter()
            .enumerate()
            .map(|(i, c)| {
                if i == self.key {
                    return Ok(row.get("key").cloned());
                }
                match columns.and_then(|cs| cs.get(&c.raw_name)) {
                    None | Some(Json::Null) => Ok(None),
                    Some(v) => raw_value_as(v, c.sql).map(Some).map_err(|m| (i, m)),
                }
            })
            .collect()
    }
}

/// A RAW value as the plain JSON of a column type (see `views::pg_input_text`), or why it does
/// not fit. Text columns take any value (non-strings as their JSON text); numbers must be
/// numbers that fit; timestamps take ISO strings or milliseconds since 1970.
pub fn raw_value_as(v: &Json, sql: ColumnSqlType) -> Result<Json, String> {
    if sql.array {
        let Some(items) = v.as_array() else {
            return Err(format!("{} is not an array", short(v)));
        };
        let scalar = ColumnSqlType { base: sql.base, array: false };
        let mut out = Vec::with_capacity(items.len());
        for (n, item) in items.iter().enumerate() {
            if item.is_null() {
                out.push(Json::Null);
                continue;
            }
            out.push(raw_value_as(item, scalar).map_err(|m| format!("element {}: {m}", n + 1))?);
        }
        return Ok(Json::Array(out));
    }
    let range = |lo: i64, hi: i64| -> Result<Json, String> {
        match v.as_i64() {
            Some(i) if (lo..=hi).contains(&i) => Ok(json!(i)),
            Some(_) => Err(format!("{} is out of range for {}", short(v), sql.base.sql())),
            None => Err(format!("{} is not an integer", short(v))),
        }
    };
    match sql.base {
        SqlType::Text | SqlType::Varchar | SqlType::Other => Ok(match v {
            Json::String(_) => v.clone(),
            other => json!(other.to_string()),
        }),
        SqlType::Int2 => range(i16::MIN as i64, i16::MAX as i64),
        SqlType::Int4 => range(i32::MIN as i64, i32::MAX as i64),
        SqlType::Int8 => range(i64::MIN, i64::MAX),
        SqlType::Float4 | SqlType::Float8 => match v.as_f64() {
            Some(_) => Ok(v.clone()),
            None => Err(format!("{} is not a number", short(v))),
        },
        SqlType::Bool => match v {
            Json::Bool(_) => Ok(v.clone()),
            _ => Err(format!("{} is not a boolean", short(v))),
        },
        SqlType::TimestampTz => match v {
            Json::String(_) => Ok(v.clone()),
            Json::Number(_) => match v.as_i64() {
                Some(ms) => Ok(json!(iso_of_ms(ms))),
                None => Err(format!("{} is not a whole number of milliseconds", short(v))),
            },
            _ => Err(format!("{} is neither a timestamp string nor milliseconds since 1970", short(v))),
        },
        SqlType::Date => match v {
            Json::String(_) => Ok(v.clone()),
            _ => Err(format!("{} is not a date string", short(v))),
        },
        SqlType::Json | SqlType::Jsonb => Ok(v.clone()),
    }
}

/// A value for an error message: its JSON, cut short.
fn short(v: &Json) -> String {
    let text = v.to_string();
    match text.char_indices().nth(60) {
        Some((i, _)) => format!("{}...", &text[..i]),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(name: &str, base: SqlType, array: bool) -> DeclaredColumn {
        DeclaredColumn { name: name.into(), property: None, sql: ColumnSqlType { base, array } }
    }

    fn options(pk: &str) -> Vec<(String, String)> {
        vec![("database".into(), "db".into()), ("table".into(), "books".into()), ("primary_key".into(), pk.into())]
    }

    fn books() -> TypedRawTable {
        let mut year = col("year", SqlType::Int4, false);
        year.property = Some("published".into());
        let declared = [
            col("title", SqlType::Text, false),
            year,
            col("tags", SqlType::Text, true),
            col("when", SqlType::TimestampTz, false),
        ];
        TypedRawTable::bind("books", &options("title"), &declared).unwrap()
    }

    #[test]
    fn binds_key_and_renamed_columns() {
        let t = books();
        assert_eq!((t.database.as_str(), t.table.as_str(), t.key), ("db", "books", 0));
        assert_eq!(t.columns[1].raw_name, "published");
        assert!(TypedRawTable::is_typed_raw(&options("title")));
        assert!(!TypedRawTable::is_typed_raw(&[("resource".into(), "assets".into())]));
    }

    #[test]
    fn refuses_a_missing_key_column_and_unreadable_types() {
        let e = TypedRawTable::bind("books", &options("isbn"), &[col("title", SqlType::Text, false)]).unwrap_err();
        assert!(e.unknown_column && e.message.contains("\"isbn\""), "{e:?}");
        let e = TypedRawTable::bind("b", &options("title"), &[col("title", SqlType::Float8, false)]).unwrap_err();
        assert!(e.message.contains("primary key"), "{e:?}");
        let e =
            TypedRawTable::bind("b", &options("t"), &[col("t", SqlType::Text, false), col("n", SqlType::Other, false)])
                .unwrap_err();
        assert!(e.hint.contains("INTEGER"), "{e:?}");
    }

    #[test]
    fn writes_non_null_non_key_columns_under_their_raw_names() {
        let t = books();
        let values = [Some(json!("Dune")), Some(json!(1965)), Some(json!(["sf", "desert"])), None];
        assert_eq!(t.raw_columns(&values), json!({"published": 1965, "tags": ["sf", "desert"]}));
        assert_eq!(t.check_key(Some("Dune")), Ok("Dune".into()));
        assert!(t.check_key(None).is_err());
        assert!(t.check_key(Some("")).is_err());
        assert!(t.check_key(Some(&"k".repeat(1025))).is_err());
    }

    #[test]
    fn reads_back_with_errors_naming_the_column() {
        let t = books();
        let row = json!({"key": "Dune", "columns": {"published": 1965, "tags": ["sf"], "when": 0}});
        let values = t.row_values(row.as_object().unwrap()).unwrap();
        assert_eq!(
            values,
            vec![Some(json!("Dune")), Some(json!(1965)), Some(json!(["sf"])), Some(json!("1970-01-01T00:00:00Z"))]
        );
        let row = json!({"key": "X", "columns": {"published": "nineteen"}});
        assert_eq!(t.row_values(row.as_object().unwrap()).unwrap_err().0, 1);
        let row = json!({"key": "X", "columns": {"published": 3_000_000_000i64}});
        assert!(t.row_values(row.as_object().unwrap()).unwrap_err().1.contains("out of range"));
        let row = json!({"key": "X", "columns": {"tags": ["a", 5]}});
        assert_eq!(t.row_values(row.as_object().unwrap()).unwrap()[2], Some(json!(["a", "5"])));
        let row = json!({"key": "X", "columns": {"tags": "a"}});
        assert!(t.row_values(row.as_object().unwrap()).unwrap_err().1.contains("not an array"));
    }
}
