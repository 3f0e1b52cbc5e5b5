//! The tamper file guard: a fanotify group (`FAN_OPEN_PERM`, `FAN_REPORT_TID`) on the
//! agent's configuration file, its binary and its state directory (the directory and its
//! subdirectories, `FAN_EVENT_ON_CHILD`, refreshed every 5 s), refusing opens for writing by
//! any other process.
//!
//! fanotify does not say how a file is being opened, and `/proc/<pid>/fdinfo` cannot be read
//! before the open completes, so the flags come from the kernel: `guard.bpf.c` keeps each
//! thread's latest open(2)-family flags (`open_flags`, keyed by thread id; execve counts as a
//! read), and the event names the thread (`FAN_REPORT_TID`). An open with `O_WRONLY`,
//! `O_RDWR`, `O_CREAT`, `O_TRUNC` or `O_APPEND` is refused; a read is allowed. Without those
//! programs (no tracepoints) every open of the configuration and state by another process is
//! refused, and the binary is not marked (its execs must go on).
//!
//! The agent (any of its threads) and its supervisor are always allowed, and so is
//! everything while maintenance mode is on.
//!
//! **Invariant:** every permission event is answered at once by the reader thread, which
//! never opens a file under a mark (it reads `/proc` only), so the agent never waits on
//! itself.

use std::collections::HashSet;
use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use vigil_schema::{Col, Timestamp};

use crate::av::rows::{mde_event, put_file, RowQueue};
use crate::fanotify::{fd_path, other_process, serve_opens, Group, MarkKind};
use crate::protect::report::ProcSnapshot;
use crate::tamper::kernel::GuardMaps;

/// What the guard protects and who may write.
pub struct FileGuardOptions {
    pub config: Option<PathBuf>,
    pub binary: Option<PathBuf>,
    pub state_dir: PathBuf,
    /// Processes (tgids) allowed besides this one (the supervisor).
    pub allowed: Vec<u32>,
}

struct Shared {
    fan: Group,
    opts: FileGuardOptions,
    maps: Option<Arc<GuardMaps>>,
    maintenance: Arc<AtomicBool>,
    rows: Arc<RowQueue>,
    stop: AtomicBool,
    denied: AtomicU64,
    events: AtomicU64,
    dirs: Mutex<HashSet<(u64, u64)>>,
}

/// The running file guard.
pub struct FileGuard {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

/// Open flags that write (`O_WRONLY`, `O_RDWR`, `O_CREAT`, `O_TRUNC`, `O_APPEND`).
pub fn writes(flags: u32) -> bool {
    let f = flags as i32;
    f & (libc::O_WRONLY | libc::O_RDWR | libc::O_CREAT | libc::O_TRUNC | libc::O_APPEND) != 0
}

impl FileGuard {
    /// Mark and start the reader. `maps` are the guard programs' maps (open flags), if
    /// they loaded.
    pub fn start(
        opts: FileGuardOptions,
        maps: Option<Arc<GuardMaps>>,
        maintenance: Arc<AtomicBool>,
        rows: Arc<RowQueue>,
    ) -> std::io::Result<FileGuard> {
        let fan = Group::permissions(true)?;
        let shared = Arc::new(Shared {
            fan,
            opts,
            maps,
            maintenance,
            rows,
            stop: AtomicBool::new(false),
            denied: AtomicU64::new(0),
            events: AtomicU64::new(0),
            dirs: Mutex::new(HashSet::new()),
        });
        if let Some(c) = &shared.opts.config {
            shared.fan.mark(MarkKind::Inode, libc::FAN_OPEN_PERM, c)?;
        }
        if shared.maps.is_some() {
            if let Some(b) = &shared.opts.binary {
                shared.fan.mark(MarkKind::Inode, libc::FAN_OPEN_PERM, b)?;
            }
        }
        shared.mark_state()?;
        let s = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("tamper-files".into())
            .spawn(move || reader(&s))?;
        Ok(FileGuard {
            shared,
            thread: Some(thread),
        })
    }

