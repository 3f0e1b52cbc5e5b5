//! Access control in the API: who a request acts as, what it may do, and the record of what
//! it changed.
//!
//! [`guard`] runs on every `/api/v1` route after routing: it authenticates the request (an API
//! token as `Authorization: Bearer`, or the console's session cookie, which must also send its
//! CSRF token in `X-CSRF-Token` on anything but GET), checks the permission the route needs
//! ([`required`]: one table for the whole API, which the authorization-matrix test walks),
//! limits each principal's request rate, hands the principal to the handler, and records every
//! change (any method but GET) in the audit log with its outcome.
//!
//! Routes: `POST /api/v1/auth/login {"username", "password"}` (sets the session cookie,
//! answers the CSRF token), `POST /api/v1/auth/logout`, `GET /api/v1/auth/me`; `GET|POST
//! /api/v1/users`, `PATCH|DELETE /api/v1/users/{name}`; `GET|POST /api/v1/roles`, `DELETE
//! /api/v1/roles/{name}`; `GET|POST /api/v1/api-tokens`, `POST /api/v1/api-tokens/{id}/revoke`;
//! `GET /api/v1/audit?actor=&limit=&offset=`.
//!
//! **Invariant:** a handler only runs for a principal the guard accepted; the principal header
//! a client sends is removed before anything reads it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{MatchedPath, Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use vigil_state::{AuditRecord, Principal};

use super::body::{page_param, Body};
use super::list::ListQuery;
use super::{bad, internal, not_found_or_internal, rfc3339, ApiError, ApiResult};
use crate::{now_ms, Ctx};

/// The header the guard hands the principal's name to handlers in (never trusted from a
/// client: removed first).
pub(crate) const PRINCIPAL_HEADER: &str = "x-vigil-internal-principal";
/// The console's session cookie.
pub const SESSION_COOKIE: &str = "vigil_session";

/// What a route needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Nobody needs to be logged in (the login itself).
    Nothing,
    /// Any principal (whoami, logout).
    Anyone,
    Permission(&'static str),
}

/// The permission each route needs. Reading is `read` unless the data is sensitive; changes
/// need the permission of their area.
pub fn required(method: &Method, path: &str) -> Need {
    let get = method == Method::GET;
    let p = path.strip_prefix("/api/v1/").unwrap_or(path);
    let first = p.split('/').next().unwrap_or("");
    match (first, get) {
        ("auth", _) if p == "auth/login" => Need::Nothing,
        ("auth", _) => Need::Anyone,
        ("users" | "roles" | "api-tokens" | "audit" | "enrollment-tokens", _) => {
            Need::Permission("settings")
        }
        ("hunt" | "events", _) => Need::Permission("hunt"),
        ("action-files", _) => Need::Permission("respond"),
        ("live", _) => Need::Permission("live"),
        (_, true) => Need::Permission("read"),
        ("alerts" | "incidents", false) => Need::Permission("triage"),
        ("rules" | "suppressions" | "custom-detections", false) => Need::Permission("detections"),
        ("indicators" | "feeds" | "warninglists", false) => Need::Permission("intel"),
        ("actions" | "library", false) => Need::Permission("respond"),
        ("devices", false) if p.ends_with("/actions") => Need::Permission("respond"),
        ("devices", false) if p.ends_with("/live") => Need::Permission("live"),
        ("devices", false) => Need::Permission("settings"),
        _ => Need::Permission("settings"),
    }
}

/// Token buckets per principal.
#[derive(Default)]
pub struct RateLimits(Mutex<HashMap<String, (f64, Instant)>>);

