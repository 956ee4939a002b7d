//! Instances (nodes and edges): upsert through views or containers with DMS's type checks,
//! `existingVersion`, `replace` vs patch, auto-created direct-relation targets and edge
//! ends, `skipOnVersionConflict`; list with filters, sort and cursors; byids; delete.
//! Data is stored per container, as DMS stores it; views only map onto it.

use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

use super::filters::{compile, compile_sort, eval, sort_cmp};
use super::types::{check_value, type_name};
use super::views::mapping;
use super::*;
use crate::resources::generic::{check_keys, get_bool};
use crate::store::now_ms;

/// Items per upsert, byids and delete, and the largest list page ([PY] `_CREATE_LIMIT` 1000;
/// builder-skills: "`instances.upsert` accepts up to 1000 items per call"; [RS] list "maximum 1000").
pub const INSTANCES_LIMIT: usize = 1000;
/// Default page of `/models/instances/list` ([RS] `FilterInstancesRequest`: "Default 1000").
pub const LIST_DEFAULT: usize = 1000;
/// The longest instance externalId.
pub const MAX_XID_CHARS: usize = 255;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum InstanceType {
    Node,
    Edge,
}

impl InstanceType {
    pub fn as_str(self) -> &'static str {
        match self {
            InstanceType::Node => "node",
            InstanceType::Edge => "edge",
        }
    }
    fn parse(v: Option<&Value>, path: &str) -> ApiResult<InstanceType> {
        match v.and_then(|t| t.as_str()) {
            Some("node") => Ok(InstanceType::Node),
            Some("edge") => Ok(InstanceType::Edge),
            _ => Err(invalid(format!("{path}.instanceType: must be \"node\" or \"edge\""))),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct InstanceKey {
    pub instance_type: InstanceType,
    pub space: String,
    pub external_id: String,
}

impl InstanceKey {
    pub fn node(space: &str, external_id: &str) -> InstanceKey {
        InstanceKey { instance_type: InstanceType::Node, space: space.into(), external_id: external_id.into() }
    }
    /// `node 'space:externalId'`, as messages name an instance.
    pub fn describe(&self) -> String {
        format!("{} '{}:{}'", self.instance_type.as_str(), self.space, self.external_id)
    }
    pub fn id_json(&self) -> Value {
        json!({"instanceType": self.instance_type.as_str(), "space": self.space, "externalId": self.external_id})
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Instance {
    pub version: i64,
    pub created_time: i64,
    pub last_updated_time: i64,
    /// The node's own type, or the edge type: `{space, externalId}`.
    pub node_type: Option<Value>,
    pub start_node: Option<Value>,
    pub end_node: Option<Value>,
    /// Property values per container.
    pub data: BTreeMap<ContainerKey, Object>,
}

impl Instance {
    fn empty(now: i64) -> Instance {
        Instance {
            version: 1,
            created_time: now,
            last_updated_time: now,
            node_type: None,
            start_node: None,
            end_node: None,
            data: BTreeMap::new(),
        }
    }
}

#[derive(Default)]
pub struct InstanceStore {
    pub items: BTreeMap<InstanceKey, Instance>,
}

impl InstanceStore {
    pub fn any_in_space(&self, space: &str) -> bool {
        self.items.keys().any(|k| k.space == space)
    }
    pub fn drop_container_data(&mut self, c: &ContainerKey) {
        for inst in self.items.values_mut() {
            inst.data.remove(c);
        }
    }
}

// ---------------------------------------------------------------- parsing writes

/// One item of an upsert, checked against the schema.
struct Write {
    key: InstanceKey,
    existing_version: Option<i64>,
    node_type: Option<Value>,
    start_node: Option<Value>,
    end_node: Option<Value>,
    /// Values per container, type-checked (null = unset).
    data: BTreeMap<ContainerKey, Object>,
}

fn parse_node_ref(v: &Value, path: &str) -> ApiResult<(String, String)> {
    let o = as_obj(v, path)?;
    check_keys(o, &["space", "externalId"], path)?;
    Ok((req_str(o, "space", path)?.to_string(), req_str(o, "externalId", path)?.to_string()))
}

fn parse_write(store: &ModelStore, item: &Value, path: &str) -> ApiResult<Write> {
    let o = as_obj(item, path)?;
    let instance_type = InstanceType::parse(o.get("instanceType"), path)?;
    let mut allowed = vec!["instanceType", "space", "externalId", "existingVersion", "sources", "type"];
    if instance_type == InstanceType::Edge {
        allowed.extend(["startNode", "endNode"]);
    }
    check_keys(o, &allowed, path)?;
    let space = req_str(o, "space", path)?;
    let xid = req_str(o, "externalId", path)?;
    if xid.is_empty() || xid.chars().count() > MAX_XID_CHARS || xid.contains('\0') {
        return Err(invalid(format!("{path}.externalId: size must be between 1 and {MAX_XID_CHARS}")));
    }
    if !store.spaces.contains_key(space) {
        return Err(missing_spaces(&[space]));
    }
    let existing_version = match o.get("existingVersion") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_i64()
                .filter(|n| *n >= 0)
                .ok_or_else(|| invalid(format!("{path}.existingVersion: must be a non-negative integer")))?,
        ),
    };
    let node_ref = |k: &str| -> ApiResult<Option<Value>> {
        match o.get(k).filter(|v| !v.is_null()) {
            None => Ok(None),
            Some(v) => {
                let (s, x) = parse_node_ref(v, &format!("{path}.{k}"))?;
                Ok(Some(json!({"space": s, "externalId": x})))
            }
        }
    };
    let (node_type, start_node, end_node) = (node_ref("type")?, node_ref("startNode")?, node_ref("endNode")?);
    if instance_type == InstanceType::Edge {
        for (k, v) in [("type", &node_type), ("startNode", &start_node), ("endNode", &end_node)] {
            if v.is_none() {
                return Err(invalid(format!("{path}.{k}: is required for edges")));
            }
        }
    }
    let mut data: BTreeMap<ContainerKey, Object> = BTreeMap::new();
    for (i, src) in o.get("sources").and_then(|s| s.as_array()).into_iter().flatten().enumerate() {
        let sp = format!("{path}.sources[{i}]");
        let so = as_obj(src, &sp)?;
        check_keys(so, &["source", "properties"], &sp)?;
        let source = so.get("source").ok_or_else(|| invalid(format!("{sp}.source: is required")))?;
        let props = so.get("properties").and_then(|p| p.as_object()).cloned().unwrap_or_default();
        // Property name → container property, per the source.
        let targets: BTreeMap<String, (ContainerKey, String)> = match source.get("type").and_then(|t| t.as_str()) {
            Some("container") => {
                let ck = parse_container_ref(source, &format!("{sp}.source"))?;
                let c = store.containers.get(&ck).ok_or_else(|| missing_container(&ck))?;
                c["properties"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(p, _)| (p.clone(), (ck.clone(), p.clone())))
                    .collect()
            }
            Some("view") => {
                let (vs, vx, vv) = parse_versioned_ref(source, &format!("{sp}.source"), false)?;
                let vk = (vs, vx, vv.expect("required"));
                mapping(store, &vk).ok_or_else(|| missing_view(&vk))?
            }
            _ => return Err(invalid(format!("{sp}.source.type: must be \"view\" or \"container\""))),
        };
        // Writing through a view gives the instance data in every container the view maps,
        // so their required properties and defaults apply even when none is written.
        if source.get("type").and_then(|t| t.as_str()) == Some("view") {
            for (ck, _) in targets.values() {
                data.entry(ck.clone()).or_default();
            }
        }
        for (name, value) in props {
            let (ck, cp) = targets.get(&name).ok_or_else(|| {
                invalid(format!(
                    "Property '{name}' does not exist in {} (invalid property in {sp})",
                    source_name(source)
                ))
            })?;
            let container = &store.containers[ck];
            let used_for = container["usedFor"].as_str().unwrap_or("node");
            if used_for != "all" && used_for != instance_type.as_str() {
                return Err(invalid(format!(
                    "Container '{}:{}' is used for {used_for}s and cannot hold data of the {} '{space}:{xid}'",
                    ck.0,
                    ck.1,
                    instance_type.as_str()
                )));
            }
            let def = &container["properties"][cp];
            let checked = if value.is_null() {
                if def["nullable"] == json!(false) {
                    // Wording of the cognite-sdk-scala recording `InstancesTest/should-CRUD-instances-with-all-property-types`.
                    return Err(invalid(format!(
                        "Invalid value for non-nullable property '{name}'. Value cannot be null."
                    )));
                }
                Value::Null
            } else {
                check_value(&def["type"], &value, &name)?
            };
            data.entry(ck.clone()).or_default().insert(cp.clone(), checked);
        }
    }
    let key = InstanceKey { instance_type, space: space.into(), external_id: xid.into() };
    Ok(Write { key, existing_version, node_type, start_node, end_node, data })
}

fn source_name(source: &Value) -> String {
    let s = |k: &str| source.get(k).and_then(|v| v.as_str()).unwrap_or("");
    match source.get("version").and_then(|v| v.as_str()) {
        Some(v) => format!("view '{}:{}/{v}'", s("space"), s("externalId")),
        None => format!("container '{}:{}'", s("space"), s("externalId")),
    }
}

// ---------------------------------------------------------------- upsert

struct Flags {
    auto_direct: bool,
    auto_start: bool,
    auto_end: bool,
    skip_conflicts: bool,
    replace: bool,
}

/// The instance as it is now: staged by this request, or stored.
fn current<'a>(
    store: &'a ModelStore,
    staged: &'a BTreeMap<InstanceKey, Instance>,
    key: &InstanceKey,
) -> Option<&'a Instance> {
    staged.get(key).or_else(|| store.instances.items.get(key))
}

