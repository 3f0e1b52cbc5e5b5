//! Tamper protection, and the kernel programs it shares with ASR (`guard.bpf.c`).
//!
//! On this kernel's rungs (no BPF LSM): a supervisor restarts a killed agent at once
//! (`supervisor`), every signal to the agent or its supervisor is reported with the sender
//! (`kernel`: tracepoint `signal:signal_generate`), and opens for writing of the agent's
//! configuration, binary and state by other processes are refused (`files`: fanotify
//! `FAN_OPEN_PERM`, told apart from reads by the open flags the guard programs record). A
//! maintenance token (`vigil-agent maintenance --token T`, checked against
//! `tamper.maintenance_token_sha256`) turns the refusals and the restarts off until
//! `--end`. Where BPF LSM is available the kill itself could be refused; that rung is not
//! built (see the status).
//!
//! [`Defence::start`] loads the guard programs once (when tamper protection or any kernel ASR
//! rule is on), hands ASR its maps (`crate::asr`), and starts what tamper protection needs.
//! Rows wait in a [`RowQueue`]; it never fails the agent.
//!
//! **Invariant:** the agent and its supervisor are never refused and never matched by an
//! ASR rule; maintenance mode is the only switch that turns protection off while running.

pub mod bpf;
pub mod files;
pub mod kernel;
pub mod supervisor;

use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use vigil_schema::{Col, Timestamp};

use crate::asr::{AsrConfig, AsrStatus};
use crate::av::rows::{mde_event, RowQueue};
use crate::protect::kernel::HookState;
use files::{FileGuard, FileGuardOptions};
use kernel::{GuardKernel, GuardMaps, GuardRecord};

/// `[tamper]`: tamper protection.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct TamperConfig {
    /// Supervise the agent, report signals to it, refuse writes to its files.
    pub enabled: bool,
    /// SHA-256 (hex) of the maintenance token; without it maintenance mode cannot be entered.
    pub maintenance_token_sha256: Option<String>,
}

impl TamperConfig {
    pub fn validate(&self) -> Result<(), String> {
        if let Some(h) = &self.maintenance_token_sha256 {
            if h.len() != 64 || !h.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(format!(
                    "tamper.maintenance_token_sha256 must be 64 hex digits (sha256sum of the token), not {h:?}"
                ));
            }
        }
        Ok(())
    }
}

/// What `vigil-agent status` shows of tamper protection.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TamperStatus {
    pub enabled: bool,
    pub maintenance: bool,
    /// Whether this agent runs under the supervisor.
    pub supervised: bool,
    pub supervisor_pid: Option<u32>,
    /// How writes to the agent's files are refused (or why not).
    pub files: String,
    /// How kill attempts are reported (or why not).
    pub signals: String,
    /// The BPF LSM rung (refusing the kill itself).
    pub lsm: String,
    pub writes_denied: u64,
    pub attempts_reported: u64,
    pub restarts: u64,
    pub hooks: Vec<HookState>,
}

/// Tamper protection and the kernel side of ASR, running.
pub struct Defence {
    status: TamperStatus,
    kernel: Option<GuardKernel>,
    files: Option<FileGuard>,
    asr: AsrStatus,
    asr_files: Option<crate::asr::files::FileRules>,
    asr_modules: Option<crate::asr::modules::ModuleList>,
    rows: Arc<RowQueue>,
    maintenance: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    counters: Arc<Counters>,
}

#[derive(Default)]
struct Counters {
    attempts: AtomicU64,
    restarts: AtomicU64,
}

/// Where `Defence` finds the agent's files.
#[derive(Debug, Clone, Default)]
pub struct DefenceContext {
    pub state_dir: PathBuf,
    pub config: Option<PathBuf>,
}

fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

