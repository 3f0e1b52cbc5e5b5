//! Files for response actions: digests, `live.fileinfo`, `live.findfile`, the package manager's
//! files (dpkg), and the directory walk that `findfile` and scans share.
//!
//! **Invariant:** a walk never follows a symbolic link and never enters `/proc`, `/sys`, `/dev`
//! or a pseudo filesystem (proc, sysfs, cgroup, tracefs, ...) mounted anywhere, so it ends, and
//! it reads nothing that changes the system.

use std::collections::{HashMap, HashSet};
use std::ffi::CString;
use std::io::Read;
use std::ops::ControlFlow;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use md5::Md5;
use serde_json::{json, Value};
use sha1::Sha1;
use sha2::{Digest, Sha256};

use super::error::{RespondError, Result};

/// Filesystem types that hold no files worth walking.
const PSEUDO_FS: &[&str] = &[
    "proc",
    "sysfs",
    "devtmpfs",
    "devpts",
    "cgroup",
    "cgroup2",
    "debugfs",
    "tracefs",
    "securityfs",
    "pstore",
    "bpf",
    "autofs",
    "mqueue",
    "hugetlbfs",
    "fusectl",
    "configfs",
    "binfmt_misc",
    "efivarfs",
    "nsfs",
    "rpc_pipefs",
    "selinuxfs",
];

/// SHA-256 of a file, as hex.
pub fn sha256_file(p: &Path) -> std::io::Result<String> {
    let mut f = std::fs::File::open(p)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

/// SHA-256, SHA-1 and MD5 of a file in one pass.
pub fn digests(p: &Path) -> std::io::Result<(String, String, String)> {
    let mut f = std::fs::File::open(p)?;
    let (mut a, mut b, mut c) = (Sha256::new(), Sha1::new(), Md5::new());
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        a.update(&buf[..n]);
        b.update(&buf[..n]);
        c.update(&buf[..n]);
    }
    Ok((
        hex::encode(a.finalize()),
        hex::encode(b.finalize()),
        hex::encode(c.finalize()),
    ))
}

fn time_text(secs: i64, nsec: i64) -> String {
    vigil_schema::Timestamp::from_parts(secs, nsec.clamp(0, 999_999_999) as u32).to_string()
}

fn kind_of(ft: std::fs::FileType) -> &'static str {
    if ft.is_file() {
        "file"
    } else if ft.is_dir() {
        "directory"
    } else if ft.is_symlink() {
        "symlink"
    } else if ft.is_fifo() {
        "fifo"
    } else if ft.is_socket() {
        "socket"
    } else if ft.is_block_device() {
        "block device"
    } else {
        "character device"
    }
}

/// `live.fileinfo`: what the file is, who owns it, its times and digests, its package.
pub fn fileinfo(path: &Path, users: &crate::users::Users) -> Result<Value> {
    let m = std::fs::symlink_metadata(path).map_err(RespondError::io("stat", path))?;
    let mut v = json!({
        "Path": path,
        "Type": kind_of(m.file_type()),
        "Size": m.len(),
        "Mode": format!("{:o}", m.mode() & 0o7777),
        "Uid": m.uid(),
        "Owner": users.name(m.uid()),
        "Gid": m.gid(),
        "Group": group_name(m.gid()),
        "Inode": m.ino(),
        "Device": m.dev(),
        "Links": m.nlink(),
        "Accessed": time_text(m.atime(), m.atime_nsec()),
        "Modified": time_text(m.mtime(), m.mtime_nsec()),
        "Changed": time_text(m.ctime(), m.ctime_nsec()),
        "Package": dpkg_owner(path),
    });
    if m.file_type().is_symlink() {
        v["Target"] = json!(std::fs::read_link(path).ok());
    }
    if m.is_file() {
        let (a, b, c) = digests(path).map_err(RespondError::io("read", path))?;
        v["SHA256"] = json!(a);
        v["SHA1"] = json!(b);
        v["MD5"] = json!(c);
    }
    Ok(v)
}

fn group_name(gid: u32) -> String {
    std::fs::read_to_string("/etc/group")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() > 2 && f[2].parse() == Ok(gid)).then(|| f[0].to_string())
        })
        .unwrap_or_else(|| gid.to_string())
}

