//! The network enforcement programs of `protect.bpf.c` in the kernel: loading, attaching to
//! the cgroup v2 root, the maps, and the thread that drains the `reports` ring buffer.
//!
//! One thread ("protect-net") owns the skeleton and the cgroup links: it loads the object,
//! attaches each program on its own (one refused hook costs that hook), hands duplicated map
//! descriptors ([`NetMaps`]) to the caller, then polls the ring buffer until told to stop.
//! Dropping the links at the end detaches the programs; if the agent dies, the kernel closes
//! the links with its descriptors, so enforcement never outlives the agent.
//!
//! **Invariant:** map keys and values are built only from the skeleton's types (`decode::Pod`).

use std::mem::MaybeUninit;
use std::net::IpAddr;
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use libbpf_rs::skel::{OpenSkel, Skel, SkelBuilder};
use libbpf_rs::{MapCore, MapFlags, MapHandle, RingBufferBuilder};
use serde::{Deserialize, Serialize};

use crate::protect::bpf::{types, ProtectSkelBuilder};
use crate::protect::decode::{self, as_bytes, from_bytes, NetBlock};
use crate::protect::rules::{Entry, Net};

/// What the kernel programs are told before load.
#[derive(Debug, Clone)]
pub struct NetOptions {
    /// The cgroup v2 directory the programs attach to (the hierarchy's root).
    pub cgroup: PathBuf,
    pub agent_tgid: u32,
    pub dns_ttl_floor: u32,
    pub dns_ttl_cap: u32,
    pub report_interval_ms: u32,
    pub max_network_entries: u32,
    pub max_domain_entries: u32,
}

/// One program and whether it attached.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HookState {
    pub name: String,
    pub hook: String,
    pub attached: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Where the net thread sends what the kernel reports.
pub trait NetSink: Send + Sync {
    fn block(&self, block: NetBlock);
    fn malformed(&self, error: decode::DecodeError);
}

/// Descriptors of the enforcement maps, usable from any thread.
pub struct NetMaps {
    net4: MapHandle,
    net6: MapHandle,
    domains: MapHandle,
    dns_addrs: MapHandle,
    rate: MapHandle,
    counters: MapHandle,
}

/// An address blocked because a blocked domain resolved to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsBlock {
    pub addr: IpAddr,
    pub indicator_id: u64,
    pub expires_ns: u64,
    pub domain_hash: u64,
    pub ttl: u32,
}

/// Blocks the rate limit folded after the last report of a key, reported by the agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateTail {
    pub tgid: Option<u32>,
    pub direction: u8,
    pub remote: IpAddr,
    pub remote_port: u16,
    pub local_port: u16,
    pub protocol: u8,
    pub indicator_id: u64,
    pub origin_domain: Option<u64>,
    pub prefix_len: u8,
    pub count: u64,
}

/// `enum vp_counter` of protect.h: (index, name in the status).
pub const COUNTERS: [(u32, &str); 9] = [
    (0, "connect_refused"),
    (1, "sendmsg_refused"),
    (2, "inbound_dropped"),
    (3, "outbound_dropped"),
    (4, "dns_answers_parsed"),
    (5, "dns_answers_blocked"),
    (6, "dns_addresses_blocked"),
    (7, "ring_buffer_full"),
    (8, "reports_folded"),
];

fn ip_bytes(ip: IpAddr) -> (u32, [u8; 16]) {
    let mut b = [0u8; 16];
    match ip {
        IpAddr::V4(a) => {
            b[..4].copy_from_slice(&a.octets());
            (2, b)
        }
        IpAddr::V6(a) => (10, a.octets()),
    }
}

fn err(what: &str, e: libbpf_rs::Error) -> String {
    format!("{what}: {e}")
}

impl NetMaps {
    fn verdict(e: &Entry, prefix_len: u8) -> types::vp_verdict {
        types::vp_verdict {
            indicator_id: e.id,
            verdict: e.verdict as u32,
            prefixlen: u32::from(prefix_len),
        }
    }

