//! How much like real CDF the emulator behaves beyond the API's rules: the cost model (latency
//! and processing time per endpoint family), rate and concurrency limits answering 429, the
//! delay before list endpoints see new objects, and how server ids are drawn. Owns the
//! configuration (`Realism`, the `cdf` profile and its numbers) and the endpoint classification
//! every part of it uses; `limits` enforces the limits, `api` applies the rest to each request.
//!
//! Everything is off by default (`Realism::default()`), so the test suite runs flat out; the
//! `cdf` profile turns the cost model and the limits on. The README lists where each number of
//! the profile comes from.

use serde::{Deserialize, Serialize};

/// Endpoint families: requests of one family share a cost entry and a limit budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Family {
    /// Assets, events, time series and sequence metadata, files, labels, relationships,
    /// data sets, extraction pipelines and their runs, sessions.
    Objects,
    /// `/timeseries/data*`.
    Datapoints,
    /// `/sequences/data*`.
    SequenceRows,
    /// RAW databases, tables and rows.
    Raw,
    /// `POST /oauth2/token` (the identity provider, not CDF).
    Token,
}

/// Request budget types of CDF's rate limits: CRUD (create, retrieve, byids, update, delete)
/// and analytical (list, filter, search, aggregate).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Budget {
    Crud,
    Analytical,
}

/// One classified endpoint: its family, budget type, and the resource that names its limits
/// (`assets`, `events`, `timeseries`, `raw`, ...).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EndpointClass {
    pub family: Family,
    pub budget: Budget,
    pub resource: String,
    /// Whether the request writes (RAW's data-rate limits differ for insert and retrieve).
    pub write: bool,
}

/// Classifies an endpoint key such as `POST /assets/list` or `GET /raw/dbs/{db}/tables/{table}/rows`.
pub fn classify(key: &str) -> EndpointClass {
    let (method, path) = key.split_once(' ').unwrap_or(("POST", key));
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let resource = segs.first().copied().unwrap_or("").to_string();
    let last = segs.last().copied().unwrap_or("");
    let family = match (resource.as_str(), segs.get(1).copied()) {
        ("oauth2", _) => Family::Token,
        ("timeseries", Some("data")) => Family::Datapoints,
        ("sequences", Some("data")) => Family::SequenceRows,
        ("raw", _) => Family::Raw,
        _ => Family::Objects,
    };
    let analytical = matches!(last, "list" | "search" | "aggregate" | "filter" | "cursors")
        || (method == "GET" && segs.len() == 1)
        || (method == "GET" && last == "rows")
        || (method == "GET" && matches!(last, "dbs" | "tables"));
    let write = method == "POST" && !analytical && !matches!(last, "byids" | "latest");
    EndpointClass {
        family,
        budget: if analytical { Budget::Analytical } else { Budget::Crud },
        resource: match family {
            Family::Datapoints => "datapoints".into(),
            _ => resource,
        },
        write,
    }
}

/// Time one request of a family costs: `base_ms` plus a uniform draw in `[0, jitter_ms]`,
/// plus `per_item_us` per item handled and `per_kib_us` per KiB of request body.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Cost {
    pub base_ms: f64,
    pub jitter_ms: f64,
    pub per_item_us: f64,
    pub per_kib_us: f64,
}

impl Cost {
    pub const fn new(base_ms: f64, jitter_ms: f64, per_item_us: f64, per_kib_us: f64) -> Cost {
        Cost { base_ms, jitter_ms, per_item_us, per_kib_us }
    }

    /// The delay for one request; `draw` is uniform in [0, 1).
    pub fn delay(&self, items: u64, bytes_in: u64, draw: f64) -> std::time::Duration {
        let ms = self.base_ms
            + self.jitter_ms * draw
            + self.per_item_us * items as f64 / 1000.0
            + self.per_kib_us * (bytes_in as f64 / 1024.0) / 1000.0;
        std::time::Duration::from_secs_f64(ms.max(0.0) / 1000.0)
    }
}

/// The cost model: one entry per family and budget type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CostModel {
    pub objects_crud: Cost,
    pub objects_analytical: Cost,
    pub datapoints_write: Cost,
    pub datapoints_read: Cost,
    pub sequence_rows: Cost,
    pub raw_write: Cost,
    pub raw_read: Cost,
    pub token: Cost,
}

impl CostModel {
    /// Numbers of the `cdf` profile; README "Profile cdf" gives the source of each.
    pub fn cdf() -> CostModel {
        CostModel {
            objects_crud: Cost::new(60.0, 60.0, 300.0, 0.0),
            objects_analytical: Cost::new(80.0, 80.0, 100.0, 0.0),
            datapoints_write: Cost::new(40.0, 40.0, 8.0, 0.0),
            datapoints_read: Cost::new(40.0, 40.0, 2.0, 0.0),
            sequence_rows: Cost::new(50.0, 50.0, 20.0, 0.0),
            raw_write: Cost::new(40.0, 40.0, 10.0, 100.0),
            raw_read: Cost::new(40.0, 40.0, 5.0, 0.0),
            token: Cost::new(100.0, 100.0, 0.0, 0.0),
        }
    }

    pub fn for_class(&self, c: &EndpointClass) -> Cost {
        match (c.family, c.budget, c.write) {
            (Family::Token, _, _) => self.token,
            (Family::Objects, Budget::Crud, _) => self.objects_crud,
            (Family::Objects, Budget::Analytical, _) => self.objects_analytical,
            (Family::Datapoints, _, true) => self.datapoints_write,
            (Family::Datapoints, _, false) => self.datapoints_read,
            (Family::SequenceRows, _, _) => self.sequence_rows,
            (Family::Raw, _, true) => self.raw_write,
            (Family::Raw, _, false) => self.raw_read,
        }
    }
}

