//! The Core Data Model, preloaded as the global space `cdf_cdm` (views `v1`): the core
//! interfaces CogniteDescribable, CogniteSourceable and CogniteSchedulable, the concepts
//! CogniteAsset, CogniteTimeSeries, CogniteEquipment, CogniteActivity and CogniteFile with
//! the classification views they point at, and the data model CogniteCore listing them.
//! Property identifiers and types follow cognite-sdk-python `data_classes/data_modeling/cdm/v1.py`
//! and docs.cognite.com "Core data model". Also the behaviour CDF attaches to them: an
//! asset's `root` and `path` follow its `parent`, and a CogniteTimeSeries node is a time
//! series in `/timeseries` (datapoints by `instanceId`).

use serde_json::{json, Value};

use super::instances::{InstanceKey, InstanceType};
use super::types::format_timestamp;
use super::views::finish;
use super::*;
use crate::resources::project::Kind;
use crate::resources::specs::TIMESERIES;

pub const SPACE: &str = "cdf_cdm";
pub const VERSION: &str = "v1";
/// Created at 2024-06-01T00:00:00Z, a fixed time so answers are stable.
const CREATED: i64 = 1_717_200_000_000;

/// (property, type, nullable, immutable, target view of a direct relation)
type PropDef = (&'static str, Value, bool, bool, Option<&'static str>);

fn text() -> Value {
    json!({"type": "text", "list": false, "collation": "ucs_basic"})
}
fn text_list(max: u64) -> Value {
    json!({"type": "text", "list": true, "maxListSize": max, "collation": "ucs_basic"})
}
fn ts() -> Value {
    json!({"type": "timestamp", "list": false})
}
fn boolean() -> Value {
    json!({"type": "boolean", "list": false})
}
fn direct() -> Value {
    json!({"type": "direct", "list": false})
}
fn direct_list(max: u64) -> Value {
    json!({"type": "direct", "list": true, "maxListSize": max})
}

fn p(name: &'static str, ty: Value) -> PropDef {
    (name, ty, true, false, None)
}
fn rel(name: &'static str, ty: Value, target: &'static str) -> PropDef {
    (name, ty, true, false, Some(target))
}

/// (container and view name, properties, views implemented)
fn concepts() -> Vec<(&'static str, Vec<PropDef>, Vec<&'static str>)> {
    let ds = vec!["CogniteDescribable", "CogniteSourceable"];
    vec![
        (
            "CogniteDescribable",
            vec![
                p("name", text()),
                p("description", text()),
                p("tags", text_list(1000)),
                p("aliases", text_list(1000)),
            ],
            vec![],
        ),
        (
            "CogniteSourceable",
            vec![
                p("sourceId", text()),
                p("sourceContext", text()),
                rel("source", direct(), "CogniteSourceSystem"),
                p("sourceCreatedTime", ts()),
                p("sourceUpdatedTime", ts()),
                p("sourceCreatedUser", text()),
                p("sourceUpdatedUser", text()),
            ],
            vec![],
        ),
        (
            "CogniteSchedulable",
            vec![p("startTime", ts()), p("endTime", ts()), p("scheduledStartTime", ts()), p("scheduledEndTime", ts())],
            vec![],
        ),
        ("CogniteSourceSystem", vec![p("version", text()), p("manufacturer", text())], vec!["CogniteDescribable"]),
        ("CogniteAssetClass", vec![p("code", text()), p("standard", text())], vec!["CogniteDescribable"]),
        (
            "CogniteAssetType",
            vec![p("code", text()), p("standard", text()), rel("assetClass", direct(), "CogniteAssetClass")],
            vec!["CogniteDescribable"],
        ),
        (
            "CogniteEquipmentType",
            vec![p("code", text()), p("equipmentClass", text()), p("standard", text()), p("standardReference", text())],
            vec!["CogniteDescribable"],
        ),
        (
            "CogniteFileCategory",
            vec![p("code", text()), p("standard", text()), p("standardReference", text())],
            vec!["CogniteDescribable"],
        ),
        (
            "CogniteAsset",
            vec![
                rel("parent", direct(), "CogniteAsset"),
                rel("root", direct(), "CogniteAsset"),
                rel("path", direct_list(100), "CogniteAsset"),
                p("pathLastUpdatedTime", ts()),
                rel("assetClass", direct(), "CogniteAssetClass"),
                rel("type", direct(), "CogniteAssetType"),
                p("object3D", direct()),
            ],
            ds.clone(),
        ),
        (
            "CogniteTimeSeries",
            vec![
                ("isStep", boolean(), false, false, None),
                (
                    "type",
                    json!({"type": "enum", "list": false, "values": {
                        "numeric": {"name": "numeric", "description": "Time series with double floating point data points."},
                        "string": {"name": "string", "description": "Time series with string data points."}
                    }}),
                    false,
                    true,
                    None,
                ),
                p("sourceUnit", text()),
                p("unit", direct()),
                rel("assets", direct_list(1200), "CogniteAsset"),
                rel("equipment", direct_list(1200), "CogniteEquipment"),
            ],
            ds.clone(),
        ),
        (
            "CogniteEquipment",
            vec![
                rel("asset", direct(), "CogniteAsset"),
                p("serialNumber", text()),
                p("manufacturer", text()),
                rel("equipmentType", direct(), "CogniteEquipmentType"),
                rel("files", direct_list(1000), "CogniteFile"),
            ],
            ds.clone(),
        ),
        (
            "CogniteActivity",
            vec![
                rel("assets", direct_list(1000), "CogniteAsset"),
                rel("equipment", direct_list(1000), "CogniteEquipment"),
                rel("timeSeries", direct_list(1000), "CogniteTimeSeries"),
            ],
            vec!["CogniteDescribable", "CogniteSourceable", "CogniteSchedulable"],
        ),
        (
            "CogniteFile",
            vec![
                rel("assets", direct_list(1000), "CogniteAsset"),
                p("mimeType", text()),
                p("directory", text()),
                p("isUploaded", boolean()),
                p("uploadedTime", ts()),
                rel("category", direct(), "CogniteFileCategory"),
            ],
            ds,
        ),
    ]
}

