//! Incidents: alerts that share entities, grouped as one story.
//!
//! When `record_hits` creates an alert (not one a suppression resolved), the alert joins an
//! open (not Resolved) incident whose activity is within [`INCIDENT_WINDOW_MS`] of the alert's
//! and which shares an entity with it; otherwise a new incident starts. Entities
//! (`incident_entities`, indexed by kind and value): the device, the user (AccountName; the
//! shared accounts `root` and `nobody` are left out, or they would chain a whole fleet), the
//! file hash (SHA256), the remote IP, and the process tree (device + ProcessId of the process
//! and of its parent, so a process and its children, or siblings, connect). When an alert's
//! entities lead to several open incidents, it joins the one with the most recent activity;
//! incidents are not merged.
//!
//! An incident's severity is the highest of its alerts', its tactics and techniques the union
//! of theirs, its title the alert's title while it has one alert and then built from the
//! tactics and devices ("Execution and persistence on web-1"). Resolving an incident resolves
//! its alerts; classification, determination and assignee given with it apply to its alerts
//! too. Resolving the last open alert of an incident resolves the incident; reopening an alert
//! reopens its incident.

use serde_json::Value;
use sqlx::sqlite::SqliteRow;
use sqlx::Row;

use crate::alerts::AlertFilter;
use crate::lifecycle::{self, AuditEntry, Comment, LifecycleUpdate, Subject};
use crate::secret::new_id;
use crate::{Alert, NewHit, StateError, StateStore};

/// An alert joins an open incident whose activity is within this window (24 h).
pub const INCIDENT_WINDOW_MS: i64 = 24 * 3_600_000;
/// Accounts too shared to connect alerts.
const SHARED_ACCOUNTS: &[&str] = &["root", "nobody"];

type Tx<'c> = sqlx::Transaction<'c, sqlx::Sqlite>;

/// An incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incident {
    /// `in_` + 16 hex digits.
    pub id: String,
    pub title: String,
    /// The highest severity of its alerts.
    pub severity: String,
    pub status: String,
    pub classification: Option<String>,
    pub determination: Option<String>,
    pub assignee: Option<String>,
    pub first_activity_ms: i64,
    pub last_activity_ms: i64,
    pub alert_count: i64,
    /// Device ids, in the order they joined.
    pub devices: Vec<String>,
    /// ATT&CK tactics (the alerts' categories) and techniques, in the order they joined.
    pub tactics: Vec<String>,
    pub techniques: Vec<String>,
    pub created_ms: i64,
    pub updated_ms: i64,
}

/// Which incidents to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IncidentFilter {
    /// Activity at or after this time, unix milliseconds.
    pub since_ms: i64,
    /// `New`, `InProgress` or `Resolved` (any spelling the lifecycle accepts).
    pub status: Option<String>,
}

/// The rank of a severity (unknown ones lowest).
pub(crate) fn severity_rank(s: &str) -> u8 {
    match s {
        "High" => 4,
        "Medium" => 3,
        "Low" => 2,
        "Informational" => 1,
        _ => 0,
    }
}

/// The entities of an alert that connect it to incidents, as (kind, value).
pub fn incident_entities(device_id: &str, evidence: &Value) -> Vec<(&'static str, String)> {
    let mut out = vec![("device", device_id.to_string())];
    let mut add = |kind: &'static str, v: String| {
        if !out.iter().any(|(k, x)| *k == kind && *x == v) {
            out.push((kind, v));
        }
    };
    for e in evidence.as_array().map(Vec::as_slice).unwrap_or(&[]) {
        let s = |k: &str| e.get(k).and_then(Value::as_str).filter(|v| !v.is_empty());
        match e["entity"].as_str() {
            Some("User") => {
                if let Some(u) = s("AccountName").filter(|u| !SHARED_ACCOUNTS.contains(u)) {
                    add("user", u.to_string());
                }
            }
            Some("Ip") => {
                if let Some(ip) = s("Address") {
                    add("ip", ip.to_string());
                }
            }
            Some("Process") | Some("File") => {
                if let Some(h) = s("SHA256") {
                    add("sha256", h.to_ascii_lowercase());
                }
                if let Some(pid) = e.get("ProcessId").and_then(Value::as_i64) {
                    add("process", format!("{device_id}/{pid}"));
                }
            }
            _ => {}
        }
    }
    out
}

