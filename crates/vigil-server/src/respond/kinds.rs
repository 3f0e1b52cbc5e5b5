//! The response actions a device takes and their arguments, checked before an action is
//! queued so that a bad request is refused at once, naming the problem, and an agent only
//! ever receives arguments of the shape its kind expects.
//!
//! Device actions: `isolate {"mode": "full"|"selective", "allow": [{"proto": "tcp"|"udp",
//! "port": N, "remote": "CIDR"?}]}`, `release {}`, `kill {"pid": N, "tree": bool,
//! "start_time_ns": N?}`, `quarantine {"path": "/abs", "sha256": "..."?}`, `restore
//! {"quarantine_id": "...", "path": "/abs"?}`, `collect {}`, `scan {"type": "quick"|"full"|"custom",
//! "path": "/abs"?}`, `restrict {"allow": ["/abs/path" | sha256, ...]}`, `unrestrict {}`.
//!
//! Live-response commands (`live.*`, only within a session): `processes`, `connections`,
//! `persistence` (no arguments), `fileinfo {"path"}`, `findfile {"name": glob, "root": "/abs"?}`,
//! `getfile {"path", "max_bytes"?}`, `putfile {"file": library name, "path", "overwrite"?}`,
//! `run {"script": library name, "args": [..]?, "timeout_secs"?}`, `analyze {"path"}`,
//! `remediate {"path"}` (stop and quarantine the file, remove persistence pointing to it).
//!
//! Paths must be absolute and without `.` or `..` segments (no traversal), at most 4096 bytes.

use serde_json::{json, Map, Value};

/// Device actions (the CLI's `vigil action` verbs).
pub const DEVICE_ACTIONS: &[&str] = &[
    "isolate",
    "release",
    "kill",
    "quarantine",
    "restore",
    "collect",
    "scan",
    "restrict",
    "unrestrict",
];
/// Live-response commands (sent as `live.<name>`).
pub const LIVE_COMMANDS: &[&str] = &[
    "processes",
    "connections",
    "persistence",
    "fileinfo",
    "findfile",
    "getfile",
    "putfile",
    "run",
    "analyze",
    "remediate",
];
/// The largest file `getfile` brings back.
pub const MAX_GETFILE_BYTES: u64 = 3 << 30;
/// The default `getfile` limit.
pub const DEFAULT_GETFILE_BYTES: u64 = 512 << 20;
/// The longest a `run` may take.
pub const MAX_RUN_SECS: u64 = 3600;

type Checked = Result<Value, String>;

fn obj(args: &Value) -> Result<&Map<String, Value>, String> {
    match args {
        Value::Object(m) => Ok(m),
        Value::Null => {
            static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
            Ok(EMPTY.get_or_init(Map::new))
        }
        other => Err(format!("arguments must be a JSON object, not {other}")),
    }
}

fn only(m: &Map<String, Value>, allowed: &[&str]) -> Result<(), String> {
    match m.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) if allowed.is_empty() => {
            Err(format!("unknown argument {k:?}: this action takes none"))
        }
        Some(k) => Err(format!(
            "unknown argument {k:?}: the arguments are {}",
            allowed.join(", ")
        )),
        None => Ok(()),
    }
}

/// An absolute path without `.`/`..` segments or NUL.
pub fn check_path(name: &str, v: Option<&Value>) -> Result<String, String> {
    let p = v
        .and_then(Value::as_str)
        .ok_or_else(|| format!("argument {name} is missing (an absolute path)"))?;
    if !p.starts_with('/') {
        return Err(format!("argument {name} {p:?} must be an absolute path"));
    }
    if p.len() > 4096 || p.contains('\0') {
        return Err(format!("argument {name} is not a usable path"));
    }
    if p.split('/').any(|seg| seg == ".." || seg == ".") {
        return Err(format!(
            "argument {name} {p:?} must not contain '.' or '..' segments"
        ));
    }
    Ok(p.to_string())
}

fn opt_bool(m: &Map<String, Value>, name: &str) -> Result<bool, String> {
    match m.get(name) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(other) => Err(format!(
            "argument {name} must be true or false, not {other}"
        )),
    }
}

fn opt_u64(m: &Map<String, Value>, name: &str) -> Result<Option<u64>, String> {
    match m.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_u64()
            .map(Some)
            .ok_or_else(|| format!("argument {name} must be a whole number, not {v}")),
    }
}

/// A library file name: plain, no `/`.
fn library_name(name: &str, v: Option<&Value>) -> Result<String, String> {
    let n = v
        .and_then(Value::as_str)
        .ok_or_else(|| format!("argument {name} is missing (a library file's name)"))?;
    if n.is_empty() || n.contains('/') || n == "." || n == ".." {
        return Err(format!(
            "argument {name} {n:?} must be a library file's plain name"
        ));
    }
    Ok(n.to_string())
}

