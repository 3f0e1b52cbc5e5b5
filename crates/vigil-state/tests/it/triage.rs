//! The triage lifecycle (alerts and incidents), suppressions, incident grouping and rule
//! switches, through the public API of the store.

use serde_json::{json, Value};
use vigil_state::{
    LifecycleUpdate, NewHit, NewSuppression, StateError, StateStore, INCIDENT_WINDOW_MS,
};

use crate::{file_store, NOW};

const HOUR: i64 = 3_600_000;

/// Evidence of a process event.
struct Ev<'a> {
    device: &'a str,
    user: &'a str,
    sha: &'a str,
    ip: Option<&'a str>,
    pid: i64,
    ppid: i64,
    cmd: &'a str,
    parent: &'a str,
}

impl Default for Ev<'_> {
    fn default() -> Self {
        Ev {
            device: "dev-1",
            user: "alice",
            sha: "aa11",
            ip: None,
            pid: 100,
            ppid: 50,
            cmd: "bash -i",
            parent: "nginx",
        }
    }
}

fn evidence(e: &Ev) -> Value {
    let mut v = vec![
        json!({ "entity": "Device", "role": "Impacted", "DeviceId": e.device, "DeviceName": format!("{}.test", e.device) }),
        json!({ "entity": "Process", "role": "Related", "FileName": "bash", "FolderPath": "/usr/bin/bash", "ProcessCommandLine": e.cmd, "ProcessId": e.pid, "SHA256": e.sha }),
        json!({ "entity": "Process", "role": "Parent", "FileName": e.parent, "FolderPath": format!("/usr/sbin/{}", e.parent), "ProcessCommandLine": e.parent, "ProcessId": e.ppid }),
        json!({ "entity": "User", "role": "Related", "AccountName": e.user }),
    ];
    if let Some(ip) = e.ip {
        v.push(json!({ "entity": "Ip", "role": "Related", "Address": ip, "Port": 443 }));
    }
    Value::Array(v)
}

fn hit(rule: &str, category: &str, severity: &str, at_ms: i64, e: &Ev) -> NewHit {
    NewHit {
        group_key: format!("{rule}/{}/{}", e.device, e.cmd),
        rule_id: rule.into(),
        title: format!("{rule} title"),
        severity: severity.into(),
        category: category.into(),
        techniques: vec![format!("T-{rule}")],
        detection_source: "Sigma".into(),
        device_id: e.device.into(),
        at_ms,
        count: 1,
        last_ms: at_ms,
        evidence_json: evidence(e).to_string(),
    }
}

async fn record(store: &StateStore, h: &NewHit) -> vigil_state::Recorded {
    store.record_hit(h, HOUR, NOW).await.unwrap()
}

fn set(status: Option<&str>, class: Option<&str>, det: Option<&str>) -> LifecycleUpdate {
    LifecycleUpdate {
        status: status.map(Into::into),
        classification: class.map(|c| Some(c.into())),
        determination: det.map(|d| Some(d.into())),
        ..Default::default()
    }
}

