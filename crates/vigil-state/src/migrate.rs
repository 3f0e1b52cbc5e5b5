//! The schema and its migration runner.
//!
//! [`MIGRATIONS`] is the ordered list of `(version, name, sql)`. A migration is never edited
//! once released: a change to the schema is a new migration at the end. [`run`] creates
//! `schema_migrations(version, name, applied_at)` if missing and applies each pending
//! migration in its own transaction together with its `schema_migrations` row, so a failed
//! migration leaves the database as it was. A database that has a version newer than this
//! build knows is refused rather than used.
//!
//! The SQL is portable to PostgreSQL: `TEXT` and `BIGINT` columns only, times as unix
//! milliseconds, flags as 0/1.

use std::time::{SystemTime, UNIX_EPOCH};

use sqlx::sqlite::SqlitePool;
use sqlx::Row;

use crate::StateError;

/// One step of the schema.
pub(crate) struct Migration {
    /// Strictly increasing, never reused.
    pub version: i64,
    /// A short name, for messages and `schema_migrations`.
    pub name: &'static str,
    /// One or more statements, separated by `;`.
    pub sql: &'static str,
}

/// A migration recorded in `schema_migrations`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedMigration {
    /// The migration's version.
    pub version: i64,
    /// The migration's name.
    pub name: String,
    /// When it was applied, unix milliseconds.
    pub applied_at_ms: i64,
}

/// Every migration, oldest first.
pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "initial",
        sql: INITIAL,
    },
    Migration {
        version: 2,
        name: "alerts",
        sql: ALERTS,
    },
    Migration {
        version: 3,
        name: "alert_lifecycle",
        sql: ALERT_LIFECYCLE,
    },
    Migration {
        version: 4,
        name: "saved_queries",
        sql: SAVED_QUERIES,
    },
    Migration {
        version: 5,
        name: "custom_detections",
        sql: CUSTOM_DETECTIONS,
    },
    Migration {
        version: 6,
        name: "threat_intel",
        sql: THREAT_INTEL,
    },
    Migration {
        version: 7,
        name: "response_actions",
        sql: RESPONSE_ACTIONS,
    },
    Migration {
        version: 8,
        name: "access_control",
        sql: ACCESS_CONTROL,
    },
    Migration {
        version: 9,
        name: "settings_and_tags",
        sql: SETTINGS_AND_TAGS,
    },
];

/// Device tags (a JSON array of names) and the server-wide settings the console changes
/// (one row per key, its value as JSON text, who changed it last and when).
const SETTINGS_AND_TAGS: &str = "
ALTER TABLE devices ADD COLUMN tags TEXT NOT NULL DEFAULT '[]';
CREATE INDEX alerts_device_open ON alerts (device_id, status, severity);
CREATE TABLE settings (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_ms BIGINT NOT NULL,
    updated_by TEXT NOT NULL
);
";

/// Custom roles, console users' passwords and scopes, login sessions, and the audit log of
/// every change made through the API. Tokens made before roles existed (`admin`) become
/// administrators.
const ACCESS_CONTROL: &str = "
CREATE TABLE roles (
    name        TEXT PRIMARY KEY,
    description TEXT NOT NULL,
    permissions TEXT NOT NULL,
    created_ms  BIGINT NOT NULL
);
ALTER TABLE users ADD COLUMN password_hash TEXT;
ALTER TABLE users ADD COLUMN device_groups TEXT NOT NULL DEFAULT '[]';
ALTER TABLE users ADD COLUMN disabled BIGINT NOT NULL DEFAULT 0;
ALTER TABLE api_tokens ADD COLUMN device_groups TEXT NOT NULL DEFAULT '[]';
UPDATE api_tokens SET role = 'administrator' WHERE role = 'admin';
UPDATE users SET role = 'administrator' WHERE role = 'admin';
CREATE TABLE sessions (
    id            TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL,
    secret_lookup TEXT NOT NULL,
    secret_sha256 TEXT NOT NULL UNIQUE,
    csrf_sha256   TEXT NOT NULL,
    created_ms    BIGINT NOT NULL,
    last_ms       BIGINT NOT NULL,
    expires_ms    BIGINT NOT NULL
);
CREATE INDEX sessions_lookup ON sessions (secret_lookup);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE TABLE api_audit (
    at_ms   BIGINT NOT NULL,
    actor   TEXT NOT NULL,
    method  TEXT NOT NULL,
    path    TEXT NOT NULL,
    status  BIGINT NOT NULL,
    detail  TEXT NOT NULL
);
CREATE INDEX api_audit_at ON api_audit (at_ms);
CREATE INDEX api_audit_actor ON api_audit (actor, at_ms);
";

