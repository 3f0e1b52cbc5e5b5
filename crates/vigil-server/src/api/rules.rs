//! The rules catalogue (the rules detection loaded, with their enabled switch) and suppression
//! rules.
//!
//! `POST /api/v1/rules/{id}/enable|disable` persists the switch in the state store, which also
//! keeps the set of disabled ids that the detection worker reads per batch: a disabled rule
//! raises nothing from the next batch on. `POST /api/v1/suppressions` takes
//! `{"rule_id", "conditions": [{"key", "pattern"}], "devices": [..], "action": "hide|resolve",
//! "ttl_seconds" | "expires_ms", "comment"}`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use vigil_sigma::RuleInfo;
use vigil_state::{NewSuppression, Suppression};

use super::body::Body;
use super::list::ListQuery;
use super::{authenticate, bad, internal, not_found_or_internal, rfc3339, ApiError, ApiResult};
use crate::detect::{attack, severity};
use crate::{now_ms, Ctx};

pub(super) fn routes() -> Router<Arc<Ctx>> {
    Router::new()
        .route("/api/v1/rules", get(list_rules))
        .route("/api/v1/rules/{id}/enable", post(enable_rule))
        .route("/api/v1/rules/{id}/disable", post(disable_rule))
        .route(
            "/api/v1/suppressions",
            get(list_suppressions).post(create_suppression),
        )
        .route("/api/v1/suppressions/{id}", delete(delete_suppression))
}

fn rule_json(r: &RuleInfo, enabled: bool) -> Value {
    let (techniques, category) = attack(&r.tags);
    json!({
        "RuleId": r.id,
        "Title": r.title,
        "Level": r.level,
        "Severity": severity(r.level.as_deref()),
        "AttackTechniques": techniques,
        "Category": category,
        "Tags": r.tags,
        "Maturity": r.status,
        "Source": r.path,
        "Enabled": enabled,
    })
}

/// The rule catalogue with enable switches
#[utoipa::path(
    get,
    path = "/api/v1/rules",
    tag = "detections",
    params(super::schemas::ListParams),
    responses(
        (status = 200, description = "the rules detection loaded", body = super::schemas::List<super::schemas::Rule>),
        (status = 400, response = super::schemas::BadRequest),
    )
)]
async fn list_rules(
    State(ctx): State<Arc<Ctx>>,
    headers: HeaderMap,
    Query(lq): Query<HashMap<String, String>>,
) -> ApiResult {
    authenticate(&ctx, &headers).await?;
    let list = ListQuery::parse(&lq, &[])?;
    let disabled = ctx.state.disabled_rules();
    list.answer(
        ctx.rules
            .iter()
            .map(|r| rule_json(r, !disabled.contains(&r.id)))
            .collect::<Vec<_>>(),
    )
}

async fn switch_rule(ctx: &Ctx, headers: &HeaderMap, id: &str, enabled: bool) -> ApiResult {
    let actor = authenticate(ctx, headers).await?;
    let Some(rule) = ctx.rules.iter().find(|r| r.id == id) else {
        return Err(ApiError(
            StatusCode::NOT_FOUND,
            format!("no loaded rule has id {id:?} (see GET /api/v1/rules)"),
        ));
    };
    ctx.state
        .set_rule_enabled(id, enabled, &actor, now_ms())
        .await
        .map_err(not_found_or_internal)?;
    tracing::info!(rule = %id, actor = %actor, enabled, "rule switched");
    Ok(Json(rule_json(rule, enabled)))
}

