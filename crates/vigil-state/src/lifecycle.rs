//! The triage lifecycle shared by alerts and incidents: status, classification, determination
//! and assignee (MDE's vocabulary), append-only comments, and the audit log of every change.
//!
//! Values are checked here, once, for both the API and tests: a value is accepted in any case
//! and with or without `_`, `-` or spaces (`in_progress`, `true-positive`) and stored in MDE's
//! spelling (`InProgress`, `TruePositive`). A determination must fit its classification.
//! Changing the classification without naming a determination keeps the old determination if
//! it still fits and clears it otherwise; clearing the classification clears the
//! determination. A refused update changes nothing.
//!
//! The audit log (`audit_log`) records one row per changed field (and per suppression or rule
//! change), with who and when; comments (`comments`) are never edited or deleted.

use sqlx::Row;

use crate::secret::{check_name, new_id};
use crate::{StateError, StateStore};

/// Alert and incident statuses.
pub const STATUSES: &[&str] = &["New", "InProgress", "Resolved"];
/// Classifications.
pub const CLASSIFICATIONS: &[&str] = &[
    "TruePositive",
    "InformationalExpectedActivity",
    "FalsePositive",
];
const TRUE_POSITIVE: &[&str] = &[
    "MultiStagedAttack",
    "MaliciousUserActivity",
    "CompromisedAccount",
    "Malware",
    "Phishing",
    "UnwantedSoftware",
    "Other",
];
const EXPECTED_ACTIVITY: &[&str] = &[
    "SecurityTesting",
    "LineOfBusinessApplication",
    "ConfirmedActivity",
    "Other",
];
const FALSE_POSITIVE: &[&str] = &["NotMalicious", "NotEnoughDataToValidate", "Other"];
/// The longest comment, in characters.
pub const MAX_COMMENT_CHARS: usize = 8192;

/// The determinations that fit a classification (in MDE's spelling).
pub fn determinations(classification: &str) -> &'static [&'static str] {
    match classification {
        "TruePositive" => TRUE_POSITIVE,
        "InformationalExpectedActivity" => EXPECTED_ACTIVITY,
        "FalsePositive" => FALSE_POSITIVE,
        _ => &[],
    }
}

fn fold(s: &str) -> String {
    s.chars()
        .filter(|c| !matches!(c, '_' | '-' | ' '))
        .flat_map(char::to_lowercase)
        .collect()
}

/// `value` in its canonical spelling among `allowed`, or an error naming the allowed values.
pub(crate) fn canonical(
    what: &'static str,
    value: &str,
    allowed: &[&'static str],
) -> Result<&'static str, StateError> {
    let f = fold(value);
    allowed
        .iter()
        .find(|a| fold(a) == f && !f.is_empty())
        .copied()
        .ok_or_else(|| {
            StateError::invalid(
                what,
                value,
                format!("must be one of {}", allowed.join(", ")),
            )
        })
}

/// A change to the lifecycle fields of an alert or incident. `None` leaves a field as it is;
/// `Some(None)` clears it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LifecycleUpdate {
    pub status: Option<String>,
    pub classification: Option<Option<String>>,
    pub determination: Option<Option<String>>,
    /// A user name; `Some(None)` (or an empty name) unassigns.
    pub assignee: Option<Option<String>>,
    /// A comment added in the same transaction.
    pub comment: Option<String>,
}

impl LifecycleUpdate {
    /// Whether the update asks for nothing.
    pub fn is_empty(&self) -> bool {
        self.status.is_none()
            && self.classification.is_none()
            && self.determination.is_none()
            && self.assignee.is_none()
            && self.comment.is_none()
    }
}

/// A comment on an alert or incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comment {
    pub id: String,
    pub author: String,
    pub created_ms: i64,
    pub text: String,
}

/// One change in the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub at_ms: i64,
    pub actor: String,
    pub field: String,
    pub old_value: Option<String>,
    pub new_value: Option<String>,
}

/// What a comment or audit row is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Subject {
    Alert,
    Incident,
    Suppression,
    Rule,
}

impl Subject {
    pub(crate) fn kind(self) -> &'static str {
        match self {
            Subject::Alert => "alert",
            Subject::Incident => "incident",
            Subject::Suppression => "suppression",
            Subject::Rule => "rule",
        }
    }

    /// The table holding lifecycle fields (alerts and incidents only).
    fn table(self) -> &'static str {
        match self {
            Subject::Incident => "incidents",
            _ => "alerts",
        }
    }
}

/// The lifecycle fields of one alert or incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Triage {
    pub status: String,
    pub classification: Option<String>,
    pub determination: Option<String>,
    pub assignee: Option<String>,
}

