//! abuse.ch exports → indicators, recognised from their content.
//!
//! - JSON: the Feodo Tracker IP blocklist (an array of objects with `ip_address`; `[]` is an
//!   empty list) → ip, whatever the entry's `status` (the list already ages out old entries;
//!   the status is kept as a `status:online`/`status:offline` label).
//! - CSV, recognised by the column header comment (`# id,dateadded,url,...`) when there is
//!   one, else by the banner (`# abuse.ch URLhaus ...`), which then implies the export's
//!   standard columns:
//!   - URLhaus: `url` → url, online and offline alike (a URL that served malware stays
//!     suspect, and URLs are specific enough that blocking a dead one costs nothing); the
//!     `url_status` is kept as a label.
//!   - ThreatFox: `ioc_type` `ip:port` → ip (the port dropped), `domain`, `url`, `md5_hash`,
//!     `sha1_hash`, `sha256_hash`; other IOC types are skipped.
//!   - MalwareBazaar: `sha256_hash`, `md5_hash`, `sha1_hash` → three indicators naming the
//!     same file (same title, labels and reference, the SHA-256).
//!   - SSL Blacklist: `SHA1` → cert.
//!
//! Lines starting with `#` are comments; fields may be quoted, with blank space after the
//! separating commas as abuse.ch writes them. These files are generated dumps, so:
//! - a line with no separator and no quote at all (a single bare field, such as a note left
//!   in a sample, `[...more records...]`) is not a record: it is skipped as `line N is not a
//!   record (no fields)`;
//! - any other data line must have as many fields as the columns; one that does not (a
//!   truncated line, a quoted field alone) fails the import naming its line, and so do
//!   unbalanced quotes and a date column that holds no date;
//! - a record whose value does not check as its type (a URL with a space, a SHA-1 of 39
//!   digits, an address that does not parse) is skipped with the value and why;
//!   MalwareBazaar's three hashes are one record: one bad hash skips the line.
//!
//! Labels come from the malware, threat, tag and signature columns; first seen from the
//! date-added / first-seen / listing-date column.

use std::collections::HashMap;

use serde_json::Value;

use super::records::{self, Record};
use super::{address_kind, json, Collector, Meta};
use crate::{IndicatorType, IntelError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Feed {
    Urlhaus,
    ThreatFox,
    Bazaar,
    Sslbl,
}

impl Feed {
    fn name(self) -> &'static str {
        match self {
            Feed::Urlhaus => "URLhaus",
            Feed::ThreatFox => "ThreatFox",
            Feed::Bazaar => "MalwareBazaar",
            Feed::Sslbl => "SSL Blacklist",
        }
    }

    /// The columns of the standard export, used when the file has no column header.
    fn default_columns(self) -> &'static [&'static str] {
        match self {
            Feed::Urlhaus => &[
                "id",
                "dateadded",
                "url",
                "url_status",
                "last_online",
                "threat",
                "tags",
                "urlhaus_link",
                "reporter",
            ],
            Feed::ThreatFox => &[
                "first_seen_utc",
                "ioc_id",
                "ioc_value",
                "ioc_type",
                "threat_type",
                "fk_malware",
                "malware_alias",
                "malware_printable",
                "last_seen_utc",
                "confidence_level",
                "reference",
                "tags",
                "anonymous",
                "reporter",
            ],
            Feed::Bazaar => &[
                "first_seen_utc",
                "sha256_hash",
                "md5_hash",
                "sha1_hash",
                "reporter",
                "file_name",
                "file_type_guess",
                "mime_type",
                "signature",
                "clamav",
                "vtpercent",
                "imphash",
                "ssdeep",
                "tlsh",
            ],
            Feed::Sslbl => &["listingdate", "sha1", "listingreason"],
        }
    }

    fn required(self) -> &'static [&'static str] {
        match self {
            Feed::Urlhaus => &["url"],
            Feed::ThreatFox => &["ioc_value", "ioc_type"],
            Feed::Bazaar => &["sha256_hash", "md5_hash", "sha1_hash"],
            Feed::Sslbl => &["sha1"],
        }
    }

    /// Which export a column header is, from the columns it names.
    fn from_columns(cols: &[String]) -> Option<Feed> {
        let has = |c: &str| cols.iter().any(|x| x == c);
        if has("ioc_value") && has("ioc_type") {
            Some(Feed::ThreatFox)
        } else if has("url") && (has("url_status") || has("urlhaus_link")) {
            Some(Feed::Urlhaus)
        } else if has("sha256_hash") && has("md5_hash") {
            Some(Feed::Bazaar)
        } else if has("listingreason") || (has("sha1") && has("listingdate")) {
            Some(Feed::Sslbl)
        } else {
            None
        }
    }

    fn from_banner(comments: &[(usize, String)]) -> Option<Feed> {
        comments.iter().find_map(|(_, c)| {
            let c = c.to_ascii_lowercase();
            if c.contains("urlhaus") {
                Some(Feed::Urlhaus)
            } else if c.contains("threatfox") {
                Some(Feed::ThreatFox)
            } else if c.contains("malwarebazaar") {
                Some(Feed::Bazaar)
            } else if c.contains("sslbl") || c.contains("ssl certificate blacklist") {
                Some(Feed::Sslbl)
            } else {
                None
            }
        })
    }
}