impl RateLimits {
    fn allow(&self, who: &str, per_sec: f64, burst: f64) -> bool {
        let mut m = self.0.lock().expect("rate limit lock");
        let now = Instant::now();
        let e = m.entry(who.to_string()).or_insert((burst, now));
        e.0 = (e.0 + now.duration_since(e.1).as_secs_f64() * per_sec).min(burst);
        e.1 = now;
        if e.0 >= 1.0 {
            e.0 -= 1.0;
            true
        } else {
            false
        }
    }
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// Who the request is, from its bearer token or session cookie; and whether the CSRF token
/// was right (always true for tokens).
async fn identify(ctx: &Ctx, headers: &HeaderMap) -> Result<(Principal, bool), ApiError> {
    let unauthorized = |m: &str| ApiError(StatusCode::UNAUTHORIZED, m.to_string());
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let value = value
            .to_str()
            .map_err(|_| unauthorized("the Authorization header is not text"))?;
        let token = value
            .strip_prefix("Bearer ")
            .ok_or_else(|| unauthorized("the Authorization header must be 'Bearer <token>'"))?;
        let t = ctx
            .state
            .verify_api_token(token.trim())
            .await
            .map_err(internal)?
            .ok_or_else(|| unauthorized("the API token is not valid"))?;
        let p = ctx
            .state
            .principal(&t.name, &t.role, t.device_groups, "token", None)
            .await
            .map_err(internal)?;
        return Ok((p, true));
    }
    if let Some(secret) = cookie(headers, SESSION_COOKIE) {
        let csrf = headers.get("x-csrf-token").and_then(|v| v.to_str().ok());
        return match ctx
            .state
            .verify_session(&secret, csrf, now_ms())
            .await
            .map_err(internal)?
        {
            Some(found) => Ok(found),
            None => Err(unauthorized("the session has ended: log in again")),
        };
    }
    Err(unauthorized(
        "missing Authorization: Bearer <token> header (or a console session)",
    ))
}

/// The middleware of every `/api/v1` route.
pub async fn guard(State(ctx): State<Arc<Ctx>>, mut req: Request, next: Next) -> Response {
    req.headers_mut().remove(PRINCIPAL_HEADER);
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let template = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| path.clone());
    let need = required(&method, &template);
    if need == Need::Nothing {
        return next.run(req).await;
    }
    let (principal, csrf_ok) = match identify(&ctx, req.headers()).await {
        Ok(x) => x,
        Err(e) => return e.into_response(),
    };
    let actor = principal.name.clone();
    let resp = match refusal(&ctx, &method, need, &principal, csrf_ok) {
        Some(refused) => refused.into_response(),
        None => match super::scope::Scope::of(&ctx, &principal).await {
            Ok(scope) if scope.is_limited() && super::scope::fleet_wide(&method, &template) => {
                super::scope::fleet_wide_refusal(&template).into_response()
            }
            Ok(scope) => {
                if let Ok(v) = HeaderValue::from_str(&principal.name) {
                    req.headers_mut().insert(PRINCIPAL_HEADER, v);
                }
                req.extensions_mut().insert(principal);
                req.extensions_mut().insert(scope);
                next.run(req).await
            }
            Err(e) => e.into_response(),
        },
    };
    // Every change is audited, refused ones included (who tried what matters most then).
    if method != Method::GET {
        let rec = AuditRecord {
            at_ms: now_ms(),
            actor,
            method: method.to_string(),
            path,
            status: i64::from(resp.status().as_u16()),
            detail: String::new(),
        };
        if let Err(e) = ctx.state.record_audit(&rec).await {
            tracing::warn!("cannot record the audit entry: {e}");
        }
    }
    resp
}

/// Why an identified principal may not make this request (CSRF, permission, rate), if so.
fn refusal(
    ctx: &Ctx,
    method: &Method,
    need: Need,
    principal: &Principal,
    csrf_ok: bool,
) -> Option<ApiError> {
    if method != Method::GET && !csrf_ok {
        return Some(ApiError(
            StatusCode::FORBIDDEN,
            "a console request that changes something must send its X-CSRF-Token".into(),
        ));
    }
    if let Need::Permission(p) = need {
        if !principal.can(p) {
            return Some(ApiError(
                StatusCode::FORBIDDEN,
                format!(
                    "{} (role {}) may not do this: it needs the {p} permission",
                    principal.name, principal.role
                ),
            ));
        }
    }
    let limits = &ctx.cfg.api;
    if !ctx
        .rate_limits
        .allow(&principal.name, limits.rate_per_sec, limits.rate_burst)
    {
        return Some(ApiError(
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "{} is over {} requests a second",
                principal.name, limits.rate_per_sec
            ),
        ));
    }
    None
}

