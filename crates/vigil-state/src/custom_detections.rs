//! Custom detection rules: a hunting query with a schedule, and what its alerts say.
//!
//! MDE's schedules: `continuous` (near real time, on the rows as they are stored), or every
//! `1h`, `3h`, `12h`, `24h`, reading back `4h`, `12h`, `48h`, `30d`. Each result row is a hit
//! keyed by `hit_key` (device + report id); a key already seen by the rule raises nothing
//! again (`custom_detection_hits`), so overlapping look-backs do not repeat alerts. The
//! automatic actions (`isolate`, `collect_package`, `scan`, `quarantine_file`) are stored with
//! the rule; carrying them out belongs to response actions.

use sqlx::sqlite::SqliteRow;
use sqlx::Row;

use crate::lifecycle::canonical;
use crate::secret::{check_name, new_id};
use crate::{StateError, StateStore, MAX_QUERY_BYTES, SEVERITIES};

/// Schedules and the look-back each reads, in milliseconds (`continuous` reads what arrives).
pub const SCHEDULES: &[(&str, i64)] = &[
    ("continuous", 0),
    ("1h", 4 * 3_600_000),
    ("3h", 12 * 3_600_000),
    ("12h", 48 * 3_600_000),
    ("24h", 30 * 86_400_000),
];

/// Automatic actions a rule may carry.
pub const AUTO_ACTIONS: &[&str] = &["isolate", "collect_package", "scan", "quarantine_file"];

/// How often a schedule runs, in milliseconds (`continuous`: checked every minute).
pub fn schedule_period_ms(schedule: &str) -> i64 {
    match schedule {
        "1h" => 3_600_000,
        "3h" => 3 * 3_600_000,
        "12h" => 12 * 3_600_000,
        "24h" => 86_400_000,
        _ => 60_000,
    }
}

/// A rule as written by an analyst.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCustomDetection {
    pub name: String,
    pub query: String,
    pub schedule: String,
    pub title: String,
    pub description: String,
    pub severity: String,
    /// The ATT&CK tactic, e.g. `Execution`.
    pub category: String,
    pub techniques: Vec<String>,
    pub recommended_actions: String,
    pub actions: Vec<String>,
}

/// A stored rule and its run state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomDetection {
    /// `cd_` + 16 hex digits.
    pub id: String,
    pub rule: NewCustomDetection,
    pub lookback_ms: i64,
    pub enabled: bool,
    pub owner: String,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub last_run_ms: Option<i64>,
    pub next_run_ms: i64,
    /// `ok` or `error` after a run.
    pub last_status: Option<String>,
    pub last_error: Option<String>,
    /// Alerts the last run raised.
    pub last_alerts: i64,
}

const COLUMNS: &str = "id, name, query, schedule, lookback_ms, title, description, severity, \
    category, techniques, recommended_actions, actions, enabled, owner, created_ms, updated_ms, \
    last_run_ms, next_run_ms, last_status, last_error, last_alerts";

fn from_row(r: &SqliteRow) -> CustomDetection {
    let list = |col: &str| -> Vec<String> {
        serde_json::from_str(&r.get::<String, _>(col)).unwrap_or_default()
    };
    CustomDetection {
        id: r.get("id"),
        rule: NewCustomDetection {
            name: r.get("name"),
            query: r.get("query"),
            schedule: r.get("schedule"),
            title: r.get("title"),
            description: r.get("description"),
            severity: r.get("severity"),
            category: r.get("category"),
            techniques: list("techniques"),
            recommended_actions: r.get("recommended_actions"),
            actions: list("actions"),
        },
        lookback_ms: r.get("lookback_ms"),
        enabled: r.get::<i64, _>("enabled") != 0,
        owner: r.get("owner"),
        created_ms: r.get("created_ms"),
        updated_ms: r.get("updated_ms"),
        last_run_ms: r.get("last_run_ms"),
        next_run_ms: r.get("next_run_ms"),
        last_status: r.get("last_status"),
        last_error: r.get("last_error"),
        last_alerts: r.get("last_alerts"),
    }
}

