//! Golden tests for rules: events in, expected raise (or not) out.
//!
//! A golden file (`content/tests/**/*.yml`) tests one rule:
//!
//! ```yaml
//! rule: 5b0d...                # id (or name) of the rule under test
//! match:                       # each case must raise the rule (a correlation: on its last event)
//!   - name: reverse shell via bash /dev/tcp
//!     events:
//!       - table: DeviceProcessEvents
//!         ActionType: ProcessCreated
//!         Timestamp: 2026-01-01T00:00:00Z   # optional; default: 1 s after the previous event
//!         FolderPath: /usr/bin/bash
//!         AdditionalFields: {cwd: /tmp}
//! no_match:                    # each case must not raise the rule on any event
//!   - name: admin runs bash
//!     events: [...]
//! ```
//!
//! Events use Vigil column names; each case runs on a fresh [`Evaluator`] over the whole rule
//! set, so the test also exercises the mapping, the index and the other rules' presence.

use serde_yaml::Value as Y;

use crate::eval::Evaluator;
use crate::event::{OwnedEvent, Value};
use crate::ruleset::RuleSet;

/// The default time of a case's first event: 2026-01-01T00:00:00Z.
pub const BASE_MS: i64 = 1_767_225_600_000;

/// One parsed golden file.
#[derive(Debug, Clone)]
pub struct GoldenFile {
    pub path: String,
    /// Id or name of the rule under test.
    pub rule: String,
    pub cases: Vec<Case>,
}

/// One case of a golden file.
#[derive(Debug, Clone)]
pub struct Case {
    pub name: String,
    /// `true` in `match`, `false` in `no_match`.
    pub should_match: bool,
    pub events: Vec<OwnedEvent>,
}

impl GoldenFile {
    pub fn matches(&self) -> usize {
        self.cases.iter().filter(|c| c.should_match).count()
    }

    pub fn no_matches(&self) -> usize {
        self.cases.iter().filter(|c| !c.should_match).count()
    }
}

/// Parse a golden file. Unknown keys are errors.
pub fn parse(path: &str, text: &str) -> Result<GoldenFile, String> {
    let doc: Y = serde_yaml::from_str(text).map_err(|e| format!("{path}: malformed yaml: {e}"))?;
    let map = doc
        .as_mapping()
        .ok_or_else(|| format!("{path}: a golden file must be a yaml map"))?;
    let mut rule = None;
    let mut cases = Vec::new();
    for (k, v) in map {
        match k.as_str() {
            Some("rule") => {
                rule = Some(scalar(v).ok_or(format!("{path}: `rule` must be a string"))?)
            }
            Some(section @ ("match" | "no_match")) => {
                let should = section == "match";
                let list = v
                    .as_sequence()
                    .ok_or_else(|| format!("{path}: `{section}` must be a list of cases"))?;
                for (i, c) in list.iter().enumerate() {
                    cases.push(
                        parse_case(c, should)
                            .map_err(|e| format!("{path}: {section}[{i}]: {e}"))?,
                    );
                }
            }
            _ => return Err(format!("{path}: unknown key {k:?} (rule, match, no_match)")),
        }
    }
    let rule = rule.ok_or_else(|| format!("{path}: missing `rule`"))?;
    Ok(GoldenFile {
        path: path.to_string(),
        rule,
        cases,
    })
}

fn scalar(v: &Y) -> Option<String> {
    match v {
        Y::String(s) => Some(s.clone()),
        Y::Number(n) => Some(n.to_string()),
        Y::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn parse_case(c: &Y, should_match: bool) -> Result<Case, String> {
    let map = c.as_mapping().ok_or("a case must be a map")?;
    let mut name = None;
    let mut events = Vec::new();
    for (k, v) in map {
        match k.as_str() {
            Some("name") => name = scalar(v),
            Some("events") => {
                let list = v.as_sequence().ok_or("`events` must be a list")?;
                let mut next_ms = BASE_MS;
                for (i, e) in list.iter().enumerate() {
                    let ev = parse_event(e, next_ms).map_err(|m| format!("event {i}: {m}"))?;
                    next_ms = crate::event::Event::timestamp_ms(&ev) + 1_000;
                    events.push(ev);
                }
            }
            _ => return Err(format!("unknown key {k:?} (name, events)")),
        }
    }
    let name = name.ok_or("missing `name`")?;
    if events.is_empty() {
        return Err(format!("case `{name}` has no events"));
    }
    Ok(Case {
        name,
        should_match,
        events,
    })
}

fn parse_event(e: &Y, default_ms: i64) -> Result<OwnedEvent, String> {
    let map = e.as_mapping().ok_or("an event must be a map")?;
    let table = map
        .get("table")
        .and_then(Y::as_str)
        .ok_or("missing `table`")?;
    let ts = match map.get("Timestamp") {
        None => default_ms,
        Some(Y::Number(n)) => n
            .as_i64()
            .ok_or("`Timestamp` must be an integer (ms) or RFC 3339")?,
        Some(Y::String(s)) => parse_rfc3339(s).ok_or_else(|| format!("bad Timestamp `{s}`"))?,
        Some(_) => return Err("`Timestamp` must be an integer (ms) or RFC 3339".into()),
    };
    let mut ev = OwnedEvent::new(table.to_string(), ts);
    for (k, v) in map {
        let Some(k) = k.as_str() else {
            return Err("column names must be strings".into());
        };
        if k == "table" || k == "Timestamp" {
            continue;
        }
        ev.set(k.to_string(), value(v));
    }
    Ok(ev)
}

fn value(v: &Y) -> Value {
    match v {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(*b),
        Y::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::Str(n.to_string()),
        },
        Y::String(s) => Value::Str(s.clone()),
        Y::Sequence(s) => Value::Array(s.iter().map(value).collect()),
        Y::Mapping(m) => Value::Object(
            m.iter()
                .map(|(k, v)| (scalar(k).unwrap_or_default(), value(v)))
                .collect(),
        ),
        Y::Tagged(t) => value(&t.value),
    }
}

/// `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)` → ms since the epoch.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let s = s.trim();
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> { s.get(r)?.parse().ok() };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let mut rest = &s[19..];
    let mut ms = 0i64;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let f = &frac[..digits];
        let padded = format!("{:0<3}", &f[..f.len().min(3)]);
        ms = padded.parse().ok()?;
        rest = &frac[digits..];
    }
    let offset_min = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let oh: i64 = rest.get(1..3)?.parse().ok()?;
            let om: i64 = rest.get(4..6)?.parse().ok()?;
            if rest.len() != 6 || rest.as_bytes()[3] != b':' {
                return None;
            }
            sign * (oh * 60 + om)
        }
    };
    // Days from the civil date (proleptic Gregorian).
    let (y2, m2) = if mo <= 2 {
        (y - 1, mo + 9)
    } else {
        (y, mo - 3)
    };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let doy = (153 * m2 + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + h * 3600 + mi * 60 + se - offset_min * 60;
    Some(secs * 1000 + ms)
}

