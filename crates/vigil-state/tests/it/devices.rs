//! Devices: enrol, authorize, heartbeat, revoke, re-enrol.

use vigil_state::{DeviceAuthError, DeviceSeen, NewDevice, StateError, StateStore};

use crate::NOW;

const FP1: &str = "1111111111111111111111111111111111111111111111111111111111111111";
const FP2: &str = "2222222222222222222222222222222222222222222222222222222222222222";
const DEV: &str = "0123456789abcdef0123456789abcdef01234567";

async fn store_with_token() -> (StateStore, String) {
    let store = StateStore::open_memory().await.unwrap();
    let (token, _) = store
        .create_enrollment_token("lab", None, None, NOW)
        .await
        .unwrap();
    (store, token.id)
}

fn new_device(token: &str, fingerprint: &str, at: i64) -> NewDevice {
    NewDevice {
        device_id: DEV.to_string(),
        name: "web-01".to_string(),
        cert_serial: "4a1f".to_string(),
        cert_fingerprint: fingerprint.to_string(),
        cert_not_after_ms: at + 30 * 86_400_000,
        enrollment_token_id: Some(token.to_string()),
        enrolled_ms: at,
    }
}

#[tokio::test]
async fn enrolled_device_is_authorized_with_its_certificate_only() {
    let (store, token) = store_with_token().await;
    store
        .upsert_enrolled_device(&new_device(&token, FP1, NOW))
        .await
        .unwrap();
    let d = store.device(DEV).await.unwrap().unwrap();
    assert_eq!(d.name, "web-01");
    assert_eq!(d.enrolled_ms, NOW);
    assert_eq!(d.enrollment_token_id.as_deref(), Some(token.as_str()));
    assert_eq!((d.revoked_ms, d.last_seen_ms), (None, None));
    assert_eq!(d.cert_not_after_ms, NOW + 30 * 86_400_000);

    let ok = store.authorize_device(DEV, FP1).await.unwrap();
    assert_eq!(ok, d);
    // The fingerprint is compared without regard to case.
    store
        .authorize_device(DEV, &FP1.to_uppercase())
        .await
        .unwrap();

    let err = store.authorize_device(DEV, FP2).await.unwrap_err();
    assert!(
        matches!(err, DeviceAuthError::CertificateReplaced { .. }),
        "{err:?}"
    );
    let err = store.authorize_device("nobody", FP1).await.unwrap_err();
    assert!(matches!(err, DeviceAuthError::Unknown { .. }), "{err:?}");
    assert_eq!(err.to_string(), "device nobody is not enrolled");
}

#[tokio::test]
async fn revoked_device_is_refused_until_it_enrols_again() {
    let (store, token) = store_with_token().await;
    store
        .upsert_enrolled_device(&new_device(&token, FP1, NOW))
        .await
        .unwrap();
    store.revoke_device(DEV, NOW + 1000).await.unwrap();
    // A second revocation keeps the first time.
    store.revoke_device(DEV, NOW + 2000).await.unwrap();
    let err = store.authorize_device(DEV, FP1).await.unwrap_err();
    match &err {
        DeviceAuthError::Revoked { device_id, at_ms } => {
            assert_eq!((device_id.as_str(), *at_ms), (DEV, NOW + 1000))
        }
        other => panic!("expected revoked, got {other:?}"),
    }
    assert_eq!(
        err.to_string(),
        format!("device {DEV} has been revoked (at 2026-11-24T10:00:01Z)")
    );

    // Re-enrolment: new certificate, revocation lifted, the old certificate is refused.
    store
        .upsert_enrolled_device(&new_device(&token, FP2, NOW + 5000))
        .await
        .unwrap();
    let d = store.authorize_device(DEV, FP2).await.unwrap();
    assert_eq!((d.revoked_ms, d.enrolled_ms), (None, NOW + 5000));
    let err = store.authorize_device(DEV, FP1).await.unwrap_err();
    match err {
        DeviceAuthError::CertificateReplaced {
            presented, current, ..
        } => assert_eq!((presented.as_str(), current.as_str()), (FP1, FP2)),
        other => panic!("expected certificate replaced, got {other:?}"),
    }
    assert_eq!(store.list_devices().await.unwrap().len(), 1);

    let err = store.revoke_device("nobody", NOW).await.unwrap_err();
    assert_eq!(err.to_string(), "device \"nobody\" not found");
}

