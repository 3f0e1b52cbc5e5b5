//! `/proc`: the snapshot of processes that started before the agent, and the process
//! fallback when the eBPF sensors cannot load (polling for new pids, so short-lived processes
//! may be missed; the agent reports itself degraded in that mode).

use std::collections::HashSet;
use std::path::Path;

use crate::sensors::event::{ExecEvent, ExitEvent, Origin, SensorEvent};

/// What `/proc/<pid>` says about one process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcInfo {
    pub pid: u32,
    pub ppid: u32,
    /// Start time in clock ticks since boot (field 22 of `stat`).
    pub start_ticks: u64,
    pub exe: String,
    pub argv: Vec<String>,
    pub comm: String,
    pub uid: u32,
    pub euid: u32,
    pub gid: u32,
    pub egid: u32,
    pub loginuid: u32,
    pub sessionid: u32,
    pub cwd: String,
}

/// Clock ticks per second (`sysconf(_SC_CLK_TCK)`).
pub fn clock_ticks() -> u64 {
    // SAFETY: sysconf has no memory-safety preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as u64
    } else {
        100
    }
}

/// Parse `/proc/<pid>/stat`: (comm, ppid, start ticks). The comm is in parentheses and may
/// itself contain spaces and parentheses, so fields are counted from the last `)`.
pub fn parse_stat(text: &str) -> Option<(String, u32, u64)> {
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let comm = text.get(open + 1..close)?.to_string();
    let rest: Vec<&str> = text.get(close + 1..)?.split_whitespace().collect();
    // rest[0] is field 3 (state); ppid is field 4, starttime field 22.
    let ppid = rest.get(1)?.parse().ok()?;
    let start = rest.get(19)?.parse().ok()?;
    Some((comm, ppid, start))
}

/// The four ids of a `Uid:` or `Gid:` line of `/proc/<pid>/status`: (real, effective).
fn parse_ids(status: &str, key: &str) -> (u32, u32) {
    let line = status.lines().find(|l| l.starts_with(key));
    let ids: Vec<u32> = line
        .map(|l| {
            l[key.len()..]
                .split_whitespace()
                .filter_map(|v| v.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    (
        ids.first().copied().unwrap_or(u32::MAX),
        ids.get(1).copied().unwrap_or(u32::MAX),
    )
}

fn read_u32(path: &Path) -> u32 {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(u32::MAX)
}

/// Read one process; `None` when it is gone or is a kernel thread.
pub fn read_proc(pid: u32) -> Option<ProcInfo> {
    let dir = Path::new("/proc").join(pid.to_string());
    let (comm, ppid, start_ticks) = parse_stat(&std::fs::read_to_string(dir.join("stat")).ok()?)?;
    let cmdline = std::fs::read(dir.join("cmdline")).unwrap_or_default();
    let exe = std::fs::read_link(dir.join("exe"))
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    if exe.is_empty() && cmdline.is_empty() {
        return None; // kernel thread
    }
    let argv = cmdline
        .strip_suffix(&[0])
        .unwrap_or(&cmdline)
        .split(|&b| b == 0)
        .filter(|a| !cmdline.is_empty() || !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    let status = std::fs::read_to_string(dir.join("status")).unwrap_or_default();
    let (uid, euid) = parse_ids(&status, "Uid:");
    let (gid, egid) = parse_ids(&status, "Gid:");
    Some(ProcInfo {
        pid,
        ppid,
        start_ticks,
        exe,
        argv,
        comm,
        uid,
        euid,
        gid,
        egid,
        loginuid: read_u32(&dir.join("loginuid")),
        sessionid: read_u32(&dir.join("sessionid")),
        cwd: std::fs::read_link(dir.join("cwd"))
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default(),
    })
}

/// Every process now running (kernel threads left out).
pub fn scan() -> Vec<ProcInfo> {
    pids().into_iter().filter_map(read_proc).collect()
}

fn pids() -> Vec<u32> {
    std::fs::read_dir("/proc")
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// The degraded process sensor: polls `/proc` and reports processes that appeared or vanished
/// since the last poll.
#[derive(Debug, Default)]
pub struct ProcPoller {
    known: HashSet<(u32, u64)>,
}

impl ProcPoller {
    /// Start from the processes running now (they are not reported).
    pub fn new() -> ProcPoller {
        ProcPoller {
            known: scan().into_iter().map(|p| (p.pid, p.start_ticks)).collect(),
        }
    }

    /// New processes as exec events and vanished ones as exits (status unknown: 0).
    pub fn poll(&mut self, boot_ns_now: u64) -> Vec<SensorEvent> {
        let tick_ns = 1_000_000_000 / clock_ticks();
        let now: Vec<ProcInfo> = scan();
        let current: HashSet<(u32, u64)> = now.iter().map(|p| (p.pid, p.start_ticks)).collect();
        let mut out = Vec::new();
        for p in now
            .into_iter()
            .filter(|p| !self.known.contains(&(p.pid, p.start_ticks)))
        {
            let origin = Origin {
                ts: boot_ns_now,
                tgid: p.pid,
                tid: p.pid,
                start: p.start_ticks * tick_ns,
                uid: p.uid,
            };
            out.push(SensorEvent::Exec(ExecEvent {
                origin,
                ppid: p.ppid,
                parent_start: 0,
                euid: p.euid,
                gid: p.gid,
                egid: p.egid,
                loginuid: p.loginuid,
                sessionid: p.sessionid,
                cgroup_id: 0,
                ino: 0,
                path: p.exe,
                path_truncated: false,
                cwd: p.cwd,
                cwd_truncated: false,
                argv: p.argv,
                argv_truncated: false,
                comm: p.comm,
                tty: None,
                cgroup: String::new(),
                fileless: None,
            }));
        }
        for &(pid, start) in self.known.difference(&current) {
            let origin = Origin {
                ts: boot_ns_now,
                tgid: pid,
                tid: pid,
                start: start * tick_ns,
                uid: 0,
            };
            out.push(SensorEvent::Exit(ExitEvent { origin, status: 0 }));
        }
        self.known = current;
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_with_parentheses_in_comm() {
        let text = "42 (a) b (c)) S 7 42 42 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 12345 1 2 3";
        let (comm, ppid, start) = parse_stat(text).unwrap();
        assert_eq!(comm, "a) b (c)");
        assert_eq!(ppid, 7);
        assert_eq!(start, 12345);
        assert_eq!(parse_stat("garbage"), None);
        assert_eq!(parse_stat("1 (x) S"), None);
    }

    #[test]
    fn reads_this_process() {
        let me = read_proc(std::process::id()).unwrap();
        assert_eq!(me.pid, std::process::id());
        assert!(
            me.exe.ends_with(
                &*std::env::current_exe()
                    .unwrap()
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
            ) || me.exe.contains("deleted")
        );
        assert!(!me.argv.is_empty());
    }
}
