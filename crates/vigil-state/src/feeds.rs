//! Threat-intelligence feeds (where the server fetches indicators from, how often, and how
//! the last refresh went) and MISP warning lists (values known to be benign, which imports
//! leave out).
//!
//! A feed's indicators carry the feed's name as their provenance source, so a refresh
//! replaces exactly what the feed brought (`intel.rs`). A TAXII feed keeps its `added_after`
//! cursor here and adds what is new instead of replacing.
//!
//! Feed credentials (a TAXII password, an API key) must be presented to the feed, so they are
//! stored as given; the API never returns them.

use sqlx::sqlite::SqliteRow;
use sqlx::Row;

use crate::secret::{check_name, new_id};
use crate::{StateError, StateStore};

/// The feed formats the server fetches.
pub const FEED_FORMATS: &[&str] = &["stix", "taxii", "misp", "csv", "abusech"];
/// The shortest refresh interval.
pub const MIN_FEED_INTERVAL_MS: i64 = 60_000;

/// A feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Feed {
    /// `fd_` + 16 hex digits.
    pub id: String,
    /// Unique; the provenance source of its indicators.
    pub name: String,
    /// One of [`FEED_FORMATS`].
    pub format: String,
    /// What to fetch: a file's URL, or a TAXII API root / discovery URL.
    pub url: String,
    /// TAXII: the collection's id or title.
    pub collection: Option<String>,
    /// Basic-auth user name, or the header name for an API key (`Auth-Key: ...`).
    pub username: Option<String>,
    /// Basic-auth password or the API key's value. Never shown.
    pub secret: Option<String>,
    pub interval_ms: i64,
    /// Defaults for what the feed does not say: `vigil_intel::Action` / `Severity` names.
    pub action: String,
    pub severity: String,
    pub generate_alert: bool,
    /// Indicators from the feed expire this long after the refresh that brought them.
    pub expire_after_ms: Option<i64>,
    pub enabled: bool,
    /// TAXII: the `added_after` cursor (RFC 3339) of the next poll.
    pub cursor: Option<String>,
    pub last_run_ms: Option<i64>,
    pub last_ok_ms: Option<i64>,
    /// `ok` or `error`.
    pub last_status: Option<String>,
    pub last_error: Option<String>,
    /// Indicators the last successful refresh read.
    pub last_count: Option<i64>,
    pub created_ms: i64,
    pub created_by: String,
}

/// What a new feed needs (the run fields start empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFeed {
    pub name: String,
    pub format: String,
    pub url: String,
    pub collection: Option<String>,
    pub username: Option<String>,
    pub secret: Option<String>,
    pub interval_ms: i64,
    pub action: String,
    pub severity: String,
    pub generate_alert: bool,
    pub expire_after_ms: Option<i64>,
    pub enabled: bool,
}

/// The outcome of one refresh.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedRun {
    Ok {
        count: i64,
        /// The new TAXII cursor, if it moved.
        cursor: Option<String>,
    },
    Error(String),
}

/// A MISP warning list as stored (its JSON text, checked by the caller).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredWarningList {
    pub id: String,
    pub name: String,
    pub body: String,
    pub created_ms: i64,
}

const COLUMNS: &str = "id, name, format, url, collection, username, secret, interval_ms, \
    action, severity, generate_alert, expire_after_ms, enabled, cursor, last_run_ms, \
    last_ok_ms, last_status, last_error, last_count, created_ms, created_by";

fn from_row(r: &SqliteRow) -> Feed {
    Feed {
        id: r.get("id"),
        name: r.get("name"),
        format: r.get("format"),
        url: r.get("url"),
        collection: r.get("collection"),
        username: r.get("username"),
        secret: r.get("secret"),
        interval_ms: r.get("interval_ms"),
        action: r.get("action"),
        severity: r.get("severity"),
        generate_alert: r.get::<i64, _>("generate_alert") != 0,
        expire_after_ms: r.get("expire_after_ms"),
        enabled: r.get::<i64, _>("enabled") != 0,
        cursor: r.get("cursor"),
        last_run_ms: r.get("last_run_ms"),
        last_ok_ms: r.get("last_ok_ms"),
        last_status: r.get("last_status"),
        last_error: r.get("last_error"),
        last_count: r.get("last_count"),
        created_ms: r.get("created_ms"),
        created_by: r.get("created_by"),
    }
}

