//! The on-access verdict cache: what the scanner said about one file version.
//!
//! A file version is `protect::digest::FileKey` (device, inode, mtime, ctime, size): a write
//! changes mtime and ctime (and ctime cannot be set back from user space), so a changed file
//! never hits an old verdict. `FAN_CLOSE_WRITE` also drops every entry of the written inode
//! at once (`forget_inode`), so that the space goes to live versions.
//!
//! **Invariant:** the cache holds at most its capacity; when full, the least recently used
//! half goes (one sort per half-capacity insertions, so the amortised cost stays O(log n)).

use std::collections::HashMap;

use crate::protect::digest::FileKey;

/// What a scan of one file version decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cached {
    Clean,
    Threat(Threat),
    /// Could not be decided (a scan limit, a read error): allowed, not scanned again until it
    /// changes.
    Unscannable(String),
}

/// A detection, as rows and actions need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Threat {
    pub name: String,
    pub rule: String,
    pub severity: String,
    /// The object inside the file that matched (`a.zip!b.sh`), or the file itself.
    pub object: String,
    pub sha256: Option<String>,
}

/// Bounded LRU-ish map from file version to verdict.
#[derive(Debug, Default)]
pub struct VerdictCache {
    map: HashMap<FileKey, (Cached, u64)>,
    tick: u64,
    cap: usize,
}

impl VerdictCache {
    pub fn new(cap: usize) -> VerdictCache {
        VerdictCache {
            cap: cap.max(2),
            ..Default::default()
        }
    }

    pub fn get(&mut self, k: &FileKey) -> Option<Cached> {
        self.tick += 1;
        let tick = self.tick;
        self.map.get_mut(k).map(|(v, used)| {
            *used = tick;
            v.clone()
        })
    }

    pub fn insert(&mut self, k: FileKey, v: Cached) {
        if self.map.len() >= self.cap && !self.map.contains_key(&k) {
            let mut ticks: Vec<u64> = self.map.values().map(|(_, t)| *t).collect();
            ticks.sort_unstable();
            let cut = ticks[ticks.len() / 2];
            self.map.retain(|_, (_, t)| *t > cut);
        }
        self.tick += 1;
        self.map.insert(k, (v, self.tick));
    }

    /// Drop every version of one inode (it was just written).
    pub fn forget_inode(&mut self, dev: u64, ino: u64) {
        self.map.retain(|k, _| !(k.dev == dev && k.ino == ino));
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(ino: u64, mtime: i64) -> FileKey {
        FileKey {
            dev: 1,
            ino,
            mtime: (mtime, 0),
            ctime: (mtime, 0),
            size: 10,
        }
    }

    #[test]
    fn a_new_version_misses_and_a_write_forgets_the_inode() {
        let mut c = VerdictCache::new(16);
        c.insert(key(1, 100), Cached::Clean);
        assert_eq!(c.get(&key(1, 100)), Some(Cached::Clean));
        assert_eq!(
            c.get(&key(1, 101)),
            None,
            "changed mtime/ctime is a new version"
        );
        c.insert(key(1, 101), Cached::Unscannable("limit".into()));
        c.insert(key(2, 100), Cached::Clean);
        c.forget_inode(1, 1);
        assert_eq!(c.len(), 1);
        assert_eq!(c.get(&key(2, 100)), Some(Cached::Clean));
    }

    #[test]
    fn the_cache_is_bounded_and_keeps_what_was_used() {
        let mut c = VerdictCache::new(4);
        for i in 0..4 {
            c.insert(key(i, 0), Cached::Clean);
        }
        assert!(c.get(&key(0, 0)).is_some());
        c.insert(key(9, 0), Cached::Clean);
        assert!(c.len() <= 4);
        assert!(c.get(&key(0, 0)).is_some() && c.get(&key(9, 0)).is_some());
        assert!(c.get(&key(1, 0)).is_none());
    }
}
