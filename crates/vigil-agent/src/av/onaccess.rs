//! On-access scanning: a fanotify group of its own (separate from the exec guard's) whose
//! permission events wait for a verdict of vigil-scan's engine.
//!
//! Marks:
//! - `FAN_OPEN_EXEC_PERM` on every real filesystem (`FAN_MARK_FILESYSTEM`, or the mount when
//!   a filesystem refuses), rescanned every 5 s for new mounts: every exec is decided;
//! - `FAN_OPEN_PERM | FAN_CLOSE_WRITE` under each protected path: a mount mark when the path
//!   is a mount point, else inode marks on the directory and its subdirectories
//!   (`FAN_EVENT_ON_CHILD`; fanotify inode marks are not recursive), at most
//!   `max_marked_dirs`, refreshed on the same rescan so new directories are covered within
//!   5 s. Opens elsewhere never wait for the agent.
//!
//! Threads: "av-onaccess" reads events and decides what it can without reading the file
//! (the agent's own pid, exclusions, a cached verdict for (device, inode, mtime, ctime,
//! size)); the rest goes to "av-scan-N" workers with a deadline this thread enforces: past it
//! the open is allowed (or refused with `fail_closed`) and reported `AntivirusScanFailed`.
//! `FAN_CLOSE_WRITE` drops the inode's cached verdicts and queues a background scan (never
//! waited on), so that a dropped file is detected, and quarantined, at once.
//! A program found clean from the cache at an exec gets an evictable inode ignore mark for
//! `FAN_OPEN_EXEC_PERM` (`Group::ignore_until_modified`): the kernel skips its later execs
//! until it is modified (any write or truncate clears the mark) or its inode leaves the
//! cache. Opens keep going through this thread's cache (a file can be read while another
//! process writes it through a mapping; it cannot be executed then). A change through a shared writable mapping does not clear the mark; the same
//! mark carries `FAN_CLOSE_WRITE`, whose event takes it back — the file cannot be executed
//! while open for writing, but an exec right after that close may still pass before this
//! thread reads the event (a window of one event's handling).
//!
//! **Invariant:** every permission event is answered exactly once (an `AtomicBool` per job
//! decides who answers); its descriptor stays open until then. Events of the agent's own
//! process are answered at once, before anything else, so the agent never waits on itself;
//! its state directory, configuration and binary are never scanned. Closing the group
//! (agent stop or crash) makes the kernel allow whatever is pending: fail open.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use vigil_scan::{Engine, Limits, Quarantine, Verdict};

use crate::av::cache::{Cached, Threat, VerdictCache};
use crate::av::marks::{self, MarkSet};
use crate::av::rows::{detection_row, scan_failed_row, Detected, RowQueue};
use crate::av::{AvAction, Exclusions};
use crate::fanotify::{fd_path, Group};
use crate::protect::digest::{file_key, FileKey};
use crate::protect::report::ProcSnapshot;

/// Settings of the on-access guard.
#[derive(Debug, Clone)]
pub struct OnAccessOptions {
    pub action: AvAction,
    /// Directories whose opens are scanned (execs are scanned everywhere).
    pub protected: Vec<PathBuf>,
    /// Scan execs on every filesystem.
    pub exec: bool,
    pub timeout: Duration,
    pub fail_closed: bool,
    pub max_bytes: u64,
    pub cache_entries: usize,
    pub workers: usize,
    pub max_marked_dirs: usize,
    pub exclusions: Exclusions,
}

/// Counters shown in the status.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    events: AtomicU64,
    own: AtomicU64,
    excluded: AtomicU64,
    cache_hits: AtomicU64,
    scanned: AtomicU64,
    detections: AtomicU64,
    blocked: AtomicU64,
    quarantined: AtomicU64,
    audited: AtomicU64,
    timeouts: AtomicU64,
    too_large: AtomicU64,
    errors: AtomicU64,
    queue_full: AtomicU64,
    rescans: AtomicU64,
    kernel_skips: AtomicU64,
}

