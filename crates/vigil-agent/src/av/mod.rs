//! Next-generation protection on the agent: on-access scanning with vigil-scan's engine
//! (`onaccess`), its verdict cache (`cache`), the rows it reports (`rows`), and the antivirus
//! health that `vigil-agent status` shows.
//!
//! Scheduled quick and full scans (`quick_scan_every`, `full_scan_every`) run on their own
//! thread (`schedule`), whether or not real-time protection is on; their last results are
//! part of the health.
//!
//! [`Antivirus::start`] builds the engine (the team's YARA-X pack plus
//! `antivirus.rule_dirs`), opens the quarantine vault (`<state_dir>/quarantine`, the vault
//! the `quarantine`/`restore` response actions use) and starts the fanotify guard. It never
//! fails the agent: what cannot start is said in the status (`real_time = false` with the
//! reason). Rows wait in a bounded [`RowQueue`] that the agent loop drains into
//! `Pipeline::protection`.
//!
//! **Invariant:** the agent's own process, state directory, configuration and binary are
//! never scanned or refused (they are exclusions added here, whatever the configuration).

pub mod cache;
mod marks;
pub mod onaccess;
pub mod rows;
pub mod schedule;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use vigil_scan::{Engine, HashLists, Quarantine};

pub use onaccess::{OnAccess, OnAccessCounters, OnAccessMarks, OnAccessOptions};
pub use rows::RowQueue;

/// What a detection leads to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AvAction {
    /// Refuse the open or exec.
    #[default]
    Block,
    /// Refuse it and move the file into the vault.
    Quarantine,
    /// Allow it and report.
    Audit,
}

impl AvAction {
    pub fn as_str(self) -> &'static str {
        match self {
            AvAction::Block => "block",
            AvAction::Quarantine => "quarantine",
            AvAction::Audit => "audit",
        }
    }
}

/// `[antivirus]`: on-access scanning (next-generation protection).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AntivirusConfig {
    /// Real-time protection (off by default until it is measured on real fleets).
    pub enabled: bool,
    pub action: AvAction,
    /// Scan every exec (`FAN_OPEN_EXEC_PERM` on every filesystem).
    pub scan_exec: bool,
    /// Opens under these directories are scanned (`FAN_OPEN_PERM`).
    pub protected_paths: Vec<PathBuf>,
    /// Past this, an open without a verdict is allowed (or refused with `fail_closed`) and
    /// reported `AntivirusScanFailed`.
    pub timeout_ms: u64,
    pub fail_closed: bool,
    /// Larger files are allowed unscanned.
    pub max_file_mb: u64,
    pub cache_entries: usize,
    /// Scanning threads.
    pub workers: usize,
    /// Bound on the directories marked under protected paths that are not mount points.
    pub max_marked_dirs: usize,
    /// Path prefixes (whole components) never scanned.
    pub exclude_paths: Vec<PathBuf>,
    /// Executables (exact paths) whose opens are never scanned.
    pub exclude_processes: Vec<PathBuf>,
    /// File name extensions (`log` or `.log`, any case) never scanned.
    pub exclude_extensions: Vec<String>,
    /// Operator YARA rule directories added to the team pack.
    pub rule_dirs: Vec<PathBuf>,
    /// SHA-256s (64 hex digits) of files never scanned nor detected: the allow list wins over
    /// the block list and every rule.
    pub allow_sha256: Vec<String>,
    /// SHA-256 → threat name: files detected by their hash alone (`[antivirus.block_sha256]`).
    pub block_sha256: std::collections::BTreeMap<String, String>,
    /// Run a quick scan this often (`"off"`, or a number and a unit: `"12h"`, `"1d"`).
    pub quick_scan_every: String,
    /// Run a full scan this often (`"off"`, or `"7d"`, ...).
    pub full_scan_every: String,
}

