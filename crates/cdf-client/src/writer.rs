//! Buffers the rows of one statement and sends them to CDF in requests as large as each endpoint
//! allows, grouping rows by series or RAW table where the API wants that.
//!
//! Memory is bounded by one request's worth of rows: `push` says when the buffer is full and the
//! caller flushes before pushing more.

use std::collections::{HashMap, HashSet};

use cdf_tables::limits::{
    CHANGES_PER_REQUEST, DATAPOINTS_PER_REQUEST, RAW_NAMES_PER_REQUEST, RAW_ROWS_PER_REQUEST, SEQUENCES_PER_REQUEST,
    SEQUENCE_ROWS_PER_REQUEST, SEQUENCE_VALUES_PER_REQUEST, SERIES_PER_REQUEST,
};
use cdf_tables::{Change, DeleteKind, InsertMode, Resource, SeriesRef, WriteKind, WriteRow};
use serde_json::{json, Map, Value as Json};

use crate::error::CdfError;
use crate::session::{encode_segment, Idempotency, Session};

/// Rows buffered across all RAW tables of a statement before everything is flushed.
const RAW_ROWS_BUFFERED: usize = 5 * RAW_ROWS_PER_REQUEST;

/// A request CDF rejected, with what the statement had already written before it.
#[derive(Debug, Clone, PartialEq)]
pub struct WriteError {
    pub error: CdfError,
    /// Rows CDF accepted earlier in this statement (they stay: CDF has no transactions).
    pub rows_written: u64,
    /// Rows in the rejected request.
    pub rows_in_failed_chunk: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum GroupKey {
    Database(String),
    RawTable(String, String),
    Series(SeriesRef),
    Sequence(SeriesRef, Vec<String>),
}

type PendingItem = Map<String, Json>;

/// `{"items": [...]}` serialized straight from the buffered items, without copying them.
#[derive(serde::Serialize)]
struct ItemsBody<'a> {
    items: &'a [PendingItem],
}

impl ItemsBody<'_> {
    fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("serializing JSON cannot fail")
    }
}

pub struct TableWriter {
    resource: &'static Resource,
    mode: InsertMode,
    items: Vec<PendingItem>,
    /// Grouped entries, kept serialized: a JSON text is a few dozen bytes where a parsed
    /// object is several hundred, and 100,000 datapoints wait here before each request.
    groups: Vec<(GroupKey, Vec<String>)>,
    group_index: HashMap<GroupKey, usize>,
    buffered_rows: usize,
    buffered_values: usize,
    /// Position in `items` of each buffered external id: CDF refuses an external id twice in
    /// one request, so a repeat is merged here (upsert) or dropped (ignore), as separate
    /// requests would end, whatever the chunking.
    item_index: HashMap<String, usize>,
    /// Rows merged into an earlier row of the buffer; written when the buffer is.
    merged_rows: u64,
    /// Rows pushed so far, and the statement row number of each buffered item, so that CDF's
    /// `items[N]` in an error can be told as the statement's row.
    rows_pushed: u64,
    item_rows: Vec<u64>,
    /// Rows CDF accepted (created, updated or overwritten) so far.
    pub rows_written: u64,
}

impl TableWriter {
    pub fn new(resource: &'static Resource, mode: InsertMode) -> TableWriter {
        TableWriter {
            resource,
            mode: resource.effective_insert_mode(mode),
            items: Vec::new(),
            groups: Vec::new(),
            group_index: HashMap::new(),
            buffered_rows: 0,
            buffered_values: 0,
            item_index: HashMap::new(),
            merged_rows: 0,
            rows_pushed: 0,
            item_rows: Vec::new(),
            rows_written: 0,
        }
    }

    pub fn buffered(&self) -> usize {
        self.buffered_rows
    }

    /// Adds an entry to its group; returns the group's size.
    fn push_grouped(&mut self, key: GroupKey, entry: Json) -> usize {
        let entry = entry.to_string();
        match self.group_index.get(&key) {
            Some(&i) => {
                self.groups[i].1.push(entry);
                self.groups[i].1.len()
            }
            None => {
                self.group_index.insert(key.clone(), self.groups.len());
                self.groups.push((key, vec![entry]));
                1
            }
        }
    }

    /// Whether the buffer must be sent before `row` joins it: in create mode a repeated external
    /// id goes in a later request, where CDF refuses it as it would any existing one.
    pub fn needs_flush_before(&self, row: &WriteRow) -> bool {
        self.mode == InsertMode::Create && Self::external_id(row).is_some_and(|x| self.item_index.contains_key(x))
    }

    fn external_id(row: &WriteRow) -> Option<&str> {
        match row {
            WriteRow::Item(item) => item.get("externalId").and_then(Json::as_str),
            _ => None,
        }
    }

    /// Adds a row; true when the buffer holds a full request and must be flushed now.
    pub fn push(&mut self, row: WriteRow) -> bool {
        self.push_numbered(row, self.rows_pushed + 1)
    }

