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

/// Open /etc/shadow for reading from a child `head`; returns its pid.
fn read_shadow() -> i64 {
    let child = Command::new("head")
        .args(["-c", "1", "/etc/shadow"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id() as i64;
    assert!(child.wait_with_output().unwrap().status.success());
    pid
}

#[test]
fn reading_a_password_hash_file_is_a_sensitive_file_read_even_after_it_is_replaced() {
    let Some(agent) = agent() else { return };
    let sensitive_read = |pid: i64| {
        move |r: &serde_json::Value| {
            s(r, "ActionType") == "SensitiveFileRead"
                && s(r, "FolderPath") == "/etc/shadow"
                && r["InitiatingProcessId"].as_i64() == Some(pid)
        }
    };
    let pid = read_shadow();
    let rows = agent.wait_for("shadow read", sensitive_read(pid));
    assert_eq!(s(&rows[0], "Table"), "DeviceEvents");
    assert_eq!(s(&rows[0], "FileName"), "shadow");
    assert_eq!(s(&rows[0], "InitiatingProcessFileName"), "head");

    // Replace the file the way passwd does (a new inode renamed over it, same content and
    // mode); the agent follows the new inode within its 5 s re-check.
    let st = Command::new("sh")
        .args([
            "-c",
            "cp -p /etc/shadow /etc/shadow.vigil-it && mv /etc/shadow.vigil-it /etc/shadow",
        ])
        .status()
        .unwrap();
    assert!(st.success());
    std::thread::sleep(std::time::Duration::from_secs(6));
    let pid = read_shadow();
    agent.wait_for("shadow read after replacement", sensitive_read(pid));
}

#[test]
fn a_program_run_from_a_memfd_is_named_by_its_memfd() {
    let Some(agent) = agent() else { return };
    let name = std::ffi::CString::new("vigil-it-memfd").unwrap();
    // SAFETY: memfd_create with a valid C string; no CLOEXEC, so the child can exec it.
    let fd = unsafe { libc::memfd_create(name.as_ptr(), 0) };
    assert!(fd >= 0);
    let image = std::fs::read("/bin/true").unwrap();
    // SAFETY: writing our buffer to our own fd.
    assert_eq!(
        unsafe { libc::write(fd, image.as_ptr().cast(), image.len()) },
        image.len() as isize
    );
    let child = Command::new(format!("/proc/self/fd/{fd}")).spawn().unwrap();
    let pid = child.id() as i64;
    assert!(child.wait_with_output().unwrap().status.success());
    // SAFETY: closing our own fd.
    unsafe { libc::close(fd) };
    let rows = agent.wait_for("memfd exec", |r| {
        s(r, "ActionType") == "ProcessCreated" && r["ProcessId"].as_i64() == Some(pid)
    });
    assert_eq!(s(&rows[0], "FolderPath"), "/memfd:vigil-it-memfd");
    assert_eq!(s(&rows[0], "FileName"), "memfd:vigil-it-memfd");
    assert_eq!(rows[0]["AdditionalFields"]["fileless_kind"], "memfd");
    // Writing the image into the memfd is not a file event with a made-up path.
    assert!(
        !agent
            .rows()
            .iter()
            .any(|r| s(r, "Table") == "DeviceFileEvents" && s(r, "FolderPath") == "/"),
        "a file event with the path \"/\""
    );
}

#[test]
fn rare_syscalls_are_recorded_with_their_first_argument_as_auditd_writes_it() {
    let Some(agent) = agent() else { return };
    // setarch -R: personality(PER_LINUX | ADDR_NO_RANDOMIZE), ASLR off for what it runs.
    let m = marker("aslr");
    let st = Command::new("setarch")
        .args(["-R", "/bin/sh", "-c", &format!("true {m}")])
        .status()
        .unwrap();
    assert!(st.success());
    let rows = agent.wait_for("personality", |r| {
        s(r, "ActionType") == "PersonalityChanged" && s(r, "InitiatingProcessFileName") == "setarch"
    });
    assert_eq!(rows[0]["AdditionalFields"]["a0"], "40000");
    assert_eq!(rows[0]["AdditionalFields"]["syscall"], "personality");

    // mkfifo: mknodat with a FIFO mode, the path named.
    let dir = crate::harness::temp_dir("fifo");
    let fifo = dir.join("f");
    let st = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(st.success());
    let rows = agent.wait_for("mknodat", |r| {
        s(r, "ActionType") == "SpecialFileCreated" && s(r, "FileName") == "f"
    });
    assert_eq!(rows[0]["AdditionalFields"]["node_type"], "fifo");
    assert!(s(&rows[0], "FolderPath").ends_with("/f"));

    // dmesg -D / -E: syslog(SYSLOG_ACTION_CONSOLE_OFF = 6) then ON (7); reads are not recorded.
    if Command::new("dmesg")
        .arg("-D")
        .status()
        .is_ok_and(|s| s.success())
    {
        let _ = Command::new("dmesg").arg("-E").status();
        let rows = agent.wait_for("syslog console off", |r| {
            s(r, "ActionType") == "KernelLogControlled" && r["AdditionalFields"]["a0"] == "6"
        });
        assert_eq!(s(&rows[0], "InitiatingProcessFileName"), "dmesg");
    } else {
        println!("skipped the syslog part: dmesg -D is not permitted here");
    }
}

#[test]
fn sysinfo_is_reported_once_per_program_and_a_stopped_service_is_named() {
    let Some(agent) = agent() else { return };
    // A copy of `getconf` (whose _PHYS_PAGES calls sysinfo) under a fresh inode: reported
    // the first time only.
    let dir = crate::harness::temp_dir("sysinfo");
    let prog = dir.join("probe-getconf");
    std::fs::copy("/usr/bin/getconf", &prog).unwrap();
    for _ in 0..3 {
        let out = Command::new(&prog).arg("_PHYS_PAGES").output().unwrap();
        assert!(out.status.success());
    }
    let name = prog.file_name().unwrap().to_str().unwrap().to_string();
    let rows = agent.wait_for("sysinfo", |r| {
        s(r, "ActionType") == "SystemInfoQueried" && s(r, "InitiatingProcessFileName") == name
    });
    assert_eq!(rows[0]["AdditionalFields"]["syscall"], "sysinfo");
    std::thread::sleep(std::time::Duration::from_secs(1));
    let again = agent
        .rows()
        .iter()
        .filter(|r| {
            s(r, "ActionType") == "SystemInfoQueried" && s(r, "InitiatingProcessFileName") == name
        })
        .count();
    assert_eq!(again, 1, "three runs of one program, one row");

    // A unit's cgroup in the hierarchy systemd uses for units, removed as systemd does when
    // the unit stops.
    let cgroup = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let base = if cgroup.contains(":name=systemd:") {
        "/sys/fs/cgroup/systemd"
    } else {
        "/sys/fs/cgroup"
    };
    let unit = crate::harness::marker("svc");
    let dir = std::path::Path::new(base).join(format!("{unit}.service"));
    if std::fs::create_dir(&dir).is_err() {
        println!("skipped the service part: cannot create a cgroup under {base}");
        return;
    }
    std::fs::remove_dir(&dir).unwrap();
    let rows = agent.wait_for("service stopped", |r| {
        s(r, "ActionType") == "ServiceStopped" && r["AdditionalFields"]["unit"] == unit.as_str()
    });
    assert_eq!(rows.len(), 1, "one row per stop");
    assert_eq!(
        rows[0]["AdditionalFields"]["unit_file"],
        format!("{unit}.service").as_str()
    );
}
