//! Vigil's embedded telemetry store: a write-ahead log, an in-memory hot buffer, Parquet files
//! partitioned by table and UTC day, and SQL over both through DataFusion.
//!
//! # Layout under the store directory
//!
//! ```text
//! LOCK                                   flock(2)-ed while a Store is open
//! state.json                             manifest of live Parquet files + dedupe ranges of
//!                                        everything in them (written atomically)
//! wal/<segment:016>.wal                  write-ahead log segments
//! tables/<Table>/day=YYYY-MM-DD/f<id>.parquet
//! ```
//!
//! # Write path
//!
//! [`Store::append`] checks the batch's sequence numbers against the dedupe ranges of its
//! (device, boot), writes one WAL record per run of new rows, reserves those sequence numbers,
//! and puts the rows into the hot buffer as Arrow batches — all under one lock, so two appends
//! of the same sequence numbers cannot both store them. The rows become visible to queries
//! once their WAL record is fsynced; callers that arrive while an fsync is running share the
//! next one (group commit). If a write or an fsync fails, every record not yet durable is
//! rolled back (hot rows and reservations) and its callers get an error, so nothing that was
//! not acknowledged stays visible.
//!
//! # Flush, manifest and crash safety
//!
//! [`Store::flush`] rotates the WAL, writes the hot rows of the closed segments to Parquet
//! (one file per table and day, sorted by `Timestamp`), then replaces `state.json` (temp file,
//! fsync, rename, fsync of the directory). The state file is the commit point: it lists the
//! live Parquet files and the sequence ranges of every row in them. Only after that are the
//! old WAL segments deleted. On open, Parquet files that the manifest does not list are
//! leftovers of an interrupted flush or compaction and are deleted; WAL records whose
//! sequence numbers the manifest's ranges cover are skipped. A crash at any point therefore
//! leaves every acknowledged row stored exactly once.
//!
//! [`Store::compact`] writes the merged file, commits a manifest that swaps it for the small
//! files, and only then lets the small files go. Files removed from the manifest are deleted
//! when the last query that planned over them finishes.
//!
//! # Read path
//!
//! [`Store::sql`] runs read-only SQL (no DDL, DML or `SET`) in DataFusion. Each MDE table is a
//! provider that scans a snapshot of its hot batches and its Parquet files, pruning days, files
//! and hot batches by `Timestamp` bounds found in the filters and handing the filters to the
//! Parquet reader for row-group pruning. Table and column names are case-sensitive, as in MDE.

mod dedupe;
mod engine;
mod hot;
mod kql_fns;
mod output;
mod partition;
mod query;
mod state;
mod wal;

use std::path::PathBuf;
use std::time::Duration;

use vigil_schema::wire::WireEvents;
use vigil_schema::{Row, Table, Timestamp};

pub use engine::Store;
pub use output::{batches_to_json_rows, format_batches};
pub use query::with_device_scope;

/// How a [`Store`] is opened.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// The store directory (created if missing).
    pub dir: PathBuf,
    /// Rows kept in memory per table before they are written to Parquet (default 500_000).
    pub hot_max_rows: usize,
    /// Memory of the hot buffer, all tables together, before a flush (default 256 MiB).
    pub hot_max_bytes: usize,
    /// Age of the oldest hot row before a flush (default 30 s).
    pub hot_max_age: Duration,
    /// Days of data kept; partitions older are deleted by `apply_retention` (0 = keep forever).
    pub retention_days: u32,
    /// Memory all running queries may use together (default 2 GiB); a query that needs more
    /// fails with "resources exhausted".
    pub query_memory_bytes: usize,
}

impl StoreOptions {
    /// Options with the defaults: 500,000 hot rows per table, 256 MiB of hot rows in all,
    /// 30 s, retention 30 days, 2 GiB of query memory.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        StoreOptions {
            dir: dir.into(),
            hot_max_rows: 500_000,
            hot_max_bytes: 256 << 20,
            hot_max_age: Duration::from_secs(30),
            retention_days: 30,
            query_memory_bytes: 2 << 30,
        }
    }
}

