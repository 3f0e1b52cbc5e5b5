//! File versions, their digests, the digest cache, and the verdict of an indicator set on a
//! file.
//!
//! A file version is (device, inode, mtime, ctime, size): a write changes mtime and ctime,
//! and ctime cannot be set back from user space, so a changed file is a new key. Keys come
//! from `statx` with `AT_STATX_DONT_SYNC`: cached attributes, never a round trip to a network
//! or FUSE server (the exec guard's reader must not block on one).
//!
//! **Invariant:** the cache holds at most its capacity; when full, the least recently used
//! half goes.

use std::collections::HashMap;
use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicBool, Ordering};

use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha256};
use vigil_intel::{Action, IntelSet};

use crate::protect::report::IndicatorInfo;
use crate::protect::rules::HashSummary;

/// A file version: (device, inode, mtime, ctime, size).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FileKey {
    pub dev: u64,
    pub ino: u64,
    pub mtime: (i64, u32),
    pub ctime: (i64, u32),
    pub size: u64,
}

/// The digests of one file version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digests {
    pub sha256: [u8; 32],
    pub sha1: Option<[u8; 20]>,
    pub md5: Option<[u8; 16]>,
    pub size: u64,
}

impl Digests {
    pub(crate) fn covers(&self, h: &HashSummary) -> bool {
        (h.sha1 == 0 || self.sha1.is_some()) && (h.md5 == 0 || self.md5.is_some())
    }

    pub(crate) fn hex(&self) -> (String, Option<String>, Option<String>) {
        (
            hex::encode(self.sha256),
            self.sha1.map(hex::encode),
            self.md5.map(hex::encode),
        )
    }
}

/// The blocking indicator a file matches, if any: an `Allow` on any of its digests wins,
/// then the first blocking hit among SHA-256, SHA-1, MD5. Expired indicators do not count.
pub fn verdict(set: &IntelSet, d: &Digests, now_ms: i64) -> Option<IndicatorInfo> {
    let (sha256, sha1, md5) = d.hex();
    let mut block = None;
    for hex in std::iter::once(Some(sha256)).chain([sha1, md5]).flatten() {
        let Some(hit) = set.file_hash(&hex) else {
            continue;
        };
        let ind = hit.indicator;
        if !ind.is_live(now_ms) {
            continue;
        }
        if ind.action == Action::Allow {
            return None;
        }
        if ind.action.blocks() && block.is_none() {
            block = Some(IndicatorInfo {
                id: ind.id,
                title: ind.title.clone(),
                value: ind.value.clone(),
                action: ind.action,
            });
        }
    }
    block
}

/// The digest cache: bounded; when full, the least recently used half goes.
#[derive(Debug, Default)]
pub(crate) struct DigestCache {
    map: HashMap<FileKey, (Digests, u64)>,
    tick: u64,
    cap: usize,
}

impl DigestCache {
    pub(crate) fn new(cap: usize) -> DigestCache {
        DigestCache {
            cap: cap.max(1),
            ..Default::default()
        }
    }
}

impl DigestCache {
    pub(crate) fn get(&mut self, k: &FileKey) -> Option<Digests> {
        self.tick += 1;
        let tick = self.tick;
        self.map.get_mut(k).map(|(d, used)| {
            *used = tick;
            d.clone()
        })
    }

    pub(crate) fn insert(&mut self, k: FileKey, d: Digests) {
        if self.map.len() >= self.cap {
            let mut ticks: Vec<u64> = self.map.values().map(|(_, t)| *t).collect();
            ticks.sort_unstable();
            let cut = ticks[ticks.len() / 2];
            self.map.retain(|_, (_, t)| *t > cut);
        }
        self.tick += 1;
        self.map.insert(k, (d, self.tick));
    }
}

impl DigestCache {
    /// Whether this is the first time `key` is seen over the size limit (so that it is
    /// reported once); remembered as an entry without digests.
    pub(crate) fn too_large_first(&mut self, key: FileKey) -> bool {
        let marker = Digests {
            sha256: [0; 32],
            sha1: None,
            md5: None,
            size: u64::MAX,
        };
        if self.map.get(&key).is_some_and(|(d, _)| d.size == u64::MAX) {
            return false;
        }
        self.insert(key, marker);
        true
    }
}

/// The identity of an open file from cached attributes (no I/O to the file's server).
pub(crate) fn file_key(f: &File) -> std::io::Result<FileKey> {
    // SAFETY: statx is plain old data, for which all zeroes is a valid value.
    let mut st: libc::statx = unsafe { std::mem::zeroed() };
    // SAFETY: a valid descriptor, an empty NUL-terminated path with AT_EMPTY_PATH, and a
    // statx buffer that lives for the call.
    let rc = unsafe {
        libc::statx(
            f.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH | libc::AT_STATX_DONT_SYNC,
            libc::STATX_BASIC_STATS,
            &mut st,
        )
    };
    if rc < 0 {
        return Err(std::io::Error::last_os_error());
    }
    if u32::from(st.stx_mode) & libc::S_IFMT != libc::S_IFREG {
        return Err(std::io::Error::other("not a regular file"));
    }
    Ok(FileKey {
        dev: libc::makedev(st.stx_dev_major, st.stx_dev_minor),
        ino: st.stx_ino,
        mtime: (st.stx_mtime.tv_sec, st.stx_mtime.tv_nsec),
        ctime: (st.stx_ctime.tv_sec, st.stx_ctime.tv_nsec),
        size: st.stx_size,
    })
}

