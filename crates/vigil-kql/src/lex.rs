//! Tokens of KQL.
//!
//! The lexer never fails: text it cannot make sense of becomes a [`Tok::Error`] token that the
//! parser reports only if it actually has to read it (text inside `datetime(...)`,
//! `dynamic(...)` or an unsupported operator is re-read raw or skipped, so a token error there
//! is not a query error). Keywords are not special here: KQL reserves almost nothing, so the
//! parser decides from context whether `count` is an operator, a function or a column.

use crate::span::Span;

/// One token and where it is.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub tok: Tok,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    /// A name or keyword: letters, digits and `_`, not starting with a digit.
    Ident(String),
    /// `$left`, `$right` (the text after `$`).
    Dollar(String),
    /// A string literal's value after escapes (`"a"`, `'a'`, `@"a"`, `h"a"`, ```` ```a``` ````).
    Str(String),
    Long(i64),
    Real(f64),
    /// A timespan literal (`1d`, `1.5h`, `10ms`, `5tick`), in nanoseconds.
    Timespan(i64),
    Pipe,
    Semi,
    Comma,
    LParen,
    RParen,
    LBracket,
    RBracket,
    LBrace,
    RBrace,
    Dot,
    DotDot,
    /// `=`
    Assign,
    /// `==`
    EqEq,
    /// `!=` or `<>`
    NotEq,
    Lt,
    Le,
    Gt,
    Ge,
    /// `=~`
    EqTilde,
    /// `!~`
    BangTilde,
    Bang,
    Tilde,
    Plus,
    Minus,
    Star,
    Slash,
    Percent,
    Colon,
    /// `=>`
    Arrow,
    /// Text that is not a token, described as a noun phrase ("an unterminated string
    /// literal") for "expected X but found Y".
    Error(String),
    Eof,
}

impl Tok {
    /// How the token reads in an "expected X but found Y" message.
    pub fn describe(&self, text: &str) -> String {
        match self {
            Tok::Eof => "end of query".to_string(),
            Tok::Str(_) => format!("string literal {}", clip(text)),
            Tok::Long(_) | Tok::Real(_) => format!("number {}", clip(text)),
            Tok::Timespan(_) => format!("timespan {}", clip(text)),
            Tok::Error(what) => what.clone(),
            _ => format!("'{}'", clip(text)),
        }
    }
}

fn clip(text: &str) -> String {
    let mut out: String = text.chars().take(24).collect();
    if out.len() < text.len() {
        out.push('…');
    }
    out
}

/// Lex the whole of `src` from byte offset `start`; the last token is always [`Tok::Eof`].
pub(crate) fn lex_from(src: &str, start: usize) -> Vec<Token> {
    let mut lx = Lexer {
        src,
        pos: start.min(src.len()),
        out: Vec::new(),
    };
    lx.run();
    lx.out
}

struct Lexer<'a> {
    src: &'a str,
    pos: usize,
    out: Vec<Token>,
}

/// Whitespace, including the zero-width characters that copy-pasted queries carry.
pub(crate) fn is_space(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '\u{200B}' | '\u{200C}' | '\u{200D}' | '\u{2060}' | '\u{FEFF}'
        )
}

fn is_ident_start(c: char) -> bool {
    c == '_' || c.is_alphabetic()
}

