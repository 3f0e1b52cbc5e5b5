//! One thread's scanner: reads a file, checks it against the hash lists and the rules, and
//! walks into archives depth first within the scan's `Limits`.
//!
//! Invariants: every object (the file and each archive member) is hashed (when hash lists
//! are in use), then matched by the rules, then opened if it is an archive; the first
//! detection ends the scan (when the rules match an archive's own bytes, its members are
//! scanned first so that the detection names the member that matches, if one does); a panic in a parser is caught and becomes `Verdict::Error`
//! (the YARA-X scanner is then rebuilt), so hostile input never takes the caller down.
//! Files are read into a reused buffer, never memory-mapped (a file truncated while mapped
//! would kill the process with SIGBUS).

use std::fs::File;
use std::io::Read;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::time::Instant;

use sha2::{Digest, Sha256};

use crate::archive;
use crate::budget::{Budget, Stop};
use crate::engine::Engine;
use crate::limits::Limits;
use crate::result::{Detection, DetectionSource, Limit, RuleMatch, ScanResult, Severity, Verdict};
use crate::script;

/// Scans files and buffers with one engine on one thread; reuse it for many files.
pub struct Scanner<'e> {
    engine: &'e Engine,
    yara: yara_x::Scanner<'e>,
    buf: Vec<u8>,
}

impl<'e> Scanner<'e> {
    pub(crate) fn new(engine: &'e Engine) -> Self {
        Scanner {
            engine,
            yara: new_yara_scanner(&engine.rules),
            buf: Vec::new(),
        }
    }

    /// Scans the file at `path` (symbolic links followed; anything but a regular file is an
    /// `Error` verdict).
    pub fn scan_file(&mut self, path: &Path, limits: &Limits) -> ScanResult {
        let start = Instant::now();
        let target = path.display().to_string();
        let early = |verdict| ScanResult {
            target: target.clone(),
            verdict,
            matches: Vec::new(),
            sha256: None,
            interpreter: None,
            objects: 0,
            bytes_scanned: 0,
            skipped: 0,
            elapsed: start.elapsed(),
        };
        let mut file = match File::open(path) {
            Ok(f) => f,
            Err(e) => {
                return early(Verdict::Error {
                    reason: format!("cannot open {target}: {e}"),
                })
            }
        };
        match file.metadata() {
            Ok(m) if !m.is_file() => {
                return early(Verdict::Error {
                    reason: format!("cannot scan {target}: not a regular file"),
                })
            }
            Ok(m) if m.len() > limits.max_file_bytes => {
                return early(file_too_big(&target, m.len(), limits))
            }
            Ok(_) => {}
            Err(e) => {
                return early(Verdict::Error {
                    reason: format!("cannot stat {target}: {e}"),
                })
            }
        }
        let mut data = std::mem::take(&mut self.buf);
        data.clear();
        let read = (&mut file)
            .take(limits.max_file_bytes.saturating_add(1))
            .read_to_end(&mut data);
        let result = match read {
            Err(e) => early(Verdict::Error {
                reason: format!("cannot read {target}: {e}"),
            }),
            Ok(_) if data.len() as u64 > limits.max_file_bytes => {
                early(file_too_big(&target, data.len() as u64, limits))
            }
            Ok(_) => self.scan_from(&target, &data, limits, start),
        };
        // Keep the buffer for the next file, unless it grew unusually large.
        if data.capacity() <= 64 << 20 {
            self.buf = data;
        }
        result
    }

    /// Scans a buffer; `name` stands for it in the result (and in rules' `filename`).
    pub fn scan_bytes(&mut self, name: &str, data: &[u8], limits: &Limits) -> ScanResult {
        self.scan_from(name, data, limits, Instant::now())
    }

    fn scan_from(
        &mut self,
        target: &str,
        data: &[u8],
        limits: &Limits,
        start: Instant,
    ) -> ScanResult {
        let mut budget = Budget::new(limits);
        budget.start = start;
        let mut top_sha = None;
        let walked = catch_unwind(AssertUnwindSafe(|| {
            self.object(&mut budget, data, target, 0, &mut top_sha)
        }));
        let (verdict, matches) = match walked {
            Ok(Ok(true)) => (Verdict::Allowed, Vec::new()),
            Ok(Ok(false)) => (Verdict::Clean, Vec::new()),
            Ok(Err(Stop::Found(detection, matches))) => (Verdict::Malicious(*detection), matches),
            Ok(Err(Stop::Limit(which, detail))) => {
                (Verdict::LimitExceeded { which, detail }, Vec::new())
            }
            Ok(Err(Stop::Failed(reason))) => (Verdict::Error { reason }, Vec::new()),
            Err(panic) => {
                self.yara = new_yara_scanner(&self.engine.rules);
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown panic".to_string());
                (
                    Verdict::Error {
                        reason: format!("internal error while scanning {target}: {what}"),
                    },
                    Vec::new(),
                )
            }
        };
        ScanResult {
            target: target.to_string(),
            verdict,
            matches,
            sha256: top_sha,
            interpreter: script::interpreter(data),
            objects: budget.objects,
            bytes_scanned: budget.bytes_scanned,
            skipped: budget.skipped,
            elapsed: start.elapsed(),
        }
    }