/// Merges one write into its instance; `None` when skipped for a version conflict.
fn merge(
    store: &ModelStore,
    old: Option<&Instance>,
    w: &Write,
    flags: &Flags,
    now: i64,
) -> ApiResult<Option<(Instance, bool)>> {
    let k = &w.key;
    if let Some(expected) = w.existing_version {
        let conflict = match old {
            Some(o) => o.version != expected,
            None => false,
        };
        if conflict {
            if flags.skip_conflicts {
                return Ok(None);
            }
            let mut e = ApiError::new(
                409,
                format!(
                    "A version conflict caused the ingest to fail: {} has version {}, existingVersion was {expected}",
                    k.describe(),
                    old.map(|o| o.version).unwrap_or(0)
                ),
            );
            e.duplicated = vec![k.id_json()];
            return Err(e);
        }
    }
    let mut inst = old.cloned().unwrap_or_else(|| Instance::empty(now));
    if let Some(t) = &w.node_type {
        inst.node_type = Some(t.clone());
    }
    if k.instance_type == InstanceType::Edge {
        inst.start_node = w.start_node.clone();
        inst.end_node = w.end_node.clone();
    }
    for (ck, written) in &w.data {
        let def = &store.containers[ck]["properties"];
        let previous = inst.data.get(ck).cloned();
        let mut props = if flags.replace { Object::new() } else { previous.clone().unwrap_or_default() };
        for (p, v) in written {
            if v.is_null() {
                props.remove(p);
            } else {
                props.insert(p.clone(), v.clone());
            }
        }
        // Defaults fill what a new container row leaves out (and what replace drops).
        for (p, d) in def.as_object().into_iter().flatten() {
            if !props.contains_key(p) && (previous.is_none() || flags.replace) {
                if let Some(dv) = d.get("defaultValue") {
                    props.insert(p.clone(), dv.clone());
                }
            }
        }
        for (p, d) in def.as_object().into_iter().flatten() {
            if d["nullable"] == json!(false) && !props.contains_key(p) {
                return Err(invalid(format!(
                    "Missing required property '{p}' of container '{}:{}' for {}",
                    ck.0,
                    ck.1,
                    k.describe()
                )));
            }
            if d["immutable"] == json!(true) {
                let before = previous.as_ref().and_then(|o| o.get(p));
                if before.is_some() && before != props.get(p) {
                    return Err(invalid(format!(
                        "Cannot update immutable property '{p}' of container '{}:{}' for {}",
                        ck.0,
                        ck.1,
                        k.describe()
                    )));
                }
            }
        }
        inst.data.insert(ck.clone(), props);
    }
    // `requires`: data in a container needs data in the containers it requires.
    for ck in inst.data.keys() {
        for (name, c) in store.containers[ck]["constraints"].as_object().into_iter().flatten() {
            if let Some(r) = c.get("require") {
                let rk =
                    (r["space"].as_str().unwrap_or("").to_string(), r["externalId"].as_str().unwrap_or("").to_string());
                if !inst.data.contains_key(&rk) {
                    return Err(invalid(format!(
                        "Constraint '{name}' of container '{}:{}' requires data in container '{}:{}' for {}",
                        ck.0,
                        ck.1,
                        rk.0,
                        rk.1,
                        k.describe()
                    )));
                }
            }
        }
    }
    let modified = old.is_none_or(|o| o.data != inst.data || o.node_type != inst.node_type);
    if modified && old.is_some() {
        inst.version += 1;
        inst.last_updated_time = now;
    }
    Ok(Some((inst, modified)))
}

