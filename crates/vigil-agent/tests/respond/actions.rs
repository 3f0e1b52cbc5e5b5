//! Device actions: kill, quarantine and restore, collect, restrict, bad input, commands
//! queued while the agent is offline, and server indicators reaching protection.

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::harness::{
    alive, serial, stack, start_time_ns, wait_until, KNOWN_BAD, KNOWN_BAD_THREAT,
};

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("vigil-respond-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn sha256(p: &Path) -> String {
    hex::encode(Sha256::digest(std::fs::read(p).unwrap()))
}

#[test]
fn kill_ends_a_process_and_a_tree_and_refuses_the_agent_and_reused_pids() {
    let _s = serial();
    let Some(st) = stack() else { return };
    let mut one = Command::new("sleep").arg("300").spawn().unwrap();
    let pid = one.id();
    let e = st.fails(
        "kill",
        json!({ "pid": pid, "start_time_ns": start_time_ns(pid) + 10_000_000_000u64 }),
    );
    assert!(e.contains("another process"), "{e}");
    assert!(alive(pid), "a mismatched start time kills nothing");
    let r = st.ok(
        "kill",
        json!({ "pid": pid, "start_time_ns": start_time_ns(pid) }),
    );
    assert_eq!(r["Killed"][0]["ProcessId"], pid, "{r}");
    let status = one.wait().unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9)
    );

    // A tree: a shell with two children; all three end.
    let mut tree = Command::new("sh")
        .args(["-c", "sleep 300 & sleep 301 & wait"])
        .spawn()
        .unwrap();
    let root = tree.id();
    let mut kids = Vec::new();
    wait_until("the tree's children", 10, || {
        kids = children(root);
        kids.len() == 2
    });
    let r = st.ok("kill", json!({ "pid": root, "tree": true }));
    assert_eq!(r["Killed"].as_array().unwrap().len(), 3, "{r}");
    // Children first.
    assert_eq!(r["Killed"][2]["ProcessId"], root, "{r}");
    tree.wait().unwrap();
    wait_until("the children to end", 10, || {
        kids.iter().all(|k| !alive(*k))
    });

    let e = st.fails("kill", json!({ "pid": st.agent_pid() }));
    assert!(e.contains("agent itself"), "{e}");
    let e = st.fails("kill", json!({ "pid": 4_000_000 }));
    assert!(e.contains("no process with pid 4000000"), "{e}");
}

fn children(pid: u32) -> Vec<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

#[test]
fn quarantine_stops_the_file_removes_its_cron_line_and_restore_puts_both_back() {
    let _s = serial();
    let Some(st) = stack() else { return };
    let dir = scratch("quarantine");
    let bin = dir.join("implant");
    std::fs::copy("/usr/bin/sleep", &bin).unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    let want = sha256(&bin);
    let made_cron_d = !Path::new("/etc/cron.d").exists();
    std::fs::create_dir_all("/etc/cron.d").unwrap();
    let cron = PathBuf::from(format!(
        "/etc/cron.d/vigil-respond-test-{}",
        std::process::id()
    ));
    let line = format!("*/5 * * * * root {} 60", bin.display());
    let kept = format!("*/5 * * * * root {}-other 60", bin.display());
    std::fs::write(&cron, format!("# test\n{line}\n{kept}\n")).unwrap();
    std::fs::set_permissions(&cron, std::fs::Permissions::from_mode(0o640)).unwrap();
    let mut running = Command::new(&bin).arg("300").spawn().unwrap();

    let a = st.run("quarantine", json!({ "path": bin, "sha256": want }));
    let r = &a["Result"];
    let cleanup = || {
        let _ = std::fs::remove_file(&cron);
        if made_cron_d {
            let _ = std::fs::remove_dir("/etc/cron.d");
        }
    };
    if a["Status"] != "Succeeded" {
        cleanup();
        panic!("quarantine: {a}");
    }
    assert_eq!(r["SHA256"], want.as_str(), "{r}");
    assert!(r["QuarantineId"].is_string(), "{r}");
    assert!(
        r["KilledPids"]
            .as_array()
            .unwrap()
            .contains(&json!(running.id())),
        "{r}"
    );
    let removed = r["PersistenceRemoved"].as_array().unwrap();
    assert_eq!(removed.len(), 1, "{r}");
    assert_eq!(removed[0]["Entry"], line.as_str());
    assert_eq!(removed[0]["Kind"], "Cron");
    running.wait().unwrap();
    assert!(!bin.exists(), "the file is in the vault");
    let text = std::fs::read_to_string(&cron).unwrap();
    assert_eq!(
        text,
        format!("# test\n{kept}\n"),
        "only the line naming the file goes"
    );
    assert_eq!(
        std::fs::metadata(&cron).unwrap().permissions().mode() & 0o777,
        0o640
    );

    // Undo from the action center: the server maps it to a restore.
    let (code, u) = st.post(
        &format!("/api/v1/actions/{}/undo", a["ActionId"].as_str().unwrap()),
        json!({}),
    );
    assert_eq!(code, 200, "{u}");
    let undo = st.finished(u["ActionId"].as_str().unwrap(), 60);
    assert_eq!(undo["Type"], "restore", "{undo}");
    assert_eq!(undo["Status"], "Succeeded", "{undo}");
    assert_eq!(sha256(&bin), want);
    assert_eq!(
        std::fs::read_to_string(&cron).unwrap(),
        format!("# test\n{line}\n{kept}\n")
    );
    cleanup();

    // Bad input: a file that does not exist, a digest that does not match.
    let e = st.fails("quarantine", json!({ "path": dir.join("nope") }));
    assert!(e.contains("does not exist") && e.contains("nope"), "{e}");
    let e = st.fails(
        "quarantine",
        json!({ "path": bin, "sha256": "00".repeat(32) }),
    );
    assert!(e.contains("nothing was done"), "{e}");
    assert!(bin.exists());
    let e = st.fails("restore", json!({ "quarantine_id": "notanid" }));
    assert!(e.contains("quarantine_id"), "{e}");
}

