//! Parquet partitions: `tables/<Table>/day=YYYY-MM-DD/f<id>.parquet`, one directory per table
//! and UTC day of `Timestamp`.
//!
//! Every file is sorted by `Timestamp` (and says so in its metadata), zstd-compressed, with row
//! groups of 128 Ki rows, so the min/max statistics of a row group prune time filters. Files
//! are written under a `.tmp` name, fsynced and renamed; they only become live when the state
//! file lists them (see the crate docs). Compaction merges sorted files with a streaming k-way
//! merge, so memory stays at one record batch per input file.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use arrow::array::{new_null_array, Array, ArrayRef, AsArray, RecordBatch};
use arrow::compute::interleave;
use arrow::datatypes::{SchemaRef, TimestampNanosecondType};
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::SortingColumn;
use parquet::file::properties::WriterProperties;
use vigil_schema::{Table, Timestamp};

use crate::wal::sync_dir;
use crate::StoreError;

pub(crate) const NANOS_PER_DAY: i64 = 86_400 * 1_000_000_000;
/// Rows per Parquet row group.
pub(crate) const ROW_GROUP_ROWS: usize = 128 * 1024;
/// Rows per record batch when reading and merging.
const BATCH_ROWS: usize = 8192;

/// The UTC day (days since 1970-01-01) of a timestamp in nanoseconds.
pub(crate) fn day_of(ts: i64) -> i64 {
    ts.div_euclid(NANOS_PER_DAY)
}

/// `YYYY-MM-DD` of a day number.
pub(crate) fn day_name(day: i64) -> String {
    let s = Timestamp(day.saturating_mul(NANOS_PER_DAY)).to_string();
    s[..s.find('T').unwrap_or(s.len())].to_string()
}

/// The day number of `YYYY-MM-DD` (proleptic Gregorian), if it is one.
pub(crate) fn parse_day(s: &str) -> Option<i64> {
    let mut parts = s.splitn(3, '-');
    let y: i64 = parts.next()?.parse().ok()?;
    let m: u32 = parts.next()?.parse().ok()?;
    let d: u32 = parts.next()?.parse().ok()?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let day = days_from_civil(y, m, d);
    // Reject dates such as 2026-02-31 by formatting back.
    (day_name(day) == s).then_some(day)
}

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The directory of one table's day.
pub(crate) fn day_dir(tables_dir: &Path, table: Table, day: i64) -> PathBuf {
    tables_dir
        .join(table.name())
        .join(format!("day={}", day_name(day)))
}

/// The name of file `id`.
pub(crate) fn file_name(id: u64) -> String {
    format!("f{id:012}.parquet")
}

/// A live Parquet file. When it has been removed from the manifest (`retire`), the file is
/// deleted as soon as the last holder — the store's view or a running query — lets go.
#[derive(Debug)]
pub(crate) struct FileEntry {
    pub table: Table,
    pub day: i64,
    pub name: String,
    pub path: PathBuf,
    pub rows: u64,
    pub bytes: u64,
    pub min_ts: i64,
    pub max_ts: i64,
    retired: AtomicBool,
}

impl FileEntry {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        tables_dir: &Path,
        table: Table,
        day: i64,
        name: String,
        rows: u64,
        bytes: u64,
        min_ts: i64,
        max_ts: i64,
    ) -> FileEntry {
        FileEntry {
            path: day_dir(tables_dir, table, day).join(&name),
            table,
            day,
            name,
            rows,
            bytes,
            min_ts,
            max_ts,
            retired: AtomicBool::new(false),
        }
    }

    /// The entry of a file just written.
    pub fn written(tables_dir: &Path, table: Table, day: i64, name: String, w: &Written) -> Self {
        FileEntry::new(
            tables_dir, table, day, name, w.rows, w.bytes, w.min_ts, w.max_ts,
        )
    }

    /// Delete the file once nothing holds it any more.
    pub fn retire(&self) {
        self.retired.store(true, Ordering::Release);
    }
}

