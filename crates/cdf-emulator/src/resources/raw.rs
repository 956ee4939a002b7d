//! RAW: databases, tables and rows. Rows keep their columns as the JSON text received, so an
//! insert is a parse-validate-copy and a read writes the stored text back out.

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::ops::Bound;

use super::generic::*;
use super::project::Project;
use super::{Ctx, Op, Reply, Route};
use crate::errors::{ApiError, ApiResult};
use crate::store::now_ms;

pub const MAX_ROWS_PER_INSERT: usize = 10_000;
pub const MAX_KEY_CHARS: usize = 1024;
pub const MAX_ROW_BYTES: usize = 5 * 1024 * 1024;
pub const MAX_DB_NAME: usize = 32;
pub const MAX_TABLE_NAME: usize = 64;

pub struct RawRow {
    pub columns: Box<str>,
    pub last_updated: i64,
    /// When the key was first inserted: row lists see it `list_delay_ms` later.
    pub created: i64,
}

pub struct RawTable {
    pub created: i64,
    pub rows: BTreeMap<String, RawRow>,
}

pub struct RawDb {
    pub created: i64,
    pub tables: BTreeMap<String, RawTable>,
}

#[derive(Default)]
pub struct RawStore {
    pub dbs: BTreeMap<String, RawDb>,
}

fn db_not_found(db: &str) -> ApiError {
    let mut e = ApiError::not_found(format!("Following databases not found: {db}"));
    e.missing = vec![json!({ "name": db })];
    e
}

fn table_not_found(table: &str) -> ApiError {
    let mut e = ApiError::not_found(format!("Following tables not found: {table}"));
    e.missing = vec![json!({ "name": table })];
    e
}

fn check_name(name: &str, max: usize, path: &str) -> ApiResult<()> {
    let n = name.chars().count();
    if n == 0 || n > max {
        return Err(ApiError::bad_request(format!("{path}: size must be between 1 and {max}")));
    }
    Ok(())
}

/// `tableScope {dbsToTables: {db: [tables]}}` limits RAW access to those databases/tables.
pub fn check_table_scope(scope: &Value, route: &Route) -> ApiResult<()> {
    let Some(map) = scope.get("tableScope").and_then(|t| t.get("dbsToTables")).and_then(|m| m.as_object()) else {
        return Ok(());
    };
    let Some(db) = route.params.first().filter(|_| route.acl == "rawAcl") else { return Ok(()) };
    let denied =
        || ApiError::forbidden(format!("Forbidden: missing capability rawAcl:{} for database '{db}'", route.action));
    let tables = map.get(db).ok_or_else(denied)?;
    let list: Vec<&str> = match tables {
        Value::Array(a) => a.iter().filter_map(|t| t.as_str()).collect(),
        Value::Object(o) => o
            .get("tables")
            .and_then(|t| t.as_array())
            .map(|a| a.iter().filter_map(|t| t.as_str()).collect())
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    if let Some(table) =
        route.params.get(1).filter(|_| !matches!(route.op, Op::RawTableList | Op::RawTableCreate | Op::RawTableDelete))
    {
        if !list.is_empty() && !list.contains(&table.as_str()) {
            return Err(ApiError::forbidden(format!(
                "Forbidden: missing capability rawAcl:{} for table '{db}.{table}'",
                route.action
            )));
        }
    }
    Ok(())
}

fn name_items(body: &Value, path_max: usize) -> ApiResult<Vec<String>> {
    let top = body_object(body)?;
    check_keys(top, &["items", "recursive"], "")?;
    let list = items(top, 1000)?;
    list.iter()
        .enumerate()
        .map(|(i, it)| {
            let o = it.as_object().ok_or_else(|| ApiError::bad_request(format!("items[{i}]: must be an object")))?;
            check_keys(o, &["name"], &format!("items[{i}]"))?;
            let name = o
                .get("name")
                .and_then(|n| n.as_str())
                .ok_or_else(|| ApiError::bad_request(format!("items[{i}].name: may not be null")))?;
            check_name(name, path_max, &format!("items[{i}].name"))?;
            Ok(name.to_string())
        })
        .collect()
}

fn name_page<V>(map: &BTreeMap<String, V>, ctx: &Ctx, created: impl Fn(&V) -> i64) -> ApiResult<Reply> {
    let limit = match ctx.query.get("limit") {
        Some(l) => l
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=1000).contains(n))
            .ok_or_else(|| ApiError::bad_request("limit: must be between 1 and 1000"))?,
        None => 25,
    };
    let after = ctx.query.get("cursor").map(|c| decode_key_cursor(c)).transpose()?;
    let lo = after.as_ref().map(|a| Bound::Excluded(a.start.clone())).unwrap_or(Bound::Unbounded);
    let mut out = Vec::new();
    let mut next = None;
    for (name, v) in map.range::<String, _>((lo, Bound::Unbounded)) {
        if out.len() == limit {
            next = out.last().and_then(|o: &Value| o["name"].as_str().map(|s| key_cursor(s, None, false)));
            break;
        }
        out.push(json!({ "name": name, "createdTime": created(v) }));
    }
    let mut resp = json!({ "items": out });
    if let Some(n) = next {
        resp["nextCursor"] = json!(n);
    }
    let n = resp["items"].as_array().map(|a| a.len()).unwrap_or(0) as u64;
    Ok(Reply::json(200, &resp, n))
}

