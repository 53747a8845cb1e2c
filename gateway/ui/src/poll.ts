// Live data: call, show, wait, call again (never two calls of one poll in flight).
import { useEffect, useState } from "preact/hooks";

export interface Polled<T> {
  data?: T;
  error?: unknown;
}

export interface Poll<T> extends Polled<T> {
  /** Call again now (after an action changed what the poll shows). */
  reload: () => void;
}

interface Answer<T> extends Polled<T> {
  deps: unknown[];
}

const same = (a: unknown[], b: unknown[]) => a.length === b.length && a.every((v, i) => Object.is(v, b[i]));

export function usePoll<T>(load: () => Promise<T>, everyMs: number, deps: unknown[]): Poll<T> {
  const [answer, setAnswer] = useState<Answer<T>>({ deps });
  // Bumped by reload(): restarts the loop at once, keeping what is shown until it answers.
  const [round, setRound] = useState(0);
  useEffect(() => {
    let stopped = false;
    let timer: number | undefined;
    const tick = async () => {
      try {
        const data = await load();
        if (!stopped) setAnswer({ deps, data });
      } catch (error) {
        if (!stopped) setAnswer((previous) => ({ deps, data: same(previous.deps, deps) ? previous.data : undefined, error }));
      }
      if (!stopped) timer = window.setTimeout(tick, everyMs);
    };
    void tick();
    return () => {
      stopped = true;
      window.clearTimeout(timer);
    };
  }, [...deps, round]);
  const reload = () => setRound((n) => n + 1);
  // An answer for other inputs (the run or task just changed) is not shown for these.
  return same(answer.deps, deps) ? { ...answer, reload } : { reload };
}
