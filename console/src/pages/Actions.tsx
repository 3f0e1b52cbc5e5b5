// The action center: every response action, newest first, filtered by status, type or
// device, with paging. An action waiting for approval (the automation level is "semi") can be
// approved (it is sent) or rejected (it is cancelled); a pending one can be cancelled. The
// server's answer, or its refusal, is shown above the table.
import { useState } from "react";
import { post, qs } from "../api";
import { ErrorBox, Link, Pager, useGet } from "../components/ui";
import { useTime } from "../time";
import type { Me } from "../main";

export const ACTION_STATUSES = ["PendingApproval", "Pending", "InProgress", "Succeeded", "Failed", "Cancelled", "TimedOut"];
const ACTION_TYPES = ["isolate", "release", "collect", "scan", "restrict", "unrestrict", "kill", "quarantine", "restore"];

type Decision = "approve" | "reject" | "cancel";

const DECISIONS: Record<Decision, { label: string; path: string; done: string }> = {
  approve: { label: "Approve", path: "approve", done: "approved" },
  reject: { label: "Reject", path: "cancel", done: "rejected" },
  cancel: { label: "Cancel", path: "cancel", done: "cancelled" },
};

/// The decisions open to an action in `status`.
function decisionsFor(status: string): Decision[] {
  if (status === "PendingApproval") return ["approve", "reject"];
  if (status === "Pending") return ["cancel"];
  return [];
}

/// Response actions as a table. With `canRespond`, open actions get their buttons; a decision
/// asks for an optional comment first, and `onChanged` hears the result.
export function ActionsTable(props: {
  items: any[];
  showDevice: boolean;
  canRespond?: boolean;
  onChanged?: (message: string) => void;
}) {
  const { items, showDevice, canRespond = false } = props;
  const fmt = useTime();
  const [asking, setAsking] = useState<{ action: any; decision: Decision } | null>(null);
  const [comment, setComment] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const decide = async () => {
    if (!asking) return;
    const { action, decision } = asking;
    const d = DECISIONS[decision];
    setBusy(true);
    setError(null);
    try {
      const body = comment.trim() ? { comment: comment.trim() } : {};
      const a = await post<any>(`/api/v1/actions/${encodeURIComponent(action.ActionId)}/${d.path}`, body);
      setAsking(null);
      setComment("");
      props.onChanged?.(`${action.Type} ${action.ActionId} ${d.done}: now ${a.Status}`);
    } catch (e: any) {
      setError(`${d.label} ${action.ActionId}: ${e.message}`);
    } finally {
      setBusy(false);
    }
  };
  const cols = showDevice ? 8 : 7;
  return (
    <>
      {asking && (
        <div className="dialog card" role="dialog" aria-label={`${DECISIONS[asking.decision].label} action`}>
          <h2>
            {DECISIONS[asking.decision].label} {asking.action.Type} on {asking.action.DeviceId}
          </h2>
          <p className="muted small">
            {asking.decision === "approve"
              ? "The action is sent to the device now."
              : "The action is not taken; the device never receives it."}
          </p>
          <label>
            Comment
            <input value={comment} onChange={(e) => setComment(e.target.value)} name="decision-comment" placeholder="why (kept in the audit log)" />
          </label>
          <div className="row">
            <button className="primary" onClick={decide} disabled={busy}>
              {busy ? "Sending…" : `${DECISIONS[asking.decision].label} action`}
            </button>
            <button onClick={() => setAsking(null)} disabled={busy}>
              Back
            </button>
          </div>
        </div>
      )}
      <ErrorBox error={error} />
      <table className="grid actions">
        <thead>
          <tr>
            <th>Action</th>
            {showDevice && <th>Device</th>}
            <th>Status</th>
            <th>Requested by</th>
            <th>Comment</th>
            <th>Created</th>
            <th>Finished</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {items.map((a) => (
            <tr key={a.ActionId} data-action-id={a.ActionId}>
              <td>
                {a.Type}
                <div className="muted small mono">{a.ActionId}</div>
              </td>
              {showDevice && (
                <td>
                  <Link to={`/devices/${encodeURIComponent(a.DeviceId)}`}>{a.DeviceId}</Link>
                </td>
              )}
              <td>
                <span className={`status status-${String(a.Status).toLowerCase()}`}>{a.Status}</span>
                {a.Error && <div className="small error-text">{a.Error}</div>}
              </td>
              <td>{a.RequestedBy}</td>
              <td>{a.Comment || "—"}</td>
              <td className="ts">{fmt(a.Created)}</td>
              <td className="ts">{fmt(a.Finished)}</td>
              <td className="row-actions">
                <div className="row">
                  {decisionsFor(a.Status).map((d) => (
                    <button
                      key={d}
                      className={d === "approve" ? "primary" : d === "reject" ? "danger" : ""}
                      disabled={!canRespond}
                      title={canRespond ? undefined : "needs the respond permission"}
                      onClick={() => {
                        setError(null);
                        setComment("");
                        setAsking({ action: a, decision: d });
                      }}
                    >
                      {DECISIONS[d].label}
                    </button>
                  ))}
                </div>
              </td>
            </tr>
          ))}
          {!items.length && (
            <tr>
              <td colSpan={cols} className="muted">
                No actions.
              </td>
            </tr>
          )}
        </tbody>
      </table>
    </>
  );
}

export function ActionCenter({ me }: { me: Me }) {
  const [status, setStatus] = useState("");
  const [type, setType] = useState("");
  const [offset, setOffset] = useState(0);
  const [notice, setNotice] = useState<string | null>(null);
  const limit = 50;
  const list = useGet<any>("/api/v1/actions" + qs({ status, type, limit, offset }));
  const waiting = useGet<any>("/api/v1/actions" + qs({ status: "PendingApproval", limit: 1 }));
  const reload = () => {
    list.reload();
    waiting.reload();
  };
  const awaiting = waiting.data?.total ?? 0;
  return (
    <div className="page">
      <div className="page-head">
        <h1>Action center</h1>
        <button onClick={reload}>Refresh</button>
      </div>
      {awaiting > 0 && status !== "PendingApproval" && (
        <div className="notice warn">
          {awaiting} action{awaiting === 1 ? " waits" : "s wait"} for approval.{" "}
          <button className="link" onClick={() => { setStatus("PendingApproval"); setOffset(0); }}>
            Show {awaiting === 1 ? "it" : "them"}
          </button>
        </div>
      )}
      <div className="filters card">
        <label>
          Status
          <select name="status" value={status} onChange={(e) => { setStatus(e.target.value); setOffset(0); }}>
            <option value="">Any</option>
            {ACTION_STATUSES.map((s) => (
              <option key={s}>{s}</option>
            ))}
          </select>
        </label>
        <label>
          Type
          <select name="type" value={type} onChange={(e) => { setType(e.target.value); setOffset(0); }}>
            <option value="">Any</option>
            {ACTION_TYPES.map((s) => (
              <option key={s}>{s}</option>
            ))}
          </select>
        </label>
      </div>
      {notice && (
        <div className="notice" role="status">
          {notice}
        </div>
      )}
      <ErrorBox error={list.error} />
      <ActionsTable
        items={list.data?.items ?? []}
        showDevice
        canRespond={me.Permissions.includes("respond")}
        onChanged={(m) => {
          setNotice(m);
          reload();
        }}
      />
      {list.data && <Pager total={list.data.total} limit={limit} offset={offset} onChange={setOffset} />}
    </div>
  );
}
