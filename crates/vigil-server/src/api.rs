//! The HTTP API (axum): what the `vigil` CLI and the console call. Every route under `/api/v1`
//! runs behind the access guard (`api/access.rs`: an API token as `Authorization: Bearer`, or
//! the console's session cookie with its CSRF token; the route's permission; a rate limit; the
//! audit log of changes). Errors are `application/problem+json` with a status that fits (400
//! bad input, 401 not authenticated, 403 not allowed, 404 unknown id, 409 taken, 429 too many
//! requests). The principal's name is the actor recorded in comments and the audit log.
//!
//! Alerts and incidents (triage) are in `api/alerts.rs`; rules and suppressions in
//! `api/rules.rs`; KQL hunting and saved queries in `api/hunt.rs`; custom detections in
//! `api/custom.rs`; threat intelligence (indicators, feeds, warning lists) in `api/intel.rs`;
//! entity pages (file, IP, domain) in `api/entities.rs`; response actions, the action center,
//! live response and the file library in `api/actions.rs`; `api/body.rs` reads JSON bodies field by field so that errors name the field.
//!
//! **Invariant:** only this module and `grpc.rs` turn internal types into wire shapes.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use vigil_state::{Device, EnrollmentToken};

use crate::{now_ms, Ctx};
use list::ListQuery;
use scope::Scope;

pub mod access;
mod actions;
mod alerts;
mod body;
mod custom;
mod entities;
mod hunt;
mod intel;
mod list;
mod openapi;
mod rules;
mod schemas;
mod scope;
mod settings;

/// An API error: a status and a message naming the problem.
#[derive(Debug)]
pub struct ApiError(pub StatusCode, pub String);

/// Errors are `application/problem+json` (RFC 9457): `title` the status's reason, `detail`
/// the problem; `error` repeats the detail for clients written before.
impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({
            "type": "about:blank",
            "title": self.0.canonical_reason().unwrap_or("Error"),
            "status": self.0.as_u16(),
            "detail": self.1,
            "error": self.1,
        });
        (
            self.0,
            [(axum::http::header::CONTENT_TYPE, "application/problem+json")],
            body.to_string(),
        )
            .into_response()
    }
}

pub(crate) fn bad(msg: impl Into<String>) -> ApiError {
    ApiError(StatusCode::BAD_REQUEST, msg.into())
}

pub(crate) fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
}

pub(crate) type ApiResult = Result<Json<Value>, ApiError>;

/// Bodies that do not parse are refused with serde's message (naming the field).
fn body<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| bad(format!("invalid request body: {e}")))
}

