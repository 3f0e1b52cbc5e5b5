//! Enrolment: trade a token and a CSR for a device certificate, and keep the result on disk.
//!
//! Files under `<state_dir>/uplink/`: `ca.pem` (the server's CA, pinned), `device.pem` and
//! `device.key` (mode 0600) and `enrollment.json` (server address, device id, expiry).

use std::path::{Path, PathBuf};
use std::time::Duration;

use tonic::transport::{Certificate, ClientTlsConfig, Endpoint};
use vigil_proto::pb::enrollment_client::EnrollmentClient;
use vigil_proto::pb::EnrollRequest;

use crate::UplinkError;

/// What an enrolled agent needs to reach its server.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Enrollment {
    /// `HOST:PORT` of the server's gRPC endpoint.
    pub server: String,
    pub device_id: String,
    pub not_after_unix: i64,
    #[serde(skip)]
    pub ca_pem: String,
    #[serde(skip)]
    pub cert_pem: String,
    #[serde(skip)]
    pub key_pem: String,
}

/// What to enrol with.
pub struct EnrollParams<'a> {
    pub server: &'a str,
    pub token: &'a str,
    pub ca_pem: &'a str,
    pub device_id: &'a str,
    pub device_name: &'a str,
    pub agent_version: &'a str,
}

fn dir(state_dir: &Path) -> PathBuf {
    state_dir.join("uplink")
}

/// The host part of `HOST:PORT` (IPv6 in brackets allowed), which the server certificate must name.
pub fn host_of(server: &str) -> Result<&str, UplinkError> {
    let bad = || UplinkError::Address(server.to_string());
    if let Some(rest) = server.strip_prefix('[') {
        let (host, port) = rest.split_once("]:").ok_or_else(bad)?;
        port.parse::<u16>().map_err(|_| bad())?;
        return Ok(host);
    }
    let (host, port) = server.rsplit_once(':').ok_or_else(bad)?;
    port.parse::<u16>().map_err(|_| bad())?;
    if host.is_empty() || host.contains(':') {
        return Err(bad());
    }
    Ok(host)
}

/// A channel endpoint to `server` with TLS trusting `ca_pem`, and optionally our certificate.
pub(crate) fn endpoint(
    server: &str,
    ca_pem: &str,
    identity: Option<(&str, &str)>,
) -> Result<Endpoint, UplinkError> {
    let host = host_of(server)?;
    let mut tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(ca_pem))
        .domain_name(host.to_string());
    if let Some((cert, key)) = identity {
        tls = tls.identity(tonic::transport::Identity::from_pem(cert, key));
    }
    Endpoint::from_shared(format!("https://{server}"))
        .map_err(|e| UplinkError::Address(format!("{server}: {e}")))?
        .tls_config(tls)
        .map_err(|e| UplinkError::Tls(e.to_string()))
        .map(|e| {
            e.connect_timeout(Duration::from_secs(5))
                .timeout(Duration::from_secs(30))
                .http2_keep_alive_interval(Duration::from_secs(30))
                .keep_alive_timeout(Duration::from_secs(10))
        })
}

/// A telemetry client on its own connection, authenticated with the device certificate.
pub async fn heartbeat_client(
    e: &Enrollment,
) -> Result<
    vigil_proto::pb::telemetry_client::TelemetryClient<tonic::transport::Channel>,
    UplinkError,
> {
    let channel = endpoint(&e.server, &e.ca_pem, Some((&e.cert_pem, &e.key_pem)))?
        .connect()
        .await
        .map_err(|err| UplinkError::Connect(format!("{}: {}", e.server, error_chain(&err))))?;
    Ok(vigil_proto::pb::telemetry_client::TelemetryClient::new(
        channel,
    ))
}