fn is_ident_continue(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

impl<'a> Lexer<'a> {
    fn rest(&self) -> &'a str {
        &self.src[self.pos..]
    }

    fn peek_char(&self, n: usize) -> Option<char> {
        self.rest().chars().nth(n)
    }

    fn push(&mut self, tok: Tok, start: usize) {
        self.out.push(Token {
            tok,
            span: Span::new(start, self.pos),
        });
    }

    fn run(&mut self) {
        loop {
            self.skip_trivia();
            let start = self.pos;
            let Some(c) = self.peek_char(0) else {
                self.push(Tok::Eof, start);
                return;
            };
            let tok = self.token(c);
            self.push(tok, start);
        }
    }

    fn skip_trivia(&mut self) {
        loop {
            let rest = self.rest();
            let trimmed = rest.trim_start_matches(is_space);
            self.pos += rest.len() - trimmed.len();
            if trimmed.starts_with("//") {
                self.pos += trimmed.find('\n').unwrap_or(trimmed.len());
            } else {
                return;
            }
        }
    }

    fn token(&mut self, c: char) -> Tok {
        let rest = self.rest();
        // Prefixed strings: @"..", h"..", H"..", h@"..".
        for (prefix, verbatim) in [
            ("h@", true),
            ("H@", true),
            ("@", true),
            ("h", false),
            ("H", false),
        ] {
            if let Some(after) = rest.strip_prefix(prefix) {
                if after.starts_with('"') || after.starts_with('\'') {
                    self.pos += prefix.len();
                    return self.string(verbatim);
                }
            }
        }
        if rest.starts_with("```") || rest.starts_with("~~~") {
            return self.multiline();
        }
        if is_ident_start(c) {
            return Tok::Ident(self.ident().to_string());
        }
        if c.is_ascii_digit() || (c == '.' && self.peek_char(1).is_some_and(|d| d.is_ascii_digit()))
        {
            return self.number();
        }
        match c {
            '"' | '\'' => return self.string(false),
            '$' => {
                self.pos += 1;
                if self.peek_char(0).is_some_and(is_ident_start) {
                    return Tok::Dollar(self.ident().to_string());
                }
                return Tok::Error("'$' without a name".to_string());
            }
            _ => {}
        }
        let two = [
            ("..", Tok::DotDot),
            ("==", Tok::EqEq),
            ("!=", Tok::NotEq),
            ("<>", Tok::NotEq),
            ("<=", Tok::Le),
            (">=", Tok::Ge),
            ("=~", Tok::EqTilde),
            ("!~", Tok::BangTilde),
            ("=>", Tok::Arrow),
        ];
        for (text, tok) in two {
            if rest.starts_with(text) {
                self.pos += 2;
                return tok;
            }
        }
        self.pos += c.len_utf8();
        match c {
            '|' => Tok::Pipe,
            ';' => Tok::Semi,
            ',' => Tok::Comma,
            '(' => Tok::LParen,
            ')' => Tok::RParen,
            '[' => Tok::LBracket,
            ']' => Tok::RBracket,
            '{' => Tok::LBrace,
            '}' => Tok::RBrace,
            '.' => Tok::Dot,
            '=' => Tok::Assign,
            '<' => Tok::Lt,
            '>' => Tok::Gt,
            '!' => Tok::Bang,
            '~' => Tok::Tilde,
            '+' => Tok::Plus,
            '-' => Tok::Minus,
            '*' => Tok::Star,
            '/' => Tok::Slash,
            '%' => Tok::Percent,
            ':' => Tok::Colon,
            other => Tok::Error(format!("the character '{other}'")),
        }
    }

    fn ident(&mut self) -> &'a str {
        let rest = self.rest();
        let len = rest
            .char_indices()
            .find(|&(_, c)| !is_ident_continue(c))
            .map_or(rest.len(), |(i, _)| i);
        self.pos += len;
        &rest[..len]
    }

    /// A quoted string starting at the quote; `verbatim` strings have no escapes and double
    /// the quote to include it.
    fn string(&mut self, verbatim: bool) -> Tok {
        let rest = self.rest();
        let mut chars = rest.char_indices();
        let Some((_, quote)) = chars.next() else {
            return Tok::Error("an unterminated string literal".to_string());
        };
        let mut value = String::new();
        while let Some((i, c)) = chars.next() {
            if c == quote {
                if verbatim && rest[i + 1..].starts_with(quote) {
                    chars.next();
                    value.push(quote);
                    continue;
                }
                self.pos += i + 1;
                return Tok::Str(value);
            }
            if c == '\n' && !verbatim {
                break;
            }
            if c == '\\' && !verbatim {
                match chars.next() {
                    Some((_, e)) => match e {
                        'n' => value.push('\n'),
                        't' => value.push('\t'),
                        'r' => value.push('\r'),
                        '0' => value.push('\0'),
                        '\\' | '"' | '\'' => value.push(e),
                        'u' => {
                            let hex: String = rest[i + 2..].chars().take(4).collect();
                            match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                                Some(ch) if hex.len() == 4 => {
                                    value.push(ch);
                                    for _ in 0..4 {
                                        chars.next();
                                    }
                                }
                                _ => {
                                    value.push('\\');
                                    value.push('u');
                                }
                            }
                        }
                        // Unknown escapes keep the backslash (regex text such as "\d").
                        other => {
                            value.push('\\');
                            value.push(other);
                        }
                    },
                    None => break,
                }
                continue;
            }
            value.push(c);
        }
        // Unterminated: consume to the end of the line so that lexing can go on.
        let line_len = rest.find('\n').unwrap_or(rest.len());
        self.pos += line_len;
        Tok::Error("an unterminated string literal".to_string())
    }

    fn multiline(&mut self) -> Tok {
        let fence = &self.rest()[..3];
        let body = &self.rest()[3..];
        match body.find(fence) {
            Some(end) => {
                let value = body[..end].to_string();
                self.pos += 3 + end + 3;
                Tok::Str(value)
            }
            None => {
                self.pos = self.src.len();
                Tok::Error(format!(
                    "an unterminated multi-line string literal (no closing {fence})"
                ))
            }
        }
    }

    fn number(&mut self) -> Tok {
        let rest = self.rest();
        let bytes = rest.as_bytes();
        if rest.starts_with("0x") || rest.starts_with("0X") {
            let len = 2 + bytes[2..]
                .iter()
                .take_while(|b| b.is_ascii_hexdigit())
                .count();
            self.pos += len;
            return match i64::from_str_radix(&rest[2..len], 16) {
                Ok(v) if len > 2 => Tok::Long(v),
                Ok(_) => Tok::Error("'0x' without hexadecimal digits".to_string()),
                Err(_) => Tok::Error(format!(
                    "'{}', a number out of range for long",
                    &rest[..len]
                )),
            };
        }
        let digits = |from: usize| {
            from + bytes[from..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count()
        };
        let mut len = digits(0);
        let mut real = false;
        if bytes.get(len) == Some(&b'.') && bytes.get(len + 1).is_some_and(|b| b.is_ascii_digit()) {
            len = digits(len + 1);
            real = true;
        }
        if matches!(bytes.get(len), Some(b'e' | b'E')) {
            let mut exp = len + 1;
            if matches!(bytes.get(exp), Some(b'+' | b'-')) {
                exp += 1;
            }
            if bytes.get(exp).is_some_and(|b| b.is_ascii_digit()) {
                len = digits(exp);
                real = true;
            }
        }
        let text = &rest[..len];
        self.pos += len;
        // A unit suffix makes a timespan.
        let suffix_len = self
            .rest()
            .char_indices()
            .find(|&(_, c)| !is_ident_continue(c))
            .map_or(self.rest().len(), |(i, _)| i);
        if suffix_len > 0 {
            let suffix = &self.rest()[..suffix_len];
            self.pos += suffix_len;
            return match timespan_unit(suffix) {
                Some(unit) => match text.parse::<f64>() {
                    Ok(v) if (v * unit as f64).abs() < i64::MAX as f64 => {
                        Tok::Timespan((v * unit as f64).round() as i64)
                    }
                    _ => Tok::Error(format!("'{text}{suffix}', a timespan out of range")),
                },
                None => Tok::Error(format!(
                    "'{text}{suffix}' ('{suffix}' is not a timespan unit: d, h, m, s, ms, microsecond, tick)"
                )),
            };
        }
        if real {
            match text.parse::<f64>() {
                Ok(v) => Tok::Real(v),
                Err(_) => Tok::Error(format!("'{text}', an invalid real number")),
            }
        } else {
            match text.parse::<i64>() {
                Ok(v) => Tok::Long(v),
                Err(_) => Tok::Error(format!("'{text}', a number out of range for long")),
            }
        }
    }
}

