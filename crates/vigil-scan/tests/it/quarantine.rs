//! The quarantine vault: quarantine, list, restore (content, mode, owner, mtime), refusal
//! to clobber, delete, encryption at rest and bad ids.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use vigil_scan::{Quarantine, QuarantineError, QuarantineId, RestoreOptions};

use crate::common::eicar;

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Writes a sample with a distinctive mode (and owner, when root).
fn sample(path: &Path) -> (u32, u32) {
    fs::write(path, eicar()).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(0o751)).unwrap();
    if is_root() {
        std::os::unix::fs::chown(path, Some(4321), Some(8765)).unwrap();
        (4321, 8765)
    } else {
        let m = fs::metadata(path).unwrap();
        println!("not root: the owner round trip is checked with the caller's own ids");
        (m.uid(), m.gid())
    }
}

fn vault_bytes(vault: &Path) -> Vec<u8> {
    let mut all = Vec::new();
    for entry in fs::read_dir(vault.join("items")).unwrap() {
        all.extend(fs::read(entry.unwrap().path()).unwrap());
    }
    all
}

#[test]
fn quarantine_list_restore_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let original = dir.path().join("eicar.com");
    let (uid, gid) = sample(&original);
    let before = fs::metadata(&original).unwrap();
    let vault_dir = dir.path().join("vault");
    let vault = Quarantine::open(&vault_dir).unwrap();

    let id = vault
        .quarantine(
            &original,
            "Virus/EICAR_Test_File",
            Some("Vigil_EICAR_Test_File"),
        )
        .unwrap();
    assert!(!original.exists(), "the original is removed");

    let list = vault.list().unwrap();
    assert_eq!(list.len(), 1);
    let entry = &list[0];
    assert_eq!(entry.id, id);
    assert_eq!(entry.original_path, original);
    assert_eq!((entry.uid, entry.gid, entry.mode), (uid, gid, 0o751));
    assert_eq!(entry.size, eicar().len() as u64);
    use sha2::Digest;
    assert_eq!(
        entry.sha256,
        <[u8; 32]>::from(sha2::Sha256::digest(eicar()))
    );
    assert_eq!(entry.threat, "Virus/EICAR_Test_File");
    assert_eq!(entry.rule.as_deref(), Some("Vigil_EICAR_Test_File"));

    // Encrypted at rest: neither the content nor its tell-tale part is in the vault.
    let stored = vault_bytes(&vault_dir);
    let e = eicar();
    assert!(!stored.windows(e.len()).any(|w| w == e.as_slice()));
    assert!(!stored.windows(8).any(|w| w == b"STANDARD"));
    let key = vault_dir.join("key");
    assert_eq!(fs::metadata(&key).unwrap().mode() & 0o777, 0o600);
    assert_eq!(fs::metadata(&key).unwrap().len(), 32);

    let restored = vault.restore(&id, None, RestoreOptions::default()).unwrap();
    assert_eq!(restored, original);
    assert_eq!(fs::read(&original).unwrap(), eicar());
    let after = fs::metadata(&original).unwrap();
    assert_eq!(after.mode() & 0o7777, 0o751);
    assert_eq!((after.uid(), after.gid()), (uid, gid));
    assert_eq!(
        (after.mtime(), after.mtime_nsec()),
        (before.mtime(), before.mtime_nsec())
    );
    assert!(
        vault.list().unwrap().is_empty(),
        "a restored item leaves the vault"
    );
}

