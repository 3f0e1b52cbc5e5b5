//! Custom detections: saved hunting queries run on a schedule whose result rows become
//! alerts (detection source `CustomDetection`).
//!
//! A rule's query must return `Timestamp`, `ReportId` and `DeviceId` (the entity the alert is
//! about); other MDE columns it returns (file, process, IP, URL, user) become evidence. Every
//! 30 s the runner takes the due rules; each run reads the rule's look-back (`1h` → 4 h, `3h`
//! → 12 h, `12h` → 48 h, `24h` → 30 d; `continuous` → the last 5 minutes, every minute),
//! keeps the rows not seen by an earlier run (device + report id), at most 100, and records
//! them as alerts (grouped, suppressed and joined to incidents like any other). `continuous`
//! rules must read one table without joins or unions, as in MDE. The rule's automatic
//! actions are then carried out on the new alerts' devices as the automation level says
//! (`crate::automation`).

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Map, Value};
use tokio::sync::watch;
use vigil_kql::types::Type;
use vigil_state::{schedule_period_ms, CustomDetection, NewHit};

use crate::alert_tables::AlertTables;
use crate::automation;
use crate::hunt::{self, HuntLimits};
use crate::{now_ms, Ctx};

/// Alerts one run may raise.
pub const MAX_ALERTS_PER_RUN: usize = 100;
/// What a `continuous` run reads back (it runs every minute).
const CONTINUOUS_LOOKBACK_MS: i64 = 5 * 60_000;
/// Result rows one run reads.
const MAX_ROWS_PER_RUN: usize = 10_000;

/// Why a rule's query cannot drive alerts, if it cannot: checked when the rule is saved.
pub async fn check_query(
    store: &vigil_store::Store,
    query: &str,
    schedule: &str,
    now_ns: i64,
) -> Result<(), String> {
    let limits = HuntLimits::default();
    let compiled = hunt::plan(store, query, now_ns, &limits)
        .await
        .map_err(|e| match e {
            hunt::HuntError::Invalid(diags) => diags
                .iter()
                .map(|d| d.render(query))
                .collect::<Vec<_>>()
                .join("\n"),
            other => other.to_string(),
        })?;
    let has = |name: &str, ty: Option<Type>| {
        compiled
            .fields
            .iter()
            .any(|f| f.name == name && ty.is_none_or(|t| f.ty == t))
    };
    let mut missing = Vec::new();
    if !has("Timestamp", Some(Type::DateTime)) {
        missing.push("Timestamp (datetime)");
    }
    if !has("ReportId", None) {
        missing.push("ReportId");
    }
    if !has("DeviceId", Some(Type::String)) {
        missing.push("DeviceId");
    }
    if !missing.is_empty() {
        return Err(format!(
            "a custom detection's query must return {}: add them to its project",
            missing.join(", ")
        ));
    }
    if schedule == "continuous" && (compiled.tables.len() != 1 || compiled.joins) {
        return Err(
            "a continuous (near real time) rule must read one table, without join, lookup or union"
                .into(),
        );
    }
    Ok(())
}

