// Devices: the inventory (paged, sorted, searched and filtered by tag, group, health, risk
// and exposure on the server, its state in the address) and a device page with its overview,
// risk, exposure and tags, alerts, a filterable timeline of its events (advanced hunting),
// response actions and their history, and a live-response console.
import { useEffect, useState } from "react";
import { post, qs } from "../api";
import { ErrorBox, Facts, Link, Section, Severity, Status, useGet } from "../components/ui";
import { DebouncedInput, FilterSelect, ListFoot, SearchBox, sortHeaders, useServerList } from "../components/list";
import { EXPOSURE_LEVELS, Exposure, ExposurePanel, HEALTH_STATES, RISK_LEVELS, Risk, TagChips, TagEditor } from "../components/device";
import { useTime } from "../time";
import type { Me } from "../main";
import { LiveConsole } from "../components/LiveConsole";
import { ActionsTable } from "./Actions";

const INVENTORY_COLUMNS: [string, string][] = [
  ["DeviceName", "Device"],
  ["RiskLevel", "Risk"],
  ["ExposureLevel", "Exposure"],
  ["HealthStatus", "Health"],
  ["OSPlatform", "OS"],
  ["AgentVersion", "Agent"],
  ["SensorMode", "Sensor"],
];

export function Devices() {
  const fmt = useTime();
  const list = useServerList<any>("/api/v1/devices", {
    sort: "DeviceName",
    order: "asc",
    filters: ["tag", "group", "health", "risk", "exposure"],
    inUrl: true,
    ascFirst: ["DeviceName", "OSPlatform", "AgentVersion", "SensorMode", "DeviceGroup", "HealthStatus"],
  });
  const rows = list.page.data?.items ?? [];
  const filtered = ["q", "tag", "group", "health", "risk", "exposure"].some((f) => list.filter(f));
  return (
    <div className="page">
      <div className="page-head">
        <h1>Device inventory</h1>
        {list.page.loading && <span className="muted">Loading…</span>}
      </div>
      <div className="filters card">
        <SearchBox list={list} name="device-search" placeholder="name, id, group, tag…" />
        <label>
          Tag
          <DebouncedInput name="tag" value={list.filter("tag")} onCommit={(v) => list.setFilter("tag", v)} placeholder="any tag" size={14} />
        </label>
        <label>
          Group
          <DebouncedInput name="group" value={list.filter("group")} onCommit={(v) => list.setFilter("group", v)} placeholder="any group" size={12} />
        </label>
        <FilterSelect list={list} name="health" label="Health" options={HEALTH_STATES} />
        <FilterSelect list={list} name="risk" label="Risk" options={RISK_LEVELS} />
        <FilterSelect list={list} name="exposure" label="Exposure" options={EXPOSURE_LEVELS} />
      </div>
      <ErrorBox error={list.page.error} />
      <table className="grid devices">
        <thead>
          <tr>
            {sortHeaders(list, INVENTORY_COLUMNS)}
            <th>Antivirus</th>
            {sortHeaders(list, [["DeviceGroup", "Group"]])}
            <th>Tags</th>
            {sortHeaders(list, [["LastSeen", "Last seen"]])}
          </tr>
        </thead>
        <tbody>
          {rows.map((d) => (
            <tr key={d.DeviceId} data-device-id={d.DeviceId}>
              <td>
                <Link to={`/devices/${encodeURIComponent(d.DeviceId)}`}>{d.DeviceName}</Link>
                <div className="muted small mono">{d.DeviceId}</div>
              </td>
              <td>
                <Risk value={d.RiskLevel} />
              </td>
              <td>
                <Exposure level={d.ExposureLevel} reasons={d.ExposureReasons} />
              </td>
              <td>
                <span className={`health health-${String(d.HealthStatus).toLowerCase()}`}>{d.HealthStatus}</span>
              </td>
              <td>
                {d.OSPlatform ?? "—"} {d.OSVersion ?? ""}
              </td>
              <td>{d.AgentVersion ?? "—"}</td>
              <td>{d.SensorMode ?? "—"}</td>
              <td>{antivirus(d)}</td>
              <td>{d.DeviceGroup ?? "—"}</td>
              <td>
                <TagChips tags={d.Tags} />
              </td>
              <td className="ts">{fmt(d.LastSeen)}</td>
            </tr>
          ))}
          {list.page.data && !rows.length && (
            <tr>
              <td colSpan={11} className="muted">
                No devices{filtered ? " match these filters" : " are enrolled"}.
              </td>
            </tr>
          )}
        </tbody>
      </table>
      <ListFoot list={list} />
    </div>
  );
}

