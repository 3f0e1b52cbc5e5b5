//! Test helpers: run SQL through a session with every `kql_*` function registered.

use arrow::array::{Array, RecordBatch};
use arrow::util::display::array_value_to_string;
use datafusion::execution::context::SessionContext;

/// Run `sql` in a fresh session; the error is DataFusion's message.
pub(crate) fn run(sql: &str) -> Result<Vec<RecordBatch>, String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(async {
        let ctx = SessionContext::new();
        crate::kql_fns::register(&ctx);
        let df = ctx.sql(sql).await.map_err(|e| e.to_string())?;
        df.collect().await.map_err(|e| e.to_string())
    })
}

/// The first column of `sql`'s result as text, `NULL` for nulls.
pub(crate) fn column(sql: &str) -> Vec<String> {
    let batches = run(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    let mut out = Vec::new();
    for b in &batches {
        let c = b.column(0);
        for i in 0..c.len() {
            out.push(if c.is_null(i) {
                "NULL".to_string()
            } else {
                array_value_to_string(c, i).unwrap_or_else(|e| panic!("{sql}: {e}"))
            });
        }
    }
    out
}

/// The value of the expression `expr`, as text.
pub(crate) fn eval(expr: &str) -> String {
    let sql = format!("SELECT {expr}");
    let mut v = column(&sql);
    assert_eq!(v.len(), 1, "{sql}: {v:?}");
    v.remove(0)
}

/// The error of evaluating `expr`.
pub(crate) fn eval_err(expr: &str) -> String {
    match run(&format!("SELECT {expr}")) {
        Ok(b) => panic!("{expr}: expected an error, got {b:?}"),
        Err(e) => e,
    }
}
