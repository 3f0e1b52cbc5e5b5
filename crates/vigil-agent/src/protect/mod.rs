//! Enforcement of threat-intelligence indicators on this device ("protection").
//!
//! At start the enforcement ladder is probed (`ladder`): BPF LSM, fanotify permission events,
//! cgroup v2 BPF. What the kernel allows is loaded and attached; what it does not is reported
//! in the status, never an error of the agent.
//!
//! - **Network** (`kernel`, `protect.bpf.c`): cgroup BPF on the cgroup v2 root refuses
//!   connect/sendmsg to blocked addresses (EPERM) and drops packets from and to them. Blocked
//!   domains are enforced in the kernel too: the ingress program reads each DNS answer before
//!   the asking socket can, and blocks the answer's addresses for its TTL (floor and cap from
//!   the configuration). Answers it cannot decide (a blocked CNAME target, more than 16
//!   records, a long uncompressed owner name) are handled here from the DNS sensor
//!   (`observe_dns`), after the application may already have connected: that path races.
//! - **Exec** (`exec`, `digest`): fanotify `FAN_OPEN_EXEC_PERM`, a verdict by file hash
//!   before the program runs, digests cached per file version; `BlockAndRemediate` also kills
//!   the processes already running the file.
//!
//! [`Protection::set_indicators`] is the one entry point for indicators (the server sync, or
//! `protection.indicators_file` through `source`): it computes the kernel state (`rules`) and
//! applies the difference to what the kernel holds. When both sources are in use, the set
//! enforced is their union (the latest of each); neither replaces the other.
//! [`Protection::set_exec_allowlist`] restricts execution to an allowlist (the `restrict`
//! response action) through the same exec guard. Blocks are reported (`report`) through a
//! bounded queue the agent loop drains into rows; `status` is what `vigil-agent status` shows.
//!
//! Threads: "protect-net" (ring buffer; owns the cgroup links), "protect-exec" and
//! "protect-hash-N" (the exec guard), "protect-intel" (indicators file, expiry, sweeps of
//! DNS-derived blocks and of rate-limit tails).
//!
//! **Invariant:** protection never fails the agent, and fails open: when the agent stops or
//! dies, the cgroup links and the fanotify group close with it and nothing stays blocked.
//! **Invariant:** the agent's own process is never refused an exec, a connect or a sendmsg.

pub mod bpf;
pub mod decode;
pub mod digest;
pub mod exec;
pub mod kernel;
pub mod ladder;
pub mod report;
pub mod rules;
pub mod source;
pub mod status;

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use vigil_intel::{Action, IntelSet};
use vigil_schema::Timestamp;

use crate::config::ProtectionConfig;
use crate::proctable::BootClock;
use crate::sensors::dns::{DnsAnswer, DnsRecord};
use decode::{NetBlock, Origin};
pub use exec::ExecAllowlist;
use exec::{ExecGuard, ExecOptions, ExecPolicy};
use kernel::{DnsBlock, NetMaps, NetOptions, RateTail};
use report::{IndicatorInfo, NetReport, Report, Reports};
use rules::{domain_hash, Desired, Entry, Net, Verdict};
pub use status::{status_lines, IndicatorStatus, LadderStatus, ProtectionStatus, Rung};

/// What is applied, with the state the kernel holds.
#[derive(Default)]
struct Applied {
    set: Arc<IntelSet>,
    desired: Desired,
    generation: u64,
    source: Option<String>,
    updated: Option<Timestamp>,
    load_ms: Option<u64>,
    apply_ms: u64,
    kernel_errors: u64,
    last_error: Option<String>,
}

struct Inner {
    cfg: ProtectionConfig,
    never_block: Vec<Net>,
    stop: Arc<AtomicBool>,
    reports: Arc<Reports>,
    net: Option<NetMaps>,
    exec: Option<ExecGuard>,
    base: ProtectionStatus,
    state: Mutex<Applied>,
    /// Serialises `set_indicators`.
    applying: Mutex<()>,
    /// The latest set of each source (server sync, indicators file); their union is applied.
    sources: Mutex<Sources>,
    malformed: AtomicU64,
    dns_user: AtomicU64,
    dns_live: AtomicU64,
}

