//! Statements, sources and every tabular operator.

use crate::{last_expr, op, ops, parse_ok};
use vigil_kql::ast::{ExprKind, LetValue, Literal, OperatorKind, ParamType, ParsePart, Statement};

fn names(list: &[vigil_kql::ast::Ident]) -> Vec<&str> {
    list.iter().map(|i| i.name.as_str()).collect()
}

#[test]
fn statements() {
    let q = parse_ok(
        "set notruncation;\nset query_now = datetime(2024-01-01);\ndeclare query_parameters(n: long = 5, s: string);\n\
         let x = 5; // comment\nlet t = T | where a > x;\nlet s = toscalar(t | count);\n\
         let f = (a: string, b: long = 5, T: (*)) { let y = a; T | where c == y };\n\
         let g = view () { T };\nlet h = (T: (Col: string, N: long)) { T };\nt | take 1;",
    );
    let kinds: Vec<&str> = q
        .statements
        .iter()
        .map(|s| match s {
            Statement::Let(_) => "let",
            Statement::Expr(_) => "expr",
            Statement::Set { .. } => "set",
            Statement::DeclareParams { .. } => "declare",
        })
        .collect();
    assert_eq!(
        kinds,
        ["set", "set", "declare", "let", "let", "let", "let", "let", "let", "expr"]
    );
    let Statement::Let(f) = &q.statements[6] else {
        panic!()
    };
    let LetValue::Function(func) = &f.value else {
        panic!("{f:?}")
    };
    assert_eq!(func.params.len(), 3);
    assert!(matches!(&func.params[0].ty, ParamType::Scalar(t) if t.name == "string"));
    assert!(
        matches!(&func.params[1].default, Some(e) if e.kind == ExprKind::Literal(Literal::Long(5)))
    );
    assert!(matches!(&func.params[2].ty, ParamType::Tabular(cols) if cols.is_empty()));
    assert_eq!(func.body.len(), 2);
    let Statement::Let(h) = &q.statements[8] else {
        panic!()
    };
    let LetValue::Function(func) = &h.value else {
        panic!()
    };
    assert!(matches!(&func.params[0].ty, ParamType::Tabular(cols) if cols.len() == 2));
    // `let t = (T | ...)` is an expression, not a function.
    let q = parse_ok("let t = (T | where a > 1); t");
    let Statement::Let(t) = &q.statements[0] else {
        panic!()
    };
    assert!(matches!(&t.value, LetValue::Expr(e) if matches!(e.kind, ExprKind::Paren(_))));
}

#[test]
fn blank_line_separates_queries() {
    let q = parse_ok("T\n| where a > 1\n\n// second query\nU | take 1");
    assert_eq!(q.statements.len(), 2);
    // Without a blank line, a stray token is still an error.
    let (_, diags) = vigil_kql::parse("T | where a > 1\nU | take 1");
    assert_eq!(diags.len(), 1, "{diags:?}");
}

#[test]
fn sources() {
    let e = last_expr("datatable (Name: string, N: long) ['a', 1, 'b', 2,]");
    let ExprKind::Datatable { columns, values } = e.kind else {
        panic!("{e:?}")
    };
    assert_eq!(columns.len(), 2);
    assert_eq!(values.len(), 4);
    assert!(matches!(
        last_expr("range x from 1 to 10 step 1").kind,
        ExprKind::Range { .. }
    ));
    let e = last_expr("print a = 1, 2");
    let ExprKind::Print { columns } = e.kind else {
        panic!()
    };
    assert_eq!(names(&columns[0].names), ["a"]);
    let e = last_expr("union withsource=Src kind=outer DeviceProcess*, (T | take 1), f(1)");
    let ExprKind::Union(u) = e.kind else { panic!() };
    assert_eq!(u.params.len(), 2);
    assert_eq!(u.tables.len(), 3);
    assert!(matches!(&u.tables[0].kind, ExprKind::Name(n) if n == "DeviceProcess*"));
    let e = last_expr("search in (T1, T2) 'x' | take 1");
    let ExprKind::Pipe { source, .. } = e.kind else {
        panic!()
    };
    assert!(matches!(&source.kind, ExprKind::Search { tables, .. } if tables.len() == 2));
    let e = last_expr("find in (T) where x == 1 | take 1");
    let ExprKind::Pipe { source, .. } = e.kind else {
        panic!()
    };
    assert!(matches!(&source.kind, ExprKind::Unsupported { what } if what == "find"));
    let e = last_expr("externaldata (a: string) [@'https://x/y'] with (format='txt') | take 1");
    let ExprKind::Pipe { source, .. } = e.kind else {
        panic!()
    };
    assert!(matches!(&source.kind, ExprKind::Unsupported { what } if what == "externaldata"));
    assert!(matches!(last_expr("f(1)").kind, ExprKind::Call { .. }));
    assert!(matches!(last_expr("(T)").kind, ExprKind::Paren(_)));
}

