//! Alerts raised by detection rules.
//!
//! A rule firing on a device is a *hit*. Hits of the same group (rule + device + key entity,
//! the caller's `group_key`) within `window_ms` of the alert's last activity, while the alert
//! is not resolved, update that alert (last activity, hit count, evidence kept from the first
//! hit); otherwise a new alert starts, and joins an incident (`incidents.rs`). Suppressions
//! (`suppressions.rs`) apply first, in the same transaction. Lifecycle fields (status,
//! classification, determination, assignee, comments; `lifecycle.rs`) are set by analysts.
//!
//! Listing: [`StateStore::list_alerts_filtered`] answers every alert that passes an
//! [`AlertFilter`]; [`StateStore::alerts_page`] one sorted page of them and their count, for
//! the console's queue (the default order reads the `alerts_last` index). Filters are bound
//! parameters, sort keys come from a fixed list: no caller text reaches the SQL.

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
    /// `New`, `InProgress`, `Resolved` (any spelling the lifecycle accepts); several may be
    /// given separated by commas.
    pub status: Option<String>,
    /// `Informational`, `Low`, `Medium`, `High` (any case); several may be given separated by
    /// commas.
    pub severity: Option<String>,
    pub device_id: Option<String>,
    pub incident_id: Option<String>,
    /// Activity starting at or before this time, unix milliseconds.
    pub until_ms: Option<i64>,
    /// What raised it, e.g. `Sigma`, `CustomTI` (exact).
    pub detection_source: Option<String>,
    /// An ATT&CK technique id; a technique also finds its sub-techniques (`T1059` finds
    /// `T1059.004`).
    pub technique: Option<String>,
    /// Assigned to this user (exact).
    pub assignee: Option<String>,
    /// Text the title contains (any case), or an exact alert id.
    pub text: Option<String>,
    /// Only alerts of these devices (a principal limited to device groups); `None`: every
    /// device.
    pub device_ids: Option<Vec<String>>,
}

/// How a page of alerts is ordered and cut; see [`StateStore::alerts_page`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertOrder {
    /// One of [`ALERT_SORT_KEYS`]; ties fall back to the most recent activity, then the id.
    pub sort: String,
    pub descending: bool,
    /// At most this many alerts (1 to 1,000).
    pub limit: u32,
    pub offset: u64,
}

/// The fields a page of alerts can be sorted by (the API's names).
pub const ALERT_SORT_KEYS: &[&str] = &[
    "LastActivity",
    "FirstActivity",
    "Created",
    "LastUpdated",
    "Severity",
    "Title",
    "Status",
    "DeviceId",
    "DetectionSource",
    "Category",
    "Hits",
];

/// The SQL expression a sort key orders by.
fn sort_expr(key: &str) -> Result<&'static str, StateError> {
    let k = ALERT_SORT_KEYS
        .iter()
        .find(|k| k.eq_ignore_ascii_case(key))
        .ok_or_else(|| {
            StateError::invalid(
                "sort",
                key,
                format!("must be one of {}", ALERT_SORT_KEYS.join(", ")),
            )
        })?;
    Ok(match *k {
        "FirstActivity" => "first_ms",
        "Created" => "created_ms",
        "LastUpdated" => "updated_ms",
        "Severity" => {
            "CASE severity WHEN 'High' THEN 3 WHEN 'Medium' THEN 2 WHEN 'Low' THEN 1 ELSE 0 END"
        }
        "Title" => "title",
        "Status" => "CASE status WHEN 'New' THEN 0 WHEN 'InProgress' THEN 1 ELSE 2 END",
        "DeviceId" => "device_id",
        "DetectionSource" => "detection_source",
        "Category" => "category",
        "Hits" => "hits",
        _ => "last_ms",
    })
}

/// A value bound into a built statement.
enum Bind {
    Text(String),
    Int(i64),
}

