//! Matching cost per event with a million indicators loaded: `IntelSet` against a naive
//! baseline (string-keyed hash maps, allocating as straightforward code does), on the same
//! seeded indicators and events, checking that both find the same hits.
//!
//! Run: `cargo bench -p vigil-intel --bench intel_match` (pin it to one core with
//! `taskset -c 1` in front). Sizes: `INTEL_N` indicators (default 1,000,000, split as below),
//! `INTEL_EVENTS` events (default 1,000,000), `INTEL_SEED` (default 1).
//!
//! Indicators (per million): 450k SHA-256, 100k SHA-1, 100k MD5, 150k IPv4 addresses, 50k IPv4
//! networks (/12 to /31, about 1.5% of the address space), 20k IPv6 addresses and networks,
//! 100k domains (30% with three labels), 30k URLs (20% on an address host).
//! Events: 50% process events (SHA256 and InitiatingProcessSHA256), 30% network events
//! (RemoteIP as text, RemoteUrl as a host name or, one time in three, a URL), 20% file events
//! (SHA256, SHA1, MD5). Hashes and most addresses are fresh random values (the cache-cold
//! worst case); half the host names come from a pool of 2,000 common ones. About 0.4% of
//! lookups are given a value that the set holds (a hash, an address inside a network, a
//! subdomain, a listed URL), so that about 1% of events hit.
//!
//! Times are per event, the fastest of a few passes, as on-CPU time of the thread (from
//! `/proc/thread-self/schedstat`, so that a busy machine's waits for the core are not counted;
//! it advances at scheduler ticks, which passes of a million events dwarf) and as wall time. `INTEL_BASELINE=0` skips the baseline (and its comparison).

use std::collections::HashMap;
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Instant;

use rand::rngs::SmallRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use vigil_intel::{normalize, Action, Indicator, IndicatorType, IntelSet};

const TARGET_NS: f64 = 200.0;
/// Chance that one lookup is given a value from the set.
const HIT_RATE: f64 = 0.004;
const TLDS: [&str; 10] = [
    "com", "net", "org", "ru", "cn", "info", "xyz", "top", "io", "de",
];

fn env(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(v) => v
            .replace('_', "")
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a whole number")),
        Err(_) => default,
    }
}

/// One telemetry row's values, as generated.
enum Owned {
    Process([String; 2]),
    Network([String; 2]),
    File([String; 3]),
}

/// The values to check of one row. Their text lies in one buffer, row after row, as in the
/// Arrow string columns the server matches.
enum Event<'a> {
    Process {
        sha256: &'a str,
        parent_sha256: &'a str,
    },
    Network {
        remote_ip: &'a str,
        remote_url: &'a str,
    },
    File {
        sha256: &'a str,
        sha1: &'a str,
        md5: &'a str,
    },
}

/// Packs the rows' text into one buffer.
fn pack(rows: &[Owned]) -> String {
    let mut text = String::new();
    for r in rows {
        match r {
            Owned::Process(v) | Owned::Network(v) => v.iter().for_each(|f| text.push_str(f)),
            Owned::File(v) => v.iter().for_each(|f| text.push_str(f)),
        }
    }
    text
}

/// The rows as slices of `text` (made by `pack` from the same rows).
fn unpack<'a>(rows: &[Owned], text: &'a str) -> Vec<Event<'a>> {
    let mut at = 0;
    let mut take = |f: &String| {
        at += f.len();
        &text[at - f.len()..at]
    };
    rows.iter()
        .map(|r| match r {
            Owned::Process([a, b]) => Event::Process {
                sha256: take(a),
                parent_sha256: take(b),
            },
            Owned::Network([a, b]) => Event::Network {
                remote_ip: take(a),
                remote_url: take(b),
            },
            Owned::File([a, b, c]) => Event::File {
                sha256: take(a),
                sha1: take(b),
                md5: take(c),
            },
        })
        .collect()
}

struct Gen {
    rng: SmallRng,
}

