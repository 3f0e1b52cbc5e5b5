//! The uplink proper: a thread with its own tokio runtime that turns rows into compressed,
//! numbered batches in the spool, sends the spool to the server with several batches in
//! flight, acknowledges what the server stored, and sends heartbeats.
//!
//! Delivery is at least once: a batch leaves the spool only when the server acknowledged it
//! (after making it durable); after any failure every unacknowledged batch is sent again, and
//! the server deduplicates by (device, boot_id, sequence).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::stream::{FuturesUnordered, StreamExt};
use tokio::sync::{mpsc, Notify};
use tonic::transport::Channel;
use tonic::{Code, Status};
use vigil_proto::pb::telemetry_client::TelemetryClient;
use vigil_proto::pb::{EventBatch, HeartbeatRequest, IndicatorSyncRequest};
use vigil_schema::Row;

use crate::enroll::{endpoint, Enrollment};
use crate::intel_sync::{IndicatorCache, OnIndicators};
use crate::spool::{Spool, SpoolBatch, SpoolId, SpoolOptions};
use crate::UplinkError;

/// How the uplink batches and sends.
#[derive(Debug, Clone)]
pub struct UplinkOptions {
    pub spool: SpoolOptions,
    /// Events in one batch at most.
    pub batch_max_events: usize,
    /// How long the first event of a batch waits for more.
    pub batch_max_delay: Duration,
    /// Batches sent before the first is acknowledged.
    pub in_flight: usize,
    pub heartbeat_interval: Duration,
    pub zstd_level: i32,
    pub agent_version: String,
    /// Keep the server's indicators in a local cache and hand each new set to the agent.
    pub intel: Option<IntelOptions>,
    /// Take response actions from the server and run them with this handler.
    pub commands: Option<crate::commands::CommandOptions>,
}

/// Where the indicator cache lives and who gets the sets.
#[derive(Clone)]
pub struct IntelOptions {
    pub dir: std::path::PathBuf,
    pub on_update: OnIndicators,
    /// The longest wait between two syncs (heartbeats announce changes sooner).
    pub max_interval: Duration,
}

impl std::fmt::Debug for IntelOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntelOptions")
            .field("dir", &self.dir)
            .field("max_interval", &self.max_interval)
            .finish_non_exhaustive()
    }
}

impl UplinkOptions {
    pub fn new(spool: SpoolOptions) -> UplinkOptions {
        UplinkOptions {
            spool,
            batch_max_events: 2_000,
            batch_max_delay: Duration::from_millis(200),
            in_flight: 4,
            heartbeat_interval: Duration::from_secs(30),
            zstd_level: 3,
            agent_version: String::new(),
            intel: None,
            commands: None,
        }
    }
}

/// What the agent tells the server in heartbeats.
#[derive(Debug, Clone, Default)]
pub struct Health {
    pub sensor_mode: String,
    pub hooks_failed: Vec<String>,
    pub events_emitted: u64,
    pub events_dropped: u64,
    pub detail_json: String,
}

/// Counters for `vigil-agent status`.
#[derive(Debug, Clone, Default)]
pub struct UplinkStats {
    pub connected: bool,
    pub batches_acked: u64,
    pub events_acked: u64,
    pub duplicates_reported: u64,
    pub spool_bytes: u64,
    pub spool_pending_events: u64,
    pub last_error: Option<String>,
    /// Indicators held in the local cache, and the server version they are at.
    pub indicators: u64,
    pub indicators_version: u64,
    pub indicators_last_sync_ms: Option<i64>,
}

struct Shared {
    health: Mutex<Health>,
    stats: Mutex<UplinkStats>,
    /// Events the spool dropped (bound hit) or the server refused for good, not yet reported.
    dropped: AtomicU64,
    stop: AtomicBool,
}

/// A running uplink.
pub struct Uplink {
    rows: mpsc::Sender<Vec<Row>>,
    shared: Arc<Shared>,
    thread: Option<std::thread::JoinHandle<()>>,
    boot_id: String,
}