const UNRECOGNISED: &str = "unrecognised abuse.ch file: expected a URLhaus, ThreatFox, \
     MalwareBazaar or SSL Blacklist CSV export (with its # header lines) or the Feodo Tracker \
     JSON blocklist";

pub fn import(data: &[u8], c: &mut Collector) -> Result<(), IntelError> {
    let text = records::text(data)?;
    let head = text.trim_start();
    if head.starts_with('[') || head.starts_with('{') {
        return feodo(&json::parse(text.as_bytes())?, c);
    }
    let parsed = records::parse(text, true)?;
    // The column header is the last comment before the data that names known columns.
    let header = parsed.comments.iter().rev().find_map(|(line, comment)| {
        let fields = records::parse(comment, false)
            .ok()?
            .records
            .into_iter()
            .next()?
            .fields;
        let cols: Vec<String> = fields
            .iter()
            .map(|f| f.trim().to_ascii_lowercase())
            .collect();
        Feed::from_columns(&cols).map(|feed| (*line, feed, cols))
    });
    let (feed, cols) = match header {
        Some((_, feed, cols)) => (feed, cols),
        None => {
            let feed = Feed::from_banner(&parsed.comments)
                .ok_or_else(|| IntelError::invalid(UNRECOGNISED))?;
            (
                feed,
                feed.default_columns()
                    .iter()
                    .map(|s| s.to_string())
                    .collect(),
            )
        }
    };
    for r in feed.required() {
        if !cols.iter().any(|c| c == r) {
            return Err(IntelError::invalid(format!(
                "the {} header lacks the {r} column (columns: {})",
                feed.name(),
                cols.join(",")
            )));
        }
    }
    let index: HashMap<&str, usize> = cols
        .iter()
        .enumerate()
        .map(|(i, c)| (c.as_str(), i))
        .collect();
    for rec in &parsed.records {
        if rec.fields.len() == 1 && !rec.quoted && cols.len() != 1 {
            // One bare field: the line had neither a separator nor a quote.
            c.skip(
                rec.name(),
                format!("{} is not a record (no fields)", rec.name()),
            );
            continue;
        }
        if rec.fields.len() != cols.len() {
            return Err(IntelError::invalid(format!(
                "expected {} fields (the {} columns), found {}",
                cols.len(),
                feed.name(),
                rec.fields.len()
            ))
            .at(rec.name()));
        }
        let row = Row { rec, index: &index };
        match feed {
            Feed::Urlhaus => urlhaus(&row, c),
            Feed::ThreatFox => threatfox(&row, c),
            Feed::Bazaar => bazaar(&row, c),
            Feed::Sslbl => sslbl(&row, c),
        }
        .map_err(|e| e.at(rec.name()))?;
    }
    Ok(())
}

