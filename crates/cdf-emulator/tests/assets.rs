mod common;

use common::*;
use serde_json::{json, Value};

#[tokio::test]
async fn create_resolves_parents_and_root_ids() {
    let api = Api::start().await;
    let created = api
        .create(
            "assets",
            json!([
                {"externalId": "child", "name": "Child", "parentExternalId": "root"},
                {"externalId": "root", "name": "Root", "metadata": {"k": "v"}},
            ]),
        )
        .await;
    let (child, root) = (&created[0], &created[1]);
    assert_eq!(child["parentId"], root["id"]);
    assert_eq!(child["parentExternalId"], "root");
    assert_eq!(child["rootId"], root["id"]);
    assert_eq!(root["rootId"], root["id"]);
    assert!(root.get("parentId").is_none());
    assert!(child["createdTime"].as_i64().unwrap() > 1_700_000_000_000);
    assert_eq!(child["createdTime"], child["lastUpdatedTime"]);

    let grandchild = api.create("assets", json!([{"name": "GC", "parentId": child["id"]}])).await;
    assert_eq!(grandchild[0]["rootId"], root["id"]);
    assert_eq!(grandchild[0]["parentExternalId"], "child");
    assert_eq!(api.dump("assets").await.len(), 3);
}

#[tokio::test]
async fn duplicate_external_ids_are_409_listing_every_duplicate() {
    let api = Api::start().await;
    api.create("assets", json!([{"externalId": "a", "name": "A"}, {"externalId": "b", "name": "B"}])).await;
    let r = api
        .post(
            "/assets",
            json!({"items": [
                {"externalId": "a", "name": "A"}, {"externalId": "new", "name": "N"},
                {"externalId": "twice", "name": "T"}, {"externalId": "twice", "name": "T"},
                {"externalId": "b", "name": "B"}]}),
        )
        .await;
    assert_eq!(r.status, 409);
    let mut dups: Vec<String> = r.error()["duplicated"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["externalId"].as_str().unwrap().to_string())
        .collect();
    dups.sort();
    assert_eq!(dups, ["a", "b", "twice"]);
    assert_eq!(api.dump("assets").await.len(), 2, "nothing of a rejected request is stored");
}

#[tokio::test]
async fn unknown_parent_is_400_missing() {
    let api = Api::start().await;
    let r = api
        .post("/assets", json!({"items": [{"name": "x", "parentExternalId": "ghost"}, {"name": "y", "parentId": 42}]}))
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.error()["missing"], json!([{"externalId": "ghost"}, {"id": 42}]));
}

#[tokio::test]
async fn create_validates_like_cdf() {
    let api = Api::start().await;
    let cases: Vec<(Value, &str)> = vec![
        (json!({"items": []}), "items"),
        (
            json!({"items": (0..1001).map(|i| json!({"name": format!("a{i}")})).collect::<Vec<_>>()}),
            "between 1 and 1000",
        ),
        (json!({"items": [{"externalId": "no-name"}]}), "name"),
        (json!({"items": [{"name": "n".repeat(141)}]}), "name"),
        (json!({"items": [{"name": "ok", "externalId": "x".repeat(256)}]}), "externalId"),
        (json!({"items": [{"name": "ok", "description": "d".repeat(501)}]}), "description"),
        (json!({"items": [{"name": "ok", "source": "s".repeat(129)}]}), "source"),
        (json!({"items": [{"name": "ok", "nmae": "typo"}]}), "nmae"),
        (json!({"items": [{"name": "ok", "metadata": {"k".repeat(129): "v"}}]}), "metadata"),
        (json!({"items": [{"name": "ok", "metadata": {"k": "v".repeat(10241)}}]}), "metadata"),
        (json!({"items": [{"name": "ok", "metadata": {"k": 1}}]}), "metadata"),
        (json!({"items": [{"name": "ok", "parentId": 1, "parentExternalId": "p"}]}), "parent"),
        (json!({"itemz": []}), "itemz"),
    ];
    for (body, needle) in cases {
        let r = api.post("/assets", body).await;
        assert_eq!(r.status, 400, "expected 400 mentioning {needle}: {}", r.body);
        let msg = r.error()["message"].as_str().unwrap();
        assert!(msg.contains(needle), "message {msg:?} should mention {needle}");
    }
    let too_many_pairs: serde_json::Map<String, Value> = (0..257).map(|i| (format!("k{i}"), json!("v"))).collect();
    let r = api.post("/assets", json!({"items": [{"name": "ok", "metadata": too_many_pairs}]})).await;
    assert_eq!(r.status, 400);
    assert!(api.dump("assets").await.is_empty());
}