/// `LIKE` pattern text with its wildcards escaped (`ESCAPE '\'`).
fn like_escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// The `WHERE` clause of a filter and its values, checked (bad status or severity refused
/// naming the allowed values).
fn filter_sql(f: &AlertFilter) -> Result<(String, Vec<Bind>), StateError> {
    let mut sql = String::from("last_ms >= $1");
    let mut binds = vec![Bind::Int(f.since_ms)];
    let mut push = |sql: &mut String, clause: &str, b: Bind| {
        binds.push(b);
        sql.push_str(&clause.replace("$?", &format!("${}", binds.len())));
    };
    for (what, value, allowed, column) in [
        ("status", &f.status, lifecycle::STATUSES, "status"),
        ("severity", &f.severity, SEVERITIES, "severity"),
    ] {
        let Some(value) = value else { continue };
        let mut any = Vec::new();
        for part in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            any.push(lifecycle::canonical(what, part, allowed)?);
        }
        if any.is_empty() {
            return Err(StateError::invalid(
                what,
                value,
                format!("must be one of {}", allowed.join(", ")),
            ));
        }
        sql.push_str(&format!(" AND {column} IN ("));
        for (i, v) in any.iter().enumerate() {
            if i > 0 {
                sql.push_str(", ");
            }
            push(&mut sql, "$?", Bind::Text((*v).to_string()));
        }
        sql.push(')');
    }
    if let Some(d) = &f.device_id {
        push(&mut sql, " AND device_id = $?", Bind::Text(d.clone()));
    }
    if let Some(ids) = &f.device_ids {
        push(
            &mut sql,
            " AND device_id IN (SELECT value FROM json_each($?))",
            Bind::Text(serde_json::to_string(ids).unwrap_or_else(|_| "[]".into())),
        );
    }
    if let Some(i) = &f.incident_id {
        push(&mut sql, " AND incident_id = $?", Bind::Text(i.clone()));
    }
    if let Some(u) = f.until_ms {
        push(&mut sql, " AND first_ms <= $?", Bind::Int(u));
    }
    if let Some(s) = &f.detection_source {
        push(
            &mut sql,
            " AND detection_source = $?",
            Bind::Text(s.clone()),
        );
    }
    if let Some(t) = &f.technique {
        // Stored as a JSON array of strings: match the start of one element.
        let pattern = format!("%\"{}%", like_escape(t.trim()));
        push(
            &mut sql,
            " AND techniques LIKE $? ESCAPE '\\'",
            Bind::Text(pattern),
        );
    }
    if let Some(a) = &f.assignee {
        push(&mut sql, " AND assignee = $?", Bind::Text(a.clone()));
    }
    if let Some(t) = f.text.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        binds.push(Bind::Text(format!("%{}%", like_escape(t))));
        binds.push(Bind::Text(t.to_string()));
        let n = binds.len();
        sql.push_str(&format!(
            " AND (title LIKE ${} ESCAPE '\\' OR id = ${n})",
            n - 1
        ));
    }
    Ok((sql, binds))
}