impl Drop for FileEntry {
    fn drop(&mut self) {
        if *self.retired.get_mut() {
            if let Err(e) = fs::remove_file(&self.path) {
                if e.kind() != std::io::ErrorKind::NotFound {
                    tracing::warn!(file = %self.path.display(), "cannot delete a superseded parquet file: {e}");
                }
            }
        }
    }
}

fn writer_props(ts_index: usize) -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(1).unwrap_or_default()))
        .set_max_row_group_size(ROW_GROUP_ROWS)
        .set_sorting_columns(Some(vec![SortingColumn {
            column_idx: ts_index as i32,
            descending: false,
            nulls_first: false,
        }]))
        .build()
}

fn ts_values(batch: &RecordBatch, ts_index: usize) -> &[i64] {
    batch
        .column(ts_index)
        .as_primitive::<TimestampNanosecondType>()
        .values()
}

/// Rows per chunk when gathering sorted rows.
const GATHER_ROWS: usize = 64 * 1024;

/// Rows of `batches` picked by `(batch, row)` indices, as one batch. Columns that are null in
/// every input are made as null arrays without looking at the indices (most columns of a
/// table are empty for most rows).
pub(crate) fn gather(
    schema: &SchemaRef,
    batches: &[&RecordBatch],
    indices: &[(usize, usize)],
) -> Result<RecordBatch, StoreError> {
    let arrow_err = |source| StoreError::Arrow {
        action: "gather rows",
        source,
    };
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
    for (c, field) in schema.fields().iter().enumerate() {
        let all_null = batches
            .iter()
            .all(|b| b.column(c).null_count() == b.num_rows());
        if all_null {
            columns.push(new_null_array(field.data_type(), indices.len()));
            continue;
        }
        let arrays: Vec<&dyn Array> = batches.iter().map(|b| b.column(c).as_ref()).collect();
        columns.push(interleave(&arrays, indices).map_err(arrow_err)?);
    }
    RecordBatch::try_new(schema.clone(), columns).map_err(arrow_err)
}

/// Hot rows ordered by `Timestamp` and split by UTC day, without copying them until a chunk
/// is asked for.
pub(crate) struct SortedRows<'a> {
    schema: SchemaRef,
    batches: Vec<&'a RecordBatch>,
    /// (timestamp, batch, row), sorted.
    keys: Vec<(i64, u32, u32)>,
    /// (day, start, end) ranges of `keys`.
    days: Vec<(i64, usize, usize)>,
}

impl<'a> SortedRows<'a> {
    pub fn new(schema: &SchemaRef, batches: &'a [RecordBatch], ts_index: usize) -> Self {
        let mut keys = Vec::with_capacity(batches.iter().map(|b| b.num_rows()).sum());
        for (b, batch) in batches.iter().enumerate() {
            for (r, &t) in ts_values(batch, ts_index).iter().enumerate() {
                keys.push((t, b as u32, r as u32));
            }
        }
        // Agents send in time order, so this is usually a merge of sorted runs.
        keys.sort();
        let mut days = Vec::new();
        let mut start = 0;
        while start < keys.len() {
            let day = day_of(keys[start].0);
            let next = (day + 1).saturating_mul(NANOS_PER_DAY);
            let end = start + keys[start..].partition_point(|k| k.0 < next);
            days.push((day, start, end));
            start = end;
        }
        SortedRows {
            schema: schema.clone(),
            batches: batches.iter().collect(),
            keys,
            days,
        }
    }

    /// `(day, first key, end key)` per day present, in order.
    pub fn days(&self) -> &[(i64, usize, usize)] {
        &self.days
    }

    /// The rows of keys `start..end`, in chunks.
    pub fn chunks(
        &self,
        start: usize,
        end: usize,
    ) -> impl Iterator<Item = Result<RecordBatch, StoreError>> + '_ {
        (start..end).step_by(GATHER_ROWS).map(move |s| {
            let e = (s + GATHER_ROWS).min(end);
            let indices: Vec<(usize, usize)> = self.keys[s..e]
                .iter()
                .map(|&(_, b, r)| (b as usize, r as usize))
                .collect();
            gather(&self.schema, &self.batches, &indices)
        })
    }
}

