//! Enrolment tokens: what an agent presents, once, to get its device certificate.
//!
//! The secret (`vet_` + 64 hex digits) is returned once by
//! [`StateStore::create_enrollment_token`] and stored only as SHA-256. A token may expire
//! (`expires_ms`), be limited in uses (`max_uses`) and be revoked. Redeeming checks and counts
//! a use in one conditional `UPDATE .. RETURNING`, so concurrent redeems of a token with one
//! use left succeed exactly once; only when that update matches nothing is the row read again
//! to say why.

use std::time::Duration;

use sqlx::sqlite::SqliteRow;
use sqlx::Row;

use crate::secret::{check_name, ct_eq, hash, lookup, new_id, new_secret, to_u32};
use crate::{RedeemError, StateError, StateStore};

/// The prefix of every enrolment token secret.
pub const ENROLLMENT_TOKEN_PREFIX: &str = "vet_";

/// An enrolment token, without its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrollmentToken {
    /// `et_` + 16 hex digits; not secret.
    pub id: String,
    /// Free text given at creation (for example the fleet it is meant for).
    pub label: String,
    /// Creation time, unix milliseconds.
    pub created_ms: i64,
    /// When the token stops working, unix milliseconds; `None`: never.
    pub expires_ms: Option<i64>,
    /// How many enrolments the token allows; `None`: unlimited.
    pub max_uses: Option<u32>,
    /// How many enrolments it has allowed so far.
    pub uses: u32,
    /// Whether it has been revoked.
    pub revoked: bool,
}

const INSERT: &str = "INSERT INTO enrollment_tokens
    (id, label, secret_lookup, secret_sha256, created_ms, expires_ms, max_uses, uses, revoked)
    VALUES ($1, $2, $3, $4, $5, $6, $7, 0, 0)";
const LIST: &str = "SELECT id, label, created_ms, expires_ms, max_uses, uses, revoked
    FROM enrollment_tokens ORDER BY created_ms, id";
const GET: &str = "SELECT id, label, created_ms, expires_ms, max_uses, uses, revoked
    FROM enrollment_tokens WHERE id = $1";
const REVOKE: &str = "UPDATE enrollment_tokens SET revoked = 1 WHERE id = $1";
const CANDIDATES: &str = "SELECT id, secret_sha256 FROM enrollment_tokens WHERE secret_lookup = $1";
const REDEEM: &str = "UPDATE enrollment_tokens SET uses = uses + 1
    WHERE id = $1
      AND revoked = 0
      AND (expires_ms IS NULL OR expires_ms > $2)
      AND (max_uses IS NULL OR uses < max_uses)
    RETURNING id, label, created_ms, expires_ms, max_uses, uses, revoked";

/// How often a redeem is retried when the token changed between the update and the read
/// that explains why the update matched nothing.
const REDEEM_ATTEMPTS: usize = 3;

impl StateStore {
    /// A new enrolment token valid for `ttl` from `now_ms` (`None`: no expiry) and
    /// `max_uses` enrolments (`None`: unlimited). Returns the token and its secret, which is
    /// not stored and cannot be shown again.
    pub async fn create_enrollment_token(
        &self,
        label: &str,
        ttl: Option<Duration>,
        max_uses: Option<u32>,
        now_ms: i64,
    ) -> Result<(EnrollmentToken, String), StateError> {
        check_name("enrolment token label", label, false)?;
        if max_uses == Some(0) {
            return Err(StateError::invalid(
                "enrolment token max uses",
                "0",
                "must be at least 1",
            ));
        }
        let expires_ms = match ttl {
            None => None,
            Some(ttl) => Some(expiry(ttl, now_ms)?),
        };
        let token = EnrollmentToken {
            id: new_id("et_"),
            label: label.to_string(),
            created_ms: now_ms,
            expires_ms,
            max_uses,
            uses: 0,
            revoked: false,
        };
        let secret = new_secret(ENROLLMENT_TOKEN_PREFIX);
        let hashed = hash(&secret);
        sqlx::query(INSERT)
            .bind(&token.id)
            .bind(&token.label)
            .bind(lookup(&hashed))
            .bind(&hashed)
            .bind(token.created_ms)
            .bind(token.expires_ms)
            .bind(token.max_uses.map(i64::from))
            .execute(&self.pool)
            .await
            .map_err(StateError::db("create an enrolment token"))?;
        Ok((token, secret))
    }

    /// Every enrolment token, oldest first, including expired, used-up and revoked ones.
    pub async fn list_enrollment_tokens(&self) -> Result<Vec<EnrollmentToken>, StateError> {
        let rows = sqlx::query(LIST)
            .fetch_all(&self.pool)
            .await
            .map_err(StateError::db("list enrolment tokens"))?;
        rows.iter().map(from_row).collect()
    }

    /// One enrolment token by id.
    pub async fn enrollment_token(&self, id: &str) -> Result<Option<EnrollmentToken>, StateError> {
        let row = sqlx::query(GET)
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(StateError::db("read an enrolment token"))?;
        row.as_ref().map(from_row).transpose()
    }