/// The fields after `u`, checked; an error names the field and what is allowed.
pub(crate) fn plan(cur: &Triage, u: &LifecycleUpdate) -> Result<Triage, StateError> {
    let status = match &u.status {
        Some(s) => canonical("status", s, STATUSES)?.to_string(),
        None => cur.status.clone(),
    };
    let classification = match &u.classification {
        Some(Some(c)) => Some(canonical("classification", c, CLASSIFICATIONS)?.to_string()),
        Some(None) => None,
        None => cur.classification.clone(),
    };
    let determination = match (&u.determination, &classification) {
        (Some(None), _) => None,
        (Some(Some(d)), None) => {
            return Err(StateError::invalid(
                "determination",
                d,
                "needs a classification: set classification too (one of TruePositive, \
                 InformationalExpectedActivity, FalsePositive)",
            ))
        }
        (Some(Some(d)), Some(c)) => {
            let allowed = determinations(c);
            match canonical("determination", d, allowed) {
                Ok(v) => Some(v.to_string()),
                Err(_) => {
                    return Err(StateError::invalid(
                        "determination",
                        d,
                        format!(
                            "does not fit classification {c}: must be one of {}",
                            allowed.join(", ")
                        ),
                    ))
                }
            }
        }
        (None, Some(c)) => cur
            .determination
            .clone()
            .filter(|d| determinations(c).contains(&d.as_str())),
        (None, None) => None,
    };
    let assignee = match &u.assignee {
        Some(Some(a)) if !a.trim().is_empty() => {
            check_name("assignee", a.trim(), true)?;
            Some(a.trim().to_string())
        }
        Some(_) => None,
        None => cur.assignee.clone(),
    };
    if let Some(text) = &u.comment {
        check_comment(text)?;
    }
    Ok(Triage {
        status,
        classification,
        determination,
        assignee,
    })
}

/// A comment: not blank, at most [`MAX_COMMENT_CHARS`], no control characters but newlines
/// and tabs.
pub(crate) fn check_comment(text: &str) -> Result<(), StateError> {
    let short = || text.chars().take(40).collect::<String>();
    if text.trim().is_empty() {
        return Err(StateError::invalid("comment", text, "must not be empty"));
    }
    if text.chars().count() > MAX_COMMENT_CHARS {
        return Err(StateError::invalid(
            "comment",
            &short(),
            format!("must have at most {MAX_COMMENT_CHARS} characters"),
        ));
    }
    if text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(StateError::invalid(
            "comment",
            &short(),
            "must not contain control characters other than newlines and tabs",
        ));
    }
    Ok(())
}

type Tx<'c> = sqlx::Transaction<'c, sqlx::Sqlite>;

/// The lifecycle fields of `id`, or `NotFound`.
pub(crate) async fn current(
    tx: &mut Tx<'_>,
    subject: Subject,
    id: &str,
) -> Result<Triage, StateError> {
    let row = sqlx::query(&format!(
        "SELECT status, classification, determination, assignee FROM {} WHERE id = $1",
        subject.table()
    ))
    .bind(id)
    .fetch_optional(&mut **tx)
    .await
    .map_err(StateError::db("read lifecycle fields"))?
    .ok_or_else(|| StateError::NotFound {
        what: subject.kind(),
        id: id.to_string(),
    })?;
    let get = || -> Result<Triage, sqlx::Error> {
        Ok(Triage {
            status: row.try_get("status")?,
            classification: row.try_get("classification")?,
            determination: row.try_get("determination")?,
            assignee: row.try_get("assignee")?,
        })
    };
    get().map_err(StateError::db("read lifecycle fields"))
}

