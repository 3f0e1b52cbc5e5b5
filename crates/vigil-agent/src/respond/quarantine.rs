//! Stop and quarantine a file (`quarantine`, `live.remediate`) and put it back (`restore`).
//!
//! Quarantine, in order: check the file (a regular file; its SHA-256 when the action names
//! one), kill the processes that run it, remove the persistence entries that name it, move
//! it into vigil-scan's encrypted vault (`<state_dir>/quarantine`). What was removed is kept
//! beside the vault (`<state_dir>/respond/quarantined/<id>.json`) so that `restore` puts the
//! file and its entries back; the action's result lists them.
//!
//! **Invariant:** if the file cannot be moved into the vault, the persistence entries already
//! removed are put back, so a failed quarantine leaves the device as it found it (but for the
//! killed processes).

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use vigil_scan::{Engine, Limits, Quarantine, QuarantineId, RestoreOptions, Verdict};

use super::error::{RespondError, Result};
use super::persistence::{self, Removed};

/// What a quarantine removed, for its restore.
#[derive(Debug, Serialize, Deserialize)]
struct Record {
    id: String,
    path: PathBuf,
    sha256: String,
    action_id: String,
    removed: Vec<Removed>,
}

fn vault(state_dir: &Path) -> Result<Quarantine> {
    Quarantine::open(state_dir.join("quarantine"))
        .map_err(|e| RespondError::Failed(format!("cannot open the quarantine vault: {e}")))
}

fn record_path(dir: &Path, id: &str) -> PathBuf {
    dir.join("quarantined").join(format!("{id}.json"))
}

/// Stop and quarantine `path`.
pub fn quarantine(
    state_dir: &Path,
    dir: &Path,
    engine: Option<&Engine>,
    path: &Path,
    sha256: Option<&str>,
    action_id: &str,
) -> Result<Value> {
    let m = std::fs::symlink_metadata(path).map_err(RespondError::io("quarantine", path))?;
    if !m.is_file() {
        return Err(RespondError::NotAFile {
            path: path.to_path_buf(),
        });
    }
    let digest = super::files::sha256_file(path).map_err(RespondError::io("read", path))?;
    if let Some(want) = sha256 {
        if !want.eq_ignore_ascii_case(&digest) {
            return Err(RespondError::Refused(format!(
                "{} has SHA-256 {digest}, not the {want} the action names: nothing was done",
                path.display()
            )));
        }
    }
    let vault = vault(state_dir)?;
    // Name the threat when the engine knows it.
    let (threat, rule) = match engine.map(|e| e.scan_file(path, &Limits::default()).verdict) {
        Some(Verdict::Malicious(d)) => (d.threat, Some(d.rule)),
        _ => ("ManualQuarantine".to_string(), None),
    };
    let killed = super::procs::kill_users_of(path, m.dev(), m.ino());
    let (removed, errors) = persistence::remove_naming(path);
    let id = match vault.quarantine(path, &threat, rule.as_deref()) {
        Ok(id) => id,
        Err(e) => {
            let undo = persistence::put_back(&removed);
            let mut msg = format!("cannot quarantine {}: {e}", path.display());
            if !undo.is_empty() {
                msg.push_str(&format!(
                    "; and putting the removed persistence back failed: {}",
                    undo.join("; ")
                ));
            }
            return Err(RespondError::Failed(msg));
        }
    };
    let rec = Record {
        id: id.to_string(),
        path: path.to_path_buf(),
        sha256: digest.clone(),
        action_id: action_id.to_string(),
        removed,
    };
    let rp = record_path(dir, id.as_str());
    let saved = std::fs::create_dir_all(rp.parent().unwrap_or(dir))
        .and_then(|_| std::fs::write(&rp, serde_json::to_vec_pretty(&rec).unwrap_or_default()));
    let mut warnings = errors;
    if let Err(e) = saved {
        warnings.push(format!(
            "cannot keep the removed persistence for a restore ({}): {e}",
            rp.display()
        ));
    }
    Ok(json!({
        "QuarantineId": id.as_str(),
        "Path": path,
        "SHA256": digest,
        "Threat": threat,
        "Rule": rule,
        "KilledPids": killed.iter().map(|k| k["ProcessId"].clone()).collect::<Vec<_>>(),
        "Killed": killed,
        "PersistenceRemoved": rec.removed.iter().map(Removed::summary).collect::<Vec<_>>(),
        "Warnings": warnings,
    }))
}

/// Restore a quarantined file (to `to`, or where it was) and the persistence removed with it
/// (only when it goes back to where it was: the entries name that path).
pub fn restore(state_dir: &Path, dir: &Path, id: &str, to: Option<&Path>) -> Result<Value> {
    let qid = QuarantineId::parse(id).map_err(|e| RespondError::Argument {
        name: "quarantine_id",
        reason: e.to_string(),
    })?;
    let vault = vault(state_dir)?;
    let entry = vault
        .entry(&qid)
        .map_err(|e| RespondError::Failed(format!("cannot restore: {e}")))?;
    let dest = vault
        .restore(&qid, to, RestoreOptions::default())
        .map_err(|e| RespondError::Failed(format!("cannot restore: {e}")))?;
    let rp = record_path(dir, id);
    let rec: Option<Record> = std::fs::read(&rp)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    let mut restored = Vec::new();
    let mut errors = Vec::new();
    if let Some(rec) = &rec {
        if dest == rec.path {
            errors = persistence::put_back(&rec.removed);
            restored = rec.removed.iter().map(Removed::summary).collect();
        } else if !rec.removed.is_empty() {
            errors.push(format!(
                "the persistence removed with it names {}, not {}: it was not put back",
                rec.path.display(),
                dest.display()
            ));
        }
    }
    let _ = std::fs::remove_file(&rp);
    Ok(json!({
        "QuarantineId": id,
        "RestoredTo": dest,
        "SHA256": hex::encode(entry.sha256),
        "Threat": entry.threat,
        "PersistenceRestored": restored,
        "Warnings": errors,
    }))
}
