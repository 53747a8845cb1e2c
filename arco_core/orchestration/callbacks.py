"""Worker callbacks (``started``, ``heartbeat``, ``completed``) as pure domain logic.

Given the current orchestration state, the decoded task-token claims and a parsed
callback request, :class:`CallbackHandler` resolves the task, runs the checks in the
reference order and returns the ONE event to append plus the response values. It never
writes: the api appends the event and has the compactor fold it.

The order (identical skeleton for the three callbacks):

0. the token's ``taskId`` must equal the path task id (401 ``task_id_mismatch``);
1. request validation: ``attempt >= 1``, heartbeat ``progressPct <= 100``, completion
   outcome/category/visibility (400 ``invalid_argument``);
2. task resolution (404 ``task_not_found``, 400 ``task_id_ambiguous``);
3. the token against the current row: canonical ct1 id (retried with the path id for a
   legacy key-path token), tenant, workspace, run, attempt, attempt id (401);
4. terminal task: started/completed 409 ``task_already_terminal``, heartbeat 410
   ``task_expired``;
5. started on RETRY_WAIT for the same attempt: 409 ``attempt_already_completed``;
6. ``attempt`` differs from the row: 409 ``attempt_mismatch``;
7. ``attemptId`` differs from the row: 409 ``attempt_id_mismatch``;
8. started on a cancel-requested run: 409 ``task_already_terminal`` (state CANCELLED);
9. the event, stamped with the server receipt time.

``started`` also returns the attempt's :class:`AttemptClaim`, which the api creates
(create-if-absent) once the event is appended: the first worker to start an attempt
holds it, the same worker's repeated ``started`` finds its own claim (idempotent), and
any other worker's gets 409 ``attempt_claimed`` and must not run the asset, whether or
not the first start has been folded yet. Appending first means a claim always has a
durable start behind it (a start whose append failed leaves no claim); the refused
worker's appended start is a duplicate of the holder's and folds to nothing.

Errors carry the callback body fields as ErrorInfo metadata (``state``,
``expected_attempt``, ``received_attempt``, ``expected_attempt_id``,
``received_attempt_id``); the gateway renders them as the camelCase callback body.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import structlog
from arco.orchestration.v1 import task_callback_service_pb2 as callback_pb
from google.protobuf import json_format

from arco_core.canonical_json import canonical_bytes
from arco_core.clock import datetime_to_ms
from arco_core.envelope import EventEnvelope
from arco_core.errors import (
    AttemptAlreadyCompleted,
    AttemptClaimed,
    AttemptIdMismatch,
    AttemptMismatch,
    AttemptNotStarted,
    InvalidArgument,
    InvalidToken,
    TaskAlreadyTerminal,
    TaskExpired,
    TaskIdAmbiguous,
    TaskNotFound,
    Unauthenticated,
)
from arco_core.ids import (
    callback_task_id,
    deterministic_attempt_id,
    dispatch_id,
    new_ulid,
    parse_callback_task_id,
)
from arco_core.orchestration.events import (
    TaskCompletionRecorded,
    TaskHeartbeat,
    TaskOutcome,
    TaskStarted,
    make_event,
)
from arco_core.orchestration.fold import FoldState
from arco_core.orchestration.state import TERMINAL_TASK_STATES, TaskRow, TaskState
from arco_core.orchestration.values import OutputVisibility, TaskError, VisibilityState
from arco_core.paths import idempotency_path
from arco_core.tokens import TaskClaims, validate_claims
from arco_core.wire.worker_protocol import to_json, validate_completion, validate_progress

__all__ = [
    "ATTEMPT_CLAIMS_NAMESPACE",
    "CANCEL_REASON_USER_REQUESTED",
    "CLOCK_SKEW_WARN_MS",
    "AttemptClaim",
    "CallbackHandler",
    "CallbackTask",
    "CompletedResult",
    "HeartbeatResult",
    "StartedResult",
    "check_path_token",
    "resolve_task",
]

_log = structlog.get_logger(__name__)

CANCEL_REASON_USER_REQUESTED: Final = "user_requested"
# Worker timestamps are observations only; a larger difference is logged.
CLOCK_SKEW_WARN_MS: Final = 5 * 60 * 1000
CALLBACK_SOURCE: Final = "arco-api/callbacks"
ATTEMPT_CLAIMS_NAMESPACE: Final = "attempt_claims"


@dataclass(frozen=True, slots=True)
class CallbackTask:
    """What the callbacks know about a task: its row plus the run fields they need."""

    task_id: str  # canonical ct1_ id
    run_id: str
    task_key: str
    state: str
    attempt: int
    attempt_id: str  # "" before the first dispatch
    asset_key: str | None
    partition_key: str | None
    code_version: str | None
    cancel_requested: bool


@dataclass(frozen=True, slots=True)
class AttemptClaim:
    """The worker that started an attempt, stored once per attempt (create-if-absent).

    The dispatch id is a function of the attempt (``dispatch_id(run, task, attempt)``), so
    the attempt id already names the delivery; what tells two deliveries of one attempt
    apart is the worker they reached.
    """

    run_id: str
    task_key: str
    attempt: int
    attempt_id: str
    worker_id: str

    @property
    def path(self) -> str:
        key = "\0".join((self.run_id, self.task_key, str(self.attempt), self.attempt_id))
        return idempotency_path(ATTEMPT_CLAIMS_NAMESPACE, key)

    def to_bytes(self) -> bytes:
        return canonical_bytes(
            {
                "runId": self.run_id,
                "taskKey": self.task_key,
                "attempt": self.attempt,
                "attemptId": self.attempt_id,
                "workerId": self.worker_id,
            }
        )

    def check_held(self, existing: bytes) -> None:
        """Raise 409 ``attempt_claimed`` unless the stored claim is this worker's."""
        try:
            holder = json.loads(existing).get("workerId")
        except (ValueError, AttributeError):
            holder = None
        if holder == self.worker_id:
            return
        raise AttemptClaimed(
            f"Attempt {self.attempt} was already started by another worker",
            metadata={
                "state": TaskState.RUNNING.value,
                "expected_attempt": str(self.attempt),
                "received_attempt": str(self.attempt),
                "claimed_by": str(holder),
            },
        )


