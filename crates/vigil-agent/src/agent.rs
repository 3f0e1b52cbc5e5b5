//! The agent's run loop: start the sensors, enrich what they report, write it out, and keep
//! the status file current until a signal says stop.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use vigil_schema::{Dynamic, Row, Timestamp};

use crate::config::{AgentConfig, SensorMode};
use crate::device::{self, DeviceIdentity};
use crate::pipeline::{Pipeline, PipelineOptions};
use crate::proctable::{BootClock, ProcessTable};
use crate::protect::Protection;
use crate::respond::{RespondOptions, Responder};
use crate::sensors::dns::DnsSniffer;
use crate::sensors::ebpf::{self, EbpfOptions, SensorMsg};
use crate::sensors::event::Source;
use crate::sensors::fanotify::FanotifyFiles;
use crate::sensors::logon::LogonWatcher;
use crate::sensors::procfs::{self, ProcPoller};
use crate::sensors::{HookStatus, Input, SensorStats};
use crate::sinks::jsonl::JsonlSink;
use crate::sinks::Sink;
use crate::status::{Status, StatusCounters};

/// Where events go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// JSON lines on standard output.
    Stdout,
    /// JSON lines appended to a file.
    File(PathBuf),
    /// The server the agent is enrolled with.
    Server,
}

impl Output {
    /// Parse `--output`: `jsonl` or `jsonl:PATH`.
    pub fn parse(s: &str) -> Result<Output> {
        match s.split_once(':') {
            None if s == "jsonl" => Ok(Output::Stdout),
            Some(("jsonl", path)) if !path.is_empty() => Ok(Output::File(PathBuf::from(path))),
            _ => bail!("unknown output {s:?}: expected jsonl or jsonl:PATH"),
        }
    }
}

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

fn install_signal_handlers() {
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: the handler only stores into a static atomic, which is async-signal-safe.
        unsafe {
            libc::signal(sig, on_signal as *const () as libc::sighandler_t);
        }
    }
}