#[test]
fn restore_refuses_to_clobber_unless_told() {
    let dir = tempfile::tempdir().unwrap();
    let original = dir.path().join("tool.sh");
    fs::write(&original, b"#!/bin/sh\necho quarantined version\n").unwrap();
    let vault = Quarantine::open(dir.path().join("vault")).unwrap();
    let id = vault.quarantine(&original, "Test/Tool", None).unwrap();

    fs::write(&original, b"a new file the user made since").unwrap();
    match vault.restore(&id, None, RestoreOptions::default()) {
        Err(QuarantineError::DestinationExists { path }) => assert_eq!(path, original),
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(
        fs::read(&original).unwrap(),
        b"a new file the user made since"
    );
    assert_eq!(
        vault.list().unwrap().len(),
        1,
        "a refused restore keeps the item"
    );
    let leftovers: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("vigil-restore"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    vault
        .restore(&id, None, RestoreOptions { overwrite: true })
        .unwrap();
    assert_eq!(
        fs::read(&original).unwrap(),
        b"#!/bin/sh\necho quarantined version\n"
    );
}

#[test]
fn restore_to_another_path() {
    let dir = tempfile::tempdir().unwrap();
    let original = dir.path().join("a.bin");
    let content: Vec<u8> = (0..3_000_000u32).map(|i| (i % 253) as u8).collect();
    fs::write(&original, &content).unwrap();
    let vault = Quarantine::open(dir.path().join("vault")).unwrap();
    let id = vault.quarantine(&original, "Test/Big", None).unwrap();
    let elsewhere = dir.path().join("review.bin");
    assert_eq!(
        vault
            .restore(&id, Some(&elsewhere), RestoreOptions::default())
            .unwrap(),
        elsewhere
    );
    assert_eq!(fs::read(&elsewhere).unwrap(), content);
    assert!(!original.exists());
}

#[test]
fn delete_removes_the_item_for_good() {
    let dir = tempfile::tempdir().unwrap();
    let original = dir.path().join("x.sh");
    fs::write(&original, b"echo x").unwrap();
    let vault_dir = dir.path().join("vault");
    let vault = Quarantine::open(&vault_dir).unwrap();
    let id = vault.quarantine(&original, "Test/X", None).unwrap();
    vault.delete(&id).unwrap();
    assert!(vault.list().unwrap().is_empty());
    assert_eq!(fs::read_dir(vault_dir.join("items")).unwrap().count(), 0);
    assert!(matches!(
        vault.delete(&id),
        Err(QuarantineError::UnknownId { .. })
    ));
    assert!(matches!(
        vault.restore(&id, None, RestoreOptions::default()),
        Err(QuarantineError::UnknownId { .. })
    ));
}

#[test]
fn the_vault_persists_across_opens() {
    let dir = tempfile::tempdir().unwrap();
    let original = dir.path().join("p.txt");
    fs::write(&original, b"persisted").unwrap();
    let id = Quarantine::open(dir.path().join("vault"))
        .unwrap()
        .quarantine(&original, "Test/P", None)
        .unwrap();
    let vault = Quarantine::open(dir.path().join("vault")).unwrap();
    assert_eq!(vault.list().unwrap()[0].id, id);
    vault.restore(&id, None, RestoreOptions::default()).unwrap();
    assert_eq!(fs::read(&original).unwrap(), b"persisted");
}

#[test]
fn a_tampered_item_is_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let original = dir.path().join("t.txt");
    fs::write(&original, b"tamper with me").unwrap();
    let vault_dir = dir.path().join("vault");
    let vault = Quarantine::open(&vault_dir).unwrap();
    let id = vault.quarantine(&original, "Test/T", None).unwrap();
    let content = vault_dir.join("items").join(format!("{id}.vq"));
    let mut bytes = fs::read(&content).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x55;
    fs::write(&content, bytes).unwrap();
    assert!(matches!(
        vault.restore(&id, None, RestoreOptions::default()),
        Err(QuarantineError::Corrupt { .. })
    ));
    assert!(!original.exists());
    assert_eq!(
        fs::read_dir(dir.path()).unwrap().count(),
        1,
        "only the vault is left"
    );
}

#[test]
fn bad_ids_symlinks_and_loose_keys_are_refused() {
    for bad in [
        "../../etc/passwd",
        "",
        "ABCDEF0123456789ABCDEF0123456789",
        &"0".repeat(31),
    ] {
        assert!(
            matches!(
                QuarantineId::parse(bad),
                Err(QuarantineError::InvalidId { .. })
            ),
            "{bad}"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let vault = Quarantine::open(dir.path().join("vault")).unwrap();
    let target = dir.path().join("target");
    fs::write(&target, b"t").unwrap();
    let link = dir.path().join("link");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    assert!(matches!(
        vault.quarantine(&link, "Test/L", None),
        Err(QuarantineError::NotRegularFile { .. })
    ));
    assert!(link.exists() && target.exists());
    assert!(matches!(
        vault.quarantine(dir.path(), "Test/D", None),
        Err(QuarantineError::NotRegularFile { .. })
    ));
    drop(vault);

    fs::set_permissions(
        dir.path().join("vault/key"),
        fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let err = Quarantine::open(dir.path().join("vault")).unwrap_err();
    assert!(
        matches!(err, QuarantineError::KeyPermissions { mode: 0o644, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("644"), "{err}");
}
