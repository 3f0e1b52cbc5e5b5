//! JSON lines: one object a row, `{"Table": "...", "Timestamp": "...", <columns>}`.
//!
//! Columns keep the table's order; null cells are left out; `datetime` is RFC 3339 with
//! nanoseconds; `dynamic` is embedded as JSON.

use std::io::{self, Write};

use vigil_schema::{Row, Value};

pub struct JsonlSink {
    out: Box<dyn Write + Send>,
}

/// Append one row as a JSON object (no newline).
pub fn encode(row: &Row, buf: &mut String) {
    buf.push_str("{\"Table\":\"");
    buf.push_str(row.table().name());
    buf.push('"');
    for (col, value) in row.cells() {
        if value.is_null() {
            continue;
        }
        buf.push_str(",\"");
        buf.push_str(col.name());
        buf.push_str("\":");
        match value {
            Value::Null => buf.push_str("null"),
            Value::String(s) => {
                buf.push_str(&serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into()))
            }
            Value::Long(n) => buf.push_str(&n.to_string()),
            Value::Int(n) => buf.push_str(&n.to_string()),
            Value::Bool(b) => buf.push_str(if *b { "true" } else { "false" }),
            Value::DateTime(t) => {
                buf.push('"');
                buf.push_str(&t.to_string());
                buf.push('"');
            }
            Value::Dynamic(d) => buf.push_str(&d.to_json()),
        }
    }
    buf.push('}');
}

impl JsonlSink {
    pub fn new(out: Box<dyn Write + Send>) -> JsonlSink {
        JsonlSink {
            out: Box::new(io::BufWriter::with_capacity(256 * 1024, out)),
        }
    }

    /// Write rows; the batch is flushed so that readers see it at once.
    pub fn write(&mut self, rows: &[Row]) -> io::Result<()> {
        let mut line = String::with_capacity(2048);
        for row in rows {
            line.clear();
            encode(row, &mut line);
            line.push('\n');
            self.out.write_all(line.as_bytes())?;
        }
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_schema::{Col, Table, Timestamp};

    #[test]
    fn rows_are_valid_json_in_column_order() {
        let mut row = Row::event(
            Table::DeviceProcessEvents,
            "ProcessCreated",
            Timestamp(1_500_000_000),
        );
        row.put(Col::ProcessCommandLine, "echo \"hi\"\n");
        row.put(Col::ProcessId, 42i64);
        row.put_extra("tty", "pts/0");
        let mut s = String::new();
        encode(&row, &mut s);
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(v["Table"], "DeviceProcessEvents");
        assert_eq!(v["Timestamp"], "1970-01-01T00:00:01.500000000Z");
        assert_eq!(v["ProcessCommandLine"], "echo \"hi\"\n");
        assert_eq!(v["ProcessId"], 42);
        assert_eq!(v["AdditionalFields"]["tty"], "pts/0");
        assert!(v.get("SHA256").is_none());
        assert!(s.find("Timestamp").unwrap() < s.find("ActionType").unwrap());
    }
}
