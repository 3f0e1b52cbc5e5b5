//! abuse.ch import: recognition (column header or banner), each export's mapping, errors.

use vigil_intel::import::Format;

use crate::{fails, ok, pairs, values};

const URLHAUS: &str = "\
################################################################
# abuse.ch URLhaus Database Dump (CSV - recent URLs only)      #
#
# id,dateadded,url,url_status,last_online,threat,tags,urlhaus_link,reporter
\"1\",\"2026-02-26 12:05:20\",\"http://198.51.100.9:8080/i\",\"online\",\"2026-02-26 12:05:20\",\"malware_download\",\"elf,Mozi\",\"https://urlhaus.abuse.ch/url/1/\",\"r\"
\"2\",\"2026-02-26 11:05:20\",\"https://evil.example/a b\",\"offline\",\"\",\"malware_download\",\"None\",\"https://urlhaus.abuse.ch/url/2/\",\"r\"
";

#[test]
fn urlhaus_online_and_offline() {
    // The second URL has a space: not a URL, so that record is skipped, naming it.
    let imp = ok(Format::Abusech, URLHAUS);
    assert_eq!(
        values(&imp),
        pairs(&[("url", "http://198.51.100.9:8080/i")])
    );
    assert_eq!(imp.skipped.len(), 1);
    assert_eq!(imp.skipped[0].record, "line 6");
    assert!(
        imp.skipped[0]
            .reason
            .starts_with("value \"https://evil.example/a b\" is not a URL"),
        "{:?}",
        imp.skipped
    );

    let fixed = URLHAUS.replace("/a b", "/ab");
    let imp = ok(Format::Abusech, &fixed);
    assert_eq!(
        values(&imp),
        pairs(&[
            ("url", "http://198.51.100.9:8080/i"),
            ("url", "https://evil.example/ab")
        ])
    );
    let i = &imp.indicators[0];
    assert_eq!(i.title, "URLhaus: malware_download");
    assert_eq!(i.provenance.reference, "urlhaus 1");
    assert_eq!(
        i.provenance.labels,
        ["malware_download", "elf", "Mozi", "status:online"]
    );
    assert_eq!(i.provenance.first_seen_ms, Some(1_772_107_520_000));
    assert_eq!(i.description, "https://urlhaus.abuse.ch/url/1/");
    assert_eq!(
        imp.indicators[1].provenance.labels,
        ["malware_download", "status:offline"]
    );
}

#[test]
fn threatfox_types_with_and_without_a_column_header() {
    let rows = "\
\"2024-07-16 05:25:33\", \"1\", \"198.51.100.4:443\", \"ip:port\", \"botnet_cc\", \"win.x\", \"\", \"X\", \"\", \"100\", \"None\", \"x,y\", \"0\", \"r\"
\"2024-07-16 05:25:33\", \"2\", \"[2001:db8::4]:443\", \"ip:port\", \"botnet_cc\", \"win.x\", \"\", \"X\", \"\", \"100\", \"None\", \"\", \"0\", \"r\"
\"2024-07-16 05:25:33\", \"3\", \"c2.evil.example\", \"domain\", \"botnet_cc\", \"win.x\", \"\", \"X\", \"\", \"100\", \"https://ref.example/\", \"\", \"0\", \"r\"
\"2024-07-16 05:25:33\", \"4\", \"http://c2.evil.example/gate\", \"url\", \"payload_delivery\", \"win.x\", \"\", \"X\", \"\", \"100\", \"None\", \"\", \"0\", \"r\"
\"2024-07-16 05:25:33\", \"5\", \"0749bae92ca336a02c83d126e04ec628\", \"md5_hash\", \"payload\", \"win.x\", \"\", \"X\", \"\", \"100\", \"None\", \"\", \"0\", \"r\"
\"2024-07-16 05:25:33\", \"6\", \"AAAA\", \"sha3_384_hash\", \"payload\", \"win.x\", \"\", \"X\", \"\", \"100\", \"None\", \"\", \"0\", \"r\"
";
    let banner = format!("# ThreatFox IOCs: additions - CSV format (full dump)\n#\n{rows}");
    let header = format!(
        "# \"first_seen_utc\",\"ioc_id\",\"ioc_value\",\"ioc_type\",\"threat_type\",\"fk_malware\",\"malware_alias\",\
         \"malware_printable\",\"last_seen_utc\",\"confidence_level\",\"reference\",\"tags\",\"anonymous\",\"reporter\"\n{rows}"
    );
    for data in [banner, header] {
        let imp = ok(Format::Abusech, &data);
        assert_eq!(
            values(&imp),
            pairs(&[
                ("ip", "198.51.100.4"),
                ("ip", "2001:db8::4"),
                ("domain", "c2.evil.example"),
                ("url", "http://c2.evil.example/gate"),
                ("md5", "0749bae92ca336a02c83d126e04ec628"),
            ])
        );
        assert_eq!(imp.skipped.len(), 1);
        assert!(imp.skipped[0].reason.contains("sha3_384_hash"));
        assert_eq!(imp.indicators[2].description, "https://ref.example/");
        assert_eq!(
            imp.indicators[0].provenance.labels,
            ["botnet_cc", "X", "x", "y"]
        );
    }
}