/// Every direct relation a write points at.
fn direct_targets(store: &ModelStore, w: &Write) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (ck, props) in &w.data {
        let def = &store.containers[ck]["properties"];
        for (p, v) in props {
            if type_name(&def[p]["type"]) != "direct" {
                continue;
            }
            let refs: Vec<&Value> = match v {
                Value::Array(a) => a.iter().collect(),
                Value::Null => Vec::new(),
                other => vec![other],
            };
            for r in refs {
                if let (Some(s), Some(x)) = (r["space"].as_str(), r["externalId"].as_str()) {
                    out.push((s.to_string(), x.to_string()));
                }
            }
        }
    }
    out
}

/// Checks that every referenced node exists, creating it empty when allowed.
fn ensure_node(
    store: &ModelStore,
    staged: &mut BTreeMap<InstanceKey, Instance>,
    access: &Access,
    target: &(String, String),
    allowed: bool,
    what: &str,
    now: i64,
) -> ApiResult<()> {
    let key = InstanceKey::node(&target.0, &target.1);
    if current(store, staged, &key).is_some() {
        return Ok(());
    }
    if !allowed {
        // Direct relations: the wording of the cognite-sdk-scala recording `InstancesTest/should-fail-to-create-node-
        // with-direct-relation-when-autoCreateDirectRelations-is-false-and-target-doesn-t-exist`.
        let message = match what {
            "direct relation target" => format!(
                "Node with external id '{}' was referenced as the target of a direct relation, but it does not exist.",
                target.1
            ),
            _ => format!(
                "Node with external id '{}' was referenced as the {what} of an edge, but it does not exist.",
                target.1
            ),
        };
        return Err(invalid(message));
    }
    if !store.spaces.contains_key(&target.0) {
        return Err(missing_spaces(&[&target.0]));
    }
    // Creating a node needs write access to its space; pointing at an existing one does not.
    access.check(&target.0)?;
    staged.insert(key, Instance::empty(now));
    Ok(())
}

