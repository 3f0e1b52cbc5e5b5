//! On-access scanning through the real agent binary: the EICAR test file (built here at run
//! time from parts, so the repository holds no EICAR file) is refused on open under a
//! protected path and on exec anywhere; quarantined into the vault and restorable through
//! vigil-scan; a clean file runs; the second exec of a file is served from the cache; audit
//! mode only reports.
//!
//! Each test starts its own agent protecting its own directory, so tests never see each
//! other's files. Tests skip with a printed reason when not root or when the agent reports
//! real-time protection off (no fanotify permission events).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::{is_root, marker, s, temp_dir, Agent};

/// The 68-byte EICAR test string, assembled so that no source file contains it whole.
fn eicar() -> Vec<u8> {
    let mut v = String::from("X5O!P%@AP[4\\PZX54(P^)7CC)7}$");
    v.push_str(&["EICAR", "STANDARD", "ANTIVIRUS", "TEST", "FILE!$H+H*"].join("-"));
    assert_eq!(v.len(), 68);
    v.into_bytes()
}

struct Av {
    agent: Agent,
    dir: PathBuf,
}

fn start(name: &str, action: &str) -> Option<Av> {
    if !is_root() {
        println!("skipped: needs root for fanotify permission events");
        return None;
    }
    let dir = temp_dir(&format!("av-{name}"));
    // Only the block test scans execs: the agents of these tests run at the same time, and
    // a quarantining agent would move another test's executable away.
    let cfg = format!(
        "[antivirus]\nenabled = true\naction = \"{action}\"\nprotected_paths = [\"{}\"]\ntimeout_ms = 30000\nscan_exec = {}\n",
        dir.display(),
        action == "block"
    );
    let agent = Agent::start(&format!("av-{name}"), &cfg);
    let av = agent.status()["antivirus"].clone();
    if av["real_time"] != true {
        println!(
            "skipped: real-time protection is off here: {}",
            av["detail"]
        );
        return None;
    }
    Some(Av { agent, dir })
}

fn detections(agent: &Agent, path: &Path, action: &str, trigger: &str) -> Vec<Value> {
    let p = path.display().to_string();
    agent.wait_for(&format!("{action} {trigger} of {p}"), |r| {
        s(r, "ActionType") == "AntivirusDetection"
            && s(r, "FolderPath") == p
            && r["AdditionalFields"]["Action"] == action
            && r["AdditionalFields"]["Trigger"] == trigger
    })
}

