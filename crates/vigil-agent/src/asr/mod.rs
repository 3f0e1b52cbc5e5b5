//! Attack surface reduction rules for Linux, each on the strongest rung of the enforcement
//! ladder that this kernel offers without BPF LSM:
//!
//! - **deny** (fanotify `FAN_OPEN_PERM`, `files.rs`): the open fails with `EPERM` and the
//!   process goes on; used for files that exist and can carry a mark;
//! - **kill at exec** (`guard.bpf.c`, tp_btf/sched_process_exec): SIGKILL when the new program
//!   is loaded, before its first instruction;
//! - **kill at the call** (`guard.bpf.c`, syscall tracepoints): SIGKILL sent at the system
//!   call's entry; the call itself still runs (a tracepoint cannot refuse it) and the process
//!   dies on its way back to user space. What the call did stays done unless noted.
//!
//! | key | rule | rung |
//! |---|---|---|
//! | `world_writable_exec` | exec of a file whose directory is world-writable (`/tmp`, `/dev/shm`, `/var/tmp`) | kill at exec |
//! | `server_shell` | a web server or database (`servers`) spawning a shell | kill at exec |
//! | `document_interpreter` | a document or mail tool (`documents`) spawning a shell or interpreter | kill at exec |
//! | `ptrace` | ptrace attach/seize/poke or process_vm_writev by a non-debugger | kill at the call (sys_enter_ptrace, sys_enter_process_vm_writev) |
//! | `preload_write` | opening a `preload_paths` file (default `/etc/ld.so.preload`) for writing; creating it, or renaming a file onto it | deny (the file exists); kill at the call (open with the file missing — an empty file may stay —, any rename onto it — the renamed file stays) |
//! | `module_load` | `finit_module(2)` of a file that no dpkg package owns (`/var/lib/dpkg/info/*.list`), `init_module(2)` | kill at the call (tp_btf/sys_enter): the pending SIGKILL stops the kernel's read of the module file, so a module on a disk filesystem is not parsed; an `init_module` image is loaded before the kill |
//! | `credential_read` | any open of `credential_paths` (`/etc/shadow`, `/etc/gshadow`, SSH host private keys) by a program that is not a trusted file on the allow list (`credential_allow` adds names or paths) | deny |
//! | `persistence_write` | opening `persistence_paths` (cron, systemd unit directories, shell profiles, `authorized_keys`) for writing, by a program that is not a trusted file of a package manager or an administration tool (`persistence_allow` adds names or paths) | deny |
//! | `downloaded_exec` | exec of a file that a downloader (`downloaders`: curl, wget) opened for writing (tracked by device and inode at sys_exit_open*); a shell or interpreter (`sh`, `bash`, `python3`, ... by name, or any process whose latest exec went through a `#!` line) opening such a file for reading: `./x.sh`, `sh x.sh`, `python3 x.py` | kill at exec (a program file); kill at the call for a script (sys_exit_open*: the interpreter's open of the script returns, and the process dies before it reads a line) |
//! | `ransomware` | one process making more than `ransomware_threshold` changes within `ransomware_window_secs`: a change is a rename, or an open for writing (not appending) of an existing regular file, each file counted once per window (files the open creates do not count). With `ransomware_entropy`, a rewrite counts only when its first write of 512 bytes or more (sampled in the kernel at sys_enter_write/pwrite64, up to 1024 bytes) has an entropy of at least 7.5 bits per byte, and a rename only once the process made such a rewrite in the window | kill at the call (sys_enter_rename*, sys_exit_open*, sys_enter_write/pwrite64 in entropy mode: the changes before the threshold stay) |
//!
//! Modes: `off`, `audit` (report), `warn` (report; Linux has no user prompt, so it acts as
//! audit and is labelled `Warned`), `block` (refuse or kill, and report).
//! `exclude_processes` are never matched, nor are the agent and its supervisor.
//!
//! Who is trusted: the fanotify rules (`credential_read`, `persistence_write`) allow a
//! process only when its program *file* (`/proc/PID/exe`) is trusted (`trust.rs`: root's,
//! not group/other-writable, in directories only root can write) and is listed by name
//! (the allow lists, package managers included) or by exact path (`credential_allow` and
//! `persistence_allow` entries starting with `/`): a copied or renamed binary is refused.
//! `ransomware` exempts a package manager by its program file as well, checked in the
//! kernel (`guard.bpf.c`, at each counted change): the file's name (its dentry, 15 bytes)
//! is a package manager's and the file is root's and not group/other-writable, in
//! directories alike up to its filesystem's root; or the file is such a trusted
//! interpreter and the process name (`comm`) is a package manager's. dnf, yum and
//! unattended-upgrade are Python programs that only their name tells apart, so a trusted
//! interpreter started under a package manager's name (a symbolic link to python3 named
//! `dnf`) still escapes the count.
//! The other kernel rules match process names, the kernel's `comm` (15 bytes): the roles
//! (servers, shells, documents, debuggers, downloaders). Whoever starts a program sets that
//! name; the programs run on every exec, open and rename of the machine, where a file check
//! costs most. A false role makes a rule miss (a downloader under another name is not
//! tracked) or fire on a look-alike parent. `exclude_processes` match either `comm` or the
//! program file's name: an administrator's escape hatch, which a process named like an
//! excluded one passes too.
//! Paths given in the configuration are matched as the kernel resolves them (files and
//! directories marked by inode); `preload_paths` are also compared, as given to the system
//! call, with the path a process passes (absolute, at most 63 bytes): a relative or
//! differently spelt path escapes the kill-at-the-call part of `preload_write`.
//! `downloaded_exec` for scripts looks at the interpreter's own open of the file: a script
//! fed on standard input (`curl ... | sh`) is not matched, and a shell that opens a
//! downloaded file for a redirect (`sh -c 'cmd < file'`) is matched as if it ran it.
//! `ransomware_entropy` cannot tell encryption from compression (rewriting many files with
//! gzip'd content counts), and a file rewritten in writes shorter than 512 bytes, or
//! through `writev` or `mmap`, is not sampled (so not counted).
//!
//! Rows are `DeviceEvents` named as MDE names ASR events (`Asr<Rule>Audited` /
//! `Asr<Rule>Blocked`) through `av::rows::mde_event`, with `AdditionalFields`
//! {DetectionSource "AttackSurfaceReduction", RuleId (the key), Mode, Action (Audited,
//! Warned, Blocked), Operation}.

