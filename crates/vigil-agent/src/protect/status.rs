//! What `vigil-agent status` shows of protection: the rungs of the ladder, the programs and
//! marks in place, what is enforced, and the counters. Serialised into `status.json`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::protect::exec::{ExecCounters, MarkState};
use crate::protect::kernel::HookState;
use crate::protect::ladder::Probe;

/// Which mechanism enforces one kind of block.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rung {
    /// `cgroup-bpf`, `fanotify`, or `none`.
    pub rung: String,
    pub detail: String,
}

/// The probes of the ladder.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LadderStatus {
    pub bpf_lsm: Probe,
    pub fanotify: Probe,
    pub cgroup_bpf: Probe,
}

/// What is enforced now.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndicatorStatus {
    /// Where the last set came from (`file:<path>`, `api`), if any.
    pub source: Option<String>,
    /// Sets applied so far.
    pub generation: u64,
    pub updated: Option<String>,
    /// Indicators in the last set, live ones, and those not enforced (expired, not
    /// blocking, URL or certificate).
    pub total: u64,
    pub live: u64,
    pub ignored: u64,
    pub blocked_networks: u64,
    /// Non-blocking networks inside blocked ones, and allow entries.
    pub exceptions: u64,
    pub blocked_domains: u64,
    /// Addresses blocked now because a blocked domain resolved to them.
    pub dns_addresses: u64,
    pub sha256: u64,
    pub sha1: u64,
    pub md5: u64,
    pub remediate: u64,
    pub next_expiry: Option<String>,
    /// How long the last indicators file took to read and index (ms).
    pub load_ms: Option<u64>,
    /// How long the last set took to apply: kernel state computed, diff written (ms).
    pub apply_ms: u64,
    /// Kernel updates that failed (a full map, say); they are retried with the next set.
    pub kernel_errors: u64,
    pub last_error: Option<String>,
}

/// The protection state shown by `vigil-agent status`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProtectionStatus {
    pub enabled: bool,
    pub network: Rung,
    pub exec: Rung,
    pub ladder: LadderStatus,
    /// The network programs and whether each attached.
    pub hooks: Vec<HookState>,
    pub exec_marks: MarkState,
    pub indicators: IndicatorStatus,
    pub network_counters: BTreeMap<String, u64>,
    pub exec_counters: ExecCounters,
    /// The application restriction in force (`restrict` response action), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exec_restriction: Option<String>,
    /// DNS answers whose addresses were blocked from user space (the racy path).
    pub dns_user_space_blocks: u64,
    /// Reports lost because the queue to the agent loop was full.
    pub reports_dropped: u64,
    /// Ring-buffer records that could not be decoded.
    pub malformed_records: u64,
}

/// Protection status lines for `vigil-agent status` (text form).
pub fn status_lines(s: &ProtectionStatus) -> Vec<String> {
    let mut out = Vec::new();
    if !s.enabled {
        out.push("protection off (protection.enabled is false)".into());
        return out;
    }
    out.push(format!(
        "protection network: {} ({})",
        s.network.rung, s.network.detail
    ));
    out.push(format!(
        "protection exec:    {} ({})",
        s.exec.rung, s.exec.detail
    ));
    out.push(format!(
        "ladder     bpf-lsm {}; fanotify {}; cgroup-bpf {}",
        yes_no(&s.ladder.bpf_lsm),
        yes_no(&s.ladder.fanotify),
        yes_no(&s.ladder.cgroup_bpf)
    ));
    let i = &s.indicators;
    out.push(format!(
        "indicators {} live of {} (source {}, generation {}): {} networks, {} domains ({} addresses now), {} SHA-256, {} SHA-1, {} MD5 blocked{}",
        i.live,
        i.total,
        i.source.as_deref().unwrap_or("none"),
        i.generation,
        i.blocked_networks,
        i.blocked_domains,
        i.dns_addresses,
        i.sha256,
        i.sha1,
        i.md5,
        i.last_error.as_deref().map(|e| format!("; last error: {e}")).unwrap_or_default()
    ));
    let c = &s.exec_counters;
    out.push(format!(
        "exec       {} on {} filesystems: {} events, {} blocked, {} cache hits, {} hashed, {} allowed past the deadline, {} too large",
        if s.exec_marks.armed { "armed" } else { "idle" },
        s.exec_marks.marked.len(),
        c.events,
        c.blocked,
        c.cache_hits,
        c.hashed,
        c.timeouts,
        c.too_large
    ));
    if let Some(r) = &s.exec_restriction {
        out.push(format!(
            "restricted only allowed executables may run ({r}); {} execs refused",
            c.restricted
        ));
    }
    let n = |k: &str| s.network_counters.get(k).copied().unwrap_or(0);
    out.push(format!(
        "network    {} connects and {} sends refused, {} inbound and {} outbound packets dropped, {} DNS answers blocked",
        n("connect_refused"),
        n("sendmsg_refused"),
        n("inbound_dropped"),
        n("outbound_dropped"),
        n("dns_answers_blocked")
    ));
    out
}

fn yes_no(p: &Probe) -> String {
    if p.available {
        "yes".into()
    } else {
        format!("no ({})", p.detail)
    }
}
