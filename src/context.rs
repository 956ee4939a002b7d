//! Which CDF table, server and identity a foreign table stands for: its resource, its server's
//! options as a `ServerConfig`, and the current user's mapping, with clear errors when one of
//! them is missing. Everything a scan or modify learns from the catalogs comes from here.

use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::CStr;
use std::rc::Rc;

use cdf_client::{Credentials, ServerConfig};
use cdf_tables::options::{self as opts};
use cdf_tables::{
    DeleteUnknown, EmptyStrings, InputPolicy, InsertMode, NullValues, Resource, SubMillisecond, UnknownReferences,
};
use pgrx::pg_sys;
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;
use pgrx::PgList;

use crate::stats::NodeUsage;

/// Everything a scan or modify needs to know about one foreign table: its connection (server,
/// identity, write options) and the CDF resource it maps to.
#[derive(Debug, Clone)]
pub struct TableContext {
    pub connection: Connection,
    pub resource: &'static Resource,
}

impl std::ops::Deref for TableContext {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        &self.connection
    }
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

/// A foreign table's own catalog entry.
#[derive(Debug)]
pub struct ForeignTableInfo {
    pub name: String,
    pub server_oid: pg_sys::Oid,
    pub options: Vec<(String, String)>,
}

thread_local! {
    /// Catalog facts per foreign table and per (foreign table, user), kept until an
    /// invalidation (see `invalidation`): statements of row-at-a-time clients reuse them.
    static TABLES: RefCell<HashMap<pg_sys::Oid, Rc<ForeignTableInfo>>> = RefCell::new(HashMap::new());
    static CONNECTIONS: RefCell<HashMap<(pg_sys::Oid, pg_sys::Oid), Connection>> = RefCell::new(HashMap::new());
}

/// Drops the cached facts of `relid` (or of every table), on a catalog invalidation.
fn forget(relid: Option<pg_sys::Oid>) {
    match relid {
        Some(relid) => {
            TABLES.with_borrow_mut(|t| t.remove(&relid));
            CONNECTIONS.with_borrow_mut(|c| c.retain(|(table, _), _| *table != relid));
        }
        None => {
            TABLES.with_borrow_mut(HashMap::clear);
            CONNECTIONS.with_borrow_mut(HashMap::clear);
        }
    }
}

/// The name, server and options of a foreign table (cached).
pub fn foreign_table(relid: pg_sys::Oid) -> Rc<ForeignTableInfo> {
    if let Some(info) = TABLES.with_borrow(|t| t.get(&relid).cloned()) {
        return info;
    }
    let generation = crate::invalidation::generation("foreign tables", forget);
    // No borrow is held here: reading the catalogs may run the invalidation callbacks.
    let info = unsafe {
        let table = pg_sys::GetForeignTable(relid);
        Rc::new(ForeignTableInfo {
            name: CStr::from_ptr(pg_sys::get_rel_name(relid)).to_string_lossy().into_owned(),
            server_oid: (*table).serverid,
            options: def_elems((*table).options),
        })
    };
    if crate::invalidation::unchanged_since(generation) {
        TABLES.with_borrow_mut(|t| t.insert(relid, info.clone()));
    }
    info
}

/// An option of a foreign table, else of its server, without touching user mappings (the
/// planner needs no credentials).
pub fn table_or_server_option(relid: pg_sys::Oid, name: &str) -> Option<String> {
    let table = foreign_table(relid);
    if let Some(value) = opts::get(&table.options, name) {
        return Some(value.to_string());
    }
    let server_options = unsafe { def_elems((*pg_sys::GetForeignServer(table.server_oid)).options) };
    opts::get(&server_options, name).map(str::to_string)
}

/// The resource and name of a foreign table, without touching servers or user mappings (the
/// planner needs no credentials).
pub fn table_resource(relid: pg_sys::Oid) -> (&'static Resource, String) {
    let table = foreign_table(relid);
    let options = &table.options;
    // A typed RAW table reads and writes through raw_rows (see `typed_raw`).
    let typed_raw = cdf_tables::typed_raw::TypedRawTable::is_typed_raw(options);
    let resource_name = if typed_raw { "raw_rows" } else { opts::get(options, "resource").unwrap_or_default() };
    match cdf_tables::resource(resource_name) {
        Some(r) => (r, table.name.clone()),
        None => {
            ErrorReport::new(
                PgSqlErrorCode::ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE,
                format!("foreign table \"{}\" names unknown CDF resource \"{resource_name}\"", table.name),
                function_name!(),
            )
            .report(PgLogLevel::ERROR);
            unreachable!()
        }
    }
}