/// Enrol with the server and store the certificate under `state_dir`.
pub async fn enroll(p: &EnrollParams<'_>, state_dir: &Path) -> Result<Enrollment, UplinkError> {
    vigil_pki::parse_certs(p.ca_pem)
        .map_err(|e| UplinkError::Tls(format!("CA certificate: {e}")))?;
    let (key_pem, csr_pem) = vigil_pki::device_key_and_csr(p.device_id)
        .map_err(|e| UplinkError::Tls(format!("cannot make a CSR: {e}")))?;
    let channel = endpoint(p.server, p.ca_pem, None)?
        .connect()
        .await
        .map_err(|e| UplinkError::Connect(format!("{}: {}", p.server, error_chain(&e))))?;
    let resp = EnrollmentClient::new(channel)
        .enroll(EnrollRequest {
            token: p.token.to_string(),
            csr_pem,
            device_id: p.device_id.to_string(),
            device_name: p.device_name.to_string(),
            agent_version: p.agent_version.to_string(),
        })
        .await
        .map_err(|s| UplinkError::Refused(s.message().to_string()))?
        .into_inner();
    let e = Enrollment {
        server: p.server.to_string(),
        device_id: resp.device_id,
        not_after_unix: resp.not_after_unix,
        ca_pem: p.ca_pem.to_string(),
        cert_pem: resp.certificate_pem,
        key_pem,
    };
    e.save(state_dir)?;
    Ok(e)
}

/// The error and its sources on one line (tonic's transport errors hide the cause otherwise).
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

impl Enrollment {
    /// Write the files; the certificate and key first, `enrollment.json` last, so a crash
    /// leaves either the old enrolment or the new one.
    pub fn save(&self, state_dir: &Path) -> Result<(), UplinkError> {
        let d = dir(state_dir);
        let io = |e: std::io::Error| UplinkError::Io(format!("{}: {e}", d.display()));
        std::fs::create_dir_all(&d).map_err(io)?;
        write_private(&d.join("ca.pem"), &self.ca_pem).map_err(io)?;
        write_private(&d.join("device.pem"), &self.cert_pem).map_err(io)?;
        write_private(&d.join("device.key"), &self.key_pem).map_err(io)?;
        let json = serde_json::to_string_pretty(self).unwrap_or_default();
        write_private(&d.join("enrollment.json"), &json).map_err(io)
    }

    /// The enrolment under `state_dir`, `None` when the agent is not enrolled.
    pub fn load(state_dir: &Path) -> Result<Option<Enrollment>, UplinkError> {
        let d = dir(state_dir);
        let read = |name: &str| {
            std::fs::read_to_string(d.join(name))
                .map_err(|e| UplinkError::Io(format!("{}: {e}", d.join(name).display())))
        };
        let json = match std::fs::read_to_string(d.join("enrollment.json")) {
            Ok(j) => j,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(UplinkError::Io(format!("{}: {e}", d.display()))),
        };
        let mut e: Enrollment = serde_json::from_str(&json).map_err(|e| {
            UplinkError::Io(format!("{}: {e}", d.join("enrollment.json").display()))
        })?;
        e.ca_pem = read("ca.pem")?;
        e.cert_pem = read("device.pem")?;
        e.key_pem = read("device.key")?;
        Ok(Some(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_addresses_name_their_host() {
        assert_eq!(host_of("server.example:7443").unwrap(), "server.example");
        assert_eq!(host_of("10.0.0.1:1").unwrap(), "10.0.0.1");
        assert_eq!(host_of("[::1]:7443").unwrap(), "::1");
        for bad in ["server", "server:", ":7443", "::1:7443", "[::1]", "h:99999"] {
            assert!(host_of(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn enrollment_files_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Enrollment::load(dir.path()).unwrap(), None);
        let e = Enrollment {
            server: "s:1".into(),
            device_id: "d".into(),
            not_after_unix: 5,
            ca_pem: "ca".into(),
            cert_pem: "cert".into(),
            key_pem: "key".into(),
        };
        e.save(dir.path()).unwrap();
        assert_eq!(Enrollment::load(dir.path()).unwrap(), Some(e));
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("uplink/device.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