/// Check a rule's fields; the schedule's look-back.
fn validate(rule: &NewCustomDetection) -> Result<(NewCustomDetection, i64), StateError> {
    check_name("custom detection name", &rule.name, true)?;
    check_name("alert title", &rule.title, true)?;
    if rule.query.trim().is_empty() || rule.query.len() > MAX_QUERY_BYTES {
        return Err(StateError::invalid(
            "query",
            &rule.query.chars().take(64).collect::<String>(),
            format!("must be 1 to {MAX_QUERY_BYTES} bytes"),
        ));
    }
    let Some(&(_, lookback)) = SCHEDULES.iter().find(|(s, _)| *s == rule.schedule) else {
        let known: Vec<&str> = SCHEDULES.iter().map(|(s, _)| *s).collect();
        return Err(StateError::invalid(
            "schedule",
            &rule.schedule,
            format!("must be one of {}", known.join(", ")),
        ));
    };
    let severity = canonical("severity", &rule.severity, SEVERITIES)?.to_string();
    for a in &rule.actions {
        if !AUTO_ACTIONS.contains(&a.as_str()) {
            return Err(StateError::invalid(
                "action",
                a,
                format!("must be one of {}", AUTO_ACTIONS.join(", ")),
            ));
        }
    }
    for t in &rule.techniques {
        let ok = t.len() >= 5
            && t.starts_with('T')
            && t[1..]
                .split('.')
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
        if !ok {
            return Err(StateError::invalid(
                "technique",
                t,
                "must be an ATT&CK id such as T1059 or T1059.004",
            ));
        }
    }
    let mut rule = rule.clone();
    rule.severity = severity;
    Ok((rule, lookback))
}

impl StateStore {
    /// Store a new rule (the caller checked that its query compiles and returns the columns
    /// alerts need). It first runs now.
    pub async fn create_custom_detection(
        &self,
        rule: &NewCustomDetection,
        owner: &str,
        now_ms: i64,
    ) -> Result<CustomDetection, StateError> {
        let (rule, lookback_ms) = validate(rule)?;
        let id = new_id("cd_");
        let json = |v: &Vec<String>| serde_json::to_string(v).unwrap_or_else(|_| "[]".into());
        let db = StateError::db("create a custom detection");
        let taken: Option<String> =
            sqlx::query_scalar("SELECT id FROM custom_detections WHERE name = $1")
                .bind(&rule.name)
                .fetch_optional(&self.pool)
                .await
                .map_err(StateError::db("create a custom detection"))?;
        if taken.is_some() {
            return Err(StateError::AlreadyExists {
                what: "custom detection",
                value: rule.name.clone(),
            });
        }
        sqlx::query(&format!(
            "INSERT INTO custom_detections ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, \
             $9, $10, $11, $12, 1, $13, $14, $14, NULL, $14, NULL, NULL, 0)"
        ))
        .bind(&id)
        .bind(&rule.name)
        .bind(&rule.query)
        .bind(&rule.schedule)
        .bind(lookback_ms)
        .bind(&rule.title)
        .bind(&rule.description)
        .bind(&rule.severity)
        .bind(&rule.category)
        .bind(json(&rule.techniques))
        .bind(&rule.recommended_actions)
        .bind(json(&rule.actions))
        .bind(owner)
        .bind(now_ms)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        self.custom_detection(&id).await
    }

