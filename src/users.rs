//! `cdf.create_user` and its siblings: the Gateway 2.0 page's "Step 4" as one SQL call.
//!
//! The credentials are checked against CDF (token endpoint, then `token/inspect`), a LOGIN role
//! with a generated password gets a user mapping with the credentials, and grants on the
//! server's foreign tables as far as the identity's CDF capabilities reach.
//!
//! Secrets: no client secret or generated password ever becomes SQL text. The role, its password
//! and the user mapping are made by PostgreSQL's own DDL functions (`CreateRole`, `AlterRole`,
//! `CreateUserMapping`, `AlterUserMapping`) called with parse nodes built here, so neither
//! `pg_stat_statements` (any `track`), `auto_explain` (nested statements), `log_statement` nor an
//! error's CONTEXT ever sees them. SQL run through SPI carries names only. The call's own
//! arguments are hidden from `pg_stat_activity` and from the statement logged with an error.
//!
//! search_path: every function runs with `search_path = pg_catalog, pg_temp` (set on the
//! function) and every relation and function in the SQL here is schema-qualified, so no schema
//! of the caller's (and no temporary view such as `pg_roles`) can stand in for the catalog.

use std::ffi::{CStr, CString};

use cdf_client::{CdfError, Credentials};
use cdf_tables::capabilities::{
    has_project, missing_capabilities, table_access, view_access, TableAccess, VIEW_TABLES_ACL,
};
use pgrx::pg_sys;
use pgrx::prelude::*;

use crate::backend;
use crate::context::{def_elems, server_config};
use crate::errors;
use cdf_tables::catalogue::quote_literal;
use cdf_tables::options::get as option;

/// Marks roles this module created, so drop_user never drops anybody else.
const ROLE_COMMENT_PREFIX: &str = "cdf_fdw: login created by cdf.create_user for server ";

fn set_log_min_error_statement(value: &CStr) {
    set_local(c"log_min_error_statement", value);
}

/// `SET LOCAL name = value` with the extension's authority (these settings are superuser-only).
fn set_local(name: &CStr, value: &CStr) {
    unsafe {
        pg_sys::set_config_option(
            name.as_ptr(),
            value.as_ptr(),
            pg_sys::GucContext::PGC_SUSET,
            pg_sys::GucSource::PGC_S_SESSION,
            pg_sys::GucAction::GUC_ACTION_LOCAL,
            true,
            0,
            false,
        );
    }
}

/// Hides the arguments of the running call: `pg_stat_activity` shows a placeholder, and an error
/// raised before `ArgumentsHidden` is dropped is logged without the statement text (an error
/// aborts the transaction, which restores the setting).
struct ArgumentsHidden {
    previous: CString,
}

fn hide_arguments(function: &str) -> ArgumentsHidden {
    let text = CString::new(format!("SELECT cdf.{function}(...) -- arguments hidden by cdf_fdw")).expect("no NUL");
    let previous = unsafe {
        pg_sys::pgstat_report_activity(pg_sys::BackendState::STATE_RUNNING, text.as_ptr());
        CStr::from_ptr(pg_sys::GetConfigOption(c"log_min_error_statement".as_ptr(), false, false)).to_owned()
    };
    set_log_min_error_statement(c"panic");
    crate::compat::resolve_validator_early();
    // auto_explain logs the calling statement's text and, with log_verbose, its plan with the
    // arguments; off until the transaction ends (the calling statement ends after this function).
    unsafe {
        if !pg_sys::GetConfigOption(c"auto_explain.log_min_duration".as_ptr(), true, false).is_null() {
            set_local(c"auto_explain.log_min_duration", c"-1");
        }
    }
    ArgumentsHidden { previous }
}

impl ArgumentsHidden {
    /// The call succeeded: later statements of the transaction are logged as configured again.
    fn restore(self) {
        set_log_min_error_statement(&self.previous);
    }
}

