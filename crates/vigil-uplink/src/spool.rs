//! The agent's disk spool: a size-bounded, crash-safe FIFO of event batches.
//!
//! Between the pipeline and the uplink sits a queue of *batches*: opaque bytes (a
//! zstd-compressed protobuf payload) with the boot id, the first sequence number and the
//! number of events they hold. [`Spool::append`] returns once the batch is on disk
//! (`fdatasync`); the sender reads batches with [`Spool::read_from`], keeps several in flight,
//! and [`Spool::ack`]s each when the server has it, in any order. Delivery is at least once:
//! after a crash, a few acknowledged batches may be read again (the server deduplicates).
//!
//! # Files
//!
//! The spool owns one directory (created `0700`; files are `0600`, they hold telemetry):
//!
//! - `seg-<20-digit id>.spool` — segments, each a run of records. A [`SpoolId`] is a
//!   monotonic u64 (starting at 1); the file name is the id of the segment's first record and
//!   the records that follow have the next ids, so ids are never stored per record. Records
//!   are appended to the last segment only; a new segment starts when the next record would
//!   take the last one over `segment_bytes` (a record bigger than that gets a segment of its
//!   own). Ids increase and may have gaps; an id is given again only if its record is no
//!   longer on disk (a torn or failed append, a damaged tail) and never below the cursor.
//! - `spool.state` — JSON: the ack cursor (every id below it was acknowledged or dropped) and
//!   the drop counters, replaced atomically (`spool.state.tmp`, fsync, rename, fsync of the
//!   directory).
//!
//! A record is a 12-byte header — magic `VGS1`, body length u32, CRC-32 of the first 8 header
//!  bytes and the body — then the body: boot id (u16 length, at most 256 bytes), first_seq
//! u64, count u32, the append time (u64 Unix milliseconds, for [`SpoolStats`]' pending age)
//! and the payload. Little-endian. A record is at most `2 * segment_bytes` long: a longer
//! batch is refused by `append`, and a longer length read from disk marks the record corrupt,
//! as does a length past the end of the file, so a corrupt length never allocates more than
//! the file holds.
//!
//! # Recovery
//!
//! [`Spool::open`] reads every segment and checks every record. In a segment the first bad
//! record (bad magic, length or CRC) ends the usable part:
//!
//! - in the last segment, if nothing intact follows it, it is a torn write (the append that
//!   wrote it never returned): the tail is truncated away, nothing is counted;
//! - otherwise the segment is damaged: the rest of it is skipped, logged with
//!   `tracing::warn!`, and counted as dropped — one batch for the bad record (its event count
//!   cannot be trusted) plus the intact records found after it by searching for the magic.
//!   The count is persisted, then the segment is truncated at the bad record, so that the next
//!   open does not count it again (a crash between the two counts it twice: drops are
//!   over-reported, never hidden). Appends continue in a new segment.
//!
//! Records below the persisted cursor count as acknowledged; segments that are wholly
//! acknowledged are deleted. New ids continue above both the last record and the cursor.
//! A record that fails its CRC when read back later (the disk rotted) is skipped by
//! `read_from` and counted as dropped, with its event count from the index.
//!
//! # Acknowledgements
//!
//! Acks may come in any order. The cursor moves over the contiguous acknowledged prefix and is
//! persisted lazily: on the first ack after at least 200 ms, on [`Spool::sync_cursor`] and on
//! drop. A segment whose records are all acknowledged is deleted at once, wherever it is,
//! except the last one, which is still being written (it goes when the next one starts).
//!
//! # Drop policy
//!
//! After an append, while the segments take more than `max_bytes`, the oldest segment is
//! deleted whole, acknowledged or not, and its unacknowledged batches and events are counted
//! as dropped. The counters are persisted before the files are removed, so a drop just before
//! a crash is still reported after the restart ([`Spool::take_dropped`]). The last segment is
//! never deleted while it is written; once it alone is over `max_bytes`, the next append
//! starts a new segment and it can go. So if `max_bytes` is smaller than one batch, that
//! batch is still stored, alone, until the next append replaces it. After an append the
//! spool holds at most `max(max_bytes, size of the last segment)`, and the last segment is
//! over `max_bytes` only by its last append.
//!
//! A full disk is not a reason to drop: an append that fails (ENOSPC or any I/O error)
//! returns [`SpoolError::Io`] naming the file, truncates what it wrote, and leaves the spool
//! as it was; the caller decides what to do with the batch.
//!
//! # Not handled
//!
//! One process at a time: the spool takes no lock on its directory, the owner must make sure
//! of that. Drops are counted when `take_dropped` is called; a crash between that call and the
//! report loses the count (the call is persisted so it is not reported twice).

