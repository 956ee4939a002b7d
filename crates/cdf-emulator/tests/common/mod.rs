//! Helpers shared by the integration tests: a running emulator and a small JSON client.
#![allow(dead_code)]

use cdf_emulator::{spawn_background, EmulatorConfig, RunningEmulator};
use serde_json::{json, Value};

pub struct Api {
    pub emu: RunningEmulator,
    pub http: reqwest::Client,
    pub token: String,
    pub project: String,
}

pub struct Resp {
    pub status: u16,
    pub body: Value,
    pub headers: reqwest::header::HeaderMap,
}

impl Resp {
    /// The `error` object of a CDF error body (panics with the body when absent).
    pub fn error(&self) -> &Value {
        self.body.get("error").unwrap_or_else(|| panic!("no error in {}", self.body))
    }
    pub fn items(&self) -> &Vec<Value> {
        self.body["items"].as_array().unwrap_or_else(|| panic!("no items in {}", self.body))
    }
}

impl Api {
    pub async fn start() -> Api {
        Self::start_with(EmulatorConfig::default()).await
    }

    pub async fn start_with(config: EmulatorConfig) -> Api {
        let emu = spawn_background(config).expect("emulator starts");
        let http = reqwest::Client::new();
        let token = fetch_token(&http, &emu.token_url(), "demo-client", "demo-secret").await;
        Api { emu, http, token, project: "demo".into() }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}/api/v1/projects/{}{}", self.emu.base_url(), self.project, path)
    }

    pub async fn post(&self, path: &str, body: Value) -> Resp {
        self.send(self.http.post(self.url(path)).bearer_auth(&self.token).json(&body)).await
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.send(self.http.get(self.url(path)).bearer_auth(&self.token)).await
    }

    pub async fn send(&self, req: reqwest::RequestBuilder) -> Resp {
        let resp = req.send().await.expect("request reaches the emulator");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.expect("body");
        let body =
            if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
        Resp { status, body, headers }
    }

    pub async fn admin_get(&self, path: &str) -> Value {
        self.http.get(format!("{}{}", self.emu.base_url(), path)).send().await.unwrap().json().await.unwrap()
    }

    pub async fn admin_post(&self, path: &str, body: Value) -> reqwest::Response {
        self.http.post(format!("{}{}", self.emu.base_url(), path)).json(&body).send().await.unwrap()
    }

    pub async fn dump(&self, resource: &str) -> Vec<Value> {
        let v = self.admin_get(&format!("/_admin/dump/{}/{}", self.project, resource)).await;
        v["items"].as_array().cloned().unwrap_or_else(|| panic!("no items in dump: {v}"))
    }

    /// Creates items and returns them, asserting 201.
    pub async fn create(&self, resource: &str, items: Value) -> Vec<Value> {
        let r = self.post(&format!("/{resource}"), json!({ "items": items })).await;
        assert_eq!(r.status, 201, "create {resource}: {}", r.body);
        r.items().clone()
    }
}

pub async fn fetch_token(http: &reqwest::Client, token_url: &str, id: &str, secret: &str) -> String {
    let resp = http
        .post(token_url)
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", id),
            ("client_secret", secret),
            ("scope", "https://api.cognitedata.com/.default"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let v: Value = resp.json().await.unwrap();
    v["access_token"].as_str().unwrap().to_string()
}