fn deny(message: String, hint: Option<String>) -> ! {
    errors::raise(PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE, message, hint)
}

/// `format(...)` with PostgreSQL's own quoting (`%I`, `%L`), then run.
fn run_formatted(template: &str, args: &[&str]) {
    let placeholders: Vec<String> = (1..=args.len()).map(|i| format!("${i}")).collect();
    let sql = format!("SELECT pg_catalog.format({}, {})", quote_literal(template), placeholders.join(", "));
    let datums: Vec<pgrx::datum::DatumWithOid> = args.iter().map(|a| (*a).into()).collect();
    let statement: String = Spi::get_one_with_args(&sql, &datums).ok().flatten().unwrap_or_else(|| {
        errors::raise(PgSqlErrorCode::ERRCODE_INTERNAL_ERROR, "could not build a statement".into(), None)
    });
    Spi::run(&statement).unwrap_or_else(|e| errors::raise(PgSqlErrorCode::ERRCODE_INTERNAL_ERROR, e.to_string(), None));
}

/// A random password of 32 letters and digits, from the kernel's CSPRNG.
fn generate_password() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    let mut bytes = [0u8; 64];
    let mut f = std::fs::File::open("/dev/urandom").unwrap_or_else(|e| {
        errors::raise(PgSqlErrorCode::ERRCODE_SYSTEM_ERROR, format!("cannot read /dev/urandom: {e}"), None)
    });
    std::io::Read::read_exact(&mut f, &mut bytes).expect("urandom never runs dry");
    // Rejection sampling keeps every character equally likely.
    let limit = 256 - 256 % ALPHABET.len();
    let mut out = String::new();
    let mut pool = bytes.to_vec();
    while out.len() < 32 {
        if pool.is_empty() {
            std::io::Read::read_exact(&mut f, &mut bytes).expect("urandom never runs dry");
            pool = bytes.to_vec();
        }
        let b = pool.pop().expect("not empty") as usize;
        if b < limit {
            out.push(ALPHABET[b % ALPHABET.len()] as char);
        }
    }
    out
}

struct ServerInfo {
    oid: pg_sys::Oid,
    owner: pg_sys::Oid,
    options: Vec<(String, String)>,
}

fn cdf_server(name: &str) -> ServerInfo {
    let cname = CString::new(name).unwrap_or_else(|_| {
        errors::raise(PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE, "bad server name".into(), None)
    });
    unsafe {
        let server = pg_sys::GetForeignServerByName(cname.as_ptr(), true);
        if server.is_null() {
            errors::raise(PgSqlErrorCode::ERRCODE_UNDEFINED_OBJECT, format!("server \"{name}\" does not exist"), None);
        }
        let fdw = pg_sys::GetForeignDataWrapper((*server).fdwid);
        if CStr::from_ptr((*fdw).fdwname).to_bytes() != b"cdf_fdw" {
            errors::raise(
                PgSqlErrorCode::ERRCODE_WRONG_OBJECT_TYPE,
                format!("server \"{name}\" is not a cdf_fdw server"),
                None,
            );
        }
        ServerInfo { oid: (*server).serverid, owner: (*server).owner, options: def_elems((*server).options) }
    }
}

/// Only a role that may create roles and owns the server (or a superuser) may hand out logins.
/// Decided by the catalog caches (`pg_authid`), which no view or search_path can shadow.
fn require_user_admin(server_name: &str, server: &ServerInfo) {
    let me = unsafe { pg_sys::GetUserId() };
    let superuser = unsafe { pg_sys::superuser_arg(me) };
    if !superuser && !unsafe { pg_sys::has_createrole_privilege(me) } {
        deny(
            "managing CDF logins needs the CREATEROLE attribute".into(),
            Some("Run it as a superuser or as a role with CREATEROLE that owns the server.".into()),
        );
    }
    if !superuser && server.owner != me {
        deny(
            format!("managing CDF logins for server \"{server_name}\" needs ownership of the server"),
            Some("Only the server's owner (or a superuser) may create user mappings for other roles.".into()),
        );
    }
}

