//! Attack surface reduction rules for Linux, enforced in the kernel by `guard.bpf.c` with
//! "SIGKILL from a tracepoint" (the ladder's rung on kernels without BPF LSM): the process
//! is killed when its new program is loaded, before its first instruction (exec rules), or
//! before the call runs (ptrace rules).
//!
//! | key | rule | hook |
//! |---|---|---|
//! | `world_writable_exec` | exec of a file whose directory is world-writable (`/tmp`, `/dev/shm`, `/var/tmp`) | tp_btf/sched_process_exec |
//! | `server_shell` | a web server or database (`servers`) spawning a shell | tp_btf/sched_process_exec |
//! | `document_interpreter` | a document or mail tool (`documents`) spawning a shell or interpreter | tp_btf/sched_process_exec |
//! | `ptrace` | ptrace attach/seize/poke or process_vm_writev by a non-debugger | sys_enter_ptrace, sys_enter_process_vm_writev |
//!
//! Modes: `off`, `audit` (report), `warn` (report; Linux has no user prompt, so it acts as
//! audit and is labelled `Warned`), `block` (kill and report). `exclude_processes` (process
//! names, 15 bytes as the kernel keeps them) are never matched, nor are the agent and its
//! supervisor. Process names are the kernel's `comm`: a renamed binary escapes the name
//! lists (the world-writable rule looks at the file, not the name).
//!
//! Rows are `DeviceEvents` named as MDE names ASR events (`Asr<Rule>Audited` /
//! `Asr<Rule>Blocked`) through `av::rows::mde_event`, which falls back to
//! `AntivirusDetection` with `MdeActionType` while `vigil-schema` lacks those names.

use serde::{Deserialize, Serialize};
use vigil_schema::{Col, Row, Timestamp};

use crate::av::rows::mde_event;
use crate::protect::kernel::HookState;
use crate::tamper::kernel::{GuardMaps, GuardRecord};

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
    /// Process names never matched by any rule.
    pub exclude_processes: Vec<String>,
    /// Added to the built-in lists of web servers and databases, document and mail tools,
    /// debuggers.
    pub servers: Vec<String>,
    pub documents: Vec<String>,
    pub debuggers: Vec<String>,
}

impl Default for AsrConfig {
    fn default() -> Self {
        AsrConfig {
            world_writable_exec: AsrMode::Off,
            server_shell: AsrMode::Off,
            document_interpreter: AsrMode::Off,
            ptrace: AsrMode::Off,
            exclude_processes: Vec::new(),
            servers: Vec::new(),
            documents: Vec::new(),
            debuggers: Vec::new(),
        }
    }
}

/// Built-in process names (the kernel's 15-byte `comm`).
const SERVERS: &[&str] = &[
    "nginx",
    "apache2",
    "httpd",
    "lighttpd",
    "caddy",
    "php-fpm",
    "php-fpm8.2",
    "php-cgi",
    "tomcat",
    "uwsgi",
    "gunicorn",
    "mysqld",
    "mariadbd",
    "postgres",
    "postmaster",
    "redis-server",
    "mongod",
    "memcached",
    "couchdb",
    "elasticsearch",
];
const SHELLS: &[&str] = &[
    "sh", "bash", "dash", "zsh", "ksh", "mksh", "csh", "tcsh", "fish", "busybox",
];
const INTERPRETERS: &[&str] = &[
    "python",
    "python2",
    "python3",
    "python3.9",
    "python3.10",
    "python3.11",
    "python3.12",
    "python3.13",
    "perl",
    "ruby",
    "node",
    "nodejs",
    "php",
    "lua",
    "tclsh",
    "wish",
    "osascript",
    "pwsh",
    "java",
];
const DOCUMENTS: &[&str] = &[
    "soffice.bin",
    "soffice",
    "libreoffice",
    "oosplash",
    "evince",
    "okular",
    "atril",
    "xpdf",
    "zathura",
    "thunderbird",
    "evolution",
    "mutt",
    "neomutt",
    "claws-mail",
    "geary",
    "abiword",
    "gnumeric",
];
const DEBUGGERS: &[&str] = &[
    "gdb", "lldb", "strace", "ltrace", "rr", "perf", "valgrind", "gcore",
];

// `enum vg_role` and `enum vg_rule` of guard.h.
const ROLE_SERVER: u32 = 1;
const ROLE_SHELL: u32 = 2;
const ROLE_DOCUMENT: u32 = 4;
const ROLE_INTERP: u32 = 8;
const ROLE_DEBUGGER: u32 = 16;
const ROLE_EXCLUDED: u32 = 32;

