//! The file fallback: fanotify close-after-write notifications on every real mount, for when
//! the eBPF sensors cannot load. It reports `FileModified` (write then close) with the writer's
//! pid and the file's path; creations, renames and deletions need eBPF. The agent reports
//! itself degraded while it runs on this.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

use crate::sensors::event::{FileEvent, FileOp, Origin, SensorEvent};

/// Filesystems whose files are not user data, left unmarked.
const PSEUDO: &[&str] = &[
    "proc",
    "sysfs",
    "cgroup",
    "cgroup2",
    "debugfs",
    "tracefs",
    "devpts",
    "securityfs",
    "bpf",
    "pstore",
    "configfs",
    "fusectl",
    "mqueue",
    "hugetlbfs",
    "autofs",
    "binfmt_misc",
    "rpc_pipefs",
    "nsfs",
    "devtmpfs",
];

pub struct FanotifyFiles {
    fd: OwnedFd,
    marked: usize,
    malformed: u64,
    own_pid: i32,
}

/// Mount points of real filesystems, from `/proc/self/mounts` text.
pub fn real_mounts(mounts: &str) -> Vec<String> {
    let mut out: Vec<String> = mounts
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (_dev, dir, fstype) = (f.next()?, f.next()?, f.next()?);
            (!PSEUDO.contains(&fstype)).then(|| dir.replace("\\040", " "))
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

impl FanotifyFiles {
    /// Start watching; fails when fanotify is unavailable or nothing could be marked.
    pub fn open() -> std::io::Result<FanotifyFiles> {
        // SAFETY: fanotify_init takes flags only; a negative result is checked below.
        let raw = unsafe {
            libc::fanotify_init(
                libc::FAN_CLASS_NOTIF | libc::FAN_CLOEXEC | libc::FAN_NONBLOCK,
                (libc::O_RDONLY | libc::O_LARGEFILE | libc::O_CLOEXEC) as u32,
            )
        };
        if raw < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: raw is a new descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let mut marked = 0;
        for dir in real_mounts(&std::fs::read_to_string("/proc/self/mounts").unwrap_or_default()) {
            let Ok(c) = std::ffi::CString::new(dir) else {
                continue;
            };
            // SAFETY: fd is our fanotify descriptor; c is a valid NUL-terminated path.
            let rc = unsafe {
                libc::fanotify_mark(
                    fd.as_raw_fd(),
                    libc::FAN_MARK_ADD | libc::FAN_MARK_MOUNT,
                    libc::FAN_CLOSE_WRITE,
                    libc::AT_FDCWD,
                    c.as_ptr(),
                )
            };
            if rc == 0 {
                marked += 1;
            }
        }
        if marked == 0 {
            return Err(std::io::Error::other("fanotify could not mark any mount"));
        }
        Ok(FanotifyFiles {
            fd,
            marked,
            malformed: 0,
            own_pid: std::process::id() as i32,
        })
    }

    /// Mounts being watched.
    pub fn marked(&self) -> usize {
        self.marked
    }

    /// Events whose metadata did not parse.
    pub fn malformed(&self) -> u64 {
        self.malformed
    }

    /// Wait up to `timeout` and return the files closed after a write.
    pub fn poll(
        &mut self,
        timeout: Duration,
        boot_ns_now: u64,
    ) -> std::io::Result<Vec<SensorEvent>> {
        let mut pfd = libc::pollfd {
            fd: self.fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let n = unsafe {
            libc::poll(
                &mut pfd,
                1,
                timeout.as_millis().min(i32::MAX as u128) as i32,
            )
        };
        if n <= 0 {
            return Ok(Vec::new());
        }
        let mut buf = vec![0u8; 64 * 1024];
        // SAFETY: reading into our own buffer of the given length.
        let len = unsafe { libc::read(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if len < 0 {
            let e = std::io::Error::last_os_error();
            return if e.kind() == std::io::ErrorKind::WouldBlock {
                Ok(Vec::new())
            } else {
                Err(e)
            };
        }
        let (events, malformed) = parse(&buf[..len as usize], self.own_pid, boot_ns_now);
        self.malformed += malformed;
        Ok(events)
    }
}

/// Parse a buffer of `fanotify_event_metadata` records, closing the fds they carry.
fn parse(buf: &[u8], own_pid: i32, boot_ns_now: u64) -> (Vec<SensorEvent>, u64) {
    const META: usize = std::mem::size_of::<libc::fanotify_event_metadata>();
    let mut out = Vec::new();
    let mut off = 0;
    while off + META <= buf.len() {
        // SAFETY: at least META bytes remain; read_unaligned copes with any alignment, and the
        // struct is plain integers.
        let m: libc::fanotify_event_metadata =
            unsafe { std::ptr::read_unaligned(buf[off..].as_ptr().cast()) };
        let len = m.event_len as usize;
        if m.vers != libc::FANOTIFY_METADATA_VERSION || len < META || off + len > buf.len() {
            return (out, 1);
        }
        off += len;
        if m.fd < 0 {
            continue;
        }
        // SAFETY: the kernel gave us this descriptor; we own it and close it here.
        let fd = unsafe { OwnedFd::from_raw_fd(m.fd) };
        if m.pid == own_pid {
            continue;
        }
        let Ok(path) = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())) else {
            continue;
        };
        let origin = Origin {
            ts: boot_ns_now,
            tgid: m.pid as u32,
            tid: m.pid as u32,
            start: 0,
            uid: u32::MAX,
        };
        out.push(SensorEvent::File(FileEvent {
            origin,
            op: FileOp::Modified,
            path: path.to_string_lossy().into_owned(),
            old_path: None,
            truncated: false,
        }));
    }
    (out, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mounts_skip_pseudo_filesystems() {
        let text = "/dev/vda / ext4 rw 0 0\nproc /proc proc rw 0 0\ntmpfs /tmp tmpfs rw 0 0\nbad\nsysfs /sys sysfs rw 0 0\n/dev/x /my\\040disk ext4 rw 0 0\n";
        assert_eq!(real_mounts(text), vec!["/", "/my disk", "/tmp"]);
    }

    #[test]
    fn truncated_and_foreign_metadata_is_counted_not_trusted() {
        let (ev, bad) = parse(&[1, 2, 3], 1, 0);
        assert!(ev.is_empty());
        assert_eq!(bad, 0, "a short tail is simply not a record");
        let mut rec = vec![0u8; std::mem::size_of::<libc::fanotify_event_metadata>()];
        rec[0..4].copy_from_slice(&1000u32.to_ne_bytes()); // event_len beyond the buffer
        rec[4] = libc::FANOTIFY_METADATA_VERSION;
        let (ev, bad) = parse(&rec, 1, 0);
        assert!(ev.is_empty());
        assert_eq!(bad, 1);
    }
}
