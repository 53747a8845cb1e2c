"""Compare a published projection with a fresh replay of the ledger, table by table."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

# Keys listed per table in a report: enough to find the rows, never the whole table.
SAMPLE_KEYS = 5


@dataclass(frozen=True)
class TableDiff:
    table: str
    published_rows: int
    replayed_rows: int
    only_published: int
    only_replayed: int
    differing: int
    sample_keys: tuple[str, ...]

    @property
    def matches(self) -> bool:
        return (
            self.published_rows == self.replayed_rows
            and not self.only_published
            and not self.only_replayed
            and not self.differing
        )


@dataclass(frozen=True)
class Verification:
    seq: int | None
    events_replayed: int
    tables: tuple[TableDiff, ...]
    published_last_event_id: str | None
    ledger_last_event_id: str | None

    @property
    def matches(self) -> bool:
        return all(t.matches for t in self.tables)


def _rows_by_key(
    table: pa.Table | None, key: tuple[str, ...]
) -> dict[tuple[Any, ...], dict[str, Any]]:
    if table is None:
        return {}
    rows: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in table.to_pylist():
        rows[tuple(row.get(column) for column in key)] = row
    return rows


def _render(key: tuple[Any, ...]) -> str:
    return "/".join("" if part is None else str(part) for part in key)


def compare_tables(
    published: Mapping[str, pa.Table],
    replayed: Mapping[str, pa.Table],
    key_of: Callable[[str], tuple[str, ...]],
    skip: frozenset[str] = frozenset(),
) -> tuple[TableDiff, ...]:
    """Every table of either side (except ``skip``) in name order, with its differences."""
    diffs = []
    for name in sorted((set(published) | set(replayed)) - skip):
        key = key_of(name)
        mine = _rows_by_key(published.get(name), key)
        fresh = _rows_by_key(replayed.get(name), key)
        only_published = sorted(mine.keys() - fresh.keys(), key=repr)
        only_replayed = sorted(fresh.keys() - mine.keys(), key=repr)
        differing = sorted((k for k in mine.keys() & fresh.keys() if mine[k] != fresh[k]), key=repr)
        sample = [*differing, *only_published, *only_replayed][:SAMPLE_KEYS]
        diffs.append(
            TableDiff(
                table=name,
                published_rows=published[name].num_rows if name in published else 0,
                replayed_rows=replayed[name].num_rows if name in replayed else 0,
                only_published=len(only_published),
                only_replayed=len(only_replayed),
                differing=len(differing),
                sample_keys=tuple(_render(k) for k in sample),
            )
        )
    return tuple(diffs)
