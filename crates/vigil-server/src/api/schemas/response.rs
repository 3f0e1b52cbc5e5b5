//! Wire shapes of response: device actions, the action center, collected files, the
//! live-response library and sessions (`api/actions.rs`), and the server settings
//! (`api/settings.rs`).

#![allow(dead_code, non_snake_case)]

use serde::Serialize;
use utoipa::{IntoParams, ToSchema};

use super::Object;

/// `POST /api/v1/devices/{id}/actions`.
#[derive(ToSchema)]
pub(crate) struct NewAction {
    /// `isolate`, `release`, `kill`, `quarantine`, `restore`, `collect`, `scan`, `restrict` or
    /// `unrestrict` (live-response commands run in a session).
    r#type: String,
    /// The action's arguments (e.g. `{"pid", "start_time"}` for kill, `{"path"}` for
    /// quarantine); the refusal names what is wrong.
    args: Option<Object>,
    /// Why (kept in the action center and the audit log).
    #[schema(nullable = false)]
    comment: Option<String>,
    /// How long the action waits for the device, 1 to 2592000 seconds (default 7 days).
    #[schema(minimum = 1, maximum = 2592000)]
    ttl_seconds: Option<i64>,
}

/// A response action.
#[derive(Serialize, ToSchema)]
pub(crate) struct Action {
    ActionId: String,
    DeviceId: String,
    /// The action, or `live.<command>` for a live-response command.
    Type: String,
    Arguments: Option<serde_json::Value>,
    Comment: String,
    RequestedBy: String,
    Created: String,
    /// When it times out unless the device took it.
    Expires: String,
    /// `PendingApproval`, `Pending`, `Sent`, `InProgress`, `Succeeded`, `Failed`,
    /// `Cancelled` or `TimedOut`.
    Status: String,
    Sent: Option<String>,
    Started: Option<String>,
    Finished: Option<String>,
    /// What the agent reported.
    Result: Option<serde_json::Value>,
    Error: Option<String>,
    /// The ActionId this one undoes.
    UndoOf: Option<String>,
    /// The live-response session it ran in.
    SessionId: Option<String>,
}

/// An action with its timeline and the files it brought back.
#[derive(Serialize, ToSchema)]
pub(crate) struct ActionDetail {
    #[serde(flatten)]
    action: Action,
    Timeline: Vec<ActionEvent>,
    Files: Vec<StoredFile>,
}

/// A step of an action.
#[derive(Serialize, ToSchema)]
pub(crate) struct ActionEvent {
    Time: String,
    Status: String,
    Actor: String,
    Detail: String,
}

/// A file an action collected, or a library file.
#[derive(Serialize, ToSchema)]
pub(crate) struct StoredFile {
    FileId: String,
    Name: String,
    Size: i64,
    SHA256: String,
    DeviceId: Option<String>,
    ActionId: Option<String>,
    Created: String,
    CreatedBy: String,
    Description: String,
}

/// Filters and page of the action center (newest first).
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ActionFilters {
    /// A DeviceId.
    device: Option<String>,
    /// A status.
    status: Option<String>,
    /// An action type.
    r#type: Option<String>,
    /// Only actions not finished.
    pending: Option<bool>,
    /// A live-response session's commands.
    session: Option<String>,
    /// Actions in a page, 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
    offset: Option<u64>,
}

/// One page of actions.
#[derive(ToSchema)]
pub(crate) struct ActionPage {
    items: Vec<Action>,
    total: u64,
    limit: u64,
    offset: u64,
}

/// `{"comment"}` of a cancel, approve or undo.
#[derive(ToSchema)]
pub(crate) struct ActionComment {
    #[schema(nullable = false)]
    comment: Option<String>,
}

/// The name and description of a library file (its bytes are the body).
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct LibraryFileParams {
    /// The name `putfile` and `run` refer to it by.
    name: String,
    description: Option<String>,
}

/// A removed library file.
#[derive(ToSchema)]
pub(crate) struct LibraryFileRemoved {
    FileId: String,
    Name: String,
    removed: bool,
}

/// A live-response session (one per device at a time).
#[derive(Serialize, ToSchema)]
pub(crate) struct LiveSession {
    SessionId: String,
    DeviceId: String,
    OpenedBy: String,
    Opened: String,
    Closed: Option<String>,
    LastActivity: String,
    /// Whether the device's agent is connected now.
    DeviceConnected: bool,
}

/// A session with the commands run in it.
#[derive(Serialize, ToSchema)]
pub(crate) struct LiveSessionDetail {
    #[serde(flatten)]
    session: LiveSession,
    Commands: Vec<Action>,
}

/// `POST /api/v1/live/{session}/commands`.
#[derive(ToSchema)]
pub(crate) struct LiveCommand {
    /// `processes`, `connections`, `persistence`, `fileinfo`, `findfile`, `getfile`,
    /// `putfile`, `run`, `analyze` or `remediate`.
    command: String,
    /// The command's arguments (`putfile` and `run` name a library file).
    args: Option<Object>,
    /// Seconds to wait for the result, 0 to 300 (default 60).
    #[schema(minimum = 0, maximum = 300)]
    wait_seconds: Option<i64>,
}

/// The server-wide settings.
#[derive(ToSchema)]
pub(crate) struct Settings {
    /// `full`, `semi` or `none`: what happens to the response actions detections ask for.
    automation_level: String,
    /// Days of telemetry kept; 0 keeps everything.
    retention_days: u32,
    updated: Option<String>,
    updated_by: Option<String>,
    /// The levels there are, with what each does.
    automation_levels: Vec<AutomationLevel>,
}

/// An automation level.
#[derive(ToSchema)]
pub(crate) struct AutomationLevel {
    level: String,
    description: String,
}

/// `PATCH /api/v1/settings`: at least one field; all are checked before any is written.
#[derive(ToSchema)]
pub(crate) struct SettingsChange {
    /// `full`, `semi` or `none`.
    #[schema(nullable = false)]
    automation_level: Option<String>,
    /// 0 (keep everything) to 3650.
    #[schema(minimum = 0, maximum = 3650)]
    retention_days: Option<i64>,
}
