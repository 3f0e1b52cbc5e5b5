//! Scheduled antivirus scans: `antivirus.quick_scan_every` and `full_scan_every` (off by
//! default) run the quick and full scans of `respond::scan` (the code the `scan` response
//! action runs) on a thread of their own ("av-schedule"), one scan at a time.
//!
//! The last quick and full scan (start, end, result, files, threats) are kept in
//! `<state_dir>/antivirus/scans.json` (written to a temporary file, then renamed), so that the
//! antivirus health survives a restart and a scan is due `every` after the last one started
//! (after the agent's start when none ever ran). Detections become `AntivirusDetection` rows
//! (`DetectionSource` Scan, `Scheduled` true) and each scan ends with an
//! `AntivirusScanCompleted`, `AntivirusScanCancelled` (the agent stopped) or
//! `AntivirusScanFailed` row. A scan detects; it changes nothing on the device.
//!
//! **Invariant:** a scan runs only on this thread and stops when the agent stops (the
//! record then says `cancelled`).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use vigil_scan::Engine;
use vigil_schema::{Row, Table, Timestamp};

use crate::av::rows::RowQueue;
use crate::respond::scan::{self, Target};

/// Parse a duration such as `30s`, `15m`, `6h`, `1d` or `1w` (a number and one unit);
/// `off` is `None`.
pub fn parse_every(text: &str) -> Result<Option<Duration>, String> {
    let t = text.trim();
    if t.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{text:?} is not a duration such as \"30m\", \"6h\" or \"1d\""))?;
    let secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 604_800,
        _ => {
            return Err(format!(
                "{text:?} has no unit: write s, m, h, d or w after the number (\"6h\")"
            ))
        }
    };
    if n == 0 {
        return Err(format!(
            "{text:?} is zero: write \"off\" to turn the scan off"
        ));
    }
    Ok(Some(Duration::from_secs(n.saturating_mul(secs))))
}

/// One finished (or cut short) scan.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanRecord {
    /// Unix seconds.
    pub started: u64,
    pub finished: u64,
    /// `completed`, `cancelled` or `failed: <reason>`.
    pub result: String,
    pub files_scanned: u64,
    pub threats_found: u64,
    /// The files found, at most 20.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub threats: Vec<String>,
    pub duration_ms: u64,
}

/// What `scans.json` holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanHistory {
    pub quick: Option<ScanRecord>,
    pub full: Option<ScanRecord>,
}

impl ScanHistory {
    fn path(state_dir: &Path) -> PathBuf {
        state_dir.join("antivirus").join("scans.json")
    }

