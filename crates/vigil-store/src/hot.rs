//! The hot buffer: rows not yet in Parquet, per table, as small Arrow record batches.
//!
//! Each append adds at most one batch per table, tagged with the WAL position (`lsn`) of its
//! record and the WAL generation it belongs to. Queries see a batch once its record is durable
//! (`lsn ≤ durable`); a flush takes the batches of the generations it closed; a failed fsync
//! removes the batches after the last durable position. Many small durable batches are merged
//! from time to time so that queries do not pay per-batch overhead.

use std::fmt::Write as _;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanBuilder, Int32Builder, Int64Builder, RecordBatch, StringBuilder,
    TimestampNanosecondBuilder,
};
use arrow::datatypes::SchemaRef;
use arrow::error::ArrowError;
use vigil_schema::arrow::arrow_schema;

use crate::query::table_index;
use vigil_schema::wire::{self, CellRef, CellSink};
use vigil_schema::{Col, ColumnType, Table, Timestamp};

/// Batches smaller than this are merged with their neighbours.
pub(crate) const SMALL_BATCH_ROWS: usize = 512;
/// Merged batches grow to about this many rows.
const MERGED_ROWS: usize = 16 * 1024;
/// Merge when a table has this many small batches.
pub(crate) const COALESCE_AT: usize = 64;

/// One batch of hot rows.
#[derive(Debug, Clone)]
pub(crate) struct HotBatch {
    pub batch: RecordBatch,
    /// WAL generation (the flush that will write it out takes generations below its own).
    pub generation: u64,
    /// WAL position of the record that stored it (the highest, for a merged batch).
    pub lsn: u64,
    /// When the oldest row arrived.
    pub arrival: Timestamp,
    pub min_ts: i64,
    pub max_ts: i64,
}

/// The hot batches of one table.
#[derive(Debug, Default)]
pub(crate) struct HotTable {
    pub batches: Vec<HotBatch>,
    pub rows: usize,
    /// Memory held by the batches.
    pub bytes: usize,
}

impl HotTable {
    pub fn push(&mut self, batch: HotBatch) {
        self.rows += batch.batch.num_rows();
        self.bytes += batch.batch.get_array_memory_size();
        self.batches.push(batch);
    }

    /// Drop the batches of records after `durable` (their fsync failed).
    pub fn rollback(&mut self, durable: u64) {
        self.batches.retain(|b| b.lsn <= durable);
        self.recount();
    }

    /// Drop the batches of generations below `limit` (they are in Parquet now).
    pub fn remove_flushed(&mut self, limit: u64) {
        self.batches.retain(|b| b.generation >= limit);
        self.recount();
    }

    fn recount(&mut self) {
        self.rows = self.batches.iter().map(|b| b.batch.num_rows()).sum();
        self.bytes = self
            .batches
            .iter()
            .map(|b| b.batch.get_array_memory_size())
            .sum();
    }

    pub fn oldest_arrival(&self) -> Option<Timestamp> {
        self.batches.iter().map(|b| b.arrival).min()
    }

    /// Whether enough small durable batches piled up to be worth merging.
    pub fn wants_coalesce(&self, durable: u64) -> bool {
        self.batches
            .iter()
            .filter(|b| b.lsn <= durable && b.batch.num_rows() < SMALL_BATCH_ROWS)
            .count()
            >= COALESCE_AT
    }

    /// Groups of small durable batches of one generation to merge, each listed by `lsn`.
    pub fn coalesce_plan(&self, durable: u64) -> Vec<Vec<HotBatch>> {
        let mut groups: Vec<Vec<HotBatch>> = Vec::new();
        let mut cur: Vec<HotBatch> = Vec::new();
        let mut cur_rows = 0;
        for b in &self.batches {
            let small = b.lsn <= durable && b.batch.num_rows() < SMALL_BATCH_ROWS;
            let same_gen = cur.first().is_none_or(|f| f.generation == b.generation);
            if !small || !same_gen || cur_rows >= MERGED_ROWS {
                if cur.len() > 1 {
                    groups.push(std::mem::take(&mut cur));
                }
                cur.clear();
                cur_rows = 0;
            }
            if small {
                cur_rows += b.batch.num_rows();
                cur.push(b.clone());
            }
        }
        if cur.len() > 1 {
            groups.push(cur);
        }
        groups
    }