    /// As `push`, for rows that reach the writer out of statement order (asset hierarchies):
    /// `statement_row` is the row an error about this item names.
    pub fn push_numbered(&mut self, row: WriteRow, statement_row: u64) -> bool {
        self.rows_pushed = self.rows_pushed.max(statement_row);
        if let (WriteRow::Item(item), Some(xid)) = (&row, Self::external_id(&row)) {
            if let Some(&at) = self.item_index.get(xid) {
                // Upsert: what create-then-update would leave (the later row's values win);
                // ignore: the first row stays. (Create flushed first: needs_flush_before.)
                if self.mode == InsertMode::Upsert {
                    let earlier = &mut self.items[at];
                    earlier.extend(item.iter().map(|(k, v)| (k.clone(), v.clone())));
                }
                self.merged_rows += 1;
                return false;
            }
            self.item_index.insert(xid.to_string(), self.items.len());
        }
        self.buffered_rows += 1;
        let mut group_size = 0;
        match row {
            WriteRow::Item(item) => {
                self.items.push(item);
                self.item_rows.push(statement_row);
            }
            WriteRow::RawTable { database, table } => {
                self.push_grouped(GroupKey::Database(database), Json::Object(table));
            }
            WriteRow::RawRow { database, table, row } => {
                group_size = self.push_grouped(GroupKey::RawTable(database, table), Json::Object(row));
            }
            WriteRow::Datapoint { series, point } => {
                self.push_grouped(GroupKey::Series(series), Json::Object(point));
            }
            WriteRow::SequenceRow { sequence, row_number, values } => {
                let columns: Vec<String> = values.keys().cloned().collect();
                self.buffered_values += columns.len();
                let values: Vec<Json> = values.into_values().collect();
                self.push_grouped(
                    GroupKey::Sequence(sequence, columns),
                    json!({ "rowNumber": row_number, "values": values }),
                );
            }
        }
        match self.resource.write {
            // Each RAW table is its own request: flush when one is full, or when many tables
            // together hold more than memory should.
            WriteKind::RawRows => group_size >= RAW_ROWS_PER_REQUEST || self.buffered_rows >= RAW_ROWS_BUFFERED,
            WriteKind::Datapoints { .. } => {
                self.buffered_rows >= DATAPOINTS_PER_REQUEST || self.groups.len() >= SERIES_PER_REQUEST
            }
            WriteKind::SequenceRows => {
                self.buffered_rows >= SEQUENCE_ROWS_PER_REQUEST
                    || self.buffered_values + 400 > SEQUENCE_VALUES_PER_REQUEST
                    || self.groups.len() >= SEQUENCES_PER_REQUEST
            }
            _ => self.buffered_rows >= self.resource.rows_per_request(),
        }
    }

    /// Sends everything buffered.
    pub async fn flush(&mut self, session: &mut Session) -> Result<(), WriteError> {
        let result = self.flush_inner(session).await;
        if result.is_ok() {
            self.rows_written += self.merged_rows;
        }
        self.merged_rows = 0;
        self.item_index.clear();
        self.items.clear();
        self.item_rows.clear();
        self.groups.clear();
        self.group_index.clear();
        self.buffered_rows = 0;
        self.buffered_values = 0;
        result
    }

    fn fail(&self, error: CdfError, rows: usize) -> WriteError {
        WriteError { error, rows_written: self.rows_written, rows_in_failed_chunk: rows }
    }