pub(super) fn routes() -> Router<Arc<Ctx>> {
    Router::new()
        .route("/api/v1/auth/login", post(login))
        .route("/api/v1/auth/logout", post(logout))
        .route("/api/v1/auth/me", get(me))
        .route("/api/v1/users", get(list_users).post(create_user))
        .route(
            "/api/v1/users/{name}",
            axum::routing::patch(update_user).delete(delete_user),
        )
        .route("/api/v1/roles", get(list_roles).post(create_role))
        .route("/api/v1/roles/{name}", axum::routing::delete(delete_role))
        .route("/api/v1/api-tokens", get(list_tokens).post(create_token))
        .route("/api/v1/api-tokens/{id}/revoke", post(revoke_token))
        .route("/api/v1/audit", get(audit))
}

fn principal_json(p: &Principal) -> Value {
    json!({
        "Name": p.name,
        "Role": p.role,
        "Permissions": p.permissions,
        "DeviceGroups": p.device_groups,
        "Via": p.via,
    })
}

/// Log in to the console (sets the session cookie, answers the CSRF token)
#[utoipa::path(
    post,
    path = "/api/v1/auth/login",
    tag = "access",
    request_body = super::schemas::LoginRequest,
    responses(
        (status = 200, description = "logged in; the session cookie is in Set-Cookie", body = super::schemas::LoginAnswer),
        (status = 400, response = super::schemas::BadRequest),
        (status = 401, response = super::schemas::Unauthorized),
    )
)]
async fn login(State(ctx): State<Arc<Ctx>>, raw: axum::body::Bytes) -> Result<Response, ApiError> {
    let b = Body::parse(&raw, &["username", "password"])?;
    let user = b
        .string("username")?
        .ok_or_else(|| bad("field username is missing"))?;
    let password = b
        .string("password")?
        .ok_or_else(|| bad("field password is missing"))?;
    let Some(l) = ctx
        .state
        .login(&user, &password, now_ms())
        .await
        .map_err(internal)?
    else {
        tracing::info!(user = %user, "login refused");
        return Err(ApiError(
            StatusCode::UNAUTHORIZED,
            "wrong user name or password".into(),
        ));
    };
    tracing::info!(user = %user, session = %l.session_id, "login");
    let max_age = (l.expires_ms - now_ms()) / 1000;
    let cookie = format!(
        "{SESSION_COOKIE}={}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}",
        l.secret
    );
    let mut resp = Json(json!({
        "csrf_token": l.csrf,
        "expires": rfc3339(l.expires_ms),
        "user": principal_json(&l.principal),
    }))
    .into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(resp)
}

fn principal_of(req_ext: &axum::http::Extensions) -> Result<Principal, ApiError> {
    req_ext
        .get::<Principal>()
        .cloned()
        .ok_or_else(|| ApiError(StatusCode::UNAUTHORIZED, "not logged in".into()))
}

/// End the console session
#[utoipa::path(
    post,
    path = "/api/v1/auth/logout",
    tag = "access",
    responses(
        (status = 200, description = "the session ended; the cookie is cleared", body = super::schemas::LoggedOut),
    )
)]
async fn logout(State(ctx): State<Arc<Ctx>>, req: Request) -> Result<Response, ApiError> {
    let p = principal_of(req.extensions())?;
    if let Some(id) = &p.session_id {
        ctx.state.end_session(id).await.map_err(internal)?;
    }
    let mut resp = Json(json!({ "logged_out": true })).into_response();
    resp.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("vigil_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    Ok(resp)
}

/// Who the request acts as, with its permissions
#[utoipa::path(
    get,
    path = "/api/v1/auth/me",
    tag = "access",
    responses(
        (status = 200, description = "the principal", body = super::schemas::Principal),
    )
)]
async fn me(req: Request) -> ApiResult {
    Ok(Json(principal_json(&principal_of(req.extensions())?)))
}