    /// Replace the batches of `group` by `merged`, if they are all still here (a flush may have
    /// taken them meanwhile). Batches are identified by `lsn`, unique within a table.
    pub fn replace(&mut self, group: &[HotBatch], merged: HotBatch) -> bool {
        let present = group.iter().all(|g| {
            self.batches
                .iter()
                .any(|b| b.lsn == g.lsn && b.generation == g.generation)
        });
        if !present {
            return false;
        }
        self.batches.retain(|b| {
            !group
                .iter()
                .any(|g| g.lsn == b.lsn && g.generation == b.generation)
        });
        self.batches.push(merged);
        self.batches.sort_by_key(|b| b.lsn);
        self.recount();
        true
    }
}

/// Merge a group of hot batches into one.
pub(crate) fn merge(schema: &SchemaRef, group: &[HotBatch]) -> Result<HotBatch, ArrowError> {
    let batch = arrow::compute::concat_batches(schema, group.iter().map(|b| &b.batch))?;
    Ok(HotBatch {
        batch,
        generation: group[0].generation,
        lsn: group.iter().map(|b| b.lsn).max().unwrap_or(0),
        arrival: group.iter().map(|b| b.arrival).min().unwrap_or_default(),
        min_ts: group.iter().map(|b| b.min_ts).min().unwrap_or(i64::MIN),
        max_ts: group.iter().map(|b| b.max_ts).max().unwrap_or(i64::MAX),
    })
}

/// Builds hot batches straight from wire-encoded events: cells go from the decoder into one
/// Arrow builder per column, with no `Row` in between. `DeviceId` is the batch's (whatever the
/// events claim) and every event must carry a `Timestamp`.
pub(crate) struct HotBuilder<'a> {
    device_id: &'a str,
    tables: Vec<Option<TableBuilder>>,
    /// The event being decoded: its table and its cells by column position.
    current: Option<Table>,
    cells: Vec<Option<CellRef<'a>>>,
}

struct TableBuilder {
    columns: Vec<ColumnBuilder>,
    min_ts: i64,
    max_ts: i64,
}

enum ColumnBuilder {
    String(StringBuilder),
    Long(Int64Builder),
    Int(Int32Builder),
    Bool(BooleanBuilder),
    DateTime(TimestampNanosecondBuilder),
}

impl ColumnBuilder {
    fn new(ty: ColumnType) -> ColumnBuilder {
        match ty {
            ColumnType::String | ColumnType::Dynamic => {
                ColumnBuilder::String(StringBuilder::with_capacity(1024, 16 * 1024))
            }
            ColumnType::Long => ColumnBuilder::Long(Int64Builder::with_capacity(1024)),
            ColumnType::Int => ColumnBuilder::Int(Int32Builder::with_capacity(1024)),
            ColumnType::Bool => ColumnBuilder::Bool(BooleanBuilder::with_capacity(1024)),
            ColumnType::DateTime => ColumnBuilder::DateTime(
                TimestampNanosecondBuilder::with_capacity(1024).with_timezone("UTC"),
            ),
        }
    }

    /// Append `cell`, or a null for a missing cell (or one whose type does not fit, which the
    /// decoder prevents).
    fn append(&mut self, cell: Option<&CellRef<'_>>) {
        match (self, cell) {
            (ColumnBuilder::String(b), Some(CellRef::String(s))) => b.append_value(s),
            (ColumnBuilder::String(b), Some(CellRef::Dynamic(d))) => {
                // Canonical JSON written straight into the builder's buffer.
                let _ = write!(b, "{d}");
                b.append_value("");
            }
            (ColumnBuilder::String(b), _) => b.append_null(),
            (ColumnBuilder::Long(b), c) => b.append_option(match c {
                Some(CellRef::Long(x)) => Some(*x),
                _ => None,
            }),
            (ColumnBuilder::Int(b), c) => b.append_option(match c {
                Some(CellRef::Int(x)) => Some(*x),
                _ => None,
            }),
            (ColumnBuilder::Bool(b), c) => b.append_option(match c {
                Some(CellRef::Bool(x)) => Some(*x),
                _ => None,
            }),
            (ColumnBuilder::DateTime(b), c) => b.append_option(match c {
                Some(CellRef::DateTime(t)) => Some(t.nanos()),
                _ => None,
            }),
        }
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            ColumnBuilder::String(b) => Arc::new(b.finish()),
            ColumnBuilder::Long(b) => Arc::new(b.finish()),
            ColumnBuilder::Int(b) => Arc::new(b.finish()),
            ColumnBuilder::Bool(b) => Arc::new(b.finish()),
            ColumnBuilder::DateTime(b) => Arc::new(b.finish()),
        }
    }
}

