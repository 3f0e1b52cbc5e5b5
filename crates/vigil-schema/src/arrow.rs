//! Arrow schemas for the telemetry store, derived from the column catalogue.

use std::sync::Arc;

use arrow_schema::{DataType, Field, Schema, TimeUnit};

use crate::columns::{Col, ColumnType};
use crate::tables::Table;

/// The Arrow type that stores a column type. `dynamic` is stored as its JSON text.
pub fn arrow_type(ty: ColumnType) -> DataType {
    match ty {
        ColumnType::String | ColumnType::Dynamic => DataType::Utf8,
        ColumnType::Long => DataType::Int64,
        ColumnType::Int => DataType::Int32,
        ColumnType::Bool => DataType::Boolean,
        ColumnType::DateTime => DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())),
    }
}

/// The Arrow field of a column; every column but `Timestamp` is nullable.
pub fn arrow_field(col: Col) -> Field {
    Field::new(col.name(), arrow_type(col.ty()), col != Col::Timestamp)
}

/// The Arrow schema of a table, columns in MDE order.
pub fn arrow_schema(table: Table) -> Arc<Schema> {
    Arc::new(Schema::new(
        table
            .columns()
            .iter()
            .map(|&c| arrow_field(c))
            .collect::<Vec<_>>(),
    ))
}
