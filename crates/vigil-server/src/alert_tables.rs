//! The alert tables of advanced hunting: when detection creates an alert, one `AlertInfo` row
//! and one `AlertEvidence` row per evidence entity are stored in the telemetry store beside the
//! events, so that hunting queries join alerts with telemetry as they do in MDE. They record
//! what was detected, once; the alert's lifecycle (status, assignee, ...) lives in the state
//! store and the API.
//!
//! Rows go through `Store::append` like an agent's: per device under a boot id unique to this
//! server run, numbered from 0, so that the store's dedupe never confuses them with anything.
//! Agents may not write these tables (`Table::written_by_agents`).

use std::collections::HashMap;

use serde_json::Value;
use vigil_schema::{Col, Row, Table, Timestamp};
use vigil_state::NewHit;
use vigil_store::{IngestBatch, Store};

/// What MDE calls the product that raised an alert.
pub const SERVICE_SOURCE: &str = "Vigil";

/// Writes alert rows; owned by the detection worker.
pub struct AlertTables {
    store: Store,
    boot_id: String,
    next_seq: HashMap<String, u64>,
}

impl AlertTables {
    /// A writer whose rows are numbered apart from other writers' (`source` names it).
    pub fn new(store: Store, source: &str) -> AlertTables {
        static WRITERS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = WRITERS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        AlertTables {
            store,
            boot_id: format!("{source}-{}-{n}", crate::now_ms()),
            next_seq: HashMap::new(),
        }
    }

    /// [`AlertTables::record`] from async code: appending may wait for room in the store, so
    /// it leaves the async workers when the runtime has several (a single-threaded runtime has
    /// no other worker to hand over to).
    pub fn record_in_async(&mut self, created: &[(&str, &NewHit)]) {
        match tokio::runtime::Handle::current().runtime_flavor() {
            tokio::runtime::RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(|| self.record(created))
            }
            _ => self.record(created),
        }
    }

    /// Store the rows of alerts created now (all of one device per append).
    pub fn record(&mut self, created: &[(&str, &NewHit)]) {
        let mut by_device: HashMap<&str, Vec<Row>> = HashMap::new();
        for (id, hit) in created {
            by_device
                .entry(hit.device_id.as_str())
                .or_default()
                .extend(rows(id, hit));
        }
        for (device, rows) in by_device {
            let seq = self.next_seq.entry(device.to_string()).or_insert(0);
            let batch = IngestBatch::from_rows(device, &self.boot_id, *seq, &rows);
            *seq += rows.len() as u64;
            if let Err(e) = self.store.append(batch) {
                tracing::error!(device, rows = rows.len(), "cannot store alert rows: {e}");
            }
        }
    }
}

/// MDE's entity type names for the evidence kinds detection records.
fn entity_type(kind: &str) -> &str {
    match kind {
        "Device" => "Machine",
        "Ip" => "Ip",
        other => other,
    }
}

