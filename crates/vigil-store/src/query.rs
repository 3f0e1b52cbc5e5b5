//! SQL over the store: the in-memory view that queries read (hot batches and live Parquet
//! files per table), the DataFusion table provider over a snapshot of it, and the session.
//!
//! A query takes one snapshot when it starts ([`Shared::snapshot`]); every table it scans is
//! planned over that snapshot, which also keeps the snapshot's Parquet files from being
//! deleted by a compaction or retention run until the query is done. The provider prunes by
//! `Timestamp`: day partitions, files (by the min/max the manifest records) and hot batches
//! outside the bounds found in the filters are not scanned, and the filters go to the Parquet
//! reader, which prunes row groups by their statistics. The filters stay in the plan too
//! (pushdown is "inexact"), so pruning only ever saves work.

use std::any::Any;
use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use async_trait::async_trait;
use datafusion::catalog::Session;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{Column, DFSchema, ScalarValue, TableReference};
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::datasource::physical_plan::parquet::CachedParquetFileReaderFactory;
use datafusion::datasource::physical_plan::{FileGroup, FileScanConfigBuilder, ParquetSource};
use datafusion::datasource::source::DataSourceExec;
use datafusion::datasource::{TableProvider, TableType};
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::logical_expr::{utils::conjunction, BinaryExpr, Expr, Operator};
use datafusion::logical_expr::{Between, TableProviderFilterPushDown};
use datafusion::object_store::path::Path as ObjectPath;
use datafusion::physical_expr::expressions::{in_list, lit as lit_expr, Column as PhysColumn};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::empty::EmptyExec;
use datafusion::physical_plan::filter::FilterExec;
use datafusion::physical_plan::projection::ProjectionExec;
use datafusion::physical_plan::union::UnionExec;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::{SessionConfig, SessionContext};
use futures::StreamExt;
use vigil_schema::{arrow::arrow_schema, Col, Table};

use crate::hot::HotTable;
use crate::partition::{day_of, FileEntry};
use crate::StoreError;

/// The position of a table in [`Table::ALL`].
pub(crate) fn table_index(table: Table) -> usize {
    Table::ALL
        .iter()
        .position(|&t| t == table)
        .unwrap_or_default()
}

/// What queries read for one table.
#[derive(Debug, Default)]
pub(crate) struct TableView {
    pub hot: HotTable,
    /// Live Parquet files by day.
    pub files: BTreeMap<i64, Vec<Arc<FileEntry>>>,
}

/// What queries read, for every table in [`Table::ALL`] order.
#[derive(Debug)]
pub(crate) struct View {
    pub tables: Vec<TableView>,
}

impl View {
    pub fn new() -> View {
        View {
            tables: Table::ALL.iter().map(|_| TableView::default()).collect(),
        }
    }

    pub fn table(&self, table: Table) -> &TableView {
        &self.tables[table_index(table)]
    }

    pub fn table_mut(&mut self, table: Table) -> &mut TableView {
        &mut self.tables[table_index(table)]
    }

    /// Every live file.
    pub fn all_files(&self) -> impl Iterator<Item = &Arc<FileEntry>> {
        self.tables.iter().flat_map(|t| t.files.values().flatten())
    }
}

/// State shared by the store and its table providers.
#[derive(Debug)]
pub(crate) struct Shared {
    pub view: RwLock<View>,
    /// The highest WAL position known durable; hot batches at or below it are visible.
    pub durable: AtomicU64,
}

/// A hot batch as a query sees it.
#[derive(Debug, Clone)]
struct HotSnap {
    batch: RecordBatch,
    min_ts: i64,
    max_ts: i64,
}

/// One table of a snapshot.
#[derive(Debug, Default)]
struct TableSnap {
    hot: Vec<HotSnap>,
    files: Vec<Arc<FileEntry>>,
}

/// What one query reads: the durable hot batches and live files of every table.
#[derive(Debug)]
pub(crate) struct Snapshot {
    tables: Vec<TableSnap>,
}

