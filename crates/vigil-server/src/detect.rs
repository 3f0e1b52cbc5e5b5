//! Streaming detection: every batch the store accepted is evaluated against the Sigma rules
//! (the built-in ones compiled into the binary, plus `detection.rules_dirs`), and what matches
//! becomes an alert in the state store.
//!
//! Ingest never waits for detection: accepted rows go through a bounded queue to one worker
//! thread; a full queue skips the batch's rows for detection (counted in `/metrics` as
//! `vigil_detection_events_skipped_total`), never for the store. The worker reads the rows straight from the store's Arrow batches through
//! [`ArrowEvent`], the `vigil_sigma::Event` view of one row.

use std::cell::OnceCell;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::Arc;

use anyhow::{Context, Result};
use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Int32Type, Int64Type, TimestampNanosecondType};
use serde_json::{json, Value};
use vigil_schema::{Col, Table};
use vigil_sigma::{
    Detection, Evaluator, Event, FieldRef, LoadReport, Loader, Mapping, RuleInfo, RuleSet,
};
use vigil_state::{NewHit, StateStore};
use vigil_store::Store;

use crate::alert_tables::AlertTables;
use crate::intel::matching::{self, IntelHit};
use crate::intel::Intel;
use crate::metrics::Metrics;
use crate::now_ms;

include!(concat!(env!("OUT_DIR"), "/builtin_rules.rs"));

/// Hits of one rule on one device and key entity within this window are one alert.
pub(crate) const GROUP_WINDOW_MS: i64 = 3_600_000;
/// Batches waiting for detection before new ones are skipped by it. Queued batches hold their
/// Arrow memory (even once flushed to Parquet), so the queue stays short: about 64 × the
/// batch size in rows.
const QUEUE: usize = 64;

/// The built-in rules plus every rule file under `extra_dirs`, with the per-file report. A
/// file that does not load is logged with its reason (and `vigil rules check` lists them); it
/// does not stop the server.
pub fn load_rules(extra_dirs: &[PathBuf]) -> Result<(RuleSet, LoadReport)> {
    let mapping = Mapping::linux();
    let mut loader = Loader::new(&mapping);
    for (path, text) in BUILTIN_RULES {
        loader.add_source(format!("builtin:{path}"), *text);
    }
    for dir in extra_dirs {
        loader
            .add_dir(dir)
            .with_context(|| format!("cannot read detection rules under {}", dir.display()))?;
    }
    let (set, report) = loader.build();
    for f in report
        .files
        .iter()
        .filter(|f| f.status != vigil_sigma::Status::Loaded)
    {
        tracing::warn!(file = %f.path, status = f.status.as_str(), "rule not loaded: {}", f.reason);
    }
    tracing::info!(rules = set.rules().len(), "detection rules loaded");
    Ok((set, report))
}

struct Job {
    device_id: String,
    batches: Vec<(Table, RecordBatch)>,
}

/// The handle ingest uses to queue accepted rows for detection.
pub struct Detector {
    tx: SyncSender<Job>,
    metrics: Arc<Metrics>,
}

impl Detector {
    /// Start the worker thread (it stops when the `Detector` is dropped); new alerts'
    /// `AlertInfo`/`AlertEvidence` rows go to `store`.
    pub fn start(
        rules: RuleSet,
        intel: Arc<Intel>,
        state: StateStore,
        store: Store,
        runtime: tokio::runtime::Handle,
        metrics: Arc<Metrics>,
    ) -> Detector {
        let (tx, rx) = sync_channel(QUEUE);
        let m = Arc::clone(&metrics);
        let tables = AlertTables::new(store, "alerts");
        let w = Worker {
            rules,
            intel,
            state,
            runtime,
            metrics: m,
            groups: Groups::default(),
        };
        std::thread::Builder::new()
            .name("vigil-detect".into())
            .spawn(move || w.run(tables, rx))
            .expect("spawn the detection thread");
        Detector { tx, metrics }
    }

    /// Queue rows the store accepted; never blocks.
    pub fn submit(&self, device_id: &str, batches: Vec<(Table, RecordBatch)>) {
        if batches.is_empty() {
            return;
        }
        let job = Job {
            device_id: device_id.to_string(),
            batches,
        };
        if let Err(TrySendError::Full(job) | TrySendError::Disconnected(job)) =
            self.tx.try_send(job)
        {
            let rows: usize = job.batches.iter().map(|(_, b)| b.num_rows()).sum();
            self.metrics
                .detection_events_skipped
                .fetch_add(rows as u64, Ordering::Relaxed);
        }
    }
}

/// How long a device's group is cached by the worker.
const GROUP_TTL_MS: i64 = 30_000;

