// Backfills: the list (state, progress) with a form for a new one, and one backfill with
// its chunks (partitions, state, run) and Pause/Resume/Cancel/Retry failed.
import { useState } from "preact/hooks";

import {
  BackfillState,
  ChunkState,
} from "@arco/sdk/gen/arco/orchestration/v1/orchestration_service_pb";
import type { Backfill } from "@arco/sdk/gen/arco/orchestration/v1/orchestration_service_pb";

import { useAction } from "./act.js";
import { latestManifest } from "./assets.js";
import { enumName, when } from "./format.js";
import { usePoll } from "./poll.js";
import { describeError, type Session } from "./session.js";

const POLL_MS = 2000;
const MANIFEST_POLL_MS = 15_000;
// ListBackfillChunks pages of 200; a backfill shown in a browser rarely has more chunks.
const MAX_CHUNK_PAGES = 10;

function Progress({ backfill }: { backfill: Backfill }) {
  const counts = backfill.chunkCounts;
  const total = counts?.total ?? 0;
  const part = (n: number) => `${total ? (100 * n) / total : 0}%`;
  return (
    <span class="progress" title={`${counts?.succeeded ?? 0} succeeded, ${counts?.failed ?? 0} failed of ${total}`}>
      <span class="progress-track">
        <span class="SUCCEEDED" style={{ width: part(counts?.succeeded ?? 0) }} />
        <span class="FAILED" style={{ width: part(counts?.failed ?? 0) }} />
        <span class="RUNNING" style={{ width: part(counts?.running ?? 0) }} />
      </span>{" "}
      {counts?.succeeded ?? 0}/{total} chunks
      {(counts?.failed ?? 0) > 0 && `, ${counts?.failed} failed`}
      {(counts?.running ?? 0) > 0 && `, ${counts?.running} running`}
    </span>
  );
}

