//! Command-line arguments: a command line split into its arguments in Vigil's quoting, for
//! rules on the N-th argument (auditd EXECVE's `a0`, `a1`, ...), and where the first one
//! starts (for the prefilter).

/// Split a command line in Vigil's quoting (arguments holding whitespace or quotes are
/// written `"..."` with `\"` and `\\` escapes), from byte `from`, until `out` holds `want`
/// arguments: appends them to `buf`, one range each. Returns where it stopped.
pub(crate) fn argv_split(
    cmd: &str,
    from: usize,
    want: usize,
    buf: &mut String,
    out: &mut Vec<(usize, usize)>,
) -> usize {
    let b = cmd.as_bytes();
    let mut i = from;
    while out.len() < want {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= b.len() {
            return i;
        }
        let start = buf.len();
        if b[i] == b'"' {
            i += 1;
            // Copy runs of plain bytes; unescape `\"` and `\\`.
            let mut run = i;
            while i < b.len() {
                match b[i] {
                    b'\\' if matches!(b.get(i + 1), Some(b'"') | Some(b'\\')) => {
                        buf.push_str(&cmd[run..i]);
                        buf.push(char::from(b[i + 1]));
                        i += 2;
                        run = i;
                    }
                    b'"' => break,
                    _ => i += 1,
                }
            }
            buf.push_str(&cmd[run..i]);
            i = (i + 1).min(b.len());
        } else {
            let s = i;
            while i < b.len() && !b[i].is_ascii_whitespace() {
                i += 1;
            }
            buf.push_str(&cmd[s..i]);
        }
        out.push((start, buf.len()));
    }
    i
}

/// Where the first argument of a command line starts, in Vigil's quoting (see
/// [`argv_split`]): after leading whitespace and an opening quote. An argument that
/// starts with a literal holding no `"` nor `\` starts there with it, quoted or not.
pub fn first_arg(text: &[u8]) -> &[u8] {
    let i = text
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(text.len());
    let t = &text[i..];
    t.strip_prefix(b"\"").unwrap_or(t)
}

/// The `n`-th argument of a command line (see [`argv_split`]), written to `out`.
#[cfg(test)]
pub(crate) fn argv_nth(cmd: &str, n: usize, out: &mut String) -> bool {
    let mut buf = String::new();
    let mut toks = Vec::new();
    argv_split(cmd, 0, usize::MAX, &mut buf, &mut toks);
    out.clear();
    match toks.get(n) {
        Some(&(a, b)) => {
            out.push_str(&buf[a..b]);
            true
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::argv_nth;

    #[test]
    fn argv_tokens_undo_vigils_quoting() {
        let cmd = r#"sh -c "echo \"hi\" \\ there" """#;
        let mut s = String::new();
        assert!(argv_nth(cmd, 0, &mut s));
        assert_eq!(s, "sh");
        assert!(argv_nth(cmd, 1, &mut s));
        assert_eq!(s, "-c");
        assert!(argv_nth(cmd, 2, &mut s));
        assert_eq!(s, r#"echo "hi" \ there"#);
        assert!(argv_nth(cmd, 3, &mut s));
        assert_eq!(s, "");
        assert!(!argv_nth(cmd, 4, &mut s));
        assert!(argv_nth("  a   b ", 1, &mut s));
        assert_eq!(s, "b");
        assert!(!argv_nth("", 0, &mut s));
    }
}