fn view_ref(name: &str) -> Value {
    json!({"type": "view", "space": SPACE, "externalId": name, "version": VERSION})
}

pub fn preload(store: &mut ModelStore) {
    store.spaces.insert(
        SPACE.into(),
        json!({"space": SPACE, "name": "cdf_cdm", "description": "The Cognite Core Data Model",
               "isGlobal": true, "createdTime": CREATED, "lastUpdatedTime": CREATED})
        .as_object()
        .expect("object")
        .clone(),
    );
    let mut names = Vec::new();
    for (name, props, implements) in concepts() {
        let mut cprops = Object::new();
        let mut vprops = Object::new();
        for (pname, ty, nullable, immutable, target) in props {
            let state = if nullable { json!({}) } else { json!({"nullability": "current"}) };
            let mut cp = json!({"type": ty, "nullable": nullable, "immutable": immutable, "autoIncrement": false, "constraintState": state});
            if pname == "isStep" {
                cp["defaultValue"] = json!(false);
            }
            cprops.insert(pname.into(), cp);
            let mut vp = json!({"container": {"type": "container", "space": SPACE, "externalId": name}, "containerPropertyIdentifier": pname});
            if let Some(t) = target {
                vp["source"] = view_ref(t);
            }
            vprops.insert(pname.into(), vp);
        }
        if name == "CogniteAsset" {
            vprops.insert(
                "children".into(),
                json!({"connectionType": "multi_reverse_direct_relation", "source": view_ref("CogniteAsset"),
                       "through": {"source": view_ref("CogniteAsset"), "identifier": "parent"}}),
            );
        }
        let container = json!({"space": SPACE, "externalId": name, "name": name, "usedFor": "node",
            "properties": cprops, "constraints": {}, "indexes": {}, "isGlobal": true,
            "createdTime": CREATED, "lastUpdatedTime": CREATED});
        store.containers.insert((SPACE.into(), name.into()), container.as_object().expect("object").clone());
        let view = json!({"space": SPACE, "externalId": name, "version": VERSION, "name": name,
            "implements": implements.iter().map(|i| view_ref(i)).collect::<Vec<_>>(),
            "properties": vprops, "isGlobal": true, "createdTime": CREATED, "lastUpdatedTime": CREATED});
        let key = (SPACE.to_string(), name.to_string(), VERSION.to_string());
        store.views.insert(key.clone(), view.as_object().expect("object").clone());
        names.push(key);
    }
    for key in &names {
        finish(store, key);
    }
    let model = json!({"space": SPACE, "externalId": "CogniteCore", "version": VERSION, "name": "Cognite Core Data Model",
        "views": names.iter().map(|k| view_ref(&k.1)).collect::<Vec<_>>(), "isGlobal": true,
        "createdTime": CREATED, "lastUpdatedTime": CREATED});
    store
        .data_models
        .insert((SPACE.into(), "CogniteCore".into(), VERSION.into()), model.as_object().expect("object").clone());
}

fn container(name: &str) -> ContainerKey {
    (SPACE.to_string(), name.to_string())
}

