//! File hashes (SHA-256, SHA-1, MD5), computed once per file version, off the hot path.
//!
//! A version is `(st_dev, inode, mtime, size)`: a file is hashed again only when one of them
//! changes. Small files are hashed at once; larger ones go to a worker thread, and the caller
//! gets `HashState::Pending` and asks again later (the pipeline holds the row meanwhile). The
//! cache is bounded (oldest entries go first); files above a size cap are not hashed at all.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fs::File;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};

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

/// The answer to a hash request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HashState {
    Ready(Arc<Hashes>),
    /// Being computed by the worker: ask again later.
    Pending,
    Failed(NoHash),
}

/// Counters for health reporting.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct HashStats {
    pub computed: u64,
    pub hits: u64,
    pub too_large: u64,
}

#[derive(Default)]
struct Shared {
    map: HashMap<FileKey, Arc<Hashes>>,
    order: VecDeque<FileKey>,
    pending: HashSet<FileKey>,
    stats: HashStats,
}

impl Shared {
    fn insert(&mut self, key: FileKey, h: Arc<Hashes>, capacity: usize) {
        self.stats.computed += 1;
        while self.map.len() >= capacity {
            match self.order.pop_front() {
                Some(old) => {
                    self.map.remove(&old);
                }
                None => break,
            }
        }
        self.map.insert(key, h);
        self.order.push_back(key);
    }
}

/// Hash one file from offset 0 (positioned reads, so a shared descriptor is not disturbed).
fn digest(file: &File, max_size: u64) -> Result<Hashes, NoHash> {
    let mut sha256 = Sha256::new();
    let mut sha1 = Sha1::new();
    let mut md5 = md5::Md5::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut total = 0u64;
    loop {
        let n = file
            .read_at(&mut buf, total)
            .map_err(|_| NoHash::Unreadable)?;
        if n == 0 {
            break;
        }
        total += n as u64;
        if total > max_size {
            return Err(NoHash::TooLarge);
        }
        sha256.update(&buf[..n]);
        sha1.update(&buf[..n]);
        md5.update(&buf[..n]);
    }
    Ok(Hashes {
        sha256: hex::encode(sha256.finalize()),
        sha1: hex::encode(sha1.finalize()),
        md5: hex::encode(md5.finalize()),
        size: total,
    })
}

/// The hashing service: a bounded cache, inline hashing of small files, a worker for the rest.
pub struct HashCache {
    shared: Arc<Mutex<Shared>>,
    jobs: SyncSender<(FileKey, File)>,
    capacity: usize,
    max_size: u64,
    inline_max: u64,
}

