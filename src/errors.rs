//! Maps CDF failures and bad values to PostgreSQL errors with proper SQLSTATEs.

use cdf_client::{CdfError, HierarchyError, UnwrittenRow, WriteError};
use cdf_tables::{ValueError, ValueErrorKind};
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;

fn sqlstate_of(e: &CdfError) -> PgSqlErrorCode {
    match e {
        CdfError::Api { status, .. } => match status {
            400 | 404 | 422 => PgSqlErrorCode::ERRCODE_DATA_EXCEPTION,
            401 => PgSqlErrorCode::ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION,
            403 => PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
            409 => PgSqlErrorCode::ERRCODE_UNIQUE_VIOLATION,
            413 => PgSqlErrorCode::ERRCODE_PROGRAM_LIMIT_EXCEEDED,
            429 | 502 | 503 | 504 => PgSqlErrorCode::ERRCODE_CONNECTION_FAILURE,
            _ => PgSqlErrorCode::ERRCODE_FDW_ERROR,
        },
        CdfError::Auth { .. } => PgSqlErrorCode::ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION,
        CdfError::Network { .. } => PgSqlErrorCode::ERRCODE_CONNECTION_FAILURE,
        CdfError::Protocol { .. } => PgSqlErrorCode::ERRCODE_FDW_ERROR,
    }
}

fn request_id_detail(e: &CdfError) -> Option<String> {
    e.request_id().map(|id| format!("x-request-id: {id}"))
}

/// Raises a CDF error; `context` says what the statement was doing.
pub fn raise_cdf(e: &CdfError, context: Option<&str>) -> ! {
    let message = match context {
        Some(c) => format!("{c}: {e}"),
        None => e.to_string(),
    };
    let mut report = ErrorReport::new(sqlstate_of(e), message, "cdf_fdw");
    if let Some(d) = request_id_detail(e) {
        report = report.set_detail(d);
    }
    if let CdfError::Api { status: 403, .. } = e {
        report = report.set_hint(
            "The CDF identity of this user mapping lacks a capability; ask the CDF admin to add it to its group.",
        );
    }
    report.report(PgLogLevel::ERROR);
    unreachable!()
}

/// Raises the failure of a write, saying how much of the statement CDF had already accepted.
pub fn raise_write(e: &WriteError, table: &str) -> ! {
    raise_write_of(e, table, "this statement")
}

/// `raise_write` for rows batched across `whose` ("this transaction").
pub fn raise_write_of(e: &WriteError, table: &str, whose: &str) -> ! {
    raise_write_as(e, table, whose, None)
}

/// `raise_write`, naming the statement's row CDF rejected when it is known.
pub fn raise_write_at(e: &WriteError, table: &str, row: Option<u64>) -> ! {
    raise_write_as(e, table, "this statement", row)
}

fn raise_write_as(e: &WriteError, table: &str, whose: &str, row: Option<u64>) -> ! {
    let message = match row {
        Some(row) => format!("writing to CDF table \"{table}\" failed at row {row}: {}", e.error),
        None => format!("writing to CDF table \"{table}\" failed: {}", e.error),
    };
    raise_write_coded(e, whose, sqlstate_of(&e.error), message)
}

/// Raises a write failure with its own SQLSTATE and message (a DMS error the caller recognised),
/// with the detail of what the statement had written.
pub fn raise_write_coded(e: &WriteError, whose: &str, code: PgSqlErrorCode, message: String) -> ! {
    let mut detail = Vec::new();
    if let Some(d) = request_id_detail(&e.error) {
        detail.push(d);
    }
    detail.push(format!(
        "{} row(s) of {whose} were written to CDF before the failing request and remain there \
         (CDF has no transactions; ROLLBACK does not undo them); the failing request carried {} row(s).",
        e.rows_written, e.rows_in_failed_chunk
    ));
    if let CdfError::Network { .. } = e.error {
        // The answer was lost, not necessarily the request: CDF may have acted on it.
        detail.push(
            "The failing request may have reached CDF before the connection failed, so its rows may have \
             been written; re-running an upsert by external id is safe."
                .into(),
        );
    }
    let mut report = ErrorReport::new(code, message, "cdf_fdw").set_detail(detail.join("\n"));
    if let CdfError::Api { status: 403, .. } = e.error {
        report = report.set_hint(
            "The CDF identity of this user mapping lacks a capability; ask the CDF admin to add it to its group.",
        );
    }
    report.report(PgLogLevel::ERROR);
    unreachable!()
}

