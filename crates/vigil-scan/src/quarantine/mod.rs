//! The quarantine vault: detected files moved into a directory, encrypted at rest, with their
//! metadata, to be listed, restored or deleted.
//!
//! Layout: `<vault>/key` (the 32-byte master key, mode 0600, made on first use),
//! `<vault>/items/<id>.vq` (the encrypted content, see `crypto.rs`) and
//! `<vault>/items/<id>.json` (the metadata). The vault directories are mode 0700.
//!
//! Invariants (crash safety): an item exists only once its metadata file is renamed into
//! place, and that happens after the encrypted copy was written and fsynced and renamed; the
//! original is removed only after that (and the directory fsynced). Opening a vault removes
//! leftovers of interrupted operations (`*.tmp`, content without metadata) and finishes an
//! interrupted quarantine whose original is still there unchanged (same device, inode, size,
//! mtime and ctime): a quarantine is either done or it never happened. Delete removes the
//! metadata first, so a crash leaves content without metadata, cleaned at the next open.
//!
//! The encryption keeps the vault's content from being executed or casually read (a
//! backup, an indexer, another scanner, `cat`); it does not protect against root on the same
//! host, who can read the key.

mod crypto;

use std::ffi::OsStr;
use std::fs::{self, File, OpenOptions};
use std::io::{BufReader, BufWriter, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};

use crate::error::QuarantineError;
use crypto::{OpenError, VaultKey};

/// The id of a quarantined item: 32 lowercase hex digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct QuarantineId(String);

impl QuarantineId {
    /// Checks an id given by a user (so that it can never name a path outside the vault).
    pub fn parse(text: &str) -> Result<Self, QuarantineError> {
        if text.len() == 32
            && text
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            Ok(QuarantineId(text.to_string()))
        } else {
            Err(QuarantineError::InvalidId {
                id: text.to_string(),
            })
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for QuarantineId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// One quarantined file as the vault describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuarantineEntry {
    pub id: QuarantineId,
    pub original_path: PathBuf,
    pub uid: u32,
    pub gid: u32,
    /// Permission bits (including setuid, setgid, sticky).
    pub mode: u32,
    pub mtime: SystemTime,
    pub size: u64,
    pub sha256: [u8; 32],
    pub threat: String,
    pub rule: Option<String>,
    pub quarantined_at: SystemTime,
}

/// How to restore.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RestoreOptions {
    /// Replace a file that exists at the destination (otherwise the restore is refused).
    pub overwrite: bool,
}

/// The metadata file's content.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Record {
    format: u32,
    id: String,
    /// The original path as text (lossy, for people) and as exact bytes (hex).
    original_path: String,
    original_path_hex: String,
    uid: u32,
    gid: u32,
    mode: u32,
    mtime_secs: i64,
    mtime_nanos: u32,
    ctime_secs: i64,
    ctime_nanos: u32,
    dev: u64,
    ino: u64,
    size: u64,
    sha256: String,
    threat: String,
    rule: Option<String>,
    quarantined_at_ms: u64,
}

const FORMAT: u32 = 1;

/// A quarantine vault in one directory.
pub struct Quarantine {
    items: PathBuf,
    key: VaultKey,
}

impl std::fmt::Debug for Quarantine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Quarantine")
            .field("items", &self.items)
            .finish_non_exhaustive()
    }
}

impl Quarantine {
    /// Opens (creating it if needed) the vault in `root`, makes the key on first use, and
    /// finishes or rolls back operations a crash interrupted.
    pub fn open(root: impl AsRef<Path>) -> Result<Self, QuarantineError> {
        let root = root.as_ref();
        let items = root.join("items");
        fs::create_dir_all(&items)
            .map_err(QuarantineError::io("create vault directory", &items))?;
        for dir in [root, items.as_path()] {
            fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
                .map_err(QuarantineError::io("set permissions of", dir))?;
        }
        let key = load_or_create_key(&root.join("key"))?;
        let vault = Quarantine { items, key };
        vault.recover()?;
        Ok(vault)
    }

