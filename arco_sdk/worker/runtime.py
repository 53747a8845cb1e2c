"""The worker runtime: from a dispatch envelope to a completed callback.

Per dispatch:

1. **Scope**: the envelope's tenant, workspace and callback URL must be this worker's
   (otherwise :class:`ScopeMismatch`, which the transports answer with 400 /
   INVALID_ARGUMENT naming the mismatched fields).
2. **Dedupe** by ``dispatchId``: a delivery whose twin is executing gets IN_FLIGHT, one
   whose twin already reported completion gets DUPLICATE (a bounded LRU of recent ids).
3. **Slot**: at most ``concurrency`` tasks run; a delivery waits up to ``slot_wait_sec``
   for a slot, then is answered BUSY.
4. **started** is called before any side effect. A 409 ``task_already_terminal`` /
   ``attempt_already_completed`` / ``attempt_mismatch`` / ``attempt_id_mismatch`` /
   ``attempt_claimed`` (another worker started this attempt) means
   "do not execute": the id is recorded as done and the answer is DUPLICATE. Any other
   failure releases the claim so the sender's redelivery can try again.
5. **Acknowledge** (``ack_mode="started"``, the default): the dispatch is answered as soon
   as ``started`` is acknowledged — the control plane has then recorded the attempt as
   RUNNING and owns its liveness through heartbeats — and execution continues in the
   background. ``ack_mode="completed"`` answers after the completed callback instead.
6. **Execute** the asset (sync functions on a thread pool, async ones as asyncio tasks)
   with per-task output capture, heartbeats every ``clamp(heartbeatTimeoutSec / 5,
   floor, 60 s)``, the asset's ``timeout_seconds`` enforced (TIMEOUT), and cancellation
   on ``shouldCancel``, 410 or a 409 on heartbeat (CANCELLED).
7. **Logs** are uploaded (best effort), then **completed** is reported with the task
   token the heartbeats last renewed (retried with backoff on transient failures under
   one deadline; giving up logs ``completion_not_delivered``). Only then does the dispatch id count as done; if completion
   could not be delivered the id is released, so a redelivery runs the attempt again
   (and ``started`` decides whether it may).

This module is the lifecycle; the pieces it drives live beside it: the dedupe ledger
(:mod:`.dedupe`), the heartbeat loop (:mod:`.heartbeat`) and the completion building
(:mod:`.outcomes`).
"""

from __future__ import annotations

import asyncio
import contextlib
import resource
import time
import urllib.parse
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal

import structlog
from arco.orchestration.v1 import worker_protocol_pb2 as worker_pb
from google.protobuf import json_format

from arco_core.clock import Clock, SystemClock, rfc3339_ms
from arco_core.errors import InvalidArgument
from arco_core.ids import new_ulid
from arco_core.partition import PartitionKey, parse_partition_key
from arco_runtime.retry import RetryPolicy
from arco_sdk.assets import (
    AssetContext,
    AssetDefinition,
    AssetInput,
    AssetKey,
)
from arco_sdk.assets.definition import run_checks
from arco_sdk.callbacks import CallbackClient, CallbackTransport, LogUpload
from arco_sdk.errors import (
    ArcoApiError,
    ArcoConnectionError,
    AssetDefinitionError,
    CallbackRejected,
    TaskCancelled,
)
from arco_sdk.io import ParquetStore
from arco_sdk.manifest import AssetGraph
from arco_sdk.sensors import SensorDefinition
from arco_sdk.worker.capture import OutputRouter, TaskCapture
from arco_sdk.worker.dedupe import DispatchLedger
from arco_sdk.worker.heartbeat import HeartbeatLoop, heartbeat_interval
from arco_sdk.worker.outcomes import (
    Completion,
    exception_completion,
    failed,
    format_exc,
    normalize_result,
)

__all__ = [
    "DispatchOutcome",
    "RuntimeSettings",
    "ScopeMismatch",
    "WorkerRuntime",
    "normalize_url",
]

log = structlog.get_logger(__name__)

Disposition = Literal["ACCEPTED", "DUPLICATE", "IN_FLIGHT", "BUSY", "UNAVAILABLE", "REJECTED"]
CancelReason = Literal["cancel_requested", "task_expired", "superseded", "timeout", "shutdown"]