pub mod files;
pub mod modules;
mod names;
pub mod trust;

pub(crate) use names::PACKAGE_MANAGERS;
use names::{DEBUGGERS, DOCUMENTS, DOWNLOADERS, INTERPRETERS, SERVERS, SHELLS};

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use vigil_schema::{Col, Row, Timestamp};

use crate::av::rows::mde_event;
use crate::protect::kernel::HookState;
use crate::tamper::kernel::{AsrOp, GuardMaps, GuardRecord};

/// The mode of one rule.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AsrMode {
    #[default]
    Off,
    Audit,
    Warn,
    Block,
}

impl AsrMode {
    fn kernel(self) -> u32 {
        match self {
            AsrMode::Off => 0,
            AsrMode::Audit | AsrMode::Warn => 1,
            AsrMode::Block => 2,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AsrMode::Off => "off",
            AsrMode::Audit => "audit",
            AsrMode::Warn => "warn",
            AsrMode::Block => "block",
        }
    }
}

/// `[asr]`: attack surface reduction rules.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AsrConfig {
    pub world_writable_exec: AsrMode,
    pub server_shell: AsrMode,
    pub document_interpreter: AsrMode,
    pub ptrace: AsrMode,
    pub preload_write: AsrMode,
    pub module_load: AsrMode,
    pub credential_read: AsrMode,
    pub persistence_write: AsrMode,
    pub downloaded_exec: AsrMode,
    pub ransomware: AsrMode,
    /// Process names never matched by any rule.
    pub exclude_processes: Vec<String>,
    /// Added to the built-in lists of web servers and databases, document and mail tools,
    /// debuggers, downloaders (curl, wget) and package managers (dpkg, apt, ...: never
    /// counted by `ransomware`, always allowed by `persistence_write`).
    pub servers: Vec<String>,
    pub documents: Vec<String>,
    pub debuggers: Vec<String>,
    pub downloaders: Vec<String>,
    pub package_managers: Vec<String>,
    /// `preload_write`: absolute paths shorter than 64 bytes (default `/etc/ld.so.preload`).
    pub preload_paths: Vec<PathBuf>,
    /// `credential_read`: files (a `*` in the last component matches any text; default
    /// `/etc/shadow`, `/etc/gshadow`, `/etc/ssh/ssh_host_*_key`).
    pub credential_paths: Vec<String>,
    /// `credential_read`: program names added to the built-in allow list (sshd, login,
    /// passwd, su, sudo, unix_chkpwd, chage, useradd, ...), or exact program paths (starting
    /// with `/`); either way the program file must be trusted (see the module doc).
    pub credential_allow: Vec<String>,
    /// `persistence_write`: files and directories (`~/` expands to `/root` and every home of
    /// a user with uid 1000 or more); default: cron, systemd unit directories, shell
    /// profiles, `authorized_keys`.
    pub persistence_paths: Vec<String>,
    /// `persistence_write`: program names added to the package managers and the built-in
    /// administration tools (crontab, systemctl, useradd, cloud-init, ...), or exact program
    /// paths (starting with `/`); the program file must be trusted.
    pub persistence_allow: Vec<String>,
    /// `ransomware`: more than this many files changed by one process ...
    pub ransomware_threshold: u32,
    /// ... within this many seconds.
    pub ransomware_window_secs: u64,
    /// `ransomware`: count a rewrite only when its first written block looks encrypted
    /// (at least [`RANSOMWARE_ENTROPY_BITS`] bits per byte), and a rename only once the
    /// process made such a rewrite in its window: a build tool or `sed -i` over many text
    /// files is then not counted.
    pub ransomware_entropy: bool,
}

