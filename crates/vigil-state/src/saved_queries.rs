//! Saved hunting queries: a name, KQL text and description, owned by the API token that saved
//! it; `shared` ones are visible to every analyst, the others only to their owner. Names are
//! unique per owner.

use sqlx::sqlite::SqliteRow;
use sqlx::Row;

use crate::secret::{check_name, new_id};
use crate::{StateError, StateStore};

/// Longest query text kept (64 KiB).
pub const MAX_QUERY_BYTES: usize = 64 << 10;

/// A saved query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedQuery {
    /// `sq_` + 16 hex digits.
    pub id: String,
    pub name: String,
    pub query: String,
    pub description: String,
    pub owner: String,
    pub shared: bool,
    pub created_ms: i64,
    pub updated_ms: i64,
}

const COLUMNS: &str = "id, name, query, description, owner, shared, created_ms, updated_ms";

fn from_row(r: &SqliteRow) -> SavedQuery {
    SavedQuery {
        id: r.get("id"),
        name: r.get("name"),
        query: r.get("query"),
        description: r.get("description"),
        owner: r.get("owner"),
        shared: r.get::<i64, _>("shared") != 0,
        created_ms: r.get("created_ms"),
        updated_ms: r.get("updated_ms"),
    }
}

impl StateStore {
    /// Save `query` as `name` for `owner` (the caller checked that it parses).
    pub async fn save_query(
        &self,
        name: &str,
        query: &str,
        description: &str,
        shared: bool,
        owner: &str,
        now_ms: i64,
    ) -> Result<SavedQuery, StateError> {
        check_name("query name", name, true)?;
        if query.trim().is_empty() {
            return Err(StateError::invalid("query", query, "must not be empty"));
        }
        if query.len() > MAX_QUERY_BYTES {
            let head: String = query.chars().take(64).collect();
            return Err(StateError::invalid(
                "query",
                &head,
                format!("is longer than {MAX_QUERY_BYTES} bytes"),
            ));
        }
        let mut tx = StateStore::begin_write(&self.pool)
            .await
            .map_err(StateError::db("save a query"))?;
        let taken: Option<String> =
            sqlx::query_scalar("SELECT id FROM saved_queries WHERE owner = $1 AND name = $2")
                .bind(owner)
                .bind(name)
                .fetch_optional(&mut *tx)
                .await
                .map_err(StateError::db("save a query"))?;
        if taken.is_some() {
            return Err(StateError::AlreadyExists {
                what: "saved query",
                value: name.to_string(),
            });
        }
        let q = SavedQuery {
            id: new_id("sq_"),
            name: name.to_string(),
            query: query.to_string(),
            description: description.to_string(),
            owner: owner.to_string(),
            shared,
            created_ms: now_ms,
            updated_ms: now_ms,
        };
        sqlx::query(
            "INSERT INTO saved_queries (id, name, query, description, owner, shared, created_ms, \
             updated_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&q.id)
        .bind(&q.name)
        .bind(&q.query)
        .bind(&q.description)
        .bind(&q.owner)
        .bind(i64::from(q.shared))
        .bind(q.created_ms)
        .bind(q.updated_ms)
        .execute(&mut *tx)
        .await
        .map_err(StateError::db("save a query"))?;
        tx.commit().await.map_err(StateError::db("save a query"))?;
        Ok(q)
    }

    /// The queries `viewer` can see (own and shared), by name.
    pub async fn saved_queries(&self, viewer: &str) -> Result<Vec<SavedQuery>, StateError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM saved_queries WHERE owner = $1 OR shared = 1 ORDER BY name, id"
        ))
        .bind(viewer)
        .fetch_all(&self.pool)
        .await
        .map_err(StateError::db("list saved queries"))?;
        Ok(rows.iter().map(from_row).collect())
    }

    /// One query `viewer` can see.
    pub async fn saved_query(&self, id: &str, viewer: &str) -> Result<SavedQuery, StateError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM saved_queries WHERE id = $1 AND (owner = $2 OR shared = 1)"
        ))
        .bind(id)
        .bind(viewer)
        .fetch_optional(&self.pool)
        .await
        .map_err(StateError::db("read a saved query"))?;
        row.as_ref()
            .map(from_row)
            .ok_or_else(|| StateError::NotFound {
                what: "saved query",
                id: id.to_string(),
            })
    }

    /// Delete a query; only its owner may.
    pub async fn delete_saved_query(&self, id: &str, actor: &str) -> Result<(), StateError> {
        let q = self.saved_query(id, actor).await?;
        if q.owner != actor {
            return Err(StateError::invalid(
                "saved query",
                id,
                format!("belongs to {}; only its owner can delete it", q.owner),
            ));
        }
        sqlx::query("DELETE FROM saved_queries WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(StateError::db("delete a saved query"))?;
        Ok(())
    }
}
