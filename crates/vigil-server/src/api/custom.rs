//! Custom detection rules: `GET|POST /api/v1/custom-detections`, `GET|DELETE
//! /api/v1/custom-detections/{id}`, `POST .../{id}/enable|disable|run`.
//!
//! A rule is `{"name", "query", "schedule": "continuous|1h|3h|12h|24h", "title",
//! "description", "severity", "category", "techniques": [..], "recommended_actions",
//! "actions": ["isolate", "collect_package", "scan", "quarantine_file"]}`; its query must
//! compile and return `Timestamp`, `ReportId` and `DeviceId` (see `custom.rs`), else 400 with
//! the reason. `run` runs it now and answers the number of alerts raised.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use vigil_state::{CustomDetection, NewCustomDetection};

use super::body::Body;
use super::list::ListQuery;
use super::scope::Scope;
use super::{authenticate, bad, internal, not_found_or_internal, rfc3339, ApiError, ApiResult};
use crate::alert_tables::AlertTables;
use crate::{custom, now_ms, Ctx};

pub(super) fn routes() -> Router<Arc<Ctx>> {
    Router::new()
        .route("/api/v1/custom-detections", get(list).post(create))
        .route("/api/v1/custom-detections/{id}", get(show).delete(remove))
        .route("/api/v1/custom-detections/{id}/enable", post(enable))
        .route("/api/v1/custom-detections/{id}/disable", post(disable))
        .route("/api/v1/custom-detections/{id}/run", post(run_now))
}

fn rule_json(d: &CustomDetection) -> Value {
    json!({
        "id": d.id,
        "name": d.rule.name,
        "query": d.rule.query,
        "schedule": d.rule.schedule,
        "lookback_hours": d.lookback_ms / 3_600_000,
        "title": d.rule.title,
        "description": d.rule.description,
        "severity": d.rule.severity,
        "category": d.rule.category,
        "techniques": d.rule.techniques,
        "recommended_actions": d.rule.recommended_actions,
        "actions": d.rule.actions,
        "enabled": d.enabled,
        "owner": d.owner,
        "created": rfc3339(d.created_ms),
        "last_run": d.last_run_ms.map(rfc3339),
        "next_run": rfc3339(d.next_run_ms),
        "last_status": d.last_status,
        "last_error": d.last_error,
        "last_alerts": d.last_alerts,
    })
}

/// Create a custom detection (a scheduled KQL query)
#[utoipa::path(
    post,
    path = "/api/v1/custom-detections",
    tag = "detections",
    request_body = super::schemas::NewCustomDetection,
    responses(
        (status = 200, description = "the custom detection", body = super::schemas::CustomDetection),
        (status = 400, response = super::schemas::BadRequest),
        (status = 409, response = super::schemas::Conflict),
    )
)]
async fn create(
    State(ctx): State<Arc<Ctx>>,
    headers: HeaderMap,
    scope: Scope,
    raw: axum::body::Bytes,
) -> ApiResult {
    let actor = authenticate(&ctx, &headers).await?;
    // A detection runs over every device's rows and raises alerts on any of them.
    scope.refuse_if_limited("creating a custom detection")?;
    let body = Body::parse(
        &raw,
        &[
            "name",
            "query",
            "schedule",
            "title",
            "description",
            "severity",
            "category",
            "techniques",
            "recommended_actions",
            "actions",
        ],
    )?;
    let required = |name: &str| -> Result<String, ApiError> {
        body.string(name)?
            .ok_or_else(|| bad(format!("the {name} field is required")))
    };
    let rule = NewCustomDetection {
        name: required("name")?,
        query: required("query")?,
        schedule: required("schedule")?,
        title: required("title")?,
        description: body.string("description")?.unwrap_or_default(),
        severity: required("severity")?,
        category: body
            .string("category")?
            .unwrap_or_else(|| "Execution".into()),
        techniques: body.strings("techniques")?,
        recommended_actions: body.string("recommended_actions")?.unwrap_or_default(),
        actions: body.strings("actions")?,
    };
    let now_ns = now_ms().saturating_mul(1_000_000);
    if let Err(reason) = custom::check_query(&ctx.store, &rule.query, &rule.schedule, now_ns).await
    {
        return Err(bad(format!(
            "the query cannot drive a custom detection: {reason}"
        )));
    }
    match ctx
        .state
        .create_custom_detection(&rule, &actor, now_ms())
        .await
    {
        Ok(d) => Ok(Json(rule_json(&d))),
        Err(e @ vigil_state::StateError::AlreadyExists { .. }) => {
            Err(ApiError(StatusCode::CONFLICT, e.to_string()))
        }
        Err(e) => Err(not_found_or_internal(e)),
    }
}

