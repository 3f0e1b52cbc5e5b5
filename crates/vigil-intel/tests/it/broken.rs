//! Broken inputs, one per format: each fails the whole import (nothing is returned) with an
//! error that names the broken record, even when good records came before it. And the line
//! between broken and merely bad: a well-formed record whose value does not check as its
//! type is skipped with the value and why, in every format, and the good records around it
//! are imported.

use vigil_intel::import::Format;

use crate::{fails, ok, pairs, skips, values};

#[test]
fn truncated_json_names_the_line() {
    let data = "{\"type\": \"bundle\", \"id\": \"bundle--1\", \"objects\": [\n  {\"type\": \"indicator\",\n";
    for format in [Format::Stix, Format::Taxii, Format::Misp, Format::Abusech] {
        let e = fails(format, data);
        assert_eq!(e.record.as_deref(), Some("line 3"), "{format:?}: {e}");
        assert!(
            e.message.starts_with("malformed JSON: EOF while parsing"),
            "{format:?}: {e}"
        );
    }
}

#[test]
fn pattern_syntax_error_names_the_indicator_and_offset() {
    let data = r#"[
        {"type": "indicator", "id": "indicator--good", "pattern_type": "stix", "pattern": "[domain-name:value = 'a.example']"},
        {"type": "indicator", "id": "indicator--bad", "pattern_type": "stix", "pattern": "[domain-name:value = 'a.example' OR]"}
    ]"#;
    let e = fails(Format::Stix, data);
    assert_eq!(e.record.as_deref(), Some("object indicator--bad"));
    assert_eq!(
        e.message,
        "pattern does not parse: at offset 35: expected an object path (type:property), found ']'"
    );
    assert_eq!(
        e.to_string(),
        format!("object indicator--bad: {}", e.message)
    );
}

#[test]
fn misp_attribute_with_a_value_of_the_wrong_json_type() {
    let data = r#"{"Event": {"info": "x", "Attribute": [
        {"type": "sha256", "value": "b3c4ae251f8094fa15b510051835c657eaef2a6cea46075d3aec964b14a99f68", "to_ids": true, "uuid": "good"},
        {"type": "sha256", "value": ["b3c4ae251f8094fa15b510051835c657eaef2a6cea46075d3aec964b14a99f68"], "to_ids": true, "uuid": "5a3ce58a-bad"}
    ]}}"#;
    let e = fails(Format::Misp, data);
    assert_eq!(e.record.as_deref(), Some("attribute 5a3ce58a-bad"));
    assert_eq!(e.message, "property value must be a string, found an array");
    // A missing type is as broken, whatever the value.
    let e = fails(
        Format::Misp,
        r#"{"Event": {"Attribute": [{"value": "a.example", "to_ids": true, "uuid": "no-type"}]}}"#,
    );
    assert_eq!(e.record.as_deref(), Some("attribute no-type"));
    assert_eq!(e.message, "missing required property type");
}

#[test]
fn csv_line_with_an_unknown_type() {
    let e = fails(
        Format::Csv,
        "type,value\nurl,http://a.example/\nmutex,Global\\x\n",
    );
    assert_eq!(e.record.as_deref(), Some("line 3"));
    assert!(
        e.message.starts_with("unknown indicator type \"mutex\""),
        "{e}"
    );
    assert_eq!(e.to_string(), format!("line 3: {}", e.message));
}

#[test]
fn unrecognised_abusech_file() {
    let e = fails(Format::Abusech, "ip,port\n198.51.100.1,443\n");
    assert!(e.record.is_none());
    assert!(
        e.message.starts_with("unrecognised abuse.ch file: expected a URLhaus, ThreatFox, MalwareBazaar or SSL Blacklist CSV export"),
        "{e}"
    );
}

#[test]
fn non_utf8_text_names_the_line() {
    let mut data = b"type,value\ndomain,a.example\ndomain,b".to_vec();
    data.push(0xff);
    data.extend_from_slice(b".example\n");
    let e = vigil_intel::import::import(Format::Csv, &data, &crate::opts()).unwrap_err();
    assert_eq!(e.record.as_deref(), Some("line 3"));
}

#[test]
fn abusech_line_with_separators_but_too_few_fields() {
    let head = "# ThreatFox IOCs: additions - CSV format (full dump)\n";
    let good = "\"2024-07-16 05:25:33\", \"1\", \"198.51.100.4:443\", \"ip:port\", \"botnet_cc\", \"win.x\", \"\", \"X\", \"\", \"100\", \"None\", \"\", \"0\", \"r\"\n";
    let e = fails(
        Format::Abusech,
        &format!("{head}{good}\"cut\", \"short\"\n"),
    );
    assert_eq!(e.record.as_deref(), Some("line 3"));
    assert_eq!(
        e.message,
        "expected 14 fields (the ThreatFox columns), found 2"
    );
    // One field, but quoted: a record cut short, not a stray note.
    let e = fails(Format::Abusech, &format!("{head}{good}\"cut\"\n"));
    assert_eq!(e.record.as_deref(), Some("line 3"));
    // A bare line is not a record: skipped, the rest imported.
    let imp = ok(Format::Abusech, &format!("{head}(rest omitted)\n{good}"));
    assert_eq!(values(&imp), pairs(&[("ip", "198.51.100.4")]));
    assert_eq!(
        skips(&imp),
        [("line 2", "line 2 is not a record (no fields)")]
    );
}