def normalize_url(url: str) -> str:
    """Lowercase scheme and host, no trailing slash, no query or fragment."""
    parts = urllib.parse.urlsplit(url.strip())
    path = parts.path.rstrip("/")
    return urllib.parse.urlunsplit((parts.scheme.lower(), parts.netloc.lower(), path, "", ""))


class ScopeMismatch(Exception):
    """The envelope is for another tenant/workspace/api; ``fields`` names which."""

    def __init__(self, fields: list[str]) -> None:
        self.fields = fields
        super().__init__(f"dispatch envelope scope mismatch: {', '.join(fields)}")


@dataclass(frozen=True, slots=True)
class DispatchOutcome:
    disposition: Disposition
    message: str = ""


@dataclass(frozen=True)
class RuntimeSettings:
    api_url: str
    tenant_id: str
    workspace_id: str
    worker_id: str
    concurrency: int = 4
    ack_mode: Literal["started", "completed"] = "started"
    heartbeat_floor_sec: float = 1.0
    heartbeat_ceiling_sec: float = 60.0
    cancel_grace_sec: float = 10.0
    slot_wait_sec: float = 30.0
    completion_deadline_sec: float = 60.0
    callback_timeout_sec: float = 10.0
    recent_dispatch_limit: int = 1024
    upload_logs: bool = True


@dataclass
class _Task:
    envelope: worker_pb.WorkerDispatchEnvelope
    callback: CallbackClient
    capture: TaskCapture
    cancel_requested: asyncio.Event = field(default_factory=asyncio.Event)
    cancel_reason: CancelReason | None = None
    context: AssetContext | None = None
    runner: asyncio.Task[None] | None = None
    reported: bool = False

    def request_cancel(self, reason: CancelReason) -> None:
        if self.cancel_reason is None:
            self.cancel_reason = reason
        self.cancel_requested.set()
        if self.context is not None:
            self.context.cancel_event.set()

    @property
    def dispatch_id(self) -> str:
        return self.envelope.dispatch_id


# Statuses that say "try again later" (rate limited, a proxy or the api unavailable);
# anything else is the api's verdict on the outcome and retrying cannot change it.
_TRANSIENT_CALLBACK_STATUS = frozenset({408, 429, 502, 503, 504})
LOG_UPLOAD_DEADLINE_SEC = 15.0


def _transient_callback_failure(exc: BaseException) -> bool:
    return isinstance(exc, ArcoConnectionError) or (
        isinstance(exc, ArcoApiError) and exc.status in _TRANSIENT_CALLBACK_STATUS
    )


def _reason(exc: ArcoApiError) -> str:
    """The api's reason: a callback body's ``error`` (the code), or an error body's
    ``details.reason``."""
    if isinstance(exc.details, dict) and isinstance(exc.details.get("reason"), str):
        return str(exc.details["reason"])
    return exc.code


def _log_crash(runner: asyncio.Task[None]) -> None:
    if not runner.cancelled() and runner.exception() is not None:
        log.error("task_runner_crashed", task=runner.get_name(), error=repr(runner.exception()))


