"""Published state: the manifest body format and the readers that load it.

A manifest (see ``arco_core.commit``) carries, besides its sequence and epoch::

    domain, format
    base:   {snapshot_id, tables: {name: artifact}} | null
    deltas: [{delta_id, tables: {name: artifact}, tombstones: {name: artifact},
              first_event_id, last_event_id, event_count}]
    watermark: {last_event_id, events_applied}
    witness: [{path, sha256}]          # the ledger events this publish folded
    fencing_token: int | null
    retention: {terminal_runs_before_ms, idempotency_keys_before_ms}   # when applied

An artifact is ``{path, rows, bytes, sha256}``; paths are scope-relative and immutable
(``{table}.{sha12}.parquet``). Readers never list and never read the ledger: they load
the head manifest, its base and deltas in order. ``ProjectionReader`` keeps the loaded
state in memory and, when the head moves but the base does not, applies only the new
deltas.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import pyarrow as pa
import pyarrow.parquet as pq
import structlog

from arco_core.commit import Head, ManifestStore
from arco_core.errors import InternalError, StorageError
from arco_core.folding import RetentionCutoffs
from arco_core.paths import Scope
from arco_core.projections import DomainAdapter, S
from arco_core.storage import ScopedStorage

log = structlog.get_logger(__name__)

T = TypeVar("T")

MANIFEST_FORMAT = 1


@dataclass(frozen=True)
class Artifact:
    path: str
    rows: int
    bytes: int
    sha256: str

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "rows": self.rows, "bytes": self.bytes, "sha256": self.sha256}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Artifact:
        return cls(
            path=str(data["path"]),
            rows=int(data["rows"]),
            bytes=int(data["bytes"]),
            sha256=str(data["sha256"]),
        )


@dataclass(frozen=True)
class Delta:
    delta_id: str
    tables: Mapping[str, Artifact]
    tombstones: Mapping[str, Artifact]
    first_event_id: str | None
    last_event_id: str | None
    event_count: int

    def to_json(self) -> dict[str, Any]:
        return {
            "delta_id": self.delta_id,
            "tables": {name: art.to_json() for name, art in sorted(self.tables.items())},
            "tombstones": {name: art.to_json() for name, art in sorted(self.tombstones.items())},
            "first_event_id": self.first_event_id,
            "last_event_id": self.last_event_id,
            "event_count": self.event_count,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Delta:
        return cls(
            delta_id=str(data["delta_id"]),
            tables={k: Artifact.from_json(v) for k, v in data.get("tables", {}).items()},
            tombstones={k: Artifact.from_json(v) for k, v in data.get("tombstones", {}).items()},
            first_event_id=data.get("first_event_id"),
            last_event_id=data.get("last_event_id"),
            event_count=int(data.get("event_count", 0)),
        )


@dataclass(frozen=True)
class Base:
    snapshot_id: str
    tables: Mapping[str, Artifact]

    def to_json(self) -> dict[str, Any]:
        return {
            "snapshot_id": self.snapshot_id,
            "tables": {name: art.to_json() for name, art in sorted(self.tables.items())},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Base:
        return cls(
            snapshot_id=str(data["snapshot_id"]),
            tables={k: Artifact.from_json(v) for k, v in data.get("tables", {}).items()},
        )


@dataclass(frozen=True)
class ManifestBody:
    domain: str
    base: Base | None
    deltas: tuple[Delta, ...]
    last_event_id: str | None
    events_applied: int
    witness: tuple[Mapping[str, str], ...] = ()
    fencing_token: int | None = None
    # Set by a merge: this manifest (a new base and the deltas rebased onto it) holds
    # exactly the state published at that sequence, so a reader already there adopts it
    # without loading anything.
    merged_from_seq: int | None = None
    # What retention removed so far; every later manifest carries it on.
    retention: RetentionCutoffs = field(default_factory=RetentionCutoffs)

    def to_json(self) -> dict[str, Any]:
        extra: dict[str, Any] = {}
        if self.merged_from_seq is not None:
            extra["merged_from_seq"] = self.merged_from_seq
        if self.retention != RetentionCutoffs():
            extra["retention"] = self.retention.to_json()
        return {
            "domain": self.domain,
            "format": MANIFEST_FORMAT,
            "base": self.base.to_json() if self.base else None,
            "deltas": [delta.to_json() for delta in self.deltas],
            "watermark": {
                "last_event_id": self.last_event_id,
                "events_applied": self.events_applied,
            },
            "witness": [dict(item) for item in self.witness],
            "fencing_token": self.fencing_token,
            **extra,
        }

    @classmethod
    def from_head(cls, head: Head) -> ManifestBody:
        body = head.body
        if body.get("format") != MANIFEST_FORMAT:
            raise InternalError(
                f"manifest {head.path} has unsupported format {body.get('format')!r}",
                reason="manifest_format_unsupported",
            )
        watermark = body.get("watermark") or {}
        return cls(
            domain=str(body["domain"]),
            base=Base.from_json(body["base"]) if body.get("base") else None,
            deltas=tuple(Delta.from_json(d) for d in body.get("deltas", [])),
            last_event_id=watermark.get("last_event_id"),
            events_applied=int(watermark.get("events_applied", 0)),
            witness=tuple(body.get("witness", [])),
            fencing_token=body.get("fencing_token"),
            merged_from_seq=body.get("merged_from_seq"),
            retention=RetentionCutoffs.from_json(body.get("retention")),
        )

    def files(self) -> list[tuple[str, Artifact]]:
        """Every table artifact this manifest lists: (table, artifact), base first."""
        out: list[tuple[str, Artifact]] = []
        if self.base:
            out.extend(sorted(self.base.tables.items()))
        for delta in self.deltas:
            out.extend(sorted(delta.tables.items()))
            out.extend(
                (f"{name}.tombstones", art) for name, art in sorted(delta.tombstones.items())
            )
        return out


THREADED_DECODE_MIN_BYTES = 1 << 20


def parquet_to_table(data: bytes) -> pa.Table:
    # Every refresh of a reader decodes a few small deltas: a zero-copy buffer reader
    # halves their cost versus BytesIO, and decoding a small file on the calling thread
    # takes off another ~40% (the thread pool hand-off costs more than it saves there).
    threaded = len(data) > THREADED_DECODE_MIN_BYTES
    return pq.ParquetFile(pa.BufferReader(data)).read(use_threads=threaded)


# Table objects are immutable, so a failed read is retried on its own: a state of many
# tables would otherwise need every read of one pass to succeed at once on a flaky store.
TABLE_READ_ATTEMPTS = 3
TABLE_READ_BACKOFF_SEC = 0.05


async def _read_table_object(storage: ScopedStorage, path: str) -> bytes:
    for attempt in range(1, TABLE_READ_ATTEMPTS + 1):
        try:
            return await storage.get(path)
        except StorageError:
            if attempt == TABLE_READ_ATTEMPTS:
                raise
            await asyncio.sleep(TABLE_READ_BACKOFF_SEC * 4 ** (attempt - 1))
    raise AssertionError("unreachable")


async def read_tables(
    storage: ScopedStorage, artifacts: Mapping[str, Artifact]
) -> dict[str, pa.Table]:
    names = sorted(artifacts)
    blobs = await asyncio.gather(
        *(_read_table_object(storage, artifacts[name].path) for name in names)
    )
    return {name: parquet_to_table(blob) for name, blob in zip(names, blobs, strict=True)}


@dataclass
class Snapshot(Generic[S]):
    """A domain's state as of one manifest sequence (None before the first publish)."""

    seq: int | None
    state: S
    manifest: ManifestBody | None
    head: Head | None = None
    applied_delta_ids: tuple[str, ...] = field(default_factory=tuple)