impl Uplink {
    /// Open the spool and start the uplink thread.
    pub fn start(enrollment: Enrollment, opts: UplinkOptions) -> Result<Uplink, UplinkError> {
        let spool = Spool::open(opts.spool.clone()).map_err(|e| UplinkError::Io(e.to_string()))?;
        let intel = match &opts.intel {
            Some(o) => {
                let cache = IndicatorCache::open(&o.dir).map_err(|e| {
                    UplinkError::Io(format!(
                        "cannot open the indicator cache in {}: {e}",
                        o.dir.display()
                    ))
                })?;
                Some(Arc::new(IntelState {
                    cache: Mutex::new(cache),
                    wake: Notify::new(),
                    opts: o.clone(),
                }))
            }
            None => None,
        };
        let boot_id = hex::encode(rand::random::<[u8; 16]>());
        let (tx, rx) = mpsc::channel(64);
        let shared = Arc::new(Shared {
            health: Mutex::new(Health::default()),
            stats: Mutex::new(UplinkStats::default()),
            dropped: AtomicU64::new(0),
            stop: AtomicBool::new(false),
        });
        let endpoint = endpoint(
            &enrollment.server,
            &enrollment.ca_pem,
            Some((&enrollment.cert_pem, &enrollment.key_pem)),
        )?;
        let (shared2, boot2) = (Arc::clone(&shared), boot_id.clone());
        let thread = std::thread::Builder::new()
            .name("uplink".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a current-thread runtime builds");
                // The channel connects lazily and must be made inside the runtime.
                let _guard = rt.enter();
                let task = Task {
                    spool: Arc::new(Mutex::new(spool)),
                    shared: shared2,
                    opts,
                    boot_id: boot2,
                    client: TelemetryClient::new(endpoint.connect_lazy())
                        .max_decoding_message_size(4 << 20)
                        .max_encoding_message_size(64 << 20),
                    kick: Arc::new(Notify::new()),
                    intel,
                };
                rt.block_on(task.run(rx));
            })
            .map_err(|e| UplinkError::Io(format!("cannot start the uplink thread: {e}")))?;
        Ok(Uplink {
            rows: tx,
            shared,
            thread: Some(thread),
            boot_id,
        })
    }

    /// This run's boot id (the namespace of the sequence numbers).
    pub fn boot_id(&self) -> &str {
        &self.boot_id
    }

    /// Hand rows to the uplink; blocks when the uplink is this far behind (back-pressure).
    pub fn send(&self, rows: Vec<Row>) {
        if !rows.is_empty() {
            let _ = self.rows.blocking_send(rows);
        }
    }

    pub fn set_health(&self, health: Health) {
        *self.shared.health.lock().unwrap_or_else(|p| p.into_inner()) = health;
    }

    pub fn stats(&self) -> UplinkStats {
        self.shared
            .stats
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Events lost since the last call (spool bound hit, or refused by the server for good).
    pub fn take_dropped(&self) -> u64 {
        self.shared.dropped.swap(0, Ordering::Relaxed)
    }

    /// Spool what is queued, try to deliver for up to `grace`, then stop. Whatever is not
    /// delivered stays in the spool for the next run.
    pub fn shutdown(mut self, grace: Duration) {
        let rows = std::mem::replace(&mut self.rows, mpsc::channel(1).0);
        drop(rows);
        let deadline = Instant::now() + grace;
        if let Some(t) = self.thread.take() {
            while !t.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            self.shared.stop.store(true, Ordering::Relaxed);
            let _ = t.join();
        }
    }
}

impl Drop for Uplink {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
    }
}

struct Task {
    spool: Arc<Mutex<Spool>>,
    shared: Arc<Shared>,
    opts: UplinkOptions,
    boot_id: String,
    client: TelemetryClient<Channel>,
    /// Woken when the batcher spooled something.
    kick: Arc<Notify>,
    intel: Option<Arc<IntelState>>,
}

/// The indicator cache and what wakes its sync.
struct IntelState {
    cache: Mutex<IndicatorCache>,
    /// Woken when a heartbeat announces a set or version the cache does not hold.
    wake: Notify,
    opts: IntelOptions,
}

