//! Restarts: WAL replay, flushed data, torn tails, leftovers of interrupted work, a full disk.

use std::fs;

use vigil_store::{AppendOutcome, Store, StoreError, StoreOptions};

use crate::util::*;

#[test]
fn reopen_after_drop_replays_the_wal_and_keeps_every_row_once() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open(dir.path());
        for i in 0..5 {
            store.append(batch("d", "b", i * 100, 100, DAY0)).unwrap();
        }
        // A duplicate on top, which must not come back twice from the log either.
        store.append(batch("d", "b", 50, 100, DAY0)).unwrap();
    }
    let store = open(dir.path());
    assert_eq!(count(&store, "DeviceProcessEvents"), 500);
    // The replayed ranges still dedupe.
    assert_eq!(
        store.append(batch("d", "b", 450, 100, DAY0)).unwrap(),
        AppendOutcome {
            stored: 50,
            duplicates: 50
        }
    );
    drop(store);
    let store = open(dir.path());
    assert_eq!(count(&store, "DeviceProcessEvents"), 550);
    assert!(
        store.maintenance_due(),
        "replayed segments wait for a flush"
    );
}

#[test]
fn reopen_after_flush_keeps_rows_once_and_dedupe_ranges_survive() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open(dir.path());
        store.append(batch("d", "b", 0, 300, DAY0)).unwrap();
        store.append(batch("d", "b", 300, 300, DAY0 + DAY)).unwrap();
        store.flush().unwrap();
        assert!(
            segments(dir.path()).is_empty(),
            "flushed segments are deleted"
        );
        assert_eq!(count(&store, "DeviceProcessEvents"), 600);
        let m = store.metrics();
        assert_eq!(m.hot_rows, 0);
        assert_eq!(m.tables[0].parquet_rows, 600);
        assert!(m.table_bytes[0].1 > 0 && m.last_flush.is_some());
        // Rows after the flush stay in the WAL only.
        store.append(batch("d", "b", 600, 50, DAY0)).unwrap();
    }
    assert_eq!(parquet_files(dir.path()).len(), 2, "one file per day");
    let store = open(dir.path());
    assert_eq!(count(&store, "DeviceProcessEvents"), 650);
    // Seqs in Parquet and seqs in the replayed WAL are both known.
    assert_eq!(
        store.append(batch("d", "b", 0, 700, DAY0)).unwrap(),
        AppendOutcome {
            stored: 50,
            duplicates: 650
        }
    );
    store.flush().unwrap();
    drop(store);
    let store = open(dir.path());
    assert_eq!(count(&store, "DeviceProcessEvents"), 700);
    assert_eq!(
        store.append(batch("d", "b", 0, 700, DAY0)).unwrap().stored,
        0
    );
}

#[test]
fn a_wal_with_a_torn_tail_opens_and_keeps_the_complete_records() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open(dir.path());
        for i in 0..4 {
            store.append(batch("d", "b", i * 10, 10, DAY0)).unwrap();
        }
    }
    let segs = segments(dir.path());
    assert_eq!(segs.len(), 1);
    let len = fs::metadata(&segs[0]).unwrap().len();
    // A crash in the middle of writing the last record.
    fs::OpenOptions::new()
        .write(true)
        .open(&segs[0])
        .unwrap()
        .set_len(len - 7)
        .unwrap();
    let store = open(dir.path());
    assert_eq!(count(&store, "DeviceProcessEvents"), 30);
    // The cut record is gone entirely: a resend of it is stored, not refused as a duplicate.
    assert_eq!(
        store.append(batch("d", "b", 30, 10, DAY0)).unwrap().stored,
        10
    );
    drop(store);

    // Garbage appended to a segment (a torn header) is cut off too.
    let segs = segments(dir.path());
    let last = segs.last().unwrap();
    let mut bytes = fs::read(last).unwrap();
    bytes.extend_from_slice(b"VGWL\x05");
    fs::write(last, &bytes).unwrap();
    let store = open(dir.path());
    assert_eq!(count(&store, "DeviceProcessEvents"), 40);
}