/// Apply `u` to `id` (alert or incident) inside `tx`: check it, write the changed fields
/// with one audit row each, and add the comment. Returns the fields before and after.
pub(crate) async fn apply(
    tx: &mut Tx<'_>,
    subject: Subject,
    id: &str,
    u: &LifecycleUpdate,
    actor: &str,
    now_ms: i64,
) -> Result<(Triage, Triage), StateError> {
    // Values that need no current state are checked first, so that bad input is reported
    // as such even for an unknown id.
    if let Some(s) = &u.status {
        canonical("status", s, STATUSES)?;
    }
    if let Some(Some(c)) = &u.classification {
        canonical("classification", c, CLASSIFICATIONS)?;
    }
    let before = current(tx, subject, id).await?;
    let after = plan(&before, u)?;
    let fields: [(&str, &Option<String>, &Option<String>); 3] = [
        (
            "classification",
            &before.classification,
            &after.classification,
        ),
        ("determination", &before.determination, &after.determination),
        ("assignee", &before.assignee, &after.assignee),
    ];
    let mut changed = false;
    if before.status != after.status {
        changed = true;
        audit(
            tx,
            subject,
            id,
            actor,
            now_ms,
            "status",
            Some(&before.status),
            Some(&after.status),
        )
        .await?;
    }
    for (field, old, new) in fields {
        if old != new {
            changed = true;
            audit(
                tx,
                subject,
                id,
                actor,
                now_ms,
                field,
                old.as_deref(),
                new.as_deref(),
            )
            .await?;
        }
    }
    if changed {
        sqlx::query(&format!(
            "UPDATE {} SET status = $2, classification = $3, determination = $4, assignee = $5, \
             updated_ms = $6 WHERE id = $1",
            subject.table()
        ))
        .bind(id)
        .bind(&after.status)
        .bind(&after.classification)
        .bind(&after.determination)
        .bind(&after.assignee)
        .bind(now_ms)
        .execute(&mut **tx)
        .await
        .map_err(StateError::db("update lifecycle fields"))?;
    }
    if let Some(text) = &u.comment {
        insert_comment(tx, subject, id, actor, text, now_ms).await?;
    }
    Ok((before, after))
}

