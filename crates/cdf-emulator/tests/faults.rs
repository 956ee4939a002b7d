mod common;

use common::*;
use serde_json::json;

#[tokio::test]
async fn sequence_of_faults_then_pass_scoped_to_an_endpoint() {
    let api = Api::start().await;
    let r = api
        .admin_post(
            "/_admin/faults",
            json!({"seed": 1, "rules": [{"endpoint": "POST /assets", "sequence": [{"status": 429, "retryAfter": 2}, {"status": 503}, null]}]}),
        )
        .await;
    assert_eq!(r.status().as_u16(), 200);
    let body = json!({"items": [{"name": "a"}]});
    assert_eq!(api.post("/assets/list", json!({})).await.status, 200, "other endpoints unaffected");
    let first = api.post("/assets", body.clone()).await;
    assert_eq!(first.status, 429);
    assert_eq!(first.headers["retry-after"], "2");
    assert_eq!(first.error()["code"], 429);
    assert_eq!(api.post("/assets", body.clone()).await.status, 503);
    assert_eq!(api.post("/assets", body.clone()).await.status, 201);
    assert_eq!(api.post("/assets", body.clone()).await.status, 201, "an exhausted sequence stops firing");
    assert_eq!(api.dump("assets").await.len(), 2);
    let stats = api.admin_get("/_admin/stats").await;
    assert_eq!(stats["endpoints"]["POST /assets"]["statuses"], json!({"201": 2, "429": 1, "503": 1}));
}

#[tokio::test]
async fn probability_is_deterministic_for_a_seed() {
    async fn run(seed: u64) -> Vec<u16> {
        let api = Api::start().await;
        api.admin_post(
            "/_admin/faults",
            json!({"seed": seed, "rules": [{"probability": 0.5, "fault": {"status": 500}}]}),
        )
        .await;
        let mut out = Vec::new();
        for _ in 0..40 {
            out.push(api.post("/assets/list", json!({})).await.status);
        }
        out
    }
    let a = run(7).await;
    assert_eq!(a, run(7).await);
    let failures = a.iter().filter(|s| **s == 500).count();
    assert!((8..=32).contains(&failures), "about half fail: {failures}");
    assert_ne!(a, run(8).await);
}

#[tokio::test]
async fn dropped_connections_and_after_processing_faults() {
    let api = Api::start().await;
    api.admin_post(
        "/_admin/faults",
        json!({"rules": [{"endpoint": "POST /assets", "sequence": [{"drop": true}, {"drop": true, "afterProcessing": true}]}]}),
    )
    .await;
    let body = json!({"items": [{"name": "a"}]});
    let err = api.http.post(api.url("/assets")).bearer_auth(&api.token).json(&body).send().await;
    assert!(err.is_err(), "connection closed without a response");
    assert!(api.dump("assets").await.is_empty());
    let err = api.http.post(api.url("/assets")).bearer_auth(&api.token).json(&body).send().await;
    assert!(err.is_err());
    assert_eq!(api.dump("assets").await.len(), 1, "the write happened before the connection dropped");
    assert_eq!(
        api.http.delete(format!("{}/_admin/faults", api.emu.base_url())).send().await.unwrap().status().as_u16(),
        200
    );
    assert_eq!(api.post("/assets", body).await.status, 201);
}

#[tokio::test]
async fn latency_and_stall() {
    let api = Api::start().await;
    api.admin_post(
        "/_admin/faults",
        json!({"rules": [{"endpoint": "POST /assets/list", "sequence": [{"latencyMs": 300}, {"stallMs": 60000}]}]}),
    )
    .await;
    let t = std::time::Instant::now();
    assert_eq!(api.post("/assets/list", json!({})).await.status, 200);
    assert!(t.elapsed() >= std::time::Duration::from_millis(300));
    let stalled = api
        .http
        .post(api.url("/assets/list"))
        .bearer_auth(&api.token)
        .json(&json!({}))
        .timeout(std::time::Duration::from_millis(500))
        .send()
        .await;
    assert!(stalled.unwrap_err().is_timeout());
}

#[tokio::test]
async fn the_token_endpoint_counts_in_statistics_and_takes_faults() {
    let api = Api::start().await;
    // Api::start fetched one token.
    let stats = api.admin_get("/_admin/stats").await;
    assert_eq!(stats["endpoints"]["POST /oauth2/token"]["statuses"], json!({"200": 1}));
    api.admin_post(
        "/_admin/faults",
        json!({"seed": 1, "rules": [{"endpoint": "POST /oauth2/token", "sequence": [{"status": 503}]}]}),
    )
    .await;
    let form = [("grant_type", "client_credentials"), ("client_id", "demo-client"), ("client_secret", "demo-secret")];
    let url = api.emu.token_url();
    let first = api.send(api.http.post(&url).form(&form)).await;
    assert_eq!(first.status, 503);
    let second = api.send(api.http.post(&url).form(&form)).await;
    assert_eq!(second.status, 200);
    let stats = api.admin_get("/_admin/stats").await;
    assert_eq!(stats["endpoints"]["POST /oauth2/token"]["statuses"], json!({"200": 2, "503": 1}));
}
