//! Process telemetry: exec with parent, command line, user and hash; exit codes; fileless exec.

use std::os::fd::FromRawFd;
use std::process::Command;

use crate::harness::{agent, marker, s, sha256_of};

#[test]
fn exec_from_bash_has_parent_command_line_user_and_sha256() {
    let Some(agent) = agent() else { return };
    let m = marker("exec");
    let mut bash = Command::new("bash")
        .arg("-c")
        .arg(format!("/bin/echo {m} > /dev/null; true"))
        .spawn()
        .unwrap();
    let bash_pid = bash.id() as i64;
    assert!(bash.wait().unwrap().success());
    let rows = agent.wait_for("echo ProcessCreated", |r| {
        s(r, "ActionType") == "ProcessCreated"
            && s(r, "ProcessCommandLine") == format!("/bin/echo {m}")
    });
    let r = &rows[0];
    assert_eq!(s(r, "Table"), "DeviceProcessEvents");
    assert_eq!(s(r, "FileName"), "echo");
    let real = std::fs::canonicalize("/bin/echo").unwrap();
    assert_eq!(s(r, "FolderPath"), real.to_str().unwrap());
    assert_eq!(s(r, "SHA256"), sha256_of("/bin/echo"));
    assert_eq!(s(r, "AccountName"), "root");
    assert_eq!(r["InitiatingProcessId"].as_i64(), Some(bash_pid));
    assert_eq!(s(r, "InitiatingProcessFileName"), "bash");
    assert!(s(r, "InitiatingProcessCommandLine").contains(&m), "{r}");
    assert_eq!(
        r["InitiatingProcessParentId"].as_i64(),
        Some(std::process::id() as i64)
    );
    assert_eq!(r["AdditionalFields"]["euid"].as_i64(), Some(0));
    assert!(r["ProcessId"].as_i64().unwrap() > 0);
}

#[test]
fn exit_codes_and_signals_are_reported() {
    let Some(agent) = agent() else { return };
    let m = marker("exit");
    let mut c = Command::new("bash")
        .arg("-c")
        .arg(format!("exit 7 # {m}"))
        .spawn()
        .unwrap();
    let pid = c.id() as i64;
    assert_eq!(c.wait().unwrap().code(), Some(7));
    let rows = agent.wait_for("exit 7", |r| {
        s(r, "ActionType") == "ProcessTerminated" && r["ProcessId"].as_i64() == Some(pid)
    });
    assert_eq!(rows[0]["AdditionalFields"]["exit_code"].as_i64(), Some(7));
    assert_eq!(rows[0]["AdditionalFields"]["exit_signal"].as_i64(), Some(0));

    let mut k = Command::new("bash")
        .arg("-c")
        .arg(format!("kill -9 $$ # {m}"))
        .spawn()
        .unwrap();
    let pid = k.id() as i64;
    let _ = k.wait();
    let rows = agent.wait_for("killed", |r| {
        s(r, "ActionType") == "ProcessTerminated" && r["ProcessId"].as_i64() == Some(pid)
    });
    assert_eq!(rows[0]["AdditionalFields"]["exit_signal"].as_i64(), Some(9));
}

#[test]
fn memfd_exec_is_flagged_fileless() {
    let Some(agent) = agent() else { return };
    let m = marker("memfd");
    // SAFETY: memfd_create with a static name; the fd is owned by the File below.
    let fd = unsafe { libc::memfd_create(c"vigil-test".as_ptr(), 0) };
    assert!(fd >= 0);
    // SAFETY: fd is a fresh descriptor that nothing else owns.
    let mut memfd = unsafe { std::fs::File::from_raw_fd(fd) };
    // A shell that lives a moment, so that its image can be hashed through /proc/<pid>/exe.
    std::io::copy(&mut std::fs::File::open("/bin/sh").unwrap(), &mut memfd).unwrap();
    let path = format!("/proc/self/fd/{fd}");
    let status = Command::new(&path)
        .args(["-c", "sleep 1", &m])
        .status()
        .unwrap();
    assert!(status.success());
    let rows = agent.wait_for("memfd exec", |r| {
        s(r, "ActionType") == "ProcessCreated" && s(r, "ProcessCommandLine").contains(&m)
    });
    let extra = &rows[0]["AdditionalFields"];
    assert_eq!(extra["fileless"], true, "{}", rows[0]);
    assert_eq!(extra["fileless_kind"], "memfd");
    assert_eq!(
        s(&rows[0], "SHA256"),
        sha256_of("/bin/sh"),
        "hashed through /proc/<pid>/exe"
    );
    agent.wait_for("memfd_create", |r| {
        s(r, "ActionType") == "MemfdCreated" && s(r, "FileName") == "memfd:vigil-test"
    });
}

#[test]
fn long_argv_is_cut_and_flagged() {
    let Some(agent) = agent() else { return };
    let m = marker("argv");
    let long = "x".repeat(5000);
    Command::new("/bin/true")
        .arg(&m)
        .arg(&long)
        .status()
        .unwrap();
    let rows = agent.wait_for("long argv", |r| {
        s(r, "ActionType") == "ProcessCreated" && s(r, "ProcessCommandLine").contains(&m)
    });
    assert_eq!(rows[0]["AdditionalFields"]["argv_truncated"], true);
    assert!(s(&rows[0], "ProcessCommandLine").len() < 2100);
}
