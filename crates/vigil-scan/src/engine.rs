//! The engine: compiled rules plus SHA-256 allow and block lists, and the entry points that
//! scan one file, one buffer or many files on several threads.
//!
//! Invariants: an engine is immutable while it scans (`&self`), so many threads share one;
//! each thread scans with its own `Scanner`; the allow list wins over the block list and
//! over every rule, and an allowed object is not scanned at all.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use crate::error::EngineError;
use crate::limits::Limits;
use crate::result::ScanResult;
use crate::rules::{self, EngineReport, RuleFile};
use crate::scanner::Scanner;

/// SHA-256 allow and block lists.
#[derive(Debug, Clone, Default)]
pub struct HashLists {
    allow: HashSet<[u8; 32]>,
    block: HashMap<[u8; 32], String>,
}

impl HashLists {
    /// Parses a SHA-256 given as 64 hex digits (either case, surrounding blanks ignored).
    pub fn parse_sha256(text: &str) -> Result<[u8; 32], EngineError> {
        let invalid = || EngineError::InvalidSha256 {
            input: text.to_string(),
        };
        let trimmed = text.trim();
        if trimmed.len() != 64 {
            return Err(invalid());
        }
        let mut out = [0u8; 32];
        hex::decode_to_slice(trimmed, &mut out).map_err(|_| invalid())?;
        Ok(out)
    }

    /// Objects with this hash are not scanned and never detected.
    pub fn allow(&mut self, sha256: [u8; 32]) -> &mut Self {
        self.allow.insert(sha256);
        self
    }

    /// Objects with this hash are detected as `threat`.
    pub fn block(&mut self, sha256: [u8; 32], threat: impl Into<String>) -> &mut Self {
        self.block.insert(sha256, threat.into());
        self
    }

    pub fn is_empty(&self) -> bool {
        self.allow.is_empty() && self.block.is_empty()
    }

    pub(crate) fn is_allowed(&self, sha256: &[u8; 32]) -> bool {
        self.allow.contains(sha256)
    }

    pub(crate) fn blocked(&self, sha256: &[u8; 32]) -> Option<&str> {
        self.block.get(sha256).map(String::as_str)
    }
}

/// One compiled rule, for listings and checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleInfo {
    pub namespace: String,
    pub identifier: String,
    pub metadata: Vec<(String, String)>,
}

impl RuleInfo {
    /// The first metadata value under `key`.
    pub fn meta(&self, key: &str) -> Option<&str> {
        self.metadata
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// What to build an engine from.
#[derive(Debug, Clone, Default)]
pub struct EngineBuilder {
    team: bool,
    files: Vec<RuleFile>,
    lists: HashLists,
}

impl EngineBuilder {
    /// Includes the team's rule pack (`content/yara`, embedded at build time).
    pub fn team_rules(mut self) -> Self {
        self.team = true;
        self
    }

    /// Adds the `*.yar` / `*.yara` files under `dir` (recursively), namespaced `label/...`.
    /// A directory that cannot be read is reported in the `EngineReport`, not fatal.
    pub fn rule_dir(mut self, dir: impl AsRef<Path>, label: &str) -> Self {
        self.files.extend(rules::dir_files(dir.as_ref(), label));
        self
    }

    /// Adds rule source text, namespaced `namespace` and reported as `origin`.
    pub fn rule_source(mut self, origin: &str, namespace: &str, source: &str) -> Self {
        self.files.push(RuleFile {
            origin: origin.to_string(),
            namespace: namespace.to_string(),
            source: Ok(source.to_string()),
        });
        self
    }

    pub fn hash_lists(mut self, lists: HashLists) -> Self {
        self.lists = lists;
        self
    }

    /// Compiles every rule file; files that fail are in the report and the rest load.
    pub fn build(self) -> (Engine, EngineReport) {
        let mut files = if self.team {
            rules::team_files()
        } else {
            Vec::new()
        };
        files.extend(self.files);
        let (rules, report) = rules::compile(&files);
        let engine = Engine {
            rules,
            lists: self.lists,
            version: report.version.clone(),
        };
        (engine, report)
    }
}

/// Compiled rules and hash lists, shared by every scanner.
pub struct Engine {
    pub(crate) rules: yara_x::Rules,
    pub(crate) lists: HashLists,
    version: String,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("version", &self.version)
            .field("rules", &self.rule_count())
            .finish()
    }
}

impl Engine {
    pub fn builder() -> EngineBuilder {
        EngineBuilder::default()
    }

    /// The rule-set version: the yara-x release and a hash of the compiled sources.
    pub fn version(&self) -> &str {
        &self.version
    }

    pub fn rule_count(&self) -> usize {
        self.rules.iter().len()
    }

    /// Every rule of the compiled set with its metadata (values rendered as text).
    pub fn rules(&self) -> Vec<RuleInfo> {
        self.rules
            .iter()
            .map(|rule| RuleInfo {
                namespace: rule.namespace().to_string(),
                identifier: rule.identifier().to_string(),
                metadata: rule
                    .metadata()
                    .map(|(key, value)| {
                        let text = match value {
                            yara_x::MetaValue::Integer(n) => n.to_string(),
                            yara_x::MetaValue::Float(f) => f.to_string(),
                            yara_x::MetaValue::Bool(b) => b.to_string(),
                            yara_x::MetaValue::String(s) => s.to_string(),
                            yara_x::MetaValue::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
                        };
                        (key.to_string(), text)
                    })
                    .collect(),
            })
            .collect()
    }

    /// Replaces the hash lists (the rules stay).
    pub fn set_hash_lists(&mut self, lists: HashLists) {
        self.lists = lists;
    }

    /// A scanner for this engine. Creating one instantiates the compiled rules (a WASM
    /// store and per-rule state): keep it to scan many files on one thread.
    pub fn scanner(&self) -> Scanner<'_> {
        Scanner::new(self)
    }

    /// Scans one file with a fresh scanner (see `scanner` to scan many).
    pub fn scan_file(&self, path: impl AsRef<Path>, limits: &Limits) -> ScanResult {
        self.scanner().scan_file(path.as_ref(), limits)
    }

    /// Scans a buffer named `name` with a fresh scanner (see `scanner` to scan many).
    pub fn scan_bytes(&self, name: &str, data: &[u8], limits: &Limits) -> ScanResult {
        self.scanner().scan_bytes(name, data, limits)
    }

    /// Scans `paths` on `threads` threads (at least one), each with its own scanner; the
    /// results are in the order of `paths`.
    pub fn scan_files_parallel(
        &self,
        paths: &[PathBuf],
        threads: usize,
        limits: &Limits,
    ) -> Vec<ScanResult> {
        let next = AtomicUsize::new(0);
        let done: Mutex<Vec<(usize, ScanResult)>> = Mutex::new(Vec::with_capacity(paths.len()));
        std::thread::scope(|scope| {
            for _ in 0..threads.clamp(1, paths.len().max(1)) {
                scope.spawn(|| {
                    let mut scanner = self.scanner();
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(path) = paths.get(i) else { break };
                        mine.push((i, scanner.scan_file(path, limits)));
                    }
                    done.lock().unwrap_or_else(|p| p.into_inner()).extend(mine);
                });
            }
        });
        let mut done = done.into_inner().unwrap_or_else(|p| p.into_inner());
        done.sort_by_key(|(i, _)| *i);
        done.into_iter().map(|(_, r)| r).collect()
    }
}