/// The other spellings of a path on a merged-/usr system (`/bin/x` is `/usr/bin/x`).
fn aliases(p: &str) -> Vec<String> {
    let mut out = vec![p.to_string()];
    for (short, long) in [
        ("/bin/", "/usr/bin/"),
        ("/sbin/", "/usr/sbin/"),
        ("/lib/", "/usr/lib/"),
        ("/lib64/", "/usr/lib64/"),
    ] {
        if let Some(rest) = p.strip_prefix(short) {
            out.push(format!("{long}{rest}"));
        } else if let Some(rest) = p.strip_prefix(long) {
            out.push(format!("{short}{rest}"));
        }
    }
    out
}

const DPKG_INFO: &str = "/var/lib/dpkg/info";

fn dpkg_lists() -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(DPKG_INFO)
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "list"))
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// The package that installed `path`, from dpkg's file lists.
pub fn dpkg_owner(path: &Path) -> Option<String> {
    let names = aliases(&path.to_string_lossy());
    dpkg_lists().into_iter().find_map(|list| {
        let text = std::fs::read_to_string(&list).ok()?;
        text.lines().any(|l| names.iter().any(|n| n == l)).then(|| {
            list.file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default()
        })
    })
}

/// When the package database last changed (new or removed packages).
pub fn packages_changed() -> Option<std::time::SystemTime> {
    std::fs::metadata(DPKG_INFO).and_then(|m| m.modified()).ok()
}

/// Every file the package manager installed, as real paths (directories resolved, so that
/// `/bin/ls` on a merged-/usr system is `/usr/bin/ls`); empty without dpkg.
pub fn package_files() -> HashSet<String> {
    let mut out = HashSet::new();
    let mut dirs: HashMap<String, Option<PathBuf>> = HashMap::new();
    for list in dpkg_lists() {
        let Ok(text) = std::fs::read_to_string(&list) else {
            continue;
        };
        for line in text.lines().filter(|l| l.starts_with('/')) {
            let p = Path::new(line);
            let (Some(parent), Some(name)) = (p.parent(), p.file_name()) else {
                continue;
            };
            let real = dirs
                .entry(parent.to_string_lossy().into_owned())
                .or_insert_with(|| std::fs::canonicalize(parent).ok());
            if let Some(real) = real {
                out.insert(real.join(name).to_string_lossy().into_owned());
            }
        }
    }
    out
}

/// Devices of pseudo filesystems mounted now (a walk does not enter them).
fn pseudo_devices() -> HashSet<u64> {
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    mounts
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() > 2 && PSEUDO_FS.contains(&f[2])).then(|| f[1].replace("\\040", " "))
        })
        .filter_map(|dir| std::fs::symlink_metadata(dir).ok().map(|m| m.dev()))
        .collect()
}

/// A directory walk (see the module's invariant).
pub struct Walk {
    skip_dev: HashSet<u64>,
    skip: Vec<PathBuf>,
    /// Levels below the root entered (0: the root's entries only).
    pub max_depth: usize,
    /// Directory names not entered at any level.
    pub skip_names: &'static [&'static str],
}

impl Walk {
    pub fn new() -> Walk {
        Walk {
            skip_dev: pseudo_devices(),
            skip: ["/proc", "/sys", "/dev"]
                .iter()
                .map(PathBuf::from)
                .collect(),
            max_depth: usize::MAX,
            skip_names: &[],
        }
    }

    /// Also never enter `dir` (the quarantine vault, say).
    pub fn skip(mut self, dir: PathBuf) -> Walk {
        self.skip.push(dir);
        self
    }

    /// Call `f` with every entry under `root` (not the root itself; for a file root, the
    /// file) until it breaks; returns the directories that could not be read.
    pub fn run(
        &self,
        root: &Path,
        f: &mut dyn FnMut(&Path, &std::fs::Metadata) -> ControlFlow<()>,
    ) -> u64 {
        let mut errors = 0;
        let Ok(m) = std::fs::symlink_metadata(root) else {
            return 1;
        };
        if !m.is_dir() {
            let _ = f(root, &m);
            return 0;
        }
        let mut stack = vec![(root.to_path_buf(), 0usize)];
        while let Some((dir, depth)) = stack.pop() {
            let Ok(rd) = std::fs::read_dir(&dir) else {
                errors += 1;
                continue;
            };
            let mut subdirs = Vec::new();
            for e in rd.flatten() {
                let p = e.path();
                let Ok(m) = std::fs::symlink_metadata(&p) else {
                    continue;
                };
                if m.is_dir() {
                    let name = e.file_name();
                    let skip_name = self.skip_names.iter().any(|n| name == *n);
                    if depth < self.max_depth
                        && !skip_name
                        && !self.skip_dev.contains(&m.dev())
                        && !self.skip.contains(&p)
                    {
                        subdirs.push(p.clone());
                    }
                }
                if f(&p, &m).is_break() {
                    return errors;
                }
            }
            // Sorted so that walks are repeatable; pushed reversed so the first comes first.
            subdirs.sort();
            stack.extend(subdirs.into_iter().rev().map(|d| (d, depth + 1)));
        }
        errors
    }
}

