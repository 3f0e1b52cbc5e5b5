//! Processes for response actions: the process list (`live.processes`, the investigation
//! package), killing a process or its tree (`kill`), the processes running a file (`quarantine`)
//! and the sockets each process owns (`live.connections`).
//!
//! A process is (pid, start time): the start time in clock ticks since boot, field 22 of
//! `/proc/<pid>/stat`, is what tells a process from a later one that reused its pid. Actions
//! name it in boot-clock nanoseconds (`start_time_ns`, as the agent's process table does) and
//! it is compared to within one tick.
//!
//! **Invariant:** a signal goes through a pidfd opened before the process's identity is checked,
//! so that the process checked is the process signalled. Pid 1, kernel threads and the agent
//! itself are never killed.

use std::collections::{HashMap, HashSet};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::error::{RespondError, Result};

/// One process as `/proc` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proc {
    pub pid: u32,
    pub ppid: u32,
    pub uid: u32,
    /// The kernel's short name (`comm`).
    pub name: String,
    /// `R`, `S`, `Z`, ...
    pub state: char,
    pub start_ticks: u64,
    /// The executable (empty for kernel threads or when it cannot be read).
    pub exe: String,
    pub cmdline: String,
    pub kernel_thread: bool,
}

/// Nanoseconds per clock tick of `/proc/<pid>/stat`.
pub fn tick_ns() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    1_000_000_000 / if hz > 0 { hz as u64 } else { 100 }
}

/// Parse the part of `/proc/<pid>/stat` after the command name: (name, state, ppid, start
/// ticks, flags).
fn parse_stat(text: &str) -> Option<(String, char, u32, u64, u64)> {
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let name = text.get(open + 1..close)?.to_string();
    let rest: Vec<&str> = text.get(close + 1..)?.split_whitespace().collect();
    // rest[0] is field 3 (state); field N is rest[N - 3].
    let state = rest.first()?.chars().next()?;
    let ppid = rest.get(1)?.parse().ok()?;
    let flags = rest.get(6)?.parse().ok()?;
    let start = rest.get(19)?.parse().ok()?;
    Some((name, state, ppid, start, flags))
}

const PF_KTHREAD: u64 = 0x0020_0000;

/// Read one process; `None` when it is gone.
pub fn read(pid: u32) -> Option<Proc> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (name, state, ppid, start_ticks, flags) = parse_stat(&stat)?;
    let uid = std::fs::metadata(format!("/proc/{pid}"))
        .map(|m| m.uid())
        .unwrap_or(u32::MAX);
    let exe = std::fs::read_link(format!("/proc/{pid}/exe"))
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let args: Vec<String> = raw
        .split(|&b| b == 0)
        .filter(|a| !a.is_empty())
        .take(1024)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    Some(Proc {
        pid,
        ppid,
        uid,
        name,
        state,
        start_ticks,
        exe,
        cmdline: crate::proctable::command_line(&args),
        kernel_thread: flags & PF_KTHREAD != 0 || pid == 2 || ppid == 2,
    })
}

/// Every process now, by pid.
pub fn all() -> Vec<Proc> {
    let mut out: Vec<Proc> = pids().into_iter().filter_map(read).collect();
    out.sort_by_key(|p| p.pid);
    out
}

fn pids() -> Vec<u32> {
    std::fs::read_dir("/proc")
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse().ok()))
                .collect()
        })
        .unwrap_or_default()
}

/// A process as a `live.processes` row.
pub fn row(p: &Proc, users: &crate::users::Users, boot_wall_ns: i64, tick: u64) -> Value {
    let start_ns = p.start_ticks * tick;
    let started = vigil_schema::Timestamp(boot_wall_ns + start_ns as i64);
    json!({
        "ProcessId": p.pid,
        "ParentProcessId": p.ppid,
        "ProcessName": p.name,
        "User": users.name(p.uid),
        "Uid": p.uid,
        "State": p.state.to_string(),
        "Exe": p.exe,
        "CommandLine": p.cmdline,
        "StartTimeNs": start_ns,
        "StartTime": started.to_string(),
        "KernelThread": p.kernel_thread,
    })
}

/// Wall-clock nanoseconds at boot (for start times).
pub fn boot_wall_ns() -> i64 {
    let clock = crate::proctable::BootClock::now();
    clock.wall(0).nanos()
}

/// The tree under `root` (descendants only), parents before children.
pub fn descendants(procs: &[Proc], root: u32) -> Vec<u32> {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    for p in procs {
        children.entry(p.ppid).or_default().push(p.pid);
    }
    let mut out = Vec::new();
    let mut queue = std::collections::VecDeque::from([root]);
    let mut seen = HashSet::from([root]);
    while let Some(pid) = queue.pop_front() {
        for &c in children.get(&pid).map(Vec::as_slice).unwrap_or(&[]) {
            if seen.insert(c) {
                out.push(c);
                queue.push_back(c);
            }
        }
    }
    out
}

