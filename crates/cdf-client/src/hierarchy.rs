//! Asset hierarchies in any order. CDF refuses an asset whose parent neither exists nor is in
//! the same request, while ETL sources deliver rows in their own order. This sits between the
//! statement and its `TableWriter`: a row whose parent is not known to exist waits here until
//! the parent has been handed to the writer (then it joins the same request, or a later one
//! once the parent's request was acknowledged), or until a batched `byids` lookup finds the
//! parent in CDF. What still waits at the end of the statement is reported: parents that never
//! arrived, cycles, assets that name themselves.
//!
//! Ordering rests on one rule of the writer: a request that names a parent by external id
//! starts only after every request in flight that writes that parent has succeeded (and
//! `TableWriter::flush` waits for everything). So a child handed over after its parent is either
//! in the parent's request or in a request that starts after the parent's has succeeded.

use std::collections::{HashMap, HashSet, VecDeque};

use cdf_tables::limits::ITEMS_PAGE;
use cdf_tables::{Resource, WriteRow};
use serde_json::{json, Map, Value as Json};

use crate::session::{Idempotency, Session};
use crate::writer::{TableWriter, WriteError};

/// Default of the `hierarchy_buffer_mb` option: memory for assets waiting for their parents.
pub const DEFAULT_BUFFER_MB: usize = 64;

/// Rows that start waiting before the parents nobody has looked up yet are looked up in CDF.
/// When a lookup finds none of them (children ahead of their parents in the input), the next
/// waits twice as long: most of those parents arrive later in the statement and need no lookup.
const LOOKUP_AFTER_WAITING: usize = ITEMS_PAGE;

/// Bookkeeping per waiting row on top of its serialized item (keys, vector slots).
const WAITING_OVERHEAD: usize = 96;

/// What a row names as its parent (or, while an earlier row with its external id waits, that id).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ParentRef {
    ExternalId(String),
    Id(i64),
}

impl ParentRef {
    fn to_json(&self) -> Json {
        match self {
            ParentRef::ExternalId(x) => json!({ "externalId": x }),
            ParentRef::Id(id) => json!({ "id": id }),
        }
    }
}

struct Waiting {
    row: u64,
    external_id: Option<String>,
    parent: Option<ParentRef>,
    /// Kept serialized: a JSON text is a fraction of a parsed object's size.
    item: String,
}

impl Waiting {
    fn bytes(&self) -> usize {
        self.item.len() + self.external_id.as_ref().map_or(0, String::len) + WAITING_OVERHEAD
    }
}

/// Why a row was not written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unwritten {
    /// The row names its own external id as parent.
    OwnParent,
    /// The parent is neither in CDF nor in the statement.
    MissingParent(ParentRef),
    /// The row is part of a cycle of parents: the external ids around it, starting with its own.
    Cycle(Vec<String>),
    /// Its parent (external id, statement row) is in the statement but was not written itself.
    ParentNotWritten(String, u64),
}

/// A row left over at the end of the statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnwrittenRow {
    pub row: u64,
    pub external_id: Option<String>,
    pub reason: Unwritten,
}

impl UnwrittenRow {
    /// One line of the statement's error detail.
    pub fn describe(&self) -> String {
        let who = match &self.external_id {
            Some(x) => format!("row {} (external_id \"{x}\")", self.row),
            None => format!("row {}", self.row),
        };
        match &self.reason {
            Unwritten::OwnParent => format!("{who}: names itself as its parent"),
            Unwritten::MissingParent(ParentRef::ExternalId(p)) => {
                format!("{who}: parent_external_id \"{p}\" is neither in CDF nor in this statement")
            }
            Unwritten::MissingParent(ParentRef::Id(id)) => format!("{who}: parent_id {id} is not in CDF"),
            Unwritten::Cycle(ids) => {
                let first = ids.first().cloned().unwrap_or_default();
                format!("{who}: its parents form a cycle: {} -> {first}", ids.join(" -> "))
            }
            Unwritten::ParentNotWritten(p, row) => {
                format!("{who}: waits for \"{p}\" (row {row}), which was not written")
            }
        }
    }
}

