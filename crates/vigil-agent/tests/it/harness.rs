//! One real agent for the whole test binary: started on first use with its own state
//! directory and JSON-lines output file, stopped by the kernel (PR_SET_PDEATHSIG) when the
//! test process ends. Tests find their events by unique markers, polling the output file.

#[path = "../common/tied.rs"]
mod tied;

use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};
use tied::spawn_tied;

use serde_json::Value;

pub struct Agent {
    pub state_dir: PathBuf,
    pub out: PathBuf,
    child: Mutex<Child>,
}

pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// The shared agent (default configuration), or `None` (after printing why) when the tests
/// cannot load eBPF here.
pub fn agent() -> Option<&'static Agent> {
    static AGENT: OnceLock<Option<Agent>> = OnceLock::new();
    let agent = AGENT.get_or_init(|| is_root().then(|| Agent::start("shared", "")));
    if agent.is_none() {
        println!("skipped: needs root to load eBPF programs");
    }
    agent.as_ref()
}

impl Agent {
    /// Start an agent with the given TOML configuration and wait until it runs.
    pub fn start(name: &str, config: &str) -> Agent {
        let dir = std::env::temp_dir().join(format!("vigil-it-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        let state_dir = dir.join("state");
        let out = dir.join("events.jsonl");
        let cfg = dir.join("agent.toml");
        std::fs::write(&cfg, config).expect("config");
        let log = std::fs::File::create(dir.join("agent.log")).expect("log file");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_vigil-agent"));
        cmd.arg("run")
            .arg("--config")
            .arg(&cfg)
            .arg("--state-dir")
            .arg(&state_dir)
            .arg("--output")
            .arg(format!("jsonl:{}", out.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        let child = spawn_tied(cmd).expect("start vigil-agent");
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let status = std::fs::read_to_string(state_dir.join("status.json")).unwrap_or_default();
            if status.contains("\"state\": \"running\"") {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the agent did not start: {}",
                std::fs::read_to_string(dir.join("agent.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Agent {
            state_dir,
            out,
            child: Mutex::new(child),
        }
    }

    /// The status file as JSON.
    pub fn status(&self) -> Value {
        serde_json::from_str(
            &std::fs::read_to_string(self.state_dir.join("status.json")).unwrap_or_default(),
        )
        .unwrap_or(Value::Null)
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        if let Ok(mut c) = self.child.lock() {
            // SAFETY: kill(2) on our own child's pid.
            unsafe { libc::kill(c.id() as i32, libc::SIGINT) };
            let _ = c.wait();
        }
    }
}

impl Agent {
    /// Every row written so far.
    pub fn rows(&self) -> Vec<Value> {
        let Ok(mut f) = std::fs::File::open(&self.out) else {
            return Vec::new();
        };
        let _ = f.seek(SeekFrom::Start(0));
        let mut text = String::new();
        let _ = BufReader::new(f).read_to_string(&mut text);
        // The agent may be writing the last line: only complete lines count.
        let complete = text.rfind('\n').map_or(0, |i| i + 1);
        text[..complete]
            .lines()
            .map(|l| {
                serde_json::from_str(l).unwrap_or_else(|e| panic!("invalid JSON line {l:?}: {e}"))
            })
            .collect()
    }

    /// Wait (up to 20 s) until `want` matches some rows, and return those rows.
    pub fn wait_for(&self, what: &str, want: impl Fn(&Value) -> bool) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let found: Vec<Value> = self.rows().into_iter().filter(|r| want(r)).collect();
            if !found.is_empty() {
                return found;
            }
            assert!(Instant::now() < deadline, "no event for {what} within 20 s");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// A marker unique to this test run.
pub fn marker(name: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "vigil-{name}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

pub fn s<'a>(row: &'a Value, col: &str) -> &'a str {
    row[col].as_str().unwrap_or("")
}

pub fn sha256_of(path: &str) -> String {
    let out = Command::new("sha256sum")
        .arg(path)
        .output()
        .expect("sha256sum");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_string()
}

pub fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(marker(name));
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}
