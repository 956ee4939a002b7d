//! Executes a `ReadPlan` page by page, following CDF's cursors. Each row comes back as a JSON
//! object in the API's field names, with what addresses it (series, RAW table) under the column
//! names, ready for `cdf_tables::item_to_value`.

use std::collections::VecDeque;

use cdf_tables::limits::{DATAPOINTS_PAGE, ITEMS_PAGE, ROWS_PAGE};
use cdf_tables::{ReadPlan, Resource, SeriesRef};
use reqwest::Method;
use serde_json::{json, Map, Value as Json};

use crate::error::CdfError;
use crate::session::{encode_segment, Idempotency, Session};

pub type Row = Map<String, Json>;

#[derive(Debug, Clone)]
enum Step {
    /// `POST /{resource}/list` with `body` (limit, and `partition` for a partitioned scan).
    ItemsList {
        body: Json,
        cursor: Option<String>,
    },
    ItemsByIds {
        ids: Vec<Json>,
    },
    Runs {
        external_id: String,
        cursor: Option<String>,
    },
    Datapoints {
        series: SeriesRef,
        start: i64,
        end: i64,
        cursor: Option<String>,
    },
    SequenceRows {
        sequence: SeriesRef,
        start: i64,
        end: Option<i64>,
        cursor: Option<String>,
    },
    RawDatabases {
        cursor: Option<String>,
        then_tables: bool,
    },
    RawTables {
        database: String,
        cursor: Option<String>,
    },
    RawRows {
        database: String,
        table: String,
        cursor: Option<String>,
    },
    RawRow {
        database: String,
        table: String,
        key: String,
    },
}

pub struct Reader {
    resource: &'static Resource,
    steps: VecDeque<Step>,
    /// The next pages, fetched while PostgreSQL consumes the current one: one for a plan whose
    /// steps follow each other, one per partition for a partitioned list.
    ahead: VecDeque<Ahead>,
    /// How many fetches may run at once (`ahead`'s length).
    width: usize,
}

type Fetched = (VecDeque<Step>, Result<Option<Vec<Row>>, CdfError>);

/// A page fetch running as its own task (on a clone of the session) with the steps after it;
/// dropping it (a rescan, the end of the scan) aborts it.
struct Ahead(tokio::task::JoinHandle<Fetched>);

impl Drop for Ahead {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn cursor_of(json: &Json) -> Option<String> {
    json.get("nextCursor").and_then(|c| c.as_str()).filter(|c| !c.is_empty()).map(str::to_string)
}

/// Moves the array under `field` out of a response (a page is read once: no copy of it).
fn take_array(json: &mut Json, field: &str) -> Vec<Json> {
    match json.get_mut(field).map(Json::take) {
        Some(Json::Array(items)) => items,
        _ => Vec::new(),
    }
}

fn items_of(json: &mut Json) -> Vec<Json> {
    take_array(json, "items")
}

fn objects(items: Vec<Json>) -> Vec<Row> {
    items.into_iter().filter_map(|i| if let Json::Object(m) = i { Some(m) } else { None }).collect()
}

fn with_cursor(mut body: Json, cursor: &Option<String>) -> Json {
    if let Some(c) = cursor {
        body["cursor"] = json!(c);
    }
    body
}

impl Reader {
    pub fn new(resource: &'static Resource, plan: ReadPlan) -> Reader {
        let mut steps = VecDeque::new();
        match plan {
            ReadPlan::Nothing => {}
            ReadPlan::List => match resource.list_partitions() {
                // CDF's parallel retrieval: each partition is a list of its own, fetched side by
                // side; rows come in no particular order across partitions.
                Some(n) => {
                    for m in 1..=n {
                        let body = json!({ "limit": ITEMS_PAGE, "partition": format!("{m}/{n}") });
                        steps.push_back(Step::ItemsList { body, cursor: None });
                    }
                }
                None => steps.push_back(Step::ItemsList { body: json!({ "limit": ITEMS_PAGE }), cursor: None }),
            },
            ReadPlan::ByIds(ids) => {
                for chunk in ids.chunks(ITEMS_PAGE) {
                    steps.push_back(Step::ItemsByIds { ids: chunk.to_vec() });
                }
            }
            ReadPlan::Runs { external_ids } => {
                for external_id in external_ids {
                    steps.push_back(Step::Runs { external_id, cursor: None });
                }
            }
            ReadPlan::Datapoints { series, start, end } => {
                for s in series {
                    steps.push_back(Step::Datapoints { series: s, start, end, cursor: None });
                }
            }
            ReadPlan::SequenceRows { sequences, start, end } => {
                for s in sequences {
                    steps.push_back(Step::SequenceRows { sequence: s, start, end, cursor: None });
                }
            }
            ReadPlan::RawDatabases => steps.push_back(Step::RawDatabases { cursor: None, then_tables: false }),
            ReadPlan::RawTables { database: Some(database) } => {
                steps.push_back(Step::RawTables { database, cursor: None })
            }
            ReadPlan::RawTables { database: None } => {
                steps.push_back(Step::RawDatabases { cursor: None, then_tables: true })
            }
            ReadPlan::RawRows { database, table, keys: None } => {
                steps.push_back(Step::RawRows { database, table, cursor: None })
            }
            ReadPlan::RawRows { database, table, keys: Some(keys) } => {
                for key in keys {
                    steps.push_back(Step::RawRow { database: database.clone(), table: table.clone(), key });
                }
            }
        }
        let width = match steps.front() {
            Some(Step::ItemsList { body, .. }) if body.get("partition").is_some() => steps.len(),
            _ => 1,
        };
        Reader { resource, steps, ahead: VecDeque::new(), width }
    }

