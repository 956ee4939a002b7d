//! The engine shared by every resource CDF keeps as JSON objects: field validation like CDF,
//! identifiers, create with externalId uniqueness, byids, list with filters and cursors,
//! update operators (`set`, `setNull`, `add`, `remove`) and delete.

use serde_json::{json, Map, Value};
use std::collections::{HashMap, HashSet};

use super::project::{Kind, MetaStore};
use crate::errors::{ApiError, ApiResult};
use crate::store::{Collection, Object};

#[derive(Debug, Clone, Copy)]
pub struct MetaLimits {
    pub key_bytes: usize,
    pub value_bytes: usize,
    pub pairs: usize,
    pub total_bytes: usize,
}

/// Assets and files: key ≤128 B, value ≤10240 B, ≤256 pairs, total ≤10240 B.
pub const META_10K: MetaLimits = MetaLimits { key_bytes: 128, value_bytes: 10240, pairs: 256, total_bytes: 10240 };
/// Events: key ≤128 B, value ≤128000 B, ≤256 pairs, total ≤200000 B.
pub const META_EVENTS: MetaLimits =
    MetaLimits { key_bytes: 128, value_bytes: 128_000, pairs: 256, total_bytes: 200_000 };
/// Time series and sequences: key ≤128 B, ≤256 pairs, total ≤10000 B.
pub const META_TS: MetaLimits = MetaLimits { key_bytes: 128, value_bytes: 10_000, pairs: 256, total_bytes: 10_000 };

#[derive(Debug, Clone, Copy)]
pub enum Ty {
    /// String of 1..=max characters (CDF rejects empty strings for these).
    Str(usize),
    /// One of the listed strings.
    Enum(&'static [&'static str]),
    /// Integer within [min, max].
    Long(i64, i64),
    /// Reference to another resource's id: a positive integer.
    Id,
    Bool,
    Double(f64, f64),
    Meta(MetaLimits),
    /// Array of ids, at most N.
    IdList(usize),
    /// Array of `{"externalId": ...}`, at most 10.
    Labels,
    /// Any JSON object (geoLocation, notificationConfig, instanceId...).
    Object,
    /// Array of objects, at most N; content checked by the resource.
    ObjList(usize),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Upd {
    /// Read-only after create (e.g. `isString`, file `name`).
    Never,
    /// `set` only: not nullable.
    Set,
    /// `set` or `setNull`.
    SetNull,
    /// `set` / `add` / `remove` on an array.
    List,
    /// `set` / `add` / `remove` on a string map.
    Map,
}

#[derive(Debug, Clone, Copy)]
pub struct Field {
    pub name: &'static str,
    pub ty: Ty,
    pub required: bool,
    pub upd: Upd,
}

pub const fn f(name: &'static str, ty: Ty, upd: Upd) -> Field {
    Field { name, ty, required: false, upd }
}
pub const fn req(name: &'static str, ty: Ty, upd: Upd) -> Field {
    Field { name, ty, required: true, upd }
}

#[derive(Debug, Clone, Copy)]
pub enum Filt {
    /// `filter.key == object.field`.
    Eq(&'static str, &'static str),
    /// `filter.key` is a prefix of `object.field`.
    Prefix(&'static str, &'static str),
    /// `{min, max}` inclusive on a number field; `{isNull: bool}` too.
    Range(&'static str, &'static str),
    /// Every given key/value pair is in `metadata`.
    Metadata,
    /// `{containsAny|containsAll: [{externalId}]}` on `labels`.
    Labels,
    /// `[int]`: the field (a number or an array of numbers) holds any of them.
    IdsAny(&'static str, &'static str),
    /// `[{id}|{externalId}]` resolved in another collection; the field holds any of the ids.
    RefsAny(&'static str, &'static str, Kind),
    /// `[externalId]` resolved in another collection; the field holds any of the ids.
    XidsAny(&'static str, &'static str, Kind),
    /// `[string]`: the string field equals any of them.
    StrAny(&'static str, &'static str),
    /// `[{id}|{externalId}]` of assets: the field holds an asset in one of their subtrees.
    Subtree(&'static str, &'static str),
    /// Handled by the resource module (e.g. `root`, `activeAtTime`).
    Custom(&'static str),
}

pub struct Spec {
    pub kind: Kind,
    /// URL segment and dump name, e.g. "assets".
    pub name: &'static str,
    pub acl: &'static str,
    pub fields: &'static [Field],
    pub create_limit: usize,
    /// Whether objects carry a server-assigned `id` (labels and relationships do not).
    pub has_id: bool,
    pub filters: &'static [Filt],
}

impl Spec {
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }
}