#[test]
fn malwarebazaar_gives_three_hashes_of_one_file() {
    let data = "\
# MalwareBazaar full malware samples dump (CSV)
# \"first_seen_utc\",\"sha256_hash\",\"md5_hash\",\"sha1_hash\",\"reporter\",\"file_name\",\"file_type_guess\",\"mime_type\",\"signature\",\"clamav\",\"vtpercent\",\"imphash\",\"ssdeep\",\"tlsh\"
\"2026-02-26 13:31:34\", \"601dd90719729f87caf388d4a9bc9be91d5443c3181f1fb3b337a21df5de4bb9\", \"595fa8833c56cefbfb51e622a8e5fa16\", \"bbad6aefb62b95549fab6232cb5b4e53ab01f0fa\", \"abuse_ch\", \"boatnet.x86\", \"elf\", \"application/x-executable\", \"Mirai\", \"n/a\", \"n/a\", \"n/a\", \"x\", \"y\"
";
    let imp = ok(Format::Abusech, data);
    let kinds: Vec<String> = values(&imp).into_iter().map(|(k, _)| k).collect();
    assert_eq!(kinds, ["sha256", "md5", "sha1"]);
    for i in &imp.indicators {
        assert_eq!(i.title, "MalwareBazaar: Mirai");
        assert_eq!(
            i.provenance.reference,
            "601dd90719729f87caf388d4a9bc9be91d5443c3181f1fb3b337a21df5de4bb9"
        );
        assert_eq!(i.provenance.labels, ["Mirai", "elf"]);
    }
}

#[test]
fn ssl_blacklist_and_feodo() {
    let ssl = "# abuse.ch SSLBL SSL Certificate Blacklist (SHA1 Fingerprints)\n# Listingdate,SHA1,Listingreason\n\
               2024-07-19 07:47:19,854c68ab7ad70b6f95f76ec64b8a46c145997629,AsyncRAT C&C\n# END (1) entries\n";
    let imp = ok(Format::Abusech, ssl);
    assert_eq!(
        values(&imp),
        pairs(&[("cert", "854c68ab7ad70b6f95f76ec64b8a46c145997629")])
    );
    assert_eq!(imp.indicators[0].title, "SSL Blacklist: AsyncRAT C&C");

    let feodo = r#"[{"ip_address": "198.51.100.20", "port": 443, "status": "offline", "first_seen": "2021-01-17 07:44:46", "malware": "Dridex"}]"#;
    let imp = ok(Format::Abusech, feodo);
    assert_eq!(values(&imp), pairs(&[("ip", "198.51.100.20")]));
    assert_eq!(
        imp.indicators[0].provenance.labels,
        ["Dridex", "status:offline"]
    );
    assert_eq!(imp.indicators[0].description, "botnet C2 on port 443");
    assert!(ok(Format::Abusech, "[]").indicators.is_empty());
}

#[test]
fn unrecognised_and_broken_files() {
    let e = fails(Format::Abusech, "# some list\n1.2.3.4\n");
    assert!(e.message.starts_with("unrecognised abuse.ch file"), "{e}");
    let e = fails(Format::Abusech, r#"{"query_status": "ok"}"#);
    assert!(e.message.starts_with("unrecognised abuse.ch file"), "{e}");
    let e = fails(
        Format::Abusech,
        r#"[{"ip_address": "198.51.100.1"}, {"ip": "x"}]"#,
    );
    assert_eq!(e.record.as_deref(), Some("entry 1"));
    // A JA3 list is SSLBL but has no SHA1 column.
    let e = fails(Format::Abusech, "# abuse.ch SSLBL JA3 Fingerprint Blacklist\n# ja3_md5,Firstseen,Lastseen,Listingreason\nx,y,z,w\n");
    assert!(e.message.contains("lacks the sha1 column"), "{e}");
    // A fingerprint one digit short is a bad value: skipped.
    let imp = ok(Format::Abusech, "# Listingdate,SHA1,Listingreason\n2024-07-19 07:47:19,854c68ab7ad70b6f95f76ec64b8a46c14599762,x\n");
    assert!(imp.indicators.is_empty());
    assert_eq!(
        crate::skips(&imp),
        [(
            "line 2",
            "value \"854c68ab7ad70b6f95f76ec64b8a46c14599762\" is not a cert (40 hexadecimal digits)"
        )]
    );
    // A stray bare line is skipped; a line with separators but too few fields fails.
    let imp = ok(Format::Abusech, "# Listingdate,SHA1,Listingreason\n...\n2024-07-19 07:47:19,854c68ab7ad70b6f95f76ec64b8a46c145997629,x\n");
    assert_eq!(imp.indicators.len(), 1);
    assert_eq!(
        crate::skips(&imp),
        [("line 2", "line 2 is not a record (no fields)")]
    );
    let e = fails(
        Format::Abusech,
        "# Listingdate,SHA1,Listingreason\n2024-07-19 07:47:19,x\n",
    );
    assert_eq!(e.record.as_deref(), Some("line 2"));
    assert_eq!(
        e.message,
        "expected 3 fields (the SSL Blacklist columns), found 2"
    );
    let e = fails(
        Format::Abusech,
        "# Listingdate,SHA1,Listingreason\nlast week,854c68ab7ad70b6f95f76ec64b8a46c145997629,x\n",
    );
    assert_eq!(e.record.as_deref(), Some("line 2"));
    assert!(
        e.message
            .contains("listingdate \"last week\" is not a date"),
        "{e}"
    );
}