#[tokio::test]
async fn an_alert_moves_through_its_lifecycle_with_comments_and_an_audit() {
    let (_d, _p, store) = file_store().await;
    let id = record(&store, &hit("r1", "Execution", "High", NOW, &Ev::default()))
        .await
        .alert_id
        .unwrap();

    let mut u = set(Some("InProgress"), None, None);
    u.assignee = Some(Some("alice".into()));
    u.comment = Some("looking".into());
    let a = store.update_alert(&id, &u, "admin", NOW + 1).await.unwrap();
    assert_eq!(
        (a.status.as_str(), a.assignee.as_deref()),
        ("InProgress", Some("alice"))
    );

    let a = store
        .update_alert(
            &id,
            &set(Some("resolved"), Some("TruePositive"), Some("Malware")),
            "bob",
            NOW + 2,
        )
        .await
        .unwrap();
    assert_eq!(a.status, "Resolved");
    assert_eq!(a.classification.as_deref(), Some("TruePositive"));
    assert_eq!(a.determination.as_deref(), Some("Malware"));

    // A refused update changes nothing: not the fields, not the comment.
    let mut bad = set(Some("New"), Some("FalsePositive"), Some("Malware"));
    bad.comment = Some("should not be kept".into());
    let e = store
        .update_alert(&id, &bad, "bob", NOW + 3)
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            StateError::Invalid {
                what: "determination",
                ..
            }
        ),
        "{e}"
    );
    let a2 = store.alert(&id).await.unwrap();
    assert_eq!(a2, a);

    // Reopening is allowed (and audited).
    let a = store
        .update_alert(&id, &set(Some("InProgress"), None, None), "bob", NOW + 4)
        .await
        .unwrap();
    assert_eq!(a.status, "InProgress");

    store
        .comment_alert(&id, "carol", "second look", NOW + 5)
        .await
        .unwrap();
    let comments = store.alert_comments(&id).await.unwrap();
    let texts: Vec<(&str, &str)> = comments
        .iter()
        .map(|c| (c.author.as_str(), c.text.as_str()))
        .collect();
    assert_eq!(texts, vec![("admin", "looking"), ("carol", "second look")]);

    let history = store.alert_history(&id).await.unwrap();
    let changes: Vec<(String, Option<String>, Option<String>)> = history
        .iter()
        .map(|h| (h.field.clone(), h.old_value.clone(), h.new_value.clone()))
        .collect();
    let s = |v: &str| Some(v.to_string());
    assert_eq!(
        changes,
        vec![
            ("assignee".into(), None, s("alice")),
            ("status".into(), s("New"), s("InProgress")),
            ("classification".into(), None, s("TruePositive")),
            ("determination".into(), None, s("Malware")),
            ("status".into(), s("InProgress"), s("Resolved")),
            ("status".into(), s("Resolved"), s("InProgress")),
        ]
    );
    assert_eq!(history[2].actor, "bob");

    assert!(matches!(
        store
            .update_alert("al_missing", &set(Some("New"), None, None), "x", NOW)
            .await,
        Err(StateError::NotFound { .. })
    ));
    assert!(matches!(
        store.comment_alert("al_missing", "x", "hi", NOW).await,
        Err(StateError::NotFound { .. })
    ));
    assert!(store.comment_alert(&id, "x", "   ", NOW).await.is_err());
}

#[tokio::test]
async fn alerts_filter_by_status_severity_and_device() {
    let (_d, _p, store) = file_store().await;
    let a = record(&store, &hit("r1", "Execution", "High", NOW, &Ev::default())).await;
    let other = Ev {
        device: "dev-2",
        ..Ev::default()
    };
    record(&store, &hit("r2", "Discovery", "Low", NOW, &other)).await;
    store
        .update_alert(
            a.alert_id.as_deref().unwrap(),
            &set(Some("Resolved"), None, None),
            "x",
            NOW,
        )
        .await
        .unwrap();
    let f = |status: Option<&str>, severity: Option<&str>, device: Option<&str>| {
        vigil_state::AlertFilter {
            status: status.map(Into::into),
            severity: severity.map(Into::into),
            device_id: device.map(Into::into),
            ..Default::default()
        }
    };
    let n = |v: Vec<vigil_state::Alert>| v.into_iter().map(|a| a.rule_id).collect::<Vec<_>>();
    assert_eq!(
        n(store
            .list_alerts_filtered(&f(Some("new"), None, None))
            .await
            .unwrap()),
        vec!["r2"]
    );
    assert_eq!(
        n(store
            .list_alerts_filtered(&f(None, Some("HIGH"), None))
            .await
            .unwrap()),
        vec!["r1"]
    );
    assert_eq!(
        n(store
            .list_alerts_filtered(&f(None, None, Some("dev-2")))
            .await
            .unwrap()),
        vec!["r2"]
    );
    let e = store
        .list_alerts_filtered(&f(None, Some("Severe"), None))
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid severity \"Severe\": must be one of Informational, Low, Medium, High"
    );
}

