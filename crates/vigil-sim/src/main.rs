//! `vigil-sim`: simulated agents against a real server.
//!
//! - `vigil-sim stream`: N agents enrol (one token, one use each) and stream events through
//!   the real uplink (spool on disk, batches, acks) at a rate or up to a total, then wait
//!   until everything is acknowledged; prints a JSON summary.
//! - `vigil-sim heartbeat`: N agents enrol and only heartbeat, each over its own TLS
//!   connection, to measure how many connected devices one server holds.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use vigil_sim::mix::Mix;
use vigil_uplink::spool::SpoolOptions;
use vigil_uplink::{EnrollParams, Uplink, UplinkOptions};

#[derive(Parser)]
#[command(
    name = "vigil-sim",
    about = "Simulated Vigil agents speaking the real protocol"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(clap::Args, Clone)]
struct Common {
    /// The server's gRPC address, HOST:PORT.
    #[arg(long)]
    server: String,
    /// Enrolment token (must allow one use per agent).
    #[arg(long)]
    token: String,
    /// The server's CA certificate.
    #[arg(long)]
    ca_cert: PathBuf,
    /// Simulated agents.
    #[arg(long, default_value_t = 1)]
    agents: usize,
    /// Where the agents keep certificates and spools.
    #[arg(long)]
    state_dir: PathBuf,
    /// Prefix of the simulated device ids.
    #[arg(long, default_value = "sim")]
    prefix: String,
}

#[derive(Subcommand)]
enum Cmd {
    Stream {
        #[command(flatten)]
        common: Common,
        /// Events per agent in all (0 = until --seconds pass).
        #[arg(long, default_value_t = 10_000)]
        events: u64,
        /// Events per second per agent (0 = as fast as possible).
        #[arg(long, default_value_t = 0)]
        rate: u64,
        #[arg(long, default_value_t = 0)]
        seconds: u64,
        /// Spool bound per agent, in KiB.
        #[arg(long, default_value_t = 256 * 1024)]
        spool_kib: u64,
        /// Give up waiting for acknowledgements after this many seconds.
        #[arg(long, default_value_t = 600)]
        drain_timeout: u64,
    },
    Heartbeat {
        #[command(flatten)]
        common: Common,
        /// How long to keep the agents connected.
        #[arg(long, default_value_t = 60)]
        seconds: u64,
        /// Seconds between heartbeats per agent.
        #[arg(long, default_value_t = 30)]
        interval: u64,
    },
}

async fn enroll_all(c: &Common) -> Result<Vec<vigil_uplink::Enrollment>> {
    let ca_pem = std::fs::read_to_string(&c.ca_cert)
        .with_context(|| format!("cannot read {}", c.ca_cert.display()))?;
    let mut out = Vec::with_capacity(c.agents);
    for i in 0..c.agents {
        let id = format!("{}-{i:05}", c.prefix);
        let dir = c.state_dir.join(&id);
        if let Some(e) = vigil_uplink::Enrollment::load(&dir)? {
            out.push(e);
            continue;
        }
        std::fs::create_dir_all(&dir)?;
        let e = vigil_uplink::enroll(
            &EnrollParams {
                server: &c.server,
                token: &c.token,
                ca_pem: &ca_pem,
                device_id: &id,
                device_name: &format!("{id}.sim"),
                agent_version: "sim",
            },
            &dir,
        )
        .await
        .with_context(|| format!("agent {id} cannot enrol"))?;
        out.push(e);
    }
    Ok(out)
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match cli.cmd {
        Cmd::Stream {
            common,
            events,
            rate,
            seconds,
            spool_kib,
            drain_timeout,
        } => {
            let enrollments = rt.block_on(enroll_all(&common))?;
            stream(
                &common,
                enrollments,
                events,
                rate,
                seconds,
                spool_kib,
                drain_timeout,
            )
        }
        Cmd::Heartbeat {
            common,
            seconds,
            interval,
        } => rt.block_on(async {
            let enrollments = enroll_all(&common).await?;
            heartbeat(enrollments, seconds, interval).await
        }),
    }
}

