//! What a CDF identity may do, from `GET /api/v1/token/inspect`, per built-in table.

use serde_json::Value as Json;

use crate::catalogue::{Resource, RESOURCES};

/// The access an identity has to one table's resource in one project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableAccess {
    pub resource: &'static Resource,
    pub read: bool,
    pub write: bool,
}

/// Whether a capability's project scope covers `project`.
fn covers_project(capability: &Json, project: &str) -> bool {
    match capability.get("projectScope") {
        None => true,
        Some(scope) => {
            scope.get("allProjects").is_some()
                || scope
                    .get("projects")
                    .and_then(|p| p.as_array())
                    .is_some_and(|ps| ps.iter().any(|p| p.as_str() == Some(project)))
        }
    }
}

/// The actions granted on `acl` in `project` by an inspect response.
pub fn actions(inspect: &Json, acl: &str, project: &str) -> Vec<String> {
    let mut out = Vec::new();
    for cap in inspect.get("capabilities").and_then(|c| c.as_array()).into_iter().flatten() {
        if !covers_project(cap, project) {
            continue;
        }
        if let Some(actions) = cap.get(acl).and_then(|a| a.get("actions")).and_then(|a| a.as_array()) {
            for a in actions.iter().filter_map(|a| a.as_str()) {
                if !out.iter().any(|o| o == a) {
                    out.push(a.to_string());
                }
            }
        }
    }
    out
}

/// Whether the identity belongs to `project` at all.
pub fn has_project(inspect: &Json, project: &str) -> bool {
    inspect
        .get("projects")
        .and_then(|p| p.as_array())
        .is_some_and(|ps| ps.iter().any(|p| p.get("projectUrlName").and_then(|n| n.as_str()) == Some(project)))
}

/// Read and write access per built-in table.
pub fn table_access(inspect: &Json, project: &str) -> Vec<TableAccess> {
    RESOURCES
        .iter()
        .map(|resource| {
            let granted = actions(inspect, resource.acl, project);
            TableAccess {
                resource,
                read: granted.iter().any(|a| a == "READ"),
                write: granted.iter().any(|a| a == "WRITE"),
            }
        })
        .collect()
}

/// The capability that view tables (data-modeling nodes) need, READ for SELECT and WRITE for
/// INSERT, UPDATE and DELETE.
pub const VIEW_TABLES_ACL: &str = "dataModelInstancesAcl";

/// Read and write access of view tables: `(read, write)`.
pub fn view_access(inspect: &Json, project: &str) -> (bool, bool) {
    let granted = actions(inspect, VIEW_TABLES_ACL, project);
    (granted.iter().any(|a| a == "READ"), granted.iter().any(|a| a == "WRITE"))
}

/// Capabilities the built-in tables need but the identity lacks, one entry per capability with
/// the tables that need it, e.g. `timeSeriesAcl:WRITE (time_series, double_datapoints)`.
pub fn missing_capabilities(access: &[TableAccess]) -> Vec<String> {
    let mut missing: Vec<(String, Vec<&str>)> = Vec::new();
    for a in access {
        for (granted, action) in [(a.read, "READ"), (a.write, "WRITE")] {
            if granted {
                continue;
            }
            let capability = format!("{}:{action}", a.resource.acl);
            match missing.iter_mut().find(|(c, _)| *c == capability) {
                Some((_, tables)) => tables.push(a.resource.table),
                None => missing.push((capability, vec![a.resource.table])),
            }
        }
    }
    missing.into_iter().map(|(c, tables)| format!("{c} ({})", tables.join(", "))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn inspect() -> Json {
        json!({
            "subject": "app",
            "projects": [{"projectUrlName": "demo", "groups": [1]}],
            "capabilities": [
                {"assetsAcl": {"actions": ["READ", "WRITE"], "scope": {"all": {}}}, "projectScope": {"projects": ["demo"]}},
                {"timeSeriesAcl": {"actions": ["READ"], "scope": {"all": {}}}, "projectScope": {"allProjects": {}}},
                {"eventsAcl": {"actions": ["WRITE"], "scope": {"all": {}}}, "projectScope": {"projects": ["other"]}}
            ]
        })
    }

    #[test]
    fn access_follows_actions_and_project_scope() {
        let access = table_access(&inspect(), "demo");
        let of = |t: &str| access.iter().find(|a| a.resource.table == t).unwrap().clone();
        assert!(of("assets").read && of("assets").write);
        assert!(of("double_datapoints").read && !of("double_datapoints").write);
        assert!(!of("events").write, "events WRITE is scoped to another project");
        let missing = missing_capabilities(&access);
        assert!(
            missing.contains(&"timeSeriesAcl:WRITE (time_series, double_datapoints, string_datapoints)".to_string())
        );
        assert!(missing.contains(&"eventsAcl:WRITE (events)".to_string()));
        assert!(!missing.iter().any(|m| m.starts_with("assetsAcl")));
        assert!(has_project(&inspect(), "demo"));
        assert_eq!(view_access(&inspect(), "demo"), (false, false));
        assert!(!has_project(&inspect(), "other"));
    }
}
