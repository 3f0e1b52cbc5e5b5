//! KQL string functions (`kql_*`) through SQL: literals, a column of stored rows (hot and
//! Parquet), nulls, and the errors for a bad call or a bad regex.

use serde_json::{json, Value as Json};
use vigil_store::{Store, StoreError};

use crate::util::*;

/// The single value of a one-row, one-column query, as JSON.
fn value(store: &Store, query: &str) -> Json {
    let batches = sql(store, query).unwrap_or_else(|e| panic!("{query}: {e}"));
    let rows = vigil_store::batches_to_json_rows(&batches);
    assert_eq!(rows.len(), 1, "{query} returned {rows:?}");
    rows[0].values().next().cloned().unwrap_or(Json::Null)
}

#[test]
fn functions_on_literals() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let cases: &[(&str, Json)] = &[
        ("kql_has('foo bar', 'bar')", json!(true)),
        ("kql_has('foo barn', 'bar')", json!(false)),
        ("kql_has('a.CURL|b', 'curl')", json!(true)),
        ("kql_has_cs('a.CURL|b', 'curl')", json!(false)),
        ("kql_hasprefix('xcurl', 'curl')", json!(false)),
        ("kql_hassuffix('xcurl', 'curl')", json!(true)),
        ("kql_has_any('curl -s x', 'wget', 'curl')", json!(true)),
        ("kql_has_all('curl -s x', 'wget', 'curl')", json!(false)),
        ("kql_contains('PowerShell', 'SHELL')", json!(true)),
        ("kql_startswith('PowerShell', 'power')", json!(true)),
        ("kql_endswith('PowerShell', 'power')", json!(false)),
        ("kql_eq_ci('ABC', 'abc')", json!(true)),
        ("kql_in_ci('CMD.EXE', 'cmd.exe', 'pwsh.exe')", json!(true)),
        ("kql_matches('abc123', '[0-9]{3}$')", json!(true)),
        ("kql_extract('id=([0-9]+)', 1, 'x id=42')", json!("42")),
        (
            "kql_extract_all('[0-9]+', 'a1b22')",
            json!("[\"1\",\"22\"]"),
        ),
        (
            "kql_replace_regex('a1b22', '([0-9]+)', '<\\1>')",
            json!("a<1>b<22>"),
        ),
        ("kql_trim('-+', '--x--')", json!("x")),
        ("kql_substring('123456', 2, 2)", json!("34")),
        ("kql_substring('123456', 4)", json!("56")),
        ("kql_split('a,b,c', ',')", json!("[\"a\",\"b\",\"c\"]")),
        ("kql_split('a,b,c', ',', 1)", json!("[\"b\"]")),
        ("kql_indexof('abcdef', 'cd')", json!(2)),
        ("kql_countof('aaaa', 'aa')", json!(3)),
        ("kql_reverse('abc')", json!("cba")),
        ("kql_strrep('ab', 2, '-')", json!("ab-ab")),
        ("kql_base64_encode('Kusto1')", json!("S3VzdG8x")),
        ("kql_base64_decode('S3VzdG8x')", json!("Kusto1")),
        ("kql_base64_decode('%%%')", Json::Null),
        ("kql_url_decode('a%20b')", json!("a b")),
        (
            "kql_hash_md5('abc')",
            json!("900150983cd24fb0d6963f7d28e17f72"),
        ),
        ("kql_hash('World', 100)", json!(51)),
        ("kql_ipv4_is_private('10.0.0.1')", json!(true)),
        (
            "kql_ipv4_is_in_range('10.1.2.3', '10.1.0.0/16')",
            json!(true),
        ),
        ("kql_ipv4_compare('10.0.0.1', '10.0.0.2')", json!(-1)),
        ("kql_parse_ipv4('127.0.0.1')", json!(2130706433)),
        ("kql_ipv4_is_private('nonsense')", Json::Null),
        (
            "kql_parse_command_line('a.exe \"b c\" d', 'windows')",
            json!("[\"a.exe\",\"b c\",\"d\"]"),
        ),
        // A null string reads as "".
        ("kql_has(NULL, '')", json!(true)),
        ("kql_reverse(CAST(NULL AS VARCHAR))", json!("")),
    ];
    for (expr, want) in cases {
        assert_eq!(&value(&store, &format!("SELECT {expr}")), want, "{expr}");
    }
    let url = value(
        &store,
        "SELECT kql_parse_url('https://u:p@h:8443/a/b?x=1#f')",
    );
    let url: Json = serde_json::from_str(url.as_str().unwrap()).unwrap();
    assert_eq!(url["Host"], "h");
    assert_eq!(url["Query Parameters"]["x"], "1");
    let path = value(&store, "SELECT kql_parse_path('C:\\Windows\\x.exe')");
    let path: Json = serde_json::from_str(path.as_str().unwrap()).unwrap();
    assert_eq!(path["Filename"], "x.exe");
    assert_eq!(path["DirectoryName"], "Windows");
}

