"""Helpers of the orchestration fold tests: ULIDs with chosen times and an event factory."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from arco_core.canonical_json import canonical_dumps
from arco_core.envelope import EventEnvelope
from arco_core.ids import deterministic_attempt_id, dispatch_id
from arco_core.orchestration.events import (
    DispatchEnqueued,
    DispatchRequested,
    KnownPayload,
    ManifestDeployed,
    PlanCreated,
    RunCancelRequested,
    RunTriggered,
    TaskCompletionRecorded,
    TaskHeartbeat,
    TaskOutcome,
    TaskStarted,
    make_event,
)
from arco_core.orchestration.fold import FoldResult, FoldState
from arco_core.orchestration.projection import state_to_tables
from arco_core.orchestration.tables import TABLE_NAMES
from arco_core.orchestration.values import TaskDef, TaskError, TriggerInfo

TENANT = "acme"
WORKSPACE = "prod"
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def ulid_at(ms: int, seq: int = 0) -> str:
    """A ULID with time ``ms`` and randomness ``seq`` (so ids sort by (ms, seq))."""
    value = (ms << 80) | seq
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 0x1F])
        value >>= 5
    return "".join(reversed(chars))


def att(run_id: str, task_key: str, attempt: int) -> str:
    return deterministic_attempt_id(dispatch_id(run_id, task_key, attempt))


class Events:
    """Builds envelopes with strictly increasing ULIDs, one millisecond apart by default."""

    def __init__(self, start_ms: int = T0) -> None:
        self.ms = start_ms
        self.seq = 0

    def next_id(self, advance_ms: int = 1) -> str:
        self.ms += advance_ms
        self.seq += 1
        return ulid_at(self.ms, self.seq)

    def ev(
        self, payload: KnownPayload, *, event_id: str | None = None, ts: int | None = None
    ) -> EventEnvelope:
        eid = event_id or self.next_id()
        return make_event(
            payload, tenant_id=TENANT, workspace_id=WORKSPACE, event_id=eid, timestamp_ms=ts
        )

    # payload shortcuts -----------------------------------------------------------------

    def trigger(self, run: str, **kw: Any) -> EventEnvelope:
        return self.ev(
            RunTriggered(run_id=run, plan_id=f"plan_{run}", trigger=TriggerInfo.manual("u"), **kw)
        )

    def plan(self, run: str, deps: dict[str, Sequence[str]], **kw: Any) -> EventEnvelope:
        tasks = tuple(TaskDef(key=k, depends_on=tuple(v), **kw) for k, v in deps.items())
        return self.ev(PlanCreated(run_id=run, plan_id=f"plan_{run}", tasks=tasks))

    def asset_plan(
        self, run: str, assets: dict[str, Sequence[str]], partition_key: str | None
    ) -> EventEnvelope:
        """A plan with one task per asset (task key = asset key), edges as given."""
        tasks = tuple(
            TaskDef(key=k, depends_on=tuple(v), asset_key=k, partition_key=partition_key)
            for k, v in assets.items()
        )
        return self.ev(PlanCreated(run_id=run, plan_id=f"plan_{run}", tasks=tasks))

    def manifest(self, assets: dict[str, Sequence[str]]) -> EventEnvelope:
        """A deployed manifest declaring ``assets`` ("namespace.name" -> upstream keys)."""

        def key(asset: str) -> dict[str, str]:
            namespace, name = asset.split(".")
            return {"namespace": namespace, "name": name}

        doc = {
            "assets": [
                {"key": key(a), "dependencies": [{"upstreamKey": key(u)} for u in ups]}
                for a, ups in assets.items()
            ]
        }
        mid = self.next_id()
        return self.ev(
            ManifestDeployed(
                manifest_id=mid,
                code_version_id="cv1",
                fingerprint=f"fp{mid}",
                asset_count=len(assets),
                deployed_by="user:1",
                manifest_json=canonical_dumps(doc),
            )
        )

    def dispatch(
        self, run: str, key: str, attempt: int = 1, attempt_id: str | None = None
    ) -> EventEnvelope:
        did = dispatch_id(run, key, attempt)
        return self.ev(
            DispatchRequested(
                run_id=run,
                task_key=key,
                attempt=attempt,
                attempt_id=attempt_id or deterministic_attempt_id(did),
                dispatch_id=did,
            )
        )

    def enqueued(self, run: str, key: str, attempt: int = 1) -> EventEnvelope:
        did = dispatch_id(run, key, attempt)
        return self.ev(
            DispatchEnqueued(
                dispatch_id=did,
                cloud_task_id=f"d_{run}_{key}_{attempt}",
                run_id=run,
                task_key=key,
                attempt=attempt,
            )
        )

    def started(
        self, run: str, key: str, attempt: int = 1, attempt_id: str | None = None
    ) -> EventEnvelope:
        return self.ev(
            TaskStarted(
                run_id=run,
                task_key=key,
                attempt=attempt,
                attempt_id=attempt_id or att(run, key, attempt),
                worker_id="w1",
            )
        )

    def heartbeat(
        self, run: str, key: str, attempt: int = 1, at: int | None = None
    ) -> EventEnvelope:
        eid = self.next_id()
        return self.ev(
            TaskHeartbeat(
                run_id=run,
                task_key=key,
                attempt=attempt,
                attempt_id=att(run, key, attempt),
                worker_id="w1",
                heartbeat_at=at if at is not None else self.ms,
            ),
            event_id=eid,
        )

    def finished(
        self,
        run: str,
        key: str,
        outcome: TaskOutcome = TaskOutcome.SUCCEEDED,
        attempt: int = 1,
        *,
        attempt_id: str | None = None,
        error: TaskError | None = None,
        event_id: str | None = None,
        **kw: Any,
    ) -> EventEnvelope:
        return self.ev(
            TaskCompletionRecorded(
                run_id=run,
                task_key=key,
                attempt=attempt,
                attempt_id=attempt_id or att(run, key, attempt),
                worker_id="w1",
                outcome=outcome,
                error=error,
                **kw,
            ),
            event_id=event_id,
        )

    def failed(
        self, run: str, key: str, attempt: int = 1, *, retryable: bool = True, **kw: Any
    ) -> EventEnvelope:
        category = "INFRASTRUCTURE" if retryable else "DATA_QUALITY"
        return self.finished(
            run,
            key,
            TaskOutcome.FAILED,
            attempt,
            error=TaskError(category=category, message="boom", retryable=retryable),
            **kw,
        )

    def cancel(self, run: str) -> EventEnvelope:
        return self.ev(RunCancelRequested(run_id=run, requested_by="user:1", reason="stop"))


def fold_each(state: FoldState, events: Sequence[EventEnvelope]) -> list[FoldResult]:
    return [state.fold([e]) for e in events]


def projection(state: FoldState) -> dict[str, list[dict[str, Any]]]:
    """The full projection as sorted plain rows (via Arrow, so types are the stored ones)."""
    tables: dict[str, pa.Table] = state_to_tables(state)
    return {name: tables[name].to_pylist() for name in TABLE_NAMES}