/// Hash a file from its start, with the digests the policy needs.
pub(crate) fn hash_file(f: &File, h: &HashSummary, stop: &AtomicBool) -> std::io::Result<Digests> {
    let mut sha256 = Sha256::new();
    let mut sha1 = (h.sha1 > 0).then(Sha1::new);
    let mut md5 = (h.md5 > 0).then(Md5::new);
    let mut buf = vec![0u8; 1 << 20];
    let mut off = 0u64;
    loop {
        if stop.load(Ordering::Relaxed) {
            return Err(std::io::Error::other("stopping"));
        }
        let n = match f.read_at(&mut buf, off) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let chunk = &buf[..n];
        sha256.update(chunk);
        if let Some(s) = sha1.as_mut() {
            s.update(chunk);
        }
        if let Some(m) = md5.as_mut() {
            m.update(chunk);
        }
        off += n as u64;
    }
    Ok(Digests {
        sha256: sha256.finalize().into(),
        sha1: sha1.map(|s| s.finalize().into()),
        md5: md5.map(|m| m.finalize().into()),
        size: off,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_intel::{Indicator, IndicatorType};

    fn digests(data: &[u8]) -> Digests {
        let h = HashSummary {
            sha256: 1,
            sha1: 1,
            md5: 1,
            ..Default::default()
        };
        let path = std::env::temp_dir().join(format!("vigil-exec-digest-{}", std::process::id()));
        std::fs::write(&path, data).unwrap();
        let d = hash_file(&File::open(&path).unwrap(), &h, &AtomicBool::new(false)).unwrap();
        let _ = std::fs::remove_file(&path);
        d
    }

    #[test]
    fn digests_are_the_standard_ones() {
        let d = digests(b"abc");
        assert_eq!(
            hex::encode(d.sha256),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            hex::encode(d.sha1.unwrap()),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        assert_eq!(
            hex::encode(d.md5.unwrap()),
            "900150983cd24fb0d6963f7d28e17f72"
        );
        assert_eq!(d.size, 3);
    }

    #[test]
    fn verdicts_allow_wins_and_expiry_counts() {
        let d = digests(b"abc");
        let (sha256, sha1, md5) = d.hex();
        let ind = |kind, v: &str, a: Action, id: u64| {
            let mut i = Indicator::new(kind, v).unwrap().with_action(a);
            i.id = id;
            i
        };
        let set = IntelSet::new(vec![ind(IndicatorType::Sha256, &sha256, Action::Block, 1)]);
        assert_eq!(verdict(&set, &d, 0).map(|i| i.id), Some(1));
        // An allow on another digest of the same file wins.
        let set = IntelSet::new(vec![
            ind(IndicatorType::Sha256, &sha256, Action::Block, 1),
            ind(IndicatorType::Md5, &md5.unwrap(), Action::Allow, 2),
        ]);
        assert_eq!(verdict(&set, &d, 0), None);
        // Audit does not block; SHA-1 blocks when SHA-256 does not match.
        let set = IntelSet::new(vec![
            ind(IndicatorType::Sha256, &sha256, Action::Audit, 1),
            ind(
                IndicatorType::Sha1,
                &sha1.unwrap(),
                Action::BlockAndRemediate,
                3,
            ),
        ]);
        assert_eq!(verdict(&set, &d, 0).map(|i| i.id), Some(3));
        let mut expired = ind(IndicatorType::Sha256, &sha256, Action::Block, 1);
        expired.expires_ms = Some(10);
        let set = IntelSet::new(vec![expired]);
        assert_eq!(verdict(&set, &d, 5).map(|i| i.id), Some(1));
        assert_eq!(verdict(&set, &d, 10), None);
    }

    #[test]
    fn cache_is_bounded_and_keeps_recent_entries() {
        let mut c = DigestCache {
            cap: 4,
            ..Default::default()
        };
        let key = |i: u64| FileKey {
            dev: 1,
            ino: i,
            mtime: (0, 0),
            ctime: (0, 0),
            size: 1,
        };
        let d = digests(b"x");
        for i in 0..4 {
            c.insert(key(i), d.clone());
        }
        assert!(c.get(&key(0)).is_some()); // recently used
        c.insert(key(9), d.clone());
        assert!(c.map.len() <= 4);
        assert!(c.get(&key(0)).is_some() && c.get(&key(9)).is_some());
        assert!(c.get(&key(1)).is_none());
        assert!(c.too_large_first(key(20)));
        assert!(!c.too_large_first(key(20)));
    }
}
