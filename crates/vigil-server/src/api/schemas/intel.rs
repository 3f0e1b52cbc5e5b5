//! Wire shapes of threat intelligence: indicators, imports, feeds, warning lists
//! (`api/intel.rs`).

#![allow(dead_code, non_snake_case)]

use utoipa::{IntoParams, ToSchema};

/// Filters and page of `GET /api/v1/indicators`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct IndicatorFilters {
    /// `sha256`, `sha1`, `md5`, `ip`, `cidr`, `domain`, `url` or `cert`.
    r#type: Option<String>,
    /// `allow`, `audit`, `warn`, `block` or `block-and-remediate`.
    action: Option<String>,
    /// The source (`manual`, an import's or a feed's name).
    source: Option<String>,
    /// Value or title text.
    q: Option<String>,
    /// Only indicators not expired.
    live: Option<bool>,
    /// Indicators in a page, 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
    offset: Option<u64>,
}

/// One page of indicators.
#[derive(ToSchema)]
pub(crate) struct IndicatorPage {
    items: Vec<Indicator>,
    total: u64,
    limit: u64,
    offset: u64,
}

/// An indicator of compromise, in MDE's vocabulary.
#[derive(ToSchema)]
pub(crate) struct Indicator {
    IndicatorId: u64,
    IndicatorType: String,
    /// Normalized (lowercase hashes, canonical addresses and names).
    IndicatorValue: String,
    Action: String,
    Severity: String,
    Title: String,
    Description: String,
    ExpirationTime: Option<String>,
    Expired: bool,
    /// The device groups it applies to; empty for every device.
    DeviceGroups: Vec<String>,
    GenerateAlert: bool,
    Source: String,
    SourceReference: String,
    FirstSeen: Option<String>,
    Labels: Vec<String>,
    CreatedBy: String,
    Created: String,
    Updated: String,
    /// The indicator set's version of its last change (what agents sync by).
    Version: u64,
}

/// `POST /api/v1/indicators`.
#[derive(ToSchema)]
pub(crate) struct NewIndicator {
    /// `sha256`, `sha1`, `md5`, `ip`, `cidr`, `domain`, `url` or `cert`.
    r#type: String,
    /// The value; a `cert` may be a PEM certificate (its thumbprint is stored).
    value: String,
    /// `allow`, `audit`, `warn`, `block` or `block-and-remediate`.
    action: String,
    /// `Informational`, `Low`, `Medium` or `High`.
    #[schema(nullable = false)]
    severity: Option<String>,
    #[schema(nullable = false)]
    title: Option<String>,
    #[schema(nullable = false)]
    description: Option<String>,
    /// Lifetime in seconds (or give `expires_ms`).
    #[schema(minimum = 1)]
    ttl_seconds: Option<i64>,
    /// Expiry, unix milliseconds (in the future).
    expires_ms: Option<i64>,
    device_groups: Option<Vec<String>>,
    /// Raise an alert when it matches (default true).
    generate_alert: Option<bool>,
}

/// `PATCH /api/v1/indicators/{id}`: the fields given change; `ttl_seconds` or `expires_ms`
/// null removes the expiry.
#[derive(ToSchema)]
pub(crate) struct IndicatorChange {
    #[schema(nullable = false)]
    action: Option<String>,
    #[schema(nullable = false)]
    severity: Option<String>,
    #[schema(nullable = false)]
    title: Option<String>,
    #[schema(nullable = false)]
    description: Option<String>,
    #[schema(minimum = 1)]
    ttl_seconds: Option<i64>,
    expires_ms: Option<i64>,
    device_groups: Option<Vec<String>>,
    generate_alert: Option<bool>,
}

/// A removed indicator.
#[derive(ToSchema)]
pub(crate) struct IndicatorRemoved {
    IndicatorId: u64,
    removed: bool,
}

