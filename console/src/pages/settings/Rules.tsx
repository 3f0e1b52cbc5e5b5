// The rule catalogue: every detection rule the server loaded, paged, sorted and searched on
// the server (`GET /api/v1/rules`), with a switch per rule that calls
// `POST /api/v1/rules/{id}/enable|disable` (the detections permission). A disabled rule raises
// nothing from the detection worker's next batch on. The row shows what the server answered,
// never the click alone: the switch waits for the answer and the page is read again.
import { useState } from "react";
import { post } from "../../api";
import { ErrorBox, Section, Severity } from "../../components/ui";
import { ListFoot, SearchBox, sortHeaders, useServerList } from "../../components/list";

const COLUMNS: [string, string][] = [
  ["Title", "Rule"],
  ["Source", "Source"],
  ["Level", "Severity"],
];

export function RulesCatalogue({ canEdit }: { canEdit: boolean }) {
  const list = useServerList<any>("/api/v1/rules", { sort: "Title", order: "asc", limit: 25, ascFirst: ["Title", "Source", "Level", "Maturity"] });
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const rows = list.page.data?.items ?? [];
  const toggle = async (r: any) => {
    const verb = r.Enabled ? "disable" : "enable";
    setBusy(r.RuleId);
    setError(null);
    setNotice(null);
    try {
      const after = await post<any>(`/api/v1/rules/${encodeURIComponent(r.RuleId)}/${verb}`);
      setNotice(`${after.Title}: ${after.Enabled ? "enabled" : "disabled"}`);
      list.page.reload();
    } catch (e: any) {
      setError(`cannot ${verb} rule ${r.RuleId}: ${e.message}`);
    } finally {
      setBusy(null);
    }
  };
  return (
    <Section title="Rules" actions={list.page.data && <span className="muted small">{list.page.data.total.toLocaleString("en")} rules</span>}>
      <div className="filters">
        <SearchBox list={list} name="rule-search" placeholder="title, id, technique, tag…" />
        {!canEdit && <span className="muted small">Switching rules needs the detections permission.</span>}
      </div>
      {notice && (
        <div className="notice" role="status">
          {notice}
        </div>
      )}
      <ErrorBox error={list.page.error ?? error} />
      <table className="grid rules">
        <thead>
          <tr>
            {sortHeaders(list, COLUMNS)}
            <th>Techniques</th>
            {sortHeaders(list, [
              ["Maturity", "Maturity"],
              ["Enabled", "Enabled"],
            ])}
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={r.RuleId} data-rule-id={r.RuleId} className={r.Enabled ? "" : "disabled-row"}>
              <td>
                {r.Title}
                <div className="muted small mono">{r.RuleId}</div>
              </td>
              <td className="small mono">{r.Source ?? "—"}</td>
              <td>
                <Severity value={r.Severity} />
              </td>
              <td className="small">{(r.AttackTechniques ?? []).join(", ") || "—"}</td>
              <td className="small">{r.Maturity ?? "—"}</td>
              <td>
                <label className="check switch">
                  <input
                    type="checkbox"
                    role="switch"
                    aria-label={`Rule ${r.Title} enabled`}
                    checked={!!r.Enabled}
                    disabled={!canEdit || busy === r.RuleId}
                    onChange={() => toggle(r)}
                  />
                  {r.Enabled ? "on" : "off"}
                </label>
              </td>
            </tr>
          ))}
          {list.page.data && !rows.length && (
            <tr>
              <td colSpan={6} className="muted">
                {list.filter("q") ? "No rule matches this search." : "The server loaded no rules."}
              </td>
            </tr>
          )}
        </tbody>
      </table>
      <ListFoot list={list} />
    </Section>
  );
}
