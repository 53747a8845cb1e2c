from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TaskState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TASK_STATE_UNSPECIFIED: _ClassVar[TaskState]
    TASK_STATE_PLANNED: _ClassVar[TaskState]
    TASK_STATE_BLOCKED: _ClassVar[TaskState]
    TASK_STATE_READY: _ClassVar[TaskState]
    TASK_STATE_DISPATCHED: _ClassVar[TaskState]
    TASK_STATE_RUNNING: _ClassVar[TaskState]
    TASK_STATE_RETRY_WAIT: _ClassVar[TaskState]
    TASK_STATE_SKIPPED: _ClassVar[TaskState]
    TASK_STATE_CANCELLED: _ClassVar[TaskState]
    TASK_STATE_FAILED: _ClassVar[TaskState]
    TASK_STATE_SUCCEEDED: _ClassVar[TaskState]

class RunState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RUN_STATE_UNSPECIFIED: _ClassVar[RunState]
    RUN_STATE_TRIGGERED: _ClassVar[RunState]
    RUN_STATE_RUNNING: _ClassVar[RunState]
    RUN_STATE_SUCCEEDED: _ClassVar[RunState]
    RUN_STATE_FAILED: _ClassVar[RunState]
    RUN_STATE_CANCELLED: _ClassVar[RunState]

class RunStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RUN_STATUS_UNSPECIFIED: _ClassVar[RunStatus]
    RUN_STATUS_PENDING: _ClassVar[RunStatus]
    RUN_STATUS_RUNNING: _ClassVar[RunStatus]
    RUN_STATUS_CANCELLING: _ClassVar[RunStatus]
    RUN_STATUS_SUCCEEDED: _ClassVar[RunStatus]
    RUN_STATUS_FAILED: _ClassVar[RunStatus]
    RUN_STATUS_CANCELLED: _ClassVar[RunStatus]
    RUN_STATUS_TIMED_OUT: _ClassVar[RunStatus]

class TaskStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TASK_STATUS_UNSPECIFIED: _ClassVar[TaskStatus]
    TASK_STATUS_PENDING: _ClassVar[TaskStatus]
    TASK_STATUS_QUEUED: _ClassVar[TaskStatus]
    TASK_STATUS_RUNNING: _ClassVar[TaskStatus]
    TASK_STATUS_SUCCEEDED: _ClassVar[TaskStatus]
    TASK_STATUS_FAILED: _ClassVar[TaskStatus]
    TASK_STATUS_SKIPPED: _ClassVar[TaskStatus]
    TASK_STATUS_CANCELLED: _ClassVar[TaskStatus]

class TaskOutcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TASK_OUTCOME_UNSPECIFIED: _ClassVar[TaskOutcome]
    TASK_OUTCOME_SUCCEEDED: _ClassVar[TaskOutcome]
    TASK_OUTCOME_FAILED: _ClassVar[TaskOutcome]
    TASK_OUTCOME_SKIPPED: _ClassVar[TaskOutcome]
    TASK_OUTCOME_CANCELLED: _ClassVar[TaskOutcome]

class DispatchStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DISPATCH_STATUS_UNSPECIFIED: _ClassVar[DispatchStatus]
    DISPATCH_STATUS_PENDING: _ClassVar[DispatchStatus]
    DISPATCH_STATUS_CREATED: _ClassVar[DispatchStatus]

class TimerType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TIMER_TYPE_UNSPECIFIED: _ClassVar[TimerType]
    TIMER_TYPE_RETRY: _ClassVar[TimerType]
    TIMER_TYPE_HEARTBEAT_CHECK: _ClassVar[TimerType]
    TIMER_TYPE_CRON: _ClassVar[TimerType]
    TIMER_TYPE_SLA_CHECK: _ClassVar[TimerType]

class RerunKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RERUN_KIND_UNSPECIFIED: _ClassVar[RerunKind]
    RERUN_KIND_FROM_FAILURE: _ClassVar[RerunKind]
    RERUN_KIND_SUBSET: _ClassVar[RerunKind]

class TickStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TICK_STATUS_UNSPECIFIED: _ClassVar[TickStatus]
    TICK_STATUS_TRIGGERED: _ClassVar[TickStatus]
    TICK_STATUS_SKIPPED: _ClassVar[TickStatus]
    TICK_STATUS_FAILED: _ClassVar[TickStatus]
