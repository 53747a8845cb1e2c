"""Which schedule ticks make runs, derived from the projection alone: the latest manifest's
schedules, each owing ticks from its first deploy; a tick whose run exists makes none."""

from __future__ import annotations

from arco_core.automation.schedules import run_key
from arco_core.automation.triggers import deployed_schedules, due_tick_runs, next_tick_ms
from arco_core.envelope import EventEnvelope
from arco_core.ids import ulid_floor
from arco_core.orchestration.deployments import plan_deploy
from arco_core.orchestration.events import make_event
from arco_core.orchestration.fold import FoldState
from arco_sdk import AssetContext, asset
from arco_sdk.manifest import AssetGraph, Schedule, build_manifest
from tests.unit.orchestration.orch_support import TENANT, WORKSPACE

HOUR = 3_600_000
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z


@asset(namespace="auto")
def report(context: AssetContext) -> None:
    return None


def _deploy(at_ms: int, *schedules: Schedule, manifest_id: str) -> EventEnvelope:
    manifest = build_manifest(AssetGraph([report]), schedules=list(schedules))
    plan = plan_deploy(
        manifest,
        manifest_id=manifest_id,
        tenant_id=TENANT,
        workspace_id=WORKSPACE,
        deployed_by="user:ci",
        deployed_at="2026-01-01T00:00:00Z",
    )
    return make_event(
        plan.event,
        tenant_id=TENANT,
        workspace_id=WORKSPACE,
        event_id=ulid_floor(at_ms),
        timestamp_ms=at_ms,
    )


def _state(*events: EventEnvelope) -> FoldState:
    state = FoldState(tenant_id=TENANT, workspace_id=WORKSPACE)
    state.fold(list(events))
    return state


HOURLY = Schedule("hourly", "0 * * * *", ("auto.report",))


def test_a_redeploy_keeps_the_first_deploy_time_and_a_dropped_schedule_stops() -> None:
    first = _deploy(T0 + 10 * 60_000, HOURLY, manifest_id=ulid_floor(T0 + 10 * 60_000))
    later = _deploy(T0 + 5 * HOUR, HOURLY, manifest_id=ulid_floor(T0 + 5 * HOUR))
    (schedule,) = deployed_schedules(_state(first, later))
    assert (schedule.spec.schedule_id, schedule.created_at_ms) == ("hourly", T0 + 10 * 60_000)
    gone = _deploy(T0 + 6 * HOUR, manifest_id=ulid_floor(T0 + 6 * HOUR))
    assert deployed_schedules(_state(first, later, gone)) == []


def test_due_ticks_make_cron_runs_once_and_a_run_that_exists_makes_none() -> None:
    state = _state(_deploy(T0 + 10 * 60_000, HOURLY, manifest_id=ulid_floor(T0 + 10 * 60_000)))
    schedules = deployed_schedules(state)
    now = T0 + 3 * HOUR + 5 * 60_000
    due = due_tick_runs(state, schedules, now, tenant_id=TENANT, workspace_id=WORKSPACE)
    # Ticks at 01:00, 02:00 and 03:00 were missed; one catch-up tick (the newest) runs.
    assert [tick.at_ms for tick, _ in due] == [T0 + 3 * HOUR]
    ((tick, plan),) = due
    triggered = plan.run_triggered
    assert triggered.run_key == run_key("hourly", T0 + 3 * HOUR)
    assert triggered.trigger.to_json() == {"type": "cron", "schedule_id": "hourly"}
    assert triggered.labels == {"arco.schedule_id": "hourly", "arco.tick_id": tick.tick_id}
    assert [t.key for t in plan.plan_created.tasks] == ["auto.report"]
    again = due_tick_runs(state, schedules, now, tenant_id=TENANT, workspace_id=WORKSPACE)
    assert again[0][1].run_triggered.run_id == triggered.run_id  # the same id every time

    events = [
        make_event(p, tenant_id=TENANT, workspace_id=WORKSPACE)
        for p in (plan.run_triggered, plan.plan_created)
    ]
    state.fold(events)
    assert due_tick_runs(state, schedules, now, tenant_id=TENANT, workspace_id=WORKSPACE) == []
    assert next_tick_ms(schedules, now) == T0 + 4 * HOUR
    other_scope = due_tick_runs(state, schedules, now, tenant_id=TENANT, workspace_id="other")
    assert other_scope[0][1].run_triggered.run_id != triggered.run_id


def test_no_manifest_no_runs() -> None:
    state = _state()
    assert deployed_schedules(state) == []
    assert due_tick_runs(state, [], T0, tenant_id=TENANT, workspace_id=WORKSPACE) == []
    assert next_tick_ms([], T0) is None
