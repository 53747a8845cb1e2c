"""Stored schedules and their tick records, folded: a deploy defines its schedules, an
evaluation writes each due tick's record with the run it requests, and folding that
batch moves the schedule on, so nothing is owed twice."""

from __future__ import annotations

from datetime import UTC, datetime

from arco_core.automation.schedules import Tick, run_key
from arco_core.automation.triggers import next_tick_ms, tick_batches, tick_run_id
from arco_core.envelope import EventEnvelope
from arco_core.folding import RetentionCutoffs
from arco_core.ids import ulid_floor
from arco_core.orchestration.deployments import plan_deploy
from arco_core.orchestration.events import (
    KnownPayload,
    ManifestDeployed,
    PlanCreated,
    RunTriggered,
    ScheduleDefinitionUpserted,
    ScheduleTicked,
    make_event,
)
from arco_core.orchestration.fold import FoldState
from arco_core.orchestration.state import ScheduleRow
from arco_sdk import AssetContext, asset
from arco_sdk.manifest import AssetGraph, Schedule, build_manifest
from tests.unit.orchestration.orch_support import TENANT, WORKSPACE

MINUTE = 60_000
HOUR = 60 * MINUTE
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z


@asset(namespace="auto")
def report(context: AssetContext) -> None:
    return None