@dataclass(frozen=True, slots=True)
class StartedResult:
    event: EventEnvelope
    server_time_ms: int
    claim: AttemptClaim
    acknowledged: bool = True


@dataclass(frozen=True, slots=True)
class HeartbeatResult:
    event: EventEnvelope
    server_time_ms: int
    should_cancel: bool
    cancel_reason: str | None
    acknowledged: bool = True


@dataclass(frozen=True, slots=True)
class CompletedResult:
    event: EventEnvelope
    server_time_ms: int
    final_state: str  # the worker's outcome, even when the projection moves to RETRY_WAIT
    acknowledged: bool = True


# --- errors ---------------------------------------------------------------------------------


def _task_not_found(task_id: str) -> TaskNotFound:
    return TaskNotFound(f"Task not found: {task_id}")


def _already_terminal(state: str) -> TaskAlreadyTerminal:
    return TaskAlreadyTerminal(
        f"Task is already in terminal state: {state}",
        metadata={"state": state},
    )


def _expired(state: str) -> TaskExpired:
    return TaskExpired("Task is no longer active", metadata={"state": state})


# --- resolution -----------------------------------------------------------------------------


def _callback_task(state: FoldState, row: TaskRow) -> CallbackTask:
    run = state.get_run(row.run_id)
    return CallbackTask(
        task_id=callback_task_id(row.run_id, row.task_key),
        run_id=row.run_id,
        task_key=row.task_key,
        state=row.state,
        attempt=row.attempt,
        attempt_id=row.attempt_id or "",
        asset_key=row.asset_key,
        partition_key=row.partition_key,
        code_version=run.code_version if run is not None else None,
        cancel_requested=bool(run is not None and run.cancel_requested),
    )


def resolve_task(state: FoldState, task_id: str, run_scope: str | None) -> CallbackTask:
    """Find the task a callback path names.

    With a run scope (the token's ``runId``): a ``ct1_`` id must name that run (another
    run is not found), anything else is a task key within the run. Without one (legacy
    token): a ``ct1_`` id matches exactly, a raw key must match exactly one task of any
    run (several give 400 ``task_id_ambiguous``).
    """
    if not task_id:
        raise _task_not_found(task_id)
    try:
        parsed: tuple[str, str] | None = parse_callback_task_id(task_id)
    except InvalidArgument:
        parsed = None
    if parsed is not None:
        run_id, task_key = parsed
        if run_scope is not None and run_id != run_scope:
            raise _task_not_found(task_id)
        row = state.get_task(run_id, task_key)
    elif run_scope is not None:
        row = state.get_task(run_scope, task_id)
    else:
        matches = [r for r in state.rows("tasks") if r.task_key == task_id]
        if len(matches) > 1:
            raise TaskIdAmbiguous(
                f"Legacy task id is ambiguous; use opaque taskId: {task_id}",
            )
        row = matches[0] if matches else None
    if row is None:
        raise _task_not_found(task_id)
    return _callback_task(state, row)