    async fn flush_inner(&mut self, session: &mut Session) -> Result<(), WriteError> {
        let resource = self.resource;
        match resource.write {
            WriteKind::Items { max_items } => {
                let mut items = std::mem::take(&mut self.items);
                let mut rows = std::mem::take(&mut self.item_rows);
                while !items.is_empty() {
                    let rest = items.split_off(items.len().min(max_items));
                    let rest_rows = rows.split_off(rows.len().min(max_items));
                    self.create_items(session, resource.api_path, items, rows).await?;
                    (items, rows) = (rest, rest_rows);
                }
            }
            WriteKind::RawDatabases => {
                let items = std::mem::take(&mut self.items);
                for chunk in items.chunks(RAW_NAMES_PER_REQUEST) {
                    let names: Vec<Json> = chunk.iter().map(|i| Json::Object(i.clone())).collect();
                    self.create_names(session, "raw/dbs".into(), names, &[]).await?;
                }
            }
            WriteKind::File => {
                let items = std::mem::take(&mut self.items);
                // One per request; `overwrite=true` makes it an upsert by external id.
                for item in items {
                    self.write_returning(session, item).await?;
                }
            }
            WriteKind::RawTables => {
                for (key, tables) in std::mem::take(&mut self.groups) {
                    let GroupKey::Database(db) = key else { continue };
                    let path = format!("raw/dbs/{}/tables", encode_segment(&db));
                    let tables: Vec<Json> = tables.iter().filter_map(|t| serde_json::from_str(t).ok()).collect();
                    for chunk in tables.chunks(RAW_NAMES_PER_REQUEST) {
                        self.create_names(session, path.clone(), chunk.to_vec(), &[("ensureParent", "true".into())])
                            .await?;
                    }
                }
            }
            WriteKind::RawRows => {
                for (key, rows) in std::mem::take(&mut self.groups) {
                    let GroupKey::RawTable(db, table) = key else { continue };
                    let path = format!("raw/dbs/{}/tables/{}/rows", encode_segment(&db), encode_segment(&table));
                    for chunk in rows.chunks(RAW_ROWS_PER_REQUEST) {
                        let body = items_body(chunk.iter().map(String::as_str));
                        self.send(
                            session,
                            &path,
                            &[("ensureParent", "true".into())],
                            body,
                            Idempotency::Idempotent,
                            chunk.len(),
                        )
                        .await?;
                    }
                }
            }
            WriteKind::Datapoints { .. } => {
                let groups = std::mem::take(&mut self.groups);
                let n = groups.iter().map(|(_, pts)| pts.len()).sum();
                let items: Vec<String> = groups
                    .into_iter()
                    .filter_map(|(key, points)| match key {
                        GroupKey::Series(series) => {
                            Some(object_with_arrays(series.to_json(), &[("datapoints", &points)]))
                        }
                        _ => None,
                    })
                    .collect();
                if !items.is_empty() {
                    let body = items_body(items.iter().map(String::as_str));
                    self.send(session, "timeseries/data", &[], body, Idempotency::Idempotent, n).await?;
                }
            }
            WriteKind::SequenceRows => {
                let groups = std::mem::take(&mut self.groups);
                let n = groups.iter().map(|(_, rows)| rows.len()).sum();
                let items: Vec<String> = groups
                    .into_iter()
                    .filter_map(|(key, rows)| match key {
                        GroupKey::Sequence(sequence, columns) => {
                            let mut item = sequence.to_json();
                            item.insert("columns".into(), json!(columns));
                            Some(object_with_arrays(item, &[("rows", &rows)]))
                        }
                        _ => None,
                    })
                    .collect();
                if !items.is_empty() {
                    let body = items_body(items.iter().map(String::as_str));
                    self.send(session, "sequences/data", &[], body, Idempotency::Idempotent, n).await?;
                }
            }
        }
        Ok(())
    }

    /// Writes one item at once (RETURNING, files) and returns the object CDF holds afterwards:
    /// created, or updated (upsert), or `None` when skipped as existing (ignore).
    pub async fn write_returning(
        &mut self,
        session: &mut Session,
        item: Map<String, Json>,
    ) -> Result<Option<Map<String, Json>>, WriteError> {
        let first_object = |json: &Json| -> Option<Map<String, Json>> {
            let obj = json.get("items").and_then(|i| i.get(0)).unwrap_or(json);
            obj.as_object().cloned()
        };
        let path = self.resource.api_path;
        // Resent after a lost answer, a keyed upsert (overwrite=true for files) or ignore ends
        // the same; a create without external id could create twice.
        let idempotency = if self.mode != InsertMode::Create && item.contains_key("externalId") {
            Idempotency::Idempotent
        } else {
            Idempotency::NotIdempotent
        };
        let created = match self.resource.write {
            WriteKind::File => {
                let overwrite = (self.mode == InsertMode::Upsert).to_string();
                session.post_json("files", &[("overwrite", overwrite)], &Json::Object(item.clone()), idempotency).await
            }
            _ => {
                let body = json!({ "items": [Json::Object(item.clone())] });
                session.post_json(path, &[], &body, idempotency).await
            }
        };
        let response = match created {
            Ok(r) => r,
            Err(CdfError::Api { status: 409, .. }) if self.mode == InsertMode::Ignore => {
                session.log.note_handled();
                return Ok(None);
            }
            Err(CdfError::Api { status: 409, .. })
                if self.mode == InsertMode::Upsert && item.contains_key("externalId") =>
            {
                session.log.note_handled();
                let body = json!({ "items": [update_patch(self.resource, &item)] });
                match session.post_json(&format!("{path}/update"), &[], &body, Idempotency::Idempotent).await {
                    Ok(r) => r,
                    Err(e) => return Err(self.fail(e, 1)),
                }
            }
            Err(e) => return Err(self.fail(e, 1)),
        };
        session.log.note_rows_sent(1);
        self.rows_written += 1;
        let json = response.json().map_err(|e| self.fail(e, 0))?;
        Ok(first_object(&json))
    }

