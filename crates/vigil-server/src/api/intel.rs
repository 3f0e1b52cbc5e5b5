//! Threat intelligence in the API: indicators (CRUD, import in every supported format, CSV
//! export, retro-hunt on demand), feeds, MISP warning lists, and device groups (which scope
//! indicators).
//!
//! - `GET /api/v1/indicators?type=&action=&source=&q=&live=true&limit=&offset=` →
//!   `{"items": [...], "total": N, "limit": L, "offset": O}` (at most 1,000 a page);
//! - `POST /api/v1/indicators` `{"type", "value", "action", "severity", "title",
//!   "description", "ttl_seconds" | "expires_ms", "device_groups", "generate_alert"}` (a `cert`
//!   value may be a PEM certificate: its thumbprint is stored);
//! - `GET|PATCH|DELETE /api/v1/indicators/{id}`;
//! - `POST /api/v1/indicators/import?format=stix|taxii|misp|csv|abusech&source=NAME&action=&severity=&generate_alert=&ttl_seconds=&replace=`
//!   with the file as the body: all or nothing, the answer counts what was added, updated,
//!   unchanged, removed and skipped (with reasons);
//! - `GET /api/v1/indicators/export` → Vigil's CSV;
//! - `POST /api/v1/indicators/retrohunt` `{"ids": [...]}`;
//! - `GET|POST /api/v1/feeds`, `GET|DELETE /api/v1/feeds/{id}`,
//!   `POST /api/v1/feeds/{id}/refresh|enable|disable`;
//! - `GET|POST /api/v1/warninglists` (the list's JSON as the body), `DELETE /api/v1/warninglists/{id}`;
//! - `PATCH /api/v1/devices/{id}` `{"group": "..." | null}`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use vigil_intel::import::{self, Format, ImportOptions};
use vigil_intel::{Action, Indicator, IndicatorType, Severity};
use vigil_state::{Feed, IndicatorFilter, IndicatorRecord, IndicatorUpdate, NewFeed};

use super::body::{page_param, Body};
use super::list::ListQuery;
use super::{authenticate, bad, internal, not_found_or_internal, rfc3339, ApiError, ApiResult};
use crate::intel::StoreReport;
use crate::{now_ms, Ctx};

/// The largest import body.
const MAX_IMPORT_BYTES: usize = 512 << 20;
/// The largest page of indicators.
const MAX_PAGE: u32 = 1000;

pub(super) fn routes() -> Router<Arc<Ctx>> {
    Router::new()
        .route(
            "/api/v1/indicators",
            get(list_indicators).post(create_indicator),
        )
        .route(
            "/api/v1/indicators/import",
            post(import_indicators).layer(DefaultBodyLimit::max(MAX_IMPORT_BYTES)),
        )
        .route("/api/v1/indicators/export", get(export_indicators))
        .route("/api/v1/indicators/retrohunt", post(retrohunt))
        .route(
            "/api/v1/indicators/{id}",
            get(show_indicator)
                .patch(update_indicator)
                .delete(delete_indicator),
        )
        .route("/api/v1/feeds", get(list_feeds).post(create_feed))
        .route("/api/v1/feeds/{id}", get(show_feed).delete(delete_feed))
        .route("/api/v1/feeds/{id}/refresh", post(refresh_feed))
        .route("/api/v1/feeds/{id}/enable", post(enable_feed))
        .route("/api/v1/feeds/{id}/disable", post(disable_feed))
        .route(
            "/api/v1/warninglists",
            get(list_warning_lists)
                .post(put_warning_list)
                .layer(DefaultBodyLimit::max(64 << 20)),
        )
        .route(
            "/api/v1/warninglists/{id}",
            axum::routing::delete(delete_warning_list),
        )
}

/// A name or value taken is 409; the rest as `not_found_or_internal` says.
fn conflict_or_other(e: vigil_state::StateError) -> ApiError {
    match e {
        vigil_state::StateError::AlreadyExists { .. } => {
            ApiError(StatusCode::CONFLICT, e.to_string())
        }
        e => not_found_or_internal(e),
    }
}

fn intel_err(e: vigil_intel::IntelError) -> ApiError {
    bad(e.to_string())
}

