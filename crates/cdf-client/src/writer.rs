//! Buffers items and sends them to CDF in chunks of the endpoint's maximum per request.

use serde_json::{json, Value as Json};

use crate::error::CdfError;
use crate::session::{Idempotency, Session};

/// Where buffered items go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteTarget {
    /// API path below the project, e.g. `assets`.
    pub path: String,
    /// CDF's maximum number of items per request at this endpoint.
    pub max_items: usize,
}

/// A chunk CDF rejected, with what the statement had already written before it.
#[derive(Debug, Clone, PartialEq)]
pub struct WriteError {
    pub error: CdfError,
    /// Rows CDF accepted earlier in this statement (they stay: CDF has no transactions).
    pub rows_written: u64,
    /// Rows in the rejected chunk.
    pub rows_in_failed_chunk: usize,
}

pub struct ChunkWriter {
    target: WriteTarget,
    buffer: Vec<Json>,
    pub rows_written: u64,
    pub requests_sent: u64,
}

impl ChunkWriter {
    pub fn new(target: WriteTarget) -> ChunkWriter {
        let cap = target.max_items;
        ChunkWriter { target, buffer: Vec::with_capacity(cap), rows_written: 0, requests_sent: 0 }
    }

    pub fn target(&self) -> &WriteTarget {
        &self.target
    }

    /// Adds an item; true when the buffer holds a full chunk and must be flushed.
    pub fn push(&mut self, item: Json) -> bool {
        self.buffer.push(item);
        self.buffer.len() >= self.target.max_items
    }

    pub fn buffered(&self) -> usize {
        self.buffer.len()
    }

    /// Sends everything buffered, one request per full chunk.
    pub async fn flush(&mut self, session: &mut Session, http: &reqwest::Client) -> Result<(), WriteError> {
        while !self.buffer.is_empty() {
            let n = self.buffer.len().min(self.target.max_items);
            let chunk: Vec<Json> = self.buffer.drain(..n).collect();
            let body = json!({ "items": chunk });
            self.requests_sent += 1;
            if let Err(error) = session
                .post_json(http, &self.target.path, &[], &body, Idempotency::NotIdempotent)
                .await
            {
                let rows_in_failed_chunk = n;
                self.buffer.clear();
                return Err(WriteError { error, rows_written: self.rows_written, rows_in_failed_chunk });
            }
            self.rows_written += n as u64;
        }
        Ok(())
    }
}