/// One audit row.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn audit(
    tx: &mut Tx<'_>,
    subject: Subject,
    id: &str,
    actor: &str,
    now_ms: i64,
    field: &str,
    old: Option<&str>,
    new: Option<&str>,
) -> Result<(), StateError> {
    sqlx::query(
        "INSERT INTO audit_log (id, subject_kind, subject_id, actor, at_ms, field, old_value, \
         new_value) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(new_id("au_"))
    .bind(subject.kind())
    .bind(id)
    .bind(actor)
    .bind(now_ms)
    .bind(field)
    .bind(old)
    .bind(new)
    .execute(&mut **tx)
    .await
    .map_err(StateError::db("write the audit log"))?;
    Ok(())
}

/// Add a comment to an existing alert or incident, in its own transaction.
pub(crate) async fn comment(
    pool: &sqlx::SqlitePool,
    subject: Subject,
    id: &str,
    author: &str,
    text: &str,
    now_ms: i64,
) -> Result<Comment, StateError> {
    let db = StateError::db("add a comment");
    let mut tx = StateStore::begin_write(pool).await.map_err(db)?;
    current(&mut tx, subject, id).await?;
    let c = insert_comment(&mut tx, subject, id, author, text, now_ms).await?;
    tx.commit().await.map_err(StateError::db("add a comment"))?;
    Ok(c)
}

/// Add a comment (checked) to `id`; the caller made sure `id` exists.
pub(crate) async fn insert_comment(
    tx: &mut Tx<'_>,
    subject: Subject,
    id: &str,
    author: &str,
    text: &str,
    now_ms: i64,
) -> Result<Comment, StateError> {
    check_comment(text)?;
    let c = Comment {
        id: new_id("cm_"),
        author: author.to_string(),
        created_ms: now_ms,
        text: text.to_string(),
    };
    sqlx::query(
        "INSERT INTO comments (id, subject_kind, subject_id, author, created_ms, body) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&c.id)
    .bind(subject.kind())
    .bind(id)
    .bind(&c.author)
    .bind(c.created_ms)
    .bind(&c.text)
    .execute(&mut **tx)
    .await
    .map_err(StateError::db("add a comment"))?;
    Ok(c)
}

/// The comments on `id`, oldest first.
pub(crate) async fn comments(
    pool: &sqlx::SqlitePool,
    subject: Subject,
    id: &str,
) -> Result<Vec<Comment>, StateError> {
    let rows = sqlx::query(
        "SELECT id, author, created_ms, body FROM comments WHERE subject_kind = $1 \
         AND subject_id = $2 ORDER BY created_ms, id",
    )
    .bind(subject.kind())
    .bind(id)
    .fetch_all(pool)
    .await
    .map_err(StateError::db("read comments"))?;
    rows.iter()
        .map(|r| {
            Ok(Comment {
                id: r.try_get("id")?,
                author: r.try_get("author")?,
                created_ms: r.try_get("created_ms")?,
                text: r.try_get("body")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(StateError::db("read comments"))
}

/// The audit log of `id`, oldest first.
pub(crate) async fn history(
    pool: &sqlx::SqlitePool,
    subject: Subject,
    id: &str,
) -> Result<Vec<AuditEntry>, StateError> {
    let rows = sqlx::query(
        "SELECT actor, at_ms, field, old_value, new_value FROM audit_log WHERE subject_kind = $1 \
         AND subject_id = $2 ORDER BY at_ms, field",
    )
    .bind(subject.kind())
    .bind(id)
    .fetch_all(pool)
    .await
    .map_err(StateError::db("read the audit log"))?;
    rows.iter()
        .map(|r| {
            Ok(AuditEntry {
                actor: r.try_get("actor")?,
                at_ms: r.try_get("at_ms")?,
                field: r.try_get("field")?,
                old_value: r.try_get("old_value")?,
                new_value: r.try_get("new_value")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(StateError::db("read the audit log"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new() -> Triage {
        Triage {
            status: "New".into(),
            classification: None,
            determination: None,
            assignee: None,
        }
    }

    fn up() -> LifecycleUpdate {
        LifecycleUpdate::default()
    }

    #[test]
    fn values_are_accepted_in_any_spelling_and_stored_in_mde_spelling() {
        let t = plan(
            &new(),
            &LifecycleUpdate {
                status: Some("in_progress".into()),
                classification: Some(Some("true-positive".into())),
                determination: Some(Some("malware".into())),
                ..up()
            },
        )
        .unwrap();
        assert_eq!(t.status, "InProgress");
        assert_eq!(t.classification.as_deref(), Some("TruePositive"));
        assert_eq!(t.determination.as_deref(), Some("Malware"));
    }

    #[test]
    fn bad_values_name_the_field_and_the_allowed_values() {
        let e = plan(
            &new(),
            &LifecycleUpdate {
                status: Some("Closed".into()),
                ..up()
            },
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            e,
            "invalid status \"Closed\": must be one of New, InProgress, Resolved"
        );
        let e = plan(
            &new(),
            &LifecycleUpdate {
                classification: Some(Some("Benign".into())),
                ..up()
            },
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("invalid classification \"Benign\": must be one of TruePositive"),
            "{e}"
        );
    }

    #[test]
    fn a_determination_must_fit_its_classification() {
        let e = plan(
            &new(),
            &LifecycleUpdate {
                classification: Some(Some("FalsePositive".into())),
                determination: Some(Some("Malware".into())),
                ..up()
            },
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            e,
            "invalid determination \"Malware\": does not fit classification FalsePositive: must \
             be one of NotMalicious, NotEnoughDataToValidate, Other"
        );
        let e = plan(
            &new(),
            &LifecycleUpdate {
                determination: Some(Some("Malware".into())),
                ..up()
            },
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("needs a classification"), "{e}");
        // With the classification already set, a determination alone is fine.
        let mut cur = new();
        cur.classification = Some("InformationalExpectedActivity".into());
        let t = plan(
            &cur,
            &LifecycleUpdate {
                determination: Some(Some("SecurityTesting".into())),
                ..up()
            },
        )
        .unwrap();
        assert_eq!(t.determination.as_deref(), Some("SecurityTesting"));
    }

    #[test]
    fn a_new_classification_keeps_a_fitting_determination_and_drops_one_that_does_not() {
        let mut cur = new();
        cur.classification = Some("TruePositive".into());
        cur.determination = Some("Other".into());
        let to = |c: &str| LifecycleUpdate {
            classification: Some(Some(c.into())),
            ..up()
        };
        let t = plan(&cur, &to("FalsePositive")).unwrap();
        assert_eq!(t.determination.as_deref(), Some("Other"));
        cur.determination = Some("Malware".into());
        let t = plan(&cur, &to("FalsePositive")).unwrap();
        assert_eq!(t.determination, None);
        let t = plan(
            &cur,
            &LifecycleUpdate {
                classification: Some(None),
                ..up()
            },
        )
        .unwrap();
        assert_eq!((t.classification, t.determination), (None, None));
    }

    #[test]
    fn assignee_and_comment_are_checked() {
        let t = plan(
            &new(),
            &LifecycleUpdate {
                assignee: Some(Some(" alice ".into())),
                ..up()
            },
        )
        .unwrap();
        assert_eq!(t.assignee.as_deref(), Some("alice"));
        let mut cur = new();
        cur.assignee = Some("alice".into());
        let t = plan(
            &cur,
            &LifecycleUpdate {
                assignee: Some(Some("".into())),
                ..up()
            },
        )
        .unwrap();
        assert_eq!(t.assignee, None);
        assert!(check_comment("  ").is_err());
        assert!(check_comment("a\u{7}b").is_err());
        assert!(check_comment("line 1\nline 2").is_ok());
        assert!(check_comment(&"x".repeat(MAX_COMMENT_CHARS + 1)).is_err());
    }
}
