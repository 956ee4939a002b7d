//! What the current transaction has written to CDF. CDF has no transactions: rows it accepted
//! stay whatever PostgreSQL does next, so a ROLLBACK (or an aborted COPY) says so in a WARNING.

use std::cell::{Cell, RefCell};
use std::ffi::c_void;

use pgrx::pg_sys;
use pgrx::prelude::*;

thread_local! {
    static WRITTEN_IN_TRANSACTION: Cell<u64> = const { Cell::new(0) };
    static REGISTERED: Cell<bool> = const { Cell::new(false) };
    /// Statements that may have write requests in flight, with the function that waits for
    /// them: an error aborts such a statement while CDF is still answering, and the executor's
    /// memory (where the statement's writer lives) goes only after the abort callbacks, so
    /// they are settled here first and their rows counted in the WARNING.
    static IN_FLIGHT: RefCell<Vec<(*mut c_void, Settle)>> = const { RefCell::new(Vec::new()) };
}

/// Waits for the requests in flight of the state it is given.
type Settle = unsafe fn(*mut c_void);

fn register() {
    if !REGISTERED.get() {
        unsafe {
            pg_sys::RegisterXactCallback(Some(on_transaction_end), std::ptr::null_mut());
            pg_sys::RegisterSubXactCallback(Some(on_subtransaction_end), std::ptr::null_mut());
        }
        REGISTERED.set(true);
    }
}

/// Tracks a statement's state (until `untrack`) so an abort settles its requests in flight.
pub fn track_in_flight(state: *mut c_void, settle: Settle) {
    register();
    IN_FLIGHT.with_borrow_mut(|v| v.push((state, settle)));
}

/// The state is being dropped (end of statement, or its memory going after an abort).
pub fn untrack(state: *mut c_void) {
    IN_FLIGHT.with_borrow_mut(|v| v.retain(|(s, _)| *s != state));
}

fn settle_in_flight() {
    let tracked = IN_FLIGHT.with_borrow(|v| v.clone());
    for (state, settle) in tracked {
        // SAFETY: tracked states are alive until `untrack` runs from their Drop.
        unsafe { settle(state) };
    }
}

/// Counts rows CDF accepted in this transaction (rows written, changed or deleted).
pub fn note_written(rows: u64) {
    if rows == 0 {
        return;
    }
    register();
    WRITTEN_IN_TRANSACTION.set(WRITTEN_IN_TRANSACTION.get() + rows);
}

#[pg_guard]
unsafe extern "C-unwind" fn on_transaction_end(event: pg_sys::XactEvent::Type, _arg: *mut std::ffi::c_void) {
    match event {
        pg_sys::XactEvent::XACT_EVENT_ABORT | pg_sys::XactEvent::XACT_EVENT_PARALLEL_ABORT => {
            settle_in_flight();
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

#[pg_guard]
unsafe extern "C-unwind" fn on_subtransaction_end(
    event: pg_sys::SubXactEvent::Type,
    _my_subid: pg_sys::SubTransactionId,
    _parent_subid: pg_sys::SubTransactionId,
    _arg: *mut c_void,
) {
    if event == pg_sys::SubXactEvent::SUBXACT_EVENT_ABORT_SUB {
        settle_in_flight();
    }
}
