//! Admin API (no auth): reset, statistics, dumps of stored objects, fault rules, clients.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use std::sync::Arc;

use crate::config::ClientConfig;
use crate::faults::FaultConfig;
use crate::Emulator;

fn bad(msg: String) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({"error": {"code": 400, "message": msg}}))).into_response()
}

/// Drops all data, statistics and fault rules; keeps clients and issued tokens.
pub async fn reset(State(emu): State<Arc<Emulator>>) -> Response {
    emu.store.reset();
    emu.stats.reset();
    emu.faults.clear();
    Json(json!({})).into_response()
}

pub async fn stats(State(emu): State<Arc<Emulator>>) -> Response {
    let mut v = serde_json::to_value(emu.stats.snapshot()).unwrap_or(Value::Null);
    v["faults_injected"] = json!(emu.faults.injected());
    Json(v).into_response()
}

pub async fn dump(State(emu): State<Arc<Emulator>>, Path((project, resource)): Path<(String, String)>) -> Response {
    let resource = resource.trim_matches('/');
    let project = emu.store.project(&project);
    let items = match resource {
        "timeseries/data" => Some(crate::resources::datapoints::dump(&project)),
        "sequences/data" => Some(crate::resources::sequences::dump_rows(&project)),
        "raw" => Some(crate::resources::raw::dump(&project)),
        other => crate::resources::dump_objects(&project, other),
    };
    match items {
        Some(items) => Json(json!({ "items": items })).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({"error": {"code": 404, "message": format!("Unknown resource: {resource}")}})),
        )
            .into_response(),
    }
}

pub async fn install_faults(State(emu): State<Arc<Emulator>>, body: Bytes) -> Response {
    let cfg: FaultConfig = match serde_json::from_slice(&body) {
        Ok(c) => c,
        Err(e) => return bad(format!("Invalid fault config: {e}")),
    };
    if let Err(e) = cfg.validate() {
        return bad(e);
    }
    let n = cfg.rules.len();
    emu.faults.install(cfg);
    Json(json!({ "rules": n })).into_response()
}

pub async fn clear_faults(State(emu): State<Arc<Emulator>>) -> Response {
    emu.faults.clear();
    Json(json!({})).into_response()
}

pub async fn list_faults(State(emu): State<Arc<Emulator>>) -> Response {
    Json(json!({ "active": emu.faults.active(), "injected": emu.faults.injected() })).into_response()
}

/// Adds or replaces a client; tokens already issued to it get the new capabilities at once.
pub async fn put_client(State(emu): State<Arc<Emulator>>, body: Bytes) -> Response {
    let client: ClientConfig = match serde_json::from_slice(&body) {
        Ok(c) => c,
        Err(e) => return bad(format!("Invalid client: {e}")),
    };
    let id = client.client_id.clone();
    emu.clients.write().insert(id.clone(), client);
    Json(json!({ "client_id": id })).into_response()
}