/// Loads the options of a foreign table, its server and the user mapping of `user`: the role
/// the executor checks the table's permissions as (a view's owner for a table read through the
/// view, as postgres_fdw does), or the current user when that is `InvalidOid`.
pub fn table_context(relid: pg_sys::Oid, user: pg_sys::Oid) -> TableContext {
    let (resource, _) = table_resource(relid);
    TableContext { connection: connection(relid, user), resource }
}

/// What any cdf_fdw foreign table (classic or view) needs to talk to CDF: its server, the
/// user mapping's identity, and the table's write options.
#[derive(Debug, Clone)]
pub struct Connection {
    pub table_name: String,
    /// `InvalidOid` for a statement on behalf of no table (IMPORT FOREIGN SCHEMA).
    pub table_oid: pg_sys::Oid,
    pub user_mapping_oid: pg_sys::Oid,
    pub server: ServerConfig,
    pub credentials: Credentials,
    pub insert_mode: InsertMode,
    pub input: InputPolicy,
    pub null_values: NullValues,
    pub delete_unknown: DeleteUnknown,
    pub unknown_references: UnknownReferences,
    pub hierarchy_buffer_mb: usize,
    pub max_concurrent_requests: usize,
    pub batch_scope: Option<opts::BatchScope>,
    pub table_options: Vec<(String, String)>,
    pub server_oid: pg_sys::Oid,
    /// The CDF requests made for this scan or modify (EXPLAIN ANALYZE).
    pub usage: RefCell<NodeUsage>,
}

/// The session a request runs on: `backend::run` needs only this.
pub trait Connected {
    fn user_mapping_oid(&self) -> pg_sys::Oid;
    fn server(&self) -> &ServerConfig;
    fn credentials(&self) -> &Credentials;
    /// Where the requests are counted: server, foreign table, the plan node's usage.
    fn stats_target(&self) -> (pg_sys::Oid, pg_sys::Oid, &RefCell<NodeUsage>);
}

impl Connected for TableContext {
    fn user_mapping_oid(&self) -> pg_sys::Oid {
        self.connection.user_mapping_oid()
    }
    fn server(&self) -> &ServerConfig {
        self.connection.server()
    }
    fn credentials(&self) -> &Credentials {
        self.connection.credentials()
    }
    fn stats_target(&self) -> (pg_sys::Oid, pg_sys::Oid, &RefCell<NodeUsage>) {
        self.connection.stats_target()
    }
}

impl Connected for Connection {
    fn user_mapping_oid(&self) -> pg_sys::Oid {
        self.user_mapping_oid
    }
    fn server(&self) -> &ServerConfig {
        &self.server
    }
    fn credentials(&self) -> &Credentials {
        &self.credentials
    }
    fn stats_target(&self) -> (pg_sys::Oid, pg_sys::Oid, &RefCell<NodeUsage>) {
        (self.server_oid, self.table_oid, &self.usage)
    }
}

/// Whether a foreign table is a view table (options space, view, version) rather than a
/// classic resource.
pub fn is_view_table(relid: pg_sys::Oid) -> bool {
    opts::get(&foreign_table(relid).options, "view").is_some()
}

/// The connection of a foreign table for `user` (see `table_context`), cached per table and
/// user until an invalidation (ALTER SERVER / FOREIGN TABLE / USER MAPPING take effect for the
/// next statement).
pub fn connection(relid: pg_sys::Oid, user: pg_sys::Oid) -> Connection {
    let user = if user == pg_sys::InvalidOid { unsafe { pg_sys::GetUserId() } } else { user };
    if let Some(cached) = CONNECTIONS.with_borrow(|c| c.get(&(relid, user)).cloned()) {
        return cached;
    }
    let generation = crate::invalidation::generation("foreign tables", forget);
    let table = foreign_table(relid);
    let connection = Connection {
        table_oid: relid,
        ..server_connection(table.server_oid, table.name.clone(), table.options.clone(), user)
    };
    if crate::invalidation::unchanged_since(generation) {
        CONNECTIONS.with_borrow_mut(|c| c.insert((relid, user), connection.clone()));
    }
    connection
}

