//! Transaction-wide batching (`batch_scope 'transaction'`, or `cdf_fdw.batch_scope`): rows of
//! INSERTs into one table wait across the statements of a transaction, so clients that send
//! one INSERT per row (`executemany`, JDBC without `reWriteBatchedInserts`, loops) still fill
//! CDF requests. The rows go out when a request's worth has gathered, before any cdf_fdw table
//! is read in the transaction (it reads its own writes), when a statement-scope write or
//! RETURNING comes along, and at PRE_COMMIT, where a failure fails the COMMIT. PREPARE
//! TRANSACTION with rows still batched is refused (CDF cannot hold them for COMMIT PREPARED).
//! ROLLBACK drops the rows not sent yet; ROLLBACK TO SAVEPOINT drops those inserted after the
//! savepoint (each row remembers its subtransaction; a released savepoint hands its rows to
//! the parent).
//!
//! A failed send may have carried rows of the outer transaction; once one failed, COMMIT is
//! refused even after ROLLBACK TO SAVEPOINT, so no row is lost silently.

use std::cell::{Cell, RefCell};

use cdf_client::{TableWriter, WriteError};
use cdf_tables::{InsertMode, WriteRow};
use pgrx::pg_sys;
use pgrx::prelude::*;

use crate::backend;
use crate::context::TableContext;
use crate::errors;
use crate::xact;

/// Rows of one table, user mapping and insert mode waiting in this transaction.
struct Batch {
    relid: pg_sys::Oid,
    ctx: TableContext,
    mode: InsertMode,
    /// Carries the requests in flight and what they wrote.
    writer: TableWriter,
    /// Rows not handed to the writer yet, each with the subtransaction that inserted it.
    pending: Vec<(pg_sys::SubTransactionId, WriteRow)>,
}

