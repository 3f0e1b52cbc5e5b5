//! Appending: visibility, dedupe, concurrency, refused input.

use std::sync::Arc;

use arrow::array::{Array, AsArray};
use vigil_schema::{Row, Table, Timestamp};
use vigil_store::{batches_to_json_rows, format_batches, AppendOutcome, IngestBatch, StoreError};

use crate::util::*;

#[test]
fn append_then_sql_sees_the_rows_with_mde_column_names() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let out = store.append(batch("dev-1", "boot-1", 0, 3, DAY0)).unwrap();
    assert_eq!(
        out,
        AppendOutcome {
            stored: 3,
            duplicates: 0
        }
    );

    let batches = sql(
        &store,
        "SELECT Timestamp, DeviceName, ActionType, ProcessCommandLine, ProcessId \
         FROM DeviceProcessEvents ORDER BY ProcessId",
    )
    .unwrap();
    let rows = batches_to_json_rows(&batches);
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0]["Timestamp"], "2026-11-24T00:00:00.000000000Z");
    assert_eq!(rows[1]["Timestamp"], "2026-11-24T00:00:00.001000000Z");
    assert_eq!(rows[2]["ProcessCommandLine"], "bash -c 'echo 2'");
    assert_eq!(rows[2]["ActionType"], "ProcessCreated");
    assert_eq!(rows[0]["ProcessId"], 0);
    let text = format_batches(&batches);
    assert!(text.contains("| ProcessCommandLine"), "{text}");
    assert!(text.contains("2026-11-24T00:00:00.002000000Z"), "{text}");

    // Every table is there, empty or not, with the MDE columns.
    assert_eq!(count(&store, "DeviceNetworkInfo"), 0);
    let b = sql(
        &store,
        "SELECT RemotePort, InitiatingProcessAccountName FROM DeviceNetworkEvents",
    )
    .unwrap();
    assert_eq!(b.iter().map(|b| b.num_rows()).sum::<usize>(), 0);
}

#[test]
fn rows_of_several_tables_in_one_batch_land_in_their_tables() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let mut rows = vec![proc_row(DAY0, 1)];
    rows.push(Row::event(
        Table::DeviceFileEvents,
        "FileCreated",
        Timestamp(DAY0),
    ));
    rows.push(Row::event(
        Table::DeviceFileEvents,
        "FileDeleted",
        Timestamp(DAY0 + 1),
    ));
    store
        .append(IngestBatch::from_rows("d", "b", 0, &rows))
        .unwrap();
    assert_eq!(count(&store, "DeviceProcessEvents"), 1);
    assert_eq!(count(&store, "DeviceFileEvents"), 2);
    assert_eq!(
        scalar(
            &store,
            "SELECT count(*) FROM DeviceFileEvents WHERE ActionType = 'FileDeleted'"
        ),
        1
    );
}

#[test]
fn a_replayed_batch_is_all_duplicates_and_an_overlapping_one_stores_only_new_rows() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    assert_eq!(
        store.append(batch("d", "b", 0, 10, DAY0)).unwrap().stored,
        10
    );
    assert_eq!(
        store.append(batch("d", "b", 0, 10, DAY0)).unwrap(),
        AppendOutcome {
            stored: 0,
            duplicates: 10
        }
    );
    // Seqs 5..15: 5 already stored, 5 new.
    assert_eq!(
        store.append(batch("d", "b", 5, 10, DAY0)).unwrap(),
        AppendOutcome {
            stored: 5,
            duplicates: 5
        }
    );
    // A gap, then a batch that straddles it: only the gap is new.
    assert_eq!(
        store.append(batch("d", "b", 20, 5, DAY0)).unwrap().stored,
        5
    );
    assert_eq!(
        store.append(batch("d", "b", 12, 13, DAY0)).unwrap(),
        AppendOutcome {
            stored: 5,
            duplicates: 8
        }
    );
    // The same seqs from another boot or device are other rows.
    assert_eq!(
        store.append(batch("d", "b2", 0, 10, DAY0)).unwrap().stored,
        10
    );
    assert_eq!(
        store.append(batch("d2", "b", 0, 10, DAY0)).unwrap().stored,
        10
    );
    assert_eq!(count(&store, "DeviceProcessEvents"), 45);
    // Each seq of (d, b) once.
    assert_eq!(
        scalar(
            &store,
            "SELECT count(DISTINCT ProcessId) FROM DeviceProcessEvents"
        ),
        25
    );
    let m = store.metrics();
    assert_eq!((m.rows_stored, m.duplicates), (45, 23));
    assert_eq!(m.hot_rows, 45);
    assert!(m.wal_bytes > 0);
}