impl Default for AntivirusConfig {
    fn default() -> Self {
        AntivirusConfig {
            enabled: false,
            action: AvAction::Block,
            scan_exec: true,
            protected_paths: ["/tmp", "/var/tmp", "/dev/shm", "/home", "/root"]
                .into_iter()
                .map(PathBuf::from)
                .collect(),
            timeout_ms: 5000,
            fail_closed: false,
            max_file_mb: 64,
            cache_entries: 65_536,
            workers: 2,
            max_marked_dirs: 20_000,
            exclude_paths: Vec::new(),
            exclude_processes: Vec::new(),
            exclude_extensions: Vec::new(),
            rule_dirs: Vec::new(),
            allow_sha256: Vec::new(),
            block_sha256: Default::default(),
            quick_scan_every: "off".into(),
            full_scan_every: "off".into(),
        }
    }
}

impl AntivirusConfig {
    /// The scan schedule (call after `validate`; a bad value reads as off).
    pub fn schedule(&self) -> schedule::Every {
        schedule::Every {
            quick: schedule::parse_every(&self.quick_scan_every).unwrap_or(None),
            full: schedule::parse_every(&self.full_scan_every).unwrap_or(None),
        }
    }

    /// The SHA-256 allow and block lists; an error names the key and the entry.
    pub fn hash_lists(&self) -> Result<HashLists, String> {
        let mut lists = HashLists::default();
        for h in &self.allow_sha256 {
            let sha = HashLists::parse_sha256(h)
                .map_err(|e| format!("antivirus.allow_sha256 entry {h:?}: {e}"))?;
            lists.allow(sha);
        }
        for (h, threat) in &self.block_sha256 {
            let sha = HashLists::parse_sha256(h)
                .map_err(|e| format!("antivirus.block_sha256 key {h:?}: {e}"))?;
            if threat.trim().is_empty() || threat.len() > 200 {
                return Err(format!(
                    "antivirus.block_sha256 {h:?}: the threat name must be 1 to 200 bytes, not {threat:?}"
                ));
            }
            lists.block(sha, threat.trim());
        }
        Ok(lists)
    }

    /// Check the values; the message names the key and the value.
    pub fn validate(&self) -> Result<(), String> {
        for (key, v) in [
            ("antivirus.quick_scan_every", &self.quick_scan_every),
            ("antivirus.full_scan_every", &self.full_scan_every),
        ] {
            schedule::parse_every(v).map_err(|e| format!("{key}: {e}"))?;
        }
        for (key, list) in [
            ("antivirus.protected_paths", &self.protected_paths),
            ("antivirus.exclude_paths", &self.exclude_paths),
            ("antivirus.exclude_processes", &self.exclude_processes),
            ("antivirus.rule_dirs", &self.rule_dirs),
        ] {
            if let Some(p) = list.iter().find(|p| !p.is_absolute()) {
                return Err(format!("{key} entry {p:?} must be an absolute path"));
            }
        }
        self.hash_lists()?;
        if !(10..=600_000).contains(&self.timeout_ms) {
            return Err(format!(
                "antivirus.timeout_ms must be from 10 to 600000, not {}",
                self.timeout_ms
            ));
        }
        if !(1..=64).contains(&self.workers) {
            return Err(format!(
                "antivirus.workers must be from 1 to 64, not {}",
                self.workers
            ));
        }
        if self.max_file_mb == 0 || self.max_file_mb > 4096 {
            return Err(format!(
                "antivirus.max_file_mb must be from 1 to 4096, not {}",
                self.max_file_mb
            ));
        }
        if let Some(e) = self
            .exclude_extensions
            .iter()
            .find(|e| e.trim_start_matches('.').is_empty() || e.contains('/'))
        {
            return Err(format!(
                "antivirus.exclude_extensions entry {e:?} must be an extension such as \"log\""
            ));
        }
        Ok(())
    }
}

