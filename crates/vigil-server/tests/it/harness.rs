//! Shared test setup: servers (in-process or as a child process), API calls, simulated agents.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use vigil_schema::{Col, Row, Table, Timestamp};
use vigil_uplink::spool::SpoolOptions;
use vigil_uplink::{EnrollParams, Enrollment, Uplink, UplinkOptions};

/// A free loopback port (bound, then released).
pub fn free_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// The HTTP API of a server.
#[derive(Clone)]
pub struct Api {
    pub base: String,
    pub token: String,
}

impl Api {
    pub fn new(http: SocketAddr, token_path: &Path) -> Api {
        Api {
            base: format!("http://{http}"),
            token: std::fs::read_to_string(token_path)
                .unwrap()
                .trim()
                .to_string(),
        }
    }

    fn agent() -> ureq::Agent {
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into()
    }

    /// `method` (GET, POST, PATCH, DELETE) with an optional JSON body; (status, body).
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let agent = Self::agent();
        let url = format!("{}{path}", self.base);
        let auth = format!("Bearer {}", self.token);
        let mut r = match (method, body) {
            ("GET", _) => agent.get(&url).header("Authorization", &auth).call(),
            ("DELETE", _) => agent.delete(&url).header("Authorization", &auth).call(),
            ("POST", b) => agent
                .post(&url)
                .header("Authorization", &auth)
                .send_json(b.unwrap_or(Value::Null)),
            ("PATCH", b) => agent
                .patch(&url)
                .header("Authorization", &auth)
                .send_json(b.unwrap_or(Value::Null)),
            (m, _) => panic!("no {m} in the test API client"),
        }
        .unwrap();
        let status = r.status().as_u16();
        (status, r.body_mut().read_json().unwrap_or(Value::Null))
    }

    /// POST raw bytes (an import) and return (status, body).
    pub fn post_raw(&self, path: &str, body: &[u8]) -> (u16, Value) {
        let mut r = Self::agent()
            .post(format!("{}{path}", self.base))
            .header("Authorization", format!("Bearer {}", self.token))
            .send(body)
            .unwrap();
        let status = r.status().as_u16();
        (status, r.body_mut().read_json().unwrap_or(Value::Null))
    }

    /// GET an answer as text (an export).
    pub fn get_text(&self, path: &str) -> (u16, String) {
        let mut r = Self::agent()
            .get(format!("{}{path}", self.base))
            .header("Authorization", format!("Bearer {}", self.token))
            .call()
            .unwrap();
        let status = r.status().as_u16();
        (status, r.body_mut().read_to_string().unwrap_or_default())
    }

    /// POST and return (status, body).
    pub fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.call("POST", path, Some(body))
    }

    pub fn get(&self, path: &str) -> (u16, Value) {
        self.call("GET", path, None)
    }

    pub fn patch(&self, path: &str, body: Value) -> (u16, Value) {
        self.call("PATCH", path, Some(body))
    }

    pub fn delete(&self, path: &str) -> (u16, Value) {
        self.call("DELETE", path, None)
    }

    /// Alerts, with an optional query string (`?status=New`).
    pub fn alerts(&self, query: &str) -> Vec<Value> {
        let (st, v) = self.get(&format!("/api/v1/alerts{query}"));
        assert_eq!(st, 200, "{v}");
        v.as_array().cloned().unwrap_or_default()
    }

    /// A fresh enrolment token's secret.
    pub fn token(&self, max_uses: Option<u32>) -> String {
        let (st, v) = self.post(
            "/api/v1/enrollment-tokens",
            json!({ "label": "test", "max_uses": max_uses }),
        );
        assert_eq!(st, 200, "{v}");
        v["secret"].as_str().unwrap().to_string()
    }

    /// Rows of a SQL query.
    pub fn sql(&self, sql: &str) -> Vec<Value> {
        let (st, v) = self.post("/api/v1/events/sql", json!({ "sql": sql }));
        assert_eq!(st, 200, "{sql}: {v}");
        v["rows"].as_array().unwrap().clone()
    }

    /// A single number from a one-row query.
    pub fn count(&self, sql: &str) -> i64 {
        let rows = self.sql(sql);
        let obj = rows[0].as_object().unwrap();
        obj.values().next().unwrap().as_i64().unwrap()
    }
}

/// The server binary as a child process, so that tests can kill -9 it.
pub struct ServerProcess {
    pub child: Option<Child>,
    pub data_dir: PathBuf,
    pub grpc: SocketAddr,
    pub http: SocketAddr,
}

impl ServerProcess {
    pub fn start(data_dir: &Path, grpc: SocketAddr, http: SocketAddr) -> ServerProcess {
        Self::start_with_config(data_dir, grpc, http, "")
    }