/// The `AlertInfo` row and the `AlertEvidence` rows of one alert.
pub fn rows(alert_id: &str, hit: &NewHit) -> Vec<Row> {
    let at = Timestamp(hit.at_ms.saturating_mul(1_000_000));
    let techniques = serde_json::to_string(&hit.techniques).unwrap_or_default();
    let categories = serde_json::to_string(&[&hit.category]).unwrap_or_default();
    let mut info = Row::new(Table::AlertInfo);
    info.put(Col::Timestamp, at);
    info.put(Col::AlertId, alert_id);
    info.put(Col::Title, hit.title.as_str());
    info.put(Col::Category, hit.category.as_str());
    info.put(Col::Severity, hit.severity.as_str());
    info.put(Col::ServiceSource, SERVICE_SOURCE);
    info.put(Col::DetectionSource, hit.detection_source.as_str());
    info.put(Col::AttackTechniques, techniques.as_str());
    let mut out = vec![info];

    let evidence: Vec<Value> = serde_json::from_str(&hit.evidence_json).unwrap_or_default();
    let device_name = evidence
        .iter()
        .find(|e| e["entity"] == "Device")
        .and_then(|e| e["DeviceName"].as_str())
        .map(str::to_string);
    for e in &evidence {
        let mut r = Row::new(Table::AlertEvidence);
        r.put(Col::Timestamp, at);
        r.put(Col::AlertId, alert_id);
        r.put(Col::Title, hit.title.as_str());
        r.put(Col::Categories, categories.as_str());
        r.put(Col::AttackTechniques, techniques.as_str());
        r.put(Col::ServiceSource, SERVICE_SOURCE);
        r.put(Col::DetectionSource, hit.detection_source.as_str());
        r.put(Col::Severity, hit.severity.as_str());
        r.put(
            Col::EntityType,
            entity_type(e["entity"].as_str().unwrap_or("")),
        );
        // MDE's roles are Impacted and Related; the finer role (Parent, Actor) and the
        // numbers go to AdditionalFields.
        let role = e["role"].as_str().unwrap_or("Related");
        r.put(
            Col::EvidenceRole,
            if role == "Impacted" {
                "Impacted"
            } else {
                "Related"
            },
        );
        r.put(Col::DeviceId, hit.device_id.as_str());
        if let Some(n) = &device_name {
            r.put(Col::DeviceName, n.as_str());
        }
        let text = |k: &str| e[k].as_str().filter(|s| !s.is_empty());
        for (col, key) in [
            (Col::FileName, "FileName"),
            (Col::FolderPath, "FolderPath"),
            (Col::SHA256, "SHA256"),
            (Col::ProcessCommandLine, "ProcessCommandLine"),
            (Col::RemoteIP, "Address"),
            (Col::RemoteUrl, "Url"),
            (Col::AccountName, "AccountName"),
        ] {
            if let Some(v) = text(key) {
                r.put(col, v);
            }
        }
        r.put_extra("Role", role);
        for key in ["ProcessId", "Port"] {
            if let Some(n) = e[key].as_i64() {
                r.put_extra(key, n);
            }
        }
        out.push(r);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_alert_becomes_one_info_row_and_an_evidence_row_per_entity() {
        let hit = NewHit {
            group_key: "k".into(),
            rule_id: "r".into(),
            title: "Shell wired to a socket".into(),
            severity: "High".into(),
            category: "CommandAndControl".into(),
            techniques: vec!["T1059.004".into(), "T1095".into()],
            detection_source: "Sigma".into(),
            device_id: "dev1".into(),
            at_ms: 1_700_000_000_000,
            count: 1,
            last_ms: 1_700_000_000_000,
            evidence_json: r#"[{"entity":"Device","role":"Impacted","DeviceId":"dev1","DeviceName":"web01"},
                {"entity":"Process","role":"Parent","FileName":"nginx","FolderPath":"/usr/sbin/nginx","ProcessId":41},
                {"entity":"Ip","role":"Related","Address":"10.0.0.1","Port":4444}]"#
                .into(),
        };
        let rows = rows("al_1", &hit);
        assert_eq!(rows.len(), 4);
        assert_eq!(rows[0].table(), Table::AlertInfo);
        assert_eq!(
            rows[0].get_str(Col::AttackTechniques),
            Some("[\"T1059.004\",\"T1095\"]")
        );
        assert_eq!(rows[0].get_str(Col::ServiceSource), Some(SERVICE_SOURCE));
        let ev = &rows[1..];
        assert!(ev.iter().all(|r| r.table() == Table::AlertEvidence
            && r.get_str(Col::AlertId) == Some("al_1")
            && r.get_str(Col::DeviceId) == Some("dev1")
            && r.get_str(Col::DeviceName) == Some("web01")));
        assert_eq!(ev[0].get_str(Col::EntityType), Some("Machine"));
        assert_eq!(ev[0].get_str(Col::EvidenceRole), Some("Impacted"));
        assert_eq!(ev[1].get_str(Col::EntityType), Some("Process"));
        assert_eq!(ev[1].get_str(Col::EvidenceRole), Some("Related"));
        assert_eq!(ev[1].get_str(Col::FolderPath), Some("/usr/sbin/nginx"));
        let extra = |r: &Row| format!("{:?}", r.get(Col::AdditionalFields));
        assert!(extra(&ev[1]).contains("Parent"), "{}", extra(&ev[1]));
        assert_eq!(ev[2].get_str(Col::RemoteIP), Some("10.0.0.1"));
        assert!(extra(&ev[2]).contains("4444"), "{}", extra(&ev[2]));
    }
}