use std::collections::VecDeque;
use std::fmt;
use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub(crate) mod format;
mod recover;
mod state;
#[cfg(test)]
mod tests;

use state::State;

/// Default bound on the spool's size: 256 MiB.
pub const DEFAULT_MAX_BYTES: u64 = 256 << 20;
/// Default segment size: 8 MiB.
pub const DEFAULT_SEGMENT_BYTES: u64 = 8 << 20;
/// The smallest `segment_bytes` accepted.
pub const MIN_SEGMENT_BYTES: u64 = 1024;
/// The cursor is written at most this often by `ack`.
const CURSOR_PERSIST_INTERVAL: Duration = Duration::from_millis(200);
/// Ids above this, in a file name or the state file, are not ours (they would overflow).
const MAX_ID: u64 = 1 << 62;
const SEGMENT_PREFIX: &str = "seg-";
const SEGMENT_SUFFIX: &str = ".spool";

/// Where the spool lives and how big it may grow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpoolOptions {
    /// The spool's own directory, created if missing.
    pub dir: PathBuf,
    /// Bound on the segments' total size; the oldest segments are dropped beyond it.
    /// Default [`DEFAULT_MAX_BYTES`]; must not be 0.
    pub max_bytes: u64,
    /// Size at which a new segment starts. Default [`DEFAULT_SEGMENT_BYTES`]; at least
    /// [`MIN_SEGMENT_BYTES`]. A batch may be at most twice this (record header included).
    /// Lowering it below half of a stored record makes that record read as corrupt.
    pub segment_bytes: u64,
}

impl SpoolOptions {
    /// Options with the default sizes.
    pub fn new(dir: impl Into<PathBuf>) -> SpoolOptions {
        SpoolOptions {
            dir: dir.into(),
            max_bytes: DEFAULT_MAX_BYTES,
            segment_bytes: DEFAULT_SEGMENT_BYTES,
        }
    }
}

/// One batch of events, as the spool stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpoolBatch {
    /// The agent boot the events come from (at most 256 bytes).
    pub boot_id: String,
    /// Sequence number of the first event.
    pub first_seq: u64,
    /// Number of events in the payload: what is counted when the batch is dropped.
    pub count: u32,
    /// Opaque bytes (a zstd-compressed protobuf payload).
    pub payload: Vec<u8>,
}

/// The position of a batch in the spool: increasing, with gaps (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SpoolId(u64);

impl SpoolId {
    /// The id as a number.
    pub fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for SpoolId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Batches and events lost: dropped at the size bound, or found damaged on disk.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DroppedCount {
    /// Events in the dropped batches. A damaged record adds a batch but no events (its count
    /// cannot be trusted), so this is a lower bound when damage was found.
    pub events: u64,
    pub batches: u64,
}

impl DroppedCount {
    /// Nothing dropped.
    pub fn is_zero(&self) -> bool {
        self.events == 0 && self.batches == 0
    }

    fn add(&mut self, other: DroppedCount) {
        self.events = self.events.saturating_add(other.events);
        self.batches = self.batches.saturating_add(other.batches);
    }
}

/// A snapshot of the spool for status reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpoolStats {
    /// Bytes of records in the segments (what `max_bytes` bounds).
    pub bytes_on_disk: u64,
    pub segments: usize,
    /// Batches not yet acknowledged.
    pub pending_batches: u64,
    pub pending_events: u64,
    /// Time since the oldest unacknowledged batch was appended (zero if the clock went back).
    pub oldest_pending_age: Option<Duration>,
    /// Dropped since the last `take_dropped`.
    pub dropped_unreported: DroppedCount,
    /// Dropped since the spool directory was created.
    pub dropped_total: DroppedCount,
}

/// A spool operation that failed.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What failed, e.g. "cannot write spool segment".
        action: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error("invalid spool options for {}: {reason}", dir.display())]
    InvalidOptions { dir: PathBuf, reason: String },
    #[error(
        "batch of {size} bytes does not fit a record of the spool in {} (the limit is {max} \
         bytes, twice segment_bytes)",
        dir.display()
    )]
    BatchTooLarge { dir: PathBuf, size: u64, max: u64 },
    #[error(
        "batch boot id of {len} bytes is over the limit of {max} bytes for the spool in {}",
        dir.display()
    )]
    BootIdTooLong {
        dir: PathBuf,
        len: usize,
        max: usize,
    },
    #[error("spool id {id} was never assigned by the spool in {} (the next id is {next})", dir.display())]
    UnknownId { dir: PathBuf, id: u64, next: u64 },
}

