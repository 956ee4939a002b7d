//! The router and the project-API entry point: fault injection, authentication,
//! authorisation, rate and concurrency limits, body decoding, dispatch, the cost model's delay
//! and statistics for every `/api/v1/projects/...` call.

use axum::body::{to_bytes, Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{any, get, post, put};
use axum::Router;
use std::io::Read;
use std::sync::Arc;

use crate::errors::ApiError;
use crate::extensions::{BaseUrl, ConnControl};
use crate::faults::Fault;
use crate::realism::{classify, EndpointClass};
use crate::resources::{find_route, run, Ctx, Reply};
use crate::{admin, auth, Emulator};

/// Largest request body accepted (after which CDF too would refuse).
const MAX_BODY_BYTES: usize = 256 * 1024 * 1024;

pub fn router(emu: Arc<Emulator>) -> Router {
    Router::new()
        .route("/oauth2/token", post(token_route))
        .route("/api/v1/token/inspect", get(inspect_route))
        .route("/api/v1/projects/{*rest}", any(handle))
        .route("/_admin/reset", post(admin::reset))
        .route("/_admin/stats", get(admin::stats))
        .route("/_admin/dump/{project}/{*resource}", get(admin::dump))
        .route("/_admin/faults", post(admin::install_faults).delete(admin::clear_faults).get(admin::list_faults))
        .route("/_admin/clients", post(admin::put_client))
        .route("/_admin/realism", post(admin::put_realism).get(admin::get_realism))
        .route("/_files/upload/{project}/{id}", put(crate::resources::files::upload))
        .fallback(not_found)
        .with_state(emu)
}

async fn not_found(req: Request) -> Response {
    let e = ApiError::not_found(format!("Unknown path: {} {}", req.method(), req.uri().path()));
    error_response(&e)
}

pub fn error_response(e: &ApiError) -> Response {
    let mut resp = json_response(e.status, serde_json::to_vec(&e.body()).unwrap_or_default(), "application/json");
    for (k, v) in &e.headers {
        if let Ok(v) = v.parse() {
            resp.headers_mut().insert(*k, v);
        }
    }
    resp
}

pub fn json_response(status: u16, body: Vec<u8>, content_type: &'static str) -> Response {
    Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header("content-type", content_type)
        .body(Body::from(body))
        .expect("static response parts are valid")
}

/// Percent-decodes one path segment (RAW database and table names and row keys are encoded).
pub fn percent_decode(seg: &str) -> String {
    if !seg.contains('%') {
        return seg.to_string();
    }
    let b = seg.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&seg[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn fault_error(f: &Fault) -> ApiError {
    let status = f.status.unwrap_or(503);
    let default = match status {
        429 => "Too many requests (injected by the emulator)",
        500 => "Internal server error (injected by the emulator)",
        502 => "Bad gateway (injected by the emulator)",
        503 => "Service unavailable (injected by the emulator)",
        _ => "Injected fault",
    };
    let mut e = ApiError::new(status, f.message.clone().unwrap_or_else(|| default.to_string()));
    if let Some(s) = f.retry_after {
        e.headers.push(("retry-after", s.to_string()));
    }
    e
}

/// What a fault does to the request at one point of its handling.
enum FaultAction {
    Continue,
    Answer(ApiError),
    /// The connection is closed; the returned response is never sent.
    Dropped,
}

async fn apply_faults(faults: &[Fault], after: bool) -> FaultAction {
    for f in faults.iter().filter(|f| f.after_processing == after) {
        if let Some(ms) = f.stall_ms {
            tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
            return FaultAction::Dropped;
        }
        if f.drop {
            return FaultAction::Dropped;
        }
        if f.status.is_some() {
            return FaultAction::Answer(fault_error(f));
        }
    }
    FaultAction::Continue
}

/// Latency, then the faults that answer instead of the endpoint; `Some` is the response to send.
async fn faults_before(emu: &Emulator, key: &str, faults: &[Fault], ctl: Option<ConnControl>) -> Option<Response> {
    for f in faults {
        if let Some(ms) = f.latency_ms {
            tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
        }
    }
    match apply_faults(faults, false).await {
        FaultAction::Continue => None,
        FaultAction::Answer(e) => {
            emu.stats.record(key, 0, 0, e.status);
            Some(error_response(&e))
        }
        FaultAction::Dropped => {
            emu.stats.record(key, 0, 0, 0);
            Some(drop_connection(ctl).await)
        }
    }
}

/// `POST /oauth2/token` and `GET /api/v1/token/inspect` live outside the project API, but count
/// in the statistics and honour fault rules like every other endpoint (keys as named here).
async fn token_route(State(emu): State<Arc<Emulator>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let key = "POST /oauth2/token";
    let faults = emu.faults.pick(key);
    if let Some(faulted) = faults_before(&emu, key, &faults, parts.extensions.get::<ConnControl>().cloned()).await {
        return faulted;
    }
    let raw = to_bytes(body, 1 << 20).await.unwrap_or_default();
    let bytes_in = raw.len() as u64;
    let started = std::time::Instant::now();
    let resp = auth::token_endpoint(State(emu.clone()), parts.headers, raw).await;
    cost_delay(&emu, &classify(key), 0, bytes_in, started).await;
    emu.stats.record(key, 0, bytes_in, resp.status().as_u16());
    resp
}

async fn inspect_route(State(emu): State<Arc<Emulator>>, req: Request) -> Response {
    let (parts, _) = req.into_parts();
    let key = "GET /token/inspect";
    let faults = emu.faults.pick(key);
    if let Some(faulted) = faults_before(&emu, key, &faults, parts.extensions.get::<ConnControl>().cloned()).await {
        return faulted;
    }
    auth::inspect(State(emu), parts.headers).await
}

/// Closes the connection without answering: the connection task drops this handler while it
/// waits here, so no response is ever written. Statistics record status 0.
async fn drop_connection(ctl: Option<ConnControl>) -> Response {
    match ctl {
        Some(c) => {
            c.drop_now();
            std::future::pending().await
        }
        None => error_response(&ApiError::new(503, "connection dropped")),
    }
}

/// Sleeps until the cost model's time for this request has passed since `started` (the time
/// the emulator itself took counts towards it). No cost model: returns at once.
async fn cost_delay(emu: &Emulator, class: &EndpointClass, items: u64, bytes_in: u64, started: std::time::Instant) {
    let Some(model) = emu.realism().cost.clone() else { return };
    let want = model.for_class(class).delay(items, bytes_in, emu.jitter_draw());
    if let Some(rest) = want.checked_sub(started.elapsed()) {
        tokio::time::sleep(rest).await;
    }
}

fn decode_body(headers: &HeaderMap, raw: Bytes) -> Result<Vec<u8>, ApiError> {
    let gzip =
        headers.get("content-encoding").and_then(|v| v.to_str().ok()).is_some_and(|v| v.eq_ignore_ascii_case("gzip"));
    if !gzip {
        return Ok(raw.to_vec());
    }
    let mut out = Vec::with_capacity(raw.len() * 8);
    flate2::read::GzDecoder::new(&raw[..])
        .read_to_end(&mut out)
        .map_err(|e| ApiError::bad_request(format!("Invalid gzip body: {e}")))?;
    Ok(out)
}

pub async fn handle(State(emu): State<Arc<Emulator>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let method = parts.method.as_str().to_string();
    let path = parts.uri.path().to_string();
    let rest = path.strip_prefix("/api/v1/projects/").unwrap_or("");
    let mut segs: Vec<String> = rest.split('/').map(percent_decode).collect();
    if segs.last().is_some_and(|s| s.is_empty()) {
        segs.pop();
    }
    if segs.is_empty() || segs[0].is_empty() {
        return error_response(&ApiError::not_found("Project not given"));
    }
    let project_name = segs.remove(0);
    let Some(route) = find_route(&method, &segs) else {
        let e = ApiError::not_found(format!("Unknown path: {method} /{}", segs.join("/")));
        emu.stats.record(&format!("{method} (unknown path)"), 0, 0, 404);
        return error_response(&e);
    };
    let ctl = parts.extensions.get::<ConnControl>().cloned();
    let _in_flight = emu.stats.enter(&route.key);
    let faults = emu.faults.pick(&route.key);
    if let Some(faulted) = faults_before(&emu, &route.key, &faults, ctl.clone()).await {
        return faulted;
    }

    let raw = match to_bytes(body, MAX_BODY_BYTES).await {
        Ok(b) => b,
        Err(_) => {
            let e = ApiError::new(413, format!("Request body larger than {MAX_BODY_BYTES} bytes"));
            emu.stats.record(&route.key, 0, 0, e.status);
            return error_response(&e);
        }
    };
    let bytes_in = raw.len() as u64;

    let started = std::time::Instant::now();
    let realism = emu.realism();
    let class = classify(&route.key);
    let mut permit = None;
    let outcome: Result<Reply, ApiError> = (|| {
        let client = emu.authenticate(&parts.headers)?;
        let scope = auth::authorize(&client, &project_name, route.acl, route.action)?;
        crate::resources::raw::check_table_scope(&scope, &route)?;
        if let Some(limits) = &realism.limits {
            permit = Some(emu.limiter.admit(limits, &client.client_id, &class, bytes_in)?);
        }
        let body = decode_body(&parts.headers, raw)?;
        let accept = parts.headers.get("accept").and_then(|v| v.to_str().ok()).unwrap_or("");
        let content_type = parts.headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("");
        let ctx = Ctx {
            project: emu.project(&project_name),
            emu: emu.clone(),
            project_name: project_name.clone(),
            query: parts
                .uri
                .query()
                .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
                .unwrap_or_default(),
            body,
            accept_protobuf: accept.contains("application/protobuf"),
            content_protobuf: content_type.starts_with("application/protobuf"),
            base_url: parts.extensions.get::<BaseUrl>().map(|b| b.0.clone()).unwrap_or_default(),
            client_id: client.client_id.clone(),
        };
        run(&ctx, &route)
    })();
    if let (Some(p), Ok(reply)) = (&permit, &outcome) {
        p.charge_response(reply.body.len() as u64);
    }
    let items = outcome.as_ref().map(|r| r.items).unwrap_or(0);
    cost_delay(&emu, &class, items, bytes_in, started).await;
    drop(permit);

    match apply_faults(&faults, true).await {
        FaultAction::Continue => {}
        FaultAction::Answer(e) => {
            emu.stats.record(&route.key, outcome.as_ref().map(|r| r.items).unwrap_or(0), bytes_in, e.status);
            return error_response(&e);
        }
        FaultAction::Dropped => {
            emu.stats.record(&route.key, outcome.as_ref().map(|r| r.items).unwrap_or(0), bytes_in, 0);
            return drop_connection(ctl).await;
        }
    }
    match outcome {
        Ok(reply) => {
            emu.stats.record(&route.key, reply.items, bytes_in, reply.status);
            json_response(reply.status, reply.body, reply.content_type)
        }
        Err(e) => {
            emu.stats.record(&route.key, 0, bytes_in, e.status);
            error_response(&e)
        }
    }
}
