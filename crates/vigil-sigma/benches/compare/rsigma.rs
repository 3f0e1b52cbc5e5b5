//! The same measurement with rsigma (`rsigma-eval`, the reference implementation).
//!
//! rsigma reads events with Sigma's field names, so the comparison uses the rules of the log
//! sources whose fields map one to one (process_creation, file_event, network_connection,
//! dns_query) and gives each engine the same events in its own shape: Vigil columns for
//! vigil-sigma, Sigma fields (JSON) for rsigma, converted before timing. rsigma evaluates with
//! the event's log source (its logsource pruning, the counterpart of Vigil's table dispatch).

use std::path::PathBuf;

use rsigma_eval::event::JsonEvent;
use rsigma_eval::Engine;
use rsigma_parser::LogSource;
use serde_json::{Map, Value as J};
use vigil_sigma::{Event, FieldRef, Loader, Mapping, OwnedEvent, RuleSet};

use crate::{run, Rate};

/// Vigil column → Sigma field, per table.
fn sigma_fields(table: &str) -> (&'static str, &'static [(&'static str, &'static str)]) {
    match table {
        "DeviceProcessEvents" => (
            "process_creation",
            &[
                ("FolderPath", "Image"),
                ("ProcessCommandLine", "CommandLine"),
                ("InitiatingProcessFolderPath", "ParentImage"),
                ("InitiatingProcessCommandLine", "ParentCommandLine"),
                ("AccountName", "User"),
                ("InitiatingProcessAccountName", "ParentUser"),
                ("ProcessId", "ProcessId"),
                ("InitiatingProcessId", "ParentProcessId"),
                ("AdditionalFields.cwd", "CurrentDirectory"),
                ("SHA256", "sha256"),
                ("DeviceName", "Computer"),
            ],
        ),
        "DeviceFileEvents" => (
            "file_event",
            &[
                ("FolderPath", "TargetFilename"),
                ("InitiatingProcessFolderPath", "Image"),
                ("InitiatingProcessCommandLine", "CommandLine"),
                ("InitiatingProcessAccountName", "User"),
                ("DeviceName", "Computer"),
            ],
        ),
        "DeviceNetworkEvents" => (
            "network_connection",
            &[
                ("RemoteIP", "DestinationIp"),
                ("RemotePort", "DestinationPort"),
                ("RemoteUrl", "DestinationHostname"),
                ("LocalIP", "SourceIp"),
                ("LocalPort", "SourcePort"),
                ("Protocol", "Protocol"),
                ("InitiatingProcessFolderPath", "Image"),
                ("InitiatingProcessCommandLine", "CommandLine"),
                ("InitiatingProcessAccountName", "User"),
                ("DeviceName", "Computer"),
            ],
        ),
        _ => (
            "dns_query",
            &[("RemoteUrl", "QueryName"), ("DeviceName", "Computer")],
        ),
    }
}

fn to_sigma(e: &OwnedEvent) -> (J, LogSource) {
    let (category, fields) = sigma_fields(e.table());
    let mut m = Map::new();
    for (col, name) in fields {
        let v = match e.field(col) {
            Some(FieldRef::Str(s)) => J::String(s.to_string()),
            Some(FieldRef::Int(i)) => J::from(i),
            Some(FieldRef::Bool(b)) => J::Bool(b),
            _ => continue,
        };
        m.insert((*name).to_string(), v);
    }
    if e.table() == "DeviceNetworkEvents" {
        let inbound = e.action_type() == Some("InboundConnectionAccepted");
        m.insert("Initiated".into(), J::String((!inbound).to_string()));
    }
    let ls = LogSource {
        category: Some(category.to_string()),
        product: Some("linux".to_string()),
        ..LogSource::default()
    };
    (J::Object(m), ls)
}

/// Whether a rule file is one of the compared log sources.
fn compared(text: &str) -> bool {
    [
        "category: process_creation",
        "category: file_event",
        "category: network_connection",
        "category: dns_query",
    ]
    .iter()
    .any(|c| text.contains(c))
        && !text.contains("correlation:")
        && !text.contains("\nfilter:")
}

pub fn compare(_all: &RuleSet, loaded: &[PathBuf], pool: &[OwnedEvent], n: usize, vigil_all: f64) {
    let files: Vec<(PathBuf, String)> = loaded
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok().map(|t| (p.clone(), t)))
        .filter(|(_, t)| compared(t))
        .collect();
    // rsigma's engine with the same files.
    let mut engine = Engine::new();
    let mut rs_rules = 0usize;
    let mut rs_failed = Vec::new();
    for (p, t) in &files {
        match rsigma_parser::parse_sigma_yaml(t) {
            Ok(c) => {
                let n_rules = c.rules.len();
                match engine.add_collection(&c) {
                    Ok(()) => rs_rules += n_rules,
                    Err(e) => rs_failed.push(format!("{}: {e}", p.display())),
                }
            }
            Err(e) => rs_failed.push(format!("{}: {e}", p.display())),
        }
    }
    // vigil-sigma with the same files.
    let mapping = Mapping::linux();
    let mut loader = Loader::new(&mapping);
    for (p, t) in &files {
        loader.add_source(p.display().to_string(), t.clone());
    }
    let (subset, _) = loader.build();
    let sigma_events: Vec<(J, LogSource)> = pool.iter().map(to_sigma).collect();

    // Warm-up, then the timed runs.
    for (v, ls) in sigma_events.iter().take(10_000) {
        std::hint::black_box(engine.evaluate_with_logsource(&JsonEvent::borrow(v), ls));
    }
    let start = std::time::Instant::now();
    let cpu0 = crate::cpu_ns();
    let mut rs_hits = 0usize;
    for i in 0..n {
        let (v, ls) = &sigma_events[i % sigma_events.len()];
        let r = engine.evaluate_with_logsource(&JsonEvent::borrow(v), ls);
        rs_hits += r.len();
        std::hint::black_box(&r);
    }
    let wall = start.elapsed().as_secs_f64();
    let cpu = match (cpu0, crate::cpu_ns()) {
        (Some(a), Some(b)) if b > a => (b - a) as f64 / 1e9,
        _ => wall,
    };
    let rs = Rate {
        cpu: n as f64 / cpu,
        wall: n as f64 / wall,
    };
    run(&subset, pool, pool.len().min(50_000), false);
    let (vg, vg_hits) = run(&subset, pool, n, false);
    println!(
        "rsigma comparison on the {} rule files of process_creation, file_event, network_connection, dns_query ({} rules in rsigma, {} in vigil-sigma; {} files rsigma refused):",
        files.len(),
        rs_rules,
        subset.rules().len(),
        rs_failed.len()
    );
    for f in rs_failed.iter().take(5) {
        println!("  rsigma refused {f}");
    }
    println!("  rsigma-eval 0.23:   {rs}   ({rs_hits} detections)");
    println!("  vigil-sigma:        {vg}   ({vg_hits} detections)");
    println!("  ratio vigil/rsigma: {:.1}x", vg.cpu / rs.cpu);
    println!(
        "  (vigil-sigma with every rule, for reference: {vigil_all:.0} events/s per CPU second)"
    );
}
