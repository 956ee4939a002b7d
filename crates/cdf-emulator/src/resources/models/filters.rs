//! The DMS filter language over instances (`equals`, `in`, `range`, `prefix`, `exists`,
//! `containsAny`, `containsAll`, `hasData`, `matchAll`, `and`, `or`, `not`) and `sort`.
//! Filters are compiled once per request: view property references are resolved to the
//! container property they map to, so evaluation reads the stored data directly.

use serde_json::Value;
use std::cmp::Ordering;

use super::instances::{Instance, InstanceKey};
use super::types::parse_timestamp;
use super::views::mapping;
use super::*;

/// What a property reference names.
#[derive(Debug, Clone)]
pub enum PropRef {
    /// `["node"|"edge", field]`: externalId, space, type, version, createdTime, lastUpdatedTime,
    /// startNode, endNode.
    Base(String),
    /// A container property (a view property resolves to this).
    Stored(ContainerKey, String),
}

/// `in` takes at most this many values (builder-skills "dm-limits-and-best-practices").
pub const MAX_IN_VALUES: usize = 1000;

pub enum Filter {
    MatchAll,
    Equals(PropRef, Value),
    In(PropRef, Vec<Value>),
    Range(PropRef, Vec<(Ordering, bool, Value)>),
    Prefix(PropRef, Value),
    Exists(PropRef),
    ContainsAny(PropRef, Vec<Value>),
    ContainsAll(PropRef, Vec<Value>),
    /// Data in every container of at least one listed source.
    HasData(Vec<Vec<ContainerKey>>),
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Not(Box<Filter>),
}

const BASE_FIELDS: &[&str] =
    &["externalId", "space", "type", "version", "createdTime", "lastUpdatedTime", "startNode", "endNode"];

/// Resolves `["node","externalId"]`, `[space, "view/version", prop]` or `[space, container, prop]`.
pub fn prop_ref(store: &ModelStore, v: &Value, path: &str) -> ApiResult<PropRef> {
    let parts: Vec<&str> = v.as_array().map(|a| a.iter().filter_map(|x| x.as_str()).collect()).unwrap_or_default();
    match parts.as_slice() {
        [kind @ ("node" | "edge"), field] if BASE_FIELDS.contains(field) => {
            let _ = kind;
            Ok(PropRef::Base(field.to_string()))
        }
        [space, source, prop] => {
            if let Some((xid, version)) = source.split_once('/') {
                let key = (space.to_string(), xid.to_string(), version.to_string());
                let map = mapping(store, &key).ok_or_else(|| missing_view(&key))?;
                let (ck, cp) = map
                    .get(*prop)
                    .ok_or_else(|| invalid(format!("{path}: view '{space}:{source}' has no property '{prop}'")))?;
                Ok(PropRef::Stored(ck.clone(), cp.clone()))
            } else {
                let ck = (space.to_string(), source.to_string());
                let known = store.containers.get(&ck).is_some_and(|c| c["properties"].get(*prop).is_some());
                if !known {
                    return Err(invalid(format!("{path}: container '{space}:{source}' has no property '{prop}'")));
                }
                Ok(PropRef::Stored(ck, prop.to_string()))
            }
        }
        _ => Err(invalid(format!("{path}: invalid property reference {v}"))),
    }
}

fn values_of(o: &Map<String, Value>, key: &str, path: &str) -> ApiResult<Vec<Value>> {
    let a = o.get(key).and_then(|v| v.as_array()).ok_or_else(|| invalid(format!("{path}.{key}: must be a list")))?;
    if a.len() > MAX_IN_VALUES {
        return Err(invalid(format!("{path}.{key}: at most {MAX_IN_VALUES} values")));
    }
    Ok(a.clone())
}

