// Who the UI talks to the api as: the pasted token (production posture) or none (dev
// posture), over gRPC-web to the same origin, i.e. through the Envoy edge.
import { ArcoError, createArcoClient, grpcWeb } from "@arco/sdk";
import type { ArcoClient } from "@arco/sdk";

// sessionStorage: the token goes when the tab does, and never into a URL.
const TOKEN_KEY = "arco.token";

export interface Session {
  client: ArcoClient;
  /** The token's workspace claim; empty means "the caller's own" to the api. */
  workspaceId: string;
  user?: string;
  signedIn: boolean;
}

function claims(token: string): Record<string, unknown> {
  try {
    const payload = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(payload)) as Record<string, unknown>;
  } catch {
    return {};
  }
}

export function openSession(token: string | null = sessionStorage.getItem(TOKEN_KEY)): Session {
  const client = createArcoClient({
    baseUrl: location.origin,
    token: token ?? undefined,
    transport: grpcWeb,
  });
  const claimed = token ? claims(token) : {};
  return {
    client,
    workspaceId: typeof claimed.workspace === "string" ? claimed.workspace : "",
    user: typeof claimed.sub === "string" ? claimed.sub : undefined,
    signedIn: token !== null,
  };
}

export function storeToken(token: string | null): void {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
}

/** Whether the api accepts this session (a dev-posture api accepts no token at all). */
export async function accepted(session: Session): Promise<boolean> {
  try {
    await session.client.orchestration.listRuns({ workspaceId: session.workspaceId, limit: 1 });
    return true;
  } catch (error) {
    if (error instanceof ArcoError && error.codeName === "unauthenticated") return false;
    throw error;
  }
}

export function describeError(error: unknown): string {
  if (error instanceof ArcoError) {
    const id = error.requestId ? ` (request ${error.requestId})` : "";
    return `${error.reason}: ${error.rawMessage}${id}`;
  }
  return String(error);
}
