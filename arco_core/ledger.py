"""The append-only event ledger: one immutable canonical-JSON object per event.

Writers create ``ledger/{domain}/{YYYY-MM-DD}/{event_id}.json`` with create-if-absent, so an
append is idempotent: re-appending the same event is a no-op, a different event under the
same id is a conflict. Readers get explicit paths (never a listing), except the sweeper's
anti-entropy scan.
"""

from __future__ import annotations

import asyncio
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
    Scope,
    ledger_domain_prefix,
    ledger_event_path,
    parse_ledger_event_path,
    validate_domain,
)
from arco_core.storage import ScopedStorage

__all__ = [
    "MAX_EVENT_ID_FUTURE_SKEW_MS",
    "EventEnvelope",
    "LedgerReader",
    "LedgerWriter",
]

_log = structlog.get_logger(__name__)
_T = TypeVar("_T")

MAX_EVENT_ID_FUTURE_SKEW_MS: Final = 5 * 60 * 1000
DEFAULT_CONCURRENCY: Final = 16

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
        return parse_rfc3339_ms(self.timestamp)

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
        parse_rfc3339_ms(self.timestamp)
        for name in ("source", "idempotency_key"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                raise _invalid(f"{name} must be a non-empty string")
        try:
            Scope(self.tenant_id, self.workspace_id)
        except InvalidArgument as exc:
            raise _invalid(f"invalid tenant/workspace: {exc.message}") from exc
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
    sem = asyncio.Semaphore(concurrency)

    async def one(item: _T) -> Any:
        async with sem:
            return await fn(item)

    results = await asyncio.gather(*(one(i) for i in items), return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return list(results)


class LedgerWriter:
    """Appends events of one domain to a scoped storage handle."""

    def __init__(self, storage: ScopedStorage, domain: str, clock: Clock) -> None:
        self._storage = storage
        self._domain = validate_domain(domain)
        self._clock = clock

    @property
    def domain(self) -> str:
        return self._domain

    def _prepare(self, envelope: EventEnvelope) -> tuple[str, bytes]:
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
        return ledger_event_path(self._domain, envelope.event_id), envelope.canonical_bytes()

    async def _write(self, path: str, body: bytes) -> str:
        try:
            await self._storage.create(path, body)
        except ObjectAlreadyExists:
            existing = await self._storage.get(path)
            if existing == body or _canonical_or_none(existing) == body:
                return path
            raise Conflict(
                f"ledger event {path} already exists with a different payload",
                reason="ledger_event_conflict",
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


def _canonical_or_none(data: bytes) -> bytes | None:
    try:
        return canonical_bytes(parse_json_object(data))
    except ArcoError:
        return None


class LedgerReader:
    """Reads events of one domain by explicit path; only the sweeper may scan."""

    def __init__(self, storage: ScopedStorage, domain: str) -> None:
        self._storage = storage
        self._domain = validate_domain(domain)

    def _check_path(self, path: str) -> None:
        if path.startswith(("tenant=", "/tenant=")):
            raise ScopeViolation(
                f"ledger paths are scope-relative; got {path!r}", metadata={"path": path}
            )
        parsed = parse_ledger_event_path(path)
        if parsed.domain != self._domain:
            raise InvalidArgument(
                f"{path!r} is not in the {self._domain} ledger", reason="invalid_ledger_path"
            )

    async def _read_one(self, path: str) -> EventEnvelope:
        envelope = EventEnvelope.from_bytes(await self._storage.get(path))
        scope = self._storage.scope
        if (envelope.tenant_id, envelope.workspace_id) != (scope.tenant_id, scope.workspace_id):
            raise ScopeViolation(
                f"event at {path} belongs to another tenant/workspace", metadata={"path": path}
            )
        if ledger_event_path(self._domain, envelope.event_id) != path:
            raise InvalidArgument(
                f"{path!r} is not the canonical path of event {envelope.event_id}",
                reason="non_canonical_event_path",
            )
        return envelope

    async def read(
        self, paths: Iterable[str], concurrency: int = DEFAULT_CONCURRENCY
    ) -> list[EventEnvelope]:
        """Read the given events (deduplicated), sorted by event_id. Paths are checked
        before any I/O."""
        unique = list(dict.fromkeys(paths))
        for path in unique:
            self._check_path(path)
        envelopes: list[EventEnvelope] = await _bounded(unique, concurrency, self._read_one)
        by_id = {e.event_id: e for e in envelopes}
        return [by_id[k] for k in sorted(by_id)]

    async def scan_paths_after(
        self, event_id: str | None, *, limit: int | None = None
    ) -> list[str]:
        """Anti-entropy: canonical event paths with ids after ``event_id`` (sweeper only).

        Paths sort like event ids (the date directory is derived from the id), so the
        listing offset is the path of ``event_id`` itself.
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
        return await self.read(await self.scan_paths_after(event_id, limit=limit))
