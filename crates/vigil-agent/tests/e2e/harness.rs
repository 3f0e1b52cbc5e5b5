//! One Vigil deployment for the whole test binary: a real server (in-process, its own data
//! directory and loopback ports, mutual TLS) and the real agent binary enrolled with it and
//! streaming to it. Tests run one at a time ([`serial`]) so that each sees only its own
//! activity, and read alerts through the HTTP API as an analyst would.

#[path = "../common/tied.rs"]
mod tied;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};
use tied::spawn_tied;

use serde_json::Value;

pub struct Stack {
    pub dir: PathBuf,
    pub api: String,
    token: String,
    pub device_id: String,
    // Kept alive for the life of the test binary (the agent ends with it).
    _agent: Mutex<std::process::Child>,
    _rt: tokio::runtime::Runtime,
    _server: vigil_server::RunningServer,
}

pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Tests of this binary run one after the other: a benign workload must not see a
/// technique's alerts.
pub fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

/// The shared deployment, or `None` (after printing why) without root.
pub fn stack() -> Option<&'static Stack> {
    static STACK: OnceLock<Option<Stack>> = OnceLock::new();
    let s = STACK.get_or_init(|| is_root().then(Stack::start));
    if s.is_none() {
        println!("skipped: needs root to load the agent's eBPF sensors");
    }
    s.as_ref()
}

pub fn now_ms() -> i64 {
    vigil_server::now_ms()
}

impl Stack {
    fn start() -> Stack {
        let dir = std::env::temp_dir().join(format!("vigil-e2e-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let mut cfg = vigil_server::ServerConfig::default();
        cfg.server.data_dir = dir.join("server");
        cfg.server.grpc_addr = "127.0.0.1:0".parse().unwrap();
        cfg.server.http_addr = "127.0.0.1:0".parse().unwrap();
        let server = rt
            .block_on(vigil_server::start(cfg))
            .expect("start the server");
        let (_, secret) = rt
            .block_on(
                server
                    .ctx
                    .state
                    .create_enrollment_token("e2e", None, Some(1), now_ms()),
            )
            .expect("enrolment token");
        let token = std::fs::read_to_string(&server.admin_token_path)
            .expect("admin token")
            .trim()
            .to_string();

        let agent_dir = dir.join("agent");
        let st = Command::new(env!("CARGO_BIN_EXE_vigil-agent"))
            .args(["enroll", "--server", &server.grpc_addr.to_string()])
            .args(["--token", &secret, "--ca-cert"])
            .arg(&server.ca_path)
            .arg("--state-dir")
            .arg(&agent_dir)
            .status()
            .expect("run vigil-agent enroll");
        assert!(st.success(), "vigil-agent enroll failed: {st}");

        // The agent's defaults, as `vigil up` runs it.
        let cfg_path = dir.join("agent.toml");
        std::fs::write(&cfg_path, "").expect("agent config");
        let log = std::fs::File::create(dir.join("agent.log")).expect("log file");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_vigil-agent"));
        cmd.arg("run")
            .arg("--config")
            .arg(&cfg_path)
            .arg("--state-dir")
            .arg(&agent_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        let agent = spawn_tied(cmd).expect("start vigil-agent");

        let mut stack = Stack {
            api: format!("http://{}", server.http_addr),
            token,
            device_id: String::new(),
            dir,
            _agent: Mutex::new(agent),
            _rt: rt,
            _server: server,
        };
        // Running means sensors attached; the device row appears with the first upload.
        let status = agent_dir.join("status.json");
        wait_until("the agent to run and report", 120, || {
            let running = std::fs::read_to_string(&status)
                .unwrap_or_default()
                .contains("\"state\": \"running\"");
            let devices = stack.get("/api/v1/devices");
            let seen = devices
                .as_array()
                .and_then(|d| d.first())
                .filter(|d| !d["LastSeen"].is_null())
                .and_then(|d| d["DeviceId"].as_str())
                .map(str::to_string);
            match (running, seen) {
                (true, Some(id)) => {
                    stack.device_id = id;
                    true
                }
                _ => false,
            }
        });
        stack
    }

    pub fn get(&self, path: &str) -> Value {
        let agent = http();
        let mut r = agent
            .get(format!("{}{path}", self.api))
            .header("Authorization", format!("Bearer {}", self.token))
            .call()
            .expect("HTTP API call");
        assert_eq!(r.status().as_u16(), 200, "GET {path}");
        r.body_mut().read_json().expect("JSON body")
    }

    /// The single number a one-row SQL query returns.
    pub fn sql_count(&self, sql: &str) -> i64 {
        let agent = http();
        let mut r = agent
            .post(format!("{}/api/v1/events/sql", self.api))
            .header("Authorization", format!("Bearer {}", self.token))
            .send_json(serde_json::json!({ "sql": sql }))
            .expect("HTTP API call");
        let v: Value = r.body_mut().read_json().expect("JSON body");
        v["rows"][0]
            .as_object()
            .and_then(|o| o.values().next())
            .and_then(Value::as_i64)
            .unwrap_or_else(|| panic!("{sql}: {v}"))
    }

    /// Alerts with activity since `since_ms`.
    pub fn alerts_since(&self, since_ms: i64) -> Vec<Value> {
        self.get(&format!("/api/v1/alerts?since_ms={since_ms}"))
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Wait for an alert carrying `technique` whose evidence mentions `marker`; returns it
    /// and how long after `since` it became visible.
    pub fn expect_alert(
        &self,
        what: &str,
        since: (i64, Instant),
        technique: &str,
        marker: &str,
    ) -> (Value, Duration) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let alerts = self.alerts_since(since.0 - 1_000);
            if let Some(a) = alerts.iter().find(|a| {
                a["AttackTechniques"]
                    .as_array()
                    .is_some_and(|t| t.iter().any(|t| t == technique))
                    && a["Evidence"].to_string().contains(marker)
            }) {
                let took = since.1.elapsed();
                println!(
                    "{what}: alert {:?} ({}, {}) visible {} ms after the technique ran (target 2 s)",
                    a["Title"].as_str().unwrap_or(""),
                    a["Severity"].as_str().unwrap_or(""),
                    technique,
                    took.as_millis()
                );
                return (a.clone(), took);
            }
            if Instant::now() > deadline {
                let seen: Vec<String> = alerts
                    .iter()
                    .map(|a| format!("{} {} {}", a["Title"], a["AttackTechniques"], a["Evidence"]))
                    .collect();
                panic!(
                    "{what}: no alert with {technique} mentioning {marker:?} within 30 s; alerts since: {seen:#?}\nagent log: {}",
                    self.agent_log()
                );
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    pub fn agent_log(&self) -> String {
        let log = std::fs::read_to_string(self.dir.join("agent.log")).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(20).collect();
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    }

    /// A scratch directory of the test.
    pub fn scratch(&self, name: &str) -> PathBuf {
        let p = self.dir.join("scratch").join(name);
        std::fs::create_dir_all(&p).expect("scratch dir");
        p
    }
}

/// An HTTP client that returns error statuses as responses (the tests check them).
fn http() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

pub fn wait_until(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Run a shell command line; panics with its output when it fails.
pub fn sh(cmd: &str) -> String {
    let out = Command::new("/bin/sh")
        .args(["-c", cmd])
        .output()
        .expect("run /bin/sh");
    assert!(
        out.status.success(),
        "`{cmd}` failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
