//! The PostgreSQL APIs that differ between the supported majors (14–18), in one place. Every
//! `#[cfg(feature = "pgNN")]` of the extension lives here; the rest of the crate calls these.
//!
//! COPY FROM into a foreign table takes a different path per major, with no code here:
//! - 14, 15: core calls `ExecForeignInsert` once per row (`CopyFrom` never batches foreign
//!   tables); the rows collect in the table's writer buffer, sent a CDF chunk at a time.
//! - 16, 17, 18: core asks `GetForeignModifyBatchSize` after `BeginForeignInsert` and, when it
//!   is above 1 (no RETURNING, no AFTER ROW trigger, a resource with more than one row per
//!   request), fills its multi-insert buffer (at most 1000 rows or 64 kB) and hands it over
//!   through `ExecForeignBatchInsert`, into the same writer buffer. Otherwise, as on 14/15.

use pgrx::pg_sys;

/// `create_foreignscan_path` for a base relation: the order the scan returns rows in (pathkeys;
/// NIL: none), the outer relations whose rows it needs (a parameterized scan; NULL: none) and
/// private data. 17 added `fdw_restrictinfo`; 18 added `disabled_nodes`.
#[allow(clippy::too_many_arguments)]
pub unsafe fn create_foreignscan_path(
    root: *mut pg_sys::PlannerInfo,
    baserel: *mut pg_sys::RelOptInfo,
    rows: f64,
    startup_cost: f64,
    total_cost: f64,
    pathkeys: *mut pg_sys::List,
    required_outer: *mut pg_sys::Bitmapset,
    fdw_private: *mut pg_sys::List,
) -> *mut pg_sys::ForeignPath {
    let no_outer_path = std::ptr::null_mut();
    #[cfg(any(feature = "pg14", feature = "pg15", feature = "pg16"))]
    return pg_sys::create_foreignscan_path(
        root,
        baserel,
        std::ptr::null_mut(),
        rows,
        startup_cost,
        total_cost,
        pathkeys,
        required_outer,
        no_outer_path,
        fdw_private,
    );
    #[cfg(feature = "pg17")]
    return pg_sys::create_foreignscan_path(
        root,
        baserel,
        std::ptr::null_mut(),
        rows,
        startup_cost,
        total_cost,
        pathkeys,
        required_outer,
        no_outer_path,
        std::ptr::null_mut(),
        fdw_private,
    );
    #[cfg(feature = "pg18")]
    return pg_sys::create_foreignscan_path(
        root,
        baserel,
        std::ptr::null_mut(),
        rows,
        0,
        startup_cost,
        total_cost,
        pathkeys,
        required_outer,
        no_outer_path,
        std::ptr::null_mut(),
        fdw_private,
    );
}

/// Whether a pathkey sorts descending. 18 replaced the btree strategy number by a compare type.
pub unsafe fn pathkey_descending(pathkey: *mut pg_sys::PathKey) -> bool {
    #[cfg(not(feature = "pg18"))]
    return (*pathkey).pk_strategy == pg_sys::BTGreaterStrategyNumber as std::ffi::c_int;
    #[cfg(feature = "pg18")]
    return (*pathkey).pk_cmptype == pg_sys::CompareType::COMPARE_GT;
}

/// The columns an UPDATE names (`updatedCols`, offset by `FirstLowInvalidHeapAttributeNumber`).
/// 16 moved them from the range-table entry into its `RTEPermissionInfo`.
/// A String node holding `text` (PostgreSQL 14 calls it a Value).
pub unsafe fn make_string(text: &std::ffi::CStr) -> *mut pg_sys::Node {
    pg_sys::makeString(pg_sys::pstrdup(text.as_ptr())) as *mut pg_sys::Node
}

/// The text of a node made by `make_string`.
pub unsafe fn string_value(node: *mut pg_sys::Node) -> String {
    #[cfg(feature = "pg14")]
    let text = (*(node as *mut pg_sys::Value)).val.str_;
    #[cfg(not(feature = "pg14"))]
    let text = (*(node as *mut pg_sys::String)).sval;
    std::ffi::CStr::from_ptr(text).to_string_lossy().into_owned()
}