// ---------------------------------------------------------------- request helpers

pub fn body_object(body: &Value) -> ApiResult<&Map<String, Value>> {
    body.as_object().ok_or_else(|| ApiError::bad_request("Request body must be a JSON object"))
}

/// Rejects top-level keys CDF would not accept in this request.
pub fn check_keys(obj: &Map<String, Value>, allowed: &[&str], path: &str) -> ApiResult<()> {
    for k in obj.keys() {
        if !allowed.contains(&k.as_str()) {
            let at = if path.is_empty() { String::new() } else { format!(" at {path}") };
            return Err(ApiError::bad_request(format!("Unrecognized field \"{k}\"{at}")));
        }
    }
    Ok(())
}

/// `items` of a request: an array of 1..=max entries.
pub fn items(obj: &Map<String, Value>, max: usize) -> ApiResult<&Vec<Value>> {
    let items = obj
        .get("items")
        .and_then(|v| v.as_array())
        .ok_or_else(|| ApiError::bad_request("items: must be an array of objects"))?;
    if items.is_empty() || items.len() > max {
        return Err(ApiError::bad_request(format!("items: size must be between 1 and {max}")));
    }
    Ok(items)
}

pub fn get_bool(obj: &Map<String, Value>, key: &str) -> ApiResult<bool> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(ApiError::bad_request(format!("{key}: must be a boolean"))),
    }
}

// ---------------------------------------------------------------- identifiers

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Ident {
    Id(i64),
    Xid(String),
    /// A data-modeling node, `{"instanceId": {"space", "externalId"}}` (DM time series).
    Instance(String, String),
}

impl Ident {
    pub fn to_json(&self) -> Value {
        match self {
            Ident::Id(id) => json!({ "id": id }),
            Ident::Xid(x) => json!({ "externalId": x }),
            Ident::Instance(s, x) => json!({ "instanceId": { "space": s, "externalId": x } }),
        }
    }
}

/// `{"space", "externalId"}` of a data-modeling node (a DM time series). CDF's time series
/// items never carry `instanceType` here ([PY] `Identifier.as_dict` leaves it out).
pub fn instance_ident(v: &Value) -> Option<Ident> {
    let o = v.as_object()?;
    if o.len() != 2 {
        return None;
    }
    let s = o.get("space")?.as_str()?;
    let x = o.get("externalId")?.as_str()?;
    Some(Ident::Instance(s.to_string(), x.to_string()))
}

/// Parses `{"id": n}` or `{"externalId": "x"}` (exactly one) at `items[idx]`, allowing the
/// listed extra keys in the same object; with `"instanceId"` among them, `{"instanceId": {...}}`
/// too (time series and their datapoints).
pub fn parse_ident(v: &Value, path: &str, allow_id: bool, extra: &[&str]) -> ApiResult<Ident> {
    let obj = v.as_object().ok_or_else(|| ApiError::bad_request(format!("{path}: must be an object")))?;
    for k in obj.keys() {
        let known = (k == "id" && allow_id) || k == "externalId" || extra.contains(&k.as_str());
        if !known {
            return Err(ApiError::bad_request(format!("Unrecognized field \"{k}\" at {path}")));
        }
    }
    if let Some(iid) = obj.get("instanceId").filter(|_| extra.contains(&"instanceId")) {
        if obj.contains_key("id") || obj.contains_key("externalId") {
            return Err(ApiError::bad_request(format!(
                "{path}: only one of id, externalId and instanceId may be given"
            )));
        }
        return instance_ident(iid).ok_or_else(|| {
            ApiError::bad_request(format!("{path}.instanceId: must be an object with space and externalId"))
        });
    }
    match (obj.get("id").filter(|_| allow_id), obj.get("externalId")) {
        (Some(id), None) => match id.as_i64() {
            Some(id) if id >= 1 => Ok(Ident::Id(id)),
            _ => Err(ApiError::bad_request(format!("{path}.id: must be an integer between 1 and 9007199254740991"))),
        },
        (None, Some(x)) => match x.as_str() {
            Some(x) if !x.is_empty() && x.chars().count() <= 255 => Ok(Ident::Xid(x.to_string())),
            _ => Err(ApiError::bad_request(format!("{path}.externalId: size must be between 1 and 255"))),
        },
        (Some(_), Some(_)) => Err(ApiError::bad_request(format!("{path}: only one of id and externalId may be given"))),
        (None, None) => {
            let what = if allow_id { "id or externalId" } else { "externalId" };
            Err(ApiError::bad_request(format!("{path}: {what} is required")))
        }
    }
}

