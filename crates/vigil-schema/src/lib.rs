//! The one definition of Vigil's telemetry: MDE advanced-hunting tables, their columns and
//! types, and the ActionType values each table uses.
//!
//! Everything that handles events (the agent's sensors, the wire protocol, storage, detection,
//! hunting and the API) takes its table and column names from here:
//!
//! - [`Col`] is the column catalogue: MDE's name, KQL type and a stable number per column;
//! - [`Table`] lists each table's columns in MDE's order and its ActionTypes;
//! - [`Row`] is one row, with typed cells checked against the table;
//! - [`arrow::arrow_schema`] and [`proto::events_proto`] derive the storage and wire forms;
//!   [`wire`] encodes and decodes rows in that protobuf form.
//!
//! Linux facts that MDE has no column for go into `AdditionalFields` (a `dynamic` object);
//! their keys are listed in [`extra`].
//!
//! **Invariant:** this crate does no I/O and depends on no serialization framework: its
//! protobuf and JSON codecs are hand-written against the generated `.proto`.

pub mod arrow;
mod columns;
pub mod extra;
mod json;
pub mod proto;
mod row;
mod tables;
mod value;
pub mod wire;

pub use columns::{Col, ColumnType};
pub use row::Row;
pub use tables::Table;
pub use value::{Dynamic, Timestamp, Value};

/// A row or value that does not fit the schema.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemaError {
    #[error("table {table} has no column {column}")]
    NoSuchColumn {
        table: &'static str,
        column: &'static str,
    },
    #[error("column {column} is {expected}, not {found}")]
    TypeMismatch {
        column: &'static str,
        expected: &'static str,
        found: &'static str,
    },
}