/// Uniqueness constraints of the containers `touched`, over stored and staged instances.
fn check_uniqueness(
    store: &ModelStore,
    staged: &BTreeMap<InstanceKey, Instance>,
    touched: &BTreeSet<ContainerKey>,
) -> ApiResult<()> {
    for ck in touched {
        for (name, c) in store.containers[ck]["constraints"].as_object().into_iter().flatten() {
            let Some(props) = c.get("properties").and_then(|p| p.as_array()) else { continue };
            let mut seen: BTreeMap<String, &InstanceKey> = BTreeMap::new();
            let all = store.instances.items.iter().filter(|(k, _)| !staged.contains_key(*k)).chain(staged.iter());
            for (k, inst) in all {
                let Some(d) = inst.data.get(ck) else { continue };
                let tuple: Vec<&Value> =
                    props.iter().map(|p| d.get(p.as_str().unwrap_or("")).unwrap_or(&Value::Null)).collect();
                if tuple.iter().all(|v| v.is_null()) {
                    continue;
                }
                let t = serde_json::to_string(&tuple).unwrap_or_default();
                if let Some(other) = seen.insert(t.clone(), k) {
                    return Err(invalid(format!(
                        "Uniqueness constraint '{name}' of container '{}:{}' violated: '{}:{}' and '{}:{}' share the value {t}",
                        ck.0, ck.1, other.space, other.external_id, k.space, k.external_id
                    )));
                }
            }
        }
    }
    Ok(())
}

