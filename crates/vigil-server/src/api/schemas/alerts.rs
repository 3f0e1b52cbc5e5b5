//! Wire shapes of alerts and incidents (`api/alerts.rs`).

#![allow(dead_code, non_snake_case)]

use serde::Serialize;
use utoipa::{IntoParams, ToSchema};

use super::Object;

/// Filters, paging and order of `GET /api/v1/alerts`. Without `limit` and `offset` every
/// matching alert is answered as an array, most recent first; with either, one page.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct AlertsParams {
    /// Alerts with activity at or after this time (unix milliseconds).
    since_ms: Option<i64>,
    /// Alerts whose activity started at or before this time (unix milliseconds).
    until_ms: Option<i64>,
    /// Statuses, comma-separated (`New`, `InProgress`, `Resolved`).
    status: Option<String>,
    /// Severities, comma-separated (`Informational`, `Low`, `Medium`, `High`).
    severity: Option<String>,
    /// A DeviceId.
    device: Option<String>,
    /// An IncidentId.
    incident: Option<String>,
    /// A detection source.
    source: Option<String>,
    /// An ATT&CK technique (its sub-techniques match too).
    technique: Option<String>,
    /// The assignee.
    assignee: Option<String>,
    /// Title text or an alert id.
    q: Option<String>,
    /// Alerts in a page, 1 to 1000 (50 when only `offset` is given).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
    offset: Option<u64>,
    /// The field to sort a page by (`LastActivity` by default).
    sort: Option<String>,
    /// `desc` (the default) or `asc`; only with paging.
    order: Option<super::SortOrder>,
}

/// An alert, in MDE's AlertInfo/AlertEvidence vocabulary.
#[derive(Serialize, ToSchema)]
pub(crate) struct Alert {
    AlertId: String,
    Title: String,
    Severity: String,
    Category: String,
    AttackTechniques: Vec<String>,
    DetectionSource: String,
    RuleId: String,
    DeviceId: String,
    FirstActivity: String,
    LastActivity: String,
    /// Events folded into the alert.
    Hits: i64,
    /// `New`, `InProgress` or `Resolved`.
    Status: String,
    Classification: Option<String>,
    Determination: Option<String>,
    AssignedTo: Option<String>,
    IncidentId: Option<String>,
    /// The suppression rule that hid or resolved it.
    SuppressedBy: Option<String>,
    Created: String,
    LastUpdated: String,
    /// What the alert saw: processes, files, addresses.
    Evidence: Option<Object>,
}

/// An alert with its comments and the history of its changes.
#[derive(Serialize, ToSchema)]
pub(crate) struct AlertDetail {
    #[serde(flatten)]
    alert: Alert,
    Comments: Vec<Comment>,
    History: Vec<Change>,
}

/// A comment on an alert or incident.
#[derive(Serialize, ToSchema)]
pub(crate) struct Comment {
    Author: String,
    Created: String,
    Comment: String,
}

/// One change of an alert or incident field.
#[derive(Serialize, ToSchema)]
pub(crate) struct Change {
    Time: String,
    Actor: String,
    Field: String,
    OldValue: Option<String>,
    NewValue: Option<String>,
}

/// A triage update: at least one field; `null` clears classification, determination or
/// assignee. Values are checked (the refusal names the field and the allowed values) and
/// nothing changes when one is refused.
#[derive(ToSchema)]
pub(crate) struct Triage {
    /// `New`, `InProgress` or `Resolved`.
    #[schema(nullable = false)]
    status: Option<String>,
    /// `TruePositive`, `InformationalExpectedActivity` or `FalsePositive`.
    classification: Option<String>,
    /// Why, for the classification (e.g. `Malware`, `SecurityTesting`, `NotMalicious`).
    determination: Option<String>,
    assignee: Option<String>,
    /// A comment recorded with the change.
    #[schema(nullable = false)]
    comment: Option<String>,
}

/// `POST /api/v1/alerts/bulk`: one triage update for up to 1,000 alerts, in one transaction.
#[derive(ToSchema)]
pub(crate) struct BulkTriage {
    /// Alert ids, 1 to 1000.
    #[schema(min_items = 1, max_items = 1000)]
    ids: Vec<String>,
    #[schema(nullable = false)]
    status: Option<String>,
    classification: Option<String>,
    determination: Option<String>,
    assignee: Option<String>,
    #[schema(nullable = false)]
    comment: Option<String>,
}

/// The alerts a bulk triage changed.
#[derive(ToSchema)]
pub(crate) struct BulkTriaged {
    updated: u64,
    items: Vec<Alert>,
}

/// `{"comment": "..."}`.
#[derive(ToSchema)]
pub(crate) struct NewComment {
    comment: String,
}

/// Filters of `GET /api/v1/incidents`, besides the list parameters.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct IncidentFilters {
    /// Incidents with activity at or after this time (unix milliseconds).
    since_ms: Option<i64>,
    /// Incidents with this status.
    status: Option<String>,
}

/// An incident: alerts correlated by device, entities and time.
#[derive(Serialize, ToSchema)]
pub(crate) struct Incident {
    IncidentId: String,
    Title: String,
    Severity: String,
    Status: String,
    Classification: Option<String>,
    Determination: Option<String>,
    AssignedTo: Option<String>,
    FirstActivity: String,
    LastActivity: String,
    AlertCount: i64,
    /// DeviceIds.
    Devices: Vec<String>,
    Tactics: Vec<String>,
    AttackTechniques: Vec<String>,
    Created: String,
    LastUpdated: String,
}

/// An incident with its alerts (of devices in scope), entities, comments and history.
#[derive(Serialize, ToSchema)]
pub(crate) struct IncidentDetail {
    #[serde(flatten)]
    incident: Incident,
    Alerts: Vec<Alert>,
    Entities: Vec<Entity>,
    Comments: Vec<Comment>,
    History: Vec<Change>,
}

/// An entity of an incident.
#[derive(Serialize, ToSchema)]
pub(crate) struct Entity {
    /// `device`, `user`, `ip`, `sha256` or `process` (`DeviceId/pid`).
    Kind: String,
    Value: String,
}