#[tokio::test]
async fn list_pages_with_cursor_and_filters() {
    let api = Api::start().await;
    let root = api.create("assets", json!([{"externalId": "root", "name": "Root"}])).await;
    let items: Vec<Value> = (0..25).map(|i| json!({"externalId": format!("pump-{i:02}"), "name": "Pump", "parentExternalId": "root", "source": if i % 2 == 0 {"even"} else {"odd"}})).collect();
    api.create("assets", Value::Array(items)).await;
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut body = json!({"limit": 10, "filter": {"externalIdPrefix": "pump-"}});
        if let Some(c) = &cursor {
            body["cursor"] = json!(c);
        }
        let r = api.post("/assets/list", body).await;
        assert_eq!(r.status, 200, "{}", r.body);
        pages += 1;
        seen.extend(r.items().iter().map(|a| a["externalId"].as_str().unwrap().to_string()));
        match r.body.get("nextCursor").and_then(|c| c.as_str()) {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, (0..25).map(|i| format!("pump-{i:02}")).collect::<Vec<_>>());

    let r = api
        .post("/assets/list", json!({"filter": {"source": "odd", "parentIds": [root[0]["id"]]}, "limit": 1000}))
        .await;
    assert_eq!(r.items().len(), 12);
    let r = api.post("/assets/list", json!({"filter": {"root": true}})).await;
    assert_eq!(r.items().len(), 1);
    let r = api.post("/assets/list", json!({"limit": 1001})).await;
    assert_eq!(r.status, 400);
    let r = api.post("/assets/list", json!({"filter": {"colour": "red"}})).await;
    assert_eq!(r.status, 400);
    let r = api.get("/assets?limit=5").await;
    assert_eq!(r.items().len(), 5);
    assert!(r.body["nextCursor"].is_string());
}

#[tokio::test]
async fn byids_reports_missing_unless_ignored() {
    let api = Api::start().await;
    let a = api.create("assets", json!([{"externalId": "a", "name": "A"}])).await;
    let r = api.post("/assets/byids", json!({"items": [{"externalId": "a"}, {"id": a[0]["id"]}]})).await;
    assert_eq!(r.status, 400, "the same asset twice is a duplicate: {}", r.body);
    let r = api.post("/assets/byids", json!({"items": [{"externalId": "a"}, {"externalId": "zz"}, {"id": 7}]})).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.error()["missing"], json!([{"externalId": "zz"}, {"id": 7}]));
    let r = api
        .post("/assets/byids", json!({"items": [{"externalId": "a"}, {"externalId": "zz"}], "ignoreUnknownIds": true}))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.items().len(), 1);
    assert_eq!(r.items()[0]["id"], a[0]["id"]);
    let r = api.get(&format!("/assets/{}", a[0]["id"])).await;
    assert_eq!(r.body["externalId"], "a");
}

