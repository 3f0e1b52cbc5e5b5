//! Queries: errors that name the problem, time filters across hot rows and Parquet, read-only.

use vigil_schema::{Col, Row, Table, Timestamp};
use vigil_store::{IngestBatch, StoreError};

use crate::util::*;

#[test]
fn bad_sql_and_an_unknown_table_give_errors_naming_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let e = sql(&store, "SELECT count(*) FROM DeviceProcessEventz").unwrap_err();
    match &e {
        StoreError::UnknownTable { name } => assert_eq!(name, "DeviceProcessEventz"),
        other => panic!("{other:?}"),
    }
    assert!(
        e.to_string()
            .starts_with("unknown table DeviceProcessEventz (the tables are DeviceProcessEvents,"),
        "{e}"
    );

    let e = sql(&store, "SELEC 1").unwrap_err();
    assert!(matches!(e, StoreError::Sql { .. }), "{e:?}");
    assert!(e.to_string().starts_with("sql error: "), "{e}");
    assert!(e.to_string().contains("SELEC"), "{e}");

    let e = sql(&store, "SELECT NoSuchColumn FROM DeviceProcessEvents").unwrap_err();
    assert!(e.to_string().contains("NoSuchColumn"), "{e}");
    // Case matters, as in MDE.
    assert!(sql(&store, "SELECT actiontype FROM DeviceProcessEvents").is_err());
    assert!(sql(&store, "SELECT COUNT(*) FROM DeviceProcessEvents").is_ok());
}

#[test]
fn queries_are_read_only() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    for q in [
        "CREATE TABLE t AS SELECT 1",
        "INSERT INTO DeviceProcessEvents SELECT * FROM DeviceProcessEvents",
        "CREATE EXTERNAL TABLE p STORED AS CSV LOCATION '/etc/passwd'",
        "COPY (SELECT 1) TO '/tmp/vigil-store-copy-test.csv'",
        "SET datafusion.execution.batch_size = 1",
        "DROP TABLE DeviceProcessEvents",
    ] {
        let e = sql(&store, q).unwrap_err();
        assert!(matches!(e, StoreError::Sql { .. }), "{q}: {e}");
    }
    assert!(!std::path::Path::new("/tmp/vigil-store-copy-test.csv").exists());
    assert_eq!(count(&store, "DeviceProcessEvents"), 0);
}

#[test]
fn a_day_filter_and_group_by_cover_hot_rows_and_parquet() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    // Days 0-2 in Parquet, day 1 again and day 3 in memory.
    for d in 0..3i64 {
        store
            .append(batch("d", &format!("p{d}"), 0, 100, DAY0 + d * DAY))
            .unwrap();
    }
    store.flush().unwrap();
    store.append(batch("d", "h1", 0, 7, DAY0 + DAY)).unwrap();
    store
        .append(batch("d", "h3", 0, 9, DAY0 + 3 * DAY))
        .unwrap();
    let day1 = |extra: &str| {
        format!(
            "SELECT {extra} FROM DeviceProcessEvents WHERE Timestamp >= '2026-11-25T00:00:00Z' \
             AND Timestamp < '2026-11-26T00:00:00Z'"
        )
    };
    assert_eq!(scalar(&store, &day1("count(*)")), 107);
    let rows = vigil_store::batches_to_json_rows(
        &sql(
            &store,
            &(day1("ActionType, count(*) AS n") + " GROUP BY ActionType"),
        )
        .unwrap(),
    );
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["ActionType"], "ProcessCreated");
    assert_eq!(rows[0]["n"], 107);
    assert_eq!(
        scalar(
            &store,
            "SELECT count(*) FROM DeviceProcessEvents WHERE Timestamp > '2026-11-26T23:00:00Z'"
        ),
        9
    );
    assert_eq!(
        scalar(
            &store,
            "SELECT count(*) FROM DeviceProcessEvents WHERE Timestamp BETWEEN '2026-11-24T00:00:00Z' AND '2026-11-24T00:00:00.009Z'"
        ),
        10
    );
    // A qualified, aliased self-join plans over one snapshot.
    assert_eq!(
        scalar(
            &store,
            "SELECT count(*) FROM DeviceProcessEvents a JOIN DeviceProcessEvents b \
             ON a.ProcessId = b.ProcessId \
             AND a.Timestamp = b.Timestamp WHERE a.Timestamp >= '2026-11-27T00:00:00Z'"
        ),
        9
    );
}

