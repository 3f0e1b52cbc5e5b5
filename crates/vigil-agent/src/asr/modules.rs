//! The kernel modules the package manager owns, for the `module_load` rule: every file named
//! `*.ko` (or `.ko.xz`, `.ko.zst`, `.ko.gz`) in dpkg's file lists
//! (`/var/lib/dpkg/info/*.list`), as (kernel `s_dev`, inode) in the guard's `module_ok`
//! map. A thread ("asr-modules") reads the lists again when dpkg's directory changes
//! (checked every 30 s), so modules of a newly installed kernel are allowed once dpkg is done.
//!
//! **Invariant:** the set is what dpkg lists now: files that left the lists leave the map.

use std::collections::HashSet;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use crate::tamper::kernel::GuardMaps;

/// Where dpkg keeps its file lists.
pub const DPKG_INFO: &str = "/var/lib/dpkg/info";

const MODULE_SUFFIXES: &[&str] = &[".ko", ".ko.xz", ".ko.zst", ".ko.gz"];

/// A device number as the kernel's `s_dev` holds it (major << 20 | minor).
pub fn kernel_dev(st_dev: u64) -> u32 {
    (libc::major(st_dev) << 20) | libc::minor(st_dev)
}

/// The module files named by dpkg's lists under `info_dir`, as (kernel dev, inode), with
/// the number of list files read.
pub fn packaged_modules(info_dir: &Path) -> std::io::Result<(HashSet<(u32, u64)>, usize)> {
    let mut out = HashSet::new();
    let mut lists = 0;
    for e in std::fs::read_dir(info_dir)?.flatten() {
        let p = e.path();
        if p.extension().is_none_or(|x| x != "list") {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&p) else {
            continue;
        };
        lists += 1;
        for line in text.lines() {
            if !MODULE_SUFFIXES.iter().any(|s| line.ends_with(s)) {
                continue;
            }
            if let Ok(m) = std::fs::metadata(line) {
                if m.is_file() {
                    out.insert((kernel_dev(m.dev()), m.ino()));
                }
            }
        }
    }
    Ok((out, lists))
}

/// The running refresher.
pub struct ModuleList {
    stop: Arc<AtomicBool>,
    count: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

impl ModuleList {
    /// Fill the map now and keep it current.
    pub fn start(maps: Arc<GuardMaps>, info_dir: PathBuf) -> std::io::Result<ModuleList> {
        let stop = Arc::new(AtomicBool::new(false));
        let count = Arc::new(AtomicU64::new(0));
        let mut current: HashSet<(u32, u64)> = HashSet::new();
        let stamp = |d: &Path| std::fs::metadata(d).and_then(|m| m.modified()).ok();
        let mut seen: Option<SystemTime> = stamp(&info_dir);
        sync(&maps, &info_dir, &mut current, &count);
        let (s, c) = (Arc::clone(&stop), Arc::clone(&count));
        let thread = std::thread::Builder::new()
            .name("asr-modules".into())
            .spawn(move || {
                let mut last = Instant::now();
                while !s.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(200));
                    if last.elapsed() < Duration::from_secs(30) {
                        continue;
                    }
                    last = Instant::now();
                    let now = stamp(&info_dir);
                    if now != seen {
                        seen = now;
                        sync(&maps, &info_dir, &mut current, &c);
                    }
                }
            })?;
        Ok(ModuleList {
            stop,
            count,
            thread: Some(thread),
        })
    }

    /// Module files allowed now.
    pub fn len(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Drop for ModuleList {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn sync(maps: &GuardMaps, dir: &Path, current: &mut HashSet<(u32, u64)>, count: &AtomicU64) {
    let Ok((now, _)) = packaged_modules(dir) else {
        return;
    };
    for gone in current.difference(&now) {
        maps.forget_module(gone.0, gone.1);
    }
    for new in now.difference(current) {
        let _ = maps.allow_module(new.0, new.1);
    }
    count.store(now.len() as u64, Ordering::Relaxed);
    *current = now;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_listed_module_files_that_exist_count() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let ko = d.join("a.ko");
        let xz = d.join("b.ko.xz");
        std::fs::write(&ko, "x").unwrap();
        std::fs::write(&xz, "y").unwrap();
        std::fs::write(d.join("readme.txt"), "z").unwrap();
        std::fs::write(
            d.join("linux-image.list"),
            format!(
                "/.\n{}\n{}\n{}/gone.ko\n{}/readme.txt\n",
                ko.display(),
                xz.display(),
                d.display(),
                d.display()
            ),
        )
        .unwrap();
        std::fs::write(d.join("other.md5sums"), format!("{}\n", ko.display())).unwrap();
        let (set, lists) = packaged_modules(d).unwrap();
        assert_eq!(lists, 1);
        let m = std::fs::metadata(&ko).unwrap();
        assert_eq!(set.len(), 2);
        assert!(set.contains(&(kernel_dev(m.dev()), m.ino())));
        assert!(packaged_modules(&d.join("nope")).is_err());
    }

    #[test]
    fn kernel_device_numbers_put_the_major_above_bit_20() {
        assert_eq!(kernel_dev(libc::makedev(8, 1)), (8 << 20) | 1);
        assert_eq!(kernel_dev(libc::makedev(259, 300)), (259 << 20) | 300);
    }
}