fn check_feed(f: &NewFeed) -> Result<(), StateError> {
    check_name("feed name", &f.name, true)?;
    if f.name == "manual" {
        return Err(StateError::invalid(
            "feed name",
            &f.name,
            "is reserved for indicators added by hand",
        ));
    }
    if !FEED_FORMATS.contains(&f.format.as_str()) {
        return Err(StateError::invalid(
            "feed format",
            &f.format,
            format!("must be one of {}", FEED_FORMATS.join(", ")),
        ));
    }
    if !(f.url.starts_with("http://") || f.url.starts_with("https://")) {
        return Err(StateError::invalid(
            "feed url",
            &f.url,
            "must be an http:// or https:// URL",
        ));
    }
    check_name("feed url", &f.url, true)?;
    if f.format == "taxii" && f.collection.as_deref().is_none_or(|c| c.trim().is_empty()) {
        return Err(StateError::invalid(
            "feed collection",
            "",
            "a TAXII feed needs the collection's id or title",
        ));
    }
    if f.interval_ms < MIN_FEED_INTERVAL_MS {
        return Err(StateError::invalid(
            "feed interval",
            &format!("{} s", f.interval_ms / 1000),
            "must be at least 60 seconds",
        ));
    }
    if f.expire_after_ms.is_some_and(|e| e <= 0) {
        return Err(StateError::invalid(
            "feed expiry",
            &format!("{:?}", f.expire_after_ms),
            "must be positive",
        ));
    }
    Ok(())
}

impl StateStore {
    /// Add a feed; its name must be unique.
    pub async fn create_feed(
        &self,
        f: &NewFeed,
        actor: &str,
        now_ms: i64,
    ) -> Result<Feed, StateError> {
        check_feed(f)?;
        let op = "create a feed";
        let mut tx = StateStore::begin_write(&self.pool)
            .await
            .map_err(StateError::db(op))?;
        let taken: Option<String> = sqlx::query_scalar("SELECT id FROM feeds WHERE name = $1")
            .bind(&f.name)
            .fetch_optional(&mut *tx)
            .await
            .map_err(StateError::db(op))?;
        if taken.is_some() {
            return Err(StateError::AlreadyExists {
                what: "feed",
                value: f.name.clone(),
            });
        }
        let id = new_id("fd_");
        sqlx::query(
            "INSERT INTO feeds (id, name, format, url, collection, username, secret, \
             interval_ms, action, severity, generate_alert, expire_after_ms, enabled, \
             created_ms, created_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
        )
        .bind(&id)
        .bind(&f.name)
        .bind(&f.format)
        .bind(&f.url)
        .bind(&f.collection)
        .bind(&f.username)
        .bind(&f.secret)
        .bind(f.interval_ms)
        .bind(&f.action)
        .bind(&f.severity)
        .bind(i64::from(f.generate_alert))
        .bind(f.expire_after_ms)
        .bind(i64::from(f.enabled))
        .bind(now_ms)
        .bind(actor)
        .execute(&mut *tx)
        .await
        .map_err(StateError::db(op))?;
        tx.commit().await.map_err(StateError::db(op))?;
        self.feed(&id).await
    }

    pub async fn feeds(&self) -> Result<Vec<Feed>, StateError> {
        let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM feeds ORDER BY name"))
            .fetch_all(&self.pool)
            .await
            .map_err(StateError::db("list feeds"))?;
        Ok(rows.iter().map(from_row).collect())
    }