/// Why ordering stopped the statement.
#[derive(Debug, Clone, PartialEq)]
pub enum HierarchyError {
    Write(WriteError),
    /// Waiting rows need more memory than the option allows (after looking their parents up).
    BufferFull {
        rows: usize,
        bytes: usize,
        limit_mb: usize,
        rows_written: u64,
    },
}

impl From<WriteError> for HierarchyError {
    fn from(e: WriteError) -> Self {
        HierarchyError::Write(e)
    }
}

pub struct HierarchyOrder {
    resource: &'static Resource,
    limit_mb: usize,
    /// Waiting rows by the reference they wait for.
    waiting: HashMap<ParentRef, Vec<Waiting>>,
    /// External ids of waiting rows, with their statement rows: a later row with the same
    /// external id waits behind them, so rows of one object reach CDF in statement order.
    waiting_external_ids: HashMap<String, Vec<u64>>,
    waiting_rows: usize,
    waiting_bytes: usize,
    /// Parents that exist: found in CDF, or handed to the writer by this statement.
    present: HashSet<ParentRef>,
    /// Looked up in CDF and not there.
    absent: HashSet<ParentRef>,
    /// Rows released or offered that the writer could not take yet (it was full).
    ready: VecDeque<(u64, Map<String, Json>)>,
    writer_full: bool,
    started_waiting_since_lookup: usize,
    /// Rows that start waiting before the next lookup (doubles while lookups find nothing).
    lookup_after: usize,
    own_parents: Vec<UnwrittenRow>,
    /// Byids requests made, for tests and EXPLAIN-like accounting.
    pub lookups: u64,
}

fn external_id_of(item: &Map<String, Json>) -> Option<&str> {
    item.get("externalId").and_then(Json::as_str)
}

fn parent_of(item: &Map<String, Json>) -> Option<ParentRef> {
    if let Some(x) = item.get("parentExternalId").and_then(Json::as_str) {
        return Some(ParentRef::ExternalId(x.to_string()));
    }
    item.get("parentId").and_then(Json::as_i64).map(ParentRef::Id)
}

impl HierarchyOrder {
    pub fn new(resource: &'static Resource, limit_mb: usize) -> HierarchyOrder {
        HierarchyOrder {
            resource,
            limit_mb,
            waiting: HashMap::new(),
            waiting_external_ids: HashMap::new(),
            waiting_rows: 0,
            waiting_bytes: 0,
            present: HashSet::new(),
            absent: HashSet::new(),
            ready: VecDeque::new(),
            writer_full: false,
            started_waiting_since_lookup: 0,
            lookup_after: LOOKUP_AFTER_WAITING,
            own_parents: Vec::new(),
            lookups: 0,
        }
    }

    pub fn waiting_rows(&self) -> usize {
        self.waiting_rows
    }

    /// Takes one row (statement row `row`). True when the caller must `drive` now: the writer
    /// is full, or parents are due to be looked up.
    pub fn offer(&mut self, writer: &mut TableWriter, row: u64, item: Map<String, Json>) -> bool {
        if self.writer_full {
            self.ready.push_back((row, item));
        } else {
            self.place(writer, row, item);
            self.hand_over_ready(writer);
        }
        self.writer_full || self.lookup_due() || self.over_limit()
    }

    fn lookup_due(&self) -> bool {
        self.started_waiting_since_lookup >= self.lookup_after
    }

    fn over_limit(&self) -> bool {
        self.waiting_bytes > self.limit_mb.saturating_mul(1 << 20)
    }

    /// What the row must wait for, if anything.
    fn blocker(&self, row: u64, item: &Map<String, Json>) -> Option<ParentRef> {
        if let Some(x) = external_id_of(item) {
            if self.waiting_external_ids.get(x).is_some_and(|rows| rows.iter().any(|r| *r < row)) {
                return Some(ParentRef::ExternalId(x.to_string()));
            }
        }
        parent_of(item).filter(|p| !self.present.contains(p))
    }

