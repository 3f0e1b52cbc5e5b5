//! Sensor overhead benchmark (a binary, not a test): `cargo bench -p vigil-agent --bench storm`.
//!
//! In one run, on this machine, as root:
//! - an exec storm (STORM_EXECS, default 20,000 runs of `/bin/true`, spawned one after another)
//!   and a file storm (STORM_FILES, default 100,000 create + write + delete in a temp dir);
//! - each without any sensor (baseline), with the Vigil agent, and with auditd auditing the
//!   same syscalls;
//! - the agent's events counted against the operations performed (loss), and its RSS at idle.
//!
//! Prints wall times, the overhead ratios against the baseline of the same run, and whether the
//! targets hold (agent ≤ 5 % on the exec storm and < half of auditd's overhead; no loss;
//! idle RSS ≤ 50 MB).

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn env_n(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn exec_storm(n: usize) -> Duration {
    let t = Instant::now();
    for _ in 0..n {
        let ok = Command::new("/bin/true")
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(ok, "/bin/true failed");
    }
    t.elapsed()
}

fn file_storm(dir: &Path, n: usize) -> Duration {
    std::fs::create_dir_all(dir).expect("storm dir");
    let t = Instant::now();
    for i in 0..n {
        let p = dir.join(format!("f{i}"));
        let mut f = std::fs::File::create(&p).expect("create");
        f.write_all(b"vigil storm payload").expect("write");
        drop(f);
        std::fs::remove_file(&p).expect("delete");
    }
    t.elapsed()
}

struct Agent {
    child: Child,
    out: PathBuf,
}

fn start_agent(work: &Path) -> Agent {
    let state = work.join("agent-state");
    let out = work.join("events.jsonl");
    let _ = std::fs::remove_file(&out);
    let child = Command::new(env!("CARGO_BIN_EXE_vigil-agent"))
        .args(["run", "--config", "/dev/null", "--state-dir"])
        .arg(&state)
        .arg("--output")
        .arg(format!("jsonl:{}", out.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start vigil-agent");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !std::fs::read_to_string(state.join("status.json"))
        .unwrap_or_default()
        .contains("\"state\": \"running\"")
    {
        assert!(Instant::now() < deadline, "agent did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    Agent { child, out }
}

impl Agent {
    fn rss_kb(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find(|l| l.starts_with("VmRSS:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }

    /// Stop with SIGINT and wait, so that every event is written.
    fn stop(mut self) -> PathBuf {
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
        let _ = self.child.wait();
        self.out
    }
}

/// Count the agent's rows: ProcessCreated of /bin/true by this process, and FileCreated /
/// FileDeleted under the storm directory.
fn count_events(out: &Path, storm_dir: &str) -> (usize, usize, usize, u64) {
    let me = std::process::id() as i64;
    let (mut execs, mut created, mut deleted, mut dropped) = (0, 0, 0, 0u64);
    let f = std::fs::File::open(out).expect("events file");
    for line in BufReader::new(f).lines().map_while(Result::ok) {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        let action = v["ActionType"].as_str().unwrap_or("");
        let path = v["FolderPath"].as_str().unwrap_or("");
        match action {
            "ProcessCreated"
                if v["FileName"] == "true" && v["InitiatingProcessId"].as_i64() == Some(me) =>
            {
                execs += 1
            }
            "FileCreated" if path.starts_with(storm_dir) => created += 1,
            "FileDeleted" if path.starts_with(storm_dir) => deleted += 1,
            "SensorEventsDropped" => {
                dropped += v["AdditionalFields"]["dropped"].as_u64().unwrap_or(0)
            }
            _ => {}
        }
    }
    (execs, created, deleted, dropped)
}

struct Auditd(Child);

fn start_auditd(storm_dir: &str) -> Option<Auditd> {
    let _ = Command::new("auditctl").arg("-D").output();
    let child = Command::new("auditd")
        .args(["-n", "-s", "enable"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    std::thread::sleep(Duration::from_secs(2));
    let rules: [&[&str]; 2] = [
        &[
            "-a",
            "always,exit",
            "-F",
            "arch=b64",
            "-S",
            "execve,execveat",
        ],
        &[
            "-a",
            "always,exit",
            "-F",
            "arch=b64",
            "-S",
            "openat,creat,write,unlink,unlinkat,rename,renameat,renameat2",
        ],
    ];
    for r in rules {
        let ok = Command::new("auditctl")
            .args(r)
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        if !ok {
            println!("auditd: cannot add rule {r:?}");
        }
    }
    let _ = storm_dir;
    Some(Auditd(child))
}

impl Drop for Auditd {
    fn drop(&mut self) {
        let _ = Command::new("auditctl").arg("-D").output();
        let _ = Command::new("auditctl").args(["-e", "0"]).output();
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(self.0.id() as i32, libc::SIGTERM) };
        let _ = self.0.wait();
    }
}

fn pct(base: Duration, with: Duration) -> f64 {
    (with.as_secs_f64() - base.as_secs_f64()) / base.as_secs_f64() * 100.0
}

fn main() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        println!("skipped: the storm benchmark needs root (eBPF sensors, auditd)");
        return;
    }
    let execs = env_n("STORM_EXECS", 20_000);
    let files = env_n("STORM_FILES", 100_000);
    let work = std::env::temp_dir().join(format!("vigil-storm-{}", std::process::id()));
    std::fs::create_dir_all(&work).expect("work dir");
    let storm = |tag: &str| work.join(format!("files-{tag}"));
    println!("storm: {execs} execs of /bin/true, {files} × create+write+delete");

    // Warm up caches (binary pages, dentries) so the first measured run is not penalised.
    exec_storm(execs.min(500));
    file_storm(&storm("warm"), files.min(2000));

    let base_exec = exec_storm(execs);
    let base_file = file_storm(&storm("base"), files);

    let agent = start_agent(&work);
    std::thread::sleep(Duration::from_secs(3));
    let idle_rss_kb = agent.rss_kb();
    let agent_exec = exec_storm(execs);
    let agent_dir = storm("agent");
    let agent_file = file_storm(&agent_dir, files);
    let busy_rss_kb = agent.rss_kb();
    std::thread::sleep(Duration::from_secs(2));
    let out = agent.stop();
    let (seen_execs, seen_created, seen_deleted, dropped) =
        count_events(&out, agent_dir.to_str().unwrap_or(""));

    let (audit_exec, audit_file) = match start_auditd(storm("audit").to_str().unwrap_or("")) {
        Some(a) => {
            let e = exec_storm(execs);
            let f = file_storm(&storm("audit"), files);
            drop(a);
            (Some(e), Some(f))
        }
        None => {
            println!("auditd: could not start; its column is left out");
            (None, None)
        }
    };

    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!();
    println!(
        "{:<14} {:>12} {:>12} {:>12}",
        "", "baseline ms", "agent ms", "auditd ms"
    );
    println!(
        "{:<14} {:>12.0} {:>12.0} {:>12}",
        "exec storm",
        ms(base_exec),
        ms(agent_exec),
        audit_exec.map_or("-".into(), |d| format!("{:.0}", ms(d)))
    );
    println!(
        "{:<14} {:>12.0} {:>12.0} {:>12}",
        "file storm",
        ms(base_file),
        ms(agent_file),
        audit_file.map_or("-".into(), |d| format!("{:.0}", ms(d)))
    );
    let agent_exec_pct = pct(base_exec, agent_exec);
    let agent_file_pct = pct(base_file, agent_file);
    println!();
    println!("agent overhead: exec {agent_exec_pct:+.1} %, files {agent_file_pct:+.1} %");
    if let (Some(ae), Some(af)) = (audit_exec, audit_file) {
        let audit_exec_pct = pct(base_exec, ae);
        let audit_file_pct = pct(base_file, af);
        println!("auditd overhead: exec {audit_exec_pct:+.1} %, files {audit_file_pct:+.1} %");
        let r = |a: f64, b: f64| if b > 0.0 { a / b } else { f64::NAN };
        println!(
            "agent/auditd overhead ratio: exec {:.2}, files {:.2} (target < 0.5)",
            r(agent_exec_pct, audit_exec_pct),
            r(agent_file_pct, audit_file_pct)
        );
    }
    println!(
        "events: ProcessCreated {seen_execs}/{execs}, FileCreated {seen_created}/{files}, FileDeleted {seen_deleted}/{files}; reported dropped {dropped}"
    );
    println!(
        "agent RSS: idle {:.1} MB, after storms {:.1} MB (target idle ≤ 50 MB)",
        idle_rss_kb as f64 / 1024.0,
        busy_rss_kb as f64 / 1024.0
    );
    println!(
        "targets: exec overhead ≤ 5 %: {}; no loss: {}; idle RSS ≤ 50 MB: {}",
        if agent_exec_pct <= 5.0 {
            "met"
        } else {
            "NOT met"
        },
        if seen_execs == execs && seen_created == files && seen_deleted == files {
            "met"
        } else {
            "NOT met"
        },
        if idle_rss_kb <= 50 * 1024 {
            "met"
        } else {
            "NOT met"
        }
    );
    let _ = std::fs::remove_dir_all(&work);
}
