//! Indicators (one per source and value, all-or-nothing imports, replace mode), their change
//! log (versions, tombstones, the floor below which a full sync is needed), feeds and warning
//! lists.

use vigil_intel::{Action, Indicator, IndicatorType};
use vigil_state::{FeedRun, IndicatorFilter, IndicatorUpdate, NewFeed, StateError};

use crate::{file_store, NOW};

fn ind(kind: IndicatorType, value: &str, source: &str) -> Indicator {
    let mut i = Indicator::new(kind, value)
        .unwrap()
        .with_action(Action::Block);
    i.provenance.source = source.to_string();
    i
}

fn all() -> IndicatorFilter {
    IndicatorFilter {
        limit: 1000,
        ..IndicatorFilter::default()
    }
}

#[tokio::test]
async fn manual_indicators_are_unique_per_value_and_get_growing_ids() {
    let (_dir, _path, store) = file_store().await;
    let a = store
        .add_indicator(&ind(IndicatorType::Ip, "10.1.2.3", "manual"), "alice", NOW)
        .await
        .unwrap();
    let b = store
        .add_indicator(
            &ind(IndicatorType::Domain, "evil.example", "manual"),
            "alice",
            NOW,
        )
        .await
        .unwrap();
    assert!(b.indicator.id > a.indicator.id);
    assert!(b.version > a.version);
    let dup = store
        .add_indicator(&ind(IndicatorType::Ip, "10.1.2.3", "manual"), "bob", NOW)
        .await
        .unwrap_err();
    assert!(matches!(dup, StateError::AlreadyExists { .. }), "{dup}");
    assert!(
        dup.to_string().contains(&format!("id {}", a.indicator.id)),
        "{dup}"
    );
    // The same value from another source is another indicator.
    store
        .add_indicator(&ind(IndicatorType::Ip, "10.1.2.3", "feed-x"), "feed", NOW)
        .await
        .unwrap();
    assert_eq!(
        store
            .indicators_of_value(IndicatorType::Ip, "10.1.2.3")
            .await
            .unwrap()
            .len(),
        2
    );
    // Ids are never reused after a delete.
    store
        .delete_indicators(&[b.indicator.id], NOW)
        .await
        .unwrap();
    let c = store
        .add_indicator(
            &ind(IndicatorType::Domain, "evil.example", "manual"),
            "alice",
            NOW,
        )
        .await
        .unwrap();
    assert!(c.indicator.id > b.indicator.id + 1);
}

#[tokio::test]
async fn imports_add_update_and_replace_and_a_bad_record_changes_nothing() {
    let (_dir, _path, store) = file_store().await;
    let first: Vec<Indicator> = (0..250)
        .map(|i| {
            ind(
                IndicatorType::Ip,
                &format!("10.0.{}.{}", i / 200, i % 200),
                "ignored",
            )
        })
        .collect();
    let s = store
        .upsert_indicators("feed-a", &first, true, "feed", NOW)
        .await
        .unwrap();
    assert_eq!((s.added, s.updated, s.unchanged, s.removed), (250, 0, 0, 0));
    assert_eq!(s.added_ids.len(), 250);
    let (rows, total) = store.indicators(&all()).await.unwrap();
    assert_eq!(total, 250);
    assert!(rows
        .iter()
        .all(|r| r.indicator.provenance.source == "feed-a"));

    // The next refresh: 199 the same, one changed, 50 gone, 10 new.
    let mut second: Vec<Indicator> = first[..200].to_vec();
    second[0].severity = vigil_intel::Severity::High;
    for i in 0..10 {
        second.push(ind(IndicatorType::Ip, &format!("10.9.0.{i}"), "x"));
    }
    let before = store.intel_version().await.unwrap();
    let s = store
        .upsert_indicators("feed-a", &second, true, "feed", NOW + 1)
        .await
        .unwrap();
    assert_eq!(
        (s.added, s.updated, s.unchanged, s.removed),
        (10, 1, 199, 50)
    );
    assert_eq!(s.version, before.version + 1);

    // The delta since `before` has the changed and new rows, and the removed ids.
    let page = store
        .indicator_changes(before.version, None, 1000)
        .await
        .unwrap();
    assert_eq!(page.upserts.len(), 11);
    assert_eq!(page.removed.len(), 50);
    assert!(page.next.is_none());

    // A record the store refuses fails the whole import.
    let mut bad = second.clone();
    bad.push(ind(IndicatorType::Ip, "10.9.9.9", "x"));
    bad.last_mut().unwrap().device_groups = vec![" ".into()];
    let err = store
        .upsert_indicators("feed-a", &bad, true, "feed", NOW + 2)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("device group"), "{err}");
    assert_eq!(store.intel_version().await.unwrap().version, s.version);
    assert_eq!(store.indicators(&all()).await.unwrap().1, 210);
}

