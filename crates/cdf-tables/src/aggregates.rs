//! Aggregates of datapoints that CDF computes: which SQL aggregates and buckets it can answer
//! exactly, the request for them, and the rows of its answer.
//!
//! CDF aligns aggregate intervals to the start time rounded down to a whole granularity unit
//! (docs.cognite.com/dev/concepts/aggregation). `date_bin(stride, timestamp, origin)` buckets
//! equal CDF's intervals when the query's start and end fall on bucket boundaries and the start
//! on a whole unit: every interval is then complete on both sides, and nothing outside the range
//! is read. Anything else is left to PostgreSQL.

use serde_json::{json, Map, Value as Json};

use crate::catalogue::{MAX_DATAPOINT_MS, MIN_DATAPOINT_MS};
use crate::writes::SeriesRef;

/// An SQL aggregate over the `value` of numeric datapoints, and the CDF aggregate that gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AggregateFn {
    /// `avg(value)`: CDF's `average`, the plain mean of the values (`twa` is the time-weighted one).
    Avg,
    Min,
    Max,
    Sum,
    /// `count(*)`: CDF's `count`, every point in the interval. Not `count(value)`: a Bad point
    /// stored without value is a row whose value is NULL, which `count` still counts.
    CountRows,
}

impl AggregateFn {
    pub const ALL: [AggregateFn; 5] =
        [AggregateFn::Avg, AggregateFn::Min, AggregateFn::Max, AggregateFn::Sum, AggregateFn::CountRows];

    /// The aggregate for `name(value)` (`star`: `name(*)`) in pg_catalog.
    pub fn from_sql(name: &str, star: bool) -> Option<AggregateFn> {
        Some(match (name, star) {
            ("avg", false) => AggregateFn::Avg,
            ("min", false) => AggregateFn::Min,
            ("max", false) => AggregateFn::Max,
            ("sum", false) => AggregateFn::Sum,
            ("count", true) => AggregateFn::CountRows,
            _ => return None,
        })
    }

    pub fn cdf_name(self) -> &'static str {
        match self {
            AggregateFn::Avg => "average",
            AggregateFn::Min => "min",
            AggregateFn::Max => "max",
            AggregateFn::Sum => "sum",
            AggregateFn::CountRows => "count",
        }
    }

    pub fn sql(self) -> &'static str {
        match self {
            AggregateFn::Avg => "avg(value)",
            AggregateFn::Min => "min(value)",
            AggregateFn::Max => "max(value)",
            AggregateFn::Sum => "sum(value)",
            AggregateFn::CountRows => "count(*)",
        }
    }
}

/// `date_bin(stride, timestamp, origin)` (and `date_trunc(unit, timestamp, 'UTC')`, whose
/// stride is the unit and origin the epoch), in ms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Buckets {
    pub stride_ms: i64,
    pub origin_ms: i64,
}

/// Granularity units of CDF, largest first: (suffix, ms, the largest size sent). The sizes stay
/// within what CDF is known to accept for each unit; a larger multiple falls back to PostgreSQL.
const UNITS: [(&str, i64, i64); 4] =
    [("d", 86_400_000, 100_000), ("h", 3_600_000, 48), ("m", 60_000, 120), ("s", 1000, 120)];

/// One aggregates request: one series over [start, end) in intervals of `granularity`.
#[derive(Debug, Clone, PartialEq)]
pub struct AggregateRequest {
    pub series: SeriesRef,
    pub start: i64,
    pub end: i64,
    pub granularity: String,
    pub aggregates: Vec<AggregateFn>,
}

/// The largest CDF unit that divides `span`, when `start` is a whole one too: CDF would round
/// a start inside a unit down, and read points before it.
fn granularity(span: i64, start: i64) -> Option<String> {
    UNITS
        .iter()
        .find(|(_, unit, max)| span % unit == 0 && span / unit <= *max && start.rem_euclid(*unit) == 0)
        .map(|(suffix, unit, _)| format!("{}{suffix}", span / unit))
}

/// The request answering the aggregates over [start, end) of a series, in `buckets` or as one
/// interval (no GROUP BY); `None` when CDF's intervals would not be exactly the query's groups.
pub fn plan_aggregates(
    series: SeriesRef,
    start: i64,
    end: i64,
    buckets: Option<Buckets>,
    aggregates: Vec<AggregateFn>,
) -> Option<AggregateRequest> {
    if start >= end || start < MIN_DATAPOINT_MS || end > MAX_DATAPOINT_MS + 1 {
        return None;
    }
    let granularity = match buckets {
        Some(Buckets { stride_ms, origin_ms }) => {
            let on_boundary = |t: i64| (t - origin_ms).rem_euclid(stride_ms) == 0;
            if stride_ms <= 0 || !on_boundary(start) || !on_boundary(end) {
                return None;
            }
            granularity(stride_ms, start)?
        }
        None => granularity(end - start, start)?,
    };
    Some(AggregateRequest { series, start, end, granularity, aggregates })
}