/// Checks credentials against CDF and returns what they may do per table.
/// What the identity may do: per built-in table, and `(read, write)` on view tables.
fn check_credentials(
    server_name: &str,
    server: &ServerInfo,
    credentials: &Credentials,
) -> (Vec<TableAccess>, (bool, bool)) {
    let config = server_config(server_name, &server.options);
    let inspect = backend::run_with_credentials(&config, credentials, async |session| {
        session.check_credentials().await?;
        session.inspect_token().await
    });
    let inspect = match inspect {
        Ok(i) => i,
        Err(e @ CdfError::Auth { .. }) => errors::raise(
            PgSqlErrorCode::ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION,
            format!("the client credentials do not work: {e}"),
            Some("Check the application (client) id and the secret's value (not its id) in Entra ID.".into()),
        ),
        Err(e) => errors::raise_cdf(&e, Some("checking the credentials with CDF")),
    };
    if !has_project(&inspect, &config.project) {
        deny(
            format!(
                "the CDF identity of client \"{}\" has no access to project \"{}\"",
                credentials.client_id, config.project
            ),
            Some("Add the app's Entra ID group to a CDF group of that project.".into()),
        );
    }
    (table_access(&inspect, &config.project), view_access(&inspect, &config.project))
}

fn role_oid(name: &str) -> Option<pg_sys::Oid> {
    let name = CString::new(name).ok()?;
    let oid = unsafe { pg_sys::get_role_oid(name.as_ptr(), true) };
    (oid != pg_sys::InvalidOid).then_some(oid)
}

/// PostgreSQL names hold at most NAMEDATALEN - 1 bytes; longer ones would be cut silently.
fn check_role_name(name: &str) {
    if name.is_empty() || name.len() >= pg_sys::NAMEDATALEN as usize || name.contains('\0') {
        errors::raise(
            PgSqlErrorCode::ERRCODE_NAME_TOO_LONG,
            format!("invalid username: a role name has 1 to {} bytes", pg_sys::NAMEDATALEN - 1),
            None,
        );
    }
}

/// A palloc'd copy of a string (parse nodes point into palloc'd memory).
fn pstr(s: &str) -> *mut std::ffi::c_char {
    let c = CString::new(s).unwrap_or_else(|_| {
        errors::raise(PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE, "NUL byte in an argument".into(), None)
    });
    unsafe { pg_sys::pstrdup(c.as_ptr()) }
}

fn role_spec(name: &str) -> *mut pg_sys::RoleSpec {
    let mut spec = unsafe { PgBox::<pg_sys::RoleSpec>::alloc_node(pg_sys::NodeTag::T_RoleSpec) };
    spec.roletype = pg_sys::RoleSpecType::ROLESPEC_CSTRING;
    spec.rolename = pstr(name);
    spec.location = -1;
    spec.into_pg()
}

fn def_elem(name: &str, arg: *mut pg_sys::Node, action: pg_sys::DefElemAction::Type) -> *mut std::ffi::c_void {
    unsafe { pg_sys::makeDefElemExtended(std::ptr::null_mut(), pstr(name), arg, action, -1).cast() }
}

fn string_node(value: &str) -> *mut pg_sys::Node {
    unsafe { pg_sys::makeString(pstr(value)).cast() }
}

