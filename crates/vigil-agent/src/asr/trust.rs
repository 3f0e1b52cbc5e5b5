//! Whether the program a process runs is a trusted system program: the allow decisions of
//! `credential_read` and `persistence_write` (`files.rs`) rest on the program *file*, so that
//! copying or renaming a binary does not make it trusted.
//!
//! A program file is trusted when all of these hold:
//! - the file the process runs (`/proc/PID/exe`, followed by the kernel to the very inode
//!   mapped) is a regular file owned by root and not writable by group or others;
//! - the path the kernel names for it (the link's text) still leads to that same inode
//!   (device and inode), so the directories checked below are the ones that hold it;
//! - every directory of that path, up to `/`, is owned by root and not writable by group or
//!   others (no sticky `/tmp`, no user's home with a loose mode).
//!
//! Only root can then have put the file there or replaced it. The directory check is cached
//! per directory for [`DIR_TTL`] (keyed by its device, inode and modification time too), so
//! that the hot path costs one `readlink` and two `stat`s.
//!
//! An allow list holds names (the program file's name in the kernel's 15-byte form) and
//! exact paths (entries starting with `/`, resolved through symbolic links once at start):
//! a process is allowed when its program file is trusted and its name or path is listed.

use std::collections::{HashMap, HashSet};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a directory's verdict is reused.
pub const DIR_TTL: Duration = Duration::from_secs(5);

/// Entries of the directory cache before it is emptied (a bound, not a tuning knob).
const DIR_CACHE_MAX: usize = 4096;

/// Writable by group or others.
const LOOSE: u32 = 0o022;

/// The program a process runs, as resolved once for one decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Program {
    /// The program file's path as the kernel names it (empty when unreadable).
    pub path: String,
    /// Its last component in the kernel's 15-byte `comm` form.
    pub name: String,
    /// Whether the file and every directory above it are root's alone.
    pub trusted: bool,
}

/// An allow list: program names and exact program paths.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowList {
    names: HashSet<String>,
    paths: HashSet<String>,
}

impl AllowList {
    /// Built-in names plus configured entries (a leading `/` makes an entry a path).
    pub fn new(builtin: &[&str], extra: &[String]) -> AllowList {
        let mut l = AllowList::default();
        for e in builtin
            .iter()
            .copied()
            .chain(extra.iter().map(String::as_str))
        {
            if e.starts_with('/') {
                let real = std::fs::canonicalize(e)
                    .map(|p| p.to_string_lossy().into_owned())
                    .unwrap_or_else(|_| e.to_string());
                l.paths.insert(real);
                l.paths.insert(e.to_string());
            } else {
                l.names.insert(comm_form(e));
            }
        }
        l
    }

    /// Add another list's entries.
    pub fn extend(&mut self, other: AllowList) {
        self.names.extend(other.names);
        self.paths.extend(other.paths);
    }

    /// Whether `p` is allowed: trusted, and listed by name or by path.
    pub fn allows(&self, p: &Program) -> bool {
        p.trusted && (self.names.contains(&p.name) || self.paths.contains(&p.path))
    }
}

/// The kernel's 15-byte form of a program name.
pub fn comm_form(name: &str) -> String {
    name.chars().take(15).collect()
}

/// A cached directory verdict.
#[derive(Debug, Clone, Copy)]
struct DirVerdict {
    /// The directory as checked: device, inode, modification time.
    id: (u64, u64, i64),
    trusted: bool,
    at: Instant,
}

/// The checker, with its directory cache.
#[derive(Debug, Default)]
pub struct Trust {
    dirs: Mutex<HashMap<PathBuf, DirVerdict>>,
}

impl Trust {
    /// Resolve the program of process `pid` and judge it.
    pub fn program(&self, pid: u32) -> Program {
        let link = format!("/proc/{pid}/exe");
        let path = std::fs::read_link(&link)
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        let name = comm_form(path.rsplit('/').next().unwrap_or(""));
        let trusted = !path.is_empty() && self.file_trusted(Path::new(&link), Path::new(&path));
        Program {
            path,
            name,
            trusted,
        }
    }

    /// Whether the inode behind `running` (a `/proc/PID/exe` link, or the file itself) is
    /// root's regular file, still at `path`, in directories only root can write.
    pub fn file_trusted(&self, running: &Path, path: &Path) -> bool {
        // A program unlinked or replaced since it started is named "... (deleted)".
        if !path.is_absolute() || path.to_string_lossy().ends_with(" (deleted)") {
            return false;
        }
        let (Ok(run), Ok(at)) = (std::fs::metadata(running), std::fs::symlink_metadata(path))
        else {
            return false;
        };
        if !run.is_file() || run.uid() != 0 || run.mode() & LOOSE != 0 {
            return false;
        }
        if (run.dev(), run.ino()) != (at.dev(), at.ino()) {
            return false;
        }
        path.parent().is_some_and(|d| self.dir_trusted(d))
    }

