//! Real TLS 1.3 handshakes between rustls connections in memory.
//!
//! `pump` moves TLS records from each side to the other until both have finished the
//! handshake or one side fails; the error says which side refused.

use std::io::{Read, Write};
use std::sync::Arc;

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, ServerConfig, ServerConnection};
use vigil_pki::{
    client_tls_config, device_key_and_csr, parse_certs, peer_identity, server_tls_config, Ca,
    CertKey,
};

/// Which side of the handshake failed, and why.
#[derive(Debug)]
enum Failed {
    Client(rustls::Error),
    Server(rustls::Error),
}

struct Pair {
    client: ClientConnection,
    server: ServerConnection,
}

/// Run a handshake between `client` and `server` for `name`.
fn pump(client: ClientConfig, server: ServerConfig, name: &str) -> Result<Pair, Failed> {
    let name = ServerName::try_from(name.to_string()).unwrap();
    let mut c = ClientConnection::new(Arc::new(client), name).unwrap();
    let mut s = ServerConnection::new(Arc::new(server)).unwrap();
    for _ in 0..32 {
        let mut moved = false;
        while c.wants_write() {
            let mut buf = Vec::new();
            c.write_tls(&mut buf).unwrap();
            moved = true;
            s.read_tls(&mut buf.as_slice()).unwrap();
            s.process_new_packets().map_err(Failed::Server)?;
        }
        while s.wants_write() {
            let mut buf = Vec::new();
            s.write_tls(&mut buf).unwrap();
            moved = true;
            c.read_tls(&mut buf.as_slice()).unwrap();
            c.process_new_packets().map_err(Failed::Client)?;
        }
        if !moved && !c.is_handshaking() && !s.is_handshaking() {
            return Ok(Pair {
                client: c,
                server: s,
            });
        }
    }
    panic!("handshake did not finish");
}

struct Setup {
    ca: Ca,
    server: CertKey,
}

fn setup() -> Setup {
    let ca = Ca::create("Acme").unwrap();
    let server = ca
        .issue_server(&["vigil.example.org".to_string(), "127.0.0.1".to_string()])
        .unwrap();
    Setup { ca, server }
}

/// A device key and the certificate `ca` signs for its CSR.
fn device(ca: &Ca, device_id: &str) -> CertKey {
    let (key_pem, csr_pem) = device_key_and_csr(device_id).unwrap();
    let issued = ca.sign_device_csr(&csr_pem, device_id, 30).unwrap();
    CertKey {
        cert_pem: issued.cert_pem,
        key_pem,
    }
}

#[test]
fn mutual_tls_handshake_shows_the_device_identity_to_the_server() {
    let s = setup();
    let dev = device(&s.ca, "0123456789abcdef0123456789abcdef01234567");
    let client = client_tls_config(s.ca.cert_pem(), Some(&dev)).unwrap();
    let server = server_tls_config(s.ca.cert_pem(), &s.server).unwrap();
    let mut pair = pump(client, server, "vigil.example.org").unwrap();

    assert_eq!(
        pair.client.protocol_version(),
        Some(rustls::ProtocolVersion::TLSv1_3)
    );
    assert_eq!(pair.client.alpn_protocol(), Some(&b"h2"[..]));
    assert_eq!(pair.server.alpn_protocol(), Some(&b"h2"[..]));

    let certs = pair.server.peer_certificates().expect("client certificate");
    let id = peer_identity(&certs[0]).unwrap();
    assert_eq!(id.device_id, "0123456789abcdef0123456789abcdef01234567");
    // The identity the server sees is the one recorded at issue.
    let issued_der = parse_certs(&dev.cert_pem).unwrap().remove(0);
    assert_eq!(peer_identity(&issued_der).unwrap(), id);

    // Application data flows both ways.
    pair.client.writer().write_all(b"ping").unwrap();
    let mut buf = Vec::new();
    pair.client.write_tls(&mut buf).unwrap();
    pair.server.read_tls(&mut buf.as_slice()).unwrap();
    pair.server.process_new_packets().unwrap();
    let mut got = [0u8; 4];
    pair.server.reader().read_exact(&mut got).unwrap();
    assert_eq!(&got, b"ping");
}