/// What is never scanned.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Exclusions {
    pub paths: Vec<PathBuf>,
    pub processes: Vec<PathBuf>,
    /// Lowercase, without the dot.
    pub extensions: Vec<String>,
}

impl Exclusions {
    pub fn from_config(cfg: &AntivirusConfig, own: &[PathBuf]) -> Exclusions {
        let mut paths = cfg.exclude_paths.clone();
        paths.extend(own.iter().cloned());
        Exclusions {
            paths,
            processes: cfg.exclude_processes.clone(),
            extensions: cfg
                .exclude_extensions
                .iter()
                .map(|e| e.trim_start_matches('.').to_ascii_lowercase())
                .collect(),
        }
    }

    /// Whether `path` is under an excluded prefix or has an excluded extension.
    pub fn path_excluded(&self, path: &str) -> bool {
        let p = Path::new(path);
        if self.paths.iter().any(|x| p.starts_with(x)) {
            return true;
        }
        if self.extensions.is_empty() {
            return false;
        }
        let name = path.rsplit('/').next().unwrap_or(path);
        match name.rsplit_once('.') {
            Some((stem, ext)) if !stem.is_empty() => {
                self.extensions.iter().any(|x| x.eq_ignore_ascii_case(ext))
            }
            _ => false,
        }
    }

    /// Whether the process `pid` runs an excluded executable.
    pub fn process_excluded(&self, pid: u32) -> bool {
        if self.processes.is_empty() {
            return false;
        }
        std::fs::read_link(format!("/proc/{pid}/exe"))
            .is_ok_and(|exe| self.processes.contains(&exe))
    }
}

/// The agent's files that on-access scanning leaves alone.
#[derive(Debug, Clone, Default)]
pub struct AvContext {
    pub state_dir: PathBuf,
    /// The configuration file, the agent's binary, anything else of the agent.
    pub own_files: Vec<PathBuf>,
}

/// The configuration file this process was started with (`--config PATH` or
/// `--config=PATH` on its command line), else the default path: one of the agent's own files.
pub fn config_path_from_args() -> PathBuf {
    let args: Vec<String> = std::env::args().collect();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--config" {
            if let Some(p) = it.next() {
                return PathBuf::from(p);
            }
        } else if let Some(p) = a.strip_prefix("--config=") {
            return PathBuf::from(p);
        }
    }
    PathBuf::from(crate::config::DEFAULT_PATH)
}

/// Antivirus health, for `vigil-agent status` and the heartbeat.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AvStatus {
    pub enabled: bool,
    /// Whether on-access scanning runs.
    pub real_time: bool,
    /// `active` (block or quarantine), `audit`, or `off`.
    pub mode: String,
    pub action: String,
    /// Why real-time protection is off, or how it runs.
    pub detail: String,
    pub engine_version: String,
    pub rules: u64,
    /// Rule files that did not compile, with the first error.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rule_errors: Vec<String>,
    pub counters: OnAccessCounters,
    pub marks: OnAccessMarks,
    pub cache_entries: u64,
    pub rows_dropped: u64,
    /// The scan schedule as configured (`off` or the interval).
    pub quick_scan_every: String,
    pub full_scan_every: String,
    /// The last scheduled scans (kept across restarts).
    pub last_quick_scan: Option<schedule::ScanRecord>,
    pub last_full_scan: Option<schedule::ScanRecord>,
    /// The scheduled scan running now (`quick` or `full`).
    pub scan_running: Option<String>,
}

/// The running antivirus.
pub struct Antivirus {
    base: AvStatus,
    guard: Option<OnAccess>,
    scheduler: Option<schedule::Scheduler>,
    rows: Arc<RowQueue>,
}

