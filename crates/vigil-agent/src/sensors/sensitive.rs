//! The files whose opening for reading the kernel reports (`SensitiveFileRead`): credential
//! stores and private keys, configured as paths with `*` wildcards inside one component.
//!
//! The kernel knows them by (device, inode), so the list is resolved here and re-resolved
//! periodically: a file replaced by rename (as `passwd` does to `/etc/shadow`) is a new inode.

use std::collections::BTreeSet;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

/// At most this many files are watched (the kernel map's size).
pub const MAX_FILES: usize = 256;

/// A file as the kernel identifies it: `s_dev` in the kernel's encoding (major << 20 | minor)
/// and the inode number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct FileId {
    pub dev: u32,
    pub ino: u64,
}

impl FileId {
    fn of(meta: &std::fs::Metadata) -> FileId {
        let d = meta.dev();
        FileId {
            dev: (libc::major(d) << 20) | libc::minor(d),
            ino: meta.ino(),
        }
    }
}

/// Whether `name` matches `pattern`, where `*` stands for any run of characters.
fn wildcard(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == name;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if name.len() < first.len() + last.len() || !name.starts_with(first) || !name.ends_with(last) {
        return false;
    }
    let mut rest = &name[first.len()..name.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

/// The paths a pattern names now (public keys, `*.pub`, are never sensitive).
fn expand(pattern: &str, out: &mut Vec<PathBuf>) {
    let mut current = vec![PathBuf::from("/")];
    for comp in pattern.split('/').filter(|c| !c.is_empty()) {
        let mut next = Vec::new();
        for dir in &current {
            if !comp.contains('*') {
                next.push(dir.join(comp));
                continue;
            }
            let Ok(entries) = std::fs::read_dir(dir) else {
                continue;
            };
            let mut names: Vec<String> = entries
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| wildcard(comp, n))
                .collect();
            names.sort();
            next.extend(names.into_iter().map(|n| dir.join(n)));
        }
        current = next;
    }
    out.extend(
        current
            .into_iter()
            .filter(|p| !p.to_string_lossy().ends_with(".pub")),
    );
}

/// The files the patterns name now, by kernel identity (at most [`MAX_FILES`]).
pub fn resolve(patterns: &[String]) -> BTreeSet<FileId> {
    let mut paths = Vec::new();
    for p in patterns {
        expand(p, &mut paths);
    }
    paths
        .iter()
        .filter_map(|p| p.metadata().ok().filter(|m| m.is_file()))
        .map(|m| FileId::of(&m))
        .take(MAX_FILES)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_within_a_component() {
        assert!(wildcard("ssh_host_*_key", "ssh_host_ed25519_key"));
        assert!(!wildcard("ssh_host_*_key", "ssh_host_ed25519_key.pub"));
        assert!(wildcard("id_*", "id_rsa"));
        assert!(wildcard("a*b*c", "aXXbYYc"));
        assert!(!wildcard("a*b*c", "aXXc"));
        assert!(wildcard("shadow", "shadow"));
        assert!(!wildcard("shadow", "shadow-"));
    }

    #[test]
    fn patterns_resolve_to_the_files_present_without_public_keys() {
        let dir = tempfile_dir();
        let ssh = dir.join("home/alice/.ssh");
        std::fs::create_dir_all(&ssh).unwrap();
        for f in ["id_ed25519", "id_ed25519.pub", "known_hosts"] {
            std::fs::write(ssh.join(f), f).unwrap();
        }
        std::fs::create_dir_all(dir.join("home/bob")).unwrap();
        let pattern = format!("{}/home/*/.ssh/id_*", dir.display());
        let mut paths = Vec::new();
        expand(&pattern, &mut paths);
        assert_eq!(paths, vec![ssh.join("id_ed25519")]);
        let ids = resolve(&[pattern, format!("{}/missing", dir.display())]);
        assert_eq!(ids.len(), 1);
        let meta = ssh.join("id_ed25519").metadata().unwrap();
        assert_eq!(ids.iter().next().unwrap().ino, meta.ino());
        // Replacing the file by rename gives a new identity.
        std::fs::write(ssh.join("new"), "k").unwrap();
        std::fs::rename(ssh.join("new"), ssh.join("id_ed25519")).unwrap();
        let again = resolve(&[format!("{}/home/*/.ssh/id_*", dir.display())]);
        assert_ne!(ids, again);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn tempfile_dir() -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "vigil-sensitive-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }
}
