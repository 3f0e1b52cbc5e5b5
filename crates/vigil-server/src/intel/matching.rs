//! Matching one stored row against the indicator set, and the alert a hit becomes.
//!
//! The values looked up are the row's file hashes (its own and its initiating process's),
//! its remote address and its remote URL or host name (also a DNS query's name) and the URL a
//! file came from. The matcher decides between indicators of one value (`Allow` first, then
//! the strongest action) and between granularities (the most specific wins).
//!
//! An `Allow` hit on a row means the team vouches for something the row is about: Sigma
//! detections on that row are dropped, and the allowed value raises nothing.

use serde_json::json;
use vigil_intel::{Action, Indicator, IndicatorType, IntelSet};
use vigil_schema::Col;
use vigil_sigma::Event;
use vigil_state::NewHit;

use crate::detect::ArrowEvent;

/// MDE's detection source for alerts raised by a team's indicators.
pub const DETECTION_SOURCE: &str = "CustomTI";

/// Columns holding file hashes.
pub(crate) const HASH_COLS: [Col; 6] = [
    Col::SHA256,
    Col::SHA1,
    Col::MD5,
    Col::InitiatingProcessSHA256,
    Col::InitiatingProcessSHA1,
    Col::InitiatingProcessMD5,
];
/// Columns holding a URL or a host name.
pub(crate) const REMOTE_COLS: [Col; 2] = [Col::RemoteUrl, Col::FileOriginUrl];

/// The text cells of a row, as matching reads them (a stored Arrow row, or a projection of
/// one in a retro-hunt). Empty cells are `None`.
pub trait RowText {
    fn text(&self, col: Col) -> Option<&str>;
}

impl RowText for ArrowEvent<'_> {
    fn text(&self, col: Col) -> Option<&str> {
        ArrowEvent::text(self, col)
    }
}

/// One value of a row that matched an indicator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntelHit {
    pub col: Col,
    /// The indicator's index in the set it was found in.
    pub index: u32,
    pub value: String,
}

/// The hits of one row, in column order, at most one per column. Indicators scoped to
/// device groups other than `group` are left out.
pub fn row_hits(set: &IntelSet, ev: &impl RowText, group: Option<&str>, out: &mut Vec<IntelHit>) {
    out.clear();
    if set.is_empty() {
        return;
    }
    let mut push = |col: Col, value: &str, hit: Option<vigil_intel::Hit<'_>>| {
        if let Some(h) = hit.filter(|h| h.indicator.applies_to_group(group)) {
            out.push(IntelHit {
                col,
                index: h.index,
                value: value.to_string(),
            });
        }
    };
    for col in HASH_COLS {
        if let Some(v) = ev.text(col) {
            push(col, v, set.file_hash(v));
        }
    }
    if let Some(v) = ev.text(Col::RemoteIP) {
        push(Col::RemoteIP, v, set.ip_text(v));
    }
    for col in REMOTE_COLS {
        if let Some(v) = ev.text(col) {
            push(col, v, set.remote(v));
        }
    }
}

/// Whether any hit is an `Allow`.
pub fn allowed(set: &IntelSet, hits: &[IntelHit]) -> bool {
    hits.iter()
        .any(|h| set.get(h.index).is_some_and(|i| i.action == Action::Allow))
}

/// MDE's alert category for what an indicator names.
fn category(kind: IndicatorType) -> &'static str {
    match kind {
        IndicatorType::Sha256 | IndicatorType::Sha1 | IndicatorType::Md5 | IndicatorType::Cert => {
            "Malware"
        }
        IndicatorType::Ip | IndicatorType::Cidr | IndicatorType::Domain | IndicatorType::Url => {
            "CommandAndControl"
        }
    }
}

/// The evidence entity of the indicator itself.
pub fn indicator_evidence(ind: &Indicator, hit: &IntelHit) -> serde_json::Value {
    json!({
        "entity": "Indicator",
        "role": "Related",
        "IndicatorId": ind.id,
        "IndicatorType": ind.kind.as_str(),
        "IndicatorValue": ind.value,
        "Action": ind.action.as_str(),
        "Source": ind.provenance.source,
        "MatchedColumn": hit.col.name(),
        "MatchedValue": hit.value,
    })
}