/// Run the agent until SIGINT or SIGTERM.
pub fn run(config: AgentConfig, state_dir: PathBuf, output: Output) -> Result<()> {
    std::fs::create_dir_all(&state_dir)
        .with_context(|| format!("cannot create state directory {}", state_dir.display()))?;
    let identity = DeviceIdentity::load_or_create(&state_dir).with_context(|| {
        format!(
            "cannot load or create the device id in {}",
            state_dir.display()
        )
    })?;
    // The uplink starts after protection and the responder (it hands them indicators and
    // commands); an agent that is not enrolled is refused here, before anything starts.
    let enrollment = match &output {
        Output::Server => Some(load_enrollment(&state_dir)?),
        _ => None,
    };
    let jsonl = match &output {
        Output::File(path) => {
            let f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("cannot open output file {}", path.display()))?;
            Some(Sink::Jsonl(JsonlSink::new(Box::new(f))))
        }
        Output::Stdout => Some(Sink::Jsonl(JsonlSink::new(Box::new(std::io::stdout())))),
        Output::Server => None,
    };
    install_signal_handlers();
    let stop = Arc::new(AtomicBool::new(false));
    let stats = Arc::new(SensorStats::default());
    let sources = config.sources();

    let clock = BootClock::now();
    let mut procs = ProcessTable::new(clock);
    let users = crate::users::Users::new();
    procs.load(procfs::scan(), &|uid| users.name(uid));
    let mut pipeline = Pipeline::new(
        identity.clone(),
        procs,
        &PipelineOptions {
            rates: config.rates(),
            hash_cache_entries: config.hashing.cache_entries,
            hash_max_bytes: config.hashing.max_file_mb * 1024 * 1024,
            emit_forks: config.sensors.emit_forks,
            hash_settle: Duration::from_millis(config.hashing.settle_ms),
        },
    );

    // Sensors.
    let (tx, rx) = mpsc::sync_channel::<Input>(16_384);
    let (status_tx, status_rx) = mpsc::sync_channel::<SensorMsg>(1);
    let mut exclude = config.sensors.exclude_paths.clone();
    let own = format!("{}/", state_dir.display()).replace("//", "/");
    if own.len() < 64 && exclude.len() < 8 && !exclude.contains(&own) {
        exclude.push(own);
    }
    let opts = EbpfOptions {
        sources: sources.clone(),
        exclude_prefixes: exclude,
        sensitive_files: config.sensors.sensitive_files.clone(),
        ring_buffer_bytes: config.sensors.ring_buffer_mb * 1024 * 1024,
    };
    let mut threads = Vec::new();
    if config.sensors.mode == SensorMode::Auto {
        let (tx, stats, stop) = (tx.clone(), Arc::clone(&stats), Arc::clone(&stop));
        threads.push(
            thread::Builder::new()
                .name("ebpf".into())
                .spawn(move || ebpf::run(&opts, tx, status_tx, stats, stop))?,
        );
    } else {
        let _ = status_tx.send(SensorMsg::Failed("sensors.mode is \"fallback\"".into()));
    }
    let (hooks, mode, dns_prog) = match status_rx.recv_timeout(Duration::from_secs(60)) {
        Ok(SensorMsg::Ready { hooks, dns_prog }) => (hooks, "ebpf".to_string(), dns_prog),
        Ok(SensorMsg::Failed(why)) => {
            eprintln!("vigil-agent: eBPF sensors unavailable ({why}); falling back to /proc polling (degraded)");
            (Vec::new(), format!("degraded: /proc polling ({why})"), None)
        }
        Err(_) => (
            Vec::new(),
            "degraded: eBPF sensors did not start within 60 s".to_string(),
            None,
        ),
    };
    let degraded = mode != "ebpf";
    if degraded && sources.contains(&Source::Process) {
        let (tx, stop) = (tx.clone(), Arc::clone(&stop));
        threads.push(
            thread::Builder::new()
                .name("procfs".into())
                .spawn(move || poll_procfs(tx, stop))?,
        );
    }
    let mut mode = mode;
    if degraded && sources.contains(&Source::File) {
        match FanotifyFiles::open() {
            Ok(fan) => {
                mode.push_str(&format!(
                    "; files: fanotify close-after-write on {} mounts",
                    fan.marked()
                ));
                let (tx, stop) = (tx.clone(), Arc::clone(&stop));
                threads.push(
                    thread::Builder::new()
                        .name("fanotify".into())
                        .spawn(move || watch_files(fan, tx, stop))?,
                );
            }
            Err(e) => mode.push_str(&format!("; files: none (fanotify: {e})")),
        }
    }
    let mut dns_state = "off".to_string();
    if let Some(fd) = dns_prog {
        match DnsSniffer::open(std::os::fd::AsFd::as_fd(&fd)) {
            Ok(sniffer) => {
                dns_state = "attached".into();
                let (tx, stop) = (tx.clone(), Arc::clone(&stop));
                threads.push(
                    thread::Builder::new()
                        .name("dns".into())
                        .spawn(move || sniff_dns(sniffer, tx, stop))?,
                );
            }
            Err(e) => dns_state = format!("failed: {e}"),
        }
    }
    drop(tx);
    let mut logons = sources
        .contains(&Source::Logon)
        .then(|| LogonWatcher::new(config.sensors.wtmp.clone(), config.sensors.btmp.clone()));

    // Protection: probe the enforcement ladder, attach what the kernel allows.
    let protection = Arc::new(Protection::start(&config.protection));
    let prot = protection.status();
    eprintln!(
        "vigil-agent: protection: network {} ({}); exec {} ({})",
        prot.network.rung, prot.network.detail, prot.exec.rung, prot.exec.detail
    );
    // Next-generation protection: on-access scanning (src/av).
    let mut antivirus = crate::av::Antivirus::start(
        &config.antivirus,
        &crate::av::AvContext {
            state_dir: state_dir.clone(),
            own_files: vec![crate::av::config_path_from_args()],
        },
    );
    eprintln!(
        "vigil-agent: antivirus: {}",
        crate::av::status_lines(&antivirus.status())[0]
    );
    // Tamper protection and ASR rules (src/tamper, src/asr).
    let mut defence = crate::tamper::Defence::start(
        &config.tamper,
        &config.asr,
        &crate::tamper::DefenceContext {
            state_dir: state_dir.clone(),
            config: Some(crate::av::config_path_from_args()),
        },
    );

    // Response actions: isolation and restriction persisted by an earlier run are applied
    // again before the uplink connects.
    let responder = Responder::start(
        RespondOptions {
            state_dir: state_dir.clone(),
            server: enrollment.as_ref().map(|e| e.server.clone()),
            device: serde_json::json!({
                "DeviceId": identity.device_id,
                "DeviceName": identity.device_name,
            }),
            antivirus: config.antivirus.clone(),
        },
        Arc::clone(&protection),
    );
    let mut sink = match (jsonl, enrollment) {
        (Some(sink), _) => sink,
        (None, Some(enrollment)) => Sink::Uplink(start_uplink(
            &config,
            &state_dir,
            enrollment,
            &protection,
            &responder,
        )?),
        (None, None) => bail!("no output"),
    };

    let attached = hooks.iter().filter(|h| h.attached).count();
    eprintln!(
        "vigil-agent: device {} ({}); {attached} of {} hooks attached; mode {mode}; dns {dns_state}",
        identity.device_id,
        identity.device_name,
        hooks.len()
    );
    for h in hooks.iter().filter(|h| !h.attached) {
        eprintln!(
            "vigil-agent: hook {} ({}) not attached: {}",
            h.name,
            h.hook,
            h.error.as_deref().unwrap_or("unknown")
        );
    }

    // Start-up rows: inventory and sensor health.
    let mut rows = Vec::new();
    let mut snapshot = device::snapshot();
    for mut row in device::device_info_rows(&identity, &snapshot, Timestamp::now(), VERSION) {
        pipeline.stamp(&mut row);
        rows.push(row);
    }
    let mut health = health_fields(&hooks, &mode, &dns_state);
    health.insert("protection_network", prot.network.rung.as_str());
    health.insert("protection_exec", prot.exec.rung.as_str());
    pipeline.health(health, &mut rows);
    sink.write(&rows).context("cannot write events")?;

    let mut status = Status {
        state: "running".into(),
        pid: std::process::id(),
        version: VERSION.into(),
        started: Timestamp::now().to_string(),
        device_id: identity.device_id.clone(),
        device_name: identity.device_name.clone(),
        mode: mode.clone(),
        dns: dns_state.clone(),
        output: format!("{output:?}"),
        hooks: hooks.clone(),
        counters: StatusCounters::default(),
        uplink: None,
        protection: Some(prot),
        respond: Some(responder.status()),
        antivirus: Some(antivirus.status()),
        tamper: Some(defence.status()),
        asr: Some(defence.asr_status()),
    };
    let mut written = rows.len() as u64;
    status.write(&state_dir)?;

    let mut reported = Reported::default();
    let mut last_tick = Instant::now();
    let mut last_snapshot = Instant::now();
    loop {
        if STOP.load(Ordering::SeqCst) {
            stop.store(true, Ordering::SeqCst);
        }
        rows.clear();
        let done = match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(input) => {
                handle(&mut pipeline, &protection, input, &mut rows);
                while rows.len() < 4096 {
                    match rx.try_recv() {
                        Ok(input) => handle(&mut pipeline, &protection, input, &mut rows),
                        Err(_) => break,
                    }
                }
                false
            }
            Err(RecvTimeoutError::Timeout) => false,
            Err(RecvTimeoutError::Disconnected) => true,
        };
        for r in protection.take_reports() {
            pipeline.protection(r.row(), r.pid(), &mut rows);
        }
        for row in responder.take_rows() {
            pipeline.protection(row, None, &mut rows);
        }
        for (row, pid) in antivirus.take_rows() {
            pipeline.protection(row, pid, &mut rows);
        }
        for (row, pid) in defence.take_rows() {
            pipeline.protection(row, pid, &mut rows);
        }
        pipeline.release_held(&mut rows, done);
        let tick = last_tick.elapsed() >= Duration::from_secs(1) || done;
        if tick {
            last_tick = Instant::now();
            if let Some(w) = logons.as_mut() {
                for rec in w.poll() {
                    pipeline.logon(&rec, &mut rows);
                }
            }
            pipeline.rate_limit_drops(&mut rows);
            reported.report(&stats, &mut pipeline, &mut rows);
            reported.report_protection(&protection, &mut pipeline, &mut rows);
            let health = uplink_health(
                &mode,
                &hooks,
                &stats,
                written,
                &antivirus.status(),
                &defence.status(),
            );
            sink.tick(&mut pipeline, health, &mut rows);
            if last_snapshot.elapsed() >= Duration::from_secs(30) {
                last_snapshot = Instant::now();
                let now = device::snapshot();
                if now.changed(&snapshot) {
                    snapshot = now;
                    for mut row in
                        device::device_info_rows(&identity, &snapshot, Timestamp::now(), VERSION)
                    {
                        pipeline.stamp(&mut row);
                        rows.push(row);
                    }
                }
            }
        }
        if !rows.is_empty() {
            sink.write(&rows).context("cannot write events")?;
            written += rows.len() as u64;
        }
        if done {
            break;
        }
        if tick {
            status.counters = StatusCounters::read(&stats, written, pipeline.procs.len() as u64);
            status.uplink = sink.status();
            status.protection = Some(protection.status());
            status.respond = Some(responder.status());
            status.antivirus = Some(antivirus.status());
            status.tamper = Some(defence.status());
            status.asr = Some(defence.asr_status());
            status.write(&state_dir)?;
        }
    }
    // Start no more actions; detach the enforcement before the final status says stopped
    // (an isolation, being nftables state, stays until released).
    responder.stop();
    antivirus.stop();
    defence.stop();
    protection.stop();
    for t in threads {
        let _ = t.join();
    }
    status.uplink = sink.status();
    sink.close(Duration::from_secs(5));
    status.state = "stopped".into();
    status.counters = StatusCounters::read(&stats, written, pipeline.procs.len() as u64);
    status.write(&state_dir)?;
    let _ = std::io::stderr().flush();
    Ok(())
}