    /// The history kept in `state_dir` (empty when there is none or it does not parse).
    pub fn load(state_dir: &Path) -> ScanHistory {
        std::fs::read(Self::path(state_dir))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    pub fn save(&self, state_dir: &Path) -> std::io::Result<()> {
        let path = Self::path(state_dir);
        if let Some(d) = path.parent() {
            std::fs::create_dir_all(d)?;
        }
        let tmp = path.with_extension("json.tmp");
        std::fs::write(
            &tmp,
            serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?,
        )?;
        std::fs::rename(&tmp, &path)
    }

    fn get(&self, kind: Kind) -> Option<&ScanRecord> {
        match kind {
            Kind::Quick => self.quick.as_ref(),
            Kind::Full => self.full.as_ref(),
        }
    }

    fn set(&mut self, kind: Kind, r: ScanRecord) {
        match kind {
            Kind::Quick => self.quick = Some(r),
            Kind::Full => self.full = Some(r),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Quick,
    Full,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Quick => "quick",
            Kind::Full => "full",
        }
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// When a scan is due (unix seconds): `every` after the last start, or after `since` (the
/// agent's start) when none ran.
fn due_at(last: Option<&ScanRecord>, every: Duration, since: u64) -> u64 {
    last.map_or(since, |r| r.started)
        .saturating_add(every.as_secs())
}

/// The schedule as configured.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Every {
    pub quick: Option<Duration>,
    pub full: Option<Duration>,
}

impl Every {
    pub fn any(&self) -> bool {
        self.quick.is_some() || self.full.is_some()
    }
}

/// The running schedule; dropping it stops a scan in progress and the thread.
pub struct Scheduler {
    history: Arc<Mutex<ScanHistory>>,
    running: Arc<Mutex<Option<&'static str>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Scheduler {
    /// Start the thread. `engine` builds (or hands over) the scanning engine when the
    /// first scan is due.
    pub fn start(
        every: Every,
        state_dir: PathBuf,
        engine: Box<dyn FnOnce() -> Arc<Engine> + Send>,
        rows: Arc<RowQueue>,
    ) -> std::io::Result<Scheduler> {
        let history = Arc::new(Mutex::new(ScanHistory::load(&state_dir)));
        let running = Arc::new(Mutex::new(None));
        let stop = Arc::new(AtomicBool::new(false));
        let (h, r, s) = (
            Arc::clone(&history),
            Arc::clone(&running),
            Arc::clone(&stop),
        );
        let thread = std::thread::Builder::new()
            .name("av-schedule".into())
            .spawn(move || run(every, &state_dir, engine, &rows, &h, &r, &s))?;
        Ok(Scheduler {
            history,
            running,
            stop,
            thread: Some(thread),
        })
    }

    pub fn history(&self) -> ScanHistory {
        self.history
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The scan running now, if any.
    pub fn running(&self) -> Option<&'static str> {
        *self.running.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for Scheduler {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn run(
    every: Every,
    state_dir: &Path,
    engine: Box<dyn FnOnce() -> Arc<Engine> + Send>,
    rows: &RowQueue,
    history: &Mutex<ScanHistory>,
    running: &Mutex<Option<&'static str>>,
    stop: &AtomicBool,
) {
    let since = unix_now();
    let mut make = Some(engine);
    let mut engine: Option<Arc<Engine>> = None;
    let vault = state_dir.join("quarantine");
    while !stop.load(Ordering::Relaxed) {
        let now = unix_now();
        let due = {
            let h = history.lock().unwrap_or_else(|p| p.into_inner());
            // A full scan covers what a quick scan would: it goes first when both are due.
            [(Kind::Full, every.full), (Kind::Quick, every.quick)]
                .into_iter()
                .find_map(|(k, e)| e.filter(|e| now >= due_at(h.get(k), *e, since)).map(|_| k))
        };
        let Some(kind) = due else {
            std::thread::sleep(Duration::from_millis(250));
            continue;
        };
        let e = match (&engine, make.take()) {
            (Some(e), _) => Arc::clone(e),
            (None, Some(f)) => {
                let e = f();
                engine = Some(Arc::clone(&e));
                e
            }
            (None, None) => return,
        };
        *running.lock().unwrap_or_else(|p| p.into_inner()) = Some(kind.as_str());
        let record = scan_once(&e, kind, &vault, stop, rows);
        *running.lock().unwrap_or_else(|p| p.into_inner()) = None;
        let mut h = history.lock().unwrap_or_else(|p| p.into_inner());
        h.set(kind, record);
        if let Err(e) = h.save(state_dir) {
            eprintln!("vigil-agent: antivirus: cannot keep the scan history: {e}");
        }
    }
}

/// Run one scan and report it.
fn scan_once(
    engine: &Engine,
    kind: Kind,
    vault: &Path,
    stop: &AtomicBool,
    rows: &RowQueue,
) -> ScanRecord {
    let started = unix_now();
    let t0 = std::time::Instant::now();
    let target = match kind {
        Kind::Quick => Target::Quick,
        Kind::Full => Target::Full,
    };
    let mut rec = ScanRecord {
        started,
        ..Default::default()
    };
    let action = match scan::scan(engine, target, vault, stop) {
        Ok((v, found)) => {
            rec.result = "completed".into();
            rec.files_scanned = v["FilesScanned"].as_u64().unwrap_or(0);
            rec.threats_found = found.len() as u64;
            rec.threats = found.iter().take(20).map(|f| f.path.clone()).collect();
            for f in &found {
                let mut row = f.row(kind.as_str());
                row.put_extra("Scheduled", true);
                rows.push(row, None);
            }
            "AntivirusScanCompleted"
        }
        Err(e) if stop.load(Ordering::Relaxed) => {
            rec.result = format!("cancelled: {e}");
            "AntivirusScanCancelled"
        }
        Err(e) => {
            rec.result = format!("failed: {e}");
            "AntivirusScanFailed"
        }
    };
    rec.finished = unix_now();
    rec.duration_ms = t0.elapsed().as_millis() as u64;
    let mut row = Row::event(Table::DeviceEvents, action, Timestamp::now());
    row.put_extra("ScanType", kind.as_str());
    row.put_extra("Scheduled", true);
    row.put_extra("Result", rec.result.as_str());
    row.put_extra("FilesScanned", rec.files_scanned as i64);
    row.put_extra("ThreatsFound", rec.threats_found as i64);
    row.put_extra("DurationMs", rec.duration_ms as i64);
    row.put_extra("DetectionSource", "Scan");
    rows.push(row, None);
    rec
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_a_unit_and_bad_ones_say_why() {
        assert_eq!(parse_every("30s").unwrap(), Some(Duration::from_secs(30)));
        assert_eq!(
            parse_every("6h").unwrap(),
            Some(Duration::from_secs(21_600))
        );
        assert_eq!(
            parse_every("1w").unwrap(),
            Some(Duration::from_secs(604_800))
        );
        assert_eq!(parse_every("off").unwrap(), None);
        assert!(parse_every("6").unwrap_err().contains("no unit"));
        assert!(parse_every("0h").unwrap_err().contains("zero"));
        assert!(parse_every("h").unwrap_err().contains("not a duration"));
        assert!(parse_every("1y").unwrap_err().contains("no unit"));
    }

    #[test]
    fn a_scan_is_due_every_interval_after_the_last_start() {
        let every = Duration::from_secs(60);
        assert_eq!(due_at(None, every, 1000), 1060, "after the agent's start");
        let last = ScanRecord {
            started: 5000,
            finished: 5400,
            ..Default::default()
        };
        assert_eq!(due_at(Some(&last), every, 1000), 5060);
    }

    #[test]
    fn the_history_survives_a_restart_and_junk_reads_as_empty() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(ScanHistory::load(dir.path()), ScanHistory::default());
        let mut h = ScanHistory::default();
        h.set(
            Kind::Full,
            ScanRecord {
                started: 1,
                finished: 2,
                result: "completed".into(),
                files_scanned: 10,
                threats_found: 1,
                threats: vec!["/tmp/x".into()],
                duration_ms: 1000,
            },
        );
        h.save(dir.path()).unwrap();
        assert_eq!(ScanHistory::load(dir.path()), h);
        std::fs::write(dir.path().join("antivirus/scans.json"), "{not json").unwrap();
        assert_eq!(ScanHistory::load(dir.path()), ScanHistory::default());
    }

    #[test]
    fn a_custom_engine_scan_finds_and_reports() {
        // The quick scan reads /tmp: a marker file there is found by a test rule.
        let dir = tempfile::Builder::new()
            .prefix("vigil-schedule-")
            .tempdir_in("/tmp")
            .unwrap();
        let marker = format!("VIGIL-SCHEDULE-MARKER-{}", std::process::id());
        std::fs::write(dir.path().join("planted.txt"), &marker).unwrap();
        let rule =
            format!("rule vigil_schedule_marker {{ strings: $a = \"{marker}\" condition: $a }}");
        let (engine, _) = Engine::builder().rule_source("test", "test", &rule).build();
        let rows = RowQueue::default();
        let stop = AtomicBool::new(false);
        let rec = scan_once(
            &engine,
            Kind::Quick,
            Path::new("/nonexistent"),
            &stop,
            &rows,
        );
        assert_eq!(rec.result, "completed", "{rec:?}");
        assert!(rec.threats_found >= 1, "{rec:?}");
        assert!(
            rec.threats.iter().any(|t| t.ends_with("planted.txt")),
            "{rec:?}"
        );
        let rows = rows.take();
        assert!(rows
            .iter()
            .any(|(r, _)| r.action_type() == "AntivirusDetection"));
        assert_eq!(
            rows.last().unwrap().0.action_type(),
            "AntivirusScanCompleted"
        );
        // Stopped at once: the scan is cancelled, not completed.
        let stop = AtomicBool::new(true);
        let rows = RowQueue::default();
        let rec = scan_once(
            &engine,
            Kind::Quick,
            Path::new("/nonexistent"),
            &stop,
            &rows,
        );
        assert!(rec.result.starts_with("cancelled"), "{rec:?}");
        assert_eq!(rows.take()[0].0.action_type(), "AntivirusScanCancelled");
    }
}