/// Enable a rule
#[utoipa::path(
    post,
    path = "/api/v1/rules/{id}/enable",
    tag = "detections",
    params(("id" = String, Path, description = "the RuleId")),
    responses(
        (status = 200, description = "the rule", body = super::schemas::Rule),
        (status = 404, response = super::schemas::NotFound),
    )
)]
async fn enable_rule(
    State(ctx): State<Arc<Ctx>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult {
    switch_rule(&ctx, &headers, &id, true).await
}

/// Disable a rule
#[utoipa::path(
    post,
    path = "/api/v1/rules/{id}/disable",
    tag = "detections",
    params(("id" = String, Path, description = "the RuleId")),
    responses(
        (status = 200, description = "the rule", body = super::schemas::Rule),
        (status = 404, response = super::schemas::NotFound),
    )
)]
async fn disable_rule(
    State(ctx): State<Arc<Ctx>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult {
    switch_rule(&ctx, &headers, &id, false).await
}

fn suppression_json(s: &Suppression, now: i64) -> Value {
    json!({
        "SuppressionId": s.id,
        "RuleId": s.rule_id,
        "Conditions": s.conditions.iter().map(|(k, p)| json!({ "Key": k, "Pattern": p })).collect::<Vec<_>>(),
        "Scope": if s.devices.is_empty() { "AllDevices" } else { "Devices" },
        "Devices": s.devices,
        "Action": s.action,
        "Expires": s.expires_ms.map(rfc3339),
        "Active": s.is_active(now),
        "Comment": s.comment,
        "CreatedBy": s.created_by,
        "Created": rfc3339(s.created_ms),
        "Hits": s.hits,
        "LastHit": s.last_hit_ms.map(rfc3339),
    })
}

/// Suppression rules
#[utoipa::path(
    get,
    path = "/api/v1/suppressions",
    tag = "detections",
    params(super::schemas::ListParams),
    responses(
        (status = 200, description = "the suppressions", body = super::schemas::List<super::schemas::Suppression>),
        (status = 400, response = super::schemas::BadRequest),
    )
)]
async fn list_suppressions(
    State(ctx): State<Arc<Ctx>>,
    headers: HeaderMap,
    Query(lq): Query<HashMap<String, String>>,
) -> ApiResult {
    authenticate(&ctx, &headers).await?;
    let list = ListQuery::parse(&lq, &[])?;
    let now = now_ms();
    let all = ctx.state.list_suppressions().await.map_err(internal)?;
    list.answer(
        all.iter()
            .map(|s| suppression_json(s, now))
            .collect::<Vec<_>>(),
    )
}

/// The `conditions` field: a list of `{"key", "pattern"}`.
fn conditions(b: &Body) -> Result<Vec<(String, String)>, ApiError> {
    let shape = || bad("field conditions must be a list of {\"key\": ..., \"pattern\": ...}");
    match b.raw("conditions") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| {
                let o = i.as_object().ok_or_else(shape)?;
                if o.len() != 2 {
                    return Err(shape());
                }
                match (o.get("key"), o.get("pattern")) {
                    (Some(Value::String(k)), Some(Value::String(p))) => Ok((k.clone(), p.clone())),
                    _ => Err(shape()),
                }
            })
            .collect(),
        Some(_) => Err(shape()),
    }
}

/// Create a suppression rule
#[utoipa::path(
    post,
    path = "/api/v1/suppressions",
    tag = "detections",
    request_body = super::schemas::NewSuppression,
    responses(
        (status = 200, description = "the suppression", body = super::schemas::Suppression),
        (status = 400, response = super::schemas::BadRequest),
    )
)]
async fn create_suppression(
    State(ctx): State<Arc<Ctx>>,
    headers: HeaderMap,
    raw: axum::body::Bytes,
) -> ApiResult {
    let actor = authenticate(&ctx, &headers).await?;
    let b = Body::parse(
        &raw,
        &[
            "rule_id",
            "conditions",
            "devices",
            "action",
            "ttl_seconds",
            "expires_ms",
            "comment",
        ],
    )?;
    let rule_id = b
        .string("rule_id")?
        .ok_or_else(|| bad("field rule_id is missing"))?;
    // With detection on, the rule must be one it loaded; with it off, any id is kept.
    if !ctx.rules.is_empty() && !ctx.rules.iter().any(|r| r.id == rule_id) {
        return Err(bad(format!(
            "field rule_id: no loaded rule has id {rule_id:?} (see GET /api/v1/rules)"
        )));
    }
    let now = now_ms();
    let expires_ms = b.expiry(now)?.flatten();
    let new = NewSuppression {
        rule_id,
        conditions: conditions(&b)?,
        devices: b.strings("devices")?,
        action: b
            .string("action")?
            .ok_or_else(|| bad("field action is missing: hide or resolve"))?,
        expires_ms,
        comment: b.string("comment")?.unwrap_or_default(),
        created_by: actor.clone(),
    };
    let s = ctx
        .state
        .create_suppression(&new, now)
        .await
        .map_err(not_found_or_internal)?;
    tracing::info!(suppression = %s.id, rule = %s.rule_id, actor = %actor, "suppression created");
    Ok(Json(suppression_json(&s, now)))
}

/// Delete a suppression rule
#[utoipa::path(
    delete,
    path = "/api/v1/suppressions/{id}",
    tag = "detections",
    params(("id" = String, Path, description = "the SuppressionId")),
    responses(
        (status = 200, description = "removed", body = super::schemas::SuppressionRemoved),
        (status = 404, response = super::schemas::NotFound),
    )
)]
async fn delete_suppression(
    State(ctx): State<Arc<Ctx>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult {
    let actor = authenticate(&ctx, &headers).await?;
    ctx.state
        .delete_suppression(&id, &actor, now_ms())
        .await
        .map_err(not_found_or_internal)?;
    tracing::info!(suppression = %id, actor = %actor, "suppression removed");
    Ok(Json(json!({ "SuppressionId": id, "removed": true })))
}