/// Build the engine of `cfg`: the team pack plus the operator's rule directories, and the
/// SHA-256 lists (`validate` has checked them; a bad list here is an error of the status).
pub fn build_engine(cfg: &AntivirusConfig) -> (Engine, Vec<String>) {
    let (lists, list_error) = match cfg.hash_lists() {
        Ok(l) => (l, None),
        Err(e) => (HashLists::default(), Some(e)),
    };
    let mut b = Engine::builder().team_rules().hash_lists(lists);
    for (i, d) in cfg.rule_dirs.iter().enumerate() {
        b = b.rule_dir(d, &format!("ops{i}"));
    }
    let (engine, report) = b.build();
    let errors = report
        .files
        .iter()
        .filter(|f| !f.compiled())
        .map(|f| {
            format!(
                "{}: {}",
                f.origin,
                f.errors.first().cloned().unwrap_or_default()
            )
        })
        .chain(list_error)
        .collect();
    (engine, errors)
}

impl Antivirus {
    /// Start real-time protection as configured; never fails (see the status).
    pub fn start(cfg: &AntivirusConfig, ctx: &AvContext) -> Antivirus {
        let rows = Arc::new(RowQueue::default());
        let mut base = AvStatus {
            enabled: cfg.enabled,
            action: cfg.action.as_str().into(),
            mode: "off".into(),
            quick_scan_every: cfg.quick_scan_every.clone(),
            full_scan_every: cfg.full_scan_every.clone(),
            ..Default::default()
        };
        let every = cfg.schedule();
        if !cfg.enabled {
            base.detail = "antivirus.enabled is false".into();
            let c = cfg.clone();
            let scheduler = start_schedule(
                every,
                ctx,
                Box::new(move || Arc::new(build_engine(&c).0)),
                &rows,
                &mut base,
            );
            return Antivirus {
                base,
                guard: None,
                scheduler,
                rows,
            };
        }
        let (engine, errors) = build_engine(cfg);
        let engine = Arc::new(engine);
        let shared = Arc::clone(&engine);
        let scheduler = start_schedule(every, ctx, Box::new(move || shared), &rows, &mut base);
        base.engine_version = engine.version().to_string();
        base.rules = engine.rule_count() as u64;
        base.rule_errors = errors;
        let vault = match Quarantine::open(ctx.state_dir.join("quarantine")) {
            Ok(v) => Some(v),
            Err(e) => {
                base.detail = format!("quarantine vault unavailable ({e}); ");
                None
            }
        };
        let mut own = vec![ctx.state_dir.clone()];
        own.extend(ctx.own_files.iter().cloned());
        if let Ok(exe) = std::fs::read_link("/proc/self/exe") {
            own.push(exe);
        }
        let opts = OnAccessOptions {
            action: cfg.action,
            protected: cfg.protected_paths.clone(),
            exec: cfg.scan_exec,
            timeout: Duration::from_millis(cfg.timeout_ms),
            fail_closed: cfg.fail_closed,
            max_bytes: cfg.max_file_mb.saturating_mul(1024 * 1024),
            cache_entries: cfg.cache_entries,
            workers: cfg.workers,
            max_marked_dirs: cfg.max_marked_dirs,
            exclusions: Exclusions::from_config(cfg, &own),
        };
        let guard = match OnAccess::start(opts, engine, vault, Arc::clone(&rows)) {
            Ok(g) => {
                base.real_time = true;
                base.mode = match cfg.action {
                    AvAction::Audit => "audit".into(),
                    _ => "active".into(),
                };
                base.detail.push_str(&format!(
                    "fanotify: {}FAN_OPEN_PERM under the protected paths, FAN_CLOSE_WRITE rescans",
                    if cfg.scan_exec {
                        "FAN_OPEN_EXEC_PERM everywhere, "
                    } else {
                        ""
                    }
                ));
                Some(g)
            }
            Err(e) => {
                base.detail
                    .push_str(&format!("cannot start on-access scanning (fanotify: {e})"));
                None
            }
        };
        Antivirus {
            base,
            guard,
            scheduler,
            rows,
        }
    }

    /// Rows since the last call, with the pid of their initiating process.
    pub fn take_rows(&self) -> Vec<(vigil_schema::Row, Option<u32>)> {
        self.rows.take()
    }