fn user_json(u: &vigil_state::ConsoleUser) -> Value {
    json!({
        "UserId": u.id,
        "Name": u.name,
        "Role": u.role,
        "DeviceGroups": u.device_groups,
        "Disabled": u.disabled,
        "Created": rfc3339(u.created_ms),
    })
}

/// Console users
#[utoipa::path(
    get,
    path = "/api/v1/users",
    tag = "access",
    params(super::schemas::ListParams),
    responses(
        (status = 200, description = "the users", body = super::schemas::List<super::schemas::User>),
        (status = 400, response = super::schemas::BadRequest),
    )
)]
async fn list_users(
    State(ctx): State<Arc<Ctx>>,
    Query(lq): Query<HashMap<String, String>>,
) -> ApiResult {
    let list = ListQuery::parse(&lq, &[])?;
    let users = ctx.state.console_users().await.map_err(internal)?;
    list.answer(users.iter().map(user_json).collect::<Vec<_>>())
}

fn conflict_or(e: vigil_state::StateError) -> ApiError {
    match e {
        vigil_state::StateError::AlreadyExists { .. } => {
            ApiError(StatusCode::CONFLICT, e.to_string())
        }
        e => not_found_or_internal(e),
    }
}

/// Create a console user
#[utoipa::path(
    post,
    path = "/api/v1/users",
    tag = "access",
    request_body = super::schemas::NewUser,
    responses(
        (status = 200, description = "the user", body = super::schemas::User),
        (status = 400, response = super::schemas::BadRequest),
        (status = 409, response = super::schemas::Conflict),
    )
)]
async fn create_user(State(ctx): State<Arc<Ctx>>, raw: axum::body::Bytes) -> ApiResult {
    let b = Body::parse(&raw, &["name", "password", "role", "device_groups"])?;
    let u = ctx
        .state
        .create_console_user(
            &b.string("name")?
                .ok_or_else(|| bad("field name is missing"))?,
            &b.string("password")?
                .ok_or_else(|| bad("field password is missing"))?,
            &b.string("role")?
                .ok_or_else(|| bad("field role is missing"))?,
            &b.strings("device_groups")?,
            now_ms(),
        )
        .await
        .map_err(conflict_or)?;
    Ok(Json(user_json(&u)))
}

/// Change a user's role, groups, password or disabled state
#[utoipa::path(
    patch,
    path = "/api/v1/users/{name}",
    tag = "access",
    params(("name" = String, Path, description = "the user name")),
    request_body = super::schemas::UserChange,
    responses(
        (status = 200, description = "the user as changed", body = super::schemas::User),
        (status = 400, response = super::schemas::BadRequest),
        (status = 404, response = super::schemas::NotFound),
    )
)]
async fn update_user(
    State(ctx): State<Arc<Ctx>>,
    Path(name): Path<String>,
    raw: axum::body::Bytes,
) -> ApiResult {
    let b = Body::parse(&raw, &["role", "device_groups", "password", "disabled"])?;
    let groups = b
        .raw("device_groups")
        .map(|_| b.strings("device_groups"))
        .transpose()?;
    let u = ctx
        .state
        .update_console_user(
            &name,
            b.string("role")?.as_deref(),
            groups.as_deref(),
            b.string("password")?.as_deref(),
            b.bool("disabled")?,
        )
        .await
        .map_err(not_found_or_internal)?;
    Ok(Json(user_json(&u)))
}

/// Delete a user and end their sessions
#[utoipa::path(
    delete,
    path = "/api/v1/users/{name}",
    tag = "access",
    params(("name" = String, Path, description = "the user name")),
    responses(
        (status = 200, description = "removed", body = super::schemas::NameRemoved),
        (status = 404, response = super::schemas::NotFound),
    )
)]
async fn delete_user(State(ctx): State<Arc<Ctx>>, Path(name): Path<String>) -> ApiResult {
    ctx.state
        .delete_console_user(&name)
        .await
        .map_err(not_found_or_internal)?;
    Ok(Json(json!({ "Name": name, "removed": true })))
}

