//! The gRPC services agents call: `Enrollment` (token + CSR → certificate; no client
//! certificate needed) and `Telemetry` (batches and heartbeats; the device certificate is
//! checked against the state store on every call, so a revoked device is refused at once).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tonic::{Request, Response, Status};
use vigil_proto::pb::enrollment_server::Enrollment;
use vigil_proto::pb::telemetry_server::Telemetry;
use vigil_proto::pb::{
    BatchAck, CommandMessage, CommandReport, EnrollRequest, EnrollResponse, EventBatch, FileAck,
    FileChunk, FileRequest, HeartbeatRequest, HeartbeatResponse, IndicatorChunk,
    IndicatorSyncRequest,
};
use vigil_schema::wire::{self, WireEvents};
use vigil_schema::{Col, Table};
use vigil_state::{DeviceAuthError, DeviceSeen, NewDevice, RedeemError};
use vigil_store::{IngestBatch, StoreError};

use crate::{now_ms, Ctx};

/// How often an uploading device's last-seen time is written, at most.
const TOUCH_EVERY: Duration = Duration::from_secs(10);

pub struct EnrollmentService {
    pub ctx: Arc<Ctx>,
}

pub struct TelemetryService {
    pub ctx: Arc<Ctx>,
    touched: Mutex<HashMap<String, Instant>>,
}

impl TelemetryService {
    pub fn new(ctx: Arc<Ctx>) -> TelemetryService {
        TelemetryService {
            ctx,
            touched: Mutex::new(HashMap::new()),
        }
    }
}

/// A device id must be usable as a certificate CN and a path-free identifier.
fn valid_device_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

#[tonic::async_trait]
impl Enrollment for EnrollmentService {
    async fn enroll(
        &self,
        req: Request<EnrollRequest>,
    ) -> Result<Response<EnrollResponse>, Status> {
        let r = req.into_inner();
        if !valid_device_id(&r.device_id) {
            return Err(Status::invalid_argument(format!(
                "device id {:?} is not valid (1-128 characters of letters, digits, '-', '_', '.')",
                r.device_id
            )));
        }
        let now = now_ms();
        let token = self
            .ctx
            .state
            .redeem_enrollment_token(&r.token, now)
            .await
            .map_err(|e| match e {
                RedeemError::State(e) => Status::internal(format!("state store: {e}")),
                other => Status::permission_denied(format!("enrolment refused: {other}")),
            })?;
        let issued = self
            .ctx
            .ca
            .sign_device_csr(
                &r.csr_pem,
                &r.device_id,
                self.ctx.cfg.server.device_cert_days,
            )
            .map_err(|e| {
                Status::invalid_argument(format!("bad certificate signing request: {e}"))
            })?;
        let name = if r.device_name.is_empty() {
            r.device_id.clone()
        } else {
            r.device_name.clone()
        };
        self.ctx
            .state
            .upsert_enrolled_device(&NewDevice {
                device_id: r.device_id.clone(),
                name,
                cert_serial: issued.serial_hex.clone(),
                cert_fingerprint: issued.fingerprint_sha256.clone(),
                cert_not_after_ms: issued.not_after_unix * 1000,
                enrollment_token_id: Some(token.id.clone()),
                enrolled_ms: now,
            })
            .await
            .map_err(|e| Status::internal(format!("state store: {e}")))?;
        tracing::info!(device = %r.device_id, token = %token.id, "device enrolled");
        Ok(Response::new(EnrollResponse {
            device_id: r.device_id,
            certificate_pem: issued.cert_pem,
            ca_pem: self.ctx.ca.cert_pem().to_string(),
            not_after_unix: issued.not_after_unix,
        }))
    }
}

impl TelemetryService {
    /// The device behind the request's client certificate, if it may talk.
    async fn authorize<T>(&self, req: &Request<T>) -> Result<vigil_state::Device, Status> {
        let certs = req.peer_certs().ok_or_else(|| {
            Status::unauthenticated("a device certificate is required: enrol the agent first")
        })?;
        let leaf = certs
            .first()
            .ok_or_else(|| Status::unauthenticated("a device certificate is required"))?;
        let id = vigil_pki::peer_identity(leaf)
            .map_err(|e| Status::unauthenticated(format!("unusable client certificate: {e}")))?;
        self.ctx
            .state
            .authorize_device(&id.device_id, &id.fingerprint_sha256)
            .await
            .map_err(|e| match e {
                DeviceAuthError::State(e) => Status::internal(format!("state store: {e}")),
                e @ DeviceAuthError::Unknown { .. } => Status::unauthenticated(e.to_string()),
                other => Status::permission_denied(other.to_string()),
            })
    }

