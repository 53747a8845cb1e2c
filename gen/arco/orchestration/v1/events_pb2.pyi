import datetime

from arco.orchestration.v1 import types_pb2 as _types_pb2
from arco.orchestration.v1 import worker_protocol_pb2 as _worker_protocol_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class OrchestrationEvent(_message.Message):
    __slots__ = ("event_id", "event_type", "event_version", "timestamp", "source", "tenant_id", "workspace_id", "idempotency_key", "correlation_id", "causation_id", "run_triggered", "plan_created", "run_cancel_requested", "dispatch_requested", "dispatch_enqueued", "task_started", "task_heartbeat", "task_finished", "task_completion_recorded", "timer_requested", "timer_enqueued", "timer_fired", "manifest_deployed", "task_output_visibility_changed", "backfill_created", "backfill_chunk_planned", "backfill_state_changed", "schedule_definition_upserted", "schedule_ticked", "sensor_evaluated", "sensor_evaluation_requested", "sensor_evaluation_dispatched")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    EVENT_VERSION_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    WORKSPACE_ID_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    CORRELATION_ID_FIELD_NUMBER: _ClassVar[int]
    CAUSATION_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_TRIGGERED_FIELD_NUMBER: _ClassVar[int]
    PLAN_CREATED_FIELD_NUMBER: _ClassVar[int]
    RUN_CANCEL_REQUESTED_FIELD_NUMBER: _ClassVar[int]
    DISPATCH_REQUESTED_FIELD_NUMBER: _ClassVar[int]
    DISPATCH_ENQUEUED_FIELD_NUMBER: _ClassVar[int]
    TASK_STARTED_FIELD_NUMBER: _ClassVar[int]
    TASK_HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    TASK_FINISHED_FIELD_NUMBER: _ClassVar[int]
    TASK_COMPLETION_RECORDED_FIELD_NUMBER: _ClassVar[int]
    TIMER_REQUESTED_FIELD_NUMBER: _ClassVar[int]
    TIMER_ENQUEUED_FIELD_NUMBER: _ClassVar[int]
    TIMER_FIRED_FIELD_NUMBER: _ClassVar[int]
    MANIFEST_DEPLOYED_FIELD_NUMBER: _ClassVar[int]
    TASK_OUTPUT_VISIBILITY_CHANGED_FIELD_NUMBER: _ClassVar[int]
    BACKFILL_CREATED_FIELD_NUMBER: _ClassVar[int]
    BACKFILL_CHUNK_PLANNED_FIELD_NUMBER: _ClassVar[int]
    BACKFILL_STATE_CHANGED_FIELD_NUMBER: _ClassVar[int]
    SCHEDULE_DEFINITION_UPSERTED_FIELD_NUMBER: _ClassVar[int]
    SCHEDULE_TICKED_FIELD_NUMBER: _ClassVar[int]
    SENSOR_EVALUATED_FIELD_NUMBER: _ClassVar[int]
    SENSOR_EVALUATION_REQUESTED_FIELD_NUMBER: _ClassVar[int]
    SENSOR_EVALUATION_DISPATCHED_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    event_type: str
    event_version: int
    timestamp: _timestamp_pb2.Timestamp
    source: str
    tenant_id: str
    workspace_id: str
    idempotency_key: str
    correlation_id: str
    causation_id: str
    run_triggered: RunTriggeredEvent
    plan_created: PlanCreatedEvent
    run_cancel_requested: RunCancelRequestedEvent
    dispatch_requested: DispatchRequestedEvent
    dispatch_enqueued: DispatchEnqueuedEvent
    task_started: TaskStartedEvent
    task_heartbeat: TaskHeartbeatEvent
    task_finished: TaskFinishedEvent
    task_completion_recorded: TaskFinishedEvent
    timer_requested: TimerRequestedEvent
    timer_enqueued: TimerEnqueuedEvent
    timer_fired: TimerFiredEvent
    manifest_deployed: ManifestDeployedEvent
    task_output_visibility_changed: TaskOutputVisibilityChangedEvent
    backfill_created: BackfillCreatedEvent
    backfill_chunk_planned: BackfillChunkPlannedEvent
    backfill_state_changed: BackfillStateChangedEvent
    schedule_definition_upserted: ScheduleDefinitionUpsertedEvent
    schedule_ticked: ScheduleTickedEvent
    sensor_evaluated: SensorEvaluatedEvent
    sensor_evaluation_requested: SensorEvaluationRequestedEvent
    sensor_evaluation_dispatched: SensorEvaluationDispatchedEvent
    def __init__(self, event_id: _Optional[str] = ..., event_type: _Optional[str] = ..., event_version: _Optional[int] = ..., timestamp: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., source: _Optional[str] = ..., tenant_id: _Optional[str] = ..., workspace_id: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., correlation_id: _Optional[str] = ..., causation_id: _Optional[str] = ..., run_triggered: _Optional[_Union[RunTriggeredEvent, _Mapping]] = ..., plan_created: _Optional[_Union[PlanCreatedEvent, _Mapping]] = ..., run_cancel_requested: _Optional[_Union[RunCancelRequestedEvent, _Mapping]] = ..., dispatch_requested: _Optional[_Union[DispatchRequestedEvent, _Mapping]] = ..., dispatch_enqueued: _Optional[_Union[DispatchEnqueuedEvent, _Mapping]] = ..., task_started: _Optional[_Union[TaskStartedEvent, _Mapping]] = ..., task_heartbeat: _Optional[_Union[TaskHeartbeatEvent, _Mapping]] = ..., task_finished: _Optional[_Union[TaskFinishedEvent, _Mapping]] = ..., task_completion_recorded: _Optional[_Union[TaskFinishedEvent, _Mapping]] = ..., timer_requested: _Optional[_Union[TimerRequestedEvent, _Mapping]] = ..., timer_enqueued: _Optional[_Union[TimerEnqueuedEvent, _Mapping]] = ..., timer_fired: _Optional[_Union[TimerFiredEvent, _Mapping]] = ..., manifest_deployed: _Optional[_Union[ManifestDeployedEvent, _Mapping]] = ..., task_output_visibility_changed: _Optional[_Union[TaskOutputVisibilityChangedEvent, _Mapping]] = ..., backfill_created: _Optional[_Union[BackfillCreatedEvent, _Mapping]] = ..., backfill_chunk_planned: _Optional[_Union[BackfillChunkPlannedEvent, _Mapping]] = ..., backfill_state_changed: _Optional[_Union[BackfillStateChangedEvent, _Mapping]] = ..., schedule_definition_upserted: _Optional[_Union[ScheduleDefinitionUpsertedEvent, _Mapping]] = ..., schedule_ticked: _Optional[_Union[ScheduleTickedEvent, _Mapping]] = ..., sensor_evaluated: _Optional[_Union[SensorEvaluatedEvent, _Mapping]] = ..., sensor_evaluation_requested: _Optional[_Union[SensorEvaluationRequestedEvent, _Mapping]] = ..., sensor_evaluation_dispatched: _Optional[_Union[SensorEvaluationDispatchedEvent, _Mapping]] = ...) -> None: ...

