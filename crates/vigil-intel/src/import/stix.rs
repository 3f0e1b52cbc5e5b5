//! STIX 2.1 indicators → Vigil indicators.
//!
//! Input: a bundle, one object, or a JSON array of objects. Every object must have `type` and
//! `id` (an error names the object by id, or by its index when it has no id). Only objects of
//! type `indicator` are read; the rest (malware, relationship, identity, marking-definition,
//! observables...) are context, not indicators, and are neither imported nor counted.
//!
//! Versions: objects that share an id are versions of one indicator; the one with the latest
//! `modified` (then `created`; then the later in the input) is read, the others are skipped as
//! superseded.
//!
//! An indicator needs `pattern`; `pattern_type` defaults to `stix` (STIX 2.0 had none), any
//! other (`yara`, `snort`, `sigma`...) is skipped. The pattern is parsed first, so a broken
//! pattern fails the import even when the indicator is revoked or expired. Then `revoked:
//! true` is skipped, and so is a `valid_until` at or before now.
//!
//! What a pattern gives ([`extract`]):
//! - Matchable comparisons: `file:hashes.(MD5|SHA-1|SHA-256|SHA1|SHA256)` → md5/sha1/sha256;
//!   `ipv4-addr:value` / `ipv6-addr:value` → ip, or cidr when the value is a network or the
//!   operator is `ISSUBSET`; `domain-name:value` → domain; `url:value` → url;
//!   `x509-certificate:hashes.'SHA-1'` → cert. With `=` (a string, or `h'..'`/`b'..'` bytes
//!   for hashes) one value; with `IN (...)` one per member.
//! - `OR` (inside an observation or between observations): one indicator per matchable
//!   branch. Unmatchable branches are dropped: every value kept still implies the pattern.
//! - `AND`: every matchable side. When the other side is not matchable (a hash AND a file
//!   name, an address AND a port), the matchable equality is kept alone: it pins the object
//!   down at least as well as the whole conjunction in practice, so little is widened. When
//!   both sides are matchable (the MD5 AND the SHA-256 of one file), each becomes an
//!   indicator; for unrelated values this widens the pattern, which is accepted and
//!   documented here.
//! - Skipped with the reason: a pattern using `FOLLOWEDBY` or a qualifier (`WITHIN`,
//!   `REPEATS`, `START`/`STOP`), since one value cannot express a sequence or a count; and a
//!   pattern whose every comparison is unmatchable: `!=`, `NOT`, `LIKE`, `MATCHES`, ordering,
//!   `ISSUPERSET`, `EXISTS`, or a property Vigil does not match (e-mail, mutex, registry,
//!   network-traffic ports, file names...).
//!
//! Values are checked as their type. A matchable comparison whose value is not a valid hash,
//! address, domain or URL (`domain-name:value = 'domain evil.example'`, an MD5 of 31 digits,
//! `ISSUBSET` with a single address) names nothing Vigil can match: it is dropped like an
//! unmatchable branch and the rest of the pattern is kept; when nothing is left, the
//! indicator is skipped with the reason naming the value (that reason comes before any
//! unmatchable branch's). A matchable property compared with a literal of the wrong kind (a
//! number, a timestamp; bytes for an address) is a broken pattern: an error naming the object.
//!
//! Indicator properties: `name` → title, `description`, `valid_until` → expiry, `labels` and
//! `indicator_types` → provenance labels, `id` → provenance reference, `valid_from` (else
//! `created`) → first seen.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::json;
use super::pattern::{self, Comparison, Literal, ObjectPath, Op, Operand, Pattern, Step, Test};
use super::{address_kind, check_value, Collector, Meta};
use crate::{IndicatorType, IntelError};

