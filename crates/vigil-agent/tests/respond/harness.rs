//! A Vigil deployment for the response-action tests: a real server in-process (its own data
//! directory, mutual TLS) and the real agent binary enrolled with it, optionally inside a
//! network namespace. Tests drive it through the server's HTTP API as an analyst would and
//! run one at a time ([`serial`]): several actions (restrict, isolate) change the whole
//! machine or namespace.

#[path = "../common/tied.rs"]
mod tied;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sha2::Digest;
use tied::spawn_tied;

/// Content the agents of these tests know as bad by its SHA-256 alone (the configuration's
/// `[antivirus.block_sha256]`), under this threat name.
pub const KNOWN_BAD: &[u8] = b"vigil respond test: a payload known only by its hash\n";
pub const KNOWN_BAD_THREAT: &str = "Trojan:Linux/RespondTestByHash";

pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// The tests of this binary run one after the other.
pub fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

pub fn wait_until(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

pub struct Stack {
    pub dir: PathBuf,
    pub agent_dir: PathBuf,
    pub api: String,
    token: String,
    pub device_id: String,
    /// The network namespace the agent runs in, if any.
    pub netns: Option<String>,
    cfg: PathBuf,
    agent: Mutex<Option<Child>>,
    rt: tokio::runtime::Runtime,
    server: Option<vigil_server::RunningServer>,
}

/// The shared deployment in the host's namespace, or `None` (after printing why).
pub fn stack() -> Option<&'static Stack> {
    static STACK: OnceLock<Option<Stack>> = OnceLock::new();
    let s = STACK.get_or_init(|| is_root().then(|| Stack::start("host", "127.0.0.1", None)));
    if s.is_none() {
        println!("skipped: needs root (eBPF sensors, nftables, fanotify)");
    }
    s.as_ref()
}

impl Stack {
    /// A server listening for agents on `grpc_ip`, and an agent enrolled with it (run
    /// inside `netns` when given).
    pub fn start(name: &str, grpc_ip: &str, netns: Option<&str>) -> Stack {
        let dir = std::env::temp_dir().join(format!("vigil-respond-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let mut cfg = vigil_server::ServerConfig::default();
        cfg.server.data_dir = dir.join("server");
        cfg.server.grpc_addr = format!("{grpc_ip}:0").parse().unwrap();
        cfg.server.http_addr = "127.0.0.1:0".parse().unwrap();
        cfg.server.tls_names = vec![grpc_ip.to_string()];
        cfg.server.heartbeat_interval_secs = 2;
        let server = rt
            .block_on(vigil_server::start(cfg))
            .expect("start the server");
        let (_, secret) = rt
            .block_on(server.ctx.state.create_enrollment_token(
                "respond",
                None,
                Some(1),
                vigil_server::now_ms(),
            ))
            .expect("enrolment token");
        let token = std::fs::read_to_string(&server.admin_token_path)
            .expect("admin token")
            .trim()
            .to_string();
        let agent_dir = dir.join("agent");
        let mut enroll = in_netns(netns, env!("CARGO_BIN_EXE_vigil-agent"));
        enroll
            .args(["enroll", "--server", &server.grpc_addr.to_string()])
            .args(["--token", &secret, "--ca-cert"])
            .arg(&server.ca_path)
            .arg("--state-dir")
            .arg(&agent_dir);
        let st = enroll.status().expect("run vigil-agent enroll");
        assert!(st.success(), "vigil-agent enroll failed: {st}");
        let cfg = dir.join("agent.toml");
        std::fs::write(
            &cfg,
            format!(
                "[uplink]\nheartbeat_secs = 2\n\n[antivirus.block_sha256]\n\"{}\" = \"{KNOWN_BAD_THREAT}\"\n",
                hex::encode(sha2::Sha256::digest(KNOWN_BAD))
            ),
        )
        .expect("agent config");
        let mut stack = Stack {
            api: format!("http://{}", server.http_addr),
            token,
            device_id: String::new(),
            netns: netns.map(str::to_string),
            agent_dir,
            dir,
            cfg,
            agent: Mutex::new(None),
            rt,
            server: Some(server),
        };
        stack.start_agent();
        let devices = stack.get("/api/v1/devices");
        stack.device_id = devices[0]["DeviceId"]
            .as_str()
            .expect("a device")
            .to_string();
        stack
    }

    /// Start the agent and wait until it runs and the server has seen it.
    pub fn start_agent(&self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("agent.log"))
            .expect("log file");
        let mut cmd = in_netns(self.netns.as_deref(), env!("CARGO_BIN_EXE_vigil-agent"));
        cmd.arg("run")
            .arg("--config")
            .arg(&self.cfg)
            .arg("--state-dir")
            .arg(&self.agent_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        let child = spawn_tied(cmd).expect("start vigil-agent");
        let pid = child.id();
        *self.agent.lock().unwrap() = Some(child);
        let last_seen = || {
            self.get("/api/v1/devices")
                .as_array()
                .and_then(|d| d.first().cloned())
                .map_or(Value::Null, |d| d["LastSeen"].clone())
        };
        let before = last_seen();
        wait_until("the agent to run and report", 120, || {
            let status = self.status();
            let running = status["state"] == "running" && status["pid"] == pid;
            let seen = last_seen();
            running && !seen.is_null() && seen != before
        });
    }

    /// Stop the agent (SIGTERM) and wait for it.
    pub fn stop_agent(&self) {
        if let Some(mut c) = self.agent.lock().unwrap().take() {
            // SAFETY: kill(2) of our own child.
            unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
            let _ = c.wait();
        }
    }

    pub fn agent_pid(&self) -> u32 {
        self.agent.lock().unwrap().as_ref().map_or(0, Child::id)
    }

    /// The agent's status file.
    pub fn status(&self) -> Value {
        std::fs::read_to_string(self.agent_dir.join("status.json"))
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or(Value::Null)
    }

    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let url = format!("{}{path}", self.api);
        let auth = format!("Bearer {}", self.token);
        let mut r = match (method, body) {
            ("GET", _) => agent.get(&url).header("Authorization", &auth).call(),
            ("DELETE", _) => agent.delete(&url).header("Authorization", &auth).call(),
            (_, b) => agent
                .post(&url)
                .header("Authorization", &auth)
                .send_json(b.cloned().unwrap_or(json!({}))),
        }
        .expect("HTTP API call");
        let st = r.status().as_u16();
        let v = r
            .body_mut()
            .with_config()
            .limit(64 << 20)
            .read_json()
            .unwrap_or(Value::Null);
        (st, v)
    }

    pub fn get(&self, path: &str) -> Value {
        let (st, v) = self.call("GET", path, None);
        assert_eq!(st, 200, "GET {path}: {v}");
        v
    }

    pub fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.call("POST", path, Some(&body))
    }