    /// Hands the row to the writer, or makes it wait.
    fn place(&mut self, writer: &mut TableWriter, row: u64, item: Map<String, Json>) {
        let external_id = external_id_of(&item).map(str::to_string);
        let parent = parent_of(&item);
        if external_id.is_some() && parent == external_id.clone().map(ParentRef::ExternalId) {
            self.own_parents.push(UnwrittenRow { row, external_id, reason: Unwritten::OwnParent });
            return;
        }
        let Some(key) = self.blocker(row, &item) else {
            return self.hand_over(writer, row, item);
        };
        let waiting =
            Waiting { row, external_id, parent, item: serde_json::to_string(&item).expect("JSON serializes") };
        self.waiting_bytes += waiting.bytes();
        self.waiting_rows += 1;
        self.started_waiting_since_lookup += 1;
        if let Some(x) = &waiting.external_id {
            self.waiting_external_ids.entry(x.clone()).or_default().push(row);
        }
        self.waiting.entry(key).or_default().push(waiting);
    }

    fn hand_over(&mut self, writer: &mut TableWriter, row: u64, item: Map<String, Json>) {
        let write = WriteRow::Item(item);
        if writer.needs_flush_before(&write) {
            let WriteRow::Item(item) = write else { unreachable!() };
            self.ready.push_front((row, item));
            self.writer_full = true;
            return;
        }
        let external_id = match &write {
            WriteRow::Item(item) => external_id_of(item).map(str::to_string),
            _ => None,
        };
        self.writer_full = writer.push_numbered(write, row);
        if let Some(x) = external_id {
            self.make_present(ParentRef::ExternalId(x));
        }
    }

    /// Marks a parent as existing and queues the rows that waited for it.
    fn make_present(&mut self, key: ParentRef) {
        self.make_all_present(vec![key]);
    }

    /// Marks parents as existing and queues the rows that waited for them, in statement order.
    fn make_all_present(&mut self, keys: Vec<ParentRef>) {
        let mut released = Vec::new();
        for key in keys {
            released.extend(self.waiting.remove(&key).into_iter().flatten());
            self.present.insert(key);
        }
        released.sort_by_key(|w| w.row);
        for w in released {
            self.waiting_rows -= 1;
            self.waiting_bytes -= w.bytes();
            if let Some(x) = &w.external_id {
                if let Some(rows) = self.waiting_external_ids.get_mut(x) {
                    rows.retain(|r| *r != w.row);
                    if rows.is_empty() {
                        self.waiting_external_ids.remove(x);
                    }
                }
            }
            let item: Map<String, Json> = serde_json::from_str(&w.item).expect("serialized by place");
            self.ready.push_back((w.row, item));
        }
    }

    /// Moves released rows to the writer until it is full.
    fn hand_over_ready(&mut self, writer: &mut TableWriter) {
        while !self.writer_full {
            let Some((row, item)) = self.ready.pop_front() else { break };
            self.place(writer, row, item);
        }
    }

    /// Flushes a full writer, hands released rows over, and looks parents up when due.
    pub async fn drive(&mut self, session: &mut Session, writer: &mut TableWriter) -> Result<(), HierarchyError> {
        self.drain(session, writer).await?;
        if self.lookup_due() || self.over_limit() {
            self.look_up_parents(session, writer).await?;
            self.drain(session, writer).await?;
        }
        if self.over_limit() {
            return Err(HierarchyError::BufferFull {
                rows: self.waiting_rows,
                bytes: self.waiting_bytes,
                limit_mb: self.limit_mb,
                rows_written: writer.rows_written,
            });
        }
        Ok(())
    }

    async fn drain(&mut self, session: &mut Session, writer: &mut TableWriter) -> Result<(), HierarchyError> {
        while self.writer_full {
            // Full requests go out without waiting: the writer starts a request that names a
            // parent by external id only after any request in flight that writes that parent
            // has succeeded, so requests stay side by side and children still follow parents.
            writer.send_buffered(session).await?;
            self.writer_full = false;
            self.hand_over_ready(writer);
        }
        Ok(())
    }

    /// Parents rows wait for that the statement has not shown and nobody looked up yet.
    fn unchecked_parents(&self) -> Vec<ParentRef> {
        let mut keys: Vec<(u64, ParentRef)> = self
            .waiting
            .iter()
            .filter(|(k, _)| !self.absent.contains(k))
            .filter(|(k, _)| !matches!(k, ParentRef::ExternalId(x) if self.waiting_external_ids.contains_key(x)))
            .map(|(k, rows)| (rows.first().map_or(0, |w| w.row), k.clone()))
            .collect();
        // In the order rows first named them, so requests do not depend on hashing.
        keys.sort_by_key(|(row, _)| *row);
        keys.into_iter().map(|(_, k)| k).collect()
    }

