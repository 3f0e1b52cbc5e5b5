//! Indicator sync to agents: the `SyncIndicators` stream.
//!
//! An agent says which set and version it holds. The server answers with a delta (rows
//! changed above that version, and the ids deleted since) or, when the agent holds nothing,
//! another database's set, or a version below the floor of kept tombstones, a full snapshot.
//! Indicators scoped to device groups the device is not in, and indicators already expired,
//! are not sent (a delta names them as removed, in case the device held them).
//!
//! The set id an agent holds names the database's set *and* the device group it was synced
//! for ([`device_set_id`]), so moving a device to another group makes its next sync a full one.
//!
//! Chunks carry at most [`CHUNK`] indicators; the stream is produced by a task that reads the
//! state store page by page, so memory stays bounded whatever the set's size.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use tokio::sync::mpsc;
use tonic::Status;
use vigil_proto::intel::to_synced;
use vigil_proto::pb::{IndicatorChunk, IndicatorSyncRequest};
use vigil_state::Device;

use crate::{now_ms, Ctx};

/// Indicators per chunk.
pub const CHUNK: u32 = 5000;

/// The set id a device in `group` holds: the database's set, for that group.
pub fn device_set_id(set_id: &str, group: Option<&str>) -> String {
    format!("{set_id}/{}", group.unwrap_or(""))
}

/// Start producing the chunks of one sync; the receiver is the gRPC response stream.
pub fn start(
    ctx: Arc<Ctx>,
    device: Device,
    req: IndicatorSyncRequest,
) -> mpsc::Receiver<Result<IndicatorChunk, Status>> {
    let (tx, rx) = mpsc::channel(4);
    tokio::spawn(async move {
        if let Err(e) = produce(&ctx, &device, &req, &tx).await {
            let _ = tx.send(Err(e)).await;
        }
    });
    rx
}

async fn produce(
    ctx: &Ctx,
    device: &Device,
    req: &IndicatorSyncRequest,
    tx: &mpsc::Sender<Result<IndicatorChunk, Status>>,
) -> Result<(), Status> {
    let internal = |e: vigil_state::StateError| Status::internal(format!("state store: {e}"));
    let v = ctx.state.intel_version().await.map_err(internal)?;
    let group = device.group.as_deref();
    let set_id = device_set_id(&v.set_id, group);
    let full = req.set_id != set_id
        || req.since_version == 0
        || req.since_version < v.floor
        || req.since_version > v.version;
    let since = if full { 0 } else { req.since_version };
    ctx.metrics.intel_syncs.fetch_add(1, Ordering::Relaxed);
    let now = now_ms();
    let mut after = None;
    let mut first = true;
    loop {
        let page = ctx
            .state
            .indicator_changes(since, after, CHUNK)
            .await
            .map_err(internal)?;
        let mut chunk = IndicatorChunk {
            set_id: set_id.clone(),
            version: v.version,
            full: full && first,
            upserts: Vec::with_capacity(page.upserts.len()),
            removed: if full { Vec::new() } else { page.removed },
            last: page.next.is_none(),
        };
        for ind in &page.upserts {
            if ind.is_live(now) && ind.applies_to_group(group) {
                chunk.upserts.push(to_synced(ind));
            } else if !full {
                chunk.removed.push(ind.id);
            }
        }
        ctx.metrics
            .intel_synced_indicators
            .fetch_add(chunk.upserts.len() as u64, Ordering::Relaxed);
        if tx.send(Ok(chunk)).await.is_err() {
            // The agent went away; it asks again later.
            return Ok(());
        }
        first = false;
        match page.next {
            Some(n) => after = Some(n),
            None => return Ok(()),
        }
    }
}