pub(crate) fn indicator_json(r: &IndicatorRecord, now: i64) -> Value {
    let i = &r.indicator;
    json!({
        "IndicatorId": i.id,
        "IndicatorType": i.kind.as_str(),
        "IndicatorValue": i.value,
        "Action": i.action.as_str(),
        "Severity": i.severity.as_str(),
        "Title": i.title,
        "Description": i.description,
        "ExpirationTime": i.expires_ms.map(rfc3339),
        "Expired": !i.is_live(now),
        "DeviceGroups": i.device_groups,
        "GenerateAlert": i.generate_alert,
        "Source": i.provenance.source,
        "SourceReference": i.provenance.reference,
        "FirstSeen": i.provenance.first_seen_ms.map(rfc3339),
        "Labels": i.provenance.labels,
        "CreatedBy": r.created_by,
        "Created": rfc3339(r.created_ms),
        "Updated": rfc3339(r.updated_ms),
        "Version": r.version,
    })
}

fn parse<T: std::str::FromStr<Err = vigil_intel::IntelError>>(
    field: &str,
    v: &str,
) -> Result<T, ApiError> {
    v.parse()
        .map_err(|e: vigil_intel::IntelError| bad(format!("field {field}: {e}")))
}

/// Indicators, filtered and paged
#[utoipa::path(
    get,
    path = "/api/v1/indicators",
    tag = "intel",
    params(super::schemas::IndicatorFilters),
    responses(
        (status = 200, description = "one page", body = super::schemas::IndicatorPage),
        (status = 400, response = super::schemas::BadRequest),
    )
)]
async fn list_indicators(
    State(ctx): State<Arc<Ctx>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    authenticate(&ctx, &headers).await?;
    const KNOWN: &[&str] = &["type", "action", "source", "q", "live", "limit", "offset"];
    if let Some(k) = q.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return Err(bad(format!(
            "unknown parameter {k:?}: the parameters are {}",
            KNOWN.join(", ")
        )));
    }
    let now = now_ms();
    let limit = page_param(&q, "limit", 100)?;
    if limit == 0 || limit > u64::from(MAX_PAGE) {
        return Err(bad(format!("parameter limit must be 1 to {MAX_PAGE}")));
    }
    let filter = IndicatorFilter {
        kind: q.get("type").map(|t| parse("type", t)).transpose()?,
        action: q.get("action").map(|a| parse("action", a)).transpose()?,
        source: q.get("source").cloned(),
        search: q.get("q").cloned().filter(|s| !s.is_empty()),
        live_at_ms: match q.get("live").map(String::as_str) {
            None | Some("false") => None,
            Some("true") => Some(now),
            Some(v) => {
                return Err(bad(format!(
                    "parameter live must be true or false, not {v:?}"
                )))
            }
        },
        limit: limit as u32,
        offset: page_param(&q, "offset", 0)?,
    };
    let (items, total) = ctx.state.indicators(&filter).await.map_err(internal)?;
    Ok(Json(json!({
        "items": items.iter().map(|r| indicator_json(r, now)).collect::<Vec<_>>(),
        "total": total,
        "limit": filter.limit,
        "offset": filter.offset,
    })))
}

