//! Datapoint aggregates: one `AggregateRequest`, every interval of its answer (following
//! cursors), in timestamp order.

use cdf_tables::aggregates::AggregateRequest;
use serde_json::{Map, Value as Json};

use crate::error::CdfError;
use crate::session::{Idempotency, Session};

/// The most intervals CDF returns per request.
pub const AGGREGATES_PAGE: usize = 10_000;

/// The intervals of the series (none if the series does not exist), each
/// `{"timestamp", "<aggregate>": ...}`.
pub async fn read_aggregates(
    session: &mut Session,
    request: &AggregateRequest,
) -> Result<Vec<Map<String, Json>>, CdfError> {
    let mut intervals = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let body = request.body(AGGREGATES_PAGE, cursor.as_deref());
        let json = session.post_json("timeseries/data/list", &[], &body, Idempotency::Idempotent).await?.json()?;
        let series = json.get("items").and_then(|i| i.as_array()).and_then(|i| i.first()).cloned();
        let Some(series) = series else { break };
        let page: Vec<Map<String, Json>> = series
            .get("datapoints")
            .and_then(|d| d.as_array())
            .into_iter()
            .flatten()
            .filter_map(|p| p.as_object().cloned())
            .collect();
        session.log.note_rows_received(page.len());
        intervals.extend(page);
        cursor = series.get("nextCursor").and_then(|c| c.as_str()).filter(|c| !c.is_empty()).map(str::to_string);
        if cursor.is_none() {
            break;
        }
    }
    Ok(intervals)
}

/// How many objects of a resource CDF holds that match a list filter (empty: all of them):
/// `POST /{api_path}/aggregate`.
pub async fn count_objects(
    session: &mut Session,
    api_path: &str,
    filter: &serde_json::Map<String, serde_json::Value>,
) -> Result<i64, CdfError> {
    let mut body = serde_json::json!({ "aggregate": "count" });
    if !filter.is_empty() {
        body["filter"] = serde_json::Value::Object(filter.clone());
    }
    let json =
        session.post_json(&format!("{api_path}/aggregate"), &[], &body, Idempotency::Idempotent).await?.json()?;
    session.log.note_rows_received(1);
    json.pointer("/items/0/count").and_then(|c| c.as_i64()).ok_or_else(|| CdfError::Protocol {
        message: format!("POST /{api_path}/aggregate answered without items[0].count"),
        request_id: None,
    })
}
