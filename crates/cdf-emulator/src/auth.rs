//! OAuth2 client credentials (`POST /oauth2/token`), bearer-token checks, capabilities and
//! `GET /api/v1/token/inspect`.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use rand::TryRngCore;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::ClientConfig;
use crate::errors::ApiError;
use crate::Emulator;

pub struct TokenInfo {
    pub client_id: String,
    pub expires_at: Instant,
}

pub fn new_token() -> String {
    let mut bytes = [0u8; 24];
    rand::rngs::OsRng.try_fill_bytes(&mut bytes).expect("the OS provides randomness");
    let mut s = String::from("emu.");
    for b in bytes {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (status, axum::Json(json!({ "error": error, "error_description": description }))).into_response()
}

/// `POST /oauth2/token`, form-encoded as Entra ID expects it. Credentials in the body or as
/// HTTP Basic auth.
pub async fn token_endpoint(State(emu): State<Arc<Emulator>>, headers: HeaderMap, body: Bytes) -> Response {
    let form: std::collections::HashMap<String, String> = form_urlencoded::parse(&body).into_owned().collect();
    if form.get("grant_type").map(|s| s.as_str()) != Some("client_credentials") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "The emulator supports only grant_type=client_credentials.",
        );
    }
    let (mut id, mut secret) = (form.get("client_id").cloned(), form.get("client_secret").cloned());
    if let Some((bid, bsecret)) = basic_credentials(&headers) {
        id = id.or(Some(bid));
        secret = secret.or(Some(bsecret));
    }
    let (Some(id), Some(secret)) = (id, secret) else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "client_id and client_secret are required.");
    };
    let known = emu.clients.read().get(&id).map(|c| c.client_secret == secret);
    match known {
        Some(true) => {}
        Some(false) => {
            return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "Invalid client secret provided.")
        }
        None => {
            return oauth_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                &format!("Application with identifier '{id}' was not found."),
            )
        }
    }
    let ttl = emu.token_ttl_secs();
    let token = emu.issue_token(&id, ttl);
    (StatusCode::OK, axum::Json(json!({ "access_token": token, "token_type": "Bearer", "expires_in": ttl })))
        .into_response()
}

fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let v = headers.get("authorization")?.to_str().ok()?;
    let b64 = v.strip_prefix("Basic ")?;
    let decoded = base64_decode(b64.trim())?;
    let s = String::from_utf8(decoded).ok()?;
    let (id, secret) = s.split_once(':')?;
    let dec = |x: &str| form_urlencoded::parse(format!("v={x}").as_bytes()).next().map(|(_, v)| v.into_owned());
    Some((dec(id)?, dec(secret)?))
}

fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => (c - b'A') as u32,
            b'a'..=b'z' => (c - b'a' + 26) as u32,
            b'0'..=b'9' => (c - b'0' + 52) as u32,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        })
    };
    let bytes: Vec<u8> = s.bytes().filter(|c| *c != b'=').collect();
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let mut acc = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            acc |= val(*c)? << (18 - 6 * i);
        }
        let n = chunk.len();
        out.push((acc >> 16) as u8);
        if n > 2 {
            out.push((acc >> 8) as u8);
        }
        if n > 3 {
            out.push(acc as u8);
        }
    }
    Some(out)
}

impl Emulator {
    pub fn issue_token(&self, client_id: &str, ttl_secs: u64) -> String {
        let token = new_token();
        let mut tokens = self.tokens.lock();
        let now = Instant::now();
        tokens.retain(|_, t| t.expires_at > now);
        tokens.insert(
            token.clone(),
            TokenInfo { client_id: client_id.to_string(), expires_at: now + Duration::from_secs(ttl_secs) },
        );
        token
    }

    /// The client behind the request's bearer token, or 401.
    pub fn authenticate(&self, headers: &HeaderMap) -> Result<ClientConfig, ApiError> {
        let header = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| ApiError::unauthorized("Unauthorized: missing Authorization header with a Bearer token"))?;
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .ok_or_else(|| ApiError::unauthorized("Unauthorized: Authorization header must be a Bearer token"))?
            .trim();
        let client_id = {
            let tokens = self.tokens.lock();
            let info = tokens.get(token).ok_or_else(|| ApiError::unauthorized("Unauthorized: invalid token"))?;
            if info.expires_at <= Instant::now() {
                return Err(ApiError::unauthorized("Unauthorized: the token has expired"));
            }
            info.client_id.clone()
        };
        self.clients
            .read()
            .get(&client_id)
            .cloned()
            .ok_or_else(|| ApiError::unauthorized("Unauthorized: the token's client no longer exists"))
    }
}

/// 401 unless the client may use the project, 403 unless it holds `acl:action`.
///
/// A valid token for another project is `401 {"error":{"code":401,"message":"Unauthorized"}}`
/// in CDF, not 403 (the API's FAQ, doc.cognitedata.com/faq "How does the REST API deal with
/// errors?", shows this body for a project the caller cannot access; weak evidence, no recording).
pub fn authorize(client: &ClientConfig, project: &str, acl: &str, action: &str) -> Result<Value, ApiError> {
    if !client.projects.iter().any(|p| p == project) {
        return Err(ApiError::unauthorized("Unauthorized"));
    }
    client.grant(acl, action).ok_or_else(|| {
        ApiError::forbidden(format!("Forbidden: missing capability {acl}:{action} in project '{project}'"))
    })
}

/// Capabilities in the shape `token/inspect` returns.
pub fn inspect_body(client: &ClientConfig) -> Value {
    let caps: Vec<Value> = client
        .expanded_capabilities()
        .into_iter()
        .map(|c| {
            let mut cap = serde_json::Map::new();
            cap.insert(c.acl.clone(), json!({ "actions": c.actions, "scope": c.scope }));
            cap.insert("projectScope".into(), json!({ "projects": client.projects }));
            Value::Object(cap)
        })
        .collect();
    let projects: Vec<Value> = client.projects.iter().map(|p| json!({ "projectUrlName": p, "groups": [1] })).collect();
    json!({ "subject": client.client_id, "projects": projects, "capabilities": caps })
}

pub async fn inspect(State(emu): State<Arc<Emulator>>, headers: HeaderMap) -> Response {
    let key = "GET /token/inspect";
    let (status, body) = match emu.authenticate(&headers) {
        Ok(client) => (200, inspect_body(&client)),
        Err(e) => (e.status, e.body()),
    };
    emu.stats.record(key, 0, 0, status);
    (StatusCode::from_u16(status).unwrap_or(StatusCode::OK), axum::Json(body)).into_response()
}
