//! Loading, attaching and reading the eBPF sensors.
//!
//! Everything runs on one thread that owns the skeleton: it opens the object, writes the
//! settings into `.rodata`, loads it, attaches each program on its own (so that one missing
//! tracepoint costs one hook, not the sensor), reports which hooks attached, and then polls the
//! ring buffer until asked to stop. Records are decoded at once; malformed ones are counted.
//! The same thread keeps the `sensitive` map (files whose reads are reported) current.

use std::collections::BTreeSet;
use std::mem::MaybeUninit;
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::SyncSender;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use libbpf_rs::skel::{OpenSkel, Skel, SkelBuilder};
use libbpf_rs::{MapCore, MapFlags, RingBufferBuilder};

use crate::sensors::bpf::SensorsSkelBuilder;
use crate::sensors::decode::decode;
use crate::sensors::event::Source;
use crate::sensors::sensitive::{self, FileId};
use crate::sensors::{HookStatus, Input, SensorStats};

/// What the kernel side is told before load.
#[derive(Debug, Clone)]
pub struct EbpfOptions {
    /// Families to load; programs of other families are not loaded.
    pub sources: Vec<Source>,
    /// Path prefixes whose file events are dropped in the kernel (at most 8, 63 bytes each).
    pub exclude_prefixes: Vec<String>,
    /// Ring buffer size in bytes (a power of two, at least one page).
    pub ring_buffer_bytes: u32,
    /// Files whose opening for reading is reported (patterns, see `sensors::sensitive`).
    pub sensitive_files: Vec<String>,
}

/// The family of a program, by its name in sensors.bpf.c.
fn family(prog: &str) -> Source {
    const PROCESS: &[&str] = &["handle_exec", "handle_fork", "handle_exit"];
    const NETWORK: &[&str] = &["tcp_state", "accept", "sendto", "connect", "sendmsg"];
    const SECURITY: &[&str] = &[
        "ptrace",
        "setuid",
        "setreuid",
        "setresuid",
        "setgid",
        "setresgid",
        "bpf",
        "memfd",
        "module",
        "personality",
        "syslog",
        "mknod",
        "sysinfo",
        "cgroup_rmdir",
    ];
    if PROCESS.contains(&prog) {
        Source::Process
    } else if prog == "dns_filter" {
        Source::Dns
    } else if NETWORK.iter().any(|n| prog.contains(n)) {
        Source::Network
    } else if SECURITY.iter().any(|n| prog.contains(n)) {
        Source::Security
    } else {
        Source::File
    }
}

/// Messages from the sensor thread.
pub enum SensorMsg {
    /// Attachment is done; the hooks and their outcome. `dns_prog` is a duplicate of the DNS
    /// socket-filter program's fd, if it loaded.
    Ready {
        hooks: Vec<HookStatus>,
        dns_prog: Option<std::os::fd::OwnedFd>,
    },
    /// Loading failed as a whole (the caller falls back).
    Failed(String),
}

/// Run the eBPF sensors until `stop` is set. Decoded events go to `out`; progress to `status`.
pub fn run(
    opts: &EbpfOptions,
    out: SyncSender<Input>,
    status: SyncSender<SensorMsg>,
    stats: Arc<SensorStats>,
    stop: Arc<AtomicBool>,
) {
    if let Err(e) = run_inner(opts, &out, &status, &stats, &stop) {
        let _ = status.send(SensorMsg::Failed(format!("{e:#}")));
    }
}