class RunTriggeredEvent(_message.Message):
    __slots__ = ("run_id", "plan_id", "trigger", "root_assets", "run_key", "labels", "code_version", "parent_run_id", "rerun_kind", "rerun_reason", "traceparent")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    PLAN_ID_FIELD_NUMBER: _ClassVar[int]
    TRIGGER_FIELD_NUMBER: _ClassVar[int]
    ROOT_ASSETS_FIELD_NUMBER: _ClassVar[int]
    RUN_KEY_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    CODE_VERSION_FIELD_NUMBER: _ClassVar[int]
    PARENT_RUN_ID_FIELD_NUMBER: _ClassVar[int]
    RERUN_KIND_FIELD_NUMBER: _ClassVar[int]
    RERUN_REASON_FIELD_NUMBER: _ClassVar[int]
    TRACEPARENT_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    plan_id: str
    trigger: _types_pb2.TriggerInfo
    root_assets: _containers.RepeatedScalarFieldContainer[str]
    run_key: str
    labels: _containers.ScalarMap[str, str]
    code_version: str
    parent_run_id: str
    rerun_kind: _types_pb2.RerunKind
    rerun_reason: str
    traceparent: str
    def __init__(self, run_id: _Optional[str] = ..., plan_id: _Optional[str] = ..., trigger: _Optional[_Union[_types_pb2.TriggerInfo, _Mapping]] = ..., root_assets: _Optional[_Iterable[str]] = ..., run_key: _Optional[str] = ..., labels: _Optional[_Mapping[str, str]] = ..., code_version: _Optional[str] = ..., parent_run_id: _Optional[str] = ..., rerun_kind: _Optional[_Union[_types_pb2.RerunKind, str]] = ..., rerun_reason: _Optional[str] = ..., traceparent: _Optional[str] = ...) -> None: ...

