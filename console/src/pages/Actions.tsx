// The action center: every response action, newest first, filtered by status, type or
// device, with paging; pending actions can be cancelled.
import { useState } from "react";
import { qs } from "../api";
import { ErrorBox, Pager, useGet } from "../components/ui";
import { ActionsTable } from "./Devices";

export function ActionCenter() {
  const [status, setStatus] = useState("");
  const [type, setType] = useState("");
  const [offset, setOffset] = useState(0);
  const limit = 50;
  const list = useGet<any>("/api/v1/actions" + qs({ status, type, limit, offset }));
  return (
    <div className="page">
      <div className="page-head">
        <h1>Action center</h1>
        <button onClick={list.reload}>Refresh</button>
      </div>
      <div className="filters card">
        <label>
          Status
          <select value={status} onChange={(e) => { setStatus(e.target.value); setOffset(0); }}>
            <option value="">Any</option>
            {["Pending", "InProgress", "Succeeded", "Failed", "Cancelled", "TimedOut"].map((s) => (
              <option key={s}>{s}</option>
            ))}
          </select>
        </label>
        <label>
          Type
          <select value={type} onChange={(e) => { setType(e.target.value); setOffset(0); }}>
            <option value="">Any</option>
            {["isolate", "release", "collect", "scan", "restrict", "unrestrict", "kill", "quarantine", "restore"].map((s) => (
              <option key={s}>{s}</option>
            ))}
          </select>
        </label>
      </div>
      <ErrorBox error={list.error} />
      <ActionsTable items={list.data?.items ?? []} showDevice />
      {list.data && <Pager total={list.data.total} limit={limit} offset={offset} onChange={setOffset} />}
    </div>
  );
}
