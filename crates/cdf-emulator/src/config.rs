//! Emulator configuration: OAuth clients, their projects and capabilities, token lifetime.
//! Loaded from TOML (see `emulator.example.toml`) or built in code by other crates' tests.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Every ACL the emulator knows, with every action CDF defines for it.
pub const KNOWN_ACLS: &[(&str, &[&str])] = &[
    ("assetsAcl", &["READ", "WRITE"]),
    ("eventsAcl", &["READ", "WRITE"]),
    ("filesAcl", &["READ", "WRITE"]),
    ("timeSeriesAcl", &["READ", "WRITE"]),
    ("sequencesAcl", &["READ", "WRITE"]),
    ("labelsAcl", &["READ", "WRITE"]),
    ("relationshipsAcl", &["READ", "WRITE"]),
    ("datasetsAcl", &["READ", "WRITE", "OWNER"]),
    ("rawAcl", &["READ", "WRITE", "LIST"]),
    ("extractionPipelinesAcl", &["READ", "WRITE"]),
    ("extractionRunsAcl", &["READ", "WRITE"]),
    ("sessionsAcl", &["LIST", "CREATE", "DELETE"]),
    ("groupsAcl", &["CREATE", "DELETE", "READ", "LIST", "UPDATE"]),
    ("projectsAcl", &["READ", "CREATE", "LIST", "UPDATE", "DELETE"]),
    ("postgresGatewayAcl", &["READ", "WRITE"]),
    ("dataModelsAcl", &["READ", "WRITE"]),
    ("dataModelInstancesAcl", &["READ", "WRITE"]),
];

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EmulatorConfig {
    /// Lifetime of issued access tokens, in seconds.
    #[serde(default = "default_token_ttl")]
    pub token_ttl_secs: u64,
    #[serde(default)]
    pub clients: Vec<ClientConfig>,
    /// Cost model, rate limits, list delay and id order (`realism`); all off by default.
    #[serde(default)]
    pub realism: crate::realism::Realism,
}

fn default_token_ttl() -> u64 {
    3600
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ClientConfig {
    pub client_id: String,
    pub client_secret: String,
    /// Project URL names this client may use.
    #[serde(default)]
    pub projects: Vec<String>,
    #[serde(default)]
    pub capabilities: Vec<CapabilityConfig>,
}

/// One capability: `acl = "assetsAcl"`, `actions = ["READ","WRITE"]`, `scope` (default `{all = {}}`).
/// `acl = "*"` or `actions = ["*"]` expand to every known ACL / action.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CapabilityConfig {
    pub acl: String,
    pub actions: Vec<String>,
    #[serde(default = "scope_all")]
    pub scope: Value,
}

pub fn scope_all() -> Value {
    serde_json::json!({"all": {}})
}

impl Default for EmulatorConfig {
    /// The demo config: `demo-client` / `demo-secret`, project `demo`, every capability.
    fn default() -> Self {
        EmulatorConfig {
            token_ttl_secs: default_token_ttl(),
            clients: vec![ClientConfig::all_access("demo-client", "demo-secret", "demo")],
            realism: crate::realism::Realism::default(),
        }
    }
}

impl EmulatorConfig {
    pub fn from_toml(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    pub fn from_file(path: &std::path::Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Self::from_toml(&text).map_err(|e| format!("{}: {e}", path.display()))
    }
}

impl ClientConfig {
    /// A client with every capability (all ACLs, all actions, scope all) in one project.
    pub fn all_access(client_id: &str, client_secret: &str, project: &str) -> Self {
        ClientConfig {
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            projects: vec![project.into()],
            capabilities: vec![CapabilityConfig { acl: "*".into(), actions: vec!["*".into()], scope: scope_all() }],
        }
    }

    /// Capabilities with wildcards expanded, one entry per ACL.
    pub fn expanded_capabilities(&self) -> Vec<CapabilityConfig> {
        let mut out: Vec<CapabilityConfig> = Vec::new();
        for cap in &self.capabilities {
            let acls: Vec<&str> =
                if cap.acl == "*" { KNOWN_ACLS.iter().map(|(a, _)| *a).collect() } else { vec![cap.acl.as_str()] };
            for acl in acls {
                let actions: Vec<String> = if cap.actions.iter().any(|a| a == "*") {
                    KNOWN_ACLS
                        .iter()
                        .find(|(a, _)| *a == acl)
                        .map(|(_, acts)| acts.iter().map(|s| s.to_string()).collect())
                        .unwrap_or_default()
                } else {
                    cap.actions.iter().map(|a| a.to_uppercase()).collect()
                };
                out.push(CapabilityConfig { acl: acl.to_string(), actions, scope: cap.scope.clone() });
            }
        }
        out
    }

    /// Whether this client holds `acl:action`; returns the scope that grants it.
    pub fn grant(&self, acl: &str, action: &str) -> Option<Value> {
        self.expanded_capabilities()
            .into_iter()
            .find(|c| c.acl == acl && c.actions.iter().any(|a| a == action))
            .map(|c| c.scope)
    }
}