/// Reads a bundle, one object, or an array of objects.
pub fn import(value: &Value, c: &mut Collector) -> Result<(), IntelError> {
    match value {
        Value::Array(items) => import_objects(items, c),
        Value::Object(o) => match o.get("type") {
            Some(Value::String(t)) if t == "bundle" => {
                let objects = json::list(o, "objects").map_err(|e| e.at("bundle"))?;
                import_objects(objects, c)
            }
            Some(Value::String(_)) => import_objects(std::slice::from_ref(value), c),
            _ if o.contains_key("objects") => Err(IntelError::invalid(
                "not a STIX bundle (no type property); a TAXII envelope? (use format taxii)",
            )),
            _ => Err(IntelError::invalid(
                "not a STIX bundle or object: missing required property type",
            )
            .at("object 0")),
        },
        other => Err(IntelError::invalid(format!(
            "expected a STIX bundle, object or array of objects, found {}",
            json::kind(other)
        ))),
    }
}

/// The record name of an object: its id when it has one, else its index.
fn record_of(o: Option<&Map<String, Value>>, index: usize) -> String {
    match o.and_then(|o| o.get("id")).and_then(Value::as_str) {
        Some(id) => format!("object {id}"),
        None => format!("object {index}"),
    }
}

/// Reads a list of STIX objects (a bundle's or a TAXII envelope's).
pub fn import_objects(objects: &[Value], c: &mut Collector) -> Result<(), IntelError> {
    // Check every object's identity first, and find the current version of each indicator.
    let mut latest: HashMap<&str, ((i64, usize), usize)> = HashMap::new();
    for (i, v) in objects.iter().enumerate() {
        let o = v.as_object().ok_or_else(|| {
            IntelError::invalid(format!("expected a STIX object, found {}", json::kind(v)))
                .at(format!("object {i}"))
        })?;
        let record = || record_of(Some(o), i);
        let kind = json::req_str(o, "type").map_err(|e| e.at(record()))?;
        let id = json::req_str(o, "id").map_err(|e| e.at(record()))?;
        if kind != "indicator" {
            continue;
        }
        let version = json::opt_time(o, "modified")
            .and_then(|m| Ok(m.or(json::opt_time(o, "created")?)))
            .map_err(|e| e.at(record()))?
            .unwrap_or(i64::MIN);
        let key = (version, i);
        let e = latest.entry(id).or_insert((key, i));
        if key > e.0 {
            *e = (key, i);
        }
    }
    for (i, v) in objects.iter().enumerate() {
        let o = v.as_object().expect("checked above");
        if o.get("type").and_then(Value::as_str) != Some("indicator") {
            continue;
        }
        let id = o.get("id").and_then(Value::as_str).expect("checked above");
        let record = record_of(Some(o), i);
        let (_, current) = latest[id];
        if current != i {
            let when = objects[current]
                .get("modified")
                .and_then(Value::as_str)
                .unwrap_or("later");
            c.skip(record, format!("superseded by the version modified {when}"));
            continue;
        }
        indicator(o, &record, c).map_err(|e| e.at(&record))?;
    }
    Ok(())
}

fn indicator(o: &Map<String, Value>, record: &str, c: &mut Collector) -> Result<(), IntelError> {
    let pattern_text = json::req_str(o, "pattern")?;
    let pattern_type = json::opt_str(o, "pattern_type")?.unwrap_or("stix");
    if !pattern_type.eq_ignore_ascii_case("stix") {
        c.skip(
            record,
            format!("pattern_type {pattern_type} is not STIX patterning (Vigil reads STIX patterns only)"),
        );
        return Ok(());
    }
    let pat = pattern::parse(pattern_text)
        .map_err(|e| IntelError::invalid(format!("pattern does not parse: {e}")))?;
    let extracted = extract(&pat)?;
    let revoked = json::opt_bool(o, "revoked")?.unwrap_or(false);
    let valid_until = json::opt_time(o, "valid_until")?;
    let valid_from = json::opt_time(o, "valid_from")?;
    let created = json::opt_time(o, "created")?;
    let mut meta = Meta {
        title: json::opt_str(o, "name")?.map(str::to_string),
        description: json::opt_str(o, "description")?.unwrap_or("").to_string(),
        reference: json::req_str(o, "id")?.to_string(),
        first_seen_ms: valid_from.or(created),
        ..Meta::default()
    };
    for l in json::str_list(o, "labels")?
        .iter()
        .chain(json::str_list(o, "indicator_types")?.iter())
    {
        meta.label(l);
    }
    if revoked {
        c.skip(record, "revoked");
        return Ok(());
    }
    meta.expires_ms = match c.expiry(valid_until) {
        Ok(e) => e,
        Err(reason) => {
            c.skip(record, reason);
            return Ok(());
        }
    };
    match extracted {
        Ok(terms) => {
            let values: Vec<(IndicatorType, &str)> =
                terms.iter().map(|t| (t.kind, t.value.as_str())).collect();
            c.add(record, &values, &meta);
        }
        Err(reason) => c.skip(record, reason),
    }
    Ok(())
}

