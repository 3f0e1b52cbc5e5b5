//! Match throughput on one thread: every loadable rule of the third-party corpus and of
//! `content/rules`, against a generated mix of Linux events (process creations with varied
//! shells, tools, paths and users; file events across /etc, /tmp, /home, /var; outbound and
//! inbound connections; DNS answers).
//!
//! Prints events/s of the indexed evaluation and, in the same run, of the naive baseline
//! (every rule of the event's table and ActionType evaluated, no literal prefilter), and the
//! ratio. With `--features bench-rsigma`, also rsigma (the reference implementation) on the
//! same Sigma rules (those of the process, file, network and DNS log sources) and the same
//! events with Sigma field names.
//!
//! `SIGMA_EVENTS` sets the number of events (default 1,000,000).
//!
//! ```text
//! nice -n 19 env CARGO_TARGET_DIR=/work/target-sigma cargo bench -p vigil-sigma --bench match
//! ```

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Instant;

use vigil_sigma::{Detection, Evaluator, Loader, Mapping, OwnedEvent, RuleSet, Status};

/// splitmix64: small, seeded, reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, v: &[&'a str]) -> &'a str {
        v[self.below(v.len())]
    }
    fn chance(&mut self, per_mille: u64) -> bool {
        self.next() % 1000 < per_mille
    }
}

const USERS: &[&str] = &[
    "root", "alice", "bob", "www-data", "postgres", "deploy", "ci", "dev",
];
const WORDS: &[&str] = &[
    "config", "build", "release", "data", "report", "cache", "main", "test", "deploy", "backup",
    "users", "orders", "metrics", "auth", "index", "assets", "worker", "api", "notes", "tmp",
];
const DIRS: &[&str] = &[
    "src",
    "projects/web",
    "work",
    "Downloads",
    "go/src/app",
    ".config/app",
    "docs",
    "repo",
];
const SERVICES: &[&str] = &[
    "nginx",
    "postgresql",
    "ssh",
    "docker",
    "cron",
    "redis",
    "app",
];
const DOMAINS: &[&str] = &[
    "github.com",
    "api.github.com",
    "pypi.org",
    "files.pythonhosted.org",
    "deb.debian.org",
    "registry.npmjs.org",
    "crates.io",
    "static.crates.io",
    "example.com",
    "cdn.jsdelivr.net",
    "s3.amazonaws.com",
    "storage.googleapis.com",
    "login.microsoftonline.com",
    "slack.com",
    "updates.example.net",
    "grafana.internal",
    "db.internal",
    "time.cloudflare.com",
];
const PARENTS: &[&str] = &[
    "/usr/bin/bash",
    "/usr/sbin/sshd",
    "/usr/lib/systemd/systemd",
    "/usr/sbin/cron",
    "/usr/bin/tmux",
    "/usr/bin/make",
    "/usr/bin/python3",
    "/usr/bin/node",
    "/usr/bin/containerd-shim-runc-v2",
    "/usr/share/code/code",
    "/usr/bin/zsh",
    "/usr/bin/sudo",
];

fn path_word(r: &mut Rng) -> String {
    format!("{}-{}", r.pick(WORDS), r.below(1000))
}