impl Shared {
    pub fn snapshot(&self) -> Snapshot {
        let durable = self.durable.load(Ordering::Acquire);
        let view = crate::engine::read(&self.view);
        Snapshot {
            tables: view
                .tables
                .iter()
                .map(|t| TableSnap {
                    hot: t
                        .hot
                        .batches
                        .iter()
                        .filter(|b| b.lsn <= durable)
                        .map(|b| HotSnap {
                            batch: b.batch.clone(),
                            min_ts: b.min_ts,
                            max_ts: b.max_ts,
                        })
                        .collect(),
                    files: t.files.values().flatten().cloned().collect(),
                })
                .collect(),
        }
    }
}

tokio::task_local! {
    /// The snapshot of the query being planned on this task.
    static SNAPSHOT: Arc<Snapshot>;
    /// The devices queries planned on this task may read (see [`with_device_scope`]).
    static DEVICE_SCOPE: Arc<HashSet<String>>;
}

/// Run `f` with every query it plans limited to rows of `devices` (a principal limited to
/// device groups): a table with a `DeviceId` column is read through a filter on it, and a
/// table without one reads as empty. `None` runs `f` unlimited.
pub async fn with_device_scope<F: std::future::Future>(
    devices: Option<Arc<HashSet<String>>>,
    f: F,
) -> F::Output {
    match devices {
        Some(d) => DEVICE_SCOPE.scope(d, f).await,
        None => f.await,
    }
}

/// The session that runs queries, with one provider per table.
pub(crate) fn new_context(
    shared: &Arc<Shared>,
    memory_bytes: usize,
) -> Result<SessionContext, StoreError> {
    let mut config = SessionConfig::new().with_information_schema(true);
    // MDE names are CamelCase: keep unquoted identifiers as written.
    config.options_mut().sql_parser.enable_ident_normalization = false;
    // Compiled KQL nests one derived table per operator.
    config.options_mut().sql_parser.recursion_limit = 256;
    // Queries share one memory budget; one that needs more fails ("resources exhausted")
    // instead of taking the server's memory.
    let runtime = RuntimeEnvBuilder::new()
        .with_memory_limit(memory_bytes, 1.0)
        .build_arc()
        .map_err(|e| StoreError::Sql {
            query: String::new(),
            message: format!("cannot build the query runtime: {e}"),
        })?;
    let ctx = SessionContext::new_with_config_rt(config, runtime);
    crate::kql_fns::register(&ctx);
    for &table in Table::ALL {
        let provider = StoreTable {
            table,
            schema: arrow_schema(table),
            shared: Arc::clone(shared),
        };
        ctx.register_table(TableReference::bare(table.name()), Arc::new(provider))
            .map_err(|e| StoreError::Sql {
                query: String::new(),
                message: format!("cannot register table {}: {e}", table.name()),
            })?;
    }
    Ok(ctx)
}

/// Run `query` read-only over one snapshot of the store; with `max_rows`, stop after that
/// many rows and say whether more were left.
pub(crate) async fn run(
    ctx: &SessionContext,
    shared: &Shared,
    query: &str,
    max_rows: Option<usize>,
) -> Result<(Vec<RecordBatch>, bool), StoreError> {
    let snapshot = Arc::new(shared.snapshot());
    let options = datafusion::execution::context::SQLOptions::new()
        .with_allow_ddl(false)
        .with_allow_dml(false)
        .with_allow_statements(false);
    SNAPSHOT
        .scope(snapshot, async {
            let df = ctx
                .sql_with_options(query, options)
                .await
                .map_err(|e| sql_error(query, e))?;
            let Some(max) = max_rows else {
                let all = df.collect().await.map_err(|e| sql_error(query, e))?;
                return Ok((all, false));
            };
            let mut stream = df.execute_stream().await.map_err(|e| sql_error(query, e))?;
            let mut out = Vec::new();
            let mut rows = 0usize;
            while let Some(batch) = stream.next().await {
                let batch = batch.map_err(|e| sql_error(query, e))?;
                if rows + batch.num_rows() > max {
                    out.push(batch.slice(0, max - rows));
                    return Ok((out, true));
                }
                rows += batch.num_rows();
                out.push(batch);
            }
            Ok((out, false))
        })
        .await
}

