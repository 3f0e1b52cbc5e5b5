//! The one wrapper of the fanotify system calls for the agent's permission-event groups: the
//! exec guard (`protect::exec`), on-access scanning (`av::onaccess`), the tamper write guard
//! (`tamper::files`) and the ASR file rules (`asr::files`). It opens a group, adds and flushes
//! marks, waits for and reads events, and writes the answers; what to decide stays with each
//! user.
//!
//! (`sensors::fanotify`, the notification-only fallback sensor, keeps its own group: it holds
//! no permission events and shares no answer path.)
//!
//! **Invariant:** every event read from a group is handed to the caller as an [`Event`] that
//! owns its descriptor (or is closed here when malformed), so a permission event is never
//! lost between the read and the answer; closing the group makes the kernel allow whatever is
//! still pending (fail open).

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// A fanotify group for permission events.
#[derive(Debug)]
pub struct Group {
    fd: OwnedFd,
}

/// What a mark covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarkKind {
    /// The file or directory itself (with `FAN_EVENT_ON_CHILD`: its direct children too).
    Inode,
    /// Every file of one mount.
    Mount,
    /// Every file of one filesystem, whatever the mount.
    Filesystem,
}

impl MarkKind {
    fn flag(self) -> u32 {
        match self {
            MarkKind::Inode => libc::FAN_MARK_INODE,
            MarkKind::Mount => libc::FAN_MARK_MOUNT,
            MarkKind::Filesystem => libc::FAN_MARK_FILESYSTEM,
        }
    }
}

/// One event read from a group.
#[derive(Debug)]
pub struct Event {
    /// The file opened, executed or written (owned: closing it before answering a permission
    /// event is a bug, as the answer names this descriptor).
    pub file: File,
    pub mask: u64,
    /// The process (or, with `FAN_REPORT_TID`, the thread) that acted.
    pub pid: u32,
}

impl Event {
    /// Whether the event waits for an answer.
    pub fn is_permission(&self) -> bool {
        self.mask & (libc::FAN_OPEN_PERM | libc::FAN_OPEN_EXEC_PERM | libc::FAN_ACCESS_PERM) != 0
    }
}

const META: usize = std::mem::size_of::<libc::fanotify_event_metadata>();

impl Group {
    /// A group for permission events (`FAN_CLASS_CONTENT`, unlimited queue, so that no
    /// permission event is lost). `report_tid`: events name the thread, not the process
    /// (needed to look up that thread's open flags).
    pub fn permissions(report_tid: bool) -> io::Result<Group> {
        let mut flags = libc::FAN_CLASS_CONTENT
            | libc::FAN_CLOEXEC
            | libc::FAN_NONBLOCK
            | libc::FAN_UNLIMITED_QUEUE;
        if report_tid {
            flags |= libc::FAN_REPORT_TID;
        }
        // SAFETY: fanotify_init takes flags only; the result is checked before use.
        let raw = unsafe {
            libc::fanotify_init(
                flags,
                (libc::O_RDONLY | libc::O_LARGEFILE | libc::O_CLOEXEC) as libc::c_uint,
            )
        };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: a new descriptor that nothing else owns.
        Ok(Group {
            fd: unsafe { OwnedFd::from_raw_fd(raw) },
        })
    }

