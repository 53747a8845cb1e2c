"""Pure converters between OrchestrationService messages and domain values."""

from __future__ import annotations

import json
from typing import Any

from arco.orchestration.v1 import orchestration_service_pb2 as pb
from arco.orchestration.v1 import types_pb2
from google.protobuf import json_format

from arco_core.orchestration.deployments import stored_manifest
from arco_core.orchestration.fold import FoldState
from arco_core.orchestration.partitions import PartitionSummary
from arco_core.orchestration.runs import (
    TASK_STATUS_OF,
    skip_attribution,
    task_attempts,
    task_counts,
)
from arco_core.orchestration.state import CodeManifestRow, PartitionStatusRow, RunRow, TaskRow
from services.common.rpc_context import timestamp_from_ms

RERUN_KINDS = {
    "FROM_FAILURE": types_pb2.RERUN_KIND_FROM_FAILURE,
    "SUBSET": types_pb2.RERUN_KIND_SUBSET,
}
RERUN_MODES = {pb.RERUN_MODE_FROM_FAILURE: "FROM_FAILURE", pb.RERUN_MODE_SUBSET: "SUBSET"}


def run_status(public: str) -> str:
    return f"RUN_STATUS_{public}"


def status_filter(value: int) -> str | None:
    if value == types_pb2.RUN_STATUS_UNSPECIFIED:
        return None
    return types_pb2.RunStatus.Name(value).removeprefix("RUN_STATUS_")


def manifest_request_json(request: pb.DeployManifestRequest) -> dict[str, Any]:
    """The request as the reference's camelCase DeployManifestRequest JSON."""
    data = json_format.MessageToDict(request, unquote_int64_if_possible=True)
    data.pop("workspaceId", None)
    return data


def stored_manifest_pb(row: CodeManifestRow) -> pb.StoredManifest:
    data = stored_manifest(row)
    message = pb.StoredManifest()
    json_format.ParseDict(
        {k: v for k, v in data.items() if v is not None}, message, ignore_unknown_fields=True
    )
    return message


def manifest_item(row: CodeManifestRow) -> pb.ManifestListItem:
    item = pb.ManifestListItem(
        manifest_id=row.manifest_id,
        code_version_id=row.code_version_id,
        fingerprint=row.fingerprint,
        asset_count=row.asset_count,
        deployed_at=timestamp_from_ms(row.deployed_at),
        deployed_by=row.deployed_by,
    )
    if row.git_branch:
        item.git_branch = row.git_branch
    if row.git_commit:
        item.git_commit = row.git_commit
    return item


def task_summary(state: FoldState, task: TaskRow) -> pb.TaskSummary:
    summary = pb.TaskSummary(
        task_key=task.task_key,
        state=f"TASK_STATUS_{TASK_STATUS_OF.get(task.state, 'PENDING')}",
        attempt=task.attempt,
        started_at=timestamp_from_ms(task.started_at),
        completed_at=timestamp_from_ms(task.completed_at),
        internal_state=f"TASK_STATE_{task.state}",
        max_attempts=task.max_attempts,
        depends_on=sorted(state.dependencies(task.run_id, task.task_key)),
        ready_at=timestamp_from_ms(task.ready_at),
        published_at=timestamp_from_ms(task.published_at),
    )
    for name in (
        "asset_key",
        "error_message",
        "delta_table",
        "delta_version",
        "delta_partition",
        "execution_lineage_ref",
        "output_visibility_state",
        "publish_error",
        "partition_key",
    ):
        value = getattr(task, name, None)
        if value is not None:
            setattr(summary, name, value)
    for span in task_attempts(task):
        attempt = summary.attempts.add(
            attempt=span.attempt,
            state=f"TASK_STATUS_{span.status}",
            started_at=timestamp_from_ms(span.started_at),
            completed_at=timestamp_from_ms(span.completed_at),
        )
        if span.attempt_id is not None:
            attempt.attempt_id = span.attempt_id
        if span.error_message is not None:
            attempt.error_message = span.error_message
    if task.attempt > 1:
        summary.retry_attribution.CopyFrom(
            pb.RetryAttribution(retries=task.attempt - 1, reason=task.error_message or "retried")
        )
    skipped = skip_attribution(state, task)
    if skipped is not None:
        summary.skip_attribution.CopyFrom(
            pb.SkipAttribution(upstream_task_key=skipped[0], upstream_resolution=skipped[1])
        )
    return summary