/// Requests per second and concurrent requests of one budget, per identity (client id).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Budgets {
    /// Whole API of the resource.
    pub api_rps: f64,
    pub api_concurrent: u32,
    pub crud_rps: f64,
    pub crud_concurrent: u32,
    pub analytical_rps: f64,
    pub analytical_concurrent: u32,
}

impl Budgets {
    pub const fn new(api: (f64, u32), crud: (f64, u32), analytical: (f64, u32)) -> Budgets {
        Budgets {
            api_rps: api.0,
            api_concurrent: api.1,
            crud_rps: crud.0,
            crud_concurrent: crud.1,
            analytical_rps: analytical.0,
            analytical_concurrent: analytical.1,
        }
    }
}

/// RAW's limits: concurrency and data rates instead of requests per second.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RawLimits {
    pub concurrent: u32,
    /// Bytes of row inserts allowed per `window_secs`.
    pub insert_bytes: f64,
    /// Bytes of row reads allowed per `window_secs`.
    pub retrieve_bytes: f64,
    pub window_secs: f64,
}

/// Rate and concurrency limits per identity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LimitsConfig {
    /// Budgets per resource (`assets`, `events`, `timeseries`, `datapoints`, ...); resources not
    /// listed use `default`.
    pub resources: std::collections::BTreeMap<String, Budgets>,
    pub default: Budgets,
    pub raw: RawLimits,
    /// Send `Retry-After` (whole seconds until the budget has room again) on rate-limit 429s.
    /// Off in the cdf profile: no source shows CDF sending it.
    #[serde(default = "yes")]
    pub retry_after: bool,
}

fn yes() -> bool {
    true
}

impl LimitsConfig {
    /// Per-identity numbers of CDF's published limits; README "Profile cdf" gives the sources.
    pub fn cdf() -> LimitsConfig {
        let assets = Budgets::new((150.0, 30), (130.0, 23), (23.0, 12));
        let events = Budgets::new((150.0, 40), (130.0, 30), (23.0, 12));
        let mut resources = std::collections::BTreeMap::new();
        resources.insert("assets".to_string(), assets);
        resources.insert("events".to_string(), events);
        LimitsConfig {
            resources,
            default: assets,
            raw: RawLimits { concurrent: 48, insert_bytes: 1.3e9, retrieve_bytes: 6.6e9, window_secs: 600.0 },
            // No source shows CDF sending Retry-After on 429; off, so clients must back off alone.
            retry_after: false,
        }
    }

    pub fn budgets(&self, resource: &str) -> Budgets {
        self.resources.get(resource).copied().unwrap_or(self.default)
    }
}

/// How server-assigned ids are drawn, and therefore the order lists return objects in
/// (lists are in id order, as the emulator's cursors are "the last id seen").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum IdOrder {
    /// 1000000000001, 1000000000002, ...: lists come back in creation order.
    #[default]
    Sequential,
    /// Uniform in [1, 2^53) from a RNG seeded with `seed` (per project): as unpredictable as
    /// CDF's ids, so lists come back in no particular order, the same order every run.
    Random,
}

/// Everything beyond the API rules; see the module comment.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Realism {
    #[serde(default)]
    pub cost: Option<CostModel>,
    #[serde(default)]
    pub limits: Option<LimitsConfig>,
    /// List, filter and RAW row-list endpoints see an object only this long after it was
    /// created (byids, retrieve and RAW GET by key see it at once). 0 = immediately.
    #[serde(default)]
    pub list_delay_ms: u64,
    #[serde(default)]
    pub ids: IdOrder,
    /// Seed of the cost model's jitter and of random ids.
    #[serde(default)]
    pub seed: u64,
}

impl Realism {
    /// The `cdf` profile: CDF's latency and limits; ids and list visibility stay as configured.
    pub fn cdf() -> Realism {
        Realism { cost: Some(CostModel::cdf()), limits: Some(LimitsConfig::cdf()), ..Realism::default() }
    }

    /// `fast` (everything off) or `cdf`.
    pub fn profile(name: &str) -> Option<Realism> {
        match name {
            "fast" => Some(Realism::default()),
            "cdf" => Some(Realism::cdf()),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_classified_by_family_and_budget() {
        let c = classify("POST /assets/list");
        assert_eq!((c.family, c.budget, c.resource.as_str()), (Family::Objects, Budget::Analytical, "assets"));
        let c = classify("POST /assets");
        assert_eq!((c.family, c.budget, c.write), (Family::Objects, Budget::Crud, true));
        assert_eq!(classify("GET /assets").budget, Budget::Analytical);
        assert_eq!(classify("POST /assets/byids").budget, Budget::Crud);
        let c = classify("POST /timeseries/data");
        assert_eq!((c.family, c.resource.as_str(), c.write), (Family::Datapoints, "datapoints", true));
        assert!(!classify("POST /timeseries/data/list").write);
        let c = classify("GET /raw/dbs/{db}/tables/{table}/rows");
        assert_eq!((c.family, c.budget, c.write), (Family::Raw, Budget::Analytical, false));
        assert!(classify("POST /raw/dbs/{db}/tables/{table}/rows").write);
        assert_eq!(classify("POST /oauth2/token").family, Family::Token);
    }

    #[test]
    fn cost_grows_with_items_and_bytes() {
        let c = Cost::new(10.0, 0.0, 1000.0, 1000.0);
        assert_eq!(c.delay(0, 0, 0.5).as_millis(), 10);
        assert_eq!(c.delay(5, 0, 0.0).as_millis(), 15);
        assert_eq!(c.delay(0, 2048, 0.0).as_millis(), 12);
        assert_eq!(Cost::new(10.0, 20.0, 0.0, 0.0).delay(0, 0, 0.5).as_millis(), 20);
    }
}
