//! Value modifiers: parsing `field|mod|mod` chains, and the value transformations
//! (`windash`, `expand`, `utf16*`, `wide`, `base64`, `base64offset`) that turn one Sigma value
//! into the byte patterns to look for. Wildcards `*` and `?` are parsed here, with `\`
//! escaping them (and itself).

use std::collections::HashMap;

use base64::Engine as _;

use crate::Issue;

/// A Sigma string: literal bytes and wildcards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    Lit(Vec<u8>),
    /// `*`: any run of characters.
    Star,
    /// `?`: exactly one character.
    One,
}

/// How the (transformed) values are compared with the field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchKind {
    Equals,
    Contains,
    StartsWith,
    EndsWith,
    Re { i: bool, m: bool, s: bool },
    Cidr,
    Lt,
    Lte,
    Gt,
    Gte,
    Exists,
}

/// A value transformation, applied in the order written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transform {
    Windash,
    Expand,
    Utf16Le,
    Utf16Be,
    Utf16Bom,
    Base64,
    Base64Offset,
}

/// The parsed modifier chain of one field item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mods {
    pub kind: MatchKind,
    pub transforms: Vec<Transform>,
    pub all: bool,
    pub cased: bool,
    pub neq: bool,
    pub fieldref: bool,
}

impl Mods {
    /// Whether the values end up encoded (compared case-sensitively, without wildcards).
    pub fn encoded(&self) -> bool {
        self.transforms
            .iter()
            .any(|t| matches!(t, Transform::Base64 | Transform::Base64Offset))
    }
}

/// Parse a modifier chain (`key` is the item's key, for messages).
pub fn parse_mods(names: &[String], key: &str) -> Result<Mods, Issue> {
    let mut kind: Option<MatchKind> = None;
    let mut m = Mods {
        kind: MatchKind::Equals,
        transforms: Vec::new(),
        all: false,
        cased: false,
        neq: false,
        fieldref: false,
    };
    fn set_kind(
        kind: &mut Option<MatchKind>,
        k: MatchKind,
        name: &str,
        key: &str,
    ) -> Result<(), Issue> {
        match kind {
            Some(prev) if *prev != k => Err(Issue::invalid(format!(
                "field `{key}`: modifier `{name}` conflicts with an earlier one"
            ))),
            _ => {
                *kind = Some(k);
                Ok(())
            }
        }
    }
    for name in names {
        match name.as_str() {
            "contains" => set_kind(&mut kind, MatchKind::Contains, name, key)?,
            "startswith" => set_kind(&mut kind, MatchKind::StartsWith, name, key)?,
            "endswith" => set_kind(&mut kind, MatchKind::EndsWith, name, key)?,
            "re" => set_kind(
                &mut kind,
                MatchKind::Re {
                    i: false,
                    m: false,
                    s: false,
                },
                name,
                key,
            )?,
            "i" | "ignorecase" | "m" | "multiline" | "s" | "dotall" => match &mut kind {
                Some(MatchKind::Re { i, m, s }) => match name.as_str() {
                    "i" | "ignorecase" => *i = true,
                    "m" | "multiline" => *m = true,
                    _ => *s = true,
                },
                _ => {
                    return Err(Issue::invalid(format!(
                        "field `{key}`: modifier `{name}` is only valid after `re`"
                    )))
                }
            },
            "cidr" => set_kind(&mut kind, MatchKind::Cidr, name, key)?,
            "lt" => set_kind(&mut kind, MatchKind::Lt, name, key)?,
            "lte" => set_kind(&mut kind, MatchKind::Lte, name, key)?,
            "gt" => set_kind(&mut kind, MatchKind::Gt, name, key)?,
            "gte" => set_kind(&mut kind, MatchKind::Gte, name, key)?,
            "exists" => set_kind(&mut kind, MatchKind::Exists, name, key)?,
            "all" => m.all = true,
            "cased" => m.cased = true,
            "neq" => m.neq = true,
            "fieldref" => m.fieldref = true,
            "windash" => m.transforms.push(Transform::Windash),
            "expand" => m.transforms.push(Transform::Expand),
            "utf16le" | "wide" => m.transforms.push(Transform::Utf16Le),
            "utf16be" => m.transforms.push(Transform::Utf16Be),
            "utf16" => m.transforms.push(Transform::Utf16Bom),
            "base64" => m.transforms.push(Transform::Base64),
            "base64offset" => m.transforms.push(Transform::Base64Offset),
            "minute" | "hour" | "day" | "week" | "month" | "year" => {
                return Err(Issue::unsupported(format!(
                    "field `{key}`: time modifier `{name}` is not supported"
                )))
            }
            "" => return Err(Issue::invalid(format!("field `{key}`: empty modifier"))),
            other => {
                return Err(Issue::invalid(format!(
                    "field `{key}`: unknown modifier `{other}`"
                )))
            }
        }
    }
    m.kind = kind.unwrap_or(MatchKind::Equals);
    let plain_text = matches!(
        m.kind,
        MatchKind::Equals | MatchKind::Contains | MatchKind::StartsWith | MatchKind::EndsWith
    );
    if !m.transforms.is_empty() && !plain_text {
        return Err(Issue::invalid(format!(
            "field `{key}`: value transformations cannot be combined with this comparison"
        )));
    }
    if m.fieldref && !plain_text {
        return Err(Issue::invalid(format!(
            "field `{key}`: `fieldref` only combines with contains, startswith, endswith"
        )));
    }
    Ok(m)
}

