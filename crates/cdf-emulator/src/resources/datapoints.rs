//! Datapoints: insert (JSON or protobuf) by id, externalId or instanceId (DM time series), list with start/end/limit/cursor
//! (JSON or protobuf responses), latest, range delete. Numeric and string series are kept
//! apart; timestamps are whole ms in 1900..=2099, numeric values within ±1e100.

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;

use super::generic::*;
use super::project::Project;
use super::protobuf::{Reader, Val, Writer};
use super::{Ctx, Reply};
use crate::errors::{ApiError, ApiResult};
use crate::store::{now_ms, Object};

/// 1900-01-01T00:00:00Z.
pub const MIN_TIMESTAMP_MS: i64 = -2_208_988_800_000;
/// 2099-12-31T23:59:59.999Z.
pub const MAX_TIMESTAMP_MS: i64 = 4_102_444_799_999;
pub const MAX_ABS_VALUE: f64 = 1e100;
pub const MAX_SERIES_PER_INSERT: usize = 10_000;
pub const MAX_POINTS_PER_INSERT: usize = 100_000;
pub const MAX_STRING_VALUE_CHARS: usize = 255;
pub const MAX_RAW_LIST_LIMIT: usize = 100_000;

/// The datapoints of one project: series id → points.
pub type DatapointStore = HashMap<i64, Series>;

/// One series: its points, and the status of every point whose status is not Good.
pub struct Series {
    pub data: SeriesData,
    pub status: BTreeMap<i64, PointStatus>,
}

pub enum SeriesData {
    Numeric(BTreeMap<i64, f64>),
    Text(BTreeMap<i64, String>),
}

/// OPC UA status code categories (the two top bits): 00 Good, 01 Uncertain, 10 Bad.
pub const UNCERTAIN: u32 = 0x4000_0000;
pub const BAD: u32 = 0x8000_0000;

/// The status of a point that is not Good; `no_value` for a Bad point stored without value.
#[derive(Debug, Clone, PartialEq)]
pub struct PointStatus {
    pub code: u32,
    pub symbol: Option<String>,
    pub no_value: bool,
}

impl PointStatus {
    pub fn is_bad(&self) -> bool {
        self.code >> 30 == 2
    }
    pub fn is_uncertain(&self) -> bool {
        self.code >> 30 == 1
    }
    pub fn json(&self) -> Value {
        json!({"code": self.code, "symbol": self.symbol()})
    }
    /// The symbol given, or the category's.
    pub fn symbol(&self) -> String {
        self.symbol.clone().unwrap_or_else(|| category(self.code).to_string())
    }
}

fn category(code: u32) -> &'static str {
    match code >> 30 {
        0 => "Good",
        1 => "Uncertain",
        _ => "Bad",
    }
}

/// Parses a point's `status` (`{"code": n}`, `{"symbol": "..."}` or both) as CDF validates it:
/// the code is an unsigned 32-bit OPC UA code whose top two bits are not 11, a symbol names a
/// category (Good, Uncertain, Bad, or an OPC UA symbol starting with one of them), and code
/// and symbol must agree. Returns the code and the symbol given. Source: docs.cognite.com
/// "Status codes" for time series (categories, code/symbol agreement); the full OPC UA symbol
/// table is not emulated, a longer symbol takes its category's base code when no code is given.
/// A validated status: code and the symbol given.
type StatusIn = (u32, Option<String>);

fn parse_status(v: &Value, path: &str) -> ApiResult<StatusIn> {
    let bad = |m: String| ApiError::bad_request(format!("{path}.status: {m}"));
    let o = v.as_object().ok_or_else(|| bad("must be an object with code and/or symbol".into()))?;
    for k in o.keys() {
        if k != "code" && k != "symbol" {
            return Err(ApiError::bad_request(format!("Unrecognized field \"{k}\" at {path}.status")));
        }
    }
    let code = match o.get("code").filter(|c| !c.is_null()) {
        None => None,
        Some(c) => match c.as_u64() {
            Some(n) if n <= u32::MAX as u64 && n >> 30 != 3 => Some(n as u32),
            _ => return Err(bad(format!("invalid status code {c}"))),
        },
    };
    let symbol = match o.get("symbol").filter(|c| !c.is_null()) {
        None => None,
        Some(Value::String(sym)) => {
            let base = ["Good", "Uncertain", "Bad"].iter().find(|b| sym.starts_with(*b));
            match base {
                Some(b) => Some((sym.clone(), *b)),
                None => return Err(bad(format!("unknown status symbol \"{sym}\""))),
            }
        }
        Some(_) => return Err(bad("symbol: must be a string".into())),
    };
    match (code, symbol) {
        (Some(c), Some((sym, base))) => {
            let base_code = match base {
                "Good" => 0,
                "Uncertain" => UNCERTAIN,
                _ => BAD,
            };
            if category(c) != base || (sym == base && c != base_code) {
                return Err(bad(format!("status code {c} and symbol \"{sym}\" do not agree")));
            }
            Ok((c, Some(sym)))
        }
        (Some(c), None) => Ok((c, None)),
        (None, Some((sym, base))) => {
            let c = match base {
                "Good" => 0,
                "Uncertain" => UNCERTAIN,
                _ => BAD,
            };
            Ok((c, Some(sym)))
        }
        (None, None) => Err(bad("code or symbol is required".into())),
    }
}

impl Series {
    fn new(is_string: bool) -> Series {
        let data = if is_string { SeriesData::Text(BTreeMap::new()) } else { SeriesData::Numeric(BTreeMap::new()) };
        Series { data, status: BTreeMap::new() }
    }
    fn delete_range(&mut self, begin: i64, end: i64) {
        fn cut<V>(m: &mut BTreeMap<i64, V>, begin: i64, end: i64) {
            if begin >= end {
                return;
            }
            let keys: Vec<i64> = m.range(begin..end).map(|(k, _)| *k).collect();
            for k in keys {
                m.remove(&k);
            }
        }
        match &mut self.data {
            SeriesData::Numeric(m) => cut(m, begin, end),
            SeriesData::Text(m) => cut(m, begin, end),
        }
        cut(&mut self.status, begin, end);
    }
}

// ---------------------------------------------------------------- insert

