//! Threat-intelligence indicators and the change log agents sync from.
//!
//! An indicator (`vigil_intel::Indicator`) is stored once per (source, type, value): the same
//! value may come from a feed and from an analyst, each with its own action and provenance,
//! and the matcher decides between them. Ids are whole numbers, never reused.
//!
//! **Versions.** Every write transaction that changes indicators takes the next number of
//! one counter (`intel_meta.version`) and stamps it on the rows it inserted or changed; a
//! deleted row leaves a tombstone with that number. An agent at version `v` asks for the rows
//! and tombstones above `v` (a delta). Tombstones older than [`TOMBSTONE_KEEP_MS`] are pruned
//! and the highest pruned version becomes the *floor*: an agent below it (or one that synced
//! from another database, told apart by `set_id`) needs a full snapshot instead.
//!
//! **Invariant:** a refused import or update changes nothing (one transaction, all or nothing).

use std::collections::HashMap;

use futures::TryStreamExt;
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, Sqlite, Transaction};
use vigil_intel::{Action, Indicator, IndicatorType, Provenance, Severity};

use crate::secret::check_name;
use crate::{StateError, StateStore};

/// How long tombstones are kept for agents that were offline.
pub const TOMBSTONE_KEEP_MS: i64 = 30 * 24 * 3_600_000;
/// The longest description kept.
const MAX_DESCRIPTION_CHARS: usize = 8192;
/// Rows per multi-row INSERT.
const INSERT_CHUNK: usize = 100;

/// An indicator as stored, with its bookkeeping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndicatorRecord {
    pub indicator: Indicator,
    pub created_ms: i64,
    pub updated_ms: i64,
    /// The API token or feed that created it.
    pub created_by: String,
    /// The change-log version of its last write.
    pub version: u64,
}

/// Which indicators to list; every field narrows the list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IndicatorFilter {
    pub kind: Option<IndicatorType>,
    pub action: Option<Action>,
    /// Provenance source (`manual`, a feed's name).
    pub source: Option<String>,
    /// A substring of the value or the title.
    pub search: Option<String>,
    /// Leave out indicators expired at this time.
    pub live_at_ms: Option<i64>,
    pub limit: u32,
    pub offset: u64,
}

/// A change to some of an indicator's fields; `None` keeps the field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IndicatorUpdate {
    pub action: Option<Action>,
    pub severity: Option<Severity>,
    pub title: Option<String>,
    pub description: Option<String>,
    /// `Some(None)` removes the expiry.
    pub expires_ms: Option<Option<i64>>,
    pub generate_alert: Option<bool>,
    pub device_groups: Option<Vec<String>>,
}

/// What an import (or a feed refresh) did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpsertSummary {
    pub added: u64,
    pub updated: u64,
    pub unchanged: u64,
    /// Rows of the source that the input no longer has (replace mode only).
    pub removed: u64,
    /// Ids of the added rows and of the rows whose value is newly matched (for retro-hunts).
    pub added_ids: Vec<u64>,
    /// The change-log version after the import.
    pub version: u64,
}

/// The change log's position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntelVersion {
    /// Random per database: an agent that synced from another one starts over.
    pub set_id: String,
    pub version: u64,
    /// Deltas are only complete above this version.
    pub floor: u64,
}

/// One page of a sync: rows and tombstones above a version, in (version, id) order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChangePage {
    /// What a sync sends of each row: id, type, value, action, severity, title, expiry,
    /// alerting and device groups (description and provenance are left empty; they stay on
    /// the server).
    pub upserts: Vec<Indicator>,
    pub removed: Vec<u64>,
    /// Where the next page starts: (version, id) of the last row returned.
    pub next: Option<(u64, u64)>,
}

const COLUMNS: &str = "id, kind, value, action, severity, title, description, expires_ms, \
    device_groups, generate_alert, source, reference, first_seen_ms, labels, created_ms, \
    updated_ms, created_by, version";

fn corrupt(column: &'static str, value: impl Into<String>) -> StateError {
    StateError::Corrupt {
        column,
        value: value.into(),
    }
}