#[allow(clippy::too_many_arguments)]
fn stream(
    c: &Common,
    enrollments: Vec<vigil_uplink::Enrollment>,
    events: u64,
    rate: u64,
    seconds: u64,
    spool_kib: u64,
    drain_timeout: u64,
) -> Result<()> {
    let produced = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut threads = Vec::new();
    for (i, e) in enrollments.into_iter().enumerate() {
        let dir = c.state_dir.join(&e.device_id);
        let mut spool = SpoolOptions::new(dir.join("spool"));
        spool.max_bytes = spool_kib * 1024;
        spool.segment_bytes = (spool.max_bytes / 8).clamp(64 * 1024, 8 << 20);
        let produced = Arc::clone(&produced);
        threads.push(std::thread::spawn(move || -> Result<(u64, u64, u64)> {
            let mut mix = Mix::new(&e.device_id, &format!("{}.sim", e.device_id), i as u64 + 1);
            let uplink = Uplink::start(e, UplinkOptions::new(spool))?;
            let deadline = (seconds > 0).then(|| Instant::now() + Duration::from_secs(seconds));
            let t0 = Instant::now();
            let mut sent = 0u64;
            loop {
                if events > 0 && sent >= events {
                    break;
                }
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    break;
                }
                let n = if events > 0 {
                    (events - sent).min(500)
                } else {
                    500
                };
                uplink.send((0..n).map(|_| mix.next_row()).collect());
                sent += n;
                produced.fetch_add(n, Ordering::Relaxed);
                if rate > 0 {
                    let due = Duration::from_secs_f64(sent as f64 / rate as f64);
                    if let Some(wait) = due.checked_sub(t0.elapsed()) {
                        std::thread::sleep(wait);
                    }
                }
            }
            // Wait until every event is acknowledged (or dropped by the spool bound).
            let until = Instant::now() + Duration::from_secs(drain_timeout);
            let mut dropped = 0;
            loop {
                dropped += uplink.take_dropped();
                let st = uplink.stats();
                if st.events_acked + dropped >= sent || Instant::now() > until {
                    let acked = st.events_acked;
                    uplink.shutdown(Duration::from_secs(1));
                    return Ok((sent, acked, dropped));
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }));
    }
    let (mut sent, mut acked, mut dropped) = (0, 0, 0);
    for t in threads {
        let (s, a, d) = t
            .join()
            .map_err(|_| anyhow::anyhow!("an agent thread panicked"))??;
        sent += s;
        acked += a;
        dropped += d;
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{}",
        serde_json::json!({
            "agents": c.agents,
            "sent": sent,
            "acked": acked,
            "dropped": dropped,
            "seconds": secs,
            "events_per_second": sent as f64 / secs,
        })
    );
    Ok(())
}

async fn heartbeat(
    enrollments: Vec<vigil_uplink::Enrollment>,
    seconds: u64,
    interval: u64,
) -> Result<()> {
    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    let n = enrollments.len();
    for (i, e) in enrollments.into_iter().enumerate() {
        let (ok, failed) = (Arc::clone(&ok), Arc::clone(&failed));
        tasks.push(tokio::spawn(async move {
            let Ok(mut client) = vigil_uplink::heartbeat_client(&e).await else {
                failed.fetch_add(1, Ordering::Relaxed);
                return;
            };
            // Spread the first beats over the interval, as a real fleet does.
            tokio::time::sleep(Duration::from_millis(
                (i as u64 * interval * 1000) / n.max(1) as u64,
            ))
            .await;
            let end = Instant::now() + Duration::from_secs(seconds);
            while Instant::now() < end {
                let req = vigil_proto::pb::HeartbeatRequest {
                    boot_id: "sim".into(),
                    agent_version: "sim".into(),
                    sensor_mode: "ebpf".into(),
                    ..Default::default()
                };
                match client.heartbeat(req).await {
                    Ok(_) => ok.fetch_add(1, Ordering::Relaxed),
                    Err(_) => failed.fetch_add(1, Ordering::Relaxed),
                };
                tokio::time::sleep(Duration::from_secs(interval)).await;
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    println!(
        "{}",
        serde_json::json!({ "agents": n, "heartbeats_ok": ok.load(Ordering::Relaxed), "heartbeats_failed": failed.load(Ordering::Relaxed) })
    );
    Ok(())
}
