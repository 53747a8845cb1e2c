"""Worker callbacks as domain logic, steps 0-3 of the reference order: validation,
resolution and the token check."""

from __future__ import annotations

from typing import Any

import pytest
from arco.orchestration.v1 import task_callback_service_pb2 as callback_pb

from arco_core.clock import rfc3339_ms
from arco_core.errors import (
    Conflict,
    InvalidArgument,
    NotFound,
    Unauthenticated,
)
from arco_core.orchestration.callbacks import resolve_task
from arco_core.orchestration.events import TaskHeartbeat, TaskStarted
from arco_core.wire.worker_protocol import (
    parse_task_completed,
    parse_task_heartbeat,
    parse_task_started,
)
from tests.unit.orchestration.callback_world import NOW, RUN, World, check, ct1, fixture, w
from tests.unit.orchestration.orch_support import att

__all__ = ["w"]  # the fixture, imported for pytest

# --- happy path ---------------------------------------------------------------------------


def test_started_heartbeat_completed_happy_path(w: World) -> None:
    result = w.started()
    assert result.acknowledged and result.server_time_ms == NOW
    payload = result.event.data
    assert result.event.event_type == "TaskStarted"
    assert payload == TaskStarted(RUN, "a", 1, att(RUN, "a", 1), "w1").to_data()
    assert result.event.timestamp == rfc3339_ms(NOW)
    assert result.event.idempotency_key == f"started:{RUN}:a:1"
    assert w.task().state == "RUNNING"

    beat = w.heartbeat(progressPct=40, message="loading")
    assert (beat.should_cancel, beat.cancel_reason, beat.server_time_ms) == (False, None, NOW)
    assert beat.event.data["progress_pct"] == 40
    assert beat.event.data["message"] == "loading"

    done = w.completed()
    assert (done.acknowledged, done.final_state) == (True, "SUCCEEDED")
    assert done.event.event_type == "TaskCompletionRecorded"
    assert done.event.idempotency_key == f"finished:{RUN}:a:1"
    assert w.task().state == "SUCCEEDED"
    assert w.task("b").state == "READY"


def test_protocol_examples_are_accepted(w: World) -> None:
    attempt_id = att(RUN, "a", 1)
    w.started_request(
        parse_task_started(
            {**fixture("task_started_request.json"), "attemptId": attempt_id}, ct1("a")
        ),
        w.claims(),
    )
    beat = w.handler.heartbeat(
        w.state,
        w.claims(),
        parse_task_heartbeat(
            {**fixture("heartbeat_request.json"), "attemptId": attempt_id}, ct1("a")
        ),
        now_ms=NOW,
    )
    progress = fixture("heartbeat_request.json")["progressPct"]
    assert beat.should_cancel is False and beat.event.data["progress_pct"] == progress
    done = w.handler.completed(
        w.state,
        w.claims(),
        parse_task_completed(
            {**fixture("task_completed_request.json"), "attemptId": attempt_id}, ct1("a")
        ),
        now_ms=NOW,
    )
    assert done.final_state == "FAILED"
    assert done.event.data["metrics"] == fixture("task_completed_request.json")["metrics"]


def test_timestamps_are_server_receipt_time(w: World) -> None:
    worker_time = "2020-01-01T00:00:00Z"  # a badly skewed worker clock
    started = w.started(startedAt=worker_time)
    beat = w.heartbeat(heartbeatAt=worker_time)
    done = w.completed(completedAt=worker_time)
    for result in (started, beat, done):
        assert result.event.timestamp == rfc3339_ms(NOW)
        assert result.server_time_ms == NOW
    heartbeat = TaskHeartbeat.from_data(beat.event.data)
    assert heartbeat.heartbeat_at == NOW
    assert beat.event.idempotency_key.endswith(f":{NOW}")
    assert w.task().last_heartbeat_at == NOW


def test_duplicate_started_is_acknowledged_and_deduplicated_by_the_fold(w: World) -> None:
    w.started()
    again = w.started()
    assert again.acknowledged
    result = w.state.fold([again.event])
    assert result.applied == 0
    assert w.task().state == "RUNNING"


# --- step 0/1: path token and request validation ------------------------------------------


def test_token_for_another_task_is_refused_before_validation(w: World) -> None:
    request = callback_pb.TaskStartedRequest(task_id=ct1("a"), attempt=0, attempt_id="x")
    with pytest.raises(Unauthenticated) as exc:
        w.handler.started(w.state, w.claims("b"), request, now_ms=NOW)
    assert check(exc, "invalid_token").message == "task_id_mismatch"


def test_attempt_zero_is_invalid(w: World) -> None:
    for call, request in (
        (w.handler.started, callback_pb.TaskStartedRequest(task_id=ct1("a"), attempt=0)),
        (w.handler.heartbeat, callback_pb.TaskHeartbeatRequest(task_id=ct1("a"), attempt=0)),
        (
            w.handler.completed,
            callback_pb.TaskCompletedRequest(task_id=ct1("a"), attempt=0, outcome="SUCCEEDED"),
        ),
    ):
        with pytest.raises(InvalidArgument) as exc:
            call(w.state, w.claims(), request, now_ms=NOW)  # type: ignore[operator]
        assert check(exc, "invalid_argument").message == "Invalid attempt: must be >= 1"


def test_heartbeat_progress_above_100_is_invalid(w: World) -> None:
    w.started()
    request = callback_pb.TaskHeartbeatRequest(
        task_id=ct1("a"), attempt=1, attempt_id=att(RUN, "a", 1), worker_id="w1", progress_pct=101
    )
    with pytest.raises(InvalidArgument) as exc:
        w.handler.heartbeat(w.state, w.claims(), request, now_ms=NOW)
    assert exc.value.message == "Invalid progressPct: must be between 0 and 100"


