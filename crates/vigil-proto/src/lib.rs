//! Vigil's agent ↔ server protocol: the tonic services generated from
//! `proto/vigil/agent.proto`, and the codec of event batches (rows as `vigil.events.Event`
//! messages, zstd-compressed).
//!
//! **Invariant:** the payload of an `EventBatch` is decoded only through [`decode_batch`],
//! which bounds the decompressed size and the number of events before trusting anything.

pub mod codec;
pub mod intel;

/// The generated messages and services of `vigil.agent`.
pub mod pb {
    #![allow(clippy::all, missing_docs)]
    tonic::include_proto!("vigil.agent");
}

pub use codec::{decode_batch, encode_batch, split_batch, BatchError, Limits};