    pub fn status(&self) -> AvStatus {
        let mut s = self.base.clone();
        if let Some(g) = &self.guard {
            s.counters = g.counters();
            s.marks = g.marks();
            s.cache_entries = g.cache_len() as u64;
        }
        s.rows_dropped = self.rows.dropped();
        if let Some(sch) = &self.scheduler {
            let h = sch.history();
            s.last_quick_scan = h.quick;
            s.last_full_scan = h.full;
            s.scan_running = sch.running().map(str::to_string);
        }
        s
    }

    /// Stop holding opens and execs, and any scheduled scan (also done on drop).
    pub fn stop(&mut self) {
        self.guard = None;
        self.scheduler = None;
    }
}

/// Start the scan schedule when one is configured; the last scans are shown even when not.
fn start_schedule(
    every: schedule::Every,
    ctx: &AvContext,
    engine: Box<dyn FnOnce() -> Arc<Engine> + Send>,
    rows: &Arc<RowQueue>,
    base: &mut AvStatus,
) -> Option<schedule::Scheduler> {
    let h = schedule::ScanHistory::load(&ctx.state_dir);
    base.last_quick_scan = h.quick;
    base.last_full_scan = h.full;
    if !every.any() {
        return None;
    }
    match schedule::Scheduler::start(every, ctx.state_dir.clone(), engine, Arc::clone(rows)) {
        Ok(s) => Some(s),
        Err(e) => {
            base.detail
                .push_str(&format!("; scheduled scans cannot start: {e}"));
            None
        }
    }
}

