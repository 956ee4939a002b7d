//! Executes a `ReadPlan` page by page, following CDF's cursors. A row comes back as a JSON
//! object in the API's field names, with what addresses it (series, RAW table) under the column
//! names, ready for `cdf_tables::item_to_value`; a datapoint as a compact `Point`
//! (`cdf_tables::point_to_value`), decoded from CDF's protobuf answer where CDF offers one.

use std::collections::VecDeque;

use cdf_tables::catalogue::WriteKind;
use cdf_tables::limits::{DATAPOINTS_PAGE, DATAPOINT_WINDOWS, ITEMS_PAGE, RAW_PAGE_BYTES, RAW_PAGE_CAP, ROWS_PAGE};
use cdf_tables::{Point, PointStatus, PointValue, ReadPlan, Resource, SeriesAddress, SeriesRef};
use reqwest::Method;
use serde_json::{json, Map, Value as Json};

use crate::error::CdfError;
use crate::protobuf::{decode_datapoint_list, SeriesPoints};
use crate::session::{encode_segment, ApiResponse, Idempotency, Session};

/// One row of a read.
#[derive(Debug, Clone, PartialEq)]
pub enum Row {
    /// An object of CDF's JSON answer (see the module comment).
    Item(Map<String, Json>),
    Point(Point),
}

impl Row {
    pub fn item_mut(&mut self) -> Option<&mut Map<String, Json>> {
        match self {
            Row::Item(item) => Some(item),
            Row::Point(_) => None,
        }
    }

    /// The row as a JSON object (a point as CDF's JSON answer has it): for tests and comparisons.
    pub fn to_json(&self) -> Map<String, Json> {
        match self {
            Row::Item(item) => item.clone(),
            Row::Point(p) => p.to_json(),
        }
    }
}