impl Gen {
    fn hex(&mut self, digits: usize) -> String {
        let mut s = String::with_capacity(digits);
        while s.len() < digits {
            let w: u64 = self.rng.random();
            s.push_str(&format!("{w:016x}"));
        }
        s.truncate(digits);
        s
    }

    fn label(&mut self, min: usize, max: usize) -> String {
        let n = self.rng.random_range(min..=max);
        (0..n)
            .map(|_| {
                *b"abcdefghijklmnopqrstuvwxyz0123456789"
                    .choose(&mut self.rng)
                    .unwrap() as char
            })
            .collect()
    }

    fn domain(&mut self) -> String {
        let tld = TLDS.choose(&mut self.rng).unwrap();
        let name = self.label(5, 14);
        if self.rng.random_bool(0.3) {
            format!("{}.{name}.{tld}", self.label(2, 8))
        } else {
            format!("{name}.{tld}")
        }
    }

    /// A public-looking IPv4 address (1.0.0.0 to 223.255.255.255).
    fn v4(&mut self) -> Ipv4Addr {
        Ipv4Addr::from(self.rng.random_range(0x0100_0000u32..0xe000_0000))
    }

    fn v6(&mut self) -> Ipv6Addr {
        let hi = 0x2000u128 | self.rng.random_range(0..0x2000u128);
        Ipv6Addr::from((hi << 112) | (self.rng.random::<u128>() >> 16))
    }

    fn path(&mut self) -> String {
        let mut p = format!("/{}", self.label(3, 12));
        if self.rng.random_bool(0.5) {
            p.push_str(&format!("/{}.php", self.label(3, 10)));
        }
        if self.rng.random_bool(0.4) {
            p.push_str(&format!("?id={}", self.label(4, 20)));
        }
        p
    }

    fn action(&mut self) -> Action {
        match self.rng.random_range(0..100) {
            0..=2 => Action::Allow,
            3..=60 => Action::Audit,
            61..=80 => Action::Warn,
            81..=95 => Action::Block,
            _ => Action::BlockAndRemediate,
        }
    }
}

/// Values of the indicators, kept to build hits from.
#[derive(Default)]
struct Loaded {
    sha256: Vec<String>,
    sha1: Vec<String>,
    md5: Vec<String>,
    v4: Vec<Ipv4Addr>,
    v4_nets: Vec<(Ipv4Addr, u8)>,
    domains: Vec<String>,
    urls: Vec<String>,
}

fn indicators(g: &mut Gen, n: usize) -> (Vec<Indicator>, Loaded) {
    let part = |per_million: usize| n * per_million / 1_000_000;
    let mut out = Vec::with_capacity(n);
    let mut loaded = Loaded::default();
    let mut add = |g: &mut Gen, kind, value: &str| {
        let i = Indicator::new(kind, value).expect("generated values are valid");
        out.push(i.with_action(g.action()));
    };
    for _ in 0..part(450_000) {
        let v = g.hex(64);
        add(g, IndicatorType::Sha256, &v);
        loaded.sha256.push(v);
    }
    for _ in 0..part(100_000) {
        let v = g.hex(40);
        add(g, IndicatorType::Sha1, &v);
        loaded.sha1.push(v);
    }
    for _ in 0..part(100_000) {
        let v = g.hex(32);
        add(g, IndicatorType::Md5, &v);
        loaded.md5.push(v);
    }
    for _ in 0..part(150_000) {
        let a = g.v4();
        add(g, IndicatorType::Ip, &a.to_string());
        loaded.v4.push(a);
    }
    for _ in 0..part(50_000) {
        // Networks cover about 1.5% of the address space, as the large feeds do.
        let len = match g.rng.random_range(0..10_000) {
            0..=1 => 12,
            2..=49 => 16,
            50..=899 => 20,
            900..=5999 => 24,
            6000..=8499 => 28,
            _ => g.rng.random_range(29..=31),
        };
        let (net, _) = normalize::cidr(&format!("{}/{len}", g.v4())).unwrap();
        let IpAddr::V4(net) = net else { unreachable!() };
        add(g, IndicatorType::Cidr, &format!("{net}/{len}"));
        loaded.v4_nets.push((net, len));
    }
    for i in 0..part(20_000) {
        let a = g.v6();
        if i % 2 == 0 {
            add(g, IndicatorType::Ip, &a.to_string());
        } else {
            let len = *[32u8, 48, 56, 64].choose(&mut g.rng).unwrap();
            add(g, IndicatorType::Cidr, &format!("{a}/{len}"));
        }
    }
    for _ in 0..part(100_000) {
        let d = g.domain();
        add(g, IndicatorType::Domain, &d);
        loaded.domains.push(d);
    }
    for _ in 0..part(30_000) {
        let host = if g.rng.random_bool(0.2) {
            format!("{}:{}", g.v4(), [80, 8080, 443].choose(&mut g.rng).unwrap())
        } else {
            g.domain()
        };
        let scheme = if g.rng.random_bool(0.7) {
            "http"
        } else {
            "https"
        };
        let u = format!("{scheme}://{host}{}", g.path());
        add(g, IndicatorType::Url, &u);
        loaded.urls.push(u);
    }
    (out, loaded)
}