impl Collection {
    pub fn resolve(&self, ident: &Ident, has_id: bool) -> Option<i64> {
        match ident {
            Ident::Id(id) if has_id => self.items.contains_key(id).then_some(*id),
            Ident::Id(_) => None,
            Ident::Xid(x) => self.key_of_xid(x),
            Ident::Instance(s, x) => self.key_of_instance(s, x),
        }
    }

    /// Resolves every identifier; unknown ones → 400 with all of them in `missing`, unless
    /// `ignore_unknown`. Duplicates in the request → 400 with `duplicated`.
    pub fn resolve_all(&self, idents: &[Ident], has_id: bool, ignore_unknown: bool) -> ApiResult<Vec<i64>> {
        check_unique_idents(idents)?;
        let mut keys = Vec::with_capacity(idents.len());
        let mut missing = Vec::new();
        for ident in idents {
            match self.resolve(ident, has_id) {
                Some(k) => keys.push(k),
                None => missing.push(ident.to_json()),
            }
        }
        if !missing.is_empty() && !ignore_unknown {
            return Err(ApiError::missing(missing));
        }
        // One object named twice (by id and by externalId) is a duplicate too.
        let mut seen = HashSet::with_capacity(keys.len());
        let dups: Vec<Value> = idents
            .iter()
            .filter_map(|i| self.resolve(i, has_id))
            .filter(|k| !seen.insert(*k))
            .map(|k| {
                if has_id {
                    json!({"id": k})
                } else {
                    json!({"externalId": self.items[&k].get("externalId").cloned().unwrap_or(Value::Null)})
                }
            })
            .collect();
        if !dups.is_empty() {
            return Err(ApiError::duplicated_in_request(dups));
        }
        Ok(keys)
    }
}

pub fn check_unique_idents(idents: &[Ident]) -> ApiResult<()> {
    let mut seen = HashSet::with_capacity(idents.len());
    let mut dups: Vec<Value> = Vec::new();
    for ident in idents {
        if !seen.insert(ident) {
            let j = ident.to_json();
            if !dups.contains(&j) {
                dups.push(j);
            }
        }
    }
    if dups.is_empty() {
        Ok(())
    } else {
        Err(ApiError::duplicated_in_request(dups))
    }
}

/// `{"items":[{id|externalId}], "ignoreUnknownIds": bool, ...extra}` → identifiers.
pub fn parse_ident_items(body: &Value, max: usize, has_id: bool, extra_top: &[&str]) -> ApiResult<(Vec<Ident>, bool)> {
    parse_ident_items_with(body, max, has_id, extra_top, &[])
}

/// `parse_ident_items` whose items may also hold the `item_extra` keys (e.g. `instanceId`).
pub fn parse_ident_items_with(
    body: &Value,
    max: usize,
    has_id: bool,
    extra_top: &[&str],
    item_extra: &[&str],
) -> ApiResult<(Vec<Ident>, bool)> {
    let obj = body_object(body)?;
    let mut allowed = vec!["items", "ignoreUnknownIds"];
    allowed.extend_from_slice(extra_top);
    check_keys(obj, &allowed, "")?;
    let list = items(obj, max)?;
    let idents = list
        .iter()
        .enumerate()
        .map(|(i, v)| parse_ident(v, &format!("items[{i}]"), has_id, item_extra))
        .collect::<ApiResult<Vec<_>>>()?;
    Ok((idents, get_bool(obj, "ignoreUnknownIds")?))
}

// ---------------------------------------------------------------- field validation

fn size_msg(path: &str, min: usize, max: usize) -> ApiError {
    ApiError::bad_request(format!("{path}: size must be between {min} and {max}"))
}

