"""The runs due schedule ticks make, derived from the published orchestration state.

Nothing about a schedule's progress is stored besides its runs: a tick's run id is a hash
of its run key (``sched:{schedule_id}:{epoch seconds}``), so whether a tick ran is whether
that run exists. Two processes that evaluate the same tick (racing, or one restarted after
a kill mid-tick) write the same ``RunTriggered`` (keyed ``run:{run_key}``) and
``PlanCreated`` (keyed ``plan:{run_id}``), and the fold applies one of each.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from arco_core.automation.schedules import (
    ScheduleSpec,
    Tick,
    new_schedule_state,
    next_ticks,
    plan_ticks,
)
from arco_core.ids import run_id_from_run_key
from arco_core.orchestration.fold import FoldState
from arco_core.orchestration.runs import RunPlan, TriggerRequest, plan_run
from arco_core.orchestration.state import CodeManifestRow
from arco_core.orchestration.values import TriggerInfo

__all__ = [
    "DeployedSchedule",
    "deployed_schedules",
    "due_tick_runs",
    "next_tick_ms",
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
        labels={"arco.schedule_id": spec.schedule_id, "arco.tick_id": tick.tick_id},
        user_id=f"schedule:{spec.schedule_id}",
    )


def tick_run_id(tenant_id: str, workspace_id: str, tick: Tick) -> str:
    return run_id_from_run_key(_TICK_RUN_ID_KEY, tenant_id, workspace_id, tick.run_key)


@dataclass(frozen=True, slots=True)
class DeployedSchedule:
    """A schedule of the latest manifest; it owes ticks from when it was first deployed."""

    spec: ScheduleSpec
    created_at_ms: int


def _schedule_entries(row: CodeManifestRow, cache: dict[str, list[Any]]) -> list[Any]:
    entries = cache.get(row.manifest_id)
    if entries is None:
        entries = list(json.loads(row.manifest_json).get("schedules") or [])
        cache[row.manifest_id] = entries
    return entries


def deployed_schedules(
    state: FoldState, cache: dict[str, list[Any]] | None = None
) -> list[DeployedSchedule]:
    """The latest manifest's schedules, each with the deploy time of the oldest manifest
    that declared it (a redeploy does not restart its clock). ``cache`` holds parsed
    manifests by id between calls (manifests never change)."""
    cache = {} if cache is None else cache
    manifests = state.code_manifests()  # newest first
    if not manifests:
        return []
    first_seen: dict[str, int] = {}
    for row in reversed(manifests):
        for entry in _schedule_entries(row, cache):
            first_seen.setdefault(str(entry.get("id")), row.deployed_at)
    out = []
    for entry in _schedule_entries(manifests[0], cache):
        spec = ScheduleSpec(
            str(entry["id"]),
            str(entry["cron"]),
            tuple(entry["assets"]),
            str(entry.get("timezone") or "UTC"),
        )
        out.append(DeployedSchedule(spec, first_seen[spec.schedule_id]))
    return out


def due_tick_runs(
    state: FoldState,
    schedules: Iterable[DeployedSchedule],
    now_ms: int,
    *,
    tenant_id: str,
    workspace_id: str,
) -> list[tuple[Tick, RunPlan]]:
    """The run of each due tick that does not exist yet, oldest tick first."""
    latest = state.latest_code_manifest()
    if latest is None:
        return []
    manifest: Mapping[str, Any] | None = None
    out = []
    for schedule in schedules:
        plan = plan_ticks(schedule.spec, new_schedule_state(schedule.created_at_ms), now_ms)
        for tick in plan.due:
            run_id = tick_run_id(tenant_id, workspace_id, tick)
            if state.get_run(run_id) is not None:
                continue
            if manifest is None:
                manifest = json.loads(latest.manifest_json)
            run = plan_run(
                manifest,
                tick_trigger_request(schedule.spec, tick),
                run_id=run_id,
                code_version=latest.code_version_id,
            )
            trigger = TriggerInfo("cron", {"schedule_id": schedule.spec.schedule_id})
            run = dataclasses.replace(
                run, run_triggered=dataclasses.replace(run.run_triggered, trigger=trigger)
            )
            out.append((tick, run))
    return sorted(out, key=lambda item: item[0].at_ms)


def next_tick_ms(schedules: Sequence[DeployedSchedule], after_ms: int) -> int | None:
    """The earliest tick of any schedule after ``after_ms`` (None: no schedule)."""
    times = [t.at_ms for s in schedules for t in next_ticks(s.spec, after_ms, 1)]
    return min(times, default=None)