/// The name of the principal the access guard accepted (the actor recorded in comments and
/// the audit log). Every `/api/v1` route runs behind the guard, which authenticates and
/// authorizes the request (`api/access.rs`).
pub(crate) async fn authenticate(_ctx: &Ctx, headers: &HeaderMap) -> Result<String, ApiError> {
    headers
        .get(access::PRINCIPAL_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .ok_or_else(|| ApiError(StatusCode::UNAUTHORIZED, "not authenticated".into()))
}

pub fn router(ctx: Arc<Ctx>) -> Router {
    let api = Router::new()
        .route(
            "/api/v1/enrollment-tokens",
            get(list_tokens).post(create_token),
        )
        .route("/api/v1/enrollment-tokens/{id}/revoke", post(revoke_token))
        .route("/api/v1/devices", get(list_devices))
        .route(
            "/api/v1/devices/{id}",
            get(show_device).patch(update_device),
        )
        .route("/api/v1/devices/{id}/revoke", post(revoke_device))
        .route("/api/v1/events/sql", post(events_sql))
        .merge(alerts::routes())
        .merge(rules::routes())
        .merge(hunt::routes())
        .merge(custom::routes())
        .merge(intel::routes())
        .merge(entities::routes())
        .merge(actions::routes())
        .merge(access::routes())
        .merge(settings::routes())
        .route_layer(axum::middleware::from_fn_with_state(
            Arc::clone(&ctx),
            access::guard,
        ));
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/metrics", get(metrics))
        .route(
            "/api/openapi.json",
            get(|| async { Json(openapi::document().clone()) }),
        )
        .merge(api)
        .fallback(crate::console::fallback)
        .with_state(ctx)
}

async fn metrics(State(ctx): State<Arc<Ctx>>) -> String {
    ctx.metrics.render(&ctx.store.metrics())
}

pub(crate) fn rfc3339(ms: i64) -> String {
    vigil_schema::Timestamp(ms.saturating_mul(1_000_000)).to_string()
}

fn token_json(t: &EnrollmentToken) -> Value {
    json!({
        "id": t.id,
        "label": t.label,
        "created": rfc3339(t.created_ms),
        "expires": t.expires_ms.map(rfc3339),
        "max_uses": t.max_uses,
        "uses": t.uses,
        "revoked": t.revoked,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateToken {
    #[serde(default)]
    label: String,
    /// Lifetime in seconds; none = no expiry.
    ttl_seconds: Option<u64>,
    max_uses: Option<u32>,
}

/// Create an enrolment token (its secret is answered once)
#[utoipa::path(
    post,
    path = "/api/v1/enrollment-tokens",
    tag = "devices",
    request_body = schemas::NewEnrollmentToken,
    responses(
        (status = 200, description = "the token with its secret", body = schemas::EnrollmentTokenCreated),
        (status = 400, response = schemas::BadRequest),
    )
)]
async fn create_token(
    State(ctx): State<Arc<Ctx>>,
    headers: HeaderMap,
    raw: axum::body::Bytes,
) -> ApiResult {
    authenticate(&ctx, &headers).await?;
    let req: CreateToken = body(&raw)?;
    if req.max_uses == Some(0) {
        return Err(bad("max_uses must be at least 1"));
    }
    if req.ttl_seconds == Some(0) {
        return Err(bad(
            "ttl_seconds must be at least 1 (leave it out for no expiry)",
        ));
    }
    let ttl = req.ttl_seconds.map(Duration::from_secs);
    let (token, secret) = ctx
        .state
        .create_enrollment_token(&req.label, ttl, req.max_uses, now_ms())
        .await
        .map_err(not_found_or_internal)?;
    let mut v = token_json(&token);
    v["secret"] = json!(secret);
    Ok(Json(v))
}

/// Enrolment tokens
#[utoipa::path(
    get,
    path = "/api/v1/enrollment-tokens",
    tag = "devices",
    params(schemas::ListParams),
    responses(
        (status = 200, description = "the tokens", body = schemas::List<schemas::EnrollmentToken>),
        (status = 400, response = schemas::BadRequest),
    )
)]
async fn list_tokens(
    State(ctx): State<Arc<Ctx>>,
    headers: HeaderMap,
    Query(lq): Query<HashMap<String, String>>,
) -> ApiResult {
    authenticate(&ctx, &headers).await?;
    let list = ListQuery::parse(&lq, &[])?;
    let tokens = ctx.state.list_enrollment_tokens().await.map_err(internal)?;
    list.answer(tokens.iter().map(token_json).collect::<Vec<_>>())
}

