//! Admin API (no auth): reset, statistics, dumps of stored objects, fault rules, clients and
//! the realism settings (profile, cost model, limits, list delay, id order).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use std::sync::Arc;

use crate::config::ClientConfig;
use crate::faults::FaultConfig;
use crate::realism::Realism;
use crate::Emulator;

fn bad(msg: String) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({"error": {"code": 400, "message": msg}}))).into_response()
}

/// Drops all data, statistics and fault rules; keeps clients, issued tokens and the realism
/// settings (cost model, limits, list delay, id order), so a benchmark's profile survives.
pub async fn reset(State(emu): State<Arc<Emulator>>) -> Response {
    emu.store.reset();
    emu.limiter.reset();
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
    let project = emu.project(&project);
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

/// `POST /_admin/realism`: `{"profile": "fast"|"cdf"}` and/or the fields of `Realism`
/// (`cost`, `limits`, `listDelayMs`, `ids`, `seed`), which override the profile's.
pub async fn put_realism(State(emu): State<Arc<Emulator>>, body: Bytes) -> Response {
    let mut v: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return bad(format!("Invalid realism settings: {e}")),
    };
    let base = match v.as_object_mut().and_then(|o| o.remove("profile")) {
        None => Realism::default(),
        Some(Value::String(p)) => match Realism::profile(&p) {
            Some(r) => r,
            None => return bad(format!("Unknown profile \"{p}\" (fast, cdf)")),
        },
        Some(_) => return bad("profile: must be a string".into()),
    };
    let mut merged = serde_json::to_value(&base).unwrap_or(Value::Null);
    if let (Some(m), Some(o)) = (merged.as_object_mut(), v.as_object()) {
        for (k, x) in o {
            m.insert(k.clone(), x.clone());
        }
    }
    match serde_json::from_value::<Realism>(merged) {
        Ok(r) => {
            emu.set_realism(r);
            Json(serde_json::to_value(&*emu.realism()).unwrap_or(Value::Null)).into_response()
        }
        Err(e) => bad(format!("Invalid realism settings: {e}")),
    }
}

pub async fn get_realism(State(emu): State<Arc<Emulator>>) -> Response {
    Json(serde_json::to_value(&*emu.realism()).unwrap_or(Value::Null)).into_response()
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