/// One request still to make; `RawRows.limit` follows the bytes per row seen (`raw_page_limit`).
#[derive(Debug, Clone)]
enum Step {
    /// `POST /{resource}/list` with `filter`, and `partition` ("m/n") for a partitioned scan.
    ItemsList {
        filter: Map<String, Json>,
        partition: Option<String>,
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
    /// Several series in one `/timeseries/data/list` request, each item with its own range,
    /// cursor and an even share of the request's points (`batched`).
    DatapointsBatch {
        items: Vec<SeriesRange>,
    },
    SequenceRows {
        sequence: SeriesRef,
        start: i64,
        end: Option<i64>,
        cursor: Option<String>,
    },
    /// Newest first: the latest point before `before`, then the one before it, down to `start`.
    LatestDatapoint {
        series: SeriesRef,
        start: i64,
        before: i64,
    },
    LatestSequenceRow {
        sequence: SeriesRef,
        start: i64,
        before: Option<i64>,
    },
    /// Previews: the series / sequences of a list page become steps of their own.
    SeriesList {
        is_string: bool,
        start: i64,
        end: i64,
        cursor: Option<String>,
    },
    SequenceList {
        start: i64,
        end: Option<i64>,
        cursor: Option<String>,
    },
    RawDatabases {
        cursor: Option<String>,
        then: RawThen,
    },
    RawTables {
        database: String,
        cursor: Option<String>,
        then: RawThen,
    },
    RawRows {
        database: String,
        table: String,
        cursor: Option<String>,
        limit: usize,
    },
    RawRow {
        database: String,
        table: String,
        key: String,
    },
}

/// One series' range of a datapoints read, as an item of a multi-item request.
#[derive(Debug, Clone)]
struct SeriesRange {
    series: SeriesRef,
    start: i64,
    end: i64,
    cursor: Option<String>,
}

impl SeriesRange {
    fn step(self) -> Step {
        let SeriesRange { series, start, end, cursor } = self;
        Step::Datapoints { series, start, end, cursor }
    }
}

/// The series ranges of datapoints steps (other steps have none).
fn into_ranges(steps: impl IntoIterator<Item = Step>) -> Vec<SeriesRange> {
    let mut ranges = Vec::new();
    for step in steps {
        match step {
            Step::Datapoints { series, start, end, cursor } => ranges.push(SeriesRange { series, start, end, cursor }),
            Step::DatapointsBatch { items } => ranges.extend(items),
            _ => {}
        }
    }
    ranges
}

/// The steps of the ranges of an ascending datapoints read, in their order, each with the points
/// it is expected to hold if a probe counted them. A range expected to fill `MIN_WINDOW_POINTS`
/// is a request of its own (a long series' windows, side by side); the others share requests of
/// up to `LIST_ITEMS` items, as many as the even split of a page still covers each one's
/// expected points (unknown: whatever does not fit follows its cursor). A series is in a batch
/// once at most, and a batch comes before that series' later ranges: its points keep time order.
fn batched(ranges: impl IntoIterator<Item = (SeriesRange, Option<i64>)>) -> VecDeque<Step> {
    fn flush(steps: &mut VecDeque<Step>, batch: &mut Vec<SeriesRange>) {
        match batch.len() {
            0 => {}
            1 => steps.extend(batch.pop().map(SeriesRange::step)),
            _ => steps.push_back(Step::DatapointsBatch { items: std::mem::take(batch) }),
        }
    }
    let mut steps = VecDeque::new();
    let mut batch: Vec<SeriesRange> = Vec::new();
    let mut most = 0;
    for (range, expected) in ranges {
        let expected = expected.unwrap_or(0);
        let fits = batch.len() < LIST_ITEMS && (batch.len() as i64 + 1) * most.max(expected) <= DATAPOINTS_PAGE as i64;
        if !fits || expected >= MIN_WINDOW_POINTS || batch.iter().any(|b| b.series == range.series) {
            flush(&mut steps, &mut batch);
            most = 0;
        }
        if expected >= MIN_WINDOW_POINTS {
            steps.push_back(range.step());
        } else {
            most = most.max(expected);
            batch.push(range);
        }
    }
    flush(&mut steps, &mut batch);
    steps
}

/// What listing RAW databases or tables leads to.
#[derive(Debug, Clone, PartialEq)]
enum RawThen {
    /// The names are the rows.
    Rows,
    /// The tables of each database (raw_tables without a database).
    Tables,
    /// The rows of each table (named `table`, when given): a RAW preview.
    TableRows { table: Option<String> },
}

pub struct Reader {
    resource: &'static Resource,
    steps: VecDeque<Step>,
    /// Rows still wanted (a pushed LIMIT); `None`: all.
    remaining: Option<usize>,
    /// The next pages, fetched while PostgreSQL consumes the current one: one for a plan whose
    /// steps follow each other, one per partition for a partitioned list.
    ahead: VecDeque<Ahead>,
    /// How many fetches may run at once (`ahead`'s length).
    width: usize,
    /// The `sort` of list requests (`sorted`).
    sort: Option<Json>,
    /// Rows come in step order (a datapoints read: timestamp order per series). What a fetched
    /// page leaves (its cursor's next page) is fetched next, before the pages already ahead, and
    /// a series' range past a full page is split into time windows fetched side by side
    /// (`windows_after`). Otherwise (partitions) continuations queue behind what is ahead.
    ordered: bool,
    /// Before the first page of an ordered datapoints read: ask CDF how many points each series
    /// has where (`plan_windows`), so windows start at once instead of after a first page.
    probe: bool,
}

type Fetched = (VecDeque<Step>, Option<usize>, Result<Option<Vec<Row>>, CdfError>);

/// A page fetch running as its own task (on a clone of the session) with the steps after it;
/// dropping it (a rescan, the end of the scan) aborts it.
struct Ahead(tokio::task::JoinHandle<Fetched>);

/// Count probes in flight; dropped (an error, a cancel), they stop.
struct Probes(Vec<tokio::task::JoinHandle<Result<Json, CdfError>>>);

impl Drop for Probes {
    fn drop(&mut self) {
        self.0.iter().for_each(|p| p.abort());
    }
}

/// One item of a `/timeseries/data/list` request: a series, its range, page size and cursor.
fn range_item(series: &SeriesRef, start: i64, end: i64, cursor: Option<&str>, limit: usize) -> Map<String, Json> {
    let mut item = series.to_json();
    item.insert("start".into(), json!(start));
    item.insert("end".into(), json!(end));
    item.insert("limit".into(), json!(limit));
    if let Some(c) = cursor {
        item.insert("cursor".into(), json!(c));
    }
    item
}

/// The count-aggregate request that says where the points of these ranges are.
fn probe_request(chunk: &[SeriesRange]) -> Json {
    let items: Vec<Json> = chunk
        .iter()
        .map(|r| {
            let mut item = range_item(&r.series, r.start, r.end, None, PROBE_INTERVALS as usize);
            item.insert("aggregates".into(), json!(["count"]));
            item.insert("granularity".into(), json!(probe_granularity(r.start, r.end)));
            Json::Object(item)
        })
        .collect();
    let mut body = datapoints_request(Map::new());
    body["items"] = Json::Array(items);
    body.as_object_mut().map(|b| b.remove("includeStatus"));
    body
}

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

fn objects(items: Vec<Json>) -> Vec<Map<String, Json>> {
    items.into_iter().filter_map(|i| if let Json::Object(m) = i { Some(m) } else { None }).collect()
}

fn item_rows(items: Vec<Map<String, Json>>) -> Vec<Row> {
    items.into_iter().map(Row::Item).collect()
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
            ReadPlan::List(filter) => match resource.list_partitions().filter(|_| filter.is_empty()) {
                // CDF's parallel retrieval of an unfiltered list: each partition is a list of its
                // own, fetched side by side; rows come in no particular order across partitions.
                Some(n) => {
                    for m in 1..=n {
                        let partition = Some(format!("{m}/{n}"));
                        steps.push_back(Step::ItemsList { filter: Map::new(), partition, cursor: None });
                    }
                }
                None => steps.push_back(Step::ItemsList { filter, partition: None, cursor: None }),
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
            ReadPlan::Datapoints { series, start, end, descending: true } => {
                for s in series {
                    steps.push_back(Step::LatestDatapoint { series: s, start, before: end });
                }
            }
            ReadPlan::Datapoints { series, start, end, descending: false } => {
                let ranges = series.into_iter().map(|series| (SeriesRange { series, start, end, cursor: None }, None));
                steps = batched(ranges);
            }
            ReadPlan::SequenceRows { sequences, start, end, descending } => {
                for s in sequences {
                    steps.push_back(if descending {
                        Step::LatestSequenceRow { sequence: s, start, before: end }
                    } else {
                        Step::SequenceRows { sequence: s, start, end, cursor: None }
                    });
                }
            }
            ReadPlan::SeriesPreview { is_string, start, end } => {
                steps.push_back(Step::SeriesList { is_string, start, end, cursor: None })
            }
            ReadPlan::SequencePreview { start, end } => {
                steps.push_back(Step::SequenceList { start, end, cursor: None })
            }
            ReadPlan::RawPreview { database: Some(database), table } => {
                steps.push_back(Step::RawTables { database, cursor: None, then: RawThen::TableRows { table } })
            }
            ReadPlan::RawPreview { database: None, table } => {
                steps.push_back(Step::RawDatabases { cursor: None, then: RawThen::TableRows { table } })
            }
            ReadPlan::RawDatabases => steps.push_back(Step::RawDatabases { cursor: None, then: RawThen::Rows }),
            ReadPlan::RawTables { database: Some(database) } => {
                steps.push_back(Step::RawTables { database, cursor: None, then: RawThen::Rows })
            }
            ReadPlan::RawTables { database: None } => {
                steps.push_back(Step::RawDatabases { cursor: None, then: RawThen::Tables })
            }
            ReadPlan::RawRows { database, table, keys: None } => {
                steps.push_back(Step::RawRows { database, table, cursor: None, limit: ROWS_PAGE })
            }
            ReadPlan::RawRows { database, table, keys: Some(keys) } => {
                for key in keys {
                    steps.push_back(Step::RawRow { database: database.clone(), table: table.clone(), key });
                }
            }
        }
        let width = match steps.front() {
            Some(Step::ItemsList { partition: Some(_), .. }) => steps.len(),
            _ => 1,
        };
        Reader {
            resource,
            steps,
            remaining: None,
            ahead: VecDeque::new(),
            width,
            sort: None,
            ordered: false,
            probe: false,
        }
    }

    /// Asks CDF to return a list in this order (`sort` of `POST /{resource}/list`); a sorted
    /// list is read as one list, not in partitions (CDF orders each partition on its own).
    pub fn sorted(mut self, sort: Option<Json>) -> Reader {
        if sort.is_some() && self.width > 1 {
            self.steps = VecDeque::from([Step::ItemsList { filter: Map::new(), partition: None, cursor: None }]);
            self.width = 1;
        }
        self.sort = sort;
        self
    }

