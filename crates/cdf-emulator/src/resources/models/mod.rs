//! The data-modeling API (DMS) under `/models/`: spaces, containers, views, data models and
//! instances, with the Core Data Model (`cdf_cdm`) preloaded as a global space. Everything a
//! project models lives in one `ModelStore` behind one mutex (schema writes and instance
//! writes are atomic per request, as DMS applies them).

pub mod cdm;
pub mod containers;
pub mod filters;
pub mod instances;
pub mod spaces;
pub mod types;
pub mod views;

use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

use super::generic::{body_object, check_keys, decode_cursor, encode_cursor};
use super::{Ctx, Reply, Route};
use crate::errors::{ApiError, ApiResult};
use crate::store::Object;

/// Items per apply, byids and delete of spaces, containers, views and data models
/// ([PY] `_CREATE_LIMIT`/`_RETRIEVE_LIMIT`/`_DELETE_LIMIT` = 100 in `_api/data_modeling/*.py`).
pub const SCHEMA_ITEMS_LIMIT: usize = 100;
/// Largest page of a schema list (`limit` 1..=1000, default 10; [PY] DATA_MODELING_DEFAULT_LIMIT_READ).
pub const SCHEMA_LIST_MAX: usize = 1000;
pub const SCHEMA_LIST_DEFAULT: usize = 10;

pub type ContainerKey = (String, String);
pub type VersionedKey = (String, String, String);

/// What one project models. Schema objects are kept in their read shape.
pub struct ModelStore {
    pub spaces: BTreeMap<String, Object>,
    pub containers: BTreeMap<ContainerKey, Object>,
    pub views: BTreeMap<VersionedKey, Object>,
    pub data_models: BTreeMap<VersionedKey, Object>,
    pub instances: instances::InstanceStore,
}

