//! DMS property types: validation of a container property's `type` object, and the type
//! checks DMS applies to every written value (wrong type, out of range, list too long, text
//! too long, unknown enum value), plus the ISO-8601 timestamp and date forms DMS answers with.

use serde_json::{json, Map, Value};

use super::{as_obj, invalid, parse_container_ref};
use crate::errors::ApiResult;
use crate::resources::generic::check_keys;

pub const PRIMITIVES: &[&str] = &[
    "text",
    "int32",
    "int64",
    "float32",
    "float64",
    "boolean",
    "timestamp",
    "date",
    "json",
    "direct",
    "enum",
    "timeseries",
    "file",
    "sequence",
];

/// Default `maxListSize` of list properties: 1000 values, 100 for direct relations (DMS
/// limits page, "Properties"; not confirmed by a recording).
pub const DEFAULT_MAX_LIST: u64 = 1000;
pub const DEFAULT_MAX_DIRECT_LIST: u64 = 100;
/// Largest `maxListSize` DMS accepts.
pub const MAX_LIST_LIMIT: u64 = 2000;
/// Longest text value in UTF-8 bytes without a smaller `maxTextSize` (DMS limits page).
pub const MAX_TEXT_BYTES: u64 = 128_000;
/// Largest JSON value of a `json` property, serialised (DMS limits page).
pub const MAX_JSON_BYTES: usize = 40_960;

/// Validates a property `type` object and returns it in the read shape (defaults filled in:
/// `list: false`, text `collation: "ucs_basic"`).
pub fn normalise_type(v: &Value, path: &str) -> ApiResult<Value> {
    let o = as_obj(v, path)?;
    let t = o.get("type").and_then(|t| t.as_str()).ok_or_else(|| invalid(format!("{path}.type: is required")))?;
    if !PRIMITIVES.contains(&t) {
        return Err(invalid(format!("{path}.type: unknown property type \"{t}\"; one of {}", PRIMITIVES.join(", "))));
    }
    let mut allowed = vec!["type", "list", "maxListSize"];
    match t {
        "text" => allowed.extend(["collation", "maxTextSize"]),
        "int32" | "int64" | "float32" | "float64" => allowed.push("unit"),
        "direct" => allowed.extend(["container", "source"]),
        "enum" => {
            allowed = vec!["type", "values", "unknownValue"];
        }
        _ => {}
    }
    check_keys(o, &allowed, path)?;
    let mut out = Map::new();
    out.insert("type".into(), json!(t));
    // Enums cannot be lists, but DMS answers them with `list: false` like every type.
    if t == "enum" {
        out.insert("list".into(), json!(false));
    } else {
        let list = match o.get("list") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(invalid(format!("{path}.list: must be a boolean"))),
        };
        out.insert("list".into(), json!(list));
        if let Some(m) = o.get("maxListSize").filter(|m| !m.is_null()) {
            match m.as_u64() {
                Some(n) if list && (1..=MAX_LIST_LIMIT).contains(&n) => {
                    out.insert("maxListSize".into(), json!(n));
                }
                Some(_) if !list => return Err(invalid(format!("{path}.maxListSize: only list properties have one"))),
                _ => return Err(invalid(format!("{path}.maxListSize: must be between 1 and {MAX_LIST_LIMIT}"))),
            }
        }
    }
    match t {
        "text" => {
            let collation = o.get("collation").and_then(|c| c.as_str()).unwrap_or("ucs_basic");
            out.insert("collation".into(), json!(collation));
            if let Some(m) = o.get("maxTextSize").filter(|m| !m.is_null()) {
                match m.as_u64() {
                    Some(n) if (1..=MAX_TEXT_BYTES).contains(&n) => {
                        out.insert("maxTextSize".into(), json!(n));
                    }
                    _ => return Err(invalid(format!("{path}.maxTextSize: must be between 1 and {MAX_TEXT_BYTES}"))),
                }
            }
        }
        "int32" | "int64" | "float32" | "float64" => {
            if let Some(u) = o.get("unit").filter(|u| !u.is_null()) {
                let uo = as_obj(u, &format!("{path}.unit"))?;
                check_keys(uo, &["externalId", "sourceUnit"], &format!("{path}.unit"))?;
                out.insert("unit".into(), u.clone());
            }
        }
        "direct" => {
            if let Some(c) = o.get("container").filter(|c| !c.is_null()) {
                let k = parse_container_ref(c, &format!("{path}.container"))?;
                out.insert("container".into(), super::container_ref_json(&k));
            }
            if let Some(s) = o.get("source").filter(|s| !s.is_null()) {
                out.insert("source".into(), s.clone());
            }
        }
        "enum" => {
            let values = o
                .get("values")
                .and_then(|v| v.as_object())
                .filter(|v| !v.is_empty())
                .ok_or_else(|| invalid(format!("{path}.values: must be an object with at least one value")))?;
            if values.len() > 32 {
                return Err(invalid(format!("{path}.values: an enum has at most 32 values")));
            }
            for (k, def) in values {
                if !def.is_object() {
                    return Err(invalid(format!("{path}.values.{k}: must be an object (name, description)")));
                }
            }
            out.insert("values".into(), Value::Object(values.clone()));
            if let Some(u) = o.get("unknownValue").filter(|u| !u.is_null()) {
                match u.as_str() {
                    Some(s) if values.contains_key(s) => {
                        out.insert("unknownValue".into(), json!(s));
                    }
                    _ => return Err(invalid(format!("{path}.unknownValue: must be one of the enum's values"))),
                }
            }
        }
        _ => {}
    }
    Ok(Value::Object(out))
}