/// How a failed upload is handled.
enum Failure {
    /// Network or server trouble: retry everything unacknowledged after a backoff.
    Retry,
    /// The server will never take this batch (malformed, too large): drop it, count it.
    Drop,
    /// The device is not allowed (revoked, unknown certificate): keep spooling, retry slowly.
    Refused,
}

fn classify(s: &Status) -> Failure {
    match s.code() {
        Code::InvalidArgument | Code::ResourceExhausted | Code::OutOfRange => Failure::Drop,
        Code::PermissionDenied | Code::Unauthenticated => Failure::Refused,
        _ => Failure::Retry,
    }
}

impl Task {
    fn lock_spool(&self) -> std::sync::MutexGuard<'_, Spool> {
        self.spool.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn note_error(&self, msg: String) {
        let mut st = self.shared.stats.lock().unwrap_or_else(|p| p.into_inner());
        st.connected = false;
        st.last_error = Some(msg);
    }

    fn refresh_stats(&self, connected: Option<bool>) {
        let (bytes, pending, dropped) = {
            let mut sp = self.lock_spool();
            let d = sp.take_dropped();
            let s = sp.stats();
            (s.bytes_on_disk, s.pending_events, d.events)
        };
        self.shared.dropped.fetch_add(dropped, Ordering::Relaxed);
        let mut st = self.shared.stats.lock().unwrap_or_else(|p| p.into_inner());
        st.spool_bytes = bytes;
        st.spool_pending_events = pending;
        if let Some(c) = connected {
            st.connected = c;
            if c {
                st.last_error = None;
            }
        }
    }

    async fn run(self, rx: mpsc::Receiver<Vec<Row>>) {
        let me = Arc::new(self);
        let batcher = tokio::spawn(Arc::clone(&me).batcher(rx));
        let sender = tokio::spawn(Arc::clone(&me).sender());
        let heartbeat = tokio::spawn(Arc::clone(&me).heartbeats());
        let intel = me
            .intel
            .clone()
            .map(|st| tokio::spawn(Arc::clone(&me).intel_sync(st)));
        let commands = me.opts.commands.clone().map(|c| {
            let me2 = Arc::clone(&me);
            tokio::spawn(crate::commands::run(me.client.clone(), c, move |e| {
                me2.note_error(e)
            }))
        });
        // The batcher ends when the agent drops its sender; then give the sender until stop.
        let _ = batcher.await;
        me.kick.notify_one();
        // Deliver what is spooled until it is all acknowledged or `shutdown`'s grace ends.
        // (Polling the flag, not a notification: a stop that comes first is never missed.)
        while !me.shared.stop.load(Ordering::Relaxed) && me.lock_spool().stats().pending_events > 0
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        sender.abort();
        heartbeat.abort();
        if let Some(t) = intel {
            t.abort();
        }
        if let Some(t) = commands {
            t.abort();
        }
        let _ = me.lock_spool().sync_cursor();
    }

    /// Rows → numbered, compressed batches in the spool.
    async fn batcher(self: Arc<Self>, mut rx: mpsc::Receiver<Vec<Row>>) {
        let mut next_seq: u64 = 0;
        let mut pending: Vec<Row> = Vec::new();
        let mut first_at = Instant::now();
        loop {
            let wait = if pending.is_empty() {
                Duration::from_secs(3600)
            } else {
                self.opts.batch_max_delay.saturating_sub(first_at.elapsed())
            };
            let got = tokio::time::timeout(wait, rx.recv()).await;
            let closed = matches!(got, Ok(None));
            if let Ok(Some(rows)) = got {
                if pending.is_empty() {
                    first_at = Instant::now();
                }
                pending.extend(rows);
            }
            let due = closed
                || pending.len() >= self.opts.batch_max_events
                || (!pending.is_empty() && first_at.elapsed() >= self.opts.batch_max_delay);
            if due && !pending.is_empty() {
                let batches: Vec<SpoolBatch> = pending
                    .chunks(self.opts.batch_max_events)
                    .map(|chunk| {
                        let b = vigil_proto::encode_batch(
                            &self.boot_id,
                            next_seq,
                            chunk,
                            self.opts.zstd_level,
                        );
                        next_seq += chunk.len() as u64;
                        SpoolBatch {
                            boot_id: b.boot_id,
                            first_seq: b.first_seq,
                            count: b.count,
                            payload: encode_spooled(b.compression, b.raw_size, b.payload),
                        }
                    })
                    .collect();
                pending.clear();
                let res = self.lock_spool().append_many(&batches);
                if let Err(e) = res {
                    // The rows are lost: count them so the agent reports it.
                    let n: u64 = batches.iter().map(|b| b.count as u64).sum();
                    self.shared.dropped.fetch_add(n, Ordering::Relaxed);
                    self.note_error(format!("spool: {e}"));
                }
                self.kick.notify_one();
            }
            if closed {
                return;
            }
        }
    }

