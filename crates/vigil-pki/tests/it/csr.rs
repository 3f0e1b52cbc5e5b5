//! CSRs the CA must refuse, each with an error that names the problem.

use vigil_pki::{device_key_and_csr, Ca, PkiError};

fn der_of(pem_text: &str) -> Vec<u8> {
    pem::parse(pem_text).unwrap().into_contents()
}

fn pem_of(der: Vec<u8>) -> String {
    pem::encode(&pem::Pem::new("CERTIFICATE REQUEST", der))
}

#[test]
fn garbage_pem_is_refused() {
    let ca = Ca::create("Acme").unwrap();
    let err = ca.sign_device_csr("hello, world", "dev", 30).unwrap_err();
    assert!(matches!(err, PkiError::CsrPem(_)), "{err}");
    assert_eq!(
        err.to_string(),
        "certificate signing request is not valid pem: \
         no '-----BEGIN CERTIFICATE REQUEST-----' section found"
    );
    let err = ca
        .sign_device_csr(
            "-----BEGIN CERTIFICATE REQUEST-----\n!!!\n-----END CERTIFICATE REQUEST-----\n",
            "dev",
            30,
        )
        .unwrap_err();
    assert!(matches!(err, PkiError::CsrPem(_)), "{err}");
    assert!(err.to_string().contains("base64"), "{err}");
}

#[test]
fn certificate_given_instead_of_csr_is_refused() {
    let ca = Ca::create("Acme").unwrap();
    let err = ca.sign_device_csr(ca.cert_pem(), "dev", 30).unwrap_err();
    assert!(matches!(err, PkiError::CsrPem(_)), "{err}");
}

#[test]
fn truncated_csr_is_refused() {
    let ca = Ca::create("Acme").unwrap();
    let (_, csr) = device_key_and_csr("dev").unwrap();
    let mut der = der_of(&csr);
    der.truncate(der.len() - 10);
    let err = ca.sign_device_csr(&pem_of(der), "dev", 30).unwrap_err();
    assert!(matches!(err, PkiError::CsrParse(_)), "{err}");
    assert!(
        err.to_string()
            .starts_with("certificate signing request cannot be parsed: "),
        "{err}"
    );
}

#[test]
fn csr_with_trailing_bytes_is_refused() {
    let ca = Ca::create("Acme").unwrap();
    let (_, csr) = device_key_and_csr("dev").unwrap();
    let mut der = der_of(&csr);
    der.extend_from_slice(&[0, 0]);
    let err = ca.sign_device_csr(&pem_of(der), "dev", 30).unwrap_err();
    assert!(err.to_string().contains("2 trailing bytes"), "{err}");
}

#[test]
fn csr_whose_signature_does_not_verify_is_refused() {
    let ca = Ca::create("Acme").unwrap();
    // Change the signed subject after signing: CN=dev-aaaa becomes CN=dev-bbbb.
    let (_, csr) = device_key_and_csr("dev-aaaa").unwrap();
    let mut der = der_of(&csr);
    let at = der
        .windows(8)
        .position(|w| w == b"dev-aaaa")
        .expect("common name in the der");
    der[at + 4..at + 8].copy_from_slice(b"bbbb");
    let err = ca
        .sign_device_csr(&pem_of(der), "dev-bbbb", 30)
        .unwrap_err();
    assert!(matches!(err, PkiError::CsrSignature(_)), "{err}");
    assert!(
        err.to_string()
            .starts_with("certificate signing request signature does not verify"),
        "{err}"
    );
}

#[test]
fn csr_with_an_unsupported_key_is_refused() {
    let ca = Ca::create("Acme").unwrap();
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
    let csr = rcgen::CertificateParams::new(Vec::<String>::new())
        .unwrap()
        .serialize_request(&key)
        .unwrap()
        .pem()
        .unwrap();
    let err = ca.sign_device_csr(&csr, "dev", 30).unwrap_err();
    assert!(matches!(err, PkiError::CsrKey(_)), "{err}");
    assert_eq!(
        err.to_string(),
        "certificate signing request has an unsupported key (ed25519): use ecdsa p-256 or p-384"
    );
}

#[test]
fn p384_csr_is_accepted() {
    let ca = Ca::create("Acme").unwrap();
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).unwrap();
    let csr = rcgen::CertificateParams::new(Vec::<String>::new())
        .unwrap()
        .serialize_request(&key)
        .unwrap()
        .pem()
        .unwrap();
    let issued = ca.sign_device_csr(&csr, "dev", 30).unwrap();
    assert!(issued.cert_pem.starts_with("-----BEGIN CERTIFICATE-----"));
}

#[test]
fn bad_device_id_is_refused_before_the_csr_is_read() {
    let ca = Ca::create("Acme").unwrap();
    let err = ca.sign_device_csr("garbage", "CN=x,O=y", 30).unwrap_err();
    assert!(matches!(err, PkiError::DeviceId { .. }), "{err}");
    assert!(err.to_string().contains("\"CN=x,O=y\""), "{err}");
}