impl Default for ModelStore {
    /// A project starts with the Core Data Model, as every CDF project does.
    fn default() -> Self {
        let mut store = ModelStore {
            spaces: BTreeMap::new(),
            containers: BTreeMap::new(),
            views: BTreeMap::new(),
            data_models: BTreeMap::new(),
            instances: Default::default(),
        };
        cdm::preload(&mut store);
        store
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelOp {
    SpacesApply,
    SpacesList,
    SpacesByIds,
    SpacesDelete,
    ContainersApply,
    ContainersList,
    ContainersByIds,
    ContainersDelete,
    ViewsApply,
    ViewsList,
    ViewsByIds,
    ViewsDelete,
    DataModelsApply,
    DataModelsList,
    DataModelsByIds,
    DataModelsDelete,
    InstancesApply,
    InstancesList,
    InstancesByIds,
    InstancesDelete,
}

pub const MODELS_ACL: &str = "dataModelsAcl";
pub const INSTANCES_ACL: &str = "dataModelInstancesAcl";

/// Every `/models/` endpoint: method, path after `models`, the capability it needs, the operation.
const ROUTES: &[(&str, &[&str], &str, &str, ModelOp)] = {
    use ModelOp::*;
    &[
        ("POST", &["spaces"], MODELS_ACL, "WRITE", SpacesApply),
        ("GET", &["spaces"], MODELS_ACL, "READ", SpacesList),
        ("POST", &["spaces", "byids"], MODELS_ACL, "READ", SpacesByIds),
        ("POST", &["spaces", "delete"], MODELS_ACL, "WRITE", SpacesDelete),
        ("POST", &["containers"], MODELS_ACL, "WRITE", ContainersApply),
        ("GET", &["containers"], MODELS_ACL, "READ", ContainersList),
        ("POST", &["containers", "byids"], MODELS_ACL, "READ", ContainersByIds),
        ("POST", &["containers", "delete"], MODELS_ACL, "WRITE", ContainersDelete),
        ("POST", &["views"], MODELS_ACL, "WRITE", ViewsApply),
        ("GET", &["views"], MODELS_ACL, "READ", ViewsList),
        ("POST", &["views", "byids"], MODELS_ACL, "READ", ViewsByIds),
        ("POST", &["views", "delete"], MODELS_ACL, "WRITE", ViewsDelete),
        ("POST", &["datamodels"], MODELS_ACL, "WRITE", DataModelsApply),
        ("GET", &["datamodels"], MODELS_ACL, "READ", DataModelsList),
        ("POST", &["datamodels", "byids"], MODELS_ACL, "READ", DataModelsByIds),
        ("POST", &["datamodels", "delete"], MODELS_ACL, "WRITE", DataModelsDelete),
        ("POST", &["instances"], INSTANCES_ACL, "WRITE", InstancesApply),
        ("POST", &["instances", "list"], INSTANCES_ACL, "READ", InstancesList),
        ("POST", &["instances", "byids"], INSTANCES_ACL, "READ", InstancesByIds),
        ("POST", &["instances", "delete"], INSTANCES_ACL, "WRITE", InstancesDelete),
    ]
};

/// Routes `/models/...` (segments after `models`).
pub fn find_route(method: &str, rest: &[&str]) -> Option<Route> {
    let (_, _, acl, action, op) = ROUTES.iter().find(|(m, path, ..)| *m == method && *path == rest)?;
    let key = format!("{method} /models/{}", rest.join("/"));
    Some(Route { key, acl, action, op: super::Op::Models(*op), params: Vec::new() })
}

pub fn run(ctx: &Ctx, op: ModelOp) -> ApiResult<Reply> {
    use ModelOp::*;
    let access = Access::of(ctx, op);
    let body = || ctx.json();
    match op {
        SpacesApply => spaces::apply(ctx, &access, &body()?),
        SpacesList => spaces::list(ctx, &access),
        SpacesByIds => spaces::byids(ctx, &access, &body()?),
        SpacesDelete => spaces::delete(ctx, &access, &body()?),
        ContainersApply => containers::apply(ctx, &access, &body()?),
        ContainersList => containers::list(ctx, &access),
        ContainersByIds => containers::byids(ctx, &access, &body()?),
        ContainersDelete => containers::delete(ctx, &access, &body()?),
        ViewsApply => views::apply(ctx, &access, &body()?),
        ViewsList => views::list(ctx, &access),
        ViewsByIds => views::byids(ctx, &access, &body()?),
        ViewsDelete => views::delete(ctx, &access, &body()?),
        DataModelsApply => views::models_apply(ctx, &access, &body()?),
        DataModelsList => views::models_list(ctx, &access),
        DataModelsByIds => views::models_byids(ctx, &access, &body()?),
        DataModelsDelete => views::models_delete(ctx, &access, &body()?),
        InstancesApply => instances::apply(ctx, &access, &body()?),
        InstancesList => instances::list(ctx, &access, &body()?),
        InstancesByIds => instances::byids(ctx, &access, &body()?),
        InstancesDelete => instances::delete(ctx, &access, &body()?),
    }
}

/// `/_admin/dump/{project}/models/{spaces|containers|views|datamodels|instances}`: what the
/// project modelled, system objects (`cdf_cdm`) left out. Instances carry their data per
/// container: `properties: {space: {container: {...}}}`.
pub fn dump(project: &crate::resources::Project, what: &str) -> Option<Vec<Value>> {
    let store = project.models.lock();
    let own = |o: &&Object| !is_global(o);
    Some(match what {
        "spaces" => store.spaces.values().filter(own).map(|o| Value::Object(o.clone())).collect(),
        "containers" => store.containers.values().filter(own).map(|o| Value::Object(o.clone())).collect(),
        "views" => {
            store.views.iter().filter(|(_, v)| own(v)).filter_map(|(k, _)| views::output(&store, k, false)).collect()
        }
        "datamodels" => store.data_models.values().filter(own).map(|o| Value::Object(o.clone())).collect(),
        "instances" => store.instances.items.iter().map(|(k, i)| instances::dump(k, i)).collect(),
        _ => return None,
    })
}

// ---------------------------------------------------------------- space-scoped access

/// The spaces the caller's capability covers: every space, or the `spaceIdScope` list.
/// The router has already checked that the ACL and action are held.
pub struct Access {
    acl: &'static str,
    action: &'static str,
    spaces: Option<Vec<String>>,
}

impl Access {
    fn of(ctx: &Ctx, op: ModelOp) -> Access {
        let (_, _, acl, action, _) = ROUTES.iter().find(|r| r.4 == op).expect("every operation has a route");
        let scope = ctx.emu.clients.read().get(&ctx.client_id).and_then(|c| c.grant(acl, action));
        let spaces = scope.as_ref().and_then(|s| s.get("spaceIdScope")).map(|s| {
            s.get("spaceIds")
                .and_then(|v| v.as_array())
                .map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect())
                .unwrap_or_default()
        });
        Access { acl, action, spaces }
    }

    /// Whether reads may see `space` (lists leave the others out).
    pub fn sees(&self, space: &str) -> bool {
        self.spaces.as_ref().is_none_or(|s| s.iter().any(|x| x == space))
    }

    /// 403 unless the capability covers `space`.
    pub fn check(&self, space: &str) -> ApiResult<()> {
        if self.sees(space) {
            return Ok(());
        }
        Err(ApiError::forbidden(format!(
            "Forbidden: missing capability {}:{} in space '{space}'",
            self.acl, self.action
        )))
    }
}

// ---------------------------------------------------------------- shared request helpers

/// `items` of a DMS request: 1..=max objects, with only the allowed top-level keys.
pub fn item_list<'a>(body: &'a Value, max: usize, top_keys: &[&str]) -> ApiResult<&'a Vec<Value>> {
    let top = body_object(body)?;
    let mut allowed = vec!["items"];
    allowed.extend_from_slice(top_keys);
    check_keys(top, &allowed, "")?;
    let items =
        top.get("items").and_then(|v| v.as_array()).ok_or_else(|| violations(&["items must not be null".into()]))?;
    if items.is_empty() || items.len() > max {
        return Err(violations(&[format!("items size must be between 1 and {max}")]));
    }
    Ok(items)
}

