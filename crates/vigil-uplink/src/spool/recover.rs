//! Scanning a segment at open: the intact prefix, and what lies after the first bad record.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;

use super::format::{self, MAGIC};
use super::{io_error, DroppedCount, Record, SpoolError};

/// A segment file, open, and what it holds.
#[derive(Debug)]
pub(super) struct Found {
    pub first_id: u64,
    pub path: PathBuf,
    pub file: File,
    pub scan: Scan,
}

/// Opens and scans the segments (sorted by first id).
pub(super) fn scan_all(
    listed: Vec<(u64, PathBuf)>,
    max_record: u64,
    buf: &mut Vec<u8>,
) -> Result<Vec<Found>, SpoolError> {
    let mut found = Vec::with_capacity(listed.len());
    for (first_id, path) in listed {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| io_error("cannot open spool segment", &path, e))?;
        let scan = scan(&file, max_record, buf)
            .map_err(|e| io_error("cannot read spool segment", &path, e))?;
        found.push(Found {
            first_id,
            path,
            file,
            scan,
        });
    }
    Ok(found)
}

/// A segment's ids must end where the next one starts. Records beyond that (never written by
/// this code: a file copied in, a name changed) become damage, cut and counted like any other.
pub(super) fn cut_overlaps(segments: &mut [Found]) {
    for i in 1..segments.len() {
        let next_first = segments[i].first_id;
        let Found {
            first_id,
            path,
            scan,
            ..
        } = &mut segments[i - 1];
        let allowed = usize::try_from(next_first.saturating_sub(*first_id)).unwrap_or(usize::MAX);
        if scan.records.len() <= allowed {
            continue;
        }
        let mut lost = scan
            .damage
            .as_ref()
            .map_or(DroppedCount::default(), |d| d.lost);
        for r in &scan.records[allowed..] {
            lost.add(DroppedCount {
                events: u64::from(r.count),
                batches: 1,
            });
        }
        let offset = scan.records[allowed].offset;
        tracing::warn!(
            path = %path.display(),
            offset,
            "spool segment ids overlap the next segment"
        );
        scan.records.truncate(allowed);
        scan.valid_len = offset;
        scan.damage = Some(Damage {
            offset,
            reason: "record ids overlap the next segment",
            lost,
            torn: false,
            counts_bad_record: false,
        });
    }
}

/// A segment as found on disk.
#[derive(Debug)]
pub(super) struct Scan {
    /// The records before the first bad one, in order.
    pub records: Vec<Record>,
    /// Where the intact prefix ends.
    pub valid_len: u64,
    /// The first bad record, if the file does not end with an intact record.
    pub damage: Option<Damage>,
}

/// A bad record and what it takes with it.
#[derive(Debug)]
pub(super) struct Damage {
    pub offset: u64,
    pub reason: &'static str,
    /// What is lost if the segment is cut at `offset`: one batch for the bad record (its
    /// event count cannot be trusted) and the intact records found after it by searching for
    /// the magic.
    pub lost: DroppedCount,
    /// Nothing intact follows the bad record: in the last segment, a torn write.
    pub torn: bool,
    /// `lost` includes one batch for a bad record whose id is the one after the intact
    /// prefix (not so for damage made of intact records whose ids overlap the next segment).
    pub counts_bad_record: bool,
}

/// Reads every record of `file` until the first bad one.
pub(super) fn scan(file: &File, max_record: u64, buf: &mut Vec<u8>) -> io::Result<Scan> {
    let file_len = file.metadata()?.len();
    let mut records = Vec::new();
    let mut offset = 0;
    while offset < file_len {
        match format::read_record_at(file, offset, file_len, max_record, buf)? {
            Ok(info) => {
                records.push(Record {
                    offset,
                    len: info.len,
                    count: info.count,
                    appended_ms: info.appended_ms,
                    done: false,
                });
                offset += info.len;
            }
            Err(reason) => {
                let later = count_intact_after(file, offset + 1, file_len, max_record, buf)?;
                return Ok(Scan {
                    records,
                    valid_len: offset,
                    damage: Some(Damage {
                        offset,
                        reason,
                        lost: DroppedCount {
                            events: later.events,
                            batches: later.batches + 1,
                        },
                        torn: later.is_zero(),
                        counts_bad_record: true,
                    }),
                });
            }
        }
    }
    Ok(Scan {
        records,
        valid_len: offset,
        damage: None,
    })
}

/// Counts the intact records (and their events) from `from` to `end`, resynchronising on the
/// magic after every bad one. A random match of the magic inside a payload only counts if
/// its length and CRC also check out.
fn count_intact_after(
    file: &File,
    from: u64,
    end: u64,
    max_record: u64,
    buf: &mut Vec<u8>,
) -> io::Result<DroppedCount> {
    let mut found = DroppedCount::default();
    let mut pos = from;
    let mut chunk = Vec::new();
    while let Some(at) = find_magic(file, pos, end, &mut chunk)? {
        match format::read_record_at(file, at, end, max_record, buf)? {
            Ok(info) => {
                found.batches += 1;
                found.events += u64::from(info.count);
                pos = at + info.len;
            }
            Err(_) => pos = at + 1,
        }
    }
    Ok(found)
}

/// The first offset in `from..end` where the magic starts, read in 64 KiB chunks.
fn find_magic(file: &File, from: u64, end: u64, chunk: &mut Vec<u8>) -> io::Result<Option<u64>> {
    const CHUNK: u64 = 64 * 1024;
    let magic = MAGIC.to_le_bytes();
    let mut pos = from;
    while pos + 4 <= end {
        let n = CHUNK.min(end - pos) as usize;
        chunk.resize(n, 0);
        file.read_exact_at(chunk, pos)?;
        if let Some(i) = chunk.windows(4).position(|w| w == magic) {
            return Ok(Some(pos + i as u64));
        }
        if pos + n as u64 >= end {
            break;
        }
        // Keep the last 3 bytes: the magic may straddle two chunks.
        pos += n as u64 - 3;
    }
    Ok(None)
}
