//! IMPORT FOREIGN SCHEMA cdf FROM SERVER s INTO schema: creates every built-in table;
//! IMPORT FOREIGN SCHEMA "space/model/version" creates a data model's view tables (`views.rs`).

use std::ffi::CStr;

use cdf_tables::RESOURCES;
use pgrx::pg_sys;
use pgrx::prelude::*;
use pgrx::PgList;

use crate::errors;

/// The remote schema name users import from.
pub const REMOTE_SCHEMA: &str = "cdf";

#[pg_guard]
pub unsafe extern "C-unwind" fn import_foreign_schema(
    stmt: *mut pg_sys::ImportForeignSchemaStmt,
    server_oid: pg_sys::Oid,
) -> *mut pg_sys::List {
    let remote = CStr::from_ptr((*stmt).remote_schema).to_string_lossy();
    if let Some(model) = cdf_tables::views::parse_data_model_ref(&remote) {
        return crate::views::import_data_model(stmt, server_oid, &model);
    }
    if remote != REMOTE_SCHEMA {
        errors::raise(
            PgSqlErrorCode::ERRCODE_FDW_SCHEMA_NOT_FOUND,
            format!("CDF has no schema \"{remote}\""),
            Some(format!(
                "Use IMPORT FOREIGN SCHEMA {REMOTE_SCHEMA} FROM SERVER ... INTO ... for the classic tables, or \"space/data_model/version\" (e.g. \"cdf_cdm/CogniteCore/v1\") for the views of a data model."
            )),
        );
    }
    let server = pg_sys::GetForeignServer(server_oid);
    let server_name = CStr::from_ptr((*server).servername).to_string_lossy().into_owned();

    let listed: Vec<String> = PgList::<pg_sys::RangeVar>::from_pg((*stmt).table_list)
        .iter_ptr()
        .map(|rv| CStr::from_ptr((*rv).relname).to_string_lossy().into_owned())
        .collect();
    for name in &listed {
        if cdf_tables::resource(name).is_none() {
            errors::raise(
                PgSqlErrorCode::ERRCODE_FDW_TABLE_NOT_FOUND,
                format!("CDF has no table \"{name}\""),
                Some(format!("Tables: {}.", cdf_tables::catalogue::resource_names().join(", "))),
            );
        }
    }
    let wanted = |table: &str| match (*stmt).list_type {
        pg_sys::ImportForeignSchemaType::FDW_IMPORT_SCHEMA_LIMIT_TO => listed.iter().any(|n| n == table),
        pg_sys::ImportForeignSchemaType::FDW_IMPORT_SCHEMA_EXCEPT => !listed.iter().any(|n| n == table),
        _ => true,
    };

    let mut statements = PgList::<std::ffi::c_char>::new();
    for resource in RESOURCES.iter().filter(|r| wanted(r.table)) {
        let sql = resource.create_table_sql(&server_name);
        statements.push(std::ffi::CString::new(sql).expect("no NUL in generated SQL").into_raw_pg());
    }
    statements.into_pg()
}

trait IntoPgString {
    fn into_raw_pg(self) -> *mut std::ffi::c_char;
}

impl IntoPgString for std::ffi::CString {
    /// Copies the string into palloc'd memory, as core frees the list with pfree.
    fn into_raw_pg(self) -> *mut std::ffi::c_char {
        unsafe { pg_sys::pstrdup(self.as_ptr()) }
    }
}