    /// The next page of rows; `None` when the plan is exhausted. Pages may be empty. While the
    /// caller consumes it, the pages after it are already being fetched (`width` at once, each a
    /// task on a clone of the session; the memory is `width` pages).
    pub async fn next_page(&mut self, session: &mut Session) -> Result<Option<Vec<Row>>, CdfError> {
        let page = match self.ahead.pop_front() {
            Some(mut ahead) => {
                let (steps, page) = (&mut ahead.0).await.map_err(|e| CdfError::Protocol {
                    message: format!("fetching the next page was lost: {e}"),
                    request_id: None,
                })?;
                // What the fetched step left (its cursor's next page, steps it found) comes next.
                for step in steps.into_iter().rev() {
                    self.steps.push_front(step);
                }
                page?
            }
            None => {
                // Nothing fetched ahead (the first page): the other partitions start, and the
                // first step is fetched here, in the caller's `block_on` (a cancel drops it there,
                // so the statistics count it).
                let Some(first) = self.steps.pop_front() else {
                    return Ok(None);
                };
                self.start_fetches(session, self.width - 1).await?;
                self.steps.push_front(first);
                self.fetch_page(session).await?
            }
        };
        self.start_fetches(session, self.width).await?;
        Ok(page)
    }

    /// Starts fetching the first steps, each a task on a clone of the session, until `upto`
    /// fetches run.
    async fn start_fetches(&mut self, session: &mut Session, upto: usize) -> Result<(), CdfError> {
        if self.steps.is_empty() || self.ahead.len() >= upto {
            return Ok(());
        }
        session.ensure_token().await?;
        while self.ahead.len() < upto {
            let Some(step) = self.steps.pop_front() else { break };
            let mut own = session.clone();
            let mut one =
                Reader { resource: self.resource, steps: VecDeque::from([step]), ahead: VecDeque::new(), width: 1 };
            self.ahead.push_back(Ahead(tokio::spawn(async move {
                let page = one.fetch_page(&mut own).await;
                (std::mem::take(&mut one.steps), page)
            })));
        }
        crate::runtime::let_requests_out().await;
        Ok(())
    }

