//! Tokens of the STIX 2.1 patterning language.
//!
//! Literals are decoded here: string escapes (`\'` and `\\`, nothing else), hex (`h'..'`),
//! base64 binary (`b'..'`, and `b64'..'` as some producers write it), timestamps (`t'..'`,
//! checked as RFC 3339 in UTC), integers and floats. Invariant: every token carries the byte
//! offset where it starts, and every lexical error names the offset where it is.

use base64::Engine;

use super::PatternError;

#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    LBrack,
    RBrack,
    LParen,
    RParen,
    Colon,
    Dot,
    Comma,
    Star,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    /// An identifier or keyword (`file`, `hashes`, `AND`, `true`): the parser decides which.
    Ident(String),
    Str(String),
    Bytes(Vec<u8>),
    /// The timestamp's text and its instant in unix ms.
    Time(String, i64),
    Int(i64),
    Float(f64),
    End,
}

impl Tok {
    /// How the token reads in an error message.
    pub fn describe(&self) -> String {
        match self {
            Tok::LBrack => "'['".into(),
            Tok::RBrack => "']'".into(),
            Tok::LParen => "'('".into(),
            Tok::RParen => "')'".into(),
            Tok::Colon => "':'".into(),
            Tok::Dot => "'.'".into(),
            Tok::Comma => "','".into(),
            Tok::Star => "'*'".into(),
            Tok::Eq => "'='".into(),
            Tok::Ne => "'!='".into(),
            Tok::Lt => "'<'".into(),
            Tok::Le => "'<='".into(),
            Tok::Gt => "'>'".into(),
            Tok::Ge => "'>='".into(),
            Tok::Ident(s) => format!("{s:?}"),
            Tok::Str(_) => "a string".into(),
            Tok::Bytes(_) => "a binary literal".into(),
            Tok::Time(..) => "a timestamp".into(),
            Tok::Int(_) | Tok::Float(_) => "a number".into(),
            Tok::End => "the end of the pattern".into(),
        }
    }
}

/// Splits `src` into tokens, each with its byte offset; the last is `End`.
pub fn tokens(src: &str) -> Result<Vec<(usize, Tok)>, PatternError> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let start = i;
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let simple = match c {
            b'[' => Some(Tok::LBrack),
            b']' => Some(Tok::RBrack),
            b'(' => Some(Tok::LParen),
            b')' => Some(Tok::RParen),
            b':' => Some(Tok::Colon),
            b',' => Some(Tok::Comma),
            b'*' => Some(Tok::Star),
            _ => None,
        };
        if let Some(t) = simple {
            out.push((start, t));
            i += 1;
            continue;
        }
        let two = b.get(i + 1).copied();
        let op = match (c, two) {
            (b'=', Some(b'=')) => Some((Tok::Eq, 2)),
            (b'=', _) => Some((Tok::Eq, 1)),
            (b'!', Some(b'=')) => Some((Tok::Ne, 2)),
            (b'<', Some(b'>')) => Some((Tok::Ne, 2)),
            (b'<', Some(b'=')) => Some((Tok::Le, 2)),
            (b'<', _) => Some((Tok::Lt, 1)),
            (b'>', Some(b'=')) => Some((Tok::Ge, 2)),
            (b'>', _) => Some((Tok::Gt, 1)),
            _ => None,
        };
        if let Some((t, n)) = op {
            out.push((start, t));
            i += n;
            continue;
        }
        if c == b'\'' {
            let (s, next) = string(src, i)?;
            out.push((start, Tok::Str(s)));
            i = next;
            continue;
        }
        if c.is_ascii_digit()
            || c == b'+'
            || c == b'-'
            || (c == b'.' && two.is_some_and(|d| d.is_ascii_digit()))
        {
            let (t, next) = number(src, i)?;
            out.push((start, t));
            i = next;
            continue;
        }
        if c == b'.' {
            out.push((start, Tok::Dot));
            i += 1;
            continue;
        }
        if c.is_ascii_alphabetic() || c == b'_' {
            let mut j = i + 1;
            while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_' || b[j] == b'-') {
                j += 1;
            }
            let word = &src[i..j];
            if b.get(j) == Some(&b'\'') {
                let (body, next) = string(src, j)?;
                let tok = match word {
                    "h" => Tok::Bytes(hex_literal(&body, start)?),
                    "b" | "b64" => Tok::Bytes(base64_literal(&body, start)?),
                    "t" => {
                        let ms = timestamp_literal(&body).ok_or_else(|| {
                            PatternError::new(
                                start,
                                format!("t'{body}' is not an RFC 3339 timestamp in UTC (e.g. t'2016-01-01T00:00:00Z')"),
                            )
                        })?;
                        Tok::Time(body, ms)
                    }
                    _ => {
                        return Err(PatternError::new(
                            start,
                            format!("unknown literal prefix {word:?} before a quote (expected h, b, b64 or t)"),
                        ))
                    }
                };
                out.push((start, tok));
                i = next;
                continue;
            }
            out.push((start, Tok::Ident(word.to_string())));
            i = j;
            continue;
        }
        let ch = src[i..].chars().next().unwrap_or('?');
        return Err(PatternError::new(
            start,
            format!("unexpected character {ch:?}"),
        ));
    }
    out.push((b.len(), Tok::End));
    Ok(out)
}