const MD5: &str = "0749bae92ca336a02c83d126e04ec628";

#[test]
fn bad_values_are_skipped_with_their_reason_in_every_format() {
    // STIX (and TAXII, which reads the same objects): a pattern whose only value is bad.
    let objects = format!(
        r#"[{{"type": "indicator", "id": "indicator--bad", "pattern": "[file:hashes.MD5 = '{short}']"}},
            {{"type": "indicator", "id": "indicator--good", "pattern": "[file:hashes.MD5 = '{MD5}']"}}]"#,
        short = &MD5[..31]
    );
    let want_skip = [(
        "object indicator--bad",
        "value \"0749bae92ca336a02c83d126e04ec62\" of file:hashes.MD5 is not a md5 (32 hexadecimal digits)",
    )];
    let stix = ok(Format::Stix, &objects);
    let taxii = ok(Format::Taxii, &format!(r#"{{"objects": {objects}}}"#));
    for imp in [stix, taxii] {
        assert_eq!(values(&imp), pairs(&[("md5", MD5)]));
        assert_eq!(skips(&imp), want_skip);
    }

    // MISP: a hash with a non-hex character.
    let data = format!(
        r#"{{"Event": {{"Attribute": [
            {{"type": "md5", "value": "{bad}", "to_ids": true, "uuid": "bad"}},
            {{"type": "domain", "value": "a.example", "to_ids": true, "uuid": "good"}}]}}}}"#,
        bad = MD5.replace('0', "g")
    );
    let imp = ok(Format::Misp, &data);
    assert_eq!(values(&imp), pairs(&[("domain", "a.example")]));
    assert_eq!(
        skips(&imp),
        [(
            "attribute bad",
            "value \"g749bae92ca336ag2c83d126eg4ec628\" is not a md5 (32 hexadecimal digits)"
        )]
    );

    // abuse.ch: a URL with a space.
    let data = "# id,dateadded,url,url_status,last_online,threat,tags,urlhaus_link,reporter\n\
                1,2026-02-26 12:05:20,http://evil.example/a b,online,,malware_download,,,r\n\
                2,2026-02-26 12:05:20,http://evil.example/ab,online,,malware_download,,,r\n";
    let imp = ok(Format::Abusech, data);
    assert_eq!(values(&imp), pairs(&[("url", "http://evil.example/ab")]));
    assert_eq!(
        skips(&imp),
        [(
            "line 2",
            "value \"http://evil.example/a b\" is not a URL: it contains white space or control characters"
        )]
    );

    // Vigil CSV: an address that does not parse, and an empty value.
    let imp = ok(
        Format::Csv,
        "type,value\nip,198.51.100.300\ndomain,a.example\nsha1,\n",
    );
    assert_eq!(values(&imp), pairs(&[("domain", "a.example")]));
    assert_eq!(
        skips(&imp),
        [
            ("line 2", "value \"198.51.100.300\" is not an IP address"),
            ("line 4", "the sha1 value is empty"),
        ]
    );
}

#[test]
fn a_record_with_one_bad_value_of_several_gives_none() {
    // MalwareBazaar: three hashes of one file on one line; the SHA-1 is short.
    let data = "# MalwareBazaar full malware samples dump (CSV)\n\
        # \"first_seen_utc\",\"sha256_hash\",\"md5_hash\",\"sha1_hash\",\"reporter\",\"file_name\",\"file_type_guess\",\"mime_type\",\"signature\",\"clamav\",\"vtpercent\",\"imphash\",\"ssdeep\",\"tlsh\"\n\
        \"2026-02-26 13:31:34\", \"601dd90719729f87caf388d4a9bc9be91d5443c3181f1fb3b337a21df5de4bb9\", \"595fa8833c56cefbfb51e622a8e5fa16\", \"bbad6aefb62b95549fab6232cb5b4e53ab01f0f\", \"r\", \"x\", \"elf\", \"m\", \"Mirai\", \"n/a\", \"n/a\", \"n/a\", \"x\", \"y\"\n";
    let imp = ok(Format::Abusech, data);
    assert!(imp.indicators.is_empty(), "{:?}", values(&imp));
    assert_eq!(skips(&imp).len(), 1);
    assert_eq!(imp.skipped[0].record, "line 3");
    assert!(
        imp.skipped[0].reason.contains("is not a sha1"),
        "{:?}",
        imp.skipped
    );

    // MISP domain|ip with a bad address: neither part.
    let imp = ok(
        Format::Misp,
        r#"{"Attribute": [{"type": "domain|ip", "value": "a.example|198.51.100.999", "to_ids": true, "uuid": "d"}]}"#,
    );
    assert!(imp.indicators.is_empty());
    assert_eq!(
        skips(&imp),
        [(
            "attribute d",
            "value \"198.51.100.999\" is not an IP address"
        )]
    );
}
