//! Retro-hunts: when indicators are added (or stop being allowed), the stored telemetry of the
//! last `intel.retrohunt_days` days is searched for their values, so that what happened before
//! the team knew becomes alerts too.
//!
//! A hunt reads, day by day and table by table, only the columns matching looks at (plus the
//! keys of the row); for a few indicators the query also carries a prefilter built from
//! their values (`IN` lists, `LIKE` on the host), so a single new indicator does not read a
//! month of telemetry. Rows that match are then read whole and become alerts like streaming
//! hits (grouped with them by rule, device and value). A hunt raises at most
//! [`MAX_HITS_PER_HUNT`] hits; more are counted and logged.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Int64Type, TimestampNanosecondType};
use tokio::sync::{mpsc, watch};
use vigil_intel::{Action, Indicator, IndicatorType, IntelSet};
use vigil_schema::{Col, Table};
use vigil_state::NewHit;

use super::matching::{self, IntelHit, RowText, HASH_COLS, REMOTE_COLS};
use crate::alert_tables::AlertTables;
use crate::detect::ArrowEvent;
use crate::{now_ms, Ctx};

/// The most hits one retro-hunt turns into alerts.
pub const MAX_HITS_PER_HUNT: usize = 1000;
/// Up to this many indicators, the query carries a prefilter built from their values.
const PREFILTER_MAX: usize = 500;
const DAY_NS: i64 = 86_400_000_000_000;

/// Run retro-hunts for the ids that arrive, until `stop`.
pub async fn run(
    ctx: Arc<Ctx>,
    mut rx: mpsc::UnboundedReceiver<Vec<u64>>,
    mut stop: watch::Receiver<bool>,
) {
    let mut tables = AlertTables::new(ctx.store.clone(), "retrohunt");
    loop {
        let ids = tokio::select! {
            ids = rx.recv() => match ids { Some(ids) => ids, None => return },
            _ = stop.wait_for(|s| *s) => return,
        };
        // Hunts queued while one ran are done together.
        let mut all = ids;
        while let Ok(more) = rx.try_recv() {
            all.extend(more);
        }
        if ctx.cfg.intel.retrohunt_days == 0 {
            continue;
        }
        match hunt(&ctx, &mut tables, &all).await {
            Ok(n) => tracing::info!(indicators = all.len(), hits = n, "retro-hunt done"),
            Err(e) => tracing::warn!(indicators = all.len(), "retro-hunt failed: {e}"),
        }
    }
}

/// The indicators to hunt for: live, not `Allow`, raising alerts.
async fn load(ctx: &Ctx, ids: &[u64]) -> Vec<Indicator> {
    let now = now_ms();
    let mut out = Vec::new();
    for &id in ids {
        if let Ok(rec) = ctx.state.indicator(id).await {
            let i = rec.indicator;
            if i.is_live(now) && i.action != Action::Allow && i.generate_alert {
                out.push(i);
            }
        }
    }
    out
}

/// One projected row: the columns of a retro-hunt query, by name.
struct Projected<'a> {
    batch: &'a RecordBatch,
    row: usize,
    cols: &'a [(Col, usize)],
}

impl RowText for Projected<'_> {
    fn text(&self, col: Col) -> Option<&str> {
        let &(_, i) = self.cols.iter().find(|(c, _)| *c == col)?;
        let a = self.batch.column(i);
        if a.is_null(self.row) || a.data_type() != &DataType::Utf8 {
            return None;
        }
        Some(a.as_string::<i32>().value(self.row)).filter(|s| !s.is_empty())
    }
}

