//! The FdwRoutine: which callback PostgreSQL calls for what.

use pgrx::pg_sys;
use pgrx::PgBox;

use crate::{import, join, modify, scan, upper};

pub fn build() -> PgBox<pg_sys::FdwRoutine> {
    let mut r = unsafe { PgBox::<pg_sys::FdwRoutine>::alloc_node(pg_sys::NodeTag::T_FdwRoutine) };

    r.GetForeignRelSize = Some(scan::get_foreign_rel_size);
    r.GetForeignPaths = Some(scan::get_foreign_paths);
    // Scans of upper relations (aggregates CDF computes) go through `upper`, which tells them apart.
    r.GetForeignPlan = Some(upper::get_foreign_plan);
    r.ExplainForeignScan = Some(upper::explain_foreign_scan);
    r.BeginForeignScan = Some(upper::begin_foreign_scan);
    r.IterateForeignScan = Some(upper::iterate_foreign_scan);
    r.ReScanForeignScan = Some(upper::rescan_foreign_scan);
    r.EndForeignScan = Some(scan::end_foreign_scan);
    r.GetForeignUpperPaths = Some(upper::get_foreign_upper_paths);
    r.GetForeignJoinPaths = Some(join::get_foreign_join_paths);

    r.AddForeignUpdateTargets = Some(modify::add_foreign_update_targets);
    r.PlanForeignModify = Some(modify::plan_foreign_modify);
    r.BeginForeignModify = Some(modify::begin_foreign_modify);
    r.ExecForeignInsert = Some(modify::exec_foreign_insert);
    r.ExecForeignUpdate = Some(modify::exec_foreign_update);
    r.ExecForeignDelete = Some(modify::exec_foreign_delete);
    r.GetForeignModifyBatchSize = Some(modify::get_foreign_modify_batch_size);
    r.ExecForeignBatchInsert = Some(modify::exec_foreign_batch_insert);
    r.EndForeignModify = Some(modify::end_foreign_modify);
    r.BeginForeignInsert = Some(modify::begin_foreign_insert);
    r.EndForeignInsert = Some(modify::end_foreign_modify);
    r.IsForeignRelUpdatable = Some(modify::is_foreign_rel_updatable);
    r.ExplainForeignModify = Some(modify::explain_foreign_modify);

    r.ImportForeignSchema = Some(import::import_foreign_schema);

    r.into_pg_boxed()
}