#[test]
fn functions_over_a_column_of_hot_and_parquet_rows() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    // Command lines "bash -c 'echo {i}'" for i in 0..100, half in Parquet, half in memory.
    store.append(batch("d", "b", 0, 50, DAY0)).unwrap();
    store.flush().unwrap();
    store.append(batch("d", "b", 50, 50, DAY0)).unwrap();
    let n = |cond: &str| {
        scalar(
            &store,
            &format!("SELECT count(*) FROM DeviceProcessEvents WHERE {cond}"),
        )
    };
    assert_eq!(n("kql_has(ProcessCommandLine, 'ECHO')"), 100);
    assert_eq!(n("kql_has_cs(ProcessCommandLine, 'ECHO')"), 0);
    // "7" is a term only in "echo 7"; "echo 17" and "echo 70" don't count.
    assert_eq!(n("kql_has(ProcessCommandLine, '7')"), 1);
    assert_eq!(n("kql_contains(ProcessCommandLine, '7')"), 19);
    assert_eq!(n("kql_hasprefix(ProcessCommandLine, '7')"), 11);
    assert_eq!(n("kql_has_any(ProcessCommandLine, '7', '8', 'nope')"), 2);
    assert_eq!(n("kql_matches(ProcessCommandLine, 'echo [0-9]''$')"), 10);
    assert_eq!(
        n("kql_extract('echo ([0-9]+)', 1, ProcessCommandLine) = CAST(ProcessId AS VARCHAR)"),
        100
    );
    // The needle from a column too.
    assert_eq!(
        n("kql_has(ProcessCommandLine, CAST(ProcessId AS VARCHAR))"),
        100
    );
}

#[test]
fn a_wrong_call_is_a_plan_error_naming_the_function() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    for (q, want) in [
        ("SELECT kql_has('a')", "kql_has expects (string, string)"),
        (
            "SELECT kql_has('a', 'b', 'c')",
            "kql_has expects (string, string)",
        ),
        (
            "SELECT kql_substring('abc', 'x')",
            "kql_substring expects (string, long[, long])",
        ),
        (
            "SELECT kql_has_any('a')",
            "kql_has_any expects (string, string, [string, ...])",
        ),
    ] {
        let e = sql(&store, q).unwrap_err();
        assert!(matches!(e, StoreError::Sql { .. }), "{q}: {e:?}");
        assert!(e.to_string().contains(want), "{q}: {e}");
    }
}

#[test]
fn a_bad_regex_is_an_error_naming_the_pattern() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store.append(batch("d", "b", 0, 3, DAY0)).unwrap();
    let e = sql(
        &store,
        "SELECT count(*) FROM DeviceProcessEvents WHERE kql_matches(ProcessCommandLine, 'a(b')",
    )
    .unwrap_err();
    assert!(
        e.to_string().contains("kql_matches: invalid regex 'a(b': "),
        "{e}"
    );
    let e = sql(&store, "SELECT kql_parse_command_line('ls -l', 'linux')").unwrap_err();
    assert!(
        e.to_string()
            .contains("parse_command_line supports only \"windows\""),
        "{e}"
    );
}
