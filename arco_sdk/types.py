"""What ``ArcoClient`` returns: frozen dataclasses over the public ``/api/v1`` JSON.

Each class declares the fields of one public object; :meth:`ApiObject.from_json` reads the
camelCase (runs, manifests) or snake_case (catalog) body the gateway answers, ignores fields
this SDK does not know yet (a newer server), and names a missing required field. Timestamps
stay RFC 3339 strings and states the public enum names (``"SUCCEEDED"``), exactly as the
JSON carries them; :meth:`ApiObject.to_json` gives that JSON back.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

__all__ = [
    "ApiObject",
    "Backfill",
    "BackfillChunk",
    "BackfillChunkPage",
    "BackfillPage",
    "CancelledRun",
    "ChunkCounts",
    "Column",
    "CreatedBackfill",
    "CreatedWorkspace",
    "DeployedManifest",
    "InvalidResponse",
    "Manifest",
    "ManifestSummary",
    "Namespace",
    "PartitionPage",
    "PartitionStatus",
    "PartitionSummary",
    "RetryAttribution",
    "Run",
    "RunPage",
    "RunSummary",
    "ScheduleInfo",
    "SchedulePage",
    "ScheduleTick",
    "ScheduleTickPage",
    "SkipAttribution",
    "StoredLogs",
    "Table",
    "TaskCounts",
    "TaskSummary",
    "TriggeredRun",
    "WorkspaceInfo",
]


class InvalidResponse(ValueError):
    """The server answered JSON that is not the object this SDK expects."""


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _decode(hint: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    if origin in (types.UnionType, typing.Union):
        if value is None:
            return None
        (inner,) = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        return _decode(inner, value, where)
    if origin is tuple:
        if not isinstance(value, list):
            raise InvalidResponse(f"{where} must be a list")
        (item, _) = typing.get_args(hint)
        return tuple(_decode(item, v, f"{where}[{i}]") for i, v in enumerate(value))
    if origin is Mapping:
        if not isinstance(value, dict):
            raise InvalidResponse(f"{where} must be an object")
        return dict(value)
    if isinstance(hint, type) and issubclass(hint, ApiObject):
        return hint.from_json(value, where=where)
    if hint is Any:
        return value
    if hint is int and isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)  # ProtoJSON writes int64 as a string
    if hint is bool and not isinstance(value, bool):
        raise InvalidResponse(f"{where} must be a boolean")
    if hint is int and (not isinstance(value, int) or isinstance(value, bool)):
        raise InvalidResponse(f"{where} must be an integer")
    if hint is str and not isinstance(value, str):
        raise InvalidResponse(f"{where} must be a string")
    return value


def _encode(value: Any) -> Any:
    if isinstance(value, ApiObject):
        return value.to_json()
    if isinstance(value, tuple):
        return [_encode(v) for v in value]
    return value


class ApiObject:
    """Base of the public objects: one declaration each, read and written by one codec."""

    # The casing of the object's JSON keys: runs and manifests are camelCase.
    CAMEL_CASE: ClassVar[bool] = True

    @classmethod
    def from_json(cls, data: object, *, where: str = "") -> Self:
        """Read the public JSON; unknown keys are ignored, a missing required key is an error."""
        where = where or cls.__name__
        if not isinstance(data, dict):
            raise InvalidResponse(f"{where} must be a JSON object")
        hints = _hints(typing.cast(type, cls))
        values: dict[str, Any] = {}
        for item in dataclasses.fields(cls):  # type: ignore[arg-type]
            key = _camel(item.name) if cls.CAMEL_CASE else item.name
            raw = data.get(key, data.get(item.name))
            if raw is None:
                required = (
                    item.default is dataclasses.MISSING
                    and item.default_factory is dataclasses.MISSING
                )
                if required:
                    raise InvalidResponse(f"{where} lacks {key}")
                continue
            values[item.name] = _decode(hints[item.name], raw, f"{where}.{key}")
        return cls(**values)

    def to_json(self) -> dict[str, Any]:
        """The public JSON of this object (None fields left out, like the server does)."""
        out: dict[str, Any] = {}
        for item in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, item.name)
            if value is not None:
                out[_camel(item.name) if self.CAMEL_CASE else item.name] = _encode(value)
        return out


# -- runs ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TriggeredRun(ApiObject):
    """A run a trigger or a rerun started (``created`` is False for a run-key replay)."""

    run_id: str
    state: str = ""
    plan_id: str = ""
    created: bool = False
    created_at: str | None = None
    # Set on reruns only.
    parent_run_id: str | None = None
    rerun_kind: str | None = None
    rerun_reason: str | None = None


@dataclass(frozen=True, slots=True)
class TaskCounts(ApiObject):
    """How many of a run's tasks are in each public state."""

    total: int = 0
    pending: int = 0
    queued: int = 0
    running: int = 0
    succeeded: int = 0
    failed: int = 0
    skipped: int = 0
    cancelled: int = 0


