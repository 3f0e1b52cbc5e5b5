//! Response actions: commands for one device (isolate, kill, collect, live-response
//! commands, ...), queued until the device takes them or their time to live passes, with
//! their results and a timeline of who did what when.
//!
//! **Lifecycle.** `Pending` (queued; maybe already delivered) → `InProgress` (the agent
//! started it) → `Succeeded` | `Failed`. An action requested by automation under the `semi`
//! automation level starts as `PendingApproval` (never sent) until an operator approves it
//! (→ `Pending`). A `Pending` or `PendingApproval` action can be `Cancelled`; one whose time
//! to live passes before the agent starts it becomes `TimedOut`. The last four are final: a
//! report that arrives for a final action is kept in the timeline but changes nothing.
//!
//! Every change writes an `action_events` row (when, status, who: an API token's name or the
//! device, and a detail), the audit trail the action center shows.

use sqlx::sqlite::SqliteRow;
use sqlx::Row;

use crate::secret::{check_name, new_id};
use crate::{StateError, StateStore};

/// Action statuses.
pub const ACTION_STATUSES: &[&str] = &[
    "PendingApproval",
    "Pending",
    "InProgress",
    "Succeeded",
    "Failed",
    "Cancelled",
    "TimedOut",
];
/// Statuses no report changes.
pub const FINAL_STATUSES: &[&str] = &["Succeeded", "Failed", "Cancelled", "TimedOut"];
/// The default time to live of a queued action: 7 days.
pub const DEFAULT_ACTION_TTL_MS: i64 = 7 * 86_400_000;
/// The largest arguments or result JSON kept.
const MAX_JSON_BYTES: usize = 1 << 20;

/// An action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseAction {
    /// `ac_` + 16 hex digits.
    pub id: String,
    pub device_id: String,
    /// `isolate`, `release`, `kill`, ... (the server checks the kinds it knows).
    pub kind: String,
    /// Arguments as JSON text.
    pub args: String,
    /// Why (the requester's comment).
    pub reason: String,
    pub requested_by: String,
    pub created_ms: i64,
    pub expires_ms: i64,
    pub status: String,
    /// When it was last sent to the device.
    pub sent_ms: Option<i64>,
    pub started_ms: Option<i64>,
    pub finished_ms: Option<i64>,
    /// The result as JSON text.
    pub result: Option<String>,
    pub error: Option<String>,
    /// The action this one undoes.
    pub undo_of: Option<String>,
    /// The live-response session it belongs to.
    pub session_id: Option<String>,
}

impl ResponseAction {
    pub fn is_final(&self) -> bool {
        FINAL_STATUSES.contains(&self.status.as_str())
    }
}

/// What a new action needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAction {
    pub device_id: String,
    pub kind: String,
    pub args: String,
    pub reason: String,
    pub requested_by: String,
    pub ttl_ms: i64,
    pub undo_of: Option<String>,
    pub session_id: Option<String>,
}

/// One line of an action's timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionEvent {
    pub at_ms: i64,
    pub status: String,
    pub actor: String,
    pub detail: String,
}

/// Which actions to list; every field narrows the list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActionFilter {
    pub device_id: Option<String>,
    pub status: Option<String>,
    /// Only `PendingApproval`, `Pending` and `InProgress`.
    pub open: bool,
    pub kind: Option<String>,
    pub session_id: Option<String>,
    /// Only actions on these devices (a principal limited to device groups); `None`: every
    /// device.
    pub device_ids: Option<Vec<String>>,
    pub limit: u32,
    pub offset: u64,
}

/// A live-response session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveSession {
    /// `lr_` + 16 hex digits.
    pub id: String,
    pub device_id: String,
    pub opened_by: String,
    pub opened_ms: i64,
    pub closed_ms: Option<i64>,
    pub last_ms: i64,
}

/// A file an action brought back (getfile, an investigation package) or the library holds
/// (putfile, scripts to run).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFile {
    /// `fl_` + 16 hex digits.
    pub id: String,
    /// `upload` (from a device) or `library`.
    pub kind: String,
    pub name: String,
    pub size: i64,
    pub sha256: String,
    pub device_id: Option<String>,
    pub action_id: Option<String>,
    pub created_ms: i64,
    pub created_by: String,
    pub description: String,
}

const COLUMNS: &str = "id, device_id, kind, args, reason, requested_by, created_ms, expires_ms, \
    status, sent_ms, started_ms, finished_ms, result, error, undo_of, session_id";
