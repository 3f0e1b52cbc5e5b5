//! Persistence locations: where a program is registered to start again (cron, systemd units,
//! shell profiles, `authorized_keys` commands, `ld.so.preload`, `rc.local`, XDG autostart).
//! Listed for `live.persistence` and the investigation package; searched for entries naming a
//! file when that file is quarantined, and those entries removed and kept so that a restore
//! can put them back.
//!
//! An entry *names* a path when the path appears in it as a whole path: not as a prefix of a
//! longer name (`/tmp/x` does not name `/tmp/x2`) nor inside another path. Comment lines are not
//! entries. Files over 1 MiB are not rewritten.
//!
//! **Invariant:** a rewritten file keeps its mode and owner and is replaced atomically (a
//! temporary file beside it, fsynced, renamed over it): a crash leaves the old or the new
//! file, never half of one.

use std::collections::HashSet;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::child;

/// Files larger than this are neither parsed nor rewritten.
const MAX_FILE: u64 = 1 << 20;

/// Kinds of persistence location.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A crontab (system or user): one entry per line.
    Cron,
    /// A script run by cron (`/etc/cron.daily/*`...): one entry per line.
    CronScript,
    /// A systemd unit or drop-in whose `Exec*=` lines start programs: removed whole.
    Systemd,
    /// A shell start-up file: one entry per line.
    Profile,
    /// An `authorized_keys` file: one key per line (a `command=` option runs a program).
    AuthorizedKeys,
    /// `/etc/ld.so.preload`: one library per line.
    Preload,
    /// `/etc/rc.local`: one entry per line.
    RcLocal,
    /// An XDG autostart `.desktop` file: removed whole.
    Autostart,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Cron => "Cron",
            Kind::CronScript => "CronScript",
            Kind::Systemd => "SystemdUnit",
            Kind::Profile => "ShellProfile",
            Kind::AuthorizedKeys => "AuthorizedKeys",
            Kind::Preload => "LdPreload",
            Kind::RcLocal => "RcLocal",
            Kind::Autostart => "XdgAutostart",
        }
    }

    fn whole_file(self) -> bool {
        matches!(self, Kind::Systemd | Kind::Autostart)
    }
}

/// Home directories: `/root` and those of `/etc/passwd`, existing ones only.
pub fn homes() -> Vec<PathBuf> {
    let mut out = vec![PathBuf::from("/root")];
    for line in std::fs::read_to_string("/etc/passwd")
        .unwrap_or_default()
        .lines()
    {
        if let Some(home) = line
            .split(':')
            .nth(5)
            .filter(|h| h.starts_with('/') && *h != "/")
        {
            out.push(PathBuf::from(home));
        }
    }
    let mut seen = HashSet::new();
    out.retain(|h| h.is_dir() && seen.insert(h.clone()));
    out
}

fn files_in(dir: &Path, suffix: &str, depth: usize, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        let Ok(ft) = e.file_type() else { continue };
        if ft.is_dir() && depth > 0 {
            files_in(&p, suffix, depth - 1, out);
        } else if ft.is_file() && p.to_string_lossy().ends_with(suffix) {
            out.push(p);
        }
    }
}

/// Directories of systemd units that an administrator (or an intruder) writes.
fn unit_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = [
        "/etc/systemd/system",
        "/run/systemd/system",
        "/etc/systemd/user",
        "/usr/local/lib/systemd/system",
        "/lib/systemd/system",
        "/usr/lib/systemd/system",
        "/usr/lib/systemd/user",
    ]
    .iter()
    .map(PathBuf::from)
    .collect();
    dirs.extend(homes().into_iter().map(|h| h.join(".config/systemd/user")));
    dirs
}

