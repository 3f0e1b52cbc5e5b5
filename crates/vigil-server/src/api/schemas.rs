//! The API's wire shapes as OpenAPI schemas: request bodies, query parameters and answers, one
//! submodule per area, named in the handlers' `#[utoipa::path]` attributes and gathered into
//! the document by `api/openapi.rs`.
//!
//! These types only describe: handlers read bodies field by field (`api/body.rs`, which names
//! an unknown or mistyped field) and write answers with `json!`, so nothing builds or parses
//! them. Field names are spelled as on the wire (`AlertId`, `ttl_seconds`); a required body
//! field is a plain type, an optional one an `Option`. A field a handler adds to its answer or
//! its body must be added here too.
//!
//! **Invariant:** every type name here is unique: it is the schema's name in the document.

use std::collections::HashMap;

use serde::Serialize;
use utoipa::{IntoParams, ToResponse, ToSchema};

pub(crate) mod access;
pub(crate) mod alerts;
pub(crate) mod detections;
pub(crate) mod devices;
pub(crate) mod entities;
pub(crate) mod hunt;
pub(crate) mod intel;
pub(crate) mod response;

pub(crate) use access::*;
pub(crate) use alerts::*;
pub(crate) use detections::*;
pub(crate) use devices::*;
pub(crate) use entities::*;
pub(crate) use hunt::*;
pub(crate) use intel::*;
pub(crate) use response::*;

/// An error (RFC 9457 problem details), answered as `application/problem+json`.
#[derive(ToSchema)]
#[allow(dead_code, non_snake_case)]
pub(crate) struct Problem {
    /// Always `about:blank`.
    r#type: String,
    /// The status's reason phrase.
    title: String,
    /// The HTTP status.
    status: u16,
    /// What is wrong, naming the field, parameter or id.
    detail: String,
    /// The detail again, for clients written before problem details.
    error: String,
}

/// 400: the request was refused; the problem names the field or parameter and why.
#[derive(ToResponse)]
#[response(content_type = "application/problem+json")]
#[allow(dead_code)]
pub(crate) struct BadRequest(Problem);

/// 404: no such id, or one outside the principal's device groups.
#[derive(ToResponse)]
#[response(content_type = "application/problem+json")]
#[allow(dead_code)]
pub(crate) struct NotFound(Problem);

/// 409: the name or value is taken, or the state does not allow the change.
#[derive(ToResponse)]
#[response(content_type = "application/problem+json")]
#[allow(dead_code)]
pub(crate) struct Conflict(Problem);

/// 401: not authenticated (wrong user name or password at login).
#[derive(ToResponse)]
#[response(content_type = "application/problem+json")]
#[allow(dead_code)]
pub(crate) struct Unauthorized(Problem);

/// 403: the principal may not do this (the permission it lacks is named), a console change
/// came without its CSRF token, or a principal limited to device groups asked for a
/// fleet-wide change.
#[derive(ToResponse)]
#[response(content_type = "application/problem+json")]
#[allow(dead_code)]
pub(crate) struct Forbidden(Problem);

/// 413: the body is larger than the route takes (axum's refusal, plain text).
#[derive(ToResponse)]
#[response(content_type = "text/plain")]
#[allow(dead_code)]
pub(crate) struct PayloadTooLarge(String);

/// 429: the principal is over its rate limit.
#[derive(ToResponse)]
#[response(content_type = "application/problem+json")]
#[allow(dead_code)]
pub(crate) struct TooManyRequests(Problem);

/// 502: the feed's server failed or answered something unreadable.
#[derive(ToResponse)]
#[response(content_type = "application/problem+json")]
#[allow(dead_code)]
pub(crate) struct BadGateway(Problem);

/// 504: the query ran past its time limit.
#[derive(ToResponse)]
#[response(content_type = "application/problem+json")]
#[allow(dead_code)]
pub(crate) struct TimedOut(Problem);

/// 400: the query does not parse or check (`application/json`: every problem with its span,
/// for the editor), or another field was refused (a problem document).
#[derive(ToResponse)]
#[allow(dead_code)]
pub(crate) enum QueryRefused {
    Diagnostics(#[content("application/json")] hunt::QueryRejected),
    Problem(#[content("application/problem+json")] Problem),
}

/// Paging, sorting and text search of a list the server loads whole (`api/list.rs`). Without
/// `limit` and `offset` the answer is the whole list as an array; with either, one page.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub(crate) struct ListParams {
    /// Items in a page, 1 to 1000 (100 when only `offset` is given).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
    /// Items skipped before the page.
    offset: Option<u64>,
    /// A field of the items to sort by (stable; missing values last; severity, risk and
    /// exposure levels by rank, not name).
    sort: Option<String>,
    /// `asc` (the default) or `desc`.
    order: Option<SortOrder>,
    /// Keep items with a text field containing this (any case).
    q: Option<String>,
}

/// Sort direction.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)]
pub(crate) enum SortOrder {
    Asc,
    Desc,
}

/// One page of a list.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub(crate) struct Page<T> {
    /// The items of this page.
    items: Vec<T>,
    /// Items matching in all.
    total: u64,
    limit: u64,
    offset: u64,
}

/// A list: the whole of it as an array when neither `limit` nor `offset` was given, else one
/// page.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub(crate) enum List<T> {
    All(Vec<T>),
    Paged(Page<T>),
}

/// Any bytes (a file, an import).
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
#[allow(dead_code)]
pub(crate) struct Binary(Vec<u8>);

/// A free-form JSON object.
pub(crate) type Object = HashMap<String, serde_json::Value>;