fn events(g: &mut Gen, n: usize, loaded: &Loaded) -> Vec<Owned> {
    let common: Vec<String> = (0..2000)
        .map(|_| {
            format!(
                "{}.{}",
                ["www", "login", "cdn", "api", "mail"][g.rng.random_range(0..5)],
                g.domain()
            )
        })
        .collect();
    let hash = |g: &mut Gen, digits: usize, pool: &[String]| {
        if !pool.is_empty() && g.rng.random_bool(HIT_RATE) {
            pool.choose(&mut g.rng).unwrap().clone()
        } else {
            g.hex(digits)
        }
    };
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let kind = g.rng.random_range(0..10);
        let ev = if kind < 5 {
            Owned::Process([hash(g, 64, &loaded.sha256), hash(g, 64, &loaded.sha256)])
        } else if kind < 8 {
            let hit = g.rng.random_bool(HIT_RATE);
            let remote_ip = if hit && g.rng.random_bool(0.5) && !loaded.v4.is_empty() {
                loaded.v4.choose(&mut g.rng).unwrap().to_string()
            } else if hit && !loaded.v4_nets.is_empty() {
                let (net, len) = *loaded.v4_nets.choose(&mut g.rng).unwrap();
                let host = g.rng.random::<u32>() >> len;
                Ipv4Addr::from(u32::from(net) | host).to_string()
            } else if g.rng.random_bool(0.1) {
                g.v6().to_string()
            } else {
                g.v4().to_string()
            };
            let host = if g.rng.random_bool(HIT_RATE) && !loaded.domains.is_empty() {
                let d = loaded.domains.choose(&mut g.rng).unwrap();
                if g.rng.random_bool(0.5) {
                    d.clone()
                } else {
                    format!("www.{d}")
                }
            } else if g.rng.random_bool(0.5) {
                common.choose(&mut g.rng).unwrap().clone()
            } else {
                format!("{}.{}", g.label(2, 8), g.domain())
            };
            let remote_url = if g.rng.random_bool(HIT_RATE) && !loaded.urls.is_empty() {
                loaded.urls.choose(&mut g.rng).unwrap().clone()
            } else if g.rng.random_bool(1.0 / 3.0) {
                format!("https://{host}{}", g.path())
            } else {
                host
            };
            Owned::Network([remote_ip, remote_url])
        } else {
            Owned::File([
                hash(g, 64, &loaded.sha256),
                hash(g, 40, &loaded.sha1),
                hash(g, 32, &loaded.md5),
            ])
        };
        out.push(ev);
    }
    out
}

/// What a matcher answers for one event: the winning index of each lookup.
type Answers = [Option<u32>; 3];

