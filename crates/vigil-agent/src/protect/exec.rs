//! Exec blocks by file hash: fanotify `FAN_OPEN_EXEC_PERM`.
//!
//! The kernel holds every `execve` (of a program or of its ELF interpreter) on a marked
//! filesystem until this guard answers `FAN_ALLOW` or `FAN_DENY` (the caller then gets
//! `EPERM`). Marks are `FAN_MARK_FILESYSTEM`: one per superblock, covering every mount of it,
//! bind mounts and other mount namespaces (containers) included, so that a bind mount cannot
//! be used to dodge the guard; a filesystem that refuses such a mark gets a `FAN_MARK_MOUNT`
//! of the mount point instead. Mounts appearing later are marked on the next rescan (5 s).
//! The guard is armed only while a blocking hash indicator exists or an application restriction
//! is in force: without either no exec waits.
//!
//! **Application restriction** (`ExecGuard::set_allowlist`, the `restrict` response action):
//! while an [`ExecAllowlist`] is set, only the executables it names may run: a path in its set
//! or under one of its directories (the path the kernel gives the event's descriptor, so
//! symbolic links and bind mounts resolve to the real file), or a file whose SHA-256 it holds
//! (hashed by the workers, cached per file version like indicator digests). A blocking
//! indicator still wins over the allowlist. Fail-open stays limited to the deadline: a file
//! that is neither named nor hashable in time under a restriction is allowed past the
//! deadline and reported, but a file over the size limit or a full queue is refused.
//!
//! Threads:
//! - "protect-exec" reads events and never does I/O on the files themselves: the agent's
//!   own pid is allowed at once; otherwise the file's identity comes from `statx` with
//!   `AT_STATX_DONT_SYNC` (cached attributes, no round trip to a network or FUSE server); a
//!   cached digest for (device, inode, mtime, ctime, size) is answered at once. Anything else
//!   goes to the workers, with a deadline this thread enforces: past it, the exec is allowed
//!   (fail open) and reported.
//! - "protect-hash" workers hash the file through the event's descriptor (SHA-256, and SHA-1
//!   or MD5 only while such indicators exist), fill the cache, and answer unless the deadline
//!   answered first. A late verdict that would have blocked is reported.
//!
//! **Invariant:** every permission event is answered exactly once (an `AtomicBool` per
//! request decides who answers); its descriptor stays open until then, so its number cannot
//! be reused by another event. Closing the group (agent stop or crash) makes the kernel allow
//! whatever is pending: the guard fails open, never shut.

use std::collections::HashSet;
use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use vigil_intel::{Action, IntelSet};
use vigil_schema::Timestamp;

use crate::fanotify::{fd_path, Group, MarkKind};
use crate::protect::digest::{file_key, hash_file, verdict, DigestCache, Digests, FileKey};
use crate::protect::report::{
    ExecOutcome, ExecReport, IndicatorInfo, ProcSnapshot, Report, Reports,
};
use crate::protect::rules::HashSummary;

/// Settings of the guard.
#[derive(Debug, Clone)]
pub struct ExecOptions {
    /// Past this, an exec without a verdict is allowed.
    pub timeout: Duration,
    /// Larger files are allowed unhashed.
    pub max_bytes: u64,
    pub cache_entries: usize,
    /// Hashing threads.
    pub workers: usize,
}

/// What the guard enforces: the indicator set and which digests it needs.
#[derive(Debug, Default)]
pub struct ExecPolicy {
    pub set: Arc<IntelSet>,
    pub hashes: HashSummary,
}

/// Application restriction: the executables that may run while it is in force.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecAllowlist {
    /// Exact paths (as the kernel resolves them: no symbolic links).
    pub paths: HashSet<String>,
    /// Directory prefixes, each ending with `/`: everything under them may run.
    pub dirs: Vec<String>,
    /// SHA-256 digests of files that may run wherever they are.
    pub sha256: HashSet<[u8; 32]>,
}