/// The lines `vigil-agent status` prints.
pub fn status_lines(s: &AvStatus) -> Vec<String> {
    let mut out = vec![format!(
        "antivirus  real-time {} (mode {}, action {}): {}",
        if s.real_time { "on" } else { "off" },
        s.mode,
        s.action,
        s.detail
    )];
    if s.enabled {
        out.push(format!(
            "  engine {} with {} rules{}",
            s.engine_version,
            s.rules,
            if s.rule_errors.is_empty() {
                String::new()
            } else {
                format!("; {} rule files failed", s.rule_errors.len())
            }
        ));
        let c = &s.counters;
        out.push(format!(
            "  {} events: {} cached, {} scanned, {} detections ({} blocked, {} quarantined, {} audited), {} timeouts, {} excluded",
            c.events, c.cache_hits, c.scanned, c.detections, c.blocked, c.quarantined, c.audited, c.timeouts, c.excluded
        ));
    }
    for (kind, every, last) in [
        ("quick", &s.quick_scan_every, &s.last_quick_scan),
        ("full", &s.full_scan_every, &s.last_full_scan),
    ] {
        let last = match last {
            Some(r) => format!(
                "last {} at {} (unix), {} files, {} threats",
                r.result, r.finished, r.files_scanned, r.threats_found
            ),
            None => "never run".into(),
        };
        let running = if s.scan_running.as_deref() == Some(kind) {
            " (running now)"
        } else {
            ""
        };
        out.push(format!("  {kind} scan every {every}{running}: {last}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exclusions_match_prefixes_extensions_and_not_lookalikes() {
        let cfg = AntivirusConfig {
            exclude_paths: vec![PathBuf::from("/srv/data")],
            exclude_extensions: vec![".LOG".into(), "tmp".into()],
            ..Default::default()
        };
        let x = Exclusions::from_config(&cfg, &[PathBuf::from("/var/lib/vigil")]);
        assert!(x.path_excluded("/srv/data/a.bin"));
        assert!(!x.path_excluded("/srv/database/a.bin"));
        assert!(x.path_excluded("/var/lib/vigil/status.json"));
        assert!(x.path_excluded("/tmp/x.log"));
        assert!(x.path_excluded("/tmp/y.TMP"));
        assert!(!x.path_excluded("/tmp/.log"), "a dot file has no extension");
        assert!(!x.path_excluded("/tmp/logs/z.sh"));
        assert!(!x.process_excluded(std::process::id()));
    }

    /// The lists of the configuration reach the engine: a block-listed hash is detected
    /// under its threat name, an allow-listed one is never scanned; a bad entry is named.
    #[test]
    fn sha256_lists_of_the_configuration_reach_the_engine() {
        use sha2::Digest;
        let tool = b"an operator's own build of a tool".to_vec();
        let bad = b"a payload known by its hash only".to_vec();
        let hex = |d: &[u8]| hex::encode(sha2::Sha256::digest(d));
        let cfg: AntivirusConfig = toml::from_str(&format!(
            "allow_sha256 = [\"{}\"]\n[block_sha256]\n\"{}\" = \"Trojan:Linux/Known\"\n",
            hex(&tool).to_uppercase(),
            hex(&bad)
        ))
        .unwrap();
        cfg.validate().unwrap();
        let (engine, errors) = build_engine(&cfg);
        assert!(errors.is_empty(), "{errors:?}");
        let limits = vigil_scan::Limits::default();
        let r = engine.scan_bytes("payload.bin", &bad, &limits);
        match &r.verdict {
            vigil_scan::Verdict::Malicious(d) => {
                assert_eq!(d.threat, "Trojan:Linux/Known");
                assert_eq!(d.source, vigil_scan::DetectionSource::BlockList);
            }
            v => panic!("not detected: {v:?}"),
        }
        let r = engine.scan_bytes("tool", &tool, &limits);
        assert_eq!(r.verdict, vigil_scan::Verdict::Allowed);
        assert_eq!(r.bytes_scanned, 0);

        let short = AntivirusConfig {
            allow_sha256: vec!["abc".into()],
            ..Default::default()
        };
        let e = short.validate().unwrap_err();
        assert!(
            e.contains("antivirus.allow_sha256") && e.contains("abc"),
            "{e}"
        );
        let unnamed = AntivirusConfig {
            block_sha256: [(hex(&bad), " ".to_string())].into_iter().collect(),
            ..Default::default()
        };
        let e = unnamed.validate().unwrap_err();
        assert!(
            e.contains("antivirus.block_sha256") && e.contains("threat name"),
            "{e}"
        );
        // A list that fails here is an error of the status, never a silently empty engine.
        assert_eq!(build_engine(&short).1.len(), 1);
    }

    #[test]
    fn bad_values_are_named() {
        let bad = AntivirusConfig {
            protected_paths: vec![PathBuf::from("tmp")],
            ..Default::default()
        };
        assert!(bad
            .validate()
            .unwrap_err()
            .contains("antivirus.protected_paths"));
        let bad = AntivirusConfig {
            timeout_ms: 1,
            ..Default::default()
        };
        assert!(bad.validate().unwrap_err().contains("antivirus.timeout_ms"));
        let bad = AntivirusConfig {
            exclude_extensions: vec![".".into()],
            ..Default::default()
        };
        assert!(bad.validate().unwrap_err().contains("exclude_extensions"));
        let bad = AntivirusConfig {
            full_scan_every: "7".into(),
            ..Default::default()
        };
        assert!(bad
            .validate()
            .unwrap_err()
            .contains("antivirus.full_scan_every"));
        assert!(AntivirusConfig::default().validate().is_ok());
        assert!(!AntivirusConfig::default().schedule().any());
    }

    #[test]
    fn disabled_antivirus_says_why() {
        let av = Antivirus::start(&AntivirusConfig::default(), &AvContext::default());
        let s = av.status();
        assert!(!s.real_time);
        assert_eq!(s.mode, "off");
        assert!(s.detail.contains("antivirus.enabled"));
        assert_eq!(status_lines(&s).len(), 3);
        assert!(status_lines(&s)[1].contains("quick scan every off: never run"));
    }
}