/// The entropy (bits per byte, Miller-Madow corrected, over the first 512 to 1024 bytes
/// written) from which a rewrite counts in `ransomware_entropy` mode. Random bytes of 512
/// bytes measure at least 7.7, text 4 to 5.5.
pub const RANSOMWARE_ENTROPY_BITS: f64 = 7.5;

impl Default for AsrConfig {
    fn default() -> Self {
        AsrConfig {
            world_writable_exec: AsrMode::Off,
            server_shell: AsrMode::Off,
            document_interpreter: AsrMode::Off,
            ptrace: AsrMode::Off,
            preload_write: AsrMode::Off,
            module_load: AsrMode::Off,
            credential_read: AsrMode::Off,
            persistence_write: AsrMode::Off,
            downloaded_exec: AsrMode::Off,
            ransomware: AsrMode::Off,
            exclude_processes: Vec::new(),
            servers: Vec::new(),
            documents: Vec::new(),
            debuggers: Vec::new(),
            downloaders: Vec::new(),
            package_managers: Vec::new(),
            preload_paths: vec![PathBuf::from("/etc/ld.so.preload")],
            credential_paths: ["/etc/shadow", "/etc/gshadow", "/etc/ssh/ssh_host_*_key"]
                .map(String::from)
                .to_vec(),
            credential_allow: Vec::new(),
            persistence_paths: files::DEFAULT_PERSISTENCE
                .iter()
                .map(|p| p.to_string())
                .collect(),
            persistence_allow: Vec::new(),
            ransomware_threshold: 100,
            ransomware_window_secs: 10,
            ransomware_entropy: false,
        }
    }
}