    /// Moves the file at `path` into the vault (encrypted) and removes the original.
    /// A symbolic link or any other non-regular file is refused.
    pub fn quarantine(
        &self,
        path: &Path,
        threat: &str,
        rule: Option<&str>,
    ) -> Result<QuarantineId, QuarantineError> {
        let (id, before) = self.copy_in(path, threat, rule)?;
        // The item is committed. Remove the original only if the path still names the file
        // that was copied (it could have been replaced since it was opened).
        match fs::symlink_metadata(path) {
            Ok(now)
                if now.dev() == before.dev()
                    && now.ino() == before.ino()
                    && same_version(&before, &now) => {}
            _ => {
                let _ = self.delete(&id);
                return Err(QuarantineError::Changed {
                    path: path.to_path_buf(),
                });
            }
        }
        fs::remove_file(path).map_err(QuarantineError::io("remove the original", path))?;
        sync_parent(path)?;
        Ok(id)
    }

    /// The first half of `quarantine`: the encrypted copy and its metadata, committed.
    fn copy_in(
        &self,
        path: &Path,
        threat: &str,
        rule: Option<&str>,
    ) -> Result<(QuarantineId, fs::Metadata), QuarantineError> {
        let mut file = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(path)
            .map_err(|e| match e.raw_os_error() {
                Some(libc::ELOOP) => QuarantineError::NotRegularFile {
                    path: path.to_path_buf(),
                },
                _ => QuarantineError::io("open", path)(e),
            })?;
        let before = file.metadata().map_err(QuarantineError::io("stat", path))?;
        if !before.is_file() {
            return Err(QuarantineError::NotRegularFile {
                path: path.to_path_buf(),
            });
        }
        let id = new_id()?;
        let content = self.content_path(&id);
        let content_tmp = tmp_path(&content);
        let sealed = (|| {
            let out = create_private(&content_tmp)?;
            let mut writer = BufWriter::with_capacity(256 << 10, out);
            let sealed = crypto::seal(&self.key, &mut file, &mut writer)?;
            let out = writer.into_inner().map_err(|e| e.into_error())?;
            out.sync_all()?;
            Ok::<_, std::io::Error>(sealed)
        })();
        let sealed = match sealed {
            Ok(s) => s,
            Err(e) => {
                let _ = fs::remove_file(&content_tmp);
                return Err(QuarantineError::io("copy into the vault", path)(e));
            }
        };
        let after = file.metadata().map_err(QuarantineError::io("stat", path))?;
        if sealed.size != before.len() || !same_version(&before, &after) {
            let _ = fs::remove_file(&content_tmp);
            return Err(QuarantineError::Changed {
                path: path.to_path_buf(),
            });
        }
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let record = Record {
            format: FORMAT,
            id: id.0.clone(),
            original_path: path.to_string_lossy().into_owned(),
            original_path_hex: hex::encode(path.as_os_str().as_bytes()),
            uid: before.uid(),
            gid: before.gid(),
            mode: before.mode() & 0o7777,
            mtime_secs: before.mtime(),
            mtime_nanos: before.mtime_nsec() as u32,
            ctime_secs: before.ctime(),
            ctime_nanos: before.ctime_nsec() as u32,
            dev: before.dev(),
            ino: before.ino(),
            size: sealed.size,
            sha256: hex::encode(sealed.sha256),
            threat: threat.to_string(),
            rule: rule.map(str::to_string),
            quarantined_at_ms: now_ms,
        };
        let committed = (|| {
            fs::rename(&content_tmp, &content)
                .map_err(QuarantineError::io("rename", &content_tmp))?;
            self.write_record(&record)
        })();
        if let Err(e) = committed {
            let _ = fs::remove_file(&content_tmp);
            let _ = fs::remove_file(&content);
            return Err(e);
        }
        Ok((id, before))
    }