    pub fn raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// Add `mask` to the mark of `kind` on `path`.
    pub fn mark(&self, kind: MarkKind, mask: u64, path: &Path) -> io::Result<()> {
        use std::os::unix::ffi::OsStrExt;
        let c = std::ffi::CString::new(path.as_os_str().as_bytes()).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("path {} holds a NUL byte", path.display()),
            )
        })?;
        // SAFETY: a valid fanotify descriptor and a NUL-terminated path that lives for the call.
        let rc = unsafe {
            libc::fanotify_mark(
                self.fd.as_raw_fd(),
                libc::FAN_MARK_ADD | kind.flag(),
                mask,
                libc::AT_FDCWD,
                c.as_ptr(),
            )
        };
        if rc == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    /// Mark the filesystem of `path`, or its mount when the filesystem refuses (some do, e.g.
    /// without a filesystem id); says which.
    pub fn mark_filesystem_or_mount(&self, mask: u64, path: &Path) -> io::Result<&'static str> {
        match self.mark(MarkKind::Filesystem, mask, path) {
            Ok(()) => Ok("filesystem"),
            Err(_) => self.mark(MarkKind::Mount, mask, path).map(|()| "mount"),
        }
    }

    /// Skip `mask` events of the file open as `fd` until it is next modified: an inode
    /// ignore mark, which the kernel clears on the file's next modification, made
    /// evictable so that it never pins the inode (it goes with the inode from the cache,
    /// and the next event comes through again).
    /// `FAN_CLOSE_WRITE` is added to the same mark first (no ignore mask without it): a
    /// change through a shared writable mapping does not clear an ignore mask, but its file
    /// is closed after writing before it can be executed again (a file open for writing
    /// cannot be), and the caller hears of it.
    pub fn ignore_until_modified(&self, fd: RawFd, mask: u64) -> io::Result<()> {
        self.mark_fd(
            libc::FAN_MARK_ADD | libc::FAN_MARK_EVICTABLE,
            libc::FAN_CLOSE_WRITE,
            fd,
        )?;
        self.mark_fd(
            libc::FAN_MARK_ADD | libc::FAN_MARK_IGNORED_MASK | libc::FAN_MARK_EVICTABLE,
            mask,
            fd,
        )
    }

    /// Take back an ignore mark of [`Group::ignore_until_modified`].
    pub fn unignore(&self, fd: RawFd, mask: u64) -> io::Result<()> {
        self.mark_fd(
            libc::FAN_MARK_REMOVE | libc::FAN_MARK_IGNORED_MASK,
            mask,
            fd,
        )
    }

    fn mark_fd(&self, flags: u32, mask: u64, fd: RawFd) -> io::Result<()> {
        // SAFETY: a valid fanotify descriptor; a null path makes `fd` itself the object.
        let rc =
            unsafe { libc::fanotify_mark(self.fd.as_raw_fd(), flags, mask, fd, std::ptr::null()) };
        if rc == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    /// Remove every mark of `kind`.
    pub fn flush(&self, kind: MarkKind) {
        // SAFETY: a valid fanotify descriptor; FLUSH takes no path.
        unsafe {
            libc::fanotify_mark(
                self.fd.as_raw_fd(),
                libc::FAN_MARK_FLUSH | kind.flag(),
                0,
                libc::AT_FDCWD,
                std::ptr::null(),
            )
        };
    }

    /// Answer the permission event whose descriptor is `fd`.
    pub fn respond(&self, fd: RawFd, allow: bool) -> io::Result<()> {
        let r = libc::fanotify_response {
            fd,
            response: if allow {
                libc::FAN_ALLOW
            } else {
                libc::FAN_DENY
            },
        };
        // SAFETY: writes one fanotify_response that lives for the call to our group.
        let n = unsafe {
            libc::write(
                self.fd.as_raw_fd(),
                (&r as *const libc::fanotify_response).cast(),
                std::mem::size_of::<libc::fanotify_response>(),
            )
        };
        if n < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    }

    /// Wait up to `timeout` (at least 1 ms) for events; true when some are ready.
    pub fn wait(&self, timeout: Duration) -> bool {
        let mut pfd = libc::pollfd {
            fd: self.fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = timeout.as_millis().clamp(1, i32::MAX as u128) as libc::c_int;
        // SAFETY: one valid pollfd for the duration of the call.
        unsafe { libc::poll(&mut pfd, 1, ms) > 0 }
    }

    /// Read every event queued now (until the group would block) and hand each to `f`.
    /// Events of another metadata version, or without a descriptor (queue overflow), are
    /// dropped here; a descriptor they carry is closed.
    pub fn read_events(&self, buf: &mut [u8], mut f: impl FnMut(Event)) {
        loop {
            // SAFETY: reads into a buffer valid for `buf.len()` bytes.
            let n = unsafe { libc::read(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            if n <= 0 {
                return;
            }
            for ev in parse(&buf[..n as usize]) {
                match ev {
                    Parsed::Event(e) => f(e),
                    Parsed::Skipped => {}
                }
            }
        }
    }
}

enum Parsed {
    Event(Event),
    Skipped,
}

/// Split a read buffer into events; stops at the first record that does not fit.
fn parse(data: &[u8]) -> Vec<Parsed> {
    let mut out = Vec::new();
    let mut off = 0usize;
    while off + META <= data.len() {
        // SAFETY: `off + META <= data.len()` bytes are initialised; the read is unaligned-safe
        // and the struct is plain old data.
        let m: libc::fanotify_event_metadata =
            unsafe { std::ptr::read_unaligned(data[off..].as_ptr().cast()) };
        let len = m.event_len as usize;
        if len < META || off + len > data.len() {
            break;
        }
        off += len;
        if m.fd < 0 {
            out.push(Parsed::Skipped);
            continue;
        }
        // SAFETY: the kernel gave us this descriptor with the event; it is owned from here.
        let file = unsafe { File::from_raw_fd(m.fd) };
        if m.vers != libc::FANOTIFY_METADATA_VERSION {
            drop(file);
            out.push(Parsed::Skipped);
            continue;
        }
        out.push(Parsed::Event(Event {
            file,
            mask: m.mask,
            pid: m.pid as u32,
        }));
    }
    out
}

/// The path of an open file as the kernel names it; a file unlinked while held keeps the
/// name it had (without the ` (deleted)` suffix).
pub fn fd_path(f: &File) -> String {
    let p = std::fs::read_link(format!("/proc/self/fd/{}", f.as_raw_fd()))
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    match p.strip_suffix(" (deleted)") {
        Some(name) => name.to_string(),
        None => p,
    }
}

/// Answer every `FAN_OPEN_PERM` event of `group` at once with `decide(file, pid)` (true
/// allows) until `stop`; `tick` runs every `every` (to refresh marks). For groups whose
/// decisions read nothing but `/proc`, so that no answer waits.
pub fn serve_opens(
    group: &Group,
    stop: &AtomicBool,
    every: Duration,
    mut tick: impl FnMut(),
    mut decide: impl FnMut(&File, u32) -> bool,
) {
    let mut buf = vec![0u8; 16 * 1024];
    let mut last_tick = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        if last_tick.elapsed() >= every {
            last_tick = Instant::now();
            tick();
        }
        if !group.wait(Duration::from_millis(200)) {
            continue;
        }
        group.read_events(&mut buf, |ev| {
            if ev.mask & libc::FAN_OPEN_PERM != 0 {
                let allow = decide(&ev.file, ev.pid);
                let _ = group.respond(ev.file.as_raw_fd(), allow);
            }
        });
    }
}

/// The process of thread `tid`, or `None` when it is this process (any of its threads) or
/// one of `allowed`: those are let through at once.
pub fn other_process(tid: u32, allowed: &[u32]) -> Option<u32> {
    if std::fs::symlink_metadata(format!("/proc/self/task/{tid}")).is_ok() {
        return None; // one of our threads
    }
    let tgid = tgid_of(tid).unwrap_or(tid);
    (tgid != std::process::id() && !allowed.contains(&tgid)).then_some(tgid)
}

/// The thread group of thread `tid`, from `/proc/<tid>/status`.
pub fn tgid_of(tid: u32) -> Option<u32> {
    let s = std::fs::read_to_string(format!("/proc/{tid}/status")).ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix("Tgid:"))
        .and_then(|v| v.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(len: u32, vers: u8, fd: i32, mask: u64, pid: i32) -> Vec<u8> {
        let m = libc::fanotify_event_metadata {
            event_len: len,
            vers,
            reserved: 0,
            metadata_len: META as u16,
            mask,
            fd,
            pid,
        };
        // SAFETY: the struct is plain old data; we copy its bytes.
        let bytes: [u8; META] = unsafe { std::mem::transmute(m) };
        let mut v = bytes.to_vec();
        v.resize(len as usize, 0);
        v
    }

    #[test]
    fn events_own_their_descriptors_and_bad_records_stop_the_parse() {
        let f = File::open("/proc/self/status").unwrap();
        let fd = std::os::fd::IntoRawFd::into_raw_fd(f);
        let mut buf = meta(META as u32, libc::FANOTIFY_METADATA_VERSION, fd, 1, 42);
        // An overflow record (no descriptor), then a record longer than the buffer.
        buf.extend(meta(META as u32, libc::FANOTIFY_METADATA_VERSION, -1, 0, 0));
        buf.extend(&meta(META as u32 + 64, libc::FANOTIFY_METADATA_VERSION, 0, 0, 0)[..META]);
        let got = parse(&buf);
        assert_eq!(got.len(), 2);
        let Parsed::Event(e) = &got[0] else {
            panic!("the first record is an event")
        };
        assert_eq!((e.mask, e.pid), (1, 42));
        assert!(
            fd_path(&e.file).ends_with("/status"),
            "{}",
            fd_path(&e.file)
        );
        assert!(!e.is_permission());
        assert!(matches!(got[1], Parsed::Skipped));
    }

    #[test]
    fn tgid_of_this_thread_is_this_process() {
        // SAFETY: gettid has no preconditions.
        let tid = unsafe { libc::gettid() } as u32;
        assert_eq!(tgid_of(tid), Some(std::process::id()));
        assert_eq!(other_process(tid, &[]), None, "this process is let through");
        let parent = std::os::unix::process::parent_id();
        assert_eq!(other_process(parent, &[]), Some(parent));
        assert_eq!(other_process(parent, &[parent]), None);
    }
}
