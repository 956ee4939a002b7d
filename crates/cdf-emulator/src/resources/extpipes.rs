//! Extraction pipelines (checks beyond the field table) and their runs.

use serde_json::{json, Value};

use super::generic::*;
use super::project::MetaStore;
use super::{Ctx, Reply};
use crate::errors::{ApiError, ApiResult};
use crate::store::{now_ms, Object};

const RUN_STATUSES: &[&str] = &["success", "failure", "seen"];

/// A pipeline's data set must exist; rawTables and contacts entries must have CDF's shape.
pub fn check_pipeline(obj: &Object, path: &str, meta: &MetaStore) -> ApiResult<()> {
    if let Some(ds) = obj.get("dataSetId").and_then(|v| v.as_i64()) {
        if !meta.datasets.items.contains_key(&ds) {
            return Err(ApiError::missing(vec![json!({"id": ds})])
                .with_message(format!("{path}.dataSetId: data set {ds} does not exist")));
        }
    }
    if let Some(tables) = obj.get("rawTables").and_then(|v| v.as_array()) {
        for (i, t) in tables.iter().enumerate() {
            let o = t.as_object().expect("validated as objects");
            check_keys(o, &["dbName", "tableName"], &format!("{path}.rawTables[{i}]"))?;
            if !o.get("dbName").is_some_and(|v| v.is_string()) || !o.get("tableName").is_some_and(|v| v.is_string()) {
                return Err(ApiError::bad_request(format!("{path}.rawTables[{i}]: dbName and tableName are required")));
            }
        }
    }
    if let Some(contacts) = obj.get("contacts").and_then(|v| v.as_array()) {
        for (i, c) in contacts.iter().enumerate() {
            check_keys(
                c.as_object().expect("validated as objects"),
                &["name", "email", "role", "sendNotification"],
                &format!("{path}.contacts[{i}]"),
            )?;
        }
    }
    Ok(())
}

fn public_run(run: &Object) -> Value {
    Value::Object(run.iter().filter(|(k, _)| !k.starts_with('_')).map(|(k, v)| (k.clone(), v.clone())).collect())
}

pub fn runs_create(ctx: &Ctx, body: &Value) -> ApiResult<Reply> {
    let top = body_object(body)?;
    check_keys(top, &["items"], "")?;
    let list = items(top, 1000)?;
    let mut meta = ctx.project.meta.lock();
    let mut runs = Vec::with_capacity(list.len());
    let mut missing: Vec<Value> = Vec::new();
    for (i, item) in list.iter().enumerate() {
        let path = format!("items[{i}]");
        let o = item.as_object().ok_or_else(|| ApiError::bad_request(format!("{path}: must be an object")))?;
        check_keys(o, &["externalId", "status", "message", "createdTime"], &path)?;
        let xid = o
            .get("externalId")
            .and_then(|v| v.as_str())
            .ok_or_else(|| ApiError::bad_request(format!("{path}.externalId: may not be null")))?;
        let status = o
            .get("status")
            .and_then(|v| v.as_str())
            .map(|s| s.to_lowercase())
            .ok_or_else(|| ApiError::bad_request(format!("{path}.status: may not be null")))?;
        if !RUN_STATUSES.contains(&status.as_str()) {
            return Err(ApiError::bad_request(format!("{path}.status: must be one of success, failure, seen")));
        }
        let message = match o.get("message").filter(|v| !v.is_null()) {
            Some(m) => {
                let s = m.as_str().ok_or_else(|| ApiError::bad_request(format!("{path}.message: must be a string")))?;
                if s.chars().count() > 1000 {
                    return Err(ApiError::bad_request(format!("{path}.message: size must be between 0 and 1000")));
                }
                Some(s.to_string())
            }
            None => None,
        };
        let created = match o.get("createdTime").filter(|v| !v.is_null()) {
            Some(t) => t
                .as_i64()
                .filter(|t| *t >= 0)
                .ok_or_else(|| ApiError::bad_request(format!("{path}.createdTime: must be a timestamp in ms")))?,
            None => now_ms(),
        };
        match meta.extpipes.key_of_xid(xid) {
            Some(pid) => runs.push((pid, xid.to_string(), status, message, created)),
            None => {
                let j = json!({"externalId": xid});
                if !missing.contains(&j) {
                    missing.push(j);
                }
            }
        }
    }
    if !missing.is_empty() {
        return Err(ApiError::missing(missing));
    }
    let mut out = Vec::with_capacity(runs.len());
    for (pid, xid, status, message, created) in runs {
        let id = ctx.project.next_id();
        let mut run = json!({"id": id, "externalId": xid, "status": status, "createdTime": created, "_extpipeId": pid});
        if let Some(m) = &message {
            run["message"] = json!(m);
        }
        let run = run.as_object().cloned().expect("object literal");
        out.push(public_run(&run));
        meta.extpipe_runs.items.insert(id, run);
        // The pipeline summarises its latest runs.
        if let Some(p) = meta.extpipes.items.get_mut(&pid) {
            let later = |p: &Object, k: &str| p.get(k).and_then(|v| v.as_i64()).is_none_or(|t| created >= t);
            if later(p, "lastSeen") {
                p.insert("lastSeen".into(), json!(created));
            }
            if status == "success" && later(p, "lastSuccess") {
                p.insert("lastSuccess".into(), json!(created));
            }
            if status == "failure" && later(p, "lastFailure") {
                p.insert("lastFailure".into(), json!(created));
                if let Some(m) = &message {
                    p.insert("lastMessage".into(), json!(m));
                }
            }
        }
    }
    Ok(Reply::items(201, out, 0))
}