/// Checks one field value against its type and returns it normalised.
pub fn validate_value(field: &Field, v: &Value, path: &str) -> ApiResult<Value> {
    let bad = |what: &str| ApiError::bad_request(format!("{path}: {what}"));
    match field.ty {
        Ty::Str(max) => {
            let s = v.as_str().ok_or_else(|| bad("must be a string"))?;
            let n = s.chars().count();
            if n == 0 || n > max {
                return Err(size_msg(path, 1, max));
            }
            Ok(v.clone())
        }
        Ty::Enum(options) => {
            let s = v.as_str().ok_or_else(|| bad("must be a string"))?;
            match options.iter().find(|o| o.eq_ignore_ascii_case(s)) {
                Some(o) => Ok(Value::String(o.to_string())),
                None => Err(bad(&format!("must be one of {}", options.join(", ")))),
            }
        }
        Ty::Long(min, max) => match v.as_i64() {
            Some(n) if n >= min && n <= max => Ok(v.clone()),
            _ => Err(bad(&format!("must be an integer between {min} and {max}"))),
        },
        Ty::Id => match v.as_i64() {
            Some(n) if (1..=9007199254740991).contains(&n) => Ok(v.clone()),
            _ => Err(bad("must be an integer between 1 and 9007199254740991")),
        },
        Ty::Bool => v.as_bool().map(Value::Bool).ok_or_else(|| bad("must be a boolean")),
        Ty::Double(min, max) => match v.as_f64() {
            Some(x) if x >= min && x <= max => Ok(v.clone()),
            _ => Err(bad(&format!("must be a number between {min} and {max}"))),
        },
        Ty::Meta(limits) => {
            let m = v.as_object().ok_or_else(|| bad("must be an object of string keys and string values"))?;
            check_metadata(m, limits, path)?;
            Ok(v.clone())
        }
        Ty::IdList(max) => {
            let a = v.as_array().ok_or_else(|| bad("must be an array of ids"))?;
            if a.len() > max {
                return Err(size_msg(path, 0, max));
            }
            for (i, x) in a.iter().enumerate() {
                match x.as_i64() {
                    Some(n) if n >= 1 => {}
                    _ => {
                        return Err(ApiError::bad_request(format!(
                            "{path}[{i}]: must be an integer between 1 and 9007199254740991"
                        )))
                    }
                }
            }
            Ok(v.clone())
        }
        Ty::Labels => {
            let a = v.as_array().ok_or_else(|| bad("must be an array of {\"externalId\"} objects"))?;
            if a.len() > 10 {
                return Err(size_msg(path, 0, 10));
            }
            for (i, l) in a.iter().enumerate() {
                parse_ident(l, &format!("{path}[{i}]"), false, &[])?;
            }
            Ok(v.clone())
        }
        Ty::Object => {
            if !v.is_object() {
                return Err(bad("must be an object"));
            }
            Ok(v.clone())
        }
        Ty::ObjList(max) => {
            let a = v.as_array().ok_or_else(|| bad("must be an array of objects"))?;
            if a.len() > max {
                return Err(size_msg(path, 0, max));
            }
            if a.iter().any(|x| !x.is_object()) {
                return Err(bad("must be an array of objects"));
            }
            Ok(v.clone())
        }
    }
}

pub fn check_metadata(m: &Map<String, Value>, limits: MetaLimits, path: &str) -> ApiResult<()> {
    if m.len() > limits.pairs {
        return Err(ApiError::bad_request(format!("{path}: at most {} key-value pairs are allowed", limits.pairs)));
    }
    let mut total = 0usize;
    for (k, v) in m {
        let s =
            v.as_str().ok_or_else(|| ApiError::bad_request(format!("{path}.{k}: metadata values must be strings")))?;
        if k.len() > limits.key_bytes {
            return Err(ApiError::bad_request(format!(
                "{path}: metadata keys can be at most {} bytes",
                limits.key_bytes
            )));
        }
        if s.len() > limits.value_bytes {
            return Err(ApiError::bad_request(format!(
                "{path}.{k}: metadata values can be at most {} bytes",
                limits.value_bytes
            )));
        }
        total += k.len() + s.len();
    }
    if total > limits.total_bytes {
        return Err(ApiError::bad_request(format!(
            "{path}: metadata can be at most {} bytes in total",
            limits.total_bytes
        )));
    }
    Ok(())
}

/// Validates a create item: known fields only, required present, types and limits.
/// Nulls are treated as absent, as CDF does.
pub fn validate_create(spec: &Spec, item: &Value, path: &str) -> ApiResult<Object> {
    let obj = item.as_object().ok_or_else(|| ApiError::bad_request(format!("{path}: must be an object")))?;
    let mut out = Map::new();
    for (k, v) in obj {
        let field =
            spec.field(k).ok_or_else(|| ApiError::bad_request(format!("Unrecognized field \"{k}\" at {path}")))?;
        if v.is_null() {
            continue;
        }
        out.insert(k.clone(), validate_value(field, v, &format!("{path}.{k}"))?);
    }
    for field in spec.fields.iter().filter(|f| f.required) {
        if !out.contains_key(field.name) {
            return Err(ApiError::bad_request(format!("{path}.{}: may not be null", field.name)));
        }
    }
    Ok(out)
}

