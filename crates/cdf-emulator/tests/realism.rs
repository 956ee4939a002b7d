//! Realism settings: cost model, rate and concurrency limits, list delay, random ids.
mod common;

use cdf_emulator::realism::{Budgets, Cost, CostModel, LimitsConfig, RawLimits};
use cdf_emulator::{EmulatorConfig, IdOrder, Realism};
use common::*;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

fn zero() -> Cost {
    Cost::new(0.0, 0.0, 0.0, 0.0)
}

fn cost_model() -> CostModel {
    CostModel {
        objects_crud: Cost::new(60.0, 0.0, 1000.0, 0.0),
        objects_analytical: zero(),
        datapoints_write: Cost::new(0.0, 0.0, 0.0, 1000.0),
        datapoints_read: zero(),
        sequence_rows: zero(),
        raw_write: zero(),
        raw_read: zero(),
        token: zero(),
    }
}

fn with_realism(realism: Realism) -> EmulatorConfig {
    EmulatorConfig { realism, ..EmulatorConfig::default() }
}

fn limits(budgets: Budgets, raw: RawLimits) -> LimitsConfig {
    LimitsConfig { resources: Default::default(), default: budgets, raw, retry_after: true }
}

const OPEN_RAW: RawLimits =
    RawLimits { concurrent: 1000, insert_bytes: 1e12, retrieve_bytes: 1e12, window_secs: 600.0 };
const OPEN: Budgets = Budgets::new((1e6, 1000), (1e6, 1000), (1e6, 1000));

async fn timed(api: &Api, path: &str, body: Value) -> (Resp, Duration) {
    let t = Instant::now();
    let r = api.post(path, body).await;
    (r, t.elapsed())
}

#[tokio::test]
async fn default_is_fast_and_unlimited() {
    let api = Api::start().await;
    let t = Instant::now();
    for i in 0..200 {
        let r = api.post("/assets", json!({"items": [{"name": format!("a{i}")}]})).await;
        assert_eq!(r.status, 201, "{}", r.body);
    }
    assert!(t.elapsed() < Duration::from_secs(5), "200 creates took {:?}", t.elapsed());
    assert_eq!(api.admin_get("/_admin/realism").await, serde_json::to_value(Realism::default()).unwrap());
}

#[tokio::test]
async fn cost_model_delays_requests_by_family_items_and_bytes() {
    let api = Api::start_with(with_realism(Realism { cost: Some(cost_model()), ..Realism::default() })).await;
    // Objects CRUD: 60 ms + 1 ms per item.
    let (r, one) = timed(&api, "/assets", json!({"items": [{"name": "a"}]})).await;
    assert_eq!(r.status, 201);
    assert!(one >= Duration::from_millis(61), "{one:?}");
    let many: Vec<Value> = (0..100).map(|i| json!({"name": format!("b{i}")})).collect();
    let (r, hundred) = timed(&api, "/assets", json!({ "items": many })).await;
    assert_eq!(r.status, 201);
    assert!(hundred >= Duration::from_millis(160), "{hundred:?}");
    // Analytical: no cost in this model.
    let (_, list) = timed(&api, "/assets/list", json!({})).await;
    assert!(list < Duration::from_millis(50), "{list:?}");
    // Datapoints: 1 ms per KiB of body.
    api.create("timeseries", json!([{"externalId": "t"}])).await;
    let points: Vec<Value> = (0..4000).map(|i| json!({"timestamp": i, "value": i})).collect();
    let body = json!({"items": [{"externalId": "t", "datapoints": points}]});
    let kib = serde_json::to_vec(&body).unwrap().len() as f64 / 1024.0;
    let (r, dp) = timed(&api, "/timeseries/data", body).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(dp.as_secs_f64() * 1000.0 >= kib, "{dp:?} for {kib} KiB");
}

