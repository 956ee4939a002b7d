//! Spaces: apply (create or update name/description), list (`includeGlobal`), byids, delete.
//! A space can only be deleted once it holds no containers, views, data models or instances.

use serde_json::{json, Value};

use super::*;
use crate::resources::generic::check_keys;
use crate::store::now_ms;

pub fn apply(ctx: &Ctx, access: &Access, body: &Value) -> ApiResult<Reply> {
    let list = item_list(body, SCHEMA_ITEMS_LIMIT, &[])?;
    let mut parsed = Vec::with_capacity(list.len());
    for (i, item) in list.iter().enumerate() {
        let path = format!("items[{i}]");
        let o = as_obj(item, &path)?;
        check_keys(o, &["space", "name", "description"], &path)?;
        check_name_description(o)?;
        check_name_description(o)?;
        let space = req_str(o, "space", &path)?;
        check_space_id(space, &format!("{path}.space"))?;
        access.check(space)?;
        parsed.push(o);
    }
    let mut store = ctx.project.models.lock();
    let now = now_ms();
    let mut out = Vec::with_capacity(parsed.len());
    for o in parsed {
        let space = o["space"].as_str().expect("checked").to_string();
        let created = store.spaces.get(&space).and_then(|s| s.get("createdTime").cloned()).unwrap_or(json!(now));
        let mut obj = Object::new();
        obj.insert("space".into(), json!(space));
        for k in ["name", "description"] {
            if let Some(v) = o.get(k).filter(|v| !v.is_null()) {
                obj.insert(k.into(), v.clone());
            }
        }
        obj.insert("isGlobal".into(), json!(false));
        obj.insert("createdTime".into(), created);
        obj.insert("lastUpdatedTime".into(), json!(now));
        out.push(Value::Object(obj.clone()));
        store.spaces.insert(space, obj);
    }
    Ok(Reply::items(200, out, 0))
}

pub fn list(ctx: &Ctx, access: &Access) -> ApiResult<Reply> {
    let q = ListQuery::of(ctx)?;
    let store = ctx.project.models.lock();
    let items: Vec<Value> =
        store.spaces.iter().filter(|(k, s)| q.admits(access, k, s)).map(|(_, s)| Value::Object(s.clone())).collect();
    schema_page(ctx, items)
}

fn parse_ids(body: &Value) -> ApiResult<Vec<String>> {
    let list = item_list(body, SCHEMA_ITEMS_LIMIT, &[])?;
    list.iter()
        .enumerate()
        .map(|(i, item)| {
            let path = format!("items[{i}]");
            let o = as_obj(item, &path)?;
            check_keys(o, &["space"], &path)?;
            Ok(req_str(o, "space", &path)?.to_string())
        })
        .collect()
}

/// Unknown spaces are left out of the answer, as for every DMS byids.
pub fn byids(ctx: &Ctx, access: &Access, body: &Value) -> ApiResult<Reply> {
    let ids = parse_ids(body)?;
    for s in &ids {
        access.check(s)?;
    }
    let store = ctx.project.models.lock();
    let out: Vec<Value> = ids.iter().filter_map(|s| store.spaces.get(s)).map(|s| Value::Object(s.clone())).collect();
    Ok(Reply::items(200, out, 0))
}

pub fn delete(ctx: &Ctx, access: &Access, body: &Value) -> ApiResult<Reply> {
    let ids = parse_ids(body)?;
    for s in &ids {
        access.check(s)?;
    }
    let mut store = ctx.project.models.lock();
    for s in &ids {
        if store.spaces.get(s).is_some_and(is_global) {
            return Err(invalid(format!("Cannot delete space '{s}': it is a global (system) space")));
        }
        let used = store.containers.keys().any(|k| &k.0 == s)
            || store.views.keys().any(|k| &k.0 == s)
            || store.data_models.keys().any(|k| &k.0 == s)
            || store.instances.any_in_space(s);
        if used {
            return Err(invalid(format!(
                "Cannot delete space '{s}': it still holds containers, views, data models or instances"
            )));
        }
    }
    let deleted: Vec<Value> =
        ids.iter().filter(|s| store.spaces.remove(*s).is_some()).map(|s| json!({ "space": s })).collect();
    Ok(Reply::items(200, deleted, 0))
}
