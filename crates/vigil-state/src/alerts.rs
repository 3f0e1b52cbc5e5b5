//! Alerts raised by detection rules.
//!
//! A rule firing on a device is a *hit*. Hits of the same group (rule + device + key entity,
//! the caller's `group_key`) within `window_ms` of the alert's last activity, while the alert
//! is not resolved, update that alert (last activity, hit count, evidence kept from the first
//! hit); otherwise a new alert starts, and joins an incident (`incidents.rs`). Suppressions
//! (`suppressions.rs`) apply first, in the same transaction. Lifecycle fields (status,
//! classification, determination, assignee, comments; `lifecycle.rs`) are set by analysts.

use serde_json::Value;
use sqlx::sqlite::SqliteRow;
use sqlx::Row;

use crate::lifecycle::{self, AuditEntry, Comment, LifecycleUpdate, Subject};
use crate::secret::new_id;
use crate::{incidents, suppressions, StateError, StateStore};

/// One rule firing on one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewHit {
    /// Rule + device + key entity: hits with the same key are one alert.
    pub group_key: String,
    pub rule_id: String,
    pub title: String,
    /// `Informational`, `Low`, `Medium`, `High`.
    pub severity: String,
    /// The ATT&CK tactic, e.g. `Execution`.
    pub category: String,
    /// ATT&CK technique ids, e.g. `T1059.004`.
    pub techniques: Vec<String>,
    /// What raised it, e.g. `Sigma` or `Custom detection`.
    pub detection_source: String,
    pub device_id: String,
    /// When the activity happened (the event's timestamp), unix milliseconds.
    pub at_ms: i64,
    /// Hits folded into this one (the same group seen several times in one batch), and the
    /// last of their times.
    pub count: i64,
    pub last_ms: i64,
    /// Evidence entities as JSON (an array of `{entity, role, ...}` objects).
    pub evidence_json: String,
}

/// An alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    /// `al_` + 16 hex digits.
    pub id: String,
    pub rule_id: String,
    pub title: String,
    pub severity: String,
    pub category: String,
    pub techniques: Vec<String>,
    pub detection_source: String,
    pub device_id: String,
    pub first_activity_ms: i64,
    pub last_activity_ms: i64,
    /// Hits grouped into this alert.
    pub hits: i64,
    /// Evidence entities as JSON.
    pub evidence_json: String,
    /// `New`, `InProgress` or `Resolved`.
    pub status: String,
    pub classification: Option<String>,
    pub determination: Option<String>,
    pub assignee: Option<String>,
    pub created_ms: i64,
    pub updated_ms: i64,
    /// The incident it belongs to (none for alerts a suppression resolved).
    pub incident_id: Option<String>,
    /// The suppression that resolved it when it was recorded.
    pub suppressed_by: Option<String>,
}

/// What [`StateStore::record_hits`] did with one hit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    /// The alert the hit started or extended; `None` when a `hide` suppression applied.
    pub alert_id: Option<String>,
    /// Whether the alert is new.
    pub created: bool,
    /// The suppression that applied, if any.
    pub suppressed_by: Option<String>,
    /// The incident of the alert, if any.
    pub incident_id: Option<String>,
}

/// MDE's alert severities, lowest first.
pub const SEVERITIES: &[&str] = &["Informational", "Low", "Medium", "High"];

/// Which alerts to list; every field narrows the list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlertFilter {
    /// Activity at or after this time, unix milliseconds.
    pub since_ms: i64,
    /// `New`, `InProgress`, `Resolved` (any spelling the lifecycle accepts).
    pub status: Option<String>,
    /// `Informational`, `Low`, `Medium`, `High` (any case).
    pub severity: Option<String>,
    pub device_id: Option<String>,
    pub incident_id: Option<String>,
}

const COLUMNS: &str = "id, rule_id, title, severity, category, techniques, detection_source, \
    device_id, first_ms, last_ms, hits, evidence, status, classification, determination, \
    assignee, created_ms, updated_ms, incident_id, suppressed_by";

impl StateStore {
    /// Record one hit (see [`StateStore::record_hits`]).
    pub async fn record_hit(
        &self,
        hit: &NewHit,
        window_ms: i64,
        now_ms: i64,
    ) -> Result<Recorded, StateError> {
        let mut out = self
            .record_hits(std::slice::from_ref(hit), window_ms, now_ms)
            .await?;
        out.pop().ok_or_else(|| StateError::NotFound {
            what: "alert",
            id: hit.group_key.clone(),
        })
    }

    /// Record hits in one transaction, in order: apply suppressions, extend the open alert of
    /// each hit's group within `window_ms` or start one, and put new alerts into incidents.
    pub async fn record_hits(
        &self,
        hits: &[NewHit],
        window_ms: i64,
        now_ms: i64,
    ) -> Result<Vec<Recorded>, StateError> {
        let db = StateError::db("record alerts");
        let mut tx = StateStore::begin_write(&self.pool).await.map_err(db)?;
        let mut out = Vec::with_capacity(hits.len());
        for hit in hits {
            out.push(record_one(&mut tx, hit, window_ms, now_ms).await?);
        }
        tx.commit().await.map_err(StateError::db("commit alerts"))?;
        Ok(out)
    }