    /// Every item in the vault, oldest first.
    pub fn list(&self) -> Result<Vec<QuarantineEntry>, QuarantineError> {
        let mut out = Vec::new();
        for entry in fs::read_dir(&self.items).map_err(QuarantineError::io("list", &self.items))? {
            let entry = entry.map_err(QuarantineError::io("list", &self.items))?;
            let name = entry.file_name();
            let Some(id) = item_id(&name, ".json") else {
                continue;
            };
            out.push(self.entry(&id)?);
        }
        out.sort_by(|a, b| {
            a.quarantined_at
                .cmp(&b.quarantined_at)
                .then_with(|| a.id.cmp(&b.id))
        });
        Ok(out)
    }

    /// One item's metadata.
    pub fn entry(&self, id: &QuarantineId) -> Result<QuarantineEntry, QuarantineError> {
        entry_of(&self.read_record(id)?, &self.record_path(id))
    }

    /// Restores an item to `to` (or its original path): content, mode, owner and mtime, then
    /// removes it from the vault. An existing file at the destination is kept unless
    /// `options.overwrite`. Returns the path restored to.
    pub fn restore(
        &self,
        id: &QuarantineId,
        to: Option<&Path>,
        options: RestoreOptions,
    ) -> Result<PathBuf, QuarantineError> {
        let record = self.read_record(id)?;
        let entry = entry_of(&record, &self.record_path(id))?;
        let dest = to.map_or_else(|| entry.original_path.clone(), Path::to_path_buf);
        if !options.overwrite && fs::symlink_metadata(&dest).is_ok() {
            return Err(QuarantineError::DestinationExists { path: dest });
        }
        let name = dest.file_name().unwrap_or(OsStr::new("restored"));
        let mut tmp_name = std::ffi::OsString::from(".");
        tmp_name.push(name);
        tmp_name.push(format!(".vigil-restore-{id}"));
        let tmp = dest.with_file_name(tmp_name);
        let written = self.decrypt_to(id, &entry, &tmp);
        if let Err(e) = written {
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
        let placed = if options.overwrite {
            fs::rename(&tmp, &dest).map_err(QuarantineError::io("rename", &tmp))
        } else {
            rename_noreplace(&tmp, &dest)
        };
        if let Err(e) = placed {
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
        sync_parent(&dest)?;
        self.delete(id)?;
        Ok(dest)
    }

    /// Removes an item from the vault for good.
    pub fn delete(&self, id: &QuarantineId) -> Result<(), QuarantineError> {
        let record = self.record_path(id);
        match fs::remove_file(&record) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(QuarantineError::UnknownId { id: id.to_string() })
            }
            Err(e) => return Err(QuarantineError::io("remove", &record)(e)),
        }
        sync_dir(&self.items)?;
        let content = self.content_path(id);
        fs::remove_file(&content).map_err(QuarantineError::io("remove", &content))?;
        sync_dir(&self.items)
    }