pub enum DpValue {
    Num(f64),
    Text(String),
}

impl<'de> Deserialize<'de> for DpValue {
    /// From the value's raw JSON text: serde_json's `arbitrary_precision` (on for exact JSON
    /// columns) would otherwise allocate the text of every number on this hot path.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = <&'de RawValue>::deserialize(d)?.get();
        if raw.starts_with('"') {
            return serde_json::from_str(raw).map(DpValue::Text).map_err(de::Error::custom);
        }
        raw.parse::<f64>()
            .map(DpValue::Num)
            .map_err(|_| de::Error::custom(format!("invalid type: {raw}, expected a number or a string")))
    }
}

/// A number that is not an i64/u64 as serde_json's `arbitrary_precision` hands it to a
/// `deserialize_any` visitor: a one-entry map holding its text.
fn number_of<'de, A: de::MapAccess<'de>>(map: A) -> Result<f64, A::Error> {
    let n = serde_json::Number::deserialize(de::value::MapAccessDeserializer::new(map))?;
    n.as_f64().filter(|f| f.is_finite()).ok_or_else(|| de::Error::custom(format!("number {n} is out of range")))
}

/// A timestamp as sent: integral ms (a fractional number is kept to be rejected with a clear message).
pub struct Ts(Result<i64, f64>);

