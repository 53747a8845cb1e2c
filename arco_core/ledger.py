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

:class:`BatchingLedgerWriter` coalesces concurrent appends (one api or dispatcher process,
many requests) into shared segments: callers awaiting at the same time share one put.
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import functools
import gc
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, TypeVar

import structlog

from arco_core.canonical_json import canonical_bytes, parse_json_object
from arco_core.clock import Clock, parse_rfc3339_ms
from arco_core.errors import (
    ArcoError,
    Conflict,
    InvalidArgument,
    ObjectAlreadyExists,
    ScopeViolation,
)
from arco_core.ids import is_ulid, ulid_timestamp_ms
from arco_core.paths import (
    LedgerSegmentPath,
    Scope,
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
    "BatchingLedgerWriter",
    "EventEnvelope",
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

_PASCAL = re.compile(r"[A-Z][A-Za-z0-9]*")
_SNAKE = re.compile(r"[a-z][a-z0-9_]*")
_REQUIRED: Final = (
    "event_id",
    "event_type",
    "event_version",
    "timestamp",
    "source",
    "tenant_id",
    "workspace_id",
    "idempotency_key",
    "data",
)


def _invalid(message: str) -> InvalidArgument:
    return InvalidArgument(message, reason="invalid_event")


# The form every writer here emits (``clock.rfc3339_ms``); anything else takes the general
# parser. Digits only (re.ASCII), so int() never sees non-ASCII digits.
_CANONICAL_TS = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\.(\d{3})Z", re.ASCII)
_EPOCH_ORDINAL: Final = _dt.date(1970, 1, 1).toordinal()


def _timestamp_ms(text: str) -> int:
    """``parse_rfc3339_ms`` with a fast path for ``YYYY-MM-DDTHH:MM:SS.mmmZ``."""
    match = _CANONICAL_TS.fullmatch(text)
    if match is None:
        return parse_rfc3339_ms(text)
    year, month, day, hour, minute, second, millis = map(int, match.groups())
    if hour > 23 or minute > 59 or second > 59:
        return parse_rfc3339_ms(text)  # out of range: let the general parser reject it
    try:
        days = _dt.date(year, month, day).toordinal() - _EPOCH_ORDINAL
    except ValueError:
        return parse_rfc3339_ms(text)
    return ((days * 24 + hour) * 60 + minute) * 60_000 + second * 1000 + millis


@functools.lru_cache(maxsize=256)
def _scope_error(tenant_id: object, workspace_id: object) -> str | None:
    # Events of one process almost always share one scope: validate each pair once.
    try:
        Scope(tenant_id, workspace_id)  # type: ignore[arg-type]
    except InvalidArgument as exc:
        return exc.message
    return None


@dataclass(frozen=True)
class EventEnvelope:
    """One durable event (snake_case JSON). ``data["type"]`` is the snake_case payload tag."""

    event_id: str
    event_type: str
    event_version: int
    timestamp: str
    source: str
    tenant_id: str
    workspace_id: str
    idempotency_key: str
    data: Mapping[str, Any] = field(hash=False)
    correlation_id: str | None = None
    causation_id: str | None = None

    @property
    def data_type(self) -> str:
        value = self.data.get("type")
        return value if isinstance(value, str) else ""

    @property
    def timestamp_ms(self) -> int:
        # Cached in the instance dict (not a field: equality and hashing ignore it), since
        # validation parses it once and the fold reads it again. functools.cached_property
        # would take a lock on every first access.
        cached = self.__dict__.get("_timestamp_ms")
        if cached is None:
            cached = _timestamp_ms(self.timestamp)
            object.__setattr__(self, "_timestamp_ms", cached)
        return cached

    @property
    def event_time_ms(self) -> int:
        """The ULID time of ``event_id``: what ordering, retries and retention use."""
        return ulid_timestamp_ms(self.event_id)

    def validate(self) -> EventEnvelope:
        """Raise InvalidArgument naming the first problem; return self when valid."""
        if not is_ulid(self.event_id):
            raise _invalid(f"event_id {self.event_id!r} is not a ULID")
        if not isinstance(self.event_type, str) or not _PASCAL.fullmatch(self.event_type):
            raise _invalid(f"event_type {self.event_type!r} is not PascalCase")
        if (
            isinstance(self.event_version, bool)
            or not isinstance(self.event_version, int)
            or self.event_version < 1
        ):
            raise _invalid(f"event_version {self.event_version!r} must be an integer >= 1")
        if not isinstance(self.timestamp, str):
            raise _invalid("timestamp must be an RFC 3339 string")
        _ = self.timestamp_ms
        for name in ("source", "idempotency_key"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                raise _invalid(f"{name} must be a non-empty string")
        try:
            scope_error = _scope_error(self.tenant_id, self.workspace_id)
        except TypeError:  # unhashable junk from a hostile document
            scope_error = "tenant_id and workspace_id must be strings"
        if scope_error is not None:
            raise _invalid(f"invalid tenant/workspace: {scope_error}")
        for name in ("correlation_id", "causation_id"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value):
                raise _invalid(f"{name} must be a non-empty string when present")
        if not isinstance(self.data, Mapping):
            raise _invalid("data must be an object")
        tag = self.data.get("type")
        if not isinstance(tag, str) or not _SNAKE.fullmatch(tag):
            raise _invalid(f"data.type {tag!r} must be a snake_case string")
        return self

    def to_json_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "event_id": self.event_id,
            "event_type": self.event_type,
            "event_version": self.event_version,
            "timestamp": self.timestamp,
            "source": self.source,
            "tenant_id": self.tenant_id,
            "workspace_id": self.workspace_id,
            "idempotency_key": self.idempotency_key,
            "data": dict(self.data),
        }
        if self.correlation_id is not None:
            out["correlation_id"] = self.correlation_id
        if self.causation_id is not None:
            out["causation_id"] = self.causation_id
        return out

    def canonical_bytes(self) -> bytes:
        return canonical_bytes(self.to_json_dict())

    @classmethod
    def from_json_dict(cls, d: Mapping[str, Any]) -> EventEnvelope:
        """Build and validate. Unknown top-level fields are ignored (forward compatibility)."""
        if not isinstance(d, Mapping):
            raise _invalid("event must be a JSON object")
        missing = [name for name in _REQUIRED if name not in d]
        if missing:
            raise _invalid(f"event is missing required fields: {', '.join(missing)}")
        return cls(
            event_id=d["event_id"],
            event_type=d["event_type"],
            event_version=d["event_version"],
            timestamp=d["timestamp"],
            source=d["source"],
            tenant_id=d["tenant_id"],
            workspace_id=d["workspace_id"],
            idempotency_key=d["idempotency_key"],
            data=d["data"],
            correlation_id=d.get("correlation_id"),
            causation_id=d.get("causation_id"),
        ).validate()

    @classmethod
    def from_bytes(cls, data: bytes) -> EventEnvelope:
        return cls.from_json_dict(parse_json_object(data))


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


@dataclass
class _Waiter:
    envelopes: list[EventEnvelope]
    future: asyncio.Future[list[str]]


class BatchingLedgerWriter:
    """Group append: concurrent callers share segment objects (pure asyncio).

    ``append`` validates the caller's events at once (a bad event fails only its caller),
    then queues them. Up to ``max_in_flight`` puts run at a time; everything queued while
    they are busy (up to ``max_events`` per put) goes out in the next one, so batches grow
    with load and an idle writer adds no delay. Each caller gets the paths holding its
    events, usually one segment shared with the other callers of its group (a lone event
    is written as a plain event object). If a group's segment conflicts with an existing
    object, its callers fall back to one object per event, so nobody fails because of a
    neighbour.
    """

    def __init__(
        self,
        writer: LedgerWriter,
        *,
        max_events: int = 1000,
        max_in_flight: int = 4,
        linger_s: float = 0.0,
    ) -> None:
        if not 1 <= max_events <= MAX_SEGMENT_EVENTS:
            raise InvalidArgument(f"max_events must be in 1..{MAX_SEGMENT_EVENTS}")
        if max_in_flight < 1 or linger_s < 0:
            raise InvalidArgument("max_in_flight must be >= 1 and linger_s >= 0")
        self._writer = writer
        self._max_events = max_events
        self._max_in_flight = max_in_flight
        self._linger_s = linger_s
        self._queue: list[_Waiter] = []
        self._in_flight = 0
        self._scheduled = False
        self._tasks: set[asyncio.Task[None]] = set()
        self.puts = 0  # objects written (for metrics and benchmarks)

    @property
    def domain(self) -> str:
        return self._writer.domain

    async def append(self, envelopes: Iterable[EventEnvelope]) -> list[str]:
        """Durably append the events; returns the paths (to compact) holding them."""
        checked = [self._writer.check(e) for e in envelopes]
        if not checked:
            return []
        waiter = _Waiter(checked, asyncio.get_running_loop().create_future())
        self._queue.append(waiter)
        self._schedule()
        return await waiter.future

    async def append_all(self, envelopes: Iterable[EventEnvelope]) -> list[str]:
        """Same as :meth:`append` (a drop-in for ``LedgerWriter.append_all`` callers)."""
        return await self.append(envelopes)

    async def aclose(self) -> None:
        """Wait until every queued append has been written."""
        while self._queue or self._tasks:
            if self._tasks:
                await asyncio.gather(*self._tasks, return_exceptions=True)
            else:
                await asyncio.sleep(0)

    def _schedule(self) -> None:
        if self._scheduled:
            return
        self._scheduled = True
        loop = asyncio.get_running_loop()
        if self._linger_s:
            loop.call_later(self._linger_s, self._dispatch)
        else:
            # Appends made in the same loop iteration join one group.
            loop.call_soon(self._dispatch)

    def _dispatch(self) -> None:
        self._scheduled = False
        while self._queue and self._in_flight < self._max_in_flight:
            group = [self._queue.pop(0)]
            total = len(group[0].envelopes)
            while self._queue and total + len(self._queue[0].envelopes) <= self._max_events:
                total += len(self._queue[0].envelopes)
                group.append(self._queue.pop(0))
            self._in_flight += 1
            task = asyncio.get_running_loop().create_task(self._flush(group))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _flush(self, group: list[_Waiter]) -> None:
        try:
            await self._write_group(group)
        finally:
            self._in_flight -= 1
            if self._queue:
                self._schedule()

    async def _write_group(self, group: list[_Waiter]) -> None:
        try:
            events = _distinct_sorted(e for w in group for e in w.envelopes)
            chunks = [
                events[i : i + MAX_SEGMENT_EVENTS]
                for i in range(0, len(events), MAX_SEGMENT_EVENTS)
            ]
            # Every event was checked by ``append``; encode and write without re-checking.
            paths = [
                await self._writer._write_segment(self._writer._encode_segment(chunk))
                for chunk in chunks
            ]
            self.puts += len(paths)
        except (Conflict, InvalidArgument) as exc:
            if len(group) == 1:
                _settle(group[0], exc=exc)
                return
            # A neighbour's event clashes with the ledger: write each caller on its own.
            _log.info("ledger_group_append_split", size=len(group), error=repr(exc))
            for waiter in group:
                try:
                    result = await self._writer.append_all(waiter.envelopes)
                    self.puts += len(result)
                    _settle(waiter, paths=list(dict.fromkeys(result)))
                except Exception as single:
                    _settle(waiter, exc=single)
            return
        except BaseException as exc:
            for waiter in group:
                _settle(waiter, exc=exc)
            if not isinstance(exc, Exception):
                raise
            return
        path_of = {
            e.event_id: path for chunk, path in zip(chunks, paths, strict=True) for e in chunk
        }
        for waiter in group:
            _settle(
                waiter, paths=list(dict.fromkeys(path_of[e.event_id] for e in waiter.envelopes))
            )


def _settle(
    waiter: _Waiter, *, paths: list[str] | None = None, exc: BaseException | None = None
) -> None:
    if waiter.future.done():  # the caller went away
        return
    if exc is not None:
        waiter.future.set_exception(exc)
    else:
        waiter.future.set_result(paths or [])