class PlanCreatedEvent(_message.Message):
    __slots__ = ("run_id", "plan_id", "tasks")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    PLAN_ID_FIELD_NUMBER: _ClassVar[int]
    TASKS_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    plan_id: str
    tasks: _containers.RepeatedCompositeFieldContainer[_types_pb2.TaskDef]
    def __init__(self, run_id: _Optional[str] = ..., plan_id: _Optional[str] = ..., tasks: _Optional[_Iterable[_Union[_types_pb2.TaskDef, _Mapping]]] = ...) -> None: ...

class RunCancelRequestedEvent(_message.Message):
    __slots__ = ("run_id", "reason", "requested_by")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_BY_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    reason: str
    requested_by: str
    def __init__(self, run_id: _Optional[str] = ..., reason: _Optional[str] = ..., requested_by: _Optional[str] = ...) -> None: ...

class DispatchRequestedEvent(_message.Message):
    __slots__ = ("run_id", "task_key", "attempt", "attempt_id", "worker_queue", "dispatch_id")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_KEY_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_ID_FIELD_NUMBER: _ClassVar[int]
    WORKER_QUEUE_FIELD_NUMBER: _ClassVar[int]
    DISPATCH_ID_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    task_key: str
    attempt: int
    attempt_id: str
    worker_queue: str
    dispatch_id: str
    def __init__(self, run_id: _Optional[str] = ..., task_key: _Optional[str] = ..., attempt: _Optional[int] = ..., attempt_id: _Optional[str] = ..., worker_queue: _Optional[str] = ..., dispatch_id: _Optional[str] = ...) -> None: ...

class DispatchEnqueuedEvent(_message.Message):
    __slots__ = ("dispatch_id", "run_id", "task_key", "attempt", "cloud_task_id")
    DISPATCH_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_KEY_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    CLOUD_TASK_ID_FIELD_NUMBER: _ClassVar[int]
    dispatch_id: str
    run_id: str
    task_key: str
    attempt: int
    cloud_task_id: str
    def __init__(self, dispatch_id: _Optional[str] = ..., run_id: _Optional[str] = ..., task_key: _Optional[str] = ..., attempt: _Optional[int] = ..., cloud_task_id: _Optional[str] = ...) -> None: ...

class TaskStartedEvent(_message.Message):
    __slots__ = ("run_id", "task_key", "attempt", "attempt_id", "worker_id")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_KEY_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_ID_FIELD_NUMBER: _ClassVar[int]
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    task_key: str
    attempt: int
    attempt_id: str
    worker_id: str
    def __init__(self, run_id: _Optional[str] = ..., task_key: _Optional[str] = ..., attempt: _Optional[int] = ..., attempt_id: _Optional[str] = ..., worker_id: _Optional[str] = ...) -> None: ...

class TaskHeartbeatEvent(_message.Message):
    __slots__ = ("run_id", "task_key", "attempt", "attempt_id", "worker_id", "heartbeat_at", "progress_pct", "message")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_KEY_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_ID_FIELD_NUMBER: _ClassVar[int]
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_AT_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_PCT_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    task_key: str
    attempt: int
    attempt_id: str
    worker_id: str
    heartbeat_at: _timestamp_pb2.Timestamp
    progress_pct: int
    message: str
    def __init__(self, run_id: _Optional[str] = ..., task_key: _Optional[str] = ..., attempt: _Optional[int] = ..., attempt_id: _Optional[str] = ..., worker_id: _Optional[str] = ..., heartbeat_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., progress_pct: _Optional[int] = ..., message: _Optional[str] = ...) -> None: ...

