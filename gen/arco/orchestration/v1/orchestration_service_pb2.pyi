import datetime

from arco.orchestration.v1 import types_pb2 as _types_pb2
from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RerunMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RERUN_MODE_UNSPECIFIED: _ClassVar[RerunMode]
    RERUN_MODE_FROM_FAILURE: _ClassVar[RerunMode]
    RERUN_MODE_SUBSET: _ClassVar[RerunMode]

class BackfillState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BACKFILL_STATE_UNSPECIFIED: _ClassVar[BackfillState]
    BACKFILL_STATE_PENDING: _ClassVar[BackfillState]
    BACKFILL_STATE_RUNNING: _ClassVar[BackfillState]
    BACKFILL_STATE_PAUSED: _ClassVar[BackfillState]
    BACKFILL_STATE_SUCCEEDED: _ClassVar[BackfillState]
    BACKFILL_STATE_FAILED: _ClassVar[BackfillState]
    BACKFILL_STATE_CANCELLED: _ClassVar[BackfillState]

class ChunkState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CHUNK_STATE_UNSPECIFIED: _ClassVar[ChunkState]
    CHUNK_STATE_PENDING: _ClassVar[ChunkState]
    CHUNK_STATE_PLANNED: _ClassVar[ChunkState]
    CHUNK_STATE_RUNNING: _ClassVar[ChunkState]
    CHUNK_STATE_SUCCEEDED: _ClassVar[ChunkState]
    CHUNK_STATE_FAILED: _ClassVar[ChunkState]
    CHUNK_STATE_CANCELLED: _ClassVar[ChunkState]

class SensorStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SENSOR_STATUS_UNSPECIFIED: _ClassVar[SensorStatus]
    SENSOR_STATUS_ACTIVE: _ClassVar[SensorStatus]
    SENSOR_STATUS_PAUSED: _ClassVar[SensorStatus]
    SENSOR_STATUS_ERROR: _ClassVar[SensorStatus]
RERUN_MODE_UNSPECIFIED: RerunMode
RERUN_MODE_FROM_FAILURE: RerunMode
RERUN_MODE_SUBSET: RerunMode
BACKFILL_STATE_UNSPECIFIED: BackfillState
BACKFILL_STATE_PENDING: BackfillState
BACKFILL_STATE_RUNNING: BackfillState
BACKFILL_STATE_PAUSED: BackfillState
BACKFILL_STATE_SUCCEEDED: BackfillState
BACKFILL_STATE_FAILED: BackfillState
BACKFILL_STATE_CANCELLED: BackfillState
CHUNK_STATE_UNSPECIFIED: ChunkState
CHUNK_STATE_PENDING: ChunkState
CHUNK_STATE_PLANNED: ChunkState
CHUNK_STATE_RUNNING: ChunkState
CHUNK_STATE_SUCCEEDED: ChunkState
CHUNK_STATE_FAILED: ChunkState
CHUNK_STATE_CANCELLED: ChunkState
SENSOR_STATUS_UNSPECIFIED: SensorStatus
SENSOR_STATUS_ACTIVE: SensorStatus
SENSOR_STATUS_PAUSED: SensorStatus
SENSOR_STATUS_ERROR: SensorStatus

class AssetKey(_message.Message):
    __slots__ = ("namespace", "name")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    name: str
    def __init__(self, namespace: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class AssetDependency(_message.Message):
    __slots__ = ("upstream_key", "parameter_name", "mapping")
    UPSTREAM_KEY_FIELD_NUMBER: _ClassVar[int]
    PARAMETER_NAME_FIELD_NUMBER: _ClassVar[int]
    MAPPING_FIELD_NUMBER: _ClassVar[int]
    upstream_key: AssetKey
    parameter_name: str
    mapping: str
    def __init__(self, upstream_key: _Optional[_Union[AssetKey, _Mapping]] = ..., parameter_name: _Optional[str] = ..., mapping: _Optional[str] = ...) -> None: ...

class AssetEntry(_message.Message):
    __slots__ = ("key", "id", "description", "owners", "tags", "partitioning", "code", "execution", "io", "resources", "transform_fingerprint", "checks", "dependencies")
    KEY_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    OWNERS_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    PARTITIONING_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_FIELD_NUMBER: _ClassVar[int]
    IO_FIELD_NUMBER: _ClassVar[int]
    RESOURCES_FIELD_NUMBER: _ClassVar[int]
    TRANSFORM_FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    CHECKS_FIELD_NUMBER: _ClassVar[int]
    DEPENDENCIES_FIELD_NUMBER: _ClassVar[int]
    key: AssetKey
    id: str
    description: str
    owners: _containers.RepeatedScalarFieldContainer[str]
    tags: _struct_pb2.Struct
    partitioning: _struct_pb2.Struct
    code: _struct_pb2.Struct
    execution: _struct_pb2.Struct
    io: _struct_pb2.Struct
    resources: _struct_pb2.Struct
    transform_fingerprint: str
    checks: _containers.RepeatedCompositeFieldContainer[_struct_pb2.Value]
    dependencies: _containers.RepeatedCompositeFieldContainer[AssetDependency]
    def __init__(self, key: _Optional[_Union[AssetKey, _Mapping]] = ..., id: _Optional[str] = ..., description: _Optional[str] = ..., owners: _Optional[_Iterable[str]] = ..., tags: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., partitioning: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., code: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., execution: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., io: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., resources: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., transform_fingerprint: _Optional[str] = ..., checks: _Optional[_Iterable[_Union[_struct_pb2.Value, _Mapping]]] = ..., dependencies: _Optional[_Iterable[_Union[AssetDependency, _Mapping]]] = ...) -> None: ...

class ScheduleEntry(_message.Message):
    __slots__ = ("id", "cron", "timezone", "assets")
    ID_FIELD_NUMBER: _ClassVar[int]
    CRON_FIELD_NUMBER: _ClassVar[int]
    TIMEZONE_FIELD_NUMBER: _ClassVar[int]
    ASSETS_FIELD_NUMBER: _ClassVar[int]
    id: str
    cron: str
    timezone: str
    assets: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, id: _Optional[str] = ..., cron: _Optional[str] = ..., timezone: _Optional[str] = ..., assets: _Optional[_Iterable[str]] = ...) -> None: ...

class SensorEntry(_message.Message):
    __slots__ = ("id", "kind", "minimum_interval_seconds", "assets")
    ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    MINIMUM_INTERVAL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    ASSETS_FIELD_NUMBER: _ClassVar[int]
    id: str
    kind: str
    minimum_interval_seconds: int
    assets: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, id: _Optional[str] = ..., kind: _Optional[str] = ..., minimum_interval_seconds: _Optional[int] = ..., assets: _Optional[_Iterable[str]] = ...) -> None: ...

class GitContext(_message.Message):
    __slots__ = ("repository", "branch", "commit_sha", "commit_message", "author", "dirty")
    REPOSITORY_FIELD_NUMBER: _ClassVar[int]
    BRANCH_FIELD_NUMBER: _ClassVar[int]
    COMMIT_SHA_FIELD_NUMBER: _ClassVar[int]
    COMMIT_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_FIELD_NUMBER: _ClassVar[int]
    DIRTY_FIELD_NUMBER: _ClassVar[int]
    repository: str
    branch: str
    commit_sha: str
    commit_message: str
    author: str
    dirty: bool
    def __init__(self, repository: _Optional[str] = ..., branch: _Optional[str] = ..., commit_sha: _Optional[str] = ..., commit_message: _Optional[str] = ..., author: _Optional[str] = ..., dirty: _Optional[bool] = ...) -> None: ...