/// The enrolment with the server, or why the agent cannot send to one.
fn load_enrollment(state_dir: &Path) -> Result<vigil_uplink::Enrollment> {
    vigil_uplink::Enrollment::load(state_dir)?.with_context(|| {
        format!(
            "this agent is not enrolled (no enrolment in {}): run `vigil-agent enroll --server HOST:PORT --token TOKEN --ca-cert FILE` first, or use --output jsonl",
            state_dir.display()
        )
    })
}

/// Start the uplink to the server this agent is enrolled with: events out; indicators in
/// (to protection, merged there with `protection.indicators_file`); response actions in.
fn start_uplink(
    config: &AgentConfig,
    state_dir: &Path,
    enrollment: vigil_uplink::Enrollment,
    protection: &Arc<Protection>,
    responder: &Responder,
) -> Result<vigil_uplink::Uplink> {
    let u = &config.uplink;
    let mut spool = vigil_uplink::spool::SpoolOptions::new(state_dir.join("spool"));
    spool.max_bytes = u.spool_max_mb * 1024 * 1024;
    spool.segment_bytes = spool.segment_bytes.min(spool.max_bytes / 4).max(64 * 1024);
    let mut opts = vigil_uplink::UplinkOptions::new(spool);
    opts.batch_max_events = u.batch_max_events;
    opts.batch_max_delay = Duration::from_millis(u.batch_max_delay_ms);
    opts.in_flight = u.in_flight;
    opts.heartbeat_interval = Duration::from_secs(u.heartbeat_secs);
    opts.agent_version = VERSION.to_string();
    let p = Arc::clone(protection);
    opts.intel = Some(vigil_uplink::IntelOptions {
        dir: state_dir.join("intel"),
        on_update: Arc::new(move |set| p.set_indicators(set)),
        max_interval: Duration::from_secs(300),
    });
    opts.commands = Some(vigil_uplink::CommandOptions {
        dir: state_dir.join("commands"),
        handler: responder.handler(),
    });
    eprintln!(
        "vigil-agent: sending to {} as device {}",
        enrollment.server, enrollment.device_id
    );
    Ok(vigil_uplink::Uplink::start(enrollment, opts)?)
}

