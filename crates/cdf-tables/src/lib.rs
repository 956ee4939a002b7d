//! cdf-tables: the table catalogue of cdf_fdw, option validation, and the conversion between
//! PostgreSQL row values and CDF JSON items. No pgrx here, so all of it runs under `cargo test`.

pub mod aggregates;
pub mod capabilities;
pub mod catalogue;
pub mod changes;
pub mod joins;
pub mod mapping;
pub mod options;
pub mod points;
pub mod reads;
pub mod typed_raw;
pub mod value;
pub mod views;
pub mod writes;

pub use catalogue::{
    limits, resource, Access, Column, ColumnType, DeleteKind, Field, ItemRef, ReadKind, Reference, Resource, WriteKind,
    RESOURCES,
};
pub use changes::{clear_op, delete_change, identity_columns, insert_update_change, update_changes, Change};
pub use mapping::{
    apply_input_policy, item_to_value, mark_cleared_fields, point_to_value, row_references, row_to_item, value_to_json,
    EmptyStrings, InputPolicy, SubMillisecond, ValueError, ValueErrorKind,
};
pub use options::{
    DeleteUnknown, InsertMode, NullValues, OptionError, OptionErrorKind, OptionTarget, UnknownReferences,
};
pub use points::{Point, PointStatus, PointValue, SeriesAddress};
pub use reads::{plan_read, ListSort, PushedQual, QualOp, ReadPlan};
pub use value::Value;
pub use writes::{row_to_write, DatapointRow, SeriesRef, WriteRow, WriteStatus};