export function BackfillsPage({ session }: { session: Session }) {
  const backfills = usePoll(
    () => session.client.orchestration.listBackfills({ workspaceId: session.workspaceId, limit: 100 }),
    POLL_MS,
    [session],
  );
  return (
    <section>
      <h1>Backfills</h1>
      <NewBackfill session={session} />
      {backfills.error !== undefined && <p class="error">{describeError(backfills.error)}</p>}
      {backfills.data && backfills.data.backfills.length > 0 && (
        <table id="backfills">
          <thead>
            <tr>
              <th>Backfill</th>
              <th>Assets</th>
              <th>State</th>
              <th>Progress</th>
              <th>Partitions</th>
              <th>Created</th>
            </tr>
          </thead>
          <tbody>
            {backfills.data.backfills.map((backfill) => {
              const state = enumName(BackfillState, backfill.state);
              return (
                <tr class="backfill-row" data-backfill-id={backfill.backfillId} data-state={state}>
                  <td>
                    <a href={`#/backfills/${encodeURIComponent(backfill.backfillId)}`}>{backfill.backfillId}</a>
                    {backfill.parentBackfillId && <span class="muted"> retry of {backfill.parentBackfillId}</span>}
                  </td>
                  <td>{backfill.assetSelection.join(", ")}</td>
                  <td>
                    <span class={`state ${state}`}>{state}</span>
                  </td>
                  <td>
                    <Progress backfill={backfill} />
                  </td>
                  <td>{backfill.totalPartitions}</td>
                  <td>{when(backfill.createdAt)}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {backfills.data && backfills.data.backfills.length === 0 && <p class="muted">No backfills.</p>}
    </section>
  );
}

/** A range backfill of one partitioned asset of the newest manifest. */
function NewBackfill({ session }: { session: Session }) {
  const manifest = usePoll(() => latestManifest(session), MANIFEST_POLL_MS, [session]);
  const partitioned = (manifest.data?.assets ?? [])
    .filter((asset) => asset.partitioning?.isPartitioned === true)
    .map((asset) => `${asset.key?.namespace}.${asset.key?.name}`)
    .sort();
  const [asset, setAsset] = useState("");
  const [start, setStart] = useState("");
  const [end, setEnd] = useState("");
  const [chunkSize, setChunkSize] = useState(1);
  const [maxRuns, setMaxRuns] = useState(1);
  const action = useAction(() => undefined);
  if (partitioned.length === 0) return null;
  const chosen = asset || partitioned[0];
  const create = () =>
    action.run(async () => {
      const created = await session.client.orchestration.createBackfill({
        workspaceId: session.workspaceId,
        assetSelection: [chosen],
        partitionSelector: { type: "range", start, end },
        chunkSize,
        maxConcurrentRuns: maxRuns,
        // Required: one id per submitted form (a retried call makes no second backfill).
        clientRequestId: crypto.randomUUID(),
      });
      location.hash = `#/backfills/${encodeURIComponent(created.backfillId)}`;
    });
  return (
    <form
      id="new-backfill"
      class="actions"
      onSubmit={(event) => {
        event.preventDefault();
        void create();
      }}
    >
      <select id="backfill-asset" value={chosen} onChange={(event) => setAsset(event.currentTarget.value)}>
        {partitioned.map((key) => (
          <option value={key}>{key}</option>
        ))}
      </select>
      <label>
        from <input id="backfill-start" size={12} placeholder="2026-01-01" value={start} onInput={(e) => setStart(e.currentTarget.value)} />
      </label>
      <label>
        to <input id="backfill-end" size={12} placeholder="2026-01-31" value={end} onInput={(e) => setEnd(e.currentTarget.value)} />
      </label>
      <label>
        chunk{" "}
        <input id="backfill-chunk-size" type="number" min={1} value={chunkSize} onInput={(e) => setChunkSize(Number(e.currentTarget.value))} />
      </label>
      <label>
        runs at once{" "}
        <input id="backfill-max-runs" type="number" min={1} value={maxRuns} onInput={(e) => setMaxRuns(Number(e.currentTarget.value))} />
      </label>
      <button type="submit" id="create-backfill" disabled={action.busy || !start || !end}>
        New backfill
      </button>
      {action.error && <span class="error action-error">{action.error}</span>}
    </form>
  );
}

export function BackfillPage({ session, backfillId }: { session: Session; backfillId: string }) {
  const workspaceId = session.workspaceId;
  const orchestration = session.client.orchestration;
  const backfill = usePoll(
    async () => (await orchestration.getBackfill({ workspaceId, backfillId })).backfill,
    POLL_MS,
    [session, backfillId],
  );
  const chunks = usePoll(
    async () => {
      const all = [];
      let cursor = "";
      for (let page = 0; page < MAX_CHUNK_PAGES; page++) {
        const answer = await orchestration.listBackfillChunks({ workspaceId, backfillId, limit: 200, cursor });
        all.push(...answer.chunks);
        if (!answer.nextCursor) break;
        cursor = answer.nextCursor;
      }
      return all;
    },
    POLL_MS,
    [session, backfillId],
  );
  const action = useAction(() => {
    backfill.reload();
    chunks.reload();
  });
  const current = backfill.data;
  // Moves carry the state version the page shows: a 409 means it moved on meanwhile.
  const move = (call: "pauseBackfill" | "resumeBackfill" | "cancelBackfill") =>
    action.run(() =>
      orchestration[call]({ workspaceId, backfillId, expectedStateVersion: current?.stateVersion }),
    );
  const retry = () =>
    action.run(async () => {
      const created = await orchestration.retryFailedBackfill({ workspaceId, backfillId });
      location.hash = `#/backfills/${encodeURIComponent(created.backfillId)}`;
    });
  const state = current ? current.state : BackfillState.UNSPECIFIED;
  const stateName = enumName(BackfillState, state);
  const active = state === BackfillState.PENDING || state === BackfillState.RUNNING;
  const ended = state === BackfillState.FAILED || state === BackfillState.CANCELLED;
  return (
    <section>
      <p>
        <a href="#/backfills">← Backfills</a>
      </p>
      <h1>
        Backfill <code>{backfillId}</code>{" "}
        {current && (
          <span id="backfill-state" class={`state ${stateName}`} data-version={current.stateVersion}>
            {stateName}
          </span>
        )}
      </h1>
      {backfill.error !== undefined && <p class="error">{describeError(backfill.error)}</p>}
      {action.error && <p class="error action-error">{action.error}</p>}
      {current && (
        <>
          <dl class="facts">
            <dt>Assets</dt>
            <dd>{current.assetSelection.join(", ")}</dd>
            <dt>Partitions</dt>
            <dd>
              {current.totalPartitions} ({JSON.stringify(current.partitionSelector ?? {})})
            </dd>
            <dt>Chunks</dt>
            <dd>
              <Progress backfill={current} /> (size {current.chunkSize}, {current.maxConcurrentRuns} at once)
            </dd>
            <dt>Created</dt>
            <dd>{when(current.createdAt)}</dd>
            {current.parentBackfillId && (
              <>
                <dt>Retry of</dt>
                <dd>
                  <a href={`#/backfills/${encodeURIComponent(current.parentBackfillId)}`}>{current.parentBackfillId}</a>
                </dd>
              </>
            )}
          </dl>
          <div class="actions">
            <button id="pause-backfill" disabled={action.busy || !active} onClick={() => move("pauseBackfill")}>
              Pause
            </button>
            <button
              id="resume-backfill"
              disabled={action.busy || state !== BackfillState.PAUSED}
              onClick={() => move("resumeBackfill")}
            >
              Resume
            </button>
            <button
              id="cancel-backfill"
              disabled={action.busy || !(active || state === BackfillState.PAUSED)}
              onClick={() => move("cancelBackfill")}
            >
              Cancel
            </button>
            <button id="retry-failed-backfill" disabled={action.busy || !ended} onClick={retry}>
              Retry failed
            </button>
          </div>
        </>
      )}
      <h2>Chunks</h2>
      {chunks.error !== undefined && <p class="error">{describeError(chunks.error)}</p>}
      {chunks.data && chunks.data.length > 0 && (
        <table id="chunks">
          <thead>
            <tr>
              <th>#</th>
              <th>Partitions</th>
              <th>State</th>
              <th>Run</th>
            </tr>
          </thead>
          <tbody>
            {chunks.data.map((chunk) => {
              const chunkState = enumName(ChunkState, chunk.state);
              return (
                <tr class="chunk-row" data-chunk-index={chunk.chunkIndex} data-state={chunkState}>
                  <td>{chunk.chunkIndex}</td>
                  <td>{chunk.partitionKeys.join(", ")}</td>
                  <td>
                    <span class={`state ${chunkState}`}>{chunkState}</span>
                  </td>
                  <td>{chunk.runId ? <a href={`#/runs/${chunk.runId}`}>{chunk.runId}</a> : "—"}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {chunks.data && chunks.data.length === 0 && <p class="muted">No chunks planned yet.</p>}
    </section>
  );
}
