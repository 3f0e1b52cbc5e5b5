//! `vigil rules check DIR`: load every rule file under a directory and say, per file, whether
//! it loaded, and why not.

use std::collections::HashMap;
use std::path::Path;

use serde::Serialize;

use crate::mapping::Mapping;
use crate::ruleset::{LoadReport, Loader};
use crate::Status;

/// One file's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckFile {
    pub path: String,
    pub status: Status,
    /// Why it did not load. When loaded: empty, or `loaded; never true here: ...` naming the
    /// values Vigil never collects that its rules' tests were decided false on.
    pub reason: String,
}

/// Counts per status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct CheckTotals {
    pub loaded: usize,
    pub unsupported: usize,
    pub error: usize,
}

/// The report of [`check_dir`]; `to_json` gives the CLI's `--json` output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckReport {
    pub files: Vec<CheckFile>,
    pub totals: CheckTotals,
}

impl CheckReport {
    /// Summarise a load report.
    pub fn from_load(report: &LoadReport) -> CheckReport {
        let mut totals = CheckTotals::default();
        let files = report
            .files
            .iter()
            .map(|f| {
                match f.status {
                    Status::Loaded => totals.loaded += 1,
                    Status::Unsupported => totals.unsupported += 1,
                    Status::Error => totals.error += 1,
                }
                CheckFile {
                    path: f.path.clone(),
                    status: f.status,
                    reason: f.reason.clone(),
                }
            })
            .collect();
        CheckReport { files, totals }
    }

    /// `{"files": [{"path", "status", "reason"}], "totals": {"loaded", "unsupported", "error"}}`.
    pub fn to_json(&self) -> String {
        // Serialising plain strings and numbers cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

/// Load every `.yml` / `.yaml` file under `dir` together (so that correlations and filters
/// resolve across files) and report each.
pub fn check_dir(
    dir: &Path,
    mapping: &Mapping,
    placeholders: HashMap<String, Vec<String>>,
) -> std::io::Result<CheckReport> {
    let mut loader = Loader::new(mapping).placeholders(placeholders);
    loader.add_dir(dir)?;
    let (_, report) = loader.build();
    Ok(CheckReport::from_load(&report))
}
