//! `GET /api/v1/settings` and `PATCH /api/v1/settings {"automation_level"?,
//! "retention_days"?}`: the server-wide settings of `crate::settings`, as the console's
//! settings page shows and changes them. A PATCH checks every field before writing any and
//! writes them in one transaction; a new retention applies to the telemetry store at once
//! (partitions older than it go at the next hourly maintenance).

use std::sync::Arc;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use super::body::Body;
use super::{authenticate, bad, internal, rfc3339, ApiResult};
use crate::settings::{self, Settings, AUTOMATION_LEVEL, AUTOMATION_LEVELS, RETENTION_DAYS};
use crate::{now_ms, Ctx};

pub(super) fn routes() -> Router<Arc<Ctx>> {
    Router::new().route("/api/v1/settings", get(show).patch(update))
}

fn settings_json(s: &Settings) -> Value {
    json!({
        "automation_level": s.automation_level,
        "retention_days": s.retention_days,
        "updated": s.updated.as_ref().map(|(at, _)| rfc3339(*at)),
        "updated_by": s.updated.as_ref().map(|(_, by)| by),
        "automation_levels": AUTOMATION_LEVELS
            .iter()
            .map(|(level, description)| json!({ "level": level, "description": description }))
            .collect::<Vec<_>>(),
    })
}

/// Server-wide settings: automation level, retention
#[utoipa::path(
    get,
    path = "/api/v1/settings",
    tag = "settings",
    responses(
        (status = 200, description = "the settings", body = super::schemas::Settings),
    )
)]
async fn show(State(ctx): State<Arc<Ctx>>, headers: HeaderMap) -> ApiResult {
    authenticate(&ctx, &headers).await?;
    let s = settings::load(&ctx.state, ctx.cfg.store.retention_days)
        .await
        .map_err(internal)?;
    Ok(Json(settings_json(&s)))
}

/// Change the automation level and/or the retention
#[utoipa::path(
    patch,
    path = "/api/v1/settings",
    tag = "settings",
    request_body = super::schemas::SettingsChange,
    responses(
        (status = 200, description = "the settings as changed", body = super::schemas::Settings),
        (status = 400, response = super::schemas::BadRequest),
    )
)]
async fn update(
    State(ctx): State<Arc<Ctx>>,
    headers: HeaderMap,
    raw: axum::body::Bytes,
) -> ApiResult {
    let actor = authenticate(&ctx, &headers).await?;
    let b = Body::parse(&raw, &[AUTOMATION_LEVEL, RETENTION_DAYS])?;
    let mut values: Vec<(&str, Value)> = Vec::new();
    if let Some(level) = b.string(AUTOMATION_LEVEL)? {
        settings::check_automation_level(&level).map_err(bad)?;
        values.push((AUTOMATION_LEVEL, json!(level)));
    }
    let retention = match b.int(RETENTION_DAYS)? {
        Some(d) => {
            let d = settings::check_retention_days(d).map_err(bad)?;
            values.push((RETENTION_DAYS, json!(d)));
            Some(d)
        }
        None => None,
    };
    if values.is_empty() {
        return Err(bad(format!(
            "nothing to change: give {AUTOMATION_LEVEL} and/or {RETENTION_DAYS}"
        )));
    }
    ctx.state
        .set_settings(&values, &actor, now_ms())
        .await
        .map_err(internal)?;
    if let Some(d) = retention {
        ctx.store.set_retention_days(d);
    }
    tracing::info!(actor = %actor, changes = ?values, "settings changed");
    let s = settings::load(&ctx.state, ctx.cfg.store.retention_days)
        .await
        .map_err(internal)?;
    Ok(Json(settings_json(&s)))
}