    /// Insert or overwrite the entry of `net`.
    pub fn set_net(&self, net: Net, e: &Entry) -> Result<(), String> {
        let v = Self::verdict(e, net.prefix_len());
        let r = match net {
            Net::V4(a, l) => {
                let k = types::vp_key4 {
                    prefixlen: u32::from(l),
                    addr: a.to_be_bytes(),
                };
                self.net4.update(as_bytes(&k), as_bytes(&v), MapFlags::ANY)
            }
            Net::V6(a, l) => {
                let k = types::vp_key6 {
                    prefixlen: u32::from(l),
                    addr: a.to_be_bytes(),
                };
                self.net6.update(as_bytes(&k), as_bytes(&v), MapFlags::ANY)
            }
        };
        r.map_err(|e| err(&format!("cannot block {net}"), e))
    }

    pub fn del_net(&self, net: Net) -> Result<(), String> {
        let r = match net {
            Net::V4(a, l) => self.net4.delete(as_bytes(&types::vp_key4 {
                prefixlen: u32::from(l),
                addr: a.to_be_bytes(),
            })),
            Net::V6(a, l) => self.net6.delete(as_bytes(&types::vp_key6 {
                prefixlen: u32::from(l),
                addr: a.to_be_bytes(),
            })),
        };
        r.map_err(|e| err(&format!("cannot unblock {net}"), e))
    }

    pub fn set_domain(&self, hash: u64, e: &Entry) -> Result<(), String> {
        let v = Self::verdict(e, 0);
        self.domains
            .update(&hash.to_ne_bytes(), as_bytes(&v), MapFlags::ANY)
            .map_err(|e| err("cannot add a blocked domain", e))
    }

    pub fn del_domain(&self, hash: u64) -> Result<(), String> {
        self.domains
            .delete(&hash.to_ne_bytes())
            .map_err(|e| err("cannot remove a blocked domain", e))
    }

    /// Block an address learnt from a DNS answer until `b.expires_ns` (the path for answers
    /// the kernel program could not decide, such as CNAME targets). A block of the same
    /// domain already in place that lasts about as long (within 2 s) is kept: false then.
    pub fn add_dns_block(&self, b: &DnsBlock) -> Result<bool, String> {
        const SLACK_NS: u64 = 2_000_000_000;
        let (family, addr) = ip_bytes(b.addr);
        let k = types::vp_addr_key { family, addr };
        if let Ok(Some(old)) = self.dns_addrs.lookup(as_bytes(&k), MapFlags::ANY) {
            let old: Option<types::vp_dns_entry> = from_bytes(&old);
            if old.is_some_and(|o| {
                o.domain_hash == b.domain_hash && o.expires_ns + SLACK_NS >= b.expires_ns
            }) {
                return Ok(false);
            }
        }
        let v = types::vp_dns_entry {
            indicator_id: b.indicator_id,
            expires_ns: b.expires_ns,
            domain_hash: b.domain_hash,
            ttl: b.ttl,
            ..Default::default()
        };
        self.dns_addrs
            .update(as_bytes(&k), as_bytes(&v), MapFlags::ANY)
            .map(|()| true)
            .map_err(|e| err(&format!("cannot block {}", b.addr), e))
    }

    /// Every address blocked through DNS (expired ones included, until `del_dns_block`).
    pub fn dns_blocks(&self) -> Vec<DnsBlock> {
        let mut out = Vec::new();
        for key in self.dns_addrs.keys() {
            let (Some(k), Ok(Some(v))) = (
                from_bytes::<types::vp_addr_key>(&key),
                self.dns_addrs.lookup(&key, MapFlags::ANY),
            ) else {
                continue;
            };
            let (Ok(addr), Some(v)) = (
                decode::addr(k.family as u16, &k.addr),
                from_bytes::<types::vp_dns_entry>(&v),
            ) else {
                continue;
            };
            out.push(DnsBlock {
                addr,
                indicator_id: v.indicator_id,
                expires_ns: v.expires_ns,
                domain_hash: v.domain_hash,
                ttl: v.ttl,
            });
        }
        out
    }

