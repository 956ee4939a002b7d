//! Storage building blocks that know nothing about CDF resources: the map of projects
//! (`Store<P>`, one `P` per project URL name, created on first use), `Collection` (JSON objects
//! keyed by server id with an externalId index), the server id counter, `Object` and `now_ms`.
//! What a project holds is defined by `resources::project`, where each resource module owns
//! its own store.

use parking_lot::RwLock;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

pub type Object = Map<String, Value>;

/// First server-assigned id; large like CDF's, but deterministic so test output is stable.
const FIRST_ID: i64 = 1_000_000_000_001;

/// The projects of one emulator instance, each created empty on first use.
pub struct Store<P> {
    projects: RwLock<HashMap<String, Arc<P>>>,
}

impl<P> Default for Store<P> {
    fn default() -> Self {
        Store { projects: RwLock::new(HashMap::new()) }
    }
}

impl<P: Default> Store<P> {
    pub fn project(&self, name: &str) -> Arc<P> {
        if let Some(p) = self.projects.read().get(name) {
            return p.clone();
        }
        self.projects.write().entry(name.to_string()).or_insert_with(|| Arc::new(P::default())).clone()
    }

    pub fn existing(&self, name: &str) -> Option<Arc<P>> {
        self.projects.read().get(name).cloned()
    }

    pub fn reset(&self) {
        self.projects.write().clear();
    }
}

/// Server-assigned ids of one project.
pub struct IdGen {
    next: AtomicI64,
}

impl Default for IdGen {
    fn default() -> Self {
        IdGen { next: AtomicI64::new(FIRST_ID) }
    }
}

impl IdGen {
    pub fn next_id(&self) -> i64 {
        self.next.fetch_add(1, Ordering::Relaxed)
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
