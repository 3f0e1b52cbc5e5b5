//! Sigma YAML → syntax tree: rules, correlation rules and filters, from one- or multi-document
//! files, with the legacy `action: global | reset | repeat` collections merged first.
//!
//! This module only checks the shape of the documents; field names, modifiers and conditions
//! are checked when a rule is compiled against the mapping.

use serde::Deserialize;
use serde_yaml::{Mapping as YMap, Value as Y};

use crate::Issue;

/// One Sigma document.
#[derive(Debug, Clone)]
pub enum Document {
    Rule(RuleDoc),
    Correlation(CorrelationDoc),
    Filter(FilterDoc),
}

impl Document {
    /// The descriptive part common to every kind of document.
    pub fn meta(&self) -> &Meta {
        match self {
            Document::Rule(r) => &r.meta,
            Document::Correlation(c) => &c.meta,
            Document::Filter(f) => &f.meta,
        }
    }
}

/// Descriptive attributes of a document.
#[derive(Debug, Clone, Default)]
pub struct Meta {
    pub title: String,
    pub id: Option<String>,
    pub name: Option<String>,
    pub status: Option<String>,
    pub level: Option<String>,
    pub description: Option<String>,
    pub tags: Vec<String>,
    pub falsepositives: Vec<String>,
    pub fields: Vec<String>,
}

/// `logsource`: which kind of log a rule reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogSource {
    pub product: Option<String>,
    pub category: Option<String>,
    pub service: Option<String>,
}

impl std::fmt::Display for LogSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<&str> = [&self.product, &self.category, &self.service]
            .iter()
            .filter_map(|p| p.as_deref())
            .collect();
        if parts.is_empty() {
            f.write_str("(empty)")
        } else {
            f.write_str(&parts.join("/"))
        }
    }
}

/// A detection rule.
#[derive(Debug, Clone)]
pub struct RuleDoc {
    pub meta: Meta,
    pub logsource: LogSource,
    pub detection: Detection,
}

/// `detection`: named searches and the condition over them.
#[derive(Debug, Clone)]
pub struct Detection {
    pub searches: Vec<(String, Search)>,
    /// One or more conditions (a list is an OR of its elements).
    pub conditions: Vec<String>,
}

/// A search identifier's body.
#[derive(Debug, Clone)]
pub enum Search {
    /// A map: AND across its items.
    All(Vec<FieldItem>),
    /// A list of maps (or of keyword lists): OR across elements.
    Any(Vec<Search>),
}

/// One `field|mod|mod: values` item; `field` is `None` for keywords.
#[derive(Debug, Clone)]
pub struct FieldItem {
    /// The key as written, for messages.
    pub key: String,
    pub field: Option<String>,
    pub modifiers: Vec<String>,
    pub values: Vec<SValue>,
}

/// A scalar value in a detection.
#[derive(Debug, Clone, PartialEq)]
pub enum SValue {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
}

impl SValue {
    /// The value as Sigma text (numbers and booleans compare as their text).
    pub fn text(&self) -> Option<String> {
        match self {
            SValue::Null => None,
            SValue::Bool(b) => Some(b.to_string()),
            SValue::Int(i) => Some(i.to_string()),
            SValue::Float(f) => Some(f.to_string()),
            SValue::Str(s) => Some(s.clone()),
        }
    }
}

/// A correlation rule.
#[derive(Debug, Clone)]
pub struct CorrelationDoc {
    pub meta: Meta,
    pub kind: CorrelationKind,
    pub rules: Vec<String>,
    pub group_by: Vec<String>,
    pub timespan_ms: i64,
    pub condition: Vec<(CmpOp, i64)>,
    /// `value_count`: the field whose distinct values are counted.
    pub field: Option<String>,
    /// alias → (rule name or id → field).
    pub aliases: Vec<(String, Vec<(String, String)>)>,
    pub generate: bool,
}

/// The correlation types of Sigma v2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CorrelationKind {
    EventCount,
    ValueCount,
    Temporal,
    TemporalOrdered,
}

impl CorrelationKind {
    pub fn name(self) -> &'static str {
        match self {
            CorrelationKind::EventCount => "event_count",
            CorrelationKind::ValueCount => "value_count",
            CorrelationKind::Temporal => "temporal",
            CorrelationKind::TemporalOrdered => "temporal_ordered",
        }
    }
}

/// A comparison of a correlation condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Gt,
    Gte,
    Lt,
    Lte,
    Eq,
}

