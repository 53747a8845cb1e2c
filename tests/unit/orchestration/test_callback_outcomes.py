"""Worker callbacks as domain logic, steps 4-9 of the reference order: terminal and
attempt checks, and the completion event."""

from __future__ import annotations

import pytest
from arco.orchestration.v1 import task_callback_service_pb2 as callback_pb

from arco_core.errors import (
    Conflict,
    FailedPrecondition,
)
from arco_core.orchestration.events import TaskCompletionRecorded
from tests.unit.orchestration.callback_world import NOW, RUN, World, check, ct1, fixture, w
from tests.unit.orchestration.orch_support import TENANT, WORKSPACE, att

__all__ = ["w"]  # the fixture, imported for pytest

# --- steps 4-8 --------------------------------------------------------------------------


def test_terminal_task_conflicts_and_heartbeat_expires(w: World) -> None:
    w.started()
    w.completed()
    with pytest.raises(Conflict) as exc:
        w.started()
    assert check(exc, "task_already_terminal", state="SUCCEEDED").message == (
        "Task is already in terminal state: SUCCEEDED"
    )
    with pytest.raises(Conflict) as exc:
        w.completed()
    check(exc, "task_already_terminal", state="SUCCEEDED")
    with pytest.raises(FailedPrecondition) as gone:
        w.heartbeat()
    assert check(gone, "task_expired", state="SUCCEEDED").message == "Task is no longer active"


def test_terminal_check_precedes_attempt_checks(w: World) -> None:
    w.started()
    w.completed()
    with pytest.raises(Conflict) as exc:
        w.started("a", 1, attemptId="att_other")
    check(exc, "task_already_terminal")


def test_started_on_retry_wait_same_attempt_is_already_completed(w: World) -> None:
    w.started()
    w.completed(outcome="FAILED", error={"category": "USER_CODE", "message": "boom"})
    assert w.task().state == "RETRY_WAIT"
    with pytest.raises(Conflict) as exc:
        w.started()
    err = check(
        exc,
        "attempt_already_completed",
        state="RETRY_WAIT",
        expected_attempt="1",
        received_attempt="1",
    )
    assert err.message == ("Attempt 1 already reported a terminal result; task state is RETRY_WAIT")
    # Heartbeats have no RETRY_WAIT special case, and a late completion is accepted (the
    # fold deduplicates it by its finished: key).
    assert w.heartbeat().acknowledged
    late = w.completed(outcome="FAILED", error={"category": "USER_CODE", "message": "boom"})
    assert late.final_state == "FAILED"
    assert w.task().state == "RETRY_WAIT"


def test_attempt_id_mismatch_carries_the_full_callback_body(w: World) -> None:
    w.started()
    with pytest.raises(Conflict) as exc:
        w.heartbeat(attemptId="att_stale")
    err = check(
        exc,
        "attempt_id_mismatch",
        state="RUNNING",
        expected_attempt="1",
        received_attempt="1",
        expected_attempt_id=att(RUN, "a", 1),
        received_attempt_id="att_stale",
    )
    assert err.message == f"Expected attempt_id {att(RUN, 'a', 1)}, received att_stale"
    # The metadata keys are exactly the optional fields of the callback error example.
    body = fixture("callback_error_payload.json")
    camel = {"state", "expectedAttempt", "receivedAttempt", "expectedAttemptId"}
    camel |= {"receivedAttemptId"}
    assert set(body) - {"error", "message"} == camel
    snake = {"".join("_" + c.lower() if c.isupper() else c for c in k) for k in camel}
    assert set(err.metadata) == snake


def test_started_on_cancel_requested_run_is_terminal_cancelled(w: World) -> None:
    w.started()
    w.fold(w.ev.cancel(RUN))
    assert w.task().state == "RUNNING"  # running tasks learn it from their heartbeat
    with pytest.raises(Conflict) as exc:
        w.started()
    check(exc, "task_already_terminal", state="CANCELLED")
    assert exc.value.message == "Task is already in terminal state: CANCELLED"
    beat = w.heartbeat()
    assert (beat.should_cancel, beat.cancel_reason) == (True, "user_requested")
    done = w.completed(outcome="CANCELLED", cancelledDuringPhase="execution")
    assert done.final_state == "CANCELLED"
    assert done.event.data["cancelled_during_phase"] == "execution"
    assert w.task().state == "CANCELLED"
    run = w.state.get_run(RUN)
    assert run is not None and run.state == "CANCELLED"