/// A required string field of `obj` at `path`.
pub fn req_str<'a>(obj: &'a Map<String, Value>, key: &str, path: &str) -> ApiResult<&'a str> {
    match obj.get(key) {
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(ApiError::bad_request(format!("{path}.{key}: must be a string"))),
        None => Err(ApiError::bad_request(format!("{path}.{key}: is required"))),
    }
}

pub fn as_obj<'a>(v: &'a Value, path: &str) -> ApiResult<&'a Map<String, Value>> {
    v.as_object().ok_or_else(|| ApiError::bad_request(format!("{path}: must be an object")))
}

/// A query flag (`includeGlobal=true`), default false.
pub fn query_flag(ctx: &Ctx, key: &str) -> ApiResult<bool> {
    ctx.query_bool(key)
}

/// One page of `items` after the offset in `cursor`; the next cursor when more remain.
pub fn paginate<T>(items: Vec<T>, limit: usize, cursor: Option<&str>) -> ApiResult<(Vec<T>, Option<String>)> {
    let start = match cursor {
        None | Some("") => 0,
        Some(c) => usize::try_from(decode_cursor(c)?).map_err(|_| ApiError::bad_request("Invalid cursor"))?,
    };
    let total = items.len();
    let page: Vec<T> = items.into_iter().skip(start).take(limit).collect();
    let next = (start + page.len() < total).then(|| encode_cursor((start + page.len()) as i64));
    Ok((page, next))
}

/// `limit` (query string or body) within 1..=max.
pub fn parse_limit_value(v: Option<&Value>, default: usize, max: usize) -> ApiResult<usize> {
    let v = match v {
        Some(Value::String(s)) => Some(s.parse::<i64>().map(Value::from).unwrap_or(Value::Null)),
        other => other.cloned(),
    };
    super::generic::parse_limit(v.as_ref(), default, max)
}

/// A list response: `{"items": [...], "nextCursor": ...}`.
pub fn list_reply(items: Vec<Value>, next: Option<String>) -> Reply {
    let n = items.len() as u64;
    let mut body = json!({ "items": items });
    if let Some(c) = next {
        body["nextCursor"] = json!(c);
    }
    Reply::json(200, &body, n)
}

/// A schema list over GET: `limit`, `cursor` and `includeGlobal` from the query string.
pub fn schema_page(ctx: &Ctx, items: Vec<Value>) -> ApiResult<Reply> {
    let limit = parse_limit_value(
        ctx.query.get("limit").map(|s| Value::String(s.clone())).as_ref(),
        SCHEMA_LIST_DEFAULT,
        SCHEMA_LIST_MAX,
    )?;
    let (page, next) = paginate(items, limit, ctx.query.get("cursor").map(|s| s.as_str()))?;
    Ok(list_reply(page, next))
}

/// DMS's answer to a request that would break its rules: 400 with the message.
pub fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::bad_request(message)
}

/// A request whose shape breaks DMS's rules, in DMS's wording (cognite-sdk-python integration
/// test `test_spaces.py::test_apply_invalid_space`: "Request had 1 constraint violations. Please
/// fix the request and try again. [name size must be between 0 and 255]").
pub fn violations(list: &[String]) -> ApiError {
    invalid(format!(
        "Request had {} constraint violations. Please fix the request and try again. [{}]",
        list.len(),
        list.join(", ")
    ))
}