fn io_error(action: &'static str, path: &Path, source: io::Error) -> SpoolError {
    SpoolError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

/// The disk spool. Used by one thread at a time (wrap it in a `Mutex` to share it).
#[derive(Debug)]
pub struct Spool {
    opts: SpoolOptions,
    /// `min(2 * segment_bytes, 12 + u32::MAX)`.
    max_record: u64,
    /// Oldest first; ids ascending and disjoint. The last one is the one appended to.
    segments: VecDeque<Segment>,
    /// The id the next record gets.
    next_id: u64,
    /// The next append must start a new segment: the last one's ids do not continue at
    /// `next_id`, or its tail could not be cleaned up.
    roll: bool,
    /// Every id below it is acknowledged or dropped; it is the first pending id (or `next_id`).
    cursor: u64,
    pending_batches: u64,
    pending_events: u64,
    dropped_unreported: DroppedCount,
    dropped_total: DroppedCount,
    /// The cursor or the counters changed since the state file was written.
    state_dirty: bool,
    last_state_write: Option<Instant>,
    buf: Vec<u8>,
}

#[derive(Debug)]
struct Segment {
    first_id: u64,
    path: PathBuf,
    /// Bytes of intact records (the file is this long unless damage could not be truncated).
    len: u64,
    records: Vec<Record>,
    /// Records acknowledged or dropped.
    done: usize,
    /// Open for reading and writing while the segment is the last one; others are opened
    /// when read.
    file: Option<File>,
}

impl Segment {
    fn end_id(&self) -> u64 {
        self.first_id + self.records.len() as u64
    }

    fn fully_done(&self) -> bool {
        self.done == self.records.len()
    }
}

/// The index entry of a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Record {
    offset: u64,
    len: u64,
    count: u32,
    appended_ms: u64,
    /// Acknowledged or dropped.
    done: bool,
}

/// What `append_many` restores when it fails.
struct Checkpoint {
    segments: usize,
    active_len: u64,
    active_records: usize,
    next_id: u64,
    roll: bool,
    pending: (u64, u64),
}

impl Spool {
    /// Opens (or creates) the spool in `opts.dir` and recovers it: every segment is read and
    /// checked, a torn tail is truncated, damaged segments are cut and counted, the ack
    /// cursor is restored. See the module documentation.
    pub fn open(opts: SpoolOptions) -> Result<Spool, SpoolError> {
        if opts.segment_bytes < MIN_SEGMENT_BYTES {
            return Err(SpoolError::InvalidOptions {
                dir: opts.dir,
                reason: format!(
                    "segment_bytes is {}, below the minimum of {MIN_SEGMENT_BYTES}",
                    opts.segment_bytes
                ),
            });
        }
        if opts.max_bytes == 0 {
            return Err(SpoolError::InvalidOptions {
                dir: opts.dir,
                reason: "max_bytes is 0".to_owned(),
            });
        }
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&opts.dir)
            .map_err(|e| io_error("cannot create spool directory", &opts.dir, e))?;
        let max_record = opts
            .segment_bytes
            .saturating_mul(2)
            .min(format::HEADER_LEN + u64::from(u32::MAX));
        let loaded = state::load(&opts.dir)?;
        let listed = list_segments(&opts.dir)?;

        let mut buf = Vec::new();
        let mut scans = recover::scan_all(listed, max_record, &mut buf)?;
        recover::cut_overlaps(&mut scans);

        // Decide what each damage is, and count what is lost.
        let mut cursor = loaded.cursor.max(1);
        if cursor > MAX_ID {
            tracing::warn!(
                dir = %opts.dir.display(),
                cursor,
                "spool state has an impossible cursor; every spooled batch will be sent again"
            );
            cursor = 1;
        }
        let n = scans.len();
        let mut found = DroppedCount::default();
        let mut cuts = Vec::new(); // (segment index, offset, counted)
        for (
            i,
            recover::Found {
                first_id,
                path,
                scan,
                ..
            },
        ) in scans.iter().enumerate()
        {
            let Some(d) = &scan.damage else { continue };
            let mut lost = d.lost;
            if d.counts_bad_record && first_id + (scan.records.len() as u64) < cursor {
                // The bad record was acknowledged already: nothing is lost with it.
                lost.batches -= 1;
            }
            if i + 1 == n && d.torn {
                tracing::warn!(
                    path = %path.display(),
                    offset = d.offset,
                    reason = d.reason,
                    "spool segment ends with a torn record; truncating it"
                );
                cuts.push((i, d.offset, false));
            } else {
                tracing::warn!(
                    path = %path.display(),
                    offset = d.offset,
                    reason = d.reason,
                    dropped_batches = lost.batches,
                    dropped_events_at_least = lost.events,
                    "spool segment is damaged; skipping the rest of it"
                );
                found.add(lost);
                cuts.push((i, d.offset, true));
            }
        }