#[test]
fn issued_certificate_facts_match_the_certificate() {
    let s = setup();
    let (_, csr) = device_key_and_csr("dev-1").unwrap();
    let issued = s.ca.sign_device_csr(&csr, "dev-1", 90).unwrap();
    let der = parse_certs(&issued.cert_pem).unwrap().remove(0);
    let id = peer_identity(&der).unwrap();
    assert_eq!(id.serial_hex, issued.serial_hex);
    assert_eq!(id.fingerprint_sha256, issued.fingerprint_sha256);
    assert_eq!(issued.fingerprint_sha256.len(), 64);
    assert!(issued
        .fingerprint_sha256
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let expected = now + 90 * 86_400;
    assert!((issued.not_after_unix - expected).abs() < 120, "{issued:?}");
}

#[test]
fn subject_requested_in_the_csr_is_replaced_by_the_device_id() {
    let s = setup();
    // The CSR asks for CN=someone-else; the certificate says what the CA decided.
    let (_, csr) = device_key_and_csr("someone-else").unwrap();
    let issued = s.ca.sign_device_csr(&csr, "dev-2", 30).unwrap();
    let der = parse_certs(&issued.cert_pem).unwrap().remove(0);
    assert_eq!(peer_identity(&der).unwrap().device_id, "dev-2");
}

#[test]
fn handshake_without_client_certificate_succeeds_for_enrolment() {
    let s = setup();
    let client = client_tls_config(s.ca.cert_pem(), None).unwrap();
    let server = server_tls_config(s.ca.cert_pem(), &s.server).unwrap();
    let pair = pump(client, server, "127.0.0.1").unwrap();
    assert!(pair.server.peer_certificates().is_none());
    assert_eq!(pair.server.alpn_protocol(), Some(&b"h2"[..]));
}

#[test]
fn device_certificate_from_another_ca_is_rejected_by_the_server() {
    let s = setup();
    let other = Ca::create("Mallory").unwrap();
    let dev = device(&other, "dev-3");
    // The client trusts the right server, but presents a certificate the server's CA did
    // not sign.
    let client = client_tls_config(s.ca.cert_pem(), Some(&dev)).unwrap();
    let server = server_tls_config(s.ca.cert_pem(), &s.server).unwrap();
    match pump(client, server, "vigil.example.org") {
        Err(Failed::Server(rustls::Error::InvalidCertificate(e))) => {
            assert_eq!(e, rustls::CertificateError::UnknownIssuer)
        }
        Err(other) => panic!("unexpected failure {other:?}"),
        Ok(_) => panic!("server accepted a certificate from another ca"),
    }
}

#[test]
fn server_certificate_cannot_be_used_as_a_client_certificate() {
    let s = setup();
    // Signed by the right CA, but with EKU serverAuth only.
    let client = client_tls_config(s.ca.cert_pem(), Some(&s.server)).unwrap();
    let server = server_tls_config(s.ca.cert_pem(), &s.server).unwrap();
    let err = pump(client, server, "vigil.example.org")
        .err()
        .expect("refused");
    assert!(matches!(err, Failed::Server(_)), "{err:?}");
}

#[test]
fn client_refuses_a_server_from_another_ca() {
    let s = setup();
    let other = Ca::create("Mallory").unwrap();
    let client = client_tls_config(other.cert_pem(), None).unwrap();
    let server = server_tls_config(s.ca.cert_pem(), &s.server).unwrap();
    let err = pump(client, server, "vigil.example.org")
        .err()
        .expect("refused");
    assert!(
        matches!(err, Failed::Client(rustls::Error::InvalidCertificate(_))),
        "{err:?}"
    );
}

#[test]
fn client_refuses_a_name_not_in_the_server_certificate() {
    let s = setup();
    let client = client_tls_config(s.ca.cert_pem(), None).unwrap();
    let server = server_tls_config(s.ca.cert_pem(), &s.server).unwrap();
    let err = pump(client, server, "other.example.org")
        .err()
        .expect("refused");
    assert!(
        matches!(err, Failed::Client(rustls::Error::InvalidCertificate(_))),
        "{err:?}"
    );
}

#[test]
fn tls12_only_client_is_refused() {
    let s = setup();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(parse_certs(s.ca.cert_pem()).unwrap().remove(0))
        .unwrap();
    let client = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS12])
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let server = server_tls_config(s.ca.cert_pem(), &s.server).unwrap();
    let err = pump(client, server, "vigil.example.org")
        .err()
        .expect("refused");
    match err {
        Failed::Server(rustls::Error::PeerIncompatible(_)) => {}
        other => panic!("unexpected failure {other:?}"),
    }
}

#[test]
fn configs_refuse_bad_pem_with_a_reason() {
    let s = setup();
    let err = server_tls_config("garbage", &s.server).unwrap_err();
    assert!(err.to_string().contains("BEGIN CERTIFICATE"), "{err}");
    let bad = CertKey {
        cert_pem: s.server.cert_pem.clone(),
        key_pem: "garbage".to_string(),
    };
    let err = server_tls_config(s.ca.cert_pem(), &bad).unwrap_err();
    assert!(
        err.to_string().starts_with("private key pem is invalid"),
        "{err}"
    );
    // A key that does not belong to the certificate.
    let other = s.ca.issue_server(&["localhost".to_string()]).unwrap();
    let mixed = CertKey {
        cert_pem: s.server.cert_pem.clone(),
        key_pem: other.key_pem,
    };
    let err = client_tls_config(s.ca.cert_pem(), Some(&mixed)).unwrap_err();
    assert!(
        err.to_string().contains("tls client configuration"),
        "{err}"
    );
}
