//! Alerts raised by detection rules.
//!
//! A rule firing on a device is a *hit*. Hits of the same group (rule + device + key entity,
//! the caller's `group_key`) within `window_ms` of the alert's last activity, while the alert
//! is not resolved, update that alert (last activity, hit count, evidence kept from the first
//! hit); otherwise a new alert starts. Lifecycle fields (status, classification, assignee) are
//! set by analysts later.

use sqlx::sqlite::SqliteRow;
use sqlx::Row;

use crate::secret::new_id;
use crate::{StateError, StateStore};

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
}

const COLUMNS: &str = "id, rule_id, title, severity, category, techniques, detection_source, \
    device_id, first_ms, last_ms, hits, evidence, status, classification, determination, \
    assignee, created_ms, updated_ms";

impl StateStore {
    /// Record a hit: extend the open alert of its group within `window_ms`, or start one.
    /// Returns the alert and whether it is new.
    pub async fn record_hit(
        &self,
        hit: &NewHit,
        window_ms: i64,
        now_ms: i64,
    ) -> Result<(Alert, bool), StateError> {
        let mut out = self
            .record_hits(std::slice::from_ref(hit), window_ms, now_ms)
            .await?;
        let (id, created) = out.pop().ok_or_else(|| StateError::NotFound {
            what: "alert",
            id: hit.group_key.clone(),
        })?;
        Ok((self.alert(&id).await?, created))
    }

    /// Record hits in one transaction; returns (alert id, created) per hit, in order.
    pub async fn record_hits(
        &self,
        hits: &[NewHit],
        window_ms: i64,
        now_ms: i64,
    ) -> Result<Vec<(String, bool)>, StateError> {
        let db = StateError::db("record alerts");
        let mut tx = self.pool.begin().await.map_err(db)?;
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
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM alerts WHERE last_ms >= $1 ORDER BY last_ms DESC, id"
        ))
        .bind(since_ms)
        .fetch_all(&self.pool)
        .await
        .map_err(StateError::db("list alerts"))?;
        rows.iter().map(from_row).collect()
    }
}

/// One hit inside a transaction: extend the open alert of its group or insert one.
async fn record_one(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    hit: &NewHit,
    window_ms: i64,
    now_ms: i64,
) -> Result<(String, bool), StateError> {
    let open: Option<String> = sqlx::query(
        "SELECT id FROM alerts WHERE group_key = $1 AND status <> 'Resolved' \
         AND last_ms >= $2 ORDER BY last_ms DESC LIMIT 1",
    )
    .bind(&hit.group_key)
    .bind(hit.at_ms.saturating_sub(window_ms))
    .fetch_optional(&mut **tx)
    .await
    .map_err(StateError::db("find the open alert of a group"))?
    .map(|r| r.get("id"));
    let (id, created) = match open {
        Some(id) => {
            sqlx::query(
                "UPDATE alerts SET hits = hits + $5, last_ms = MAX(last_ms, $2), \
                 first_ms = MIN(first_ms, $4), updated_ms = $3 WHERE id = $1",
            )
            .bind(&id)
            .bind(hit.last_ms.max(hit.at_ms))
            .bind(now_ms)
            .bind(hit.at_ms)
            .bind(hit.count.max(1))
            .execute(&mut **tx)
            .await
            .map_err(StateError::db("update an alert"))?;
            (id, false)
        }
        None => {
            let id = new_id("al_");
            let techniques = serde_json::to_string(&hit.techniques).unwrap_or_default();
            sqlx::query(
                "INSERT INTO alerts (id, group_key, rule_id, title, severity, category, \
                 techniques, detection_source, device_id, first_ms, last_ms, hits, evidence, \
                 created_ms, updated_ms) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $13, $14, $11, $12, $12)",
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
            .bind(hit.last_ms.max(hit.at_ms))
            .bind(hit.count.max(1))
            .execute(&mut **tx)
            .await
            .map_err(StateError::db("insert an alert"))?;
            (id, true)
        }
    };
    Ok((id, created))
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
        })
    };
    get().map_err(StateError::db("read an alert"))
}