    /// Whether `dir` and every directory above it are root's and not group/other-writable.
    fn dir_trusted(&self, dir: &Path) -> bool {
        let Ok(m) = std::fs::symlink_metadata(dir) else {
            return false;
        };
        let now = Instant::now();
        let key = (m.dev(), m.ino(), m.mtime());
        {
            let cache = self.dirs.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(v) = cache.get(dir) {
                if v.id == key && now.duration_since(v.at) < DIR_TTL {
                    return v.trusted;
                }
            }
        }
        let own = m.is_dir() && m.uid() == 0 && m.mode() & LOOSE == 0;
        let ok = own && dir.parent().is_none_or(|up| self.dir_trusted(up));
        let mut cache = self.dirs.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= DIR_CACHE_MAX {
            cache.clear();
        }
        cache.insert(
            dir.to_path_buf(),
            DirVerdict {
                id: key,
                trusted: ok,
                at: now,
            },
        );
        ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn system_programs_are_trusted_and_copies_in_loose_places_are_not() {
        let t = Trust::default();
        let cat = std::fs::canonicalize("/bin/cat").unwrap();
        assert!(t.file_trusted(&cat, &cat), "{}", cat.display());
        // This test's own binary lives in a build directory; copy a system program into a
        // temp dir that only root owns, then loosen the directory.
        let dir = tempfile::tempdir().unwrap();
        let d = std::fs::canonicalize(dir.path()).unwrap();
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755)).unwrap();
        let copy = d.join("dpkg");
        std::fs::copy(&cat, &copy).unwrap();
        std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755)).unwrap();
        // The temp dir sits in /tmp (sticky, world-writable): never trusted.
        let in_tmp = d.starts_with("/tmp");
        assert_eq!(t.file_trusted(&copy, &copy), !in_tmp && is_root_owned(&d));
        // A file others may write is never trusted, wherever it is.
        std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o775)).unwrap();
        assert!(!t.file_trusted(&copy, &copy));
        // A path that does not lead to the running inode is not trusted.
        assert!(!t.file_trusted(&cat, &copy));
        assert!(!t.file_trusted(&cat, Path::new("relative/cat")));
        assert!(!t.file_trusted(&cat, Path::new("/bin/cat (deleted)")));
    }

    fn is_root_owned(p: &Path) -> bool {
        std::fs::metadata(p).map(|m| m.uid() == 0).unwrap_or(false)
    }

    #[test]
    fn the_running_process_is_judged_by_its_file() {
        let t = Trust::default();
        let me = t.program(std::process::id());
        assert!(me.path.starts_with('/'), "{me:?}");
        assert_eq!(me.name.len(), me.name.chars().count().min(15));
        // The test binary is in a target directory: trusted only if that tree is root's.
        let dir_ok = Path::new(&me.path)
            .ancestors()
            .skip(1)
            .all(|a| std::fs::metadata(a).is_ok_and(|m| m.uid() == 0 && m.mode() & LOOSE == 0));
        let file_ok =
            std::fs::metadata(&me.path).is_ok_and(|m| m.uid() == 0 && m.mode() & LOOSE == 0);
        assert_eq!(me.trusted, dir_ok && file_ok);
        assert!(!t.program(u32::MAX).trusted, "no such process");
    }

    #[test]
    fn allow_lists_match_names_and_exact_paths_of_trusted_programs_only() {
        let l = AllowList::new(&["sshd"], &["/bin/cat".into(), "unattended-upgrade".into()]);
        let cat = std::fs::canonicalize("/bin/cat")
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let p = |path: &str, name: &str, trusted| Program {
            path: path.into(),
            name: name.into(),
            trusted,
        };
        assert!(l.allows(&p(&cat, "cat", true)));
        assert!(!l.allows(&p(&cat, "cat", false)), "untrusted");
        assert!(l.allows(&p("/usr/sbin/sshd", "sshd", true)));
        assert!(l.allows(&p("/usr/bin/unattended-upgrade", "unattended-upgr", true)));
        assert!(!l.allows(&p("/tmp/x/sshd", "sshd", false)));
        assert!(!l.allows(&p("/usr/bin/tac", "tac", true)), "not listed");
    }
}