#[test]
fn projection_operators() {
    let OperatorKind::Project(items) = op("T | project A, B = x + 1, ['C d'] = 2") else {
        panic!()
    };
    assert_eq!(items.len(), 3);
    assert_eq!(names(&items[1].names), ["B"]);
    assert_eq!(names(&items[2].names), ["C d"]);
    let OperatorKind::ProjectAway(n) = op("T | project-away A, B*, *Id") else {
        panic!()
    };
    assert_eq!(names(&n), ["A", "B*", "*Id"]);
    let OperatorKind::ProjectKeep(n) = op("T | project-keep A") else {
        panic!()
    };
    assert_eq!(names(&n), ["A"]);
    let OperatorKind::ProjectReorder(n) = op("T | project-reorder B, A asc, $table") else {
        panic!()
    };
    assert_eq!(names(&n), ["B", "A", "$table"]);
    let OperatorKind::ProjectRename(pairs) = op("T | project-rename New = Old, ['a b'] = c") else {
        panic!()
    };
    assert_eq!(
        (pairs[0].0.name.as_str(), pairs[0].1.name.as_str()),
        ("New", "Old")
    );
    let OperatorKind::Extend(items) = op("T | extend (A, B) = f(x), C = 1") else {
        panic!()
    };
    assert_eq!(names(&items[0].names), ["A", "B"]);
}

#[test]
fn summarize() {
    let OperatorKind::Summarize { params, aggregates, by } = op(
        "T | summarize hint.shufflekey=K hint.strategy=shuffle count(), dcount(x), arg_max(Timestamp, *), \
         (A, B) = arg_max(Timestamp, A, B), percentiles(x, 50, 95), make_set(x, 100), take_any(*), \
         N = countif(a > 1) by bin(Timestamp, 1h), D = DeviceName",
    ) else {
        panic!()
    };
    assert_eq!(
        names(&params.iter().map(|p| p.name.clone()).collect::<Vec<_>>()),
        ["hint.shufflekey", "hint.strategy"]
    );
    assert_eq!(aggregates.len(), 8);
    assert_eq!(names(&aggregates[3].names), ["A", "B"]);
    assert_eq!(by.len(), 2);
    let OperatorKind::Summarize { aggregates, by, .. } = op("T | summarize by A") else {
        panic!()
    };
    assert!(aggregates.is_empty());
    assert_eq!(by.len(), 1);
}

#[test]
fn row_operators() {
    assert!(matches!(op("T | where a > 1"), OperatorKind::Where(_)));
    assert!(matches!(op("T | filter a > 1"), OperatorKind::Where(_)));
    assert!(matches!(op("T | count"), OperatorKind::Count));
    assert!(matches!(op("T | distinct A, B"), OperatorKind::Distinct(v) if v.len() == 2));
    assert!(
        matches!(op("T | distinct *"), OperatorKind::Distinct(v) if v[0].expr.kind == ExprKind::Star)
    );
    assert!(matches!(op("T | take 10"), OperatorKind::Take(_)));
    assert!(matches!(op("T | limit 10"), OperatorKind::Take(_)));
    assert!(matches!(op("T | sample 10"), OperatorKind::Sample(_)));
    assert!(matches!(op("T | getschema"), OperatorKind::GetSchema));
    assert!(matches!(op("T | serialize"), OperatorKind::Serialize(v) if v.is_empty()));
    assert!(
        matches!(op("T | serialize n = row_number()"), OperatorKind::Serialize(v) if v.len() == 1)
    );
    assert!(matches!(op("T | as Name"), OperatorKind::As(n) if n.name == "Name"));
    assert!(matches!(op("T | search 'x'"), OperatorKind::Search(_)));
    assert!(
        matches!(op("T | invoke f(1, 'a')"), OperatorKind::Invoke { function, args } if function.name == "f" && args.len() == 2)
    );
}

