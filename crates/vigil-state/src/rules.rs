//! Whether detection rules are enabled.
//!
//! Rules are content (loaded by the server from files); the state store keeps only the
//! analyst's switch per rule id (`rule_states`), so it survives restarts and rule reloads. A
//! rule without a row is enabled. The set of disabled ids is also kept in memory, shared by
//! every clone of the store, so that detection can consult it per hit without a query; it is
//! loaded when the store opens and replaced after each change commits.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use sqlx::Row;

use crate::lifecycle::{audit, Subject};
use crate::secret::check_name;
use crate::{StateError, StateStore};

/// The stored switch of one rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleState {
    pub rule_id: String,
    pub enabled: bool,
    pub updated_ms: i64,
    pub updated_by: String,
}

impl StateStore {
    /// Enable or disable rule `rule_id` (any id: the caller checks it names a loaded rule),
    /// as `actor`. Audited.
    pub async fn set_rule_enabled(
        &self,
        rule_id: &str,
        enabled: bool,
        actor: &str,
        now_ms: i64,
    ) -> Result<(), StateError> {
        check_name("rule id", rule_id, true)?;
        let mut tx = StateStore::begin_write(&self.pool)
            .await
            .map_err(StateError::db("switch a rule"))?;
        let before: Option<i64> =
            sqlx::query_scalar("SELECT enabled FROM rule_states WHERE rule_id = $1")
                .bind(rule_id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(StateError::db("switch a rule"))?;
        sqlx::query(
            "INSERT INTO rule_states (rule_id, enabled, updated_ms, updated_by) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (rule_id) DO UPDATE SET \
             enabled = excluded.enabled, updated_ms = excluded.updated_ms, \
             updated_by = excluded.updated_by",
        )
        .bind(rule_id)
        .bind(i64::from(enabled))
        .bind(now_ms)
        .bind(actor)
        .execute(&mut *tx)
        .await
        .map_err(StateError::db("switch a rule"))?;
        let was = before.is_none_or(|e| e != 0);
        if was != enabled {
            let word = |e: bool| if e { "true" } else { "false" };
            audit(
                &mut tx,
                Subject::Rule,
                rule_id,
                actor,
                now_ms,
                "enabled",
                Some(word(was)),
                Some(word(enabled)),
            )
            .await?;
        }
        tx.commit().await.map_err(StateError::db("switch a rule"))?;
        self.reload_disabled_rules().await
    }

    /// The stored switches, by rule id.
    pub async fn rule_states(&self) -> Result<HashMap<String, RuleState>, StateError> {
        let rows = sqlx::query("SELECT rule_id, enabled, updated_ms, updated_by FROM rule_states")
            .fetch_all(&self.pool)
            .await
            .map_err(StateError::db("read rule states"))?;
        rows.iter()
            .map(|r| {
                let s = RuleState {
                    rule_id: r.try_get("rule_id")?,
                    enabled: r.try_get::<i64, _>("enabled")? != 0,
                    updated_ms: r.try_get("updated_ms")?,
                    updated_by: r.try_get("updated_by")?,
                };
                Ok((s.rule_id.clone(), s))
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StateError::db("read rule states"))
    }

    /// The ids of disabled rules, as last loaded (no query).
    pub fn disabled_rules(&self) -> Arc<HashSet<String>> {
        let guard = self
            .disabled
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Arc::clone(&guard)
    }

    /// Whether rule `rule_id` is disabled (no query).
    pub fn is_rule_disabled(&self, rule_id: &str) -> bool {
        self.disabled_rules().contains(rule_id)
    }

    /// Load the set of disabled rules from the database.
    pub(crate) async fn reload_disabled_rules(&self) -> Result<(), StateError> {
        let ids: Vec<String> =
            sqlx::query_scalar("SELECT rule_id FROM rule_states WHERE enabled = 0")
                .fetch_all(&self.pool)
                .await
                .map_err(StateError::db("read rule states"))?;
        let set = Arc::new(ids.into_iter().collect::<HashSet<_>>());
        *self
            .disabled
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = set;
        Ok(())
    }
}
