//! The enforcement ladder: which mechanisms this kernel offers, probed once at start.
//!
//! - **BPF LSM**: `bpf` must be in `/sys/kernel/security/lsm` and an LSM program must load
//!   (`vp_lsm_probe`, loaded alone and never attached). Where it is available it is reported;
//!   exec blocks by hash still use fanotify (the verdict needs the file's hash, computed in
//!   user space), and network blocks use cgroup BPF, which does what `socket_connect` would.
//! - **fanotify permission events**: a `FAN_CLASS_CONTENT` group must open and accept a
//!   `FAN_OPEN_EXEC_PERM` mark (Linux 5.0, `CONFIG_FANOTIFY_ACCESS_PERMISSIONS`).
//! - **cgroup v2 BPF**: a cgroup2 hierarchy must be mounted (its root, as this agent sees it);
//!   whether the programs attach is known when they are attached.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// The outcome of one probe.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Probe {
    pub available: bool,
    /// What was found, or why it is missing.
    pub detail: String,
}

impl Probe {
    fn yes(detail: impl Into<String>) -> Probe {
        Probe {
            available: true,
            detail: detail.into(),
        }
    }

    fn no(detail: impl Into<String>) -> Probe {
        Probe {
            available: false,
            detail: detail.into(),
        }
    }
}

/// Whether the kernel enables BPF LSM programs: both facts are reported, the active LSM list
/// and whether a program loads.
pub fn probe_lsm() -> Probe {
    let listed = match std::fs::read_to_string("/sys/kernel/security/lsm") {
        Ok(list) if list.trim().split(',').any(|l| l == "bpf") => Ok(list.trim().to_string()),
        Ok(list) => Err(format!("bpf is not among the active LSMs ({})", list.trim())),
        Err(e) => Err(format!(
            "cannot read /sys/kernel/security/lsm ({e}): securityfs is not mounted or the kernel has no LSM list"
        )),
    };
    let loads = super::kernel::lsm_program_loads();
    match (listed, loads) {
        (Ok(list), Ok(())) => Probe::yes(format!("bpf LSM active ({list}) and a program loads")),
        (Ok(list), Err(e)) => Probe::no(format!("bpf is an active LSM ({list}) but {e}")),
        (Err(why), Ok(())) => Probe::no(format!("{why}; an LSM program loads but would not run")),
        (Err(why), Err(e)) => Probe::no(format!("{why}; {e}")),
    }
}

/// A fanotify group for permission events (see `crate::fanotify`).
pub fn fanotify_group() -> std::io::Result<crate::fanotify::Group> {
    crate::fanotify::Group::permissions(false)
}

/// Whether exec permission events work: a group opens and accepts a `FAN_OPEN_EXEC_PERM`
/// mark (on the root directory's own inode, which is never executed, then removed).
pub fn probe_fanotify() -> Probe {
    let group = match fanotify_group() {
        Ok(g) => g,
        Err(e) => {
            return Probe::no(format!(
                "fanotify permission events unavailable (fanotify_init: {e})"
            ))
        }
    };
    if let Err(e) = group.mark(
        crate::fanotify::MarkKind::Inode,
        libc::FAN_OPEN_EXEC_PERM,
        std::path::Path::new("/"),
    ) {
        return Probe::no(format!("FAN_OPEN_EXEC_PERM refused (needs Linux 5.0): {e}"));
    }
    Probe::yes("fanotify FAN_OPEN_EXEC_PERM")
}

/// The root of the cgroup v2 hierarchy as mounted here (`/sys/fs/cgroup`, or
/// `/sys/fs/cgroup/unified` on a hybrid host), from `/proc/self/mountinfo` text.
pub fn cgroup2_root(mountinfo: &str) -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = mountinfo
        .lines()
        .filter_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            let fstype = right.split_whitespace().next()?;
            let mut f = left.split_whitespace();
            let root = f.nth(3)?;
            let point = f.next()?;
            (fstype == "cgroup2" && root == "/").then(|| PathBuf::from(point.replace("\\040", " ")))
        })
        .collect();
    found.sort_by_key(|p| p.components().count());
    found.into_iter().next()
}

/// Whether cgroup v2 BPF can be used, and where.
pub fn probe_cgroup() -> (Probe, Option<PathBuf>) {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    match cgroup2_root(&info) {
        Some(p) => (Probe::yes(format!("cgroup v2 at {}", p.display())), Some(p)),
        None => (
            Probe::no("no cgroup v2 hierarchy is mounted (mount -t cgroup2 none /sys/fs/cgroup)"),
            None,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_cgroup2_root_on_hybrid_and_unified_hosts() {
        let hybrid = "\
35 24 0:30 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755
36 35 0:31 / /sys/fs/cgroup/unified rw,nosuid - cgroup2 cgroup2 rw
37 35 0:32 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,name=systemd";
        assert_eq!(
            cgroup2_root(hybrid),
            Some(PathBuf::from("/sys/fs/cgroup/unified"))
        );
        let unified = "\
30 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw
99 30 0:26 /system.slice/x /run/x rw - cgroup2 cgroup2 rw";
        assert_eq!(cgroup2_root(unified), Some(PathBuf::from("/sys/fs/cgroup")));
        assert_eq!(cgroup2_root("22 1 0:5 / /proc rw - proc proc rw"), None);
    }
}