// `enum vg_role` and `enum vg_rule` of guard.h.
const ROLE_SERVER: u32 = 1;
const ROLE_SHELL: u32 = 2;
const ROLE_DOCUMENT: u32 = 4;
const ROLE_INTERP: u32 = 8;
const ROLE_DEBUGGER: u32 = 16;
const ROLE_EXCLUDED: u32 = 32;
const ROLE_DOWNLOADER: u32 = 64;
const ROLE_PACKAGER: u32 = 128;

/// How a rule is enforced.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Rung {
    /// SIGKILL at tp_btf/sched_process_exec, before the first instruction.
    KillAtExec,
    /// SIGKILL at a system call's entry tracepoint.
    KillAtCall,
    /// fanotify `FAN_OPEN_PERM` refusals (`files.rs`); `program` names the guard program
    /// that tells writes from reads.
    Deny,
    /// Refusals where the file exists, SIGKILL at the call where it does not.
    DenyOrKill,
}

impl Rung {
    fn describe(self) -> &'static str {
        match self {
            Rung::KillAtExec => "SIGKILL from a tracepoint at exec",
            Rung::KillAtCall => "SIGKILL from a tracepoint at the system call",
            Rung::Deny => "fanotify FAN_OPEN_PERM denial",
            Rung::DenyOrKill => {
                "fanotify FAN_OPEN_PERM denial; SIGKILL from a tracepoint for creation and rename"
            }
        }
    }
}

/// One rule: its kernel index, configuration key, MDE-style name and program.
pub(crate) struct Rule {
    pub(crate) index: u16,
    pub(crate) key: &'static str,
    pub(crate) name: &'static str,
    program: &'static str,
    rung: Rung,
}

pub(crate) const RULES: [Rule; 10] = [
    Rule {
        index: 0,
        key: "world_writable_exec",
        name: "UntrustedExecutable",
        program: "vg_exec",
        rung: Rung::KillAtExec,
    },
    Rule {
        index: 1,
        key: "server_shell",
        name: "ServerShell",
        program: "vg_exec",
        rung: Rung::KillAtExec,
    },
    Rule {
        index: 2,
        key: "document_interpreter",
        name: "OfficeChildProcess",
        program: "vg_exec",
        rung: Rung::KillAtExec,
    },
    Rule {
        index: 3,
        key: "ptrace",
        name: "ProcessInjection",
        program: "vg_ptrace",
        rung: Rung::KillAtCall,
    },
    Rule {
        index: 4,
        key: "preload_write",
        name: "PreloadModification",
        program: "vg_openat",
        rung: Rung::DenyOrKill,
    },
    Rule {
        index: 5,
        key: "module_load",
        name: "UntrustedKernelModule",
        program: "vg_sys_enter",
        rung: Rung::KillAtCall,
    },
    Rule {
        index: 6,
        key: "credential_read",
        name: "CredentialTheft",
        program: "vg_openat",
        rung: Rung::Deny,
    },
    Rule {
        index: 7,
        key: "persistence_write",
        name: "PersistenceModification",
        program: "vg_openat",
        rung: Rung::Deny,
    },
    Rule {
        index: 8,
        key: "downloaded_exec",
        name: "DownloadedExecutable",
        program: "vg_openat_exit",
        rung: Rung::KillAtExec,
    },
    Rule {
        index: 9,
        key: "ransomware",
        name: "Ransomware",
        program: "vg_rename",
        rung: Rung::KillAtCall,
    },
];

/// The rule of a configuration key.
pub(crate) fn rule(key: &str) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.key == key)
}

impl AsrConfig {
    pub(crate) fn mode(&self, key: &str) -> AsrMode {
        match key {
            "world_writable_exec" => self.world_writable_exec,
            "server_shell" => self.server_shell,
            "document_interpreter" => self.document_interpreter,
            "ptrace" => self.ptrace,
            "preload_write" => self.preload_write,
            "module_load" => self.module_load,
            "credential_read" => self.credential_read,
            "persistence_write" => self.persistence_write,
            "downloaded_exec" => self.downloaded_exec,
            "ransomware" => self.ransomware,
            _ => AsrMode::Off,
        }
    }

