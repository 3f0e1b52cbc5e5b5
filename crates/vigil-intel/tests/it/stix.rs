//! STIX 2.1 import: shapes, indicator properties, versions, skips and errors.

use vigil_intel::import::Format;
use vigil_intel::{Action, Severity};

use crate::{fails, ok, pairs, values, NOW_MS};

const SHA256: &str = "ef537f25c895bfa782526529a9b63d97aa631564d5d789c2b765448c8635fb6c";

fn indicator(id: &str, pattern: &str, extra: &str) -> String {
    format!(
        r#"{{"type": "indicator", "spec_version": "2.1", "id": "indicator--{id}",
            "created": "2020-01-01T00:00:00Z", "modified": "2020-01-01T00:00:00Z",
            "pattern": {}, "pattern_type": "stix", "valid_from": "2020-01-02T00:00:00Z"{extra}}}"#,
        serde_json::to_string(pattern).unwrap()
    )
}

fn bundle(objects: &[String]) -> String {
    format!(
        r#"{{"type": "bundle", "id": "bundle--1", "objects": [{}]}}"#,
        objects.join(",")
    )
}

#[test]
fn indicator_properties_become_indicator_fields() {
    let ind = indicator(
        "a",
        &format!(
            "[file:hashes.'SHA-256' = '{}' AND file:name = 'x.exe']",
            SHA256.to_uppercase()
        ),
        r#", "name": "Bad file", "description": "seen in phishing",
            "labels": ["apt", "dropper"], "indicator_types": ["malicious-activity", "apt"],
            "valid_until": "2030-01-01T00:00:00Z""#,
    );
    let imp = ok(Format::Stix, &bundle(&[ind]));
    assert_eq!(values(&imp), pairs(&[("sha256", SHA256)]));
    let i = &imp.indicators[0];
    assert_eq!(i.title, "Bad file");
    assert_eq!(i.description, "seen in phishing");
    assert_eq!(i.expires_ms, Some(1_893_456_000_000));
    assert_eq!(i.provenance.reference, "indicator--a");
    assert_eq!(i.provenance.source, "test");
    assert_eq!(i.provenance.first_seen_ms, Some(1_577_923_200_000));
    assert_eq!(
        i.provenance.labels,
        ["apt", "dropper", "malicious-activity"]
    );
    // Options fill the rest.
    assert_eq!(
        (i.action, i.severity, i.generate_alert),
        (Action::Audit, Severity::Medium, true)
    );
}