    /// Scans one object; `Ok(true)` when the allow list skipped it.
    fn object(
        &mut self,
        budget: &mut Budget<'_>,
        data: &[u8],
        display: &str,
        depth: u32,
        top_sha: &mut Option<[u8; 32]>,
    ) -> Result<bool, Stop> {
        budget.check_deadline()?;
        budget.objects += 1;
        let lists = &self.engine.lists;
        if !lists.is_empty() {
            let sha: [u8; 32] = Sha256::digest(data).into();
            if depth == 0 {
                *top_sha = Some(sha);
            }
            if lists.is_allowed(&sha) {
                return Ok(true);
            }
            if let Some(threat) = lists.blocked(&sha) {
                let detection = Detection {
                    threat: threat.to_string(),
                    rule: format!("sha256:{}", hex::encode(sha)),
                    severity: Severity::High,
                    technique: None,
                    source: DetectionSource::BlockList,
                    object: display.to_string(),
                    interpreter: script::interpreter(data),
                };
                return Err(Stop::Found(Box::new(detection), Vec::new()));
            }
        }

        self.set_globals(display);
        let remaining = budget.deadline.saturating_duration_since(Instant::now());
        self.yara.set_timeout(remaining);
        budget.bytes_scanned += data.len() as u64;
        let matches: Vec<RuleMatch> = match self.yara.scan(data) {
            Ok(results) => results.matching_rules().map(|r| rule_match(&r)).collect(),
            Err(yara_x::ScanError::Timeout) => {
                return Err(Stop::Limit(
                    Limit::Deadline,
                    format!("{display}: rules ran past the scan deadline"),
                ))
            }
            Err(e) => return Err(Stop::Failed(format!("cannot scan {display}: {e}"))),
        };
        let kind = archive::detect(data).filter(|_| budget.limits.open_archives);
        let opens = kind.is_some() && depth < budget.limits.max_depth;
        if !matches.is_empty() && opens {
            // The rules matched the archive's own bytes (an uncompressed tar holds its
            // members' text): name the member that matches, if one does.
            if let Err(Stop::Found(d, m)) = self.members(budget, kind, data, display, depth) {
                return Err(Stop::Found(d, m));
            }
        }
        if let Some(best) = matches.iter().max_by_key(|m| m.severity) {
            let detection = Detection {
                threat: best.threat.clone(),
                rule: best.rule.clone(),
                severity: best.severity,
                technique: best.technique.clone(),
                source: DetectionSource::Rule,
                object: display.to_string(),
                interpreter: script::interpreter(data),
            };
            return Err(Stop::Found(Box::new(detection), matches));
        }

        if kind.is_some() {
            self.members(budget, kind, data, display, depth)?;
        }
        Ok(false)
    }

    /// Scans the members of an archive at `depth`, or stops at the depth bound.
    fn members(
        &mut self,
        budget: &mut Budget<'_>,
        kind: Option<archive::Kind>,
        data: &[u8],
        display: &str,
        depth: u32,
    ) -> Result<(), Stop> {
        let Some(kind) = kind else { return Ok(()) };
        if depth >= budget.limits.max_depth {
            return Err(Stop::Limit(
                Limit::Depth,
                format!(
                    "{display}: archive nested deeper than {} levels",
                    budget.limits.max_depth
                ),
            ));
        }
        let mut each = |b: &mut Budget<'_>, name: &str, bytes: &[u8]| {
            let child = format!("{display}!{name}");
            self.object(b, bytes, &child, depth + 1, &mut None)
                .map(|_| ())
        };
        archive::for_each_member(kind, data, display, budget, &mut each)
    }

    /// Sets the LOKI/THOR globals for the object about to be scanned: `filename` (last
    /// component), `filepath` (what precedes it), `extension` (lowercase, with the dot).
    fn set_globals(&mut self, display: &str) {
        let (dir, name) = match display.rfind(['/', '!']) {
            Some(i) => (&display[..i], &display[i + 1..]),
            None => ("", display),
        };
        let extension = match name.rfind('.') {
            Some(i) if i > 0 => name[i..].to_ascii_lowercase(),
            _ => String::new(),
        };
        // The globals are defined as strings by `rules::compile`: setting them cannot fail.
        let _ = self.yara.set_global("filename", name);
        let _ = self.yara.set_global("filepath", dir);
        let _ = self.yara.set_global("extension", extension.as_str());
    }
}

/// A YARA-X scanner in fast-scan mode: a pattern used only for its existence (`$a`, not
/// `#a`, `@a`, `!a` or in a loop) stops being searched after its first match. Rule
/// verdicts are the same; only match lists are cut short, and Vigil reports no match
/// offsets.
fn new_yara_scanner(rules: &yara_x::Rules) -> yara_x::Scanner<'_> {
    let mut scanner = yara_x::Scanner::new(rules);
    scanner.fast_scan(true);
    scanner
}

fn file_too_big(target: &str, len: u64, limits: &Limits) -> Verdict {
    Verdict::LimitExceeded {
        which: Limit::FileSize,
        detail: format!(
            "{target}: {len} bytes, more than {} bytes",
            limits.max_file_bytes
        ),
    }
}

/// The match as reported: threat name, severity and technique from the rule's metadata
/// (`threat`, `severity` or a 0–100 `score`, `attack`), with defaults for rules that lack them.
fn rule_match(rule: &yara_x::Rule<'_, '_>) -> RuleMatch {
    let mut threat = None;
    let mut severity = None;
    let mut technique = None;
    for (key, value) in rule.metadata() {
        match (key, value) {
            ("threat", yara_x::MetaValue::String(s)) => threat = Some(s.to_string()),
            ("severity", yara_x::MetaValue::String(s)) => {
                severity = severity.or(Severity::parse(s))
            }
            ("score", yara_x::MetaValue::Integer(n)) => {
                severity = severity.or(Some(Severity::from_score(n)))
            }
            ("attack", yara_x::MetaValue::String(s)) => technique = Some(s.to_string()),
            _ => {}
        }
    }
    RuleMatch {
        namespace: rule.namespace().to_string(),
        rule: rule.identifier().to_string(),
        threat: threat.unwrap_or_else(|| rule.identifier().to_string()),
        severity: severity.unwrap_or(Severity::Medium),
        technique,
    }
}
