//! Response actions, the action center, live response and the file library in the API.
//!
//! - `POST /api/v1/devices/{id}/actions {"type", "args", "comment", "ttl_seconds"}` queues an
//!   action (refused with the reason when the type or its arguments are wrong);
//! - `GET /api/v1/actions?device=&status=&type=&pending=true&limit=&offset=` → the action center:
//!   `{"items", "total", "limit", "offset"}`, newest first;
//! - `GET /api/v1/actions/{id}` (with its timeline and files), `POST
//!   /api/v1/actions/{id}/cancel|undo {"comment"}`; `POST /api/v1/actions/{id}/approve
//!   {"comment"}` sends an action automation requested under the `semi` automation level
//!   (`PendingApproval`; cancel rejects it);
//! - `GET /api/v1/action-files/{file}` downloads a file an action brought back;
//! - `GET|POST /api/v1/library?name=&description=` (the file as the body), `DELETE
//!   /api/v1/library/{name}`: files for `putfile` and scripts for `run`;
//! - `POST /api/v1/devices/{id}/live` opens the device's one live-response session, `GET|DELETE
//!   /api/v1/live/{session}`, `POST /api/v1/live/{session}/commands {"command", "args",
//!   "wait_seconds"}` runs a command and waits for its result (every command is an action:
//!   the audit trail holds them all).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body as HttpBody;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use vigil_state::{
    ActionEvent, ActionFilter, LiveSession, NewAction, ResponseAction, StoredFile,
    DEFAULT_ACTION_TTL_MS,
};

use super::body::{page_param, Body};
use super::list::ListQuery;
use super::scope::Scope;
use super::{authenticate, bad, internal, not_found_or_internal, rfc3339, ApiError, ApiResult};
use crate::respond::kinds;
use crate::{now_ms, Ctx};

/// The largest library file.
const MAX_LIBRARY_BYTES: usize = 256 << 20;
/// The longest a live command is waited for in one request.
const MAX_WAIT_SECS: i64 = 300;
/// A live command's time to live: the session is interactive.
const LIVE_TTL_MS: i64 = 10 * 60_000;

pub(super) fn routes() -> Router<Arc<Ctx>> {
    Router::new()
        .route("/api/v1/devices/{id}/actions", post(create_action))
        .route("/api/v1/actions", get(list_actions))
        .route("/api/v1/actions/{id}", get(show_action))
        .route("/api/v1/actions/{id}/cancel", post(cancel_action))
        .route("/api/v1/actions/{id}/approve", post(approve_action))
        .route("/api/v1/actions/{id}/undo", post(undo_action))
        .route("/api/v1/action-files/{id}", get(download_file))
        .route(
            "/api/v1/library",
            get(list_library)
                .post(add_library_file)
                .layer(DefaultBodyLimit::max(MAX_LIBRARY_BYTES)),
        )
        .route(
            "/api/v1/library/{name}",
            axum::routing::delete(delete_library_file),
        )
        .route("/api/v1/devices/{id}/live", post(open_session))
        .route(
            "/api/v1/live/{session}",
            get(show_session).delete(close_session),
        )
        .route("/api/v1/live/{session}/commands", post(live_command))
}

fn file_json(f: &StoredFile) -> Value {
    json!({
        "FileId": f.id,
        "Name": f.name,
        "Size": f.size,
        "SHA256": f.sha256,
        "DeviceId": f.device_id,
        "ActionId": f.action_id,
        "Created": rfc3339(f.created_ms),
        "CreatedBy": f.created_by,
        "Description": f.description,
    })
}

fn action_json(a: &ResponseAction) -> Value {
    json!({
        "ActionId": a.id,
        "DeviceId": a.device_id,
        "Type": a.kind,
        "Arguments": serde_json::from_str::<Value>(&a.args).unwrap_or(Value::Null),
        "Comment": a.reason,
        "RequestedBy": a.requested_by,
        "Created": rfc3339(a.created_ms),
        "Expires": rfc3339(a.expires_ms),
        "Status": a.status,
        "Sent": a.sent_ms.map(rfc3339),
        "Started": a.started_ms.map(rfc3339),
        "Finished": a.finished_ms.map(rfc3339),
        "Result": a.result.as_deref().and_then(|r| serde_json::from_str::<Value>(r).ok()),
        "Error": a.error,
        "UndoOf": a.undo_of,
        "SessionId": a.session_id,
    })
}