/// Schema objects referring to spaces that do not exist ([PY] integration tests
/// `test_containers.py`/`test_views.py`/`test_data_models.py`: "One or more spaces do not exist").
pub fn missing_spaces(spaces: &[&str]) -> ApiError {
    invalid(format!("One or more spaces do not exist: {}", spaces.join(", ")))
}

/// A source view that does not exist ([PY] `test_instances.py::test_aggregate_invalid_view_id`:
/// "One or more views do not exist: " naming `externalId/version`).
pub fn missing_view(k: &VersionedKey) -> ApiError {
    invalid(format!("One or more views do not exist: {}:{}/{}", k.0, k.1, k.2))
}

/// A source container that does not exist (wording modelled on the views one; not recorded).
pub fn missing_container(k: &ContainerKey) -> ApiError {
    invalid(format!("One or more containers do not exist: {}:{}", k.0, k.1))
}

/// Longest `name` and `description` of schema objects (the first from the [PY] test above,
/// the second from the API reference's `description` maxLength).
pub const MAX_NAME_CHARS: usize = 255;
pub const MAX_DESCRIPTION_CHARS: usize = 1024;

/// `name` and `description` within their limits, as DMS checks them before anything else.
pub fn check_name_description(o: &Map<String, Value>) -> ApiResult<()> {
    let mut out = Vec::new();
    for (k, max) in [("name", MAX_NAME_CHARS), ("description", MAX_DESCRIPTION_CHARS)] {
        match o.get(k) {
            Some(Value::String(s)) if s.chars().count() > max => {
                out.push(format!("{k} size must be between 0 and {max}"))
            }
            None | Some(Value::Null) | Some(Value::String(_)) => {}
            Some(_) => out.push(format!("{k} must be a string")),
        }
    }
    if out.is_empty() {
        Ok(())
    } else {
        Err(violations(&out))
    }
}

// ---------------------------------------------------------------- identifiers

/// Space identifiers: a letter, then letters, digits, `_` or `-`, at most 43 characters;
/// these names are reserved (API reference, spaces: `space` pattern and reserved list).
const RESERVED_SPACES: &[&str] = &["space", "cdf", "dms", "pg3", "shared", "system", "node", "edge"];

pub fn check_space_id(s: &str, path: &str) -> ApiResult<()> {
    let ok = s.len() <= 43
        && s.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && !s.ends_with(['_', '-']);
    if !ok {
        return Err(invalid(format!(
            "{path}: \"{s}\" does not match the pattern ^[a-zA-Z][a-zA-Z0-9_-]{{0,41}}[a-zA-Z0-9]?$"
        )));
    }
    if RESERVED_SPACES.contains(&s) {
        return Err(invalid(format!("{path}: \"{s}\" is a reserved space identifier")));
    }
    Ok(())
}

/// Container, view and data model externalIds: a letter, then letters, digits and `_`, at
/// most 255 characters.
pub fn check_schema_xid(s: &str, path: &str) -> ApiResult<()> {
    let ok = s.len() <= 255
        && s.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !s.ends_with('_');
    if ok {
        Ok(())
    } else {
        Err(invalid(format!(
            "{path}: \"{s}\" does not match the pattern ^[a-zA-Z]([a-zA-Z0-9_]{{0,253}}[a-zA-Z0-9])?$"
        )))
    }
}

/// View and data model versions: letters, digits, `.`, `_`, `-`, at most 43 characters.
pub fn check_version(s: &str, path: &str) -> ApiResult<()> {
    let ok = !s.is_empty()
        && s.len() <= 43
        && s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(invalid(format!(
            "{path}: \"{s}\" does not match the pattern ^[a-zA-Z0-9]([.a-zA-Z0-9_-]{{0,41}}[a-zA-Z0-9])?$"
        )))
    }
}

/// `{space, externalId}` (with an optional `type` naming `kind`) → the pair.
pub fn parse_container_ref(v: &Value, path: &str) -> ApiResult<ContainerKey> {
    let o = as_obj(v, path)?;
    check_keys(o, &["space", "externalId", "type"], path)?;
    if let Some(t) = o.get("type") {
        if t != "container" {
            return Err(invalid(format!("{path}.type: must be \"container\"")));
        }
    }
    Ok((req_str(o, "space", path)?.to_string(), req_str(o, "externalId", path)?.to_string()))
}

