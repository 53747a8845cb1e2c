"""The sensor fold: applied evaluations move the cursor once per state version, stale
answers are recorded as skipped with no runs, a pushed message folds once, and the
tables survive the Arrow round trip."""

from __future__ import annotations

import json

from arco_core.automation.sensor_runs import (
    DeployedSensor,
    EvalFilter,
    eval_run_plans,
    list_sensor_evals,
    list_sensors,
    missing_sensor_runs,
    push_evaluation,
)
from arco_core.automation.sensors import EvaluationStatus, SensorKind, SensorSpec
from arco_core.folding import EventOutcome
from arco_core.orchestration.events import SensorEvaluated, SensorRunRequestRecord, make_event
from arco_core.orchestration.fold import FoldState
from arco_core.orchestration.projection import state_from_tables, state_to_tables
from tests.unit.orchestration.orch_support import TENANT, WORKSPACE, Events, projection


def _env(payload: SensorEvaluated, e: Events) -> object:
    return make_event(payload, tenant_id=TENANT, workspace_id=WORKSPACE, event_id=e.next_id())


def _poll(eval_id: str, version: int, cursor: str, *keys: str) -> SensorEvaluated:
    requests = tuple(SensorRunRequestRecord(k, ("ns.raw",)) for k in keys)
    return SensorEvaluated(
        "files", eval_id, "poll", expected_state_version=version, cursor_after=cursor,
        run_requests=requests,
    )  # fmt: skip


def test_two_answers_from_one_state_version_move_the_cursor_once() -> None:
    e, state = Events(), FoldState(tenant_id=TENANT, workspace_id=WORKSPACE)
    first = state.fold([_env(_poll("e1", 0, "c1", "f1"), e)])  # type: ignore[list-item]
    second = state.fold([_env(_poll("e2", 0, "c-other", "f9"), e)])  # type: ignore[list-item]
    assert first.applied == second.applied == 1  # the loser is recorded, not dropped
    (sensor,) = state.sensor_state_table.rows.values()
    assert (sensor.cursor, sensor.state_version, sensor.last_eval_id) == ("c1", 1, "e1")
    evals = {r.eval_id: r for r in state.sensor_eval_table.rows.values()}
    assert evals["e1"].status == EvaluationStatus.TRIGGERED
    assert evals["e2"].status == EvaluationStatus.SKIPPED_STALE_CURSOR
    assert evals["e2"].run_requests is None and evals["e2"].cursor_after == "c1"
    # The next answer names the new version and applies.
    state.fold([_env(_poll("e3", 1, "c2"), e)])  # type: ignore[list-item]
    (sensor,) = state.sensor_state_table.rows.values()
    assert (sensor.cursor, sensor.state_version) == ("c2", 2)


def test_a_pushed_message_folds_once_and_its_replay_plans_no_second_run() -> None:
    e, state = Events(), FoldState(tenant_id=TENANT, workspace_id=WORKSPACE)
    state.fold([e.manifest({"ns.raw": []})])
    deployed = DeployedSensor(SensorSpec("hook", SensorKind.PUSH), ("ns.raw",))
    push = push_evaluation("hook", "m1", eval_id="e1", deployed=deployed, attributes={"a": "b"})
    replay = push_evaluation("hook", "m1", eval_id="e2", deployed=deployed, attributes={})
    assert state.fold([_env(push, e)]).applied == 1  # type: ignore[list-item]
    result = state.fold([_env(replay, e)])  # type: ignore[list-item]
    assert result.outcomes and set(result.outcomes.values()) == {EventOutcome.DUPLICATE}
    (row,) = state.sensor_eval_table.rows.values()
    manifest = state.latest_code_manifest()
    assert manifest is not None
    plans = eval_run_plans(state, row, json.loads(manifest.manifest_json), "v1")
    assert len(plans) == 1
    trig = plans[0].run_triggered
    assert trig.run_key == "sensor:hook:m1" and trig.labels["arco.message.a"] == "b"
    assert trig.trigger.kind == "sensor"


def test_history_filters_pages_and_survives_arrow() -> None:
    e, state = Events(), FoldState(tenant_id=TENANT, workspace_id=WORKSPACE)
    for i in range(5):
        state.fold([_env(_poll(f"e{i}", i, f"c{i}"), e)])  # type: ignore[list-item]
    loaded = state_from_tables(state_to_tables(state))
    assert projection(loaded) == projection(state)
    page, cursor = list_sensor_evals(loaded, "files", limit=2, cursor="", where=EvalFilter())
    assert [r.eval_id for r in page] == ["e4", "e3"] and cursor
    rest, end = list_sensor_evals(loaded, "files", limit=10, cursor=cursor, where=EvalFilter())
    assert [r.eval_id for r in rest] == ["e2", "e1", "e0"] and end is None
    only = EvalFilter(status=EvaluationStatus.TRIGGERED)
    assert list_sensor_evals(loaded, "files", limit=0, cursor="", where=only) == ([], None)
    assert list_sensor_evals(loaded, "other", limit=0, cursor="", where=EvalFilter()) == ([], None)
    sensors, next_cursor = list_sensors(loaded, limit=0, cursor="")
    assert [s.sensor_id for s in sensors] == ["files"] and next_cursor is None


def test_the_runs_an_interrupted_writer_left_out_are_found_once() -> None:
    e, state = Events(), FoldState(tenant_id=TENANT, workspace_id=WORKSPACE)
    state.fold([e.manifest({"ns.raw": []})])
    state.fold([_env(_poll("e1", 0, "c1", "f1", "f2"), e)])  # type: ignore[list-item]
    state.fold([_env(_poll("e2", 0, "c9", "f9"), e)])  # type: ignore[list-item]  # stale
    latest = state.latest_code_manifest()
    assert latest is not None
    manifest = json.loads(latest.manifest_json)
    plans = missing_sensor_runs(state, manifest, "v1")
    assert sorted(p.run_triggered.run_key or "" for p in plans) == [
        "sensor:files:f1",
        "sensor:files:f2",
    ]
    state.fold([e.ev(p) for plan in plans for p in (plan.run_triggered, plan.plan_created)])
    assert missing_sensor_runs(state, manifest, "v1") == []
