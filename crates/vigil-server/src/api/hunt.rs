//! Advanced hunting over HTTP: `POST /api/v1/hunt` with `{"query": "KQL", "max_rows": N}`
//! (at most 100,000, the default) answers `{"columns": [{"name", "type"}], "rows": [{...}],
//! "truncated", "chart", "elapsed_ms"}`. A query that does not check answers 400 with
//! `{"error", "diagnostics": [{"kind", "message", "start", "end", "line", "column",
//! "rendered"}]}`: every problem at once, `kind` `not_supported` for valid KQL Vigil cannot run.
//!
//! Saved queries: `GET|POST /api/v1/hunt/queries` (`{"name", "query", "description",
//! "shared"}`; the query must parse), `GET|DELETE /api/v1/hunt/queries/{id}`. A query is the
//! saving token's own unless `shared`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use vigil_kql::{DiagKind, Diagnostic};

use super::body::Body;
use super::list::ListQuery;
use super::scope::Scope;
use super::{authenticate, bad, internal, not_found_or_internal, rfc3339, ApiError, ApiResult};
use crate::hunt::{hunt, HuntError, HuntLimits, API_MAX_ROWS};
use crate::Ctx;
use vigil_state::SavedQuery;

pub(super) fn routes() -> Router<Arc<Ctx>> {
    Router::new()
        .route("/api/v1/hunt", post(run))
        .route("/api/v1/hunt/queries", get(list_saved).post(save))
        .route(
            "/api/v1/hunt/queries/{id}",
            get(show_saved).delete(delete_saved),
        )
}

fn saved_json(q: &SavedQuery) -> Value {
    json!({
        "id": q.id,
        "name": q.name,
        "query": q.query,
        "description": q.description,
        "owner": q.owner,
        "shared": q.shared,
        "created": rfc3339(q.created_ms),
        "updated": rfc3339(q.updated_ms),
    })
}

/// Save a query
#[utoipa::path(
    post,
    path = "/api/v1/hunt/queries",
    tag = "hunting",
    request_body = super::schemas::NewSavedQuery,
    responses(
        (status = 200, description = "the saved query", body = super::schemas::SavedQuery),
        (status = 400, response = super::schemas::QueryRefused),
        (status = 409, response = super::schemas::Conflict),
    )
)]
async fn save(State(ctx): State<Arc<Ctx>>, headers: HeaderMap, raw: axum::body::Bytes) -> Response {
    let actor = match authenticate(&ctx, &headers).await {
        Ok(a) => a,
        Err(e) => return e.into_response(),
    };
    let run = async {
        let body = Body::parse(&raw, &["name", "query", "description", "shared"])?;
        let name = body
            .string("name")?
            .ok_or_else(|| bad("the name field is required"))?;
        let query = body
            .string("query")?
            .ok_or_else(|| bad("the query field is required"))?;
        let description = body.string("description")?.unwrap_or_default();
        let shared = match body.raw("shared") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(other) => {
                return Err(bad(format!(
                    "field shared must be true or false, not {other}"
                )))
            }
        };
        Ok((name, query, description, shared))
    };
    let (name, query, description, shared) = match run.await {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    let (_, diags) = vigil_kql::parse(&query);
    if !diags.is_empty() {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({
                "error": format!("the query does not parse: {}", diags[0].message),
                "diagnostics": diagnostics_json(&query, &diags),
            })),
        )
            .into_response();
    }
    match ctx
        .state
        .save_query(&name, &query, &description, shared, &actor, crate::now_ms())
        .await
    {
        Ok(q) => Json(saved_json(&q)).into_response(),
        Err(e @ vigil_state::StateError::AlreadyExists { .. }) => {
            ApiError(StatusCode::CONFLICT, e.to_string()).into_response()
        }
        Err(e) => not_found_or_internal(e).into_response(),
    }
}

/// Saved queries (own and shared)
#[utoipa::path(
    get,
    path = "/api/v1/hunt/queries",
    tag = "hunting",
    params(super::schemas::ListParams),
    responses(
        (status = 200, description = "the queries", body = super::schemas::List<super::schemas::SavedQuery>),
        (status = 400, response = super::schemas::BadRequest),
    )
)]
async fn list_saved(
    State(ctx): State<Arc<Ctx>>,
    headers: HeaderMap,
    Query(lq): Query<HashMap<String, String>>,
) -> ApiResult {
    let actor = authenticate(&ctx, &headers).await?;
    let list = ListQuery::parse(&lq, &[])?;
    let saved = ctx.state.saved_queries(&actor).await.map_err(internal)?;
    list.answer(saved.iter().map(saved_json).collect())
}