pub fn is_list(ty: &Value) -> bool {
    ty.get("list").and_then(|l| l.as_bool()).unwrap_or(false)
}

pub fn type_name(ty: &Value) -> &str {
    ty.get("type").and_then(|t| t.as_str()).unwrap_or("")
}

/// Checks one written value against a property type and returns it as DMS stores and
/// answers it (timestamps normalised to `YYYY-MM-DDTHH:MM:SS.sss+00:00`). `name` is the
/// property identifier the message names.
pub fn check_value(ty: &Value, v: &Value, name: &str) -> ApiResult<Value> {
    if is_list(ty) {
        let a = v.as_array().ok_or_else(|| {
            invalid(format!("Invalid value for property '{name}': expected a list of {}", type_name(ty)))
        })?;
        let max = ty.get("maxListSize").and_then(|m| m.as_u64()).unwrap_or(if type_name(ty) == "direct" {
            DEFAULT_MAX_DIRECT_LIST
        } else {
            DEFAULT_MAX_LIST
        });
        if a.len() as u64 > max {
            return Err(invalid(format!(
                "Invalid value for property '{name}': the list has {} elements, more than the maximum {max}",
                a.len()
            )));
        }
        return Ok(Value::Array(a.iter().map(|x| check_scalar(ty, x, name)).collect::<ApiResult<_>>()?));
    }
    check_scalar(ty, v, name)
}

fn check_scalar(ty: &Value, v: &Value, name: &str) -> ApiResult<Value> {
    let t = type_name(ty);
    let wrong = || invalid(format!("Invalid value for property '{name}' of type {t}: {}", short(v)));
    match t {
        "text" | "timeseries" | "file" | "sequence" => {
            let s = v.as_str().ok_or_else(wrong)?;
            let max = ty.get("maxTextSize").and_then(|m| m.as_u64()).unwrap_or(MAX_TEXT_BYTES);
            if t == "text" && s.len() as u64 > max {
                return Err(invalid(format!(
                    "Invalid value for property '{name}': text of {} bytes is longer than the maximum {max}",
                    s.len()
                )));
            }
            if t != "text" && (s.is_empty() || s.chars().count() > 255) {
                return Err(wrong());
            }
            Ok(v.clone())
        }
        "int32" | "int64" => {
            let n = v.as_i64().ok_or_else(wrong)?;
            if t == "int32" && i32::try_from(n).is_err() {
                return Err(invalid(format!(
                    "Invalid value for property '{name}': {n} is out of range for int32 [{}, {}]",
                    i32::MIN,
                    i32::MAX
                )));
            }
            Ok(v.clone())
        }
        "float32" | "float64" => {
            let x = v.as_f64().ok_or_else(wrong)?;
            if t == "float32" && x.abs() > f32::MAX as f64 {
                return Err(invalid(format!("Invalid value for property '{name}': {x} is out of range for float32")));
            }
            Ok(v.clone())
        }
        "boolean" => v.as_bool().map(Value::Bool).ok_or_else(wrong),
        "timestamp" => {
            let ms = v.as_str().and_then(parse_timestamp).ok_or_else(wrong)?;
            Ok(json!(format_timestamp(ms)))
        }
        "date" => {
            let s = v.as_str().ok_or_else(wrong)?;
            parse_date(s).ok_or_else(wrong)?;
            Ok(v.clone())
        }
        "json" => {
            let size = serde_json::to_vec(v).map(|b| b.len()).unwrap_or(0);
            if size > MAX_JSON_BYTES {
                return Err(invalid(format!(
                    "Invalid value for property '{name}': JSON of {size} bytes is larger than the maximum {MAX_JSON_BYTES}"
                )));
            }
            Ok(v.clone())
        }
        "direct" => {
            let o = v.as_object().ok_or_else(wrong)?;
            let ok = o.len() == 2
                && o.get("space").and_then(|s| s.as_str()).is_some_and(|s| !s.is_empty())
                && o.get("externalId").and_then(|s| s.as_str()).is_some_and(|s| !s.is_empty());
            if ok {
                Ok(v.clone())
            } else {
                Err(wrong())
            }
        }
        "enum" => {
            let s = v.as_str().ok_or_else(wrong)?;
            let known = ty.get("values").and_then(|vals| vals.get(s)).is_some();
            if known {
                Ok(v.clone())
            } else {
                Err(invalid(format!("Invalid value for property '{name}': \"{s}\" is not one of the enum's values")))
            }
        }
        _ => Err(wrong()),
    }
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 60 {
        format!("{}…", s.chars().take(60).collect::<String>())
    } else {
        s
    }
}

