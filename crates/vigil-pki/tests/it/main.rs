//! Integration tests of vigil-pki: real TLS 1.3 handshakes in memory, and CSR refusals.
//!
//! - `handshake.rs` — a rustls client and server pumping bytes between them (no sockets);
//! - `csr.rs` — corrupted, forged, unsupported and garbage CSRs give errors that name the
//!   problem.

mod csr;
mod handshake;