async def load_snapshot(
    storage: ScopedStorage,
    adapter: DomainAdapter[S],
    scope: Scope,
    head: Head | None,
) -> Snapshot[S]:
    """Load the full state a manifest describes: its base, then its deltas in order."""
    if head is None:
        return Snapshot(seq=None, state=adapter.empty_state(scope), manifest=None)
    body = ManifestBody.from_head(head)
    base = await read_tables(storage, body.base.tables) if body.base else {}
    state = adapter.load(scope, base)
    for delta in body.deltas:
        state = await apply_delta(storage, adapter, state, delta)
    return Snapshot(
        seq=head.seq,
        state=state,
        manifest=body,
        head=head,
        applied_delta_ids=tuple(d.delta_id for d in body.deltas),
    )


async def apply_delta(
    storage: ScopedStorage, adapter: DomainAdapter[S], state: Any, delta: Delta
) -> Any:
    upserts = await read_tables(storage, delta.tables)
    tombstones = await read_tables(storage, delta.tombstones)
    return adapter.apply_delta(state, upserts, tombstones)


async def advance_snapshot(
    storage: ScopedStorage,
    adapter: DomainAdapter[S],
    scope: Scope,
    current: Snapshot[S],
    head: Head,
) -> Snapshot[S]:
    """Move ``current`` to ``head``, applying only new deltas when the base is unchanged.

    Mutates ``current.state`` in place when it can (the caller owns it exclusively).
    """
    body = ManifestBody.from_head(head)
    if (
        body.merged_from_seq is not None
        and body.merged_from_seq == current.seq
        and current.manifest is not None
    ):
        return Snapshot(
            seq=head.seq,
            state=current.state,
            manifest=body,
            head=head,
            applied_delta_ids=tuple(d.delta_id for d in body.deltas),
        )
    same_base = (
        current.manifest is not None
        and body.base is not None
        and current.manifest.base is not None
        and current.manifest.base.snapshot_id == body.base.snapshot_id
        and tuple(d.delta_id for d in body.deltas[: len(current.applied_delta_ids)])
        == current.applied_delta_ids
    ) or (current.manifest is not None and current.manifest.base is None and body.base is None)
    if not same_base or adapter.full_snapshots:
        return await load_snapshot(storage, adapter, scope, head)
    state = current.state
    for delta in body.deltas[len(current.applied_delta_ids) :]:
        state = await apply_delta(storage, adapter, state, delta)
    return Snapshot(
        seq=head.seq,
        state=state,
        manifest=body,
        head=head,
        applied_delta_ids=tuple(d.delta_id for d in body.deltas),
    )


