//! Containers: apply (create, or add properties to an existing one; a property's type cannot
//! change), list, byids, delete (drops the data instances hold in it). Properties have the
//! DMS types of `types`, `nullable` (default true), `immutable`, `autoIncrement`,
//! `defaultValue`; constraints `requires` and `uniqueness`; indexes `btree` and `inverted`.

use serde_json::{json, Value};

use super::types::{check_value, normalise_type};
use super::*;
use crate::resources::generic::check_keys;
use crate::store::now_ms;

/// Properties per container (DMS limits page).
pub const MAX_PROPERTIES: usize = 100;

/// Property identifiers DMS reserves for its own use.
const RESERVED_PROPERTIES: &[&str] = &[
    "space",
    "externalId",
    "createdTime",
    "lastUpdatedTime",
    "deletedTime",
    "edge_id",
    "node_id",
    "project_id",
    "property_group",
    "seq",
    "tg_table_name",
    "extensions",
];

pub fn check_property_id(s: &str, path: &str) -> ApiResult<()> {
    let ok = !s.is_empty()
        && s.len() <= 255
        && s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !ok {
        return Err(invalid(format!(
            "{path}: \"{s}\" does not match the pattern ^[a-zA-Z0-9][a-zA-Z0-9_-]{{0,253}}[a-zA-Z0-9]?$"
        )));
    }
    if RESERVED_PROPERTIES.contains(&s) {
        return Err(invalid(format!("{path}: \"{s}\" is a reserved property identifier")));
    }
    Ok(())
}

fn bool_field(o: &Map<String, Value>, key: &str, default: bool, path: &str) -> ApiResult<bool> {
    match o.get(key) {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(invalid(format!("{path}.{key}: must be a boolean"))),
    }
}

/// One container property in its read shape.
fn parse_property(name: &str, v: &Value, path: &str) -> ApiResult<Object> {
    check_property_id(name, path)?;
    let o = as_obj(v, path)?;
    // `constraintState` is read-only, but cognite-sdk's read class `ContainerProperty`, which
    // its docs use in `ContainerApply`, sends it back; it is accepted and ignored.
    check_keys(
        o,
        &["type", "nullable", "autoIncrement", "immutable", "defaultValue", "name", "description", "constraintState"],
        path,
    )?;
    let ty = normalise_type(o.get("type").unwrap_or(&Value::Null), &format!("{path}.type"))?;
    let auto_increment = bool_field(o, "autoIncrement", false, path)?;
    if auto_increment && !matches!(super::types::type_name(&ty), "int32" | "int64") {
        return Err(invalid(format!("{path}.autoIncrement: only int32 and int64 properties can auto-increment")));
    }
    let mut out = Object::new();
    out.insert("type".into(), ty.clone());
    out.insert("nullable".into(), json!(bool_field(o, "nullable", true, path)?));
    out.insert("autoIncrement".into(), json!(auto_increment));
    out.insert("immutable".into(), json!(bool_field(o, "immutable", false, path)?));
    if let Some(d) = o.get("defaultValue").filter(|d| !d.is_null()) {
        if super::types::type_name(&ty) == "direct" || super::types::is_list(&ty) {
            return Err(invalid(format!(
                "{path}.defaultValue: direct relations and lists cannot have a default value"
            )));
        }
        out.insert("defaultValue".into(), check_value(&ty, d, name)?);
    }
    for k in ["name", "description"] {
        if let Some(v) = o.get(k).filter(|v| !v.is_null()) {
            out.insert(k.into(), v.clone());
        }
    }
    out.insert("constraintState".into(), constraint_state(&out));
    Ok(out)
}

/// `constraintState` of a container property: `{"nullability": "current"}` on required
/// properties, `{}` otherwise (as the recordings show; DMS reports "pending" states while it
/// back-fills, which the emulator never needs).
pub fn constraint_state(prop: &Object) -> Value {
    if prop.get("nullable") == Some(&json!(false)) {
        json!({"nullability": "current"})
    } else {
        json!({})
    }
}