    fn decrypt_to(
        &self,
        id: &QuarantineId,
        entry: &QuarantineEntry,
        tmp: &Path,
    ) -> Result<(), QuarantineError> {
        let content = self.content_path(id);
        let input = File::open(&content).map_err(QuarantineError::io("open", &content))?;
        let out = create_private(tmp).map_err(QuarantineError::io("create", tmp))?;
        let mut writer = BufWriter::with_capacity(256 << 10, out);
        let opened = crypto::open(
            &self.key,
            &mut BufReader::with_capacity(256 << 10, input),
            &mut writer,
        )
        .map_err(|e| match e {
            OpenError::Io(e) => QuarantineError::io("decrypt", &content)(e),
            OpenError::Format(reason) => QuarantineError::Corrupt {
                id: id.to_string(),
                reason,
            },
        })?;
        if opened.size != entry.size || opened.sha256 != entry.sha256 {
            return Err(QuarantineError::Corrupt {
                id: id.to_string(),
                reason: "the decrypted content does not match the recorded size and sha-256".into(),
            });
        }
        let out = writer
            .into_inner()
            .map_err(|e| QuarantineError::io("write", tmp)(e.into_error()))?;
        // Owner first: chown clears setuid/setgid, which the mode then sets back. Without
        // root, only the caller's own ids can be given: the file then keeps the caller's.
        match std::os::unix::fs::fchown(&out, Some(entry.uid), Some(entry.gid)) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::EPERM) && !is_root() => {}
            Err(e) => return Err(QuarantineError::io("chown", tmp)(e)),
        }
        out.set_permissions(fs::Permissions::from_mode(entry.mode))
            .map_err(QuarantineError::io("chmod", tmp))?;
        out.set_times(fs::FileTimes::new().set_modified(entry.mtime))
            .map_err(QuarantineError::io("set mtime of", tmp))?;
        out.sync_all().map_err(QuarantineError::io("fsync", tmp))
    }

    /// Removes leftovers of interrupted operations and finishes interrupted quarantines.
    fn recover(&self) -> Result<(), QuarantineError> {
        let mut names = Vec::new();
        for entry in fs::read_dir(&self.items).map_err(QuarantineError::io("list", &self.items))? {
            names.push(
                entry
                    .map_err(QuarantineError::io("list", &self.items))?
                    .file_name(),
            );
        }
        for name in &names {
            let path = self.items.join(name);
            let lossy = name.to_string_lossy();
            if lossy.ends_with(".tmp") {
                fs::remove_file(&path).map_err(QuarantineError::io("remove leftover", &path))?;
            } else if let Some(id) = item_id(name, ".vq") {
                if !self.record_path(&id).exists() {
                    fs::remove_file(&path)
                        .map_err(QuarantineError::io("remove leftover", &path))?;
                }
            } else if let Some(id) = item_id(name, ".json") {
                let Ok(record) = self.read_record(&id) else {
                    continue;
                };
                let original = PathBuf::from(OsStr::from_bytes(
                    &hex::decode(&record.original_path_hex).unwrap_or_default(),
                ));
                if let Ok(meta) = fs::symlink_metadata(&original) {
                    let unchanged = meta.dev() == record.dev
                        && meta.ino() == record.ino
                        && meta.len() == record.size
                        && meta.mtime() == record.mtime_secs
                        && meta.mtime_nsec() as u32 == record.mtime_nanos
                        && meta.ctime() == record.ctime_secs
                        && meta.ctime_nsec() as u32 == record.ctime_nanos;
                    if unchanged {
                        fs::remove_file(&original)
                            .map_err(QuarantineError::io("remove the original", &original))?;
                        sync_parent(&original)?;
                    }
                }
            }
        }
        sync_dir(&self.items)
    }

    fn content_path(&self, id: &QuarantineId) -> PathBuf {
        self.items.join(format!("{id}.vq"))
    }

    fn record_path(&self, id: &QuarantineId) -> PathBuf {
        self.items.join(format!("{id}.json"))
    }

    fn write_record(&self, record: &Record) -> Result<(), QuarantineError> {
        let path = self.items.join(format!("{}.json", record.id));
        let tmp = tmp_path(&path);
        let text = serde_json::to_vec_pretty(record).map_err(|e| QuarantineError::Metadata {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        let write = || {
            let mut f = create_private(&tmp)?;
            f.write_all(&text)?;
            f.sync_all()?;
            fs::rename(&tmp, &path)
        };
        if let Err(e) = write() {
            let _ = fs::remove_file(&tmp);
            return Err(QuarantineError::io("write", &path)(e));
        }
        sync_dir(&self.items)
    }

    fn read_record(&self, id: &QuarantineId) -> Result<Record, QuarantineError> {
        let path = self.record_path(id);
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(QuarantineError::UnknownId { id: id.to_string() })
            }
            Err(e) => return Err(QuarantineError::io("read", &path)(e)),
        };
        let record: Record =
            serde_json::from_slice(&bytes).map_err(|e| QuarantineError::Metadata {
                path: path.clone(),
                reason: e.to_string(),
            })?;
        if record.format != FORMAT || record.id != id.0 {
            return Err(QuarantineError::Metadata {
                path,
                reason: format!(
                    "format {} id {} (expected format {FORMAT} id {id})",
                    record.format, record.id
                ),
            });
        }
        Ok(record)
    }
}