pub fn db_list(ctx: &Ctx) -> ApiResult<Reply> {
    let raw = ctx.project.raw.lock();
    name_page(&raw.dbs, ctx, |d| d.created)
}

pub fn db_create(ctx: &Ctx, body: &Value) -> ApiResult<Reply> {
    let names = name_items(body, MAX_DB_NAME)?;
    let mut raw = ctx.project.raw.lock();
    let mut dups: Vec<Value> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for n in &names {
        if raw.dbs.contains_key(n) || !seen.insert(n) {
            dups.push(json!({ "name": n }));
        }
    }
    if !dups.is_empty() {
        let mut e = ApiError::bad_request("Databases already created");
        e.duplicated = dups;
        return Err(e);
    }
    let now = now_ms();
    let out = names
        .iter()
        .map(|n| {
            raw.dbs.insert(n.clone(), RawDb { created: now, tables: BTreeMap::new() });
            json!({ "name": n, "createdTime": now })
        })
        .collect();
    Ok(Reply::items(201, out, 0))
}

pub fn db_delete(ctx: &Ctx, body: &Value) -> ApiResult<Reply> {
    let names = name_items(body, MAX_DB_NAME)?;
    let recursive = get_bool(body.as_object().expect("checked"), "recursive")?;
    let mut raw = ctx.project.raw.lock();
    let missing: Vec<Value> =
        names.iter().filter(|n| !raw.dbs.contains_key(*n)).map(|n| json!({ "name": n })).collect();
    if !missing.is_empty() {
        // As recorded against CDF (cognite-sdk-scala RawTest cassettes): every unknown name in
        // request order, repeats included, in the message and in `missing`.
        let names: Vec<&str> = missing.iter().filter_map(|m| m["name"].as_str()).collect();
        let mut e = ApiError::not_found(format!("Following databases not found: {}", names.join(", ")));
        e.missing = missing;
        return Err(e);
    }
    if !recursive {
        if let Some(n) = names.iter().find(|n| !raw.dbs[*n].tables.is_empty()) {
            return Err(ApiError::bad_request(format!("Database '{n}' is not empty; delete it with recursive=true")));
        }
    }
    for n in &names {
        raw.dbs.remove(n);
    }
    Ok(Reply::empty(200, names.len() as u64))
}

pub fn table_list(ctx: &Ctx, db: &str) -> ApiResult<Reply> {
    let raw = ctx.project.raw.lock();
    let d = raw.dbs.get(db).ok_or_else(|| db_not_found(db))?;
    name_page(&d.tables, ctx, |t| t.created)
}

fn ensure_db<'a>(raw: &'a mut RawStore, db: &str, ensure: bool, now: i64) -> ApiResult<&'a mut RawDb> {
    if !raw.dbs.contains_key(db) {
        if !ensure {
            return Err(db_not_found(db));
        }
        check_name(db, MAX_DB_NAME, "database name")?;
        raw.dbs.insert(db.to_string(), RawDb { created: now, tables: BTreeMap::new() });
    }
    Ok(raw.dbs.get_mut(db).expect("present"))
}

pub fn table_create(ctx: &Ctx, db: &str, body: &Value) -> ApiResult<Reply> {
    let names = name_items(body, MAX_TABLE_NAME)?;
    let ensure = ctx.query_bool("ensureParent")?;
    let now = now_ms();
    let mut raw = ctx.project.raw.lock();
    let d = ensure_db(&mut raw, db, ensure, now)?;
    let mut seen = std::collections::HashSet::new();
    let dups: Vec<Value> =
        names.iter().filter(|n| d.tables.contains_key(*n) || !seen.insert(*n)).map(|n| json!({ "name": n })).collect();
    if !dups.is_empty() {
        let mut e = ApiError::bad_request("Tables already created");
        e.duplicated = dups;
        return Err(e);
    }
    let out = names
        .iter()
        .map(|n| {
            d.tables.insert(n.clone(), RawTable { created: now, rows: BTreeMap::new() });
            json!({ "name": n, "createdTime": now })
        })
        .collect();
    Ok(Reply::items(201, out, 0))
}

