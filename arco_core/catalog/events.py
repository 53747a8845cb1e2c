"""Catalog and lineage DDL events: typed payloads, their wire form, and the envelope builder.

Each payload carries every id and timestamp the fold needs, all chosen by the API when it
builds the event, so replaying the ledger reproduces the same rows byte for byte. On the
wire a payload is the envelope's ``data`` object: ``{"type": "<snake_case>", ...fields}``
with optional fields omitted when null; each payload declares its fields for
:mod:`arco_core.codec`. The catalog events have no proto: these declarations are their only
schema.
"""

from __future__ import annotations

import hashlib
import itertools
import secrets
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Annotated, Any, ClassVar, TypeAlias, get_args

from arco_core.canonical_json import canonical_bytes
from arco_core.clock import FakeClock, rfc3339_ms
from arco_core.codec import Bool, Codec, Declared, Dialect, Int, NestedList, Problem, Str
from arco_core.envelope import EventEnvelope
from arco_core.errors import InvalidArgument
from arco_core.ids import UlidGenerator, is_ulid, new_ulid, ulid_timestamp_ms

__all__ = [
    "CATALOG_DOMAIN",
    "EVENT_TYPES",
    "EVENT_VERSION",
    "LINEAGE_DOMAIN",
    "CatalogCreated",
    "CatalogEventPayload",
    "ColumnRecord",
    "EdgeRecord",
    "LineageEdgesAdded",
    "NamespaceDeleted",
    "ParsedCatalogEvent",
    "SchemaCreated",
    "TableDropped",
    "TableRegistered",
    "TableUpdated",
    "UnknownCatalogEvent",
    "domain_for",
    "event_ids_after",
    "event_type_for",
    "idempotency_key_for",
    "lineage_edge_id",
    "make_event",
    "new_uuid7",
    "parse_event",
    "payload_from_data",
]

CATALOG_DOMAIN = "catalog"
LINEAGE_DOMAIN = "lineage"
EVENT_VERSION = 1
_EDGE_ID_DOMAIN_TAG = b"arco-lineage-edge-v1"


# Identifiers --------------------------------------------------------------------------------


def new_uuid7(now_ms: int | None = None) -> str:
    """A random RFC 9562 UUIDv7 string (48-bit ms timestamp, 74 random bits)."""
    ms = time.time_ns() // 1_000_000 if now_ms is None else now_ms
    if not 0 <= ms < (1 << 48):
        raise InvalidArgument("timestamp outside the UUIDv7 range", reason="invalid_clock")
    value = (ms << 80) | (0x7 << 76) | (secrets.randbits(12) << 64)
    value |= (0b10 << 62) | secrets.randbits(62)
    return str(uuid.UUID(int=value))


def event_ids_after(
    watermark: str | None, count: int, *, new_id: Callable[[], str] = new_ulid
) -> list[str]:
    """``count`` strictly increasing ULIDs that all sort after ``watermark``.

    The fold skips any event at or below the published watermark, so a writer whose clock
    lags the one that set the watermark must not use its own fresh ids: it gets ids in
    the millisecond just after the watermark instead. ``new_id`` must be monotonic.
    """
    if count < 0:
        raise InvalidArgument("count must not be negative")
    ids = [new_id() for _ in range(count)]
    if any(not is_ulid(i) for i in ids) or any(a >= b for a, b in itertools.pairwise(ids)):
        raise InvalidArgument("new_id must yield strictly increasing ULIDs", reason="invalid_id")
    if watermark is None or not ids or ids[0] > watermark:
        return ids
    # A generator pinned to the next millisecond: its ids increment from a random start.
    after = UlidGenerator(FakeClock(ulid_timestamp_ms(watermark) + 1))
    return [after.new() for _ in range(count)]


def _length_prefixed(value: str) -> bytes:
    raw = value.encode("utf-8")
    return len(raw).to_bytes(8, "big") + raw


def lineage_edge_id(source_id: str, target_id: str, edge_type: str, run_id: str | None) -> str:
    """The content-derived edge id, so retried requests converge on one edge.

    Every field is length-prefixed (u64 big-endian) so that no two different tuples can
    produce the same byte string; a run id is marked present/absent by one tag byte.
    """
    digest = hashlib.sha256(_EDGE_ID_DOMAIN_TAG)
    digest.update(_length_prefixed(source_id))
    digest.update(_length_prefixed(target_id))
    digest.update(_length_prefixed(edge_type))
    if run_id is None:
        digest.update(b"\x00")
    else:
        digest.update(b"\x01" + _length_prefixed(run_id))
    return digest.hexdigest()


