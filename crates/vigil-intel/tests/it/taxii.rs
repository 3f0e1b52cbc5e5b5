//! TAXII 2.1: the resource shapes of a test TAXII server's backing data (the corpus file
//! `taxii/default_data.json`: discovery, API roots, collections with their objects and
//! manifests), and envelopes imported as `Format::Taxii`.

use serde_json::{json, Value};
use vigil_intel::import::taxii::{self, Timestamp};
use vigil_intel::import::{import, Format};

use crate::corpus::corpus_dir;
use crate::{ok, opts, pairs, values};

fn server_data() -> Option<Value> {
    let dir = corpus_dir()?;
    let text = std::fs::read(dir.join("taxii/default_data.json")).unwrap();
    Some(serde_json::from_slice(&text).unwrap())
}

fn bytes(v: &Value) -> Vec<u8> {
    serde_json::to_vec(v).unwrap()
}

#[test]
fn discovery_and_api_roots() {
    let Some(data) = server_data() else { return };
    let d = taxii::parse_discovery(&bytes(&data["/discovery"])).unwrap();
    assert_eq!(d.title, "Some TAXII Server");
    assert_eq!(
        d.default.as_deref(),
        Some("http://localhost:5000/trustgroup1/")
    );
    assert_eq!(d.api_roots.len(), 3);
    let urls = d.api_root_urls("http://localhost:5000/taxii2/").unwrap();
    assert_eq!(urls[2], "http://localhost:5000/trustgroup1/");

    let root = taxii::parse_api_root(&bytes(&data["trustgroup1"]["information"])).unwrap();
    assert_eq!(root.title, "Malware Research Group");
    assert_eq!(root.max_content_length, 9_765_625);
    assert!(root.supports_21());
    assert!(taxii::MEDIA_TYPE == "application/taxii+json;version=2.1");
}

#[test]
fn collections_of_the_test_server() {
    let Some(data) = server_data() else { return };
    // The server answers GET collections/ with {"collections": [...]}: the same entries
    // without its internal objects and manifest.
    let cols = taxii::parse_collections(&bytes(&json!({
        "collections": data["trustgroup1"]["collections"]
    })))
    .unwrap();
    assert_eq!(cols.len(), 5);
    let high = cols
        .iter()
        .find(|c| c.id == "91a7b528-80eb-42ed-a74d-c6fbd5a26116")
        .unwrap();
    assert_eq!(high.title, "High Value Indicator Collection");
    assert!(high.can_read && high.can_write);
    assert!(high.media_types.iter().any(|m| m == taxii::STIX_MEDIA_TYPE));
    let write_only = cols
        .iter()
        .find(|c| c.id == "472c94ae-3113-4e3e-a4dd-a9f4ac7471d4")
        .unwrap();
    assert!(!write_only.can_read);
    assert!(taxii::parse_collections(b"{}").unwrap().is_empty());
    let e = taxii::parse_collections(
        br#"{"collections": [{"id": "x", "title": "t", "can_read": "yes", "can_write": true}]}"#,
    )
    .unwrap_err();
    assert_eq!(e.record.as_deref(), Some("collection 0"));
    assert!(e.message.contains("can_read"), "{e}");
}

#[test]
fn envelope_of_a_collection_imports_its_current_indicators() {
    let Some(data) = server_data() else { return };
    let col = data["trustgroup1"]["collections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "91a7b528-80eb-42ed-a74d-c6fbd5a26116")
        .unwrap();
    let env = json!({"more": false, "objects": col["objects"]});
    let e = taxii::parse_envelope(&bytes(&env)).unwrap();
    assert!(!e.more);
    assert_eq!(e.objects.len(), 8);
    // Counted by hand from the file: two indicator ids; indicator--6770... has three
    // versions, the one modified 2017-01-27 is current (url x4z9arb.cn/4712), the other two
    // are superseded.
    let imp = import(Format::Taxii, &bytes(&env), &opts()).unwrap();
    assert_eq!(
        values(&imp),
        pairs(&[
            (
                "sha256",
                "ef537f25c895bfa782526529a9b63d97aa631564d5d789c2b765448c8635fb6c"
            ),
            ("url", "http://x4z9arb.cn/4712"),
        ])
    );
    assert_eq!(imp.skipped.len(), 2);
    assert!(imp.skipped.iter().all(|s| s.reason.contains("superseded")));

    // The manifest's last date_added is what the poller sends back as added_after.
    let last = col["manifest"].as_array().unwrap().last().unwrap()["date_added"]
        .as_str()
        .unwrap();
    let t = taxii::date_added(last).unwrap();
    let root = taxii::api_root_url("http://localhost:5000/trustgroup1");
    let url = taxii::objects_url(
        &root,
        col["id"].as_str().unwrap(),
        Some(t.as_str()),
        None,
        Some(2),
    );
    assert_eq!(
        url,
        "http://localhost:5000/trustgroup1/collections/91a7b528-80eb-42ed-a74d-c6fbd5a26116/objects/\
         ?added_after=2017-12-31T13:49:53.935000Z&limit=2"
    );
    assert_eq!(t.unix_ms(), 1_514_728_193_935);
}

#[test]
fn envelopes_without_a_server() {
    let env = r#"{"more": true, "next": "abc", "objects": [
        {"type": "indicator", "id": "indicator--1", "pattern": "[domain-name:value = 'evil.example']",
         "pattern_type": "stix", "valid_from": "2020-01-01T00:00:00Z"}]}"#;
    assert_eq!(
        values(&ok(Format::Taxii, env)),
        pairs(&[("domain", "evil.example")])
    );
    assert!(ok(Format::Taxii, "{}").indicators.is_empty());
    let e = crate::fails(
        Format::Taxii,
        r#"{"type": "bundle", "id": "bundle--1", "objects": []}"#,
    );
    assert!(e.message.contains("use format stix"), "{e}");
    let e = crate::fails(
        Format::Taxii,
        r#"{"objects": [{"type": "indicator", "id": "indicator--2"}]}"#,
    );
    assert_eq!(e.record.as_deref(), Some("object indicator--2"));
    assert!(
        Timestamp::parse("2016-11-03T12:30:59.001000").is_err(),
        "a TAXII timestamp is in UTC (Z)"
    );
}