struct Worker {
    rules: RuleSet,
    intel: Arc<Intel>,
    state: StateStore,
    runtime: tokio::runtime::Handle,
    metrics: Arc<Metrics>,
    groups: Groups,
}

/// Device → (group, when read): a device's group, cached for a while.
#[derive(Default)]
struct Groups(HashMap<String, (Option<String>, i64)>);

impl Groups {
    fn get(
        &mut self,
        device_id: &str,
        state: &StateStore,
        runtime: &tokio::runtime::Handle,
    ) -> Option<String> {
        let now = now_ms();
        if let Some((g, at)) = self.0.get(device_id) {
            if now - at < GROUP_TTL_MS {
                return g.clone();
            }
        }
        let g = match runtime.block_on(state.device(device_id)) {
            Ok(d) => d.and_then(|d| d.group),
            Err(e) => {
                tracing::warn!(device = device_id, "cannot read the device's group: {e}");
                None
            }
        };
        self.0.insert(device_id.to_string(), (g.clone(), now));
        g
    }
}

/// Hits of one batch, folded per group key.
#[derive(Default)]
struct Hits {
    list: Vec<NewHit>,
    by_group: HashMap<String, usize>,
}

impl Hits {
    fn add(&mut self, hit: NewHit) {
        match self.by_group.get(&hit.group_key) {
            Some(&i) => {
                let h = &mut self.list[i];
                h.count += 1;
                h.at_ms = h.at_ms.min(hit.at_ms);
                h.last_ms = h.last_ms.max(hit.last_ms);
            }
            None => {
                self.by_group.insert(hit.group_key.clone(), self.list.len());
                self.list.push(hit);
            }
        }
    }
}

impl Worker {
    fn run(mut self, mut tables: AlertTables, rx: Receiver<Job>) {
        let mut eval = Evaluator::new(&self.rules);
        let mut found: Vec<Detection> = Vec::new();
        let mut intel_hits: Vec<IntelHit> = Vec::new();
        while let Ok(job) = rx.recv() {
            // Rules an analyst disabled raise nothing (the set is updated by the API).
            let disabled = self.state.disabled_rules();
            let set = self.intel.current();
            let group = self.groups.get(&job.device_id, &self.state, &self.runtime);
            // Hits of one group within a batch are folded into one, and the batch's alerts
            // are written in one transaction.
            let mut hits = Hits::default();
            for (table, batch) in &job.batches {
                for row in 0..batch.num_rows() {
                    let ev = ArrowEvent::new(*table, batch, row);
                    self.metrics
                        .detection_events
                        .fetch_add(1, Ordering::Relaxed);
                    matching::row_hits(&set, &ev, group.as_deref(), &mut intel_hits);
                    if !intel_hits.is_empty() {
                        self.metrics
                            .intel_hits
                            .fetch_add(intel_hits.len() as u64, Ordering::Relaxed);
                        if matching::allowed(&set, &intel_hits) {
                            // The team vouches for what this row is about.
                            self.metrics.intel_allowed.fetch_add(1, Ordering::Relaxed);
                            continue;
                        }
                        for h in &intel_hits {
                            if let Some(ind) = set.get(h.index) {
                                if let Some(hit) = matching::alert_hit(ind, h, &job.device_id, &ev)
                                {
                                    hits.add(hit);
                                }
                            }
                        }
                    }
                    found.clear();
                    eval.evaluate(&ev, &mut found);
                    for d in &found {
                        let Some(rule) = self.rules.rule(d.rule) else {
                            continue;
                        };
                        if disabled.contains(&rule.id) {
                            continue;
                        }
                        hits.add(hit_of(rule, d, &job.device_id, &ev));
                    }
                }
            }
            if !hits.list.is_empty() {
                record(
                    &self.runtime,
                    &self.state,
                    &mut tables,
                    &self.metrics,
                    &hits.list,
                );
            }
        }
    }
}

/// Record hits as alerts (one transaction) and store the new alerts' rows.
pub(crate) fn record(
    runtime: &tokio::runtime::Handle,
    state: &StateStore,
    tables: &mut AlertTables,
    metrics: &Metrics,
    hits: &[NewHit],
) {
    match runtime.block_on(state.record_hits(hits, GROUP_WINDOW_MS, now_ms())) {
        Ok(recorded) => {
            let created: Vec<(&str, &NewHit)> = recorded
                .iter()
                .zip(hits)
                .filter(|(r, _)| r.created)
                .filter_map(|(r, h)| Some((r.alert_id.as_deref()?, h)))
                .collect();
            tables.record(&created);
            for (r, hit) in recorded.iter().zip(hits) {
                match (&r.alert_id, &r.suppressed_by) {
                    (Some(id), None) if r.created => {
                        metrics.alerts_created.fetch_add(1, Ordering::Relaxed);
                        tracing::info!(alert = %id, incident = ?r.incident_id, rule = %hit.title, device = %hit.device_id, "alert");
                    }
                    (_, Some(s)) if r.created || r.alert_id.is_none() => {
                        tracing::debug!(suppression = %s, rule = %hit.title, device = %hit.device_id, "hit suppressed");
                    }
                    _ => {}
                }
            }
        }
        Err(e) => tracing::error!(hits = hits.len(), "cannot record alerts: {e}"),
    }
}

