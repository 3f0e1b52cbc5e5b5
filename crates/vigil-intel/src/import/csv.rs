//! Vigil's indicator CSV, which also reads Microsoft Defender for Endpoint's import CSV.
//!
//! The first line names the columns, in any order and any case. Vigil's names, then MDE's:
//!
//! | field          | Vigil            | MDE                      | empty or absent means       |
//! |----------------|------------------|--------------------------|-----------------------------|
//! | type           | `type`           | `IndicatorType`          | required                    |
//! | value          | `value`          | `IndicatorValue`         | required                    |
//! | action         | `action`         | `Action`                 | the import option           |
//! | severity       | `severity`       | `Severity`               | the import option           |
//! | title          | `title`          | `Title`                  | `<type> <value>`            |
//! | description    | `description`    | `Description`            | none                        |
//! | expiry         | `expires`        | `ExpirationTime`         | the import option           |
//! | device groups  | `device_groups`  | `RbacGroups`             | every device                |
//! | alert          | `generate_alert` | `GenerateAlert`          | the import option           |
//! | source         | `source`         |                          | the import option           |
//! | reference      | `reference`      |                          | `line N`                    |
//! | first seen     | `first_seen`     |                          | unknown                     |
//! | labels         | `labels`         | `Category`, `MitreTechniques` | none                   |
//! | (description)  |                  | `RecommendedActions`     | appended to the description |
//!
//! Types are Vigil's (`sha256`, `sha1`, `md5`, `ip`, `cidr`, `domain`, `url`, `cert`) or MDE's
//! (`FileSha256`, `FileSha1`, `FileMd5`, `IpAddress`, `DomainName`, `Url`,
//! `CertificateThumbprint`); actions Vigil's or MDE's (`Allowed`, `Audit`, `Warn`, `Block`,
//! `BlockAndRemediate`, `AlertAndBlock`). Times are RFC 3339. Device groups are separated by
//! `,` (as MDE's `RbacGroups`), labels by `;` (MDE's techniques by `,`).
//!
//! Errors and skips: an unknown or repeated column, or a missing type or value column, is an
//! error naming line 1. A row with the wrong number of fields or broken quoting, or whose
//! type, action, severity, alert flag or time is not one this format knows (the author
//! controls these columns), is an error naming its line. A row whose value does not check as
//! its type (`sha256,abc`, a domain with a space, an empty value) is skipped with the value
//! and why.
//!
//! [`export_csv`] writes Vigil's columns (all of them, provenance included), so that
//! importing its output gives equal indicators (except `id`, the store's, which is not
//! written, and device-group or label names holding their separator).

use std::collections::HashMap;

use super::records::{self, quote};
use super::{time, Collector, Meta};
use crate::{Action, Indicator, IndicatorType, IntelError, Severity};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Col {
    Type,
    Value,
    Action,
    Severity,
    Title,
    Description,
    Expires,
    DeviceGroups,
    GenerateAlert,
    Source,
    Reference,
    FirstSeen,
    Labels,
    Category,
    Techniques,
    RecommendedActions,
}

const COLUMNS: &[(&str, Col)] = &[
    ("type", Col::Type),
    ("indicatortype", Col::Type),
    ("value", Col::Value),
    ("indicatorvalue", Col::Value),
    ("action", Col::Action),
    ("severity", Col::Severity),
    ("title", Col::Title),
    ("description", Col::Description),
    ("expires", Col::Expires),
    ("expirationtime", Col::Expires),
    ("device_groups", Col::DeviceGroups),
    ("rbacgroups", Col::DeviceGroups),
    ("generate_alert", Col::GenerateAlert),
    ("generatealert", Col::GenerateAlert),
    ("source", Col::Source),
    ("reference", Col::Reference),
    ("first_seen", Col::FirstSeen),
    ("labels", Col::Labels),
    ("category", Col::Category),
    ("mitretechniques", Col::Techniques),
    ("recommendedactions", Col::RecommendedActions),
];

/// The columns `export_csv` writes, in order.
const EXPORT_HEADER: &str = "type,value,action,severity,title,description,expires,device_groups,\
                             generate_alert,source,reference,first_seen,labels";

fn parse_bool(v: &str) -> Result<bool, IntelError> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "yes" | "1" => Ok(true),
        "false" | "no" | "0" => Ok(false),
        _ => Err(IntelError::invalid(format!(
            "generate_alert {v:?} is not true or false"
        ))),
    }
}

fn parse_time(col: &str, v: &str) -> Result<i64, IntelError> {
    time::parse_ms(v).ok_or_else(|| {
        IntelError::invalid(format!(
            "{col} {v:?} is not an RFC 3339 time (e.g. 2030-01-31T00:00:00Z)"
        ))
    })
}

fn split_list(v: &str, sep: char) -> impl Iterator<Item = &str> {
    v.split(sep).map(str::trim).filter(|s| !s.is_empty())
}