impl<'de> Deserialize<'de> for Ts {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Ts;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an integer timestamp in milliseconds")
            }
            fn visit_i64<E>(self, v: i64) -> Result<Ts, E> {
                Ok(Ts(Ok(v)))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Ts, E> {
                i64::try_from(v).map(|v| Ts(Ok(v))).map_err(|_| E::custom("timestamp out of range"))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Ts, E> {
                Ok(Ts(if v.fract() == 0.0 && v.abs() < 9.2e18 { Ok(v as i64) } else { Err(v) }))
            }
            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<Ts, A::Error> {
                self.visit_f64(number_of(map)?)
            }
        }
        // deserialize_i64 parses the number in place (deserialize_any would allocate its text);
        // the visitor still sees a fractional timestamp as f64.
        d.deserialize_i64(V)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DpIn {
    timestamp: Ts,
    #[serde(default)]
    value: Option<DpValue>,
    #[serde(default)]
    status: Option<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct InsertItemIn {
    #[serde(default)]
    id: Option<i64>,
    #[serde(default)]
    external_id: Option<String>,
    #[serde(default)]
    instance_id: Option<Value>,
    datapoints: Vec<DpIn>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InsertBodyIn {
    items: Vec<InsertItemIn>,
}

/// One point as received; `None` value = a bad-status point without value.
struct PointIn {
    ts: Result<i64, f64>,
    value: Option<DpValue>,
    /// `status` as received (protobuf: `{"code": n}`), validated with the rest of the request.
    status: Option<Value>,
}

struct ItemIn {
    ident: Result<Ident, String>,
    points: Vec<PointIn>,
}

fn parse_json_insert(body: &[u8]) -> ApiResult<Vec<ItemIn>> {
    let parsed: InsertBodyIn = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("Invalid datapoints insert request: {e}")))?;
    Ok(parsed
        .items
        .into_iter()
        .map(|it| {
            let ident = match (it.id, it.external_id, it.instance_id) {
                (Some(id), None, None) => Ok(Ident::Id(id)),
                (None, Some(x), None) => Ok(Ident::Xid(x)),
                (None, None, Some(iid)) => instance_ident(&iid)
                    .ok_or_else(|| "instanceId: must be an object with space and externalId".to_string()),
                (None, None, None) => Err("one of id, externalId and instanceId is required".to_string()),
                _ => Err("only one of id, externalId and instanceId may be given".to_string()),
            };
            let points = it
                .datapoints
                .into_iter()
                .map(|p| PointIn { status: p.status.filter(|s| !s.is_null()), ts: p.timestamp.0, value: p.value })
                .collect();
            ItemIn { ident, points }
        })
        .collect())
}

/// DataPointInsertionRequest { repeated DataPointInsertionItem items = 1; }
fn parse_protobuf_insert(body: &[u8]) -> ApiResult<Vec<ItemIn>> {
    let mut out = Vec::new();
    let mut r = Reader::new(body);
    while let Some((field, val)) = r.next_field()? {
        let (1, Val::Bytes(item)) = (field, val) else { continue };
        let mut id = None;
        let mut xid = None;
        let mut instance = None;
        let mut points = Vec::new();
        let mut ir = Reader::new(item);
        while let Some((f, v)) = ir.next_field()? {
            match (f, v) {
                (1, Val::Varint(v)) => id = Some(v as i64),
                (2, Val::Bytes(b)) => xid = Some(String::from_utf8_lossy(b).into_owned()),
                // InstanceId instanceId = 5 { string space = 1; string externalId = 2; }
                // (cognite-sdk-rust `cognite-codegen/proto/data_point_insertion_request.proto`).
                (5, Val::Bytes(b)) => {
                    let (mut space, mut x) = (String::new(), String::new());
                    let mut r = Reader::new(b);
                    while let Some((f, v)) = r.next_field()? {
                        match (f, v) {
                            (1, Val::Bytes(b)) => space = String::from_utf8_lossy(b).into_owned(),
                            (2, Val::Bytes(b)) => x = String::from_utf8_lossy(b).into_owned(),
                            _ => {}
                        }
                    }
                    instance = Some(Ident::Instance(space, x));
                }
                (3 | 4, Val::Bytes(dps)) => {
                    let is_text = f == 4;
                    let mut dr = Reader::new(dps);
                    while let Some((_, Val::Bytes(dp))) = dr.next_field()? {
                        let mut pr = Reader::new(dp);
                        let mut p = PointIn { ts: Ok(0), value: None, status: None };
                        let mut bad = false;
                        while let Some((pf, pv)) = pr.next_field()? {
                            match (pf, pv) {
                                (1, Val::Varint(t)) => p.ts = Ok(t as i64),
                                (2, Val::Fixed64(bits)) if !is_text => {
                                    p.value = Some(DpValue::Num(f64::from_bits(bits)))
                                }
                                (2, Val::Bytes(s)) if is_text => {
                                    p.value = Some(DpValue::Text(String::from_utf8_lossy(s).into_owned()))
                                }
                                (3, Val::Bytes(st)) => {
                                    let mut sr = Reader::new(st);
                                    while let Some((sf, sv)) = sr.next_field()? {
                                        if let (1, Val::Varint(c)) = (sf, sv) {
                                            bad = (c >> 30) == 2;
                                            p.status = Some(json!({ "code": c }));
                                        }
                                    }
                                }
                                _ => {}
                            }
                        }
                        // proto3 omits zero values: a numeric point without value field is 0.0.
                        if p.value.is_none() && !is_text && !bad {
                            p.value = Some(DpValue::Num(0.0));
                        }
                        if p.value.is_none() && is_text && !bad {
                            p.value = Some(DpValue::Text(String::new()));
                        }
                        points.push(p);
                    }
                }
                _ => {}
            }
        }
        let ident = match (id, xid, instance) {
            (Some(id), None, None) => Ok(Ident::Id(id)),
            (None, Some(x), None) => Ok(Ident::Xid(x)),
            (None, None, Some(i)) => Ok(i),
            _ => Err("exactly one of id, externalId and instanceId is required".to_string()),
        };
        out.push(ItemIn { ident, points });
    }
    Ok(out)
}

/// A series identifier of a read or delete item: `id`, `externalId` or `instanceId`.
fn parse_series_ident(item: &Value, path: &str, extra: &[&str]) -> ApiResult<Ident> {
    let mut keys = extra.to_vec();
    keys.push("instanceId");
    parse_ident(item, path, true, &keys)
}

/// Resolves identifiers to (series id, isString); all unknown ones → 400 with `missing`.
fn resolve_series(project: &Project, idents: &[&Ident], ignore_unknown: bool) -> ApiResult<Vec<Option<(i64, Object)>>> {
    let meta = project.meta.lock();
    let mut out = Vec::with_capacity(idents.len());
    let mut missing: Vec<Value> = Vec::new();
    for ident in idents {
        match meta.timeseries.resolve(ident, true) {
            Some(id) => {
                let ts = &meta.timeseries.items[&id];
                // Only the fields the datapoint responses repeat.
                let mut info = Object::new();
                for k in ["id", "externalId", "instanceId", "isString", "isStep", "unit", "unitExternalId", "type"] {
                    if let Some(v) = ts.get(k) {
                        info.insert(k.into(), v.clone());
                    }
                }
                out.push(Some((id, info)));
            }
            None => {
                let j = ident.to_json();
                if !missing.contains(&j) {
                    missing.push(j);
                }
                out.push(None);
            }
        }
    }
    if !missing.is_empty() && !ignore_unknown {
        return Err(ApiError::missing(missing));
    }
    Ok(out)
}

fn is_string(info: &Object) -> bool {
    info.get("isString").and_then(|v| v.as_bool()).unwrap_or(false)
}

pub fn insert(ctx: &Ctx) -> ApiResult<Reply> {
    let items = if ctx.content_protobuf { parse_protobuf_insert(&ctx.body)? } else { parse_json_insert(&ctx.body)? };
    if items.is_empty() || items.len() > MAX_SERIES_PER_INSERT {
        return Err(ApiError::bad_request(format!("items: size must be between 1 and {MAX_SERIES_PER_INSERT}")));
    }
    let total: usize = items.iter().map(|i| i.points.len()).sum();
    if total > MAX_POINTS_PER_INSERT {
        return Err(ApiError::bad_request(format!(
            "A request may hold at most {MAX_POINTS_PER_INSERT} datapoints in total, got {total}"
        )));
    }
    let mut idents = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        match &item.ident {
            Ok(ident) => idents.push(ident),
            Err(msg) => return Err(ApiError::bad_request(format!("items[{i}]: {msg}"))),
        }
        if item.points.is_empty() {
            return Err(ApiError::bad_request(format!(
                "items[{i}].datapoints: size must be between 1 and {MAX_POINTS_PER_INSERT}"
            )));
        }
    }
    let series = resolve_series(&ctx.project, &idents, false)?;
    // The same identifier twice in one request: 422 (API reference, insert data points: "422
    // Duplicate IDs found. Retry request, keeping only one instance of each duplicated ID.").
    // One series named by id and by externalId is not rejected (no evidence either way).
    {
        let mut seen = std::collections::HashSet::new();
        let mut dups: Vec<Value> = Vec::new();
        for ident in &idents {
            if !seen.insert(*ident) && !dups.contains(&ident.to_json()) {
                dups.push(ident.to_json());
            }
        }
        if !dups.is_empty() {
            let mut e = ApiError::new(422, "Duplicate IDs found. Keep only one instance of each duplicated ID.");
            e.duplicated = dups;
            return Err(e);
        }
    }

    // Validate everything before writing anything: a bad point rejects the whole request.
    let mut statuses: Vec<Vec<Option<StatusIn>>> = Vec::with_capacity(items.len());
    for (i, (item, s)) in items.iter().zip(&series).enumerate() {
        let (_, info) = s.as_ref().expect("resolved");
        let text = is_string(info);
        let mut item_status = Vec::with_capacity(item.points.len());
        for (j, p) in item.points.iter().enumerate() {
            let path = || format!("items[{i}].datapoints[{j}]");
            let st = p.status.as_ref().map(|v| parse_status(v, &path())).transpose()?;
            let bad_status = st.as_ref().is_some_and(|(c, _)| c >> 30 == 2);
            item_status.push(st.filter(|(c, _)| *c != 0));
            let ts = match p.ts {
                Ok(t) => t,
                Err(f) => {
                    return Err(ApiError::bad_request(format!(
                        "{}.timestamp: {f} is not a whole number of milliseconds",
                        path()
                    )))
                }
            };
            if !(MIN_TIMESTAMP_MS..=MAX_TIMESTAMP_MS).contains(&ts) {
                return Err(ApiError::bad_request(format!(
                    "{}.timestamp: {ts} is outside the allowed range [{MIN_TIMESTAMP_MS}, {MAX_TIMESTAMP_MS}] (1900-01-01 to 2099-12-31)",
                    path()
                )));
            }
            match (&p.value, text) {
                (None, _) if bad_status => {}
                // Bad points may carry any value, NaN and ±Infinity too (sent as strings in JSON).
                (Some(DpValue::Num(_)), false) if bad_status => {}
                (Some(DpValue::Text(s)), false) if bad_status && special_number(s).is_some() => {}
                (None, _) => return Err(ApiError::bad_request(format!("{}.value: may not be null", path()))),
                (Some(DpValue::Num(v)), false) => {
                    if !v.is_finite() || v.abs() > MAX_ABS_VALUE {
                        return Err(ApiError::bad_request(format!(
                            "{}.value: numeric values must be between -1e100 and 1e100, got {v}",
                            path()
                        )));
                    }
                }
                (Some(DpValue::Text(s)), false) => {
                    return Err(ApiError::bad_request(format!(
                        "{}.value: expected a numeric value for numeric time series, got string \"{}\"",
                        path(),
                        s.chars().take(40).collect::<String>()
                    )))
                }
                (Some(DpValue::Text(s)), true) => {
                    if s.chars().count() > MAX_STRING_VALUE_CHARS {
                        return Err(ApiError::bad_request(format!(
                            "{}.value: string values can be at most {MAX_STRING_VALUE_CHARS} characters",
                            path()
                        )));
                    }
                }
                (Some(DpValue::Num(_)), true) => {
                    return Err(ApiError::bad_request(format!(
                        "{}.value: expected a string value for string time series",
                        path()
                    )))
                }
            }
        }
        statuses.push(item_status);
    }

    let mut store = ctx.project.datapoints.lock();
    for ((item, s), item_status) in items.into_iter().zip(series).zip(statuses) {
        let (id, info) = s.expect("resolved");
        let series = store.entry(id).or_insert_with(|| Series::new(is_string(&info)));
        let Series { data, status } = series;
        for (p, st) in item.points.into_iter().zip(item_status) {
            let Ok(ts) = p.ts else { continue };
            let no_value = p.value.is_none();
            match (&mut *data, p.value) {
                (SeriesData::Numeric(m), Some(DpValue::Num(v))) => {
                    m.insert(ts, v);
                }
                (SeriesData::Numeric(m), Some(DpValue::Text(t))) => {
                    m.insert(ts, special_number(&t).unwrap_or(f64::NAN));
                }
                (SeriesData::Numeric(m), None) => {
                    m.insert(ts, f64::NAN);
                }
                (SeriesData::Text(m), Some(DpValue::Text(v))) => {
                    m.insert(ts, v);
                }
                (SeriesData::Text(m), _) => {
                    m.insert(ts, String::new());
                }
            }
            // A Good point overwriting a bad one clears the old status.
            match st {
                Some((code, symbol)) => {
                    status.insert(ts, PointStatus { code, symbol, no_value });
                }
                None => {
                    status.remove(&ts);
                }
            }
        }
    }
    Ok(Reply::empty(200, total as u64))
}

