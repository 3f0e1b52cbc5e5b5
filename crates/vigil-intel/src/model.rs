//! Indicators: what a team (or a feed) says about a value, and what to do when it is seen.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

use crate::IntelError;

/// The kind of value an indicator names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IndicatorType {
    Sha256,
    Sha1,
    Md5,
    /// One IPv4 or IPv6 address.
    Ip,
    /// An IPv4 or IPv6 network (`10.0.0.0/8`, `2001:db8::/32`).
    Cidr,
    /// A domain; it also matches every subdomain.
    Domain,
    Url,
    /// A certificate's SHA-1 thumbprint (of its DER encoding).
    Cert,
}

impl IndicatorType {
    pub const ALL: [IndicatorType; 8] = [
        IndicatorType::Sha256,
        IndicatorType::Sha1,
        IndicatorType::Md5,
        IndicatorType::Ip,
        IndicatorType::Cidr,
        IndicatorType::Domain,
        IndicatorType::Url,
        IndicatorType::Cert,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            IndicatorType::Sha256 => "sha256",
            IndicatorType::Sha1 => "sha1",
            IndicatorType::Md5 => "md5",
            IndicatorType::Ip => "ip",
            IndicatorType::Cidr => "cidr",
            IndicatorType::Domain => "domain",
            IndicatorType::Url => "url",
            IndicatorType::Cert => "cert",
        }
    }

    /// A file hash (matched against the hash columns of events).
    pub fn is_file_hash(self) -> bool {
        matches!(
            self,
            IndicatorType::Sha256 | IndicatorType::Sha1 | IndicatorType::Md5
        )
    }
}

impl fmt::Display for IndicatorType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for IndicatorType {
    type Err = IntelError;
    fn from_str(s: &str) -> Result<Self, IntelError> {
        let t = match s.to_ascii_lowercase().as_str() {
            "sha256" | "filesha256" => IndicatorType::Sha256,
            "sha1" | "filesha1" => IndicatorType::Sha1,
            "md5" | "filemd5" => IndicatorType::Md5,
            "ip" | "ipaddress" | "ipv4" | "ipv6" => IndicatorType::Ip,
            "cidr" => IndicatorType::Cidr,
            "domain" | "domainname" => IndicatorType::Domain,
            "url" => IndicatorType::Url,
            "cert" | "certificate" | "certificatethumbprint" => IndicatorType::Cert,
            _ => {
                return Err(IntelError::invalid(format!(
                    "unknown indicator type {s:?} (expected sha256, sha1, md5, ip, cidr, domain, url or cert)"
                )))
            }
        };
        Ok(t)
    }
}

