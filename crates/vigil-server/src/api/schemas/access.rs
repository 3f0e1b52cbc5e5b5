//! Wire shapes of access control (`api/access.rs`): login, users, roles, API tokens, the audit
//! log.

#![allow(dead_code, non_snake_case)]

use utoipa::{IntoParams, ToSchema};

/// `POST /api/v1/auth/login`.
#[derive(ToSchema)]
pub(crate) struct LoginRequest {
    username: String,
    password: String,
}

/// A successful login; the session cookie (`vigil_session`, HttpOnly, SameSite=Strict) comes
/// in `Set-Cookie`.
#[derive(ToSchema)]
pub(crate) struct LoginAnswer {
    /// Send it as `X-CSRF-Token` on every request but GET.
    csrf_token: String,
    /// When the session ends (RFC 3339).
    expires: String,
    user: Principal,
}

/// Who a request acts as.
#[derive(ToSchema)]
pub(crate) struct Principal {
    /// The user or token name (the actor in comments and the audit log).
    Name: String,
    Role: String,
    /// The role's permissions (`read`, `triage`, `hunt`, `detections`, `intel`, `respond`,
    /// `live`, `settings`).
    Permissions: Vec<String>,
    /// The device groups the principal is limited to; empty for the whole fleet.
    DeviceGroups: Vec<String>,
    /// `session` or `token`.
    Via: String,
}

/// `POST /api/v1/auth/logout`.
#[derive(ToSchema)]
pub(crate) struct LoggedOut {
    logged_out: bool,
}

/// A console user.
#[derive(ToSchema)]
pub(crate) struct User {
    UserId: String,
    Name: String,
    Role: String,
    DeviceGroups: Vec<String>,
    Disabled: bool,
    Created: String,
}

/// `POST /api/v1/users`.
#[derive(ToSchema)]
pub(crate) struct NewUser {
    name: String,
    /// Stored as an argon2 hash.
    password: String,
    role: String,
    /// Limit the user to these device groups (none: the whole fleet).
    device_groups: Option<Vec<String>>,
}

/// `PATCH /api/v1/users/{name}`: the fields given change.
#[derive(ToSchema)]
pub(crate) struct UserChange {
    #[schema(nullable = false)]
    role: Option<String>,
    device_groups: Option<Vec<String>>,
    #[schema(nullable = false)]
    password: Option<String>,
    /// A disabled user cannot log in; their sessions end.
    disabled: Option<bool>,
}

/// A removed user or role.
#[derive(ToSchema)]
pub(crate) struct NameRemoved {
    Name: String,
    removed: bool,
}

/// A role.
#[derive(ToSchema)]
pub(crate) struct Role {
    Name: String,
    Description: String,
    Permissions: Vec<String>,
    /// Administrator, Security operator and Security reader are built in.
    BuiltIn: bool,
}

/// `POST /api/v1/roles`.
#[derive(ToSchema)]
pub(crate) struct NewRole {
    name: String,
    #[schema(nullable = false)]
    description: Option<String>,
    permissions: Vec<String>,
}

/// An API token (never its secret).
#[derive(ToSchema)]
pub(crate) struct ApiToken {
    TokenId: String,
    Name: String,
    Role: String,
    DeviceGroups: Vec<String>,
    Created: String,
    Revoked: Option<String>,
}

/// A new API token with its secret, answered once (only its hash is stored).
#[derive(ToSchema)]
pub(crate) struct ApiTokenCreated {
    TokenId: String,
    Name: String,
    Role: String,
    DeviceGroups: Vec<String>,
    Created: String,
    Revoked: Option<String>,
    /// Send it as `Authorization: Bearer <secret>`.
    Secret: String,
}

/// `POST /api/v1/api-tokens`.
#[derive(ToSchema)]
pub(crate) struct NewApiToken {
    name: String,
    role: String,
    device_groups: Option<Vec<String>>,
}

/// A revoked API token.
#[derive(ToSchema)]
pub(crate) struct ApiTokenRevoked {
    TokenId: String,
    revoked: bool,
}

/// Filter and page of the audit log.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct AuditParams {
    /// Only this actor's changes.
    actor: Option<String>,
    /// Entries in the page, 1 to 1000 (default 100).
    limit: Option<u64>,
    offset: Option<u64>,
}

/// One page of the audit log, newest first.
#[derive(ToSchema)]
pub(crate) struct AuditPage {
    items: Vec<AuditEntry>,
    total: u64,
    limit: u64,
    offset: u64,
}

/// One change (any request but GET), refused ones included.
#[derive(ToSchema)]
pub(crate) struct AuditEntry {
    Time: String,
    Actor: String,
    Method: String,
    Path: String,
    /// The answer's HTTP status.
    Status: u16,
    Detail: String,
}