/// `"NaN"`, `"Infinity"`, `"-Infinity"`: how JSON carries the non-finite values of bad points.
fn special_number(s: &str) -> Option<f64> {
    match s {
        "NaN" => Some(f64::NAN),
        "Infinity" => Some(f64::INFINITY),
        "-Infinity" => Some(f64::NEG_INFINITY),
        _ => None,
    }
}

// ---------------------------------------------------------------- time arguments

/// `start`/`end`/`before`: ms since epoch, `"now"`, or `"<n><unit>-ago"` / `"<n><unit>-ahead"`.
pub fn parse_time(v: &Value, path: &str) -> ApiResult<i64> {
    if let Some(n) = v.as_i64() {
        return Ok(n);
    }
    if let Some(f) = v.as_f64() {
        return Ok(f as i64);
    }
    let s = v.as_str().ok_or_else(|| {
        ApiError::bad_request(format!("{path}: must be a timestamp in ms or a time string like \"2d-ago\""))
    })?;
    if s == "now" {
        return Ok(now_ms());
    }
    let (body, sign) = if let Some(b) = s.strip_suffix("-ago") {
        (b, -1)
    } else if let Some(b) = s.strip_suffix("-ahead") {
        (b, 1)
    } else if let Ok(n) = s.parse::<i64>() {
        return Ok(n);
    } else {
        return Err(ApiError::bad_request(format!("{path}: invalid time \"{s}\"")));
    };
    let split = body.find(|c: char| !c.is_ascii_digit()).unwrap_or(body.len());
    let (num, unit) = body.split_at(split);
    let n: i64 = num.parse().map_err(|_| ApiError::bad_request(format!("{path}: invalid time \"{s}\"")))?;
    let unit_ms = match unit {
        "ms" => 1,
        "s" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "w" => 604_800_000,
        _ => return Err(ApiError::bad_request(format!("{path}: invalid time unit in \"{s}\""))),
    };
    Ok(now_ms() + sign * n * unit_ms)
}

// ---------------------------------------------------------------- list

const LIST_ITEM_KEYS: &[&str] = &[
    "id",
    "externalId",
    "start",
    "end",
    "limit",
    "cursor",
    "includeOutsidePoints",
    "aggregates",
    "granularity",
    "ignoreBadDataPoints",
    "treatUncertainAsBad",
    "includeStatus",
    "timeZone",
    "targetUnit",
    "targetUnitSystem",
];

struct Query {
    start: i64,
    end: i64,
    limit: usize,
    include_outside: bool,
    first_page: bool,
    filter: StatusFilter,
}

/// Which points a read returns, and whether with their status: `ignoreBadDataPoints`
/// (default true) leaves Bad points out, `treatUncertainAsBad` (default true) counts Uncertain
/// ones as Bad, `includeStatus` (default false) adds `status` to points that are not Good
/// (Good points never carry it). Source: API reference, retrieve data points; docs.cognite.com
/// time series "Status codes" ("By default, only Good data points are returned").
#[derive(Debug, Clone, Copy)]
struct StatusFilter {
    ignore_bad: bool,
    uncertain_as_bad: bool,
    include_status: bool,
}

