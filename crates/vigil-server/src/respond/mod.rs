//! Response actions on the server: the queue of commands per device (in the state store), the
//! one `Commands` stream each connected agent keeps open, and the files actions move.
//!
//! - An action is queued (`queue`) after its arguments are checked (`kinds.rs`); if its device
//!   is connected it is sent at once, otherwise when the device next connects (`connect`
//!   sends every `Pending` action still within its time to live).
//! - The agent's reports come back on the same stream and move the action along its
//!   lifecycle (`vigil_state::actions`); `changed` wakes whoever waits for a result (live
//!   response).
//! - Files: uploads from devices (`getfile`, investigation packages) are written to
//!   `<data_dir>/files/` while their SHA-256 is computed, checked against what the agent
//!   declared, and only then recorded; library files (`putfile`, scripts) live there too.
//! - A sweeper times out actions whose time to live passed and closes idle live sessions.
//!
//! **Invariant:** a device has at most one command stream; a newer connection replaces the
//! older, which then ends. An action is marked sent only after it was handed to a stream.

pub mod kinds;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use tokio::sync::{mpsc, watch, Notify};
use tonic::{Status, Streaming};
use vigil_proto::pb::{
    command_message, Command, CommandMessage, CommandReport, FileAck, FileChunk,
};
use vigil_state::{NewAction, ResponseAction, StateError, StoredFile};

use crate::{now_ms, Ctx};

/// Bytes per file chunk on the wire.
pub const CHUNK_BYTES: usize = 1 << 20;
/// The largest file a device may upload (a `getfile` limit, or an investigation package).
pub const MAX_UPLOAD_BYTES: u64 = kinds::MAX_GETFILE_BYTES;
/// Live sessions without a command for this long are closed.
const LIVE_IDLE_MS: i64 = 30 * 60_000;

type Outbound = mpsc::Sender<Result<CommandMessage, Status>>;

/// The connected command streams and what waits on action changes.
pub struct Respond {
    streams: Mutex<HashMap<String, (u64, Outbound)>>,
    next_conn: AtomicU64,
    /// Notified whenever an action changes.
    pub changed: Notify,
    files: PathBuf,
}

fn state_err(e: StateError) -> Status {
    match e {
        StateError::NotFound { .. } => Status::not_found(e.to_string()),
        StateError::Invalid { .. } => Status::invalid_argument(e.to_string()),
        e => Status::internal(format!("state store: {e}")),
    }
}

fn command_of(a: &ResponseAction) -> CommandMessage {
    CommandMessage {
        body: Some(command_message::Body::Command(Command {
            id: a.id.clone(),
            kind: a.kind.clone(),
            args_json: a.args.clone(),
            expires_ms: a.expires_ms,
            session_id: a.session_id.clone().unwrap_or_default(),
        })),
    }
}

impl Respond {
    pub fn new(data_dir: &Path) -> std::io::Result<Respond> {
        let files = data_dir.join("files");
        std::fs::create_dir_all(&files)?;
        Ok(Respond {
            streams: Mutex::new(HashMap::new()),
            next_conn: AtomicU64::new(1),
            changed: Notify::new(),
            files,
        })
    }

    /// Where a stored file's bytes are.
    pub fn file_path(&self, id: &str) -> PathBuf {
        self.files.join(id)
    }

    fn stream_of(&self, device: &str) -> Option<Outbound> {
        self.streams
            .lock()
            .expect("streams lock")
            .get(device)
            .map(|(_, tx)| tx.clone())
    }

    /// Whether a device has its command stream open now.
    pub fn connected(&self, device: &str) -> bool {
        self.stream_of(device).is_some()
    }

    /// Queue an action (arguments already checked) and send it if its device is connected.
    pub async fn queue(&self, ctx: &Ctx, new: &NewAction) -> Result<ResponseAction, StateError> {
        let a = ctx.state.create_action(new, now_ms()).await?;
        tracing::info!(action = %a.id, kind = %a.kind, device = %a.device_id, by = %a.requested_by, "action queued");
        self.send(ctx, &a).await;
        self.changed.notify_waiters();
        Ok(a)
    }

    /// Record an action that waits for an operator's approval (not sent until
    /// [`Respond::approve`]).
    pub async fn queue_for_approval(
        &self,
        ctx: &Ctx,
        new: &NewAction,
    ) -> Result<ResponseAction, StateError> {
        let a = ctx.state.create_action_for_approval(new, now_ms()).await?;
        tracing::info!(action = %a.id, kind = %a.kind, device = %a.device_id, by = %a.requested_by, "action awaits approval");
        self.changed.notify_waiters();
        Ok(a)
    }

