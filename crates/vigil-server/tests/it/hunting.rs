//! KQL hunting goldens (`test_data/kql/`): every `ok/NNNN_name.kql` compiles to the SQL in
//! `NNNN_name.sql` and, run on the fixture rows of `fixtures.jsonl`, gives the table in
//! `NNNN_name.out`; every `err/NNNN_name.kql` is refused with the diagnostics in
//! `NNNN_name.err`. `UPDATE_EXPECT=1` rewrites the expected files (review the diff).

use std::path::{Path, PathBuf};
use std::time::Duration;

use vigil_schema::{Col, Dynamic, Row, Table, Timestamp, Value};
use vigil_server::hunt::{self, HuntError, HuntLimits};
use vigil_store::{IngestBatch, Store, StoreOptions};

/// 2026-11-24T12:00:00Z: `now()` and `ago()` in the goldens.
const NOW: i64 = 1_795_521_600_000_000_000;

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../test_data/kql")
}

fn limits() -> HuntLimits {
    HuntLimits {
        max_rows: 1000,
        timeout: Duration::from_secs(60),
        lookback: None,
    }
}

/// One fixture line (`{"$table": ..., "Column": value, ...}`) as a row.
fn fixture_row(line: &str) -> Row {
    let v: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{line}: {e}"));
    let obj = v.as_object().expect("a fixture line is an object");
    let table = Table::from_name(obj["$table"].as_str().expect("$table")).expect("known table");
    let mut row = Row::new(table);
    for (k, val) in obj {
        if k == "$table" || val.is_null() {
            continue;
        }
        let col = Col::from_name(k).unwrap_or_else(|| panic!("unknown column {k}"));
        let value: Value = match (col.ty(), val) {
            (vigil_schema::ColumnType::DateTime, serde_json::Value::String(s)) => {
                Value::DateTime(Timestamp(
                    vigil_kql::parse_datetime(s).unwrap_or_else(|| panic!("bad datetime {s}")),
                ))
            }
            (vigil_schema::ColumnType::Dynamic, other) => {
                Value::Dynamic(Dynamic::parse_json(&other.to_string()).expect("dynamic"))
            }
            (vigil_schema::ColumnType::Long, n) => Value::Long(n.as_i64().expect("long")),
            (vigil_schema::ColumnType::Int, n) => Value::Int(n.as_i64().expect("int") as i32),
            (vigil_schema::ColumnType::Bool, b) => Value::Bool(b.as_bool().expect("bool")),
            (_, serde_json::Value::String(s)) => Value::String(s.clone()),
            (_, other) => panic!("{k}: unexpected {other}"),
        };
        row.set(col, value).unwrap_or_else(|e| panic!("{k}: {e}"));
    }
    row
}

fn fixture_store(dir: &Path) -> Store {
    let store = Store::open(StoreOptions::new(dir)).expect("open store");
    let text = std::fs::read_to_string(data_dir().join("fixtures.jsonl")).expect("fixtures");
    let rows: Vec<Row> = text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with("//"))
        .map(fixture_row)
        .collect();
    // Group by device so that each batch is one device's.
    let mut devices: Vec<String> = rows
        .iter()
        .filter_map(|r| r.get_str(Col::DeviceId).map(str::to_string))
        .collect();
    devices.sort();
    devices.dedup();
    for d in &devices {
        let mine: Vec<Row> = rows
            .iter()
            .filter(|r| r.get_str(Col::DeviceId) == Some(d.as_str()))
            .cloned()
            .collect();
        store
            .append(IngestBatch::from_rows(d, "boot-1", 1, &mine))
            .expect("append fixtures");
    }
    store
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// Compare `actual` with the file at `path` (or write it with UPDATE_EXPECT=1); the
/// mismatch message, if any.
fn expect(path: &Path, actual: &str) -> Option<String> {
    if std::env::var_os("UPDATE_EXPECT").is_some() {
        std::fs::write(path, actual).expect("write expected file");
        return None;
    }
    let expected = std::fs::read_to_string(path).unwrap_or_default();
    (expected != actual).then(|| {
        format!(
            "{}:\n--- expected\n{expected}\n--- actual\n{actual}",
            path.display()
        )
    })
}

fn kql_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "kql"))
        .collect();
    v.sort();
    v
}