pub fn apply(ctx: &Ctx, access: &Access, body: &Value) -> ApiResult<Reply> {
    let flag_keys =
        ["autoCreateDirectRelations", "autoCreateStartNodes", "autoCreateEndNodes", "skipOnVersionConflict", "replace"];
    let list = item_list(body, INSTANCES_LIMIT, &flag_keys)?;
    let top = body.as_object().expect("checked");
    let flags = Flags {
        // [PY] `apply` sends autoCreateDirectRelations=true unless told otherwise; DMS's own default is true.
        auto_direct: match top.get("autoCreateDirectRelations") {
            None | Some(Value::Null) => true,
            _ => get_bool(top, "autoCreateDirectRelations")?,
        },
        auto_start: get_bool(top, "autoCreateStartNodes")?,
        auto_end: get_bool(top, "autoCreateEndNodes")?,
        skip_conflicts: get_bool(top, "skipOnVersionConflict")?,
        replace: get_bool(top, "replace")?,
    };
    let mut store = ctx.project.models.lock();
    let mut writes = Vec::with_capacity(list.len());
    let mut seen = BTreeSet::new();
    for (i, item) in list.iter().enumerate() {
        let path = format!("items[{i}]");
        let w = parse_write(&store, item, &path)?;
        access.check(&w.key.space)?;
        if !seen.insert(w.key.clone()) {
            let mut e = invalid(format!("Duplicate {} in the request", w.key.describe()));
            e.duplicated = vec![w.key.id_json()];
            return Err(e);
        }
        writes.push(w);
    }
    let now = now_ms();
    let mut staged: BTreeMap<InstanceKey, Instance> = BTreeMap::new();
    let mut results: Vec<(InstanceKey, bool)> = Vec::new();
    let mut touched = BTreeSet::new();
    for w in &writes {
        let old = current(&store, &staged, &w.key).cloned();
        let Some((inst, modified)) = merge(&store, old.as_ref(), w, &flags, now)? else { continue };
        touched.extend(w.data.keys().cloned());
        staged.insert(w.key.clone(), inst);
        results.push((w.key.clone(), modified));
    }
    for w in writes.iter().filter(|w| results.iter().any(|(k, _)| *k == w.key)) {
        for t in direct_targets(&store, w) {
            ensure_node(&store, &mut staged, access, &t, flags.auto_direct, "direct relation target", now)?;
        }
        if let (Some(s), Some(e)) = (&w.start_node, &w.end_node) {
            let pair = |v: &Value| {
                (v["space"].as_str().unwrap_or("").to_string(), v["externalId"].as_str().unwrap_or("").to_string())
            };
            ensure_node(&store, &mut staged, access, &pair(s), flags.auto_start, "start node", now)?;
            ensure_node(&store, &mut staged, access, &pair(e), flags.auto_end, "end node", now)?;
        }
    }
    check_uniqueness(&store, &staged, &touched)?;
    let changed: Vec<InstanceKey> = staged.keys().cloned().collect();
    store.instances.items.extend(staged);
    super::cdm::after_write(&mut store, &changed, now);
    super::cdm::sync_timeseries(ctx, &store, &changed);
    let out: Vec<Value> = results
        .iter()
        .map(|(k, modified)| {
            let inst = &store.instances.items[k];
            let mut o = k.id_json();
            o["version"] = json!(inst.version);
            o["wasModified"] = json!(modified);
            o["createdTime"] = json!(inst.created_time);
            o["lastUpdatedTime"] = json!(inst.last_updated_time);
            o
        })
        .collect();
    let n = out.len() as u64;
    // The recordings answer upserts with `"deleted": []` beside the items.
    Ok(Reply::json(200, &json!({ "items": out, "deleted": [] }), n))
}

// ---------------------------------------------------------------- reads

