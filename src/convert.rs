//! Datum <-> `cdf_tables::Value`, driven by the PostgreSQL type of the column.

use cdf_tables::value::PG_EPOCH_OFFSET_MICROS;
use cdf_tables::{ColumnType, Value};
use pgrx::pg_sys;
use pgrx::prelude::*;
use pgrx::{Json, JsonB};

/// Whether a PostgreSQL column type can carry a catalogue column's values.
pub fn type_fits(column: ColumnType, typoid: pg_sys::Oid) -> bool {
    use pg_sys::{
        BOOLOID, FLOAT4OID, FLOAT8OID, INT8ARRAYOID, INT8OID, JSONBOID, JSONOID, TEXTARRAYOID, TEXTOID, TIMESTAMPTZOID,
        VARCHARARRAYOID, VARCHAROID,
    };
    match column {
        // CDF ids and row numbers are 64-bit: a narrower column would turn big ones into NULL.
        ColumnType::BigInt => typoid == INT8OID,
        ColumnType::BigIntArray => typoid == INT8ARRAYOID,
        // char(n) is blank-padded: values would reach CDF with trailing spaces.
        ColumnType::Text | ColumnType::Varchar(_) => [TEXTOID, VARCHAROID].contains(&typoid),
        ColumnType::TextArray => [TEXTARRAYOID, VARCHARARRAYOID].contains(&typoid),
        ColumnType::Bool => typoid == BOOLOID,
        ColumnType::Double => [FLOAT8OID, FLOAT4OID].contains(&typoid),
        ColumnType::TimestampTz => typoid == TIMESTAMPTZOID,
        ColumnType::Json => [JSONOID, JSONBOID].contains(&typoid),
    }
}

#[derive(PartialEq)]
enum Family {
    Integer,
    Text,
    Bool,
    Float,
    Timestamp,
    Json,
}

/// The value family of a type this module decodes, and whether it is an array of it.
fn family(typoid: pg_sys::Oid) -> Option<(Family, bool)> {
    use pg_sys::*;
    Some(match typoid {
        INT8OID | INT4OID | INT2OID => (Family::Integer, false),
        INT8ARRAYOID | INT4ARRAYOID => (Family::Integer, true),
        TEXTOID | VARCHAROID | BPCHAROID => (Family::Text, false),
        TEXTARRAYOID | VARCHARARRAYOID => (Family::Text, true),
        BOOLOID => (Family::Bool, false),
        FLOAT8OID | FLOAT4OID => (Family::Float, false),
        TIMESTAMPTZOID => (Family::Timestamp, false),
        JSONOID | JSONBOID => (Family::Json, false),
        _ => return None,
    })
}

/// Whether a condition's value (of type `value_type`; an array for `IN`) can be compared with
/// the column in CDF. Cross-type comparisons (`timestamptz >= date`) stay with PostgreSQL.
pub fn condition_value_fits(column_type: pg_sys::Oid, value_type: pg_sys::Oid, is_in: bool) -> bool {
    match (family(column_type), family(value_type)) {
        (Some((column, false)), Some((value, array))) => column == value && array == is_in,
        _ => false,
    }
}

/// Whether an array value can be compared with an array column in CDF (`&&`, `@>`).
pub fn array_condition_fits(column_type: pg_sys::Oid, value_type: pg_sys::Oid) -> bool {
    match (family(column_type), family(value_type)) {
        (Some((column, true)), Some((value, true))) => column == value,
        _ => false,
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
            // Near PostgreSQL's upper limit (294276 AD) the Unix offset overflows: far beyond CDF.
            let micros = pg_micros.checked_add(PG_EPOCH_OFFSET_MICROS).ok_or("the timestamp is beyond year 9999")?;
            Value::Timestamp(micros)
        }
        JSONOID | JSONBOID => Value::Json(json_of(datum, typoid)?),
        INT8ARRAYOID | INT4ARRAYOID | TEXTARRAYOID | VARCHARARRAYOID if array_dimensions(datum) > 1 => {
            return Err("a multi-dimensional array cannot be stored in CDF; give a one-dimensional array".into())
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

/// The JSON of a json/jsonb Datum, parsed from PostgreSQL's own text output: numbers keep their
/// exact text (serde_json's `arbitrary_precision`, so `18446744073709551617` or `1e400` reach CDF
/// digit for digit), and nesting deeper than 128 levels is a data error.
unsafe fn json_of(datum: pg_sys::Datum, typoid: pg_sys::Oid) -> Result<serde_json::Value, String> {
    let (mut output, mut varlena) = (pg_sys::InvalidOid, false);
    pg_sys::getTypeOutputInfo(typoid, &mut output, &mut varlena);
    let text = std::ffi::CStr::from_ptr(pg_sys::OidOutputFunctionCall(output, datum));
    let text = text.to_str().map_err(|_| "the JSON text is not valid UTF-8".to_string())?;
    serde_json::from_str(text).map_err(|e| match e.classify() {
        serde_json::error::Category::Syntax if e.to_string().contains("recursion limit") => {
            "JSON nested deeper than 128 levels cannot be sent to CDF".into()
        }
        _ => format!("this JSON cannot be sent to CDF: {e}"),
    })
}

/// Number of dimensions of an array Datum (0 for an empty array).
unsafe fn array_dimensions(datum: pg_sys::Datum) -> i32 {
    let array = pg_sys::pg_detoast_datum(datum.cast_mut_ptr()) as *mut pg_sys::ArrayType;
    (*array).ndim
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
