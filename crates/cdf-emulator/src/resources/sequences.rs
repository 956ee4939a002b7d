//! Sequences: typed columns (DOUBLE, LONG, STRING), the `columns` update operation
//! (`modify`/`add`/`remove`), and rows (insert overwrites, list, latest, delete).

use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Bound;

use super::generic::*;
use super::project::Project;
use super::specs::SEQUENCES;
use super::{Ctx, Reply};
use crate::errors::{ApiError, ApiResult};
use crate::store::{now_ms, Object};

/// Sequence rows of one project: sequence id → row number → column externalId → value.
pub type RowStore = HashMap<i64, BTreeMap<i64, BTreeMap<String, Value>>>;

pub const MAX_ROWS_PER_INSERT: usize = 10_000;
pub const MAX_VALUES_PER_INSERT: usize = 100_000;
pub const MAX_COLUMNS: usize = 400;
const VALUE_TYPES: &[&str] = &["DOUBLE", "STRING", "LONG"];

fn validate_column(col: &Value, path: &str) -> ApiResult<Object> {
    let o = col.as_object().ok_or_else(|| ApiError::bad_request(format!("{path}: must be an object")))?;
    check_keys(
        o,
        &["externalId", "name", "description", "valueType", "metadata", "createdTime", "lastUpdatedTime"],
        path,
    )?;
    let mut out = Map::new();
    let xid = o
        .get("externalId")
        .and_then(|v| v.as_str())
        .ok_or_else(|| ApiError::bad_request(format!("{path}.externalId: may not be null")))?;
    if xid.is_empty() || xid.chars().count() > 255 {
        return Err(ApiError::bad_request(format!("{path}.externalId: size must be between 1 and 255")));
    }
    out.insert("externalId".into(), json!(xid));
    for (k, max) in [("name", 255usize), ("description", 1000)] {
        if let Some(v) = o.get(k).filter(|v| !v.is_null()) {
            let s = v.as_str().ok_or_else(|| ApiError::bad_request(format!("{path}.{k}: must be a string")))?;
            if s.chars().count() > max {
                return Err(ApiError::bad_request(format!("{path}.{k}: size must be between 0 and {max}")));
            }
            out.insert(k.into(), v.clone());
        }
    }
    let vt = match o.get("valueType").filter(|v| !v.is_null()) {
        None => "DOUBLE".to_string(),
        Some(v) => {
            let s = v.as_str().unwrap_or_default().to_uppercase();
            if !VALUE_TYPES.contains(&s.as_str()) {
                return Err(ApiError::bad_request(format!("{path}.valueType: must be one of DOUBLE, STRING, LONG")));
            }
            s
        }
    };
    out.insert("valueType".into(), json!(vt));
    if let Some(m) = o.get("metadata").filter(|v| !v.is_null()) {
        let mo = m.as_object().ok_or_else(|| ApiError::bad_request(format!("{path}.metadata: must be an object")))?;
        check_metadata(mo, META_TS, &format!("{path}.metadata"))?;
        out.insert("metadata".into(), m.clone());
    }
    Ok(out)
}

fn check_unique_columns(cols: &[Value], path: &str) -> ApiResult<()> {
    let mut seen = HashSet::new();
    let dups: Vec<Value> = cols
        .iter()
        .filter_map(|c| c.get("externalId").and_then(|x| x.as_str()))
        .filter(|x| !seen.insert(*x))
        .map(|x| json!({"externalId": x}))
        .collect();
    if !dups.is_empty() {
        let mut e = ApiError::bad_request(format!("{path}: column externalIds must be unique"));
        e.duplicated = dups;
        return Err(e);
    }
    if cols.is_empty() || cols.len() > MAX_COLUMNS {
        return Err(ApiError::bad_request(format!("{path}: size must be between 1 and {MAX_COLUMNS}")));
    }
    Ok(())
}

pub fn check_new_columns(obj: &mut Object, path: &str) -> ApiResult<()> {
    let cols = obj.get("columns").and_then(|c| c.as_array()).cloned().unwrap_or_default();
    let validated = cols
        .iter()
        .enumerate()
        .map(|(i, c)| validate_column(c, &format!("{path}.columns[{i}]")).map(Value::Object))
        .collect::<ApiResult<Vec<_>>>()?;
    check_unique_columns(&validated, &format!("{path}.columns"))?;
    obj.insert("columns".into(), Value::Array(validated));
    Ok(())
}