/// One rule: its kernel index, configuration key, MDE-style name and program.
struct Rule {
    index: u16,
    key: &'static str,
    name: &'static str,
    program: &'static str,
}

const RULES: [Rule; 4] = [
    Rule {
        index: 0,
        key: "world_writable_exec",
        name: "UntrustedExecutable",
        program: "vg_exec",
    },
    Rule {
        index: 1,
        key: "server_shell",
        name: "ServerShell",
        program: "vg_exec",
    },
    Rule {
        index: 2,
        key: "document_interpreter",
        name: "OfficeChildProcess",
        program: "vg_exec",
    },
    Rule {
        index: 3,
        key: "ptrace",
        name: "ProcessInjection",
        program: "vg_ptrace",
    },
];

impl AsrConfig {
    fn mode(&self, key: &str) -> AsrMode {
        match key {
            "world_writable_exec" => self.world_writable_exec,
            "server_shell" => self.server_shell,
            "document_interpreter" => self.document_interpreter,
            "ptrace" => self.ptrace,
            _ => AsrMode::Off,
        }
    }

    /// Whether any rule needs the kernel programs.
    pub fn any_kernel_rule(&self) -> bool {
        RULES.iter().any(|r| self.mode(r.key) != AsrMode::Off)
    }

    pub fn validate(&self) -> Result<(), String> {
        for (key, list) in [
            ("asr.exclude_processes", &self.exclude_processes),
            ("asr.servers", &self.servers),
            ("asr.documents", &self.documents),
            ("asr.debuggers", &self.debuggers),
        ] {
            if let Some(n) = list
                .iter()
                .find(|n| n.is_empty() || n.len() > 15 || n.contains('/'))
            {
                return Err(format!(
                    "{key} entry {n:?} must be a process name of 1 to 15 bytes without '/' (the kernel's comm)"
                ));
            }
        }
        Ok(())
    }
}

/// What `vigil-agent status` shows of ASR.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AsrStatus {
    /// `rule: mode (enforcement)` per rule.
    pub rules: Vec<String>,
    pub detail: String,
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
                Ok(()) => format!("{} (SIGKILL from a tracepoint)", mode.as_str()),
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
    if *target != 0 {
        row.put_extra("TargetProcessId", i64::from(*target));
        row.put_extra("Request", i64::from(*request));
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
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tamper::kernel::Actor;

    #[test]
    fn records_become_rows_by_mode() {
        let cfg = AsrConfig {
            server_shell: AsrMode::Warn,
            world_writable_exec: AsrMode::Block,
            ..Default::default()
        };
        let rec = |rule, killed| GuardRecord::Asr {
            boot_ns: 1,
            rule,
            actor: Actor {
                pid: 5,
                tid: 5,
                uid: 33,
                ppid: 4,
                comm: "sh".into(),
                parent_comm: "nginx".into(),
            },
            killed,
            target: 0,
            request: 0,
            path: "/bin/sh".into(),
        };
        let (row, pid) = row(&cfg, &rec(1, false)).unwrap();
        assert_eq!(pid, Some(5));
        let extra = row.extra().unwrap().to_json();
        assert!(extra.contains(r#""Action":"Warned""#), "{extra}");
        assert!(extra.contains("AsrServerShellAudited"), "{extra}");
        assert_eq!(
            row.get_str(Col::InitiatingProcessParentFileName),
            Some("nginx")
        );
        let (row, _) = row_of(&cfg, &rec(0, true));
        let extra = row.extra().unwrap().to_json();
        assert!(extra.contains("AsrUntrustedExecutableBlocked"), "{extra}");
        assert!(row_opt(&cfg, &rec(7, true)).is_none(), "unknown rule");
    }

    fn row_of(cfg: &AsrConfig, r: &GuardRecord) -> (Row, Option<u32>) {
        row(cfg, r).unwrap()
    }

    fn row_opt(cfg: &AsrConfig, r: &GuardRecord) -> Option<(Row, Option<u32>)> {
        row(cfg, r)
    }

    #[test]
    fn names_longer_than_comm_are_refused() {
        let bad = AsrConfig {
            servers: vec!["a-very-long-server-name".into()],
            ..Default::default()
        };
        assert!(bad.validate().unwrap_err().contains("asr.servers"));
        assert!(!AsrConfig::default().any_kernel_rule());
    }
}