    /// Whether a rule enforced through fanotify (`files.rs`) is on.
    pub fn any_file_rule(&self) -> bool {
        [
            self.preload_write,
            self.credential_read,
            self.persistence_write,
        ]
        .iter()
        .any(|m| *m != AsrMode::Off)
    }

    /// Guard programs not to load: those only rules that are off use (the signal and open
    /// programs always load: tamper protection and the file rules need them). Fewer
    /// programs, a faster start (the supervisor restarts a killed agent through it) and no
    /// cost on hooks nobody reads, above all the every-syscall one of `module_load`.
    pub fn skipped_programs(&self) -> Vec<&'static str> {
        let on = |m: AsrMode| m != AsrMode::Off;
        let mut skip = Vec::new();
        let exec_rules = [
            self.world_writable_exec,
            self.server_shell,
            self.document_interpreter,
            self.downloaded_exec,
        ];
        if !exec_rules.into_iter().any(on) {
            skip.push("vg_exec");
        }
        if !on(self.ptrace) {
            skip.extend(["vg_ptrace", "vg_vm_writev"]);
        }
        if !on(self.preload_write) && !on(self.ransomware) {
            skip.extend(["vg_rename", "vg_renameat", "vg_renameat2"]);
        }
        if !on(self.downloaded_exec) && !on(self.ransomware) {
            skip.extend([
                "vg_openat_exit",
                "vg_openat2_exit",
                "vg_open_exit",
                "vg_creat_exit",
            ]);
        }
        if !on(self.module_load) {
            skip.push("vg_sys_enter");
        }
        if !(on(self.ransomware) && self.ransomware_entropy) {
            // Every write(2) of the machine: only for the entropy samples.
            skip.extend(["vg_write", "vg_pwrite64"]);
        }
        skip
    }

    /// Whether any rule needs the kernel programs (the fanotify rules need their open
    /// flags).
    pub fn any_kernel_rule(&self) -> bool {
        RULES.iter().any(|r| self.mode(r.key) != AsrMode::Off)
    }

    pub fn validate(&self) -> Result<(), String> {
        for (key, list) in [
            ("asr.exclude_processes", &self.exclude_processes),
            ("asr.servers", &self.servers),
            ("asr.documents", &self.documents),
            ("asr.debuggers", &self.debuggers),
            ("asr.downloaders", &self.downloaders),
            ("asr.package_managers", &self.package_managers),
            ("asr.credential_allow", &self.credential_allow),
            ("asr.persistence_allow", &self.persistence_allow),
        ] {
            // The two allow lists of the fanotify rules also take exact program paths.
            let paths_ok = key.ends_with("_allow");
            if let Some(n) = list.iter().find(|n| {
                let path = paths_ok && n.starts_with('/');
                !path && (n.is_empty() || n.len() > 15 || n.contains('/'))
            }) {
                let what = if paths_ok {
                    "a program name of 1 to 15 bytes without '/' (the kernel's comm) or an absolute program path"
                } else {
                    "a process name of 1 to 15 bytes without '/' (the kernel's comm)"
                };
                return Err(format!("{key} entry {n:?} must be {what}"));
            }
        }
        if self.preload_paths.len() > kernel_watch_slots() {
            return Err(format!(
                "asr.preload_paths holds {} paths; at most {} are watched",
                self.preload_paths.len(),
                kernel_watch_slots()
            ));
        }
        for p in &self.preload_paths {
            let text = p.to_string_lossy();
            if !p.is_absolute() || text.len() >= 64 {
                return Err(format!(
                    "asr.preload_paths entry {p:?} must be an absolute path shorter than 64 bytes"
                ));
            }
        }
        for (key, list) in [
            ("asr.credential_paths", &self.credential_paths),
            ("asr.persistence_paths", &self.persistence_paths),
        ] {
            if let Some(p) = list
                .iter()
                .find(|p| !(p.starts_with('/') || p.starts_with("~/")))
            {
                return Err(format!(
                    "{key} entry {p:?} must be an absolute path or start with \"~/\""
                ));
            }
        }
        if self.ransomware_threshold == 0 || !(1..=3600).contains(&self.ransomware_window_secs) {
            return Err(format!(
                "asr.ransomware_threshold must be at least 1 and asr.ransomware_window_secs from 1 to 3600, not {} and {}",
                self.ransomware_threshold, self.ransomware_window_secs
            ));
        }
        Ok(())
    }
}