/// A process creation: image and command line from a template per tool.
fn process(r: &mut Rng, ts: i64) -> OwnedEvent {
    let user = r.pick(USERS);
    let home = if user == "root" {
        "/root".to_string()
    } else {
        format!("/home/{user}")
    };
    let w = path_word(r);
    let dir = r.pick(DIRS);
    let n = r.below(100_000);
    let (image, cmd): (&str, String) = match r.below(40) {
        0 => ("/usr/bin/ls", format!("ls -la {home}/{dir}")),
        1 => ("/usr/bin/cat", format!("cat {home}/{dir}/{w}.txt")),
        2 => (
            "/usr/bin/grep",
            format!(
                "grep -rn {} /var/log/{}.log",
                r.pick(WORDS),
                r.pick(SERVICES)
            ),
        ),
        3 => ("/usr/bin/bash", format!("bash {home}/{dir}/run-{w}.sh")),
        4 => (
            "/bin/sh",
            format!("/bin/sh -c \"cd {home}/{dir} && make -j4 {w}\""),
        ),
        5 => (
            "/usr/bin/python3",
            format!("python3 /opt/app/{w}.py --port {}", 8000 + r.below(100)),
        ),
        6 => (
            "/usr/bin/git",
            format!("git -C {home}/{dir} commit -m \"fix {w}\""),
        ),
        7 => (
            "/usr/bin/git",
            format!("git fetch origin {}", r.pick(WORDS)),
        ),
        8 => (
            "/usr/bin/ssh",
            format!(
                "ssh {}@10.0.{}.{}",
                r.pick(USERS),
                r.below(255),
                r.below(255)
            ),
        ),
        9 => (
            "/usr/bin/systemctl",
            format!("systemctl status {}", r.pick(SERVICES)),
        ),
        10 => (
            "/usr/bin/sed",
            format!(
                "sed -i s/{}/{}/g {home}/{dir}/{w}.conf",
                r.pick(WORDS),
                r.pick(WORDS)
            ),
        ),
        11 => ("/usr/bin/awk", format!("awk -F: {{print $1}} /tmp/{w}.csv")),
        12 => (
            "/usr/bin/find",
            format!("find /var/log -name *.gz -mtime +{} -delete", r.below(30)),
        ),
        13 => (
            "/usr/bin/tar",
            format!("tar -czf /tmp/backup-{n}.tar.gz {home}/{dir}"),
        ),
        14 => (
            "/usr/bin/curl",
            format!("curl -s https://{}/api/{w}", r.pick(DOMAINS)),
        ),
        15 => (
            "/usr/bin/docker",
            format!("docker run --rm -v /srv/{w}:/data alpine:3 ls /data"),
        ),
        16 => (
            "/usr/bin/node",
            format!("node {home}/{dir}/server.js --env {}", r.pick(WORDS)),
        ),
        17 => (
            "/usr/lib/jvm/java-17/bin/java",
            format!("java -Xmx2g -jar /opt/{w}/app.jar"),
        ),
        18 => ("/usr/bin/ps", "ps aux".to_string()),
        19 => (
            "/usr/bin/sudo",
            format!("sudo systemctl restart {}", r.pick(SERVICES)),
        ),
        20 => (
            "/usr/bin/make",
            format!("make -C {home}/{dir} {}", r.pick(WORDS)),
        ),
        21 => ("/usr/bin/gcc", format!("gcc -O2 -c {w}.c -o {w}.o")),
        22 => (
            "/usr/bin/cargo",
            format!("cargo build --release -p {}", r.pick(WORDS)),
        ),
        23 => ("/usr/bin/apt-get", "apt-get -qq update".to_string()),
        24 => ("/usr/bin/dpkg", format!("dpkg -l {}", r.pick(WORDS))),
        25 => ("/usr/bin/chmod", format!("chmod 644 {home}/{dir}/{w}")),
        26 => ("/usr/bin/mkdir", format!("mkdir -p {home}/{dir}/{w}")),
        27 => ("/usr/bin/rm", format!("rm -f /tmp/{w}.lock")),
        28 => ("/usr/bin/cp", format!("cp {home}/{dir}/{w} /srv/www/{w}")),
        29 => (
            "/usr/bin/mv",
            format!("mv /tmp/{w}.part {home}/Downloads/{w}"),
        ),
        30 => (
            "/usr/bin/tail",
            format!("tail -n 200 /var/log/{}/{w}.log", r.pick(SERVICES)),
        ),
        31 => ("/usr/bin/xargs", format!("xargs -n1 echo {w}")),
        32 => (
            "/usr/bin/env",
            format!("/usr/bin/env python3 {home}/{dir}/{w}.py"),
        ),
        33 => ("/usr/bin/perl", format!("perl -ne print /tmp/{w}.txt")),
        34 => ("/usr/bin/vim", format!("vim {home}/{dir}/{w}.rs")),
        35 => (
            "/usr/bin/journalctl",
            format!("journalctl -u {} --since -1h", r.pick(SERVICES)),
        ),
        36 => (
            "/usr/local/bin/kubectl",
            format!("kubectl -n {} get pods -o wide", r.pick(WORDS)),
        ),
        37 => ("/usr/bin/id", format!("id -u {}", r.pick(USERS))),
        38 => ("/usr/bin/hostname", "hostname -f".to_string()),
        _ => ("/usr/bin/sort", format!("sort -u /tmp/{w}.txt")),
    };
    let mut e = OwnedEvent::new("DeviceProcessEvents", ts)
        .with("ActionType", "ProcessCreated")
        .with("DeviceName", format!("host-{}", r.below(50)))
        .with("FileName", image.rsplit('/').next().unwrap_or(image))
        .with("FolderPath", image)
        .with("ProcessCommandLine", cmd)
        .with("ProcessId", (1000 + r.below(60_000)) as i64)
        .with("AccountName", user)
        .with("InitiatingProcessFolderPath", r.pick(PARENTS))
        .with(
            "InitiatingProcessCommandLine",
            format!("-bash --login {}", r.below(10)),
        )
        .with("InitiatingProcessAccountName", user)
        .with("InitiatingProcessId", (1000 + r.below(60_000)) as i64)
        .with("SHA256", format!("{:016x}{:016x}", r.next(), r.next()));
    e.set_additional("cwd", format!("{home}/{dir}"));
    e
}

