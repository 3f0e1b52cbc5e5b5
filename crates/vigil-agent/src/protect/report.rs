//! What protection reports, and the `DeviceEvents` rows it becomes.
//!
//! - a refused connection, datagram or packet: `ExploitGuardNetworkProtectionBlocked` with
//!   RemoteIP/RemotePort (LocalIP/LocalPort for packets), RemoteUrl when the address came
//!   from a blocked domain, and `AdditionalFields` {IndicatorId, IndicatorTitle,
//!   IndicatorValue, Direction, Hook, Protocol, BlockCount, ResponseCategory};
//! - a refused exec, or a process killed for `BlockAndRemediate`: `AntivirusDetection` with
//!   FileName/FolderPath/SHA256 (SHA1, MD5 when computed) and `AdditionalFields` {ThreatName
//!   "Indicator:<title>", IndicatorId, Action, Remediation};
//! - an exec allowed without a verdict (deadline, size, queue): `AntivirusScanFailed`;
//! - an exec refused by the application restriction (`restrict` response action):
//!   `AntivirusDetection` with `AdditionalFields` {Action "Blocked", DetectionSource
//!   "ApplicationRestriction", Reason} (MDE's `AppControlExecutableBlocked` is not in the
//!   schema's action types).
//!
//! The initiating process is filled by the pipeline from its process table (rows carry the
//! pid); what was read from `/proc` when the event happened is there for processes the table
//! does not know.
//!
//! **Invariant:** the queue is bounded; what does not fit is counted and reported as dropped.

use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use vigil_intel::Action;
use vigil_schema::{Col, Row, Table, Timestamp};

use crate::protect::decode::Direction;

/// The indicator behind a block, as far as the agent still knows it.
#[derive(Debug, Clone, PartialEq)]
pub struct IndicatorInfo {
    pub id: u64,
    pub title: String,
    pub value: String,
    pub action: Action,
}

/// The process that did it, read from `/proc` when it happened.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProcSnapshot {
    pub exe: String,
    pub cmdline: String,
}

impl ProcSnapshot {
    /// Read `/proc/<pid>/exe` and `cmdline` now; empty fields when they cannot be read.
    pub fn read(pid: u32) -> ProcSnapshot {
        let exe = std::fs::read_link(format!("/proc/{pid}/exe"))
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        ProcSnapshot::with_exe(pid, exe)
    }