/// Turn a DataFusion error into a store error: an unknown table says which.
fn sql_error(query: &str, e: DataFusionError) -> StoreError {
    let message = e.strip_backtrace();
    // DataFusion: "Error during planning: table 'datafusion.public.Foo' not found".
    if let Some(rest) = message.split("table '").nth(1) {
        if let Some(name) = rest.strip_suffix("' not found") {
            let name = name.rsplit('.').next().unwrap_or(name);
            return StoreError::UnknownTable {
                name: name.to_string(),
            };
        }
    }
    StoreError::Sql {
        query: query.to_string(),
        message,
    }
}

/// One MDE table: hot batches and Parquet files of a snapshot.
struct StoreTable {
    table: Table,
    schema: SchemaRef,
    shared: Arc<Shared>,
}

impl fmt::Debug for StoreTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreTable")
            .field("table", &self.table)
            .finish()
    }
}

/// Bounds on `Timestamp`: `[lo, hi)` in nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TsBounds {
    pub lo: i64,
    pub hi: i64,
}

impl TsBounds {
    const ALL: TsBounds = TsBounds {
        lo: i64::MIN,
        hi: i64::MAX,
    };

    fn overlaps(&self, min: i64, max: i64) -> bool {
        max >= self.lo && min < self.hi
    }
}

/// The nanoseconds of a timestamp literal.
fn ts_literal(expr: &Expr) -> Option<i64> {
    let Expr::Literal(value, _) = expr else {
        return None;
    };
    match value {
        ScalarValue::TimestampNanosecond(Some(v), _) => Some(*v),
        ScalarValue::TimestampMicrosecond(Some(v), _) => v.checked_mul(1_000),
        ScalarValue::TimestampMillisecond(Some(v), _) => v.checked_mul(1_000_000),
        ScalarValue::TimestampSecond(Some(v), _) => v.checked_mul(1_000_000_000),
        _ => None,
    }
}

fn is_ts_column(expr: &Expr) -> bool {
    matches!(expr, Expr::Column(c) if c.name == Col::Timestamp.name())
}

/// The `Timestamp` bounds implied by a conjunction of filters (anything not understood is
/// ignored, which only means less pruning).
pub(crate) fn ts_bounds(filters: &[Expr]) -> TsBounds {
    let mut b = TsBounds::ALL;
    for f in filters {
        match f {
            Expr::BinaryExpr(BinaryExpr { left, op, right }) => {
                let (op, v) = if is_ts_column(left) {
                    match ts_literal(right) {
                        Some(v) => (*op, v),
                        None => continue,
                    }
                } else if is_ts_column(right) {
                    match (ts_literal(left), op.swap()) {
                        (Some(v), Some(op)) => (op, v),
                        _ => continue,
                    }
                } else {
                    continue;
                };
                match op {
                    Operator::GtEq => b.lo = b.lo.max(v),
                    Operator::Gt => b.lo = b.lo.max(v.saturating_add(1)),
                    Operator::Lt => b.hi = b.hi.min(v),
                    Operator::LtEq => b.hi = b.hi.min(v.saturating_add(1)),
                    Operator::Eq => {
                        b.lo = b.lo.max(v);
                        b.hi = b.hi.min(v.saturating_add(1));
                    }
                    _ => {}
                }
            }
            Expr::Between(Between {
                expr,
                negated: false,
                low,
                high,
            }) if is_ts_column(expr) => {
                if let Some(v) = ts_literal(low) {
                    b.lo = b.lo.max(v);
                }
                if let Some(v) = ts_literal(high) {
                    b.hi = b.hi.min(v.saturating_add(1));
                }
            }
            _ => {}
        }
    }
    b
}

