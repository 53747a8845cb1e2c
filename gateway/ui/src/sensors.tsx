// Sensors: the declared ones (kind, interval, assets from the newest manifest) with their
// state (status, cursor, last evaluation), and one sensor with its evaluation history.
import { ArcoError } from "@arco/sdk";
import { SensorStatus } from "@arco/sdk/gen/arco/orchestration/v1/orchestration_service_pb";
import type { Sensor, SensorEntry } from "@arco/sdk/gen/arco/orchestration/v1/orchestration_service_pb";

import { latestManifest } from "./assets.js";
import { enumName, when } from "./format.js";
import { usePoll } from "./poll.js";
import { describeError, type Session } from "./session.js";

const POLL_MS = 2000;
const MANIFEST_POLL_MS = 15_000;
const EVALS_SHOWN = 50;

interface Row {
  sensorId: string;
  declared?: SensorEntry;
  /** Absent until the sensor's first evaluation. */
  state?: Sensor;
}

function rows(declared: SensorEntry[], states: Sensor[]): Row[] {
  const byId = new Map<string, Row>();
  for (const entry of declared) byId.set(entry.id, { sensorId: entry.id, declared: entry });
  for (const state of states) byId.set(state.sensorId, { ...byId.get(state.sensorId), sensorId: state.sensorId, state });
  return [...byId.values()].sort((a, b) => a.sensorId.localeCompare(b.sensorId));
}

function statusName(state: Sensor | undefined): string {
  return state ? enumName(SensorStatus, state.status) : "NOT_EVALUATED";
}

function kindOf(entry: SensorEntry | undefined): string {
  if (!entry) return "—";
  return entry.kind === "poll" ? `poll, every ≥ ${entry.minimumIntervalSeconds} s` : entry.kind;
}

export function SensorsPage({ session }: { session: Session }) {
  const manifest = usePoll(() => latestManifest(session), MANIFEST_POLL_MS, [session]);
  const sensors = usePoll(
    () => session.client.orchestration.listSensors({ workspaceId: session.workspaceId, limit: 200 }),
    POLL_MS,
    [session],
  );
  const error = sensors.error ?? manifest.error;
  const listed = sensors.data && rows(manifest.data?.sensors ?? [], sensors.data.sensors);
  return (
    <section>
      <h1>Sensors</h1>
      {error !== undefined && <p class="error">{describeError(error)}</p>}
      {listed && listed.length > 0 && (
        <table id="sensors">
          <thead>
            <tr>
              <th>Sensor</th>
              <th>Type</th>
              <th>Status</th>
              <th>Cursor</th>
              <th>Last evaluation</th>
              <th>Assets</th>
            </tr>
          </thead>
          <tbody>
            {listed.map((row) => {
              const status = statusName(row.state);
              return (
                <tr class="sensor-row" data-sensor-id={row.sensorId} data-status={status}>
                  <td>
                    <a href={`#/sensors/${encodeURIComponent(row.sensorId)}`}>{row.sensorId}</a>
                  </td>
                  <td>{kindOf(row.declared)}</td>
                  <td>
                    <span class={`state ${status}`}>{status}</span>
                  </td>
                  <td>
                    <code>{row.state?.cursor ?? "—"}</code>
                  </td>
                  <td>{when(row.state?.lastEvaluationAt)}</td>
                  <td>{row.declared?.assets.join(", ") ?? ""}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {listed && listed.length === 0 && <p class="muted">No sensors (a manifest declares them).</p>}
    </section>
  );
}

export function SensorPage({ session, sensorId }: { session: Session; sensorId: string }) {
  const workspaceId = session.workspaceId;
  const orchestration = session.client.orchestration;
  const sensor = usePoll(
    async () => {
      try {
        return (await orchestration.getSensor({ workspaceId, sensorId })).sensor ?? null;
      } catch (error) {
        // Declared but not evaluated yet: no state row; not an error to the reader.
        if (error instanceof ArcoError && error.codeName === "not_found") return null;
        throw error;
      }
    },
    POLL_MS,
    [session, sensorId],
  );
  const evals = usePoll(
    () => orchestration.listSensorEvals({ workspaceId, sensorId, limit: EVALS_SHOWN }),
    POLL_MS,
    [session, sensorId],
  );
  const current = sensor.data;
  return (
    <section>
      <p>
        <a href="#/sensors">← Sensors</a>
      </p>
      <h1>
        Sensor <code>{sensorId}</code>{" "}
        {current !== undefined && (
          <span id="sensor-status" class={`state ${statusName(current ?? undefined)}`}>
            {statusName(current ?? undefined)}
          </span>
        )}
      </h1>
      {sensor.error !== undefined && <p class="error">{describeError(sensor.error)}</p>}
      {current && (
        <dl class="facts">
          <dt>Cursor</dt>
          <dd>
            <code id="sensor-cursor">{current.cursor ?? "—"}</code>
          </dd>
          <dt>Last evaluation</dt>
          <dd>{when(current.lastEvaluationAt)}</dd>
          <dt>Evaluations applied</dt>
          <dd>{current.stateVersion}</dd>
        </dl>
      )}
      {current === null && <p class="muted">Not evaluated yet.</p>}
      <h2>Evaluations</h2>
      {evals.error !== undefined && <p class="error">{describeError(evals.error)}</p>}
      {evals.data && evals.data.evals.length > 0 && (
        <table id="evals">
          <thead>
            <tr>
              <th>Evaluated</th>
              <th>Status</th>
              <th>Cursor</th>
              <th>Runs requested</th>
              <th>Message</th>
            </tr>
          </thead>
          <tbody>
            {evals.data.evals.map((evaluation) => {
              const status = evaluation.status?.status ?? "";
              return (
                <tr class="eval-row" data-eval-id={evaluation.evalId} data-status={status}>
                  <td>{when(evaluation.evaluatedAt)}</td>
                  <td>
                    <span class={`state ${status}`}>{status}</span>
                  </td>
                  <td>
                    <code>{evaluation.cursorBefore ?? "—"}</code> → <code>{evaluation.cursorAfter ?? "—"}</code>
                  </td>
                  <td>{evaluation.runRequestsCount}</td>
                  <td class={status === "error" ? "error" : "muted"}>{evaluation.status?.message ?? ""}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {evals.data && evals.data.evals.length === 0 && <p class="muted">No evaluations yet.</p>}
    </section>
  );
}
