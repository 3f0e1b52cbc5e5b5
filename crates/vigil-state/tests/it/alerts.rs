//! Hits group into alerts by key within a window; other keys and late hits start new alerts.

use vigil_state::{Alert, NewHit, StateError, StateStore};

use crate::{file_store, NOW};

/// Record one hit; the alert and whether it is new.
async fn record(store: &StateStore, hit: &NewHit, window_ms: i64) -> (Alert, bool) {
    let r = store.record_hit(hit, window_ms, NOW).await.unwrap();
    (store.alert(&r.alert_id.unwrap()).await.unwrap(), r.created)
}

fn hit(key: &str, at_ms: i64) -> NewHit {
    NewHit {
        group_key: key.into(),
        rule_id: "r-1".into(),
        title: "Reverse shell".into(),
        severity: "High".into(),
        category: "Execution".into(),
        techniques: vec!["T1059.004".into(), "T1095".into()],
        detection_source: "Sigma".into(),
        device_id: "dev-1".into(),
        at_ms,
        count: 1,
        last_ms: at_ms,
        evidence_json: r#"[{"entity":"Process","role":"Impacted"}]"#.into(),
    }
}

#[tokio::test]
async fn hits_group_by_key_within_the_window() {
    let (_dir, _path, store) = file_store().await;
    let hour = 3_600_000;
    let (a, new) = record(&store, &hit("k1", NOW), hour).await;
    assert!(new);
    assert_eq!((a.hits, a.status.as_str()), (1, "New"));
    assert_eq!(a.techniques, vec!["T1059.004", "T1095"]);

    // Same key, 10 minutes later: the same alert, two hits, activity span widened.
    let (b, new) = record(&store, &hit("k1", NOW + 600_000), hour).await;
    assert!(!new);
    assert_eq!(b.id, a.id);
    assert_eq!(
        (b.hits, b.first_activity_ms, b.last_activity_ms),
        (2, NOW, NOW + 600_000)
    );

    // Another key, and the first key past the window: new alerts.
    let (c, new) = record(&store, &hit("k2", NOW), hour).await;
    assert!(new && c.id != a.id);
    let (d, new) = record(&store, &hit("k1", NOW + 3 * hour), hour).await;
    assert!(new && d.id != a.id);

    let all = store.list_alerts(0).await.unwrap();
    assert_eq!(all.len(), 3);
    assert_eq!(all[0].id, d.id, "most recent activity first");
    assert_eq!(store.list_alerts(NOW + hour).await.unwrap().len(), 1);
    assert!(matches!(
        store.alert("al_missing").await,
        Err(StateError::NotFound { .. })
    ));
}
