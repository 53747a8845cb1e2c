// The Arco web UI: runs and assets over the TypeScript SDK (gRPC-web through the edge);
// the SQL page stays the console's (/console/). Hash routes: #/runs, #/runs/<id>, #/assets.
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";

import { AssetsPage } from "./assets.js";
import { RunPage, RunsPage } from "./runs.js";
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
        <a href="#/runs" class={hash.startsWith("#/assets") ? "" : "active"}>
          Runs
        </a>
        <a href="#/assets" class={hash.startsWith("#/assets") ? "active" : ""}>
          Assets
        </a>
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
  const run = /^#\/runs\/([^/]+)$/.exec(hash);
  if (run) return <RunPage session={session} runId={decodeURIComponent(run[1])} />;
  if (hash.startsWith("#/assets")) return <AssetsPage session={session} />;
  return <RunsPage session={session} />;
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
