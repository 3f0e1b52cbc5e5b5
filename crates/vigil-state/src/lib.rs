//! Vigil's state store (devices, enrolment tokens, certificates, users) on SQLite through sqlx.
//!
//! [`StateStore`] is a cheap-to-clone handle on a connection pool. It is written so that
//! PostgreSQL can be added as a second backend:
//!
//! - every SQL statement is portable: plain types (`TEXT`, `BIGINT`), times as unix
//!   milliseconds in `BIGINT`, flags as `BIGINT` 0/1, numbered placeholders (`$1`), no
//!   SQLite-only functions (`INSERT .. ON CONFLICT .. DO UPDATE` and `UPDATE .. RETURNING` are
//!   in both engines);
//! - all SQL of an entity lives in that entity's module, beside its methods on [`StateStore`]:
//!   `enrollment.rs`, `devices.rs`, `api_tokens.rs`, `users.rs`, `alerts.rs`, `incidents.rs`,
//!   `suppressions.rs`, `rules.rs`, `saved_queries.rs`, `custom_detections.rs`, `intel.rs`
//!   (indicators and their change log), `feeds.rs` (feeds, warning lists), `actions.rs`
//!   (response actions, live-response sessions, files), `access.rs` (roles, users with
//!   passwords, sessions, the API audit log); `lifecycle.rs` holds what alerts and incidents share
//!   (status, classification, comments, the audit log);
//! - the schema is created and upgraded by our own small runner (`migrate.rs`), not by a
//!   backend's tooling.
//!
//! Only this file and `migrate.rs` know that the backend is SQLite (connect options, pool).
//!
//! Secrets (enrolment and API tokens) are random, shown once to the caller and stored only as
//! SHA-256 (`secret.rs`). Times are always given by the caller (`now_ms`), so that tests and
//! the server agree on one clock.

mod access;
mod actions;
mod alerts;
mod api_tokens;
mod custom_detections;
mod devices;
mod enrollment;
mod error;
mod feeds;
mod incidents;
mod intel;
mod lifecycle;
mod migrate;
mod rules;
mod saved_queries;
mod secret;
mod settings;
mod suppressions;
mod users;

use std::collections::HashSet;
use std::path::Path;
use std::str::FromStr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

pub use access::{
    AuditRecord, ConsoleUser, Login, Principal, Role, BUILTIN_ROLES, MIN_PASSWORD_CHARS,
    PERMISSIONS, SESSION_IDLE_MS, SESSION_MAX_MS, SESSION_PREFIX,
};
pub use actions::{
    new_file_id, ActionEvent, ActionFilter, LiveSession, NewAction, ResponseAction, StoredFile,
    ACTION_STATUSES, DEFAULT_ACTION_TTL_MS, FINAL_STATUSES,
};
pub use alerts::{Alert, AlertFilter, AlertOrder, NewHit, Recorded, ALERT_SORT_KEYS, SEVERITIES};
pub use api_tokens::{ApiToken, API_TOKEN_PREFIX};
pub use custom_detections::{
    schedule_period_ms, CustomDetection, NewCustomDetection, AUTO_ACTIONS, SCHEDULES,
};
pub use devices::{
    check_device_group, normalize_tags, Device, DeviceSeen, NewDevice, MAX_DEVICE_TAGS,
};
pub use enrollment::{EnrollmentToken, ENROLLMENT_TOKEN_PREFIX};
pub use error::{format_unix_ms, DeviceAuthError, RedeemError, StateError};
pub use feeds::{Feed, FeedRun, NewFeed, StoredWarningList, FEED_FORMATS, MIN_FEED_INTERVAL_MS};
pub use incidents::{incident_entities, Incident, IncidentFilter, INCIDENT_WINDOW_MS};
pub use intel::{
    ChangePage, IndicatorFilter, IndicatorRecord, IndicatorUpdate, IntelVersion, UpsertSummary,
    TOMBSTONE_KEEP_MS,
};
pub use lifecycle::{
    determinations, AuditEntry, Comment, LifecycleUpdate, CLASSIFICATIONS, STATUSES,
};
pub use migrate::AppliedMigration;
pub use rules::RuleState;
pub use saved_queries::{SavedQuery, MAX_QUERY_BYTES};
pub use settings::Setting;
pub use suppressions::{
    wildcard_match, NewSuppression, Suppression, SUPPRESSION_ACTIONS, SUPPRESSION_KEYS,
};
pub use users::User;