/// Every persistence file that exists now, with its kind.
pub fn locations() -> Vec<(Kind, PathBuf)> {
    let mut out = Vec::new();
    let mut add = |k: Kind, p: PathBuf| out.push((k, p));
    add(Kind::Cron, "/etc/crontab".into());
    add(Kind::Cron, "/etc/anacrontab".into());
    let mut list = Vec::new();
    for d in ["/etc/cron.d", "/var/spool/cron/crontabs", "/var/spool/cron"] {
        files_in(Path::new(d), "", 0, &mut list);
    }
    list.into_iter().for_each(|p| add(Kind::Cron, p));
    let mut list = Vec::new();
    for d in [
        "/etc/cron.hourly",
        "/etc/cron.daily",
        "/etc/cron.weekly",
        "/etc/cron.monthly",
    ] {
        files_in(Path::new(d), "", 0, &mut list);
    }
    list.into_iter().for_each(|p| add(Kind::CronScript, p));
    let mut units = Vec::new();
    for d in unit_dirs() {
        files_in(&d, ".service", 0, &mut units);
        files_in(&d, ".conf", 1, &mut units);
    }
    units
        .into_iter()
        .filter(|p| !p.is_symlink())
        .for_each(|p| add(Kind::Systemd, p));
    for f in [
        "/etc/profile",
        "/etc/bash.bashrc",
        "/etc/bashrc",
        "/etc/environment",
        "/etc/zsh/zshrc",
        "/etc/zsh/zprofile",
        "/etc/zshrc",
    ] {
        add(Kind::Profile, f.into());
    }
    let mut list = Vec::new();
    files_in(Path::new("/etc/profile.d"), "", 0, &mut list);
    list.into_iter().for_each(|p| add(Kind::Profile, p));
    let mut autostart = Vec::new();
    files_in(
        Path::new("/etc/xdg/autostart"),
        ".desktop",
        0,
        &mut autostart,
    );
    for h in homes() {
        for f in [
            ".bashrc",
            ".bash_profile",
            ".bash_login",
            ".bash_logout",
            ".profile",
            ".zshrc",
            ".zprofile",
            ".zlogin",
        ] {
            add(Kind::Profile, h.join(f));
        }
        for f in [".ssh/authorized_keys", ".ssh/authorized_keys2"] {
            add(Kind::AuthorizedKeys, h.join(f));
        }
        files_in(&h.join(".config/autostart"), ".desktop", 0, &mut autostart);
    }
    autostart.into_iter().for_each(|p| add(Kind::Autostart, p));
    add(Kind::Preload, "/etc/ld.so.preload".into());
    add(Kind::RcLocal, "/etc/rc.local".into());
    let mut seen = HashSet::new();
    out.retain(|(_, p)| p.is_file() && seen.insert(p.clone()));
    out
}

fn is_path_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"._-/+@~".contains(&b)
}

/// Whether `text` names `path` as a whole path.
pub fn names(text: &str, path: &str) -> bool {
    if path.is_empty() {
        return false;
    }
    let bytes = text.as_bytes();
    let mut from = 0;
    while let Some(i) = text[from..].find(path) {
        let s = from + i;
        let e = s + path.len();
        let before = s == 0 || !is_path_char(bytes[s - 1]);
        let after = e == bytes.len() || !is_path_char(bytes[e]);
        if before && after {
            return true;
        }
        from = s + 1;
    }
    false
}

fn is_comment(line: &str) -> bool {
    let t = line.trim_start();
    t.is_empty() || t.starts_with('#')
}

/// The lines of a unit (or desktop file) that start programs.
fn exec_lines(text: &str) -> Vec<&str> {
    text.lines()
        .map(str::trim)
        .filter(|l| {
            l.starts_with("Exec")
                && l.split_once('=')
                    .is_some_and(|(k, _)| k.chars().all(|c| c.is_ascii_alphabetic()))
        })
        .collect()
}

fn read_small(p: &Path) -> Option<String> {
    let m = std::fs::metadata(p).ok()?;
    if m.len() > MAX_FILE {
        return None;
    }
    std::fs::read(p)
        .ok()
        .map(|b| String::from_utf8_lossy(&b).into_owned())
}

fn file_row(kind: Kind, p: &Path) -> Value {
    let m = std::fs::metadata(p).ok();
    json!({
        "Kind": kind.name(),
        "Path": p,
        "Size": m.as_ref().map(|m| m.len()),
        "Modified": m.as_ref().map(|m| vigil_schema::Timestamp::from_parts(m.mtime(), m.mtime_nsec() as u32).to_string()),
        "SHA256": super::files::sha256_file(p).ok(),
    })
}

