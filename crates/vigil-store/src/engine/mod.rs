//! The store itself: appending with group commit here; opening and WAL replay in `open.rs`;
//! flush, compaction, retention and metrics in `maintenance.rs`. The crate docs describe the
//! design; this module is the locking.
//!
//! Locks, always taken in this order: `maint` (one flush, compaction commit or retention at a
//! time, and the state file) → `core` (dedupe ranges, the WAL writer) → `commit` (what is
//! written and what is durable; the condition variable of group commit) or the view (hot
//! batches and live files, read by queries). The fsync itself runs with no lock held.

use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{
    Arc, Condvar, Mutex, MutexGuard, OnceLock, RwLock, RwLockReadGuard, RwLockWriteGuard,
};
use std::time::Duration;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use datafusion::prelude::SessionContext;
use vigil_schema::{arrow::arrow_schema, Col, Row, Table, Timestamp, Value};

use crate::dedupe::{Dedupe, DedupeSnapshot};
use crate::hot::{self, build_batch, HotBatch};
use crate::partition::{self, day_dir, day_of, file_name, FileEntry};
use crate::query::{self, table_index, Shared, View};
use crate::state::{self, FileRecord, State};
use crate::wal::{self, Segment};
use crate::{
    AppendOutcome, CompactReport, IngestBatch, StoreError, StoreMetrics, StoreOptions, TableMetrics,
};

mod maintenance;
mod open;

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

pub(crate) fn read<T>(l: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|e| e.into_inner())
}

pub(crate) fn write<T>(l: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|e| e.into_inner())
}

/// The Arrow schema of a table, built once.
fn schema_of(table: Table) -> &'static SchemaRef {
    static SCHEMAS: OnceLock<Vec<SchemaRef>> = OnceLock::new();
    &SCHEMAS.get_or_init(|| Table::ALL.iter().map(|&t| arrow_schema(t)).collect())
        [table_index(table)]
}

fn ts_index(table: Table) -> usize {
    table.position(Col::Timestamp).unwrap_or(0)
}

/// The store: cheap to clone, shareable between threads.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    opts: StoreOptions,
    wal_dir: PathBuf,
    tables_dir: PathBuf,
    /// Holds the flock on `LOCK` while the store is open.
    _lock: File,
    core: Mutex<Core>,
    commit: Mutex<Commit>,
    committed: Condvar,
    shared: Arc<Shared>,
    maint: Mutex<Maint>,
    compacting: Mutex<()>,
    coalescing: Mutex<()>,
    ctx: SessionContext,
    rows_stored: AtomicU64,
    duplicates: AtomicU64,
    old_segments: AtomicUsize,
    /// Nanoseconds of the last flush, `i64::MIN` for none.
    last_flush: AtomicI64,
}

struct Core {
    dedupe: Dedupe,
    /// Where appends go; opened on the first append after a rotation.
    segment: Option<Segment>,
    next_segment_id: u64,
    /// Closed segments whose rows are not known to be in Parquet: (id, path, bytes).
    old_segments: Vec<(u64, PathBuf, u64)>,
    /// WAL position of the last record written.
    last_lsn: u64,
    /// Hot batches of generations below the current one belong to closed segments.
    generation: u64,
}

struct Commit {
    written: u64,
    durable: u64,
    syncing: bool,
    file: Option<Arc<File>>,
    /// WAL positions `(lo, hi]` whose write or fsync failed, with the reason.
    failed: Vec<(u64, u64, String)>,
    /// Appends that wrote or found a record and have not yet learnt its fate.
    waiters: usize,
}

struct Maint {
    /// The dedupe ranges written with the last flush (the rows in Parquet).
    flushed_ranges: DedupeSnapshot,
    next_file_id: u64,
}

/// Rows of one table ready for the hot buffer: batch, min and max `Timestamp`.
type HotPart = (Table, RecordBatch, i64, i64);