thread_local! {
    static BATCHES: RefCell<Vec<Batch>> = const { RefCell::new(Vec::new()) };
    static REGISTERED: Cell<bool> = const { Cell::new(false) };
    /// Set while rows are being sent and left set when the send failed: the message COMMIT is
    /// refused with.
    static BROKEN: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Rows a batch gathers before they go out: one request's worth (at most 10,000 rows, which
/// bounds what a transaction keeps in memory per table).
fn threshold(ctx: &TableContext) -> usize {
    ctx.resource.rows_per_request().clamp(1, 10_000)
}

fn register() {
    if !REGISTERED.get() {
        unsafe {
            pg_sys::RegisterXactCallback(Some(on_xact), std::ptr::null_mut());
            pg_sys::RegisterSubXactCallback(Some(on_subxact), std::ptr::null_mut());
        }
        REGISTERED.set(true);
    }
}

/// Adds one row to the transaction's batch of table `relid`; sends the batch when it is full.
pub fn push(relid: pg_sys::Oid, ctx: &TableContext, mode: InsertMode, row: WriteRow) {
    register();
    let subxid = unsafe { pg_sys::GetCurrentSubTransactionId() };
    let full = BATCHES.with_borrow_mut(|batches| {
        let same = |b: &Batch| b.relid == relid && b.ctx.user_mapping_oid == ctx.user_mapping_oid && b.mode == mode;
        let i = match batches.iter().position(same) {
            Some(i) => i,
            None => {
                let mut writer = TableWriter::new(ctx.resource, mode);
                writer.set_max_concurrency(ctx.max_concurrent_requests);
                batches.push(Batch { relid, ctx: ctx.clone(), mode, writer, pending: Vec::new() });
                batches.len() - 1
            }
        };
        batches[i].pending.push((subxid, row));
        (batches[i].pending.len() >= threshold(&batches[i].ctx)).then_some(i)
    });
    if let Some(i) = full {
        send_taken(|batches| send(&mut batches[i], false).err().map(|e| (e, batches[i].ctx.table_name.clone())));
    }
}

/// Whether rows of this transaction are waiting.
pub fn any_pending() -> bool {
    BATCHES.with_borrow(|b| !b.is_empty())
}

/// Sends every batch and waits until CDF has answered for all of them (before a read, a
/// statement-scope write, and at commit). A failure raises the first error, after every
/// request in flight has finished, counting what the transaction wrote.
pub fn flush_all() {
    flush_where(|_| true);
}

/// As `flush_all`, for the batches of tables other than `relid`: before a row's references by
/// external id are looked up, so rows batched earlier in the transaction (the assets its events
/// name) are in CDF to be found.
pub fn flush_others(relid: pg_sys::Oid) {
    flush_where(|b| b.relid != relid);
}

fn flush_where(wanted: impl Fn(&Batch) -> bool) {
    if !BATCHES.with_borrow(|b| b.iter().any(&wanted)) {
        return;
    }
    send_taken(|batches| {
        let mut first: Option<(WriteError, String)> = None;
        for batch in batches.iter_mut().filter(|b| wanted(b)) {
            let result = match first {
                None => send(batch, true),
                // No new request after a failure; those in flight finish.
                Some(_) => settle(batch),
            };
            if let Err(e) = result {
                first.get_or_insert((e, batch.ctx.table_name.clone()));
            }
        }
        if first.is_none() {
            batches.retain(|b| !wanted(b));
        }
        first
    });
}

/// Runs `op` on the batches taken out of the thread-local (nothing else may touch them while
/// requests run, and an error unwinding through `op` drops them), raising the failure it
/// returns (with the table's name).
fn send_taken(op: impl FnOnce(&mut Vec<Batch>) -> Option<(WriteError, String)>) {
    BROKEN.set(Some(
        "an earlier write of rows batched in this transaction (batch_scope 'transaction') did not complete".into(),
    ));
    let mut batches = BATCHES.take();
    let result = op(&mut batches);
    BATCHES.set(batches);
    match result {
        None => BROKEN.set(None),
        Some((e, table)) => {
            BROKEN.set(Some(format!("an earlier write of rows batched in this transaction failed: {}", e.error)));
            errors::raise_write_of(&e, &table, "this transaction")
        }
    }
}

/// Hands the pending rows of `batch` to its writer and starts their requests; with `wait`,
/// also waits until every request in flight has finished.
fn send(batch: &mut Batch, wait: bool) -> Result<(), WriteError> {
    let rows: Vec<WriteRow> = batch.pending.drain(..).map(|(_, row)| row).collect();
    let Batch { ctx, writer, .. } = batch;
    let before = writer.rows_written;
    let result = backend::run(ctx, async |session| {
        for row in rows {
            if writer.needs_flush_before(&row) {
                writer.send_buffered(session).await?;
            }
            if writer.push(row) {
                writer.send_buffered(session).await?;
            }
        }
        writer.send_buffered(session).await?;
        if wait {
            writer.wait_in_flight().await?;
        }
        Ok(())
    });
    xact::note_written(writer.rows_written - before);
    result
}

/// Waits for the requests in flight of `batch`, starting none.
fn settle(batch: &mut Batch) -> Result<(), WriteError> {
    let Batch { ctx, writer, .. } = batch;
    if writer.in_flight() == 0 {
        return Ok(());
    }
    let before = writer.rows_written;
    let result = backend::run(ctx, async |_session| writer.wait_in_flight().await);
    xact::note_written(writer.rows_written - before);
    result
}

#[pg_guard]
unsafe extern "C-unwind" fn on_xact(event: pg_sys::XactEvent::Type, _arg: *mut std::ffi::c_void) {
    match event {
        pg_sys::XactEvent::XACT_EVENT_PRE_PREPARE if any_pending() => {
            BATCHES.take();
            errors::raise(
                PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
                "cannot PREPARE TRANSACTION while rows for CDF are batched in it (batch_scope 'transaction')".into(),
                Some(
                    "CDF has no two-phase commit: it cannot hold rows until COMMIT PREPARED. Read a cdf_fdw \
                     table before PREPARE TRANSACTION to send them, or SET cdf_fdw.batch_scope = 'statement'."
                        .into(),
                ),
            );
        }
        pg_sys::XactEvent::XACT_EVENT_PRE_COMMIT | pg_sys::XactEvent::XACT_EVENT_PRE_PREPARE => {
            if let Some(why) = BROKEN.take() {
                BATCHES.take();
                errors::raise(
                    PgSqlErrorCode::ERRCODE_TRANSACTION_RESOLUTION_UNKNOWN,
                    format!("cannot commit: {why}"),
                    Some(
                        "Rows of this transaction may be missing in CDF. The transaction is rolled back; \
                         re-run it (upserts by external id are safe to repeat)."
                            .into(),
                    ),
                );
            }
            flush_all();
        }
        pg_sys::XactEvent::XACT_EVENT_ABORT
        | pg_sys::XactEvent::XACT_EVENT_PARALLEL_ABORT
        | pg_sys::XactEvent::XACT_EVENT_COMMIT
        | pg_sys::XactEvent::XACT_EVENT_PREPARE => {
            // Rows not sent are dropped with the transaction; requests still in flight (sent
            // before the abort) are abandoned.
            BATCHES.take();
            BROKEN.set(None);
        }
        _ => {}
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn on_subxact(
    event: pg_sys::SubXactEvent::Type,
    my_subid: pg_sys::SubTransactionId,
    parent_subid: pg_sys::SubTransactionId,
    _arg: *mut std::ffi::c_void,
) {
    match event {
        pg_sys::SubXactEvent::SUBXACT_EVENT_COMMIT_SUB => BATCHES.with_borrow_mut(|batches| {
            for (subxid, _) in batches.iter_mut().flat_map(|b| b.pending.iter_mut()) {
                if *subxid == my_subid {
                    *subxid = parent_subid;
                }
            }
        }),
        pg_sys::SubXactEvent::SUBXACT_EVENT_ABORT_SUB => BATCHES.with_borrow_mut(|batches| {
            for batch in batches.iter_mut() {
                batch.pending.retain(|(subxid, _)| *subxid != my_subid);
            }
        }),
        _ => {}
    }
}