class TaskFinishedEvent(_message.Message):
    __slots__ = ("run_id", "task_key", "attempt", "attempt_id", "worker_id", "outcome", "materialization_id", "error_message", "output", "error", "metrics", "cancelled_during_phase", "partial_progress_json", "asset_key", "partition_key", "code_version", "output_visibility")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_KEY_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_ID_FIELD_NUMBER: _ClassVar[int]
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    MATERIALIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    CANCELLED_DURING_PHASE_FIELD_NUMBER: _ClassVar[int]
    PARTIAL_PROGRESS_JSON_FIELD_NUMBER: _ClassVar[int]
    ASSET_KEY_FIELD_NUMBER: _ClassVar[int]
    PARTITION_KEY_FIELD_NUMBER: _ClassVar[int]
    CODE_VERSION_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_VISIBILITY_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    task_key: str
    attempt: int
    attempt_id: str
    worker_id: str
    outcome: _types_pb2.TaskOutcome
    materialization_id: str
    error_message: str
    output: _worker_protocol_pb2.TaskOutput
    error: _worker_protocol_pb2.TaskError
    metrics: _worker_protocol_pb2.TaskMetrics
    cancelled_during_phase: str
    partial_progress_json: str
    asset_key: str
    partition_key: str
    code_version: str
    output_visibility: OutputVisibility
    def __init__(self, run_id: _Optional[str] = ..., task_key: _Optional[str] = ..., attempt: _Optional[int] = ..., attempt_id: _Optional[str] = ..., worker_id: _Optional[str] = ..., outcome: _Optional[_Union[_types_pb2.TaskOutcome, str]] = ..., materialization_id: _Optional[str] = ..., error_message: _Optional[str] = ..., output: _Optional[_Union[_worker_protocol_pb2.TaskOutput, _Mapping]] = ..., error: _Optional[_Union[_worker_protocol_pb2.TaskError, _Mapping]] = ..., metrics: _Optional[_Union[_worker_protocol_pb2.TaskMetrics, _Mapping]] = ..., cancelled_during_phase: _Optional[str] = ..., partial_progress_json: _Optional[str] = ..., asset_key: _Optional[str] = ..., partition_key: _Optional[str] = ..., code_version: _Optional[str] = ..., output_visibility: _Optional[_Union[OutputVisibility, _Mapping]] = ...) -> None: ...

class OutputVisibility(_message.Message):
    __slots__ = ("visibility_state", "published_at", "publish_error")
    VISIBILITY_STATE_FIELD_NUMBER: _ClassVar[int]
    PUBLISHED_AT_FIELD_NUMBER: _ClassVar[int]
    PUBLISH_ERROR_FIELD_NUMBER: _ClassVar[int]
    visibility_state: str
    published_at: _timestamp_pb2.Timestamp
    publish_error: str
    def __init__(self, visibility_state: _Optional[str] = ..., published_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., publish_error: _Optional[str] = ...) -> None: ...

class TaskOutputVisibilityChangedEvent(_message.Message):
    __slots__ = ("run_id", "task_key", "attempt", "attempt_id", "visibility_state", "published_at", "publish_error")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_KEY_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_ID_FIELD_NUMBER: _ClassVar[int]
    VISIBILITY_STATE_FIELD_NUMBER: _ClassVar[int]
    PUBLISHED_AT_FIELD_NUMBER: _ClassVar[int]
    PUBLISH_ERROR_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    task_key: str
    attempt: int
    attempt_id: str
    visibility_state: str
    published_at: _timestamp_pb2.Timestamp
    publish_error: str
    def __init__(self, run_id: _Optional[str] = ..., task_key: _Optional[str] = ..., attempt: _Optional[int] = ..., attempt_id: _Optional[str] = ..., visibility_state: _Optional[str] = ..., published_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., publish_error: _Optional[str] = ...) -> None: ...