/// An action the request may see (one on a device outside its scope is not found).
async fn seen_action(ctx: &Ctx, scope: &Scope, id: &str) -> Result<ResponseAction, ApiError> {
    let a = ctx.state.action(id).await.map_err(not_found_or_internal)?;
    scope.check(&a.device_id, || format!("no action {id}"))?;
    Ok(a)
}

/// A live-response session the request may see.
async fn seen_session(ctx: &Ctx, scope: &Scope, id: &str) -> Result<LiveSession, ApiError> {
    let s = ctx
        .state
        .live_session(id)
        .await
        .map_err(not_found_or_internal)?;
    scope.check(&s.device_id, || format!("no live-response session {id}"))?;
    Ok(s)
}

async fn full_action_json(ctx: &Ctx, a: &ResponseAction) -> Result<Value, ApiError> {
    let events: Vec<ActionEvent> = ctx.state.action_events(&a.id).await.map_err(internal)?;
    let files = ctx
        .state
        .files("upload", Some(&a.id))
        .await
        .map_err(internal)?;
    let mut v = action_json(a);
    v["Timeline"] = json!(events
        .iter()
        .map(|e| json!({ "Time": rfc3339(e.at_ms), "Status": e.status, "Actor": e.actor, "Detail": e.detail }))
        .collect::<Vec<_>>());
    v["Files"] = json!(files.iter().map(file_json).collect::<Vec<_>>());
    Ok(v)
}

fn state_to_api(e: vigil_state::StateError) -> ApiError {
    match e {
        vigil_state::StateError::AlreadyExists { .. } => {
            ApiError(StatusCode::CONFLICT, e.to_string())
        }
        vigil_state::StateError::Invalid { what, .. } if what.contains("session") => {
            ApiError(StatusCode::CONFLICT, e.to_string())
        }
        e => not_found_or_internal(e),
    }
}

/// Request a response action on a device
#[utoipa::path(
    post,
    path = "/api/v1/devices/{id}/actions",
    tag = "response",
    params(("id" = String, Path, description = "the DeviceId")),
    request_body = super::schemas::NewAction,
    responses(
        (status = 200, description = "the action, queued", body = super::schemas::Action),
        (status = 400, response = super::schemas::BadRequest),
        (status = 404, response = super::schemas::NotFound),
    )
)]
async fn create_action(
    State(ctx): State<Arc<Ctx>>,
    headers: HeaderMap,
    Path(device): Path<String>,
    scope: Scope,
    raw: axum::body::Bytes,
) -> ApiResult {
    let actor = authenticate(&ctx, &headers).await?;
    scope.check(&device, || format!("no device {device}"))?;
    let b = Body::parse(&raw, &["type", "args", "comment", "ttl_seconds"])?;
    let kind = b.string("type")?.ok_or_else(|| {
        bad(format!(
            "field type is missing: {}",
            kinds::DEVICE_ACTIONS.join(", ")
        ))
    })?;
    if kind.starts_with("live.") {
        return Err(bad(
            "live-response commands run in a session: POST /api/v1/devices/{id}/live",
        ));
    }
    let args = kinds::check(&kind, b.raw("args").unwrap_or(&Value::Null))
        .map_err(|e| bad(format!("{kind}: {e}")))?;
    let ttl_ms = match b.int("ttl_seconds")? {
        Some(t) if t <= 0 || t > 30 * 86_400 => {
            return Err(bad("field ttl_seconds must be 1 to 2592000 (30 days)"))
        }
        Some(t) => t * 1000,
        None => DEFAULT_ACTION_TTL_MS,
    };
    let new = NewAction {
        device_id: device,
        kind,
        args: args.to_string(),
        reason: b.string("comment")?.unwrap_or_default(),
        requested_by: actor,
        ttl_ms,
        undo_of: None,
        session_id: None,
    };
    let a = ctx
        .respond
        .queue(&ctx, &new)
        .await
        .map_err(not_found_or_internal)?;
    Ok(Json(action_json(&a)))
}

