//! Fleet benchmark (a binary, not a test): the real `vigil-server` binary fed over the real
//! protocol (mutual TLS, zstd batches) by simulated agents.
//!
//! 1. Ingest: `FLEET_AGENTS` agents (default 4) each upload pre-encoded batches of 2,000 events
//!    of the simulator's mix, 4 in flight, `FLEET_EVENTS` in all (default 2,000,000). Prints
//!    events/s and the p50/p99 time from send to acknowledgement (the server acknowledges
//!    only when the batch is durable, and it is queryable from then on), then checks with SQL
//!    that every event is stored once, and prints what streaming detection evaluated and
//!    skipped (`FLEET_DETECTION=0` runs the server with detection off: the store alone). Baseline in the same run: encoding the same rows as
//!    JSON lines (what a naive collector would do per event), and, when Debian's ClickHouse is
//!    installed, its bulk insert of the same rows (`clickhouse-client`, JSONEachRow).
//! 2. Connected fleet: `FLEET_HEARTBEAT_AGENTS` agents (default 10,000) enrol, connect over
//!    their own TLS connection each and heartbeat every 10 s for `FLEET_HEARTBEAT_SECS`
//!    (default 60); the server's RSS and CPU are sampled along the way.
//!
//! Run: `cargo bench -p vigil-server --bench fleet` (as root, for the file-descriptor limit).

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use vigil_proto::pb::telemetry_client::TelemetryClient;
use vigil_proto::pb::{EventBatch, HeartbeatRequest};
use vigil_sim::mix::Mix;

mod common;

use common::{
    detection_metrics, enroll_many, env_n, free_port, percentile, raise_fd_limit, usage, Server,
};

