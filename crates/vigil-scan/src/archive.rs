//! Archive members: recognising zip, tar and gzip by their bytes and handing each member,
//! read within the scan's budget, to a callback.
//!
//! Invariants: formats are recognised by content, never by file name; a zip's declared
//! member count is checked against the entry budget before its directory is parsed (a
//! directory of millions of entries is refused, not allocated); a damaged archive yields the
//! members read before the damage and counts the rest as skipped; nothing here panics on
//! hostile bytes.

use std::io::Cursor;

use crate::budget::{Budget, Stop};

/// What is done with each member: `(budget, member name, member bytes)`.
pub(crate) type OnMember<'a> = dyn FnMut(&mut Budget<'_>, &str, &[u8]) -> Result<(), Stop> + 'a;

/// An archive format the engine opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Zip,
    Tar,
    Gzip,
}

/// Recognises an archive by its magic bytes.
pub(crate) fn detect(data: &[u8]) -> Option<Kind> {
    if data.starts_with(b"PK\x03\x04") || (data.starts_with(b"PK\x05\x06") && data.len() >= 22) {
        return Some(Kind::Zip);
    }
    if data.starts_with(&[0x1f, 0x8b, 0x08]) {
        return Some(Kind::Gzip);
    }
    if data.len() >= 512 && &data[257..262] == b"ustar" {
        return Some(Kind::Tar);
    }
    None
}

/// Calls `each` for every regular member of the archive.
pub(crate) fn for_each_member(
    kind: Kind,
    data: &[u8],
    display: &str,
    budget: &mut Budget<'_>,
    each: &mut OnMember<'_>,
) -> Result<(), Stop> {
    match kind {
        Kind::Zip => zip_members(data, display, budget, each),
        Kind::Tar => tar_members(data, display, budget, each),
        Kind::Gzip => gzip_member(data, display, budget, each),
    }
}

fn zip_members(
    data: &[u8],
    display: &str,
    budget: &mut Budget<'_>,
    each: &mut OnMember<'_>,
) -> Result<(), Stop> {
    if let Some(declared) = zip_declared_entries(data) {
        if declared > budget.entries_left() {
            // Count them so that the report says how far past the bound the archive goes.
            budget.take_entries(declared, display)?;
        }
    }
    let mut archive = match zip::ZipArchive::new(Cursor::new(data)) {
        Ok(a) => a,
        Err(_) => {
            budget.skipped += 1;
            return Ok(());
        }
    };
    for index in 0..archive.len() {
        budget.take_entries(1, display)?;
        budget.check_deadline()?;
        let mut file = match archive.by_index(index) {
            Ok(f) => f,
            Err(_) => {
                // Encrypted, unsupported compression, or a damaged local header.
                budget.skipped += 1;
                continue;
            }
        };
        if file.is_dir() {
            continue;
        }
        let name = String::from_utf8_lossy(file.name_raw()).into_owned();
        let compressed = file.compressed_size();
        let stored = file.compression() == zip::CompressionMethod::Stored;
        let member = budget.read_member(
            &mut file,
            (!stored).then_some(compressed),
            &format!("{display}!{name}"),
        )?;
        drop(file);
        each(budget, &name, &member)?;
    }
    Ok(())
}

/// The member count a zip declares in its end-of-central-directory record (zip64 aware),
/// read without parsing the directory.
fn zip_declared_entries(data: &[u8]) -> Option<u64> {
    const EOCD: &[u8] = b"PK\x05\x06";
    let search_from = data.len().saturating_sub(22 + 65_535);
    let tail = &data[search_from..];
    let pos = tail.windows(4).rposition(|w| w == EOCD)?;
    let eocd = &tail[pos..];
    if eocd.len() < 22 {
        return None;
    }
    let total = u16::from_le_bytes([eocd[10], eocd[11]]);
    if total != 0xFFFF {
        return Some(u64::from(total));
    }
    // Zip64: the locator sits 20 bytes before the EOCD and points at the zip64 record.
    let abs = search_from + pos;
    let locator = data.get(abs.checked_sub(20)?..abs)?;
    if &locator[..4] != b"PK\x06\x07" {
        return None;
    }
    let offset = u64::from_le_bytes(locator[8..16].try_into().ok()?);
    let record = data.get(usize::try_from(offset).ok()?..)?;
    if record.len() < 40 || &record[..4] != b"PK\x06\x06" {
        return None;
    }
    Some(u64::from_le_bytes(record[32..40].try_into().ok()?))
}