/// The action center
#[utoipa::path(
    get,
    path = "/api/v1/actions",
    tag = "response",
    params(super::schemas::ActionFilters),
    responses(
        (status = 200, description = "one page, newest first", body = super::schemas::ActionPage),
        (status = 400, response = super::schemas::BadRequest),
    )
)]
async fn list_actions(
    State(ctx): State<Arc<Ctx>>,
    headers: HeaderMap,
    scope: Scope,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    authenticate(&ctx, &headers).await?;
    const KNOWN: &[&str] = &[
        "device", "status", "type", "pending", "session", "limit", "offset",
    ];
    if let Some(k) = q.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return Err(bad(format!(
            "unknown parameter {k:?}: the parameters are {}",
            KNOWN.join(", ")
        )));
    }
    let num = |name: &str, default: u64| page_param(&q, name, default);
    let limit = num("limit", 100)?;
    if limit == 0 || limit > 1000 {
        return Err(bad("parameter limit must be 1 to 1000"));
    }
    let f = ActionFilter {
        device_id: q.get("device").cloned(),
        status: q.get("status").cloned(),
        open: q.get("pending").is_some_and(|p| p == "true"),
        kind: q.get("type").cloned(),
        session_id: q.get("session").cloned(),
        device_ids: scope.device_ids(),
        limit: limit as u32,
        offset: num("offset", 0)?,
    };
    let (items, total) = ctx.state.actions(&f).await.map_err(not_found_or_internal)?;
    Ok(Json(json!({
        "items": items.iter().map(action_json).collect::<Vec<_>>(),
        "total": total,
        "limit": f.limit,
        "offset": f.offset,
    })))
}

/// One action with its timeline and files
#[utoipa::path(
    get,
    path = "/api/v1/actions/{id}",
    tag = "response",
    params(("id" = String, Path, description = "the ActionId")),
    responses(
        (status = 200, description = "the action", body = super::schemas::ActionDetail),
        (status = 404, response = super::schemas::NotFound),
    )
)]
async fn show_action(
    State(ctx): State<Arc<Ctx>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    scope: Scope,
) -> ApiResult {
    authenticate(&ctx, &headers).await?;
    let a = seen_action(&ctx, &scope, &id).await?;
    Ok(Json(full_action_json(&ctx, &a).await?))
}

/// Cancel an action that has not finished (or reject one pending approval)
#[utoipa::path(
    post,
    path = "/api/v1/actions/{id}/cancel",
    tag = "response",
    params(("id" = String, Path, description = "the ActionId")),
    request_body = super::schemas::ActionComment,
    responses(
        (status = 200, description = "the action", body = super::schemas::Action),
        (status = 400, response = super::schemas::BadRequest),
        (status = 404, response = super::schemas::NotFound),
    )
)]
async fn cancel_action(
    State(ctx): State<Arc<Ctx>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    scope: Scope,
    raw: axum::body::Bytes,
) -> ApiResult {
    decide(&ctx, &headers, &id, &scope, &raw, false).await
}

/// Approve an action automation requested (PendingApproval)
///
/// `POST /api/v1/actions/{id}/approve {"comment"?}`: an action automation requested under
/// the `semi` automation level is sent.
#[utoipa::path(
    post,
    path = "/api/v1/actions/{id}/approve",
    tag = "response",
    params(("id" = String, Path, description = "the ActionId")),
    request_body = super::schemas::ActionComment,
    responses(
        (status = 200, description = "the action, sent", body = super::schemas::Action),
        (status = 400, response = super::schemas::BadRequest),
        (status = 404, response = super::schemas::NotFound),
    )
)]
async fn approve_action(
    State(ctx): State<Arc<Ctx>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    scope: Scope,
    raw: axum::body::Bytes,
) -> ApiResult {
    decide(&ctx, &headers, &id, &scope, &raw, true).await
}

/// An operator's decision on an action not yet started, with an optional comment:
/// approve it (`approve`) or cancel/reject it.
async fn decide(
    ctx: &Ctx,
    headers: &HeaderMap,
    id: &str,
    scope: &Scope,
    raw: &[u8],
    approve: bool,
) -> ApiResult {
    let actor = authenticate(ctx, headers).await?;
    let b = Body::parse(raw, &["comment"])?;
    seen_action(ctx, scope, id).await?;
    let comment = b.string("comment")?.unwrap_or_default();
    let a = if approve {
        ctx.respond.approve(ctx, id, &actor, &comment).await
    } else {
        ctx.respond.cancel(ctx, id, &actor, &comment).await
    }
    .map_err(not_found_or_internal)?;
    Ok(Json(action_json(&a)))
}