pub fn compile(store: &ModelStore, v: &Value, path: &str) -> ApiResult<Filter> {
    let o = as_obj(v, path)?;
    if o.len() != 1 {
        return Err(invalid(format!("{path}: a filter has exactly one key")));
    }
    let (name, arg) = o.iter().next().expect("one key");
    let p = format!("{path}.{name}");
    let arg_obj = || as_obj(arg, &p);
    let prop =
        |a: &Map<String, Value>| prop_ref(store, a.get("property").unwrap_or(&Value::Null), &format!("{p}.property"));
    Ok(match name.as_str() {
        "matchAll" => Filter::MatchAll,
        "equals" => {
            let a = arg_obj()?;
            Filter::Equals(prop(a)?, a.get("value").cloned().ok_or_else(|| invalid(format!("{p}.value: is required")))?)
        }
        "in" => {
            let a = arg_obj()?;
            Filter::In(prop(a)?, values_of(a, "values", &p)?)
        }
        "containsAny" => {
            let a = arg_obj()?;
            Filter::ContainsAny(prop(a)?, values_of(a, "values", &p)?)
        }
        "containsAll" => {
            let a = arg_obj()?;
            Filter::ContainsAll(prop(a)?, values_of(a, "values", &p)?)
        }
        "prefix" => {
            let a = arg_obj()?;
            Filter::Prefix(prop(a)?, a.get("value").cloned().ok_or_else(|| invalid(format!("{p}.value: is required")))?)
        }
        "exists" => Filter::Exists(prop(arg_obj()?)?),
        "range" => {
            let a = arg_obj()?;
            let mut bounds = Vec::new();
            for (k, ord, inclusive) in
                [("gt", Ordering::Greater, false), ("gte", Ordering::Greater, true), ("lt", Ordering::Less, false), ("lte", Ordering::Less, true)]
            {
                if let Some(b) = a.get(k) {
                    bounds.push((ord, inclusive, b.clone()));
                }
            }
            if bounds.is_empty() {
                return Err(invalid(format!("{p}: needs at least one of gt, gte, lt, lte")));
            }
            Filter::Range(prop(a)?, bounds)
        }
        "hasData" => {
            let list = arg.as_array().ok_or_else(|| invalid(format!("{p}: must be a list of views or containers")))?;
            let mut sources = Vec::new();
            for (i, s) in list.iter().enumerate() {
                let sp = format!("{p}[{i}]");
                match s.get("type").and_then(|t| t.as_str()) {
                    Some("container") => sources.push(vec![parse_container_ref(s, &sp)?]),
                    _ => {
                        let (vs, vx, vv) = parse_versioned_ref(s, &sp, false)?;
                        let key = (vs, vx, vv.expect("required"));
                        let map = mapping(store, &key)
                            .ok_or_else(|| missing_view(&key))?;
                        let mut cs: Vec<ContainerKey> = map.into_values().map(|(c, _)| c).collect();
                        cs.sort();
                        cs.dedup();
                        sources.push(cs);
                    }
                }
            }
            Filter::HasData(sources)
        }
        "and" | "or" => {
            let list = arg.as_array().ok_or_else(|| invalid(format!("{p}: must be a list of filters")))?;
            let fs =
                list.iter().enumerate().map(|(i, f)| compile(store, f, &format!("{p}[{i}]"))).collect::<ApiResult<Vec<_>>>()?;
            if name == "and" {
                Filter::And(fs)
            } else {
                Filter::Or(fs)
            }
        }
        "not" => Filter::Not(Box::new(compile(store, arg, &p)?)),
        other => {
            return Err(invalid(format!(
                "{path}: filter \"{other}\" is not supported by the emulator (supported: equals, in, range, prefix, exists, containsAny, containsAll, hasData, matchAll, and, or, not)"
            )))
        }
    })
}

/// The value a reference names on one instance (`None`: not set).
pub fn value_of(key: &InstanceKey, inst: &Instance, r: &PropRef) -> Option<Value> {
    match r {
        PropRef::Base(f) => match f.as_str() {
            "externalId" => Some(Value::String(key.external_id.clone())),
            "space" => Some(Value::String(key.space.clone())),
            "type" => inst.node_type.clone(),
            "version" => Some(inst.version.into()),
            "createdTime" => Some(inst.created_time.into()),
            "lastUpdatedTime" => Some(inst.last_updated_time.into()),
            "startNode" => inst.start_node.clone(),
            "endNode" => inst.end_node.clone(),
            _ => None,
        },
        PropRef::Stored(ck, p) => inst.data.get(ck).and_then(|d| d.get(p)).filter(|v| !v.is_null()).cloned(),
    }
}

/// Orders two values of one property: numbers numerically, timestamps by instant, other
/// strings by code point; values of different kinds do not compare.
pub fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64()?.partial_cmp(&y.as_f64()?),
        (Value::String(x), Value::String(y)) => match (parse_timestamp(x), parse_timestamp(y)) {
            (Some(tx), Some(ty)) => Some(tx.cmp(&ty)),
            _ => Some(x.cmp(y)),
        },
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        _ => (a == b).then_some(Ordering::Equal),
    }
}