fn file(r: &mut Rng, ts: i64) -> OwnedEvent {
    let user = r.pick(USERS);
    let w = path_word(r);
    let path = match r.below(10) {
        0 => format!("/etc/{}/{}.conf", r.pick(SERVICES), r.pick(WORDS)),
        1 | 2 => format!("/tmp/{w}.tmp"),
        3 | 4 => format!("/home/{user}/{}/{w}.txt", r.pick(DIRS)),
        5 => format!("/var/log/{}/{}.log", r.pick(SERVICES), r.pick(WORDS)),
        6 => format!("/var/lib/{}/{w}", r.pick(SERVICES)),
        7 => format!("/var/cache/apt/archives/{w}.deb"),
        8 => format!("/home/{user}/.cache/{}/{w}", r.pick(WORDS)),
        _ => format!("/srv/www/{}/{w}.html", r.pick(WORDS)),
    };
    let action = [
        "FileCreated",
        "FileModified",
        "FileModified",
        "FileDeleted",
        "FileRenamed",
    ][r.below(5)];
    let writer = r.pick(&[
        "/usr/bin/vim",
        "/usr/bin/python3",
        "/usr/bin/dpkg",
        "/usr/sbin/rsyslogd",
        "/usr/bin/bash",
        "/usr/bin/node",
        "/usr/bin/cargo",
        "/usr/lib/systemd/systemd-journald",
        "/usr/sbin/nginx",
    ]);
    OwnedEvent::new("DeviceFileEvents", ts)
        .with("ActionType", action)
        .with("DeviceName", format!("host-{}", r.below(50)))
        .with(
            "FileName",
            path.rsplit('/').next().unwrap_or("").to_string(),
        )
        .with("FolderPath", path)
        .with("InitiatingProcessFolderPath", writer)
        .with(
            "InitiatingProcessCommandLine",
            format!(
                "{} {}",
                writer.rsplit('/').next().unwrap_or(""),
                r.pick(WORDS)
            ),
        )
        .with("InitiatingProcessAccountName", user)
}

