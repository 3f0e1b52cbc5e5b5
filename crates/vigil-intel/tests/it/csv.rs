//! Vigil CSV and MDE's import CSV: columns, defaults, errors by line, and the export round trip.

use vigil_intel::import::{export_csv, import, Format};
use vigil_intel::{Action, Indicator, IndicatorType, Provenance, Severity};

use crate::{fails, ok, opts, pairs, values, NOW_MS};

#[test]
fn vigil_columns_in_any_order_and_case() {
    let data = "Value,TYPE,action,severity,title,expires,device_groups,generate_alert,labels\n\
                evil.example,domain,block,high,Evil domain,2030-01-01T00:00:00Z,\"linux, servers\",false,c2;apt\n\
                198.51.100.0/24,cidr,,,,,,,\n";
    let imp = ok(Format::Csv, data);
    assert_eq!(
        values(&imp),
        pairs(&[("domain", "evil.example"), ("cidr", "198.51.100.0/24")])
    );
    let a = &imp.indicators[0];
    assert_eq!(
        (a.action, a.severity, a.generate_alert),
        (Action::Block, Severity::High, false)
    );
    assert_eq!(a.title, "Evil domain");
    assert_eq!(a.expires_ms, Some(1_893_456_000_000));
    assert_eq!(a.device_groups, ["linux", "servers"]);
    assert_eq!(a.provenance.labels, ["c2", "apt"]);
    assert_eq!(a.provenance.reference, "line 2");
    let b = &imp.indicators[1];
    assert_eq!(
        (b.action, b.severity, b.generate_alert),
        (Action::Audit, Severity::Medium, true)
    );
    assert_eq!(b.title, "cidr 198.51.100.0/24");
    assert_eq!(b.provenance.source, "test");
}

#[test]
fn mde_import_columns_and_names() {
    let data = "IndicatorType,IndicatorValue,ExpirationTime,Action,Severity,Title,Description,RecommendedActions,RbacGroups,Category,MitreTechniques,GenerateAlert\n\
        FileSha256,ef537f25c895bfa782526529a9b63d97aa631564d5d789c2b765448c8635fb6c,2030-01-01T00:00:00.0000000Z,BlockAndRemediate,High,Bad tool,Seen on hosts,Reimage,Servers,Malware,\"T1059,T1105\",TRUE\n\
        FileSha1,77b0c41b7d340b8a3d903f21347bbf06aa766b5b,,Allowed,Informational,Our tool,,,,,,FALSE\n\
        FileMd5,0749bae92ca336a02c83d126e04ec628,,Audit,Low,t,,,,,,TRUE\n\
        IpAddress,198.51.100.7,,AlertAndBlock,Medium,t,,,,,,TRUE\n\
        DomainName,evil.example,,Warn,Medium,t,,,,,,TRUE\n\
        Url,https://evil.example/x,,Block,Medium,t,,,,,,TRUE\n\
        CertificateThumbprint,854c68ab7ad70b6f95f76ec64b8a46c145997629,,Block,Medium,t,,,,,,TRUE\n";
    let imp = ok(Format::Csv, data);
    let kinds: Vec<IndicatorType> = imp.indicators.iter().map(|i| i.kind).collect();
    use IndicatorType::*;
    assert_eq!(kinds, [Sha256, Sha1, Md5, Ip, Domain, Url, Cert]);
    let actions: Vec<Action> = imp.indicators.iter().map(|i| i.action).collect();
    use Action::*;
    assert_eq!(
        actions,
        [BlockAndRemediate, Allow, Audit, Block, Warn, Block, Block]
    );
    let a = &imp.indicators[0];
    assert_eq!(
        a.description,
        "Seen on hosts\n\nRecommended actions: Reimage"
    );
    assert_eq!(a.device_groups, ["Servers"]);
    assert_eq!(a.provenance.labels, ["category:Malware", "T1059", "T1105"]);
    assert_eq!(a.expires_ms, Some(1_893_456_000_000));
    assert!(!imp.indicators[1].generate_alert);
}