#[tokio::test]
async fn heartbeat_updates_health_and_adds_counters() {
    let (store, token) = store_with_token().await;
    store
        .upsert_enrolled_device(&new_device(&token, FP1, NOW))
        .await
        .unwrap();
    let seen = DeviceSeen {
        seen_ms: NOW + 10_000,
        health: Some("Active".into()),
        agent_version: Some("0.1.0".into()),
        os_platform: Some("Linux".into()),
        os_version: Some("Debian 12".into()),
        kernel: Some("6.1.0-18-amd64".into()),
        ip: Some("10.0.0.5".into()),
        sensor_mode: Some("ebpf".into()),
        health_detail: Some(r#"{"hooks_failed":[]}"#.into()),
        events_received: 100,
        events_dropped: 2,
    };
    store.touch_device(DEV, &seen).await.unwrap();
    // A later heartbeat with only some fields, then an older one arriving late.
    let later = DeviceSeen {
        seen_ms: NOW + 20_000,
        health: Some("Impaired".into()),
        events_received: 50,
        ..DeviceSeen::default()
    };
    store.touch_device(DEV, &later).await.unwrap();
    let late = DeviceSeen {
        seen_ms: NOW + 15_000,
        events_dropped: 1,
        ..DeviceSeen::default()
    };
    store.touch_device(DEV, &late).await.unwrap();

    let d = store.device(DEV).await.unwrap().unwrap();
    assert_eq!(d.last_seen_ms, Some(NOW + 20_000));
    assert_eq!(d.health.as_deref(), Some("Impaired"));
    assert_eq!(d.kernel.as_deref(), Some("6.1.0-18-amd64"));
    assert_eq!(d.sensor_mode.as_deref(), Some("ebpf"));
    assert_eq!(d.health_detail.as_deref(), Some(r#"{"hooks_failed":[]}"#));
    assert_eq!((d.events_received, d.events_dropped), (150, 3));

    // Re-enrolment keeps health and counters.
    store
        .upsert_enrolled_device(&new_device(&token, FP2, NOW + 30_000))
        .await
        .unwrap();
    let d = store.device(DEV).await.unwrap().unwrap();
    assert_eq!(
        (d.events_received, d.health.as_deref()),
        (150, Some("Impaired"))
    );
}

#[tokio::test]
async fn bad_heartbeat_changes_nothing() {
    let (store, token) = store_with_token().await;
    store
        .upsert_enrolled_device(&new_device(&token, FP1, NOW))
        .await
        .unwrap();
    let bad_json = DeviceSeen {
        seen_ms: NOW + 1,
        health: Some("Active".into()),
        health_detail: Some("{not json".into()),
        events_received: 5,
        ..DeviceSeen::default()
    };
    let err = store.touch_device(DEV, &bad_json).await.unwrap_err();
    assert!(
        err.to_string().starts_with("invalid health detail"),
        "{err}"
    );
    let huge = DeviceSeen {
        seen_ms: NOW + 1,
        health_detail: Some(format!("\"{}\"", "x".repeat(70_000))),
        ..DeviceSeen::default()
    };
    assert!(store.touch_device(DEV, &huge).await.is_err());
    let control = DeviceSeen {
        seen_ms: NOW + 1,
        kernel: Some("6.1\u{1b}[31m".into()),
        ..DeviceSeen::default()
    };
    assert!(store.touch_device(DEV, &control).await.is_err());
    let d = store.device(DEV).await.unwrap().unwrap();
    assert_eq!(
        (d.last_seen_ms, d.events_received, d.health),
        (None, 0, None)
    );

    let err = store
        .touch_device("nobody", &DeviceSeen::default())
        .await
        .unwrap_err();
    assert!(matches!(err, StateError::NotFound { .. }), "{err:?}");
}

#[tokio::test]
async fn bad_enrolment_records_are_refused() {
    let (store, token) = store_with_token().await;
    let mut d = new_device(&token, FP1, NOW);
    d.enrollment_token_id = Some("et_missing".into());
    let err = store.upsert_enrolled_device(&d).await.unwrap_err();
    assert_eq!(err.to_string(), "enrolment token \"et_missing\" not found");

    let mut d = new_device(&token, "abc", NOW);
    let err = store.upsert_enrolled_device(&d).await.unwrap_err();
    assert!(err.to_string().contains("must be 64 hex digits"), "{err}");
    d.cert_fingerprint = FP1.into();
    d.device_id = "a b".into();
    let err = store.upsert_enrolled_device(&d).await.unwrap_err();
    assert!(
        err.to_string().starts_with("invalid device id \"a b\""),
        "{err}"
    );
    assert!(store.list_devices().await.unwrap().is_empty());

    // Without a token (enrolled by other means) is allowed.
    let mut d = new_device(&token, FP1, NOW);
    d.enrollment_token_id = None;
    store.upsert_enrolled_device(&d).await.unwrap();
}

#[tokio::test]
async fn device_names_are_read_for_the_ids_asked_only() {
    let (store, token) = store_with_token().await;
    store
        .upsert_enrolled_device(&new_device(&token, FP1, NOW))
        .await
        .unwrap();
    let names = store.device_names(&[DEV, "nope"]).await.unwrap();
    assert_eq!(names.len(), 1);
    assert_eq!(names[DEV], "web-01");
    assert!(store.device_names(&[]).await.unwrap().is_empty());
}

#[tokio::test]
async fn tags_are_normalised_checked_and_kept() {
    let (store, token) = store_with_token().await;
    store
        .upsert_enrolled_device(&new_device(&token, FP1, NOW))
        .await
        .unwrap();
    assert!(store.device(DEV).await.unwrap().unwrap().tags.is_empty());
    let tags = ["web", " pci ", "web", "tier:1"].map(String::from);
    let d = store.set_device_tags(DEV, &tags).await.unwrap();
    assert_eq!(d.tags, ["pci", "tier:1", "web"]);
    // A refused tag changes nothing.
    let err = store
        .set_device_tags(DEV, &["ok".to_string(), "bad;tag".to_string()])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("bad;tag"), "{err}");
    let too_many: Vec<String> = (0..=vigil_state::MAX_DEVICE_TAGS)
        .map(|i| format!("t{i}"))
        .collect();
    assert!(store.set_device_tags(DEV, &too_many).await.is_err());
    assert_eq!(store.device(DEV).await.unwrap().unwrap().tags, d.tags);
    // Re-enrolment keeps the tags; an unknown device is named.
    store
        .upsert_enrolled_device(&new_device(&token, FP2, NOW + 1))
        .await
        .unwrap();
    assert_eq!(store.device(DEV).await.unwrap().unwrap().tags, d.tags);
    let err = store.set_device_tags("nope", &[]).await.unwrap_err();
    assert!(matches!(err, StateError::NotFound { .. }), "{err}");
}

#[tokio::test]
async fn approval_gates_an_action_until_approved() {
    let (store, token) = store_with_token().await;
    store
        .upsert_enrolled_device(&new_device(&token, FP1, NOW))
        .await
        .unwrap();
    let new = vigil_state::NewAction {
        device_id: DEV.to_string(),
        kind: "isolate".to_string(),
        args: "{}".to_string(),
        reason: "custom detection cd_1".to_string(),
        requested_by: "automation".to_string(),
        ttl_ms: 60_000,
        undo_of: None,
        session_id: None,
    };
    let a = store.create_action_for_approval(&new, NOW).await.unwrap();
    assert_eq!(a.status, "PendingApproval");
    // Not sent while it waits.
    assert!(store
        .deliverable_actions(DEV, NOW + 20)
        .await
        .unwrap()
        .is_empty());
    // Only a waiting action can be approved.
    let b = store.create_action(&new, NOW).await.unwrap();
    let err = store
        .approve_action(&b.id, "alice", "", NOW)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("only a PendingApproval"), "{err}");
    let a = store
        .approve_action(&a.id, "alice", "looks right", NOW + 10)
        .await
        .unwrap();
    assert_eq!(a.status, "Pending");
    assert!(a.expires_ms >= NOW + 10 + 3_600_000);
    let sent: Vec<_> = store
        .deliverable_actions(DEV, NOW + 20)
        .await
        .unwrap()
        .into_iter()
        .map(|x| x.id)
        .collect();
    assert!(sent.contains(&a.id), "{sent:?}");
    let timeline = store.action_events(&a.id).await.unwrap();
    let statuses: Vec<_> = timeline.iter().map(|e| e.status.as_str()).collect();
    assert_eq!(statuses, ["PendingApproval", "Pending"]);
    assert_eq!(timeline[1].actor, "alice");
    // A waiting action can be rejected (cancelled), and times out like a pending one.
    let c = store.create_action_for_approval(&new, NOW).await.unwrap();
    let c = store
        .cancel_action(&c.id, "bob", "no", NOW + 1)
        .await
        .unwrap();
    assert_eq!(c.status, "Cancelled");
    let d = store.create_action_for_approval(&new, NOW).await.unwrap();
    store.time_out_actions(NOW + 120_000).await.unwrap();
    assert_eq!(store.action(&d.id).await.unwrap().status, "TimedOut");
}
