// The process story of an alert from its evidence: the parent (initiating) process, the
// process it started, and what that process touched (files, addresses, URLs, the user).
import { Link } from "./ui";

interface Ev {
  entity: string;
  role: string;
  [k: string]: any;
}

function Proc({ p, label }: { p: Ev; label: string }) {
  return (
    <div className="proc">
      <div className="proc-head">
        <span className="tag">{label}</span> <strong>{p.FileName ?? "(unknown image)"}</strong>
        {p.ProcessId != null && <span className="muted"> · pid {p.ProcessId}</span>}
      </div>
      {p.FolderPath && <div className="mono small">{p.FolderPath}</div>}
      {p.ProcessCommandLine && <div className="mono cmd">{p.ProcessCommandLine}</div>}
      {p.SHA256 && (
        <div className="small">
          SHA-256 <Link to={`/files/${p.SHA256}`}>{p.SHA256}</Link>
        </div>
      )}
    </div>
  );
}

export function ProcessTree({ evidence }: { evidence: Ev[] }) {
  const parent = evidence.find((e) => e.entity === "Process" && e.role === "Parent");
  const child = evidence.find((e) => e.entity === "Process" && e.role === "Related");
  const actor = evidence.find((e) => e.entity === "Process" && e.role === "Actor");
  const leaves = evidence.filter((e) => ["File", "Ip", "Url", "User"].includes(e.entity));
  if (!parent && !child && !actor) return <p className="muted">The evidence holds no process.</p>;
  const top = parent ?? actor!;
  return (
    <ul className="tree">
      <li>
        <Proc p={top} label={parent ? "Parent" : "Process"} />
        <ul>
          {child && (
            <li>
              <Proc p={child} label="Process" />
              {leaves.length > 0 && <Leaves leaves={leaves} />}
            </li>
          )}
          {!child && leaves.length > 0 && (
            <li>
              <Leaves leaves={leaves} />
            </li>
          )}
        </ul>
      </li>
    </ul>
  );
}

function Leaves({ leaves }: { leaves: Ev[] }) {
  return (
    <ul>
      {leaves.map((l, i) => (
        <li key={i} className="leaf">
          <span className="tag">{l.entity}</span>{" "}
          {l.entity === "Ip" && (
            <Link to={`/ips/${encodeURIComponent(l.Address)}`}>
              {l.Address}
              {l.Port ? `:${l.Port}` : ""}
            </Link>
          )}
          {l.entity === "Url" && <span className="mono">{l.Url}</span>}
          {l.entity === "User" && <span>{l.AccountName}</span>}
          {l.entity === "File" && (
            <span>
              <span className="mono">
                {l.FolderPath ?? l.FileName}
              </span>
              {l.SHA256 && (
                <>
                  {" "}
                  · <Link to={`/files/${l.SHA256}`}>{String(l.SHA256).slice(0, 16)}…</Link>
                </>
              )}
            </span>
          )}
        </li>
      ))}
    </ul>
  );
}
