//! Advanced hunting: a KQL query compiled by `vigil-kql` to DataFusion SQL and run on the
//! telemetry store with MDE's limits (row cap with a truncation flag, timeout, the store's
//! query memory budget, a default time range of 30 days).

use std::time::{Duration, Instant};

use arrow::array::RecordBatch;
use vigil_kql::plan::Field;
use vigil_kql::sql::Dialect;
use vigil_kql::{DiagKind, Diagnostic};
use vigil_store::{Store, StoreError};

/// Rows a query returns to the console, and through the API.
pub const CONSOLE_MAX_ROWS: usize = 30_000;
pub const API_MAX_ROWS: usize = 100_000;

/// How a hunting query is bounded.
#[derive(Debug, Clone, Copy)]
pub struct HuntLimits {
    pub max_rows: usize,
    pub timeout: Duration,
    /// Stored tables are read from this long ago on; `None` reads everything.
    pub lookback: Option<Duration>,
}

impl Default for HuntLimits {
    /// 100,000 rows, 10 minutes, 30 days.
    fn default() -> Self {
        HuntLimits {
            max_rows: API_MAX_ROWS,
            timeout: Duration::from_secs(600),
            lookback: Some(Duration::from_secs(30 * 86_400)),
        }
    }
}

/// A query's answer.
#[derive(Debug)]
pub struct HuntResult {
    pub columns: Vec<Field>,
    pub batches: Vec<RecordBatch>,
    /// More rows matched than `max_rows`.
    pub truncated: bool,
    /// The `render` chart kind, a hint for the client.
    pub chart: Option<String>,
    /// The SQL that ran.
    pub sql: String,
    pub elapsed: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum HuntError {
    /// The query is not valid KQL for Vigil's tables, or uses what Vigil cannot run.
    #[error("{}", .0.first().map_or("invalid query".to_string(), |d| d.message.clone()))]
    Invalid(Vec<Diagnostic>),
    #[error("the query did not finish within {0:?} (narrow the time range or add filters)")]
    Timeout(Duration),
    #[error("{0}")]
    Store(#[from] StoreError),
}

impl HuntError {
    /// Whether every problem is something Vigil does not support (rather than a mistake).
    pub fn is_unsupported(&self) -> bool {
        matches!(self, HuntError::Invalid(d) if !d.is_empty() && d.iter().all(|d| d.kind == DiagKind::NotSupported))
    }
}

fn options(now_ns: i64, limits: &HuntLimits) -> vigil_kql::Options {
    vigil_kql::Options {
        now_ns,
        lookback_ns: limits
            .lookback
            .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)),
        ..Default::default()
    }
}

/// Compile `query` against the schema without running it (data-dependent plugins such as
/// `evaluate bag_unpack` come back with their discoveries pending: see [`plan`]).
pub fn compile(
    query: &str,
    now_ns: i64,
    limits: &HuntLimits,
) -> Result<vigil_kql::Compiled, HuntError> {
    vigil_kql::compile(query, &options(now_ns, limits), Dialect::DataFusion)
        .map_err(HuntError::Invalid)
}

/// Compile `query`, running on `store` the discoveries its data-dependent plugins need.
pub async fn plan(
    store: &Store,
    query: &str,
    now_ns: i64,
    limits: &HuntLimits,
) -> Result<vigil_kql::Compiled, HuntError> {
    let mut opts = options(now_ns, limits);
    // Each round settles at least one plugin; nested plugins need a round each.
    for _ in 0..8 {
        let compiled =
            vigil_kql::compile(query, &opts, Dialect::DataFusion).map_err(HuntError::Invalid)?;
        if compiled.discover.is_empty() {
            return Ok(compiled);
        }
        for d in compiled.discover {
            let (batches, _) = store
                .sql_capped(&d.sql, vigil_kql::MAX_DISCOVERED + 1)
                .await?;
            // Sorted, so that the columns come in the same order every time.
            let mut keys: Vec<String> = vigil_store::batches_to_json_rows(&batches)
                .into_iter()
                .filter_map(|row| row.into_iter().next().map(|(_, v)| v))
                .map(|v| match v {
                    serde_json::Value::String(s) => s,
                    other => other.to_string(),
                })
                .collect();
            keys.sort();
            opts.discovered.insert(d.at, keys);
        }
    }
    Err(HuntError::Invalid(vec![vigil_kql::Diagnostic::error(
        vigil_kql::DiagKind::NotSupported,
        vigil_kql::Span::default(),
        "the query nests too many data-dependent plugins (evaluate bag_unpack, pivot)",
    )]))
}

/// Compile and run `query` on `store`.
pub async fn hunt(
    store: &Store,
    query: &str,
    now_ns: i64,
    limits: &HuntLimits,
) -> Result<HuntResult, HuntError> {
    let started = Instant::now();
    let compiled = plan(store, query, now_ns, limits).await?;
    let run = store.sql_capped(&compiled.sql, limits.max_rows);
    let (batches, truncated) = tokio::time::timeout(limits.timeout, run)
        .await
        .map_err(|_| HuntError::Timeout(limits.timeout))??;
    Ok(HuntResult {
        columns: compiled.fields,
        batches,
        truncated,
        chart: compiled.chart,
        sql: compiled.sql,
        elapsed: started.elapsed(),
    })
}
