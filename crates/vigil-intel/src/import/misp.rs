//! MISP events → indicators.
//!
//! Shapes: feed style `{"Event": {...}}`, API style (a bare event object, `{"response":
//! [...]}` holding `{"Event": ...}` or bare events, or a JSON list of either). A bare object
//! is an event when it has an event property (`info`, `Attribute`, `Object`, `Tag`, `date`,
//! `threat_level_id`, `analysis`, `published`, `Orgc`...); `{}` is an empty event. Anything
//! else (a galaxy, a sighting, an object template) is an error saying what was expected.
//!
//! Attributes read: the event's `Attribute[]` and each object's `Object[].Attribute[]`.
//! Proposals (`ShadowAttribute`) and the copies inside `ObjectReference` are not attributes
//! of the event and are ignored. A record is named `attribute <uuid>`, or by its place
//! (`event 0 object 2 attribute 1`) when it has no uuid.
//!
//! Per attribute, in order: `type` and `value` must be there, a string (the value may be a
//! number) — else the import fails naming the attribute, as it does for a property of the
//! wrong JSON type; `deleted: true` (or a deleted object) → skipped; a type Vigil does not
//! match → skipped with the type; a composite value without its `|` (`filename|md5` holding
//! only a name) → skipped with the value; `to_ids` not true → skipped (MISP's convention:
//! only IDS attributes are meant for detection); a value that does not check as its type (a
//! hash of the wrong length, an address that does not parse) → skipped with the value and
//! why, and for `domain|ip` when either part is bad, the whole attribute; else one
//! indicator per value.
//!
//! Types: `md5`, `sha1`, `sha256`; `filename|md5`, `filename|sha1`, `filename|sha256` and
//! `malware-sample` (`filename|md5`; skipped when it is only a file name, as PyMISP writes it
//! before upload) give their hash; `ip-src`, `ip-dst` (a network when the
//! value has a prefix), `ip-src|port`, `ip-dst|port` give the address; `domain`, `hostname`,
//! `hostname|port` give the domain; `domain|ip` gives both; `url`; `uri` when it is absolute
//! (`scheme://host...`; a bare path names no host and is skipped); `x509-fingerprint-sha1` →
//! cert. `link` is skipped: it points at a report about the event, not at something
//! malicious. Everything else (e-mail, regkey, mutex, text, comment, filename...) is skipped.
//!
//! Mapping: event `info` → title; event, object and attribute tags → labels; attribute
//! `comment` → description; attribute `uuid` → reference; attribute `first_seen`, else the
//! event `date` → first seen; `threat_level_id` 1/2/3 → High/Medium/Low (4, undefined, and
//! absent leave the option's severity).

use serde_json::{Map, Value};

use super::json;
use super::{address_kind, Collector, Meta};
use crate::{IndicatorType, IntelError, Severity};

const EVENT_KEYS: &[&str] = &[
    "info",
    "Attribute",
    "Object",
    "Tag",
    "EventTag",
    "date",
    "threat_level_id",
    "analysis",
    "published",
    "Orgc",
    "Org",
    "ShadowAttribute",
    "attribute_count",
];

fn is_event(o: &Map<String, Value>) -> bool {
    o.is_empty() || EVENT_KEYS.iter().any(|k| o.contains_key(*k))
}

fn not_an_event(found: &str) -> IntelError {
    IntelError::invalid(format!(
        "not a MISP event: expected {{\"Event\": {{...}}}}, {{\"response\": [...]}}, a list of \
         events, or an event object (info, Attribute, Object...); found {found}"
    ))
}

fn describe_keys(o: &Map<String, Value>) -> String {
    let keys: Vec<&str> = o.keys().map(String::as_str).take(6).collect();
    format!("an object with {}", keys.join(", "))
}

/// An item of a list or response: `{"Event": {...}}` or a bare event.
fn event_of(v: &Value, index: usize) -> Result<&Map<String, Value>, IntelError> {
    let o = v
        .as_object()
        .ok_or_else(|| not_an_event(json::kind(v)).at(format!("event {index}")))?;
    match o.get("Event") {
        Some(Value::Object(e)) => Ok(e),
        Some(other) => Err(IntelError::invalid(format!(
            "property Event must be an object, found {}",
            json::kind(other)
        ))
        .at(format!("event {index}"))),
        None if is_event(o) => Ok(o),
        None => Err(not_an_event(&describe_keys(o)).at(format!("event {index}"))),
    }
}

