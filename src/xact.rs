//! What the current transaction has written to CDF. CDF has no transactions: rows it accepted
//! stay whatever PostgreSQL does next, so a ROLLBACK (or an aborted COPY) says so in a WARNING.

use std::cell::Cell;

use pgrx::pg_sys;
use pgrx::prelude::*;

thread_local! {
    static WRITTEN_IN_TRANSACTION: Cell<u64> = const { Cell::new(0) };
    static REGISTERED: Cell<bool> = const { Cell::new(false) };
}

/// Counts rows CDF accepted in this transaction (rows written, changed or deleted).
pub fn note_written(rows: u64) {
    if rows == 0 {
        return;
    }
    if !REGISTERED.get() {
        unsafe { pg_sys::RegisterXactCallback(Some(on_transaction_end), std::ptr::null_mut()) };
        REGISTERED.set(true);
    }
    WRITTEN_IN_TRANSACTION.set(WRITTEN_IN_TRANSACTION.get() + rows);
}

#[pg_guard]
unsafe extern "C-unwind" fn on_transaction_end(event: pg_sys::XactEvent::Type, _arg: *mut std::ffi::c_void) {
    match event {
        pg_sys::XactEvent::XACT_EVENT_ABORT | pg_sys::XactEvent::XACT_EVENT_PARALLEL_ABORT => {
            let rows = WRITTEN_IN_TRANSACTION.replace(0);
            if rows > 0 {
                ereport!(
                    PgLogLevel::WARNING,
                    PgSqlErrorCode::ERRCODE_WARNING,
                    format!("{rows} row(s) written to CDF in this transaction were kept: CDF has no transactions, so ROLLBACK does not undo them"),
                    "Re-running the load is safe for upserts by external id; delete the rows in CDF to undo them."
                );
            }
        }
        pg_sys::XactEvent::XACT_EVENT_COMMIT
        | pg_sys::XactEvent::XACT_EVENT_PARALLEL_COMMIT
        | pg_sys::XactEvent::XACT_EVENT_PREPARE => WRITTEN_IN_TRANSACTION.set(0),
        _ => {}
    }
}