/// Add an indicator
#[utoipa::path(
    post,
    path = "/api/v1/indicators",
    tag = "intel",
    request_body = super::schemas::NewIndicator,
    responses(
        (status = 200, description = "the indicator", body = super::schemas::Indicator),
        (status = 400, response = super::schemas::BadRequest),
        (status = 409, response = super::schemas::Conflict),
    )
)]
async fn create_indicator(
    State(ctx): State<Arc<Ctx>>,
    headers: HeaderMap,
    raw: axum::body::Bytes,
) -> ApiResult {
    let actor = authenticate(&ctx, &headers).await?;
    let b = Body::parse(
        &raw,
        &[
            "type",
            "value",
            "action",
            "severity",
            "title",
            "description",
            "ttl_seconds",
            "expires_ms",
            "device_groups",
            "generate_alert",
        ],
    )?;
    let kind: IndicatorType = parse(
        "type",
        &b.string("type")?.ok_or_else(|| {
            bad("field type is missing: sha256, sha1, md5, ip, cidr, domain, url or cert")
        })?,
    )?;
    let raw_value = b
        .string("value")?
        .ok_or_else(|| bad("field value is missing"))?;
    let value = if kind == IndicatorType::Cert && raw_value.contains("-----BEGIN") {
        vigil_intel::normalize::cert_thumbprint(raw_value.as_bytes())
            .map_err(|e| bad(format!("field value: {e}")))?
    } else {
        raw_value
    };
    let now = now_ms();
    let mut ind = Indicator::new(kind, &value).map_err(|e| bad(format!("field value: {e}")))?;
    ind.action = parse(
        "action",
        &b.string("action")?.ok_or_else(|| {
            bad("field action is missing: allow, audit, warn, block or block-and-remediate")
        })?,
    )?;
    if let Some(s) = b.string("severity")? {
        ind.severity = parse("severity", &s)?;
    }
    if let Some(t) = b.string("title")? {
        ind.title = t;
    }
    ind.description = b.string("description")?.unwrap_or_default();
    ind.expires_ms = b.expiry(now)?.flatten();
    if ind.expires_ms.is_some_and(|e| e <= now) {
        return Err(bad("the expiry is already past"));
    }
    ind.device_groups = b.strings("device_groups")?;
    ind.generate_alert = b.bool("generate_alert")?.unwrap_or(true);
    ind.provenance.source = "manual".into();
    ind.provenance.reference = actor.clone();
    let rec = ctx
        .state
        .add_indicator(&ind, &actor, now)
        .await
        .map_err(conflict_or_other)?;
    ctx.intel.changed(vec![rec.indicator.id]);
    tracing::info!(indicator = rec.indicator.id, kind = %kind, action = %rec.indicator.action, actor = %actor, "indicator added");
    Ok(Json(indicator_json(&rec, now)))
}

fn id_param(id: &str) -> Result<u64, ApiError> {
    id.parse()
        .map_err(|_| bad(format!("indicator id must be a whole number, not {id:?}")))
}

/// One indicator
#[utoipa::path(
    get,
    path = "/api/v1/indicators/{id}",
    tag = "intel",
    params(
        ("id" = String, Path, description = "the IndicatorId (a whole number)"),
    ),
    responses(
        (status = 200, description = "the indicator", body = super::schemas::Indicator),
        (status = 400, response = super::schemas::BadRequest),
        (status = 404, response = super::schemas::NotFound),
    )
)]
async fn show_indicator(
    State(ctx): State<Arc<Ctx>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult {
    authenticate(&ctx, &headers).await?;
    let rec = ctx
        .state
        .indicator(id_param(&id)?)
        .await
        .map_err(not_found_or_internal)?;
    Ok(Json(indicator_json(&rec, now_ms())))
}

/// Change an indicator
#[utoipa::path(
    patch,
    path = "/api/v1/indicators/{id}",
    tag = "intel",
    params(
        ("id" = String, Path, description = "the IndicatorId (a whole number)"),
    ),
    request_body = super::schemas::IndicatorChange,
    responses(
        (status = 200, description = "the indicator as changed", body = super::schemas::Indicator),
        (status = 400, response = super::schemas::BadRequest),
        (status = 404, response = super::schemas::NotFound),
    )
)]
async fn update_indicator(
    State(ctx): State<Arc<Ctx>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    raw: axum::body::Bytes,
) -> ApiResult {
    let actor = authenticate(&ctx, &headers).await?;
    let id = id_param(&id)?;
    let b = Body::parse(
        &raw,
        &[
            "action",
            "severity",
            "title",
            "description",
            "ttl_seconds",
            "expires_ms",
            "device_groups",
            "generate_alert",
        ],
    )?;
    let now = now_ms();
    let u = IndicatorUpdate {
        action: b
            .string("action")?
            .map(|a| parse("action", &a))
            .transpose()?,
        severity: b
            .string("severity")?
            .map(|s| parse::<Severity>("severity", &s))
            .transpose()?,
        title: b.string("title")?,
        description: b.string("description")?,
        expires_ms: b.expiry(now)?,
        generate_alert: b.bool("generate_alert")?,
        device_groups: b
            .raw("device_groups")
            .map(|_| b.strings("device_groups"))
            .transpose()?,
    };
    let before = ctx
        .state
        .indicator(id)
        .await
        .map_err(not_found_or_internal)?;
    let rec = ctx
        .state
        .update_indicator(id, &u, now)
        .await
        .map_err(not_found_or_internal)?;
    // An indicator that stops allowing is looked for in what was stored meanwhile.
    let newly_matching =
        before.indicator.action == Action::Allow && rec.indicator.action != Action::Allow;
    ctx.intel
        .changed(if newly_matching { vec![id] } else { Vec::new() });
    tracing::info!(indicator = id, actor = %actor, "indicator updated");
    Ok(Json(indicator_json(&rec, now)))
}