    /// One request whose rows are all written or all rejected.
    #[allow(clippy::too_many_arguments)]
    async fn send(
        &mut self,
        session: &mut Session,
        path: &str,
        query: &[(&str, String)],
        body: Vec<u8>,
        idempotency: Idempotency,
        rows: usize,
    ) -> Result<(), WriteError> {
        match session.request(reqwest::Method::POST, path, query, Some(body), idempotency).await {
            Ok(_) => {
                session.log.note_rows_sent(rows);
                self.rows_written += rows as u64;
                Ok(())
            }
            Err(e) => Err(self.fail(e, rows)),
        }
    }

    /// Creates items; on 409 `duplicated` updates (upsert) or skips (ignore) the existing ones
    /// and creates the rest.
    async fn create_items(
        &mut self,
        session: &mut Session,
        path: &str,
        mut chunk: Vec<PendingItem>,
        mut rows: Vec<u64>,
    ) -> Result<(), WriteError> {
        // Existing objects are updated after the rest is created: an asset moved below a new
        // parent in the same request needs that parent to exist first.
        let mut existing = Vec::new();
        // A few rounds cover rows created concurrently by someone else between our requests.
        for _round in 0..4 {
            if chunk.is_empty() {
                return self.update_existing(session, path, existing).await;
            }
            let body = ItemsBody { items: &chunk }.to_bytes();
            // A resent create is harmless when a duplicate answer leads to update or skip, which
            // needs every item to carry an external id.
            let all_keyed = chunk.iter().all(|i| i.contains_key("externalId"));
            let idempotency = if self.mode != InsertMode::Create && all_keyed {
                Idempotency::Idempotent
            } else {
                Idempotency::NotIdempotent
            };
            let err = match session.request(reqwest::Method::POST, path, &[], Some(body), idempotency).await {
                Ok(_) => {
                    session.log.note_rows_sent(chunk.len());
                    self.rows_written += chunk.len() as u64;
                    return self.update_existing(session, path, existing).await;
                }
                Err(e) => e,
            };
            let duplicated = match &err {
                CdfError::Api { status: 409, duplicated, .. } if self.mode != InsertMode::Create => {
                    duplicated_external_ids(duplicated)
                }
                _ => return Err(self.fail(name_statement_rows(err, &rows), chunk.len())),
            };
            let is_dup = |item: &PendingItem| {
                item.get("externalId").and_then(|x| x.as_str()).is_some_and(|x| duplicated.contains(x))
            };
            rows = chunk.iter().zip(rows).filter(|(item, _)| !is_dup(item)).map(|(_, r)| r).collect();
            let (dups, rest): (Vec<PendingItem>, Vec<PendingItem>) = chunk.into_iter().partition(is_dup);
            if dups.is_empty() {
                return Err(self.fail(err, rest.len()));
            }
            session.log.note_handled();
            // Ignore skips the existing rows; upsert updates them.
            if self.mode == InsertMode::Upsert {
                existing.extend(dups);
            }
            chunk = rest;
        }
        if chunk.is_empty() {
            self.update_existing(session, path, existing).await
        } else {
            Err(self.fail(
                CdfError::Protocol {
                    message: "CDF kept reporting duplicates; giving up after 4 rounds".into(),
                    request_id: None,
                },
                chunk.len(),
            ))
        }
    }

    /// The `/update` of an upsert's rows that CDF reported as existing.
    async fn update_existing(
        &mut self,
        session: &mut Session,
        path: &str,
        existing: Vec<PendingItem>,
    ) -> Result<(), WriteError> {
        if existing.is_empty() {
            return Ok(());
        }
        let updates: Vec<Json> = existing.iter().map(|item| update_patch(self.resource, item)).collect();
        let n = updates.len();
        let body = json!({ "items": updates });
        self.send(session, &format!("{path}/update"), &[], body.to_string().into_bytes(), Idempotency::Idempotent, n)
            .await
    }

    /// Creates RAW databases or tables; existing ones are fine unless insert_mode is create.
    async fn create_names(
        &mut self,
        session: &mut Session,
        path: String,
        names: Vec<Json>,
        query: &[(&str, String)],
    ) -> Result<(), WriteError> {
        let n = names.len();
        let mut pending = names;
        for _round in 0..4 {
            if pending.is_empty() {
                return Ok(());
            }
            let body = json!({ "items": pending });
            match session.post_json(&path, query, &body, Idempotency::NotIdempotent).await {
                Ok(_) => {
                    session.log.note_rows_sent(pending.len());
                    self.rows_written += pending.len() as u64;
                    return Ok(());
                }
                Err(err) => {
                    let existing: HashSet<String> = match &err {
                        CdfError::Api { status: 400 | 409, duplicated, .. }
                            if self.mode != InsertMode::Create && !duplicated.is_empty() =>
                        {
                            duplicated
                                .iter()
                                .filter_map(|d| d.get("name").and_then(|x| x.as_str()).map(str::to_string))
                                .collect()
                        }
                        _ => return Err(self.fail(err, n)),
                    };
                    let before = pending.len();
                    pending.retain(|item| {
                        !item.get("name").and_then(|x| x.as_str()).is_some_and(|x| existing.contains(x))
                    });
                    if pending.len() == before {
                        return Err(self.fail(err, n));
                    }
                    session.log.note_handled();
                    // Existing databases and tables are what the row asked for: count them.
                    self.rows_written += (before - pending.len()) as u64;
                }
            }
        }
        Ok(())
    }
}