impl StatusFilter {
    fn from(q: &Map<String, Value>) -> ApiResult<StatusFilter> {
        let flag = |k: &str, default: bool| -> ApiResult<bool> {
            match q.get(k) {
                None | Some(Value::Null) => Ok(default),
                Some(Value::Bool(b)) => Ok(*b),
                Some(_) => Err(ApiError::bad_request(format!("{k}: must be a boolean"))),
            }
        };
        Ok(StatusFilter {
            ignore_bad: flag("ignoreBadDataPoints", true)?,
            uncertain_as_bad: flag("treatUncertainAsBad", true)?,
            include_status: flag("includeStatus", false)?,
        })
    }

    fn keep(&self, st: Option<&PointStatus>) -> bool {
        match st {
            None => true,
            Some(s) => !(self.ignore_bad && (s.is_bad() || (self.uncertain_as_bad && s.is_uncertain()))),
        }
    }

    fn out(&self, st: Option<&PointStatus>) -> Option<PointStatus> {
        st.filter(|_| self.include_status).cloned()
    }
}

/// Points of one series read by a list query.
#[derive(Default)]
struct Collected {
    /// Points in [start, end) after the cursor.
    points: Vec<(i64, DpOut)>,
    /// Timestamp of the last point returned when more remain.
    next: Option<i64>,
    /// With `includeOutsidePoints`: the points just before start and at/after end.
    outside: Vec<(i64, DpOut)>,
}

/// One series' points in [start, end) after the cursor, as (timestamp, value) pairs.
fn collect_points(series: Option<&Series>, q: &Query, after: Option<i64>) -> Collected {
    let lo = match after {
        Some(a) => Bound::Excluded(a.max(q.start - 1)),
        None => Bound::Included(q.start),
    };
    let hi = Bound::Excluded(q.end);
    let mut acc = Collected::default();
    fn go<V: Clone>(
        m: &BTreeMap<i64, V>,
        status: &BTreeMap<i64, PointStatus>,
        lo: Bound<i64>,
        hi: Bound<i64>,
        q: &Query,
        wrap: fn(V) -> DpVal,
        acc: &mut Collected,
    ) {
        if q.start >= q.end {
            return;
        }
        let point = |ts: &i64, v: &V| {
            let st = status.get(ts);
            let value = if st.is_some_and(|s| s.no_value) { DpVal::Missing } else { wrap(v.clone()) };
            (*ts, DpOut { value, status: q.filter.out(st) })
        };
        let kept = |ts: &i64| q.filter.keep(status.get(ts));
        for (ts, v) in m.range((lo, hi)).filter(|(ts, _)| kept(ts)) {
            if acc.points.len() == q.limit {
                acc.next = acc.points.last().map(|(t, _)| *t);
                break;
            }
            acc.points.push(point(ts, v));
        }
        if q.include_outside && q.first_page {
            if let Some((ts, v)) = m.range(..q.start).rev().find(|(ts, _)| kept(ts)) {
                acc.outside.push(point(ts, v));
            }
            if acc.next.is_none() {
                if let Some((ts, v)) = m.range(q.end..).find(|(ts, _)| kept(ts)) {
                    acc.outside.push(point(ts, v));
                }
            }
        }
    }
    match series {
        Some(Series { data: SeriesData::Numeric(m), status }) => go(m, status, lo, hi, q, DpVal::Num, &mut acc),
        Some(Series { data: SeriesData::Text(m), status }) => go(m, status, lo, hi, q, DpVal::Text, &mut acc),
        None => {}
    }
    acc
}

/// One series of a list response: its metadata, its points and the cursor of its next page.
type SeriesOut = (Object, Vec<(i64, DpOut)>, Option<String>);

#[derive(Clone)]
pub enum DpVal {
    Num(f64),
    Text(String),
    /// A Bad point stored without value.
    Missing,
}

/// One point of a response: its value and, with `includeStatus`, its status if not Good.
#[derive(Clone)]
pub struct DpOut {
    value: DpVal,
    status: Option<PointStatus>,
}

impl DpVal {
    fn json(&self) -> Option<Value> {
        match self {
            DpVal::Num(v) if v.is_nan() => Some(json!("NaN")),
            DpVal::Num(v) if v.is_infinite() => Some(json!(if *v > 0.0 { "Infinity" } else { "-Infinity" })),
            DpVal::Num(v) => Some(json!(v)),
            DpVal::Text(s) => Some(json!(s)),
            DpVal::Missing => None,
        }
    }
}

impl DpOut {
    fn json(&self, ts: i64) -> Value {
        let mut o = json!({ "timestamp": ts });
        if let Some(v) = self.value.json() {
            o["value"] = v;
        }
        if let Some(st) = &self.status {
            o["status"] = st.json();
        }
        o
    }
}

fn dp_cursor(ts: i64) -> String {
    format!("d{ts}")
}

fn parse_dp_cursor(c: &str) -> ApiResult<i64> {
    c.strip_prefix('d')
        .and_then(|t| t.parse().ok())
        .ok_or_else(|| ApiError::bad_request(format!("Invalid cursor: {c}")))
}