pub fn import(v: &Value, c: &mut Collector) -> Result<(), IntelError> {
    let events: Vec<&Map<String, Value>> = match v {
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, e)| event_of(e, i))
            .collect::<Result<_, _>>()?,
        Value::Object(o) => match o.get("response") {
            Some(Value::Array(items)) if !o.contains_key("Event") => items
                .iter()
                .enumerate()
                .map(|(i, e)| event_of(e, i))
                .collect::<Result<_, _>>()?,
            Some(r @ Value::Object(_)) if !o.contains_key("Event") => vec![event_of(r, 0)?],
            _ => vec![event_of(v, 0)?],
        },
        other => return Err(not_an_event(json::kind(other))),
    };
    for (i, e) in events.into_iter().enumerate() {
        let name = match e.get("uuid").and_then(Value::as_str) {
            Some(u) => format!("event {u}"),
            None => format!("event {i}"),
        };
        event(e, i, c).map_err(|err| err.at(&name))?;
    }
    Ok(())
}

fn tag_names(o: &Map<String, Value>) -> Result<Vec<String>, IntelError> {
    let mut out = Vec::new();
    for t in json::list(o, "Tag")? {
        if let Some(n) = t.get("name").and_then(Value::as_str) {
            out.push(n.to_string());
        }
    }
    for t in json::list(o, "EventTag")? {
        if let Some(n) = t.pointer("/Tag/name").and_then(Value::as_str) {
            out.push(n.to_string());
        }
    }
    Ok(out)
}

fn event(e: &Map<String, Value>, index: usize, c: &mut Collector) -> Result<(), IntelError> {
    let mut base = Meta {
        title: json::opt_str(e, "info")?.map(str::to_string),
        ..Meta::default()
    };
    if let Some(d) = json::opt_str(e, "date")? {
        base.first_seen_ms = Some(super::time::parse_ms(d).ok_or_else(|| {
            IntelError::invalid(format!("event date {d:?} is not a date (YYYY-MM-DD)"))
        })?);
    }
    base.severity = match e.get("threat_level_id") {
        None | Some(Value::Null) => None,
        Some(v) => match v
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| v.to_string())
            .as_str()
        {
            "1" => Some(Severity::High),
            "2" => Some(Severity::Medium),
            "3" => Some(Severity::Low),
            "4" => None,
            other => {
                return Err(IntelError::invalid(format!(
                    "threat_level_id {other:?} is not 1, 2, 3 or 4"
                )))
            }
        },
    };
    for t in tag_names(e)? {
        base.label(&t);
    }
    for (i, a) in json::list(e, "Attribute")?.iter().enumerate() {
        let place = format!("event {index} attribute {i}");
        attribute(a, &place, &base, false, c)?;
    }
    for (j, obj) in json::list(e, "Object")?.iter().enumerate() {
        let place = format!("event {index} object {j}");
        let o = obj.as_object().ok_or_else(|| {
            IntelError::invalid(format!("expected a MISP object, found {}", json::kind(obj)))
                .at(&place)
        })?;
        let mut meta = base.clone();
        for t in tag_names(o).map_err(|er| er.at(&place))? {
            meta.label(&t);
        }
        let deleted = json::opt_bool(o, "deleted")
            .map_err(|er| er.at(&place))?
            .unwrap_or(false);
        for (i, a) in json::list(o, "Attribute")
            .map_err(|er| er.at(&place))?
            .iter()
            .enumerate()
        {
            attribute(a, &format!("{place} attribute {i}"), &meta, deleted, c)?;
        }
    }
    Ok(())
}

/// What an attribute type gives.
enum Mapping {
    Values(Vec<(IndicatorType, String)>),
    Skip(String),
}

/// The two parts of a composite value; `Err` is the skip reason when it has no `|`.
fn split<'a>(ty: &str, value: &'a str, last: bool) -> Result<(&'a str, &'a str), Mapping> {
    let parts = if last {
        value.rsplit_once('|')
    } else {
        value.split_once('|')
    };
    parts.ok_or_else(|| {
        Mapping::Skip(format!(
            "value {value:?} of type {ty} lacks the '|' between its two parts"
        ))
    })
}

