//! Security-relevant events: credential changes and elevation, ptrace attach.

use std::process::Command;

use crate::harness::{agent, marker, s};

#[test]
fn su_to_another_user_is_an_elevation_logon() {
    let Some(agent) = agent() else { return };
    if Command::new("su").arg("--version").output().is_err() {
        println!("skipped: su is not installed");
        return;
    }
    let m = marker("su");
    let st = Command::new("su")
        .args(["nobody", "-s", "/bin/sh", "-c", &format!("true {m}")])
        .status()
        .unwrap();
    assert!(st.success());
    let rows = agent.wait_for("su elevation", |r| {
        s(r, "Table") == "DeviceLogonEvents"
            && s(r, "LogonType") == "Elevation"
            && s(r, "AccountName") == "nobody"
    });
    assert_eq!(s(&rows[0], "Protocol"), "su");
    assert_eq!(s(&rows[0], "InitiatingProcessFileName"), "su");
    agent.wait_for("credential change", |r| {
        s(r, "ActionType") == "ProcessCredentialsChanged" && s(r, "AccountName") == "nobody"
    });
}

#[test]
fn ptrace_attach_names_the_target() {
    let Some(agent) = agent() else { return };
    let mut target = Command::new("sleep").arg("5").spawn().unwrap();
    let pid = target.id() as i32;
    // SAFETY: plain ptrace/waitpid on our own child; it is detached and killed below.
    unsafe {
        assert_eq!(
            libc::ptrace(libc::PTRACE_ATTACH, pid, 0, 0),
            0,
            "{}",
            std::io::Error::last_os_error()
        );
        let mut status = 0;
        libc::waitpid(pid, &mut status, 0);
        libc::ptrace(libc::PTRACE_DETACH, pid, 0, 0);
    }
    let _ = target.kill();
    let _ = target.wait();
    let rows = agent.wait_for("ptrace", |r| {
        s(r, "ActionType") == "ProcessPtraceAttach" && r["ProcessId"].as_i64() == Some(pid as i64)
    });
    assert_eq!(
        rows[0]["InitiatingProcessId"].as_i64(),
        Some(std::process::id() as i64)
    );
    assert_eq!(s(&rows[0], "FileName"), "sleep");
}