impl<'a> CellSink<'a> for HotBuilder<'a> {
    fn table(&mut self, table: Table) {
        self.current = Some(table);
        self.cells.iter_mut().for_each(|c| *c = None);
    }

    fn cell(&mut self, col: Col, value: CellRef<'a>) {
        if let Some(pos) = self.current.and_then(|t| t.position(col)) {
            self.cells[pos] = Some(value);
        }
    }
}

impl<'a> HotBuilder<'a> {
    pub fn new(device_id: &'a str) -> HotBuilder<'a> {
        let widest = Table::ALL
            .iter()
            .map(|t| t.columns().len())
            .max()
            .unwrap_or(0);
        HotBuilder {
            device_id,
            tables: (0..Table::ALL.len()).map(|_| None).collect(),
            current: None,
            cells: vec![None; widest],
        }
    }

    /// Decode event `index` (a message without its length prefix) and append it.
    pub fn add(&mut self, event: &'a [u8], index: usize) -> Result<(), String> {
        let table = wire::visit_event(event, index, self).map_err(|e| e.to_string())?;
        let ts_pos = table.position(Col::Timestamp);
        let ts = match ts_pos.and_then(|p| self.cells[p].as_ref()) {
            Some(CellRef::DateTime(t)) => t.nanos(),
            _ => return Err(format!("row {index} ({}) has no Timestamp", table.name())),
        };
        let slot = &mut self.tables[table_index(table)];
        let tb = slot.get_or_insert_with(|| TableBuilder {
            columns: table
                .columns()
                .iter()
                .map(|c| ColumnBuilder::new(c.ty()))
                .collect(),
            min_ts: i64::MAX,
            max_ts: i64::MIN,
        });
        tb.min_ts = tb.min_ts.min(ts);
        tb.max_ts = tb.max_ts.max(ts);
        let device = CellRef::String(self.device_id);
        for ((col, b), cell) in table.columns().iter().zip(&mut tb.columns).zip(&self.cells) {
            if *col == Col::DeviceId {
                b.append(Some(&device));
            } else {
                b.append(cell.as_ref());
            }
        }
        Ok(())
    }

    /// The record batches built, one per table that had events, with their smallest and
    /// largest `Timestamp`.
    pub fn finish(self) -> Result<Vec<(Table, RecordBatch, i64, i64)>, ArrowError> {
        let mut out = Vec::new();
        for (i, tb) in self.tables.into_iter().enumerate() {
            let Some(mut tb) = tb else { continue };
            let table = Table::ALL[i];
            let columns = tb.columns.iter_mut().map(ColumnBuilder::finish).collect();
            let batch = RecordBatch::try_new(schema_of(table).clone(), columns)?;
            out.push((table, batch, tb.min_ts, tb.max_ts));
        }
        Ok(out)
    }
}

/// The Arrow schema of a table, built once.
pub(crate) fn schema_of(table: Table) -> &'static SchemaRef {
    static SCHEMAS: std::sync::OnceLock<Vec<SchemaRef>> = std::sync::OnceLock::new();
    &SCHEMAS.get_or_init(|| Table::ALL.iter().map(|&t| arrow_schema(t)).collect())
        [table_index(table)]
}