# Wire form ------------------------------------------------------------------------------------

CATALOG_CODEC = Codec(
    Dialect(
        envelope="malformed {owner} event: {message}",
        reason="invalid_event",
        templates=MappingProxyType(
            {
                Problem.NOT_STRING: "{key} must be a string",
                Problem.NOT_NONEMPTY_STRING: "{key} must be a non-empty string",
                Problem.EMPTY: "{key} must be a non-empty string",
                Problem.NOT_INT: "{key} must be an integer",
                Problem.NOT_BOOL: "{key} must be a boolean",
                Problem.NOT_LIST: "{key} must be an array of objects",
                Problem.NOT_RECORD: "{key} must be an array of objects",
                Problem.MISSING: "{key} is required (null clears it)",
            }
        ),
        owner_attr="TYPE",
        nested_owner_is_parent=True,
    )
)


class _Event(Declared):
    __slots__ = ()
    CODEC: ClassVar[Codec] = CATALOG_CODEC


_Id = Annotated[str, Str(nonempty=True)]
_OptText = Annotated[str | None, Str(optional=True)]
_Ms = Annotated[int, Int()]  # epoch ms


# Payloads -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CatalogCreated(_Event):
    TYPE: ClassVar[str] = "catalog_created"

    catalog_id: _Id
    name: _Id
    created_at: _Ms
    description: _OptText = None

    @property
    def object_id(self) -> str:
        return self.catalog_id


@dataclass(frozen=True, slots=True)
class SchemaCreated(_Event):
    """A schema in a catalog; the namespace routes create schemas of catalog ``default``."""

    TYPE: ClassVar[str] = "schema_created"

    schema_id: _Id
    catalog_id: _Id
    name: _Id
    created_at: _Ms
    description: _OptText = None

    @property
    def object_id(self) -> str:
        return self.schema_id


@dataclass(frozen=True, slots=True)
class NamespaceDeleted(_Event):
    TYPE: ClassVar[str] = "namespace_deleted"

    namespace_id: _Id
    name: _Id
    deleted_at: _Ms

    @property
    def object_id(self) -> str:
        return self.namespace_id


@dataclass(frozen=True, slots=True)
class ColumnRecord:
    column_id: _Id
    name: _Id
    data_type: _Id
    nullable: Annotated[bool, Bool()]
    ordinal: Annotated[int, Int()]
    description: _OptText = None


@dataclass(frozen=True, slots=True)
class TableRegistered(_Event):
    """A table with its columns. ``location`` is only ever set by the catalog/schema route."""

    TYPE: ClassVar[str] = "table_registered"

    table_id: _Id
    namespace_id: _Id
    name: _Id
    format: _Id
    created_at: _Ms
    columns: Annotated[tuple[ColumnRecord, ...], NestedList(ColumnRecord)] = field(
        default_factory=tuple
    )
    description: _OptText = None
    location: _OptText = None

    @property
    def object_id(self) -> str:
        return self.table_id


@dataclass(frozen=True, slots=True)
class TableUpdated(_Event):
    """Sets the description (the only mutable table field); null clears it."""

    TYPE: ClassVar[str] = "table_updated"

    table_id: _Id
    # Always written: here null means "clear", not "absent".
    description: Annotated[str | None, Str(optional=True, keep_null=True)]
    updated_at: _Ms

    @property
    def object_id(self) -> str:
        return self.table_id


@dataclass(frozen=True, slots=True)
class TableDropped(_Event):
    TYPE: ClassVar[str] = "table_dropped"

    table_id: _Id
    namespace_id: _Id
    name: _Id
    dropped_at: _Ms

    @property
    def object_id(self) -> str:
        return self.table_id


@dataclass(frozen=True, slots=True)
class EdgeRecord:
    edge_id: _Id
    source_id: _Id
    target_id: _Id
    edge_type: _Id
    run_id: _OptText = None

    @classmethod
    def build(
        cls, source_id: str, target_id: str, edge_type: str, run_id: str | None = None
    ) -> EdgeRecord:
        """An edge whose id is derived from its content."""
        return cls(
            edge_id=lineage_edge_id(source_id, target_id, edge_type, run_id),
            source_id=source_id,
            target_id=target_id,
            edge_type=edge_type,
            run_id=run_id,
        )