#[test]
fn collect_uploads_a_package_whose_manifest_lists_every_member_with_its_sha256() {
    let _s = serial();
    let Some(st) = stack() else { return };
    let started = Instant::now();
    let r = st.ok("collect", json!({}));
    println!(
        "collect took {} ms, {} bytes",
        started.elapsed().as_millis(),
        r["Size"]
    );
    let data = st.action_file(r["FileId"].as_str().unwrap());
    assert_eq!(
        hex::encode(Sha256::digest(&data)),
        r["SHA256"].as_str().unwrap()
    );
    let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(data.as_slice()));
    let mut members = std::collections::BTreeMap::new();
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        let name = e.path().unwrap().to_string_lossy().into_owned();
        let mut body = Vec::new();
        e.read_to_end(&mut body).unwrap();
        members.insert(name, body);
    }
    let manifest: Value = serde_json::from_slice(&members["manifest.json"]).unwrap();
    let listed = manifest["Members"].as_array().unwrap();
    assert_eq!(
        listed.len() + 1,
        members.len(),
        "every member but the manifest is listed"
    );
    for m in listed {
        let body = &members[m["Name"].as_str().unwrap()];
        assert_eq!(
            m["SHA256"],
            hex::encode(Sha256::digest(body)).as_str(),
            "{m}"
        );
        assert!(m["Source"].is_string(), "{m}");
    }
    let procs: Value = serde_json::from_slice(&members["processes.json"]).unwrap();
    assert!(procs
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["ProcessId"] == st.agent_pid()));
    for part in [
        "binaries_sha256.json",
        "network/connections.json",
        "persistence/entries.json",
    ] {
        assert!(members.contains_key(part), "{part}");
    }
    // A kernel without loadable modules has no /proc/modules: the part is then an error in
    // the manifest, naming its source, never a silent gap.
    let recorded_error = manifest["Errors"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["Part"] == "kernel/modules.txt" && e["Source"] == "/proc/modules");
    assert_eq!(
        members.contains_key("kernel/modules.txt"),
        !recorded_error,
        "kernel/modules.txt is a member or an error: {}",
        manifest["Errors"]
    );
    assert_eq!(manifest["Device"]["DeviceId"], st.device_id.as_str());
}

/// Directories the machine's other work runs from (toolchains, build trees): allowed so that
/// a restriction during the test does not break builds running beside it.
fn toolchain_dirs() -> Vec<String> {
    ["/root/.cargo/", "/root/.rustup/", "/work/", "/usr/local/"]
        .iter()
        .filter(|d| Path::new(d).is_dir())
        .map(|d| d.to_string())
        .collect()
}

fn runs(p: &Path) -> Result<bool, std::io::Error> {
    Command::new(p)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
}

