//! The `kql_*` dynamic, datetime and aggregate functions through `Store::sql`: over
//! `AdditionalFields`, across several hot batches and Parquet (so aggregates run in two
//! phases over more than one partition), and with `unnest` for `mv-expand`.

use arrow::array::{Array, RecordBatch};
use arrow::util::display::array_value_to_string;
use vigil_schema::{Col, Dynamic, Row, Table, Timestamp};
use vigil_store::{IngestBatch, Store};

use crate::util::*;

/// Rows of `device` whose `AdditionalFields` hold `tag` (a string) and `tags` (an array).
fn tagged(device: &str, boot: &str, first_seq: u64, tags: &[(&str, &[&str])]) -> IngestBatch {
    let rows: Vec<Row> = tags
        .iter()
        .enumerate()
        .map(|(i, (tag, list))| {
            let ts = DAY0 + (first_seq as i64 + i as i64) * 60_000_000_000;
            let mut r = Row::event(Table::DeviceProcessEvents, "ProcessCreated", Timestamp(ts));
            r.put(Col::DeviceId, device);
            r.put(Col::DeviceName, device);
            r.put(Col::FileName, "bash");
            r.put_extra("tag", *tag);
            r.put_extra(
                "tags",
                Dynamic::Array(
                    list.iter()
                        .map(|s| Dynamic::String(s.to_string()))
                        .collect(),
                ),
            );
            r
        })
        .collect();
    IngestBatch::from_rows(device, boot, first_seq, &rows)
}

/// Every cell of a result as text, row by row (`NULL` for nulls).
fn table(store: &Store, query: &str) -> Vec<Vec<String>> {
    let batches: Vec<RecordBatch> = sql(store, query).unwrap_or_else(|e| panic!("{query}: {e}"));
    let mut rows = Vec::new();
    for b in &batches {
        for i in 0..b.num_rows() {
            rows.push(
                b.columns()
                    .iter()
                    .map(|c| {
                        if c.is_null(i) {
                            "NULL".to_string()
                        } else {
                            array_value_to_string(c, i).unwrap()
                        }
                    })
                    .collect(),
            );
        }
    }
    rows
}

/// A store with three batches of device `a` (two flushed to Parquet) and one of `b`.
fn store_with_tags(dir: &std::path::Path) -> Store {
    let store = open(dir);
    store
        .append(tagged("a", "p0", 0, &[("x", &["1", "2"]), ("y", &["2"])]))
        .unwrap();
    store
        .append(tagged("a", "p1", 0, &[("x", &[]), ("z", &["3", "1"])]))
        .unwrap();
    store.flush().unwrap();
    store
        .append(tagged("a", "h0", 10, &[("w", &["4"]), ("x", &["1"])]))
        .unwrap();
    store
        .append(tagged("b", "h1", 0, &[("v", &["9"])]))
        .unwrap();
    store
}

#[test]
fn make_set_and_make_list_over_several_batches_and_partitions() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_tags(dir.path());
    let rows = table(
        &store,
        "SELECT DeviceName, \
           kql_array_sort_asc(kql_make_set(kql_dyn_get(AdditionalFields, 'tag'))), \
           kql_array_length(kql_make_list(kql_dyn_get(AdditionalFields, 'tag'))), \
           kql_array_sort_asc(kql_make_set(kql_dyn_get(AdditionalFields, 'tags'))), \
           kql_array_length(kql_make_set_if(kql_dyn_get(AdditionalFields, 'tag'), \
             kql_dyn_to_string(kql_dyn_get(AdditionalFields, 'tag')) <> 'x')), \
           kql_bag_keys(kql_make_bag(AdditionalFields)) \
         FROM DeviceProcessEvents GROUP BY DeviceName ORDER BY DeviceName",
    );
    assert_eq!(
        rows,
        [
            [
                "a",
                r#"["w","x","y","z"]"#,
                "6",
                r#"["1","2","3","4"]"#,
                "3",
                r#"["tag","tags"]"#
            ],
            ["b", r#"["v"]"#, "1", r#"["9"]"#, "1", r#"["tag","tags"]"#],
        ]
    );
    // The aggregate ran in two phases: partial states were merged.
    let plan = table(
        &store,
        "EXPLAIN SELECT DeviceName, kql_make_set(AdditionalFields) FROM DeviceProcessEvents \
         GROUP BY DeviceName",
    );
    let plan: String = plan.iter().map(|r| r.join(" ")).collect();
    assert!(plan.contains("mode=Partial"), "{plan}");
}

#[test]
fn mv_expand_of_additional_fields_with_unnest() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_tags(dir.path());
    let rows = table(
        &store,
        "SELECT kql_dyn_to_string(t) AS t, count(*) AS n FROM \
           (SELECT unnest(kql_json_elements(kql_dyn_get(AdditionalFields, 'tags'))) AS t \
            FROM DeviceProcessEvents) \
         GROUP BY t ORDER BY t",
    );
    assert_eq!(
        rows,
        [["1", "3"], ["2", "2"], ["3", "1"], ["4", "1"], ["9", "1"]]
    );
}

#[test]
fn bins_and_calendar_parts_of_the_timestamp_column() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_tags(dir.path());
    let rows = table(
        &store,
        "SELECT kql_tostring_datetime(kql_bin_ts(Timestamp, 300000000000)) AS b, count(*) \
         FROM DeviceProcessEvents GROUP BY b ORDER BY b",
    );
    assert_eq!(
        rows,
        [["2026-11-24T00:00:00Z", "5"], ["2026-11-24T00:10:00Z", "2"]]
    );
    let rows = table(
        &store,
        "SELECT DISTINCT kql_tostring_datetime(kql_startof('week', Timestamp)), \
           kql_dayofweek(Timestamp), kql_format_datetime(Timestamp, 'yyyy-MM-dd'), \
           kql_datetime_diff('day', Timestamp, kql_todatetime('2026-11-01')) \
         FROM DeviceProcessEvents",
    );
    // 2026-11-24 is a Tuesday.
    assert_eq!(
        rows,
        [[
            "2026-11-22T00:00:00Z",
            "172800000000000",
            "2026-11-24",
            "23"
        ]]
    );
}

#[test]
fn wrong_calls_are_errors_that_name_the_function() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let e = sql(
        &store,
        "SELECT kql_dyn_get(AdditionalFields) FROM DeviceProcessEvents",
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains(
            "Error during planning: kql_dyn_get takes 2 argument(s), got 1; \
             call it as kql_dyn_get(dynamic, string|long)"
        ),
        "{e}"
    );
    let e = sql(
        &store,
        "SELECT kql_make_set(ProcessId) FROM DeviceProcessEvents",
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("kql_make_set: argument 1 is Int64, expected dynamic; call it as kql_make_set(dynamic[, long])"),
        "{e}"
    );
    let e = sql(&store, "SELECT kql_startof('fortnight', now())")
        .unwrap_err()
        .to_string();
    assert!(e.contains("kql_startof: unknown unit 'fortnight'"), "{e}");
}
