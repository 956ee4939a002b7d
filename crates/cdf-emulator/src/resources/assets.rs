//! Assets: parent resolution (by id or externalId, also to parents created in the same
//! request), rootId, parentExternalId in responses, moves within a hierarchy, recursive delete.

use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};

use super::generic::*;
use super::project::{Kind, MetaStore};
use super::specs::ASSETS;
use super::{finish_new, Ctx, Reply};
use crate::errors::{ApiError, ApiResult};
use crate::store::{now_ms, Collection, Object};

fn children_index(coll: &Collection) -> HashMap<i64, Vec<i64>> {
    let mut idx: HashMap<i64, Vec<i64>> = HashMap::new();
    for (id, obj) in &coll.items {
        if let Some(p) = obj.get("parentId").and_then(|v| v.as_i64()) {
            idx.entry(p).or_default().push(*id);
        }
    }
    idx
}

/// The given assets and all their descendants.
pub fn subtree_ids(coll: &Collection, roots: &[i64]) -> HashSet<i64> {
    let idx = children_index(coll);
    let mut out: HashSet<i64> = HashSet::new();
    let mut stack: Vec<i64> = roots.to_vec();
    while let Some(id) = stack.pop() {
        if out.insert(id) {
            if let Some(children) = idx.get(&id) {
                stack.extend(children);
            }
        }
    }
    out
}

pub fn output(obj: &Object, meta: &MetaStore) -> Value {
    let mut out = obj.clone();
    if let Some(parent) = obj.get("parentId").and_then(|v| v.as_i64()) {
        if let Some(pxid) = meta.assets.items.get(&parent).and_then(|p| p.get("externalId")) {
            out.insert("parentExternalId".into(), pxid.clone());
        }
    }
    Value::Object(out)
}

/// `aggregatedProperties`: childCount, depth, path.
pub fn add_aggregates(items: &mut [Value], props: &[Value], meta: &MetaStore) {
    let idx = children_index(&meta.assets);
    for item in items.iter_mut() {
        let Some(id) = item.get("id").and_then(|v| v.as_i64()) else { continue };
        let mut path = vec![id];
        let mut cur = id;
        while let Some(p) = meta.assets.items.get(&cur).and_then(|o| o.get("parentId")).and_then(|v| v.as_i64()) {
            path.push(p);
            cur = p;
        }
        path.reverse();
        let mut agg = serde_json::Map::new();
        for p in props.iter().filter_map(|p| p.as_str()) {
            match p {
                "childCount" => {
                    agg.insert("childCount".into(), json!(idx.get(&id).map(|c| c.len()).unwrap_or(0)));
                }
                "depth" => {
                    agg.insert("depth".into(), json!(path.len() - 1));
                }
                "path" => {
                    agg.insert("path".into(), Value::Array(path.iter().map(|i| json!({ "id": i })).collect()));
                }
                _ => {}
            }
        }
        item["aggregates"] = Value::Object(agg);
    }
}

pub fn create(ctx: &Ctx, body: &Value) -> ApiResult<Reply> {
    let top = body_object(body)?;
    check_keys(top, &["items"], "")?;
    let list = items(top, ASSETS.create_limit)?;
    let mut objs = Vec::with_capacity(list.len());
    for (i, item) in list.iter().enumerate() {
        let path = format!("items[{i}]");
        let obj = validate_create(&ASSETS, item, &path)?;
        if obj.contains_key("parentId") && obj.contains_key("parentExternalId") {
            return Err(ApiError::bad_request(format!("{path}: only one of parentId and parentExternalId may be set")));
        }
        objs.push(obj);
    }
    let mut meta = ctx.project.meta.lock();
    check_new_xids(&meta.assets, objs.iter().filter_map(xid_of))?;

    let ids: Vec<i64> = objs.iter().map(|_| ctx.project.next_id()).collect();
    let in_request: HashMap<&str, usize> =
        objs.iter().enumerate().filter_map(|(i, o)| xid_of(o).map(|x| (x, i))).collect();

    // Parent of each new asset: an existing asset, or another asset of this request.
    enum Parent {
        None,
        Stored(i64),
        New(usize),
    }
    let mut parents = Vec::with_capacity(objs.len());
    let mut missing: Vec<Value> = Vec::new();
    for obj in &objs {
        let parent = if let Some(pid) = obj.get("parentId").and_then(|v| v.as_i64()) {
            if meta.assets.items.contains_key(&pid) {
                Parent::Stored(pid)
            } else {
                let j = json!({ "id": pid });
                if !missing.contains(&j) {
                    missing.push(j);
                }
                Parent::None
            }
        } else if let Some(px) = obj.get("parentExternalId").and_then(|v| v.as_str()) {
            if let Some(&i) = in_request.get(px) {
                Parent::New(i)
            } else if let Some(pid) = meta.assets.key_of_xid(px) {
                Parent::Stored(pid)
            } else {
                let j = json!({ "externalId": px });
                if !missing.contains(&j) {
                    missing.push(j);
                }
                Parent::None
            }
        } else {
            Parent::None
        };
        parents.push(parent);
    }
    if !missing.is_empty() {
        return Err(ApiError::missing(missing).with_message("Reference to unknown parent"));
    }

    // rootId: follow parents within the request until a stored asset or a root; a loop is an error.
    let mut roots: Vec<Option<i64>> = vec![None; objs.len()];
    for start in 0..objs.len() {
        let mut chain = Vec::new();
        let mut cur = start;
        let root = loop {
            if let Some(r) = roots[cur] {
                break r;
            }
            if chain.contains(&cur) {
                return Err(ApiError::bad_request(format!("items[{start}]: the parent references form a cycle")));
            }
            chain.push(cur);
            match parents[cur] {
                Parent::None => break ids[cur],
                Parent::Stored(pid) => {
                    break meta.assets.items[&pid].get("rootId").and_then(|v| v.as_i64()).unwrap_or(pid)
                }
                Parent::New(i) => cur = i,
            }
        };
        for c in chain {
            roots[c] = Some(root);
        }
    }

    let now = now_ms();
    let mut stored = Vec::with_capacity(objs.len());
    for (i, mut obj) in objs.into_iter().enumerate() {
        obj.remove("parentExternalId");
        match parents[i] {
            Parent::Stored(pid) => {
                obj.insert("parentId".into(), json!(pid));
            }
            Parent::New(p) => {
                obj.insert("parentId".into(), json!(ids[p]));
            }
            Parent::None => {}
        }
        finish_new(&ASSETS, &mut obj, ids[i], now);
        obj.insert("rootId".into(), json!(roots[i].unwrap_or(ids[i])));
        meta.assets.insert(ids[i], obj);
        stored.push(ids[i]);
    }
    let out = stored.iter().map(|id| output(&meta.assets.items[id], &meta)).collect();
    Ok(Reply::items(201, out, 0))
}