fn uplink_health(
    mode: &str,
    hooks: &[HookStatus],
    stats: &SensorStats,
    written: u64,
    av: &crate::av::AvStatus,
    tamper: &crate::tamper::TamperStatus,
) -> vigil_uplink::Health {
    use std::sync::atomic::Ordering::Relaxed;
    let dropped = stats.kernel_ringbuf_full.load(Relaxed) + stats.kernel_pending_full.load(Relaxed);
    vigil_uplink::Health {
        sensor_mode: mode.to_string(),
        hooks_failed: hooks
            .iter()
            .filter(|h| !h.attached)
            .map(|h| h.name.clone())
            .collect(),
        events_emitted: written,
        events_dropped: dropped,
        detail_json: serde_json::json!({
            "malformed_records": stats.malformed.load(Relaxed),
            "rss_bytes": rss_bytes(),
            // Antivirus health, for the fleet view.
            "antivirus": {
                "real_time": av.real_time,
                "mode": av.mode,
                "engine_version": av.engine_version,
                "rules": av.rules,
                "last_quick_scan": av.last_quick_scan,
                "last_full_scan": av.last_full_scan,
            },
            // Tamper protection, for the device's exposure.
            "tamper": {
                "enabled": tamper.enabled,
                "maintenance": tamper.maintenance,
            },
        })
        .to_string(),
    }
}

/// This process's resident set size, from `/proc/self/statm`.
fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn handle(pipeline: &mut Pipeline, protection: &Protection, input: Input, rows: &mut Vec<Row>) {
    match input {
        Input::Sensor(ev) => pipeline.sensor(ev, rows),
        Input::Dns(answer, at) => {
            protection.observe_dns(&answer);
            pipeline.dns_answer(&answer, at, rows);
        }
    }
}

