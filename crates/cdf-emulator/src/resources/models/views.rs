//! Views (properties mapped onto container properties, `implements` with inherited
//! properties, connection definitions kept as given) and data models (views by reference,
//! versions). Both are keyed by (space, externalId, version).

use serde_json::{json, Value};
use std::collections::BTreeMap;

use super::containers::check_property_id;
use super::*;
use crate::resources::generic::check_keys;
use crate::store::now_ms;

/// Where a view property lives: the container and its property identifier.
pub type Mapping = BTreeMap<String, (ContainerKey, String)>;

const CONNECTION_TYPES: &[&str] = &[
    "single_edge_connection",
    "multi_edge_connection",
    "single_reverse_direct_relation",
    "multi_reverse_direct_relation",
];

fn view_key(v: &Value) -> Option<VersionedKey> {
    Some((v.get("space")?.as_str()?.into(), v.get("externalId")?.as_str()?.into(), v.get("version")?.as_str()?.into()))
}

/// A view's own and inherited properties in apply shape, later `implements` entries and the
/// view's own properties overriding earlier ones. `seen` stops implements cycles.
fn raw_properties(store: &ModelStore, key: &VersionedKey, inherited: bool, seen: &mut Vec<VersionedKey>) -> Object {
    let Some(view) = store.views.get(key) else { return Object::new() };
    if seen.contains(key) {
        return Object::new();
    }
    seen.push(key.clone());
    let mut out = Object::new();
    if inherited {
        for parent in view.get("implements").and_then(|i| i.as_array()).into_iter().flatten() {
            if let Some(pk) = view_key(parent) {
                out.extend(raw_properties(store, &pk, true, seen));
            }
        }
    }
    if let Some(own) = view.get("properties").and_then(|p| p.as_object()) {
        out.extend(own.clone());
    }
    out
}

/// The container property a mapped view property points at.
fn mapped_target(p: &Value) -> Option<(ContainerKey, String)> {
    let c = p.get("container")?;
    let key = (c.get("space")?.as_str()?.to_string(), c.get("externalId")?.as_str()?.to_string());
    Some((key, p.get("containerPropertyIdentifier")?.as_str()?.to_string()))
}

/// Every mapped property of a view (inherited ones included), for instance reads and writes.
pub fn mapping(store: &ModelStore, key: &VersionedKey) -> Option<Mapping> {
    store.views.get(key)?;
    let props = raw_properties(store, key, true, &mut Vec::new());
    Some(props.iter().filter_map(|(name, p)| mapped_target(p).map(|t| (name.clone(), t))).collect())
}

/// A mapped property in its read shape: the container's type and flags, the view's name.
fn read_property(store: &ModelStore, p: &Value) -> Value {
    let Some((ck, cp)) = mapped_target(p) else { return read_connection(store, p) };
    let cprop = store.containers.get(&ck).and_then(|c| c["properties"].get(&cp)).cloned().unwrap_or(json!({}));
    let mut ty = cprop.get("type").cloned().unwrap_or(json!({}));
    if let Some(src) = p.get("source").filter(|s| !s.is_null()) {
        ty["source"] = src.clone();
    }
    let mut out = json!({
        "container": container_ref_json(&ck),
        "containerPropertyIdentifier": cp,
        "type": ty,
        "nullable": cprop.get("nullable").cloned().unwrap_or(json!(true)),
        "immutable": cprop.get("immutable").cloned().unwrap_or(json!(false)),
        "autoIncrement": cprop.get("autoIncrement").cloned().unwrap_or(json!(false)),
        "constraintState": cprop.get("constraintState").cloned().unwrap_or(json!({})),
    });
    // The default comes from the container; name and description only from the view (the
    // recordings show a view property without them even when the container property has them).
    if let Some(v) = cprop.get("defaultValue") {
        out["defaultValue"] = v.clone();
    }
    for k in ["name", "description"] {
        if let Some(v) = p.get(k).filter(|v| !v.is_null()) {
            out[k] = v.clone();
        }
    }
    out
}

/// A connection definition in its read shape: reverse direct relations gain `targetsList`,
/// whether the direct relation they go through is a list (as the cognite-sdk-scala recording
/// `ViewsTest/should-create-and-retrieve-a-view-that-contains-a-RDR.json` answers).
fn read_connection(store: &ModelStore, p: &Value) -> Value {
    let mut out = p.clone();
    let reverse =
        p.get("connectionType").and_then(|c| c.as_str()).is_some_and(|c| c.ends_with("reverse_direct_relation"));
    if !reverse {
        return out;
    }
    let through = &p["through"];
    let prop = through["identifier"].as_str().unwrap_or("");
    let src = &through["source"];
    let target = match src["type"].as_str() {
        Some("container") => {
            let ck =
                (src["space"].as_str().unwrap_or("").to_string(), src["externalId"].as_str().unwrap_or("").to_string());
            Some((ck, prop.to_string()))
        }
        _ => view_key(src).and_then(|vk| mapping(store, &vk)).and_then(|m| m.get(prop).cloned()),
    };
    let list = target
        .and_then(|(ck, cp)| store.containers.get(&ck).map(|c| super::types::is_list(&c["properties"][&cp]["type"])))
        .unwrap_or(false);
    out["targetsList"] = json!(list);
    out
}

