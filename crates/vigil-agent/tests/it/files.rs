//! File telemetry: create, modify, rename, delete, chmod +x; bounds and odd names.

use std::os::unix::ffi::OsStrExt;
use std::process::Command;

use crate::harness::{agent, s, temp_dir};

fn sh(dir: &std::path::Path, script: &str) {
    let ok = Command::new("sh")
        .arg("-c")
        .arg(script)
        .current_dir(dir)
        .status()
        .unwrap()
        .success();
    assert!(ok, "{script}");
    std::thread::sleep(std::time::Duration::from_millis(600));
}

#[test]
fn create_rename_chmod_delete_with_paths_and_hashes() {
    let Some(agent) = agent() else { return };
    let dir = temp_dir("files");
    let d = dir.to_str().unwrap().to_string();
    sh(&dir, "printf hello-vigil > a.txt");
    sh(&dir, "mv a.txt b.txt");
    sh(&dir, "chmod +x b.txt");
    sh(&dir, "printf more >> b.txt");
    sh(&dir, "rm b.txt");
    let expect_sha = {
        let out = Command::new("sh")
            .arg("-c")
            .arg("printf hello-vigil | sha256sum")
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .next()
            .unwrap()
            .to_string()
    };
    let created = agent.wait_for("FileCreated", |r| {
        s(r, "ActionType") == "FileCreated" && s(r, "FolderPath") == format!("{d}/a.txt")
    });
    assert_eq!(s(&created[0], "FileName"), "a.txt");
    assert_eq!(
        s(&created[0], "SHA256"),
        expect_sha,
        "hash after the settle time covers the write"
    );
    let shell = std::fs::canonicalize("/bin/sh").unwrap();
    assert_eq!(
        s(&created[0], "InitiatingProcessFileName"),
        shell.file_name().unwrap().to_str().unwrap()
    );
    let renamed = agent.wait_for("FileRenamed", |r| {
        s(r, "ActionType") == "FileRenamed" && s(r, "FolderPath") == format!("{d}/b.txt")
    });
    assert_eq!(s(&renamed[0], "PreviousFolderPath"), format!("{d}/a.txt"));
    assert_eq!(s(&renamed[0], "PreviousFileName"), "a.txt");
    assert_eq!(s(&renamed[0], "InitiatingProcessFileName"), "mv");
    assert_eq!(s(&renamed[0], "SHA256"), expect_sha);
    let chmod = agent.wait_for("chmod", |r| {
        s(r, "ActionType") == "FilePermissionsChanged" && s(r, "FolderPath") == format!("{d}/b.txt")
    });
    assert_eq!(s(&chmod[0], "InitiatingProcessFileName"), "chmod");
    let modified = agent.wait_for("FileModified", |r| {
        s(r, "ActionType") == "FileModified" && s(r, "FolderPath") == format!("{d}/b.txt")
    });
    assert!(!s(&modified[0], "InitiatingProcessFileName").is_empty());
    let deleted = agent.wait_for("FileDeleted", |r| {
        s(r, "ActionType") == "FileDeleted" && s(r, "FolderPath") == format!("{d}/b.txt")
    });
    assert_eq!(s(&deleted[0], "InitiatingProcessFileName"), "rm");
}

#[test]
fn deep_paths_are_flagged_and_odd_names_decoded() {
    let Some(agent) = agent() else { return };
    let dir = temp_dir("deep");
    let mut deep = dir.clone();
    for i in 0..40 {
        deep.push(format!("level-{i:02}-abcdefghijklmnopqrstuvwxyz"));
    }
    std::fs::create_dir_all(&deep).unwrap();
    std::fs::write(deep.join("leaf.txt"), b"x").unwrap();
    let rows = agent.wait_for("deep FileCreated", |r| {
        s(r, "ActionType") == "FileCreated" && s(r, "FileName") == "leaf.txt"
    });
    assert_eq!(
        rows[0]["AdditionalFields"]["path_truncated"], true,
        "{}",
        rows[0]
    );

    let odd = dir.join(std::ffi::OsStr::from_bytes(b"odd-\xff\xfe-name"));
    std::fs::write(&odd, b"y").unwrap();
    let rows = agent.wait_for("non-UTF-8 name", |r| {
        s(r, "ActionType") == "FileCreated" && s(r, "FileName").starts_with("odd-")
    });
    assert_eq!(s(&rows[0], "FileName"), "odd-\u{fffd}\u{fffd}-name");
}