impl StoreTable {
    fn parquet_scan(
        &self,
        state: &dyn Session,
        files: Vec<&Arc<FileEntry>>,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        let url = ObjectStoreUrl::local_filesystem();
        let store = state.runtime_env().object_store(&url)?;
        let metadata_cache = state.runtime_env().cache_manager.get_file_metadata_cache();
        let mut source = ParquetSource::new(state.table_options().parquet.clone())
            .with_parquet_file_reader_factory(Arc::new(CachedParquetFileReaderFactory::new(
                store,
                metadata_cache,
            )));
        if let Some(predicate) = self.predicate(state, filters) {
            source = source.with_predicate(predicate);
        }
        // Spread the files over the target partitions, largest first.
        let n = state.config().target_partitions().max(1);
        let mut sorted = files;
        sorted.sort_by_key(|f| std::cmp::Reverse(f.bytes));
        let mut groups: Vec<(u64, Vec<PartitionedFile>)> = vec![(0, Vec::new()); n];
        for f in sorted {
            let Ok(location) = ObjectPath::from_filesystem_path(&f.path) else {
                return Err(DataFusionError::Execution(format!(
                    "parquet file path {} is not valid",
                    f.path.display()
                )));
            };
            let mut pf = PartitionedFile::new(String::new(), f.bytes);
            pf.object_meta.location = location;
            let g = groups
                .iter_mut()
                .min_by_key(|(bytes, _)| *bytes)
                .expect("at least one group");
            g.0 += f.bytes;
            g.1.push(pf);
        }
        let groups: Vec<FileGroup> = groups
            .into_iter()
            .filter(|(_, files)| !files.is_empty())
            .map(|(_, files)| FileGroup::new(files))
            .collect();
        let config = FileScanConfigBuilder::new(url, self.schema.clone(), Arc::new(source))
            .with_file_groups(groups)
            .with_projection_indices(projection.cloned())
            .with_limit(limit)
            .build();
        Ok(DataSourceExec::from_data_source(config))
    }

    /// The filters as one physical predicate over the table schema, for Parquet pruning.
    fn predicate(
        &self,
        state: &dyn Session,
        filters: &[Expr],
    ) -> Option<Arc<dyn datafusion::physical_plan::PhysicalExpr>> {
        let expr = conjunction(filters.to_vec())?;
        // Columns may be qualified with the table (or an alias); the file schema is not.
        let expr = expr
            .transform(|e| {
                Ok(match e {
                    Expr::Column(c) if c.relation.is_some() => {
                        Transformed::yes(Expr::Column(Column::new_unqualified(c.name)))
                    }
                    other => Transformed::no(other),
                })
            })
            .ok()?
            .data;
        let df_schema = DFSchema::try_from(self.schema.as_ref().clone()).ok()?;
        match state.create_physical_expr(expr, &df_schema) {
            Ok(p) => Some(p),
            Err(e) => {
                tracing::debug!(table = self.table.name(), "no parquet predicate: {e}");
                None
            }
        }
    }
}

#[async_trait]
impl TableProvider for StoreTable {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> DfResult<Vec<TableProviderFilterPushDown>> {
        Ok(vec![TableProviderFilterPushDown::Inexact; filters.len()])
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        match DEVICE_SCOPE.try_with(Arc::clone) {
            Ok(devices) => self.scan_scoped(state, projection, filters, &devices).await,
            Err(_) => self.scan_all(state, projection, filters, limit).await,
        }
    }
}

impl StoreTable {
    /// The scan limited to `devices`: filtered on `DeviceId` (read even when the query does
    /// not project it, then dropped), with no limit pushed below the filter.
    async fn scan_scoped(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        devices: &HashSet<String>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        let wanted: Vec<usize> = projection
            .cloned()
            .unwrap_or_else(|| (0..self.schema.fields().len()).collect());
        let Some(dev_col) = self.table.position(Col::DeviceId) else {
            return Ok(Arc::new(EmptyExec::new(Arc::new(
                self.schema.project(&wanted)?,
            ))));
        };
        let mut read = wanted.clone();
        if !read.contains(&dev_col) {
            read.push(dev_col);
        }
        let input = self.scan_all(state, Some(&read), filters, None).await?;
        let schema = input.schema();
        let at = read.iter().position(|&c| c == dev_col).unwrap_or(0);
        let mut ids: Vec<&String> = devices.iter().collect();
        ids.sort();
        let list = ids
            .into_iter()
            .map(|d| lit_expr(ScalarValue::Utf8(Some(d.clone()))))
            .collect();
        let predicate = in_list(
            Arc::new(PhysColumn::new(Col::DeviceId.name(), at)),
            list,
            &false,
            &schema,
        )?;
        let filtered: Arc<dyn ExecutionPlan> = Arc::new(FilterExec::try_new(predicate, input)?);
        if read.len() == wanted.len() {
            return Ok(filtered);
        }
        let exprs: Vec<(Arc<dyn PhysicalExpr>, String)> = (0..wanted.len())
            .map(|i| {
                let name = schema.field(i).name().clone();
                (
                    Arc::new(PhysColumn::new(&name, i)) as Arc<dyn PhysicalExpr>,
                    name,
                )
            })
            .collect();
        Ok(Arc::new(ProjectionExec::try_new(exprs, filtered)?))
    }