/// The persistence entries now, as `live.persistence` rows.
pub fn rows() -> Vec<Value> {
    let enabled = enabled_units();
    let mut out = Vec::new();
    for (kind, p) in locations() {
        let Some(text) = read_small(&p) else {
            out.push(file_row(kind, &p));
            continue;
        };
        match kind {
            Kind::Cron | Kind::Preload => {
                for (i, l) in text.lines().enumerate() {
                    // Variable assignments (`PATH=...`, `MAILTO=`) are not entries.
                    let assignment = l
                        .split_once('=')
                        .is_some_and(|(k, _)| !k.trim().is_empty() && !k.trim().contains(' '));
                    if is_comment(l) || (kind == Kind::Cron && assignment) {
                        continue;
                    }
                    out.push(json!({ "Kind": kind.name(), "Path": p, "LineNumber": i + 1, "Entry": l.trim() }));
                }
            }
            Kind::AuthorizedKeys => {
                for (i, l) in text.lines().enumerate().filter(|(_, l)| !is_comment(l)) {
                    let command = l.contains("command=");
                    let comment = l.split_whitespace().last().unwrap_or("");
                    out.push(json!({
                        "Kind": kind.name(), "Path": p, "LineNumber": i + 1,
                        "Entry": l.chars().take(120).collect::<String>(),
                        "ForcedCommand": command, "Comment": comment,
                    }));
                }
            }
            Kind::Systemd | Kind::Autostart => {
                let unit = unit_name(&p);
                out.push(json!({
                    "Kind": kind.name(), "Path": p, "Unit": unit,
                    "Enabled": enabled.contains(&unit),
                    "Exec": exec_lines(&text),
                }));
            }
            Kind::CronScript | Kind::Profile | Kind::RcLocal => out.push(file_row(kind, &p)),
        }
    }
    out
}

/// The unit a file belongs to (`x.service`, or `x.service` for `x.service.d/y.conf`).
fn unit_name(p: &Path) -> String {
    let name = p
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if name.ends_with(".conf") {
        if let Some(parent) = p.parent().and_then(|d| d.file_name()) {
            let parent = parent.to_string_lossy();
            if let Some(unit) = parent.strip_suffix(".d") {
                return unit.to_string();
            }
        }
    }
    name
}

/// Symbolic links that enable units (`*.wants/`, `*.requires/`): (link, target).
fn unit_links() -> Vec<(PathBuf, PathBuf)> {
    let mut out = Vec::new();
    let mut roots = vec![
        PathBuf::from("/etc/systemd/system"),
        PathBuf::from("/etc/systemd/user"),
    ];
    roots.extend(homes().into_iter().map(|h| h.join(".config/systemd/user")));
    for root in roots {
        let Ok(rd) = std::fs::read_dir(&root) else {
            continue;
        };
        for dir in rd.flatten() {
            let d = dir.path();
            let n = d.to_string_lossy();
            if !(n.ends_with(".wants") || n.ends_with(".requires")) {
                continue;
            }
            let Ok(links) = std::fs::read_dir(&d) else {
                continue;
            };
            for l in links.flatten() {
                if let Ok(t) = std::fs::read_link(l.path()) {
                    out.push((l.path(), t));
                }
            }
        }
    }
    out
}

fn enabled_units() -> HashSet<String> {
    unit_links()
        .into_iter()
        .filter_map(|(l, _)| l.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect()
}

/// A persistence entry removed because it named a quarantined file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Removed {
    pub kind: String,
    pub file: PathBuf,
    /// A removed line and its number (1-based) in the file as it was.
    pub line_no: Option<usize>,
    pub line: Option<String>,
    /// A removed file's content, mode and owner (units, autostart files).
    pub content: Option<String>,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    /// Links that enabled a removed unit: (link, target).
    #[serde(default)]
    pub links: Vec<(PathBuf, PathBuf)>,
}

impl Removed {
    /// The entry as the action's result shows it.
    pub fn summary(&self) -> Value {
        json!({
            "Kind": self.kind,
            "Path": self.file,
            "LineNumber": self.line_no,
            "Entry": self.line.clone().unwrap_or_else(|| "(whole file)".into()),
            "Links": self.links.iter().map(|(l, _)| l).collect::<Vec<_>>(),
        })
    }
}