@dataclass(frozen=True, slots=True)
class LineageEdgesAdded(_Event):
    TYPE: ClassVar[str] = "lineage_edges_added"

    edges: Annotated[tuple[EdgeRecord, ...], NestedList(EdgeRecord)]
    created_at: _Ms

    @property
    def object_id(self) -> str:
        # A batch has no single id; the first edge stands for it in the commits log.
        return self.edges[0].edge_id if self.edges else ""


@dataclass(frozen=True, slots=True)
class UnknownCatalogEvent:
    """A ``data.type`` this reader does not know (newer writer); folds as a no-op."""

    type: str
    data: Mapping[str, Any]


CatalogEventPayload: TypeAlias = (
    CatalogCreated
    | SchemaCreated
    | NamespaceDeleted
    | TableRegistered
    | TableUpdated
    | TableDropped
    | LineageEdgesAdded
)
ParsedCatalogEvent: TypeAlias = CatalogEventPayload | UnknownCatalogEvent

_PAYLOAD_TYPES: tuple[type[CatalogEventPayload], ...] = get_args(CatalogEventPayload)
EVENT_TYPES: tuple[str, ...] = tuple(cls.TYPE for cls in _PAYLOAD_TYPES)


def payload_from_data(data: Mapping[str, Any]) -> ParsedCatalogEvent:
    """Decode an envelope's ``data``. Unknown types decode to :class:`UnknownCatalogEvent`;
    a known type with bad fields raises InvalidArgument (reason ``invalid_event``)."""
    data_type = data.get("type")
    if not isinstance(data_type, str):
        raise InvalidArgument("event data has no string 'type'", reason="invalid_event")
    for cls in _PAYLOAD_TYPES:
        if data_type == cls.TYPE:
            return cls.from_data(data)
    return UnknownCatalogEvent(type=data_type, data=dict(data))


def parse_event(envelope: EventEnvelope) -> ParsedCatalogEvent:
    return payload_from_data(envelope.data)


def event_type_for(payload: CatalogEventPayload) -> str:
    """The envelope's PascalCase ``event_type`` (the class name)."""
    return type(payload).__name__


def domain_for(payload: ParsedCatalogEvent) -> str:
    """The ledger domain an event belongs to: lineage has its own lock and manifest."""
    return LINEAGE_DOMAIN if isinstance(payload, LineageEdgesAdded) else CATALOG_DOMAIN


def idempotency_key_for(payload: CatalogEventPayload) -> str:
    """Deterministic over the payload: a re-appended identical event gets the same key."""
    digest = hashlib.sha256(canonical_bytes(payload.to_data())).hexdigest()
    return f"{domain_for(payload)}:{payload.TYPE}:{payload.object_id}:{digest}"


def make_event(
    payload: CatalogEventPayload,
    *,
    tenant_id: str,
    workspace_id: str,
    event_id: str | None = None,
    timestamp_ms: int | None = None,
    source: str | None = None,
    correlation_id: str | None = None,
    causation_id: str | None = None,
    idempotency_key: str | None = None,
) -> EventEnvelope:
    """Wrap ``payload`` in a ledger envelope (same shape as the orchestration builder).

    ``event_id`` defaults to a fresh monotonic ULID; the API passes its own when the id must
    sort after the current manifest watermark. ``timestamp_ms`` is metadata only and
    defaults to the ULID time of ``event_id``. ``idempotency_key`` overrides the
    payload-derived key.
    """
    eid = event_id if event_id is not None else new_ulid()
    if timestamp_ms is None:
        if not is_ulid(eid):
            raise InvalidArgument(
                "timestamp_ms is required when event_id is not a ULID", reason="invalid_event"
            )
        timestamp_ms = ulid_timestamp_ms(eid)
    return EventEnvelope(
        event_id=eid,
        event_type=event_type_for(payload),
        event_version=EVENT_VERSION,
        timestamp=rfc3339_ms(timestamp_ms),
        source=source if source is not None else f"arco-catalog/{tenant_id}/{workspace_id}",
        tenant_id=tenant_id,
        workspace_id=workspace_id,
        idempotency_key=idempotency_key or idempotency_key_for(payload),
        data=payload.to_data(),
        correlation_id=correlation_id,
        causation_id=causation_id,
    )
