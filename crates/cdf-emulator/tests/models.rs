//! Data modeling (`/models/`): schema, instance upserts with DMS's type and version rules,
//! list filters and cursors, the preloaded Core Data Model, datapoints by instanceId and
//! space-scoped capabilities.

mod common;

use cdf_emulator::{CapabilityConfig, ClientConfig, EmulatorConfig};
use common::{fetch_token, Api, Resp};
use serde_json::{json, Value};

const VIEW: &str = "Pump";

/// A space `sp` with container `PumpC` and view `Pump/v1` mapping its properties.
async fn schema(api: &Api) {
    let r = api.post("/models/spaces", json!({"items": [{"space": "sp", "name": "Test"}]})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = api
        .post(
            "/models/containers",
            json!({"items": [{"space": "sp", "externalId": "PumpC", "properties": {
                "name": {"type": {"type": "text", "maxTextSize": 10}, "nullable": false},
                "count": {"type": {"type": "int32"}},
                "ratio": {"type": {"type": "float64"}, "defaultValue": 0.5},
                "tags": {"type": {"type": "text", "list": true, "maxListSize": 2}},
                "at": {"type": {"type": "timestamp"}},
                "day": {"type": {"type": "date"}},
                "doc": {"type": {"type": "json"}},
                "ok": {"type": {"type": "boolean"}},
                "serial": {"type": {"type": "text"}, "immutable": true},
                "kind": {"type": {"type": "enum", "values": {"a": {}, "b": {}}}},
                "owner": {"type": {"type": "direct"}}
            }, "constraints": {"uniqueSerial": {"constraintType": "uniqueness", "properties": ["serial"]}}}]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let props: serde_json::Map<String, Value> = [
        "name", "count", "ratio", "tags", "at", "day", "doc", "ok", "serial", "kind", "owner",
    ]
    .iter()
    .map(|p| {
        (p.to_string(), json!({"container": {"type": "container", "space": "sp", "externalId": "PumpC"}, "containerPropertyIdentifier": p}))
    })
    .collect();
    let r = api
        .post(
            "/models/views",
            json!({"items": [{"space": "sp", "externalId": VIEW, "version": "v1", "properties": props}]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
}

fn node(xid: &str, props: Value) -> Value {
    json!({"instanceType": "node", "space": "sp", "externalId": xid,
           "sources": [{"source": {"type": "view", "space": "sp", "externalId": VIEW, "version": "v1"}, "properties": props}]})
}

async fn upsert(api: &Api, items: Value) -> Resp {
    api.post("/models/instances", json!({ "items": items })).await
}

fn pump_props(body: &Value) -> &Value {
    &body["properties"]["sp"]["Pump/v1"]
}

#[tokio::test]
async fn schema_round_trips_with_read_shapes() {
    let api = Api::start().await;
    schema(&api).await;
    let r = api.post("/models/containers/byids", json!({"items": [{"space": "sp", "externalId": "PumpC"}]})).await;
    let c = &r.items()[0];
    assert_eq!(c["usedFor"], "node");
    assert_eq!(c["isGlobal"], false);
    assert_eq!(
        c["properties"]["name"]["type"],
        json!({"type": "text", "list": false, "collation": "ucs_basic", "maxTextSize": 10})
    );
    assert_eq!(c["properties"]["count"]["nullable"], true);
    assert_eq!(c["properties"]["count"]["constraintState"], json!({}));
    assert_eq!(c["properties"]["name"]["constraintState"], json!({"nullability": "current"}));
    assert_eq!(c["properties"]["kind"]["type"]["list"], false, "enums answer list: false");
    assert_eq!(c["constraints"]["uniqueSerial"]["state"], "current");
    let r =
        api.post("/models/views/byids", json!({"items": [{"space": "sp", "externalId": VIEW, "version": "v1"}]})).await;
    let v = &r.items()[0];
    assert_eq!(v["writable"], true);
    assert_eq!(v["properties"]["name"]["nullable"], false);
    assert_eq!(v["properties"]["ratio"]["defaultValue"], 0.5);
    assert_eq!((v["queryable"].as_bool(), v["usedFor"].as_str()), (Some(true), Some("node")));
    assert_eq!(v["mappedContainers"], json!([{"type": "container", "space": "sp", "externalId": "PumpC"}]));
    // Unknown ids are left out, not an error.
    let r = api.post("/models/spaces/byids", json!({"items": [{"space": "sp"}, {"space": "nope"}]})).await;
    assert_eq!(r.items().len(), 1);
    // A view mapping a container that does not exist.
    let r = api
        .post("/models/views", json!({"items": [{"space": "sp", "externalId": "Bad", "version": "v1", "properties": {
            "x": {"container": {"type": "container", "space": "sp", "externalId": "Missing"}, "containerPropertyIdentifier": "x"}}}]}))
        .await;
    assert_eq!(r.status, 400);
    assert!(r.error()["message"].as_str().unwrap().contains("Referenced container does not exist"), "{}", r.body);
    // A container property's type cannot change.
    let r = api
        .post("/models/containers", json!({"items": [{"space": "sp", "externalId": "PumpC", "properties": {"count": {"type": {"type": "text"}}}}]}))
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    // Lists: own space only unless includeGlobal.
    let r = api.get("/models/spaces").await;
    assert_eq!(r.items().len(), 1);
    let r = api.get("/models/spaces?includeGlobal=true").await;
    assert!(r.items().iter().any(|s| s["space"] == "cdf_cdm" && s["isGlobal"] == true));
}

#[tokio::test]
async fn reapplying_unchanged_schema_keeps_last_updated_time() {
    let api = Api::start().await;
    schema(&api).await;
    let container = |desc: &str| json!({"items": [{"space": "sp", "externalId": "Small", "description": desc, "properties": {"a": {"type": {"type": "text"}}}}]});
    let first = api.post("/models/containers", container("d")).await.items()[0].clone();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let again = api.post("/models/containers", container("d")).await.items()[0].clone();
    assert_eq!(again["lastUpdatedTime"], first["lastUpdatedTime"]);
    let changed = api.post("/models/containers", container("other")).await.items()[0].clone();
    assert_ne!(changed["lastUpdatedTime"], first["lastUpdatedTime"]);
    assert_eq!(changed["createdTime"], first["createdTime"]);
    // A reverse direct relation answers whether the relation it goes through is a list.
    let rdr = json!({"items": [{"space": "sp", "externalId": "Owner", "version": "v1", "properties": {
        "pumps": {"connectionType": "multi_reverse_direct_relation",
                  "source": {"type": "view", "space": "sp", "externalId": VIEW, "version": "v1"},
                  "through": {"source": {"type": "view", "space": "sp", "externalId": VIEW, "version": "v1"}, "identifier": "owner"}}}}]});
    let r = api.post("/models/views", rdr).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.items()[0]["properties"]["pumps"]["targetsList"], false);
}

#[tokio::test]
async fn views_inherit_properties_of_the_views_they_implement() {
    let api = Api::start().await;
    schema(&api).await;
    let r = api
        .post(
            "/models/views",
            json!({"items": [{"space": "sp", "externalId": "BigPump", "version": "v1",
            "implements": [{"type": "view", "space": "sp", "externalId": VIEW, "version": "v1"}], "properties": {}}]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let with = api
        .post("/models/views/byids", json!({"items": [{"space": "sp", "externalId": "BigPump", "version": "v1"}]}))
        .await;
    assert!(with.items()[0]["properties"].get("name").is_some());
    let without = api
        .send(
            api.http
                .post(api.url("/models/views/byids?includeInheritedProperties=false"))
                .bearer_auth(&api.token)
                .json(&json!({"items": [{"space": "sp", "externalId": "BigPump", "version": "v1"}]})),
        )
        .await;
    assert_eq!(without.items()[0]["properties"], json!({}));
}

#[tokio::test]
async fn type_checks_reject_bad_values_with_400() {
    let api = Api::start().await;
    schema(&api).await;
    let cases = [
        (json!({"name": 5}), "of type text"),
        (json!({"count": 1}), "Missing required property 'name'"),
        (json!({"name": "a", "count": 3_000_000_000i64}), "out of range for int32"),
        (json!({"name": "a", "tags": ["x", "y", "z"]}), "more than the maximum 2"),
        (json!({"name": "a", "invalidProperty": 1}), "invalidProperty"),
        (json!({"name": "much too long"}), "longer than the maximum 10"),
        (json!({"name": "a", "kind": "c"}), "not one of the enum's values"),
        (json!({"name": "a", "at": "yesterday"}), "of type timestamp"),
        (json!({"name": "a", "day": "2024-02-30"}), "of type date"),
        (json!({"name": "a", "owner": "sp:x"}), "of type direct"),
        (json!({"name": null}), "Invalid value for non-nullable property 'name'. Value cannot be null."),
    ];
    for (props, want) in cases {
        let r = upsert(&api, json!([node("p1", props.clone())])).await;
        assert_eq!(r.status, 400, "{props}: {}", r.body);
        let msg = r.error()["message"].as_str().unwrap();
        assert!(msg.contains(want), "{props}: {msg}");
    }
    // Nothing was written by the failed requests.
    let r = api.post("/models/instances/list", json!({})).await;
    assert_eq!(r.items().len(), 0);
    assert_eq!(api.dump("models/instances").await.len(), 0);
    assert_eq!(api.dump("models/views").await.len(), 1, "the Core Data Model is left out of dumps");
}

#[tokio::test]
async fn upsert_stores_values_with_defaults_and_normalised_timestamps() {
    let api = Api::start().await;
    schema(&api).await;
    let r = upsert(
        &api,
        json!([node(
            "p1",
            json!({"name": "a", "at": "2024-01-02T03:04:05+01:00", "owner": {"space": "sp", "externalId": "o1"}})
        )]),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let item = &r.items()[0];
    assert_eq!((item["version"].as_i64(), item["wasModified"].as_bool()), (Some(1), Some(true)));
    let read = api
        .post(
            "/models/instances/byids",
            json!({"items": [{"instanceType": "node", "space": "sp", "externalId": "p1"}],
            "sources": [{"source": {"type": "view", "space": "sp", "externalId": VIEW, "version": "v1"}}]}),
        )
        .await;
    let dumped = api.dump("models/instances").await;
    let p1 = dumped.iter().find(|i| i["externalId"] == "p1").unwrap();
    assert_eq!(p1["properties"]["sp"]["PumpC"]["name"], "a", "dumps show data per container");
    let p = pump_props(&read.items()[0]);
    assert_eq!(p["at"], "2024-01-02T02:04:05+00:00");
    assert_eq!(p["ratio"], 0.5, "the default fills a new row");
    // autoCreateDirectRelations (default true) created the target node.
    let r = api
        .post(
            "/models/instances/byids",
            json!({"items": [{"instanceType": "node", "space": "sp", "externalId": "o1"}]}),
        )
        .await;
    assert_eq!(r.items().len(), 1);
    // Listing with a source view lists only instances with data in it.
    let src = json!([{"source": {"type": "view", "space": "sp", "externalId": VIEW, "version": "v1"}}]);
    assert_eq!(api.post("/models/instances/list", json!({})).await.items().len(), 2);
    let listed = api.post("/models/instances/list", json!({"sources": src})).await;
    assert_eq!(listed.items().iter().map(|i| i["externalId"].as_str().unwrap()).collect::<Vec<_>>(), ["p1"]);
    // The same write again changes nothing: version stays, wasModified false.
    let r = upsert(
        &api,
        json!([node(
            "p1",
            json!({"name": "a", "at": "2024-01-02T02:04:05.000Z", "owner": {"space": "sp", "externalId": "o1"}})
        )]),
    )
    .await;
    assert_eq!((r.items()[0]["version"].as_i64(), r.items()[0]["wasModified"].as_bool()), (Some(1), Some(false)));
}

#[tokio::test]
async fn patch_keeps_omitted_properties_and_replace_drops_them() {
    let api = Api::start().await;
    schema(&api).await;
    upsert(&api, json!([node("p1", json!({"name": "a", "count": 1, "ok": true}))])).await;
    let r = upsert(&api, json!([node("p1", json!({"count": 2}))])).await;
    assert_eq!(r.items()[0]["version"], 2);
    let src = json!([{"source": {"type": "view", "space": "sp", "externalId": VIEW, "version": "v1"}}]);
    let ids = json!([{"instanceType": "node", "space": "sp", "externalId": "p1"}]);
    let read = api.post("/models/instances/byids", json!({"items": ids, "sources": src})).await;
    assert_eq!(pump_props(&read.items()[0])["ok"], true);
    assert_eq!(pump_props(&read.items()[0])["count"], 2);
    let r = api.post("/models/instances", json!({"items": [node("p1", json!({"name": "b"}))], "replace": true})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let read = api.post("/models/instances/byids", json!({"items": ids, "sources": src})).await;
    let p = pump_props(&read.items()[0]);
    assert!(p.get("ok").is_none() && p.get("count").is_none(), "{p}");
    // Replace without the required property fails.
    let r = api.post("/models/instances", json!({"items": [node("p1", json!({"count": 1}))], "replace": true})).await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn existing_version_guards_writes() {
    let api = Api::start().await;
    schema(&api).await;
    let mut item = node("p1", json!({"name": "a"}));
    item["existingVersion"] = json!(0);
    assert_eq!(upsert(&api, json!([item.clone()])).await.status, 200);
    // 0 = must not exist yet.
    let r = upsert(&api, json!([item.clone()])).await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(r.error()["duplicated"][0]["externalId"], "p1");
    // A stale version conflicts too; the right one passes.
    item["existingVersion"] = json!(7);
    assert_eq!(upsert(&api, json!([item.clone()])).await.status, 409);
    item["existingVersion"] = json!(1);
    item["sources"][0]["properties"]["count"] = json!(5);
    let r = upsert(&api, json!([item.clone()])).await;
    assert_eq!(r.items()[0]["version"], 2);
    // skipOnVersionConflict leaves the conflicting item out and writes the rest.
    let r = api
        .post(
            "/models/instances",
            json!({"items": [item, node("p2", json!({"name": "b"}))], "skipOnVersionConflict": true}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let xids: Vec<&str> = r.items().iter().map(|i| i["externalId"].as_str().unwrap()).collect();
    assert_eq!(xids, ["p2"]);
}

#[tokio::test]
async fn immutable_uniqueness_and_auto_create_rules() {
    let api = Api::start().await;
    schema(&api).await;
    assert_eq!(upsert(&api, json!([node("p1", json!({"name": "a", "serial": "S1"}))])).await.status, 200);
    let r = upsert(&api, json!([node("p1", json!({"serial": "S2"}))])).await;
    assert!(r.error()["message"].as_str().unwrap().contains("immutable"), "{}", r.body);
    let r = upsert(&api, json!([node("p2", json!({"name": "b", "serial": "S1"}))])).await;
    assert!(r.error()["message"].as_str().unwrap().contains("Uniqueness"), "{}", r.body);
    let r = api
        .post(
            "/models/instances",
            json!({"items": [node("p3", json!({"name": "c", "owner": {"space": "sp", "externalId": "ghost"}}))],
            "autoCreateDirectRelations": false}),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(
        r.error()["message"],
        "Node with external id 'ghost' was referenced as the target of a direct relation, but it does not exist."
    );
    // Edges: the end nodes must exist unless autoCreateStartNodes/EndNodes.
    let edge = json!({"instanceType": "edge", "space": "sp", "externalId": "e1", "type": {"space": "sp", "externalId": "feeds"},
        "startNode": {"space": "sp", "externalId": "p1"}, "endNode": {"space": "sp", "externalId": "new"}});
    assert_eq!(upsert(&api, json!([edge.clone()])).await.status, 400);
    let r = api.post("/models/instances", json!({"items": [edge], "autoCreateEndNodes": true})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = api.post("/models/instances/list", json!({"instanceType": "edge"})).await;
    assert_eq!(r.items()[0]["endNode"]["externalId"], "new");
    // Deleting a node takes its edges along.
    let r = api.post("/models/instances/delete", json!({"items": [{"instanceType": "node", "space": "sp", "externalId": "p1"}, {"instanceType": "node", "space": "sp", "externalId": "unknown"}]})).await;
    assert_eq!(r.items().len(), 1);
    let r = api.post("/models/instances/list", json!({"instanceType": "edge"})).await;
    assert_eq!(r.items().len(), 0);
}

#[tokio::test]
async fn list_filters_sorts_and_pages() {
    let api = Api::start().await;
    schema(&api).await;
    let items: Vec<Value> = (0..7)
        .map(|i| node(&format!("p{i}"), json!({"name": format!("n{i}"), "count": i, "tags": if i % 2 == 0 { json!(["even"]) } else { json!(["odd"]) }})))
        .collect();
    assert_eq!(upsert(&api, json!(items)).await.status, 200);
    let prop = |p: &str| json!(["sp", "Pump/v1", p]);
    let xids = |r: &Resp| r.items().iter().map(|i| i["externalId"].as_str().unwrap().to_string()).collect::<Vec<_>>();
    let f = |filter: Value| json!({"filter": filter, "sort": [{"property": prop("count"), "direction": "ascending"}]});
    let cases = [
        (json!({"equals": {"property": prop("name"), "value": "n3"}}), vec!["p3"]),
        (json!({"in": {"property": ["node", "externalId"], "values": ["p1", "p2"]}}), vec!["p1", "p2"]),
        (json!({"range": {"property": prop("count"), "gte": 2, "lt": 4}}), vec!["p2", "p3"]),
        (json!({"prefix": {"property": prop("name"), "value": "n6"}}), vec!["p6"]),
        (
            json!({"and": [{"containsAny": {"property": prop("tags"), "values": ["odd"]}}, {"not": {"equals": {"property": prop("count"), "value": 1}}}]}),
            vec!["p3", "p5"],
        ),
        (
            json!({"or": [{"containsAll": {"property": prop("tags"), "values": ["even"]}}, {"equals": {"property": prop("count"), "value": 1}}]}),
            vec!["p0", "p1", "p2", "p4", "p6"],
        ),
        (json!({"not": {"exists": {"property": prop("ratio")}}}), vec![]),
        (
            json!({"hasData": [{"type": "view", "space": "sp", "externalId": VIEW, "version": "v1"}]}),
            vec!["p0", "p1", "p2", "p3", "p4", "p5", "p6"],
        ),
    ];
    for (filter, want) in cases {
        let r = api.post("/models/instances/list", f(filter.clone())).await;
        assert_eq!(r.status, 200, "{filter}: {}", r.body);
        assert_eq!(xids(&r), want, "{filter}");
    }
    // Descending sort and cursors: every item once, in order.
    let mut seen = Vec::new();
    let mut cursor = Value::Null;
    loop {
        let r = api
            .post(
                "/models/instances/list",
                json!({"limit": 3, "cursor": cursor, "sort": [{"property": prop("count"), "direction": "descending"}]}),
            )
            .await;
        seen.extend(xids(&r));
        cursor = r.body["nextCursor"].clone();
        if cursor.is_null() {
            break;
        }
    }
    assert_eq!(seen, ["p6", "p5", "p4", "p3", "p2", "p1", "p0"]);
    let r = api
        .post(
            "/models/instances/list",
            json!({"filter": {"equals": {"property": ["sp", "Pump/v1", "nope"], "value": 1}}}),
        )
        .await;
    assert_eq!(r.status, 400);
    let r = api.post("/models/instances/list", json!({"limit": 1001})).await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn core_data_model_is_preloaded() {
    let api = Api::start().await;
    let r = api
        .send(
            api.http
                .post(api.url("/models/datamodels/byids?inlineViews=true"))
                .bearer_auth(&api.token)
                .json(&json!({"items": [{"space": "cdf_cdm", "externalId": "CogniteCore", "version": "v1"}]})),
        )
        .await;
    let views = r.items()[0]["views"].as_array().unwrap();
    let asset = views.iter().find(|v| v["externalId"] == "CogniteAsset").unwrap();
    for p in ["name", "description", "tags", "sourceId", "parent", "root", "path", "pathLastUpdatedTime"] {
        assert!(asset["properties"].get(p).is_some(), "CogniteAsset.{p}");
    }
    assert_eq!(asset["properties"]["path"]["type"]["list"], true);
    let ts = views.iter().find(|v| v["externalId"] == "CogniteTimeSeries").unwrap();
    assert_eq!(ts["properties"]["type"]["nullable"], false);
    assert_eq!(ts["properties"]["type"]["immutable"], true);
    for name in ["CogniteEquipment", "CogniteActivity", "CogniteFile", "CogniteDescribable", "CogniteSourceable"] {
        assert!(views.iter().any(|v| v["externalId"] == name), "{name}");
    }
    // System spaces are read-only.
    let r = api.post("/models/containers", json!({"items": [{"space": "cdf_cdm", "externalId": "X", "properties": {"a": {"type": {"type": "text"}}}}]})).await;
    assert_eq!(r.status, 400);
}

fn cdm_node(space: &str, xid: &str, view: &str, props: Value) -> Value {
    json!({"instanceType": "node", "space": space, "externalId": xid,
           "sources": [{"source": {"type": "view", "space": "cdf_cdm", "externalId": view, "version": "v1"}, "properties": props}]})
}

#[tokio::test]
async fn cognite_assets_keep_root_and_path() {
    let api = Api::start().await;
    api.post("/models/spaces", json!({"items": [{"space": "inst"}]})).await;
    let r = upsert(
        &api,
        json!([
            cdm_node("inst", "root", "CogniteAsset", json!({"name": "root"})),
            cdm_node(
                "inst",
                "child",
                "CogniteAsset",
                json!({"name": "child", "parent": {"space": "inst", "externalId": "root"}})
            ),
            cdm_node(
                "inst",
                "leaf",
                "CogniteAsset",
                json!({"name": "leaf", "parent": {"space": "inst", "externalId": "child"}})
            ),
        ]),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let read = api
        .post("/models/instances/byids", json!({"items": [{"instanceType": "node", "space": "inst", "externalId": "leaf"}],
            "sources": [{"source": {"type": "view", "space": "cdf_cdm", "externalId": "CogniteAsset", "version": "v1"}}]}))
        .await;
    let p = &read.items()[0]["properties"]["cdf_cdm"]["CogniteAsset/v1"];
    assert_eq!(p["root"], json!({"space": "inst", "externalId": "root"}));
    let path: Vec<&str> = p["path"].as_array().unwrap().iter().map(|n| n["externalId"].as_str().unwrap()).collect();
    assert_eq!(path, ["root", "child", "leaf"]);
}

#[tokio::test]
async fn datapoints_round_trip_by_instance_id() {
    let api = Api::start().await;
    api.post("/models/spaces", json!({"items": [{"space": "inst"}]})).await;
    // `type` is required.
    let r = upsert(&api, json!([cdm_node("inst", "t0", "CogniteTimeSeries", json!({"name": "x"}))])).await;
    assert_eq!(r.status, 400, "{}", r.body);
    let r = upsert(
        &api,
        json!([
            cdm_node("inst", "num", "CogniteTimeSeries", json!({"type": "numeric", "name": "Flow"})),
            cdm_node("inst", "str", "CogniteTimeSeries", json!({"type": "string"})),
        ]),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    // `type` is immutable.
    let r = upsert(&api, json!([cdm_node("inst", "num", "CogniteTimeSeries", json!({"type": "string"}))])).await;
    assert_eq!(r.status, 400, "{}", r.body);
    let num = json!({"space": "inst", "externalId": "num"});
    let s = json!({"space": "inst", "externalId": "str"});
    // The nodes are time series of /timeseries, found by instanceId.
    let r = api.post("/timeseries/byids", json!({"items": [{"instanceId": num}, {"instanceId": s}]})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let kinds: Vec<(&Value, &Value, &Value)> =
        r.items().iter().map(|t| (&t["instanceId"], &t["isString"], &t["name"])).collect();
    assert_eq!(kinds, [(&num, &json!(false), &json!("Flow")), (&s, &json!(true), &Value::Null)]);
    let r = api
        .post(
            "/timeseries/data",
            json!({"items": [
            {"instanceId": num, "datapoints": [{"timestamp": 1000, "value": 1.5}, {"timestamp": 2000, "value": 2.5}]},
            {"instanceId": s, "datapoints": [{"timestamp": 1000, "value": "on"}]}]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = api
        .post("/timeseries/data", json!({"items": [{"instanceId": s, "datapoints": [{"timestamp": 1, "value": 1.0}]}]}))
        .await;
    assert_eq!(r.status, 400, "a string series takes strings: {}", r.body);
    let r = api.post("/timeseries/data/list", json!({"items": [{"instanceId": num, "start": 0, "end": 10_000}]})).await;
    assert_eq!(r.items()[0]["instanceId"], num);
    assert_eq!(r.items()[0]["isString"], false);
    assert_eq!(r.items()[0]["datapoints"].as_array().unwrap().len(), 2);
    let r = api.post("/timeseries/data/latest", json!({"items": [{"instanceId": s}]})).await;
    assert_eq!(r.items()[0]["datapoints"][0]["value"], "on");
    let r = api
        .post(
            "/timeseries/data/delete",
            json!({"items": [{"instanceId": num, "inclusiveBegin": 0, "exclusiveEnd": 1500}]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = api.post("/timeseries/data/list", json!({"items": [{"instanceId": num, "start": 0, "end": 10_000}]})).await;
    assert_eq!(r.items()[0]["datapoints"][0]["timestamp"], 2000);
    let r = api
        .post("/timeseries/data/list", json!({"items": [{"instanceId": {"space": "inst", "externalId": "nope"}}]}))
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.error()["missing"][0]["instanceId"]["externalId"], "nope");
    // Deleting the node deletes its time series.
    api.post(
        "/models/instances/delete",
        json!({"items": [{"instanceType": "node", "space": "inst", "externalId": "num"}]}),
    )
    .await;
    let r = api.post("/timeseries/data/list", json!({"items": [{"instanceId": num}]})).await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn protobuf_datapoints_carry_the_instance_id() {
    use cdf_emulator::resources::protobuf::Writer;
    let api = Api::start().await;
    api.post("/models/spaces", json!({"items": [{"space": "inst"}]})).await;
    upsert(&api, json!([cdm_node("inst", "num", "CogniteTimeSeries", json!({"type": "numeric"}))])).await;
    // DataPointInsertionItem { instanceId = 5 { space = 1, externalId = 2 }, numericDatapoints = 3 { datapoints = 1 { timestamp = 1, value = 2 } } }
    let mut w = Writer::new();
    w.message(1, |item| {
        item.message(5, |i| {
            i.string(1, "inst");
            i.string(2, "num");
        });
        item.message(3, |dps| {
            dps.message(1, |p| {
                p.int64(1, 5000);
                p.double(2, 7.25);
            })
        });
    });
    let r = api
        .send(
            api.http
                .post(api.url("/timeseries/data"))
                .bearer_auth(&api.token)
                .header("content-type", "application/protobuf")
                .body(w.buf),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = api
        .post("/timeseries/data/list", json!({"items": [{"instanceId": {"space": "inst", "externalId": "num"}}]}))
        .await;
    assert_eq!(r.items()[0]["datapoints"][0]["value"], 7.25);
    let resp = api
        .http
        .post(api.url("/timeseries/data/list"))
        .bearer_auth(&api.token)
        .header("accept", "application/protobuf")
        .json(&json!({"items": [{"instanceId": {"space": "inst", "externalId": "num"}}]}))
        .send()
        .await
        .unwrap();
    let bytes = resp.bytes().await.unwrap();
    // DataPointListItem.instanceId = 11 (length-delimited: key 0x5a) holding "inst" and "num".
    let at = bytes.iter().position(|b| *b == 0x5a).expect("instanceId field");
    assert_eq!(&bytes[at + 2..at + 13], b"\x0a\x04inst\x12\x03num");
}

#[tokio::test]
async fn capabilities_are_checked_per_space() {
    let mut config = EmulatorConfig::default();
    config.clients.push(ClientConfig {
        client_id: "dm".into(),
        client_secret: "dm-secret".into(),
        projects: vec!["demo".into()],
        capabilities: vec![
            CapabilityConfig { acl: "dataModelsAcl".into(), actions: vec!["READ".into()], scope: json!({"all": {}}) },
            CapabilityConfig {
                acl: "dataModelInstancesAcl".into(),
                actions: vec!["READ".into(), "WRITE".into()],
                scope: json!({"spaceIdScope": {"spaceIds": ["sp"]}}),
            },
        ],
    });
    let mut api = Api::start_with(config).await;
    schema(&api).await;
    api.post("/models/spaces", json!({"items": [{"space": "other"}]})).await;
    upsert(&api, json!([{"instanceType": "node", "space": "other", "externalId": "o"}])).await;
    api.token = fetch_token(&api.http, &api.emu.token_url(), "dm", "dm-secret").await;
    // Pointing at a node of another space needs no access to it; creating one there does.
    let owner = |x: &str| node("p0", json!({"name": "a", "owner": {"space": "other", "externalId": x}}));
    assert_eq!(upsert(&api, json!([owner("o")])).await.status, 200);
    assert_eq!(upsert(&api, json!([owner("ghost")])).await.status, 403);
    let r = api.post("/models/spaces", json!({"items": [{"space": "mine"}]})).await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.error()["message"].as_str().unwrap().contains("dataModelsAcl:WRITE"));
    assert_eq!(upsert(&api, json!([node("p1", json!({"name": "a"}))])).await.status, 200);
    let mut other = node("p2", json!({"name": "b"}));
    other["space"] = json!("other");
    let r = upsert(&api, json!([other])).await;
    assert_eq!(r.status, 403, "{}", r.body);
    let inspect =
        api.send(api.http.get(format!("{}/api/v1/token/inspect", api.emu.base_url())).bearer_auth(&api.token)).await;
    let caps = inspect.body["capabilities"].as_array().unwrap();
    let dmi = caps.iter().find_map(|c| c.get("dataModelInstancesAcl")).unwrap();
    assert_eq!(dmi["scope"], json!({"spaceIdScope": {"spaceIds": ["sp"]}}));
    assert!(caps.iter().any(|c| c.get("dataModelsAcl").is_some()));
}

#[tokio::test]
async fn request_violations_and_missing_references_use_dms_wording() {
    let api = Api::start().await;
    schema(&api).await;
    let r = api.post("/models/spaces", json!({"items": [{"space": "s2", "name": "wayTooLong".repeat(26)}]})).await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.error()["message"],
        "Request had 1 constraint violations. Please fix the request and try again. [name size must be between 0 and 255]"
    );
    let r = api
        .post("/models/containers", json!({"items": [{"space": "nowhere", "externalId": "C", "properties": {"a": {"type": {"type": "text"}}}}]}))
        .await;
    assert!(r.error()["message"].as_str().unwrap().starts_with("One or more spaces do not exist"), "{}", r.body);
    let r = api
        .post(
            "/models/instances/list",
            json!({"sources": [{"source": {"type": "view", "space": "sp", "externalId": "Nope", "version": "v9"}}]}),
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(
        r.error()["message"].as_str().unwrap().starts_with("One or more views do not exist: ")
            && r.body.to_string().contains("Nope/v9")
    );
    let r = api.post("/models/spaces/delete", json!({"items": [{"space": "never"}]})).await;
    assert_eq!((r.status, r.items().len()), (200, 0), "deleting an unknown space is not an error");
    let r = api.post("/models/spaces/delete", json!({"items": [{"space": "sp"}]})).await;
    assert_eq!(r.status, 400, "a space with containers cannot be deleted: {}", r.body);
}

#[tokio::test]
async fn per_request_limits_are_enforced() {
    let api = Api::start().await;
    schema(&api).await;
    let spaces: Vec<Value> = (0..101).map(|i| json!({"space": format!("s{i}")})).collect();
    assert_eq!(api.post("/models/spaces", json!({"items": spaces})).await.status, 400);
    let nodes: Vec<Value> = (0..1001).map(|i| node(&format!("n{i}"), json!({"name": "a"}))).collect();
    assert_eq!(upsert(&api, json!(nodes)).await.status, 400);
    let r = upsert(&api, json!([node("x", json!({"name": "a"})), node("x", json!({"name": "b"}))])).await;
    assert_eq!(r.status, 400, "the same instance twice: {}", r.body);
}