impl Defence {
    pub fn start(tamper: &TamperConfig, asr: &AsrConfig, ctx: &DefenceContext) -> Defence {
        let rows = Arc::new(RowQueue::default());
        let stop = Arc::new(AtomicBool::new(false));
        let counters = Arc::new(Counters::default());
        let marker = supervisor::maintenance_marker(&ctx.state_dir);
        let maintenance = Arc::new(AtomicBool::new(tamper.enabled && marker.exists()));
        let supervised = std::env::var_os(supervisor::SUPERVISED_ENV).is_some();
        let supervisor_pid = supervised.then(std::os::unix::process::parent_id);
        let mut status = TamperStatus {
            enabled: tamper.enabled,
            supervised,
            supervisor_pid,
            lsm: "not built: BPF LSM would refuse kill, ptrace, unlink and rename of the agent's files; this agent reports and restarts instead".into(),
            ..Default::default()
        };
        let mut asr_status = AsrStatus::default();
        let wants_kernel = tamper.enabled || asr.any_kernel_rule();
        let mut kernel = None;
        if wants_kernel {
            let r = Arc::clone(&rows);
            let c = Arc::clone(&counters);
            let asr_cfg = asr.clone();
            let started = GuardKernel::start(
                &[],
                asr.skipped_programs(),
                Box::new(move |rec| match rec {
                    GuardRecord::Signal {
                        sender,
                        target,
                        target_comm,
                        sig,
                        result,
                        ..
                    } => {
                        // Signals to the agent are the supervisor's to report (the agent may
                        // be dying); this instance reports those to the supervisor.
                        if supervisor_pid != Some(target) {
                            return;
                        }
                        c.attempts.fetch_add(1, Ordering::Relaxed);
                        let mut row =
                            mde_event("TamperingAttempt", "AntivirusReport", Timestamp::now());
                        row.put(Col::InitiatingProcessId, i64::from(sender.pid));
                        row.put(Col::InitiatingProcessFileName, sender.comm.as_str());
                        row.put_extra("Operation", "Signal");
                        row.put_extra("Signal", i64::from(sig));
                        row.put_extra("TargetProcessId", i64::from(target));
                        row.put_extra("TargetProcessName", target_comm.as_str());
                        row.put_extra("TargetRole", "supervisor");
                        row.put_extra("SenderUid", i64::from(sender.uid));
                        row.put_extra("SenderParentName", sender.parent_comm.as_str());
                        row.put_extra("Result", i64::from(result));
                        row.put_extra("Source", "TamperProtection");
                        r.push(row, Some(sender.pid));
                    }
                    GuardRecord::Asr { .. } => {
                        if let Some((row, pid)) = crate::asr::row(&asr_cfg, &rec) {
                            r.push(row, pid);
                        }
                    }
                }),
            );
            match started {
                Ok(k) => kernel = Some(k),
                Err(e) => {
                    status.signals = format!("not reported: {e}");
                    asr_status.detail = format!("kernel rules unavailable: {e}");
                }
            }
        }
        let mut maps: Option<Arc<GuardMaps>> = None;
        if let Some(k) = &kernel {
            // The agent and its supervisor are never matched by an ASR rule (and, with tamper
            // protection, signals to them are reported): protected before any rule is on.
            let _ = k.maps.protect_pid(std::process::id());
            if let Some(pid) = supervisor_pid {
                let _ = k.maps.protect_pid(pid);
            }
            status.hooks = k.hooks.clone();
            maps = Some(Arc::clone(&k.maps));
            asr_status = crate::asr::configure(asr, &k.maps, &k.hooks);
        }
        let (asr_files, asr_modules) =
            start_asr_userspace(asr, maps.as_ref(), supervisor_pid, &rows, &mut asr_status);
        let mut file_guard = None;
        if tamper.enabled {
            status.signals = match (&kernel, supervised) {
                (Some(k), true) if k.attached("vg_signal") => {
                    "signal:signal_generate: signals to the agent reported by the supervisor, to the supervisor by the agent".into()
                }
                (Some(_), true) => "signal:signal_generate did not attach".into(),
                (_, false) => "not supervised (started with VIGIL_SUPERVISED set by hand?)".into(),
                (None, true) => status.signals.clone(),
            };
            let precise = maps
                .as_ref()
                .is_some_and(|_| kernel.as_ref().is_some_and(|k| k.attached("vg_openat")));
            let opts = FileGuardOptions {
                config: ctx.config.clone().filter(|c| c.exists()),
                binary: std::fs::read_link("/proc/self/exe").ok(),
                state_dir: ctx.state_dir.clone(),
                allowed: supervisor_pid.into_iter().collect(),
            };
            match FileGuard::start(
                opts,
                if precise { maps.clone() } else { None },
                Arc::clone(&maintenance),
                Arc::clone(&rows),
            ) {
                Ok(g) => {
                    status.files = if g.precise() {
                        "fanotify FAN_OPEN_PERM on the configuration, binary and state; writes told from reads by the open flags (sys_enter_open* tracepoints)".into()
                    } else {
                        "fanotify FAN_OPEN_PERM on the configuration and state; every open by another process refused (no open flags)".into()
                    };
                    file_guard = Some(g);
                }
                Err(e) => status.files = format!("not protected: fanotify: {e}"),
            }
        } else {
            status.files = "tamper.enabled is false".into();
            status.signals = "tamper.enabled is false".into();
        }
        let mut d = Defence {
            status,
            kernel,
            files: file_guard,
            asr: asr_status,
            asr_files,
            asr_modules,
            rows,
            maintenance,
            stop,
            threads: Vec::new(),
            counters,
        };
        if tamper.enabled {
            d.spawn_threads(tamper, &ctx.state_dir);
        }
        d
    }