pub fn table_delete(ctx: &Ctx, db: &str, body: &Value) -> ApiResult<Reply> {
    let names = name_items(body, MAX_TABLE_NAME)?;
    let mut raw = ctx.project.raw.lock();
    let d = raw.dbs.get_mut(db).ok_or_else(|| db_not_found(db))?;
    let missing: Vec<Value> =
        names.iter().filter(|n| !d.tables.contains_key(*n)).map(|n| json!({ "name": n })).collect();
    if !missing.is_empty() {
        let mut e = ApiError::not_found("Tables not found");
        e.missing = missing;
        return Err(e);
    }
    for n in &names {
        d.tables.remove(n);
    }
    Ok(Reply::empty(200, names.len() as u64))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RowsIn<'a> {
    #[serde(borrow)]
    items: Vec<RowIn<'a>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RowIn<'a> {
    key: String,
    #[serde(borrow)]
    columns: &'a RawValue,
}

pub fn rows_insert(ctx: &Ctx, db: &str, table: &str) -> ApiResult<Reply> {
    let parsed: RowsIn = serde_json::from_slice(&ctx.body)
        .map_err(|e| ApiError::bad_request(format!("Invalid rows insert request: {e}")))?;
    let n = parsed.items.len();
    if n == 0 || n > MAX_ROWS_PER_INSERT {
        return Err(ApiError::bad_request(format!("items: size must be between 1 and {MAX_ROWS_PER_INSERT}")));
    }
    for (i, row) in parsed.items.iter().enumerate() {
        let kn = row.key.len();
        // Byte length bounds the char count from above; count chars only when it matters.
        if kn == 0 || (kn > MAX_KEY_CHARS && row.key.chars().count() > MAX_KEY_CHARS) {
            return Err(ApiError::bad_request(format!("items[{i}].key: size must be between 1 and {MAX_KEY_CHARS}")));
        }
        let cols = row.columns.get();
        if !cols.starts_with('{') {
            return Err(ApiError::bad_request(format!("items[{i}].columns: must be a JSON object")));
        }
        if cols.len() > MAX_ROW_BYTES {
            return Err(ApiError::bad_request(format!(
                "items[{i}].columns: a row can be at most {MAX_ROW_BYTES} bytes"
            )));
        }
    }
    let ensure = ctx.query_bool("ensureParent")?;
    let now = now_ms();
    let mut raw = ctx.project.raw.lock();
    let d = ensure_db(&mut raw, db, ensure, now)?;
    if !d.tables.contains_key(table) {
        if !ensure {
            return Err(table_not_found(table));
        }
        check_name(table, MAX_TABLE_NAME, "table name")?;
        d.tables.insert(table.to_string(), RawTable { created: now, rows: BTreeMap::new() });
    }
    let t = d.tables.get_mut(table).expect("present");
    for row in parsed.items {
        let cols = row.columns.get();
        match t.rows.get_mut(&row.key) {
            // Full-row replace; lastUpdatedTime moves only when the content changed.
            Some(existing) => {
                if &*existing.columns != cols {
                    existing.columns = cols.into();
                    existing.last_updated = now;
                }
            }
            None => {
                t.rows.insert(row.key, RawRow { columns: cols.into(), last_updated: now, created: now });
            }
        }
    }
    // 200 `{}`, as recorded against CDF (cognite-sdk-scala `RawTest/should-allow-creation-and-deletion-of-rows.json`).
    Ok(Reply::empty(200, n as u64))
}

/// Row cursor: the range still to read, `[start, end)` (start exclusive after a page).
struct KeyCursor {
    start: String,
    end: Option<String>,
    start_inclusive: bool,
}

fn hex(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 2);
    for b in s.bytes() {
        let _ = write!(out, "{b:02x}");
    }
    out
}

fn unhex(s: &str) -> Option<String> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok()).collect();
    String::from_utf8(bytes?).ok()
}

fn key_cursor(start: &str, end: Option<&str>, start_inclusive: bool) -> String {
    format!("r{}.{}.{}", if start_inclusive { "i" } else { "e" }, hex(start), end.map(hex).unwrap_or_default())
}

