// Small building blocks shared by the pages: links through the router, data loading with
// errors shown, severity and status badges, a pager, an error box.
import { useCallback, useEffect, useState, type ReactNode, type MouseEvent } from "react";
import { navigate } from "../router";
import { get } from "../api";

export function Link(props: { to: string; children: ReactNode; className?: string; title?: string }) {
  const onClick = (e: MouseEvent<HTMLAnchorElement>) => {
    if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(props.to);
  };
  return (
    <a href={props.to} onClick={onClick} className={props.className} title={props.title}>
      {props.children}
    </a>
  );
}

export interface Loaded<T> {
  data: T | null;
  error: string | null;
  loading: boolean;
  reload: () => void;
}

/// GET `path` (none when null), again whenever it changes or `reload` is called.
export function useGet<T = any>(path: string | null): Loaded<T> {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    if (path === null) return;
    let live = true;
    setLoading(true);
    get<T>(path)
      .then((d) => {
        if (!live) return;
        setData(d);
        setError(null);
      })
      .catch((e) => live && setError(String(e.message ?? e)))
      .finally(() => live && setLoading(false));
    return () => {
      live = false;
    };
  }, [path, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data, error, loading, reload };
}

export function ErrorBox({ error }: { error: string | null | undefined }) {
  if (!error) return null;
  return (
    <div className="error" role="alert">
      {error}
    </div>
  );
}

export function Severity({ value }: { value: string }) {
  return <span className={`sev sev-${(value || "").toLowerCase()}`}>{value}</span>;
}

export function Status({ value }: { value: string }) {
  return <span className={`status status-${(value || "").toLowerCase()}`}>{value}</span>;
}

export function Pager(props: {
  total: number;
  limit: number;
  offset: number;
  onChange: (offset: number) => void;
}) {
  const { total, limit, offset } = props;
  const page = Math.floor(offset / limit) + 1;
  const pages = Math.max(1, Math.ceil(total / limit));
  return (
    <div className="pager">
      <button disabled={offset === 0} onClick={() => props.onChange(0)}>
        «
      </button>
      <button disabled={offset === 0} onClick={() => props.onChange(Math.max(0, offset - limit))}>
        ‹ Previous
      </button>
      <span>
        Page {page} of {pages} · {total.toLocaleString("en")} in all
      </span>
      <button disabled={offset + limit >= total} onClick={() => props.onChange(offset + limit)}>
        Next ›
      </button>
      <button
        disabled={offset + limit >= total}
        onClick={() => props.onChange((pages - 1) * limit)}
      >
        »
      </button>
    </div>
  );
}

export function Section(props: { title: string; children: ReactNode; actions?: ReactNode }) {
  return (
    <section className="card">
      <header className="card-head">
        <h2>{props.title}</h2>
        {props.actions}
      </header>
      {props.children}
    </section>
  );
}

/// Key/value pairs as a definition list.
export function Facts({ items }: { items: [string, ReactNode][] }) {
  return (
    <dl className="facts">
      {items.map(([k, v]) => (
        <div key={k}>
          <dt>{k}</dt>
          <dd>{v === null || v === undefined || v === "" ? "—" : v}</dd>
        </div>
      ))}
    </dl>
  );
}

/// Where a search term leads: a hash, an address, a domain, else a device name or id.
export function entityPath(term: string, devices: { DeviceId: string; DeviceName: string }[] = []): string | null {
  const t = term.trim();
  if (!t) return null;
  if (/^[0-9a-fA-F]{32}$|^[0-9a-fA-F]{40}$|^[0-9a-fA-F]{64}$/.test(t)) return `/files/${t.toLowerCase()}`;
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(t) || (t.includes(":") && /^[0-9a-fA-F:.]+$/.test(t)))
    return `/ips/${encodeURIComponent(t)}`;
  const dev = devices.find(
    (d) => d.DeviceId === t || d.DeviceName.toLowerCase() === t.toLowerCase(),
  );
  if (dev) return `/devices/${encodeURIComponent(dev.DeviceId)}`;
  if (/^[a-zA-Z0-9-]+(\.[a-zA-Z0-9-]+)+\.?$/.test(t)) return `/domains/${encodeURIComponent(t.toLowerCase())}`;
  if (/^al_[0-9a-f]+$/.test(t)) return `/alerts/${t}`;
  return null;
}
