//! Wire shapes of devices, enrolment tokens and the SQL endpoint (`api.rs`).

#![allow(dead_code, non_snake_case)]

use utoipa::{IntoParams, ToSchema};

use super::Object;

/// An enrolment token (never its secret).
#[derive(ToSchema)]
pub(crate) struct EnrollmentToken {
    id: String,
    label: String,
    created: String,
    /// None: no expiry.
    expires: Option<String>,
    /// None: unlimited.
    max_uses: Option<u32>,
    uses: u32,
    revoked: bool,
}

/// A new enrolment token with its secret, answered once.
#[derive(ToSchema)]
pub(crate) struct EnrollmentTokenCreated {
    id: String,
    label: String,
    created: String,
    expires: Option<String>,
    max_uses: Option<u32>,
    uses: u32,
    revoked: bool,
    /// What `vigil-agent enroll --token` takes.
    secret: String,
}

/// `POST /api/v1/enrollment-tokens`.
#[derive(ToSchema)]
pub(crate) struct NewEnrollmentToken {
    #[schema(nullable = false)]
    label: Option<String>,
    /// Lifetime in seconds, at least 1; none: no expiry.
    #[schema(minimum = 1)]
    ttl_seconds: Option<u64>,
    /// Enrolments allowed, at least 1; none: unlimited.
    #[schema(minimum = 1)]
    max_uses: Option<u32>,
}

/// A revoked enrolment token.
#[derive(ToSchema)]
pub(crate) struct EnrollmentTokenRevoked {
    id: String,
    revoked: bool,
}

/// A device as the inventory shows it.
#[derive(ToSchema)]
pub(crate) struct Device {
    DeviceId: String,
    DeviceName: String,
    /// `Active`, `Inactive` (not seen recently), `Revoked`, or the health the agent reports.
    HealthStatus: String,
    LastSeen: Option<String>,
    Enrolled: String,
    Revoked: Option<String>,
    OSPlatform: Option<String>,
    OSVersion: Option<String>,
    AgentVersion: Option<String>,
    SensorMode: Option<String>,
    CertificateSerial: String,
    CertificateExpires: String,
    /// The agent's last health report (sensors, protection, antivirus), as it sent it.
    Health: Option<Object>,
    /// The device group (scopes indicators and principals).
    DeviceGroup: Option<String>,
    /// The operators' labels.
    Tags: Vec<String>,
    /// The highest severity of the device's unresolved alerts, or `None`.
    RiskLevel: String,
    /// How exposed the device is, from its health report (`Low`, `Medium`, `High`, or `Unknown` before its first report).
    ExposureLevel: String,
    /// Why the exposure level is what it is.
    ExposureReasons: Vec<String>,
}

/// Filters of the device inventory (each compared without case), besides the list
/// parameters.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct DeviceFilters {
    /// Devices with this tag.
    tag: Option<String>,
    /// Devices with this `HealthStatus`.
    health: Option<String>,
    /// Devices with this `RiskLevel`.
    risk: Option<String>,
    /// Devices with this `ExposureLevel`.
    exposure: Option<String>,
    /// Devices in this device group.
    group: Option<String>,
}

/// `PATCH /api/v1/devices/{id}`: at least one field; both are checked before either is
/// written.
#[derive(ToSchema)]
pub(crate) struct DeviceChange {
    /// The device group: a name, or null for none.
    group: Option<String>,
    /// The device's tags (replacing the ones it has).
    tags: Option<Vec<String>>,
}

/// A revoked device.
#[derive(ToSchema)]
pub(crate) struct DeviceRevoked {
    DeviceId: String,
    revoked: bool,
}

/// `POST /api/v1/events/sql`.
#[derive(ToSchema)]
pub(crate) struct SqlRequest {
    /// One read-only SQL statement over the telemetry tables (DataFusion's dialect).
    sql: String,
}

/// Rows of an SQL query.
#[derive(ToSchema)]
pub(crate) struct SqlAnswer {
    columns: Vec<String>,
    rows: Vec<Object>,
}
