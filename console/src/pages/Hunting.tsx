// Advanced hunting: the KQL editor with the schema browser, results as a grid (paged in the
// browser, exported as CSV), a chart when the query ends in `render`, saved queries, and
// "create custom detection" from the query.
import { useEffect, useMemo, useState } from "react";
import { ApiError, del, get, post } from "../api";
import { KqlEditor } from "../components/KqlEditor";
import type { SchemaTable } from "../components/kql";
import { Chart } from "../components/Chart";
import { ErrorBox, Pager, Section, useGet } from "../components/ui";
import { formatTime, useTime } from "../time";

interface Result {
  columns: { name: string; type: string }[];
  rows: Record<string, any>[];
  truncated: boolean;
  chart: string | null;
  elapsed_ms: number;
}

const DRAFT_KEY = "vigil.hunting.draft";
const PAGE = 100;

function cell(v: any, type: string, fmt: (v: string) => string): string {
  if (v === null || v === undefined) return "";
  if (type === "datetime") return fmt(v);
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

function csvOf(r: Result): string {
  const q = (s: string) => (/[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  const lines = [r.columns.map((c) => q(c.name)).join(",")];
  for (const row of r.rows) {
    lines.push(r.columns.map((c) => q(row[c.name] === null || row[c.name] === undefined ? "" : typeof row[c.name] === "object" ? JSON.stringify(row[c.name]) : String(row[c.name]))).join(","));
  }
  return lines.join("\r\n") + "\r\n";
}

function SchemaBrowser({ schema, onPick }: { schema: SchemaTable[]; onPick: (s: string) => void }) {
  const [open, setOpen] = useState<string | null>(null);
  return (
    <div className="schema">
      <h3>Schema</h3>
      {schema.map((t) => (
        <div key={t.name}>
          <button className="link" onClick={() => setOpen(open === t.name ? null : t.name)} onDoubleClick={() => onPick(t.name)}>
            {open === t.name ? "▾" : "▸"} {t.name}
          </button>
          {open === t.name && (
            <ul>
              {t.columns.map((c) => (
                <li key={c.name}>
                  <button className="link small" onClick={() => onPick(c.name)} title="insert">
                    {c.name}
                  </button>{" "}
                  <span className="muted small">{c.type}</span>
                </li>
              ))}
            </ul>
          )}
        </div>
      ))}
    </div>
  );
}

function CustomDetection({ query, onClose }: { query: string; onClose: () => void }) {
  const [name, setName] = useState("");
  const [severity, setSeverity] = useState("Medium");
  const [schedule, setSchedule] = useState("1h");
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    setError(null);
    try {
      const r = await post<any>("/api/v1/custom-detections", { name, title: name, query, severity, schedule, category: "Execution" });
      setDone(`Custom detection ${r.id ?? r.Id ?? name} created`);
    } catch (err: any) {
      setError(err.message);
    }
  };
  return (
    <div className="dialog card" role="dialog" aria-label="Create custom detection">
      <h2>Create custom detection</h2>
      <p className="muted small">The query must return Timestamp, ReportId and DeviceId; each new row becomes an alert.</p>
      <form onSubmit={submit} className="stack">
        <label>
          Name <input value={name} onChange={(e) => setName(e.target.value)} required />
        </label>
        <label>
          Severity
          <select value={severity} onChange={(e) => setSeverity(e.target.value)}>
            {["Informational", "Low", "Medium", "High"].map((s) => (
              <option key={s}>{s}</option>
            ))}
          </select>
        </label>
        <label>
          Frequency
          <select value={schedule} onChange={(e) => setSchedule(e.target.value)}>
            {["continuous", "1h", "3h", "12h", "24h"].map((s) => (
              <option key={s}>{s}</option>
            ))}
          </select>
        </label>
        <ErrorBox error={error} />
        {done && <div className="notice">{done}</div>}
        <div className="row">
          <button className="primary" disabled={!name.trim() || !!done}>
            Create
          </button>
          <button type="button" onClick={onClose}>
            Close
          </button>
        </div>
      </form>
    </div>
  );
}

export function Hunting() {
  const fmt = useTime();
  const [schema, setSchema] = useState<SchemaTable[] | null>(null);
  const [query, setQuery] = useState(() => localStorage.getItem(DRAFT_KEY) ?? "");
  const [result, setResult] = useState<Result | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [diags, setDiags] = useState<any[]>([]);
  const [busy, setBusy] = useState(false);
  const [page, setPage] = useState(0);
  const [view, setView] = useState<"table" | "chart">("table");
  const [saveName, setSaveName] = useState("");
  const [custom, setCustom] = useState(false);
  const saved = useGet<any[]>("/api/v1/hunt/queries");

  useEffect(() => {
    get<{ tables: SchemaTable[] }>("/console-schema.json")
      .then((s) => setSchema(s.tables))
      .catch(() => setSchema([]));
  }, []);
  useEffect(() => {
    localStorage.setItem(DRAFT_KEY, query);
  }, [query]);

  const run = async () => {
    const q = query.trim();
    if (!q) return;
    setBusy(true);
    setError(null);
    setDiags([]);
    try {
      const r = await post<Result>("/api/v1/hunt", { query: q });
      setResult(r);
      setPage(0);
      setView(r.chart ? "chart" : "table");
    } catch (e) {
      setResult(null);
      if (e instanceof ApiError) {
        setError(e.message);
        setDiags((e.body as any)?.diagnostics ?? []);
      } else setError(String(e));
    } finally {
      setBusy(false);
    }
  };
  const exportCsv = () => {
    if (!result) return;
    const url = URL.createObjectURL(new Blob([csvOf(result)], { type: "text/csv" }));
    const a = document.createElement("a");
    a.href = url;
    a.download = `hunting-${new Date().toISOString().replace(/[:.]/g, "-")}.csv`;
    a.click();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  };
  const save = async (e: React.FormEvent) => {
    e.preventDefault();
    setError(null);
    try {
      await post("/api/v1/hunt/queries", { name: saveName.trim(), query });
      setSaveName("");
      saved.reload();
    } catch (err: any) {
      setError(err.message);
    }
  };
  const rows = useMemo(() => result?.rows.slice(page * PAGE, page * PAGE + PAGE) ?? [], [result, page]);

  return (
    <div className="page hunting">
      <div className="page-head">
        <h1>Advanced hunting</h1>
      </div>
      <div className="hunt-layout">
        <aside>
          {schema && <SchemaBrowser schema={schema} onPick={(s) => setQuery((q) => (q ? `${q}${q.endsWith(" ") || q.endsWith("\n") ? "" : " "}${s}` : s))} />}
          <div className="saved">
            <h3>Saved queries</h3>
            {(saved.data ?? []).map((q) => (
              <div key={q.id} className="saved-q">
                <button className="link" onClick={() => setQuery(q.query)} title={q.query}>
                  {q.name}
                </button>
                {q.shared && <span className="tag">shared</span>}
                <button
                  className="link small danger"
                  onClick={async () => {
                    await del(`/api/v1/hunt/queries/${q.id}`).catch((e) => setError(e.message));
                    saved.reload();
                  }}
                  aria-label={`Delete ${q.name}`}
                >
                  ✕
                </button>
              </div>
            ))}
            {saved.data && !saved.data.length && <p className="muted small">None yet.</p>}
          </div>
        </aside>
        <div className="hunt-main">
          {schema ? <KqlEditor value={query} onChange={setQuery} onRun={run} schema={schema} /> : <div className="muted">Loading the schema…</div>}
          <div className="row">
            <button className="primary" onClick={run} disabled={busy || !query.trim()}>
              {busy ? "Running…" : "Run query"}
            </button>
            <span className="muted small">Ctrl+Enter runs · 30 days unless the query says otherwise</span>
            <form onSubmit={save} className="inline push">
              <input placeholder="Name to save as" value={saveName} onChange={(e) => setSaveName(e.target.value)} />
              <button disabled={!saveName.trim() || !query.trim()}>Save</button>
            </form>
            <button onClick={() => setCustom(true)} disabled={!query.trim()}>
              Create custom detection
            </button>
          </div>
          {custom && <CustomDetection query={query} onClose={() => setCustom(false)} />}
          <ErrorBox error={error} />
          {diags.length > 0 && (
            <pre className="diags">{diags.map((d) => d.rendered ?? `${d.line}:${d.column} ${d.message}`).join("\n")}</pre>
          )}
          {result && (
            <Section
              title={`${result.rows.length.toLocaleString("en")} rows${result.truncated ? " (truncated)" : ""} · ${result.elapsed_ms} ms`}
              actions={
                <div className="row">
                  {result.chart && (
                    <>
                      <button className={view === "chart" ? "on" : ""} onClick={() => setView("chart")}>
                        Chart
                      </button>
                      <button className={view === "table" ? "on" : ""} onClick={() => setView("table")}>
                        Table
                      </button>
                    </>
                  )}
                  <button onClick={exportCsv}>Export CSV</button>
                </div>
              }
            >
              {view === "chart" && result.chart ? (
                <Chart kind={result.chart} columns={result.columns} rows={result.rows} format={(v) => formatTime(v)} />
              ) : (
                <>
                  <div className="scroll">
                    <table className="grid results">
                      <thead>
                        <tr>
                          {result.columns.map((c) => (
                            <th key={c.name} title={c.type}>
                              {c.name}
                            </th>
                          ))}
                        </tr>
                      </thead>
                      <tbody>
                        {rows.map((r, i) => (
                          <tr key={i}>
                            {result.columns.map((c) => (
                              <td key={c.name} className={c.type === "datetime" ? "ts" : ""}>
                                {cell(r[c.name], c.type, fmt)}
                              </td>
                            ))}
                          </tr>
                        ))}
                      </tbody>
                    </table>
                  </div>
                  {result.rows.length > PAGE && (
                    <Pager total={result.rows.length} limit={PAGE} offset={page * PAGE} onChange={(o) => setPage(o / PAGE)} />
                  )}
                </>
              )}
            </Section>
          )}
        </div>
      </div>
    </div>
  );
}
