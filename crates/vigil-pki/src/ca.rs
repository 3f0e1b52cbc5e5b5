//! The server's certificate authority: creation, loading, and the certificates it issues.
//!
//! The CA is self-signed, ECDSA P-256, valid 10 years, with basic constraints `CA:true,
//! pathlen:0` (it signs only leaf certificates) and key usage `keyCertSign, cRLSign`.
//! It issues two kinds of leaf certificate, both with an authority key identifier and a
//! random positive 127-bit serial:
//!
//! - server certificates ([`Ca::issue_server`]): a fresh P-256 key, the given DNS names and IP
//!   addresses as SANs, EKU `serverAuth`, valid one year;
//! - device certificates ([`Ca::sign_device_csr`]): the key from the agent's CSR and nothing
//!   else from it — subject, extensions and validity are the CA's choice: subject
//!   `CN=<device_id>`, EKU `clientAuth`.
//!
//! Leaf certificates start an hour in the past, so that a peer whose clock is a little behind
//! accepts them at once.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, PublicKeyData, SanType, SerialNumber, SubjectPublicKeyInfo,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, CertificateSigningRequestDer, PrivateKeyDer};
use time::{Duration, OffsetDateTime};
use x509_parser::certification_request::X509CertificationRequest;
use x509_parser::prelude::FromDer;
use x509_parser::x509::SubjectPublicKeyInfo as X509Spki;

use crate::identity::CertFacts;
use crate::{CertKey, IssuedCert, PkiError};

/// How long the CA is valid.
const CA_VALIDITY_DAYS: i64 = 3650;
/// How long a server certificate is valid.
const SERVER_VALIDITY_DAYS: i64 = 365;
/// The longest validity [`Ca::sign_device_csr`] accepts.
pub const MAX_DEVICE_VALIDITY_DAYS: u32 = 3650;
/// How far in the past leaf certificates start (clock skew between server and agents).
const NOT_BEFORE_SLACK: Duration = Duration::hours(1);
/// The longest device id: the X.509 upper bound for a common name.
const MAX_DEVICE_ID_LEN: usize = 64;
/// The longest organisation name: the X.509 upper bound for an organisation name.
const MAX_ORG_LEN: usize = 64;

/// The server's certificate authority: its certificate and its private key.
pub struct Ca {
    cert_pem: String,
    key_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl fmt::Debug for Ca {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ca")
            .field("cert_pem", &self.cert_pem)
            .field("key_pem", &"<redacted>")
            .finish()
    }
}

