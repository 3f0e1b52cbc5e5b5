//! Server counters, exported in the Prometheus text format at `/metrics`.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

#[derive(Default)]
pub struct Metrics {
    pub batches_stored: AtomicU64,
    pub batches_refused: AtomicU64,
    pub events_stored: AtomicU64,
    pub events_duplicate: AtomicU64,
    pub tls_failures: AtomicU64,
    /// Sum of ingest call durations in microseconds (for the mean).
    pub ingest_micros: AtomicU64,
    /// Rows evaluated by streaming detection.
    pub detection_events: AtomicU64,
    /// Stored rows detection skipped because its queue was full.
    pub detection_events_skipped: AtomicU64,
    /// Alerts created (hits grouped into an existing alert not counted).
    pub alerts_created: AtomicU64,
    /// Row values that matched an indicator.
    pub intel_hits: AtomicU64,
    /// Rows an `Allow` indicator kept from detection.
    pub intel_allowed: AtomicU64,
    /// Stored rows a retro-hunt found for new indicators.
    pub intel_retro_hits: AtomicU64,
    /// Indicator sync streams served to agents, and indicators sent in them.
    pub intel_syncs: AtomicU64,
    pub intel_synced_indicators: AtomicU64,
}

impl Metrics {
    pub fn record_batch(&self, stored: u64, duplicates: u64, took: Duration) {
        self.batches_stored.fetch_add(1, Ordering::Relaxed);
        self.events_stored.fetch_add(stored, Ordering::Relaxed);
        self.events_duplicate
            .fetch_add(duplicates, Ordering::Relaxed);
        self.ingest_micros
            .fetch_add(took.as_micros() as u64, Ordering::Relaxed);
    }

    /// The Prometheus text of these counters and the store's gauges.
    pub fn render(&self, store: &vigil_store::StoreMetrics) -> String {
        let mut out = String::new();
        let mut counter = |name: &str, help: &str, v: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}"
            );
        };
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        counter(
            "vigil_ingest_batches_total",
            "Event batches stored.",
            get(&self.batches_stored),
        );
        counter(
            "vigil_ingest_batches_refused_total",
            "Event batches refused as malformed.",
            get(&self.batches_refused),
        );
        counter(
            "vigil_ingest_events_total",
            "Events stored.",
            get(&self.events_stored),
        );
        counter(
            "vigil_ingest_duplicate_events_total",
            "Events received again and not stored twice.",
            get(&self.events_duplicate),
        );
        counter(
            "vigil_tls_handshake_failures_total",
            "Failed or timed-out TLS handshakes.",
            get(&self.tls_failures),
        );
        counter(
            "vigil_detection_events_total",
            "Rows evaluated by streaming detection.",
            get(&self.detection_events),
        );
        counter(
            "vigil_detection_events_skipped_total",
            "Stored rows not evaluated because the detection queue was full.",
            get(&self.detection_events_skipped),
        );
        counter(
            "vigil_alerts_created_total",
            "Alerts created.",
            get(&self.alerts_created),
        );
        counter(
            "vigil_intel_hits_total",
            "Row values that matched an indicator.",
            get(&self.intel_hits),
        );
        counter(
            "vigil_intel_allowed_rows_total",
            "Rows an allow indicator kept from detection.",
            get(&self.intel_allowed),
        );
        counter(
            "vigil_intel_retrohunt_hits_total",
            "Stored rows found by retro-hunts of new indicators.",
            get(&self.intel_retro_hits),
        );
        counter(
            "vigil_intel_syncs_total",
            "Indicator sync streams served to agents.",
            get(&self.intel_syncs),
        );
        counter(
            "vigil_intel_synced_indicators_total",
            "Indicators sent to agents.",
            get(&self.intel_synced_indicators),
        );
        counter(
            "vigil_ingest_seconds_micros_total",
            "Time spent in ingest calls, microseconds.",
            get(&self.ingest_micros),
        );
        let _ = writeln!(
            out,
            "# HELP vigil_store_bytes Bytes on disk per table.\n# TYPE vigil_store_bytes gauge"
        );
        for (table, bytes) in &store.table_bytes {
            let _ = writeln!(out, "vigil_store_bytes{{table=\"{table}\"}} {bytes}");
        }
        let _ = writeln!(out, "# HELP vigil_store_hot_rows Rows in memory, not yet in Parquet.\n# TYPE vigil_store_hot_rows gauge\nvigil_store_hot_rows {}", store.hot_rows);
        let _ = writeln!(out, "# HELP vigil_store_wal_bytes Bytes in the write-ahead log.\n# TYPE vigil_store_wal_bytes gauge\nvigil_store_wal_bytes {}", store.wal_bytes);
        let _ = writeln!(out, "# HELP vigil_store_ingest_lag_seconds Age of the oldest row not yet in Parquet.\n# TYPE vigil_store_ingest_lag_seconds gauge\nvigil_store_ingest_lag_seconds {:.3}", store.ingest_lag.as_secs_f64());
        out
    }
}
