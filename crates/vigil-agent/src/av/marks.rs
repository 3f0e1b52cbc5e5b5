//! The marks of the on-access group: `FAN_OPEN_EXEC_PERM` on every real filesystem (or its
//! mount when the filesystem refuses), `FAN_OPEN_PERM | FAN_CLOSE_WRITE` on protected paths
//! (a mount mark for a mount point, else inode marks on the directory tree, bounded by
//! `max_marked_dirs`, never crossing into another filesystem).
//!
//! **Invariant:** marking is additive and idempotent: a filesystem or directory already
//! marked is skipped, so the 5 s rescan only adds what appeared.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::av::onaccess::{OnAccessMarks, OnAccessOptions};
use crate::fanotify::{Group, MarkKind};

#[derive(Default)]
pub(super) struct MarkSet {
    pub(super) exec_devs: std::collections::HashSet<u64>,
    pub(super) dirs: std::collections::HashSet<(u64, u64)>,
    pub(super) state: OnAccessMarks,
}

/// Whether `path` is a mount point listed in `/proc/self/mounts` text.
pub(super) fn is_mount_point(mounts: &str, path: &Path) -> bool {
    let want = path.to_string_lossy();
    mounts.lines().any(|l| {
        l.split_whitespace()
            .nth(1)
            .is_some_and(|m| m.replace("\\040", " ") == want)
    })
}

/// Mark new filesystems for exec and protected trees for open (at start and every 5 s).
pub(super) fn mark_all(fan: &Group, opts: &OnAccessOptions, m: &mut MarkSet) {
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    if opts.exec {
        for dir in crate::sensors::fanotify::real_mounts(&mounts) {
            let Ok(dev) = std::fs::metadata(&dir).map(|md| md.dev()) else {
                continue;
            };
            if m.exec_devs.contains(&dev) {
                continue;
            }
            let path = Path::new(&dir);
            match fan.mark_filesystem_or_mount(libc::FAN_OPEN_EXEC_PERM, path) {
                Ok(kind) => {
                    m.exec_devs.insert(dev);
                    m.state.exec.push(format!("{dir} ({kind})"));
                }
                Err(e) => {
                    let line = format!("{dir}: {e}");
                    if !m.state.failed.contains(&line) {
                        m.state.failed.push(line);
                    }
                }
            }
        }
    }
    let mask = libc::FAN_OPEN_PERM | libc::FAN_CLOSE_WRITE;
    let mut described = Vec::new();
    for root in &opts.protected {
        if !root.is_dir() {
            described.push(format!("{} (missing)", root.display()));
            continue;
        }
        if is_mount_point(&mounts, root) {
            match fan.mark(MarkKind::Mount, mask, root) {
                Ok(()) => described.push(format!("{} (mount)", root.display())),
                Err(e) => described.push(format!("{} (mount mark failed: {e})", root.display())),
            }
            continue;
        }
        let mut stack = vec![root.clone()];
        let mut truncated = false;
        while let Some(dir) = stack.pop() {
            let Ok(md) = std::fs::symlink_metadata(&dir) else {
                continue;
            };
            if !md.is_dir() {
                continue;
            }
            let id = (md.dev(), md.ino());
            if !m.dirs.contains(&id) {
                if m.dirs.len() >= opts.max_marked_dirs {
                    truncated = true;
                    break;
                }
                let r = fan.mark(MarkKind::Inode, mask | libc::FAN_EVENT_ON_CHILD, &dir);
                if r.is_err() {
                    continue;
                }
                m.dirs.insert(id);
            }
            // Other mounts below a protected directory are covered by their own marks
            // only if listed; do not walk into them.
            if let Ok(rd) = std::fs::read_dir(&dir) {
                for e in rd.flatten() {
                    if e.file_type().is_ok_and(|t| t.is_dir()) {
                        let p = e.path();
                        if std::fs::symlink_metadata(&p).is_ok_and(|s| s.dev() == md.dev()) {
                            stack.push(p);
                        }
                    }
                }
            }
        }
        described.push(format!(
            "{} (directories{})",
            root.display(),
            if truncated {
                ", truncated at max_marked_dirs"
            } else {
                ""
            }
        ));
    }
    m.state.protected = described;
    m.state.directories = m.dirs.len();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_points_are_recognised() {
        let mounts =
            "/dev/vda / ext4 rw 0 0\ntmpfs /dev/shm tmpfs rw 0 0\ntmpfs /my\\040dir tmpfs rw 0 0";
        assert!(is_mount_point(mounts, Path::new("/dev/shm")));
        assert!(is_mount_point(mounts, Path::new("/my dir")));
        assert!(!is_mount_point(mounts, Path::new("/tmp")));
    }
}