fn json_list(text: &str, column: &'static str) -> Result<Vec<String>, StateError> {
    if text.is_empty() {
        return Ok(Vec::new());
    }
    serde_json::from_str(text).map_err(|_| corrupt(column, text))
}

fn indicator_from_row(r: &SqliteRow) -> Result<Indicator, StateError> {
    let kind: String = r.get("kind");
    let action: String = r.get("action");
    let severity: String = r.get("severity");
    Ok(Indicator {
        id: r.get::<i64, _>("id") as u64,
        kind: kind.parse().map_err(|_| corrupt("indicators.kind", kind))?,
        value: r.get("value"),
        action: action
            .parse()
            .map_err(|_| corrupt("indicators.action", action))?,
        severity: severity
            .parse()
            .map_err(|_| corrupt("indicators.severity", severity))?,
        title: r.get("title"),
        description: r.get("description"),
        expires_ms: r.get("expires_ms"),
        device_groups: json_list(r.get("device_groups"), "indicators.device_groups")?,
        generate_alert: r.get::<i64, _>("generate_alert") != 0,
        provenance: Provenance {
            source: r.get("source"),
            reference: r.get("reference"),
            first_seen_ms: r.get("first_seen_ms"),
            labels: json_list(r.get("labels"), "indicators.labels")?,
        },
    })
}

/// The columns a sync reads, in the order of [`SyncRow`].
const SYNC_COLUMNS: &str = "id, kind, value, action, severity, title, expires_ms, \
    device_groups, generate_alert, version";

/// One row of [`SYNC_COLUMNS`].
type SyncRow = (
    i64,
    String,
    String,
    String,
    String,
    String,
    Option<i64>,
    String,
    i64,
    i64,
);

/// The rows of [`SYNC_COLUMNS`] that `query` (a SELECT of them with its WHERE, ORDER BY and
/// LIMIT) gives, in (version, id) order. SQLite packs the page into one JSON array, read
/// as one value: the driver's cost is per row (a full sync of 1M indicators spent most of
/// its time handing rows from its worker thread over), and parsing JSON is cheap.
async fn sync_rows<'q>(
    pool: &sqlx::SqlitePool,
    query: sqlx::query::Query<'q, Sqlite, sqlx::sqlite::SqliteArguments<'q>>,
) -> Result<Vec<SyncRow>, StateError> {
    let op = "read indicator changes";
    let row = query.fetch_one(pool).await.map_err(StateError::db(op))?;
    let text: Option<String> = row.get(0);
    let mut rows: Vec<SyncRow> = match text {
        None => Vec::new(),
        Some(t) => serde_json::from_str(&t).map_err(|e| corrupt("indicators", e.to_string()))?,
    };
    rows.sort_unstable_by_key(|r| (r.9, r.0));
    Ok(rows)
}

/// The packed form of a SELECT of [`SYNC_COLUMNS`] (see [`sync_rows`]).
fn packed(select_rest: &str) -> String {
    format!(
        "SELECT json_group_array(json_array({SYNC_COLUMNS})) FROM \
         (SELECT {SYNC_COLUMNS} FROM indicators {select_rest})"
    )
}

/// An indicator as a sync sends it.
fn synced_from_row(r: SyncRow) -> Result<Indicator, StateError> {
    let (id, kind, value, action, severity, title, expires_ms, groups, alert, _) = r;
    Ok(Indicator {
        id: id as u64,
        kind: kind.parse().map_err(|_| corrupt("indicators.kind", kind))?,
        value,
        action: action
            .parse()
            .map_err(|_| corrupt("indicators.action", action))?,
        severity: severity
            .parse()
            .map_err(|_| corrupt("indicators.severity", severity))?,
        title,
        description: String::new(),
        expires_ms,
        device_groups: if groups == "[]" {
            Vec::new()
        } else {
            json_list(&groups, "indicators.device_groups")?
        },
        generate_alert: alert != 0,
        provenance: Provenance::default(),
    })
}

