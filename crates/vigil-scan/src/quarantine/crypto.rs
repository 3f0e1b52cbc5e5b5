//! Encryption at rest of quarantined files: AES-256-GCM in 1 MiB chunks under a per-item key.
//!
//! Format: `VIGILQ1\n` | salt (32 bytes) | chunks. Each chunk is the sealed plaintext
//! (exactly `CHUNK` bytes for every chunk but the last, which may be shorter or empty)
//! followed by its 16-byte tag. The item key is HKDF-SHA256(salt, vault key); the nonce of
//! chunk `i` is `i` (big-endian, zero-padded); the associated data is the header and a
//! last-chunk flag, so chunks cannot be reordered, dropped or the file truncated unnoticed.
//!
//! Invariant: a fresh random salt per item means a (key, nonce) pair is never reused.
//! What this protects: the vault's content cannot be executed, and reading it needs the key
//! (a casual `cat`, a backup, a file indexer or another scanner sees ciphertext). It does
//! not protect against root on the same host, who can read the key beside the vault.

use std::io::{Read, Write};

use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use ring::hkdf;
use ring::rand::{SecureRandom, SystemRandom};
use sha2::{Digest, Sha256};

const MAGIC: &[u8; 8] = b"VIGILQ1\n";
const SALT_LEN: usize = 32;
const TAG_LEN: usize = 16;
pub(crate) const CHUNK: usize = 1 << 20;
const INFO: &[u8] = b"vigil-quarantine v1 aes-256-gcm";

/// The vault's 32-byte master key.
pub(crate) struct VaultKey([u8; 32]);

impl VaultKey {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        VaultKey(bytes)
    }

    pub fn generate() -> Result<[u8; 32], String> {
        let mut key = [0u8; 32];
        SystemRandom::new()
            .fill(&mut key)
            .map_err(|_| "the system random generator failed".to_string())?;
        Ok(key)
    }

    fn item_key(&self, salt: &[u8; SALT_LEN]) -> LessSafeKey {
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, salt).extract(&self.0);
        // AES-256-GCM's key length is within HKDF-SHA256's output bound: expand cannot fail.
        let okm = prk
            .expand(&[INFO], &AES_256_GCM)
            .expect("hkdf output length for aes-256-gcm");
        LessSafeKey::new(UnboundKey::from(okm))
    }
}

/// What was encrypted: the plaintext's length and SHA-256.
pub(crate) struct Sealed {
    pub size: u64,
    pub sha256: [u8; 32],
}

fn nonce(index: u64) -> Nonce {
    let mut n = [0u8; NONCE_LEN];
    n[NONCE_LEN - 8..].copy_from_slice(&index.to_be_bytes());
    Nonce::assume_unique_for_key(n)
}

fn aad(salt: &[u8; SALT_LEN], last: bool) -> [u8; 8 + SALT_LEN + 1] {
    let mut a = [0u8; 8 + SALT_LEN + 1];
    a[..8].copy_from_slice(MAGIC);
    a[8..8 + SALT_LEN].copy_from_slice(salt);
    a[8 + SALT_LEN] = u8::from(last);
    a
}