/// A path for an upper relation (an aggregate CDF computes), without pathkeys or outer path.
pub unsafe fn create_foreign_upper_path(
    root: *mut pg_sys::PlannerInfo,
    rel: *mut pg_sys::RelOptInfo,
    target: *mut pg_sys::PathTarget,
    rows: f64,
    startup_cost: f64,
    total_cost: f64,
    fdw_private: *mut pg_sys::List,
) -> *mut pg_sys::ForeignPath {
    let (none, no_path) = (std::ptr::null_mut(), std::ptr::null_mut());
    #[cfg(any(feature = "pg14", feature = "pg15", feature = "pg16"))]
    return pg_sys::create_foreign_upper_path(
        root,
        rel,
        target,
        rows,
        startup_cost,
        total_cost,
        none,
        no_path,
        fdw_private,
    );
    #[cfg(feature = "pg17")]
    return pg_sys::create_foreign_upper_path(
        root,
        rel,
        target,
        rows,
        startup_cost,
        total_cost,
        none,
        no_path,
        none,
        fdw_private,
    );
    #[cfg(feature = "pg18")]
    return pg_sys::create_foreign_upper_path(
        root,
        rel,
        target,
        rows,
        0,
        startup_cost,
        total_cost,
        none,
        no_path,
        none,
        fdw_private,
    );
}

/// The user a scan of an upper relation (no scanned relation of its own) runs as; `rti` is the
/// range table index of the foreign table under it.
pub unsafe fn upper_scan_user(node: *mut pg_sys::ForeignScanState, rti: pg_sys::Index) -> pg_sys::Oid {
    #[cfg(any(feature = "pg14", feature = "pg15"))]
    return range_table_user((*node).ss.ps.state, rti);
    #[cfg(not(any(feature = "pg14", feature = "pg15")))]
    {
        let _ = rti;
        (*((*node).ss.ps.plan as *mut pg_sys::ForeignScan)).checkAsUser
    }
}

pub unsafe fn updated_cols(root: *mut pg_sys::PlannerInfo, rte: *mut pg_sys::RangeTblEntry) -> *mut pg_sys::Bitmapset {
    #[cfg(any(feature = "pg14", feature = "pg15"))]
    {
        let _ = root;
        (*rte).updatedCols
    }
    #[cfg(not(any(feature = "pg14", feature = "pg15")))]
    {
        (*pg_sys::getRTEPermissionInfo((*(*root).parse).rteperminfos, rte)).updatedCols
    }
}

/// A path joining two relations in one foreign scan (no outer plan: such paths are only made
/// where no row is re-checked by EvalPlanQual).
pub unsafe fn create_foreign_join_path(
    root: *mut pg_sys::PlannerInfo,
    joinrel: *mut pg_sys::RelOptInfo,
    rows: f64,
    startup_cost: f64,
    total_cost: f64,
    fdw_private: *mut pg_sys::List,
) -> *mut pg_sys::ForeignPath {
    #[cfg(any(feature = "pg14", feature = "pg15", feature = "pg16"))]
    return pg_sys::create_foreign_join_path(
        root,
        joinrel,
        std::ptr::null_mut(),
        rows,
        startup_cost,
        total_cost,
        std::ptr::null_mut(),
        std::ptr::null_mut(),
        std::ptr::null_mut(),
        fdw_private,
    );
    #[cfg(feature = "pg17")]
    return pg_sys::create_foreign_join_path(
        root,
        joinrel,
        std::ptr::null_mut(),
        rows,
        startup_cost,
        total_cost,
        std::ptr::null_mut(),
        std::ptr::null_mut(),
        std::ptr::null_mut(),
        std::ptr::null_mut(),
        fdw_private,
    );
    #[cfg(feature = "pg18")]
    return pg_sys::create_foreign_join_path(
        root,
        joinrel,
        std::ptr::null_mut(),
        rows,
        0,
        startup_cost,
        total_cost,
        std::ptr::null_mut(),
        std::ptr::null_mut(),
        std::ptr::null_mut(),
        std::ptr::null_mut(),
        fdw_private,
    );
}

/// The base relations (range-table indexes) a scan of a join reads. 16 split them from the
/// outer joins' relids.
pub unsafe fn scan_base_relids(plan: *mut pg_sys::ForeignScan) -> *mut pg_sys::Bitmapset {
    #[cfg(any(feature = "pg14", feature = "pg15"))]
    return (*plan).fs_relids;
    #[cfg(not(any(feature = "pg14", feature = "pg15")))]
    return (*plan).fs_base_relids;
}

/// The role a foreign scan checks permissions as (a view's owner), or `InvalidOid` for the
/// current user. 16 moved it from the range-table entry into the plan node.
pub unsafe fn scan_user(node: *mut pg_sys::ForeignScanState) -> pg_sys::Oid {
    let plan = (*node).ss.ps.plan as *mut pg_sys::ForeignScan;
    #[cfg(any(feature = "pg14", feature = "pg15"))]
    return range_table_user((*node).ss.ps.state, (*plan).scan.scanrelid);
    #[cfg(not(any(feature = "pg14", feature = "pg15")))]
    return (*plan).checkAsUser;
}