fn network(r: &mut Rng, ts: i64) -> OwnedEvent {
    let inbound = r.chance(150);
    let remote = if r.chance(400) {
        format!("10.{}.{}.{}", r.below(255), r.below(255), r.below(255))
    } else {
        format!(
            "{}.{}.{}.{}",
            1 + r.below(222),
            r.below(255),
            r.below(255),
            1 + r.below(254)
        )
    };
    let port = [443, 80, 22, 53, 5432, 6379, 8080, 9090, 3000, 25][r.below(10)];
    let proc_ = r.pick(&[
        "/usr/bin/curl",
        "/usr/lib/firefox/firefox",
        "/usr/bin/ssh",
        "/usr/bin/python3",
        "/usr/bin/node",
        "/usr/lib/jvm/java-17/bin/java",
        "/usr/lib/apt/methods/http",
        "/usr/sbin/sshd",
        "/usr/sbin/nginx",
        "/usr/bin/git",
    ]);
    let mut e = OwnedEvent::new("DeviceNetworkEvents", ts)
        .with(
            "ActionType",
            if inbound {
                "InboundConnectionAccepted"
            } else if r.chance(50) {
                "ConnectionFailed"
            } else {
                "ConnectionSuccess"
            },
        )
        .with("DeviceName", format!("host-{}", r.below(50)))
        .with("RemoteIP", remote)
        .with(
            "RemotePort",
            if inbound {
                30_000 + r.below(30_000) as i64
            } else {
                port
            },
        )
        .with("LocalIP", format!("10.0.0.{}", 1 + r.below(250)))
        .with(
            "LocalPort",
            if inbound {
                port
            } else {
                30_000 + r.below(30_000) as i64
            },
        )
        .with("Protocol", "Tcp")
        .with("InitiatingProcessFolderPath", proc_)
        .with(
            "InitiatingProcessCommandLine",
            format!(
                "{} {}",
                proc_.rsplit('/').next().unwrap_or(""),
                r.pick(WORDS)
            ),
        )
        .with("InitiatingProcessAccountName", r.pick(USERS));
    if r.chance(500) {
        e.set("RemoteUrl", r.pick(DOMAINS));
    }
    e
}

fn dns(r: &mut Rng, ts: i64) -> OwnedEvent {
    let name = if r.chance(300) {
        format!("{}-{}.{}", r.pick(WORDS), r.below(100), r.pick(DOMAINS))
    } else {
        r.pick(DOMAINS).to_string()
    };
    OwnedEvent::new("DeviceEvents", ts)
        .with("ActionType", "DnsQueryResponse")
        .with("DeviceName", format!("host-{}", r.below(50)))
        .with("RemoteUrl", name)
}

/// The mix: 55 % process creations, 25 % file events, 12 % connections, 8 % DNS.
fn events(n: usize, seed: u64) -> Vec<OwnedEvent> {
    let mut r = Rng(seed);
    (0..n)
        .map(|i| {
            let ts = 1_767_225_600_000 + i as i64;
            match r.below(100) {
                0..=54 => process(&mut r, ts),
                55..=79 => file(&mut r, ts),
                80..=91 => network(&mut r, ts),
                _ => dns(&mut r, ts),
            }
        })
        .collect()
}

/// The corpus and `content/rules`, or the directories in `SIGMA_RULES` (`:`-separated).
fn rule_dirs() -> Vec<PathBuf> {
    if let Some(v) = std::env::var_os("SIGMA_RULES") {
        return std::env::split_paths(&v).filter(|p| p.is_dir()).collect();
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    [
        root.join("../../../shared/corpora/sigma/rules-linux"),
        root.join("../../content/rules"),
    ]
    .into_iter()
    .filter(|p| p.is_dir())
    .collect()
}

fn load(mapping: &Mapping, dirs: &[PathBuf]) -> (RuleSet, Vec<PathBuf>) {
    let mut loader = Loader::new(mapping);
    for d in dirs {
        if let Err(e) = loader.add_dir(d) {
            eprintln!("cannot read {}: {e}", d.display());
        }
    }
    let (set, report) = loader.build();
    let loaded: Vec<PathBuf> = report
        .files
        .iter()
        .filter(|f| f.status == Status::Loaded)
        .map(|f| PathBuf::from(&f.path))
        .collect();
    (set, loaded)
}

/// CPU time of this thread in ns (`/proc/thread-self/schedstat`), to measure per-core
/// throughput on a shared machine; `None` where unavailable.
fn cpu_ns() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    s.split_whitespace().next()?.parse().ok()
}