fn role_json(r: &vigil_state::Role) -> Value {
    json!({
        "Name": r.name,
        "Description": r.description,
        "Permissions": r.permissions,
        "BuiltIn": r.builtin,
    })
}

/// Roles with their permissions
#[utoipa::path(
    get,
    path = "/api/v1/roles",
    tag = "access",
    params(super::schemas::ListParams),
    responses(
        (status = 200, description = "the roles", body = super::schemas::List<super::schemas::Role>),
        (status = 400, response = super::schemas::BadRequest),
    )
)]
async fn list_roles(
    State(ctx): State<Arc<Ctx>>,
    Query(lq): Query<HashMap<String, String>>,
) -> ApiResult {
    let list = ListQuery::parse(&lq, &[])?;
    let roles = ctx.state.roles().await.map_err(internal)?;
    list.answer(roles.iter().map(role_json).collect::<Vec<_>>())
}

/// Create a custom role
#[utoipa::path(
    post,
    path = "/api/v1/roles",
    tag = "access",
    request_body = super::schemas::NewRole,
    responses(
        (status = 200, description = "the role", body = super::schemas::Role),
        (status = 400, response = super::schemas::BadRequest),
        (status = 409, response = super::schemas::Conflict),
    )
)]
async fn create_role(State(ctx): State<Arc<Ctx>>, raw: axum::body::Bytes) -> ApiResult {
    let b = Body::parse(&raw, &["name", "description", "permissions"])?;
    let r = ctx
        .state
        .create_role(
            &b.string("name")?
                .ok_or_else(|| bad("field name is missing"))?,
            &b.string("description")?.unwrap_or_default(),
            &b.strings("permissions")?,
            now_ms(),
        )
        .await
        .map_err(conflict_or)?;
    Ok(Json(role_json(&r)))
}

/// Delete a custom role nobody holds
#[utoipa::path(
    delete,
    path = "/api/v1/roles/{name}",
    tag = "access",
    params(("name" = String, Path, description = "the role name")),
    responses(
        (status = 200, description = "removed", body = super::schemas::NameRemoved),
        (status = 400, response = super::schemas::BadRequest),
        (status = 404, response = super::schemas::NotFound),
    )
)]
async fn delete_role(State(ctx): State<Arc<Ctx>>, Path(name): Path<String>) -> ApiResult {
    ctx.state
        .delete_role(&name)
        .await
        .map_err(not_found_or_internal)?;
    Ok(Json(json!({ "Name": name, "removed": true })))
}

fn token_json(t: &vigil_state::ApiToken) -> Value {
    json!({
        "TokenId": t.id,
        "Name": t.name,
        "Role": t.role,
        "DeviceGroups": t.device_groups,
        "Created": rfc3339(t.created_ms),
        "Revoked": t.revoked_ms.map(rfc3339),
    })
}

/// API tokens (never their secrets)
#[utoipa::path(
    get,
    path = "/api/v1/api-tokens",
    tag = "access",
    params(super::schemas::ListParams),
    responses(
        (status = 200, description = "the tokens", body = super::schemas::List<super::schemas::ApiToken>),
        (status = 400, response = super::schemas::BadRequest),
    )
)]
async fn list_tokens(
    State(ctx): State<Arc<Ctx>>,
    Query(lq): Query<HashMap<String, String>>,
) -> ApiResult {
    let list = ListQuery::parse(&lq, &[])?;
    let tokens = ctx.state.list_api_tokens().await.map_err(internal)?;
    list.answer(tokens.iter().map(token_json).collect::<Vec<_>>())
}

