"""Event payloads: wire shape, round trips, idempotency keys (orchestration.md §1.2)."""

from __future__ import annotations

import pytest
from orch_support import T0, TENANT, WORKSPACE, ulid_at

from arco_core.errors import InvalidArgument
from arco_core.orchestration.events import (
    DispatchEnqueued,
    DispatchRequested,
    PlanCreated,
    RunCancelRequested,
    RunTriggered,
    TaskCompletionRecorded,
    TaskFinished,
    TaskHeartbeat,
    TaskOutcome,
    TaskOutputVisibilityChanged,
    TaskStarted,
    TimerEnqueued,
    TimerFired,
    TimerRequested,
    TimerType,
    UnknownEvent,
    make_event,
    parse_payload,
)
from arco_core.orchestration.values import (
    OutputVisibility,
    TaskDef,
    TaskError,
    TriggerInfo,
    VisibilityState,
)

PAYLOADS = [
    (
        RunTriggered(
            run_id="r1",
            plan_id="p1",
            trigger=TriggerInfo("cron", {"schedule_id": "s1"}),
            root_assets=("a.b",),
            labels={"team": "x"},
            code_version="v1",
            parent_run_id="r0",
            rerun_kind="from_failure",
            rerun_reason="retry",
        ),
        "run:r1",
    ),
    (
        RunTriggered(run_id="r1", plan_id="p1", trigger=TriggerInfo.manual("u"), run_key="k"),
        "run:k",
    ),
    (
        PlanCreated(
            run_id="r1",
            plan_id="p1",
            tasks=(TaskDef("a"), TaskDef("b", ("a",), asset_key="x", worker_queue="gpu")),
        ),
        "plan:r1",
    ),
    (RunCancelRequested(run_id="r1", requested_by="u"), "cancel_req:r1"),
    (
        DispatchRequested(
            run_id="r1", task_key="a", attempt=1, attempt_id="att", dispatch_id="dispatch:r1:a:1"
        ),
        "dispatch_req:dispatch:r1:a:1",
    ),
    (
        DispatchEnqueued(dispatch_id="dispatch:r1:a:1", cloud_task_id="d_x"),
        "dispatch_ack:dispatch:r1:a:1",
    ),
    (
        TaskStarted(run_id="r1", task_key="a", attempt=2, attempt_id="x", worker_id="w"),
        "started:r1:a:2",
    ),
    (
        TaskHeartbeat(
            run_id="r1",
            task_key="a",
            attempt=1,
            attempt_id="x",
            worker_id="w",
            heartbeat_at=T0 + 5,
            progress_pct=45,
        ),
        f"heartbeat:r1:a:1:x:{T0 + 5}",
    ),
    (
        TaskHeartbeat(run_id="r1", task_key="a", attempt=1, attempt_id="x", worker_id="w"),
        "heartbeat:r1:a:1:x",
    ),
    (
        TaskFinished(
            run_id="r1",
            task_key="a",
            attempt=1,
            attempt_id="x",
            worker_id="w",
            outcome=TaskOutcome.FAILED,
            error=TaskError("USER_CODE", "boom", stack_trace="tb", retryable=False),
            metrics={"cpuTimeMs": 12},
        ),
        "finished:r1:a:1",
    ),
    (
        TaskCompletionRecorded(
            run_id="r1",
            task_key="a",
            attempt=1,
            attempt_id="x",
            worker_id="w",
            outcome=TaskOutcome.SUCCEEDED,
            output={"materializationId": "m", "rowCount": 3},
            output_visibility=OutputVisibility(VisibilityState.VISIBLE, published_at=T0),
        ),
        "finished:r1:a:1",
    ),
    (
        TaskOutputVisibilityChanged(
            run_id="r1",
            task_key="a",
            attempt=1,
            attempt_id="x",
            visibility_state=VisibilityState.FAILED,
            publish_error="e",
        ),
        "output_visibility:r1:a:1:failed",
    ),
    (
        TimerRequested(timer_id="timer:x", timer_type=TimerType.RETRY, fire_at=T0),
        "timer_req:timer:x",
    ),
    (TimerEnqueued(timer_id="timer:x", cloud_task_id="t_x"), "timer_ack:timer:x"),
    (TimerFired(timer_id="timer:x", timer_type=TimerType.SLA_CHECK), "timer_fired:timer:x"),
]