#[test]
fn kql_goldens_plan_and_run() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let store = fixture_store(tmp.path());
    let rt = runtime();
    let mut failures = Vec::new();
    let files = kql_files(&data_dir().join("ok"));
    assert!(files.len() >= 50, "only {} golden queries", files.len());
    for file in &files {
        let query = std::fs::read_to_string(file).expect("read query");
        match rt.block_on(hunt::hunt(&store, &query, NOW, &limits())) {
            Ok(result) => {
                failures.extend(expect(
                    &file.with_extension("sql"),
                    &format!("{}\n", result.sql),
                ));
                let mut out = vigil_store::format_batches(&result.batches);
                if result.batches.iter().all(|b| b.num_rows() == 0) {
                    let names: Vec<&str> = result.columns.iter().map(|c| c.name.as_str()).collect();
                    out = format!("(no rows) {}", names.join(", "));
                }
                failures.extend(expect(&file.with_extension("out"), &format!("{out}\n")));
            }
            Err(HuntError::Invalid(diags)) => {
                let rendered: Vec<String> = diags.iter().map(|d| d.render(&query)).collect();
                failures.push(format!(
                    "{}: refused:\n{}",
                    file.display(),
                    rendered.join("\n")
                ));
            }
            Err(e) => failures.push(format!("{}: {e}", file.display())),
        }
    }
    assert!(
        failures.is_empty(),
        "{} golden(s) differ:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[test]
fn kql_error_goldens() {
    let mut failures = Vec::new();
    for file in kql_files(&data_dir().join("err")) {
        let query = std::fs::read_to_string(&file).expect("read query");
        match hunt::compile(&query, NOW, &limits()) {
            Ok(c) => failures.push(format!("{}: compiled to {}", file.display(), c.sql)),
            Err(HuntError::Invalid(diags)) => {
                let rendered: Vec<String> = diags.iter().map(|d| d.render(&query)).collect();
                failures.extend(expect(
                    &file.with_extension("err"),
                    &format!("{}\n", rendered.join("\n")),
                ));
            }
            Err(e) => failures.push(format!("{}: {e}", file.display())),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Corpus queries that read only Device* tables and need neither externaldata nor FileProfile
/// (line number, query); empty, with the reason printed, when the corpus is absent.
fn device_corpus() -> Vec<(usize, String)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/corpora/kql/microsoft-hunting-queries.jsonl");
    let Ok(text) = std::fs::read_to_string(&path) else {
        println!("skipped: corpus not found at {}", path.display());
        return Vec::new();
    };
    // Tables outside the Device* family (mail, identity, cloud apps).
    const OTHERS: &[&str] = &[
        "Email",
        "Identity",
        "CloudAppEvents",
        "AADSignIn",
        "AADSpn",
        "UrlClickEvents",
        "BehaviorInfo",
        "BehaviorEntities",
        "ExposureGraph",
        "AppFileEvents",
    ];
    text.lines()
        .enumerate()
        .filter_map(|(i, l)| {
            let v: serde_json::Value = serde_json::from_str(l).ok()?;
            let q = v["query"].as_str()?.to_string();
            let others = q
                .split(|c: char| !(c.is_alphanumeric() || c == '_'))
                .any(|w| OTHERS.iter().any(|o| w.starts_with(o)));
            let device = v["uses_device_tables"].as_bool() == Some(true);
            (device && !others && !q.contains("externaldata") && !q.contains("FileProfile"))
                .then_some((i + 1, q))
        })
        .collect()
}

/// Conformance: the corpus's Device* queries plan and run against the store (empty results
/// are fine); at least 85% must.
#[test]
fn corpus_device_queries_run_against_the_store() {
    let queries = device_corpus();
    if queries.is_empty() {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let store = fixture_store(tmp.path());
    let rt = runtime();
    let mut ran = 0;
    let mut failures = Vec::new();
    for (line, q) in &queries {
        match rt.block_on(hunt::hunt(&store, q, NOW, &limits())) {
            Ok(_) => ran += 1,
            Err(HuntError::Invalid(d)) => {
                let kind = if d
                    .iter()
                    .all(|d| d.kind == vigil_kql::DiagKind::NotSupported)
                {
                    "unsupported"
                } else {
                    "error"
                };
                failures.push(format!("line {line} [{kind}]: {}", d[0].render(q)));
            }
            Err(e) => failures.push(format!("line {line} [run]: {e}")),
        }
    }
    for f in &failures {
        println!("{f}");
    }
    let rate = ran as f64 / queries.len() as f64;
    println!(
        "ran {ran}/{} Device* corpus queries ({:.1}%)",
        queries.len(),
        rate * 100.0
    );
    assert!(rate >= 0.85, "only {:.1}% ran", rate * 100.0);
}