impl CmpOp {
    pub fn holds(self, count: i64, bound: i64) -> bool {
        match self {
            CmpOp::Gt => count > bound,
            CmpOp::Gte => count >= bound,
            CmpOp::Lt => count < bound,
            CmpOp::Lte => count <= bound,
            CmpOp::Eq => count == bound,
        }
    }
}

/// A Sigma filter: extra conditions ANDed onto the named rules.
#[derive(Debug, Clone)]
pub struct FilterDoc {
    pub meta: Meta,
    pub logsource: LogSource,
    pub rules: Vec<String>,
    pub detection: Detection,
}

/// Parse every document of a YAML file.
///
/// Returns one result per document; a file that is not YAML at all gives one error.
pub fn parse_file(text: &str) -> Vec<Result<Document, Issue>> {
    let mut raw = Vec::new();
    for de in serde_yaml::Deserializer::from_str(text) {
        match Y::deserialize(de) {
            Ok(v) => raw.push(v),
            Err(e) => return vec![Err(Issue::invalid(format!("malformed yaml: {e}")))],
        }
    }
    let docs = match merge_collection(raw) {
        Ok(d) => d,
        Err(e) => return vec![Err(e)],
    };
    if docs.is_empty() {
        return vec![Err(Issue::invalid("file holds no yaml document"))];
    }
    docs.into_iter().map(|d| parse_document(&d)).collect()
}

/// Apply the legacy collection actions: `global` documents are merged into the following ones,
/// `reset` clears the global, `repeat` re-uses the previous document with changes.
fn merge_collection(raw: Vec<Y>) -> Result<Vec<Y>, Issue> {
    let mut out: Vec<Y> = Vec::new();
    let mut global: Option<YMap> = None;
    let mut previous: Option<Y> = None;
    for doc in raw {
        if doc.is_null() {
            continue;
        }
        let Y::Mapping(mut map) = doc else {
            return Err(Issue::invalid("a sigma document must be a yaml map"));
        };
        let action = map.remove("action");
        match action.as_ref().and_then(Y::as_str) {
            Some("global") => {
                global = Some(map);
                continue;
            }
            Some("reset") => {
                global = None;
                continue;
            }
            Some("repeat") => {
                let base = previous.clone().ok_or_else(|| {
                    Issue::invalid("`action: repeat` without a previous document")
                })?;
                let merged = deep_merge(base, Y::Mapping(map));
                previous = Some(merged.clone());
                out.push(merged);
                continue;
            }
            // Correlation documents of the 2023 draft used `action: correlation`.
            Some("correlation") | None => {}
            Some(other) => {
                return Err(Issue::invalid(format!(
                    "unknown collection action `{other}`"
                )));
            }
        }
        let merged = match &global {
            Some(g) => deep_merge(Y::Mapping(g.clone()), Y::Mapping(map)),
            None => Y::Mapping(map),
        };
        previous = Some(merged.clone());
        out.push(merged);
    }
    Ok(out)
}

/// Merge `over` into `base`: maps merge key by key, anything else is replaced.
fn deep_merge(base: Y, over: Y) -> Y {
    match (base, over) {
        (Y::Mapping(mut b), Y::Mapping(o)) => {
            for (k, v) in o {
                let merged = match b.remove(&k) {
                    Some(old) => deep_merge(old, v),
                    None => v,
                };
                b.insert(k, merged);
            }
            Y::Mapping(b)
        }
        (_, o) => o,
    }
}

fn parse_document(doc: &Y) -> Result<Document, Issue> {
    let map = doc
        .as_mapping()
        .ok_or_else(|| Issue::invalid("a sigma document must be a yaml map"))?;
    let meta = parse_meta(map)?;
    if let Some(c) = map.get("correlation") {
        return parse_correlation(meta, map, c).map(Document::Correlation);
    }
    if let Some(f) = map.get("filter") {
        let logsource = parse_logsource(map.get("logsource"))?;
        let fmap = f
            .as_mapping()
            .ok_or_else(|| Issue::invalid("`filter` must be a map"))?;
        let rules = string_list(fmap.get("rules"), "filter.rules")?;
        if rules.is_empty() {
            return Err(Issue::invalid("`filter.rules` names no rule"));
        }
        let mut body = fmap.clone();
        body.remove("rules");
        let detection = parse_detection(&body, "filter")?;
        return Ok(Document::Filter(FilterDoc {
            meta,
            logsource,
            rules,
            detection,
        }));
    }
    let det = map
        .get("detection")
        .ok_or_else(|| Issue::invalid("missing `detection`"))?
        .as_mapping()
        .ok_or_else(|| Issue::invalid("`detection` must be a map"))?;
    if map.get("logsource").is_none() {
        return Err(Issue::invalid("missing `logsource`"));
    }
    let logsource = parse_logsource(map.get("logsource"))?;
    let detection = parse_detection(det, "detection")?;
    Ok(Document::Rule(RuleDoc {
        meta,
        logsource,
        detection,
    }))
}

