//! MISP import: attribute types, to_ids and deletion, event metadata, shapes, errors.

use serde_json::json;
use vigil_intel::import::Format;
use vigil_intel::Severity;

use crate::{fails, ok, pairs, values};

const MD5: &str = "0749bae92ca336a02c83d126e04ec628";
const SHA1: &str = "77b0c41b7d340b8a3d903f21347bbf06aa766b5b";
const SHA256: &str = "b3c4ae251f8094fa15b510051835c657eaef2a6cea46075d3aec964b14a99f68";

fn attr(ty: &str, value: &str, to_ids: bool, uuid: &str) -> serde_json::Value {
    json!({"type": ty, "value": value, "to_ids": to_ids, "uuid": uuid, "category": "Network activity"})
}

fn event(attrs: Vec<serde_json::Value>) -> String {
    json!({"Event": {
        "uuid": "ev-1", "info": "Campaign X", "date": "2024-05-01", "threat_level_id": "1",
        "Tag": [{"name": "tlp:green"}, {"name": "misp-galaxy:tool=\"X\""}],
        "Attribute": attrs
    }})
    .to_string()
}

/// (MISP type, value, the (type, value) pairs it gives).
type Case<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)]);

#[test]
fn every_mapped_type() {
    let cases: &[Case] = &[
        ("md5", MD5, &[("md5", MD5)]),
        ("sha1", SHA1, &[("sha1", SHA1)]),
        ("sha256", SHA256, &[("sha256", SHA256)]),
        ("filename|md5", &format!("a|b.exe|{MD5}"), &[("md5", MD5)]),
        ("filename|sha1", &format!("b.exe|{SHA1}"), &[("sha1", SHA1)]),
        (
            "filename|sha256",
            &format!("b.exe|{SHA256}"),
            &[("sha256", SHA256)],
        ),
        ("malware-sample", &format!("b.exe|{MD5}"), &[("md5", MD5)]),
        ("ip-src", "198.51.100.1", &[("ip", "198.51.100.1")]),
        ("ip-dst", "198.51.100.0/24", &[("cidr", "198.51.100.0/24")]),
        ("ip-dst", "2001:db8::5", &[("ip", "2001:db8::5")]),
        ("ip-dst|port", "198.51.100.2|443", &[("ip", "198.51.100.2")]),
        ("ip-src|port", "2001:db8::6|8080", &[("ip", "2001:db8::6")]),
        ("domain", "Evil.Example", &[("domain", "evil.example")]),
        (
            "hostname",
            "a.evil.example",
            &[("domain", "a.evil.example")],
        ),
        (
            "hostname|port",
            "b.evil.example|8443",
            &[("domain", "b.evil.example")],
        ),
        (
            "domain|ip",
            "c.evil.example|198.51.100.3",
            &[("domain", "c.evil.example"), ("ip", "198.51.100.3")],
        ),
        (
            "url",
            "http://evil.example/x",
            &[("url", "http://evil.example/x")],
        ),
        (
            "uri",
            "https://evil.example/y",
            &[("url", "https://evil.example/y")],
        ),
        (
            "x509-fingerprint-sha1",
            "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01",
            &[("cert", "abcdef0123456789abcdef0123456789abcdef01")],
        ),
    ];
    for (ty, value, want) in cases {
        let imp = ok(Format::Misp, &event(vec![attr(ty, value, true, "u1")]));
        assert_eq!(values(&imp), pairs(want), "{ty} {value}");
        assert!(imp.skipped.is_empty(), "{ty}: {:?}", imp.skipped);
    }
}

#[test]
fn unmapped_types_to_ids_and_deletion_are_skipped_with_the_reason() {
    let mut deleted = attr("domain", "d.example", true, "u-del");
    deleted["deleted"] = json!(true);
    let imp = ok(
        Format::Misp,
        &event(vec![
            attr("email-src", "a@b.example", true, "u-mail"),
            attr("regkey", "HKLM\\x", true, "u-reg"),
            attr("link", "https://blog.example/report", true, "u-link"),
            attr("uri", "/gate.php", true, "u-uri"),
            attr("domain", "not-ids.example", false, "u-noids"),
            deleted,
            attr("domain", "kept.example", true, "u-ok"),
        ]),
    );
    assert_eq!(values(&imp), pairs(&[("domain", "kept.example")]));
    let got: Vec<(&str, &str)> = imp
        .skipped
        .iter()
        .map(|s| (s.record.as_str(), s.reason.as_str()))
        .collect();
    assert_eq!(got.len(), 6);
    assert_eq!(
        got[0],
        (
            "attribute u-mail",
            "type email-src is not an indicator type Vigil matches"
        )
    );
    assert_eq!(got[1].0, "attribute u-reg");
    assert!(
        got[2].1.starts_with("type link: a page about the event"),
        "{got:?}"
    );
    assert!(
        got[3].1.starts_with("type uri without scheme and host"),
        "{got:?}"
    );
    assert!(got[4].1.starts_with("to_ids is not set"), "{got:?}");
    assert_eq!(got[5], ("attribute u-del", "deleted"));
}

#[test]
fn event_metadata_and_tags() {
    let mut a = attr("domain", "evil.example", true, "u1");
    a["comment"] = json!("C2 from the report");
    a["Tag"] = json!([{"name": "kill-chain:c2"}, {"name": "tlp:green"}]);
    let imp = ok(Format::Misp, &event(vec![a]));
    let i = &imp.indicators[0];
    assert_eq!(i.title, "Campaign X");
    assert_eq!(i.description, "C2 from the report");
    assert_eq!(i.severity, Severity::High);
    assert_eq!(i.provenance.reference, "u1");
    assert_eq!(i.provenance.first_seen_ms, Some(1_714_521_600_000));
    assert_eq!(
        i.provenance.labels,
        ["tlp:green", "misp-galaxy:tool=\"X\"", "kill-chain:c2"]
    );
}

