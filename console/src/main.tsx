// The console's entry: who is logged in, the shell (navigation, global search), and the page
// for the current path.
import { StrictMode, useEffect, useState } from "react";
import { createRoot } from "react-dom/client";
import "./styles.css";
import { get, post, qs, setCsrf, setUnauthorizedHandler } from "./api";
import { match, navigate, useLocation } from "./router";
import { Link, entityPath } from "./components/ui";
import { Login } from "./pages/Login";
import { AlertsQueue } from "./pages/Alerts";
import { AlertPage } from "./pages/AlertPage";
import { IncidentPage, Incidents } from "./pages/Incidents";
import { DevicePage, Devices } from "./pages/Devices";
import { Hunting } from "./pages/Hunting";
import { EntityPage, SearchPage } from "./pages/Entities";
import { ActionCenter } from "./pages/Actions";
import { Settings } from "./pages/Settings";

export interface Me {
  Name: string;
  Role: string;
  Permissions: string[];
}

const NAV: [string, string][] = [
  ["/alerts", "Alerts"],
  ["/incidents", "Incidents"],
  ["/devices", "Devices"],
  ["/hunting", "Advanced hunting"],
  ["/actions", "Action center"],
  ["/settings", "Settings"],
];

function Page({ path, me }: { path: string; me: Me }) {
  let m;
  if (path === "/" || path === "/alerts") return <AlertsQueue />;
  if ((m = match("/alerts/:id", path))) return <AlertPage id={m.id} />;
  if (path === "/incidents") return <Incidents />;
  if ((m = match("/incidents/:id", path))) return <IncidentPage id={m.id} />;
  if (path === "/devices") return <Devices />;
  if ((m = match("/devices/:id", path))) return <DevicePage id={m.id} me={me} />;
  if (path === "/hunting") return <Hunting />;
  if (path === "/search") return <SearchPage />;
  if ((m = match("/files/:value", path))) return <EntityPage kind="files" value={m.value} />;
  if ((m = match("/ips/:value", path))) return <EntityPage kind="ips" value={m.value} />;
  if ((m = match("/domains/:value", path))) return <EntityPage kind="domains" value={m.value} />;
  if (path === "/actions") return <ActionCenter me={me} />;
  if (path === "/settings") return <Settings me={me} />;
  return (
    <div className="card">
      <h1>Not found</h1>
      <p>
        There is no console page at <code>{path}</code>. <Link to="/alerts">Go to the alerts queue</Link>.
      </p>
    </div>
  );
}

function GlobalSearch() {
  const [term, setTerm] = useState("");
  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    // Only the devices whose fields contain the term: a fleet's inventory is not loaded here.
    let devices: any[] = [];
    try {
      devices = (await get<any>("/api/v1/devices" + qs({ q: term.trim(), limit: 100 }))).items ?? [];
    } catch {
      /* the search still works for hashes, addresses and domains */
    }
    const to = entityPath(term, devices);
    navigate(to ?? `/search?q=${encodeURIComponent(term.trim())}`);
  };
  return (
    <form className="search" onSubmit={submit} role="search">
      <input
        aria-label="Search"
        placeholder="Search a file hash, IP, domain, device or alert id"
        value={term}
        onChange={(e) => setTerm(e.target.value)}
      />
    </form>
  );
}

function App() {
  const [me, setMe] = useState<Me | null | undefined>(undefined);
  const { path } = useLocation();
  useEffect(() => {
    setUnauthorizedHandler(() => setMe(null));
    get<Me>("/api/v1/auth/me")
      .then(setMe)
      .catch(() => setMe(null));
  }, []);
  if (me === undefined) return <div className="boot">Loading…</div>;
  if (me === null)
    return (
      <Login
        onLogin={(user, csrf) => {
          setCsrf(csrf);
          setMe(user);
          if (path === "/login") navigate("/alerts", true);
        }}
      />
    );
  const logout = async () => {
    try {
      await post("/api/v1/auth/logout");
    } finally {
      setCsrf(null);
      setMe(null);
    }
  };
  return (
    <div className="shell">
      <header className="top">
        <Link to="/alerts" className="brand">
          Vigil
        </Link>
        <GlobalSearch />
        <div className="who">
          <span title={me.Permissions.join(", ")}>
            {me.Name} · {me.Role}
          </span>
          <button className="link" onClick={logout}>
            Log out
          </button>
        </div>
      </header>
      <nav className="side">
        {NAV.map(([to, label]) => (
          <Link key={to} to={to} className={path.startsWith(to) || (to === "/alerts" && path === "/") ? "active" : ""}>
            {label}
          </Link>
        ))}
      </nav>
      <main className="content">
        <Page path={path} me={me} />
      </main>
    </div>
  );
}

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