def test_cancel_before_start_makes_a_dispatched_task_terminal(w: World) -> None:
    w.fold(w.ev.cancel(RUN))
    with pytest.raises(Conflict) as exc:
        w.started()
    check(exc, "task_already_terminal", state="CANCELLED")


# --- step 9: the completion event ---------------------------------------------------------


def test_completion_echoes_worker_outcome_on_retryable_failure(w: World) -> None:
    w.started()
    done = w.completed(outcome="FAILED", error={"category": "INFRASTRUCTURE", "message": "flaky"})
    assert done.final_state == "FAILED"
    assert w.task().state == "RETRY_WAIT"  # the projection differs from the echo
    event = TaskCompletionRecorded.from_data(done.event.data)
    assert event.error is not None and event.error.retryable is True  # category default


def test_completion_normalises_retryable_to_its_effective_value(w: World) -> None:
    w.started()
    done = w.completed(outcome="FAILED", error={"category": "DATA_QUALITY", "message": "bad rows"})
    assert done.event.data["error"] == {
        "category": "DATA_QUALITY",
        "message": "bad rows",
        "retryable": False,
    }
    assert w.task().state == "FAILED"
    assert w.task("b").state == "SKIPPED"
    # An explicit value wins over the category default.
    world = World()
    world.run()
    world.dispatch()
    world.started()
    forced = world.completed(
        outcome="FAILED",
        error={"category": "USER_CODE", "message": "m", "retryable": False, "stackTrace": "t"},
    )
    assert forced.event.data["error"] == {
        "category": "USER_CODE",
        "message": "m",
        "stackTrace": "t",
        "retryable": False,
    }
    assert world.task().state == "FAILED"


def test_completion_carries_task_fields_output_and_visibility() -> None:
    world = World()
    world.run(asset_key="analytics.daily", partition_key="date=d:2026-01-01", code_version="v7")
    world.dispatch()
    world.started()
    output = {
        "materializationId": "mat-1",
        "rowCount": 10,
        "outputPath": "s3://b/x",
        "outputVisibilityState": "VISIBLE",
        "publishedAt": "2026-01-01T00:30:00Z",
    }
    done = world.completed(output=output, partialProgress={"rows": 5, "ratio": 0.5})
    data = done.event.data
    assert (data["asset_key"], data["partition_key"], data["code_version"]) == (
        "analytics.daily",
        "date=d:2026-01-01",
        "v7",
    )
    assert data["output"] == output
    assert data["materialization_id"] == "mat-1"
    assert data["partial_progress_json"] == '{"ratio":0.5,"rows":5}'
    assert data["output_visibility"] == {
        "visibility_state": "visible",
        "published_at": "2026-01-01T00:30:00.000Z",
    }
    task = world.task()
    assert (task.state, task.materialization_id, task.output_visibility_state) == (
        "SUCCEEDED",
        "mat-1",
        "VISIBLE",
    )


def test_output_visibility_only_on_success() -> None:
    world = World()
    world.run()
    world.dispatch()
    world.started()
    done = world.completed(
        outcome="FAILED",
        error={"category": "USER_CODE", "message": "m"},
        output={"outputVisibilityState": "FAILED", "publishError": "no"},
    )
    assert "output_visibility" not in done.event.data
    assert done.event.data["output"] == {"outputVisibilityState": "FAILED", "publishError": "no"}
    # Without a visibility state, a success has none either.
    world.dispatch("a", 2)
    world.started("a", 2)
    ok = world.completed("a", 2, output={"rowCount": 1})
    assert "output_visibility" not in ok.event.data
    assert "partial_progress_json" not in ok.event.data


def test_null_partial_progress_is_absent(w: World) -> None:
    w.started()
    done = w.completed(partialProgress=None)
    assert "partial_progress_json" not in done.event.data
    request = callback_pb.TaskCompletedRequest(
        task_id=ct1("b"), attempt=1, attempt_id=att(RUN, "b", 1), worker_id="w1",
        outcome="SUCCEEDED",
    )  # fmt: skip
    request.partial_progress.null_value = 0
    w.dispatch("b")
    result = w.handler.completed(w.state, w.claims("b"), request, now_ms=NOW)
    assert "partial_progress_json" not in result.event.data


def test_heartbeat_on_running_task_without_cancel(w: World) -> None:
    w.started()
    beat = w.heartbeat()
    assert beat.should_cancel is False and beat.cancel_reason is None
    assert "progress_pct" not in beat.event.data


def test_events_are_in_the_api_scope(w: World) -> None:
    result = w.started()
    assert (result.event.tenant_id, result.event.workspace_id) == (TENANT, WORKSPACE)
    assert result.event.correlation_id == RUN
    result.event.validate()