fn write_exec(path: &Path, data: &[u8]) {
    std::fs::write(path, data).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn eicar_is_refused_on_open_and_exec_and_the_second_exec_is_served_from_the_cache() {
    let Some(av) = start("block", "block") else {
        return;
    };
    // Open under the protected path.
    let file = av.dir.join("eicar.txt");
    std::fs::write(&file, eicar()).unwrap();
    let err = std::fs::read(&file).expect_err("the EICAR file must not open");
    assert_eq!(err.raw_os_error(), Some(libc::EPERM), "{err}");
    let rows = detections(&av.agent, &file, "Blocked", "Open");
    let row = &rows[0];
    assert_eq!(
        row["AdditionalFields"]["ThreatName"],
        "Virus/EICAR_Test_File"
    );
    assert_eq!(row["AdditionalFields"]["Rule"], "Vigil_EICAR_Test_File");
    assert_eq!(s(row, "FileName"), "eicar.txt");
    assert_eq!(s(row, "SHA256").len(), 64);

    // Exec anywhere, here outside the protected path: refused; the second time from the
    // cache.
    let elsewhere = temp_dir("av-exec");
    let exe = elsewhere.join("eicar-run");
    write_exec(&exe, &eicar());
    for round in 0..2 {
        let err = Command::new(&exe)
            .status()
            .expect_err("the EICAR file must not run");
        assert_eq!(
            err.raw_os_error(),
            Some(libc::EPERM),
            "round {round}: {err}"
        );
    }
    let rows = detections(&av.agent, &exe, "Blocked", "Exec");
    let sources: Vec<&Value> = rows
        .iter()
        .map(|r| &r["AdditionalFields"]["VerdictSource"])
        .collect();
    assert!(
        sources.contains(&&Value::from("scan")) && sources.contains(&&Value::from("cache")),
        "first exec scanned, second from the cache: {sources:?}"
    );

    // A clean file runs, under the protected path.
    let m = marker("clean");
    let script = av.dir.join("clean.sh");
    write_exec(&script, format!("#!/bin/sh\necho {m}\n").as_bytes());
    let out = Command::new(&script).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), m);
    // The status is rewritten every second.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let c = av.agent.status()["antivirus"]["counters"].clone();
        let n = |k: &str| c[k].as_u64().unwrap_or(0);
        if n("cache_hits") >= 1 && n("blocked") >= 3 {
            break;
        }
        assert!(Instant::now() < deadline, "counters: {c}");
        std::thread::sleep(Duration::from_millis(100));
    }

    // A clean program run a few times is then skipped by the kernel (an ignore mark) until
    // it changes: overwritten in place with EICAR, by write(2) and then through a shared
    // mapping, its next exec is refused.
    // 100 bytes: room for the 69 of EICAR, and under the 128 its rule allows.
    let clean = format!("#!/bin/sh\n# {}\nexit 0\n", "#".repeat(80));
    assert_eq!(clean.len(), 100);
    let counter = |agent: &Agent, name: &str| {
        agent.status()["antivirus"]["counters"][name]
            .as_u64()
            .unwrap_or(0)
    };
    // Until the agent's counter `name` reaches `at_least` (the status lags a little).
    let wait_counter = |name: &str, at_least: u64, what: &str| {
        let deadline = Instant::now() + Duration::from_secs(20);
        while counter(&av.agent, name) < at_least {
            assert!(Instant::now() < deadline, "{what}");
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    // The counter `name` once it has stopped moving (the status is written every second, so
    // a count of work done earlier may still show up late).
    let settled = |name: &str| {
        let deadline = Instant::now() + Duration::from_secs(20);
        let (mut last, mut since) = (counter(&av.agent, name), Instant::now());
        while since.elapsed() < Duration::from_millis(1500) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(250));
            let now = counter(&av.agent, name);
            if now != last {
                (last, since) = (now, Instant::now());
            }
        }
        last
    };
    for how in ["write", "mmap"] {
        let prog = elsewhere.join(format!("skipped-{how}.sh"));
        let skips = counter(&av.agent, "kernel_skips");
        // Outside the protected path, only a file with the agent's mark (the program, once
        // skipped) reports its close after writing: one background scan each time.
        let rescans = settled("rescans");
        write_exec(&prog, clean.as_bytes());
        for _ in 0..3 {
            let out = Command::new(&prog).output().unwrap();
            assert!(
                out.status.success(),
                "{how}: the clean program runs: {out:?}"
            );
        }
        wait_counter(
            "kernel_skips",
            skips + 1,
            &format!("{how}: no kernel skip after three clean execs"),
        );
        let mut bad = eicar();
        bad.push(b'\n');
        if how == "write" {
            std::fs::write(&prog, &bad).unwrap();
            wait_counter(
                "rescans",
                rescans + 1,
                "the agent did not rescan the program",
            );
        } else {
            // The new content comes from a side file (not marked: no event).
            let side = elsewhere.join("mmap-content");
            std::fs::write(&side, &bad).unwrap();
            let code = format!(
                "import mmap\nd=open('{}','rb').read()\nf=open('{}','r+b')\nm=mmap.mmap(f.fileno(),0)\nm[0:len(d)]=d\nm.flush()\nm.close()\nf.close()",
                side.display(),
                prog.display()
            );
            let o = Command::new("python3")
                .args(["-c", &code])
                .output()
                .unwrap();
            assert!(o.status.success(), "mmap write: {o:?}");
            // The close after writing is an event, not a wait: once the agent has handled
            // it (the program's background scan), the mark is gone.
            wait_counter(
                "rescans",
                rescans + 1,
                "the agent did not handle the close after writing",
            );
        }
        let err = Command::new(&prog)
            .status()
            .expect_err("the changed program must not run");
        assert_eq!(err.raw_os_error(), Some(libc::EPERM), "{how}: {err}");
    }
}

