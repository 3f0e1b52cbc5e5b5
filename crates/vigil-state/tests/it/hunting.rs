//! Saved queries (own or shared, names unique per owner) and custom detection rules (checked
//! fields, schedules and look-backs, due runs, hits remembered across runs).

use vigil_state::{NewCustomDetection, StateError};

use crate::{file_store, NOW};

#[tokio::test]
async fn saved_queries_are_private_unless_shared() {
    let (_dir, _path, store) = file_store().await;
    let mine = store
        .save_query(
            "curl",
            "DeviceProcessEvents | take 1",
            "",
            false,
            "alice",
            NOW,
        )
        .await
        .unwrap();
    store
        .save_query("team", "DeviceInfo | take 1", "for all", true, "alice", NOW)
        .await
        .unwrap();
    // The same name for another owner is fine; twice for one owner is not.
    store
        .save_query("curl", "DeviceFileEvents", "", false, "bob", NOW)
        .await
        .unwrap();
    let dup = store
        .save_query("curl", "x", "", false, "alice", NOW)
        .await
        .unwrap_err();
    assert!(matches!(dup, StateError::AlreadyExists { .. }), "{dup}");
    let bob_sees: Vec<String> = store
        .saved_queries("bob")
        .await
        .unwrap()
        .into_iter()
        .map(|q| format!("{}/{}", q.owner, q.name))
        .collect();
    assert_eq!(bob_sees, ["bob/curl", "alice/team"]);
    assert!(matches!(
        store.saved_query(&mine.id, "bob").await,
        Err(StateError::NotFound { .. })
    ));
    // Only the owner deletes.
    assert!(store.delete_saved_query(&mine.id, "bob").await.is_err());
    store.delete_saved_query(&mine.id, "alice").await.unwrap();
    assert!(store.saved_query(&mine.id, "alice").await.is_err());
    let empty = store.save_query("", "x", "", false, "alice", NOW).await;
    assert!(matches!(empty, Err(StateError::Invalid { .. })));
}

fn rule(name: &str, schedule: &str) -> NewCustomDetection {
    NewCustomDetection {
        name: name.into(),
        query: "DeviceProcessEvents | project Timestamp, ReportId, DeviceId".into(),
        schedule: schedule.into(),
        title: "Suspicious thing".into(),
        description: String::new(),
        severity: "medium".into(),
        category: "Execution".into(),
        techniques: vec!["T1059.004".into()],
        recommended_actions: "Isolate the device".into(),
        actions: vec!["isolate".into()],
    }
}

#[tokio::test]
async fn custom_detections_check_their_fields_and_remember_hits() {
    let (_dir, _path, store) = file_store().await;
    let d = store
        .create_custom_detection(&rule("r1", "12h"), "alice", NOW)
        .await
        .unwrap();
    assert_eq!(d.rule.severity, "Medium");
    assert_eq!(d.lookback_ms, 48 * 3_600_000);
    assert_eq!(d.next_run_ms, NOW, "a new rule runs at once");
    for bad in [
        NewCustomDetection {
            schedule: "2h".into(),
            ..rule("b1", "1h")
        },
        NewCustomDetection {
            severity: "urgent".into(),
            ..rule("b2", "1h")
        },
        NewCustomDetection {
            actions: vec!["reboot".into()],
            ..rule("b3", "1h")
        },
        NewCustomDetection {
            techniques: vec!["T10x".into()],
            ..rule("b4", "1h")
        },
    ] {
        let e = store
            .create_custom_detection(&bad, "alice", NOW)
            .await
            .unwrap_err();
        assert!(matches!(e, StateError::Invalid { .. }), "{e}");
    }
    assert_eq!(store.custom_detections().await.unwrap().len(), 1);
    let taken = store
        .create_custom_detection(&rule("r1", "1h"), "bob", NOW)
        .await;
    assert!(matches!(taken, Err(StateError::AlreadyExists { .. })));

    // Due now; after a run, due again one period later.
    assert_eq!(store.due_custom_detections(NOW).await.unwrap().len(), 1);
    store
        .finish_custom_run(&d.id, None, 2, NOW, NOW + 12 * 3_600_000)
        .await
        .unwrap();
    assert!(store
        .due_custom_detections(NOW + 1)
        .await
        .unwrap()
        .is_empty());
    let after = store.custom_detection(&d.id).await.unwrap();
    assert_eq!(
        (after.last_status.as_deref(), after.last_alerts),
        (Some("ok"), 2)
    );

    // Hits: new ones only, at most the limit, remembered across runs.
    let keys: Vec<String> = (0..5).map(|i| format!("dev/{i}")).collect();
    let first = store
        .new_custom_hits(&d.id, &keys[..3], 100, NOW)
        .await
        .unwrap();
    assert_eq!(first, keys[..3]);
    let second = store.new_custom_hits(&d.id, &keys, 1, NOW).await.unwrap();
    assert_eq!(
        second,
        ["dev/3"],
        "seen keys are skipped, then the limit applies"
    );

    // Disabled rules are never due; deleting forgets them.
    store
        .set_custom_detection_enabled(&d.id, false, NOW)
        .await
        .unwrap();
    assert!(store
        .due_custom_detections(i64::MAX)
        .await
        .unwrap()
        .is_empty());
    store.delete_custom_detection(&d.id).await.unwrap();
    assert!(store.custom_detection(&d.id).await.is_err());
}