fn sql_str(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn ts(ns: i64) -> String {
    format!("arrow_cast(CAST({ns} AS BIGINT), 'Timestamp(Nanosecond, Some(\"UTC\"))')")
}

/// A WHERE condition that keeps every row the indicators can match (and few others), or
/// `None` when there are too many indicators to list.
fn prefilter(table: Table, inds: &[Indicator]) -> Option<String> {
    if inds.len() > PREFILTER_MAX {
        return None;
    }
    let mut ors: Vec<String> = Vec::new();
    let hashes: Vec<String> = inds
        .iter()
        .filter(|i| i.kind.is_file_hash())
        .map(|i| sql_str(&i.value))
        .collect();
    if !hashes.is_empty() {
        for c in HASH_COLS.iter().filter(|c| table.has(**c)) {
            ors.push(format!("lower(\"{}\") IN ({})", c.name(), hashes.join(",")));
        }
    }
    if table.has(Col::RemoteIP) {
        for i in inds {
            match i.kind {
                IndicatorType::Ip => ors.push(format!("\"RemoteIP\" = {}", sql_str(&i.value))),
                IndicatorType::Cidr => {
                    // The network's whole leading groups as a text prefix; the exact test is
                    // the matcher's.
                    let (addr, len) = i.value.split_once('/').unwrap_or((&i.value, "0"));
                    let len: usize = len.parse().unwrap_or(0);
                    let prefix = if addr.contains(':') {
                        String::new()
                    } else {
                        let groups: Vec<&str> = addr.split('.').take(len / 8).collect();
                        if groups.is_empty() {
                            String::new()
                        } else {
                            format!("{}.", groups.join("."))
                        }
                    };
                    ors.push(format!(
                        "\"RemoteIP\" LIKE {}",
                        sql_str(&format!("{}%", prefix.replace('%', "\\%")))
                    ));
                }
                _ => {}
            }
        }
    }
    for c in REMOTE_COLS.iter().filter(|c| table.has(**c)) {
        for i in inds {
            let host = match i.kind {
                IndicatorType::Domain => i.value.clone(),
                IndicatorType::Url => vigil_intel::normalize::url_host(&i.value).to_string(),
                IndicatorType::Ip => i.value.clone(),
                _ => continue,
            };
            ors.push(format!(
                "lower(\"{}\") LIKE {}",
                c.name(),
                sql_str(&format!("%{}%", host.replace('%', "\\%")))
            ));
        }
    }
    Some(if ors.is_empty() {
        "false".to_string()
    } else {
        format!("({})", ors.join(" OR "))
    })
}

/// The columns matching reads in `table`.
fn match_cols(table: Table) -> Vec<Col> {
    HASH_COLS
        .iter()
        .chain([Col::RemoteIP].iter())
        .chain(REMOTE_COLS.iter())
        .copied()
        .filter(|c| table.has(*c))
        .collect()
}

async fn hunt(ctx: &Ctx, tables: &mut AlertTables, ids: &[u64]) -> Result<usize, String> {
    let inds = load(ctx, ids).await;
    if inds.is_empty() {
        return Ok(0);
    }
    let set = IntelSet::new(inds.clone());
    let days = i64::from(ctx.cfg.intel.retrohunt_days);
    let now_ns = now_ms() * 1_000_000;
    let mut found: Vec<(Table, String, Option<i64>, i64, IntelHit)> = Vec::new();
    let mut overflow = 0usize;
    let mut hits = Vec::new();
    for &table in Table::ALL {
        if !table.written_by_agents() {
            continue;
        }
        let cols = match_cols(table);
        if cols.is_empty() {
            continue;
        }
        let filter = prefilter(table, &inds).unwrap_or_else(|| "true".into());
        if filter == "false" {
            continue;
        }
        let select: Vec<String> = ["DeviceId", "ReportId", "Timestamp"]
            .iter()
            .map(|c| format!("\"{c}\""))
            .chain(cols.iter().map(|c| format!("\"{}\"", c.name())))
            .collect();
        let mut end = now_ns + 60_000_000_000;
        for _ in 0..days {
            let start = end - DAY_NS;
            let sql = format!(
                "SELECT {} FROM \"{}\" WHERE \"Timestamp\" >= {} AND \"Timestamp\" < {} AND {filter}",
                select.join(", "),
                table.name(),
                ts(start),
                ts(end)
            );
            end = start;
            let batches = ctx.store.sql(&sql).await.map_err(|e| e.to_string())?;
            for b in &batches {
                let idx: Vec<(Col, usize)> = b
                    .schema()
                    .fields()
                    .iter()
                    .enumerate()
                    .filter_map(|(i, f)| Some((Col::from_name(f.name())?, i)))
                    .collect();
                for row in 0..b.num_rows() {
                    let p = Projected {
                        batch: b,
                        row,
                        cols: &idx,
                    };
                    matching::row_hits(&set, &p, None, &mut hits);
                    for h in hits.drain(..) {
                        if found.len() >= MAX_HITS_PER_HUNT {
                            overflow += 1;
                            continue;
                        }
                        let device = p.text(Col::DeviceId).unwrap_or("").to_string();
                        let report = int_cell(b, &idx, Col::ReportId, row);
                        let at = int_cell(b, &idx, Col::Timestamp, row).unwrap_or(0);
                        found.push((table, device, report, at, h));
                    }
                }
            }
        }
    }
    if overflow > 0 {
        tracing::warn!(
            left_out = overflow,
            "retro-hunt found more than {MAX_HITS_PER_HUNT} rows; the rest raise no alert"
        );
    }
    ctx.metrics
        .intel_retro_hits
        .fetch_add((found.len() + overflow) as u64, Ordering::Relaxed);
    let mut new_hits: Vec<NewHit> = Vec::new();
    let mut by_key: HashMap<String, usize> = HashMap::new();
    for (table, device, report, at, h) in &found {
        // The whole row, for the alert's evidence.
        let report = match report {
            Some(r) => format!("= {r}"),
            None => "IS NULL".to_string(),
        };
        let sql = format!(
            "SELECT * FROM \"{}\" WHERE \"DeviceId\" = {} AND \"ReportId\" {report} AND \"Timestamp\" = {} LIMIT 1",
            table.name(),
            sql_str(device),
            ts(*at)
        );
        let batches = ctx.store.sql(&sql).await.map_err(|e| e.to_string())?;
        let Some(b) = batches.iter().find(|b| b.num_rows() > 0) else {
            continue;
        };
        let ev = ArrowEvent::new(*table, b, 0);
        let Some(ind) = set.get(h.index) else {
            continue;
        };
        let Some(mut hit) = matching::alert_hit(ind, h, device, &ev) else {
            continue;
        };
        hit.evidence_json = hit.evidence_json.replacen(
            "\"entity\":\"Indicator\"",
            "\"entity\":\"Indicator\",\"FoundBy\":\"RetroHunt\"",
            1,
        );
        match by_key.get(&hit.group_key) {
            Some(&i) => {
                let e = &mut new_hits[i];
                e.count += 1;
                e.at_ms = e.at_ms.min(hit.at_ms);
                e.last_ms = e.last_ms.max(hit.last_ms);
            }
            None => {
                by_key.insert(hit.group_key.clone(), new_hits.len());
                new_hits.push(hit);
            }
        }
    }
    if new_hits.is_empty() {
        return Ok(found.len());
    }
    let recorded = ctx
        .state
        .record_hits(&new_hits, crate::detect::GROUP_WINDOW_MS, now_ms())
        .await
        .map_err(|e| e.to_string())?;
    let created: Vec<(&str, &NewHit)> = recorded
        .iter()
        .zip(&new_hits)
        .filter(|(r, _)| r.created)
        .filter_map(|(r, h)| Some((r.alert_id.as_deref()?, h)))
        .collect();
    tables.record_in_async(&created);
    Ok(found.len())
}

/// An integer or time cell (`None` when null or absent).
fn int_cell(b: &RecordBatch, idx: &[(Col, usize)], col: Col, row: usize) -> Option<i64> {
    let &(_, i) = idx.iter().find(|(c, _)| *c == col)?;
    let a = b.column(i);
    if a.is_null(row) {
        return None;
    }
    match a.data_type() {
        DataType::Int64 => Some(a.as_primitive::<Int64Type>().value(row)),
        DataType::Timestamp(..) => Some(a.as_primitive::<TimestampNanosecondType>().value(row)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ind(kind: IndicatorType, v: &str) -> Indicator {
        Indicator::new(kind, v).unwrap().with_action(Action::Block)
    }

    #[test]
    fn prefilters_name_the_values() {
        let inds = vec![
            ind(IndicatorType::Sha256, &"AB".repeat(32)),
            ind(IndicatorType::Cidr, "10.20.0.0/16"),
            ind(IndicatorType::Domain, "evil.example"),
        ];
        let f = prefilter(Table::DeviceNetworkEvents, &inds).unwrap();
        assert!(
            f.contains(&format!(
                "lower(\"InitiatingProcessSHA256\") IN ('{}')",
                "ab".repeat(32)
            )),
            "{f}"
        );
        assert!(f.contains("\"RemoteIP\" LIKE '10.20.%'"), "{f}");
        assert!(
            f.contains("lower(\"RemoteUrl\") LIKE '%evil.example%'"),
            "{f}"
        );
        // A table without the columns: nothing to read.
        let f = prefilter(Table::DeviceLogonEvents, &inds[2..]).unwrap();
        assert_eq!(f, "false");
        // Too many to list: a full read of the projected columns.
        let many: Vec<Indicator> = (0..=PREFILTER_MAX)
            .map(|i| ind(IndicatorType::Ip, &format!("10.0.{}.{}", i / 250, i % 250)))
            .collect();
        assert!(prefilter(Table::DeviceNetworkEvents, &many).is_none());
    }
}
