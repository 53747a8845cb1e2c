"""The ``idempotency-key`` of the api's create calls: one marker store for every servicer.

A marker lives at ``idempotency/{namespace}/{sha256(key)}.json``. It holds the call's
``op`` and ``request_sha256``, which a later call with the same key must match, beside
what that call needs to answer again. It is created once, if absent, and never
rewritten; the first marker wins. Servicers use it in one of two ways:

* DeployManifest *reserves* the ids of its event before it writes it, so a retry after a
  crash, or a concurrent call with the key, writes byte-identical events;
* the catalog creates are already serialised by the catalog lock, and their response is
  known only once it is published, so they *record* it then and a retry replays it.

Reusing a key for a different request is ABORTED ``idempotency_key_conflict``.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Final

from arco_core.canonical_json import canonical_bytes, parse_json_object
from arco_core.clock import Clock
from arco_core.errors import Conflict, ObjectAlreadyExists, ObjectNotFound
from arco_core.paths import idempotency_path
from arco_core.storage import ScopedStorage

IDEMPOTENCY_KEY: Final = "idempotency-key"
MARKER_VERSION: Final = 1


async def reserve_record(
    storage: ScopedStorage, path: str, record: dict[str, Any]
) -> dict[str, Any]:
    """Create ``record`` at ``path`` unless one exists; the record that holds the path."""
    try:
        await storage.create(path, canonical_bytes(record))
    except ObjectAlreadyExists:
        return parse_json_object(await storage.get(path))
    return record


@dataclasses.dataclass(frozen=True, slots=True)
class MarkerKey:
    """One call's key: where its marker lives and what the marker must match."""

    path: str
    op: str
    request_sha256: str


class IdempotencyMarkers:
    def __init__(self, storage: ScopedStorage, clock: Clock) -> None:
        self._storage = storage
        self._clock = clock

    @staticmethod
    def key(namespace: str, op: str, key: str | None, request_sha256: str) -> MarkerKey | None:
        """The marker of a call that sent ``key`` (None when it sent none)."""
        if not key:
            return None
        return MarkerKey(idempotency_path(namespace, key), op, request_sha256)

    async def held(self, key: MarkerKey) -> dict[str, Any] | None:
        """The marker an earlier call with this key left, or None if there is none."""
        try:
            raw = await self._storage.get(key.path)
        except ObjectNotFound:
            return None
        return self._matching(key, parse_json_object(raw))

    async def reserve(self, key: MarkerKey, record: dict[str, Any]) -> dict[str, Any]:
        """Leave ``record`` under the key unless an earlier call did; the held marker."""
        marker = {
            "version": MARKER_VERSION,
            "op": key.op,
            "request_sha256": key.request_sha256,
            "created_at_ms": self._clock.now_ms(),
            **record,
        }
        return self._matching(key, await reserve_record(self._storage, key.path, marker))

    @staticmethod
    def _matching(key: MarkerKey, marker: dict[str, Any]) -> dict[str, Any]:
        if marker.get("op") != key.op or marker.get("request_sha256") != key.request_sha256:
            raise Conflict(
                "Idempotency-Key already used with different request body",
                reason="idempotency_key_conflict",
            )
        return marker
