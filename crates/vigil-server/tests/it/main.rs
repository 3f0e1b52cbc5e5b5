//! Integration tests of the server: enrolment, ingest and durability, over real gRPC with
//! mutual TLS on loopback, against the server in-process or as its real binary (for kill -9).

mod access;
mod actions;
mod detection;
mod durability;
mod enrolment;
mod harness;
mod hunt_api;
mod hunting;
mod ingest;
mod intel;
mod openapi;
mod scope;
mod settings;
mod triage;