/// A view in its read shape.
pub fn output(store: &ModelStore, key: &VersionedKey, include_inherited: bool) -> Option<Value> {
    let view = store.views.get(key)?;
    let raw = raw_properties(store, key, include_inherited, &mut Vec::new());
    let props: Object = raw.iter().map(|(k, p)| (k.clone(), read_property(store, p))).collect();
    let mut out = view.clone();
    out.insert("properties".into(), Value::Object(props));
    Some(Value::Object(out))
}

fn parse_property(name: &str, v: &Value, path: &str, store: &ModelStore) -> ApiResult<Value> {
    check_property_id(name, path)?;
    let o = as_obj(v, path)?;
    if let Some(ct) = o.get("connectionType") {
        let ct = ct.as_str().unwrap_or("");
        if !CONNECTION_TYPES.contains(&ct) {
            return Err(invalid(format!(
                "{path}.connectionType: \"{ct}\" is not one of {}",
                CONNECTION_TYPES.join(", ")
            )));
        }
        return Ok(v.clone());
    }
    check_keys(o, &["container", "containerPropertyIdentifier", "name", "description", "source"], path)?;
    let ck = parse_container_ref(o.get("container").unwrap_or(&Value::Null), &format!("{path}.container"))?;
    let cp = req_str(o, "containerPropertyIdentifier", path)?;
    let container = store
        .containers
        .get(&ck)
        .ok_or_else(|| invalid(format!("Referenced container does not exist: {}:{}", ck.0, ck.1)))?;
    if container["properties"].get(cp).is_none() {
        return Err(invalid(format!(
            "{path}.containerPropertyIdentifier: container '{}:{}' has no property '{cp}'",
            ck.0, ck.1
        )));
    }
    let mut out = o.clone();
    out.insert("container".into(), container_ref_json(&ck));
    Ok(Value::Object(out))
}

pub fn apply(ctx: &Ctx, access: &Access, body: &Value) -> ApiResult<Reply> {
    let list = item_list(body, SCHEMA_ITEMS_LIMIT, &[])?;
    let mut store = ctx.project.models.lock();
    let before = store.views.clone();
    match apply_views(&mut store, access, list) {
        Ok(keys) => Ok(Reply::items(200, keys.iter().filter_map(|k| output(&store, k, true)).collect(), 0)),
        Err(e) => {
            // All or nothing: later items of the request may have failed.
            store.views = before;
            Err(e)
        }
    }
}

/// Stores each view as it is checked, so later items may implement earlier ones.
fn apply_views(store: &mut ModelStore, access: &Access, list: &[Value]) -> ApiResult<Vec<VersionedKey>> {
    let now = now_ms();
    let mut staged: Vec<(VersionedKey, Object)> = Vec::new();
    for (i, item) in list.iter().enumerate() {
        let path = format!("items[{i}]");
        let o = as_obj(item, &path)?;
        check_keys(
            o,
            &["space", "externalId", "version", "name", "description", "filter", "implements", "properties"],
            &path,
        )?;
        check_name_description(o)?;
        let (space, xid, version) = versioned_id(o, &path)?;
        access.check(&space)?;
        check_schema_xid(&xid, &format!("{path}.externalId"))?;
        check_version(&version, &format!("{path}.version"))?;
        match store.spaces.get(&space) {
            None => return Err(missing_spaces(&[&space])),
            Some(s) if is_global(s) => {
                return Err(invalid(format!("{path}.space: '{space}' is a system space and cannot be written")))
            }
            _ => {}
        }
        let key = (space.clone(), xid.clone(), version.clone());
        let mut props = Object::new();
        for (name, p) in o.get("properties").and_then(|p| p.as_object()).into_iter().flatten() {
            let parsed = parse_property(name, p, &format!("{path}.properties.{name}"), store).map_err(|e| {
                e.clone().with_message(format!("Cannot update view '{space}:{xid}/{version}', {}", e.message))
            })?;
            props.insert(name.clone(), parsed);
        }
        let mut implements = Vec::new();
        for (j, parent) in o.get("implements").and_then(|i| i.as_array()).into_iter().flatten().enumerate() {
            let (ps, px, pv) = parse_versioned_ref(parent, &format!("{path}.implements[{j}]"), false)?;
            let pk = (ps, px, pv.expect("required"));
            if !store.views.contains_key(&pk) && !staged.iter().any(|(k, _)| *k == pk) {
                return Err(invalid(format!(
                    "Cannot update view '{space}:{xid}/{version}', implemented view does not exist: {}:{}/{}",
                    pk.0, pk.1, pk.2
                )));
            }
            implements.push(view_ref_json(&pk));
        }
        let mut view = Object::new();
        view.insert("space".into(), json!(space));
        view.insert("externalId".into(), json!(xid));
        view.insert("version".into(), json!(version));
        for k in ["name", "description", "filter"] {
            if let Some(v) = o.get(k).filter(|v| !v.is_null()) {
                view.insert(k.into(), v.clone());
            }
        }
        view.insert("implements".into(), Value::Array(implements));
        view.insert("properties".into(), Value::Object(props));
        view.insert("isGlobal".into(), json!(false));
        stamp(&mut view, store.views.get(&key), now, DERIVED);
        staged.push((key.clone(), view.clone()));
        store.views.insert(key, view);
    }
    let keys: Vec<VersionedKey> = staged.into_iter().map(|(k, _)| k).collect();
    for k in &keys {
        finish(store, k);
    }
    Ok(keys)
}