/// One value a pattern names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    pub kind: IndicatorType,
    /// As written in the pattern (hex for byte literals); normalised when added.
    pub value: String,
}

/// What a pattern gives: the values to match (each checked as its type), or why there are
/// none. An `Err` of the outer result is a broken pattern (a matchable property compared with
/// a literal of the wrong kind).
pub fn extract(p: &Pattern) -> Result<Result<Vec<Term>, String>, IntelError> {
    if let Some(kw) = temporal(p) {
        return Ok(Err(format!(
            "the pattern uses {kw}: a sequence or count of observations over time cannot be \
             matched as single values"
        )));
    }
    Ok(obs(p)?.map_err(|why| match why {
        Why::BadValue(r) | Why::Unmatchable(r) => r,
    }))
}

/// The first time-related construct in the pattern, if any.
fn temporal(p: &Pattern) -> Option<&'static str> {
    match p {
        Pattern::Observation(_) => None,
        Pattern::FollowedBy(_) => Some("FOLLOWEDBY"),
        Pattern::Qualified(_, q) => Some(match q {
            pattern::Qualifier::Within { .. } => "WITHIN",
            pattern::Qualifier::Repeats { .. } => "REPEATS",
            pattern::Qualifier::StartStop { .. } => "START/STOP",
        }),
        Pattern::And(items) | Pattern::Or(items) => items.iter().find_map(temporal),
    }
}

/// Why a part of a pattern gives no value.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Why {
    /// A matchable comparison whose value does not check as its type.
    BadValue(String),
    /// A comparison Vigil cannot match (operator, property, negation...).
    Unmatchable(String),
}

type Extracted = Result<Result<Vec<Term>, Why>, IntelError>;

fn obs(p: &Pattern) -> Extracted {
    match p {
        Pattern::Observation(c) => comparison(c),
        Pattern::And(items) | Pattern::Or(items) => union(items.iter().map(obs)),
        // `temporal` ruled these out.
        Pattern::FollowedBy(_) | Pattern::Qualified(..) => {
            Ok(Err(Why::Unmatchable("temporal pattern".into())))
        }
    }
}

fn comparison(c: &Comparison) -> Extracted {
    match c {
        Comparison::Test(t) => test(t),
        Comparison::And(items) | Comparison::Or(items) => union(items.iter().map(comparison)),
    }
}

/// The values of every matchable part with a valid value; when there are none, the first
/// bad value's reason, else the first part's reason.
fn union(parts: impl Iterator<Item = Extracted>) -> Extracted {
    let mut terms: Vec<Term> = Vec::new();
    let mut first_bad = None;
    let mut first_unmatchable = None;
    for part in parts {
        match part? {
            Ok(ts) => {
                for t in ts {
                    if !terms.contains(&t) {
                        terms.push(t);
                    }
                }
            }
            Err(w @ Why::BadValue(_)) => {
                first_bad.get_or_insert(w);
            }
            Err(w @ Why::Unmatchable(_)) => {
                first_unmatchable.get_or_insert(w);
            }
        }
    }
    if terms.is_empty() {
        Ok(Err(first_bad.or(first_unmatchable).unwrap_or_else(|| {
            Why::Unmatchable("the pattern names no value".into())
        })))
    } else {
        Ok(Ok(terms))
    }
}

/// What a matchable object path names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Hash(IndicatorType),
    Address,
    Domain,
    Url,
    Cert,
}