/// 409 if any new externalId exists already or repeats within the request; lists every one.
pub fn check_new_xids<'a>(coll: &Collection, xids: impl Iterator<Item = &'a str>) -> ApiResult<()> {
    let mut seen = HashSet::new();
    let mut dups: Vec<Value> = Vec::new();
    for x in xids {
        let dup = coll.by_xid.contains_key(x) || !seen.insert(x);
        if dup {
            let j = json!({ "externalId": x });
            if !dups.contains(&j) {
                dups.push(j);
            }
        }
    }
    if dups.is_empty() {
        Ok(())
    } else {
        Err(ApiError::duplicated(dups))
    }
}

pub fn xid_of(obj: &Object) -> Option<&str> {
    obj.get("externalId").and_then(|v| v.as_str())
}

// ---------------------------------------------------------------- update operators

/// Applies one `{"update": {...}}` patch to a stored object.
pub fn apply_update(spec: &Spec, obj: &mut Object, update: &Value, path: &str) -> ApiResult<()> {
    let update = update.as_object().ok_or_else(|| ApiError::bad_request(format!("{path}: must be an object")))?;
    for (name, op) in update {
        let fpath = format!("{path}.{name}");
        let field = spec
            .field(name)
            .ok_or_else(|| ApiError::bad_request(format!("Unrecognized field \"{name}\" at {path}")))?;
        let op = op.as_object().ok_or_else(|| ApiError::bad_request(format!("{fpath}: must be an update object")))?;
        let set = op.get("set");
        let set_null = op.get("setNull").map(|v| v.as_bool() == Some(true)).unwrap_or(false);
        let add = op.get("add");
        let remove = op.get("remove");
        let allowed: &[&str] = match field.upd {
            Upd::Never => return Err(ApiError::bad_request(format!("{fpath}: cannot be updated"))),
            Upd::Set => &["set"],
            Upd::SetNull => &["set", "setNull"],
            Upd::List | Upd::Map => &["set", "add", "remove"],
        };
        check_keys(op, allowed, &fpath)?;
        if set.is_some() && (op.len() > 1) {
            return Err(ApiError::bad_request(format!("{fpath}: set cannot be combined with other operations")));
        }
        if op.is_empty() {
            return Err(ApiError::bad_request(format!("{fpath}: an update operation is required")));
        }
        if let Some(v) = set {
            if v.is_null() {
                return Err(ApiError::bad_request(format!("{fpath}.set: may not be null")));
            }
            let v = validate_value(field, v, &format!("{fpath}.set"))?;
            obj.insert(name.clone(), v);
            continue;
        }
        if op.contains_key("setNull") {
            if set_null {
                obj.remove(name);
            }
            continue;
        }
        match field.upd {
            Upd::Map => {
                let mut m = obj.get(name).and_then(|v| v.as_object().cloned()).unwrap_or_default();
                if let Some(r) = remove {
                    let keys = r
                        .as_array()
                        .ok_or_else(|| ApiError::bad_request(format!("{fpath}.remove: must be an array of keys")))?;
                    for k in keys {
                        if let Some(k) = k.as_str() {
                            m.remove(k);
                        }
                    }
                }
                if let Some(a) = add {
                    let a = a
                        .as_object()
                        .ok_or_else(|| ApiError::bad_request(format!("{fpath}.add: must be an object")))?;
                    for (k, v) in a {
                        m.insert(k.clone(), v.clone());
                    }
                }
                let m = validate_value(field, &Value::Object(m), &fpath)?;
                obj.insert(name.clone(), m);
            }
            Upd::List => {
                let mut list = obj.get(name).and_then(|v| v.as_array().cloned()).unwrap_or_default();
                if let Some(r) = remove {
                    let r = r
                        .as_array()
                        .ok_or_else(|| ApiError::bad_request(format!("{fpath}.remove: must be an array")))?;
                    list.retain(|x| !r.iter().any(|y| same_list_entry(x, y)));
                }
                if let Some(a) = add {
                    let a =
                        a.as_array().ok_or_else(|| ApiError::bad_request(format!("{fpath}.add: must be an array")))?;
                    for y in a {
                        if !list.iter().any(|x| same_list_entry(x, y)) {
                            list.push(y.clone());
                        }
                    }
                }
                let list = validate_value(field, &Value::Array(list), &fpath)?;
                obj.insert(name.clone(), list);
            }
            _ => unreachable!("checked by allowed keys"),
        }
    }
    Ok(())
}

