// The live-response console of a device page: opens a session on the device, reads command
// lines ("fileinfo /etc/passwd", "run collect.sh -v"), sends each as a live-response command
// and shows what the agent answered (result, error, collected files to download). The server
// checks every command and its arguments; this only splits the line.
import { useEffect, useRef, useState } from "react";
import { del, enc, post } from "../api";
import { ErrorBox } from "./ui";

/// The commands and how their words become arguments.
const USAGE: [string, string][] = [
  ["processes", "running processes"],
  ["connections", "open network connections"],
  ["persistence", "cron, systemd, profile, authorized_keys and preload entries"],
  ["fileinfo <path>", "a file's metadata and hashes"],
  ["findfile <name-or-glob> [root]", "files by name under root (default /)"],
  ["getfile <path>", "bring a file back (download it from the answer)"],
  ["putfile <library-file> <path> [overwrite]", "put a library file on the device"],
  ["run <library-script> [args...]", "run a library script, output bounded"],
  ["analyze <path>", "scan a file with the antivirus engine"],
  ["remediate <path>", "quarantine a file and its persistence"],
];

/// Words of a command line; single or double quotes keep spaces.
export function words(line: string): string[] {
  const out: string[] = [];
  const re = /"([^"]*)"|'([^']*)'|(\S+)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(line))) out.push(m[1] ?? m[2] ?? m[3]);
  return out;
}

/// The command and its arguments object; unknown commands go to the server as they are, so
/// that its answer names the known ones.
export function parse(line: string): { command: string; args: Record<string, unknown> } {
  const [command = "", ...rest] = words(line.trim());
  const [a, b] = rest;
  switch (command) {
    case "fileinfo":
    case "analyze":
    case "remediate":
    case "getfile":
      return { command, args: a === undefined ? {} : { path: a } };
    case "findfile":
      return { command, args: { ...(a !== undefined && { name: a }), ...(b !== undefined && { root: b }) } };
    case "putfile":
      return {
        command,
        args: { ...(a !== undefined && { file: a }), ...(b !== undefined && { path: b }), overwrite: rest[2] === "overwrite" },
      };
    case "run":
      return { command, args: { ...(a !== undefined && { script: a }), args: rest.slice(1) } };
    default:
      return { command, args: {} };
  }
}

interface Entry {
  line: string;
  action?: any;
  error?: string;
  help?: boolean;
}

export function LiveConsole({ deviceId, onClose }: { deviceId: string; onClose: () => void }) {
  const [session, setSession] = useState<any>(null);
  const [error, setError] = useState<string | null>(null);
  const [line, setLine] = useState("");
  const [busy, setBusy] = useState(false);
  const [log, setLog] = useState<Entry[]>([]);
  const input = useRef<HTMLInputElement>(null);

  useEffect(() => {
    let open: string | null = null;
    post<any>(`/api/v1/devices/${enc(deviceId)}/live`)
      .then((s) => {
        open = s.SessionId;
        setSession(s);
      })
      .catch((e) => setError(e.message));
    return () => {
      if (open) del(`/api/v1/live/${enc(open)}`).catch(() => {});
    };
  }, [deviceId]);

  useEffect(() => input.current?.focus(), [session]);

  const send = async (e: React.FormEvent) => {
    e.preventDefault();
    const text = line.trim();
    if (!text || !session) return;
    setLine("");
    if (text === "help") {
      setLog((l) => [...l, { line: text, help: true }]);
      return;
    }
    setBusy(true);
    const { command, args } = parse(text);
    try {
      const a = await post<any>(`/api/v1/live/${enc(session.SessionId)}/commands`, { command, args, wait_seconds: 30 });
      setLog((l) => [...l, { line: text, action: a }]);
    } catch (err: any) {
      setLog((l) => [...l, { line: text, error: err.message }]);
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="card live-console" role="region" aria-label="Live response">
      <div className="card-head">
        <strong>Live response</strong>
        <span className="muted small mono">{session ? `${session.SessionId}${session.DeviceConnected ? "" : " (device offline: commands wait for it)"}` : "opening a session…"}</span>
        <button onClick={onClose}>Close session</button>
      </div>
      <ErrorBox error={error} />
      <div className="live-log">
        {log.map((entry, i) => (
          <div key={i} className="live-entry">
            <div className="mono">
              <span className="muted">$</span> {entry.line}
            </div>
            {entry.help && (
              <table className="grid small">
                <tbody>
                  {USAGE.map(([u, what]) => (
                    <tr key={u}>
                      <td className="mono">{u}</td>
                      <td>{what}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
            {entry.error && <div className="error-text small">{entry.error}</div>}
            {entry.action && <Answer a={entry.action} />}
          </div>
        ))}
      </div>
      <form className="inline" onSubmit={send}>
        <input
          ref={input}
          className="mono"
          name="live-command"
          value={line}
          disabled={!session || busy}
          onChange={(e) => setLine(e.target.value)}
          placeholder={busy ? "waiting for the device…" : "a command (help lists them)"}
        />
        <button disabled={!session || busy}>Run</button>
      </form>
    </div>
  );
}

function Answer({ a }: { a: any }) {
  return (
    <div className="live-answer">
      <span className={`status status-${String(a.Status).toLowerCase()}`}>{a.Status}</span>
      {a.Error && <span className="error-text small"> {a.Error}</span>}
      {(a.Files ?? []).map((f: any) => (
        <a key={f.FileId} className="small" href={`/api/v1/action-files/${enc(f.FileId)}`} download={f.Name}>
          {" "}
          download {f.Name} ({f.Size} bytes)
        </a>
      ))}
      {a.Result != null && <pre className="json">{JSON.stringify(a.Result, null, 2)}</pre>}
    </div>
  );
}