    /// Approve an action that waits for approval: it becomes `Pending` and is sent.
    pub async fn approve(
        &self,
        ctx: &Ctx,
        id: &str,
        actor: &str,
        comment: &str,
    ) -> Result<ResponseAction, StateError> {
        let a = ctx
            .state
            .approve_action(id, actor, comment, now_ms())
            .await?;
        tracing::info!(action = %a.id, kind = %a.kind, device = %a.device_id, by = %actor, "action approved");
        self.send(ctx, &a).await;
        self.changed.notify_waiters();
        Ok(a)
    }

    async fn send(&self, ctx: &Ctx, a: &ResponseAction) {
        if let Some(tx) = self.stream_of(&a.device_id) {
            if tx.send(Ok(command_of(a))).await.is_ok() {
                if let Err(e) = ctx.state.mark_action_sent(&a.id, now_ms()).await {
                    tracing::warn!(action = %a.id, "cannot mark the action sent: {e}");
                }
            }
        }
    }

    /// Cancel a queued action and tell its device not to start it.
    pub async fn cancel(
        &self,
        ctx: &Ctx,
        id: &str,
        actor: &str,
        comment: &str,
    ) -> Result<ResponseAction, StateError> {
        let a = ctx
            .state
            .cancel_action(id, actor, comment, now_ms())
            .await?;
        if let Some(tx) = self.stream_of(&a.device_id) {
            let _ = tx
                .send(Ok(CommandMessage {
                    body: Some(command_message::Body::Cancel(a.id.clone())),
                }))
                .await;
        }
        self.changed.notify_waiters();
        Ok(a)
    }

    /// Wait until action `id` is final (or `timeout`); returns it as it is then.
    pub async fn wait_final(
        &self,
        ctx: &Ctx,
        id: &str,
        timeout: Duration,
    ) -> Result<ResponseAction, StateError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.changed.notified();
            let a = ctx.state.action(id).await?;
            if a.is_final() || tokio::time::Instant::now() >= deadline {
                return Ok(a);
            }
            let _ = tokio::time::timeout_at(deadline, notified).await;
        }
    }
}

/// Serve one agent's `Commands` stream: register it, send what is pending, and apply the
/// reports that come back until the agent hangs up.
pub fn connect(
    ctx: Arc<Ctx>,
    device_id: String,
    mut reports: Streaming<CommandReport>,
) -> mpsc::Receiver<Result<CommandMessage, Status>> {
    let (tx, rx) = mpsc::channel(64);
    let r = &ctx.respond;
    let conn = r.next_conn.fetch_add(1, Ordering::Relaxed);
    // A newer stream replaces an older one (which then ends: its sender is dropped here).
    r.streams
        .lock()
        .expect("streams lock")
        .insert(device_id.clone(), (conn, tx.clone()));
    tokio::spawn(async move {
        match ctx.state.deliverable_actions(&device_id, now_ms()).await {
            Ok(list) => {
                for a in &list {
                    ctx.respond.send(&ctx, a).await;
                }
            }
            Err(e) => tracing::warn!(device = %device_id, "cannot read pending actions: {e}"),
        }
        loop {
            let msg = reports.message().await;
            match msg {
                Ok(Some(rep)) => {
                    let res = ctx
                        .state
                        .report_action(
                            &device_id,
                            &rep.id,
                            &rep.status,
                            (!rep.result_json.is_empty()).then_some(rep.result_json.as_str()),
                            (!rep.error.is_empty()).then_some(rep.error.as_str()),
                            now_ms(),
                        )
                        .await;
                    match res {
                        Ok(a) => {
                            tracing::info!(action = %a.id, status = %a.status, device = %device_id, "action report");
                            ctx.respond.changed.notify_waiters();
                        }
                        Err(e) => {
                            tracing::warn!(device = %device_id, action = %rep.id, "action report refused: {e}")
                        }
                    }
                }
                Ok(None) => break,
                Err(s) => {
                    tracing::debug!(device = %device_id, "command stream ended: {}", s.message());
                    break;
                }
            }
        }
        let mut streams = ctx.respond.streams.lock().expect("streams lock");
        if streams.get(&device_id).is_some_and(|(c, _)| *c == conn) {
            streams.remove(&device_id);
        }
    });
    rx
}

