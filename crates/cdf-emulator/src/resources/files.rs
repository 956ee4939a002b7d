//! Files (metadata): one file per create, `overwrite=true` upserts by externalId, and an
//! `uploadUrl` on the emulator itself that marks the file uploaded.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use std::sync::Arc;

use super::generic::*;
use super::specs::FILES;
use super::{finish_new, Ctx, Reply};
use crate::errors::{ApiError, ApiResult};
use crate::store::now_ms;
use crate::Emulator;

pub fn create(ctx: &Ctx, body: &Value) -> ApiResult<Reply> {
    let overwrite = ctx.query_bool("overwrite")?;
    let mut obj = validate_create(&FILES, body, "body")?;
    let now = now_ms();
    let mut meta = ctx.project.meta.lock();
    let existing = xid_of(&obj).and_then(|x| meta.files.key_of_xid(x));
    let id = match existing {
        Some(id) if overwrite => {
            // Overwrite keeps identity and creation time, replaces everything else.
            let created = meta.files.items[&id].get("createdTime").cloned().unwrap_or(json!(now));
            obj.insert("id".into(), json!(id));
            obj.insert("createdTime".into(), created);
            obj.insert("lastUpdatedTime".into(), json!(now));
            obj.entry("metadata").or_insert(json!({}));
            id
        }
        Some(_) => return Err(ApiError::duplicated(vec![json!({"externalId": xid_of(&obj)})])),
        None => {
            let id = ctx.project.next_id();
            finish_new(&FILES, &mut obj, id, now);
            id
        }
    };
    obj.insert("uploaded".into(), json!(false));
    meta.files.remove(id);
    meta.files.insert(id, obj.clone());
    let mut out = Value::Object(obj);
    out["uploadUrl"] = json!(format!("{}/_files/upload/{}/{}", ctx.base_url, ctx.project_name, id));
    Ok(Reply::json(201, &out, 1))
}

/// `PUT /_files/upload/{project}/{id}` (the `uploadUrl`): content is discarded, the file
/// becomes `uploaded`.
pub async fn upload(
    State(emu): State<Arc<Emulator>>,
    Path((project, id)): Path<(String, i64)>,
    body: Bytes,
) -> Response {
    let Some(project) = emu.store.existing(&project) else { return StatusCode::NOT_FOUND.into_response() };
    let mut meta = project.meta.lock();
    match meta.files.items.get_mut(&id) {
        Some(f) => {
            let now = now_ms();
            f.insert("uploaded".into(), json!(true));
            f.insert("uploadedTime".into(), json!(now));
            f.insert("lastUpdatedTime".into(), json!(now));
            emu.stats.record("PUT (file upload)", 1, body.len() as u64, 200);
            StatusCode::OK.into_response()
        }
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
