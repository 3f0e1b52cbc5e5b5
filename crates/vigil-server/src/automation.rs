//! Automated response: the response actions a custom detection asks for (`actions`:
//! `isolate`, `collect_package`, `scan`, `quarantine_file`) carried out on the devices of the
//! alerts it raised, as the automation level says (`crate::settings`): `full` queues them
//! at once, `semi` records them as `PendingApproval` in the action center (sent when an
//! operator approves), `none` takes none.
//!
//! **Invariants:** an action is requested once per (device, kind, arguments) per run, however
//! many alerts the run raised on the device; its arguments pass the same check as an
//! operator's request (`respond::kinds::check`); `requested_by` is [`REQUESTER`] and the
//! reason names the rule and the alert, so the action center shows where it came from.

use std::collections::HashSet;

use serde_json::{json, Map, Value};
use vigil_state::{NewAction, DEFAULT_ACTION_TTL_MS};

use crate::respond::kinds;
use crate::Ctx;

/// Who automated actions are requested by.
pub const REQUESTER: &str = "automation";

/// One alert a detection raised, with the row it came from.
pub struct Raised<'a> {
    pub alert_id: &'a str,
    pub device_id: &'a str,
    pub row: &'a Map<String, Value>,
}

/// The device action (kind, arguments) for automatic action `auto` on `row`; `Err` says why
/// it cannot be taken (e.g. no file path to quarantine).
pub fn device_action(
    auto: &str,
    row: &Map<String, Value>,
) -> Result<(&'static str, Value), String> {
    let (kind, args) = match auto {
        "isolate" => ("isolate", json!({ "mode": "full" })),
        "collect_package" => ("collect", json!({})),
        "scan" => ("scan", json!({ "type": "quick" })),
        "quarantine_file" => {
            let path = row
                .get("FolderPath")
                .and_then(Value::as_str)
                .filter(|p| p.starts_with('/'))
                .ok_or("the row has no absolute FolderPath to quarantine")?;
            let mut args = json!({ "path": path });
            if let Some(h) = row
                .get("SHA256")
                .and_then(Value::as_str)
                .filter(|h| !h.is_empty())
            {
                args["sha256"] = json!(h);
            }
            ("quarantine", args)
        }
        other => return Err(format!("unknown automatic action {other:?}")),
    };
    let args = kinds::check(kind, &args)?;
    Ok((kind, args))
}

/// Carry out `actions` for the alerts `raised` by rule `rule_name`, at the automation level
/// in force; returns the ids of the actions recorded.
pub async fn respond(
    ctx: &Ctx,
    rule_name: &str,
    actions: &[String],
    raised: &[Raised<'_>],
) -> Vec<String> {
    if actions.is_empty() || raised.is_empty() {
        return Vec::new();
    }
    let level = match crate::settings::load(&ctx.state, ctx.cfg.store.retention_days).await {
        Ok(s) => s.automation_level,
        Err(e) => {
            tracing::error!("cannot read the automation level, no automated action taken: {e}");
            return Vec::new();
        }
    };
    if level == "none" {
        tracing::info!(
            rule = rule_name,
            "automation level none: automatic actions not taken"
        );
        return Vec::new();
    }
    let mut done: HashSet<(String, &'static str, String)> = HashSet::new();
    let mut ids = Vec::new();
    for r in raised {
        for auto in actions {
            let (kind, args) = match device_action(auto, r.row) {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!(rule = rule_name, alert = r.alert_id, action = %auto, "automatic action not taken: {e}");
                    continue;
                }
            };
            if !done.insert((r.device_id.to_string(), kind, args.to_string())) {
                continue;
            }
            let new = NewAction {
                device_id: r.device_id.to_string(),
                kind: kind.to_string(),
                args: args.to_string(),
                reason: format!("custom detection {rule_name:?} raised alert {}", r.alert_id),
                requested_by: REQUESTER.to_string(),
                ttl_ms: DEFAULT_ACTION_TTL_MS,
                undo_of: None,
                session_id: None,
            };
            let res = if level == "full" {
                ctx.respond.queue(ctx, &new).await
            } else {
                ctx.respond.queue_for_approval(ctx, &new).await
            };
            match res {
                Ok(a) => ids.push(a.id),
                Err(e) => tracing::warn!(
                    rule = rule_name,
                    device = r.device_id,
                    kind,
                    "automatic action refused: {e}"
                ),
            }
        }
    }
    ids
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn automatic_actions_become_checked_device_actions() {
        let r = row(json!({ "FolderPath": "/tmp/x.sh", "SHA256": "AB".repeat(32) }));
        assert_eq!(device_action("isolate", &r).unwrap().0, "isolate");
        assert_eq!(device_action("collect_package", &r).unwrap().0, "collect");
        assert_eq!(device_action("scan", &r).unwrap().1["type"], "quick");
        let (kind, args) = device_action("quarantine_file", &r).unwrap();
        assert_eq!(kind, "quarantine");
        assert_eq!(args["path"], "/tmp/x.sh");
        // The hash is normalised by the same check as an operator's request.
        assert_eq!(args["sha256"], "ab".repeat(32));
        let e = device_action("quarantine_file", &row(json!({ "FolderPath": "x" }))).unwrap_err();
        assert!(e.contains("FolderPath"), "{e}");
        let e =
            device_action("quarantine_file", &row(json!({ "FolderPath": "/a/../b" }))).unwrap_err();
        assert!(e.contains("path"), "{e}");
        assert!(device_action("reboot", &r).unwrap_err().contains("reboot"));
    }
}
