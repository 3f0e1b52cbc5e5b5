//! What a certificate says about its holder: common name, serial, fingerprint, expiry.
//!
//! The serial is the lowercase hex of the DER integer's bytes as they appear in the
//! certificate, and the fingerprint the lowercase hex SHA-256 of the whole DER: the same
//! certificate gives the same strings whether it was just issued ([`crate::IssuedCert`]) or
//! presented by a peer ([`crate::PeerIdentity`]).

use sha2::{Digest, Sha256};
use x509_parser::certificate::X509Certificate;
use x509_parser::prelude::FromDer;

use crate::{PeerIdentity, PkiError};

/// Who a peer certificate (DER) belongs to: CN, serial, SHA-256 fingerprint of the DER.
///
/// This does not verify the certificate: call it on certificates rustls has already verified
/// (`ServerConnection::peer_certificates`).
pub fn peer_identity(cert_der: &[u8]) -> Result<PeerIdentity, PkiError> {
    let facts = CertFacts::parse(cert_der)?;
    let device_id = facts.common_name.ok_or_else(|| {
        PkiError::Cert(format!(
            "certificate {} has no common name",
            facts.serial_hex
        ))
    })?;
    Ok(PeerIdentity {
        device_id,
        serial_hex: facts.serial_hex,
        fingerprint_sha256: facts.fingerprint_sha256,
    })
}

/// The facts Vigil records about a certificate.
pub(crate) struct CertFacts {
    pub common_name: Option<String>,
    pub serial_hex: String,
    pub fingerprint_sha256: String,
    pub not_after_unix: i64,
}

impl CertFacts {
    pub(crate) fn parse(der: &[u8]) -> Result<CertFacts, PkiError> {
        let (rest, cert) = X509Certificate::from_der(der)
            .map_err(|e| PkiError::Cert(format!("cannot parse der: {e}")))?;
        if !rest.is_empty() {
            return Err(PkiError::Cert(format!(
                "{} trailing bytes after the certificate",
                rest.len()
            )));
        }
        let common_name = match cert.subject().iter_common_name().next() {
            None => None,
            Some(cn) => Some(
                cn.as_str()
                    .map_err(|e| PkiError::Cert(format!("common name is not a string: {e}")))?
                    .to_string(),
            ),
        };
        Ok(CertFacts {
            common_name,
            serial_hex: hex::encode(cert.raw_serial()),
            fingerprint_sha256: hex::encode(Sha256::digest(der)),
            not_after_unix: cert.validity().not_after.timestamp(),
        })
    }
}