fn parse_meta(map: &YMap) -> Result<Meta, Issue> {
    let title = match map.get("title") {
        Some(Y::String(s)) if !s.trim().is_empty() => s.clone(),
        Some(_) => return Err(Issue::invalid("`title` must be a non-empty string")),
        None => return Err(Issue::invalid("missing `title`")),
    };
    Ok(Meta {
        title,
        id: scalar_string(map.get("id"), "id")?,
        name: scalar_string(map.get("name"), "name")?,
        status: scalar_string(map.get("status"), "status")?,
        level: scalar_string(map.get("level"), "level")?,
        description: scalar_string(map.get("description"), "description")?,
        tags: string_list(map.get("tags"), "tags")?,
        falsepositives: string_list(map.get("falsepositives"), "falsepositives")?,
        fields: string_list(map.get("fields"), "fields")?,
    })
}

fn scalar_string(v: Option<&Y>, what: &str) -> Result<Option<String>, Issue> {
    match v {
        None | Some(Y::Null) => Ok(None),
        Some(Y::String(s)) => Ok(Some(s.clone())),
        Some(Y::Number(n)) => Ok(Some(n.to_string())),
        Some(Y::Bool(b)) => Ok(Some(b.to_string())),
        Some(_) => Err(Issue::invalid(format!("`{what}` must be a string"))),
    }
}

fn string_list(v: Option<&Y>, what: &str) -> Result<Vec<String>, Issue> {
    match v {
        None | Some(Y::Null) => Ok(Vec::new()),
        Some(Y::Sequence(items)) => items
            .iter()
            .map(|i| {
                scalar_string(Some(i), what)?
                    .ok_or_else(|| Issue::invalid(format!("`{what}` holds a null")))
            })
            .collect(),
        Some(other) => Ok(vec![scalar_string(Some(other), what)?.unwrap_or_default()]),
    }
}

fn parse_logsource(v: Option<&Y>) -> Result<LogSource, Issue> {
    let Some(v) = v else {
        return Ok(LogSource::default());
    };
    let map = v
        .as_mapping()
        .ok_or_else(|| Issue::invalid("`logsource` must be a map"))?;
    let get = |k: &str| scalar_string(map.get(k), &format!("logsource.{k}"));
    Ok(LogSource {
        product: get("product")?.map(|s| s.to_ascii_lowercase()),
        category: get("category")?.map(|s| s.to_ascii_lowercase()),
        service: get("service")?.map(|s| s.to_ascii_lowercase()),
    })
}

/// Parse a detection map (`where` names the section for messages).
pub(crate) fn parse_detection(det: &YMap, where_: &str) -> Result<Detection, Issue> {
    let mut searches = Vec::new();
    let mut conditions = Vec::new();
    for (k, v) in det {
        let key = k
            .as_str()
            .ok_or_else(|| Issue::invalid(format!("`{where_}` has a non-string key")))?;
        match key {
            "condition" => match v {
                Y::String(s) => conditions.push(s.clone()),
                Y::Sequence(items) => {
                    for i in items {
                        let s = i.as_str().ok_or_else(|| {
                            Issue::invalid(format!("`{where_}.condition` must be strings"))
                        })?;
                        conditions.push(s.to_string());
                    }
                }
                _ => {
                    return Err(Issue::invalid(format!(
                        "`{where_}.condition` must be a string"
                    )))
                }
            },
            // Sigma v1's aggregation window: meaningless without an aggregation, which the
            // condition parser rejects with its own message.
            "timeframe" => {}
            _ => {
                let s =
                    parse_search(v).map_err(|e| e.context(format!("{where_}: search `{key}`")))?;
                searches.push((key.to_string(), s));
            }
        }
    }
    if conditions.is_empty() {
        return Err(Issue::invalid(format!("`{where_}` has no `condition`")));
    }
    Ok(Detection {
        searches,
        conditions,
    })
}

