//! The investigation package (`collect`): a tar.gz of what an investigator asks for first,
//! with a `manifest.json` that lists every member, its SHA-256 and what produced it.
//!
//! Parts: processes and their tree; connections and listening ports; users, groups, sessions
//! and recent logins; persistence (the entries, and a copy of each file); the last 10,000
//! lines of the auth log (`/var/log/auth.log`, `/var/log/secure`, or the journal's auth
//! facilities); installed packages; kernel modules; loaded BPF programs; the SHA-256 of every
//! running executable; basic system facts.
//!
//! **Invariant:** a part that fails is recorded in the manifest (`Errors`, with what produced
//! it) and the package is still made: one missing tool never costs the others. External
//! programs run with a time limit, and each member is bounded in size.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

use flate2::write::GzEncoder;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::error::{RespondError, Result};
use super::{child, persistence, procs};

/// The largest member (larger outputs are cut, and the cut is recorded).
const MAX_MEMBER: usize = 64 << 20;
/// Persistence files copied larger than this are skipped.
const MAX_COPY: u64 = 1 << 20;
const TOOL_TIMEOUT: Duration = Duration::from_secs(60);
const AUTH_LINES: usize = 10_000;

struct Package<W: Write> {
    tar: tar::Builder<W>,
    members: Vec<Value>,
    errors: Vec<Value>,
    mtime: u64,
}

impl<W: Write> Package<W> {
    fn add(&mut self, name: &str, source: &str, mut data: Vec<u8>) {
        let mut cut = false;
        if data.len() > MAX_MEMBER {
            data.truncate(MAX_MEMBER);
            cut = true;
        }
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o600);
        h.set_mtime(self.mtime);
        h.set_entry_type(tar::EntryType::Regular);
        match self.tar.append_data(&mut h, name, data.as_slice()) {
            Ok(()) => self.members.push(json!({
                "Name": name,
                "Size": data.len(),
                "SHA256": hex::encode(Sha256::digest(&data)),
                "Source": source,
                "Truncated": cut,
            })),
            Err(e) => self.fail(name, source, format!("cannot add it to the archive: {e}")),
        }
    }

    fn fail(&mut self, part: &str, source: &str, error: String) {
        self.errors
            .push(json!({ "Part": part, "Source": source, "Error": error }));
    }

    /// Add the outcome of a part: its data, or its error.
    fn part(&mut self, name: &str, source: &str, out: std::result::Result<Vec<u8>, String>) {
        match out {
            Ok(data) => self.add(name, source, data),
            Err(e) => self.fail(name, source, e),
        }
    }
}

fn json_bytes(v: &Value) -> Vec<u8> {
    serde_json::to_vec_pretty(v).unwrap_or_default()
}

fn read(path: &str) -> std::result::Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read {path}: {e}"))
}

/// The last `n` lines of a text.
fn tail(data: &[u8], n: usize) -> Vec<u8> {
    let mut count = 0;
    let end = if data.ends_with(b"\n") {
        data.len() - 1
    } else {
        data.len()
    };
    for i in (0..end).rev() {
        if data[i] == b'\n' {
            count += 1;
            if count == n {
                return data[i + 1..].to_vec();
            }
        }
    }
    data.to_vec()
}

fn tree_text(all: &[procs::Proc]) -> String {
    let mut children: BTreeMap<u32, Vec<&procs::Proc>> = BTreeMap::new();
    let pids: std::collections::HashSet<u32> = all.iter().map(|p| p.pid).collect();
    for p in all {
        let parent = if pids.contains(&p.ppid) { p.ppid } else { 0 };
        children.entry(parent).or_default().push(p);
    }
    let mut out = String::new();
    let mut stack: Vec<(u32, usize)> = children
        .get(&0)
        .map(|v| v.iter().rev().map(|p| (p.pid, 0)).collect())
        .unwrap_or_default();
    let by_pid: BTreeMap<u32, &procs::Proc> = all.iter().map(|p| (p.pid, p)).collect();
    while let Some((pid, depth)) = stack.pop() {
        if depth > 64 {
            continue;
        }
        if let Some(p) = by_pid.get(&pid) {
            let line = if p.cmdline.is_empty() {
                format!("[{}]", p.name)
            } else {
                p.cmdline.clone()
            };
            out.push_str(&format!("{}{} {}\n", "  ".repeat(depth), p.pid, line));
        }
        if let Some(kids) = children.get(&pid) {
            stack.extend(kids.iter().rev().map(|k| (k.pid, depth + 1)));
        }
    }
    out
}

