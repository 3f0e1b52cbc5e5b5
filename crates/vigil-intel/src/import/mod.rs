//! Feed and file formats → indicators.
//!
//! Rules every format follows (each format's module documents its own mapping):
//! - **Broken records fail the import.** A record that is structurally broken fails the whole
//!   import with an [`IntelError`] whose `record` names it (a STIX object id or index, a MISP
//!   attribute uuid or path, a CSV line); nothing is returned, so nothing is half-imported.
//!   Structural breakage is: JSON that does not parse, a required property missing or of the
//!   wrong JSON type, a STIX pattern with a syntax error (or comparing a matchable property
//!   with a number, a timestamp...), CSV quotes left open or a line with the wrong number of
//!   fields, a column the author controls holding something unknown (a Vigil CSV type or
//!   action, a time that is not a time), a file that is not the format asked for.
//! - **Bad values are skipped, with the reason.** A well-formed record whose indicator value
//!   does not check as its type (a domain with a space, a hash of the wrong length or with
//!   non-hex characters, an address or URL that does not parse, a MISP composite value
//!   without its `|`) gives no indicator and is listed in [`Imported::skipped`] with a reason
//!   naming the value and what is wrong with it (`value "a b.example" is not a domain name
//!   ...`). A record naming several values gives all of them or, when one is bad, none (STIX
//!   patterns differ: a bad comparison is dropped like an unmatchable one, see `stix`).
//! - **Unmatchable records are skipped, with the reason.** A well-formed record Vigil cannot
//!   match (an e-mail address, a YARA rule, a MISP attribute not marked for detection, a
//!   revoked or expired indicator) is listed in [`Imported::skipped`]. Records that are not
//!   indicators at all (STIX malware, relationship, identity objects; MISP event metadata)
//!   are neither imported nor listed.
//! - **Duplicates.** Within one import, the first record that names a (type, value) pair keeps
//!   it; each later record naming the same pair is listed as skipped ("duplicate of ...").
//!   Repeats of a value inside one record are folded silently.
//! - **Expiry.** A record whose expiry (its own, or [`ImportOptions::expires_ms`] when it says
//!   none) is at or before [`ImportOptions::now_ms`] is skipped as expired.
//! - **Defaults.** [`ImportOptions`] fills what the source does not say: action, severity,
//!   whether to alert, expiry and the provenance source name.
//!
//! Invariants: every returned indicator was built by [`Indicator::new`], so its value is
//! normalised; each skipped entry is one record (a record can be listed more than once only
//! as the duplicate of several earlier values); nothing here does I/O.

mod abusech;
pub mod csv;
mod json;
mod misp;
pub mod pattern;
mod records;
mod stix;
pub mod taxii;
mod time;
pub mod warninglist;

use std::collections::HashMap;

use crate::{Action, Indicator, IndicatorType, IntelError, Provenance, Severity};

pub use self::csv::export_csv;
pub use warninglist::WarningList;

/// The formats `import` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A STIX 2.1 bundle (or a single STIX object, or a JSON array of objects).
    Stix,
    /// A TAXII 2.1 envelope (`{"objects": [...], "more": ..}`).
    Taxii,
    /// A MISP event: feed style (`{"Event": {...}}`), API style, or a list of them.
    Misp,
    /// Vigil's CSV (see `csv`): header row, one indicator a line.
    Csv,
    /// An abuse.ch export (URLhaus, ThreatFox, MalwareBazaar, SSL blacklist CSV; Feodo JSON),
    /// recognised from its header.
    Abusech,
}

impl std::str::FromStr for Format {
    type Err = IntelError;
    fn from_str(s: &str) -> Result<Format, IntelError> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "stix" => Format::Stix,
            "taxii" => Format::Taxii,
            "misp" => Format::Misp,
            "csv" => Format::Csv,
            "abusech" | "abuse.ch" => Format::Abusech,
            _ => {
                return Err(IntelError::invalid(format!(
                    "unknown format {s:?} (expected stix, taxii, misp, csv or abusech)"
                )))
            }
        })
    }
}