/// Undo an action (release, restore, unrestrict)
#[utoipa::path(
    post,
    path = "/api/v1/actions/{id}/undo",
    tag = "response",
    params(("id" = String, Path, description = "the ActionId")),
    request_body = super::schemas::ActionComment,
    responses(
        (status = 200, description = "the undoing action, queued", body = super::schemas::Action),
        (status = 400, response = super::schemas::BadRequest),
        (status = 404, response = super::schemas::NotFound),
    )
)]
async fn undo_action(
    State(ctx): State<Arc<Ctx>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    scope: Scope,
    raw: axum::body::Bytes,
) -> ApiResult {
    let actor = authenticate(&ctx, &headers).await?;
    let b = Body::parse(&raw, &["comment"])?;
    let a = seen_action(&ctx, &scope, &id).await?;
    if a.status != "Succeeded" {
        return Err(bad(format!(
            "action {id} is {}: only a succeeded action can be undone",
            a.status
        )));
    }
    let result: Option<Value> = a
        .result
        .as_deref()
        .and_then(|r| serde_json::from_str(r).ok());
    let (kind, args) = kinds::undo(&a.kind, result.as_ref()).map_err(bad)?;
    let new = NewAction {
        device_id: a.device_id.clone(),
        kind: kind.to_string(),
        args: args.to_string(),
        reason: b
            .string("comment")?
            .unwrap_or_else(|| format!("undo of {id}")),
        requested_by: actor,
        ttl_ms: DEFAULT_ACTION_TTL_MS,
        undo_of: Some(id),
        session_id: None,
    };
    let undo = ctx
        .respond
        .queue(&ctx, &new)
        .await
        .map_err(not_found_or_internal)?;
    Ok(Json(action_json(&undo)))
}

/// A stored file's bytes, streamed.
async fn file_response(ctx: &Ctx, f: &StoredFile) -> Result<Response, ApiError> {
    let file = tokio::fs::File::open(ctx.respond.file_path(&f.id))
        .await
        .map_err(|e| internal(format!("cannot read file {}: {e}", f.id)))?;
    let stream = futures::stream::unfold(file, |mut file| async move {
        use tokio::io::AsyncReadExt;
        let mut buf = vec![0u8; 256 << 10];
        match file.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok::<_, std::io::Error>(axum::body::Bytes::from(buf)), file))
            }
            Err(e) => Some((Err(e), file)),
        }
    });
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{}\"", f.name.replace('"', "")),
            ),
            (
                header::HeaderName::from_static("x-vigil-sha256"),
                f.sha256.clone(),
            ),
        ],
        HttpBody::from_stream(stream),
    )
        .into_response())
}

/// Download a file an action collected
#[utoipa::path(
    get,
    path = "/api/v1/action-files/{id}",
    tag = "response",
    params(("id" = String, Path, description = "the FileId")),
    responses(
        (status = 200, description = "the file (its SHA-256 in X-Vigil-SHA256)", body = super::schemas::Binary, content_type = "application/octet-stream"),
        (status = 404, response = super::schemas::NotFound),
    )
)]
async fn download_file(
    State(ctx): State<Arc<Ctx>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    scope: Scope,
) -> Result<Response, ApiError> {
    authenticate(&ctx, &headers).await?;
    let f = ctx.state.file(&id).await.map_err(not_found_or_internal)?;
    if let Some(d) = &f.device_id {
        scope.check(d, || format!("no file {id}"))?;
    }
    file_response(&ctx, &f).await
}

/// The live-response file library
#[utoipa::path(
    get,
    path = "/api/v1/library",
    tag = "response",
    params(super::schemas::ListParams),
    responses(
        (status = 200, description = "the library files", body = super::schemas::List<super::schemas::StoredFile>),
        (status = 400, response = super::schemas::BadRequest),
    )
)]
async fn list_library(
    State(ctx): State<Arc<Ctx>>,
    headers: HeaderMap,
    Query(lq): Query<HashMap<String, String>>,
) -> ApiResult {
    authenticate(&ctx, &headers).await?;
    let list = ListQuery::parse(&lq, &[])?;
    let files = ctx.state.files("library", None).await.map_err(internal)?;
    list.answer(files.iter().map(file_json).collect::<Vec<_>>())
}

