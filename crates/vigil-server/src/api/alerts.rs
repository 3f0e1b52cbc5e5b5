//! Alerts and incidents: listing with filters, detail (with comments and the change history),
//! triage updates (`PATCH`, and `POST /api/v1/alerts/bulk` for many alerts) and comments.
//!
//! `GET /api/v1/alerts` filters with `since_ms`, `until_ms`, `status` and `severity` (each a
//! comma-separated list), `device`, `incident`, `source` (detection source), `technique`
//! (also its sub-techniques), `assignee`, `q` (title text or alert id). Without `limit` or
//! `offset` it answers every matching alert as an array, most recent first (the CLI's shape);
//! with either it answers one page `{"items", "total", "limit", "offset"}` sorted by `sort`
//! (`LastActivity` by default, see `vigil_state::ALERT_SORT_KEYS`) in `order` (`desc` by
//! default, or `asc`); `limit` is 1 to 1,000.
//!
//! `POST /api/v1/alerts/bulk {"ids": [...], "status", "classification", "determination",
//! "assignee", "comment"}` applies one update to up to 1,000 alerts; every id must exist and
//! the values are checked on the first alert, so that a refused request changes nothing.
//!
//! `PATCH /api/v1/alerts/{id}` and `PATCH /api/v1/incidents/{id}` take
//! `{"status", "classification", "determination", "assignee", "comment"}` (at least one; `null`
//! clears classification, determination or assignee). Values are checked by the state store,
//! which names the field and the allowed values; nothing changes when anything is refused.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use vigil_state::{Alert, AuditEntry, Comment, Incident, LifecycleUpdate};

use super::body::Body;
use super::list::ListQuery;
use super::scope::Scope;
use super::{authenticate, bad, internal, not_found_or_internal, rfc3339, ApiError, ApiResult};
use crate::{now_ms, Ctx};

pub(super) fn routes() -> Router<Arc<Ctx>> {
    Router::new()
        .route("/api/v1/alerts", get(list_alerts))
        .route("/api/v1/alerts/bulk", post(bulk_update))
        .route("/api/v1/alerts/{id}", get(show_alert).patch(update_alert))
        .route("/api/v1/alerts/{id}/comments", post(comment_alert))
        .route("/api/v1/incidents", get(list_incidents))
        .route(
            "/api/v1/incidents/{id}",
            get(show_incident).patch(update_incident),
        )
        .route("/api/v1/incidents/{id}/comments", post(comment_incident))
}

/// An alert in MDE's AlertInfo/AlertEvidence vocabulary.
pub(crate) fn alert_json(a: &Alert) -> Value {
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
        "IncidentId": a.incident_id,
        "SuppressedBy": a.suppressed_by,
        "Created": rfc3339(a.created_ms),
        "LastUpdated": rfc3339(a.updated_ms),
        "Evidence": serde_json::from_str::<Value>(&a.evidence_json).unwrap_or(Value::Null),
    })
}

fn comments_json(c: &[Comment]) -> Value {
    json!(c
        .iter()
        .map(|c| json!({ "Author": c.author, "Created": rfc3339(c.created_ms), "Comment": c.text }))
        .collect::<Vec<_>>())
}

fn history_json(h: &[AuditEntry]) -> Value {
    json!(h
        .iter()
        .map(|h| json!({
            "Time": rfc3339(h.at_ms),
            "Actor": h.actor,
            "Field": h.field,
            "OldValue": h.old_value,
            "NewValue": h.new_value,
        }))
        .collect::<Vec<_>>())
}

fn incident_json(i: &Incident) -> Value {
    json!({
        "IncidentId": i.id,
        "Title": i.title,
        "Severity": i.severity,
        "Status": i.status,
        "Classification": i.classification,
        "Determination": i.determination,
        "AssignedTo": i.assignee,
        "FirstActivity": rfc3339(i.first_activity_ms),
        "LastActivity": rfc3339(i.last_activity_ms),
        "AlertCount": i.alert_count,
        "Devices": i.devices,
        "Tactics": i.tactics,
        "AttackTechniques": i.techniques,
        "Created": rfc3339(i.created_ms),
        "LastUpdated": rfc3339(i.updated_ms),
    })
}

