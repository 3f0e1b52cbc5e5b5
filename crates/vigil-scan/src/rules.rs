//! Rule loading: the team's pack (embedded at build time from `content/yara`) and operator
//! rule directories, compiled by YARA-X into one rule set.
//!
//! Invariants: each rule file gets its own namespace (`team/<stem>`, `<label>/<relative
//! path>`), so files cannot collide on rule names; a file that does not compile is reported
//! with its origin and every error, and the other files still load (YARA-X drops the rules
//! with errors); the version is a hash of every source handed to the compiler, in order.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

include!(concat!(env!("OUT_DIR"), "/team_rules.rs"));

/// The string globals that LOKI/THOR-style rule sets (signature-base among them) use; the
/// engine sets them for every scanned object.
pub(crate) const GLOBALS: [&str; 5] = ["filename", "filepath", "extension", "filetype", "owner"];

/// Deepest directory recursion when collecting an operator's rule files.
const MAX_DIR_DEPTH: usize = 16;

/// One rule file handed to the compiler.
#[derive(Debug, Clone)]
pub(crate) struct RuleFile {
    /// Where it came from: `team:<name>` or the file's path.
    pub origin: String,
    pub namespace: String,
    /// The source text, or why it could not be read.
    pub source: Result<String, String>,
}

/// What happened to one rule file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleFileReport {
    /// `team:<file name>` for the embedded pack, else the file's path.
    pub origin: String,
    pub namespace: String,
    /// Rules of this file in the compiled set.
    pub rules: usize,
    /// Every compile (or read) error, rendered; empty when the file compiled.
    pub errors: Vec<String>,
    /// Compiler warnings (slow patterns and the like) for this file.
    pub warnings: usize,
}

impl RuleFileReport {
    pub fn compiled(&self) -> bool {
        self.errors.is_empty()
    }
}

/// What an engine was built from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineReport {
    /// One entry per rule file, in load order (team pack first).
    pub files: Vec<RuleFileReport>,
    /// Rules in the compiled set.
    pub rules: usize,
    /// The rule-set version: `yara-x <version>/rules-<first 16 hex digits of SHA-256>`.
    pub version: String,
}

impl EngineReport {
    /// The files that did not compile (or could not be read).
    pub fn failed(&self) -> impl Iterator<Item = &RuleFileReport> {
        self.files.iter().filter(|f| !f.compiled())
    }
}

/// The team pack as rule files.
pub(crate) fn team_files() -> Vec<RuleFile> {
    TEAM_RULES
        .iter()
        .map(|(name, src)| RuleFile {
            origin: format!("team:{name}"),
            namespace: format!("team/{}", stem(name)),
            source: Ok((*src).to_string()),
        })
        .collect()
}

/// The `*.yar` / `*.yara` files under `dir` (recursively, sorted, hidden entries skipped),
/// namespaced under `label`. An unreadable directory becomes one failed entry.
pub(crate) fn dir_files(dir: &Path, label: &str) -> Vec<RuleFile> {
    let mut paths = Vec::new();
    if let Err(e) = collect(dir, 0, &mut paths) {
        return vec![RuleFile {
            origin: dir.display().to_string(),
            namespace: label.to_string(),
            source: Err(format!("cannot read rule directory {}: {e}", dir.display())),
        }];
    }
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let rel = path.strip_prefix(dir).unwrap_or(&path);
            let rel = rel.with_extension("");
            RuleFile {
                origin: path.display().to_string(),
                namespace: format!("{label}/{}", rel.display()),
                source: std::fs::read(&path)
                    .map_err(|e| format!("cannot read {}: {e}", path.display()))
                    .and_then(|bytes| {
                        String::from_utf8(bytes).map_err(|e| {
                            format!(
                                "{} is not UTF-8 (byte {})",
                                path.display(),
                                e.utf8_error().valid_up_to()
                            )
                        })
                    }),
            }
        })
        .collect()
}

fn collect(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let meta = std::fs::metadata(&path)?;
        if meta.is_dir() {
            if depth < MAX_DIR_DEPTH {
                collect(&path, depth + 1, out)?;
            }
        } else if meta.is_file()
            && path
                .extension()
                .is_some_and(|x| x.eq_ignore_ascii_case("yar") || x.eq_ignore_ascii_case("yara"))
        {
            out.push(path);
        }
    }
    Ok(())
}

fn stem(name: &str) -> &str {
    name.rsplit_once('.').map_or(name, |(s, _)| s)
}

/// Compiles the files into one rule set and reports each file.
pub(crate) fn compile(files: &[RuleFile]) -> (yara_x::Rules, EngineReport) {
    let mut compiler = yara_x::Compiler::new();
    compiler.relaxed_re_syntax(true).colorize_errors(false);
    for name in GLOBALS {
        // The names are valid identifiers and defined once: this cannot fail.
        let _ = compiler.define_global(name, "");
    }
    let mut hasher = Sha256::new();
    let mut reports = Vec::with_capacity(files.len());
    for file in files {
        let mut report = RuleFileReport {
            origin: file.origin.clone(),
            namespace: file.namespace.clone(),
            rules: 0,
            errors: Vec::new(),
            warnings: 0,
        };
        match &file.source {
            Err(reason) => report.errors.push(reason.clone()),
            Ok(src) => {
                hasher.update(file.namespace.as_bytes());
                hasher.update([0]);
                hasher.update(src.as_bytes());
                hasher.update([0]);
                let errors_before = compiler.errors().len();
                let warnings_before = compiler.warnings().len();
                compiler.new_namespace(&file.namespace);
                let code = yara_x::SourceCode::from(src.as_str()).with_origin(file.origin.as_str());
                // The error is also recorded in `errors()`, read below with any others.
                let _ = compiler.add_source(code);
                report.errors = compiler.errors()[errors_before..]
                    .iter()
                    .map(|e| e.to_string())
                    .collect();
                report.warnings = compiler.warnings().len().saturating_sub(warnings_before);
            }
        }
        reports.push(report);
    }
    let rules = compiler.build();
    let mut per_namespace: HashMap<&str, usize> = HashMap::new();
    for rule in rules.iter() {
        *per_namespace.entry(rule.namespace()).or_default() += 1;
    }
    for report in &mut reports {
        report.rules = per_namespace
            .get(report.namespace.as_str())
            .copied()
            .unwrap_or(0);
    }
    let digest = hasher.finalize();
    let version = format!(
        "yara-x {}/rules-{}",
        YARA_X_VERSION,
        &hex::encode(digest)[..16]
    );
    let report = EngineReport {
        files: reports,
        rules: rules.iter().len(),
        version,
    };
    (rules, report)
}

/// The yara-x release this crate is built against (kept equal to Cargo.toml by a test).
pub const YARA_X_VERSION: &str = "1.22.1";
