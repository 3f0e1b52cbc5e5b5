//! The fleet simulator: many agents that enrol and stream a realistic event mix to a Vigil
//! server over the real protocol (gRPC, mutual TLS, zstd batches, disk spools), for load,
//! scale and loss tests. The `vigil-sim` binary drives it; tests use it as a library.

pub mod mix;