    /// Spool → server, `in_flight` batches at a time.
    async fn sender(self: Arc<Self>) {
        let mut backoff = Duration::from_millis(250);
        loop {
            match self.send_round().await {
                Ok(true) => {
                    backoff = Duration::from_millis(250);
                }
                Ok(false) => {
                    // Nothing to send: wait for the batcher.
                    let _ =
                        tokio::time::timeout(Duration::from_secs(1), self.kick.notified()).await;
                }
                Err(refused) => {
                    let cap = if refused {
                        Duration::from_secs(60)
                    } else {
                        Duration::from_secs(15)
                    };
                    let jitter = Duration::from_millis(rand::random::<u64>() % 250);
                    tokio::time::sleep(backoff + jitter).await;
                    backoff = (backoff * 2).min(cap);
                }
            }
        }
    }

    /// Send everything unacknowledged; Ok(false) when there was nothing, Err(refused) after a failure.
    async fn send_round(&self) -> Result<bool, bool> {
        let mut after: Option<SpoolId> = None;
        let mut inflight = FuturesUnordered::new();
        let mut ready = std::collections::VecDeque::new();
        let mut sent_any = false;
        loop {
            while inflight.len() < self.opts.in_flight {
                if ready.is_empty() {
                    match self.lock_spool().read_from(after, self.opts.in_flight * 2) {
                        Ok(v) => ready.extend(v),
                        Err(e) => self.note_error(format!("spool: {e}")),
                    }
                }
                let Some(batch) = ready.pop_front() else {
                    break;
                };
                after = Some(batch.0);
                sent_any = true;
                let mut client = self.client.clone();
                inflight.push(async move {
                    let (id, sb) = batch;
                    let count = sb.count;
                    let req = decode_spooled(sb);
                    (id, count, client.upload(req).await)
                });
            }
            let Some((id, count, result)) = inflight.next().await else {
                return Ok(sent_any);
            };
            match result {
                Ok(ack) => {
                    let ack = ack.into_inner();
                    let _ = self.lock_spool().ack(id);
                    let mut st = self.shared.stats.lock().unwrap_or_else(|p| p.into_inner());
                    st.batches_acked += 1;
                    st.events_acked += count as u64;
                    st.duplicates_reported += ack.duplicates as u64;
                    drop(st);
                    self.refresh_stats(Some(true));
                }
                Err(status) => match classify(&status) {
                    Failure::Drop => {
                        tracing::warn!(
                            "server refused a batch of {count} events for good: {}",
                            status.message()
                        );
                        let _ = self.lock_spool().ack(id);
                        self.shared
                            .dropped
                            .fetch_add(count as u64, Ordering::Relaxed);
                    }
                    f => {
                        let refused = matches!(f, Failure::Refused);
                        self.note_error(format!("{:?}: {}", status.code(), status.message()));
                        // Let the others finish (their acks still count), then back off.
                        while let Some((id, count, r)) = inflight.next().await {
                            if r.is_ok() {
                                let _ = self.lock_spool().ack(id);
                                let mut st =
                                    self.shared.stats.lock().unwrap_or_else(|p| p.into_inner());
                                st.batches_acked += 1;
                                st.events_acked += count as u64;
                            }
                        }
                        let _ = self.lock_spool().sync_cursor();
                        self.refresh_stats(None);
                        return Err(refused);
                    }
                },
            }
        }
    }

