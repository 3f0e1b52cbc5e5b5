//! ASR rules through the real agent binary: each rule built kills in block mode and only
//! reports in audit mode. A web server spawning a shell is played by a copy of bash named
//! `nginx`; exec from a world-writable directory by a script in a 0777 directory; a ptrace
//! attach by python3 (not a debugger). The test binary's own process name is excluded, so
//! that the other tests of this binary (which ptrace from it) are never matched.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::harness::{is_root, marker, s, temp_dir, Agent};

/// The two tests must not overlap: the block-mode agent would kill the audit test's attacks.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn start(name: &str, mode: &str) -> Option<Agent> {
    if !is_root() {
        println!("skipped: needs root to load the ASR programs");
        return None;
    }
    // The test process itself is excluded: other tests of this binary ptrace from it.
    let me = std::fs::read_to_string("/proc/self/comm").unwrap();
    let cfg = format!(
        "[asr]\nworld_writable_exec = \"{mode}\"\nserver_shell = \"{mode}\"\nptrace = \"{mode}\"\nexclude_processes = [{:?}]\n",
        me.trim()
    );
    let agent = Agent::start(&format!("asr-{name}"), &cfg);
    let asr = agent.status()["asr"].clone();
    let rules: Vec<String> = asr["rules"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|v| v.as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default();
    if !rules
        .iter()
        .any(|r| r.contains("SIGKILL from a tracepoint"))
    {
        println!("skipped: the kernel ASR rules are not enforced here: {asr}");
        return None;
    }
    Some(agent)
}

fn asr_rows(agent: &Agent, rule: &str, action: &str) -> Vec<Value> {
    agent.wait_for(&format!("ASR {rule} {action}"), |r| {
        r["AdditionalFields"]["DetectionSource"] == "AttackSurfaceReduction"
            && r["AdditionalFields"]["RuleId"] == rule
            && r["AdditionalFields"]["Action"] == action
    })
}

/// Runs the three attacks; returns whether each one's marker was printed (it ran).
fn attacks(base: &Path) -> (bool, bool, bool) {
    // A shell spawned by a process named like a web server.
    let nginx = base.join("nginx");
    std::fs::copy("/bin/bash", &nginx).unwrap();
    let m1 = marker("server-shell");
    let out = Command::new(&nginx)
        .args(["-c", &format!("/bin/sh -c 'echo {m1}'; true")])
        .output()
        .unwrap();
    let shell_ran = String::from_utf8_lossy(&out.stdout).contains(&m1);

    // A program run from a world-writable directory (a binary: the rule looks at its
    // directory), and a script directly in /dev/shm (its name decides).
    let open = base.join("world");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
    let bin = open.join("echo");
    std::fs::copy("/bin/echo", &bin).unwrap();
    let m2 = marker("ww-exec");
    let out = Command::new(&bin).arg(&m2).output();
    let bin_ran = out.is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains(&m2));
    let script = Path::new("/dev/shm").join(marker("ww-script"));
    std::fs::write(&script, format!("#!/bin/sh\necho {m2}\n")).unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = Command::new(&script).output();
    let _ = std::fs::remove_file(&script);
    let script_ran = out.is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains(&m2));
    assert_eq!(
        bin_ran, script_ran,
        "the binary and the script are treated alike"
    );
    let ww_ran = bin_ran;

    // ptrace attach by a process that is not a debugger.
    let mut victim = Command::new("sleep").arg("30").spawn().unwrap();
    let m3 = marker("ptrace");
    let code = format!(
        "import ctypes; l=ctypes.CDLL(None); l.ptrace(16, {}, 0, 0); print('{m3}')",
        victim.id()
    );
    let out = Command::new("python3")
        .args(["-c", &code])
        .stderr(Stdio::null())
        .output();
    let _ = victim.kill();
    let _ = victim.wait();
    let ptrace_ran = out.is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains(&m3));
    (shell_ran, ww_ran, ptrace_ran)
}

#[test]
fn asr_rules_kill_in_block_mode() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let Some(agent) = start("block", "block") else {
        return;
    };
    let (shell, ww, ptrace) = attacks(&temp_dir("asr-block"));
    assert!(!shell, "the web server's shell must not run");
    assert!(!ww, "the world-writable program must not run");
    assert!(
        !ptrace,
        "the non-debugger must not reach its print after ptrace"
    );
    for rule in ["server_shell", "world_writable_exec", "ptrace"] {
        let rows = asr_rows(&agent, rule, "Blocked");
        assert!(!s(&rows[0], "InitiatingProcessFileName").is_empty());
    }
    let rows = asr_rows(&agent, "server_shell", "Blocked");
    assert_eq!(s(&rows[0], "InitiatingProcessParentFileName"), "nginx");
}

#[test]
fn asr_rules_only_report_in_audit_mode() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let Some(agent) = start("audit", "audit") else {
        return;
    };
    let (shell, ww, ptrace) = attacks(&temp_dir("asr-audit"));
    assert!(
        shell && ww && ptrace,
        "audit mode lets everything run: {shell} {ww} {ptrace}"
    );
    for rule in ["server_shell", "world_writable_exec", "ptrace"] {
        asr_rows(&agent, rule, "Audited");
    }
}