#[test]
fn concurrent_appends_store_everything_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let threads = 6;
    let per_thread = 40u64;
    let rows = 50u64;
    let outcomes: Vec<AppendOutcome> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let store = store.clone();
                s.spawn(move || {
                    let mut out = Vec::new();
                    for i in 0..per_thread {
                        // Threads 0-2 each send their own device; threads 3-5 race them with the
                        // very same batches (an agent retrying while the first send is in flight).
                        let device = format!("dev-{}", t % 3);
                        out.push(
                            store
                                .append(batch(&device, "boot", i * rows, rows, DAY0))
                                .unwrap(),
                        );
                    }
                    out
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    let stored: usize = outcomes.iter().map(|o| o.stored).sum();
    let dups: usize = outcomes.iter().map(|o| o.duplicates).sum();
    let unique = 3 * per_thread * rows;
    assert_eq!(stored as u64, unique);
    assert_eq!(dups as u64, unique);
    assert_eq!(count(&store, "DeviceProcessEvents") as u64, unique);
    // Nothing twice: every (device, seq) once.
    assert_eq!(
        scalar(
            &store,
            "SELECT count(*) FROM (SELECT DISTINCT DeviceId, ProcessId FROM DeviceProcessEvents)"
        ) as u64,
        unique
    );
    drop(store);
    let store = open(dir.path());
    assert_eq!(count(&store, "DeviceProcessEvents") as u64, unique);
}

#[test]
fn a_row_without_timestamp_refuses_the_whole_batch() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let mut rows = batch("d", "b", 0, 3, DAY0).events.decode_rows().unwrap();
    rows.push(Row::new(Table::DeviceInfo));
    let b = IngestBatch::from_rows("d", "b", 0, &rows);
    let e = store.append(b).unwrap_err();
    assert!(matches!(e, StoreError::InvalidBatch { .. }));
    assert_eq!(
        e.to_string(),
        "batch 0 of device d boot b refused: row 3 (DeviceInfo) has no Timestamp"
    );
    assert_eq!(count(&store, "DeviceProcessEvents"), 0);
    // Nothing was reserved: the same seqs are stored when sent right.
    assert_eq!(store.append(batch("d", "b", 0, 3, DAY0)).unwrap().stored, 3);

    let mut b = batch("d", "b", 0, 3, DAY0);
    b.first_seq = u64::MAX - 1;
    let e = store.append(b).unwrap_err();
    assert!(e.to_string().contains("sequence numbers overflow"), "{e}");
    assert_eq!(
        store.append(batch("d", "b", 9, 0, DAY0)).unwrap(),
        AppendOutcome::default()
    );
}

#[test]
fn a_second_store_on_the_same_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let e = vigil_store::Store::open(vigil_store::StoreOptions::new(dir.path()))
        .err()
        .unwrap();
    assert!(matches!(e, StoreError::Locked { .. }), "{e}");
    assert!(e.to_string().contains("in use by another process"));
    drop(store);
    open(dir.path());
}

#[test]
fn store_is_send_sync_and_clone() {
    fn check<T: Send + Sync + Clone + 'static>() {}
    check::<vigil_store::Store>();
    // The server awaits queries on a multi-threaded runtime: the future must be Send.
    fn send<T: Send>(_: &T) {}
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(open(dir.path()));
    send(&store.sql("SELECT 1"));
    let b = sql(&store, "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name").unwrap();
    let names: Vec<String> = b
        .iter()
        .flat_map(|b| {
            let c = b.column(0);
            (0..c.len())
                .map(|i| c.as_string::<i32>().value(i).to_string())
                .collect::<Vec<_>>()
        })
        .collect();
    let mut want: Vec<String> = Table::ALL.iter().map(|t| t.name().to_string()).collect();
    want.sort();
    assert_eq!(names, want);
}
