//! How each resource answers identifiers in `byids` and `delete` requests: an identifier given
//! twice, one object named by both id and externalId, unknown identifiers with and without
//! `ignoreUnknownIds`. CDF's answers differ between resources and between byids and delete.
//!
//! Source: the request/response recordings against api.cognitedata.com that cognite-sdk-scala
//! ships as test fixtures (`src/test/resources/cassettes/{Assets,Events,Files,TimeSeries}Test/`,
//! commit c45b365e, recorded 2026-06/07), e.g. `should-return-information-about-missing-ids.json`,
//! `should-be-an-error-to-delete-using-ids-that-does-not-exist.json`,
//! `should-raise-a-conflict-error-if-input-of-delete-contains-internalIdand-externalId-that-represent-the-same-row.json`.
//! Resources without recordings (sequences, relationships, labels, data sets, extraction
//! pipelines, sessions) keep the emulator's earlier rule: 400 with `duplicated`, then 400 with
//! `missing`.

use serde_json::{json, Value};
use std::collections::HashSet;

use super::generic::{check_unique_idents, Ident};
use super::project::Kind;
use crate::errors::{ApiError, ApiResult};
use crate::store::Collection;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdOp {
    ByIds,
    Delete,
}

/// Identifiers named more than once, each listed once, in request order.
fn repeated(idents: &[Ident], only_ids: bool) -> Vec<&Ident> {
    let mut seen = HashSet::new();
    let mut out: Vec<&Ident> = Vec::new();
    for i in idents {
        if only_ids && !matches!(i, Ident::Id(_)) {
            continue;
        }
        if !seen.insert(i) && !out.contains(&i) {
            out.push(i);
        }
    }
    out
}

/// Unknown identifiers, each listed once, in request order.
fn unknown<'a>(coll: &Collection, idents: &'a [Ident], has_id: bool) -> Vec<&'a Ident> {
    let mut out: Vec<&Ident> = Vec::new();
    for i in idents {
        if coll.resolve(i, has_id).is_none() && !out.contains(&i) {
            out.push(i);
        }
    }
    out
}

/// Keys of the known identifiers in request order, and the keys named twice by different
/// identifiers (an id and an externalId of the same object).
fn keys_and_conflicts(coll: &Collection, idents: &[Ident], has_id: bool) -> (Vec<i64>, Vec<(i64, Option<String>)>) {
    let mut seen: HashSet<i64> = HashSet::new();
    let mut keys = Vec::new();
    let mut conflicts: Vec<(i64, Option<String>)> = Vec::new();
    for i in idents {
        if let Some(k) = coll.resolve(i, has_id) {
            if seen.insert(k) {
                keys.push(k);
            } else if !conflicts.iter().any(|(c, _)| *c == k) {
                let xid = coll.items[&k].get("externalId").and_then(|v| v.as_str()).map(str::to_string);
                conflicts.push((k, xid));
            }
        }
    }
    (keys, conflicts)
}

fn to_json(v: &[&Ident]) -> Vec<Value> {
    v.iter().map(|i| i.to_json()).collect()
}