/// Events per second of CPU time (falls back to wall time).
struct Rate {
    cpu: f64,
    wall: f64,
}

impl std::fmt::Display for Rate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:>10.0} events/s per CPU second ({:.0} by wall clock)",
            self.cpu, self.wall
        )
    }
}

fn run(set: &RuleSet, pool: &[OwnedEvent], n: usize, naive: bool) -> (Rate, usize) {
    let (rate, raised, _) = run_stats(set, pool, n, naive);
    (rate, raised)
}

fn run_stats(
    set: &RuleSet,
    pool: &[OwnedEvent],
    n: usize,
    naive: bool,
) -> (Rate, usize, vigil_sigma::EvalStats) {
    let mut ev = Evaluator::new(set);
    let mut out: Vec<Detection> = Vec::with_capacity(16);
    let mut raised = 0usize;
    let start = Instant::now();
    let cpu0 = cpu_ns();
    for i in 0..n {
        out.clear();
        let e = &pool[i % pool.len()];
        if naive {
            ev.evaluate_naive(e, &mut out);
        } else {
            ev.evaluate(e, &mut out);
        }
        raised += out.len();
        black_box(&out);
    }
    let secs = start.elapsed().as_secs_f64();
    let cpu_secs = match (cpu0, cpu_ns()) {
        (Some(a), Some(b)) if b > a => (b - a) as f64 / 1e9,
        _ => secs,
    };
    let rate = Rate {
        cpu: n as f64 / cpu_secs,
        wall: n as f64 / secs,
    };
    (rate, raised, ev.stats())
}

/// `SIGMA_VERBOSE=1`: which rules the prefilter cannot guard and which rules the mix raises.
fn verbose(set: &RuleSet, pool: &[OwnedEvent]) {
    use vigil_sigma::Event;
    for table in [
        "DeviceProcessEvents",
        "DeviceFileEvents",
        "DeviceNetworkEvents",
        "DeviceEvents",
    ] {
        let sub: Vec<OwnedEvent> = pool
            .iter()
            .filter(|e| e.table() == table)
            .cloned()
            .collect();
        if sub.is_empty() {
            continue;
        }
        let (r, _, st) = run_stats(set, &sub, 300_000, false);
        println!(
            "  {table}: {r}; {:.2} targets evaluated, {:.0} bytes scanned per event",
            st.evaluated as f64 / st.events.max(1) as f64,
            st.scanned_bytes as f64 / st.events.max(1) as f64
        );
    }
    for b in set.index_summary() {
        let scans: Vec<String> = b.scans.iter().map(|(f, n)| format!("{f}:{n}")).collect();
        println!(
            "  bucket {}/{}: {} always; scans {}",
            b.table,
            b.action_type,
            b.always,
            scans.join(" ")
        );
    }
    for r in set.unguarded() {
        println!(
            "  unguarded: {} ({})",
            r.title,
            r.path.rsplit('/').next().unwrap_or("")
        );
    }
    let mut ev = Evaluator::new(set).with_profile();
    let mut out = Vec::new();
    for e in pool {
        out.clear();
        ev.evaluate(e, &mut out);
    }
    let mut prof: Vec<(usize, (u64, u64, u64))> = ev
        .profile()
        .unwrap_or_default()
        .iter()
        .copied()
        .enumerate()
        .collect();
    prof.sort_by_key(|p| std::cmp::Reverse(p.1 .2));
    println!(
        "  most costly rules (evaluated, matched, ns per evaluation) over {} events:",
        pool.len()
    );
    for (r, (e, m, ns)) in prof.into_iter().take(20) {
        let r = set.rule(r as u32);
        let title = r.map(|r| r.title.as_str()).unwrap_or("?");
        let file = r
            .map(|r| r.path.rsplit('/').next().unwrap_or(""))
            .unwrap_or("");
        println!("    {e:>7} {m:>7} {:>6}  {title} ({file})", ns / e.max(1));
    }
}