/// What the importer fills in where the source says nothing.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// Provenance source name (`manual`, `csv`, a feed's name).
    pub source: String,
    pub action: Action,
    pub severity: Severity,
    pub generate_alert: bool,
    pub expires_ms: Option<i64>,
    /// Now, for sources that give validity as relative times or to drop expired records.
    pub now_ms: i64,
}

impl ImportOptions {
    /// Options with Vigil's defaults: audit, medium severity, alerting, no expiry.
    pub fn new(source: impl Into<String>, now_ms: i64) -> ImportOptions {
        ImportOptions {
            source: source.into(),
            action: Action::Audit,
            severity: Severity::Medium,
            generate_alert: true,
            expires_ms: None,
            now_ms,
        }
    }
}

/// A well-formed record that produced no indicator, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub record: String,
    pub reason: String,
}

#[derive(Debug, Clone, Default)]
pub struct Imported {
    pub indicators: Vec<Indicator>,
    pub skipped: Vec<Skipped>,
}

/// Reads `data` as `format`.
pub fn import(format: Format, data: &[u8], opts: &ImportOptions) -> Result<Imported, IntelError> {
    let mut c = Collector::new(opts);
    match format {
        Format::Stix => stix::import(&json::parse(data)?, &mut c)?,
        Format::Taxii => {
            let env = taxii::Envelope::from_value(json::parse(data)?)?;
            stix::import_objects(&env.objects, &mut c)?;
        }
        Format::Misp => misp::import(&json::parse(data)?, &mut c)?,
        Format::Csv => csv::import(records::text(data)?, &mut c)?,
        Format::Abusech => abusech::import(data, &mut c)?,
    }
    Ok(c.finish())
}

/// What a source says about its values, beyond the values themselves; `None` and empty
/// fields are filled from [`ImportOptions`] or Vigil's defaults.
#[derive(Debug, Clone, Default)]
pub(crate) struct Meta {
    pub title: Option<String>,
    pub description: String,
    pub action: Option<Action>,
    pub severity: Option<Severity>,
    pub generate_alert: Option<bool>,
    pub expires_ms: Option<i64>,
    pub device_groups: Vec<String>,
    pub source: Option<String>,
    pub reference: String,
    pub first_seen_ms: Option<i64>,
    pub labels: Vec<String>,
}

impl Meta {
    /// Adds a label unless it is empty, a placeholder (`None`, `n/a`) or already there.
    pub fn label(&mut self, label: &str) {
        let l = label.trim();
        if l.is_empty() || l.eq_ignore_ascii_case("none") || l.eq_ignore_ascii_case("n/a") {
            return;
        }
        if !self.labels.iter().any(|x| x == l) {
            self.labels.push(l.to_string());
        }
    }
}

/// Builds the result of one import: normalises values, fills defaults, folds duplicates.
pub(crate) struct Collector<'a> {
    pub opts: &'a ImportOptions,
    out: Imported,
    /// (type, value) → the record that brought it first.
    seen: HashMap<(IndicatorType, String), String>,
}

