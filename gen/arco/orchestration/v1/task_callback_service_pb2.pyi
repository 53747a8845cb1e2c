import datetime

from arco.orchestration.v1 import worker_protocol_pb2 as _worker_protocol_pb2
from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TaskStartedRequest(_message.Message):
    __slots__ = ("task_id", "attempt", "attempt_id", "worker_id", "traceparent", "started_at")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_ID_FIELD_NUMBER: _ClassVar[int]
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    TRACEPARENT_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    attempt: int
    attempt_id: str
    worker_id: str
    traceparent: str
    started_at: _timestamp_pb2.Timestamp
    def __init__(self, task_id: _Optional[str] = ..., attempt: _Optional[int] = ..., attempt_id: _Optional[str] = ..., worker_id: _Optional[str] = ..., traceparent: _Optional[str] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class TaskStartedResponse(_message.Message):
    __slots__ = ("acknowledged", "server_time")
    ACKNOWLEDGED_FIELD_NUMBER: _ClassVar[int]
    SERVER_TIME_FIELD_NUMBER: _ClassVar[int]
    acknowledged: bool
    server_time: _timestamp_pb2.Timestamp
    def __init__(self, acknowledged: _Optional[bool] = ..., server_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class TaskHeartbeatRequest(_message.Message):
    __slots__ = ("task_id", "attempt", "attempt_id", "worker_id", "traceparent", "heartbeat_at", "progress_pct", "message")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_ID_FIELD_NUMBER: _ClassVar[int]
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    TRACEPARENT_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_AT_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_PCT_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    attempt: int
    attempt_id: str
    worker_id: str
    traceparent: str
    heartbeat_at: _timestamp_pb2.Timestamp
    progress_pct: int
    message: str
    def __init__(self, task_id: _Optional[str] = ..., attempt: _Optional[int] = ..., attempt_id: _Optional[str] = ..., worker_id: _Optional[str] = ..., traceparent: _Optional[str] = ..., heartbeat_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., progress_pct: _Optional[int] = ..., message: _Optional[str] = ...) -> None: ...

class TaskHeartbeatResponse(_message.Message):
    __slots__ = ("acknowledged", "should_cancel", "cancel_reason", "server_time", "task_token", "token_expires_at")
    ACKNOWLEDGED_FIELD_NUMBER: _ClassVar[int]
    SHOULD_CANCEL_FIELD_NUMBER: _ClassVar[int]
    CANCEL_REASON_FIELD_NUMBER: _ClassVar[int]
    SERVER_TIME_FIELD_NUMBER: _ClassVar[int]
    TASK_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TOKEN_EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    acknowledged: bool
    should_cancel: bool
    cancel_reason: str
    server_time: _timestamp_pb2.Timestamp
    task_token: str
    token_expires_at: _timestamp_pb2.Timestamp
    def __init__(self, acknowledged: _Optional[bool] = ..., should_cancel: _Optional[bool] = ..., cancel_reason: _Optional[str] = ..., server_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., task_token: _Optional[str] = ..., token_expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class TaskCompletedRequest(_message.Message):
    __slots__ = ("task_id", "attempt", "attempt_id", "worker_id", "traceparent", "outcome", "completed_at", "output", "error", "metrics", "cancelled_during_phase", "partial_progress")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_ID_FIELD_NUMBER: _ClassVar[int]
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    TRACEPARENT_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_AT_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    CANCELLED_DURING_PHASE_FIELD_NUMBER: _ClassVar[int]
    PARTIAL_PROGRESS_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    attempt: int
    attempt_id: str
    worker_id: str
    traceparent: str
    outcome: str
    completed_at: _timestamp_pb2.Timestamp
    output: _worker_protocol_pb2.TaskOutput
    error: _worker_protocol_pb2.TaskError
    metrics: _worker_protocol_pb2.TaskMetrics
    cancelled_during_phase: str
    partial_progress: _struct_pb2.Value
    def __init__(self, task_id: _Optional[str] = ..., attempt: _Optional[int] = ..., attempt_id: _Optional[str] = ..., worker_id: _Optional[str] = ..., traceparent: _Optional[str] = ..., outcome: _Optional[str] = ..., completed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., output: _Optional[_Union[_worker_protocol_pb2.TaskOutput, _Mapping]] = ..., error: _Optional[_Union[_worker_protocol_pb2.TaskError, _Mapping]] = ..., metrics: _Optional[_Union[_worker_protocol_pb2.TaskMetrics, _Mapping]] = ..., cancelled_during_phase: _Optional[str] = ..., partial_progress: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ...) -> None: ...

class TaskCompletedResponse(_message.Message):
    __slots__ = ("acknowledged", "final_state", "server_time")
    ACKNOWLEDGED_FIELD_NUMBER: _ClassVar[int]
    FINAL_STATE_FIELD_NUMBER: _ClassVar[int]
    SERVER_TIME_FIELD_NUMBER: _ClassVar[int]
    acknowledged: bool
    final_state: str
    server_time: _timestamp_pb2.Timestamp
    def __init__(self, acknowledged: _Optional[bool] = ..., final_state: _Optional[str] = ..., server_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class SensorRunRequestEntry(_message.Message):
    __slots__ = ("run_key", "assets", "partitions", "labels")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    RUN_KEY_FIELD_NUMBER: _ClassVar[int]
    ASSETS_FIELD_NUMBER: _ClassVar[int]
    PARTITIONS_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    run_key: str
    assets: _containers.RepeatedScalarFieldContainer[str]
    partitions: _containers.RepeatedScalarFieldContainer[str]
    labels: _containers.ScalarMap[str, str]
    def __init__(self, run_key: _Optional[str] = ..., assets: _Optional[_Iterable[str]] = ..., partitions: _Optional[_Iterable[str]] = ..., labels: _Optional[_Mapping[str, str]] = ...) -> None: ...

class SensorEvaluatedRequest(_message.Message):
    __slots__ = ("task_id", "eval_id", "expected_state_version", "worker_id", "cursor", "run_requests", "error")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    EVAL_ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_STATE_VERSION_FIELD_NUMBER: _ClassVar[int]
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    RUN_REQUESTS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    eval_id: str
    expected_state_version: int
    worker_id: str
    cursor: str
    run_requests: _containers.RepeatedCompositeFieldContainer[SensorRunRequestEntry]
    error: str
    def __init__(self, task_id: _Optional[str] = ..., eval_id: _Optional[str] = ..., expected_state_version: _Optional[int] = ..., worker_id: _Optional[str] = ..., cursor: _Optional[str] = ..., run_requests: _Optional[_Iterable[_Union[SensorRunRequestEntry, _Mapping]]] = ..., error: _Optional[str] = ...) -> None: ...

class SensorEvaluatedResponse(_message.Message):
    __slots__ = ("acknowledged", "status", "runs_requested", "server_time")
    ACKNOWLEDGED_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    RUNS_REQUESTED_FIELD_NUMBER: _ClassVar[int]
    SERVER_TIME_FIELD_NUMBER: _ClassVar[int]
    acknowledged: bool
    status: str
    runs_requested: int
    server_time: _timestamp_pb2.Timestamp
    def __init__(self, acknowledged: _Optional[bool] = ..., status: _Optional[str] = ..., runs_requested: _Optional[int] = ..., server_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