/// Applies an asset patch; a new parent must exist and be in the same hierarchy.
pub fn apply_update(obj: &mut Object, patch: &Value, path: &str, meta: &MetaStore) -> ApiResult<()> {
    let mut patch = patch.clone();
    let new_parent = match patch.as_object_mut().and_then(|p| p.remove("parentExternalId")) {
        Some(op) => {
            let x = op
                .get("set")
                .and_then(|v| v.as_str())
                .ok_or_else(|| ApiError::bad_request(format!("{path}.parentExternalId: only set is allowed")))?;
            Some(meta.assets.key_of_xid(x).ok_or_else(|| {
                ApiError::missing(vec![json!({ "externalId": x })]).with_message("Reference to unknown parent")
            })?)
        }
        None => None,
    };
    super::generic::apply_update(&ASSETS, obj, &patch, path)?;
    let new_parent = new_parent.or_else(|| patch.get("parentId").and_then(|op| op.get("set")).and_then(|v| v.as_i64()));
    if let Some(pid) = new_parent {
        let id = obj.get("id").and_then(|v| v.as_i64()).unwrap_or_default();
        let parent =
            meta.assets.items.get(&pid).ok_or_else(|| {
                ApiError::missing(vec![json!({ "id": pid })]).with_message("Reference to unknown parent")
            })?;
        let root = obj.get("rootId").and_then(|v| v.as_i64());
        if root == Some(id) {
            return Err(ApiError::bad_request(format!("{path}.parentId: a root asset cannot be given a parent")));
        }
        if parent.get("rootId").and_then(|v| v.as_i64()) != root {
            return Err(ApiError::bad_request(format!(
                "{path}.parentId: the new parent must be in the same asset hierarchy"
            )));
        }
        if subtree_ids(&meta.assets, &[id]).contains(&pid) {
            return Err(ApiError::bad_request(format!("{path}.parentId: an asset cannot be moved below itself")));
        }
        obj.insert("parentId".into(), json!(pid));
    }
    Ok(())
}

pub fn after_update(_meta: &mut MetaStore, _id: i64) {
    // Moves stay within one hierarchy, so rootIds of descendants never change.
}

pub fn delete(ctx: &Ctx, body: &Value) -> ApiResult<Reply> {
    let (idents, ignore) = parse_ident_items(body, 1000, true, &["recursive"])?;
    let recursive = get_bool(body.as_object().expect("checked"), "recursive")?;
    let mut meta = ctx.project.meta.lock();
    let keys = super::idents::resolve(&meta.assets, Kind::Assets, super::idents::IdOp::Delete, &idents, true, ignore)?;
    let subtree = subtree_ids(&meta.assets, &keys);
    if !recursive {
        let requested: HashSet<i64> = keys.iter().copied().collect();
        let blocked: Vec<Value> = keys
            .iter()
            .filter(|k| {
                meta.assets.items.values().any(|o| {
                    o.get("parentId").and_then(|v| v.as_i64()) == Some(**k)
                        && !requested.contains(&o["id"].as_i64().unwrap_or_default())
                })
            })
            .map(|k| json!({ "id": k }))
            .collect();
        if !blocked.is_empty() {
            return Err(ApiError::bad_request(format!(
                "Assets have children; set recursive=true to delete them with their subtrees: {}",
                serde_json::to_string(&blocked).unwrap_or_default()
            )));
        }
    }
    let n = subtree.len() as u64;
    for id in subtree {
        meta.assets.remove(id);
    }
    Ok(Reply::empty(200, n))
}
