//! Alert latency benchmark (a binary, not a test): how long from an event reaching the server
//! to its alert being stored and visible in the API, on the real `vigil-server` binary over
//! the real protocol.
//!
//! A simulated agent sends, every `ALERT_INTERVAL_MS` (default 100 ms), a batch holding one
//! event that a built-in rule alerts on (a program executed from a memfd, a new path each
//! time, so each is a new alert) among `ALERT_BATCH` (default 500) events of the simulator's
//! mix; another `ALERT_BG_AGENTS` agents (default 2) stream the mix in the background at
//! `ALERT_BG_RATE` events/s in all (default 20,000). `ALERT_TRIGGERS` (default 200) alerts
//! are timed, first on an otherwise idle server, then under the background load.
//!
//! Printed per phase: p50/p99 of send → alert visible (polled through `GET /api/v1/alerts?since_ms=`
//! every 10 ms) and, as the baseline measured in the same run on the same batches, send →
//! acknowledged (durable and queryable); the ratio is what detection adds on top of storage.
//! The agent's own batching (up to `uplink.batch_max_delay_ms`, 200 ms by default) comes on
//! top of both; the end-to-end tests print the whole path from a real technique.
//!
//! Run: `cargo bench -p vigil-server --bench alert_latency`.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{detection_counters, enroll_many, env_n, percentile, Server};
use vigil_proto::pb::telemetry_client::TelemetryClient;
use vigil_schema::{Col, Row, Table, Timestamp};
use vigil_sim::mix::Mix;

/// An event the built-in memfd rule alerts on; `i` makes its key entity (the path) new.
fn trigger(i: u64) -> Row {
    let mut r = Row::event(
        Table::DeviceProcessEvents,
        "ProcessCreated",
        Timestamp::now(),
    );
    let image = format!("/memfd:payload-{i}");
    r.put(Col::FolderPath, image.as_str());
    r.put(Col::FileName, &image[1..]);
    r.put(Col::ProcessCommandLine, format!("payload-{i} --beacon"));
    r.put(Col::InitiatingProcessFolderPath, "/usr/bin/python3.11");
    r.put(Col::InitiatingProcessFileName, "python3.11");
    r.put(Col::AccountName, "www-data");
    r.put(Col::ProcessId, 40_000 + i as i64);
    r
}

fn wall_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

struct Phase {
    alert: Vec<Duration>,
    ack: Vec<Duration>,
}

/// Trigger numbers of the alerts with activity since `since_ms` (the oldest pending trigger's
/// send time, so that each poll reads only the recent alerts).
fn alerts_visible(server: &Server, token: &str, since_ms: i64) -> Vec<String> {
    ureq::get(format!(
        "http://{}/api/v1/alerts?since_ms={since_ms}",
        server.http
    ))
    .header("Authorization", format!("Bearer {token}"))
    .call()
    .ok()
    .and_then(|mut r| r.body_mut().read_json::<serde_json::Value>().ok())
    .and_then(|v| v.as_array().cloned())
    .unwrap_or_default()
    .iter()
    .filter_map(|a| {
        let ev = a["Evidence"].to_string();
        let at = ev.find("/memfd:payload-")? + "/memfd:payload-".len();
        Some(ev[at..].chars().take_while(char::is_ascii_digit).collect())
    })
    .collect()
}