/// CDF names a bad item by its place in the request (`items[499]`); the user knows rows of the
/// statement: `items[499]` becomes `row 1499 (items[499])`, `rows[i]` being item i's row.
fn name_statement_rows(error: CdfError, rows: &[u64]) -> CdfError {
    let CdfError::Api { status, message, missing, duplicated, request_id } = error else {
        return error;
    };
    let mut out = String::with_capacity(message.len() + 16);
    let mut rest = message.as_str();
    while let Some(at) = rest.find("items[") {
        out.push_str(&rest[..at]);
        let after = &rest[at + "items[".len()..];
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        let index: Option<usize> = after[..digits].parse().ok().filter(|_| after[digits..].starts_with(']'));
        match index.and_then(|i| rows.get(i)) {
            Some(row) => {
                out.push_str(&format!("row {row} (items[{}])", &after[..digits]));
                rest = &after[digits + 1..];
            }
            None => {
                out.push_str("items[");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    CdfError::Api { status, message: out, missing, duplicated, request_id }
}

fn duplicated_external_ids(duplicated: &[Json]) -> HashSet<String> {
    duplicated.iter().filter_map(|d| d.get("externalId").and_then(|x| x.as_str()).map(str::to_string)).collect()
}

/// The `/update` item an upsert sends for an existing object: `set` for every non-NULL column
/// of the row. NULL columns keep their value in CDF: PostgreSQL does not tell an FDW which
/// columns an INSERT or COPY listed, so a NULL may just be a column the source does not have.
/// A field the row carries as JSON null (`null_values 'clear'`) is cleared.
pub fn update_patch(resource: &Resource, item: &Map<String, Json>) -> Json {
    let mut update = Map::new();
    for (field, value) in item {
        if field == "externalId" || resource.create_only_fields().any(|f| f == field) {
            continue;
        }
        let op = match value {
            Json::Null => match resource.column_of_field(field) {
                Some(column) => cdf_tables::clear_op(column),
                None => continue,
            },
            _ => json!({ "set": value }),
        };
        update.insert(field.clone(), op);
    }
    json!({ "externalId": item.get("externalId"), "update": update })
}

/// `{"items":[...]}` from already serialized items.
fn items_body<'a>(items: impl Iterator<Item = &'a str>) -> Vec<u8> {
    let mut body = Vec::with_capacity(1 << 16);
    body.extend_from_slice(b"{\"items\":[");
    for (i, item) in items.enumerate() {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(item.as_bytes());
    }
    body.extend_from_slice(b"]}");
    body
}

/// Serializes `object` with extra array fields whose elements are already serialized.
fn object_with_arrays(object: Map<String, Json>, arrays: &[(&str, &[String])]) -> String {
    let mut out = Json::Object(object).to_string();
    out.pop(); // the closing brace
    for (name, elements) in arrays {
        if out.len() > 1 {
            out.push(',');
        }
        out.push_str(&Json::String((*name).to_string()).to_string());
        out.push_str(":[");
        out.push_str(&elements.join(","));
        out.push(']');
    }
    out.push('}');
    out
}

/// Buffers the changes of an UPDATE or DELETE and sends them in chunks: deletes first, then
/// updates, then rows written again (natural-upsert tables), so a moved key ends up right.
pub struct ChangeWriter {
    resource: &'static Resource,
    /// Set for an UPDATE of a table CDF overwrites by key: nothing is sent until the scan has
    /// ended (so it never reads the statement's own writes), then all rows are written, then
    /// the old keys that no rewritten row took over are deleted.
    deferred: Option<Deferred>,
    item_updates: Vec<Json>,
    item_deletes: Vec<Json>,
    datapoint_deletes: Vec<Json>,
    keyed_deletes: Vec<(GroupKey, Vec<Json>)>,
    keyed_index: HashMap<GroupKey, usize>,
    raw_database_deletes: Vec<Json>,
    writes: TableWriter,
    buffered: usize,
    /// Deletes of unknown ids fail instead of being ignored (insert_mode 'delete' with
    /// delete_unknown 'error').
    strict_deletes: bool,
    /// Rows whose change CDF accepted.
    pub rows_changed: u64,
}

/// The key of a row of a table CDF overwrites by key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum RowKey {
    Datapoint(SeriesRef, i64),
    SequenceRow(SeriesRef, i64),
    RawRow(String, String, String),
}

impl RowKey {
    fn of_write(row: &WriteRow) -> Option<RowKey> {
        match row {
            WriteRow::Datapoint { series, point } => {
                Some(RowKey::Datapoint(series.clone(), point.get("timestamp")?.as_i64()?))
            }
            WriteRow::SequenceRow { sequence, row_number, .. } => {
                Some(RowKey::SequenceRow(sequence.clone(), *row_number))
            }
            WriteRow::RawRow { database, table, row } => {
                Some(RowKey::RawRow(database.clone(), table.clone(), row.get("key")?.as_str()?.to_string()))
            }
            WriteRow::Item(_) | WriteRow::RawTable { .. } => None,
        }
    }

    fn of_delete(change: &Change) -> Option<RowKey> {
        match change {
            Change::DatapointDelete { series, timestamp_ms } => Some(RowKey::Datapoint(series.clone(), *timestamp_ms)),
            Change::SequenceRowDelete { sequence, row_number } => {
                Some(RowKey::SequenceRow(sequence.clone(), *row_number))
            }
            Change::RawRowDelete { database, table, key } => {
                Some(RowKey::RawRow(database.clone(), table.clone(), key.clone()))
            }
            _ => None,
        }
    }

    fn into_delete(self) -> Change {
        match self {
            RowKey::Datapoint(series, timestamp_ms) => Change::DatapointDelete { series, timestamp_ms },
            RowKey::SequenceRow(sequence, row_number) => Change::SequenceRowDelete { sequence, row_number },
            RowKey::RawRow(database, table, key) => Change::RawRowDelete { database, table, key },
        }
    }
}

/// What a deferred UPDATE holds until the end of its scan.
#[derive(Default)]
struct Deferred {
    /// Full write requests, kept serialized, in input order.
    sealed: Vec<TableWriter>,
    /// Keys the UPDATE moved rows away from.
    old_keys: Vec<RowKey>,
    /// Keys the UPDATE writes: an old key among them is overwritten, not deleted.
    new_keys: HashSet<RowKey>,
}

impl ChangeWriter {
    pub fn new(resource: &'static Resource) -> ChangeWriter {
        ChangeWriter {
            resource,
            deferred: None,
            item_updates: Vec::new(),
            item_deletes: Vec::new(),
            datapoint_deletes: Vec::new(),
            keyed_deletes: Vec::new(),
            keyed_index: HashMap::new(),
            raw_database_deletes: Vec::new(),
            writes: TableWriter::new(resource, InsertMode::Upsert),
            buffered: 0,
            strict_deletes: false,
            rows_changed: 0,
        }
    }

    /// Makes a delete of an id CDF does not have an error (400 naming it) instead of a no-op.
    pub fn strict_deletes(&mut self) {
        self.strict_deletes = true;
    }

    /// Holds every change until `flush` at the end of the statement (see `deferred`).
    pub fn defer_until_end(&mut self) {
        self.deferred = Some(Deferred::default());
    }

    pub fn buffered(&self) -> usize {
        let deferred = self
            .deferred
            .as_ref()
            .map_or(0, |d| d.old_keys.len() + d.sealed.iter().map(TableWriter::buffered).sum::<usize>());
        self.buffered + self.writes.buffered() + deferred
    }

    fn push_keyed(&mut self, key: GroupKey, entry: Json) {
        match self.keyed_index.get(&key) {
            Some(&i) => self.keyed_deletes[i].1.push(entry),
            None => {
                self.keyed_index.insert(key.clone(), self.keyed_deletes.len());
                self.keyed_deletes.push((key, vec![entry]));
            }
        }
    }

    /// Adds one change; true when a request is full and the caller must flush.
    pub fn push(&mut self, change: Change) -> bool {
        let ChangeWriter { deferred, writes, resource, .. } = self;
        if let Some(deferred) = deferred {
            if let Change::Write(row) = change {
                deferred.new_keys.extend(RowKey::of_write(&row));
                if writes.push(row) {
                    let full = std::mem::replace(writes, TableWriter::new(resource, InsertMode::Upsert));
                    deferred.sealed.push(full);
                }
                return false;
            }
            if let Some(key) = RowKey::of_delete(&change) {
                deferred.old_keys.push(key);
                return false;
            }
        }
        if let Change::Write(row) = change {
            return self.writes.push(row);
        }
        self.buffered += 1;
        match change {
            Change::ItemUpdate(item) => self.item_updates.push(item),
            Change::ItemDelete(item) => self.item_deletes.push(item),
            Change::DatapointDelete { series, timestamp_ms } => {
                let mut item = series.to_json();
                item.insert("inclusiveBegin".into(), json!(timestamp_ms));
                item.insert("exclusiveEnd".into(), json!(timestamp_ms + 1));
                self.datapoint_deletes.push(Json::Object(item));
            }
            Change::RawRowDelete { database, table, key } => {
                self.push_keyed(GroupKey::RawTable(database, table), json!({ "key": key }))
            }
            Change::SequenceRowDelete { sequence, row_number } => {
                self.push_keyed(GroupKey::Sequence(sequence, Vec::new()), json!(row_number))
            }
            Change::RawTableDelete { database, name } => {
                self.push_keyed(GroupKey::Database(database), json!({ "name": name }))
            }
            Change::RawDatabaseDelete { name } => self.raw_database_deletes.push(json!({ "name": name })),
            Change::Write(_) => unreachable!("handled above"),
        }
        self.buffered >= CHANGES_PER_REQUEST
    }

    fn fail(&self, error: CdfError, rows: usize) -> WriteError {
        WriteError { error, rows_written: self.rows_changed, rows_in_failed_chunk: rows }
    }

    async fn post_chunks(
        &mut self,
        session: &mut Session,
        path: &str,
        items: Vec<Json>,
        extra: &Json,
        chunk_size: usize,
    ) -> Result<(), WriteError> {
        for chunk in items.chunks(chunk_size) {
            let mut body = json!({ "items": chunk });
            if let (Json::Object(b), Json::Object(e)) = (&mut body, extra) {
                b.extend(e.clone());
            }
            match session.post_json(path, &[], &body, Idempotency::Idempotent).await {
                Ok(_) => {
                    session.log.note_rows_sent(chunk.len());
                    self.rows_changed += chunk.len() as u64
                }
                Err(e) => return Err(self.fail(e, chunk.len())),
            }
        }
        Ok(())
    }

    /// Sends everything buffered; for a deferred UPDATE, everything it held (writes first).
    pub async fn flush(&mut self, session: &mut Session) -> Result<(), WriteError> {
        let Some(deferred) = self.deferred.take() else {
            return self.flush_buffers(session).await;
        };
        for mut writer in deferred.sealed {
            self.send_writes(session, &mut writer).await?;
        }
        let mut writes = std::mem::replace(&mut self.writes, TableWriter::new(self.resource, InsertMode::Upsert));
        self.send_writes(session, &mut writes).await?;
        for key in deferred.old_keys {
            if !deferred.new_keys.contains(&key) && self.push(key.into_delete()) {
                self.flush_buffers(session).await?;
            }
        }
        self.flush_buffers(session).await
    }

    /// Flushes `writer`, counting what it wrote as changed rows (errors report the total).
    async fn send_writes(&mut self, session: &mut Session, writer: &mut TableWriter) -> Result<(), WriteError> {
        let before = writer.rows_written;
        let result = writer.flush(session).await;
        self.rows_changed += writer.rows_written - before;
        result.map_err(|mut e| {
            e.rows_written = self.rows_changed;
            e
        })
    }

    async fn flush_buffers(&mut self, session: &mut Session) -> Result<(), WriteError> {
        let resource = self.resource;
        let ignore_unknown = match resource.delete {
            DeleteKind::Items { ignore_unknown_ids: true, .. } if !self.strict_deletes => {
                json!({ "ignoreUnknownIds": true })
            }
            _ => json!({}),
        };
        let deletes = std::mem::take(&mut self.item_deletes);
        self.post_chunks(
            session,
            &format!("{}/delete", resource.api_path),
            deletes,
            &ignore_unknown,
            CHANGES_PER_REQUEST,
        )
        .await?;
        let deletes = std::mem::take(&mut self.datapoint_deletes);
        self.post_chunks(session, "timeseries/data/delete", deletes, &json!({}), CHANGES_PER_REQUEST).await?;
        for (key, entries) in std::mem::take(&mut self.keyed_deletes) {
            match key {
                GroupKey::RawTable(db, table) => {
                    let path = format!("raw/dbs/{}/tables/{}/rows/delete", encode_segment(&db), encode_segment(&table));
                    self.post_chunks(session, &path, entries, &json!({}), RAW_ROWS_PER_REQUEST).await?;
                }
                GroupKey::Database(db) => {
                    let path = format!("raw/dbs/{}/tables/delete", encode_segment(&db));
                    self.post_chunks(session, &path, entries, &json!({}), CHANGES_PER_REQUEST).await?;
                }
                GroupKey::Sequence(sequence, _) => {
                    let n = entries.len();
                    let mut item = sequence.to_json();
                    item.insert("rows".into(), Json::Array(entries));
                    let body = json!({ "items": [item] });
                    match session.post_json("sequences/data/delete", &[], &body, Idempotency::Idempotent).await {
                        Ok(_) => {
                            session.log.note_rows_sent(n);
                            self.rows_changed += n as u64
                        }
                        Err(e) => return Err(self.fail(e, n)),
                    }
                }
                GroupKey::Series(_) => {}
            }
        }
        self.keyed_index.clear();
        let deletes = std::mem::take(&mut self.raw_database_deletes);
        self.post_chunks(session, "raw/dbs/delete", deletes, &json!({ "recursive": true }), CHANGES_PER_REQUEST)
            .await?;
        let updates = std::mem::take(&mut self.item_updates);
        self.post_chunks(session, &format!("{}/update", resource.api_path), updates, &json!({}), CHANGES_PER_REQUEST)
            .await?;
        self.buffered = 0;
        let mut writes = std::mem::replace(&mut self.writes, TableWriter::new(self.resource, InsertMode::Upsert));
        let result = self.send_writes(session, &mut writes).await;
        self.writes = writes;
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cdf_tables::resource;

    #[test]
    fn upsert_patch_sets_values_but_not_identity_or_immutables() {
        let item = json!({"externalId": "a", "id": 3, "name": "A", "isString": false, "metadata": {"k": "v"}});
        let patch = update_patch(resource("time_series").unwrap(), item.as_object().unwrap());
        assert_eq!(
            patch,
            json!({"externalId": "a", "update": {"name": {"set": "A"}, "metadata": {"set": {"k": "v"}}}})
        );
    }

    #[test]
    fn serialized_entries_assemble_into_valid_bodies() {
        let item = object_with_arrays(
            json!({"externalId": "x"}).as_object().unwrap().clone(),
            &[(
                "datapoints",
                &["{\"timestamp\":1,\"value\":2.5}".to_string(), "{\"timestamp\":2,\"value\":3}".to_string()],
            )],
        );
        let body: Json = serde_json::from_slice(&items_body(std::iter::once(item.as_str()))).unwrap();
        assert_eq!(
            body,
            json!({"items": [{"externalId": "x", "datapoints": [{"timestamp": 1, "value": 2.5}, {"timestamp": 2, "value": 3}]}]})
        );
        let empty = object_with_arrays(Map::new(), &[("rows", &[])]);
        assert_eq!(serde_json::from_str::<Json>(&empty).unwrap(), json!({"rows": []}));
    }

    #[test]
    fn datapoint_buffers_fill_at_cdf_limits() {
        let r = resource("double_datapoints").unwrap();
        let mut w = TableWriter::new(r, InsertMode::Upsert);
        let point = |i: i64| WriteRow::Datapoint {
            series: SeriesRef::ExternalId(format!("s{}", i % 3)),
            point: json!({"timestamp": i, "value": 1.0}).as_object().unwrap().clone(),
        };
        for i in 0..(DATAPOINTS_PER_REQUEST as i64 - 1) {
            assert!(!w.push(point(i)));
        }
        assert!(w.push(point(-1)), "the 100,000th point fills the request");
        let mut w = TableWriter::new(r, InsertMode::Upsert);
        for i in 0..(SERIES_PER_REQUEST as i64 - 1) {
            assert!(!w.push(WriteRow::Datapoint {
                series: SeriesRef::Id(i),
                point: json!({"timestamp": 0, "value": 1.0}).as_object().unwrap().clone(),
            }));
        }
        assert!(w.push(WriteRow::Datapoint {
            series: SeriesRef::Id(-1),
            point: json!({"timestamp": 0, "value": 1.0}).as_object().unwrap().clone(),
        }));
    }

    #[test]
    fn a_repeated_external_id_merges_like_separate_requests() {
        let assets = resource("assets").unwrap();
        let item = |v: Json| WriteRow::Item(v.as_object().unwrap().clone());
        let mut upsert = TableWriter::new(assets, InsertMode::Upsert);
        upsert.push(item(json!({"externalId": "a", "name": "first", "description": "kept"})));
        upsert.push(item(json!({"externalId": "b", "name": "other"})));
        upsert.push(item(json!({"externalId": "a", "name": "second"})));
        assert_eq!(upsert.buffered(), 2);
        assert_eq!(
            upsert.items[0],
            *json!({"externalId": "a", "name": "second", "description": "kept"}).as_object().unwrap()
        );
        let mut ignore = TableWriter::new(assets, InsertMode::Ignore);
        ignore.push(item(json!({"externalId": "a", "name": "first"})));
        ignore.push(item(json!({"externalId": "a", "name": "second"})));
        assert_eq!(ignore.items, vec![json!({"externalId": "a", "name": "first"}).as_object().unwrap().clone()]);
        let mut create = TableWriter::new(assets, InsertMode::Create);
        let again = item(json!({"externalId": "a", "name": "second"}));
        create.push(item(json!({"externalId": "a", "name": "first"})));
        assert!(create.needs_flush_before(&again));
        assert!(!create.needs_flush_before(&item(json!({"externalId": "c", "name": "x"}))));
        assert!(!upsert.needs_flush_before(&again));
    }

    #[test]
    fn cdf_item_indexes_become_statement_rows() {
        let api = |message: &str| CdfError::Api {
            status: 400,
            message: message.into(),
            missing: vec![],
            duplicated: vec![],
            request_id: None,
        };
        let named = name_statement_rows(api("items[1].name: too long; items[7]: bad; items[x]"), &[1001, 1003]);
        assert_eq!(named, api("row 1003 (items[1]).name: too long; items[7]: bad; items[x]"));
    }
}
