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
}

#[derive(Default, Serialize, Clone)]
pub struct StatsSnapshot {
    pub total_requests: u64,
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

    pub fn snapshot(&self) -> StatsSnapshot {
        self.inner.lock().clone()
    }

    pub fn reset(&self) {
        *self.inner.lock() = StatsSnapshot::default();
    }
}
