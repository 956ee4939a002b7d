mod common;

use cdf_emulator::{CapabilityConfig, ClientConfig, EmulatorConfig};
use common::*;
use serde_json::{json, Value};

fn limited_config() -> EmulatorConfig {
    let mut cfg = EmulatorConfig::default();
    cfg.clients.push(ClientConfig {
        client_id: "reader".into(),
        client_secret: "reader-secret".into(),
        projects: vec!["demo".into()],
        capabilities: vec![CapabilityConfig {
            acl: "assetsAcl".into(),
            actions: vec!["READ".into()],
            scope: json!({"all": {}}),
        }],
    });
    cfg
}

#[tokio::test]
async fn token_endpoint_issues_bearer_tokens() {
    let api = Api::start().await;
    let resp = api
        .http
        .post(api.emu.token_url())
        .form(&[("grant_type", "client_credentials"), ("client_id", "demo-client"), ("client_secret", "demo-secret")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["token_type"], "Bearer");
    assert_eq!(v["expires_in"], 3600);
    assert!(v["access_token"].as_str().unwrap().len() > 20);
}

#[tokio::test]
async fn wrong_secret_is_invalid_client() {
    let api = Api::start().await;
    let resp = api
        .http
        .post(api.emu.token_url())
        .form(&[("grant_type", "client_credentials"), ("client_id", "demo-client"), ("client_secret", "wrong")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"], "invalid_client");
    assert!(v["error_description"].as_str().unwrap().contains("secret"));
}

#[tokio::test]
async fn missing_and_bad_tokens_are_401() {
    let api = Api::start().await;
    let r = api.send(api.http.post(api.url("/assets/list")).json(&json!({}))).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.error()["code"], 401);
    let r = api.send(api.http.post(api.url("/assets/list")).bearer_auth("not-a-token").json(&json!({}))).await;
    assert_eq!(r.status, 401);
    assert!(r.error()["message"].as_str().unwrap().contains("invalid token"));
}

#[tokio::test]
async fn expired_tokens_are_401() {
    let cfg = EmulatorConfig { token_ttl_secs: 1, ..EmulatorConfig::default() };
    let api = Api::start_with(cfg).await;
    assert_eq!(api.post("/assets/list", json!({})).await.status, 200);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let r = api.post("/assets/list", json!({})).await;
    assert_eq!(r.status, 401);
    assert!(r.error()["message"].as_str().unwrap().contains("expired"));
}

#[tokio::test]
async fn missing_capability_is_403_naming_it() {
    let mut api = Api::start_with(limited_config()).await;
    api.token = fetch_token(&api.http, &api.emu.token_url(), "reader", "reader-secret").await;
    assert_eq!(api.post("/assets/list", json!({})).await.status, 200);
    let r = api.post("/assets", json!({"items": [{"name": "a"}]})).await;
    assert_eq!(r.status, 403);
    assert!(r.error()["message"].as_str().unwrap().contains("assetsAcl:WRITE"), "{}", r.body);
    let r = api.post("/events/list", json!({})).await;
    assert_eq!(r.status, 403);
    assert!(r.error()["message"].as_str().unwrap().contains("eventsAcl:READ"));
}

#[tokio::test]
async fn other_projects_are_401_unauthorized() {
    let mut api = Api::start().await;
    api.project = "someone-else".into();
    let r = api.post("/assets/list", json!({})).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.body, json!({"error": {"code": 401, "message": "Unauthorized"}}));
}

#[tokio::test]
async fn replacing_a_client_revokes_capabilities_of_live_tokens() {
    let api = Api::start().await;
    assert_eq!(api.post("/assets", json!({"items": [{"name": "a"}]})).await.status, 201);
    let resp = api
        .admin_post(
            "/_admin/clients",
            json!({"client_id": "demo-client", "client_secret": "demo-secret", "projects": ["demo"],
                   "capabilities": [{"acl": "assetsAcl", "actions": ["READ"]}]}),
        )
        .await;
    assert_eq!(resp.status().as_u16(), 200);
    let r = api.post("/assets", json!({"items": [{"name": "b"}]})).await;
    assert_eq!(r.status, 403);
    assert_eq!(api.post("/assets/list", json!({})).await.status, 200);
}

#[tokio::test]
async fn token_inspect_lists_projects_and_capabilities() {
    let api = Api::start_with(limited_config()).await;
    let token = fetch_token(&api.http, &api.emu.token_url(), "reader", "reader-secret").await;
    let r = api.send(api.http.get(format!("{}/api/v1/token/inspect", api.emu.base_url())).bearer_auth(token)).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["subject"], "reader");
    assert_eq!(r.body["projects"][0]["projectUrlName"], "demo");
    assert_eq!(
        r.body["capabilities"],
        json!([{"assetsAcl": {"actions": ["READ"], "scope": {"all": {}}}, "projectScope": {"projects": ["demo"]}}])
    );
}

#[tokio::test]
async fn every_response_has_a_request_id() {
    let api = Api::start().await;
    let ok = api.post("/assets/list", json!({})).await;
    let unknown = api.post("/no-such-resource", json!({})).await;
    let unauth = api.send(api.http.get(api.url("/assets"))).await;
    let admin = api.http.get(format!("{}/_admin/stats", api.emu.base_url())).send().await.unwrap();
    assert_eq!(unknown.status, 404);
    let ids: Vec<String> = [&ok.headers, &unknown.headers, &unauth.headers, admin.headers()]
        .iter()
        .map(|h| h.get("x-request-id").expect("x-request-id").to_str().unwrap().to_string())
        .collect();
    let unique: std::collections::HashSet<_> = ids.iter().collect();
    assert_eq!(unique.len(), 4, "{ids:?}");
}

#[tokio::test]
async fn config_file_parses_the_example() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/emulator.example.toml")).unwrap();
    let cfg = EmulatorConfig::from_toml(&text).unwrap();
    let demo = cfg.clients.iter().find(|c| c.client_id == "demo-client").unwrap();
    assert_eq!(demo.projects, vec!["demo".to_string()]);
    assert!(demo.grant("rawAcl", "LIST").is_some());
    assert_eq!(demo, &EmulatorConfig::default().clients[0]);
    assert!(cfg.clients.len() >= 2);
}
