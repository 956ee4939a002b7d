//! Shared by the integration tests: an in-process emulator, a session against it with fast
//! retries, and the emulator's admin API (faults, statistics, dumps).
#![allow(dead_code)]

use std::future::Future;
use std::time::Duration;

use cdf_client::session::RetryPolicy;
use cdf_client::{reqwest, Credentials, Runtime, ServerConfig, Session};
use cdf_emulator::realism::{IdOrder, Realism};
use cdf_emulator::{spawn_background, EmulatorConfig, RunningEmulator};
use serde_json::{json, Value as Json};

pub struct Env {
    pub emu: RunningEmulator,
    pub rt: Runtime,
    admin: reqwest::Client,
}

/// Retries as the default policy does them, but with millisecond backoff.
pub fn fast_retries() -> RetryPolicy {
    RetryPolicy {
        max_retries: 6,
        initial_backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(50),
        request_timeout: Duration::from_secs(10),
        retry_deadline: Duration::from_secs(20),
    }
}

pub fn server_config(base_url: &str, token_url: &str) -> ServerConfig {
    ServerConfig {
        base_url: base_url.into(),
        project: "demo".into(),
        token_url: token_url.into(),
        scopes: vec!["https://api.cognitedata.com/.default".into()],
        audience: None,
        ca_file: None,
    }
}

impl Env {
    pub fn start() -> Env {
        Env {
            // Random ids, as CDF's: nothing here may rely on creation order.
            emu: spawn_background(EmulatorConfig {
                realism: Realism { ids: IdOrder::Random, seed: 20261202, ..Realism::default() },
                ..EmulatorConfig::default()
            })
            .expect("emulator starts"),
            rt: Runtime::new().expect("runtime"),
            admin: reqwest::Client::new(),
        }
    }

    pub fn session_with(&self, client_id: &str, client_secret: &str) -> Session {
        let mut s = Session::new(
            server_config(&self.emu.base_url(), &self.emu.token_url()),
            Credentials { client_id: client_id.into(), client_secret: client_secret.into() },
            cdf_client::new_http_client(None).expect("http client"),
        );
        s.retry = fast_retries();
        s
    }

    pub fn session(&self) -> Session {
        self.session_with("demo-client", "demo-secret")
    }

    /// Runs a future the way the backend does: one `block_on` per call, nothing in between.
    pub fn run<F: Future>(&self, fut: F) -> F::Output {
        self.rt.block_on(fut, &|| {})
    }

    fn admin_url(&self, path: &str) -> String {
        format!("{}{}", self.emu.base_url(), path)
    }

    pub fn faults(&self, rules: Json) {
        let resp = self
            .run(self.admin.post(self.admin_url("/_admin/faults")).json(&json!({ "seed": 1, "rules": rules })).send())
            .expect("admin reachable");
        assert!(resp.status().is_success(), "fault rules refused: {}", resp.status());
    }

    pub fn clear_faults(&self) {
        self.run(self.admin.delete(self.admin_url("/_admin/faults")).send()).expect("admin reachable");
    }

    pub fn stats(&self) -> Json {
        self.run(async { self.admin.get(self.admin_url("/_admin/stats")).send().await?.json::<Json>().await })
            .expect("stats")
    }

    /// `{"requests":N,"items":N,"statuses":{"201":N}}` of one endpoint key (zeros when unused).
    pub fn endpoint(&self, key: &str) -> Json {
        self.stats()["endpoints"].get(key).cloned().unwrap_or_else(|| json!({"requests": 0, "statuses": {}}))
    }

    /// The status counts of one endpoint, e.g. `{"201": 1, "409": 1}`.
    pub fn statuses(&self, key: &str) -> Json {
        self.endpoint(key)["statuses"].clone()
    }

    pub fn requests(&self, key: &str) -> u64 {
        self.endpoint(key)["requests"].as_u64().unwrap_or(0)
    }

    pub fn faults_injected(&self) -> u64 {
        self.stats()["faults_injected"].as_u64().unwrap_or(0)
    }

    pub fn dump(&self, resource: &str) -> Vec<Json> {
        let v: Json = self
            .run(async {
                self.admin.get(self.admin_url(&format!("/_admin/dump/demo/{resource}"))).send().await?.json().await
            })
            .expect("dump");
        v["items"].as_array().cloned().unwrap_or_else(|| panic!("no items in dump: {v}"))
    }

    /// The dumped object with this external id (order and ids of the dump are not relied on).
    pub fn by_external_id(&self, resource: &str, xid: &str) -> Vec<Json> {
        self.dump(resource).into_iter().filter(|o| o["externalId"] == xid).collect()
    }
}

pub fn obj(v: Json) -> serde_json::Map<String, Json> {
    match v {
        Json::Object(m) => m,
        other => panic!("not an object: {other}"),
    }
}
