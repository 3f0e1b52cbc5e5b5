// Settings: the time zone every timestamp is shown in (kept in this browser), the server's
// automation level and data retention (settings/Automation.tsx), the rule catalogue
// (settings/Rules.tsx), console users, roles and API tokens (settings/Access.tsx), and the
// versions of the server and the console.
import { useState } from "react";
import { Facts, Section, useGet } from "../components/ui";
import { formatTime, setZone, useTime, useZone, type Zone } from "../time";
import type { Me } from "../main";
import { ServerSettingsSections } from "./settings/Automation";
import { RulesCatalogue } from "./settings/Rules";
import { Roles, Tokens, Users } from "./settings/Access";

/// The page's sections: anchor, label, and the permission it needs to be shown (if any).
const SECTIONS: [string, string, string | null][] = [
  ["timezone", "Time zone", null],
  ["automation", "Automation and retention", null],
  ["rules", "Rules", null],
  ["access", "Users, roles and tokens", "settings"],
  ["about", "About", null],
];

const CONSOLE_VERSION = "0.0.0";

function TimeZone() {
  const zone = useZone();
  const fmt = useTime();
  const now = useState(() => Date.now())[0];
  const local = Intl.DateTimeFormat().resolvedOptions().timeZone;
  return (
    <Section title="Time zone">
      <p>Every time the console shows is in this zone.</p>
      <div className="radios" role="radiogroup" aria-label="Time zone">
        {(["utc", "local"] as Zone[]).map((z) => (
          <label key={z} className="check">
            <input type="radio" name="timezone" value={z} checked={zone === z} onChange={() => setZone(z)} />
            {z === "utc" ? "UTC" : `Local (${local})`}
          </label>
        ))}
      </div>
      <p className="muted">
        Now: <span className="ts" data-testid="settings-now">{fmt(now)}</span> (UTC {formatTime(now, "utc")})
      </p>
    </Section>
  );
}

export function Settings({ me }: { me: Me }) {
  const admin = me.Permissions.includes("settings");
  const roles = useGet<any[]>(admin ? "/api/v1/roles" : null);
  const about = useGet<any>("/console-schema.json");
  return (
    <div className="page">
      <div className="page-head">
        <h1>Settings</h1>
      </div>
      <nav className="card toc" aria-label="Settings sections">
        {SECTIONS.filter(([, , need]) => !need || me.Permissions.includes(need)).map(([anchor, label]) => (
          <a key={anchor} href={`#${anchor}`}>
            {label}
          </a>
        ))}
      </nav>
      <div id="timezone">
        <TimeZone />
      </div>
      <div id="automation" className="stack">
        <ServerSettingsSections canEdit={admin} />
      </div>
      <div id="rules">
        <RulesCatalogue canEdit={me.Permissions.includes("detections")} />
      </div>
      {admin ? (
        <div id="access" className="stack">
          <Users roles={roles.data ?? []} />
          <Roles roles={roles.data ?? []} />
          <Tokens roles={roles.data ?? []} />
        </div>
      ) : (
        <p className="muted">Users, roles and tokens need the settings permission.</p>
      )}
      <div id="about" />
      <Section title="About">
        <Facts
          items={[
            ["Product", "Vigil — open-source endpoint security"],
            ["Console version", CONSOLE_VERSION],
            ["Server version", about.data?.server_version],
            ["Hunting schema", about.data ? `${about.data.tables.length} tables` : null],
            ["Signed in as", `${me.Name} (${me.Role})`],
            ["Licence", "Apache-2.0"],
          ]}
        />
      </Section>
    </div>
  );
}
