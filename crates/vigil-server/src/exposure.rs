//! A device's exposure level from the protection state its agent reports (the heartbeat's
//! health detail): each failed check adds a reason and a weight; the sum gives the level
//! (0 → `Low`, 1–2 → `Medium`, 3 and more → `High`; `Unknown` while the agent has not
//! reported its protection state). This is the configuration part of MDE's exposure;
//! vulnerabilities of installed software are not counted (not collected yet).
//!
//! Checks (weight): sensor not `Active` (3); real-time protection off (3); antivirus not in
//! `active` mode (2); tamper protection off or in maintenance (2); no completed quick or full
//! scan in the last 7 days (1); agent certificate expiring within 7 days (1).

use serde_json::Value;
use vigil_state::Device;

const WEEK_MS: i64 = 7 * 86_400_000;

/// The exposure of a device: its level and the failed checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exposure {
    pub level: &'static str,
    pub reasons: Vec<String>,
}

/// The exposure of `d` at `now_ms` (`health`: its health as the API shows it, which says
/// `Inactive` or `Revoked` when the device stopped reporting).
pub fn exposure(d: &Device, health: &str, now_ms: i64) -> Exposure {
    let Some(detail) = d
        .health_detail
        .as_deref()
        .and_then(|h| serde_json::from_str::<Value>(h).ok())
    else {
        return Exposure {
            level: "Unknown",
            reasons: vec!["the agent has not reported its protection state".into()],
        };
    };
    let mut score = 0;
    let mut reasons = Vec::new();
    let mut fail = |weight: u32, why: String| {
        score += weight;
        reasons.push(why);
    };
    if health != "Active" {
        fail(3, format!("sensor health is {health}"));
    }
    let av = &detail["antivirus"];
    if av.is_object() {
        if av["real_time"] != Value::Bool(true) {
            fail(3, "real-time protection is off".into());
        }
        match av["mode"].as_str() {
            Some("active") => {}
            Some(m) => fail(2, format!("antivirus is in {m} mode, not active")),
            None => fail(2, "antivirus mode not reported".into()),
        }
        let finished = |k: &str| {
            let s = &av[k];
            (s["result"] == "completed")
                .then(|| s["finished"].as_i64())
                .flatten()
                .map(|secs| secs * 1000)
        };
        let last = finished("last_quick_scan").max(finished("last_full_scan"));
        if last.is_none_or(|at| now_ms - at > WEEK_MS) {
            fail(1, "no completed antivirus scan in the last 7 days".into());
        }
    } else {
        fail(3, "no antivirus state reported".into());
    }
    let tamper = &detail["tamper"];
    if tamper["enabled"] != Value::Bool(true) {
        fail(2, "tamper protection is off".into());
    } else if tamper["maintenance"] == Value::Bool(true) {
        fail(
            2,
            "tamper protection is suspended by a maintenance token".into(),
        );
    }
    if d.cert_not_after_ms - now_ms < WEEK_MS {
        fail(1, "the agent's certificate expires within 7 days".into());
    }
    let level = match score {
        0 => "Low",
        1..=2 => "Medium",
        _ => "High",
    };
    Exposure { level, reasons }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const NOW: i64 = 1_800_000_000_000;

    fn device(detail: Option<Value>) -> Device {
        Device {
            id: "d".into(),
            name: "n".into(),
            enrolled_ms: 0,
            enrollment_token_id: None,
            last_seen_ms: Some(NOW),
            revoked_ms: None,
            cert_serial: String::new(),
            cert_fingerprint: String::new(),
            cert_not_after_ms: NOW + 30 * 86_400_000,
            health: Some("Active".into()),
            agent_version: None,
            os_platform: None,
            os_version: None,
            kernel: None,
            ip: None,
            sensor_mode: None,
            health_detail: detail.map(|v| v.to_string()),
            events_received: 0,
            events_dropped: 0,
            group: None,
            tags: Vec::new(),
        }
    }

    fn protected() -> Value {
        json!({
            "antivirus": {
                "real_time": true,
                "mode": "active",
                "last_quick_scan": { "result": "completed", "finished": NOW / 1000 - 3600 },
            },
            "tamper": { "enabled": true, "maintenance": false },
        })
    }

    #[test]
    fn a_protected_device_is_low() {
        let e = exposure(&device(Some(protected())), "Active", NOW);
        assert_eq!(
            e,
            Exposure {
                level: "Low",
                reasons: vec![]
            }
        );
    }

    #[test]
    fn each_failed_check_is_named_and_weighed() {
        let mut v = protected();
        v["antivirus"]["last_quick_scan"]["finished"] = json!(NOW / 1000 - 8 * 86_400);
        let e = exposure(&device(Some(v)), "Active", NOW);
        assert_eq!(e.level, "Medium");
        assert_eq!(
            e.reasons,
            ["no completed antivirus scan in the last 7 days"]
        );

        let mut v = protected();
        v["tamper"]["maintenance"] = json!(true);
        v["antivirus"]["mode"] = json!("audit");
        let e = exposure(&device(Some(v)), "Active", NOW);
        assert_eq!(e.level, "High");
        assert_eq!(e.reasons.len(), 2, "{:?}", e.reasons);

        let mut v = protected();
        v["antivirus"]["real_time"] = json!(false);
        assert_eq!(exposure(&device(Some(v)), "Active", NOW).level, "High");
        // A cancelled scan does not count as a scan.
        let mut v = protected();
        v["antivirus"]["last_quick_scan"]["result"] = json!("cancelled");
        assert_eq!(exposure(&device(Some(v)), "Active", NOW).level, "Medium");
        assert_eq!(
            exposure(&device(Some(protected())), "Impaired", NOW).level,
            "High"
        );
    }

    #[test]
    fn no_report_is_unknown() {
        assert_eq!(exposure(&device(None), "Active", NOW).level, "Unknown");
    }
}