#[test]
fn restrict_lets_only_packages_run_survives_a_restart_and_offline_commands_run_on_reconnect() {
    let _s = serial();
    let Some(st) = stack() else { return };
    let exec = st.status()["protection"]["exec"]["rung"]
        .as_str()
        .unwrap_or("")
        .to_string();
    if !exec.contains("fanotify") {
        println!("skipped: the exec guard is not running here ({exec})");
        return;
    }
    if !Path::new("/var/lib/dpkg/info").is_dir() {
        println!("skipped: restrict needs dpkg's file lists");
        return;
    }
    let dir = scratch("restrict");
    let mine = dir.join("mytrue");
    std::fs::copy("/usr/bin/true", &mine).unwrap();
    std::fs::set_permissions(&mine, std::fs::Permissions::from_mode(0o755)).unwrap();
    let allowed = dir.join("allowed-true");
    std::fs::copy("/usr/bin/true", &allowed).unwrap();
    std::fs::set_permissions(&allowed, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert!(runs(&mine).unwrap());

    let mut allow = toolchain_dirs();
    allow.push(allowed.display().to_string());
    let r = st.ok("restrict", json!({ "allow": allow }));
    assert!(r["PackageFiles"].as_u64().unwrap() > 100, "{r}");
    let denied = |p: &Path| matches!(runs(p), Err(e) if e.raw_os_error() == Some(libc::EPERM));
    assert!(denied(&mine), "an unpackaged binary in /tmp cannot run");
    assert!(
        runs(Path::new("/usr/bin/true")).unwrap(),
        "a package's binary runs"
    );
    assert!(runs(&allowed).unwrap(), "a path on the allow list runs");
    wait_until("the status to show the restriction", 10, || {
        !st.status()["respond"]["restriction"].is_null()
    });

    // Offline: commands queued while the agent is down run when it is back; one whose time to
    // live passes first ends TimedOut.
    st.stop_agent();
    assert!(runs(&mine).unwrap(), "no agent, no guard (it fails open)");
    let mut victim = Command::new("sleep").arg("300").spawn().unwrap();
    let queued = st.queue("kill", json!({ "pid": victim.id() }));
    let short =
        st.queue_with(json!({ "type": "kill", "args": { "pid": victim.id() }, "ttl_seconds": 1 }));
    std::thread::sleep(Duration::from_millis(1500));
    st.start_agent();
    let a = st.finished(&queued, 60);
    assert_eq!(a["Status"], "Succeeded", "{a}");
    victim.wait().unwrap();
    let s = st.finished(&short, 60);
    assert_eq!(s["Status"], "TimedOut", "{s}");

    // The restriction came back with the agent.
    wait_until("the restriction to be applied again", 30, || denied(&mine));
    assert!(runs(Path::new("/usr/bin/true")).unwrap());
    let r = st.ok("unrestrict", json!({}));
    assert_eq!(r["WasRestricted"], true, "{r}");
    assert!(runs(&mine).unwrap(), "unrestrict lifts it");
    // The server checks the arguments before anything reaches the device.
    let (code, e) = st.post(
        &format!("/api/v1/devices/{}/actions", st.device_id),
        json!({ "type": "restrict", "args": { "allow": ["not-a-digest"] } }),
    );
    assert_eq!(code, 400, "{e}");
    assert!(
        e["detail"].as_str().unwrap().contains("not-a-digest"),
        "{e}"
    );
}

#[test]
fn scans_find_a_planted_file_and_bad_paths_are_named() {
    let _s = serial();
    let Some(st) = stack() else { return };
    let dir = scratch("scan");
    std::fs::write(dir.join("clean.txt"), "hello").unwrap();
    let r = st.ok("scan", json!({ "type": "custom", "path": dir }));
    assert_eq!(r["FilesScanned"], 1, "{r}");
    assert_eq!(r["Detections"].as_array().unwrap().len(), 0, "{r}");
    // A file known by its hash in the agent's configuration: on-demand scans use the
    // engine real-time protection uses, SHA-256 lists included.
    std::fs::write(dir.join("payload.bin"), KNOWN_BAD).unwrap();
    let r = st.ok("scan", json!({ "type": "custom", "path": dir }));
    let found = r["Detections"].as_array().unwrap();
    assert_eq!(found.len(), 1, "{r}");
    assert_eq!(found[0]["Threat"], KNOWN_BAD_THREAT, "{r}");
    assert!(
        found[0]["Path"].as_str().unwrap().ends_with("payload.bin"),
        "{r}"
    );
    let e = st.fails(
        "scan",
        json!({ "type": "custom", "path": dir.join("missing") }),
    );
    assert!(e.contains("does not exist") && e.contains("missing"), "{e}");
}

#[test]
fn a_blocking_ip_indicator_created_on_the_server_reaches_the_agent_and_refuses_connects() {
    let _s = serial();
    let Some(st) = stack() else { return };
    let net = st.status()["protection"]["network"]["rung"]
        .as_str()
        .unwrap_or("")
        .to_string();
    if !net.contains("cgroup") {
        println!("skipped: network protection is not running here ({net})");
        return;
    }
    let ip = "127.92.1.77";
    let l = match std::net::TcpListener::bind((ip, 0)) {
        Ok(l) => l,
        Err(e) => {
            println!("skipped: cannot listen on {ip}: {e}");
            return;
        }
    };
    let port = l.local_addr().unwrap().port();
    let connect = || {
        std::net::TcpStream::connect_timeout(
            &(ip.parse::<std::net::IpAddr>().unwrap(), port).into(),
            Duration::from_secs(2),
        )
    };
    assert!(connect().is_ok(), "reachable before the indicator");
    let (code, ind) = st.post(
        "/api/v1/indicators",
        json!({ "type": "ip", "value": ip, "action": "block", "severity": "High", "title": "respond test" }),
    );
    assert_eq!(code, 200, "{ind}");
    let started = Instant::now();
    wait_until(
        "the indicator to reach the agent",
        60,
        || matches!(connect(), Err(e) if e.raw_os_error() == Some(libc::EPERM)),
    );
    println!(
        "indicator enforced {} ms after it was created",
        started.elapsed().as_millis()
    );
    let id = ind["IndicatorId"]
        .as_str()
        .or(ind["Id"].as_str())
        .map(str::to_string);
    if let Some(id) = id {
        let (code, _) = st.delete(&format!("/api/v1/indicators/{id}"));
        assert_eq!(code, 200);
        wait_until("the deletion to reach the agent", 60, || connect().is_ok());
    }
}