    /// The snapshot of `pid` whose program path the caller has already read.
    pub fn with_exe(pid: u32, exe: String) -> ProcSnapshot {
        let raw = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let args: Vec<String> = raw
            .split(|&b| b == 0)
            .filter(|a| !a.is_empty())
            .take(256)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        ProcSnapshot {
            exe,
            cmdline: crate::proctable::command_line(&args),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct NetReport {
    pub at: Timestamp,
    pub pid: Option<u32>,
    pub comm: String,
    pub direction: Direction,
    pub protocol: u8,
    pub remote: IpAddr,
    pub remote_port: u16,
    pub local: Option<(IpAddr, u16)>,
    pub indicator: IndicatorInfo,
    /// The blocked domain, when the address came from a DNS answer.
    pub domain: Option<String>,
    pub count: u64,
}

/// What happened to an executable.
#[derive(Debug, Clone, PartialEq)]
pub enum ExecOutcome {
    /// The exec was refused.
    Blocked,
    /// A running process of that file was killed (`BlockAndRemediate`).
    Killed { pid: u32, cmdline: String },
    /// The verdict came after the deadline: the exec was allowed, then found to be blocked.
    DetectedTooLate,
    /// Allowed without a verdict.
    Unscanned { reason: &'static str },
    /// Refused by the application restriction.
    Restricted { reason: &'static str },
}

#[derive(Debug, Clone, PartialEq)]
pub struct ExecReport {
    pub at: Timestamp,
    /// The process that called execve (for `Killed`: none).
    pub pid: Option<u32>,
    pub process: ProcSnapshot,
    pub path: String,
    pub sha256: Option<String>,
    pub sha1: Option<String>,
    pub md5: Option<String>,
    pub size: u64,
    pub outcome: ExecOutcome,
    pub indicator: Option<IndicatorInfo>,
    /// Whether the verdict came from the digest cache (no hashing).
    pub cached: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Report {
    Net(NetReport),
    Exec(ExecReport),
}

fn protocol_name(p: u8) -> String {
    match p {
        6 => "Tcp".into(),
        17 => "Udp".into(),
        1 => "Icmp".into(),
        58 => "Icmpv6".into(),
        0 => "Unknown".into(),
        n => format!("Ip{n}"),
    }
}

fn base_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

impl Report {
    /// The process the row's `InitiatingProcess*` columns describe.
    pub fn pid(&self) -> Option<u32> {
        match self {
            Report::Net(n) => n.pid,
            Report::Exec(e) => e.pid,
        }
    }

    /// The row, without device columns (the pipeline stamps them) and with the initiating
    /// process as far as `/proc` told when it happened.
    pub fn row(&self) -> Row {
        match self {
            Report::Net(n) => net_row(n),
            Report::Exec(e) => exec_row(e),
        }
    }
}

fn net_row(n: &NetReport) -> Row {
    let mut row = Row::event(
        Table::DeviceEvents,
        "ExploitGuardNetworkProtectionBlocked",
        n.at,
    );
    row.put(Col::RemoteIP, n.remote.to_string());
    row.put(Col::RemotePort, i32::from(n.remote_port));
    if let Some((ip, port)) = n.local {
        row.put(Col::LocalIP, ip.to_string());
        row.put(Col::LocalPort, i32::from(port));
    }
    if let Some(d) = &n.domain {
        row.put(Col::RemoteUrl, d.as_str());
    }
    if let Some(pid) = n.pid {
        row.put(Col::InitiatingProcessId, i64::from(pid));
        if !n.comm.is_empty() {
            row.put(Col::InitiatingProcessFileName, n.comm.as_str());
        }
    }
    row.put_extra("IndicatorId", n.indicator.id);
    row.put_extra("IndicatorTitle", n.indicator.title.as_str());
    row.put_extra("IndicatorValue", n.indicator.value.as_str());
    row.put_extra("IndicatorAction", n.indicator.action.as_str());
    row.put_extra("Direction", n.direction.mde());
    row.put_extra("Hook", n.direction.hook());
    row.put_extra("Protocol", protocol_name(n.protocol));
    row.put_extra("BlockCount", n.count);
    row.put_extra("ResponseCategory", "CustomBlockList");
    row
}

fn exec_row(e: &ExecReport) -> Row {
    let action = match e.outcome {
        ExecOutcome::Unscanned { .. } => "AntivirusScanFailed",
        _ => "AntivirusDetection",
    };
    let mut row = Row::event(Table::DeviceEvents, action, e.at);
    row.put(Col::FileName, base_name(&e.path));
    row.put(Col::FolderPath, e.path.as_str());
    row.put(Col::FileSize, e.size as i64);
    for (col, v) in [
        (Col::SHA256, &e.sha256),
        (Col::SHA1, &e.sha1),
        (Col::MD5, &e.md5),
    ] {
        if let Some(v) = v {
            row.put(col, v.as_str());
        }
    }
    if let Some(pid) = e.pid {
        row.put(Col::InitiatingProcessId, i64::from(pid));
        if !e.process.exe.is_empty() {
            row.put(Col::InitiatingProcessFolderPath, e.process.exe.as_str());
            row.put(Col::InitiatingProcessFileName, base_name(&e.process.exe));
        }
        if !e.process.cmdline.is_empty() {
            row.put(
                Col::InitiatingProcessCommandLine,
                e.process.cmdline.as_str(),
            );
        }
    }
    if !matches!(e.outcome, ExecOutcome::Unscanned { .. }) {
        row.put_extra("VerdictSource", if e.cached { "cache" } else { "scan" });
    }
    if let Some(ind) = &e.indicator {
        row.put_extra("ThreatName", format!("Indicator:{}", ind.title));
        row.put_extra("IndicatorId", ind.id);
        row.put_extra("IndicatorValue", ind.value.as_str());
        row.put_extra("DetectionSource", "Indicator");
    }
    match &e.outcome {
        ExecOutcome::Blocked => row.put_extra("Action", "Blocked"),
        ExecOutcome::Killed { pid, cmdline } => {
            row.put_extra("Action", "Killed");
            row.put(Col::ProcessId, i64::from(*pid));
            row.put(Col::ProcessCommandLine, cmdline.as_str());
        }
        ExecOutcome::DetectedTooLate => {
            row.put_extra("Action", "Allowed");
            row.put_extra("Reason", "verdict after the scan deadline");
        }
        ExecOutcome::Unscanned { reason } => {
            row.put_extra("Action", "Allowed");
            row.put_extra("Reason", *reason);
        }
        ExecOutcome::Restricted { reason } => {
            row.put_extra("Action", "Blocked");
            row.put_extra("DetectionSource", "ApplicationRestriction");
            row.put_extra("Reason", *reason);
        }
    }
    if e.indicator
        .as_ref()
        .is_some_and(|i| i.action == Action::BlockAndRemediate)
    {
        row.put_extra("Remediation", "quarantine not supported yet");
    }
    row
}

/// Reports waiting for the agent loop. Bounded: past `MAX_QUEUED`, new reports are counted
/// as dropped.
#[derive(Debug, Default)]
pub struct Reports {
    queue: Mutex<VecDeque<Report>>,
    dropped: AtomicU64,
}

const MAX_QUEUED: usize = 10_000;

impl Reports {
    pub fn push(&self, r: Report) {
        let mut q = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        if q.len() >= MAX_QUEUED {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        } else {
            q.push_back(r);
        }
    }

    pub fn take(&self) -> Vec<Report> {
        let mut q = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        q.drain(..).collect()
    }

    /// Reports dropped so far because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(action: Action) -> IndicatorInfo {
        IndicatorInfo {
            id: 42,
            title: "bad thing".into(),
            value: "evil.example".into(),
            action,
        }
    }

    #[test]
    fn network_row_names_the_indicator_and_the_domain() {
        let r = Report::Net(NetReport {
            at: Timestamp::now(),
            pid: Some(77),
            comm: "curl".into(),
            direction: Direction::Connect,
            protocol: 6,
            remote: "192.0.2.7".parse().unwrap(),
            remote_port: 443,
            local: None,
            indicator: info(Action::Block),
            domain: Some("a.evil.example".into()),
            count: 1,
        });
        let row = r.row();
        assert_eq!(row.action_type(), "ExploitGuardNetworkProtectionBlocked");
        assert_eq!(row.get_str(Col::RemoteIP), Some("192.0.2.7"));
        assert_eq!(row.get_str(Col::RemoteUrl), Some("a.evil.example"));
        let extra = row.extra().unwrap().to_json();
        for want in [
            r#""IndicatorId":42"#,
            r#""Direction":"Outbound""#,
            r#""Hook":"connect""#,
            r#""Protocol":"Tcp""#,
        ] {
            assert!(extra.contains(want), "{extra} lacks {want}");
        }
        assert_eq!(r.pid(), Some(77));
    }

    #[test]
    fn exec_rows_by_outcome() {
        let mut e = ExecReport {
            at: Timestamp::now(),
            pid: Some(9),
            process: ProcSnapshot {
                exe: "/usr/bin/bash".into(),
                cmdline: "bash -c ./x".into(),
            },
            path: "/tmp/x".into(),
            sha256: Some("ab".repeat(32)),
            sha1: None,
            md5: None,
            size: 10,
            outcome: ExecOutcome::Blocked,
            indicator: Some(info(Action::BlockAndRemediate)),
            cached: true,
        };
        let row = Report::Exec(e.clone()).row();
        assert_eq!(row.action_type(), "AntivirusDetection");
        assert_eq!(row.get_str(Col::FileName), Some("x"));
        assert_eq!(row.get_str(Col::InitiatingProcessFileName), Some("bash"));
        let extra = row.extra().unwrap().to_json();
        assert!(
            extra.contains(r#""ThreatName":"Indicator:bad thing""#),
            "{extra}"
        );
        assert!(extra.contains(r#""Action":"Blocked""#), "{extra}");
        assert!(extra.contains("quarantine not supported yet"), "{extra}");
        assert!(extra.contains(r#""VerdictSource":"cache""#), "{extra}");
        e.outcome = ExecOutcome::Unscanned {
            reason: "scan deadline",
        };
        e.indicator = None;
        let row = Report::Exec(e).row();
        assert_eq!(row.action_type(), "AntivirusScanFailed");
        assert!(row.extra().unwrap().to_json().contains("scan deadline"));
    }

    #[test]
    fn the_queue_is_bounded_and_counts_drops() {
        let q = Reports::default();
        let r = Report::Exec(ExecReport {
            at: Timestamp::now(),
            pid: None,
            process: ProcSnapshot::default(),
            path: String::new(),
            sha256: None,
            sha1: None,
            md5: None,
            size: 0,
            outcome: ExecOutcome::Blocked,
            indicator: None,
            cached: false,
        });
        for _ in 0..MAX_QUEUED + 5 {
            q.push(r.clone());
        }
        assert_eq!(q.dropped(), 5);
        assert_eq!(q.take().len(), MAX_QUEUED);
        assert!(q.take().is_empty());
    }
}