    fn due_touch(&self, device: &str) -> bool {
        let mut t = self.touched.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        match t.get(device) {
            Some(at) if now.duration_since(*at) < TOUCH_EVERY => false,
            _ => {
                t.insert(device.to_string(), now);
                true
            }
        }
    }
}

/// What one pass over a batch's event headers finds: the first event of a table agents may
/// not write (the alert tables), and the last `DeviceInfo` event.
struct Peeked {
    server_only: Option<(usize, Table)>,
    device_info: Option<usize>,
}

fn peek(events: &WireEvents) -> Peeked {
    let mut p = Peeked {
        server_only: None,
        device_info: None,
    };
    for i in 0..events.len() {
        match wire::peek_table(events.event(i)) {
            Some(Table::DeviceInfo) => p.device_info = Some(i),
            Some(t) if !t.written_by_agents() && p.server_only.is_none() => {
                p.server_only = Some((i, t))
            }
            _ => {}
        }
    }
    p
}

/// Facts from the `DeviceInfo` event at `last` that the device list shows: platform, version,
/// kernel. Only that event is decoded here; the store decodes (and checks) them all.
fn device_info(events: &WireEvents, last: usize) -> Option<(String, String, String)> {
    let info = wire::decode_event(events.event(last), last).ok()?;
    let s = |c| info.get_str(c).unwrap_or_default().to_string();
    let kernel = info
        .extra()
        .and_then(|x| x.get("kernel"))
        .and_then(|k| match k {
            vigil_schema::Dynamic::String(s) => Some(s.clone()),
            _ => None,
        })
        .unwrap_or_default();
    Some((s(Col::OSPlatform), s(Col::OSVersion), kernel))
}

fn non_empty(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}

#[tonic::async_trait]
impl Telemetry for TelemetryService {
    async fn upload(&self, req: Request<EventBatch>) -> Result<Response<BatchAck>, Status> {
        let device = self.authorize(&req).await?;
        let batch = req.into_inner();
        let limits = vigil_proto::Limits {
            max_events: self.ctx.cfg.ingest.max_batch_events,
            max_raw_bytes: self.ctx.cfg.ingest.max_batch_bytes,
        };
        let (boot_id, first_seq, count) = (batch.boot_id.clone(), batch.first_seq, batch.count);
        let ctx = Arc::clone(&self.ctx);
        let dev_id = device.id.clone();
        let dev_id_for_detection = device.id.clone();
        let started = Instant::now();
        let (outcome, info) = tokio::task::spawn_blocking(move || {
            let events = vigil_proto::split_batch(&batch, limits).map_err(|e| {
                ctx.metrics
                    .batches_refused
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                Status::invalid_argument(format!(
                    "batch {}/{} refused: {e}",
                    batch.boot_id, batch.first_seq
                ))
            })?;
            let peeked = peek(&events);
            if let Some((i, table)) = peeked.server_only {
                ctx.metrics
                    .batches_refused
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                return Err(Status::invalid_argument(format!(
                    "batch {}/{} refused: event {i} is a {} row, a table only the server writes",
                    batch.boot_id,
                    batch.first_seq,
                    table.name()
                )));
            }
            let info = peeked.device_info.and_then(|i| device_info(&events, i));
            // The store gives every row the certificate's DeviceId, whatever the rows claim.
            let (outcome, stored_rows) = ctx
                .store
                .append_returning_rows(IngestBatch {
                    device_id: dev_id,
                    boot_id: batch.boot_id,
                    first_seq: batch.first_seq,
                    events,
                })
                .map_err(|e| match e {
                    StoreError::InvalidBatch { .. } => {
                        ctx.metrics
                            .batches_refused
                            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        Status::invalid_argument(e.to_string())
                    }
                    e => Status::unavailable(format!("the server cannot store the batch now: {e}")),
                })?;
            if let Some(d) = &ctx.detector {
                d.submit(&dev_id_for_detection, stored_rows);
            }
            Ok::<_, Status>((outcome, info))
        })
        .await
        .map_err(|e| Status::internal(format!("ingest task failed: {e}")))??;
        self.ctx.metrics.record_batch(
            outcome.stored as u64,
            outcome.duplicates as u64,
            started.elapsed(),
        );

        if info.is_some() || self.due_touch(&device.id) {
            let mut seen = DeviceSeen {
                seen_ms: now_ms(),
                events_received: outcome.stored as u64,
                ..DeviceSeen::default()
            };
            if let Some((platform, version, kernel)) = info {
                seen.os_platform = non_empty(platform);
                seen.os_version = non_empty(version);
                seen.kernel = non_empty(kernel);
            }
            if let Err(e) = self.ctx.state.touch_device(&device.id, &seen).await {
                tracing::warn!(device = %device.id, "cannot record last-seen: {e}");
            }
        }
        Ok(Response::new(BatchAck {
            boot_id,
            first_seq,
            count,
            duplicates: outcome.duplicates as u32,
        }))
    }