/// Response actions with their timeline, live-response sessions, and the files actions bring
/// back or the library holds.
const RESPONSE_ACTIONS: &str = "
CREATE TABLE actions (
    id              TEXT PRIMARY KEY,
    device_id       TEXT NOT NULL,
    kind            TEXT NOT NULL,
    args            TEXT NOT NULL,
    reason          TEXT NOT NULL,
    requested_by    TEXT NOT NULL,
    created_ms      BIGINT NOT NULL,
    expires_ms      BIGINT NOT NULL,
    status          TEXT NOT NULL,
    sent_ms         BIGINT,
    started_ms      BIGINT,
    finished_ms     BIGINT,
    result          TEXT,
    error           TEXT,
    undo_of         TEXT,
    session_id      TEXT
);
CREATE INDEX actions_device_status ON actions (device_id, status, created_ms);
CREATE INDEX actions_created ON actions (created_ms);
CREATE TABLE action_events (
    action_id   TEXT NOT NULL,
    at_ms       BIGINT NOT NULL,
    status      TEXT NOT NULL,
    actor       TEXT NOT NULL,
    detail      TEXT NOT NULL
);
CREATE INDEX action_events_action ON action_events (action_id, at_ms);
CREATE TABLE live_sessions (
    id          TEXT PRIMARY KEY,
    device_id   TEXT NOT NULL,
    opened_by   TEXT NOT NULL,
    opened_ms   BIGINT NOT NULL,
    closed_ms   BIGINT,
    last_ms     BIGINT NOT NULL
);
CREATE UNIQUE INDEX live_sessions_one_open ON live_sessions (device_id) WHERE closed_ms IS NULL;
CREATE TABLE files (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    name        TEXT NOT NULL,
    size        BIGINT NOT NULL,
    sha256      TEXT NOT NULL,
    device_id   TEXT,
    action_id   TEXT,
    created_ms  BIGINT NOT NULL,
    created_by  TEXT NOT NULL,
    description TEXT NOT NULL
);
CREATE INDEX files_action ON files (action_id);
";

/// Indicators with their change log (versions, tombstones), feeds, warning lists, and device
/// groups (which scope indicators).
const THREAT_INTEL: &str = "
CREATE TABLE indicators (
    id              BIGINT PRIMARY KEY,
    kind            TEXT NOT NULL,
    value           TEXT NOT NULL,
    action          TEXT NOT NULL,
    severity        TEXT NOT NULL,
    title           TEXT NOT NULL,
    description     TEXT NOT NULL,
    expires_ms      BIGINT,
    device_groups   TEXT NOT NULL,
    generate_alert  BIGINT NOT NULL,
    source          TEXT NOT NULL,
    reference       TEXT NOT NULL,
    first_seen_ms   BIGINT,
    labels          TEXT NOT NULL,
    created_ms      BIGINT NOT NULL,
    updated_ms      BIGINT NOT NULL,
    created_by      TEXT NOT NULL,
    version         BIGINT NOT NULL
);
CREATE UNIQUE INDEX indicators_source_value ON indicators (source, kind, value);
CREATE INDEX indicators_value ON indicators (kind, value);
CREATE INDEX indicators_version ON indicators (version, id);
CREATE INDEX indicators_expiry ON indicators (expires_ms);
CREATE TABLE indicator_tombstones (
    id          BIGINT PRIMARY KEY,
    version     BIGINT NOT NULL,
    deleted_ms  BIGINT NOT NULL
);
CREATE INDEX indicator_tombstones_version ON indicator_tombstones (version);
CREATE TABLE intel_meta (
    key     TEXT PRIMARY KEY,
    value   TEXT NOT NULL
);
CREATE TABLE feeds (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL UNIQUE,
    format          TEXT NOT NULL,
    url             TEXT NOT NULL,
    collection      TEXT,
    username        TEXT,
    secret          TEXT,
    interval_ms     BIGINT NOT NULL,
    action          TEXT NOT NULL,
    severity        TEXT NOT NULL,
    generate_alert  BIGINT NOT NULL,
    expire_after_ms BIGINT,
    enabled         BIGINT NOT NULL,
    cursor          TEXT,
    last_run_ms     BIGINT,
    last_ok_ms      BIGINT,
    last_status     TEXT,
    last_error      TEXT,
    last_count      BIGINT,
    created_ms      BIGINT NOT NULL,
    created_by      TEXT NOT NULL
);
CREATE TABLE warning_lists (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    body        TEXT NOT NULL,
    created_ms  BIGINT NOT NULL
);
ALTER TABLE devices ADD COLUMN device_group TEXT;
";

