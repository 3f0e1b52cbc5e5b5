// Global search results and the entity pages of a file hash, an IP address or a domain:
// prevalence across the fleet, the devices that saw it, names (files), related alerts and the
// indicators that decide for it.
import { useState } from "react";
import { qs } from "../api";
import { ErrorBox, Facts, Link, Section, Severity, Status, entityPath, useGet } from "../components/ui";
import { navigate, useLocation } from "../router";
import { useTime } from "../time";
import { alertDeviceName, useDeviceSearch } from "../components/device";

export function SearchPage() {
  const { query } = useLocation();
  const q = query.get("q") ?? "";
  const matches = useDeviceSearch(q, 50);
  const alerts = useGet<any>(q ? "/api/v1/alerts" + qs({ q, limit: 20, offset: 0 }) : null);
  const fmt = useTime();
  const direct = entityPath(q, matches);
  return (
    <div className="page">
      <div className="page-head">
        <h1>Search: {q}</h1>
      </div>
      {direct && (
        <p>
          <Link to={direct}>Open {direct}</Link>
        </p>
      )}
      <Section title="Devices">
        {matches.length ? (
          <ul>
            {matches.map((d) => (
              <li key={d.DeviceId}>
                <Link to={`/devices/${encodeURIComponent(d.DeviceId)}`}>{d.DeviceName}</Link> <span className="muted small">{d.DeviceId}</span>
              </li>
            ))}
          </ul>
        ) : (
          <p className="muted">No device matches.</p>
        )}
      </Section>
      <Section title="Alerts">
        <ErrorBox error={alerts.error} />
        {(alerts.data?.items ?? []).map((a: any) => (
          <div key={a.AlertId}>
            <Severity value={a.Severity} /> <Link to={`/alerts/${a.AlertId}`}>{a.Title}</Link> <span className="muted small">{fmt(a.LastActivity)}</span>
          </div>
        ))}
        {alerts.data && !alerts.data.items.length && <p className="muted">No alert title matches.</p>}
      </Section>
      <p className="muted small">
        A SHA-256, SHA-1 or MD5 opens the file page, an address the IP page, a host name the domain page, a device name the device page.
      </p>
    </div>
  );
}

const TITLES: Record<string, string> = { files: "File", ips: "IP address", domains: "Domain" };

export function EntityPage({ kind, value }: { kind: "files" | "ips" | "domains"; value: string }) {
  const fmt = useTime();
  const [days, setDays] = useState(30);
  const e = useGet<any>(`/api/v1/${kind}/${encodeURIComponent(value)}${qs({ days })}`);
  const p = e.data?.Prevalence;
  const deciding = e.data?.Indicators?.Deciding;
  return (
    <div className="page entity">
      <div className="page-head">
        <h1>
          {TITLES[kind]} <span className="mono">{value}</span>
        </h1>
        <label>
          Last{" "}
          <select value={days} onChange={(ev) => setDays(Number(ev.target.value))}>
            {[1, 7, 30, 90, 180].map((d) => (
              <option key={d} value={d}>
                {d} days
              </option>
            ))}
          </select>
        </label>
      </div>
      <ErrorBox error={e.error} />
      {e.data && (
        <>
          <div className="cols">
            <Section title="Prevalence">
              <Facts
                items={[
                  ["Devices", p?.Devices],
                  ["Events", p?.Events],
                  ["First seen", fmt(p?.FirstSeen)],
                  ["Last seen", fmt(p?.LastSeen)],
                  ...(e.data.HashType ? ([["Hash type", e.data.HashType]] as [string, any][]) : []),
                ]}
              />
              {p?.Truncated && <p className="muted small">Counted on the first million rows only.</p>}
            </Section>
            <Section title="Indicator">
              {deciding ? (
                <Facts
                  items={[
                    ["Action", <strong>{deciding.Action}</strong>],
                    ["Value", <span className="mono">{deciding.IndicatorValue}</span>],
                    ["Severity", deciding.Severity],
                    ["Title", deciding.Title],
                    ["Expires", fmt(deciding.ExpirationTime)],
                  ]}
                />
              ) : (
                <p className="muted">No indicator decides for it.</p>
              )}
            </Section>
          </div>
          {e.data.Names && e.data.Names.length > 0 && (
            <Section title="Names and paths">
              <table className="grid">
                <tbody>
                  {e.data.Names.map((n: any, i: number) => (
                    <tr key={i}>
                      <td>{n.FileName}</td>
                      <td className="mono small">{n.FolderPath}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </Section>
          )}
          <Section title="Devices">
            <table className="grid">
              <thead>
                <tr>
                  <th>Device</th>
                  <th>Events</th>
                  <th>First seen</th>
                  <th>Last seen</th>
                </tr>
              </thead>
              <tbody>
                {(p?.ByDevice ?? []).map((d: any) => (
                  <tr key={d.DeviceId}>
                    <td>
                      <Link to={`/devices/${encodeURIComponent(d.DeviceId)}`}>{d.DeviceName ?? d.DeviceId}</Link>
                    </td>
                    <td className="num">{d.Events}</td>
                    <td className="ts">{fmt(d.FirstSeen)}</td>
                    <td className="ts">{fmt(d.LastSeen)}</td>
                  </tr>
                ))}
                {!(p?.ByDevice ?? []).length && (
                  <tr>
                    <td colSpan={4} className="muted">
                      No device saw it in this period.
                    </td>
                  </tr>
                )}
              </tbody>
            </table>
          </Section>
          <Section title="Related alerts">
            <table className="grid">
              <tbody>
                {(e.data.Alerts ?? []).map((a: any) => (
                  <tr key={a.AlertId}>
                    <td>
                      <Severity value={a.Severity} />
                    </td>
                    <td>
                      <Link to={`/alerts/${a.AlertId}`}>{a.Title}</Link>
                    </td>
                    <td>{alertDeviceName(a)}</td>
                    <td>
                      <Status value={a.Status} />
                    </td>
                    <td className="ts">{fmt(a.LastActivity)}</td>
                  </tr>
                ))}
                {!(e.data.Alerts ?? []).length && (
                  <tr>
                    <td className="muted">No alert names it.</td>
                  </tr>
                )}
              </tbody>
            </table>
          </Section>
          <p>
            <button className="link" onClick={() => navigate(`/hunting`)}>
              Hunt for it
            </button>
          </p>
        </>
      )}
    </div>
  );
}