fn check_set(set: &IntelSet, ev: &Event) -> Answers {
    let i = |h: Option<vigil_intel::Hit<'_>>| h.map(|h| h.index);
    match ev {
        Event::Process {
            sha256,
            parent_sha256,
        } => [
            i(set.file_hash(sha256)),
            i(set.file_hash(parent_sha256)),
            None,
        ],
        Event::Network {
            remote_ip,
            remote_url,
        } => [i(set.ip_text(remote_ip)), i(set.remote(remote_url)), None],
        Event::File { sha256, sha1, md5 } => [
            i(set.file_hash(sha256)),
            i(set.file_hash(sha1)),
            i(set.file_hash(md5)),
        ],
    }
}

/// The baseline: one `HashMap<String, usize>` per kind over the canonical text, every lookup
/// building its key as a new string.
struct Naive {
    maps: HashMap<IndicatorType, HashMap<String, usize>>,
    indicators: Vec<Indicator>,
}

impl Naive {
    fn new(indicators: Vec<Indicator>) -> Naive {
        let mut maps: HashMap<IndicatorType, HashMap<String, usize>> = HashMap::new();
        for (i, ind) in indicators.iter().enumerate() {
            // Addresses are networks: `Ip` 1.2.3.4 is the key "1.2.3.4/32".
            let (kind, key) = match ind.kind {
                IndicatorType::Ip | IndicatorType::Cidr => {
                    let (a, len) = normalize::cidr(&ind.value).unwrap();
                    (IndicatorType::Cidr, format!("{a}/{len}"))
                }
                k => (k, ind.value.clone()),
            };
            let slot = maps.entry(kind).or_default().entry(key).or_insert(i);
            if ind.action.precedence() > indicators[*slot].action.precedence() {
                *slot = i;
            }
        }
        Naive { maps, indicators }
    }

    fn get(&self, kind: IndicatorType, key: &str) -> Option<u32> {
        self.maps.get(&kind)?.get(key).map(|&i| i as u32)
    }

    fn file_hash(&self, hex: &str) -> Option<u32> {
        let kind = match hex.len() {
            64 => IndicatorType::Sha256,
            40 => IndicatorType::Sha1,
            32 => IndicatorType::Md5,
            _ => return None,
        };
        self.get(kind, &hex.to_lowercase())
    }

    /// Every prefix length, longest first. (The generated set has no IPv6 network over the
    /// mapped block, so IPv4 needs only IPv4 keys.)
    fn ip(&self, text: &str) -> Option<u32> {
        match normalize::parse_addr(text)? {
            IpAddr::V4(a) => (0..=32u8).rev().find_map(|len| {
                let net = Ipv4Addr::from(u32::from(a) & (u64::from(u32::MAX) << (32 - len)) as u32);
                self.get(IndicatorType::Cidr, &format!("{net}/{len}"))
            }),
            IpAddr::V6(a) => (0..=128u8).rev().find_map(|len| {
                let mask = if len == 0 {
                    0
                } else {
                    u128::MAX << (128 - len)
                };
                let net = Ipv6Addr::from(u128::from(a) & mask);
                self.get(IndicatorType::Cidr, &format!("{net}/{len}"))
            }),
        }
    }

    fn domain(&self, host: &str) -> Option<u32> {
        let host = host.trim_end_matches('.').to_lowercase();
        let labels: Vec<&str> = host.split('.').collect();
        (0..labels.len()).find_map(|i| self.get(IndicatorType::Domain, &labels[i..].join(".")))
    }

    /// A URL or a host name (the generated RemoteUrl values hold no bare address or port).
    fn remote(&self, text: &str) -> Option<u32> {
        if text.contains("://") || text.contains('/') {
            let url = normalize::url(text).ok()?;
            if let Some(i) = self.get(IndicatorType::Url, &url) {
                return Some(i);
            }
            let host = normalize::url_host(&url).to_string();
            return match normalize::parse_addr(&host) {
                Some(_) => self.ip(&host),
                None => self.domain(&host),
            };
        }
        self.domain(text)
    }

