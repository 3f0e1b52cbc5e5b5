//! The agent's uplink to the server: enrolment (a token and a CSR traded for a device
//! certificate), a disk spool that survives restarts and outages, and a sender that delivers
//! numbered, zstd-compressed event batches over gRPC with mutual TLS, at least once.
//!
//! It also runs response actions (`commands`: the command stream, a journal so that each
//! action runs once, file transfers) and keeps the server's indicators in a local journal (`intel_sync`), synced by
//! version deltas, so that the agent enforces them offline and across restarts.
//!
//! Used by `vigil-agent` and by the fleet simulator, so both speak the real protocol.
//!
//! **Invariant:** a batch leaves the spool only when the server acknowledged it.

pub mod commands;
pub mod enroll;
pub mod intel_sync;
mod sender;
pub mod spool;

pub use commands::{CommandHandler, CommandOptions, Reporter};
pub use enroll::{enroll, error_chain, heartbeat_client, EnrollParams, Enrollment};
pub use intel_sync::{IndicatorCache, OnIndicators};
pub use sender::{Health, IntelOptions, Uplink, UplinkOptions, UplinkStats};
pub use vigil_proto::pb::Command;

/// Why the uplink could not do something.
#[derive(Debug, thiserror::Error)]
pub enum UplinkError {
    #[error("bad server address {0} (expected HOST:PORT)")]
    Address(String),
    #[error("TLS: {0}")]
    Tls(String),
    #[error("cannot connect to {0}")]
    Connect(String),
    #[error("the server refused: {0}")]
    Refused(String),
    #[error("{0}")]
    Io(String),
}
