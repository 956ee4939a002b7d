//! Enforces `realism::LimitsConfig` per identity (client id): token buckets for requests per
//! second (the resource's whole API and its CRUD or analytical budget), counters for concurrent
//! requests, and RAW's data-rate buckets. A request over a limit gets CDF's 429 body; a rate
//! limit also sends `Retry-After` when configured. Admitted requests hold a `Permit` until
//! their response is ready, which frees their concurrency slot.

use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use crate::errors::ApiError;
use crate::realism::{Budget, EndpointClass, Family, LimitsConfig};

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Scope {
    Api,
    Crud,
    Analytical,
    RawInsertBytes,
    RawRetrieveBytes,
}

type Key = (String, String, Scope);

struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    /// Refills at `rate` per second up to `capacity`.
    fn refill(&mut self, rate: f64, capacity: f64, now: Instant) {
        let dt = now.duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + dt * rate).min(capacity);
        self.at = now;
    }
}

#[derive(Default)]
struct State {
    buckets: HashMap<Key, Bucket>,
    running: HashMap<Key, u32>,
}

#[derive(Default, Clone)]
pub struct Limiter {
    state: Arc<Mutex<State>>,
}

/// An admitted request; dropping it frees its concurrency slots.
pub struct Permit {
    state: Arc<Mutex<State>>,
    slots: Vec<Key>,
    /// RAW reads are charged by response size once it is known.
    retrieve_key: Option<Key>,
}

impl Permit {
    /// Charges a RAW read's response bytes against the retrieve data rate.
    pub fn charge_response(&self, bytes: u64) {
        if let Some(k) = &self.retrieve_key {
            if let Some(b) = self.state.lock().buckets.get_mut(k) {
                b.tokens -= bytes as f64;
            }
        }
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut st = self.state.lock();
        for k in &self.slots {
            if let Some(n) = st.running.get_mut(k) {
                *n = n.saturating_sub(1);
            }
        }
    }
}

fn too_many(message: String, retry_after: Option<u64>) -> ApiError {
    let mut e = ApiError::new(429, message);
    if let Some(s) = retry_after {
        e.headers.push(("retry-after", s.to_string()));
    }
    e
}

impl Limiter {
    pub fn reset(&self) {
        let mut st = self.state.lock();
        st.buckets.clear();
        st.running.clear();
    }

    /// Admits one request of `client` to an endpoint of class `class`, or answers 429.
    pub fn admit(
        &self,
        cfg: &LimitsConfig,
        client: &str,
        class: &EndpointClass,
        bytes_in: u64,
    ) -> Result<Permit, ApiError> {
        let now = Instant::now();
        let mut st = self.state.lock();
        let key = |scope: Scope| (client.to_string(), class.resource.clone(), scope);
        // The permit is built last: dropping one takes the lock held here.
        let mut slots = Vec::new();
        let mut retrieve_key = None;
        if class.family == Family::Token {
            drop(st);
            return Ok(Permit { state: self.state.clone(), slots, retrieve_key });
        }
        // (scope, requests per second, concurrent requests, name in messages)
        let mut checks: Vec<(Scope, f64, u32, &str)> = Vec::new();
        if class.family == Family::Raw {
            let raw = cfg.raw;
            checks.push((Scope::Api, f64::INFINITY, raw.concurrent, "Raw"));
            let (scope, per_window) = if class.write {
                (Scope::RawInsertBytes, raw.insert_bytes)
            } else {
                (Scope::RawRetrieveBytes, raw.retrieve_bytes)
            };
            let rate = per_window / raw.window_secs.max(1e-9);
            let k = key(scope);
            let b = st.buckets.entry(k.clone()).or_insert(Bucket { tokens: per_window, at: now });
            b.refill(rate, per_window, now);
            let need = if class.write { bytes_in as f64 } else { 0.0 };
            if b.tokens < need.max(0.0) || b.tokens < 0.0 {
                let wait = ((need - b.tokens) / rate).ceil().max(1.0) as u64;
                let what = if class.write { "insert" } else { "retrieve" };
                return Err(too_many(
                    format!(
                        "Too many requests: the Raw {what} data rate of {} bytes per {} s for this identity is exceeded",
                        per_window, raw.window_secs
                    ),
                    cfg.retry_after.then_some(wait),
                ));
            }
            if class.write {
                b.tokens -= need;
            } else {
                retrieve_key = Some(k);
            }
        } else {
            let b = cfg.budgets(&class.resource);
            checks.push((Scope::Api, b.api_rps, b.api_concurrent, "API"));
            match class.budget {
                Budget::Crud => checks.push((Scope::Crud, b.crud_rps, b.crud_concurrent, "CRUD")),
                Budget::Analytical => {
                    checks.push((Scope::Analytical, b.analytical_rps, b.analytical_concurrent, "analytical"))
                }
            }
        }
        // Check every budget before taking from any, so a throttled request takes nothing.
        for (scope, rps, concurrent, name) in &checks {
            let k = key(scope.clone());
            if st.running.get(&k).copied().unwrap_or(0) >= *concurrent {
                return Err(too_many(
                    format!(
                        "Too many concurrent requests: at most {concurrent} parallel requests to the {} {name} \
                         endpoints per identity",
                        class.resource
                    ),
                    None,
                ));
            }
            if rps.is_finite() {
                let b = st.buckets.entry(k).or_insert(Bucket { tokens: *rps, at: now });
                b.refill(*rps, *rps, now);
                if b.tokens < 1.0 {
                    let wait = ((1.0 - b.tokens) / rps).ceil().max(1.0) as u64;
                    return Err(too_many(
                        format!(
                            "Too many requests: at most {rps} requests per second to the {} {name} endpoints \
                             per identity",
                            class.resource
                        ),
                        cfg.retry_after.then_some(wait),
                    ));
                }
            }
        }
        for (scope, rps, _, _) in checks {
            let k = key(scope);
            if rps.is_finite() {
                if let Some(b) = st.buckets.get_mut(&k) {
                    b.tokens -= 1.0;
                }
            }
            *st.running.entry(k.clone()).or_default() += 1;
            slots.push(k);
        }
        drop(st);
        Ok(Permit { state: self.state.clone(), slots, retrieve_key })
    }
}