/// The lifecycle fields of a `PATCH` body; refuses an empty one.
fn lifecycle_update(raw: &[u8]) -> Result<LifecycleUpdate, super::ApiError> {
    const FIELDS: &[&str] = &[
        "status",
        "classification",
        "determination",
        "assignee",
        "comment",
    ];
    let b = Body::parse(raw, FIELDS)?;
    let u = LifecycleUpdate {
        status: b.string("status")?,
        classification: b.text("classification")?,
        determination: b.text("determination")?,
        assignee: b.text("assignee")?,
        comment: b.string("comment")?,
    };
    if u.is_empty() {
        return Err(bad(format!(
            "nothing to update: give at least one of {}",
            FIELDS.join(", ")
        )));
    }
    Ok(u)
}

/// The text of a comment body `{"comment": "..."}`.
fn comment_text(raw: &[u8]) -> Result<String, super::ApiError> {
    Body::parse(raw, &["comment"])?
        .string("comment")?
        .ok_or_else(|| bad("field comment is missing"))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AlertsQuery {
    /// Alerts with activity at or after this time, unix milliseconds.
    since_ms: Option<i64>,
    /// Alerts whose activity started at or before this time, unix milliseconds.
    until_ms: Option<i64>,
    status: Option<String>,
    severity: Option<String>,
    /// A DeviceId.
    device: Option<String>,
    /// An IncidentId.
    incident: Option<String>,
    /// A detection source.
    source: Option<String>,
    technique: Option<String>,
    assignee: Option<String>,
    /// Title text or an alert id.
    q: Option<String>,
    limit: Option<u32>,
    offset: Option<u64>,
    sort: Option<String>,
    order: Option<String>,
}

/// Alerts shown per page when only `offset` is given.
const DEFAULT_PAGE: u32 = 50;

/// Alerts, filtered; paged and sorted when limit or offset is given
#[utoipa::path(
    get,
    path = "/api/v1/alerts",
    tag = "alerts",
    params(super::schemas::AlertsParams),
    responses(
        (status = 200, description = "the alerts in the principal's scope", body = super::schemas::List<super::schemas::Alert>),
        (status = 400, response = super::schemas::BadRequest),
    )
)]
async fn list_alerts(
    State(ctx): State<Arc<Ctx>>,
    headers: HeaderMap,
    scope: Scope,
    q: Result<Query<AlertsQuery>, QueryRejection>,
) -> ApiResult {
    authenticate(&ctx, &headers).await?;
    let Query(q) = q.map_err(|e| bad(format!("invalid query: {e}")))?;
    let filter = vigil_state::AlertFilter {
        since_ms: q.since_ms.unwrap_or(0),
        status: q.status,
        severity: q.severity,
        device_id: q.device,
        incident_id: q.incident,
        until_ms: q.until_ms,
        detection_source: q.source,
        technique: q.technique,
        assignee: q.assignee,
        text: q.q,
        device_ids: scope.device_ids(),
    };
    let paged = q.limit.is_some() || q.offset.is_some();
    if !paged {
        if q.sort.is_some() || q.order.is_some() {
            return Err(bad(
                "sort and order need paging: give limit (1 to 1000) and offset",
            ));
        }
        let alerts = ctx
            .state
            .list_alerts_filtered(&filter)
            .await
            .map_err(not_found_or_internal)?;
        return Ok(Json(json!(alerts
            .iter()
            .map(alert_json)
            .collect::<Vec<_>>())));
    }
    let descending = match q.order.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None | Some("desc") => true,
        Some("asc") => false,
        Some(_) => {
            return Err(bad(format!(
                "parameter order must be asc or desc, not {:?}",
                q.order.unwrap_or_default()
            )))
        }
    };
    let order = vigil_state::AlertOrder {
        sort: q.sort.unwrap_or_else(|| "LastActivity".into()),
        descending,
        limit: q.limit.unwrap_or(DEFAULT_PAGE),
        offset: q.offset.unwrap_or(0),
    };
    let (alerts, total) = ctx
        .state
        .alerts_page(&filter, &order)
        .await
        .map_err(not_found_or_internal)?;
    Ok(Json(json!({
        "items": alerts.iter().map(alert_json).collect::<Vec<_>>(),
        "total": total,
        "limit": order.limit,
        "offset": order.offset,
    })))
}

