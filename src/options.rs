//! Reading and validating catalog options (servers, user mappings, tables).

use std::ffi::CStr;

use cdf_client::{Credentials, ServerConfig};
use cdf_tables::options::{self as opts, OptionErrorKind, OptionTarget};
use cdf_tables::{InsertMode, Resource};
use pgrx::pg_sys;
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;
use pgrx::PgList;

/// Everything a scan or modify needs to know about one foreign table.
#[derive(Debug, Clone)]
pub struct TableContext {
    pub table_name: String,
    pub resource: &'static Resource,
    pub user_mapping_oid: pg_sys::Oid,
    pub server: ServerConfig,
    pub credentials: Credentials,
    pub insert_mode: InsertMode,
}

/// The text of a String node (what `strVal` does in C).
pub unsafe fn string_node_value(node: *mut pg_sys::Node) -> String {
    CStr::from_ptr(crate::compat::str_val(node)).to_string_lossy().into_owned()
}

/// Turns a `List` of `DefElem` into name/value pairs.
pub unsafe fn def_elems(list: *mut pg_sys::List) -> Vec<(String, String)> {
    let list = PgList::<pg_sys::DefElem>::from_pg(list);
    list.iter_ptr()
        .map(|def| {
            let name = CStr::from_ptr((*def).defname).to_string_lossy().into_owned();
            let value = CStr::from_ptr(pg_sys::defGetString(def)).to_string_lossy().into_owned();
            (name, value)
        })
        .collect()
}

/// The validator: `options` holds `name=value` strings, `catalog` the catalog they belong to.
pub fn validate(options: Vec<Option<String>>, catalog: Option<pg_sys::Oid>) {
    let target = match catalog {
        Some(pg_sys::ForeignServerRelationId) => OptionTarget::Server,
        Some(pg_sys::UserMappingRelationId) => OptionTarget::UserMapping,
        Some(pg_sys::ForeignTableRelationId) => OptionTarget::Table,
        Some(pg_sys::AttributeRelationId) => OptionTarget::Column,
        _ => OptionTarget::Wrapper,
    };
    let pairs: Vec<(String, String)> = options
        .into_iter()
        .flatten()
        .map(|s| match s.split_once('=') {
            Some((n, v)) => (n.to_string(), v.to_string()),
            None => (s, String::new()),
        })
        .collect();
    let mut result = opts::validate(target, &pairs);
    if result.is_ok() && target == OptionTarget::Server {
        result = opts::validate_server_policy(&pairs, &url_policy());
    }
    if let Err(e) = result {
        let code = match e.kind {
            OptionErrorKind::InvalidName => PgSqlErrorCode::ERRCODE_FDW_INVALID_OPTION_NAME,
            OptionErrorKind::InvalidValue => PgSqlErrorCode::ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE,
            OptionErrorKind::NotAllowed => PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
        };
        let mut report = ErrorReport::new(code, e.message, function_name!());
        if let Some(h) = e.hint {
            report = report.set_hint(h);
        }
        report.report(PgLogLevel::ERROR);
    }
}

/// The CDF project a server's options point at.
pub fn server_config(server_name: &str, server_options: &[(String, String)]) -> ServerConfig {
    ServerConfig {
        base_url: required(server_options, "base_url", server_name),
        project: required(server_options, "project", server_name),
        token_url: required(server_options, "token_url", server_name),
        scopes: opts::get(server_options, "scopes")
            .map(|s| s.split([' ', ',']).filter(|x| !x.is_empty()).map(str::to_string).collect())
            .unwrap_or_default(),
        audience: opts::get(server_options, "audience").map(str::to_string),
        ca_file: opts::get(server_options, "ca_file").map(str::to_string),
    }
}

/// The current role and the DBA's `cdf_fdw.allowed_urls`.
pub fn url_policy() -> opts::UrlPolicy {
    let allowed = crate::ALLOWED_URLS.get().map(|c| c.to_string_lossy().into_owned()).unwrap_or_default();
    opts::UrlPolicy {
        is_superuser: unsafe { pg_sys::superuser() },
        allowed_urls: allowed.split(',').map(|p| p.trim().to_string()).filter(|p| !p.is_empty()).collect(),
    }
}

fn required(options: &[(String, String)], name: &str, server: &str) -> String {
    match opts::get(options, name) {
        Some(v) => v.to_string(),
        None => {
            ErrorReport::new(
                PgSqlErrorCode::ERRCODE_FDW_OPTION_NAME_NOT_FOUND,
                format!("server \"{server}\" has no option \"{name}\""),
                function_name!(),
            )
            .set_hint("Set it with ALTER SERVER ... OPTIONS (ADD ...).")
            .report(PgLogLevel::ERROR);
            unreachable!()
        }
    }
}