/// Custom detection rules and the hits each has already raised.
const CUSTOM_DETECTIONS: &str = "
CREATE TABLE custom_detections (
    id                  TEXT PRIMARY KEY,
    name                TEXT NOT NULL UNIQUE,
    query               TEXT NOT NULL,
    schedule            TEXT NOT NULL,
    lookback_ms         BIGINT NOT NULL,
    title               TEXT NOT NULL,
    description         TEXT NOT NULL,
    severity            TEXT NOT NULL,
    category            TEXT NOT NULL,
    techniques          TEXT NOT NULL,
    recommended_actions TEXT NOT NULL,
    actions             TEXT NOT NULL,
    enabled             BIGINT NOT NULL,
    owner               TEXT NOT NULL,
    created_ms          BIGINT NOT NULL,
    updated_ms          BIGINT NOT NULL,
    last_run_ms         BIGINT,
    next_run_ms         BIGINT NOT NULL,
    last_status         TEXT,
    last_error          TEXT,
    last_alerts         BIGINT NOT NULL
);
CREATE INDEX custom_detections_due ON custom_detections (enabled, next_run_ms);

CREATE TABLE custom_detection_hits (
    detection_id TEXT NOT NULL,
    hit_key      TEXT NOT NULL,
    at_ms        BIGINT NOT NULL,
    PRIMARY KEY (detection_id, hit_key)
);
";

/// Saved hunting queries.
const SAVED_QUERIES: &str = "
CREATE TABLE saved_queries (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    query       TEXT NOT NULL,
    description TEXT NOT NULL,
    owner       TEXT NOT NULL,
    shared      BIGINT NOT NULL,
    created_ms  BIGINT NOT NULL,
    updated_ms  BIGINT NOT NULL
);
CREATE UNIQUE INDEX saved_queries_owner_name ON saved_queries (owner, name);
";

/// Alert lifecycle (comments, audit), suppression rules, incidents and their entities, and
/// the enabled state of detection rules.
const ALERT_LIFECYCLE: &str = "
ALTER TABLE alerts ADD COLUMN incident_id TEXT;
ALTER TABLE alerts ADD COLUMN suppressed_by TEXT;
CREATE INDEX alerts_incident ON alerts (incident_id);
CREATE INDEX alerts_device ON alerts (device_id, last_ms);

CREATE TABLE comments (
    id           TEXT PRIMARY KEY,
    subject_kind TEXT NOT NULL,
    subject_id   TEXT NOT NULL,
    author       TEXT NOT NULL,
    created_ms   BIGINT NOT NULL,
    body         TEXT NOT NULL
);
CREATE INDEX comments_subject ON comments (subject_kind, subject_id, created_ms);

CREATE TABLE audit_log (
    id           TEXT PRIMARY KEY,
    subject_kind TEXT NOT NULL,
    subject_id   TEXT NOT NULL,
    actor        TEXT NOT NULL,
    at_ms        BIGINT NOT NULL,
    field        TEXT NOT NULL,
    old_value    TEXT,
    new_value    TEXT
);
CREATE INDEX audit_log_subject ON audit_log (subject_kind, subject_id, at_ms);

CREATE TABLE suppressions (
    id          TEXT PRIMARY KEY,
    rule_id     TEXT NOT NULL,
    conditions  TEXT NOT NULL,
    devices     TEXT NOT NULL,
    action      TEXT NOT NULL,
    expires_ms  BIGINT,
    comment     TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    created_ms  BIGINT NOT NULL,
    hits        BIGINT NOT NULL DEFAULT 0,
    last_hit_ms BIGINT
);
CREATE INDEX suppressions_rule ON suppressions (rule_id);

CREATE TABLE incidents (
    id             TEXT PRIMARY KEY,
    title          TEXT NOT NULL,
    severity       TEXT NOT NULL,
    status         TEXT NOT NULL DEFAULT 'New',
    classification TEXT,
    determination  TEXT,
    assignee       TEXT,
    first_ms       BIGINT NOT NULL,
    last_ms        BIGINT NOT NULL,
    alert_count    BIGINT NOT NULL,
    devices        TEXT NOT NULL,
    tactics        TEXT NOT NULL,
    techniques     TEXT NOT NULL,
    created_ms     BIGINT NOT NULL,
    updated_ms     BIGINT NOT NULL
);
CREATE INDEX incidents_last ON incidents (last_ms);

