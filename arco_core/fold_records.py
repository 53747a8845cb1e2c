"""Fold records: which ledger objects the compactor folded, so the sweeper can find holes.

The watermark (the highest folded event id) cannot tell whether an object *below* it was
folded: a writer killed between its append and its compaction request leaves an object
that every later fold passes by. So after each commit the compactor writes one immutable
record ``state/{domain}/folded/{YYYY-MM-DD}/{record_id}.json`` naming the ledger objects
(event or segment paths) that commit read; the record id is a ULID of the compactor's
clock. A record is written only once the state holding those events is published (or the
fold found nothing new), so a record never claims an object the published state lacks;
a record lost to a crash only makes the sweeper ask again, and folding is idempotent
(events dedup by idempotency key).

The sweeper (:func:`find_unfolded`) lists the ledger objects whose keys fall inside a
bounded look-back, and the records written since then (less the allowed clock skew),
and asks for every object no record names. Records are immutable, so it reads each once.
Objects older than the look-back are only folded by a whole ``Rebuild``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from typing import Final

import structlog

from arco_core.canonical_json import canonical_bytes, parse_json_object
from arco_core.clock import Clock
from arco_core.errors import ArcoError
from arco_core.ids import UlidGenerator, ulid_floor
from arco_core.ledger import MAX_EVENT_ID_FUTURE_SKEW_MS, LedgerReader
from arco_core.paths import fold_record_path, fold_records_prefix, validate_domain
from arco_core.storage import ScopedStorage

__all__ = ["FOLD_RECORD_VERSION", "FoldRecordIndex", "FoldRecordWriter", "find_unfolded"]

log = structlog.get_logger(__name__)

FOLD_RECORD_VERSION: Final = 1
# Paths per record: a whole rebuild names every ledger object, in several records.
MAX_RECORD_PATHS: Final = 10_000
_READ_CONCURRENCY: Final = 32


class FoldRecordWriter:
    """The compactor's side: one record per commit (several for a large rebuild)."""

    def __init__(self, storage: ScopedStorage, domain: str, clock: Clock) -> None:
        self._storage = storage
        self._domain = validate_domain(domain)
        self._ids = UlidGenerator(clock)

    async def write(self, paths: Iterable[str], seq: int | None) -> None:
        ordered = sorted(set(paths))
        for start in range(0, len(ordered), MAX_RECORD_PATHS):
            body = canonical_bytes(
                {
                    "manifest_seq": seq,
                    "paths": ordered[start : start + MAX_RECORD_PATHS],
                    "record_version": FOLD_RECORD_VERSION,
                }
            )
            await self._storage.create(fold_record_path(self._domain, self._ids.new()), body)


class FoldRecordIndex:
    """The sweeper's side: the ledger paths named by records written since a time.

    Records are immutable, so each is read once and kept while it stays in the window.
    """

    def __init__(self, storage: ScopedStorage, domain: str) -> None:
        self._storage = storage
        self._domain = validate_domain(domain)
        self._cache: dict[str, frozenset[str]] = {}

    async def folded_since(self, since_ms: int) -> set[str]:
        offset = fold_record_path(self._domain, ulid_floor(max(since_ms, 0)))
        metas = await self._storage.list(fold_records_prefix(self._domain), offset=offset)
        listed = [m.path for m in metas]
        self._cache = {p: self._cache[p] for p in listed if p in self._cache}
        missing = [p for p in listed if p not in self._cache]
        sem = asyncio.Semaphore(_READ_CONCURRENCY)

        async def read(path: str) -> None:
            async with sem:
                paths = self._parse(path, await self._storage.get(path))
            if paths is not None:
                self._cache[path] = paths

        await asyncio.gather(*(read(p) for p in missing))
        return set().union(*self._cache.values())

    @staticmethod
    def _parse(path: str, body: bytes) -> frozenset[str] | None:
        # An unreadable record names nothing: its objects are asked for again (idempotent).
        try:
            doc = parse_json_object(body)
        except ArcoError:
            doc = {}
        paths = doc.get("paths")
        if doc.get("record_version") != FOLD_RECORD_VERSION or not isinstance(paths, list):
            log.warning("fold_record_unreadable", path=path)
            return None
        return frozenset(p for p in paths if isinstance(p, str))


async def find_unfolded(
    ledger: LedgerReader,
    records: FoldRecordIndex,
    *,
    watermark: str | None,
    since_ms: int,
    limit: int | None = None,
) -> list[str]:
    """Ledger objects no fold record names: every one whose key lies after ``since_ms``
    (holes below the watermark included), and every one after the watermark.

    An object is folded after it was written, so records from ``since_ms`` less the
    allowed event-id skew cover every object of the window.
    """
    start_id = ulid_floor(max(since_ms, 0))
    offset = None if watermark is None else min(watermark, start_id)
    listed: Sequence[str] = await ledger.scan_paths_after(offset)
    folded = await records.folded_since(since_ms - MAX_EVENT_ID_FUTURE_SKEW_MS)
    unfolded = [p for p in listed if p not in folded]
    return unfolded if limit is None else unfolded[:limit]
