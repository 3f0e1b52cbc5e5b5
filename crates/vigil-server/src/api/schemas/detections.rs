//! Wire shapes of detection content: the Sigma rule catalogue and suppressions
//! (`api/rules.rs`), custom detections (`api/custom.rs`).

#![allow(dead_code, non_snake_case)]

use utoipa::ToSchema;

/// A Sigma rule detection loaded, with its switch.
#[derive(ToSchema)]
pub(crate) struct Rule {
    RuleId: String,
    Title: String,
    /// Sigma's level.
    Level: Option<String>,
    /// The alert severity the level maps to.
    Severity: String,
    AttackTechniques: Vec<String>,
    Category: String,
    Tags: Vec<String>,
    /// Sigma's status (`stable`, `test`, `experimental`...).
    Maturity: Option<String>,
    /// The rule's file.
    Source: String,
    Enabled: bool,
}

/// A suppression rule: alerts of its rule matching its conditions are hidden or resolved.
#[derive(ToSchema)]
pub(crate) struct Suppression {
    SuppressionId: String,
    RuleId: String,
    Conditions: Vec<SuppressionCondition>,
    /// `AllDevices` or `Devices`.
    Scope: String,
    Devices: Vec<String>,
    /// `hide` or `resolve`.
    Action: String,
    Expires: Option<String>,
    Active: bool,
    Comment: String,
    CreatedBy: String,
    Created: String,
    /// Alerts it suppressed.
    Hits: i64,
    LastHit: Option<String>,
}

/// A condition on an evidence field.
#[derive(ToSchema)]
pub(crate) struct SuppressionCondition {
    Key: String,
    Pattern: String,
}

/// `POST /api/v1/suppressions`.
#[derive(ToSchema)]
pub(crate) struct NewSuppression {
    /// A loaded rule's id (any id while detection is off).
    rule_id: String,
    /// All must match; none: every alert of the rule.
    conditions: Option<Vec<NewCondition>>,
    /// DeviceIds; none: every device.
    devices: Option<Vec<String>>,
    /// `hide` or `resolve`.
    action: String,
    /// Lifetime in seconds (or give `expires_ms`); none: no expiry.
    #[schema(minimum = 1)]
    ttl_seconds: Option<i64>,
    /// Expiry, unix milliseconds.
    expires_ms: Option<i64>,
    #[schema(nullable = false)]
    comment: Option<String>,
}

/// A condition of a new suppression: an evidence key and a pattern (`*` wildcards).
#[derive(ToSchema)]
pub(crate) struct NewCondition {
    key: String,
    pattern: String,
}

/// A removed suppression.
#[derive(ToSchema)]
pub(crate) struct SuppressionRemoved {
    SuppressionId: String,
    removed: bool,
}

/// A custom detection: a KQL query run on a schedule whose rows become alerts.
#[derive(ToSchema)]
pub(crate) struct CustomDetection {
    id: String,
    name: String,
    query: String,
    /// `continuous`, `1h`, `3h`, `12h` or `24h`.
    schedule: String,
    /// How far back each run looks.
    lookback_hours: i64,
    title: String,
    description: String,
    severity: String,
    category: String,
    techniques: Vec<String>,
    recommended_actions: String,
    /// Response actions taken on the alert's device (per the automation level).
    actions: Vec<String>,
    enabled: bool,
    owner: String,
    created: String,
    last_run: Option<String>,
    next_run: String,
    last_status: Option<String>,
    last_error: Option<String>,
    /// Alerts the last run raised.
    last_alerts: i64,
}

/// `POST /api/v1/custom-detections`. The query must compile and return `Timestamp`,
/// `ReportId` and `DeviceId`.
#[derive(ToSchema)]
pub(crate) struct NewCustomDetection {
    name: String,
    /// KQL.
    query: String,
    /// `continuous`, `1h`, `3h`, `12h` or `24h`.
    schedule: String,
    /// The alerts' title.
    title: String,
    #[schema(nullable = false)]
    description: Option<String>,
    /// `Informational`, `Low`, `Medium` or `High`.
    severity: String,
    /// The alerts' category (default `Execution`).
    #[schema(nullable = false)]
    category: Option<String>,
    /// ATT&CK technique ids.
    techniques: Option<Vec<String>>,
    #[schema(nullable = false)]
    recommended_actions: Option<String>,
    /// `isolate`, `collect_package`, `scan`, `quarantine_file`.
    actions: Option<Vec<String>>,
}

/// A removed custom detection or saved query.
#[derive(ToSchema)]
pub(crate) struct Deleted {
    /// Its id.
    deleted: String,
}

/// A custom detection run now.
#[derive(ToSchema)]
pub(crate) struct DetectionRun {
    /// Alerts raised.
    alerts: u64,
    rule: CustomDetection,
}