fn node_ref(k: &InstanceKey) -> Value {
    json!({"space": k.space, "externalId": k.external_id})
}

/// Keeps `root`, `path` (root first, the asset itself last) and `pathLastUpdatedTime` of
/// every CogniteAsset in line with the `parent` chain after a write touched assets.
pub fn after_write(store: &mut ModelStore, changed: &[InstanceKey], now: i64) {
    let asset = container("CogniteAsset");
    if !changed.iter().any(|k| store.instances.items.get(k).is_some_and(|i| i.data.contains_key(&asset))) {
        return;
    }
    let parent_of = |store: &ModelStore, k: &InstanceKey| -> Option<InstanceKey> {
        let p = store.instances.items.get(k)?.data.get(&asset)?.get("parent")?;
        Some(InstanceKey::node(p.get("space")?.as_str()?, p.get("externalId")?.as_str()?))
    };
    let assets: Vec<InstanceKey> =
        store.instances.items.iter().filter(|(_, i)| i.data.contains_key(&asset)).map(|(k, _)| k.clone()).collect();
    for k in assets {
        let mut chain = vec![k.clone()];
        while let Some(p) = parent_of(store, chain.last().expect("non-empty")) {
            // A cycle or an absurd depth ends the walk (DMS refuses deeper hierarchies).
            if chain.contains(&p) || chain.len() >= 100 {
                break;
            }
            chain.push(p);
        }
        chain.reverse();
        let path: Vec<Value> = chain.iter().map(node_ref).collect();
        let root = path[0].clone();
        let data = store.instances.items.get_mut(&k).and_then(|i| i.data.get_mut(&asset)).expect("asset data");
        if data.get("path") != Some(&Value::Array(path.clone())) || data.get("root") != Some(&root) {
            data.insert("path".into(), Value::Array(path));
            data.insert("root".into(), root);
            data.insert("pathLastUpdatedTime".into(), json!(format_timestamp(now)));
        }
    }
}

fn instance_id(k: &InstanceKey) -> Value {
    json!({"space": k.space, "externalId": k.external_id})
}

/// A CogniteTimeSeries node is a time series: created with the node, kept in line with its
/// name, description, isStep and sourceUnit, string or numeric by the node's `type`.
pub fn sync_timeseries(ctx: &Ctx, store: &ModelStore, changed: &[InstanceKey]) {
    let tsc = container("CogniteTimeSeries");
    let desc = container("CogniteDescribable");
    let mut meta = ctx.project.meta.lock();
    for k in changed.iter().filter(|k| k.instance_type == InstanceType::Node) {
        let Some(inst) = store.instances.items.get(k) else { continue };
        let Some(data) = inst.data.get(&tsc) else { continue };
        let iid = instance_id(k);
        let existing = meta.timeseries.key_of_instance(&k.space, &k.external_id);
        let mut obj = match existing {
            Some(id) => meta.timeseries.items[&id].clone(),
            None => Object::new(),
        };
        obj.insert("instanceId".into(), iid);
        obj.insert("isString".into(), json!(data.get("type") == Some(&json!("string"))));
        obj.insert("isStep".into(), data.get("isStep").cloned().unwrap_or(json!(false)));
        let d = inst.data.get(&desc);
        for (field, value) in [
            ("name", d.and_then(|d| d.get("name"))),
            ("description", d.and_then(|d| d.get("description"))),
            ("unit", data.get("sourceUnit")),
        ] {
            match value {
                Some(v) => obj.insert(field.into(), v.clone()),
                None => obj.remove(field),
            };
        }
        match existing {
            Some(id) => {
                obj.insert("lastUpdatedTime".into(), json!(inst.last_updated_time));
                meta.timeseries.insert(id, obj);
            }
            None => {
                let id = ctx.project.next_id();
                crate::resources::finish_new(&TIMESERIES, &mut obj, id, inst.created_time);
                meta.coll_mut(Kind::TimeSeries).insert(id, obj);
            }
        }
    }
}

/// Deleting a CogniteTimeSeries node deletes its time series and datapoints.
pub fn forget_timeseries(ctx: &Ctx, deleted: &[InstanceKey]) {
    let mut meta = ctx.project.meta.lock();
    let ids: Vec<i64> = deleted
        .iter()
        .filter(|k| k.instance_type == InstanceType::Node)
        .filter_map(|k| meta.timeseries.key_of_instance(&k.space, &k.external_id))
        .collect();
    for id in &ids {
        meta.timeseries.remove(*id);
    }
    drop(meta);
    let mut dps = ctx.project.datapoints.lock();
    for id in ids {
        dps.remove(&id);
    }
}