    /// `byids` (ignoreUnknownIds) for the unchecked parents, a page at a time.
    async fn look_up_parents(&mut self, session: &mut Session, writer: &mut TableWriter) -> Result<(), HierarchyError> {
        self.started_waiting_since_lookup = 0;
        let unchecked = self.unchecked_parents();
        let mut found_any = false;
        let path = format!("{}/byids", self.resource.api_path);
        for chunk in unchecked.chunks(ITEMS_PAGE) {
            let body =
                json!({ "items": chunk.iter().map(ParentRef::to_json).collect::<Vec<_>>(), "ignoreUnknownIds": true });
            self.lookups += 1;
            let found =
                session.post_json(&path, &[], &body, Idempotency::Idempotent).await.and_then(|r| r.json()).map_err(
                    |error| WriteError { error, rows_written: writer.rows_written, rows_in_failed_chunk: 0 },
                )?;
            let mut existing = HashSet::new();
            for object in found.get("items").and_then(Json::as_array).into_iter().flatten() {
                if let Some(x) = object.get("externalId").and_then(Json::as_str) {
                    existing.insert(ParentRef::ExternalId(x.to_string()));
                }
                if let Some(id) = object.get("id").and_then(Json::as_i64) {
                    existing.insert(ParentRef::Id(id));
                }
            }
            let (found, absent): (Vec<ParentRef>, Vec<ParentRef>) =
                chunk.iter().cloned().partition(|key| existing.contains(key));
            self.absent.extend(absent);
            found_any |= !found.is_empty();
            self.make_all_present(found);
            self.hand_over_ready(writer);
            self.drain(session, writer).await?;
        }
        if found_any {
            self.lookup_after = LOOKUP_AFTER_WAITING;
        } else if !unchecked.is_empty() {
            self.lookup_after = self.lookup_after.saturating_mul(2);
        }
        Ok(())
    }

    /// End of the statement: looks up what is left, sends everything that can go, and returns
    /// the rows that could not, in statement order.
    pub async fn finish(
        &mut self,
        session: &mut Session,
        writer: &mut TableWriter,
    ) -> Result<Vec<UnwrittenRow>, HierarchyError> {
        self.drain(session, writer).await?;
        while !self.unchecked_parents().is_empty() {
            self.look_up_parents(session, writer).await?;
        }
        self.drain(session, writer).await?;
        writer.flush(session).await?;
        Ok(self.leftovers())
    }

    /// Why each still-waiting row could not be written.
    fn leftovers(&mut self) -> Vec<UnwrittenRow> {
        let waiting: Vec<Waiting> = std::mem::take(&mut self.waiting).into_values().flatten().collect();
        // The first waiting row of each external id stands for it in chains of parents.
        let mut by_external_id: HashMap<&str, &Waiting> = HashMap::new();
        for w in &waiting {
            if let Some(x) = &w.external_id {
                by_external_id
                    .entry(x)
                    .and_modify(|e| {
                        if w.row < e.row {
                            *e = w
                        }
                    })
                    .or_insert(w);
            }
        }
        let mut out = std::mem::take(&mut self.own_parents);
        for w in &waiting {
            let reason = match &w.parent {
                None => match w.external_id.as_deref().and_then(|x| by_external_id.get(x)) {
                    // Waits behind an earlier row of the same object.
                    Some(first) if first.row != w.row => {
                        Unwritten::ParentNotWritten(first.external_id.clone().unwrap_or_default(), first.row)
                    }
                    _ => continue,
                },
                Some(ParentRef::ExternalId(p)) => match by_external_id.get(p.as_str()) {
                    None => Unwritten::MissingParent(ParentRef::ExternalId(p.clone())),
                    Some(parent) => match cycle_through(w, &by_external_id) {
                        Some(cycle) => Unwritten::Cycle(cycle),
                        None => Unwritten::ParentNotWritten(p.clone(), parent.row),
                    },
                },
                Some(id @ ParentRef::Id(_)) => Unwritten::MissingParent(id.clone()),
            };
            out.push(UnwrittenRow { row: w.row, external_id: w.external_id.clone(), reason });
        }
        out.sort_by_key(|u| u.row);
        self.waiting_rows = 0;
        self.waiting_bytes = 0;
        out
    }
}