#[test]
fn sorting() {
    let OperatorKind::Top { key, .. } = op("T | top 5 by A asc nulls first") else {
        panic!()
    };
    assert!(!key.descending);
    assert_eq!(key.nulls_first, Some(true));
    let OperatorKind::Sort(keys) = op("T | sort by A, B asc, C desc nulls last") else {
        panic!()
    };
    assert_eq!(
        keys.iter().map(|k| k.descending).collect::<Vec<_>>(),
        [true, false, true]
    );
    assert_eq!(keys[2].nulls_first, Some(false));
    assert!(matches!(op("T | order by A"), OperatorKind::Sort(k) if k.len() == 1));
    let OperatorKind::TopNested(levels) = op(
        "T | top-nested 3 of A with others = 'rest' by count(), top-nested of B by N = sum(x) asc",
    ) else {
        panic!()
    };
    assert_eq!(levels.len(), 2);
    assert!(levels[0].others.is_some());
    assert!(levels[1].count.is_none());
    assert!(!levels[1].descending);
}

#[test]
fn joins_and_unions() {
    let OperatorKind::Join { params, right, on } =
        op("T | join kind=leftouter hint.strategy=broadcast (U | where x > 1) on $left.A == $right.B and $left.C == $right.D")
    else {
        panic!()
    };
    assert_eq!(params.len(), 2);
    assert!(matches!(right.kind, ExprKind::Pipe { .. }));
    assert_eq!(on.len(), 1);
    let OperatorKind::Join { right, on, .. } = op("T | join U on A, B") else {
        panic!()
    };
    assert!(matches!(right.kind, ExprKind::Name(ref n) if n == "U"));
    assert_eq!(on.len(), 2);
    assert!(matches!(
        op("T | lookup kind=inner (U) on A"),
        OperatorKind::Lookup { .. }
    ));
    let OperatorKind::Union(u) = op("T | union isfuzzy=true U, V") else {
        panic!()
    };
    assert_eq!(u.tables.len(), 2);
}

#[test]
fn mv_expand_and_mv_apply() {
    let OperatorKind::MvExpand {
        params,
        columns,
        limit,
    } = op(
        "T | mv-expand bagexpansion=array with_itemindex=I A, B = b to typeof(string) limit 100",
    )
    else {
        panic!()
    };
    assert_eq!(params.len(), 2);
    assert_eq!(columns.len(), 2);
    assert_eq!(columns[1].name.as_ref().map(|n| n.name.as_str()), Some("B"));
    assert_eq!(
        columns[1].to_type.as_ref().map(|t| t.name.as_str()),
        Some("string")
    );
    assert!(limit.is_some());
    assert!(matches!(
        op("T | mvexpand A"),
        OperatorKind::MvExpand { .. }
    ));
    let OperatorKind::MvApply { columns, body, .. } = op(
        "T | mv-apply x = arr to typeof(long) on (where x > 1 | summarize s = sum(x) | top 1 by s)",
    ) else {
        panic!()
    };
    assert_eq!(columns.len(), 1);
    assert_eq!(body.len(), 3);
}

