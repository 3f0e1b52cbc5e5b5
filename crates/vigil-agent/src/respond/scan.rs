//! Antivirus scans on demand with vigil-scan's engine: `scan` quick / full / custom, and
//! `live.analyze` (one file).
//!
//! - quick: the persistence files, `/tmp`, `/var/tmp`, `/dev/shm`, the dot-entries of home
//!   directories (three levels down, without caches), and the executables of running
//!   processes (read through `/proc/<pid>/exe`, so a deleted binary is scanned too);
//! - full: everything under `/` but the pseudo filesystems and the quarantine vault;
//! - custom: one file or everything under one directory.
//!
//! Only regular files are scanned; symbolic links are not followed. Each detection becomes a
//! `DeviceEvents` `AntivirusDetection` row.
//!
//! **Invariant:** a scan reads files and nothing else: it changes nothing on the device.

use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use serde_json::{json, Value};
use vigil_scan::{Engine, Limits, ScanResult, Verdict};
use vigil_schema::{Col, Row, Table, Timestamp};

use super::error::{RespondError, Result};
use super::files::Walk;
use super::persistence;

/// Files scanned per batch (each batch on two threads).
const BATCH: usize = 256;
/// Quick scans look at most this many files under each directory root.
const QUICK_PER_ROOT: usize = 20_000;

/// One detection.
#[derive(Debug, Clone)]
pub struct Found {
    pub path: String,
    pub threat: String,
    pub rule: String,
    pub severity: String,
    pub object: String,
    pub sha256: Option<String>,
}

impl Found {
    fn to_json(&self) -> Value {
        json!({
            "Path": self.path, "Threat": self.threat, "Rule": self.rule,
            "Severity": self.severity, "Object": self.object, "SHA256": self.sha256,
        })
    }

    /// The `AntivirusDetection` row (the pipeline stamps the device columns).
    pub fn row(&self, scan_type: &str) -> Row {
        let mut row = Row::event(Table::DeviceEvents, "AntivirusDetection", Timestamp::now());
        row.put(
            Col::FileName,
            self.path.rsplit('/').next().unwrap_or(&self.path),
        );
        row.put(Col::FolderPath, self.path.as_str());
        if let Some(h) = &self.sha256 {
            row.put(Col::SHA256, h.as_str());
        }
        row.put_extra("ThreatName", self.threat.as_str());
        row.put_extra("Rule", self.rule.as_str());
        row.put_extra("Severity", self.severity.as_str());
        row.put_extra("DetectionSource", "Scan");
        row.put_extra("ScanType", scan_type);
        row.put_extra("Action", "Detected");
        if self.object != self.path {
            row.put_extra("Object", self.object.as_str());
        }
        row
    }
}

/// A scan's tally.
#[derive(Default)]
struct Tally {
    files: u64,
    errors: u64,
    limited: u64,
    found: Vec<Found>,
    pending: Vec<(PathBuf, String)>,
}

fn found_of(r: &ScanResult, shown: &str) -> Option<Found> {
    let Verdict::Malicious(d) = &r.verdict else {
        return None;
    };
    let sha256 = r
        .sha256
        .map(hex::encode)
        .or_else(|| super::files::sha256_file(Path::new(&r.target)).ok());
    Some(Found {
        path: shown.to_string(),
        threat: d.threat.clone(),
        rule: d.rule.clone(),
        severity: d.severity.as_str().to_string(),
        object: d.object.clone(),
        sha256,
    })
}

impl Tally {
    /// Queue a file (read at `path`, shown as `shown`); scans a batch when full.
    fn add(&mut self, engine: &Engine, limits: &Limits, path: PathBuf, shown: String) {
        self.pending.push((path, shown));
        if self.pending.len() >= BATCH {
            self.flush(engine, limits);
        }
    }