fn parse_constraints(v: Option<&Value>, props: &Object, path: &str) -> ApiResult<Object> {
    let mut out = Object::new();
    let Some(v) = v.filter(|v| !v.is_null()) else { return Ok(out) };
    for (name, c) in as_obj(v, path)? {
        let p = format!("{path}.{name}");
        let o = as_obj(c, &p)?;
        let mut c = o.clone();
        match o.get("constraintType").and_then(|t| t.as_str()) {
            Some("requires") => {
                check_keys(o, &["constraintType", "require"], &p)?;
                let k = parse_container_ref(o.get("require").unwrap_or(&Value::Null), &format!("{p}.require"))?;
                c.insert("require".into(), container_ref_json(&k));
            }
            Some("uniqueness") => {
                check_keys(o, &["constraintType", "properties", "bySpace"], &p)?;
                check_property_list(o.get("properties"), props, &p)?;
            }
            _ => return Err(invalid(format!("{p}.constraintType: must be \"requires\" or \"uniqueness\""))),
        }
        c.insert("state".into(), json!("current"));
        out.insert(name.clone(), Value::Object(c));
    }
    Ok(out)
}

fn check_property_list(v: Option<&Value>, props: &Object, path: &str) -> ApiResult<()> {
    let a = v
        .and_then(|v| v.as_array())
        .filter(|a| !a.is_empty())
        .ok_or_else(|| invalid(format!("{path}.properties: must be a non-empty list of property identifiers")))?;
    for p in a {
        let name = p.as_str().unwrap_or("");
        if !props.contains_key(name) {
            return Err(invalid(format!("{path}.properties: \"{name}\" is not a property of the container")));
        }
    }
    Ok(())
}

fn parse_indexes(v: Option<&Value>, props: &Object, path: &str) -> ApiResult<Object> {
    let mut out = Object::new();
    let Some(v) = v.filter(|v| !v.is_null()) else { return Ok(out) };
    for (name, c) in as_obj(v, path)? {
        let p = format!("{path}.{name}");
        let o = as_obj(c, &p)?;
        match o.get("indexType").and_then(|t| t.as_str()) {
            Some("btree") => check_keys(o, &["indexType", "properties", "cursorable", "bySpace"], &p)?,
            Some("inverted") => check_keys(o, &["indexType", "properties"], &p)?,
            _ => return Err(invalid(format!("{p}.indexType: must be \"btree\" or \"inverted\""))),
        }
        check_property_list(o.get("properties"), props, &p)?;
        let mut c = o.clone();
        c.insert("state".into(), json!("current"));
        out.insert(name.clone(), Value::Object(c));
    }
    Ok(out)
}

/// Validates one container of an apply request against the stored one, in its read shape.
fn parse_container(item: &Value, path: &str, old: Option<&Object>, now: i64) -> ApiResult<Object> {
    let o = as_obj(item, path)?;
    check_keys(
        o,
        &["space", "externalId", "name", "description", "usedFor", "properties", "constraints", "indexes"],
        path,
    )?;
    check_name_description(o)?;
    let space = req_str(o, "space", path)?;
    let xid = req_str(o, "externalId", path)?;
    check_schema_xid(xid, &format!("{path}.externalId"))?;
    let used_for = match o.get("usedFor").and_then(|u| u.as_str()) {
        None => "node",
        Some(u @ ("node" | "edge" | "all")) => u,
        Some(u) => return Err(invalid(format!("{path}.usedFor: \"{u}\" is not one of node, edge, all"))),
    };
    let props_in = o
        .get("properties")
        .and_then(|p| p.as_object())
        .ok_or_else(|| invalid(format!("{path}.properties: is required")))?;
    let mut props = old.and_then(|c| c.get("properties")).and_then(|p| p.as_object()).cloned().unwrap_or_default();
    for (name, p) in props_in {
        let parsed = parse_property(name, p, &format!("{path}.properties.{name}"))?;
        if let Some(prev) = props.get(name) {
            if prev.get("type") != parsed.get("type") {
                return Err(invalid(format!(
                    "Cannot update container '{space}:{xid}': the type of property '{name}' cannot be changed"
                )));
            }
        }
        props.insert(name.clone(), Value::Object(parsed));
    }
    if props.is_empty() || props.len() > MAX_PROPERTIES {
        return Err(invalid(format!("{path}.properties: a container has 1 to {MAX_PROPERTIES} properties")));
    }
    let mut out = Object::new();
    out.insert("space".into(), json!(space));
    out.insert("externalId".into(), json!(xid));
    for k in ["name", "description"] {
        if let Some(v) = o.get(k).filter(|v| !v.is_null()) {
            out.insert(k.into(), v.clone());
        }
    }
    out.insert("usedFor".into(), json!(used_for));
    out.insert(
        "constraints".into(),
        Value::Object(parse_constraints(o.get("constraints"), &props, &format!("{path}.constraints"))?),
    );
    out.insert("indexes".into(), Value::Object(parse_indexes(o.get("indexes"), &props, &format!("{path}.indexes"))?));
    out.insert("properties".into(), Value::Object(props));
    out.insert("isGlobal".into(), json!(false));
    stamp(&mut out, old, now, &[]);
    Ok(out)
}

