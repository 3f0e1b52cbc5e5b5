//! The rows next-generation protection, ASR and tamper protection report, and the bounded
//! queue they wait in until the agent loop hands them to `Pipeline::protection` (which fills
//! the initiating process from the pid and stamps the device columns).
//!
//! - `AntivirusDetection`: FileName, FolderPath, FileSize, SHA256, `AdditionalFields`
//!   {ThreatName, Rule, Severity, Action (Blocked, Quarantined, Audited, Detected), Trigger
//!   (Open, Exec, Write), DetectionSource "RealTimeProtection", VerdictSource (cache, scan),
//!   Object, QuarantineId};
//! - `AntivirusScanFailed`: an open or exec allowed (or refused by `fail_closed`) without a
//!   verdict, with `AdditionalFields` {Reason, Action}.
//! - [`mde_event`]: a `DeviceEvents` row for an MDE ActionType (`AsrUntrustedExecutableBlocked`,
//!   `TamperingAttempt`, ...): when the schema lists it (the ASR and tampering names are
//!   listed), it is the row's ActionType; otherwise the row is written with a fallback type
//!   that the schema has and carries the MDE name in `AdditionalFields.MdeActionType`.
//!
//! **Invariant:** the queue is bounded; what does not fit is counted, never blocks a
//! permission event.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use vigil_schema::{Col, Row, Table, Timestamp};

use crate::av::cache::Threat;
use crate::protect::report::ProcSnapshot;

/// Rows waiting for the agent loop, each with the pid whose process initiated it.
#[derive(Debug, Default)]
pub struct RowQueue {
    queue: Mutex<VecDeque<(Row, Option<u32>)>>,
    dropped: AtomicU64,
}

const MAX_QUEUED: usize = 10_000;

impl RowQueue {
    pub fn push(&self, row: Row, pid: Option<u32>) {
        let mut q = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        if q.len() >= MAX_QUEUED {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        } else {
            q.push_back((row, pid));
        }
    }

    pub fn take(&self) -> Vec<(Row, Option<u32>)> {
        self.queue
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain(..)
            .collect()
    }

    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// A `DeviceEvents` row named `mde` when the schema lists it, else `fallback` with
/// `AdditionalFields.MdeActionType = mde`.
pub fn mde_event(mde: &str, fallback: &str, at: Timestamp) -> Row {
    if Table::DeviceEvents.action_types().contains(&mde) {
        Row::event(Table::DeviceEvents, mde, at)
    } else {
        let mut row = Row::event(Table::DeviceEvents, fallback, at);
        row.put_extra("MdeActionType", mde);
        row
    }
}

pub(crate) fn base_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// Fill the file columns and the initiating process as `/proc` showed it.
pub(crate) fn put_file(row: &mut Row, path: &str, size: u64, pid: Option<u32>, p: &ProcSnapshot) {
    row.put(Col::FileName, base_name(path));
    row.put(Col::FolderPath, path);
    row.put(Col::FileSize, size as i64);
    if let Some(pid) = pid {
        row.put(Col::InitiatingProcessId, i64::from(pid));
        if !p.exe.is_empty() {
            row.put(Col::InitiatingProcessFolderPath, p.exe.as_str());
            row.put(Col::InitiatingProcessFileName, base_name(&p.exe));
        }
        if !p.cmdline.is_empty() {
            row.put(Col::InitiatingProcessCommandLine, p.cmdline.as_str());
        }
    }
}

/// What an on-access detection led to.
#[derive(Debug, Clone, PartialEq)]
pub struct Detected<'a> {
    pub path: &'a str,
    pub size: u64,
    pub pid: Option<u32>,
    pub process: &'a ProcSnapshot,
    pub threat: &'a Threat,
    /// `Blocked`, `Quarantined`, `Audited`, `Detected`.
    pub action: &'a str,
    /// `Open`, `Exec`, `Write`.
    pub trigger: &'a str,
    pub cached: bool,
    pub quarantine_id: Option<&'a str>,
    pub error: Option<&'a str>,
}