/// One batch from one agent run: event `i` has sequence number `first_seq + i`. Events stay
/// in their wire encoding (`vigil_schema::wire`): the store checks and decodes them straight
/// into Arrow columns and writes them to its log as received. Every row gets `device_id` as its
/// `DeviceId`, whatever the event says.
#[derive(Debug, Clone)]
pub struct IngestBatch {
    pub device_id: String,
    pub boot_id: String,
    pub first_seq: u64,
    pub events: WireEvents,
}

impl IngestBatch {
    /// A batch of rows (encoded here).
    pub fn from_rows(device_id: &str, boot_id: &str, first_seq: u64, rows: &[Row]) -> Self {
        IngestBatch {
            device_id: device_id.to_string(),
            boot_id: boot_id.to_string(),
            first_seq,
            events: WireEvents::from_rows(rows),
        }
    }
}

/// What [`Store::append`] did with a batch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AppendOutcome {
    /// Rows stored now.
    pub stored: usize,
    /// Rows whose sequence number was already stored; they were not stored again.
    pub duplicates: usize,
}

/// What [`Store::compact`] merged.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompactReport {
    /// (table, day) partitions whose small files were merged.
    pub partitions: usize,
    /// Files replaced.
    pub files_merged: usize,
    /// Rows rewritten.
    pub rows: u64,
}

/// Storage use of one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableMetrics {
    pub table: Table,
    /// Bytes of the table's Parquet files.
    pub bytes: u64,
    /// Number of Parquet files.
    pub files: usize,
    /// Rows in Parquet files.
    pub parquet_rows: u64,
    /// Rows in memory, not yet in Parquet.
    pub hot_rows: usize,
}

/// A snapshot of the store's gauges and counters.
#[derive(Debug, Clone)]
pub struct StoreMetrics {
    /// Per table, in [`Table::ALL`] order.
    pub tables: Vec<TableMetrics>,
    /// (table name, bytes of Parquet) per table, in [`Table::ALL`] order.
    pub table_bytes: Vec<(&'static str, u64)>,
    /// Rows in memory over all tables.
    pub hot_rows: usize,
    /// Bytes in the write-ahead log.
    pub wal_bytes: u64,
    /// Rows stored since the store was opened.
    pub rows_stored: u64,
    /// Rows refused as duplicates since the store was opened.
    pub duplicates: u64,
    /// Age of the oldest row not yet in Parquet (zero when there is none).
    pub ingest_lag: Duration,
    /// When the last flush finished, if one did since the store was created.
    pub last_flush: Option<Timestamp>,
}

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("store directory {} is in use by another process", path.display())]
    Locked { path: PathBuf },
    #[error(
        "the store is behind: {} MiB of rows wait in memory for Parquet (limit {} MiB); retry later",
        hot_bytes >> 20,
        limit >> 20
    )]
    Busy { hot_bytes: usize, limit: usize },
    #[error("cannot make the batch durable: {reason}")]
    Durability { reason: String },
    #[error("batch {first_seq} of device {device_id} boot {boot_id} refused: {reason}")]
    InvalidBatch {
        device_id: String,
        boot_id: String,
        first_seq: u64,
        reason: String,
    },
    #[error("unknown table {name} (the tables are {})", table_names())]
    UnknownTable { name: String },
    #[error("sql error: {message} (query: {query})")]
    Sql { query: String, message: String },
    #[error("store state {} is not valid: {reason}", path.display())]
    CorruptState { path: PathBuf, reason: String },
    #[error("cannot {action} parquet file {}: {source}", path.display())]
    Parquet {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: parquet::errors::ParquetError,
    },
    #[error("cannot {action}: {source}")]
    Arrow {
        action: &'static str,
        #[source]
        source: arrow::error::ArrowError,
    },
}

fn table_names() -> String {
    Table::ALL
        .iter()
        .map(|t| t.name())
        .collect::<Vec<_>>()
        .join(", ")
}

impl StoreError {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        StoreError::Io {
            action,
            path: path.into(),
            source,
        }
    }
}
