//! Wire shapes of advanced hunting and saved queries (`api/hunt.rs`).

#![allow(dead_code, non_snake_case)]

use utoipa::ToSchema;

use super::Object;

/// `POST /api/v1/hunt`.
#[derive(ToSchema)]
pub(crate) struct HuntRequest {
    /// The KQL query.
    query: String,
    /// Rows answered at most, 1 to 100000 (the default).
    #[schema(minimum = 1, maximum = 100000)]
    max_rows: Option<i64>,
}

/// A query's result.
#[derive(ToSchema)]
pub(crate) struct HuntResult {
    columns: Vec<HuntColumn>,
    /// One object per row, keyed by column name; `dynamic` values as JSON.
    rows: Vec<Object>,
    /// More rows matched than `max_rows`.
    truncated: bool,
    /// The chart kind of the query's `render` operator, if any (a hint for the client).
    chart: Option<String>,
    elapsed_ms: u64,
}

/// A result column.
#[derive(ToSchema)]
pub(crate) struct HuntColumn {
    name: String,
    /// The KQL type (`string`, `long`, `datetime`, `dynamic`...).
    r#type: String,
}

/// A query that does not parse or check: every problem at once (`application/json`, not a
/// problem document, so that the editor can mark each span).
#[derive(ToSchema)]
pub(crate) struct QueryRejected {
    /// The first problem.
    error: String,
    diagnostics: Vec<Diagnostic>,
}

/// A problem in a query, with its span.
#[derive(ToSchema)]
pub(crate) struct Diagnostic {
    /// `syntax`, `unknown_name`, `type`, or `not_supported` (valid KQL Vigil cannot run).
    kind: String,
    message: String,
    /// Byte offsets of the span.
    start: u32,
    end: u32,
    /// 1-based line and column of the start.
    line: u32,
    column: u32,
    /// The message with the query line and a caret, as the CLI prints it.
    rendered: String,
}

/// A saved query.
#[derive(ToSchema)]
pub(crate) struct SavedQuery {
    id: String,
    name: String,
    query: String,
    description: String,
    owner: String,
    /// Visible to every principal that may hunt, not only its owner.
    shared: bool,
    created: String,
    updated: String,
}

/// `POST /api/v1/hunt/queries`: the query must parse.
#[derive(ToSchema)]
pub(crate) struct NewSavedQuery {
    name: String,
    query: String,
    #[schema(nullable = false)]
    description: Option<String>,
    shared: Option<bool>,
}