    /// Reads the ranges of a datapoints read (ascending, without a LIMIT) in up to `requests`
    /// time windows at once, at most `limits::DATAPOINT_WINDOWS` (each holds a page of up to
    /// 100,000 points in memory), as the SDKs do; rows keep timestamp order per series.
    pub fn concurrency(mut self, requests: usize) -> Reader {
        let datapoints = !self.steps.is_empty()
            && self.steps.iter().all(|s| matches!(s, Step::Datapoints { .. } | Step::DatapointsBatch { .. }));
        if datapoints && self.remaining.is_none() {
            self.width = requests.clamp(1, DATAPOINT_WINDOWS);
            self.ordered = true;
            // Count aggregates exist for numeric series only.
            let numeric = !matches!(self.resource.write, WriteKind::Datapoints { is_string: true });
            let long = self.steps.iter().any(|s| match s {
                Step::Datapoints { start, end, .. } => end - start >= PROBE_SPAN,
                Step::DatapointsBatch { items } => items.iter().any(|i| i.end - i.start >= PROBE_SPAN),
                _ => false,
            });
            self.probe = self.width > 1 && numeric && long;
        }
        self
    }

    /// Stops after `limit` rows: requests ask for no more than are still wanted, and no page
    /// is fetched once they have arrived. A limited list is read as one list, not in partitions
    /// (each partition would fetch a page the LIMIT may not need).
    pub fn limit(mut self, limit: Option<u64>) -> Reader {
        self.remaining = limit.map(|n| usize::try_from(n).unwrap_or(usize::MAX));
        if self.remaining.is_some() && self.steps.iter().any(|s| matches!(s, Step::DatapointsBatch { .. })) {
            // One series after the other, each asking for no more rows than are still wanted.
            self.steps = into_ranges(std::mem::take(&mut self.steps)).into_iter().map(SeriesRange::step).collect();
        }
        if self.remaining.is_some() && self.width > 1 && !self.ordered {
            self.steps = VecDeque::from([Step::ItemsList { filter: Map::new(), partition: None, cursor: None }]);
            self.width = 1;
        }
        if self.remaining.is_some() && self.ordered {
            // Windows would fetch pages the LIMIT may not need.
            self.width = 1;
            self.ordered = false;
            self.probe = false;
        }
        self
    }

    /// The page size of a request: `page`, or fewer when a LIMIT wants fewer rows.
    fn page_size(&self, page: usize) -> usize {
        self.remaining.map_or(page, |r| r.clamp(1, page))
    }

