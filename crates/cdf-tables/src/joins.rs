//! Batched joins of two CDF tables: the outer ("driving") side is read as usual, its rows are
//! gathered into batches, and the inner side is read once per batch with the batch's join keys
//! as one condition (`id IN (...)`, `assetIds` containsAny, several series), instead of once
//! per outer row. A batch is matched in memory: each inner row meets the outer rows whose keys
//! it carries. PostgreSQL re-checks the join clause on every pair, so matching here only has to
//! find every pair that can hold; it finds exactly those for `=` on bigint and text keys.

use std::collections::HashMap;

use crate::catalogue::{ReadKind, Resource, MAX_FILTER_VALUES};
use crate::reads::{PushedQual, QualOp};
use crate::value::Value;

/// A join key value: the scalar types CDF looks objects up by.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum JoinKey {
    Int(i64),
    Text(String),
}

/// The keys a column value carries: a scalar its value, an array its distinct non-NULL
/// elements, NULL none (an equality with NULL never holds).
pub fn keys_of(value: &Value) -> Vec<JoinKey> {
    let mut keys = match value {
        Value::Int(i) => vec![JoinKey::Int(*i)],
        Value::Text(s) => vec![JoinKey::Text(s.clone())],
        Value::IntArray(a) => a.iter().flatten().map(|i| JoinKey::Int(*i)).collect(),
        Value::TextArray(a) => a.iter().flatten().map(|s| JoinKey::Text(s.clone())).collect(),
        _ => Vec::new(),
    };
    if keys.len() > 1 {
        let mut seen = std::collections::HashSet::with_capacity(keys.len());
        keys.retain(|k| seen.insert(k.clone()));
    }
    keys
}

/// How many keys one inner read takes at most: every id of a byids lookup is sent (in requests
/// of CDF's 1000 items), and the series of a datapoints lookup (in requests of 100 series, side
/// by side); a list filter takes `MAX_FILTER_VALUES` values (more are not sent, so the read would
/// not narrow); sequence rows and RAW rows are one read per key (side by side).
pub fn batch_size(resource: &Resource, column: &str) -> usize {
    match (resource.read, column) {
        (ReadKind::Items | ReadKind::Datapoints, "id" | "external_id") => 1000,
        _ => MAX_FILTER_VALUES,
    }
}

/// Outer rows with more keys than this wait for the next batch; one outer row alone may exceed
/// it (then its inner read is not narrowed by the keys, and PostgreSQL's re-check decides).
/// Outer rows per batch are capped too, so that many rows sharing few keys stay bounded.
pub const MAX_BATCH_ROWS: usize = 10_000;

/// Outer rows of one batch, indexed by their keys.
#[derive(Debug)]
pub struct OuterBatch<R> {
    rows: Vec<R>,
    by_key: HashMap<JoinKey, Vec<usize>>,
    /// The keys in the order they first appeared (the inner condition's values).
    keys: Vec<JoinKey>,
    capacity: usize,
}

impl<R> OuterBatch<R> {
    pub fn new(capacity: usize) -> OuterBatch<R> {
        OuterBatch { rows: Vec::new(), by_key: HashMap::new(), keys: Vec::new(), capacity: capacity.max(1) }
    }