/// Make `batch` fit `schema`: columns by name, missing ones null (files written by an older
/// schema).
pub(crate) fn conform(batch: RecordBatch, schema: &SchemaRef) -> Result<RecordBatch, StoreError> {
    if batch.schema() == *schema {
        return Ok(batch);
    }
    let columns: Vec<ArrayRef> = schema
        .fields()
        .iter()
        .map(|f| match batch.column_by_name(f.name()) {
            Some(c) if c.data_type() == f.data_type() => c.clone(),
            _ => new_null_array(f.data_type(), batch.num_rows()),
        })
        .collect();
    RecordBatch::try_new(schema.clone(), columns).map_err(|source| StoreError::Arrow {
        action: "adapt an old file to the schema",
        source,
    })
}

/// Summary of a written file.
pub(crate) struct Written {
    pub rows: u64,
    pub bytes: u64,
    pub min_ts: i64,
    pub max_ts: i64,
}

/// Write sorted batches to `dir/name` (through `name.tmp`, fsynced, renamed, directory
/// fsynced). The batches must be sorted by `Timestamp` across the whole stream.
pub(crate) fn write_file(
    dir: &Path,
    name: &str,
    schema: &SchemaRef,
    ts_index: usize,
    batches: impl Iterator<Item = Result<RecordBatch, StoreError>>,
) -> Result<Written, StoreError> {
    if !dir.exists() {
        fs::create_dir_all(dir).map_err(|e| StoreError::io("create", dir, e))?;
        for d in [dir.parent(), dir.parent().and_then(Path::parent)]
            .into_iter()
            .flatten()
        {
            sync_dir(d)?;
        }
    }
    let tmp = dir.join(format!("{name}.tmp"));
    let path = dir.join(name);
    let result = write_tmp(&tmp, schema, ts_index, batches).and_then(|w| {
        fs::rename(&tmp, &path).map_err(|e| StoreError::io("rename", &tmp, e))?;
        sync_dir(dir)?;
        Ok(w)
    });
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

fn write_tmp(
    tmp: &Path,
    schema: &SchemaRef,
    ts_index: usize,
    batches: impl Iterator<Item = Result<RecordBatch, StoreError>>,
) -> Result<Written, StoreError> {
    let pq = |action| {
        move |source| StoreError::Parquet {
            action,
            path: tmp.to_path_buf(),
            source,
        }
    };
    let file = File::create(tmp).map_err(|e| StoreError::io("create", tmp, e))?;
    let mut writer = ArrowWriter::try_new(file, schema.clone(), Some(writer_props(ts_index)))
        .map_err(pq("create"))?;
    let mut w = Written {
        rows: 0,
        bytes: 0,
        min_ts: i64::MAX,
        max_ts: i64::MIN,
    };
    for batch in batches {
        let batch = batch?;
        if batch.num_rows() == 0 {
            continue;
        }
        let ts = ts_values(&batch, ts_index);
        w.min_ts = w.min_ts.min(ts[0]);
        w.max_ts = w.max_ts.max(ts[ts.len() - 1]);
        w.rows += batch.num_rows() as u64;
        writer.write(&batch).map_err(pq("write"))?;
    }
    let file = writer.into_inner().map_err(pq("finish"))?;
    file.sync_all()
        .map_err(|e| StoreError::io("sync", tmp, e))?;
    w.bytes = file
        .metadata()
        .map_err(|e| StoreError::io("stat", tmp, e))?
        .len();
    Ok(w)
}

/// Read a file's batches in the table schema.
pub(crate) fn read_file(
    path: &Path,
    schema: &SchemaRef,
) -> Result<impl Iterator<Item = Result<RecordBatch, StoreError>>, StoreError> {
    let pq = |source| StoreError::Parquet {
        action: "read",
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(|e| StoreError::io("open", path, e))?;
    let reader: ParquetRecordBatchReader = ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(pq)?
        .with_batch_size(BATCH_ROWS)
        .build()
        .map_err(pq)?;
    let schema = schema.clone();
    Ok(reader.map(move |b| {
        b.map_err(|source| StoreError::Arrow {
            action: "read a parquet file",
            source,
        })
        .and_then(|b| conform(b, &schema))
    }))
}

/// Merge files that are each sorted by `Timestamp` into one sorted stream, written to
/// `dir/name`.
pub(crate) fn merge_files(
    inputs: &[PathBuf],
    dir: &Path,
    name: &str,
    schema: &SchemaRef,
    ts_index: usize,
) -> Result<Written, StoreError> {
    let mut readers = Vec::with_capacity(inputs.len());
    for p in inputs {
        readers.push(read_file(p, schema)?);
    }
    let merged = KMerge::new(schema, readers, ts_index)?;
    write_file(dir, name, schema, ts_index, merged)
}

type BatchIter = Box<dyn Iterator<Item = Result<RecordBatch, StoreError>>>;

struct Cursor {
    reader: BatchIter,
    slot: usize,
    pos: usize,
}

/// A k-way merge by `Timestamp` of sorted batch streams. Each step takes, from the stream with
/// the smallest head, every row up to the next stream's head, so inputs that do not overlap
/// in time are copied in whole batches.
struct KMerge {
    schema: SchemaRef,
    cursors: Vec<Cursor>,
    slots: Vec<RecordBatch>,
    heap: BinaryHeap<Reverse<(i64, usize)>>,
    ts_index: usize,
    failed: bool,
}

impl KMerge {
    fn new<I>(schema: &SchemaRef, readers: Vec<I>, ts_index: usize) -> Result<KMerge, StoreError>
    where
        I: Iterator<Item = Result<RecordBatch, StoreError>> + 'static,
    {
        let mut m = KMerge {
            schema: schema.clone(),
            cursors: Vec::new(),
            slots: Vec::new(),
            heap: BinaryHeap::new(),
            ts_index,
            failed: false,
        };
        for r in readers {
            let mut reader: BatchIter = Box::new(r);
            if let Some(batch) = next_nonempty(&mut reader)? {
                let c = m.cursors.len();
                m.heap.push(Reverse((ts_values(&batch, ts_index)[0], c)));
                m.slots.push(batch);
                m.cursors.push(Cursor {
                    reader,
                    slot: m.slots.len() - 1,
                    pos: 0,
                });
            }
        }
        Ok(m)
    }

    fn next_chunk(&mut self) -> Result<Option<RecordBatch>, StoreError> {
        let mut indices: Vec<(usize, usize)> = Vec::with_capacity(BATCH_ROWS);
        while indices.len() < BATCH_ROWS {
            let Some(Reverse((_, c))) = self.heap.pop() else {
                break;
            };
            let limit = self.heap.peek().map(|Reverse((t, _))| *t);
            let cur = &mut self.cursors[c];
            let ts = ts_values(&self.slots[cur.slot], self.ts_index);
            let end = match limit {
                Some(t) => cur.pos + ts[cur.pos..].partition_point(|&v| v <= t),
                None => ts.len(),
            };
            // The popped head is the smallest, so at least that row is taken.
            let end = end.max(cur.pos + 1).min(cur.pos + BATCH_ROWS);
            indices.extend((cur.pos..end).map(|r| (cur.slot, r)));
            cur.pos = end;
            if cur.pos < ts.len() {
                self.heap.push(Reverse((ts[cur.pos], c)));
            } else if let Some(batch) = next_nonempty(&mut cur.reader)? {
                self.heap
                    .push(Reverse((ts_values(&batch, self.ts_index)[0], c)));
                self.slots.push(batch);
                cur.slot = self.slots.len() - 1;
                cur.pos = 0;
            }
        }
        if indices.is_empty() {
            return Ok(None);
        }
        let refs: Vec<&RecordBatch> = self.slots.iter().collect();
        let out = gather(&self.schema, &refs, &indices)?;
        // Keep only the batches the cursors still read from.
        let mut kept = Vec::with_capacity(self.cursors.len());
        for cur in &mut self.cursors {
            kept.push(self.slots[cur.slot].clone());
            cur.slot = kept.len() - 1;
        }
        self.slots = kept;
        Ok(Some(out))
    }
}

fn next_nonempty(reader: &mut BatchIter) -> Result<Option<RecordBatch>, StoreError> {
    for b in reader.by_ref() {
        let b = b?;
        if b.num_rows() > 0 {
            return Ok(Some(b));
        }
    }
    Ok(None)
}

impl Iterator for KMerge {
    type Item = Result<RecordBatch, StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        match self.next_chunk() {
            Ok(Some(b)) => Some(Ok(b)),
            Ok(None) => None,
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_schema::{arrow::arrow_schema, Row};

    #[test]
    fn day_names_round_trip() {
        for day in [-106_752, -1, 0, 11_016, 20_782, 106_751] {
            assert_eq!(parse_day(&day_name(day)), Some(day), "{}", day_name(day));
        }
        assert_eq!(day_name(0), "1970-01-01");
        assert_eq!(parse_day("2026-02-31"), None);
        assert_eq!(parse_day("x"), None);
        assert_eq!(day_of(-1), -1);
    }

    fn batch(ts: &[i64]) -> RecordBatch {
        let t = Table::DeviceProcessEvents;
        let rows: Vec<Row> = ts
            .iter()
            .map(|&n| Row::event(t, "ProcessCreated", Timestamp(n)))
            .collect();
        crate::hot::batches_of_rows("dev", &rows)
            .unwrap()
            .remove(0)
            .1
    }

    fn timestamps(batches: &[RecordBatch]) -> Vec<i64> {
        batches
            .iter()
            .flat_map(|b| ts_values(b, 0).to_vec())
            .collect()
    }

    #[test]
    fn hot_rows_are_sorted_and_split_by_day() {
        let schema = arrow_schema(Table::DeviceProcessEvents);
        let d = NANOS_PER_DAY;
        let input = [batch(&[d + 5, 3, d + 1]), batch(&[1])];
        let sorted = SortedRows::new(&schema, &input, 0);
        let days: Vec<i64> = sorted.days().iter().map(|(day, _, _)| *day).collect();
        assert_eq!(days, vec![0, 1]);
        let day = |i: usize| {
            let (_, s, e) = sorted.days()[i];
            let chunks: Vec<RecordBatch> = sorted.chunks(s, e).collect::<Result<_, _>>().unwrap();
            timestamps(&chunks)
        };
        assert_eq!(day(0), vec![1, 3]);
        assert_eq!(day(1), vec![d + 1, d + 5]);
        // Columns nobody filled stay null; filled ones are carried.
        let (_, s, e) = sorted.days()[0];
        let b = sorted.chunks(s, e).next().unwrap().unwrap();
        assert_eq!(b.column_by_name("FileName").unwrap().null_count(), 2);
        assert_eq!(b.column_by_name("ActionType").unwrap().null_count(), 0);
    }

    #[test]
    fn merge_interleaves_sorted_files() {
        let dir = tempfile::tempdir().unwrap();
        let schema = arrow_schema(Table::DeviceProcessEvents);
        let mut paths = Vec::new();
        let inputs: Vec<Vec<i64>> = vec![
            (0..20_000).map(|i| i * 3).collect(),
            (0..10_000).map(|i| i * 2).collect(),
            vec![100_000, 100_001],
        ];
        for (i, ts) in inputs.iter().enumerate() {
            let name = format!("in{i}.parquet");
            write_file(
                dir.path(),
                &name,
                &schema,
                0,
                std::iter::once(Ok(batch(ts))),
            )
            .unwrap();
            paths.push(dir.path().join(name));
        }
        let w = merge_files(&paths, dir.path(), "out.parquet", &schema, 0).unwrap();
        let out: Vec<RecordBatch> = read_file(&dir.path().join("out.parquet"), &schema)
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let got = timestamps(&out);
        let mut want: Vec<i64> = inputs.concat();
        want.sort();
        assert_eq!(got, want);
        assert_eq!(w.rows, 30_002);
        assert_eq!((w.min_ts, w.max_ts), (0, 100_001));
        assert!(!dir.path().join("out.parquet.tmp").exists());
    }
}