fn systemd_running() -> bool {
    Path::new("/run/systemd/system").is_dir()
}

/// Write `text` over `path` atomically with the given mode and owner.
fn replace(path: &Path, text: &[u8], mode: u32, uid: u32, gid: u32) -> std::io::Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.vigil-tmp"));
    let res = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(text)?;
        std::os::unix::fs::fchown(&f, Some(uid), Some(gid))?;
        f.set_permissions(std::fs::Permissions::from_mode(mode & 0o7777))?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if res.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    res
}

/// Remove every entry that names `target`; returns what was removed and what could not be.
pub fn remove_naming(target: &Path) -> (Vec<Removed>, Vec<String>) {
    let wanted = target.to_string_lossy().into_owned();
    let mut removed = Vec::new();
    let mut errors = Vec::new();
    let links = unit_links();
    for (kind, p) in locations() {
        if p == target {
            continue;
        }
        let Ok(meta) = std::fs::metadata(&p) else {
            continue;
        };
        let Some(text) = read_small(&p) else { continue };
        if kind.whole_file() {
            if !exec_lines(&text).iter().any(|l| names(l, &wanted)) {
                continue;
            }
            let unit = unit_name(&p);
            if kind == Kind::Systemd && systemd_running() {
                let _ =
                    child::program("systemctl", &["stop", &unit], None, Duration::from_secs(20));
            }
            let mine: Vec<(PathBuf, PathBuf)> = links
                .iter()
                .filter(|(l, t)| {
                    (t == &p || t.file_name() == p.file_name())
                        && l.file_name().map(|n| n.to_string_lossy().into_owned())
                            == Some(unit.clone())
                })
                .cloned()
                .collect();
            let mut gone = Vec::new();
            for (l, t) in mine {
                match std::fs::remove_file(&l) {
                    Ok(()) => gone.push((l, t)),
                    Err(e) => errors.push(format!("cannot remove {}: {e}", l.display())),
                }
            }
            match std::fs::remove_file(&p) {
                Ok(()) => removed.push(Removed {
                    kind: kind.name().into(),
                    file: p.clone(),
                    line_no: None,
                    line: None,
                    content: Some(text),
                    mode: meta.mode(),
                    uid: meta.uid(),
                    gid: meta.gid(),
                    links: gone,
                }),
                Err(e) => errors.push(format!("cannot remove {}: {e}", p.display())),
            }
            continue;
        }
        let mut kept = String::with_capacity(text.len());
        let mut hits = Vec::new();
        for (i, line) in text.split_inclusive('\n').enumerate() {
            let hit = match kind {
                Kind::Preload => line.trim() == wanted,
                _ => !is_comment(line) && names(line, &wanted),
            };
            if hit {
                hits.push((i + 1, line.trim_end_matches('\n').to_string()));
            } else {
                kept.push_str(line);
            }
        }
        if hits.is_empty() {
            continue;
        }
        match replace(&p, kept.as_bytes(), meta.mode(), meta.uid(), meta.gid()) {
            Ok(()) => removed.extend(hits.into_iter().map(|(n, l)| Removed {
                kind: kind.name().into(),
                file: p.clone(),
                line_no: Some(n),
                line: Some(l),
                content: None,
                mode: meta.mode(),
                uid: meta.uid(),
                gid: meta.gid(),
                links: Vec::new(),
            })),
            Err(e) => errors.push(format!("cannot rewrite {}: {e}", p.display())),
        }
    }
    if removed.iter().any(|r| r.kind == Kind::Systemd.name()) && systemd_running() {
        let _ = child::program(
            "systemctl",
            &["daemon-reload"],
            None,
            Duration::from_secs(20),
        );
    }
    (removed, errors)
}