/// Parse Sigma wildcards: `*`, `?`, and `\` escaping `*`, `?` and `\`.
pub fn sigma_string(s: &str) -> Vec<Part> {
    let mut parts = Vec::new();
    let mut lit = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.peek() {
                Some(&n) if matches!(n, '*' | '?' | '\\') => {
                    lit.push(n);
                    chars.next();
                }
                _ => lit.push('\\'),
            },
            '*' | '?' => {
                if !lit.is_empty() {
                    parts.push(Part::Lit(std::mem::take(&mut lit).into_bytes()));
                }
                parts.push(if c == '*' { Part::Star } else { Part::One });
            }
            _ => lit.push(c),
        }
    }
    if !lit.is_empty() {
        parts.push(Part::Lit(lit.into_bytes()));
    }
    parts
}

/// The upper bound on the values one Sigma value may expand into.
const MAX_VARIANTS: usize = 4096;

/// Apply the transformations to one value; returns its variants.
pub fn transform(
    value: Vec<Part>,
    transforms: &[Transform],
    placeholders: &HashMap<String, Vec<String>>,
    key: &str,
) -> Result<Vec<Vec<Part>>, Issue> {
    let mut vals = vec![value];
    for t in transforms {
        let mut next = Vec::new();
        for v in vals {
            match t {
                Transform::Windash => next.extend(windash(&v)),
                Transform::Expand => next.extend(expand(&v, placeholders, key)?),
                Transform::Utf16Le | Transform::Utf16Be | Transform::Utf16Bom => {
                    next.push(utf16(&v, *t))
                }
                Transform::Base64 => next.push(vec![Part::Lit(
                    base64::engine::general_purpose::STANDARD
                        .encode(literal(&v, key)?)
                        .into_bytes(),
                )]),
                Transform::Base64Offset => {
                    for s in base64_offsets(&literal(&v, key)?) {
                        next.push(vec![Part::Lit(s.into_bytes())]);
                    }
                }
            }
            if next.len() > MAX_VARIANTS {
                return Err(Issue::invalid(format!(
                    "field `{key}`: the value expands into more than {MAX_VARIANTS} variants"
                )));
            }
        }
        vals = next;
    }
    Ok(vals)
}

fn literal(v: &[Part], key: &str) -> Result<Vec<u8>, Issue> {
    let mut out = Vec::new();
    for p in v {
        match p {
            Part::Lit(b) => out.extend_from_slice(b),
            _ => {
                return Err(Issue::invalid(format!(
                    "field `{key}`: base64 cannot encode a value with wildcards"
                )))
            }
        }
    }
    Ok(out)
}

const DASHES: [char; 5] = ['-', '/', '\u{2013}', '\u{2014}', '\u{2015}'];

/// Every spelling of the flag dashes (a dash at the start or after whitespace).
fn windash(v: &[Part]) -> Vec<Vec<Part>> {
    // Work on a char list where wildcards are markers.
    enum C {
        Ch(char),
        Star,
        One,
    }
    let mut cs = Vec::new();
    for p in v {
        match p {
            Part::Lit(b) => cs.extend(String::from_utf8_lossy(b).chars().map(C::Ch)),
            Part::Star => cs.push(C::Star),
            Part::One => cs.push(C::One),
        }
    }
    let mut positions = Vec::new();
    for (i, c) in cs.iter().enumerate() {
        if let C::Ch(ch) = c {
            let boundary = i == 0 || !matches!(cs[i - 1], C::Ch(p) if !p.is_whitespace());
            if DASHES.contains(ch) && boundary {
                positions.push(i);
            }
        }
    }
    let combos = DASHES.len().saturating_pow(positions.len() as u32);
    let mut out = Vec::new();
    for n in 0..combos.min(MAX_VARIANTS + 1) {
        let mut k = n;
        let mut parts = Vec::new();
        let mut lit = String::new();
        for (i, c) in cs.iter().enumerate() {
            match c {
                C::Ch(ch) => {
                    if positions.contains(&i) {
                        lit.push(DASHES[k % DASHES.len()]);
                        k /= DASHES.len();
                    } else {
                        lit.push(*ch);
                    }
                }
                C::Star | C::One => {
                    if !lit.is_empty() {
                        parts.push(Part::Lit(std::mem::take(&mut lit).into_bytes()));
                    }
                    parts.push(if matches!(c, C::Star) {
                        Part::Star
                    } else {
                        Part::One
                    });
                }
            }
        }
        if !lit.is_empty() {
            parts.push(Part::Lit(lit.into_bytes()));
        }
        out.push(parts);
    }
    out
}