pub fn finish_columns(obj: &mut Object, now: i64) {
    if let Some(Value::Array(cols)) = obj.get_mut("columns") {
        for c in cols.iter_mut() {
            c["createdTime"] = json!(now);
            c["lastUpdatedTime"] = json!(now);
        }
    }
}

/// Sequence patch: the generic fields, plus `columns: {modify, add, remove}`.
pub fn apply_update(obj: &mut Object, patch: &Value, path: &str) -> ApiResult<()> {
    let mut patch = patch.clone();
    let col_op = patch.as_object_mut().and_then(|p| p.remove("columns"));
    super::generic::apply_update(&SEQUENCES, obj, &patch, path)?;
    let Some(op) = col_op else { return Ok(()) };
    let cpath = format!("{path}.columns");
    let op = op.as_object().ok_or_else(|| ApiError::bad_request(format!("{cpath}: must be an object")))?;
    check_keys(op, &["modify", "add", "remove", "set"], &cpath)?;
    let now = now_ms();
    let mut cols: Vec<Value> = obj.get("columns").and_then(|c| c.as_array()).cloned().unwrap_or_default();
    if let Some(set) = op.get("set") {
        let a = set.as_array().ok_or_else(|| ApiError::bad_request(format!("{cpath}.set: must be an array")))?;
        cols = a
            .iter()
            .enumerate()
            .map(|(i, c)| validate_column(c, &format!("{cpath}.set[{i}]")).map(Value::Object))
            .collect::<ApiResult<_>>()?;
        for c in cols.iter_mut() {
            c["createdTime"] = json!(now);
            c["lastUpdatedTime"] = json!(now);
        }
    }
    if let Some(rem) = op.get("remove") {
        let a = rem.as_array().ok_or_else(|| ApiError::bad_request(format!("{cpath}.remove: must be an array")))?;
        for (i, r) in a.iter().enumerate() {
            // cognite-sdk-python sends {"externalId"}, the Rust SDK plain strings: accept both.
            let x = r
                .as_str()
                .or_else(|| r.get("externalId").and_then(|x| x.as_str()))
                .ok_or_else(|| ApiError::bad_request(format!("{cpath}.remove[{i}]: externalId required")))?;
            let before = cols.len();
            cols.retain(|c| c.get("externalId").and_then(|v| v.as_str()) != Some(x));
            if cols.len() == before {
                return Err(ApiError::missing(vec![json!({"externalId": x})])
                    .with_message(format!("{cpath}.remove: unknown column {x}")));
            }
        }
    }
    if let Some(modify) = op.get("modify") {
        let a = modify.as_array().ok_or_else(|| ApiError::bad_request(format!("{cpath}.modify: must be an array")))?;
        for (i, m) in a.iter().enumerate() {
            let mpath = format!("{cpath}.modify[{i}]");
            let x = m
                .get("externalId")
                .and_then(|v| v.as_str())
                .ok_or_else(|| ApiError::bad_request(format!("{mpath}.externalId: may not be null")))?;
            let col =
                cols.iter_mut().find(|c| c.get("externalId").and_then(|v| v.as_str()) == Some(x)).ok_or_else(|| {
                    ApiError::missing(vec![json!({"externalId": x})])
                        .with_message(format!("{mpath}: unknown column {x}"))
                })?;
            let upd = m
                .get("update")
                .and_then(|u| u.as_object())
                .ok_or_else(|| ApiError::bad_request(format!("{mpath}.update: may not be null")))?;
            let co = col.as_object_mut().expect("columns are objects");
            for (k, op) in upd {
                match k.as_str() {
                    "externalId" | "name" | "description" => {
                        if let Some(v) = op.get("set") {
                            co.insert(k.clone(), v.clone());
                        } else if op.get("setNull") == Some(&json!(true)) && k != "externalId" {
                            co.remove(k);
                        }
                    }
                    "metadata" => {
                        let mut md = co.get("metadata").and_then(|m| m.as_object().cloned()).unwrap_or_default();
                        if let Some(s) = op.get("set").and_then(|s| s.as_object()) {
                            md = s.clone();
                        }
                        if let Some(r) = op.get("remove").and_then(|r| r.as_array()) {
                            for k in r.iter().filter_map(|k| k.as_str()) {
                                md.remove(k);
                            }
                        }
                        if let Some(a) = op.get("add").and_then(|a| a.as_object()) {
                            md.extend(a.clone());
                        }
                        co.insert("metadata".into(), Value::Object(md));
                    }
                    other => return Err(ApiError::bad_request(format!("{mpath}.update.{other}: cannot be updated"))),
                }
            }
            co.insert("lastUpdatedTime".into(), json!(now));
        }
    }
    if let Some(add) = op.get("add") {
        let a = add.as_array().ok_or_else(|| ApiError::bad_request(format!("{cpath}.add: must be an array")))?;
        for (i, c) in a.iter().enumerate() {
            let mut col = validate_column(c, &format!("{cpath}.add[{i}]"))?;
            col.insert("createdTime".into(), json!(now));
            col.insert("lastUpdatedTime".into(), json!(now));
            cols.push(Value::Object(col));
        }
    }
    check_unique_columns(&cols, &cpath)?;
    obj.insert("columns".into(), Value::Array(cols));
    Ok(())
}

