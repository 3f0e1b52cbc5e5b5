//! MISP warning lists: each list type, matching_attributes, applying lists to an import, and
//! lists that do not load.

use vigil_intel::import::warninglist::WarningList;
use vigil_intel::import::Format;
use vigil_intel::{Indicator, IndicatorType};

use crate::ok;

fn list(ty: &str, entries: &[&str]) -> WarningList {
    let json = serde_json::json!({"name": format!("test {ty}"), "type": ty, "list": entries, "version": 1});
    let l = WarningList::parse(json.to_string().as_bytes()).unwrap();
    assert_eq!(
        (l.name(), l.kind_name()),
        (format!("test {ty}").as_str(), ty)
    );
    l
}

fn ind(kind: IndicatorType, v: &str) -> Indicator {
    Indicator::new(kind, v).unwrap()
}

#[test]
fn string_lists_compare_whole_values() {
    let l = list(
        "string",
        &["8.8.8.8", "2001:4860:4860:0:0:0:0:8888", "Example.COM"],
    );
    assert!(l.covers(&ind(IndicatorType::Ip, "8.8.8.8")));
    assert!(l.covers(&ind(IndicatorType::Ip, "2001:4860:4860::8888")));
    assert!(l.covers(&ind(IndicatorType::Domain, "example.com")));
    assert!(!l.covers(&ind(IndicatorType::Domain, "a.example.com")));
    assert!(!l.covers(&ind(IndicatorType::Ip, "8.8.4.4")));
}

#[test]
fn hostname_lists_cover_subdomains_and_url_hosts() {
    let l = list("hostname", &["google.com", ".gstatic.com"]);
    assert!(l.covers(&ind(IndicatorType::Domain, "google.com")));
    assert!(l.covers(&ind(IndicatorType::Domain, "mail.google.com")));
    assert!(l.covers(&ind(IndicatorType::Url, "https://fonts.gstatic.com/x")));
    assert!(!l.covers(&ind(IndicatorType::Domain, "notgoogle.com")));
    assert!(!l.covers(&ind(IndicatorType::Domain, "google.com.evil.example")));
    assert!(!l.covers(&ind(IndicatorType::Ip, "8.8.8.8")));
}

#[test]
fn cidr_lists_cover_addresses_and_contained_networks() {
    let l = list("cidr", &["10.0.0.0/8", "2001:db8::/32", "192.0.2.1"]);
    assert!(l.covers(&ind(IndicatorType::Ip, "10.1.2.3")));
    assert!(l.covers(&ind(IndicatorType::Ip, "::ffff:10.1.2.3")));
    assert!(l.covers(&ind(IndicatorType::Cidr, "10.20.0.0/16")));
    assert!(!l.covers(&ind(IndicatorType::Cidr, "10.0.0.0/7")));
    assert!(l.covers(&ind(IndicatorType::Ip, "2001:db8::42")));
    assert!(l.covers(&ind(IndicatorType::Ip, "192.0.2.1")));
    assert!(!l.covers(&ind(IndicatorType::Ip, "192.0.2.2")));
    assert!(l.covers(&ind(IndicatorType::Url, "http://10.9.9.9:8080/x")));
    assert!(!l.covers(&ind(IndicatorType::Domain, "ten.example")));
}

#[test]
fn substring_and_regex_lists() {
    let l = list("substring", &["amazonaws"]);
    assert!(l.covers(&ind(IndicatorType::Domain, "s3.AmazonAWS.com")));
    assert!(!l.covers(&ind(IndicatorType::Domain, "amazon.com")));
    let l = list("regex", &["/^.*\\.example\\.org$/i", "^[0-9a-f]{30}00$"]);
    assert!(l.covers(&ind(IndicatorType::Domain, "www.example.org")));
    assert!(l.covers(&ind(IndicatorType::Md5, &format!("{}00", "a".repeat(30)))));
    assert!(!l.covers(&ind(IndicatorType::Domain, "example.org.evil.example")));
}

#[test]
fn matching_attributes_restrict_the_types() {
    let json = r#"{"name": "resolvers", "type": "string", "list": ["dns.example"], "matching_attributes": ["ip-dst"]}"#;
    let l = WarningList::parse(json.as_bytes()).unwrap();
    assert!(
        !l.covers(&ind(IndicatorType::Domain, "dns.example")),
        "a domain is not an ip-dst"
    );
    let json = r#"{"name": "resolvers", "type": "string", "list": ["dns.example"], "matching_attributes": ["hostname", "domain"]}"#;
    assert!(WarningList::parse(json.as_bytes())
        .unwrap()
        .covers(&ind(IndicatorType::Domain, "dns.example")));
}

#[test]
fn applying_lists_moves_covered_indicators_to_skipped() {
    let data = "type,value\ndomain,www.google.com\ndomain,evil.example\nip,8.8.8.8\n";
    let mut imp = ok(Format::Csv, data);
    imp.apply_warning_lists(&[
        list("hostname", &["google.com"]),
        list("cidr", &["8.8.8.0/24"]),
    ]);
    let left: Vec<&str> = imp.indicators.iter().map(|i| i.value.as_str()).collect();
    assert_eq!(left, ["evil.example"]);
    assert_eq!(imp.skipped.len(), 2);
    assert_eq!(imp.skipped[0].record, "line 2");
    assert_eq!(
        imp.skipped[0].reason,
        "domain www.google.com is on the warning list \"test hostname\""
    );
    assert_eq!(
        imp.skipped[1].reason,
        "ip 8.8.8.8 is on the warning list \"test cidr\""
    );
}

#[test]
fn lists_that_do_not_load_say_why() {
    let bad = |json: &str| WarningList::parse(json.as_bytes()).unwrap_err();
    let e = bad(r#"{"name": "n", "type": "cidr", "list": ["10.0.0.0/8", "10.0.0.0/40"]}"#);
    assert_eq!(e.record.as_deref(), Some("warning list \"n\" entry 1"));
    let e = bad(r#"{"name": "n", "type": "regex", "list": ["(unclosed"]}"#);
    assert!(e.message.contains("does not compile"), "{e}");
    let e = bad(r#"{"name": "n", "type": "regex", "list": ["/x/g"]}"#);
    assert!(e.message.contains("flag 'g' is not supported"), "{e}");
    let e = bad(r#"{"name": "n", "type": "fuzzy", "list": []}"#);
    assert!(
        e.message.contains("unknown warning list type \"fuzzy\""),
        "{e}"
    );
    let e = bad(r#"{"type": "string", "list": []}"#);
    assert_eq!(e.message, "missing required property name");
    let e = bad(r#"{"name": "n", "list": [1, {}]}"#);
    assert!(e.message.contains("list entries must be strings"), "{e}");
}
