//! Scripts: the interpreter a shebang line names (`#!/bin/sh` → `sh`,
//! `#!/usr/bin/env -S python3 -u` → `python3`), for attack surface reduction rules.
//!
//! Invariant: only the first line, at most 256 bytes, is read; the result is the
//! interpreter's file name (no directory), or `None` when there is no usable shebang.

/// Longest shebang line looked at (the kernel reads 256 bytes since Linux 5.1).
const MAX_LINE: usize = 256;

/// The interpreter named by the shebang at the start of `data`, if any.
pub fn interpreter(data: &[u8]) -> Option<String> {
    let rest = data.strip_prefix(b"#!")?;
    let line = &rest[..rest.len().min(MAX_LINE)];
    let line = line.split(|&b| b == b'\n').next().unwrap_or(line);
    let line = String::from_utf8_lossy(line);
    let mut words = line.split([' ', '\t', '\r']).filter(|w| !w.is_empty());
    let program = words.next()?;
    let name = base_name(program);
    if name == "env" {
        // `env [-S] [-i] [NAME=value]... interpreter`
        let next = words.find(|w| !w.starts_with('-') && !w.contains('='))?;
        return Some(base_name(next).to_string());
    }
    (!name.is_empty()).then(|| name.to_string())
}

fn base_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

#[cfg(test)]
mod tests {
    use super::interpreter;

    #[test]
    fn shebangs() {
        assert_eq!(interpreter(b"#!/bin/sh\necho hi").as_deref(), Some("sh"));
        assert_eq!(
            interpreter(b"#! /usr/bin/python3 -u\n").as_deref(),
            Some("python3")
        );
        assert_eq!(
            interpreter(b"#!/usr/bin/env -S perl -w\n").as_deref(),
            Some("perl")
        );
        assert_eq!(
            interpreter(b"#!/usr/bin/env LANG=C bash\r\n").as_deref(),
            Some("bash")
        );
        assert_eq!(interpreter(b"#!/usr/bin/env\n"), None);
        assert_eq!(interpreter(b"#!\n"), None);
        assert_eq!(interpreter(b"echo no shebang"), None);
        assert_eq!(interpreter(b"\x7fELF"), None);
    }
}