#[tokio::test]
async fn update_applies_set_setnull_add_remove() {
    let api = Api::start().await;
    let a = api
        .create("assets", json!([{"externalId": "a", "name": "A", "description": "d", "metadata": {"x": "1", "y": "2"}, "labels": [{"externalId": "l1"}]}]))
        .await;
    let r = api
        .post(
            "/assets/update",
            json!({"items": [{"externalId": "a", "update": {
                "name": {"set": "A2"}, "description": {"setNull": true},
                "metadata": {"add": {"z": "3"}, "remove": ["x"]},
                "labels": {"add": [{"externalId": "l2"}], "remove": [{"externalId": "l1"}]}}}]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let u = &r.items()[0];
    assert_eq!(u["name"], "A2");
    assert!(u.get("description").is_none());
    assert_eq!(u["metadata"], json!({"y": "2", "z": "3"}));
    assert_eq!(u["labels"], json!([{"externalId": "l2"}]));
    assert!(u["lastUpdatedTime"].as_i64() >= a[0]["lastUpdatedTime"].as_i64());
    assert_eq!(api.dump("assets").await[0]["name"], "A2");

    let r =
        api.post("/assets/update", json!({"items": [{"id": a[0]["id"], "update": {"name": {"setNull": true}}}]})).await;
    assert_eq!(r.status, 400, "name is not nullable");
    let r = api
        .post(
            "/assets/update",
            json!({"items": [{"externalId": "ghost", "update": {"name": {"set": "x"}}}, {"id": 99, "update": {}}]}),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.error()["missing"], json!([{"externalId": "ghost"}, {"id": 99}]));
    api.create("assets", json!([{"externalId": "b", "name": "B"}])).await;
    let r = api
        .post("/assets/update", json!({"items": [{"externalId": "b", "update": {"externalId": {"set": "a"}}}]}))
        .await;
    assert_eq!(r.status, 409);
    assert_eq!(r.error()["duplicated"], json!([{"externalId": "a"}]));
}

#[tokio::test]
async fn delete_refuses_children_unless_recursive() {
    let api = Api::start().await;
    api.create("assets", json!([{"externalId": "r", "name": "R"}, {"externalId": "c", "name": "C", "parentExternalId": "r"}, {"externalId": "other", "name": "O"}])).await;
    api.create("assets", json!([{"externalId": "gc", "name": "GC", "parentExternalId": "c"}])).await;
    let r = api.post("/assets/delete", json!({"items": [{"externalId": "r"}]})).await;
    assert_eq!(r.status, 400);
    assert!(r.error()["message"].as_str().unwrap().contains("recursive"));
    let r = api.post("/assets/delete", json!({"items": [{"externalId": "ghost"}]})).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.error()["missing"], json!([{"externalId": "ghost"}]));
    let r = api.post("/assets/delete", json!({"items": [{"externalId": "ghost"}], "ignoreUnknownIds": true})).await;
    assert_eq!(r.status, 200);
    let r = api.post("/assets/delete", json!({"items": [{"externalId": "r"}], "recursive": true})).await;
    assert_eq!(r.status, 200);
    let left: Vec<Value> = api.dump("assets").await.iter().map(|a| a["externalId"].clone()).collect();
    assert_eq!(left, vec![json!("other")]);
}

#[tokio::test]
async fn stats_count_requests_items_statuses_and_reset_clears_them() {
    let api = Api::start().await;
    api.create("assets", json!([{"name": "a"}, {"name": "b"}, {"name": "c"}])).await;
    api.post("/assets", json!({"items": [{"nme": "bad"}]})).await;
    let stats = api.admin_get("/_admin/stats").await;
    let e = &stats["endpoints"]["POST /assets"];
    assert_eq!(e["requests"], 2);
    assert_eq!(e["items"], 3);
    assert_eq!(e["max_items"], 3);
    assert_eq!(e["statuses"], json!({"201": 1, "400": 1}));
    assert!(e["bytes_in"].as_u64().unwrap() > 40);
    assert_eq!(stats["total_requests"], 3, "the token request of Api::start counts too");

    let resp = api.admin_post("/_admin/reset", json!({})).await;
    assert_eq!(resp.status().as_u16(), 200);
    assert!(api.dump("assets").await.is_empty());
    assert_eq!(api.admin_get("/_admin/stats").await["total_requests"], 0);
    // Clients and their tokens survive a reset.
    assert_eq!(api.post("/assets/list", json!({})).await.status, 200);
}

#[tokio::test]
async fn aggregate_counts_what_the_filter_matches() {
    let api = Api::start().await;
    api.create("assets", json!([{"externalId": "r", "name": "root"}, {"externalId": "c1", "parentExternalId": "r", "name": "c"}, {"externalId": "c2", "parentExternalId": "r", "name": "c"}]))
        .await;
    let r = api.post("/assets/aggregate", json!({})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.items(), &vec![json!({"count": 3})]);
    let r = api.post("/assets/aggregate", json!({"filter": {"name": "c"}, "aggregate": "count"})).await;
    assert_eq!(r.items(), &vec![json!({"count": 2})]);
    let r = api.post("/events/aggregate", json!({})).await;
    assert_eq!(r.items(), &vec![json!({"count": 0})]);
    let r = api.post("/assets/aggregate", json!({"aggregate": "uniqueValues"})).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(api.post("/labels/aggregate", json!({})).await.status, 404);
}