/// Revoke an enrolment token
#[utoipa::path(
    post,
    path = "/api/v1/enrollment-tokens/{id}/revoke",
    tag = "devices",
    params(("id" = String, Path, description = "the token id")),
    responses(
        (status = 200, description = "revoked", body = schemas::EnrollmentTokenRevoked),
        (status = 404, response = schemas::NotFound),
    )
)]
async fn revoke_token(
    State(ctx): State<Arc<Ctx>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult {
    authenticate(&ctx, &headers).await?;
    ctx.state
        .revoke_enrollment_token(&id)
        .await
        .map_err(not_found_or_internal)?;
    Ok(Json(json!({ "id": id, "revoked": true })))
}

/// A state error as an answer: unknown id 404, refused input 400, the rest 500.
pub(crate) fn not_found_or_internal(e: vigil_state::StateError) -> ApiError {
    match e {
        vigil_state::StateError::NotFound { .. } => ApiError(StatusCode::NOT_FOUND, e.to_string()),
        vigil_state::StateError::Invalid { .. } => bad(e.to_string()),
        e => internal(e),
    }
}

/// A device as the API shows it, with its health worked out now.
/// `risk`: the highest severity of its unresolved alerts, if any.
pub fn device_json(d: &Device, inactive_after: Duration, now: i64, risk: Option<&str>) -> Value {
    let health = if d.revoked_ms.is_some() {
        "Revoked".to_string()
    } else {
        match d.last_seen_ms {
            Some(seen) if now - seen <= inactive_after.as_millis() as i64 => {
                d.health.clone().unwrap_or_else(|| "Active".to_string())
            }
            Some(_) => "Inactive".to_string(),
            None => "Inactive".to_string(),
        }
    };
    let exposure = crate::exposure::exposure(d, &health, now);
    json!({
        "DeviceId": d.id,
        "DeviceName": d.name,
        "HealthStatus": health,
        "LastSeen": d.last_seen_ms.map(rfc3339),
        "Enrolled": rfc3339(d.enrolled_ms),
        "Revoked": d.revoked_ms.map(rfc3339),
        "OSPlatform": d.os_platform,
        "OSVersion": d.os_version,
        "AgentVersion": d.agent_version,
        "SensorMode": d.sensor_mode,
        "CertificateSerial": d.cert_serial,
        "CertificateExpires": rfc3339(d.cert_not_after_ms),
        "Health": d.health_detail.as_deref().and_then(|h| serde_json::from_str::<Value>(h).ok()),
        "DeviceGroup": d.group,
        "Tags": d.tags,
        "RiskLevel": risk.unwrap_or("None"),
        "ExposureLevel": exposure.level,
        "ExposureReasons": exposure.reasons,
    })
}

/// The devices `GET /api/v1/devices` filters on, besides the list parameters: the item field
/// each compares with (`tag`: one of the tags).
const DEVICE_FILTERS: &[(&str, &str)] = &[
    ("tag", "Tags"),
    ("health", "HealthStatus"),
    ("risk", "RiskLevel"),
    ("exposure", "ExposureLevel"),
    ("group", "DeviceGroup"),
];

/// Whether device item `v` passes the filters of `q` (values compared without case).
fn device_passes(v: &Value, q: &HashMap<String, String>) -> bool {
    DEVICE_FILTERS.iter().all(|(param, field)| {
        let Some(want) = q.get(*param) else {
            return true;
        };
        let eq = |x: &Value| x.as_str().is_some_and(|s| s.eq_ignore_ascii_case(want));
        match &v[*field] {
            Value::Array(items) => items.iter().any(eq),
            x => eq(x),
        }
    })
}

/// The device inventory with health, risk, exposure and tags
#[utoipa::path(
    get,
    path = "/api/v1/devices",
    tag = "devices",
    params(
        schemas::ListParams,
        schemas::DeviceFilters,
    ),
    responses(
        (status = 200, description = "the devices in the principal's scope", body = schemas::List<schemas::Device>),
        (status = 400, response = schemas::BadRequest),
    )
)]
async fn list_devices(
    State(ctx): State<Arc<Ctx>>,
    headers: HeaderMap,
    scope: Scope,
    Query(lq): Query<HashMap<String, String>>,
) -> ApiResult {
    authenticate(&ctx, &headers).await?;
    let filters: Vec<&str> = DEVICE_FILTERS.iter().map(|f| f.0).collect();
    let list = ListQuery::parse(&lq, &filters)?;
    let inactive = Duration::from_secs(ctx.cfg.server.inactive_after_secs);
    let now = now_ms();
    let devices = ctx.state.list_devices().await.map_err(internal)?;
    let risk = ctx
        .state
        .device_open_alert_severity(None)
        .await
        .map_err(internal)?;
    list.answer(
        devices
            .iter()
            .filter(|d| scope.sees(&d.id))
            .map(|d| device_json(d, inactive, now, risk.get(&d.id).map(String::as_str)))
            .filter(|v| device_passes(v, &lq))
            .collect::<Vec<_>>(),
    )
}

/// One device
#[utoipa::path(
    get,
    path = "/api/v1/devices/{id}",
    tag = "devices",
    params(("id" = String, Path, description = "the DeviceId")),
    responses(
        (status = 200, description = "the device", body = schemas::Device),
        (status = 404, response = schemas::NotFound),
    )
)]
async fn show_device(
    State(ctx): State<Arc<Ctx>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    scope: Scope,
) -> ApiResult {
    authenticate(&ctx, &headers).await?;
    scope.check(&id, || format!("no device {id}"))?;
    let inactive = Duration::from_secs(ctx.cfg.server.inactive_after_secs);
    let risk = ctx
        .state
        .device_open_alert_severity(Some(&id))
        .await
        .map_err(internal)?;
    match ctx.state.device(&id).await.map_err(internal)? {
        Some(d) => Ok(Json(device_json(
            &d,
            inactive,
            now_ms(),
            risk.get(&id).map(String::as_str),
        ))),
        None => Err(ApiError(StatusCode::NOT_FOUND, format!("no device {id}"))),
    }
}