#[tokio::test]
async fn changes_page_by_version_and_id() {
    let (_dir, _path, store) = file_store().await;
    let list: Vec<Indicator> = (0..95)
        .map(|i| ind(IndicatorType::Md5, &format!("{i:032x}"), "x"))
        .collect();
    store
        .upsert_indicators("bulk", &list, false, "feed", NOW)
        .await
        .unwrap();
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = store.indicator_changes(0, after, 30).await.unwrap();
        seen.extend(page.upserts.iter().map(|i| i.id));
        match page.next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(seen.len(), 95);
    assert_eq!(sorted.len(), 95);
}

#[tokio::test]
async fn updates_and_expiry() {
    let (_dir, _path, store) = file_store().await;
    let mut soon = ind(IndicatorType::Sha256, &"ab".repeat(32), "manual");
    soon.expires_ms = Some(NOW + 1000);
    let rec = store.add_indicator(&soon, "alice", NOW).await.unwrap();
    assert_eq!(store.live_indicators(NOW).await.unwrap().len(), 1);
    assert_eq!(store.live_indicators(NOW + 1000).await.unwrap().len(), 0);
    assert_eq!(
        store.next_indicator_expiry(NOW).await.unwrap(),
        Some(NOW + 1000)
    );
    let up = store
        .update_indicator(
            rec.indicator.id,
            &IndicatorUpdate {
                action: Some(Action::Allow),
                expires_ms: Some(None),
                ..IndicatorUpdate::default()
            },
            NOW + 5,
        )
        .await
        .unwrap();
    assert_eq!(up.indicator.action, Action::Allow);
    assert_eq!(up.indicator.expires_ms, None);
    assert!(up.version > rec.version);
    assert_eq!(store.live_indicators(NOW + 5000).await.unwrap().len(), 1);
    let missing = store
        .update_indicator(9999, &IndicatorUpdate::default(), NOW)
        .await
        .unwrap_err();
    assert!(matches!(missing, StateError::NotFound { .. }));
    // Deleting an unknown id deletes nothing.
    let err = store
        .delete_indicators(&[rec.indicator.id, 9999], NOW)
        .await
        .unwrap_err();
    assert!(matches!(err, StateError::NotFound { .. }));
    assert_eq!(store.indicators(&all()).await.unwrap().1, 1);
}

#[tokio::test]
async fn pruning_raises_the_floor() {
    let (_dir, _path, store) = file_store().await;
    let mut old = ind(IndicatorType::Ip, "10.0.0.1", "manual");
    old.expires_ms = Some(NOW);
    let rec = store.add_indicator(&old, "a", NOW - 10).await.unwrap();
    let pruned = store.prune_indicators(0, NOW + 1).await.unwrap();
    assert_eq!(pruned, 1);
    let v = store.intel_version().await.unwrap();
    assert_eq!(v.floor, 0, "a fresh tombstone is kept");
    let page = store
        .indicator_changes(rec.version, None, 10)
        .await
        .unwrap();
    assert_eq!(page.removed, vec![rec.indicator.id]);
    // A month later the tombstone is gone and agents below its version need a full sync.
    store
        .prune_indicators(0, NOW + vigil_state::TOMBSTONE_KEEP_MS + 10)
        .await
        .unwrap();
    let v2 = store.intel_version().await.unwrap();
    assert_eq!(v2.floor, v.version);
    assert_eq!(v2.set_id, v.set_id);
}

