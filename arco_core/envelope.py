"""The durable event envelope: one event as snake_case JSON, validated on the way in.

Every event of every domain travels in an :class:`EventEnvelope`: the ledger stores its
canonical JSON bytes (:mod:`arco_core.ledger`), the compactors fold it, and the payload
codecs of each domain fill and read its ``data`` object.
"""

from __future__ import annotations

import datetime as _dt
import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from arco_core.canonical_json import canonical_bytes, parse_json_object
from arco_core.clock import parse_rfc3339_ms
from arco_core.errors import InvalidArgument
from arco_core.ids import is_ulid, ulid_timestamp_ms
from arco_core.paths import Scope

__all__ = ["EventEnvelope"]

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