/// `CREATE ROLE name LOGIN PASSWORD '...'`, without SQL text.
fn create_login(name: &str, password: &str) {
    unsafe {
        let mut stmt = PgBox::<pg_sys::CreateRoleStmt>::alloc_node(pg_sys::NodeTag::T_CreateRoleStmt);
        stmt.stmt_type = pg_sys::RoleStmtType::ROLESTMT_USER;
        stmt.role = pstr(name);
        let mut options = std::ptr::null_mut();
        options = pg_sys::lappend(
            options,
            def_elem("canlogin", crate::compat::make_true(), pg_sys::DefElemAction::DEFELEM_UNSPEC),
        );
        options = pg_sys::lappend(
            options,
            def_elem("password", string_node(password), pg_sys::DefElemAction::DEFELEM_UNSPEC),
        );
        stmt.options = options;
        pg_sys::CreateRole(pg_sys::make_parsestate(std::ptr::null_mut()), stmt.into_pg());
        pg_sys::CommandCounterIncrement();
    }
}

/// `ALTER ROLE name PASSWORD '...'`, without SQL text.
fn set_password(name: &str, password: &str) {
    unsafe {
        let mut stmt = PgBox::<pg_sys::AlterRoleStmt>::alloc_node(pg_sys::NodeTag::T_AlterRoleStmt);
        stmt.role = role_spec(name);
        stmt.action = 1;
        stmt.options = pg_sys::lappend(
            std::ptr::null_mut(),
            def_elem("password", string_node(password), pg_sys::DefElemAction::DEFELEM_UNSPEC),
        );
        crate::compat::alter_role(stmt.into_pg());
        pg_sys::CommandCounterIncrement();
    }
}

/// `CREATE USER MAPPING FOR role SERVER s OPTIONS (client_id '...', client_secret '...')`, without
/// SQL text (the validator still checks the options).
fn create_mapping(role: &str, server: &str, client_id: &str, client_secret: &str) {
    unsafe {
        let mut stmt = PgBox::<pg_sys::CreateUserMappingStmt>::alloc_node(pg_sys::NodeTag::T_CreateUserMappingStmt);
        stmt.user = role_spec(role);
        stmt.servername = pstr(server);
        stmt.if_not_exists = false;
        let mut options = std::ptr::null_mut();
        options = pg_sys::lappend(
            options,
            def_elem("client_id", string_node(client_id), pg_sys::DefElemAction::DEFELEM_UNSPEC),
        );
        options = pg_sys::lappend(
            options,
            def_elem("client_secret", string_node(client_secret), pg_sys::DefElemAction::DEFELEM_UNSPEC),
        );
        stmt.options = options;
        pg_sys::CreateUserMapping(stmt.into_pg());
        pg_sys::CommandCounterIncrement();
    }
}

/// `ALTER USER MAPPING FOR role SERVER s OPTIONS (SET|ADD client_secret '...')`, without SQL text.
fn set_mapping_secret(role: &str, server: &str, client_secret: &str, replace: bool) {
    let action = if replace { pg_sys::DefElemAction::DEFELEM_SET } else { pg_sys::DefElemAction::DEFELEM_ADD };
    unsafe {
        let mut stmt = PgBox::<pg_sys::AlterUserMappingStmt>::alloc_node(pg_sys::NodeTag::T_AlterUserMappingStmt);
        stmt.user = role_spec(role);
        stmt.servername = pstr(server);
        stmt.options =
            pg_sys::lappend(std::ptr::null_mut(), def_elem("client_secret", string_node(client_secret), action));
        pg_sys::AlterUserMapping(stmt.into_pg());
        pg_sys::CommandCounterIncrement();
    }
}

/// A foreign table of a server: schema, name, resource, and whether the current role may grant
/// on the table and its schema.
struct ServerTable {
    schema: String,
    table: String,
    resource: String,
    /// A view table (options space, view, version): governed by dataModelInstancesAcl.
    is_view: bool,
    can_grant: bool,
}