fn target(path: &ObjectPath) -> Option<Target> {
    let keys: Vec<&str> = path
        .steps
        .iter()
        .map(|s| match s {
            Step::Key(k) => Some(k.as_str()),
            Step::Index(_) => None,
        })
        .collect::<Option<_>>()?;
    let hash_name = |h: &str| -> String {
        h.chars()
            .filter(|c| *c != '-' && *c != '_')
            .collect::<String>()
            .to_ascii_uppercase()
    };
    let t = path.object_type.to_ascii_lowercase();
    match (t.as_str(), keys.as_slice()) {
        ("file", ["hashes", h]) => match hash_name(h).as_str() {
            "MD5" => Some(Target::Hash(IndicatorType::Md5)),
            "SHA1" => Some(Target::Hash(IndicatorType::Sha1)),
            "SHA256" => Some(Target::Hash(IndicatorType::Sha256)),
            _ => None,
        },
        ("ipv4-addr" | "ipv6-addr", ["value"]) => Some(Target::Address),
        ("domain-name", ["value"]) => Some(Target::Domain),
        ("url", ["value"]) => Some(Target::Url),
        ("x509-certificate", ["hashes", h]) if hash_name(h) == "SHA1" => Some(Target::Cert),
        _ => None,
    }
}

fn test(t: &Test) -> Extracted {
    let path = &t.path;
    let no = |why: String| Ok(Err(Why::Unmatchable(why)));
    let Some(target) = target(path) else {
        return no(format!(
            "{path} is not a property Vigil matches (it matches file MD5/SHA-1/SHA-256 hashes, \
             ipv4-addr/ipv6-addr, domain-name and url values, and x509-certificate SHA-1)"
        ));
    };
    let op = t.op.as_str();
    if t.negated {
        return no(format!("NOT {op} on {path} names no value to match"));
    }
    let members: Vec<&Literal> = match (&t.op, &t.operand) {
        (Op::Eq, Operand::One(l)) => vec![l],
        (Op::In, Operand::Set(ls)) if ls.is_empty() => {
            return no(format!("IN () on {path} is an empty set"))
        }
        (Op::In, Operand::Set(ls)) => ls.iter().collect(),
        (Op::IsSubset, Operand::One(l)) if target == Target::Address => vec![l],
        (Op::IsSubset, _) => return no(format!("ISSUBSET on {path} is not an exact value")),
        (Op::Ne, _) => return no(format!("!= on {path} names no value to match")),
        (Op::Like | Op::Matches, _) => {
            return no(format!(
                "{op} on {path} is a wildcard or regular expression, not an exact value"
            ))
        }
        (Op::Lt | Op::Le | Op::Gt | Op::Ge, _) => {
            return no(format!("{op} on {path} is an ordering, not an exact value"))
        }
        (Op::IsSuperset, _) => return no(format!("ISSUPERSET on {path} is not an exact value")),
        _ => {
            return no(format!(
                "EXISTS {path} only tests that the property is present"
            ))
        }
    };
    // Each member is a branch of its own (`IN` is an `OR`): a bad one is dropped alone.
    let mut terms = Vec::new();
    let mut first_bad = None;
    for lit in members {
        let value = match (lit, target) {
            (Literal::Str(s), _) => s.clone(),
            (Literal::Bytes(b), Target::Hash(_) | Target::Cert) => hex::encode(b),
            (other, _) => {
                return Err(IntelError::invalid(format!(
                    "pattern compares {path} (at offset {}) with {}, expected a string",
                    t.offset,
                    literal_kind(other)
                )))
            }
        };
        let context = format!(" of {path}");
        let kind = match target {
            Target::Hash(k) => k,
            Target::Address if t.op == Op::IsSubset && !value.contains('/') => {
                first_bad.get_or_insert_with(|| {
                    format!(
                        "value {:?}{context} is not a network: ISSUBSET needs address/length",
                        value.trim()
                    )
                });
                continue;
            }
            Target::Address => address_kind(&value),
            Target::Domain => IndicatorType::Domain,
            Target::Url => IndicatorType::Url,
            Target::Cert => IndicatorType::Cert,
        };
        match check_value(kind, &value, &context) {
            Ok(()) => terms.push(Term { kind, value }),
            Err(reason) => {
                first_bad.get_or_insert(reason);
            }
        }
    }
    match first_bad {
        Some(reason) if terms.is_empty() => Ok(Err(Why::BadValue(reason))),
        _ => Ok(Ok(terms)),
    }
}

