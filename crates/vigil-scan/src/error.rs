//! The crate's error types: one for building an engine, one for the quarantine vault.
//!
//! Messages are lowercase without a trailing period and name what failed with what input.
//! Scanning itself has no error type: a scan that fails returns `Verdict::Error`.

use std::path::PathBuf;

/// Building an engine or its hash lists failed.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("invalid sha-256 {input:?}: expected 64 hex digits")]
    InvalidSha256 { input: String },
}

/// A quarantine vault operation failed; the vault and the file are left as they were.
#[derive(Debug, thiserror::Error)]
pub enum QuarantineError {
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot quarantine {path}: not a regular file")]
    NotRegularFile { path: PathBuf },
    #[error("cannot quarantine {path}: the file changed while it was being copied")]
    Changed { path: PathBuf },
    #[error("invalid quarantine id {id:?}: expected 32 lowercase hex digits")]
    InvalidId { id: String },
    #[error("no quarantined item with id {id}")]
    UnknownId { id: String },
    #[error(
        "cannot restore to {path}: a file exists there (restore with overwrite to replace it)"
    )]
    DestinationExists { path: PathBuf },
    #[error(
        "vault key {path} has mode {mode:o}: expected 600 (refusing to use a key others can read)"
    )]
    KeyPermissions { path: PathBuf, mode: u32 },
    #[error("vault key {path} is {len} bytes: expected 32")]
    KeyLength { path: PathBuf, len: u64 },
    #[error("quarantined item {id} is damaged: {reason}")]
    Corrupt { id: String, reason: String },
    #[error("metadata {path} is invalid: {reason}")]
    Metadata { path: PathBuf, reason: String },
}

impl QuarantineError {
    pub(crate) fn io(
        op: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| QuarantineError::Io { op, path, source }
    }
}
