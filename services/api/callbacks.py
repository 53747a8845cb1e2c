"""TaskCallbackService of the api: worker lifecycle callbacks.

Thin over :mod:`arco_core.orchestration.callbacks`: read the bearer task token from the
``authorization`` metadata, decode it, validate the callback against the current
orchestration projection, append the one resulting event and have the compactor fold it,
answer with the server receipt time.

Two folds are kept off a task's critical path:

* the dispatcher sends an attempt as soon as its DispatchRequested is durable, so a
  callback may name an attempt the projection has not folded yet: it is judged as the
  fold of that request will leave the task (see ``arco_core.orchestration.callbacks``);
* ``started`` is acknowledged once its event is durable in the ledger; its fold runs in
  the background while the worker gets going (see :class:`StartedFolds`).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable
from typing import Any, Protocol, TypeVar

import structlog
from arco.orchestration.v1 import task_callback_service_pb2 as callback_pb
from arco.orchestration.v1 import task_callback_service_pb2_grpc as callback_grpc
from google.protobuf.message import Message

from arco_core.envelope import EventEnvelope
from arco_core.errors import AttemptClaimed, InvalidToken, ObjectAlreadyExists
from arco_core.orchestration.callbacks import AttemptClaim, CallbackHandler
from arco_core.orchestration.fold import FoldState
from arco_core.tokens import TaskClaims, renewal_due
from services.api.callback_limits import CallbackLimits
from services.api.deps import ApiDeps
from services.api.sensors import record_poll_answer
from services.common import rpc_context
from services.common.committer import EventCommitter
from services.common.head_follower import HeadFollower
from services.common.rpc_context import timestamp_from_ms
from services.common.server import RpcContext as Context

log = structlog.get_logger(__name__)

AUTHORIZATION_KEY = "authorization"
_BEARER = re.compile(r"^Bearer[ \t]+(\S+)[ \t]*$", re.IGNORECASE)


def bearer_token(metadata: Iterable[tuple[str, Any]] | None) -> str | None:
    """The token of an ``authorization: Bearer <token>`` metadata entry, if any."""
    for key, value in metadata or ():
        if key.lower() == AUTHORIZATION_KEY and isinstance(value, str):
            match = _BEARER.match(value)
            if match:
                return match.group(1)
    return None


def task_claims(deps: ApiDeps, context: Context) -> TaskClaims:
    """The verified claims of the call's ``authorization: Bearer <task token>``."""
    token = bearer_token(context.invocation_metadata())
    if token is None:
        raise InvalidToken("missing bearer token")
    return deps.task_tokens.decode(token)


_Request = TypeVar("_Request", bound=Message)
_Result = TypeVar("_Result")
_Request_contra = TypeVar("_Request_contra", bound=Message, contravariant=True)
_Result_co = TypeVar("_Result_co", covariant=True)


class _Judge(Protocol[_Request_contra, _Result_co]):
    """One of :class:`CallbackHandler`'s verdicts (started, heartbeat, completed)."""

    def __call__(
        self,
        state: FoldState,
        claims: TaskClaims,
        request: _Request_contra,
        /,
        *,
        now_ms: int,
        started_unfolded: bool,
    ) -> _Result_co: ...


# (token task id, attempt): the same for every token of one attempt.
AttemptKey = tuple[str, int]


def attempt_key(claims: TaskClaims) -> AttemptKey:
    return (claims.task_id, claims.attempt or 0)


class StartedFolds:
    """TaskStarted events acknowledged once durable, folded in the background.

    Until its fold lands, the attempt's next callback (a heartbeat or the completion)
    names the started paths again in its own compaction (the compactor folds a batch in
    event-id order and skips events already folded) and is judged as if the task were
    RUNNING, which is what that fold makes it.
    """

    def __init__(
        self, committer: EventCommitter[FoldState], heads: HeadFollower[FoldState]
    ) -> None:
        self._committer = committer
        self._heads = heads
        self._unfolded: dict[AttemptKey, list[str]] = {}
        self._folds: set[asyncio.Task[None]] = set()

    def fold(self, key: AttemptKey, paths: list[str], request_id: str) -> None:
        self._unfolded[key] = paths
        task = asyncio.create_task(self._fold(key, paths, request_id))
        self._folds.add(task)
        task.add_done_callback(self._folds.discard)

    async def _fold(self, key: AttemptKey, paths: list[str], request_id: str) -> None:
        try:
            seq = await self._committer.compact(paths, request_id=request_id)
        except Exception as exc:  # durable in the ledger: the next callback folds it
            log.warning("started_fold_deferred", task_id=key[0], attempt=key[1], error=repr(exc))
            return
        self.folded(key, paths, seq)

    def unfolded(self, key: AttemptKey) -> list[str]:
        """The attempt's started paths whose fold has not landed (empty when none)."""
        return self._unfolded.get(key, [])

    def folded(self, key: AttemptKey, paths: list[str], seq: int) -> None:
        self._heads.note(seq)
        if paths and self._unfolded.get(key) is paths:
            del self._unfolded[key]

    async def drain(self) -> None:
        await asyncio.gather(*self._folds)