/// Build the hot batches for the rows of `runs` (sequence ranges within the batch).
fn build_hot(
    rows: &[Row],
    first_seq: u64,
    runs: &[(u64, u64)],
) -> Result<Vec<HotPart>, StoreError> {
    let mut per_table: Vec<Vec<&Row>> = vec![Vec::new(); Table::ALL.len()];
    for &(s, e) in runs {
        for r in &rows[(s - first_seq) as usize..(e - first_seq) as usize] {
            per_table[table_index(r.table())].push(r);
        }
    }
    let mut out = Vec::new();
    for (i, rows) in per_table.iter().enumerate() {
        if rows.is_empty() {
            continue;
        }
        let table = Table::ALL[i];
        let (batch, min, max) =
            build_batch(table, schema_of(table), rows).map_err(|source| StoreError::Arrow {
                action: "build the hot batch",
                source,
            })?;
        out.push((table, batch, min, max));
    }
    Ok(out)
}

/// A batch encoded for the WAL and built for the hot buffer.
struct Prepared {
    wal: Vec<u8>,
    hot: Vec<HotPart>,
}

fn invalid(batch: &IngestBatch, reason: String) -> StoreError {
    StoreError::InvalidBatch {
        device_id: batch.device_id.clone(),
        boot_id: batch.boot_id.clone(),
        first_seq: batch.first_seq,
        reason,
    }
}

fn prepare(
    batch: &IngestBatch,
    runs: &[(u64, u64)],
    arrival: Timestamp,
) -> Result<Prepared, StoreError> {
    let mut wal = Vec::new();
    for &(s, e) in runs {
        let rows = &batch.rows[(s - batch.first_seq) as usize..(e - batch.first_seq) as usize];
        wal::encode_record(&mut wal, &batch.device_id, &batch.boot_id, s, arrival, rows)
            .map_err(|reason| invalid(batch, reason))?;
    }
    Ok(Prepared {
        wal,
        hot: build_hot(&batch.rows, batch.first_seq, runs)?,
    })
}

fn validate(batch: &IngestBatch) -> Result<u64, StoreError> {
    if batch.device_id.len() > wal::MAX_ID_LEN || batch.boot_id.len() > wal::MAX_ID_LEN {
        return Err(invalid(
            batch,
            format!(
                "device and boot ids must be at most {} bytes",
                wal::MAX_ID_LEN
            ),
        ));
    }
    let end = batch
        .first_seq
        .checked_add(batch.rows.len() as u64)
        .ok_or_else(|| invalid(batch, "sequence numbers overflow".into()))?;
    for (i, row) in batch.rows.iter().enumerate() {
        if !matches!(row.get(Col::Timestamp), Value::DateTime(_)) {
            return Err(invalid(
                batch,
                format!("row {i} ({}) has no Timestamp", row.table().name()),
            ));
        }
    }
    Ok(end)
}

impl Store {
    /// Open (or create) the store in `opts.dir` and replay its write-ahead log.
    pub fn open(opts: StoreOptions) -> Result<Store, StoreError> {
        open::open(opts)
    }

    /// Store a batch. Durable when it returns `Ok`: the WAL is written and fsynced (concurrent
    /// callers share fsyncs). Rows whose sequence number of this (device, boot) is already
    /// stored are counted as duplicates and not stored again, across restarts and flushes.
    pub fn append(&self, batch: IngestBatch) -> Result<AppendOutcome, StoreError> {
        let inner = &*self.inner;
        let end = validate(&batch)?;
        let n = batch.rows.len();
        if n == 0 {
            return Ok(AppendOutcome::default());
        }
        let arrival = Timestamp::now();
        // Encode and build outside the lock for the usual case: every row is new.
        let mut full = Some(prepare(&batch, &[(batch.first_seq, end)], arrival)?);

        let (wait_for, stored, tables) = {
            let mut core = lock(&inner.core);
            core.dedupe
                .settle(inner.shared.durable.load(Ordering::Acquire));
            let (missing, pending) =
                core.dedupe
                    .check(&batch.device_id, &batch.boot_id, batch.first_seq, end);
            if missing.is_empty() {
                if pending > 0 {
                    lock(&inner.commit).waiters += 1;
                }
                (pending, 0, Vec::new())
            } else {
                let prepared = if missing == [(batch.first_seq, end)] {
                    full.take().expect("prepared above")
                } else {
                    prepare(&batch, &missing, arrival)?
                };
                inner.write_wal(&mut core, &prepared.wal)?;
                core.last_lsn += 1;
                let lsn = core.last_lsn;
                core.dedupe
                    .reserve(&batch.device_id, &batch.boot_id, &missing, lsn);
                let generation = core.generation;
                let mut tables = Vec::with_capacity(prepared.hot.len());
                {
                    let mut view = write(&inner.shared.view);
                    for (table, batch, min_ts, max_ts) in prepared.hot {
                        tables.push(table);
                        view.table_mut(table).hot.push(HotBatch {
                            batch,
                            generation,
                            lsn,
                            arrival,
                            min_ts,
                            max_ts,
                        });
                    }
                }
                let mut c = lock(&inner.commit);
                c.written = c.written.max(lsn);
                c.waiters += 1;
                let stored = missing.iter().map(|(s, e)| (e - s) as usize).sum();
                (lsn.max(pending), stored, tables)
            }
        };
        drop(full);
        if wait_for > 0 {
            inner.wait_durable(wait_for)?;
        }
        inner
            .rows_stored
            .fetch_add(stored as u64, Ordering::Relaxed);
        inner
            .duplicates
            .fetch_add((n - stored) as u64, Ordering::Relaxed);
        inner.maybe_coalesce(&tables);
        Ok(AppendOutcome {
            stored,
            duplicates: n - stored,
        })
    }