#[tokio::test]
async fn profile_is_set_at_run_time_and_survives_reset() {
    let api = Api::start().await;
    let r = api.admin_post("/_admin/realism", json!({"profile": "cdf", "listDelayMs": 5})).await;
    assert_eq!(r.status().as_u16(), 200);
    let set = api.admin_get("/_admin/realism").await;
    assert_eq!(set["listDelayMs"], 5);
    assert_eq!(set["limits"]["resources"]["assets"]["crudRps"], 130.0);
    assert_eq!(set["cost"], serde_json::to_value(CostModel::cdf()).unwrap());
    api.admin_post("/_admin/reset", json!({})).await;
    assert_eq!(api.admin_get("/_admin/realism").await, set);
    // The cdf profile costs tens of ms per request.
    let (r, d) = timed(&api, "/assets", json!({"items": [{"name": "a"}]})).await;
    assert_eq!(r.status, 201);
    assert!(d >= Duration::from_millis(60), "{d:?}");
    let r = api.admin_post("/_admin/realism", json!({"profile": "slow"})).await;
    assert_eq!(r.status().as_u16(), 400);
    api.admin_post("/_admin/realism", json!({"profile": "fast"})).await;
    assert_eq!(api.admin_get("/_admin/realism").await, serde_json::to_value(Realism::default()).unwrap());
}

#[tokio::test]
async fn rate_limit_answers_429_with_cdf_body_and_retry_after_per_identity() {
    let budgets = Budgets::new((1e6, 1000), (3.0, 1000), (1e6, 1000));
    let realism = Realism { limits: Some(limits(budgets, OPEN_RAW)), ..Realism::default() };
    let api = Api::start_with(with_realism(realism)).await;
    let mut statuses = Vec::new();
    let mut throttled = None;
    for i in 0..5 {
        let r = api.post("/assets", json!({"items": [{"name": format!("a{i}")}]})).await;
        statuses.push(r.status);
        if r.status == 429 {
            throttled.get_or_insert(r);
        }
    }
    assert_eq!(&statuses[..3], &[201, 201, 201], "{statuses:?}");
    assert_eq!(statuses[3], 429, "{statuses:?}");
    let r = throttled.unwrap();
    assert_eq!(r.error()["code"], 429);
    assert!(r.error()["message"].as_str().unwrap().starts_with("Too many requests"), "{}", r.body);
    assert_eq!(r.body.as_object().unwrap().len(), 1, "only the error object: {}", r.body);
    assert_eq!(r.headers.get("retry-after").unwrap(), "1");
    // Analytical requests have their own budget.
    assert_eq!(api.post("/assets/list", json!({})).await.status, 200);
    // Another identity has its own budget.
    let stats = api.admin_get("/_admin/stats").await;
    assert!(stats["endpoints"]["POST /assets"]["statuses"]["429"].as_u64().unwrap() >= 1);
    api.admin_post(
        "/_admin/clients",
        json!({"client_id": "other", "client_secret": "s", "projects": ["demo"],
               "capabilities": [{"acl": "*", "actions": ["*"]}]}),
    )
    .await;
    let other = fetch_token(&api.http, &api.emu.token_url(), "other", "s").await;
    let r =
        api.send(api.http.post(api.url("/assets")).bearer_auth(&other).json(&json!({"items": [{"name": "o"}]}))).await;
    assert_eq!(r.status, 201, "{}", r.body);
    // The bucket refills.
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(api.post("/assets", json!({"items": [{"name": "later"}]})).await.status, 201);
}

#[tokio::test]
async fn concurrency_limit_answers_429_without_retry_after() {
    let budgets = Budgets::new((1e6, 1000), (1e6, 1), (1e6, 1000));
    let cost = CostModel { objects_crud: Cost::new(300.0, 0.0, 0.0, 0.0), ..cost_model() };
    let realism = Realism { limits: Some(limits(budgets, OPEN_RAW)), cost: Some(cost), ..Realism::default() };
    let api = Api::start_with(with_realism(realism)).await;
    let a = api.post("/assets", json!({"items": [{"name": "a"}]}));
    let b = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        api.post("/assets", json!({"items": [{"name": "b"}]})).await
    };
    let (a, b) = tokio::join!(a, b);
    assert_eq!(a.status, 201);
    assert_eq!(b.status, 429, "{}", b.body);
    assert!(b.error()["message"].as_str().unwrap().starts_with("Too many concurrent requests"));
    assert!(b.headers.get("retry-after").is_none());
    // The slot is free again once the first answered.
    assert_eq!(api.post("/assets", json!({"items": [{"name": "c"}]})).await.status, 201);
}

