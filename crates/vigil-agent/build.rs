//! Compiles the eBPF programs (`src/bpf/sensors.bpf.c`, the sensors, and
//! `src/bpf/protect.bpf.c`, the network enforcement) with clang and generates their Rust
//! skeletons with libbpf-cargo. `vmlinux.h` comes from the build machine's BTF
//! (`/sys/kernel/btf/vmlinux`) through `bpftool`; CO-RE relocations make the object portable to
//! other BTF kernels.

use std::path::PathBuf;
use std::process::Command;

use libbpf_cargo::SkeletonBuilder;

/// Each program and the skeleton it becomes.
const PROGRAMS: [(&str, &str); 3] = [
    ("src/bpf/sensors.bpf.c", "sensors.skel.rs"),
    ("src/bpf/protect.bpf.c", "protect.skel.rs"),
    // Tamper protection and ASR (signal_generate, open flags, exec and ptrace rules).
    ("src/bpf/guard.bpf.c", "guard.skel.rs"),
];

fn main() {
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR is set by cargo"));
    let vmlinux = out.join("vmlinux.h");
    let btf = std::env::var("VIGIL_BTF").unwrap_or_else(|_| "/sys/kernel/btf/vmlinux".into());
    let dump = Command::new("bpftool")
        .args(["btf", "dump", "file", &btf, "format", "c"])
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run bpftool to make vmlinux.h (install Debian's bpftool): {e}")
        });
    if !dump.status.success() {
        panic!(
            "bpftool could not dump {btf}: {}; the build needs a kernel with BTF or VIGIL_BTF=<file>",
            String::from_utf8_lossy(&dump.stderr)
        );
    }
    std::fs::write(&vmlinux, dump.stdout).expect("write vmlinux.h");

    let arch = match std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() {
        Ok("aarch64") => "arm64",
        _ => "x86",
    };
    for (src, skel) in PROGRAMS {
        SkeletonBuilder::new()
            .source(src)
            .clang_args([
                format!("-I{}", out.display()),
                "-Isrc/bpf".to_string(),
                format!("-D__TARGET_ARCH_{arch}"),
            ])
            .build_and_generate(out.join(skel))
            .unwrap_or_else(|e| panic!("compile {src} (see the libbpf/clang message above): {e}"));
        println!("cargo:rerun-if-changed={src}");
    }
    println!("cargo:rerun-if-changed=src/bpf/events.h");
    println!("cargo:rerun-if-changed=src/bpf/protect.h");
    println!("cargo:rerun-if-changed=src/bpf/guard.h");
    println!("cargo:rerun-if-changed=src/bpf/guard_change.h");
    println!("cargo:rerun-if-env-changed=VIGIL_BTF");
}
