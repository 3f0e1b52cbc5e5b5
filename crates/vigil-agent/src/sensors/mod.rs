//! Sensors: where telemetry comes from.
//!
//! - `ebpf`: the kernel programs of `src/bpf/sensors.bpf.c` (process, file, network, security)
//!   and their ring buffer, decoded by `decode` into `event::SensorEvent`s;
//! - `dns`: DNS responses seen by a packet socket with the eBPF socket filter attached;
//! - `logon`: logons, logoffs and failures from the utmp family;
//! - `procfs`: the process snapshot at start and the process fallback when eBPF cannot load;
//! - `fanotify`: the file fallback (close after write) when eBPF cannot load.

pub mod bpf;
pub mod decode;
pub mod dns;
pub mod ebpf;
pub mod event;
pub mod fanotify;
pub mod logon;
pub mod procfs;
pub mod sensitive;

use std::sync::atomic::AtomicU64;

use event::{SensorEvent, Source};
use vigil_schema::Timestamp;

/// The outcome of attaching one hook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookStatus {
    /// Program name in sensors.bpf.c.
    pub name: String,
    /// Where it attaches (its ELF section: `tracepoint/syscalls/sys_enter_write`, ...).
    pub hook: String,
    pub source: Source,
    pub attached: bool,
    pub error: Option<String>,
}

/// Counters shared by the sensor threads and the health reporter.
#[derive(Debug, Default)]
pub struct SensorStats {
    /// Ring-buffer records received.
    pub records: AtomicU64,
    /// Records that could not be decoded.
    pub malformed: AtomicU64,
    /// Records the kernel could not queue because the ring buffer was full.
    pub kernel_ringbuf_full: AtomicU64,
    /// Records filtered in the kernel (noisy filesystems, configured prefixes).
    pub kernel_filtered: AtomicU64,
    /// Syscall pairs lost because the in-flight map was full.
    pub kernel_pending_full: AtomicU64,
}

/// What the sensor threads send to the pipeline.
#[derive(Debug)]
pub enum Input {
    Sensor(SensorEvent),
    Dns(dns::DnsAnswer, Timestamp),
}
