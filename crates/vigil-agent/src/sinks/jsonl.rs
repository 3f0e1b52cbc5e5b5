//! JSON lines: one object a row, `{"Table": "...", "Timestamp": "...", <columns>}`.
//!
//! Columns keep the table's order; null cells are left out; `datetime` is RFC 3339 with
//! nanoseconds; `dynamic` is embedded as JSON.

use std::io::{self, Write};

use vigil_schema::Row;

pub struct JsonlSink {
    out: Box<dyn Write + Send>,
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
            row.write_json(&mut line);
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
        row.write_json(&mut s);
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