#[test]
fn single_object_array_and_bundle_shapes() {
    let one = indicator("a", "[domain-name:value = 'evil.example']", "");
    assert_eq!(
        values(&ok(Format::Stix, &one)),
        pairs(&[("domain", "evil.example")])
    );
    let arr = format!(
        "[{one}, {}]",
        indicator("b", "[url:value = 'HTTP://Evil.Example/x']", "")
    );
    assert_eq!(
        values(&ok(Format::Stix, &arr)),
        pairs(&[("domain", "evil.example"), ("url", "http://evil.example/x")])
    );
    assert_eq!(
        ok(Format::Stix, r#"{"type": "bundle", "id": "bundle--e"}"#)
            .indicators
            .len(),
        0
    );
}

#[test]
fn or_in_and_between_observations_gives_one_indicator_per_value() {
    let ind = indicator(
        "a",
        "[ipv4-addr:value = '198.51.100.7' OR ipv6-addr:value = '2001:DB8::1'] OR \
         [ipv4-addr:value ISSUBSET '203.0.113.0/24'] OR [domain-name:value IN ('a.example', 'b.example')] \
         OR [email-addr:value = 'x@example.com']",
        "",
    );
    let imp = ok(Format::Stix, &bundle(&[ind]));
    assert_eq!(
        values(&imp),
        pairs(&[
            ("ip", "198.51.100.7"),
            ("ip", "2001:db8::1"),
            ("cidr", "203.0.113.0/24"),
            ("domain", "a.example"),
            ("domain", "b.example"),
        ])
    );
    assert!(imp.skipped.is_empty());
}

#[test]
fn skipped_indicators_say_why_and_other_objects_are_not_counted() {
    let objects = vec![
        r#"{"type": "malware", "id": "malware--1", "name": "x", "is_family": true}"#.to_string(),
        r#"{"type": "relationship", "id": "relationship--1", "relationship_type": "indicates"}"#
            .to_string(),
        indicator("yara", "rule x { condition: true }", "")
            .replace(r#""pattern_type": "stix""#, r#""pattern_type": "yara""#),
        indicator(
            "revoked",
            "[domain-name:value = 'r.example']",
            r#", "revoked": true"#,
        ),
        indicator(
            "expired",
            "[domain-name:value = 'e.example']",
            r#", "valid_until": "2021-01-01T00:00:00Z""#,
        ),
        indicator(
            "seq",
            "[domain-name:value = 's.example'] FOLLOWEDBY [url:value = 'http://s.example/']",
            "",
        ),
        indicator("mail", "[email-message:subject MATCHES '^Invoice']", ""),
        indicator("ok", "[domain-name:value = 'ok.example']", ""),
    ];
    let imp = ok(Format::Stix, &bundle(&objects));
    assert_eq!(values(&imp), pairs(&[("domain", "ok.example")]));
    let reasons: Vec<(&str, &str)> = imp
        .skipped
        .iter()
        .map(|s| (s.record.as_str(), s.reason.as_str()))
        .collect();
    assert_eq!(reasons.len(), 5, "{reasons:#?}");
    assert_eq!(reasons[0].0, "object indicator--yara");
    assert!(reasons[0].1.contains("pattern_type yara"));
    assert_eq!(reasons[1], ("object indicator--revoked", "revoked"));
    assert_eq!(
        reasons[2],
        (
            "object indicator--expired",
            "expired at 2021-01-01T00:00:00Z"
        )
    );
    assert!(reasons[3].1.contains("FOLLOWEDBY"));
    assert!(reasons[4]
        .1
        .contains("email-message:subject is not a property Vigil matches"));
}

#[test]
fn the_latest_version_of_an_indicator_wins() {
    let v1 = indicator("v", "[domain-name:value = 'old.example']", "");
    let v2 = indicator("v", "[domain-name:value = 'new.example']", "").replace(
        r#""modified": "2020-01-01T00:00:00Z""#,
        r#""modified": "2021-06-01T00:00:00.000Z""#,
    );
    // The newer version first, the older after it: order in the file does not decide.
    let imp = ok(Format::Stix, &bundle(&[v2, v1]));
    assert_eq!(values(&imp), pairs(&[("domain", "new.example")]));
    assert_eq!(imp.skipped.len(), 1);
    assert!(imp.skipped[0]
        .reason
        .contains("superseded by the version modified 2021-06-01"));
}

#[test]
fn duplicates_keep_the_first_record() {
    let a = indicator(
        "a",
        "[domain-name:value = 'dup.example' OR domain-name:value = 'DUP.example.']",
        "",
    );
    let b = indicator(
        "b",
        "[domain-name:value = 'dup.example']",
        r#", "name": "second""#,
    );
    let imp = ok(Format::Stix, &bundle(&[a, b]));
    assert_eq!(values(&imp), pairs(&[("domain", "dup.example")]));
    assert_eq!(imp.indicators[0].provenance.reference, "indicator--a");
    // The repeat inside record a is folded; record b is a listed duplicate.
    assert_eq!(imp.skipped.len(), 1);
    assert_eq!(imp.skipped[0].record, "object indicator--b");
    assert_eq!(
        imp.skipped[0].reason,
        "duplicate of domain dup.example from object indicator--a"
    );
}

#[test]
fn the_options_expiry_applies_when_the_indicator_has_none() {
    let mut o = crate::opts();
    o.expires_ms = Some(NOW_MS + 1000);
    o.action = Action::Block;
    let data = bundle(&[indicator("a", "[domain-name:value = 'x.example']", "")]);
    let imp = vigil_intel::import::import(Format::Stix, data.as_bytes(), &o).unwrap();
    assert_eq!(imp.indicators[0].expires_ms, Some(NOW_MS + 1000));
    assert_eq!(imp.indicators[0].action, Action::Block);
    o.expires_ms = Some(NOW_MS);
    let imp = vigil_intel::import::import(Format::Stix, data.as_bytes(), &o).unwrap();
    assert_eq!((imp.indicators.len(), imp.skipped.len()), (0, 1));
}

#[test]
fn broken_objects_are_named_by_id_or_index() {
    let e = fails(
        Format::Stix,
        &bundle(&[indicator("p", "[domain-name:value = 'x.example'", "")]),
    );
    assert_eq!(e.record.as_deref(), Some("object indicator--p"));
    assert!(
        e.message
            .contains("pattern does not parse: at offset 32: expected ']'"),
        "{e}"
    );

    let no_pattern =
        r#"{"type": "indicator", "id": "indicator--np", "pattern_type": "stix"}"#.to_string();
    let e = fails(Format::Stix, &bundle(&[no_pattern]));
    assert_eq!(e.record.as_deref(), Some("object indicator--np"));
    assert_eq!(e.message, "missing required property pattern");

    let no_id = r#"{"type": "indicator", "pattern": "[url:value = 'http://x/']"}"#.to_string();
    let ok_one = indicator("ok", "[url:value = 'http://y/']", "");
    let e = fails(Format::Stix, &bundle(&[ok_one.clone(), no_id]));
    assert_eq!(e.record.as_deref(), Some("object 1"));
    assert_eq!(e.message, "missing required property id");

    let no_type = r#"{"id": "indicator--nt"}"#.to_string();
    let e = fails(Format::Stix, &bundle(&[no_type]));
    assert_eq!(e.record.as_deref(), Some("object indicator--nt"));
    assert_eq!(e.message, "missing required property type");

    let bad_time = indicator(
        "t",
        "[url:value = 'http://y/']",
        r#", "valid_until": "soon""#,
    );
    let e = fails(Format::Stix, &bundle(&[bad_time]));
    assert_eq!(e.record.as_deref(), Some("object indicator--t"));
    assert!(e.message.contains("valid_until \"soon\""), "{e}");

    // A matchable property compared with a number: the pattern is broken, not the value.
    let wrong_literal = indicator("w", "[ipv4-addr:value = 300]", "");
    let e = fails(Format::Stix, &bundle(&[ok_one.clone(), wrong_literal]));
    assert_eq!(e.record.as_deref(), Some("object indicator--w"));
    assert!(
        e.message
            .contains("pattern compares ipv4-addr:value (at offset 1) with a number"),
        "{e}"
    );

    // Parsed even when the indicator is revoked: the record is broken either way.
    let revoked_bad = indicator("rv", "[file:hashes.MD5 = 'xyz'", r#", "revoked": true"#);
    let e = fails(Format::Stix, &bundle(&[ok_one, revoked_bad]));
    assert_eq!(e.record.as_deref(), Some("object indicator--rv"));
    assert!(e.message.starts_with("pattern does not parse"), "{e}");

    let e = fails(Format::Stix, r#"{"objects": []}"#);
    assert!(e.message.contains("use format taxii"), "{e}");
    let e = fails(Format::Stix, "42");
    assert!(e.message.contains("found a number"), "{e}");
}

#[test]
fn bad_values_are_dropped_and_an_indicator_left_with_none_is_skipped() {
    let mixed = indicator(
        "m",
        "[domain-name:value = 'domain c2.example' OR ipv4-addr:value = '198.51.100.7']",
        "",
    );
    let only_bad = indicator("b", "[ipv4-addr:value = '300.1.1.1']", "");
    let bad_and_unmatchable = indicator(
        "u",
        "[email-addr:value = 'x@evil.example'] OR [url:value = 'http://evil example/']",
        "",
    );
    // A revoked indicator with a bad value is skipped once, as revoked.
    let revoked = indicator("r", "[file:hashes.MD5 = 'xyz']", r#", "revoked": true"#);
    let imp = ok(
        Format::Stix,
        &bundle(&[mixed, only_bad, bad_and_unmatchable, revoked]),
    );
    assert_eq!(values(&imp), pairs(&[("ip", "198.51.100.7")]));
    assert_eq!(imp.indicators[0].provenance.reference, "indicator--m");
    assert_eq!(
        crate::skips(&imp),
        [
            (
                "object indicator--b",
                "value \"300.1.1.1\" of ipv4-addr:value is not an IP address"
            ),
            (
                "object indicator--u",
                "value \"http://evil example/\" of url:value is not a URL: it contains white \
                 space or control characters"
            ),
            ("object indicator--r", "revoked"),
        ]
    );
}