def _next_attempt(task: CallbackTask) -> int | None:
    """The attempt the dispatcher decisions send next for a task waiting for one."""
    if task.state == TaskState.READY:
        return max(task.attempt, 1)
    if task.state == TaskState.RETRY_WAIT:
        return task.attempt + 1
    return None


def _as_dispatched(task: CallbackTask, claims: TaskClaims) -> CallbackTask:
    """The task as the fold of the token's dispatch will leave it, when that dispatch is
    the one the projection is waiting for but has not folded yet.

    The dispatcher signs a token only once the attempt's DispatchRequested is durable in
    the ledger, and sends it while the compactor folds that request: a callback can
    arrive first. The fold accepts an attempt's events in either order (a start or a
    completion folded first consumes the request), so such a callback is judged as if
    the request were folded. Only the exact next attempt of a READY or RETRY_WAIT task,
    with its deterministic attempt id, qualifies; any other attempt is judged as is.
    """
    attempt = _next_attempt(task)
    if (
        attempt is None
        or claims.run_id != task.run_id
        or claims.attempt != attempt
        or claims.attempt_id
        != deterministic_attempt_id(dispatch_id(task.run_id, task.task_key, attempt))
    ):
        return task
    return dataclasses.replace(
        task, state=TaskState.DISPATCHED.value, attempt=attempt, attempt_id=claims.attempt_id
    )


def check_path_token(claims: TaskClaims, path_task_id: str) -> None:
    """The token must be for the task the path names (before anything is looked up)."""
    if claims.task_id != path_task_id:
        raise InvalidToken("task_id_mismatch")


# --- request validation ---------------------------------------------------------------------


def _check_common(attempt: int, attempt_id: str, worker_id: str) -> None:
    if attempt < 1:
        raise InvalidArgument("Invalid attempt: must be >= 1")
    missing = [
        name for name, value in (("attemptId", attempt_id), ("workerId", worker_id)) if not value
    ]
    if missing:
        raise InvalidArgument(
            f"missing required fields: {', '.join(missing)}",
            metadata={"fields": ",".join(missing)},
        )


def _ts_ms(message: Any, field: str) -> int | None:
    if not message.HasField(field):
        return None
    return datetime_to_ms(getattr(message, field).ToDatetime())


def _note_skew(kind: str, worker_ms: int | None, server_ms: int, task: CallbackTask) -> None:
    if worker_ms is not None and abs(worker_ms - server_ms) > CLOCK_SKEW_WARN_MS:
        _log.warning(
            "callback_clock_skew",
            callback=kind,
            run_id=task.run_id,
            task_key=task.task_key,
            skew_ms=worker_ms - server_ms,
        )


_STARTED_OR_AFTER: Final = frozenset({TaskState.RUNNING.value, TaskState.RETRY_WAIT.value})


def _is_terminal(state: str) -> bool:
    return state in TERMINAL_TASK_STATES


def _integral(value: Any) -> Any:
    """Struct numbers are doubles; give integral ones back as integers (5.0 -> 5)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: _integral(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_integral(item) for item in value]
    return value


def _partial_progress_json(request: callback_pb.TaskCompletedRequest) -> str | None:
    """``partialProgress`` (any JSON) as a sorted, compact JSON string; null is absent."""
    if not request.HasField("partial_progress"):
        return None
    value = _integral(json_format.MessageToDict(request.partial_progress))
    if value is None:
        return None
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def _task_error(request: callback_pb.TaskCompletedRequest) -> TaskError | None:
    """The worker's error with ``retryable`` normalised to its effective value."""
    if not request.HasField("error"):
        return None
    raw = request.error
    error = TaskError(
        category=raw.category,
        message=raw.message,
        stack_trace=raw.stack_trace if raw.HasField("stack_trace") else None,
        retryable=raw.retryable if raw.HasField("retryable") else None,
    )
    return TaskError(
        category=error.category,
        message=error.message,
        stack_trace=error.stack_trace,
        retryable=error.effective_retryable(),
    )


