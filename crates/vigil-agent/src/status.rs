//! The status file (`<state_dir>/status.json`) that a running agent keeps current and that
//! `vigil-agent status` reads: hooks, mode, counters, protection, response actions.

use std::path::Path;
use std::sync::atomic::Ordering;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::sensors::{HookStatus, SensorStats};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct HookReport {
    pub name: String,
    pub hook: String,
    pub source: String,
    pub attached: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct StatusCounters {
    pub kernel_records: u64,
    pub malformed_records: u64,
    pub kernel_ring_buffer_full: u64,
    pub kernel_filtered: u64,
    pub kernel_pending_full: u64,
    pub rows_written: u64,
    pub processes_tracked: u64,
}

impl StatusCounters {
    pub fn read(stats: &SensorStats, rows_written: u64, processes: u64) -> StatusCounters {
        StatusCounters {
            kernel_records: stats.records.load(Ordering::Relaxed),
            malformed_records: stats.malformed.load(Ordering::Relaxed),
            kernel_ring_buffer_full: stats.kernel_ringbuf_full.load(Ordering::Relaxed),
            kernel_filtered: stats.kernel_filtered.load(Ordering::Relaxed),
            kernel_pending_full: stats.kernel_pending_full.load(Ordering::Relaxed),
            rows_written,
            processes_tracked: processes,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Status {
    pub state: String,
    pub pid: u32,
    pub version: String,
    pub started: String,
    pub device_id: String,
    pub device_name: String,
    pub mode: String,
    pub dns: String,
    pub output: String,
    #[serde(with = "hooks_serde")]
    pub hooks: Vec<HookStatus>,
    pub counters: StatusCounters,
    /// The server uplink, when events go to a server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uplink: Option<serde_json::Value>,
    /// Enforcement: the ladder's rungs, what is attached and enforced, counters.
    #[serde(default)]
    pub protection: Option<crate::protect::ProtectionStatus>,
    /// Response actions: isolation and restriction in force, actions run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub respond: Option<crate::respond::RespondStatus>,
    /// Next-generation protection: real-time scanning, engine and rules, counters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub antivirus: Option<crate::av::AvStatus>,
    /// Tamper protection: supervisor, file guard, kill reports, maintenance mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tamper: Option<crate::tamper::TamperStatus>,
    /// Attack surface reduction rules and their enforcement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asr: Option<crate::asr::AsrStatus>,
}

mod hooks_serde {
    use super::*;
    use crate::sensors::event::Source;

    pub fn serialize<S: serde::Serializer>(hooks: &[HookStatus], s: S) -> Result<S::Ok, S::Error> {
        let list: Vec<HookReport> = hooks
            .iter()
            .map(|h| HookReport {
                name: h.name.clone(),
                hook: h.hook.clone(),
                source: h.source.name().into(),
                attached: h.attached,
                error: h.error.clone(),
            })
            .collect();
        list.serialize(s)
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(
        d: D,
    ) -> Result<Vec<HookStatus>, D::Error> {
        let list = Vec::<HookReport>::deserialize(d)?;
        Ok(list
            .into_iter()
            .map(|h| HookStatus {
                source: Source::ALL
                    .into_iter()
                    .find(|s| s.name() == h.source)
                    .unwrap_or(Source::Process),
                name: h.name,
                hook: h.hook,
                attached: h.attached,
                error: h.error,
            })
            .collect())
    }
}

impl Status {
    pub fn path(state_dir: &Path) -> std::path::PathBuf {
        state_dir.join("status.json")
    }

    /// Write atomically (temporary file, then rename).
    pub fn write(&self, state_dir: &Path) -> Result<()> {
        let path = Status::path(state_dir);
        let tmp = state_dir.join("status.json.tmp");
        let text = serde_json::to_string_pretty(self).context("cannot encode the status")?;
        std::fs::write(&tmp, text).with_context(|| format!("cannot write {}", tmp.display()))?;
        std::fs::rename(&tmp, &path)
            .with_context(|| format!("cannot replace {}", path.display()))?;
        Ok(())
    }

    pub fn read(state_dir: &Path) -> Result<Status> {
        let path = Status::path(state_dir);
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "cannot read {} (has the agent run with this state dir?)",
                path.display()
            )
        })?;
        serde_json::from_str(&text)
            .with_context(|| format!("{} is not a valid status file", path.display()))
    }
}
