//! The STIX 2.1 patterning language: a recursive-descent parser into [`Pattern`].
//!
//! Precedence, loosest first (STIX 2.1 part 9):
//! observation level `FOLLOWEDBY` < `OR` < `AND` < qualifiers (`WITHIN n SECONDS`,
//! `REPEATS n TIMES`, `START t'..' STOP t'..'`, which bind to the observation or parenthesised
//! group before them); inside `[...]`, `OR` < `AND` < a comparison or a parenthesised group.
//! Keywords are matched without regard to case (`and` = `AND`); object types and property
//! names are kept as written. Besides the standard, property names may contain `-`
//! (`hashes.SHA-256`, as STIX 2.0 allowed) and `b64'..'` is read like `b'..'`.
//!
//! Invariants: parsing either returns the whole tree or the first error with its byte offset;
//! nesting is bounded ([`MAX_DEPTH`]) so hostile input cannot exhaust the stack; chains of one
//! operator are flat lists, never deep trees.

mod lex;
#[cfg(test)]
mod tests;

use std::fmt;

use lex::Tok;

/// How deep parentheses and brackets may nest.
pub const MAX_DEPTH: usize = 64;

/// A syntax error and the byte offset in the pattern where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternError {
    pub offset: usize,
    pub message: String,
}

impl PatternError {
    fn new(offset: usize, message: impl Into<String>) -> PatternError {
        PatternError {
            offset,
            message: message.into(),
        }
    }
}

impl fmt::Display for PatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at offset {}: {}", self.offset, self.message)
    }
}

impl std::error::Error for PatternError {}

/// An observation expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Pattern {
    /// `[ comparison ]`: one observed object satisfies it.
    Observation(Comparison),
    And(Vec<Pattern>),
    Or(Vec<Pattern>),
    /// Each observation after the one before, in time.
    FollowedBy(Vec<Pattern>),
    Qualified(Box<Pattern>, Qualifier),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Qualifier {
    Within { seconds: f64 },
    Repeats { times: i64 },
    StartStop { start_ms: i64, stop_ms: i64 },
}

/// A comparison expression (inside `[...]`).
#[derive(Debug, Clone, PartialEq)]
pub enum Comparison {
    Test(Test),
    And(Vec<Comparison>),
    Or(Vec<Comparison>),
}

/// `path [NOT] op operand`, or `EXISTS path`.
#[derive(Debug, Clone, PartialEq)]
pub struct Test {
    pub path: ObjectPath,
    pub negated: bool,
    pub op: Op,
    pub operand: Operand,
    /// Byte offset of the path in the pattern.
    pub offset: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    In,
    Like,
    Matches,
    IsSubset,
    IsSuperset,
    Exists,
}

impl Op {
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::In => "IN",
            Op::Like => "LIKE",
            Op::Matches => "MATCHES",
            Op::IsSubset => "ISSUBSET",
            Op::IsSuperset => "ISSUPERSET",
            Op::Exists => "EXISTS",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    One(Literal),
    Set(Vec<Literal>),
    /// `EXISTS` has no operand.
    None,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Bytes(Vec<u8>),
    /// Unix ms.
    Time(i64),
}

/// `type:prop.key[0].'quoted key'`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectPath {
    pub object_type: String,
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Key(String),
    /// `[n]`; `None` is `[*]`.
    Index(Option<i64>),
}

impl fmt::Display for ObjectPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:", self.object_type)?;
        for (i, s) in self.steps.iter().enumerate() {
            match s {
                Step::Key(k) => {
                    if i > 0 {
                        f.write_str(".")?;
                    }
                    let plain = k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
                    if plain {
                        f.write_str(k)?;
                    } else {
                        write!(f, "'{}'", k.replace('\\', "\\\\").replace('\'', "\\'"))?;
                    }
                }
                Step::Index(Some(n)) => write!(f, "[{n}]")?,
                Step::Index(None) => f.write_str("[*]")?,
            }
        }
        Ok(())
    }
}

