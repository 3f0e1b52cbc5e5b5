// The triage form shared by the alert page, the incident page and the queue's bulk bar:
// status, classification, determination (the ones that fit the classification), assignee,
// comment. Only the fields the analyst set are sent.
import { useState } from "react";

export const STATUSES = ["New", "InProgress", "Resolved"];
export const CLASSIFICATIONS: Record<string, string[]> = {
  TruePositive: ["MultiStagedAttack", "MaliciousUserActivity", "CompromisedAccount", "Malware", "Phishing", "UnwantedSoftware", "Other"],
  InformationalExpectedActivity: ["SecurityTesting", "LineOfBusinessApplication", "ConfirmedActivity", "Other"],
  FalsePositive: ["NotMalicious", "NotEnoughDataToValidate", "Other"],
};

export interface TriageChange {
  status?: string;
  classification?: string;
  determination?: string;
  assignee?: string;
  comment?: string;
}

export function TriageForm(props: {
  initial?: { Status?: string; Classification?: string | null; Determination?: string | null; AssignedTo?: string | null };
  submitLabel: string;
  busy?: boolean;
  onSubmit: (c: TriageChange) => void;
  compact?: boolean;
}) {
  const i = props.initial ?? {};
  const [status, setStatus] = useState(i.Status ?? "");
  const [classification, setClassification] = useState(i.Classification ?? "");
  const [determination, setDetermination] = useState(i.Determination ?? "");
  const [assignee, setAssignee] = useState(i.AssignedTo ?? "");
  const [comment, setComment] = useState("");
  const submit = (e: React.FormEvent) => {
    e.preventDefault();
    const c: TriageChange = {};
    if (status && status !== (i.Status ?? "")) c.status = status;
    if (classification && classification !== (i.Classification ?? "")) c.classification = classification;
    if (determination && determination !== (i.Determination ?? "")) c.determination = determination;
    if (assignee !== (i.AssignedTo ?? "") && assignee.trim()) c.assignee = assignee.trim();
    if (comment.trim()) c.comment = comment.trim();
    props.onSubmit(c);
  };
  return (
    <form className={props.compact ? "triage compact" : "triage"} onSubmit={submit}>
      <label>
        Status
        <select name="status" value={status} onChange={(e) => setStatus(e.target.value)}>
          <option value="">(unchanged)</option>
          {STATUSES.map((s) => (
            <option key={s}>{s}</option>
          ))}
        </select>
      </label>
      <label>
        Classification
        <select
          name="classification"
          value={classification}
          onChange={(e) => {
            setClassification(e.target.value);
            setDetermination("");
          }}
        >
          <option value="">(unchanged)</option>
          {Object.keys(CLASSIFICATIONS).map((c) => (
            <option key={c}>{c}</option>
          ))}
        </select>
      </label>
      <label>
        Determination
        <select name="determination" value={determination} onChange={(e) => setDetermination(e.target.value)} disabled={!classification}>
          <option value="">(unchanged)</option>
          {(CLASSIFICATIONS[classification] ?? []).map((d) => (
            <option key={d}>{d}</option>
          ))}
        </select>
      </label>
      <label>
        Assigned to
        <input name="assignee" value={assignee} onChange={(e) => setAssignee(e.target.value)} placeholder="user name" />
      </label>
      {!props.compact && (
        <label className="wide">
          Comment
          <textarea name="comment" rows={2} value={comment} onChange={(e) => setComment(e.target.value)} />
        </label>
      )}
      <button type="submit" className="primary" disabled={props.busy}>
        {props.submitLabel}
      </button>
    </form>
  );
}