fn parse_search(v: &Y) -> Result<Search, Issue> {
    match v {
        Y::Mapping(m) => {
            let mut items = Vec::new();
            for (k, val) in m {
                let key = match k {
                    Y::String(s) => s.clone(),
                    Y::Number(n) => n.to_string(),
                    _ => return Err(Issue::invalid("a field name must be a string")),
                };
                let mut parts = key.split('|');
                let field = parts.next().unwrap_or_default().trim().to_string();
                let modifiers: Vec<String> = parts.map(|p| p.trim().to_string()).collect();
                let values = parse_values(val).map_err(|e| e.context(format!("field `{key}`")))?;
                items.push(FieldItem {
                    field: (!field.is_empty()).then_some(field),
                    key,
                    modifiers,
                    values,
                });
            }
            if items.is_empty() {
                return Err(Issue::invalid("empty map"));
            }
            Ok(Search::All(items))
        }
        Y::Sequence(seq) => {
            if seq.is_empty() {
                return Err(Issue::invalid("empty list"));
            }
            // Scalars of a list form one keyword item; maps are alternatives.
            let mut keywords = Vec::new();
            let mut alts = Vec::new();
            for el in seq {
                match el {
                    Y::Mapping(_) => alts.push(parse_search(el)?),
                    Y::Sequence(_) => return Err(Issue::invalid("nested lists are not sigma")),
                    other => keywords.push(scalar(other)?),
                }
            }
            if !keywords.is_empty() {
                alts.push(Search::All(vec![FieldItem {
                    key: "keywords".into(),
                    field: None,
                    modifiers: Vec::new(),
                    values: keywords,
                }]));
            }
            Ok(if alts.len() == 1 {
                alts.remove(0)
            } else {
                Search::Any(alts)
            })
        }
        Y::Tagged(t) => parse_search(&t.value),
        other => Ok(Search::All(vec![FieldItem {
            key: "keywords".into(),
            field: None,
            modifiers: Vec::new(),
            values: vec![scalar(other)?],
        }])),
    }
}

fn parse_values(v: &Y) -> Result<Vec<SValue>, Issue> {
    match v {
        Y::Sequence(seq) => {
            if seq.is_empty() {
                return Err(Issue::invalid("empty value list"));
            }
            seq.iter().map(scalar).collect()
        }
        other => Ok(vec![scalar(other)?]),
    }
}

