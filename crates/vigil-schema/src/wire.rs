//! The protobuf encoding of rows, as `proto/vigil/events.proto` defines it.
//!
//! A row is one `Event` message (a `oneof` over the tables, field number = the table's id) whose
//! table message carries each non-null cell under its column number: strings and `dynamic`
//! (JSON text) as length-delimited bytes, `long` and `datetime` as `sint64`, `int` as `sint32`,
//! `bool` as a varint. A batch is a sequence of such messages, each prefixed by its length as a
//! varint (protobuf's "delimited" stream), so any protobuf library can read it with the
//! generated `.proto`.
//!
//! Decoding treats its input as hostile: every length is checked against what is left, wire
//! types must match the column's type, text must be UTF-8 and `dynamic` must be JSON. Fields
//! with numbers this build does not know are skipped, so an older server reads a newer agent.

use crate::columns::{Col, ColumnType};
use crate::tables::Table;
use crate::value::{Dynamic, Timestamp, Value};
use crate::Row;

/// Why bytes are not a valid batch of events.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("event {index}: truncated at byte {offset}")]
    Truncated { index: usize, offset: usize },
    #[error("event {index}: unknown table number {table}")]
    UnknownTable { index: usize, table: u64 },
    #[error("event {index}: column {column} has wire type {found}, expected {expected}")]
    WireType {
        index: usize,
        column: &'static str,
        found: u8,
        expected: u8,
    },
    #[error("event {index}: column {column} is not valid UTF-8")]
    Utf8 { index: usize, column: &'static str },
    #[error("event {index}: column {column} is not JSON: {reason}")]
    Json {
        index: usize,
        column: &'static str,
        reason: String,
    },
    #[error("event {index}: column {column}: value {value} out of range")]
    Range {
        index: usize,
        column: &'static str,
        value: i64,
    },
    #[error("event {index}: malformed: {reason}")]
    Malformed { index: usize, reason: &'static str },
    #[error("more than {max} events in one batch")]
    TooMany { max: usize },
    #[error("event {index}: {size} bytes is over the limit of {max}")]
    TooLarge {
        index: usize,
        size: usize,
        max: usize,
    },
}

const VARINT: u8 = 0;
const I64: u8 = 1;
const LEN: u8 = 2;
const I32: u8 = 5;

/// The largest encoded event accepted.
pub const MAX_EVENT_BYTES: usize = 1 << 20;

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_key(out: &mut Vec<u8>, field: u64, wire: u8) {
    put_varint(out, (field << 3) | wire as u64);
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

fn varint_len(mut v: u64) -> usize {
    let mut n = 1;
    while v >= 0x80 {
        v >>= 7;
        n += 1;
    }
    n
}

/// Append the table message of `row` (without the `Event` wrapper).
fn encode_table_message(row: &Row, out: &mut Vec<u8>) {
    for (col, value) in row.cells() {
        let field = col.id() as u64;
        match value {
            Value::Null => {}
            Value::String(s) => {
                put_key(out, field, LEN);
                put_varint(out, s.len() as u64);
                out.extend_from_slice(s.as_bytes());
            }
            Value::Dynamic(d) => {
                let json = d.to_json();
                put_key(out, field, LEN);
                put_varint(out, json.len() as u64);
                out.extend_from_slice(json.as_bytes());
            }
            Value::Long(n) => {
                put_key(out, field, VARINT);
                put_varint(out, zigzag(*n));
            }
            Value::DateTime(t) => {
                put_key(out, field, VARINT);
                put_varint(out, zigzag(t.nanos()));
            }
            Value::Int(n) => {
                put_key(out, field, VARINT);
                put_varint(out, zigzag(*n as i64));
            }
            Value::Bool(b) => {
                put_key(out, field, VARINT);
                put_varint(out, *b as u64);
            }
        }
    }
}

/// Append one `Event` message for `row`, without a length prefix.
pub fn encode_event(row: &Row, out: &mut Vec<u8>) {
    let mut inner = Vec::with_capacity(256);
    encode_table_message(row, &mut inner);
    put_key(out, row.table().id() as u64, LEN);
    put_varint(out, inner.len() as u64);
    out.extend_from_slice(&inner);
}

/// Append `row` as a length-prefixed `Event` (one element of a batch).
pub fn encode_delimited(row: &Row, out: &mut Vec<u8>) {
    let mut event = Vec::with_capacity(300);
    encode_event(row, &mut event);
    put_varint(out, event.len() as u64);
    out.extend_from_slice(&event);
}

/// A batch: every row length-prefixed, in order.
pub fn encode_batch(rows: &[Row]) -> Vec<u8> {
    let mut out = Vec::with_capacity(rows.len() * 300);
    for row in rows {
        encode_delimited(row, &mut out);
    }
    out
}

/// The encoded size of `row` as one batch element.
pub fn delimited_len(row: &Row) -> usize {
    let mut event = Vec::new();
    encode_event(row, &mut event);
    varint_len(event.len() as u64) + event.len()
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    /// Offset of `buf` in the whole batch, for messages.
    base: usize,
    index: usize,
}

impl<'a> Reader<'a> {
    fn truncated(&self) -> WireError {
        WireError::Truncated {
            index: self.index,
            offset: self.base + self.pos,
        }
    }

    fn done(&self) -> bool {
        self.pos >= self.buf.len()
    }

    fn varint(&mut self) -> Result<u64, WireError> {
        let mut v: u64 = 0;
        for shift in (0..64).step_by(7) {
            let Some(&b) = self.buf.get(self.pos) else {
                return Err(self.truncated());
            };
            self.pos += 1;
            v |= ((b & 0x7f) as u64) << shift;
            if b < 0x80 {
                return Ok(v);
            }
        }
        Err(WireError::Malformed {
            index: self.index,
            reason: "varint longer than 10 bytes",
        })
    }

    fn bytes(&mut self) -> Result<&'a [u8], WireError> {
        let len = self.varint()?;
        let left = (self.buf.len() - self.pos) as u64;
        if len > left {
            return Err(self.truncated());
        }
        let start = self.pos;
        self.pos += len as usize;
        Ok(&self.buf[start..self.pos])
    }

    fn skip(&mut self, wire: u8) -> Result<(), WireError> {
        let n = match wire {
            VARINT => return self.varint().map(|_| ()),
            LEN => return self.bytes().map(|_| ()),
            I64 => 8,
            I32 => 4,
            _ => {
                return Err(WireError::Malformed {
                    index: self.index,
                    reason: "unknown wire type",
                })
            }
        };
        if self.buf.len() - self.pos < n {
            return Err(self.truncated());
        }
        self.pos += n;
        Ok(())
    }
}

fn expected_wire(ty: ColumnType) -> u8 {
    match ty {
        ColumnType::String | ColumnType::Dynamic => LEN,
        _ => VARINT,
    }
}

/// One decoded cell, borrowing text from the input.
#[derive(Debug, Clone, PartialEq)]
pub enum CellRef<'a> {
    String(&'a str),
    Dynamic(Dynamic),
    Long(i64),
    Int(i32),
    Bool(bool),
    DateTime(Timestamp),
}

impl From<CellRef<'_>> for Value {
    fn from(c: CellRef<'_>) -> Value {
        match c {
            CellRef::String(s) => Value::String(s.to_string()),
            CellRef::Dynamic(d) => Value::Dynamic(d),
            CellRef::Long(n) => Value::Long(n),
            CellRef::Int(n) => Value::Int(n),
            CellRef::Bool(b) => Value::Bool(b),
            CellRef::DateTime(t) => Value::DateTime(t),
        }
    }
}