impl Ca {
    /// A new self-signed CA for organisation `org`: subject `CN=Vigil CA, O=<org>`, ECDSA
    /// P-256, valid 10 years, `CA:true, pathlen:0`, key usage `keyCertSign, cRLSign`.
    pub fn create(org: &str) -> Result<Ca, PkiError> {
        check_text(org, MAX_ORG_LEN).map_err(|reason| PkiError::InvalidOrg {
            org: org.to_string(),
            reason,
        })?;
        let key = new_key("the ca key")?;
        let now = OffsetDateTime::now_utc();
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, "Vigil CA");
        dn.push(DnType::OrganizationName, org);
        params.distinguished_name = dn;
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params.not_before = now - NOT_BEFORE_SLACK;
        params.not_after = now + Duration::days(CA_VALIDITY_DAYS);
        params.serial_number = Some(random_serial());
        let cert = params
            .self_signed(&key)
            .map_err(|source| PkiError::Generate {
                what: "the ca certificate",
                source,
            })?;
        Ok(Ca {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            issuer: Issuer::new(params, key),
        })
    }

    /// The CA from its certificate and key (PEM, as [`Ca::cert_pem`] and [`Ca::key_pem`]
    /// wrote them). Refused: PEM that does not parse, a certificate that is not a CA or has
    /// expired, a key that does not belong to the certificate.
    pub fn load(cert_pem: &str, key_pem: &str) -> Result<Ca, PkiError> {
        let cert_der = CertificateDer::from_pem_slice(cert_pem.as_bytes())
            .map_err(|e| PkiError::CaCert(pem_reason(e, "CERTIFICATE")))?;
        let (_, cert) = x509_parser::parse_x509_certificate(&cert_der)
            .map_err(|e| PkiError::CaCert(format!("cannot parse the certificate: {e}")))?;
        let subject = cert.subject().to_string();
        match cert.basic_constraints() {
            Ok(Some(bc)) if bc.value.ca => {}
            Ok(_) => {
                return Err(PkiError::CaCert(format!(
                    "{subject} is not a ca certificate (basic constraints lack ca:true)"
                )))
            }
            Err(e) => {
                return Err(PkiError::CaCert(format!(
                    "{subject} has bad basic constraints: {e}"
                )))
            }
        }
        let not_after = cert.validity().not_after;
        if not_after.timestamp() < OffsetDateTime::now_utc().unix_timestamp() {
            return Err(PkiError::CaCert(format!(
                "{subject} expired at {not_after}"
            )));
        }
        let key_der = PrivateKeyDer::from_pem_slice(key_pem.as_bytes())
            .map_err(|e| PkiError::CaKey(pem_reason(e, "PRIVATE KEY")))?;
        let key = KeyPair::try_from(&key_der)
            .map_err(|e| PkiError::CaKey(format!("unsupported or malformed key: {e}")))?;
        if key.subject_public_key_info() != cert.public_key().raw {
            return Err(PkiError::CaKeyMismatch { subject });
        }
        let issuer = Issuer::from_ca_cert_der(&cert_der, key)
            .map_err(|e| PkiError::CaCert(format!("cannot use {subject} as issuer: {e}")))?;
        Ok(Ca {
            cert_pem: cert_pem.to_string(),
            key_pem: key_pem.to_string(),
            issuer,
        })
    }

    /// The CA certificate, PEM.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The CA private key (PKCS#8), PEM. Keep it secret: whoever holds it can enrol devices.
    pub fn key_pem(&self) -> &str {
        &self.key_pem
    }

    /// A server certificate with a fresh key for `names` (DNS names and IP addresses, all
    /// written as SANs; the first is also the common name), EKU `serverAuth`, valid one year.
    pub fn issue_server(&self, names: &[String]) -> Result<CertKey, PkiError> {
        let Some(first) = names.first() else {
            return Err(PkiError::ServerName {
                name: String::new(),
                reason: "a server certificate needs at least one name".to_string(),
            });
        };
        let sans = names
            .iter()
            .map(|n| server_san(n))
            .collect::<Result<Vec<_>, _>>()?;
        let mut params = leaf_params(first, SERVER_VALIDITY_DAYS);
        params.subject_alt_names = sans;
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let key = new_key("the server key")?;
        let cert = params
            .signed_by(&key, &self.issuer)
            .map_err(|source| PkiError::Generate {
                what: "the server certificate",
                source,
            })?;
        Ok(CertKey {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }

    /// Sign an agent's CSR: the subject is replaced by `CN=<device_id>`, EKU `clientAuth`,
    /// valid `validity_days` (1 to 3650). Only the CSR's public key is used, after its
    /// signature has been verified; a CSR with bad PEM, bad DER, a bad signature or a key that
    /// is not ECDSA P-256/P-384 is refused.
    pub fn sign_device_csr(
        &self,
        csr_pem: &str,
        device_id: &str,
        validity_days: u32,
    ) -> Result<IssuedCert, PkiError> {
        check_device_id(device_id)?;
        if validity_days == 0 || validity_days > MAX_DEVICE_VALIDITY_DAYS {
            return Err(PkiError::Validity {
                days: validity_days,
                max: MAX_DEVICE_VALIDITY_DAYS,
            });
        }
        let public_key = verified_csr_key(csr_pem)?;
        let mut params = leaf_params(device_id, i64::from(validity_days));
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let cert = params
            .signed_by(&public_key, &self.issuer)
            .map_err(|source| PkiError::Generate {
                what: "the device certificate",
                source,
            })?;
        let facts = CertFacts::parse(cert.der())?;
        Ok(IssuedCert {
            cert_pem: cert.pem(),
            serial_hex: facts.serial_hex,
            fingerprint_sha256: facts.fingerprint_sha256,
            not_after_unix: facts.not_after_unix,
        })
    }
}

/// The agent side of enrolment: a fresh ECDSA P-256 key (PKCS#8 PEM) and a CSR for it with
/// subject `CN=<device_id>` (PEM).
pub fn device_key_and_csr(device_id: &str) -> Result<(String, String), PkiError> {
    check_device_id(device_id)?;
    let key = new_key("the device key")?;
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, device_id);
    params.distinguished_name = dn;
    let csr = params
        .serialize_request(&key)
        .and_then(|csr| csr.pem())
        .map_err(|source| PkiError::Generate {
            what: "the certificate signing request",
            source,
        })?;
    Ok((key.serialize_pem(), csr))
}

