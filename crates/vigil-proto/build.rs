//! Generates the tonic client and server for `proto/vigil/agent.proto` (needs `protoc`).

fn main() {
    let proto = "../../proto/vigil/agent.proto";
    println!("cargo:rerun-if-changed={proto}");
    tonic_prost_build::configure()
        .compile_protos(&[proto], &["../../proto"])
        .unwrap_or_else(|e| {
            panic!("cannot compile {proto} (is protobuf-compiler installed?): {e}")
        });
}