    fn flush(&mut self, engine: &Engine, limits: &Limits) {
        if self.pending.is_empty() {
            return;
        }
        let batch = std::mem::take(&mut self.pending);
        let paths: Vec<PathBuf> = batch.iter().map(|(p, _)| p.clone()).collect();
        for (r, (_, shown)) in engine
            .scan_files_parallel(&paths, 2, limits)
            .iter()
            .zip(&batch)
        {
            self.files += 1;
            match &r.verdict {
                Verdict::Error { .. } => self.errors += 1,
                Verdict::LimitExceeded { .. } => self.limited += 1,
                _ => {}
            }
            if let Some(f) = found_of(r, shown) {
                self.found.push(f);
            }
        }
    }
}

/// What a scan covers.
pub enum Target<'a> {
    Quick,
    Full,
    Custom(&'a Path),
}

/// Run a scan; returns the result and the detections (for rows).
pub fn scan(
    engine: &Engine,
    target: Target<'_>,
    vault: &Path,
    stop: &AtomicBool,
) -> Result<(Value, Vec<Found>)> {
    let started = Instant::now();
    let limits = Limits::default();
    let mut t = Tally::default();
    let kind = match target {
        Target::Quick => "quick",
        Target::Full => "full",
        Target::Custom(_) => "custom",
    };
    let walk_root = |t: &mut Tally, walk: &Walk, root: &Path, cap: usize| -> u64 {
        let mut n = 0usize;
        walk.run(root, &mut |p, m| {
            if stop.load(Ordering::Relaxed) || n >= cap {
                return ControlFlow::Break(());
            }
            if m.is_file() && m.len() > 0 {
                n += 1;
                t.add(
                    engine,
                    &limits,
                    p.to_path_buf(),
                    p.to_string_lossy().into_owned(),
                );
            }
            ControlFlow::Continue(())
        })
    };
    let mut unreadable = 0;
    match target {
        Target::Custom(path) => {
            std::fs::symlink_metadata(path).map_err(RespondError::io("scan", path))?;
            unreadable += walk_root(
                &mut t,
                &Walk::new().skip(vault.to_path_buf()),
                path,
                usize::MAX,
            );
        }
        Target::Full => {
            unreadable += walk_root(
                &mut t,
                &Walk::new().skip(vault.to_path_buf()),
                Path::new("/"),
                usize::MAX,
            );
        }
        Target::Quick => {
            for (_, p) in persistence::locations() {
                let shown = p.to_string_lossy().into_owned();
                t.add(engine, &limits, p, shown);
            }
            let walk = Walk::new().skip(vault.to_path_buf());
            for root in ["/tmp", "/var/tmp", "/dev/shm"] {
                unreadable += walk_root(&mut t, &walk, Path::new(root), QUICK_PER_ROOT);
            }
            let mut dots = Walk::new().skip(vault.to_path_buf());
            dots.max_depth = 2;
            dots.skip_names = &[
                ".cache",
                ".rustup",
                ".npm",
                ".git",
                "node_modules",
                "registry",
                "toolchains",
                "Trash",
            ];
            for home in persistence::homes() {
                let Ok(rd) = std::fs::read_dir(&home) else {
                    continue;
                };
                for e in rd
                    .flatten()
                    .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
                {
                    let name = e.file_name();
                    if dots.skip_names.iter().any(|n| name == *n) {
                        continue;
                    }
                    unreadable += walk_root(&mut t, &dots, &e.path(), QUICK_PER_ROOT / 4);
                }
            }
            // Running executables: each file once, read through the process.
            let mut exes: BTreeMap<String, PathBuf> = BTreeMap::new();
            for p in super::procs::all() {
                if !p.exe.is_empty() && !p.kernel_thread {
                    exes.entry(p.exe.clone())
                        .or_insert_with(|| PathBuf::from(format!("/proc/{}/exe", p.pid)));
                }
            }
            for (shown, read_at) in exes {
                t.add(engine, &limits, read_at, shown);
            }
        }
    }
    t.flush(engine, &limits);
    if stop.load(Ordering::Relaxed) {
        return Err(RespondError::Failed(format!(
            "the {kind} scan was stopped (the agent is stopping) after {} files",
            t.files
        )));
    }
    let v = json!({
        "Type": kind,
        "FilesScanned": t.files,
        "Detections": t.found.iter().map(Found::to_json).collect::<Vec<_>>(),
        "Errors": t.errors,
        "LimitExceeded": t.limited,
        "UnreadableDirectories": unreadable,
        "DurationMs": started.elapsed().as_millis() as u64,
        "EngineVersion": engine.version(),
        "Rules": engine.rule_count(),
    });
    Ok((v, t.found))
}