def _completion(
    task: CallbackTask, request: callback_pb.TaskCompletedRequest
) -> TaskCompletionRecorded:
    outcome = TaskOutcome(request.outcome.lower())
    has_output = request.HasField("output")
    out = request.output
    visibility = None
    if outcome == TaskOutcome.SUCCEEDED and has_output and out.HasField("output_visibility_state"):
        visibility = OutputVisibility(
            visibility_state=VisibilityState(out.output_visibility_state.lower()),
            published_at=_ts_ms(out, "published_at"),
            publish_error=out.publish_error if out.HasField("publish_error") else None,
        )
    materialization_id = (
        out.materialization_id if has_output and out.HasField("materialization_id") else None
    )
    return TaskCompletionRecorded(
        run_id=task.run_id,
        task_key=task.task_key,
        attempt=request.attempt,
        attempt_id=task.attempt_id,
        worker_id=request.worker_id,
        outcome=outcome,
        materialization_id=materialization_id or None,
        output=to_json(out) if has_output else None,
        error=_task_error(request),
        metrics=to_json(request.metrics) if request.HasField("metrics") else None,
        cancelled_during_phase=(
            request.cancelled_during_phase if request.HasField("cancelled_during_phase") else None
        ),
        partial_progress_json=_partial_progress_json(request),
        asset_key=task.asset_key,
        partition_key=task.partition_key,
        code_version=task.code_version,
        output_visibility=visibility,
    )


# --- the handler ----------------------------------------------------------------------------