/// The views of `sources` with their mappings.
fn parse_sources(store: &ModelStore, v: Option<&Value>) -> ApiResult<Vec<(VersionedKey, views::Mapping)>> {
    let mut out = Vec::new();
    for (i, s) in v.and_then(|s| s.as_array()).into_iter().flatten().enumerate() {
        let path = format!("sources[{i}]");
        let so = as_obj(s, &path)?;
        check_keys(so, &["source"], &path)?;
        let (vs, vx, vv) =
            parse_versioned_ref(so.get("source").unwrap_or(&Value::Null), &format!("{path}.source"), false)?;
        let vk = (vs, vx, vv.expect("required"));
        let map = mapping(store, &vk).ok_or_else(|| missing_view(&vk))?;
        out.push((vk, map));
    }
    Ok(out)
}

/// An instance in its read shape, with the properties of every source view it has data in.
pub fn output(key: &InstanceKey, inst: &Instance, sources: &[(VersionedKey, views::Mapping)]) -> Value {
    let mut o = key.id_json();
    o["version"] = json!(inst.version);
    o["createdTime"] = json!(inst.created_time);
    o["lastUpdatedTime"] = json!(inst.last_updated_time);
    if let Some(t) = &inst.node_type {
        o["type"] = t.clone();
    }
    if key.instance_type == InstanceType::Edge {
        o["startNode"] = inst.start_node.clone().unwrap_or(Value::Null);
        o["endNode"] = inst.end_node.clone().unwrap_or(Value::Null);
    }
    let mut props = Object::new();
    for (vk, map) in sources {
        if !map.values().all(|(ck, _)| inst.data.contains_key(ck)) || map.is_empty() {
            continue;
        }
        let values: Object = map
            .iter()
            .filter_map(|(name, (ck, cp))| inst.data.get(ck).and_then(|d| d.get(cp)).map(|v| (name.clone(), v.clone())))
            .collect();
        let space = props.entry(vk.0.clone()).or_insert_with(|| json!({}));
        space[format!("{}/{}", vk.1, vk.2)] = Value::Object(values);
    }
    o["properties"] = Value::Object(props);
    o
}

/// An instance with its data per container (`/_admin/dump`).
pub fn dump(key: &InstanceKey, inst: &Instance) -> Value {
    let mut o = output(key, inst, &[]);
    let mut props = json!({});
    for ((space, container), values) in &inst.data {
        if props.get(space).is_none() {
            props[space] = json!({});
        }
        props[space][container] = Value::Object(values.clone());
    }
    o["properties"] = props;
    o
}

/// `typing`: the type of every property of the source views.
fn typing(store: &ModelStore, sources: &[(VersionedKey, views::Mapping)]) -> Value {
    let mut out = json!({});
    for (vk, map) in sources {
        let props: Object = map
            .iter()
            .map(|(name, (ck, cp))| {
                (name.clone(), store.containers.get(ck).map(|c| c["properties"][cp].clone()).unwrap_or(Value::Null))
            })
            .collect();
        if out.get(&vk.0).is_none() {
            out[&vk.0] = json!({});
        }
        out[&vk.0][format!("{}/{}", vk.1, vk.2)] = Value::Object(props);
    }
    out
}