fn bind_all<'q>(
    mut q: sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'q>>,
    binds: &'q [Bind],
) -> sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'q>> {
    for b in binds {
        q = match b {
            Bind::Text(t) => q.bind(t.as_str()),
            Bind::Int(i) => q.bind(*i),
        };
    }
    q
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
        let (cond, binds) = filter_sql(f)?;
        let sql = format!("SELECT {COLUMNS} FROM alerts WHERE {cond} ORDER BY last_ms DESC, id");
        let rows = bind_all(sqlx::query(&sql), &binds)
            .fetch_all(&self.pool)
            .await
            .map_err(StateError::db("list alerts"))?;
        rows.iter().map(from_row).collect()
    }

    /// One page of the alerts that pass `f`, in `order`, and how many pass in all. The
    /// default order (most recent activity first) reads the `last_ms` index, so the first
    /// page does not sort the whole table.
    pub async fn alerts_page(
        &self,
        f: &AlertFilter,
        order: &AlertOrder,
    ) -> Result<(Vec<Alert>, u64), StateError> {
        if !(1..=1000).contains(&order.limit) {
            return Err(StateError::invalid(
                "limit",
                &order.limit.to_string(),
                "must be 1 to 1000",
            ));
        }
        let key = sort_expr(&order.sort)?;
        let dir = if order.descending { "DESC" } else { "ASC" };
        let (cond, binds) = filter_sql(f)?;
        let total: i64 = bind_all(
            sqlx::query(&format!("SELECT COUNT(*) AS n FROM alerts WHERE {cond}")),
            &binds,
        )
        .fetch_one(&self.pool)
        .await
        .map_err(StateError::db("count alerts"))?
        .get("n");
        let tie = if key == "last_ms" {
            format!("id {dir}")
        } else {
            "last_ms DESC, id".to_string()
        };
        let sql = format!(
            "SELECT {COLUMNS} FROM alerts WHERE {cond} ORDER BY {key} {dir}, {tie} \
             LIMIT {} OFFSET {}",
            order.limit,
            order.offset.min(i64::MAX as u64)
        );
        let rows = bind_all(sqlx::query(&sql), &binds)
            .fetch_all(&self.pool)
            .await
            .map_err(StateError::db("list alerts"))?;
        let alerts = rows.iter().map(from_row).collect::<Result<Vec<_>, _>>()?;
        Ok((alerts, total.max(0) as u64))
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

    /// The same lifecycle update on many alerts in one transaction: all change or, if one is
    /// refused (unknown id, a transition it cannot make), none does.
    pub async fn update_alerts(
        &self,
        ids: &[String],
        u: &LifecycleUpdate,
        actor: &str,
        now_ms: i64,
    ) -> Result<Vec<Alert>, StateError> {
        let op = "update alerts";
        let mut tx = StateStore::begin_write(&self.pool)
            .await
            .map_err(StateError::db(op))?;
        for id in ids {
            let (before, after) =
                lifecycle::apply(&mut tx, Subject::Alert, id, u, actor, now_ms).await?;
            if before.status != after.status {
                incidents::follow_alert(&mut tx, id, &after.status, actor, now_ms).await?;
            }
        }
        tx.commit().await.map_err(StateError::db(op))?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.push(self.alert(id).await?);
        }
        Ok(out)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(n: i64, severity: &str, device: &str, technique: &str) -> NewHit {
        NewHit {
            group_key: format!("g{n}"),
            rule_id: format!("r{n}"),
            title: format!("Alert number {n}"),
            severity: severity.into(),
            category: "Execution".into(),
            techniques: vec![technique.into()],
            detection_source: if n % 2 == 0 { "Sigma" } else { "CustomTI" }.into(),
            device_id: device.into(),
            at_ms: 1_000 + n,
            count: 1,
            last_ms: 1_000 + n,
            evidence_json: "[]".into(),
        }
    }

    async fn seeded() -> StateStore {
        let s = StateStore::open_memory().await.unwrap();
        let hits: Vec<NewHit> = (0..30)
            .map(|n| {
                let sev = SEVERITIES[(n % 4) as usize];
                let dev = if n < 10 { "d1" } else { "d2" };
                let tech = if n % 3 == 0 { "T1059.004" } else { "T1105" };
                hit(n, sev, dev, tech)
            })
            .collect();
        s.record_hits(&hits, 60_000, 5_000).await.unwrap();
        s
    }

    fn order(sort: &str, descending: bool, limit: u32, offset: u64) -> AlertOrder {
        AlertOrder {
            sort: sort.into(),
            descending,
            limit,
            offset,
        }
    }

    #[tokio::test]
    async fn pages_cover_the_filtered_alerts_once_in_order() {
        let s = seeded().await;
        let f = AlertFilter::default();
        let mut seen = Vec::new();
        for page in 0..4 {
            let (items, total) = s
                .alerts_page(&f, &order("LastActivity", true, 8, page * 8))
                .await
                .unwrap();
            assert_eq!(total, 30);
            seen.extend(items.into_iter().map(|a| a.last_activity_ms));
        }
        let expected: Vec<i64> = (0..30).rev().map(|n| 1_000 + n).collect();
        assert_eq!(seen, expected);
    }

    #[tokio::test]
    async fn filters_narrow_and_count_the_same_set() {
        let s = seeded().await;
        let f = AlertFilter {
            severity: Some("high, medium".into()),
            device_id: Some("d2".into()),
            ..Default::default()
        };
        let (items, total) = s
            .alerts_page(&f, &order("Severity", true, 100, 0))
            .await
            .unwrap();
        assert_eq!(total as usize, items.len());
        assert!(items
            .iter()
            .all(|a| a.device_id == "d2" && (a.severity == "High" || a.severity == "Medium")));
        // Highest severity first.
        let first_medium = items.iter().position(|a| a.severity == "Medium").unwrap();
        assert!(items[..first_medium].iter().all(|a| a.severity == "High"));
        assert!(items[first_medium..].iter().all(|a| a.severity == "Medium"));

        let by_technique = AlertFilter {
            technique: Some("T1059".into()),
            detection_source: Some("Sigma".into()),
            ..Default::default()
        };
        let (items, total) = s
            .alerts_page(&by_technique, &order("Title", false, 100, 0))
            .await
            .unwrap();
        // n % 3 == 0 and n even: 0, 6, 12, 18, 24.
        assert_eq!(total, 5);
        assert!(items.windows(2).all(|w| w[0].title <= w[1].title));
        let text = AlertFilter {
            text: Some("number 2".into()),
            ..Default::default()
        };
        let (_, total) = s
            .alerts_page(&text, &order("Title", false, 100, 0))
            .await
            .unwrap();
        // "Alert number 2" and "Alert number 20" to "29".
        assert_eq!(total, 11);
    }

    #[tokio::test]
    async fn bad_sort_limit_or_severity_is_refused_naming_it() {
        let s = seeded().await;
        let f = AlertFilter::default();
        let e = s
            .alerts_page(&f, &order("Colour", true, 10, 0))
            .await
            .unwrap_err();
        assert!(e.to_string().contains("sort") && e.to_string().contains("LastActivity"));
        let e = s
            .alerts_page(&f, &order("Title", true, 0, 0))
            .await
            .unwrap_err();
        assert!(e.to_string().contains("limit"), "{e}");
        let bad = AlertFilter {
            severity: Some("High,Severe".into()),
            ..Default::default()
        };
        let e = s
            .alerts_page(&bad, &order("Title", true, 10, 0))
            .await
            .unwrap_err();
        assert!(e.to_string().contains("Severe"), "{e}");
    }
}