/// One saved query
#[utoipa::path(
    get,
    path = "/api/v1/hunt/queries/{id}",
    tag = "hunting",
    params(("id" = String, Path, description = "the query id")),
    responses(
        (status = 200, description = "the query", body = super::schemas::SavedQuery),
        (status = 404, response = super::schemas::NotFound),
    )
)]
async fn show_saved(
    State(ctx): State<Arc<Ctx>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult {
    let actor = authenticate(&ctx, &headers).await?;
    let q = ctx
        .state
        .saved_query(&id, &actor)
        .await
        .map_err(not_found_or_internal)?;
    Ok(Json(saved_json(&q)))
}

/// Delete a saved query
#[utoipa::path(
    delete,
    path = "/api/v1/hunt/queries/{id}",
    tag = "hunting",
    params(("id" = String, Path, description = "the query id")),
    responses(
        (status = 200, description = "deleted", body = super::schemas::Deleted),
        (status = 404, response = super::schemas::NotFound),
    )
)]
async fn delete_saved(
    State(ctx): State<Arc<Ctx>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult {
    let actor = authenticate(&ctx, &headers).await?;
    ctx.state
        .delete_saved_query(&id, &actor)
        .await
        .map_err(not_found_or_internal)?;
    Ok(Json(json!({ "deleted": id })))
}

fn kind_name(kind: DiagKind) -> &'static str {
    match kind {
        DiagKind::Syntax => "syntax",
        DiagKind::UnknownName => "unknown_name",
        DiagKind::Type => "type",
        DiagKind::NotSupported => "not_supported",
    }
}

/// Diagnostics as JSON, with 1-based line and column.
pub(crate) fn diagnostics_json(query: &str, diags: &[Diagnostic]) -> Value {
    Value::Array(
        diags
            .iter()
            .map(|d| {
                let (line, column, _) = vigil_kql::span::locate(query, d.span.start as usize);
                json!({
                    "kind": kind_name(d.kind),
                    "message": d.message,
                    "start": d.span.start,
                    "end": d.span.end,
                    "line": line,
                    "column": column,
                    "rendered": d.render(query),
                })
            })
            .collect(),
    )
}

/// Run a KQL query
#[utoipa::path(
    post,
    path = "/api/v1/hunt",
    tag = "hunting",
    request_body = super::schemas::HuntRequest,
    responses(
        (status = 200, description = "the result (rows of devices in the principal's scope)", body = super::schemas::HuntResult),
        (status = 400, response = super::schemas::QueryRefused),
        (status = 504, response = super::schemas::TimedOut),
    )
)]
async fn run(
    State(ctx): State<Arc<Ctx>>,
    headers: HeaderMap,
    scope: Scope,
    raw: axum::body::Bytes,
) -> Response {
    // A principal limited to device groups hunts over its devices' rows only.
    match vigil_store::with_device_scope(scope.devices(), run_inner(&ctx, &headers, &raw)).await {
        Ok(v) => Json(v).into_response(),
        Err(e) => e,
    }
}

async fn run_inner(ctx: &Ctx, headers: &HeaderMap, raw: &[u8]) -> Result<Value, Response> {
    authenticate(ctx, headers)
        .await
        .map_err(|e| e.into_response())?;
    let body = Body::parse(raw, &["query", "max_rows"]).map_err(|e| e.into_response())?;
    let query = body.string("query").map_err(|e| e.into_response())?;
    let query = query.ok_or_else(|| bad("the query field is required").into_response())?;
    if query.trim().is_empty() {
        return Err(bad("the query field is empty").into_response());
    }
    let max_rows = match body.int("max_rows").map_err(|e| e.into_response())? {
        Some(n) if n < 1 => return Err(bad("max_rows must be at least 1").into_response()),
        Some(n) if n as usize > API_MAX_ROWS => {
            return Err(bad(format!("max_rows is at most {API_MAX_ROWS}")).into_response())
        }
        Some(n) => n as usize,
        None => API_MAX_ROWS,
    };
    let limits = HuntLimits {
        max_rows,
        ..HuntLimits::default()
    };
    let now_ns = crate::now_ms().saturating_mul(1_000_000);
    match hunt(&ctx.store, &query, now_ns, &limits).await {
        Ok(r) => {
            let mut rows = vigil_store::batches_to_json_rows(&r.batches);
            // Dynamic values travel as JSON text inside the store; the API answers them as
            // JSON (`{"a": 1}` rather than the string "{\"a\": 1}").
            let dynamic: Vec<&str> = r
                .columns
                .iter()
                .filter(|c| c.ty == vigil_kql::types::Type::Dynamic)
                .map(|c| c.name.as_str())
                .collect();
            for row in &mut rows {
                for name in &dynamic {
                    if let Some(Value::String(text)) = row.get(*name) {
                        if let Ok(v) = serde_json::from_str::<Value>(text) {
                            row.insert((*name).to_string(), v);
                        }
                    }
                }
            }
            Ok(json!({
                "columns": r.columns.iter().map(|f| json!({"name": f.name, "type": f.ty.name()})).collect::<Vec<_>>(),
                "rows": rows,
                "truncated": r.truncated,
                "chart": r.chart,
                "elapsed_ms": r.elapsed.as_millis() as u64,
            }))
        }
        Err(HuntError::Invalid(diags)) => {
            let first = diags
                .first()
                .map_or_else(String::new, |d| d.message.clone());
            Err((
                StatusCode::BAD_REQUEST,
                Json(json!({
                    "error": first,
                    "diagnostics": diagnostics_json(&query, &diags),
                })),
            )
                .into_response())
        }
        Err(e @ HuntError::Timeout(_)) => {
            Err(ApiError(StatusCode::GATEWAY_TIMEOUT, e.to_string()).into_response())
        }
        Err(HuntError::Store(e)) => Err(bad(format!("the query failed: {e}")).into_response()),
    }
}
