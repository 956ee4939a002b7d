//! Data-modeling requests of view tables: view definitions, instance reads (list with cursors,
//! byids) and writes (apply in chunks, delete). The row <-> instance mapping is
//! `cdf_tables::views`; this module only moves JSON.

use std::collections::HashSet;

use cdf_tables::views::{ViewId, INSTANCES_PER_REQUEST};
use cdf_tables::InsertMode;
use serde_json::{json, Value as Json};

use crate::error::CdfError;
use crate::session::{Idempotency, Session};
use crate::writer::WriteError;

async fn post(session: &mut Session, path: &str, body: &Json, idempotency: Idempotency) -> Result<Json, CdfError> {
    session.post_json(path, &[], body, idempotency).await?.json()
}

fn items(json: Json) -> Vec<Json> {
    match json {
        Json::Object(mut o) => match o.remove("items") {
            Some(Json::Array(a)) => a,
            _ => Vec::new(),
        },
        _ => Vec::new(),
    }
}

/// `POST /models/views/byids` (inherited properties included); unknown views are left out.
pub async fn retrieve_views(session: &mut Session, ids: &[ViewId]) -> Result<Vec<Json>, CdfError> {
    let mut out = Vec::new();
    for chunk in ids.chunks(100) {
        // Inherited properties are included by default.
        let body = json!({"items": chunk.iter().map(ViewId::id_json).collect::<Vec<_>>()});
        out.extend(items(post(session, "models/views/byids", &body, Idempotency::Idempotent).await?));
    }
    Ok(out)
}

/// `POST /models/datamodels/byids` (views as references); `None` if it does not exist.
pub async fn retrieve_data_model(session: &mut Session, id: &ViewId) -> Result<Option<Json>, CdfError> {
    let body = json!({"items": [id.id_json()]});
    Ok(items(post(session, "models/datamodels/byids", &body, Idempotency::Idempotent).await?).into_iter().next())
}

/// `POST /models/spaces`: creates a space, or sets the name and description of an existing one
/// (an upsert, so it is safe to repeat); CDF's answer for it.
pub async fn apply_space(
    session: &mut Session,
    space: &str,
    name: Option<&str>,
    description: Option<&str>,
) -> Result<Option<Json>, CdfError> {
    let mut item = json!({"space": space});
    if let Some(n) = name {
        item["name"] = json!(n);
    }
    if let Some(d) = description {
        item["description"] = json!(d);
    }
    let body = json!({"items": [item]});
    Ok(items(post(session, "models/spaces", &body, Idempotency::Idempotent).await?).into_iter().next())
}

/// The instances a view-table scan reads: pages of `/models/instances/list` or one `byids`.
#[derive(Debug, Clone)]
pub enum InstanceRead {
    List { body: Json, cursor: Option<String>, done: bool },
    ByIds { ids: Vec<Json>, sources: Json, done: bool },
}

impl InstanceRead {
    /// Lists the instances (`node` or `edge`) with data in `sources`, narrowed by `filter`.
    pub fn list(instance_type: &str, sources: Json, filter: Option<Json>) -> InstanceRead {
        let mut body = json!({"instanceType": instance_type, "sources": sources, "limit": INSTANCES_PER_REQUEST});
        if let Some(f) = filter {
            body["filter"] = f;
        }
        InstanceRead::List { body, cursor: None, done: false }
    }

    pub fn by_ids(ids: Vec<Json>, sources: Json) -> InstanceRead {
        InstanceRead::ByIds { ids, sources, done: false }
    }

    /// The next page of instances; `None` at the end.
    pub async fn next_page(&mut self, session: &mut Session) -> Result<Option<Vec<Json>>, CdfError> {
        match self {
            InstanceRead::List { done: true, .. } | InstanceRead::ByIds { done: true, .. } => Ok(None),
            InstanceRead::List { body, cursor, done } => {
                let mut request = body.clone();
                if let Some(c) = cursor.take() {
                    request["cursor"] = json!(c);
                }
                let answer = post(session, "models/instances/list", &request, Idempotency::Idempotent).await?;
                session.log.note_rows_received(answer.get("items").and_then(Json::as_array).map_or(0, Vec::len));
                match answer.get("nextCursor").and_then(Json::as_str) {
                    Some(c) if !c.is_empty() => *cursor = Some(c.to_string()),
                    _ => *done = true,
                }
                Ok(Some(items(answer)))
            }
            InstanceRead::ByIds { ids, sources, done } => {
                let mut out = Vec::new();
                for chunk in ids.chunks(INSTANCES_PER_REQUEST) {
                    let body = json!({"items": chunk, "sources": sources});
                    let found = items(post(session, "models/instances/byids", &body, Idempotency::Idempotent).await?);
                    session.log.note_rows_received(found.len());
                    out.extend(found);
                }
                *done = true;
                // byids answers nodes without data in the view too: keep those with it.
                let key =
                    |item: &Json| item.get("properties").is_some_and(|p| p.as_object().is_some_and(|o| !o.is_empty()));
                Ok(Some(out.into_iter().filter(key).collect()))
            }
        }
    }
}

/// A failed instance write: the CDF error, and which buffered row CDF named (0-based), if any.
#[derive(Debug, Clone, PartialEq)]
pub struct InstanceWriteError {
    pub write: WriteError,
    pub failed_row: Option<u64>,
}

