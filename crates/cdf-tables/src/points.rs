//! A datapoint as a read delivers it: a compact row (no JSON map per point; a page has up to
//! 100,000 of them) whose series is shared by every point of that series. Which column reads
//! which part of it follows the columns' `Field`s (`mapping::point_to_value`).

use std::sync::Arc;

use serde_json::{Map, Value as Json};

/// What identifies the series of a point, as CDF's answer names it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SeriesAddress {
    pub id: Option<i64>,
    pub external_id: Option<String>,
    pub instance_space: Option<String>,
    pub instance_external_id: Option<String>,
}

impl SeriesAddress {
    /// The value of an address column (`Field::Address`) of a datapoints table, by column name.
    pub fn column(&self, name: &str) -> Json {
        let text = |s: &Option<String>| s.as_ref().map_or(Json::Null, |s| Json::String(s.clone()));
        match name {
            "id" => self.id.map_or(Json::Null, Json::from),
            "external_id" => text(&self.external_id),
            "instance_space" => text(&self.instance_space),
            "instance_external_id" => text(&self.instance_external_id),
            _ => Json::Null,
        }
    }
}

/// A point's value: numeric series carry doubles (NaN and infinities included), string series
/// text; a Bad point may be stored without a value.
#[derive(Debug, Clone, PartialEq)]
pub enum PointValue {
    Double(f64),
    Text(String),
    Missing,
}

/// A status that is not Good (CDF leaves Good out).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PointStatus {
    pub code: i64,
    pub symbol: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub series: Arc<SeriesAddress>,
    /// Milliseconds since 1970.
    pub timestamp: i64,
    pub value: PointValue,
    pub status: Option<PointStatus>,
}

impl Point {
    /// The point as the JSON object CDF's JSON answer holds, with its address under the column
    /// names (what readers delivered before points were compact): for tests and comparisons.
    pub fn to_json(&self) -> Map<String, Json> {
        let mut row = Map::new();
        row.insert("timestamp".into(), Json::from(self.timestamp));
        match &self.value {
            PointValue::Double(x) => {
                let number = serde_json::Number::from_f64(*x).map(Json::Number);
                row.insert("value".into(), number.unwrap_or_else(|| Json::String(non_finite_text(*x).into())));
            }
            PointValue::Text(s) => {
                row.insert("value".into(), Json::String(s.clone()));
            }
            PointValue::Missing => {}
        }
        if let Some(st) = &self.status {
            row.insert("status".into(), serde_json::json!({ "code": st.code, "symbol": st.symbol }));
        }
        for name in ["id", "external_id", "instance_space", "instance_external_id"] {
            let v = self.series.column(name);
            if !v.is_null() {
                row.insert(name.into(), v);
            }
        }
        row
    }
}

/// How CDF's JSON spells a double that JSON numbers cannot hold.
pub fn non_finite_text(x: f64) -> &'static str {
    if x.is_nan() {
        "NaN"
    } else if x > 0.0 {
        "Infinity"
    } else {
        "-Infinity"
    }
}

/// The double of CDF's JSON spelling of a non-finite number (`"NaN"`, `"Infinity"`, `"-Infinity"`).
pub fn non_finite_of(text: &str) -> Option<f64> {
    match text {
        "NaN" => Some(f64::NAN),
        "Infinity" => Some(f64::INFINITY),
        "-Infinity" => Some(f64::NEG_INFINITY),
        _ => None,
    }
}