    pub fn delete(&self, path: &str) -> (u16, Value) {
        self.call("DELETE", path, None)
    }

    /// Queue a device action; returns its id.
    pub fn queue(&self, kind: &str, args: Value) -> String {
        self.queue_with(json!({ "type": kind, "args": args }))
    }

    pub fn queue_with(&self, body: Value) -> String {
        let (st, a) = self.post(
            &format!("/api/v1/devices/{}/actions", self.device_id),
            body.clone(),
        );
        assert_eq!(st, 200, "{body}: {a}");
        a["ActionId"].as_str().expect("an action id").to_string()
    }

    pub fn action(&self, id: &str) -> Value {
        self.get(&format!("/api/v1/actions/{id}"))
    }

    /// Wait until the action has ended; returns it.
    pub fn finished(&self, id: &str, secs: u64) -> Value {
        let mut last = Value::Null;
        wait_until(&format!("action {id} to end"), secs, || {
            last = self.action(id);
            !matches!(last["Status"].as_str(), Some("Pending" | "InProgress"))
        });
        last
    }

    /// Run a device action and return it once ended.
    pub fn run(&self, kind: &str, args: Value) -> Value {
        let id = self.queue(kind, args);
        self.finished(&id, 180)
    }

    /// Run an action that must succeed; returns its result.
    pub fn ok(&self, kind: &str, args: Value) -> Value {
        let a = self.run(kind, args.clone());
        assert_eq!(a["Status"], "Succeeded", "{kind} {args}: {a}");
        a["Result"].clone()
    }

    /// Run an action that must fail; returns its error.
    pub fn fails(&self, kind: &str, args: Value) -> String {
        let a = self.run(kind, args.clone());
        assert_eq!(a["Status"], "Failed", "{kind} {args}: {a}");
        a["Error"].as_str().unwrap_or_default().to_string()
    }

    /// Open a live-response session.
    pub fn session(&self) -> String {
        let (st, s) = self.post(
            &format!("/api/v1/devices/{}/live", self.device_id),
            json!({}),
        );
        assert_eq!(st, 200, "{s}");
        s["SessionId"].as_str().unwrap().to_string()
    }

    /// A live command, waited for; returns the action.
    pub fn live(&self, sid: &str, command: &str, args: Value) -> Value {
        let (st, a) = self.post(
            &format!("/api/v1/live/{sid}/commands"),
            json!({ "command": command, "args": args, "wait_seconds": 120 }),
        );
        assert_eq!(st, 200, "{command} {args}: {a}");
        if matches!(a["Status"].as_str(), Some("Pending" | "InProgress")) {
            return self.finished(a["ActionId"].as_str().unwrap(), 120);
        }
        a
    }

    /// Add a file to the server's library.
    pub fn library(&self, name: &str, data: &[u8]) {
        let r = ureq::post(format!(
            "{}/api/v1/library?name={name}&description=test",
            self.api
        ))
        .header("Authorization", format!("Bearer {}", self.token))
        .send(data)
        .expect("library upload");
        assert_eq!(r.status().as_u16(), 200);
    }

    /// Download a file an action sent to the server.
    pub fn action_file(&self, file_id: &str) -> Vec<u8> {
        let mut r = ureq::get(format!("{}/api/v1/action-files/{file_id}", self.api))
            .header("Authorization", format!("Bearer {}", self.token))
            .call()
            .expect("action file");
        r.body_mut()
            .with_config()
            .limit(1 << 30)
            .read_to_vec()
            .expect("file body")
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        self.stop_agent();
        if let Some(s) = self.server.take() {
            self.rt.block_on(async move { drop(s) });
        }
    }
}

/// A command run inside `netns` (through `ip netns exec`) or directly.
pub fn in_netns(netns: Option<&str>, program: impl AsRef<Path>) -> Command {
    match netns {
        Some(ns) => {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", ns]).arg(program.as_ref());
            c
        }
        None => Command::new(program.as_ref()),
    }
}

/// A process's start time in boot-clock nanoseconds, as the agent's process table has it.
pub fn start_time_ns(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let ticks: u64 = rest.split_whitespace().nth(19).unwrap().parse().unwrap();
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
    ticks * (1_000_000_000 / hz)
}

/// Whether `pid` is alive (not a zombie).
pub fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rfind(')')
                .map(|i| s[i + 2..].starts_with(|c| c != 'Z' && c != 'X'))
        })
        .unwrap_or(false)
}