/// Rows as one record batch per table.
#[cfg(test)]
pub(crate) fn batches_of_rows(
    device_id: &str,
    rows: &[vigil_schema::Row],
) -> Result<Vec<(Table, RecordBatch, i64, i64)>, String> {
    let events = wire::WireEvents::from_rows(rows);
    let mut b = HotBuilder::new(device_id);
    for i in 0..events.len() {
        b.add(events.event(i), i)?;
    }
    b.finish().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::{Int32Type, TimestampNanosecondType};
    use vigil_schema::{arrow::arrow_schema, Col, Dynamic, Row};

    #[test]
    fn rows_become_typed_columns() {
        let table = Table::DeviceNetworkEvents;
        let mut r = Row::event(table, "ConnectionSuccess", Timestamp(42));
        r.set(Col::RemotePort, 443).unwrap();
        r.set(Col::RemoteIP, "10.0.0.1").unwrap();
        r.set(Col::DeviceId, "claimed-by-the-event").unwrap();
        let mut extra = Dynamic::object();
        extra.insert("k", 1i64);
        r.set(Col::AdditionalFields, extra).unwrap();
        let empty = Row::event(table, "ConnectionFailed", Timestamp(7));
        let mut parts = batches_of_rows("dev-1", &[r.clone(), empty]).unwrap();
        assert_eq!(parts.len(), 1);
        let (t, batch, min, max) = parts.remove(0);
        assert_eq!((t, batch.num_rows(), min, max), (table, 2, 7, 42));
        let port = batch.column_by_name("RemotePort").unwrap();
        assert_eq!(port.as_primitive::<Int32Type>().value(0), 443);
        assert!(port.is_null(1));
        let extra = batch.column_by_name("AdditionalFields").unwrap();
        assert_eq!(extra.as_string::<i32>().value(0), r#"{"k":1}"#);
        assert!(extra.is_null(1));
        let ts = batch.column_by_name("Timestamp").unwrap();
        assert_eq!(ts.as_primitive::<TimestampNanosecondType>().value(1), 7);
        // The batch's device, not the event's claim.
        let dev = batch.column_by_name("DeviceId").unwrap().as_string::<i32>();
        assert_eq!((dev.value(0), dev.value(1)), ("dev-1", "dev-1"));
    }

    #[test]
    fn events_of_several_tables_split_and_a_missing_timestamp_is_refused() {
        let p = Row::event(Table::DeviceProcessEvents, "ProcessCreated", Timestamp(5));
        let f = Row::event(Table::DeviceFileEvents, "FileCreated", Timestamp(9));
        let parts = batches_of_rows("d", &[p.clone(), f, p]).unwrap();
        let shape: Vec<(Table, usize)> = parts.iter().map(|p| (p.0, p.1.num_rows())).collect();
        assert_eq!(
            shape,
            vec![
                (Table::DeviceProcessEvents, 2),
                (Table::DeviceFileEvents, 1)
            ]
        );
        let no_ts = Row::new(Table::DeviceInfo);
        let err = batches_of_rows("d", &[no_ts]).unwrap_err();
        assert!(err.contains("row 0 (DeviceInfo) has no Timestamp"), "{err}");
    }

    fn hot(table: Table, lsn: u64, generation: u64, rows: usize) -> HotBatch {
        let rows: Vec<Row> = (0..rows)
            .map(|i| Row::event(table, "ProcessCreated", Timestamp(i as i64)))
            .collect();
        let (_, batch, min_ts, max_ts) = batches_of_rows("d", &rows).unwrap().remove(0);
        HotBatch {
            batch,
            generation,
            lsn,
            arrival: Timestamp(lsn as i64),
            min_ts,
            max_ts,
        }
    }

    #[test]
    fn coalescing_keeps_generations_apart_and_skips_undurable_batches() {
        let t = Table::DeviceProcessEvents;
        let schema = arrow_schema(t);
        let mut h = HotTable::default();
        for lsn in 1..=4 {
            h.push(hot(t, lsn, 0, 2));
        }
        for lsn in 5..=7 {
            h.push(hot(t, lsn, 1, 2));
        }
        // Record 7 is not durable yet.
        let plan = h.coalesce_plan(6);
        let lsns: Vec<Vec<u64>> = plan
            .iter()
            .map(|g| g.iter().map(|b| b.lsn).collect())
            .collect();
        assert_eq!(lsns, vec![vec![1, 2, 3, 4], vec![5, 6]]);
        for group in &plan {
            let merged = merge(&schema, group).unwrap();
            assert!(h.replace(group, merged));
        }
        assert_eq!(h.batches.len(), 3);
        assert_eq!(h.rows, 14);
        assert_eq!(h.oldest_arrival(), Some(Timestamp(1)));
        h.rollback(6);
        assert_eq!(h.rows, 12);
        h.remove_flushed(1);
        assert_eq!(h.rows, 4);
    }
}