    pub fn del_dns_block(&self, addr: IpAddr) {
        let (family, addr) = ip_bytes(addr);
        let _ = self
            .dns_addrs
            .delete(as_bytes(&types::vp_addr_key { family, addr }));
    }

    /// The rate-limit entries whose interval is over and that folded blocks since their last
    /// report: returned and removed, so the next block of that key is reported at once.
    pub fn take_rate_tails(&self, now_ns: u64, interval_ns: u64) -> Vec<RateTail> {
        let mut out = Vec::new();
        for key in self.rate.keys() {
            let (Some(k), Ok(Some(v))) = (
                from_bytes::<types::vp_rate_key>(&key),
                self.rate.lookup(&key, MapFlags::ANY),
            ) else {
                continue;
            };
            let Some(v) = from_bytes::<types::vp_rate>(&v) else {
                continue;
            };
            if now_ns.saturating_sub(v.last_ns) < interval_ns {
                continue;
            }
            let _ = self.rate.delete(&key);
            let Ok(remote) = decode::addr(k.family as u16, &k.addr) else {
                continue;
            };
            if v.suppressed == 0 {
                continue;
            }
            out.push(RateTail {
                tgid: (k.tgid != 0).then_some(k.tgid),
                direction: k.direction as u8,
                remote,
                remote_port: v.remote_port,
                local_port: v.local_port,
                protocol: v.protocol,
                indicator_id: v.indicator_id,
                origin_domain: (v.origin == 1).then_some(v.domain_hash),
                prefix_len: v.prefixlen,
                count: v.suppressed,
            });
        }
        out
    }

    /// The kernel counters (summed over CPUs), in the order of [`COUNTERS`].
    pub fn counters(&self) -> Vec<u64> {
        COUNTERS
            .iter()
            .map(|(i, _)| {
                self.counters
                    .lookup_percpu(&i.to_ne_bytes(), MapFlags::ANY)
                    .ok()
                    .flatten()
                    .map(|per_cpu| {
                        per_cpu
                            .iter()
                            .filter_map(|v| v.get(..8)?.try_into().ok().map(u64::from_ne_bytes))
                            .sum()
                    })
                    .unwrap_or(0)
            })
            .collect()
    }
}

/// What the net thread reports once attachment is done.
pub struct Attached {
    pub maps: NetMaps,
    pub hooks: Vec<HookState>,
}

/// Start the net thread; returns it and the outcome of loading and attaching.
pub fn spawn(
    opts: NetOptions,
    sink: Arc<dyn NetSink>,
    stop: Arc<AtomicBool>,
) -> std::io::Result<(JoinHandle<()>, Result<Attached, String>)> {
    let (tx, rx) = mpsc::sync_channel(1);
    let handle = std::thread::Builder::new()
        .name("protect-net".into())
        .spawn(move || run(&opts, tx, sink.as_ref(), &stop))?;
    let outcome = rx
        .recv_timeout(Duration::from_secs(60))
        .unwrap_or_else(|_| Err("the network enforcement did not start within 60 s".into()));
    Ok((handle, outcome))
}

/// Open the object, write the settings and map sizes, load it.
fn load<'a>(
    storage: &'a mut MaybeUninit<libbpf_rs::OpenObject>,
    opts: &NetOptions,
) -> Result<crate::protect::bpf::ProtectSkel<'a>, String> {
    let mut open = ProtectSkelBuilder::default()
        .open(storage)
        .map_err(|e| err("cannot open the enforcement object", e))?;
    let rodata = open
        .maps
        .rodata_data
        .as_deref_mut()
        .ok_or("the enforcement object has no .rodata")?;
    rodata.settings.agent_tgid = opts.agent_tgid;
    rodata.settings.dns_ttl_floor = opts.dns_ttl_floor;
    rodata.settings.dns_ttl_cap = opts.dns_ttl_cap;
    rodata.settings.report_interval_ms = opts.report_interval_ms;
    for (map, n) in [
        (&mut open.maps.net4, opts.max_network_entries),
        (&mut open.maps.net6, opts.max_network_entries),
        (&mut open.maps.domains, opts.max_domain_entries),
    ] {
        map.set_max_entries(n)
            .map_err(|e| err("cannot size an enforcement map", e))?;
    }
    open.load()
        .map_err(|e| err("the kernel refused the enforcement programs", e))
}

