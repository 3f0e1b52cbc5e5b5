//! The bounds of one scan, against archive bombs, deep nesting and slow rules.
//!
//! Invariant: every bound applies to the whole scan (all archive levels together), and is
//! checked while bytes are produced (decompression stops at the bound), never only on the
//! sizes an archive declares.

use std::time::Duration;

/// The bounds of one scan. `Limits::default()` holds the defaults documented on each field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Open archives and scan their members (default true). When false, an archive is
    /// scanned as the bytes it is, like any other file.
    pub open_archives: bool,
    /// Deepest archive nesting opened: the file is level 0, members of an archive at level
    /// `n` are at `n + 1`; an archive at `max_depth` is not opened. Default 8.
    pub max_depth: u32,
    /// Bytes extracted from archives over the whole scan. Default 256 MiB.
    pub max_total_bytes: u64,
    /// Largest inflation of one compressed member (uncompressed / compressed). Default 100.
    pub max_ratio: u64,
    /// Members below this uncompressed size are not held to `max_ratio` (a small file of
    /// repeated bytes is no bomb). Default 1 MiB.
    pub ratio_floor: u64,
    /// Archive members over the whole scan. Default 10,000.
    pub max_entries: u64,
    /// Largest file read for scanning (the top-level file). Default 256 MiB.
    pub max_file_bytes: u64,
    /// Wall-clock budget of the whole scan; also YARA-X's per-object timeout (which counts in
    /// whole seconds). Default 60 s.
    pub deadline: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            open_archives: true,
            max_depth: 8,
            max_total_bytes: 256 << 20,
            max_ratio: 100,
            ratio_floor: 1 << 20,
            max_entries: 10_000,
            max_file_bytes: 256 << 20,
            deadline: Duration::from_secs(60),
        }
    }
}
