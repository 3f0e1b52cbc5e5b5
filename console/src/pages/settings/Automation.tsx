// Server-wide settings: the automation level (what happens to the automatic response actions
// of custom detections: sent at once, held for approval in the action center, or only
// recommended) and the telemetry retention in days (0 keeps it forever).
//
// Both sections read `GET /api/v1/settings` once and save with `PATCH /api/v1/settings`
// naming only their own field; the server's answer replaces what is shown, so after a save
// the page shows what the server keeps (and who changed it, when). A refused change shows the
// server's reason and keeps the user's input for correcting.
import { useEffect, useState } from "react";
import { patch } from "../../api";
import { ErrorBox, Section, useGet } from "../../components/ui";
import { useTime } from "../../time";

export interface ServerSettings {
  automation_level: string;
  retention_days: number;
  updated: string | null;
  updated_by: string | null;
  automation_levels: { level: string; description: string }[];
}

const LEVEL_NAMES: Record<string, string> = {
  full: "Full — remediate automatically",
  semi: "Semi — require approval",
  none: "None — recommend only",
};

/// Who last changed the settings, and when.
function Changed({ s }: { s: ServerSettings }) {
  const fmt = useTime();
  if (!s.updated) return <p className="muted small">Never changed: these are the defaults.</p>;
  return (
    <p className="muted small" data-testid="settings-changed">
      Last changed by <strong>{s.updated_by ?? "unknown"}</strong> at <span className="ts">{fmt(s.updated)}</span>.
    </p>
  );
}

/// Save `change`; the settings the server answers, or the error to show.
async function save(change: Partial<Pick<ServerSettings, "automation_level" | "retention_days">>): Promise<[ServerSettings | null, string | null]> {
  try {
    return [await patch<ServerSettings>("/api/v1/settings", change), null];
  } catch (e: any) {
    return [null, e.message];
  }
}

function Automation({ s, canEdit, onSaved }: { s: ServerSettings; canEdit: boolean; onSaved: (s: ServerSettings) => void }) {
  const [level, setLevel] = useState(s.automation_level);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  useEffect(() => setLevel(s.automation_level), [s.automation_level]);
  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setNotice(null);
    const [next, err] = await save({ automation_level: level });
    setBusy(false);
    setError(err);
    if (next) {
      onSaved(next);
      setNotice(`Automation level set to ${next.automation_level}`);
    }
  };
  return (
    <Section title="Automation">
      <p>What happens to the automatic response actions of custom detections.</p>
      <form onSubmit={submit} className="stack">
        <div className="levels" role="radiogroup" aria-label="Automation level">
          {s.automation_levels.map((l) => (
            <label key={l.level} className={`level ${level === l.level ? "chosen" : ""}`}>
              <span className="check">
                <input type="radio" name="automation-level" value={l.level} checked={level === l.level} disabled={!canEdit} onChange={() => setLevel(l.level)} />
                <strong>{LEVEL_NAMES[l.level] ?? l.level}</strong>
                {l.level === s.automation_level && <span className="tag">current</span>}
              </span>
              <span className="small">{l.description}</span>
            </label>
          ))}
        </div>
        <div className="row">
          <button className="primary" disabled={!canEdit || busy || level === s.automation_level}>
            {busy ? "Saving…" : "Save automation level"}
          </button>
          {!canEdit && <span className="muted small">Changing it needs the settings permission.</span>}
        </div>
      </form>
      {notice && (
        <div className="notice" role="status">
          {notice}
        </div>
      )}
      <ErrorBox error={error} />
      <Changed s={s} />
    </Section>
  );
}

function Retention({ s, canEdit, onSaved }: { s: ServerSettings; canEdit: boolean; onSaved: (s: ServerSettings) => void }) {
  const [days, setDays] = useState(String(s.retention_days));
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  useEffect(() => setDays(String(s.retention_days)), [s.retention_days]);
  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    setNotice(null);
    const text = days.trim();
    // Only the shape is checked here (a whole number); the server judges the value.
    if (!/^-?\d+$/.test(text)) {
      setError(`retention_days must be a whole number of days (0 keeps data forever), not ${JSON.stringify(text)}`);
      return;
    }
    setBusy(true);
    const [next, err] = await save({ retention_days: Number(text) });
    setBusy(false);
    setError(err);
    if (next) {
      onSaved(next);
      setNotice(next.retention_days === 0 ? "Data is kept forever" : `Data is kept for ${next.retention_days} days`);
    }
  };
  return (
    <Section title="Data retention">
      <p>
        How long the server keeps telemetry (the events hunting and timelines read). Currently:{" "}
        <strong data-testid="retention-current">{s.retention_days === 0 ? "forever" : `${s.retention_days} days`}</strong>.
      </p>
      <form className="inline" onSubmit={submit}>
        <label>
          Days (0 = keep forever)
          <input name="retention-days" inputMode="numeric" value={days} onChange={(e) => setDays(e.target.value)} disabled={!canEdit} size={8} />
        </label>
        <button className="primary" disabled={!canEdit || busy || days.trim() === String(s.retention_days)}>
          {busy ? "Saving…" : "Save retention"}
        </button>
      </form>
      {notice && (
        <div className="notice" role="status">
          {notice}
        </div>
      )}
      <ErrorBox error={error} />
    </Section>
  );
}

/// The automation and retention sections, on one load of the settings.
export function ServerSettingsSections({ canEdit }: { canEdit: boolean }) {
  const loaded = useGet<ServerSettings>("/api/v1/settings");
  const [current, setCurrent] = useState<ServerSettings | null>(null);
  const s = current ?? loaded.data;
  if (loaded.error && !s) return <ErrorBox error={`the server settings could not be read: ${loaded.error}`} />;
  if (!s) return <div className="card muted">Loading the server settings…</div>;
  return (
    <>
      <Automation s={s} canEdit={canEdit} onSaved={setCurrent} />
      <Retention s={s} canEdit={canEdit} onSaved={setCurrent} />
    </>
  );
}