pub fn detection_row(d: &Detected<'_>) -> Row {
    let mut row = Row::event(Table::DeviceEvents, "AntivirusDetection", Timestamp::now());
    put_file(&mut row, d.path, d.size, d.pid, d.process);
    if let Some(sha) = &d.threat.sha256 {
        row.put(Col::SHA256, sha.as_str());
    }
    row.put_extra("ThreatName", d.threat.name.as_str());
    row.put_extra("Rule", d.threat.rule.as_str());
    row.put_extra("Severity", d.threat.severity.as_str());
    row.put_extra("Object", d.threat.object.as_str());
    row.put_extra("Action", d.action);
    row.put_extra("Trigger", d.trigger);
    row.put_extra("DetectionSource", "RealTimeProtection");
    row.put_extra("VerdictSource", if d.cached { "cache" } else { "scan" });
    if let Some(id) = d.quarantine_id {
        row.put_extra("QuarantineId", id);
    }
    if let Some(e) = d.error {
        row.put_extra("Error", e);
    }
    row
}

/// An open or exec decided without a verdict.
pub fn scan_failed_row(
    path: &str,
    size: u64,
    pid: u32,
    process: &ProcSnapshot,
    reason: &str,
    allowed: bool,
) -> Row {
    let mut row = Row::event(Table::DeviceEvents, "AntivirusScanFailed", Timestamp::now());
    put_file(&mut row, path, size, Some(pid), process);
    row.put_extra("Reason", reason);
    row.put_extra("Action", if allowed { "Allowed" } else { "Blocked" });
    row.put_extra("DetectionSource", "RealTimeProtection");
    row
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detection_rows_carry_the_threat_and_the_action() {
        let t = Threat {
            name: "Virus/EICAR_Test_File".into(),
            rule: "Vigil_EICAR_Test_File".into(),
            severity: "low".into(),
            object: "/tmp/x".into(),
            sha256: Some("ab".repeat(32)),
        };
        let p = ProcSnapshot {
            exe: "/usr/bin/cat".into(),
            cmdline: "cat /tmp/x".into(),
        };
        let row = detection_row(&Detected {
            path: "/tmp/x",
            size: 68,
            pid: Some(7),
            process: &p,
            threat: &t,
            action: "Quarantined",
            trigger: "Open",
            cached: false,
            quarantine_id: Some("00ff"),
            error: None,
        });
        assert_eq!(row.action_type(), "AntivirusDetection");
        assert_eq!(row.get_str(Col::FileName), Some("x"));
        assert_eq!(row.get_str(Col::InitiatingProcessFileName), Some("cat"));
        let extra = row.extra().unwrap().to_json();
        for want in [
            r#""ThreatName":"Virus/EICAR_Test_File""#,
            r#""Action":"Quarantined""#,
            r#""Trigger":"Open""#,
            r#""QuarantineId":"00ff""#,
        ] {
            assert!(extra.contains(want), "{extra} lacks {want}");
        }
        let row = scan_failed_row("/tmp/y", 1, 3, &p, "scan deadline", true);
        assert_eq!(row.action_type(), "AntivirusScanFailed");
        assert!(row.extra().unwrap().to_json().contains("scan deadline"));
    }

    #[test]
    fn unknown_mde_action_types_fall_back_and_keep_their_name() {
        let row = mde_event("AntivirusReport", "AntivirusDetection", Timestamp::now());
        assert_eq!(row.action_type(), "AntivirusReport");
        let row = mde_event("TamperingAttempt", "AntivirusReport", Timestamp::now());
        assert_eq!(row.action_type(), "TamperingAttempt");
        assert!(row
            .extra()
            .is_none_or(|e| !e.to_json().contains("MdeActionType")));
        let row = mde_event("VigilNoSuchActionType", "AntivirusReport", Timestamp::now());
        assert_eq!(row.action_type(), "AntivirusReport");
        assert!(row
            .extra()
            .unwrap()
            .to_json()
            .contains(r#""MdeActionType":"VigilNoSuchActionType""#));
    }

    #[test]
    fn the_queue_is_bounded() {
        let q = RowQueue::default();
        for _ in 0..MAX_QUEUED + 3 {
            q.push(
                mde_event("AntivirusReport", "AntivirusReport", Timestamp::now()),
                None,
            );
        }
        assert_eq!(q.dropped(), 3);
        assert_eq!(q.take().len(), MAX_QUEUED);
    }
}