/// "CommandAndControl" → "command and control".
fn tactic_words(t: &str) -> String {
    let mut out = String::new();
    for (i, c) in t.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push(' ');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// The title of an incident of several alerts.
fn incident_title(tactics: &[String], devices: &[String], device_name: &str) -> String {
    let words: Vec<String> = tactics
        .iter()
        .filter(|t| t.as_str() != "Unknown")
        .map(|t| tactic_words(t))
        .collect();
    let what = match words.len() {
        0 => "Multiple alerts".to_string(),
        1..=3 => {
            let mut s = match words.split_last() {
                Some((last, [])) => last.clone(),
                Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
                None => String::new(),
            };
            if let Some(f) = s.get(..1) {
                s = f.to_ascii_uppercase() + &s[1..];
            }
            s
        }
        _ => "Multi-stage incident".to_string(),
    };
    let on = if devices.len() == 1 {
        device_name.to_string()
    } else {
        format!("{} devices", devices.len())
    };
    format!("{what} on {on}")
}

fn union(into: &mut Vec<String>, items: impl IntoIterator<Item = String>) {
    for i in items {
        if !into.contains(&i) {
            into.push(i);
        }
    }
}

fn json_list(s: &str) -> Vec<String> {
    serde_json::from_str(s).unwrap_or_default()
}

fn json_text(v: &[String]) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "[]".into())
}

const COLUMNS: &str = "id, title, severity, status, classification, determination, assignee, \
    first_ms, last_ms, alert_count, devices, tactics, techniques, created_ms, updated_ms";