class ProjectionReader(Generic[S]):
    """Keeps one domain's published state in memory, refreshed from the manifest head.

    Used by the api, dispatcher and sweeper (any role can read). Refreshing is
    incremental; ``at(seq)`` loads an earlier published state for time travel.
    """

    def __init__(self, storage: ScopedStorage, adapter: DomainAdapter[S], scope: Scope) -> None:
        self._storage = storage
        self._adapter = adapter
        self._scope = scope
        self._manifests = ManifestStore(storage, adapter.domain)
        self._current: Snapshot[S] | None = None
        self._lock = asyncio.Lock()

    @property
    def current(self) -> Snapshot[S] | None:
        return self._current

    async def refresh(self, *, min_seq: int | None = None) -> Snapshot[S]:
        """The state at the head (at least ``min_seq`` when the caller knows of it)."""
        async with self._lock:
            current = self._current
            if (
                current is not None
                and min_seq is not None
                and current.seq is not None
                and current.seq >= min_seq
            ):
                return current
            return await self._move_to(current, await self._manifests.head())

    async def advance_to(self, seq: int) -> Snapshot[S]:
        """The state at manifest ``seq``, a head the compactor announced (one read of that
        manifest instead of probing for the head), or the current one if it is newer."""
        async with self._lock:
            current = self._current
            if current is not None and current.seq is not None and current.seq >= seq:
                return current
            return await self._move_to(current, await self._manifests.read(seq))

    async def _move_to(self, current: Snapshot[S] | None, head: Head | None) -> Snapshot[S]:
        if head is None:
            snapshot = current or Snapshot(
                seq=None, state=self._adapter.empty_state(self._scope), manifest=None
            )
        elif current is not None and current.seq == head.seq:
            snapshot = current
        elif current is not None and current.manifest is not None:
            snapshot = await advance_snapshot(
                self._storage, self._adapter, self._scope, current, head
            )
        else:
            snapshot = await load_snapshot(self._storage, self._adapter, self._scope, head)
        self._current = snapshot
        return snapshot

    async def capture(self, seq: int | None, view: Callable[[S], T]) -> T | None:
        """``view(state)`` of the current state when it is at ``seq`` (None when it is not).

        Under the lock: no refresh is half-way through advancing the state in place. What
        ``view`` returns must not alias anything a later refresh mutates.
        """
        async with self._lock:
            current = self._current
            if current is None or current.seq != seq:
                return None
            return view(current.state)

    async def at(self, seq: int) -> Snapshot[S]:
        """The state published at manifest ``seq`` (ObjectNotFound if it never was)."""
        head = await self._manifests.read(seq)
        return await load_snapshot(self._storage, self._adapter, self._scope, head)
