mod common;

use common::*;
use serde_json::{json, Value};

#[tokio::test]
async fn rows_need_parents_unless_ensure_parent() {
    let api = Api::start().await;
    let rows = json!({"items": [{"key": "k1", "columns": {"a": 1}}]});
    let r = api.post("/raw/dbs/db1/tables/t1/rows", rows.clone()).await;
    assert_eq!(r.status, 404, "{}", r.body);
    let r = api.post("/raw/dbs/db1/tables/t1/rows?ensureParent=true", rows).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = api.get("/raw/dbs").await;
    assert_eq!(r.items()[0]["name"], "db1");
    let r = api.get("/raw/dbs/db1/tables").await;
    assert_eq!(r.items()[0]["name"], "t1");
}

#[tokio::test]
async fn insert_replaces_whole_rows_and_get_by_key() {
    let api = Api::start().await;
    api.post(
        "/raw/dbs/d/tables/t/rows?ensureParent=true",
        json!({"items": [{"key": "k", "columns": {"a": 1, "b": "x"}}]}),
    )
    .await;
    let first = api.get("/raw/dbs/d/tables/t/rows/k").await;
    assert_eq!(first.body["columns"], json!({"a": 1, "b": "x"}));
    std::thread::sleep(std::time::Duration::from_millis(5));
    // Same content: lastUpdatedTime stays.
    api.post("/raw/dbs/d/tables/t/rows", json!({"items": [{"key": "k", "columns": {"a": 1, "b": "x"}}]})).await;
    assert_eq!(api.get("/raw/dbs/d/tables/t/rows/k").await.body["lastUpdatedTime"], first.body["lastUpdatedTime"]);
    api.post("/raw/dbs/d/tables/t/rows", json!({"items": [{"key": "k", "columns": {"c": [1, 2]}}]})).await;
    let second = api.get("/raw/dbs/d/tables/t/rows/k").await;
    assert_eq!(second.body["columns"], json!({"c": [1, 2]}), "full-row replace, no merge");
    assert!(second.body["lastUpdatedTime"].as_i64() > first.body["lastUpdatedTime"].as_i64());
    let r = api.get("/raw/dbs/d/tables/t/rows/missing").await;
    assert_eq!(r.status, 404);
    // Keys and names are percent-decoded path segments.
    api.post(
        "/raw/dbs/my%20db/tables/a%2Fb/rows?ensureParent=true",
        json!({"items": [{"key": "x/y z", "columns": {}}]}),
    )
    .await;
    assert_eq!(api.get("/raw/dbs/my%20db/tables/a%2Fb/rows/x%2Fy%20z").await.body["key"], "x/y z");
}

#[tokio::test]
async fn rows_page_with_cursors_columns_and_delete() {
    let api = Api::start().await;
    let items: Vec<Value> =
        (0..120).map(|i| json!({"key": format!("k{i:03}"), "columns": {"i": i, "name": format!("n{i}")}})).collect();
    assert_eq!(api.post("/raw/dbs/d/tables/t/rows?ensureParent=true", json!({"items": items})).await.status, 200);
    let mut keys = Vec::new();
    let mut cursor = String::new();
    loop {
        let r = api.get(&format!("/raw/dbs/d/tables/t/rows?limit=50&columns=i&cursor={cursor}")).await;
        assert_eq!(r.status, 200, "{}", r.body);
        for row in r.items() {
            assert_eq!(row["columns"].as_object().unwrap().len(), 1, "only the requested column");
            keys.push(row["key"].as_str().unwrap().to_string());
        }
        match r.body.get("nextCursor").and_then(|c| c.as_str()) {
            Some(c) => cursor = c.to_string(),
            None => break,
        }
    }
    assert_eq!(keys.len(), 120);
    assert_eq!(keys[0], "k000");
    // Parallel cursors cover every row exactly once.
    let cursors = api.get("/raw/dbs/d/tables/t/cursors?numberOfCursors=3").await;
    let mut total = 0;
    for c in cursors.items() {
        let r = api.get(&format!("/raw/dbs/d/tables/t/rows?limit=10000&cursor={}", c.as_str().unwrap())).await;
        total += r.items().len();
    }
    assert_eq!(total, 120);
    let r = api.post("/raw/dbs/d/tables/t/rows/delete", json!({"items": [{"key": "k000"}, {"key": "nope"}]})).await;
    assert_eq!(r.status, 200);
    assert_eq!(api.dump("raw").await[0]["tables"][0]["rows"].as_array().unwrap().len(), 119);
}

#[tokio::test]
async fn limits_and_database_rules() {
    let api = Api::start().await;
    let too_many: Vec<Value> = (0..10_001).map(|i| json!({"key": format!("{i}"), "columns": {}})).collect();
    let r = api.post("/raw/dbs/d/tables/t/rows?ensureParent=true", json!({"items": too_many})).await;
    assert_eq!(r.status, 400);
    let r = api
        .post(
            "/raw/dbs/d/tables/t/rows?ensureParent=true",
            json!({"items": [{"key": "k".repeat(1025), "columns": {}}]}),
        )
        .await;
    assert_eq!(r.status, 400);
    let r =
        api.post("/raw/dbs/d/tables/t/rows?ensureParent=true", json!({"items": [{"key": "k", "columns": [1]}]})).await;
    assert_eq!(r.status, 400);
    assert_eq!(api.post("/raw/dbs", json!({"items": [{"name": "d"}]})).await.status, 201);
    let r = api.post("/raw/dbs", json!({"items": [{"name": "d"}]})).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.error()["duplicated"], json!([{"name": "d"}]));
    assert_eq!(api.post("/raw/dbs/d/tables", json!({"items": [{"name": "t"}]})).await.status, 201);
    let r = api.post("/raw/dbs/delete", json!({"items": [{"name": "d"}]})).await;
    assert_eq!(r.status, 400, "non-empty database needs recursive");
    assert_eq!(api.post("/raw/dbs/delete", json!({"items": [{"name": "d"}], "recursive": true})).await.status, 200);
    assert!(api.dump("raw").await.is_empty());
}

#[tokio::test]
async fn table_scope_limits_raw_access() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/emulator.example.toml")).unwrap();
    let mut api = Api::start_with(cdf_emulator::EmulatorConfig::from_toml(&text).unwrap()).await;
    api.token = fetch_token(&api.http, &api.emu.token_url(), "limited-client", "limited-secret").await;
    let row = json!({"items": [{"key": "k", "columns": {}}]});
    assert_eq!(api.post("/raw/dbs/ingest/tables/t/rows?ensureParent=true", row.clone()).await.status, 200);
    let r = api.post("/raw/dbs/other/tables/t/rows?ensureParent=true", row).await;
    assert_eq!(r.status, 403);
    assert!(r.error()["message"].as_str().unwrap().contains("rawAcl:WRITE"));
}