struct Row<'a> {
    rec: &'a Record,
    index: &'a HashMap<&'a str, usize>,
}

impl Row<'_> {
    fn get(&self, col: &str) -> &str {
        self.index
            .get(col)
            .and_then(|i| self.rec.fields.get(*i))
            .map_or("", |s| s.trim())
    }

    fn date(&self, col: &str) -> Result<Option<i64>, IntelError> {
        let v = self.get(col);
        if v.is_empty() || v.eq_ignore_ascii_case("none") {
            return Ok(None);
        }
        super::time::parse_ms(v)
            .map(Some)
            .ok_or_else(|| IntelError::invalid(format!("{col} {v:?} is not a date")))
    }

    fn labels(&self, meta: &mut Meta, col: &str, split: bool) {
        let v = self.get(col);
        if split {
            v.split(',').for_each(|l| meta.label(l));
        } else {
            meta.label(v);
        }
    }
}

/// The record's expiry (from the options), or `false` when it was skipped as expired.
fn live(c: &mut Collector, record: &str, meta: &mut Meta) -> bool {
    match c.expiry(None) {
        Ok(e) => {
            meta.expires_ms = e;
            true
        }
        Err(reason) => {
            c.skip(record, reason);
            false
        }
    }
}

fn urlhaus(row: &Row, c: &mut Collector) -> Result<(), IntelError> {
    let record = row.rec.name();
    let threat = row.get("threat");
    let mut meta = Meta {
        title: Some(if threat.is_empty() {
            "URLhaus".into()
        } else {
            format!("URLhaus: {threat}")
        }),
        description: row.get("urlhaus_link").to_string(),
        first_seen_ms: row.date("dateadded")?,
        ..Meta::default()
    };
    if !row.get("id").is_empty() {
        meta.reference = format!("urlhaus {}", row.get("id"));
    }
    row.labels(&mut meta, "threat", false);
    row.labels(&mut meta, "tags", true);
    if !row.get("url_status").is_empty() {
        meta.label(&format!("status:{}", row.get("url_status")));
    }
    if live(c, &record, &mut meta) {
        c.add(&record, &[(IndicatorType::Url, row.get("url"))], &meta);
    }
    Ok(())
}

/// `1.2.3.4:443` or `[2001:db8::1]:443` → the address.
fn strip_port(v: &str) -> &str {
    if let Some(rest) = v.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match v.rsplit_once(':') {
        Some((addr, port)) if !addr.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) => {
            addr
        }
        _ => v,
    }
}

fn threatfox(row: &Row, c: &mut Collector) -> Result<(), IntelError> {
    let record = row.rec.name();
    let value = row.get("ioc_value");
    let ioc_type = row.get("ioc_type");
    let kind = match ioc_type {
        "ip:port" => address_kind(strip_port(value)),
        "domain" => IndicatorType::Domain,
        "url" => IndicatorType::Url,
        "md5_hash" => IndicatorType::Md5,
        "sha1_hash" => IndicatorType::Sha1,
        "sha256_hash" => IndicatorType::Sha256,
        other => {
            c.skip(
                record,
                format!("ioc_type {other} is not an indicator type Vigil matches"),
            );
            return Ok(());
        }
    };
    let value = if ioc_type == "ip:port" {
        strip_port(value)
    } else {
        value
    };
    let malware = row.get("malware_printable");
    let mut meta = Meta {
        title: Some(if malware.is_empty() {
            "ThreatFox".into()
        } else {
            format!("ThreatFox: {malware}")
        }),
        first_seen_ms: row.date("first_seen_utc")?,
        ..Meta::default()
    };
    let reference = row.get("reference");
    if !reference.eq_ignore_ascii_case("none") {
        meta.description = reference.to_string();
    }
    if !row.get("ioc_id").is_empty() {
        meta.reference = format!("threatfox {}", row.get("ioc_id"));
    }
    row.labels(&mut meta, "threat_type", false);
    row.labels(&mut meta, "malware_printable", false);
    row.labels(&mut meta, "tags", true);
    if live(c, &record, &mut meta) {
        c.add(&record, &[(kind, value)], &meta);
    }
    Ok(())
}