fn entry_of(record: &Record, path: &Path) -> Result<QuarantineEntry, QuarantineError> {
    let bad = |reason: &str| QuarantineError::Metadata {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    };
    let mut sha256 = [0u8; 32];
    hex::decode_to_slice(&record.sha256, &mut sha256)
        .map_err(|_| bad("sha256 is not 64 hex digits"))?;
    let original =
        hex::decode(&record.original_path_hex).map_err(|_| bad("original_path_hex is not hex"))?;
    let mtime = if record.mtime_secs >= 0 {
        UNIX_EPOCH
            + Duration::new(
                record.mtime_secs as u64,
                record.mtime_nanos.min(999_999_999),
            )
    } else {
        UNIX_EPOCH - Duration::from_secs(record.mtime_secs.unsigned_abs())
    };
    Ok(QuarantineEntry {
        id: QuarantineId(record.id.clone()),
        original_path: PathBuf::from(OsStr::from_bytes(&original)),
        uid: record.uid,
        gid: record.gid,
        mode: record.mode & 0o7777,
        mtime,
        size: record.size,
        sha256,
        threat: record.threat.clone(),
        rule: record.rule.clone(),
        quarantined_at: UNIX_EPOCH + Duration::from_millis(record.quarantined_at_ms),
    })
}

/// The id of an item file named `<id><suffix>`.
fn item_id(name: &OsStr, suffix: &str) -> Option<QuarantineId> {
    QuarantineId::parse(name.to_str()?.strip_suffix(suffix)?).ok()
}

fn new_id() -> Result<QuarantineId, QuarantineError> {
    let mut bytes = [0u8; 16];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| QuarantineError::Io {
            op: "generate an id",
            path: PathBuf::new(),
            source: std::io::Error::other("the system random generator failed"),
        })?;
    Ok(QuarantineId(hex::encode(bytes)))
}

fn tmp_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".tmp");
    PathBuf::from(name)
}

fn create_private(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

/// Same content version: size, mtime and ctime unchanged.
fn same_version(a: &fs::Metadata, b: &fs::Metadata) -> bool {
    a.len() == b.len()
        && a.mtime() == b.mtime()
        && a.mtime_nsec() == b.mtime_nsec()
        && a.ctime() == b.ctime()
        && a.ctime_nsec() == b.ctime_nsec()
}

fn load_or_create_key(path: &Path) -> Result<VaultKey, QuarantineError> {
    match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(mut f) => {
            let key = VaultKey::generate().map_err(|reason| QuarantineError::Io {
                op: "generate the key for",
                path: path.to_path_buf(),
                source: std::io::Error::other(reason),
            })?;
            let written = f.write_all(&key).and_then(|_| f.sync_all());
            if let Err(e) = written {
                let _ = fs::remove_file(path);
                return Err(QuarantineError::io("write", path)(e));
            }
            sync_parent(path)?;
            Ok(VaultKey::from_bytes(key))
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let meta = fs::metadata(path).map_err(QuarantineError::io("stat", path))?;
            let mode = meta.mode() & 0o777;
            if mode != 0o600 {
                return Err(QuarantineError::KeyPermissions {
                    path: path.to_path_buf(),
                    mode,
                });
            }
            let bytes = fs::read(path).map_err(QuarantineError::io("read", path))?;
            let key: [u8; 32] =
                bytes
                    .as_slice()
                    .try_into()
                    .map_err(|_| QuarantineError::KeyLength {
                        path: path.to_path_buf(),
                        len: bytes.len() as u64,
                    })?;
            Ok(VaultKey::from_bytes(key))
        }
        Err(e) => Err(QuarantineError::io("create", path)(e)),
    }
}