fn ingest(rt: &tokio::runtime::Runtime) {
    let agents = env_n("FLEET_AGENTS", 4) as usize;
    let total = env_n("FLEET_EVENTS", 2_000_000);
    let per_batch = 2_000u64;
    let batches_per_agent = (total / per_batch / agents as u64).max(1);
    println!("ingest: {agents} agents × {batches_per_agent} batches × {per_batch} events");

    // Pre-encode, so that the clock measures the server, not the generator.
    let mut all: Vec<Vec<EventBatch>> = Vec::new();
    let mut json_bytes = 0usize;
    let mut json_time = Duration::ZERO;
    let mut sample_rows = Vec::new();
    for a in 0..agents {
        let mut mix = Mix::new(&format!("ing{a:05}"), "bench", a as u64 + 1);
        let mut v = Vec::new();
        for b in 0..batches_per_agent {
            let rows: Vec<_> = (0..per_batch).map(|_| mix.next_row()).collect();
            // Baseline: the same rows as JSON lines.
            let t = Instant::now();
            let mut line = String::new();
            for r in &rows {
                line.clear();
                line.push_str(&row_json(r));
                json_bytes += line.len() + 1;
            }
            json_time += t.elapsed();
            if a == 0 && b < 50 {
                sample_rows.extend(rows.iter().cloned());
            }
            v.push(vigil_proto::encode_batch(
                "bench-boot",
                b * per_batch,
                &rows,
                3,
            ));
        }
        all.push(v);
    }
    let events = agents as u64 * batches_per_agent * per_batch;

    let server = Server::start(env_n("FLEET_DETECTION", 1) != 0);
    let (enrolled, _dirs) = enroll_many(&server, agents, "ing", rt);
    let (rss0, cpu0) = usage(server.child.id());
    let latencies = Arc::new(std::sync::Mutex::new(Vec::new()));
    let acked = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    rt.block_on(async {
        let mut tasks = Vec::new();
        for (e, batches) in enrolled.into_iter().zip(all) {
            let (latencies, acked) = (Arc::clone(&latencies), Arc::clone(&acked));
            tasks.push(tokio::spawn(async move {
                let client: TelemetryClient<_> = vigil_uplink::heartbeat_client(&e)
                    .await
                    .unwrap()
                    .max_encoding_message_size(64 << 20);
                use futures::StreamExt;
                let mut inflight = futures::stream::FuturesUnordered::new();
                for b in batches {
                    if inflight.len() >= 4 {
                        let (lat, n): (Duration, u64) = inflight.next().await.unwrap();
                        latencies.lock().unwrap().push(lat);
                        acked.fetch_add(n, Ordering::Relaxed);
                    }
                    let mut c = client.clone();
                    inflight.push(async move {
                        let t = Instant::now();
                        let n = b.count as u64;
                        c.upload(b).await.unwrap();
                        (t.elapsed(), n)
                    });
                }
                while let Some((lat, n)) = inflight.next().await {
                    latencies.lock().unwrap().push(lat);
                    acked.fetch_add(n, Ordering::Relaxed);
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
    });
    let secs = started.elapsed().as_secs_f64();
    let (rss1, cpu1) = usage(server.child.id());
    let mut lat = latencies.lock().unwrap().clone();
    lat.sort();
    let rate = events as f64 / secs;
    let stored: i64 = [
        "DeviceProcessEvents",
        "DeviceFileEvents",
        "DeviceNetworkEvents",
        "DeviceEvents",
        "DeviceLogonEvents",
    ]
    .iter()
    .map(|t| {
        let v = server.post(
            "/api/v1/events/sql",
            serde_json::json!({ "sql": format!("SELECT count(*) AS n FROM {t}") }),
        );
        v["rows"][0]["n"].as_i64().unwrap()
    })
    .sum();
    let json_rate = events as f64 / json_time.as_secs_f64().max(1e-9);
    println!("ingest: {events} events in {secs:.2} s = {rate:.0} events/s (target ≥ 300,000); stored and queryable: {stored}");
    println!(
        "ingest: send → acknowledged (durable, queryable): p50 {:.0} ms, p99 {:.0} ms (target p99 ≤ 2000 ms)",
        percentile(&lat, 0.5).as_secs_f64() * 1e3,
        percentile(&lat, 0.99).as_secs_f64() * 1e3
    );
    println!(
        "ingest: server CPU {:.1} s over {secs:.1} s ({:.0} %), RSS {} → {} MB",
        cpu1 - cpu0,
        (cpu1 - cpu0) / secs * 100.0,
        rss0 >> 20,
        rss1 >> 20
    );
    let (evaluated, skipped, alerts) = detection_metrics(&server);
    println!(
        "ingest: streaming detection {} (FLEET_DETECTION): {evaluated} rows evaluated, {skipped} skipped (queue full), {alerts} alerts",
        if env_n("FLEET_DETECTION", 1) != 0 { "on" } else { "off" },
    );
    println!("baseline: JSON-lines encoding alone {json_rate:.0} events/s ({} MB); vigil ingest / JSON encoding = {:.2}", json_bytes >> 20, rate / json_rate);
    clickhouse_reference(&sample_rows, rate);
    assert_eq!(
        stored as u64, events,
        "every acknowledged event is stored once"
    );
}

/// The row as a JSON object of its non-null cells (MDE names).
fn row_json(r: &vigil_schema::Row) -> String {
    use vigil_schema::Value;
    let mut m = serde_json::Map::new();
    for (c, v) in r.cells() {
        let j = match v {
            Value::Null => continue,
            Value::String(s) => serde_json::Value::from(s.as_str()),
            Value::Long(n) => (*n).into(),
            Value::Int(n) => (*n).into(),
            Value::Bool(b) => (*b).into(),
            Value::DateTime(t) => (t.nanos() / 1_000_000_000).into(),
            Value::Dynamic(d) => d.to_json().into(),
        };
        m.insert(c.name().to_string(), j);
    }
    serde_json::Value::Object(m).to_string()
}

/// ClickHouse 18.16 (Debian's package) bulk-inserting the same rows, as a reference ratio.
fn clickhouse_reference(rows: &[vigil_schema::Row], vigil_rate: f64) {
    let (Ok(server_bin), Ok(client_bin)) = (which("clickhouse-server"), which("clickhouse-client"))
    else {
        println!("reference: ClickHouse is not installed (apt-get install clickhouse-server clickhouse-client); skipped");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let http = free_port();
    let config = format!(
        "<yandex><logger><level>warning</level><console>1</console></logger><tcp_port>{port}</tcp_port><http_port>{http}</http_port>\
         <listen_host>127.0.0.1</listen_host><path>{p}/</path><tmp_path>{p}/tmp/</tmp_path><users_config>{p}/users.xml</users_config>\
         <mark_cache_size>268435456</mark_cache_size></yandex>",
        p = dir.path().display()
    );
    std::fs::write(dir.path().join("config.xml"), config).unwrap();
    std::fs::write(
        dir.path().join("users.xml"),
        "<yandex><profiles><default></default></profiles><users><default><password></password><networks><ip>::/0</ip></networks><profile>default</profile><quota>default</quota></default></users><quotas><default></default></quotas></yandex>",
    )
    .unwrap();
    let mut ch = match Command::new(&server_bin)
        .arg("--config-file")
        .arg(dir.path().join("config.xml"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            println!("reference: cannot start ClickHouse: {e}; skipped");
            return;
        }
    };
    let client = |q: &str, input: Option<&[u8]>| -> Result<String, String> {
        use std::io::Write;
        let mut c = Command::new(&client_bin)
            .args([
                "--port",
                &port.to_string(),
                "--input_format_skip_unknown_fields=1",
                "--query",
                q,
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| e.to_string())?;
        if let Some(i) = input {
            c.stdin
                .take()
                .unwrap()
                .write_all(i)
                .map_err(|e| e.to_string())?;
        }
        drop(c.stdin.take());
        let out = c.wait_with_output().map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).to_string())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).to_string())
        }
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while client("SELECT 1", None).is_err() {
        if Instant::now() > deadline {
            println!("reference: ClickHouse did not start; skipped");
            let _ = ch.kill();
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let cols = "Timestamp UInt64, DeviceId String, DeviceName String, ActionType String, ReportId Int64, FileName String, FolderPath String, SHA256 String, \
        ProcessId Int64, ProcessCommandLine String, AccountName String, RemoteIP String, RemotePort Int32, LocalIP String, LocalPort Int32, Protocol String, \
        InitiatingProcessFileName String, InitiatingProcessFolderPath String, InitiatingProcessCommandLine String, InitiatingProcessId Int64, \
        InitiatingProcessParentId Int64, InitiatingProcessParentFileName String, InitiatingProcessAccountName String, InitiatingProcessSHA256 String, AdditionalFields String";
    client(
        &format!("CREATE TABLE ev ({cols}) ENGINE = MergeTree() ORDER BY (DeviceId, Timestamp)"),
        None,
    )
    .unwrap();
    let mut body = Vec::new();
    for r in rows {
        body.extend_from_slice(row_json(r).as_bytes());
        body.push(b'\n');
    }
    let t = Instant::now();
    let res = client("INSERT INTO ev FORMAT JSONEachRow", Some(&body));
    let secs = t.elapsed().as_secs_f64();
    match res {
        Ok(_) => {
            let n: f64 = client("SELECT count() FROM ev", None)
                .unwrap_or_default()
                .trim()
                .parse()
                .unwrap_or(0.0);
            let rate = n / secs;
            println!("reference: ClickHouse 18.16 bulk insert (JSONEachRow, {n} rows, one batch) {rate:.0} rows/s; vigil/ClickHouse = {:.2}", vigil_rate / rate);
        }
        Err(e) => println!(
            "reference: ClickHouse insert failed: {}",
            e.lines().next().unwrap_or("")
        ),
    }
    let _ = ch.kill();
    let _ = ch.wait();
}

fn which(name: &str) -> Result<std::path::PathBuf, ()> {
    std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .map(|d| std::path::Path::new(d).join(name))
        .find(|p| p.exists())
        .ok_or(())
}

fn heartbeats(rt: &tokio::runtime::Runtime) {
    let n = env_n("FLEET_HEARTBEAT_AGENTS", 10_000) as usize;
    let secs = env_n("FLEET_HEARTBEAT_SECS", 60);
    let server = Server::start(env_n("FLEET_DETECTION", 1) != 0);
    let t = Instant::now();
    let (enrolled, _dirs) = enroll_many(&server, n, "hb", rt);
    println!(
        "fleet: {n} agents enrolled in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let (ok, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let pid = server.child.id();
    let interval = 10u64;
    let samples = rt.block_on(async {
        let mut tasks = Vec::new();
        for (i, e) in enrolled.into_iter().enumerate() {
            let (ok, failed) = (Arc::clone(&ok), Arc::clone(&failed));
            tasks.push(tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(
                    (i as u64 * interval * 1000) / n as u64,
                ))
                .await;
                let Ok(mut c) = vigil_uplink::heartbeat_client(&e).await else {
                    failed.fetch_add(1, Ordering::Relaxed);
                    return;
                };
                let end = Instant::now() + Duration::from_secs(secs);
                while Instant::now() < end {
                    let req = HeartbeatRequest {
                        boot_id: "b".into(),
                        sensor_mode: "ebpf".into(),
                        ..Default::default()
                    };
                    match c.heartbeat(req).await {
                        Ok(_) => ok.fetch_add(1, Ordering::Relaxed),
                        Err(_) => failed.fetch_add(1, Ordering::Relaxed),
                    };
                    tokio::time::sleep(Duration::from_secs(interval)).await;
                }
            }));
        }
        let mut samples = Vec::new();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(secs + interval) {
            tokio::time::sleep(Duration::from_secs(interval)).await;
            samples.push((start.elapsed().as_secs(), usage(pid)));
        }
        for t in tasks {
            let _ = t.await;
        }
        samples
    });
    println!(
        "fleet: {n} agents connected, heartbeat every {interval} s for {secs} s: {} ok, {} failed",
        ok.load(Ordering::Relaxed),
        failed.load(Ordering::Relaxed)
    );
    let mut prev_cpu = None;
    for (at, (rss, cpu)) in &samples {
        let pct = prev_cpu.map(|p: f64| (cpu - p) / interval as f64 * 100.0);
        println!(
            "fleet: t={at:>3} s server RSS {} MB, CPU {}",
            rss >> 20,
            pct.map(|p| format!("{p:.0} %"))
                .unwrap_or_else(|| "-".into())
        );
        prev_cpu = Some(*cpu);
    }
    if let (Some(first), Some(last)) = (samples.get(1), samples.last()) {
        println!(
            "fleet: RSS change from t={} s to t={} s: {:+} MB (stable memory: near 0)",
            first.0,
            last.0,
            ((last.1 .0 as i64) - (first.1 .0 as i64)) >> 20
        );
    }
}

fn main() {
    raise_fd_limit();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    if env_n("FLEET_SKIP_INGEST", 0) == 0 {
        ingest(&rt);
    }
    if env_n("FLEET_SKIP_HEARTBEAT", 0) == 0 {
        heartbeats(&rt);
    }
}