class StoredManifest(_message.Message):
    __slots__ = ("manifest_id", "tenant_id", "workspace_id", "manifest_version", "code_version_id", "fingerprint", "git", "assets", "schedules", "deployed_at", "deployed_by", "metadata", "sensors")
    MANIFEST_ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    WORKSPACE_ID_FIELD_NUMBER: _ClassVar[int]
    MANIFEST_VERSION_FIELD_NUMBER: _ClassVar[int]
    CODE_VERSION_ID_FIELD_NUMBER: _ClassVar[int]
    FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    GIT_FIELD_NUMBER: _ClassVar[int]
    ASSETS_FIELD_NUMBER: _ClassVar[int]
    SCHEDULES_FIELD_NUMBER: _ClassVar[int]
    DEPLOYED_AT_FIELD_NUMBER: _ClassVar[int]
    DEPLOYED_BY_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    SENSORS_FIELD_NUMBER: _ClassVar[int]
    manifest_id: str
    tenant_id: str
    workspace_id: str
    manifest_version: str
    code_version_id: str
    fingerprint: str
    git: GitContext
    assets: _containers.RepeatedCompositeFieldContainer[AssetEntry]
    schedules: _containers.RepeatedCompositeFieldContainer[ScheduleEntry]
    deployed_at: _timestamp_pb2.Timestamp
    deployed_by: str
    metadata: _struct_pb2.Value
    sensors: _containers.RepeatedCompositeFieldContainer[SensorEntry]
    def __init__(self, manifest_id: _Optional[str] = ..., tenant_id: _Optional[str] = ..., workspace_id: _Optional[str] = ..., manifest_version: _Optional[str] = ..., code_version_id: _Optional[str] = ..., fingerprint: _Optional[str] = ..., git: _Optional[_Union[GitContext, _Mapping]] = ..., assets: _Optional[_Iterable[_Union[AssetEntry, _Mapping]]] = ..., schedules: _Optional[_Iterable[_Union[ScheduleEntry, _Mapping]]] = ..., deployed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., deployed_by: _Optional[str] = ..., metadata: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., sensors: _Optional[_Iterable[_Union[SensorEntry, _Mapping]]] = ...) -> None: ...

class DeployManifestRequest(_message.Message):
    __slots__ = ("workspace_id", "manifest_version", "code_version_id", "assets", "schedules", "deployed_by", "git", "metadata", "sensors")
    WORKSPACE_ID_FIELD_NUMBER: _ClassVar[int]
    MANIFEST_VERSION_FIELD_NUMBER: _ClassVar[int]
    CODE_VERSION_ID_FIELD_NUMBER: _ClassVar[int]
    ASSETS_FIELD_NUMBER: _ClassVar[int]
    SCHEDULES_FIELD_NUMBER: _ClassVar[int]
    DEPLOYED_BY_FIELD_NUMBER: _ClassVar[int]
    GIT_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    SENSORS_FIELD_NUMBER: _ClassVar[int]
    workspace_id: str
    manifest_version: str
    code_version_id: str
    assets: _containers.RepeatedCompositeFieldContainer[AssetEntry]
    schedules: _containers.RepeatedCompositeFieldContainer[ScheduleEntry]
    deployed_by: str
    git: GitContext
    metadata: _struct_pb2.Value
    sensors: _containers.RepeatedCompositeFieldContainer[SensorEntry]
    def __init__(self, workspace_id: _Optional[str] = ..., manifest_version: _Optional[str] = ..., code_version_id: _Optional[str] = ..., assets: _Optional[_Iterable[_Union[AssetEntry, _Mapping]]] = ..., schedules: _Optional[_Iterable[_Union[ScheduleEntry, _Mapping]]] = ..., deployed_by: _Optional[str] = ..., git: _Optional[_Union[GitContext, _Mapping]] = ..., metadata: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., sensors: _Optional[_Iterable[_Union[SensorEntry, _Mapping]]] = ...) -> None: ...

class DeployManifestResponse(_message.Message):
    __slots__ = ("manifest_id", "workspace_id", "code_version_id", "fingerprint", "asset_count", "deployed_at", "created")
    MANIFEST_ID_FIELD_NUMBER: _ClassVar[int]
    WORKSPACE_ID_FIELD_NUMBER: _ClassVar[int]
    CODE_VERSION_ID_FIELD_NUMBER: _ClassVar[int]
    FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    ASSET_COUNT_FIELD_NUMBER: _ClassVar[int]
    DEPLOYED_AT_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    manifest_id: str
    workspace_id: str
    code_version_id: str
    fingerprint: str
    asset_count: int
    deployed_at: _timestamp_pb2.Timestamp
    created: bool
    def __init__(self, manifest_id: _Optional[str] = ..., workspace_id: _Optional[str] = ..., code_version_id: _Optional[str] = ..., fingerprint: _Optional[str] = ..., asset_count: _Optional[int] = ..., deployed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., created: _Optional[bool] = ...) -> None: ...

class ListManifestsRequest(_message.Message):
    __slots__ = ("workspace_id",)
    WORKSPACE_ID_FIELD_NUMBER: _ClassVar[int]
    workspace_id: str
    def __init__(self, workspace_id: _Optional[str] = ...) -> None: ...

class ManifestListItem(_message.Message):
    __slots__ = ("manifest_id", "code_version_id", "fingerprint", "asset_count", "deployed_at", "deployed_by", "git_branch", "git_commit")
    MANIFEST_ID_FIELD_NUMBER: _ClassVar[int]
    CODE_VERSION_ID_FIELD_NUMBER: _ClassVar[int]
    FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    ASSET_COUNT_FIELD_NUMBER: _ClassVar[int]
    DEPLOYED_AT_FIELD_NUMBER: _ClassVar[int]
    DEPLOYED_BY_FIELD_NUMBER: _ClassVar[int]
    GIT_BRANCH_FIELD_NUMBER: _ClassVar[int]
    GIT_COMMIT_FIELD_NUMBER: _ClassVar[int]
    manifest_id: str
    code_version_id: str
    fingerprint: str
    asset_count: int
    deployed_at: _timestamp_pb2.Timestamp
    deployed_by: str
    git_branch: str
    git_commit: str
    def __init__(self, manifest_id: _Optional[str] = ..., code_version_id: _Optional[str] = ..., fingerprint: _Optional[str] = ..., asset_count: _Optional[int] = ..., deployed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., deployed_by: _Optional[str] = ..., git_branch: _Optional[str] = ..., git_commit: _Optional[str] = ...) -> None: ...

class ListManifestsResponse(_message.Message):
    __slots__ = ("manifests",)
    MANIFESTS_FIELD_NUMBER: _ClassVar[int]
    manifests: _containers.RepeatedCompositeFieldContainer[ManifestListItem]
    def __init__(self, manifests: _Optional[_Iterable[_Union[ManifestListItem, _Mapping]]] = ...) -> None: ...

class GetManifestRequest(_message.Message):
    __slots__ = ("workspace_id", "manifest_id")
    WORKSPACE_ID_FIELD_NUMBER: _ClassVar[int]
    MANIFEST_ID_FIELD_NUMBER: _ClassVar[int]
    workspace_id: str
    manifest_id: str
    def __init__(self, workspace_id: _Optional[str] = ..., manifest_id: _Optional[str] = ...) -> None: ...

class GetManifestResponse(_message.Message):
    __slots__ = ("manifest",)
    MANIFEST_FIELD_NUMBER: _ClassVar[int]
    manifest: StoredManifest
    def __init__(self, manifest: _Optional[_Union[StoredManifest, _Mapping]] = ...) -> None: ...

class PartitionValue(_message.Message):
    __slots__ = ("key", "value")
    KEY_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    key: str
    value: str
    def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...

class TriggerRunRequest(_message.Message):
    __slots__ = ("workspace_id", "selection", "include_upstream", "include_downstream", "run_key", "labels", "partition_key", "partitions")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    WORKSPACE_ID_FIELD_NUMBER: _ClassVar[int]
    SELECTION_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_UPSTREAM_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_DOWNSTREAM_FIELD_NUMBER: _ClassVar[int]
    RUN_KEY_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    PARTITION_KEY_FIELD_NUMBER: _ClassVar[int]
    PARTITIONS_FIELD_NUMBER: _ClassVar[int]
    workspace_id: str
    selection: _containers.RepeatedScalarFieldContainer[str]
    include_upstream: bool
    include_downstream: bool
    run_key: str
    labels: _containers.ScalarMap[str, str]
    partition_key: str
    partitions: _containers.RepeatedCompositeFieldContainer[PartitionValue]
    def __init__(self, workspace_id: _Optional[str] = ..., selection: _Optional[_Iterable[str]] = ..., include_upstream: _Optional[bool] = ..., include_downstream: _Optional[bool] = ..., run_key: _Optional[str] = ..., labels: _Optional[_Mapping[str, str]] = ..., partition_key: _Optional[str] = ..., partitions: _Optional[_Iterable[_Union[PartitionValue, _Mapping]]] = ...) -> None: ...