pub fn apply(ctx: &Ctx, access: &Access, body: &Value) -> ApiResult<Reply> {
    let list = item_list(body, SCHEMA_ITEMS_LIMIT, &[])?;
    let mut store = ctx.project.models.lock();
    let now = now_ms();
    let mut staged: Vec<(ContainerKey, Object)> = Vec::with_capacity(list.len());
    for (i, item) in list.iter().enumerate() {
        let path = format!("items[{i}]");
        let space = item.get("space").and_then(|s| s.as_str()).unwrap_or("");
        access.check(space)?;
        if !store.spaces.contains_key(space) {
            return Err(missing_spaces(&[space]));
        }
        if store.spaces.get(space).is_some_and(is_global) {
            return Err(invalid(format!("{path}.space: '{space}' is a system space and cannot be written")));
        }
        let key: ContainerKey =
            (space.to_string(), item.get("externalId").and_then(|x| x.as_str()).unwrap_or("").into());
        let c = parse_container(item, &path, store.containers.get(&key), now)?;
        staged.push((key, c));
    }
    // `requires` must name a container that exists or is created by this request.
    for (key, c) in &staged {
        for (name, con) in c["constraints"].as_object().expect("built") {
            if let Some(r) = con.get("require") {
                let rk =
                    (r["space"].as_str().unwrap_or("").to_string(), r["externalId"].as_str().unwrap_or("").to_string());
                if !store.containers.contains_key(&rk) && !staged.iter().any(|(k, _)| *k == rk) {
                    return Err(invalid(format!(
                        "Container '{}:{}' constraint '{name}' requires container '{}:{}', which does not exist",
                        key.0, key.1, rk.0, rk.1
                    )));
                }
            }
        }
    }
    let out: Vec<Value> = staged.iter().map(|(_, c)| Value::Object(c.clone())).collect();
    for (k, c) in staged {
        store.containers.insert(k, c);
    }
    Ok(Reply::items(200, out, 0))
}

pub fn list(ctx: &Ctx, access: &Access) -> ApiResult<Reply> {
    let q = ListQuery::of(ctx)?;
    let store = ctx.project.models.lock();
    let items: Vec<Value> = store
        .containers
        .iter()
        .filter(|(k, c)| q.admits(access, &k.0, c))
        .map(|(_, c)| Value::Object(c.clone()))
        .collect();
    schema_page(ctx, items)
}

fn parse_ids(body: &Value, access: &Access) -> ApiResult<Vec<ContainerKey>> {
    let list = item_list(body, SCHEMA_ITEMS_LIMIT, &[])?;
    let ids = list
        .iter()
        .enumerate()
        .map(|(i, v)| parse_container_ref(v, &format!("items[{i}]")))
        .collect::<ApiResult<Vec<_>>>()?;
    for k in &ids {
        access.check(&k.0)?;
    }
    Ok(ids)
}

pub fn byids(ctx: &Ctx, access: &Access, body: &Value) -> ApiResult<Reply> {
    let ids = parse_ids(body, access)?;
    let store = ctx.project.models.lock();
    let out = ids.iter().filter_map(|k| store.containers.get(k)).map(|c| Value::Object(c.clone())).collect();
    Ok(Reply::items(200, out, 0))
}

pub fn delete(ctx: &Ctx, access: &Access, body: &Value) -> ApiResult<Reply> {
    let ids = parse_ids(body, access)?;
    let mut store = ctx.project.models.lock();
    if let Some(k) = ids.iter().find(|k| store.containers.get(*k).is_some_and(is_global)) {
        return Err(invalid(format!("Cannot delete container '{}:{}': it is a system container", k.0, k.1)));
    }
    let mut deleted = Vec::new();
    for k in ids {
        if store.containers.remove(&k).is_some() {
            store.instances.drop_container_data(&k);
            deleted.push(json!({"space": k.0, "externalId": k.1}));
        }
    }
    Ok(Reply::items(200, deleted, 0))
}