/// Real-time protection as the agent last reported it: its mode when on, else off.
function antivirus(d: any): string {
  const av = d.Health?.antivirus;
  if (!av) return "—";
  return av.real_time ? `on (${av.mode})` : "off";
}

const ACTIONS: { type: string; label: string; args?: any; confirm: string }[] = [
  { type: "isolate", label: "Isolate device", args: { mode: "full" }, confirm: "Cut the device off the network (the server stays reachable)." },
  { type: "release", label: "Release from isolation", confirm: "Give the device its network back." },
  { type: "collect", label: "Collect investigation package", confirm: "Gather logs, processes and configuration from the device." },
  { type: "scan", label: "Run antivirus scan", args: { type: "quick" }, confirm: "Run a quick scan on the device." },
];

const TIMELINE_TABLES = ["DeviceProcessEvents", "DeviceNetworkEvents", "DeviceFileEvents", "DeviceLogonEvents", "DeviceEvents"];

function kqlString(s: string) {
  return `"${s.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}

function Timeline({ id }: { id: string }) {
  const fmt = useTime();
  const [table, setTable] = useState("DeviceProcessEvents");
  const [text, setText] = useState("");
  const [rows, setRows] = useState<any[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const load = async (e?: React.FormEvent) => {
    e?.preventDefault();
    setBusy(true);
    setError(null);
    const term = text.trim();
    const from = term ? `search in (${table}) ${kqlString(term)}` : table;
    const q = `${from} | where DeviceId == ${kqlString(id)} | top 200 by Timestamp desc`;
    try {
      const r = await post<any>("/api/v1/hunt", { query: q, max_rows: 200 });
      setRows(r.rows);
    } catch (err: any) {
      setError(err.message);
    } finally {
      setBusy(false);
    }
  };
  useEffect(() => {
    load();
    // The first load; later ones come from the form.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [id]);
  const summary = (r: any) =>
    r.ProcessCommandLine ?? (r.RemoteIP ? `${r.RemoteIP}:${r.RemotePort ?? ""} ${r.RemoteUrl ?? ""}` : null) ?? r.FolderPath ?? r.AccountName ?? "";
  return (
    <Section title="Timeline">
      <form className="inline" onSubmit={load}>
        <select value={table} onChange={(e) => setTable(e.target.value)} aria-label="Table">
          {TIMELINE_TABLES.map((t) => (
            <option key={t}>{t}</option>
          ))}
        </select>
        <input value={text} onChange={(e) => setText(e.target.value)} placeholder="contains a term" name="timeline-term" />
        <button disabled={busy}>{busy ? "Loading…" : "Show events"}</button>
      </form>
      <ErrorBox error={error} />
      {rows && (
        <table className="grid timeline-events">
          <thead>
            <tr>
              <th>Time</th>
              <th>Action</th>
              <th>Process</th>
              <th>Details</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r, i) => (
              <tr key={i}>
                <td className="ts">{fmt(r.Timestamp)}</td>
                <td>{r.ActionType}</td>
                <td>{r.InitiatingProcessFileName ?? r.FileName ?? ""}</td>
                <td className="mono small">{summary(r)}</td>
              </tr>
            ))}
            {!rows.length && (
              <tr>
                <td colSpan={4} className="muted">
                  No events{text.trim() ? " with this term" : ""} in the last 30 days.
                </td>
              </tr>
            )}
          </tbody>
        </table>
      )}
    </Section>
  );
}

export function DevicePage({ id, me }: { id: string; me: Me }) {
  const fmt = useTime();
  const dev = useGet<any>(`/api/v1/devices/${encodeURIComponent(id)}`);
  const alerts = useGet<any>("/api/v1/alerts" + qs({ device: id, limit: 20, offset: 0 }));
  const actions = useGet<any>("/api/v1/actions" + qs({ device: id, limit: 50 }));
  const [pending, setPending] = useState<(typeof ACTIONS)[number] | null>(null);
  const [comment, setComment] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const canRespond = me.Permissions.includes("respond");
  const canLive = me.Permissions.includes("live");
  const [live, setLive] = useState(false);
  if (dev.error) return <ErrorBox error={dev.error} />;
  if (!dev.data) return <div className="muted">Loading…</div>;
  const d = dev.data;
  const run = async () => {
    if (!pending) return;
    setError(null);
    try {
      const a = await post<any>(`/api/v1/devices/${encodeURIComponent(id)}/actions`, {
        type: pending.type,
        args: pending.args,
        comment: comment.trim() || undefined,
      });
      setNotice(`${pending.label}: action ${a.ActionId} is ${a.Status}`);
      setPending(null);
      setComment("");
      actions.reload();
    } catch (e: any) {
      setError(e.message);
    }
  };
  return (
    <div className="page">
      <div className="page-head">
        <h1>{d.DeviceName}</h1>
        <span className={`health health-${String(d.HealthStatus).toLowerCase()}`}>{d.HealthStatus}</span>
        <span className="muted small push">
          Risk <Risk value={d.RiskLevel} /> · Exposure <Exposure level={d.ExposureLevel} reasons={d.ExposureReasons} />
        </span>
      </div>
      <div className="actions-bar">
        {ACTIONS.map((a) => (
          <button key={a.type} disabled={!canRespond} onClick={() => setPending(a)} title={canRespond ? a.confirm : "needs the respond permission"}>
            {a.label}
          </button>
        ))}
        <button disabled={!canLive || live} onClick={() => setLive(true)} title={canLive ? "Open a live-response session on the device" : "needs the live permission"}>
          Live response
        </button>
      </div>
      {live && (
        <LiveConsole
          deviceId={id}
          onClose={() => {
            setLive(false);
            actions.reload();
          }}
        />
      )}
      {pending && (
        <div className="dialog card" role="dialog" aria-label={pending.label}>
          <h2>{pending.label}</h2>
          <p>{pending.confirm}</p>
          <label>
            Comment
            <input value={comment} onChange={(e) => setComment(e.target.value)} placeholder="why (kept in the audit log)" name="action-comment" />
          </label>
          <div className="row">
            <button className="primary" onClick={run}>
              Confirm
            </button>
            <button onClick={() => setPending(null)}>Cancel</button>
          </div>
        </div>
      )}
      {notice && <div className="notice" role="status">{notice}</div>}
      <ErrorBox error={error} />
      <div className="cols">
        <Section title="Overview">
          <Facts
            items={[
              ["Device id", <span className="mono">{d.DeviceId}</span>],
              ["OS", `${d.OSPlatform ?? "—"} ${d.OSVersion ?? ""}`],
              ["Agent version", d.AgentVersion],
              ["Sensor mode", d.SensorMode],
              ["Device group", d.DeviceGroup],
              ["Risk level", <Risk value={d.RiskLevel} />],
              ["Enrolled", fmt(d.Enrolled)],
              ["Last seen", fmt(d.LastSeen)],
              ["Certificate expires", fmt(d.CertificateExpires)],
            ]}
          />
        </Section>
        <Section title="Tags and exposure">
          <TagEditor deviceId={id} tags={d.Tags ?? []} canEdit={me.Permissions.includes("settings")} onSaved={dev.reload} />
          <ExposurePanel level={d.ExposureLevel} reasons={d.ExposureReasons} />
        </Section>
        <Section title="Health">
          {d.Health ? <pre className="json">{JSON.stringify(d.Health, null, 2)}</pre> : <p className="muted">The agent has reported no health details yet.</p>}
        </Section>
      </div>
      <Section
        title={`Alerts${alerts.data ? ` (${alerts.data.total})` : ""}`}
        actions={<Link to={`/alerts?device=${encodeURIComponent(id)}`}>Open in the queue</Link>}
      >
        <ErrorBox error={alerts.error} />
        <table className="grid">
          <tbody>
            {(alerts.data?.items ?? []).map((a: any) => (
              <tr key={a.AlertId}>
                <td>
                  <Severity value={a.Severity} />
                </td>
                <td>
                  <Link to={`/alerts/${a.AlertId}`}>{a.Title}</Link>
                </td>
                <td>
                  <Status value={a.Status} />
                </td>
                <td className="ts">{fmt(a.LastActivity)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </Section>
      <Timeline id={id} />
      <Section title="Action history">
        <ActionsTable
          items={actions.data?.items ?? []}
          showDevice={false}
          canRespond={canRespond}
          onChanged={(m) => {
            setNotice(m);
            actions.reload();
          }}
        />
      </Section>
    </div>
  );
}