fn sample_indicators() -> Vec<Indicator> {
    let mut a = Indicator::new(IndicatorType::Url, "https://evil.example/a?b=1")
        .unwrap()
        .with_action(Action::BlockAndRemediate)
        .with_severity(Severity::High)
        .with_title("A title, with \"quotes\"")
        .with_provenance(Provenance {
            source: "misp-feed".into(),
            reference: "attribute 5a3c".into(),
            first_seen_ms: Some(1_714_521_600_123),
            labels: vec!["tlp:green".into(), "misp-galaxy:tool=\"X\"".into()],
        });
    a.description = "line one\nline two, with a comma".into();
    a.expires_ms = Some(NOW_MS + 86_400_000);
    a.device_groups = vec!["linux servers".into(), "dmz".into()];
    a.generate_alert = false;
    let mut b = Indicator::new(IndicatorType::Cidr, "2001:db8::/32").unwrap();
    b.provenance = Provenance {
        source: "manual".into(),
        reference: "ticket 7".into(),
        first_seen_ms: None,
        labels: vec![],
    };
    let mut all = vec![a, b];
    for (kind, v) in [
        (
            IndicatorType::Sha256,
            "ef537f25c895bfa782526529a9b63d97aa631564d5d789c2b765448c8635fb6c",
        ),
        (
            IndicatorType::Sha1,
            "77b0c41b7d340b8a3d903f21347bbf06aa766b5b",
        ),
        (IndicatorType::Md5, "0749bae92ca336a02c83d126e04ec628"),
        (IndicatorType::Ip, "198.51.100.1"),
        (IndicatorType::Domain, "evil.example"),
        (
            IndicatorType::Cert,
            "854c68ab7ad70b6f95f76ec64b8a46c145997629",
        ),
    ] {
        let mut i = Indicator::new(kind, v)
            .unwrap()
            .with_action(Action::Allow)
            .with_severity(Severity::Informational);
        i.provenance.source = "csv".into();
        i.provenance.reference = format!("row {v}");
        all.push(i);
    }
    all
}

#[test]
fn export_then_import_gives_equal_indicators() {
    let original = sample_indicators();
    let text = export_csv(&original);
    let back = import(Format::Csv, text.as_bytes(), &opts()).unwrap();
    assert!(back.skipped.is_empty(), "{:?}", back.skipped);
    assert_eq!(back.indicators, original, "\n{text}");
    // The header names Vigil's columns.
    assert!(text.starts_with(
        "type,value,action,severity,title,description,expires,device_groups,generate_alert,"
    ));
}

#[test]
fn errors_name_the_line() {
    let e = fails(
        Format::Csv,
        "type,value\ndomain,a.example\ndomain,b.example\nfilehash,abc\n",
    );
    assert_eq!(e.record.as_deref(), Some("line 4"));
    assert!(
        e.message.starts_with("unknown indicator type \"filehash\""),
        "{e}"
    );
    let e = fails(Format::Csv, "type,value,colour\ndomain,a.example,red\n");
    assert_eq!(e.record.as_deref(), Some("line 1"));
    assert!(e.message.starts_with("unknown column \"colour\""), "{e}");
    let e = fails(Format::Csv, "type,value,Type\n");
    assert!(e.message.contains("appears twice"), "{e}");
    let e = fails(Format::Csv, "value,action\nx,block\n");
    assert!(e.message.contains("no type column"), "{e}");
    let e = fails(Format::Csv, "type,value\ndomain,a.example,extra\n");
    assert_eq!(e.record.as_deref(), Some("line 2"));
    let e = fails(Format::Csv, "type,value,action\ndomain,a.example,nuke\n");
    assert!(e.message.starts_with("unknown action \"nuke\""), "{e}");
    let e = fails(
        Format::Csv,
        "type,value,expires\ndomain,a.example,tomorrow\n",
    );
    assert!(
        e.message
            .contains("expires \"tomorrow\" is not an RFC 3339 time"),
        "{e}"
    );
    let e = fails(
        Format::Csv,
        "type,value,description\ndomain,a.example,\"unterminated\n",
    );
    assert_eq!(e.record.as_deref(), Some("line 2"));
    let e = fails(Format::Csv, "");
    assert!(e.message.starts_with("empty CSV"), "{e}");
}

#[test]
fn expired_rows_and_duplicates_are_skipped() {
    let data = "type,value,expires\ndomain,old.example,2020-01-01T00:00:00Z\ndomain,a.example,\nDomain,A.EXAMPLE.,\n";
    let imp = ok(Format::Csv, data);
    assert_eq!(values(&imp), pairs(&[("domain", "a.example")]));
    let reasons: Vec<(&str, &str)> = imp
        .skipped
        .iter()
        .map(|s| (s.record.as_str(), s.reason.as_str()))
        .collect();
    assert_eq!(
        reasons,
        [
            ("line 2", "expired at 2020-01-01T00:00:00Z"),
            ("line 4", "duplicate of domain a.example from line 3")
        ]
    );
}

#[test]
fn bad_values_are_skipped_but_bad_columns_fail() {
    let imp = ok(
        Format::Csv,
        "type,value,action\nsha256,abc,block\nFileMd5,0749BAE92CA336A02C83D126E04EC628,Audit\n",
    );
    assert_eq!(
        values(&imp),
        pairs(&[("md5", "0749bae92ca336a02c83d126e04ec628")])
    );
    assert_eq!(
        crate::skips(&imp),
        [(
            "line 2",
            "value \"abc\" is not a sha256 (64 hexadecimal digits)"
        )]
    );
    // The same bad value on a row whose action is unknown: the row is broken.
    let e = fails(Format::Csv, "type,value,action\nsha256,abc,nuke\n");
    assert_eq!(e.record.as_deref(), Some("line 2"));
    assert!(e.message.starts_with("unknown action \"nuke\""), "{e}");
}