/// Create an API token (its secret is answered once)
#[utoipa::path(
    post,
    path = "/api/v1/api-tokens",
    tag = "access",
    request_body = super::schemas::NewApiToken,
    responses(
        (status = 200, description = "the token with its secret", body = super::schemas::ApiTokenCreated),
        (status = 400, response = super::schemas::BadRequest),
        (status = 404, response = super::schemas::NotFound),
    )
)]
async fn create_token(State(ctx): State<Arc<Ctx>>, raw: axum::body::Bytes) -> ApiResult {
    let b = Body::parse(&raw, &["name", "role", "device_groups"])?;
    let role = b
        .string("role")?
        .ok_or_else(|| bad("field role is missing"))?;
    ctx.state.role(&role).await.map_err(not_found_or_internal)?;
    let (t, secret) = ctx
        .state
        .create_scoped_api_token(
            &b.string("name")?
                .ok_or_else(|| bad("field name is missing"))?,
            &role,
            &b.strings("device_groups")?,
            now_ms(),
        )
        .await
        .map_err(not_found_or_internal)?;
    let mut v = token_json(&t);
    v["Secret"] = json!(secret);
    Ok(Json(v))
}

/// Revoke an API token
#[utoipa::path(
    post,
    path = "/api/v1/api-tokens/{id}/revoke",
    tag = "access",
    params(("id" = String, Path, description = "the TokenId")),
    responses(
        (status = 200, description = "revoked", body = super::schemas::ApiTokenRevoked),
        (status = 404, response = super::schemas::NotFound),
    )
)]
async fn revoke_token(State(ctx): State<Arc<Ctx>>, Path(id): Path<String>) -> ApiResult {
    ctx.state
        .revoke_api_token(&id, now_ms())
        .await
        .map_err(not_found_or_internal)?;
    Ok(Json(json!({ "TokenId": id, "revoked": true })))
}

/// The audit log of changes
#[utoipa::path(
    get,
    path = "/api/v1/audit",
    tag = "access",
    params(super::schemas::AuditParams),
    responses(
        (status = 200, description = "one page, newest first", body = super::schemas::AuditPage),
        (status = 400, response = super::schemas::BadRequest),
    )
)]
async fn audit(State(ctx): State<Arc<Ctx>>, Query(q): Query<HashMap<String, String>>) -> ApiResult {
    let num = |name: &str, default: u64| page_param(&q, name, default);
    let limit = num("limit", 100)?.clamp(1, 1000) as u32;
    let offset = num("offset", 0)?;
    let (items, total) = ctx
        .state
        .audit_records(q.get("actor").map(String::as_str), limit, offset)
        .await
        .map_err(internal)?;
    Ok(Json(json!({
        "items": items.iter().map(|r| json!({
            "Time": rfc3339(r.at_ms), "Actor": r.actor, "Method": r.method, "Path": r.path,
            "Status": r.status, "Detail": r.detail,
        })).collect::<Vec<_>>(),
        "total": total,
        "limit": limit,
        "offset": offset,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_need_their_permissions() {
        let g = Method::GET;
        let p = Method::POST;
        assert_eq!(required(&p, "/api/v1/auth/login"), Need::Nothing);
        assert_eq!(required(&g, "/api/v1/auth/me"), Need::Anyone);
        assert_eq!(required(&g, "/api/v1/alerts"), Need::Permission("read"));
        assert_eq!(
            required(&Method::PATCH, "/api/v1/alerts/{id}"),
            Need::Permission("triage")
        );
        assert_eq!(required(&p, "/api/v1/hunt"), Need::Permission("hunt"));
        assert_eq!(
            required(&p, "/api/v1/indicators"),
            Need::Permission("intel")
        );
        assert_eq!(
            required(&p, "/api/v1/devices/{id}/actions"),
            Need::Permission("respond")
        );
        assert_eq!(
            required(&p, "/api/v1/devices/{id}/live"),
            Need::Permission("live")
        );
        assert_eq!(
            required(&p, "/api/v1/devices/{id}/revoke"),
            Need::Permission("settings")
        );
        assert_eq!(required(&g, "/api/v1/users"), Need::Permission("settings"));
        assert_eq!(
            required(&g, "/api/v1/action-files/{id}"),
            Need::Permission("respond")
        );
    }
}
