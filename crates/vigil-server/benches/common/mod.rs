//! What the server benchmarks share: the server binary in a temp dir, enrolled simulated
//! agents, percentiles, and process usage from /proc.

#![allow(dead_code)] // each benchmark uses a different part

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn env_n(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn raise_fd_limit() {
    let lim = libc::rlimit {
        rlim_cur: 200_000,
        rlim_max: 200_000,
    };
    // SAFETY: setrlimit with a valid struct; failure only leaves the old limit.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } != 0 {
        eprintln!(
            "note: cannot raise the open-file limit: {}",
            std::io::Error::last_os_error()
        );
    }
}

/// (RSS bytes, CPU seconds) of a process.
pub fn usage(pid: u32) -> (u64, f64) {
    let statm = std::fs::read_to_string(format!("/proc/{pid}/statm")).unwrap_or_default();
    let rss = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse::<u64>().ok())
        .unwrap_or(0)
        * 4096;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let ticks = f.get(11).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0)
        + f.get(12).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (rss, ticks / hz)
}

pub struct Server {
    pub child: Child,
    pub dir: tempfile::TempDir,
    pub grpc: String,
    pub http: String,
}

impl Server {
    /// Start the server binary; `detection: false` runs the store alone.
    pub fn start(detection: bool) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let (grpc, http) = (
            format!("127.0.0.1:{}", free_port()),
            format!("127.0.0.1:{}", free_port()),
        );
        let config = dir.path().join("bench.toml");
        std::fs::write(&config, format!("[detection]\nenabled = {detection}\n")).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_vigil-server"))
            .args(["run", "--data-dir"])
            .arg(dir.path())
            .arg("--config")
            .arg(&config)
            .args(["--grpc-addr", &grpc, "--http-addr", &http])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let s = Server {
            child,
            dir,
            grpc,
            http,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while !s.dir.path().join("admin.token").exists()
            || ureq::get(format!("http://{}/healthz", s.http))
                .call()
                .is_err()
        {
            assert!(Instant::now() < deadline, "server did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        s
    }

    pub fn post(&self, path: &str, body: serde_json::Value) -> serde_json::Value {
        let token = std::fs::read_to_string(self.dir.path().join("admin.token")).unwrap();
        ureq::post(format!("http://{}{path}", self.http))
            .header("Authorization", format!("Bearer {}", token.trim()))
            .send_json(&body)
            .unwrap()
            .body_mut()
            .read_json()
            .unwrap()
    }

    pub fn ca(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("ca.pem")).unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn enroll_many(
    server: &Server,
    n: usize,
    prefix: &str,
    rt: &tokio::runtime::Runtime,
) -> (Vec<vigil_uplink::Enrollment>, tempfile::TempDir) {
    let token = server.post(
        "/api/v1/enrollment-tokens",
        serde_json::json!({ "label": "bench" }),
    )["secret"]
        .as_str()
        .unwrap()
        .to_string();
    let dir = tempfile::tempdir().unwrap();
    let ca = server.ca();
    let out = rt.block_on(async {
        let mut out = Vec::new();
        let mut pending = futures::stream::FuturesOrdered::new();
        for i in 0..n {
            let (ca, token, grpc) = (ca.clone(), token.clone(), server.grpc.clone());
            let d = dir.path().join(format!("{prefix}{i}"));
            pending.push_back(async move {
                vigil_uplink::enroll(
                    &vigil_uplink::EnrollParams {
                        server: &grpc,
                        token: &token,
                        ca_pem: &ca,
                        device_id: &format!("{prefix}{i:05}"),
                        device_name: "bench",
                        agent_version: "bench",
                    },
                    &d,
                )
                .await
                .unwrap()
            });
            if pending.len() >= 32 {
                use futures::StreamExt;
                out.push(pending.next().await.unwrap());
            }
        }
        use futures::StreamExt;
        while let Some(e) = pending.next().await {
            out.push(e);
        }
        out
    });
    (out, dir)
}

pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Streaming detection's counters from `/metrics`: (rows evaluated, rows skipped because the
/// queue was full, alerts created).
pub fn detection_metrics(server: &Server) -> (u64, u64, u64) {
    let metrics = ureq::get(format!("http://{}/metrics", server.http))
        .call()
        .ok()
        .and_then(|mut r| r.body_mut().read_to_string().ok())
        .unwrap_or_default();
    let metric = |name: &str| {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(name)?.trim().parse::<u64>().ok())
            .unwrap_or(0)
    };
    (
        metric("vigil_detection_events_total"),
        metric("vigil_detection_events_skipped_total"),
        metric("vigil_alerts_created_total"),
    )
}

/// Print what streaming detection did over the run.
pub fn detection_counters(server: &Server) {
    let (evaluated, skipped, alerts) = detection_metrics(server);
    println!(
        "detection: {evaluated} rows evaluated, {skipped} skipped (queue full), {alerts} alerts created"
    );
}