/// Add a file to the library
#[utoipa::path(
    post,
    path = "/api/v1/library",
    tag = "response",
    params(super::schemas::LibraryFileParams),
    request_body(content = super::schemas::Binary, content_type = "application/octet-stream"),
    responses(
        (status = 200, description = "the library file", body = super::schemas::StoredFile),
        (status = 400, response = super::schemas::BadRequest),
        (status = 409, response = super::schemas::Conflict),
    )
)]
async fn add_library_file(
    State(ctx): State<Arc<Ctx>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    raw: axum::body::Bytes,
) -> ApiResult {
    let actor = authenticate(&ctx, &headers).await?;
    let name = q
        .get("name")
        .cloned()
        .ok_or_else(|| bad("parameter name is missing (the library file's name)"))?;
    let id = vigil_state::new_file_id();
    let f = StoredFile {
        id: id.clone(),
        kind: "library".into(),
        name,
        size: raw.len() as i64,
        sha256: hex::encode(Sha256::digest(&raw)),
        device_id: None,
        action_id: None,
        created_ms: now_ms(),
        created_by: actor,
        description: q.get("description").cloned().unwrap_or_default(),
    };
    let path = ctx.respond.file_path(&id);
    tokio::fs::write(&path, &raw)
        .await
        .map_err(|e| internal(format!("cannot store the file: {e}")))?;
    match ctx.state.add_file(&f).await {
        Ok(f) => Ok(Json(file_json(&f))),
        Err(e) => {
            let _ = tokio::fs::remove_file(&path).await;
            Err(state_to_api(e))
        }
    }
}

/// Delete a library file
#[utoipa::path(
    delete,
    path = "/api/v1/library/{name}",
    tag = "response",
    params(("name" = String, Path, description = "the library file's name")),
    responses(
        (status = 200, description = "removed", body = super::schemas::LibraryFileRemoved),
        (status = 404, response = super::schemas::NotFound),
    )
)]
async fn delete_library_file(
    State(ctx): State<Arc<Ctx>>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> ApiResult {
    authenticate(&ctx, &headers).await?;
    let f = ctx
        .state
        .delete_library_file(&name)
        .await
        .map_err(not_found_or_internal)?;
    let _ = tokio::fs::remove_file(ctx.respond.file_path(&f.id)).await;
    Ok(Json(
        json!({ "FileId": f.id, "Name": f.name, "removed": true }),
    ))
}

fn session_json(s: &LiveSession, connected: bool) -> Value {
    json!({
        "SessionId": s.id,
        "DeviceId": s.device_id,
        "OpenedBy": s.opened_by,
        "Opened": rfc3339(s.opened_ms),
        "Closed": s.closed_ms.map(rfc3339),
        "LastActivity": rfc3339(s.last_ms),
        "DeviceConnected": connected,
    })
}

/// Open a live-response session
#[utoipa::path(
    post,
    path = "/api/v1/devices/{id}/live",
    tag = "response",
    params(("id" = String, Path, description = "the DeviceId")),
    responses(
        (status = 200, description = "the session", body = super::schemas::LiveSession),
        (status = 404, response = super::schemas::NotFound),
        (status = 409, response = super::schemas::Conflict),
    )
)]
async fn open_session(
    State(ctx): State<Arc<Ctx>>,
    headers: HeaderMap,
    Path(device): Path<String>,
    scope: Scope,
) -> ApiResult {
    let actor = authenticate(&ctx, &headers).await?;
    scope.check(&device, || format!("no device {device}"))?;
    let s = ctx
        .state
        .open_live_session(&device, &actor, now_ms())
        .await
        .map_err(state_to_api)?;
    tracing::info!(session = %s.id, device = %device, by = %actor, "live-response session opened");
    Ok(Json(session_json(&s, ctx.respond.connected(&device))))
}

