//! Fault injection (`POST /_admin/faults`): deterministic with a seed. Each rule fires with a
//! probability, or follows an exact sequence (one entry per matching request: a fault or
//! `null` to let the request through), optionally only for one endpoint key.

use parking_lot::Mutex;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Fault {
    /// Answer with this status (429, 500, 502, 503, ...) and a CDF error body.
    #[serde(default)]
    pub status: Option<u16>,
    /// `Retry-After` seconds on the faulted response.
    #[serde(default)]
    pub retry_after: Option<u64>,
    #[serde(default)]
    pub message: Option<String>,
    /// Wait this long before handling the request (the request then proceeds normally
    /// unless the fault also has a status or drops).
    #[serde(default)]
    pub latency_ms: Option<u64>,
    /// Hold the request this long without answering, then close the connection.
    #[serde(default)]
    pub stall_ms: Option<u64>,
    /// Close the connection without answering.
    #[serde(default)]
    pub drop: bool,
    /// Apply status/drop after the request was processed (the write happened, the client
    /// does not learn it): tests that retries are idempotent.
    #[serde(default)]
    pub after_processing: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FaultRule {
    /// Endpoint key as in the statistics, e.g. `POST /timeseries/data`; absent = every endpoint.
    #[serde(default)]
    pub endpoint: Option<String>,
    #[serde(default)]
    pub probability: Option<f64>,
    /// Outcome per matching request, in order; `null` lets that request through. When the
    /// sequence is exhausted the rule stops firing.
    #[serde(default)]
    pub sequence: Option<Vec<Option<Fault>>>,
    /// The fault used with `probability`.
    #[serde(default)]
    pub fault: Option<Fault>,
    /// Fire at most this many times.
    #[serde(default)]
    pub max_times: Option<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FaultConfig {
    #[serde(default)]
    pub seed: u64,
    pub rules: Vec<FaultRule>,
}

struct RuleState {
    rule: FaultRule,
    matched: u64,
    fired: u64,
}

struct Inner {
    rng: StdRng,
    rules: Vec<RuleState>,
    injected: u64,
}

pub struct Faults {
    inner: Mutex<Inner>,
}

impl Default for Faults {
    fn default() -> Self {
        Faults { inner: Mutex::new(Inner { rng: StdRng::seed_from_u64(0), rules: Vec::new(), injected: 0 }) }
    }
}

impl FaultConfig {
    pub fn validate(&self) -> Result<(), String> {
        for (i, r) in self.rules.iter().enumerate() {
            match (&r.probability, &r.sequence) {
                (Some(p), None) => {
                    if !(0.0..=1.0).contains(p) {
                        return Err(format!("rules[{i}].probability must be between 0 and 1"));
                    }
                    if r.fault.is_none() {
                        return Err(format!("rules[{i}]: probability needs a fault"));
                    }
                }
                (None, Some(_)) => {}
                (None, None) if r.fault.is_some() => {}
                _ => {
                    return Err(format!(
                        "rules[{i}]: give either probability (with fault), sequence, or fault alone (always)"
                    ))
                }
            }
        }
        Ok(())
    }
}

impl Faults {
    pub fn install(&self, cfg: FaultConfig) {
        let mut inner = self.inner.lock();
        inner.rng = StdRng::seed_from_u64(cfg.seed);
        inner.rules = cfg.rules.into_iter().map(|rule| RuleState { rule, matched: 0, fired: 0 }).collect();
    }

    pub fn clear(&self) {
        let mut inner = self.inner.lock();
        inner.rules.clear();
        inner.injected = 0;
    }

    pub fn injected(&self) -> u64 {
        self.inner.lock().injected
    }

    pub fn active(&self) -> bool {
        !self.inner.lock().rules.is_empty()
    }

    /// The faults to apply to one request to `endpoint`, in rule order.
    pub fn pick(&self, endpoint: &str) -> Vec<Fault> {
        let mut inner = self.inner.lock();
        if inner.rules.is_empty() {
            return Vec::new();
        }
        let Inner { rng, rules, injected } = &mut *inner;
        let mut out = Vec::new();
        for st in rules.iter_mut() {
            if st.rule.endpoint.as_deref().is_some_and(|e| e != endpoint) {
                continue;
            }
            if st.rule.max_times.is_some_and(|m| st.fired >= m) {
                continue;
            }
            let n = st.matched;
            st.matched += 1;
            let fault = if let Some(seq) = &st.rule.sequence {
                seq.get(n as usize).cloned().flatten()
            } else if let Some(p) = st.rule.probability {
                // Draw for every matching request so the outcome depends only on the seed and order.
                let draw: f64 = rng.random();
                if draw < p {
                    st.rule.fault.clone()
                } else {
                    None
                }
            } else {
                st.rule.fault.clone()
            };
            if let Some(f) = fault {
                st.fired += 1;
                *injected += 1;
                out.push(f);
            }
        }
        out
    }
}