    /// One alert.
    pub async fn alert(&self, id: &str) -> Result<Alert, StateError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM alerts WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(StateError::db("read an alert"))?
            .ok_or_else(|| StateError::NotFound {
                what: "alert",
                id: id.to_string(),
            })?;
        from_row(&row)
    }

    /// Alerts with activity at or after `since_ms`, most recent activity first.
    pub async fn list_alerts(&self, since_ms: i64) -> Result<Vec<Alert>, StateError> {
        self.list_alerts_filtered(&AlertFilter {
            since_ms,
            ..Default::default()
        })
        .await
    }

    /// Alerts that pass `f`, most recent activity first. A bad status or severity is refused
    /// naming the allowed values.
    pub async fn list_alerts_filtered(&self, f: &AlertFilter) -> Result<Vec<Alert>, StateError> {
        let status = f
            .status
            .as_deref()
            .map(|s| lifecycle::canonical("status", s, lifecycle::STATUSES))
            .transpose()?;
        let severity = f
            .severity
            .as_deref()
            .map(|s| lifecycle::canonical("severity", s, SEVERITIES))
            .transpose()?;
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM alerts WHERE last_ms >= $1 AND ($2 IS NULL OR status = $2) \
             AND ($3 IS NULL OR severity = $3) AND ($4 IS NULL OR device_id = $4) \
             AND ($5 IS NULL OR incident_id = $5) ORDER BY last_ms DESC, id"
        ))
        .bind(f.since_ms)
        .bind(status)
        .bind(severity)
        .bind(&f.device_id)
        .bind(&f.incident_id)
        .fetch_all(&self.pool)
        .await
        .map_err(StateError::db("list alerts"))?;
        rows.iter().map(from_row).collect()
    }

    /// The most recent alerts (at most `limit`) whose evidence mentions `needle` (a hash, an
    /// address, a host name: matched as text, case-insensitively).
    pub async fn alerts_mentioning(
        &self,
        needle: &str,
        limit: u32,
    ) -> Result<Vec<Alert>, StateError> {
        let pattern = format!(
            "%{}%",
            needle
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        );
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM alerts WHERE evidence LIKE $1 ESCAPE '\\' \
             ORDER BY last_ms DESC, id LIMIT $2"
        ))
        .bind(pattern)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(StateError::db("find alerts"))?;
        rows.iter().map(from_row).collect()
    }

    /// Change an alert's lifecycle fields (and add a comment), as `actor`. Audited; a refused
    /// update changes nothing. Resolving the last open alert of an incident resolves it;
    /// reopening an alert of a resolved incident reopens it.
    pub async fn update_alert(
        &self,
        id: &str,
        u: &LifecycleUpdate,
        actor: &str,
        now_ms: i64,
    ) -> Result<Alert, StateError> {
        let mut tx = StateStore::begin_write(&self.pool)
            .await
            .map_err(StateError::db("update an alert"))?;
        let (before, after) =
            lifecycle::apply(&mut tx, Subject::Alert, id, u, actor, now_ms).await?;
        if before.status != after.status {
            incidents::follow_alert(&mut tx, id, &after.status, actor, now_ms).await?;
        }
        tx.commit()
            .await
            .map_err(StateError::db("update an alert"))?;
        self.alert(id).await
    }

    /// Add a comment to an alert, as `author`.
    pub async fn comment_alert(
        &self,
        id: &str,
        author: &str,
        text: &str,
        now_ms: i64,
    ) -> Result<Comment, StateError> {
        lifecycle::comment(&self.pool, Subject::Alert, id, author, text, now_ms).await
    }

    /// The comments on an alert, oldest first.
    pub async fn alert_comments(&self, id: &str) -> Result<Vec<Comment>, StateError> {
        lifecycle::comments(&self.pool, Subject::Alert, id).await
    }

    /// The changes made to an alert, oldest first.
    pub async fn alert_history(&self, id: &str) -> Result<Vec<AuditEntry>, StateError> {
        lifecycle::history(&self.pool, Subject::Alert, id).await
    }
}

