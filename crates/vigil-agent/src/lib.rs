//! Vigil's endpoint agent.
//!
//! Sensors (`sensors`: eBPF programs in the kernel, DNS packets, utmp logons, `/proc`) report
//! what happens; the pipeline (`pipeline`) turns each report into rows of the MDE tables of
//! `vigil-schema`, filling the initiating process from the process model (`proctable`), file
//! hashes (`hashes`) and names from DNS answers; sinks (`sinks`) write the rows. `agent` runs
//! the loop; `config` is the TOML configuration; `device` the device identity and inventory;
//! `protect` enforces threat-intelligence indicators (network and exec blocks); `respond`
//! carries out the server's response actions and live-response commands.
//!
//! **Invariant:** only this crate links libbpf, and nothing outside `sensors::decode` and
//! `protect::decode` reads a kernel record.

pub mod agent;
pub mod asr;
pub mod av;
pub mod config;
pub mod device;
pub mod fanotify;
pub mod hashes;
pub mod limits;
pub mod pipeline;
pub mod proctable;
pub mod protect;
pub mod respond;
pub mod sensors;
pub mod sinks;
pub mod status;
pub mod tamper;
pub mod users;
