//! A small CSV reader for feed files: RFC 4180 quoting (`""` inside quotes, separators and
//! line breaks inside quoted fields), plus what feeds do in practice: blank space before an
//! opening quote or around unquoted fields (abuse.ch writes `"a", "b"`), CRLF line ends, a
//! UTF-8 byte-order mark, and `#` comment lines (when asked) that are returned separately.
//!
//! Invariant: every record carries the physical line (1-based) it starts on, which is what
//! errors and skip reasons name; a quoting error fails with that line.

use crate::IntelError;

/// One data record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The physical line the record starts on (1-based).
    pub line: usize,
    pub fields: Vec<String>,
    /// Whether any field was quoted (so a one-field record without quotes was a line with
    /// neither a separator nor a quote).
    pub quoted: bool,
}

impl Record {
    /// `line N`, as errors and provenance name the record.
    pub fn name(&self) -> String {
        format!("line {}", self.line)
    }
}

/// A file split into comment lines (text after `#`, in order) and data records.
#[derive(Debug, Default)]
pub struct Parsed {
    pub comments: Vec<(usize, String)>,
    pub records: Vec<Record>,
}

/// Strips a UTF-8 byte-order mark and checks the text is UTF-8.
pub fn text(data: &[u8]) -> Result<&str, IntelError> {
    let data = data.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(data);
    std::str::from_utf8(data).map_err(|e| {
        let line = 1 + data[..e.valid_up_to()]
            .iter()
            .filter(|b| **b == b'\n')
            .count();
        IntelError::invalid("the file is not UTF-8 text").at(format!("line {line}"))
    })
}

/// Splits `text` into records. With `comments`, a line whose first non-blank character is `#`
/// is a comment (only at the start of a record, never inside quotes). Blank lines are skipped.
pub fn parse(text: &str, comments: bool) -> Result<Parsed, IntelError> {
    let b = text.as_bytes();
    let mut out = Parsed::default();
    let mut i = 0;
    let mut line = 1;
    while i < b.len() {
        // Blank lines and comments.
        let line_end = memchr_nl(b, i);
        let raw_line = &text[i..line_end];
        let trimmed = raw_line.trim();
        if trimmed.is_empty() {
            i = line_end + 1;
            line += 1;
            continue;
        }
        if comments && trimmed.starts_with('#') {
            out.comments.push((line, trimmed[1..].trim().to_string()));
            i = line_end + 1;
            line += 1;
            continue;
        }
        let start_line = line;
        let mut fields = Vec::new();
        let mut quoted = false;
        loop {
            // One field, starting at i.
            while i < b.len() && (b[i] == b' ' || b[i] == b'\t') {
                i += 1;
            }
            if i < b.len() && b[i] == b'"' {
                quoted = true;
                i += 1;
                let mut value = String::new();
                let mut seg = i;
                loop {
                    if i >= b.len() {
                        return Err(IntelError::invalid(
                            "unterminated quoted field (a \" is never closed)",
                        )
                        .at(format!("line {start_line}")));
                    }
                    match b[i] {
                        b'"' if b.get(i + 1) == Some(&b'"') => {
                            value.push_str(&text[seg..=i]);
                            i += 2;
                            seg = i;
                        }
                        b'"' => {
                            value.push_str(&text[seg..i]);
                            i += 1;
                            break;
                        }
                        b'\n' => {
                            line += 1;
                            i += 1;
                        }
                        _ => i += 1,
                    }
                }
                while i < b.len() && (b[i] == b' ' || b[i] == b'\t' || b[i] == b'\r') {
                    i += 1;
                }
                if i < b.len() && b[i] != b',' && b[i] != b'\n' {
                    return Err(IntelError::invalid(format!(
                        "unexpected {:?} after a closing quote (expected , or the end of the line)",
                        text[i..].chars().next().unwrap_or(' ')
                    ))
                    .at(format!("line {line}")));
                }
                fields.push(value);
            } else {
                let start = i;
                while i < b.len() && b[i] != b',' && b[i] != b'\n' {
                    i += 1;
                }
                let raw = text[start..i].trim();
                if raw.contains('"') {
                    return Err(IntelError::invalid(format!(
                        "stray quote in unquoted field {raw:?} (quote the whole field)"
                    ))
                    .at(format!("line {line}")));
                }
                fields.push(raw.to_string());
            }
            if i < b.len() && b[i] == b',' {
                i += 1;
                continue;
            }
            // End of line or of input.
            if i < b.len() {
                i += 1;
                line += 1;
            }
            break;
        }
        out.records.push(Record {
            line: start_line,
            fields,
            quoted,
        });
    }
    Ok(out)
}

fn memchr_nl(b: &[u8], from: usize) -> usize {
    b[from..]
        .iter()
        .position(|c| *c == b'\n')
        .map_or(b.len(), |p| from + p)
}

/// Quotes a field for writing when it holds a separator, a quote, a line break or edge space.
pub fn quote(field: &str) -> String {
    let needs = field.contains([',', '"', '\n', '\r'])
        || field.starts_with([' ', '\t', '#'])
        || field.ends_with([' ', '\t']);
    if needs {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(text: &str) -> Vec<Vec<String>> {
        parse(text, true)
            .unwrap()
            .records
            .into_iter()
            .map(|r| r.fields)
            .collect()
    }

    #[test]
    fn quoting_and_spacing() {
        assert_eq!(
            fields("a, \"b,c\" ,\"d\"\"e\"\r\n\n x ,y\n"),
            vec![vec!["a", "b,c", "d\"e"], vec!["x", "y"]]
        );
        assert_eq!(fields("a,,\n"), vec![vec!["a", "", ""]]);
    }

    #[test]
    fn quoted_line_breaks_keep_the_starting_line() {
        let p = parse("# c\nh1,h2\n\"multi\nline\",2\nlast,3", true).unwrap();
        assert_eq!(p.comments, vec![(1, "c".to_string())]);
        let lines: Vec<usize> = p.records.iter().map(|r| r.line).collect();
        assert_eq!(lines, vec![2, 3, 5]);
        assert_eq!(p.records[1].fields[0], "multi\nline");
    }

    #[test]
    fn broken_quoting_names_the_line() {
        let e = parse("a,b\n\"open,c\n", true).unwrap_err();
        assert_eq!(e.record.as_deref(), Some("line 2"));
        let e = parse("a,b\nx,\"q\"z\n", true).unwrap_err();
        assert_eq!(e.record.as_deref(), Some("line 2"));
        assert!(e.message.contains("after a closing quote"), "{e}");
        let e = parse("a,b\nx,y\"z\n", true).unwrap_err();
        assert_eq!(e.record.as_deref(), Some("line 2"));
    }

    #[test]
    fn records_say_whether_a_field_was_quoted() {
        let p = parse("bare\n\"q\"\na,\"b\"\nc,d\n", false).unwrap();
        let q: Vec<bool> = p.records.iter().map(|r| r.quoted).collect();
        assert_eq!(q, [false, true, true, false]);
    }

    #[test]
    fn quote_round_trips() {
        for f in ["plain", "a,b", "say \"hi\"", "two\nlines", " edge", "#x"] {
            let line = format!("{},end\n", quote(f));
            assert_eq!(fields(&line), vec![vec![f.to_string(), "end".to_string()]]);
        }
    }
}