/// Replace `%name%` placeholders with each of their values.
fn expand(
    v: &[Part],
    placeholders: &HashMap<String, Vec<String>>,
    key: &str,
) -> Result<Vec<Vec<Part>>, Issue> {
    let mut out: Vec<Vec<Part>> = vec![Vec::new()];
    for p in v {
        let Part::Lit(b) = p else {
            for o in &mut out {
                o.push(p.clone());
            }
            continue;
        };
        let text = String::from_utf8_lossy(b).into_owned();
        let mut rest = text.as_str();
        while let Some(start) = rest.find('%') {
            let Some(len) = rest[start + 1..].find('%') else {
                break;
            };
            let name = &rest[start + 1..start + 1 + len];
            let before = &rest[..start];
            let values = placeholders.get(name).ok_or_else(|| {
                Issue::invalid(format!("field `{key}`: unknown placeholder `%{name}%`"))
            })?;
            let mut next = Vec::new();
            for o in &out {
                for val in values {
                    let mut o = o.clone();
                    if !before.is_empty() {
                        o.push(Part::Lit(before.as_bytes().to_vec()));
                    }
                    o.extend(sigma_string(val));
                    next.push(o);
                }
            }
            if next.len() > MAX_VARIANTS {
                return Err(Issue::invalid(format!(
                    "field `{key}`: placeholders expand into more than {MAX_VARIANTS} values"
                )));
            }
            out = next;
            rest = &rest[start + 2 + len..];
        }
        if !rest.is_empty() {
            for o in &mut out {
                o.push(Part::Lit(rest.as_bytes().to_vec()));
            }
        }
    }
    Ok(out.into_iter().map(normalize).collect())
}

/// Merge adjacent literals.
pub fn normalize(v: Vec<Part>) -> Vec<Part> {
    let mut out: Vec<Part> = Vec::with_capacity(v.len());
    for p in v {
        match (out.last_mut(), p) {
            (Some(Part::Lit(a)), Part::Lit(b)) => a.extend_from_slice(&b),
            (Some(Part::Star), Part::Star) => {}
            (_, p) => out.push(p),
        }
    }
    out
}

fn utf16(v: &[Part], t: Transform) -> Vec<Part> {
    let mut out = Vec::new();
    if t == Transform::Utf16Bom {
        out.push(Part::Lit(vec![0xff, 0xfe]));
    }
    for p in v {
        match p {
            Part::Lit(b) => {
                let mut enc = Vec::new();
                for u in String::from_utf8_lossy(b).encode_utf16() {
                    let bytes = if t == Transform::Utf16Be {
                        u.to_be_bytes()
                    } else {
                        u.to_le_bytes()
                    };
                    enc.extend_from_slice(&bytes);
                }
                out.push(Part::Lit(enc));
            }
            other => out.push(other.clone()),
        }
    }
    normalize(out)
}

