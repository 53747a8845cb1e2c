"""The append-only event ledger: immutable canonical-JSON objects, one event or a segment.

Two kinds of object live under ``ledger/{domain}/{YYYY-MM-DD}/``, both written with
create-if-absent and never changed afterwards:

* an **event** ``{event_id}.json``: one envelope as canonical JSON;
* a **segment** ``{last_event_id}.seg.json``: several envelopes written as one object, so a
  writer pays one crash-safe put (and a reader one GET) for a whole batch. The body is the
  canonical JSON object ``{"events": [envelope, ...], "segment_version": 1}`` with 2 to
  ``MAX_SEGMENT_EVENTS`` envelopes sorted strictly ascending by ``event_id``, all of the
  writer's scope. The segment is named after its *highest* event id, on that id's UTC day:
  since the date directory and the name both follow the id, ledger keys sort like the
  highest id they hold, and a listing from the key of event X (the sweeper's scan) never
  skips a segment holding an event after X.

Appending is idempotent: re-appending the same event (or the same segment) is a no-op;
different bytes under the same key are a Conflict. The same event may end up in several
objects (a retried append grouped differently); readers deduplicate by ``event_id`` and
refuse two different envelopes with the same id. Readers get explicit paths (never a
listing), except the sweeper's anti-entropy scan.

:class:`~arco_core.ledger_batching.BatchingLedgerWriter` coalesces concurrent appends (one
api or dispatcher process, many requests) into shared segments; the envelope itself is
:class:`~arco_core.envelope.EventEnvelope`.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeVar

import structlog

from arco_core.canonical_json import canonical_bytes, parse_json_object
from arco_core.clock import Clock
from arco_core.envelope import EventEnvelope
from arco_core.errors import (
    ArcoError,
    Conflict,
    InvalidArgument,
    ObjectAlreadyExists,
    ScopeViolation,
)
from arco_core.paths import (
    LedgerSegmentPath,
    ledger_domain_prefix,
    ledger_event_path,
    ledger_segment_path,
    parse_ledger_path,
    validate_domain,
)
from arco_core.storage import ScopedStorage

__all__ = [
    "MAX_EVENT_ID_FUTURE_SKEW_MS",
    "MAX_SEGMENT_EVENTS",
    "SEGMENT_VERSION",
    "LedgerBatch",
    "LedgerReader",
    "LedgerWriter",
]

_log = structlog.get_logger(__name__)
_T = TypeVar("_T")

MAX_EVENT_ID_FUTURE_SKEW_MS: Final = 5 * 60 * 1000
DEFAULT_CONCURRENCY: Final = 16
# Reads are GETs of immutable objects: a higher bound only costs memory.
DEFAULT_READ_CONCURRENCY: Final = 64
SEGMENT_VERSION: Final = 1
MAX_SEGMENT_EVENTS: Final = 10_000


async def _bounded(
    items: Sequence[_T], concurrency: int, fn: Callable[[_T], Awaitable[Any]]
) -> list[Any]:
    """Run ``fn`` over items with bounded concurrency; every item is attempted, the first
    failure (in input order) is raised afterwards. Results keep input order."""
    if concurrency < 1:
        raise InvalidArgument("concurrency must be >= 1")
    if len(items) == 1:
        return [await fn(items[0])]
    sem = asyncio.Semaphore(concurrency)

    async def one(item: _T) -> Any:
        async with sem:
            return await fn(item)

    results = await asyncio.gather(*(one(i) for i in items), return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return list(results)


def _segment_body(envelopes: Sequence[EventEnvelope]) -> bytes:
    return canonical_bytes(
        {"events": [e.to_json_dict() for e in envelopes], "segment_version": SEGMENT_VERSION}
    )


def _distinct_sorted(envelopes: Iterable[EventEnvelope]) -> list[EventEnvelope]:
    """Envelopes by ascending id; an exact repeat is dropped, a different one refused."""
    by_id: dict[str, EventEnvelope] = {}
    for envelope in envelopes:
        seen = by_id.setdefault(envelope.event_id, envelope)
        if seen is not envelope and seen != envelope:
            raise InvalidArgument(
                f"two different events share the id {envelope.event_id}",
                reason="duplicate_event_id",
            )
    return [by_id[k] for k in sorted(by_id)]


class LedgerWriter:
    """Appends events of one domain to a scoped storage handle."""

    def __init__(self, storage: ScopedStorage, domain: str, clock: Clock) -> None:
        self._storage = storage
        self._domain = validate_domain(domain)
        self._clock = clock

    @property
    def domain(self) -> str:
        return self._domain

    def check(self, envelope: EventEnvelope) -> EventEnvelope:
        """Everything an append verifies before I/O: shape, scope, future skew."""
        envelope.validate()
        scope = self._storage.scope
        if (envelope.tenant_id, envelope.workspace_id) != (scope.tenant_id, scope.workspace_id):
            raise ScopeViolation(
                f"event {envelope.event_id} is for {envelope.tenant_id}/{envelope.workspace_id},"
                f" not {scope.tenant_id}/{scope.workspace_id}"
            )
        skew = envelope.event_time_ms - self._clock.now_ms()
        if skew > MAX_EVENT_ID_FUTURE_SKEW_MS:
            raise InvalidArgument(
                f"event_id {envelope.event_id} is {skew} ms in the future",
                reason="event_id_future_skew",
            )
        return envelope

    def _prepare(self, envelope: EventEnvelope) -> tuple[str, bytes]:
        self.check(envelope)
        return ledger_event_path(self._domain, envelope.event_id), envelope.canonical_bytes()

    async def _write(self, path: str, body: bytes, *, reason: str = "ledger_event_conflict") -> str:
        try:
            await self._storage.create(path, body)
        except ObjectAlreadyExists:
            existing = await self._storage.get(path)
            if existing == body or _canonical_or_none(existing) == body:
                return path
            raise Conflict(
                f"ledger object {path} already exists with a different payload",
                reason=reason,
                metadata={"path": path},
            ) from None
        return path

    async def append(self, envelope: EventEnvelope) -> str:
        """Write one event; returns its path. Re-appending the same event is a no-op."""
        path, body = self._prepare(envelope)
        return await self._write(path, body)

    async def append_all(
        self, envelopes: Iterable[EventEnvelope], concurrency: int = DEFAULT_CONCURRENCY
    ) -> list[str]:
        """Write many events; all are validated before the first write. Paths in input order."""
        prepared = [self._prepare(e) for e in envelopes]
        return await _bounded(prepared, concurrency, lambda pb: self._write(pb[0], pb[1]))

    def prepare_segment(self, envelopes: Iterable[EventEnvelope]) -> tuple[str, bytes]:
        """Validate and encode a segment: (path, canonical body). See the module docstring."""
        return self._encode_segment(_distinct_sorted(self.check(e) for e in envelopes))

    def _encode_segment(self, events: list[EventEnvelope]) -> tuple[str, bytes]:
        # ``events``: checked, distinct and sorted by id.
        if not events:
            raise InvalidArgument("a ledger segment needs at least one event")
        if len(events) > MAX_SEGMENT_EVENTS:
            raise InvalidArgument(
                f"a ledger segment holds at most {MAX_SEGMENT_EVENTS} events, got {len(events)}",
                reason="segment_too_large",
            )
        if len(events) == 1:
            return ledger_event_path(self._domain, events[0].event_id), events[0].canonical_bytes()
        return ledger_segment_path(self._domain, events[-1].event_id), _segment_body(events)

    async def append_segment(self, envelopes: Iterable[EventEnvelope]) -> str:
        """Write several events as ONE immutable object; returns its path.

        All events are validated first. Replaying the same set is a no-op; a different set
        ending in the same event id is a Conflict (reason ``ledger_segment_conflict``). A
        single distinct event is written as a plain event object instead.
        """
        return await self._write_segment(self.prepare_segment(envelopes))

    async def append_checked(self, envelopes: Iterable[EventEnvelope]) -> dict[str, str]:
        """Write events that :meth:`check` already passed, as segments of up to
        ``MAX_SEGMENT_EVENTS``; returns the path holding each event id.

        Two different envelopes with one id are refused (reason ``duplicate_event_id``).
        """
        events = _distinct_sorted(envelopes)
        path_of: dict[str, str] = {}
        for start in range(0, len(events), MAX_SEGMENT_EVENTS):
            chunk = events[start : start + MAX_SEGMENT_EVENTS]
            path = await self._write_segment(self._encode_segment(chunk))
            path_of.update((e.event_id, path) for e in chunk)
        return path_of

    async def _write_segment(self, encoded: tuple[str, bytes]) -> str:
        path, body = encoded
        reason = (
            "ledger_segment_conflict" if path.endswith(".seg.json") else "ledger_event_conflict"
        )
        return await self._write(path, body, reason=reason)


def _canonical_or_none(data: bytes) -> bytes | None:
    try:
        return canonical_bytes(parse_json_object(data))
    except ArcoError:
        return None


@dataclass(frozen=True)
class LedgerBatch:
    """What a read returned: the events (deduplicated, sorted by id) and, per path read,
    the ids of the events that object holds."""

    events: list[EventEnvelope]
    event_ids: Mapping[str, tuple[str, ...]]


class LedgerReader:
    """Reads events of one domain by explicit path; only the sweeper may scan."""

    def __init__(self, storage: ScopedStorage, domain: str) -> None:
        self._storage = storage
        self._domain = validate_domain(domain)

    def _check_path(self, path: str) -> bool:
        """Validate a requested key before any I/O; True for a segment."""
        if path.startswith(("tenant=", "/tenant=")):
            raise ScopeViolation(
                f"ledger paths are scope-relative; got {path!r}", metadata={"path": path}
            )
        parsed = parse_ledger_path(path)
        if parsed.domain != self._domain:
            raise InvalidArgument(
                f"{path!r} is not in the {self._domain} ledger", reason="invalid_ledger_path"
            )
        return isinstance(parsed, LedgerSegmentPath)

    def _in_scope(self, envelope: EventEnvelope, path: str) -> EventEnvelope:
        scope = self._storage.scope
        if envelope.tenant_id != scope.tenant_id or envelope.workspace_id != scope.workspace_id:
            raise ScopeViolation(
                f"event {envelope.event_id} at {path} belongs to another tenant/workspace",
                metadata={"path": path},
            )
        return envelope

    async def _read_event(self, path: str) -> list[EventEnvelope]:
        envelope = self._in_scope(EventEnvelope.from_bytes(await self._storage.get(path)), path)
        if ledger_event_path(self._domain, envelope.event_id) != path:
            raise InvalidArgument(
                f"{path!r} is not the canonical path of event {envelope.event_id}",
                reason="non_canonical_event_path",
            )
        return [envelope]

    async def _read_segment(self, path: str) -> list[EventEnvelope]:
        body = await self._storage.get(path)
        # Thousands of new, acyclic objects: a collection pass would find nothing to free.
        enabled = gc.isenabled()
        gc.disable()
        try:
            return self._decode_segment(path, body)
        finally:
            if enabled:
                gc.enable()

    def _decode_segment(self, path: str, body: bytes) -> list[EventEnvelope]:
        doc = parse_json_object(body)
        version, items = doc.get("segment_version"), doc.get("events")
        if version != SEGMENT_VERSION or not isinstance(items, list):
            raise InvalidArgument(
                f"{path!r} is not a version-{SEGMENT_VERSION} ledger segment",
                reason="invalid_ledger_segment",
            )
        if not 1 <= len(items) <= MAX_SEGMENT_EVENTS:
            raise InvalidArgument(
                f"segment {path!r} holds {len(items)} events", reason="invalid_ledger_segment"
            )
        events = [self._in_scope(EventEnvelope.from_json_dict(item), path) for item in items]
        previous = ""
        for envelope in events:
            if envelope.event_id <= previous:
                raise InvalidArgument(
                    f"segment {path!r} is not sorted strictly by event_id",
                    reason="non_canonical_event_path",
                )
            previous = envelope.event_id
        if ledger_segment_path(self._domain, previous) != path:
            raise InvalidArgument(
                f"{path!r} is not the canonical path of a segment ending at {previous}",
                reason="non_canonical_event_path",
            )
        return events

    async def read_batch(
        self, paths: Iterable[str], concurrency: int = DEFAULT_READ_CONCURRENCY
    ) -> LedgerBatch:
        """Read event and segment objects; every path is checked before any I/O.

        Events held by several objects are returned once; two *different* envelopes with
        one id raise Conflict (reason ``ledger_event_conflict``).
        """
        unique = list(dict.fromkeys(paths))
        kinds = [self._check_path(path) for path in unique]

        async def one(item: tuple[str, bool]) -> list[EventEnvelope]:
            path, is_segment = item
            return await (self._read_segment(path) if is_segment else self._read_event(path))

        results: list[list[EventEnvelope]] = await _bounded(
            list(zip(unique, kinds, strict=True)), concurrency, one
        )
        by_id: dict[str, EventEnvelope] = {}
        event_ids: dict[str, tuple[str, ...]] = {}
        for path, envelopes in zip(unique, results, strict=True):
            event_ids[path] = tuple(e.event_id for e in envelopes)
            for envelope in envelopes:
                seen = by_id.setdefault(envelope.event_id, envelope)
                if seen is not envelope and seen != envelope:
                    raise Conflict(
                        f"ledger holds two different events with id {envelope.event_id}",
                        reason="ledger_event_conflict",
                        metadata={"path": path},
                    )
        return LedgerBatch([by_id[k] for k in sorted(by_id)], event_ids)

    async def read(
        self, paths: Iterable[str], concurrency: int = DEFAULT_READ_CONCURRENCY
    ) -> list[EventEnvelope]:
        """Read the events at the given event or segment paths (deduplicated), sorted by
        event_id. Paths are checked before any I/O."""
        return (await self.read_batch(paths, concurrency)).events

    async def scan_paths_after(
        self, event_id: str | None, *, limit: int | None = None
    ) -> list[str]:
        """Anti-entropy: canonical event and segment paths that may hold ids after
        ``event_id`` (sweeper only).

        Keys sort like the highest event id they hold (the date directory and the name both
        derive from it), so the listing offset is the path of ``event_id`` itself. A
        segment may also hold earlier events; readers deduplicate.
        """
        offset = None if event_id is None else ledger_event_path(self._domain, event_id)
        metas = await self._storage.list(ledger_domain_prefix(self._domain), offset=offset)
        paths: list[str] = []
        for meta in metas:
            try:
                self._check_path(meta.path)
            except ArcoError:
                _log.warning("ledger_scan_skipped_object", path=meta.path)
                continue
            paths.append(meta.path)
            if limit is not None and len(paths) >= limit:
                break
        return paths

    async def scan_after(
        self, event_id: str | None, *, limit: int | None = None
    ) -> list[EventEnvelope]:
        """Events with ids after ``event_id`` (all when None), sorted (sweeper only)."""
        events = await self.read(await self.scan_paths_after(event_id, limit=limit))
        return events if event_id is None else [e for e in events if e.event_id > event_id]