fn server_tables(server: &ServerInfo) -> Vec<ServerTable> {
    Spi::connect(|client| {
        let rows = client
            .select(
                "SELECT n.nspname::pg_catalog.text, c.relname::pg_catalog.text, opt.value,
                        pg_catalog.pg_has_role(c.relowner, 'USAGE') AND pg_catalog.pg_has_role(n.nspowner, 'USAGE'),
                        EXISTS (SELECT 1 FROM pg_catalog.unnest(ft.ftoptions) o
                                 WHERE pg_catalog.split_part(o, '=', 1) = 'view'),
                        EXISTS (SELECT 1 FROM pg_catalog.unnest(ft.ftoptions) o
                                 WHERE pg_catalog.split_part(o, '=', 1) = 'database')
                   FROM pg_catalog.pg_foreign_table ft
                   JOIN pg_catalog.pg_class c ON c.oid = ft.ftrelid
                   JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                   LEFT JOIN LATERAL (SELECT pg_catalog.split_part(o, '=', 2) AS value
                                        FROM pg_catalog.unnest(ft.ftoptions) o
                                       WHERE pg_catalog.split_part(o, '=', 1) = 'resource') opt ON true
                  WHERE ft.ftserver = $1
                  ORDER BY 1, 2",
                None,
                &[server.oid.into()],
            )
            .unwrap_or_else(|e| errors::raise(PgSqlErrorCode::ERRCODE_INTERNAL_ERROR, e.to_string(), None));
        rows.map(|r| ServerTable {
            schema: r.get::<String>(1).ok().flatten().unwrap_or_default(),
            table: r.get::<String>(2).ok().flatten().unwrap_or_default(),
            // A typed RAW table (option database) reads and writes as raw_rows (context::table_resource).
            resource: if r.get::<bool>(6).ok().flatten().unwrap_or(false) {
                "raw_rows".to_string()
            } else {
                r.get::<String>(3).ok().flatten().unwrap_or_default()
            },
            can_grant: r.get::<bool>(4).ok().flatten().unwrap_or(false),
            is_view: r.get::<bool>(5).ok().flatten().unwrap_or(false),
        })
        .collect()
    })
}

/// Fails before anything is created when the caller cannot grant on the server's tables.
fn require_grant_rights(tables: &[ServerTable]) {
    let blocked: Vec<String> =
        tables.iter().filter(|t| !t.can_grant).map(|t| format!("{}.{}", t.schema, t.table)).collect();
    if !blocked.is_empty() {
        deny(
            format!("cannot grant on the server's foreign tables {}: they or their schema belong to another role", blocked.join(", ")),
            Some("Run cdf.create_user as the owner of the imported tables and their schema (or as a superuser), e.g. import them as that role.".into()),
        );
    }
}

/// Grants on every foreign table of the server, as far as CDF lets the identity go.
fn grant_tables(
    tables: &[ServerTable],
    role: &str,
    access: &[TableAccess],
    (view_read, view_write): (bool, bool),
) -> Vec<String> {
    let mut granted = Vec::new();
    let mut schemas: Vec<&str> = Vec::new();
    for ServerTable { schema, table, resource, is_view, .. } in tables {
        let mut privileges = Vec::new();
        if *is_view {
            if view_read {
                privileges.push("SELECT");
            }
            if view_write {
                privileges.extend(["INSERT", "UPDATE", "DELETE"]);
            }
        } else {
            let Some(a) = access.iter().find(|a| a.resource.table == resource) else { continue };
            if a.read {
                privileges.push("SELECT");
            }
            if a.write {
                privileges.push("INSERT");
                if a.resource.supports_update {
                    privileges.push("UPDATE");
                }
                if a.resource.supports_delete() {
                    privileges.push("DELETE");
                }
            }
        }
        if privileges.is_empty() {
            continue;
        }
        let list = privileges.join(", ");
        run_formatted(&format!("GRANT {list} ON TABLE %I.%I TO %I"), &[schema, table, role]);
        granted.push(format!("{list} ON {schema}.{table}"));
        if !schemas.contains(&schema.as_str()) {
            run_formatted("GRANT USAGE ON SCHEMA %I TO %I", &[schema, role]);
            schemas.push(schema);
        }
    }
    granted
}