    async fn scan_all(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        let snapshot = SNAPSHOT
            .try_with(Arc::clone)
            .unwrap_or_else(|_| Arc::new(self.shared.snapshot()));
        let snap = &snapshot.tables[table_index(self.table)];
        let bounds = ts_bounds(filters);
        let (lo_day, hi_day) = (day_of(bounds.lo), day_of(bounds.hi.saturating_sub(1)));
        let files: Vec<&Arc<FileEntry>> = snap
            .files
            .iter()
            .filter(|f| f.day >= lo_day && f.day <= hi_day && bounds.overlaps(f.min_ts, f.max_ts))
            .collect();
        let hot: Vec<RecordBatch> = snap
            .hot
            .iter()
            .filter(|h| bounds.overlaps(h.min_ts, h.max_ts))
            .map(|h| h.batch.clone())
            .collect();

        let mut inputs: Vec<Arc<dyn ExecutionPlan>> = Vec::new();
        if !files.is_empty() {
            inputs.push(self.parquet_scan(state, files, projection, filters, limit)?);
        }
        if !hot.is_empty() {
            let n = state.config().target_partitions().clamp(1, hot.len());
            let mut partitions: Vec<Vec<RecordBatch>> = vec![Vec::new(); n];
            for (i, b) in hot.into_iter().enumerate() {
                partitions[i % n].push(b);
            }
            inputs.push(MemorySourceConfig::try_new_exec(
                &partitions,
                self.schema.clone(),
                projection.cloned(),
            )?);
        }
        match inputs.len() {
            0 => {
                let schema = match projection {
                    Some(p) => Arc::new(self.schema.project(p)?),
                    None => self.schema.clone(),
                };
                Ok(Arc::new(EmptyExec::new(schema)))
            }
            _ => UnionExec::try_new(inputs),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::logical_expr::{ident, lit};

    fn ts(v: i64) -> Expr {
        lit(ScalarValue::TimestampNanosecond(
            Some(v),
            Some("UTC".into()),
        ))
    }

    #[test]
    fn bounds_come_from_comparisons_on_timestamp() {
        let filters = vec![
            ident("Timestamp").gt_eq(ts(100)),
            ts(200).gt(ident("Timestamp")),
            ident("ActionType").eq(lit("ProcessCreated")),
        ];
        assert_eq!(ts_bounds(&filters), TsBounds { lo: 100, hi: 200 });
        let between = vec![ident("Timestamp").between(ts(5), ts(9))];
        assert_eq!(ts_bounds(&between), TsBounds { lo: 5, hi: 10 });
        let eq = vec![
            ident("Timestamp").eq(ts(7)),
            ident("Timestamp").lt_eq(ts(3)),
        ];
        assert_eq!(ts_bounds(&eq), TsBounds { lo: 7, hi: 4 });
        assert_eq!(ts_bounds(&[lit(true)]), TsBounds::ALL);
    }

    #[test]
    fn unknown_tables_are_named() {
        let e = DataFusionError::Plan("table 'datafusion.public.NoSuchTable' not found".into());
        match sql_error("SELECT 1", e) {
            StoreError::UnknownTable { name } => assert_eq!(name, "NoSuchTable"),
            other => panic!("{other}"),
        }
    }
}