CREATE TABLE incident_entities (
    incident_id TEXT NOT NULL,
    kind        TEXT NOT NULL,
    value       TEXT NOT NULL,
    last_ms     BIGINT NOT NULL,
    PRIMARY KEY (incident_id, kind, value)
);
CREATE INDEX incident_entities_lookup ON incident_entities (kind, value, last_ms);

CREATE TABLE rule_states (
    rule_id    TEXT PRIMARY KEY,
    enabled    BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL,
    updated_by TEXT NOT NULL
);
";

const ALERTS: &str = "
CREATE TABLE alerts (
    id               TEXT PRIMARY KEY,
    group_key        TEXT NOT NULL,
    rule_id          TEXT NOT NULL,
    title            TEXT NOT NULL,
    severity         TEXT NOT NULL,
    category         TEXT NOT NULL,
    techniques       TEXT NOT NULL,
    detection_source TEXT NOT NULL,
    device_id        TEXT NOT NULL,
    first_ms         BIGINT NOT NULL,
    last_ms          BIGINT NOT NULL,
    hits             BIGINT NOT NULL,
    evidence         TEXT NOT NULL,
    status           TEXT NOT NULL DEFAULT 'New',
    classification   TEXT,
    determination    TEXT,
    assignee         TEXT,
    created_ms       BIGINT NOT NULL,
    updated_ms       BIGINT NOT NULL
);
CREATE INDEX alerts_group ON alerts (group_key, last_ms);
CREATE INDEX alerts_last ON alerts (last_ms);
";