/// The connection to a server for `user`, on behalf of a table (or, for IMPORT FOREIGN SCHEMA,
/// of the statement: `table_name` names what the errors should mention).
pub fn server_connection(
    server_oid: pg_sys::Oid,
    table_name: String,
    table_options: Vec<(String, String)>,
    user: pg_sys::Oid,
) -> Connection {
    require_utf8_database();
    unsafe {
        let server = pg_sys::GetForeignServer(server_oid);
        let server_name = CStr::from_ptr((*server).servername).to_string_lossy().into_owned();
        let server_options = def_elems((*server).options);

        let user = if user == pg_sys::InvalidOid { pg_sys::GetUserId() } else { user };
        let (user_mapping_oid, mapping_options) = user_mapping(user, server_oid, &server_name);
        let mode_option =
            opts::get(&table_options, "insert_mode").or_else(|| opts::get(&server_options, "insert_mode"));
        let insert_mode = mode_option.and_then(InsertMode::parse).unwrap_or(InsertMode::Upsert);
        let option = |name: &str| opts::get(&table_options, name).or_else(|| opts::get(&server_options, name));
        let input = InputPolicy {
            sub_millisecond: option("sub_millisecond").and_then(SubMillisecond::parse).unwrap_or_default(),
            empty_strings: option("empty_strings").and_then(EmptyStrings::parse).unwrap_or_default(),
        };

        let null_values = option("null_values").and_then(NullValues::parse).unwrap_or_default();
        let delete_unknown = option("delete_unknown").and_then(DeleteUnknown::parse).unwrap_or_default();
        let unknown_references = option("unknown_references").and_then(UnknownReferences::parse).unwrap_or_default();
        let hierarchy_buffer_mb = option("hierarchy_buffer_mb")
            .and_then(opts::parse_buffer_mb)
            .unwrap_or(cdf_client::hierarchy::DEFAULT_BUFFER_MB);
        let max_concurrent_requests = option("max_concurrent_requests")
            .and_then(opts::parse_concurrency)
            .unwrap_or(cdf_tables::limits::DEFAULT_CONCURRENT_REQUESTS);
        let batch_scope = option("batch_scope").and_then(opts::BatchScope::parse);

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
                    role_name(user)
                ),
                function_name!(),
            )
            .set_hint("ALTER USER MAPPING ... OPTIONS (ADD client_id '...', ADD client_secret '...').")
            .report(PgLogLevel::ERROR);
        }
        Connection {
            table_name,
            table_oid: pg_sys::InvalidOid,
            user_mapping_oid,
            server: config,
            credentials,
            insert_mode,
            input,
            null_values,
            delete_unknown,
            unknown_references,
            hierarchy_buffer_mb,
            max_concurrent_requests,
            batch_scope,
            table_options,
            server_oid,
            usage: RefCell::default(),
        }
    }
}

/// CDF speaks UTF-8 JSON; in a LATIN1 or SQL_ASCII database text would reach it undecoded.
fn require_utf8_database() {
    if unsafe { pg_sys::GetDatabaseEncoding() } != pg_sys::pg_enc::PG_UTF8 as i32 {
        ErrorReport::new(
            PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
            "cdf_fdw tables need a database with UTF8 encoding".to_string(),
            function_name!(),
        )
        .set_hint("Create the gateway's database with CREATE DATABASE ... ENCODING 'UTF8' TEMPLATE template0; clients may use any client_encoding.")
        .report(PgLogLevel::ERROR);
    }
}

fn role_name(user: pg_sys::Oid) -> String {
    unsafe {
        let name = pg_sys::GetUserNameFromId(user, true);
        if name.is_null() {
            "?".into()
        } else {
            CStr::from_ptr(name).to_string_lossy().into_owned()
        }
    }
}

/// The current user's mapping (or PUBLIC's) for a server, with a clear error when there is none.
unsafe fn user_mapping(
    user: pg_sys::Oid,
    server_oid: pg_sys::Oid,
    server_name: &str,
) -> (pg_sys::Oid, Vec<(String, String)>) {
    let found = PgTryBuilder::new(|| {
        let um = pg_sys::GetUserMapping(user, server_oid);
        Some(((*um).umid, def_elems((*um).options)))
    })
    .catch_when(PgSqlErrorCode::ERRCODE_UNDEFINED_OBJECT, |_| None)
    .execute();
    match found {
        Some(m) => m,
        None => {
            let role = role_name(user);
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