/// Alerts one bulk request may change at most.
const MAX_BULK: usize = 1000;

/// Triage many alerts at once
///
/// `POST /api/v1/alerts/bulk`: one lifecycle update for many alerts, in one transaction:
/// an unknown id or a refused change refuses the whole request and changes nothing.
#[utoipa::path(
    post,
    path = "/api/v1/alerts/bulk",
    tag = "alerts",
    request_body = super::schemas::BulkTriage,
    responses(
        (status = 200, description = "the alerts as changed", body = super::schemas::BulkTriaged),
        (status = 400, response = super::schemas::BadRequest),
        (status = 404, response = super::schemas::NotFound),
    )
)]
async fn bulk_update(
    State(ctx): State<Arc<Ctx>>,
    headers: HeaderMap,
    scope: Scope,
    raw: axum::body::Bytes,
) -> ApiResult {
    let actor = authenticate(&ctx, &headers).await?;
    let mut fields: serde_json::Map<String, Value> = serde_json::from_slice(&raw).map_err(|e| {
        bad(format!(
            "invalid request body: {e} (a JSON object is expected)"
        ))
    })?;
    let ids = match fields.remove("ids") {
        Some(Value::Array(ids)) => ids
            .into_iter()
            .enumerate()
            .map(|(i, v)| match v {
                Value::String(s) => Ok(s),
                other => Err(bad(format!("ids[{i}] must be an alert id, not {other}"))),
            })
            .collect::<Result<Vec<_>, _>>()?,
        Some(other) => {
            return Err(bad(format!(
                "field ids must be an array of alert ids, not {other}"
            )))
        }
        None => return Err(bad("field ids is missing (an array of alert ids)")),
    };
    if ids.is_empty() || ids.len() > MAX_BULK {
        return Err(bad(format!(
            "field ids must hold 1 to {MAX_BULK} alert ids, not {}",
            ids.len()
        )));
    }
    let rest = serde_json::to_vec(&Value::Object(fields)).map_err(internal)?;
    let u = lifecycle_update(&rest)?;
    for id in &ids {
        seen_alert(&ctx, &scope, id).await?;
    }
    let updated: Vec<Value> = ctx
        .state
        .update_alerts(&ids, &u, &actor, now_ms())
        .await
        .map_err(not_found_or_internal)?
        .iter()
        .map(alert_json)
        .collect();
    tracing::info!(alerts = ids.len(), actor = %actor, "alerts updated in bulk");
    Ok(Json(json!({ "updated": updated.len(), "items": updated })))
}

/// An alert the request may see (one outside its device scope is not found).
async fn seen_alert(ctx: &Ctx, scope: &Scope, id: &str) -> Result<Alert, ApiError> {
    let a = ctx.state.alert(id).await.map_err(not_found_or_internal)?;
    scope.check(&a.device_id, || format!("no alert {id}"))?;
    Ok(a)
}

/// An incident the request may see: one of its devices is in scope.
async fn seen_incident(ctx: &Ctx, scope: &Scope, id: &str) -> Result<Incident, ApiError> {
    let i = ctx
        .state
        .incident(id)
        .await
        .map_err(not_found_or_internal)?;
    if !scope.sees_any(i.devices.iter()) {
        return Err(ApiError(StatusCode::NOT_FOUND, format!("no incident {id}")));
    }
    Ok(i)
}

