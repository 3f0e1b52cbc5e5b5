//! The process model: pid → what runs there, who started it, and its parent chain.
//!
//! Every event names its process by (pid, start time), so the table can tell a pid that was
//! reused from the process an event is about. It starts from a `/proc` snapshot (so processes
//! older than the agent have their image, command line and user), follows forks (a child runs
//! its parent's image until it execs), execs (a new image) and exits (kept for a grace period,
//! because events about a process can arrive after its exit).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use vigil_schema::Timestamp;

use crate::hashes::Hashes;
use crate::sensors::procfs::{self, ProcInfo};

/// Converts kernel boot-clock nanoseconds to wall-clock time.
#[derive(Debug, Clone, Copy)]
pub struct BootClock {
    /// CLOCK_REALTIME − CLOCK_BOOTTIME, in ns.
    offset: i64,
    tick_ns: u64,
}

fn clock_ns(clock: libc::clockid_t) -> i64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    ts.tv_sec * 1_000_000_000 + ts.tv_nsec
}

impl BootClock {
    pub fn now() -> BootClock {
        BootClock {
            offset: clock_ns(libc::CLOCK_REALTIME) - clock_ns(libc::CLOCK_BOOTTIME),
            tick_ns: 1_000_000_000 / procfs::clock_ticks(),
        }
    }

    /// The boot clock now, in ns.
    pub fn boot_now() -> u64 {
        clock_ns(libc::CLOCK_BOOTTIME) as u64
    }

    pub fn wall(&self, boot_ns: u64) -> Timestamp {
        Timestamp(boot_ns as i64 + self.offset)
    }

    /// Clock ticks (the unit of `/proc/<pid>/stat`) of a boot-clock time.
    pub fn ticks(&self, boot_ns: u64) -> u64 {
        boot_ns / self.tick_ns
    }

    pub fn ticks_to_ns(&self, ticks: u64) -> u64 {
        ticks * self.tick_ns
    }
}

/// One process image.
#[derive(Debug, Clone, PartialEq)]
pub struct Proc {
    pub pid: u32,
    pub ppid: u32,
    /// Start time in clock ticks since boot: with `pid`, the process's identity.
    pub start_ticks: u64,
    pub created: Timestamp,
    /// Full path of the executable.
    pub path: String,
    pub cmdline: String,
    pub uid: u32,
    pub euid: u32,
    pub user: String,
    pub sessionid: u32,
    pub hashes: Option<Arc<Hashes>>,
    /// Whether this image came from an exec (false: a fork copy of the parent's image).
    pub execed: bool,
}

impl Proc {
    /// Base name of the executable.
    pub fn file_name(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or(&self.path)
    }
}

