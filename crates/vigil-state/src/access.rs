//! Access control: roles and their permissions, console users with argon2 password hashes,
//! login sessions (cookie secret and CSRF token, both stored only as SHA-256), the principal a
//! request acts as, and the audit log of every change made through the API.
//!
//! **Roles.** Three are built in: `administrator` (everything), `security-operator` (see,
//! triage, hunt, manage detections and indicators, respond, live response) and
//! `security-reader` (see and hunt). Custom roles pick from [`PERMISSIONS`]. A user or API token
//! has one role and, optionally, device groups that limit which devices it sees and acts on
//! (none: every device).
//!
//! **Sessions.** A login returns a random session secret (the cookie) and a CSRF token; both
//! are stored hashed. A session ends at logout, after [`SESSION_IDLE_MS`] without use, after
//! [`SESSION_MAX_MS`] in all, or when its user is disabled or deleted; a secret from an ended
//! session never works again.
//!
//! **Invariant:** passwords are stored only as argon2 hashes; session and CSRF secrets only as
//! SHA-256. A failed login says the same thing whether the user exists or not.

use std::collections::BTreeSet;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use sqlx::sqlite::SqliteRow;
use sqlx::Row;

use crate::secret::{check_name, ct_eq, hash, lookup, new_id, new_secret};
use crate::{StateError, StateStore};

/// Everything a role can be allowed.
pub const PERMISSIONS: &[&str] = &[
    // See devices, alerts, incidents, telemetry, indicators, actions, rules.
    "read",
    // Change alerts and incidents (status, classification, assignee, comments).
    "triage",
    // Run KQL and SQL, keep saved queries.
    "hunt",
    // Custom detections, rule switches, suppressions.
    "detections",
    // Indicators, feeds, warning lists.
    "intel",
    // Response actions and the file library.
    "respond",
    // Live-response sessions.
    "live",
    // Users, roles, API and enrolment tokens, devices (revoke, groups), settings.
    "settings",
];
/// The built-in roles: (name, description, permissions).
pub const BUILTIN_ROLES: &[(&str, &str, &[&str])] = &[
    (
        "administrator",
        "Everything, including users, roles and settings",
        PERMISSIONS,
    ),
    (
        "security-operator",
        "Investigate, triage, hunt, manage detections and indicators, respond",
        &[
            "read",
            "triage",
            "hunt",
            "detections",
            "intel",
            "respond",
            "live",
        ],
    ),
    (
        "security-reader",
        "See everything and hunt; change nothing",
        &["read", "hunt"],
    ),
];
/// A session ends after this long without a request.
pub const SESSION_IDLE_MS: i64 = 60 * 60_000;
/// A session ends this long after login whatever its use.
pub const SESSION_MAX_MS: i64 = 12 * 60 * 60_000;
/// The prefix of session secrets (the cookie's value).
pub const SESSION_PREFIX: &str = "vss_";
/// The shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 12;

/// A role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    pub name: String,
    pub description: String,
    pub permissions: BTreeSet<String>,
    pub builtin: bool,
}

/// A console user (no password: it is never read back).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleUser {
    pub id: String,
    pub name: String,
    pub role: String,
    pub device_groups: Vec<String>,
    pub disabled: bool,
    pub created_ms: i64,
}

/// Who a request acts as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The user's or API token's name (the actor in comments and the audit log).
    pub name: String,
    pub role: String,
    pub permissions: BTreeSet<String>,
    /// Empty: every device.
    pub device_groups: Vec<String>,
    /// `session` (a console login) or `token` (an API token).
    pub via: &'static str,
    /// The session's id (sessions only).
    pub session_id: Option<String>,
}

impl Principal {
    pub fn can(&self, permission: &str) -> bool {
        self.permissions.contains(permission)
    }

    /// Whether a device in `group` is within this principal's scope.
    pub fn sees_group(&self, group: Option<&str>) -> bool {
        self.device_groups.is_empty()
            || group.is_some_and(|g| self.device_groups.iter().any(|x| x == g))
    }
}

/// A new login: the cookie secret and the CSRF token, shown once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Login {
    pub session_id: String,
    pub secret: String,
    pub csrf: String,
    pub principal: Principal,
    pub expires_ms: i64,
}

