//! The validator (options of wrappers, servers, user mappings, tables and columns) and the
//! column check that the event trigger runs at CREATE/ALTER FOREIGN TABLE.

use std::ffi::CStr;

use cdf_tables::options::{self as opts, OptionErrorKind, OptionTarget};
use pgrx::pg_sys;
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;

use crate::context::table_resource;
use crate::settings::url_policy;
use crate::tuple::bind_columns;

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
        // A view table's columns are checked against the view at first use: that needs CDF.
        if crate::context::is_view_table(relid) {
            return;
        }
        let (resource, name) = table_resource(relid);
        let lock = pg_sys::AccessShareLock as pg_sys::LOCKMODE;
        let rel = pg_sys::relation_open(relid, lock);
        if crate::typed_raw::is_typed_raw(relid) {
            crate::typed_raw::bind(rel, &name);
        } else {
            bind_columns(rel, resource, &name);
        }
        pg_sys::relation_close(rel, lock);
    }
}