/// The CSR's public key, once the CSR has been parsed, its key found acceptable and its
/// signature verified with that key.
fn verified_csr_key(csr_pem: &str) -> Result<SubjectPublicKeyInfo, PkiError> {
    let der = CertificateSigningRequestDer::from_pem_slice(csr_pem.as_bytes())
        .map_err(|e| PkiError::CsrPem(pem_reason(e, "CERTIFICATE REQUEST")))?;
    let (rest, csr) = X509CertificationRequest::from_der(der.as_ref())
        .map_err(|e| PkiError::CsrParse(e.to_string()))?;
    if !rest.is_empty() {
        return Err(PkiError::CsrParse(format!(
            "{} trailing bytes after the request",
            rest.len()
        )));
    }
    let spki = &csr.certification_request_info.subject_pki;
    let key = SubjectPublicKeyInfo::from_der(spki.raw)
        .ok()
        .filter(|k| {
            let alg = k.algorithm();
            alg == &rcgen::PKCS_ECDSA_P256_SHA256 || alg == &rcgen::PKCS_ECDSA_P384_SHA384
        })
        .ok_or_else(|| PkiError::CsrKey(describe_key(spki)))?;
    csr.verify_signature()
        .map_err(|e| PkiError::CsrSignature(e.to_string()))?;
    Ok(key)
}

/// A short name for a public key's algorithm, for error messages.
fn describe_key(spki: &X509Spki<'_>) -> String {
    let alg = spki.algorithm.algorithm.to_id_string();
    let param = spki
        .algorithm
        .parameters
        .as_ref()
        .and_then(|p| p.as_oid().ok())
        .map(|oid| oid.to_id_string());
    match (alg.as_str(), param.as_deref()) {
        ("1.2.840.10045.2.1", Some("1.2.840.10045.3.1.7")) => "ecdsa p-256".to_string(),
        ("1.2.840.10045.2.1", Some("1.3.132.0.34")) => "ecdsa p-384".to_string(),
        ("1.2.840.10045.2.1", Some("1.3.132.0.35")) => "ecdsa p-521".to_string(),
        ("1.2.840.10045.2.1", Some(curve)) => format!("ecdsa on curve {curve}"),
        ("1.2.840.113549.1.1.1", _) => "rsa".to_string(),
        ("1.3.101.112", _) => "ed25519".to_string(),
        ("1.3.101.113", _) => "ed448".to_string(),
        (alg, _) => format!("key algorithm {alg}"),
    }
}

/// Parameters shared by leaf certificates: subject `CN=<cn>`, key usage digitalSignature,
/// authority key identifier, random serial, valid from an hour ago for `days`.
fn leaf_params(cn: &str, days: i64) -> CertificateParams {
    let now = OffsetDateTime::now_utc();
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    params.distinguished_name = dn;
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.use_authority_key_identifier_extension = true;
    params.not_before = now - NOT_BEFORE_SLACK;
    params.not_after = now + Duration::days(days);
    params.serial_number = Some(random_serial());
    params
}