fn record_from_row(r: &SqliteRow) -> Result<IndicatorRecord, StateError> {
    Ok(IndicatorRecord {
        indicator: indicator_from_row(r)?,
        created_ms: r.get("created_ms"),
        updated_ms: r.get("updated_ms"),
        created_by: r.get("created_by"),
        version: r.get::<i64, _>("version") as u64,
    })
}

/// Checks what the state store owns about an indicator (the value was normalised when the
/// indicator was made).
fn check(ind: &Indicator) -> Result<(), StateError> {
    check_name("indicator title", &ind.title, false)?;
    check_name("indicator source", &ind.provenance.source, true)?;
    if ind.description.chars().count() > MAX_DESCRIPTION_CHARS {
        return Err(StateError::invalid(
            "indicator description",
            &ind.description.chars().take(40).collect::<String>(),
            format!("is longer than {MAX_DESCRIPTION_CHARS} characters"),
        ));
    }
    for g in &ind.device_groups {
        check_name("device group", g, true)?;
    }
    Ok(())
}

/// Cuts `s` to at most `max` characters, without control characters.
fn cut(s: &mut String, max: usize) {
    if s.chars().count() > max || s.chars().any(char::is_control) {
        *s = s
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .take(max)
            .collect();
    }
}

/// Whether two indicators say the same (ignoring id and bookkeeping).
fn same_content(a: &Indicator, b: &Indicator) -> bool {
    a.action == b.action
        && a.severity == b.severity
        && a.title == b.title
        && a.description == b.description
        && a.expires_ms == b.expires_ms
        && a.device_groups == b.device_groups
        && a.generate_alert == b.generate_alert
        && a.provenance == b.provenance
}

async fn meta(tx: &mut Transaction<'_, Sqlite>, key: &str) -> Result<Option<String>, StateError> {
    sqlx::query_scalar("SELECT value FROM intel_meta WHERE key = $1")
        .bind(key)
        .fetch_optional(&mut **tx)
        .await
        .map_err(StateError::db("read the intel change log"))
}

