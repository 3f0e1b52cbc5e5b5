//! The generated skeleton of `src/bpf/guard.bpf.c` (libbpf-cargo, see build.rs).
#![allow(
    clippy::all,
    clippy::pedantic,
    missing_docs,
    dead_code,
    unused_qualifications
)]
include!(concat!(env!("OUT_DIR"), "/guard.skel.rs"));
