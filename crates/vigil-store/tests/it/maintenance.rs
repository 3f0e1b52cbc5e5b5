//! Flush triggers, compaction and retention.

use std::time::Duration;

use arrow::array::AsArray;
use arrow::datatypes::Int64Type;
use vigil_schema::Timestamp;
use vigil_store::{Store, StoreOptions};

use crate::util::*;

#[test]
fn maintenance_is_due_by_size_and_by_age() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = StoreOptions::new(dir.path());
    opts.hot_max_rows = 100;
    opts.hot_max_age = Duration::from_secs(3600);
    let store = Store::open(opts).unwrap();
    assert!(!store.maintenance_due());
    store.append(batch("d", "b", 0, 99, DAY0)).unwrap();
    assert!(!store.maintenance_due());
    store.append(batch("d", "b", 99, 1, DAY0)).unwrap();
    assert!(store.maintenance_due());
    store.flush().unwrap();
    assert!(!store.maintenance_due());
    drop(store);

    let mut opts = StoreOptions::new(dir.path());
    opts.hot_max_age = Duration::from_millis(50);
    let store = Store::open(opts).unwrap();
    store.append(batch("d", "b", 100, 1, DAY0)).unwrap();
    std::thread::sleep(Duration::from_millis(80));
    assert!(store.maintenance_due());
    assert!(store.metrics().ingest_lag >= Duration::from_millis(50));
    store.flush().unwrap();
    assert_eq!(store.metrics().ingest_lag, Duration::ZERO);
}

#[test]
fn ingest_past_the_memory_bound_flushes_itself_and_keeps_memory_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = StoreOptions::new(dir.path());
    opts.hot_max_bytes = 64 << 10;
    opts.hot_max_age = Duration::from_secs(3600);
    let store = Store::open(opts).unwrap();
    assert!(parquet_files(dir.path()).is_empty());
    // No flush is called and no maintenance runs: appends past twice the bound flush inline.
    for k in 0..40u64 {
        store.append(batch("d", "b", k * 100, 100, DAY0)).unwrap();
        let hot: usize = store.metrics().tables.iter().map(|t| t.hot_rows).sum();
        assert!(
            hot <= 1000,
            "hot rows stay bounded, found {hot} after batch {k}"
        );
    }
    assert!(
        !parquet_files(dir.path()).is_empty(),
        "the bound forced flushes"
    );
    assert_eq!(count(&store, "DeviceProcessEvents"), 4000);
    drop(store);
    // Everything is there after a restart too, once each.
    let store = open(dir.path());
    assert_eq!(
        scalar(
            &store,
            "SELECT COUNT(DISTINCT ProcessId) FROM DeviceProcessEvents"
        ),
        4000
    );
}

#[test]
fn compaction_merges_small_files_and_keeps_the_row_count() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    // Five flushes into the same day, with interleaved timestamps, plus one other day.
    for i in 0..5u64 {
        store
            .append(batch("d", &format!("b{i}"), 0, 1000, DAY0 + i as i64))
            .unwrap();
        store.flush().unwrap();
    }
    store
        .append(batch("d", "other", 0, 10, DAY0 + 3 * DAY))
        .unwrap();
    store.flush().unwrap();
    assert_eq!(parquet_files(dir.path()).len(), 6);
    let before = count(&store, "DeviceProcessEvents");
    let min_before = sql(
        &store,
        "SELECT min(Timestamp), max(Timestamp) FROM DeviceProcessEvents",
    )
    .unwrap();

    let report = store.compact().unwrap();
    assert_eq!(
        (report.partitions, report.files_merged, report.rows),
        (1, 5, 5000)
    );
    assert_eq!(parquet_files(dir.path()).len(), 2);
    assert_eq!(count(&store, "DeviceProcessEvents"), before);
    assert_eq!(before, 5010);
    let min_after = sql(
        &store,
        "SELECT min(Timestamp), max(Timestamp) FROM DeviceProcessEvents",
    )
    .unwrap();
    assert_eq!(format_eq(&min_before), format_eq(&min_after));
    // Nothing left to merge; the result survives a restart.
    assert_eq!(store.compact().unwrap().partitions, 0);
    drop(store);
    let store = open(dir.path());
    assert_eq!(count(&store, "DeviceProcessEvents"), 5010);
    assert_eq!(parquet_files(dir.path()).len(), 2);
    // The merged file is sorted: a narrow time filter finds exactly its rows.
    assert_eq!(
        scalar(
            &store,
            &format!(
                "SELECT count(*) FROM DeviceProcessEvents WHERE Timestamp >= to_timestamp_nanos({}) \
                 AND Timestamp < to_timestamp_nanos({})",
                DAY0,
                DAY0 + 10_000_000
            )
        ),
        // ts = DAY0 + i + seq ms for seq < 10 and each of the 5 boots.
        50
    );
}