fn kernel_watch_slots() -> usize {
    crate::tamper::kernel::WATCH_SLOTS
}

/// What `vigil-agent status` shows of ASR.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AsrStatus {
    /// `rule: mode (enforcement)` per rule.
    pub rules: Vec<String>,
    pub detail: String,
    /// The fanotify file rules: opens decided, matched (reported) and refused; marks.
    #[serde(default)]
    pub file_events: u64,
    #[serde(default)]
    pub file_matches: u64,
    #[serde(default)]
    pub file_denials: u64,
    #[serde(default)]
    pub file_marks: u64,
    /// module_load: packaged module files allowed.
    #[serde(default)]
    pub packaged_modules: u64,
}

/// Write the rule modes and the process roles into the kernel maps.
pub fn configure(cfg: &AsrConfig, maps: &GuardMaps, hooks: &[HookState]) -> AsrStatus {
    let mut errors = Vec::new();
    let mut roles: Vec<(&str, u32)> = Vec::new();
    roles.extend(SERVERS.iter().map(|n| (*n, ROLE_SERVER)));
    roles.extend(cfg.servers.iter().map(|n| (n.as_str(), ROLE_SERVER)));
    roles.extend(SHELLS.iter().map(|n| (*n, ROLE_SHELL)));
    roles.extend(INTERPRETERS.iter().map(|n| (*n, ROLE_INTERP)));
    roles.extend(DOCUMENTS.iter().map(|n| (*n, ROLE_DOCUMENT)));
    roles.extend(cfg.documents.iter().map(|n| (n.as_str(), ROLE_DOCUMENT)));
    roles.extend(DEBUGGERS.iter().map(|n| (*n, ROLE_DEBUGGER)));
    roles.extend(cfg.debuggers.iter().map(|n| (n.as_str(), ROLE_DEBUGGER)));
    roles.extend(
        cfg.exclude_processes
            .iter()
            .map(|n| (n.as_str(), ROLE_EXCLUDED)),
    );
    roles.extend(DOWNLOADERS.iter().map(|n| (*n, ROLE_DOWNLOADER)));
    roles.extend(
        cfg.downloaders
            .iter()
            .map(|n| (n.as_str(), ROLE_DOWNLOADER)),
    );
    roles.extend(PACKAGE_MANAGERS.iter().map(|n| (*n, ROLE_PACKAGER)));
    roles.extend(
        cfg.package_managers
            .iter()
            .map(|n| (n.as_str(), ROLE_PACKAGER)),
    );
    if cfg.ransomware != AsrMode::Off {
        if let Err(e) = maps.set_change_limit(
            cfg.ransomware_threshold,
            Duration::from_secs(cfg.ransomware_window_secs),
            cfg.ransomware_entropy.then_some(RANSOMWARE_ENTROPY_BITS),
        ) {
            errors.push(e);
        }
    }
    for (name, role) in roles {
        if let Err(e) = maps.add_role(name, role) {
            errors.push(e);
        }
    }
    let mut rules = Vec::new();
    for r in &RULES {
        let mode = cfg.mode(r.key);
        let attached = hooks.iter().any(|h| h.name == r.program && h.attached);
        let how = if mode == AsrMode::Off {
            "off".to_string()
        } else if !attached {
            format!(
                "{} (not enforced: {} did not attach)",
                mode.as_str(),
                r.program
            )
        } else {
            match maps.set_rule_mode(u32::from(r.index), mode.kernel()) {
                Ok(()) => format!("{} ({})", mode.as_str(), r.rung.describe()),
                Err(e) => {
                    errors.push(e);
                    format!("{} (not enforced)", mode.as_str())
                }
            }
        };
        rules.push(format!("{}: {how}", r.key));
    }
    AsrStatus {
        rules,
        detail: if errors.is_empty() {
            "kernel rules loaded".into()
        } else {
            errors.join("; ")
        },
        ..Default::default()
    }
}