/// Delete an indicator
#[utoipa::path(
    delete,
    path = "/api/v1/indicators/{id}",
    tag = "intel",
    params(
        ("id" = String, Path, description = "the IndicatorId (a whole number)"),
    ),
    responses(
        (status = 200, description = "removed", body = super::schemas::IndicatorRemoved),
        (status = 400, response = super::schemas::BadRequest),
        (status = 404, response = super::schemas::NotFound),
    )
)]
async fn delete_indicator(
    State(ctx): State<Arc<Ctx>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult {
    let actor = authenticate(&ctx, &headers).await?;
    let id = id_param(&id)?;
    ctx.state
        .delete_indicators(&[id], now_ms())
        .await
        .map_err(not_found_or_internal)?;
    ctx.intel.changed(Vec::new());
    tracing::info!(indicator = id, actor = %actor, "indicator removed");
    Ok(Json(json!({ "IndicatorId": id, "removed": true })))
}

pub(crate) fn report_json(r: &StoreReport) -> Value {
    json!({
        "read": r.read,
        "added": r.summary.added,
        "updated": r.summary.updated,
        "unchanged": r.summary.unchanged,
        "removed": r.summary.removed,
        "skipped": r.skipped.len(),
        "skipped_records": r.skipped.iter().take(1000).map(|s| json!({ "record": s.record, "reason": s.reason })).collect::<Vec<_>>(),
        "version": r.summary.version,
    })
}

/// Import indicators (STIX, TAXII envelope, MISP, CSV, abuse.ch)
#[utoipa::path(
    post,
    path = "/api/v1/indicators/import",
    tag = "intel",
    params(super::schemas::ImportParams),
    request_body(content = super::schemas::Binary, content_type = "application/octet-stream"),
    responses(
        (status = 200, description = "what the import did", body = super::schemas::ImportReport),
        (status = 400, response = super::schemas::BadRequest),
    )
)]
async fn import_indicators(
    State(ctx): State<Arc<Ctx>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    raw: axum::body::Bytes,
) -> ApiResult {
    let actor = authenticate(&ctx, &headers).await?;
    const KNOWN: &[&str] = &[
        "format",
        "source",
        "action",
        "severity",
        "generate_alert",
        "ttl_seconds",
        "replace",
    ];
    if let Some(k) = q.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return Err(bad(format!(
            "unknown parameter {k:?}: the parameters are {}",
            KNOWN.join(", ")
        )));
    }
    let format: Format = q
        .get("format")
        .ok_or_else(|| bad("parameter format is missing: stix, taxii, misp, csv or abusech"))?
        .parse()
        .map_err(intel_err)?;
    let source = q.get("source").cloned().unwrap_or_else(|| "import".into());
    if source == "manual" {
        return Err(bad(
            "parameter source: \"manual\" is kept for indicators added one by one",
        ));
    }
    let flag = |name: &str, default: bool| -> Result<bool, ApiError> {
        match q.get(name).map(String::as_str) {
            None => Ok(default),
            Some("true") => Ok(true),
            Some("false") => Ok(false),
            Some(v) => Err(bad(format!(
                "parameter {name} must be true or false, not {v:?}"
            ))),
        }
    };
    let now = now_ms();
    let ttl = q
        .get("ttl_seconds")
        .map(|t| {
            t.parse::<i64>().ok().filter(|t| *t > 0).ok_or_else(|| {
                bad(format!(
                    "parameter ttl_seconds must be a positive whole number, not {t:?}"
                ))
            })
        })
        .transpose()?;
    let opts = ImportOptions {
        source: source.clone(),
        action: q
            .get("action")
            .map(|a| parse("action", a))
            .transpose()?
            .unwrap_or(Action::Audit),
        severity: q
            .get("severity")
            .map(|s| parse("severity", s))
            .transpose()?
            .unwrap_or(Severity::Medium),
        generate_alert: flag("generate_alert", true)?,
        expires_ms: ttl.map(|t| now + t * 1000),
        now_ms: now,
    };
    let replace = flag("replace", false)?;
    let imported = tokio::task::spawn_blocking(move || import::import(format, &raw, &opts))
        .await
        .map_err(internal)?
        .map_err(intel_err)?;
    let report = crate::intel::store_imported(&ctx, &source, imported, replace, &actor)
        .await
        .map_err(bad)?;
    tracing::info!(source = %source, added = report.summary.added, actor = %actor, "indicators imported");
    Ok(Json(report_json(&report)))
}