@dataclass(frozen=True, slots=True)
class RetryAttribution(ApiObject):
    """Why a task was retried, and how often."""

    retries: int = 0
    reason: str = ""


@dataclass(frozen=True, slots=True)
class SkipAttribution(ApiObject):
    """The upstream task whose outcome skipped (or cancelled) this one."""

    upstream_task_key: str = ""
    upstream_resolution: str = ""


@dataclass(frozen=True, slots=True)
class TaskSummary(ApiObject):
    """One task of a run: its public state, attempt, timing and output."""

    task_key: str
    state: str = ""
    attempt: int = 0
    max_attempts: int = 0
    internal_state: str = ""
    asset_key: str | None = None
    partition_key: str | None = None
    depends_on: tuple[str, ...] = ()
    ready_at: str | None = None
    started_at: str | None = None
    completed_at: str | None = None
    error_message: str | None = None
    delta_table: str | None = None
    delta_version: int | None = None
    delta_partition: str | None = None
    execution_lineage_ref: str | None = None
    output_visibility_state: str | None = None
    published_at: str | None = None
    publish_error: str | None = None
    retry_attribution: RetryAttribution | None = None
    skip_attribution: SkipAttribution | None = None


@dataclass(frozen=True, slots=True)
class Run(ApiObject):
    """One run with its tasks (``GET .../runs/{runId}``)."""

    run_id: str
    state: str = ""
    workspace_id: str = ""
    plan_id: str = ""
    run_key: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    created_at: str | None = None
    started_at: str | None = None
    completed_at: str | None = None
    parent_run_id: str | None = None
    rerun_kind: str | None = None
    rerun_reason: str | None = None
    task_counts: TaskCounts | None = None
    tasks: tuple[TaskSummary, ...] = ()
    state_version: int = 0

    def task(self, task_key: str) -> TaskSummary:
        """The task ``task_key`` of this run (KeyError when the run has none)."""
        for task in self.tasks:
            if task.task_key == task_key:
                return task
        raise KeyError(task_key)


@dataclass(frozen=True, slots=True)
class RunSummary(ApiObject):
    """One row of the run list."""

    run_id: str
    state: str = ""
    created_at: str | None = None
    completed_at: str | None = None
    task_count: int = 0
    tasks_succeeded: int = 0
    tasks_failed: int = 0
    parent_run_id: str | None = None
    rerun_kind: str | None = None


@dataclass(frozen=True, slots=True)
class RunPage(ApiObject):
    """One page of runs, newest first, and the cursor of the next page (None at the end)."""

    runs: tuple[RunSummary, ...] = ()
    next_cursor: str | None = None


@dataclass(frozen=True, slots=True)
class PartitionStatus(ApiObject):
    """What is known of one (asset, partition): last success, last attempt, staleness."""

    asset_key: str
    partition_key: str
    is_stale: bool = False
    last_materialization_run_id: str | None = None
    last_materialization_at: str | None = None
    last_attempt_run_id: str | None = None
    last_attempt_at: str | None = None
    last_attempt_outcome: str | None = None
    stale_since: str | None = None
    stale_reason: str | None = None


@dataclass(frozen=True, slots=True)
class PartitionPage(ApiObject):
    """One page of partitions by (asset key, partition key), and the next page's cursor."""

    partitions: tuple[PartitionStatus, ...] = ()
    next_cursor: str | None = None


@dataclass(frozen=True, slots=True)
class PartitionSummary(ApiObject):
    """One asset's partition counts; missing = attempted but never materialized."""

    asset_key: str
    total_partitions: int = 0
    materialized_partitions: int = 0
    stale_partitions: int = 0
    missing_partitions: int = 0


# -- backfills ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CreatedBackfill(ApiObject):
    """The answer to a create or retry-failed (``created`` is False for a replay)."""

    backfill_id: str
    accepted_event_id: str = ""
    accepted_at: str | None = None
    created: bool = False


@dataclass(frozen=True, slots=True)
class ChunkCounts(ApiObject):
    """A backfill's chunks by state: pending = not planned yet, running = planned or
    running, failed = failed or cancelled."""

    total: int = 0
    pending: int = 0
    running: int = 0
    succeeded: int = 0
    failed: int = 0


@dataclass(frozen=True, slots=True)
class Backfill(ApiObject):
    """One backfill, its state (with the version the state moves check) and progress."""

    backfill_id: str
    state: str = ""
    state_version: int = 0
    asset_selection: tuple[str, ...] = ()
    partition_selector: Mapping[str, Any] = field(default_factory=dict)
    chunk_size: int = 0
    max_concurrent_runs: int = 0
    created_at: str | None = None
    chunk_counts: ChunkCounts = field(default_factory=ChunkCounts)
    total_partitions: int = 0
    parent_backfill_id: str | None = None


@dataclass(frozen=True, slots=True)
class BackfillPage(ApiObject):
    """One page of backfills, newest first, and the next page's cursor."""

    backfills: tuple[Backfill, ...] = ()
    next_cursor: str | None = None