    async fn heartbeats(self: Arc<Self>) {
        loop {
            let req = {
                let h = self
                    .shared
                    .health
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .clone();
                let st = self.lock_spool().stats();
                HeartbeatRequest {
                    boot_id: self.boot_id.clone(),
                    agent_version: self.opts.agent_version.clone(),
                    sensor_mode: h.sensor_mode,
                    hooks_failed: h.hooks_failed,
                    events_emitted: h.events_emitted,
                    events_dropped: h.events_dropped,
                    spool_bytes: st.bytes_on_disk,
                    spool_pending_events: st.pending_events,
                    spool_oldest_unix_ms: st
                        .oldest_pending_age
                        .map(|age| {
                            let now = std::time::SystemTime::now()
                                .duration_since(std::time::UNIX_EPOCH)
                                .unwrap_or_default();
                            now.saturating_sub(age).as_millis() as i64
                        })
                        .unwrap_or(0),
                    detail_json: h.detail_json,
                }
            };
            let mut client = self.client.clone();
            let interval = match client.heartbeat(req).await {
                Ok(r) => {
                    self.refresh_stats(Some(true));
                    let r = r.into_inner();
                    if let Some(st) = &self.intel {
                        let cache = st.cache.lock().unwrap_or_else(|p| p.into_inner());
                        if cache.set_id() != r.indicators_set_id
                            || cache.version() != r.indicators_version
                        {
                            st.wake.notify_one();
                        }
                    }
                    let s = r.interval_seconds;
                    if s == 0 {
                        self.opts.heartbeat_interval
                    } else {
                        Duration::from_secs(s as u64)
                    }
                }
                Err(status) => {
                    self.note_error(format!(
                        "heartbeat: {:?}: {}",
                        status.code(),
                        status.message()
                    ));
                    self.opts.heartbeat_interval.min(Duration::from_secs(10))
                }
            };
            tokio::time::sleep(interval).await;
        }
    }
}

impl Task {
    /// Keep the indicator cache in step with the server: sync at start, when a heartbeat
    /// announces a change, and at least every `max_interval`; hand the live set to the agent
    /// at start (from the cache: protection works before the server answers), after each
    /// change and when an indicator expires.
    async fn intel_sync(self: Arc<Self>, st: Arc<IntelState>) {
        publish(&self, &st).await;
        let mut backoff = Duration::from_secs(1);
        loop {
            let wait = match self.sync_once(&st).await {
                Ok(changed) => {
                    backoff = Duration::from_secs(1);
                    if changed {
                        publish(&self, &st).await;
                    }
                    let now = now_ms();
                    let next = st
                        .cache
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .next_expiry(now);
                    let until_expiry = next.map(|e| Duration::from_millis((e - now) as u64 + 1));
                    until_expiry.map_or(st.opts.max_interval, |d| d.min(st.opts.max_interval))
                }
                Err(e) => {
                    self.note_error(format!("indicator sync: {e}"));
                    let b = backoff;
                    backoff = (backoff * 2).min(Duration::from_secs(60));
                    b
                }
            };
            tokio::select! {
                _ = st.wake.notified() => {}
                _ = tokio::time::sleep(wait) => {
                    // An expiry passed (or the interval): the live set may have changed.
                    publish(&self, &st).await;
                }
            }
        }
    }

    /// One sync; whether the cache changed.
    async fn sync_once(&self, st: &IntelState) -> Result<bool, String> {
        let req = {
            let c = st.cache.lock().unwrap_or_else(|p| p.into_inner());
            IndicatorSyncRequest {
                set_id: c.set_id().to_string(),
                since_version: c.version(),
            }
        };
        let before = req.clone();
        let mut client = self.client.clone();
        let mut stream = client
            .sync_indicators(req)
            .await
            .map_err(|s| format!("{:?}: {}", s.code(), s.message()))?
            .into_inner();
        let mut changed = false;
        loop {
            let next = stream.message().await;
            let mut c = st.cache.lock().unwrap_or_else(|p| p.into_inner());
            match next {
                Ok(Some(chunk)) => {
                    changed |= chunk.full || !chunk.upserts.is_empty() || !chunk.removed.is_empty();
                    let last = chunk.last;
                    if let Err(e) = c.apply(chunk) {
                        let _ = c.abort();
                        return Err(e);
                    }
                    if last {
                        changed |=
                            c.set_id() != before.set_id || c.version() != before.since_version;
                        return Ok(changed);
                    }
                }
                Ok(None) => {
                    let _ = c.abort();
                    return Err("the server ended the sync before its last chunk".into());
                }
                Err(s) => {
                    let _ = c.abort();
                    return Err(format!("{:?}: {}", s.code(), s.message()));
                }
            }
        }
    }
}

