//! API tokens: bearer secrets for the HTTP API and the CLI.
//!
//! The server creates an admin token at first start and writes its secret to a file; more
//! tokens are created through the API. The secret (`vat_` + 64 hex digits) is returned once
//! and stored only as SHA-256; verifying looks up candidates by a prefix of the hash and
//! compares the full hash in constant time. A revoked token no longer verifies.

use sqlx::sqlite::SqliteRow;
use sqlx::Row;

use crate::secret::{check_name, check_role, ct_eq, hash, lookup, new_id, new_secret};
use crate::{StateError, StateStore};

/// The prefix of every API token secret.
pub const API_TOKEN_PREFIX: &str = "vat_";

/// An API token, without its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    /// `at_` + 16 hex digits; not secret.
    pub id: String,
    /// What the token is for.
    pub name: String,
    /// The role it acts with (for example `admin`); roles are enforced by the API.
    pub role: String,
    /// Creation time, unix milliseconds.
    pub created_ms: i64,
    /// When it was revoked, unix milliseconds; `None`: valid.
    pub revoked_ms: Option<i64>,
    /// Device groups it is limited to; empty: every device.
    pub device_groups: Vec<String>,
}

const INSERT: &str = "INSERT INTO api_tokens
    (id, name, role, secret_lookup, secret_sha256, created_ms, revoked_ms, device_groups)
    VALUES ($1, $2, $3, $4, $5, $6, NULL, $7)";
const LIST: &str = "SELECT id, name, role, created_ms, revoked_ms, device_groups
    FROM api_tokens ORDER BY created_ms, id";
const CANDIDATES: &str =
    "SELECT id, name, role, created_ms, revoked_ms, secret_sha256, device_groups
    FROM api_tokens WHERE secret_lookup = $1";
const REVOKE: &str = "UPDATE api_tokens SET revoked_ms = COALESCE(revoked_ms, $2) WHERE id = $1";

impl StateStore {
    /// A new API token named `name` acting as `role`. Returns the token and its secret, which
    /// is not stored and cannot be shown again.
    pub async fn create_api_token(
        &self,
        name: &str,
        role: &str,
        now_ms: i64,
    ) -> Result<(ApiToken, String), StateError> {
        self.create_scoped_api_token(name, role, &[], now_ms).await
    }

    /// A new API token limited to `device_groups` (empty: every device).
    pub async fn create_scoped_api_token(
        &self,
        name: &str,
        role: &str,
        device_groups: &[String],
        now_ms: i64,
    ) -> Result<(ApiToken, String), StateError> {
        check_name("api token name", name, true)?;
        check_role(role)?;
        for g in device_groups {
            check_name("device group", g, true)?;
        }
        let token = ApiToken {
            id: new_id("at_"),
            name: name.to_string(),
            role: role.to_string(),
            created_ms: now_ms,
            revoked_ms: None,
            device_groups: device_groups.to_vec(),
        };
        let secret = new_secret(API_TOKEN_PREFIX);
        let hashed = hash(&secret);
        sqlx::query(INSERT)
            .bind(&token.id)
            .bind(&token.name)
            .bind(&token.role)
            .bind(lookup(&hashed))
            .bind(&hashed)
            .bind(token.created_ms)
            .bind(serde_json::to_string(&token.device_groups).unwrap_or_else(|_| "[]".into()))
            .execute(&self.pool)
            .await
            .map_err(StateError::db("create an api token"))?;
        Ok((token, secret))
    }

    /// The valid (not revoked) token with this secret, if any.
    pub async fn verify_api_token(&self, secret: &str) -> Result<Option<ApiToken>, StateError> {
        let hashed = hash(secret);
        let rows = sqlx::query(CANDIDATES)
            .bind(lookup(&hashed))
            .fetch_all(&self.pool)
            .await
            .map_err(StateError::db("verify an api token"))?;
        for row in &rows {
            let stored: String = row
                .try_get("secret_sha256")
                .map_err(StateError::db("verify an api token"))?;
            if ct_eq(stored.as_bytes(), hashed.as_bytes()) {
                let token = from_row(row)?;
                return Ok(token.revoked_ms.is_none().then_some(token));
            }
        }
        Ok(None)
    }

    /// Every API token, oldest first, including revoked ones.
    pub async fn list_api_tokens(&self) -> Result<Vec<ApiToken>, StateError> {
        let rows = sqlx::query(LIST)
            .fetch_all(&self.pool)
            .await
            .map_err(StateError::db("list api tokens"))?;
        rows.iter().map(from_row).collect()
    }

    /// Revoke an API token at `now_ms`; revoking twice keeps the first time.
    pub async fn revoke_api_token(&self, id: &str, now_ms: i64) -> Result<(), StateError> {
        let done = sqlx::query(REVOKE)
            .bind(id)
            .bind(now_ms)
            .execute(&self.pool)
            .await
            .map_err(StateError::db("revoke an api token"))?;
        if done.rows_affected() == 0 {
            return Err(StateError::NotFound {
                what: "api token",
                id: id.to_string(),
            });
        }
        Ok(())
    }
}

fn from_row(row: &SqliteRow) -> Result<ApiToken, StateError> {
    let get = || -> Result<_, sqlx::Error> {
        Ok(ApiToken {
            id: row.try_get("id")?,
            name: row.try_get("name")?,
            role: row.try_get("role")?,
            created_ms: row.try_get("created_ms")?,
            revoked_ms: row.try_get("revoked_ms")?,
            device_groups: serde_json::from_str(
                row.try_get::<Option<String>, _>("device_groups")?
                    .as_deref()
                    .unwrap_or("[]"),
            )
            .unwrap_or_default(),
        })
    };
    get().map_err(StateError::db("read an api token"))
}