/// Set a device's group and/or tags
///
/// `PATCH /api/v1/devices/{id}` `{"group"?: "name" | null, "tags"?: [..]}`: the device group
/// scopes indicators and access; tags are the operators' labels (filters of the inventory).
/// Both are checked before either is written.
#[utoipa::path(
    patch,
    path = "/api/v1/devices/{id}",
    tag = "devices",
    params(("id" = String, Path, description = "the DeviceId")),
    request_body = schemas::DeviceChange,
    responses(
        (status = 200, description = "the device as changed", body = schemas::Device),
        (status = 400, response = schemas::BadRequest),
        (status = 404, response = schemas::NotFound),
    )
)]
async fn update_device(
    State(ctx): State<Arc<Ctx>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    scope: Scope,
    raw: axum::body::Bytes,
) -> ApiResult {
    let actor = authenticate(&ctx, &headers).await?;
    scope.check(&id, || format!("no device {id}"))?;
    let b = body::Body::parse(&raw, &["group", "tags"])?;
    let group = b.text("group")?;
    let tags = match b.raw("tags") {
        None => None,
        Some(_) => {
            Some(vigil_state::normalize_tags(&b.strings("tags")?).map_err(|e| bad(e.to_string()))?)
        }
    };
    if group.is_none() && tags.is_none() {
        return Err(bad(
            "nothing to change: give group (a name, or null for no group) and/or tags (a list)",
        ));
    }
    if let Some(group) = &group {
        if !scope.sees_group(group.as_deref()) {
            return Err(ApiError(
                StatusCode::FORBIDDEN,
                format!(
                    "group {}: a principal limited to device groups can only move devices into its own groups",
                    group.as_deref().unwrap_or("(none)")
                ),
            ));
        }
        if let Some(g) = group {
            vigil_state::check_device_group(g).map_err(|e| bad(e.to_string()))?;
        }
    }
    let mut d = None;
    if let Some(tags) = &tags {
        d = Some(
            ctx.state
                .set_device_tags(&id, tags)
                .await
                .map_err(not_found_or_internal)?,
        );
        tracing::info!(device = %id, tags = ?tags, actor = %actor, "device tags set");
    }
    if let Some(group) = &group {
        d = Some(
            ctx.state
                .set_device_group(&id, group.as_deref())
                .await
                .map_err(not_found_or_internal)?,
        );
        tracing::info!(device = %id, group = ?group, actor = %actor, "device group set");
    }
    let d = d.expect("one of them was set");
    let inactive = Duration::from_secs(ctx.cfg.server.inactive_after_secs);
    let risk = ctx
        .state
        .device_open_alert_severity(Some(&id))
        .await
        .map_err(internal)?;
    Ok(Json(device_json(
        &d,
        inactive,
        now_ms(),
        risk.get(&id).map(String::as_str),
    )))
}

/// Revoke a device's certificate
#[utoipa::path(
    post,
    path = "/api/v1/devices/{id}/revoke",
    tag = "devices",
    params(("id" = String, Path, description = "the DeviceId")),
    responses(
        (status = 200, description = "revoked", body = schemas::DeviceRevoked),
        (status = 404, response = schemas::NotFound),
    )
)]
async fn revoke_device(
    State(ctx): State<Arc<Ctx>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    scope: Scope,
) -> ApiResult {
    authenticate(&ctx, &headers).await?;
    scope.check(&id, || format!("no device {id}"))?;
    ctx.state
        .revoke_device(&id, now_ms())
        .await
        .map_err(not_found_or_internal)?;
    tracing::info!(device = %id, "device revoked");
    Ok(Json(json!({ "DeviceId": id, "revoked": true })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SqlRequest {
    sql: String,
}

/// Read-only SQL over the telemetry tables
#[utoipa::path(
    post,
    path = "/api/v1/events/sql",
    tag = "hunting",
    request_body = schemas::SqlRequest,
    responses(
        (status = 200, description = "the rows (of devices in the principal's scope)", body = schemas::SqlAnswer),
        (status = 400, response = schemas::BadRequest),
    )
)]
async fn events_sql(
    State(ctx): State<Arc<Ctx>>,
    headers: HeaderMap,
    scope: Scope,
    raw: axum::body::Bytes,
) -> ApiResult {
    authenticate(&ctx, &headers).await?;
    let req: SqlRequest = body(&raw)?;
    if req.sql.trim().is_empty() {
        return Err(bad("the sql field is empty"));
    }
    let batches = vigil_store::with_device_scope(scope.devices(), ctx.store.sql(&req.sql))
        .await
        .map_err(|e| bad(e.to_string()))?;
    let columns: Vec<String> = batches
        .first()
        .map(|b| {
            b.schema()
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .collect()
        })
        .unwrap_or_default();
    let rows = vigil_store::batches_to_json_rows(&batches);
    Ok(Json(json!({ "columns": columns, "rows": rows })))
}