class TaskCallbackServicer(callback_grpc.TaskCallbackServiceServicer):
    """One scope's callbacks; the router (services.api.scoped) already verified the token
    that chose the scope, and counted it if it did not verify."""

    def __init__(self, deps: ApiDeps, started_folds: StartedFolds, limits: CallbackLimits) -> None:
        self._deps = deps
        self._handler = CallbackHandler(deps.scope.tenant_id, deps.scope.workspace_id)
        self._started_folds = started_folds
        self._limits = limits

    def _claims(self, context: Context) -> TaskClaims:
        claims = task_claims(self._deps, context)
        self._limits.verified(claims)
        return claims

    async def _state(self) -> FoldState:
        snapshot = await self._deps.orchestration_heads.snapshot()
        state: FoldState = snapshot.state
        return state

    async def _judge(
        self, judge: _Judge[_Request, _Result], request: _Request, context: Context
    ) -> tuple[TaskClaims, list[str], _Result]:
        """The callback's verified claims, its attempt's started paths not folded yet (a
        repeated start or a next callback), and the handler's verdict on the current
        state."""
        received_ms = self._deps.clock.now_ms()
        claims = self._claims(context)
        unfolded = self._started_folds.unfolded(attempt_key(claims))
        result = judge(
            await self._state(),
            claims,
            request,
            now_ms=received_ms,
            started_unfolded=bool(unfolded),
        )
        return claims, unfolded, result

    async def _publish(
        self, key: AttemptKey, unfolded: list[str], event: EventEnvelope, context: Context
    ) -> None:
        """Append ``event`` and fold it, after the attempt's ``unfolded`` started paths."""
        committer = self._deps.orchestration
        paths = [*unfolded, *await committer.append([event])]
        seq = await committer.compact(paths, request_id=rpc_context.request_id(context))
        self._started_folds.folded(key, unfolded, seq)

    async def _claim(self, claim: AttemptClaim) -> None:
        """Bind the attempt to the worker starting it, before its TaskStarted exists.

        A conditional create in storage, not the projection: a second delivery's start
        may arrive before the first start is folded, or at another api replica.
        """
        storage = self._deps.storage
        try:
            await storage.create(claim.path, claim.to_bytes())
        except ObjectAlreadyExists:
            try:
                claim.check_held(await storage.get(claim.path))
            except AttemptClaimed:
                log.warning(
                    "attempt_claimed",
                    run_id=claim.run_id,
                    task_key=claim.task_key,
                    attempt=claim.attempt,
                    worker_id=claim.worker_id,
                )
                raise

    async def TaskStarted(
        self, request: callback_pb.TaskStartedRequest, context: Context
    ) -> callback_pb.TaskStartedResponse:
        claims, unfolded, result = await self._judge(self._handler.started, request, context)
        # The start is durable before the claim is taken: a claim whose start then failed
        # to append would refuse every other worker's delivery of the attempt, and nothing
        # would ever start it. A refused worker's start is a duplicate the fold drops
        # (one idempotency key per attempt), folded like any other.
        paths = [*unfolded, *await self._deps.orchestration.append([result.event])]
        try:
            await self._claim(result.claim)
        finally:
            self._started_folds.fold(attempt_key(claims), paths, rpc_context.request_id(context))
        return callback_pb.TaskStartedResponse(
            acknowledged=result.acknowledged, server_time=timestamp_from_ms(result.server_time_ms)
        )

    async def TaskHeartbeat(
        self, request: callback_pb.TaskHeartbeatRequest, context: Context
    ) -> callback_pb.TaskHeartbeatResponse:
        claims, unfolded, result = await self._judge(self._handler.heartbeat, request, context)
        await self._publish(attempt_key(claims), unfolded, result.event, context)
        response = callback_pb.TaskHeartbeatResponse(
            acknowledged=result.acknowledged,
            should_cancel=result.should_cancel,
            server_time=timestamp_from_ms(result.server_time_ms),
        )
        if result.cancel_reason is not None:
            response.cancel_reason = result.cancel_reason
        signer = self._deps.task_token_signer
        # The heartbeat was judged current for this attempt: a task longer than the TTL
        # keeps a valid token for as long as it beats.
        if renewal_due(claims, self._deps.clock.now_ms(), signer.ttl_sec):
            renewed, expires_ms = signer.renew(claims)
            response.task_token = renewed
            response.token_expires_at.CopyFrom(timestamp_from_ms(expires_ms))
            log.info(
                "task_token_renewed",
                task_id=claims.task_id,
                attempt=claims.attempt,
                expires_at_ms=expires_ms,
            )
        return response

    async def TaskCompleted(
        self, request: callback_pb.TaskCompletedRequest, context: Context
    ) -> callback_pb.TaskCompletedResponse:
        claims, unfolded, result = await self._judge(self._handler.completed, request, context)
        await self._publish(attempt_key(claims), unfolded, result.event, context)
        return callback_pb.TaskCompletedResponse(
            acknowledged=result.acknowledged,
            final_state=result.final_state,
            server_time=timestamp_from_ms(result.server_time_ms),
        )

    # -- SENSORS --

    async def SensorEvaluated(
        self, request: callback_pb.SensorEvaluatedRequest, context: Context
    ) -> callback_pb.SensorEvaluatedResponse:
        return await record_poll_answer(self._deps, self._claims(context), request)
