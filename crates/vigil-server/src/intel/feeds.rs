//! Feeds: indicators fetched on a schedule.
//!
//! A file feed (STIX bundle, MISP event, CSV, an abuse.ch export) is fetched whole and read
//! with `vigil_intel::import`; what it brings replaces what it brought last time (same
//! provenance source, the feed's name). A TAXII 2.1 feed polls one collection's objects
//! with the `added_after` cursor the server returned last time, page by page (`next`), and
//! adds what is new. Either way the warning lists apply and the change is one transaction:
//! a refresh that fails (network, a broken record) changes nothing and is recorded as the
//! feed's last status with the error.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use tokio::sync::watch;
use vigil_intel::import::{self, Format, ImportOptions, Imported};
use vigil_state::{Feed, FeedRun};

use super::StoreReport;
use crate::{now_ms, Ctx};

/// The largest feed document read.
pub const MAX_FEED_BYTES: u64 = 512 << 20;
/// How often due feeds are looked for.
const TICK: Duration = Duration::from_secs(15);
/// One HTTP request's time limit.
const HTTP_TIMEOUT: Duration = Duration::from_secs(120);
/// Objects asked for per TAXII page (servers may send fewer).
const TAXII_PAGE: u32 = 1000;
/// TAXII pages read in one refresh at most.
const MAX_TAXII_PAGES: usize = 10_000;

