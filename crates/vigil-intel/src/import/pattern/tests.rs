//! Parser tests: precedence, literals and escapes, every operator and qualifier, and errors
//! with their offsets.

use super::*;

fn p(src: &str) -> Pattern {
    parse(src).unwrap_or_else(|e| panic!("{src}: {e}"))
}

fn err(src: &str) -> PatternError {
    match parse(src) {
        Ok(p) => panic!("{src} parsed as {p:?}"),
        Err(e) => e,
    }
}

fn test_of(c: &Comparison) -> &Test {
    match c {
        Comparison::Test(t) => t,
        other => panic!("not a test: {other:?}"),
    }
}

fn obs(p: &Pattern) -> &Comparison {
    match p {
        Pattern::Observation(c) => c,
        other => panic!("not an observation: {other:?}"),
    }
}

fn str_eq(path: &str, v: &str) -> String {
    format!("{path} = '{v}'")
}

#[test]
fn simple_equality_and_paths() {
    let pat = p("[file:hashes.'SHA-256' = 'aa']");
    let t = test_of(obs(&pat));
    assert_eq!(t.path.object_type, "file");
    assert_eq!(
        t.path.steps,
        vec![Step::Key("hashes".into()), Step::Key("SHA-256".into())]
    );
    assert_eq!(t.op, Op::Eq);
    assert!(!t.negated);
    assert_eq!(t.operand, Operand::One(Literal::Str("aa".into())));
    assert_eq!(t.path.to_string(), "file:hashes.'SHA-256'");

    let pat = p("[file:hashes.MD5 == 'bb']");
    assert_eq!(test_of(obs(&pat)).path.to_string(), "file:hashes.MD5");

    let pat = p("[email-message:body_multipart[*].body_raw_ref.name = 'x' AND network-traffic:extensions.'http-request-ext'.request_header.'Accept-Encoding' = 'y']");
    let Comparison::And(items) = obs(&pat) else {
        panic!()
    };
    assert_eq!(
        test_of(&items[0]).path.steps,
        vec![
            Step::Key("body_multipart".into()),
            Step::Index(None),
            Step::Key("body_raw_ref".into()),
            Step::Key("name".into())
        ]
    );
    assert_eq!(
        test_of(&items[1]).path.to_string(),
        "network-traffic:extensions.'http-request-ext'.request_header.'Accept-Encoding'"
    );
    let pat = p("[x-custom:list[2] = 1]");
    assert_eq!(test_of(obs(&pat)).path.steps[1], Step::Index(Some(2)));
}

#[test]
fn and_binds_tighter_than_or_inside_an_observation() {
    let pat = p("[a:x = '1' OR a:y = '2' AND a:z = '3']");
    let Comparison::Or(items) = obs(&pat) else {
        panic!("{pat:?}")
    };
    assert_eq!(items.len(), 2);
    assert!(matches!(items[0], Comparison::Test(_)));
    let Comparison::And(inner) = &items[1] else {
        panic!("{pat:?}")
    };
    assert_eq!(inner.len(), 2);

    // Parentheses override it.
    let pat = p("[(a:x = '1' OR a:y = '2') AND a:z = '3']");
    let Comparison::And(items) = obs(&pat) else {
        panic!("{pat:?}")
    };
    assert!(matches!(items[0], Comparison::Or(_)));

    // Chains are flat.
    let pat = p("[a:x = '1' OR a:x = '2' OR a:x = '3' OR a:x = '4']");
    let Comparison::Or(items) = obs(&pat) else {
        panic!()
    };
    assert_eq!(items.len(), 4);
}

#[test]
fn observation_precedence_followedby_or_and() {
    // A FOLLOWEDBY B OR C AND D  ==  A FOLLOWEDBY (B OR (C AND D))
    let pat = p("[a:x = '1'] FOLLOWEDBY [a:x = '2'] OR [a:x = '3'] AND [a:x = '4']");
    let Pattern::FollowedBy(seq) = &pat else {
        panic!("{pat:?}")
    };
    assert_eq!(seq.len(), 2);
    let Pattern::Or(alts) = &seq[1] else {
        panic!("{pat:?}")
    };
    assert!(matches!(alts[0], Pattern::Observation(_)));
    let Pattern::And(both) = &alts[1] else {
        panic!("{pat:?}")
    };
    assert_eq!(both.len(), 2);

    let pat = p("([a:x = '1'] OR [a:x = '2']) AND [a:x = '3']");
    let Pattern::And(items) = &pat else {
        panic!("{pat:?}")
    };
    assert!(matches!(items[0], Pattern::Or(_)));

    // Redundant parentheses around the whole pattern (feeds2stix writes them).
    let pat = p("([ file:hashes.'SHA-1' = 'aa' ] OR [ file:hashes.'SHA-1' = 'bb' ])");
    assert!(matches!(pat, Pattern::Or(ref v) if v.len() == 2));
}

