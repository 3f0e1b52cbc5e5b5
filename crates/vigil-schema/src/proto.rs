//! The protobuf definition of the wire messages, generated from the column catalogue.
//!
//! `proto/vigil/events.proto` at the workspace root is this text; a test keeps the two equal
//! and `cargo xtask codegen` rewrites the file. Each column's number is its field number, so a
//! message never renumbers a field when a table gains a column.

use std::fmt::Write;

use crate::columns::ColumnType;
use crate::tables::Table;

fn proto_type(ty: ColumnType) -> &'static str {
    match ty {
        ColumnType::String | ColumnType::Dynamic => "string",
        ColumnType::Long | ColumnType::DateTime => "sint64",
        ColumnType::Int => "sint32",
        ColumnType::Bool => "bool",
    }
}

/// The text of `proto/vigil/events.proto`.
pub fn events_proto() -> String {
    let mut out = String::new();
    out.push_str(
        "// Generated from crates/vigil-schema by `cargo xtask codegen`; do not edit.\n\
         // Field numbers are the stable column numbers of the schema's catalogue.\n\
         // datetime columns are nanoseconds since the Unix epoch (UTC); dynamic columns are JSON text.\n\
         syntax = \"proto3\";\n\npackage vigil.events;\n",
    );
    for &table in Table::ALL {
        let _ = writeln!(out, "\nmessage {} {{", table.name());
        for &col in table.columns() {
            let _ = writeln!(
                out,
                "  optional {} {} = {}; // {}",
                proto_type(col.ty()),
                col.name(),
                col.id(),
                col.ty().kql_name()
            );
        }
        out.push_str("}\n");
    }
    out.push_str("\n// One row of any table.\nmessage Event {\n  oneof row {\n");
    for &table in Table::ALL {
        let _ = writeln!(out, "    {0} {0} = {1};", table.name(), table.id());
    }
    out.push_str("  }\n}\n");
    out
}