/// Buffers node writes (or deletes) of one statement and sends them in chunks of
/// `INSTANCES_PER_REQUEST`.
#[derive(Debug)]
pub struct InstanceWriter {
    mode: InsertMode,
    /// (statement row number, item)
    buffer: Vec<(u64, Json)>,
    /// `(space, externalId)` of the buffered items: `holds` runs for every row, so it must not
    /// scan the buffer.
    buffered_ids: HashSet<(String, String)>,
    pub rows_written: u64,
}

fn instance_id(item: &Json) -> (String, String) {
    let text = |k: &str| item.get(k).and_then(Json::as_str).unwrap_or_default().to_string();
    (text("space"), text("externalId"))
}

impl InstanceWriter {
    pub fn new(mode: InsertMode) -> InstanceWriter {
        InstanceWriter { mode, buffer: Vec::new(), buffered_ids: HashSet::new(), rows_written: 0 }
    }

    pub fn buffered(&self) -> usize {
        self.buffer.len()
    }

    /// Buffers one item; true when the buffer is full and must be flushed.
    pub fn push(&mut self, row: u64, item: Json) -> bool {
        self.buffered_ids.insert(instance_id(&item));
        self.buffer.push((row, item));
        self.buffer.len() >= INSTANCES_PER_REQUEST
    }

    /// Whether the buffer already holds this instance: DMS refuses a request that names one
    /// instance twice, so the caller flushes first (the later row then wins, as in SQL order).
    pub fn holds(&self, item: &Json) -> bool {
        self.buffered_ids.contains(&instance_id(item))
    }

    /// Sends the buffer to `POST /models/instances`. `ignore` first asks byids which nodes
    /// exist and leaves them out; `create` relies on `existingVersion 0`.
    pub async fn flush(&mut self, session: &mut Session) -> Result<u64, InstanceWriteError> {
        if self.buffer.is_empty() {
            return Ok(0);
        }
        let mut chunk: Vec<(u64, Json)> = std::mem::take(&mut self.buffer);
        self.buffered_ids.clear();
        let fail = |w: &InstanceWriter, error: CdfError, n: usize, failed_row: Option<u64>| InstanceWriteError {
            write: WriteError { error, rows_written: w.rows_written, rows_in_failed_chunk: n },
            failed_row,
        };
        if self.mode == InsertMode::Ignore {
            let ids: Vec<Json> = chunk
                .iter()
                .map(|(_, i)| json!({"instanceType": i["instanceType"], "space": i["space"], "externalId": i["externalId"]}))
                .collect();
            let body = json!({"items": ids});
            let existing = post(session, "models/instances/byids", &body, Idempotency::Idempotent)
                .await
                .map_err(|e| fail(self, e, chunk.len(), None))?;
            let existing: Vec<(Json, Json)> =
                items(existing).into_iter().map(|i| (i["space"].clone(), i["externalId"].clone())).collect();
            chunk.retain(|(_, i)| !existing.contains(&(i["space"].clone(), i["externalId"].clone())));
            if chunk.is_empty() {
                return Ok(0);
            }
        }
        let n = chunk.len();
        let body = json!({"items": chunk.iter().map(|(_, i)| i).collect::<Vec<_>>()});
        // Upserts by (space, externalId) are safe to resend; `existingVersion 0` is not.
        let idempotency =
            if self.mode == InsertMode::Create { Idempotency::NotIdempotent } else { Idempotency::Idempotent };
        match session.post_json("models/instances", &[], &body, idempotency).await {
            Ok(_) => {
                session.log.note_rows_sent(n);
                self.rows_written += n as u64;
                Ok(n as u64)
            }
            Err(e) => {
                let failed = match &e {
                    CdfError::Api { message, duplicated, .. } => {
                        // DMS names the item (`items[3]`), the node (`'space:externalId'`) or
                        // lists it in `duplicated`.
                        let named = |(_, i): &&(u64, Json)| {
                            let id = format!(
                                "'{}:{}'",
                                i["space"].as_str().unwrap_or(""),
                                i["externalId"].as_str().unwrap_or("")
                            );
                            message.contains(&id)
                                || duplicated
                                    .first()
                                    .is_some_and(|d| i["space"] == d["space"] && i["externalId"] == d["externalId"])
                        };
                        cdf_tables::views::failed_item(message)
                            .and_then(|i| chunk.get(i))
                            .or_else(|| chunk.iter().find(named))
                            .map(|(r, _)| *r)
                    }
                    _ => None,
                };
                Err(fail(self, e, n, failed))
            }
        }
    }

    /// Sends the buffer (node identities) to `POST /models/instances/delete`.
    pub async fn flush_deletes(&mut self, session: &mut Session) -> Result<u64, InstanceWriteError> {
        if self.buffer.is_empty() {
            return Ok(0);
        }
        let chunk = std::mem::take(&mut self.buffer);
        self.buffered_ids.clear();
        let n = chunk.len();
        let body = json!({"items": chunk.iter().map(|(_, i)| i).collect::<Vec<_>>()});
        match session.post_json("models/instances/delete", &[], &body, Idempotency::Idempotent).await {
            Ok(_) => {
                session.log.note_rows_sent(n);
                self.rows_written += n as u64;
                Ok(n as u64)
            }
            Err(error) => Err(InstanceWriteError {
                write: WriteError { error, rows_written: self.rows_written, rows_in_failed_chunk: n },
                failed_row: None,
            }),
        }
    }
}
