//! Suppression rules: analysts' decisions that some hits of a rule are expected.
//!
//! A suppression names a rule id and, optionally, conditions on the hit's evidence (every
//! condition must hold: `KEY=PATTERN`, exact or with `*` standing for any run of characters,
//! case-sensitive as Linux paths are), a device scope (no devices: every device) and an action:
//! `hide` records no alert, `resolve` records the alert already Resolved with classification
//! InformationalExpectedActivity. A suppression with an expiry time stops applying at that time.
//! They are applied by `record_hits`, in its transaction, before grouping; each application is
//! counted (hits, last hit time). When several match, the oldest applies.
//!
//! Condition keys and where they are read in the evidence JSON (see the server's
//! `ArrowEvent::evidence`): `FileName`, `FolderPath`, `ProcessCommandLine`, `SHA256` on the
//! Process or File entity the event is about; `InitiatingProcessFileName` and
//! `InitiatingProcessCommandLine` on the Process entity with role Parent (process events) or
//! Actor (the others); `RemoteIP` on the Ip
//! entity (`Address`); `RemoteUrl` on the Url entity; `AccountName` on the User entity.

use serde_json::Value;
use sqlx::sqlite::SqliteRow;
use sqlx::Row;

use crate::lifecycle::{audit, Subject};
use crate::secret::{check_name, new_id};
use crate::{NewHit, StateError, StateStore};

/// The evidence keys a suppression may test.
pub const SUPPRESSION_KEYS: &[&str] = &[
    "FileName",
    "FolderPath",
    "ProcessCommandLine",
    "InitiatingProcessFileName",
    "InitiatingProcessCommandLine",
    "SHA256",
    "RemoteIP",
    "RemoteUrl",
    "AccountName",
];
/// Suppression actions.
pub const SUPPRESSION_ACTIONS: &[&str] = &["hide", "resolve"];
/// The longest pattern, in characters.
const MAX_PATTERN_CHARS: usize = 4096;
/// At most this many conditions or devices per suppression.
const MAX_ITEMS: usize = 64;

/// A suppression to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSuppression {
    pub rule_id: String,
    /// `(key, pattern)` pairs; all must match.
    pub conditions: Vec<(String, String)>,
    /// Device ids; empty: all devices.
    pub devices: Vec<String>,
    /// `hide` or `resolve`.
    pub action: String,
    /// When it stops applying, unix milliseconds.
    pub expires_ms: Option<i64>,
    pub comment: String,
    pub created_by: String,
}

/// A suppression rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suppression {
    /// `sp_` + 16 hex digits.
    pub id: String,
    pub rule_id: String,
    pub conditions: Vec<(String, String)>,
    pub devices: Vec<String>,
    pub action: String,
    pub expires_ms: Option<i64>,
    pub comment: String,
    pub created_by: String,
    pub created_ms: i64,
    /// Hits it applied to, and when it last did.
    pub hits: i64,
    pub last_hit_ms: Option<i64>,
}

impl Suppression {
    /// Whether it still applies at `now_ms`.
    pub fn is_active(&self, now_ms: i64) -> bool {
        self.expires_ms.is_none_or(|e| e > now_ms)
    }

    /// Whether it applies to a hit of its rule on `device_id` with `evidence`.
    pub fn matches(&self, device_id: &str, evidence: &Value) -> bool {
        (self.devices.is_empty() || self.devices.iter().any(|d| d == device_id))
            && self.conditions.iter().all(|(key, pattern)| {
                evidence_values(evidence, key)
                    .iter()
                    .any(|v| wildcard_match(pattern, v))
            })
    }
}

/// Whether `value` matches `pattern`, where `*` stands for any run of characters (also none)
/// and everything else must be equal.
pub fn wildcard_match(pattern: &str, value: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == value;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if value.len() < first.len() + last.len() || !value.starts_with(first) || !value.ends_with(last)
    {
        return false;
    }
    let mut rest = &value[first.len()..value.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

/// The values of a suppression key in an alert's evidence.
fn evidence_values<'a>(evidence: &'a Value, key: &str) -> Vec<&'a str> {
    let entities = evidence.as_array().map(Vec::as_slice).unwrap_or(&[]);
    let pick = |pred: &dyn Fn(&Value) -> bool, field: &str| -> Vec<&'a str> {
        entities
            .iter()
            .filter(|e| pred(e))
            .filter_map(|e| e.get(field)?.as_str())
            .collect()
    };
    let is = |e: &Value, entity: &str| e["entity"] == entity;
    // The initiating process: role Parent on process events, Actor on the others.
    let initiating =
        |e: &Value| is(e, "Process") && (e["role"] == "Parent" || e["role"] == "Actor");
    let subject = |e: &Value| (is(e, "Process") || is(e, "File")) && !initiating(e);
    match key {
        "FileName" | "FolderPath" | "SHA256" => pick(&subject, key),
        "ProcessCommandLine" => pick(&subject, "ProcessCommandLine"),
        "InitiatingProcessFileName" => pick(&initiating, "FileName"),
        "InitiatingProcessCommandLine" => pick(&initiating, "ProcessCommandLine"),
        "RemoteIP" => pick(&|e| is(e, "Ip"), "Address"),
        "RemoteUrl" => pick(&|e| is(e, "Url"), "Url"),
        "AccountName" => pick(&|e| is(e, "User"), "AccountName"),
        _ => Vec::new(),
    }
}

