"""Partition status: what each applied task result tells about its (asset, partition).

A row is a pure function of the newest success and the newest finished attempt of its
partition (by event id) and of its upstream partitions' newest successes, recomputed
whenever one of them changes. Folding the same events in any order therefore gives the
same rows, so a fresh replay equals the incremental fold. Staleness follows the asset
graph of the latest deployed manifest, upstream partition = same partition key; each
event touches only its own row and its direct downstreams' rows (O(dependents)).
"""

from __future__ import annotations

from collections.abc import Mapping

from arco_core.canonical_json import canonical_dumps
from arco_core.orchestration.deployments import asset_graph, stored_manifest
from arco_core.orchestration.events import TaskFinished, TaskOutcome
from arco_core.orchestration.state import PartitionStatusRow, TaskRow
from arco_core.orchestration.tables import FoldEvent, ProjectionTables

STALE_UPSTREAM_NEWER = "upstream_newer"

_NO_EDGES: Mapping[str, tuple[str, ...]] = {}


def record_finish(s: ProjectionTables, p: TaskFinished, task: TaskRow, ev: FoldEvent) -> None:
    """Record an applied result of ``task`` (already updated by the finish)."""
    asset_key = p.asset_key or task.asset_key
    partition_key = p.partition_key or task.partition_key or task.delta_partition
    if not asset_key or not partition_key:
        return
    pk = (ev.tenant_id, ev.workspace_id, asset_key, partition_key)
    row = s.writable(s.partition_table, pk)
    if row is None:
        row = s.insert(
            s.partition_table,
            PartitionStatusRow(
                tenant_id=ev.tenant_id,
                workspace_id=ev.workspace_id,
                asset_key=asset_key,
                partition_key=partition_key,
                last_materialization_run_id=None,
                last_materialization_at=None,
                last_materialization_code_version=None,
                last_attempt_run_id=None,
                last_attempt_at=None,
                last_attempt_outcome=None,
                stale_since=None,
                stale_reason_code=None,
                partition_values=None,
                row_version=ev.event_id,
            ),
        )
    if row.last_attempt_event_id is None or ev.event_id > row.last_attempt_event_id:
        row.last_attempt_event_id = ev.event_id
        row.last_attempt_run_id = task.run_id
        row.last_attempt_at = ev.ts
        row.last_attempt_outcome = TaskOutcome(p.outcome).value.upper()
    materialized = p.outcome == TaskOutcome.SUCCEEDED and (
        row.last_materialization_event_id is None or ev.event_id > row.last_materialization_event_id
    )
    if materialized:
        run = s.run_table.rows.get((task.run_id,))
        row.last_materialization_event_id = ev.event_id
        row.last_materialization_run_id = task.run_id
        row.last_materialization_at = ev.ts
        row.last_materialization_code_version = p.code_version or (
            run.code_version if run is not None else None
        )
        row.delta_table = task.delta_table
        row.delta_version = task.delta_version
        row.delta_partition = task.delta_partition or partition_key
        row.execution_lineage_ref = task.execution_lineage_ref or _lineage_ref(task)
    upstreams, downstreams = _graph(s)
    _refresh(s, row, upstreams)
    if materialized:
        for down in downstreams.get(asset_key, ()):
            other = s.writable(
                s.partition_table, (ev.tenant_id, ev.workspace_id, down, partition_key)
            )
            if other is not None:
                _refresh(s, other, upstreams)


def _refresh(
    s: ProjectionTables, row: PartitionStatusRow, upstreams: Mapping[str, tuple[str, ...]]
) -> None:
    """Recompute what derives from the row's own and its upstreams' newest events."""
    version = max(row.last_attempt_event_id or "", row.last_materialization_event_id or "")
    stale_since: int | None = None
    own_at = row.last_materialization_at
    for up in upstreams.get(row.asset_key, ()):
        other = s.partition_table.rows.get((row.tenant_id, row.workspace_id, up, row.partition_key))
        if other is None or other.last_materialization_at is None:
            continue
        version = max(version, other.last_materialization_event_id or "")
        if own_at is not None and other.last_materialization_at > own_at:
            at = other.last_materialization_at
            stale_since = at if stale_since is None else min(stale_since, at)
    row.stale_since = stale_since
    row.stale_reason_code = None if stale_since is None else STALE_UPSTREAM_NEWER
    # Monotone in the events folded, and independent of the order they came in.
    row.row_version = max(row.row_version, version)


def _graph(
    s: ProjectionTables,
) -> tuple[Mapping[str, tuple[str, ...]], Mapping[str, tuple[str, ...]]]:
    latest = s.latest_code_manifest()
    if latest is None:
        return _NO_EDGES, _NO_EDGES
    if s.asset_graph_cache[0] != latest.manifest_id:
        nodes = asset_graph(stored_manifest(latest))
        downs: dict[str, list[str]] = {}
        for node in nodes.values():
            for up in node.depends_on:
                downs.setdefault(up, []).append(node.key)
        s.asset_graph_cache = (
            latest.manifest_id,
            {key: node.depends_on for key, node in nodes.items() if node.depends_on},
            {key: tuple(sorted(v)) for key, v in downs.items()},
        )
    return s.asset_graph_cache[1], s.asset_graph_cache[2]


def _lineage_ref(task: TaskRow) -> str:
    ref: dict[str, object] = {
        "runId": task.run_id,
        "taskKey": task.task_key,
        "attempt": task.attempt,
    }
    for name, value in (
        ("materializationId", task.materialization_id),
        ("deltaTable", task.delta_table),
        ("deltaVersion", task.delta_version),
        ("deltaPartition", task.delta_partition),
    ):
        if value is not None:
            ref[name] = value
    return canonical_dumps(ref)