fn format_eq(b: &[arrow::array::RecordBatch]) -> String {
    vigil_store::format_batches(b)
}

#[test]
fn retention_removes_old_days_only() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = StoreOptions::new(dir.path());
    opts.retention_days = 2;
    let store = Store::open(opts).unwrap();
    for d in 0..5i64 {
        store
            .append(batch("d", &format!("b{d}"), 0, 10, DAY0 + d * DAY))
            .unwrap();
    }
    store.flush().unwrap();
    assert_eq!(parquet_files(dir.path()).len(), 5);
    // "Now" is day 4: days 2, 3 and 4 stay; days 0 and 1 go.
    let now = Timestamp(DAY0 + 4 * DAY + 3_600_000_000_000);
    assert_eq!(store.apply_retention(now).unwrap(), 2);
    assert_eq!(count(&store, "DeviceProcessEvents"), 30);
    assert_eq!(parquet_files(dir.path()).len(), 3);
    assert!(!dir
        .path()
        .join("tables/DeviceProcessEvents/day=2026-11-24")
        .exists());
    assert!(dir
        .path()
        .join("tables/DeviceProcessEvents/day=2026-11-26")
        .exists());
    assert_eq!(store.apply_retention(now).unwrap(), 0);
    // Shortened while open (the console's retention setting): day 2 goes too.
    assert_eq!(store.retention_days(), 2);
    store.set_retention_days(1);
    assert_eq!(store.apply_retention(now).unwrap(), 1);
    assert_eq!(count(&store, "DeviceProcessEvents"), 20);
    drop(store);
    let store = open(dir.path());
    assert_eq!(count(&store, "DeviceProcessEvents"), 20);

    // Zero keeps everything.
    let dir = tempfile::tempdir().unwrap();
    let mut opts = StoreOptions::new(dir.path());
    opts.retention_days = 0;
    let store = Store::open(opts).unwrap();
    store.append(batch("d", "b", 0, 10, 0)).unwrap();
    store.flush().unwrap();
    assert_eq!(store.apply_retention(Timestamp::now()).unwrap(), 0);
    assert_eq!(count(&store, "DeviceProcessEvents"), 10);
}

#[test]
fn a_query_running_during_compaction_still_reads_its_files() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    // Timestamps are unique over all batches (boot i is shifted by i µs).
    let send = |i: u64| {
        store
            .append(batch("d", &format!("b{i}"), 0, 500, DAY0 + i as i64 * 1000))
            .unwrap()
    };
    for i in 0..4u64 {
        send(i);
        store.flush().unwrap();
    }
    // Compact, flush and query at the same time: every query sees whole batches, each once.
    std::thread::scope(|s| {
        let q = s.spawn(|| {
            for _ in 0..20 {
                let b = sql(
                    &store,
                    "SELECT count(*), count(DISTINCT Timestamp) FROM DeviceProcessEvents",
                )
                .unwrap();
                let all = b[0].column(0).as_primitive::<Int64Type>().value(0);
                let distinct = b[0].column(1).as_primitive::<Int64Type>().value(0);
                assert_eq!(all, distinct, "a row seen twice");
                assert!((2000..=4000).contains(&all) && all % 500 == 0, "{all}");
            }
        });
        for i in 4..8u64 {
            send(i);
            store.flush().unwrap();
            store.compact().unwrap();
        }
        q.join().unwrap();
    });
    assert_eq!(count(&store, "DeviceProcessEvents"), 4000);
}
