//! Per-endpoint request statistics for tests and benchmarks (`GET /_admin/stats`).

use parking_lot::Mutex;
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Default, Serialize, Clone)]
pub struct EndpointStats {
    pub requests: u64,
    /// Items the requests carried: series points for datapoint inserts, rows for RAW and
    /// sequence rows, otherwise entries of `items`.
    pub items: u64,
    pub max_items: u64,
    pub bytes_in: u64,
    pub statuses: BTreeMap<String, u64>,
    /// Most requests of this endpoint being handled at the same time (any client, any answer).
    pub max_concurrent: u64,
    #[serde(skip)]
    concurrent: u64,
}

#[derive(Default, Serialize, Clone)]
pub struct StatsSnapshot {
    pub total_requests: u64,
    /// Most API requests being handled at the same time, over all endpoints.
    pub max_concurrent: u64,
    #[serde(skip)]
    concurrent: u64,
    pub endpoints: BTreeMap<String, EndpointStats>,
}

#[derive(Default)]
pub struct Stats {
    inner: Mutex<StatsSnapshot>,
}

impl Stats {
    pub fn record(&self, key: &str, items: u64, bytes_in: u64, status: u16) {
        let mut s = self.inner.lock();
        s.total_requests += 1;
        let e = match s.endpoints.get_mut(key) {
            Some(e) => e,
            None => s.endpoints.entry(key.to_string()).or_default(),
        };
        e.requests += 1;
        e.items += items;
        e.max_items = e.max_items.max(items);
        e.bytes_in += bytes_in;
        *e.statuses.entry(status.to_string()).or_default() += 1;
    }

    /// Counts a request as being handled until the guard is dropped.
    pub fn enter<'a>(&'a self, key: &str) -> InFlight<'a> {
        let mut s = self.inner.lock();
        s.concurrent += 1;
        s.max_concurrent = s.max_concurrent.max(s.concurrent);
        let e = match s.endpoints.get_mut(key) {
            Some(e) => e,
            None => s.endpoints.entry(key.to_string()).or_default(),
        };
        e.concurrent += 1;
        e.max_concurrent = e.max_concurrent.max(e.concurrent);
        InFlight { stats: self, key: key.to_string() }
    }

    pub fn snapshot(&self) -> StatsSnapshot {
        self.inner.lock().clone()
    }

    pub fn reset(&self) {
        *self.inner.lock() = StatsSnapshot::default();
    }
}

/// A request being handled (see `Stats::enter`).
pub struct InFlight<'a> {
    stats: &'a Stats,
    key: String,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        let mut s = self.stats.inner.lock();
        s.concurrent = s.concurrent.saturating_sub(1);
        if let Some(e) = s.endpoints.get_mut(&self.key) {
            e.concurrent = e.concurrent.saturating_sub(1);
        }
    }
}
