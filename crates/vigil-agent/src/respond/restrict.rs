//! Application restriction (`restrict` / `unrestrict`): only executables the package manager
//! installed (the files of `/var/lib/dpkg/info/*.list`), the agent itself, the agent's own
//! script directory (`live.run`) and the action's `allow` list may run. `allow` holds absolute
//! paths (a path ending with `/` allows everything under that directory) and SHA-256 values.
//!
//! Enforced by protection's exec guard (fanotify `FAN_OPEN_EXEC_PERM`; see
//! `protect::exec`): the list is handed to it as an `ExecAllowlist` of real paths (symbolic
//! links resolved), so `/bin/ls` on a merged-/usr system is allowed as `/usr/bin/ls`.
//!
//! **Invariant:** the restriction is persisted (`<state_dir>/respond/restriction.json`) and
//! applied again at agent start until it is lifted; the package set is rebuilt when dpkg's
//! database changes (a package installed while restricted may run).

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::error::{RespondError, Result};
use crate::protect::{ExecAllowlist, Protection};

/// The restriction in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Restriction {
    pub allow: Vec<String>,
    pub since: String,
    pub action_id: String,
}

fn state_path(dir: &Path) -> PathBuf {
    dir.join("restriction.json")
}

/// A real path as text (the given one when it does not resolve).
fn real(p: &Path) -> String {
    std::fs::canonicalize(p)
        .unwrap_or_else(|_| p.to_path_buf())
        .to_string_lossy()
        .into_owned()
}

/// Build the allowlist: packages, the agent, `run_dir`, and `allow`.
pub fn allowlist(allow: &[String], run_dir: &Path) -> Result<ExecAllowlist> {
    let mut list = ExecAllowlist {
        paths: super::files::package_files(),
        dirs: Vec::new(),
        sha256: HashSet::new(),
    };
    if let Ok(me) = std::fs::read_link("/proc/self/exe") {
        list.paths.insert(me.to_string_lossy().into_owned());
    }
    list.dirs
        .push(format!("{}/", real(run_dir).trim_end_matches('/')));
    for a in allow {
        if a.starts_with('/') {
            if a.split('/').any(|s| s == "." || s == "..") {
                return Err(RespondError::Argument {
                    name: "allow",
                    reason: format!("{a:?} must not contain '.' or '..' segments"),
                });
            }
            if a.ends_with('/') {
                list.dirs
                    .push(format!("{}/", real(Path::new(a)).trim_end_matches('/')));
            } else {
                list.paths.insert(real(Path::new(a)));
            }
        } else {
            let mut h = [0u8; 32];
            hex::decode_to_slice(a.trim(), &mut h).map_err(|_| RespondError::Argument {
                name: "allow",
                reason: format!("{a:?} is neither an absolute path nor a SHA-256 (64 hex digits)"),
            })?;
            list.sha256.insert(h);
        }
    }
    list.dirs.sort();
    list.dirs.dedup();
    Ok(list)
}

fn summary(r: &Restriction, list: &ExecAllowlist) -> Value {
    json!({
        "Restricted": true,
        "PackageFiles": list.paths.len(),
        "AllowedDirectories": list.dirs,
        "AllowedSHA256": list.sha256.len(),
        "Allow": r.allow,
        "Since": r.since,
        "ActionId": r.action_id,
    })
}

/// Restrict execution and persist it.
pub fn restrict(
    dir: &Path,
    protection: &Protection,
    allow: Vec<String>,
    run_dir: &Path,
    action_id: &str,
) -> Result<Value> {
    let list = allowlist(&allow, run_dir)?;
    if list.paths.len() < 10 {
        return Err(RespondError::Refused(
            "no package manager files were found (/var/lib/dpkg/info): restricting execution would stop the device".into(),
        ));
    }
    let r = Restriction {
        allow,
        since: vigil_schema::Timestamp::now().to_string(),
        action_id: action_id.to_string(),
    };
    let v = summary(&r, &list);
    protection
        .set_exec_allowlist(Some(list))
        .map_err(RespondError::Failed)?;
    let path = state_path(dir);
    let saved = serde_json::to_vec_pretty(&r)
        .map_err(std::io::Error::other)
        .and_then(|b| std::fs::write(&path, b));
    if let Err(e) = saved {
        let _ = protection.set_exec_allowlist(None);
        return Err(RespondError::io("write", &path)(e));
    }
    Ok(v)
}

/// Lift the restriction.
pub fn unrestrict(dir: &Path, protection: &Protection) -> Result<Value> {
    let was = load(dir);
    protection
        .set_exec_allowlist(None)
        .map_err(RespondError::Failed)?;
    match std::fs::remove_file(state_path(dir)) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(RespondError::io("remove", &state_path(dir))(e)),
    }
    Ok(
        json!({ "Restricted": false, "WasRestricted": was.is_some(), "Since": was.map(|r| r.since) }),
    )
}

pub fn load(dir: &Path) -> Option<Restriction> {
    serde_json::from_slice(&std::fs::read(state_path(dir)).ok()?).ok()
}

/// At agent start, or when the packages changed: apply the persisted restriction again.
pub fn reapply(dir: &Path, protection: &Protection, run_dir: &Path) -> Option<Result<Restriction>> {
    let r = load(dir)?;
    Some(
        allowlist(&r.allow, run_dir)
            .and_then(|list| {
                protection
                    .set_exec_allowlist(Some(list))
                    .map_err(RespondError::Failed)
            })
            .map(|_| r),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_resolves_paths_and_reads_digests() {
        let dir = tempfile::tempdir().unwrap();
        let allow = vec![
            format!("{}/", dir.path().display()),
            "/bin/sh".to_string(),
            "AB".repeat(32),
        ];
        let list = allowlist(&allow, Path::new("/var/lib/vigil/respond/run")).unwrap();
        assert!(list.allows_path(&format!("{}/x", real(dir.path()))));
        assert!(list.paths.contains(&real(Path::new("/bin/sh"))));
        assert!(list.sha256.contains(&[0xab; 32]));
        assert!(list.allows_path("/var/lib/vigil/respond/run/ac_1/script"));
        assert!(!list.allows_path("/var/lib/vigil/respond/running"));
        let e = allowlist(&["nothex".into()], Path::new("/x"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("neither an absolute path nor a SHA-256"), "{e}");
    }
}