/// Build the live set from the cache (off the runtime: a million indicators take a moment)
/// and hand it to the agent.
async fn publish(task: &Arc<Task>, st: &Arc<IntelState>) {
    let st2 = Arc::clone(st);
    let built = tokio::task::spawn_blocking(move || {
        let c = st2.cache.lock().unwrap_or_else(|p| p.into_inner());
        (Arc::new(c.live_set(now_ms())), c.len(), c.version())
    })
    .await;
    if let Ok((set, held, version)) = built {
        {
            let mut s = task.shared.stats.lock().unwrap_or_else(|p| p.into_inner());
            s.indicators = held as u64;
            s.indicators_version = version;
            s.indicators_last_sync_ms = Some(now_ms());
        }
        (st.opts.on_update)(set);
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// The spool keeps the compressed payload with a small header: compression (1 byte) and the
/// decompressed size (4 bytes, little-endian).
fn encode_spooled(compression: i32, raw_size: u32, payload: Vec<u8>) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 5);
    out.push(compression as u8);
    out.extend_from_slice(&raw_size.to_le_bytes());
    out.extend_from_slice(&payload);
    out
}

fn decode_spooled(b: SpoolBatch) -> EventBatch {
    let (compression, raw_size, payload) = if b.payload.len() >= 5 {
        let raw = u32::from_le_bytes([b.payload[1], b.payload[2], b.payload[3], b.payload[4]]);
        (b.payload[0] as i32, raw, b.payload[5..].to_vec())
    } else {
        // A spool record too short for its header: the server refuses it and it is dropped.
        (0, 0, Vec::new())
    };
    EventBatch {
        boot_id: b.boot_id,
        first_seq: b.first_seq,
        count: b.count,
        compression,
        payload,
        raw_size,
    }
}

#[cfg(test)]
mod tests {
    use vigil_schema::{Col, Table, Timestamp};

    use super::*;

    /// An enrolment with real certificates for a server that is not there.
    fn unreachable_enrollment() -> Enrollment {
        let ca = vigil_pki::Ca::create("Test").unwrap();
        let (key_pem, csr) = vigil_pki::device_key_and_csr("dev-1").unwrap();
        let cert = ca.sign_device_csr(&csr, "dev-1", 1).unwrap();
        Enrollment {
            server: "127.0.0.1:1".into(),
            device_id: "dev-1".into(),
            not_after_unix: cert.not_after_unix,
            ca_pem: ca.cert_pem().to_string(),
            cert_pem: cert.cert_pem,
            key_pem,
        }
    }

    #[test]
    fn shutdown_with_the_server_down_spools_everything_and_returns() {
        let dir = tempfile::tempdir().unwrap();
        let mut opts = UplinkOptions::new(SpoolOptions::new(dir.path().join("spool")));
        opts.batch_max_delay = Duration::from_millis(10);
        let up = Uplink::start(unreachable_enrollment(), opts.clone()).unwrap();
        let rows: Vec<Row> = (0..250)
            .map(|i| {
                let mut r = Row::event(Table::DeviceFileEvents, "FileCreated", Timestamp(i));
                r.put(Col::FolderPath, format!("/tmp/{i}"));
                r
            })
            .collect();
        up.send(rows);
        let t = Instant::now();
        up.shutdown(Duration::from_millis(300));
        assert!(t.elapsed() < Duration::from_secs(10), "shutdown hung");
        // Nothing was acknowledged, so the next run finds all of it in the spool.
        let spool = Spool::open(opts.spool).unwrap();
        assert_eq!(spool.stats().pending_events, 250);
    }
}
