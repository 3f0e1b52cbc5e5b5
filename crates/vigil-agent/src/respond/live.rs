//! The live-response commands that move files or run them: `getfile` (the device's file to
//! the server), `putfile` (a library file onto the device) and `run` (a library script, with
//! its arguments, a time limit and bounded output).
//!
//! **Invariant:** `run` downloads its script into a private directory (mode 0700, under the
//! agent's state directory, one per action), runs it from there in its own process group,
//! kills the whole group at the time limit, and removes the directory afterwards; stdout and
//! stderr are kept up to 1 MiB each.

use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Value};
use vigil_uplink::Reporter;

use super::child;
use super::error::{RespondError, Result};

/// The largest file `putfile` writes (the library's own limit is lower).
const MAX_PUT_BYTES: u64 = 1 << 30;
/// The largest script `run` takes.
const MAX_SCRIPT_BYTES: u64 = 64 << 20;
/// Output kept of a script, per stream.
pub const MAX_OUTPUT: usize = 1 << 20;

/// `getfile`: upload `path` (at most `max` bytes).
pub fn getfile(rep: &Reporter, action_id: &str, path: &Path, max: u64) -> Result<Value> {
    let m = std::fs::metadata(path).map_err(RespondError::io("read", path))?;
    if !m.is_file() {
        return Err(RespondError::NotAFile {
            path: path.to_path_buf(),
        });
    }
    if m.len() > max {
        return Err(RespondError::Refused(format!(
            "{} is {} bytes, over the limit of {max}",
            path.display(),
            m.len()
        )));
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into());
    let ack = rep
        .upload(action_id, path, &name, max)
        .map_err(|e| RespondError::Failed(format!("cannot send {}: {e}", path.display())))?;
    Ok(json!({ "Path": path, "FileId": ack.file_id, "Size": ack.size, "SHA256": ack.sha256 }))
}

/// `putfile`: write library file `name` at `dest`; an existing file only with `overwrite`.
pub fn putfile(rep: &Reporter, name: &str, dest: &Path, overwrite: bool) -> Result<Value> {
    let parent = dest.parent().unwrap_or(Path::new("/"));
    match std::fs::metadata(parent) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => {
            return Err(RespondError::Failed(format!(
                "{} is not a directory",
                parent.display()
            )))
        }
        Err(_) => {
            return Err(RespondError::Failed(format!(
                "the directory {} does not exist: putfile does not create directories",
                parent.display()
            )))
        }
    }
    if let Ok(m) = std::fs::symlink_metadata(dest) {
        if m.is_dir() {
            return Err(RespondError::Failed(format!(
                "{} is a directory",
                dest.display()
            )));
        }
        if !overwrite {
            return Err(RespondError::Exists {
                path: dest.to_path_buf(),
            });
        }
    }
    let (size, sha256) = rep
        .download(name, dest, MAX_PUT_BYTES)
        .map_err(|e| RespondError::Failed(format!("cannot fetch library file {name}: {e}")))?;
    Ok(json!({ "Path": dest, "File": name, "Size": size, "SHA256": sha256, "Replaced": overwrite }))
}

/// A private directory for one action's script.
fn private_dir(run_dir: &Path, action_id: &str) -> Result<PathBuf> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(run_dir)
        .map_err(RespondError::io("create", run_dir))?;
    let safe: String = action_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let dir = run_dir.join(safe);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&dir)
        .map_err(RespondError::io("create", &dir))?;
    Ok(dir)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// How to run a script: its `#!` interpreter (with its one optional argument, as the kernel
/// does) given the script's path, so that a state directory mounted `noexec` does not matter;
/// without `#!`, `/bin/sh`.
fn command_of(head: &[u8], path: &Path, args: &[String]) -> (PathBuf, Vec<String>) {
    let script = path.to_string_lossy().into_owned();
    let first = head
        .strip_prefix(b"#!")
        .and_then(|rest| rest.split(|&b| b == b'\n').next())
        .map(|l| String::from_utf8_lossy(l).trim().to_string())
        .filter(|l| l.starts_with('/'));
    let (program, mut argv) = match first {
        Some(line) => {
            let (interp, opt) = match line.split_once(char::is_whitespace) {
                Some((i, o)) => (i.to_string(), Some(o.trim().to_string())),
                None => (line, None),
            };
            (
                PathBuf::from(interp),
                opt.into_iter()
                    .filter(|o| !o.is_empty())
                    .collect::<Vec<_>>(),
            )
        }
        None => (PathBuf::from("/bin/sh"), Vec::new()),
    };
    argv.push(script);
    argv.extend(args.iter().cloned());
    (program, argv)
}

/// `run`: fetch library script `script`, run it with `args` within `timeout`.
pub fn run(
    rep: &Reporter,
    run_dir: &Path,
    action_id: &str,
    script: &str,
    args: &[String],
    timeout: Duration,
) -> Result<Value> {
    let dir = private_dir(run_dir, action_id)?;
    let res = run_in(rep, &dir, script, args, timeout);
    let _ = std::fs::remove_dir_all(&dir);
    res
}

fn run_in(
    rep: &Reporter,
    dir: &Path,
    script: &str,
    args: &[String],
    timeout: Duration,
) -> Result<Value> {
    let path = dir.join(script);
    let (_, sha256) = rep
        .download(script, &path, MAX_SCRIPT_BYTES)
        .map_err(|e| RespondError::Failed(format!("cannot fetch script {script}: {e}")))?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o700))
        .map_err(RespondError::io("set the mode of", &path))?;
    let head = std::fs::read(&path).map_err(RespondError::io("read", &path))?;
    let (program, argv) = command_of(&head, &path, args);
    let out = child::run(&child::Run {
        program: &program,
        args: &argv,
        stdin: None,
        timeout,
        max_output: MAX_OUTPUT,
        cwd: Some(dir),
    })
    .map_err(|e| RespondError::Failed(format!("cannot run script {script}: {e}")))?;
    if out.timed_out {
        let so_far: String = text(&out.stdout).chars().take(2000).collect();
        return Err(RespondError::Failed(format!(
            "script {script} timed out after {} s and its process group was killed; output so far: {so_far:?}",
            timeout.as_secs()
        )));
    }
    Ok(json!({
        "Script": script,
        "SHA256": sha256,
        "Args": args,
        "ExitCode": out.code,
        "Signal": out.signal,
        "Stdout": text(&out.stdout),
        "Stderr": text(&out.stderr),
        "StdoutDroppedBytes": out.stdout_dropped,
        "StderrDroppedBytes": out.stderr_dropped,
        "DurationMs": out.elapsed.as_millis() as u64,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_run_with_their_interpreter() {
        let p = Path::new("/d/s");
        let a = vec!["x".to_string()];
        assert_eq!(
            command_of(b"#!/usr/bin/env python3\nprint(1)", p, &a),
            (
                PathBuf::from("/usr/bin/env"),
                vec!["python3".into(), "/d/s".into(), "x".into()]
            )
        );
        assert_eq!(
            command_of(b"#!/bin/bash\n", p, &[]),
            (PathBuf::from("/bin/bash"), vec!["/d/s".to_string()])
        );
        assert_eq!(
            command_of(b"echo hi\n", p, &a),
            (PathBuf::from("/bin/sh"), vec!["/d/s".into(), "x".into()])
        );
    }
}