def _deploy(at_ms: int, *schedules: Schedule) -> EventEnvelope:
    manifest = build_manifest(AssetGraph([report]), schedules=list(schedules))
    plan = plan_deploy(
        manifest,
        manifest_id=ulid_floor(at_ms),
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


def _upsert(at_ms: int, schedule_id: str, cron: str, **fields: object) -> EventEnvelope:
    values: dict[str, object] = {
        "timezone": "UTC",
        "catchup_window_minutes": 0,
        "max_catchup_ticks": 1,
        "asset_selection": ("auto.report",),
        "enabled": True,
        "request_id": f"put:{at_ms}",
    }
    values.update(fields)
    payload = ScheduleDefinitionUpserted(schedule_id, cron, **values)  # type: ignore[arg-type]
    return make_event(
        payload,
        tenant_id=TENANT,
        workspace_id=WORKSPACE,
        event_id=ulid_floor(at_ms),
        timestamp_ms=at_ms,
    )


def _state(*events: EventEnvelope) -> FoldState:
    state = FoldState(tenant_id=TENANT, workspace_id=WORKSPACE)
    state.fold(list(events))
    return state


def _evaluate(state: FoldState, now_ms: int, *, fold: bool = True) -> list[KnownPayload]:
    """One evaluation's payloads, folded batch by batch as the loop commits them."""
    payloads: list[KnownPayload] = []
    for batch in tick_batches(state, now_ms, tenant_id=TENANT, workspace_id=WORKSPACE):
        events = [make_event(p, tenant_id=TENANT, workspace_id=WORKSPACE) for p in batch.payloads]
        if fold:
            state.fold(events)
        payloads.extend(batch.payloads)
    return payloads


def _schedule(state: FoldState, schedule_id: str = "hourly") -> ScheduleRow:
    row = state.get_schedule(schedule_id)
    assert row is not None
    return row


def _ticks(payloads: list[KnownPayload]) -> list[tuple[int, str, str | None]]:
    return [
        (p.scheduled_for, p.status.value, p.skip_reason)
        for p in payloads
        if isinstance(p, ScheduleTicked)
    ]


def _runs(state: FoldState) -> dict[str, str]:
    out: dict[str, str] = {}
    for run_id in state.run_ids():
        run = state.get_run(run_id)
        assert run is not None and run.run_key is not None
        out[run.run_key] = run_id
    return out


HOURLY = Schedule("hourly", "0 * * * *", ("auto.report",))


def test_a_deploy_defines_its_schedules_and_a_redeploy_keeps_what_operators_set() -> None:
    first = _deploy(T0 + 10 * MINUTE, HOURLY)
    state = _state(first)
    row = _schedule(state)
    deployed_at = T0 + 10 * MINUTE
    assert (row.enabled, row.created_at, row.evaluated_through) == (True, deployed_at, deployed_at)
    assert (row.catchup_window_minutes, row.max_catchup_ticks) == (0, 1)
    # An operator disables it and widens catch-up; the same schedule redeployed changes
    # nothing, a new cron changes only the cron.
    state.fold([_upsert(T0 + HOUR, "hourly", "0 * * * *", enabled=False, max_catchup_ticks=5)])
    state.fold([_deploy(T0 + 2 * HOUR, HOURLY)])
    assert _schedule(state).definition_version == ulid_floor(T0 + HOUR)
    state.fold([_deploy(T0 + 3 * HOUR, Schedule("hourly", "30 * * * *", ("auto.report",)))])
    row = _schedule(state)
    assert (row.cron_expression, row.enabled, row.max_catchup_ticks) == ("30 * * * *", False, 5)
    # A manifest without it leaves it be (there is no delete).
    state.fold([_deploy(T0 + 4 * HOUR)])
    assert _schedule(state).cron_expression == "30 * * * *"


def test_an_older_definition_never_replaces_a_newer_one() -> None:
    state = _state(_upsert(T0 + 2 * MINUTE, "s", "5 * * * *"))
    result = state.fold([_upsert(T0 + MINUTE, "s", "7 * * * *")])
    assert result.rejected == 1
    assert _schedule(state, "s").cron_expression == "5 * * * *"


def test_due_ticks_are_recorded_with_their_runs_once() -> None:
    state = _state(_deploy(T0 + 10 * MINUTE, HOURLY))
    now = T0 + 3 * HOUR + 5 * MINUTE
    payloads = _evaluate(state, now)
    # Ticks at 01:00, 02:00 and 03:00 were missed; one catch-up tick (the newest) runs.
    assert _ticks(payloads) == [
        (T0 + HOUR, "skipped", "max_catchup_ticks"),
        (T0 + 2 * HOUR, "skipped", "max_catchup_ticks"),
        (T0 + 3 * HOUR, "triggered", None),
    ]
    record, triggered, plan = payloads[-3:]
    assert isinstance(triggered, RunTriggered) and isinstance(plan, PlanCreated)
    assert isinstance(record, ScheduleTicked)
    assert triggered.run_key == record.run_key == run_key("hourly", T0 + 3 * HOUR)
    assert triggered.run_id == record.run_id == plan.run_id
    assert triggered.trigger.to_json() == {"type": "cron", "schedule_id": "hourly"}
    assert [t.key for t in plan.tasks] == ["auto.report"]
    assert _runs(state) == {triggered.run_key: triggered.run_id}
    row = _schedule(state)
    assert (row.last_scheduled_for, row.last_run_key) == (T0 + 3 * HOUR, triggered.run_key)
    tick = state.get_schedule_tick(record.tick_id)
    assert tick is not None and (tick.status, tick.run_id) == ("TRIGGERED", triggered.run_id)
    # Evaluating again at the same instant owes nothing; the next tick is at 04:00.
    assert _evaluate(state, now) == []
    assert next_tick_ms(state.schedules(), now) == T0 + 4 * HOUR


def test_a_disabled_schedule_records_paused_ticks_and_resumes_from_its_enable() -> None:
    state = _state(_deploy(T0 + 10 * MINUTE, HOURLY))
    state.fold([_upsert(T0 + 20 * MINUTE, "hourly", "0 * * * *", enabled=False)])
    paused = _evaluate(state, T0 + 2 * HOUR + MINUTE)
    assert _ticks(paused) == [
        (T0 + HOUR, "skipped", "paused"),
        (T0 + 2 * HOUR, "skipped", "paused"),
    ]
    assert _runs(state) == {}
    assert _schedule(state).last_run_key is None
    # Down for a while, then enabled at 05:30 with a wide catch-up: the disabled stretch
    # (03:00 to 05:00) is not run; 06:00 is.
    state.fold([_upsert(T0 + 5 * HOUR + 30 * MINUTE, "hourly", "0 * * * *", max_catchup_ticks=10)])
    assert _evaluate(state, T0 + 5 * HOUR + 40 * MINUTE) == []
    resumed = _evaluate(state, T0 + 6 * HOUR + MINUTE)
    assert _ticks(resumed) == [(T0 + 6 * HOUR, "triggered", None)]
    assert list(_runs(state)) == [run_key("hourly", T0 + 6 * HOUR)]


def test_ticks_older_than_the_window_are_one_expired_record() -> None:
    state = _state(
        _deploy(T0 - MINUTE), _upsert(T0, "hourly", "0 * * * *", catchup_window_minutes=120)
    )
    payloads = _evaluate(state, T0 + 10 * HOUR + MINUTE)
    assert _ticks(payloads) == [
        (T0 + HOUR, "skipped", "outside_catchup_window"),
        (T0 + 9 * HOUR, "skipped", "max_catchup_ticks"),
        (T0 + 10 * HOUR, "triggered", None),
    ]
    expired = payloads[0]
    assert isinstance(expired, ScheduleTicked)
    assert expired.skipped_through == T0 + 8 * HOUR + MINUTE
    assert _evaluate(state, T0 + 10 * HOUR + 2 * MINUTE) == []


def test_a_new_york_hourly_schedule_fires_in_both_fall_back_hours() -> None:
    # 2025-11-02: 01:00 local happens twice (05:00Z EDT and 06:00Z EST).
    start = int(datetime(2025, 11, 2, 4, 30, tzinfo=UTC).timestamp() * 1000)
    state = _state(
        _deploy(start - HOUR),
        _upsert(start, "ny", "0 * * * *", timezone="America/New_York", max_catchup_ticks=10),
    )
    payloads = _evaluate(state, start + 3 * HOUR)
    utc_hours = [
        datetime.fromtimestamp(at / 1000, UTC).strftime("%H:%MZ") for at, _, _ in _ticks(payloads)
    ]
    assert utc_hours == ["05:00Z", "06:00Z", "07:00Z"]
    assert len(_runs(state)) == 3


def test_racing_evaluations_at_different_times_make_one_run_per_tick() -> None:
    """One process evaluates at 03:05 (runs 03:00, skips 01:00 and 02:00), another at
    04:05 with the same stale state (runs 04:00 only). Whichever folds first, each tick
    has at most one run and a tick whose run exists says it triggered."""
    deploy = _deploy(T0 + 10 * MINUTE, HOURLY)
    for order in ("early_first", "late_first"):
        base = _state(deploy)
        early = tick_batches(
            base, T0 + 3 * HOUR + 5 * MINUTE, tenant_id=TENANT, workspace_id=WORKSPACE
        )
        late = tick_batches(
            base, T0 + 4 * HOUR + 5 * MINUTE, tenant_id=TENANT, workspace_id=WORKSPACE
        )
        batches = early + late if order == "early_first" else late + early
        for batch in batches + batches:  # and each delivered twice
            base.fold(
                [make_event(p, tenant_id=TENANT, workspace_id=WORKSPACE) for p in batch.payloads]
            )
        runs = _runs(base)
        assert set(runs) == {run_key("hourly", T0 + 3 * HOUR), run_key("hourly", T0 + 4 * HOUR)}
        for hour in (3, 4):
            tick = base.get_schedule_tick(f"hourly:{(T0 + hour * HOUR) // 1000}")
            assert tick is not None and tick.status == "TRIGGERED", (order, hour)
            assert tick.run_id == tick_run_id(TENANT, WORKSPACE, Tick("hourly", T0 + hour * HOUR))
        assert _evaluate(base, T0 + 4 * HOUR + 6 * MINUTE) == []


def test_a_schedule_whose_assets_left_the_manifest_records_a_failed_tick() -> None:
    state = _state(
        _deploy(T0),
        _upsert(T0 + MINUTE, "gone", "0 * * * *", asset_selection=("auto.missing",)),
    )
    payloads = _evaluate(state, T0 + HOUR + MINUTE)
    assert _ticks(payloads) == [(T0 + HOUR, "failed", None)]
    assert _runs(state) == {}


def test_no_schedules_no_ticks() -> None:
    state = _state()
    assert _evaluate(state, T0) == []
    assert next_tick_ms([], T0) is None


def test_retention_removes_old_tick_records_unless_their_run_is_kept() -> None:
    state = _state(_deploy(T0 + 10 * MINUTE, Schedule("hourly", "0 * * * *", ("auto.report",))))
    state.fold([_upsert(T0 + 20 * MINUTE, "hourly", "0 * * * *", max_catchup_ticks=5)])
    payloads = _evaluate(state, T0 + 2 * HOUR + MINUTE)  # two ticks, two (unfinished) runs
    state.fold([_upsert(T0 + 3 * HOUR, "hourly", "0 * * * *", enabled=False)])
    _evaluate(state, T0 + 3 * HOUR + MINUTE)  # one paused record, no run
    assert len(state.schedule_ticks("hourly")) == 3
    # Every record was made before the cutoff; the running runs keep theirs.
    cutoff = max(t.recorded_at for t in state.schedule_ticks("hourly")) + 1
    state.expire(RetentionCutoffs(terminal_runs_before_ms=cutoff))
    kept = state.schedule_ticks("hourly")
    assert [t.status for t in kept] == ["TRIGGERED", "TRIGGERED"]
    assert {t.run_id for t in kept} == {p.run_id for p in payloads if isinstance(p, RunTriggered)}
    # The schedule's progress is on its row: nothing is owed again.
    assert _evaluate(state, T0 + 3 * HOUR + 2 * MINUTE) == []


def test_a_malformed_manifest_document_defines_no_schedule_and_fails_nothing() -> None:
    bad = ManifestDeployed(
        "m1", "cv1", "fp", 0, "u", '{"schedules": [{"id": "x"}, 3, {"cron": "* * * * *"}]}'
    )
    listed = ManifestDeployed("m2", "cv1", "fp", 0, "u", "[1, 2]")
    result = _state().fold(
        [make_event(p, tenant_id=TENANT, workspace_id=WORKSPACE) for p in (bad, listed)]
    )
    assert result.applied == 2
