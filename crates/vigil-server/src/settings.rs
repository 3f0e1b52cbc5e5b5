//! Server-wide settings changed from the console or the API (`GET|PATCH /api/v1/settings`):
//! the automation level and the telemetry retention.
//!
//! Stored in the state store (`vigil_state::Setting`, one row per key); a key never written
//! has its default: the automation level [`DEFAULT_AUTOMATION_LEVEL`], the retention of the
//! configuration file (`[store] retention_days`). A retention set here overrides the file's
//! and is applied to the telemetry store at once and at every start ([`apply_stored`]).
//!
//! **Invariant:** only values [`check_automation_level`] and [`check_retention_days`]
//! accept are ever written.

use serde_json::Value;
use vigil_state::{StateError, StateStore};
use vigil_store::Store;

/// The automation level's key.
pub const AUTOMATION_LEVEL: &str = "automation_level";
/// The retention's key.
pub const RETENTION_DAYS: &str = "retention_days";

/// The automation levels and what each does with the automatic response actions that
/// detections ask for (custom detections' `actions`).
pub const AUTOMATION_LEVELS: &[(&str, &str)] = &[
    (
        "full",
        "Remediate automatically: the actions detections ask for are sent to the device at once",
    ),
    (
        "semi",
        "Require approval: the actions wait in the action center until an operator approves them",
    ),
    (
        "none",
        "No automated response: the actions are not taken (the alert still names them)",
    ),
];
/// The level of a server whose operators never chose one.
pub const DEFAULT_AUTOMATION_LEVEL: &str = "semi";
/// The longest retention accepted: 10 years.
pub const MAX_RETENTION_DAYS: i64 = 3650;

/// The settings in force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub automation_level: String,
    /// Days of telemetry kept; 0: everything.
    pub retention_days: u32,
    /// The last change, if any was made: (unix ms, who).
    pub updated: Option<(i64, String)>,
}

/// `v` as an automation level, or why not.
pub fn check_automation_level(v: &str) -> Result<(), String> {
    if AUTOMATION_LEVELS.iter().any(|(l, _)| *l == v) {
        Ok(())
    } else {
        Err(format!(
            "automation_level {v:?} is not one of {}",
            AUTOMATION_LEVELS
                .iter()
                .map(|(l, _)| *l)
                .collect::<Vec<_>>()
                .join(", ")
        ))
    }
}

/// `v` as a retention in days, or why not.
pub fn check_retention_days(v: i64) -> Result<u32, String> {
    if (0..=MAX_RETENTION_DAYS).contains(&v) {
        Ok(v as u32)
    } else {
        Err(format!(
            "retention_days must be 0 (keep everything) to {MAX_RETENTION_DAYS}, not {v}"
        ))
    }
}

/// The settings in force: stored values over defaults (`default_retention`: the
/// configuration file's). A stored value that no longer checks is ignored with a warning.
pub async fn load(state: &StateStore, default_retention: u32) -> Result<Settings, StateError> {
    let mut s = Settings {
        automation_level: DEFAULT_AUTOMATION_LEVEL.to_string(),
        retention_days: default_retention,
        updated: None,
    };
    for row in state.settings().await? {
        match (row.key.as_str(), &row.value) {
            (AUTOMATION_LEVEL, Value::String(v)) if check_automation_level(v).is_ok() => {
                s.automation_level = v.clone();
            }
            (RETENTION_DAYS, Value::Number(n)) => match n.as_i64().map(check_retention_days) {
                Some(Ok(d)) => s.retention_days = d,
                _ => {
                    tracing::warn!(value = %n, "stored retention_days ignored");
                    continue;
                }
            },
            (key, v) => {
                tracing::warn!(key, value = %v, "stored setting ignored");
                continue;
            }
        }
        if s.updated
            .as_ref()
            .is_none_or(|(at, _)| row.updated_ms > *at)
        {
            s.updated = Some((row.updated_ms, row.updated_by.clone()));
        }
    }
    Ok(s)
}

/// At start: apply a retention set in the console to the telemetry store.
pub async fn apply_stored(
    state: &StateStore,
    store: &Store,
    default_retention: u32,
) -> Result<Settings, StateError> {
    let s = load(state, default_retention).await?;
    store.set_retention_days(s.retention_days);
    Ok(s)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn values_are_checked() {
        assert!(check_automation_level("full").is_ok());
        let e = check_automation_level("maybe").unwrap_err();
        assert!(e.contains("full, semi, none"), "{e}");
        assert_eq!(check_retention_days(0), Ok(0));
        assert_eq!(check_retention_days(90), Ok(90));
        assert!(check_retention_days(-1).unwrap_err().contains("not -1"));
        assert!(check_retention_days(MAX_RETENTION_DAYS + 1).is_err());
    }

    #[tokio::test]
    async fn stored_values_override_defaults_and_bad_ones_are_ignored() {
        let state = StateStore::open_memory().await.unwrap();
        let s = load(&state, 30).await.unwrap();
        assert_eq!(
            (s.automation_level.as_str(), s.retention_days, s.updated),
            (DEFAULT_AUTOMATION_LEVEL, 30, None)
        );
        state
            .set_settings(&[(AUTOMATION_LEVEL, json!("full"))], "alice", 5)
            .await
            .unwrap();
        state
            .set_settings(&[(RETENTION_DAYS, json!(7))], "bob", 9)
            .await
            .unwrap();
        let s = load(&state, 30).await.unwrap();
        assert_eq!((s.automation_level.as_str(), s.retention_days), ("full", 7));
        assert_eq!(s.updated, Some((9, "bob".to_string())));
        // Written by something else, out of range: the default stays.
        state
            .set_settings(&[(RETENTION_DAYS, json!(-4))], "x", 10)
            .await
            .unwrap();
        assert_eq!(load(&state, 30).await.unwrap().retention_days, 30);
    }
}
