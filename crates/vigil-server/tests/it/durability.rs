//! Nothing the agent produced is lost or stored twice: kill -9 of the server mid-stream, a
//! server that is down for a while, and a spool that fills up while it is down.

use std::collections::BTreeSet;
use std::time::Duration;

use vigil_sim::mix::Mix;

use crate::harness::{
    enroll, free_addr, rows, uplink, wait_until, Api, ServerProcess, EVENT_TABLES,
};

/// Every ReportId stored for `device`, and how many rows carry them.
fn stored(api: &Api, device: &str) -> (usize, BTreeSet<i64>) {
    let mut n = 0;
    let mut ids = BTreeSet::new();
    for t in EVENT_TABLES {
        for r in api.sql(&format!(
            "SELECT ReportId FROM {t} WHERE DeviceId = '{device}'"
        )) {
            n += 1;
            ids.insert(r["ReportId"].as_i64().unwrap());
        }
    }
    (n, ids)
}

#[test]
fn kill_9_mid_stream_then_restart_stores_every_event_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let (grpc, http) = (free_addr(), free_addr());
    let data = dir.path().join("server");
    let mut server = ServerProcess::start(&data, grpc, http);
    let ca = std::fs::read_to_string(data.join("ca.pem")).unwrap();
    let e = enroll(
        grpc,
        &ca,
        &server.api().token(None),
        "dev-k9",
        &dir.path().join("a"),
    )
    .unwrap();
    let up = uplink(e, &dir.path().join("a"), 256 << 20);
    let mut mix = Mix::new("dev-k9", "h", 3);
    let total = 40_000u64;
    let mut sent = 0;
    while sent < total {
        up.send(rows(&mut mix, 500));
        sent += 500;
        if sent == 20_000 {
            wait_until("some events acknowledged", 60, || {
                up.stats().events_acked > 5_000
            });
            server.kill9();
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    std::thread::sleep(Duration::from_secs(1));
    let server = ServerProcess::start(&data, grpc, http);
    wait_until("everything acknowledged after the restart", 120, || {
        up.stats().events_acked >= total
    });
    let (n, ids) = stored(&server.api(), "dev-k9");
    assert_eq!(ids.len() as u64, total, "distinct ReportIds");
    assert_eq!(n as u64, total, "rows (a duplicate would make this larger)");
    up.shutdown(Duration::from_secs(1));
}

#[test]
fn a_server_outage_is_spooled_and_replayed_and_a_full_spool_drops_the_oldest() {
    let dir = tempfile::tempdir().unwrap();
    let (grpc, http) = (free_addr(), free_addr());
    let data = dir.path().join("server");
    let mut server = ServerProcess::start(&data, grpc, http);
    let ca = std::fs::read_to_string(data.join("ca.pem")).unwrap();
    let api = server.api();
    let big = enroll(
        grpc,
        &ca,
        &api.token(None),
        "dev-out",
        &dir.path().join("a"),
    )
    .unwrap();
    let small = enroll(
        grpc,
        &ca,
        &api.token(None),
        "dev-full",
        &dir.path().join("b"),
    )
    .unwrap();
    server.stop();

    // Down for minutes (`VIGIL_OUTAGE_SECS`, default 120): both agents keep producing all
    // along, retrying with growing backoff. One has room, one has a 512 KiB spool.
    let outage = std::env::var("VIGIL_OUTAGE_SECS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(120);
    println!("server down for {outage} s while the agents produce");
    let roomy = uplink(big, &dir.path().join("a"), 64 << 20);
    let tight = uplink(small, &dir.path().join("b"), 512 << 10);
    let (mut m1, mut m2) = (Mix::new("dev-out", "h", 4), Mix::new("dev-full", "h", 5));
    let total = 30_000u64;
    let down_since = std::time::Instant::now();
    for _ in 0..(total / 1000) {
        roomy.send(rows(&mut m1, 1000));
        tight.send(rows(&mut m2, 1000));
        std::thread::sleep(
            Duration::from_millis(outage * 1000 / 30).max(Duration::from_millis(50)),
        );
    }
    wait_until("the outage spooled", 30, || {
        roomy.stats().spool_pending_events >= total
    });
    std::thread::sleep(Duration::from_secs(3));
    let mut dropped = 0;
    wait_until("the full spool reported drops", 30, || {
        dropped += tight.take_dropped();
        dropped > 0
    });

    let left = Duration::from_secs(outage).saturating_sub(down_since.elapsed());
    std::thread::sleep(left);
    let server = ServerProcess::start(&data, grpc, http);
    let api = server.api();
    wait_until("the roomy spool replayed", 120, || {
        roomy.stats().events_acked >= total
    });
    wait_until("the tight spool replayed", 120, || {
        dropped += tight.take_dropped();
        tight.stats().events_acked + dropped >= total
    });
    let (n, ids) = stored(&api, "dev-out");
    assert_eq!((n as u64, ids.len() as u64), (total, total));

    // The tight spool lost the oldest events, counted exactly.
    let (n, ids) = stored(&api, "dev-full");
    assert_eq!(n as u64 + dropped, total, "stored + dropped = produced");
    assert!(dropped > 0 && (n as u64) < total);
    let first_id = (5i64 << 32) + 1;
    let newest = first_id + total as i64 - 1;
    assert!(ids.contains(&newest), "the newest event survived");
    assert!(!ids.contains(&first_id), "the oldest event was dropped");
    roomy.shutdown(Duration::from_secs(1));
    tight.shutdown(Duration::from_secs(1));
}