TASK_STATE_UNSPECIFIED: TaskState
TASK_STATE_PLANNED: TaskState
TASK_STATE_BLOCKED: TaskState
TASK_STATE_READY: TaskState
TASK_STATE_DISPATCHED: TaskState
TASK_STATE_RUNNING: TaskState
TASK_STATE_RETRY_WAIT: TaskState
TASK_STATE_SKIPPED: TaskState
TASK_STATE_CANCELLED: TaskState
TASK_STATE_FAILED: TaskState
TASK_STATE_SUCCEEDED: TaskState
RUN_STATE_UNSPECIFIED: RunState
RUN_STATE_TRIGGERED: RunState
RUN_STATE_RUNNING: RunState
RUN_STATE_SUCCEEDED: RunState
RUN_STATE_FAILED: RunState
RUN_STATE_CANCELLED: RunState
RUN_STATUS_UNSPECIFIED: RunStatus
RUN_STATUS_PENDING: RunStatus
RUN_STATUS_RUNNING: RunStatus
RUN_STATUS_CANCELLING: RunStatus
RUN_STATUS_SUCCEEDED: RunStatus
RUN_STATUS_FAILED: RunStatus
RUN_STATUS_CANCELLED: RunStatus
RUN_STATUS_TIMED_OUT: RunStatus
TASK_STATUS_UNSPECIFIED: TaskStatus
TASK_STATUS_PENDING: TaskStatus
TASK_STATUS_QUEUED: TaskStatus
TASK_STATUS_RUNNING: TaskStatus
TASK_STATUS_SUCCEEDED: TaskStatus
TASK_STATUS_FAILED: TaskStatus
TASK_STATUS_SKIPPED: TaskStatus
TASK_STATUS_CANCELLED: TaskStatus
TASK_OUTCOME_UNSPECIFIED: TaskOutcome
TASK_OUTCOME_SUCCEEDED: TaskOutcome
TASK_OUTCOME_FAILED: TaskOutcome
TASK_OUTCOME_SKIPPED: TaskOutcome
TASK_OUTCOME_CANCELLED: TaskOutcome
DISPATCH_STATUS_UNSPECIFIED: DispatchStatus
DISPATCH_STATUS_PENDING: DispatchStatus
DISPATCH_STATUS_CREATED: DispatchStatus
TIMER_TYPE_UNSPECIFIED: TimerType
TIMER_TYPE_RETRY: TimerType
TIMER_TYPE_HEARTBEAT_CHECK: TimerType
TIMER_TYPE_CRON: TimerType
TIMER_TYPE_SLA_CHECK: TimerType
RERUN_KIND_UNSPECIFIED: RerunKind
RERUN_KIND_FROM_FAILURE: RerunKind
RERUN_KIND_SUBSET: RerunKind
TICK_STATUS_UNSPECIFIED: TickStatus
TICK_STATUS_TRIGGERED: TickStatus
TICK_STATUS_SKIPPED: TickStatus
TICK_STATUS_FAILED: TickStatus

class TaskDef(_message.Message):
    __slots__ = ("key", "depends_on", "asset_key", "partition_key", "max_attempts", "heartbeat_timeout_sec", "requires_visible_output", "worker_queue", "timeout_sec")
    KEY_FIELD_NUMBER: _ClassVar[int]
    DEPENDS_ON_FIELD_NUMBER: _ClassVar[int]
    ASSET_KEY_FIELD_NUMBER: _ClassVar[int]
    PARTITION_KEY_FIELD_NUMBER: _ClassVar[int]
    MAX_ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_TIMEOUT_SEC_FIELD_NUMBER: _ClassVar[int]
    REQUIRES_VISIBLE_OUTPUT_FIELD_NUMBER: _ClassVar[int]
    WORKER_QUEUE_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_SEC_FIELD_NUMBER: _ClassVar[int]
    key: str
    depends_on: _containers.RepeatedScalarFieldContainer[str]
    asset_key: str
    partition_key: str
    max_attempts: int
    heartbeat_timeout_sec: int
    requires_visible_output: bool
    worker_queue: str
    timeout_sec: int
    def __init__(self, key: _Optional[str] = ..., depends_on: _Optional[_Iterable[str]] = ..., asset_key: _Optional[str] = ..., partition_key: _Optional[str] = ..., max_attempts: _Optional[int] = ..., heartbeat_timeout_sec: _Optional[int] = ..., requires_visible_output: _Optional[bool] = ..., worker_queue: _Optional[str] = ..., timeout_sec: _Optional[int] = ...) -> None: ...

class TriggerInfo(_message.Message):
    __slots__ = ("manual", "cron", "materialization", "webhook", "sensor")
    MANUAL_FIELD_NUMBER: _ClassVar[int]
    CRON_FIELD_NUMBER: _ClassVar[int]
    MATERIALIZATION_FIELD_NUMBER: _ClassVar[int]
    WEBHOOK_FIELD_NUMBER: _ClassVar[int]
    SENSOR_FIELD_NUMBER: _ClassVar[int]
    manual: ManualTrigger
    cron: CronTrigger
    materialization: MaterializationTrigger
    webhook: WebhookTrigger
    sensor: SensorTrigger
    def __init__(self, manual: _Optional[_Union[ManualTrigger, _Mapping]] = ..., cron: _Optional[_Union[CronTrigger, _Mapping]] = ..., materialization: _Optional[_Union[MaterializationTrigger, _Mapping]] = ..., webhook: _Optional[_Union[WebhookTrigger, _Mapping]] = ..., sensor: _Optional[_Union[SensorTrigger, _Mapping]] = ...) -> None: ...

class ManualTrigger(_message.Message):
    __slots__ = ("user_id",)
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    def __init__(self, user_id: _Optional[str] = ...) -> None: ...

class CronTrigger(_message.Message):
    __slots__ = ("schedule_id",)
    SCHEDULE_ID_FIELD_NUMBER: _ClassVar[int]
    schedule_id: str
    def __init__(self, schedule_id: _Optional[str] = ...) -> None: ...

class MaterializationTrigger(_message.Message):
    __slots__ = ("upstream_materialization_id",)
    UPSTREAM_MATERIALIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    upstream_materialization_id: str
    def __init__(self, upstream_materialization_id: _Optional[str] = ...) -> None: ...

class WebhookTrigger(_message.Message):
    __slots__ = ("webhook_id",)
    WEBHOOK_ID_FIELD_NUMBER: _ClassVar[int]
    webhook_id: str
    def __init__(self, webhook_id: _Optional[str] = ...) -> None: ...

class SensorTrigger(_message.Message):
    __slots__ = ("sensor_id", "cursor")
    SENSOR_ID_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    sensor_id: str
    cursor: str
    def __init__(self, sensor_id: _Optional[str] = ..., cursor: _Optional[str] = ...) -> None: ...