fn decode_key_cursor(c: &str) -> ApiResult<KeyCursor> {
    let bad = || ApiError::bad_request(format!("Invalid cursor: {c}"));
    let rest = c.strip_prefix('r').ok_or_else(bad)?;
    let mut parts = rest.splitn(3, '.');
    let incl = match parts.next() {
        Some("i") => true,
        Some("e") => false,
        _ => return Err(bad()),
    };
    let start = unhex(parts.next().ok_or_else(bad)?).ok_or_else(bad)?;
    let end_hex = parts.next().ok_or_else(bad)?;
    let end = if end_hex.is_empty() { None } else { Some(unhex(end_hex).ok_or_else(bad)?) };
    Ok(KeyCursor { start, end, start_inclusive: incl })
}

fn time_filters(ctx: &Ctx) -> ApiResult<(Option<i64>, Option<i64>)> {
    let p = |k: &str| -> ApiResult<Option<i64>> {
        ctx.query
            .get(k)
            .map(|v| v.parse::<i64>().map_err(|_| ApiError::bad_request(format!("{k}: must be an integer"))))
            .transpose()
    };
    Ok((p("minLastUpdatedTime")?, p("maxLastUpdatedTime")?))
}

/// Writes one row. `columns` picks columns by name; `drop_nulls` (`filterNullFields=true`)
/// leaves out the columns whose value is JSON null, as CDF does (cognite-sdk-scala cassette
/// `RawTest/should-allow-controlling-filtering-of-field-with-null-value.json`).
fn write_row(out: &mut String, key: &str, row: &RawRow, columns: Option<&[&str]>, drop_nulls: bool) {
    out.push_str("{\"key\":");
    out.push_str(&serde_json::to_string(key).expect("strings serialise"));
    out.push_str(",\"columns\":");
    if columns.is_none() && !drop_nulls {
        out.push_str(&row.columns);
    } else {
        // Values stay the text received (RawValue), so numbers keep every digit.
        let all: BTreeMap<String, Box<RawValue>> = serde_json::from_str(&row.columns).unwrap_or_default();
        let picked: BTreeMap<String, Box<RawValue>> = all
            .into_iter()
            .filter(|(k, v)| {
                columns.is_none_or(|wanted| wanted.contains(&k.as_str())) && !(drop_nulls && v.get() == "null")
            })
            .collect();
        out.push_str(&serde_json::to_string(&picked).expect("maps serialise"));
    }
    let _ = write!(out, ",\"lastUpdatedTime\":{}}}", row.last_updated);
}

pub fn rows_list(ctx: &Ctx, db: &str, table: &str) -> ApiResult<Reply> {
    let limit = match ctx.query.get("limit") {
        Some(l) => l
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_ROWS_PER_INSERT).contains(n))
            .ok_or_else(|| ApiError::bad_request(format!("limit: must be between 1 and {MAX_ROWS_PER_INSERT}")))?,
        None => 25,
    };
    let cursor = ctx.query.get("cursor").filter(|c| !c.is_empty()).map(|c| decode_key_cursor(c)).transpose()?;
    let columns: Option<Vec<&str>> = ctx.query.get("columns").map(|c| c.split(',').filter(|s| !s.is_empty()).collect());
    let (min_t, max_t) = time_filters(ctx)?;
    let drop_nulls = ctx.query_bool("filterNullFields")?;
    let raw = ctx.project.raw.lock();
    let d = raw.dbs.get(db).ok_or_else(|| db_not_found(db))?;
    let t = d.tables.get(table).ok_or_else(|| table_not_found(table))?;
    let (lo, end) = match &cursor {
        Some(c) if c.start_inclusive => (Bound::Included(c.start.clone()), c.end.clone()),
        Some(c) => (Bound::Excluded(c.start.clone()), c.end.clone()),
        None => (Bound::Unbounded, None),
    };
    let hi = end.clone().map(Bound::Excluded).unwrap_or(Bound::Unbounded);
    let visible_until = ctx.list_visible_until();
    let mut out = String::with_capacity(limit.min(t.rows.len()) * 64 + 32);
    out.push_str("{\"items\":[");
    let mut n = 0usize;
    let mut last: Option<&str> = None;
    let mut more = false;
    for (key, row) in t.rows.range::<String, _>((lo, hi)) {
        if min_t.is_some_and(|m| row.last_updated <= m) || max_t.is_some_and(|m| row.last_updated > m) {
            continue;
        }
        if visible_until.is_some_and(|v| row.created > v) {
            continue;
        }
        if n == limit {
            more = true;
            break;
        }
        if n > 0 {
            out.push(',');
        }
        write_row(&mut out, key, row, columns.as_deref(), drop_nulls);
        last = Some(key);
        n += 1;
    }
    out.push(']');
    if more {
        let c = key_cursor(last.expect("a page before more"), end.as_deref(), false);
        let _ = write!(out, ",\"nextCursor\":\"{c}\"");
    }
    out.push('}');
    Ok(Reply { status: 200, body: out.into_bytes(), content_type: "application/json", items: n as u64 })
}

