//! Tamper protection through the real agent binary, which runs under its supervisor: a root
//! `kill -9` of the agent is reported with the killer and the agent serves again within a
//! second; another process opening the configuration for writing is refused (reading it is
//! not); the maintenance token turns protection off. The BPF LSM rung is not built: its test
//! skips with the reason.

use std::io::Write;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::harness::{is_root, marker, s, Agent};

fn sha256_hex(text: &str) -> String {
    let mut c = Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    c.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = c.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

fn running_pid(agent: &Agent) -> Option<u64> {
    let st = agent.status();
    (st["state"] == "running")
        .then(|| st["pid"].as_u64())
        .flatten()
}

#[test]
fn bpf_lsm_rung_is_not_built_here() {
    println!("skipped: tamper protection through BPF LSM (refusing kill, ptrace, unlink) is not built; this kernel also refuses LSM programs");
}

#[test]
fn kill_is_reported_and_survived_writes_are_refused_and_maintenance_turns_it_off() {
    if !is_root() {
        println!("skipped: needs root for the supervisor's tracepoint and fanotify");
        return;
    }
    let token = marker("maint");
    let cfg = format!(
        "[tamper]\nenabled = true\nmaintenance_token_sha256 = \"{}\"\n",
        sha256_hex(&token)
    );
    let agent = Agent::start("tamper", &cfg);
    let t = agent.status()["tamper"].clone();
    assert_eq!(t["enabled"], true, "{t}");
    if t["supervised"] != true
        || !t["signals"]
            .as_str()
            .unwrap_or("")
            .contains("signal_generate")
    {
        println!("skipped: the agent is not supervised with kill reports here: {t}");
        return;
    }
    let config = agent.state_dir.parent().unwrap().join("agent.toml");

    // Reading the configuration is allowed; opening it for writing is not.
    assert!(std::fs::read_to_string(&config).is_ok());
    let err = std::fs::OpenOptions::new()
        .append(true)
        .open(&config)
        .expect_err("the configuration must not open for writing");
    assert_eq!(err.raw_os_error(), Some(libc::EPERM), "{err}");
    let cfg_path = config.display().to_string();
    agent.wait_for("the refused write", |r| {
        s(r, "FolderPath") == cfg_path && r["AdditionalFields"]["Operation"] == "OpenForWrite"
    });

    // kill -9 of the agent: reported with the killer, and serving again at once.
    let old = running_pid(&agent).expect("the agent runs");
    let started = Instant::now();
    let st = Command::new("kill")
        .args(["-9", &old.to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    let back = loop {
        if let Some(pid) = running_pid(&agent).filter(|p| *p != old) {
            break (pid, started.elapsed());
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the agent did not come back"
        );
        std::thread::sleep(Duration::from_millis(5));
    };
    println!(
        "agent pid {old} killed with SIGKILL; serving again as pid {} after {:?}",
        back.0, back.1
    );
    let rows = agent.wait_for("the kill report", |r| {
        r["AdditionalFields"]["Operation"] == "Signal"
            && r["AdditionalFields"]["Signal"] == 9
            && r["AdditionalFields"]["TargetProcessId"] == old
    });
    assert_eq!(
        s(&rows[0], "InitiatingProcessFileName"),
        "kill",
        "{}",
        rows[0]
    );
    assert!(
        back.1 <= Duration::from_secs(1),
        "serving again took {:?}, more than 1 s",
        back.1
    );

    // The maintenance token turns protection off: writes pass, a killed agent stays down.
    let out = Command::new(env!("CARGO_BIN_EXE_vigil-agent"))
        .args(["maintenance", "--token", "wrong", "--state-dir"])
        .arg(&agent.state_dir)
        .output()
        .unwrap();
    assert!(!out.status.success(), "a wrong token is refused");
    let out = Command::new(env!("CARGO_BIN_EXE_vigil-agent"))
        .args(["maintenance", "--token", &token, "--state-dir"])
        .arg(&agent.state_dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::OpenOptions::new()
        .append(true)
        .open(&config)
        .expect("in maintenance mode the configuration opens for writing");
    let pid = back.0;
    Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        agent.status()["pid"].as_u64(),
        Some(pid),
        "in maintenance mode a killed agent stays down (no new agent took over)"
    );
}