impl Default for Walk {
    fn default() -> Self {
        Walk::new()
    }
}

/// Whether `name` matches the shell pattern `glob` (`*`, `?`, `[...]`).
pub fn glob_match(glob: &str, name: &str) -> bool {
    let (Ok(g), Ok(n)) = (CString::new(glob), CString::new(name)) else {
        return false;
    };
    // SAFETY: two NUL-terminated strings that live for the call.
    unsafe { libc::fnmatch(g.as_ptr(), n.as_ptr(), 0) == 0 }
}

/// The most `findfile` returns.
pub const MAX_FOUND: usize = 1000;

/// `live.findfile`: entries under `root` whose name matches `glob`, at most 1,000.
pub fn findfile(glob: &str, root: &Path) -> Result<Value> {
    if glob.is_empty() || glob.contains('/') {
        return Err(RespondError::Argument {
            name: "name",
            reason: format!("{glob:?} must be a file name or a glob, without '/'"),
        });
    }
    let m = std::fs::symlink_metadata(root).map_err(RespondError::io("read", root))?;
    if !m.is_dir() {
        return Err(RespondError::Failed(format!(
            "{} is not a directory",
            root.display()
        )));
    }
    let mut rows = Vec::new();
    let mut truncated = false;
    let errors = Walk::new().run(root, &mut |p, m| {
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default();
        if glob_match(glob, &name) {
            if rows.len() == MAX_FOUND {
                truncated = true;
                return ControlFlow::Break(());
            }
            rows.push(json!({
                "Path": p,
                "Type": kind_of(m.file_type()),
                "Size": m.len(),
                "Modified": time_text(m.mtime(), m.mtime_nsec()),
            }));
        }
        ControlFlow::Continue(())
    });
    Ok(json!({ "Rows": rows, "Truncated": truncated, "UnreadableDirectories": errors }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_and_aliases() {
        assert!(glob_match("*.sh", "evil.sh"));
        assert!(glob_match("ev?l.[sp]h", "evil.sh"));
        assert!(!glob_match("*.sh", "evil.py"));
        assert_eq!(aliases("/bin/ls"), ["/bin/ls", "/usr/bin/ls"]);
        assert_eq!(aliases("/usr/sbin/nft"), ["/usr/sbin/nft", "/sbin/nft"]);
    }

    #[test]
    fn findfile_walks_without_following_links_and_caps() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("a/b");
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::write(sub.join("x.sh"), "x").unwrap();
        std::fs::write(dir.path().join("y.sh"), "y").unwrap();
        std::fs::write(dir.path().join("z.txt"), "z").unwrap();
        std::os::unix::fs::symlink("/usr", dir.path().join("link")).unwrap();
        let v = findfile("*.sh", dir.path()).unwrap();
        let paths: Vec<&str> = v["Rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["Path"].as_str().unwrap())
            .collect();
        assert_eq!(paths.len(), 2, "{v}");
        assert!(paths.iter().any(|p| p.ends_with("a/b/x.sh")));
        assert_eq!(v["Truncated"], false);
        let e = findfile("a/b", dir.path()).unwrap_err().to_string();
        assert!(e.contains("without '/'"), "{e}");
        let e = findfile("*", &dir.path().join("nope"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("does not exist"), "{e}");
    }

    #[test]
    fn fileinfo_has_digests_and_the_package() {
        let users = crate::users::Users::new();
        let v = fileinfo(Path::new("/bin/sh"), &users).unwrap();
        assert_eq!(v["Type"], "symlink", "{v}");
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("f");
        std::fs::write(&f, "abc").unwrap();
        let v = fileinfo(&f, &users).unwrap();
        assert_eq!(
            v["SHA256"],
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(v["MD5"], "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(v["Package"], Value::Null);
        if Path::new("/var/lib/dpkg/info/coreutils.list").exists() {
            let v = fileinfo(Path::new("/usr/bin/true"), &users).unwrap();
            assert!(
                v["Package"].as_str().unwrap().starts_with("coreutils"),
                "{v}"
            );
            assert!(package_files().contains("/usr/bin/true"));
        }
    }
}