class TriggerRunResponse(_message.Message):
    __slots__ = ("run_id", "plan_id", "state", "created", "created_at")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    PLAN_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    plan_id: str
    state: _types_pb2.RunStatus
    created: bool
    created_at: _timestamp_pb2.Timestamp
    def __init__(self, run_id: _Optional[str] = ..., plan_id: _Optional[str] = ..., state: _Optional[_Union[_types_pb2.RunStatus, str]] = ..., created: _Optional[bool] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class TaskCounts(_message.Message):
    __slots__ = ("total", "pending", "queued", "running", "succeeded", "failed", "skipped", "cancelled")
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    PENDING_FIELD_NUMBER: _ClassVar[int]
    QUEUED_FIELD_NUMBER: _ClassVar[int]
    RUNNING_FIELD_NUMBER: _ClassVar[int]
    SUCCEEDED_FIELD_NUMBER: _ClassVar[int]
    FAILED_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_FIELD_NUMBER: _ClassVar[int]
    CANCELLED_FIELD_NUMBER: _ClassVar[int]
    total: int
    pending: int
    queued: int
    running: int
    succeeded: int
    failed: int
    skipped: int
    cancelled: int
    def __init__(self, total: _Optional[int] = ..., pending: _Optional[int] = ..., queued: _Optional[int] = ..., running: _Optional[int] = ..., succeeded: _Optional[int] = ..., failed: _Optional[int] = ..., skipped: _Optional[int] = ..., cancelled: _Optional[int] = ...) -> None: ...

class RetryAttribution(_message.Message):
    __slots__ = ("retries", "reason")
    RETRIES_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    retries: int
    reason: str
    def __init__(self, retries: _Optional[int] = ..., reason: _Optional[str] = ...) -> None: ...

class SkipAttribution(_message.Message):
    __slots__ = ("upstream_task_key", "upstream_resolution")
    UPSTREAM_TASK_KEY_FIELD_NUMBER: _ClassVar[int]
    UPSTREAM_RESOLUTION_FIELD_NUMBER: _ClassVar[int]
    upstream_task_key: str
    upstream_resolution: str
    def __init__(self, upstream_task_key: _Optional[str] = ..., upstream_resolution: _Optional[str] = ...) -> None: ...

class TaskSummary(_message.Message):
    __slots__ = ("task_key", "asset_key", "state", "attempt", "started_at", "completed_at", "error_message", "delta_table", "delta_version", "delta_partition", "execution_lineage_ref", "output_visibility_state", "published_at", "publish_error", "retry_attribution", "skip_attribution", "internal_state", "partition_key", "max_attempts", "depends_on", "ready_at", "attempts")
    TASK_KEY_FIELD_NUMBER: _ClassVar[int]
    ASSET_KEY_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_AT_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    DELTA_TABLE_FIELD_NUMBER: _ClassVar[int]
    DELTA_VERSION_FIELD_NUMBER: _ClassVar[int]
    DELTA_PARTITION_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_LINEAGE_REF_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_VISIBILITY_STATE_FIELD_NUMBER: _ClassVar[int]
    PUBLISHED_AT_FIELD_NUMBER: _ClassVar[int]
    PUBLISH_ERROR_FIELD_NUMBER: _ClassVar[int]
    RETRY_ATTRIBUTION_FIELD_NUMBER: _ClassVar[int]
    SKIP_ATTRIBUTION_FIELD_NUMBER: _ClassVar[int]
    INTERNAL_STATE_FIELD_NUMBER: _ClassVar[int]
    PARTITION_KEY_FIELD_NUMBER: _ClassVar[int]
    MAX_ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    DEPENDS_ON_FIELD_NUMBER: _ClassVar[int]
    READY_AT_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    task_key: str
    asset_key: str
    state: _types_pb2.TaskStatus
    attempt: int
    started_at: _timestamp_pb2.Timestamp
    completed_at: _timestamp_pb2.Timestamp
    error_message: str
    delta_table: str
    delta_version: int
    delta_partition: str
    execution_lineage_ref: str
    output_visibility_state: str
    published_at: _timestamp_pb2.Timestamp
    publish_error: str
    retry_attribution: RetryAttribution
    skip_attribution: SkipAttribution
    internal_state: _types_pb2.TaskState
    partition_key: str
    max_attempts: int
    depends_on: _containers.RepeatedScalarFieldContainer[str]
    ready_at: _timestamp_pb2.Timestamp
    attempts: _containers.RepeatedCompositeFieldContainer[TaskAttempt]
    def __init__(self, task_key: _Optional[str] = ..., asset_key: _Optional[str] = ..., state: _Optional[_Union[_types_pb2.TaskStatus, str]] = ..., attempt: _Optional[int] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., completed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., error_message: _Optional[str] = ..., delta_table: _Optional[str] = ..., delta_version: _Optional[int] = ..., delta_partition: _Optional[str] = ..., execution_lineage_ref: _Optional[str] = ..., output_visibility_state: _Optional[str] = ..., published_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., publish_error: _Optional[str] = ..., retry_attribution: _Optional[_Union[RetryAttribution, _Mapping]] = ..., skip_attribution: _Optional[_Union[SkipAttribution, _Mapping]] = ..., internal_state: _Optional[_Union[_types_pb2.TaskState, str]] = ..., partition_key: _Optional[str] = ..., max_attempts: _Optional[int] = ..., depends_on: _Optional[_Iterable[str]] = ..., ready_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., attempts: _Optional[_Iterable[_Union[TaskAttempt, _Mapping]]] = ...) -> None: ...

class TaskAttempt(_message.Message):
    __slots__ = ("attempt", "attempt_id", "state", "started_at", "completed_at", "error_message")
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_AT_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    attempt: int
    attempt_id: str
    state: _types_pb2.TaskStatus
    started_at: _timestamp_pb2.Timestamp
    completed_at: _timestamp_pb2.Timestamp
    error_message: str
    def __init__(self, attempt: _Optional[int] = ..., attempt_id: _Optional[str] = ..., state: _Optional[_Union[_types_pb2.TaskStatus, str]] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., completed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., error_message: _Optional[str] = ...) -> None: ...

class GetRunRequest(_message.Message):
    __slots__ = ("workspace_id", "run_id")
    WORKSPACE_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    workspace_id: str
    run_id: str
    def __init__(self, workspace_id: _Optional[str] = ..., run_id: _Optional[str] = ...) -> None: ...

class GetRunResponse(_message.Message):
    __slots__ = ("run_id", "workspace_id", "plan_id", "state", "created_at", "started_at", "completed_at", "labels", "parent_run_id", "rerun_kind", "rerun_reason", "task_counts", "tasks", "run_key", "state_version")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    WORKSPACE_ID_FIELD_NUMBER: _ClassVar[int]
    PLAN_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_AT_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    PARENT_RUN_ID_FIELD_NUMBER: _ClassVar[int]
    RERUN_KIND_FIELD_NUMBER: _ClassVar[int]
    RERUN_REASON_FIELD_NUMBER: _ClassVar[int]
    TASK_COUNTS_FIELD_NUMBER: _ClassVar[int]
    TASKS_FIELD_NUMBER: _ClassVar[int]
    RUN_KEY_FIELD_NUMBER: _ClassVar[int]
    STATE_VERSION_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    workspace_id: str
    plan_id: str
    state: _types_pb2.RunStatus
    created_at: _timestamp_pb2.Timestamp
    started_at: _timestamp_pb2.Timestamp
    completed_at: _timestamp_pb2.Timestamp
    labels: _containers.ScalarMap[str, str]
    parent_run_id: str
    rerun_kind: _types_pb2.RerunKind
    rerun_reason: str
    task_counts: TaskCounts
    tasks: _containers.RepeatedCompositeFieldContainer[TaskSummary]
    run_key: str
    state_version: int
    def __init__(self, run_id: _Optional[str] = ..., workspace_id: _Optional[str] = ..., plan_id: _Optional[str] = ..., state: _Optional[_Union[_types_pb2.RunStatus, str]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., completed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., labels: _Optional[_Mapping[str, str]] = ..., parent_run_id: _Optional[str] = ..., rerun_kind: _Optional[_Union[_types_pb2.RerunKind, str]] = ..., rerun_reason: _Optional[str] = ..., task_counts: _Optional[_Union[TaskCounts, _Mapping]] = ..., tasks: _Optional[_Iterable[_Union[TaskSummary, _Mapping]]] = ..., run_key: _Optional[str] = ..., state_version: _Optional[int] = ...) -> None: ...

class ListRunsRequest(_message.Message):
    __slots__ = ("workspace_id", "limit", "cursor", "state")
    WORKSPACE_ID_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    workspace_id: str
    limit: int
    cursor: str
    state: _types_pb2.RunStatus
    def __init__(self, workspace_id: _Optional[str] = ..., limit: _Optional[int] = ..., cursor: _Optional[str] = ..., state: _Optional[_Union[_types_pb2.RunStatus, str]] = ...) -> None: ...

class RunListItem(_message.Message):
    __slots__ = ("run_id", "state", "created_at", "completed_at", "task_count", "tasks_succeeded", "tasks_failed", "parent_run_id", "rerun_kind")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_AT_FIELD_NUMBER: _ClassVar[int]
    TASK_COUNT_FIELD_NUMBER: _ClassVar[int]
    TASKS_SUCCEEDED_FIELD_NUMBER: _ClassVar[int]
    TASKS_FAILED_FIELD_NUMBER: _ClassVar[int]
    PARENT_RUN_ID_FIELD_NUMBER: _ClassVar[int]
    RERUN_KIND_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    state: _types_pb2.RunStatus
    created_at: _timestamp_pb2.Timestamp
    completed_at: _timestamp_pb2.Timestamp
    task_count: int
    tasks_succeeded: int
    tasks_failed: int
    parent_run_id: str
    rerun_kind: _types_pb2.RerunKind
    def __init__(self, run_id: _Optional[str] = ..., state: _Optional[_Union[_types_pb2.RunStatus, str]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., completed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., task_count: _Optional[int] = ..., tasks_succeeded: _Optional[int] = ..., tasks_failed: _Optional[int] = ..., parent_run_id: _Optional[str] = ..., rerun_kind: _Optional[_Union[_types_pb2.RerunKind, str]] = ...) -> None: ...

class ListRunsResponse(_message.Message):
    __slots__ = ("runs", "next_cursor")
    RUNS_FIELD_NUMBER: _ClassVar[int]
    NEXT_CURSOR_FIELD_NUMBER: _ClassVar[int]
    runs: _containers.RepeatedCompositeFieldContainer[RunListItem]
    next_cursor: str
    def __init__(self, runs: _Optional[_Iterable[_Union[RunListItem, _Mapping]]] = ..., next_cursor: _Optional[str] = ...) -> None: ...

class CancelRunRequest(_message.Message):
    __slots__ = ("workspace_id", "run_id", "reason")
    WORKSPACE_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    workspace_id: str
    run_id: str
    reason: str
    def __init__(self, workspace_id: _Optional[str] = ..., run_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class CancelRunResponse(_message.Message):
    __slots__ = ("run_id", "state", "cancelled_at")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    CANCELLED_AT_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    state: _types_pb2.RunStatus
    cancelled_at: _timestamp_pb2.Timestamp
    def __init__(self, run_id: _Optional[str] = ..., state: _Optional[_Union[_types_pb2.RunStatus, str]] = ..., cancelled_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RerunRunRequest(_message.Message):
    __slots__ = ("workspace_id", "run_id", "mode", "selection", "include_upstream", "include_downstream", "run_key", "labels")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    WORKSPACE_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    SELECTION_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_UPSTREAM_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_DOWNSTREAM_FIELD_NUMBER: _ClassVar[int]
    RUN_KEY_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    workspace_id: str
    run_id: str
    mode: RerunMode
    selection: _containers.RepeatedScalarFieldContainer[str]
    include_upstream: bool
    include_downstream: bool
    run_key: str
    labels: _containers.ScalarMap[str, str]
    def __init__(self, workspace_id: _Optional[str] = ..., run_id: _Optional[str] = ..., mode: _Optional[_Union[RerunMode, str]] = ..., selection: _Optional[_Iterable[str]] = ..., include_upstream: _Optional[bool] = ..., include_downstream: _Optional[bool] = ..., run_key: _Optional[str] = ..., labels: _Optional[_Mapping[str, str]] = ...) -> None: ...

class RerunRunResponse(_message.Message):
    __slots__ = ("run_id", "plan_id", "state", "created", "created_at", "parent_run_id", "rerun_kind", "rerun_reason")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    PLAN_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    PARENT_RUN_ID_FIELD_NUMBER: _ClassVar[int]
    RERUN_KIND_FIELD_NUMBER: _ClassVar[int]
    RERUN_REASON_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    plan_id: str
    state: _types_pb2.RunStatus
    created: bool
    created_at: _timestamp_pb2.Timestamp
    parent_run_id: str
    rerun_kind: _types_pb2.RerunKind
    rerun_reason: str
    def __init__(self, run_id: _Optional[str] = ..., plan_id: _Optional[str] = ..., state: _Optional[_Union[_types_pb2.RunStatus, str]] = ..., created: _Optional[bool] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., parent_run_id: _Optional[str] = ..., rerun_kind: _Optional[_Union[_types_pb2.RerunKind, str]] = ..., rerun_reason: _Optional[str] = ...) -> None: ...

class UploadTaskLogsRequest(_message.Message):
    __slots__ = ("workspace_id", "run_id", "task_key", "attempt", "stdout", "stderr")
    WORKSPACE_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_KEY_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    STDOUT_FIELD_NUMBER: _ClassVar[int]
    STDERR_FIELD_NUMBER: _ClassVar[int]
    workspace_id: str
    run_id: str
    task_key: str
    attempt: int
    stdout: str
    stderr: str
    def __init__(self, workspace_id: _Optional[str] = ..., run_id: _Optional[str] = ..., task_key: _Optional[str] = ..., attempt: _Optional[int] = ..., stdout: _Optional[str] = ..., stderr: _Optional[str] = ...) -> None: ...

class UploadTaskLogsResponse(_message.Message):
    __slots__ = ("path", "size_bytes")
    PATH_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    path: str
    size_bytes: int
    def __init__(self, path: _Optional[str] = ..., size_bytes: _Optional[int] = ...) -> None: ...

class GetRunLogsRequest(_message.Message):
    __slots__ = ("workspace_id", "run_id", "task_key", "limit", "cursor")
    WORKSPACE_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_KEY_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    workspace_id: str
    run_id: str
    task_key: str
    limit: int
    cursor: str
    def __init__(self, workspace_id: _Optional[str] = ..., run_id: _Optional[str] = ..., task_key: _Optional[str] = ..., limit: _Optional[int] = ..., cursor: _Optional[str] = ...) -> None: ...

class GetRunLogsResponse(_message.Message):
    __slots__ = ("text", "next_cursor")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    NEXT_CURSOR_FIELD_NUMBER: _ClassVar[int]
    text: str
    next_cursor: str
    def __init__(self, text: _Optional[str] = ..., next_cursor: _Optional[str] = ...) -> None: ...

class ListPartitionsRequest(_message.Message):
    __slots__ = ("workspace_id", "limit", "cursor", "asset_key", "stale_only")
    WORKSPACE_ID_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    ASSET_KEY_FIELD_NUMBER: _ClassVar[int]
    STALE_ONLY_FIELD_NUMBER: _ClassVar[int]
    workspace_id: str
    limit: int
    cursor: str
    asset_key: str
    stale_only: bool
    def __init__(self, workspace_id: _Optional[str] = ..., limit: _Optional[int] = ..., cursor: _Optional[str] = ..., asset_key: _Optional[str] = ..., stale_only: _Optional[bool] = ...) -> None: ...

class PartitionStatus(_message.Message):
    __slots__ = ("asset_key", "partition_key", "last_materialization_run_id", "last_materialization_at", "is_stale", "stale_reason", "partition_values", "delta_table", "delta_version", "delta_partition", "execution_lineage_ref", "last_attempt_run_id", "last_attempt_at", "last_attempt_outcome", "stale_since")
    class PartitionValuesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ASSET_KEY_FIELD_NUMBER: _ClassVar[int]
    PARTITION_KEY_FIELD_NUMBER: _ClassVar[int]
    LAST_MATERIALIZATION_RUN_ID_FIELD_NUMBER: _ClassVar[int]
    LAST_MATERIALIZATION_AT_FIELD_NUMBER: _ClassVar[int]
    IS_STALE_FIELD_NUMBER: _ClassVar[int]
    STALE_REASON_FIELD_NUMBER: _ClassVar[int]
    PARTITION_VALUES_FIELD_NUMBER: _ClassVar[int]
    DELTA_TABLE_FIELD_NUMBER: _ClassVar[int]
    DELTA_VERSION_FIELD_NUMBER: _ClassVar[int]
    DELTA_PARTITION_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_LINEAGE_REF_FIELD_NUMBER: _ClassVar[int]
    LAST_ATTEMPT_RUN_ID_FIELD_NUMBER: _ClassVar[int]
    LAST_ATTEMPT_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_ATTEMPT_OUTCOME_FIELD_NUMBER: _ClassVar[int]
    STALE_SINCE_FIELD_NUMBER: _ClassVar[int]
    asset_key: str
    partition_key: str
    last_materialization_run_id: str
    last_materialization_at: _timestamp_pb2.Timestamp
    is_stale: bool
    stale_reason: str
    partition_values: _containers.ScalarMap[str, str]
    delta_table: str
    delta_version: int
    delta_partition: str
    execution_lineage_ref: str
    last_attempt_run_id: str
    last_attempt_at: _timestamp_pb2.Timestamp
    last_attempt_outcome: str
    stale_since: _timestamp_pb2.Timestamp
    def __init__(self, asset_key: _Optional[str] = ..., partition_key: _Optional[str] = ..., last_materialization_run_id: _Optional[str] = ..., last_materialization_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., is_stale: _Optional[bool] = ..., stale_reason: _Optional[str] = ..., partition_values: _Optional[_Mapping[str, str]] = ..., delta_table: _Optional[str] = ..., delta_version: _Optional[int] = ..., delta_partition: _Optional[str] = ..., execution_lineage_ref: _Optional[str] = ..., last_attempt_run_id: _Optional[str] = ..., last_attempt_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_attempt_outcome: _Optional[str] = ..., stale_since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListPartitionsResponse(_message.Message):
    __slots__ = ("partitions", "next_cursor")
    PARTITIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_CURSOR_FIELD_NUMBER: _ClassVar[int]
    partitions: _containers.RepeatedCompositeFieldContainer[PartitionStatus]
    next_cursor: str
    def __init__(self, partitions: _Optional[_Iterable[_Union[PartitionStatus, _Mapping]]] = ..., next_cursor: _Optional[str] = ...) -> None: ...

class GetAssetPartitionSummaryRequest(_message.Message):
    __slots__ = ("workspace_id", "asset_key")
    WORKSPACE_ID_FIELD_NUMBER: _ClassVar[int]
    ASSET_KEY_FIELD_NUMBER: _ClassVar[int]
    workspace_id: str
    asset_key: str
    def __init__(self, workspace_id: _Optional[str] = ..., asset_key: _Optional[str] = ...) -> None: ...

class GetAssetPartitionSummaryResponse(_message.Message):
    __slots__ = ("asset_key", "total_partitions", "materialized_partitions", "stale_partitions", "missing_partitions")
    ASSET_KEY_FIELD_NUMBER: _ClassVar[int]
    TOTAL_PARTITIONS_FIELD_NUMBER: _ClassVar[int]
    MATERIALIZED_PARTITIONS_FIELD_NUMBER: _ClassVar[int]
    STALE_PARTITIONS_FIELD_NUMBER: _ClassVar[int]
    MISSING_PARTITIONS_FIELD_NUMBER: _ClassVar[int]
    asset_key: str
    total_partitions: int
    materialized_partitions: int
    stale_partitions: int
    missing_partitions: int
    def __init__(self, asset_key: _Optional[str] = ..., total_partitions: _Optional[int] = ..., materialized_partitions: _Optional[int] = ..., stale_partitions: _Optional[int] = ..., missing_partitions: _Optional[int] = ...) -> None: ...

class ChunkCounts(_message.Message):
    __slots__ = ("total", "pending", "running", "succeeded", "failed")
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    PENDING_FIELD_NUMBER: _ClassVar[int]
    RUNNING_FIELD_NUMBER: _ClassVar[int]
    SUCCEEDED_FIELD_NUMBER: _ClassVar[int]
    FAILED_FIELD_NUMBER: _ClassVar[int]
    total: int
    pending: int
    running: int
    succeeded: int
    failed: int
    def __init__(self, total: _Optional[int] = ..., pending: _Optional[int] = ..., running: _Optional[int] = ..., succeeded: _Optional[int] = ..., failed: _Optional[int] = ...) -> None: ...

class Backfill(_message.Message):
    __slots__ = ("backfill_id", "asset_selection", "partition_selector", "chunk_size", "max_concurrent_runs", "state", "state_version", "created_at", "chunk_counts", "total_partitions", "parent_backfill_id")
    BACKFILL_ID_FIELD_NUMBER: _ClassVar[int]
    ASSET_SELECTION_FIELD_NUMBER: _ClassVar[int]
    PARTITION_SELECTOR_FIELD_NUMBER: _ClassVar[int]
    CHUNK_SIZE_FIELD_NUMBER: _ClassVar[int]
    MAX_CONCURRENT_RUNS_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    STATE_VERSION_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    CHUNK_COUNTS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_PARTITIONS_FIELD_NUMBER: _ClassVar[int]
    PARENT_BACKFILL_ID_FIELD_NUMBER: _ClassVar[int]
    backfill_id: str
    asset_selection: _containers.RepeatedScalarFieldContainer[str]
    partition_selector: _struct_pb2.Struct
    chunk_size: int
    max_concurrent_runs: int
    state: BackfillState
    state_version: int
    created_at: _timestamp_pb2.Timestamp
    chunk_counts: ChunkCounts
    total_partitions: int
    parent_backfill_id: str
    def __init__(self, backfill_id: _Optional[str] = ..., asset_selection: _Optional[_Iterable[str]] = ..., partition_selector: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., chunk_size: _Optional[int] = ..., max_concurrent_runs: _Optional[int] = ..., state: _Optional[_Union[BackfillState, str]] = ..., state_version: _Optional[int] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., chunk_counts: _Optional[_Union[ChunkCounts, _Mapping]] = ..., total_partitions: _Optional[int] = ..., parent_backfill_id: _Optional[str] = ...) -> None: ...

class BackfillChunk(_message.Message):
    __slots__ = ("chunk_id", "backfill_id", "chunk_index", "partition_keys", "run_id", "run_key", "state")
    CHUNK_ID_FIELD_NUMBER: _ClassVar[int]
    BACKFILL_ID_FIELD_NUMBER: _ClassVar[int]
    CHUNK_INDEX_FIELD_NUMBER: _ClassVar[int]
    PARTITION_KEYS_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_KEY_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    chunk_id: str
    backfill_id: str
    chunk_index: int
    partition_keys: _containers.RepeatedScalarFieldContainer[str]
    run_id: str
    run_key: str
    state: ChunkState
    def __init__(self, chunk_id: _Optional[str] = ..., backfill_id: _Optional[str] = ..., chunk_index: _Optional[int] = ..., partition_keys: _Optional[_Iterable[str]] = ..., run_id: _Optional[str] = ..., run_key: _Optional[str] = ..., state: _Optional[_Union[ChunkState, str]] = ...) -> None: ...

class CreateBackfillRequest(_message.Message):
    __slots__ = ("workspace_id", "asset_selection", "partition_selector", "chunk_size", "max_concurrent_runs", "client_request_id")
    WORKSPACE_ID_FIELD_NUMBER: _ClassVar[int]
    ASSET_SELECTION_FIELD_NUMBER: _ClassVar[int]
    PARTITION_SELECTOR_FIELD_NUMBER: _ClassVar[int]
    CHUNK_SIZE_FIELD_NUMBER: _ClassVar[int]
    MAX_CONCURRENT_RUNS_FIELD_NUMBER: _ClassVar[int]
    CLIENT_REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    workspace_id: str
    asset_selection: _containers.RepeatedScalarFieldContainer[str]
    partition_selector: _struct_pb2.Struct
    chunk_size: int
    max_concurrent_runs: int
    client_request_id: str
    def __init__(self, workspace_id: _Optional[str] = ..., asset_selection: _Optional[_Iterable[str]] = ..., partition_selector: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., chunk_size: _Optional[int] = ..., max_concurrent_runs: _Optional[int] = ..., client_request_id: _Optional[str] = ...) -> None: ...

class CreateBackfillResponse(_message.Message):
    __slots__ = ("backfill_id", "accepted_event_id", "accepted_at", "created")
    BACKFILL_ID_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_AT_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    backfill_id: str
    accepted_event_id: str
    accepted_at: _timestamp_pb2.Timestamp
    created: bool
    def __init__(self, backfill_id: _Optional[str] = ..., accepted_event_id: _Optional[str] = ..., accepted_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., created: _Optional[bool] = ...) -> None: ...

class ListBackfillsRequest(_message.Message):
    __slots__ = ("workspace_id", "limit", "cursor", "state")
    WORKSPACE_ID_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    workspace_id: str
    limit: int
    cursor: str
    state: BackfillState
    def __init__(self, workspace_id: _Optional[str] = ..., limit: _Optional[int] = ..., cursor: _Optional[str] = ..., state: _Optional[_Union[BackfillState, str]] = ...) -> None: ...

class ListBackfillsResponse(_message.Message):
    __slots__ = ("backfills", "next_cursor")
    BACKFILLS_FIELD_NUMBER: _ClassVar[int]
    NEXT_CURSOR_FIELD_NUMBER: _ClassVar[int]
    backfills: _containers.RepeatedCompositeFieldContainer[Backfill]
    next_cursor: str
    def __init__(self, backfills: _Optional[_Iterable[_Union[Backfill, _Mapping]]] = ..., next_cursor: _Optional[str] = ...) -> None: ...

class GetBackfillRequest(_message.Message):
    __slots__ = ("workspace_id", "backfill_id")
    WORKSPACE_ID_FIELD_NUMBER: _ClassVar[int]
    BACKFILL_ID_FIELD_NUMBER: _ClassVar[int]
    workspace_id: str
    backfill_id: str
    def __init__(self, workspace_id: _Optional[str] = ..., backfill_id: _Optional[str] = ...) -> None: ...

class GetBackfillResponse(_message.Message):
    __slots__ = ("backfill",)
    BACKFILL_FIELD_NUMBER: _ClassVar[int]
    backfill: Backfill
    def __init__(self, backfill: _Optional[_Union[Backfill, _Mapping]] = ...) -> None: ...

class ListBackfillChunksRequest(_message.Message):
    __slots__ = ("workspace_id", "backfill_id", "limit", "cursor", "state")
    WORKSPACE_ID_FIELD_NUMBER: _ClassVar[int]
    BACKFILL_ID_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    workspace_id: str
    backfill_id: str
    limit: int
    cursor: str
    state: ChunkState
    def __init__(self, workspace_id: _Optional[str] = ..., backfill_id: _Optional[str] = ..., limit: _Optional[int] = ..., cursor: _Optional[str] = ..., state: _Optional[_Union[ChunkState, str]] = ...) -> None: ...

class ListBackfillChunksResponse(_message.Message):
    __slots__ = ("chunks", "next_cursor")
    CHUNKS_FIELD_NUMBER: _ClassVar[int]
    NEXT_CURSOR_FIELD_NUMBER: _ClassVar[int]
    chunks: _containers.RepeatedCompositeFieldContainer[BackfillChunk]
    next_cursor: str
    def __init__(self, chunks: _Optional[_Iterable[_Union[BackfillChunk, _Mapping]]] = ..., next_cursor: _Optional[str] = ...) -> None: ...

class PauseBackfillRequest(_message.Message):
    __slots__ = ("workspace_id", "backfill_id", "expected_state_version")
    WORKSPACE_ID_FIELD_NUMBER: _ClassVar[int]
    BACKFILL_ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_STATE_VERSION_FIELD_NUMBER: _ClassVar[int]
    workspace_id: str
    backfill_id: str
    expected_state_version: int
    def __init__(self, workspace_id: _Optional[str] = ..., backfill_id: _Optional[str] = ..., expected_state_version: _Optional[int] = ...) -> None: ...

class PauseBackfillResponse(_message.Message):
    __slots__ = ("backfill",)
    BACKFILL_FIELD_NUMBER: _ClassVar[int]
    backfill: Backfill
    def __init__(self, backfill: _Optional[_Union[Backfill, _Mapping]] = ...) -> None: ...

class ResumeBackfillRequest(_message.Message):
    __slots__ = ("workspace_id", "backfill_id", "expected_state_version")
    WORKSPACE_ID_FIELD_NUMBER: _ClassVar[int]
    BACKFILL_ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_STATE_VERSION_FIELD_NUMBER: _ClassVar[int]
    workspace_id: str
    backfill_id: str
    expected_state_version: int
    def __init__(self, workspace_id: _Optional[str] = ..., backfill_id: _Optional[str] = ..., expected_state_version: _Optional[int] = ...) -> None: ...

class ResumeBackfillResponse(_message.Message):
    __slots__ = ("backfill",)
    BACKFILL_FIELD_NUMBER: _ClassVar[int]
    backfill: Backfill
    def __init__(self, backfill: _Optional[_Union[Backfill, _Mapping]] = ...) -> None: ...

class CancelBackfillRequest(_message.Message):
    __slots__ = ("workspace_id", "backfill_id", "expected_state_version")
    WORKSPACE_ID_FIELD_NUMBER: _ClassVar[int]
    BACKFILL_ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_STATE_VERSION_FIELD_NUMBER: _ClassVar[int]
    workspace_id: str
    backfill_id: str
    expected_state_version: int
    def __init__(self, workspace_id: _Optional[str] = ..., backfill_id: _Optional[str] = ..., expected_state_version: _Optional[int] = ...) -> None: ...

class CancelBackfillResponse(_message.Message):
    __slots__ = ("backfill",)
    BACKFILL_FIELD_NUMBER: _ClassVar[int]
    backfill: Backfill
    def __init__(self, backfill: _Optional[_Union[Backfill, _Mapping]] = ...) -> None: ...

class RetryFailedBackfillRequest(_message.Message):
    __slots__ = ("workspace_id", "backfill_id", "client_request_id")
    WORKSPACE_ID_FIELD_NUMBER: _ClassVar[int]
    BACKFILL_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    workspace_id: str
    backfill_id: str
    client_request_id: str
    def __init__(self, workspace_id: _Optional[str] = ..., backfill_id: _Optional[str] = ..., client_request_id: _Optional[str] = ...) -> None: ...

class RetryFailedBackfillResponse(_message.Message):
    __slots__ = ("backfill_id", "accepted_event_id", "accepted_at", "created")
    BACKFILL_ID_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_AT_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    backfill_id: str
    accepted_event_id: str
    accepted_at: _timestamp_pb2.Timestamp
    created: bool
    def __init__(self, backfill_id: _Optional[str] = ..., accepted_event_id: _Optional[str] = ..., accepted_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., created: _Optional[bool] = ...) -> None: ...

class BackfillRunKeyRequest(_message.Message):
    __slots__ = ("workspace_id", "run_key", "selection", "include_upstream", "include_downstream", "labels", "partition_key", "partitions")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    WORKSPACE_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_KEY_FIELD_NUMBER: _ClassVar[int]
    SELECTION_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_UPSTREAM_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_DOWNSTREAM_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    PARTITION_KEY_FIELD_NUMBER: _ClassVar[int]
    PARTITIONS_FIELD_NUMBER: _ClassVar[int]
    workspace_id: str
    run_key: str
    selection: _containers.RepeatedScalarFieldContainer[str]
    include_upstream: bool
    include_downstream: bool
    labels: _containers.ScalarMap[str, str]
    partition_key: str
    partitions: _containers.RepeatedCompositeFieldContainer[PartitionValue]
    def __init__(self, workspace_id: _Optional[str] = ..., run_key: _Optional[str] = ..., selection: _Optional[_Iterable[str]] = ..., include_upstream: _Optional[bool] = ..., include_downstream: _Optional[bool] = ..., labels: _Optional[_Mapping[str, str]] = ..., partition_key: _Optional[str] = ..., partitions: _Optional[_Iterable[_Union[PartitionValue, _Mapping]]] = ...) -> None: ...

class BackfillRunKeyResponse(_message.Message):
    __slots__ = ("run_key", "run_id", "request_fingerprint", "updated", "created_at")
    RUN_KEY_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    run_key: str
    run_id: str
    request_fingerprint: str
    updated: bool
    created_at: _timestamp_pb2.Timestamp
    def __init__(self, run_key: _Optional[str] = ..., run_id: _Optional[str] = ..., request_fingerprint: _Optional[str] = ..., updated: _Optional[bool] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class WorkspaceInfo(_message.Message):
    __slots__ = ("tenant_id", "workspace_id", "created_at")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    WORKSPACE_ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    workspace_id: str
    created_at: _timestamp_pb2.Timestamp
    def __init__(self, tenant_id: _Optional[str] = ..., workspace_id: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreateWorkspaceRequest(_message.Message):
    __slots__ = ("new_workspace_id", "tenant_id")
    NEW_WORKSPACE_ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    new_workspace_id: str
    tenant_id: str
    def __init__(self, new_workspace_id: _Optional[str] = ..., tenant_id: _Optional[str] = ...) -> None: ...

class CreateWorkspaceResponse(_message.Message):
    __slots__ = ("workspace", "created")
    WORKSPACE_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    workspace: WorkspaceInfo
    created: bool
    def __init__(self, workspace: _Optional[_Union[WorkspaceInfo, _Mapping]] = ..., created: _Optional[bool] = ...) -> None: ...

class ListWorkspacesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListWorkspacesResponse(_message.Message):
    __slots__ = ("workspaces",)
    WORKSPACES_FIELD_NUMBER: _ClassVar[int]
    workspaces: _containers.RepeatedCompositeFieldContainer[WorkspaceInfo]
    def __init__(self, workspaces: _Optional[_Iterable[_Union[WorkspaceInfo, _Mapping]]] = ...) -> None: ...

class Schedule(_message.Message):
    __slots__ = ("schedule_id", "cron_expression", "timezone", "catchup_window_minutes", "max_catchup_ticks", "asset_selection", "enabled", "definition_version", "last_scheduled_for", "last_tick_id", "last_run_key")
    SCHEDULE_ID_FIELD_NUMBER: _ClassVar[int]
    CRON_EXPRESSION_FIELD_NUMBER: _ClassVar[int]
    TIMEZONE_FIELD_NUMBER: _ClassVar[int]
    CATCHUP_WINDOW_MINUTES_FIELD_NUMBER: _ClassVar[int]
    MAX_CATCHUP_TICKS_FIELD_NUMBER: _ClassVar[int]
    ASSET_SELECTION_FIELD_NUMBER: _ClassVar[int]
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    DEFINITION_VERSION_FIELD_NUMBER: _ClassVar[int]
    LAST_SCHEDULED_FOR_FIELD_NUMBER: _ClassVar[int]
    LAST_TICK_ID_FIELD_NUMBER: _ClassVar[int]
    LAST_RUN_KEY_FIELD_NUMBER: _ClassVar[int]
    schedule_id: str
    cron_expression: str
    timezone: str
    catchup_window_minutes: int
    max_catchup_ticks: int
    asset_selection: _containers.RepeatedScalarFieldContainer[str]
    enabled: bool
    definition_version: str
    last_scheduled_for: _timestamp_pb2.Timestamp
    last_tick_id: str
    last_run_key: str
    def __init__(self, schedule_id: _Optional[str] = ..., cron_expression: _Optional[str] = ..., timezone: _Optional[str] = ..., catchup_window_minutes: _Optional[int] = ..., max_catchup_ticks: _Optional[int] = ..., asset_selection: _Optional[_Iterable[str]] = ..., enabled: _Optional[bool] = ..., definition_version: _Optional[str] = ..., last_scheduled_for: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_tick_id: _Optional[str] = ..., last_run_key: _Optional[str] = ...) -> None: ...

class ScheduleTick(_message.Message):
    __slots__ = ("tick_id", "schedule_id", "scheduled_for", "asset_selection", "status", "skip_reason", "error_message", "run_key", "run_id")
    TICK_ID_FIELD_NUMBER: _ClassVar[int]
    SCHEDULE_ID_FIELD_NUMBER: _ClassVar[int]
    SCHEDULED_FOR_FIELD_NUMBER: _ClassVar[int]
    ASSET_SELECTION_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    SKIP_REASON_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    RUN_KEY_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    tick_id: str
    schedule_id: str
    scheduled_for: _timestamp_pb2.Timestamp
    asset_selection: _containers.RepeatedScalarFieldContainer[str]
    status: _types_pb2.TickStatus
    skip_reason: str
    error_message: str
    run_key: str
    run_id: str
    def __init__(self, tick_id: _Optional[str] = ..., schedule_id: _Optional[str] = ..., scheduled_for: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., asset_selection: _Optional[_Iterable[str]] = ..., status: _Optional[_Union[_types_pb2.TickStatus, str]] = ..., skip_reason: _Optional[str] = ..., error_message: _Optional[str] = ..., run_key: _Optional[str] = ..., run_id: _Optional[str] = ...) -> None: ...

class ListSchedulesRequest(_message.Message):
    __slots__ = ("workspace_id", "limit", "cursor")
    WORKSPACE_ID_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    workspace_id: str
    limit: int
    cursor: str
    def __init__(self, workspace_id: _Optional[str] = ..., limit: _Optional[int] = ..., cursor: _Optional[str] = ...) -> None: ...

class ListSchedulesResponse(_message.Message):
    __slots__ = ("schedules", "next_cursor")
    SCHEDULES_FIELD_NUMBER: _ClassVar[int]
    NEXT_CURSOR_FIELD_NUMBER: _ClassVar[int]
    schedules: _containers.RepeatedCompositeFieldContainer[Schedule]
    next_cursor: str
    def __init__(self, schedules: _Optional[_Iterable[_Union[Schedule, _Mapping]]] = ..., next_cursor: _Optional[str] = ...) -> None: ...

class GetScheduleRequest(_message.Message):
    __slots__ = ("workspace_id", "schedule_id")
    WORKSPACE_ID_FIELD_NUMBER: _ClassVar[int]
    SCHEDULE_ID_FIELD_NUMBER: _ClassVar[int]
    workspace_id: str
    schedule_id: str
    def __init__(self, workspace_id: _Optional[str] = ..., schedule_id: _Optional[str] = ...) -> None: ...

class GetScheduleResponse(_message.Message):
    __slots__ = ("schedule",)
    SCHEDULE_FIELD_NUMBER: _ClassVar[int]
    schedule: Schedule
    def __init__(self, schedule: _Optional[_Union[Schedule, _Mapping]] = ...) -> None: ...

class UpsertScheduleRequest(_message.Message):
    __slots__ = ("workspace_id", "schedule_id", "cron_expression", "timezone", "catchup_window_minutes", "max_catchup_ticks", "asset_selection", "enabled")
    WORKSPACE_ID_FIELD_NUMBER: _ClassVar[int]
    SCHEDULE_ID_FIELD_NUMBER: _ClassVar[int]
    CRON_EXPRESSION_FIELD_NUMBER: _ClassVar[int]
    TIMEZONE_FIELD_NUMBER: _ClassVar[int]
    CATCHUP_WINDOW_MINUTES_FIELD_NUMBER: _ClassVar[int]
    MAX_CATCHUP_TICKS_FIELD_NUMBER: _ClassVar[int]
    ASSET_SELECTION_FIELD_NUMBER: _ClassVar[int]
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    workspace_id: str
    schedule_id: str
    cron_expression: str
    timezone: str
    catchup_window_minutes: int
    max_catchup_ticks: int
    asset_selection: _containers.RepeatedScalarFieldContainer[str]
    enabled: bool
    def __init__(self, workspace_id: _Optional[str] = ..., schedule_id: _Optional[str] = ..., cron_expression: _Optional[str] = ..., timezone: _Optional[str] = ..., catchup_window_minutes: _Optional[int] = ..., max_catchup_ticks: _Optional[int] = ..., asset_selection: _Optional[_Iterable[str]] = ..., enabled: _Optional[bool] = ...) -> None: ...

class UpsertScheduleResponse(_message.Message):
    __slots__ = ("schedule", "created")
    SCHEDULE_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    schedule: Schedule
    created: bool
    def __init__(self, schedule: _Optional[_Union[Schedule, _Mapping]] = ..., created: _Optional[bool] = ...) -> None: ...

class EnableScheduleRequest(_message.Message):
    __slots__ = ("workspace_id", "schedule_id")
    WORKSPACE_ID_FIELD_NUMBER: _ClassVar[int]
    SCHEDULE_ID_FIELD_NUMBER: _ClassVar[int]
    workspace_id: str
    schedule_id: str
    def __init__(self, workspace_id: _Optional[str] = ..., schedule_id: _Optional[str] = ...) -> None: ...

class EnableScheduleResponse(_message.Message):
    __slots__ = ("schedule",)
    SCHEDULE_FIELD_NUMBER: _ClassVar[int]
    schedule: Schedule
    def __init__(self, schedule: _Optional[_Union[Schedule, _Mapping]] = ...) -> None: ...

class DisableScheduleRequest(_message.Message):
    __slots__ = ("workspace_id", "schedule_id")
    WORKSPACE_ID_FIELD_NUMBER: _ClassVar[int]
    SCHEDULE_ID_FIELD_NUMBER: _ClassVar[int]
    workspace_id: str
    schedule_id: str
    def __init__(self, workspace_id: _Optional[str] = ..., schedule_id: _Optional[str] = ...) -> None: ...

class DisableScheduleResponse(_message.Message):
    __slots__ = ("schedule",)
    SCHEDULE_FIELD_NUMBER: _ClassVar[int]
    schedule: Schedule
    def __init__(self, schedule: _Optional[_Union[Schedule, _Mapping]] = ...) -> None: ...

class ListScheduleTicksRequest(_message.Message):
    __slots__ = ("workspace_id", "schedule_id", "limit", "cursor", "status")
    WORKSPACE_ID_FIELD_NUMBER: _ClassVar[int]
    SCHEDULE_ID_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    workspace_id: str
    schedule_id: str
    limit: int
    cursor: str
    status: _types_pb2.TickStatus
    def __init__(self, workspace_id: _Optional[str] = ..., schedule_id: _Optional[str] = ..., limit: _Optional[int] = ..., cursor: _Optional[str] = ..., status: _Optional[_Union[_types_pb2.TickStatus, str]] = ...) -> None: ...

class ListScheduleTicksResponse(_message.Message):
    __slots__ = ("ticks", "next_cursor")
    TICKS_FIELD_NUMBER: _ClassVar[int]
    NEXT_CURSOR_FIELD_NUMBER: _ClassVar[int]
    ticks: _containers.RepeatedCompositeFieldContainer[ScheduleTick]
    next_cursor: str
    def __init__(self, ticks: _Optional[_Iterable[_Union[ScheduleTick, _Mapping]]] = ..., next_cursor: _Optional[str] = ...) -> None: ...

class Sensor(_message.Message):
    __slots__ = ("sensor_id", "cursor", "last_evaluation_at", "status", "state_version")
    SENSOR_ID_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    LAST_EVALUATION_AT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    STATE_VERSION_FIELD_NUMBER: _ClassVar[int]
    sensor_id: str
    cursor: str
    last_evaluation_at: _timestamp_pb2.Timestamp
    status: SensorStatus
    state_version: int
    def __init__(self, sensor_id: _Optional[str] = ..., cursor: _Optional[str] = ..., last_evaluation_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., status: _Optional[_Union[SensorStatus, str]] = ..., state_version: _Optional[int] = ...) -> None: ...

class ListSensorsRequest(_message.Message):
    __slots__ = ("workspace_id", "limit", "cursor")
    WORKSPACE_ID_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    workspace_id: str
    limit: int
    cursor: str
    def __init__(self, workspace_id: _Optional[str] = ..., limit: _Optional[int] = ..., cursor: _Optional[str] = ...) -> None: ...

class ListSensorsResponse(_message.Message):
    __slots__ = ("sensors", "next_cursor")
    SENSORS_FIELD_NUMBER: _ClassVar[int]
    NEXT_CURSOR_FIELD_NUMBER: _ClassVar[int]
    sensors: _containers.RepeatedCompositeFieldContainer[Sensor]
    next_cursor: str
    def __init__(self, sensors: _Optional[_Iterable[_Union[Sensor, _Mapping]]] = ..., next_cursor: _Optional[str] = ...) -> None: ...

class GetSensorRequest(_message.Message):
    __slots__ = ("workspace_id", "sensor_id")
    WORKSPACE_ID_FIELD_NUMBER: _ClassVar[int]
    SENSOR_ID_FIELD_NUMBER: _ClassVar[int]
    workspace_id: str
    sensor_id: str
    def __init__(self, workspace_id: _Optional[str] = ..., sensor_id: _Optional[str] = ...) -> None: ...

class GetSensorResponse(_message.Message):
    __slots__ = ("sensor",)
    SENSOR_FIELD_NUMBER: _ClassVar[int]
    sensor: Sensor
    def __init__(self, sensor: _Optional[_Union[Sensor, _Mapping]] = ...) -> None: ...

class SensorEvalStatus(_message.Message):
    __slots__ = ("status", "message")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    status: str
    message: str
    def __init__(self, status: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class SensorEval(_message.Message):
    __slots__ = ("eval_id", "sensor_id", "cursor_before", "cursor_after", "evaluated_at", "status", "run_requests_count")
    EVAL_ID_FIELD_NUMBER: _ClassVar[int]
    SENSOR_ID_FIELD_NUMBER: _ClassVar[int]
    CURSOR_BEFORE_FIELD_NUMBER: _ClassVar[int]
    CURSOR_AFTER_FIELD_NUMBER: _ClassVar[int]
    EVALUATED_AT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    RUN_REQUESTS_COUNT_FIELD_NUMBER: _ClassVar[int]
    eval_id: str
    sensor_id: str
    cursor_before: str
    cursor_after: str
    evaluated_at: _timestamp_pb2.Timestamp
    status: SensorEvalStatus
    run_requests_count: int
    def __init__(self, eval_id: _Optional[str] = ..., sensor_id: _Optional[str] = ..., cursor_before: _Optional[str] = ..., cursor_after: _Optional[str] = ..., evaluated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., status: _Optional[_Union[SensorEvalStatus, _Mapping]] = ..., run_requests_count: _Optional[int] = ...) -> None: ...

class ListSensorEvalsRequest(_message.Message):
    __slots__ = ("workspace_id", "sensor_id", "limit", "cursor", "since", "until", "status")
    WORKSPACE_ID_FIELD_NUMBER: _ClassVar[int]
    SENSOR_ID_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    UNTIL_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    workspace_id: str
    sensor_id: str
    limit: int
    cursor: str
    since: _timestamp_pb2.Timestamp
    until: _timestamp_pb2.Timestamp
    status: str
    def __init__(self, workspace_id: _Optional[str] = ..., sensor_id: _Optional[str] = ..., limit: _Optional[int] = ..., cursor: _Optional[str] = ..., since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., status: _Optional[str] = ...) -> None: ...

class ListSensorEvalsResponse(_message.Message):
    __slots__ = ("evals", "next_cursor")
    EVALS_FIELD_NUMBER: _ClassVar[int]
    NEXT_CURSOR_FIELD_NUMBER: _ClassVar[int]
    evals: _containers.RepeatedCompositeFieldContainer[SensorEval]
    next_cursor: str
    def __init__(self, evals: _Optional[_Iterable[_Union[SensorEval, _Mapping]]] = ..., next_cursor: _Optional[str] = ...) -> None: ...

class ManualEvaluateSensorRequest(_message.Message):
    __slots__ = ("workspace_id", "sensor_id", "payload", "attributes", "message_id")
    class AttributesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    WORKSPACE_ID_FIELD_NUMBER: _ClassVar[int]
    SENSOR_ID_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    workspace_id: str
    sensor_id: str
    payload: _struct_pb2.Value
    attributes: _containers.ScalarMap[str, str]
    message_id: str
    def __init__(self, workspace_id: _Optional[str] = ..., sensor_id: _Optional[str] = ..., payload: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., attributes: _Optional[_Mapping[str, str]] = ..., message_id: _Optional[str] = ...) -> None: ...

class RunRequest(_message.Message):
    __slots__ = ("run_key", "request_fingerprint", "asset_selection", "partition_selection", "code_version")
    RUN_KEY_FIELD_NUMBER: _ClassVar[int]
    REQUEST_FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    ASSET_SELECTION_FIELD_NUMBER: _ClassVar[int]
    PARTITION_SELECTION_FIELD_NUMBER: _ClassVar[int]
    CODE_VERSION_FIELD_NUMBER: _ClassVar[int]
    run_key: str
    request_fingerprint: str
    asset_selection: _containers.RepeatedScalarFieldContainer[str]
    partition_selection: _containers.RepeatedScalarFieldContainer[str]
    code_version: str
    def __init__(self, run_key: _Optional[str] = ..., request_fingerprint: _Optional[str] = ..., asset_selection: _Optional[_Iterable[str]] = ..., partition_selection: _Optional[_Iterable[str]] = ..., code_version: _Optional[str] = ...) -> None: ...

class ManualEvaluateSensorResponse(_message.Message):
    __slots__ = ("eval_id", "message_id", "run_requests", "events_written", "status", "message", "warning")
    EVAL_ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_REQUESTS_FIELD_NUMBER: _ClassVar[int]
    EVENTS_WRITTEN_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    WARNING_FIELD_NUMBER: _ClassVar[int]
    eval_id: str
    message_id: str
    run_requests: _containers.RepeatedCompositeFieldContainer[RunRequest]
    events_written: int
    status: str
    message: str
    warning: str
    def __init__(self, eval_id: _Optional[str] = ..., message_id: _Optional[str] = ..., run_requests: _Optional[_Iterable[_Union[RunRequest, _Mapping]]] = ..., events_written: _Optional[int] = ..., status: _Optional[str] = ..., message: _Optional[str] = ..., warning: _Optional[str] = ...) -> None: ...