def run_response(
    state: FoldState, run: RunRow, public: str, workspace_id: str, state_version: int
) -> pb.GetRunResponse:
    tasks = sorted(state.list_tasks(run.run_id), key=lambda t: t.task_key)
    # The first attempt to start, not the current one: a retried task's row holds the
    # start of its latest attempt.
    started = [
        span.started_at
        for task in tasks
        for span in task_attempts(task)
        if span.started_at is not None
    ]
    response = pb.GetRunResponse(
        run_id=run.run_id,
        workspace_id=workspace_id,
        plan_id=run.plan_id,
        state=run_status(public),
        created_at=timestamp_from_ms(run.triggered_at),
        started_at=timestamp_from_ms(min(started)) if started else None,
        completed_at=timestamp_from_ms(run.completed_at),
        labels=json.loads(run.labels) if run.labels else {},
        task_counts=pb.TaskCounts(**task_counts(tasks)),
        tasks=[task_summary(state, t) for t in tasks],
        rerun_kind=RERUN_KINDS.get(run.rerun_kind or "", types_pb2.RERUN_KIND_UNSPECIFIED),
        state_version=state_version,
    )
    if run.parent_run_id:
        response.parent_run_id = run.parent_run_id
    if run.rerun_reason:
        response.rerun_reason = run.rerun_reason
    if run.run_key:
        response.run_key = run.run_key
    return response


def run_list_item(run: RunRow, public: str) -> pb.RunListItem:
    item = pb.RunListItem(
        run_id=run.run_id,
        state=run_status(public),
        created_at=timestamp_from_ms(run.triggered_at),
        completed_at=timestamp_from_ms(run.completed_at),
        task_count=run.tasks_total,
        tasks_succeeded=run.tasks_succeeded,
        tasks_failed=run.tasks_failed,
        rerun_kind=RERUN_KINDS.get(run.rerun_kind or "", types_pb2.RERUN_KIND_UNSPECIFIED),
    )
    if run.parent_run_id:
        item.parent_run_id = run.parent_run_id
    return item


def partition_status(row: PartitionStatusRow) -> pb.PartitionStatus:
    item = pb.PartitionStatus(
        asset_key=row.asset_key,
        partition_key=row.partition_key,
        last_materialization_at=timestamp_from_ms(row.last_materialization_at),
        is_stale=row.stale_since is not None,
        partition_values=json.loads(row.partition_values) if row.partition_values else {},
        last_attempt_at=timestamp_from_ms(row.last_attempt_at),
        stale_since=timestamp_from_ms(row.stale_since),
    )
    for name, value in (
        ("last_materialization_run_id", row.last_materialization_run_id),
        ("stale_reason", row.stale_reason_code),
        ("delta_table", row.delta_table),
        ("delta_version", row.delta_version),
        ("delta_partition", row.delta_partition),
        ("execution_lineage_ref", row.execution_lineage_ref),
        ("last_attempt_run_id", row.last_attempt_run_id),
        ("last_attempt_outcome", row.last_attempt_outcome),
    ):
        if value is not None:
            setattr(item, name, value)
    return item


def partition_summary(summary: PartitionSummary) -> pb.GetAssetPartitionSummaryResponse:
    return pb.GetAssetPartitionSummaryResponse(
        asset_key=summary.asset_key,
        total_partitions=summary.total,
        materialized_partitions=summary.materialized,
        stale_partitions=summary.stale,
        missing_partitions=summary.missing,
    )