/// A quoted string starting at `at` (the quote); returns its decoded text and the offset after
/// the closing quote.
fn string(src: &str, at: usize) -> Result<(String, usize), PatternError> {
    let b = src.as_bytes();
    let mut out = String::new();
    let mut i = at + 1;
    let mut seg = i;
    loop {
        match b.get(i) {
            None => {
                return Err(PatternError::new(at, "unterminated string (no closing ')"));
            }
            Some(b'\'') => {
                out.push_str(&src[seg..i]);
                return Ok((out, i + 1));
            }
            Some(b'\\') => {
                out.push_str(&src[seg..i]);
                match b.get(i + 1) {
                    Some(b'\'') => out.push('\''),
                    Some(b'\\') => out.push('\\'),
                    Some(_) => {
                        let ch = src[i + 1..].chars().next().unwrap_or('?');
                        return Err(PatternError::new(
                            i,
                            format!(
                                "invalid escape \\{ch} in a string (only \\' and \\\\ are allowed)"
                            ),
                        ));
                    }
                    None => {
                        return Err(PatternError::new(at, "unterminated string (no closing ')"))
                    }
                }
                i += 2;
                seg = i;
            }
            Some(_) => i += 1,
        }
    }
}

fn number(src: &str, at: usize) -> Result<(Tok, usize), PatternError> {
    let b = src.as_bytes();
    let mut i = at;
    if b[i] == b'+' || b[i] == b'-' {
        i += 1;
    }
    let int_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let int_digits = i - int_start;
    let mut is_float = false;
    if i < b.len() && b[i] == b'.' {
        is_float = true;
        i += 1;
        let frac_start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == frac_start {
            return Err(PatternError::new(
                at,
                "a number ends with '.' (digits must follow it)",
            ));
        }
    } else if int_digits == 0 {
        return Err(PatternError::new(
            at,
            format!("{:?} is not followed by a number", b[at] as char),
        ));
    }
    if i < b.len() && (b[i].is_ascii_alphabetic() || b[i] == b'_') {
        return Err(PatternError::new(
            at,
            format!("{:?} is not a number", &src[at..=i]),
        ));
    }
    let text = &src[at..i];
    let tok =
        if is_float {
            Tok::Float(
                text.parse()
                    .map_err(|_| PatternError::new(at, format!("{text:?} is not a number")))?,
            )
        } else {
            Tok::Int(text.parse().map_err(|_| {
                PatternError::new(at, format!("{text:?} is out of the integer range"))
            })?)
        };
    Ok((tok, i))
}

fn hex_literal(body: &str, at: usize) -> Result<Vec<u8>, PatternError> {
    hex::decode(body).map_err(|_| {
        PatternError::new(
            at,
            format!("h'{body}' is not hexadecimal bytes (pairs of 0-9, a-f)"),
        )
    })
}

fn base64_literal(body: &str, at: usize) -> Result<Vec<u8>, PatternError> {
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .map_err(|e| PatternError::new(at, format!("b'{body}' is not base64: {e}")))
}

/// STIX timestamps are RFC 3339 in UTC (`Z`), with or without a fraction.
fn timestamp_literal(body: &str) -> Option<i64> {
    let ok_shape =
        body.len() >= 20 && body.as_bytes().get(10) == Some(&b'T') && body.ends_with('Z');
    if !ok_shape {
        return None;
    }
    crate::import::time::parse_ms(body)
}