/// Receives the cells of one event as they are decoded: `table` starts a table message (a
/// later one replaces an earlier one, as protobuf's `oneof` does), then `cell` per column
/// present (a repeated column: the last one wins). Values match their column's type.
pub trait CellSink<'a> {
    fn table(&mut self, table: Table);
    fn cell(&mut self, col: Col, value: CellRef<'a>);
}

fn visit_table_message<'a>(
    table: Table,
    r: &mut Reader<'a>,
    index: usize,
    sink: &mut impl CellSink<'a>,
) -> Result<(), WireError> {
    sink.table(table);
    while !r.done() {
        let key = r.varint()?;
        let (field, wire) = (key >> 3, (key & 7) as u8);
        let col = u16::try_from(field)
            .ok()
            .and_then(Col::from_id)
            .filter(|c| table.has(*c));
        let Some(col) = col else {
            r.skip(wire)?;
            continue;
        };
        let expected = expected_wire(col.ty());
        if wire != expected {
            return Err(WireError::WireType {
                index,
                column: col.name(),
                found: wire,
                expected,
            });
        }
        let value = match col.ty() {
            ColumnType::String => {
                let b = r.bytes()?;
                CellRef::String(std::str::from_utf8(b).map_err(|_| WireError::Utf8 {
                    index,
                    column: col.name(),
                })?)
            }
            ColumnType::Dynamic => {
                let b = r.bytes()?;
                let s = std::str::from_utf8(b).map_err(|_| WireError::Utf8 {
                    index,
                    column: col.name(),
                })?;
                CellRef::Dynamic(Dynamic::parse_json(s).map_err(|reason| WireError::Json {
                    index,
                    column: col.name(),
                    reason,
                })?)
            }
            ColumnType::Long => CellRef::Long(unzigzag(r.varint()?)),
            ColumnType::DateTime => CellRef::DateTime(Timestamp(unzigzag(r.varint()?))),
            ColumnType::Int => {
                let v = unzigzag(r.varint()?);
                CellRef::Int(i32::try_from(v).map_err(|_| WireError::Range {
                    index,
                    column: col.name(),
                    value: v,
                })?)
            }
            ColumnType::Bool => CellRef::Bool(r.varint()? != 0),
        };
        sink.cell(col, value);
    }
    Ok(())
}

