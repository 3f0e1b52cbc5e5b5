//! The fallback sensors: `/proc` polling for processes and fanotify for files, used when the
//! eBPF sensors cannot load (forced here with `sensors.mode = "fallback"`).

use std::process::Command;

use crate::harness::{is_root, marker, s, temp_dir, Agent};

#[test]
fn fallback_mode_keeps_process_and_file_telemetry_flowing() {
    if !is_root() {
        println!("skipped: needs root for fanotify");
        return;
    }
    let agent = Agent::start("fallback", "[sensors]\nmode = \"fallback\"\n");
    let status = agent.status();
    let mode = status["mode"].as_str().unwrap_or("");
    assert!(mode.starts_with("degraded"), "{status}");
    assert!(mode.contains("fanotify close-after-write"), "{status}");

    let m = marker("fallback");
    // Long enough for the /proc poller to see it.
    let mut child = Command::new("sh")
        .args(["-c", "sleep 1.5", &m])
        .spawn()
        .unwrap();
    let pid = child.id() as i64;
    let rows = agent.wait_for("polled process", |r| {
        s(r, "ActionType") == "ProcessCreated" && r["ProcessId"].as_i64() == Some(pid)
    });
    assert!(s(&rows[0], "ProcessCommandLine").contains(&m));
    child.wait().unwrap();

    let dir = temp_dir("fallback-files");
    let file = dir.join("written.txt");
    std::fs::write(&file, b"fallback").unwrap();
    let rows = agent.wait_for("fanotify close-write", |r| {
        s(r, "ActionType") == "FileModified" && s(r, "FolderPath") == file.to_str().unwrap()
    });
    assert_eq!(
        rows[0]["InitiatingProcessId"].as_i64(),
        Some(std::process::id() as i64)
    );
    assert_eq!(s(&rows[0], "SHA256").len(), 64);
}
