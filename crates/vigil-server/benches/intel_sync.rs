//! Indicator sync benchmark (a binary, not a test): how long an agent takes to receive a
//! million indicators from the real `vigil-server` binary over the real protocol (gRPC, mutual
//! TLS), store them in its on-disk cache (fsynced) and build its matcher; then how long a
//! one-indicator change takes to arrive as a delta.
//!
//! Baseline, measured in the same run on the same server and indicators: the naive way an
//! agent could get them, one HTTP download of the whole list as CSV (`GET
//! /api/v1/indicators/export`) read into the same matcher, without any cache on disk.
//!
//! `INTEL_N` sets the number of indicators (default 1,000,000: 45% SHA-256, 10% SHA-1, 10%
//! MD5, 15% IPv4, 5% IPv4 networks, 2% IPv6, 10% domains, 3% URLs).
//!
//! Run: `cargo bench -p vigil-server --bench intel_sync` (target: full sync ≤ 10 s).

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{enroll_many, env_n, Server};
use vigil_intel::import::{self, Format, ImportOptions};
use vigil_intel::IntelSet;
use vigil_uplink::spool::SpoolOptions;
use vigil_uplink::{IntelOptions, Uplink, UplinkOptions};

/// splitmix64.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn hex(&mut self, digits: usize) -> String {
        let mut s = String::with_capacity(digits);
        while s.len() < digits {
            s.push_str(&format!("{:016x}", self.next()));
        }
        s.truncate(digits);
        s
    }
}

/// `n` distinct indicators as Vigil CSV.
fn csv(n: u64) -> String {
    let mut rng = Rng(7);
    let mut out = String::from("type,value,action,severity,title\n");
    for i in 0..n {
        let pick = i % 100;
        let (kind, value) = match pick {
            0..=44 => ("sha256", rng.hex(64)),
            45..=54 => ("sha1", rng.hex(40)),
            55..=64 => ("md5", rng.hex(32)),
            65..=79 => ("ip", {
                let v = (i as u32).wrapping_mul(2_654_435_761);
                std::net::Ipv4Addr::from(v | 0x0100_0000).to_string()
            }),
            80..=84 => ("cidr", {
                let v = (i as u32).wrapping_mul(2_246_822_519) & 0xffff_ff00;
                format!("{}/24", std::net::Ipv4Addr::from(v | 0x0100_0000))
            }),
            85..=86 => ("ip", format!("2001:db8:{:x}::{:x}", i >> 16, i & 0xffff)),
            87..=96 => ("domain", format!("h{i}.{}.example", rng.hex(6))),
            _ => ("url", format!("http://s{i}.example/{}", rng.hex(10))),
        };
        let action = if i % 10 == 0 { "block" } else { "audit" };
        out.push_str(&format!("{kind},{value},{action},medium,bench {i}\n"));
    }
    out
}

fn main() {
    let n = env_n("INTEL_N", 1_000_000);
    let server = Server::start(true);
    let token = std::fs::read_to_string(server.dir.path().join("admin.token")).unwrap();
    let auth = format!("Bearer {}", token.trim());

    let text = csv(n);
    let t = Instant::now();
    let mut resp = ureq::post(format!(
        "http://{}/api/v1/indicators/import?format=csv&source=bench",
        server.http
    ))
    .header("Authorization", &auth)
    .send(text.as_bytes())
    .unwrap();
    let report: serde_json::Value = resp.body_mut().read_json().unwrap();
    assert_eq!(report["added"].as_u64(), Some(n), "{report}");
    println!(
        "import of {n} indicators (CSV over the API, one transaction): {:.2} s",
        t.elapsed().as_secs_f64()
    );

    // Baseline: the whole list as one HTTP download, read into the matcher.
    let t = Instant::now();
    let body = ureq::get(format!("http://{}/api/v1/indicators/export", server.http))
        .header("Authorization", &auth)
        .call()
        .unwrap()
        .body_mut()
        .with_config()
        .limit(1 << 31)
        .read_to_vec()
        .unwrap();
    let got = import::import(Format::Csv, &body, &ImportOptions::new("baseline", 0)).unwrap();
    let set = IntelSet::new(got.indicators);
    assert_eq!(set.len() as u64, n);
    let baseline = t.elapsed();
    drop(set);

    // Vigil: a fresh agent's first sync.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (enrolled, dir) = enroll_many(&server, 1, "sync", &rt);
    let seen: Arc<Mutex<Option<(Instant, usize)>>> = Arc::default();
    let s2 = Arc::clone(&seen);
    let target = n as usize;
    let mut opts = UplinkOptions::new(SpoolOptions::new(dir.path().join("spool")));
    opts.intel = Some(IntelOptions {
        dir: dir.path().join("intel"),
        on_update: Arc::new(move |set: Arc<IntelSet>| {
            let mut s = s2.lock().unwrap();
            if set.len() >= target || s.is_some() {
                *s = Some((Instant::now(), set.len()));
            }
        }),
        max_interval: Duration::from_millis(200),
    });
    let t = Instant::now();
    let up = Uplink::start(enrolled[0].clone(), opts).unwrap();
    let deadline = Instant::now() + Duration::from_secs(600);
    let full = loop {
        if let Some((at, len)) = *seen.lock().unwrap() {
            if len >= target {
                break at.duration_since(t);
            }
        }
        assert!(Instant::now() < deadline, "the sync did not finish");
        std::thread::sleep(Duration::from_millis(5));
    };
    let cache_bytes = std::fs::metadata(dir.path().join("intel/indicators.log"))
        .map(|m| m.len())
        .unwrap_or(0);

    // A delta: one indicator added on the server.
    *seen.lock().unwrap() = None;
    let t = Instant::now();
    ureq::post(format!("http://{}/api/v1/indicators", server.http))
        .header("Authorization", &auth)
        .send_json(serde_json::json!({ "type": "domain", "value": "delta.bench.example", "action": "block" }))
        .unwrap();
    let delta = loop {
        if let Some((at, len)) = *seen.lock().unwrap() {
            if len > target {
                break at.duration_since(t);
            }
        }
        assert!(
            t.elapsed() < Duration::from_secs(120),
            "the delta did not arrive"
        );
        std::thread::sleep(Duration::from_millis(5));
    };
    up.shutdown(Duration::from_secs(2));

    println!(
        "full sync of {n} indicators to an agent (gRPC+mTLS, cache fsynced, matcher built): {:.2} s",
        full.as_secs_f64()
    );
    println!("  agent cache on disk: {:.1} MB", cache_bytes as f64 / 1e6);
    println!(
        "baseline, one CSV download of the same list into the matcher (no cache): {:.2} s",
        baseline.as_secs_f64()
    );
    println!(
        "ratio sync/baseline: {:.2}",
        full.as_secs_f64() / baseline.as_secs_f64()
    );
    println!(
        "one new indicator on the server → in the agent's matcher: {} ms (sync every ≤200 ms here; heartbeats announce changes)",
        delta.as_millis()
    );
    println!(
        "target full sync ≤ 10 s: {}",
        if full <= Duration::from_secs(10) {
            "met"
        } else {
            "NOT met"
        }
    );
}