fn check(s: &NewSuppression, now_ms: i64) -> Result<NewSuppression, StateError> {
    check_name("rule id", &s.rule_id, true)?;
    check_name("created_by", &s.created_by, true)?;
    if s.comment.chars().count() > crate::lifecycle::MAX_COMMENT_CHARS {
        return Err(StateError::invalid(
            "comment",
            &s.comment.chars().take(40).collect::<String>(),
            "is too long",
        ));
    }
    if s.comment
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(StateError::invalid(
            "comment",
            &s.comment,
            "must not contain control characters",
        ));
    }
    let action = crate::lifecycle::canonical("action", &s.action, SUPPRESSION_ACTIONS)?;
    if s.conditions.len() > MAX_ITEMS || s.devices.len() > MAX_ITEMS {
        return Err(StateError::invalid(
            "suppression",
            &s.rule_id,
            format!("at most {MAX_ITEMS} conditions and {MAX_ITEMS} devices"),
        ));
    }
    let mut conditions = Vec::with_capacity(s.conditions.len());
    for (key, pattern) in &s.conditions {
        let key = SUPPRESSION_KEYS
            .iter()
            .find(|k| k.eq_ignore_ascii_case(key.trim()))
            .ok_or_else(|| {
                StateError::invalid(
                    "match key",
                    key,
                    format!("must be one of {}", SUPPRESSION_KEYS.join(", ")),
                )
            })?;
        if pattern.is_empty() || pattern.chars().count() > MAX_PATTERN_CHARS {
            return Err(StateError::invalid(
                "match pattern",
                pattern,
                format!("must have 1 to {MAX_PATTERN_CHARS} characters (for {key})"),
            ));
        }
        conditions.push((key.to_string(), pattern.clone()));
    }
    for d in &s.devices {
        check_name("device id", d, true)?;
    }
    if let Some(e) = s.expires_ms {
        if e <= now_ms {
            return Err(StateError::invalid(
                "expires",
                &crate::format_unix_ms(e),
                "is not in the future",
            ));
        }
    }
    Ok(NewSuppression {
        conditions,
        action: action.to_string(),
        ..s.clone()
    })
}

const COLUMNS: &str = "id, rule_id, conditions, devices, action, expires_ms, comment, created_by, \
    created_ms, hits, last_hit_ms";

impl StateStore {
    /// Create a suppression (checked: known keys, an action, an expiry in the future).
    pub async fn create_suppression(
        &self,
        s: &NewSuppression,
        now_ms: i64,
    ) -> Result<Suppression, StateError> {
        let s = check(s, now_ms)?;
        let out = Suppression {
            id: new_id("sp_"),
            rule_id: s.rule_id.clone(),
            conditions: s.conditions.clone(),
            devices: s.devices.clone(),
            action: s.action.clone(),
            expires_ms: s.expires_ms,
            comment: s.comment.clone(),
            created_by: s.created_by.clone(),
            created_ms: now_ms,
            hits: 0,
            last_hit_ms: None,
        };
        let conditions: Vec<[&str; 2]> = out
            .conditions
            .iter()
            .map(|(k, p)| [k.as_str(), p.as_str()])
            .collect();
        let mut tx = StateStore::begin_write(&self.pool)
            .await
            .map_err(StateError::db("create a suppression"))?;
        sqlx::query(&format!(
            "INSERT INTO suppressions ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0, NULL)"
        ))
        .bind(&out.id)
        .bind(&out.rule_id)
        .bind(serde_json::to_string(&conditions).unwrap_or_default())
        .bind(serde_json::to_string(&out.devices).unwrap_or_default())
        .bind(&out.action)
        .bind(out.expires_ms)
        .bind(&out.comment)
        .bind(&out.created_by)
        .bind(now_ms)
        .execute(&mut *tx)
        .await
        .map_err(StateError::db("create a suppression"))?;
        audit(
            &mut tx,
            Subject::Suppression,
            &out.id,
            &out.created_by,
            now_ms,
            "created",
            None,
            Some(&out.rule_id),
        )
        .await?;
        tx.commit()
            .await
            .map_err(StateError::db("create a suppression"))?;
        Ok(out)
    }