// ---------------------------------------------------------------- rows

fn column_types(seq: &Object) -> Vec<(String, String)> {
    seq.get("columns")
        .and_then(|c| c.as_array())
        .map(|a| {
            a.iter()
                .map(|c| {
                    (
                        c["externalId"].as_str().unwrap_or_default().to_string(),
                        c["valueType"].as_str().unwrap_or("DOUBLE").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn check_value(v: &Value, vt: &str, path: &str) -> ApiResult<()> {
    let ok = match (v, vt) {
        (Value::Null, _) => true,
        (Value::Number(_), "DOUBLE") => true,
        (Value::Number(n), "LONG") => n.is_i64() || n.is_u64(),
        (Value::String(s), "STRING") => s.chars().count() <= 255,
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!("{path}: expected a value of type {vt}, got {v}")))
    }
}

/// The sequence an item refers to and its columns, or 400 `missing`.
fn find_sequence(project: &Project, ident: &Ident) -> ApiResult<(i64, Object)> {
    let meta = project.meta.lock();
    let id = meta.sequences.resolve(ident, true).ok_or_else(|| ApiError::missing(vec![ident.to_json()]))?;
    Ok((id, meta.sequences.items[&id].clone()))
}

pub fn rows_insert(ctx: &Ctx, body: &Value) -> ApiResult<Reply> {
    let top = body_object(body)?;
    check_keys(top, &["items"], "")?;
    let list = items(top, 10_000)?;
    let mut writes = Vec::with_capacity(list.len());
    let (mut n_rows, mut n_values) = (0usize, 0usize);
    let mut missing: Vec<Value> = Vec::new();
    for (i, item) in list.iter().enumerate() {
        let path = format!("items[{i}]");
        let ident = parse_ident(item, &path, true, &["columns", "rows"])?;
        let seq = {
            let meta = ctx.project.meta.lock();
            meta.sequences.resolve(&ident, true).map(|id| (id, meta.sequences.items[&id].clone()))
        };
        let Some((id, seq)) = seq else {
            missing.push(ident.to_json());
            continue;
        };
        let types = column_types(&seq);
        let cols: Vec<String> = match item.get("columns") {
            Some(Value::Array(a)) => a
                .iter()
                .map(|c| {
                    c.as_str()
                        .map(|s| s.to_string())
                        .ok_or_else(|| ApiError::bad_request(format!("{path}.columns: must be column externalIds")))
                })
                .collect::<ApiResult<_>>()?,
            _ => return Err(ApiError::bad_request(format!("{path}.columns: may not be null"))),
        };
        let col_types: Vec<&str> = cols
            .iter()
            .map(|c| {
                types
                    .iter()
                    .find(|(x, _)| x == c)
                    .map(|(_, t)| t.as_str())
                    .ok_or_else(|| ApiError::bad_request(format!("{path}.columns: unknown column {c}")))
            })
            .collect::<ApiResult<_>>()?;
        let rows = item
            .get("rows")
            .and_then(|r| r.as_array())
            .ok_or_else(|| ApiError::bad_request(format!("{path}.rows: may not be null")))?;
        let mut parsed = Vec::with_capacity(rows.len());
        for (j, row) in rows.iter().enumerate() {
            let rpath = format!("{path}.rows[{j}]");
            let rn =
                row.get("rowNumber").and_then(|r| r.as_i64()).filter(|r| *r >= 0).ok_or_else(|| {
                    ApiError::bad_request(format!("{rpath}.rowNumber: must be a non-negative integer"))
                })?;
            let values = row
                .get("values")
                .and_then(|v| v.as_array())
                .ok_or_else(|| ApiError::bad_request(format!("{rpath}.values: may not be null")))?;
            if values.len() != cols.len() {
                return Err(ApiError::bad_request(format!(
                    "{rpath}.values: expected {} values, one per column, got {}",
                    cols.len(),
                    values.len()
                )));
            }
            for (k, v) in values.iter().enumerate() {
                check_value(v, col_types[k], &format!("{rpath}.values[{k}]"))?;
            }
            if values.iter().all(Value::is_null) {
                // cognite-sdk-python's insert_dataframe drops all-null rows by default because
                // "these will be rejected by the API"; the message text is the emulator's own.
                return Err(ApiError::bad_request(format!(
                    "{rpath}.values: a row must have at least one non-null value"
                )));
            }
            n_values += values.len();
            parsed.push((rn, values.clone()));
        }
        n_rows += parsed.len();
        writes.push((id, cols, parsed));
    }
    if !missing.is_empty() {
        return Err(ApiError::missing(missing));
    }
    if n_rows > MAX_ROWS_PER_INSERT || n_values > MAX_VALUES_PER_INSERT {
        return Err(ApiError::bad_request(format!(
            "A request may hold at most {MAX_ROWS_PER_INSERT} rows and {MAX_VALUES_PER_INSERT} values, got {n_rows} rows and {n_values} values"
        )));
    }
    let mut store = ctx.project.sequence_rows.lock();
    for (id, cols, rows) in writes {
        let seq_rows = store.entry(id).or_default();
        for (rn, values) in rows {
            let row = seq_rows.entry(rn).or_default();
            for (c, v) in cols.iter().zip(values) {
                row.insert(c.clone(), v);
            }
        }
    }
    Ok(Reply::empty(200, n_rows as u64))
}

fn response_columns(seq: &Object, wanted: &[String]) -> Vec<Value> {
    let all = seq.get("columns").and_then(|c| c.as_array()).cloned().unwrap_or_default();
    wanted
        .iter()
        .filter_map(|w| all.iter().find(|c| c["externalId"].as_str() == Some(w.as_str())))
        .map(|c| {
            let mut o = json!({"externalId": c["externalId"], "valueType": c["valueType"]});
            if let Some(n) = c.get("name") {
                o["name"] = n.clone();
            }
            o
        })
        .collect()
}

fn selected_columns(seq: &Object, req: Option<&Value>, path: &str) -> ApiResult<Vec<String>> {
    let all: Vec<String> = column_types(seq).into_iter().map(|(x, _)| x).collect();
    match req.filter(|v| !v.is_null()) {
        None => Ok(all),
        Some(Value::Array(a)) => a
            .iter()
            .map(|c| {
                let c = c
                    .as_str()
                    .ok_or_else(|| ApiError::bad_request(format!("{path}.columns: must be column externalIds")))?;
                if all.iter().any(|x| x == c) {
                    Ok(c.to_string())
                } else {
                    Err(ApiError::bad_request(format!("{path}.columns: unknown column {c}")))
                }
            })
            .collect(),
        Some(_) => Err(ApiError::bad_request(format!("{path}.columns: must be an array"))),
    }
}

fn row_json(rn: i64, row: &BTreeMap<String, Value>, cols: &[String]) -> Value {
    json!({"rowNumber": rn, "values": cols.iter().map(|c| row.get(c).cloned().unwrap_or(Value::Null)).collect::<Vec<_>>()})
}

pub fn rows_list(ctx: &Ctx, body: &Value) -> ApiResult<Reply> {
    let top = body_object(body)?;
    check_keys(top, &["id", "externalId", "start", "end", "limit", "cursor", "columns", "instanceId"], "")?;
    let ident = parse_ident(body, "body", true, &["start", "end", "limit", "cursor", "columns"])?;
    let (id, seq) = find_sequence(&ctx.project, &ident)?;
    let cols = selected_columns(&seq, top.get("columns"), "body")?;
    let start = top.get("start").and_then(|v| v.as_i64()).unwrap_or(0);
    let end = top.get("end").and_then(|v| v.as_i64()).unwrap_or(i64::MAX);
    let limit = parse_limit(top.get("limit"), 100, 10_000)?;
    let after = match top.get("cursor") {
        Some(Value::String(c)) => Some(
            c.strip_prefix('s')
                .and_then(|n| n.parse::<i64>().ok())
                .ok_or_else(|| ApiError::bad_request(format!("Invalid cursor: {c}")))?,
        ),
        _ => None,
    };
    let store = ctx.project.sequence_rows.lock();
    let mut rows = Vec::new();
    let mut next = None;
    if let Some(seq_rows) = store.get(&id) {
        let lo = after.map(Bound::Excluded).unwrap_or(Bound::Included(start));
        if start < end {
            for (rn, row) in seq_rows.range((lo, Bound::Excluded(end))) {
                if rows.len() == limit {
                    next = Some(format!("s{}", rows.last().and_then(|r: &Value| r["rowNumber"].as_i64()).unwrap_or(0)));
                    break;
                }
                rows.push(row_json(*rn, row, &cols));
            }
        }
    }
    let n = rows.len() as u64;
    let mut resp = json!({"id": id, "columns": response_columns(&seq, &cols), "rows": rows});
    if let Some(x) = seq.get("externalId") {
        resp["externalId"] = x.clone();
    }
    if let Some(c) = next {
        resp["nextCursor"] = json!(c);
    }
    Ok(Reply::json(200, &resp, n))
}

pub fn rows_latest(ctx: &Ctx, body: &Value) -> ApiResult<Reply> {
    let top = body_object(body)?;
    check_keys(top, &["id", "externalId", "before", "columns", "instanceId"], "")?;
    let ident = parse_ident(body, "body", true, &["before", "columns"])?;
    let (id, seq) = find_sequence(&ctx.project, &ident)?;
    let cols = selected_columns(&seq, top.get("columns"), "body")?;
    let before = top.get("before").and_then(|v| v.as_i64()).unwrap_or(i64::MAX);
    let store = ctx.project.sequence_rows.lock();
    let rows: Vec<Value> = store
        .get(&id)
        .and_then(|r| r.range(..before).next_back())
        .map(|(rn, row)| row_json(*rn, row, &cols))
        .into_iter()
        .collect();
    let mut resp = json!({"id": id, "columns": response_columns(&seq, &cols), "rows": rows});
    if let Some(x) = seq.get("externalId") {
        resp["externalId"] = x.clone();
    }
    Ok(Reply::json(200, &resp, 1))
}

pub fn rows_delete(ctx: &Ctx, body: &Value) -> ApiResult<Reply> {
    let top = body_object(body)?;
    check_keys(top, &["items"], "")?;
    let list = items(top, 10_000)?;
    let mut deletes = Vec::new();
    let mut missing = Vec::new();
    for (i, item) in list.iter().enumerate() {
        let path = format!("items[{i}]");
        let ident = parse_ident(item, &path, true, &["rows"])?;
        let rows: Vec<i64> = item
            .get("rows")
            .and_then(|r| r.as_array())
            .ok_or_else(|| ApiError::bad_request(format!("{path}.rows: may not be null")))?
            .iter()
            .map(|r| r.as_i64().ok_or_else(|| ApiError::bad_request(format!("{path}.rows: must be row numbers"))))
            .collect::<ApiResult<_>>()?;
        let meta = ctx.project.meta.lock();
        match meta.sequences.resolve(&ident, true) {
            Some(id) => deletes.push((id, rows)),
            None => missing.push(ident.to_json()),
        }
    }
    if !missing.is_empty() {
        return Err(ApiError::missing(missing));
    }
    let mut store = ctx.project.sequence_rows.lock();
    let mut n = 0u64;
    for (id, rows) in deletes {
        if let Some(seq_rows) = store.get_mut(&id) {
            for r in rows {
                n += seq_rows.remove(&r).is_some() as u64;
            }
        }
    }
    Ok(Reply::empty(200, n))
}

/// `/_admin/dump/{project}/sequences/data`: one item per sequence with all its rows.
pub fn dump_rows(project: &Project) -> Vec<Value> {
    let seqs: Vec<(i64, Object)> = project.meta.lock().sequences.items.iter().map(|(k, v)| (*k, v.clone())).collect();
    let store = project.sequence_rows.lock();
    seqs.into_iter()
        .map(|(id, seq)| {
            let cols: Vec<String> = column_types(&seq).into_iter().map(|(x, _)| x).collect();
            let rows: Vec<Value> = store
                .get(&id)
                .map(|r| r.iter().map(|(rn, row)| row_json(*rn, row, &cols)).collect())
                .unwrap_or_default();
            let mut o = json!({"id": id, "columns": cols, "rows": rows});
            if let Some(x) = seq.get("externalId") {
                o["externalId"] = x.clone();
            }
            o
        })
        .collect()
}