/// Nanoseconds in one `unit` of a timespan literal.
pub(crate) fn timespan_unit(unit: &str) -> Option<i64> {
    const US: i64 = 1_000;
    const MS: i64 = 1_000_000;
    const S: i64 = 1_000_000_000;
    Some(match unit {
        "d" | "day" | "days" => 86_400 * S,
        "h" | "hr" | "hrs" | "hour" | "hours" => 3_600 * S,
        "m" | "min" | "minute" | "minutes" => 60 * S,
        "s" | "sec" | "second" | "seconds" => S,
        "ms" | "milli" | "millis" | "millisecond" | "milliseconds" => MS,
        "microsecond" | "microseconds" | "micro" | "micros" => US,
        "tick" | "ticks" => 100,
        "nanosecond" | "nanoseconds" | "nano" | "nanos" => 1,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(src: &str) -> Vec<Tok> {
        lex_from(src, 0).into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn numbers_and_timespans() {
        assert_eq!(
            toks("1 1.5 1e3 0x1F"),
            [
                Tok::Long(1),
                Tok::Real(1.5),
                Tok::Real(1000.0),
                Tok::Long(31),
                Tok::Eof
            ]
        );
        assert_eq!(
            toks("1d 1.5h 10ms 5tick"),
            [
                Tok::Timespan(86_400_000_000_000),
                Tok::Timespan(5_400_000_000_000),
                Tok::Timespan(10_000_000),
                Tok::Timespan(500),
                Tok::Eof
            ]
        );
        assert_eq!(
            toks("1..2"),
            [Tok::Long(1), Tok::DotDot, Tok::Long(2), Tok::Eof]
        );
        assert!(matches!(toks("12abc")[0], Tok::Error(_)));
    }

    #[test]
    fn strings() {
        assert_eq!(
            toks(r#""a\"b" 'c\n' @"x\y""z" h"s""#),
            [
                Tok::Str("a\"b".into()),
                Tok::Str("c\n".into()),
                Tok::Str("x\\y\"z".into()),
                Tok::Str("s".into()),
                Tok::Eof
            ]
        );
        assert_eq!(toks("```a\nb```"), [Tok::Str("a\nb".into()), Tok::Eof]);
        assert!(matches!(toks("\"abc")[0], Tok::Error(_)));
    }

    #[test]
    fn punctuation_and_comments() {
        assert_eq!(
            toks("a // c\n!= <> =~ !~ $left"),
            [
                Tok::Ident("a".into()),
                Tok::NotEq,
                Tok::NotEq,
                Tok::EqTilde,
                Tok::BangTilde,
                Tok::Dollar("left".into()),
                Tok::Eof
            ]
        );
    }
}