pub fn list(ctx: &Ctx, access: &Access, body: &Value) -> ApiResult<Reply> {
    let top = super::super::generic::body_object(body)?;
    check_keys(top, &["instanceType", "sources", "filter", "sort", "limit", "cursor", "includeTyping"], "")?;
    let instance_type = match top.get("instanceType") {
        None | Some(Value::Null) => InstanceType::Node,
        v => InstanceType::parse(v, "")?,
    };
    let limit = parse_limit_value(top.get("limit"), LIST_DEFAULT, INSTANCES_LIMIT)?;
    let store = ctx.project.models.lock();
    let sources = parse_sources(&store, top.get("sources"))?;
    let filter = top.get("filter").filter(|f| !f.is_null()).map(|f| compile(&store, f, "filter")).transpose()?;
    let sort = compile_sort(&store, top.get("sort"))?;
    // An instance without data in a source view is not listed: the API reference's `sources`
    // reads "The node/edge must have data in all the sources defined in the list" (quoted from
    // memory; no stored copy or recording confirms it).
    let has_sources = |i: &Instance| sources.iter().all(|(_, map)| map.values().all(|(ck, _)| i.data.contains_key(ck)));
    let mut hits: Vec<(&InstanceKey, &Instance)> = store
        .instances
        .items
        .iter()
        .filter(|(k, i)| {
            k.instance_type == instance_type
                && access.sees(&k.space)
                && has_sources(i)
                && filter.as_ref().is_none_or(|f| eval(f, k, i))
        })
        .collect();
    if !sort.is_empty() {
        hits.sort_by(|a, b| sort_cmp(&sort, *a, *b));
    }
    let cursor = match top.get("cursor") {
        None | Some(Value::Null) => None,
        Some(Value::String(c)) => Some(c.as_str()),
        Some(_) => return Err(invalid("cursor: must be a string")),
    };
    let (page, next) = paginate(hits, limit, cursor)?;
    let items: Vec<Value> = page.into_iter().map(|(k, i)| output(k, i, &sources)).collect();
    let mut reply = list_reply(items, next);
    if top.get("includeTyping") == Some(&json!(true)) {
        let mut v: Value = serde_json::from_slice(&reply.body).expect("own JSON");
        v["typing"] = typing(&store, &sources);
        reply = Reply::json(200, &v, reply.items);
    }
    Ok(reply)
}

fn parse_ids(body: &Value, extra: &[&str]) -> ApiResult<Vec<InstanceKey>> {
    let list = item_list(body, INSTANCES_LIMIT, extra)?;
    list.iter()
        .enumerate()
        .map(|(i, item)| {
            let path = format!("items[{i}]");
            let o = as_obj(item, &path)?;
            check_keys(o, &["instanceType", "space", "externalId"], &path)?;
            Ok(InstanceKey {
                instance_type: InstanceType::parse(o.get("instanceType"), &path)?,
                space: req_str(o, "space", &path)?.to_string(),
                external_id: req_str(o, "externalId", &path)?.to_string(),
            })
        })
        .collect()
}

/// Unknown instances are left out of the answer (the API has no `ignoreUnknownIds` here).
pub fn byids(ctx: &Ctx, access: &Access, body: &Value) -> ApiResult<Reply> {
    let ids = parse_ids(body, &["sources", "includeTyping"])?;
    for k in &ids {
        access.check(&k.space)?;
    }
    let store = ctx.project.models.lock();
    let sources = parse_sources(&store, body.get("sources"))?;
    let items: Vec<Value> =
        ids.iter().filter_map(|k| store.instances.items.get(k).map(|i| output(k, i, &sources))).collect();
    let mut v = json!({ "items": items });
    if body.get("includeTyping") == Some(&json!(true)) {
        v["typing"] = typing(&store, &sources);
    }
    let n = items_len(&v);
    Ok(Reply::json(200, &v, n))
}

fn items_len(v: &Value) -> u64 {
    v["items"].as_array().map(|a| a.len()).unwrap_or(0) as u64
}

/// Deletes the instances named; a node's edges go with it. Unknown ones are not an error.
pub fn delete(ctx: &Ctx, access: &Access, body: &Value) -> ApiResult<Reply> {
    let ids = parse_ids(body, &[])?;
    for k in &ids {
        access.check(&k.space)?;
    }
    let mut store = ctx.project.models.lock();
    let mut deleted = Vec::new();
    let mut gone_nodes = Vec::new();
    for k in &ids {
        if store.instances.items.remove(k).is_some() {
            deleted.push(k.id_json());
            if k.instance_type == InstanceType::Node {
                gone_nodes.push(json!({"space": k.space, "externalId": k.external_id}));
            }
        }
    }
    if !gone_nodes.is_empty() {
        store.instances.items.retain(|k, i| {
            k.instance_type == InstanceType::Node
                || !(i.start_node.as_ref().is_some_and(|s| gone_nodes.contains(s))
                    || i.end_node.as_ref().is_some_and(|e| gone_nodes.contains(e)))
        });
    }
    super::cdm::forget_timeseries(ctx, &ids);
    Ok(Reply::items(200, deleted, 0))
}