/// The counters, as the status shows them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OnAccessCounters {
    /// Permission events received.
    pub events: u64,
    /// The agent's own opens and execs, allowed at once.
    pub own: u64,
    /// Allowed at once by an exclusion (path, process, extension, the agent's own files).
    pub excluded: u64,
    /// Verdicts from the cache.
    pub cache_hits: u64,
    /// Files scanned (permission events and background scans after writes).
    pub scanned: u64,
    pub detections: u64,
    pub blocked: u64,
    pub quarantined: u64,
    pub audited: u64,
    /// Decided by the deadline (allowed, or refused with `fail_closed`).
    pub timeouts: u64,
    /// Allowed unscanned: over the size limit.
    pub too_large: u64,
    /// Files that could not be stat-ed, read or quarantined.
    pub errors: u64,
    /// Decided without a scan because the scan queue was full.
    pub queue_full: u64,
    /// Background scans after a write.
    pub rescans: u64,
    /// Clean programs whose exec events the kernel now skips until they are modified.
    #[serde(default)]
    pub kernel_skips: u64,
}

/// Marks in place.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OnAccessMarks {
    /// `mount point (filesystem|mount)` with exec marks.
    pub exec: Vec<String>,
    /// Protected paths and how they are covered.
    pub protected: Vec<String>,
    /// Directories with inode marks.
    pub directories: usize,
    /// What could not be marked, with the reason.
    pub failed: Vec<String>,
}

enum Work {
    /// A held open or exec.
    Decide(Arc<Job>),
    /// A file just written: scan it in the background.
    Rescan { file: File, key: FileKey, pid: u32 },
}

struct Job {
    file: File,
    key: FileKey,
    path: String,
    pid: u32,
    trigger: &'static str,
    deadline: Instant,
    answered: AtomicBool,
}

struct Shared {
    fan: Group,
    opts: OnAccessOptions,
    engine: Arc<Engine>,
    limits: Limits,
    vault: Option<Mutex<Quarantine>>,
    cache: Mutex<VerdictCache>,
    counters: Counters,
    marks: Mutex<MarkSet>,
    rows: Arc<RowQueue>,
    own_pid: u32,
    stop: AtomicBool,
}

/// The running guard. Dropping it stops the threads and closes the group.
pub struct OnAccess {
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
}

const REASON_DEADLINE: &str = "scan deadline";
const REASON_QUEUE: &str = "scan queue full";

impl OnAccess {
    /// Open a group, mark, and start the threads. `vault` receives quarantined files.
    pub fn start(
        opts: OnAccessOptions,
        engine: Arc<Engine>,
        vault: Option<Quarantine>,
        rows: Arc<RowQueue>,
    ) -> std::io::Result<OnAccess> {
        let fan = Group::permissions(false)?;
        let limits = Limits {
            max_file_bytes: opts.max_bytes,
            deadline: opts.timeout,
            ..Limits::default()
        };
        let shared = Arc::new(Shared {
            fan,
            cache: Mutex::new(VerdictCache::new(opts.cache_entries)),
            opts,
            engine,
            limits,
            vault: vault.map(Mutex::new),
            counters: Counters::default(),
            marks: Mutex::new(MarkSet::default()),
            rows,
            own_pid: std::process::id(),
            stop: AtomicBool::new(false),
        });
        shared.mark_all();
        let (tx, rx) = mpsc::sync_channel::<Work>(1024);
        let rx = Arc::new(Mutex::new(rx));
        let mut threads = Vec::new();
        for i in 0..shared.opts.workers.max(1) {
            let (s, rx) = (Arc::clone(&shared), Arc::clone(&rx));
            threads.push(
                std::thread::Builder::new()
                    .name(format!("av-scan-{i}"))
                    .spawn(move || worker(&s, &rx))?,
            );
        }
        let s = Arc::clone(&shared);
        threads.push(
            std::thread::Builder::new()
                .name("av-onaccess".into())
                .spawn(move || reader(&s, tx))?,
        );
        Ok(OnAccess { shared, threads })
    }

