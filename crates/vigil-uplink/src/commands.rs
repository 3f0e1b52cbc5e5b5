//! The agent's side of response actions: the `Commands` stream kept open to the server, a
//! journal so that each action runs once whatever the reconnections, and file transfers.
//!
//! The agent supplies a [`CommandHandler`]; the uplink hands it every new command and the
//! handler answers through a [`Reporter`] (started, succeeded with a result, failed), from
//! its own threads. Reports go to the server on the stream; when the stream is down they wait.
//!
//! **Journal** (`<dir>/journal.jsonl`): a line when an action starts and one when it ends, with
//! its report. A command the journal knows is never run again: if it ended, its final report is
//! sent again (the server re-sends every action it has not seen end, at each connection, so no
//! result is lost to a cut connection); if it started but never ended (the agent died while
//! running it), it is reported failed rather than run twice.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use tonic::transport::Channel;
use vigil_proto::pb::telemetry_client::TelemetryClient;
use vigil_proto::pb::{command_message, Command, CommandReport, FileAck, FileChunk, FileRequest};

/// Bytes per uploaded chunk.
const CHUNK: usize = 1 << 20;
/// Journal entries older than this are forgotten when the journal is rewritten.
const JOURNAL_KEEP_MS: i64 = 30 * 86_400_000;

/// What the agent does with commands.
pub trait CommandHandler: Send + Sync + 'static {
    /// Run `cmd` and report through `reporter`. Called on the uplink's thread: hand the work
    /// to another thread and return at once.
    fn handle(&self, cmd: Command, reporter: Reporter);
    /// A queued command was cancelled: if it has not started, it must not.
    fn cancel(&self, id: &str);
}

/// Where the journal lives and who runs the commands.
#[derive(Clone)]
pub struct CommandOptions {
    pub dir: PathBuf,
    pub handler: Arc<dyn CommandHandler>,
}

impl std::fmt::Debug for CommandOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommandOptions")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Entry {
    id: String,
    at_ms: i64,
    /// `InProgress`, `Succeeded` or `Failed`.
    status: String,
    #[serde(default)]
    result_json: String,
    #[serde(default)]
    error: String,
}

/// The journal of actions this agent started and ended.
struct Journal {
    path: PathBuf,
    file: File,
    entries: HashMap<String, Entry>,
    /// Actions started by this process and not ended yet (a redelivery of one is ignored:
    /// its report follows when it ends).
    running: std::collections::HashSet<String>,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl Journal {
    fn open(dir: &Path) -> std::io::Result<Journal> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join("journal.jsonl");
        let mut entries: HashMap<String, Entry> = HashMap::new();
        if let Ok(f) = File::open(&path) {
            // A torn last line (a crash while writing it) is ignored.
            for line in BufReader::new(f).lines().map_while(Result::ok) {
                if let Ok(e) = serde_json::from_str::<Entry>(&line) {
                    entries.insert(e.id.clone(), e);
                }
            }
        }
        // Rewrite without old entries (and without a torn tail).
        let cut = now_ms() - JOURNAL_KEEP_MS;
        entries.retain(|_, e| e.at_ms >= cut);
        let tmp = dir.join("journal.jsonl.tmp");
        {
            let mut out = std::io::BufWriter::new(File::create(&tmp)?);
            for e in entries.values() {
                serde_json::to_writer(&mut out, e)?;
                out.write_all(b"\n")?;
            }
            out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        }
        std::fs::rename(&tmp, &path)?;
        let file = OpenOptions::new().append(true).open(&path)?;
        Ok(Journal {
            path,
            file,
            entries,
            running: Default::default(),
        })
    }

    fn record(&mut self, e: Entry) {
        let line = serde_json::to_string(&e).unwrap_or_default();
        let res = self
            .file
            .write_all(format!("{line}\n").as_bytes())
            .and_then(|_| self.file.sync_data());
        if let Err(err) = res {
            tracing::warn!(path = %self.path.display(), "cannot write the command journal: {err}");
        }
        if e.status == "InProgress" {
            self.running.insert(e.id.clone());
        } else {
            self.running.remove(&e.id);
        }
        self.entries.insert(e.id.clone(), e);
    }
}

/// How the agent answers a command. Cheap to clone.
#[derive(Clone)]
pub struct Reporter {
    tx: mpsc::UnboundedSender<CommandReport>,
    journal: Arc<Mutex<Journal>>,
    client: TelemetryClient<Channel>,
    runtime: tokio::runtime::Handle,
}

impl Reporter {
    fn report(&self, id: &str, status: &str, result: Option<serde_json::Value>, error: &str) {
        let rep = CommandReport {
            id: id.to_string(),
            status: status.to_string(),
            result_json: result.map(|r| r.to_string()).unwrap_or_default(),
            error: error.to_string(),
        };
        self.journal
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .record(Entry {
                id: rep.id.clone(),
                at_ms: now_ms(),
                status: rep.status.clone(),
                result_json: rep.result_json.clone(),
                error: rep.error.clone(),
            });
        let _ = self.tx.send(rep);
    }

    pub fn started(&self, id: &str) {
        self.report(id, "InProgress", None, "");
    }