fn suppression(
    rule: &str,
    conditions: &[(&str, &str)],
    devices: &[&str],
    action: &str,
    expires_ms: Option<i64>,
) -> NewSuppression {
    NewSuppression {
        rule_id: rule.into(),
        conditions: conditions
            .iter()
            .map(|(k, p)| (k.to_string(), p.to_string()))
            .collect(),
        devices: devices.iter().map(|d| d.to_string()).collect(),
        action: action.into(),
        expires_ms,
        comment: "backup job".into(),
        created_by: "admin".into(),
    }
}

#[tokio::test]
async fn suppressions_hide_or_resolve_matching_hits_within_scope_until_they_expire() {
    let (_d, _p, store) = file_store().await;
    let backup = Ev {
        cmd: "/opt/backup/run.sh --full",
        parent: "cron",
        ..Ev::default()
    };
    let s = store
        .create_suppression(
            &suppression(
                "r1",
                &[
                    ("ProcessCommandLine", "/opt/backup/*"),
                    ("InitiatingProcessFileName", "cron"),
                ],
                &["dev-1"],
                "hide",
                Some(NOW + HOUR),
            ),
            NOW,
        )
        .await
        .unwrap();

    // Matching hit on the scoped device: hidden, counted.
    let r = record(&store, &hit("r1", "Execution", "High", NOW, &backup)).await;
    assert_eq!(
        (r.alert_id, r.created, r.suppressed_by.as_deref()),
        (None, false, Some(s.id.as_str()))
    );
    // Another rule, another device, a pattern that does not match: recorded.
    assert!(
        record(&store, &hit("r2", "Execution", "High", NOW, &backup))
            .await
            .alert_id
            .is_some()
    );
    let elsewhere = Ev {
        device: "dev-2",
        ..backup
    };
    assert!(
        record(&store, &hit("r1", "Execution", "High", NOW, &elsewhere))
            .await
            .suppressed_by
            .is_none()
    );
    let other = Ev {
        cmd: "/tmp/x.sh",
        parent: "cron",
        ..Ev::default()
    };
    assert!(record(&store, &hit("r1", "Execution", "High", NOW, &other))
        .await
        .suppressed_by
        .is_none());
    let got = store.suppression(&s.id).await.unwrap();
    assert_eq!(got.hits, 1);
    assert_eq!(got.last_hit_ms, Some(NOW));
    assert_eq!(store.list_alerts(0).await.unwrap().len(), 3);

    // Expired: no longer applies.
    let backup = Ev {
        cmd: "/opt/backup/run.sh --full",
        parent: "cron",
        ..Ev::default()
    };
    let r = store
        .record_hit(
            &hit("r1", "Execution", "High", NOW, &backup),
            HOUR,
            NOW + HOUR,
        )
        .await
        .unwrap();
    assert!(r.suppressed_by.is_none() && r.created);

    // A resolving suppression records the alert resolved, outside incidents, and later hits
    // of the group extend that alert.
    let s2 = store
        .create_suppression(
            &suppression("r3", &[("AccountName", "svc-*")], &[], "resolve", None),
            NOW,
        )
        .await
        .unwrap();
    let svc = Ev {
        user: "svc-backup",
        ..Ev::default()
    };
    let r = record(&store, &hit("r3", "Execution", "High", NOW, &svc)).await;
    assert!(r.created && r.incident_id.is_none());
    assert_eq!(r.suppressed_by.as_deref(), Some(s2.id.as_str()));
    let a = store.alert(r.alert_id.as_deref().unwrap()).await.unwrap();
    assert_eq!(a.status, "Resolved");
    assert_eq!(
        a.classification.as_deref(),
        Some("InformationalExpectedActivity")
    );
    let again = record(&store, &hit("r3", "Execution", "High", NOW + 1000, &svc)).await;
    assert_eq!((again.alert_id, again.created), (r.alert_id, false));
    assert_eq!(store.suppression(&s2.id).await.unwrap().hits, 2);

    // Bad input is refused; removal works once.
    let e = store
        .create_suppression(
            &suppression("r1", &[("Colour", "x")], &[], "hide", None),
            NOW,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            StateError::Invalid {
                what: "match key",
                ..
            }
        ),
        "{e}"
    );
    assert!(store
        .create_suppression(&suppression("r1", &[], &[], "hide", Some(NOW - 1)), NOW)
        .await
        .is_err());
    assert_eq!(store.list_suppressions().await.unwrap().len(), 2);
    store.delete_suppression(&s.id, "admin", NOW).await.unwrap();
    assert!(matches!(
        store.delete_suppression(&s.id, "admin", NOW).await,
        Err(StateError::NotFound { .. })
    ));
    assert_eq!(store.list_suppressions().await.unwrap().len(), 1);
}