    pub async fn custom_detection(&self, id: &str) -> Result<CustomDetection, StateError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM custom_detections WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(StateError::db("read a custom detection"))?;
        row.as_ref()
            .map(from_row)
            .ok_or_else(|| StateError::NotFound {
                what: "custom detection",
                id: id.to_string(),
            })
    }

    pub async fn custom_detections(&self) -> Result<Vec<CustomDetection>, StateError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM custom_detections ORDER BY name, id"
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(StateError::db("list custom detections"))?;
        Ok(rows.iter().map(from_row).collect())
    }

    /// Enabled rules whose next run is due at `now_ms`.
    pub async fn due_custom_detections(
        &self,
        now_ms: i64,
    ) -> Result<Vec<CustomDetection>, StateError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM custom_detections WHERE enabled = 1 AND next_run_ms <= $1 \
             ORDER BY next_run_ms"
        ))
        .bind(now_ms)
        .fetch_all(&self.pool)
        .await
        .map_err(StateError::db("list due custom detections"))?;
        Ok(rows.iter().map(from_row).collect())
    }

    pub async fn set_custom_detection_enabled(
        &self,
        id: &str,
        enabled: bool,
        now_ms: i64,
    ) -> Result<CustomDetection, StateError> {
        let done = sqlx::query(
            "UPDATE custom_detections SET enabled = $1, updated_ms = $2, \
             next_run_ms = CASE WHEN $1 = 1 THEN $2 ELSE next_run_ms END WHERE id = $3",
        )
        .bind(i64::from(enabled))
        .bind(now_ms)
        .bind(id)
        .execute(&self.pool)
        .await
        .map_err(StateError::db("switch a custom detection"))?;
        if done.rows_affected() == 0 {
            return Err(StateError::NotFound {
                what: "custom detection",
                id: id.to_string(),
            });
        }
        self.custom_detection(id).await
    }

    pub async fn delete_custom_detection(&self, id: &str) -> Result<(), StateError> {
        let mut tx = StateStore::begin_write(&self.pool)
            .await
            .map_err(StateError::db("delete a custom detection"))?;
        let done = sqlx::query("DELETE FROM custom_detections WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(StateError::db("delete a custom detection"))?;
        if done.rows_affected() == 0 {
            return Err(StateError::NotFound {
                what: "custom detection",
                id: id.to_string(),
            });
        }
        sqlx::query("DELETE FROM custom_detection_hits WHERE detection_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(StateError::db("delete a custom detection"))?;
        tx.commit()
            .await
            .map_err(StateError::db("delete a custom detection"))?;
        Ok(())
    }

    /// Of `keys` (hits of one run, in order), those the rule has not seen before, at most
    /// `limit`; they are remembered as seen.
    pub async fn new_custom_hits(
        &self,
        id: &str,
        keys: &[String],
        limit: usize,
        now_ms: i64,
    ) -> Result<Vec<String>, StateError> {
        let db = StateError::db("remember custom detection hits");
        let mut tx = StateStore::begin_write(&self.pool).await.map_err(db)?;
        let mut fresh = Vec::new();
        for k in keys {
            if fresh.len() >= limit {
                break;
            }
            let done = sqlx::query(
                "INSERT INTO custom_detection_hits (detection_id, hit_key, at_ms) VALUES ($1, $2, $3) \
                 ON CONFLICT (detection_id, hit_key) DO NOTHING",
            )
            .bind(id)
            .bind(k)
            .bind(now_ms)
            .execute(&mut *tx)
            .await
            .map_err(StateError::db("remember custom detection hits"))?;
            if done.rows_affected() == 1 {
                fresh.push(k.clone());
            }
        }
        tx.commit()
            .await
            .map_err(StateError::db("remember custom detection hits"))?;
        Ok(fresh)
    }

    /// Record the outcome of a run and when the next is due.
    pub async fn finish_custom_run(
        &self,
        id: &str,
        error: Option<&str>,
        alerts: i64,
        now_ms: i64,
        next_run_ms: i64,
    ) -> Result<(), StateError> {
        sqlx::query(
            "UPDATE custom_detections SET last_run_ms = $1, next_run_ms = $2, last_status = $3, \
             last_error = $4, last_alerts = $5 WHERE id = $6",
        )
        .bind(now_ms)
        .bind(next_run_ms)
        .bind(if error.is_some() { "error" } else { "ok" })
        .bind(error)
        .bind(alerts)
        .bind(id)
        .execute(&self.pool)
        .await
        .map_err(StateError::db("record a custom detection run"))?;
        Ok(())
    }
}