#[tokio::test]
async fn raw_has_concurrency_and_data_rate_limits() {
    let raw = RawLimits { concurrent: 48, insert_bytes: 4000.0, retrieve_bytes: 1e12, window_secs: 600.0 };
    let api = Api::start_with(with_realism(Realism { limits: Some(limits(OPEN, raw)), ..Realism::default() })).await;
    let rows = |n: usize| -> Value {
        json!({"items": (0..n).map(|i| json!({"key": format!("k{i}"), "columns": {"v": "x".repeat(50)}})).collect::<Vec<_>>()})
    };
    let r = api.post("/raw/dbs/db/tables/t/rows?ensureParent=true", rows(20)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = api.post("/raw/dbs/db/tables/t/rows", rows(40)).await;
    assert_eq!(r.status, 429, "{}", r.body);
    assert!(r.error()["message"].as_str().unwrap().contains("insert data rate"), "{}", r.body);
    assert!(r.headers.get("retry-after").is_some());
    // Reads have their own budget.
    assert_eq!(api.get("/raw/dbs/db/tables/t/rows").await.status, 200);
}

#[tokio::test]
async fn lists_see_new_objects_only_after_the_list_delay() {
    let realism = Realism { list_delay_ms: 400, ..Realism::default() };
    let api = Api::start_with(with_realism(realism)).await;
    let a = api.create("assets", json!([{"externalId": "a", "name": "A"}])).await;
    let r = api.post("/assets/byids", json!({"items": [{"externalId": "a"}]})).await;
    assert_eq!(r.items().len(), 1, "byids is immediate");
    assert_eq!(api.get(&format!("/assets/{}", a[0]["id"])).await.status, 200, "retrieve is immediate");
    assert_eq!(api.post("/assets/list", json!({})).await.items().len(), 0, "list is not");
    assert_eq!(api.get("/assets").await.items().len(), 0);
    let r =
        api.post("/raw/dbs/db/tables/t/rows?ensureParent=true", json!({"items": [{"key": "k", "columns": {}}]})).await;
    assert_eq!(r.status, 200);
    assert_eq!(api.get("/raw/dbs/db/tables/t/rows/k").await.status, 200, "RAW GET by key is immediate");
    assert_eq!(api.get("/raw/dbs/db/tables/t/rows").await.items().len(), 0, "RAW row list is not");
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert_eq!(api.post("/assets/list", json!({})).await.items().len(), 1);
    assert_eq!(api.get("/raw/dbs/db/tables/t/rows").await.items().len(), 1);
}

async fn create_many(api: &Api, n: usize) -> Vec<i64> {
    let items: Vec<Value> = (0..n).map(|i| json!({"externalId": format!("x{i:03}"), "name": "n"})).collect();
    api.create("assets", json!(items)).await.iter().map(|a| a["id"].as_i64().unwrap()).collect()
}

#[tokio::test]
async fn random_ids_are_unpredictable_reproducible_and_below_2_pow_53() {
    let realism = Realism { ids: IdOrder::Random, seed: 7, ..Realism::default() };
    let api = Api::start_with(with_realism(realism.clone())).await;
    let ids = create_many(&api, 30).await;
    assert!(ids.iter().all(|id| *id >= 1 && *id < (1i64 << 53)));
    let mut sorted = ids.clone();
    sorted.sort();
    assert_ne!(ids, sorted, "ids do not grow with creation");
    // The same seed gives the same ids; another seed others.
    let again = Api::start_with(with_realism(realism.clone())).await;
    assert_eq!(create_many(&again, 30).await, ids);
    let other = Api::start_with(with_realism(Realism { seed: 8, ..realism })).await;
    assert_ne!(create_many(&other, 30).await, ids);
    // Lists are not in creation order, but cursors still see every object once.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut body = json!({"limit": 7});
        if let Some(c) = &cursor {
            body["cursor"] = json!(c);
        }
        let r = api.post("/assets/list", body).await;
        seen.extend(r.items().iter().map(|a| a["externalId"].as_str().unwrap().to_string()));
        match r.body["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    let created: Vec<String> = (0..30).map(|i| format!("x{i:03}")).collect();
    assert_ne!(seen, created);
    seen.sort();
    assert_eq!(seen, created);
}

#[tokio::test]
async fn sequential_ids_are_the_default() {
    let api = Api::start().await;
    assert_eq!(create_many(&api, 2).await, vec![1_000_000_000_001, 1_000_000_000_002]);
}
