//! In-memory state: one `Project` per project URL name, created on first use.
//! Metadata resources share one mutex; the hot paths (datapoints, RAW rows) have their own.

use parking_lot::{Mutex, RwLock};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use crate::resources::datapoints::Series;
use crate::resources::raw::RawStore;

pub type Object = Map<String, Value>;

/// First server-assigned id; large like CDF's, but deterministic so test output is stable.
const FIRST_ID: i64 = 1_000_000_000_001;

#[derive(Default)]
pub struct Store {
    projects: RwLock<HashMap<String, Arc<Project>>>,
}

impl Store {
    pub fn project(&self, name: &str) -> Arc<Project> {
        if let Some(p) = self.projects.read().get(name) {
            return p.clone();
        }
        self.projects.write().entry(name.to_string()).or_insert_with(|| Arc::new(Project::default())).clone()
    }

    pub fn existing(&self, name: &str) -> Option<Arc<Project>> {
        self.projects.read().get(name).cloned()
    }

    pub fn reset(&self) {
        self.projects.write().clear();
    }
}

pub struct Project {
    pub meta: Mutex<MetaStore>,
    pub datapoints: Mutex<HashMap<i64, Series>>,
    pub raw: Mutex<RawStore>,
    /// Sequence rows: sequence id → row number → column externalId → value.
    pub sequence_rows: Mutex<HashMap<i64, BTreeMap<i64, BTreeMap<String, Value>>>>,
    next_id: AtomicI64,
}

impl Default for Project {
    fn default() -> Self {
        Project {
            meta: Mutex::new(MetaStore::default()),
            datapoints: Mutex::new(HashMap::new()),
            raw: Mutex::new(RawStore::default()),
            sequence_rows: Mutex::new(HashMap::new()),
            next_id: AtomicI64::new(FIRST_ID),
        }
    }
}

impl Project {
    pub fn next_id(&self) -> i64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }
}

/// The resources kept as JSON objects in CDF's own shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Assets,
    Events,
    Files,
    TimeSeries,
    Sequences,
    Labels,
    Relationships,
    DataSets,
    ExtPipes,
    ExtPipeRuns,
    Sessions,
}

#[derive(Default)]
pub struct MetaStore {
    pub assets: Collection,
    pub events: Collection,
    pub files: Collection,
    pub timeseries: Collection,
    pub sequences: Collection,
    pub labels: Collection,
    pub relationships: Collection,
    pub datasets: Collection,
    pub extpipes: Collection,
    pub extpipe_runs: Collection,
    pub sessions: Collection,
}

impl MetaStore {
    pub fn coll(&self, kind: Kind) -> &Collection {
        match kind {
            Kind::Assets => &self.assets,
            Kind::Events => &self.events,
            Kind::Files => &self.files,
            Kind::TimeSeries => &self.timeseries,
            Kind::Sequences => &self.sequences,
            Kind::Labels => &self.labels,
            Kind::Relationships => &self.relationships,
            Kind::DataSets => &self.datasets,
            Kind::ExtPipes => &self.extpipes,
            Kind::ExtPipeRuns => &self.extpipe_runs,
            Kind::Sessions => &self.sessions,
        }
    }
    pub fn coll_mut(&mut self, kind: Kind) -> &mut Collection {
        match kind {
            Kind::Assets => &mut self.assets,
            Kind::Events => &mut self.events,
            Kind::Files => &mut self.files,
            Kind::TimeSeries => &mut self.timeseries,
            Kind::Sequences => &mut self.sequences,
            Kind::Labels => &mut self.labels,
            Kind::Relationships => &mut self.relationships,
            Kind::DataSets => &mut self.datasets,
            Kind::ExtPipes => &mut self.extpipes,
            Kind::ExtPipeRuns => &mut self.extpipe_runs,
            Kind::Sessions => &mut self.sessions,
        }
    }
}

/// Objects keyed by a server-assigned key that grows with creation, so iteration order is
/// creation order and cursors are simply "the last key seen".
#[derive(Default)]
pub struct Collection {
    pub items: BTreeMap<i64, Object>,
    pub by_xid: HashMap<String, i64>,
}

impl Collection {
    pub fn insert(&mut self, key: i64, obj: Object) {
        if let Some(Value::String(x)) = obj.get("externalId") {
            self.by_xid.insert(x.clone(), key);
        }
        self.items.insert(key, obj);
    }

    pub fn remove(&mut self, key: i64) -> Option<Object> {
        let obj = self.items.remove(&key)?;
        if let Some(Value::String(x)) = obj.get("externalId") {
            self.by_xid.remove(x);
        }
        Some(obj)
    }

    pub fn key_of_xid(&self, xid: &str) -> Option<i64> {
        self.by_xid.get(xid).copied()
    }

    /// Re-index after an object's externalId may have changed.
    pub fn reindex_xid(&mut self, key: i64, old: Option<String>) {
        if let Some(old) = old {
            if self.by_xid.get(&old) == Some(&key) {
                self.by_xid.remove(&old);
            }
        }
        if let Some(Value::String(x)) = self.items.get(&key).and_then(|o| o.get("externalId")) {
            self.by_xid.insert(x.clone(), key);
        }
    }
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}
