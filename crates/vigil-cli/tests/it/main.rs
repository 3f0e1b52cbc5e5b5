//! The `vigil` binary's verbs that work without a server.

use std::process::Command;

fn vigil(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(args)
        .output()
        .expect("run vigil");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn rules_check_reports_each_file_with_its_status_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    let rule = |title: &str, logsource: &str, detection: &str| {
        format!(
            "title: {title}\nid: 0b6f3f0e-6a57-4c1e-9d55-{:012x}\nstatus: test\nlogsource:\n{logsource}\ndetection:\n{detection}\nlevel: high\n",
            title.len()
        )
    };
    std::fs::write(
        dir.path().join("good.yml"),
        rule(
            "shell from a web server",
            "  product: linux\n  category: process_creation",
            "  sel:\n    ParentImage|endswith: /nginx\n    Image|endswith: /sh\n  condition: sel",
        ),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("elsewhere.yml"),
        rule(
            "windows only",
            "  product: windows\n  category: process_creation",
            "  sel:\n    Image|endswith: '\\cmd.exe'\n  condition: sel",
        ),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("broken.yml"),
        rule(
            "undefined selection",
            "  product: linux\n  category: process_creation",
            "  sel:\n    Image: /bin/sh\n  condition: sel and other",
        ),
    )
    .unwrap();

    let (ok, out, err) = vigil(&["rules", "check", dir.path().to_str().unwrap(), "--json"]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("JSON output");
    assert_eq!(v["totals"]["loaded"], 1);
    assert_eq!(v["totals"]["unsupported"], 1);
    assert_eq!(v["totals"]["error"], 1);
    let files = v["files"].as_array().unwrap();
    assert_eq!(files.len(), 3);
    let by_name = |name: &str| {
        files
            .iter()
            .find(|f| f["path"].as_str().unwrap().ends_with(name))
            .unwrap_or_else(|| panic!("{name} reported"))
            .clone()
    };
    assert_eq!(by_name("good.yml")["status"], "loaded");
    let unsupported = by_name("elsewhere.yml");
    assert_eq!(unsupported["status"], "unsupported");
    assert!(unsupported["reason"].as_str().unwrap().contains("windows"));
    let broken = by_name("broken.yml");
    assert_eq!(broken["status"], "error");
    assert!(
        broken["reason"].as_str().unwrap().contains("other"),
        "the reason names the undefined selection: {broken}"
    );

    let (ok, _, err) = vigil(&["rules", "check", "/nonexistent-dir"]);
    assert!(!ok);
    assert!(err.contains("/nonexistent-dir is not a directory"), "{err}");
}

#[test]
fn output_into_a_closed_pipe_ends_quietly() {
    use std::io::Read;
    use std::process::{Command, Stdio};
    // Enough files for a JSON report well past a pipe's buffer.
    let dir = tempfile::tempdir().unwrap();
    for i in 0..2000 {
        std::fs::write(
            dir.path().join(format!("rule-with-a-long-name-{i:05}.yml")),
            "title: t\nlogsource:\n  product: windows\n  category: process_creation\ndetection:\n  s:\n    Image: x\n  condition: s\n",
        )
        .unwrap();
    }
    let mut child = Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(["rules", "check", dir.path().to_str().unwrap(), "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 16];
    child.stdout.take().unwrap().read_exact(&mut first).unwrap();
    // The reader is gone now (dropped above).
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_ne!(out.status.code(), Some(101), "{stderr}");
}
