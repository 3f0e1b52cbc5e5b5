// Incidents: the list (paged, sorted, searched and filtered by status on the server, its
// state in the address) and an incident page with its alerts, entities
// (as a small graph around the incident), a timeline of its alerts and triage.
import { useState } from "react";
import { patch } from "../api";
import { ErrorBox, Facts, Link, Section, Severity, Status, useGet } from "../components/ui";
import { FilterSelect, ListFoot, SearchBox, sortHeaders, useServerList } from "../components/list";
import { TriageForm, type TriageChange } from "../components/triage";
import { useTime } from "../time";

const INCIDENT_COLUMNS: [string, string][] = [
  ["Severity", "Severity"],
  ["Title", "Incident"],
  ["AlertCount", "Alerts"],
];

export function Incidents() {
  const fmt = useTime();
  const list = useServerList<any>("/api/v1/incidents", {
    sort: "LastActivity",
    order: "desc",
    filters: ["status"],
    inUrl: true,
    ascFirst: ["Title", "AssignedTo", "Status"],
  });
  const rows = list.page.data?.items ?? [];
  return (
    <div className="page">
      <div className="page-head">
        <h1>Incidents</h1>
        {list.page.loading && <span className="muted">Loading…</span>}
      </div>
      <div className="filters card">
        <SearchBox list={list} name="incident-search" placeholder="title, id, device, technique…" />
        <FilterSelect list={list} name="status" label="Status" options={["New", "InProgress", "Resolved"]} />
      </div>
      <ErrorBox error={list.page.error} />
      <table className="grid incidents">
        <thead>
          <tr>
            {sortHeaders(list, INCIDENT_COLUMNS)}
            <th>Devices</th>
            <th>Techniques</th>
            {sortHeaders(list, [
              ["Status", "Status"],
              ["AssignedTo", "Assigned to"],
              ["LastActivity", "Last activity"],
            ])}
          </tr>
        </thead>
        <tbody>
          {rows.map((i) => (
            <tr key={i.IncidentId}>
              <td>
                <Severity value={i.Severity} />
              </td>
              <td>
                <Link to={`/incidents/${i.IncidentId}`}>{i.Title}</Link>
              </td>
              <td className="num">{i.AlertCount}</td>
              <td>{(i.Devices ?? []).length}</td>
              <td className="small">{(i.AttackTechniques ?? []).join(", ")}</td>
              <td>
                <Status value={i.Status} />
              </td>
              <td>{i.AssignedTo ?? "—"}</td>
              <td className="ts">{fmt(i.LastActivity)}</td>
            </tr>
          ))}
          {list.page.data && !rows.length && (
            <tr>
              <td colSpan={8} className="muted">
                No incidents{list.filter("q") || list.filter("status") ? " match these filters" : ""}.
              </td>
            </tr>
          )}
        </tbody>
      </table>
      <ListFoot list={list} />
    </div>
  );
}

function EntityGraph({ title, entities }: { title: string; entities: { Kind: string; Value: string }[] }) {
  const shown = entities.slice(0, 16);
  const W = 640, H = 300, cx = W / 2, cy = H / 2, r = 115;
  return (
    <svg viewBox={`0 0 ${W} ${H}`} className="graph" role="img" aria-label="entity graph">
      {shown.map((e, i) => {
        const a = (i / Math.max(1, shown.length)) * Math.PI * 2 - Math.PI / 2;
        const x = cx + Math.cos(a) * r * 2.1, y = cy + Math.sin(a) * r;
        return (
          <g key={i}>
            <line x1={cx} y1={cy} x2={x} y2={y} stroke="#d0d7de" />
            <circle cx={x} cy={y} r={6} fill="#1f6feb" />
            <text x={x} y={y - 10} textAnchor="middle" fontSize="11" fill="#24292f">
              {`${e.Kind}: ${e.Value.length > 22 ? e.Value.slice(0, 21) + "…" : e.Value}`}
            </text>
          </g>
        );
      })}
      <circle cx={cx} cy={cy} r={10} fill="#d1242f" />
      <text x={cx} y={cy + 26} textAnchor="middle" fontSize="12" fontWeight="bold" fill="#24292f">
        {title.length > 40 ? title.slice(0, 39) + "…" : title}
      </text>
    </svg>
  );
}

export function IncidentPage({ id }: { id: string }) {
  const fmt = useTime();
  const inc = useGet<any>(`/api/v1/incidents/${encodeURIComponent(id)}`);
  const [error, setError] = useState<string | null>(null);
  if (inc.error) return <ErrorBox error={inc.error} />;
  if (!inc.data) return <div className="muted">Loading…</div>;
  const i = inc.data;
  const triage = async (c: TriageChange) => {
    setError(null);
    try {
      await patch(`/api/v1/incidents/${encodeURIComponent(id)}`, c);
      inc.reload();
    } catch (e: any) {
      setError(e.message);
    }
  };
  const all: any[] = i.Alerts ?? [];
  // The API answers every alert of the incident; the timeline shows the first 200.
  const timeline = [...all].sort((a: any, b: any) => Date.parse(a.FirstActivity) - Date.parse(b.FirstActivity)).slice(0, 200);
  return (
    <div className="page">
      <div className="page-head">
        <h1>
          <Severity value={i.Severity} /> {i.Title}
        </h1>
        <Status value={i.Status} />
      </div>
      <div className="cols">
        <Section title="Overview">
          <Facts
            items={[
              ["Incident id", <span className="mono">{i.IncidentId}</span>],
              ["Alerts", <Link to={`/alerts?incident=${i.IncidentId}`}>{i.AlertCount}</Link>],
              ["Devices", (i.Devices ?? []).map((d: string) => <div key={d}><Link to={`/devices/${encodeURIComponent(d)}`}>{d}</Link></div>)],
              ["Tactics", (i.Tactics ?? []).join(", ")],
              ["Techniques", (i.AttackTechniques ?? []).join(", ")],
              ["First activity", fmt(i.FirstActivity)],
              ["Last activity", fmt(i.LastActivity)],
              ["Classification", i.Classification],
              ["Assigned to", i.AssignedTo],
            ]}
          />
        </Section>
        <Section title="Manage incident">
          <TriageForm key={i.LastUpdated} initial={i} submitLabel="Save" onSubmit={triage} />
          <ErrorBox error={error} />
        </Section>
      </div>
      <Section title="Entities">
        <EntityGraph title={i.Title} entities={i.Entities ?? []} />
      </Section>
      <Section title={all.length > timeline.length ? `Timeline (first ${timeline.length} of ${all.length} alerts)` : "Timeline"}>
        <ol className="timeline">
          {timeline.map((a: any) => (
            <li key={a.AlertId}>
              <span className="ts">{fmt(a.FirstActivity)}</span> <Severity value={a.Severity} />{" "}
              <Link to={`/alerts/${a.AlertId}`}>{a.Title}</Link> <span className="muted">on {a.DeviceId}</span>
            </li>
          ))}
        </ol>
      </Section>
    </div>
  );
}