#[test]
fn eicar_is_quarantined_and_restorable_from_the_vault() {
    let Some(av) = start("quarantine", "quarantine") else {
        return;
    };
    let file = av.dir.join("dropped.bin");
    std::fs::write(&file, eicar()).unwrap();
    // The scan after the write (or the open below) moves it into the vault.
    let _ = std::fs::read(&file);
    let deadline = Instant::now() + Duration::from_secs(20);
    while file.exists() {
        assert!(
            Instant::now() < deadline,
            "{} was not quarantined",
            file.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let row = av
        .agent
        .wait_for("the quarantine row", |r| {
            s(r, "ActionType") == "AntivirusDetection"
                && s(r, "FolderPath") == file.display().to_string()
                && r["AdditionalFields"]["Action"] == "Quarantined"
        })
        .remove(0);
    let id = row["AdditionalFields"]["QuarantineId"]
        .as_str()
        .expect("a quarantine id")
        .to_string();
    let vault = vigil_scan::Quarantine::open(av.agent.state_dir.join("quarantine")).unwrap();
    let entry = vault
        .entry(&vigil_scan::QuarantineId::parse(&id).unwrap())
        .unwrap();
    assert_eq!(entry.original_path, file);
    assert_eq!(entry.threat, "Virus/EICAR_Test_File");
    // Restored outside the protected path (it would be quarantined again inside it).
    let to = temp_dir("av-restored").join("restored.bin");
    vault
        .restore(&entry.id, Some(&to), Default::default())
        .unwrap();
    assert_eq!(std::fs::read(&to).unwrap(), eicar());
}

#[test]
fn audit_mode_reports_and_allows() {
    let Some(av) = start("audit", "audit") else {
        return;
    };
    let file = av.dir.join("audited.txt");
    std::fs::write(&file, eicar()).unwrap();
    assert_eq!(
        std::fs::read(&file).unwrap(),
        eicar(),
        "audit mode allows the open"
    );
    let rows = detections(&av.agent, &file, "Audited", "Open");
    assert_eq!(
        rows[0]["AdditionalFields"]["ThreatName"],
        "Virus/EICAR_Test_File"
    );
    assert!(file.exists(), "audit mode leaves the file");
    std::thread::sleep(Duration::from_millis(1200)); // the status is rewritten every second
    let c = &av.agent.status()["antivirus"];
    assert_eq!(c["mode"], "audit");
    assert_eq!(c["counters"]["blocked"], 0);
    assert!(c["counters"]["audited"].as_u64().unwrap_or(0) >= 1, "{c}");
}

/// A scheduled quick scan (real-time protection off) finds a file dropped in /tmp, reports
/// it and its end, and keeps its result in the state directory and the status.
#[test]
fn scheduled_quick_scans_find_dropped_files_and_keep_their_result() {
    if !is_root() {
        println!("skipped: needs root to run the agent");
        return;
    }
    let dir = temp_dir("av-scheduled");
    let file = dir.join("dropped.com");
    std::fs::write(&file, eicar()).unwrap();
    let agent = Agent::start(
        "av-scheduled",
        "[antivirus]\nenabled = false\nquick_scan_every = \"2s\"\n",
    );
    let p = file.display().to_string();
    let deadline = Instant::now() + Duration::from_secs(300);
    let done = loop {
        let rows = agent.rows();
        if let Some(r) = rows.iter().find(|r| {
            s(r, "ActionType") == "AntivirusScanCompleted"
                && r["AdditionalFields"]["ScanType"] == "quick"
        }) {
            break r.clone();
        }
        assert!(
            Instant::now() < deadline,
            "no scheduled quick scan ended within 300 s"
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    assert_eq!(done["AdditionalFields"]["Scheduled"], true, "{done}");
    assert!(
        done["AdditionalFields"]["ThreatsFound"].as_i64() >= Some(1),
        "{done}"
    );
    let found = agent.wait_for("the scheduled detection", |r| {
        s(r, "ActionType") == "AntivirusDetection"
            && s(r, "FolderPath") == p
            && r["AdditionalFields"]["ScanType"] == "quick"
    });
    assert_eq!(found[0]["AdditionalFields"]["DetectionSource"], "Scan");
    // The health: in the status, and on disk for the next start.
    let deadline = Instant::now() + Duration::from_secs(20);
    let last = loop {
        let last = agent.status()["antivirus"]["last_quick_scan"].clone();
        if last.is_object() {
            break last;
        }
        assert!(
            Instant::now() < deadline,
            "the status never showed the last quick scan"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(
        last["result"].as_str().unwrap().starts_with("completed"),
        "{last}"
    );
    assert!(last["threats_found"].as_u64() >= Some(1), "{last}");
    assert!(!last["threats"].as_array().unwrap().is_empty(), "{last}");
    let kept: Value = serde_json::from_slice(
        &std::fs::read(agent.state_dir.join("antivirus/scans.json")).unwrap(),
    )
    .unwrap();
    assert!(kept["quick"]["finished"].as_u64() > Some(0), "{kept}");
    assert!(kept["full"].is_null(), "no full scan was scheduled: {kept}");
    let _ = std::fs::remove_dir_all(&dir);
}