/// How long a statement waits for another connection's write lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections in a file-backed pool (SQLite in WAL mode: many readers, one writer).
const MAX_CONNECTIONS: u32 = 8;

/// The server's state store. Clones share one pool.
#[derive(Clone, Debug)]
pub struct StateStore {
    pool: SqlitePool,
    /// Ids of disabled detection rules (`rules.rs`), shared by clones.
    disabled: Arc<RwLock<Arc<HashSet<String>>>>,
}

impl StateStore {
    /// Open (creating it if missing) the SQLite database at `path` in WAL mode with foreign
    /// keys on and a busy timeout, and apply pending migrations. The parent directory must
    /// exist.
    pub async fn open(path: &Path) -> Result<StateStore, StateError> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        let pool = SqlitePoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .connect_with(options)
            .await
            .map_err(|source| StateError::Open {
                path: path.to_path_buf(),
                source,
            })?;
        Self::with_pool(pool).await
    }

    /// A private in-memory database, for tests. It lives as long as the store (one
    /// connection, never recycled).
    pub async fn open_memory() -> Result<StateStore, StateError> {
        let options = SqliteConnectOptions::from_str("sqlite::memory:")
            .map_err(|source| StateError::Open {
                path: ":memory:".into(),
                source,
            })?
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await
            .map_err(|source| StateError::Open {
                path: ":memory:".into(),
                source,
            })?;
        Self::with_pool(pool).await
    }

    /// A write transaction that holds SQLite's write lock from its first statement
    /// (`BEGIN IMMEDIATE`): a transaction that reads and then writes would otherwise fail
    /// with SQLITE_BUSY_SNAPSHOT when another connection wrote in between, instead of
    /// waiting for the busy timeout.
    pub(crate) async fn begin_write(
        pool: &SqlitePool,
    ) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, sqlx::Error> {
        pool.begin_with("BEGIN IMMEDIATE").await
    }

    async fn with_pool(pool: SqlitePool) -> Result<StateStore, StateError> {
        migrate::run(&pool, migrate::MIGRATIONS).await?;
        let store = StateStore {
            pool,
            disabled: Arc::default(),
        };
        store.reload_disabled_rules().await?;
        Ok(store)
    }

    /// Close the pool, waiting for connections in use to be returned. Every clone of this
    /// store is closed with it.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// The migrations applied to this database, oldest first.
    pub async fn applied_migrations(&self) -> Result<Vec<AppliedMigration>, StateError> {
        migrate::applied(&self.pool).await
    }

    /// The schema version this build creates and expects.
    pub fn latest_schema_version() -> i64 {
        migrate::MIGRATIONS.last().map_or(0, |m| m.version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn file_database_is_in_wal_mode_with_foreign_keys() {
        let dir = tempfile::tempdir().unwrap();
        let store = StateStore::open(&dir.path().join("state.db"))
            .await
            .unwrap();
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(&store.pool)
            .await
            .unwrap();
        assert_eq!(mode, "wal");
        let fk: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
            .fetch_one(&store.pool)
            .await
            .unwrap();
        assert_eq!(fk, 1);
        let timeout: i64 = sqlx::query_scalar("PRAGMA busy_timeout")
            .fetch_one(&store.pool)
            .await
            .unwrap();
        assert_eq!(timeout, BUSY_TIMEOUT.as_millis() as i64);
    }

    #[tokio::test]
    async fn open_names_the_path_it_cannot_open() {
        let err = StateStore::open(Path::new("/nonexistent-dir/state.db"))
            .await
            .unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.starts_with("cannot open the state database /nonexistent-dir/state.db"),
            "{msg}"
        );
    }
}