#[test]
fn qualifiers_bind_to_the_observation_before_them() {
    let pat = p("[a:x = '1'] REPEATS 5 TIMES WITHIN 10 SECONDS");
    let Pattern::Qualified(inner, Qualifier::Within { seconds }) = &pat else {
        panic!("{pat:?}")
    };
    assert_eq!(*seconds, 10.0);
    assert!(matches!(
        **inner,
        Pattern::Qualified(_, Qualifier::Repeats { times: 5 })
    ));

    let pat = p("[a:x = '1'] AND [a:x = '2'] WITHIN 1.5 SECONDS");
    let Pattern::And(items) = &pat else {
        panic!("{pat:?}")
    };
    assert!(matches!(
        items[1],
        Pattern::Qualified(_, Qualifier::Within { .. })
    ));

    let pat = p(
        "([a:x = '1'] AND [a:x = '2']) START t'2016-06-01T00:00:00Z' STOP t'2016-07-01T00:00:00Z'",
    );
    let Pattern::Qualified(_, Qualifier::StartStop { start_ms, stop_ms }) = pat else {
        panic!()
    };
    assert_eq!(start_ms, 1_464_739_200_000);
    assert_eq!(stop_ms, 1_467_331_200_000);
    // STIX 2.0 wrote plain strings.
    assert!(matches!(
        p("[a:x = '1'] START '2016-06-01T00:00:00Z' STOP '2016-07-01T00:00:00Z'"),
        Pattern::Qualified(_, Qualifier::StartStop { .. })
    ));
}

#[test]
fn every_operator() {
    let cases: &[(&str, Op, bool)] = &[
        ("[a:x = 'v']", Op::Eq, false),
        ("[a:x != 'v']", Op::Ne, false),
        ("[a:x <> 'v']", Op::Ne, false),
        ("[a:x NOT = 'v']", Op::Eq, true),
        ("[a:x < 5]", Op::Lt, false),
        ("[a:x <= 5]", Op::Le, false),
        ("[a:x > 5]", Op::Gt, false),
        ("[a:x >= -5]", Op::Ge, false),
        ("[a:x IN ('a', 'b')]", Op::In, false),
        ("[a:x NOT IN ('a')]", Op::In, true),
        ("[a:x LIKE 'a%']", Op::Like, false),
        ("[a:x NOT LIKE 'a%']", Op::Like, true),
        ("[a:x MATCHES '^a.*$']", Op::Matches, false),
        ("[a:x ISSUBSET '10.0.0.0/8']", Op::IsSubset, false),
        ("[a:x ISSUPERSET '10.1.0.0/16']", Op::IsSuperset, false),
        ("[a:x NOT ISSUBSET '10.0.0.0/8']", Op::IsSubset, true),
        ("[EXISTS a:x]", Op::Exists, false),
        ("[a:x in ('a')]", Op::In, false),
    ];
    for (src, op, negated) in cases {
        let pat = p(src);
        let t = test_of(obs(&pat));
        assert_eq!((t.op, t.negated), (*op, *negated), "{src}");
    }
    let pat = p("[a:x IN ('a', 2, true)]");
    assert_eq!(
        test_of(obs(&pat)).operand,
        Operand::Set(vec![
            Literal::Str("a".into()),
            Literal::Int(2),
            Literal::Bool(true)
        ])
    );
    assert_eq!(
        test_of(obs(&p("[a:x IN ()]"))).operand,
        Operand::Set(vec![])
    );
}