fn same(a: &Value, b: &Value) -> bool {
    compare(a, b) == Some(Ordering::Equal)
}

pub fn eval(f: &Filter, key: &InstanceKey, inst: &Instance) -> bool {
    match f {
        Filter::MatchAll => true,
        Filter::Equals(r, v) => value_of(key, inst, r).is_some_and(|x| same(&x, v)),
        Filter::In(r, vs) => value_of(key, inst, r).is_some_and(|x| vs.iter().any(|v| same(&x, v))),
        Filter::Range(r, bounds) => value_of(key, inst, r).is_some_and(|x| {
            bounds.iter().all(|(ord, inclusive, b)| match compare(&x, b) {
                Some(Ordering::Equal) => *inclusive,
                Some(o) => o == *ord,
                None => false,
            })
        }),
        Filter::Prefix(r, p) => match (value_of(key, inst, r), p) {
            (Some(Value::String(s)), Value::String(p)) => s.starts_with(p.as_str()),
            (Some(Value::Array(a)), Value::Array(p)) => a.len() >= p.len() && a.iter().zip(p).all(|(x, y)| same(x, y)),
            _ => false,
        },
        Filter::Exists(r) => value_of(key, inst, r).is_some(),
        Filter::ContainsAny(r, vs) => match value_of(key, inst, r) {
            Some(Value::Array(a)) => vs.iter().any(|v| a.iter().any(|x| same(x, v))),
            _ => false,
        },
        Filter::ContainsAll(r, vs) => match value_of(key, inst, r) {
            Some(Value::Array(a)) => vs.iter().all(|v| a.iter().any(|x| same(x, v))),
            _ => false,
        },
        Filter::HasData(sources) => sources.iter().any(|cs| cs.iter().all(|c| inst.data.contains_key(c))),
        Filter::And(fs) => fs.iter().all(|f| eval(f, key, inst)),
        Filter::Or(fs) => fs.iter().any(|f| eval(f, key, inst)),
        Filter::Not(f) => !eval(f, key, inst),
    }
}

/// One `sort` entry: the property, descending, nulls first.
pub struct SortKey {
    pub prop: PropRef,
    pub descending: bool,
    pub nulls_first: bool,
}

pub fn compile_sort(store: &ModelStore, v: Option<&Value>) -> ApiResult<Vec<SortKey>> {
    let Some(list) = v.filter(|v| !v.is_null()) else { return Ok(Vec::new()) };
    let list = list.as_array().ok_or_else(|| invalid("sort: must be a list"))?;
    if list.len() > 5 {
        return Err(invalid("sort: at most 5 sort keys"));
    }
    list.iter()
        .enumerate()
        .map(|(i, s)| {
            let path = format!("sort[{i}]");
            let o = as_obj(s, &path)?;
            let descending = match o.get("direction").and_then(|d| d.as_str()) {
                None | Some("ascending") => false,
                Some("descending") => true,
                Some(d) => return Err(invalid(format!("{path}.direction: \"{d}\" is not ascending or descending"))),
            };
            // DMS puts nulls last ascending and first descending unless told (as PostgreSQL).
            let nulls_first = o.get("nullsFirst").and_then(|n| n.as_bool()).unwrap_or(descending);
            Ok(SortKey {
                prop: prop_ref(store, o.get("property").unwrap_or(&Value::Null), &format!("{path}.property"))?,
                descending,
                nulls_first,
            })
        })
        .collect()
}

pub fn sort_cmp(keys: &[SortKey], a: (&InstanceKey, &Instance), b: (&InstanceKey, &Instance)) -> Ordering {
    for k in keys {
        let (x, y) = (value_of(a.0, a.1, &k.prop), value_of(b.0, b.1, &k.prop));
        let o = match (x, y) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => {
                if k.nulls_first {
                    Ordering::Less
                } else {
                    Ordering::Greater
                }
            }
            (Some(_), None) => {
                if k.nulls_first {
                    Ordering::Greater
                } else {
                    Ordering::Less
                }
            }
            (Some(x), Some(y)) => {
                let o = compare(&x, &y).unwrap_or(Ordering::Equal);
                if k.descending {
                    o.reverse()
                } else {
                    o
                }
            }
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}