/// How an import reads its body.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ImportParams {
    /// `stix`, `taxii`, `misp`, `csv` or `abusech`.
    format: String,
    /// The source the indicators are kept under (default `import`; not `manual`).
    source: Option<String>,
    /// The action of indicators that name none (default `audit`).
    action: Option<String>,
    /// The severity of indicators that name none (default `Medium`).
    severity: Option<String>,
    /// Raise alerts on matches (default true).
    generate_alert: Option<bool>,
    /// Lifetime of the imported indicators, seconds.
    #[param(minimum = 1)]
    ttl_seconds: Option<i64>,
    /// Remove the source's indicators the file no longer holds.
    replace: Option<bool>,
}

/// What an import or a feed refresh did (all or nothing).
#[derive(ToSchema)]
pub(crate) struct ImportReport {
    /// Records read.
    read: u64,
    added: u64,
    updated: u64,
    unchanged: u64,
    removed: u64,
    skipped: u64,
    /// The first 1,000 skipped records, with the reason.
    skipped_records: Vec<SkippedRecord>,
    /// The indicator set's version after the import.
    version: u64,
}

/// A record an import skipped.
#[derive(ToSchema)]
pub(crate) struct SkippedRecord {
    record: String,
    reason: String,
}

/// `POST /api/v1/indicators/retrohunt`.
#[derive(ToSchema)]
pub(crate) struct RetrohuntRequest {
    /// Indicator ids.
    ids: Vec<u64>,
}

/// The indicators queued for a retro-hunt over stored telemetry.
#[derive(ToSchema)]
pub(crate) struct RetrohuntQueued {
    queued: Vec<u64>,
}

/// An indicator feed (its secret never shown).
#[derive(ToSchema)]
pub(crate) struct Feed {
    FeedId: String,
    Name: String,
    Format: String,
    Url: String,
    /// The TAXII collection.
    Collection: Option<String>,
    Username: Option<String>,
    SecretSet: bool,
    IntervalSeconds: i64,
    Action: String,
    Severity: String,
    GenerateAlert: bool,
    ExpireAfterSeconds: Option<i64>,
    Enabled: bool,
    /// Where the next fetch resumes (TAXII `added_after`).
    Cursor: Option<String>,
    LastRun: Option<String>,
    LastSuccess: Option<String>,
    LastStatus: Option<String>,
    LastError: Option<String>,
    LastCount: Option<i64>,
    Created: String,
    CreatedBy: String,
}

/// `POST /api/v1/feeds`.
#[derive(ToSchema)]
pub(crate) struct NewFeed {
    name: String,
    /// `stix`, `taxii`, `misp`, `csv` or `abusech`.
    format: String,
    /// A file URL, or a TAXII 2.1 API root.
    url: String,
    /// The TAXII collection id.
    #[schema(nullable = false)]
    collection: Option<String>,
    #[schema(nullable = false)]
    username: Option<String>,
    #[schema(nullable = false)]
    secret: Option<String>,
    /// Seconds between fetches (default 3600).
    interval_seconds: Option<i64>,
    /// Default `audit`.
    #[schema(nullable = false)]
    action: Option<String>,
    /// Default `Medium`.
    #[schema(nullable = false)]
    severity: Option<String>,
    generate_alert: Option<bool>,
    /// Indicators expire this long after the feed last named them.
    expire_after_seconds: Option<i64>,
    enabled: Option<bool>,
}

/// A removed feed.
#[derive(ToSchema)]
pub(crate) struct FeedRemoved {
    FeedId: String,
    removed: bool,
    /// Its indicators removed with it.
    indicators_removed: u64,
}

/// A MISP warning list (values that are never indicators).
#[derive(ToSchema)]
pub(crate) struct WarningList {
    WarningListId: String,
    Name: String,
    /// `string`, `substring`, `hostname`, `cidr` or `regex`; none if it no longer parses.
    Type: Option<String>,
    Entries: Option<u64>,
    /// Absent in the answer to a POST.
    Created: Option<String>,
}

/// A removed warning list.
#[derive(ToSchema)]
pub(crate) struct WarningListRemoved {
    WarningListId: String,
    removed: bool,
}