#[test]
fn parse_operators() {
    let OperatorKind::Parse {
        params,
        source,
        pattern,
    } = op(r#"T | parse kind=regex flags=Ui Text with * "id=" Id:long ", name=" Name "." *"#)
    else {
        panic!()
    };
    assert_eq!(params.len(), 2);
    assert!(matches!(source.kind, ExprKind::Name(ref n) if n == "Text"));
    assert_eq!(pattern.len(), 7);
    assert_eq!(pattern[0], ParsePart::Wildcard);
    assert_eq!(pattern[1], ParsePart::Literal("id=".into()));
    assert!(
        matches!(&pattern[2], ParsePart::Column { name, ty: Some(t) } if name.name == "Id" && t.name == "long")
    );
    assert!(matches!(&pattern[4], ParsePart::Column { ty: None, .. }));
    assert!(matches!(
        op(r#"T | parse-where x with "a" b"#),
        OperatorKind::ParseWhere { .. }
    ));
}

#[test]
fn make_series_evaluate_render() {
    let OperatorKind::MakeSeries { params, aggregates, from, to, by, .. } = op(
        "T | make-series kind=nonempty N = count() default = 0, avg(x) on Timestamp from ago(1d) to now() step 1h by A",
    ) else {
        panic!()
    };
    assert_eq!(params.len(), 1);
    assert_eq!(aggregates.len(), 2);
    assert!(aggregates[0].default.is_some());
    assert!(from.is_some() && to.is_some());
    assert_eq!(by.len(), 1);
    let OperatorKind::MakeSeries { from, .. } =
        op("T | make-series count() on Timestamp in range(ago(1d), now(), 1h)")
    else {
        panic!()
    };
    assert!(from.is_some());
    let OperatorKind::Evaluate { plugin, args, .. } =
        op("T | evaluate bag_unpack(AdditionalFields)")
    else {
        panic!()
    };
    assert_eq!(plugin.name, "bag_unpack");
    assert_eq!(args.len(), 1);
    assert!(
        matches!(op("T | evaluate pivot(A, count(), B)"), OperatorKind::Evaluate { args, .. } if args.len() == 3)
    );
    let OperatorKind::Render { chart, with } =
        op("T | render timechart with (title='x (y)', ymin=0)")
    else {
        panic!()
    };
    assert_eq!(chart.name, "timechart");
    assert_eq!(with.as_deref(), Some("title='x (y)', ymin=0"));
    assert!(matches!(
        op("T | render piechart"),
        OperatorKind::Render { with: None, .. }
    ));
}

#[test]
fn unsupported_operators_are_not_errors() {
    for name in [
        "fork",
        "facet",
        "reduce",
        "sample-distinct",
        "partition",
        "scan",
        "top-hitters",
        "parse-kv",
    ] {
        let src = format!("T | {name} by (x | where y) whatever 'text' | take 1");
        let ops = ops(&src);
        assert_eq!(ops.len(), 2, "{src}");
        assert!(
            matches!(&ops[0].kind, OperatorKind::Unsupported { name: n } if n == name),
            "{src}"
        );
        assert_eq!(
            ops[0].span.text(&src),
            format!("{name} by (x | where y) whatever 'text'")
        );
    }
}

/// Idioms common in hunting queries outside the conformance corpus (Sentinel style).
#[test]
fn common_hunting_idioms() {
    let queries = [
        "let lookback = 14d; let list = dynamic(['a', \"b\"]);\nSecurityEvent\n| where TimeGenerated >= startofday(ago(lookback))\n\
         | where EventID in (4624, 4625) and Account !in~ (list)\n| extend Acct = tostring(split(Account, '\\\\')[1])\n\
         | summarize arg_max(TimeGenerated, *) by Computer\n| sort by count_ desc",
        "SigninLogs | extend d = parse_json(DeviceDetail) | extend os = tostring(d.operatingSystem), b = d['browser']\n\
         | project-rename ['User Name'] = UserPrincipalName | project-away d",
        "let T1 = materialize(DeviceProcessEvents | where FileName =~ 'cmd.exe');\nunion isfuzzy=true (T1), (T1 | take 1)\n\
         | lookup kind=leftouter (DeviceInfo | project DeviceId, OSPlatform) on DeviceId",
        "DeviceEvents | where ActionType == 'x' | extend p = parse_json(AdditionalFields) | evaluate bag_unpack(p)\n\
         | where * contains 'evil' | extend v = iff(isnotempty(x), case(a == 1, 'a', 'b'), column_ifexists('c', ''))",
        "T | summarize c = count() by bin(Timestamp, 1h), Type | render timechart",
        "T | where Url has_any (dynamic(['a.com'])) and Timestamp between (ago(1d) .. now()) | top 10 by Timestamp",
        "T | where Command matches regex @'(?i)invoke-(expression|webrequest)' | extend n = row_number()",
    ];
    for q in queries {
        parse_ok(q);
    }
}