fn run(
    opts: &NetOptions,
    ready: SyncSender<Result<Attached, String>>,
    sink: &dyn NetSink,
    stop: &AtomicBool,
) {
    let mut storage = MaybeUninit::uninit();
    let loaded = load(&mut storage, opts);
    let skel = match loaded {
        Ok(s) => s,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    let cgroup = match std::fs::File::open(&opts.cgroup) {
        Ok(f) => f,
        Err(e) => {
            let _ = ready.send(Err(format!(
                "cannot open the cgroup {}: {e}",
                opts.cgroup.display()
            )));
            return;
        }
    };
    let mut hooks = Vec::new();
    let mut links = Vec::new();
    for prog in skel.object().progs_mut() {
        let name = prog.name().to_string_lossy().into_owned();
        if name == "vp_lsm_probe" {
            continue;
        }
        let hook = prog.section().to_string_lossy().into_owned();
        match prog.attach_cgroup(cgroup.as_raw_fd()) {
            Ok(link) => {
                links.push(link);
                hooks.push(HookState {
                    name,
                    hook,
                    attached: true,
                    error: None,
                });
            }
            Err(e) => hooks.push(HookState {
                name,
                hook,
                attached: false,
                error: Some(e.to_string()),
            }),
        }
    }
    let handles = (|| -> Result<NetMaps, libbpf_rs::Error> {
        Ok(NetMaps {
            net4: MapHandle::try_from(&skel.maps.net4)?,
            net6: MapHandle::try_from(&skel.maps.net6)?,
            domains: MapHandle::try_from(&skel.maps.domains)?,
            dns_addrs: MapHandle::try_from(&skel.maps.dns_addrs)?,
            rate: MapHandle::try_from(&skel.maps.rate)?,
            counters: MapHandle::try_from(&skel.maps.counters)?,
        })
    })();
    let maps = match handles {
        Ok(m) if !links.is_empty() => m,
        Ok(_) => {
            let why: Vec<String> = hooks
                .iter()
                .map(|h| format!("{}: {}", h.hook, h.error.as_deref().unwrap_or("?")))
                .collect();
            let _ = ready.send(Err(format!(
                "no enforcement hook attached ({})",
                why.join("; ")
            )));
            return;
        }
        Err(e) => {
            let _ = ready.send(Err(err("cannot share the enforcement maps", e)));
            return;
        }
    };
    let mut builder = RingBufferBuilder::new();
    if let Err(e) = builder.add(&skel.maps.reports, |data: &[u8]| {
        match decode::decode(data) {
            Ok(b) => sink.block(b),
            Err(e) => sink.malformed(e),
        }
        0
    }) {
        let _ = ready.send(Err(err("cannot read the enforcement ring buffer", e)));
        return;
    }
    let rb = match builder.build() {
        Ok(rb) => rb,
        Err(e) => {
            let _ = ready.send(Err(err("cannot read the enforcement ring buffer", e)));
            return;
        }
    };
    if ready.send(Ok(Attached { maps, hooks })).is_err() {
        return;
    }
    while !stop.load(Ordering::Relaxed) {
        let rc = rb.poll_raw(Duration::from_millis(100));
        if rc < 0 && rc != -libc::EINTR {
            break;
        }
    }
    let _ = rb.consume();
    // Detach every program before the maps go.
    drop(links);
}

/// Whether this kernel loads a BPF LSM program: load `vp_lsm_probe` alone, never attached.
pub fn lsm_program_loads() -> Result<(), String> {
    let mut storage = MaybeUninit::uninit();
    let mut open = ProtectSkelBuilder::default()
        .open(&mut storage)
        .map_err(|e| err("cannot open the enforcement object", e))?;
    for mut prog in open.open_object_mut().progs_mut() {
        let probe = prog.name().to_str() == Some("vp_lsm_probe");
        prog.set_autoload(probe);
    }
    open.load()
        .map(drop)
        .map_err(|e| err("the kernel refused a BPF LSM program", e))
}
