// The login page: user name and password; the server sets the session cookie and answers the
// CSRF token the console sends with every change.
import { useState } from "react";
import { post } from "../api";
import type { Me } from "../main";

export function Login({ onLogin }: { onLogin: (me: Me, csrf: string) => void }) {
  const [username, setUsername] = useState("admin");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const r = await post<{ csrf_token: string; user: Me }>("/api/v1/auth/login", { username, password });
      onLogin(r.user, r.csrf_token);
    } catch (err: any) {
      setError(err.message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="login">
      <form onSubmit={submit} className="card">
        <h1>Vigil</h1>
        <p className="muted">Sign in to the security console.</p>
        <label>
          User name
          <input name="username" autoComplete="username" value={username} onChange={(e) => setUsername(e.target.value)} />
        </label>
        <label>
          Password
          <input
            name="password"
            type="password"
            autoComplete="current-password"
            value={password}
            onChange={(e) => setPassword(e.target.value)}
            autoFocus
          />
        </label>
        {error && (
          <div className="error" role="alert">
            {error}
          </div>
        )}
        <button type="submit" className="primary" disabled={busy || !password}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
        <p className="muted small">
          The first password of <code>admin</code> is in <code>DATA_DIR/admin.password</code>.
        </p>
      </form>
    </div>
  );
}
