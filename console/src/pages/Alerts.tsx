// The alerts queue: server-side filters (severity, status, detection source, device,
// technique, time), sorting by column, paging, grouping of the page, and bulk triage of the
// selected alerts. The time the first page took to show is written to data-render-ms.
import { useEffect, useMemo, useRef, useState } from "react";
import { ApiError, post, qs } from "../api";
import { ErrorBox, Link, Pager, Severity, Status, useGet } from "../components/ui";
import { TriageForm, type TriageChange } from "../components/triage";
import { SortTh } from "../components/list";
import { DevicePicker, alertDeviceName } from "../components/device";
import { useTime } from "../time";
import { navigate, useLocation } from "../router";

const SEVERITIES = ["High", "Medium", "Low", "Informational"];
const STATUSES = ["New", "InProgress", "Resolved"];
const SOURCES = ["Sigma", "CustomTI", "Custom detection"];
const RANGES: [string, number][] = [
  ["Any time", 0],
  ["Last 24 hours", 1],
  ["Last 7 days", 7],
  ["Last 30 days", 30],
];
const COLUMNS: [string, string][] = [
  ["Severity", "Severity"],
  ["Title", "Title"],
  ["DeviceId", "Device"],
  ["Category", "Category"],
  ["DetectionSource", "Source"],
  ["Status", "Status"],
  ["Hits", "Hits"],
  ["LastActivity", "Last activity"],
];

interface Page {
  items: any[];
  total: number;
  limit: number;
  offset: number;
}

function toggle(list: string[], v: string) {
  return list.includes(v) ? list.filter((x) => x !== v) : [...list, v];
}

