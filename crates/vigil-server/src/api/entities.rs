//! Entity pages: what the fleet knows about a file hash, an IP address or a domain.
//!
//! - `GET /api/v1/files/{sha256|sha1|md5}`, `GET /api/v1/ips/{address}`,
//!   `GET /api/v1/domains/{name}`, each with `?days=N` (default 30, at most 365).
//!
//! The answer: `Prevalence` (devices that saw it, events, first and last seen, per device),
//! `Names` (a file's names and paths), `Alerts` (alerts whose evidence names it), and
//! `Indicators` (the indicators of this exact value, and the one that decides for it now,
//! which may be a covering network or parent domain).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use arrow::array::{Array, AsArray};
use arrow::datatypes::{Int64Type, TimestampNanosecondType};
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use vigil_intel::{IndicatorType, IntelSet};
use vigil_schema::{Col, Table};

use super::scope::Scope;
use super::{authenticate, bad, internal, rfc3339, ApiError, ApiResult};
use crate::{now_ms, Ctx};

/// Rows read for one entity at most.
const MAX_ROWS: usize = 1_000_000;
/// Devices listed at most.
const MAX_DEVICES: usize = 200;

pub(super) fn routes() -> Router<Arc<Ctx>> {
    Router::new()
        .route("/api/v1/files/{hash}", get(file))
        .route("/api/v1/ips/{ip}", get(ip))
        .route("/api/v1/domains/{name}", get(domain))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Range {
    days: Option<u32>,
}

fn since_ns(r: &Range) -> Result<i64, ApiError> {
    let days = r.days.unwrap_or(30);
    if days == 0 || days > 365 {
        return Err(bad("parameter days must be 1 to 365"));
    }
    Ok((now_ms() - i64::from(days) * 86_400_000) * 1_000_000)
}

fn sql_str(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn ts(ns: i64) -> String {
    format!("arrow_cast(CAST({ns} AS BIGINT), 'Timestamp(Nanosecond, Some(\"UTC\"))')")
}

/// Per device: events, first and last time (ns).
#[derive(Default)]
struct Prevalence {
    devices: BTreeMap<String, (u64, i64, i64)>,
    truncated: bool,
}

impl Prevalence {
    fn add(&mut self, device: &str, count: u64, first: i64, last: i64) {
        let e = self
            .devices
            .entry(device.to_string())
            .or_insert((0, i64::MAX, i64::MIN));
        e.0 += count;
        e.1 = e.1.min(first);
        e.2 = e.2.max(last);
    }

    /// The answer, with the name of each device listed.
    async fn json(&self, ctx: &Ctx) -> Result<Value, ApiError> {
        let events: u64 = self.devices.values().map(|d| d.0).sum();
        let first = self.devices.values().map(|d| d.1).min();
        let last = self.devices.values().map(|d| d.2).max();
        let mut by_last: Vec<(&String, &(u64, i64, i64))> = self.devices.iter().collect();
        by_last.sort_by_key(|d| std::cmp::Reverse(d.1 .2));
        by_last.truncate(MAX_DEVICES);
        let ids: Vec<&str> = by_last.iter().map(|d| d.0.as_str()).collect();
        let names = ctx.state.device_names(&ids).await.map_err(internal)?;
        Ok(json!({
            "Devices": self.devices.len(),
            "Events": events,
            "FirstSeen": first.map(|ns| rfc3339(ns / 1_000_000)),
            "LastSeen": last.map(|ns| rfc3339(ns / 1_000_000)),
            "Truncated": self.truncated,
            "ByDevice": by_last.iter().map(|(d, (n, f, l))| json!({
                "DeviceId": d, "DeviceName": names.get(*d), "Events": n,
                "FirstSeen": rfc3339(f / 1_000_000), "LastSeen": rfc3339(l / 1_000_000),
            })).collect::<Vec<_>>(),
        }))
    }
}

/// Count per device the rows of every agent table where `cond(table)` holds.
async fn prevalence(
    ctx: &Ctx,
    since: i64,
    cond: impl Fn(Table) -> Option<String>,
) -> Result<Prevalence, ApiError> {
    let mut p = Prevalence::default();
    for &table in Table::ALL.iter().filter(|t| t.written_by_agents()) {
        let Some(c) = cond(table) else { continue };
        let sql = format!(
            "SELECT \"DeviceId\", count(*) AS n, min(\"Timestamp\") AS f, max(\"Timestamp\") AS l \
             FROM \"{}\" WHERE \"Timestamp\" >= {} AND ({c}) GROUP BY \"DeviceId\"",
            table.name(),
            ts(since)
        );
        for b in ctx.store.sql(&sql).await.map_err(internal)? {
            let dev = b.column(0).as_string::<i32>();
            let n = b.column(1).as_primitive::<Int64Type>();
            let f = b.column(2).as_primitive::<TimestampNanosecondType>();
            let l = b.column(3).as_primitive::<TimestampNanosecondType>();
            for i in 0..b.num_rows() {
                if !dev.is_null(i) {
                    p.add(dev.value(i), n.value(i) as u64, f.value(i), l.value(i));
                }
            }
        }
    }
    Ok(p)
}

async fn alerts(ctx: &Ctx, scope: &Scope, needle: &str) -> Result<Vec<Value>, ApiError> {
    Ok(ctx
        .state
        .alerts_mentioning(needle, 100)
        .await
        .map_err(internal)?
        .iter()
        .filter(|a| scope.sees(&a.device_id))
        .map(super::alerts::alert_json)
        .collect())
}

/// The indicators of exactly this value, and the one deciding now.
async fn indicators(
    ctx: &Ctx,
    kind: IndicatorType,
    value: &str,
    decide: impl Fn(&IntelSet) -> Option<u64>,
) -> Result<Value, ApiError> {
    let now = now_ms();
    let exact = ctx
        .state
        .indicators_of_value(kind, value)
        .await
        .map_err(internal)?;
    let deciding = decide(&ctx.intel.current());
    let deciding = match deciding {
        Some(id) => ctx.state.indicator(id).await.ok(),
        None => None,
    };
    Ok(json!({
        "Matching": exact.iter().map(|r| super::intel::indicator_json(r, now)).collect::<Vec<_>>(),
        "Deciding": deciding.as_ref().map(|r| super::intel::indicator_json(r, now)),
    }))
}

/// A file's page: prevalence, names, alerts, indicators
#[utoipa::path(
    get,
    path = "/api/v1/files/{hash}",
    tag = "entities",
    params(
        ("hash" = String, Path, description = "a SHA-256, SHA-1 or MD5"),
        super::schemas::EntityRange,
    ),
    responses(
        (status = 200, description = "the file's page", body = super::schemas::EntityPage),
        (status = 400, response = super::schemas::BadRequest),
    )
)]
async fn file(
    State(ctx): State<Arc<Ctx>>,
    headers: HeaderMap,
    Path(hash): Path<String>,
    Query(range): Query<Range>,
    scope: Scope,
) -> ApiResult {
    authenticate(&ctx, &headers).await?;
    // Prevalence counts only the rows of devices in the principal's scope.
    vigil_store::with_device_scope(scope.devices(), async {
    let kind = match hash.len() {
        64 => IndicatorType::Sha256,
        40 => IndicatorType::Sha1,
        32 => IndicatorType::Md5,
        _ => {
            return Err(bad(format!(
                "{hash:?} is not a SHA-256, SHA-1 or MD5 (64, 40 or 32 hexadecimal digits)"
            )))
        }
    };
    let h = vigil_intel::normalize::normalize(kind, &hash).map_err(|e| bad(e.to_string()))?;
    let since = since_ns(&range)?;
    let (own, initiating) = match kind {
        IndicatorType::Sha256 => (Col::SHA256, Col::InitiatingProcessSHA256),
        IndicatorType::Sha1 => (Col::SHA1, Col::InitiatingProcessSHA1),
        _ => (Col::MD5, Col::InitiatingProcessMD5),
    };
    let cond = |t: Table| {
        let parts: Vec<String> = [own, initiating]
            .iter()
            .filter(|c| t.has(**c))
            .map(|c| format!("lower(\"{}\") = {}", c.name(), sql_str(&h)))
            .collect();
        (!parts.is_empty()).then(|| parts.join(" OR "))
    };
    let prev = prevalence(&ctx, since, cond).await?;
    // The names and folders the file was seen under.
    let mut names = BTreeSet::new();
    for (table, name, folder, col) in [
        (
            Table::DeviceProcessEvents,
            Col::FileName,
            Col::FolderPath,
            own,
        ),
        (Table::DeviceFileEvents, Col::FileName, Col::FolderPath, own),
        (
            Table::DeviceProcessEvents,
            Col::InitiatingProcessFileName,
            Col::InitiatingProcessFolderPath,
            initiating,
        ),
    ] {
        let sql = format!(
            "SELECT DISTINCT \"{}\", \"{}\" FROM \"{}\" WHERE \"Timestamp\" >= {} AND lower(\"{}\") = {} LIMIT 100",
            name.name(),
            folder.name(),
            table.name(),
            ts(since),
            col.name(),
            sql_str(&h)
        );
        for b in ctx.store.sql(&sql).await.map_err(internal)? {
            let n = b.column(0).as_string::<i32>();
            let f = b.column(1).as_string::<i32>();
            for i in 0..b.num_rows() {
                names.insert((n.value(i).to_string(), f.value(i).to_string()));
            }
        }
    }
    let ind = indicators(&ctx, kind, &h, |s| s.file_hash(&h).map(|x| x.indicator.id)).await?;
    Ok(Json(json!({
        "Type": "File",
        "Value": h,
        "HashType": kind.as_str(),
        "Prevalence": prev.json(&ctx).await?,
        "Names": names.iter().take(100).map(|(n, f)| json!({ "FileName": n, "FolderPath": f })).collect::<Vec<_>>(),
        "Alerts": alerts(&ctx, &scope, &h).await?,
        "Indicators": ind,
    })))
    })
    .await
}