/// Reads until `buf` is full or the input ends; returns the bytes read.
fn fill(reader: &mut dyn Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        match reader.read(&mut buf[done..]) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

/// Encrypts everything `input` yields into `output`.
pub(crate) fn seal(
    key: &VaultKey,
    input: &mut dyn Read,
    output: &mut dyn Write,
) -> Result<Sealed, std::io::Error> {
    let mut salt = [0u8; SALT_LEN];
    SystemRandom::new()
        .fill(&mut salt)
        .map_err(|_| std::io::Error::other("the system random generator failed"))?;
    let item = key.item_key(&salt);
    output.write_all(MAGIC)?;
    output.write_all(&salt)?;
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    let mut cur = vec![0u8; CHUNK];
    let mut next = vec![0u8; CHUNK];
    let mut cur_len = fill(input, &mut cur)?;
    let mut index = 0u64;
    loop {
        let (last, next_len) = if cur_len < CHUNK {
            (true, 0)
        } else {
            let n = fill(input, &mut next)?;
            (n == 0, n)
        };
        hasher.update(&cur[..cur_len]);
        size += cur_len as u64;
        let tag = item
            .seal_in_place_separate_tag(
                nonce(index),
                Aad::from(aad(&salt, last)),
                &mut cur[..cur_len],
            )
            .map_err(|_| std::io::Error::other("encryption failed"))?;
        output.write_all(&cur[..cur_len])?;
        output.write_all(tag.as_ref())?;
        if last {
            break;
        }
        std::mem::swap(&mut cur, &mut next);
        cur_len = next_len;
        index += 1;
    }
    Ok(Sealed {
        size,
        sha256: hasher.finalize().into(),
    })
}

/// Decrypts `input` into `output`; an error names what is wrong (tampered, truncated).
pub(crate) fn open(
    key: &VaultKey,
    input: &mut dyn Read,
    output: &mut dyn Write,
) -> Result<Sealed, OpenError> {
    let mut header = [0u8; 8 + SALT_LEN];
    if fill(input, &mut header)? != header.len() || &header[..8] != MAGIC {
        return Err(OpenError::Format("not a vault item (bad header)".into()));
    }
    let mut salt = [0u8; SALT_LEN];
    salt.copy_from_slice(&header[8..]);
    let item = key.item_key(&salt);
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    let block = CHUNK + TAG_LEN;
    let mut cur = vec![0u8; block];
    let mut next = vec![0u8; block];
    let mut cur_len = fill(input, &mut cur)?;
    let mut index = 0u64;
    loop {
        let (last, next_len) = if cur_len < block {
            (true, 0)
        } else {
            let n = fill(input, &mut next)?;
            (n == 0, n)
        };
        if cur_len < TAG_LEN {
            return Err(OpenError::Format(format!("chunk {index} is truncated")));
        }
        let plain = item
            .open_in_place(
                nonce(index),
                Aad::from(aad(&salt, last)),
                &mut cur[..cur_len],
            )
            .map_err(|_| {
                OpenError::Format(format!(
                    "chunk {index} fails authentication (tampered or truncated)"
                ))
            })?;
        hasher.update(&*plain);
        size += plain.len() as u64;
        output.write_all(plain)?;
        if last {
            break;
        }
        std::mem::swap(&mut cur, &mut next);
        cur_len = next_len;
        index += 1;
    }
    Ok(Sealed {
        size,
        sha256: hasher.finalize().into(),
    })
}

/// Why an item could not be decrypted.
#[derive(Debug)]
pub(crate) enum OpenError {
    Io(std::io::Error),
    Format(String),
}

impl From<std::io::Error> for OpenError {
    fn from(e: std::io::Error) -> Self {
        OpenError::Io(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(len: usize) {
        let key = VaultKey::from_bytes([7; 32]);
        let plain: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
        let mut sealed = Vec::new();
        let s = seal(&key, &mut plain.as_slice(), &mut sealed).unwrap();
        assert_eq!(s.size, len as u64);
        assert_eq!(
            sealed.len(),
            40 + len + len.div_ceil(CHUNK).max(1) * TAG_LEN
        );
        if len > 0 {
            assert_ne!(&sealed[40..40 + len.min(64)], &plain[..len.min(64)]);
        }
        let mut back = Vec::new();
        let o = open(&key, &mut sealed.as_slice(), &mut back).unwrap();
        assert_eq!(back, plain);
        assert_eq!(o.sha256, s.sha256);
    }

    #[test]
    fn roundtrips_at_chunk_boundaries() {
        for len in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK] {
            roundtrip(len);
        }
    }

    #[test]
    fn truncation_and_tampering_are_caught() {
        let key = VaultKey::from_bytes([9; 32]);
        let plain = vec![0x41u8; 2 * CHUNK];
        let mut sealed = Vec::new();
        seal(&key, &mut plain.as_slice(), &mut sealed).unwrap();
        // Cutting the last tag, or the whole last chunk (which leaves a chunk sealed as not
        // last at the end), both fail.
        for cut in [sealed.len() - TAG_LEN, sealed.len() - CHUNK - TAG_LEN] {
            let short = &sealed[..cut];
            assert!(matches!(
                open(&key, &mut &short[..], &mut Vec::new()),
                Err(OpenError::Format(_))
            ));
        }
        let mut flipped = sealed.clone();
        flipped[100] ^= 1;
        assert!(matches!(
            open(&key, &mut flipped.as_slice(), &mut Vec::new()),
            Err(OpenError::Format(_))
        ));
        let other = VaultKey::from_bytes([1; 32]);
        assert!(matches!(
            open(&other, &mut sealed.as_slice(), &mut Vec::new()),
            Err(OpenError::Format(_))
        ));
    }
}
