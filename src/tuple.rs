//! Rows between PostgreSQL and CDF: which attribute of a foreign table is which catalogue column
//! (`Binding`), a slot's values as `Value`s, and a CDF object stored into a slot.

use cdf_client::Row;
use cdf_tables::{Column, Point, Resource, Value, ValueError, ValueErrorKind};
use pgrx::pg_sys;
use pgrx::prelude::*;
use pgrx::PgTupleDesc;

use crate::convert::{datum_to_value, type_fits, value_to_datum};
use crate::errors;

/// One foreign-table attribute bound to its catalogue column.
#[derive(Debug, Clone, Copy)]
pub struct Binding {
    /// Index into the slot's values (attnum - 1).
    pub attidx: usize,
    pub column: &'static Column,
    pub typoid: pg_sys::Oid,
}

/// Binds every live attribute of a foreign table to its resource's column, rejecting columns the
/// resource does not have and types that cannot carry its values.
pub unsafe fn bind_columns(rel: pg_sys::Relation, resource: &'static Resource, table_name: &str) -> Vec<Binding> {
    let tupdesc = PgTupleDesc::from_pg_unchecked((*rel).rd_att);
    let mut bindings = Vec::with_capacity(tupdesc.len());
    for (attidx, attr) in tupdesc.iter().enumerate() {
        if attr.is_dropped() {
            continue;
        }
        let name = attr.name();
        let Some(column) = resource.column(name) else {
            let valid: Vec<&str> = resource.columns.iter().map(|c| c.name).collect();
            errors::raise(
                PgSqlErrorCode::ERRCODE_FDW_COLUMN_NAME_NOT_FOUND,
                format!(
                    "column \"{name}\" of foreign table \"{}\" is not a field of CDF resource \"{}\"",
                    table_name, resource.table
                ),
                Some(format!("Columns of {}: {}.", resource.table, valid.join(", "))),
            );
        };
        let typoid = attr.type_oid().value();
        if !type_fits(column.ty, typoid) {
            errors::raise(
                PgSqlErrorCode::ERRCODE_FDW_INVALID_DATA_TYPE,
                format!(
                    "column \"{name}\" of foreign table \"{}\" has a type that cannot hold CDF's {} values",
                    table_name,
                    column.ty.sql()
                ),
                Some(format!("Declare it as {}.", column.ty.sql())),
            );
        }
        bindings.push(Binding { attidx, column, typoid });
    }
    bindings
}

/// Stores a CDF object (API field names; addresses under column names) as the slot's row.
pub unsafe fn store_row(
    slot: *mut pg_sys::TupleTableSlot,
    bindings: &[Binding],
    row: &serde_json::Map<String, serde_json::Value>,
) {
    store_values(slot, bindings, |column| cdf_tables::item_to_value(column, row));
}

/// Stores a datapoint as the slot's row.
pub unsafe fn store_point(slot: *mut pg_sys::TupleTableSlot, bindings: &[Binding], point: &Point) {
    store_values(slot, bindings, |column| cdf_tables::point_to_value(column, point));
}

/// Stores the value `value_of` gives each bound column as the slot's row.
unsafe fn store_values(
    slot: *mut pg_sys::TupleTableSlot,
    bindings: &[Binding],
    value_of: impl Fn(&Column) -> Result<Value, ValueError>,
) {
    pg_sys::ExecClearTuple(slot);
    let (values, nulls) = slot_arrays(slot);
    nulls.fill(true);
    fill_values(values, nulls, bindings, value_of);
    pg_sys::ExecStoreVirtualTuple(slot);
}

/// Stores two rows side by side as the slot's row (a join's): each side's bindings name its
/// places in the slot.
pub unsafe fn store_joined(slot: *mut pg_sys::TupleTableSlot, sides: [(&[Binding], &Row); 2]) {
    pg_sys::ExecClearTuple(slot);
    let (values, nulls) = slot_arrays(slot);
    nulls.fill(true);
    for (bindings, row) in sides {
        fill_values(values, nulls, bindings, |column| row_value(column, row));
    }
    pg_sys::ExecStoreVirtualTuple(slot);
}

/// The value of a catalogue column in a row CDF returned.
pub fn row_value(column: &Column, row: &Row) -> Result<Value, ValueError> {
    match row {
        Row::Item(item) => cdf_tables::item_to_value(column, item),
        Row::Point(point) => cdf_tables::point_to_value(column, point),
    }
}

unsafe fn slot_arrays<'a>(slot: *mut pg_sys::TupleTableSlot) -> (&'a mut [pg_sys::Datum], &'a mut [bool]) {
    let natts = (*(*slot).tts_tupleDescriptor).natts as usize;
    (
        std::slice::from_raw_parts_mut((*slot).tts_values, natts),
        std::slice::from_raw_parts_mut((*slot).tts_isnull, natts),
    )
}

unsafe fn fill_values(
    values: &mut [pg_sys::Datum],
    nulls: &mut [bool],
    bindings: &[Binding],
    value_of: impl Fn(&Column) -> Result<Value, ValueError>,
) {
    for b in bindings {
        let value = value_of(b.column)
            .unwrap_or_else(|e| errors::raise(PgSqlErrorCode::ERRCODE_FDW_INVALID_DATA_TYPE, e.to_string(), None));
        if let Some(d) = value_to_datum(value, b.typoid) {
            values[b.attidx] = d;
            nulls[b.attidx] = false;
        }
    }
}

/// Reads the bound attributes of a slot into values; the caller raises a value that cannot be
/// converted (after settling what is in flight, so the error counts it).
pub unsafe fn slot_values(
    slot: *mut pg_sys::TupleTableSlot,
    bindings: &[Binding],
) -> Result<Vec<(&'static Column, Value)>, ValueError> {
    pg_sys::slot_getallattrs(slot);
    let natts = (*slot).tts_nvalid as usize;
    let datums = std::slice::from_raw_parts((*slot).tts_values, natts);
    let nulls = std::slice::from_raw_parts((*slot).tts_isnull, natts);
    bindings
        .iter()
        .map(|b| {
            let value = if nulls[b.attidx] {
                Value::Null
            } else {
                datum_to_value(datums[b.attidx], b.typoid).map_err(|message| ValueError {
                    column: b.column.name,
                    kind: ValueErrorKind::Invalid,
                    message,
                })?
            };
            Ok((b.column, value))
        })
        .collect()
}
