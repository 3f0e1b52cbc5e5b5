//! Server-wide settings the console and API change (automation level, retention, ...): one
//! row per key with its value as JSON text, who changed it last and when.
//!
//! The store does not know what the keys mean; the server checks values before writing and
//! applies them. [`StateStore::set_settings`] writes several keys in one transaction, so a
//! request that changes two settings changes both or neither.

use serde_json::Value;
use sqlx::Row;

use crate::{StateError, StateStore};

/// One stored setting.
#[derive(Debug, Clone, PartialEq)]
pub struct Setting {
    /// Its key.
    pub key: String,
    /// Its value.
    pub value: Value,
    /// When it was last changed, unix milliseconds.
    pub updated_ms: i64,
    /// Who changed it last.
    pub updated_by: String,
}

impl StateStore {
    /// Every stored setting, by key. Keys never written are absent (their default applies).
    pub async fn settings(&self) -> Result<Vec<Setting>, StateError> {
        let rows =
            sqlx::query("SELECT key, value, updated_ms, updated_by FROM settings ORDER BY key")
                .fetch_all(&self.pool)
                .await
                .map_err(StateError::db("read settings"))?;
        rows.iter()
            .map(|r| {
                let key: String = r.get("key");
                let text: String = r.get("value");
                let value = serde_json::from_str(&text).map_err(|e| {
                    StateError::invalid("stored setting", &key, format!("is not json: {e}"))
                })?;
                Ok(Setting {
                    key,
                    value,
                    updated_ms: r.get("updated_ms"),
                    updated_by: r.get("updated_by"),
                })
            })
            .collect()
    }

    /// Write `values` (key, value) in one transaction.
    pub async fn set_settings(
        &self,
        values: &[(&str, Value)],
        by: &str,
        now_ms: i64,
    ) -> Result<(), StateError> {
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(StateError::db("write settings"))?;
        for (key, value) in values {
            sqlx::query(
                "INSERT INTO settings (key, value, updated_ms, updated_by) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value, \
                 updated_ms = excluded.updated_ms, updated_by = excluded.updated_by",
            )
            .bind(key)
            .bind(value.to_string())
            .bind(now_ms)
            .bind(by)
            .execute(&mut *tx)
            .await
            .map_err(StateError::db("write a setting"))?;
        }
        tx.commit().await.map_err(StateError::db("write settings"))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::StateStore;

    #[tokio::test]
    async fn settings_round_trip_and_overwrite() {
        let s = StateStore::open_memory().await.unwrap();
        assert!(s.settings().await.unwrap().is_empty());
        s.set_settings(&[("a", json!(1)), ("b", json!("x"))], "alice", 10)
            .await
            .unwrap();
        s.set_settings(&[("a", json!(2))], "bob", 20).await.unwrap();
        let got = s.settings().await.unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!((got[0].key.as_str(), &got[0].value), ("a", &json!(2)));
        assert_eq!((got[0].updated_by.as_str(), got[0].updated_ms), ("bob", 20));
        assert_eq!((got[1].key.as_str(), &got[1].value), ("b", &json!("x")));
        assert_eq!(got[1].updated_by, "alice");
    }
}