/// A live-response session with its commands
#[utoipa::path(
    get,
    path = "/api/v1/live/{session}",
    tag = "response",
    params(("session" = String, Path, description = "the SessionId")),
    responses(
        (status = 200, description = "the session", body = super::schemas::LiveSessionDetail),
        (status = 404, response = super::schemas::NotFound),
    )
)]
async fn show_session(
    State(ctx): State<Arc<Ctx>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    scope: Scope,
) -> ApiResult {
    authenticate(&ctx, &headers).await?;
    let s = seen_session(&ctx, &scope, &id).await?;
    let mut v = session_json(&s, ctx.respond.connected(&s.device_id));
    let (items, _) = ctx
        .state
        .actions(&ActionFilter {
            session_id: Some(id),
            limit: 1000,
            ..ActionFilter::default()
        })
        .await
        .map_err(internal)?;
    v["Commands"] = json!(items.iter().map(action_json).collect::<Vec<_>>());
    Ok(Json(v))
}

/// Close a live-response session
#[utoipa::path(
    delete,
    path = "/api/v1/live/{session}",
    tag = "response",
    params(("session" = String, Path, description = "the SessionId")),
    responses(
        (status = 200, description = "the session, closed", body = super::schemas::LiveSession),
        (status = 404, response = super::schemas::NotFound),
    )
)]
async fn close_session(
    State(ctx): State<Arc<Ctx>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    scope: Scope,
) -> ApiResult {
    let actor = authenticate(&ctx, &headers).await?;
    seen_session(&ctx, &scope, &id).await?;
    let s = ctx
        .state
        .close_live_session(&id, now_ms())
        .await
        .map_err(not_found_or_internal)?;
    tracing::info!(session = %id, by = %actor, "live-response session closed");
    Ok(Json(session_json(&s, ctx.respond.connected(&s.device_id))))
}

/// Run a live-response command and wait for its result
#[utoipa::path(
    post,
    path = "/api/v1/live/{session}/commands",
    tag = "response",
    params(("session" = String, Path, description = "the SessionId")),
    request_body = super::schemas::LiveCommand,
    responses(
        (status = 200, description = "the command (an action), finished or still running at the wait's end", body = super::schemas::ActionDetail),
        (status = 400, response = super::schemas::BadRequest),
        (status = 404, response = super::schemas::NotFound),
    )
)]
async fn live_command(
    State(ctx): State<Arc<Ctx>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    scope: Scope,
    raw: axum::body::Bytes,
) -> ApiResult {
    let actor = authenticate(&ctx, &headers).await?;
    let b = Body::parse(&raw, &["command", "args", "wait_seconds"])?;
    let s = seen_session(&ctx, &scope, &id).await?;
    if s.closed_ms.is_some() {
        return Err(bad(format!("live-response session {id} is closed")));
    }
    if s.opened_by != actor {
        return Err(ApiError(
            StatusCode::FORBIDDEN,
            format!("live-response session {id} belongs to {}", s.opened_by),
        ));
    }
    let command = b.string("command")?.ok_or_else(|| {
        bad(format!(
            "field command is missing: {}",
            kinds::LIVE_COMMANDS.join(", ")
        ))
    })?;
    let kind = format!("live.{command}");
    let args = kinds::check(&kind, b.raw("args").unwrap_or(&Value::Null)).map_err(bad)?;
    if command == "putfile" || command == "run" {
        let name = args["file"]
            .as_str()
            .or(args["script"].as_str())
            .unwrap_or("");
        let f = ctx.state.file(name).await.map_err(not_found_or_internal)?;
        if f.kind != "library" {
            return Err(bad(format!("{name} is not a library file")));
        }
    }
    let wait = b.int("wait_seconds")?.unwrap_or(60);
    if !(0..=MAX_WAIT_SECS).contains(&wait) {
        return Err(bad(format!(
            "field wait_seconds must be 0 to {MAX_WAIT_SECS}"
        )));
    }
    ctx.state
        .touch_live_session(&id, now_ms())
        .await
        .map_err(internal)?;
    let a = ctx
        .respond
        .queue(
            &ctx,
            &NewAction {
                device_id: s.device_id.clone(),
                kind,
                args: args.to_string(),
                reason: format!("live response session {id}"),
                requested_by: actor,
                ttl_ms: LIVE_TTL_MS,
                undo_of: None,
                session_id: Some(id),
            },
        )
        .await
        .map_err(not_found_or_internal)?;
    let a = ctx
        .respond
        .wait_final(&ctx, &a.id, Duration::from_secs(wait as u64))
        .await
        .map_err(internal)?;
    Ok(Json(full_action_json(&ctx, &a).await?))
}