#[test]
fn a_parquet_file_the_manifest_does_not_list_is_ignored_and_removed() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open(dir.path());
        store.append(batch("d", "b", 0, 100, DAY0)).unwrap();
        store.flush().unwrap();
    }
    // A crash after a flush or compaction wrote its file but before the manifest named it.
    let files = parquet_files(dir.path());
    let stray = files[0].with_file_name("f999999999999.parquet");
    fs::copy(&files[0], &stray).unwrap();
    fs::write(
        files[0].with_file_name("f000000000777.parquet.tmp"),
        b"partial",
    )
    .unwrap();
    let store = open(dir.path());
    assert_eq!(count(&store, "DeviceProcessEvents"), 100);
    assert!(!stray.exists());
    assert_eq!(parquet_files(dir.path()), files);
}

#[test]
fn a_missing_state_file_with_parquet_files_is_an_error_not_an_empty_store() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open(dir.path());
        store.append(batch("d", "b", 0, 10, DAY0)).unwrap();
        store.flush().unwrap();
    }
    fs::remove_file(dir.path().join("state.json")).unwrap();
    let e = Store::open(StoreOptions::new(dir.path())).err().unwrap();
    assert!(matches!(e, StoreError::CorruptState { .. }), "{e}");
    assert!(
        e.to_string().contains("missing but parquet files exist"),
        "{e}"
    );
    assert_eq!(parquet_files(dir.path()).len(), 1, "nothing deleted");
}

const CHILD: &str = "VIGIL_STORE_DISK_FULL_CHILD";

/// A full disk during append: the batch is refused, nothing of it is visible, and once there
/// is room again the same batch is stored (it was not half-reserved) exactly once.
///
/// The disk is "full" through RLIMIT_FSIZE, which is per process, so the scenario runs in a
/// child copy of this test binary.
#[test]
fn a_full_disk_refuses_the_batch_and_leaves_the_store_consistent() {
    if std::env::var_os(CHILD).is_some() {
        return full_disk_child();
    }
    let exe = std::env::current_exe().unwrap();
    let out = std::process::Command::new(exe)
        .args([
            "--exact",
            "durability::a_full_disk_refuses_the_batch_and_leaves_the_store_consistent",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, "1")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "child failed:\n{text}");
    assert!(
        text.contains("1 passed"),
        "the child did not run the scenario:\n{text}"
    );
}

fn set_file_size_limit(bytes: u64) {
    let lim = libc::rlimit {
        rlim_cur: bytes as libc::rlim_t,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: plain system calls with a valid pointer to a local struct; SIGXFSZ is ignored so
    // that writing past the limit fails with EFBIG instead of killing the process.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
        assert_eq!(libc::setrlimit(libc::RLIMIT_FSIZE, &lim), 0);
    }
}

fn full_disk_child() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store.append(batch("d", "b", 0, 10, DAY0)).unwrap();
    let wal_len = fs::metadata(&segments(dir.path())[0]).unwrap().len();
    // Room for a little more than what is there: the next big batch cannot fit.
    set_file_size_limit(wal_len + 100);
    let e = store.append(batch("d", "b", 10, 200, DAY0)).unwrap_err();
    assert!(matches!(e, StoreError::Io { .. }), "{e}");
    assert!(e.to_string().contains("cannot write to"), "{e}");
    assert_eq!(count(&store, "DeviceProcessEvents"), 10);
    assert_eq!(
        fs::metadata(&segments(dir.path())[0]).unwrap().len(),
        wal_len,
        "partial write cut off"
    );
    // A flush cannot write Parquet past the limit either; it fails and loses nothing.
    set_file_size_limit(1000);
    assert!(store.flush().is_err());
    assert_eq!(count(&store, "DeviceProcessEvents"), 10);
    // Room again: the refused batch is stored, once.
    set_file_size_limit(u64::MAX);
    assert_eq!(
        store.append(batch("d", "b", 10, 200, DAY0)).unwrap(),
        AppendOutcome {
            stored: 200,
            duplicates: 0
        }
    );
    store.flush().unwrap();
    drop(store);
    let store = open(dir.path());
    assert_eq!(count(&store, "DeviceProcessEvents"), 210);
    assert_eq!(
        store.append(batch("d", "b", 0, 210, DAY0)).unwrap().stored,
        0
    );
}