impl AggregateRequest {
    /// The distinct CDF aggregates asked for.
    pub fn cdf_aggregates(&self) -> Vec<&'static str> {
        let mut names: Vec<&'static str> = Vec::new();
        for a in &self.aggregates {
            if !names.contains(&a.cdf_name()) {
                names.push(a.cdf_name());
            }
        }
        names
    }

    /// The item of `POST /timeseries/data/list`. Bad and Uncertain points count as the table
    /// shows them: every stored point is a row.
    pub fn body(&self, limit: usize, cursor: Option<&str>) -> Json {
        let mut item = self.series.to_json();
        item.insert("start".into(), json!(self.start));
        item.insert("end".into(), json!(self.end));
        item.insert("granularity".into(), json!(self.granularity));
        item.insert("aggregates".into(), json!(self.cdf_aggregates()));
        item.insert("limit".into(), json!(limit));
        if let Some(c) = cursor {
            item.insert("cursor".into(), json!(c));
        }
        json!({
            "items": [item],
            "ignoreUnknownIds": true,
            "ignoreBadDataPoints": false,
            "treatUncertainAsBad": false,
        })
    }

    /// The request as plan data (a cached plan keeps it as text).
    pub fn to_plan_json(&self) -> Json {
        let aggregates: Vec<usize> =
            self.aggregates.iter().map(|a| AggregateFn::ALL.iter().position(|x| x == a).unwrap_or(0)).collect();
        json!({
            "series": self.series.to_json(),
            "start": self.start,
            "end": self.end,
            "granularity": self.granularity,
            "aggregates": aggregates,
        })
    }

    pub fn from_plan_json(json: &Json) -> Option<AggregateRequest> {
        let series = &json["series"];
        let series = if let Some(id) = series["id"].as_i64() {
            SeriesRef::Id(id)
        } else if let Some(x) = series["externalId"].as_str() {
            SeriesRef::ExternalId(x.to_string())
        } else {
            let instance = &series["instanceId"];
            SeriesRef::InstanceId {
                space: instance["space"].as_str()?.to_string(),
                external_id: instance["externalId"].as_str()?.to_string(),
            }
        };
        let aggregates = json["aggregates"]
            .as_array()?
            .iter()
            .map(|i| i.as_u64().and_then(|i| AggregateFn::ALL.get(i as usize).copied()))
            .collect::<Option<Vec<_>>>()?;
        Some(AggregateRequest {
            series,
            start: json["start"].as_i64()?,
            end: json["end"].as_i64()?,
            granularity: json["granularity"].as_str()?.to_string(),
            aggregates,
        })
    }

    /// For EXPLAIN.
    pub fn describe(&self) -> String {
        format!(
            "POST /timeseries/data/list (granularity {}, aggregates {}, start {}, end {})",
            self.granularity,
            self.cdf_aggregates().join(","),
            self.start,
            self.end
        )
    }
}

/// A number of an aggregate answer: JSON numbers and CDF's "NaN"/"Infinity" strings.
fn number(v: &Json) -> Option<f64> {
    match v {
        Json::Number(n) => n.as_f64(),
        Json::String(s) => crate::points::non_finite_of(s),
        _ => None,
    }
}

/// One output value of an aggregate row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AggregateValue {
    Double(f64),
    Count(i64),
    Null,
}

/// The value of `f` in one interval of CDF's answer (`None`: the interval has no such value,
/// e.g. only value-less points, which PostgreSQL's aggregate shows as NULL).
pub fn interval_value(point: &Map<String, Json>, f: AggregateFn) -> AggregateValue {
    let v = point.get(f.cdf_name());
    match f {
        AggregateFn::CountRows => AggregateValue::Count(v.and_then(|c| c.as_i64()).unwrap_or(0)),
        _ => v.and_then(number).map_or(AggregateValue::Null, AggregateValue::Double),
    }
}