fn phase(
    server: &Server,
    token: &str,
    rt: &tokio::runtime::Runtime,
    trigger_agent: &vigil_uplink::Enrollment,
    first: u64,
    n: u64,
) -> Phase {
    let interval = Duration::from_millis(env_n("ALERT_INTERVAL_MS", 100));
    let batch = env_n("ALERT_BATCH", 500);
    let mut mix = Mix::new("latency", "bench", first + 7);
    let mut client: TelemetryClient<_> = rt
        .block_on(vigil_uplink::heartbeat_client(trigger_agent))
        .unwrap();
    let mut out = Phase {
        alert: Vec::new(),
        ack: Vec::new(),
    };
    // Send times, by trigger number, until its alert is seen.
    let mut pending: std::collections::HashMap<String, (Instant, i64)> = Default::default();
    let mut seq = first * 1_000_000;
    let mut next_send = Instant::now();
    let mut sent = 0u64;
    let deadline_after_last = Duration::from_secs(30);
    let mut last_sent_at = None;
    while out.alert.len() < n as usize {
        if sent < n && Instant::now() >= next_send {
            let i = first + sent;
            let mut rows: Vec<Row> = (0..batch - 1).map(|_| mix.next_row()).collect();
            rows.insert(rows.len() / 2, trigger(i));
            let b = vigil_proto::encode_batch(&format!("latency-{first}"), seq, &rows, 3);
            seq += rows.len() as u64;
            let t = Instant::now();
            pending.insert(i.to_string(), (t, wall_ms()));
            rt.block_on(client.upload(b)).unwrap();
            out.ack.push(t.elapsed());
            sent += 1;
            next_send += interval;
            last_sent_at = Some(Instant::now());
        }
        if let Some(oldest) = pending.values().map(|p| p.1).min() {
            for id in alerts_visible(server, token, oldest - 1_000) {
                if let Some((t, _)) = pending.remove(&id) {
                    out.alert.push(t.elapsed());
                }
            }
        }
        if let Some(l) = last_sent_at {
            if sent >= n && l.elapsed() >= deadline_after_last {
                detection_counters(server);
                panic!("{} alerts never appeared", pending.len());
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    out.alert.sort();
    out.ack.sort();
    out
}

fn report(name: &str, p: &Phase) {
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let (a50, a99) = (percentile(&p.alert, 0.5), percentile(&p.alert, 0.99));
    let (k50, k99) = (percentile(&p.ack, 0.5), percentile(&p.ack, 0.99));
    println!(
        "{name}: {} alerts; send → alert visible p50 {:.0} ms, p99 {:.0} ms (target: well within 2 s)",
        p.alert.len(),
        ms(a50),
        ms(a99)
    );
    println!(
        "{name}: baseline send → acknowledged (durable, queryable) p50 {:.0} ms, p99 {:.0} ms; alert/ack p50 ratio {:.2}",
        ms(k50),
        ms(k99),
        ms(a50) / ms(k50).max(1e-3)
    );
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let n = env_n("ALERT_TRIGGERS", 200);
    let bg_agents = env_n("ALERT_BG_AGENTS", 2) as usize;
    let bg_rate = env_n("ALERT_BG_RATE", 20_000);
    let server = Server::start(true);
    let token = std::fs::read_to_string(server.dir.path().join("admin.token"))
        .unwrap()
        .trim()
        .to_string();
    let (mut agents, _dirs) = enroll_many(&server, bg_agents + 1, "lat", &rt);
    let trigger_agent = agents.remove(0);

    let idle = phase(&server, &token, &rt, &trigger_agent, 1, n);
    report("idle server", &idle);

    // Background: each agent sends 2,000-event batches at its share of the rate.
    let stop = Arc::new(AtomicBool::new(false));
    let bg_sent = Arc::new(AtomicU64::new(0));
    let per_agent = (bg_rate / bg_agents.max(1) as u64).max(1);
    let mut tasks = Vec::new();
    for (k, e) in agents.into_iter().enumerate() {
        let (stop, bg_sent) = (Arc::clone(&stop), Arc::clone(&bg_sent));
        tasks.push(rt.spawn(async move {
            let mut client: TelemetryClient<_> = vigil_uplink::heartbeat_client(&e).await.unwrap();
            let mut mix = Mix::new(&format!("bg{k}"), "bench", 100 + k as u64);
            let every = Duration::from_secs_f64(2_000.0 / per_agent as f64);
            let mut seq = 0u64;
            let mut tick = tokio::time::interval(every);
            while !stop.load(Ordering::Relaxed) {
                tick.tick().await;
                let rows: Vec<Row> = (0..2_000).map(|_| mix.next_row()).collect();
                let b = vigil_proto::encode_batch("bg", seq, &rows, 3);
                seq += 2_000;
                if client.upload(b).await.is_ok() {
                    bg_sent.fetch_add(2_000, Ordering::Relaxed);
                }
            }
        }));
    }
    std::thread::sleep(Duration::from_secs(2));
    let t = Instant::now();
    let sent0 = bg_sent.load(Ordering::Relaxed);
    let loaded = phase(&server, &token, &rt, &trigger_agent, 1_000_000, n);
    let bg = (bg_sent.load(Ordering::Relaxed) - sent0) as f64 / t.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        let _ = rt.block_on(t);
    }
    report(
        &format!("under {bg:.0} events/s of background ingest"),
        &loaded,
    );
    detection_counters(&server);
}