/// What an attribute's type and value give; `Err` holds a skip for a composite value
/// without its `|`.
fn mapping(ty: &str, value: &str) -> Result<Mapping, Mapping> {
    use IndicatorType::*;
    let one = |k: IndicatorType, v: &str| Mapping::Values(vec![(k, v.trim().to_string())]);
    Ok(match ty {
        "md5" => one(Md5, value),
        "sha1" => one(Sha1, value),
        "sha256" => one(Sha256, value),
        "malware-sample" if !value.contains('|') => Mapping::Skip(
            "malware-sample without its md5 (the value is only a file name, as before MISP \
             stores the sample)"
                .into(),
        ),
        "filename|md5" | "malware-sample" => one(Md5, split(ty, value, true)?.1),
        "filename|sha1" => one(Sha1, split(ty, value, true)?.1),
        "filename|sha256" => one(Sha256, split(ty, value, true)?.1),
        "ip-src" | "ip-dst" => one(address_kind(value), value),
        "ip-src|port" | "ip-dst|port" => {
            let addr = split(ty, value, true)?.0;
            one(address_kind(addr), addr)
        }
        "domain" | "hostname" => one(Domain, value),
        "hostname|port" => one(Domain, split(ty, value, true)?.0),
        "domain|ip" => {
            let (d, ip) = split(ty, value, false)?;
            Mapping::Values(vec![
                (Domain, d.trim().to_string()),
                (address_kind(ip), ip.trim().to_string()),
            ])
        }
        "url" => one(Url, value),
        "uri" if value.contains("://") => one(Url, value),
        "uri" => Mapping::Skip(
            "type uri without scheme and host: a path alone names no place Vigil can match".into(),
        ),
        "link" => Mapping::Skip(
            "type link: a page about the event (a report or analysis), not an indicator".into(),
        ),
        "x509-fingerprint-sha1" => one(Cert, value),
        other => Mapping::Skip(format!(
            "type {other} is not an indicator type Vigil matches"
        )),
    })
}

fn attribute(
    a: &Value,
    place: &str,
    base: &Meta,
    object_deleted: bool,
    c: &mut Collector,
) -> Result<(), IntelError> {
    let o = a.as_object().ok_or_else(|| {
        IntelError::invalid(format!(
            "expected a MISP attribute, found {}",
            json::kind(a)
        ))
        .at(place)
    })?;
    let record = match o.get("uuid").and_then(Value::as_str) {
        Some(u) if !u.is_empty() => format!("attribute {u}"),
        _ => place.to_string(),
    };
    let at = |e: IntelError| e.at(&record);
    let ty = json::req_str(o, "type").map_err(at)?;
    let value = match o.get("value") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        None | Some(Value::Null) => {
            return Err(at(IntelError::invalid("missing required property value")))
        }
        Some(other) => {
            return Err(at(IntelError::invalid(format!(
                "property value must be a string, found {}",
                json::kind(other)
            ))))
        }
    };
    if json::opt_bool(o, "deleted").map_err(at)?.unwrap_or(false) {
        c.skip(&record, "deleted");
        return Ok(());
    }
    if object_deleted {
        c.skip(&record, "its object is deleted");
        return Ok(());
    }
    let values = match mapping(ty, &value).unwrap_or_else(|skip| skip) {
        Mapping::Skip(reason) => {
            c.skip(&record, reason);
            return Ok(());
        }
        Mapping::Values(v) => v,
    };
    if !json::opt_bool(o, "to_ids").map_err(at)?.unwrap_or(false) {
        c.skip(
            &record,
            "to_ids is not set: MISP marks the attribute as not meant for detection",
        );
        return Ok(());
    }
    let mut meta = base.clone();
    meta.description = json::opt_str(o, "comment")
        .map_err(at)?
        .unwrap_or("")
        .to_string();
    if let Some(u) = o.get("uuid").and_then(Value::as_str) {
        meta.reference = u.to_string();
    } else {
        meta.reference = record.clone();
    }
    if let Some(fs) = json::opt_str(o, "first_seen").map_err(at)? {
        meta.first_seen_ms = Some(super::time::parse_ms(fs).ok_or_else(|| {
            at(IntelError::invalid(format!(
                "first_seen {fs:?} is not a timestamp"
            )))
        })?);
    }
    for t in tag_names(o).map_err(at)? {
        meta.label(&t);
    }
    meta.expires_ms = match c.expiry(None) {
        Ok(e) => e,
        Err(reason) => {
            c.skip(&record, reason);
            return Ok(());
        }
    };
    let values: Vec<(IndicatorType, &str)> = values.iter().map(|(k, v)| (*k, v.as_str())).collect();
    c.add(&record, &values, &meta);
    Ok(())
}
