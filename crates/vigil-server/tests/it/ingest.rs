//! Events flow agent → server and are queryable by SQL with MDE names; malformed, oversized
//! and replayed batches get clear answers and the connection stays usable.

use tonic::Code;
use vigil_proto::pb::telemetry_client::TelemetryClient;
use vigil_proto::pb::{Compression, EventBatch};
use vigil_sim::mix::Mix;

use crate::harness::{rows, uplink, wait_until, Fixture, EVENT_TABLES};

#[test]
fn events_flow_to_sql_with_mde_names_and_the_certificates_device_id() {
    let fx = Fixture::new("dev-flow");
    let (api, e) = (&fx.api, fx.agent.clone());
    let up = uplink(e, &fx.agent_dir(), 64 << 20);
    // The rows claim another device; the server must store the certificate's id.
    let mut mix = Mix::new("spoofed", "spoofed-host", 1);
    let n = 5000;
    for _ in 0..10 {
        up.send(rows(&mut mix, n / 10));
    }
    wait_until("all events acknowledged", 60, || {
        up.stats().events_acked == n as u64
    });
    let total: i64 = EVENT_TABLES
        .iter()
        .map(|t| {
            api.count(&format!(
                "SELECT count(*) AS n FROM {t} WHERE DeviceId = 'dev-flow'"
            ))
        })
        .sum();
    assert_eq!(total, n as i64);
    let spoofed =
        api.count("SELECT count(*) AS n FROM DeviceProcessEvents WHERE DeviceId = 'spoofed'");
    assert_eq!(spoofed, 0);
    let rows = api.sql(
        "SELECT Timestamp, DeviceName, ActionType, FileName, ProcessCommandLine, InitiatingProcessFileName \
         FROM DeviceProcessEvents WHERE ActionType = 'ProcessCreated' ORDER BY Timestamp DESC LIMIT 3",
    );
    assert_eq!(rows.len(), 3);
    let r = &rows[0];
    assert!(r["Timestamp"].as_str().unwrap().ends_with('Z'), "{r}");
    assert_eq!(r["DeviceName"], "spoofed-host");
    assert!(!r["ProcessCommandLine"].as_str().unwrap().is_empty());

    // Bad SQL is a 400 naming the problem.
    let (st, v) = api.post(
        "/api/v1/events/sql",
        serde_json::json!({ "sql": "SELECT nope FROM DeviceProcessEvents" }),
    );
    assert_eq!(st, 400);
    assert!(v["error"].as_str().unwrap().contains("nope"), "{v}");
    let (st, v) = api.post("/api/v1/events/sql", serde_json::json!({ "query": "x" }));
    assert_eq!(st, 400);
    assert!(v["error"].as_str().unwrap().contains("query"), "{v}");
    up.shutdown(std::time::Duration::from_secs(1));
}

#[test]
fn bad_batches_get_clear_errors_and_replays_are_stored_once() {
    let fx = Fixture::new("dev-bad");
    let (server, api, e) = (&fx.server, &fx.api, fx.agent.clone());
    let mut mix = Mix::new("dev-bad", "h", 2);
    let good_rows = rows(&mut mix, 200);
    let count_all = || {
        EVENT_TABLES
            .iter()
            .map(|t| api.count(&format!("SELECT count(*) FROM {t}")))
            .sum::<i64>()
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut c: TelemetryClient<_> = vigil_uplink::heartbeat_client(&e)
            .await
            .unwrap()
            .max_encoding_message_size(64 << 20);

        let garbage = EventBatch {
            boot_id: "b".into(),
            first_seq: 0,
            count: 1,
            compression: Compression::Zstd as i32,
            payload: b"definitely not zstd".to_vec(),
            raw_size: 100,
        };
        let err = c.upload(garbage).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{err}");
        assert!(err.message().contains("decompress"), "{err}");

        let mut lying = vigil_proto::encode_batch("b", 0, &good_rows, 3);
        lying.count = 5;
        let err = c.upload(lying).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{err}");
        assert!(err.message().contains("5 events"), "{err}");

        let raw = vigil_schema::wire::encode_batch(&good_rows);
        let mut torn = EventBatch {
            boot_id: "b".into(),
            first_seq: 0,
            count: 200,
            compression: Compression::None as i32,
            raw_size: raw.len() as u32 - 7,
            payload: raw[..raw.len() - 7].to_vec(),
        };
        let err = c.upload(torn.clone()).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{err}");
        assert!(err.message().contains("truncated"), "{err}");
        torn.boot_id.clear();
        assert!(c
            .upload(torn)
            .await
            .unwrap_err()
            .message()
            .contains("boot_id"));

        // An agent may not write the server's alert tables: a forged alert is refused, and
        // nothing of its batch is stored.
        let mut forged = good_rows[..3].to_vec();
        let mut alert = vigil_schema::Row::new(vigil_schema::Table::AlertInfo);
        alert.put(vigil_schema::Col::Timestamp, vigil_schema::Timestamp::now());
        alert.put(vigil_schema::Col::AlertId, "al_forged");
        alert.put(vigil_schema::Col::Title, "nothing to see");
        forged.push(alert);
        let err = c
            .upload(vigil_proto::encode_batch("forger", 0, &forged, 3))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{err}");
        assert!(
            err.message().contains("event 3 is a AlertInfo row"),
            "{err}"
        );

        // Over the server's 16 MiB message limit.
        let huge = EventBatch {
            boot_id: "b".into(),
            first_seq: 0,
            count: 1,
            compression: Compression::None as i32,
            payload: vec![0u8; 17 << 20],
            raw_size: 17 << 20,
        };
        let err = c.upload(huge).await.unwrap_err();
        assert!(
            matches!(err.code(), Code::ResourceExhausted | Code::OutOfRange),
            "{err}"
        );

        // The same client still works, and a replay is acknowledged as duplicates.
        let good = vigil_proto::encode_batch("b", 0, &good_rows, 3);
        let ack = c.upload(good.clone()).await.unwrap().into_inner();
        assert_eq!((ack.count, ack.duplicates), (200, 0));
        let ack = c.upload(good).await.unwrap().into_inner();
        assert_eq!(ack.duplicates, 200);
        // A batch overlapping the stored one stores only the new part.
        let more = rows(&mut mix, 100);
        let overlap: Vec<_> = good_rows[100..].iter().cloned().chain(more).collect();
        let ack = c
            .upload(vigil_proto::encode_batch("b", 100, &overlap, 3))
            .await
            .unwrap()
            .into_inner();
        assert_eq!((ack.count, ack.duplicates), (200, 100));
    });
    assert_eq!(count_all(), 300);
    let (_, m) = (
        0,
        ureq::get(format!("http://{}/metrics", server.http))
            .call()
            .unwrap()
            .body_mut()
            .read_to_string()
            .unwrap(),
    );
    assert!(m.contains("vigil_ingest_batches_refused_total 5"), "{m}");
}