/// An IP address's page: prevalence, alerts, indicators
#[utoipa::path(
    get,
    path = "/api/v1/ips/{ip}",
    tag = "entities",
    params(
        ("ip" = String, Path, description = "an IPv4 or IPv6 address"),
        super::schemas::EntityRange,
    ),
    responses(
        (status = 200, description = "the address's page", body = super::schemas::EntityPage),
        (status = 400, response = super::schemas::BadRequest),
    )
)]
async fn ip(
    State(ctx): State<Arc<Ctx>>,
    headers: HeaderMap,
    Path(raw): Path<String>,
    Query(range): Query<Range>,
    scope: Scope,
) -> ApiResult {
    authenticate(&ctx, &headers).await?;
    // Prevalence counts only the rows of devices in the principal's scope.
    vigil_store::with_device_scope(scope.devices(), async {
        let addr = vigil_intel::normalize::ip(&raw).map_err(|e| bad(e.to_string()))?;
        let text = addr.to_string();
        let since = since_ns(&range)?;
        let prev = prevalence(&ctx, since, |t| {
            t.has(Col::RemoteIP)
                .then(|| format!("\"RemoteIP\" = {}", sql_str(&text)))
        })
        .await?;
        let ind = indicators(&ctx, IndicatorType::Ip, &text, |s| {
            s.ip(addr).map(|x| x.indicator.id)
        })
        .await?;
        Ok(Json(json!({
            "Type": "Ip",
            "Value": text,
            "Prevalence": prev.json(&ctx).await?,
            "Alerts": alerts(&ctx, &scope, &text).await?,
            "Indicators": ind,
        })))
    })
    .await
}