/// The single row of an aggregate without GROUP BY when CDF returned no interval: counts are 0,
/// the rest NULL, as PostgreSQL computes over no rows.
pub fn empty_value(f: AggregateFn) -> AggregateValue {
    match f {
        AggregateFn::CountRows => AggregateValue::Count(0),
        _ => AggregateValue::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000;

    fn plan(start: i64, end: i64, buckets: Option<Buckets>) -> Option<String> {
        plan_aggregates(SeriesRef::ExternalId("s".into()), start, end, buckets, vec![AggregateFn::Avg])
            .map(|r| r.granularity)
    }

    #[test]
    fn buckets_must_match_cdf_intervals() {
        let hourly = Some(Buckets { stride_ms: HOUR, origin_ms: 0 });
        assert_eq!(plan(0, 24 * HOUR, hourly).as_deref(), Some("1h"));
        assert_eq!(plan(0, 24 * HOUR, Some(Buckets { stride_ms: 86_400_000, origin_ms: 0 })).as_deref(), Some("1d"));
        assert_eq!(plan(0, 6 * HOUR, Some(Buckets { stride_ms: 90 * 60_000, origin_ms: 0 })).as_deref(), Some("90m"));
        // A start or end inside a bucket: CDF's first interval would hold points before start.
        assert_eq!(plan(HOUR / 2, 24 * HOUR, hourly), None);
        assert_eq!(plan(0, 24 * HOUR + 1, hourly), None);
        // An origin off the hour: seconds keep CDF's intervals on it, but 3600s is too many.
        assert_eq!(plan(30_000, HOUR + 30_000, Some(Buckets { stride_ms: HOUR, origin_ms: 30_000 })), None);
        let half_minute = Some(Buckets { stride_ms: 60_000, origin_ms: 30_000 });
        assert_eq!(plan(30_000, 30_000 + HOUR, half_minute).as_deref(), Some("60s"));
        // A stride of 2h from an odd hour is fine: CDF starts at the (whole-hour) start.
        assert_eq!(plan(HOUR, 5 * HOUR, Some(Buckets { stride_ms: 2 * HOUR, origin_ms: HOUR })).as_deref(), Some("2h"));
        assert_eq!(plan(0, 10, Some(Buckets { stride_ms: 10, origin_ms: 0 })), None, "sub-second strides");
        assert_eq!(plan(5, 5, hourly), None);
    }

    #[test]
    fn a_whole_range_is_one_interval() {
        assert_eq!(plan(0, 86_400_000, None).as_deref(), Some("1d"));
        assert_eq!(plan(HOUR, 3 * HOUR, None).as_deref(), Some("2h"));
        assert_eq!(plan(HOUR + 1000, HOUR + 61_000, None).as_deref(), Some("60s"));
        assert_eq!(plan(HOUR + 1000, 3 * HOUR, None), None, "7199s is beyond what CDF takes");
        assert_eq!(plan(0, 3 * 86_400_000 + HOUR, None), None, "73h");
        assert_eq!(plan(1, 1001, None), None);
    }

    #[test]
    fn answers_become_values() {
        let point: Map<String, Json> =
            serde_json::from_value(json!({"timestamp": 0, "average": 1.5, "count": 3, "max": "Infinity"})).unwrap();
        assert_eq!(interval_value(&point, AggregateFn::Avg), AggregateValue::Double(1.5));
        assert_eq!(interval_value(&point, AggregateFn::CountRows), AggregateValue::Count(3));
        assert_eq!(interval_value(&point, AggregateFn::Max), AggregateValue::Double(f64::INFINITY));
        assert_eq!(interval_value(&point, AggregateFn::Sum), AggregateValue::Null);
        let request = plan_aggregates(
            SeriesRef::Id(7),
            0,
            HOUR,
            None,
            vec![AggregateFn::Sum, AggregateFn::Avg, AggregateFn::Sum, AggregateFn::CountRows],
        )
        .unwrap();
        assert_eq!(request.cdf_aggregates(), vec!["sum", "average", "count"]);
        assert_eq!(request.body(10, Some("c"))["items"][0]["granularity"], "1h");
        assert_eq!(request.body(10, Some("c"))["items"][0]["cursor"], "c");
        assert_eq!(AggregateRequest::from_plan_json(&request.to_plan_json()), Some(request));
        let by_instance = AggregateRequest {
            series: SeriesRef::InstanceId { space: "sp".into(), external_id: "x".into() },
            ..plan_aggregates(SeriesRef::Id(1), 0, HOUR, None, vec![AggregateFn::Min]).unwrap()
        };
        assert_eq!(AggregateRequest::from_plan_json(&by_instance.to_plan_json()), Some(by_instance));
    }
}