/// Runs of one pipeline, newest first.
pub fn runs_list(ctx: &Ctx, body: &Value) -> ApiResult<Reply> {
    let top = body_object(body)?;
    check_keys(top, &["filter", "limit", "cursor"], "")?;
    let filter = top
        .get("filter")
        .and_then(|f| f.as_object())
        .ok_or_else(|| ApiError::bad_request("filter.externalId: may not be null"))?;
    check_keys(filter, &["externalId", "statuses", "createdTime", "message"], "filter")?;
    let xid = filter
        .get("externalId")
        .and_then(|v| v.as_str())
        .ok_or_else(|| ApiError::bad_request("filter.externalId: may not be null"))?;
    let statuses: Option<Vec<String>> = filter
        .get("statuses")
        .and_then(|s| s.as_array())
        .map(|a| a.iter().filter_map(|s| s.as_str()).map(|s| s.to_lowercase()).collect());
    let (tmin, tmax) = match filter.get("createdTime") {
        Some(r) => (r.get("min").and_then(|v| v.as_i64()), r.get("max").and_then(|v| v.as_i64())),
        None => (None, None),
    };
    let substring =
        filter.get("message").and_then(|m| m.get("substring")).and_then(|s| s.as_str()).map(|s| s.to_lowercase());
    let limit = parse_limit(top.get("limit"), 100, 1000)?;
    let before = match top.get("cursor") {
        Some(Value::String(c)) => Some(decode_cursor(c)?),
        _ => None,
    };
    let meta = ctx.project.meta.lock();
    let pid = meta.extpipes.key_of_xid(xid).ok_or_else(|| ApiError::missing(vec![json!({"externalId": xid})]))?;
    let mut out = Vec::new();
    let mut next = None;
    let upper = before.map(std::ops::Bound::Excluded).unwrap_or(std::ops::Bound::Unbounded);
    for (id, run) in meta.extpipe_runs.items.range((std::ops::Bound::Unbounded, upper)).rev() {
        if run.get("_extpipeId").and_then(|v| v.as_i64()) != Some(pid) {
            continue;
        }
        let status = run.get("status").and_then(|v| v.as_str()).unwrap_or_default();
        let created = run.get("createdTime").and_then(|v| v.as_i64()).unwrap_or_default();
        let msg = run.get("message").and_then(|v| v.as_str()).unwrap_or_default().to_lowercase();
        if statuses.as_ref().is_some_and(|s| !s.iter().any(|x| x == status))
            || tmin.is_some_and(|m| created < m)
            || tmax.is_some_and(|m| created > m)
            || substring.as_ref().is_some_and(|s| !msg.contains(s.as_str()))
        {
            continue;
        }
        if out.len() == limit {
            next = Some(encode_cursor(out.last().and_then(|r: &Value| r["id"].as_i64()).unwrap_or(*id)));
            break;
        }
        let mut r = public_run(run);
        r.as_object_mut().expect("object").remove("externalId");
        out.push(r);
    }
    let n = out.len() as u64;
    let mut resp = json!({"items": out});
    if let Some(c) = next {
        resp["nextCursor"] = json!(c);
    }
    Ok(Reply::json(200, &resp, n))
}

pub fn drop_runs(meta: &mut MetaStore, pipeline_ids: &[i64]) {
    meta.extpipe_runs
        .items
        .retain(|_, r| !r.get("_extpipeId").and_then(|v| v.as_i64()).is_some_and(|p| pipeline_ids.contains(&p)));
}