/// Run due rules until `stop`.
pub async fn runner(ctx: Arc<Ctx>, mut stop: watch::Receiver<bool>) {
    let mut tables = AlertTables::new(ctx.store.clone(), "custom");
    loop {
        match ctx.state.due_custom_detections(now_ms()).await {
            Ok(due) => {
                for rule in due {
                    run_rule(&ctx, &mut tables, &rule).await;
                }
            }
            Err(e) => tracing::error!("cannot list due custom detections: {e}"),
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(30)) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

/// Run one rule now and record the outcome; the number of alerts raised.
pub async fn run_rule(ctx: &Ctx, tables: &mut AlertTables, rule: &CustomDetection) -> usize {
    let now = now_ms();
    let (alerts, error) = match run_inner(ctx, tables, rule, now).await {
        Ok(n) => (n, None),
        Err(e) => {
            tracing::warn!(rule = %rule.rule.name, "custom detection failed: {e}");
            (0, Some(e))
        }
    };
    let next = now + schedule_period_ms(&rule.rule.schedule);
    if let Err(e) = ctx
        .state
        .finish_custom_run(&rule.id, error.as_deref(), alerts as i64, now, next)
        .await
    {
        tracing::error!(rule = %rule.rule.name, "cannot record the run: {e}");
    }
    alerts
}

async fn run_inner(
    ctx: &Ctx,
    tables: &mut AlertTables,
    rule: &CustomDetection,
    now: i64,
) -> Result<usize, String> {
    let lookback_ms = if rule.rule.schedule == "continuous" {
        CONTINUOUS_LOOKBACK_MS
    } else {
        rule.lookback_ms
    };
    let limits = HuntLimits {
        max_rows: MAX_ROWS_PER_RUN,
        timeout: Duration::from_secs(600),
        lookback: Some(Duration::from_millis(lookback_ms as u64)),
    };
    let result = hunt::hunt(
        &ctx.store,
        &rule.rule.query,
        now.saturating_mul(1_000_000),
        &limits,
    )
    .await
    .map_err(|e| e.to_string())?;
    let rows = vigil_store::batches_to_json_rows(&result.batches);
    let key = |r: &Map<String, Value>| {
        format!(
            "{}/{}/{}",
            cell(r, "DeviceId"),
            cell(r, "ReportId"),
            cell(r, "Timestamp")
        )
    };
    let keys: Vec<String> = rows.iter().map(key).collect();
    let fresh = ctx
        .state
        .new_custom_hits(&rule.id, &keys, MAX_ALERTS_PER_RUN, now)
        .await
        .map_err(|e| e.to_string())?;
    let fresh: std::collections::HashSet<&String> = fresh.iter().collect();
    let (hit_rows, hits): (Vec<&Map<String, Value>>, Vec<NewHit>) = rows
        .iter()
        .zip(&keys)
        .filter(|(_, k)| fresh.contains(k))
        .map(|(r, k)| (r, hit(rule, r, k)))
        .unzip();
    if hits.is_empty() {
        return Ok(0);
    }
    let recorded = ctx
        .state
        .record_hits(&hits, 0, now)
        .await
        .map_err(|e| e.to_string())?;
    let created: Vec<(&str, &NewHit, &Map<String, Value>)> = recorded
        .iter()
        .zip(hits.iter().zip(&hit_rows))
        .filter(|(r, _)| r.created)
        .filter_map(|(r, (h, row))| Some((r.alert_id.as_deref()?, h, *row)))
        .collect();
    tables.record_in_async(&created.iter().map(|(a, h, _)| (*a, *h)).collect::<Vec<_>>());
    let raised: Vec<automation::Raised> = created
        .iter()
        .map(|(alert_id, h, row)| automation::Raised {
            alert_id,
            device_id: &h.device_id,
            row,
        })
        .collect();
    automation::respond(ctx, &rule.rule.name, &rule.rule.actions, &raised).await;
    Ok(created.len())
}

fn cell(r: &Map<String, Value>, name: &str) -> String {
    match r.get(name) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(v) => v.to_string(),
    }
}

/// The alert hit of one result row.
fn hit(rule: &CustomDetection, r: &Map<String, Value>, key: &str) -> NewHit {
    let at_ms = r
        .get("Timestamp")
        .and_then(Value::as_str)
        .and_then(vigil_kql::parse_datetime)
        .map_or(0, |ns| ns.div_euclid(1_000_000));
    NewHit {
        group_key: format!("custom:{}\u{1f}{key}", rule.id),
        rule_id: format!("custom:{}", rule.id),
        title: rule.rule.title.clone(),
        severity: rule.rule.severity.clone(),
        category: rule.rule.category.clone(),
        techniques: rule.rule.techniques.clone(),
        detection_source: "CustomDetection".into(),
        device_id: cell(r, "DeviceId"),
        at_ms,
        count: 1,
        last_ms: at_ms,
        evidence_json: evidence(r).to_string(),
    }
}

/// Evidence entities from the MDE columns a result row has.
fn evidence(r: &Map<String, Value>) -> Value {
    let t = |c: &str| Some(cell(r, c)).filter(|s| !s.is_empty());
    let n = |c: &str| r.get(c).and_then(Value::as_i64);
    let mut out = vec![json!({
        "entity": "Device", "role": "Impacted",
        "DeviceId": cell(r, "DeviceId"), "DeviceName": t("DeviceName"),
    })];
    if t("ProcessCommandLine").is_some() {
        out.push(json!({ "entity": "Process", "role": "Related", "FileName": t("FileName"), "FolderPath": t("FolderPath"), "ProcessCommandLine": t("ProcessCommandLine"), "ProcessId": n("ProcessId"), "SHA256": t("SHA256") }));
    } else if t("FolderPath").is_some() || t("SHA256").is_some() {
        out.push(json!({ "entity": "File", "role": "Impacted", "FileName": t("FileName"), "FolderPath": t("FolderPath"), "SHA256": t("SHA256") }));
    }
    if t("InitiatingProcessFileName").is_some() {
        out.push(json!({ "entity": "Process", "role": "Actor", "FileName": t("InitiatingProcessFileName"), "FolderPath": t("InitiatingProcessFolderPath"), "ProcessCommandLine": t("InitiatingProcessCommandLine"), "ProcessId": n("InitiatingProcessId") }));
    }
    if let Some(ip) = t("RemoteIP") {
        out.push(
            json!({ "entity": "Ip", "role": "Related", "Address": ip, "Port": n("RemotePort") }),
        );
    }
    if let Some(url) = t("RemoteUrl") {
        out.push(json!({ "entity": "Url", "role": "Related", "Url": url }));
    }
    if let Some(user) = t("AccountName").or_else(|| t("InitiatingProcessAccountName")) {
        out.push(json!({ "entity": "User", "role": "Related", "AccountName": user }));
    }
    Value::Array(out)
}