    /// Every suppression (expired ones too), newest first.
    pub async fn list_suppressions(&self) -> Result<Vec<Suppression>, StateError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM suppressions ORDER BY created_ms DESC, id"
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(StateError::db("list suppressions"))?;
        rows.iter().map(from_row).collect()
    }

    /// One suppression.
    pub async fn suppression(&self, id: &str) -> Result<Suppression, StateError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM suppressions WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(StateError::db("read a suppression"))?
            .ok_or_else(|| StateError::NotFound {
                what: "suppression",
                id: id.to_string(),
            })?;
        from_row(&row)
    }

    /// Delete a suppression (audited); alerts it hid stay hidden, alerts it resolved stay
    /// resolved.
    pub async fn delete_suppression(
        &self,
        id: &str,
        actor: &str,
        now_ms: i64,
    ) -> Result<(), StateError> {
        let mut tx = StateStore::begin_write(&self.pool)
            .await
            .map_err(StateError::db("delete a suppression"))?;
        let done = sqlx::query("DELETE FROM suppressions WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(StateError::db("delete a suppression"))?;
        if done.rows_affected() == 0 {
            return Err(StateError::NotFound {
                what: "suppression",
                id: id.to_string(),
            });
        }
        audit(
            &mut tx,
            Subject::Suppression,
            id,
            actor,
            now_ms,
            "deleted",
            None,
            None,
        )
        .await?;
        tx.commit()
            .await
            .map_err(StateError::db("delete a suppression"))?;
        Ok(())
    }
}

/// The suppression that applies to `hit` at `now_ms` (the oldest of those that match).
pub(crate) async fn matching(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    hit: &NewHit,
    evidence: &Value,
    now_ms: i64,
) -> Result<Option<Suppression>, StateError> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM suppressions WHERE rule_id = $1 \
         AND (expires_ms IS NULL OR expires_ms > $2) ORDER BY created_ms, id"
    ))
    .bind(&hit.rule_id)
    .bind(now_ms)
    .fetch_all(&mut **tx)
    .await
    .map_err(StateError::db("read suppressions"))?;
    for row in &rows {
        let s = from_row(row)?;
        if s.matches(&hit.device_id, evidence) {
            return Ok(Some(s));
        }
    }
    Ok(None)
}

/// Count `count` hits applied by suppression `id`.
pub(crate) async fn count_hits(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    id: &str,
    count: i64,
    now_ms: i64,
) -> Result<(), StateError> {
    sqlx::query("UPDATE suppressions SET hits = hits + $2, last_hit_ms = $3 WHERE id = $1")
        .bind(id)
        .bind(count.max(1))
        .bind(now_ms)
        .execute(&mut **tx)
        .await
        .map_err(StateError::db("count suppression hits"))?;
    Ok(())
}