/// What happens when the value is seen. Ordered by strength: when several indicators name the
/// same value, `Allow` wins (a team's exception beats a feed), then the strongest of the rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Never alert on or block this value; overrides detections and other indicators.
    Allow,
    /// Alert (if `generate_alert`) but do not block.
    Audit,
    /// Block on the endpoint unless the user overrides (reported as a warning); on Linux,
    /// where there is no user prompt, the agent reports and lets it through.
    Warn,
    Block,
    /// Block, then remediate: kill what runs the file and quarantine it.
    BlockAndRemediate,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Allow => "allow",
            Action::Audit => "audit",
            Action::Warn => "warn",
            Action::Block => "block",
            Action::BlockAndRemediate => "block-and-remediate",
        }
    }

    /// The endpoint must stop the activity.
    pub fn blocks(self) -> bool {
        matches!(self, Action::Block | Action::BlockAndRemediate)
    }

    /// Precedence when several indicators name the same value: larger wins.
    pub fn precedence(self) -> u8 {
        match self {
            Action::Allow => 5,
            Action::BlockAndRemediate => 4,
            Action::Block => 3,
            Action::Warn => 2,
            Action::Audit => 1,
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Action {
    type Err = IntelError;
    fn from_str(s: &str) -> Result<Self, IntelError> {
        let a = match s.to_ascii_lowercase().replace('_', "-").as_str() {
            "allow" | "allowed" => Action::Allow,
            "audit" | "alert" => Action::Audit,
            "warn" => Action::Warn,
            "block" | "alertandblock" => Action::Block,
            "block-and-remediate" | "blockandremediate" => Action::BlockAndRemediate,
            _ => {
                return Err(IntelError::invalid(format!(
                "unknown action {s:?} (expected allow, audit, warn, block or block-and-remediate)"
            )))
            }
        };
        Ok(a)
    }
}

/// Alert severity of an indicator's hits (MDE's names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Severity {
    Informational,
    Low,
    Medium,
    High,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Informational => "Informational",
            Severity::Low => "Low",
            Severity::Medium => "Medium",
            Severity::High => "High",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = IntelError;
    fn from_str(s: &str) -> Result<Self, IntelError> {
        let v = match s.to_ascii_lowercase().as_str() {
            "informational" | "info" => Severity::Informational,
            "low" => Severity::Low,
            "medium" => Severity::Medium,
            "high" => Severity::High,
            _ => {
                return Err(IntelError::invalid(format!(
                    "unknown severity {s:?} (expected informational, low, medium or high)"
                )))
            }
        };
        Ok(v)
    }
}

/// Where an indicator came from: kept per indicator so an analyst can see why a value is
/// flagged and a feed refresh can replace exactly what it brought.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provenance {
    /// `manual`, `csv`, or the feed's name.
    pub source: String,
    /// The record inside the source: a STIX id, a MISP attribute uuid, a CSV line (`line 12`).
    pub reference: String,
    /// When the source says the value was first seen (unix ms), if it says.
    pub first_seen_ms: Option<i64>,
    /// Free-form labels from the source (malware family, tags, threat type).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
}

/// One indicator. `value` is always normalised (see [`crate::normalize`]): construct with
/// [`Indicator::new`], which checks it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Indicator {
    /// The state store's id (0 until stored); what hits, blocks and sync deltas name.
    #[serde(default)]
    pub id: u64,
    #[serde(rename = "type")]
    pub kind: IndicatorType,
    pub value: String,
    pub action: Action,
    pub severity: Severity,
    pub title: String,
    #[serde(default)]
    pub description: String,
    /// Unix ms after which the indicator no longer applies.
    #[serde(default)]
    pub expires_ms: Option<i64>,
    /// Device groups it applies to; empty means every device.
    #[serde(default)]
    pub device_groups: Vec<String>,
    /// Whether a hit raises an alert (blocks are reported either way).
    pub generate_alert: bool,
    #[serde(default)]
    pub provenance: Provenance,
}

impl Indicator {
    /// An indicator with a checked, normalised value and defaults for the rest: audit,
    /// medium severity, alerting, title `"<type> <value>"`.
    pub fn new(kind: IndicatorType, raw_value: &str) -> Result<Indicator, IntelError> {
        let value = crate::normalize::normalize(kind, raw_value)?;
        Ok(Indicator {
            id: 0,
            title: format!("{kind} {value}"),
            kind,
            value,
            action: Action::Audit,
            severity: Severity::Medium,
            description: String::new(),
            expires_ms: None,
            device_groups: Vec::new(),
            generate_alert: true,
            provenance: Provenance::default(),
        })
    }

    pub fn with_action(mut self, action: Action) -> Indicator {
        self.action = action;
        self
    }

    pub fn with_severity(mut self, severity: Severity) -> Indicator {
        self.severity = severity;
        self
    }

    pub fn with_title(mut self, title: impl Into<String>) -> Indicator {
        self.title = title.into();
        self
    }

    pub fn with_provenance(mut self, provenance: Provenance) -> Indicator {
        self.provenance = provenance;
        self
    }

    /// Whether the indicator applies at `now_ms`.
    pub fn is_live(&self, now_ms: i64) -> bool {
        self.expires_ms.is_none_or(|e| e > now_ms)
    }

    /// Whether it applies to a device of `group` (`None`: the device is in no group).
    pub fn applies_to_group(&self, group: Option<&str>) -> bool {
        self.device_groups.is_empty()
            || group.is_some_and(|g| self.device_groups.iter().any(|x| x == g))
    }
}