class ManifestDeployedEvent(_message.Message):
    __slots__ = ("manifest_id", "code_version_id", "fingerprint", "asset_count", "deployed_by", "manifest_json", "git_branch", "git_commit")
    MANIFEST_ID_FIELD_NUMBER: _ClassVar[int]
    CODE_VERSION_ID_FIELD_NUMBER: _ClassVar[int]
    FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    ASSET_COUNT_FIELD_NUMBER: _ClassVar[int]
    DEPLOYED_BY_FIELD_NUMBER: _ClassVar[int]
    MANIFEST_JSON_FIELD_NUMBER: _ClassVar[int]
    GIT_BRANCH_FIELD_NUMBER: _ClassVar[int]
    GIT_COMMIT_FIELD_NUMBER: _ClassVar[int]
    manifest_id: str
    code_version_id: str
    fingerprint: str
    asset_count: int
    deployed_by: str
    manifest_json: str
    git_branch: str
    git_commit: str
    def __init__(self, manifest_id: _Optional[str] = ..., code_version_id: _Optional[str] = ..., fingerprint: _Optional[str] = ..., asset_count: _Optional[int] = ..., deployed_by: _Optional[str] = ..., manifest_json: _Optional[str] = ..., git_branch: _Optional[str] = ..., git_commit: _Optional[str] = ...) -> None: ...

