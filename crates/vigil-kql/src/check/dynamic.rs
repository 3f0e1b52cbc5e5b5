//! `dynamic(...)` literals: JSON as KQL writes it, which also allows single-quoted strings,
//! bare object keys, `//` comments and trailing commas.

use serde_json::{Map, Number, Value};

/// Parse the text inside `dynamic(...)`. Object keys come out sorted (the canonical form of
/// dynamic values in the store), whatever order the text wrote them in.
pub fn parse_dynamic(text: &str) -> Result<Value, String> {
    let mut p = Parser {
        s: text.as_bytes(),
        text,
        pos: 0,
        depth: 0,
    };
    let v = p.value()?;
    p.skip_ws();
    if p.pos != p.s.len() {
        return Err(format!(
            "unexpected text after the value at offset {}",
            p.pos
        ));
    }
    let mut v = v;
    v.sort_all_objects();
    Ok(v)
}

struct Parser<'a> {
    s: &'a [u8],
    text: &'a str,
    pos: usize,
    depth: usize,
}

impl Parser<'_> {
    fn skip_ws(&mut self) {
        loop {
            // Any Unicode white space (pasted queries carry non-breaking spaces).
            while let Some(c) = self.text[self.pos..]
                .chars()
                .next()
                .filter(|c| c.is_whitespace())
            {
                self.pos += c.len_utf8();
            }
            if self.s[self.pos..].starts_with(b"//") {
                while self.pos < self.s.len() && self.s[self.pos] != b'\n' {
                    self.pos += 1;
                }
                continue;
            }
            break;
        }
    }

    fn value(&mut self) -> Result<Value, String> {
        self.skip_ws();
        let Some(&c) = self.s.get(self.pos) else {
            return Err("expected a value but the text ended".into());
        };
        match c {
            b'[' | b'{' => {
                self.depth += 1;
                if self.depth > 128 {
                    return Err("the value nests too deeply".into());
                }
                let v = if c == b'[' {
                    self.array()
                } else {
                    self.object()
                };
                self.depth -= 1;
                v
            }
            b'"' | b'\'' => self.string().map(Value::String),
            b'-' | b'+' | b'.' | b'0'..=b'9' => self.number(),
            _ => {
                let start = self.pos;
                let word = self.word();
                match word {
                    "true" => Ok(Value::Bool(true)),
                    "false" => Ok(Value::Bool(false)),
                    "null" => Ok(Value::Null),
                    "" => Err(format!(
                        "unexpected '{}' at offset {}",
                        self.text[self.pos..].chars().next().unwrap_or('?'),
                        self.pos
                    )),
                    w => Err(format!("unexpected '{w}' at offset {start}")),
                }
            }
        }
    }

    fn word(&mut self) -> &str {
        let start = self.pos;
        while self.pos < self.s.len()
            && (self.s[self.pos].is_ascii_alphanumeric() || self.s[self.pos] == b'_')
        {
            self.pos += 1;
        }
        &self.text[start..self.pos]
    }

    fn array(&mut self) -> Result<Value, String> {
        self.pos += 1;
        let mut items = Vec::new();
        loop {
            self.skip_ws();
            match self.s.get(self.pos) {
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Value::Array(items));
                }
                None => return Err("expected ']' but the text ended".into()),
                _ => {}
            }
            items.push(self.value()?);
            self.skip_ws();
            match self.s.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b']') => {}
                _ => return Err(format!("expected ',' or ']' at offset {}", self.pos)),
            }
        }
    }

    fn object(&mut self) -> Result<Value, String> {
        self.pos += 1;
        let mut map = Map::new();
        loop {
            self.skip_ws();
            let key = match self.s.get(self.pos) {
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Value::Object(map));
                }
                Some(b'"' | b'\'') => self.string()?,
                Some(_) => {
                    let w = self.word().to_string();
                    if w.is_empty() {
                        return Err(format!("expected a key at offset {}", self.pos));
                    }
                    w
                }
                None => return Err("expected '}' but the text ended".into()),
            };
            self.skip_ws();
            if self.s.get(self.pos) != Some(&b':') {
                return Err(format!("expected ':' after key '{key}'"));
            }
            self.pos += 1;
            let v = self.value()?;
            map.insert(key, v);
            self.skip_ws();
            match self.s.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b'}') => {}
                _ => return Err(format!("expected ',' or '}}' at offset {}", self.pos)),
            }
        }
    }

    fn string(&mut self) -> Result<String, String> {
        let quote = self.s[self.pos];
        self.pos += 1;
        let mut out = String::new();
        loop {
            let rest = &self.text[self.pos..];
            let Some(c) = rest.chars().next() else {
                return Err("unterminated string".into());
            };
            self.pos += c.len_utf8();
            match c {
                c if c as u32 == u32::from(quote) => return Ok(out),
                '\\' => {
                    let Some(e) = self.text[self.pos..].chars().next() else {
                        return Err("unterminated string".into());
                    };
                    self.pos += e.len_utf8();
                    match e {
                        'n' => out.push('\n'),
                        't' => out.push('\t'),
                        'r' => out.push('\r'),
                        'b' => out.push('\u{8}'),
                        'f' => out.push('\u{c}'),
                        'u' => {
                            let hex = self
                                .text
                                .get(self.pos..self.pos + 4)
                                .ok_or("bad \\u escape")?;
                            let code =
                                u32::from_str_radix(hex, 16).map_err(|_| "bad \\u escape")?;
                            out.push(char::from_u32(code).unwrap_or('\u{fffd}'));
                            self.pos += 4;
                        }
                        other => out.push(other),
                    }
                }
                c => out.push(c),
            }
        }
    }

    fn number(&mut self) -> Result<Value, String> {
        let start = self.pos;
        while self.pos < self.s.len()
            && matches!(
                self.s[self.pos],
                b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E'
            )
        {
            self.pos += 1;
        }
        let t = &self.text[start..self.pos];
        if let Ok(i) = t.parse::<i64>() {
            return Ok(Value::Number(i.into()));
        }
        t.parse::<f64>()
            .ok()
            .and_then(Number::from_f64)
            .map(Value::Number)
            .ok_or_else(|| format!("'{t}' is not a number"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kql_flavoured_json() {
        assert_eq!(
            parse_dynamic("['a', \"b\", 1, 2.5, true, null,]")
                .unwrap()
                .to_string(),
            r#"["a","b",1,2.5,true,null]"#
        );
        assert_eq!(
            parse_dynamic("{ key: 'v', 'k2': [1] } // note")
                .unwrap()
                .to_string(),
            r#"{"k2":[1],"key":"v"}"#
        );
        assert_eq!(
            parse_dynamic(r"'it\'s'").unwrap(),
            Value::String("it's".into())
        );
        assert!(parse_dynamic("[1, 2").is_err());
        assert!(parse_dynamic("{a 1}").is_err());
        assert!(parse_dynamic("[1] x").is_err());
    }
}