/// Put removed entries back: lines at their old numbers (or at the end), files and their
/// links as they were. Entries already present are left alone. Returns what failed.
pub fn put_back(items: &[Removed]) -> Vec<String> {
    let mut errors = Vec::new();
    let mut by_file: Vec<(&Path, Vec<&Removed>)> = Vec::new();
    for r in items {
        if let Some(content) = &r.content {
            if r.file.exists() {
                continue;
            }
            if let Err(e) = replace(&r.file, content.as_bytes(), r.mode, r.uid, r.gid) {
                errors.push(format!("cannot restore {}: {e}", r.file.display()));
                continue;
            }
            for (l, t) in &r.links {
                if let Err(e) = std::os::unix::fs::symlink(t, l) {
                    if e.kind() != std::io::ErrorKind::AlreadyExists {
                        errors.push(format!("cannot restore link {}: {e}", l.display()));
                    }
                }
            }
            continue;
        }
        match by_file.iter_mut().find(|(f, _)| *f == r.file.as_path()) {
            Some((_, list)) => list.push(r),
            None => by_file.push((r.file.as_path(), vec![r])),
        }
    }
    for (file, mut list) in by_file {
        list.sort_by_key(|r| r.line_no);
        let meta = std::fs::metadata(file).ok();
        let text = std::fs::read(file)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        for r in list {
            let line = r.line.clone().unwrap_or_default();
            if lines.contains(&line) {
                continue;
            }
            let at = r
                .line_no
                .unwrap_or(usize::MAX)
                .saturating_sub(1)
                .min(lines.len());
            lines.insert(at, line);
        }
        let mut out = lines.join("\n");
        out.push('\n');
        let (mode, uid, gid) = meta
            .map(|m| (m.mode(), m.uid(), m.gid()))
            .unwrap_or((0o644, 0, 0));
        if let Err(e) = replace(file, out.as_bytes(), mode, uid, gid) {
            errors.push(format!("cannot restore lines of {}: {e}", file.display()));
        }
    }
    if items.iter().any(|r| r.kind == Kind::Systemd.name()) && systemd_running() {
        let _ = child::program(
            "systemctl",
            &["daemon-reload"],
            None,
            Duration::from_secs(20),
        );
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_is_named_only_whole() {
        assert!(names("* * * * * root /tmp/x >/dev/null", "/tmp/x"));
        assert!(names("ExecStart=/tmp/x --flag", "/tmp/x"));
        assert!(names("command=\"/tmp/x\" ssh-ed25519 AAAA", "/tmp/x"));
        assert!(names("/tmp/x", "/tmp/x"));
        assert!(!names("* * * * * root /tmp/x2", "/tmp/x"));
        assert!(!names("* * * * * root /var/tmp/x", "/tmp/x"));
        assert!(!names("* * * * * root /tmp/x.sh", "/tmp/x"));
        assert!(names("a /tmp/x.sh; /tmp/x", "/tmp/x"));
    }

    #[test]
    fn units_and_exec_lines() {
        assert_eq!(
            unit_name(Path::new("/etc/systemd/system/a.service")),
            "a.service"
        );
        assert_eq!(
            unit_name(Path::new("/etc/systemd/system/a.service.d/override.conf")),
            "a.service"
        );
        let text = "[Service]\nExecStart=/tmp/x\nExecStartPre=-/bin/true\nEnvironment=Exec=1\n";
        assert_eq!(
            exec_lines(text),
            ["ExecStart=/tmp/x", "ExecStartPre=-/bin/true"]
        );
    }

    #[test]
    fn files_are_replaced_with_their_mode_and_lines_come_back_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("crontab");
        std::fs::write(&f, "a\nb\nc\n").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o640)).unwrap();
        let m = std::fs::metadata(&f).unwrap();
        replace(&f, b"a\nc\n", m.mode(), m.uid(), m.gid()).unwrap();
        assert_eq!(std::fs::metadata(&f).unwrap().mode() & 0o777, 0o640);
        let r = Removed {
            kind: "Cron".into(),
            file: f.clone(),
            line_no: Some(2),
            line: Some("b".into()),
            content: None,
            mode: m.mode(),
            uid: m.uid(),
            gid: m.gid(),
            links: Vec::new(),
        };
        assert!(put_back(std::slice::from_ref(&r)).is_empty());
        assert_eq!(std::fs::read_to_string(&f).unwrap(), "a\nb\nc\n");
        // Already there: nothing doubled.
        assert!(put_back(&[r]).is_empty());
        assert_eq!(std::fs::read_to_string(&f).unwrap(), "a\nb\nc\n");
    }
}