async fn set_meta(
    tx: &mut Transaction<'_, Sqlite>,
    key: &str,
    value: &str,
) -> Result<(), StateError> {
    sqlx::query(
        "INSERT INTO intel_meta (key, value) VALUES ($1, $2) \
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )
    .bind(key)
    .bind(value)
    .execute(&mut **tx)
    .await
    .map_err(StateError::db("write the intel change log"))?;
    Ok(())
}

/// The next change-log version (taken inside the caller's write transaction).
async fn next_version(tx: &mut Transaction<'_, Sqlite>) -> Result<u64, StateError> {
    let v = match meta(tx, "version").await? {
        Some(s) => s
            .parse::<u64>()
            .map_err(|_| corrupt("intel_meta.version", s))?,
        None => 0,
    } + 1;
    set_meta(tx, "version", &v.to_string()).await?;
    Ok(v)
}

async fn next_id(tx: &mut Transaction<'_, Sqlite>) -> Result<u64, StateError> {
    // Ids are never reused: the highest id ever given is kept beside the rows, since a
    // deleted row's id must not come back.
    let last = match meta(tx, "last_id").await? {
        Some(s) => s
            .parse::<u64>()
            .map_err(|_| corrupt("intel_meta.last_id", s))?,
        None => 0,
    };
    Ok(last + 1)
}

/// Inserts `rows` (ids already set) with multi-row statements.
async fn insert_rows(
    tx: &mut Transaction<'_, Sqlite>,
    rows: &[Indicator],
    actor: &str,
    now_ms: i64,
    version: u64,
) -> Result<(), StateError> {
    for chunk in rows.chunks(INSERT_CHUNK) {
        // Anonymous `?` parameters, bound in order: with numbered ones (`$N`) the driver
        // looks each one's name up in SQLite's parameter list, a linear scan, which made a
        // 1,800-parameter statement cost quadratic time (a 1M-indicator import took minutes).
        let row = format!("({})", ["?"; 18].join(","));
        let mut sql = format!("INSERT INTO indicators ({COLUMNS}) VALUES ");
        for i in 0..chunk.len() {
            if i > 0 {
                sql.push(',');
            }
            sql.push_str(&row);
        }
        let mut q = sqlx::query(&sql);
        for ind in chunk {
            q = q
                .bind(ind.id as i64)
                .bind(ind.kind.as_str())
                .bind(&ind.value)
                .bind(ind.action.as_str())
                .bind(ind.severity.as_str())
                .bind(&ind.title)
                .bind(&ind.description)
                .bind(ind.expires_ms)
                .bind(serde_json::to_string(&ind.device_groups).unwrap_or_default())
                .bind(i64::from(ind.generate_alert))
                .bind(&ind.provenance.source)
                .bind(&ind.provenance.reference)
                .bind(ind.provenance.first_seen_ms)
                .bind(serde_json::to_string(&ind.provenance.labels).unwrap_or_default())
                .bind(now_ms)
                .bind(now_ms)
                .bind(actor)
                .bind(version as i64);
        }
        q.execute(&mut **tx)
            .await
            .map_err(StateError::db("insert indicators"))?;
    }
    Ok(())
}

async fn update_row(
    tx: &mut Transaction<'_, Sqlite>,
    ind: &Indicator,
    now_ms: i64,
    version: u64,
) -> Result<(), StateError> {
    sqlx::query(
        "UPDATE indicators SET action = $2, severity = $3, title = $4, description = $5, \
         expires_ms = $6, device_groups = $7, generate_alert = $8, reference = $9, \
         first_seen_ms = $10, labels = $11, updated_ms = $12, version = $13 WHERE id = $1",
    )
    .bind(ind.id as i64)
    .bind(ind.action.as_str())
    .bind(ind.severity.as_str())
    .bind(&ind.title)
    .bind(&ind.description)
    .bind(ind.expires_ms)
    .bind(serde_json::to_string(&ind.device_groups).unwrap_or_default())
    .bind(i64::from(ind.generate_alert))
    .bind(&ind.provenance.reference)
    .bind(ind.provenance.first_seen_ms)
    .bind(serde_json::to_string(&ind.provenance.labels).unwrap_or_default())
    .bind(now_ms)
    .bind(version as i64)
    .execute(&mut **tx)
    .await
    .map_err(StateError::db("update an indicator"))?;
    Ok(())
}

async fn tombstone(
    tx: &mut Transaction<'_, Sqlite>,
    ids: &[u64],
    now_ms: i64,
    version: u64,
) -> Result<(), StateError> {
    for chunk in ids.chunks(INSERT_CHUNK) {
        let list = chunk
            .iter()
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(",");
        sqlx::query(&format!("DELETE FROM indicators WHERE id IN ({list})"))
            .execute(&mut **tx)
            .await
            .map_err(StateError::db("delete indicators"))?;
        let values = chunk
            .iter()
            .map(|i| format!("({i}, {version}, {now_ms})"))
            .collect::<Vec<_>>()
            .join(",");
        sqlx::query(&format!(
            "INSERT INTO indicator_tombstones (id, version, deleted_ms) VALUES {values}"
        ))
        .execute(&mut **tx)
        .await
        .map_err(StateError::db("record deleted indicators"))?;
    }
    Ok(())
}

impl StateStore {
    /// Add one indicator (an analyst's). Refused if its source already has this value.
    pub async fn add_indicator(
        &self,
        ind: &Indicator,
        actor: &str,
        now_ms: i64,
    ) -> Result<IndicatorRecord, StateError> {
        check(ind)?;
        let mut tx = StateStore::begin_write(&self.pool)
            .await
            .map_err(StateError::db("add an indicator"))?;
        let existing: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM indicators WHERE source = $1 AND kind = $2 AND value = $3",
        )
        .bind(&ind.provenance.source)
        .bind(ind.kind.as_str())
        .bind(&ind.value)
        .fetch_optional(&mut *tx)
        .await
        .map_err(StateError::db("add an indicator"))?;
        if let Some(id) = existing {
            return Err(StateError::AlreadyExists {
                what: "indicator",
                value: format!("{} {} (id {id})", ind.kind, ind.value),
            });
        }
        let version = next_version(&mut tx).await?;
        let id = next_id(&mut tx).await?;
        set_meta(&mut tx, "last_id", &id.to_string()).await?;
        let mut row = ind.clone();
        row.id = id;
        insert_rows(&mut tx, std::slice::from_ref(&row), actor, now_ms, version).await?;
        tx.commit()
            .await
            .map_err(StateError::db("add an indicator"))?;
        Ok(IndicatorRecord {
            indicator: row,
            created_ms: now_ms,
            updated_ms: now_ms,
            created_by: actor.to_string(),
            version,
        })
    }

    /// Write what a source says, in one transaction: indicators of `source` with a value not
    /// stored yet are added, changed ones updated; with `replace`, the source's indicators
    /// the input does not name are deleted (a feed refresh that replaces its list). Every
    /// indicator's provenance source is set to `source`.
    pub async fn upsert_indicators(
        &self,
        source: &str,
        input: &[Indicator],
        replace: bool,
        actor: &str,
        now_ms: i64,
    ) -> Result<UpsertSummary, StateError> {
        check_name("indicator source", source, true)?;
        let mut incoming: Vec<Indicator> = Vec::with_capacity(input.len());
        let mut seen: HashMap<(IndicatorType, String), usize> = HashMap::new();
        for ind in input {
            // Feeds write long names and descriptions: they are cut, not refused.
            let mut ind = ind.clone();
            cut(&mut ind.title, crate::secret::MAX_NAME_CHARS);
            cut(&mut ind.description, MAX_DESCRIPTION_CHARS);
            check(&ind)?;
            match seen.get(&(ind.kind, ind.value.clone())) {
                // The same value twice in one input: the later record wins.
                Some(&i) => incoming[i] = ind,
                None => {
                    seen.insert((ind.kind, ind.value.clone()), incoming.len());
                    incoming.push(ind);
                }
            }
        }
        for ind in &mut incoming {
            ind.provenance.source = source.to_string();
        }
        let op = "import indicators";
        let mut tx = StateStore::begin_write(&self.pool)
            .await
            .map_err(StateError::db(op))?;
        let mut existing: HashMap<(IndicatorType, String), Indicator> = HashMap::new();
        {
            let sql = format!("SELECT {COLUMNS} FROM indicators WHERE source = $1");
            let mut rows = sqlx::query(&sql).bind(source).fetch(&mut *tx);
            while let Some(r) = rows.try_next().await.map_err(StateError::db(op))? {
                let ind = indicator_from_row(&r)?;
                existing.insert((ind.kind, ind.value.clone()), ind);
            }
        }
        let version = next_version(&mut tx).await?;
        let mut id = next_id(&mut tx).await?;
        let mut summary = UpsertSummary {
            version,
            ..UpsertSummary::default()
        };
        let mut new_rows = Vec::new();
        for mut ind in incoming {
            match existing.remove(&(ind.kind, ind.value.clone())) {
                Some(old) => {
                    ind.id = old.id;
                    if same_content(&old, &ind) {
                        summary.unchanged += 1;
                    } else {
                        if old.action == Action::Allow && ind.action != Action::Allow {
                            summary.added_ids.push(ind.id);
                        }
                        update_row(&mut tx, &ind, now_ms, version).await?;
                        summary.updated += 1;
                    }
                }
                None => {
                    ind.id = id;
                    id += 1;
                    summary.added_ids.push(ind.id);
                    new_rows.push(ind);
                }
            }
        }
        summary.added = new_rows.len() as u64;
        insert_rows(&mut tx, &new_rows, actor, now_ms, version).await?;
        set_meta(&mut tx, "last_id", &(id - 1).to_string()).await?;
        if replace && !existing.is_empty() {
            let gone: Vec<u64> = existing.values().map(|i| i.id).collect();
            tombstone(&mut tx, &gone, now_ms, version).await?;
            summary.removed = gone.len() as u64;
        }
        tx.commit().await.map_err(StateError::db(op))?;
        Ok(summary)
    }

    /// One indicator.
    pub async fn indicator(&self, id: u64) -> Result<IndicatorRecord, StateError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM indicators WHERE id = $1"))
            .bind(id as i64)
            .fetch_optional(&self.pool)
            .await
            .map_err(StateError::db("read an indicator"))?
            .ok_or_else(|| StateError::NotFound {
                what: "indicator",
                id: id.to_string(),
            })?;
        record_from_row(&row)
    }

    /// The indicators of one value (from every source).
    pub async fn indicators_of_value(
        &self,
        kind: IndicatorType,
        value: &str,
    ) -> Result<Vec<IndicatorRecord>, StateError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM indicators WHERE kind = $1 AND value = $2 ORDER BY id"
        ))
        .bind(kind.as_str())
        .bind(value)
        .fetch_all(&self.pool)
        .await
        .map_err(StateError::db("read indicators"))?;
        rows.iter().map(record_from_row).collect()
    }

    /// A page of indicators (by id) and how many match the filter in all.
    pub async fn indicators(
        &self,
        f: &IndicatorFilter,
    ) -> Result<(Vec<IndicatorRecord>, u64), StateError> {
        let mut clauses: Vec<String> = Vec::new();
        let mut binds: Vec<String> = Vec::new();
        let mut bind = |clause: &str, value: String| {
            binds.push(value);
            clauses.push(clause.replace('?', &format!("${}", binds.len())));
        };
        if let Some(k) = f.kind {
            bind("kind = ?", k.as_str().to_string());
        }
        if let Some(a) = f.action {
            bind("action = ?", a.as_str().to_string());
        }
        if let Some(s) = &f.source {
            bind("source = ?", s.clone());
        }
        if let Some(q) = &f.search {
            let pattern = format!(
                "%{}%",
                q.replace('\\', "\\\\")
                    .replace('%', "\\%")
                    .replace('_', "\\_")
            );
            bind(
                "(value LIKE ? ESCAPE '\\' OR title LIKE ? ESCAPE '\\')",
                pattern,
            );
        }
        let mut where_sql = if clauses.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", clauses.join(" AND "))
        };
        if let Some(t) = f.live_at_ms {
            where_sql.push_str(if clauses.is_empty() {
                " WHERE "
            } else {
                " AND "
            });
            where_sql.push_str(&format!("(expires_ms IS NULL OR expires_ms > {t})"));
        }
        let count_sql = format!("SELECT COUNT(*) FROM indicators{where_sql}");
        let mut cq = sqlx::query_scalar::<_, i64>(&count_sql);
        for b in &binds {
            cq = cq.bind(b);
        }
        let total = cq
            .fetch_one(&self.pool)
            .await
            .map_err(StateError::db("count indicators"))?;
        let list_sql = format!(
            "SELECT {COLUMNS} FROM indicators{where_sql} ORDER BY id LIMIT {} OFFSET {}",
            f.limit.max(1),
            f.offset
        );
        let mut lq = sqlx::query(&list_sql);
        for b in &binds {
            lq = lq.bind(b);
        }
        let rows = lq
            .fetch_all(&self.pool)
            .await
            .map_err(StateError::db("list indicators"))?;
        let list = rows
            .iter()
            .map(record_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        Ok((list, total as u64))
    }

    /// Every indicator not expired at `now_ms`, for the matcher (streamed, not listed).
    pub async fn live_indicators(&self, now_ms: i64) -> Result<Vec<Indicator>, StateError> {
        let mut out = Vec::new();
        let sql =
            format!("SELECT {COLUMNS} FROM indicators WHERE expires_ms IS NULL OR expires_ms > $1");
        let mut rows = sqlx::query(&sql).bind(now_ms).fetch(&self.pool);
        while let Some(r) = rows
            .try_next()
            .await
            .map_err(StateError::db("read indicators"))?
        {
            out.push(indicator_from_row(&r)?);
        }
        Ok(out)
    }

    /// The earliest expiry still ahead of `now_ms` (when the matcher must be rebuilt).
    pub async fn next_indicator_expiry(&self, now_ms: i64) -> Result<Option<i64>, StateError> {
        sqlx::query_scalar("SELECT MIN(expires_ms) FROM indicators WHERE expires_ms > $1")
            .bind(now_ms)
            .fetch_one(&self.pool)
            .await
            .map_err(StateError::db("read indicator expiries"))
    }

    /// Change some fields of an indicator.
    pub async fn update_indicator(
        &self,
        id: u64,
        u: &IndicatorUpdate,
        now_ms: i64,
    ) -> Result<IndicatorRecord, StateError> {
        let mut rec = self.indicator(id).await?;
        let ind = &mut rec.indicator;
        if let Some(a) = u.action {
            ind.action = a;
        }
        if let Some(s) = u.severity {
            ind.severity = s;
        }
        if let Some(t) = &u.title {
            ind.title = t.clone();
        }
        if let Some(d) = &u.description {
            ind.description = d.clone();
        }
        if let Some(e) = u.expires_ms {
            ind.expires_ms = e;
        }
        if let Some(g) = u.generate_alert {
            ind.generate_alert = g;
        }
        if let Some(g) = &u.device_groups {
            ind.device_groups = g.clone();
        }
        check(ind)?;
        let mut tx = StateStore::begin_write(&self.pool)
            .await
            .map_err(StateError::db("update an indicator"))?;
        let version = next_version(&mut tx).await?;
        update_row(&mut tx, ind, now_ms, version).await?;
        tx.commit()
            .await
            .map_err(StateError::db("update an indicator"))?;
        rec.updated_ms = now_ms;
        rec.version = version;
        Ok(rec)
    }

    /// Delete indicators (leaving tombstones for agents); unknown ids are refused and nothing
    /// is deleted.
    pub async fn delete_indicators(&self, ids: &[u64], now_ms: i64) -> Result<u64, StateError> {
        let op = "delete indicators";
        let mut tx = StateStore::begin_write(&self.pool)
            .await
            .map_err(StateError::db(op))?;
        for &id in ids {
            let found: Option<i64> = sqlx::query_scalar("SELECT id FROM indicators WHERE id = $1")
                .bind(id as i64)
                .fetch_optional(&mut *tx)
                .await
                .map_err(StateError::db(op))?;
            if found.is_none() {
                return Err(StateError::NotFound {
                    what: "indicator",
                    id: id.to_string(),
                });
            }
        }
        if ids.is_empty() {
            return Ok(0);
        }
        let version = next_version(&mut tx).await?;
        tombstone(&mut tx, ids, now_ms, version).await?;
        tx.commit().await.map_err(StateError::db(op))?;
        Ok(ids.len() as u64)
    }

    /// Delete every indicator of `source` (a feed being removed).
    pub async fn delete_indicators_of_source(
        &self,
        source: &str,
        now_ms: i64,
    ) -> Result<u64, StateError> {
        let ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM indicators WHERE source = $1")
            .bind(source)
            .fetch_all(&self.pool)
            .await
            .map_err(StateError::db("delete indicators"))?;
        let ids: Vec<u64> = ids.into_iter().map(|i| i as u64).collect();
        self.delete_indicators(&ids, now_ms).await
    }

    /// Delete indicators expired for longer than `grace_ms`, and tombstones older than
    /// [`TOMBSTONE_KEEP_MS`] (raising the floor). Returns the indicators deleted.
    pub async fn prune_indicators(&self, grace_ms: i64, now_ms: i64) -> Result<u64, StateError> {
        let op = "prune indicators";
        let expired: Vec<i64> =
            sqlx::query_scalar("SELECT id FROM indicators WHERE expires_ms <= $1")
                .bind(now_ms - grace_ms)
                .fetch_all(&self.pool)
                .await
                .map_err(StateError::db(op))?;
        let ids: Vec<u64> = expired.into_iter().map(|i| i as u64).collect();
        let deleted = if ids.is_empty() {
            0
        } else {
            self.delete_indicators(&ids, now_ms).await?
        };
        let mut tx = StateStore::begin_write(&self.pool)
            .await
            .map_err(StateError::db(op))?;
        let cut = now_ms - TOMBSTONE_KEEP_MS;
        let top: Option<i64> = sqlx::query_scalar(
            "SELECT MAX(version) FROM indicator_tombstones WHERE deleted_ms < $1",
        )
        .bind(cut)
        .fetch_one(&mut *tx)
        .await
        .map_err(StateError::db(op))?;
        if let Some(top) = top {
            sqlx::query("DELETE FROM indicator_tombstones WHERE version <= $1")
                .bind(top)
                .execute(&mut *tx)
                .await
                .map_err(StateError::db(op))?;
            set_meta(&mut tx, "floor", &top.to_string()).await?;
        }
        tx.commit().await.map_err(StateError::db(op))?;
        Ok(deleted)
    }

    /// Where the change log is.
    pub async fn intel_version(&self) -> Result<IntelVersion, StateError> {
        let op = "read the intel change log";
        let mut tx = StateStore::begin_write(&self.pool)
            .await
            .map_err(StateError::db(op))?;
        let set_id = match meta(&mut tx, "set_id").await? {
            Some(s) => s,
            None => {
                let id = crate::secret::new_id("is_");
                set_meta(&mut tx, "set_id", &id).await?;
                id
            }
        };
        let num = |s: Option<String>, c| -> Result<u64, StateError> {
            s.map_or(Ok(0), |s| s.parse().map_err(|_| corrupt(c, s)))
        };
        let version = num(meta(&mut tx, "version").await?, "intel_meta.version")?;
        let floor = num(meta(&mut tx, "floor").await?, "intel_meta.floor")?;
        tx.commit().await.map_err(StateError::db(op))?;
        Ok(IntelVersion {
            set_id,
            version,
            floor,
        })
    }

    /// Up to `limit` rows changed after `since` (a version), continuing after `after`
    /// ((version, id) of the previous page's last row), and on the first page the tombstones
    /// above `since`. `since = 0` with no tombstones wanted is a full snapshot.
    pub async fn indicator_changes(
        &self,
        since: u64,
        after: Option<(u64, u64)>,
        limit: u32,
    ) -> Result<ChangePage, StateError> {
        let op = "read indicator changes";
        // Keyset paging over the (version, id) index. `(version, id) > (v, id)` written as
        // one condition makes SQLite seek on `version` alone and filter every row before the
        // cursor again on each page (a full sync became quadratic); two queries that each
        // seek on the whole key keep every page at the cost of its own rows.
        let mut rows: Vec<SyncRow> = Vec::with_capacity(limit as usize);
        if let Some((v, id)) = after {
            let sql = packed("WHERE version = $1 AND id > $2 ORDER BY id LIMIT $3");
            let q = sqlx::query(&sql)
                .bind(v as i64)
                .bind(id as i64)
                .bind(i64::from(limit));
            rows = sync_rows(&self.pool, q).await?;
        }
        let rest = limit as usize - rows.len();
        if rest > 0 {
            let above = after.map_or(since, |(v, _)| v.max(since));
            let sql = packed("WHERE version > $1 ORDER BY version, id LIMIT $2");
            let q = sqlx::query(&sql).bind(above as i64).bind(rest as i64);
            rows.extend(sync_rows(&self.pool, q).await?);
        }
        let mut page = ChangePage::default();
        if rows.len() == limit as usize {
            let last = rows.last().expect("a full page");
            page.next = Some((last.9 as u64, last.0 as u64));
        }
        page.upserts.reserve(rows.len());
        for r in rows {
            page.upserts.push(synced_from_row(r)?);
        }
        if after.is_none() && since > 0 {
            let ids: Vec<i64> = sqlx::query_scalar(
                "SELECT id FROM indicator_tombstones WHERE version > $1 ORDER BY id",
            )
            .bind(since as i64)
            .fetch_all(&self.pool)
            .await
            .map_err(StateError::db(op))?;
            page.removed = ids.into_iter().map(|i| i as u64).collect();
        }
        Ok(page)
    }
}