fn main() {
    let n: usize = std::env::var("SIGMA_EVENTS")
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(1_000_000);
    let mapping = Mapping::linux();
    let dirs = rule_dirs();
    let t = Instant::now();
    let (set, loaded) = load(&mapping, &dirs);
    let (targets, filtered) = set.target_counts();
    println!(
        "rules: {} loaded from {} files ({}), compiled into {targets} (rule, target) pairs, {filtered} behind the literal prefilter; load+compile {:.0} ms",
        set.rules().len(),
        loaded.len(),
        dirs.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", "),
        t.elapsed().as_secs_f64() * 1e3
    );
    // Events are generated into a pool and reused in turn. In the server an event is matched
    // right after it is decoded, while it is in cache: the main measurement uses a pool that
    // fits in the caches (`SIGMA_POOL`, default 1024 events); a second one, on 100,000 events,
    // shows the cost when every event comes cold from memory.
    let pool_size = std::env::var("SIGMA_POOL")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024usize);
    let pool = events(pool_size.clamp(1, n.max(1)), 0x5151_2026);
    println!(
        "events: {n} per measurement, 55 % process, 25 % file, 12 % network, 8 % DNS; one thread"
    );

    if std::env::var_os("SIGMA_VERBOSE").is_some() {
        verbose(&set, &pool);
    }
    // Warm-up, then the indexed evaluation.
    run(&set, &pool, pool.len().min(50_000), false);
    let (fast, raised, st) = run_stats(&set, &pool, n, false);
    println!(
        "vigil-sigma indexed: {fast}   ({} events in cache; {raised} detections, {:.3} per event; {:.2} of {targets} rule targets evaluated per event)",
        pool.len(),
        raised as f64 / n as f64,
        st.evaluated as f64 / st.events.max(1) as f64,
    );
    println!(
        "  prefilter: {:.0} bytes scanned and {:.1} literal hits per event",
        st.scanned_bytes as f64 / st.events.max(1) as f64,
        st.literal_hits as f64 / st.events.max(1) as f64,
    );
    // The naive baseline on a tenth of the events (it is much slower), cross-checked with the
    // indexed evaluation on the same events. `SIGMA_SKIP_NAIVE=1` skips it (for profiling).
    if std::env::var_os("SIGMA_SKIP_NAIVE").is_none() {
        let n_naive = (n / 10).max(pool.len().min(n));
        let (slow, raised_naive) = run(&set, &pool, n_naive, true);
        let (_, raised_check) = run(&set, &pool, n_naive, false);
        assert_eq!(
            raised_naive, raised_check,
            "indexed and naive evaluation disagree"
        );
        println!("vigil-sigma naive:   {slow}   (same events; every rule of the event's table and ActionType, no prefilter)");
        println!("ratio indexed/naive: {:.1}x", fast.cpu / slow.cpu);
        let cold = events(100_000.min(n.max(1)), 0x0c01_d000);
        let (c, _) = run(&set, &cold, n, false);
        println!(
            "vigil-sigma indexed, events cold from memory: {c}   ({} distinct events)",
            cold.len()
        );
    }

    #[cfg(feature = "bench-rsigma")]
    rsigma::compare(&set, &loaded, &pool, n, fast.cpu);
    #[cfg(not(feature = "bench-rsigma"))]
    println!("rsigma: not measured (build with `--features bench-rsigma` to compare)");
}

#[cfg(feature = "bench-rsigma")]
#[path = "compare/rsigma.rs"]
mod rsigma;