fn from_row(row: &SqliteRow) -> Result<Suppression, StateError> {
    let get = || -> Result<_, sqlx::Error> {
        let conditions: String = row.try_get("conditions")?;
        let devices: String = row.try_get("devices")?;
        Ok((
            Suppression {
                id: row.try_get("id")?,
                rule_id: row.try_get("rule_id")?,
                conditions: Vec::new(),
                devices: Vec::new(),
                action: row.try_get("action")?,
                expires_ms: row.try_get("expires_ms")?,
                comment: row.try_get("comment")?,
                created_by: row.try_get("created_by")?,
                created_ms: row.try_get("created_ms")?,
                hits: row.try_get("hits")?,
                last_hit_ms: row.try_get("last_hit_ms")?,
            },
            conditions,
            devices,
        ))
    };
    let (mut s, conditions, devices) = get().map_err(StateError::db("read a suppression"))?;
    let pairs: Vec<[String; 2]> =
        serde_json::from_str(&conditions).map_err(|_| StateError::Corrupt {
            column: "suppressions.conditions",
            value: conditions.clone(),
        })?;
    s.conditions = pairs.into_iter().map(|[k, p]| (k, p)).collect();
    s.devices = serde_json::from_str(&devices).map_err(|_| StateError::Corrupt {
        column: "suppressions.devices",
        value: devices.clone(),
    })?;
    Ok(s)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn wildcards_match_any_run_of_characters() {
        assert!(wildcard_match("/usr/bin/bash", "/usr/bin/bash"));
        assert!(!wildcard_match("/usr/bin/bash", "/usr/bin/bash2"));
        assert!(wildcard_match("/opt/*", "/opt/app/run"));
        assert!(wildcard_match("*.sh", "/tmp/x.sh"));
        assert!(wildcard_match("*backup*", "tar czf /srv/backup.tgz"));
        assert!(wildcard_match("a*b*c", "a--b--c"));
        assert!(!wildcard_match("a*b*c", "a--c--b"));
        assert!(!wildcard_match("ab*ba", "aba"), "parts may not overlap");
        assert!(wildcard_match("*", ""));
        assert!(!wildcard_match("/OPT/*", "/opt/x"), "case-sensitive");
    }

    fn evidence() -> Value {
        json!([
            { "entity": "Device", "role": "Impacted", "DeviceId": "d1", "DeviceName": "web-1" },
            { "entity": "Process", "role": "Related", "FileName": "bash", "FolderPath": "/usr/bin/bash", "ProcessCommandLine": "bash -c backup", "ProcessId": 10, "SHA256": "ab" },
            { "entity": "Process", "role": "Parent", "FileName": "cron", "FolderPath": "/usr/sbin/cron", "ProcessCommandLine": "/usr/sbin/cron -f", "ProcessId": 1 },
            { "entity": "Ip", "role": "Related", "Address": "10.0.0.1", "Port": 443 },
            { "entity": "Url", "role": "Related", "Url": "backup.example.com" },
            { "entity": "File", "role": "Impacted", "FileName": "dump.sql", "FolderPath": "/srv/dump.sql" },
            { "entity": "User", "role": "Related", "AccountName": "svc-backup" }
        ])
    }

    #[test]
    fn keys_read_the_right_entities() {
        let e = evidence();
        assert_eq!(evidence_values(&e, "FileName"), vec!["bash", "dump.sql"]);
        let actor = json!([{ "entity": "Process", "role": "Actor", "FileName": "mysqldump" }]);
        assert_eq!(
            evidence_values(&actor, "InitiatingProcessFileName"),
            vec!["mysqldump"]
        );
        assert!(evidence_values(&actor, "FileName").is_empty());
        assert_eq!(
            evidence_values(&e, "InitiatingProcessFileName"),
            vec!["cron"]
        );
        assert_eq!(
            evidence_values(&e, "InitiatingProcessCommandLine"),
            vec!["/usr/sbin/cron -f"]
        );
        assert_eq!(evidence_values(&e, "RemoteIP"), vec!["10.0.0.1"]);
        assert_eq!(evidence_values(&e, "RemoteUrl"), vec!["backup.example.com"]);
        assert_eq!(evidence_values(&e, "AccountName"), vec!["svc-backup"]);
        assert_eq!(evidence_values(&e, "SHA256"), vec!["ab"]);
    }

    fn sup(conditions: &[(&str, &str)], devices: &[&str]) -> Suppression {
        Suppression {
            id: "sp_1".into(),
            rule_id: "r".into(),
            conditions: conditions
                .iter()
                .map(|(k, p)| (k.to_string(), p.to_string()))
                .collect(),
            devices: devices.iter().map(|d| d.to_string()).collect(),
            action: "hide".into(),
            expires_ms: Some(100),
            comment: String::new(),
            created_by: "admin".into(),
            created_ms: 0,
            hits: 0,
            last_hit_ms: None,
        }
    }

    #[test]
    fn every_condition_and_the_device_scope_must_hold() {
        let e = evidence();
        assert!(sup(&[], &[]).matches("d1", &e));
        assert!(sup(&[("InitiatingProcessFileName", "cron")], &[]).matches("d1", &e));
        assert!(sup(&[("ProcessCommandLine", "*backup")], &["d1", "d2"]).matches("d1", &e));
        assert!(!sup(&[("ProcessCommandLine", "*backup")], &["d2"]).matches("d1", &e));
        assert!(
            !sup(&[("FileName", "bash"), ("AccountName", "root")], &[]).matches("d1", &e),
            "all conditions must hold"
        );
        assert!(
            !sup(&[("FileName", "cron")], &[]).matches("d1", &e),
            "the parent is not FileName"
        );
        let s = sup(&[], &[]);
        assert!(s.is_active(99) && !s.is_active(100));
    }

    #[test]
    fn bad_suppressions_are_refused_naming_the_problem() {
        let ok = NewSuppression {
            rule_id: "r".into(),
            conditions: vec![("filename".into(), "x".into())],
            devices: vec![],
            action: "Resolve".into(),
            expires_ms: Some(2000),
            comment: "expected".into(),
            created_by: "admin".into(),
        };
        let c = check(&ok, 1000).unwrap();
        assert_eq!(c.conditions[0].0, "FileName");
        assert_eq!(c.action, "resolve");
        let e = check(
            &NewSuppression {
                conditions: vec![("Color".into(), "x".into())],
                ..ok.clone()
            },
            1000,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("invalid match key \"Color\": must be one of FileName"),
            "{e}"
        );
        let e = check(
            &NewSuppression {
                action: "drop".into(),
                ..ok.clone()
            },
            1000,
        )
        .unwrap_err()
        .to_string();
        assert_eq!(e, "invalid action \"drop\": must be one of hide, resolve");
        assert!(check(&ok, 2000)
            .unwrap_err()
            .to_string()
            .contains("not in the future"));
    }
}