#[tokio::test]
async fn alerts_sharing_an_entity_join_one_incident() {
    let (_d, _p, store) = file_store().await;
    // Same device.
    let a = record(
        &store,
        &hit("exec", "Execution", "Medium", NOW, &Ev::default()),
    )
    .await;
    let b = record(
        &store,
        &hit(
            "persist",
            "Persistence",
            "High",
            NOW + 1000,
            &Ev {
                cmd: "crontab -",
                pid: 7,
                ppid: 6,
                user: "bob",
                sha: "bb",
                ..Ev::default()
            },
        ),
    )
    .await;
    assert_eq!(a.incident_id, b.incident_id);
    let inc = store
        .incident(a.incident_id.as_deref().unwrap())
        .await
        .unwrap();
    assert_eq!(inc.alert_count, 2);
    assert_eq!(inc.severity, "High", "the highest of its alerts");
    assert_eq!(inc.title, "Execution and persistence on dev-1.test");
    assert_eq!(inc.tactics, vec!["Execution", "Persistence"]);
    assert_eq!(inc.techniques, vec!["T-exec", "T-persist"]);
    assert_eq!(
        (inc.first_activity_ms, inc.last_activity_ms),
        (NOW, NOW + 1000)
    );
    assert_eq!(store.incident_alerts(&inc.id).await.unwrap().len(), 2);

    // Other devices: the same user, the same file hash, the same remote IP join; nothing
    // shared starts a new incident.
    let by = |device: &'static str,
              user: &'static str,
              sha: &'static str,
              ip: Option<&'static str>| Ev {
        device,
        user,
        sha,
        ip,
        ..Ev::default()
    };
    let base = record(
        &store,
        &hit(
            "x",
            "Execution",
            "Low",
            NOW,
            &by("h1", "u1", "s1", Some("198.51.100.1")),
        ),
    )
    .await;
    assert_ne!(base.incident_id, a.incident_id);
    let user = record(
        &store,
        &hit("x", "Execution", "Low", NOW, &by("h2", "u1", "s2", None)),
    )
    .await;
    let hash = record(
        &store,
        &hit("x", "Execution", "Low", NOW, &by("h3", "u3", "S1", None)),
    )
    .await;
    let ip = record(
        &store,
        &hit(
            "x",
            "Execution",
            "Low",
            NOW,
            &by("h4", "u4", "s4", Some("198.51.100.1")),
        ),
    )
    .await;
    let none = record(
        &store,
        &hit("x", "Execution", "Low", NOW, &by("h5", "u5", "s5", None)),
    )
    .await;
    assert_eq!(user.incident_id, base.incident_id, "same user");
    assert_eq!(hash.incident_id, base.incident_id, "same hash (any case)");
    assert_eq!(ip.incident_id, base.incident_id, "same remote IP");
    assert_ne!(none.incident_id, base.incident_id);
    let inc = store
        .incident(base.incident_id.as_deref().unwrap())
        .await
        .unwrap();
    assert_eq!(inc.devices, vec!["h1", "h2", "h3", "h4"]);
    assert_eq!(inc.title, "Execution on 4 devices");

    // root is too shared to connect devices.
    let r1 = record(
        &store,
        &hit("y", "Execution", "Low", NOW, &by("h6", "root", "s6", None)),
    )
    .await;
    let r2 = record(
        &store,
        &hit("y", "Execution", "Low", NOW, &by("h7", "root", "s7", None)),
    )
    .await;
    assert_ne!(r1.incident_id, r2.incident_id);
}