/// Decode one `Event` message (without its length prefix) into `sink`; returns its table.
/// `index` names the event in errors.
pub fn visit_event<'a>(
    buf: &'a [u8],
    index: usize,
    sink: &mut impl CellSink<'a>,
) -> Result<Table, WireError> {
    let mut r = Reader {
        buf,
        pos: 0,
        base: 0,
        index,
    };
    let mut last = None;
    while !r.done() {
        let key = r.varint()?;
        let (field, wire) = (key >> 3, (key & 7) as u8);
        let table = u16::try_from(field).ok().and_then(Table::from_id);
        let Some(table) = table else {
            return Err(WireError::UnknownTable {
                index,
                table: field,
            });
        };
        if wire != LEN {
            return Err(WireError::Malformed {
                index,
                reason: "table message is not length-delimited",
            });
        }
        let base = r.pos;
        let inner = r.bytes()?;
        let mut ir = Reader {
            buf: inner,
            pos: 0,
            base: base + varint_len(inner.len() as u64),
            index,
        };
        visit_table_message(table, &mut ir, index, sink)?;
        last = Some(table);
    }
    last.ok_or(WireError::Malformed {
        index,
        reason: "empty event",
    })
}

/// The table of an event, read from its first field without decoding the rest (`None` when
/// the event does not start with a known table).
pub fn peek_table(event: &[u8]) -> Option<Table> {
    let mut r = Reader {
        buf: event,
        pos: 0,
        base: 0,
        index: 0,
    };
    let key = r.varint().ok()?;
    u16::try_from(key >> 3).ok().and_then(Table::from_id)
}

struct RowSink(Option<Row>);

impl<'a> CellSink<'a> for RowSink {
    fn table(&mut self, table: Table) {
        self.0 = Some(Row::new(table));
    }
    fn cell(&mut self, col: Col, value: CellRef<'a>) {
        if let Some(row) = &mut self.0 {
            // The value's type was chosen from the column's, so this cannot mismatch.
            row.put(col, Value::from(value));
        }
    }
}

/// Decode one `Event` message (without its length prefix). `index` names it in errors.
pub fn decode_event(buf: &[u8], index: usize) -> Result<Row, WireError> {
    let mut sink = RowSink(None);
    visit_event(buf, index, &mut sink)?;
    sink.0.ok_or(WireError::Malformed {
        index,
        reason: "empty event",
    })
}

/// A batch of length-delimited events with the offset of each, so that runs of events can be
/// sliced out (for the write-ahead log) or decoded one by one, without decoding them all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WireEvents {
    bytes: Vec<u8>,
    /// `offsets[i]..offsets[i + 1]` is event `i` with its length prefix; `len() + 1` entries.
    offsets: Vec<usize>,
    /// Where each event's message starts, after its length prefix.
    bodies: Vec<usize>,
}

impl WireEvents {
    /// Split `bytes` into events, checking only the framing (lengths); at most `max_events`.
    pub fn split(bytes: Vec<u8>, max_events: usize) -> Result<WireEvents, WireError> {
        let mut offsets = vec![0];
        let mut bodies = Vec::new();
        let mut r = Reader {
            buf: &bytes,
            pos: 0,
            base: 0,
            index: 0,
        };
        while !r.done() {
            if bodies.len() == max_events {
                return Err(WireError::TooMany { max: max_events });
            }
            r.index = bodies.len();
            let start = r.pos;
            let len = r.varint()?;
            if len as usize > MAX_EVENT_BYTES {
                return Err(WireError::TooLarge {
                    index: bodies.len(),
                    size: len as usize,
                    max: MAX_EVENT_BYTES,
                });
            }
            r.pos = start;
            let event = r.bytes()?;
            bodies.push(r.pos - event.len());
            offsets.push(r.pos);
        }
        Ok(WireEvents {
            bytes,
            offsets,
            bodies,
        })
    }

    /// Encode `rows`.
    pub fn from_rows(rows: &[Row]) -> WireEvents {
        WireEvents::split(encode_batch(rows), usize::MAX)
            .expect("an encoded batch has valid framing")
    }

    pub fn len(&self) -> usize {
        self.bodies.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bodies.is_empty()
    }

    /// Event `i`'s message, without its length prefix.
    pub fn event(&self, i: usize) -> &[u8] {
        &self.bytes[self.bodies[i]..self.offsets[i + 1]]
    }