    fn spawn_threads(&mut self, cfg: &TamperConfig, state_dir: &Path) {
        let _ = std::fs::create_dir_all(supervisor::dir(state_dir));
        let (rows, stop, counters) = (
            Arc::clone(&self.rows),
            Arc::clone(&self.stop),
            Arc::clone(&self.counters),
        );
        let dir = state_dir.to_path_buf();
        if let Ok(h) = std::thread::Builder::new()
            .name("tamper-journal".into())
            .spawn(move || follow_journal(&dir, &rows, &counters, &stop))
        {
            self.threads.push(h);
        }
        let sock = supervisor::dir(state_dir).join("control.sock");
        let _ = std::fs::remove_file(&sock);
        match UnixListener::bind(&sock) {
            Ok(l) => {
                let _ = l.set_nonblocking(true);
                let want = cfg.maintenance_token_sha256.clone();
                let (m, stop) = (Arc::clone(&self.maintenance), Arc::clone(&self.stop));
                let marker = supervisor::maintenance_marker(state_dir);
                if let Ok(h) = std::thread::Builder::new()
                    .name("tamper-control".into())
                    .spawn(move || control(l, want, &m, &marker, &stop))
                {
                    self.threads.push(h);
                }
            }
            Err(e) => eprintln!(
                "vigil-agent: tamper: no maintenance control socket ({}: {e})",
                sock.display()
            ),
        }
    }

    pub fn take_rows(&self) -> Vec<(vigil_schema::Row, Option<u32>)> {
        self.rows.take()
    }

    pub fn status(&self) -> TamperStatus {
        let mut s = self.status.clone();
        s.maintenance = self.maintenance.load(Ordering::SeqCst);
        s.writes_denied = self.files.as_ref().map_or(0, FileGuard::denied);
        s.attempts_reported = self.counters.attempts.load(Ordering::Relaxed);
        s.restarts = self.counters.restarts.load(Ordering::Relaxed);
        s
    }

    pub fn asr_status(&self) -> AsrStatus {
        let mut s = self.asr.clone();
        if let Some(f) = &self.asr_files {
            let c = f.counters();
            s.file_events = c.events;
            s.file_matches = c.matched;
            s.file_denials = c.denied;
            s.file_marks = c.marks;
        }
        s.packaged_modules = self.asr_modules.as_ref().map_or(0, |m| m.len());
        s
    }

    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        self.files = None;
        self.asr_files = None;
        self.asr_modules = None;
        self.kernel = None;
    }
}

/// Start the ASR rules decided in user space (the fanotify file rules) and the list of
/// packaged modules; say in `status` what did not start.
fn start_asr_userspace(
    asr: &AsrConfig,
    maps: Option<&Arc<GuardMaps>>,
    supervisor_pid: Option<u32>,
    rows: &Arc<RowQueue>,
    status: &mut AsrStatus,
) -> (
    Option<crate::asr::files::FileRules>,
    Option<crate::asr::modules::ModuleList>,
) {
    use crate::asr::{files, modules, AsrMode};
    let mut problems = Vec::new();
    let mut file_rules = None;
    let mut module_list = None;
    if let Some(m) = maps {
        if asr.any_file_rule() {
            let opts = files::FileRuleOptions {
                cfg: asr.clone(),
                homes: files::user_homes(
                    &std::fs::read_to_string("/etc/passwd").unwrap_or_default(),
                ),
                allowed: supervisor_pid.into_iter().collect(),
            };
            match files::FileRules::start(opts, Arc::clone(m), Arc::clone(rows)) {
                Ok(f) => file_rules = Some(f),
                Err(e) => problems.push(format!("file rules not enforced (fanotify: {e})")),
            }
        }
        let dpkg = std::path::Path::new(modules::DPKG_INFO);
        if asr.module_load != AsrMode::Off && !dpkg.is_dir() {
            // Without the package manager's lists every module would match: not enforced.
            if let Some(r) = crate::asr::rule("module_load") {
                let _ = m.set_rule_mode(u32::from(r.index), 0);
            }
            problems.push(format!(
                "module_load not enforced: no dpkg file lists in {}",
                dpkg.display()
            ));
        } else if asr.module_load != AsrMode::Off {
            match modules::ModuleList::start(Arc::clone(m), modules::DPKG_INFO.into()) {
                Ok(l) => module_list = Some(l),
                Err(e) => problems.push(format!("packaged modules unknown: {e}")),
            }
        }
    } else if asr.any_file_rule() || asr.module_load != AsrMode::Off {
        problems.push("file and module rules need the guard programs".into());
    }
    if !problems.is_empty() {
        status.detail = format!("{}; {}", status.detail, problems.join("; "));
    }
    (file_rules, module_list)
}

