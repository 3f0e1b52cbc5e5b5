//! Vigil's PKI: the server CA, server and device certificates, CSRs.
//!
//! The server creates its own certificate authority on first start ([`Ca::create`]) and keeps
//! it on disk ([`Ca::load`]). With it the server issues its own TLS certificate
//! ([`Ca::issue_server`]) and signs the CSRs agents send when they enrol
//! ([`Ca::sign_device_csr`]); an agent makes its key and CSR with [`device_key_and_csr`].
//! Agent and server then speak TLS 1.3 with mutual authentication ([`server_tls_config`],
//! [`client_tls_config`]); the server learns who is calling with [`peer_identity`].
//!
//! - `ca.rs` — the CA, certificate issuance and CSR signing;
//! - `tls.rs` — PEM parsing and the rustls configurations;
//! - `identity.rs` — what a certificate says about its holder (CN, serial, fingerprint).
//!
//! Every key is ECDSA P-256. rustls always gets the ring provider explicitly: nothing here
//! depends on, or installs, a process-wide default provider. Revocation is not done with CRLs:
//! the server checks each device's certificate fingerprint against its state store on every
//! request, which makes revocation immediate.

mod ca;
mod identity;
mod tls;

pub use ca::{device_key_and_csr, Ca};
pub use identity::peer_identity;
pub use tls::{client_tls_config, parse_certs, parse_private_key, server_tls_config, ALPN_H2};

/// A certificate and its private key, both PEM.
#[derive(Clone, PartialEq, Eq)]
pub struct CertKey {
    /// The certificate (leaf only), PEM.
    pub cert_pem: String,
    /// The private key (PKCS#8), PEM.
    pub key_pem: String,
}

impl std::fmt::Debug for CertKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertKey")
            .field("cert_pem", &self.cert_pem)
            .field("key_pem", &"<redacted>")
            .finish()
    }
}

/// A device certificate the CA has just signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedCert {
    /// The certificate, PEM.
    pub cert_pem: String,
    /// The serial number, lowercase hex of its DER integer bytes.
    pub serial_hex: String,
    /// SHA-256 of the certificate's DER, lowercase hex.
    pub fingerprint_sha256: String,
    /// The end of validity, unix seconds.
    pub not_after_unix: i64,
}

/// Who a peer certificate belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerIdentity {
    /// The subject's common name: the device id for device certificates.
    pub device_id: String,
    /// The serial number, lowercase hex of its DER integer bytes.
    pub serial_hex: String,
    /// SHA-256 of the certificate's DER, lowercase hex.
    pub fingerprint_sha256: String,
}

/// What went wrong in the PKI. Messages are lowercase and name the input that was refused.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    /// The organisation name for a new CA is unusable.
    #[error("invalid organisation name {org:?}: {reason}")]
    InvalidOrg { org: String, reason: String },
    /// The CA certificate given to [`Ca::load`] is unusable.
    #[error("ca certificate pem is invalid: {0}")]
    CaCert(String),
    /// The CA key given to [`Ca::load`] is unusable.
    #[error("ca key pem is invalid: {0}")]
    CaKey(String),
    /// The CA key does not belong to the CA certificate.
    #[error("ca key does not match the ca certificate ({subject}): check that both files come from the same ca")]
    CaKeyMismatch { subject: String },
    /// A name for a server certificate is neither an IP address nor a DNS name.
    #[error("invalid server name {name:?}: {reason}")]
    ServerName { name: String, reason: String },
    /// A device id cannot be a certificate's common name.
    #[error("invalid device id {id:?}: {reason}")]
    DeviceId { id: String, reason: String },
    /// A certificate validity out of range.
    #[error("invalid certificate validity of {days} days: must be 1 to {max}")]
    Validity { days: u32, max: u32 },
    /// The CSR is not PEM, or holds no `CERTIFICATE REQUEST` section.
    #[error("certificate signing request is not valid pem: {0}")]
    CsrPem(String),
    /// The CSR's DER cannot be parsed.
    #[error("certificate signing request cannot be parsed: {0}")]
    CsrParse(String),
    /// The CSR's signature does not verify with the key it carries.
    #[error("certificate signing request signature does not verify: {0}")]
    CsrSignature(String),
    /// The CSR carries a key Vigil does not accept.
    #[error("certificate signing request has an unsupported key ({0}): use ecdsa p-256 or p-384")]
    CsrKey(String),
    /// A certificate PEM is unusable.
    #[error("certificate pem is invalid: {0}")]
    CertPem(String),
    /// A certificate's DER cannot be parsed, or lacks what is needed.
    #[error("certificate is invalid: {0}")]
    Cert(String),
    /// A private key PEM is unusable.
    #[error("private key pem is invalid: {0}")]
    KeyPem(String),
    /// Key or certificate generation failed.
    #[error("cannot generate {what}: {source}")]
    Generate {
        what: &'static str,
        source: rcgen::Error,
    },
    /// rustls refused the configuration.
    #[error("cannot build the tls {side} configuration: {source}")]
    Tls {
        side: &'static str,
        source: rustls::Error,
    },
    /// rustls refused to build the client certificate verifier.
    #[error("cannot build the client certificate verifier: {0}")]
    Verifier(rustls::server::VerifierBuilderError),
}