class CallbackHandler:
    """Validates callbacks against the current state and builds the event to append.

    One instance per api process: ``tenant_id``/``workspace_id`` are the api's scope,
    which every token must match.
    """

    def __init__(self, tenant_id: str, workspace_id: str, *, source: str = CALLBACK_SOURCE) -> None:
        self._tenant_id = tenant_id
        self._workspace_id = workspace_id
        self._source = source

    # steps 0-3 ------------------------------------------------------------------------

    def _authorize(
        self,
        state: FoldState,
        claims: TaskClaims,
        path_task_id: str,
        *,
        validate: Callable[[], None],
        started_unfolded: bool = False,
    ) -> CallbackTask:
        check_path_token(claims, path_task_id)
        validate()
        task = _as_dispatched(resolve_task(state, path_task_id, claims.run_id), claims)

        def check(task_id: str) -> None:
            validate_claims(
                claims,
                task_id=task_id,
                tenant_id=self._tenant_id,
                workspace_id=self._workspace_id,
                run_id=task.run_id,
                attempt=task.attempt,
                attempt_id=task.attempt_id,
            )

        try:
            check(task.task_id)
        except Unauthenticated as exc:
            if exc.message != "task_id_mismatch" or path_task_id == task.task_id:
                raise
            # A legacy token scoped to the raw task key the path used.
            check(path_task_id)
        if started_unfolded and not _is_terminal(task.state):
            # This attempt's TaskStarted is durable but not folded yet; folding it will
            # make the task RUNNING (the attempt and its id were just checked).
            task = dataclasses.replace(task, state=TaskState.RUNNING.value)
        return task

    # steps 6-7 ------------------------------------------------------------------------

    @staticmethod
    def _check_attempt(task: CallbackTask, attempt: int, attempt_id: str) -> None:
        if attempt != task.attempt:
            raise AttemptMismatch(
                f"Expected attempt {task.attempt}, received {attempt}",
                metadata={"expected_attempt": str(task.attempt), "received_attempt": str(attempt)},
            )
        if attempt_id != task.attempt_id:
            raise AttemptIdMismatch(
                f"Expected attempt_id {task.attempt_id}, received {attempt_id}",
                metadata={
                    "state": task.state,
                    "expected_attempt": str(task.attempt),
                    "received_attempt": str(attempt),
                    "expected_attempt_id": task.attempt_id,
                    "received_attempt_id": attempt_id,
                },
            )

    def _event(self, payload: Any, server_ms: int, event_id: str | None) -> EventEnvelope:
        return make_event(
            payload,
            tenant_id=self._tenant_id,
            workspace_id=self._workspace_id,
            event_id=event_id or new_ulid(),
            timestamp_ms=server_ms,
            source=self._source,
        )

    # the three callbacks ----------------------------------------------------------------

    def started(
        self,
        state: FoldState,
        claims: TaskClaims,
        request: callback_pb.TaskStartedRequest,
        *,
        now_ms: int,
        event_id: str | None = None,
        started_unfolded: bool = False,
    ) -> StartedResult:
        task = self._authorize(
            state,
            claims,
            request.task_id,
            validate=lambda: _check_common(request.attempt, request.attempt_id, request.worker_id),
            started_unfolded=started_unfolded,
        )
        if _is_terminal(task.state):
            raise _already_terminal(task.state)
        if task.state == TaskState.RETRY_WAIT and request.attempt == task.attempt:
            raise AttemptAlreadyCompleted(
                f"Attempt {task.attempt} already reported a terminal result; "
                "task state is RETRY_WAIT",
                metadata={
                    "state": task.state,
                    "expected_attempt": str(task.attempt),
                    "received_attempt": str(request.attempt),
                },
            )
        self._check_attempt(task, request.attempt, request.attempt_id)
        if task.cancel_requested:
            raise _already_terminal(TaskState.CANCELLED.value)
        _note_skew("started", _ts_ms(request, "started_at"), now_ms, task)
        event = self._event(
            TaskStarted(
                run_id=task.run_id,
                task_key=task.task_key,
                attempt=request.attempt,
                attempt_id=task.attempt_id,
                worker_id=request.worker_id,
            ),
            now_ms,
            event_id,
        )
        claim = AttemptClaim(
            run_id=task.run_id,
            task_key=task.task_key,
            attempt=request.attempt,
            attempt_id=task.attempt_id,
            worker_id=request.worker_id,
        )
        return StartedResult(event=event, server_time_ms=now_ms, claim=claim)

    def heartbeat(
        self,
        state: FoldState,
        claims: TaskClaims,
        request: callback_pb.TaskHeartbeatRequest,
        *,
        now_ms: int,
        event_id: str | None = None,
        started_unfolded: bool = False,
    ) -> HeartbeatResult:
        def validate() -> None:
            _check_common(request.attempt, request.attempt_id, request.worker_id)
            validate_progress(request)

        task = self._authorize(
            state, claims, request.task_id, validate=validate, started_unfolded=started_unfolded
        )
        if _is_terminal(task.state):
            raise _expired(task.state)
        self._check_attempt(task, request.attempt, request.attempt_id)
        _note_skew("heartbeat", _ts_ms(request, "heartbeat_at"), now_ms, task)
        event = self._event(
            TaskHeartbeat(
                run_id=task.run_id,
                task_key=task.task_key,
                attempt=request.attempt,
                attempt_id=task.attempt_id,
                worker_id=request.worker_id,
                heartbeat_at=now_ms,
                progress_pct=request.progress_pct if request.HasField("progress_pct") else None,
                message=request.message if request.HasField("message") else None,
            ),
            now_ms,
            event_id,
        )
        return HeartbeatResult(
            event=event,
            server_time_ms=now_ms,
            should_cancel=task.cancel_requested,
            cancel_reason=CANCEL_REASON_USER_REQUESTED if task.cancel_requested else None,
        )

    def completed(
        self,
        state: FoldState,
        claims: TaskClaims,
        request: callback_pb.TaskCompletedRequest,
        *,
        now_ms: int,
        event_id: str | None = None,
        started_unfolded: bool = False,
    ) -> CompletedResult:
        def validate() -> None:
            _check_common(request.attempt, request.attempt_id, request.worker_id)
            validate_completion(request)

        task = self._authorize(
            state, claims, request.task_id, validate=validate, started_unfolded=started_unfolded
        )
        if _is_terminal(task.state):
            raise _already_terminal(task.state)
        self._check_attempt(task, request.attempt, request.attempt_id)
        _note_skew("completed", _ts_ms(request, "completed_at"), now_ms, task)
        event = self._event(_completion(task, request), now_ms, event_id)
        return CompletedResult(event=event, server_time_ms=now_ms, final_state=request.outcome)

    def log_upload(
        self,
        state: FoldState,
        claims: TaskClaims,
        *,
        run_id: str,
        task_key: str,
        attempt: int,
        started_unfolded: bool = False,
    ) -> CallbackTask:
        """The attempt a worker uploads logs for, with that attempt's task token.

        The token must be for this run, task and attempt (else ``invalid_token``). The
        attempt must have started: the current attempt once its TaskStarted is durable
        (folded or not), or an earlier one (attempts only advance after a start or a
        failure); an attempt not dispatched or not started yet gets ``attempt_not_started``.
        """
        task = _as_dispatched(resolve_task(state, task_key, claims.run_id), claims)
        current = task.attempt == attempt
        validate_claims(
            claims,
            task_id=task.task_id,
            tenant_id=self._tenant_id,
            workspace_id=self._workspace_id,
            run_id=run_id,
            attempt=attempt,
            # The projection keeps only the current attempt's id; an earlier attempt's is
            # the signed token's own.
            attempt_id=task.attempt_id if current else (claims.attempt_id or ""),
        )
        started = task.state in _STARTED_OR_AFTER or _is_terminal(task.state)
        if attempt > task.attempt or (current and not started and not started_unfolded):
            raise AttemptNotStarted(
                f"attempt {attempt} of {task.task_key} has not started; logs are uploaded "
                "by the worker running it",
                metadata={"state": task.state, "attempt": str(attempt)},
            )
        return task
