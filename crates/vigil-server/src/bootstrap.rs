//! First start: the CA, the server certificate and the administrator API token, created once
//! in the data directory and reused afterwards.
//!
//! Files: `ca.pem`, `ca.key` (0600), `server.pem`, `server.key` (0600), `admin.token` (0600),
//! `admin.password` (0600, the console user `admin`'s first password),
//! `state.db` (SQLite), `telemetry/` (the store). The server certificate is re-issued when
//! the names it must carry change.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use vigil_pki::{Ca, CertKey};
use vigil_state::StateStore;

/// What the server needs from its data directory.
pub struct Bootstrap {
    pub ca: Ca,
    pub server_cert: CertKey,
    pub admin_token_path: PathBuf,
    pub ca_path: PathBuf,
    /// Whether this start created the CA (first start).
    pub created: bool,
}

/// Write `text` to `path` atomically with `mode`.
pub fn write_file(path: &Path, text: &str, mode: u32) -> Result<()> {
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(mode)
        .open(&tmp)
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

/// The names the server certificate carries: localhost, this host's name and the configured ones.
pub fn server_names(extra: &[String]) -> Vec<String> {
    let mut names = vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "::1".to_string(),
    ];
    if let Ok(h) = std::fs::read_to_string("/proc/sys/kernel/hostname") {
        let h = h.trim();
        if !h.is_empty() {
            names.push(h.to_string());
        }
    }
    names.extend(extra.iter().cloned());
    names.sort();
    names.dedup();
    names
}

/// Load or create the CA, server certificate and admin token.
pub async fn bootstrap(
    data_dir: &Path,
    tls_names: &[String],
    state: &StateStore,
) -> Result<Bootstrap> {
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create data directory {}", data_dir.display()))?;
    let ca_path = data_dir.join("ca.pem");
    let ca_key = data_dir.join("ca.key");
    let created = !ca_path.exists();
    let ca = if created {
        let ca = Ca::create("Vigil").context("cannot create the CA")?;
        write_file(&ca_key, ca.key_pem(), 0o600)?;
        write_file(&ca_path, ca.cert_pem(), 0o644)?;
        ca
    } else {
        Ca::load(&read(&ca_path)?, &read(&ca_key)?)
            .with_context(|| format!("the CA in {} is unusable", data_dir.display()))?
    };

    let names = server_names(tls_names);
    let names_path = data_dir.join("server.names");
    let (cert_path, key_path) = (data_dir.join("server.pem"), data_dir.join("server.key"));
    let same_names =
        std::fs::read_to_string(&names_path).ok().as_deref() == Some(names.join("\n").as_str());
    let server_cert = if !created && same_names && cert_path.exists() && key_path.exists() {
        CertKey {
            cert_pem: read(&cert_path)?,
            key_pem: read(&key_path)?,
        }
    } else {
        let ck = ca
            .issue_server(&names)
            .context("cannot issue the server certificate")?;
        write_file(&key_path, &ck.key_pem, 0o600)?;
        write_file(&cert_path, &ck.cert_pem, 0o644)?;
        write_file(&names_path, &names.join("\n"), 0o644)?;
        ck
    };

    let admin_token_path = data_dir.join("admin.token");
    if !admin_token_path.exists() {
        let (_, secret) = state
            .create_api_token("admin", "administrator", crate::now_ms())
            .await
            .context("cannot create the administrator API token")?;
        write_file(&admin_token_path, &format!("{secret}\n"), 0o600)?;
    }
    // The console's first administrator, with a random password kept beside the token.
    let admin_password_path = data_dir.join("admin.password");
    if !admin_password_path.exists() && state.console_user("admin").await.is_err() {
        let password = hex::encode(rand::random::<[u8; 12]>());
        state
            .create_console_user("admin", &password, "administrator", &[], crate::now_ms())
            .await
            .context("cannot create the console's administrator")?;
        write_file(&admin_password_path, &format!("{password}\n"), 0o600)?;
    }
    Ok(Bootstrap {
        ca,
        server_cert,
        admin_token_path,
        ca_path,
        created,
    })
}
