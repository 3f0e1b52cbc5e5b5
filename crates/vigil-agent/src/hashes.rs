//! File hashes (SHA-256, SHA-1, MD5), computed once per file version.
//!
//! A version is `(st_dev, inode, mtime, size)`: a file is hashed again only when one of them
//! changes. The cache is bounded (oldest entries go first) and files above a size cap are not
//! hashed at all (the event says so instead of stalling the pipeline).

use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::sync::Arc;

use sha1::Sha1;
use sha2::{Digest, Sha256};

/// The three digests MDE reports, lowercase hex.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hashes {
    pub sha256: String,
    pub sha1: String,
    pub md5: String,
    pub size: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct FileKey {
    dev: u64,
    ino: u64,
    mtime_ns: i64,
    size: u64,
}

/// Why no hash could be given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoHash {
    /// The file is larger than the configured cap.
    TooLarge,
    /// It could not be opened or read (gone, permission, not a regular file).
    Unreadable,
}

/// Counters for health reporting.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct HashStats {
    pub computed: u64,
    pub hits: u64,
    pub too_large: u64,
}

pub struct HashCache {
    map: HashMap<FileKey, Arc<Hashes>>,
    order: VecDeque<FileKey>,
    capacity: usize,
    max_size: u64,
    pub stats: HashStats,
}

impl HashCache {
    pub fn new(capacity: usize, max_size: u64) -> HashCache {
        HashCache {
            map: HashMap::new(),
            order: VecDeque::new(),
            capacity: capacity.max(1),
            max_size,
            stats: HashStats::default(),
        }
    }

    /// Hash the file at `path`.
    pub fn hash_path(&mut self, path: &str) -> Result<Arc<Hashes>, NoHash> {
        let file = File::open(path).map_err(|_| NoHash::Unreadable)?;
        self.hash_file(file)
    }

    /// Hash an open file (e.g. `/proc/<pid>/exe`, which works for deleted and memfd images).
    pub fn hash_file(&mut self, mut file: File) -> Result<Arc<Hashes>, NoHash> {
        let meta = file.metadata().map_err(|_| NoHash::Unreadable)?;
        if !meta.is_file() {
            return Err(NoHash::Unreadable);
        }
        let key = FileKey {
            dev: meta.dev(),
            ino: meta.ino(),
            mtime_ns: meta.mtime() * 1_000_000_000 + meta.mtime_nsec(),
            size: meta.size(),
        };
        if let Some(h) = self.map.get(&key) {
            self.stats.hits += 1;
            return Ok(Arc::clone(h));
        }
        if meta.size() > self.max_size {
            self.stats.too_large += 1;
            return Err(NoHash::TooLarge);
        }
        let mut sha256 = Sha256::new();
        let mut sha1 = Sha1::new();
        let mut md5 = md5::Md5::new();
        let mut buf = vec![0u8; 64 * 1024];
        let mut total = 0u64;
        loop {
            let n = file.read(&mut buf).map_err(|_| NoHash::Unreadable)?;
            if n == 0 {
                break;
            }
            total += n as u64;
            if total > self.max_size {
                self.stats.too_large += 1;
                return Err(NoHash::TooLarge);
            }
            sha256.update(&buf[..n]);
            sha1.update(&buf[..n]);
            md5.update(&buf[..n]);
        }
        let hashes = Arc::new(Hashes {
            sha256: hex::encode(sha256.finalize()),
            sha1: hex::encode(sha1.finalize()),
            md5: hex::encode(md5.finalize()),
            size: total,
        });
        self.stats.computed += 1;
        if self.map.len() >= self.capacity {
            if let Some(old) = self.order.pop_front() {
                self.map.remove(&old);
            }
        }
        self.map.insert(key, Arc::clone(&hashes));
        self.order.push_back(key);
        Ok(hashes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str, body: &[u8]) -> String {
        let dir = std::env::temp_dir().join(format!("vigil-hash-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join(name);
        std::fs::write(&p, body).unwrap();
        p.to_string_lossy().into_owned()
    }

    #[test]
    fn known_digests_and_cache_hits() {
        let p = temp("abc", b"abc");
        let mut c = HashCache::new(4, 1 << 20);
        let h = c.hash_path(&p).unwrap();
        assert_eq!(
            h.sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(h.sha1, "a9993e364706816aba3e25717850c26c9cd0d89d");
        assert_eq!(h.md5, "900150983cd24fb0d6963f7d28e17f72");
        c.hash_path(&p).unwrap();
        assert_eq!(c.stats.computed, 1);
        assert_eq!(c.stats.hits, 1);
        std::fs::write(&p, b"abcd").unwrap(); // new size: a new version
        assert_ne!(c.hash_path(&p).unwrap().sha256, h.sha256);
    }

    #[test]
    fn size_cap_and_bounded_cache() {
        let big = temp("big", &[0u8; 100]);
        let mut c = HashCache::new(2, 10);
        assert_eq!(c.hash_path(&big), Err(NoHash::TooLarge));
        assert_eq!(c.hash_path("/nonexistent/x"), Err(NoHash::Unreadable));
        let mut c = HashCache::new(2, 1 << 20);
        for i in 0..5 {
            c.hash_path(&temp(&format!("f{i}"), format!("{i}").as_bytes()))
                .unwrap();
        }
        assert!(c.map.len() <= 2);
    }
}