/// As `scan_user`, for the table a modify writes.
pub unsafe fn modify_user(rinfo: *mut pg_sys::ResultRelInfo, estate: *mut pg_sys::EState) -> pg_sys::Oid {
    if estate.is_null() {
        return pg_sys::InvalidOid;
    }
    #[cfg(any(feature = "pg14", feature = "pg15"))]
    return range_table_user(estate, (*rinfo).ri_RangeTableIndex);
    #[cfg(not(any(feature = "pg14", feature = "pg15")))]
    return pg_sys::ExecGetResultRelCheckAsUser(rinfo, estate);
}

#[cfg(any(feature = "pg14", feature = "pg15"))]
unsafe fn range_table_user(estate: *mut pg_sys::EState, rti: pg_sys::Index) -> pg_sys::Oid {
    if rti == 0 {
        return pg_sys::InvalidOid;
    }
    let rte = pg_sys::list_nth((*estate).es_range_table, rti as i32 - 1) as *mut pg_sys::RangeTblEntry;
    (*rte).checkAsUser
}

/// The `true` of a boolean role option such as `canlogin` (14 has no Boolean node: an Integer).
pub unsafe fn make_true() -> *mut pg_sys::Node {
    #[cfg(feature = "pg14")]
    return pg_sys::makeInteger(1).cast();
    #[cfg(not(feature = "pg14"))]
    return pg_sys::makeBoolean(true).cast();
}

/// `AlterRole`; 15 added the ParseState argument.
pub unsafe fn alter_role(stmt: *mut pg_sys::AlterRoleStmt) -> pg_sys::Oid {
    #[cfg(feature = "pg14")]
    return pg_sys::AlterRole(stmt);
    #[cfg(not(feature = "pg14"))]
    return pg_sys::AlterRole(pg_sys::make_parsestate(std::ptr::null_mut()), stmt);
}

/// Looks the wrapper's validator up in this backend's function cache now. From 18 on, core strips
/// `$libdir/` from `module_pathname` and searches `dynamic_library_path` the first time a backend
/// calls each C function, logging every try at DEBUG3 with the running SQL statement as CONTEXT.
/// `cdf.create_user` and `cdf.rotate_secret` run `CREATE/ALTER USER MAPPING` statements that carry
/// a client secret and call the validator, so the lookup must not happen inside them. Harmless
/// (one cache fill) on the majors that do not search.
pub fn resolve_validator_early() {
    unsafe {
        let fdw = pg_sys::GetForeignDataWrapperByName(c"cdf_fdw".as_ptr(), true);
        if !fdw.is_null() && (*fdw).fdwvalidator != pg_sys::InvalidOid {
            let mut finfo: pg_sys::FmgrInfo = std::mem::zeroed();
            pg_sys::fmgr_info((*fdw).fdwvalidator, &mut finfo);
        }
    }
}

/// Whether `user` has USAGE on a foreign server (false when it no longer exists). 16 replaced
/// the per-object-type ACL checks with `object_aclcheck`.
pub unsafe fn may_use_server(server: pg_sys::Oid, user: pg_sys::Oid) -> bool {
    let flags = pg_sys::FSV_MISSING_OK as pg_sys::bits16;
    if pg_sys::GetForeignServerExtended(server, flags).is_null() {
        return false;
    }
    let mode = pg_sys::ACL_USAGE as pg_sys::AclMode;
    #[cfg(any(feature = "pg14", feature = "pg15"))]
    let result = pg_sys::pg_foreign_server_aclcheck(server, user, mode);
    #[cfg(not(any(feature = "pg14", feature = "pg15")))]
    let result = pg_sys::object_aclcheck(pg_sys::ForeignServerRelationId, server, user, mode);
    result == pg_sys::AclResult::ACLCHECK_OK
}

/// A named segment of the DSM registry (17+): shared memory without `shared_preload_libraries`,
/// created and passed to `init` by the first backend that asks. `None` before 17.
pub unsafe fn named_dsm_segment(
    name: &std::ffi::CStr,
    size: usize,
    init: unsafe extern "C-unwind" fn(*mut std::ffi::c_void),
) -> Option<*mut std::ffi::c_void> {
    #[cfg(any(feature = "pg14", feature = "pg15", feature = "pg16"))]
    {
        let _ = (name, size, init);
        None
    }
    #[cfg(not(any(feature = "pg14", feature = "pg15", feature = "pg16")))]
    {
        let mut found = false;
        Some(pg_sys::GetNamedDSMSegment(name.as_ptr(), size, Some(init), &mut found))
    }
}