/// A domain's page: prevalence, alerts, indicators
#[utoipa::path(
    get,
    path = "/api/v1/domains/{name}",
    tag = "entities",
    params(
        ("name" = String, Path, description = "a domain name"),
        super::schemas::EntityRange,
    ),
    responses(
        (status = 200, description = "the domain's page", body = super::schemas::EntityPage),
        (status = 400, response = super::schemas::BadRequest),
    )
)]
async fn domain(
    State(ctx): State<Arc<Ctx>>,
    headers: HeaderMap,
    Path(raw): Path<String>,
    Query(range): Query<Range>,
    scope: Scope,
) -> ApiResult {
    authenticate(&ctx, &headers).await?;
    // Prevalence counts only the rows of devices in the principal's scope.
    vigil_store::with_device_scope(scope.devices(), async {
    let name = vigil_intel::normalize::domain(&raw).map_err(|e| bad(e.to_string()))?;
    let since = since_ns(&range)?;
    // The host of each RemoteUrl must be the name or under it: the matcher decides, with the
    // name as its only indicator.
    let probe = IntelSet::new(vec![vigil_intel::Indicator::new(
        IndicatorType::Domain,
        &name,
    )
    .map_err(|e| bad(e.to_string()))?]);
    let mut prev = Prevalence::default();
    let mut read = 0usize;
    for &table in Table::ALL
        .iter()
        .filter(|t| t.written_by_agents() && t.has(Col::RemoteUrl))
    {
        let sql = format!(
            "SELECT \"DeviceId\", \"Timestamp\", \"RemoteUrl\" FROM \"{}\" WHERE \"Timestamp\" >= {} \
             AND lower(\"RemoteUrl\") LIKE {}",
            table.name(),
            ts(since),
            sql_str(&format!("%{name}%"))
        );
        let (batches, truncated) = ctx
            .store
            .sql_capped(&sql, MAX_ROWS.saturating_sub(read))
            .await
            .map_err(internal)?;
        prev.truncated |= truncated;
        for b in batches {
            read += b.num_rows();
            let dev = b.column(0).as_string::<i32>();
            let at = b.column(1).as_primitive::<TimestampNanosecondType>();
            let url = b.column(2).as_string::<i32>();
            for i in 0..b.num_rows() {
                if probe.remote(url.value(i)).is_some() {
                    let t = at.value(i);
                    prev.add(dev.value(i), 1, t, t);
                }
            }
        }
    }
    let ind = indicators(&ctx, IndicatorType::Domain, &name, |s| {
        s.domain(&name).map(|x| x.indicator.id)
    })
    .await?;
    Ok(Json(json!({
        "Type": "Domain",
        "Value": name,
        "Prevalence": prev.json(&ctx).await?,
        "Alerts": alerts(&ctx, &scope, &name).await?,
        "Indicators": ind,
    })))
    })
    .await
}