fn joined(v: &[&Ident]) -> String {
    v.iter()
        .map(|i| match i {
            Ident::Id(n) => n.to_string(),
            Ident::Xid(x) => x.clone(),
            Ident::Instance(s, x) => format!("{s}:{x}"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn with(status: u16, message: impl Into<String>, missing: Vec<Value>, duplicated: Vec<Value>) -> ApiError {
    let mut e = ApiError::new(status, message);
    e.missing = missing;
    e.duplicated = duplicated;
    e
}

/// Resolves the identifiers of a byids or delete request as `kind` does in CDF; returns the
/// keys of the objects found (unknown ones dropped when `ignore_unknown`).
pub fn resolve(
    coll: &Collection,
    kind: Kind,
    op: IdOp,
    idents: &[Ident],
    has_id: bool,
    ignore_unknown: bool,
) -> ApiResult<Vec<i64>> {
    match kind {
        Kind::TimeSeries => {
            let dups = repeated(idents, false);
            if !dups.is_empty() {
                return Err(with(422, "Duplicate time series references", vec![], to_json(&dups)));
            }
            let missing = unknown(coll, idents, has_id);
            if !missing.is_empty() && !ignore_unknown {
                return Err(with(400, "Time series not found", to_json(&missing), vec![]));
            }
            let (keys, conflicts) = keys_and_conflicts(coll, idents, has_id);
            if !conflicts.is_empty() {
                let d = conflicts.iter().map(|(k, x)| json!({"id": k, "externalId": x})).collect();
                return Err(with(409, "Conflicting time series references", vec![], d));
            }
            Ok(keys)
        }
        Kind::Events => {
            let dups = repeated(idents, false);
            if !dups.is_empty() {
                return Err(with(409, "Event id duplicated", vec![], to_json(&dups)));
            }
            let missing = unknown(coll, idents, has_id);
            if !missing.is_empty() && !ignore_unknown {
                return Err(with(400, "Event id not found", to_json(&missing), vec![]));
            }
            let (keys, conflicts) = keys_and_conflicts(coll, idents, has_id);
            if !conflicts.is_empty() {
                let d = conflicts.iter().map(|(k, _)| json!({"id": k})).collect();
                return Err(with(409, "Event id duplicated", vec![], d));
            }
            Ok(keys)
        }
        Kind::Files => {
            let dups = repeated(idents, false);
            if !dups.is_empty() {
                let msg = if matches!(dups[0], Ident::Id(_)) { "Duplicate ids" } else { "Duplicate external ids" };
                return Err(with(409, format!("{msg}: {}", joined(&dups)), vec![], to_json(&dups)));
            }
            let missing = unknown(coll, idents, has_id);
            if !missing.is_empty() && !ignore_unknown {
                let msg = if matches!(missing[0], Ident::Id(_)) { "File ids not found" } else { "Files ids not found" };
                return Err(with(400, format!("{msg}: {}", joined(&missing)), to_json(&missing), vec![]));
            }
            let (keys, conflicts) = keys_and_conflicts(coll, idents, has_id);
            if !conflicts.is_empty() {
                let ids: Vec<String> = conflicts.iter().map(|(k, _)| k.to_string()).collect();
                let d = conflicts.iter().map(|(k, _)| json!({"id": k})).collect();
                return Err(with(409, format!("Duplicate ids: {}", ids.join(", ")), vec![], d));
            }
            Ok(keys)
        }
        Kind::Assets => {
            // delete: a repeated id is 409 before anything else; byids reports unknown ids first.
            if op == IdOp::Delete {
                let dups = repeated(idents, true);
                if !dups.is_empty() {
                    return Err(with(409, "Asset id duplicated", vec![], to_json(&dups)));
                }
            }
            let missing = unknown(coll, idents, has_id);
            if !missing.is_empty() && !ignore_unknown {
                let msg =
                    if matches!(missing[0], Ident::Id(_)) { "Asset id not found" } else { "External id not found" };
                return Err(with(400, msg, to_json(&missing), vec![]));
            }
            if op == IdOp::ByIds {
                // Known objects named twice in byids: not recorded; the earlier rule (400).
                return coll.resolve_all(idents, has_id, ignore_unknown);
            }
            let dups = repeated(idents, false);
            if !dups.is_empty() {
                return Err(with(409, "Asset id duplicated", vec![], to_json(&dups)));
            }
            let (keys, conflicts) = keys_and_conflicts(coll, idents, has_id);
            if !conflicts.is_empty() {
                let d = conflicts.iter().map(|(k, _)| json!({"id": k})).collect();
                return Err(with(409, "Asset id duplicated", vec![], d));
            }
            Ok(keys)
        }
        _ => {
            check_unique_idents(idents)?;
            coll.resolve_all(idents, has_id, ignore_unknown)
        }
    }
}
