//! A row of one table: the unit every part of Vigil passes around.

use crate::columns::Col;
use crate::tables::Table;
use crate::value::{write_json_string, Dynamic, Timestamp, Value};
use crate::SchemaError;

/// One row of one table. Cells are kept in the table's column order; every column starts
/// `Null`.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    table: Table,
    values: Vec<Value>,
}

impl Row {
    /// Append the row as one JSON object (no newline): `Table`, then the non-null cells in
    /// column order under their MDE names; `Timestamp`s as RFC 3339 text, `dynamic` as JSON.
    pub fn write_json(&self, out: &mut String) {
        use std::fmt::Write as _;
        out.push_str("{\"Table\":");
        let _ = write_json_string(out, self.table.name());
        for (col, value) in self.cells() {
            let _ = match value {
                Value::Null => continue,
                Value::String(s) => {
                    write!(out, ",\"{}\":", col.name()).and_then(|()| write_json_string(out, s))
                }
                Value::Long(n) => write!(out, ",\"{}\":{n}", col.name()),
                Value::Int(n) => write!(out, ",\"{}\":{n}", col.name()),
                Value::Bool(b) => write!(out, ",\"{}\":{b}", col.name()),
                Value::DateTime(t) => write!(out, ",\"{}\":\"{t}\"", col.name()),
                Value::Dynamic(d) => write!(out, ",\"{}\":{d}", col.name()),
            };
        }
        out.push('}');
    }

    /// An empty row of `table`.
    pub fn new(table: Table) -> Row {
        Row {
            table,
            values: vec![Value::Null; table.columns().len()],
        }
    }

    /// A row of an event table with its `Timestamp` and `ActionType` set.
    ///
    /// # Panics
    /// When `action_type` is not one of `table.action_types()`: producers name their action
    /// types as constants, so a mismatch is a programming error caught by their tests.
    pub fn event(table: Table, action_type: &str, at: Timestamp) -> Row {
        assert!(
            table.action_types().contains(&action_type),
            "{action_type} is not an ActionType of {}",
            table.name()
        );
        let mut row = Row::new(table);
        row.values[0] = Value::DateTime(at);
        row.put(Col::ActionType, action_type);
        row
    }

    pub fn table(&self) -> Table {
        self.table
    }

    /// The cells in column order.
    pub fn values(&self) -> &[Value] {
        &self.values
    }

    /// `(column, value)` pairs in column order.
    pub fn cells(&self) -> impl Iterator<Item = (Col, &Value)> {
        self.table.columns().iter().copied().zip(self.values.iter())
    }

    /// The value of `col`, or `Null` when the table has no such column.
    pub fn get(&self, col: Col) -> &Value {
        static NULL: Value = Value::Null;
        self.table.position(col).map_or(&NULL, |i| &self.values[i])
    }

    pub fn get_str(&self, col: Col) -> Option<&str> {
        self.get(col).as_str()
    }

    pub fn get_i64(&self, col: Col) -> Option<i64> {
        self.get(col).as_i64()
    }

    /// Set `col`, checking that the table has it and that the value has its type.
    pub fn set(&mut self, col: Col, value: impl Into<Value>) -> Result<(), SchemaError> {
        let value = value.into();
        let pos = self.table.position(col).ok_or(SchemaError::NoSuchColumn {
            table: self.table.name(),
            column: col.name(),
        })?;
        if let Some(ty) = value.ty() {
            if ty != col.ty() {
                return Err(SchemaError::TypeMismatch {
                    column: col.name(),
                    expected: col.ty().kql_name(),
                    found: ty.kql_name(),
                });
            }
        }
        self.values[pos] = value;
        Ok(())
    }

    /// Set `col` if the table has it; ignore it otherwise. Used for column blocks that most
    /// tables share (the initiating process, the device).
    ///
    /// # Panics
    /// On a type mismatch, which is a programming error in the producer.
    pub fn put(&mut self, col: Col, value: impl Into<Value>) {
        if !self.table.has(col) {
            return;
        }
        if let Err(e) = self.set(col, value) {
            panic!("{e}");
        }
    }

    /// Add one member to `AdditionalFields` (Linux facts that MDE has no column for).
    pub fn put_extra(&mut self, key: &str, value: impl Into<Dynamic>) {
        let Some(pos) = self.table.position(Col::AdditionalFields) else {
            return;
        };
        match &mut self.values[pos] {
            Value::Dynamic(d) => d.insert(key, value),
            other => {
                let mut d = Dynamic::object();
                d.insert(key, value);
                *other = Value::Dynamic(d);
            }
        }
    }

    /// The `AdditionalFields` object, if any member was set.
    pub fn extra(&self) -> Option<&Dynamic> {
        match self.get(Col::AdditionalFields) {
            Value::Dynamic(d) => Some(d),
            _ => None,
        }
    }

    /// The event time.
    pub fn timestamp(&self) -> Timestamp {
        match self.values[0] {
            Value::DateTime(t) => t,
            _ => Timestamp::default(),
        }
    }

    /// The ActionType, or `""` for snapshot tables.
    pub fn action_type(&self) -> &str {
        self.get_str(Col::ActionType).unwrap_or("")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_checks_table_and_type() {
        let mut r = Row::event(
            Table::DeviceNetworkEvents,
            "ConnectionSuccess",
            Timestamp(5),
        );
        r.set(Col::RemotePort, 443).unwrap();
        assert_eq!(r.get_i64(Col::RemotePort), Some(443));
        let e = r.set(Col::RemotePort, 443i64).unwrap_err();
        assert_eq!(e.to_string(), "column RemotePort is int, not long");
        let e = r.set(Col::ProcessCommandLine, "x").unwrap_err();
        assert_eq!(
            e.to_string(),
            "table DeviceNetworkEvents has no column ProcessCommandLine"
        );
        // put() ignores columns the table lacks.
        r.put(Col::ProcessCommandLine, "x");
        assert!(r.get(Col::ProcessCommandLine).is_null());
    }

    #[test]
    fn extra_fields_accumulate() {
        let mut r = Row::event(Table::DeviceProcessEvents, "ProcessCreated", Timestamp(1));
        r.put_extra("tty", "pts/0");
        r.put_extra("cgroup", "/user.slice");
        assert_eq!(
            r.extra().unwrap().to_json(),
            r#"{"cgroup":"/user.slice","tty":"pts/0"}"#
        );
    }

    #[test]
    #[should_panic(expected = "FileCreated is not an ActionType of DeviceProcessEvents")]
    fn foreign_action_type_is_a_bug() {
        Row::event(Table::DeviceProcessEvents, "FileCreated", Timestamp(1));
    }
}