/// The cycle of parents `start` belongs to, if any: external ids from its own around the loop.
fn cycle_through(start: &Waiting, by_external_id: &HashMap<&str, &Waiting>) -> Option<Vec<String>> {
    let own = start.external_id.as_deref()?;
    let mut path = vec![own.to_string()];
    let mut seen = HashSet::from([own]);
    let mut current = start;
    while let Some(ParentRef::ExternalId(p)) = &current.parent {
        if p == own {
            return Some(path);
        }
        if !seen.insert(p.as_str()) {
            return None; // leads into a cycle this row is not part of
        }
        current = by_external_id.get(p.as_str())?;
        path.push(p.clone());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use cdf_tables::{resource, InsertMode};

    fn asset(x: &str, parent: Option<&str>) -> Map<String, Json> {
        let mut m = json!({"externalId": x, "name": x}).as_object().unwrap().clone();
        if let Some(p) = parent {
            m.insert("parentExternalId".into(), json!(p));
        }
        m
    }

    fn order() -> (HierarchyOrder, TableWriter) {
        let assets = resource("assets").unwrap();
        (HierarchyOrder::new(assets, DEFAULT_BUFFER_MB), TableWriter::new(assets, InsertMode::Upsert))
    }

    #[test]
    fn children_wait_for_parents_and_join_their_request() {
        let (mut h, mut w) = order();
        assert!(!h.offer(&mut w, 1, asset("c", Some("b"))));
        assert!(!h.offer(&mut w, 2, asset("b", Some("a"))));
        assert_eq!((w.buffered(), h.waiting_rows()), (0, 2));
        assert!(!h.offer(&mut w, 3, asset("a", None)));
        assert_eq!((w.buffered(), h.waiting_rows()), (3, 0), "a releases b, b releases c");
    }

    #[test]
    fn a_later_row_of_a_waiting_object_waits_behind_it() {
        let (mut h, mut w) = order();
        h.offer(&mut w, 1, asset("x", Some("p")));
        h.offer(&mut w, 2, asset("x", None));
        assert_eq!(h.waiting_rows(), 2);
        h.offer(&mut w, 3, asset("p", None));
        assert_eq!((w.buffered(), h.waiting_rows()), (2, 0), "p, then x merged");
    }

    #[test]
    fn leftovers_name_cycles_missing_and_own_parents() {
        let (mut h, mut w) = order();
        h.offer(&mut w, 1, asset("a", Some("b")));
        h.offer(&mut w, 2, asset("b", Some("a")));
        h.offer(&mut w, 3, asset("c", Some("nowhere")));
        h.offer(&mut w, 4, asset("d", Some("c")));
        h.offer(&mut w, 5, asset("e", Some("e")));
        h.offer(&mut w, 6, asset("f", Some("a")));
        h.absent.insert(ParentRef::ExternalId("nowhere".into()));
        let left = h.leftovers();
        let reasons: Vec<(u64, Unwritten)> = left.into_iter().map(|u| (u.row, u.reason)).collect();
        assert_eq!(
            reasons,
            vec![
                (1, Unwritten::Cycle(vec!["a".into(), "b".into()])),
                (2, Unwritten::Cycle(vec!["b".into(), "a".into()])),
                (3, Unwritten::MissingParent(ParentRef::ExternalId("nowhere".into()))),
                (4, Unwritten::ParentNotWritten("c".into(), 3)),
                (5, Unwritten::OwnParent),
                (6, Unwritten::ParentNotWritten("a".into(), 1)),
            ]
        );
    }

    #[test]
    fn a_full_writer_holds_released_rows_back() {
        let (mut h, mut w) = order();
        for i in 0..1500 {
            h.offer(&mut w, i + 2, asset(&format!("c{i}"), Some("root")));
        }
        assert!(h.offer(&mut w, 1, asset("root", None)), "the writer filled up");
        assert_eq!(w.buffered(), 1000);
        assert_eq!(h.ready.len(), 501);
    }
}