fn run_inner(
    opts: &EbpfOptions,
    out: &SyncSender<Input>,
    status: &SyncSender<SensorMsg>,
    stats: &Arc<SensorStats>,
    stop: &AtomicBool,
) -> Result<()> {
    ensure_tracefs();
    let builder = SensorsSkelBuilder::default();
    let mut storage = MaybeUninit::uninit();
    let mut open = builder
        .open(&mut storage)
        .context("cannot open the eBPF object")?;

    let rodata = open
        .maps
        .rodata_data
        .as_deref_mut()
        .context("the eBPF object has no .rodata")?;
    rodata.settings.agent_tgid = std::process::id();
    let mut count = 0;
    for prefix in opts
        .exclude_prefixes
        .iter()
        .filter(|p| !p.is_empty() && p.len() < 64)
        .take(8)
    {
        let slot = &mut rodata.prefixes[count];
        slot.len = prefix.len() as u32;
        for (d, b) in slot.prefix.iter_mut().zip(prefix.bytes()) {
            *d = b as i8;
        }
        count += 1;
    }
    rodata.settings.prefix_count = count as u32;
    open.maps
        .events
        .set_max_entries(opts.ring_buffer_bytes)
        .context("cannot size the ring buffer")?;
    for mut prog in open.open_object_mut().progs_mut() {
        let name = prog.name().to_string_lossy().into_owned();
        if !opts.sources.contains(&family(&name)) {
            prog.set_autoload(false);
        }
    }
    let skel = open
        .load()
        .context("the kernel refused the eBPF programs")?;

    let mut hooks = Vec::new();
    let mut links = Vec::new();
    let mut dns_prog = None;
    for prog in skel.object().progs_mut() {
        let name = prog.name().to_string_lossy().into_owned();
        let source = family(&name);
        if !opts.sources.contains(&source) {
            continue;
        }
        let hook = prog.section().to_string_lossy().into_owned();
        if name == "dns_filter" {
            dns_prog = prog.as_fd().try_clone_to_owned().ok();
            hooks.push(HookStatus {
                name,
                hook,
                source,
                attached: dns_prog.is_some(),
                error: None,
            });
            continue;
        }
        match prog.attach() {
            Ok(link) => {
                links.push(link);
                hooks.push(HookStatus {
                    name,
                    hook,
                    source,
                    attached: true,
                    error: None,
                });
            }
            Err(e) => hooks.push(HookStatus {
                name,
                hook,
                source,
                attached: false,
                error: Some(e.to_string()),
            }),
        }
    }
    let _ = status.send(SensorMsg::Ready { hooks, dns_prog });

    let mut rb = RingBufferBuilder::new();
    let tx = out.clone();
    let cb_stats = Arc::clone(stats);
    rb.add(&skel.maps.events, move |data: &[u8]| {
        cb_stats.records.fetch_add(1, Ordering::Relaxed);
        match decode(data) {
            Ok(ev) => {
                if tx.send(Input::Sensor(ev)).is_err() {
                    return -1; // the pipeline is gone: stop polling
                }
            }
            Err(_) => {
                cb_stats.malformed.fetch_add(1, Ordering::Relaxed);
            }
        }
        0
    })?;
    let rb = rb.build()?;
    let mut watched = BTreeSet::new();
    sync_sensitive(&skel.maps.sensitive, &opts.sensitive_files, &mut watched);
    let mut last_sensitive = Instant::now();
    let mut last_counters = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        // The kernel wakes us only when much is waiting; drain on a short timer as well.
        let rc = rb.poll_raw(Duration::from_millis(50));
        if rc < 0 && rc != -libc::EINTR {
            break;
        }
        if rb.consume_raw() < 0 {
            break;
        }
        if last_sensitive.elapsed() >= SENSITIVE_RECHECK {
            sync_sensitive(&skel.maps.sensitive, &opts.sensitive_files, &mut watched);
            last_sensitive = Instant::now();
        }
        if last_counters.elapsed() >= Duration::from_millis(500) {
            read_counters(&skel.maps.counters, stats);
            last_counters = Instant::now();
        }
    }
    // Drain what is left so that nothing accepted by the kernel is lost on a clean stop.
    let _ = rb.consume();
    read_counters(&skel.maps.counters, stats);
    drop(links);
    Ok(())
}

/// How often the sensitive files are resolved again (a replaced file is a new inode).
const SENSITIVE_RECHECK: Duration = Duration::from_secs(5);

/// Bring the kernel's `sensitive` map in line with what the patterns name now.
fn sync_sensitive(map: &dyn MapCore, patterns: &[String], watched: &mut BTreeSet<FileId>) {
    let now = sensitive::resolve(patterns);
    let key = |id: &FileId| {
        let mut k = [0u8; 16];
        k[..4].copy_from_slice(&id.dev.to_ne_bytes());
        k[8..].copy_from_slice(&id.ino.to_ne_bytes());
        k
    };
    for gone in watched.difference(&now) {
        let _ = map.delete(&key(gone));
    }
    for new in now.difference(watched) {
        if let Err(e) = map.update(&key(new), &[1u8], MapFlags::ANY) {
            tracing::warn!("cannot watch a sensitive file (inode {}): {e}", new.ino);
        }
    }
    *watched = now;
}

/// Copy the kernel's per-CPU counters (summed) into `stats`.
fn read_counters(map: &dyn MapCore, stats: &SensorStats) {
    let slots: [(u32, &AtomicU64); 3] = [
        (0, &stats.kernel_ringbuf_full),
        (1, &stats.kernel_filtered),
        (2, &stats.kernel_pending_full),
    ];
    for (key, dst) in slots {
        if let Ok(Some(values)) = map.lookup_percpu(&key.to_ne_bytes(), MapFlags::ANY) {
            let sum: u64 = values
                .iter()
                .filter_map(|v| {
                    v.get(..8)
                        .and_then(|b| b.try_into().ok())
                        .map(u64::from_ne_bytes)
                })
                .sum();
            dst.store(sum, Ordering::Relaxed);
        }
    }
}

/// Tracepoint attachment needs tracefs; mount it where libbpf looks if nobody has.
fn ensure_tracefs() {
    if std::path::Path::new("/sys/kernel/tracing/events").exists()
        || std::path::Path::new("/sys/kernel/debug/tracing/events").exists()
    {
        return;
    }
    let target = c"/sys/kernel/tracing";
    // SAFETY: plain mount(2) with static NUL-terminated strings; failure is reported by the
    // attach errors that follow.
    unsafe {
        libc::mount(
            c"tracefs".as_ptr(),
            target.as_ptr(),
            c"tracefs".as_ptr(),
            0,
            std::ptr::null(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn programs_map_to_families() {
        assert_eq!(family("handle_exec"), Source::Process);
        assert_eq!(family("handle_exit"), Source::Process);
        assert_eq!(family("handle_unlink_exit"), Source::File);
        assert_eq!(family("handle_write"), Source::File);
        assert_eq!(family("handle_accept4_exit"), Source::Network);
        assert_eq!(family("handle_tcp_state"), Source::Network);
        assert_eq!(family("handle_setresuid_exit"), Source::Security);
        assert_eq!(family("handle_bpf"), Source::Security);
        assert_eq!(family("handle_memfd_create"), Source::Security);
        assert_eq!(family("dns_filter"), Source::Dns);
        assert_eq!(family("handle_finit_module"), Source::Security);
        assert_eq!(family("handle_openat_exit"), Source::File);
    }
}