@dataclass(frozen=True, slots=True)
class BackfillChunk(ApiObject):
    """One planned chunk: its partitions, its run and that run's state."""

    chunk_id: str
    backfill_id: str = ""
    chunk_index: int = 0
    partition_keys: tuple[str, ...] = ()
    run_key: str = ""
    state: str = ""
    run_id: str | None = None


@dataclass(frozen=True, slots=True)
class BackfillChunkPage(ApiObject):
    """One page of a backfill's planned chunks by index, and the next page's cursor."""

    chunks: tuple[BackfillChunk, ...] = ()
    next_cursor: str | None = None


# -- schedules -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ScheduleInfo(ApiObject):
    """A stored schedule (as deployed or PUT) and how far its ticks got."""

    schedule_id: str
    cron_expression: str
    timezone: str
    catchup_window_minutes: int = 0
    max_catchup_ticks: int = 1
    asset_selection: tuple[str, ...] = ()
    enabled: bool = True
    definition_version: str = ""
    last_scheduled_for: str | None = None
    last_tick_id: str | None = None
    last_run_key: str | None = None


@dataclass(frozen=True, slots=True)
class SchedulePage(ApiObject):
    """One page of schedules by schedule id, and the next page's cursor."""

    schedules: tuple[ScheduleInfo, ...] = ()
    next_cursor: str | None = None


@dataclass(frozen=True, slots=True)
class ScheduleTick(ApiObject):
    """One tick of a schedule: TRIGGERED (with its run), SKIPPED (why) or FAILED."""

    tick_id: str
    schedule_id: str
    scheduled_for: str
    status: str
    asset_selection: tuple[str, ...] = ()
    skip_reason: str | None = None
    error_message: str | None = None
    run_key: str | None = None
    run_id: str | None = None


@dataclass(frozen=True, slots=True)
class ScheduleTickPage(ApiObject):
    """One page of a schedule's ticks, newest first, and the next page's cursor."""

    ticks: tuple[ScheduleTick, ...] = ()
    next_cursor: str | None = None


@dataclass(frozen=True, slots=True)
class CancelledRun(ApiObject):
    """The answer to a cancel: the run's state right after the request."""

    run_id: str
    state: str = ""
    cancelled_at: str | None = None


@dataclass(frozen=True, slots=True)
class StoredLogs(ApiObject):
    """Where an attempt's uploaded logs were stored, and their size."""

    path: str
    size_bytes: int = 0


# -- manifests -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WorkspaceInfo(ApiObject):
    """A registered workspace of the caller's tenant."""

    tenant_id: str
    workspace_id: str
    created_at: str | None = None


@dataclass(frozen=True, slots=True)
class CreatedWorkspace(ApiObject):
    """The answer of a workspace creation (``created`` False: it already existed)."""

    workspace: WorkspaceInfo
    created: bool = False


@dataclass(frozen=True, slots=True)
class DeployedManifest(ApiObject):
    """A deployment's answer (``created`` is False when the same manifest was deployed)."""

    manifest_id: str
    fingerprint: str = ""
    code_version_id: str = ""
    workspace_id: str = ""
    asset_count: int = 0
    deployed_at: str | None = None
    created: bool = False


@dataclass(frozen=True, slots=True)
class ManifestSummary(ApiObject):
    """One row of the manifest list."""

    manifest_id: str
    fingerprint: str = ""
    code_version_id: str = ""
    asset_count: int = 0
    deployed_at: str | None = None
    deployed_by: str = ""
    git_branch: str | None = None
    git_commit: str | None = None


@dataclass(frozen=True, slots=True)
class Manifest(ApiObject):
    """A stored manifest. Its assets and schedules are the deployed JSON documents."""

    manifest_id: str
    fingerprint: str = ""
    code_version_id: str = ""
    manifest_version: str = ""
    tenant_id: str = ""
    workspace_id: str = ""
    deployed_at: str | None = None
    deployed_by: str = ""
    git: Mapping[str, Any] | None = None
    assets: tuple[Mapping[str, Any], ...] = ()
    schedules: tuple[Mapping[str, Any], ...] = ()
    metadata: Any = None


# -- catalog -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Namespace(ApiObject):
    """A catalog namespace."""

    CAMEL_CASE: ClassVar[bool] = False

    id: str
    name: str
    description: str = ""
    created_at: str | None = None
    updated_at: str | None = None


@dataclass(frozen=True, slots=True)
class Column(ApiObject):
    """A column of a registered table."""

    CAMEL_CASE: ClassVar[bool] = False

    name: str
    data_type: str = ""
    nullable: bool = False
    position: int = 0
    description: str = ""
    id: str = ""


@dataclass(frozen=True, slots=True)
class Table(ApiObject):
    """A table registered in a namespace."""

    CAMEL_CASE: ClassVar[bool] = False

    id: str
    name: str
    namespace: str = ""
    description: str = ""
    format: str = ""
    columns: tuple[Column, ...] = ()
    created_at: str | None = None
    updated_at: str | None = None
