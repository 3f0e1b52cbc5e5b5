//! Wire shapes of the entity pages: a file hash, an IP address, a domain (`api/entities.rs`).

#![allow(dead_code, non_snake_case)]

use utoipa::{IntoParams, ToSchema};

use super::alerts::Alert;
use super::intel::Indicator;

/// How far back an entity page looks.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct EntityRange {
    /// Days, 1 to 365 (default 30).
    #[param(minimum = 1, maximum = 365)]
    days: Option<u32>,
}

/// What the fleet knows about a file, an IP address or a domain.
#[derive(ToSchema)]
pub(crate) struct EntityPage {
    /// `File`, `Ip` or `Domain`.
    Type: String,
    /// The normalized value (lowercase hash, canonical address or name).
    Value: String,
    /// For a file: `sha256`, `sha1` or `md5`.
    HashType: Option<String>,
    Prevalence: Prevalence,
    /// For a file: the names and folders it was seen under (at most 100).
    Names: Option<Vec<SeenAs>>,
    /// Alerts whose evidence names it (at most 100, of devices in scope).
    Alerts: Vec<Alert>,
    Indicators: EntityIndicators,
}

/// Where and how often the entity was seen (devices in the principal's scope only).
#[derive(ToSchema)]
pub(crate) struct Prevalence {
    /// Devices that saw it.
    Devices: u64,
    Events: u64,
    FirstSeen: Option<String>,
    LastSeen: Option<String>,
    /// Too many rows to read them all: the counts are a lower bound.
    Truncated: bool,
    /// Per device, most recent first (at most 200).
    ByDevice: Vec<DevicePrevalence>,
}

/// The entity on one device.
#[derive(ToSchema)]
pub(crate) struct DevicePrevalence {
    DeviceId: String,
    /// The device's name; null when the device is no longer enrolled.
    DeviceName: Option<String>,
    Events: u64,
    FirstSeen: String,
    LastSeen: String,
}

/// A name and folder a file was seen under.
#[derive(ToSchema)]
pub(crate) struct SeenAs {
    FileName: String,
    FolderPath: String,
}

/// Indicators of the entity.
#[derive(ToSchema)]
pub(crate) struct EntityIndicators {
    /// The indicators of exactly this value.
    Matching: Vec<Indicator>,
    /// The one that decides for it now, which may be a covering network or a parent domain.
    Deciding: Option<Indicator>,
}