        let mut spool = Spool {
            max_record,
            segments: VecDeque::with_capacity(n),
            next_id: 1,
            roll: false,
            cursor,
            pending_batches: 0,
            pending_events: 0,
            dropped_unreported: loaded.unreported,
            dropped_total: loaded.total,
            state_dirty: false,
            last_state_write: None,
            buf,
            opts,
        };
        spool.dropped_unreported.add(found);
        spool.dropped_total.add(found);
        // Persist the count before cutting the damage away, so that it is reported even if
        // the process dies now. If it cannot be persisted, the damage stays (and is counted
        // again by the next open) rather than being lost.
        let counted_persisted = found.is_zero()
            || match spool.write_state() {
                Ok(()) => true,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot persist the spool's damage count");
                    spool.state_dirty = true;
                    false
                }
            };
        for (i, offset, counted) in cuts {
            let last = i + 1 == n;
            let recover::Found { path, file, .. } = &scans[i];
            if counted && !counted_persisted {
                spool.roll |= last;
                continue;
            }
            if let Err(e) = file.set_len(offset).and_then(|()| file.sync_all()) {
                tracing::warn!(path = %path.display(), error = %e, "cannot truncate spool segment");
                spool.roll |= last;
            }
            // Appending after damage could reuse the ids of the skipped records.
            spool.roll |= last && counted;
        }

        for (i, found) in scans.into_iter().enumerate() {
            let recover::Found {
                first_id,
                path,
                file,
                scan,
            } = found;
            let last = i + 1 == n;
            let mut records = scan.records;
            let mut done = 0;
            for (k, r) in records.iter_mut().enumerate() {
                r.done = first_id + (k as u64) < cursor;
                done += usize::from(r.done);
            }
            let seg = Segment {
                first_id,
                path,
                len: scan.valid_len,
                records,
                done,
                file: last.then_some(file),
            };
            if !last && seg.fully_done() {
                remove_segment_file(&seg.path);
                continue;
            }
            spool.pending_batches += (seg.records.len() - seg.done) as u64;
            spool.pending_events += seg
                .records
                .iter()
                .filter(|r| !r.done)
                .map(|r| u64::from(r.count))
                .sum::<u64>();
            spool.segments.push_back(seg);
        }
        let last_end = spool.segments.back().map_or(1, Segment::end_id);
        spool.next_id = last_end.max(spool.cursor).max(1);
        spool.roll |= spool.segments.is_empty() || last_end != spool.next_id;
        spool.advance_cursor();
        Ok(spool)
    }

    /// Appends one batch; see [`Spool::append_many`].
    pub fn append(&mut self, batch: &SpoolBatch) -> Result<SpoolId, SpoolError> {
        let ids = self.append_many(std::slice::from_ref(batch))?;
        // append_many returns one id per batch.
        Ok(ids[0])
    }

    /// Appends batches in order and syncs them to disk before returning their ids: one
    /// `fdatasync`, plus one per new segment started on the way and a directory sync for it. Then, if the spool is over `max_bytes`,
    /// drops the oldest segments (see the module documentation).
    ///
    /// Nothing is written if a batch is invalid (boot id over 256 bytes, record over twice
    /// `segment_bytes`). If writing fails (a full disk), everything this call wrote is
    /// truncated away and the error names the file; earlier batches are untouched.
    pub fn append_many(&mut self, batches: &[SpoolBatch]) -> Result<Vec<SpoolId>, SpoolError> {
        for b in batches {
            self.check_batch(b)?;
        }
        if batches.is_empty() {
            return Ok(Vec::new());
        }
        let checkpoint = Checkpoint {
            segments: self.segments.len(),
            active_len: self.segments.back().map_or(0, |s| s.len),
            active_records: self.segments.back().map_or(0, |s| s.records.len()),
            next_id: self.next_id,
            roll: self.roll,
            pending: (self.pending_batches, self.pending_events),
        };
        let mut ids = Vec::with_capacity(batches.len());
        if let Err(e) = self.write_batches(batches, unix_ms(), &mut ids) {
            self.rollback(checkpoint);
            return Err(e);
        }
        // Only the last segment keeps its file open.
        let n = self.segments.len();
        for seg in self
            .segments
            .iter_mut()
            .take(n - 1)
            .skip(checkpoint.segments.saturating_sub(1))
        {
            seg.file = None;
        }
        self.enforce_bound();
        self.remove_done_segments();
        self.trim_buf();
        Ok(ids)
    }

    /// Up to `max` unacknowledged batches after `after` (None: from the oldest unacknowledged
    /// one), in order. A batch that was read before and not acknowledged yet is returned again
    /// when asked for; records that fail their CRC are skipped and counted as dropped.
    pub fn read_from(
        &mut self,
        after: Option<SpoolId>,
        max: usize,
    ) -> Result<Vec<(SpoolId, SpoolBatch)>, SpoolError> {
        let start = match after {
            Some(a) => a.0.saturating_add(1).max(self.cursor),
            None => self.cursor,
        };
        let mut out = Vec::new();
        let mut lost = Vec::new();
        let mut buf = std::mem::take(&mut self.buf);
        let read = self.read_into(start, max, &mut buf, &mut out, &mut lost);
        self.buf = buf;
        self.trim_buf();
        if !lost.is_empty() {
            for &(id, reason) in &lost {
                tracing::warn!(
                    dir = %self.opts.dir.display(),
                    id,
                    reason,
                    "spooled batch cannot be read back; counting it as dropped"
                );
                self.drop_record(id);
            }
            if let Err(e) = self.write_state() {
                tracing::warn!(error = %e, "cannot persist the spool's drop count");
            }
        }
        read.map(|()| out)
    }

    /// Marks a batch as delivered. Acks may come in any order and more than once; acks of
    /// dropped batches are ignored. Returns an error only for an id never assigned, or when
    /// the cursor is due to be persisted and cannot be (the ack itself is kept).
    pub fn ack(&mut self, id: SpoolId) -> Result<(), SpoolError> {
        if id.0 >= self.next_id {
            return Err(SpoolError::UnknownId {
                dir: self.opts.dir.clone(),
                id: id.0,
                next: self.next_id,
            });
        }
        if let Some((si, ri)) = self.locate(id.0) {
            self.complete(si, ri);
        }
        let due = self
            .last_state_write
            .is_none_or(|t| t.elapsed() >= CURSOR_PERSIST_INTERVAL);
        if self.state_dirty && due {
            self.write_state()?;
        }
        Ok(())
    }

    /// Persists the cursor now if it moved since it was last written.
    pub fn sync_cursor(&mut self) -> Result<(), SpoolError> {
        if self.state_dirty {
            self.write_state()?;
        }
        Ok(())
    }

    /// The batches and events dropped since the last call (including before a restart).
    /// The reset is persisted at once; if that fails it is logged, and the same drops may be
    /// reported again after a restart.
    pub fn take_dropped(&mut self) -> DroppedCount {
        let taken = std::mem::take(&mut self.dropped_unreported);
        if !taken.is_zero() {
            if let Err(e) = self.write_state() {
                tracing::warn!(error = %e, "cannot persist the spool's drop count");
                self.state_dirty = true;
            }
        }
        taken
    }

    /// Sizes and counters, without I/O.
    pub fn stats(&self) -> SpoolStats {
        let oldest_pending_age = self.locate(self.cursor).map(|(si, ri)| {
            let appended = self.segments[si].records[ri].appended_ms;
            Duration::from_millis(unix_ms().saturating_sub(appended))
        });
        SpoolStats {
            bytes_on_disk: self.segments.iter().map(|s| s.len).sum(),
            segments: self.segments.len(),
            pending_batches: self.pending_batches,
            pending_events: self.pending_events,
            oldest_pending_age,
            dropped_unreported: self.dropped_unreported,
            dropped_total: self.dropped_total,
        }
    }

    fn check_batch(&self, batch: &SpoolBatch) -> Result<(), SpoolError> {
        if batch.boot_id.len() > format::MAX_BOOT_ID_LEN {
            return Err(SpoolError::BootIdTooLong {
                dir: self.opts.dir.clone(),
                len: batch.boot_id.len(),
                max: format::MAX_BOOT_ID_LEN,
            });
        }
        let size = format::encoded_len(batch);
        if size > self.max_record {
            return Err(SpoolError::BatchTooLarge {
                dir: self.opts.dir.clone(),
                size,
                max: self.max_record,
            });
        }
        Ok(())
    }

    /// Writes the batches, starting segments as needed, then syncs the last one. On error the
    /// caller rolls back.
    fn write_batches(
        &mut self,
        batches: &[SpoolBatch],
        now_ms: u64,
        ids: &mut Vec<SpoolId>,
    ) -> Result<(), SpoolError> {
        let mut rest = batches;
        while let Some(first) = rest.first() {
            if self.needs_roll(format::encoded_len(first)) {
                self.sync_active()?;
                self.roll_segment()?;
            }
            let segment_bytes = self.opts.segment_bytes;
            let seg = self
                .segments
                .back_mut()
                .expect("roll_segment leaves a last segment");
            debug_assert_eq!(seg.end_id(), self.next_id);
            let base = seg.len;
            self.buf.clear();
            let mut new = Vec::new();
            for b in rest {
                let len = format::encoded_len(b);
                let offset = base + self.buf.len() as u64;
                if !new.is_empty() && offset + len > segment_bytes {
                    break;
                }
                format::encode(b, now_ms, &mut self.buf);
                new.push(Record {
                    offset,
                    len,
                    count: b.count,
                    appended_ms: now_ms,
                    done: false,
                });
            }
            let file = seg.file.as_ref().expect("the last segment is open");
            file.write_all_at(&self.buf, base)
                .map_err(|e| io_error("cannot write spool segment", &seg.path, e))?;
            seg.len += self.buf.len() as u64;
            rest = &rest[new.len()..];
            for r in new {
                ids.push(SpoolId(seg.end_id()));
                self.pending_batches += 1;
                self.pending_events += u64::from(r.count);
                seg.records.push(r);
            }
            self.next_id = seg.end_id();
        }
        self.sync_active()
    }

    fn needs_roll(&self, record_len: u64) -> bool {
        self.roll
            || match self.segments.back() {
                None => true,
                Some(s) => {
                    s.file.is_none() || (s.len > 0 && s.len + record_len > self.opts.segment_bytes)
                }
            }
    }

    fn sync_active(&self) -> Result<(), SpoolError> {
        match self.segments.back() {
            Some(Segment {
                file: Some(f),
                path,
                ..
            }) => f
                .sync_data()
                .map_err(|e| io_error("cannot sync spool segment", path, e)),
            _ => Ok(()),
        }
    }

    /// Starts a segment at `next_id`. The previous one keeps its handle until the append
    /// succeeds (the rollback may need it).
    fn roll_segment(&mut self) -> Result<(), SpoolError> {
        let path = segment_path(&self.opts.dir, self.next_id);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| io_error("cannot create spool segment", &path, e))?;
        self.segments.push_back(Segment {
            first_id: self.next_id,
            path,
            len: 0,
            records: Vec::new(),
            done: 0,
            file: Some(file),
        });
        self.roll = false;
        state::sync_dir(&self.opts.dir)
    }

    /// Undoes a failed `append_many`: removes the segments it started and truncates the one
    /// that was last. If the disk refuses even that, ids are not reused and the next append
    /// starts a new segment.
    fn rollback(&mut self, cp: Checkpoint) {
        let mut clean = true;
        while self.segments.len() > cp.segments {
            let Some(seg) = self.segments.pop_back() else {
                break;
            };
            drop(seg.file);
            if let Err(e) = fs::remove_file(&seg.path) {
                if e.kind() != io::ErrorKind::NotFound {
                    tracing::warn!(path = %seg.path.display(), error = %e, "cannot remove spool segment");
                    clean = false;
                }
            }
        }
        if let Some(seg) = self.segments.back_mut() {
            seg.records.truncate(cp.active_records);
            seg.len = cp.active_len;
            // With `roll` set, this call never wrote to it (and it may hold damage that is
            // kept on purpose).
            if !cp.roll {
                if let Some(f) = &seg.file {
                    if let Err(e) = f.set_len(cp.active_len) {
                        tracing::warn!(path = %seg.path.display(), error = %e, "cannot truncate spool segment");
                        clean = false;
                    }
                }
            }
        }
        (self.pending_batches, self.pending_events) = cp.pending;
        if clean {
            self.next_id = cp.next_id;
            self.roll = cp.roll;
        } else {
            self.roll = true;
        }
    }

    /// Drops the oldest segments while over `max_bytes`, never the last one. The drop count
    /// and the cursor past the dropped ids are persisted before the files go; if they cannot
    /// be, nothing is dropped this time.
    fn enforce_bound(&mut self) {
        let mut total: u64 = self.segments.iter().map(|s| s.len).sum();
        if total <= self.opts.max_bytes {
            return;
        }
        if self.segments.len() == 1 {
            self.close_active_if_over(total);
            return;
        }
        let mut victims = 0;
        let mut lost = DroppedCount::default();
        while victims + 1 < self.segments.len() && total > self.opts.max_bytes {
            let seg = &self.segments[victims];
            total -= seg.len;
            for r in seg.records.iter().filter(|r| !r.done) {
                lost.add(DroppedCount {
                    events: u64::from(r.count),
                    batches: 1,
                });
            }
            victims += 1;
        }
        let saved = (self.cursor, self.dropped_unreported, self.dropped_total);
        self.cursor = self.cursor.max(self.segments[victims].first_id);
        self.dropped_unreported.add(lost);
        self.dropped_total.add(lost);
        if let Err(e) = self.write_state() {
            tracing::warn!(error = %e, "cannot persist the spool's drop count; not dropping yet");
            (self.cursor, self.dropped_unreported, self.dropped_total) = saved;
            return;
        }
        tracing::warn!(
            dir = %self.opts.dir.display(),
            max_bytes = self.opts.max_bytes,
            segments = victims,
            dropped_batches = lost.batches,
            dropped_events = lost.events,
            "spool is full; dropped the oldest batches"
        );
        for seg in self.segments.drain(..victims) {
            remove_segment_file(&seg.path);
        }
        self.pending_batches -= lost.batches;
        self.pending_events -= lost.events;
        self.advance_cursor();
        self.close_active_if_over(total);
    }

    /// When the last segment alone is over `max_bytes` (a small bound, or a big batch), the
    /// next append starts a new segment, so that this one can be dropped whole.
    fn close_active_if_over(&mut self, total: u64) {
        if total > self.opts.max_bytes {
            self.roll = true;
        }
    }

    /// Deletes every segment but the last whose records are all acknowledged or dropped.
    fn remove_done_segments(&mut self) {
        let last = self.segments.len().saturating_sub(1);
        let mut i = 0;
        self.segments.retain(|seg| {
            let keep = i == last || !seg.fully_done();
            i += 1;
            if !keep {
                remove_segment_file(&seg.path);
            }
            keep
        });
    }

    /// The segment and record index of `id`, if it is in the index.
    fn locate(&self, id: u64) -> Option<(usize, usize)> {
        let si = self
            .segments
            .partition_point(|s| s.first_id <= id)
            .checked_sub(1)?;
        let ri = usize::try_from(id - self.segments[si].first_id).ok()?;
        (ri < self.segments[si].records.len()).then_some((si, ri))
    }

    /// Marks a record acknowledged or dropped: moves the cursor, deletes its segment if that
    /// finished it (unless it is the last).
    fn complete(&mut self, si: usize, ri: usize) {
        let seg = &mut self.segments[si];
        let rec = &mut seg.records[ri];
        if rec.done {
            return;
        }
        rec.done = true;
        seg.done += 1;
        self.pending_batches -= 1;
        self.pending_events -= u64::from(rec.count);
        let id = seg.first_id + ri as u64;
        let finished = seg.fully_done() && si + 1 < self.segments.len();
        if finished {
            if let Some(seg) = self.segments.remove(si) {
                remove_segment_file(&seg.path);
            }
        }
        if id == self.cursor {
            self.advance_cursor();
            self.state_dirty = true;
        }
    }

    /// Counts a record as dropped (it could not be read back) and completes it.
    fn drop_record(&mut self, id: u64) {
        let Some((si, ri)) = self.locate(id) else {
            return;
        };
        let rec = self.segments[si].records[ri];
        if rec.done {
            return;
        }
        let lost = DroppedCount {
            events: u64::from(rec.count),
            batches: 1,
        };
        self.dropped_unreported.add(lost);
        self.dropped_total.add(lost);
        self.state_dirty = true;
        self.complete(si, ri);
    }

    /// Moves the cursor to the first pending record at or after it (or `next_id`).
    fn advance_cursor(&mut self) {
        loop {
            let si = self.segments.partition_point(|s| s.end_id() <= self.cursor);
            let Some(seg) = self.segments.get(si) else {
                self.cursor = self.cursor.max(self.next_id);
                return;
            };
            self.cursor = self.cursor.max(seg.first_id);
            let from = (self.cursor - seg.first_id) as usize;
            match seg.records[from..].iter().position(|r| !r.done) {
                Some(p) => {
                    self.cursor += p as u64;
                    return;
                }
                None => self.cursor = seg.end_id(),
            }
        }
    }

    fn read_into(
        &self,
        start: u64,
        max: usize,
        buf: &mut Vec<u8>,
        out: &mut Vec<(SpoolId, SpoolBatch)>,
        lost: &mut Vec<(u64, &'static str)>,
    ) -> Result<(), SpoolError> {
        let first_si = self.segments.partition_point(|s| s.end_id() <= start);
        for seg in self.segments.iter().skip(first_si) {
            if out.len() >= max {
                break;
            }
            let from = start.saturating_sub(seg.first_id) as usize;
            if seg.records[from..].iter().all(|r| r.done) {
                continue;
            }
            let opened;
            let file = match &seg.file {
                Some(f) => f,
                None => match File::open(&seg.path) {
                    Ok(f) => {
                        opened = f;
                        &opened
                    }
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {
                        // Removed behind our back: its batches are lost, and counted.
                        for (k, r) in seg.records.iter().enumerate().skip(from) {
                            if !r.done {
                                lost.push((seg.first_id + k as u64, "segment file is missing"));
                            }
                        }
                        continue;
                    }
                    Err(e) => return Err(io_error("cannot open spool segment", &seg.path, e)),
                },
            };
            for (k, r) in seg.records.iter().enumerate().skip(from) {
                if out.len() >= max {
                    break;
                }
                if r.done {
                    continue;
                }
                let id = seg.first_id + k as u64;
                let read = format::read_record_at(file, r.offset, seg.len, self.max_record, buf)
                    .map_err(|e| io_error("cannot read spool segment", &seg.path, e))?;
                match read {
                    Ok(info) if info.len == r.len => match format::decode(buf) {
                        Some(batch) => out.push((SpoolId(id), batch)),
                        None => lost.push((id, "record cannot be decoded")),
                    },
                    Ok(_) => lost.push((id, "record length changed")),
                    Err(reason) => lost.push((id, reason)),
                }
            }
        }
        Ok(())
    }

    /// The buffer grows to the largest record (or write) seen; do not keep megabytes around.
    fn trim_buf(&mut self) {
        if self.buf.capacity() > 1 << 20 {
            self.buf = Vec::new();
        }
    }

    fn write_state(&mut self) -> Result<(), SpoolError> {
        let state = State {
            cursor: self.cursor,
            unreported: self.dropped_unreported,
            total: self.dropped_total,
        };
        state::store(&self.opts.dir, &state)?;
        self.state_dirty = false;
        self.last_state_write = Some(Instant::now());
        Ok(())
    }
}