async fn alert_detail(ctx: &Ctx, a: &Alert) -> ApiResult {
    let mut v = alert_json(a);
    let comments = ctx.state.alert_comments(&a.id).await.map_err(internal)?;
    let history = ctx.state.alert_history(&a.id).await.map_err(internal)?;
    v["Comments"] = comments_json(&comments);
    v["History"] = history_json(&history);
    Ok(Json(v))
}

/// One alert with its evidence, comments and history
#[utoipa::path(
    get,
    path = "/api/v1/alerts/{id}",
    tag = "alerts",
    params(("id" = String, Path, description = "the AlertId")),
    responses(
        (status = 200, description = "the alert", body = super::schemas::AlertDetail),
        (status = 404, response = super::schemas::NotFound),
    )
)]
async fn show_alert(
    State(ctx): State<Arc<Ctx>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    scope: Scope,
) -> ApiResult {
    authenticate(&ctx, &headers).await?;
    let a = seen_alert(&ctx, &scope, &id).await?;
    alert_detail(&ctx, &a).await
}

/// Triage an alert
#[utoipa::path(
    patch,
    path = "/api/v1/alerts/{id}",
    tag = "alerts",
    params(("id" = String, Path, description = "the AlertId")),
    request_body = super::schemas::Triage,
    responses(
        (status = 200, description = "the alert as changed", body = super::schemas::AlertDetail),
        (status = 400, response = super::schemas::BadRequest),
        (status = 404, response = super::schemas::NotFound),
    )
)]
async fn update_alert(
    State(ctx): State<Arc<Ctx>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    scope: Scope,
    raw: axum::body::Bytes,
) -> ApiResult {
    let actor = authenticate(&ctx, &headers).await?;
    let u = lifecycle_update(&raw)?;
    seen_alert(&ctx, &scope, &id).await?;
    let a = ctx
        .state
        .update_alert(&id, &u, &actor, now_ms())
        .await
        .map_err(not_found_or_internal)?;
    tracing::info!(alert = %id, actor = %actor, status = %a.status, "alert updated");
    alert_detail(&ctx, &a).await
}

/// Comment on an alert
#[utoipa::path(
    post,
    path = "/api/v1/alerts/{id}/comments",
    tag = "alerts",
    params(("id" = String, Path, description = "the AlertId")),
    request_body = super::schemas::NewComment,
    responses(
        (status = 200, description = "the comment", body = super::schemas::Comment),
        (status = 400, response = super::schemas::BadRequest),
        (status = 404, response = super::schemas::NotFound),
    )
)]
async fn comment_alert(
    State(ctx): State<Arc<Ctx>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    scope: Scope,
    raw: axum::body::Bytes,
) -> ApiResult {
    let actor = authenticate(&ctx, &headers).await?;
    let text = comment_text(&raw)?;
    seen_alert(&ctx, &scope, &id).await?;
    let c = ctx
        .state
        .comment_alert(&id, &actor, &text, now_ms())
        .await
        .map_err(not_found_or_internal)?;
    Ok(Json(comments_json(&[c])[0].clone()))
}

/// Incidents
#[utoipa::path(
    get,
    path = "/api/v1/incidents",
    tag = "alerts",
    params(
        super::schemas::ListParams,
        super::schemas::IncidentFilters,
    ),
    responses(
        (status = 200, description = "the incidents with a device in the principal's scope", body = super::schemas::List<super::schemas::Incident>),
        (status = 400, response = super::schemas::BadRequest),
    )
)]
async fn list_incidents(
    State(ctx): State<Arc<Ctx>>,
    headers: HeaderMap,
    scope: Scope,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    authenticate(&ctx, &headers).await?;
    let list = ListQuery::parse(&q, &["since_ms", "status"])?;
    let since_ms = match q.get("since_ms") {
        None => 0,
        Some(v) => v.parse::<i64>().map_err(|_| {
            bad(format!(
                "parameter since_ms must be unix milliseconds, not {v:?}"
            ))
        })?,
    };
    let incidents = ctx
        .state
        .list_incidents(&vigil_state::IncidentFilter {
            since_ms,
            status: q.get("status").cloned(),
        })
        .await
        .map_err(not_found_or_internal)?;
    list.answer(
        incidents
            .iter()
            .filter(|i| scope.sees_any(i.devices.iter()))
            .map(incident_json)
            .collect(),
    )
}

