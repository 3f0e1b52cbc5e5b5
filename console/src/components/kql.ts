// The KQL editor's language support for CodeMirror 6: a stream tokenizer for highlighting
// (keywords, operators after `|`, strings, numbers, comments, known tables) and completion of
// tables, the columns of the tables the query names, tabular operators and common functions.
import { StreamLanguage, HighlightStyle, syntaxHighlighting } from "@codemirror/language";
import { tags } from "@lezer/highlight";
import type { CompletionContext, CompletionResult, Completion } from "@codemirror/autocomplete";

export interface SchemaTable {
  name: string;
  columns: { name: string; type: string }[];
}

const OPERATORS = [
  "where", "project", "project-away", "project-rename", "project-reorder", "extend", "summarize", "count",
  "top", "take", "limit", "sort", "order", "distinct", "join", "union", "render", "mv-expand", "make-series",
  "parse", "evaluate", "lookup", "as", "getschema", "sample", "top-nested", "serialize", "invoke",
];
const KEYWORDS = [
  "by", "on", "asc", "desc", "and", "or", "not", "let", "in", "has", "has_any", "has_all", "contains",
  "startswith", "endswith", "matches", "regex", "between", "kind", "with", "true", "false", "ago", "now",
  "inner", "leftouter", "rightouter", "fullouter", "leftanti", "leftsemi", "innerunique", "nulls", "first", "last",
  "timechart", "columnchart", "barchart", "piechart", "linechart", "areachart", "scatterchart",
];
const FUNCTIONS = [
  "count", "countif", "dcount", "dcountif", "sum", "sumif", "avg", "min", "max", "make_set", "make_list",
  "arg_max", "arg_min", "bin", "ago", "now", "datetime", "tostring", "toint", "tolong", "todouble", "tolower",
  "toupper", "strlen", "substring", "split", "strcat", "extract", "parse_json", "isempty", "isnotempty",
  "iff", "case", "coalesce", "format_datetime", "startofday", "ipv4_is_private", "parse_url", "trim",
];

export function kqlLanguage(tables: string[]) {
  const tableSet = new Set(tables);
  const ops = new Set(OPERATORS);
  const kws = new Set(KEYWORDS);
  return StreamLanguage.define<{ afterPipe: boolean }>({
    name: "kql",
    startState: () => ({ afterPipe: false }),
    token(stream, state) {
      if (stream.eatSpace()) return null;
      if (stream.match("//")) {
        stream.skipToEnd();
        return "comment";
      }
      const ch = stream.peek();
      if (ch === '"' || ch === "'") {
        stream.next();
        let esc = false;
        while (!stream.eol()) {
          const c = stream.next();
          if (c === ch && !esc) break;
          esc = c === "\\" && !esc;
        }
        return "string";
      }
      if (stream.match(/^\d+(\.\d+)?([a-z]+)?/)) return "number";
      if (ch === "|") {
        stream.next();
        state.afterPipe = true;
        return "operator";
      }
      if (stream.match(/^[A-Za-z_][\w-]*/)) {
        const w = stream.current();
        const wasPipe = state.afterPipe;
        state.afterPipe = false;
        if (wasPipe && ops.has(w)) return "keyword";
        if (tableSet.has(w)) return "typeName";
        if (kws.has(w.toLowerCase())) return "keyword";
        if (stream.peek() === "(") return "function";
        return "variableName";
      }
      stream.next();
      return "operator";
    },
  });
}

export const kqlHighlight = syntaxHighlighting(
  HighlightStyle.define([
    { tag: tags.keyword, color: "#8250df", fontWeight: "bold" },
    { tag: tags.typeName, color: "#0550ae", fontWeight: "bold" },
    { tag: tags.string, color: "#0a3069" },
    { tag: tags.number, color: "#0a7ea4" },
    { tag: tags.comment, color: "#6e7781", fontStyle: "italic" },
    { tag: tags.function(tags.variableName), color: "#953800" },
    { tag: tags.operator, color: "#cf222e" },
  ]),
);

/// Completion: after `|` the tabular operators; elsewhere the tables, the columns of the
/// tables the query mentions (all columns when it names none), keywords and functions.
export function kqlCompletion(schema: SchemaTable[]) {
  const tableOptions: Completion[] = schema.map((t) => ({ label: t.name, type: "class", detail: "table" }));
  return (ctx: CompletionContext): CompletionResult | null => {
    const word = ctx.matchBefore(/[\w-]*/);
    if (!word || (word.from === word.to && !ctx.explicit)) return null;
    const before = ctx.state.doc.sliceString(Math.max(0, word.from - 40), word.from);
    if (/\|\s*$/.test(before)) {
      return { from: word.from, options: OPERATORS.map((o) => ({ label: o, type: "keyword" })) };
    }
    const text = ctx.state.doc.toString();
    const named = schema.filter((t) => new RegExp(`\\b${t.name}\\b`).test(text));
    const cols = new Map<string, string>();
    for (const t of named.length ? named : schema) for (const c of t.columns) if (!cols.has(c.name)) cols.set(c.name, c.type);
    const options: Completion[] = [
      ...tableOptions,
      ...[...cols].map(([name, type]) => ({ label: name, type: "property", detail: type, boost: named.length ? 2 : 0 })),
      ...FUNCTIONS.map((f) => ({ label: f, type: "function", apply: `${f}(` })),
      ...KEYWORDS.map((k) => ({ label: k, type: "keyword", boost: -1 })),
    ];
    return { from: word.from, options, validFor: /^[\w-]*$/ };
  };
}
