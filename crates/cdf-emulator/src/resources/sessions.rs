//! Sessions: create (client credentials or token exchange), list, byids, revoke.

use serde_json::{json, Value};

use super::generic::*;
use super::{Ctx, Reply};
use crate::errors::{ApiError, ApiResult};
use crate::store::{now_ms, Object};

/// Sessions live a day in the emulator (CDF publishes no fixed lifetime).
const SESSION_LIFETIME_MS: i64 = 24 * 3600 * 1000;

pub fn public(o: &Object) -> Object {
    o.iter().filter(|(k, _)| !k.starts_with('_')).map(|(k, v)| (k.clone(), v.clone())).collect()
}

pub fn create(ctx: &Ctx, body: &Value) -> ApiResult<Reply> {
    let top = body_object(body)?;
    check_keys(top, &["items"], "")?;
    let list = items(top, 1)?;
    let item = list[0].as_object().ok_or_else(|| ApiError::bad_request("items[0]: must be an object"))?;
    check_keys(item, &["clientId", "clientSecret", "tokenExchange", "oneshotTokenExchange"], "items[0]")?;
    let (kind, client_id) = if let Some(cid) = item.get("clientId").and_then(|v| v.as_str()) {
        let secret = item
            .get("clientSecret")
            .and_then(|v| v.as_str())
            .ok_or_else(|| ApiError::bad_request("items[0].clientSecret: may not be null"))?;
        let ok = ctx.emu.clients.read().get(cid).is_some_and(|c| c.client_secret == secret);
        if !ok {
            return Err(ApiError::bad_request("Unable to create session: invalid client credentials"));
        }
        ("CLIENT_CREDENTIALS", cid.to_string())
    } else if item.get("tokenExchange").and_then(|v| v.as_bool()) == Some(true) {
        ("TOKEN_EXCHANGE", ctx.client_id.clone())
    } else if item.get("oneshotTokenExchange").and_then(|v| v.as_bool()) == Some(true) {
        ("ONESHOT_TOKEN_EXCHANGE", ctx.client_id.clone())
    } else {
        return Err(ApiError::bad_request(
            "items[0]: give clientId and clientSecret, tokenExchange or oneshotTokenExchange",
        ));
    };
    let id = ctx.project.next_id();
    let now = now_ms();
    let nonce = crate::auth::new_token().replace("emu.", "nonce.");
    let session = json!({
        "id": id, "type": kind, "status": "READY", "creationTime": now,
        "expirationTime": now + SESSION_LIFETIME_MS, "clientId": client_id, "_nonce": nonce,
    });
    let session = session.as_object().cloned().expect("object literal");
    ctx.project.meta.lock().sessions.items.insert(id, session);
    let mut out = json!({"id": id, "type": kind, "status": "READY", "nonce": nonce});
    if kind == "CLIENT_CREDENTIALS" {
        out["clientId"] = json!(client_id);
    }
    Ok(Reply::items(200, vec![out], 0))
}

pub fn list(ctx: &Ctx) -> ApiResult<Reply> {
    let status = ctx.query.get("status").map(|s| s.to_uppercase());
    let params = parse_list_params(query_to_list_body(&ctx.query).as_object().expect("object"), 25, 1000)?;
    let meta = ctx.project.meta.lock();
    let (page, next) = page(&meta.sessions, &params, |o| {
        status.as_ref().is_none_or(|s| o.get("status").and_then(|v| v.as_str()) == Some(s.as_str()))
    });
    let items: Vec<Value> = page.into_iter().map(|o| Value::Object(public(o))).collect();
    let n = items.len() as u64;
    let mut resp = json!({"items": items});
    if let Some(c) = next {
        resp["nextCursor"] = json!(c);
    }
    Ok(Reply::json(200, &resp, n))
}

fn ids_of(body: &Value) -> ApiResult<Vec<i64>> {
    let top = body_object(body)?;
    check_keys(top, &["items", "ignoreUnknownIds"], "")?;
    let list = items(top, 1000)?;
    list.iter()
        .enumerate()
        .map(|(i, v)| match parse_ident(v, &format!("items[{i}]"), true, &[])? {
            Ident::Id(id) => Ok(id),
            _ => Err(ApiError::bad_request(format!("items[{i}]: sessions are identified by id"))),
        })
        .collect()
}

pub fn byids(ctx: &Ctx, body: &Value) -> ApiResult<Reply> {
    let ids = ids_of(body)?;
    let meta = ctx.project.meta.lock();
    let idents: Vec<Ident> = ids.iter().map(|i| Ident::Id(*i)).collect();
    let keys = meta.sessions.resolve_all(&idents, true, false)?;
    Ok(Reply::items(200, keys.iter().map(|k| Value::Object(public(&meta.sessions.items[k]))).collect(), 0))
}

pub fn revoke(ctx: &Ctx, body: &Value) -> ApiResult<Reply> {
    let ids = ids_of(body)?;
    let mut meta = ctx.project.meta.lock();
    let idents: Vec<Ident> = ids.iter().map(|i| Ident::Id(*i)).collect();
    let keys = meta.sessions.resolve_all(&idents, true, false)?;
    let mut out = Vec::with_capacity(keys.len());
    for k in keys {
        let s = meta.sessions.items.get_mut(&k).expect("resolved");
        s.insert("status".into(), json!("REVOKED"));
        out.push(Value::Object(public(s)));
    }
    Ok(Reply::items(200, out, 0))
}