// ---------------------------------------------------------------- dates and timestamps

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn num(s: &str) -> Option<i64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// `YYYY-MM-DD` → days since 1970-01-01.
pub fn parse_date(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let (y, m, d) = (num(&s[0..4])?, num(&s[5..7])?, num(&s[8..10])?);
    let days_in_month = [
        31,
        if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1..=12).contains(&m) || d < 1 || d > days_in_month[(m - 1) as usize] {
        return None;
    }
    Some(days_from_civil(y, m, d))
}

/// ISO-8601 date-time with an offset (`Z` or `±HH:MM`) and optional fraction → ms since epoch.
pub fn parse_timestamp(s: &str) -> Option<i64> {
    if s.len() < 19 || !s.is_char_boundary(10) {
        return None;
    }
    let days = parse_date(&s[0..10])?;
    let rest = &s[10..];
    let rest = rest.strip_prefix('T').or_else(|| rest.strip_prefix(' '))?;
    if rest.len() < 8 || rest.as_bytes()[2] != b':' || rest.as_bytes()[5] != b':' {
        return None;
    }
    let (h, mi, se) = (num(&rest[0..2])?, num(&rest[3..5])?, num(&rest[6..8])?);
    if h > 23 || mi > 59 || se > 59 {
        return None;
    }
    let mut tail = &rest[8..];
    let mut ms = 0;
    if let Some(frac) = tail.strip_prefix('.') {
        let digits = frac.bytes().take_while(|b| b.is_ascii_digit()).count();
        if digits == 0 {
            return None;
        }
        let f = &frac[..digits];
        ms = num(&format!("{:0<3}", &f[..f.len().min(3)]))?;
        tail = &frac[digits..];
    }
    let offset_min = match tail {
        "Z" | "z" => 0,
        t if t.len() == 6 && (t.starts_with('+') || t.starts_with('-')) && t.as_bytes()[3] == b':' => {
            let v = num(&t[1..3])? * 60 + num(&t[4..6])?;
            if t.starts_with('-') {
                -v
            } else {
                v
            }
        }
        _ => return None,
    };
    Some(((days * 86_400 + h * 3600 + mi * 60 + se) - offset_min * 60) * 1000 + ms)
}

/// ms since epoch → the form DMS answers with: `2024-12-31T00:00:00+00:00` for whole
/// seconds (cognite-sdk-scala recording `InstancesTest/should-CRUD-instances-with-all-property-types`:
/// `"2024-12-31T00:00:00.000Z"` written, `"2024-12-31T00:00:00+00:00"` read back), with
/// `.sss` milliseconds otherwise (not recorded; assumed).
pub fn format_timestamp(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, sod) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    let frac = match ms.rem_euclid(1000) {
        0 => String::new(),
        f => format!(".{f:03}"),
    };
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}{frac}+00:00", sod / 3600, sod % 3600 / 60, sod % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_round_trip_through_utc() {
        let ms = parse_timestamp("2020-03-14T15:09:26.535+01:00").unwrap();
        assert_eq!(format_timestamp(ms), "2020-03-14T14:09:26.535+00:00");
        assert_eq!(parse_timestamp("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_timestamp("2020-02-30T00:00:00Z"), None);
        assert_eq!(parse_timestamp("2020-01-01"), None);
        assert_eq!(format_timestamp(-1), "1969-12-31T23:59:59.999+00:00");
        assert_eq!(format_timestamp(0), "1970-01-01T00:00:00+00:00");
    }
}
