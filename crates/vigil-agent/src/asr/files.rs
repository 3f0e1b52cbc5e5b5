//! The ASR rules decided on file opens: `credential_read`, `persistence_write` and the
//! deny part of `preload_write`, through a fanotify group of their own ("asr-files",
//! `FAN_OPEN_PERM`, `FAN_REPORT_TID`) and `crate::fanotify`.
//!
//! Marks (refreshed every 5 s, so that files created later are covered):
//! - a configured file that exists: an inode mark on it;
//! - a configured directory: an inode mark with `FAN_EVENT_ON_CHILD` (its direct children);
//! - a configured file that does not exist: its parent directory, with `FAN_EVENT_ON_CHILD`,
//!   and only that name decides (so that creating it is seen), unless the parent is a busy
//!   system directory (`/`, `/etc`, `/usr`, ...), whose every open would wait for the agent;
//!   a missing preload file is watched by the guard programs instead (see `mod.rs`).
//!
//! Opens are told apart by the flags the guard programs record per thread (as the tamper
//! guard does): `credential_read` refuses any open, the other two only opens for writing.
//! A process is allowed when its program file is trusted and on the rule's allow list
//! (`trust.rs`: resolved once per decision from `/proc/PID/exe`); rows say
//! `ProgramTrusted`.
//!
//! **Invariant:** every permission event is answered at once by the reader thread, which
//! reads `/proc` and `stat`s the program file and its directories (no open, so no
//! permission event of any group waits on it); the agent's own threads and its supervisor are allowed before
//! anything else, so the agent never waits on itself. Closing the group allows what is
//! pending (fail open).

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use vigil_schema::{Col, Timestamp};

use crate::asr::names::{CREDENTIAL_READERS, PERSISTENCE_WRITERS};
use crate::asr::trust::{AllowList, Trust};
use crate::asr::{rule, AsrConfig, AsrMode, PACKAGE_MANAGERS};
use crate::av::rows::{mde_event, put_file, RowQueue};
use crate::fanotify::{fd_path, other_process, serve_opens, Group, MarkKind};
use crate::protect::report::ProcSnapshot;
use crate::tamper::files::writes;
use crate::tamper::kernel::GuardMaps;

/// `persistence_paths` by default.
pub const DEFAULT_PERSISTENCE: &[&str] = &[
    "/etc/crontab",
    "/etc/anacrontab",
    "/etc/cron.d",
    "/etc/cron.hourly",
    "/etc/cron.daily",
    "/etc/cron.weekly",
    "/etc/cron.monthly",
    "/var/spool/cron",
    "/var/spool/cron/crontabs",
    "/etc/systemd/system",
    "/etc/systemd/user",
    "/usr/lib/systemd/system",
    "/usr/lib/systemd/user",
    "~/.config/systemd/user",
    "/etc/profile",
    "/etc/profile.d",
    "/etc/bash.bashrc",
    "/etc/environment",
    "~/.bashrc",
    "~/.profile",
    "~/.bash_profile",
    "~/.bash_login",
    "~/.bash_logout",
    "~/.zshrc",
    "~/.ssh/authorized_keys",
    "~/.ssh/authorized_keys2",
];

/// Directories whose every open would wait for the agent if marked for a missing child.
const BUSY_DIRS: &[&str] = &[
    "/",
    "/etc",
    "/usr",
    "/usr/lib",
    "/lib",
    "/bin",
    "/sbin",
    "/usr/bin",
    "/usr/sbin",
    "/var",
    "/tmp",
    "/home",
    "/dev",
    "/run",
];

/// Which rule a marked path belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Credential,
    Persistence,
    Preload,
}

impl Kind {
    fn key(self) -> &'static str {
        match self {
            Kind::Credential => "credential_read",
            Kind::Persistence => "persistence_write",
            Kind::Preload => "preload_write",
        }
    }
}

/// The paths a refresh marks, by rule.
#[derive(Debug, Default, PartialEq, Eq)]
struct Targets {
    /// Existing files.
    files: HashMap<PathBuf, Kind>,
    /// Existing directories (every child counts).
    dirs: HashMap<PathBuf, Kind>,
    /// Missing files whose parent directory is marked (only that name counts).
    missing: HashMap<PathBuf, Kind>,
}

/// What the rules need from the configuration.
#[derive(Debug, Clone)]
pub struct FileRuleOptions {
    pub cfg: AsrConfig,
    /// Where `~/` points.
    pub homes: Vec<PathBuf>,
    /// Processes (tgids) allowed besides this one (the supervisor).
    pub allowed: Vec<u32>,
}