#[test]
fn a_time_filter_prunes_days_and_reaches_the_parquet_reader() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    for d in 0..3i64 {
        store
            .append(batch("d", &format!("p{d}"), 0, 100, DAY0 + d * DAY))
            .unwrap();
    }
    store.flush().unwrap();
    let plan = vigil_store::format_batches(
        &sql(
            &store,
            "EXPLAIN SELECT ActionType, count(*) FROM DeviceProcessEvents \
             WHERE Timestamp >= '2026-11-25T00:00:00Z' AND Timestamp < '2026-11-26T00:00:00Z' \
             GROUP BY ActionType",
        )
        .unwrap(),
    );
    assert!(plan.contains("day=2026-11-25"), "{plan}");
    assert!(
        !plan.contains("day=2026-11-24") && !plan.contains("day=2026-11-26"),
        "{plan}"
    );
    assert!(plan.contains("predicate="), "{plan}");
}

#[test]
fn a_device_scope_filters_every_scan_hot_and_parquet() {
    use std::collections::HashSet;
    use std::sync::Arc;
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store.append(batch("east", "p", 0, 40, DAY0)).unwrap();
    store.append(batch("west", "p", 0, 60, DAY0)).unwrap();
    store.flush().unwrap();
    store.append(batch("east", "h", 0, 5, DAY0 + DAY)).unwrap();
    store.append(batch("west", "h", 0, 6, DAY0 + DAY)).unwrap();
    let scoped = |devices: &[&str], q: &str| {
        let set: HashSet<String> = devices.iter().map(|d| d.to_string()).collect();
        let batches = runtime()
            .block_on(vigil_store::with_device_scope(
                Some(Arc::new(set)),
                store.sql(q),
            ))
            .unwrap_or_else(|e| panic!("{q}: {e}"));
        vigil_store::batches_to_json_rows(&batches)
    };
    // No column projected at all (count(*)), a column other than DeviceId, and DeviceId.
    let n = scoped(&["east"], "SELECT count(*) AS n FROM DeviceProcessEvents");
    assert_eq!(n[0]["n"], 45);
    let n = scoped(
        &["west"],
        "SELECT count(*) AS n FROM DeviceProcessEvents WHERE ProcessId < 10",
    );
    assert_eq!(n[0]["n"], 16);
    let d = scoped(
        &["east"],
        "SELECT DISTINCT DeviceId FROM DeviceProcessEvents",
    );
    assert_eq!(d.len(), 1);
    assert_eq!(d[0]["DeviceId"], "east");
    let d = scoped(&[], "SELECT count(*) AS n FROM DeviceProcessEvents");
    assert_eq!(d[0]["n"], 0);
    // A table without a DeviceId column reads as empty to a limited query.
    assert!(Table::AlertInfo.position(Col::DeviceId).is_none());
    let mut alert = Row::new(Table::AlertInfo);
    alert.put(Col::Timestamp, Timestamp(DAY0));
    alert.put(Col::AlertId, "al_1");
    store
        .append(IngestBatch::from_rows("east", "a", 0, &[alert]))
        .unwrap();
    let a = scoped(&["east"], "SELECT count(*) AS n FROM AlertInfo");
    assert_eq!(a[0]["n"], 0);
    // Unscoped, everything.
    assert_eq!(count(&store, "DeviceProcessEvents"), 111);
    assert_eq!(count(&store, "AlertInfo"), 1);
}