    pub fn counters(&self) -> OnAccessCounters {
        let c = &self.shared.counters;
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        OnAccessCounters {
            events: l(&c.events),
            own: l(&c.own),
            excluded: l(&c.excluded),
            cache_hits: l(&c.cache_hits),
            scanned: l(&c.scanned),
            detections: l(&c.detections),
            blocked: l(&c.blocked),
            quarantined: l(&c.quarantined),
            audited: l(&c.audited),
            timeouts: l(&c.timeouts),
            too_large: l(&c.too_large),
            errors: l(&c.errors),
            queue_full: l(&c.queue_full),
            rescans: l(&c.rescans),
            kernel_skips: l(&c.kernel_skips),
        }
    }

    pub fn marks(&self) -> OnAccessMarks {
        self.shared
            .marks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .state
            .clone()
    }

    /// File versions whose verdict is cached.
    pub fn cache_len(&self) -> usize {
        self.shared
            .cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .len()
    }

    /// Stop holding opens: the threads answer what is pending with `FAN_ALLOW` and end.
    pub fn shutdown(&self) {
        self.shared.stop.store(true, Ordering::SeqCst);
    }
}

impl Drop for OnAccess {
    fn drop(&mut self) {
        self.shutdown();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Shared {
    fn mark_all(&self) {
        let mut m = self.marks.lock().unwrap_or_else(|p| p.into_inner());
        marks::mark_all(&self.fan, &self.opts, &mut m);
    }

    fn respond(&self, fd: i32, allow: bool) {
        if self.fan.respond(fd, allow).is_err() {
            self.counters.errors.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A program found clean a second time (a cache hit at an exec): let the kernel skip
    /// its exec events until it is modified (`Group::ignore_until_modified`), so that later
    /// execs of it do not wait for this thread at all. A write that landed between the
    /// statx of `key` and the mark would leave a mark on content never scanned: the key is
    /// read again after the mark, and the mark taken back when it moved.
    fn skip_until_modified(&self, file: &File, key: &FileKey, mask: u64) {
        let perm = mask & libc::FAN_OPEN_EXEC_PERM;
        let fd = file.as_raw_fd();
        if perm == 0 || self.fan.ignore_until_modified(fd, perm).is_err() {
            return;
        }
        if file_key(file).ok().as_ref() != Some(key) {
            let _ = self.fan.unignore(fd, perm);
        } else {
            self.counters.kernel_skips.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Answer a job once; false when someone answered first.
    fn answer(&self, job: &Job, allow: bool) -> bool {
        if job.answered.swap(true, Ordering::SeqCst) {
            return false;
        }
        self.respond(job.file.as_raw_fd(), allow);
        true
    }

    /// Act on a verdict for a held job.
    fn decide(&self, job: &Job, verdict: &Cached, cached: bool) {
        match verdict {
            Cached::Clean | Cached::Unscannable(_) => {
                self.answer(job, true);
            }
            Cached::Threat(t) => {
                self.counters.detections.fetch_add(1, Ordering::Relaxed);
                let process = ProcSnapshot::read(job.pid);
                let (allow, action) = match self.opts.action {
                    AvAction::Audit => (true, "Audited"),
                    AvAction::Block => (false, "Blocked"),
                    AvAction::Quarantine => (false, "Quarantined"),
                };
                if !self.answer(job, allow) {
                    // The deadline answered first: the file was allowed; say so.
                    let row = detection_row(&Detected {
                        path: &job.path,
                        size: job.key.size,
                        pid: Some(job.pid),
                        process: &process,
                        threat: t,
                        action: "Detected",
                        trigger: job.trigger,
                        cached,
                        quarantine_id: None,
                        error: Some("verdict after the scan deadline"),
                    });
                    self.rows.push(row, Some(job.pid));
                    return;
                }
                let (mut action, mut qid, mut error) = (action, None, None);
                match self.opts.action {
                    AvAction::Audit => {
                        self.counters.audited.fetch_add(1, Ordering::Relaxed);
                    }
                    AvAction::Block => {
                        self.counters.blocked.fetch_add(1, Ordering::Relaxed);
                    }
                    AvAction::Quarantine => {
                        self.counters.blocked.fetch_add(1, Ordering::Relaxed);
                        match self.quarantine(&job.path, &job.key, t) {
                            Ok(id) => qid = Some(id),
                            Err(e) => {
                                action = "Blocked";
                                error = Some(e);
                            }
                        }
                    }
                }
                let row = detection_row(&Detected {
                    path: &job.path,
                    size: job.key.size,
                    pid: Some(job.pid),
                    process: &process,
                    threat: t,
                    action,
                    trigger: job.trigger,
                    cached,
                    quarantine_id: qid.as_deref(),
                    error: error.as_deref(),
                });
                self.rows.push(row, Some(job.pid));
            }
        }
    }

    /// Move a detected file into the vault, if it is still the version that was scanned.
    fn quarantine(&self, path: &str, key: &FileKey, t: &Threat) -> Result<String, String> {
        let Some(vault) = &self.vault else {
            return Err("no quarantine vault".into());
        };
        let now = File::open(path)
            .and_then(|f| file_key(&f))
            .map_err(|e| format!("cannot open {path} to quarantine it: {e}"))?;
        if now != *key {
            return Err(format!("{path} changed since it was scanned"));
        }
        let v = vault.lock().unwrap_or_else(|p| p.into_inner());
        match v.quarantine(Path::new(path), &t.name, Some(&t.rule)) {
            Ok(id) => {
                self.counters.quarantined.fetch_add(1, Ordering::Relaxed);
                self.cache
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .forget_inode(key.dev, key.ino);
                Ok(id.to_string())
            }
            Err(e) => {
                self.counters.errors.fetch_add(1, Ordering::Relaxed);
                Err(format!("cannot quarantine {path}: {e}"))
            }
        }
    }

    /// Scan an open file through its descriptor.
    fn scan(
        &self,
        file: &File,
        path: &str,
        key: &FileKey,
        scanner: &mut vigil_scan::Scanner<'_>,
    ) -> Cached {
        self.counters.scanned.fetch_add(1, Ordering::Relaxed);
        let mut data = vec![0u8; key.size.min(self.opts.max_bytes) as usize];
        let mut off = 0usize;
        while off < data.len() {
            match file.read_at(&mut data[off..], off as u64) {
                Ok(0) => break,
                Ok(n) => off += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.counters.errors.fetch_add(1, Ordering::Relaxed);
                    return Cached::Unscannable(format!("cannot read {path}: {e}"));
                }
            }
        }
        data.truncate(off);
        let r = scanner.scan_bytes(path, &data, &self.limits);
        let sha = {
            use sha2::Digest;
            r.sha256
                .map(hex::encode)
                .or_else(|| Some(hex::encode(sha2::Sha256::digest(&data))))
        };
        match r.verdict {
            Verdict::Clean | Verdict::Allowed => Cached::Clean,
            Verdict::Malicious(d) => Cached::Threat(Threat {
                name: d.threat,
                rule: d.rule,
                severity: d.severity.as_str().to_string(),
                object: d.object,
                sha256: sha,
            }),
            Verdict::Error { reason } => Cached::Unscannable(reason),
            Verdict::LimitExceeded { which, detail } => {
                Cached::Unscannable(format!("{which}: {detail}"))
            }
        }
    }
}

fn under(path: &str, roots: &[PathBuf]) -> bool {
    roots.iter().any(|r| Path::new(path).starts_with(r))
}

fn reader(s: &Shared, work: SyncSender<Work>) {
    let mut buf = vec![0u8; 64 * 1024];
    let mut pending: Vec<Arc<Job>> = Vec::new();
    let mut last_marks = Instant::now();
    while !s.stop.load(Ordering::Relaxed) {
        if last_marks.elapsed() >= Duration::from_secs(5) {
            last_marks = Instant::now();
            s.mark_all();
        }
        let now = Instant::now();
        let wait = pending
            .iter()
            .map(|j| j.deadline.saturating_duration_since(now))
            .min()
            .unwrap_or(Duration::from_millis(200))
            .min(Duration::from_millis(200));
        if s.fan.wait(wait) {
            s.fan.read_events(&mut buf, |ev| {
                if let Some(w) = event(s, ev.file, ev.mask, ev.pid) {
                    dispatch(s, &work, w, &mut pending);
                }
            });
        }
        let now = Instant::now();
        pending.retain(|job| {
            if job.answered.load(Ordering::SeqCst) {
                return false;
            }
            if now < job.deadline {
                return true;
            }
            let allow = !s.opts.fail_closed;
            if s.answer(job, allow) {
                s.counters.timeouts.fetch_add(1, Ordering::Relaxed);
                let p = ProcSnapshot::read(job.pid);
                let row =
                    scan_failed_row(&job.path, job.key.size, job.pid, &p, REASON_DEADLINE, allow);
                s.rows.push(row, Some(job.pid));
            }
            false
        });
    }
    for job in pending {
        s.answer(&job, true);
    }
}

fn dispatch(s: &Shared, work: &SyncSender<Work>, w: Work, pending: &mut Vec<Arc<Job>>) {
    let job = match &w {
        Work::Decide(j) => Some(Arc::clone(j)),
        Work::Rescan { .. } => None,
    };
    match work.try_send(w) {
        Ok(()) => pending.extend(job),
        Err(TrySendError::Full(w)) | Err(TrySendError::Disconnected(w)) => {
            s.counters.queue_full.fetch_add(1, Ordering::Relaxed);
            if let Work::Decide(job) = w {
                let allow = !s.opts.fail_closed;
                s.answer(&job, allow);
                let p = ProcSnapshot::read(job.pid);
                let row =
                    scan_failed_row(&job.path, job.key.size, job.pid, &p, REASON_QUEUE, allow);
                s.rows.push(row, Some(job.pid));
            }
        }
    }
}

/// Decide an event at once when possible; else the work for the scanners.
fn event(s: &Shared, file: File, mask: u64, pid: u32) -> Option<Work> {
    let perm = mask & (libc::FAN_OPEN_PERM | libc::FAN_OPEN_EXEC_PERM) != 0;
    let fd = file.as_raw_fd();
    if !perm {
        // FAN_CLOSE_WRITE: forget the inode's verdicts, scan the new content in the background.
        if mask & libc::FAN_CLOSE_WRITE == 0 || pid == s.own_pid {
            return None;
        }
        // A file the kernel skipped (`skip_until_modified`) may have been changed through a
        // mapping, which leaves its ignore mark: take the mark back.
        let _ = s.fan.unignore(fd, libc::FAN_OPEN_EXEC_PERM);
        let key = file_key(&file).ok()?;
        s.cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .forget_inode(key.dev, key.ino);
        if key.size == 0 || key.size > s.opts.max_bytes {
            return None;
        }
        let path = fd_path(&file);
        if s.opts.exclusions.path_excluded(&path) {
            return None;
        }
        return Some(Work::Rescan { file, key, pid });
    }
    s.counters.events.fetch_add(1, Ordering::Relaxed);
    if pid == s.own_pid {
        s.counters.own.fetch_add(1, Ordering::Relaxed);
        s.respond(fd, true);
        return None;
    }
    let exec = mask & libc::FAN_OPEN_EXEC_PERM != 0;
    let Ok(key) = file_key(&file) else {
        s.counters.errors.fetch_add(1, Ordering::Relaxed);
        s.respond(fd, true);
        return None;
    };
    if key.size == 0 {
        s.respond(fd, true);
        return None;
    }
    if key.size > s.opts.max_bytes {
        s.counters.too_large.fetch_add(1, Ordering::Relaxed);
        s.respond(fd, true);
        return None;
    }
    // A clean verdict needs neither the path nor the exclusions: the hot path is one statx
    // and one lookup.
    let cached = s.cache.lock().unwrap_or_else(|p| p.into_inner()).get(&key);
    if matches!(cached, Some(Cached::Clean | Cached::Unscannable(_))) {
        s.counters.cache_hits.fetch_add(1, Ordering::Relaxed);
        s.respond(fd, true);
        if matches!(cached, Some(Cached::Clean)) {
            s.skip_until_modified(&file, &key, mask);
        }
        return None;
    }
    let path = fd_path(&file);
    if !exec && !under(&path, &s.opts.protected) {
        s.respond(fd, true);
        return None;
    }
    if s.opts.exclusions.path_excluded(&path) || s.opts.exclusions.process_excluded(pid) {
        s.counters.excluded.fetch_add(1, Ordering::Relaxed);
        s.respond(fd, true);
        return None;
    }
    let job = Job {
        file,
        key,
        path,
        pid,
        trigger: if exec { "Exec" } else { "Open" },
        deadline: Instant::now() + s.opts.timeout,
        answered: AtomicBool::new(false),
    };
    if let Some(v) = cached {
        s.counters.cache_hits.fetch_add(1, Ordering::Relaxed);
        if matches!(v, Cached::Threat(_)) && s.opts.action == AvAction::Quarantine {
            // Quarantining opens the file: never on this thread, which must stay free to
            // answer the agent's own open.
            return Some(Work::Decide(Arc::new(job)));
        }
        s.decide(&job, &v, true);
        return None;
    }
    Some(Work::Decide(Arc::new(job)))
}

fn worker(s: &Shared, rx: &Mutex<Receiver<Work>>) {
    let mut scanner = s.engine.scanner();
    loop {
        let next = rx
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .recv_timeout(Duration::from_millis(200));
        let w = match next {
            Ok(w) => w,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if s.stop.load(Ordering::Relaxed) {
                    return;
                }
                continue;
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => return,
        };
        match w {
            Work::Decide(job) => {
                if job.answered.load(Ordering::SeqCst) {
                    continue;
                }
                let hit = s
                    .cache
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .get(&job.key);
                if let Some(v) = hit {
                    s.decide(&job, &v, true);
                    continue;
                }
                let v = s.scan(&job.file, &job.path, &job.key, &mut scanner);
                s.cache
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(job.key, v.clone());
                s.decide(&job, &v, false);
            }
            Work::Rescan { file, key, pid } => {
                s.counters.rescans.fetch_add(1, Ordering::Relaxed);
                let path = fd_path(&file);
                let v = s.scan(&file, &path, &key, &mut scanner);
                s.cache
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(key, v.clone());
                drop(file);
                if let Cached::Threat(t) = &v {
                    s.counters.detections.fetch_add(1, Ordering::Relaxed);
                    let process = ProcSnapshot::read(pid);
                    let (mut action, mut qid, mut error) = ("Detected", None, None);
                    match s.opts.action {
                        AvAction::Quarantine => match s.quarantine(&path, &key, t) {
                            Ok(id) => {
                                action = "Quarantined";
                                qid = Some(id);
                            }
                            Err(e) => error = Some(e),
                        },
                        AvAction::Audit => {
                            s.counters.audited.fetch_add(1, Ordering::Relaxed);
                            action = "Audited";
                        }
                        AvAction::Block => {}
                    }
                    let row = detection_row(&Detected {
                        path: &path,
                        size: key.size,
                        pid: Some(pid),
                        process: &process,
                        threat: t,
                        action,
                        trigger: "Write",
                        cached: false,
                        quarantine_id: qid.as_deref(),
                        error: error.as_deref(),
                    });
                    s.rows.push(row, Some(pid));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protected_paths_match_whole_components() {
        let roots = vec![PathBuf::from("/tmp"), PathBuf::from("/home")];
        assert!(under("/tmp/x", &roots));
        assert!(under("/home/a/b", &roots));
        assert!(!under("/tmpfoo/x", &roots));
        assert!(!under("/var/tmp/x", &roots));
    }
}