fn literal_kind(l: &Literal) -> &'static str {
    match l {
        Literal::Str(_) => "a string",
        Literal::Int(_) | Literal::Float(_) => "a number",
        Literal::Bool(_) => "a boolean",
        Literal::Bytes(_) => "a binary literal",
        Literal::Time(_) => "a timestamp",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms(src: &str) -> Result<Vec<(IndicatorType, String)>, String> {
        let p = pattern::parse(src).unwrap();
        extract(&p)
            .unwrap()
            .map(|ts| ts.into_iter().map(|t| (t.kind, t.value)).collect())
    }

    const H256: &str = "ef537f25c895bfa782526529a9b63d97aa631564d5d789c2b765448c8635fb6c";

    #[test]
    fn matchable_paths() {
        use IndicatorType::*;
        let h = H256;
        assert_eq!(
            terms(&format!("[file:hashes.'SHA-256' = '{h}']")),
            Ok(vec![(Sha256, h.into())])
        );
        assert_eq!(
            terms(&format!("[file:hashes.SHA256 = '{h}']")),
            Ok(vec![(Sha256, h.into())])
        );
        assert_eq!(
            terms(&format!("[file:hashes.'SHA-1' = '{}']", &h[..40])),
            Ok(vec![(Sha1, h[..40].into())])
        );
        assert_eq!(
            terms(&format!("[file:hashes.MD5 = '{}']", &h[..32])),
            Ok(vec![(Md5, h[..32].into())])
        );
        assert_eq!(
            terms(&format!("[file:hashes.MD5 = h'{}']", &h[..32])),
            Ok(vec![(Md5, h[..32].into())])
        );
        assert_eq!(
            terms("[ipv4-addr:value = '10.0.0.1']"),
            Ok(vec![(Ip, "10.0.0.1".into())])
        );
        assert_eq!(
            terms("[ipv4-addr:value = '10.0.0.0/8']"),
            Ok(vec![(Cidr, "10.0.0.0/8".into())])
        );
        assert_eq!(
            terms("[ipv4-addr:value ISSUBSET '10.0.0.0/8']"),
            Ok(vec![(Cidr, "10.0.0.0/8".into())])
        );
        assert_eq!(
            terms("[ipv6-addr:value = '2001:db8::1']"),
            Ok(vec![(Ip, "2001:db8::1".into())])
        );
        assert_eq!(
            terms("[domain-name:value = 'evil.com']"),
            Ok(vec![(Domain, "evil.com".into())])
        );
        assert_eq!(
            terms("[url:value = 'http://evil.com/x']"),
            Ok(vec![(Url, "http://evil.com/x".into())])
        );
        assert_eq!(
            terms(&format!(
                "[x509-certificate:hashes.'SHA-1' = '{}']",
                &h[..40]
            )),
            Ok(vec![(Cert, h[..40].into())])
        );
        assert_eq!(
            terms("[domain-name:value IN ('a.com', 'b.com')]"),
            Ok(vec![(Domain, "a.com".into()), (Domain, "b.com".into())])
        );
    }

    #[test]
    fn and_or_semantics() {
        use IndicatorType::*;
        // OR: each matchable branch; the unmatchable one is dropped.
        assert_eq!(
            terms("[domain-name:value = 'a.com' OR email-addr:value = 'x@y.z'] OR [ipv4-addr:value = '1.2.3.4']"),
            Ok(vec![(Domain, "a.com".into()), (Ip, "1.2.3.4".into())])
        );
        // AND with an unmatchable side: the matchable equality alone.
        assert_eq!(
            terms(&format!(
                "[file:hashes.'SHA-256' = '{H256}' AND file:name = 'x.exe']"
            )),
            Ok(vec![(Sha256, H256.into())])
        );
        assert_eq!(
            terms("[ipv4-addr:value = '1.2.3.4' AND network-traffic:dst_port = 443]"),
            Ok(vec![(Ip, "1.2.3.4".into())])
        );
        // AND of two matchable sides: both.
        assert_eq!(
            terms(&format!(
                "[file:hashes.MD5 = '{}' AND file:hashes.'SHA-256' = '{H256}']",
                &H256[..32]
            )),
            Ok(vec![(Md5, H256[..32].into()), (Sha256, H256.into())])
        );
    }

    #[test]
    fn unmatchable_patterns_say_why() {
        let why = |src: &str| terms(src).unwrap_err();
        assert!(why("[a:x = '1'] FOLLOWEDBY [ipv4-addr:value = '1.2.3.4']").contains("FOLLOWEDBY"));
        assert!(why("[ipv4-addr:value = '1.2.3.4'] REPEATS 2 TIMES").contains("REPEATS"));
        assert!(why("[ipv4-addr:value = '1.2.3.4'] WITHIN 5 SECONDS").contains("WITHIN"));
        assert!(why("[ipv4-addr:value != '1.2.3.4']").contains("!="));
        assert!(why("[ipv4-addr:value NOT = '1.2.3.4']").contains("NOT"));
        assert!(why("[url:value LIKE 'http://%']").contains("LIKE"));
        assert!(why("[url:value MATCHES '^http']").contains("MATCHES"));
        assert!(why("[ipv4-addr:value ISSUPERSET '1.2.3.4/32']").contains("ISSUPERSET"));
        assert!(why("[EXISTS url:value]").contains("EXISTS"));
        assert!(why("[email-message:subject = 'hi']")
            .contains("email-message:subject is not a property"));
        assert!(why("[mutex:name = 'x' AND windows-registry-key:key = 'y']").contains("mutex:name"));
        assert!(why("[file:hashes.'SHA-512' = 'aa']").contains("not a property"));
        assert!(why("[file:name = 'x.exe']").contains("file:name"));
    }

    #[test]
    fn bad_values_are_dropped_and_named() {
        use IndicatorType::*;
        let why = |src: &str| terms(src).unwrap_err();
        assert_eq!(
            why("[domain-name:value = 'domain bad.example']"),
            "value \"domain bad.example\" of domain-name:value is not a domain name \
             (bad label \"domain bad\")"
        );
        assert_eq!(
            why("[file:hashes.MD5 = 'abc']"),
            "value \"abc\" of file:hashes.MD5 is not a md5 (32 hexadecimal digits)"
        );
        assert!(why("[ipv4-addr:value ISSUBSET '10.0.0.1']").contains("is not a network"));
        // The bad branch is dropped, the rest kept (OR, AND, IN alike).
        assert_eq!(
            terms("[domain-name:value = 'a b.example' OR ipv4-addr:value = '10.0.0.1']"),
            Ok(vec![(Ip, "10.0.0.1".into())])
        );
        assert_eq!(
            terms("[url:value = 'http://x y/' AND domain-name:value = 'x.example']"),
            Ok(vec![(Domain, "x.example".into())])
        );
        assert_eq!(
            terms("[domain-name:value IN ('a b', 'c.example')]"),
            Ok(vec![(Domain, "c.example".into())])
        );
        // With nothing left, the bad value is the reason, before an unmatchable branch's.
        assert!(
            why("[email-addr:value = 'x@y.z' OR domain-name:value = 'a b']")
                .starts_with("value \"a b\" of domain-name:value")
        );
    }

    #[test]
    fn literals_of_the_wrong_kind_are_errors() {
        let err = |src: &str| extract(&pattern::parse(src).unwrap()).unwrap_err().message;
        assert!(err("[ipv4-addr:value = 5]").contains("with a number, expected a string"));
        assert!(
            err("[domain-name:value = 'ok.example' OR ipv4-addr:value = h'0a000001']")
                .contains("with a binary literal")
        );
        // An unmatchable property is not checked.
        assert!(extract(&pattern::parse("[file:name = 5]").unwrap())
            .unwrap()
            .is_err());
    }
}