pub fn list(ctx: &Ctx, body: &Value) -> ApiResult<Reply> {
    let top = body_object(body)?;
    let mut allowed: Vec<&str> =
        LIST_ITEM_KEYS.iter().copied().filter(|k| !matches!(*k, "id" | "externalId" | "cursor")).collect();
    allowed.extend(["items", "ignoreUnknownIds"]);
    check_keys(top, &allowed, "")?;
    let list = items(top, 100)?;
    let ignore = get_bool(top, "ignoreUnknownIds")?;
    let mut queries: Vec<(Ident, Map<String, Value>)> = Vec::with_capacity(list.len());
    for (i, item) in list.iter().enumerate() {
        let path = format!("items[{i}]");
        let ident = parse_series_ident(item, &path, &LIST_ITEM_KEYS[2..])?;
        // Item settings override the top-level defaults.
        let mut merged = top.clone();
        merged.remove("items");
        for (k, v) in item.as_object().expect("checked") {
            merged.insert(k.clone(), v.clone());
        }
        queries.push((ident, merged));
    }
    let idents: Vec<&Ident> = queries.iter().map(|(i, _)| i).collect();
    let wants_aggregates = |q: &Map<String, Value>| q.get("aggregates").is_some_and(|a| !a.is_null());
    if queries.iter().any(|(_, q)| wants_aggregates(q)) {
        if queries.iter().any(|(_, q)| !wants_aggregates(q)) {
            return Err(ApiError::bad_request("aggregates: every item of a request must ask for aggregates, or none"));
        }
        let series = resolve_series(&ctx.project, &idents, ignore)?;
        return list_aggregates(ctx, &queries, series);
    }
    let series = resolve_series(&ctx.project, &idents, ignore)?;
    let now = now_ms();
    let store = ctx.project.datapoints.lock();
    let mut items_out: Vec<SeriesOut> = Vec::new();
    let mut total = 0usize;
    for (i, ((_, q), s)) in queries.iter().zip(series).enumerate() {
        let Some((id, info)) = s else { continue };
        let path = format!("items[{i}]");
        let start = q
            .get("start")
            .filter(|v| !v.is_null())
            .map(|v| parse_time(v, &format!("{path}.start")))
            .transpose()?
            .unwrap_or(0);
        let end = q
            .get("end")
            .filter(|v| !v.is_null())
            .map(|v| parse_time(v, &format!("{path}.end")))
            .transpose()?
            .unwrap_or(now + 1);
        let limit = match q.get("limit") {
            None | Some(Value::Null) => 100,
            Some(v) => match v.as_i64() {
                Some(-1) => MAX_RAW_LIST_LIMIT,
                Some(n) if (0..=MAX_RAW_LIST_LIMIT as i64).contains(&n) => n as usize,
                _ => {
                    return Err(ApiError::bad_request(format!(
                        "{path}.limit: must be between 0 and {MAX_RAW_LIST_LIMIT}"
                    )))
                }
            },
        };
        let include_outside = q.get("includeOutsidePoints").and_then(|v| v.as_bool()).unwrap_or(false);
        let after = match q.get("cursor") {
            Some(Value::String(c)) if !c.is_empty() => Some(parse_dp_cursor(c)?),
            _ => None,
        };
        let query =
            Query { start, end, limit, include_outside, first_page: after.is_none(), filter: StatusFilter::from(q)? };
        let Collected { mut points, next, outside } = collect_points(store.get(&id), &query, after);
        total += points.len();
        if !outside.is_empty() {
            points.extend(outside);
            points.sort_by_key(|(t, _)| *t);
        }
        items_out.push((info, points, next.map(dp_cursor)));
    }
    drop(store);
    if total > MAX_RAW_LIST_LIMIT {
        return Err(ApiError::bad_request(format!(
            "The sum of limits may be at most {MAX_RAW_LIST_LIMIT} raw datapoints per request"
        )));
    }
    if ctx.accept_protobuf {
        let mut w = Writer::new();
        for (info, points, next) in &items_out {
            w.message(1, |m| {
                m.int64(1, info.get("id").and_then(|v| v.as_i64()).unwrap_or(0));
                if let Some(x) = info.get("externalId").and_then(|v| v.as_str()) {
                    m.string(2, x);
                }
                // InstanceId instanceId = 11 (cognite-sdk-rust `data_point_list_response.proto`).
                if let Some(i) = info.get("instanceId") {
                    m.message(11, |im| {
                        im.string(1, i["space"].as_str().unwrap_or(""));
                        im.string(2, i["externalId"].as_str().unwrap_or(""));
                    });
                }
                let text = is_string(info);
                m.boolean(6, text);
                m.boolean(7, info.get("isStep").and_then(|v| v.as_bool()).unwrap_or(false));
                if let Some(u) = info.get("unit").and_then(|v| v.as_str()) {
                    m.string(8, u);
                }
                if let Some(c) = next {
                    m.string(9, c);
                }
                if let Some(u) = info.get("unitExternalId").and_then(|v| v.as_str()) {
                    m.string(10, u);
                }
                m.int64(12, if text { 2 } else { 1 });
                m.message(if text { 4 } else { 3 }, |dps| {
                    for (ts, v) in points {
                        // NumericDatapoint / StringDatapoint: timestamp = 1, value = 2,
                        // Status status = 3 { code = 1, symbol = 2 }, bool nullValue = 4.
                        dps.message(1, |p| {
                            p.int64(1, *ts);
                            match &v.value {
                                DpVal::Num(x) => p.double(2, *x),
                                DpVal::Text(s) => p.string(2, s),
                                DpVal::Missing => p.boolean(4, true),
                            }
                            if let Some(st) = &v.status {
                                p.message(3, |sm| {
                                    sm.int64(1, i64::from(st.code));
                                    sm.string(2, &st.symbol());
                                });
                            }
                        });
                    }
                });
            });
        }
        return Ok(Reply { status: 200, body: w.buf, content_type: "application/protobuf", items: total as u64 });
    }
    let out: Vec<Value> = items_out
        .into_iter()
        .map(|(info, points, next)| {
            let mut o = info;
            o.insert("datapoints".into(), Value::Array(points.iter().map(|(t, v)| v.json(*t)).collect()));
            if let Some(c) = next {
                o.insert("nextCursor".into(), json!(c));
            }
            Value::Object(o)
        })
        .collect();
    Ok(Reply::json(200, &json!({ "items": out }), total as u64))
}

// ---------------------------------------------------------------- aggregates

/// The aggregates the emulator computes, as CDF names them. The others (twa, interpolation,
/// variances, ...) are refused with 400 rather than approximated.
pub const AGGREGATES: &[&str] = &["average", "min", "max", "count", "sum"];
pub const MAX_AGGREGATE_LIST_LIMIT: usize = 10_000;

/// A granularity such as `1h`, `15m`, `2d` or `hour`: (size, unit in ms). Months, quarters,
/// years and weeks are not emulated (their calendar alignment needs time zones).
pub fn parse_granularity(g: &str) -> Option<(i64, i64)> {
    let split = g.find(|c: char| !c.is_ascii_digit()).unwrap_or(g.len());
    let (size, unit) = g.split_at(split);
    let size: i64 = if size.is_empty() { 1 } else { size.parse().ok()? };
    let unit_ms = match unit {
        "s" | "second" => 1000,
        "m" | "t" | "minute" => 60_000,
        "h" | "hour" => 3_600_000,
        "d" | "day" => 86_400_000,
        _ => return None,
    };
    (size > 0).then_some((size, unit_ms))
}