impl ExecAllowlist {
    /// Whether `path` is named by the list (exactly or under one of its directories).
    pub fn allows_path(&self, path: &str) -> bool {
        self.paths.contains(path) || self.dirs.iter().any(|d| path.starts_with(d.as_str()))
    }
}

/// Counters of the guard, shown in the status.
#[derive(Debug, Default)]
struct Counters {
    events: AtomicU64,
    own: AtomicU64,
    unarmed: AtomicU64,
    cache_hits: AtomicU64,
    hashed: AtomicU64,
    blocked: AtomicU64,
    timeouts: AtomicU64,
    too_large: AtomicU64,
    queue_full: AtomicU64,
    errors: AtomicU64,
    killed: AtomicU64,
    restricted: AtomicU64,
}

/// The counters, as the status shows them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecCounters {
    /// Permission events received.
    pub events: u64,
    /// The agent's own execs, allowed at once.
    pub own: u64,
    /// Events while no hash indicator was enforced (in flight when the guard disarmed).
    pub unarmed: u64,
    /// Verdicts from the cache (no hashing).
    pub cache_hits: u64,
    /// Files hashed.
    pub hashed: u64,
    pub blocked: u64,
    /// Allowed because the verdict missed the deadline.
    pub timeouts: u64,
    /// Allowed unhashed because the file is over the size limit.
    pub too_large: u64,
    /// Allowed because the hashing queue was full.
    pub queue_full: u64,
    /// Files that could not be stat-ed or read (allowed).
    pub errors: u64,
    /// Processes killed for `BlockAndRemediate`.
    pub killed: u64,
    /// Execs refused by the application restriction.
    #[serde(default)]
    pub restricted: u64,
}

/// Marks on filesystems.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarkState {
    pub armed: bool,
    /// `mount point (filesystem|mount)` of each mark.
    pub marked: Vec<String>,
    /// Mounts that could not be marked, with the reason.
    pub failed: Vec<String>,
    #[serde(skip)]
    devs: HashSet<u64>,
}

/// One held exec.
struct Job {
    /// The event's descriptor: the file being executed.
    file: File,
    key: FileKey,
    pid: u32,
    deadline: Instant,
    answered: AtomicBool,
    /// Under a restriction: the path the allowlist did not name (the digest must be on it).
    restricted_path: Option<String>,
}

struct Shared {
    fan: Group,
    opts: ExecOptions,
    policy: RwLock<Arc<ExecPolicy>>,
    allowlist: RwLock<Option<Arc<ExecAllowlist>>>,
    cache: Mutex<DigestCache>,
    counters: Counters,
    marks: Mutex<MarkState>,
    reports: Arc<Reports>,
    own_pid: u32,
    stop: AtomicBool,
}

/// The running guard. Dropping it stops the threads and closes the group.
pub struct ExecGuard {
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
}

const REASON_DEADLINE: &str = "scan deadline";
const REASON_SIZE: &str = "file over the size limit";
const REASON_QUEUE: &str = "hashing queue full";
const REASON_RESTRICTED: &str = "application restriction: neither a package file nor allowed";
const REASON_RESTRICTED_SIZE: &str =
    "application restriction: not named by the allowlist and too large to hash";

impl ExecGuard {
    /// Start the guard on a fanotify group (see `ladder::fanotify_group`); unarmed until a
    /// policy with hash indicators is set.
    pub fn start(
        group: Group,
        opts: ExecOptions,
        reports: Arc<Reports>,
    ) -> std::io::Result<ExecGuard> {
        let shared = Arc::new(Shared {
            fan: group,
            cache: Mutex::new(DigestCache::new(opts.cache_entries)),
            opts,
            policy: RwLock::new(Arc::new(ExecPolicy::default())),
            allowlist: RwLock::new(None),
            counters: Counters::default(),
            marks: Mutex::new(MarkState::default()),
            reports,
            own_pid: std::process::id(),
            stop: AtomicBool::new(false),
        });
        let (tx, rx) = mpsc::sync_channel::<Arc<Job>>(1024);
        let rx = Arc::new(Mutex::new(rx));
        let mut threads = Vec::new();
        for i in 0..shared.opts.workers.max(1) {
            let (s, rx) = (Arc::clone(&shared), Arc::clone(&rx));
            threads.push(
                std::thread::Builder::new()
                    .name(format!("protect-hash-{i}"))
                    .spawn(move || worker(&s, &rx))?,
            );
        }
        let s = Arc::clone(&shared);
        threads.push(
            std::thread::Builder::new()
                .name("protect-exec".into())
                .spawn(move || reader(&s, tx))?,
        );
        Ok(ExecGuard { shared, threads })
    }