impl Drop for Spool {
    /// Persists the cursor if it moved (best effort: a failure is logged, and at worst a few
    /// acknowledged batches are sent again).
    fn drop(&mut self) {
        if self.state_dirty {
            if let Err(e) = self.write_state() {
                tracing::warn!(error = %e, "cannot persist the spool cursor on close");
            }
        }
    }
}

fn segment_path(dir: &Path, first_id: u64) -> PathBuf {
    dir.join(format!("{SEGMENT_PREFIX}{first_id:020}{SEGMENT_SUFFIX}"))
}

/// The segments in `dir`, by first id. Other files are left alone, except a leftover
/// temporary state file.
fn list_segments(dir: &Path) -> Result<Vec<(u64, PathBuf)>, SpoolError> {
    let entries = fs::read_dir(dir).map_err(|e| io_error("cannot list spool directory", dir, e))?;
    let mut segments = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| io_error("cannot list spool directory", dir, e))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if name == state::STATE_TMP {
            let _ = fs::remove_file(entry.path());
            continue;
        }
        let id = name
            .strip_prefix(SEGMENT_PREFIX)
            .and_then(|s| s.strip_suffix(SEGMENT_SUFFIX))
            .filter(|s| s.len() == 20 && s.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|s| s.parse::<u64>().ok());
        match id {
            Some(id) if id <= MAX_ID => segments.push((id, entry.path())),
            Some(_) => {
                tracing::warn!(path = %entry.path().display(), "ignoring spool segment with an impossible id")
            }
            None => {}
        }
    }
    segments.sort_unstable();
    Ok(segments)
}

fn remove_segment_file(path: &Path) {
    if let Err(e) = fs::remove_file(path) {
        if e.kind() != io::ErrorKind::NotFound {
            tracing::warn!(path = %path.display(), error = %e, "cannot remove spool segment");
        }
    }
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