/// MDE's severities from Sigma's levels.
pub(crate) fn severity(level: Option<&str>) -> &'static str {
    match level.unwrap_or("") {
        "critical" | "high" => "High",
        "medium" => "Medium",
        "low" => "Low",
        _ => "Informational",
    }
}

/// ATT&CK technique ids (`T1059.004`) and the first tactic (MDE's category, `CommandAndControl`)
/// from Sigma tags.
pub(crate) fn attack(tags: &[String]) -> (Vec<String>, String) {
    let mut techniques = Vec::new();
    let mut category = None;
    for t in tags {
        let Some(rest) = t.strip_prefix("attack.") else {
            continue;
        };
        let is_technique = rest.len() >= 5
            && rest.as_bytes()[0].eq_ignore_ascii_case(&b't')
            && rest[1..5].bytes().all(|b| b.is_ascii_digit());
        if is_technique {
            techniques.push(rest.to_ascii_uppercase());
        } else if category.is_none() && !rest.starts_with('g') && !rest.starts_with('s') {
            category = Some(
                rest.split(['_', '-'])
                    .map(|w| {
                        let mut c = w.chars();
                        c.next()
                            .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                            .unwrap_or_default()
                    })
                    .collect::<String>(),
            );
        }
    }
    (techniques, category.unwrap_or_else(|| "Unknown".into()))
}

fn hit_of(rule: &RuleInfo, d: &Detection, device_id: &str, ev: &ArrowEvent<'_>) -> NewHit {
    let (techniques, category) = attack(&rule.tags);
    // The key entity: what the alert is about on the device.
    let key = match d.correlation.as_ref() {
        Some(c) => c.group.clone(),
        None => [Col::FolderPath, Col::RemoteIP, Col::RemoteUrl]
            .iter()
            .find_map(|&c| ev.text(c))
            .unwrap_or("")
            .to_string(),
    };
    NewHit {
        group_key: format!("{}\u{1f}{device_id}\u{1f}{key}", rule.id),
        rule_id: rule.id.clone(),
        title: rule.title.clone(),
        severity: severity(rule.level.as_deref()).into(),
        category,
        techniques,
        detection_source: "Sigma".into(),
        device_id: device_id.to_string(),
        at_ms: ev.timestamp_ms(),
        count: 1,
        last_ms: ev.timestamp_ms(),
        evidence_json: ev.evidence(device_id).to_string(),
    }
}

/// One row of a store batch, as the Sigma engine reads it.
pub struct ArrowEvent<'a> {
    table: Table,
    batch: &'a RecordBatch,
    row: usize,
    extra: OnceCell<Option<Value>>,
}

impl<'a> ArrowEvent<'a> {
    pub fn new(table: Table, batch: &'a RecordBatch, row: usize) -> Self {
        ArrowEvent {
            table,
            batch,
            row,
            extra: OnceCell::new(),
        }
    }