/// The alert hit of an indicator match, or `None` when the indicator raises no alert
/// (`Allow`, or `generate_alert` off).
pub fn alert_hit(
    ind: &Indicator,
    hit: &IntelHit,
    device_id: &str,
    ev: &ArrowEvent<'_>,
) -> Option<NewHit> {
    if ind.action == Action::Allow || !ind.generate_alert {
        return None;
    }
    let mut evidence = ev.evidence(device_id);
    if let Some(list) = evidence.as_array_mut() {
        list.push(indicator_evidence(ind, hit));
    }
    let rule_id = format!("indicator:{}", ind.id);
    // The key entity is what the indicator names: every URL under a blocked domain seen on a
    // device within the window is one alert.
    Some(NewHit {
        group_key: format!("{rule_id}\u{1f}{device_id}\u{1f}{}", ind.value),
        rule_id,
        title: ind.title.clone(),
        severity: ind.severity.as_str().to_string(),
        category: category(ind.kind).to_string(),
        techniques: Vec::new(),
        detection_source: DETECTION_SOURCE.to_string(),
        device_id: device_id.to_string(),
        at_ms: ev.timestamp_ms(),
        count: 1,
        last_ms: ev.timestamp_ms(),
        evidence_json: evidence.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    use arrow::array::{ArrayRef, RecordBatch, StringArray, TimestampNanosecondArray};
    use arrow::datatypes::DataType;
    use vigil_schema::Table;

    fn batch(cols: &[(Col, &str)]) -> RecordBatch {
        let schema = vigil_schema::arrow::arrow_schema(Table::DeviceNetworkEvents);
        let arrays: Vec<ArrayRef> = schema
            .fields()
            .iter()
            .map(|f| -> ArrayRef {
                let col = Col::from_name(f.name()).unwrap();
                match f.data_type() {
                    DataType::Utf8 => {
                        let v = cols.iter().find(|(c, _)| *c == col).map(|(_, v)| *v);
                        Arc::new(StringArray::from(vec![v]))
                    }
                    DataType::Timestamp(_, tz) => Arc::new(
                        TimestampNanosecondArray::from(vec![1_000_000_000i64])
                            .with_timezone_opt(tz.clone()),
                    ),
                    other => arrow::array::new_null_array(other, 1),
                }
            })
            .collect();
        RecordBatch::try_new(schema, arrays).unwrap()
    }

    fn ind(id: u64, kind: IndicatorType, v: &str, action: Action) -> Indicator {
        let mut i = Indicator::new(kind, v).unwrap().with_action(action);
        i.id = id;
        i
    }

    #[test]
    fn a_row_hits_by_address_and_host_and_allow_is_seen() {
        let set = IntelSet::new(vec![
            ind(1, IndicatorType::Cidr, "203.0.113.0/24", Action::Block),
            ind(2, IndicatorType::Domain, "evil.example", Action::Audit),
            ind(3, IndicatorType::Domain, "good.evil.example", Action::Allow),
        ]);
        let b = batch(&[
            (Col::RemoteIP, "203.0.113.9"),
            (Col::RemoteUrl, "c2.evil.example"),
        ]);
        let ev = ArrowEvent::new(Table::DeviceNetworkEvents, &b, 0);
        let mut hits = Vec::new();
        row_hits(&set, &ev, None, &mut hits);
        let ids: Vec<u64> = hits.iter().map(|h| set.get(h.index).unwrap().id).collect();
        assert_eq!(ids, vec![1, 2]);
        assert!(!allowed(&set, &hits));
        let alert = alert_hit(set.get(hits[0].index).unwrap(), &hits[0], "dev1", &ev).unwrap();
        assert_eq!(alert.detection_source, DETECTION_SOURCE);
        assert_eq!(alert.category, "CommandAndControl");
        assert!(alert.evidence_json.contains("\"IndicatorId\":1"));

        let b = batch(&[(Col::RemoteUrl, "https://good.evil.example/x")]);
        let ev = ArrowEvent::new(Table::DeviceNetworkEvents, &b, 0);
        row_hits(&set, &ev, None, &mut hits);
        assert_eq!(hits.len(), 1);
        assert!(allowed(&set, &hits));
        assert!(alert_hit(set.get(hits[0].index).unwrap(), &hits[0], "d", &ev).is_none());
    }

    #[test]
    fn scoped_indicators_apply_only_to_their_groups() {
        let mut scoped = ind(1, IndicatorType::Ip, "198.51.100.7", Action::Block);
        scoped.device_groups = vec!["servers".into()];
        let set = IntelSet::new(vec![scoped]);
        let b = batch(&[(Col::RemoteIP, "198.51.100.7")]);
        let ev = ArrowEvent::new(Table::DeviceNetworkEvents, &b, 0);
        let mut hits = Vec::new();
        row_hits(&set, &ev, None, &mut hits);
        assert!(hits.is_empty());
        row_hits(&set, &ev, Some("laptops"), &mut hits);
        assert!(hits.is_empty());
        row_hits(&set, &ev, Some("servers"), &mut hits);
        assert_eq!(hits.len(), 1);
    }
}