/// Raises what stopped the ordering of an asset hierarchy.
pub fn raise_hierarchy(e: &HierarchyError, table: &str) -> ! {
    match e {
        HierarchyError::Write(e) => raise_write(e, table),
        HierarchyError::BufferFull { rows, bytes, limit_mb, rows_written } => {
            let mut report = ErrorReport::new(
                PgSqlErrorCode::ERRCODE_PROGRAM_LIMIT_EXCEEDED,
                format!(
                    "{rows} row(s) of CDF table \"{table}\" waiting for their parents need {:.1} MB, more than \
                     hierarchy_buffer_mb ({limit_mb} MB)",
                    *bytes as f64 / (1 << 20) as f64
                ),
                "cdf_fdw",
            )
            .set_hint(
                "Raise the table or server option hierarchy_buffer_mb, or send parents before their children \
                 (e.g. ORDER BY the depth in the hierarchy).",
            );
            if let Some(detail) = written_detail(*rows_written) {
                report = report.set_detail(detail);
            }
            report.report(PgLogLevel::ERROR);
            unreachable!()
        }
    }
}

/// Rows listed in an error detail before "... and N more".
const LISTED_ROWS: usize = 20;

/// Raises the assets of a statement that could not be written because of their parents.
pub fn raise_unwritten(rows: &[UnwrittenRow], table: &str, rows_written: u64) -> ! {
    let mut detail: Vec<String> = rows.iter().take(LISTED_ROWS).map(UnwrittenRow::describe).collect();
    if rows.len() > LISTED_ROWS {
        detail.push(format!("... and {} more", rows.len() - LISTED_ROWS));
    }
    detail.push(format!(
        "{rows_written} other row(s) of this statement were written to CDF and remain there \
         (CDF has no transactions; ROLLBACK does not undo them)."
    ));
    ErrorReport::new(
        PgSqlErrorCode::ERRCODE_FOREIGN_KEY_VIOLATION,
        format!(
            "{} row(s) of CDF table \"{table}\" were not written: their parents are missing or form a cycle",
            rows.len()
        ),
        "cdf_fdw",
    )
    .set_detail(detail.join("\n"))
    .set_hint("Every parent must be in CDF already or in the same statement; fix the rows named and load them again.")
    .report(PgLogLevel::ERROR);
    unreachable!()
}

/// What a statement had written when one of its own checks failed (CDF keeps it).
pub fn written_detail(rows_written: u64) -> Option<String> {
    (rows_written > 0).then(|| {
        format!(
            "{rows_written} row(s) of this statement were already written to CDF and remain there \
             (CDF has no transactions; ROLLBACK does not undo them)."
        )
    })
}

/// Raises a value that cannot go to CDF, naming table, row and column, and what the statement
/// had already written.
pub fn raise_value(e: &ValueError, table: &str, row: u64, rows_written: u64) -> ! {
    let code = match e.kind {
        ValueErrorKind::Required => PgSqlErrorCode::ERRCODE_NOT_NULL_VIOLATION,
        ValueErrorKind::TooLong => PgSqlErrorCode::ERRCODE_STRING_DATA_RIGHT_TRUNCATION,
        ValueErrorKind::TimeOutOfRange => PgSqlErrorCode::ERRCODE_DATETIME_FIELD_OVERFLOW,
        ValueErrorKind::ReadOnly => PgSqlErrorCode::ERRCODE_GENERATED_ALWAYS,
        ValueErrorKind::Empty => PgSqlErrorCode::ERRCODE_ZERO_LENGTH_CHARACTER_STRING,
        ValueErrorKind::Invalid => PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
        ValueErrorKind::UnknownReference => PgSqlErrorCode::ERRCODE_FOREIGN_KEY_VIOLATION,
    };
    let mut report = ErrorReport::new(
        code,
        format!("invalid value for CDF table \"{table}\", row {row}, column \"{}\": {}", e.column, e.message),
        "cdf_fdw",
    );
    if let Some(detail) = written_detail(rows_written) {
        report = report.set_detail(detail);
    }
    report.report(PgLogLevel::ERROR);
    unreachable!()
}

/// Raises a usage error (unsupported operation, missing column...).
pub fn raise(code: PgSqlErrorCode, message: String, hint: Option<String>) -> ! {
    let mut report = ErrorReport::new(code, message, "cdf_fdw");
    if let Some(h) = hint {
        report = report.set_hint(h);
    }
    report.report(PgLogLevel::ERROR);
    unreachable!()
}