/// Parses a whole pattern.
pub fn parse(src: &str) -> Result<Pattern, PatternError> {
    let toks = lex::tokens(src)?;
    let mut p = Parser {
        toks,
        pos: 0,
        depth: 0,
    };
    let pat = p.followed_by()?;
    let (at, t) = p.peek();
    if *t != Tok::End {
        return Err(PatternError::new(
            at,
            format!(
                "expected AND, OR or FOLLOWEDBY between observations, found {}",
                t.describe()
            ),
        ));
    }
    Ok(pat)
}

struct Parser {
    toks: Vec<(usize, Tok)>,
    pos: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> (usize, &Tok) {
        let (o, t) = &self.toks[self.pos.min(self.toks.len() - 1)];
        (*o, t)
    }

    fn bump(&mut self) -> (usize, Tok) {
        let t = self.toks[self.pos.min(self.toks.len() - 1)].clone();
        if self.pos < self.toks.len() - 1 {
            self.pos += 1;
        }
        t
    }

    fn at_keyword(&self, kw: &str) -> bool {
        matches!(self.peek().1, Tok::Ident(s) if s.eq_ignore_ascii_case(kw))
    }

    fn eat_keyword(&mut self, kw: &str) -> bool {
        if self.at_keyword(kw) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, want: Tok, what: &str) -> Result<usize, PatternError> {
        let (at, t) = self.peek();
        if *t == want {
            self.pos += 1;
            Ok(at)
        } else {
            Err(PatternError::new(
                at,
                format!("expected {what}, found {}", t.describe()),
            ))
        }
    }

