// Schedules: the list (cron, timezone, enabled, last tick) and one schedule with its tick
// history and Enable/Disable.
import type { Schedule } from "@arco/sdk/gen/arco/orchestration/v1/orchestration_service_pb";
import { TickStatus } from "@arco/sdk/gen/arco/orchestration/v1/types_pb";

import { useAction } from "./act.js";
import { enumName, when } from "./format.js";
import { usePoll } from "./poll.js";
import { describeError, type Session } from "./session.js";

const POLL_MS = 2000;
const TICKS_SHOWN = 50;

function enabledBadge(schedule: Schedule) {
  const name = schedule.enabled ? "ENABLED" : "DISABLED";
  return <span class={`state ${name}`}>{name.toLowerCase()}</span>;
}

export function SchedulesPage({ session }: { session: Session }) {
  const schedules = usePoll(
    () => session.client.orchestration.listSchedules({ workspaceId: session.workspaceId, limit: 200 }),
    POLL_MS,
    [session],
  );
  return (
    <section>
      <h1>Schedules</h1>
      {schedules.error !== undefined && <p class="error">{describeError(schedules.error)}</p>}
      {schedules.data && schedules.data.schedules.length > 0 && (
        <table id="schedules">
          <thead>
            <tr>
              <th>Schedule</th>
              <th>Cron</th>
              <th>Timezone</th>
              <th>State</th>
              <th>Assets</th>
              <th>Last tick for</th>
            </tr>
          </thead>
          <tbody>
            {schedules.data.schedules.map((schedule) => (
              <tr
                class="schedule-row"
                data-schedule-id={schedule.scheduleId}
                data-enabled={String(schedule.enabled)}
              >
                <td>
                  <a href={`#/schedules/${encodeURIComponent(schedule.scheduleId)}`}>{schedule.scheduleId}</a>
                </td>
                <td>
                  <code>{schedule.cronExpression}</code>
                </td>
                <td>{schedule.timezone}</td>
                <td>{enabledBadge(schedule)}</td>
                <td>{schedule.assetSelection.join(", ")}</td>
                <td>{when(schedule.lastScheduledFor)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {schedules.data && schedules.data.schedules.length === 0 && (
        <p class="muted">No schedules (a manifest declares them).</p>
      )}
    </section>
  );
}

export function SchedulePage({ session, scheduleId }: { session: Session; scheduleId: string }) {
  const workspaceId = session.workspaceId;
  const orchestration = session.client.orchestration;
  const schedule = usePoll(
    async () => (await orchestration.getSchedule({ workspaceId, scheduleId })).schedule,
    POLL_MS,
    [session, scheduleId],
  );
  const ticks = usePoll(
    () => orchestration.listScheduleTicks({ workspaceId, scheduleId, limit: TICKS_SHOWN }),
    POLL_MS,
    [session, scheduleId],
  );
  const action = useAction(() => {
    schedule.reload();
    ticks.reload();
  });
  const current = schedule.data;
  return (
    <section>
      <p>
        <a href="#/schedules">← Schedules</a>
      </p>
      <h1>
        Schedule <code>{scheduleId}</code>{" "}
        {current && (
          <span id="schedule-state" data-enabled={String(current.enabled)}>
            {enabledBadge(current)}
          </span>
        )}
      </h1>
      {schedule.error !== undefined && <p class="error">{describeError(schedule.error)}</p>}
      {action.error && <p class="error action-error">{action.error}</p>}
      {current && (
        <>
          <dl class="facts">
            <dt>Cron</dt>
            <dd>
              <code>{current.cronExpression}</code> ({current.timezone})
            </dd>
            <dt>Assets</dt>
            <dd>{current.assetSelection.join(", ")}</dd>
            <dt>Catch-up</dt>
            <dd>
              {current.catchupWindowMinutes ? `${current.catchupWindowMinutes} min` : "24 h"}, at most{" "}
              {current.maxCatchupTicks} ticks
            </dd>
            <dt>Last tick for</dt>
            <dd>{when(current.lastScheduledFor)}</dd>
          </dl>
          <div class="actions">
            <button
              id="enable-schedule"
              disabled={action.busy || current.enabled}
              onClick={() => action.run(() => orchestration.enableSchedule({ workspaceId, scheduleId }))}
            >
              Enable
            </button>
            <button
              id="disable-schedule"
              disabled={action.busy || !current.enabled}
              onClick={() => action.run(() => orchestration.disableSchedule({ workspaceId, scheduleId }))}
            >
              Disable
            </button>
          </div>
        </>
      )}
      <h2>Ticks</h2>
      {ticks.error !== undefined && <p class="error">{describeError(ticks.error)}</p>}
      {ticks.data && ticks.data.ticks.length > 0 && (
        <table id="ticks">
          <thead>
            <tr>
              <th>Scheduled for</th>
              <th>Status</th>
              <th>Run</th>
              <th>Why</th>
            </tr>
          </thead>
          <tbody>
            {ticks.data.ticks.map((tick) => {
              const status = enumName(TickStatus, tick.status);
              return (
                <tr class="tick-row" data-tick-id={tick.tickId} data-status={status}>
                  <td>{when(tick.scheduledFor)}</td>
                  <td>
                    <span class={`state ${status}`}>{status}</span>
                  </td>
                  <td>{tick.runId ? <a href={`#/runs/${tick.runId}`}>{tick.runId}</a> : "—"}</td>
                  <td class={tick.errorMessage ? "error" : "muted"}>{tick.errorMessage ?? tick.skipReason ?? ""}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {ticks.data && ticks.data.ticks.length === 0 && <p class="muted">No ticks yet.</p>}
    </section>
  );
}
