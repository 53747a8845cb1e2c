"""Sending attempts: dispatch intents, envelopes, acknowledgements.

Shared by the dispatcher (which sends every PENDING outbox row) and the sweeper (which
redispatches stale ones under a repair-scoped cloud task id).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

import structlog

from arco_core.automation.sensor_polls import SensorDispatch
from arco_core.clock import Clock
from arco_core.envelope import EventEnvelope
from arco_core.ids import new_ulid
from arco_core.orchestration.decisions import DispatchAction
from arco_core.orchestration.events import (
    DispatchEnqueued,
    KnownPayload,
    SensorEvaluationDispatched,
    make_event,
)
from arco_core.paths import Scope
from services.common.dispatch import DispatchAdapter, EnvelopeBuilder, SendOutcome

log = structlog.get_logger(__name__)


@dataclass
class SendSummary:
    attempted: int = 0
    enqueued: int = 0
    deduplicated: int = 0
    failed: int = 0
    errors: list[tuple[str, str, str]] = field(default_factory=list)  # kind, id, message


class Sender:
    def __init__(
        self,
        scope: Scope,
        clock: Clock,
        adapter: DispatchAdapter,
        builder: EnvelopeBuilder,
        *,
        concurrency: int = 32,
        source: str,
    ) -> None:
        self._scope = scope
        self._clock = clock
        self._adapter = adapter
        self._builder = builder
        self._limit = asyncio.Semaphore(concurrency)
        self._source = source

    @property
    def adapter_name(self) -> str:
        return self._adapter.name

    async def close(self) -> None:
        await self._adapter.close()

    def event(self, payload: KnownPayload) -> EventEnvelope:
        return make_event(
            payload,
            tenant_id=self._scope.tenant_id,
            workspace_id=self._scope.workspace_id,
            event_id=new_ulid(),
            timestamp_ms=self._clock.now_ms(),
            source=self._source,
        )

    async def send_all(
        self, actions: Sequence[DispatchAction], summary: SendSummary
    ) -> list[EventEnvelope]:
        """Send each attempt; the DispatchEnqueued acknowledgements of the accepted ones,
        for the caller to append and fold."""
        acks: list[EventEnvelope] = []

        async def one(action: DispatchAction) -> None:
            async with self._limit:
                envelope = self._builder.build(action, traceparent=action.traceparent)
                result = await self._adapter.send(envelope, action.cloud_task_id)
            summary.attempted += 1
            if result.outcome.acknowledged:
                if result.outcome is SendOutcome.ENQUEUED:
                    summary.enqueued += 1
                else:
                    summary.deduplicated += 1
                acks.append(
                    self.event(
                        DispatchEnqueued(
                            dispatch_id=action.dispatch_id,
                            cloud_task_id=action.cloud_task_id,
                            run_id=action.run_id,
                            task_key=action.task_key,
                            attempt=action.attempt,
                        )
                    )
                )
                log.info(
                    "dispatch_sent",
                    dispatch_id=action.dispatch_id,
                    target=result.target,
                    outcome=result.outcome.value,
                    reason=action.reason,
                )
            else:
                summary.failed += 1
                kind = (
                    "dispatch_queue_full"
                    if result.outcome is SendOutcome.QUEUE_FULL
                    else "dispatch_enqueue_failed"
                )
                summary.errors.append((kind, action.dispatch_id, result.error))
                log.warning("dispatch_failed", dispatch_id=action.dispatch_id, error=result.error)

        await asyncio.gather(*(one(action) for action in actions))
        return acks

    async def send_sensor_evaluations(
        self, items: Sequence[SensorDispatch], summary: SendSummary
    ) -> list[EventEnvelope]:
        """Send each requested sensor evaluation; the acknowledgements of accepted ones."""

        async def one(item: SensorDispatch) -> EventEnvelope | None:
            async with self._limit:
                envelope = self._builder.build_sensor_evaluation(item)
                result = await self._adapter.send(envelope, item.cloud_task_id)
            summary.attempted += 1
            if not result.outcome.acknowledged:
                summary.failed += 1
                summary.errors.append(("sensor_dispatch_failed", item.eval_id, result.error))
                log.warning("sensor_dispatch_failed", eval_id=item.eval_id, error=result.error)
                return None
            summary.enqueued += 1
            log.info("sensor_dispatch_sent", eval_id=item.eval_id, target=result.target)
            return self.event(
                SensorEvaluationDispatched(
                    sensor_id=item.sensor_id, eval_id=item.eval_id, cloud_task_id=item.cloud_task_id
                )
            )

        sent = await asyncio.gather(*(one(item) for item in items))
        return [ack for ack in sent if ack is not None]