/// Receive a file a device uploads for one of its actions.
pub async fn receive_upload(
    ctx: &Ctx,
    device_id: &str,
    mut chunks: Streaming<FileChunk>,
) -> Result<FileAck, Status> {
    let first = chunks
        .message()
        .await?
        .ok_or_else(|| Status::invalid_argument("an upload needs at least one chunk"))?;
    let action = ctx
        .state
        .action(&first.action_id)
        .await
        .map_err(state_err)?;
    if action.device_id != device_id {
        return Err(Status::permission_denied(format!(
            "action {} is not this device's",
            action.id
        )));
    }
    if action.is_final() {
        return Err(Status::failed_precondition(format!(
            "action {} is {}: it takes no more files",
            action.id, action.status
        )));
    }
    if first.size > MAX_UPLOAD_BYTES {
        return Err(Status::resource_exhausted(format!(
            "a file of {} bytes is over the limit of {MAX_UPLOAD_BYTES}",
            first.size
        )));
    }
    let name = first.name.rsplit('/').next().unwrap_or("").to_string();
    if name.is_empty() || first.sha256.len() != 64 {
        return Err(Status::invalid_argument(
            "the first chunk must name the file and give its size and SHA-256",
        ));
    }
    let id = vigil_state::new_file_id();
    let tmp = ctx.respond.files.join(format!("{id}.part"));
    let result = async {
        let mut out = tokio::fs::File::create(&tmp)
            .await
            .map_err(|e| Status::internal(format!("cannot store the upload: {e}")))?;
        let mut hash = Sha256::new();
        let mut got: u64 = 0;
        let mut data = first.data;
        loop {
            got += data.len() as u64;
            if got > first.size {
                return Err(Status::invalid_argument(format!(
                    "the upload is longer than the {} bytes it declared",
                    first.size
                )));
            }
            hash.update(&data);
            out.write_all(&data)
                .await
                .map_err(|e| Status::internal(format!("cannot store the upload: {e}")))?;
            match chunks.message().await? {
                Some(c) => data = c.data,
                None => break,
            }
        }
        out.sync_all()
            .await
            .map_err(|e| Status::internal(format!("cannot store the upload: {e}")))?;
        let digest = hex::encode(hash.finalize());
        if got != first.size || digest != first.sha256.to_ascii_lowercase() {
            return Err(Status::data_loss(format!(
                "the upload arrived as {got} bytes with SHA-256 {digest}, not the {} bytes with {} declared",
                first.size, first.sha256
            )));
        }
        Ok(digest)
    }
    .await;
    let digest = match result {
        Ok(d) => d,
        Err(e) => {
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(e);
        }
    };
    tokio::fs::rename(&tmp, ctx.respond.file_path(&id))
        .await
        .map_err(|e| Status::internal(format!("cannot store the upload: {e}")))?;
    ctx.state
        .add_file(&StoredFile {
            id: id.clone(),
            kind: "upload".into(),
            name,
            size: first.size as i64,
            sha256: digest.clone(),
            device_id: Some(device_id.to_string()),
            action_id: Some(action.id.clone()),
            created_ms: now_ms(),
            created_by: device_id.to_string(),
            description: String::new(),
        })
        .await
        .map_err(state_err)?;
    Ok(FileAck {
        file_id: id,
        size: first.size,
        sha256: digest,
    })
}

/// Stream a library file to a device.
pub async fn send_library_file(
    ctx: Arc<Ctx>,
    name: &str,
) -> Result<mpsc::Receiver<Result<FileChunk, Status>>, Status> {
    let f = ctx.state.file(name).await.map_err(state_err)?;
    if f.kind != "library" {
        return Err(Status::permission_denied(format!(
            "{name} is not a library file"
        )));
    }
    let path = ctx.respond.file_path(&f.id);
    let mut file = tokio::fs::File::open(&path)
        .await
        .map_err(|e| Status::internal(format!("cannot read library file {name}: {e}")))?;
    let (tx, rx) = mpsc::channel(4);
    tokio::spawn(async move {
        use tokio::io::AsyncReadExt;
        let mut first = true;
        loop {
            let mut buf = vec![0u8; CHUNK_BYTES];
            let n = match file.read(&mut buf).await {
                Ok(n) => n,
                Err(e) => {
                    let _ = tx.send(Err(Status::internal(e.to_string()))).await;
                    return;
                }
            };
            buf.truncate(n);
            if n == 0 && !first {
                return;
            }
            let chunk = FileChunk {
                action_id: String::new(),
                name: if first { f.name.clone() } else { String::new() },
                size: if first { f.size as u64 } else { 0 },
                sha256: if first {
                    f.sha256.clone()
                } else {
                    String::new()
                },
                data: buf,
            };
            first = false;
            if tx.send(Ok(chunk)).await.is_err() || n == 0 {
                return;
            }
        }
    });
    Ok(rx)
}

/// Time out expired actions and close idle live sessions, every few seconds, until `stop`.
pub async fn sweeper(ctx: Arc<Ctx>, mut stop: watch::Receiver<bool>) {
    loop {
        let now = now_ms();
        match ctx.state.time_out_actions(now).await {
            Ok(0) => {}
            Ok(n) => {
                tracing::info!(actions = n, "actions timed out");
                ctx.respond.changed.notify_waiters();
            }
            Err(e) => tracing::warn!("cannot time out actions: {e}"),
        }
        if let Err(e) = ctx
            .state
            .close_idle_live_sessions(now - LIVE_IDLE_MS, now)
            .await
        {
            tracing::warn!("cannot close idle live sessions: {e}");
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(2)) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}
