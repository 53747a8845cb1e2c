// Names, times and colours shared by the pages.
import { RunStatus, TaskStatus } from "@arco/sdk/gen/arco/orchestration/v1/types_pb";

export { RunStatus, TaskStatus };

/** A google.protobuf.Timestamp as protobuf-es hands it over. */
export type Stamp = { seconds: bigint; nanos: number } | undefined;

export function millis(stamp: Stamp): number | undefined {
  if (!stamp || (stamp.seconds === 0n && stamp.nanos === 0)) return undefined;
  return Number(stamp.seconds) * 1000 + Math.floor(stamp.nanos / 1e6);
}

export function when(stamp: Stamp): string {
  const ms = millis(stamp);
  return ms === undefined ? "—" : new Date(ms).toLocaleString();
}

export function duration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

export function runStateName(state: RunStatus): string {
  return RunStatus[state] ?? "UNSPECIFIED";
}

export function taskStateName(state: TaskStatus): string {
  return TaskStatus[state] ?? "UNSPECIFIED";
}

const FINISHED_RUN = new Set([
  RunStatus.SUCCEEDED,
  RunStatus.FAILED,
  RunStatus.CANCELLED,
  RunStatus.TIMED_OUT,
]);

export function runFinished(state: RunStatus): boolean {
  return FINISHED_RUN.has(state);
}

/** Every selectable run state of the list's filter (UNSPECIFIED: all). */
export const RUN_STATES = Object.values(RunStatus).filter(
  (value): value is RunStatus => typeof value === "number" && value !== RunStatus.UNSPECIFIED,
);

/** The name of a protobuf-es enum value ("UNSPECIFIED" for an unknown one). */
export function enumName(names: Record<number, string>, value: number): string {
  return names[value] ?? "UNSPECIFIED";
}