pub fn row_get(ctx: &Ctx, db: &str, table: &str, key: &str) -> ApiResult<Reply> {
    let raw = ctx.project.raw.lock();
    let d = raw.dbs.get(db).ok_or_else(|| db_not_found(db))?;
    let t = d.tables.get(table).ok_or_else(|| table_not_found(table))?;
    let row = t.rows.get(key).ok_or_else(|| {
        let mut e = ApiError::not_found(format!("Row not found: {key}"));
        e.missing = vec![json!({ "key": key })];
        e
    })?;
    let mut out = String::new();
    write_row(&mut out, key, row, None, false);
    Ok(Reply { status: 200, body: out.into_bytes(), content_type: "application/json", items: 1 })
}

pub fn rows_delete(ctx: &Ctx, db: &str, table: &str, body: &Value) -> ApiResult<Reply> {
    let top = body_object(body)?;
    check_keys(top, &["items"], "")?;
    let list = items(top, MAX_ROWS_PER_INSERT)?;
    let keys = list
        .iter()
        .enumerate()
        .map(|(i, it)| {
            let o = it.as_object().ok_or_else(|| ApiError::bad_request(format!("items[{i}]: must be an object")))?;
            check_keys(o, &["key"], &format!("items[{i}]"))?;
            o.get("key")
                .and_then(|k| k.as_str())
                .map(|s| s.to_string())
                .ok_or_else(|| ApiError::bad_request(format!("items[{i}].key: may not be null")))
        })
        .collect::<ApiResult<Vec<_>>>()?;
    let mut raw = ctx.project.raw.lock();
    let d = raw.dbs.get_mut(db).ok_or_else(|| db_not_found(db))?;
    let t = d.tables.get_mut(table).ok_or_else(|| table_not_found(table))?;
    for k in &keys {
        t.rows.remove(k);
    }
    Ok(Reply::empty(200, keys.len() as u64))
}

/// `GET .../cursors?numberOfCursors=N`: cursors splitting the table into up to N key ranges.
pub fn cursors(ctx: &Ctx, db: &str, table: &str) -> ApiResult<Reply> {
    let n = match ctx.query.get("numberOfCursors") {
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=10_000).contains(n))
            .ok_or_else(|| ApiError::bad_request("numberOfCursors: must be between 1 and 10000"))?,
        None => 10,
    };
    let raw = ctx.project.raw.lock();
    let d = raw.dbs.get(db).ok_or_else(|| db_not_found(db))?;
    let t = d.tables.get(table).ok_or_else(|| table_not_found(table))?;
    let keys: Vec<&String> = t.rows.keys().collect();
    let parts = n.min(keys.len()).max(1);
    let mut out = Vec::with_capacity(parts);
    if keys.is_empty() {
        out.push(json!(key_cursor("", None, true)));
    } else {
        let chunk = keys.len().div_ceil(parts);
        let starts: Vec<&str> = keys.chunks(chunk).map(|c| c[0].as_str()).collect();
        for (i, s) in starts.iter().enumerate() {
            out.push(json!(key_cursor(s, starts.get(i + 1).copied(), true)));
        }
    }
    Ok(Reply::items(200, out, 0))
}

/// `/_admin/dump/{project}/raw`: databases with their tables and rows.
pub fn dump(project: &Project) -> Vec<Value> {
    let raw = project.raw.lock();
    raw.dbs
        .iter()
        .map(|(name, d)| {
            let tables: Vec<Value> = d
                .tables
                .iter()
                .map(|(tname, t)| {
                    let rows: Vec<Value> = t
                        .rows
                        .iter()
                        .map(|(k, r)| {
                            json!({"key": k, "columns": serde_json::from_str::<Value>(&r.columns).unwrap_or(Value::Null), "lastUpdatedTime": r.last_updated})
                        })
                        .collect();
                    json!({"name": tname, "createdTime": t.created, "rows": rows})
                })
                .collect();
            json!({"name": name, "createdTime": d.created, "tables": tables})
        })
        .collect()
}