/// `{space, externalId, version}` of a view or data model; `version` may be left out when
/// `version_optional` (byids of every version).
pub fn parse_versioned_ref(
    v: &Value,
    path: &str,
    version_optional: bool,
) -> ApiResult<(String, String, Option<String>)> {
    let o = as_obj(v, path)?;
    check_keys(o, &["space", "externalId", "version", "type"], path)?;
    let version = match o.get("version") {
        Some(Value::String(s)) => Some(s.clone()),
        None if version_optional => None,
        _ => return Err(invalid(format!("{path}.version: is required"))),
    };
    Ok((req_str(o, "space", path)?.to_string(), req_str(o, "externalId", path)?.to_string(), version))
}

/// The (space, externalId, version) of a view or data model being applied.
pub fn versioned_id(o: &Map<String, Value>, path: &str) -> ApiResult<VersionedKey> {
    Ok((
        req_str(o, "space", path)?.to_string(),
        req_str(o, "externalId", path)?.to_string(),
        req_str(o, "version", path)?.to_string(),
    ))
}

pub fn container_ref_json(k: &ContainerKey) -> Value {
    json!({"type": "container", "space": k.0, "externalId": k.1})
}

pub fn view_ref_json(k: &VersionedKey) -> Value {
    json!({"type": "view", "space": k.0, "externalId": k.1, "version": k.2})
}

/// Sets `createdTime` (kept from `old`) and `lastUpdatedTime` of an applied schema object:
/// re-applying an unchanged container, view or data model keeps its `lastUpdatedTime` (the
/// cognite-sdk-scala recordings `DataModelsTest/Datamodels-should-create-models.json` answer
/// re-applies with times from earlier years). `derived` keys are not content.
pub fn stamp(new: &mut Object, old: Option<&Object>, now: i64, derived: &[&str]) {
    let content = |o: &Object| -> Vec<(String, Value)> {
        o.iter()
            .filter(|(k, _)| !matches!(k.as_str(), "createdTime" | "lastUpdatedTime") && !derived.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    };
    let unchanged = old.is_some_and(|o| content(o) == content(new));
    let time = |k: &str| old.and_then(|o| o.get(k).cloned());
    new.insert("createdTime".into(), time("createdTime").unwrap_or(json!(now)));
    let updated = if unchanged { time("lastUpdatedTime") } else { None };
    new.insert("lastUpdatedTime".into(), updated.unwrap_or(json!(now)));
}

/// Whether a schema object belongs to a system space (the Core Data Model).
pub fn is_global(o: &Object) -> bool {
    o.get("isGlobal") == Some(&json!(true))
}

/// The query string of a schema list: `space`, `includeGlobal`, `allVersions`.
pub struct ListQuery {
    space: Option<String>,
    include_global: bool,
    all_versions: bool,
}

impl ListQuery {
    pub fn of(ctx: &Ctx) -> ApiResult<ListQuery> {
        Ok(ListQuery {
            space: ctx.query.get("space").cloned(),
            include_global: query_flag(ctx, "includeGlobal")?,
            all_versions: query_flag(ctx, "allVersions")?,
        })
    }

    /// Whether an object of `space` belongs in the list.
    pub fn admits(&self, access: &Access, space: &str, o: &Object) -> bool {
        self.space.as_ref().is_none_or(|s| s == space) && (self.include_global || !is_global(o)) && access.sees(space)
    }

    /// The views or data models to list: admitted ones, the newest version of each unless
    /// `allVersions`.
    pub fn versioned<'a>(&self, access: &Access, map: &'a BTreeMap<VersionedKey, Object>) -> Vec<&'a Object> {
        let chosen: Vec<&Object> = map.iter().filter(|(k, o)| self.admits(access, &k.0, o)).map(|(_, o)| o).collect();
        if self.all_versions {
            chosen
        } else {
            newest_versions(chosen)
        }
    }
}

/// The newest version of each (space, externalId) among `items`, by `createdTime` (what
/// `allVersions=false` returns).
pub fn newest_versions(items: Vec<&Object>) -> Vec<&Object> {
    let mut best: BTreeMap<(String, String), &Object> = BTreeMap::new();
    for o in items {
        let k = (o["space"].as_str().unwrap_or("").to_string(), o["externalId"].as_str().unwrap_or("").to_string());
        let t = |x: &Object| x.get("createdTime").and_then(|v| v.as_i64()).unwrap_or(0);
        match best.get(&k) {
            Some(cur) if t(cur) > t(o) => {}
            _ => {
                best.insert(k, o);
            }
        }
    }
    best.into_values().collect()
}