/// Put the new alert `alert_id` (from `hit`) into an incident; returns the incident id.
pub(crate) async fn attach(
    tx: &mut Tx<'_>,
    alert_id: &str,
    hit: &NewHit,
    evidence: &Value,
    now_ms: i64,
) -> Result<String, StateError> {
    let entities = incident_entities(&hit.device_id, evidence);
    let last = hit.last_ms.max(hit.at_ms);
    let mut best: Option<(String, i64)> = None;
    for (kind, value) in &entities {
        let row = sqlx::query(
            "SELECT i.id, i.last_ms FROM incident_entities e JOIN incidents i \
             ON i.id = e.incident_id WHERE e.kind = $1 AND e.value = $2 AND e.last_ms >= $3 \
             AND i.status <> 'Resolved' AND i.first_ms <= $4 ORDER BY e.last_ms DESC LIMIT 1",
        )
        .bind(kind)
        .bind(value)
        .bind(hit.at_ms.saturating_sub(INCIDENT_WINDOW_MS))
        .bind(last.saturating_add(INCIDENT_WINDOW_MS))
        .fetch_optional(&mut **tx)
        .await
        .map_err(StateError::db("look up incidents by entity"))?;
        if let Some(r) = row {
            let (id, at): (String, i64) = (r.get("id"), r.get("last_ms"));
            if best.as_ref().is_none_or(|(_, b)| at > *b) {
                best = Some((id, at));
            }
        }
    }
    let mut device_name = evidence
        .as_array()
        .and_then(|a| a.iter().find(|e| e["entity"] == "Device"))
        .and_then(|e| e["DeviceName"].as_str())
        .filter(|n| !n.is_empty())
        .map(str::to_string);
    if device_name.is_none() {
        device_name = sqlx::query_scalar("SELECT name FROM devices WHERE id = $1")
            .bind(&hit.device_id)
            .fetch_optional(&mut **tx)
            .await
            .map_err(StateError::db("read a device's name"))?;
    }
    let device_name = device_name.unwrap_or_else(|| hit.device_id.clone());
    let id = match best {
        Some((id, _)) => {
            let inc = read(&mut **tx, &id).await?;
            let mut devices = inc.devices.clone();
            union(&mut devices, [hit.device_id.clone()]);
            let mut tactics = inc.tactics.clone();
            union(&mut tactics, [hit.category.clone()]);
            let mut techniques = inc.techniques.clone();
            union(&mut techniques, hit.techniques.iter().cloned());
            let severity = if severity_rank(&hit.severity) > severity_rank(&inc.severity) {
                hit.severity.clone()
            } else {
                inc.severity.clone()
            };
            // One device after the union: this hit's.
            let title = incident_title(&tactics, &devices, &device_name);
            sqlx::query(
                "UPDATE incidents SET title = $2, severity = $3, alert_count = alert_count + 1, \
                 first_ms = CASE WHEN first_ms > $4 THEN $4 ELSE first_ms END, \
                 last_ms = CASE WHEN last_ms < $5 THEN $5 ELSE last_ms END, \
                 devices = $6, tactics = $7, techniques = $8, updated_ms = $9 WHERE id = $1",
            )
            .bind(&id)
            .bind(&title)
            .bind(&severity)
            .bind(hit.at_ms)
            .bind(last)
            .bind(json_text(&devices))
            .bind(json_text(&tactics))
            .bind(json_text(&techniques))
            .bind(now_ms)
            .execute(&mut **tx)
            .await
            .map_err(StateError::db("add an alert to an incident"))?;
            id
        }
        None => {
            let id = new_id("in_");
            sqlx::query(&format!(
                "INSERT INTO incidents ({COLUMNS}) VALUES \
                 ($1, $2, $3, 'New', NULL, NULL, NULL, $4, $5, 1, $6, $7, $8, $9, $9)"
            ))
            .bind(&id)
            .bind(&hit.title)
            .bind(&hit.severity)
            .bind(hit.at_ms)
            .bind(last)
            .bind(json_text(std::slice::from_ref(&hit.device_id)))
            .bind(json_text(std::slice::from_ref(&hit.category)))
            .bind(json_text(&hit.techniques))
            .bind(now_ms)
            .execute(&mut **tx)
            .await
            .map_err(StateError::db("create an incident"))?;
            id
        }
    };
    for (kind, value) in &entities {
        sqlx::query(
            "INSERT INTO incident_entities (incident_id, kind, value, last_ms) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (incident_id, kind, value) DO NOTHING",
        )
        .bind(&id)
        .bind(kind)
        .bind(value)
        .bind(last)
        .execute(&mut **tx)
        .await
        .map_err(StateError::db("record an incident entity"))?;
    }
    touch(tx, &id, last, now_ms).await?;
    sqlx::query("UPDATE alerts SET incident_id = $2 WHERE id = $1")
        .bind(alert_id)
        .bind(&id)
        .execute(&mut **tx)
        .await
        .map_err(StateError::db("link an alert to its incident"))?;
    Ok(id)
}

/// Activity at `last_ms` in incident `id`: its last activity and its entities' follow.
pub(crate) async fn touch(
    tx: &mut Tx<'_>,
    id: &str,
    last_ms: i64,
    now_ms: i64,
) -> Result<(), StateError> {
    let last: i64 = sqlx::query_scalar(
        "UPDATE incidents SET last_ms = CASE WHEN last_ms < $2 THEN $2 ELSE last_ms END, \
         updated_ms = $3 WHERE id = $1 RETURNING last_ms",
    )
    .bind(id)
    .bind(last_ms)
    .bind(now_ms)
    .fetch_one(&mut **tx)
    .await
    .map_err(StateError::db("update an incident's activity"))?;
    sqlx::query("UPDATE incident_entities SET last_ms = $2 WHERE incident_id = $1")
        .bind(id)
        .bind(last)
        .execute(&mut **tx)
        .await
        .map_err(StateError::db("update an incident's entities"))?;
    Ok(())
}

async fn read<'e, E>(ex: E, id: &str) -> Result<Incident, StateError>
where
    E: sqlx::Executor<'e, Database = sqlx::Sqlite>,
{
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM incidents WHERE id = $1"))
        .bind(id)
        .fetch_optional(ex)
        .await
        .map_err(StateError::db("read an incident"))?
        .ok_or_else(|| StateError::NotFound {
            what: "incident",
            id: id.to_string(),
        })?;
    from_row(&row)
}

