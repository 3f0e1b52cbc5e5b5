//! The HTTP API (axum): what the `vigil` CLI and, later, the console call. Every route under
//! `/api/v1` needs `Authorization: Bearer <API token>`; errors are JSON `{"error": "..."}`
//! with a status that fits (400 bad input, 401 no or bad token, 404 unknown id).
//!
//! **Invariant:** only this module and `grpc.rs` turn internal types into wire shapes.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use vigil_state::{Alert, Device, EnrollmentToken};

use crate::{now_ms, Ctx};

/// An API error: a status and a message naming the problem.
pub struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

fn bad(msg: impl Into<String>) -> ApiError {
    ApiError(StatusCode::BAD_REQUEST, msg.into())
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
}

type ApiResult = Result<Json<Value>, ApiError>;

/// Bodies that do not parse are refused with serde's message (naming the field).
fn body<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| bad(format!("invalid request body: {e}")))
}

async fn authenticate(ctx: &Ctx, headers: &HeaderMap) -> Result<(), ApiError> {
    let unauthorized = |m: &str| ApiError(StatusCode::UNAUTHORIZED, m.to_string());
    let value = headers
        .get(axum::http::header::AUTHORIZATION)
        .ok_or_else(|| unauthorized("missing Authorization: Bearer <token> header"))?
        .to_str()
        .map_err(|_| unauthorized("the Authorization header is not text"))?;
    let token = value
        .strip_prefix("Bearer ")
        .ok_or_else(|| unauthorized("the Authorization header must be 'Bearer <token>'"))?;
    match ctx
        .state
        .verify_api_token(token.trim())
        .await
        .map_err(internal)?
    {
        Some(_) => Ok(()),
        None => Err(unauthorized("the API token is not valid")),
    }
}

pub fn router(ctx: Arc<Ctx>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/metrics", get(metrics))
        .route(
            "/api/v1/enrollment-tokens",
            get(list_tokens).post(create_token),
        )
        .route("/api/v1/enrollment-tokens/{id}/revoke", post(revoke_token))
        .route("/api/v1/devices", get(list_devices))
        .route("/api/v1/devices/{id}", get(show_device))
        .route("/api/v1/devices/{id}/revoke", post(revoke_device))
        .route("/api/v1/events/sql", post(events_sql))
        .route("/api/v1/alerts", get(list_alerts))
        .route("/api/v1/alerts/{id}", get(show_alert))
        .fallback(|| async { ApiError(StatusCode::NOT_FOUND, "no such endpoint".into()) })
        .with_state(ctx)
}

async fn metrics(State(ctx): State<Arc<Ctx>>) -> String {
    ctx.metrics.render(&ctx.store.metrics())
}

fn rfc3339(ms: i64) -> String {
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
    let ttl = req.ttl_seconds.map(Duration::from_secs);
    let (token, secret) = ctx
        .state
        .create_enrollment_token(&req.label, ttl, req.max_uses, now_ms())
        .await
        .map_err(internal)?;
    let mut v = token_json(&token);
    v["secret"] = json!(secret);
    Ok(Json(v))
}

async fn list_tokens(State(ctx): State<Arc<Ctx>>, headers: HeaderMap) -> ApiResult {
    authenticate(&ctx, &headers).await?;
    let tokens = ctx.state.list_enrollment_tokens().await.map_err(internal)?;
    Ok(Json(json!(tokens
        .iter()
        .map(token_json)
        .collect::<Vec<_>>())))
}

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

fn not_found_or_internal(e: vigil_state::StateError) -> ApiError {
    match e {
        vigil_state::StateError::NotFound { .. } => ApiError(StatusCode::NOT_FOUND, e.to_string()),
        e => internal(e),
    }
}

/// A device as the API shows it, with its health worked out now.
pub fn device_json(d: &Device, inactive_after: Duration, now: i64) -> Value {
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
    })
}

async fn list_devices(State(ctx): State<Arc<Ctx>>, headers: HeaderMap) -> ApiResult {
    authenticate(&ctx, &headers).await?;
    let inactive = Duration::from_secs(ctx.cfg.server.inactive_after_secs);
    let now = now_ms();
    let devices = ctx.state.list_devices().await.map_err(internal)?;
    Ok(Json(json!(devices
        .iter()
        .map(|d| device_json(d, inactive, now))
        .collect::<Vec<_>>())))
}

async fn show_device(
    State(ctx): State<Arc<Ctx>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult {
    authenticate(&ctx, &headers).await?;
    let inactive = Duration::from_secs(ctx.cfg.server.inactive_after_secs);
    match ctx.state.device(&id).await.map_err(internal)? {
        Some(d) => Ok(Json(device_json(&d, inactive, now_ms()))),
        None => Err(ApiError(StatusCode::NOT_FOUND, format!("no device {id}"))),
    }
}

async fn revoke_device(
    State(ctx): State<Arc<Ctx>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult {
    authenticate(&ctx, &headers).await?;
    ctx.state
        .revoke_device(&id, now_ms())
        .await
        .map_err(not_found_or_internal)?;
    tracing::info!(device = %id, "device revoked");
    Ok(Json(json!({ "DeviceId": id, "revoked": true })))
}

/// An alert in MDE's AlertInfo/AlertEvidence vocabulary.
fn alert_json(a: &Alert) -> Value {
    json!({
        "AlertId": a.id,
        "Title": a.title,
        "Severity": a.severity,
        "Category": a.category,
        "AttackTechniques": a.techniques,
        "DetectionSource": a.detection_source,
        "RuleId": a.rule_id,
        "DeviceId": a.device_id,
        "FirstActivity": rfc3339(a.first_activity_ms),
        "LastActivity": rfc3339(a.last_activity_ms),
        "Hits": a.hits,
        "Status": a.status,
        "Classification": a.classification,
        "Determination": a.determination,
        "AssignedTo": a.assignee,
        "Created": rfc3339(a.created_ms),
        "Evidence": serde_json::from_str::<Value>(&a.evidence_json).unwrap_or(Value::Null),
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AlertsQuery {
    /// Alerts with activity at or after this time, unix milliseconds.
    since_ms: Option<i64>,
}

async fn list_alerts(
    State(ctx): State<Arc<Ctx>>,
    headers: HeaderMap,
    q: Result<axum::extract::Query<AlertsQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult {
    authenticate(&ctx, &headers).await?;
    let axum::extract::Query(q) = q.map_err(|e| bad(format!("invalid query: {e}")))?;
    let alerts = ctx
        .state
        .list_alerts(q.since_ms.unwrap_or(0))
        .await
        .map_err(internal)?;
    Ok(Json(json!(alerts
        .iter()
        .map(alert_json)
        .collect::<Vec<_>>())))
}

async fn show_alert(
    State(ctx): State<Arc<Ctx>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult {
    authenticate(&ctx, &headers).await?;
    let a = ctx.state.alert(&id).await.map_err(not_found_or_internal)?;
    Ok(Json(alert_json(&a)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SqlRequest {
    sql: String,
}

async fn events_sql(
    State(ctx): State<Arc<Ctx>>,
    headers: HeaderMap,
    raw: axum::body::Bytes,
) -> ApiResult {
    authenticate(&ctx, &headers).await?;
    let req: SqlRequest = body(&raw)?;
    if req.sql.trim().is_empty() {
        return Err(bad("the sql field is empty"));
    }
    let batches = ctx
        .store
        .sql(&req.sql)
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