def test_missing_worker_id_and_bad_outcome_are_invalid(w: World) -> None:
    request = callback_pb.TaskStartedRequest(task_id=ct1("a"), attempt=1)
    with pytest.raises(InvalidArgument) as exc:
        w.handler.started(w.state, w.claims(), request, now_ms=NOW)
    assert exc.value.metadata["fields"] == "attemptId,workerId"
    bad = callback_pb.TaskCompletedRequest(
        task_id=ct1("a"), attempt=1, attempt_id=att(RUN, "a", 1), worker_id="w", outcome="DONE"
    )
    with pytest.raises(InvalidArgument):
        w.handler.completed(w.state, w.claims(), bad, now_ms=NOW)


# --- step 2: resolution --------------------------------------------------------------------


def test_unknown_task_is_not_found(w: World) -> None:
    missing = ct1("zzz")
    request = callback_pb.TaskStartedRequest(
        task_id=missing, attempt=1, attempt_id="att", worker_id="w1"
    )
    with pytest.raises(NotFound) as exc:
        w.handler.started(w.state, w.claims(task_id=missing), request, now_ms=NOW)
    assert check(exc, "task_not_found").message == f"Task not found: {missing}"


def test_ct1_of_another_run_than_the_token_scope_is_not_found(w: World) -> None:
    w.run("r2")
    w.dispatch("a", run="r2")
    other = ct1("a", "r2")
    with pytest.raises(NotFound):
        resolve_task(w.state, other, RUN)
    assert resolve_task(w.state, other, "r2").run_id == "r2"
    assert resolve_task(w.state, other, None).run_id == "r2"


def test_legacy_task_key_resolves_within_the_token_run(w: World) -> None:
    w.run("r2")
    task = resolve_task(w.state, "a", RUN)
    assert (task.run_id, task.task_key, task.task_id) == (RUN, "a", ct1("a"))
    # A token minted for the raw key: validation falls back to the path id.
    claims = w.claims(task_id="a")
    request = parse_task_started(
        {"attempt": 1, "attemptId": att(RUN, "a", 1), "workerId": "w1"}, task_id="a"
    )
    result = w.started_request(request, claims)
    assert result.event.data["run_id"] == RUN
    assert w.task().state == "RUNNING"


def test_legacy_unscoped_key_must_be_unambiguous(w: World) -> None:
    # One run: the key resolves, but an unscoped token lacks the scope claims.
    assert resolve_task(w.state, "a", None).run_id == RUN
    legacy = w.claims(task_id="a", run_id=None, attempt=None, attempt_id=None)
    request = parse_task_started(
        {"attempt": 1, "attemptId": att(RUN, "a", 1), "workerId": "w1"}, task_id="a"
    )
    with pytest.raises(Unauthenticated) as unauth:
        w.handler.started(w.state, legacy, request, now_ms=NOW)
    assert unauth.value.message == "missing_scope_claims"
    # Two runs with that key: ambiguous.
    w.run("r2")
    with pytest.raises(InvalidArgument) as exc:
        w.handler.started(w.state, legacy, request, now_ms=NOW)
    check(exc, "task_id_ambiguous")
    assert exc.value.message == "Legacy task id is ambiguous; use opaque taskId: a"
    with pytest.raises(NotFound):
        resolve_task(w.state, "nope", None)


# --- step 3: token against the current row ------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"tenant_id": "other"}, "tenant_mismatch"),
        ({"workspace_id": "other"}, "workspace_mismatch"),
        ({"run_id": None}, "missing_scope_claims"),
        ({"attempt_id": None}, "missing_scope_claims"),
        ({"attempt": 2}, "attempt_mismatch"),
        ({"attempt_id": "att_forged"}, "attempt_id_mismatch"),
    ],
)
def test_token_checked_against_current_row(
    w: World, overrides: dict[str, Any], reason: str
) -> None:
    with pytest.raises(Unauthenticated) as exc:
        w.started(claims=w.claims(**overrides))
    assert check(exc, "invalid_token").message == reason


def test_token_check_precedes_terminal_check(w: World) -> None:
    w.started()
    w.completed()
    with pytest.raises(Unauthenticated) as exc:
        w.heartbeat(claims=w.claims(tenant_id="other"))
    assert exc.value.message == "tenant_mismatch"


def test_older_attempt_token_is_401_but_stale_body_attempt_is_409(w: World) -> None:
    w.started()
    w.completed(outcome="FAILED", error={"category": "INFRASTRUCTURE", "message": "x"})
    assert w.task().state == "RETRY_WAIT"
    w.dispatch("a", attempt=2)
    assert (w.task().state, w.task().attempt) == ("DISPATCHED", 2)
    # A worker still holding attempt 1's token never reaches the 409 checks.
    with pytest.raises(Unauthenticated) as unauth:
        w.started("a", 1)
    assert unauth.value.message == "attempt_mismatch"
    # The current token with a stale body attempt: 409 with both attempts.
    with pytest.raises(Conflict) as conflict:
        w.started("a", 1, claims=w.claims("a", 2))
    check(conflict, "attempt_mismatch", expected_attempt="2", received_attempt="1")
    assert conflict.value.message == "Expected attempt 2, received 1"
    # The current attempt goes through.
    w.started("a", 2)
    assert (w.task().state, w.task().attempt) == ("RUNNING", 2)