    /// The server with `config` (TOML) as its configuration file.
    pub fn start_with_config(
        data_dir: &Path,
        grpc: SocketAddr,
        http: SocketAddr,
        config: &str,
    ) -> ServerProcess {
        std::fs::create_dir_all(data_dir).unwrap();
        let config_path = data_dir.join("test-config.toml");
        std::fs::write(&config_path, config).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_vigil-server"))
            .args(["run", "--data-dir"])
            .arg(data_dir)
            .arg("--config")
            .arg(&config_path)
            .args([
                "--grpc-addr",
                &grpc.to_string(),
                "--http-addr",
                &http.to_string(),
            ])
            // VIGIL_TEST_LOG=info shows the server's log when a test needs looking into.
            .env(
                "RUST_LOG",
                std::env::var("VIGIL_TEST_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let p = ServerProcess {
            child: Some(child),
            data_dir: data_dir.to_path_buf(),
            grpc,
            http,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            assert!(Instant::now() < deadline, "vigil-server did not come up");
            if data_dir.join("admin.token").exists() {
                let api = p.api();
                if std::panic::catch_unwind(|| api.get("/api/v1/devices").0 == 200).unwrap_or(false)
                {
                    break;
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        p
    }

    pub fn api(&self) -> Api {
        Api::new(self.http, &self.data_dir.join("admin.token"))
    }

    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().unwrap();
            c.wait().unwrap();
        }
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            // SAFETY: kill(2) on our own child.
            unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
            c.wait().unwrap();
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A server process in a temp dir, with one agent enrolled as `device` (state in `<dir>/a`).
pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub server: ServerProcess,
    pub api: Api,
    pub ca: String,
    pub agent: Enrollment,
}

impl Fixture {
    pub fn new(device: &str) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let server = ServerProcess::start(&dir.path().join("server"), free_addr(), free_addr());
        let api = server.api();
        let ca = std::fs::read_to_string(dir.path().join("server/ca.pem")).unwrap();
        let agent = enroll(
            server.grpc,
            &ca,
            &api.token(None),
            device,
            &dir.path().join("a"),
        )
        .unwrap();
        Fixture {
            dir,
            server,
            api,
            ca,
            agent,
        }
    }

    pub fn agent_dir(&self) -> PathBuf {
        self.dir.path().join("a")
    }
}

/// The id of a built-in rule, read from its file (the content is data, not code).
pub fn rule_id(rel: &str) -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../content/rules/linux/").to_string() + rel;
    let text = std::fs::read_to_string(&path).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("id: "))
        .unwrap_or_else(|| panic!("{path} has an id"))
        .trim()
        .to_string()
}

/// A process creation: `image` run as `cmd` by `parent`, as `user`.
pub fn exec(image: &str, cmd: &str, parent: &str, user: &str, pid: i64) -> Row {
    let base = |p: &str| p.rsplit('/').next().unwrap_or(p).to_string();
    let mut r = Row::event(
        Table::DeviceProcessEvents,
        "ProcessCreated",
        Timestamp::now(),
    );
    r.put(Col::FolderPath, image);
    r.put(Col::FileName, base(image));
    r.put(Col::ProcessCommandLine, cmd);
    r.put(Col::InitiatingProcessFolderPath, parent);
    r.put(Col::InitiatingProcessFileName, base(parent));
    r.put(Col::AccountName, user);
    r.put(Col::ProcessId, pid);
    r
}

/// The event tables the simulator fills.
pub const EVENT_TABLES: &[&str] = &[
    "DeviceProcessEvents",
    "DeviceFileEvents",
    "DeviceNetworkEvents",
    "DeviceEvents",
    "DeviceLogonEvents",
];

/// Enrol a simulated agent with `token`.
pub fn enroll(
    grpc: SocketAddr,
    ca_pem: &str,
    token: &str,
    device_id: &str,
    dir: &Path,
) -> Result<Enrollment, vigil_uplink::UplinkError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(vigil_uplink::enroll(
        &EnrollParams {
            server: &grpc.to_string(),
            token,
            ca_pem,
            device_id,
            device_name: &format!("{device_id}.test"),
            agent_version: "test",
        },
        dir,
    ))
}

/// An uplink with a small batch delay so that tests move quickly.
pub fn uplink(e: Enrollment, dir: &Path, spool_max: u64) -> Uplink {
    let mut spool = SpoolOptions::new(dir.join("spool"));
    spool.max_bytes = spool_max;
    spool.segment_bytes = (spool_max / 8).clamp(16 * 1024, 8 << 20);
    let mut opts = UplinkOptions::new(spool);
    opts.batch_max_delay = Duration::from_millis(20);
    opts.batch_max_events = 1000;
    Uplink::start(e, opts).unwrap()
}

/// `n` rows of the simulator's mix for `device`.
pub fn rows(mix: &mut vigil_sim::mix::Mix, n: usize) -> Vec<Row> {
    (0..n).map(|_| mix.next_row()).collect()
}

/// Wait until `f` holds (or panic with `what` after `secs`).
pub fn wait_until(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}