    /// A feed by id or name.
    pub async fn feed(&self, id_or_name: &str) -> Result<Feed, StateError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM feeds WHERE id = $1 OR name = $1"
        ))
        .bind(id_or_name)
        .fetch_optional(&self.pool)
        .await
        .map_err(StateError::db("read a feed"))?;
        row.as_ref()
            .map(from_row)
            .ok_or_else(|| StateError::NotFound {
                what: "feed",
                id: id_or_name.to_string(),
            })
    }

    /// Record a refresh's outcome.
    pub async fn record_feed_run(
        &self,
        id: &str,
        run: &FeedRun,
        now_ms: i64,
    ) -> Result<(), StateError> {
        let q = match run {
            FeedRun::Ok { count, cursor } => sqlx::query(
                "UPDATE feeds SET last_run_ms = $2, last_ok_ms = $2, last_status = 'ok', \
                 last_error = NULL, last_count = $3, cursor = COALESCE($4, cursor) WHERE id = $1",
            )
            .bind(id)
            .bind(now_ms)
            .bind(*count)
            .bind(cursor.clone()),
            FeedRun::Error(e) => sqlx::query(
                "UPDATE feeds SET last_run_ms = $2, last_status = 'error', last_error = $3 \
                 WHERE id = $1",
            )
            .bind(id)
            .bind(now_ms)
            .bind(e.clone()),
        };
        let done = q
            .execute(&self.pool)
            .await
            .map_err(StateError::db("record a feed refresh"))?;
        if done.rows_affected() == 0 {
            return Err(StateError::NotFound {
                what: "feed",
                id: id.to_string(),
            });
        }
        Ok(())
    }

    /// Turn a feed on or off.
    pub async fn set_feed_enabled(&self, id: &str, enabled: bool) -> Result<Feed, StateError> {
        let feed = self.feed(id).await?;
        sqlx::query("UPDATE feeds SET enabled = $2 WHERE id = $1")
            .bind(&feed.id)
            .bind(i64::from(enabled))
            .execute(&self.pool)
            .await
            .map_err(StateError::db("update a feed"))?;
        self.feed(&feed.id).await
    }

    /// Delete a feed and the indicators it brought.
    pub async fn delete_feed(&self, id: &str, now_ms: i64) -> Result<u64, StateError> {
        let feed = self.feed(id).await?;
        let removed = self.delete_indicators_of_source(&feed.name, now_ms).await?;
        sqlx::query("DELETE FROM feeds WHERE id = $1")
            .bind(&feed.id)
            .execute(&self.pool)
            .await
            .map_err(StateError::db("delete a feed"))?;
        Ok(removed)
    }

    /// Store a warning list (its JSON text, already checked); a list of the same name is
    /// replaced.
    pub async fn put_warning_list(
        &self,
        name: &str,
        body: &str,
        now_ms: i64,
    ) -> Result<StoredWarningList, StateError> {
        check_name("warning list name", name, true)?;
        let id = new_id("wl_");
        let op = "store a warning list";
        let mut tx = StateStore::begin_write(&self.pool)
            .await
            .map_err(StateError::db(op))?;
        sqlx::query("DELETE FROM warning_lists WHERE name = $1")
            .bind(name)
            .execute(&mut *tx)
            .await
            .map_err(StateError::db(op))?;
        sqlx::query(
            "INSERT INTO warning_lists (id, name, body, created_ms) VALUES ($1, $2, $3, $4)",
        )
        .bind(&id)
        .bind(name)
        .bind(body)
        .bind(now_ms)
        .execute(&mut *tx)
        .await
        .map_err(StateError::db(op))?;
        tx.commit().await.map_err(StateError::db(op))?;
        Ok(StoredWarningList {
            id,
            name: name.to_string(),
            body: body.to_string(),
            created_ms: now_ms,
        })
    }

    pub async fn warning_lists(&self) -> Result<Vec<StoredWarningList>, StateError> {
        let rows =
            sqlx::query("SELECT id, name, body, created_ms FROM warning_lists ORDER BY name")
                .fetch_all(&self.pool)
                .await
                .map_err(StateError::db("list warning lists"))?;
        Ok(rows
            .iter()
            .map(|r| StoredWarningList {
                id: r.get("id"),
                name: r.get("name"),
                body: r.get("body"),
                created_ms: r.get("created_ms"),
            })
            .collect())
    }

    /// Delete a warning list by id or name.
    pub async fn delete_warning_list(&self, id_or_name: &str) -> Result<(), StateError> {
        let done = sqlx::query("DELETE FROM warning_lists WHERE id = $1 OR name = $1")
            .bind(id_or_name)
            .execute(&self.pool)
            .await
            .map_err(StateError::db("delete a warning list"))?;
        if done.rows_affected() == 0 {
            return Err(StateError::NotFound {
                what: "warning list",
                id: id_or_name.to_string(),
            });
        }
        Ok(())
    }
}