/// After alert `alert_id` moved to `status`: resolve its incident when no alert of it is
/// open any more, reopen it when the alert was reopened.
pub(crate) async fn follow_alert(
    tx: &mut Tx<'_>,
    alert_id: &str,
    status: &str,
    actor: &str,
    now_ms: i64,
) -> Result<(), StateError> {
    let incident: Option<String> =
        sqlx::query_scalar("SELECT incident_id FROM alerts WHERE id = $1")
            .bind(alert_id)
            .fetch_optional(&mut **tx)
            .await
            .map_err(StateError::db("read an alert's incident"))?
            .flatten();
    let Some(incident) = incident else {
        return Ok(());
    };
    let inc_status = lifecycle::current(tx, Subject::Incident, &incident)
        .await?
        .status;
    let to = if status == "Resolved" {
        let open: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM alerts WHERE incident_id = $1 AND status <> 'Resolved'",
        )
        .bind(&incident)
        .fetch_one(&mut **tx)
        .await
        .map_err(StateError::db("count an incident's open alerts"))?;
        (open == 0 && inc_status != "Resolved").then_some("Resolved")
    } else {
        (inc_status == "Resolved").then_some(status)
    };
    if let Some(to) = to {
        let u = LifecycleUpdate {
            status: Some(to.to_string()),
            ..Default::default()
        };
        lifecycle::apply(tx, Subject::Incident, &incident, &u, actor, now_ms).await?;
    }
    Ok(())
}

impl StateStore {
    /// One incident.
    pub async fn incident(&self, id: &str) -> Result<Incident, StateError> {
        read(&self.pool, id).await
    }

    /// Incidents with activity at or after `f.since_ms` (and of `f.status`), most recent
    /// activity first.
    pub async fn list_incidents(&self, f: &IncidentFilter) -> Result<Vec<Incident>, StateError> {
        let status = f
            .status
            .as_deref()
            .map(|s| lifecycle::canonical("status", s, lifecycle::STATUSES))
            .transpose()?;
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM incidents WHERE last_ms >= $1 AND ($2 IS NULL OR status = $2) \
             ORDER BY last_ms DESC, id"
        ))
        .bind(f.since_ms)
        .bind(status)
        .fetch_all(&self.pool)
        .await
        .map_err(StateError::db("list incidents"))?;
        rows.iter().map(from_row).collect()
    }

    /// The alerts of an incident, most recent activity first.
    pub async fn incident_alerts(&self, id: &str) -> Result<Vec<Alert>, StateError> {
        self.list_alerts_filtered(&AlertFilter {
            incident_id: Some(id.to_string()),
            ..Default::default()
        })
        .await
    }

    /// The entities of an incident, as (kind, value).
    pub async fn incident_entity_list(
        &self,
        id: &str,
    ) -> Result<Vec<(String, String)>, StateError> {
        let rows = sqlx::query(
            "SELECT kind, value FROM incident_entities WHERE incident_id = $1 ORDER BY kind, value",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await
        .map_err(StateError::db("read an incident's entities"))?;
        Ok(rows
            .iter()
            .map(|r| (r.get("kind"), r.get("value")))
            .collect())
    }

    /// Change an incident's lifecycle fields (and add a comment), as `actor`. Resolving it
    /// resolves its alerts; classification, determination and assignee given here apply to
    /// its alerts too. Audited; a refused update changes nothing.
    pub async fn update_incident(
        &self,
        id: &str,
        u: &LifecycleUpdate,
        actor: &str,
        now_ms: i64,
    ) -> Result<Incident, StateError> {
        let mut tx = StateStore::begin_write(&self.pool)
            .await
            .map_err(StateError::db("update an incident"))?;
        let (_, after) = lifecycle::apply(&mut tx, Subject::Incident, id, u, actor, now_ms).await?;
        let classify = u.classification.is_some() || u.determination.is_some();
        let cascade = LifecycleUpdate {
            status: (after.status == "Resolved" && u.status.is_some())
                .then(|| "Resolved".to_string()),
            classification: classify.then(|| after.classification.clone()),
            determination: classify.then(|| after.determination.clone()),
            assignee: u.assignee.as_ref().map(|_| after.assignee.clone()),
            comment: None,
        };
        if !cascade.is_empty() {
            let alerts: Vec<String> =
                sqlx::query_scalar("SELECT id FROM alerts WHERE incident_id = $1 ORDER BY id")
                    .bind(id)
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(StateError::db("read an incident's alerts"))?;
            for a in alerts {
                lifecycle::apply(&mut tx, Subject::Alert, &a, &cascade, actor, now_ms).await?;
            }
        }
        tx.commit()
            .await
            .map_err(StateError::db("update an incident"))?;
        self.incident(id).await
    }

    /// Add a comment to an incident, as `author`.
    pub async fn comment_incident(
        &self,
        id: &str,
        author: &str,
        text: &str,
        now_ms: i64,
    ) -> Result<Comment, StateError> {
        lifecycle::comment(&self.pool, Subject::Incident, id, author, text, now_ms).await
    }

    /// The comments on an incident, oldest first.
    pub async fn incident_comments(&self, id: &str) -> Result<Vec<Comment>, StateError> {
        lifecycle::comments(&self.pool, Subject::Incident, id).await
    }

    /// The changes made to an incident, oldest first.
    pub async fn incident_history(&self, id: &str) -> Result<Vec<AuditEntry>, StateError> {
        lifecycle::history(&self.pool, Subject::Incident, id).await
    }
}