fn new_key(what: &'static str) -> Result<KeyPair, PkiError> {
    KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
        .map_err(|source| PkiError::Generate { what, source })
}

/// 16 random bytes with the top bit clear (a positive DER integer) and a non-zero first byte
/// (so the DER encoding is these exact bytes and `serial_hex` is their hex).
fn random_serial() -> SerialNumber {
    let mut bytes: [u8; 16] = rand::random();
    bytes[0] = (bytes[0] & 0x7f).max(1);
    SerialNumber::from_slice(&bytes)
}

/// An IP address, or a DNS name of letters, digits and hyphens (a leading `*.` allowed).
fn server_san(name: &str) -> Result<SanType, PkiError> {
    if let Ok(ip) = IpAddr::from_str(name) {
        return Ok(SanType::IpAddress(ip));
    }
    let bad = |reason: &str| PkiError::ServerName {
        name: name.to_string(),
        reason: reason.to_string(),
    };
    if name.is_empty() || name.len() > 253 {
        return Err(bad("a dns name has 1 to 253 characters"));
    }
    for (i, label) in name.split('.').enumerate() {
        let ok = (i == 0 && label == "*")
            || (!label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-'));
        if !ok {
            return Err(bad(
                "neither an ip address nor a dns name (labels of letters, digits and hyphens)",
            ));
        }
    }
    let dns = name
        .try_into()
        .map_err(|e: rcgen::Error| bad(&e.to_string()))?;
    Ok(SanType::DnsName(dns))
}

/// Device ids become common names: 1 to 64 ASCII letters, digits, `.`, `_` or `-`.
fn check_device_id(id: &str) -> Result<(), PkiError> {
    let ok = !id.is_empty()
        && id.len() <= MAX_DEVICE_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(PkiError::DeviceId {
            id: id.to_string(),
            reason: format!(
                "must be 1 to {MAX_DEVICE_ID_LEN} ascii letters, digits, '.', '_' or '-'"
            ),
        })
    }
}

/// Printable text of 1 to `max` characters.
fn check_text(s: &str, max: usize) -> Result<(), String> {
    let n = s.chars().count();
    if n == 0 || n > max {
        return Err(format!("must have 1 to {max} characters, has {n}"));
    }
    if s.chars().any(char::is_control) {
        return Err("must not contain control characters".to_string());
    }
    Ok(())
}