pub fn create_user(
    server_name: &str,
    client_id: &str,
    client_secret: &str,
    username: Option<&str>,
) -> (String, String, Vec<String>, Vec<String>) {
    let hidden = hide_arguments("create_user");
    let username = match username {
        Some(u) => u.to_string(),
        None => format!("cdf_{}", generate_password()[..10].to_lowercase()),
    };
    // Before anything else, CDF included: PostgreSQL would cut a longer name with a NOTICE.
    check_role_name(&username);
    let server = cdf_server(server_name);
    require_user_admin(server_name, &server);
    let tables = server_tables(&server);
    require_grant_rights(&tables);
    let credentials = Credentials { client_id: client_id.to_string(), client_secret: client_secret.to_string() };
    let (access, views) = check_credentials(server_name, &server, &credentials);

    if role_oid(&username).is_some() {
        errors::raise(
            PgSqlErrorCode::ERRCODE_DUPLICATE_OBJECT,
            format!("role \"{username}\" already exists"),
            Some("Pick another username, or cdf.drop_user it first.".into()),
        );
    }
    let password = generate_password();
    create_login(&username, &password);
    run_formatted("COMMENT ON ROLE %I IS %L", &[&username, &format!("{ROLE_COMMENT_PREFIX}{server_name}")]);
    create_mapping(&username, server_name, client_id, client_secret);
    // No USAGE on the server: reading and writing its foreign tables needs only the table
    // privileges and the mapping, and USAGE would let the login define foreign tables of its own
    // on the server (in any schema it may create in), past a later REVOKE on the granted ones.
    let granted = grant_tables(&tables, &username, &access, views);
    hidden.restore();
    let mut missing = missing_capabilities(&access);
    let view_tables: Vec<String> =
        tables.iter().filter(|t| t.is_view).map(|t| format!("{}.{}", t.schema, t.table)).collect();
    for (ok, action) in [(views.0, "READ"), (views.1, "WRITE")] {
        if !ok && !view_tables.is_empty() {
            missing.push(format!("{VIEW_TABLES_ACL}:{action} ({})", view_tables.join(", ")));
        }
    }
    (username, password, granted, missing)
}

fn require_created_user(username: &str) -> String {
    // pg_catalog.pg_authid by oid from the catalog cache: no view or search_path in between.
    let comment: Option<String> = role_oid(username).and_then(|oid| {
        Spi::get_one_with_args("SELECT pg_catalog.shobj_description($1, 'pg_authid')", &[oid.into()]).ok().flatten()
    });
    match comment.as_deref().and_then(|c| c.strip_prefix(ROLE_COMMENT_PREFIX)) {
        Some(server) => server.to_string(),
        None => deny(
            format!("role \"{username}\" was not created by cdf.create_user"),
            Some(
                "cdf.drop_user, cdf.rotate_secret and cdf.reset_password only manage logins that cdf.create_user made."
                    .into(),
            ),
        ),
    }
}

pub fn drop_user(username: &str) {
    let server_name = require_created_user(username);
    let server = cdf_server(&server_name);
    require_user_admin(&server_name, &server);
    // Undo exactly what create_user did; DROP OWNED would need the role's own privileges.
    let tables = server_tables(&server);
    let mut schemas: Vec<&str> = Vec::new();
    for t in &tables {
        run_formatted("REVOKE ALL ON TABLE %I.%I FROM %I", &[&t.schema, &t.table, username]);
        if !schemas.contains(&t.schema.as_str()) {
            run_formatted("REVOKE USAGE ON SCHEMA %I FROM %I", &[&t.schema, username]);
            schemas.push(&t.schema);
        }
    }
    run_formatted("REVOKE USAGE ON FOREIGN SERVER %I FROM %I", &[&server_name, username]);
    run_formatted("DROP USER MAPPING IF EXISTS FOR %I SERVER %I", &[username, &server_name]);
    run_formatted("DROP ROLE %I", &[username]);
}

