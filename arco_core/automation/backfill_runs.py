"""Backfills against the published orchestration state: what a create resolves to, and
the runs the automation service plans for running backfills.

A chunk's run id is a hash of its run key (``backfill:{id}:chunk:{i}``), so two planners
that race, or one restarted mid-batch, write the same ``RunTriggered`` (keyed
``run:{run_key}``), ``PlanCreated`` and ``BackfillChunkPlanned``, and the fold applies one
of each.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from arco_core.automation.backfills import (
    BackfillState,
    PartitionSelector,
    chunk_at,
    chunks_to_plan,
    dimensions_from_manifest,
    resolve_partitions,
)
from arco_core.errors import InvalidArgument
from arco_core.ids import run_id_from_run_key
from arco_core.orchestration.backfills_fold import BackfillView, backfill_views
from arco_core.orchestration.deployments import asset_key_of
from arco_core.orchestration.events import BackfillChunkPlanned, BackfillStateChanged
from arco_core.orchestration.runs import RunPlan, TriggerRequest, plan_run
from arco_core.orchestration.tables import ProjectionTables
from arco_core.orchestration.values import TaskDef, TriggerInfo

__all__ = [
    "STATUS_FILTERS",
    "ChunkRun",
    "chunk_run_id",
    "due_backfill_work",
    "request_fingerprint",
    "resolve_backfill_partitions",
]

# Beyond the reference: a filter selector may also keep only the partitions of the range
# that never materialized ("missing") or whose last attempt failed ("failed").
STATUS_FILTERS = ("missing", "failed")

# Run ids of chunks derive from public run keys: there is nothing to keep secret in them.
_CHUNK_RUN_ID_KEY = b""


def resolve_backfill_partitions(
    state: ProjectionTables,
    manifest: Mapping[str, Any],
    asset: str,
    selector: PartitionSelector,
    status: str | None,
) -> tuple[str, ...]:
    """The canonical partition keys of ``asset`` the selector names (and, with a status
    filter, that partition status says are missing or failed); 400 when there are none."""
    entry = next((a for a in manifest.get("assets", []) if asset_key_of(a["key"]) == asset), None)
    if entry is None:
        raise InvalidArgument(
            f"asset {asset} is not in the latest manifest", reason="asset_not_deployed"
        )
    keys = resolve_partitions(
        selector, dimensions_from_manifest(entry.get("partitioning")), asset=asset
    )
    if status is not None:
        rows = {row.partition_key: row for row in state.partition_statuses(asset)}
        if status == "missing":
            keys = tuple(
                k for k in keys if k not in rows or rows[k].last_materialization_run_id is None
            )
        else:
            keys = tuple(k for k in keys if k in rows and rows[k].last_attempt_outcome == "FAILED")
    if not keys:
        raise InvalidArgument("the selector names no partitions", reason="no_partitions")
    return keys


def request_fingerprint(
    assets: Sequence[str], selector_json: Mapping[str, Any], chunk_size: int, max_runs: int
) -> str:
    """What makes two creates with one client request id the same request."""
    body = {
        "assetSelection": list(assets),
        "selector": selector_json,
        "chunkSize": chunk_size,
        "maxConcurrentRuns": max_runs,
    }
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def chunk_run_id(tenant_id: str, workspace_id: str, run_key: str) -> str:
    return run_id_from_run_key(_CHUNK_RUN_ID_KEY, tenant_id, workspace_id, run_key)


@dataclass(frozen=True, slots=True)
class ChunkRun:
    planned: BackfillChunkPlanned
    run: RunPlan


def _chunk_plan(
    manifest: Mapping[str, Any], view: BackfillView, keys: Sequence[str], index: int, run_id: str
) -> tuple[BackfillChunkPlanned, RunPlan]:
    chunk = chunk_at(view.row.backfill_id, keys, view.row.chunk_size, index)
    labels = {"arco.backfill_id": view.row.backfill_id, "arco.backfill_chunk_id": chunk.chunk_id}
    plans = [
        plan_run(
            manifest,
            TriggerRequest(
                selection=tuple(view.asset_selection),
                run_key=chunk.run_key,
                labels=labels,
                partition_key=key,
                user_id="backfill",
            ),
            run_id=run_id,
            code_version=view.row.code_version,
        )
        for key in chunk.partition_keys
    ]
    first = plans[0]
    tasks: tuple[TaskDef, ...] = first.plan_created.tasks
    if len(plans) > 1:  # one task per (asset, partition): keys name the partition
        tasks = tuple(
            dataclasses.replace(
                task,
                key=f"{task.key}[{part}]",
                depends_on=tuple(f"{d}[{part}]" for d in task.depends_on),
            )
            for part, plan in zip(chunk.partition_keys, plans, strict=True)
            for task in plan.plan_created.tasks
        )
    trigger = TriggerInfo.manual("backfill")
    run = RunPlan(
        run_triggered=dataclasses.replace(first.run_triggered, trigger=trigger),
        plan_created=dataclasses.replace(first.plan_created, tasks=tasks),
    )
    planned = BackfillChunkPlanned(
        backfill_id=view.row.backfill_id,
        chunk_index=index,
        partition_keys=chunk.partition_keys,
        run_key=chunk.run_key,
        run_id=run_id,
        request_fingerprint=chunk.fingerprint,
    )
    return planned, run


def due_backfill_work(
    state: ProjectionTables,
    manifest: Mapping[str, Any] | None,
    *,
    tenant_id: str,
    workspace_id: str,
) -> tuple[list[ChunkRun], list[BackfillStateChanged]]:
    """The chunk runs to request now (never more active runs per backfill than its
    maxConcurrentRuns) and the running backfills whose chunks all ended."""
    runs: list[ChunkRun] = []
    ends: list[BackfillStateChanged] = []
    for view in backfill_views(state):
        if view.state is not BackfillState.RUNNING:
            continue
        finished = view.finished_as
        if finished is not None:
            ends.append(
                BackfillStateChanged(
                    backfill_id=view.row.backfill_id,
                    from_state=view.state.value,
                    to_state=finished.value,
                    state_version=view.row.state_version + 1,
                    changed_by="automation",
                )
            )
            continue
        due = chunks_to_plan(
            view.state, view.row.total_chunks, view.chunks, view.row.max_concurrent_runs
        )
        if not due or manifest is None:
            continue
        keys = view.partition_keys
        for index in due:
            run_key = f"backfill:{view.row.backfill_id}:chunk:{index}"
            run_id = chunk_run_id(tenant_id, workspace_id, run_key)
            planned, run = _chunk_plan(manifest, view, keys, index, run_id)
            runs.append(ChunkRun(planned, run))
    return runs, ends