/// One change made through the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    pub at_ms: i64,
    pub actor: String,
    pub method: String,
    pub path: String,
    pub status: i64,
    pub detail: String,
}

fn check_permissions(list: &[String]) -> Result<BTreeSet<String>, StateError> {
    let mut out = BTreeSet::new();
    for p in list {
        if !PERMISSIONS.contains(&p.as_str()) {
            return Err(StateError::invalid(
                "permission",
                p,
                format!("must be one of {}", PERMISSIONS.join(", ")),
            ));
        }
        out.insert(p.clone());
    }
    Ok(out)
}

fn check_role_name(name: &str) -> Result<(), StateError> {
    crate::secret::check_role(name)
}

fn hash_password(password: &str) -> Result<String, StateError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(StateError::invalid(
            "password",
            "(not shown)",
            format!("must have at least {MIN_PASSWORD_CHARS} characters"),
        ));
    }
    let salt =
        SaltString::encode_b64(&rand::random::<[u8; 16]>()).map_err(|e| StateError::Conflict {
            op: "hash a password",
            reason: e.to_string(),
        })?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| StateError::Conflict {
            op: "hash a password",
            reason: e.to_string(),
        })
}

fn groups_json(groups: &[String]) -> Result<String, StateError> {
    for g in groups {
        check_name("device group", g, true)?;
    }
    Ok(serde_json::to_string(groups).unwrap_or_else(|_| "[]".into()))
}

fn groups_from(text: &str) -> Vec<String> {
    serde_json::from_str(text).unwrap_or_default()
}

fn user_from_row(r: &SqliteRow) -> ConsoleUser {
    ConsoleUser {
        id: r.get("id"),
        name: r.get("name"),
        role: r.get("role"),
        device_groups: groups_from(
            r.get::<Option<String>, _>("device_groups")
                .as_deref()
                .unwrap_or("[]"),
        ),
        disabled: r.get::<Option<i64>, _>("disabled").unwrap_or(0) != 0,
        created_ms: r.get("created_ms"),
    }
}

impl StateStore {
    /// Every role, built-in first.
    pub async fn roles(&self) -> Result<Vec<Role>, StateError> {
        let mut out: Vec<Role> = BUILTIN_ROLES
            .iter()
            .map(|(n, d, p)| Role {
                name: n.to_string(),
                description: d.to_string(),
                permissions: p.iter().map(|s| s.to_string()).collect(),
                builtin: true,
            })
            .collect();
        let rows = sqlx::query("SELECT name, description, permissions FROM roles ORDER BY name")
            .fetch_all(&self.pool)
            .await
            .map_err(StateError::db("list roles"))?;
        for r in rows {
            out.push(Role {
                name: r.get("name"),
                description: r.get("description"),
                permissions: serde_json::from_str::<Vec<String>>(r.get("permissions"))
                    .unwrap_or_default()
                    .into_iter()
                    .collect(),
                builtin: false,
            });
        }
        Ok(out)
    }

    /// One role by name.
    pub async fn role(&self, name: &str) -> Result<Role, StateError> {
        self.roles()
            .await?
            .into_iter()
            .find(|r| r.name == name)
            .ok_or_else(|| StateError::NotFound {
                what: "role",
                id: name.to_string(),
            })
    }

    /// A custom role.
    pub async fn create_role(
        &self,
        name: &str,
        description: &str,
        permissions: &[String],
        now_ms: i64,
    ) -> Result<Role, StateError> {
        check_role_name(name)?;
        check_name("role description", description, false)?;
        let perms = check_permissions(permissions)?;
        if perms.is_empty() {
            return Err(StateError::invalid(
                "role",
                name,
                "needs at least one permission",
            ));
        }
        if self.role(name).await.is_ok() {
            return Err(StateError::AlreadyExists {
                what: "role",
                value: name.to_string(),
            });
        }
        sqlx::query("INSERT INTO roles (name, description, permissions, created_ms) VALUES ($1, $2, $3, $4)")
            .bind(name)
            .bind(description)
            .bind(serde_json::to_string(&perms).unwrap_or_default())
            .bind(now_ms)
            .execute(&self.pool)
            .await
            .map_err(StateError::db("create a role"))?;
        self.role(name).await
    }