/// A pidfd for `pid`, checked to still be the process `expect` describes.
fn pidfd_of(expect: &Proc) -> Option<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags; the result is checked.
    let raw = unsafe { libc::syscall(libc::SYS_pidfd_open, expect.pid as libc::pid_t, 0) };
    if raw < 0 {
        return None;
    }
    // SAFETY: a new descriptor nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(raw as i32) };
    // Checked after the pidfd exists: if the pid was reused since, the start time differs.
    read(expect.pid)
        .filter(|now| now.start_ticks == expect.start_ticks)
        .map(|_| fd)
}

fn signal(fd: &OwnedFd, sig: i32) -> bool {
    // SAFETY: a valid pidfd, a signal number, no siginfo, no flags.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            fd.as_raw_fd(),
            sig,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    rc == 0
}

/// Why `pid` must not be killed, if so.
fn protected(p: &Proc) -> Option<String> {
    let own = std::process::id();
    if p.pid <= 1 {
        Some(format!("pid {} is init and cannot be killed", p.pid))
    } else if p.pid == own {
        Some(format!("pid {} is the Vigil agent itself", p.pid))
    } else if p.kernel_thread {
        Some(format!("pid {} ({}) is a kernel thread", p.pid, p.name))
    } else {
        None
    }
}

fn brief(p: &Proc) -> Value {
    json!({ "ProcessId": p.pid, "ProcessName": p.name, "CommandLine": p.cmdline, "Exe": p.exe })
}

/// The `kill` action: `pid` (checked against `start_time_ns` when given), and with `tree` its
/// descendants first. The tree is stopped (SIGSTOP) before anything is killed, so that it
/// cannot fork new members while it is being killed.
pub fn kill(pid: u32, start_time_ns: Option<u64>, tree: bool) -> Result<Value> {
    let target =
        read(pid).ok_or_else(|| RespondError::Failed(format!("no process with pid {pid}")))?;
    if let Some(ns) = start_time_ns {
        let want = ns / tick_ns();
        if target.start_ticks.abs_diff(want) > 1 {
            return Err(RespondError::Refused(format!(
                "pid {pid} is another process now: it started at {} ns after boot, not {ns}",
                target.start_ticks * tick_ns()
            )));
        }
    }
    if let Some(why) = protected(&target) {
        return Err(RespondError::Refused(why));
    }
    let root_fd =
        pidfd_of(&target).ok_or_else(|| RespondError::Failed(format!("pid {pid} exited")))?;
    let mut victims: Vec<(Proc, OwnedFd)> = Vec::new();
    if tree {
        // The agent and its ancestors are never in the way of their own kill.
        let procs = all();
        let mut shielded = HashSet::new();
        let mut at = std::process::id();
        while at > 1 && shielded.insert(at) {
            at = procs.iter().find(|p| p.pid == at).map_or(0, |p| p.ppid);
        }
        if shielded.contains(&pid) {
            return Err(RespondError::Refused(format!(
                "pid {pid}'s tree holds the Vigil agent (pid {})",
                std::process::id()
            )));
        }
        signal(&root_fd, libc::SIGSTOP);
        let mut stopped: HashSet<u32> = HashSet::new();
        for _round in 0..8 {
            let procs = all();
            let mut new = 0;
            for c in descendants(&procs, pid) {
                if stopped.contains(&c) || shielded.contains(&c) {
                    continue;
                }
                let Some(p) = procs.iter().find(|p| p.pid == c) else {
                    continue;
                };
                if protected(p).is_some() {
                    continue;
                }
                if let Some(fd) = pidfd_of(p) {
                    signal(&fd, libc::SIGSTOP);
                    stopped.insert(c);
                    victims.push((p.clone(), fd));
                    new += 1;
                }
            }
            if new == 0 {
                break;
            }
        }
        // Children first: the deepest were found last.
        victims.reverse();
    }
    victims.push((target, root_fd));
    let mut killed = Vec::new();
    let mut failed = Vec::new();
    for (p, fd) in &victims {
        if signal(fd, libc::SIGKILL) {
            killed.push(p.clone());
        } else {
            failed.push(format!(
                "pid {}: {}",
                p.pid,
                std::io::Error::last_os_error()
            ));
        }
    }
    // Wait (briefly) until they are gone or zombies.
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline
        && killed.iter().any(|p| {
            read(p.pid).is_some_and(|now| now.start_ticks == p.start_ticks && now.state != 'Z')
        })
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    if killed.is_empty() {
        return Err(RespondError::Failed(format!(
            "pid {pid} could not be killed: {}",
            failed.join("; ")
        )));
    }
    Ok(json!({
        "ProcessId": pid,
        "Tree": tree,
        "Killed": killed.iter().map(brief).collect::<Vec<_>>(),
        "NotKilled": failed,
    }))
}