    fn enter(&mut self, at: usize) -> Result<(), PatternError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(PatternError::new(
                at,
                format!("nested deeper than {MAX_DEPTH} levels"),
            ));
        }
        Ok(())
    }

    /// Observation expressions joined by one keyword, via `next` for the operands.
    fn chain<T>(
        &mut self,
        kw: &str,
        next: fn(&mut Parser) -> Result<T, PatternError>,
        wrap: fn(Vec<T>) -> T,
    ) -> Result<T, PatternError> {
        let first = next(self)?;
        if !self.at_keyword(kw) {
            return Ok(first);
        }
        let mut items = vec![first];
        while self.eat_keyword(kw) {
            items.push(next(self)?);
        }
        Ok(wrap(items))
    }

    fn followed_by(&mut self) -> Result<Pattern, PatternError> {
        self.chain("FOLLOWEDBY", Parser::obs_or, Pattern::FollowedBy)
    }

    fn obs_or(&mut self) -> Result<Pattern, PatternError> {
        self.chain("OR", Parser::obs_and, Pattern::Or)
    }

    fn obs_and(&mut self) -> Result<Pattern, PatternError> {
        self.chain("AND", Parser::obs_unit, Pattern::And)
    }

    fn obs_unit(&mut self) -> Result<Pattern, PatternError> {
        let (at, t) = self.bump();
        let mut pat = match t {
            Tok::LBrack => {
                self.enter(at)?;
                let c = self.comp_or()?;
                self.expect(Tok::RBrack, "']' to close the observation (or AND / OR)")?;
                self.depth -= 1;
                Pattern::Observation(c)
            }
            Tok::LParen => {
                self.enter(at)?;
                let p = self.followed_by()?;
                self.expect(Tok::RParen, "')' (or AND / OR / FOLLOWEDBY)")?;
                self.depth -= 1;
                p
            }
            other => {
                return Err(PatternError::new(
                    at,
                    format!(
                        "expected '[' to start an observation, found {}",
                        other.describe()
                    ),
                ))
            }
        };
        while let Some(q) = self.qualifier()? {
            pat = Pattern::Qualified(Box::new(pat), q);
        }
        Ok(pat)
    }

    fn qualifier(&mut self) -> Result<Option<Qualifier>, PatternError> {
        if self.eat_keyword("WITHIN") {
            let (at, t) = self.bump();
            let seconds = match t {
                Tok::Int(n) if n > 0 => n as f64,
                Tok::Float(x) if x > 0.0 => x,
                other => {
                    return Err(PatternError::new(
                        at,
                        format!(
                            "WITHIN needs a positive number of seconds, found {}",
                            other.describe()
                        ),
                    ))
                }
            };
            if !self.eat_keyword("SECONDS") {
                let (at, t) = self.peek();
                return Err(PatternError::new(
                    at,
                    format!(
                        "expected SECONDS after WITHIN {seconds}, found {}",
                        t.describe()
                    ),
                ));
            }
            return Ok(Some(Qualifier::Within { seconds }));
        }
        if self.eat_keyword("REPEATS") {
            let (at, t) = self.bump();
            let times = match t {
                Tok::Int(n) if n > 0 => n,
                other => {
                    return Err(PatternError::new(
                        at,
                        format!(
                            "REPEATS needs a positive whole number, found {}",
                            other.describe()
                        ),
                    ))
                }
            };
            if !self.eat_keyword("TIMES") {
                let (at, t) = self.peek();
                return Err(PatternError::new(
                    at,
                    format!(
                        "expected TIMES after REPEATS {times}, found {}",
                        t.describe()
                    ),
                ));
            }
            return Ok(Some(Qualifier::Repeats { times }));
        }
        if self.eat_keyword("START") {
            let start_ms = self.time_operand("START")?;
            if !self.eat_keyword("STOP") {
                let (at, t) = self.peek();
                return Err(PatternError::new(
                    at,
                    format!("expected STOP after START, found {}", t.describe()),
                ));
            }
            let stop_ms = self.time_operand("STOP")?;
            return Ok(Some(Qualifier::StartStop { start_ms, stop_ms }));
        }
        Ok(None)
    }

    /// `t'..'` (STIX 2.1) or a plain string holding a timestamp (STIX 2.0).
    fn time_operand(&mut self, kw: &str) -> Result<i64, PatternError> {
        let (at, t) = self.bump();
        match t {
            Tok::Time(_, ms) => Ok(ms),
            Tok::Str(s) => crate::import::time::parse_ms(&s)
                .ok_or_else(|| PatternError::new(at, format!("{kw} '{s}' is not a timestamp"))),
            other => Err(PatternError::new(
                at,
                format!(
                    "{kw} needs a timestamp (t'...'), found {}",
                    other.describe()
                ),
            )),
        }
    }

    fn comp_or(&mut self) -> Result<Comparison, PatternError> {
        self.chain("OR", Parser::comp_and, Comparison::Or)
    }

    fn comp_and(&mut self) -> Result<Comparison, PatternError> {
        self.chain("AND", Parser::comp_unit, Comparison::And)
    }

    fn comp_unit(&mut self) -> Result<Comparison, PatternError> {
        let (at, t) = self.peek();
        if *t == Tok::LParen {
            self.pos += 1;
            self.enter(at)?;
            let c = self.comp_or()?;
            self.expect(Tok::RParen, "')' (or AND / OR)")?;
            self.depth -= 1;
            return Ok(c);
        }
        if self.eat_keyword("EXISTS") {
            let path = self.path()?;
            return Ok(Comparison::Test(Test {
                path,
                negated: false,
                op: Op::Exists,
                operand: Operand::None,
                offset: at,
            }));
        }
        let path = self.path()?;
        let negated = self.eat_keyword("NOT");
        let (op_at, op_tok) = self.bump();
        let op = match op_tok {
            Tok::Eq => Op::Eq,
            Tok::Ne => Op::Ne,
            Tok::Lt => Op::Lt,
            Tok::Le => Op::Le,
            Tok::Gt => Op::Gt,
            Tok::Ge => Op::Ge,
            Tok::Ident(ref s) => match s.to_ascii_uppercase().as_str() {
                "IN" => Op::In,
                "LIKE" => Op::Like,
                "MATCHES" => Op::Matches,
                "ISSUBSET" => Op::IsSubset,
                "ISSUPERSET" => Op::IsSuperset,
                _ => return Err(bad_operator(op_at, &op_tok)),
            },
            ref other => return Err(bad_operator(op_at, other)),
        };
        let operand = match op {
            Op::In => Operand::Set(self.set()?),
            Op::Like | Op::Matches | Op::IsSubset | Op::IsSuperset => {
                let (at, t) = self.bump();
                match t {
                    Tok::Str(s) => Operand::One(Literal::Str(s)),
                    other => {
                        return Err(PatternError::new(
                            at,
                            format!("{} needs a string, found {}", op.as_str(), other.describe()),
                        ))
                    }
                }
            }
            Op::Lt | Op::Le | Op::Gt | Op::Ge => {
                let (at, lit) = self.literal()?;
                if matches!(lit, Literal::Bool(_)) {
                    return Err(PatternError::new(
                        at,
                        format!("{} cannot compare a boolean", op.as_str()),
                    ));
                }
                Operand::One(lit)
            }
            Op::Eq | Op::Ne => Operand::One(self.literal()?.1),
            Op::Exists => unreachable!("EXISTS is handled before the path"),
        };
        Ok(Comparison::Test(Test {
            path,
            negated,
            op,
            operand,
            offset: at,
        }))
    }

    fn literal(&mut self) -> Result<(usize, Literal), PatternError> {
        let (at, t) = self.bump();
        let lit = match t {
            Tok::Str(s) => Literal::Str(s),
            Tok::Int(n) => Literal::Int(n),
            Tok::Float(x) => Literal::Float(x),
            Tok::Bytes(b) => Literal::Bytes(b),
            Tok::Time(_, ms) => Literal::Time(ms),
            Tok::Ident(s) if s.eq_ignore_ascii_case("true") => Literal::Bool(true),
            Tok::Ident(s) if s.eq_ignore_ascii_case("false") => Literal::Bool(false),
            other => {
                return Err(PatternError::new(
                    at,
                    format!(
                    "expected a value (string, number, true/false, h'..', b'..', t'..'), found {}",
                    other.describe()
                ),
                ))
            }
        };
        Ok((at, lit))
    }

    fn set(&mut self) -> Result<Vec<Literal>, PatternError> {
        self.expect(Tok::LParen, "'(' to open the IN set")?;
        let mut items = Vec::new();
        if self.peek().1 == &Tok::RParen {
            self.pos += 1;
            return Ok(items);
        }
        loop {
            items.push(self.literal()?.1);
            let (at, t) = self.bump();
            match t {
                Tok::Comma => continue,
                Tok::RParen => return Ok(items),
                other => {
                    return Err(PatternError::new(
                        at,
                        format!(
                            "expected ',' or ')' in the IN set, found {}",
                            other.describe()
                        ),
                    ))
                }
            }
        }
    }

    fn path(&mut self) -> Result<ObjectPath, PatternError> {
        let (at, t) = self.bump();
        let object_type = match t {
            Tok::Ident(s) => s,
            other => {
                return Err(PatternError::new(
                    at,
                    format!(
                        "expected an object path (type:property), found {}",
                        other.describe()
                    ),
                ))
            }
        };
        self.expect(
            Tok::Colon,
            &format!("':' after the object type {object_type:?}"),
        )?;
        let mut steps = vec![Step::Key(self.key()?)];
        loop {
            match self.peek().1 {
                Tok::Dot => {
                    self.pos += 1;
                    steps.push(Step::Key(self.key()?));
                }
                Tok::LBrack => {
                    self.pos += 1;
                    let (at, t) = self.bump();
                    let idx = match t {
                        Tok::Star => None,
                        Tok::Int(n) => Some(n),
                        other => {
                            return Err(PatternError::new(
                                at,
                                format!("expected a list index or '*', found {}", other.describe()),
                            ))
                        }
                    };
                    self.expect(Tok::RBrack, "']' to close the list index")?;
                    steps.push(Step::Index(idx));
                }
                _ => break,
            }
        }
        Ok(ObjectPath { object_type, steps })
    }

    fn key(&mut self) -> Result<String, PatternError> {
        let (at, t) = self.bump();
        match t {
            Tok::Ident(s) | Tok::Str(s) => Ok(s),
            other => Err(PatternError::new(
                at,
                format!("expected a property name, found {}", other.describe()),
            )),
        }
    }
}

fn bad_operator(at: usize, t: &Tok) -> PatternError {
    PatternError::new(
        at,
        format!(
            "expected a comparison operator (=, !=, <, <=, >, >=, IN, LIKE, MATCHES, ISSUBSET, ISSUPERSET), found {}",
            t.describe()
        ),
    )
}
