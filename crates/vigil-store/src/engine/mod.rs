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
use std::sync::{Arc, Condvar, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use arrow::array::RecordBatch;
use datafusion::prelude::SessionContext;
use vigil_schema::wire::WireEvents;
use vigil_schema::{Col, Table, Timestamp};

use crate::dedupe::{Dedupe, DedupeSnapshot};
use crate::hot::{self, schema_of, HotBatch, HotBuilder};
use crate::partition::{self, day_dir, day_of, file_name, FileEntry};
use crate::query::{self, Shared, View};
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

/// Hot memory may reach this many times `hot_max_bytes` (a flush starts at 1×) before appends
/// wait for a flush: ingest that outruns Parquet writing slows down instead of filling memory.
const HARD_LIMIT_FACTOR: usize = 2;
/// How long an append waits for a flush to make room before it fails as `Busy`.
const ROOM_WAIT: Duration = Duration::from_secs(20);

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
    /// Signalled when a flush frees hot memory (appends wait on it past the hard limit).
    room_lock: Mutex<()>,
    room: Condvar,
    ctx: SessionContext,
    rows_stored: AtomicU64,
    duplicates: AtomicU64,
    old_segments: AtomicUsize,
    /// Nanoseconds of the last flush, `i64::MIN` for none.
    last_flush: AtomicI64,
    /// Days of partitions kept (0: all); starts as `opts.retention_days`, changed live by
    /// [`Store::set_retention_days`].
    retention_days: std::sync::atomic::AtomicU32,
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

/// Build the hot batches for the events of `runs` (sequence ranges within the batch), with
/// `device_id` as every row's `DeviceId`. Every event is checked as it is decoded.
pub(crate) fn build_hot(
    device_id: &str,
    events: &WireEvents,
    first_seq: u64,
    runs: &[(u64, u64)],
) -> Result<Vec<HotPart>, String> {
    let mut b = HotBuilder::new(device_id);
    for &(s, e) in runs {
        for i in (s - first_seq) as usize..(e - first_seq) as usize {
            b.add(events.event(i), i)?;
        }
    }
    b.finish()
        .map_err(|e| format!("cannot build the hot batch: {e}"))
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
    // Decode (and so check) first: nothing reaches the WAL that would not replay.
    let hot = build_hot(&batch.device_id, &batch.events, batch.first_seq, runs)
        .map_err(|reason| invalid(batch, reason))?;
    let mut wal = Vec::new();
    for &(s, e) in runs {
        let range = (s - batch.first_seq) as usize..(e - batch.first_seq) as usize;
        let count = range.len();
        let events = batch.events.delimited(range);
        wal::encode_record(
            &mut wal,
            &batch.device_id,
            &batch.boot_id,
            s,
            arrival,
            events,
            count,
        )
        .map_err(|reason| invalid(batch, reason))?;
    }
    Ok(Prepared { wal, hot })
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
    batch
        .first_seq
        .checked_add(batch.events.len() as u64)
        .ok_or_else(|| invalid(batch, "sequence numbers overflow".into()))
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
        self.append_returning_rows(batch)
            .map(|(outcome, _)| outcome)
    }

    /// [`Store::append`], also returning the rows stored now as Arrow batches per table (the
    /// batches queries see; cheap to clone): what streaming detection evaluates.
    pub fn append_returning_rows(
        &self,
        batch: IngestBatch,
    ) -> Result<(AppendOutcome, Vec<(Table, RecordBatch)>), StoreError> {
        let inner = &*self.inner;
        let end = validate(&batch)?;
        let n = batch.events.len();
        if n == 0 {
            return Ok((AppendOutcome::default(), Vec::new()));
        }
        inner.wait_for_room()?;
        let arrival = Timestamp::now();
        // Encode and build outside the lock for the usual case: every row is new.
        let mut full = Some(prepare(&batch, &[(batch.first_seq, end)], arrival)?);

        let (wait_for, stored, tables, batches) = {
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
                (pending, 0, Vec::new(), Vec::new())
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
                let mut batches = Vec::with_capacity(prepared.hot.len());
                {
                    let mut view = write(&inner.shared.view);
                    for (table, batch, min_ts, max_ts) in prepared.hot {
                        tables.push(table);
                        batches.push((table, batch.clone()));
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
                (lsn.max(pending), stored, tables, batches)
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
        Ok((
            AppendOutcome {
                stored,
                duplicates: n - stored,
            },
            batches,
        ))
    }

    /// Run read-only SQL over the tables (hot rows and Parquet files together).
    pub async fn sql(&self, query: &str) -> Result<Vec<RecordBatch>, StoreError> {
        query::run(&self.inner.ctx, &self.inner.shared, query, None)
            .await
            .map(|(batches, _)| batches)
    }

    /// Like [`Store::sql`], but stop reading after `max_rows` rows; the flag says whether
    /// rows were left out. The query's order is kept.
    pub async fn sql_capped(
        &self,
        query: &str,
        max_rows: usize,
    ) -> Result<(Vec<RecordBatch>, bool), StoreError> {
        query::run(&self.inner.ctx, &self.inner.shared, query, Some(max_rows)).await
    }

    /// Write the hot rows to Parquet, commit the manifest, then delete the WAL segments.
    pub fn flush(&self) -> Result<(), StoreError> {
        self.inner.flush(None)
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

    /// Change how many days of partitions are kept (0: all) from now on; the next
    /// [`Store::apply_retention`] uses it.
    pub fn set_retention_days(&self, days: u32) {
        self.inner.retention_days.store(days, Ordering::Relaxed);
    }

    /// How many days of partitions are kept (0: all).
    pub fn retention_days(&self) -> u32 {
        self.inner.retention_days.load(Ordering::Relaxed)
    }

    /// Storage use, hot rows, WAL size, counters and ingest lag.
    pub fn metrics(&self) -> StoreMetrics {
        self.inner.metrics()
    }

    /// Whether a flush is due: a table's hot rows reached `hot_max_rows`, all hot rows hold
    /// `hot_max_bytes` of memory, the oldest hot row is older than `hot_max_age`, or closed WAL
    /// segments wait to be written out.
    pub fn maintenance_due(&self) -> bool {
        let inner = &*self.inner;
        if inner.old_segments.load(Ordering::Relaxed) > 0 {
            return true;
        }
        let now = Timestamp::now().nanos();
        let max_age = inner.opts.hot_max_age.as_nanos().min(i64::MAX as u128) as i64;
        let view = read(&inner.shared.view);
        let bytes: usize = view.tables.iter().map(|t| t.hot.bytes).sum();
        bytes >= inner.opts.hot_max_bytes.max(1)
            || view.tables.iter().any(|t| {
                t.hot.rows >= inner.opts.hot_max_rows.max(1)
                    || t.hot
                        .oldest_arrival()
                        .is_some_and(|a| now.saturating_sub(a.nanos()) >= max_age)
            })
    }
}

impl Inner {
    fn hot_bytes(&self) -> usize {
        read(&self.shared.view)
            .tables
            .iter()
            .map(|t| t.hot.bytes)
            .sum()
    }

    /// Past the hard limit of hot memory, flush (if no flush is running) or wait for the
    /// running one; give up with `Busy` after `ROOM_WAIT` (the agent keeps the batch and
    /// retries).
    fn wait_for_room(&self) -> Result<(), StoreError> {
        let limit = self
            .opts
            .hot_max_bytes
            .max(1)
            .saturating_mul(HARD_LIMIT_FACTOR);
        let started = std::time::Instant::now();
        loop {
            let bytes = self.hot_bytes();
            if bytes < limit {
                return Ok(());
            }
            if started.elapsed() >= ROOM_WAIT {
                return Err(StoreError::Busy {
                    hot_bytes: bytes,
                    limit,
                });
            }
            let idle = self.maint.try_lock().is_ok();
            if idle {
                if let Err(e) = self.flush(Some(limit)) {
                    tracing::warn!("flush to make room for ingest failed: {e}");
                    std::thread::sleep(Duration::from_millis(100));
                }
                continue;
            }
            let g = lock(&self.room_lock);
            let _ = self
                .room
                .wait_timeout(g, Duration::from_millis(100))
                .unwrap_or_else(|e| e.into_inner());
        }
    }

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