/// The resource and name of a foreign table, without touching servers or user mappings (the
/// planner needs no credentials).
pub fn table_resource(relid: pg_sys::Oid) -> (&'static Resource, String) {
    unsafe {
        let table = pg_sys::GetForeignTable(relid);
        let options = def_elems((*table).options);
        let name = CStr::from_ptr(pg_sys::get_rel_name(relid)).to_string_lossy().into_owned();
        let resource_name = opts::get(&options, "resource").unwrap_or_default();
        match cdf_tables::resource(resource_name) {
            Some(r) => (r, name),
            None => {
                ErrorReport::new(
                    PgSqlErrorCode::ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE,
                    format!("foreign table \"{name}\" names unknown CDF resource \"{resource_name}\""),
                    function_name!(),
                )
                .report(PgLogLevel::ERROR);
                unreachable!()
            }
        }
    }
}

/// Loads the options of a foreign table, its server and the current user's mapping.
pub fn table_context(relid: pg_sys::Oid) -> TableContext {
    unsafe {
        let table = pg_sys::GetForeignTable(relid);
        let table_options = def_elems((*table).options);
        let server = pg_sys::GetForeignServer((*table).serverid);
        let server_name = CStr::from_ptr((*server).servername).to_string_lossy().into_owned();
        let server_options = def_elems((*server).options);
        let (resource, table_name) = table_resource(relid);

        let (user_mapping_oid, mapping_options) = user_mapping((*table).serverid, &server_name);

        let mode_option =
            opts::get(&table_options, "insert_mode").or_else(|| opts::get(&server_options, "insert_mode"));
        let insert_mode = mode_option.and_then(InsertMode::parse).unwrap_or(InsertMode::Upsert);

        let config = server_config(&server_name, &server_options);
        // The validator checked this when the server was created; check again in case the server
        // predates a stricter version.
        let superuser_policy = opts::UrlPolicy { is_superuser: true, allowed_urls: Vec::new() };
        if let Err(e) = opts::validate_server_policy(&server_options, &superuser_policy) {
            ErrorReport::new(PgSqlErrorCode::ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE, e.message, function_name!())
                .set_hint(e.hint.unwrap_or_default())
                .report(PgLogLevel::ERROR);
        }
        let credentials = Credentials {
            client_id: opts::get(&mapping_options, "client_id").unwrap_or_default().to_string(),
            client_secret: opts::get(&mapping_options, "client_secret").unwrap_or_default().to_string(),
        };
        if credentials.client_id.is_empty() || credentials.client_secret.is_empty() {
            ErrorReport::new(
                PgSqlErrorCode::ERRCODE_FDW_OPTION_NAME_NOT_FOUND,
                format!(
                    "the user mapping of role \"{}\" for server \"{server_name}\" lacks client_id or client_secret",
                    current_role_name()
                ),
                function_name!(),
            )
            .set_hint("ALTER USER MAPPING ... OPTIONS (ADD client_id '...', ADD client_secret '...').")
            .report(PgLogLevel::ERROR);
        }
        TableContext { table_name, resource, user_mapping_oid, server: config, credentials, insert_mode }
    }
}

fn current_role_name() -> String {
    unsafe {
        let name = pg_sys::GetUserNameFromId(pg_sys::GetUserId(), true);
        if name.is_null() {
            "?".into()
        } else {
            CStr::from_ptr(name).to_string_lossy().into_owned()
        }
    }
}

/// The current user's mapping (or PUBLIC's) for a server, with a clear error when there is none.
unsafe fn user_mapping(server_oid: pg_sys::Oid, server_name: &str) -> (pg_sys::Oid, Vec<(String, String)>) {
    let user = pg_sys::GetUserId();
    let found = PgTryBuilder::new(|| {
        let um = pg_sys::GetUserMapping(user, server_oid);
        Some(((*um).umid, def_elems((*um).options)))
    })
    .catch_when(PgSqlErrorCode::ERRCODE_UNDEFINED_OBJECT, |_| None)
    .execute();
    match found {
        Some(m) => m,
        None => {
            let role = current_role_name();
            ErrorReport::new(
                PgSqlErrorCode::ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION,
                format!("role \"{role}\" has no user mapping for CDF server \"{server_name}\""),
                function_name!(),
            )
            .set_hint(format!(
                "A superuser or the server owner can create one: CREATE USER MAPPING FOR \"{role}\" SERVER \"{server_name}\" OPTIONS (client_id '...', client_secret '...');"
            ))
            .report(PgLogLevel::ERROR);
            unreachable!()
        }
    }
}

/// Rejects columns a cdf_fdw foreign table's resource does not have, or types that cannot hold
/// them. Tables of other wrappers are left alone.
pub fn check_table_columns(relid: pg_sys::Oid) {
    unsafe {
        let table = pg_sys::GetForeignTable(relid);
        let server = pg_sys::GetForeignServer((*table).serverid);
        let fdw = pg_sys::GetForeignDataWrapper((*server).fdwid);
        if CStr::from_ptr((*fdw).fdwname).to_bytes() != b"cdf_fdw" {
            return;
        }
        let (resource, name) = table_resource(relid);
        let lock = pg_sys::AccessShareLock as pg_sys::LOCKMODE;
        let rel = pg_sys::relation_open(relid, lock);
        crate::modify::bind_resource_columns(rel, resource, &name);
        pg_sys::relation_close(rel, lock);
    }
}