    pub fn clear(&mut self) {
        self.rows.clear();
        self.by_key.clear();
        self.keys.clear();
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Whether a row with these keys still fits (an empty batch takes any row).
    pub fn fits(&self, keys: &[JoinKey]) -> bool {
        if self.rows.is_empty() {
            return true;
        }
        let new = keys.iter().filter(|k| !self.by_key.contains_key(*k)).count();
        self.rows.len() < MAX_BATCH_ROWS && self.keys.len() + new <= self.capacity
    }

    /// Whether the batch should be read now.
    pub fn is_full(&self) -> bool {
        self.keys.len() >= self.capacity || self.rows.len() >= MAX_BATCH_ROWS
    }

    /// Adds an outer row with its keys (a row without keys matches nothing and is not kept).
    pub fn push(&mut self, row: R, keys: Vec<JoinKey>) {
        if keys.is_empty() {
            return;
        }
        let index = self.rows.len();
        self.rows.push(row);
        for key in keys {
            let rows = self.by_key.entry(key.clone()).or_default();
            if rows.is_empty() {
                self.keys.push(key);
            }
            rows.push(index);
        }
    }

    pub fn row(&self, index: usize) -> &R {
        &self.rows[index]
    }

    /// The inner read's condition on `column`: `op` is the join's (`=` becomes `IN` the keys).
    pub fn condition(&self, column: &str, op: QualOp) -> PushedQual {
        let ints: Option<Vec<Option<i64>>> =
            self.keys.iter().map(|k| if let JoinKey::Int(i) = k { Some(Some(*i)) } else { None }).collect();
        let value = match ints {
            Some(ints) => Value::IntArray(ints),
            None => Value::TextArray(
                self.keys
                    .iter()
                    .map(|k| match k {
                        JoinKey::Int(i) => Some(i.to_string()),
                        JoinKey::Text(s) => Some(s.clone()),
                    })
                    .collect(),
            ),
        };
        let op = if op == QualOp::Eq { QualOp::In } else { op };
        PushedQual { column: column.to_string(), op, value }
    }

    /// The outer rows an inner row with these keys meets, each once, in outer order.
    pub fn matches(&self, inner_keys: &[JoinKey]) -> Vec<usize> {
        let mut found: Vec<usize> = inner_keys.iter().filter_map(|k| self.by_key.get(k)).flatten().copied().collect();
        if inner_keys.len() > 1 {
            found.sort_unstable();
            found.dedup();
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ints(values: &[i64]) -> Vec<JoinKey> {
        values.iter().map(|i| JoinKey::Int(*i)).collect()
    }

    #[test]
    fn arrays_carry_their_distinct_non_null_elements_and_null_carries_none() {
        assert_eq!(keys_of(&Value::IntArray(vec![Some(5), None, Some(7), Some(5)])), ints(&[5, 7]));
        assert_eq!(keys_of(&Value::Text("a".into())), vec![JoinKey::Text("a".into())]);
        assert!(keys_of(&Value::Null).is_empty());
        assert!(keys_of(&Value::TextArray(vec![None])).is_empty());
    }

    #[test]
    fn inner_rows_meet_every_outer_row_with_one_of_their_keys_once() {
        let mut batch = OuterBatch::new(10);
        batch.push("a", ints(&[1]));
        batch.push("b", ints(&[1, 2]));
        batch.push("c", ints(&[3]));
        batch.push("no key", Vec::new());
        assert_eq!(batch.matches(&ints(&[1])), vec![0, 1]);
        // An inner row carrying keys 1 and 2 meets "b" once, as `b.k && inner.keys` holds once.
        assert_eq!(batch.matches(&ints(&[2, 1])), vec![0, 1]);
        assert_eq!(batch.matches(&ints(&[4])), Vec::<usize>::new());
        let condition = batch.condition("id", QualOp::Eq);
        assert_eq!((condition.op, condition.value), (QualOp::In, Value::IntArray(vec![Some(1), Some(2), Some(3)])));
        let texts: OuterBatch<()> = {
            let mut b = OuterBatch::new(10);
            b.push((), vec![JoinKey::Text("x".into())]);
            b
        };
        assert_eq!(texts.condition("external_id", QualOp::Overlaps).value, Value::TextArray(vec![Some("x".into())]));
    }

    #[test]
    fn a_batch_takes_keys_up_to_its_capacity_but_always_one_row() {
        let mut batch: OuterBatch<u8> = OuterBatch::new(2);
        assert!(batch.fits(&ints(&[1, 2, 3])), "an empty batch takes a row with more keys than fit");
        batch.push(0, ints(&[1]));
        assert!(batch.fits(&ints(&[1, 2])));
        assert!(!batch.fits(&ints(&[2, 3])));
        batch.push(1, ints(&[2]));
        assert!(batch.is_full());
        assert!(batch.fits(&ints(&[2])), "keys already in the batch cost nothing");
        batch.clear();
        assert!(batch.is_empty() && !batch.is_full());
    }

    #[test]
    fn lookups_by_id_and_of_series_take_a_thousand_keys_and_list_filters_a_hundred() {
        let assets = crate::resource("assets").unwrap();
        let events = crate::resource("events").unwrap();
        assert_eq!(batch_size(assets, "id"), 1000);
        assert_eq!(batch_size(events, "asset_ids"), MAX_FILTER_VALUES);
        assert_eq!(batch_size(crate::resource("double_datapoints").unwrap(), "external_id"), 1000);
        assert_eq!(batch_size(crate::resource("sequence_rows").unwrap(), "external_id"), MAX_FILTER_VALUES);
    }
}