    /// Run read-only SQL over the tables (hot rows and Parquet files together).
    pub async fn sql(&self, query: &str) -> Result<Vec<RecordBatch>, StoreError> {
        query::run(&self.inner.ctx, &self.inner.shared, query).await
    }

    /// Write the hot rows to Parquet, commit the manifest, then delete the WAL segments.
    pub fn flush(&self) -> Result<(), StoreError> {
        self.inner.flush()
    }

    /// Merge the small Parquet files of every (table, day) that has at least four.
    pub fn compact(&self) -> Result<CompactReport, StoreError> {
        self.inner.compact()
    }

    /// Delete the day partitions older than `retention_days` before `now`; returns how many
    /// (table, day) partitions were removed.
    pub fn apply_retention(&self, now: Timestamp) -> Result<usize, StoreError> {
        self.inner.apply_retention(now)
    }

    /// Storage use, hot rows, WAL size, counters and ingest lag.
    pub fn metrics(&self) -> StoreMetrics {
        self.inner.metrics()
    }

    /// Whether a flush is due: a table's hot rows reached `hot_max_rows`, the oldest hot row
    /// is older than `hot_max_age`, or closed WAL segments wait to be written out.
    pub fn maintenance_due(&self) -> bool {
        let inner = &*self.inner;
        if inner.old_segments.load(Ordering::Relaxed) > 0 {
            return true;
        }
        let now = Timestamp::now().nanos();
        let max_age = inner.opts.hot_max_age.as_nanos().min(i64::MAX as u128) as i64;
        let view = read(&inner.shared.view);
        view.tables.iter().any(|t| {
            t.hot.rows >= inner.opts.hot_max_rows.max(1)
                || t.hot
                    .oldest_arrival()
                    .is_some_and(|a| now.saturating_sub(a.nanos()) >= max_age)
        })
    }
}

impl Inner {
    /// Append `bytes` to the current segment (opening one if needed).
    fn write_wal(&self, core: &mut Core, bytes: &[u8]) -> Result<(), StoreError> {
        if core.segment.is_none() {
            let id = core.next_segment_id;
            core.next_segment_id += 1;
            let seg = Segment::create(&self.wal_dir, id)?;
            lock(&self.commit).file = Some(seg.file.clone());
            core.segment = Some(seg);
        }
        let seg = core.segment.as_mut().expect("opened above");
        match seg.append(bytes) {
            Ok(()) => Ok(()),
            Err((e, cut)) => {
                if !cut {
                    // The segment may end in a partial record: close it and start a new one.
                    if let Err(reason) = self.retire_segment(core) {
                        tracing::error!("{reason}");
                    }
                }
                Err(e)
            }
        }
    }