    /// Enforce `policy`: arm when it holds blocking hash indicators, disarm when not.
    pub fn set_policy(&self, policy: ExecPolicy) {
        *self
            .shared
            .policy
            .write()
            .unwrap_or_else(|p| p.into_inner()) = Arc::new(policy);
        self.rearm();
    }

    /// Restrict execution to what `list` names (`None` lifts the restriction).
    pub fn set_allowlist(&self, list: Option<ExecAllowlist>) {
        *self
            .shared
            .allowlist
            .write()
            .unwrap_or_else(|p| p.into_inner()) = list.map(Arc::new);
        self.rearm();
    }

    /// Whether an application restriction is in force, with the sizes of its list.
    pub fn allowlist_sizes(&self) -> Option<(usize, usize, usize)> {
        self.shared
            .allowlist()
            .map(|a| (a.paths.len(), a.dirs.len(), a.sha256.len()))
    }

    fn rearm(&self) {
        if self.shared.wants_marks() {
            self.arm();
        } else {
            self.disarm();
        }
    }

    /// Mark every filesystem not yet marked (at arming, and on rescans).
    pub fn arm(&self) {
        if !self.shared.wants_marks() || self.shared.stop.load(Ordering::SeqCst) {
            return;
        }
        // Mount points are stat-ed without the lock (a hung network mount must not stall
        // the status); marks are added under it, so that a concurrent disarm flushes them.
        let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
        let found: Vec<(String, u64)> = crate::sensors::fanotify::real_mounts(&mounts)
            .into_iter()
            .filter_map(|dir| std::fs::metadata(&dir).ok().map(|m| (dir, m.dev())))
            .collect();
        let mut m = self.shared.marks.lock().unwrap_or_else(|p| p.into_inner());
        if !self.shared.wants_marks() || self.shared.stop.load(Ordering::SeqCst) {
            return;
        }
        m.armed = true;
        for (dir, dev) in found {
            if m.devs.contains(&dev) {
                continue;
            }
            match self
                .shared
                .fan
                .mark_filesystem_or_mount(libc::FAN_OPEN_EXEC_PERM, Path::new(&dir))
            {
                Ok(kind) => {
                    m.devs.insert(dev);
                    m.marked.push(format!("{dir} ({kind})"));
                    m.failed.retain(|f| !f.starts_with(&format!("{dir}:")));
                }
                Err(e) => {
                    let line = format!("{dir}: {e}");
                    if !m.failed.contains(&line) {
                        m.failed.push(line);
                    }
                }
            }
        }
    }

    fn disarm(&self) {
        let mut m = self.shared.marks.lock().unwrap_or_else(|p| p.into_inner());
        if !m.armed {
            return;
        }
        for kind in [MarkKind::Filesystem, MarkKind::Mount] {
            self.shared.fan.flush(kind);
        }
        *m = MarkState::default();
    }