const FILE_COLUMNS: &str =
    "id, kind, name, size, sha256, device_id, action_id, created_ms, created_by, description";

fn from_row(r: &SqliteRow) -> ResponseAction {
    ResponseAction {
        id: r.get("id"),
        device_id: r.get("device_id"),
        kind: r.get("kind"),
        args: r.get("args"),
        reason: r.get("reason"),
        requested_by: r.get("requested_by"),
        created_ms: r.get("created_ms"),
        expires_ms: r.get("expires_ms"),
        status: r.get("status"),
        sent_ms: r.get("sent_ms"),
        started_ms: r.get("started_ms"),
        finished_ms: r.get("finished_ms"),
        result: r.get("result"),
        error: r.get("error"),
        undo_of: r.get("undo_of"),
        session_id: r.get("session_id"),
    }
}

fn file_from_row(r: &SqliteRow) -> StoredFile {
    StoredFile {
        id: r.get("id"),
        kind: r.get("kind"),
        name: r.get("name"),
        size: r.get("size"),
        sha256: r.get("sha256"),
        device_id: r.get("device_id"),
        action_id: r.get("action_id"),
        created_ms: r.get("created_ms"),
        created_by: r.get("created_by"),
        description: r.get("description"),
    }
}

fn check_json(what: &'static str, text: &str) -> Result<(), StateError> {
    if text.len() > MAX_JSON_BYTES {
        return Err(StateError::invalid(
            what,
            &text.chars().take(40).collect::<String>(),
            "is larger than 1 MiB",
        ));
    }
    serde_json::from_str::<serde_json::Value>(text)
        .map(drop)
        .map_err(|e| {
            StateError::invalid(
                what,
                &text.chars().take(40).collect::<String>(),
                format!("is not JSON: {e}"),
            )
        })
}

async fn event(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    id: &str,
    at_ms: i64,
    status: &str,
    actor: &str,
    detail: &str,
) -> Result<(), StateError> {
    sqlx::query(
        "INSERT INTO action_events (action_id, at_ms, status, actor, detail) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(id)
    .bind(at_ms)
    .bind(status)
    .bind(actor)
    .bind(detail)
    .execute(&mut **tx)
    .await
    .map_err(StateError::db("record an action event"))?;
    Ok(())
}

/// An operator's change of an action's status.
struct Transition {
    /// The statuses it may start from.
    from: &'static [&'static str],
    to: &'static str,
    /// More columns to set (`$2` is the time).
    set: &'static str,
    op: &'static str,
    /// Why another status is refused.
    refusal: &'static str,
}

impl StateStore {
    /// Queue an action for a device (which must exist and not be revoked).
    pub async fn create_action(
        &self,
        a: &NewAction,
        now_ms: i64,
    ) -> Result<ResponseAction, StateError> {
        self.insert_action(a, now_ms, "Pending").await
    }

    /// Record an action that waits for an operator's approval ([`StateStore::approve_action`])
    /// before it is sent.
    pub async fn create_action_for_approval(
        &self,
        a: &NewAction,
        now_ms: i64,
    ) -> Result<ResponseAction, StateError> {
        self.insert_action(a, now_ms, "PendingApproval").await
    }

    async fn insert_action(
        &self,
        a: &NewAction,
        now_ms: i64,
        status: &'static str,
    ) -> Result<ResponseAction, StateError> {
        check_name("action type", &a.kind, true)?;
        check_json("action arguments", &a.args)?;
        if a.reason.chars().count() > 4096 {
            return Err(StateError::invalid(
                "action comment",
                &a.reason.chars().take(40).collect::<String>(),
                "is longer than 4096 characters",
            ));
        }
        if a.ttl_ms <= 0 {
            return Err(StateError::invalid(
                "action time to live",
                &a.ttl_ms.to_string(),
                "must be positive",
            ));
        }
        let device = self
            .device(&a.device_id)
            .await?
            .ok_or_else(|| StateError::NotFound {
                what: "device",
                id: a.device_id.clone(),
            })?;
        if device.revoked_ms.is_some() {
            return Err(StateError::invalid(
                "device",
                &a.device_id,
                "is revoked: it takes no more actions",
            ));
        }
        let op = "queue an action";
        let mut tx = StateStore::begin_write(&self.pool)
            .await
            .map_err(StateError::db(op))?;
        let id = new_id("ac_");
        sqlx::query(
            "INSERT INTO actions (id, device_id, kind, args, reason, requested_by, created_ms, \
             expires_ms, status, undo_of, session_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $11, $9, $10)",
        )
        .bind(&id)
        .bind(&a.device_id)
        .bind(&a.kind)
        .bind(&a.args)
        .bind(&a.reason)
        .bind(&a.requested_by)
        .bind(now_ms)
        .bind(now_ms.saturating_add(a.ttl_ms))
        .bind(&a.undo_of)
        .bind(&a.session_id)
        .bind(status)
        .execute(&mut *tx)
        .await
        .map_err(StateError::db(op))?;
        event(&mut tx, &id, now_ms, status, &a.requested_by, &a.reason).await?;
        tx.commit().await.map_err(StateError::db(op))?;
        self.action(&id).await
    }

