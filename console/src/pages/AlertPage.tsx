// One alert: what fired where, the process story and the evidence, triage (status,
// classification, determination, assignee, comment), comments and the change history.
import { useState } from "react";
import { patch, post } from "../api";
import { ErrorBox, Facts, Link, Section, Severity, Status, useGet } from "../components/ui";
import { TriageForm, type TriageChange } from "../components/triage";
import { ProcessTree } from "../components/ProcessTree";
import { useTime } from "../time";

function entityLink(e: any) {
  if (e.entity === "Ip" && e.Address) return <Link to={`/ips/${encodeURIComponent(e.Address)}`}>{e.Address}</Link>;
  if (e.SHA256) return <Link to={`/files/${e.SHA256}`}>{e.SHA256}</Link>;
  if (e.entity === "Device") return <Link to={`/devices/${encodeURIComponent(e.DeviceId)}`}>{e.DeviceName ?? e.DeviceId}</Link>;
  if (e.entity === "Url" && e.Url) {
    let host = "";
    try {
      host = new URL(e.Url).hostname;
    } catch {
      /* not a URL with a host */
    }
    return host ? <Link to={`/domains/${encodeURIComponent(host)}`}>{e.Url}</Link> : <span>{e.Url}</span>;
  }
  return null;
}

export function AlertPage({ id }: { id: string }) {
  const fmt = useTime();
  const a = useGet<any>(`/api/v1/alerts/${encodeURIComponent(id)}`);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [saved, setSaved] = useState<string | null>(null);
  const [comment, setComment] = useState("");
  if (a.error) return <ErrorBox error={a.error} />;
  if (!a.data) return <div className="muted">Loading…</div>;
  const al = a.data;
  const evidence: any[] = Array.isArray(al.Evidence) ? al.Evidence : [];
  const triage = async (c: TriageChange) => {
    if (!Object.keys(c).length) {
      setError("nothing changed: choose a new status, classification, determination or assignee");
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await patch(`/api/v1/alerts/${encodeURIComponent(id)}`, c);
      setSaved("Saved");
      a.reload();
    } catch (e: any) {
      setError(e.message);
    } finally {
      setBusy(false);
    }
  };
  const addComment = async (e: React.FormEvent) => {
    e.preventDefault();
    try {
      await post(`/api/v1/alerts/${encodeURIComponent(id)}/comments`, { comment });
      setComment("");
      a.reload();
    } catch (err: any) {
      setError(err.message);
    }
  };
  const keys = (e: any) => Object.keys(e).filter((k) => !["entity", "role"].includes(k) && e[k] !== null && e[k] !== "");
  return (
    <div className="page">
      <div className="page-head">
        <h1>
          <Severity value={al.Severity} /> {al.Title}
        </h1>
        <Status value={al.Status} />
      </div>
      <div className="cols">
        <Section title="Overview">
          <Facts
            items={[
              ["Alert id", <span className="mono">{al.AlertId}</span>],
              ["Device", <Link to={`/devices/${encodeURIComponent(al.DeviceId)}`}>{evidence.find((e) => e.entity === "Device")?.DeviceName ?? al.DeviceId}</Link>],
              ["Category", al.Category],
              ["Techniques", (al.AttackTechniques ?? []).join(", ")],
              ["Detection source", al.DetectionSource],
              ["Rule", <span className="mono">{al.RuleId}</span>],
              ["First activity", fmt(al.FirstActivity)],
              ["Last activity", fmt(al.LastActivity)],
              ["Hits", al.Hits],
              ["Incident", al.IncidentId ? <Link to={`/incidents/${al.IncidentId}`}>{al.IncidentId}</Link> : null],
              ["Classification", al.Classification],
              ["Determination", al.Determination],
              ["Assigned to", al.AssignedTo],
            ]}
          />
        </Section>
        <Section title="Manage alert">
          <TriageForm key={al.LastUpdated} initial={al} submitLabel="Save" busy={busy} onSubmit={triage} />
          {saved && !error && <div className="notice">{saved}</div>}
          <ErrorBox error={error} />
        </Section>
      </div>
      <Section title="Process tree">
        <ProcessTree evidence={evidence} />
      </Section>
      <Section title="Evidence">
        <table className="grid">
          <thead>
            <tr>
              <th>Entity</th>
              <th>Role</th>
              <th>Details</th>
              <th>Open</th>
            </tr>
          </thead>
          <tbody>
            {evidence.map((e, i) => (
              <tr key={i}>
                <td>{e.entity}</td>
                <td>{e.role}</td>
                <td className="small">
                  {keys(e).map((k) => (
                    <div key={k}>
                      <span className="muted">{k}</span> <span className="mono">{String(e[k])}</span>
                    </div>
                  ))}
                </td>
                <td>{entityLink(e)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </Section>
      <div className="cols">
        <Section title="Comments">
          {(al.Comments ?? []).map((c: any, i: number) => (
            <div key={i} className="comment">
              <div className="muted small">
                {c.Author} · {fmt(c.Created)}
              </div>
              <div>{c.Comment}</div>
            </div>
          ))}
          <form onSubmit={addComment} className="inline">
            <input value={comment} onChange={(e) => setComment(e.target.value)} placeholder="Add a comment" name="new-comment" />
            <button disabled={!comment.trim()}>Comment</button>
          </form>
        </Section>
        <Section title="History">
          <table className="grid">
            <tbody>
              {(al.History ?? []).map((h: any, i: number) => (
                <tr key={i}>
                  <td className="ts">{fmt(h.Time)}</td>
                  <td>{h.Actor}</td>
                  <td>
                    {h.Field}: {h.OldValue ?? "—"} → {h.NewValue ?? "—"}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </Section>
      </div>
    </div>
  );
}
