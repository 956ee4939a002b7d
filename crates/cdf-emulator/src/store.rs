//! Storage building blocks that know nothing about CDF resources: the map of projects
//! (`Store<P>`, one `P` per project URL name, created on first use), `Collection` (JSON objects
//! keyed by server id with an externalId index), the server id counter, `Object` and `now_ms`.
//! What a project holds is defined by `resources::project`, where each resource module owns
//! its own store.

use parking_lot::{Mutex, RwLock};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use crate::realism::IdOrder;

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

impl<P> Store<P> {
    /// The project `name`, made by `make` on first use.
    pub fn project_with(&self, name: &str, make: impl FnOnce() -> P) -> Arc<P> {
        if let Some(p) = self.projects.read().get(name) {
            return p.clone();
        }
        self.projects.write().entry(name.to_string()).or_insert_with(|| Arc::new(make())).clone()
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

/// Server-assigned ids of one project: sequential from `FIRST_ID`, or drawn uniformly from
/// [1, 2^53) by a RNG seeded with the seed and the project name (CDF's ids are unpredictable
/// and below 2^53, so JavaScript clients can hold them).
pub struct IdGen {
    next: AtomicI64,
    random: Option<Mutex<(StdRng, HashSet<i64>)>>,
}

impl Default for IdGen {
    fn default() -> Self {
        IdGen { next: AtomicI64::new(FIRST_ID), random: None }
    }
}

/// Largest id CDF hands out plus one: 2^53.
pub const ID_LIMIT: i64 = 1 << 53;

impl IdGen {
    pub fn new(order: IdOrder, seed: u64, project: &str) -> IdGen {
        match order {
            IdOrder::Sequential => IdGen::default(),
            IdOrder::Random => {
                // FNV-1a of the project name, so projects draw different ids from one seed.
                let h =
                    project.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ b as u64).wrapping_mul(0x100_0000_01b3));
                let rng = StdRng::seed_from_u64(seed ^ h);
                IdGen { next: AtomicI64::new(FIRST_ID), random: Some(Mutex::new((rng, HashSet::new()))) }
            }
        }
    }

    pub fn next_id(&self) -> i64 {
        match &self.random {
            None => self.next.fetch_add(1, Ordering::Relaxed),
            Some(m) => {
                let mut g = m.lock();
                let (rng, used) = &mut *g;
                loop {
                    let id = rng.random_range(1..ID_LIMIT);
                    if used.insert(id) {
                        return id;
                    }
                }
            }
        }
    }
}

/// Objects keyed by a server-assigned key that grows with creation, so iteration order is
/// creation order and cursors are simply "the last key seen".
#[derive(Default)]
pub struct Collection {
    pub items: BTreeMap<i64, Object>,
    pub by_xid: HashMap<String, i64>,
    /// `instanceId` (space, externalId) → key, for objects tied to a data-modeling node.
    pub by_instance: HashMap<(String, String), i64>,
}

/// The (space, externalId) of an object's `instanceId`, if it has one.
fn instance_of(obj: &Object) -> Option<(String, String)> {
    let i = obj.get("instanceId")?;
    Some((i.get("space")?.as_str()?.to_string(), i.get("externalId")?.as_str()?.to_string()))
}

impl Collection {
    pub fn insert(&mut self, key: i64, obj: Object) {
        if let Some(Value::String(x)) = obj.get("externalId") {
            self.by_xid.insert(x.clone(), key);
        }
        if let Some(i) = instance_of(&obj) {
            self.by_instance.insert(i, key);
        }
        self.items.insert(key, obj);
    }

    pub fn remove(&mut self, key: i64) -> Option<Object> {
        let obj = self.items.remove(&key)?;
        if let Some(Value::String(x)) = obj.get("externalId") {
            self.by_xid.remove(x);
        }
        if let Some(i) = instance_of(&obj) {
            self.by_instance.remove(&i);
        }
        Some(obj)
    }

    pub fn key_of_xid(&self, xid: &str) -> Option<i64> {
        self.by_xid.get(xid).copied()
    }

    pub fn key_of_instance(&self, space: &str, external_id: &str) -> Option<i64> {
        self.by_instance.get(&(space.to_string(), external_id.to_string())).copied()
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