/// The fields of a view derived from the containers it maps.
const DERIVED: &[&str] = &["writable", "queryable", "usedFor", "mappedContainers"];

/// `writable`, `usedFor`, `queryable` and `mappedContainers`, from the containers the view maps.
fn derived_fields(store: &ModelStore, key: &VersionedKey) -> Object {
    let map = mapping(store, key).unwrap_or_default();
    let mut containers: Vec<&ContainerKey> = map.values().map(|(c, _)| c).collect();
    containers.sort();
    containers.dedup();
    let used: Vec<&str> = containers
        .iter()
        .filter_map(|c| store.containers.get(*c).and_then(|c| c.get("usedFor")).and_then(|u| u.as_str()))
        .collect();
    let used_for = if used.is_empty() || used.iter().all(|u| *u == "node") {
        "node"
    } else if used.iter().all(|u| *u == "edge") {
        "edge"
    } else {
        "all"
    };
    let mut out = Object::new();
    out.insert("writable".into(), json!(!containers.is_empty()));
    out.insert("queryable".into(), json!(true));
    out.insert("usedFor".into(), json!(used_for));
    out.insert("mappedContainers".into(), Value::Array(containers.iter().map(|c| container_ref_json(c)).collect()));
    out
}

/// Completes a view stored without the derived fields (the Core Data Model preload).
pub fn finish(store: &mut ModelStore, key: &VersionedKey) {
    let derived = derived_fields(store, key);
    if let Some(v) = store.views.get_mut(key) {
        v.extend(derived);
    }
}

pub fn list(ctx: &Ctx, access: &Access) -> ApiResult<Reply> {
    let q = ListQuery::of(ctx)?;
    let inherited = ctx.query.get("includeInheritedProperties").is_none_or(|v| v == "true");
    let store = ctx.project.models.lock();
    let items = q
        .versioned(access, &store.views)
        .into_iter()
        .filter_map(|v| view_key(&Value::Object(v.clone())))
        .filter_map(|k| output(&store, &k, inherited))
        .collect();
    schema_page(ctx, items)
}

/// byids items: `{space, externalId, version}`; without `version`, every version.
fn select<'a>(
    map: &'a BTreeMap<VersionedKey, Object>,
    body: &Value,
    access: &Access,
) -> ApiResult<Vec<&'a VersionedKey>> {
    let list = item_list(body, SCHEMA_ITEMS_LIMIT, &[])?;
    let mut out = Vec::new();
    for (i, item) in list.iter().enumerate() {
        let (s, x, v) = parse_versioned_ref(item, &format!("items[{i}]"), true)?;
        access.check(&s)?;
        out.extend(map.keys().filter(|k| k.0 == s && k.1 == x && v.as_ref().is_none_or(|v| *v == k.2)));
    }
    Ok(out)
}

pub fn byids(ctx: &Ctx, access: &Access, body: &Value) -> ApiResult<Reply> {
    let inherited = ctx.query.get("includeInheritedProperties").is_none_or(|v| v == "true");
    let store = ctx.project.models.lock();
    let keys = select(&store.views, body, access)?;
    let out = keys.into_iter().filter_map(|k| output(&store, k, inherited)).collect();
    Ok(Reply::items(200, out, 0))
}