/// Export indicators as CSV
#[utoipa::path(
    get,
    path = "/api/v1/indicators/export",
    tag = "intel",
    responses(
        (status = 200, description = "Vigil's CSV of every indicator", body = String, content_type = "text/csv"),
    )
)]
async fn export_indicators(
    State(ctx): State<Arc<Ctx>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    authenticate(&ctx, &headers).await?;
    let all = ctx
        .state
        .live_indicators(i64::MIN)
        .await
        .map_err(internal)?;
    let csv = import::csv::export_csv(&all);
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"indicators.csv\"",
            ),
        ],
        csv,
    )
        .into_response())
}

/// Search stored telemetry for indicators
#[utoipa::path(
    post,
    path = "/api/v1/indicators/retrohunt",
    tag = "intel",
    request_body = super::schemas::RetrohuntRequest,
    responses(
        (status = 200, description = "queued", body = super::schemas::RetrohuntQueued),
        (status = 400, response = super::schemas::BadRequest),
        (status = 404, response = super::schemas::NotFound),
    )
)]
async fn retrohunt(
    State(ctx): State<Arc<Ctx>>,
    headers: HeaderMap,
    raw: axum::body::Bytes,
) -> ApiResult {
    authenticate(&ctx, &headers).await?;
    let b = Body::parse(&raw, &["ids"])?;
    let ids: Vec<u64> = match b.raw("ids") {
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_u64().ok_or_else(|| {
                    bad(format!(
                        "field ids must be a list of indicator ids, found {v}"
                    ))
                })
            })
            .collect::<Result<_, _>>()?,
        _ => return Err(bad("field ids is missing: a list of indicator ids")),
    };
    for &id in &ids {
        ctx.state
            .indicator(id)
            .await
            .map_err(not_found_or_internal)?;
    }
    ctx.intel.changed(ids.clone());
    Ok(Json(json!({ "queued": ids })))
}

fn feed_json(f: &Feed) -> Value {
    json!({
        "FeedId": f.id,
        "Name": f.name,
        "Format": f.format,
        "Url": f.url,
        "Collection": f.collection,
        "Username": f.username,
        "SecretSet": f.secret.is_some(),
        "IntervalSeconds": f.interval_ms / 1000,
        "Action": f.action,
        "Severity": f.severity,
        "GenerateAlert": f.generate_alert,
        "ExpireAfterSeconds": f.expire_after_ms.map(|e| e / 1000),
        "Enabled": f.enabled,
        "Cursor": f.cursor,
        "LastRun": f.last_run_ms.map(rfc3339),
        "LastSuccess": f.last_ok_ms.map(rfc3339),
        "LastStatus": f.last_status,
        "LastError": f.last_error,
        "LastCount": f.last_count,
        "Created": rfc3339(f.created_ms),
        "CreatedBy": f.created_by,
    })
}

/// Indicator feeds
#[utoipa::path(
    get,
    path = "/api/v1/feeds",
    tag = "intel",
    params(super::schemas::ListParams),
    responses(
        (status = 200, description = "the feeds", body = super::schemas::List<super::schemas::Feed>),
        (status = 400, response = super::schemas::BadRequest),
    )
)]
async fn list_feeds(
    State(ctx): State<Arc<Ctx>>,
    headers: HeaderMap,
    Query(lq): Query<HashMap<String, String>>,
) -> ApiResult {
    authenticate(&ctx, &headers).await?;
    let list = ListQuery::parse(&lq, &[])?;
    let feeds = ctx.state.feeds().await.map_err(internal)?;
    list.answer(feeds.iter().map(feed_json).collect::<Vec<_>>())
}

