//! The running account of one scan against its `Limits`: members seen, bytes extracted,
//! time spent; and the reasons a scan stops early.
//!
//! Invariant: bytes are counted as they are produced by a decompressor; a member is read
//! at most one byte past the bound that stops it, whatever sizes its archive declares.

use std::io::Read;
use std::time::Instant;

use crate::limits::Limits;
use crate::result::{Detection, Limit, RuleMatch};

/// Read granularity while extracting; the deadline is checked between chunks.
const CHUNK: usize = 64 << 10;

/// Why a scan stopped before it had seen every object.
#[derive(Debug)]
pub(crate) enum Stop {
    Found(Box<Detection>, Vec<RuleMatch>),
    Limit(Limit, String),
    Failed(String),
}

/// The account of one scan.
pub(crate) struct Budget<'l> {
    pub limits: &'l Limits,
    pub start: Instant,
    pub deadline: Instant,
    pub entries: u64,
    pub extracted: u64,
    pub objects: u32,
    pub bytes_scanned: u64,
    /// Members that could not be read whole (damaged, encrypted, unsupported compression).
    pub skipped: u32,
}

impl<'l> Budget<'l> {
    pub fn new(limits: &'l Limits) -> Self {
        let start = Instant::now();
        Budget {
            limits,
            start,
            deadline: start
                .checked_add(limits.deadline)
                .unwrap_or(start + std::time::Duration::from_secs(86_400 * 365)),
            entries: 0,
            extracted: 0,
            objects: 0,
            bytes_scanned: 0,
            skipped: 0,
        }
    }

    pub fn check_deadline(&self) -> Result<(), Stop> {
        if Instant::now() >= self.deadline {
            return Err(Stop::Limit(
                Limit::Deadline,
                format!("scan ran past its deadline of {:?}", self.limits.deadline),
            ));
        }
        Ok(())
    }

    /// Counts `n` archive members (called before any of them is read).
    pub fn take_entries(&mut self, n: u64, archive: &str) -> Result<(), Stop> {
        self.entries = self.entries.saturating_add(n);
        if self.entries > self.limits.max_entries {
            return Err(Stop::Limit(
                Limit::Entries,
                format!(
                    "{archive}: more than {} archive members in this scan",
                    self.limits.max_entries
                ),
            ));
        }
        Ok(())
    }

    /// Entries still allowed in this scan.
    pub fn entries_left(&self) -> u64 {
        self.limits.max_entries.saturating_sub(self.entries)
    }

    /// Reads one member to its end within the bounds: the scan's extraction budget and, for
    /// a compressed member (`compressed` = its compressed size), the ratio bound.
    /// A read error (damaged data) ends the member: what was read is returned and the member
    /// counted as skipped.
    pub fn read_member(
        &mut self,
        reader: &mut dyn Read,
        compressed: Option<u64>,
        name: &str,
    ) -> Result<Vec<u8>, Stop> {
        let limits = self.limits;
        let total_left = limits.max_total_bytes.saturating_sub(self.extracted);
        let ratio_cap =
            compressed.map(|c| c.saturating_mul(limits.max_ratio).max(limits.ratio_floor));
        let mut out: Vec<u8> = Vec::new();
        loop {
            self.check_deadline()?;
            let old = out.len();
            out.resize(old + CHUNK, 0);
            let n = match reader.read(&mut out[old..]) {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {
                    out.truncate(old);
                    continue;
                }
                Err(_) => {
                    out.truncate(old);
                    self.skipped += 1;
                    break;
                }
            };
            out.truncate(old + n);
            let produced = out.len() as u64;
            if let (Some(cap), Some(c)) = (ratio_cap, compressed) {
                if produced > cap {
                    return Err(Stop::Limit(
                        Limit::Ratio,
                        format!(
                            "{name}: inflates past {produced} bytes from {c} compressed (more than {}:1)",
                            limits.max_ratio
                        ),
                    ));
                }
            }
            if produced > total_left {
                return Err(Stop::Limit(
                    Limit::TotalBytes,
                    format!(
                        "{name}: more than {} bytes extracted in this scan",
                        limits.max_total_bytes
                    ),
                ));
            }
            if n == 0 {
                break;
            }
        }
        self.extracted += out.len() as u64;
        Ok(out)
    }
}
