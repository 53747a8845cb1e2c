"""What the stored schedules owe at an instant, as ledger payloads.

The ``schedules`` fold table holds each definition and ``evaluated_through``: every tick at
or before it has a ``ScheduleTicked`` record. An evaluation plans the ticks after it
(:func:`~arco_core.automation.schedules.plan_ticks`: catch-up window, max catch-up ticks,
paused) and writes, per schedule, one batch: each tick's record, and for a tick that runs
its ``RunTriggered`` and ``PlanCreated`` right after it. Every key is the tick's:
``sched_tick:{tick_id}``, ``run:{run_key}``, ``plan:{run_id}`` with the run id a hash of
the run key, so two processes that evaluate the same tick (racing, or one restarted after
a kill mid-tick) write the same keys and the fold applies one of each.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable
from dataclasses import dataclass

from arco_core.automation.schedules import (
    DEFAULT_CATCHUP_WINDOW_SECONDS,
    ScheduleSpec,
    ScheduleState,
    Tick,
    next_ticks,
    plan_ticks,
)
from arco_core.errors import ArcoError
from arco_core.ids import run_id_from_run_key
from arco_core.orchestration.events import KnownPayload, ScheduleTicked, TickStatus
from arco_core.orchestration.fold import FoldState
from arco_core.orchestration.runs import TriggerRequest, plan_run
from arco_core.orchestration.schedules_fold import TICK_ID_LABEL, asset_selection
from arco_core.orchestration.state import ScheduleRow
from arco_core.orchestration.values import TriggerInfo

__all__ = [
    "TickBatch",
    "next_tick_ms",
    "schedule_spec",
    "tick_batches",
    "tick_run_id",
    "tick_trigger_request",
]

# Run ids of ticks derive from public run keys: there is nothing to keep secret in them.
_TICK_RUN_ID_KEY = b""


def tick_trigger_request(spec: ScheduleSpec, tick: Tick) -> TriggerRequest:
    """The run request for a due tick, with the tick's run key."""
    return TriggerRequest(
        selection=spec.assets,
        run_key=tick.run_key,
        labels={"arco.schedule_id": spec.schedule_id, TICK_ID_LABEL: tick.tick_id},
        user_id=f"schedule:{spec.schedule_id}",
    )


def tick_run_id(tenant_id: str, workspace_id: str, tick: Tick) -> str:
    return run_id_from_run_key(_TICK_RUN_ID_KEY, tenant_id, workspace_id, tick.run_key)


def schedule_spec(row: ScheduleRow) -> ScheduleSpec:
    """The validated spec of a stored definition; raises if it does not validate."""
    return ScheduleSpec(
        row.schedule_id,
        row.cron_expression,
        tuple(asset_selection(row)),
        row.timezone,
        row.catchup_window_minutes * 60 or DEFAULT_CATCHUP_WINDOW_SECONDS,
        row.max_catchup_ticks,
    )


@dataclass(frozen=True, slots=True)
class TickBatch:
    """One schedule's payloads of one evaluation, in fold order (a tick record before
    its run's events)."""

    schedule_id: str
    payloads: tuple[KnownPayload, ...]

    @property
    def triggered(self) -> int:
        return sum(
            1
            for p in self.payloads
            if isinstance(p, ScheduleTicked) and p.status is TickStatus.TRIGGERED
        )

    @property
    def request_id(self) -> str:
        first = self.payloads[0]
        return first.tick_id if isinstance(first, ScheduleTicked) else self.schedule_id