impl<'a> Collector<'a> {
    pub fn new(opts: &'a ImportOptions) -> Collector<'a> {
        Collector {
            opts,
            out: Imported::default(),
            seen: HashMap::new(),
        }
    }

    pub fn skip(&mut self, record: impl Into<String>, reason: impl Into<String>) {
        self.out.skipped.push(Skipped {
            record: record.into(),
            reason: reason.into(),
        });
    }

    /// The expiry a record gets, or the skip reason when it is already past.
    pub fn expiry(&self, own: Option<i64>) -> Result<Option<i64>, String> {
        match own.or(self.opts.expires_ms) {
            Some(e) if e <= self.opts.now_ms => Err(format!("expired at {}", time::format_ms(e))),
            e => Ok(e),
        }
    }

    /// Adds one indicator per value of `record`. When a value does not check as its type the
    /// record gives none, and is skipped with [`invalid_value`]'s reason.
    pub fn add(&mut self, record: &str, values: &[(IndicatorType, &str)], meta: &Meta) {
        let mut checked = Vec::with_capacity(values.len());
        for (kind, raw) in values {
            match Indicator::new(*kind, raw) {
                Ok(ind) => checked.push(ind),
                Err(e) => {
                    self.skip(record, invalid_value(*kind, raw, "", &e));
                    return;
                }
            }
        }
        for ind in checked {
            self.push(record, ind, meta);
        }
    }

    /// Adds a checked indicator with the record's metadata, unless an earlier record gave it.
    fn push(&mut self, record: &str, ind: Indicator, meta: &Meta) {
        let key = (ind.kind, ind.value.clone());
        if let Some(first) = self.seen.get(&key) {
            if first != record {
                let reason = format!("duplicate of {} {} from {first}", ind.kind, ind.value);
                self.skip(record, reason);
            }
            return;
        }
        self.seen.insert(key, record.to_string());
        let o = self.opts;
        let title = match &meta.title {
            Some(t) if !t.trim().is_empty() => t.trim().to_string(),
            _ => ind.title.clone(),
        };
        let ind = Indicator {
            title,
            description: meta.description.trim().to_string(),
            action: meta.action.unwrap_or(o.action),
            severity: meta.severity.unwrap_or(o.severity),
            generate_alert: meta.generate_alert.unwrap_or(o.generate_alert),
            expires_ms: meta.expires_ms.or(o.expires_ms),
            device_groups: meta.device_groups.clone(),
            provenance: Provenance {
                source: meta.source.clone().unwrap_or_else(|| o.source.clone()),
                reference: if meta.reference.is_empty() {
                    record.to_string()
                } else {
                    meta.reference.clone()
                },
                first_seen_ms: meta.first_seen_ms,
                labels: meta.labels.clone(),
            },
            ..ind
        };
        self.out.indicators.push(ind);
    }

    pub fn finish(self) -> Imported {
        self.out
    }
}

/// Checks `raw` as a `kind` value: `Err` holds the skip reason ([`invalid_value`]), with
/// `context` (e.g. ` of domain-name:value`) placed after the value.
pub(crate) fn check_value(kind: IndicatorType, raw: &str, context: &str) -> Result<(), String> {
    crate::normalize::normalize(kind, raw)
        .map(drop)
        .map_err(|e| invalid_value(kind, raw, context, &e))
}

/// The skip reason for a value that `err` says does not check as its type. It names the value
/// and says why: `value "a b.example" is not a domain name (bad label "a b")`, from the
/// normaliser's message (which starts with the quoted value) or around it.
pub(crate) fn invalid_value(
    kind: IndicatorType,
    raw: &str,
    context: &str,
    err: &IntelError,
) -> String {
    let raw = raw.trim();
    if raw.is_empty() {
        return format!("the {kind} value{context} is empty");
    }
    let quoted = format!("{raw:?}");
    match err.message.strip_prefix(&quoted) {
        Some(why) => format!("value {quoted}{context}{why}"),
        None => format!(
            "value {quoted}{context} is not a valid {kind}: {}",
            err.message
        ),
    }
}

/// An address value is a network when it has a prefix shorter than the whole address.
pub(crate) fn address_kind(raw: &str) -> IndicatorType {
    match raw.trim().split_once('/') {
        Some((addr, len)) => {
            let full = if addr.contains(':') { "128" } else { "32" };
            if len.trim() == full {
                IndicatorType::Ip
            } else {
                IndicatorType::Cidr
            }
        }
        None => IndicatorType::Ip,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_value_reasons_name_the_value_and_why() {
        let why = |kind, raw| check_value(kind, raw, "").unwrap_err();
        assert_eq!(
            why(IndicatorType::Domain, " a b.example "),
            "value \"a b.example\" is not a domain name (bad label \"a b\")"
        );
        assert_eq!(
            check_value(IndicatorType::Ip, "1.2.3", " of ipv4-addr:value").unwrap_err(),
            "value \"1.2.3\" of ipv4-addr:value is not an IP address"
        );
        // The normaliser names a cleaned value here (colons dropped): the reason wraps it.
        assert_eq!(
            why(IndicatorType::Cert, "aa:bb"),
            "value \"aa:bb\" is not a valid cert: \"aabb\" is not a cert (40 hexadecimal digits)"
        );
        assert_eq!(why(IndicatorType::Md5, "  "), "the md5 value is empty");
        assert_eq!(
            check_value(IndicatorType::Url, "http://a.example/", ""),
            Ok(())
        );
    }
}