/// Build the package into `out` (a file); returns the manifest.
pub fn build(out: &Path, device: &Value) -> Result<Value> {
    let file = std::fs::File::create(out).map_err(RespondError::io("create", out))?;
    let gz = GzEncoder::new(
        std::io::BufWriter::new(file),
        flate2::Compression::default(),
    );
    let mtime = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut p = Package {
        tar: tar::Builder::new(gz),
        members: Vec::new(),
        errors: Vec::new(),
        mtime,
    };
    let users = crate::users::Users::new();

    // Processes and their tree.
    let all = procs::all();
    let (boot, tick) = (procs::boot_wall_ns(), procs::tick_ns());
    let rows: Vec<Value> = all
        .iter()
        .map(|x| procs::row(x, &users, boot, tick))
        .collect();
    p.add(
        "processes.json",
        "/proc/<pid>/{stat,cmdline,exe}",
        json_bytes(&json!(rows)),
    );
    p.add(
        "process_tree.txt",
        "/proc/<pid>/stat (parent links)",
        tree_text(&all).into_bytes(),
    );

    // Network.
    let conns = super::net::connections();
    let listening: Vec<&Value> = conns
        .iter()
        .filter(|c| {
            c["State"] == "LISTEN"
                || (c["Protocol"].as_str().is_some_and(|p| p.starts_with("udp"))
                    && c["RemotePort"] == 0)
        })
        .collect();
    p.add(
        "network/connections.json",
        "/proc/net/{tcp,tcp6,udp,udp6} and /proc/<pid>/fd",
        json_bytes(&json!(conns)),
    );
    p.add(
        "network/listening.json",
        "/proc/net/{tcp,tcp6,udp,udp6} and /proc/<pid>/fd",
        json_bytes(&json!(listening)),
    );
    p.part(
        "network/interfaces.txt",
        "ip -d address",
        child::program("ip", &["-d", "address"], None, TOOL_TIMEOUT),
    );
    p.part(
        "network/routes.txt",
        "ip route",
        child::program("ip", &["route"], None, TOOL_TIMEOUT),
    );

    // Users and sessions.
    p.part("users/passwd", "/etc/passwd", read("/etc/passwd"));
    p.part("users/group", "/etc/group", read("/etc/group"));
    p.part(
        "users/sessions.txt",
        "who -a",
        child::program("who", &["-a"], None, TOOL_TIMEOUT),
    );
    p.part(
        "users/last.txt",
        "last -F -n 500",
        child::program("last", &["-F", "-n", "500"], None, TOOL_TIMEOUT),
    );
    if Path::new("/etc/sudoers").exists() {
        p.part("users/sudoers", "/etc/sudoers", read("/etc/sudoers"));
    }

    // Persistence: the entries, and the files.
    p.add("persistence/entries.json", "cron, systemd units, shell profiles, authorized_keys, ld.so.preload, rc.local, XDG autostart", json_bytes(&json!(persistence::rows())));
    for (kind, f) in persistence::locations() {
        let name = format!("persistence/files{}", f.display());
        match std::fs::metadata(&f) {
            Ok(m) if m.len() > MAX_COPY => p.fail(
                &name,
                kind.name(),
                format!("{} bytes, over the copy limit of {MAX_COPY}", m.len()),
            ),
            _ => {
                let data =
                    std::fs::read(&f).map_err(|e| format!("cannot read {}: {e}", f.display()));
                p.part(&name, kind.name(), data);
            }
        }
    }

    // The auth log: a file, or the journal's auth facilities.
    let log = ["/var/log/auth.log", "/var/log/secure"]
        .into_iter()
        .find(|f| Path::new(f).is_file());
    match log {
        Some(f) => p.part(
            "logs/auth.log",
            &format!("last {AUTH_LINES} lines of {f}"),
            read(f).map(|d| tail(&d, AUTH_LINES)),
        ),
        None => {
            let n = AUTH_LINES.to_string();
            let args = [
                "--no-pager",
                "-q",
                "-o",
                "short-iso",
                "-n",
                &n,
                "SYSLOG_FACILITY=4",
                "SYSLOG_FACILITY=10",
            ];
            p.part(
                "logs/auth.log",
                "journalctl SYSLOG_FACILITY=4 SYSLOG_FACILITY=10 (auth, authpriv)",
                child::program("journalctl", &args, None, TOOL_TIMEOUT),
            );
        }
    }

    // Software and kernel.
    p.part(
        "packages.tsv",
        "dpkg-query -W",
        child::program(
            "dpkg-query",
            &[
                "-W",
                "-f",
                "${binary:Package}\t${Version}\t${Architecture}\t${db:Status-Abbrev}\n",
            ],
            None,
            TOOL_TIMEOUT,
        ),
    );
    p.part("kernel/modules.txt", "/proc/modules", read("/proc/modules"));
    p.part(
        "kernel/bpf_programs.json",
        "bpftool prog show -j",
        child::program("bpftool", &["prog", "show", "-j"], None, TOOL_TIMEOUT),
    );
    let mut bins: BTreeMap<String, (Vec<u32>, u32)> = BTreeMap::new();
    for x in all.iter().filter(|x| !x.exe.is_empty() && !x.kernel_thread) {
        let e = bins.entry(x.exe.clone()).or_insert((Vec::new(), x.pid));
        e.0.push(x.pid);
    }
    let hashes: Vec<Value> = bins
        .into_iter()
        .map(|(exe, (pids, first))| {
            // Through the process: the file it runs, even if deleted or replaced since.
            let h = super::files::sha256_file(Path::new(&format!("/proc/{first}/exe")));
            json!({ "Path": exe, "SHA256": h.as_ref().ok(), "Error": h.err().map(|e| e.to_string()), "Pids": pids })
        })
        .collect();
    p.add(
        "binaries_sha256.json",
        "/proc/<pid>/exe",
        json_bytes(&json!(hashes)),
    );
    let mut system = json!({ "Device": device });
    for (k, f) in [
        ("Kernel", "/proc/version"),
        ("Uptime", "/proc/uptime"),
        ("Hostname", "/proc/sys/kernel/hostname"),
        ("BootId", "/proc/sys/kernel/random/boot_id"),
    ] {
        system[k] = json!(std::fs::read_to_string(f)
            .map(|s| s.trim().to_string())
            .ok());
    }
    system["OsRelease"] = json!(std::fs::read_to_string("/etc/os-release").ok());
    p.add(
        "system.json",
        "/proc/version, /proc/uptime, /etc/os-release",
        json_bytes(&system),
    );

    let manifest = json!({
        "Format": 1,
        "Created": vigil_schema::Timestamp::now().to_string(),
        "Device": device,
        "AgentVersion": crate::agent::VERSION,
        "Members": p.members,
        "Errors": p.errors,
    });
    let mut h = tar::Header::new_gnu();
    let data = json_bytes(&manifest);
    h.set_size(data.len() as u64);
    h.set_mode(0o600);
    h.set_mtime(mtime);
    p.tar
        .append_data(&mut h, "manifest.json", data.as_slice())
        .and_then(|_| p.tar.into_inner())
        .and_then(|gz| gz.finish())
        .and_then(|w| w.into_inner().map_err(|e| e.into_error()))
        .and_then(|f| f.sync_all())
        .map_err(RespondError::io("write", out))?;
    Ok(manifest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tails_keep_the_last_lines() {
        assert_eq!(tail(b"a\nb\nc\n", 2), b"b\nc\n");
        assert_eq!(tail(b"a\nb\nc", 2), b"b\nc");
        assert_eq!(tail(b"a\n", 5), b"a\n");
    }

    #[test]
    fn a_package_has_a_manifest_of_its_members() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("p.tar.gz");
        let manifest = build(&out, &json!({ "DeviceId": "d1" })).unwrap();
        let f = std::fs::File::open(&out).unwrap();
        let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(f));
        let mut seen = BTreeMap::new();
        for e in ar.entries().unwrap() {
            let mut e = e.unwrap();
            let name = e.path().unwrap().to_string_lossy().into_owned();
            let mut data = Vec::new();
            std::io::Read::read_to_end(&mut e, &mut data).unwrap();
            seen.insert(name, hex::encode(Sha256::digest(&data)));
        }
        let members = manifest["Members"].as_array().unwrap();
        assert!(members.len() >= 8, "{manifest}");
        for m in members {
            let name = m["Name"].as_str().unwrap();
            assert_eq!(
                seen.get(name).map(String::as_str),
                m["SHA256"].as_str(),
                "{name}"
            );
        }
        assert!(seen.contains_key("manifest.json"));
        assert!(seen.contains_key("processes.json"));
        // Errors name the part and what produced it.
        for e in manifest["Errors"].as_array().unwrap() {
            assert!(
                e["Part"].is_string() && e["Source"].is_string() && e["Error"].is_string(),
                "{e}"
            );
        }
    }
}