export function AlertsQueue() {
  const fmt = useTime();
  const { query } = useLocation();
  const incident = query.get("incident") ?? "";
  const [severity, setSeverity] = useState<string[]>([]);
  const [status, setStatus] = useState<string[]>(["New", "InProgress"]);
  const [source, setSource] = useState("");
  const [device, setDevice] = useState(query.get("device") ?? "");
  const [technique, setTechnique] = useState("");
  const [text, setText] = useState("");
  const [days, setDays] = useState(0);
  const [sort, setSort] = useState("LastActivity");
  const [order, setOrder] = useState<"asc" | "desc">("desc");
  const [limit, setLimit] = useState(50);
  const [offset, setOffset] = useState(0);
  const [group, setGroup] = useState("");
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [bulkError, setBulkError] = useState<string | null>(null);
  const [bulkBusy, setBulkBusy] = useState(false);
  const [notice, setNotice] = useState<string | null>(null);
  const started = useRef(performance.now());
  const [renderMs, setRenderMs] = useState<number | null>(null);

  const sinceMs = useMemo(() => (days ? Date.now() - days * 86_400_000 : undefined), [days]);
  const path =
    "/api/v1/alerts" +
    qs({
      limit,
      offset,
      sort,
      order,
      severity: severity.join(","),
      status: status.join(","),
      source,
      device,
      technique: technique.trim(),
      q: text.trim(),
      since_ms: sinceMs,
      incident,
    });
  const page = useGet<Page>(path);
  useEffect(() => {
    setOffset(0);
  }, [severity, status, source, device, technique, text, days, limit, sort, order, incident]);
  useEffect(() => {
    setSelected(new Set());
  }, [path]);
  useEffect(() => {
    if (page.data && renderMs === null) setRenderMs(Math.round(performance.now() - started.current));
  }, [page.data, renderMs]);

  const items = page.data?.items ?? [];
  const groups = useMemo(() => {
    if (!group) return [["", items]] as [string, any[]][];
    const m = new Map<string, any[]>();
    for (const a of items) {
      const k = group === "DeviceId" ? alertDeviceName(a) : String(a[group] ?? "");
      if (!m.has(k)) m.set(k, []);
      m.get(k)!.push(a);
    }
    return [...m.entries()];
  }, [items, group]);

  const sortBy = (key: string) => {
    if (key === sort) setOrder(order === "desc" ? "asc" : "desc");
    else {
      setSort(key);
      setOrder(key === "Title" || key === "DeviceId" ? "asc" : "desc");
    }
  };
  const bulk = async (c: TriageChange) => {
    if (!Object.keys(c).length) {
      setBulkError("choose a status, classification or assignee to apply");
      return;
    }
    setBulkBusy(true);
    setBulkError(null);
    try {
      const r = await post<{ updated: number }>("/api/v1/alerts/bulk", { ids: [...selected], ...c });
      setNotice(`${r.updated} alert${r.updated === 1 ? "" : "s"} updated`);
      setSelected(new Set());
      page.reload();
    } catch (e) {
      setBulkError(e instanceof ApiError ? e.message : String(e));
    } finally {
      setBulkBusy(false);
    }
  };
  const allOnPage = items.length > 0 && items.every((a) => selected.has(a.AlertId));

  return (
    <div className="page" data-render-ms={renderMs ?? undefined}>
      <div className="page-head">
        <h1>Alerts queue</h1>
        {page.loading && <span className="muted">Loading…</span>}
      </div>
      <div className="filters card">
        {incident && (
          <span className="chip">
            Incident <Link to={`/incidents/${incident}`}>{incident}</Link>{" "}
            <button className="link" aria-label="Clear the incident filter" onClick={() => navigate("/alerts")}>
              ✕
            </button>
          </span>
        )}
        <fieldset>
          <legend>Severity</legend>
          {SEVERITIES.map((s) => (
            <label key={s} className="check">
              <input type="checkbox" checked={severity.includes(s)} onChange={() => setSeverity(toggle(severity, s))} /> {s}
            </label>
          ))}
        </fieldset>
        <fieldset>
          <legend>Status</legend>
          {STATUSES.map((s) => (
            <label key={s} className="check">
              <input type="checkbox" checked={status.includes(s)} onChange={() => setStatus(toggle(status, s))} /> {s}
            </label>
          ))}
        </fieldset>
        <label>
          Detection source
          <select value={source} onChange={(e) => setSource(e.target.value)} name="source">
            <option value="">Any</option>
            {SOURCES.map((s) => (
              <option key={s}>{s}</option>
            ))}
          </select>
        </label>
        <label>
          Device
          <DevicePicker value={device} onChange={setDevice} />
        </label>
        <label>
          Technique
          <input value={technique} onChange={(e) => setTechnique(e.target.value)} placeholder="T1059" name="technique" size={9} />
        </label>
        <label>
          Time
          <select value={days} onChange={(e) => setDays(Number(e.target.value))} name="time">
            {RANGES.map(([l, d]) => (
              <option key={d} value={d}>
                {l}
              </option>
            ))}
          </select>
        </label>
        <label>
          Title or id
          <input value={text} onChange={(e) => setText(e.target.value)} placeholder="contains…" name="text" />
        </label>
        <label>
          Group by
          <select value={group} onChange={(e) => setGroup(e.target.value)} name="group">
            <option value="">Nothing</option>
            <option value="Severity">Severity</option>
            <option value="DeviceId">Device</option>
            <option value="Title">Title</option>
            <option value="Status">Status</option>
          </select>
        </label>
      </div>
      {notice && (
        <div className="notice" role="status">
          {notice}
        </div>
      )}
      {selected.size > 0 && (
        <div className="bulk card">
          <strong>{selected.size} selected</strong>
          <TriageForm compact submitLabel={`Apply to ${selected.size}`} busy={bulkBusy} onSubmit={bulk} />
          <ErrorBox error={bulkError} />
        </div>
      )}
      <ErrorBox error={page.error} />
      <table className="grid alerts">
        <thead>
          <tr>
            <th className="sel">
              <input
                type="checkbox"
                aria-label="Select the page"
                checked={allOnPage}
                onChange={() => setSelected(allOnPage ? new Set() : new Set(items.map((a) => a.AlertId)))}
              />
            </th>
            {COLUMNS.map(([key, label]) => (
              <SortTh key={key} field={key} label={label} sort={sort} order={order} onSort={sortBy} />
            ))}
          </tr>
        </thead>
        {groups.map(([g, rows]) => (
          <tbody key={g}>
            {group && (
              <tr className="group">
                <td colSpan={COLUMNS.length + 1}>
                  {g || "(none)"} · {rows.length}
                </td>
              </tr>
            )}
            {rows.map((a) => (
              <tr key={a.AlertId} className={selected.has(a.AlertId) ? "selected" : ""}>
                <td className="sel">
                  <input
                    type="checkbox"
                    aria-label={`Select ${a.AlertId}`}
                    checked={selected.has(a.AlertId)}
                    onChange={() => {
                      const s = new Set(selected);
                      if (s.has(a.AlertId)) s.delete(a.AlertId);
                      else s.add(a.AlertId);
                      setSelected(s);
                    }}
                  />
                </td>
                <td>
                  <Severity value={a.Severity} />
                </td>
                <td>
                  <Link to={`/alerts/${a.AlertId}`}>{a.Title}</Link>
                  <div className="muted small">{(a.AttackTechniques ?? []).join(", ")}</div>
                </td>
                <td>
                  <Link to={`/devices/${encodeURIComponent(a.DeviceId)}`}>{alertDeviceName(a)}</Link>
                </td>
                <td>{a.Category}</td>
                <td>{a.DetectionSource}</td>
                <td>
                  <Status value={a.Status} />
                  {a.Classification && <div className="muted small">{a.Classification}</div>}
                </td>
                <td className="num">{a.Hits}</td>
                <td className="ts">{fmt(a.LastActivity)}</td>
              </tr>
            ))}
          </tbody>
        ))}
        {page.data && !items.length && (
          <tbody>
            <tr>
              <td colSpan={COLUMNS.length + 1} className="muted">
                No alerts match these filters.
              </td>
            </tr>
          </tbody>
        )}
      </table>
      {page.data && (
        <div className="table-foot">
          <Pager total={page.data.total} limit={limit} offset={offset} onChange={setOffset} />
          <label>
            Per page{" "}
            <select value={limit} onChange={(e) => setLimit(Number(e.target.value))}>
              {[25, 50, 100, 200].map((n) => (
                <option key={n}>{n}</option>
              ))}
            </select>
          </label>
        </div>
      )}
    </div>
  );
}