    fn check(&self, ev: &Event) -> Answers {
        match ev {
            Event::Process {
                sha256,
                parent_sha256,
            } => [self.file_hash(sha256), self.file_hash(parent_sha256), None],
            Event::Network {
                remote_ip,
                remote_url,
            } => [self.ip(remote_ip), self.remote(remote_url), None],
            Event::File { sha256, sha1, md5 } => [
                self.file_hash(sha256),
                self.file_hash(sha1),
                self.file_hash(md5),
            ],
        }
    }
}

fn rss_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: usize = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

/// Time of one run of `f`: (wall, on-CPU) nanoseconds.
fn timed(f: impl FnOnce()) -> (f64, f64) {
    let (wall, cpu) = (Instant::now(), cpu_ns());
    f();
    let wall = wall.elapsed().as_nanos() as f64;
    let cpu = match (cpu, cpu_ns()) {
        (Some(a), Some(b)) => (b - a) as f64,
        _ => wall,
    };
    (wall, cpu)
}

/// Nanoseconds per item (wall, on-CPU) of the fastest of `rounds` passes over `items`.
fn per_item<T>(items: &[T], rounds: usize, mut check: impl FnMut(&T) -> usize) -> (f64, f64) {
    let mut best = (f64::MAX, f64::MAX);
    for _ in 0..rounds {
        let (wall, cpu) = timed(|| {
            let found: usize = items.iter().map(|x| check(black_box(x))).sum();
            black_box(found);
        });
        let n = items.len().max(1) as f64;
        best = (best.0.min(wall / n), best.1.min(cpu / n));
    }
    best
}

/// Nanoseconds this thread has run on a CPU (so that time spent waiting for the core, on a
/// busy machine, is not counted); falls back to wall time without schedstat.
fn cpu_ns() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    s.split_whitespace().next()?.parse().ok()
}