#[tokio::test]
async fn filters_and_search() {
    let (_dir, _path, store) = file_store().await;
    let mut list = vec![
        ind(IndicatorType::Ip, "10.0.0.1", "x"),
        ind(IndicatorType::Domain, "bad_host.example", "x"),
        ind(IndicatorType::Domain, "badxhost.example", "x"),
    ];
    list[1].title = "C2 of family Foo".into();
    store
        .upsert_indicators("f", &list, false, "feed", NOW)
        .await
        .unwrap();
    let f = IndicatorFilter {
        kind: Some(IndicatorType::Domain),
        search: Some("bad_".into()),
        limit: 10,
        ..IndicatorFilter::default()
    };
    let (rows, total) = store.indicators(&f).await.unwrap();
    // `_` is a literal, not LIKE's wildcard.
    assert_eq!(total, 1);
    assert_eq!(rows[0].indicator.value, "bad_host.example");
    let f = IndicatorFilter {
        search: Some("family foo".into()),
        limit: 10,
        ..IndicatorFilter::default()
    };
    assert_eq!(store.indicators(&f).await.unwrap().1, 1);
}

#[tokio::test]
async fn feeds_record_runs_and_take_their_indicators_with_them() {
    let (_dir, _path, store) = file_store().await;
    let new = NewFeed {
        name: "urlhaus".into(),
        format: "abusech".into(),
        url: "http://127.0.0.1:9/urlhaus.csv".into(),
        collection: None,
        username: None,
        secret: None,
        interval_ms: 3_600_000,
        action: "block".into(),
        severity: "High".into(),
        generate_alert: true,
        expire_after_ms: None,
        enabled: true,
    };
    let feed = store.create_feed(&new, "alice", NOW).await.unwrap();
    assert!(matches!(
        store.create_feed(&new, "alice", NOW).await.unwrap_err(),
        StateError::AlreadyExists { .. }
    ));
    for (bad, why) in [
        (
            NewFeed {
                format: "rss".into(),
                ..new.clone()
            },
            "format",
        ),
        (
            NewFeed {
                name: "x".into(),
                url: "file:///etc/passwd".into(),
                ..new.clone()
            },
            "url",
        ),
        (
            NewFeed {
                name: "y".into(),
                interval_ms: 1000,
                ..new.clone()
            },
            "interval",
        ),
        (
            NewFeed {
                name: "z".into(),
                format: "taxii".into(),
                ..new.clone()
            },
            "collection",
        ),
    ] {
        let e = store.create_feed(&bad, "alice", NOW).await.unwrap_err();
        assert!(e.to_string().contains(why), "{e}");
    }
    store
        .record_feed_run(&feed.id, &FeedRun::Error("connection refused".into()), NOW)
        .await
        .unwrap();
    let f = store.feed("urlhaus").await.unwrap();
    assert_eq!(f.last_status.as_deref(), Some("error"));
    assert_eq!(f.last_ok_ms, None);
    store
        .upsert_indicators(
            "urlhaus",
            &[ind(IndicatorType::Url, "http://evil.example/x", "x")],
            true,
            "feed",
            NOW,
        )
        .await
        .unwrap();
    store
        .record_feed_run(
            &feed.id,
            &FeedRun::Ok {
                count: 1,
                cursor: None,
            },
            NOW + 1,
        )
        .await
        .unwrap();
    let f = store.feed(&feed.id).await.unwrap();
    assert_eq!(
        (f.last_status.as_deref(), f.last_count, f.last_error),
        (Some("ok"), Some(1), None)
    );
    assert_eq!(store.delete_feed("urlhaus", NOW + 2).await.unwrap(), 1);
    assert_eq!(store.indicators(&all()).await.unwrap().1, 0);
    assert!(store.feeds().await.unwrap().is_empty());
}

#[tokio::test]
async fn warning_lists_are_replaced_by_name() {
    let (_dir, _path, store) = file_store().await;
    store
        .put_warning_list("dns", "{\"a\":1}", NOW)
        .await
        .unwrap();
    store
        .put_warning_list("dns", "{\"a\":2}", NOW)
        .await
        .unwrap();
    let lists = store.warning_lists().await.unwrap();
    assert_eq!(lists.len(), 1);
    assert_eq!(lists[0].body, "{\"a\":2}");
    store.delete_warning_list("dns").await.unwrap();
    assert!(store.delete_warning_list("dns").await.is_err());
}
