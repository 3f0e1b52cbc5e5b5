//! Sample builders shared by the tests: EICAR (assembled at run time so that no file of the
//! repository holds it whole), zip, tar and gzip archives, minimal ELF images.

use std::io::{Cursor, Write};
use std::sync::OnceLock;

use vigil_scan::{Engine, EngineReport};

/// The EICAR test file (68 bytes).
pub fn eicar() -> Vec<u8> {
    [
        &b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$"[..],
        b"EICAR-STANDARD-ANTIVIRUS-",
        b"TEST-FILE!$H+H*",
    ]
    .concat()
}

/// The engine with the team pack only, built once for all tests.
pub fn team_engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let (engine, report) = Engine::builder().team_rules().build();
        assert_team_pack_compiled(&report);
        engine
    })
}

pub fn assert_team_pack_compiled(report: &EngineReport) {
    let failed: Vec<_> = report.failed().collect();
    assert!(
        failed.is_empty(),
        "team rule files failed to compile: {failed:#?}"
    );
}

pub fn zip_of(members: &[(&str, &[u8])], deflate: bool) -> Vec<u8> {
    let method = if deflate {
        zip::CompressionMethod::Deflated
    } else {
        zip::CompressionMethod::Stored
    };
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(method)
        .large_file(false);
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (name, data) in members {
        writer.start_file(*name, options).unwrap();
        writer.write_all(data).unwrap();
    }
    writer.finish().unwrap().into_inner()
}

pub fn tar_of(members: &[(&str, &[u8])]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (name, data) in members {
        let mut header = tar::Header::new_ustar();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_entry_type(tar::EntryType::Regular);
        builder.append_data(&mut header, name, *data).unwrap();
    }
    builder.into_inner().unwrap()
}

pub fn gzip_of(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

/// A 64-bit little-endian ELF header of type `e_type` with `shnum` section headers,
/// followed by `body`.
pub fn elf(e_type: u16, shnum: u16, body: &[u8]) -> Vec<u8> {
    let mut h = vec![0u8; 64];
    h[..4].copy_from_slice(b"\x7fELF");
    h[4] = 2; // 64-bit
    h[5] = 1; // little-endian
    h[6] = 1; // version
    h[16..18].copy_from_slice(&e_type.to_le_bytes());
    h[18..20].copy_from_slice(&62u16.to_le_bytes()); // x86-64
    h[0x3c..0x3e].copy_from_slice(&shnum.to_le_bytes());
    h.extend_from_slice(body);
    h
}
