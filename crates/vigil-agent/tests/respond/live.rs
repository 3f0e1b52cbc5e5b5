//! Live response through a session: processes, fileinfo, findfile, getfile (100 MB), putfile,
//! run (output, exit code, time limit), and bad input named in the error.

use std::io::Write;
use std::time::Instant;

use serde_json::json;
use sha2::{Digest, Sha256};

use crate::harness::{serial, stack};

#[test]
fn live_response_reads_moves_and_runs_files_and_names_bad_input() {
    let _s = serial();
    let Some(st) = stack() else { return };
    let dir = std::env::temp_dir().join(format!("vigil-respond-{}-live", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let sid = st.session();
    let ok = |cmd: &str, args: serde_json::Value| {
        let a = st.live(&sid, cmd, args.clone());
        assert_eq!(a["Status"], "Succeeded", "{cmd} {args}: {a}");
        a
    };
    let fails = |cmd: &str, args: serde_json::Value| {
        let a = st.live(&sid, cmd, args.clone());
        assert_eq!(a["Status"], "Failed", "{cmd} {args}: {a}");
        a["Error"].as_str().unwrap().to_string()
    };

    let procs = ok("processes", json!({}));
    let me = procs["Result"]["Rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["ProcessId"] == std::process::id())
        .cloned()
        .expect("this test process is listed");
    assert!(me["Exe"].as_str().unwrap().contains("respond"), "{me}");
    assert!(me["StartTime"].is_string() && me["User"] == "root", "{me}");

    let conns = ok("connections", json!({}));
    assert!(conns["Result"]["Rows"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["ProcessId"] == st.agent_pid() && r["State"] == "ESTABLISHED"));

    // getfile: 100 MB arrive with the same SHA-256.
    let big = dir.join("big.bin");
    {
        let mut out = std::io::BufWriter::new(std::fs::File::create(&big).unwrap());
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        for _ in 0..(100 << 20) / 8 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            out.write_all(&x.to_le_bytes()).unwrap();
        }
    }
    let want = hex::encode(Sha256::digest(std::fs::read(&big).unwrap()));
    let info = ok("fileinfo", json!({ "path": big }));
    assert_eq!(info["Result"]["SHA256"], want.as_str());
    assert_eq!(info["Result"]["Size"], 100 << 20);
    let started = Instant::now();
    let got = ok("getfile", json!({ "path": big, "max_bytes": 200 << 20 }));
    println!(
        "getfile of 100 MB took {} ms",
        started.elapsed().as_millis()
    );
    assert_eq!(got["Result"]["SHA256"], want.as_str());
    let body = st.action_file(got["Result"]["FileId"].as_str().unwrap());
    assert_eq!(hex::encode(Sha256::digest(&body)), want);
    let e = fails("getfile", json!({ "path": big, "max_bytes": 1000 }));
    assert!(e.contains("over the limit of 1000"), "{e}");

    let found = ok("findfile", json!({ "name": "big.*", "root": dir }));
    assert_eq!(found["Result"]["Rows"][0]["Path"], big.to_str().unwrap());

    // putfile: a library file onto the device; never over a file without overwrite.
    st.library("note.txt", b"from the library\n");
    let dest = dir.join("note.txt");
    ok("putfile", json!({ "file": "note.txt", "path": dest }));
    assert_eq!(std::fs::read(&dest).unwrap(), b"from the library\n");
    std::fs::write(&dest, "local").unwrap();
    let e = fails("putfile", json!({ "file": "note.txt", "path": dest }));
    assert!(
        e.contains("already exists") && e.contains("overwrite"),
        "{e}"
    );
    assert_eq!(std::fs::read(&dest).unwrap(), b"local", "nothing changed");
    ok(
        "putfile",
        json!({ "file": "note.txt", "path": dest, "overwrite": true }),
    );
    assert_eq!(std::fs::read(&dest).unwrap(), b"from the library\n");
    let e = fails(
        "putfile",
        json!({ "file": "note.txt", "path": dir.join("no/such/dir/x") }),
    );
    assert!(
        e.contains("does not exist") && e.contains("no/such/dir"),
        "{e}"
    );

    // run: output, stderr and exit code captured; the time limit kills the group.
    st.library(
        "probe.sh",
        b"#!/bin/sh\necho \"args: $1 $2\"\necho oops >&2\npwd\nexit 3\n",
    );
    let r = ok("run", json!({ "script": "probe.sh", "args": ["a b", "c"] }));
    let res = &r["Result"];
    assert_eq!(res["ExitCode"], 3, "{res}");
    assert!(
        res["Stdout"].as_str().unwrap().starts_with("args: a b c\n"),
        "{res}"
    );
    assert_eq!(res["Stderr"], "oops\n");
    let cwd = res["Stdout"]
        .as_str()
        .unwrap()
        .lines()
        .nth(1)
        .unwrap()
        .to_string();
    assert!(
        !std::path::Path::new(&cwd).exists(),
        "the private directory is removed: {cwd}"
    );
    st.library(
        "hang.sh",
        b"#!/bin/sh\necho started\nsleep 60 &\nsleep 60\n",
    );
    let started = Instant::now();
    let e = fails("run", json!({ "script": "hang.sh", "timeout_secs": 2 }));
    assert!(
        e.contains("timed out after 2 s") && e.contains("started"),
        "{e}"
    );
    assert!(started.elapsed().as_secs() < 30);
    let leftover = std::process::Command::new("pgrep")
        .args(["-f", "^sleep 60$"])
        .output()
        .map(|o| o.stdout)
        .unwrap_or_default();
    assert!(leftover.is_empty(), "the script's process group is gone");

    // Bad input reaching the agent is named.
    let e = fails("fileinfo", json!({ "path": dir.join("missing") }));
    assert!(e.contains("does not exist") && e.contains("missing"), "{e}");

    // Every command is in the session's audit trail.
    let s = st.get(&format!("/api/v1/live/{sid}"));
    let kinds: Vec<&str> = s["Commands"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["Type"].as_str())
        .collect();
    for k in [
        "live.processes",
        "live.getfile",
        "live.putfile",
        "live.run",
        "live.fileinfo",
    ] {
        assert!(kinds.contains(&k), "{k} in {kinds:?}");
    }
    let (code, _) = st.delete(&format!("/api/v1/live/{sid}"));
    assert_eq!(code, 200);
    let _ = std::fs::remove_dir_all(&dir);
}
