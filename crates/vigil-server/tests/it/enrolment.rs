//! Enrolment with good, unknown, used-up, revoked and expired tokens; revoked devices and
//! clients without (or with a foreign) certificate are refused.

use std::time::Duration;

use serde_json::json;
use tonic::Code;
use vigil_proto::pb::HeartbeatRequest;

use crate::harness::{enroll, free_addr, wait_until, Fixture, ServerProcess};

fn heartbeat(e: &vigil_uplink::Enrollment) -> Result<(), tonic::Status> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut c = vigil_uplink::heartbeat_client(e)
            .await
            .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
        c.heartbeat(HeartbeatRequest {
            boot_id: "b".into(),
            ..Default::default()
        })
        .await
        .map(|_| ())
    })
}

#[test]
fn tokens_enrol_once_and_bad_tokens_are_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(&dir.path().join("server"), free_addr(), free_addr());
    let api = server.api();
    let ca = std::fs::read_to_string(dir.path().join("server/ca.pem")).unwrap();
    let agent = |name: &str| dir.path().join(name);

    let once = api.token(Some(1));
    let e = enroll(server.grpc, &ca, &once, "dev-good", &agent("good")).unwrap();
    assert_eq!(e.device_id, "dev-good");
    assert!(e.cert_pem.contains("BEGIN CERTIFICATE"));
    heartbeat(&e).unwrap();

    let used = enroll(server.grpc, &ca, &once, "dev-second", &agent("second"))
        .unwrap_err()
        .to_string();
    assert!(used.contains("used up"), "{used}");

    let unknown = enroll(server.grpc, &ca, "vet_0000", "dev-x", &agent("x"))
        .unwrap_err()
        .to_string();
    assert!(unknown.contains("not known"), "{unknown}");

    let revoked = api.token(None);
    let (_, list) = api.get("/api/v1/enrollment-tokens");
    let id = list
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|t| t["uses"] == 0)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (st, _) = api.post(&format!("/api/v1/enrollment-tokens/{id}/revoke"), json!({}));
    assert_eq!(st, 200);
    let msg = enroll(server.grpc, &ca, &revoked, "dev-r", &agent("r"))
        .unwrap_err()
        .to_string();
    assert!(msg.contains("revoked"), "{msg}");

    let (st, v) = api.post(
        "/api/v1/enrollment-tokens",
        json!({ "label": "short", "ttl_seconds": 1 }),
    );
    assert_eq!(st, 200);
    std::thread::sleep(Duration::from_millis(1100));
    let msg = enroll(
        server.grpc,
        &ca,
        v["secret"].as_str().unwrap(),
        "dev-e",
        &agent("e"),
    )
    .unwrap_err()
    .to_string();
    assert!(msg.contains("expired"), "{msg}");

    // A device id cannot smuggle a path into the certificate (refused before it is sent).
    let msg = enroll(server.grpc, &ca, &api.token(None), "../etc", &agent("bad"))
        .unwrap_err()
        .to_string();
    assert!(msg.contains("invalid device id"), "{msg}");

    // The token list shows the use count.
    let (_, list) = api.get("/api/v1/enrollment-tokens");
    assert!(list
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["uses"] == 1 && t["max_uses"] == 1));
}

#[test]
fn a_revoked_device_is_refused_on_its_next_request() {
    let fx = Fixture::new("dev-rev");
    let (api, e) = (&fx.api, fx.agent.clone());
    heartbeat(&e).unwrap();
    let (_, d) = api.get("/api/v1/devices/dev-rev");
    assert_eq!(d["HealthStatus"], "Active", "{d}");

    let (st, _) = api.post("/api/v1/devices/dev-rev/revoke", json!({}));
    assert_eq!(st, 200);
    let err = heartbeat(&e).unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err}");
    assert!(err.message().contains("revoked"), "{err}");
    let (_, d) = api.get("/api/v1/devices/dev-rev");
    assert_eq!(d["HealthStatus"], "Revoked");

    // Unknown devices are 404 in the API.
    let (st, v) = api.get("/api/v1/devices/nope");
    assert_eq!(st, 404, "{v}");
}

#[test]
fn telemetry_needs_a_certificate_from_this_servers_ca() {
    let fx = Fixture::new("dev-c");
    let (server, ca, e) = (&fx.server, &fx.ca, fx.agent.clone());

    // No client certificate: the handshake succeeds (enrolment needs that), the call does not.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let err = rt.block_on(async {
        let ch = tonic::transport::Endpoint::from_shared(format!("https://{}", server.grpc))
            .unwrap()
            .tls_config(
                tonic::transport::ClientTlsConfig::new()
                    .ca_certificate(tonic::transport::Certificate::from_pem(ca))
                    .domain_name("localhost"),
            )
            .unwrap()
            .connect()
            .await
            .unwrap();
        vigil_proto::pb::telemetry_client::TelemetryClient::new(ch)
            .heartbeat(HeartbeatRequest::default())
            .await
            .unwrap_err()
    });
    assert_eq!(err.code(), Code::Unauthenticated, "{err}");
    assert!(err.message().contains("certificate"), "{err}");

    // A certificate from another CA does not get through the handshake.
    let other = vigil_pki::Ca::create("Other").unwrap();
    let (key, csr) = vigil_pki::device_key_and_csr("dev-c").unwrap();
    let forged = other.sign_device_csr(&csr, "dev-c", 30).unwrap();
    let mut bad = e.clone();
    bad.cert_pem = forged.cert_pem;
    bad.key_pem = key;
    assert!(heartbeat(&bad).is_err());
    // The server keeps serving the real device.
    heartbeat(&e).unwrap();
    let metrics = ureq::get(format!("http://{}/metrics", server.http))
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    wait_until("a counted TLS failure", 5, || {
        let m = ureq::get(format!("http://{}/metrics", server.http))
            .call()
            .unwrap()
            .body_mut()
            .read_to_string()
            .unwrap();
        m.lines()
            .any(|l| l.starts_with("vigil_tls_handshake_failures_total ") && !l.ends_with(" 0"))
    });
    assert!(metrics.contains("vigil_ingest_events_total"));
}