fn scalar(v: &Y) -> Result<SValue, Issue> {
    Ok(match v {
        Y::Null => SValue::Null,
        Y::Bool(b) => SValue::Bool(*b),
        Y::Number(n) => match n.as_i64() {
            Some(i) => SValue::Int(i),
            None => SValue::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        Y::String(s) => SValue::Str(s.clone()),
        Y::Tagged(t) => scalar(&t.value)?,
        Y::Mapping(_) => return Err(Issue::invalid("a value must be a scalar, not a map")),
        Y::Sequence(_) => return Err(Issue::invalid("a value must be a scalar, not a list")),
    })
}

fn parse_correlation(meta: Meta, map: &YMap, c: &Y) -> Result<CorrelationDoc, Issue> {
    let cm = c
        .as_mapping()
        .ok_or_else(|| Issue::invalid("`correlation` must be a map"))?;
    let kind = match cm.get("type").and_then(Y::as_str) {
        Some("event_count") => CorrelationKind::EventCount,
        Some("value_count") => CorrelationKind::ValueCount,
        Some("temporal") => CorrelationKind::Temporal,
        Some("temporal_ordered") => CorrelationKind::TemporalOrdered,
        Some(other) => {
            return Err(Issue::unsupported(format!(
                "correlation type `{other}` is not supported (event_count, value_count, temporal, temporal_ordered are)"
            )))
        }
        None => return Err(Issue::invalid("missing `correlation.type`")),
    };
    let rules = string_list(cm.get("rules"), "correlation.rules")?;
    if rules.is_empty() {
        return Err(Issue::invalid("`correlation.rules` names no rule"));
    }
    let group_by = string_list(cm.get("group-by"), "correlation.group-by")?;
    let timespan = scalar_string(cm.get("timespan"), "correlation.timespan")?
        .ok_or_else(|| Issue::invalid("missing `correlation.timespan`"))?;
    let timespan_ms = parse_timespan(&timespan)?;
    let mut condition = Vec::new();
    let mut field = None;
    match cm.get("condition") {
        None => {}
        Some(Y::Mapping(m)) => {
            for (k, v) in m {
                let k = k.as_str().unwrap_or_default();
                if k == "field" {
                    field = scalar_string(Some(v), "correlation.condition.field")?;
                    continue;
                }
                let op = match k {
                    "gt" => CmpOp::Gt,
                    "gte" => CmpOp::Gte,
                    "lt" => CmpOp::Lt,
                    "lte" => CmpOp::Lte,
                    "eq" => CmpOp::Eq,
                    other => {
                        return Err(Issue::invalid(format!(
                        "unknown correlation condition operator `{other}` (gt, gte, lt, lte, eq)"
                    )))
                    }
                };
                let n = v.as_i64().ok_or_else(|| {
                    Issue::invalid(format!("correlation condition `{k}` needs an integer"))
                })?;
                condition.push((op, n));
            }
        }
        Some(_) => return Err(Issue::invalid("`correlation.condition` must be a map")),
    }
    match kind {
        CorrelationKind::EventCount | CorrelationKind::ValueCount if condition.is_empty() => {
            return Err(Issue::invalid(format!(
                "`{}` needs a `correlation.condition`",
                kind.name()
            )))
        }
        CorrelationKind::ValueCount if field.is_none() => {
            return Err(Issue::invalid(
                "`value_count` needs `correlation.condition.field`",
            ))
        }
        _ => {}
    }
    let mut aliases = Vec::new();
    if let Some(a) = cm.get("aliases") {
        let am = a
            .as_mapping()
            .ok_or_else(|| Issue::invalid("`correlation.aliases` must be a map"))?;
        for (alias, per_rule) in am {
            let alias = alias.as_str().unwrap_or_default().to_string();
            let pm = per_rule.as_mapping().ok_or_else(|| {
                Issue::invalid(format!("alias `{alias}` must map rule names to fields"))
            })?;
            let mut list = Vec::new();
            for (r, f) in pm {
                let r = r.as_str().unwrap_or_default().to_string();
                let f = scalar_string(Some(f), "alias field")?.unwrap_or_default();
                list.push((r, f));
            }
            aliases.push((alias, list));
        }
    }
    let generate = cm
        .get("generate")
        .or_else(|| map.get("generate"))
        .and_then(Y::as_bool)
        .unwrap_or(false);
    Ok(CorrelationDoc {
        meta,
        kind,
        rules,
        group_by,
        timespan_ms,
        condition,
        field,
        aliases,
        generate,
    })
}

/// `30s`, `5m`, `1h`, `2d` → milliseconds.
pub fn parse_timespan(s: &str) -> Result<i64, Issue> {
    let s = s.trim();
    let bad = || Issue::invalid(format!("bad timespan `{s}` (a number then s, m, h or d)"));
    let unit = s.chars().last().ok_or_else(bad)?;
    let n: i64 = s[..s.len() - unit.len_utf8()].parse().map_err(|_| bad())?;
    let mult = match unit {
        's' => 1_000,
        'm' => 60_000,
        'h' => 3_600_000,
        'd' => 86_400_000,
        _ => return Err(bad()),
    };
    if n <= 0 {
        return Err(bad());
    }
    n.checked_mul(mult).ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> Result<Document, Issue> {
        let mut v = parse_file(text);
        assert_eq!(v.len(), 1);
        v.remove(0)
    }

    #[test]
    fn parses_a_rule_with_lists_maps_keywords_and_null() {
        let d = one(r#"
title: t
id: 1
logsource: {product: linux, category: process_creation}
detection:
  sel:
    Image|endswith: [/bash, /sh]
    CommandLine: null
  alt:
    - Image: /a
    - Image: /b
  kw:
    - foo
    - 3
  condition: sel or alt or kw
level: high
tags: [attack.t1059]
"#)
        .unwrap();
        let Document::Rule(r) = d else { panic!() };
        assert_eq!(r.meta.id.as_deref(), Some("1"));
        assert_eq!(r.logsource.category.as_deref(), Some("process_creation"));
        assert_eq!(r.detection.searches.len(), 3);
        let Search::All(items) = &r.detection.searches[0].1 else {
            panic!()
        };
        assert_eq!(items[0].field.as_deref(), Some("Image"));
        assert_eq!(items[0].modifiers, vec!["endswith"]);
        assert_eq!(items[1].values, vec![SValue::Null]);
        assert!(matches!(&r.detection.searches[1].1, Search::Any(a) if a.len() == 2));
        let Search::All(kw) = &r.detection.searches[2].1 else {
            panic!()
        };
        assert_eq!(kw[0].field, None);
        assert_eq!(
            kw[0].values,
            vec![SValue::Str("foo".into()), SValue::Int(3)]
        );
    }

    #[test]
    fn malformed_yaml_is_an_error() {
        let e = one("title: [unclosed\n").unwrap_err();
        assert!(e.message().starts_with("malformed yaml"), "{}", e.message());
    }

    #[test]
    fn missing_parts_are_named() {
        let e = one("title: t\nlogsource: {product: linux}\n").unwrap_err();
        assert_eq!(e.message(), "missing `detection`");
        let e = one("logsource: {}\ndetection: {condition: x}\n").unwrap_err();
        assert_eq!(e.message(), "missing `title`");
        let e = one("title: t\nlogsource: {}\ndetection: {sel: {a: 1}}\n").unwrap_err();
        assert_eq!(e.message(), "`detection` has no `condition`");
    }

    #[test]
    fn global_action_merges_into_following_documents() {
        let docs = parse_file(
            r#"
action: global
title: base
logsource: {product: linux}
detection:
  condition: sel
---
logsource: {category: process_creation}
detection:
  sel: {Image: /a}
---
title: other
logsource: {category: file_event}
detection:
  sel: {TargetFilename: /b}
"#,
        );
        assert_eq!(docs.len(), 2);
        let Ok(Document::Rule(a)) = &docs[0] else {
            panic!("{:?}", docs[0])
        };
        assert_eq!(a.meta.title, "base");
        assert_eq!(a.logsource.product.as_deref(), Some("linux"));
        assert_eq!(a.logsource.category.as_deref(), Some("process_creation"));
        let Ok(Document::Rule(b)) = &docs[1] else {
            panic!()
        };
        assert_eq!(b.meta.title, "other");
        assert_eq!(b.detection.conditions, vec!["sel"]);
    }

    #[test]
    fn repeat_and_reset_actions() {
        let docs = parse_file(
            "title: a\nlogsource: {category: process_creation}\ndetection: {sel: {Image: /a}, condition: sel}\n---\naction: repeat\ntitle: b\ndetection: {sel: {Image: /b}}\n---\naction: global\nlevel: high\n---\naction: reset\n---\ntitle: c\nlogsource: {category: file_event}\ndetection: {sel: {TargetFilename: /c}, condition: sel}\n",
        );
        assert_eq!(docs.len(), 3);
        let Ok(Document::Rule(b)) = &docs[1] else {
            panic!("{:?}", docs[1])
        };
        assert_eq!(b.meta.title, "b");
        assert_eq!(b.logsource.category.as_deref(), Some("process_creation"));
        assert_eq!(b.detection.conditions, vec!["sel"]);
        let Ok(Document::Rule(c)) = &docs[2] else {
            panic!()
        };
        assert_eq!(c.meta.level, None, "reset dropped the global");
        let e = parse_file("action: repeat\ntitle: x\n");
        assert!(e[0]
            .as_ref()
            .unwrap_err()
            .message()
            .contains("without a previous document"));
    }

    #[test]
    fn correlation_documents_parse() {
        let d = one(r#"
title: c
correlation:
  type: event_count
  rules: [a, b]
  group-by: [User]
  timespan: 5m
  condition: {gt: 2, lte: 9}
"#)
        .unwrap();
        let Document::Correlation(c) = d else {
            panic!()
        };
        assert_eq!(c.kind, CorrelationKind::EventCount);
        assert_eq!(c.timespan_ms, 300_000);
        assert_eq!(c.condition, vec![(CmpOp::Gt, 2), (CmpOp::Lte, 9)]);
        assert!(!c.generate);
        let e = one("title: c\ncorrelation: {type: event_count, rules: [a], timespan: 5x, condition: {gt: 1}}\n")
            .unwrap_err();
        assert!(e.message().contains("bad timespan `5x`"), "{}", e.message());
        let e = one("title: c\ncorrelation: {type: value_count, rules: [a], timespan: 5s, condition: {gt: 1}}\n")
            .unwrap_err();
        assert!(e.message().contains("condition.field"), "{}", e.message());
    }

    #[test]
    fn timespans() {
        assert_eq!(parse_timespan("10s").unwrap(), 10_000);
        assert_eq!(parse_timespan("2h").unwrap(), 7_200_000);
        assert_eq!(parse_timespan("1d").unwrap(), 86_400_000);
        assert!(parse_timespan("m").is_err());
        assert!(parse_timespan("0s").is_err());
    }
}