/// Run a golden file's cases; returns one message per failed case.
pub fn run(set: &RuleSet, file: &GoldenFile) -> Vec<String> {
    let Some(rule) = set.find(&file.rule) else {
        return vec![format!(
            "{}: rule `{}` is not in the loaded rule set",
            file.path, file.rule
        )];
    };
    let mut failures = Vec::new();
    let mut out = Vec::new();
    for case in &file.cases {
        let mut ev = Evaluator::new(set).include_referenced(true);
        let mut raised_at = Vec::new();
        for (i, e) in case.events.iter().enumerate() {
            out.clear();
            ev.evaluate(e, &mut out);
            if out.iter().any(|d| d.rule == rule) {
                raised_at.push(i);
            }
        }
        let last = case.events.len() - 1;
        let is_corr = matches!(
            set.rule(rule).map(|r| r.kind),
            Some(crate::RuleKind::Correlation(_))
        );
        let ok = if case.should_match {
            if is_corr {
                raised_at.contains(&last)
            } else {
                !raised_at.is_empty()
            }
        } else {
            raised_at.is_empty()
        };
        if !ok {
            let what = if case.should_match {
                if is_corr {
                    format!("expected the rule on the last event (raised on events {raised_at:?})")
                } else {
                    "expected the rule to be raised, it was not".to_string()
                }
            } else {
                format!("expected no raise, raised on events {raised_at:?}")
            };
            failures.push(format!(
                "{}: {} case `{}`: {what}",
                file.path,
                if case.should_match {
                    "match"
                } else {
                    "no_match"
                },
                case.name
            ));
        }
    }
    failures
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339() {
        assert_eq!(parse_rfc3339("2026-01-01T00:00:00Z"), Some(BASE_MS));
        assert_eq!(parse_rfc3339("1970-01-01T00:00:01.5Z"), Some(1_500));
        assert_eq!(parse_rfc3339("1970-01-01T01:00:00+01:00"), Some(0));
        assert_eq!(parse_rfc3339("2000-02-29T12:00:00Z"), Some(951_825_600_000));
        assert_eq!(parse_rfc3339("2026-13-01T00:00:00Z"), None);
        assert_eq!(parse_rfc3339("yesterday"), None);
    }

    #[test]
    fn golden_files_parse_strictly() {
        let g = parse(
            "t.yml",
            "rule: r1\nmatch:\n  - name: a\n    events:\n      - {table: T, X: 1, AdditionalFields: {cwd: /tmp}}\n      - {table: T, Timestamp: 5}\n      - {table: T}\nno_match:\n  - name: b\n    events: [{table: T}]\n",
        )
        .unwrap();
        assert_eq!(g.rule, "r1");
        assert_eq!((g.matches(), g.no_matches()), (1, 1));
        let evs = &g.cases[0].events;
        use crate::event::{Event, FieldRef};
        assert_eq!(evs[0].timestamp_ms(), BASE_MS);
        assert_eq!(
            evs[0].field("AdditionalFields.cwd"),
            Some(FieldRef::Str("/tmp"))
        );
        assert_eq!(evs[1].timestamp_ms(), 5);
        assert_eq!(evs[2].timestamp_ms(), 1_005);
        let e = parse("t.yml", "rule: r\nmatches: []\n").unwrap_err();
        assert!(e.contains("unknown key"), "{e}");
        let e = parse(
            "t.yml",
            "rule: r\nmatch:\n  - name: a\n    events: [{X: 1}]\n",
        )
        .unwrap_err();
        assert!(e.contains("missing `table`"), "{e}");
    }
}