pub(crate) fn import(text: &str, c: &mut Collector) -> Result<(), IntelError> {
    let parsed = records::parse(text, false)?;
    let mut rows = parsed.records.iter();
    let Some(header) = rows.next() else {
        return Err(IntelError::invalid(
            "empty CSV: expected a header line naming the columns (type,value,...)",
        ));
    };
    let mut cols: HashMap<Col, usize> = HashMap::new();
    for (i, name) in header.fields.iter().enumerate() {
        let key = name.trim().to_ascii_lowercase();
        let Some((_, col)) = COLUMNS.iter().find(|(n, _)| *n == key) else {
            return Err(IntelError::invalid(format!(
                "unknown column {name:?} (expected {EXPORT_HEADER}, or MDE's IndicatorType, \
                 IndicatorValue, ExpirationTime, Action, Severity, Title, Description, \
                 RecommendedActions, RbacGroups, Category, MitreTechniques, GenerateAlert)"
            ))
            .at(header.name()));
        };
        if cols.insert(*col, i).is_some() {
            return Err(
                IntelError::invalid(format!("column {name:?} appears twice")).at(header.name()),
            );
        }
    }
    for (need, name) in [(Col::Type, "type"), (Col::Value, "value")] {
        if !cols.contains_key(&need) {
            return Err(
                IntelError::invalid(format!("the header has no {name} column")).at(header.name()),
            );
        }
    }
    for rec in rows {
        if rec.fields.len() != header.fields.len() {
            return Err(IntelError::invalid(format!(
                "expected {} fields (the header's columns), found {}",
                header.fields.len(),
                rec.fields.len()
            ))
            .at(rec.name()));
        }
        let get = |col: Col| cols.get(&col).map_or("", |i| rec.fields[*i].trim());
        row(&get, &rec.name(), c).map_err(|e| e.at(rec.name()))?;
    }
    Ok(())
}

fn row<'r>(
    get: &dyn Fn(Col) -> &'r str,
    record: &str,
    c: &mut Collector,
) -> Result<(), IntelError> {
    let kind: IndicatorType = get(Col::Type).parse()?;
    let opt = |col: Col| Some(get(col)).filter(|v| !v.is_empty());
    let mut meta = Meta {
        title: opt(Col::Title).map(str::to_string),
        description: get(Col::Description).to_string(),
        action: opt(Col::Action).map(str::parse::<Action>).transpose()?,
        severity: opt(Col::Severity).map(str::parse::<Severity>).transpose()?,
        generate_alert: opt(Col::GenerateAlert).map(parse_bool).transpose()?,
        device_groups: split_list(get(Col::DeviceGroups), ',')
            .map(str::to_string)
            .collect(),
        source: opt(Col::Source).map(str::to_string),
        reference: get(Col::Reference).to_string(),
        first_seen_ms: opt(Col::FirstSeen)
            .map(|v| parse_time("first_seen", v))
            .transpose()?,
        ..Meta::default()
    };
    if let Some(r) = opt(Col::RecommendedActions) {
        if !meta.description.is_empty() {
            meta.description.push_str("\n\n");
        }
        meta.description.push_str("Recommended actions: ");
        meta.description.push_str(r);
    }
    split_list(get(Col::Labels), ';').for_each(|l| meta.label(l));
    if let Some(cat) = opt(Col::Category) {
        meta.label(&format!("category:{cat}"));
    }
    split_list(get(Col::Techniques), ',').for_each(|t| meta.label(t));
    let own_expiry = opt(Col::Expires)
        .map(|v| parse_time("expires", v))
        .transpose()?;
    meta.expires_ms = match c.expiry(own_expiry) {
        Ok(e) => e,
        Err(reason) => {
            c.skip(record, reason);
            return Ok(());
        }
    };
    c.add(record, &[(kind, get(Col::Value))], &meta);
    Ok(())
}

/// Writes indicators in Vigil's CSV columns (see the module documentation).
pub fn export_csv(indicators: &[Indicator]) -> String {
    let mut out = String::from(EXPORT_HEADER);
    out.push('\n');
    for ind in indicators {
        let p = &ind.provenance;
        let fields = [
            ind.kind.as_str().to_string(),
            ind.value.clone(),
            ind.action.as_str().to_string(),
            ind.severity.as_str().to_string(),
            ind.title.clone(),
            ind.description.clone(),
            ind.expires_ms.map(time::format_ms).unwrap_or_default(),
            ind.device_groups.join(","),
            ind.generate_alert.to_string(),
            p.source.clone(),
            p.reference.clone(),
            p.first_seen_ms.map(time::format_ms).unwrap_or_default(),
            p.labels.join(";"),
        ];
        let line: Vec<String> = fields.iter().map(|f| quote(f)).collect();
        out.push_str(&line.join(","));
        out.push('\n');
    }
    out
}
