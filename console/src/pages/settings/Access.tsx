// Settings for who may use Vigil: console users, roles (with their permissions) and API
// tokens. Every section needs the settings permission (the page only shows them then); a new
// token's secret is shown once, right after it is made.
import { useState } from "react";
import { del, post } from "../../api";
import { ErrorBox, Section, useGet } from "../../components/ui";
import { useTime } from "../../time";

export function Users({ roles }: { roles: any[] }) {
  const fmt = useTime();
  const users = useGet<any[]>("/api/v1/users");
  const [name, setName] = useState("");
  const [password, setPassword] = useState("");
  const [role, setRole] = useState("security-reader");
  const [error, setError] = useState<string | null>(null);
  const create = async (e: React.FormEvent) => {
    e.preventDefault();
    setError(null);
    try {
      await post("/api/v1/users", { name, password, role });
      setName("");
      setPassword("");
      users.reload();
    } catch (err: any) {
      setError(err.message);
    }
  };
  return (
    <Section title="Users">
      <ErrorBox error={users.error} />
      <table className="grid">
        <thead>
          <tr>
            <th>Name</th>
            <th>Role</th>
            <th>Device groups</th>
            <th>Created</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {(users.data ?? []).map((u) => (
            <tr key={u.UserId}>
              <td>
                {u.Name} {u.Disabled && <span className="tag">disabled</span>}
              </td>
              <td>{u.Role}</td>
              <td>{(u.DeviceGroups ?? []).join(", ") || "all"}</td>
              <td className="ts">{fmt(u.Created)}</td>
              <td>
                {u.Name !== "admin" && (
                  <button className="link danger" onClick={() => del(`/api/v1/users/${encodeURIComponent(u.Name)}`).then(users.reload, (e) => setError(e.message))}>
                    Remove
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <form className="inline" onSubmit={create}>
        <input placeholder="user name" value={name} onChange={(e) => setName(e.target.value)} />
        <input placeholder="password" type="password" value={password} onChange={(e) => setPassword(e.target.value)} autoComplete="new-password" />
        <select value={role} onChange={(e) => setRole(e.target.value)}>
          {roles.map((r) => (
            <option key={r.Name}>{r.Name}</option>
          ))}
        </select>
        <button disabled={!name || !password}>Add user</button>
      </form>
      <ErrorBox error={error} />
    </Section>
  );
}

export function Tokens({ roles }: { roles: any[] }) {
  const fmt = useTime();
  const tokens = useGet<any[]>("/api/v1/api-tokens");
  const [name, setName] = useState("");
  const [role, setRole] = useState("security-reader");
  const [secret, setSecret] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const create = async (e: React.FormEvent) => {
    e.preventDefault();
    setError(null);
    try {
      const t = await post<any>("/api/v1/api-tokens", { name, role });
      setSecret(t.Secret);
      setName("");
      tokens.reload();
    } catch (err: any) {
      setError(err.message);
    }
  };
  return (
    <Section title="API tokens">
      <table className="grid">
        <thead>
          <tr>
            <th>Name</th>
            <th>Role</th>
            <th>Created</th>
            <th>Revoked</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {(tokens.data ?? []).map((t) => (
            <tr key={t.TokenId}>
              <td>{t.Name}</td>
              <td>{t.Role}</td>
              <td className="ts">{fmt(t.Created)}</td>
              <td className="ts">{fmt(t.Revoked)}</td>
              <td>
                {!t.Revoked && (
                  <button className="link danger" onClick={() => post(`/api/v1/api-tokens/${t.TokenId}/revoke`).then(tokens.reload, (e) => setError(e.message))}>
                    Revoke
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <form className="inline" onSubmit={create}>
        <input placeholder="token name" value={name} onChange={(e) => setName(e.target.value)} />
        <select value={role} onChange={(e) => setRole(e.target.value)}>
          {roles.map((r) => (
            <option key={r.Name}>{r.Name}</option>
          ))}
        </select>
        <button disabled={!name}>Create token</button>
      </form>
      {secret && (
        <div className="notice">
          Copy the token now, it is not shown again: <code className="mono">{secret}</code>
        </div>
      )}
      <ErrorBox error={error} />
    </Section>
  );
}

export function Roles({ roles }: { roles: any[] }) {
  return (
    <Section title="Roles">
      <table className="grid">
        <thead>
          <tr>
            <th>Role</th>
            <th>Permissions</th>
            <th>Description</th>
          </tr>
        </thead>
        <tbody>
          {roles.map((r) => (
            <tr key={r.Name}>
              <td>
                {r.Name} {r.BuiltIn && <span className="tag">built in</span>}
              </td>
              <td className="small">{(r.Permissions ?? []).join(", ")}</td>
              <td className="small">{r.Description}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </Section>
  );
}