struct Shared {
    fan: Group,
    opts: FileRuleOptions,
    maps: Arc<GuardMaps>,
    rows: Arc<RowQueue>,
    stop: AtomicBool,
    targets: Mutex<Targets>,
    marked: Mutex<HashSet<PathBuf>>,
    events: AtomicU64,
    matched: AtomicU64,
    denied: AtomicU64,
    credential_allow: AllowList,
    persistence_allow: AllowList,
    excluded: HashSet<String>,
    trust: Trust,
}

/// The running file rules; dropping it stops the thread and closes the group.
pub struct FileRules {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

/// Counters for the status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FileRuleCounters {
    pub events: u64,
    pub matched: u64,
    pub denied: u64,
    pub marks: u64,
}

/// `/root` and the home of every user with a uid of 1000 or more, from `/etc/passwd` text.
pub fn user_homes(passwd: &str) -> Vec<PathBuf> {
    let mut out = vec![PathBuf::from("/root")];
    for line in passwd.lines() {
        let f: Vec<&str> = line.split(':').collect();
        let (Some(uid), Some(home)) = (f.get(2), f.get(5)) else {
            continue;
        };
        let uid: u32 = uid.parse().unwrap_or(0);
        if (1000..65534).contains(&uid) && home.starts_with('/') && *home != "/" {
            out.push(PathBuf::from(home));
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Expand `~/`, and a `*` in the last component against the directory's entries.
fn expand(spec: &str, homes: &[PathBuf]) -> Vec<PathBuf> {
    let bases: Vec<PathBuf> = match spec.strip_prefix("~/") {
        Some(rest) => homes.iter().map(|h| h.join(rest)).collect(),
        None => vec![PathBuf::from(spec)],
    };
    let mut out = Vec::new();
    for b in bases {
        let name = b
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        match (name.split_once('*'), b.parent()) {
            (Some((pre, post)), Some(dir)) => {
                if let Ok(rd) = std::fs::read_dir(dir) {
                    for e in rd.flatten() {
                        let n = e.file_name().to_string_lossy().into_owned();
                        if n.len() >= pre.len() + post.len()
                            && n.starts_with(pre)
                            && n.ends_with(post)
                        {
                            out.push(e.path());
                        }
                    }
                }
            }
            _ => out.push(b),
        }
    }
    out
}

/// Resolve the configured paths of the rules that are on.
fn resolve(o: &FileRuleOptions) -> Targets {
    let mut t = Targets::default();
    let mut add = |specs: Vec<String>, kind: Kind, missing_ok: bool| {
        for spec in specs {
            for p in expand(&spec, &o.homes) {
                match std::fs::metadata(&p) {
                    Ok(m) => {
                        let real = std::fs::canonicalize(&p).unwrap_or(p);
                        if m.is_dir() {
                            t.dirs.entry(real).or_insert(kind);
                        } else {
                            t.files.entry(real).or_insert(kind);
                        }
                    }
                    Err(_) if missing_ok => {
                        let Some(parent) = p.parent() else { continue };
                        let busy = BUSY_DIRS.iter().any(|b| Path::new(b) == parent);
                        if parent.is_dir() && !busy {
                            let real = std::fs::canonicalize(parent)
                                .map(|d| d.join(p.file_name().unwrap_or_default()))
                                .unwrap_or(p);
                            t.missing.entry(real).or_insert(kind);
                        }
                    }
                    Err(_) => {}
                }
            }
        }
    };
    let c = &o.cfg;
    if c.credential_read != AsrMode::Off {
        add(c.credential_paths.clone(), Kind::Credential, false);
    }
    if c.persistence_write != AsrMode::Off {
        add(c.persistence_paths.clone(), Kind::Persistence, true);
    }
    if c.preload_write != AsrMode::Off {
        let specs = c
            .preload_paths
            .iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect();
        // A missing preload file is the guard programs' (its parent is /etc, a busy one).
        add(specs, Kind::Preload, false);
    }
    t
}

impl FileRules {
    /// Open the group, mark, start the reader ("asr-files").
    pub fn start(
        opts: FileRuleOptions,
        maps: Arc<GuardMaps>,
        rows: Arc<RowQueue>,
    ) -> std::io::Result<FileRules> {
        let fan = Group::permissions(true)?;
        let cfg = &opts.cfg;
        let mut persistence = AllowList::new(PERSISTENCE_WRITERS, &cfg.persistence_allow);
        persistence.extend(AllowList::new(PACKAGE_MANAGERS, &cfg.package_managers));
        let shared = Arc::new(Shared {
            fan,
            credential_allow: AllowList::new(CREDENTIAL_READERS, &cfg.credential_allow),
            persistence_allow: persistence,
            trust: Trust::default(),
            excluded: cfg.exclude_processes.iter().cloned().collect(),
            opts,
            maps,
            rows,
            stop: AtomicBool::new(false),
            targets: Mutex::new(Targets::default()),
            marked: Mutex::new(HashSet::new()),
            events: AtomicU64::new(0),
            matched: AtomicU64::new(0),
            denied: AtomicU64::new(0),
        });
        shared.refresh();
        let s = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("asr-files".into())
            .spawn(move || reader(&s))?;
        Ok(FileRules {
            shared,
            thread: Some(thread),
        })
    }

    pub fn counters(&self) -> FileRuleCounters {
        let s = &self.shared;
        FileRuleCounters {
            events: s.events.load(Ordering::Relaxed),
            matched: s.matched.load(Ordering::Relaxed),
            denied: s.denied.load(Ordering::Relaxed),
            marks: s.marked.lock().unwrap_or_else(|p| p.into_inner()).len() as u64,
        }
    }
}

impl Drop for FileRules {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Shared {
    /// Resolve the paths again and mark what is new; set the guard's watched preload paths.
    fn refresh(&self) {
        let t = resolve(&self.opts);
        let mut marked = self.marked.lock().unwrap_or_else(|p| p.into_inner());
        let mut mark = |path: &Path, mask: u64| {
            if !marked.contains(path) && self.fan.mark(MarkKind::Inode, mask, path).is_ok() {
                marked.insert(path.to_path_buf());
            }
        };
        for p in t.files.keys() {
            mark(p, libc::FAN_OPEN_PERM);
        }
        for p in t.dirs.keys() {
            mark(p, libc::FAN_OPEN_PERM | libc::FAN_EVENT_ON_CHILD);
        }
        for p in t.missing.keys() {
            if let Some(parent) = p.parent() {
                mark(parent, libc::FAN_OPEN_PERM | libc::FAN_EVENT_ON_CHILD);
            }
        }
        drop(marked);
        if self.opts.cfg.preload_write != AsrMode::Off {
            for (slot, p) in self.opts.cfg.preload_paths.iter().enumerate() {
                // Renames onto the path always; opens only while no file carries a mark.
                let exists = p.exists();
                let _ = self
                    .maps
                    .set_watch(slot, Some(&p.to_string_lossy()), !exists);
            }
        }
        *self.targets.lock().unwrap_or_else(|p| p.into_inner()) = t;
    }

    /// The rule the opened path falls under.
    fn kind_of(&self, path: &Path) -> Option<Kind> {
        let t = self.targets.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(k) = t.files.get(path).or_else(|| t.missing.get(path)) {
            return Some(*k);
        }
        if let Some(k) = t.dirs.get(path) {
            return Some(*k); // the directory itself (a listing)
        }
        path.parent().and_then(|d| t.dirs.get(d)).copied()
    }

    /// Decide one open by thread `tid`: true to allow.
    fn decide(&self, file: &File, tid: u32) -> bool {
        let Some(tgid) = other_process(tid, &self.opts.allowed) else {
            return true; // the agent itself, or its supervisor
        };
        let path = fd_path(file);
        let Some(kind) = self.kind_of(Path::new(&path)) else {
            return true;
        };
        let flags = self.maps.open_flags(tid).map(|(_, f)| f);
        // An open the programs did not see (io_uring, open_by_handle_at) counts as a write.
        let write = flags.is_none_or(writes);
        if kind != Kind::Credential && !write {
            return true;
        }
        let comm = std::fs::read_to_string(format!("/proc/{tid}/comm"))
            .map(|c| c.trim_end().to_string())
            .unwrap_or_default();
        // The program file, resolved once for this decision; its name never comes from the
        // process (`prctl(PR_SET_NAME)` changes `comm`, not the file).
        let program = self.trust.program(tgid);
        if self.excluded.contains(&comm) || self.excluded.contains(&program.name) {
            return true;
        }
        // Allowed: a trusted program file (root's, in root's directories) listed by name or
        // path. A copy or a rename elsewhere is not trusted; an exiting process whose file
        // is gone from /proc is not either.
        let allowed = match kind {
            Kind::Credential => self.credential_allow.allows(&program),
            Kind::Persistence => self.persistence_allow.allows(&program),
            Kind::Preload => false,
        };
        if allowed {
            return true;
        }
        let Some(r) = rule(kind.key()) else {
            return true;
        };
        let mode = self.opts.cfg.mode(kind.key());
        self.matched.fetch_add(1, Ordering::Relaxed);
        let block = mode == AsrMode::Block;
        if block {
            self.denied.fetch_add(1, Ordering::Relaxed);
        }
        let (suffix, action) = match mode {
            AsrMode::Block => ("Blocked", "Blocked"),
            AsrMode::Warn => ("Audited", "Warned"),
            _ => ("Audited", "Audited"),
        };
        let mut row = mde_event(
            &format!("Asr{}{suffix}", r.name),
            "AntivirusDetection",
            Timestamp::now(),
        );
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        let proc = ProcSnapshot::with_exe(tgid, program.path.clone());
        put_file(&mut row, &path, size, Some(tgid), &proc);
        if proc.exe.is_empty() {
            row.put(Col::InitiatingProcessFileName, comm.as_str());
        }
        row.put_extra(
            "Operation",
            if write { "OpenForWrite" } else { "OpenForRead" },
        );
        row.put_extra("OpenFlags", flags.map(i64::from).unwrap_or(-1));
        row.put_extra("ProgramTrusted", program.trusted);
        row.put_extra("DetectionSource", "AttackSurfaceReduction");
        row.put_extra("RuleId", r.key);
        row.put_extra("Mode", mode.as_str());
        row.put_extra("Action", action);
        self.rows.push(row, Some(tgid));
        !block
    }
}

fn reader(s: &Shared) {
    serve_opens(
        &s.fan,
        &s.stop,
        Duration::from_secs(5),
        || {
            s.refresh();
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
    fn homes_are_root_and_real_users() {
        let passwd = "root:x:0:0:root:/root:/bin/bash\n\
                      daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n\
                      ann:x:1000:1000::/home/ann:/bin/bash\n\
                      nobody:x:65534:65534::/nonexistent:/usr/sbin/nologin\n\
                      broken line\n";
        assert_eq!(
            user_homes(passwd),
            vec![PathBuf::from("/home/ann"), PathBuf::from("/root")]
        );
    }

    #[test]
    fn paths_expand_homes_and_globs_and_sort_into_marks() {
        let dir = tempfile::tempdir().unwrap();
        let d = std::fs::canonicalize(dir.path()).unwrap();
        std::fs::create_dir(d.join("ssh")).unwrap();
        for n in [
            "ssh_host_rsa_key",
            "ssh_host_rsa_key.pub",
            "ssh_host_ed25519_key",
        ] {
            std::fs::write(d.join("ssh").join(n), "k").unwrap();
        }
        std::fs::create_dir_all(d.join("home/ann/.ssh")).unwrap();
        std::fs::write(d.join("home/ann/.bashrc"), "").unwrap();
        std::fs::create_dir(d.join("cron.d")).unwrap();
        let homes = vec![d.join("home/ann")];
        let mut keys = expand(&format!("{}/ssh/ssh_host_*_key", d.display()), &homes);
        keys.sort();
        assert_eq!(
            keys,
            vec![
                d.join("ssh/ssh_host_ed25519_key"),
                d.join("ssh/ssh_host_rsa_key")
            ]
        );
        let cfg = AsrConfig {
            persistence_write: AsrMode::Block,
            credential_read: AsrMode::Audit,
            credential_paths: vec![format!("{}/ssh/ssh_host_*_key", d.display())],
            persistence_paths: vec![
                "~/.bashrc".into(),
                "~/.ssh/authorized_keys".into(),
                format!("{}/cron.d", d.display()),
                format!("{}/nowhere/x", d.display()),
            ],
            ..Default::default()
        };
        let t = resolve(&FileRuleOptions {
            cfg,
            homes,
            allowed: Vec::new(),
        });
        assert_eq!(t.files.len(), 3, "{t:?}");
        assert_eq!(t.files[&d.join("home/ann/.bashrc")], Kind::Persistence);
        assert_eq!(t.files[&d.join("ssh/ssh_host_rsa_key")], Kind::Credential);
        assert_eq!(t.dirs[&d.join("cron.d")], Kind::Persistence);
        assert_eq!(
            t.missing.keys().collect::<Vec<_>>(),
            vec![&d.join("home/ann/.ssh/authorized_keys")],
            "a missing file in a missing directory is not watched"
        );
    }

    #[test]
    fn a_missing_file_in_a_busy_directory_is_not_watched_through_it() {
        let cfg = AsrConfig {
            persistence_write: AsrMode::Audit,
            persistence_paths: vec!["/etc/vigil-no-such-profile".into()],
            ..Default::default()
        };
        let t = resolve(&FileRuleOptions {
            cfg,
            homes: Vec::new(),
            allowed: Vec::new(),
        });
        assert_eq!(t, Targets::default());
    }
}
