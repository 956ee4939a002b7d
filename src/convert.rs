//! Datum <-> `cdf_tables::Value`, driven by the PostgreSQL type of the column.

use cdf_tables::value::PG_EPOCH_OFFSET_MICROS;
use cdf_tables::{ColumnType, Value};
use pgrx::pg_sys;
use pgrx::prelude::*;
use pgrx::{Json, JsonB};

/// Whether a PostgreSQL column type can carry a catalogue column's values.
pub fn type_fits(column: ColumnType, typoid: pg_sys::Oid) -> bool {
    use pg_sys::{
        BOOLOID, BPCHAROID, FLOAT4OID, FLOAT8OID, INT2OID, INT4ARRAYOID, INT4OID, INT8ARRAYOID, INT8OID, JSONBOID,
        JSONOID, TEXTARRAYOID, TEXTOID, TIMESTAMPTZOID, VARCHARARRAYOID, VARCHAROID,
    };
    match column {
        ColumnType::BigInt => [INT8OID, INT4OID, INT2OID].contains(&typoid),
        ColumnType::BigIntArray => [INT8ARRAYOID, INT4ARRAYOID].contains(&typoid),
        ColumnType::Text | ColumnType::Varchar(_) => [TEXTOID, VARCHAROID, BPCHAROID].contains(&typoid),
        ColumnType::TextArray => [TEXTARRAYOID, VARCHARARRAYOID].contains(&typoid),
        ColumnType::Bool => typoid == BOOLOID,
        ColumnType::Double => [FLOAT8OID, FLOAT4OID].contains(&typoid),
        ColumnType::TimestampTz => typoid == TIMESTAMPTZOID,
        ColumnType::Json => [JSONOID, JSONBOID].contains(&typoid),
    }
}

/// Decodes a non-NULL Datum of type `typoid`.
///
/// # Safety
/// `datum` must be a valid Datum of type `typoid`.
pub unsafe fn datum_to_value(datum: pg_sys::Datum, typoid: pg_sys::Oid) -> Result<Value, String> {
    use pg_sys::{
        BOOLOID, BPCHAROID, FLOAT4OID, FLOAT8OID, INT2OID, INT4ARRAYOID, INT4OID, INT8ARRAYOID, INT8OID, JSONBOID,
        JSONOID, TEXTARRAYOID, TEXTOID, TIMESTAMPTZOID, VARCHARARRAYOID, VARCHAROID,
    };
    let v = match typoid {
        INT8OID => Value::Int(i64::from_datum(datum, false).unwrap_or_default()),
        INT4OID => Value::Int(i32::from_datum(datum, false).unwrap_or_default() as i64),
        INT2OID => Value::Int(i16::from_datum(datum, false).unwrap_or_default() as i64),
        TEXTOID | VARCHAROID | BPCHAROID => Value::Text(String::from_datum(datum, false).unwrap_or_default()),
        BOOLOID => Value::Bool(bool::from_datum(datum, false).unwrap_or_default()),
        FLOAT8OID => Value::Double(f64::from_datum(datum, false).unwrap_or_default()),
        FLOAT4OID => Value::Double(f32::from_datum(datum, false).unwrap_or_default() as f64),
        TIMESTAMPTZOID => {
            let pg_micros = datum.value() as i64;
            // PostgreSQL encodes 'infinity' / '-infinity' as the extreme int64 values.
            if pg_micros == i64::MAX || pg_micros == i64::MIN {
                return Err("infinite timestamps cannot be stored in CDF".into());
            }
            Value::Timestamp(pg_micros + PG_EPOCH_OFFSET_MICROS)
        }
        JSONOID => {
            let Json(v) = Json::from_datum(datum, false).ok_or("invalid json")?;
            Value::Json(v)
        }
        JSONBOID => {
            let JsonB(v) = JsonB::from_datum(datum, false).ok_or("invalid jsonb")?;
            Value::Json(v)
        }
        INT8ARRAYOID => Value::IntArray(Vec::<Option<i64>>::from_datum(datum, false).unwrap_or_default()),
        INT4ARRAYOID => Value::IntArray(
            Vec::<Option<i32>>::from_datum(datum, false)
                .unwrap_or_default()
                .into_iter()
                .map(|x| x.map(i64::from))
                .collect(),
        ),
        TEXTARRAYOID | VARCHARARRAYOID => {
            Value::TextArray(Vec::<Option<String>>::from_datum(datum, false).unwrap_or_default())
        }
        other => return Err(format!("type oid {} is not supported", other.to_u32())),
    };
    Ok(v)
}

/// Encodes a value as a Datum of type `typoid`; `None` means SQL NULL.
pub fn value_to_datum(value: Value, typoid: pg_sys::Oid) -> Option<pg_sys::Datum> {
    use pg_sys::{FLOAT4OID, FLOAT8OID, INT2OID, INT4ARRAYOID, INT4OID, JSONBOID, TEXTOID, VARCHAROID};
    match value {
        Value::Null => None,
        Value::Int(i) => match typoid {
            INT4OID => i32::try_from(i).ok().into_datum(),
            INT2OID => i16::try_from(i).ok().into_datum(),
            FLOAT8OID => (i as f64).into_datum(),
            _ => i.into_datum(),
        },
        Value::Double(d) => match typoid {
            FLOAT4OID => (d as f32).into_datum(),
            _ => d.into_datum(),
        },
        Value::Bool(b) => b.into_datum(),
        Value::Text(s) => s.into_datum(),
        Value::Timestamp(micros) => Some(pg_sys::Datum::from(micros - PG_EPOCH_OFFSET_MICROS)),
        Value::Json(v) => match typoid {
            JSONBOID => JsonB(v).into_datum(),
            TEXTOID | VARCHAROID => v.to_string().into_datum(),
            _ => Json(v).into_datum(),
        },
        Value::IntArray(xs) => match typoid {
            INT4ARRAYOID => {
                xs.into_iter().map(|x| x.and_then(|v| i32::try_from(v).ok())).collect::<Vec<Option<i32>>>().into_datum()
            }
            _ => xs.into_datum(),
        },
        Value::TextArray(xs) => xs.into_datum(),
    }
}