/// Custom detection rules
#[utoipa::path(
    get,
    path = "/api/v1/custom-detections",
    tag = "detections",
    params(super::schemas::ListParams),
    responses(
        (status = 200, description = "the custom detections", body = super::schemas::List<super::schemas::CustomDetection>),
        (status = 400, response = super::schemas::BadRequest),
    )
)]
async fn list(
    State(ctx): State<Arc<Ctx>>,
    headers: HeaderMap,
    Query(lq): Query<HashMap<String, String>>,
) -> ApiResult {
    authenticate(&ctx, &headers).await?;
    let list = ListQuery::parse(&lq, &[])?;
    let all = ctx.state.custom_detections().await.map_err(internal)?;
    list.answer(all.iter().map(rule_json).collect())
}

/// One custom detection with its last run
#[utoipa::path(
    get,
    path = "/api/v1/custom-detections/{id}",
    tag = "detections",
    params(("id" = String, Path, description = "the custom detection id")),
    responses(
        (status = 200, description = "the custom detection", body = super::schemas::CustomDetection),
        (status = 404, response = super::schemas::NotFound),
    )
)]
async fn show(
    State(ctx): State<Arc<Ctx>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult {
    authenticate(&ctx, &headers).await?;
    let d = ctx
        .state
        .custom_detection(&id)
        .await
        .map_err(not_found_or_internal)?;
    Ok(Json(rule_json(&d)))
}

/// Delete a custom detection
#[utoipa::path(
    delete,
    path = "/api/v1/custom-detections/{id}",
    tag = "detections",
    params(("id" = String, Path, description = "the custom detection id")),
    responses(
        (status = 200, description = "deleted", body = super::schemas::Deleted),
        (status = 404, response = super::schemas::NotFound),
    )
)]
async fn remove(
    State(ctx): State<Arc<Ctx>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult {
    authenticate(&ctx, &headers).await?;
    ctx.state
        .delete_custom_detection(&id)
        .await
        .map_err(not_found_or_internal)?;
    Ok(Json(json!({ "deleted": id })))
}

async fn switch(ctx: &Ctx, headers: &HeaderMap, id: &str, enabled: bool) -> ApiResult {
    authenticate(ctx, headers).await?;
    let d = ctx
        .state
        .set_custom_detection_enabled(id, enabled, now_ms())
        .await
        .map_err(not_found_or_internal)?;
    Ok(Json(rule_json(&d)))
}

/// Enable a custom detection
#[utoipa::path(
    post,
    path = "/api/v1/custom-detections/{id}/enable",
    tag = "detections",
    params(("id" = String, Path, description = "the custom detection id")),
    responses(
        (status = 200, description = "the custom detection", body = super::schemas::CustomDetection),
        (status = 404, response = super::schemas::NotFound),
    )
)]
async fn enable(
    State(ctx): State<Arc<Ctx>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult {
    switch(&ctx, &headers, &id, true).await
}

/// Disable a custom detection
#[utoipa::path(
    post,
    path = "/api/v1/custom-detections/{id}/disable",
    tag = "detections",
    params(("id" = String, Path, description = "the custom detection id")),
    responses(
        (status = 200, description = "the custom detection", body = super::schemas::CustomDetection),
        (status = 404, response = super::schemas::NotFound),
    )
)]
async fn disable(
    State(ctx): State<Arc<Ctx>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult {
    switch(&ctx, &headers, &id, false).await
}

/// Run a custom detection now
#[utoipa::path(
    post,
    path = "/api/v1/custom-detections/{id}/run",
    tag = "detections",
    params(("id" = String, Path, description = "the custom detection id")),
    responses(
        (status = 200, description = "the alerts it raised", body = super::schemas::DetectionRun),
        (status = 404, response = super::schemas::NotFound),
    )
)]
async fn run_now(
    State(ctx): State<Arc<Ctx>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    scope: Scope,
) -> ApiResult {
    authenticate(&ctx, &headers).await?;
    scope.refuse_if_limited("running a custom detection")?;
    let d = ctx
        .state
        .custom_detection(&id)
        .await
        .map_err(not_found_or_internal)?;
    let mut tables = AlertTables::new(ctx.store.clone(), "custom");
    let alerts = custom::run_rule(&ctx, &mut tables, &d).await;
    let d = ctx
        .state
        .custom_detection(&id)
        .await
        .map_err(not_found_or_internal)?;
    Ok(Json(json!({ "alerts": alerts, "rule": rule_json(&d) })))
}