/// Renames `from` to `to`, failing if `to` exists (atomically, with renameat2 where the
/// file system has it, else through a hard link).
fn rename_noreplace(from: &Path, to: &Path) -> Result<(), QuarantineError> {
    let c = |p: &Path| {
        std::ffi::CString::new(p.as_os_str().as_bytes()).map_err(|_| QuarantineError::Io {
            op: "rename",
            path: p.to_path_buf(),
            source: std::io::Error::from(std::io::ErrorKind::InvalidInput),
        })
    };
    let (cf, ct) = (c(from)?, c(to)?);
    // SAFETY: both are valid NUL-terminated paths that outlive the call; AT_FDCWD resolves
    // relative paths as rename(2) does.
    let rc = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            cf.as_ptr(),
            libc::AT_FDCWD,
            ct.as_ptr(),
            libc::RENAME_NOREPLACE,
        )
    };
    if rc == 0 {
        return Ok(());
    }
    let err = std::io::Error::last_os_error();
    match err.raw_os_error() {
        Some(libc::EEXIST) => Err(QuarantineError::DestinationExists {
            path: to.to_path_buf(),
        }),
        Some(libc::EINVAL) | Some(libc::ENOSYS) => match fs::hard_link(from, to) {
            Ok(()) => fs::remove_file(from).map_err(QuarantineError::io("remove", from)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                Err(QuarantineError::DestinationExists {
                    path: to.to_path_buf(),
                })
            }
            Err(e) => Err(QuarantineError::io("link", to)(e)),
        },
        _ => Err(QuarantineError::io("rename", from)(err)),
    }
}

fn sync_dir(dir: &Path) -> Result<(), QuarantineError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(QuarantineError::io("fsync directory", dir))
}

fn sync_parent(path: &Path) -> Result<(), QuarantineError> {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => sync_dir(p),
        _ => sync_dir(Path::new(".")),
    }
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_finishes_a_quarantine_interrupted_before_the_original_was_removed() {
        let dir = tempfile::tempdir().unwrap();
        let original = dir.path().join("payload.sh");
        fs::write(&original, b"#!/bin/sh\necho payload\n").unwrap();
        let vault = Quarantine::open(dir.path().join("vault")).unwrap();
        // A crash right after the commit: the item exists, the original too.
        let (id, _) = vault.copy_in(&original, "Test/Interrupted", None).unwrap();
        assert!(original.exists());
        drop(vault);
        let vault = Quarantine::open(dir.path().join("vault")).unwrap();
        assert!(
            !original.exists(),
            "reopening the vault finishes the quarantine"
        );
        assert_eq!(vault.list().unwrap().len(), 1);
        assert_eq!(vault.list().unwrap()[0].id, id);
    }

    #[test]
    fn open_keeps_an_original_that_changed_after_an_interrupted_quarantine() {
        let dir = tempfile::tempdir().unwrap();
        let original = dir.path().join("notes.txt");
        fs::write(&original, b"first version").unwrap();
        let vault = Quarantine::open(dir.path().join("vault")).unwrap();
        vault.copy_in(&original, "Test/Interrupted", None).unwrap();
        drop(vault);
        fs::write(&original, b"rewritten by its owner since").unwrap();
        let _vault = Quarantine::open(dir.path().join("vault")).unwrap();
        assert_eq!(
            fs::read(&original).unwrap(),
            b"rewritten by its owner since"
        );
    }

    #[test]
    fn open_removes_leftovers_of_interrupted_operations() {
        let dir = tempfile::tempdir().unwrap();
        let vault = Quarantine::open(dir.path()).unwrap();
        let items = dir.path().join("items");
        let orphan = items.join(format!("{}.vq", "ab".repeat(16)));
        fs::write(&orphan, b"content whose metadata never landed").unwrap();
        fs::write(items.join("0123.vq.tmp"), b"half a copy").unwrap();
        drop(vault);
        Quarantine::open(dir.path()).unwrap();
        assert_eq!(fs::read_dir(&items).unwrap().count(), 0);
    }
}
