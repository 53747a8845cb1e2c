"""The catalog's Tier-1 write protocol, behind every CatalogService write.

:meth:`CatalogWriter.write` runs a write's plan against the current state without the
lock, so requests that cannot succeed or change nothing fail or answer fast; otherwise it
takes the catalog lease lock (queueing in-process first, bounded overall wait), refreshes
the state, replays an earlier call with the same ``idempotency-key``, plans again,
appends the events with ids after the published watermark, has the catalog compactor
publish them fenced by the lease's token, answers from the state that publish produced
(read-your-writes), records the key's marker and releases the lock.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
from collections.abc import Callable
from typing import Final, Generic, TypeVar

import structlog
from google.protobuf.message import Message

from arco_core.catalog import CatalogEventPayload, CatalogState, event_ids_after, make_event
from arco_core.errors import ArcoError, FailedPrecondition, InternalError, Unavailable
from arco_core.ids import UlidGenerator, new_ulid
from arco_core.locks import Lease
from arco_core.published import Snapshot
from services.api.deps import ApiDeps
from services.api.idempotency import IdempotencyMarkers, MarkerKey

log = structlog.get_logger(__name__)

LOCK_NAME: Final = "catalog"
# How long a write waits for the catalog lock (in-process queue included) before giving up.
LOCK_WAIT_SEC: Final = 5.0

_R = TypeVar("_R", bound=Message)

Plan = Callable[[CatalogState, int], list[CatalogEventPayload]]


@dataclasses.dataclass(frozen=True, slots=True)
class Answer(Generic[_R]):
    """A write's response and the id of the entity it created (for the key's marker)."""

    response: _R
    entity_id: str = ""


@dataclasses.dataclass(frozen=True, slots=True)
class Idempotent(Generic[_R]):
    """A create call's ``idempotency-key`` marker and how to read its stored response."""

    marker: MarkerKey
    parse: Callable[[bytes], _R]


def _watermark(snapshot: Snapshot[CatalogState]) -> str | None:
    """The highest event id the published catalog has folded (events at or below it are
    skipped as stale, so new ids must sort after it)."""
    candidates = [
        snapshot.state.watermark_event_id,
        snapshot.manifest.last_event_id if snapshot.manifest else None,
    ]
    present = [c for c in candidates if c]
    return max(present) if present else None


class CatalogWriter:
    def __init__(self, deps: ApiDeps, *, lock_wait_sec: float = LOCK_WAIT_SEC) -> None:
        self._deps = deps
        self._lock_wait_sec = lock_wait_sec
        self._instance_id = new_ulid()
        self._ids = UlidGenerator(deps.clock)
        self._markers = IdempotencyMarkers(deps.storage, deps.clock)
        # Writes of this process queue here, so only one of them polls the storage lock.
        self._local = asyncio.Lock()

    async def state(self) -> CatalogState:
        snapshot = await self._deps.catalog.reader.refresh()
        state: CatalogState = snapshot.state
        return state

    async def replay(self, idem: Idempotent[_R] | None) -> _R | None:
        """The stored response of an earlier call with this key, or None if there is none.

        Raises Conflict when the key was used with a different request.
        """
        if idem is None:
            return None
        marker = await self._markers.held(idem.marker)
        if marker is None:
            return None
        response = marker.get("response")
        if not isinstance(response, str):
            raise InternalError("idempotency marker is corrupt", reason="idempotency_corrupt")
        log.info("catalog_idempotent_replay", op=idem.marker.op, entity_id=marker.get("entity_id"))
        return idem.parse(base64.b64decode(response))

    async def _remember(self, idem: Idempotent[_R], answer: Answer[_R]) -> None:
        response = answer.response.SerializeToString(deterministic=True)
        record = {"entity_id": answer.entity_id, "response": base64.b64encode(response).decode()}
        try:
            await self._markers.reserve(idem.marker, record)
        except ArcoError as exc:
            # The write is published: report it as done. A retry with this key then sees
            # the entity as existing (ALREADY_EXISTS) instead of a replay, never a second
            # write. (A marker already there means the lock was lost mid-write.)
            log.warning("catalog_idempotency_marker_failed", op=idem.marker.op, error=repr(exc))

    def _lock_held(self, metadata: dict[str, str] | None = None) -> FailedPrecondition:
        return FailedPrecondition(
            f"catalog lock still held after {self._lock_wait_sec:g}s; retry later",
            reason="catalog_lock_held",
            metadata=metadata,
        )

    async def _acquire(self, holder_id: str) -> Lease:
        """Queue behind this process's other writes, then take the storage lock; the whole
        wait is bounded by ``lock_wait_sec``. The caller must release ``self._local``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._lock_wait_sec
        try:
            await asyncio.wait_for(self._local.acquire(), self._lock_wait_sec)
        except TimeoutError:
            raise self._lock_held() from None
        try:
            return await self._deps.catalog_lock.acquire(
                holder_id, timeout_s=max(deadline - loop.time(), 0.0)
            )
        except BaseException as exc:
            self._local.release()
            if isinstance(exc, Unavailable) and exc.reason == "lock_unavailable":
                raise self._lock_held(exc.metadata) from None
            raise

    async def _release(self, lease: Lease) -> None:
        try:
            await self._deps.catalog_lock.release(lease)
        except ArcoError as exc:
            # The lease ends by itself at its expiry; never mask the write's own outcome.
            log.warning("catalog_lock_release_failed", epoch=lease.token, error=repr(exc))

    async def write(
        self,
        request_id: str,
        plan: Plan,
        answer: Callable[[CatalogState, list[CatalogEventPayload]], Answer[_R]],
        idem: Idempotent[_R] | None = None,
    ) -> _R:
        """The Tier-1 write path (see the module docstring); returns the response."""
        # Fast path without the lock: client errors and no-ops need no lock.
        state = await self.state()
        if not plan(state, self._deps.clock.now_ms()):
            return answer(state, []).response
        lease = await self._acquire(f"api-{self._instance_id}/{request_id}")
        try:
            try:
                return await self._write_locked(request_id, lease, plan, answer, idem)
            finally:
                await self._release(lease)
        finally:
            self._local.release()

    async def _write_locked(
        self,
        request_id: str,
        lease: Lease,
        plan: Plan,
        answer: Callable[[CatalogState, list[CatalogEventPayload]], Answer[_R]],
        idem: Idempotent[_R] | None,
    ) -> _R:
        snapshot = await self._deps.catalog.reader.refresh()
        if (replayed := await self.replay(idem)) is not None:
            return replayed
        payloads = plan(snapshot.state, self._deps.clock.now_ms())
        if not payloads:
            return answer(snapshot.state, []).response
        ids = event_ids_after(_watermark(snapshot), len(payloads), new_id=self._ids.new)
        scope = self._deps.scope
        events = [
            make_event(
                payload,
                tenant_id=scope.tenant_id,
                workspace_id=scope.workspace_id,
                event_id=event_id,
                correlation_id=request_id,
            )
            for payload, event_id in zip(payloads, ids, strict=True)
        ]
        published = await self._deps.catalog.commit_fenced(
            events, token=lease.token, lock_name=LOCK_NAME, request_id=request_id
        )
        result = answer(published.state, payloads)
        if idem is not None:
            await self._remember(idem, result)
        log.info(
            "catalog_write_committed",
            types=[p.TYPE for p in payloads],
            manifest_seq=published.seq,
            fencing_token=lease.token,
        )
        return result.response