fn mib(bytes: usize) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else is expected.
    let n = env("INTEL_N", 1_000_000);
    let n_events = env("INTEL_EVENTS", 1_000_000);
    let seed = env("INTEL_SEED", 1) as u64;
    let baseline = env("INTEL_BASELINE", 1) != 0;
    let mut g = Gen {
        rng: SmallRng::seed_from_u64(seed),
    };

    let t = Instant::now();
    let (inds, loaded) = indicators(&mut g, n);
    let rows = events(&mut g, n_events, &loaded);
    let text = pack(&rows);
    let evs = unpack(&rows, &text);
    drop(loaded);
    println!(
        "generated {} indicators and {} events in {:.2} s",
        inds.len(),
        evs.len(),
        t.elapsed().as_secs_f64()
    );

    let indicator_heap: usize = inds
        .iter()
        .map(|i| std::mem::size_of::<Indicator>() + i.value.capacity() + i.title.capacity())
        .sum();
    let copy = baseline.then(|| inds.clone());
    let rss0 = rss_bytes();
    let t = Instant::now();
    let set = IntelSet::new(inds);
    let build = t.elapsed();
    let set_rss = rss_bytes().saturating_sub(rss0);

    let mut event_hits = 0usize;
    let mut lookup_hits = 0usize;
    for ev in &evs {
        let hits = check_set(&set, ev).iter().flatten().count();
        lookup_hits += hits;
        event_hits += usize::from(hits > 0);
    }
    println!(
        "indicators:      {} ({} MiB as Indicator values)",
        set.len(),
        mib(indicator_heap) as u64
    );
    println!(
        "events:          {} ({} with a hit: {:.2}%; {} lookup hits)",
        evs.len(),
        event_hits,
        100.0 * event_hits as f64 / evs.len().max(1) as f64,
        lookup_hits
    );
    let idx = set.index_bytes();
    println!(
        "IntelSet:        built in {:.0} ms; index {:.1} MiB ({:.1} bytes per indicator); RSS +{:.1} MiB over the build",
        build.as_secs_f64() * 1e3,
        mib(idx),
        idx as f64 / set.len().max(1) as f64,
        mib(set_rss)
    );

    // Warm up, then time.
    let answers = |a: Answers| a.iter().flatten().count();
    per_item(&evs, 1, |e| answers(check_set(&set, e)));
    let (ours_wall, ours) = per_item(&evs, 5, |e| answers(check_set(&set, e)));

    // The same lookups by kind, to see where the time goes.
    let mut hashes: Vec<&str> = Vec::new();
    let mut ips: Vec<&str> = Vec::new();
    let mut remotes: Vec<&str> = Vec::new();
    for ev in &evs {
        match *ev {
            Event::Process {
                sha256,
                parent_sha256,
            } => hashes.extend([sha256, parent_sha256]),
            Event::Network {
                remote_ip,
                remote_url,
            } => {
                ips.push(remote_ip);
                remotes.push(remote_url);
            }
            Event::File { sha256, sha1, md5 } => hashes.extend([sha256, sha1, md5]),
        }
    }
    let (v6, v4): (Vec<&str>, Vec<&str>) = ips.iter().partition(|ip| ip.contains(':'));
    let (urls, hosts): (Vec<&str>, Vec<&str>) = remotes.iter().partition(|r| r.contains('/'));
    type Lookup = for<'a> fn(&'a IntelSet, &str) -> Option<vigil_intel::Hit<'a>>;
    let kinds: [(&str, &Vec<&str>, Lookup); 5] = [
        ("file_hash", &hashes, IntelSet::file_hash),
        ("ip_text v4", &v4, IntelSet::ip_text),
        ("ip_text v6", &v6, IntelSet::ip_text),
        ("remote host", &hosts, IntelSet::remote),
        ("remote url", &urls, IntelSet::remote),
    ];
    let mut lookups = Vec::new();
    for (name, values, f) in kinds {
        // Each kind's values packed together, as in a column, so that fetching them costs
        // what it costs in the event loop.
        let column: String = values.concat();
        let mut at = 0;
        let values: Vec<&str> = values
            .iter()
            .map(|v| {
                at += v.len();
                &column[at - v.len()..at]
            })
            .collect();
        // Short passes: wall time (the scheduler's CPU time is updated at ticks only), the
        // fastest of several, which a busy machine interrupts least.
        let (ns, _) = per_item(&values, 7, |v| usize::from(f(&set, v).is_some()));
        lookups.push(format!("{name} {ns:.1}"));
    }

    let mut theirs = None;
    if let Some(copy) = copy {
        let rss1 = rss_bytes();
        let t = Instant::now();
        let naive = Naive::new(copy);
        let naive_build = t.elapsed();
        let naive_rss = rss_bytes().saturating_sub(rss1);
        // Both must find the same hits.
        for (k, ev) in evs.iter().enumerate() {
            let (ours, theirs) = (check_set(&set, ev), naive.check(ev));
            if ours != theirs {
                let show = |a: Answers| a.map(|i| i.map(|i| &naive.indicators[i as usize].value));
                panic!(
                    "event {k}: IntelSet found {:?}, the baseline {:?}",
                    show(ours),
                    show(theirs)
                );
            }
        }
        println!(
            "baseline:        built in {:.0} ms; RSS +{:.1} MiB over the build; same hits on every event",
            naive_build.as_secs_f64() * 1e3,
            mib(naive_rss)
        );
        theirs = Some(per_item(&evs, 2, |e| answers(naive.check(e))));
    }

    println!("per event (on-CPU time, best of 5 passes (baseline: 2); wall time in brackets):");
    println!("  IntelSet       {ours:7.1} ns  [{ours_wall:.1}]");
    if let Some((theirs_wall, theirs)) = theirs {
        println!(
            "  baseline       {theirs:7.1} ns  [{theirs_wall:.1}]  ({:.1}x slower)",
            theirs / ours
        );
    }
    println!(
        "per lookup (ns, wall, fastest of 7 passes over each kind's values): {}",
        lookups.join(", ")
    );
    let verdict = if ours <= TARGET_NS { "MET" } else { "NOT MET" };
    println!(
        "target <= {TARGET_NS:.0} ns/event with {} indicators: {verdict}",
        set.len()
    );
}
