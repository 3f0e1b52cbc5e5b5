//! Secrets, their stored hashes, ids, and the input checks shared by the entity modules.
//!
//! A secret is a prefix (`vet_`, `vat_`) and 32 random bytes in lowercase hex. Only its
//! SHA-256 (hex) is stored, with the first 16 hex digits of that hash in a separate indexed
//! column: a lookup finds candidate rows by that prefix, and the full hash is then compared in
//! constant time, so the database's index comparison never decides on the whole hash.

use sha2::{Digest, Sha256};

use crate::StateError;

/// Random bytes in a secret.
const SECRET_BYTES: usize = 32;
/// Hex digits of the hash kept in the `secret_lookup` column.
const LOOKUP_LEN: usize = 16;
/// The longest name or label, in characters.
pub(crate) const MAX_NAME_CHARS: usize = 256;

/// A new secret: `prefix` then 64 lowercase hex digits.
pub(crate) fn new_secret(prefix: &str) -> String {
    let bytes: [u8; SECRET_BYTES] = rand::random();
    format!("{prefix}{}", hex::encode(bytes))
}

/// A new record id: `prefix` then 16 lowercase hex digits.
pub(crate) fn new_id(prefix: &str) -> String {
    let bytes: [u8; 8] = rand::random();
    format!("{prefix}{}", hex::encode(bytes))
}

/// The stored form of a secret: its SHA-256 in lowercase hex.
pub(crate) fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// The indexed prefix of a stored hash.
pub(crate) fn lookup(hash: &str) -> &str {
    &hash[..LOOKUP_LEN]
}

/// Whether `a == b`, in time that depends only on the lengths.
pub(crate) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

/// A name or label: at most 256 characters, no control characters; `non_empty` also refuses
/// an empty or all-blank one.
pub(crate) fn check_name(
    what: &'static str,
    value: &str,
    non_empty: bool,
) -> Result<(), StateError> {
    if non_empty && value.trim().is_empty() {
        return Err(StateError::invalid(what, value, "must not be empty"));
    }
    if value.chars().count() > MAX_NAME_CHARS {
        return Err(StateError::invalid(
            what,
            value,
            format!("must have at most {MAX_NAME_CHARS} characters"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(StateError::invalid(
            what,
            value,
            "must not contain control characters",
        ));
    }
    Ok(())
}

/// A role name: 1 to 32 of `a-z`, `0-9`, `_`, `-`.
pub(crate) fn check_role(role: &str) -> Result<(), StateError> {
    let ok = !role.is_empty()
        && role.len() <= 32
        && role
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(StateError::invalid(
            "role",
            role,
            "must be 1 to 32 of a-z, 0-9, '_' or '-'",
        ))
    }
}

/// A stored non-negative integer as `u32`.
pub(crate) fn to_u32(column: &'static str, v: i64) -> Result<u32, StateError> {
    u32::try_from(v).map_err(|_| StateError::Corrupt {
        column,
        value: v.to_string(),
    })
}

/// A stored non-negative integer as `u64`.
pub(crate) fn to_u64(column: &'static str, v: i64) -> Result<u64, StateError> {
    u64::try_from(v).map_err(|_| StateError::Corrupt {
        column,
        value: v.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_prefixed_random_hex() {
        let a = new_secret("vet_");
        let b = new_secret("vet_");
        assert_ne!(a, b);
        assert_eq!(a.len(), 4 + 64);
        assert!(a[4..].bytes().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(hash(&a).len(), 64);
        assert_eq!(lookup(&hash(&a)).len(), 16);
    }

    #[test]
    fn ct_eq_compares() {
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"ab"));
    }

    #[test]
    fn names_and_roles_are_checked() {
        assert!(check_name("label", "", false).is_ok());
        assert!(check_name("name", " ", true).is_err());
        assert!(check_name("name", "a\u{7}", true).is_err());
        assert!(check_name("name", &"x".repeat(257), true).is_err());
        assert!(check_role("admin").is_ok());
        assert!(check_role("Admin").is_err());
        assert!(check_role("").is_err());
    }
}
