"""Worker callbacks as domain logic: the reference handler order, every branch of it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from arco.orchestration.v1 import task_callback_service_pb2 as callback_pb

from arco_core.clock import rfc3339_ms
from arco_core.envelope import EventEnvelope
from arco_core.errors import (
    ArcoError,
    Conflict,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    Unauthenticated,
)
from arco_core.ids import callback_task_id
from arco_core.orchestration.callbacks import CallbackHandler, resolve_task
from arco_core.orchestration.events import TaskCompletionRecorded, TaskHeartbeat, TaskStarted
from arco_core.orchestration.fold import FoldState
from arco_core.tokens import TaskClaims
from arco_core.wire.worker_protocol import (
    parse_task_completed,
    parse_task_heartbeat,
    parse_task_started,
)
from tests.support.reference import reference_path
from tests.unit.orchestration.orch_support import TENANT, WORKSPACE, Events, att

RUN = "r1"
NOW = 1_767_229_200_000  # 2026-01-01T01:00:00Z: the "server receipt time" of every call


def ct1(key: str, run: str = RUN) -> str:
    return callback_task_id(run, key)


def fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        reference_path(f"contracts/fixtures/worker_protocol/{name}").read_text()
    )
    return data


class World:
    """A folded state plus the handler; callbacks are applied by folding their event."""

    def __init__(self) -> None:
        self.ev = Events()
        self.state = FoldState(tenant_id=TENANT, workspace_id=WORKSPACE)
        self.handler = CallbackHandler(TENANT, WORKSPACE)

    def fold(self, *events: EventEnvelope) -> None:
        for event in events:
            self.state.fold([event])

    def run(self, run: str = RUN, deps: dict[str, list[str]] | None = None, **kw: Any) -> None:
        self.fold(
            self.ev.trigger(run, code_version=kw.pop("code_version", "cv-1")),
            self.ev.plan(run, deps or {"a": [], "b": ["a"]}, **kw),
        )

    def dispatch(self, key: str = "a", attempt: int = 1, run: str = RUN) -> None:
        self.fold(self.ev.dispatch(run, key, attempt))

    def claims(
        self, key: str = "a", attempt: int = 1, run: str = RUN, **overrides: Any
    ) -> TaskClaims:
        base: dict[str, Any] = {
            "task_id": ct1(key, run),
            "tenant_id": TENANT,
            "workspace_id": WORKSPACE,
            "run_id": run,
            "attempt": attempt,
            "attempt_id": att(run, key, attempt),
            "exp": 0,
        }
        return TaskClaims(**{**base, **overrides})

    def task(self, key: str = "a", run: str = RUN) -> Any:
        return self.state.get_task(run, key)

    # callbacks -------------------------------------------------------------------------

    def started(
        self, key: str = "a", attempt: int = 1, *, claims: TaskClaims | None = None, **body: Any
    ) -> Any:
        request = parse_task_started(
            {"attempt": attempt, "attemptId": att(RUN, key, attempt), "workerId": "w1", **body},
            task_id=ct1(key),
        )
        return self.started_request(request, claims or self.claims(key, attempt))

    def started_request(self, request: Any, claims: TaskClaims) -> Any:
        result = self.handler.started(
            self.state, claims, request, now_ms=NOW, event_id=self.ev.next_id()
        )
        self.fold(result.event)
        return result

    def heartbeat(
        self, key: str = "a", attempt: int = 1, *, claims: TaskClaims | None = None, **body: Any
    ) -> Any:
        request = parse_task_heartbeat(
            {"attempt": attempt, "attemptId": att(RUN, key, attempt), "workerId": "w1", **body},
            task_id=ct1(key),
        )
        result = self.handler.heartbeat(
            self.state, claims or self.claims(key, attempt), request, now_ms=NOW,
            event_id=self.ev.next_id(),
        )  # fmt: skip
        self.fold(result.event)
        return result

    def completed(
        self,
        key: str = "a",
        attempt: int = 1,
        outcome: str = "SUCCEEDED",
        *,
        claims: TaskClaims | None = None,
        **body: Any,
    ) -> Any:
        request = parse_task_completed(
            {
                "attempt": attempt,
                "attemptId": att(RUN, key, attempt),
                "workerId": "w1",
                "outcome": outcome,
                **body,
            },
            task_id=ct1(key),
        )
        result = self.handler.completed(
            self.state, claims or self.claims(key, attempt), request, now_ms=NOW,
            event_id=self.ev.next_id(),
        )  # fmt: skip
        self.fold(result.event)
        return result


@pytest.fixture
def w() -> World:
    world = World()
    world.run()
    world.dispatch("a")
    return world


def check(exc: pytest.ExceptionInfo[ArcoError], reason: str, **metadata: str) -> ArcoError:
    assert exc.value.reason == reason, exc.value
    for key, value in metadata.items():
        assert exc.value.metadata.get(key) == value, (key, exc.value.metadata)
    return exc.value


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


def test_shared_fixtures_are_accepted(w: World) -> None:
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
    assert beat.should_cancel is False and beat.event.data["progress_pct"] == 45
    done = w.handler.completed(
        w.state,
        w.claims(),
        parse_task_completed(
            {**fixture("task_completed_request.json"), "attemptId": attempt_id}, ct1("a")
        ),
        now_ms=NOW,
    )
    assert done.final_state == "FAILED"
    assert done.event.data["metrics"] == {
        "cpuTimeMs": 12,
        "peakMemoryBytes": 4096,
        "ioReadBytes": 1024,
        "ioWriteBytes": 2048,
    }


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
    # The metadata keys are exactly the optional fields of the shared error fixture.
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