fn delete_from(
    ctx: &Ctx,
    access: &Access,
    body: &Value,
    pick: fn(&mut ModelStore) -> &mut BTreeMap<VersionedKey, Object>,
) -> ApiResult<Reply> {
    let mut store = ctx.project.models.lock();
    let keys: Vec<VersionedKey> = select(pick(&mut store), body, access)?.into_iter().cloned().collect();
    let map = pick(&mut store);
    if let Some(k) = keys.iter().find(|k| map.get(*k).is_some_and(is_global)) {
        return Err(invalid(format!("Cannot delete '{}:{}/{}': it is part of a system space", k.0, k.1, k.2)));
    }
    let deleted = keys
        .iter()
        .filter(|k| map.remove(*k).is_some())
        .map(|k| json!({"space": k.0, "externalId": k.1, "version": k.2}))
        .collect();
    Ok(Reply::items(200, deleted, 0))
}

pub fn delete(ctx: &Ctx, access: &Access, body: &Value) -> ApiResult<Reply> {
    delete_from(ctx, access, body, |s| &mut s.views)
}

// ---------------------------------------------------------------- data models

/// A data model in its read shape; `inline` replaces the view references by the views.
fn model_output(store: &ModelStore, model: &Object, inline: bool) -> Value {
    let mut out = model.clone();
    if inline {
        let views: Vec<Value> = model["views"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| view_key(r).and_then(|k| output(store, &k, true)))
            .collect();
        out.insert("views".into(), Value::Array(views));
    }
    Value::Object(out)
}

pub fn models_apply(ctx: &Ctx, access: &Access, body: &Value) -> ApiResult<Reply> {
    let list = item_list(body, SCHEMA_ITEMS_LIMIT, &[])?;
    let mut store = ctx.project.models.lock();
    let now = now_ms();
    let mut staged = Vec::new();
    for (i, item) in list.iter().enumerate() {
        let path = format!("items[{i}]");
        let o = as_obj(item, &path)?;
        check_keys(o, &["space", "externalId", "version", "name", "description", "views"], &path)?;
        check_name_description(o)?;
        let (space, xid, version) = versioned_id(o, &path)?;
        access.check(&space)?;
        check_schema_xid(&xid, &format!("{path}.externalId"))?;
        check_version(&version, &format!("{path}.version"))?;
        if !store.spaces.contains_key(&space) {
            return Err(missing_spaces(&[&space]));
        }
        let mut views = Vec::new();
        for (j, v) in o.get("views").and_then(|v| v.as_array()).into_iter().flatten().enumerate() {
            let vp = format!("{path}.views[{j}]");
            if v.get("properties").is_some() {
                return Err(invalid(format!(
                    "{vp}: the emulator takes views by reference only; apply the view through /models/views first"
                )));
            }
            let (s, x, ver) = parse_versioned_ref(v, &vp, false)?;
            let vk = (s, x, ver.expect("required"));
            if !store.views.contains_key(&vk) {
                return Err(missing_view(&vk));
            }
            views.push(view_ref_json(&vk));
        }
        let key = (space.clone(), xid.clone(), version.clone());
        let mut m = Object::new();
        m.insert("space".into(), json!(space));
        m.insert("externalId".into(), json!(xid));
        m.insert("version".into(), json!(version));
        for k in ["name", "description"] {
            if let Some(v) = o.get(k).filter(|v| !v.is_null()) {
                m.insert(k.into(), v.clone());
            }
        }
        m.insert("views".into(), Value::Array(views));
        m.insert("isGlobal".into(), json!(false));
        stamp(&mut m, store.data_models.get(&key), now, &[]);
        staged.push((key, m));
    }
    let out = staged.iter().map(|(_, m)| Value::Object(m.clone())).collect();
    store.data_models.extend(staged);
    Ok(Reply::items(200, out, 0))
}

pub fn models_list(ctx: &Ctx, access: &Access) -> ApiResult<Reply> {
    let q = ListQuery::of(ctx)?;
    let inline = query_flag(ctx, "inlineViews")?;
    let store = ctx.project.models.lock();
    let items = q.versioned(access, &store.data_models).into_iter().map(|m| model_output(&store, m, inline)).collect();
    schema_page(ctx, items)
}

pub fn models_byids(ctx: &Ctx, access: &Access, body: &Value) -> ApiResult<Reply> {
    let inline = query_flag(ctx, "inlineViews")?;
    let store = ctx.project.models.lock();
    let keys = select(&store.data_models, body, access)?;
    let out = keys.into_iter().map(|k| model_output(&store, &store.data_models[k], inline)).collect();
    Ok(Reply::items(200, out, 0))
}

pub fn models_delete(ctx: &Ctx, access: &Access, body: &Value) -> ApiResult<Reply> {
    delete_from(ctx, access, body, |s| &mut s.data_models)
}