/// Quote an argument the way a shell would need it, so that the command line reads back.
fn quote(arg: &str) -> String {
    if !arg.is_empty()
        && !arg
            .chars()
            .any(|c| c.is_whitespace() || c == '"' || c == '\'')
    {
        return arg.to_string();
    }
    format!("\"{}\"", arg.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Join argv into one command line, MDE style.
pub fn command_line(argv: &[String]) -> String {
    argv.iter().map(|a| quote(a)).collect::<Vec<_>>().join(" ")
}

pub struct ProcessTable {
    procs: HashMap<u32, Arc<Proc>>,
    exited: VecDeque<(Instant, u32, u64)>,
    grace: Duration,
    pub clock: BootClock,
}

impl ProcessTable {
    pub fn new(clock: BootClock) -> ProcessTable {
        ProcessTable {
            procs: HashMap::new(),
            exited: VecDeque::new(),
            grace: Duration::from_secs(10),
            clock,
        }
    }

    /// Fill the table from a `/proc` snapshot. `user` names uids.
    pub fn load(&mut self, infos: Vec<ProcInfo>, user: &dyn Fn(u32) -> String) {
        for info in infos {
            let p = self.proc_of(info, user);
            self.procs.insert(p.pid, Arc::new(p));
        }
    }

    fn proc_of(&self, i: ProcInfo, user: &dyn Fn(u32) -> String) -> Proc {
        Proc {
            pid: i.pid,
            ppid: i.ppid,
            start_ticks: i.start_ticks,
            created: self.clock.wall(self.clock.ticks_to_ns(i.start_ticks)),
            path: i.exe,
            cmdline: command_line(&i.argv),
            uid: i.uid,
            euid: i.euid,
            user: user(i.euid),
            sessionid: i.sessionid,
            hashes: None,
            execed: true,
        }
    }

    pub fn len(&self) -> usize {
        self.procs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.procs.is_empty()
    }

    /// The process `pid` started at `start_ns` (boot clock), reading `/proc` if the table has
    /// not seen it (an event that raced its own fork record).
    pub fn get(
        &mut self,
        pid: u32,
        start_ns: u64,
        user: &dyn Fn(u32) -> String,
    ) -> Option<Arc<Proc>> {
        let ticks = self.clock.ticks(start_ns);
        if let Some(p) = self.procs.get(&pid) {
            if start_ns == 0 || p.start_ticks.abs_diff(ticks) <= 1 {
                return Some(Arc::clone(p));
            }
        }
        let info = procfs::read_proc(pid)?;
        if start_ns != 0 && info.start_ticks.abs_diff(ticks) > 1 {
            return None;
        }
        let p = Arc::new(self.proc_of(info, user));
        self.procs.insert(pid, Arc::clone(&p));
        Some(p)
    }

    /// The process `pid` as the table knows it, without touching `/proc`.
    pub fn peek(&self, pid: u32) -> Option<Arc<Proc>> {
        self.procs.get(&pid).cloned()
    }

    /// A new process: it runs a copy of its parent's image until it execs.
    pub fn fork(&mut self, pid: u32, start_ns: u64, ppid: u32, comm: &str) {
        let created = self.clock.wall(start_ns);
        let start_ticks = self.clock.ticks(start_ns);
        let child = match self.procs.get(&ppid) {
            Some(parent) => Proc {
                pid,
                ppid,
                start_ticks,
                created,
                execed: false,
                ..(**parent).clone()
            },
            None => Proc {
                pid,
                ppid,
                start_ticks,
                created,
                path: comm.to_string(),
                cmdline: comm.to_string(),
                uid: u32::MAX,
                euid: u32::MAX,
                user: String::new(),
                sessionid: u32::MAX,
                hashes: None,
                execed: false,
            },
        };
        self.procs.insert(pid, Arc::new(child));
    }

    /// A new image in `pid`. Returns the image that ran before (the exec's initiator) if known.
    pub fn exec(&mut self, new: Proc) -> Option<Arc<Proc>> {
        self.procs
            .insert(new.pid, Arc::new(new.clone()))
            .filter(|old| old.start_ticks.abs_diff(new.start_ticks) <= 1)
    }

    /// The process ended; its entry stays for the grace period.
    pub fn exit(&mut self, pid: u32, start_ns: u64) {
        self.exited
            .push_back((Instant::now(), pid, self.clock.ticks(start_ns)));
    }

    /// Drop entries whose grace period is over (unless the pid now runs a newer process).
    pub fn expire(&mut self) {
        while let Some(&(at, pid, ticks)) = self.exited.front() {
            if at.elapsed() < self.grace {
                break;
            }
            self.exited.pop_front();
            if self
                .procs
                .get(&pid)
                .is_some_and(|p| p.start_ticks.abs_diff(ticks) <= 1)
            {
                self.procs.remove(&pid);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(uid: u32) -> String {
        format!("u{uid}")
    }

    #[test]
    fn fork_copies_parent_and_exec_replaces() {
        let clock = BootClock::now();
        let mut t = ProcessTable::new(clock);
        let tick = clock.ticks_to_ns(1);
        let parent = Proc {
            pid: 10,
            ppid: 1,
            start_ticks: 5,
            created: Timestamp(0),
            path: "/bin/bash".into(),
            cmdline: "bash".into(),
            uid: 0,
            euid: 0,
            user: "root".into(),
            sessionid: 3,
            hashes: None,
            execed: true,
        };
        t.exec(parent);
        t.fork(11, 9 * tick, 10, "bash");
        let child = t.get(11, 9 * tick, &name).unwrap();
        assert_eq!(child.path, "/bin/bash");
        assert!(!child.execed);
        let mut img = (*child).clone();
        img.path = "/usr/bin/id".into();
        img.execed = true;
        let before = t.exec(img).unwrap();
        assert_eq!(before.path, "/bin/bash");
        assert_eq!(t.peek(11).unwrap().file_name(), "id");
    }

    #[test]
    fn command_lines_quote_spaces() {
        let argv = vec!["sh".to_string(), "-c".into(), "echo hi".into(), "".into()];
        assert_eq!(command_line(&argv), r#"sh -c "echo hi" """#);
    }

    #[test]
    fn this_process_is_found_through_proc() {
        let clock = BootClock::now();
        let mut t = ProcessTable::new(clock);
        let me = t.get(std::process::id(), 0, &name).unwrap();
        assert_eq!(me.pid, std::process::id());
    }
}