    /// Events `range` as a length-delimited batch (what `encode_batch` would give for them).
    pub fn delimited(&self, range: std::ops::Range<usize>) -> &[u8] {
        &self.bytes[self.offsets[range.start]..self.offsets[range.end]]
    }

    /// The whole batch.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Decode every event into rows.
    pub fn decode_rows(&self) -> Result<Vec<Row>, WireError> {
        (0..self.len())
            .map(|i| decode_event(self.event(i), i))
            .collect()
    }
}

/// Decode a batch of length-prefixed events; more than `max_events` is an error.
pub fn decode_batch(buf: &[u8], max_events: usize) -> Result<Vec<Row>, WireError> {
    WireEvents::split(buf.to_vec(), max_events)?.decode_rows()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Row {
        let mut row = Row::event(
            Table::DeviceProcessEvents,
            "ProcessCreated",
            Timestamp(1_764_000_000_123_456_789),
        );
        row.put(Col::DeviceId, "dev-1");
        row.put(Col::ProcessId, -42i64);
        row.put(Col::ProcessCommandLine, "sh -c 'écho \"x\"'");
        row.put(Col::ReportId, i64::MAX);
        row.put_extra("argv_truncated", true);
        row.put_extra("nested", vec![1i64, -2, 3]);
        row
    }

    #[test]
    fn rows_round_trip_through_a_batch() {
        let mut net = Row::event(
            Table::DeviceNetworkEvents,
            "ConnectionSuccess",
            Timestamp(-5),
        );
        net.put(Col::RemotePort, 443i32);
        net.put(Col::RemoteIP, "::1");
        let rows = vec![sample(), net, Row::new(Table::DeviceInfo)];
        let bytes = encode_batch(&rows);
        assert_eq!(bytes.len(), rows.iter().map(delimited_len).sum::<usize>());
        assert_eq!(decode_batch(&bytes, 10).unwrap(), rows);
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        let bytes = encode_batch(&[sample(), sample()]);
        for cut in 1..bytes.len() {
            // A cut exactly between the two events is a valid one-event batch.
            let got = decode_batch(&bytes[..cut], 10);
            if cut == bytes.len() / 2 {
                assert_eq!(got.unwrap().len(), 1);
            } else {
                assert!(got.is_err(), "cut at {cut} decoded");
            }
        }
    }

    #[test]
    fn wrong_wire_type_and_bad_text_are_named() {
        let event = |inner: &[u8]| {
            let mut ev = Vec::new();
            put_key(&mut ev, 1, LEN);
            put_varint(&mut ev, inner.len() as u64);
            ev.extend_from_slice(inner);
            ev
        };
        // DeviceProcessEvents { ProcessId (31) as a length-delimited field }
        let mut inner = Vec::new();
        put_key(&mut inner, 31, LEN);
        inner.extend_from_slice(&[1, b'x']);
        let err = decode_event(&event(&inner), 0).unwrap_err();
        assert!(err.to_string().contains("ProcessId"), "{err}");

        // FileName (20) with invalid UTF-8
        let mut inner = Vec::new();
        put_key(&mut inner, 20, LEN);
        inner.extend_from_slice(&[2, 0xff, 0xfe]);
        assert!(matches!(
            decode_event(&event(&inner), 3),
            Err(WireError::Utf8 { index: 3, .. })
        ));

        // Unknown table 99
        let mut ev = Vec::new();
        put_key(&mut ev, 99, LEN);
        ev.push(0);
        assert!(matches!(
            decode_event(&ev, 0),
            Err(WireError::UnknownTable { table: 99, .. })
        ));
    }

    #[test]
    fn unknown_columns_are_skipped() {
        // DeviceProcessEvents { field 9999: varint 7, ActionType (4): "x" }
        let mut inner = Vec::new();
        put_key(&mut inner, 9999, VARINT);
        put_varint(&mut inner, 7);
        put_key(&mut inner, 4, LEN);
        put_varint(&mut inner, 1);
        inner.push(b'x');
        let mut ev = Vec::new();
        put_key(&mut ev, 1, LEN);
        put_varint(&mut ev, inner.len() as u64);
        ev.extend_from_slice(&inner);
        let row = decode_event(&ev, 0).unwrap();
        assert_eq!(row.get_str(Col::ActionType), Some("x"));
    }

    #[test]
    fn batch_limits_hold() {
        let bytes = encode_batch(&[sample(), sample(), sample()]);
        assert_eq!(decode_batch(&bytes, 2), Err(WireError::TooMany { max: 2 }));
        let mut huge = Vec::new();
        put_varint(&mut huge, (MAX_EVENT_BYTES + 1) as u64);
        assert!(matches!(
            decode_batch(&huge, 2),
            Err(WireError::TooLarge { .. })
        ));
    }
}