#[test]
fn object_attributes_are_read_with_the_object_tags() {
    let data = json!({"Event": {"info": "objects", "Object": [
        {"name": "file", "Tag": [{"name": "obj-tag"}], "Attribute": [
            {"type": "sha256", "value": SHA256, "to_ids": true, "uuid": "o1"},
            {"type": "filename", "value": "x.exe", "to_ids": true, "uuid": "o2"}
        ]},
        {"name": "domain-ip", "deleted": true, "Attribute": [
            {"type": "domain", "value": "gone.example", "to_ids": true, "uuid": "o3"}
        ]}
    ]}})
    .to_string();
    let imp = ok(Format::Misp, &data);
    assert_eq!(values(&imp), pairs(&[("sha256", SHA256)]));
    assert_eq!(imp.indicators[0].provenance.labels, ["obj-tag"]);
    assert_eq!(imp.skipped.len(), 2);
    assert_eq!(imp.skipped[1].reason, "its object is deleted");
}

#[test]
fn api_shapes_and_lists_of_events() {
    let e1 = json!({"info": "one", "Attribute": [attr("domain", "one.example", true, "a1")]});
    let e2 = json!({"info": "two", "Attribute": [attr("domain", "two.example", true, "a2")]});
    for data in [
        json!({"response": [{"Event": e1}, {"Event": e2}]}),
        json!({"response": [e1, e2]}),
        json!([{"Event": e1}, {"Event": e2}]),
        json!([e1, e2]),
    ] {
        let imp = ok(Format::Misp, &data.to_string());
        assert_eq!(
            values(&imp),
            pairs(&[("domain", "one.example"), ("domain", "two.example")]),
            "{data}"
        );
        assert_eq!(imp.indicators[1].title, "two");
    }
    // Attributes without uuid are named by their place.
    let data = json!({"info": "x", "Attribute": [{"type": "domain", "value": "bad domain", "to_ids": true}]});
    let imp = ok(Format::Misp, &data.to_string());
    assert_eq!(imp.skipped[0].record, "event 0 attribute 0");
    let data = json!({"info": "x", "Attribute": [{"type": "domain", "value": 7, "to_ids": true}, {"type": "domain"}]});
    let e = fails(Format::Misp, &data.to_string());
    assert_eq!(e.record.as_deref(), Some("event 0 attribute 1"));
    assert_eq!(e.message, "missing required property value");
}

#[test]
fn bad_values_are_skipped_naming_the_value() {
    let imp = ok(
        Format::Misp,
        &event(vec![
            attr("domain", "fine.example", true, "ok"),
            attr("md5", "0749bae92ca336a02c83d126e04ec62", true, "bad-md5"),
            attr("ip-dst", "10.0.0.300", true, "bad-ip"),
            attr("filename|sha1", SHA1, true, "no-bar"),
            // Not for detection: skipped as such, whatever the value.
            attr("ip-dst", "10.0.0.300", false, "bad-ip-no-ids"),
        ]),
    );
    assert_eq!(values(&imp), pairs(&[("domain", "fine.example")]));
    assert_eq!(
        crate::skips(&imp),
        [
            (
                "attribute bad-md5",
                "value \"0749bae92ca336a02c83d126e04ec62\" is not a md5 (32 hexadecimal digits)"
            ),
            (
                "attribute bad-ip",
                "value \"10.0.0.300\" is not an IP address"
            ),
            (
                "attribute no-bar",
                "value \"77b0c41b7d340b8a3d903f21347bbf06aa766b5b\" of type filename|sha1 lacks \
                 the '|' between its two parts"
            ),
            (
                "attribute bad-ip-no-ids",
                "to_ids is not set: MISP marks the attribute as not meant for detection"
            ),
        ]
    );
}

#[test]
fn broken_attributes_fail_naming_their_uuid() {
    let e = fails(
        Format::Misp,
        &event(vec![
            attr("domain", "fine.example", true, "ok"),
            json!({"type": "md5", "value": MD5, "to_ids": "maybe", "uuid": "bad-flag"}),
        ]),
    );
    assert_eq!(e.record.as_deref(), Some("attribute bad-flag"));
    assert_eq!(
        e.message,
        "property to_ids must be true or false, found \"maybe\""
    );
    let e = fails(
        Format::Misp,
        &event(vec![json!({"value": "x", "uuid": "no-type"})]),
    );
    assert_eq!(
        (e.record.as_deref(), e.message.as_str()),
        (Some("attribute no-type"), "missing required property type")
    );
    let e = fails(
        Format::Misp,
        r#"{"Event": {"uuid": "ev-9", "threat_level_id": "7"}}"#,
    );
    assert_eq!(e.record.as_deref(), Some("event ev-9"));
    let e = fails(Format::Misp, r#"{"name": "a galaxy", "GalaxyCluster": []}"#);
    assert!(e.message.starts_with("not a MISP event"), "{e}");
    let e = fails(Format::Misp, r#"{"Event": {"info": "cut"#);
    assert_eq!(e.record.as_deref(), Some("line 1"));
    assert!(
        e.message.starts_with("malformed JSON: EOF while parsing"),
        "{e}"
    );
}
