//! References by external id (`data_set_external_id`, `asset_external_id(s)`) where CDF's
//! fields take internal ids. Writes: rows wait here until a batch of them is resolved with one
//! `byids` request per referenced resource; resolved ids are cached for the statement (an asset
//! written earlier in the statement is in CDF by then and resolves too). Reads: the ids of a page
//! are turned back into external ids the same way.

use std::collections::{HashMap, HashSet};

use cdf_tables::limits::ITEMS_PAGE;
use cdf_tables::{Column, Reference, UnknownReferences};
use serde_json::{json, Map, Value as Json};

use crate::error::CdfError;
use crate::session::{Idempotency, Session};

/// Rows held before their references are looked up (about one write request).
const ROWS_PER_LOOKUP: usize = ITEMS_PAGE;

/// The references of one row: column, what it points at, the external ids it names.
pub type RowReferences = Vec<(&'static Column, Reference, Vec<String>)>;

/// A reference CDF does not know, with the row that made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownReference {
    pub row: u64,
    pub column: &'static str,
    pub noun: &'static str,
    pub external_id: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ReferenceError {
    Cdf(CdfError),
    Unknown(UnknownReference),
}

/// A row with its references resolved: per column, the id (or ids for a `TEXT[]` column) to
/// put in the reference's `id_field`.
pub struct Resolved<T> {
    pub row: u64,
    pub payload: T,
    pub ids: Vec<(Reference, Json)>,
}

/// What became of a pushed row.
pub enum Pushed<T> {
    /// All its references were known and no row waited before it.
    Ready(Resolved<T>),
    /// It waits; `lookup_due` says the caller should `resolve` now.
    Waiting { lookup_due: bool },
}

struct Pending<T> {
    row: u64,
    payload: T,
    references: RowReferences,
}

/// Resolves the references of a statement's rows, in statement order.
pub struct ReferenceResolver<T> {
    policy: UnknownReferences,
    /// (target, external id) -> id, for the whole statement.
    ids: HashMap<(&'static str, String), i64>,
    pending: Vec<Pending<T>>,
    /// References left out under `unknown_references 'drop'`, by column.
    pub dropped: Vec<(&'static str, u64)>,
    pub lookups: u64,
}

impl<T> ReferenceResolver<T> {
    pub fn new(policy: UnknownReferences) -> Self {
        ReferenceResolver { policy, ids: HashMap::new(), pending: Vec::new(), dropped: Vec::new(), lookups: 0 }
    }

    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Takes a row. Without waiting rows and with all its references known it comes straight
    /// back resolved; otherwise it waits, and `true` says a lookup is due (`resolve`).
    pub fn push(&mut self, row: u64, payload: T, references: RowReferences) -> Pushed<T> {
        let known =
            references.iter().all(|(_, r, xs)| xs.iter().all(|x| self.ids.contains_key(&(r.target, x.clone()))));
        if self.pending.is_empty() && known {
            return Pushed::Ready(self.place(Pending { row, payload, references }).expect("all references are known"));
        }
        self.pending.push(Pending { row, payload, references });
        Pushed::Waiting { lookup_due: self.pending.len() >= ROWS_PER_LOOKUP }
    }

    /// Looks up everything the waiting rows name and returns them resolved, in order. An
    /// unknown reference (under `unknown_references 'error'`) stops the statement: none of the
    /// waiting rows is returned.
    pub async fn resolve(&mut self, session: &mut Session) -> Result<Vec<Resolved<T>>, ReferenceError> {
        let mut wanted: HashMap<&'static str, HashSet<String>> = HashMap::new();
        for p in &self.pending {
            for (_, r, xs) in &p.references {
                for x in xs {
                    if !self.ids.contains_key(&(r.target, x.clone())) {
                        wanted.entry(r.target).or_default().insert(x.clone());
                    }
                }
            }
        }
        for (target, external_ids) in wanted {
            let external_ids: Vec<String> = external_ids.into_iter().collect();
            for chunk in external_ids.chunks(ITEMS_PAGE) {
                let items: Vec<Json> = chunk.iter().map(|x| json!({ "externalId": x })).collect();
                self.lookups += 1;
                for object in byids(session, target, items).await.map_err(ReferenceError::Cdf)? {
                    if let (Some(x), Some(id)) =
                        (object.get("externalId").and_then(Json::as_str), object.get("id").and_then(Json::as_i64))
                    {
                        self.ids.insert((target, x.to_string()), id);
                    }
                }
            }
        }
        let pending = std::mem::take(&mut self.pending);
        let mut out = Vec::with_capacity(pending.len());
        for p in pending {
            out.push(self.place(p).map_err(ReferenceError::Unknown)?);
        }
        Ok(out)
    }

    /// The ids of a row whose references have all been looked up.
    fn place(&mut self, p: Pending<T>) -> Result<Resolved<T>, UnknownReference> {
        let mut ids = Vec::with_capacity(p.references.len());
        for (column, reference, external_ids) in p.references {
            let mut found = Vec::with_capacity(external_ids.len());
            for x in external_ids {
                match self.ids.get(&(reference.target, x.clone())) {
                    Some(id) => found.push(json!(id)),
                    None if self.policy == UnknownReferences::Drop => self.count_dropped(column.name),
                    None => {
                        return Err(UnknownReference {
                            row: p.row,
                            column: column.name,
                            noun: reference.noun,
                            external_id: x,
                        })
                    }
                }
            }
            let value = if column.ty == cdf_tables::ColumnType::TextArray {
                Json::Array(found)
            } else {
                match found.pop() {
                    Some(id) => id,
                    None => continue, // dropped
                }
            };
            ids.push((reference, value));
        }
        Ok(Resolved { row: p.row, payload: p.payload, ids })
    }

    fn count_dropped(&mut self, column: &'static str) {
        match self.dropped.iter_mut().find(|(c, _)| *c == column) {
            Some((_, n)) => *n += 1,
            None => self.dropped.push((column, 1)),
        }
    }
}

async fn byids(session: &mut Session, target: &str, items: Vec<Json>) -> Result<Vec<Json>, CdfError> {
    let body = json!({ "items": items, "ignoreUnknownIds": true });
    let answer = session.post_json(&format!("{target}/byids"), &[], &body, Idempotency::Idempotent).await?.json()?;
    Ok(answer.get("items").and_then(Json::as_array).cloned().unwrap_or_default())
}

/// Puts resolved ids into a CDF item.
pub fn place_in_item(item: &mut Map<String, Json>, ids: Vec<(Reference, Json)>) {
    for (reference, value) in ids {
        item.insert(reference.id_field.to_string(), value);
    }
}

/// Puts resolved ids into an `/update` item as `set` operations.
pub fn place_in_update(change: &mut Json, ids: Vec<(Reference, Json)>) {
    if let Some(Json::Object(update)) = change.get_mut("update") {
        for (reference, value) in ids {
            update.insert(reference.id_field.to_string(), json!({ "set": value }));
        }
    }
}

/// Fills the external-id columns of read rows from their ids (one `byids` per referenced
/// resource and page, cached for the scan).
pub struct ExternalIdFiller {
    columns: Vec<(&'static Column, Reference)>,
    external_ids: HashMap<(&'static str, i64), String>,
}

impl ExternalIdFiller {
    /// `None` when the scan reads no reference column.
    pub fn new(columns: Vec<(&'static Column, Reference)>) -> Option<ExternalIdFiller> {
        (!columns.is_empty()).then(|| ExternalIdFiller { columns, external_ids: HashMap::new() })
    }

    /// Fills the object rows of a page (points have no references).
    pub async fn fill<'r>(
        &mut self,
        session: &mut Session,
        rows: impl Iterator<Item = &'r mut Map<String, Json>>,
    ) -> Result<(), CdfError> {
        let mut rows: Vec<&mut Map<String, Json>> = rows.collect();
        let ids_of = |row: &Map<String, Json>, r: &Reference| -> Vec<i64> {
            match row.get(r.id_field) {
                Some(Json::Array(xs)) => xs.iter().filter_map(Json::as_i64).collect(),
                Some(v) => v.as_i64().into_iter().collect(),
                None => Vec::new(),
            }
        };
        let mut wanted: HashMap<&'static str, HashSet<i64>> = HashMap::new();
        for row in &rows {
            for (_, r) in &self.columns {
                for id in ids_of(row, r) {
                    if !self.external_ids.contains_key(&(r.target, id)) {
                        wanted.entry(r.target).or_default().insert(id);
                    }
                }
            }
        }
        for (target, ids) in wanted {
            let ids: Vec<i64> = ids.into_iter().collect();
            for chunk in ids.chunks(ITEMS_PAGE) {
                let items: Vec<Json> = chunk.iter().map(|id| json!({ "id": id })).collect();
                for object in byids(session, target, items).await? {
                    if let (Some(x), Some(id)) =
                        (object.get("externalId").and_then(Json::as_str), object.get("id").and_then(Json::as_i64))
                    {
                        self.external_ids.insert((target, id), x.to_string());
                    }
                }
            }
        }
        for row in &mut rows {
            for (column, r) in &self.columns {
                let found: Vec<Json> = ids_of(row, r)
                    .into_iter()
                    .map(|id| self.external_ids.get(&(r.target, id)).map_or(Json::Null, |x| json!(x)))
                    .collect();
                let value = if column.ty == cdf_tables::ColumnType::TextArray {
                    if row.get(r.id_field).is_none() {
                        continue;
                    }
                    Json::Array(found)
                } else {
                    match found.into_iter().next() {
                        Some(x) => x,
                        None => continue,
                    }
                };
                row.insert(column.name.to_string(), value);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cdf_tables::resource;

    fn refs(table: &str, column: &str, xs: &[&str]) -> RowReferences {
        let c = resource(table).unwrap().column(column).unwrap();
        let cdf_tables::Field::ExternalIdRef(r) = c.field else { panic!("{column} is no reference") };
        vec![(c, r, xs.iter().map(|x| x.to_string()).collect())]
    }

    #[test]
    fn known_references_resolve_at_once_and_unknown_ones_wait_or_drop() {
        let mut r: ReferenceResolver<u32> = ReferenceResolver::new(UnknownReferences::Drop);
        r.ids.insert(("assets", "a".into()), 7);
        let Pushed::Ready(done) = r.push(1, 0, refs("events", "asset_external_ids", &["a"])) else { panic!() };
        assert_eq!(done.ids[0].1, json!([7]));
        let waits = |p: Pushed<u32>| matches!(p, Pushed::Waiting { lookup_due: false });
        assert!(waits(r.push(2, 0, refs("events", "asset_external_ids", &["a", "b"]))));
        assert!(waits(r.push(3, 0, refs("events", "asset_external_ids", &["a"]))), "behind row 2");
        let p = r.pending.remove(0);
        let placed = r.place(p).unwrap();
        assert_eq!(placed.ids[0].1, json!([7]));
        assert_eq!(r.dropped, vec![("asset_external_ids", 1)]);
        let mut strict: ReferenceResolver<u32> = ReferenceResolver::new(UnknownReferences::Error);
        let p = Pending { row: 9, payload: 0, references: refs("time_series", "asset_external_id", &["zz"]) };
        let e = strict.place(p).err().unwrap();
        assert_eq!((e.row, e.column, e.external_id.as_str()), (9, "asset_external_id", "zz"));
    }
}