#[test]
fn literals_and_escapes() {
    let one = |src: &str| match &test_of(obs(&p(src))).operand {
        Operand::One(l) => l.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(one(r"[a:x = 'it\'s']"), Literal::Str("it's".into()));
    assert_eq!(
        one(r"[a:x = 'C:\\Windows\\x']"),
        Literal::Str(r"C:\Windows\x".into())
    );
    assert_eq!(one("[a:x = '']"), Literal::Str(String::new()));
    assert_eq!(one("[a:x = 'ünï']"), Literal::Str("ünï".into()));
    assert_eq!(
        one("[a:x = h'ff00AB']"),
        Literal::Bytes(vec![0xff, 0x00, 0xab])
    );
    assert_eq!(one("[a:x = b'aGk=']"), Literal::Bytes(b"hi".to_vec()));
    assert_eq!(one("[a:x = b64'aGk=']"), Literal::Bytes(b"hi".to_vec()));
    assert_eq!(
        one("[a:x = t'2016-11-01T03:04:05.5Z']"),
        Literal::Time(1_477_969_445_500)
    );
    assert_eq!(one("[a:x = 42]"), Literal::Int(42));
    assert_eq!(one("[a:x = -42]"), Literal::Int(-42));
    assert_eq!(one("[a:x = +7]"), Literal::Int(7));
    assert_eq!(one("[a:x = 2.5]"), Literal::Float(2.5));
    assert_eq!(one("[a:x = -.5]"), Literal::Float(-0.5));
    assert_eq!(one("[a:x = true]"), Literal::Bool(true));
    assert_eq!(one("[a:x = FALSE]"), Literal::Bool(false));
    // Keywords are case-insensitive; paths are kept as written.
    let pat = p("[A:X = 'v' and a:y = 'w']");
    let Comparison::And(items) = obs(&pat) else {
        panic!()
    };
    assert_eq!(test_of(&items[0]).path.to_string(), "A:X");
    // A quoted first property and white space everywhere.
    let pat = p(&format!("  [ {} ]  ", str_eq("x-thing:'odd key'", "v")));
    assert_eq!(
        test_of(obs(&pat)).path.steps[0],
        Step::Key("odd key".into())
    );
}

#[test]
fn errors_carry_the_offset() {
    let cases: &[(&str, usize, &str)] = &[
        ("", 0, "expected '[' to start an observation"),
        ("[a:x = 'v'", 10, "expected ']'"),
        ("[a:x = 'v']]", 11, "expected AND, OR or FOLLOWEDBY"),
        ("[a:x = 'v' AND]", 14, "expected an object path"),
        ("[a:x 'v']", 5, "expected a comparison operator"),
        ("[a:x = 'v]", 7, "unterminated string"),
        (r"[a:x = 'a\nb']", 9, "invalid escape \\n"),
        ("[a:x = h'abc']", 7, "not hexadecimal"),
        ("[a:x = b'***']", 7, "not base64"),
        (
            "[a:x = t'2016-13-01T00:00:00Z']",
            7,
            "not an RFC 3339 timestamp",
        ),
        ("[a:x = z'v']", 7, "unknown literal prefix"),
        ("[ax = 'v']", 4, "expected ':' after the object type"),
        ("[a:x LIKE 5]", 10, "LIKE needs a string"),
        ("[a:x IN ('a' 'b')]", 13, "expected ',' or ')'"),
        ("[a:x IN 'a']", 8, "expected '(' to open the IN set"),
        (
            "[a:x = 'v'] WITHIN 0 SECONDS",
            19,
            "WITHIN needs a positive number",
        ),
        ("[a:x = 'v'] WITHIN 5 MINUTES", 21, "expected SECONDS"),
        ("[a:x = 'v'] REPEATS 2", 21, "expected TIMES"),
        (
            "[a:x = 'v'] START t'2016-01-01T00:00:00Z'",
            41,
            "expected STOP",
        ),
        ("[a:x > true]", 7, "cannot compare a boolean"),
        ("[a:x = 'v'] ~", 12, "unexpected character '~'"),
        ("[a:x[q] = 'v']", 5, "expected a list index"),
        ("[a:x = 12abc]", 7, "is not a number"),
        ("([a:x = 'v']", 12, "expected ')'"),
        ("[(a:x = 'v']", 11, "expected ')'"),
    ];
    for (src, offset, msg) in cases {
        let e = err(src);
        assert_eq!(e.offset, *offset, "{src}: {e}");
        assert!(e.message.contains(msg), "{src}: {e} (wanted {msg:?})");
    }
}

#[test]
fn nesting_is_bounded() {
    let deep = format!(
        "{}[a:x = 'v']{}",
        "(".repeat(MAX_DEPTH + 5),
        ")".repeat(MAX_DEPTH + 5)
    );
    let e = err(&deep);
    assert!(e.message.contains("nested deeper"), "{e}");
    let ok = format!("{}[a:x = 'v']{}", "(".repeat(10), ")".repeat(10));
    assert!(matches!(p(&ok), Pattern::Observation(_)));
}
