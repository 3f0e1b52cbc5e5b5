//! The hot buffer: rows not yet in Parquet, per table, as small Arrow record batches.
//!
//! Each append adds at most one batch per table, tagged with the WAL position (`lsn`) of its
//! record and the WAL generation it belongs to. Queries see a batch once its record is durable
//! (`lsn ≤ durable`); a flush takes the batches of the generations it closed; a failed fsync
//! removes the batches after the last durable position. Many small durable batches are merged
//! from time to time so that queries do not pay per-batch overhead.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanBuilder, Int32Builder, Int64Builder, RecordBatch, StringBuilder,
    TimestampNanosecondBuilder,
};
use arrow::datatypes::SchemaRef;
use arrow::error::ArrowError;
use vigil_schema::{ColumnType, Row, Table, Timestamp, Value};

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
}

impl HotTable {
    pub fn push(&mut self, batch: HotBatch) {
        self.rows += batch.batch.num_rows();
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

/// The rows of one table as a record batch in the table's Arrow schema, with the smallest and
/// largest `Timestamp`. Every row must belong to `table`; a cell whose value does not fit its
/// column (which `Row` prevents) is stored as null.
pub(crate) fn build_batch(
    table: Table,
    schema: &SchemaRef,
    rows: &[&Row],
) -> Result<(RecordBatch, i64, i64), ArrowError> {
    let n = rows.len();
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(table.columns().len());
    for (i, col) in table.columns().iter().enumerate() {
        let cells = rows.iter().map(|r| &r.values()[i]);
        let array: ArrayRef = match col.ty() {
            ColumnType::String => {
                let mut b = StringBuilder::with_capacity(n, n * 8);
                for v in cells {
                    b.append_option(v.as_str());
                }
                Arc::new(b.finish())
            }
            ColumnType::Dynamic => {
                let mut b = StringBuilder::with_capacity(n, n * 8);
                for v in cells {
                    match v {
                        Value::Dynamic(d) => b.append_value(d.to_json()),
                        _ => b.append_null(),
                    }
                }
                Arc::new(b.finish())
            }
            ColumnType::Long => {
                let mut b = Int64Builder::with_capacity(n);
                for v in cells {
                    b.append_option(match v {
                        Value::Long(x) => Some(*x),
                        _ => None,
                    });
                }
                Arc::new(b.finish())
            }
            ColumnType::Int => {
                let mut b = Int32Builder::with_capacity(n);
                for v in cells {
                    b.append_option(match v {
                        Value::Int(x) => Some(*x),
                        _ => None,
                    });
                }
                Arc::new(b.finish())
            }
            ColumnType::Bool => {
                let mut b = BooleanBuilder::with_capacity(n);
                for v in cells {
                    b.append_option(match v {
                        Value::Bool(x) => Some(*x),
                        _ => None,
                    });
                }
                Arc::new(b.finish())
            }
            ColumnType::DateTime => {
                let mut b = TimestampNanosecondBuilder::with_capacity(n).with_timezone("UTC");
                for v in cells {
                    b.append_option(match v {
                        Value::DateTime(t) => Some(t.nanos()),
                        _ => None,
                    });
                }
                Arc::new(b.finish())
            }
        };
        columns.push(array);
    }
    let batch = RecordBatch::try_new(schema.clone(), columns)?;
    let (mut min, mut max) = (i64::MAX, i64::MIN);
    for r in rows {
        let t = r.timestamp().nanos();
        min = min.min(t);
        max = max.max(t);
    }
    Ok((batch, min, max))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::{Int32Type, TimestampNanosecondType};
    use vigil_schema::{arrow::arrow_schema, Col, Dynamic};

    #[test]
    fn rows_become_typed_columns() {
        let table = Table::DeviceNetworkEvents;
        let mut r = Row::event(table, "ConnectionSuccess", Timestamp(42));
        r.set(Col::RemotePort, 443).unwrap();
        r.set(Col::RemoteIP, "10.0.0.1").unwrap();
        let mut extra = Dynamic::object();
        extra.insert("k", 1i64);
        r.set(Col::AdditionalFields, extra).unwrap();
        let empty = Row::event(table, "ConnectionFailed", Timestamp(7));
        let schema = arrow_schema(table);
        let (batch, min, max) = build_batch(table, &schema, &[&r, &empty]).unwrap();
        assert_eq!((batch.num_rows(), min, max), (2, 7, 42));
        let port = batch.column_by_name("RemotePort").unwrap();
        assert_eq!(port.as_primitive::<Int32Type>().value(0), 443);
        assert!(port.is_null(1));
        let extra = batch.column_by_name("AdditionalFields").unwrap();
        assert_eq!(extra.as_string::<i32>().value(0), r#"{"k":1}"#);
        let ts = batch.column_by_name("Timestamp").unwrap();
        assert_eq!(ts.as_primitive::<TimestampNanosecondType>().value(1), 7);
    }

    fn hot(table: Table, lsn: u64, generation: u64, rows: usize) -> HotBatch {
        let rows: Vec<Row> = (0..rows)
            .map(|i| Row::event(table, "ProcessCreated", Timestamp(i as i64)))
            .collect();
        let refs: Vec<&Row> = rows.iter().collect();
        let (batch, min_ts, max_ts) = build_batch(table, &arrow_schema(table), &refs).unwrap();
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