    pub fn marks(&self) -> MarkState {
        self.shared
            .marks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn counters(&self) -> ExecCounters {
        let c = &self.shared.counters;
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        ExecCounters {
            events: l(&c.events),
            own: l(&c.own),
            unarmed: l(&c.unarmed),
            cache_hits: l(&c.cache_hits),
            hashed: l(&c.hashed),
            blocked: l(&c.blocked),
            timeouts: l(&c.timeouts),
            too_large: l(&c.too_large),
            queue_full: l(&c.queue_full),
            errors: l(&c.errors),
            killed: l(&c.killed),
            restricted: l(&c.restricted),
        }
    }

    /// A handle that kills running processes whose executable matches a
    /// `BlockAndRemediate` indicator, to run on another thread.
    pub fn remediator(&self) -> Remediator {
        Remediator(Arc::clone(&self.shared))
    }
}

/// See [`ExecGuard::remediator`].
pub struct Remediator(Arc<Shared>);

impl Remediator {
    /// Scan `/proc` once; each kill is reported.
    pub fn run(&self) {
        remediate(&self.0);
    }
}

impl ExecGuard {
    /// Stop holding execs: remove every mark and let the threads end (they answer what is
    /// pending with `FAN_ALLOW`). The group closes on drop.
    pub fn shutdown(&self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.disarm();
    }
}

impl Drop for ExecGuard {
    fn drop(&mut self) {
        self.shutdown();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Shared {
    fn policy(&self) -> Arc<ExecPolicy> {
        Arc::clone(&self.policy.read().unwrap_or_else(|p| p.into_inner()))
    }

    fn allowlist(&self) -> Option<Arc<ExecAllowlist>> {
        self.allowlist
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Marks are needed while a hash indicator blocks or a restriction is in force.
    fn wants_marks(&self) -> bool {
        self.policy().hashes.any() || self.allowlist().is_some()
    }

    /// Refuse an exec the restriction does not allow, and report it.
    fn restrict(&self, job: &Job, d: Option<&Digests>, reason: &'static str) {
        if self.answer(job, false) {
            self.counters.restricted.fetch_add(1, Ordering::Relaxed);
            self.exec_report(job, d, ExecOutcome::Restricted { reason }, None);
        }
    }

    fn respond(&self, fd: i32, allow: bool) {
        if self.fan.respond(fd, allow).is_err() {
            self.counters.errors.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Answer a job once: false when it was already answered.
    fn answer(&self, job: &Job, allow: bool) -> bool {
        if job.answered.swap(true, Ordering::SeqCst) {
            return false;
        }
        self.respond(job.file.as_raw_fd(), allow);
        true
    }

    fn exec_report(
        &self,
        job: &Job,
        d: Option<&Digests>,
        outcome: ExecOutcome,
        ind: Option<IndicatorInfo>,
    ) {
        let (sha256, sha1, md5) = match d.map(Digests::hex) {
            Some((a, b, c)) => (Some(a), b, c),
            None => (None, None, None),
        };
        self.reports.push(Report::Exec(ExecReport {
            at: Timestamp::now(),
            pid: Some(job.pid),
            process: ProcSnapshot::read(job.pid),
            path: fd_path(&job.file),
            sha256,
            sha1,
            md5,
            size: job.key.size,
            outcome,
            indicator: ind,
            cached: false,
        }));
    }
}

fn now_ms() -> i64 {
    Timestamp::now().nanos() / 1_000_000
}

/// The event loop: dispatch every event, enforce deadlines.
fn reader(s: &Shared, work: SyncSender<Arc<Job>>) {
    let mut buf = vec![0u8; 64 * 1024];
    let mut pending: Vec<Arc<Job>> = Vec::new();
    while !s.stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        let wait = pending
            .iter()
            .map(|j| j.deadline.saturating_duration_since(now))
            .min()
            .unwrap_or(Duration::from_millis(200))
            .min(Duration::from_millis(200));
        if s.fan.wait(wait) {
            s.fan.read_events(&mut buf, |ev| {
                let Some(job) = event(s, ev.file, ev.mask, ev.pid) else {
                    return;
                };
                match work.try_send(Arc::clone(&job)) {
                    Ok(()) => pending.push(job),
                    Err(TrySendError::Full(job)) | Err(TrySendError::Disconnected(job))
                        if job.restricted_path.is_some() =>
                    {
                        s.restrict(&job, None, REASON_RESTRICTED);
                    }
                    Err(TrySendError::Full(job)) | Err(TrySendError::Disconnected(job)) => {
                        s.answer(&job, true);
                        s.counters.queue_full.fetch_add(1, Ordering::Relaxed);
                        s.exec_report(
                            &job,
                            None,
                            ExecOutcome::Unscanned {
                                reason: REASON_QUEUE,
                            },
                            None,
                        );
                    }
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
            if s.answer(job, true) {
                s.counters.timeouts.fetch_add(1, Ordering::Relaxed);
                s.exec_report(
                    job,
                    None,
                    ExecOutcome::Unscanned {
                        reason: REASON_DEADLINE,
                    },
                    None,
                );
            }
            false
        });
    }
    for job in pending {
        s.answer(&job, true);
    }
}

/// Decide an event at once when possible; else the job for the workers.
fn event(s: &Shared, file: File, mask: u64, pid: u32) -> Option<Arc<Job>> {
    s.counters.events.fetch_add(1, Ordering::Relaxed);
    let fd = file.as_raw_fd();
    if mask & libc::FAN_OPEN_EXEC_PERM == 0 {
        return None; // not a permission event: nothing to answer
    }
    if pid == s.own_pid {
        s.counters.own.fetch_add(1, Ordering::Relaxed);
        s.respond(fd, true);
        return None;
    }
    let policy = s.policy();
    let allowlist = s.allowlist();
    if !policy.hashes.any() && allowlist.is_none() {
        s.counters.unarmed.fetch_add(1, Ordering::Relaxed);
        s.respond(fd, true);
        return None;
    }
    // Under a restriction, a path the list names needs no digest unless an indicator could
    // still block it; one it does not name needs its digest on the list.
    let restricted_path = match &allowlist {
        Some(a) => {
            let path = fd_path(&file);
            if a.allows_path(&path) {
                if !policy.hashes.any() {
                    s.respond(fd, true);
                    return None;
                }
                None
            } else {
                Some(path)
            }
        }
        None => None,
    };
    let key = match file_key(&file) {
        Ok(k) => k,
        Err(_) => {
            s.counters.errors.fetch_add(1, Ordering::Relaxed);
            s.respond(fd, true);
            return None;
        }
    };
    let no_digest_helps = allowlist.as_ref().is_some_and(|a| a.sha256.is_empty());
    let job = Job {
        file,
        key,
        pid,
        deadline: Instant::now() + s.opts.timeout,
        answered: AtomicBool::new(false),
        restricted_path,
    };
    if job.restricted_path.is_some() && no_digest_helps && !policy.hashes.any() {
        s.restrict(&job, None, REASON_RESTRICTED);
        return None;
    }
    if key.size > s.opts.max_bytes && job.restricted_path.is_some() {
        s.restrict(&job, None, REASON_RESTRICTED_SIZE);
        return None;
    }
    if key.size > s.opts.max_bytes {
        s.counters.too_large.fetch_add(1, Ordering::Relaxed);
        s.answer(&job, true);
        let first = s
            .cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .too_large_first(key);
        if first {
            s.exec_report(
                &job,
                None,
                ExecOutcome::Unscanned {
                    reason: REASON_SIZE,
                },
                None,
            );
        }
        return None;
    }
    let cached = s.cache.lock().unwrap_or_else(|p| p.into_inner()).get(&key);
    if let Some(d) = cached.filter(|d| d.covers(&policy.hashes)) {
        s.counters.cache_hits.fetch_add(1, Ordering::Relaxed);
        decide(s, &job, &policy, &d, true);
        return None;
    }
    Some(Arc::new(job))
}

/// Answer a job from its digests, and report a block.
fn decide(s: &Shared, job: &Job, policy: &ExecPolicy, d: &Digests, cached: bool) {
    let Some(ind) = verdict(&policy.set, d, now_ms()) else {
        if job.restricted_path.is_some()
            && !s.allowlist().is_some_and(|a| a.sha256.contains(&d.sha256))
        {
            s.restrict(job, Some(d), REASON_RESTRICTED);
        } else {
            s.answer(job, true);
        }
        return;
    };
    // Everything the row needs is read first, while the process still waits in execve; the
    // row is stamped with the time of the verdict, not of the queueing that follows.
    let (sha256, sha1, md5) = d.hex();
    let mut report = ExecReport {
        at: Timestamp::now(),
        pid: Some(job.pid),
        process: ProcSnapshot::read(job.pid),
        path: fd_path(&job.file),
        sha256: Some(sha256),
        sha1,
        md5,
        size: d.size,
        outcome: ExecOutcome::Blocked,
        indicator: Some(ind),
        cached,
    };
    if s.answer(job, false) {
        s.counters.blocked.fetch_add(1, Ordering::Relaxed);
    } else {
        report.outcome = ExecOutcome::DetectedTooLate;
    }
    s.reports.push(Report::Exec(report));
}

fn worker(s: &Shared, rx: &Mutex<Receiver<Arc<Job>>>) {
    loop {
        let next = rx
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .recv_timeout(Duration::from_millis(200));
        let job = match next {
            Ok(j) => j,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if s.stop.load(Ordering::Relaxed) {
                    return;
                }
                continue;
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => return,
        };
        let policy = s.policy();
        match hash_file(&job.file, &policy.hashes, &s.stop) {
            Ok(d) => {
                s.counters.hashed.fetch_add(1, Ordering::Relaxed);
                s.cache
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(job.key, d.clone());
                decide(s, &job, &policy, &d, false);
            }
            Err(_) => {
                s.counters.errors.fetch_add(1, Ordering::Relaxed);
                if job.restricted_path.is_some() {
                    s.restrict(&job, None, REASON_RESTRICTED);
                } else {
                    s.answer(&job, true);
                }
            }
        }
    }
}

/// Kill the processes running a `BlockAndRemediate` file.
fn remediate(s: &Shared) {
    let policy = s.policy();
    if policy.hashes.remediate.is_empty() {
        return;
    }
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return;
    };
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == s.own_pid || s.stop.load(Ordering::Relaxed) {
            continue;
        }
        let Ok(exe) = File::open(format!("/proc/{pid}/exe")) else {
            continue; // kernel threads, exited processes
        };
        let Ok(key) = file_key(&exe) else {
            continue;
        };
        if key.size > s.opts.max_bytes {
            continue;
        }
        let cached = s.cache.lock().unwrap_or_else(|p| p.into_inner()).get(&key);
        let d = match cached.filter(|d| d.covers(&policy.hashes)) {
            Some(d) => d,
            None => match hash_file(&exe, &policy.hashes, &s.stop) {
                Ok(d) => {
                    s.cache
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert(key, d.clone());
                    d
                }
                Err(_) => continue,
            },
        };
        let Some(ind) = verdict(&policy.set, &d, now_ms()) else {
            continue;
        };
        if ind.action != Action::BlockAndRemediate {
            continue;
        }
        let snapshot = ProcSnapshot::read(pid);
        if kill_if_same(pid, &key) {
            s.counters.killed.fetch_add(1, Ordering::Relaxed);
            let (sha256, sha1, md5) = d.hex();
            s.reports.push(Report::Exec(ExecReport {
                at: Timestamp::now(),
                pid: None,
                path: snapshot.exe.clone(),
                process: ProcSnapshot::default(),
                sha256: Some(sha256),
                sha1,
                md5,
                size: d.size,
                outcome: ExecOutcome::Killed {
                    pid,
                    cmdline: snapshot.cmdline,
                },
                indicator: Some(ind),
                cached: false,
            }));
        }
    }
}

/// SIGKILL `pid` through a pidfd, only if it still runs the file `key` names (so that a
/// reused pid is never hit).
fn kill_if_same(pid: u32, key: &FileKey) -> bool {
    // SAFETY: pidfd_open takes a pid and flags; the result is checked.
    let raw = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    if raw < 0 {
        return false;
    }
    // SAFETY: a new descriptor that nothing else owns.
    let pidfd = unsafe { OwnedFd::from_raw_fd(raw as i32) };
    let same = File::open(format!("/proc/{pid}/exe"))
        .and_then(|f| file_key(&f))
        .is_ok_and(|k| k == *key);
    if !same {
        return false;
    }
    // SAFETY: a valid pidfd, a signal number, no siginfo, no flags.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            libc::SIGKILL,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    rc == 0
}