/// The row of an ASR record, with the pid of the process that did it.
pub fn row(cfg: &AsrConfig, rec: &GuardRecord) -> Option<(Row, Option<u32>)> {
    let GuardRecord::Asr {
        rule,
        actor,
        killed,
        target,
        request,
        path,
        op,
        file,
        writer_comm,
        ..
    } = rec
    else {
        return None;
    };
    let r = RULES.iter().find(|r| r.index == *rule)?;
    let mode = cfg.mode(r.key);
    let (suffix, action) = match (killed, mode) {
        (true, _) => ("Blocked", "Blocked"),
        (false, AsrMode::Warn) => ("Audited", "Warned"),
        _ => ("Audited", "Audited"),
    };
    let mut row = mde_event(
        &format!("Asr{}{suffix}", r.name),
        "AntivirusDetection",
        Timestamp::now(),
    );
    row.put(Col::InitiatingProcessId, i64::from(actor.pid));
    row.put(Col::InitiatingProcessFileName, actor.comm.as_str());
    row.put(Col::InitiatingProcessParentId, i64::from(actor.ppid));
    row.put(
        Col::InitiatingProcessParentFileName,
        actor.parent_comm.as_str(),
    );
    if !path.is_empty() {
        row.put(Col::FolderPath, path.as_str());
        row.put(Col::FileName, path.rsplit('/').next().unwrap_or(path));
    }
    match r.key {
        "ptrace" if *target != 0 => {
            row.put_extra("TargetProcessId", i64::from(*target));
            row.put_extra("Request", i64::from(*request));
        }
        "downloaded_exec" => {
            row.put_extra("WriterProcessId", i64::from(*target));
            row.put_extra("WriterProcessName", writer_comm.as_str());
        }
        "ransomware" => row.put_extra("FilesChanged", i64::from(*target)),
        _ => {}
    }
    if let Some((dev, ino)) = file {
        row.put_extra("FileDevice", i64::from(*dev));
        row.put_extra("FileInode", *ino as i64);
    }
    row.put_extra("Operation", op.as_str());
    // How the rule acted: at exec the program never ran; at a call the call itself ran.
    if *killed {
        row.put_extra(
            "Enforcement",
            match op {
                AsrOp::Exec if r.rung == Rung::KillAtExec => "KilledAtExec",
                _ => "KilledAtCall",
            },
        );
    }
    row.put_extra("DetectionSource", "AttackSurfaceReduction");
    row.put_extra("RuleId", r.key);
    row.put_extra("Mode", mode.as_str());
    row.put_extra("Action", action);
    row.put_extra("AccountUid", i64::from(actor.uid));
    Some((row, Some(actor.pid)))
}

/// The lines `vigil-agent status` prints.
pub fn status_lines(s: &AsrStatus) -> Vec<String> {
    let mut out = vec![format!("asr        {}", s.detail)];
    out.extend(s.rules.iter().map(|r| format!("  {r}")));
    if s.file_marks > 0 || s.file_events > 0 {
        out.push(format!(
            "  file rules: {} marks, {} opens decided, {} matched, {} refused",
            s.file_marks, s.file_events, s.file_matches, s.file_denials
        ));
    }
    if s.packaged_modules > 0 {
        out.push(format!(
            "  module_load: {} packaged module files allowed",
            s.packaged_modules
        ));
    }
    out
}

#[cfg(test)]
mod tests;
