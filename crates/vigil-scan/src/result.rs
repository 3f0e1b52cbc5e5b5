//! What a scan returns: the verdict, what decided it, and how long it took.
//!
//! Invariants: a `ScanResult` always carries a verdict (a scan never panics or returns
//! nothing); a `Malicious` verdict names the object that matched (`outer.zip!inner.tar!x.sh`)
//! and the rule or hash list that decided; `LimitExceeded` names the one limit that stopped
//! the scan. A detection found before a limit was hit wins over the limit.

use std::fmt;
use std::time::Duration;

/// How bad a detection is, ordered from least to most severe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    /// Parses the `severity` metadata of a rule (`low`, `medium`, `high`, `critical`,
    /// case-insensitive; `informational` counts as low).
    pub fn parse(text: &str) -> Option<Severity> {
        match text.trim().to_ascii_lowercase().as_str() {
            "low" | "informational" | "info" => Some(Severity::Low),
            "medium" | "moderate" => Some(Severity::Medium),
            "high" => Some(Severity::High),
            "critical" | "severe" => Some(Severity::Critical),
            _ => None,
        }
    }

    /// Maps a 0–100 `score` (the convention of LOKI/THOR rule sets) onto a severity.
    pub fn from_score(score: i64) -> Severity {
        match score {
            i64::MIN..=39 => Severity::Low,
            40..=69 => Severity::Medium,
            70..=89 => Severity::High,
            _ => Severity::Critical,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What decided a malicious verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DetectionSource {
    /// A YARA rule matched.
    Rule,
    /// The object's SHA-256 is on the block list.
    BlockList,
}

/// A rule that matched one scanned object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleMatch {
    /// The rule's namespace: the rule file it came from (`team/webshells`, `ops0/apt_x`).
    pub namespace: String,
    /// The rule identifier.
    pub rule: String,
    /// The threat name: the rule's `threat` metadata, else its identifier.
    pub threat: String,
    pub severity: Severity,
    /// The ATT&CK technique of the rule's `attack` metadata, if any.
    pub technique: Option<String>,
}

/// A malicious verdict: what was found, where and by what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detection {
    pub threat: String,
    /// The rule identifier, or `sha256:<hex>` for a block-list hit.
    pub rule: String,
    pub severity: Severity,
    pub technique: Option<String>,
    pub source: DetectionSource,
    /// Where the matching object is: the file itself, or its path inside archives joined with
    /// `!` (`outer.zip!inner.tar!evil.sh`).
    pub object: String,
    /// The interpreter named by the matching object's shebang, if it is a script.
    pub interpreter: Option<String>,
}

/// A scan limit; `LimitExceeded` names the one that stopped the scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Limit {
    /// Archives nested deeper than `Limits::max_depth`.
    Depth,
    /// More bytes extracted from archives than `Limits::max_total_bytes`.
    TotalBytes,
    /// A compressed member inflating beyond `Limits::max_ratio` times its compressed size.
    Ratio,
    /// More archive members than `Limits::max_entries`.
    Entries,
    /// The scan ran past `Limits::deadline` (wall clock, or YARA-X's timeout).
    Deadline,
    /// The file itself is larger than `Limits::max_file_bytes`.
    FileSize,
}

impl Limit {
    pub fn as_str(self) -> &'static str {
        match self {
            Limit::Depth => "max_depth",
            Limit::TotalBytes => "max_total_bytes",
            Limit::Ratio => "max_ratio",
            Limit::Entries => "max_entries",
            Limit::Deadline => "deadline",
            Limit::FileSize => "max_file_bytes",
        }
    }
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The outcome of one scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing matched and every object was scanned within the limits.
    Clean,
    Malicious(Detection),
    /// The file's SHA-256 is on the allow list: it was not scanned.
    Allowed,
    /// The file could not be read or scanned; `reason` says why.
    Error {
        reason: String,
    },
    /// A limit stopped the scan before every object was scanned (nothing matched before).
    LimitExceeded {
        which: Limit,
        detail: String,
    },
}

impl Verdict {
    pub fn is_malicious(&self) -> bool {
        matches!(self, Verdict::Malicious(_))
    }
}

/// The result of scanning one file or buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanResult {
    /// The name given to the scan: the file's path, or the name passed to `scan_bytes`.
    pub target: String,
    pub verdict: Verdict,
    /// Every rule that matched the object that decided (the highest severity is the verdict).
    pub matches: Vec<RuleMatch>,
    /// SHA-256 of the top-level object, when it was computed (hash lists in use).
    pub sha256: Option<[u8; 32]>,
    /// The interpreter named by the top-level object's shebang (`sh`, `python3`), if any.
    pub interpreter: Option<String>,
    /// Objects scanned: the file and every archive member reached.
    pub objects: u32,
    /// Bytes handed to the rules, over all objects.
    pub bytes_scanned: u64,
    /// Archive members that could not be read whole (encrypted, unsupported compression,
    /// damaged): scanned as far as they could be read, or not at all.
    pub skipped: u32,
    pub elapsed: Duration,
}
