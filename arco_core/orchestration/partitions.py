"""Reads of the partition_status projection: the filtered, paginated list and the summary."""

from __future__ import annotations

from dataclasses import dataclass

from arco_core.cursors import decode_keys_cursor, encode_keys_cursor
from arco_core.errors import InvalidArgument, NotFound
from arco_core.orchestration.state import PartitionStatusRow
from arco_core.orchestration.tables import ProjectionTables

__all__ = ["PartitionSummary", "list_partitions", "summarize"]

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


def list_partitions(
    state: ProjectionTables,
    *,
    limit: int,
    cursor: str,
    asset_key: str | None,
    stale_only: bool,
) -> tuple[list[PartitionStatusRow], str | None]:
    """One page sorted by (asset key, partition key), and the cursor of the next one."""
    if limit < 0 or limit > MAX_LIMIT:
        raise InvalidArgument(f"limit must be between 1 and {MAX_LIMIT}")
    limit = limit or DEFAULT_LIMIT
    after = tuple(decode_keys_cursor(cursor, 2)) if cursor else None
    page: list[PartitionStatusRow] = []
    for row in state.partition_statuses(asset_key):
        if after is not None and (row.asset_key, row.partition_key) <= after:
            continue
        if stale_only and row.stale_since is None:
            continue
        if len(page) == limit:
            return page, encode_keys_cursor([page[-1].asset_key, page[-1].partition_key])
        page.append(row)
    return page, None


@dataclass(frozen=True)
class PartitionSummary:
    asset_key: str
    total: int
    materialized: int
    stale: int

    @property
    def missing(self) -> int:
        """Attempted but never materialized (an unattempted partition has no row)."""
        return self.total - self.materialized


def summarize(state: ProjectionTables, asset_key: str) -> PartitionSummary:
    rows = state.partition_statuses(asset_key)
    if not rows:
        raise NotFound(f"no partitions found for asset {asset_key}", reason="asset_not_found")
    return PartitionSummary(
        asset_key=asset_key,
        total=len(rows),
        materialized=sum(1 for r in rows if r.last_materialization_run_id is not None),
        stale=sum(1 for r in rows if r.stale_since is not None),
    )