fn isolate(m: &Map<String, Value>) -> Checked {
    only(m, &["mode", "allow"])?;
    let mode = m.get("mode").and_then(Value::as_str).unwrap_or("full");
    if !matches!(mode, "full" | "selective") {
        return Err(format!(
            "argument mode must be full or selective, not {mode:?}"
        ));
    }
    let mut allow = Vec::new();
    for (i, a) in m
        .get("allow")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
        .iter()
        .enumerate()
    {
        let a = a
            .as_object()
            .ok_or_else(|| format!("allow[{i}] must be an object {{proto, port, remote?}}"))?;
        only(a, &["proto", "port", "remote"]).map_err(|e| format!("allow[{i}]: {e}"))?;
        let proto = a.get("proto").and_then(Value::as_str).unwrap_or("tcp");
        if !matches!(proto, "tcp" | "udp") {
            return Err(format!(
                "allow[{i}].proto must be tcp or udp, not {proto:?}"
            ));
        }
        let port = a
            .get("port")
            .and_then(Value::as_u64)
            .filter(|p| (1..=65535).contains(p))
            .ok_or_else(|| format!("allow[{i}].port must be 1 to 65535"))?;
        let remote = match a.get("remote").and_then(Value::as_str) {
            Some(r) => Some(
                vigil_intel::normalize::cidr(r)
                    .map(|(n, l)| format!("{n}/{l}"))
                    .map_err(|e| format!("allow[{i}].remote: {e}"))?,
            ),
            None => None,
        };
        allow.push(json!({ "proto": proto, "port": port, "remote": remote }));
    }
    if mode == "selective" && allow.is_empty() {
        return Err("selective isolation needs at least one allow entry".into());
    }
    if mode == "full" && !allow.is_empty() {
        return Err("full isolation allows nothing but the server: use mode selective".into());
    }
    Ok(json!({ "mode": mode, "allow": allow }))
}

fn kill(m: &Map<String, Value>) -> Checked {
    only(m, &["pid", "tree", "start_time_ns"])?;
    let pid = opt_u64(m, "pid")?.ok_or("argument pid is missing")?;
    if pid <= 1 || pid > u64::from(u32::MAX) {
        return Err(format!("argument pid {pid} cannot be killed"));
    }
    Ok(json!({
        "pid": pid,
        "tree": opt_bool(m, "tree")?,
        "start_time_ns": opt_u64(m, "start_time_ns")?,
    }))
}

fn sha256_opt(m: &Map<String, Value>, name: &str) -> Result<Option<String>, String> {
    match m.get(name).and_then(Value::as_str) {
        None => Ok(None),
        Some(h) => vigil_intel::normalize::normalize(vigil_intel::IndicatorType::Sha256, h)
            .map(Some)
            .map_err(|e| format!("argument {name}: {e}")),
    }
}

/// Checks `args` for `kind` and returns them in canonical form.
pub fn check(kind: &str, args: &Value) -> Checked {
    let m = obj(args)?;
    match kind {
        "isolate" => isolate(m),
        "release" | "collect" | "unrestrict" | "live.processes" | "live.connections"
        | "live.persistence" => {
            only(m, &[])?;
            Ok(json!({}))
        }
        "kill" => kill(m),
        "quarantine" => {
            only(m, &["path", "sha256"])?;
            Ok(
                json!({ "path": check_path("path", m.get("path"))?, "sha256": sha256_opt(m, "sha256")? }),
            )
        }
        "restore" => {
            only(m, &["quarantine_id", "path"])?;
            let id = m
                .get("quarantine_id")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty() && !s.contains('/'))
                .ok_or("argument quarantine_id is missing")?;
            let path = match m.get("path") {
                Some(p) => Some(check_path("path", Some(p))?),
                None => None,
            };
            Ok(json!({ "quarantine_id": id, "path": path }))
        }
        "scan" => {
            only(m, &["type", "path"])?;
            let t = m.get("type").and_then(Value::as_str).unwrap_or("quick");
            match t {
                "quick" | "full" => Ok(json!({ "type": t })),
                "custom" => Ok(json!({ "type": t, "path": check_path("path", m.get("path"))? })),
                _ => Err(format!(
                    "argument type must be quick, full or custom, not {t:?}"
                )),
            }
        }
        "restrict" => {
            only(m, &["allow"])?;
            let mut allow = Vec::new();
            for v in m
                .get("allow")
                .and_then(Value::as_array)
                .map(Vec::as_slice)
                .unwrap_or(&[])
            {
                let s = v
                    .as_str()
                    .ok_or("allow must be a list of paths or SHA-256 values")?;
                if s.starts_with('/') {
                    allow.push(check_path("allow", Some(v))?);
                } else {
                    allow.push(
                        vigil_intel::normalize::normalize(vigil_intel::IndicatorType::Sha256, s)
                            .map_err(|e| format!("allow: {e}"))?,
                    );
                }
            }
            Ok(json!({ "allow": allow }))
        }
        "live.fileinfo" | "live.analyze" | "live.remediate" => {
            only(m, &["path"])?;
            Ok(json!({ "path": check_path("path", m.get("path"))? }))
        }
        "live.findfile" => {
            only(m, &["name", "root"])?;
            let name = m
                .get("name")
                .and_then(Value::as_str)
                .filter(|n| !n.is_empty() && !n.contains('/'))
                .ok_or("argument name is missing (a file name or a glob, without '/')")?;
            let root = match m.get("root") {
                Some(r) => check_path("root", Some(r))?,
                None => "/".to_string(),
            };
            Ok(json!({ "name": name, "root": root }))
        }
        "live.getfile" => {
            only(m, &["path", "max_bytes"])?;
            let max = opt_u64(m, "max_bytes")?.unwrap_or(DEFAULT_GETFILE_BYTES);
            if max == 0 || max > MAX_GETFILE_BYTES {
                return Err(format!(
                    "argument max_bytes must be 1 to {MAX_GETFILE_BYTES}"
                ));
            }
            Ok(json!({ "path": check_path("path", m.get("path"))?, "max_bytes": max }))
        }
        "live.putfile" => {
            only(m, &["file", "path", "overwrite"])?;
            Ok(json!({
                "file": library_name("file", m.get("file"))?,
                "path": check_path("path", m.get("path"))?,
                "overwrite": opt_bool(m, "overwrite")?,
            }))
        }
        "live.run" => {
            only(m, &["script", "args", "timeout_secs"])?;
            let mut args = Vec::new();
            for v in m
                .get("args")
                .and_then(Value::as_array)
                .map(Vec::as_slice)
                .unwrap_or(&[])
            {
                args.push(
                    v.as_str()
                        .ok_or("args must be a list of strings")?
                        .to_string(),
                );
            }
            let t = opt_u64(m, "timeout_secs")?.unwrap_or(300);
            if t == 0 || t > MAX_RUN_SECS {
                return Err(format!("argument timeout_secs must be 1 to {MAX_RUN_SECS}"));
            }
            Ok(
                json!({ "script": library_name("script", m.get("script"))?, "args": args, "timeout_secs": t }),
            )
        }
        k if k.starts_with("live.") => Err(format!(
            "unknown live-response command {:?}: the commands are {}",
            &k[5..],
            LIVE_COMMANDS.join(", ")
        )),
        _ => Err(format!(
            "unknown action {kind:?}: the actions are {}",
            DEVICE_ACTIONS.join(", ")
        )),
    }
}