@pytest.mark.parametrize(("payload", "key"), PAYLOADS)
def test_payload_round_trip_and_idempotency_key(payload: object, key: str) -> None:
    data = payload.to_data()  # type: ignore[attr-defined]
    assert data["type"] == type(payload).TYPE  # type: ignore[attr-defined]
    assert all(v is not None for v in data.values())  # optional fields are omitted
    assert parse_payload(data) == payload
    assert payload.idempotency_key() == key  # type: ignore[attr-defined]


def test_nested_worker_objects_keep_camel_case() -> None:
    payload = PAYLOADS[9][0]
    data = payload.to_data()  # type: ignore[attr-defined]
    assert data["error"] == {
        "category": "USER_CODE",
        "message": "boom",
        "stackTrace": "tb",
        "retryable": False,
    }
    assert data["outcome"] == "failed"


def test_make_event_fills_the_envelope() -> None:
    eid = ulid_at(T0 + 7, 1)
    payload = PAYLOADS[6][0]
    env = make_event(payload, tenant_id=TENANT, workspace_id=WORKSPACE, event_id=eid)  # type: ignore[arg-type]
    assert env.event_type == "TaskStarted" and env.event_version == 1
    assert env.correlation_id == "r1" and env.idempotency_key == "started:r1:a:2"
    assert env.timestamp == "2026-01-01T00:00:00.007Z"
    assert env.source == f"arco-flow/{TENANT}/{WORKSPACE}"
    assert env.data["type"] == "task_started"
    env.validate()


def test_unknown_tags_parse_to_unknown_event() -> None:
    parsed = parse_payload({"type": "future_thing", "x": 1})
    assert isinstance(parsed, UnknownEvent) and parsed.type == "future_thing"


@pytest.mark.parametrize(
    "tasks",
    [
        (),
        (TaskDef("a"), TaskDef("a")),
        (TaskDef("a", ("zzz",)),),
        (TaskDef("a", ("b",)), TaskDef("b", ("a",))),
        (TaskDef("a", ("a",)),),
    ],
)
def test_invalid_plans_are_rejected(tasks: tuple[TaskDef, ...]) -> None:
    with pytest.raises(InvalidArgument):
        PlanCreated(run_id="r", plan_id="p", tasks=tasks)


@pytest.mark.parametrize(
    "data",
    [
        {"type": "task_started", "run_id": "r", "task_key": "a", "attempt": 0},
        {
            "type": "task_heartbeat",
            "run_id": "r",
            "task_key": "a",
            "attempt": 1,
            "attempt_id": "x",
            "worker_id": "w",
            "progress_pct": 101,
        },
        {
            "type": "task_finished",
            "run_id": "r",
            "task_key": "a",
            "attempt": 1,
            "attempt_id": "x",
            "worker_id": "w",
            "outcome": "exploded",
        },
        {"type": "run_triggered", "run_id": "r", "plan_id": "p", "trigger": {"type": "nope"}},
    ],
)
def test_malformed_payloads_raise_invalid_argument(data: dict[str, object]) -> None:
    with pytest.raises(InvalidArgument):
        parse_payload(data)


def test_error_category_defaults() -> None:
    assert TaskError("USER_CODE", "m").effective_retryable()
    assert not TaskError("DATA_QUALITY", "m").effective_retryable()
    assert TaskError("DATA_QUALITY", "m", retryable=True).effective_retryable()
    assert TaskError("SOMETHING_NEW", "m").effective_retryable()
