//! The values a foreign-table column can hold, independent of PostgreSQL's Datum.

use std::fmt;

/// Microseconds between 1970-01-01 and 2000-01-01 (PostgreSQL's timestamp epoch).
pub const PG_EPOCH_OFFSET_MICROS: i64 = 946_684_800_000_000;

/// A column value after the pgrx layer decoded the Datum.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    IntArray(Vec<Option<i64>>),
    Text(String),
    TextArray(Vec<Option<String>>),
    Bool(bool),
    Double(f64),
    /// Microseconds since the Unix epoch, UTC.
    Timestamp(i64),
    Json(serde_json::Value),
}

impl Value {
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// Short name of the value's kind, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "NULL",
            Value::Int(_) => "bigint",
            Value::IntArray(_) => "bigint[]",
            Value::Text(_) => "text",
            Value::TextArray(_) => "text[]",
            Value::Bool(_) => "boolean",
            Value::Double(_) => "double precision",
            Value::Timestamp(_) => "timestamptz",
            Value::Json(_) => "json",
        }
    }
}

/// Formats microseconds since the Unix epoch as an ISO-8601 UTC timestamp, for error messages.
pub fn format_timestamp_micros(micros: i64) -> String {
    let secs = micros.div_euclid(1_000_000);
    let frac = micros.rem_euclid(1_000_000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let base = format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}", sod / 3600, (sod / 60) % 60, sod % 60);
    if frac == 0 {
        format!("{base}+00")
    } else {
        format!("{base}.{frac:06}+00")
    }
}

/// Howard Hinnant's days-to-civil algorithm (proleptic Gregorian calendar).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => write!(f, "NULL"),
            Value::Int(v) => write!(f, "{v}"),
            Value::IntArray(v) => write!(f, "{v:?}"),
            Value::Text(v) => write!(f, "{v:?}"),
            Value::TextArray(v) => write!(f, "{v:?}"),
            Value::Bool(v) => write!(f, "{v}"),
            Value::Double(v) => write!(f, "{v}"),
            Value::Timestamp(v) => write!(f, "{}", format_timestamp_micros(*v)),
            Value::Json(v) => write!(f, "{v}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_timestamps_in_utc() {
        assert_eq!(format_timestamp_micros(0), "1970-01-01 00:00:00+00");
        assert_eq!(format_timestamp_micros(1_700_000_000_123_456), "2023-11-14 22:13:20.123456+00");
        assert_eq!(format_timestamp_micros(-2_208_988_800_000_000), "1900-01-01 00:00:00+00");
    }
}
