//! Fixtures: rows, batches, a runtime for SQL, and counting helpers.

use std::path::Path;
use std::sync::OnceLock;

use arrow::array::{AsArray, RecordBatch};
use arrow::datatypes::Int64Type;
use vigil_schema::{Col, Row, Table, Timestamp};
use vigil_store::{IngestBatch, Store, StoreOptions};

/// 2026-11-24T00:00:00Z.
pub const DAY0: i64 = 1_795_478_400_000_000_000;
pub const DAY: i64 = 86_400_000_000_000;

pub fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("tokio runtime")
    })
}

pub fn sql(store: &Store, query: &str) -> Result<Vec<RecordBatch>, vigil_store::StoreError> {
    runtime().block_on(store.sql(query))
}

/// The single Int64 value of a one-row, one-column result.
pub fn scalar(store: &Store, query: &str) -> i64 {
    let batches = sql(store, query).unwrap_or_else(|e| panic!("{query}: {e}"));
    let values: Vec<i64> = batches
        .iter()
        .flat_map(|b| b.column(0).as_primitive::<Int64Type>().values().to_vec())
        .collect();
    assert_eq!(values.len(), 1, "{query} returned {values:?}");
    values[0]
}

pub fn count(store: &Store, table: &str) -> i64 {
    scalar(store, &format!("SELECT count(*) FROM {table}"))
}

/// A process-creation row at `ts` whose command line names `i`.
pub fn proc_row(ts: i64, i: u64) -> Row {
    let mut r = Row::event(Table::DeviceProcessEvents, "ProcessCreated", Timestamp(ts));
    r.put(Col::DeviceName, "host-1");
    r.put(Col::FileName, "bash");
    r.put(Col::ProcessId, i as i64);
    r.put(Col::ProcessCommandLine, format!("bash -c 'echo {i}'"));
    r
}

/// `n` process rows with sequence numbers from `first_seq`, one per millisecond from `ts0`.
pub fn batch(device: &str, boot: &str, first_seq: u64, n: u64, ts0: i64) -> IngestBatch {
    let rows: Vec<_> = (0..n)
        .map(|i| {
            let mut r = proc_row(ts0 + ((first_seq + i) as i64) * 1_000_000, first_seq + i);
            r.put(Col::DeviceId, device);
            r
        })
        .collect();
    IngestBatch::from_rows(device, boot, first_seq, &rows)
}

pub fn open(dir: &Path) -> Store {
    Store::open(StoreOptions::new(dir)).expect("open store")
}

/// The WAL segment files, oldest first.
pub fn segments(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir.join("wal"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "wal"))
        .collect();
    v.sort();
    v
}

/// Every parquet file under the tables directory.
pub fn parquet_files(dir: &Path) -> Vec<std::path::PathBuf> {
    fn walk(p: &Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(p).unwrap() {
            let path = e.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "parquet") {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(&dir.join("tables"), &mut out);
    out.sort();
    out
}