/// Kill every process whose executable is the file (device, inode), or that runs it as a
/// script (holds it open and names it on its command line). Returns those killed.
pub fn kill_users_of(path: &Path, dev: u64, ino: u64) -> Vec<Value> {
    let wanted = path.to_string_lossy();
    let mut killed = Vec::new();
    for p in all() {
        if protected(&p).is_some() {
            continue;
        }
        let runs = std::fs::metadata(format!("/proc/{}/exe", p.pid))
            .is_ok_and(|m| m.dev() == dev && m.ino() == ino);
        let scripts = !runs && p.cmdline.contains(wanted.as_ref()) && holds_open(p.pid, dev, ino);
        if !(runs || scripts) {
            continue;
        }
        if let Some(fd) = pidfd_of(&p) {
            if signal(&fd, libc::SIGKILL) {
                killed.push(brief(&p));
            }
        }
    }
    killed
}

fn holds_open(pid: u32, dev: u64, ino: u64) -> bool {
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    dir.flatten()
        .any(|e| std::fs::metadata(e.path()).is_ok_and(|m| m.dev() == dev && m.ino() == ino))
}

/// Socket inode → (pid, process name), from `/proc/<pid>/fd`.
pub fn socket_owners() -> HashMap<u64, (u32, String)> {
    let mut out = HashMap::new();
    for pid in pids() {
        let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
            continue;
        };
        let mut name = None;
        for e in dir.flatten() {
            let Ok(link) = std::fs::read_link(e.path()) else {
                continue;
            };
            let link = link.to_string_lossy();
            let Some(ino) = link
                .strip_prefix("socket:[")
                .and_then(|s| s.strip_suffix(']'))
                .and_then(|s| s.parse::<u64>().ok())
            else {
                continue;
            };
            let name = name.get_or_insert_with(|| {
                std::fs::read_to_string(format!("/proc/{pid}/comm"))
                    .map(|s| s.trim().to_string())
                    .unwrap_or_default()
            });
            out.entry(ino).or_insert((pid, name.clone()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_with_odd_names_parse() {
        let line = "1234 (a (b) c) S 1 1234 1234 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 98765 1000 10 18446744073709551615";
        let (name, state, ppid, start, flags) = parse_stat(line).unwrap();
        assert_eq!(
            (name.as_str(), state, ppid, start),
            ("a (b) c", 'S', 1, 98765)
        );
        assert_eq!(flags, 4194560);
        assert!(parse_stat("12 (x").is_none());
    }

    #[test]
    fn this_process_reads_and_trees_order_parents_first() {
        let me = read(std::process::id()).unwrap();
        assert!(!me.kernel_thread);
        assert!(me.exe.contains("it-") || !me.exe.is_empty());
        let procs = vec![
            Proc {
                pid: 10,
                ppid: 1,
                ..me.clone()
            },
            Proc {
                pid: 11,
                ppid: 10,
                ..me.clone()
            },
            Proc {
                pid: 12,
                ppid: 11,
                ..me.clone()
            },
            Proc {
                pid: 13,
                ppid: 10,
                ..me.clone()
            },
            Proc {
                pid: 14,
                ppid: 1,
                ..me.clone()
            },
        ];
        assert_eq!(descendants(&procs, 10), vec![11, 13, 12]);
        assert!(descendants(&procs, 14).is_empty());
    }

    #[test]
    fn init_and_the_agent_are_refused_and_reused_pids_noticed() {
        let e = kill(1, None, false).unwrap_err().to_string();
        assert!(e.contains("init"), "{e}");
        let e = kill(std::process::id(), None, false)
            .unwrap_err()
            .to_string();
        assert!(e.contains("agent itself"), "{e}");
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let p = read(child.id()).unwrap();
        let wrong = (p.start_ticks + 100) * tick_ns();
        let e = kill(child.id(), Some(wrong), false)
            .unwrap_err()
            .to_string();
        assert!(e.contains("another process"), "{e}");
        let v = kill(child.id(), Some(p.start_ticks * tick_ns()), false).unwrap();
        assert_eq!(v["Killed"][0]["ProcessId"], child.id());
        let st = child.wait().unwrap();
        assert_eq!(std::os::unix::process::ExitStatusExt::signal(&st), Some(9));
        let e = kill(4_000_000, None, false).unwrap_err().to_string();
        assert!(e.contains("no process"), "{e}");
    }
}
