//! Console users, for role-based access control to come.
//!
//! Only names and roles for now: no passwords or sessions are stored, and nothing enforces
//! roles yet (the API crate will).

use sqlx::sqlite::SqliteRow;
use sqlx::Row;

use crate::secret::{check_name, check_role, new_id};
use crate::{StateError, StateStore};

/// A console user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// `u_` + 16 hex digits.
    pub id: String,
    /// The unique user name.
    pub name: String,
    /// The user's role (for example `admin`, `analyst`).
    pub role: String,
    /// Creation time, unix milliseconds.
    pub created_ms: i64,
}

const INSERT: &str = "INSERT INTO users (id, name, role, created_ms) VALUES ($1, $2, $3, $4)";
const LIST: &str = "SELECT id, name, role, created_ms FROM users ORDER BY name";

impl StateStore {
    /// A new user `name` (unique) with `role`.
    pub async fn create_user(
        &self,
        name: &str,
        role: &str,
        now_ms: i64,
    ) -> Result<User, StateError> {
        check_name("user name", name, true)?;
        check_role(role)?;
        let user = User {
            id: new_id("u_"),
            name: name.to_string(),
            role: role.to_string(),
            created_ms: now_ms,
        };
        let result = sqlx::query(INSERT)
            .bind(&user.id)
            .bind(&user.name)
            .bind(&user.role)
            .bind(user.created_ms)
            .execute(&self.pool)
            .await;
        match result {
            Ok(_) => Ok(user),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                Err(StateError::AlreadyExists {
                    what: "user",
                    value: name.to_string(),
                })
            }
            Err(e) => Err(StateError::db("create a user")(e)),
        }
    }

    /// Every user, by name.
    pub async fn list_users(&self) -> Result<Vec<User>, StateError> {
        let rows = sqlx::query(LIST)
            .fetch_all(&self.pool)
            .await
            .map_err(StateError::db("list users"))?;
        rows.iter().map(from_row).collect()
    }
}

fn from_row(row: &SqliteRow) -> Result<User, StateError> {
    let get = || -> Result<_, sqlx::Error> {
        Ok(User {
            id: row.try_get("id")?,
            name: row.try_get("name")?,
            role: row.try_get("role")?,
            created_ms: row.try_get("created_ms")?,
        })
    };
    get().map_err(StateError::db("read a user"))
}