/// The three base64 spellings of `value` when it sits at offset 0, 1 or 2 of a larger encoded
/// string: the characters that depend on the neighbours are cut off.
pub fn base64_offsets(value: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    for shift in 0..3usize {
        let mut buf = vec![b' '; shift];
        buf.extend_from_slice(value);
        let enc = base64::engine::general_purpose::STANDARD.encode(&buf);
        // Leading characters that encode the padding bytes.
        let start = [0, 2, 3][shift];
        // Trailing characters that mix in the unknown following bytes.
        let end_cut = [0, 3, 2][(value.len() + shift) % 3];
        let end = enc.len().saturating_sub(end_cut);
        if start < end {
            out.push(enc[start..end].to_string());
        }
    }
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(s: &str) -> Part {
        Part::Lit(s.as_bytes().to_vec())
    }

    #[test]
    fn wildcards_and_escapes() {
        assert_eq!(
            sigma_string("a*b?c"),
            vec![lit("a"), Part::Star, lit("b"), Part::One, lit("c")]
        );
        assert_eq!(sigma_string(r"a\*b"), vec![lit("a*b")]);
        assert_eq!(sigma_string(r"a\\*"), vec![lit(r"a\"), Part::Star]);
        assert_eq!(sigma_string(r"C:\Windows"), vec![lit(r"C:\Windows")]);
        assert_eq!(sigma_string(r"\?"), vec![lit("?")]);
    }

    #[test]
    fn modifier_chains() {
        let m = parse_mods(&["contains".into(), "all".into()], "f").unwrap();
        assert_eq!(m.kind, MatchKind::Contains);
        assert!(m.all);
        let m = parse_mods(&["re".into(), "i".into(), "s".into()], "f").unwrap();
        assert_eq!(
            m.kind,
            MatchKind::Re {
                i: true,
                m: false,
                s: true
            }
        );
        let e = parse_mods(&["bogus".into()], "CommandLine|bogus").unwrap_err();
        assert_eq!(
            e.message(),
            "field `CommandLine|bogus`: unknown modifier `bogus`"
        );
        let e = parse_mods(&["i".into()], "f|i").unwrap_err();
        assert!(e.message().contains("only valid after `re`"));
        let e = parse_mods(&["contains".into(), "endswith".into()], "f").unwrap_err();
        assert!(e.message().contains("conflicts"));
        let e = parse_mods(&["base64".into(), "re".into()], "f").unwrap_err();
        assert!(e.message().contains("cannot be combined"));
        assert!(parse_mods(&["hour".into()], "f")
            .unwrap_err()
            .message()
            .contains("time modifier"));
        let m = parse_mods(
            &["wide".into(), "base64offset".into(), "contains".into()],
            "f",
        )
        .unwrap();
        assert_eq!(
            m.transforms,
            vec![Transform::Utf16Le, Transform::Base64Offset]
        );
        assert!(m.encoded());
    }

    #[test]
    fn base64_and_offsets() {
        let none = HashMap::new();
        let v = transform(vec![lit("hello")], &[Transform::Base64], &none, "f").unwrap();
        assert_eq!(v, vec![vec![lit("aGVsbG8=")]]);
        // Each offset spelling must appear in the encoding of some text holding the value.
        let offs = base64_offsets(b"/dev/tcp/");
        assert_eq!(offs.len(), 3);
        for prefix in ["", "a", "ab", "abc"] {
            let enc = base64::engine::general_purpose::STANDARD
                .encode(format!("{prefix}/dev/tcp/10.0.0.1"));
            assert!(
                offs.iter().any(|o| enc.contains(o.as_str())),
                "{prefix}: {enc} {offs:?}"
            );
        }
        let e =
            transform(vec![lit("a"), Part::Star], &[Transform::Base64], &none, "f").unwrap_err();
        assert!(e.message().contains("wildcards"));
    }

    #[test]
    fn utf16_encodings() {
        let none = HashMap::new();
        let le = transform(vec![lit("cmd")], &[Transform::Utf16Le], &none, "f").unwrap();
        assert_eq!(le, vec![vec![Part::Lit(b"c\0m\0d\0".to_vec())]]);
        let be = transform(vec![lit("cmd")], &[Transform::Utf16Be], &none, "f").unwrap();
        assert_eq!(be, vec![vec![Part::Lit(b"\0c\0m\0d".to_vec())]]);
        let bom = transform(vec![lit("cmd")], &[Transform::Utf16Bom], &none, "f").unwrap();
        assert_eq!(bom, vec![vec![Part::Lit(b"\xff\xfec\0m\0d\0".to_vec())]]);
    }

    #[test]
    fn windash_spells_every_flag_dash() {
        let none = HashMap::new();
        let v = transform(sigma_string("-enc x-y"), &[Transform::Windash], &none, "f").unwrap();
        assert_eq!(v.len(), 5);
        assert!(v.contains(&vec![lit("/enc x-y")]));
        assert!(v.contains(&vec![lit("\u{2013}enc x-y")]));
        assert!(v.contains(&vec![lit("-enc x-y")]));
    }

    #[test]
    fn expand_placeholders() {
        let mut ph = HashMap::new();
        ph.insert(
            "admins".to_string(),
            vec!["root".to_string(), "adm_*".to_string()],
        );
        let v = transform(sigma_string("u=%admins%"), &[Transform::Expand], &ph, "f").unwrap();
        assert_eq!(
            v,
            vec![vec![lit("u=root")], vec![lit("u=adm_"), Part::Star]]
        );
        let e = transform(
            sigma_string("%nope%"),
            &[Transform::Expand],
            &ph,
            "User|expand",
        )
        .unwrap_err();
        assert_eq!(
            e.message(),
            "field `User|expand`: unknown placeholder `%nope%`"
        );
    }
}
