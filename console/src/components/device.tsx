// What the inventory and the device page both show of a device: its risk level (the highest
// severity of its unresolved alerts), its exposure level with the failed security checks
// behind it, and its tags, with an editor that adds and removes tags through
// `PATCH /api/v1/devices/{id} {"tags": [...]}` (the server's answer is what is shown next).
import { useEffect, useState } from "react";
import { get, patch, qs } from "../api";
import { ErrorBox, Link } from "./ui";

export const RISK_LEVELS = ["High", "Medium", "Low", "Informational", "None"];
export const EXPOSURE_LEVELS = ["High", "Medium", "Low", "Unknown"];
export const HEALTH_STATES = ["Active", "Impaired", "Inactive", "Revoked"];

export function Risk({ value }: { value: string | null | undefined }) {
  const v = value || "None";
  return <span className={`sev sev-${v.toLowerCase()}`}>{v}</span>;
}

/// The exposure level; the reasons are its tooltip (and listed on the device page).
export function Exposure({ level, reasons }: { level: string | null | undefined; reasons?: string[] | null }) {
  if (!level) return <span className="muted">—</span>;
  const why = reasons?.length ? reasons.join("\n") : "every security check passed";
  return (
    <span className={`exposure exposure-${level.toLowerCase()}`} title={why}>
      {level}
      {reasons?.length ? <span className="muted small"> · {reasons.length}</span> : null}
    </span>
  );
}

/// Tags as chips that lead to the inventory filtered by the tag.
export function TagChips({ tags }: { tags: string[] | null | undefined }) {
  if (!tags?.length) return <span className="muted">—</span>;
  return (
    <span className="chips">
      {tags.map((t) => (
        <Link key={t} to={`/devices?tag=${encodeURIComponent(t)}`} className="chip tag-chip" title={`Devices tagged ${t}`}>
          {t}
        </Link>
      ))}
    </span>
  );
}

/// The device's tags, editable with the settings permission.
export function TagEditor(props: { deviceId: string; tags: string[]; canEdit: boolean; onSaved: (device: any) => void }) {
  const [text, setText] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const save = async (tags: string[]) => {
    setBusy(true);
    setError(null);
    try {
      const d = await patch<any>(`/api/v1/devices/${encodeURIComponent(props.deviceId)}`, { tags });
      props.onSaved(d);
      return true;
    } catch (e: any) {
      setError(e.message);
      return false;
    } finally {
      setBusy(false);
    }
  };
  const add = async (e: React.FormEvent) => {
    e.preventDefault();
    const t = text.trim();
    if (!t) return;
    if (props.tags.includes(t)) {
      setError(`the device already has the tag ${t}`);
      return;
    }
    if (await save([...props.tags, t])) setText("");
  };
  return (
    <div className="tag-editor">
      <div className="chips" aria-label="Tags">
        {props.tags.map((t) => (
          <span key={t} className="chip" data-tag={t}>
            <Link to={`/devices?tag=${encodeURIComponent(t)}`} title={`Devices tagged ${t}`}>
              {t}
            </Link>
            {props.canEdit && (
              <button className="link" aria-label={`Remove tag ${t}`} disabled={busy} onClick={() => save(props.tags.filter((x) => x !== t))}>
                ✕
              </button>
            )}
          </span>
        ))}
        {!props.tags.length && <span className="muted">No tags.</span>}
      </div>
      {props.canEdit ? (
        <form className="inline" onSubmit={add}>
          <input
            name="new-tag"
            value={text}
            onChange={(e) => setText(e.target.value)}
            placeholder="new tag"
            size={18}
            title="1 to 64 letters, digits, spaces and _ . : / -"
          />
          <button disabled={busy || !text.trim()}>Add tag</button>
        </form>
      ) : (
        <p className="muted small">Changing tags needs the settings permission.</p>
      )}
      <ErrorBox error={error} />
    </div>
  );
}

/// The exposure level and each failed check.
export function ExposurePanel({ level, reasons }: { level: string | null | undefined; reasons: string[] | null | undefined }) {
  return (
    <div className="exposure-panel">
      <p>
        Exposure level <Exposure level={level} />
      </p>
      {reasons?.length ? (
        <ul className="reasons">
          {reasons.map((r) => (
            <li key={r}>{r}</li>
          ))}
        </ul>
      ) : (
        <p className="muted">{level ? "Every security check the agent reports passed." : "The agent has reported no security state yet."}</p>
      )}
    </div>
  );
}

/// The name of an alert's device, from its evidence (the Device entity the detection
/// recorded); its id when the evidence has none.
export function alertDeviceName(a: any): string {
  const ev = Array.isArray(a?.Evidence) ? a.Evidence : [];
  return ev.find((e: any) => e?.entity === "Device" && e.DeviceName)?.DeviceName ?? a?.DeviceId ?? "";
}

/// Devices whose name or id contains `term`, searched on the server (at most `limit`): a
/// page never loads the whole fleet to offer a choice.
export function useDeviceSearch(term: string, limit = 20): any[] {
  const [found, setFound] = useState<any[]>([]);
  useEffect(() => {
    const t = term.trim();
    if (!t) {
      setFound([]);
      return;
    }
    let live = true;
    const timer = setTimeout(() => {
      get<any>("/api/v1/devices" + qs({ q: t, limit }))
        .then((page) => live && setFound(page.items ?? []))
        .catch(() => live && setFound([]));
    }, 150);
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [term, limit]);
  return found;
}

/// A device filter: type part of a name or id, pick from the server's matches; `value` is the
/// chosen DeviceId ("" for any device).
export function DevicePicker({ value, onChange }: { value: string; onChange: (id: string) => void }) {
  const [term, setTerm] = useState(value);
  const found = useDeviceSearch(term);
  // The filter follows the text once the server's matches name it exactly; cleared, any.
  useEffect(() => {
    const t = term.trim();
    const id = t ? found.find((x) => x.DeviceName === t || x.DeviceId === t)?.DeviceId : "";
    if (id !== undefined && id !== value) onChange(id);
  }, [term, found, value, onChange]);
  return (
    <>
      <input
        name="device"
        list="device-choices"
        value={term}
        placeholder="any"
        size={14}
        onChange={(e) => setTerm(e.target.value)}
      />
      <datalist id="device-choices">
        {found.map((d) => (
          <option key={d.DeviceId} value={d.DeviceName}>
            {d.DeviceId}
          </option>
        ))}
      </datalist>
    </>
  );
}