fn health_fields(hooks: &[HookStatus], mode: &str, dns: &str) -> Dynamic {
    let mut d = Dynamic::object();
    d.insert("mode", mode);
    d.insert("dns", dns);
    d.insert(
        "hooks_attached",
        hooks.iter().filter(|h| h.attached).count() as u64,
    );
    let failed: Vec<Dynamic> = hooks
        .iter()
        .filter(|h| !h.attached)
        .map(|h| {
            Dynamic::from(format!(
                "{} ({}): {}",
                h.name,
                h.hook,
                h.error.as_deref().unwrap_or("unknown")
            ))
        })
        .collect();
    d.insert("hooks_failed", Dynamic::Array(failed));
    d
}

/// Kernel-side loss counters already reported, so that each report carries the increase.
#[derive(Default)]
struct Reported {
    ringbuf_full: u64,
    pending_full: u64,
    malformed: u64,
    protection_queue: u64,
    protection_ringbuf: u64,
    protection_malformed: u64,
}

impl Reported {
    fn report(&mut self, stats: &SensorStats, pipeline: &mut Pipeline, rows: &mut Vec<Row>) {
        let now = [
            (
                &mut self.ringbuf_full,
                stats.kernel_ringbuf_full.load(Ordering::Relaxed),
                "ring_buffer_full",
            ),
            (
                &mut self.pending_full,
                stats.kernel_pending_full.load(Ordering::Relaxed),
                "pending_map_full",
            ),
            (
                &mut self.malformed,
                stats.malformed.load(Ordering::Relaxed),
                "malformed_record",
            ),
        ];
        for (seen, value, reason) in now {
            if value > *seen {
                pipeline.dropped("kernel", value - *seen, reason, rows);
                *seen = value;
            }
        }
    }
}

impl Reported {
    /// Protection's losses: reports that did not fit its queue or its ring buffer, records
    /// that could not be decoded.
    fn report_protection(&mut self, p: &Protection, pipeline: &mut Pipeline, rows: &mut Vec<Row>) {
        let s = p.status();
        let ringbuf = s
            .network_counters
            .get("ring_buffer_full")
            .copied()
            .unwrap_or(0);
        let now = [
            (&mut self.protection_queue, s.reports_dropped, "queue_full"),
            (&mut self.protection_ringbuf, ringbuf, "ring_buffer_full"),
            (
                &mut self.protection_malformed,
                s.malformed_records,
                "malformed_record",
            ),
        ];
        for (seen, value, reason) in now {
            if value > *seen {
                pipeline.dropped("protection", value - *seen, reason, rows);
                *seen = value;
            }
        }
    }
}

fn poll_procfs(tx: mpsc::SyncSender<Input>, stop: Arc<AtomicBool>) {
    let mut poller = ProcPoller::new();
    while !stop.load(Ordering::Relaxed) {
        for ev in poller.poll(BootClock::boot_now()) {
            if tx.send(Input::Sensor(ev)).is_err() {
                return;
            }
        }
        thread::sleep(Duration::from_millis(250));
    }
}

fn watch_files(mut fan: FanotifyFiles, tx: mpsc::SyncSender<Input>, stop: Arc<AtomicBool>) {
    while !stop.load(Ordering::Relaxed) {
        match fan.poll(Duration::from_millis(200), BootClock::boot_now()) {
            Ok(events) => {
                for ev in events {
                    if tx.send(Input::Sensor(ev)).is_err() {
                        return;
                    }
                }
            }
            Err(e) => {
                eprintln!("vigil-agent: fanotify file sensor stopped: {e}");
                return;
            }
        }
    }
}

fn sniff_dns(mut sniffer: DnsSniffer, tx: mpsc::SyncSender<Input>, stop: Arc<AtomicBool>) {
    while !stop.load(Ordering::Relaxed) {
        match sniffer.recv_answers(Duration::from_millis(200)) {
            Ok(answers) => {
                for a in answers {
                    if tx.send(Input::Dns(a, Timestamp::now())).is_err() {
                        return;
                    }
                }
            }
            Err(e) => {
                eprintln!("vigil-agent: dns sensor stopped: {e}");
                return;
            }
        }
    }
}

/// Read the status a running (or stopped) agent left in `state_dir`.
pub fn read_status(state_dir: &Path) -> Result<(Status, bool)> {
    let status = Status::read(state_dir)?;
    // SAFETY: kill with signal 0 only checks that the process exists.
    let alive =
        status.state == "running" && unsafe { libc::kill(status.pid as libc::pid_t, 0) } == 0;
    Ok((status, alive))
}
