//! Integration tests of vigil-state, on real SQLite files in a temporary directory and in
//! memory.
//!
//! - `migrations.rs` — schema creation and reopening;
//! - `enrollment.rs` — the enrolment token lifecycle and concurrent redeems;
//! - `devices.rs` — enrol, authorize, heartbeat, revoke, re-enrol;
//! - `api_tokens.rs` — API tokens and users;
//! - `persistence.rs` — data survives closing and reopening the file;
//! - `alerts.rs` — hits grouped into alerts;
//! - `triage.rs` — alert and incident lifecycle, suppressions, incidents, rule switches;
//! - `hunting.rs` — saved queries and custom detection rules;
//! - `intel.rs` — indicators, their change log, feeds and warning lists.

mod alerts;
mod api_tokens;
mod devices;
mod enrollment;
mod hunting;
mod intel;
mod migrations;
mod persistence;
mod triage;

use std::path::PathBuf;

use tempfile::TempDir;
use vigil_state::StateStore;

/// A fixed "now": 2026-11-24T10:00:00Z.
pub const NOW: i64 = 1_795_514_400_000;

/// A store on a fresh file; keep the `TempDir` alive as long as the store.
pub async fn file_store() -> (TempDir, PathBuf, StateStore) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let store = StateStore::open(&path).await.unwrap();
    (dir, path, store)
}
