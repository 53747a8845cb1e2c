"""Planning and reading runs for the api (pure: no I/O, no grpc).

The api turns requests into these calls; each returns the events to append (the only
way state changes) plus what the answer needs. Reads work on the published FoldState.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from arco_core.canonical_json import canonical_bytes
from arco_core.cursors import decode_cursor, encode_cursor
from arco_core.errors import Conflict, InvalidArgument, NotFound, TaskNotFound
from arco_core.orchestration.deployments import MAX_KEY_LENGTH, AssetNode, asset_graph
from arco_core.orchestration.events import (
    PlanCreated,
    RunCancelRequested,
    RunTriggered,
    validate_plan,
)
from arco_core.orchestration.fold import FoldState
from arco_core.orchestration.state import (
    DEFAULT_WORKER_QUEUE,
    EndedAttempt,
    RunRow,
    TaskRow,
)
from arco_core.orchestration.values import TaskDef, TriggerInfo
from arco_core.partition import parse_partition_key

MAX_SELECTION = 10_000
MAX_LABELS = 128

RUN_STATUSES = ("PENDING", "RUNNING", "CANCELLING", "SUCCEEDED", "FAILED", "CANCELLED", "TIMED_OUT")
TASK_STATUS_OF = {
    "PLANNED": "PENDING",
    "BLOCKED": "PENDING",
    "RETRY_WAIT": "PENDING",
    "READY": "QUEUED",
    "DISPATCHED": "QUEUED",
    "RUNNING": "RUNNING",
    "SUCCEEDED": "SUCCEEDED",
    "FAILED": "FAILED",
    "SKIPPED": "SKIPPED",
    "CANCELLED": "CANCELLED",
}


@dataclass(frozen=True, slots=True)
class AttemptSpan:
    """One started attempt of a task, for a timeline: its public status and times."""

    attempt: int
    attempt_id: str | None
    status: str  # a TASK_STATUS_OF value
    started_at: int | None
    completed_at: int | None
    error_message: str | None


def task_attempts(task: TaskRow) -> list[AttemptSpan]:
    """The task's attempts that started or ended, oldest first: the retried ones, then the
    current one once it started (a current attempt still waiting is not shown)."""
    ended = EndedAttempt.of(task)
    spans = [
        AttemptSpan(
            a.attempt, a.attempt_id, "FAILED", a.started_at, a.completed_at, a.error_message
        )
        for a in ended
    ]
    started = EndedAttempt.current_started_at(task, ended)
    if started is not None and (not ended or task.attempt > ended[-1].attempt):
        spans.append(
            AttemptSpan(
                task.attempt,
                task.attempt_id,
                TASK_STATUS_OF.get(task.state, "PENDING"),
                started,
                task.completed_at,
                task.error_message,
            )
        )
    return spans


# -- planning ----------------------------------------------------------------------------


def canonical_selection(selection: Iterable[str]) -> list[str]:
    out = []
    for item in selection:
        text = str(item).strip()
        if not text or len(text) > MAX_KEY_LENGTH:
            raise InvalidArgument(f"invalid asset key in selection: {item!r}")
        out.append(text.replace("/", "."))
    return out


def closure(
    graph: Mapping[str, AssetNode], roots: Iterable[str], *, upstream: bool, downstream: bool
) -> set[str]:
    selected = set(roots)
    unknown = sorted(k for k in selected if k not in graph)
    if unknown:
        raise InvalidArgument(f"unknown asset keys: {', '.join(unknown)}")
    dependents: dict[str, list[str]] = {}
    for node in graph.values():
        for up in node.depends_on:
            dependents.setdefault(up, []).append(node.key)
    frontier = list(selected)
    while frontier:
        key = frontier.pop()
        nexts: list[str] = []
        if upstream:
            nexts += list(graph[key].depends_on)
        if downstream:
            nexts += dependents.get(key, [])
        for other in nexts:
            if other not in selected:
                selected.add(other)
                frontier.append(other)
    return selected


@dataclass(frozen=True)
class TriggerRequest:
    selection: tuple[str, ...]
    include_upstream: bool = False
    include_downstream: bool = False
    run_key: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    partition_key: str | None = None
    user_id: str = ""
    traceparent: str | None = None


def validate_trigger(request: TriggerRequest) -> None:
    if not request.selection:
        raise InvalidArgument("selection cannot be empty")
    if len(request.selection) > MAX_SELECTION:
        raise InvalidArgument(f"selection has more than {MAX_SELECTION} assets")
    if request.run_key is not None and (not request.run_key or len(request.run_key) > 256):
        raise InvalidArgument("runKey must be 1..256 characters")
    if len(request.labels) > MAX_LABELS:
        raise InvalidArgument(f"at most {MAX_LABELS} labels")
    for key, value in request.labels.items():
        if not key or len(key) > 128 or len(value) > 2048:
            raise InvalidArgument(f"invalid label {key!r}")
    if request.partition_key is not None:
        if len(request.partition_key) > 1024:
            raise InvalidArgument("partitionKey is longer than 1024 characters")
        try:
            parsed = parse_partition_key(request.partition_key)
        except InvalidArgument as exc:
            raise InvalidArgument(f"invalid partitionKey: {exc.message}") from None
        if parsed.canonical() != request.partition_key:
            raise InvalidArgument(
                f"partitionKey must be canonical: expected '{parsed.canonical()}'"
            )


# The key of a run-key reservation's request fingerprint.
REQUEST_FINGERPRINT = "request_fingerprint"


def request_fingerprint(request: TriggerRequest) -> str:
    """What a run key stands for: a trigger with the key and another fingerprint conflicts.

    Of the request only (not the manifest deployed), so the same trigger after a redeploy
    is a replay, and repeats or the order of the selection and labels do not matter.
    """
    body: dict[str, Any] = {
        "selection": sorted(set(canonical_selection(request.selection))),
        "includeUpstream": request.include_upstream,
        "includeDownstream": request.include_downstream,
        "labels": dict(sorted(request.labels.items())),
    }
    if request.partition_key is not None:
        body["partitionKey"] = request.partition_key
    return hashlib.sha256(canonical_bytes(body)).hexdigest()


def legacy_reservation_matches(
    reservation: Mapping[str, Any], request: TriggerRequest, manifest_ids: Iterable[str]
) -> bool:
    """Whether a reservation written before request fingerprints stands for ``request``.

    Its ``fingerprint`` hashed the request with the id of the manifest deployed then, so
    it matches when it equals that hash under any deployed manifest; one with no
    fingerprint matches anything (nothing was recorded to check against).
    """
    legacy = reservation.get("fingerprint")
    if legacy is None:
        return True
    body = {
        "selection": sorted(request.selection),
        "includeUpstream": request.include_upstream,
        "includeDownstream": request.include_downstream,
        "labels": dict(sorted(request.labels.items())),
        "partitionKey": request.partition_key,
    }
    return any(
        hashlib.sha256(canonical_bytes({**body, "manifestId": manifest_id})).hexdigest() == legacy
        for manifest_id in manifest_ids
    )


@dataclass(frozen=True)
class RunPlan:
    run_triggered: RunTriggered
    plan_created: PlanCreated


def plan_run(
    manifest: Mapping[str, Any],
    request: TriggerRequest,
    *,
    run_id: str,
    code_version: str | None,
    parent_run_id: str | None = None,
    rerun_kind: str | None = None,
    rerun_reason: str | None = None,
    only: set[str] | None = None,
) -> RunPlan:
    graph = asset_graph(manifest)
    roots = canonical_selection(request.selection)
    planned = (
        only
        if only is not None
        else closure(
            graph, roots, upstream=request.include_upstream, downstream=request.include_downstream
        )
    )
    if request.partition_key is not None:
        unpartitioned = sorted(k for k in roots if k in graph and not graph[k].partitioned)
        if unpartitioned:
            raise InvalidArgument(
                f"partition key provided for unpartitioned asset: {', '.join(unpartitioned)}"
            )
    tasks = tuple(
        TaskDef(
            key=key,
            depends_on=tuple(d for d in graph[key].depends_on if d in planned),
            asset_key=key,
            partition_key=request.partition_key,
            max_attempts=graph[key].max_attempts,
            heartbeat_timeout_sec=graph[key].heartbeat_timeout_sec,
            worker_queue=graph[key].worker_queue,
        )
        for key in sorted(planned)
    )
    validate_plan(tasks)
    plan_id = f"plan_{run_id}"
    return RunPlan(
        run_triggered=RunTriggered(
            run_id=run_id,
            plan_id=plan_id,
            trigger=TriggerInfo.manual(request.user_id or "unknown"),
            root_assets=tuple(sorted(roots)),
            run_key=request.run_key,
            labels=dict(request.labels),
            code_version=code_version,
            parent_run_id=parent_run_id,
            rerun_kind=rerun_kind,
            rerun_reason=rerun_reason,
            traceparent=request.traceparent,
        ),
        plan_created=PlanCreated(run_id=run_id, plan_id=plan_id, tasks=tasks),
    )


# -- run views ---------------------------------------------------------------------------


def public_run_status(run: RunRow, tasks: Sequence[TaskRow]) -> str:
    if run.state in ("SUCCEEDED", "FAILED", "CANCELLED"):
        visible = [t for t in tasks if t.requires_visible_output and t.state == "SUCCEEDED"]
        if run.state == "SUCCEEDED" and any(t.output_visibility_state == "FAILED" for t in visible):
            return "FAILED"
        if run.state == "SUCCEEDED" and any(
            t.output_visibility_state == "PENDING" for t in visible
        ):
            return "RUNNING"
        return run.state
    if run.cancel_requested:
        return "CANCELLING"
    if run.state == "TRIGGERED":
        return "PENDING"
    if any(t.state in ("RUNNING", "SUCCEEDED", "FAILED", "SKIPPED") for t in tasks) or any(
        t.attempt > 0 for t in tasks
    ):
        return "RUNNING"
    return "PENDING"


def task_counts(tasks: Sequence[TaskRow]) -> dict[str, int]:
    counts = dict.fromkeys(
        ("pending", "queued", "running", "succeeded", "failed", "skipped", "cancelled"), 0
    )
    for task in tasks:
        counts[TASK_STATUS_OF.get(task.state, "PENDING").lower()] += 1
    return {"total": len(tasks), **counts}


def skip_attribution(state: FoldState, task: TaskRow) -> tuple[str, str] | None:
    if task.state not in ("SKIPPED", "CANCELLED"):
        return None
    for upstream in sorted(state.dependencies(task.run_id, task.task_key)):
        edge = state.get_edge(task.run_id, upstream, task.task_key)
        if edge is not None and edge.resolution in ("FAILED", "SKIPPED", "CANCELLED"):
            return upstream, edge.resolution
    return None


def require_run(state: FoldState, run_id: str) -> RunRow:
    run = state.get_run(run_id)
    if run is None:
        raise NotFound(f"run not found: {run_id}", reason="run_not_found")
    return run


def list_runs(
    state: FoldState, *, limit: int, cursor: str, status: str | None
) -> tuple[list[tuple[RunRow, str]], str | None]:
    """Runs newest first (run ids are ULIDs), optionally filtered by public status."""
    if limit < 0 or limit > 200:
        raise InvalidArgument("limit must be between 1 and 200")
    limit = limit or 50
    after = decode_cursor(cursor) if cursor else None
    out: list[tuple[RunRow, str]] = []
    for run_id in sorted(state.run_ids(), reverse=True):
        if after is not None and run_id >= after:
            continue
        run = state.get_run(run_id)
        if run is None:
            continue
        public = public_run_status(run, state.list_tasks(run_id))
        if status and public != status:
            continue
        if len(out) == limit:
            return out, encode_cursor(out[-1][0].run_id)
        out.append((run, public))
    return out, None


# -- cancel and rerun --------------------------------------------------------------------


def plan_cancel(
    state: FoldState, run_id: str, *, reason: str | None, requested_by: str
) -> RunCancelRequested | None:
    """The cancel event, or None when cancellation was already requested."""
    run = require_run(state, run_id)
    if run.state in ("SUCCEEDED", "FAILED", "CANCELLED"):
        raise Conflict(
            f"run {run_id} already finished ({run.state})",
            reason="run_already_finished",
            metadata={"state": run.state},
        )
    if run.cancel_requested:
        return None
    return RunCancelRequested(run_id=run_id, reason=reason, requested_by=requested_by)


def rerun_selection(
    state: FoldState,
    parent: RunRow,
    *,
    mode: str,
    selection: Sequence[str],
    include_upstream: bool,
    include_downstream: bool,
) -> tuple[set[str], str]:
    """Which of the parent's tasks to run again, and the operator-facing reason."""
    if parent.state not in ("SUCCEEDED", "FAILED", "CANCELLED"):
        raise Conflict(
            f"run {parent.run_id} is still running; rerun it once it finished",
            reason="run_not_finished",
        )
    tasks = {t.task_key: t for t in state.list_tasks(parent.run_id)}
    graph = {
        key: AssetNode(key, tuple(state.dependencies(parent.run_id, key)), 1, 300, "", False)
        for key in tasks
    }
    if mode == "FROM_FAILURE":
        failed = {k for k, t in tasks.items() if t.state != "SUCCEEDED"}
        if not failed:
            raise InvalidArgument(f"run {parent.run_id} has no failed tasks to rerun")
        chosen = closure(graph, failed, upstream=False, downstream=True)
        return chosen, f"rerun from failure of {parent.run_id}: {len(chosen)} task(s)"
    if mode == "SUBSET":
        roots = canonical_selection(selection)
        if not roots:
            raise InvalidArgument("a subset rerun needs a selection")
        chosen = closure(graph, roots, upstream=include_upstream, downstream=include_downstream)
        return chosen, f"subset rerun of {parent.run_id}: {', '.join(sorted(roots))}"
    raise InvalidArgument("mode must be fromFailure or subset")