    fn column(&self, col: Col) -> Option<&'a dyn Array> {
        let i = self.table.position(col)?;
        let a = self.batch.columns().get(i)?.as_ref();
        (!a.is_null(self.row)).then_some(a)
    }

    pub(crate) fn text(&self, col: Col) -> Option<&'a str> {
        let a = self.column(col)?;
        match a.data_type() {
            DataType::Utf8 => Some(a.as_string::<i32>().value(self.row)).filter(|s| !s.is_empty()),
            _ => None,
        }
    }

    fn cell(&self, col: Col) -> Option<FieldRef<'a>> {
        let i = self.table.position(col)?;
        let a = self.batch.columns().get(i)?.as_ref();
        if a.is_null(self.row) {
            return Some(FieldRef::Null);
        }
        Some(match a.data_type() {
            DataType::Utf8 => FieldRef::Str(a.as_string::<i32>().value(self.row)),
            DataType::Int64 => FieldRef::Int(a.as_primitive::<Int64Type>().value(self.row)),
            DataType::Int32 => FieldRef::Int(a.as_primitive::<Int32Type>().value(self.row) as i64),
            DataType::Boolean => FieldRef::Bool(a.as_boolean().value(self.row)),
            DataType::Timestamp(..) => {
                FieldRef::Int(a.as_primitive::<TimestampNanosecondType>().value(self.row))
            }
            _ => return None,
        })
    }

    fn additional(&self) -> Option<&Value> {
        self.extra
            .get_or_init(|| {
                self.text(Col::AdditionalFields)
                    .and_then(|t| serde_json::from_str(t).ok())
            })
            .as_ref()
    }

    /// Evidence entities of this row, with their roles.
    pub(crate) fn evidence(&self, device_id: &str) -> Value {
        let t = |c| self.text(c);
        let n = |c| match self.cell(c) {
            Some(FieldRef::Int(i)) => Some(i),
            _ => None,
        };
        let mut out = vec![
            json!({ "entity": "Device", "role": "Impacted", "DeviceId": device_id, "DeviceName": t(Col::DeviceName) }),
        ];
        if self.table == Table::DeviceProcessEvents {
            out.push(json!({ "entity": "Process", "role": "Related", "FileName": t(Col::FileName), "FolderPath": t(Col::FolderPath), "ProcessCommandLine": t(Col::ProcessCommandLine), "ProcessId": n(Col::ProcessId), "SHA256": t(Col::SHA256) }));
        } else if t(Col::FolderPath).is_some() {
            // The file a file, image-load or device event (e.g. SensitiveFileRead) is about.
            out.push(json!({ "entity": "File", "role": "Impacted", "FileName": t(Col::FileName), "FolderPath": t(Col::FolderPath), "SHA256": t(Col::SHA256) }));
        }
        if t(Col::InitiatingProcessFolderPath).is_some() {
            // For a process event the initiating process is the parent; otherwise it is the
            // process that acted.
            let role = if self.table == Table::DeviceProcessEvents {
                "Parent"
            } else {
                "Actor"
            };
            out.push(json!({ "entity": "Process", "role": role, "FileName": t(Col::InitiatingProcessFileName), "FolderPath": t(Col::InitiatingProcessFolderPath), "ProcessCommandLine": t(Col::InitiatingProcessCommandLine), "ProcessId": n(Col::InitiatingProcessId) }));
        }
        if let Some(ip) = t(Col::RemoteIP) {
            out.push(json!({ "entity": "Ip", "role": "Related", "Address": ip, "Port": n(Col::RemotePort) }));
        }
        if let Some(url) = t(Col::RemoteUrl) {
            out.push(json!({ "entity": "Url", "role": "Related", "Url": url }));
        }
        if let Some(user) = t(Col::AccountName).or(t(Col::InitiatingProcessAccountName)) {
            out.push(json!({ "entity": "User", "role": "Related", "AccountName": user }));
        }
        Value::Array(out)
    }
}

impl<'a> Event for ArrowEvent<'a> {
    fn table(&self) -> &str {
        self.table.name()
    }

    fn field(&self, name: &str) -> Option<FieldRef<'_>> {
        if let Some(path) = name.strip_prefix("AdditionalFields.") {
            let mut v = self.additional()?;
            for key in path.split('.') {
                v = v.get(key)?;
            }
            return match v {
                Value::String(s) => Some(FieldRef::Str(s)),
                Value::Bool(b) => Some(FieldRef::Bool(*b)),
                Value::Number(x) => x.as_i64().map(FieldRef::Int),
                Value::Null => Some(FieldRef::Null),
                _ => None,
            };
        }
        self.cell(Col::from_name(name)?)
    }

    fn timestamp_ms(&self) -> i64 {
        match self.cell(Col::Timestamp) {
            Some(FieldRef::Int(ns)) => ns.div_euclid(1_000_000),
            _ => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_give_techniques_and_the_tactic() {
        let tags: Vec<String> = [
            "attack.command_and_control",
            "attack.t1095",
            "attack.execution",
            "attack.t1059.004",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let (t, c) = attack(&tags);
        assert_eq!(t, vec!["T1095", "T1059.004"]);
        assert_eq!(c, "CommandAndControl");
        assert_eq!(severity(Some("critical")), "High");
        assert_eq!(severity(None), "Informational");
    }

    #[test]
    fn the_built_in_rules_all_load() {
        let (set, report) = load_rules(&[]).unwrap();
        assert!(
            BUILTIN_RULES.len() >= 120,
            "{} built-in rule files",
            BUILTIN_RULES.len()
        );
        assert_eq!(report.files.len(), BUILTIN_RULES.len());
        for f in &report.files {
            assert_eq!(
                f.status,
                vigil_sigma::Status::Loaded,
                "{}: {}",
                f.path,
                f.reason
            );
        }
        assert!(set.rules().len() >= BUILTIN_RULES.len());
    }
}