class _Planner:
    def __init__(self, state: FoldState, tenant_id: str, workspace_id: str) -> None:
        self._state = state
        self._tenant_id = tenant_id
        self._workspace_id = workspace_id
        self._manifest: dict[str, object] | None = None

    def _record(
        self,
        row: ScheduleRow,
        tick: Tick,
        status: TickStatus,
        *,
        skip_reason: str | None = None,
        error_message: str | None = None,
        run_key: str | None = None,
        run_id: str | None = None,
        skipped_through: int | None = None,
    ) -> ScheduleTicked:
        return ScheduleTicked(
            tick_id=tick.tick_id,
            schedule_id=row.schedule_id,
            scheduled_for=tick.at_ms,
            status=status,
            asset_selection=tuple(asset_selection(row)),
            definition_version=row.definition_version,
            skip_reason=skip_reason,
            error_message=error_message,
            run_key=run_key,
            run_id=run_id,
            skipped_through=skipped_through,
        )

    def _run(self, row: ScheduleRow, spec: ScheduleSpec, tick: Tick) -> list[KnownPayload]:
        latest = self._state.latest_code_manifest()
        if latest is None:
            failed = self._record(
                row, tick, TickStatus.FAILED, error_message="no manifest deployed"
            )
            return [failed]
        if self._manifest is None:
            self._manifest = json.loads(latest.manifest_json)
        run_id = tick_run_id(self._tenant_id, self._workspace_id, tick)
        try:
            plan = plan_run(
                self._manifest,
                tick_trigger_request(spec, tick),
                run_id=run_id,
                code_version=latest.code_version_id,
            )
        except ArcoError as exc:  # e.g. an asset the deployed manifest no longer has
            return [self._record(row, tick, TickStatus.FAILED, error_message=exc.message)]
        trigger = TriggerInfo("cron", {"schedule_id": spec.schedule_id})
        run_triggered = dataclasses.replace(plan.run_triggered, trigger=trigger)
        record = self._record(row, tick, TickStatus.TRIGGERED, run_key=tick.run_key, run_id=run_id)
        return [record, run_triggered, plan.plan_created]

    def batch(self, row: ScheduleRow, now_ms: int) -> TickBatch | None:
        try:
            spec = schedule_spec(row)
        except ArcoError as exc:
            # Only a raw event can store a bad definition (the api validates): one failed
            # record per definition version, not one per evaluation.
            tick_id = f"{row.schedule_id}:invalid:{row.definition_version}"
            if self._state.get_schedule_tick(tick_id) is not None:
                return None
            failed = ScheduleTicked(
                tick_id=tick_id,
                schedule_id=row.schedule_id,
                scheduled_for=now_ms,
                status=TickStatus.FAILED,
                asset_selection=tuple(asset_selection(row)),
                definition_version=row.definition_version,
                error_message=exc.message,
            )
            return TickBatch(row.schedule_id, (failed,))
        plan = plan_ticks(spec, ScheduleState(row.enabled, row.evaluated_through), now_ms)
        payloads: list[KnownPayload] = []
        if plan.expired is not None:
            payloads.append(
                self._record(
                    row,
                    plan.expired.first,
                    TickStatus.SKIPPED,
                    skip_reason=plan.expired.reason,
                    skipped_through=plan.expired.through_ms,
                )
            )
        skipped = {s.tick.at_ms: s for s in plan.skipped}
        due = {t.at_ms: t for t in plan.due}
        for at_ms in sorted(skipped.keys() | due.keys()):
            if at_ms in due:
                payloads.extend(self._run(row, spec, due[at_ms]))
            else:
                skip = skipped[at_ms]
                payloads.append(
                    self._record(row, skip.tick, TickStatus.SKIPPED, skip_reason=skip.reason)
                )
        return TickBatch(row.schedule_id, tuple(payloads)) if payloads else None


def tick_batches(
    state: FoldState, now_ms: int, *, tenant_id: str, workspace_id: str
) -> list[TickBatch]:
    """Per stored schedule with ticks due by ``now_ms``, the payloads that record them
    (and request the runs of those that run)."""
    planner = _Planner(state, tenant_id, workspace_id)
    batches = (planner.batch(row, now_ms) for row in state.schedules())
    return [batch for batch in batches if batch is not None]


def next_tick_ms(rows: Iterable[ScheduleRow], after_ms: int) -> int | None:
    """The earliest tick of any valid stored schedule after ``after_ms`` (None: none)."""
    specs: list[ScheduleSpec] = []
    for row in rows:
        try:
            specs.append(schedule_spec(row))
        except ArcoError:
            continue
    times = [t.at_ms for spec in specs for t in next_ticks(spec, after_ms, 1)]
    return min(times, default=None)