    /// Revoke an enrolment token: it can no longer be redeemed. Devices already enrolled with
    /// it are not affected. Revoking twice is not an error.
    pub async fn revoke_enrollment_token(&self, id: &str) -> Result<(), StateError> {
        let done = sqlx::query(REVOKE)
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(StateError::db("revoke an enrolment token"))?;
        if done.rows_affected() == 0 {
            return Err(StateError::NotFound {
                what: "enrolment token",
                id: id.to_string(),
            });
        }
        Ok(())
    }

    /// Atomically check the token with this secret and count one use. Returns the token as it
    /// is after this use; fails with [`RedeemError::Unknown`], `Revoked`, `Expired` or
    /// `Exhausted` (in that order of precedence) and then counts nothing.
    pub async fn redeem_enrollment_token(
        &self,
        secret: &str,
        now_ms: i64,
    ) -> Result<EnrollmentToken, RedeemError> {
        let id = self.token_id_for_secret(secret).await?;
        for _ in 0..REDEEM_ATTEMPTS {
            let row = sqlx::query(REDEEM)
                .bind(&id)
                .bind(now_ms)
                .fetch_optional(&self.pool)
                .await
                .map_err(StateError::db("redeem an enrolment token"))?;
            if let Some(row) = row {
                return Ok(from_row(&row)?);
            }
            let Some(token) = self.enrollment_token(&id).await? else {
                return Err(RedeemError::Unknown);
            };
            if let Some(e) = why_not_redeemable(&token, now_ms) {
                return Err(e);
            }
            // The token changed between the two statements; try again.
        }
        Err(StateError::Conflict {
            op: "redeem an enrolment token",
            reason: format!("token {id} kept changing during {REDEEM_ATTEMPTS} attempts"),
        }
        .into())
    }

    /// The id of the token whose stored hash equals the secret's, compared in constant time.
    async fn token_id_for_secret(&self, secret: &str) -> Result<String, RedeemError> {
        let hashed = hash(secret);
        let rows = sqlx::query(CANDIDATES)
            .bind(lookup(&hashed))
            .fetch_all(&self.pool)
            .await
            .map_err(StateError::db("look up an enrolment token"))?;
        for row in rows {
            let stored: String = row
                .try_get("secret_sha256")
                .map_err(StateError::db("look up an enrolment token"))?;
            if ct_eq(stored.as_bytes(), hashed.as_bytes()) {
                return row
                    .try_get("id")
                    .map_err(|e| StateError::db("look up an enrolment token")(e).into());
            }
        }
        Err(RedeemError::Unknown)
    }
}

/// Why `token` cannot be redeemed at `now_ms`, if it cannot.
fn why_not_redeemable(token: &EnrollmentToken, now_ms: i64) -> Option<RedeemError> {
    let id = token.id.clone();
    if token.revoked {
        return Some(RedeemError::Revoked { id });
    }
    if let Some(at_ms) = token.expires_ms.filter(|&at| at <= now_ms) {
        return Some(RedeemError::Expired { id, at_ms });
    }
    if let Some(max_uses) = token.max_uses.filter(|&max| token.uses >= max) {
        return Some(RedeemError::Exhausted {
            id,
            uses: token.uses,
            max_uses,
        });
    }
    None
}

/// `now_ms + ttl`, refusing a zero or absurdly long ttl.
fn expiry(ttl: Duration, now_ms: i64) -> Result<i64, StateError> {
    let shown = format!("{ttl:?}");
    if ttl.as_millis() == 0 {
        return Err(StateError::invalid(
            "enrolment token ttl",
            &shown,
            "must be at least 1 ms",
        ));
    }
    i64::try_from(ttl.as_millis())
        .ok()
        .and_then(|ms| now_ms.checked_add(ms))
        .ok_or_else(|| StateError::invalid("enrolment token ttl", &shown, "is too long"))
}

fn from_row(row: &SqliteRow) -> Result<EnrollmentToken, StateError> {
    let read = StateError::db("read an enrolment token");
    let get = || -> Result<_, sqlx::Error> {
        Ok((
            row.try_get::<String, _>("id")?,
            row.try_get::<String, _>("label")?,
            row.try_get::<i64, _>("created_ms")?,
            row.try_get::<Option<i64>, _>("expires_ms")?,
            row.try_get::<Option<i64>, _>("max_uses")?,
            row.try_get::<i64, _>("uses")?,
            row.try_get::<i64, _>("revoked")?,
        ))
    };
    let (id, label, created_ms, expires_ms, max_uses, uses, revoked) = get().map_err(read)?;
    Ok(EnrollmentToken {
        id,
        label,
        created_ms,
        expires_ms,
        max_uses: max_uses
            .map(|m| to_u32("enrollment_tokens.max_uses", m))
            .transpose()?,
        uses: to_u32("enrollment_tokens.uses", uses)?,
        revoked: revoked != 0,
    })
}