fn tar_members(
    data: &[u8],
    display: &str,
    budget: &mut Budget<'_>,
    each: &mut OnMember<'_>,
) -> Result<(), Stop> {
    let mut archive = tar::Archive::new(Cursor::new(data));
    let entries = match archive.entries() {
        Ok(e) => e,
        Err(_) => {
            budget.skipped += 1;
            return Ok(());
        }
    };
    for entry in entries {
        budget.take_entries(1, display)?;
        budget.check_deadline()?;
        let mut entry = match entry {
            Ok(e) => e,
            Err(_) => {
                // A damaged header ends the archive: tar has no index to resynchronise on.
                budget.skipped += 1;
                break;
            }
        };
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let member = budget.read_member(&mut entry, None, &format!("{display}!{name}"))?;
        each(budget, &name, &member)?;
    }
    Ok(())
}

fn gzip_member(
    data: &[u8],
    display: &str,
    budget: &mut Budget<'_>,
    each: &mut OnMember<'_>,
) -> Result<(), Stop> {
    budget.take_entries(1, display)?;
    let mut decoder = flate2::read::MultiGzDecoder::new(data);
    let fallback = gunzipped_name(display);
    let member = budget.read_member(
        &mut decoder,
        Some(data.len() as u64),
        &format!("{display}!{fallback}"),
    )?;
    let name = decoder
        .header()
        .and_then(|h| h.filename())
        .map(|f| String::from_utf8_lossy(f).into_owned())
        .filter(|f| !f.is_empty())
        .unwrap_or(fallback);
    each(budget, &name, &member)
}

/// The name of a gzip file's content when its header names none: `x.tar.gz` → `x.tar`,
/// `x.tgz` → `x.tar`, else the name without `.gz` (or with `.out` when it has none).
fn gunzipped_name(display: &str) -> String {
    let last = display.rsplit(['/', '!']).next().unwrap_or(display);
    if let Some(stem) = last.strip_suffix(".tgz") {
        format!("{stem}.tar")
    } else if let Some(stem) = last.strip_suffix(".gz").filter(|s| !s.is_empty()) {
        stem.to_string()
    } else {
        format!("{last}.out")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gunzipped_names() {
        assert_eq!(gunzipped_name("/a/b/x.tar.gz"), "x.tar");
        assert_eq!(gunzipped_name("o.zip!x.tgz"), "x.tar");
        assert_eq!(gunzipped_name("blob"), "blob.out");
    }

    #[test]
    fn detects_by_content_only() {
        assert_eq!(detect(b"PK\x03\x04rest"), Some(Kind::Zip));
        assert_eq!(detect(&[0x1f, 0x8b, 0x08, 0]), Some(Kind::Gzip));
        let mut tar = vec![0u8; 512];
        tar[257..262].copy_from_slice(b"ustar");
        assert_eq!(detect(&tar), Some(Kind::Tar));
        assert_eq!(detect(b"plain text"), None);
        assert_eq!(detect(&tar[..511]), None);
    }

    #[test]
    fn declared_entries_of_an_empty_zip() {
        let mut eocd = b"PK\x05\x06".to_vec();
        eocd.extend_from_slice(&[0, 0, 0, 0, 7, 0, 7, 0]);
        eocd.extend_from_slice(&[0; 10]);
        assert_eq!(zip_declared_entries(&eocd), Some(7));
        assert_eq!(zip_declared_entries(b"PK\x05\x06"), None);
    }
}