const INITIAL: &str = "
CREATE TABLE enrollment_tokens (
    id            TEXT PRIMARY KEY,
    label         TEXT NOT NULL,
    secret_lookup TEXT NOT NULL,
    secret_sha256 TEXT NOT NULL UNIQUE,
    created_ms    BIGINT NOT NULL,
    expires_ms    BIGINT,
    max_uses      BIGINT,
    uses          BIGINT NOT NULL DEFAULT 0,
    revoked       BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX enrollment_tokens_secret_lookup ON enrollment_tokens (secret_lookup);

CREATE TABLE devices (
    id                  TEXT PRIMARY KEY,
    name                TEXT NOT NULL,
    enrolled_ms         BIGINT NOT NULL,
    enrollment_token_id TEXT REFERENCES enrollment_tokens (id),
    cert_serial         TEXT NOT NULL,
    cert_fingerprint    TEXT NOT NULL,
    cert_not_after_ms   BIGINT NOT NULL,
    revoked_ms          BIGINT,
    last_seen_ms        BIGINT,
    health              TEXT,
    agent_version       TEXT,
    os_platform         TEXT,
    os_version          TEXT,
    kernel              TEXT,
    ip                  TEXT,
    sensor_mode         TEXT,
    health_detail       TEXT,
    events_received     BIGINT NOT NULL DEFAULT 0,
    events_dropped      BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE api_tokens (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    role          TEXT NOT NULL,
    secret_lookup TEXT NOT NULL,
    secret_sha256 TEXT NOT NULL UNIQUE,
    created_ms    BIGINT NOT NULL,
    revoked_ms    BIGINT
);
CREATE INDEX api_tokens_secret_lookup ON api_tokens (secret_lookup);

CREATE TABLE users (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    role       TEXT NOT NULL,
    created_ms BIGINT NOT NULL
);
";

const CREATE_SCHEMA_MIGRATIONS: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    version    BIGINT PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at BIGINT NOT NULL
)";
const SELECT_APPLIED: &str =
    "SELECT version, name, applied_at FROM schema_migrations ORDER BY version";
const SELECT_ONE: &str = "SELECT version FROM schema_migrations WHERE version = $1";
const INSERT_APPLIED: &str =
    "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)";

/// Apply the pending migrations of `migrations`; returns the versions applied now.
pub(crate) async fn run(
    pool: &SqlitePool,
    migrations: &[Migration],
) -> Result<Vec<i64>, StateError> {
    debug_assert!(migrations.windows(2).all(|w| w[0].version < w[1].version));
    sqlx::query(CREATE_SCHEMA_MIGRATIONS)
        .execute(pool)
        .await
        .map_err(StateError::db("create the schema_migrations table"))?;
    let done: Vec<i64> = applied(pool).await?.iter().map(|m| m.version).collect();
    let known = migrations.last().map_or(0, |m| m.version);
    if let Some(&found) = done.iter().max().filter(|&&v| v > known) {
        return Err(StateError::SchemaTooNew { found, known });
    }
    let mut now_applied = Vec::new();
    for m in migrations.iter().filter(|m| !done.contains(&m.version)) {
        let failed = |source| StateError::Migration {
            version: m.version,
            name: m.name,
            source,
        };
        let mut tx = pool.begin().await.map_err(failed)?;
        // Another process may have applied it since we looked.
        let present = sqlx::query(SELECT_ONE)
            .bind(m.version)
            .fetch_optional(&mut *tx)
            .await
            .map_err(failed)?;
        if present.is_some() {
            continue;
        }
        sqlx::raw_sql(m.sql)
            .execute(&mut *tx)
            .await
            .map_err(failed)?;
        sqlx::query(INSERT_APPLIED)
            .bind(m.version)
            .bind(m.name)
            .bind(wall_clock_ms())
            .execute(&mut *tx)
            .await
            .map_err(failed)?;
        tx.commit().await.map_err(failed)?;
        now_applied.push(m.version);
    }
    Ok(now_applied)
}

/// The rows of `schema_migrations`, oldest first.
pub(crate) async fn applied(pool: &SqlitePool) -> Result<Vec<AppliedMigration>, StateError> {
    let rows = sqlx::query(SELECT_APPLIED)
        .fetch_all(pool)
        .await
        .map_err(StateError::db("read schema_migrations"))?;
    rows.iter()
        .map(|row| {
            Ok(AppliedMigration {
                version: row.try_get("version")?,
                name: row.try_get("name")?,
                applied_at_ms: row.try_get("applied_at")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(StateError::db("read schema_migrations"))
}

fn wall_clock_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use sqlx::sqlite::SqlitePoolOptions;

    use super::*;

    async fn memory_pool() -> SqlitePool {
        SqlitePoolOptions::new()
            .max_connections(1)
            .connect("sqlite::memory:")
            .await
            .unwrap()
    }

    async fn tables(pool: &SqlitePool) -> Vec<String> {
        sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .fetch_all(pool)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn applies_pending_migrations_once() {
        let pool = memory_pool().await;
        let first = &MIGRATIONS[..1];
        assert_eq!(run(&pool, first).await.unwrap(), vec![1]);
        assert_eq!(run(&pool, first).await.unwrap(), Vec::<i64>::new());
        let more = [
            Migration {
                version: 1,
                name: "initial",
                sql: INITIAL,
            },
            Migration {
                version: 2,
                name: "notes",
                sql: "CREATE TABLE notes (id TEXT PRIMARY KEY)",
            },
        ];
        assert_eq!(run(&pool, &more).await.unwrap(), vec![2]);
        assert!(tables(&pool).await.contains(&"notes".to_string()));
    }

    #[tokio::test]
    async fn failed_migration_is_rolled_back_whole() {
        let pool = memory_pool().await;
        run(&pool, &MIGRATIONS[..1]).await.unwrap();
        let broken = [
            Migration {
                version: 1,
                name: "initial",
                sql: INITIAL,
            },
            Migration {
                version: 2,
                name: "half",
                sql: "CREATE TABLE half (id TEXT); CREATE TABLE oops (",
            },
        ];
        let err = run(&pool, &broken).await.unwrap_err();
        assert!(
            err.to_string()
                .starts_with("state database migration 2 (half) failed"),
            "{err}"
        );
        assert!(!tables(&pool).await.contains(&"half".to_string()));
        let versions: Vec<i64> = applied(&pool)
            .await
            .unwrap()
            .iter()
            .map(|m| m.version)
            .collect();
        assert_eq!(versions, vec![1]);
    }

    #[tokio::test]
    async fn newer_database_is_refused() {
        let pool = memory_pool().await;
        run(&pool, MIGRATIONS).await.unwrap();
        sqlx::query(INSERT_APPLIED)
            .bind(99_i64)
            .bind("future")
            .bind(0_i64)
            .execute(&pool)
            .await
            .unwrap();
        let err = run(&pool, MIGRATIONS).await.unwrap_err();
        assert!(
            matches!(
                err,
                StateError::SchemaTooNew {
                    found: 99,
                    known
                } if known == MIGRATIONS.last().unwrap().version
            ),
            "{err}"
        );
    }
}
