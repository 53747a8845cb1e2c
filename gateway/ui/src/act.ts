// Buttons that change state: one call at a time, its error shown by its reason. A 409
// (ABORTED: the object moved on since the page read it, e.g. a stale state version)
// reloads the page's data so the next click acts on what is really there.
import { useState } from "preact/hooks";

import { ArcoError } from "@arco/sdk";

import { describeError } from "./session.js";

export interface Action {
  busy: boolean;
  error?: string;
  run: (call: () => Promise<unknown>) => Promise<void>;
}

export function useAction(reload: () => void): Action {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const run = async (call: () => Promise<unknown>) => {
    setBusy(true);
    setError(undefined);
    try {
      await call();
    } catch (failure) {
      const stale = failure instanceof ArcoError && failure.codeName === "aborted";
      setError(stale ? `${describeError(failure)} — reloaded, check and try again` : describeError(failure));
    } finally {
      setBusy(false);
      reload();
    }
  };
  return { busy, error, run };
}