/// `live.analyze`: scan one file and say everything the engine found.
pub fn analyze(engine: &Engine, path: &Path) -> Result<(Value, Option<Found>)> {
    let m = std::fs::symlink_metadata(path).map_err(RespondError::io("analyze", path))?;
    if !m.is_file() {
        return Err(RespondError::NotAFile {
            path: path.to_path_buf(),
        });
    }
    let r = engine.scan_file(path, &Limits::default());
    let shown = path.to_string_lossy().into_owned();
    let found = found_of(&r, &shown);
    let (verdict, detail) = match &r.verdict {
        Verdict::Clean => ("Clean", Value::Null),
        Verdict::Malicious(_) => ("Malicious", Value::Null),
        Verdict::Allowed => ("Allowed", Value::Null),
        Verdict::Error { reason } => ("Error", json!(reason)),
        Verdict::LimitExceeded { which, detail } => {
            ("LimitExceeded", json!(format!("{which}: {detail}")))
        }
    };
    let v = json!({
        "Path": path,
        "Verdict": verdict,
        "Detail": detail,
        "Detection": found.as_ref().map(Found::to_json),
        "Matches": r.matches.iter().map(|m| json!({
            "Rule": m.rule, "Namespace": m.namespace, "Threat": m.threat,
            "Severity": m.severity.as_str(), "Technique": m.technique,
        })).collect::<Vec<_>>(),
        "SHA256": super::files::sha256_file(path).ok(),
        "Interpreter": r.interpreter,
        "Objects": r.objects,
        "BytesScanned": r.bytes_scanned,
        "ElapsedMs": r.elapsed.as_millis() as u64,
        "EngineVersion": engine.version(),
    });
    Ok((v, found))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine() -> Engine {
        let rule =
            "rule vigil_test_marker { strings: $a = \"VIGIL-RESPOND-TEST-MARKER\" condition: $a }";
        Engine::builder()
            .rule_source("test", "test", rule)
            .build()
            .0
    }

    #[test]
    fn custom_scans_find_and_count() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("sub")).unwrap();
        std::fs::write(
            dir.path().join("sub/bad.sh"),
            "echo VIGIL-RESPOND-TEST-MARKER",
        )
        .unwrap();
        std::fs::write(dir.path().join("good.txt"), "hello").unwrap();
        let e = engine();
        let stop = AtomicBool::new(false);
        let (v, found) = scan(
            &e,
            Target::Custom(dir.path()),
            Path::new("/nonexistent"),
            &stop,
        )
        .unwrap();
        assert_eq!(v["FilesScanned"], 2, "{v}");
        assert_eq!(found.len(), 1);
        assert!(found[0].path.ends_with("sub/bad.sh"));
        assert_eq!(found[0].rule, "vigil_test_marker");
        let row = found[0].row("custom");
        assert_eq!(row.action_type(), "AntivirusDetection");
        assert_eq!(row.get_str(Col::FileName), Some("bad.sh"));
        let (a, f) = analyze(&e, &dir.path().join("good.txt")).unwrap();
        assert_eq!(a["Verdict"], "Clean");
        assert!(f.is_none());
        let err = scan(
            &e,
            Target::Custom(&dir.path().join("nope")),
            Path::new("/x"),
            &stop,
        )
        .unwrap_err();
        assert!(err.to_string().contains("does not exist"), "{err}");
        let err = analyze(&e, dir.path()).unwrap_err();
        assert!(err.to_string().contains("not a regular file"), "{err}");
    }
}
