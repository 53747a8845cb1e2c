"""Heartbeats for a running task: how often to beat, and the loop that beats and turns
the control plane's answers (``shouldCancel``, 410, 409) into a cancellation request."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Literal, Protocol

import structlog
from arco.orchestration.v1 import worker_protocol_pb2 as worker_pb

from arco_core.clock import Clock, parse_rfc3339_ms, rfc3339_ms
from arco_core.errors import InvalidArgument
from arco_sdk.assets import AssetContext
from arco_sdk.callbacks import CallbackClient
from arco_sdk.errors import ArcoApiError, CallbackRejected

__all__ = [
    "DEFAULT_HEARTBEAT_TIMEOUT_SEC",
    "HeartbeatCancel",
    "HeartbeatLoop",
    "HeartbeatTarget",
    "heartbeat_interval",
]

log = structlog.get_logger(__name__)

DEFAULT_HEARTBEAT_TIMEOUT_SEC = 300
# The api renews a task token once it is past half its life: beating at a third of the
# time the token has left always lands a beat in its second half, whatever the TTL.
RENEWAL_BEAT_FRACTION = 1 / 3
MIN_BEAT_WAIT_SEC = 0.25
HeartbeatCancel = Literal["cancel_requested", "task_expired", "superseded"]


def heartbeat_interval(
    heartbeat_timeout_sec: int | None, floor: float = 1.0, ceiling: float = 60.0
) -> float:
    """``clamp(timeout / 5, floor, ceiling)``; a missing or zero timeout means 300 s.

    Five beats per timeout window tolerate a few lost heartbeats. The floor (1 s by
    default) keeps short test timeouts workable without letting a tiny timeout turn the
    worker into a callback flood.
    """
    timeout = heartbeat_timeout_sec or DEFAULT_HEARTBEAT_TIMEOUT_SEC
    return min(max(timeout / 5.0, floor), ceiling)


def _expiry_ms(value: str | None) -> int | None:
    """A renewed token's expiry; unknown (beat at the plain interval) when unreadable."""
    try:
        return parse_rfc3339_ms(value) if value else None
    except InvalidArgument:
        return None


class HeartbeatTarget(Protocol):
    """What the loop needs of a running task (the runtime's task record)."""

    @property
    def envelope(self) -> worker_pb.WorkerDispatchEnvelope: ...

    @property
    def callback(self) -> CallbackClient: ...

    @property
    def context(self) -> AssetContext | None: ...

    def request_cancel(self, reason: HeartbeatCancel) -> None: ...


class HeartbeatLoop:
    """Heartbeats one task until shut down; turns the answers into cancellation."""

    def __init__(
        self,
        task: HeartbeatTarget,
        interval: float,
        worker_id: str,
        clock: Clock,
    ) -> None:
        self._task = task
        self._interval = interval
        self._worker_id = worker_id
        self._clock = clock
        self._stop = asyncio.Event()
        self.beats = 0
        self.renewals = 0
        envelope = task.envelope
        self._token_expires_ms: int | None = (
            envelope.token_expires_at.ToMilliseconds()
            if envelope.HasField("token_expires_at")
            else None
        )

    def _wait(self) -> float:
        """The interval, shortened so that a beat falls in the token's second half-life."""
        if self._token_expires_ms is None:
            return self._interval
        left_sec = (self._token_expires_ms - self._clock.now_ms()) / 1000
        if left_sec <= 0:
            return self._interval  # expired: beating faster cannot renew it
        return min(self._interval, max(left_sec * RENEWAL_BEAT_FRACTION, MIN_BEAT_WAIT_SEC))

    async def run(self) -> None:
        envelope = self._task.envelope
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=self._wait())
            if self._stop.is_set():
                return
            progress = self._task.context.progress() if self._task.context else None
            try:
                answer = await self._task.callback.heartbeat(
                    attempt=envelope.attempt,
                    attempt_id=envelope.attempt_id,
                    worker_id=self._worker_id,
                    heartbeat_at=rfc3339_ms(self._clock.now_ms()),
                    progress_pct=progress[0] if progress else None,
                    message=progress[1] if progress else None,
                )
            except CallbackRejected as exc:
                if exc.status in (409, 410):
                    log.info(
                        "heartbeat_rejected_cancelling",
                        task_key=envelope.task_key,
                        status=exc.status,
                        error=exc.error,
                    )
                    self._task.request_cancel("task_expired" if exc.status == 410 else "superseded")
                    return
                if exc.status == 401:
                    # The token is no longer accepted: the outcome will not be either.
                    log.error(
                        "heartbeat_unauthenticated", task_key=envelope.task_key, error=str(exc)
                    )
                else:
                    log.warning("heartbeat_rejected", task_key=envelope.task_key, error=str(exc))
                continue
            except ArcoApiError as exc:
                log.warning("heartbeat_failed", task_key=envelope.task_key, error=str(exc))
                continue
            self.beats += 1
            if answer.task_token is not None:  # the callback client uses it from now on
                self.renewals += 1
                self._token_expires_ms = _expiry_ms(answer.token_expires_at)
            if answer.should_cancel:
                log.info(
                    "cancel_requested", task_key=envelope.task_key, reason=answer.cancel_reason
                )
                self._task.request_cancel("cancel_requested")
                return

    def shutdown(self) -> None:
        self._stop.set()
