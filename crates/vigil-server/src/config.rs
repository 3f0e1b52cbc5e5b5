//! The server's configuration: TOML, every key optional and documented here; an unknown key is
//! an error that names it.
//!
//! ```toml
//! [server]
//! data_dir = "/var/lib/vigil-server"  # CA, certificates, admin token, state.db, telemetry
//! grpc_addr = "0.0.0.0:7443"          # agents (gRPC over TLS 1.3, mutual authentication)
//! http_addr = "127.0.0.1:8080"        # the HTTP API (token-authenticated) and /metrics
//! tls_names = []                      # extra DNS names / IP addresses for the server certificate
//! heartbeat_interval_secs = 30        # how often agents report
//! inactive_after_secs = 600           # a device not seen for this long is Inactive
//! device_cert_days = 365              # validity of device certificates
//!
//! [store]
//! retention_days = 30                 # day partitions older than this are deleted (0 = keep)
//! hot_max_rows = 500000               # rows per table kept in memory before a Parquet flush
//! hot_max_mib = 256                   # memory of all in-memory rows before a Parquet flush
//! hot_max_age_secs = 30               # age of the oldest in-memory row before a flush
//!
//! [ingest]
//! max_batch_events = 20000            # events in one batch
//! max_batch_bytes = 67108864          # one batch, decompressed
//! max_message_bytes = 16777216        # one gRPC message, compressed
//!
//! [detection]
//! enabled = true                      # evaluate stored events against the rules
//! rules_dirs = []                     # folders of extra Sigma rules (built-in rules always load)
//!
//! [api]
//! rate_per_sec = 100                  # requests a second each API token or console user may make
//! rate_burst = 400                    # ... and the burst above that
//!
//! [intel]
//! retrohunt_days = 30                 # a new indicator is looked for this far back in stored telemetry (0 = off)
//! feeds = true                        # refresh the configured feeds on their schedules
//! expired_grace_days = 7              # expired indicators are deleted this long after expiry
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    pub server: ServerSection,
    pub store: StoreSection,
    pub ingest: IngestSection,
    pub detection: DetectionSection,
    pub intel: IntelSection,
    pub api: ApiSection,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiSection {
    /// Requests a second each principal may make, sustained.
    pub rate_per_sec: f64,
    /// The burst above the sustained rate.
    pub rate_burst: f64,
}

impl Default for ApiSection {
    fn default() -> Self {
        ApiSection {
            rate_per_sec: 100.0,
            rate_burst: 400.0,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IntelSection {
    /// Days of stored telemetry a new indicator is looked for in (0: no retro-hunt).
    pub retrohunt_days: u32,
    /// Refresh feeds on their schedules.
    pub feeds: bool,
    /// Expired indicators are deleted this many days after their expiry.
    pub expired_grace_days: u32,
}

impl Default for IntelSection {
    fn default() -> Self {
        IntelSection {
            retrohunt_days: 30,
            feeds: true,
            expired_grace_days: 7,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DetectionSection {
    /// Evaluate stored events against the rules (off: store only).
    pub enabled: bool,
    /// Folders of extra Sigma rules, loaded beside the built-in ones.
    pub rules_dirs: Vec<PathBuf>,
}

impl Default for DetectionSection {
    fn default() -> Self {
        DetectionSection {
            enabled: true,
            rules_dirs: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSection {
    pub data_dir: PathBuf,
    pub grpc_addr: SocketAddr,
    pub http_addr: SocketAddr,
    pub tls_names: Vec<String>,
    pub heartbeat_interval_secs: u32,
    pub inactive_after_secs: u64,
    pub device_cert_days: u32,
}

impl Default for ServerSection {
    fn default() -> Self {
        ServerSection {
            data_dir: PathBuf::from("/var/lib/vigil-server"),
            grpc_addr: "0.0.0.0:7443".parse().expect("valid literal"),
            http_addr: "127.0.0.1:8080".parse().expect("valid literal"),
            tls_names: Vec::new(),
            heartbeat_interval_secs: 30,
            inactive_after_secs: 600,
            device_cert_days: 365,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreSection {
    pub retention_days: u32,
    pub hot_max_rows: usize,
    pub hot_max_mib: usize,
    pub hot_max_age_secs: u64,
}

impl Default for StoreSection {
    fn default() -> Self {
        StoreSection {
            retention_days: 30,
            hot_max_rows: 500_000,
            hot_max_mib: 256,
            hot_max_age_secs: 30,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IngestSection {
    pub max_batch_events: u32,
    pub max_batch_bytes: u32,
    pub max_message_bytes: usize,
}

impl Default for IngestSection {
    fn default() -> Self {
        IngestSection {
            max_batch_events: 20_000,
            max_batch_bytes: 64 << 20,
            max_message_bytes: 16 << 20,
        }
    }
}

impl ServerConfig {
    /// Parse TOML text; `path` names it in errors.
    pub fn parse(text: &str, path: &Path) -> Result<ServerConfig, String> {
        let cfg: ServerConfig = toml::from_str(text).map_err(|e| {
            format!(
                "invalid configuration in {}: {}",
                path.display(),
                e.to_string().trim().replace('\n', " ")
            )
        })?;
        if cfg.server.heartbeat_interval_secs == 0 {
            return Err(format!(
                "invalid configuration in {}: server.heartbeat_interval_secs must be at least 1",
                path.display()
            ));
        }
        Ok(cfg)
    }

    /// Load `path`, or the defaults when there is none.
    pub fn load(path: Option<&Path>) -> Result<ServerConfig, String> {
        match path {
            None => Ok(ServerConfig::default()),
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .map_err(|e| format!("cannot read {}: {e}", p.display()))?;
                ServerConfig::parse(&text, p)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_are_named() {
        let err = ServerConfig::parse("[server]\ngrpc_adr = \"1.2.3.4:5\"\n", Path::new("s.toml"))
            .unwrap_err();
        assert!(err.contains("grpc_adr") && err.contains("s.toml"), "{err}");
        let cfg =
            ServerConfig::parse("[store]\nretention_days = 7\n", Path::new("s.toml")).unwrap();
        assert_eq!(cfg.store.retention_days, 7);
        assert_eq!(cfg.server.http_addr.port(), 8080);
    }
}