class WorkerRuntime:
    """Executes dispatched tasks. Owns no sockets: the gRPC servicer and the HTTP app
    call :meth:`dispatch`; the server calls :meth:`shutdown`."""

    def __init__(
        self,
        settings: RuntimeSettings,
        graph: AssetGraph,
        store: ParquetStore,
        transport: CallbackTransport,
        router: OutputRouter,
        *,
        clock: Clock | None = None,
        sensors: Sequence[SensorDefinition] = (),
    ) -> None:
        self.settings = settings
        self.graph = graph
        self.sensors = {s.id: s for s in sensors}
        self.store = store
        self._transport = transport
        self._router = router
        self._clock = clock or SystemClock()
        self._ledger = DispatchLedger(settings.recent_dispatch_limit)
        self._slots = asyncio.Semaphore(settings.concurrency)
        # Extra threads: a sync asset that ignores cancellation keeps its thread after
        # the task has been reported; new tasks must not queue behind it.
        self._executor = ThreadPoolExecutor(
            max_workers=settings.concurrency + 4, thread_name_prefix="arco-asset"
        )
        self._tasks: dict[str, _Task] = {}
        self._accepting = True
        self._api_url = normalize_url(settings.api_url)

    # -- admission ------------------------------------------------------------------------

    @property
    def running(self) -> int:
        return len(self._tasks)

    @property
    def accepting(self) -> bool:
        return self._accepting

    def check_scope(self, envelope: worker_pb.WorkerDispatchEnvelope) -> None:
        mismatched = []
        if envelope.tenant_id != self.settings.tenant_id:
            mismatched.append("tenant_id")
        # One worker may run the same code for several workspaces of its tenant.
        accepted = {part.strip() for part in self.settings.workspace_id.split(",")}
        if envelope.workspace_id not in accepted:
            mismatched.append("workspace_id")
        if normalize_url(envelope.callback_base_url) != self._api_url:
            mismatched.append("callback_base_url")
        if mismatched:
            raise ScopeMismatch(mismatched)

    async def dispatch(self, envelope: worker_pb.WorkerDispatchEnvelope) -> DispatchOutcome:
        """Admit one delivery. Raises :class:`ScopeMismatch` for a foreign envelope."""
        if not self._accepting:
            return DispatchOutcome("UNAVAILABLE", "worker is shutting down")
        self.check_scope(envelope)
        if envelope.HasField("sensor_evaluation"):
            return await self._evaluate_sensor(envelope)
        dispatch_id = envelope.dispatch_id
        claim = self._ledger.claim(dispatch_id)
        bound = log.bind(
            dispatch_id=dispatch_id, task_key=envelope.task_key, run_id=envelope.run_id
        )
        if claim == "duplicate":
            bound.info("dispatch_duplicate")
            return DispatchOutcome("DUPLICATE", "dispatch already completed here")
        if claim == "in_flight":
            bound.info("dispatch_in_flight")
            return DispatchOutcome("IN_FLIGHT", "dispatch is still executing; retry")
        try:
            await asyncio.wait_for(self._slots.acquire(), timeout=self.settings.slot_wait_sec)
        except TimeoutError:
            self._ledger.finish(dispatch_id, done=False)
            return DispatchOutcome("BUSY", "worker is at its concurrency limit; retry")
        except BaseException:
            # The sender gave up while we waited (e.g. its gRPC deadline cancelled this
            # call): release the claim, or every redelivery would be IN_FLIGHT forever.
            self._ledger.finish(dispatch_id, done=False)
            raise
        try:
            outcome, task = await self._start(envelope, bound)
        except BaseException:
            self._ledger.finish(dispatch_id, done=False)
            self._slots.release()
            raise
        if task is None:
            self._slots.release()
            return outcome
        task.runner = asyncio.create_task(self._run(task), name=f"arco-task:{dispatch_id}")
        task.runner.add_done_callback(_log_crash)
        if self.settings.ack_mode == "completed":
            await asyncio.shield(task.runner)
            if not task.reported:
                return DispatchOutcome("UNAVAILABLE", "the completion could not be reported")
        return outcome

    async def _evaluate_sensor(self, envelope: worker_pb.WorkerDispatchEnvelope) -> DispatchOutcome:
        """Run a poll sensor's function and answer with its cursor and run requests. A
        function that raises is answered as an error (the cursor stays)."""
        evaluation = envelope.sensor_evaluation
        bound = log.bind(sensor_id=evaluation.sensor_id, eval_id=evaluation.eval_id)
        definition = self.sensors.get(evaluation.sensor_id)
        if definition is None or definition.fn is None:
            bound.warning("sensor_not_loaded")
            return DispatchOutcome("REJECTED", f"sensor {evaluation.sensor_id} is not loaded here")
        cursor = evaluation.cursor if evaluation.HasField("cursor") else None
        body: dict[str, Any] = {
            "evalId": evaluation.eval_id,
            "expectedStateVersion": evaluation.expected_state_version,
            "workerId": self.settings.worker_id,
        }
        try:
            body |= await definition.evaluate(cursor)
        except Exception as exc:  # user code: reported, not raised
            bound.warning("sensor_evaluation_failed", error=repr(exc))
            body |= {"cursor": cursor, "error": f"{type(exc).__name__}: {exc}"}
        callback = CallbackClient(
            self._transport,
            envelope.task_id,
            envelope.task_token,
            tenant_id=envelope.tenant_id,
            workspace_id=envelope.workspace_id,
            timeout=self.settings.callback_timeout_sec,
        )
        try:
            status = await callback.sensor_evaluated(body)
        except (CallbackRejected, ArcoApiError) as exc:
            bound.warning("sensor_answer_failed", error=str(exc))
            return DispatchOutcome("UNAVAILABLE", f"sensor answer failed: {exc}")
        bound.info("sensor_evaluated", status=status, runs=len(body.get("runRequests") or []))
        return DispatchOutcome("ACCEPTED", f"sensor evaluated: {status}")

    async def _start(
        self, envelope: worker_pb.WorkerDispatchEnvelope, bound: Any
    ) -> tuple[DispatchOutcome, _Task | None]:
        callback = CallbackClient(
            self._transport,
            envelope.task_id or envelope.task_key,
            envelope.task_token,
            traceparent=envelope.traceparent if envelope.HasField("traceparent") else None,
            tenant_id=envelope.tenant_id,
            workspace_id=envelope.workspace_id,
            timeout=self.settings.callback_timeout_sec,
        )
        try:
            await callback.started(
                attempt=envelope.attempt,
                attempt_id=envelope.attempt_id,
                worker_id=self.settings.worker_id,
                started_at=rfc3339_ms(self._clock.now_ms()),
            )
        except CallbackRejected as exc:
            if exc.is_terminal:
                bound.info("started_refused_not_executing", error=exc.error, state=exc.state)
                self._ledger.finish(envelope.dispatch_id, done=True)
                return DispatchOutcome(
                    "DUPLICATE", f"not executed: {exc.error}: {exc.message}"
                ), None
            bound.warning("started_rejected", status=exc.status, error=exc.error)
            self._ledger.finish(envelope.dispatch_id, done=False)
            return DispatchOutcome("REJECTED", f"started rejected: {exc}"), None
        except ArcoApiError as exc:
            bound.warning("started_failed", error=str(exc))
            self._ledger.finish(envelope.dispatch_id, done=False)
            return DispatchOutcome("UNAVAILABLE", f"started failed: {exc}"), None
        bound.info("task_started")
        task = _Task(envelope, callback, TaskCapture())
        self._tasks[envelope.dispatch_id] = task
        return DispatchOutcome("ACCEPTED", "started"), task

    # -- execution ------------------------------------------------------------------------

    async def _run(self, task: _Task) -> None:
        envelope = task.envelope
        bound = log.bind(
            dispatch_id=envelope.dispatch_id, task_key=envelope.task_key, run_id=envelope.run_id
        )
        interval = heartbeat_interval(
            envelope.heartbeat_timeout_sec if envelope.HasField("heartbeat_timeout_sec") else None,
            self.settings.heartbeat_floor_sec,
            self.settings.heartbeat_ceiling_sec,
        )
        heartbeats = HeartbeatLoop(task, interval, self.settings.worker_id, self._clock)
        beating = asyncio.create_task(
            heartbeats.run(), name=f"arco-heartbeat:{envelope.dispatch_id}"
        )
        reported = False
        try:
            try:
                completion = await self._execute(task)
            except Exception as exc:  # a bug in the runtime itself: still report
                bound.exception("runtime_error")
                completion = failed(
                    "INFRASTRUCTURE",
                    f"worker error: {exc}",
                    retryable=True,
                    trace=format_exc(exc),
                )
            heartbeats.shutdown()
            await asyncio.gather(beating, return_exceptions=True)
            bound.info(
                "task_finished",
                outcome=completion.outcome,
                category=(completion.error or {}).get("category"),
                heartbeats=heartbeats.beats,
            )
            if self.settings.upload_logs:
                await self._upload_logs(task, bound)
            reported = await self._report(task, completion, bound)
            task.reported = reported
        finally:
            heartbeats.shutdown()
            if not beating.done():
                beating.cancel()
            self._tasks.pop(envelope.dispatch_id, None)
            self._ledger.finish(envelope.dispatch_id, done=reported)
            self._slots.release()

    def _upstream_inputs(
        self, definition: AssetDefinition, partition: PartitionKey
    ) -> dict[str, AssetInput]:
        inputs: dict[str, AssetInput] = {}
        for dep in self.graph.upstream(definition.key):
            if not dep.parameter_name:
                continue
            upstream = self.graph.assets[dep.upstream]
            names = {dim.name for dim in upstream.partitions}
            projected = PartitionKey(tuple((n, v) for n, v in partition if n in names))
            inputs[dep.parameter_name] = AssetInput(dep.upstream, projected, self.store)
        return inputs

    async def _execute(self, task: _Task) -> Completion:
        envelope = task.envelope
        try:
            key = AssetKey.parse(envelope.task_key)
        except AssetDefinitionError as exc:
            return failed("CONFIGURATION", str(exc), retryable=False)
        definition = self.graph.assets.get(key)
        if definition is None:
            return failed(
                "CONFIGURATION",
                f"asset {key} is not loaded by worker {self.settings.worker_id}",
                retryable=False,
            )
        try:
            partition = (
                parse_partition_key(envelope.partition_key, allow_untagged=True)
                if envelope.HasField("partition_key")
                else PartitionKey()
            )
            definition.validate_partition(partition)
        except InvalidArgument as exc:
            return failed("CONFIGURATION", f"invalid partition key: {exc.message}", retryable=False)
        payload = (
            json_format.MessageToDict(envelope.payload) if envelope.HasField("payload") else {}
        )
        context = AssetContext(
            asset_key=key,
            store=self.store,
            run_id=envelope.run_id,
            task_key=envelope.task_key,
            partition_key=partition,
            attempt=envelope.attempt,
            attempt_id=envelope.attempt_id,
            tenant_id=envelope.tenant_id,
            workspace_id=envelope.workspace_id,
            payload=payload,
            log_sink=task.capture.write_stderr,
        )
        task.context = context
        if task.cancel_requested.is_set():
            context.cancel_event.set()
        kwargs: dict[str, Any] = dict(self._upstream_inputs(definition, partition))
        if definition.context_parameter:
            kwargs[definition.context_parameter] = context

        cpu_box: list[float] = []
        self._router.ensure()
        run_context = self._router.context_for(task.capture)
        work: asyncio.Future[Any]
        if definition.is_async:
            coroutine = definition.fn(**kwargs)
            work = asyncio.create_task(coroutine, context=run_context)
            cpu_start = time.process_time()
        else:
            cpu_start = 0.0

            def call() -> Any:
                started = time.thread_time()
                try:
                    return definition.fn(**kwargs)
                finally:
                    cpu_box.append(time.thread_time() - started)

            work = asyncio.get_running_loop().run_in_executor(self._executor, run_context.run, call)

        cancel_wait = asyncio.create_task(task.cancel_requested.wait())
        try:
            done, _ = await asyncio.wait(
                {work, cancel_wait},
                timeout=definition.execution.timeout_seconds,
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            cancel_wait.cancel()
        if work not in done:
            if task.cancel_reason is None:
                task.request_cancel("timeout")
            context.cancel_event.set()
            await self._wait_after_cancel(work)
        completion = await self._settle(task, definition, context, work)
        cpu = (
            cpu_box[0]
            if cpu_box
            else (time.process_time() - cpu_start if definition.is_async else None)
        )
        if cpu is not None:
            completion.cpu_time_ms = int(cpu * 1000)
        return completion

    async def _wait_after_cancel(self, work: asyncio.Future[Any]) -> None:
        with contextlib.suppress(TimeoutError, asyncio.CancelledError, Exception):
            await asyncio.wait_for(asyncio.shield(work), timeout=self.settings.cancel_grace_sec)
        if not work.done():
            # An async asset is cancelled outright; a thread cannot be, it is abandoned.
            work.cancel()

    async def _settle(
        self,
        task: _Task,
        definition: AssetDefinition,
        context: AssetContext,
        work: asyncio.Future[Any],
    ) -> Completion:
        reason = task.cancel_reason
        if reason == "timeout":
            return failed(
                "TIMEOUT",
                f"asset {definition.key} exceeded its timeout of "
                f"{definition.execution.timeout_seconds}s",
                retryable=True,
            )
        if reason == "shutdown":
            return failed(
                "INFRASTRUCTURE",
                f"worker {self.settings.worker_id} shut down while the task was running",
                retryable=True,
            )
        if reason is not None:
            # Cancelled by the control plane (shouldCancel, 410 or a superseded attempt).
            return Completion("CANCELLED", cancelled_during_phase="execute")
        if not work.done():  # pragma: no cover - only reachable through a cancel reason
            return Completion("CANCELLED", cancelled_during_phase="execute")
        exc = work.exception() if not work.cancelled() else TaskCancelled("cancelled")
        if exc is not None:
            return exception_completion(exc)
        try:
            result, table = normalize_result(context, work.result())
            run_checks(definition, result, table)
        except Exception as check_exc:
            return exception_completion(check_exc)
        return Completion("SUCCEEDED", output=result.to_wire() if result else None)

    # -- reporting ------------------------------------------------------------------------

    async def _upload_logs(self, task: _Task, bound: Any) -> None:
        envelope = task.envelope
        stdout, stderr = task.capture.stdout, task.capture.stderr
        tries = 0

        async def upload(_timeout: float) -> None:
            nonlocal tries
            tries += 1
            await self._transport.upload_logs(
                LogUpload(
                    envelope.workspace_id,
                    envelope.run_id,
                    envelope.task_key,
                    envelope.attempt,
                    stdout,
                    stderr,
                ),
                envelope.task_token,
                new_ulid(),
                self.settings.callback_timeout_sec,
            )

        # The api stores an attempt's logs once (a repeat is 409), so a try lost on the
        # way (an api or gateway replica restarting) is safe to repeat; the bound keeps the
        # completion report, which waits for this, from being held long.
        policy = RetryPolicy(
            initial_backoff_sec=0.2,
            max_backoff_sec=2.0,
            jitter_sec=0.2,
            deadline_sec=LOG_UPLOAD_DEADLINE_SEC,
        )
        try:
            await policy.call_async(upload, retry_if=_transient_callback_failure)
        except ArcoApiError as exc:
            if tries > 1 and _reason(exc) == "logs_already_uploaded":
                return  # an earlier try got through before its answer was lost
            bound.warning("log_upload_failed", error=str(exc), tries=tries)

    async def _report(self, task: _Task, completion: Completion, bound: Any) -> bool:
        envelope = task.envelope
        body: dict[str, Any] = {
            "attempt": envelope.attempt,
            "attemptId": envelope.attempt_id,
            "workerId": self.settings.worker_id,
            "outcome": completion.outcome,
            "completedAt": rfc3339_ms(self._clock.now_ms()),
        }
        if completion.output:
            body["output"] = completion.output
        if completion.error:
            body["error"] = completion.error
        if completion.cancelled_during_phase:
            body["cancelledDuringPhase"] = completion.cancelled_during_phase
        metrics: dict[str, int] = {
            # ru_maxrss is KiB on Linux: the process's peak, shared by concurrent tasks.
            "peakMemoryBytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        }
        if completion.cpu_time_ms is not None:
            metrics["cpuTimeMs"] = completion.cpu_time_ms
        body["metrics"] = metrics

        tries = 0

        async def deliver(_timeout: float) -> None:
            nonlocal tries
            tries += 1
            await task.callback.completed(body)

        try:
            # The callback client bounds each try itself; the policy bounds them all.
            policy = RetryPolicy(
                initial_backoff_sec=0.2,
                max_backoff_sec=5.0,
                jitter_sec=0.2,
                deadline_sec=self.settings.completion_deadline_sec,
            )
            await policy.call_async(deliver, retry_if=_transient_callback_failure)
        except CallbackRejected as exc:
            if exc.status == 409:
                # The attempt is already terminal (cancelled, reaped, or reported by a
                # twin): nothing left to do for this delivery.
                bound.info("completed_refused_terminal", error=exc.error, state=exc.state)
                return True
            bound.error(
                "completion_not_delivered",
                outcome=completion.outcome,
                status=exc.status,
                error=exc.error,
                message=exc.message,
                tries=tries,
            )
            return False
        except ArcoApiError as exc:
            bound.error(
                "completion_not_delivered",
                outcome=completion.outcome,
                status=exc.status,
                error=str(exc),
                tries=tries,
            )
            return False
        return True

    # -- shutdown -------------------------------------------------------------------------

    def stop_accepting(self) -> None:
        self._accepting = False

    async def shutdown(self, grace: float) -> None:
        """Stop accepting; let running tasks finish within ``grace`` seconds; cancel the
        rest (they report FAILED/INFRASTRUCTURE, retryable) and wait for their reports."""
        self._accepting = False
        runners = [t.runner for t in self._tasks.values() if t.runner is not None]
        if runners:
            log.info("worker_draining", running=len(runners), grace_sec=grace)
            _, pending = await asyncio.wait(runners, timeout=grace)
            if pending:
                for task in list(self._tasks.values()):
                    task.request_cancel("shutdown")
                await asyncio.wait(
                    pending,
                    timeout=self.settings.cancel_grace_sec + self.settings.callback_timeout_sec + 5,
                )
        self._executor.shutdown(wait=False, cancel_futures=True)
