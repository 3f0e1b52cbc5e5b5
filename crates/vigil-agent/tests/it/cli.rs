//! The command line: configuration errors, status.

use std::process::Command;

use crate::harness::{agent, temp_dir};

fn agent_cmd() -> Command {
    Command::new(env!("CARGO_BIN_EXE_vigil-agent"))
}

#[test]
fn unknown_config_key_is_named_and_nothing_starts() {
    let dir = temp_dir("cfg");
    let cfg = dir.join("agent.toml");
    std::fs::write(&cfg, "[sensors]\nprocess = true\nfiel = false\n").unwrap();
    let out = agent_cmd()
        .args(["run", "--output", "jsonl", "--state-dir"])
        .arg(dir.join("state"))
        .arg("--config")
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown field `fiel`"), "{err}");
    assert!(err.contains("agent.toml"), "{err}");
    assert!(
        !dir.join("state").exists(),
        "a bad configuration changes nothing"
    );
}

#[test]
fn bad_output_and_enroll_give_clear_errors() {
    let out = agent_cmd()
        .args(["run", "--config", "/dev/null", "--output", "csv"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown output \"csv\""));
    let out = agent_cmd()
        .args([
            "enroll",
            "--server",
            "x:1",
            "--token",
            "t",
            "--ca-cert",
            "/dev/null",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("CA certificate"), "{err}");

    // Without --output, events go to the server, which needs an enrolment.
    let dir = std::env::temp_dir().join(format!("vigil-cli-test-{}", std::process::id()));
    let out = agent_cmd()
        .args(["run", "--config", "/dev/null", "--state-dir"])
        .arg(&dir)
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("not enrolled") && err.contains("vigil-agent enroll"),
        "{err}"
    );
}

#[test]
fn status_lists_attached_hooks() {
    let Some(agent) = agent() else { return };
    let out = agent_cmd()
        .args(["status", "--json", "--config", "/dev/null", "--state-dir"])
        .arg(&agent.state_dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["running"], true);
    assert_eq!(v["mode"], "ebpf");
    let hooks = v["hooks"].as_array().unwrap();
    let attached = |name: &str| {
        hooks
            .iter()
            .any(|h| h["name"] == name && h["attached"] == true)
    };
    for name in [
        "handle_exec",
        "handle_fork",
        "handle_exit",
        "handle_openat_exit",
        "handle_tcp_state",
        "handle_unlinkat",
    ] {
        assert!(attached(name), "{name} not attached: {v}");
    }
}