/// The running protection. Dropping it (or `stop`) detaches everything.
pub struct Protection {
    inner: Arc<Inner>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

fn now_ms() -> i64 {
    Timestamp::now().nanos() / 1_000_000
}

fn ms_text(ms: i64) -> String {
    Timestamp::from_parts(
        ms.div_euclid(1000),
        (ms.rem_euclid(1000) * 1_000_000) as u32,
    )
    .to_string()
}

/// The net thread's callbacks. The thread starts before `Inner` exists and must not keep it
/// alive, so it finds it through this slot.
struct Sink(Arc<Mutex<std::sync::Weak<Inner>>>, Arc<Reports>);

impl Sink {
    fn inner(&self) -> Option<Arc<Inner>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).upgrade()
    }
}

impl kernel::NetSink for Sink {
    fn block(&self, b: NetBlock) {
        if let Some(inner) = self.inner() {
            let r = inner.net_report(&b);
            self.1.push(Report::Net(r));
        }
    }

    fn malformed(&self, _e: decode::DecodeError) {
        if let Some(inner) = self.inner() {
            inner.malformed.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl Protection {
    /// Probe the ladder, load and attach what this kernel allows; never fails the agent:
    /// what cannot be enforced is reported in the status. Reports wait in a queue that
    /// [`Protection::take_reports`] drains.
    pub fn start(cfg: &ProtectionConfig) -> Protection {
        let stop = Arc::new(AtomicBool::new(false));
        let reports = Arc::new(Reports::default());
        let mut base = ProtectionStatus {
            enabled: cfg.enabled,
            ..Default::default()
        };
        let never_block = cfg
            .never_block
            .iter()
            .filter_map(|n| Net::parse(n))
            .collect();
        let off = |why: &str| Rung {
            rung: "none".into(),
            detail: why.into(),
        };
        if !cfg.enabled {
            base.network = off("protection.enabled is false");
            base.exec = off("protection.enabled is false");
            let p = Protection::assemble(
                cfg,
                never_block,
                stop,
                reports,
                None,
                None,
                base,
                Vec::new(),
            );
            p.apply(Arc::new(IntelSet::default()), None);
            return p;
        }
        base.ladder.bpf_lsm = ladder::probe_lsm();
        base.ladder.fanotify = ladder::probe_fanotify();
        let (cgroup_probe, cgroup) = ladder::probe_cgroup();
        base.ladder.cgroup_bpf = cgroup_probe;

        // Exec: fanotify (BPF LSM could not hash the file either; see `ladder`).
        let mut exec = None;
        if !cfg.exec {
            base.exec = off("protection.exec is false");
        } else if !base.ladder.fanotify.available {
            base.exec = off(&base.ladder.fanotify.detail);
        } else {
            let started = ladder::fanotify_group().and_then(|g| {
                ExecGuard::start(
                    g,
                    ExecOptions {
                        timeout: Duration::from_millis(cfg.exec_timeout_ms),
                        max_bytes: cfg.exec_max_file_mb.saturating_mul(1024 * 1024),
                        cache_entries: cfg.exec_cache_entries,
                        workers: 2,
                    },
                    Arc::clone(&reports),
                )
            });
            match started {
                Ok(g) => {
                    exec = Some(g);
                    base.exec = Rung {
                        rung: "fanotify".into(),
                        detail: "FAN_OPEN_EXEC_PERM with a verdict by SHA-256 (SHA-1, MD5 when indicated); armed while a blocking hash indicator exists".into(),
                    };
                }
                Err(e) => base.exec = off(&format!("cannot start the exec guard: {e}")),
            }
        }

        let mut threads = Vec::new();
        let inner_slot: Arc<Mutex<std::sync::Weak<Inner>>> = Arc::default();
        let mut net = None;
        if !cfg.network {
            base.network = off("protection.network is false");
        } else if let Some(cgroup) = cgroup {
            let sink = Arc::new(Sink(Arc::clone(&inner_slot), Arc::clone(&reports)));
            let opts = NetOptions {
                cgroup: cgroup.clone(),
                agent_tgid: std::process::id(),
                dns_ttl_floor: cfg.dns_ttl_floor_secs,
                dns_ttl_cap: cfg.dns_ttl_cap_secs,
                report_interval_ms: cfg.report_interval_ms,
                max_network_entries: cfg.max_network_entries,
                max_domain_entries: cfg.max_domain_entries,
            };
            match kernel::spawn(opts, sink, Arc::clone(&stop)) {
                Ok((handle, outcome)) => {
                    threads.push(handle);
                    match outcome {
                        Ok(attached) => {
                            let n = attached.hooks.iter().filter(|h| h.attached).count();
                            base.network = Rung {
                                rung: "cgroup-bpf".into(),
                                detail: format!(
                                    "{n} of {} programs attached to {}; domains enforced in the kernel from DNS answers",
                                    attached.hooks.len(),
                                    cgroup.display()
                                ),
                            };
                            base.hooks = attached.hooks;
                            net = Some(attached.maps);
                        }
                        Err(e) => base.network = off(&e),
                    }
                }
                Err(e) => base.network = off(&format!("cannot start the network thread: {e}")),
            }
        } else {
            base.network = off(&base.ladder.cgroup_bpf.detail);
        }
        let p = Protection::assemble(cfg, never_block, stop, reports, net, exec, base, threads);
        *inner_slot.lock().unwrap_or_else(|e| e.into_inner()) = Arc::downgrade(&p.inner);
        p.spawn_intel();
        // Nothing is enforced yet: an empty set puts the `never_block` entries in place.
        p.apply(Arc::new(IntelSet::default()), None);
        p
    }

    #[allow(clippy::too_many_arguments)]
    fn assemble(
        cfg: &ProtectionConfig,
        never_block: Vec<Net>,
        stop: Arc<AtomicBool>,
        reports: Arc<Reports>,
        net: Option<NetMaps>,
        exec: Option<ExecGuard>,
        base: ProtectionStatus,
        threads: Vec<JoinHandle<()>>,
    ) -> Protection {
        Protection {
            inner: Arc::new(Inner {
                cfg: cfg.clone(),
                never_block,
                stop,
                reports,
                net,
                exec,
                base,
                state: Mutex::default(),
                applying: Mutex::new(()),
                sources: Mutex::default(),
                malformed: AtomicU64::new(0),
                dns_user: AtomicU64::new(0),
                dns_live: AtomicU64::new(0),
            }),
            threads: Mutex::new(threads),
        }
    }

    /// Replace the enforced indicators (only live ones with blocking actions are enforced,
    /// with the exceptions that non-blocking ones carve; others are ignored by the agent).
    /// Applies a diff to the kernel maps: cheap when little changed.
    pub fn set_indicators(&self, set: Arc<IntelSet>) {
        self.inner.apply_source(SourceKind::Api(set));
    }

    /// Restrict execution to what `list` names, or lift the restriction (`None`). Fails when
    /// the exec guard is not running (the ladder's fanotify rung is missing or off).
    pub fn set_exec_allowlist(&self, list: Option<ExecAllowlist>) -> Result<(), String> {
        match &self.inner.exec {
            Some(g) => {
                g.set_allowlist(list);
                Ok(())
            }
            None if list.is_none() => Ok(()),
            None => Err(format!(
                "application restriction needs the fanotify exec guard, which is not running ({})",
                self.inner.base.exec.detail
            )),
        }
    }

    fn apply(&self, set: Arc<IntelSet>, source: Option<String>) {
        self.inner.apply(set, source);
    }

    pub fn status(&self) -> ProtectionStatus {
        self.inner.status()
    }

    /// Reports since the last call.
    pub fn take_reports(&self) -> Vec<Report> {
        self.inner.reports.take()
    }

    /// A DNS answer seen by the DNS sensor: block its addresses when a name in it (the
    /// question, a CNAME target, an owner name) is a blocked domain. The kernel already did
    /// it for blocked questions; this catches what it could not decide, later.
    pub fn observe_dns(&self, answer: &DnsAnswer) {
        self.inner.observe_dns(answer);
    }

    /// Detach everything and stop the threads (also done on drop).
    pub fn stop(&self) {
        self.inner.stop.store(true, Ordering::SeqCst);
        if let Some(g) = &self.inner.exec {
            g.shutdown();
        }
        let threads: Vec<_> = self
            .threads
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain(..)
            .collect();
        for t in threads {
            let _ = t.join();
        }
    }

    fn spawn_intel(&self) {
        let weak = Arc::downgrade(&self.inner);
        let stop = Arc::clone(&self.inner.stop);
        let file = self.inner.cfg.indicators_file.clone();
        let spawned = std::thread::Builder::new()
            .name("protect-intel".into())
            .spawn(move || intel_loop(weak, stop, file));
        match spawned {
            Ok(h) => self
                .threads
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(h),
            Err(e) => {
                eprintln!("vigil-agent: protection: cannot start its maintenance thread: {e}")
            }
        }
    }
}

impl Drop for Protection {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The maintenance loop: the indicators file, expiry, and the sweeps.
fn intel_loop(
    weak: std::sync::Weak<Inner>,
    stop: Arc<AtomicBool>,
    file: Option<std::path::PathBuf>,
) {
    let mut watch = file.map(source::FileWatch::new);
    let mut last_sweep = Instant::now();
    let mut last_marks = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(250));
        let Some(inner) = weak.upgrade() else {
            return;
        };
        if let Some(w) = watch.as_mut() {
            let loaded = Instant::now();
            match w.poll() {
                Some(Ok(list)) => {
                    let src = format!("file:{}", w.path().display());
                    let set = Arc::new(IntelSet::new(list));
                    inner.lock().load_ms = Some(loaded.elapsed().as_millis() as u64);
                    inner.apply_source(SourceKind::File(set, src));
                }
                Some(Err(e)) => {
                    eprintln!("vigil-agent: protection: {e}");
                    inner.lock().last_error = Some(e.to_string());
                }
                None => {}
            }
        }
        let expiry = inner.lock().desired.next_expiry_ms;
        if expiry.is_some_and(|e| e <= now_ms()) {
            let (set, src) = {
                let st = inner.lock();
                (Arc::clone(&st.set), st.source.clone())
            };
            inner.apply(set, src);
        }
        let interval = Duration::from_millis(u64::from(inner.cfg.report_interval_ms.max(250)));
        if last_sweep.elapsed() >= interval {
            last_sweep = Instant::now();
            inner.sweep();
        }
        if last_marks.elapsed() >= Duration::from_secs(5) {
            last_marks = Instant::now();
            if let Some(g) = &inner.exec {
                g.arm();
            }
        }
    }
}

/// The latest indicator set of each source.
#[derive(Default)]
struct Sources {
    api: Option<Arc<IntelSet>>,
    file: Option<(Arc<IntelSet>, String)>,
}

/// A new set from one source.
enum SourceKind {
    Api(Arc<IntelSet>),
    File(Arc<IntelSet>, String),
}

impl Inner {
    fn lock(&self) -> std::sync::MutexGuard<'_, Applied> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Record a source's new set and apply the union of both sources.
    fn apply_source(&self, new: SourceKind) {
        let (set, label) = {
            let mut src = self.sources.lock().unwrap_or_else(|p| p.into_inner());
            match new {
                SourceKind::Api(set) => src.api = Some(set),
                SourceKind::File(set, label) => src.file = Some((set, label)),
            }
            match (&src.api, &src.file) {
                (Some(a), Some((f, label))) if !a.is_empty() && !f.is_empty() => {
                    let both: Vec<vigil_intel::Indicator> = a
                        .indicators()
                        .iter()
                        .chain(f.indicators())
                        .cloned()
                        .collect();
                    (Arc::new(IntelSet::new(both)), format!("api+{label}"))
                }
                (Some(a), Some((f, label))) if a.is_empty() => (Arc::clone(f), label.clone()),
                (Some(a), _) => (Arc::clone(a), "api".to_string()),
                (None, Some((f, label))) => (Arc::clone(f), label.clone()),
                (None, None) => (Arc::new(IntelSet::default()), "none".to_string()),
            }
        };
        self.apply(set, Some(label));
    }

    fn apply(&self, set: Arc<IntelSet>, source: Option<String>) {
        let _serial = self.applying.lock().unwrap_or_else(|p| p.into_inner());
        let started = Instant::now();
        let mut desired = Desired::build(&set, now_ms(), &self.never_block);
        let mut errors = Vec::new();
        let old_remediate;
        {
            let st = self.lock();
            old_remediate = st.desired.hashes.remediate.clone();
            if let Some(maps) = &self.net {
                // The kernel calls are made under the lock, so that reports resolve against
                // a state the kernel agrees with; a large first load holds it for a while.
                apply_maps(maps, &st.desired, &mut desired, &mut errors);
            }
        }
        if let Some(g) = &self.exec {
            g.set_policy(ExecPolicy {
                set: Arc::clone(&set),
                hashes: desired.hashes.clone(),
            });
            if desired
                .hashes
                .remediate
                .iter()
                .any(|h| !old_remediate.contains(h))
            {
                let r = g.remediator();
                let _ = std::thread::Builder::new()
                    .name("protect-remediate".into())
                    .spawn(move || r.run());
            }
        }
        let mut st = self.lock();
        st.set = set;
        st.desired = desired;
        st.generation += 1;
        if source.is_some() {
            st.source = source;
        }
        st.updated = Some(Timestamp::now());
        st.apply_ms = started.elapsed().as_millis() as u64;
        st.kernel_errors += errors.len() as u64;
        if let Some(e) = errors.into_iter().next() {
            st.last_error = Some(e);
        } else if st
            .last_error
            .as_deref()
            .is_some_and(|e| e.starts_with("cannot "))
        {
            st.last_error = None;
        }
    }

    fn status(&self) -> ProtectionStatus {
        let mut s = self.base.clone();
        let st = self.lock();
        let d = &st.desired;
        let exceptions = d
            .nets
            .values()
            .filter(|e| e.verdict != Verdict::Block)
            .count();
        s.indicators = IndicatorStatus {
            source: st.source.clone(),
            generation: st.generation,
            updated: st.updated.map(|t| t.to_string()),
            total: st.set.len() as u64,
            live: d.live as u64,
            ignored: d.ignored as u64,
            blocked_networks: d.blocked_networks() as u64,
            exceptions: exceptions as u64,
            blocked_domains: d.blocked_domains() as u64,
            dns_addresses: self.dns_live.load(Ordering::Relaxed),
            sha256: d.hashes.sha256 as u64,
            sha1: d.hashes.sha1 as u64,
            md5: d.hashes.md5 as u64,
            remediate: d.hashes.remediate.len() as u64,
            next_expiry: d.next_expiry_ms.map(ms_text),
            load_ms: st.load_ms,
            apply_ms: st.apply_ms,
            kernel_errors: st.kernel_errors,
            last_error: st.last_error.clone(),
        };
        drop(st);
        if let Some(maps) = &self.net {
            s.network_counters = kernel::COUNTERS
                .iter()
                .map(|(_, name)| name.to_string())
                .zip(maps.counters())
                .collect();
        }
        if let Some(g) = &self.exec {
            s.exec_marks = g.marks();
            s.exec_counters = g.counters();
            s.exec_restriction = g
                .allowlist_sizes()
                .map(|(p, d, h)| format!("{p} paths, {d} directories, {h} SHA-256 allowed"));
        }
        s.dns_user_space_blocks = self.dns_user.load(Ordering::Relaxed);
        s.reports_dropped = self.reports.dropped();
        s.malformed_records = self.malformed.load(Ordering::Relaxed);
        s
    }

    /// The indicator behind a kernel entry, as the current state knows it.
    fn info(st: &Applied, id: u64, entry: Option<&Entry>, value: String) -> IndicatorInfo {
        match entry.and_then(|e| st.set.get(e.index)) {
            Some(ind) if ind.id == id => IndicatorInfo {
                id,
                title: ind.title.clone(),
                value: ind.value.clone(),
                action: ind.action,
            },
            // Changed since the kernel reported it: what the report itself says.
            _ => IndicatorInfo {
                id,
                title: String::new(),
                value,
                action: Action::Block,
            },
        }
    }

    fn net_report(&self, b: &NetBlock) -> NetReport {
        let st = self.lock();
        let (indicator, domain) = match b.origin {
            Origin::Network { prefix_len } => {
                let net = Net::new(b.remote, prefix_len);
                let e = st.desired.nets.get(&net);
                (Self::info(&st, b.indicator_id, e, net.to_string()), None)
            }
            Origin::Domain { hash } => {
                let name = st.desired.domain_names.get(&hash).cloned();
                let e = st.desired.domains.get(&hash);
                let info = Self::info(&st, b.indicator_id, e, name.clone().unwrap_or_default());
                (info, name)
            }
        };
        NetReport {
            at: BootClock::now().wall(b.ts),
            pid: b.tgid,
            comm: b.comm.clone(),
            direction: b.direction,
            protocol: b.protocol,
            remote: b.remote,
            remote_port: b.remote_port,
            local: b.local,
            indicator,
            domain,
            count: b.count,
        }
    }

    /// Expired DNS-derived blocks out, rate-limit tails reported.
    fn sweep(&self) {
        let Some(maps) = &self.net else {
            return;
        };
        let now_ns = BootClock::boot_now();
        let mut live = 0;
        {
            let st = self.lock();
            for b in maps.dns_blocks() {
                let still = st
                    .desired
                    .domains
                    .get(&b.domain_hash)
                    .is_some_and(|e| e.verdict == Verdict::Block);
                if b.expires_ns <= now_ns || !still {
                    maps.del_dns_block(b.addr);
                } else {
                    live += 1;
                }
            }
        }
        self.dns_live.store(live, Ordering::Relaxed);
        let interval_ns = u64::from(self.cfg.report_interval_ms) * 1_000_000;
        for t in maps.take_rate_tails(now_ns, interval_ns) {
            let b = tail_block(&t, now_ns);
            let r = self.net_report(&b);
            self.reports.push(Report::Net(r));
        }
    }

    fn observe_dns(&self, a: &DnsAnswer) {
        let Some(maps) = &self.net else {
            return;
        };
        let st = self.lock();
        if st.desired.domains.is_empty() {
            return;
        }
        // The longest suffix of `name` with an entry decides, as in the kernel.
        let decide = |name: &str| -> Option<u64> {
            let mut best = None;
            let mut at = Some(0);
            while let Some(i) = at {
                let suffix = &name[i..];
                if let Some(e) = st.desired.domains.get(&domain_hash(suffix)) {
                    best = Some((e.verdict, domain_hash(suffix)));
                    break;
                }
                at = suffix.find('.').map(|d| i + d + 1);
            }
            best.filter(|(v, _)| *v == Verdict::Block).map(|(_, h)| h)
        };
        let mut names = vec![a.query.as_str()];
        for r in &a.answers {
            match r {
                DnsRecord::Cname { name, target, .. } => {
                    names.extend([name.as_str(), target.as_str()])
                }
                DnsRecord::Addr { name, .. } => names.push(name.as_str()),
            }
        }
        let Some(hash) = names.into_iter().find_map(decide) else {
            return;
        };
        let Some(entry) = st.desired.domains.get(&hash).copied() else {
            return;
        };
        drop(st);
        let now_ns = BootClock::boot_now();
        let (floor, cap) = (self.cfg.dns_ttl_floor_secs, self.cfg.dns_ttl_cap_secs);
        let mut added = false;
        for r in &a.answers {
            if let DnsRecord::Addr { addr, ttl, .. } = r {
                let ttl = (*ttl).clamp(floor, cap);
                let block = DnsBlock {
                    addr: plain(*addr),
                    indicator_id: entry.id,
                    expires_ns: now_ns + u64::from(ttl) * 1_000_000_000,
                    domain_hash: hash,
                    ttl,
                };
                if maps.add_dns_block(&block) == Ok(true) {
                    added = true;
                }
            }
        }
        if added {
            self.dns_user.fetch_add(1, Ordering::Relaxed);
        }
    }
}

fn plain(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// A rate-limit tail as a block report.
fn tail_block(t: &RateTail, now_ns: u64) -> NetBlock {
    let direction = match t.direction {
        0 => decode::Direction::Connect,
        1 => decode::Direction::Sendmsg,
        2 => decode::Direction::Ingress,
        _ => decode::Direction::Egress,
    };
    NetBlock {
        ts: now_ns,
        direction,
        origin: match t.origin_domain {
            Some(hash) => Origin::Domain { hash },
            None => Origin::Network {
                prefix_len: t.prefix_len,
            },
        },
        protocol: t.protocol,
        tgid: t.tgid,
        uid: 0,
        comm: String::new(),
        indicator_id: t.indicator_id,
        count: t.count,
        remote: t.remote,
        remote_port: t.remote_port,
        // The kernel keeps the local port of the last block, not its address.
        local: None,
    }
}

/// Bring the kernel maps from `old` to `new`. Entries whose update failed are taken out of
/// `new` (and removals that failed are kept), so the next set retries them.
fn apply_maps(maps: &NetMaps, old: &Desired, new: &mut Desired, errors: &mut Vec<String>) {
    let nets = rules::diff(&old.nets, &new.nets);
    for (net, e) in &nets.upsert {
        if let Err(err) = maps.set_net(*net, e) {
            errors.push(err);
            new.nets.remove(net);
        }
    }
    for net in &nets.remove {
        if let Err(err) = maps.del_net(*net) {
            errors.push(err);
            if let Some(e) = old.nets.get(net) {
                new.nets.insert(*net, *e);
            }
        }
    }
    let domains = rules::diff(&old.domains, &new.domains);
    for (hash, e) in &domains.upsert {
        if let Err(err) = maps.set_domain(*hash, e) {
            errors.push(err);
            new.domains.remove(hash);
            new.domain_names.remove(hash);
        }
    }
    for hash in &domains.remove {
        if let Err(err) = maps.del_domain(*hash) {
            errors.push(err);
            if let (Some(e), Some(n)) = (old.domains.get(hash), old.domain_names.get(hash)) {
                new.domains.insert(*hash, *e);
                new.domain_names.insert(*hash, n.clone());
            }
        }
    }
    // Addresses learnt from domains that no longer block go at once.
    let gone = rules::unblocked_domains(&old.domains, &new.domains);
    if !gone.is_empty() {
        for b in maps.dns_blocks() {
            if gone.contains(&b.domain_hash) {
                maps.del_dns_block(b.addr);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disabled_protection_starts_nothing_and_says_so() {
        let cfg = ProtectionConfig {
            enabled: false,
            ..Default::default()
        };
        let p = Protection::start(&cfg);
        let s = p.status();
        assert!(!s.enabled);
        assert_eq!(s.network.rung, "none");
        assert!(s.network.detail.contains("protection.enabled"));
        assert_eq!(status_lines(&s).len(), 1);
        // Indicators are accepted (and counted) even when nothing enforces them.
        let ind = vigil_intel::Indicator::new(vigil_intel::IndicatorType::Ip, "10.0.0.1")
            .unwrap()
            .with_action(Action::Block);
        p.set_indicators(Arc::new(IntelSet::new(vec![ind])));
        let s = p.status();
        assert_eq!(
            (s.indicators.blocked_networks, s.indicators.generation),
            (1, 2)
        );
        p.stop();
    }

    #[test]
    fn tails_keep_their_origin() {
        let t = RateTail {
            tgid: None,
            direction: 2,
            remote: "10.0.0.1".parse().unwrap(),
            remote_port: 1,
            local_port: 2,
            protocol: 6,
            indicator_id: 5,
            origin_domain: Some(9),
            prefix_len: 32,
            count: 12,
        };
        let b = tail_block(&t, 100);
        assert_eq!(b.origin, Origin::Domain { hash: 9 });
        assert_eq!((b.count, b.direction), (12, decode::Direction::Ingress));
    }
}
