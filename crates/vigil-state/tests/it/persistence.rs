//! Everything written to a file store is there after closing and reopening it.

use std::time::Duration;

use vigil_state::{DeviceSeen, NewDevice, StateStore};

use crate::{file_store, NOW};

#[tokio::test]
async fn data_survives_reopen() {
    let (_dir, path, store) = file_store().await;
    let (token, enrol_secret) = store
        .create_enrollment_token("lab", Some(Duration::from_secs(3600)), Some(3), NOW)
        .await
        .unwrap();
    store
        .redeem_enrollment_token(&enrol_secret, NOW)
        .await
        .unwrap();
    let device = NewDevice {
        device_id: "dev-1".into(),
        name: "web-01".into(),
        cert_serial: "01ab".into(),
        cert_fingerprint: "AB".repeat(32),
        cert_not_after_ms: NOW + 1,
        enrollment_token_id: Some(token.id.clone()),
        enrolled_ms: NOW,
    };
    store.upsert_enrolled_device(&device).await.unwrap();
    store
        .touch_device(
            "dev-1",
            &DeviceSeen {
                seen_ms: NOW + 7,
                health: Some("Active".into()),
                events_received: 9,
                ..DeviceSeen::default()
            },
        )
        .await
        .unwrap();
    let (api, api_secret) = store.create_api_token("admin", "admin", NOW).await.unwrap();
    let user = store.create_user("alice", "admin", NOW).await.unwrap();
    let devices = store.list_devices().await.unwrap();
    let tokens = store.list_enrollment_tokens().await.unwrap();
    store.close().await;
    drop(store);

    let store = StateStore::open(&path).await.unwrap();
    assert_eq!(store.list_devices().await.unwrap(), devices);
    assert_eq!(devices[0].cert_fingerprint, "ab".repeat(32));
    assert_eq!(
        (devices[0].events_received, devices[0].last_seen_ms),
        (9, Some(NOW + 7))
    );
    assert_eq!(store.list_enrollment_tokens().await.unwrap(), tokens);
    assert_eq!(tokens[0].uses, 1);
    assert_eq!(
        store.verify_api_token(&api_secret).await.unwrap(),
        Some(api)
    );
    assert_eq!(store.list_users().await.unwrap(), vec![user]);
    // The enrolment secret still works, and counts on.
    let again = store
        .redeem_enrollment_token(&enrol_secret, NOW + 1)
        .await
        .unwrap();
    assert_eq!(again.uses, 2);
    store
        .authorize_device("dev-1", &"ab".repeat(32))
        .await
        .unwrap();
}