pub fn rotate_secret(username: &str, client_secret: &str) {
    let hidden = hide_arguments("rotate_secret");
    let server_name = require_created_user(username);
    let server = cdf_server(&server_name);
    require_user_admin(&server_name, &server);
    // The catalog, not pg_user_mappings: that view hides options from the server's owner.
    let mapping = user_mapping_options(username, &server);
    let Some(client_id) = option(&mapping, "client_id").map(str::to_string) else {
        errors::raise(
            PgSqlErrorCode::ERRCODE_UNDEFINED_OBJECT,
            format!("the user mapping of role \"{username}\" for server \"{server_name}\" has no client_id"),
            None,
        )
    };
    let credentials = Credentials { client_id, client_secret: client_secret.to_string() };
    check_credentials(&server_name, &server, &credentials);
    set_mapping_secret(username, &server_name, client_secret, option(&mapping, "client_secret").is_some());
    hidden.restore();
}

fn user_mapping_options(username: &str, server: &ServerInfo) -> Vec<(String, String)> {
    let name = CString::new(username).expect("no NUL in role names");
    unsafe {
        let role = pg_sys::get_role_oid(name.as_ptr(), false);
        let mapping = pg_sys::GetUserMapping(role, server.oid);
        def_elems((*mapping).options)
    }
}

pub fn reset_password(username: &str) -> String {
    let server_name = require_created_user(username);
    let server = cdf_server(&server_name);
    require_user_admin(&server_name, &server);
    let password = generate_password();
    set_password(username, &password);
    password
}

#[pg_schema]
mod cdf {
    use pgrx::prelude::*;

    /// Checks the client credentials with CDF, creates a LOGIN role with a generated password,
    /// its user mapping and the grants its CDF capabilities allow; returns the login and which
    /// capabilities the built-in tables need but the identity lacks.
    #[pg_extern]
    #[search_path(pg_catalog, pg_temp)]
    #[allow(clippy::type_complexity)]
    fn create_user(
        server: &str,
        client_id: &str,
        client_secret: &str,
        username: default!(Option<&str>, "NULL"),
    ) -> TableIterator<
        'static,
        (
            name!(username, String),
            name!(password, String),
            name!(granted, Vec<String>),
            name!(missing_capabilities, Vec<String>),
        ),
    > {
        TableIterator::once(super::create_user(server, client_id, client_secret, username))
    }

    /// Creates a data-modeling space in CDF (or sets its name and description) with the
    /// caller's user mapping of `server`; returns the space as CDF stored it.
    #[pg_extern]
    #[search_path(pg_catalog, pg_temp)]
    #[allow(clippy::type_complexity)]
    fn create_space(
        server: &str,
        space: &str,
        name: default!(Option<&str>, "NULL"),
        description: default!(Option<&str>, "NULL"),
    ) -> TableIterator<
        'static,
        (
            name!(space, String),
            name!(name, Option<String>),
            name!(description, Option<String>),
            name!(created_time, Option<pgrx::datum::TimestampWithTimeZone>),
        ),
    > {
        TableIterator::once(crate::views::create_space(server, space, name, description))
    }

    /// Drops a login made by create_user, with its user mapping and grants.
    #[pg_extern]
    #[search_path(pg_catalog, pg_temp)]
    fn drop_user(username: &str) {
        super::drop_user(username)
    }

    /// Replaces the client secret of a login made by create_user (checked with CDF first).
    #[pg_extern]
    #[search_path(pg_catalog, pg_temp)]
    fn rotate_secret(username: &str, client_secret: &str) {
        super::rotate_secret(username, client_secret)
    }

    /// Gives a login made by create_user a new generated password, and returns it.
    #[pg_extern]
    #[search_path(pg_catalog, pg_temp)]
    fn reset_password(username: &str) -> String {
        super::reset_password(username)
    }
}
