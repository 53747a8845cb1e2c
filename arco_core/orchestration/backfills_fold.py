"""The backfill projection: the fold of the three backfill events into ``backfills`` and
``backfill_chunks``, and the reads over them (a chunk's state is its run's, so progress
follows the runs without any event of its own)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

from arco_core.automation.backfills import (
    BackfillState,
    ChunkState,
    Progress,
    chunk_count,
    finished_state,
    progress,
    transition,
)
from arco_core.cursors import decode_cursor, encode_cursor
from arco_core.errors import ArcoError, InvalidArgument, NotFound
from arco_core.orchestration.events import (
    BackfillChunkPlanned,
    BackfillCreated,
    BackfillStateChanged,
)
from arco_core.orchestration.state import BackfillChunkRow, BackfillRow, RunState
from arco_core.orchestration.tables import FoldEvent, ProjectionTables, stamp

__all__ = [
    "BackfillView",
    "ChunkView",
    "backfill_created",
    "backfill_view",
    "backfill_views",
    "chunk_planned",
    "chunk_state",
    "chunk_views",
    "fold_backfill",
    "list_page",
]

T = TypeVar("T")
DEFAULT_LIMIT = 50
MAX_LIMIT = 200

_CHUNK_STATE_OF_RUN = {
    RunState.TRIGGERED: ChunkState.PLANNED,
    RunState.RUNNING: ChunkState.RUNNING,
    RunState.SUCCEEDED: ChunkState.SUCCEEDED,
    RunState.FAILED: ChunkState.FAILED,
    RunState.CANCELLED: ChunkState.CANCELLED,
}


def _json_list(values: Iterable[str]) -> str:
    return json.dumps(list(values), separators=(",", ":"))


# -- fold ---------------------------------------------------------------------------------


def backfill_created(s: ProjectionTables, p: BackfillCreated, ev: FoldEvent) -> bool:
    if (p.backfill_id,) in s.backfill_table.rows:
        return False  # a backfill id is created once
    s.insert(
        s.backfill_table,
        BackfillRow(
            backfill_id=p.backfill_id,
            client_request_id=p.client_request_id,
            asset_selection=_json_list(p.asset_selection),
            selector_json=p.selector_json,
            partition_keys=_json_list(p.partition_keys),
            total_partitions=len(p.partition_keys),
            total_chunks=chunk_count(len(p.partition_keys), p.chunk_size),
            chunk_size=p.chunk_size,
            max_concurrent_runs=p.max_concurrent_runs,
            state=BackfillState.RUNNING.value,
            state_version=1,
            fingerprint=p.fingerprint,
            created_by=p.created_by,
            created_at=ev.ts,
            created_event_id=ev.event_id,
            updated_at=ev.ts,
            row_version=ev.event_id,
            code_version=p.code_version,
            parent_backfill_id=p.parent_backfill_id,
        ),
    )
    return True


def chunk_planned(s: ProjectionTables, p: BackfillChunkPlanned, ev: FoldEvent) -> bool:
    backfill = s.backfill_table.rows.get((p.backfill_id,))
    chunk_id = f"{p.backfill_id}:{p.chunk_index}"
    if backfill is None or (chunk_id,) in s.backfill_chunk_table.rows:
        return False
    if p.chunk_index >= backfill.total_chunks:
        return False
    s.insert(
        s.backfill_chunk_table,
        BackfillChunkRow(
            chunk_id=chunk_id,
            backfill_id=p.backfill_id,
            chunk_index=p.chunk_index,
            partition_keys=_json_list(p.partition_keys),
            run_key=p.run_key,
            run_id=p.run_id,
            request_fingerprint=p.request_fingerprint,
            planned_at=ev.ts,
            row_version=ev.event_id,
        ),
    )
    return True


def state_changed(s: ProjectionTables, p: BackfillStateChanged, ev: FoldEvent) -> bool:
    row = s.writable(s.backfill_table, (p.backfill_id,))
    if row is None or row.state != p.from_state:
        return False
    try:
        version = transition(BackfillState(row.state), row.state_version, BackfillState(p.to_state))
    except (ArcoError, ValueError):
        return False
    if version != p.state_version:
        return False
    row.state = p.to_state
    row.state_version = version
    row.updated_at = ev.ts
    stamp(row, ev)
    return True


def fold_backfill(
    s: ProjectionTables,
    p: BackfillCreated | BackfillChunkPlanned | BackfillStateChanged,
    ev: FoldEvent,
) -> bool:
    match p:
        case BackfillCreated():
            return backfill_created(s, p, ev)
        case BackfillChunkPlanned():
            return chunk_planned(s, p, ev)
        case BackfillStateChanged():
            return state_changed(s, p, ev)


# -- reads --------------------------------------------------------------------------------


def chunk_state(s: ProjectionTables, chunk: BackfillChunkRow) -> ChunkState:
    run = s.get_run(chunk.run_id)
    if run is None:
        return ChunkState.PLANNED  # requested; its run row folds in the same batch
    return _CHUNK_STATE_OF_RUN.get(RunState(run.state), ChunkState.RUNNING)


@dataclass(frozen=True, slots=True)
class ChunkView:
    row: BackfillChunkRow
    state: ChunkState

    @property
    def partition_keys(self) -> list[str]:
        keys: list[str] = json.loads(self.row.partition_keys)
        return keys


@dataclass(frozen=True, slots=True)
class BackfillView:
    row: BackfillRow
    chunks: dict[int, ChunkState]

    @property
    def state(self) -> BackfillState:
        return BackfillState(self.row.state)

    @property
    def progress(self) -> Progress:
        return progress(self.row.total_chunks, self.chunks.values())

    @property
    def active_runs(self) -> int:
        return sum(1 for c in self.chunks.values() if c.is_active)

    @property
    def finished_as(self) -> BackfillState | None:
        return finished_state(self.row.total_chunks, self.chunks)

    @property
    def partition_keys(self) -> list[str]:
        keys: list[str] = json.loads(self.row.partition_keys)
        return keys

    @property
    def asset_selection(self) -> list[str]:
        assets: list[str] = json.loads(self.row.asset_selection)
        return assets


def _chunks_by_backfill(s: ProjectionTables) -> dict[str, list[BackfillChunkRow]]:
    out: dict[str, list[BackfillChunkRow]] = {}
    for chunk in s.backfill_chunk_table.rows.values():
        out.setdefault(chunk.backfill_id, []).append(chunk)
    return out


def _view(s: ProjectionTables, row: BackfillRow, chunks: list[BackfillChunkRow]) -> BackfillView:
    return BackfillView(row, {c.chunk_index: chunk_state(s, c) for c in chunks})


def backfill_view(s: ProjectionTables, backfill_id: str) -> BackfillView:
    row = s.backfill_table.rows.get((backfill_id,))
    if row is None:
        raise NotFound(f"backfill not found: {backfill_id}", reason="backfill_not_found")
    chunks = [c for c in s.backfill_chunk_table.rows.values() if c.backfill_id == backfill_id]
    return _view(s, row, chunks)


def backfill_views(s: ProjectionTables) -> list[BackfillView]:
    """Every backfill, newest first (then by id)."""
    by_backfill = _chunks_by_backfill(s)
    rows = sorted(s.backfill_table.rows.values(), key=lambda r: r.backfill_id)
    rows.sort(key=lambda r: r.created_at, reverse=True)
    return [_view(s, row, by_backfill.get(row.backfill_id, [])) for row in rows]


def chunk_views(s: ProjectionTables, backfill_id: str) -> list[ChunkView]:
    backfill_view(s, backfill_id)  # 404 for an unknown backfill
    chunks = [c for c in s.backfill_chunk_table.rows.values() if c.backfill_id == backfill_id]
    chunks.sort(key=lambda c: c.chunk_index)
    return [ChunkView(c, chunk_state(s, c)) for c in chunks]


def list_page(
    items: list[T], key_of: Callable[[T], str], limit: int, cursor: str
) -> tuple[list[T], str | None]:
    """One page of ``items`` (already sorted): those after the item the cursor names, and
    the cursor of the next page when more remain."""
    if limit < 0 or limit > MAX_LIMIT:
        raise InvalidArgument(f"limit must be between 1 and {MAX_LIMIT}")
    limit = limit or DEFAULT_LIMIT
    keys = [key_of(item) for item in items]
    start = 0
    if cursor:
        after = decode_cursor(cursor)
        if after not in keys:
            raise InvalidArgument("invalid cursor")
        start = keys.index(after) + 1
    page = items[start : start + limit]
    more = start + limit < len(items)
    return page, encode_cursor(keys[start + limit - 1]) if more else None