impl HashCache {
    /// `capacity` file versions; files over `max_size` bytes are not hashed; files up to
    /// `inline_max` bytes are hashed by the caller, larger ones by the worker thread.
    pub fn new(capacity: usize, max_size: u64, inline_max: u64) -> HashCache {
        let shared = Arc::new(Mutex::new(Shared::default()));
        let (jobs, rx) = mpsc::sync_channel::<(FileKey, File)>(1024);
        let capacity = capacity.max(1);
        let worker_shared = Arc::clone(&shared);
        let spawned = std::thread::Builder::new()
            .name("hasher".into())
            .spawn(move || {
                for (key, file) in rx {
                    let result = digest(&file, max_size);
                    let mut s = worker_shared.lock().unwrap_or_else(|e| e.into_inner());
                    s.pending.remove(&key);
                    match result {
                        Ok(h) => s.insert(key, Arc::new(h), capacity),
                        Err(_) => s.stats.too_large += 1,
                    }
                }
            });
        if spawned.is_err() {
            // No worker: everything is hashed inline.
            return HashCache {
                shared,
                jobs,
                capacity,
                max_size,
                inline_max: max_size,
            };
        }
        HashCache {
            shared,
            jobs,
            capacity,
            max_size,
            inline_max,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn stats(&self) -> HashStats {
        self.lock().stats
    }

    /// Hash the file at `path`.
    pub fn hash_path(&self, path: &str) -> HashState {
        match File::open(path) {
            Ok(f) => self.hash_file(&f),
            Err(_) => HashState::Failed(NoHash::Unreadable),
        }
    }

    /// Hash an open file (e.g. `/proc/<pid>/exe`, which works for deleted and memfd images and
    /// after the process has exited).
    pub fn hash_file(&self, file: &File) -> HashState {
        let Ok(meta) = file.metadata() else {
            return HashState::Failed(NoHash::Unreadable);
        };
        if !meta.is_file() {
            return HashState::Failed(NoHash::Unreadable);
        }
        let key = FileKey {
            dev: meta.dev(),
            ino: meta.ino(),
            mtime_ns: meta.mtime() * 1_000_000_000 + meta.mtime_nsec(),
            size: meta.size(),
        };
        {
            let mut s = self.lock();
            if let Some(h) = s.map.get(&key).cloned() {
                s.stats.hits += 1;
                return HashState::Ready(h);
            }
            if meta.size() > self.max_size {
                s.stats.too_large += 1;
                return HashState::Failed(NoHash::TooLarge);
            }
            if s.pending.contains(&key) {
                return HashState::Pending;
            }
        }
        if meta.size() <= self.inline_max {
            return match digest(file, self.max_size) {
                Ok(h) => {
                    let h = Arc::new(h);
                    self.lock().insert(key, Arc::clone(&h), self.capacity);
                    HashState::Ready(h)
                }
                Err(e) => HashState::Failed(e),
            };
        }
        let Ok(copy) = file.try_clone() else {
            return HashState::Failed(NoHash::Unreadable);
        };
        self.lock().pending.insert(key);
        match self.jobs.try_send((key, copy)) {
            Ok(()) => HashState::Pending,
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                // The worker is saturated: let the caller retry later.
                self.lock().pending.remove(&key);
                HashState::Pending
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn temp(name: &str, body: &[u8]) -> String {
        let dir = std::env::temp_dir().join(format!("vigil-hash-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join(name);
        std::fs::write(&p, body).unwrap();
        p.to_string_lossy().into_owned()
    }

    fn ready(s: HashState) -> Arc<Hashes> {
        match s {
            HashState::Ready(h) => h,
            other => panic!("not ready: {other:?}"),
        }
    }

    #[test]
    fn known_digests_and_cache_hits() {
        let p = temp("abc", b"abc");
        let c = HashCache::new(4, 1 << 20, 1 << 20);
        let h = ready(c.hash_path(&p));
        assert_eq!(
            h.sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(h.sha1, "a9993e364706816aba3e25717850c26c9cd0d89d");
        assert_eq!(h.md5, "900150983cd24fb0d6963f7d28e17f72");
        ready(c.hash_path(&p));
        assert_eq!(c.stats().computed, 1);
        assert_eq!(c.stats().hits, 1);
        std::fs::write(&p, b"abcd").unwrap(); // new size: a new version
        assert_ne!(ready(c.hash_path(&p)).sha256, h.sha256);
    }

    #[test]
    fn large_files_go_to_the_worker() {
        let p = temp("large", &[7u8; 100_000]);
        let c = HashCache::new(4, 1 << 20, 1000);
        assert_eq!(c.hash_path(&p), HashState::Pending);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match c.hash_path(&p) {
                HashState::Ready(h) => {
                    assert_eq!(h.size, 100_000);
                    break;
                }
                HashState::Pending => assert!(Instant::now() < deadline, "worker never finished"),
                HashState::Failed(e) => panic!("{e:?}"),
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    #[test]
    fn size_cap_and_bounded_cache() {
        let big = temp("big", &[0u8; 100]);
        let c = HashCache::new(2, 10, 10);
        assert_eq!(c.hash_path(&big), HashState::Failed(NoHash::TooLarge));
        assert_eq!(
            c.hash_path("/nonexistent/x"),
            HashState::Failed(NoHash::Unreadable)
        );
        let c = HashCache::new(2, 1 << 20, 1 << 20);
        for i in 0..5 {
            ready(c.hash_path(&temp(&format!("f{i}"), format!("{i}").as_bytes())));
        }
        assert!(c.lock().map.len() <= 2);
    }
}