/// Turn the supervisor's journal into rows, from where the last run stopped.
fn follow_journal(state_dir: &Path, rows: &RowQueue, counters: &Counters, stop: &AtomicBool) {
    let path = supervisor::journal(state_dir);
    let offset_path = supervisor::dir(state_dir).join("attempts.offset");
    let mut offset: u64 = std::fs::read_to_string(&offset_path)
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(0);
    while !stop.load(Ordering::Relaxed) {
        if let Ok(mut f) = std::fs::File::open(&path) {
            let len = f.metadata().map(|m| m.len()).unwrap_or(0);
            if len < offset {
                offset = 0; // replaced
            }
            if len > offset && f.seek(SeekFrom::Start(offset)).is_ok() {
                let mut text = String::new();
                let _ = BufReader::new(&mut f)
                    .take(len - offset)
                    .read_to_string(&mut text);
                let complete = text.rfind('\n').map_or(0, |i| i + 1);
                for line in text[..complete].lines() {
                    if let Some(row) = journal_row(line, counters) {
                        rows.push(row.0, row.1);
                    }
                }
                offset += complete as u64;
                let _ = std::fs::write(&offset_path, offset.to_string());
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn journal_row(line: &str, counters: &Counters) -> Option<(vigil_schema::Row, Option<u32>)> {
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    let s = |k: &str| v[k].as_str().unwrap_or("").to_string();
    let n = |k: &str| v[k].as_i64().unwrap_or(-1);
    let mut row = mde_event("TamperingAttempt", "AntivirusReport", Timestamp::now());
    row.put_extra("Source", "TamperProtection");
    row.put_extra("ReportedAt", s("at"));
    match v["kind"].as_str()? {
        "signal" => {
            counters.attempts.fetch_add(1, Ordering::Relaxed);
            let pid = u32::try_from(n("sender_pid")).ok();
            if let Some(p) = pid {
                row.put(Col::InitiatingProcessId, i64::from(p));
            }
            row.put(Col::InitiatingProcessFileName, s("sender_comm"));
            row.put_extra("Operation", "Signal");
            row.put_extra("Signal", n("signal"));
            row.put_extra("TargetProcessId", n("target_pid"));
            row.put_extra("TargetProcessName", s("target_comm"));
            row.put_extra("TargetRole", "agent");
            row.put_extra("SenderUid", n("sender_uid"));
            row.put_extra("SenderParentId", n("sender_ppid"));
            row.put_extra("SenderParentName", s("sender_parent_comm"));
            row.put_extra("Result", n("result"));
            Some((row, pid))
        }
        "restart" => {
            counters.restarts.fetch_add(1, Ordering::Relaxed);
            row.put_extra("Operation", "AgentRestarted");
            row.put_extra("TargetProcessId", n("pid"));
            row.put_extra("ExitCode", n("exit_code"));
            row.put_extra("KilledBySignal", n("killed_by_signal"));
            Some((row, None))
        }
        _ => None,
    }
}

/// The maintenance control socket: `on TOKEN`, `off TOKEN`, `status`.
fn control(
    l: UnixListener,
    want: Option<String>,
    m: &AtomicBool,
    marker: &Path,
    stop: &AtomicBool,
) {
    while !stop.load(Ordering::Relaxed) {
        let Ok((stream, _)) = l.accept() else {
            std::thread::sleep(Duration::from_millis(100));
            continue;
        };
        let _ = stream.set_nonblocking(false);
        let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
        let mut line = String::new();
        let mut r = BufReader::new(&stream);
        let _ = r.read_line(&mut line);
        let reply = maintenance_command(line.trim(), want.as_deref(), m, marker);
        let mut w = &stream;
        let _ = writeln!(w, "{reply}");
    }
}

fn maintenance_command(line: &str, want: Option<&str>, m: &AtomicBool, marker: &Path) -> String {
    let (verb, token) = line.split_once(' ').unwrap_or((line, ""));
    if verb == "status" {
        return format!(
            "ok maintenance {}",
            if m.load(Ordering::SeqCst) {
                "on"
            } else {
                "off"
            }
        );
    }
    let Some(want) = want else {
        return "error: no maintenance token is configured (tamper.maintenance_token_sha256)"
            .into();
    };
    if !sha256_hex(token).eq_ignore_ascii_case(want) {
        return "error: wrong maintenance token".into();
    }
    match verb {
        "on" => {
            m.store(true, Ordering::SeqCst);
            let _ = std::fs::write(marker, Timestamp::now().to_string());
            "ok maintenance on".into()
        }
        "off" => {
            m.store(false, Ordering::SeqCst);
            let _ = std::fs::remove_file(marker);
            "ok maintenance off".into()
        }
        other => format!("error: unknown command {other:?}: expected on, off or status"),
    }
}

/// `vigil-agent maintenance`: ask the running agent to enter (`on`) or leave maintenance.
pub fn request_maintenance(state_dir: &Path, token: &str, on: bool) -> anyhow::Result<String> {
    let sock = supervisor::dir(state_dir).join("control.sock");
    let mut s = UnixStream::connect(&sock).map_err(|e| {
        anyhow::anyhow!(
            "cannot reach the agent's control socket {} ({e}): is the agent running with tamper protection?",
            sock.display()
        )
    })?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    writeln!(s, "{} {token}", if on { "on" } else { "off" })?;
    let mut reply = String::new();
    BufReader::new(&s).read_line(&mut reply)?;
    let reply = reply.trim().to_string();
    if let Some(e) = reply.strip_prefix("error: ") {
        anyhow::bail!("{e}");
    }
    Ok(reply)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maintenance_needs_the_right_token() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("maintenance");
        let m = AtomicBool::new(false);
        let want = sha256_hex("s3cret");
        assert!(maintenance_command("on nope", Some(&want), &m, &marker).contains("wrong"));
        assert!(!m.load(Ordering::SeqCst));
        assert!(
            maintenance_command("on s3cret", None, &m, &marker).contains("no maintenance token")
        );
        assert_eq!(
            maintenance_command("on s3cret", Some(&want), &m, &marker),
            "ok maintenance on"
        );
        assert!(m.load(Ordering::SeqCst) && marker.exists());
        assert_eq!(
            maintenance_command("status", None, &m, &marker),
            "ok maintenance on"
        );
        assert_eq!(
            maintenance_command("off s3cret", Some(&want), &m, &marker),
            "ok maintenance off"
        );
        assert!(!m.load(Ordering::SeqCst) && !marker.exists());
    }

    #[test]
    fn journal_lines_become_rows_naming_the_killer() {
        let c = Counters::default();
        let line = r#"{"at":"x","kind":"signal","signal":9,"result":0,"target_pid":10,"target_comm":"vigil-agent","sender_pid":77,"sender_tid":77,"sender_uid":0,"sender_comm":"kill","sender_ppid":5,"sender_parent_comm":"bash"}"#;
        let (row, pid) = journal_row(line, &c).unwrap();
        assert_eq!(pid, Some(77));
        assert_eq!(row.get_str(Col::InitiatingProcessFileName), Some("kill"));
        let extra = row.extra().unwrap().to_json();
        assert!(extra.contains(r#""Signal":9"#), "{extra}");
        assert!(extra.contains(r#""SenderParentName":"bash""#), "{extra}");
        assert_eq!(c.attempts.load(Ordering::Relaxed), 1);
        assert!(journal_row("not json", &c).is_none());
    }

    #[test]
    fn bad_token_hashes_are_named() {
        let bad = TamperConfig {
            enabled: true,
            maintenance_token_sha256: Some("abc".into()),
        };
        assert!(bad
            .validate()
            .unwrap_err()
            .contains("maintenance_token_sha256"));
    }
}