/// One aggregate interval of a series: the points kept by the status filter, in timestamp
/// order, and how many of them carry a value (a Bad point may be stored without one).
#[derive(Default)]
struct Interval {
    count: u64,
    values: Vec<f64>,
}

/// Which aggregates of an interval are sent: `count` always (it counts every point the
/// status filter keeps), the others only when the interval has a value. `average` is the plain
/// mean of the values (not time-weighted: that is `twa`), `sum` adds them in timestamp order.
/// Sources: docs.cognite.com/dev/concepts/aggregation ("Aggregation functions"); the API
/// reference of retrieve data points (`count`, `average`, `sum`, `min`, `max`).
fn interval_json(start: i64, interval: &Interval, aggregates: &[String]) -> Value {
    let mut o = json!({ "timestamp": start });
    let number = |v: f64| DpVal::Num(v).json().unwrap_or(Value::Null);
    for a in aggregates {
        let v = match a.as_str() {
            "count" => Some(json!(interval.count)),
            _ if interval.values.is_empty() => None,
            "sum" | "average" => {
                let sum = interval.values.iter().fold(0.0, |acc, v| acc + v);
                Some(number(if a == "sum" { sum } else { sum / interval.values.len() as f64 }))
            }
            "min" => Some(number(interval.values.iter().copied().fold(f64::INFINITY, f64::min))),
            "max" => Some(number(interval.values.iter().copied().fold(f64::NEG_INFINITY, f64::max))),
            _ => None,
        };
        if let Some(v) = v {
            o[a.as_str()] = v;
        }
    }
    o
}

/// `/timeseries/data/list` with `aggregates` and `granularity`: intervals aligned to the start
/// rounded down to a whole granularity unit ("Aggregates are aligned to the start time modulo of
/// the granularity unit", docs.cognite.com/dev/concepts/aggregation), each `size` units long,
/// covering points in [aligned start, end); intervals without points are left out. Aggregates
/// count Bad points only with `ignoreBadDataPoints: false` (the default leaves them out), as
/// raw reads do. String series have no aggregates here (400).
fn list_aggregates(
    ctx: &Ctx,
    queries: &[(Ident, Map<String, Value>)],
    series: Vec<Option<(i64, Object)>>,
) -> ApiResult<Reply> {
    let now = now_ms();
    let store = ctx.project.datapoints.lock();
    let mut out = Vec::new();
    let mut total = 0usize;
    for (i, ((_, q), s)) in queries.iter().zip(series).enumerate() {
        let Some((id, mut info)) = s else { continue };
        let path = format!("items[{i}]");
        let aggregates: Vec<String> = match q.get("aggregates").and_then(|a| a.as_array()) {
            Some(list) if !list.is_empty() => list
                .iter()
                .map(|a| match a.as_str() {
                    Some(name) if AGGREGATES.contains(&name) => Ok(name.to_string()),
                    _ => Err(ApiError::bad_request(format!(
                        "{path}.aggregates: {a} is not supported by the emulator (supported: {})",
                        AGGREGATES.join(", ")
                    ))),
                })
                .collect::<ApiResult<_>>()?,
            _ => return Err(ApiError::bad_request(format!("{path}.aggregates: must be a non-empty list"))),
        };
        let granularity = q.get("granularity").and_then(|g| g.as_str()).unwrap_or("");
        let Some((size, unit)) = parse_granularity(granularity) else {
            return Err(ApiError::bad_request(format!(
                "{path}.granularity: \"{granularity}\" is not a granularity the emulator supports (N s/m/h/d)"
            )));
        };
        if q.get("timeZone").is_some_and(|z| !z.is_null() && z.as_str() != Some("UTC") && z.as_str() != Some("Z")) {
            return Err(ApiError::bad_request(format!("{path}.timeZone: only UTC is emulated")));
        }
        let time = |k: &str, default: i64| -> ApiResult<i64> {
            q.get(k)
                .filter(|v| !v.is_null())
                .map(|v| parse_time(v, &format!("{path}.{k}")))
                .transpose()
                .map(|t| t.unwrap_or(default))
        };
        let (start, end) = (time("start", 0)?, time("end", now + 1)?);
        let limit = match q.get("limit") {
            None | Some(Value::Null) => 100,
            Some(v) => match v.as_i64() {
                Some(-1) => MAX_AGGREGATE_LIST_LIMIT,
                Some(n) if (0..=MAX_AGGREGATE_LIST_LIMIT as i64).contains(&n) => n as usize,
                _ => {
                    return Err(ApiError::bad_request(format!(
                        "{path}.limit: must be between 0 and {MAX_AGGREGATE_LIST_LIMIT} for aggregates"
                    )))
                }
            },
        };
        let after = match q.get("cursor") {
            Some(Value::String(c)) if !c.is_empty() => Some(parse_dp_cursor(c)?),
            _ => None,
        };
        if is_string(&info) {
            return Err(ApiError::bad_request(format!("{path}: aggregates are not supported for string time series")));
        }
        let filter = StatusFilter::from(q)?;
        let aligned = start.div_euclid(unit) * unit;
        let width = size * unit;
        let mut intervals: BTreeMap<i64, Interval> = BTreeMap::new();
        match store.get(&id) {
            Some(Series { data: SeriesData::Numeric(m), status }) => {
                let lo = after.map_or(aligned, |a| a + width).max(aligned);
                for (ts, v) in m.range(lo..end.max(lo)) {
                    let st = status.get(ts);
                    if !filter.keep(st) {
                        continue;
                    }
                    let interval = intervals.entry(aligned + (ts - aligned).div_euclid(width) * width).or_default();
                    interval.count += 1;
                    if !st.is_some_and(|s| s.no_value) {
                        interval.values.push(*v);
                    }
                }
            }
            Some(Series { data: SeriesData::Text(_), .. }) | None => {}
        }
        let more = intervals.len() > limit;
        let points: Vec<Value> =
            intervals.iter().take(limit).map(|(t, interval)| interval_json(*t, interval, &aggregates)).collect();
        total += points.len();
        if more {
            let last = points.last().and_then(|p| p["timestamp"].as_i64()).unwrap_or(aligned);
            info.insert("nextCursor".into(), json!(dp_cursor(last)));
        }
        info.insert("datapoints".into(), Value::Array(points));
        out.push(Value::Object(info));
    }
    Ok(Reply::json(200, &json!({ "items": out }), total as u64))
}

