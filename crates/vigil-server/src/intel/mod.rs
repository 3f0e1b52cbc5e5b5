//! Threat intelligence on the server: the live indicator set that streaming detection matches
//! every stored row against (`matching.rs`), retro-hunts of new indicators over stored
//! telemetry (`retro.rs`), feeds refreshed on their schedules (`feeds.rs`), and the indicator
//! sync that agents pull over gRPC (`sync.rs`).
//!
//! [`Intel`] holds the current [`IntelSet`] behind an `Arc` that readers clone per batch; a
//! background task rebuilds it from the state store when indicators change (the API and the
//! feeds call [`Intel::changed`]) and when the next one expires, and prunes expired indicators
//! hourly.
//!
//! **Invariant:** the set holds only indicators live when it was built; a rebuild is due at
//! the next expiry, so an expired indicator stops matching within a second of its expiry.

pub mod feeds;
pub mod matching;
pub mod retro;
pub mod sync;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::sync::{mpsc, watch, Notify};
use vigil_intel::IntelSet;
use vigil_state::{IntelVersion, StateStore};

use crate::now_ms;

/// How long the rebuild task waits for more changes before rebuilding.
const DEBOUNCE: Duration = Duration::from_millis(100);
/// How often expired indicators and old tombstones are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// The server's indicator set and what keeps it current.
pub struct Intel {
    set: RwLock<Arc<IntelSet>>,
    changed: Notify,
    /// Rebuilds finished (tests and the API wait on it).
    builds: watch::Sender<u64>,
    /// Bumped on every change; a rebuild that started before a change is not the last.
    generation: AtomicU64,
    retro: mpsc::UnboundedSender<Vec<u64>>,
    /// The change log's position when the set was last built (what heartbeats announce).
    version: RwLock<Option<IntelVersion>>,
    state: StateStore,
}

impl Intel {
    /// An empty set; [`Intel::run`] loads it. Returns the receiving end of the retro-hunt
    /// queue (ids of indicators to look for in stored telemetry).
    pub fn new(state: StateStore) -> (Arc<Intel>, mpsc::UnboundedReceiver<Vec<u64>>) {
        let (retro, rx) = mpsc::unbounded_channel();
        let intel = Arc::new(Intel {
            set: RwLock::new(Arc::new(IntelSet::default())),
            changed: Notify::new(),
            builds: watch::channel(0).0,
            generation: AtomicU64::new(0),
            retro,
            version: RwLock::new(None),
            state,
        });
        (intel, rx)
    }

    /// The set to match against now.
    pub fn current(&self) -> Arc<IntelSet> {
        Arc::clone(&self.set.read().expect("intel set lock"))
    }

    /// The set id and version agents should hold (as of the last rebuild).
    pub fn version(&self) -> Option<IntelVersion> {
        self.version.read().expect("intel version lock").clone()
    }

    /// Indicators changed: rebuild soon. New ones (`added`) are also retro-hunted.
    pub fn changed(&self, added: Vec<u64>) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.changed.notify_one();
        if !added.is_empty() {
            let _ = self.retro.send(added);
        }
    }

    /// Wait until the set reflects every change made before this call (or `timeout`).
    pub async fn settled(&self, timeout: Duration) -> bool {
        let want = self.generation.load(Ordering::SeqCst);
        let mut rx = self.builds.subscribe();
        let done = tokio::time::timeout(timeout, rx.wait_for(|b| *b >= want))
            .await
            .is_ok();
        done
    }

    /// Load the live indicators and swap the set in. Descriptions and provenance details are
    /// left in the state store: the matcher needs what decides and what alerts say.
    pub async fn rebuild(&self) -> Result<usize, vigil_state::StateError> {
        let generation = self.generation.load(Ordering::SeqCst);
        let version = self.state.intel_version().await?;
        let mut live = self.state.live_indicators(now_ms()).await?;
        for ind in &mut live {
            ind.description = String::new();
            ind.provenance.reference = String::new();
            ind.provenance.labels = Vec::new();
        }
        let n = live.len();
        let set = tokio::task::spawn_blocking(move || IntelSet::new(live))
            .await
            .map_err(|e| vigil_state::StateError::Conflict {
                op: "build the indicator set",
                reason: e.to_string(),
            })?;
        *self.set.write().expect("intel set lock") = Arc::new(set);
        *self.version.write().expect("intel version lock") = Some(version);
        self.builds.send_replace(generation);
        Ok(n)
    }

    /// Keep the set current until `stop`: rebuild after changes (debounced), at the next
    /// expiry, and prune expired indicators hourly.
    pub async fn run(self: Arc<Self>, grace_days: u32, mut stop: watch::Receiver<bool>) {
        let grace_ms = i64::from(grace_days) * 86_400_000;
        let mut last_prune = tokio::time::Instant::now() - PRUNE_EVERY;
        loop {
            if last_prune.elapsed() >= PRUNE_EVERY {
                last_prune = tokio::time::Instant::now();
                match self.state.prune_indicators(grace_ms, now_ms()).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(deleted = n, "expired indicators deleted"),
                    Err(e) => tracing::warn!("cannot prune indicators: {e}"),
                }
            }
            match self.rebuild().await {
                Ok(n) => tracing::debug!(indicators = n, "indicator set rebuilt"),
                Err(e) => tracing::error!("cannot rebuild the indicator set: {e}"),
            }
            let wait = match self.state.next_indicator_expiry(now_ms()).await {
                Ok(Some(at)) => Duration::from_millis((at - now_ms()).clamp(0, 3_600_000) as u64),
                _ => PRUNE_EVERY,
            };
            let changed = tokio::select! {
                _ = self.changed.notified() => true,
                _ = tokio::time::sleep(wait + Duration::from_millis(1)) => false,
                _ = stop.wait_for(|s| *s) => return,
            };
            if changed {
                tokio::time::sleep(DEBOUNCE).await;
            }
        }
    }
}

/// What storing an import did.
#[derive(Debug, Clone, Default)]
pub struct StoreReport {
    /// Indicators the source gave (before warning lists).
    pub read: usize,
    pub summary: vigil_state::UpsertSummary,
    /// Records that gave no indicator, with the reason (warning-list hits included).
    pub skipped: Vec<vigil_intel::import::Skipped>,
    /// A TAXII feed's next `added_after`.
    pub cursor: Option<String>,
}

/// Apply the warning lists to an import and write it as `source`'s (replacing what the
/// source brought before when `replace`), in one transaction; then rebuild the set and
/// retro-hunt what is new.
pub async fn store_imported(
    ctx: &crate::Ctx,
    source: &str,
    mut imported: vigil_intel::import::Imported,
    replace: bool,
    actor: &str,
) -> Result<StoreReport, String> {
    let read = imported.indicators.len();
    let lists = ctx.state.warning_lists().await.map_err(|e| e.to_string())?;
    let mut parsed = Vec::new();
    for l in &lists {
        match vigil_intel::import::warninglist::WarningList::parse(l.body.as_bytes()) {
            Ok(w) => parsed.push(w),
            Err(e) => tracing::warn!(list = %l.name, "stored warning list does not parse: {e}"),
        }
    }
    vigil_intel::import::warninglist::apply(&parsed, &mut imported);
    let summary = ctx
        .state
        .upsert_indicators(source, &imported.indicators, replace, actor, now_ms())
        .await
        .map_err(|e| e.to_string())?;
    ctx.intel.changed(summary.added_ids.clone());
    Ok(StoreReport {
        read,
        summary,
        skipped: imported.skipped,
        cursor: None,
    })
}