    /// Fetches the page of the first step (following a cursor pushes the step back).
    async fn fetch_page(&mut self, session: &mut Session) -> Result<Option<Vec<Row>>, CdfError> {
        let Some(step) = self.steps.pop_front() else {
            return Ok(None);
        };
        let path = self.resource.api_path;
        let rows = match step {
            Step::ItemsList { body, cursor } => {
                let mut json = post(session, format!("{path}/list"), with_cursor(body.clone(), &cursor)).await?;
                if let Some(c) = cursor_of(&json) {
                    self.steps.push_front(Step::ItemsList { body, cursor: Some(c) });
                }
                objects(items_of(&mut json))
            }
            Step::ItemsByIds { ids } => {
                let mut json =
                    post(session, format!("{path}/byids"), json!({ "items": ids, "ignoreUnknownIds": true })).await?;
                objects(items_of(&mut json))
            }
            Step::Runs { external_id, cursor } => {
                let body =
                    with_cursor(json!({ "filter": { "externalId": external_id }, "limit": ITEMS_PAGE }), &cursor);
                let mut json = post(session, format!("{path}/list"), body).await?;
                if let Some(c) = cursor_of(&json) {
                    self.steps.push_front(Step::Runs { external_id: external_id.clone(), cursor: Some(c) });
                }
                let mut rows = objects(items_of(&mut json));
                for r in &mut rows {
                    r.entry("externalId").or_insert_with(|| json!(external_id));
                }
                rows
            }
            Step::Datapoints { series, start, end, cursor } => {
                let mut item = series.to_json();
                item.insert("start".into(), json!(start));
                item.insert("end".into(), json!(end));
                item.insert("limit".into(), json!(DATAPOINTS_PAGE));
                if let Some(c) = &cursor {
                    item.insert("cursor".into(), json!(c));
                }
                // A table shows every stored point with its status: CDF hides bad and uncertain
                // points and leaves statuses out unless asked.
                let body = json!({
                    "items": [item],
                    "ignoreUnknownIds": true,
                    "includeStatus": true,
                    "ignoreBadDataPoints": false,
                    "treatUncertainAsBad": false,
                });
                let mut json = post(session, "timeseries/data/list".into(), body).await?;
                let mut rows = Vec::new();
                for mut s in items_of(&mut json) {
                    if let Some(c) = cursor_of(&s) {
                        self.steps.push_front(Step::Datapoints { series: series.clone(), start, end, cursor: Some(c) });
                    }
                    // What addresses the series, on every point (a missing field reads as NULL, so
                    // absent ones are left out: a page has up to 100,000 points).
                    let instance = s.get("instanceId").cloned().unwrap_or(Json::Null);
                    let address: Vec<(&str, Json)> = [
                        ("id", s.get("id").cloned().unwrap_or(Json::Null)),
                        ("external_id", s.get("externalId").cloned().unwrap_or(Json::Null)),
                        ("instance_space", instance["space"].clone()),
                        ("instance_external_id", instance["externalId"].clone()),
                    ]
                    .into_iter()
                    .filter(|(_, v)| !v.is_null())
                    .collect();
                    let points = take_array(&mut s, "datapoints");
                    rows.reserve(points.len());
                    for p in points {
                        if let Json::Object(mut row) = p {
                            for (name, v) in &address {
                                row.insert((*name).to_string(), v.clone());
                            }
                            rows.push(row);
                        }
                    }
                }
                rows
            }
            Step::SequenceRows { sequence, start, end, cursor } => {
                let mut body = sequence.to_json();
                body.insert("start".into(), json!(start));
                if let Some(e) = end {
                    body.insert("end".into(), json!(e));
                }
                body.insert("limit".into(), json!(ROWS_PAGE));
                let mut json =
                    post(session, "sequences/data/list".into(), with_cursor(Json::Object(body), &cursor)).await?;
                if let Some(c) = cursor_of(&json) {
                    self.steps.push_front(Step::SequenceRows {
                        sequence: sequence.clone(),
                        start,
                        end,
                        cursor: Some(c),
                    });
                }
                let columns: Vec<String> = json
                    .get("columns")
                    .and_then(|c| c.as_array())
                    .map(|cs| {
                        cs.iter()
                            .map(|c| {
                                c.get("externalId").and_then(|x| x.as_str()).or(c.as_str()).unwrap_or("").to_string()
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                let id = json.get("id").cloned().unwrap_or(Json::Null);
                let xid = json.get("externalId").cloned().unwrap_or(Json::Null);
                let mut rows = Vec::new();
                for mut r in take_array(&mut json, "rows") {
                    let values: Map<String, Json> = columns.iter().cloned().zip(take_array(&mut r, "values")).collect();
                    let mut row = Map::new();
                    row.insert("id".into(), id.clone());
                    row.insert("external_id".into(), xid.clone());
                    row.insert("rowNumber".into(), r.get("rowNumber").cloned().unwrap_or(Json::Null));
                    row.insert("values".into(), Json::Object(values));
                    rows.push(row);
                }
                rows
            }
            Step::RawDatabases { cursor, then_tables } => {
                let mut query = vec![("limit", ITEMS_PAGE.to_string())];
                if let Some(c) = &cursor {
                    query.push(("cursor", c.clone()));
                }
                let mut json =
                    session.request(Method::GET, "raw/dbs", &query, None, Idempotency::Idempotent).await?.json()?;
                if let Some(c) = cursor_of(&json) {
                    self.steps.push_front(Step::RawDatabases { cursor: Some(c), then_tables });
                }
                let dbs = objects(items_of(&mut json));
                if then_tables {
                    for db in &dbs {
                        if let Some(name) = db.get("name").and_then(|n| n.as_str()) {
                            self.steps.push_back(Step::RawTables { database: name.to_string(), cursor: None });
                        }
                    }
                    Vec::new()
                } else {
                    dbs
                }
            }
            Step::RawTables { database, cursor } => {
                let mut query = vec![("limit", ITEMS_PAGE.to_string())];
                if let Some(c) = &cursor {
                    query.push(("cursor", c.clone()));
                }
                let p = format!("raw/dbs/{}/tables", encode_segment(&database));
                let mut json = match session.request(Method::GET, &p, &query, None, Idempotency::Idempotent).await {
                    Ok(r) => r.json()?,
                    // A database that does not exist has no tables.
                    Err(CdfError::Api { status: 404, .. }) => {
                        session.log.note_handled();
                        json!({ "items": [] })
                    }
                    Err(e) => return Err(e),
                };
                if let Some(c) = cursor_of(&json) {
                    self.steps.push_front(Step::RawTables { database: database.clone(), cursor: Some(c) });
                }
                let mut rows = objects(items_of(&mut json));
                for r in &mut rows {
                    r.insert("_raw_database".into(), json!(database));
                }
                rows
            }
            Step::RawRows { database, table, cursor } => {
                let mut query = vec![("limit", ROWS_PAGE.to_string())];
                if let Some(c) = &cursor {
                    query.push(("cursor", c.clone()));
                }
                let p = format!("raw/dbs/{}/tables/{}/rows", encode_segment(&database), encode_segment(&table));
                let mut json = match session.request(Method::GET, &p, &query, None, Idempotency::Idempotent).await {
                    Ok(r) => r.json()?,
                    Err(CdfError::Api { status: 404, .. }) => {
                        session.log.note_handled();
                        json!({ "items": [] })
                    }
                    Err(e) => return Err(e),
                };
                if let Some(c) = cursor_of(&json) {
                    self.steps.push_front(Step::RawRows {
                        database: database.clone(),
                        table: table.clone(),
                        cursor: Some(c),
                    });
                }
                raw_rows(objects(items_of(&mut json)), &database, &table)
            }
            Step::RawRow { database, table, key } => {
                let p = format!(
                    "raw/dbs/{}/tables/{}/rows/{}",
                    encode_segment(&database),
                    encode_segment(&table),
                    encode_segment(&key)
                );
                match session.request(Method::GET, &p, &[], None, Idempotency::Idempotent).await {
                    Ok(r) => match r.json()? {
                        Json::Object(row) => raw_rows(vec![row], &database, &table),
                        _ => Vec::new(),
                    },
                    Err(CdfError::Api { status: 404, .. }) => {
                        session.log.note_handled();
                        Vec::new()
                    }
                    Err(e) => return Err(e),
                }
            }
        };
        // Each step is one request; its rows are what it returned.
        session.log.note_rows_received(rows.len());
        Ok(Some(rows))
    }
}

async fn post(session: &mut Session, path: String, body: Json) -> Result<Json, CdfError> {
    session.post_json(&path, &[], &body, Idempotency::Idempotent).await?.json()
}

fn raw_rows(mut rows: Vec<Row>, database: &str, table: &str) -> Vec<Row> {
    for r in &mut rows {
        r.insert("_raw_database".into(), json!(database));
        r.insert("_raw_table".into(), json!(table));
    }
    rows
}