/// Add a feed (file or TAXII 2.1)
#[utoipa::path(
    post,
    path = "/api/v1/feeds",
    tag = "intel",
    request_body = super::schemas::NewFeed,
    responses(
        (status = 200, description = "the feed", body = super::schemas::Feed),
        (status = 400, response = super::schemas::BadRequest),
        (status = 409, response = super::schemas::Conflict),
    )
)]
async fn create_feed(
    State(ctx): State<Arc<Ctx>>,
    headers: HeaderMap,
    raw: axum::body::Bytes,
) -> ApiResult {
    let actor = authenticate(&ctx, &headers).await?;
    let b = Body::parse(
        &raw,
        &[
            "name",
            "format",
            "url",
            "collection",
            "username",
            "secret",
            "interval_seconds",
            "action",
            "severity",
            "generate_alert",
            "expire_after_seconds",
            "enabled",
        ],
    )?;
    let action: Action = parse(
        "action",
        &b.string("action")?.unwrap_or_else(|| "audit".into()),
    )?;
    let severity: Severity = parse(
        "severity",
        &b.string("severity")?.unwrap_or_else(|| "Medium".into()),
    )?;
    let new = NewFeed {
        name: b
            .string("name")?
            .ok_or_else(|| bad("field name is missing"))?,
        format: b
            .string("format")?
            .ok_or_else(|| bad("field format is missing: stix, taxii, misp, csv or abusech"))?,
        url: b
            .string("url")?
            .ok_or_else(|| bad("field url is missing"))?,
        collection: b.string("collection")?,
        username: b.string("username")?,
        secret: b.string("secret")?,
        interval_ms: b
            .int("interval_seconds")?
            .unwrap_or(3600)
            .saturating_mul(1000),
        action: action.as_str().to_string(),
        severity: severity.as_str().to_string(),
        generate_alert: b.bool("generate_alert")?.unwrap_or(true),
        expire_after_ms: b
            .int("expire_after_seconds")?
            .map(|s| s.saturating_mul(1000)),
        enabled: b.bool("enabled")?.unwrap_or(true),
    };
    let feed = ctx
        .state
        .create_feed(&new, &actor, now_ms())
        .await
        .map_err(conflict_or_other)?;
    tracing::info!(feed = %feed.name, actor = %actor, "feed added");
    Ok(Json(feed_json(&feed)))
}