fn from_row(row: &SqliteRow) -> Result<Incident, StateError> {
    let get = || -> Result<_, sqlx::Error> {
        Ok(Incident {
            id: row.try_get("id")?,
            title: row.try_get("title")?,
            severity: row.try_get("severity")?,
            status: row.try_get("status")?,
            classification: row.try_get("classification")?,
            determination: row.try_get("determination")?,
            assignee: row.try_get("assignee")?,
            first_activity_ms: row.try_get("first_ms")?,
            last_activity_ms: row.try_get("last_ms")?,
            alert_count: row.try_get("alert_count")?,
            devices: json_list(&row.try_get::<String, _>("devices")?),
            tactics: json_list(&row.try_get::<String, _>("tactics")?),
            techniques: json_list(&row.try_get::<String, _>("techniques")?),
            created_ms: row.try_get("created_ms")?,
            updated_ms: row.try_get("updated_ms")?,
        })
    };
    get().map_err(StateError::db("read an incident"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn titles_name_the_tactics_and_the_device() {
        let t = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            incident_title(&t(&["Execution", "Persistence"]), &t(&["d1"]), "web-1"),
            "Execution and persistence on web-1"
        );
        assert_eq!(
            incident_title(
                &t(&["CommandAndControl", "Execution", "Persistence"]),
                &t(&["d1", "d2"]),
                "web-1"
            ),
            "Command and control, execution and persistence on 2 devices"
        );
        assert_eq!(
            incident_title(&t(&["A", "B", "C", "D"]), &t(&["d1"]), "h"),
            "Multi-stage incident on h"
        );
    }

    #[test]
    fn entities_come_from_the_evidence() {
        let e = json!([
            { "entity": "Device", "DeviceId": "d1" },
            { "entity": "Process", "role": "Related", "ProcessId": 10, "SHA256": "AB" },
            { "entity": "Process", "role": "Parent", "ProcessId": 1 },
            { "entity": "Ip", "Address": "203.0.113.7" },
            { "entity": "User", "AccountName": "root" },
        ]);
        let got = incident_entities("d1", &e);
        assert_eq!(
            got,
            vec![
                ("device", "d1".to_string()),
                ("sha256", "ab".to_string()),
                ("process", "d1/10".to_string()),
                ("process", "d1/1".to_string()),
                ("ip", "203.0.113.7".to_string()),
            ],
            "root is too shared to connect alerts"
        );
    }
}