/// List entries are equal by value, or by `externalId` for objects such as labels.
fn same_list_entry(a: &Value, b: &Value) -> bool {
    match (a.get("externalId"), b.get("externalId")) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

/// Parses `{"items":[{id|externalId, "update":{...}}]}` into (identifier, patch) pairs.
pub fn parse_update_items(body: &Value, has_id: bool) -> ApiResult<Vec<(Ident, Value)>> {
    let obj = body_object(body)?;
    check_keys(obj, &["items"], "")?;
    let list = items(obj, 1000)?;
    let mut out = Vec::with_capacity(list.len());
    for (i, item) in list.iter().enumerate() {
        let path = format!("items[{i}]");
        let ident = parse_ident(item, &path, has_id, &["update"])?;
        let update = item
            .get("update")
            .cloned()
            .ok_or_else(|| ApiError::bad_request(format!("{path}.update: may not be null")))?;
        out.push((ident, update));
    }
    Ok(out)
}

// ---------------------------------------------------------------- list, filters, cursors

pub struct ListParams {
    pub limit: usize,
    pub after: Option<i64>,
    /// `(m, n)` from `"partition": "m/n"`.
    pub partition: Option<(i64, i64)>,
}

pub fn encode_cursor(key: i64) -> String {
    format!("c{key:x}")
}

pub fn decode_cursor(c: &str) -> ApiResult<i64> {
    c.strip_prefix('c')
        .and_then(|h| i64::from_str_radix(h, 16).ok())
        .ok_or_else(|| ApiError::bad_request(format!("Invalid cursor: {c}")))
}

pub fn parse_limit(v: Option<&Value>, default: usize, max: usize) -> ApiResult<usize> {
    match v {
        None | Some(Value::Null) => Ok(default),
        Some(v) => match v.as_i64() {
            Some(n) if n >= 1 && n as usize <= max => Ok(n as usize),
            _ => Err(ApiError::bad_request(format!("limit: must be between 1 and {max}"))),
        },
    }
}

pub fn parse_list_params(obj: &Map<String, Value>, default_limit: usize, max: usize) -> ApiResult<ListParams> {
    let limit = parse_limit(obj.get("limit"), default_limit, max)?;
    let after = match obj.get("cursor") {
        None | Some(Value::Null) => None,
        Some(Value::String(c)) => Some(decode_cursor(c)?),
        Some(_) => return Err(ApiError::bad_request("cursor: must be a string")),
    };
    let partition = match obj.get("partition") {
        None | Some(Value::Null) => None,
        Some(Value::String(p)) => {
            let parsed = p
                .split_once('/')
                .and_then(|(m, n)| Some((m.trim().parse::<i64>().ok()?, n.trim().parse::<i64>().ok()?)));
            match parsed {
                Some((m, n)) if (1..=10).contains(&n) && m >= 1 && m <= n => Some((m, n)),
                _ => {
                    return Err(ApiError::bad_request(format!(
                        "partition: invalid partition \"{p}\", expected m/n with 1 <= m <= n <= 10"
                    )))
                }
            }
        }
        Some(_) => return Err(ApiError::bad_request("partition: must be a string like \"1/3\"")),
    };
    Ok(ListParams { limit, after, partition })
}

/// A filter with every reference already resolved against the store.
pub enum Resolved<'a> {
    Eq(&'static str, &'a Value),
    Prefix(&'static str, &'a str),
    Range(&'static str, Option<f64>, Option<f64>, Option<bool>),
    Metadata(&'a Map<String, Value>),
    LabelsAny(Vec<&'a str>),
    LabelsAll(Vec<&'a str>),
    IdsAny(&'static str, HashSet<i64>),
    StrAny(&'static str, Vec<String>),
}

fn ident_list(v: &Value, path: &str, allow_id: bool) -> ApiResult<Vec<Ident>> {
    let a = v.as_array().ok_or_else(|| ApiError::bad_request(format!("{path}: must be an array")))?;
    a.iter().enumerate().map(|(i, x)| parse_ident(x, &format!("{path}[{i}]"), allow_id, &[])).collect()
}

/// Filter keys left to the resource module, with their values.
pub type CustomFilters<'a> = Vec<(&'static str, &'a Value)>;

/// Resolves the `filter` object of a list request. Filter keys the resource does not document
/// → 400. `Custom` filters are returned untouched for the resource module.
pub fn resolve_filter<'a>(
    spec: &Spec,
    filter: Option<&'a Value>,
    meta: &MetaStore,
) -> ApiResult<(Vec<Resolved<'a>>, CustomFilters<'a>)> {
    let mut out = Vec::new();
    let mut custom = Vec::new();
    let Some(filter) = filter.filter(|f| !f.is_null()) else { return Ok((out, custom)) };
    let filter = filter.as_object().ok_or_else(|| ApiError::bad_request("filter: must be an object"))?;
    'keys: for (k, v) in filter {
        if v.is_null() {
            continue;
        }
        let path = format!("filter.{k}");
        for filt in spec.filters {
            match *filt {
                Filt::Eq(key, field) if key == k => {
                    out.push(Resolved::Eq(field, v));
                    continue 'keys;
                }
                Filt::Prefix(key, field) if key == k => {
                    let s = v.as_str().ok_or_else(|| ApiError::bad_request(format!("{path}: must be a string")))?;
                    out.push(Resolved::Prefix(field, s));
                    continue 'keys;
                }
                Filt::Range(key, field) if key == k => {
                    let o = v.as_object().ok_or_else(|| {
                        ApiError::bad_request(format!("{path}: must be an object with min and/or max"))
                    })?;
                    check_keys(o, &["min", "max", "isNull"], &path)?;
                    let num = |n: &str| -> ApiResult<Option<f64>> {
                        match o.get(n) {
                            None | Some(Value::Null) => Ok(None),
                            Some(x) => x
                                .as_f64()
                                .map(Some)
                                .ok_or_else(|| ApiError::bad_request(format!("{path}.{n}: must be a number"))),
                        }
                    };
                    out.push(Resolved::Range(
                        field,
                        num("min")?,
                        num("max")?,
                        o.get("isNull").and_then(|b| b.as_bool()),
                    ));
                    continue 'keys;
                }
                Filt::Metadata if k == "metadata" => {
                    let m = v.as_object().ok_or_else(|| ApiError::bad_request(format!("{path}: must be an object")))?;
                    out.push(Resolved::Metadata(m));
                    continue 'keys;
                }
                Filt::Labels if k == "labels" => {
                    let o = v.as_object().ok_or_else(|| ApiError::bad_request(format!("{path}: must be an object")))?;
                    check_keys(o, &["containsAny", "containsAll"], &path)?;
                    let xids = |l: &'a Value| -> ApiResult<Vec<&'a str>> {
                        l.as_array()
                            .ok_or_else(|| ApiError::bad_request(format!("{path}: must hold an array")))?
                            .iter()
                            .map(|x| {
                                x.get("externalId")
                                    .and_then(|s| s.as_str())
                                    .ok_or_else(|| ApiError::bad_request(format!("{path}: label externalId required")))
                            })
                            .collect()
                    };
                    if let Some(l) = o.get("containsAny") {
                        out.push(Resolved::LabelsAny(xids(l)?));
                    }
                    if let Some(l) = o.get("containsAll") {
                        out.push(Resolved::LabelsAll(xids(l)?));
                    }
                    continue 'keys;
                }
                Filt::IdsAny(key, field) if key == k => {
                    let a = v
                        .as_array()
                        .ok_or_else(|| ApiError::bad_request(format!("{path}: must be an array of ids")))?;
                    let ids = a
                        .iter()
                        .map(|x| {
                            x.as_i64().ok_or_else(|| ApiError::bad_request(format!("{path}: must be an array of ids")))
                        })
                        .collect::<ApiResult<HashSet<_>>>()?;
                    out.push(Resolved::IdsAny(field, ids));
                    continue 'keys;
                }
                Filt::RefsAny(key, field, kind) if key == k => {
                    let coll = meta.coll(kind);
                    let ids = ident_list(v, &path, true)?.iter().filter_map(|i| coll.resolve(i, true)).collect();
                    out.push(Resolved::IdsAny(field, ids));
                    continue 'keys;
                }
                Filt::XidsAny(key, field, kind) if key == k => {
                    let a = v
                        .as_array()
                        .ok_or_else(|| ApiError::bad_request(format!("{path}: must be an array of strings")))?;
                    let coll = meta.coll(kind);
                    let ids = a.iter().filter_map(|x| x.as_str()).filter_map(|x| coll.key_of_xid(x)).collect();
                    out.push(Resolved::IdsAny(field, ids));
                    continue 'keys;
                }
                Filt::StrAny(key, field) if key == k => {
                    let a = v
                        .as_array()
                        .ok_or_else(|| ApiError::bad_request(format!("{path}: must be an array of strings")))?;
                    let strs = a
                        .iter()
                        .map(|x| {
                            x.as_str()
                                .map(|s| s.to_string())
                                .ok_or_else(|| ApiError::bad_request(format!("{path}: must be an array of strings")))
                        })
                        .collect::<ApiResult<Vec<_>>>()?;
                    out.push(Resolved::StrAny(field, strs));
                    continue 'keys;
                }
                Filt::Subtree(key, field) if key == k => {
                    let roots: Vec<i64> =
                        ident_list(v, &path, true)?.iter().filter_map(|i| meta.assets.resolve(i, true)).collect();
                    out.push(Resolved::IdsAny(field, super::assets::subtree_ids(&meta.assets, &roots)));
                    continue 'keys;
                }
                Filt::Custom(key) if key == k => {
                    custom.push((key, v));
                    continue 'keys;
                }
                _ => {}
            }
        }
        return Err(ApiError::bad_request(format!("Unrecognized field \"{k}\" at filter")));
    }
    Ok((out, custom))
}

pub fn matches(obj: &Object, filters: &[Resolved]) -> bool {
    filters.iter().all(|f| match f {
        Resolved::Eq(field, v) => match (obj.get(*field), v) {
            (Some(a), b) => values_equal(a, b),
            (None, Value::Bool(false)) => true, // absent booleans default to false
            _ => false,
        },
        Resolved::Prefix(field, p) => obj.get(*field).and_then(|v| v.as_str()).is_some_and(|s| s.starts_with(p)),
        Resolved::Range(field, min, max, is_null) => match obj.get(*field).and_then(|v| v.as_f64()) {
            None => *is_null == Some(true),
            Some(x) => *is_null != Some(true) && min.is_none_or(|m| x >= m) && max.is_none_or(|m| x <= m),
        },
        Resolved::Metadata(m) => {
            let Some(md) = obj.get("metadata").and_then(|v| v.as_object()) else { return m.is_empty() };
            m.iter().all(|(k, v)| md.get(k) == Some(v))
        }
        Resolved::LabelsAny(xids) => labels_of(obj).iter().any(|l| xids.contains(l)),
        Resolved::LabelsAll(xids) => {
            let ls = labels_of(obj);
            xids.iter().all(|x| ls.contains(x))
        }
        Resolved::IdsAny(field, ids) => match obj.get(*field) {
            Some(Value::Array(a)) => a.iter().filter_map(|x| x.as_i64()).any(|x| ids.contains(&x)),
            Some(v) => v.as_i64().is_some_and(|x| ids.contains(&x)),
            None => false,
        },
        Resolved::StrAny(field, strs) => {
            obj.get(*field).and_then(|v| v.as_str()).is_some_and(|s| strs.iter().any(|x| x.eq_ignore_ascii_case(s)))
        }
    })
}

fn values_equal(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

fn labels_of(obj: &Object) -> Vec<&str> {
    obj.get("labels")
        .and_then(|v| v.as_array())
        .map(|a| a.iter().filter_map(|l| l.get("externalId").and_then(|x| x.as_str())).collect())
        .unwrap_or_default()
}

/// One page of matching objects after the cursor, and the cursor of the next page.
pub fn page<'a>(
    coll: &'a Collection,
    params: &ListParams,
    mut keep: impl FnMut(&Object) -> bool,
) -> (Vec<&'a Object>, Option<String>) {
    let start = params.after.map(std::ops::Bound::Excluded).unwrap_or(std::ops::Bound::Unbounded);
    let mut out = Vec::new();
    let mut last = None;
    let mut more = false;
    for (key, obj) in coll.items.range((start, std::ops::Bound::Unbounded)) {
        if let Some((m, n)) = params.partition {
            if key.rem_euclid(n) != m - 1 {
                continue;
            }
        }
        if !keep(obj) {
            continue;
        }
        if out.len() == params.limit {
            more = true;
            break;
        }
        out.push(obj);
        last = Some(*key);
    }
    let next = if more { last.map(encode_cursor) } else { None };
    (out, next)
}

/// Query-string parameters of `GET /{resource}` become a list body.
pub fn query_to_list_body(query: &HashMap<String, String>) -> Value {
    let mut body = Map::new();
    if let Some(l) = query.get("limit") {
        body.insert("limit".into(), l.parse::<i64>().map(Value::from).unwrap_or(Value::String(l.clone())));
    }
    if let Some(c) = query.get("cursor") {
        body.insert("cursor".into(), Value::String(c.clone()));
    }
    if let Some(p) = query.get("partition") {
        body.insert("partition".into(), Value::String(p.clone()));
    }
    Value::Object(body)
}