    /// Delete a custom role nobody has.
    pub async fn delete_role(&self, name: &str) -> Result<(), StateError> {
        let role = self.role(name).await?;
        if role.builtin {
            return Err(StateError::invalid("role", name, "is built in"));
        }
        let users: i64 = sqlx::query_scalar(
            "SELECT (SELECT COUNT(*) FROM users WHERE role = $1) + \
             (SELECT COUNT(*) FROM api_tokens WHERE role = $1 AND revoked_ms IS NULL)",
        )
        .bind(name)
        .fetch_one(&self.pool)
        .await
        .map_err(StateError::db("delete a role"))?;
        if users > 0 {
            return Err(StateError::invalid(
                "role",
                name,
                format!("is held by {users} user(s) or token(s)"),
            ));
        }
        sqlx::query("DELETE FROM roles WHERE name = $1")
            .bind(name)
            .execute(&self.pool)
            .await
            .map_err(StateError::db("delete a role"))?;
        Ok(())
    }

    /// A console user with a password.
    pub async fn create_console_user(
        &self,
        name: &str,
        password: &str,
        role: &str,
        device_groups: &[String],
        now_ms: i64,
    ) -> Result<ConsoleUser, StateError> {
        check_name("user name", name, true)?;
        self.role(role).await?;
        let groups = groups_json(device_groups)?;
        let hashed = hash_password(password)?;
        let id = new_id("u_");
        let res = sqlx::query(
            "INSERT INTO users (id, name, role, created_ms, password_hash, device_groups, disabled) \
             VALUES ($1, $2, $3, $4, $5, $6, 0)",
        )
        .bind(&id)
        .bind(name)
        .bind(role)
        .bind(now_ms)
        .bind(hashed)
        .bind(groups)
        .execute(&self.pool)
        .await;
        match res {
            Ok(_) => self.console_user(name).await,
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                Err(StateError::AlreadyExists {
                    what: "user",
                    value: name.to_string(),
                })
            }
            Err(e) => Err(StateError::db("create a user")(e)),
        }
    }

    /// A user by name or id.
    pub async fn console_user(&self, name_or_id: &str) -> Result<ConsoleUser, StateError> {
        let row = sqlx::query(
            "SELECT id, name, role, created_ms, device_groups, disabled FROM users \
             WHERE name = $1 OR id = $1",
        )
        .bind(name_or_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(StateError::db("read a user"))?;
        row.as_ref()
            .map(user_from_row)
            .ok_or_else(|| StateError::NotFound {
                what: "user",
                id: name_or_id.to_string(),
            })
    }

    pub async fn console_users(&self) -> Result<Vec<ConsoleUser>, StateError> {
        let rows = sqlx::query(
            "SELECT id, name, role, created_ms, device_groups, disabled FROM users ORDER BY name",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(StateError::db("list users"))?;
        Ok(rows.iter().map(user_from_row).collect())
    }

    /// Change a user's role, groups, password or disabled flag (`None` keeps it). Disabling
    /// a user or changing the password ends their sessions.
    pub async fn update_console_user(
        &self,
        name: &str,
        role: Option<&str>,
        device_groups: Option<&[String]>,
        password: Option<&str>,
        disabled: Option<bool>,
    ) -> Result<ConsoleUser, StateError> {
        let user = self.console_user(name).await?;
        if let Some(r) = role {
            self.role(r).await?;
        }
        let groups = device_groups.map(groups_json).transpose()?;
        let hashed = password.map(hash_password).transpose()?;
        let op = "update a user";
        let mut tx = StateStore::begin_write(&self.pool)
            .await
            .map_err(StateError::db(op))?;
        sqlx::query(
            "UPDATE users SET role = COALESCE($2, role), device_groups = COALESCE($3, device_groups), \
             password_hash = COALESCE($4, password_hash), disabled = COALESCE($5, disabled) WHERE id = $1",
        )
        .bind(&user.id)
        .bind(role)
        .bind(groups)
        .bind(hashed.as_deref())
        .bind(disabled.map(i64::from))
        .execute(&mut *tx)
        .await
        .map_err(StateError::db(op))?;
        if password.is_some() || disabled == Some(true) || role.is_some() {
            sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                .bind(&user.id)
                .execute(&mut *tx)
                .await
                .map_err(StateError::db(op))?;
        }
        tx.commit().await.map_err(StateError::db(op))?;
        self.console_user(&user.id).await
    }

    /// Delete a user and end their sessions.
    pub async fn delete_console_user(&self, name: &str) -> Result<(), StateError> {
        let user = self.console_user(name).await?;
        sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(&user.id)
            .execute(&self.pool)
            .await
            .map_err(StateError::db("delete a user"))?;
        sqlx::query("DELETE FROM users WHERE id = $1")
            .bind(&user.id)
            .execute(&self.pool)
            .await
            .map_err(StateError::db("delete a user"))?;
        Ok(())
    }

    /// A principal for a role name and device groups.
    pub async fn principal(
        &self,
        name: &str,
        role: &str,
        device_groups: Vec<String>,
        via: &'static str,
        session_id: Option<String>,
    ) -> Result<Principal, StateError> {
        // Tokens made before roles existed say `admin`.
        let role = if role == "admin" {
            "administrator"
        } else {
            role
        };
        let permissions = match self.role(role).await {
            Ok(r) => r.permissions,
            // A role deleted under a token leaves it with nothing.
            Err(StateError::NotFound { .. }) => BTreeSet::new(),
            Err(e) => return Err(e),
        };
        Ok(Principal {
            name: name.to_string(),
            role: role.to_string(),
            permissions,
            device_groups,
            via,
            session_id,
        })
    }

    /// Check a user's password and open a session; `None` if the name or password is wrong
    /// or the user is disabled (indistinguishably).
    pub async fn login(
        &self,
        name: &str,
        password: &str,
        now_ms: i64,
    ) -> Result<Option<Login>, StateError> {
        let row = sqlx::query(
            "SELECT id, name, role, created_ms, device_groups, disabled, password_hash FROM users WHERE name = $1",
        )
        .bind(name)
        .fetch_optional(&self.pool)
        .await
        .map_err(StateError::db("log in"))?;
        // The same work whether or not the user exists, so timing does not tell.
        let dummy = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$MBvW5EFdhfLVi6QqRuYlfN6M8bNyiq4mp6fUIeH/zY0";
        let stored: String = row
            .as_ref()
            .and_then(|r| r.get::<Option<String>, _>("password_hash"))
            .unwrap_or_else(|| dummy.to_string());
        let ok = PasswordHash::new(&stored)
            .map(|h| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &h)
                    .is_ok()
            })
            .unwrap_or(false);
        let Some(row) = row.filter(|_| ok) else {
            return Ok(None);
        };
        let user = user_from_row(&row);
        if user.disabled {
            return Ok(None);
        }
        let secret = new_secret(SESSION_PREFIX);
        let csrf = new_secret("vcs_");
        let id = new_id("ss_");
        let hashed = hash(&secret);
        let expires = now_ms + SESSION_MAX_MS;
        sqlx::query(
            "INSERT INTO sessions (id, user_id, secret_lookup, secret_sha256, csrf_sha256, \
             created_ms, last_ms, expires_ms) VALUES ($1, $2, $3, $4, $5, $6, $6, $7)",
        )
        .bind(&id)
        .bind(&user.id)
        .bind(lookup(&hashed))
        .bind(&hashed)
        .bind(hash(&csrf))
        .bind(now_ms)
        .bind(expires)
        .execute(&self.pool)
        .await
        .map_err(StateError::db("log in"))?;
        let principal = self
            .principal(
                &user.name,
                &user.role,
                user.device_groups.clone(),
                "session",
                Some(id.clone()),
            )
            .await?;
        Ok(Some(Login {
            session_id: id,
            secret,
            csrf,
            principal,
            expires_ms: expires,
        }))
    }

    /// The principal of a live session secret, and whether `csrf` (if given) is its token.
    /// Using the session moves its idle deadline.
    pub async fn verify_session(
        &self,
        secret: &str,
        csrf: Option<&str>,
        now_ms: i64,
    ) -> Result<Option<(Principal, bool)>, StateError> {
        if !secret.starts_with(SESSION_PREFIX) {
            return Ok(None);
        }
        let hashed = hash(secret);
        let rows = sqlx::query(
            "SELECT s.id, s.secret_sha256, s.csrf_sha256, s.last_ms, s.expires_ms, \
             u.name, u.role, u.device_groups, u.disabled \
             FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.secret_lookup = $1",
        )
        .bind(lookup(&hashed))
        .fetch_all(&self.pool)
        .await
        .map_err(StateError::db("check a session"))?;
        for r in rows {
            let stored: String = r.get("secret_sha256");
            if !ct_eq(stored.as_bytes(), hashed.as_bytes()) {
                continue;
            }
            let id: String = r.get("id");
            let last: i64 = r.get("last_ms");
            let expires: i64 = r.get("expires_ms");
            if r.get::<i64, _>("disabled") != 0
                || now_ms >= expires
                || now_ms - last >= SESSION_IDLE_MS
            {
                sqlx::query("DELETE FROM sessions WHERE id = $1")
                    .bind(&id)
                    .execute(&self.pool)
                    .await
                    .map_err(StateError::db("end a session"))?;
                return Ok(None);
            }
            let csrf_ok = csrf.is_some_and(|c| {
                let stored: String = r.get("csrf_sha256");
                ct_eq(stored.as_bytes(), hash(c).as_bytes())
            });
            sqlx::query("UPDATE sessions SET last_ms = $2 WHERE id = $1")
                .bind(&id)
                .bind(now_ms)
                .execute(&self.pool)
                .await
                .map_err(StateError::db("touch a session"))?;
            let groups = groups_from(
                r.get::<Option<String>, _>("device_groups")
                    .as_deref()
                    .unwrap_or("[]"),
            );
            let p = self
                .principal(
                    r.get("name"),
                    r.get::<String, _>("role").as_str(),
                    groups,
                    "session",
                    Some(id),
                )
                .await?;
            return Ok(Some((p, csrf_ok)));
        }
        Ok(None)
    }

    /// End a session (logout).
    pub async fn end_session(&self, session_id: &str) -> Result<(), StateError> {
        sqlx::query("DELETE FROM sessions WHERE id = $1")
            .bind(session_id)
            .execute(&self.pool)
            .await
            .map_err(StateError::db("end a session"))?;
        Ok(())
    }

    /// Record one change made through the API.
    pub async fn record_audit(&self, r: &AuditRecord) -> Result<(), StateError> {
        sqlx::query(
            "INSERT INTO api_audit (at_ms, actor, method, path, status, detail) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(r.at_ms)
        .bind(&r.actor)
        .bind(&r.method)
        .bind(&r.path)
        .bind(r.status)
        .bind(&r.detail)
        .execute(&self.pool)
        .await
        .map_err(StateError::db("record an audit entry"))?;
        Ok(())
    }

    /// A page of the audit log, newest first, optionally of one actor.
    pub async fn audit_records(
        &self,
        actor: Option<&str>,
        limit: u32,
        offset: u64,
    ) -> Result<(Vec<AuditRecord>, u64), StateError> {
        let total: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM api_audit WHERE ($1 IS NULL OR actor = $1)")
                .bind(actor)
                .fetch_one(&self.pool)
                .await
                .map_err(StateError::db("read the audit log"))?;
        let rows = sqlx::query(
            "SELECT at_ms, actor, method, path, status, detail FROM api_audit \
             WHERE ($1 IS NULL OR actor = $1) ORDER BY at_ms DESC, rowid DESC LIMIT $2 OFFSET $3",
        )
        .bind(actor)
        .bind(i64::from(limit.max(1)))
        .bind(offset as i64)
        .fetch_all(&self.pool)
        .await
        .map_err(StateError::db("read the audit log"))?;
        Ok((
            rows.iter()
                .map(|r| AuditRecord {
                    at_ms: r.get("at_ms"),
                    actor: r.get("actor"),
                    method: r.get("method"),
                    path: r.get("path"),
                    status: r.get("status"),
                    detail: r.get("detail"),
                })
                .collect(),
            total as u64,
        ))
    }
}