    pub async fn action(&self, id: &str) -> Result<ResponseAction, StateError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM actions WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(StateError::db("read an action"))?;
        row.as_ref()
            .map(from_row)
            .ok_or_else(|| StateError::NotFound {
                what: "action",
                id: id.to_string(),
            })
    }

    /// The timeline of an action, oldest first.
    pub async fn action_events(&self, id: &str) -> Result<Vec<ActionEvent>, StateError> {
        let rows = sqlx::query(
            "SELECT at_ms, status, actor, detail FROM action_events WHERE action_id = $1 \
             ORDER BY at_ms, rowid",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await
        .map_err(StateError::db("read an action's timeline"))?;
        Ok(rows
            .iter()
            .map(|r| ActionEvent {
                at_ms: r.get("at_ms"),
                status: r.get("status"),
                actor: r.get("actor"),
                detail: r.get("detail"),
            })
            .collect())
    }

    /// A page of actions, newest first, and how many match in all.
    pub async fn actions(
        &self,
        f: &ActionFilter,
    ) -> Result<(Vec<ResponseAction>, u64), StateError> {
        let status = f
            .status
            .as_deref()
            .map(|s| crate::lifecycle::canonical("action status", s, ACTION_STATUSES))
            .transpose()?;
        let cond = "($1 IS NULL OR device_id = $1) AND ($2 IS NULL OR status = $2) \
            AND ($3 = 0 OR status IN ('PendingApproval', 'Pending', 'InProgress')) AND ($4 IS NULL OR kind = $4) \
            AND ($5 IS NULL OR session_id = $5) \
            AND ($6 IS NULL OR device_id IN (SELECT value FROM json_each($6)))";
        let devices = f
            .device_ids
            .as_ref()
            .map(|d| serde_json::to_string(d).unwrap_or_else(|_| "[]".into()));
        let total: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM actions WHERE {cond}"))
            .bind(&f.device_id)
            .bind(status)
            .bind(i64::from(f.open))
            .bind(&f.kind)
            .bind(&f.session_id)
            .bind(&devices)
            .fetch_one(&self.pool)
            .await
            .map_err(StateError::db("count actions"))?;
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM actions WHERE {cond} ORDER BY created_ms DESC, id LIMIT $7 OFFSET $8"
        ))
        .bind(&f.device_id)
        .bind(status)
        .bind(i64::from(f.open))
        .bind(&f.kind)
        .bind(&f.session_id)
        .bind(&devices)
        .bind(i64::from(f.limit.max(1)))
        .bind(f.offset as i64)
        .fetch_all(&self.pool)
        .await
        .map_err(StateError::db("list actions"))?;
        Ok((rows.iter().map(from_row).collect(), total as u64))
    }

    /// The actions a device is sent when it connects, oldest first: `Pending` ones still
    /// within their time to live (expired ones become `TimedOut` first) and `InProgress` ones
    /// (the agent answers from its journal if it finished them while disconnected, so that no
    /// result is lost).
    pub async fn deliverable_actions(
        &self,
        device_id: &str,
        now_ms: i64,
    ) -> Result<Vec<ResponseAction>, StateError> {
        self.time_out_actions(now_ms).await?;
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM actions WHERE device_id = $1 \
             AND status IN ('Pending', 'InProgress') ORDER BY created_ms, id"
        ))
        .bind(device_id)
        .fetch_all(&self.pool)
        .await
        .map_err(StateError::db("read pending actions"))?;
        Ok(rows.iter().map(from_row).collect())
    }

    /// Pending actions whose time to live passed become `TimedOut`; returns how many.
    pub async fn time_out_actions(&self, now_ms: i64) -> Result<u64, StateError> {
        let op = "time out actions";
        let mut tx = StateStore::begin_write(&self.pool)
            .await
            .map_err(StateError::db(op))?;
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM actions WHERE status IN ('Pending', 'PendingApproval') \
             AND expires_ms <= $1",
        )
        .bind(now_ms)
        .fetch_all(&mut *tx)
        .await
        .map_err(StateError::db(op))?;
        for id in &ids {
            sqlx::query(
                "UPDATE actions SET status = 'TimedOut', finished_ms = $2, \
                 error = 'the device did not take the action within its time to live' WHERE id = $1",
            )
            .bind(id)
            .bind(now_ms)
            .execute(&mut *tx)
            .await
            .map_err(StateError::db(op))?;
            event(
                &mut tx,
                id,
                now_ms,
                "TimedOut",
                "server",
                "time to live passed",
            )
            .await?;
        }
        tx.commit().await.map_err(StateError::db(op))?;
        Ok(ids.len() as u64)
    }

    /// Note that an action was sent to its device.
    pub async fn mark_action_sent(&self, id: &str, now_ms: i64) -> Result<(), StateError> {
        sqlx::query("UPDATE actions SET sent_ms = $2 WHERE id = $1")
            .bind(id)
            .bind(now_ms)
            .execute(&self.pool)
            .await
            .map_err(StateError::db("mark an action sent"))?;
        Ok(())
    }

    /// A device's report on one of its actions: `InProgress`, `Succeeded` or `Failed`, with a
    /// result (JSON) or an error. A report on another device's action is refused; one on a
    /// final action is kept in the timeline only. Returns the action as it is now.
    pub async fn report_action(
        &self,
        device_id: &str,
        id: &str,
        status: &str,
        result: Option<&str>,
        error: Option<&str>,
        now_ms: i64,
    ) -> Result<ResponseAction, StateError> {
        let status = crate::lifecycle::canonical(
            "action status",
            status,
            &["InProgress", "Succeeded", "Failed"],
        )?;
        if let Some(r) = result {
            check_json("action result", r)?;
        }
        let op = "record an action report";
        let mut tx = StateStore::begin_write(&self.pool)
            .await
            .map_err(StateError::db(op))?;
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM actions WHERE id = $1"))
            .bind(id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(StateError::db(op))?;
        let a = row
            .as_ref()
            .map(from_row)
            .ok_or_else(|| StateError::NotFound {
                what: "action",
                id: id.to_string(),
            })?;
        if a.device_id != device_id {
            return Err(StateError::invalid(
                "action",
                id,
                format!("belongs to device {}, not {device_id}", a.device_id),
            ));
        }
        let detail = error.unwrap_or("");
        if a.is_final() {
            event(
                &mut tx,
                id,
                now_ms,
                status,
                device_id,
                &format!("late report after {} (not applied) {detail}", a.status),
            )
            .await?;
        } else {
            let finished = status != "InProgress";
            sqlx::query(
                "UPDATE actions SET status = $2, \
                 started_ms = COALESCE(started_ms, $3), \
                 finished_ms = CASE WHEN $4 = 1 THEN $3 ELSE finished_ms END, \
                 result = COALESCE($5, result), error = COALESCE($6, error) WHERE id = $1",
            )
            .bind(id)
            .bind(status)
            .bind(now_ms)
            .bind(i64::from(finished))
            .bind(result)
            .bind(error)
            .execute(&mut *tx)
            .await
            .map_err(StateError::db(op))?;
            event(&mut tx, id, now_ms, status, device_id, detail).await?;
        }
        tx.commit().await.map_err(StateError::db(op))?;
        self.action(id).await
    }

    /// Cancel a `Pending` or `PendingApproval` action (rejecting the latter).
    pub async fn cancel_action(
        &self,
        id: &str,
        actor: &str,
        comment: &str,
        now_ms: i64,
    ) -> Result<ResponseAction, StateError> {
        let to = Transition {
            from: &["Pending", "PendingApproval"],
            to: "Cancelled",
            set: "finished_ms = $2",
            op: "cancel an action",
            refusal: "only a Pending or PendingApproval action can be cancelled",
        };
        self.transition(id, &to, actor, comment, now_ms).await
    }

    /// Approve an action that waits for approval: it becomes `Pending` and is sent.
    pub async fn approve_action(
        &self,
        id: &str,
        actor: &str,
        comment: &str,
        now_ms: i64,
    ) -> Result<ResponseAction, StateError> {
        let to = Transition {
            from: &["PendingApproval"],
            to: "Pending",
            // At least an hour to reach the device after the approval.
            set: "sent_ms = NULL, expires_ms = MAX(expires_ms, $2 + 3600000)",
            op: "approve an action",
            refusal: "only a PendingApproval action can be approved",
        };
        self.transition(id, &to, actor, comment, now_ms).await
    }

    /// Move an action from one of `to.from` to `to.to`, with a timeline line.
    async fn transition(
        &self,
        id: &str,
        to: &Transition,
        actor: &str,
        comment: &str,
        now_ms: i64,
    ) -> Result<ResponseAction, StateError> {
        let mut tx = StateStore::begin_write(&self.pool)
            .await
            .map_err(StateError::db(to.op))?;
        let status: Option<String> = sqlx::query_scalar("SELECT status FROM actions WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(StateError::db(to.op))?;
        match status.as_deref() {
            None => {
                return Err(StateError::NotFound {
                    what: "action",
                    id: id.to_string(),
                })
            }
            Some(s) if to.from.contains(&s) => {}
            Some(s) => {
                return Err(StateError::invalid(
                    "action",
                    id,
                    format!("is {s}: {}", to.refusal),
                ))
            }
        }
        sqlx::query(&format!(
            "UPDATE actions SET status = $3, {} WHERE id = $1",
            to.set
        ))
        .bind(id)
        .bind(now_ms)
        .bind(to.to)
        .execute(&mut *tx)
        .await
        .map_err(StateError::db(to.op))?;
        event(&mut tx, id, now_ms, to.to, actor, comment).await?;
        tx.commit().await.map_err(StateError::db(to.op))?;
        self.action(id).await
    }

    /// Open the live-response session of a device; refused while another is open.
    pub async fn open_live_session(
        &self,
        device_id: &str,
        actor: &str,
        now_ms: i64,
    ) -> Result<LiveSession, StateError> {
        self.device(device_id)
            .await?
            .ok_or_else(|| StateError::NotFound {
                what: "device",
                id: device_id.to_string(),
            })?;
        let op = "open a live-response session";
        let mut tx = StateStore::begin_write(&self.pool)
            .await
            .map_err(StateError::db(op))?;
        let open: Option<(String, String)> = sqlx::query_as(
            "SELECT id, opened_by FROM live_sessions WHERE device_id = $1 AND closed_ms IS NULL",
        )
        .bind(device_id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(StateError::db(op))?;
        if let Some((id, by)) = open {
            return Err(StateError::invalid(
                "live-response session",
                &id,
                format!("is already open on device {device_id} (by {by}): one session per device"),
            ));
        }
        let id = new_id("lr_");
        sqlx::query(
            "INSERT INTO live_sessions (id, device_id, opened_by, opened_ms, last_ms) \
             VALUES ($1, $2, $3, $4, $4)",
        )
        .bind(&id)
        .bind(device_id)
        .bind(actor)
        .bind(now_ms)
        .execute(&mut *tx)
        .await
        .map_err(StateError::db(op))?;
        tx.commit().await.map_err(StateError::db(op))?;
        self.live_session(&id).await
    }

    pub async fn live_session(&self, id: &str) -> Result<LiveSession, StateError> {
        let row = sqlx::query(
            "SELECT id, device_id, opened_by, opened_ms, closed_ms, last_ms FROM live_sessions WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(StateError::db("read a live-response session"))?;
        row.map(|r| LiveSession {
            id: r.get("id"),
            device_id: r.get("device_id"),
            opened_by: r.get("opened_by"),
            opened_ms: r.get("opened_ms"),
            closed_ms: r.get("closed_ms"),
            last_ms: r.get("last_ms"),
        })
        .ok_or_else(|| StateError::NotFound {
            what: "live-response session",
            id: id.to_string(),
        })
    }

    /// Note activity in a session (it is closed after a while without any).
    pub async fn touch_live_session(&self, id: &str, now_ms: i64) -> Result<(), StateError> {
        sqlx::query("UPDATE live_sessions SET last_ms = $2 WHERE id = $1 AND closed_ms IS NULL")
            .bind(id)
            .bind(now_ms)
            .execute(&self.pool)
            .await
            .map_err(StateError::db("touch a live-response session"))?;
        Ok(())
    }

    /// Close a session (by anyone: the action center can end a forgotten one).
    pub async fn close_live_session(
        &self,
        id: &str,
        now_ms: i64,
    ) -> Result<LiveSession, StateError> {
        let done = sqlx::query(
            "UPDATE live_sessions SET closed_ms = $2 WHERE id = $1 AND closed_ms IS NULL",
        )
        .bind(id)
        .bind(now_ms)
        .execute(&self.pool)
        .await
        .map_err(StateError::db("close a live-response session"))?;
        let s = self.live_session(id).await?;
        if done.rows_affected() == 0 {
            return Err(StateError::invalid(
                "live-response session",
                id,
                "is already closed",
            ));
        }
        Ok(s)
    }

    /// Close sessions idle since before `idle_before_ms`; returns how many.
    pub async fn close_idle_live_sessions(
        &self,
        idle_before_ms: i64,
        now_ms: i64,
    ) -> Result<u64, StateError> {
        let done = sqlx::query(
            "UPDATE live_sessions SET closed_ms = $2 WHERE closed_ms IS NULL AND last_ms < $1",
        )
        .bind(idle_before_ms)
        .bind(now_ms)
        .execute(&self.pool)
        .await
        .map_err(StateError::db("close idle live-response sessions"))?;
        Ok(done.rows_affected())
    }

    /// Record a file kept by the server (its bytes are stored by the caller).
    pub async fn add_file(&self, f: &StoredFile) -> Result<StoredFile, StateError> {
        check_name("file name", &f.name, true)?;
        if f.name.contains('/') || f.name == "." || f.name == ".." {
            return Err(StateError::invalid(
                "file name",
                &f.name,
                "must be a plain name, without '/'",
            ));
        }
        if f.kind == "library" {
            let taken: Option<String> =
                sqlx::query_scalar("SELECT id FROM files WHERE kind = 'library' AND name = $1")
                    .bind(&f.name)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(StateError::db("add a file"))?;
            if taken.is_some() {
                return Err(StateError::AlreadyExists {
                    what: "library file",
                    value: f.name.clone(),
                });
            }
        }
        sqlx::query(&format!(
            "INSERT INTO files ({FILE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        ))
        .bind(&f.id)
        .bind(&f.kind)
        .bind(&f.name)
        .bind(f.size)
        .bind(&f.sha256)
        .bind(&f.device_id)
        .bind(&f.action_id)
        .bind(f.created_ms)
        .bind(&f.created_by)
        .bind(&f.description)
        .execute(&self.pool)
        .await
        .map_err(StateError::db("add a file"))?;
        Ok(f.clone())
    }

    /// A file by id, or a library file by name.
    pub async fn file(&self, id_or_name: &str) -> Result<StoredFile, StateError> {
        let row = sqlx::query(&format!(
            "SELECT {FILE_COLUMNS} FROM files WHERE id = $1 OR (kind = 'library' AND name = $1)"
        ))
        .bind(id_or_name)
        .fetch_optional(&self.pool)
        .await
        .map_err(StateError::db("read a file"))?;
        row.as_ref()
            .map(file_from_row)
            .ok_or_else(|| StateError::NotFound {
                what: "file",
                id: id_or_name.to_string(),
            })
    }

    /// Library files (`library`) or the files an action brought back.
    pub async fn files(
        &self,
        kind: &str,
        action_id: Option<&str>,
    ) -> Result<Vec<StoredFile>, StateError> {
        let rows = sqlx::query(&format!(
            "SELECT {FILE_COLUMNS} FROM files WHERE kind = $1 AND ($2 IS NULL OR action_id = $2) \
             ORDER BY name, created_ms"
        ))
        .bind(kind)
        .bind(action_id)
        .fetch_all(&self.pool)
        .await
        .map_err(StateError::db("list files"))?;
        Ok(rows.iter().map(file_from_row).collect())
    }

    /// Forget a library file (the caller removes its bytes).
    pub async fn delete_library_file(&self, id_or_name: &str) -> Result<StoredFile, StateError> {
        let f = self.file(id_or_name).await?;
        if f.kind != "library" {
            return Err(StateError::invalid(
                "file",
                id_or_name,
                "is not a library file",
            ));
        }
        sqlx::query("DELETE FROM files WHERE id = $1")
            .bind(&f.id)
            .execute(&self.pool)
            .await
            .map_err(StateError::db("delete a file"))?;
        Ok(f)
    }
}

/// A new file id.
pub fn new_file_id() -> String {
    new_id("fl_")
}
