//! KQL's functions that SQL lacks, as DataFusion functions (`kql_*`), registered in every
//! query session. `vigil-kql` emits SQL that calls them; this is the contract between the two.
//!
//! How KQL values are carried in Arrow:
//! - `string`: `Utf8`. KQL strings are never null: a null string input is read as `""`
//!   (`kql_str(col)` is how a scan reads a stored string column).
//! - `long` `Int64`, `int` `Int32`, `real` `Float64`, `bool` `Boolean`.
//! - `datetime`: `Timestamp(Nanosecond, "UTC")`; `timespan`: `Int64` nanoseconds.
//! - `dynamic`: `Utf8` holding compact JSON text (serde_json's serialization); SQL null is KQL's
//!   null dynamic. A function that takes "json" takes such text; `kql_to_json` makes it from
//!   any other value.
//!
//! Every function accepts arrays or scalars in any argument position; where an argument is a
//! pattern (regex, term, format) and is a scalar, it is compiled once per batch, not per row.
//! Bad patterns are a planning/execution error naming the pattern, never a panic.
//!
//! Files: `strings/` (`terms.rs` term and case-insensitive matching, `regex_fns.rs`,
//! `text.rs` substrings, splitting, encodings and hashes, `parse.rs` URLs, paths and command
//! lines, `ip.rs`), `dynamic/` (JSON values, `mv-expand` elements, arrays and bags), `time/`
//! (bins, calendar arithmetic, parsing and formats), `aggregate.rs` (aggregations returning
//! dynamic), `series.rs` (the dense arrays of `make-series`).

use datafusion::execution::context::SessionContext;

mod aggregate;
mod dynamic;
mod series;
mod strings;
mod time;

/// Register every `kql_*` function in `ctx`.
pub(crate) fn register(ctx: &SessionContext) {
    strings::register(ctx);
    dynamic::register(ctx);
    time::register(ctx);
    aggregate::register(ctx);
    ctx.register_udf(datafusion::logical_expr::ScalarUDF::new_from_impl(
        series::SeriesFill::new(),
    ));
}
