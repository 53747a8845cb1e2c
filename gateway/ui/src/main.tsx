// The Arco web UI: runs, assets, schedules, sensors and backfills over the TypeScript SDK
// (gRPC-web through the edge); the SQL page stays the console's (/console/). Hash routes:
// #/runs, #/runs/<id>, #/assets, #/schedules[/<id>], #/sensors[/<id>], #/backfills[/<id>].
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";

import { AssetsPage } from "./assets.js";
import { BackfillPage, BackfillsPage } from "./backfills.js";
import { RunPage, RunsPage } from "./runs.js";
import { SchedulePage, SchedulesPage } from "./schedules.js";
import { SensorPage, SensorsPage } from "./sensors.js";
import { accepted, describeError, openSession, storeToken, type Session } from "./session.js";

function useHash(): string {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const changed = () => setHash(location.hash);
    window.addEventListener("hashchange", changed);
    return () => window.removeEventListener("hashchange", changed);
  }, []);
  return hash;
}

// Nav entries: hash prefix and label (Runs is the default page).
const SECTIONS: [string, string][] = [
  ["#/runs", "Runs"],
  ["#/assets", "Assets"],
  ["#/schedules", "Schedules"],
  ["#/sensors", "Sensors"],
  ["#/backfills", "Backfills"],
];

function section(hash: string): string {
  return SECTIONS.find(([prefix]) => hash.startsWith(prefix))?.[0] ?? "#/runs";
}

type Access = { kind: "checking" } | { kind: "in"; session: Session } | { kind: "out"; error?: string };

function App() {
  const [session, setSession] = useState(() => openSession());
  const [access, setAccess] = useState<Access>({ kind: "checking" });
  const hash = useHash();

  useEffect(() => {
    let current = true;
    setAccess({ kind: "checking" });
    accepted(session).then(
      (ok) => current && setAccess(ok ? { kind: "in", session } : { kind: "out" }),
      (error) => current && setAccess({ kind: "out", error: describeError(error) }),
    );
    return () => {
      current = false;
    };
  }, [session]);

  const signIn = (token: string | null) => {
    storeToken(token);
    setSession(openSession(token));
  };

  return (
    <>
      <nav>
        <strong>Arco</strong>
        {SECTIONS.map(([prefix, label]) => (
          <a href={prefix} class={section(hash) === prefix ? "active" : ""}>
            {label}
          </a>
        ))}
        <a href="/console/">SQL</a>
        <span class="spacer" />
        {session.signedIn && (
          <>
            <span class="muted">{session.user ?? "signed in"}</span>
            <button id="sign-out" onClick={() => signIn(null)}>
              Sign out
            </button>
          </>
        )}
      </nav>
      <main>
        {access.kind === "checking" && <p>Connecting…</p>}
        {access.kind === "out" && <SignIn error={access.error} retried={session.signedIn} onToken={signIn} />}
        {access.kind === "in" && <Page session={access.session} hash={hash} />}
      </main>
    </>
  );
}

function Page({ session, hash }: { session: Session; hash: string }) {
  const detail = /^#\/(runs|schedules|sensors|backfills)\/([^/]+)$/.exec(hash);
  if (detail) {
    const id = decodeURIComponent(detail[2]);
    switch (detail[1]) {
      case "runs":
        return <RunPage session={session} runId={id} />;
      case "schedules":
        return <SchedulePage session={session} scheduleId={id} />;
      case "sensors":
        return <SensorPage session={session} sensorId={id} />;
      default:
        return <BackfillPage session={session} backfillId={id} />;
    }
  }
  switch (section(hash)) {
    case "#/assets":
      return <AssetsPage session={session} />;
    case "#/schedules":
      return <SchedulesPage session={session} />;
    case "#/sensors":
      return <SensorsPage session={session} />;
    case "#/backfills":
      return <BackfillsPage session={session} />;
    default:
      return <RunsPage session={session} />;
  }
}

function SignIn(props: { error?: string; retried: boolean; onToken: (token: string) => void }) {
  const [token, setToken] = useState("");
  return (
    <form
      id="sign-in"
      onSubmit={(event) => {
        event.preventDefault();
        if (token.trim()) props.onToken(token.trim());
      }}
    >
      <h1>Sign in</h1>
      <p>Paste your access token (a JWT from your identity provider). It is kept in this tab only.</p>
      {props.retried && <p class="error">The api did not accept that token.</p>}
      {props.error && <p class="error">{props.error}</p>}
      <textarea id="token" rows={4} value={token} onInput={(event) => setToken(event.currentTarget.value)} />
      <p>
        <button type="submit">Sign in</button>
      </p>
    </form>
  );
}

// render() keeps what is already in the container: drop the "Loading…" placeholder first.
const root = document.getElementById("app")!;
root.textContent = "";
render(<App />, root);