def plan_rerun(
    state: FoldState,
    parent: RunRow,
    chosen: set[str],
    *,
    run_id: str,
    kind: str,
    reason: str,
    run_key: str | None,
    labels: Mapping[str, str],
    user_id: str,
) -> RunPlan:
    tasks = []
    for key in sorted(chosen):
        row = state.get_task(parent.run_id, key)
        assert row is not None
        tasks.append(
            TaskDef(
                key=key,
                depends_on=tuple(
                    sorted(d for d in state.dependencies(parent.run_id, key) if d in chosen)
                ),
                asset_key=row.asset_key,
                partition_key=row.partition_key,
                max_attempts=row.max_attempts,
                heartbeat_timeout_sec=row.heartbeat_timeout_sec,
                requires_visible_output=bool(row.requires_visible_output),
                worker_queue=row.worker_queue or DEFAULT_WORKER_QUEUE,
            )
        )
    validate_plan(tasks)
    parent_labels = json.loads(parent.labels) if parent.labels else {}
    plan_id = f"plan_{run_id}"
    return RunPlan(
        run_triggered=RunTriggered(
            run_id=run_id,
            plan_id=plan_id,
            trigger=TriggerInfo.manual(user_id or "unknown"),
            root_assets=tuple(sorted(chosen)),
            run_key=run_key,
            labels={**parent_labels, **labels},
            code_version=parent.code_version,
            parent_run_id=parent.run_id,
            rerun_kind=kind,
            rerun_reason=reason,
        ),
        plan_created=PlanCreated(run_id=run_id, plan_id=plan_id, tasks=tuple(tasks)),
    )


# -- logs --------------------------------------------------------------------------------


def log_objects(state: FoldState, run_id: str, task_key: str | None) -> list[tuple[str, int]]:
    """Every (task, attempt) that may have a log, in a stable order (no listing needed)."""
    require_run(state, run_id)
    tasks = state.list_tasks(run_id)
    if task_key:
        tasks = [t for t in tasks if t.task_key == task_key]
        if not tasks:
            raise TaskNotFound(f"task not found: {task_key}")
    return [
        (t.task_key, attempt)
        for t in sorted(tasks, key=lambda t: t.task_key)
        for attempt in range(1, max(t.attempt, 0) + 1)
    ]