/// Refresh due feeds until `stop`.
pub async fn run(ctx: Arc<Ctx>, mut stop: watch::Receiver<bool>) {
    loop {
        if let Ok(feeds) = ctx.state.feeds().await {
            let now = now_ms();
            for feed in feeds
                .into_iter()
                .filter(|f| f.enabled && f.last_run_ms.is_none_or(|t| now - t >= f.interval_ms))
            {
                let _ = refresh(&ctx, &feed).await;
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(TICK) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

/// Refresh one feed now and record the outcome.
pub async fn refresh(ctx: &Ctx, feed: &Feed) -> Result<StoreReport, String> {
    let result = fetch_and_store(ctx, feed).await;
    let run = match &result {
        Ok(r) => FeedRun::Ok {
            count: r.read as i64,
            cursor: r.cursor.clone(),
        },
        Err(e) => FeedRun::Error(e.clone()),
    };
    match &result {
        Ok(r) => {
            tracing::info!(feed = %feed.name, read = r.read, added = r.summary.added, removed = r.summary.removed, "feed refreshed")
        }
        Err(e) => tracing::warn!(feed = %feed.name, "feed refresh failed: {e}"),
    }
    if let Err(e) = ctx.state.record_feed_run(&feed.id, &run, now_ms()).await {
        tracing::warn!(feed = %feed.name, "cannot record the feed's refresh: {e}");
    }
    result
}

fn options(feed: &Feed) -> Result<ImportOptions, String> {
    let now = now_ms();
    Ok(ImportOptions {
        source: feed.name.clone(),
        action: feed.action.parse().map_err(|e| format!("{e}"))?,
        severity: feed.severity.parse().map_err(|e| format!("{e}"))?,
        generate_alert: feed.generate_alert,
        expires_ms: feed.expire_after_ms.map(|e| now + e),
        now_ms: now,
    })
}

async fn fetch_and_store(ctx: &Ctx, feed: &Feed) -> Result<StoreReport, String> {
    let opts = options(feed)?;
    if feed.format == "taxii" {
        return taxii(ctx, feed, &opts).await;
    }
    let format: Format = feed.format.parse().map_err(|e| format!("{e}"))?;
    let f = feed.clone();
    let body = tokio::task::spawn_blocking(move || get(&f, &f.url, None))
        .await
        .map_err(|e| e.to_string())??;
    let imported = import::import(format, &body.bytes, &opts).map_err(|e| e.to_string())?;
    super::store_imported(
        ctx,
        &feed.name,
        imported,
        true,
        &format!("feed:{}", feed.name),
    )
    .await
}

/// What an HTTP GET brought.
struct Body {
    bytes: Vec<u8>,
    /// TAXII's `X-TAXII-Date-Added-Last` header.
    date_added_last: Option<String>,
}

/// GET `url` with the feed's credentials: basic auth when it has a user name and a secret,
/// or an API-key header named by `username` when the name ends with ':' (`Auth-Key:`).
fn get(feed: &Feed, url: &str, accept: Option<&str>) -> Result<Body, String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(HTTP_TIMEOUT))
        .build()
        .into();
    let mut req = agent.get(url);
    if let Some(a) = accept {
        req = req.header("Accept", a);
    }
    match (&feed.username, &feed.secret) {
        (Some(header), Some(key)) if header.ends_with(':') => {
            req = req.header(header.trim_end_matches(':'), key);
        }
        (Some(user), Some(pass)) => {
            let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
            req = req.header("Authorization", format!("Basic {token}"));
        }
        _ => {}
    }
    let mut resp = req.call().map_err(|e| format!("cannot fetch {url}: {e}"))?;
    let status = resp.status().as_u16();
    let date_added_last = resp
        .headers()
        .get("X-TAXII-Date-Added-Last")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let bytes = resp
        .body_mut()
        .with_config()
        .limit(MAX_FEED_BYTES)
        .read_to_vec()
        .map_err(|e| format!("cannot read {url}: {e}"))?;
    if !(200..300).contains(&status) {
        let head = String::from_utf8_lossy(&bytes[..bytes.len().min(200)]).to_string();
        return Err(format!("{url} answered HTTP {status}: {head}"));
    }
    Ok(Body {
        bytes,
        date_added_last,
    })
}

/// Poll a TAXII 2.1 collection from the feed's cursor.
async fn taxii(ctx: &Ctx, feed: &Feed, opts: &ImportOptions) -> Result<StoreReport, String> {
    use import::taxii as t;
    let f = feed.clone();
    let pages =
        tokio::task::spawn_blocking(move || -> Result<(Vec<Vec<u8>>, Option<String>), String> {
            let root = t::api_root_url(&f.url);
            let collections = get(&f, &t::collections_url(&root), Some(t::MEDIA_TYPE))?;
            let list = t::parse_collections(&collections.bytes).map_err(|e| e.to_string())?;
            let wanted = f.collection.as_deref().unwrap_or("");
            let coll = list
                .iter()
                .find(|c| c.id == wanted || c.title == wanted)
                .ok_or_else(|| {
                    format!("the TAXII server has no collection {wanted:?} under {root}")
                })?;
            if !coll.can_read {
                return Err(format!(
                    "TAXII collection {wanted:?} cannot be read with these credentials"
                ));
            }
            let mut pages = Vec::new();
            let mut cursor = f.cursor.clone();
            let mut next: Option<String> = None;
            for _ in 0..MAX_TAXII_PAGES {
                // A page size is always asked for (some servers page only then).
                let url = t::objects_url(
                    &root,
                    &coll.id,
                    f.cursor.as_deref(),
                    next.as_deref(),
                    Some(TAXII_PAGE),
                );
                let page = get(&f, &url, Some(t::MEDIA_TYPE))?;
                let envelope = t::parse_envelope(&page.bytes).map_err(|e| e.to_string())?;
                if let Some(last) = page.date_added_last {
                    cursor = Some(last);
                }
                pages.push(page.bytes);
                match (envelope.more, envelope.next) {
                    (true, Some(n)) => next = Some(n),
                    _ => break,
                }
            }
            Ok((pages, cursor))
        })
        .await
        .map_err(|e| e.to_string())??;
    let (pages, cursor) = pages;
    let mut all = Imported::default();
    for p in &pages {
        let got = import::import(Format::Taxii, p, opts).map_err(|e| e.to_string())?;
        all.indicators.extend(got.indicators);
        all.skipped.extend(got.skipped);
    }
    let mut report =
        super::store_imported(ctx, &feed.name, all, false, &format!("feed:{}", feed.name)).await?;
    report.cursor = cursor;
    Ok(report)
}