/// Why a PEM input was refused, naming the section that was expected.
pub(crate) fn pem_reason(e: rustls::pki_types::pem::Error, section: &str) -> String {
    use rustls::pki_types::pem::Error;
    match e {
        Error::NoItemsFound => format!("no '-----BEGIN {section}-----' section found"),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ca_can_be_shared_between_threads() {
        fn shareable<T: Send + Sync>() {}
        shareable::<Ca>();
    }

    #[test]
    fn ca_round_trips_through_pem() {
        let ca = Ca::create("Acme").unwrap();
        let again = Ca::load(ca.cert_pem(), ca.key_pem()).unwrap();
        assert_eq!(again.cert_pem(), ca.cert_pem());
        // The loaded CA issues certificates that chain to the same root.
        let (_, csr) = device_key_and_csr("dev1").unwrap();
        again.sign_device_csr(&csr, "dev1", 30).unwrap();
    }

    fn parse(pem_text: &str) -> x509_parser::pem::Pem {
        x509_parser::pem::parse_x509_pem(pem_text.as_bytes())
            .unwrap()
            .1
    }

    #[test]
    fn certificates_carry_the_promised_extensions() {
        let ca = Ca::create("Acme").unwrap();
        let pem = parse(ca.cert_pem());
        let cert = pem.parse_x509().unwrap();
        assert_eq!(cert.subject().to_string(), "CN=Vigil CA, O=Acme");
        let bc = cert.basic_constraints().unwrap().unwrap().value;
        assert!(bc.ca);
        assert_eq!(bc.path_len_constraint, Some(0));
        let ku = cert.key_usage().unwrap().unwrap().value;
        assert!(ku.key_cert_sign() && ku.crl_sign() && !ku.digital_signature());
        let days = (cert.validity().not_after.timestamp() - cert.validity().not_before.timestamp())
            / 86_400;
        assert_eq!(days, 3650);

        let server = ca.issue_server(&["localhost".to_string()]).unwrap();
        let pem = parse(&server.cert_pem);
        let cert = pem.parse_x509().unwrap();
        let eku = cert.extended_key_usage().unwrap().unwrap().value;
        assert!(eku.server_auth && !eku.client_auth);
        assert!(!cert.is_ca());

        let (_, csr) = device_key_and_csr("dev1").unwrap();
        let issued = ca.sign_device_csr(&csr, "dev1", 30).unwrap();
        let pem = parse(&issued.cert_pem);
        let cert = pem.parse_x509().unwrap();
        assert_eq!(cert.subject().to_string(), "CN=dev1");
        let eku = cert.extended_key_usage().unwrap().unwrap().value;
        assert!(eku.client_auth && !eku.server_auth);
        assert!(!cert.is_ca());
        assert!(cert.subject_alternative_name().unwrap().is_none());
    }

    #[test]
    fn ca_key_from_another_ca_is_refused() {
        let a = Ca::create("A").unwrap();
        let b = Ca::create("B").unwrap();
        let err = Ca::load(a.cert_pem(), b.key_pem()).unwrap_err();
        assert!(matches!(err, PkiError::CaKeyMismatch { .. }), "{err}");
        assert!(err.to_string().contains("does not match"), "{err}");
    }

    #[test]
    fn leaf_certificate_is_not_accepted_as_ca() {
        let ca = Ca::create("A").unwrap();
        let server = ca.issue_server(&["localhost".to_string()]).unwrap();
        let err = Ca::load(&server.cert_pem, &server.key_pem).unwrap_err();
        assert!(err.to_string().contains("is not a ca certificate"), "{err}");
    }

    #[test]
    fn garbage_ca_pem_names_which_pem_is_bad() {
        let ca = Ca::create("A").unwrap();
        let err = Ca::load("not pem", ca.key_pem()).unwrap_err();
        assert!(
            err.to_string().starts_with("ca certificate pem is invalid"),
            "{err}"
        );
        assert!(err.to_string().contains("BEGIN CERTIFICATE"), "{err}");
        let err = Ca::load(ca.cert_pem(), "not pem").unwrap_err();
        assert!(
            err.to_string().starts_with("ca key pem is invalid"),
            "{err}"
        );
    }

    #[test]
    fn names_are_checked() {
        let ca = Ca::create("A").unwrap();
        assert!(ca.issue_server(&[]).is_err());
        let err = ca.issue_server(&["bad name".to_string()]).unwrap_err();
        assert!(err.to_string().contains("\"bad name\""), "{err}");
        assert!(ca
            .issue_server(&["*.example.org".to_string(), "::1".to_string()])
            .is_ok());
        assert!(device_key_and_csr("").is_err());
        assert!(device_key_and_csr("a/b").is_err());
        assert!(device_key_and_csr(&"a".repeat(65)).is_err());
        assert!(Ca::create("").is_err());
        assert!(Ca::create("a\nb").is_err());
    }

    #[test]
    fn validity_is_bounded() {
        let ca = Ca::create("A").unwrap();
        let (_, csr) = device_key_and_csr("dev1").unwrap();
        for days in [0, MAX_DEVICE_VALIDITY_DAYS + 1] {
            let err = ca.sign_device_csr(&csr, "dev1", days).unwrap_err();
            assert!(matches!(err, PkiError::Validity { .. }), "{err}");
        }
    }

    #[test]
    fn serials_are_positive_and_hex_matches_der() {
        for _ in 0..64 {
            let s = random_serial().to_bytes();
            assert_eq!(s.len(), 16);
            assert!(s[0] != 0 && s[0] < 0x80);
        }
    }
}