    /// The next page of rows; `None` when the plan is exhausted. Pages may be empty. While the
    /// caller consumes it, the pages after it are already being fetched (`width` at once, each a
    /// task on a clone of the session; the memory is `width` pages).
    pub async fn next_page(&mut self, session: &mut Session) -> Result<Option<Vec<Row>>, CdfError> {
        if self.ordered {
            return self.next_ordered_page(session).await;
        }
        let page = match self.ahead.pop_front() {
            Some(mut ahead) => {
                let (steps, remaining, page) = (&mut ahead.0).await.map_err(|e| CdfError::Protocol {
                    message: format!("fetching the next page was lost: {e}"),
                    request_id: None,
                })?;
                // What the fetched step left (its cursor's next page, steps it found) comes next.
                for step in steps.into_iter().rev() {
                    self.steps.push_front(step);
                }
                if self.remaining.is_some() {
                    self.remaining = remaining;
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
        if page.is_some() {
            self.start_fetches(session, self.width).await?;
        }
        Ok(page)
    }

    /// `next_page` of an ordered read: the page first in step order; what it leaves (the rest
    /// of its series' range) is fetched before every page already ahead, in windows over the
    /// free fetch slots.
    async fn next_ordered_page(&mut self, session: &mut Session) -> Result<Option<Vec<Row>>, CdfError> {
        if std::mem::take(&mut self.probe) {
            self.plan_windows(session).await?;
            self.start_fetches(session, self.width).await?;
        }
        let (left, page) = match self.ahead.pop_front() {
            Some(mut ahead) => {
                let (left, _, page) = (&mut ahead.0).await.map_err(|e| CdfError::Protocol {
                    message: format!("fetching the next page was lost: {e}"),
                    request_id: None,
                })?;
                (left, page?)
            }
            None => {
                // The first page, fetched in the caller's `block_on` (a cancel drops it there).
                let Some(first) = self.steps.pop_front() else {
                    return Ok(None);
                };
                let later = std::mem::replace(&mut self.steps, VecDeque::from([first]));
                let page = self.fetch_page(session).await?;
                (std::mem::replace(&mut self.steps, later), page)
            }
        };
        let Some(rows) = page else {
            return Ok(None);
        };
        let free = self.width.saturating_sub(self.ahead.len()).max(1);
        let (next, rest) = windows_after(left, &rows, free, self.ahead.is_empty());
        if let Some(rest) = rest {
            // Nothing later is in flight: the rest of the range is the next step.
            self.steps.push_front(rest);
        }
        if !next.is_empty() {
            session.ensure_token().await?;
            for step in next.into_iter().rev() {
                let ahead = self.spawn_fetch(session, step);
                self.ahead.push_front(ahead);
            }
        }
        self.start_fetches(session, self.width).await?;
        Ok(Some(rows))
    }

    /// Replaces the datapoints steps by time windows of about `window_points(total)` points each,
    /// cut where a count-aggregate probe (one request per 100 series, answered per interval, not
    /// per point) says the points are: windows start side by side at once, series with few
    /// points share requests (`batched`), and a window rarely needs a second page. A series the
    /// probe does not answer for, or a probe CDF refuses, keeps its range as it was.
    async fn plan_windows(&mut self, session: &mut Session) -> Result<(), CdfError> {
        let ranges = into_ranges(std::mem::take(&mut self.steps));
        let mut planned: Vec<(SeriesRange, Option<i64>)> = Vec::with_capacity(ranges.len());
        let chunks: Vec<&[SeriesRange]> = ranges.chunks(LIST_ITEMS).collect();
        // The probes of all chunks go out side by side (a batched join's lookup of 1000 series
        // is one round trip of probes, not ten), each on a clone of the session.
        session.ensure_token().await?;
        let mut probes = Probes(
            chunks
                .iter()
                .map(|chunk| {
                    let mut own = session.clone();
                    let body = probe_request(chunk);
                    tokio::spawn(async move { post(&mut own, "timeseries/data/list".into(), body).await })
                })
                .collect(),
        );
        crate::runtime::let_requests_out().await;
        for (chunk, probe) in chunks.iter().zip(probes.0.iter_mut()) {
            let answer = probe.await.map_err(|e| CdfError::Protocol {
                message: format!("a datapoints count request was lost: {e}"),
                request_id: None,
            })?;
            let answer = match answer {
                Ok(answer) => answer,
                Err(CdfError::Api { status: 400 | 422, .. }) => {
                    session.log.note_handled();
                    planned.extend(chunk.iter().map(|r| (r.clone(), None)));
                    continue;
                }
                Err(e) => return Err(e),
            };
            let counted = answer.get("items").and_then(Json::as_array).map(Vec::as_slice).unwrap_or_default();
            for range in chunk.iter() {
                let found = counted.iter().find(|c| names(&address_of(c), &range.series));
                let Some(c) = found.filter(|_| range.cursor.is_none()) else {
                    planned.push((range.clone(), None));
                    continue;
                };
                let counts = interval_counts(c);
                let total = counts.iter().map(|(_, n)| n).sum::<i64>();
                let cuts = window_cuts(&counts, range.start, range.end, window_points(total, self.width));
                let mut from = range.start;
                let mut intervals = counts.iter().peekable();
                // A series the probe finds empty still gets its one request: CDF computes
                // aggregates after the points arrive, so a count may lag.
                for to in cuts.into_iter().chain([range.end]) {
                    let mut expected = 0;
                    while let Some((_, n)) = intervals.next_if(|(at, _)| *at < to) {
                        expected += n;
                    }
                    let window = SeriesRange { series: range.series.clone(), start: from, end: to, cursor: None };
                    planned.push((window, Some(expected)));
                    from = to;
                }
            }
        }
        self.steps = batched(planned);
        Ok(())
    }

    /// Starts fetching the first steps, each a task on a clone of the session, until `upto`
    /// fetches run (none once a LIMIT has its rows).
    async fn start_fetches(&mut self, session: &mut Session, upto: usize) -> Result<(), CdfError> {
        if self.steps.is_empty() || self.ahead.len() >= upto || self.remaining == Some(0) {
            return Ok(());
        }
        session.ensure_token().await?;
        while self.ahead.len() < upto {
            let Some(step) = self.steps.pop_front() else { break };
            let ahead = self.spawn_fetch(session, step);
            self.ahead.push_back(ahead);
        }
        crate::runtime::let_requests_out().await;
        Ok(())
    }

    /// Fetches the page of `step` as a task on a clone of the session (with a valid token).
    fn spawn_fetch(&self, session: &Session, step: Step) -> Ahead {
        let mut own = session.clone();
        let mut one = Reader {
            resource: self.resource,
            steps: VecDeque::from([step]),
            remaining: self.remaining,
            ahead: VecDeque::new(),
            width: 1,
            sort: self.sort.clone(),
            ordered: false,
            probe: false,
        };
        Ahead(tokio::spawn(async move {
            let page = one.fetch_page(&mut own).await;
            (std::mem::take(&mut one.steps), one.remaining, page)
        }))
    }

    /// Fetches the page of the first step (following a cursor pushes the step back).
    async fn fetch_page(&mut self, session: &mut Session) -> Result<Option<Vec<Row>>, CdfError> {
        if self.remaining == Some(0) {
            return Ok(None);
        }
        let Some(step) = self.steps.pop_front() else {
            return Ok(None);
        };
        let path = self.resource.api_path;
        let mut rows = match step {
            Step::ItemsList { filter, partition, cursor } => {
                let mut body = json!({ "limit": self.page_size(ITEMS_PAGE) });
                if !filter.is_empty() {
                    body["filter"] = Json::Object(filter.clone());
                }
                if let Some(p) = &partition {
                    body["partition"] = json!(p);
                }
                if let Some(sort) = &self.sort {
                    body["sort"] = sort.clone();
                }
                let mut json = post(session, format!("{path}/list"), with_cursor(body, &cursor)).await?;
                if let Some(c) = cursor_of(&json) {
                    self.steps.push_front(Step::ItemsList { filter, partition, cursor: Some(c) });
                }
                item_rows(objects(items_of(&mut json)))
            }
            Step::ItemsByIds { ids } => {
                let mut json =
                    post(session, format!("{path}/byids"), json!({ "items": ids, "ignoreUnknownIds": true })).await?;
                item_rows(objects(items_of(&mut json)))
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
                item_rows(rows)
            }
            Step::Datapoints { series, start, end, cursor } => {
                let item = range_item(&series, start, end, cursor.as_deref(), self.page_size(DATAPOINTS_PAGE));
                let answered = list_datapoints(session, datapoints_request(item)).await?;
                if let Some(c) = answered.first().and_then(|a| a.next_cursor.clone()) {
                    self.steps.push_front(Step::Datapoints { series: series.clone(), start, end, cursor: Some(c) });
                }
                answered.into_iter().flat_map(|a| a.points).map(Row::Point).collect()
            }
            Step::DatapointsBatch { items } => {
                let limit = DATAPOINTS_PAGE / items.len().max(1);
                let body_items = items
                    .iter()
                    .map(|r| Json::Object(range_item(&r.series, r.start, r.end, r.cursor.as_deref(), limit)))
                    .collect();
                let mut body = datapoints_request(Map::new());
                body["items"] = Json::Array(body_items);
                let answered = list_datapoints(session, body).await?;
                // The answer lists the series in the request's order, leaving out unknown ones
                // (`ignoreUnknownIds`); a series may be asked for more than once.
                let mut asked = items.into_iter();
                let mut continuing = Vec::new();
                let mut rows = Vec::with_capacity(answered.iter().map(|a| a.points.len()).sum());
                for a in answered {
                    let Some(range) = asked.find(|r| names(&a.series, &r.series)) else {
                        return Err(CdfError::Protocol {
                            message: format!(
                                "timeseries/data/list answered for a series not asked for: {:?}",
                                a.series
                            ),
                            request_id: None,
                        });
                    };
                    if let Some(c) = a.next_cursor {
                        continuing.push(SeriesRange { cursor: Some(c), ..range });
                    }
                    rows.extend(a.points.into_iter().map(Row::Point));
                }
                // The series with more points go on together, with larger shares of a page.
                match continuing.len() {
                    0 => {}
                    1 => self.steps.push_front(continuing.remove(0).step()),
                    _ => self.steps.push_front(Step::DatapointsBatch { items: continuing }),
                }
                rows
            }
            Step::LatestDatapoint { series, start, before } => {
                let mut item = series.to_json();
                item.insert("before".into(), json!(before));
                let json = post(session, "timeseries/data/latest".into(), datapoints_request(item)).await?;
                let mut points = json_datapoints(&json);
                points.retain(|p| p.timestamp >= start);
                if let Some(p) = points.first() {
                    self.steps.push_front(Step::LatestDatapoint { series, start, before: p.timestamp });
                }
                points.into_iter().map(Row::Point).collect()
            }
            Step::LatestSequenceRow { sequence, start, before } => {
                let mut body = sequence.to_json();
                if let Some(b) = before {
                    body.insert("before".into(), json!(b));
                }
                let json = post(session, "sequences/data/latest".into(), Json::Object(body)).await?;
                let mut rows = sequence_rows(&json);
                rows.retain(|r| r.get("rowNumber").and_then(Json::as_i64).is_some_and(|n| n >= start));
                if let Some(n) = rows.first().and_then(|r| r.get("rowNumber")).and_then(Json::as_i64) {
                    self.steps.push_front(Step::LatestSequenceRow { sequence, start, before: Some(n) });
                }
                item_rows(rows)
            }
            Step::SeriesList { is_string, start, end, cursor } => {
                let body = json!({ "filter": { "isString": is_string }, "limit": ITEMS_PAGE });
                let json = post(session, "timeseries/list".into(), with_cursor(body, &cursor)).await?;
                if let Some(c) = cursor_of(&json) {
                    self.steps.push_front(Step::SeriesList { is_string, start, end, cursor: Some(c) });
                }
                for id in ids_of(&json).into_iter().rev() {
                    self.steps.push_front(Step::Datapoints { series: SeriesRef::Id(id), start, end, cursor: None });
                }
                Vec::new()
            }
            Step::SequenceList { start, end, cursor } => {
                let json = post(session, "sequences/list".into(), with_cursor(json!({ "limit": ITEMS_PAGE }), &cursor))
                    .await?;
                if let Some(c) = cursor_of(&json) {
                    self.steps.push_front(Step::SequenceList { start, end, cursor: Some(c) });
                }
                for id in ids_of(&json).into_iter().rev() {
                    self.steps.push_front(Step::SequenceRows { sequence: SeriesRef::Id(id), start, end, cursor: None });
                }
                Vec::new()
            }
            Step::SequenceRows { sequence, start, end, cursor } => {
                let mut body = sequence.to_json();
                body.insert("start".into(), json!(start));
                if let Some(e) = end {
                    body.insert("end".into(), json!(e));
                }
                body.insert("limit".into(), json!(self.page_size(ROWS_PAGE)));
                let json =
                    post(session, "sequences/data/list".into(), with_cursor(Json::Object(body), &cursor)).await?;
                if let Some(c) = cursor_of(&json) {
                    self.steps.push_front(Step::SequenceRows {
                        sequence: sequence.clone(),
                        start,
                        end,
                        cursor: Some(c),
                    });
                }
                item_rows(sequence_rows(&json))
            }
            Step::RawDatabases { cursor, then } => {
                let mut query = vec![("limit", ITEMS_PAGE.to_string())];
                if let Some(c) = &cursor {
                    query.push(("cursor", c.clone()));
                }
                let mut json =
                    session.request(Method::GET, "raw/dbs", &query, None, Idempotency::Idempotent).await?.json()?;
                if let Some(c) = cursor_of(&json) {
                    self.steps.push_front(Step::RawDatabases { cursor: Some(c), then: then.clone() });
                }
                let dbs = objects(items_of(&mut json));
                if then == RawThen::Rows {
                    item_rows(dbs)
                } else {
                    let then = if then == RawThen::Tables { RawThen::Rows } else { then };
                    for db in &dbs {
                        if let Some(name) = db.get("name").and_then(|n| n.as_str()) {
                            self.steps.push_back(Step::RawTables {
                                database: name.to_string(),
                                cursor: None,
                                then: then.clone(),
                            });
                        }
                    }
                    Vec::new()
                }
            }
            Step::RawTables { database, cursor, then } => {
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
                    self.steps.push_front(Step::RawTables {
                        database: database.clone(),
                        cursor: Some(c),
                        then: then.clone(),
                    });
                }
                let mut rows = objects(items_of(&mut json));
                if let RawThen::TableRows { table } = &then {
                    let names = rows.iter().filter_map(|r| r.get("name").and_then(|n| n.as_str()));
                    let tables: Vec<String> =
                        names.filter(|n| table.as_deref().is_none_or(|t| t == *n)).map(str::to_string).collect();
                    // After this page's tables, before the next page of names.
                    for table in tables.into_iter().rev() {
                        self.steps.push_front(Step::RawRows {
                            database: database.clone(),
                            table,
                            cursor: None,
                            limit: ROWS_PAGE,
                        });
                    }
                    return self.note_rows(session, Vec::new());
                }
                for r in &mut rows {
                    r.insert("_raw_database".into(), json!(database));
                }
                item_rows(rows)
            }
            Step::RawRows { database, table, cursor, limit } => {
                let mut query = vec![("limit", self.page_size(limit).to_string())];
                if let Some(c) = &cursor {
                    query.push(("cursor", c.clone()));
                }
                let p = format!("raw/dbs/{}/tables/{}/rows", encode_segment(&database), encode_segment(&table));
                // A single row past the page cap (bigger than CDF stores) gets the whole
                // max_response_size.
                let page_cap = if limit > 1 { RAW_PAGE_CAP } else { usize::MAX };
                let answer = match session.get_page(&p, &query, page_cap).await {
                    Ok(Some(r)) => r,
                    // Rows bigger than the ones before: the same cursor again, for fewer rows.
                    Ok(None) => {
                        let limit = (limit / 10).max(1);
                        self.steps.push_front(Step::RawRows { database, table, cursor, limit });
                        return Ok(Some(Vec::new()));
                    }
                    Err(CdfError::Api { status: 404, .. }) => {
                        session.log.note_handled();
                        return Ok(Some(Vec::new()));
                    }
                    Err(e) => return Err(e),
                };
                let mut json = answer.json()?;
                let rows = objects(items_of(&mut json));
                if let Some(c) = cursor_of(&json) {
                    let limit = raw_page_limit(limit, rows.len(), answer.body.len());
                    self.steps.push_front(Step::RawRows {
                        database: database.clone(),
                        table: table.clone(),
                        cursor: Some(c),
                        limit,
                    });
                }
                drop(answer);
                raw_rows(rows, &database, &table)
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
        if let Some(remaining) = self.remaining.as_mut() {
            rows.truncate(*remaining);
            *remaining -= rows.len();
        }
        self.note_rows(session, rows)
    }

    /// Each step is one request; its rows are what it returned.
    fn note_rows(&self, session: &mut Session, rows: Vec<Row>) -> Result<Option<Vec<Row>>, CdfError> {
        session.log.note_rows_received(rows.len());
        Ok(Some(rows))
    }
}

/// What follows a datapoints page that left the rest of its range (`left`: its cursor's next
/// page): with `free` fetch slots, that rest as up to `free` time windows to fetch now, each as
/// long as a full page of the series' points would span at the density of the page's (a batch
/// page holds a share of a page per series). When `nothing_after`
/// is in flight, what lies past them is a step of its own (`rest`, fetched as a slot frees up);
/// otherwise the last window runs to the range's end. A window with more points than a page
/// follows its cursor. Anything else is left as it is.
fn windows_after(
    left: VecDeque<Step>,
    page: &[Row],
    free: usize,
    nothing_after: bool,
) -> (VecDeque<Step>, Option<Step>) {
    if free < 2 || left.len() != 1 {
        return (left, None);
    }
    let Some(Step::Datapoints { series, end, cursor: Some(_), .. }) = left.front() else {
        return (left, None);
    };
    let points = || page.iter().filter_map(|r| if let Row::Point(p) = r { Some(p) } else { None });
    let stamps = || points().filter(|p| names(&p.series, series)).map(|p| p.timestamp);
    let (Some(first), Some(last)) = (stamps().next(), stamps().next_back()) else {
        return (left, None);
    };
    let own = stamps().count();
    let share = if own < points().count() { (DATAPOINTS_PAGE / own.max(1)) as i64 } else { 1 };
    let span = last.saturating_sub(first).saturating_add(1).saturating_mul(share).max(1);
    let window = |start: i64, end: i64| Step::Datapoints { series: series.clone(), start, end, cursor: None };
    let mut windows = VecDeque::with_capacity(free);
    let mut start = last.saturating_add(1);
    while start < *end && windows.len() < free {
        let last_one = windows.len() + 1 == free && !nothing_after;
        let window_end = if last_one { *end } else { start.saturating_add(span).min(*end) };
        windows.push_back(window(start, window_end));
        start = window_end;
    }
    let rest = (start < *end).then(|| window(start, *end));
    (windows, rest)
}

/// A read probes first when a range spans at least this: shorter ones hold less than a page at
/// up to one point a second (100,000 points are 28 hours), where the probe's round trip would
/// only add to the one request the read needs.
const PROBE_SPAN: i64 = 86_400_000;
/// Items per `/timeseries/data/list` request (CDF's maximum): series per count probe or batch.
/// A batch's even split of a page gives each at least 1,000 points.
const LIST_ITEMS: usize = 100;
/// Intervals a probe asks for per series (CDF's aggregate limit); it aims at half as many.
const PROBE_INTERVALS: i64 = 10_000;
/// Fewer points than this are not worth a window of their own (a request's latency).
const MIN_WINDOW_POINTS: i64 = 10_000;

/// A granularity CDF accepts that cuts `[start, end)` into at most about 5,000 intervals.
fn probe_granularity(start: i64, end: i64) -> String {
    let per = ceil_div(end.saturating_sub(start), PROBE_INTERVALS / 2);
    for (unit, ms, most) in [("s", 1_000, 120), ("m", 60_000, 120), ("h", 3_600_000, 48)] {
        if per <= ms * most {
            return format!("{}{unit}", ceil_div(per, ms));
        }
    }
    format!("{}d", ceil_div(per, 86_400_000))
}

/// `a / b` rounded up, at least 1 (`a`, `b` > 0 here; `i64::div_ceil` is not stable).
fn ceil_div(a: i64, b: i64) -> i64 {
    (a.max(1) as u64).div_ceil(b.max(1) as u64) as i64
}

/// The (interval start, count) pairs of one series of a count-aggregate answer, in time order.
fn interval_counts(item: &Json) -> Vec<(i64, i64)> {
    let points = item.get("datapoints").and_then(Json::as_array).into_iter().flatten();
    let mut counts: Vec<(i64, i64)> = points
        .filter_map(|p| Some((p.get("timestamp")?.as_i64()?, p.get("count").and_then(Json::as_i64).unwrap_or(0))))
        .collect();
    counts.sort_unstable();
    counts
}

/// Points per window of a series with `total` points read over `slots` fetch slots: two rounds
/// of windows (the next window's request goes out as PostgreSQL consumes a page), no window
/// above a page, none below `MIN_WINDOW_POINTS` unless the series has fewer.
fn window_points(total: i64, slots: usize) -> i64 {
    let two_rounds = ceil_div(total, 2 * slots.max(1) as i64);
    two_rounds.max(MIN_WINDOW_POINTS).min(DATAPOINTS_PAGE as i64)
}

/// Where to cut `[start, end)` into windows of about `per_window` points, from interval counts:
/// at interval starts strictly inside the range, so the windows cover it without gap. An interval
/// with more than `per_window` points is a window of its own (it follows its cursor).
fn window_cuts(counts: &[(i64, i64)], start: i64, end: i64, per_window: i64) -> Vec<i64> {
    let mut cuts = Vec::new();
    let mut in_window = 0;
    for &(at, n) in counts {
        if in_window > 0 && in_window + n > per_window && at > cuts.last().copied().unwrap_or(start) && at < end {
            cuts.push(at);
            in_window = 0;
        }
        in_window += n;
    }
    cuts
}

/// The `limit` of the next RAW rows page: as many rows as fit `RAW_PAGE_BYTES` at the bytes per
/// row of the page just read, between 1 and CDF's 10,000.
fn raw_page_limit(limit: usize, rows: usize, bytes: usize) -> usize {
    if rows == 0 {
        return limit;
    }
    let per_row = bytes.div_ceil(rows).max(1);
    (RAW_PAGE_BYTES / per_row).clamp(1, ROWS_PAGE)
}

/// The ids of the objects of a list response.
fn ids_of(json: &Json) -> Vec<i64> {
    json.get("items")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
        .filter_map(|i| i.get("id").and_then(Json::as_i64))
        .collect()
}

/// The body of a `/timeseries/data/list` or `/latest` request for one series. A table shows
/// every stored point with its status: CDF hides bad and uncertain points and leaves statuses
/// out unless asked.
fn datapoints_request(item: Map<String, Json>) -> Json {
    json!({
        "items": [item],
        "ignoreUnknownIds": true,
        "includeStatus": true,
        "ignoreBadDataPoints": false,
        "treatUncertainAsBad": false,
    })
}

/// The media type of CDF's protobuf answers.
const PROTOBUF: &str = "application/protobuf";

/// The series of one `/timeseries/data/list` answer, each with its points and the cursor of its
/// next page. Asks for protobuf, as the SDKs do (no JSON tree of 100,000 points to build and
/// walk); reads JSON if that is what comes.
async fn list_datapoints(session: &mut Session, body: Json) -> Result<Vec<SeriesPoints>, CdfError> {
    let path = "timeseries/data/list";
    let answer = session.post_accepting(path, &body, PROTOBUF, Idempotency::Idempotent).await?;
    if !is_protobuf(&answer) {
        let json = answer.json()?;
        return Ok(json.get("items").and_then(Json::as_array).into_iter().flatten().map(json_series).collect());
    }
    decode_datapoint_list(&answer.body).map_err(|e| CdfError::Protocol {
        message: format!("{path}: the protobuf answer is malformed: {}", e.0),
        request_id: answer.request_id.clone(),
    })
}

fn is_protobuf(answer: &ApiResponse) -> bool {
    answer.content_type.as_deref().is_some_and(|t| t.starts_with(PROTOBUF) || t.starts_with("application/x-protobuf"))
}

/// The points of a JSON `/timeseries/data/list` or `/latest` answer.
fn json_datapoints(json: &Json) -> Vec<Point> {
    let items = json.get("items").and_then(Json::as_array).into_iter().flatten();
    items.flat_map(|s| json_series(s).points).collect()
}

/// Which series an item of a JSON answer is.
fn address_of(item: &Json) -> SeriesAddress {
    let text = |v: &Json| v.as_str().map(str::to_string);
    let instance = item.get("instanceId");
    SeriesAddress {
        id: item.get("id").and_then(Json::as_i64),
        external_id: item.get("externalId").and_then(text),
        instance_space: instance.and_then(|i| i.get("space")).and_then(text),
        instance_external_id: instance.and_then(|i| i.get("externalId")).and_then(text),
    }
}

/// Whether `address` (from CDF's answer, which names a series every way it can) is `series`.
fn names(address: &SeriesAddress, series: &SeriesRef) -> bool {
    match series {
        SeriesRef::Id(id) => address.id == Some(*id),
        SeriesRef::ExternalId(x) => address.external_id.as_deref() == Some(x.as_str()),
        SeriesRef::InstanceId { space, external_id } => {
            address.instance_space.as_deref() == Some(space.as_str())
                && address.instance_external_id.as_deref() == Some(external_id.as_str())
        }
    }
}

/// One series of a JSON `/timeseries/data/list` or `/latest` answer. A numeric series spells
/// NaN and the infinities as strings.
fn json_series(s: &Json) -> SeriesPoints {
    let series = std::sync::Arc::new(address_of(s));
    let mut points = Vec::new();
    {
        let is_string = s.get("isString").and_then(Json::as_bool).unwrap_or(false);
        for p in s.get("datapoints").and_then(Json::as_array).into_iter().flatten() {
            let value = match p.get("value") {
                None | Some(Json::Null) => PointValue::Missing,
                Some(Json::String(t)) if !is_string => {
                    cdf_tables::points::non_finite_of(t).map_or_else(|| PointValue::Text(t.clone()), PointValue::Double)
                }
                Some(Json::String(t)) => PointValue::Text(t.clone()),
                Some(Json::Number(n)) => n.as_f64().map_or(PointValue::Missing, PointValue::Double),
                Some(other) => PointValue::Text(other.to_string()),
            };
            let status = p.get("status").map(|st| PointStatus {
                code: st.get("code").and_then(Json::as_i64).unwrap_or(0),
                symbol: st.get("symbol").and_then(Json::as_str).unwrap_or("").to_string(),
            });
            let timestamp = p.get("timestamp").and_then(Json::as_i64).unwrap_or(0);
            points.push(Point { series: series.clone(), timestamp, value, status });
        }
    }
    SeriesPoints { next_cursor: cursor_of(s), series, points }
}

/// The rows of a `/sequences/data/list` or `/latest` response, values keyed by column.
fn sequence_rows(json: &Json) -> Vec<Map<String, Json>> {
    let columns: Vec<String> = json
        .get("columns")
        .and_then(|c| c.as_array())
        .map(|cs| {
            cs.iter()
                .map(|c| c.get("externalId").and_then(|x| x.as_str()).or(c.as_str()).unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default();
    let id = json.get("id").cloned().unwrap_or(Json::Null);
    let xid = json.get("externalId").cloned().unwrap_or(Json::Null);
    let mut rows = Vec::new();
    for r in json.get("rows").and_then(|r| r.as_array()).cloned().unwrap_or_default() {
        let values: Map<String, Json> = columns
            .iter()
            .cloned()
            .zip(r.get("values").and_then(|v| v.as_array()).cloned().unwrap_or_default())
            .collect();
        let mut row = Map::new();
        row.insert("id".into(), id.clone());
        row.insert("external_id".into(), xid.clone());
        row.insert("rowNumber".into(), r.get("rowNumber").cloned().unwrap_or(Json::Null));
        row.insert("values".into(), Json::Object(values));
        rows.push(row);
    }
    rows
}

async fn post(session: &mut Session, path: String, body: Json) -> Result<Json, CdfError> {
    session.post_json(&path, &[], &body, Idempotency::Idempotent).await?.json()
}

fn raw_rows(mut rows: Vec<Map<String, Json>>, database: &str, table: &str) -> Vec<Row> {
    for r in &mut rows {
        r.insert("_raw_database".into(), json!(database));
        r.insert("_raw_table".into(), json!(table));
    }
    item_rows(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ranges(steps: &VecDeque<Step>) -> Vec<(i64, i64, bool)> {
        steps
            .iter()
            .map(|s| match s {
                Step::Datapoints { start, end, cursor, .. } => (*start, *end, cursor.is_some()),
                other => panic!("not a datapoints step: {other:?}"),
            })
            .collect()
    }

    #[test]
    fn a_full_datapoints_page_splits_the_rest_of_its_range_into_windows() {
        let series = std::sync::Arc::new(SeriesAddress { external_id: Some("s".into()), ..Default::default() });
        let page: Vec<Row> = (0..100)
            .map(|t| {
                Row::Point(Point { series: series.clone(), timestamp: t, value: PointValue::Missing, status: None })
            })
            .collect();
        let left = |end: i64| {
            let series = SeriesRef::ExternalId("s".into());
            VecDeque::from([Step::Datapoints { series, start: 0, end, cursor: Some("d99".into()) }])
        };
        // Windows as long as the page's span; the rest queued behind them.
        let (windows, rest) = windows_after(left(1000), &page, 4, true);
        assert_eq!(ranges(&windows), vec![(100, 200, false), (200, 300, false), (300, 400, false), (400, 500, false)]);
        assert_eq!(ranges(&VecDeque::from_iter(rest)), vec![(500, 1000, false)]);
        // Pages of later steps in flight: the last window runs to the end.
        let (windows, rest) = windows_after(left(1000), &page, 3, false);
        assert_eq!(ranges(&windows), vec![(100, 200, false), (200, 300, false), (300, 1000, false)]);
        assert!(rest.is_none());
        // Cut at the range's end.
        let (windows, rest) = windows_after(left(250), &page, 4, true);
        assert_eq!(ranges(&windows), vec![(100, 200, false), (200, 250, false)]);
        assert!(rest.is_none());
        // One free slot: the cursor's next page, as without windows.
        let (windows, rest) = windows_after(left(1000), &page, 1, true);
        assert_eq!(ranges(&windows), vec![(0, 1000, true)]);
        assert!(rest.is_none());
    }

    #[test]
    fn a_page_of_a_batch_spans_windows_by_its_own_series_points() {
        let address =
            |x: &str| std::sync::Arc::new(SeriesAddress { external_id: Some(x.into()), ..Default::default() });
        let (s, other) = (address("s"), address("other"));
        let point = |series: &std::sync::Arc<SeriesAddress>, timestamp| {
            Row::Point(Point { series: series.clone(), timestamp, value: PointValue::Missing, status: None })
        };
        // 1,000 points of "s" (its share of the request) over [0, 1000), then another series'.
        let page: Vec<Row> = (0..1000).map(|t| point(&s, t)).chain((0..5).map(|t| point(&other, t * 10_000))).collect();
        let series = SeriesRef::ExternalId("s".into());
        let left =
            VecDeque::from([Step::Datapoints { series, start: 0, end: 1_000_000_000, cursor: Some("c".into()) }]);
        let (windows, rest) = windows_after(left, &page, 2, true);
        // A full page at that density spans 100 times as long.
        assert_eq!(ranges(&windows), vec![(1000, 101_000, false), (101_000, 201_000, false)]);
        assert_eq!(ranges(&VecDeque::from_iter(rest)), vec![(201_000, 1_000_000_000, false)]);
    }

    #[test]
    fn small_ranges_share_requests_and_a_series_is_in_a_batch_once() {
        let range = |x: &str, start| SeriesRange {
            series: SeriesRef::ExternalId(x.into()),
            start,
            end: start + 10,
            cursor: None,
        };
        let shape = |steps: &VecDeque<Step>| -> Vec<Vec<(String, i64)>> {
            steps
                .iter()
                .map(|s| {
                    let items = match s {
                        Step::DatapointsBatch { items } => items.clone(),
                        other => into_ranges([other.clone()]),
                    };
                    let name = |r: &SeriesRange| match &r.series {
                        SeriesRef::ExternalId(x) => x.clone(),
                        other => panic!("{other:?}"),
                    };
                    items.iter().map(|r| (name(r), r.start)).collect()
                })
                .collect()
        };
        // Unknown counts: 100 items per request.
        let steps = batched((0..250).map(|i| (range(&format!("s{i}"), 0), None)));
        assert_eq!(shape(&steps).iter().map(Vec::len).collect::<Vec<_>>(), vec![100, 100, 50]);
        // Counted: as many as the even split covers; a full window alone; a series' second
        // window after the batch holding its first.
        let steps = batched([
            (range("a", 0), Some(3_000)),
            (range("b", 0), Some(3_000)),
            (range("c", 0), Some(3_000)),
            (range("c", 10), Some(10)),
            (range("d", 0), Some(60_000)),
            (range("e", 0), Some(0)),
        ]);
        let expected: Vec<Vec<(String, i64)>> = vec![
            vec![("a".into(), 0), ("b".into(), 0), ("c".into(), 0)],
            vec![("c".into(), 10)],
            vec![("d".into(), 0)],
            vec![("e".into(), 0)],
        ];
        assert_eq!(shape(&steps), expected);
        assert!(matches!(steps[1], Step::Datapoints { .. }), "a batch of one is a plain request");
        // 4,000 points each: 25 per request (a share of 100,000 / 25 covers them).
        let steps = batched((0..40).map(|i| (range(&format!("s{i}"), 0), Some(4_000))));
        assert_eq!(shape(&steps).iter().map(Vec::len).collect::<Vec<_>>(), vec![25, 15]);
    }

    #[test]
    fn raw_pages_are_sized_by_the_bytes_per_row_seen() {
        // Ordinary rows: CDF's full page.
        assert_eq!(raw_page_limit(ROWS_PAGE, 10_000, 2_000_000), ROWS_PAGE);
        // 100 kB rows: about 40 per page.
        assert_eq!(raw_page_limit(ROWS_PAGE, 100, 100 * 100_000), RAW_PAGE_BYTES / 100_000);
        // Rows of several MB: one at a time.
        assert_eq!(raw_page_limit(40, 2, 12_000_000), 1);
        // An empty page tells nothing.
        assert_eq!(raw_page_limit(7, 0, 20), 7);
    }
}