fn bazaar(row: &Row, c: &mut Collector) -> Result<(), IntelError> {
    let record = row.rec.name();
    let signature = row.get("signature");
    let name = row.get("file_name");
    let label = if !signature.is_empty() && !signature.eq_ignore_ascii_case("n/a") {
        signature
    } else {
        name
    };
    let mut meta = Meta {
        title: Some(format!("MalwareBazaar: {label}")),
        description: name.to_string(),
        first_seen_ms: row.date("first_seen_utc")?,
        reference: row.get("sha256_hash").to_ascii_lowercase(),
        ..Meta::default()
    };
    row.labels(&mut meta, "signature", false);
    row.labels(&mut meta, "file_type_guess", false);
    if live(c, &record, &mut meta) {
        let hashes = [
            (IndicatorType::Sha256, row.get("sha256_hash")),
            (IndicatorType::Md5, row.get("md5_hash")),
            (IndicatorType::Sha1, row.get("sha1_hash")),
        ];
        c.add(&record, &hashes, &meta);
    }
    Ok(())
}

fn sslbl(row: &Row, c: &mut Collector) -> Result<(), IntelError> {
    let record = row.rec.name();
    let reason = row.get("listingreason");
    let mut meta = Meta {
        title: Some(if reason.is_empty() {
            "SSL Blacklist".into()
        } else {
            format!("SSL Blacklist: {reason}")
        }),
        first_seen_ms: row.date("listingdate")?,
        ..Meta::default()
    };
    row.labels(&mut meta, "listingreason", false);
    if live(c, &record, &mut meta) {
        c.add(&record, &[(IndicatorType::Cert, row.get("sha1"))], &meta);
    }
    Ok(())
}

fn feodo(v: &Value, c: &mut Collector) -> Result<(), IntelError> {
    let Value::Array(items) = v else {
        return Err(IntelError::invalid(format!(
            "{UNRECOGNISED}; found a JSON {}",
            json::kind(v)
        )));
    };
    for (i, item) in items.iter().enumerate() {
        let record = format!("entry {i}");
        let o = item.as_object().ok_or_else(|| {
            IntelError::invalid(format!(
                "expected a Feodo Tracker entry (an object), found {}",
                json::kind(item)
            ))
            .at(&record)
        })?;
        let at = |e: IntelError| e.at(&record);
        if !o.contains_key("ip_address") {
            return Err(at(IntelError::invalid(format!(
                "{UNRECOGNISED}: this entry has no ip_address"
            ))));
        }
        let ip = json::req_str(o, "ip_address").map_err(at)?;
        let malware = json::opt_str(o, "malware").map_err(at)?.unwrap_or("");
        let first_seen = match json::opt_str(o, "first_seen").map_err(at)? {
            Some(s) => Some(super::time::parse_ms(s).ok_or_else(|| {
                at(IntelError::invalid(format!(
                    "first_seen {s:?} is not a date"
                )))
            })?),
            None => None,
        };
        let mut meta = Meta {
            title: Some(if malware.is_empty() {
                "Feodo Tracker".into()
            } else {
                format!("Feodo Tracker: {malware}")
            }),
            first_seen_ms: first_seen,
            ..Meta::default()
        };
        if let Some(port) = o.get("port").and_then(Value::as_u64) {
            meta.description = format!("botnet C2 on port {port}");
        }
        meta.label(malware);
        if let Some(s) = json::opt_str(o, "status").map_err(at)? {
            meta.label(&format!("status:{s}"));
        }
        if live(c, &record, &mut meta) {
            c.add(&record, &[(address_kind(ip), ip)], &meta);
        }
    }
    Ok(())
}
