//! The extension's settings (GUCs), registered once in `_PG_init`.

use std::ffi::CString;

use cdf_tables::options::{self as opts, DEFAULT_ALLOWED_URLS_C};
use pgrx::pg_sys;
use pgrx::{GucContext, GucFlags, GucRegistry, GucSetting, PostgresGucEnum};

/// `cdf_fdw.allowed_urls`: URL patterns non-superusers may point servers at (SSRF guard).
static ALLOWED_URLS: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(Some(DEFAULT_ALLOWED_URLS_C));

/// `cdf_fdw.allow_unqualified_changes`: lets UPDATE and DELETE without WHERE through.
pub static ALLOW_UNQUALIFIED_CHANGES: GucSetting<bool> = GucSetting::<bool>::new(false);

/// `cdf_fdw.enable_join_pushdown`: joins of two cdf_fdw tables may be read as one batched scan.
pub static ENABLE_JOIN_PUSHDOWN: GucSetting<bool> = GucSetting::<bool>::new(true);

/// `cdf_fdw.max_response_size` (kB): the largest CDF or identity-provider answer a backend reads.
static MAX_RESPONSE_KB: GucSetting<i32> =
    GucSetting::<i32>::new((cdf_client::session::DEFAULT_MAX_RESPONSE_BYTES / 1024) as i32);

/// `cdf_fdw.batch_scope`: what `batch_scope` means where no server or table sets it, so a DBA
/// can turn transaction-wide batching on per role (`ALTER ROLE etl SET cdf_fdw.batch_scope = ...`).
#[derive(PostgresGucEnum, Clone, Copy, PartialEq, Eq, Debug)]
pub enum BatchScopeSetting {
    #[name = c"statement"]
    Statement,
    #[name = c"transaction"]
    Transaction,
}

static BATCH_SCOPE: GucSetting<BatchScopeSetting> = GucSetting::<BatchScopeSetting>::new(BatchScopeSetting::Statement);

/// The batch scope of a table: its own or its server's option, else the setting.
pub fn batch_scope(option: Option<opts::BatchScope>) -> opts::BatchScope {
    option.unwrap_or(match BATCH_SCOPE.get() {
        BatchScopeSetting::Statement => opts::BatchScope::Statement,
        BatchScopeSetting::Transaction => opts::BatchScope::Transaction,
    })
}

pub fn max_response_bytes() -> usize {
    MAX_RESPONSE_KB.get().max(1) as usize * 1024
}

pub fn register() {
    GucRegistry::define_int_guc(
        c"cdf_fdw.max_response_size",
        c"Largest response body cdf_fdw reads from CDF or the identity provider.",
        c"A larger answer fails the statement with an error naming the endpoint. Superuser-only: it bounds a backend's memory.",
        &MAX_RESPONSE_KB,
        64,
        4 * 1024 * 1024,
        GucContext::Suset,
        GucFlags::UNIT_KB,
    );
    GucRegistry::define_bool_guc(
        c"cdf_fdw.allow_unqualified_changes",
        c"Allows UPDATE and DELETE without a WHERE clause on cdf_fdw tables.",
        c"Off by default: DELETE FROM assets would delete every asset of the CDF project.",
        &ALLOW_UNQUALIFIED_CHANGES,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_bool_guc(
        c"cdf_fdw.enable_join_pushdown",
        c"Lets the planner read a join of two cdf_fdw tables as one scan that looks the inner side up in batches of keys.",
        c"Off: such joins are planned as PostgreSQL's own joins (a nested loop then sends one request per outer row).",
        &ENABLE_JOIN_PUSHDOWN,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_enum_guc(
        c"cdf_fdw.batch_scope",
        c"Whether INSERTs into cdf_fdw tables share CDF requests per statement or per transaction.",
        c"transaction: rows of single-row INSERTs wait until a request is full, a cdf_fdw table is read, or COMMIT. The server or table option batch_scope overrides it.",
        &BATCH_SCOPE,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_string_guc(
        c"cdf_fdw.allowed_urls",
        c"URL patterns that roles other than superusers may use in cdf_fdw servers.",
        c"Comma-separated; * matches within a host name or path segment. Superusers may use any URL.",
        &ALLOWED_URLS,
        GucContext::Suset,
        GucFlags::default(),
    );
}

/// The current role and the DBA's `cdf_fdw.allowed_urls`.
pub fn url_policy() -> opts::UrlPolicy {
    let allowed = ALLOWED_URLS.get().map(|c| c.to_string_lossy().into_owned()).unwrap_or_default();
    opts::UrlPolicy {
        is_superuser: unsafe { pg_sys::superuser() },
        allowed_urls: allowed.split(',').map(|p| p.trim().to_string()).filter(|p| !p.is_empty()).collect(),
    }
}