async fn incident_detail(ctx: &Ctx, scope: &Scope, i: &Incident) -> ApiResult {
    let mut v = incident_json(i);
    let mut alerts = ctx.state.incident_alerts(&i.id).await.map_err(internal)?;
    alerts.retain(|a| scope.sees(&a.device_id));
    let comments = ctx.state.incident_comments(&i.id).await.map_err(internal)?;
    let history = ctx.state.incident_history(&i.id).await.map_err(internal)?;
    let entities = ctx
        .state
        .incident_entity_list(&i.id)
        .await
        .map_err(internal)?;
    v["Alerts"] = json!(alerts.iter().map(alert_json).collect::<Vec<_>>());
    v["Entities"] = json!(entities
        .iter()
        .filter(|(k, val)| *k != "device" || scope.sees(val))
        .map(|(k, val)| json!({ "Kind": k, "Value": val }))
        .collect::<Vec<_>>());
    v["Comments"] = comments_json(&comments);
    v["History"] = history_json(&history);
    Ok(Json(v))
}

/// One incident with its alerts, entities and history
#[utoipa::path(
    get,
    path = "/api/v1/incidents/{id}",
    tag = "alerts",
    params(("id" = String, Path, description = "the IncidentId")),
    responses(
        (status = 200, description = "the incident", body = super::schemas::IncidentDetail),
        (status = 404, response = super::schemas::NotFound),
    )
)]
async fn show_incident(
    State(ctx): State<Arc<Ctx>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    scope: Scope,
) -> ApiResult {
    authenticate(&ctx, &headers).await?;
    let i = seen_incident(&ctx, &scope, &id).await?;
    incident_detail(&ctx, &scope, &i).await
}

/// Triage an incident
#[utoipa::path(
    patch,
    path = "/api/v1/incidents/{id}",
    tag = "alerts",
    params(("id" = String, Path, description = "the IncidentId")),
    request_body = super::schemas::Triage,
    responses(
        (status = 200, description = "the incident as changed", body = super::schemas::IncidentDetail),
        (status = 400, response = super::schemas::BadRequest),
        (status = 404, response = super::schemas::NotFound),
    )
)]
async fn update_incident(
    State(ctx): State<Arc<Ctx>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    scope: Scope,
    raw: axum::body::Bytes,
) -> ApiResult {
    let actor = authenticate(&ctx, &headers).await?;
    let u = lifecycle_update(&raw)?;
    seen_incident(&ctx, &scope, &id).await?;
    let i = ctx
        .state
        .update_incident(&id, &u, &actor, now_ms())
        .await
        .map_err(not_found_or_internal)?;
    tracing::info!(incident = %id, actor = %actor, status = %i.status, "incident updated");
    incident_detail(&ctx, &scope, &i).await
}

/// Comment on an incident
#[utoipa::path(
    post,
    path = "/api/v1/incidents/{id}/comments",
    tag = "alerts",
    params(("id" = String, Path, description = "the IncidentId")),
    request_body = super::schemas::NewComment,
    responses(
        (status = 200, description = "the comment", body = super::schemas::Comment),
        (status = 400, response = super::schemas::BadRequest),
        (status = 404, response = super::schemas::NotFound),
    )
)]
async fn comment_incident(
    State(ctx): State<Arc<Ctx>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    scope: Scope,
    raw: axum::body::Bytes,
) -> ApiResult {
    let actor = authenticate(&ctx, &headers).await?;
    let text = comment_text(&raw)?;
    seen_incident(&ctx, &scope, &id).await?;
    let c = ctx
        .state
        .comment_incident(&id, &actor, &text, now_ms())
        .await
        .map_err(not_found_or_internal)?;
    Ok(Json(comments_json(&[c])[0].clone()))
}