// ---------------------------------------------------------------- latest, delete, dump

pub fn latest(ctx: &Ctx, body: &Value) -> ApiResult<Reply> {
    let top = body_object(body)?;
    check_keys(top, &["items", "ignoreUnknownIds", "includeStatus", "ignoreBadDataPoints", "treatUncertainAsBad"], "")?;
    let list = items(top, 100)?;
    let ignore = get_bool(top, "ignoreUnknownIds")?;
    let mut queries = Vec::with_capacity(list.len());
    for (i, item) in list.iter().enumerate() {
        let path = format!("items[{i}]");
        let ident = parse_series_ident(
            item,
            &path,
            &[
                "before",
                "includeStatus",
                "ignoreBadDataPoints",
                "treatUncertainAsBad",
                "targetUnit",
                "targetUnitSystem",
            ],
        )?;
        let before = item
            .get("before")
            .filter(|v| !v.is_null())
            .map(|v| parse_time(v, &format!("{path}.before")))
            .transpose()?
            .unwrap_or_else(now_ms);
        let mut merged = top.clone();
        for (k, v) in item.as_object().expect("checked") {
            merged.insert(k.clone(), v.clone());
        }
        queries.push((ident, before, StatusFilter::from(&merged)?));
    }
    let idents: Vec<&Ident> = queries.iter().map(|(i, _, _)| i).collect();
    let series = resolve_series(&ctx.project, &idents, ignore)?;
    let store = ctx.project.datapoints.lock();
    let mut out = Vec::new();
    for ((_, before, filter), s) in queries.iter().zip(series) {
        let Some((id, mut info)) = s else { continue };
        fn last<V: Clone>(
            m: &BTreeMap<i64, V>,
            status: &BTreeMap<i64, PointStatus>,
            before: i64,
            filter: &StatusFilter,
            wrap: fn(V) -> DpVal,
        ) -> Option<Value> {
            let (ts, v) = m.range(..before).rev().find(|(ts, _)| filter.keep(status.get(ts)))?;
            let st = status.get(ts);
            let value = if st.is_some_and(|s| s.no_value) { DpVal::Missing } else { wrap(v.clone()) };
            Some(DpOut { value, status: filter.out(st) }.json(*ts))
        }
        let point = match store.get(&id) {
            Some(Series { data: SeriesData::Numeric(m), status }) => last(m, status, *before, filter, DpVal::Num),
            Some(Series { data: SeriesData::Text(m), status }) => last(m, status, *before, filter, DpVal::Text),
            None => None,
        };
        info.insert("datapoints".into(), Value::Array(point.into_iter().collect()));
        out.push(Value::Object(info));
    }
    Ok(Reply::items(200, out, 0))
}

pub fn delete(ctx: &Ctx, body: &Value) -> ApiResult<Reply> {
    let top = body_object(body)?;
    check_keys(top, &["items"], "")?;
    let list = items(top, 10_000)?;
    let mut ranges = Vec::with_capacity(list.len());
    for (i, item) in list.iter().enumerate() {
        let path = format!("items[{i}]");
        let ident = parse_series_ident(item, &path, &["inclusiveBegin", "exclusiveEnd"])?;
        let begin = item
            .get("inclusiveBegin")
            .filter(|v| !v.is_null())
            .map(|v| parse_time(v, &format!("{path}.inclusiveBegin")))
            .transpose()?
            .ok_or_else(|| ApiError::bad_request(format!("{path}.inclusiveBegin: may not be null")))?;
        let end = item
            .get("exclusiveEnd")
            .filter(|v| !v.is_null())
            .map(|v| parse_time(v, &format!("{path}.exclusiveEnd")))
            .transpose()?
            .unwrap_or(begin + 1);
        ranges.push((ident, begin, end));
    }
    let idents: Vec<&Ident> = ranges.iter().map(|(i, _, _)| i).collect();
    let series = resolve_series(&ctx.project, &idents, false)?;
    let mut store = ctx.project.datapoints.lock();
    for ((_, begin, end), s) in ranges.iter().zip(series) {
        let (id, _) = s.expect("resolved");
        if let Some(series) = store.get_mut(&id) {
            series.delete_range(*begin, *end);
        }
    }
    Ok(Reply::empty(200, ranges.len() as u64))
}

/// `/_admin/dump/{project}/timeseries/data`: one item per series, in creation order.
pub fn dump(project: &Project) -> Vec<Value> {
    let series: Vec<(i64, Option<Value>, bool)> = {
        let meta = project.meta.lock();
        meta.timeseries.items.iter().map(|(id, o)| (*id, o.get("externalId").cloned(), is_string(o))).collect()
    };
    let store = project.datapoints.lock();
    series
        .into_iter()
        .map(|(id, xid, text)| {
            // Every point, with `status` on those that are not Good.
            let all = StatusFilter { ignore_bad: false, uncertain_as_bad: false, include_status: true };
            fn every<V: Clone>(
                m: &BTreeMap<i64, V>,
                status: &BTreeMap<i64, PointStatus>,
                filter: &StatusFilter,
                wrap: fn(V) -> DpVal,
            ) -> Vec<Value> {
                m.iter()
                    .map(|(ts, v)| {
                        let st = status.get(ts);
                        let value = if st.is_some_and(|s| s.no_value) { DpVal::Missing } else { wrap(v.clone()) };
                        DpOut { value, status: filter.out(st) }.json(*ts)
                    })
                    .collect()
            }
            let points: Vec<Value> = match store.get(&id) {
                Some(Series { data: SeriesData::Numeric(m), status }) => every(m, status, &all, DpVal::Num),
                Some(Series { data: SeriesData::Text(m), status }) => every(m, status, &all, DpVal::Text),
                None => Vec::new(),
            };
            let mut o = json!({"id": id, "isString": text, "datapoints": points});
            if let Some(x) = xid {
                o["externalId"] = x;
            }
            o
        })
        .collect()
}