/// One feed with its last run
#[utoipa::path(
    get,
    path = "/api/v1/feeds/{id}",
    tag = "intel",
    params(("id" = String, Path, description = "the FeedId")),
    responses(
        (status = 200, description = "the feed", body = super::schemas::Feed),
        (status = 404, response = super::schemas::NotFound),
    )
)]
async fn show_feed(
    State(ctx): State<Arc<Ctx>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult {
    authenticate(&ctx, &headers).await?;
    let f = ctx.state.feed(&id).await.map_err(not_found_or_internal)?;
    Ok(Json(feed_json(&f)))
}

/// Delete a feed and its indicators
#[utoipa::path(
    delete,
    path = "/api/v1/feeds/{id}",
    tag = "intel",
    params(("id" = String, Path, description = "the FeedId")),
    responses(
        (status = 200, description = "removed", body = super::schemas::FeedRemoved),
        (status = 404, response = super::schemas::NotFound),
    )
)]
async fn delete_feed(
    State(ctx): State<Arc<Ctx>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult {
    let actor = authenticate(&ctx, &headers).await?;
    let removed = ctx
        .state
        .delete_feed(&id, now_ms())
        .await
        .map_err(not_found_or_internal)?;
    ctx.intel.changed(Vec::new());
    tracing::info!(feed = %id, actor = %actor, removed, "feed removed");
    Ok(Json(
        json!({ "FeedId": id, "removed": true, "indicators_removed": removed }),
    ))
}

/// Fetch a feed now
#[utoipa::path(
    post,
    path = "/api/v1/feeds/{id}/refresh",
    tag = "intel",
    params(("id" = String, Path, description = "the FeedId")),
    responses(
        (status = 200, description = "what the fetch did", body = super::schemas::ImportReport),
        (status = 404, response = super::schemas::NotFound),
        (status = 502, response = super::schemas::BadGateway),
    )
)]
async fn refresh_feed(
    State(ctx): State<Arc<Ctx>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult {
    authenticate(&ctx, &headers).await?;
    let f = ctx.state.feed(&id).await.map_err(not_found_or_internal)?;
    let report = crate::intel::feeds::refresh(&ctx, &f)
        .await
        .map_err(|e| ApiError(StatusCode::BAD_GATEWAY, format!("feed {}: {e}", f.name)))?;
    Ok(Json(report_json(&report)))
}

async fn switch_feed(ctx: &Ctx, headers: &HeaderMap, id: &str, on: bool) -> ApiResult {
    authenticate(ctx, headers).await?;
    let f = ctx
        .state
        .set_feed_enabled(id, on)
        .await
        .map_err(not_found_or_internal)?;
    Ok(Json(feed_json(&f)))
}

/// Enable a feed
#[utoipa::path(
    post,
    path = "/api/v1/feeds/{id}/enable",
    tag = "intel",
    params(("id" = String, Path, description = "the FeedId")),
    responses(
        (status = 200, description = "the feed", body = super::schemas::Feed),
        (status = 404, response = super::schemas::NotFound),
    )
)]
async fn enable_feed(
    State(ctx): State<Arc<Ctx>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult {
    switch_feed(&ctx, &headers, &id, true).await
}

/// Disable a feed
#[utoipa::path(
    post,
    path = "/api/v1/feeds/{id}/disable",
    tag = "intel",
    params(("id" = String, Path, description = "the FeedId")),
    responses(
        (status = 200, description = "the feed", body = super::schemas::Feed),
        (status = 404, response = super::schemas::NotFound),
    )
)]
async fn disable_feed(
    State(ctx): State<Arc<Ctx>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult {
    switch_feed(&ctx, &headers, &id, false).await
}

/// MISP warning lists
#[utoipa::path(
    get,
    path = "/api/v1/warninglists",
    tag = "intel",
    params(super::schemas::ListParams),
    responses(
        (status = 200, description = "the warning lists", body = super::schemas::List<super::schemas::WarningList>),
        (status = 400, response = super::schemas::BadRequest),
    )
)]
async fn list_warning_lists(
    State(ctx): State<Arc<Ctx>>,
    headers: HeaderMap,
    Query(lq): Query<HashMap<String, String>>,
) -> ApiResult {
    authenticate(&ctx, &headers).await?;
    let list = ListQuery::parse(&lq, &[])?;
    let lists = ctx.state.warning_lists().await.map_err(internal)?;
    list.answer(
        lists
            .iter()
            .map(|l| {
                let parsed = import::warninglist::WarningList::parse(l.body.as_bytes()).ok();
                json!({
                    "WarningListId": l.id,
                    "Name": l.name,
                    "Type": parsed.as_ref().map(|w| w.kind_name()),
                    "Entries": parsed.as_ref().map(|w| w.len()),
                    "Created": rfc3339(l.created_ms),
                })
            })
            .collect::<Vec<_>>(),
    )
}

/// Add or replace a MISP warning list
#[utoipa::path(
    post,
    path = "/api/v1/warninglists",
    tag = "intel",
    request_body(content = super::schemas::Object, description = "a MISP warning list, as its list.json"),
    responses(
        (status = 200, description = "the list as stored", body = super::schemas::WarningList),
        (status = 400, response = super::schemas::BadRequest),
    )
)]
async fn put_warning_list(
    State(ctx): State<Arc<Ctx>>,
    headers: HeaderMap,
    raw: axum::body::Bytes,
) -> ApiResult {
    let actor = authenticate(&ctx, &headers).await?;
    let text = std::str::from_utf8(&raw).map_err(|_| bad("the warning list is not UTF-8 text"))?;
    let list = import::warninglist::WarningList::parse(raw.as_ref()).map_err(intel_err)?;
    let stored = ctx
        .state
        .put_warning_list(list.name(), text, now_ms())
        .await
        .map_err(not_found_or_internal)?;
    tracing::info!(list = %stored.name, actor = %actor, "warning list stored");
    Ok(Json(json!({
        "WarningListId": stored.id,
        "Name": stored.name,
        "Type": list.kind_name(),
        "Entries": list.len(),
    })))
}

/// Delete a warning list
#[utoipa::path(
    delete,
    path = "/api/v1/warninglists/{id}",
    tag = "intel",
    params(("id" = String, Path, description = "the WarningListId")),
    responses(
        (status = 200, description = "removed", body = super::schemas::WarningListRemoved),
        (status = 404, response = super::schemas::NotFound),
    )
)]
async fn delete_warning_list(
    State(ctx): State<Arc<Ctx>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult {
    authenticate(&ctx, &headers).await?;
    ctx.state
        .delete_warning_list(&id)
        .await
        .map_err(not_found_or_internal)?;
    Ok(Json(json!({ "WarningListId": id, "removed": true })))
}