/// The action that undoes a finished one, with its arguments (from the original's result
/// where needed), or why there is none.
pub fn undo(kind: &str, result: Option<&Value>) -> Result<(&'static str, Value), String> {
    match kind {
        "isolate" => Ok(("release", json!({}))),
        "restrict" => Ok(("unrestrict", json!({}))),
        "quarantine" | "live.remediate" => {
            let id = result
                .and_then(|r| r.get("QuarantineId"))
                .and_then(Value::as_str)
                .ok_or("the action's result names no quarantined file to restore")?;
            Ok(("restore", json!({ "quarantine_id": id })))
        }
        other => Err(format!("{other} cannot be undone")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_are_checked_and_canonical() {
        assert_eq!(
            check("isolate", &Value::Null).unwrap(),
            json!({ "mode": "full", "allow": [] })
        );
        let sel = check(
            "isolate",
            &json!({ "mode": "selective", "allow": [{ "port": 22, "remote": "10.1.2.3/8" }] }),
        )
        .unwrap();
        assert_eq!(sel["allow"][0]["remote"], "10.0.0.0/8");
        assert_eq!(sel["allow"][0]["proto"], "tcp");
        for (kind, args, needle) in [
            ("isolate", json!({ "mode": "selective" }), "at least one"),
            ("isolate", json!({ "mode": "airgap" }), "mode"),
            ("kill", json!({}), "pid"),
            ("kill", json!({ "pid": 1 }), "cannot be killed"),
            ("kill", json!({ "pid": 10, "signal": 9 }), "signal"),
            ("live.getfile", json!({ "path": "etc/passwd" }), "absolute"),
            (
                "live.getfile",
                json!({ "path": "/var/www/../../etc/shadow" }),
                "..",
            ),
            (
                "live.putfile",
                json!({ "file": "../x", "path": "/tmp/x" }),
                "plain name",
            ),
            (
                "live.run",
                json!({ "script": "a.sh", "timeout_secs": 99999 }),
                "timeout_secs",
            ),
            ("live.shell", json!({}), "unknown live-response command"),
            ("format", json!({}), "unknown action"),
            ("collect", json!([1]), "JSON object"),
            ("release", json!({ "x": 1 }), "takes none"),
        ] {
            let e = check(kind, &args).unwrap_err();
            assert!(e.contains(needle), "{kind} {args}: {e}");
        }
        assert_eq!(undo("isolate", None).unwrap().0, "release");
        assert_eq!(
            undo("quarantine", Some(&json!({ "QuarantineId": "q1" })))
                .unwrap()
                .1,
            json!({ "quarantine_id": "q1" })
        );
        assert!(undo("kill", None).is_err());
    }
}
