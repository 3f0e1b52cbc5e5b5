//! PEM parsing and the rustls configurations of agent ↔ server mutual TLS.
//!
//! Both sides speak TLS 1.3 only, offer ALPN `h2` (gRPC) and trust only the Vigil CA, never
//! the system roots. The ring provider is passed explicitly to every builder: nothing here
//! depends on, or installs, a process-wide default provider.
//!
//! The server asks for a client certificate and verifies it against the CA when one is
//! presented, but does not require one: an agent enrols before it has a certificate. Every
//! request handler therefore decides for itself whether it needs a verified device, and checks
//! that device against the state store (revocation is immediate, with no CRL).

use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};

use crate::ca::pem_reason;
use crate::{CertKey, PkiError};

/// The only ALPN protocol either side offers: HTTP/2, for gRPC.
pub const ALPN_H2: &[u8] = b"h2";

/// The server's configuration: TLS 1.3 only, ALPN `h2`, the server certificate `server`, and
/// client certificates verified against `ca_pem` when presented but optional.
pub fn server_tls_config(ca_pem: &str, server: &CertKey) -> Result<ServerConfig, PkiError> {
    let provider = provider();
    let roots = Arc::new(root_store(ca_pem)?);
    let verifier = WebPkiClientVerifier::builder_with_provider(roots, provider.clone())
        .allow_unauthenticated()
        .build()
        .map_err(PkiError::Verifier)?;
    let tls = |source| PkiError::Tls {
        side: "server",
        source,
    };
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(tls)?
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            parse_certs(&server.cert_pem)?,
            parse_private_key(&server.key_pem)?,
        )
        .map_err(tls)?;
    config.alpn_protocols = vec![ALPN_H2.to_vec()];
    Ok(config)
}

/// The agent's configuration: TLS 1.3 only, ALPN `h2`, trusting only `ca_pem`, presenting
/// `client` when given (after enrolment) and no certificate otherwise (for enrolment).
pub fn client_tls_config(ca_pem: &str, client: Option<&CertKey>) -> Result<ClientConfig, PkiError> {
    let tls = |source| PkiError::Tls {
        side: "client",
        source,
    };
    let builder = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(tls)?
        .with_root_certificates(root_store(ca_pem)?);
    let mut config = match client {
        Some(ck) => builder
            .with_client_auth_cert(parse_certs(&ck.cert_pem)?, parse_private_key(&ck.key_pem)?)
            .map_err(tls)?,
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![ALPN_H2.to_vec()];
    Ok(config)
}

/// Every `CERTIFICATE` section of `pem`, in order; at least one is required.
pub fn parse_certs(pem: &str) -> Result<Vec<CertificateDer<'static>>, PkiError> {
    let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| PkiError::CertPem(pem_reason(e, "CERTIFICATE")))?;
    if certs.is_empty() {
        return Err(PkiError::CertPem(
            "no '-----BEGIN CERTIFICATE-----' section found".to_string(),
        ));
    }
    Ok(certs)
}

/// The first private key of `pem` (PKCS#8, SEC1 or PKCS#1).
pub fn parse_private_key(pem: &str) -> Result<PrivateKeyDer<'static>, PkiError> {
    PrivateKeyDer::from_pem_slice(pem.as_bytes())
        .map_err(|e| PkiError::KeyPem(pem_reason(e, "PRIVATE KEY")))
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A root store holding exactly the certificates of `ca_pem`.
fn root_store(ca_pem: &str) -> Result<RootCertStore, PkiError> {
    let mut roots = RootCertStore::empty();
    for cert in parse_certs(ca_pem)? {
        roots
            .add(cert)
            .map_err(|e| PkiError::Cert(format!("ca certificate cannot be a trust anchor: {e}")))?;
    }
    Ok(roots)
}
