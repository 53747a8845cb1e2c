// Runs: the list (state filter, live), and one run: timeline, per-task logs, cancel, rerun.
import { useState } from "preact/hooks";

import { RerunMode } from "@arco/sdk/gen/arco/orchestration/v1/orchestration_service_pb";
import type {
  GetRunResponse,
  TaskAttempt,
  TaskSummary,
} from "@arco/sdk/gen/arco/orchestration/v1/orchestration_service_pb";

import {
  RUN_STATES,
  RunStatus,
  duration,
  millis,
  runFinished,
  runStateName,
  taskStateName,
  when,
} from "./format.js";
import { usePoll } from "./poll.js";
import { describeError, type Session } from "./session.js";

const LIST_POLL_MS = 2000;
const RUN_POLL_MS = 1000;
const LOGS_POLL_MS = 2000;
// GetRunLogs pages hold up to 8 MiB each; a task's log rarely needs more than a few.
const MAX_LOG_PAGES = 10;

export function RunsPage({ session }: { session: Session }) {
  const [state, setState] = useState(RunStatus.UNSPECIFIED);
  const runs = usePoll(
    () => session.client.orchestration.listRuns({ workspaceId: session.workspaceId, state, limit: 100 }),
    LIST_POLL_MS,
    [session, state],
  );
  return (
    <section>
      <h1>Runs</h1>
      <label>
        State{" "}
        <select
          id="run-state-filter"
          value={state}
          onChange={(event) => setState(Number(event.currentTarget.value) as RunStatus)}
        >
          <option value={RunStatus.UNSPECIFIED}>all</option>
          {RUN_STATES.map((value) => (
            <option value={value}>{runStateName(value)}</option>
          ))}
        </select>
      </label>
      {runs.error !== undefined && <p class="error">{describeError(runs.error)}</p>}
      {runs.data && (
        <table id="runs">
          <thead>
            <tr>
              <th>Run</th>
              <th>State</th>
              <th>Created</th>
              <th>Completed</th>
              <th>Tasks</th>
            </tr>
          </thead>
          <tbody>
            {runs.data.runs.map((run) => (
              <tr class="run-row" data-run-id={run.runId} data-state={runStateName(run.state)}>
                <td>
                  <a href={`#/runs/${run.runId}`}>{run.runId}</a>
                  {run.parentRunId && <span class="muted"> rerun of {run.parentRunId}</span>}
                </td>
                <td>
                  <span class={`state ${runStateName(run.state)}`}>{runStateName(run.state)}</span>
                </td>
                <td>{when(run.createdAt)}</td>
                <td>{when(run.completedAt)}</td>
                <td>
                  {run.tasksSucceeded}/{run.taskCount} succeeded
                  {run.tasksFailed > 0 && `, ${run.tasksFailed} failed`}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {runs.data && runs.data.runs.length === 0 && <p class="muted">No runs.</p>}
      <Ready when={runs.data !== undefined} />
    </section>
  );
}

/** Marks the first render with data (the bench measures navigation to this mark). */
function Ready({ when: ready }: { when: boolean }) {
  if (ready && performance.getEntriesByName("arco-ui-ready").length === 0) {
    performance.mark("arco-ui-ready");
  }
  return null;
}

export function RunPage({ session, runId }: { session: Session; runId: string }) {
  const workspaceId = session.workspaceId;
  const orchestration = session.client.orchestration;
  const run = usePoll(() => orchestration.getRun({ workspaceId, runId }), RUN_POLL_MS, [session, runId]);
  const [logTask, setLogTask] = useState<string>();
  const [subset, setSubset] = useState<ReadonlySet<string>>(new Set());
  const [actionError, setActionError] = useState<unknown>();

  const act = async (action: () => Promise<string | undefined>) => {
    setActionError(undefined);
    try {
      const next = await action();
      if (next) location.hash = `#/runs/${next}`;
    } catch (error) {
      setActionError(error);
    }
  };
  const cancel = () =>
    act(async () => {
      await orchestration.cancelRun({ workspaceId, runId, reason: "cancelled from the web UI" });
      return undefined;
    });
  const rerun = (mode: RerunMode, selection: string[] = []) =>
    act(async () => (await orchestration.rerunRun({ workspaceId, runId, mode, selection })).runId);
  const toggle = (taskKey: string) => {
    const next = new Set(subset);
    if (!next.delete(taskKey)) next.add(taskKey);
    setSubset(next);
  };

  const current = run.data;
  return (
    <section>
      <p>
        <a href="#/runs">← Runs</a>
      </p>
      <h1>
        Run <code>{runId}</code>{" "}
        {current && (
          <span id="run-state" class={`state ${runStateName(current.state)}`}>
            {runStateName(current.state)}
          </span>
        )}
      </h1>
      {run.error !== undefined && <p class="error">{describeError(run.error)}</p>}
      {actionError !== undefined && <p class="error">{describeError(actionError)}</p>}
      {current && (
        <>
          <RunFacts run={current} />
          <div class="actions">
            <button id="cancel-run" disabled={runFinished(current.state)} onClick={cancel}>
              Cancel
            </button>
            <button
              id="rerun-from-failure"
              disabled={!runFinished(current.state) || current.state === RunStatus.SUCCEEDED}
              onClick={() => rerun(RerunMode.FROM_FAILURE)}
            >
              Rerun from failure
            </button>
            <button
              id="rerun-subset"
              disabled={!runFinished(current.state) || subset.size === 0}
              onClick={() => rerun(RerunMode.SUBSET, [...subset])}
            >
              Rerun selected ({subset.size})
            </button>
          </div>
          <Timeline run={current} selected={subset} onToggle={toggle} onLogs={setLogTask} />
          {logTask && <TaskLogs session={session} runId={runId} taskKey={logTask} />}
        </>
      )}
    </section>
  );
}

function RunFacts({ run }: { run: GetRunResponse }) {
  const labels = Object.entries(run.labels);
  return (
    <dl class="facts">
      <dt>Created</dt>
      <dd>{when(run.createdAt)}</dd>
      <dt>Started</dt>
      <dd>{when(run.startedAt)}</dd>
      <dt>Completed</dt>
      <dd>{when(run.completedAt)}</dd>
      {run.parentRunId && (
        <>
          <dt>Rerun of</dt>
          <dd>
            <a href={`#/runs/${run.parentRunId}`}>{run.parentRunId}</a> {run.rerunReason}
          </dd>
        </>
      )}
      {labels.length > 0 && (
        <>
          <dt>Labels</dt>
          <dd>{labels.map(([key, value]) => `${key}=${value}`).join(", ")}</dd>
        </>
      )}
    </dl>
  );
}

interface TimelineProps {
  run: GetRunResponse;
  selected: ReadonlySet<string>;
  onToggle: (taskKey: string) => void;
  onLogs: (taskKey: string) => void;
}

/** One bar per started attempt on a shared time axis, coloured by the attempt's state
 * (a retried attempt is FAILED; the last one has the task's state). */
function Timeline({ run, selected, onToggle, onLogs }: TimelineProps) {
  const now = Date.now();
  const bars = run.tasks.map((task) => attemptBars(task, now));
  const all = bars.flat();
  const origin = all.length ? Math.min(...all.map((b) => b.start)) : (millis(run.createdAt) ?? now);
  const end = Math.max(origin + 1000, ...all.map((b) => b.end));
  const scale = (ms: number) => (100 * (ms - origin)) / (end - origin);
  return (
    <table id="timeline" class="timeline">
      <thead>
        <tr>
          <th />
          <th>Task</th>
          <th>State</th>
          <th class="track-head">
            0 – {duration(end - origin)}
          </th>
          <th />
        </tr>
      </thead>
      <tbody>
        {run.tasks.map((task, index) => {
          const state = taskStateName(task.state);
          return (
            <tr class="task-row" data-task-key={task.taskKey} data-state={state}>
              <td>
                <input
                  type="checkbox"
                  class="rerun-pick"
                  title="Select for a subset rerun"
                  checked={selected.has(task.taskKey)}
                  onChange={() => onToggle(task.taskKey)}
                />
              </td>
              <td>
                <code>{task.taskKey}</code>
                {task.errorMessage && <div class="error">{task.errorMessage}</div>}
              </td>
              <td>
                <span class={`state ${state}`}>{state}</span>
              </td>
              <td class="track">
                {bars[index].map((bar) => (
                  <div
                    class={`bar ${bar.state}`}
                    data-attempt={bar.attempt}
                    data-state={bar.state}
                    style={{ left: `${scale(bar.start)}%`, width: `${Math.max(0.5, scale(bar.end) - scale(bar.start))}%` }}
                    title={`attempt ${bar.attempt}/${task.maxAttempts || "?"} ${bar.state}: ${duration(bar.end - bar.start)}${bar.error ? ` — ${bar.error}` : ""}`}
                  >
                    #{bar.attempt}
                  </div>
                ))}
              </td>
              <td>
                <button class="show-logs" onClick={() => onLogs(task.taskKey)}>
                  Logs
                </button>
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

interface Bar {
  attempt: number;
  state: string;
  start: number;
  end: number;
  error?: string;
}

/** The task's started attempts as bars; a running one (or one that ended without a
 * recorded end) reaches to now. An api without attempts gives the current one only. */
function attemptBars(task: TaskSummary, now: number): Bar[] {
  const attempts: Pick<TaskAttempt, "attempt" | "state" | "startedAt" | "completedAt" | "errorMessage">[] =
    task.attempts.length > 0 ? task.attempts : [task];
  const bars: Bar[] = [];
  for (const attempt of attempts) {
    const start = millis(attempt.startedAt);
    if (start === undefined) continue;
    bars.push({
      attempt: attempt.attempt,
      state: taskStateName(attempt.state),
      start,
      end: millis(attempt.completedAt) ?? now,
      error: attempt.errorMessage,
    });
  }
  return bars;
}

function TaskLogs({ session, runId, taskKey }: { session: Session; runId: string; taskKey: string }) {
  const logs = usePoll(
    async () => {
      // Pages of log objects (one per attempt and stream) until the cursor runs out.
      let text = "";
      let cursor = "";
      for (let page = 0; page < MAX_LOG_PAGES; page++) {
        const answer = await session.client.orchestration.getRunLogs({
          workspaceId: session.workspaceId,
          runId,
          taskKey,
          cursor,
        });
        text += answer.text;
        if (!answer.nextCursor) break;
        cursor = answer.nextCursor;
      }
      return text;
    },
    LOGS_POLL_MS,
    [session, runId, taskKey],
  );
  return (
    <section class="logs-panel">
      <h2>
        Logs of <code>{taskKey}</code>
      </h2>
      {logs.error !== undefined && <p class="error">{describeError(logs.error)}</p>}
      <pre id="task-logs" data-task-key={taskKey}>
        {logs.data === undefined ? "loading…" : logs.data || "(no logs uploaded yet)"}
      </pre>
    </section>
  );
}