#[tokio::test]
async fn the_process_tree_is_an_incident_entity() {
    let (_d, _p, store) = file_store().await;
    let parent = record(
        &store,
        &hit(
            "a",
            "Execution",
            "Low",
            NOW,
            &Ev {
                pid: 100,
                ppid: 50,
                ..Ev::default()
            },
        ),
    )
    .await;
    let entities = store
        .incident_entity_list(parent.incident_id.as_deref().unwrap())
        .await
        .unwrap();
    assert!(
        entities.contains(&("process".into(), "dev-1/100".into())),
        "{entities:?}"
    );
    assert!(
        entities.contains(&("process".into(), "dev-1/50".into())),
        "{entities:?}"
    );
    // A child of process 100 joins through the process tree (and the device).
    let child = record(
        &store,
        &hit(
            "b",
            "Execution",
            "Low",
            NOW,
            &Ev {
                pid: 200,
                ppid: 100,
                cmd: "child",
                ..Ev::default()
            },
        ),
    )
    .await;
    assert_eq!(child.incident_id, parent.incident_id);
}

#[tokio::test]
async fn incidents_close_to_new_alerts_after_the_window_or_once_resolved() {
    let (_d, _p, store) = file_store().await;
    let a = record(&store, &hit("r1", "Execution", "Low", NOW, &Ev::default())).await;
    // Activity 25 h later: a new incident.
    let late = NOW + INCIDENT_WINDOW_MS + HOUR;
    let b = record(&store, &hit("r2", "Execution", "Low", late, &Ev::default())).await;
    assert_ne!(a.incident_id, b.incident_id);
    // A hit extending an alert keeps its incident alive.
    let c = record(
        &store,
        &hit("r2", "Execution", "Low", late + 1000, &Ev::default()),
    )
    .await;
    assert_eq!((c.alert_id.clone(), c.created), (b.alert_id.clone(), false));
    let inc = store
        .incident(b.incident_id.as_deref().unwrap())
        .await
        .unwrap();
    assert_eq!(inc.last_activity_ms, late + 1000);

    // Resolved incidents take no new alerts.
    store
        .update_incident(
            b.incident_id.as_deref().unwrap(),
            &set(Some("Resolved"), None, None),
            "x",
            NOW,
        )
        .await
        .unwrap();
    let d = record(
        &store,
        &hit("r3", "Execution", "Low", late + 2000, &Ev::default()),
    )
    .await;
    assert_ne!(d.incident_id, b.incident_id);
}

#[tokio::test]
async fn resolving_an_incident_resolves_its_alerts_and_the_last_alert_resolves_its_incident() {
    let (_d, _p, store) = file_store().await;
    let a = record(&store, &hit("r1", "Execution", "Low", NOW, &Ev::default())).await;
    let b = record(
        &store,
        &hit("r2", "Persistence", "Low", NOW, &Ev::default()),
    )
    .await;
    let inc_id = a.incident_id.clone().unwrap();
    assert_eq!(b.incident_id.as_deref(), Some(inc_id.as_str()));

    let mut u = set(
        Some("Resolved"),
        Some("TruePositive"),
        Some("MultiStagedAttack"),
    );
    u.assignee = Some(Some("alice".into()));
    u.comment = Some("contained".into());
    let inc = store
        .update_incident(&inc_id, &u, "alice", NOW + 1)
        .await
        .unwrap();
    assert_eq!(inc.status, "Resolved");
    for id in [&a.alert_id, &b.alert_id] {
        let al = store.alert(id.as_deref().unwrap()).await.unwrap();
        assert_eq!(al.status, "Resolved");
        assert_eq!(al.classification.as_deref(), Some("TruePositive"));
        assert_eq!(al.determination.as_deref(), Some("MultiStagedAttack"));
        assert_eq!(al.assignee.as_deref(), Some("alice"));
    }
    assert_eq!(
        store.incident_comments(&inc_id).await.unwrap()[0].text,
        "contained"
    );
    assert!(!store.incident_history(&inc_id).await.unwrap().is_empty());

    // Reopening an alert reopens its incident; resolving its last open alert resolves it.
    store
        .update_alert(
            a.alert_id.as_deref().unwrap(),
            &set(Some("InProgress"), None, None),
            "bob",
            NOW + 2,
        )
        .await
        .unwrap();
    assert_eq!(store.incident(&inc_id).await.unwrap().status, "InProgress");
    store
        .update_alert(
            a.alert_id.as_deref().unwrap(),
            &set(Some("Resolved"), None, None),
            "bob",
            NOW + 3,
        )
        .await
        .unwrap();
    assert_eq!(store.incident(&inc_id).await.unwrap().status, "Resolved");

    // Bad input on an incident changes nothing.
    let e = store
        .update_incident(&inc_id, &set(Some("Done"), None, None), "x", NOW)
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid status \"Done\": must be one of New, InProgress, Resolved"
    );
    assert!(matches!(
        store
            .update_incident("in_missing", &set(Some("New"), None, None), "x", NOW)
            .await,
        Err(StateError::NotFound { .. })
    ));
    let listed = store
        .list_incidents(&vigil_state::IncidentFilter {
            status: Some("resolved".into()),
            since_ms: 0,
        })
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
}