    /// Make the current segment durable and close it. If its fsync fails, every record not
    /// yet durable fails.
    fn retire_segment(&self, core: &mut Core) -> Result<(), String> {
        let Some(seg) = core.segment.take() else {
            return Ok(());
        };
        let mut result = Ok(());
        if core.last_lsn > self.shared.durable.load(Ordering::Acquire) {
            match seg.file.sync_data() {
                Ok(()) => self.publish_durable(core.last_lsn),
                Err(e) => {
                    let reason = format!("cannot sync {}: {e}", seg.path.display());
                    self.fail_pending(core, reason.clone());
                    result = Err(reason);
                }
            }
        }
        lock(&self.commit).file = None;
        core.old_segments.push((seg.id, seg.path, seg.len));
        self.old_segments
            .store(core.old_segments.len(), Ordering::Relaxed);
        result
    }

    fn publish_durable(&self, lsn: u64) {
        let mut c = lock(&self.commit);
        c.durable = c.durable.max(lsn);
        self.shared.durable.store(c.durable, Ordering::Release);
        self.committed.notify_all();
    }

    /// A write or fsync failed: every record after the last durable one fails, and its rows
    /// and reservations are removed.
    fn fail_pending(&self, core: &mut Core, reason: String) {
        let mut c = lock(&self.commit);
        let durable = c.durable;
        if core.last_lsn > durable {
            tracing::error!(
                records = core.last_lsn - durable,
                "write-ahead log failure: {reason}"
            );
            c.failed.push((durable, core.last_lsn, reason));
        }
        drop(c);
        core.dedupe.rollback(durable);
        {
            let mut view = write(&self.shared.view);
            for t in &mut view.tables {
                t.hot.rollback(durable);
            }
        }
        self.committed.notify_all();
    }

    /// Wait until WAL position `lsn` is durable, running the fsync if no one else is.
    fn wait_durable(&self, lsn: u64) -> Result<(), StoreError> {
        let mut c = lock(&self.commit);
        let result = loop {
            if let Some((_, _, reason)) =
                c.failed.iter().find(|(lo, hi, _)| *lo < lsn && lsn <= *hi)
            {
                break Err(StoreError::Durability {
                    reason: reason.clone(),
                });
            }
            if c.durable >= lsn {
                break Ok(());
            }
            if c.syncing {
                c = self.committed.wait(c).unwrap_or_else(|e| e.into_inner());
                continue;
            }
            let Some(file) = c.file.clone() else {
                break Err(StoreError::Durability {
                    reason: "the write-ahead log segment closed before the batch was synced".into(),
                });
            };
            let target = c.written;
            c.syncing = true;
            drop(c);
            let synced = file.sync_data();
            if let Err(e) = &synced {
                let mut core = lock(&self.core);
                self.fail_pending(&mut core, format!("cannot sync the write-ahead log: {e}"));
                // Nothing more goes into a segment whose fsync failed.
                if core
                    .segment
                    .as_ref()
                    .is_some_and(|s| Arc::ptr_eq(&s.file, &file))
                {
                    let _ = self.retire_segment(&mut core);
                }
            }
            c = lock(&self.commit);
            c.syncing = false;
            if synced.is_ok() {
                c.durable = c.durable.max(target);
                self.shared.durable.store(c.durable, Ordering::Release);
            }
            self.committed.notify_all();
        };
        c.waiters -= 1;
        if c.waiters == 0 {
            c.failed.clear();
        }
        result
    }

    /// Merge piles of small durable hot batches (outside the view lock).
    fn maybe_coalesce(&self, tables: &[Table]) {
        let durable = self.shared.durable.load(Ordering::Acquire);
        let wanted: Vec<Table> = {
            let view = read(&self.shared.view);
            tables
                .iter()
                .copied()
                .filter(|&t| view.table(t).hot.wants_coalesce(durable))
                .collect()
        };
        if wanted.is_empty() {
            return;
        }
        let Ok(_one) = self.coalescing.try_lock() else {
            return;
        };
        for table in wanted {
            let plan = read(&self.shared.view)
                .table(table)
                .hot
                .coalesce_plan(durable);
            for group in plan {
                match hot::merge(schema_of(table), &group) {
                    Ok(merged) => {
                        write(&self.shared.view)
                            .table_mut(table)
                            .hot
                            .replace(&group, merged);
                    }
                    Err(e) => tracing::warn!(table = table.name(), "cannot merge hot batches: {e}"),
                }
            }
        }
    }
}