/// One hit inside a transaction: apply suppressions, then extend the open alert of its group
/// or insert one (and put it into an incident).
async fn record_one(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    hit: &NewHit,
    window_ms: i64,
    now_ms: i64,
) -> Result<Recorded, StateError> {
    let evidence: Value = serde_json::from_str(&hit.evidence_json).unwrap_or(Value::Null);
    let suppression = suppressions::matching(tx, hit, &evidence, now_ms).await?;
    if let Some(s) = &suppression {
        suppressions::count_hits(tx, &s.id, hit.count, now_ms).await?;
        if s.action == "hide" {
            return Ok(Recorded {
                alert_id: None,
                created: false,
                suppressed_by: Some(s.id.clone()),
                incident_id: None,
            });
        }
    }
    let suppressed_by = suppression.map(|s| s.id);
    let since = hit.at_ms.saturating_sub(window_ms);
    // Hits a suppression resolves extend the resolved alert of their group, so that they do
    // not pile up as one resolved alert per batch.
    let open = match &suppressed_by {
        None => sqlx::query(
            "SELECT id, incident_id FROM alerts WHERE group_key = $1 AND status <> 'Resolved' \
             AND last_ms >= $2 ORDER BY last_ms DESC LIMIT 1",
        )
        .bind(&hit.group_key)
        .bind(since),
        Some(sid) => sqlx::query(
            "SELECT id, incident_id FROM alerts WHERE group_key = $1 AND suppressed_by = $3 \
             AND last_ms >= $2 ORDER BY last_ms DESC LIMIT 1",
        )
        .bind(&hit.group_key)
        .bind(since)
        .bind(sid),
    }
    .fetch_optional(&mut **tx)
    .await
    .map_err(StateError::db("find the open alert of a group"))?
    .map(|r| {
        (
            r.get::<String, _>("id"),
            r.get::<Option<String>, _>("incident_id"),
        )
    });
    let last = hit.last_ms.max(hit.at_ms);
    match open {
        Some((id, incident_id)) => {
            sqlx::query(
                "UPDATE alerts SET hits = hits + $5, \
                 last_ms = CASE WHEN last_ms < $2 THEN $2 ELSE last_ms END, \
                 first_ms = CASE WHEN first_ms > $4 THEN $4 ELSE first_ms END, \
                 updated_ms = $3 WHERE id = $1",
            )
            .bind(&id)
            .bind(last)
            .bind(now_ms)
            .bind(hit.at_ms)
            .bind(hit.count.max(1))
            .execute(&mut **tx)
            .await
            .map_err(StateError::db("update an alert"))?;
            if let Some(inc) = &incident_id {
                incidents::touch(tx, inc, last, now_ms).await?;
            }
            Ok(Recorded {
                alert_id: Some(id),
                created: false,
                suppressed_by,
                incident_id,
            })
        }
        None => {
            let id = new_id("al_");
            let techniques = serde_json::to_string(&hit.techniques).unwrap_or_default();
            let (status, classification) = match suppressed_by {
                Some(_) => ("Resolved", Some("InformationalExpectedActivity")),
                None => ("New", None),
            };
            sqlx::query(
                "INSERT INTO alerts (id, group_key, rule_id, title, severity, category, \
                 techniques, detection_source, device_id, first_ms, last_ms, hits, evidence, \
                 created_ms, updated_ms, status, classification, suppressed_by) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $13, $14, $11, $12, $12, \
                 $15, $16, $17)",
            )
            .bind(&id)
            .bind(&hit.group_key)
            .bind(&hit.rule_id)
            .bind(&hit.title)
            .bind(&hit.severity)
            .bind(&hit.category)
            .bind(techniques)
            .bind(&hit.detection_source)
            .bind(&hit.device_id)
            .bind(hit.at_ms)
            .bind(&hit.evidence_json)
            .bind(now_ms)
            .bind(last)
            .bind(hit.count.max(1))
            .bind(status)
            .bind(classification)
            .bind(&suppressed_by)
            .execute(&mut **tx)
            .await
            .map_err(StateError::db("insert an alert"))?;
            let incident_id = match suppressed_by {
                Some(_) => None,
                None => Some(incidents::attach(tx, &id, hit, &evidence, now_ms).await?),
            };
            Ok(Recorded {
                alert_id: Some(id),
                created: true,
                suppressed_by,
                incident_id,
            })
        }
    }
}

fn from_row(row: &SqliteRow) -> Result<Alert, StateError> {
    let get = || -> Result<_, sqlx::Error> {
        let techniques: String = row.try_get("techniques")?;
        Ok(Alert {
            id: row.try_get("id")?,
            rule_id: row.try_get("rule_id")?,
            title: row.try_get("title")?,
            severity: row.try_get("severity")?,
            category: row.try_get("category")?,
            techniques: serde_json::from_str(&techniques).unwrap_or_default(),
            detection_source: row.try_get("detection_source")?,
            device_id: row.try_get("device_id")?,
            first_activity_ms: row.try_get("first_ms")?,
            last_activity_ms: row.try_get("last_ms")?,
            hits: row.try_get("hits")?,
            evidence_json: row.try_get("evidence")?,
            status: row.try_get("status")?,
            classification: row.try_get("classification")?,
            determination: row.try_get("determination")?,
            assignee: row.try_get("assignee")?,
            created_ms: row.try_get("created_ms")?,
            updated_ms: row.try_get("updated_ms")?,
            incident_id: row.try_get("incident_id")?,
            suppressed_by: row.try_get("suppressed_by")?,
        })
    };
    get().map_err(StateError::db("read an alert"))
}