#[tokio::test]
async fn rule_switches_persist_across_reopening() {
    let (_d, path, store) = file_store().await;
    assert!(!store.is_rule_disabled("r1"));
    store
        .set_rule_enabled("r1", false, "admin", NOW)
        .await
        .unwrap();
    store
        .set_rule_enabled("r2", false, "admin", NOW)
        .await
        .unwrap();
    store
        .set_rule_enabled("r2", true, "admin", NOW + 1)
        .await
        .unwrap();
    assert!(store.is_rule_disabled("r1") && !store.is_rule_disabled("r2"));
    let clone = store.clone();
    assert!(clone.is_rule_disabled("r1"), "clones share the set");
    store.close().await;
    let reopened = StateStore::open(&path).await.unwrap();
    assert!(reopened.is_rule_disabled("r1"));
    assert!(!reopened.is_rule_disabled("r2"));
    let states = reopened.rule_states().await.unwrap();
    assert_eq!(states["r2"].updated_by, "admin");
    assert!(states["r2"].enabled);
}

#[tokio::test]
async fn bulk_triage_changes_every_alert_or_none() {
    let (_d, _p, store) = file_store().await;
    let mut ids = Vec::new();
    for (i, dev) in ["dev-1", "dev-2", "dev-3"].into_iter().enumerate() {
        let e = Ev {
            device: dev,
            user: ["u1", "u2", "u3"][i],
            sha: ["s1", "s2", "s3"][i],
            ..Ev::default()
        };
        ids.push(
            record(&store, &hit("r", "Execution", "High", NOW, &e))
                .await
                .alert_id
                .unwrap(),
        );
    }
    let mut u = set(Some("Resolved"), Some("TruePositive"), Some("Malware"));
    u.comment = Some("contained".into());
    // An unknown id among them: nothing changes, not even the alerts before it.
    let mut with_unknown = ids.clone();
    with_unknown.insert(2, "al_missing".into());
    let e = store
        .update_alerts(&with_unknown, &u, "alice", NOW + 1)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("al_missing"), "{e}");
    for id in &ids {
        let a = store.alert(id).await.unwrap();
        assert_eq!(a.status, "New", "{id}");
        assert!(store.alert_comments(id).await.unwrap().is_empty());
    }
    let done = store
        .update_alerts(&ids, &u, "alice", NOW + 2)
        .await
        .unwrap();
    assert_eq!(done.len(), 3);
    for a in &done {
        assert_eq!(
            (a.status.as_str(), a.classification.as_deref()),
            ("Resolved", Some("TruePositive"))
        );
        assert_eq!(store.alert_comments(&a.id).await.unwrap().len(), 1);
    }
}