    /// Opens for writing refused so far.
    pub fn denied(&self) -> u64 {
        self.shared.denied.load(Ordering::Relaxed)
    }

    pub fn events(&self) -> u64 {
        self.shared.events.load(Ordering::Relaxed)
    }

    /// Whether opens are told apart by their flags (the guard programs loaded).
    pub fn precise(&self) -> bool {
        self.shared.maps.is_some()
    }
}

impl Drop for FileGuard {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Shared {
    /// Mark the state directory and every subdirectory not yet marked.
    fn mark_state(&self) -> std::io::Result<()> {
        let mut dirs = self.dirs.lock().unwrap_or_else(|p| p.into_inner());
        let mut stack = vec![self.opts.state_dir.clone()];
        let mut first = true;
        while let Some(d) = stack.pop() {
            let Ok(md) = std::fs::symlink_metadata(&d) else {
                continue;
            };
            if !md.is_dir() || dirs.len() >= 4096 {
                continue;
            }
            if dirs.insert((md.dev(), md.ino())) {
                let r = self.fan.mark(
                    MarkKind::Inode,
                    libc::FAN_OPEN_PERM | libc::FAN_EVENT_ON_CHILD,
                    &d,
                );
                if first {
                    r?;
                }
            }
            first = false;
            if let Ok(rd) = std::fs::read_dir(&d) {
                for e in rd.flatten() {
                    if e.file_type().is_ok_and(|t| t.is_dir()) {
                        stack.push(e.path());
                    }
                }
            }
        }
        Ok(())
    }

    /// Decide one open by thread `tid`: true to allow.
    fn decide(&self, file: &File, tid: u32) -> bool {
        let Some(tgid) = other_process(tid, &self.opts.allowed) else {
            return true; // the agent itself, or its supervisor
        };
        if self.maintenance.load(Ordering::SeqCst) {
            return true;
        }
        let path = fd_path(file);
        let flags = self.maps.as_ref().map(|m| m.open_flags(tid));
        let write = match flags {
            // The open's own flags (it is still in sys_enter → fanotify on this thread).
            Some(Some((_, f))) => writes(f),
            // An open the programs did not see (io_uring, open_by_handle_at): refused unless
            // it is the binary, whose execs must go on.
            Some(None) => self.opts.binary.as_deref() != Some(Path::new(&path)),
            // No flags at all: every open of the configuration and state is refused.
            None => true,
        };
        if !write {
            return true;
        }
        self.denied.fetch_add(1, Ordering::Relaxed);
        let p = ProcSnapshot::read(tgid);
        let mut row = mde_event("TamperingAttempt", "AntivirusReport", Timestamp::now());
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        put_file(&mut row, &path, size, Some(tgid), &p);
        row.put(Col::InitiatingProcessId, i64::from(tgid));
        row.put_extra("Operation", "OpenForWrite");
        row.put_extra("Action", "Blocked");
        row.put_extra("Source", "TamperProtection");
        row.put_extra(
            "OpenFlags",
            flags.flatten().map(|(_, f)| i64::from(f)).unwrap_or(-1),
        );
        self.rows.push(row, Some(tgid));
        false
    }
}

fn reader(s: &Shared) {
    serve_opens(
        &s.fan,
        &s.stop,
        Duration::from_secs(5),
        || {
            let _ = s.mark_state();
        },
        |file, tid| {
            s.events.fetch_add(1, Ordering::Relaxed);
            s.decide(file, tid)
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_flags_are_told_from_reads() {
        assert!(!writes(libc::O_RDONLY as u32));
        assert!(!writes(
            (libc::O_RDONLY | libc::O_CLOEXEC | libc::O_NOFOLLOW) as u32
        ));
        for f in [
            libc::O_WRONLY,
            libc::O_RDWR,
            libc::O_CREAT,
            libc::O_TRUNC | libc::O_RDONLY,
            libc::O_APPEND,
        ] {
            assert!(writes(f as u32), "{f:#o}");
        }
    }
}