class TimerRequestedEvent(_message.Message):
    __slots__ = ("timer_id", "timer_type", "run_id", "task_key", "attempt", "fire_at")
    TIMER_ID_FIELD_NUMBER: _ClassVar[int]
    TIMER_TYPE_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_KEY_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    FIRE_AT_FIELD_NUMBER: _ClassVar[int]
    timer_id: str
    timer_type: _types_pb2.TimerType
    run_id: str
    task_key: str
    attempt: int
    fire_at: _timestamp_pb2.Timestamp
    def __init__(self, timer_id: _Optional[str] = ..., timer_type: _Optional[_Union[_types_pb2.TimerType, str]] = ..., run_id: _Optional[str] = ..., task_key: _Optional[str] = ..., attempt: _Optional[int] = ..., fire_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class TimerEnqueuedEvent(_message.Message):
    __slots__ = ("timer_id", "run_id", "task_key", "attempt", "cloud_task_id")
    TIMER_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_KEY_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    CLOUD_TASK_ID_FIELD_NUMBER: _ClassVar[int]
    timer_id: str
    run_id: str
    task_key: str
    attempt: int
    cloud_task_id: str
    def __init__(self, timer_id: _Optional[str] = ..., run_id: _Optional[str] = ..., task_key: _Optional[str] = ..., attempt: _Optional[int] = ..., cloud_task_id: _Optional[str] = ...) -> None: ...

class TimerFiredEvent(_message.Message):
    __slots__ = ("timer_id", "timer_type", "run_id", "task_key", "attempt")
    TIMER_ID_FIELD_NUMBER: _ClassVar[int]
    TIMER_TYPE_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_KEY_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    timer_id: str
    timer_type: _types_pb2.TimerType
    run_id: str
    task_key: str
    attempt: int
    def __init__(self, timer_id: _Optional[str] = ..., timer_type: _Optional[_Union[_types_pb2.TimerType, str]] = ..., run_id: _Optional[str] = ..., task_key: _Optional[str] = ..., attempt: _Optional[int] = ...) -> None: ...

class BackfillCreatedEvent(_message.Message):
    __slots__ = ("backfill_id", "client_request_id", "asset_selection", "selector_json", "partition_keys", "chunk_size", "max_concurrent_runs", "fingerprint", "created_by", "code_version", "parent_backfill_id")
    BACKFILL_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ASSET_SELECTION_FIELD_NUMBER: _ClassVar[int]
    SELECTOR_JSON_FIELD_NUMBER: _ClassVar[int]
    PARTITION_KEYS_FIELD_NUMBER: _ClassVar[int]
    CHUNK_SIZE_FIELD_NUMBER: _ClassVar[int]
    MAX_CONCURRENT_RUNS_FIELD_NUMBER: _ClassVar[int]
    FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    CODE_VERSION_FIELD_NUMBER: _ClassVar[int]
    PARENT_BACKFILL_ID_FIELD_NUMBER: _ClassVar[int]
    backfill_id: str
    client_request_id: str
    asset_selection: _containers.RepeatedScalarFieldContainer[str]
    selector_json: str
    partition_keys: _containers.RepeatedScalarFieldContainer[str]
    chunk_size: int
    max_concurrent_runs: int
    fingerprint: str
    created_by: str
    code_version: str
    parent_backfill_id: str
    def __init__(self, backfill_id: _Optional[str] = ..., client_request_id: _Optional[str] = ..., asset_selection: _Optional[_Iterable[str]] = ..., selector_json: _Optional[str] = ..., partition_keys: _Optional[_Iterable[str]] = ..., chunk_size: _Optional[int] = ..., max_concurrent_runs: _Optional[int] = ..., fingerprint: _Optional[str] = ..., created_by: _Optional[str] = ..., code_version: _Optional[str] = ..., parent_backfill_id: _Optional[str] = ...) -> None: ...

class BackfillChunkPlannedEvent(_message.Message):
    __slots__ = ("backfill_id", "chunk_index", "partition_keys", "run_key", "run_id", "request_fingerprint")
    BACKFILL_ID_FIELD_NUMBER: _ClassVar[int]
    CHUNK_INDEX_FIELD_NUMBER: _ClassVar[int]
    PARTITION_KEYS_FIELD_NUMBER: _ClassVar[int]
    RUN_KEY_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    backfill_id: str
    chunk_index: int
    partition_keys: _containers.RepeatedScalarFieldContainer[str]
    run_key: str
    run_id: str
    request_fingerprint: str
    def __init__(self, backfill_id: _Optional[str] = ..., chunk_index: _Optional[int] = ..., partition_keys: _Optional[_Iterable[str]] = ..., run_key: _Optional[str] = ..., run_id: _Optional[str] = ..., request_fingerprint: _Optional[str] = ...) -> None: ...

class BackfillStateChangedEvent(_message.Message):
    __slots__ = ("backfill_id", "from_state", "to_state", "state_version", "changed_by")
    BACKFILL_ID_FIELD_NUMBER: _ClassVar[int]
    FROM_STATE_FIELD_NUMBER: _ClassVar[int]
    TO_STATE_FIELD_NUMBER: _ClassVar[int]
    STATE_VERSION_FIELD_NUMBER: _ClassVar[int]
    CHANGED_BY_FIELD_NUMBER: _ClassVar[int]
    backfill_id: str
    from_state: str
    to_state: str
    state_version: int
    changed_by: str
    def __init__(self, backfill_id: _Optional[str] = ..., from_state: _Optional[str] = ..., to_state: _Optional[str] = ..., state_version: _Optional[int] = ..., changed_by: _Optional[str] = ...) -> None: ...

class ScheduleDefinitionUpsertedEvent(_message.Message):
    __slots__ = ("schedule_id", "cron_expression", "timezone", "catchup_window_minutes", "max_catchup_ticks", "asset_selection", "enabled", "code_version", "request_id")
    SCHEDULE_ID_FIELD_NUMBER: _ClassVar[int]
    CRON_EXPRESSION_FIELD_NUMBER: _ClassVar[int]
    TIMEZONE_FIELD_NUMBER: _ClassVar[int]
    CATCHUP_WINDOW_MINUTES_FIELD_NUMBER: _ClassVar[int]
    MAX_CATCHUP_TICKS_FIELD_NUMBER: _ClassVar[int]
    ASSET_SELECTION_FIELD_NUMBER: _ClassVar[int]
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    CODE_VERSION_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    schedule_id: str
    cron_expression: str
    timezone: str
    catchup_window_minutes: int
    max_catchup_ticks: int
    asset_selection: _containers.RepeatedScalarFieldContainer[str]
    enabled: bool
    code_version: str
    request_id: str
    def __init__(self, schedule_id: _Optional[str] = ..., cron_expression: _Optional[str] = ..., timezone: _Optional[str] = ..., catchup_window_minutes: _Optional[int] = ..., max_catchup_ticks: _Optional[int] = ..., asset_selection: _Optional[_Iterable[str]] = ..., enabled: _Optional[bool] = ..., code_version: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class ScheduleTickedEvent(_message.Message):
    __slots__ = ("tick_id", "schedule_id", "scheduled_for", "status", "asset_selection", "definition_version", "skip_reason", "error_message", "run_key", "run_id", "skipped_through")
    TICK_ID_FIELD_NUMBER: _ClassVar[int]
    SCHEDULE_ID_FIELD_NUMBER: _ClassVar[int]
    SCHEDULED_FOR_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ASSET_SELECTION_FIELD_NUMBER: _ClassVar[int]
    DEFINITION_VERSION_FIELD_NUMBER: _ClassVar[int]
    SKIP_REASON_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    RUN_KEY_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_THROUGH_FIELD_NUMBER: _ClassVar[int]
    tick_id: str
    schedule_id: str
    scheduled_for: _timestamp_pb2.Timestamp
    status: _types_pb2.TickStatus
    asset_selection: _containers.RepeatedScalarFieldContainer[str]
    definition_version: str
    skip_reason: str
    error_message: str
    run_key: str
    run_id: str
    skipped_through: _timestamp_pb2.Timestamp
    def __init__(self, tick_id: _Optional[str] = ..., schedule_id: _Optional[str] = ..., scheduled_for: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., status: _Optional[_Union[_types_pb2.TickStatus, str]] = ..., asset_selection: _Optional[_Iterable[str]] = ..., definition_version: _Optional[str] = ..., skip_reason: _Optional[str] = ..., error_message: _Optional[str] = ..., run_key: _Optional[str] = ..., run_id: _Optional[str] = ..., skipped_through: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class SensorRunRequest(_message.Message):
    __slots__ = ("run_key", "assets", "partition_keys", "labels")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    RUN_KEY_FIELD_NUMBER: _ClassVar[int]
    ASSETS_FIELD_NUMBER: _ClassVar[int]
    PARTITION_KEYS_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    run_key: str
    assets: _containers.RepeatedScalarFieldContainer[str]
    partition_keys: _containers.RepeatedScalarFieldContainer[str]
    labels: _containers.ScalarMap[str, str]
    def __init__(self, run_key: _Optional[str] = ..., assets: _Optional[_Iterable[str]] = ..., partition_keys: _Optional[_Iterable[str]] = ..., labels: _Optional[_Mapping[str, str]] = ...) -> None: ...

class SensorEvaluatedEvent(_message.Message):
    __slots__ = ("sensor_id", "eval_id", "trigger_source", "message_id", "expected_state_version", "cursor_after", "run_requests", "error_message")
    SENSOR_ID_FIELD_NUMBER: _ClassVar[int]
    EVAL_ID_FIELD_NUMBER: _ClassVar[int]
    TRIGGER_SOURCE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_STATE_VERSION_FIELD_NUMBER: _ClassVar[int]
    CURSOR_AFTER_FIELD_NUMBER: _ClassVar[int]
    RUN_REQUESTS_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    sensor_id: str
    eval_id: str
    trigger_source: str
    message_id: str
    expected_state_version: int
    cursor_after: str
    run_requests: _containers.RepeatedCompositeFieldContainer[SensorRunRequest]
    error_message: str
    def __init__(self, sensor_id: _Optional[str] = ..., eval_id: _Optional[str] = ..., trigger_source: _Optional[str] = ..., message_id: _Optional[str] = ..., expected_state_version: _Optional[int] = ..., cursor_after: _Optional[str] = ..., run_requests: _Optional[_Iterable[_Union[SensorRunRequest, _Mapping]]] = ..., error_message: _Optional[str] = ...) -> None: ...

class SensorEvaluationRequestedEvent(_message.Message):
    __slots__ = ("sensor_id", "eval_id", "expected_state_version", "cursor", "worker_queue")
    SENSOR_ID_FIELD_NUMBER: _ClassVar[int]
    EVAL_ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_STATE_VERSION_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    WORKER_QUEUE_FIELD_NUMBER: _ClassVar[int]
    sensor_id: str
    eval_id: str
    expected_state_version: int
    cursor: str
    worker_queue: str
    def __init__(self, sensor_id: _Optional[str] = ..., eval_id: _Optional[str] = ..., expected_state_version: _Optional[int] = ..., cursor: _Optional[str] = ..., worker_queue: _Optional[str] = ...) -> None: ...

class SensorEvaluationDispatchedEvent(_message.Message):
    __slots__ = ("sensor_id", "eval_id", "cloud_task_id")
    SENSOR_ID_FIELD_NUMBER: _ClassVar[int]
    EVAL_ID_FIELD_NUMBER: _ClassVar[int]
    CLOUD_TASK_ID_FIELD_NUMBER: _ClassVar[int]
    sensor_id: str
    eval_id: str
    cloud_task_id: str
    def __init__(self, sensor_id: _Optional[str] = ..., eval_id: _Optional[str] = ..., cloud_task_id: _Optional[str] = ...) -> None: ...
