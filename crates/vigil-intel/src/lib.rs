//! Threat intelligence for Vigil: indicators, the feed formats teams subscribe to, and the
//! matcher that checks events against a million indicators in a few hundred nanoseconds.
//!
//! # Design
//!
//! **Model** (`model`): an [`Indicator`] names a value of one [`IndicatorType`] (file hash,
//! address, network, domain, URL, certificate thumbprint) and says what to do when it is seen
//! ([`Action`]: allow, audit, warn, block, block and remediate), with severity, title, expiry,
//! device-group scope and [`Provenance`] (the source and the record it came from).
//!
//! **Normalise** (`normalize`): every value has one canonical text, so that an indicator and an
//! event field compare equal exactly when they name the same thing. Values are checked when an
//! indicator is made; nothing unnormalised reaches the matcher.
//!
//! **Import** (`import`): STIX 2.1 bundles (indicator patterns over file hashes, addresses,
//! domains, URLs and X.509 thumbprints), TAXII 2.1 envelopes, MISP events (feed and API JSON),
//! the abuse.ch formats (URLhaus, ThreatFox, MalwareBazaar, SSL blacklist, Feodo), Vigil's CSV,
//! and MISP warning lists. An import is all or nothing: a broken record fails the whole import
//! with an error that names the record; a well-formed record of a kind Vigil does not match
//! (an e-mail address, say) is counted as skipped with the reason.
//!
//! **Match** (`matcher`): [`IntelSet`] is built once from the live indicators and answers,
//! per value, the winning indicator: file hashes and certificate thumbprints in hash maps keyed
//! by their bytes, addresses and networks as sorted disjoint ranges (the most specific network
//! wins), domains by the hashes of their suffixes (the longest matching suffix wins), URLs by
//! their canonical text. Among indicators of one value, `Allow` wins, then the strongest action.
//!
//! This crate does no I/O beyond what its callers hand it: bytes in, indicators out.

mod error;
pub mod import;
pub mod matcher;
mod model;
pub mod normalize;

pub use error::IntelError;
pub use matcher::{Hit, IntelSet};
pub use model::{Action, Indicator, IndicatorType, Provenance, Severity};