    async fn heartbeat(
        &self,
        req: Request<HeartbeatRequest>,
    ) -> Result<Response<HeartbeatResponse>, Status> {
        let device = self.authorize(&req).await?;
        let h = req.into_inner();
        // Counters in heartbeats are totals for the agent run (boot_id); drops since the
        // previous heartbeat of the same run make the device Impaired.
        let prev: serde_json::Value = device
            .health_detail
            .as_deref()
            .and_then(|d| serde_json::from_str(d).ok())
            .unwrap_or_default();
        let prev_dropped = if prev["boot_id"].as_str() == Some(h.boot_id.as_str()) {
            prev["events_dropped"].as_u64().unwrap_or(0)
        } else {
            0
        };
        let new_drops = h.events_dropped.saturating_sub(prev_dropped);
        let impaired = h.sensor_mode.starts_with("degraded") || new_drops > 0;
        let detail = serde_json::json!({
            "boot_id": h.boot_id,
            "hooks_failed": h.hooks_failed,
            "events_emitted": h.events_emitted,
            "events_dropped": h.events_dropped,
            "spool_bytes": h.spool_bytes,
            "spool_pending_events": h.spool_pending_events,
            "spool_oldest_unix_ms": h.spool_oldest_unix_ms,
            "agent": serde_json::from_str::<serde_json::Value>(&h.detail_json).unwrap_or(serde_json::Value::Null),
        });
        let seen = DeviceSeen {
            seen_ms: now_ms(),
            health: Some(if impaired { "Impaired" } else { "Active" }.to_string()),
            agent_version: non_empty(h.agent_version),
            sensor_mode: non_empty(h.sensor_mode),
            events_dropped: new_drops,
            health_detail: Some(detail.to_string()),
            ..DeviceSeen::default()
        };
        self.ctx
            .state
            .touch_device(&device.id, &seen)
            .await
            .map_err(|e| Status::internal(format!("state store: {e}")))?;
        let intel = self.ctx.intel.version();
        Ok(Response::new(HeartbeatResponse {
            server_time_unix_ms: now_ms(),
            interval_seconds: self.ctx.cfg.server.heartbeat_interval_secs,
            indicators_set_id: intel
                .as_ref()
                .map(|v| crate::intel::sync::device_set_id(&v.set_id, device.group.as_deref()))
                .unwrap_or_default(),
            indicators_version: intel.map_or(0, |v| v.version),
        }))
    }

    type SyncIndicatorsStream =
        tokio_stream::wrappers::ReceiverStream<Result<IndicatorChunk, Status>>;

    async fn sync_indicators(
        &self,
        req: Request<IndicatorSyncRequest>,
    ) -> Result<Response<Self::SyncIndicatorsStream>, Status> {
        let device = self.authorize(&req).await?;
        let rx = crate::intel::sync::start(Arc::clone(&self.ctx), device, req.into_inner());
        Ok(Response::new(tokio_stream::wrappers::ReceiverStream::new(
            rx,
        )))
    }

    type CommandsStream = tokio_stream::wrappers::ReceiverStream<Result<CommandMessage, Status>>;

    async fn commands(
        &self,
        req: Request<tonic::Streaming<CommandReport>>,
    ) -> Result<Response<Self::CommandsStream>, Status> {
        let device = self.authorize(&req).await?;
        let rx = crate::respond::connect(Arc::clone(&self.ctx), device.id, req.into_inner());
        Ok(Response::new(tokio_stream::wrappers::ReceiverStream::new(
            rx,
        )))
    }

    async fn upload_file(
        &self,
        req: Request<tonic::Streaming<FileChunk>>,
    ) -> Result<Response<FileAck>, Status> {
        let device = self.authorize(&req).await?;
        let ack = crate::respond::receive_upload(&self.ctx, &device.id, req.into_inner()).await?;
        tracing::info!(device = %device.id, file = %ack.file_id, bytes = ack.size, "file uploaded");
        Ok(Response::new(ack))
    }

    type DownloadFileStream = tokio_stream::wrappers::ReceiverStream<Result<FileChunk, Status>>;

    async fn download_file(
        &self,
        req: Request<FileRequest>,
    ) -> Result<Response<Self::DownloadFileStream>, Status> {
        self.authorize(&req).await?;
        let rx = crate::respond::send_library_file(Arc::clone(&self.ctx), &req.into_inner().file)
            .await?;
        Ok(Response::new(tokio_stream::wrappers::ReceiverStream::new(
            rx,
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_ids_are_checked() {
        assert!(valid_device_id("3f2a-host_1.lab"));
        for bad in ["", "a/b", "a b", "x\n", &"a".repeat(129)] {
            assert!(!valid_device_id(bad), "{bad:?}");
        }
    }
}