    pub fn succeeded(&self, id: &str, result: serde_json::Value) {
        self.report(id, "Succeeded", Some(result), "");
    }

    pub fn failed(&self, id: &str, error: &str) {
        self.report(id, "Failed", None, error);
    }

    /// Send a file to the server for action `action_id` (blocking; call it from the agent's
    /// threads, not the uplink's). At most `max_bytes` are read: a longer file is refused.
    pub fn upload(
        &self,
        action_id: &str,
        path: &Path,
        name: &str,
        max_bytes: u64,
    ) -> Result<FileAck, String> {
        let meta =
            std::fs::metadata(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        if !meta.is_file() {
            return Err(format!("{} is not a regular file", path.display()));
        }
        if meta.len() > max_bytes {
            return Err(format!(
                "{} is {} bytes, over the limit of {max_bytes}",
                path.display(),
                meta.len()
            ));
        }
        // One pass to hash (the server checks it), one to send.
        let mut f = File::open(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let mut hash = Sha256::new();
        let mut buf = vec![0u8; CHUNK];
        let mut size = 0u64;
        loop {
            let n = f
                .read(&mut buf)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            if n == 0 {
                break;
            }
            size += n as u64;
            hash.update(&buf[..n]);
        }
        let digest = hex::encode(hash.finalize());
        let (tx, rx) = mpsc::channel::<FileChunk>(4);
        let reader_path = path.to_path_buf();
        let first = FileChunk {
            action_id: action_id.to_string(),
            name: name.to_string(),
            size,
            sha256: digest.clone(),
            data: Vec::new(),
        };
        // The chunks are read on this thread and sent to the upload running on the uplink's
        // runtime.
        let mut client = self.client.clone();
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        self.runtime.spawn(async move {
            let res = client
                .upload_file(tokio_stream::wrappers::ReceiverStream::new(rx))
                .await
                .map(|r| r.into_inner())
                .map_err(|s| format!("the server refused the upload: {}", s.message()));
            let _ = done_tx.send(res);
        });
        let send = |c: FileChunk| {
            tx.blocking_send(c)
                .map_err(|_| "the upload was cut".to_string())
        };
        send(first)?;
        let mut f = File::open(&reader_path)
            .map_err(|e| format!("cannot read {}: {e}", reader_path.display()))?;
        let mut sent = 0u64;
        loop {
            let mut chunk = vec![0u8; CHUNK];
            let n = f
                .read(&mut chunk)
                .map_err(|e| format!("cannot read {}: {e}", reader_path.display()))?;
            if n == 0 || sent >= size {
                break;
            }
            let n = n.min((size - sent) as usize);
            chunk.truncate(n);
            sent += n as u64;
            if send(FileChunk {
                data: chunk,
                ..FileChunk::default()
            })
            .is_err()
            {
                break;
            }
        }
        drop(tx);
        let ack = done_rx
            .recv_timeout(Duration::from_secs(3600))
            .map_err(|_| "the upload did not finish".to_string())??;
        if ack.sha256 != digest {
            return Err(format!(
                "the file changed while it was sent (SHA-256 {} became {})",
                digest, ack.sha256
            ));
        }
        Ok(ack)
    }

    /// Fetch library file `name` into `dest` (blocking), checking its size and SHA-256;
    /// returns them. The file is written beside `dest` and renamed over it only when whole.
    pub fn download(
        &self,
        name: &str,
        dest: &Path,
        max_bytes: u64,
    ) -> Result<(u64, String), String> {
        let mut client = self.client.clone();
        let req = FileRequest {
            file: name.to_string(),
        };
        let (tx, rx) = std::sync::mpsc::sync_channel::<Result<FileChunk, String>>(4);
        self.runtime.spawn(async move {
            match client.download_file(req).await {
                Ok(resp) => {
                    let mut s = resp.into_inner();
                    loop {
                        match s.message().await {
                            Ok(Some(c)) => {
                                if tx.send(Ok(c)).is_err() {
                                    return;
                                }
                            }
                            Ok(None) => return,
                            Err(e) => {
                                let _ = tx.send(Err(e.message().to_string()));
                                return;
                            }
                        }
                    }
                }
                Err(e) => {
                    let _ = tx.send(Err(format!("the server refused: {}", e.message())));
                }
            }
        });
        let tmp = dest.with_file_name(format!(
            ".{}.vigil-part",
            dest.file_name().and_then(|n| n.to_str()).unwrap_or("file")
        ));
        let result = (|| {
            let mut out =
                File::create(&tmp).map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
            let mut hash = Sha256::new();
            let mut expect: Option<(u64, String)> = None;
            let mut got = 0u64;
            for c in rx.iter() {
                let c = c?;
                if expect.is_none() {
                    if c.size > max_bytes {
                        return Err(format!(
                            "{name} is {} bytes, over the limit of {max_bytes}",
                            c.size
                        ));
                    }
                    expect = Some((c.size, c.sha256.clone()));
                }
                got += c.data.len() as u64;
                if got > expect.as_ref().map_or(0, |e| e.0) {
                    return Err(format!("{name} is longer than the server said"));
                }
                hash.update(&c.data);
                out.write_all(&c.data)
                    .map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
            }
            out.sync_all()
                .map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
            let (size, sha) =
                expect.ok_or_else(|| format!("the server sent nothing for {name}"))?;
            let digest = hex::encode(hash.finalize());
            if got != size || digest != sha {
                return Err(format!(
                    "{name} arrived damaged ({got} bytes, SHA-256 {digest})"
                ));
            }
            std::fs::rename(&tmp, dest)
                .map_err(|e| format!("cannot write {}: {e}", dest.display()))?;
            Ok((size, digest))
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result
    }
}

/// The uplink's command task: keep the stream open, hand new commands to the handler, answer
/// known ones from the journal, send the reports.
pub(crate) async fn run(
    client: TelemetryClient<Channel>,
    opts: CommandOptions,
    on_error: impl Fn(String) + Send + 'static,
) {
    let journal = match Journal::open(&opts.dir) {
        Ok(j) => Arc::new(Mutex::new(j)),
        Err(e) => {
            on_error(format!(
                "commands: cannot open the journal in {}: {e}",
                opts.dir.display()
            ));
            return;
        }
    };
    let (tx, mut reports) = mpsc::unbounded_channel::<CommandReport>();
    let reporter = Reporter {
        tx: tx.clone(),
        journal: Arc::clone(&journal),
        client: client.clone(),
        runtime: tokio::runtime::Handle::current(),
    };
    let mut backoff = Duration::from_millis(500);
    loop {
        let (out_tx, out_rx) = mpsc::channel::<CommandReport>(64);
        let mut c = client.clone();
        let opened = c
            .commands(tokio_stream::wrappers::ReceiverStream::new(out_rx))
            .await;
        let mut inbound = match opened {
            Ok(r) => r.into_inner(),
            Err(s) => {
                on_error(format!("commands: {:?}: {}", s.code(), s.message()));
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(30));
                continue;
            }
        };
        backoff = Duration::from_millis(500);
        loop {
            tokio::select! {
                msg = inbound.message() => match msg {
                    Ok(Some(m)) => match m.body {
                        Some(command_message::Body::Command(cmd)) => {
                            let (known, running) = {
                                let j = journal.lock().unwrap_or_else(|p| p.into_inner());
                                (j.entries.get(&cmd.id).cloned(), j.running.contains(&cmd.id))
                            };
                            match known {
                                // Sent again after a reconnection while it still runs here.
                                Some(_) if running => {}
                                Some(e) if e.status != "InProgress" => {
                                    let _ = tx.send(CommandReport {
                                        id: e.id,
                                        status: e.status,
                                        result_json: e.result_json,
                                        error: e.error,
                                    });
                                }
                                Some(_) => {
                                    // Started before and never ended here: the agent stopped
                                    // while running it. Running it again could do harm twice.
                                    reporter.failed(&cmd.id, "the agent stopped while running this action; it was not run again");
                                }
                                None if cmd.expires_ms > 0 && cmd.expires_ms < now_ms() => {
                                    reporter.failed(&cmd.id, "the action's time to live had passed when it arrived");
                                }
                                None => opts.handler.handle(cmd, reporter.clone()),
                            }
                        }
                        Some(command_message::Body::Cancel(id)) => opts.handler.cancel(&id),
                        None => {}
                    },
                    Ok(None) => break,
                    Err(s) => {
                        on_error(format!("commands: {:?}: {}", s.code(), s.message()));
                        break;
                    }
                },
                rep = reports.recv() => match rep {
                    Some(r) => {
                        if out_tx.send(r).await.is_err() {
                            break;
                        }
                    }
                    None => return,
                },
            }
        }
        tokio::time::sleep(backoff).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_journal_survives_a_reopen_and_drops_a_torn_line() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::open(dir.path()).unwrap();
        j.record(Entry {
            id: "ac_1".into(),
            at_ms: now_ms(),
            status: "InProgress".into(),
            result_json: String::new(),
            error: String::new(),
        });
        j.record(Entry {
            id: "ac_1".into(),
            at_ms: now_ms(),
            status: "Succeeded".into(),
            result_json: "{\"ok\":true}".into(),
            error: String::new(),
        });
        j.record(Entry {
            id: "ac_2".into(),
            at_ms: now_ms(),
            status: "InProgress".into(),
            result_json: String::new(),
            error: String::new(),
        });
        // Only this process's unfinished actions count as running.
        assert!(j.running.contains("ac_2") && !j.running.contains("ac_1"));
        drop(j);
        let mut f = OpenOptions::new()
            .append(true)
            .open(dir.path().join("journal.jsonl"))
            .unwrap();
        f.write_all(b"{\"id\": \"ac_3\", \"at_").unwrap();
        drop(f);
        let j = Journal::open(dir.path()).unwrap();
        assert_eq!(j.entries.len(), 2);
        assert_eq!(j.entries["ac_1"].status, "Succeeded");
        assert_eq!(j.entries["ac_1"].result_json, "{\"ok\":true}");
        assert_eq!(j.entries["ac_2"].status, "InProgress");
        assert!(j.running.is_empty(), "a restart runs nothing yet");
    }
}
