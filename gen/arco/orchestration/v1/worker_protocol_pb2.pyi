import datetime

from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class WorkerDispatchEnvelope(_message.Message):
    __slots__ = ("tenant_id", "workspace_id", "task_id", "task_key", "run_id", "attempt", "attempt_id", "dispatch_id", "execution_location_id", "partition_key", "worker_queue", "callback_base_url", "task_token", "token_expires_at", "traceparent", "payload", "heartbeat_timeout_sec", "sensor_evaluation")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    WORKSPACE_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_KEY_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_ID_FIELD_NUMBER: _ClassVar[int]
    DISPATCH_ID_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_LOCATION_ID_FIELD_NUMBER: _ClassVar[int]
    PARTITION_KEY_FIELD_NUMBER: _ClassVar[int]
    WORKER_QUEUE_FIELD_NUMBER: _ClassVar[int]
    CALLBACK_BASE_URL_FIELD_NUMBER: _ClassVar[int]
    TASK_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TOKEN_EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    TRACEPARENT_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_TIMEOUT_SEC_FIELD_NUMBER: _ClassVar[int]
    SENSOR_EVALUATION_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    workspace_id: str
    task_id: str
    task_key: str
    run_id: str
    attempt: int
    attempt_id: str
    dispatch_id: str
    execution_location_id: str
    partition_key: str
    worker_queue: str
    callback_base_url: str
    task_token: str
    token_expires_at: _timestamp_pb2.Timestamp
    traceparent: str
    payload: _struct_pb2.Struct
    heartbeat_timeout_sec: int
    sensor_evaluation: SensorEvaluation
    def __init__(self, tenant_id: _Optional[str] = ..., workspace_id: _Optional[str] = ..., task_id: _Optional[str] = ..., task_key: _Optional[str] = ..., run_id: _Optional[str] = ..., attempt: _Optional[int] = ..., attempt_id: _Optional[str] = ..., dispatch_id: _Optional[str] = ..., execution_location_id: _Optional[str] = ..., partition_key: _Optional[str] = ..., worker_queue: _Optional[str] = ..., callback_base_url: _Optional[str] = ..., task_token: _Optional[str] = ..., token_expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., traceparent: _Optional[str] = ..., payload: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., heartbeat_timeout_sec: _Optional[int] = ..., sensor_evaluation: _Optional[_Union[SensorEvaluation, _Mapping]] = ...) -> None: ...

class SensorEvaluation(_message.Message):
    __slots__ = ("sensor_id", "eval_id", "cursor", "expected_state_version")
    SENSOR_ID_FIELD_NUMBER: _ClassVar[int]
    EVAL_ID_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_STATE_VERSION_FIELD_NUMBER: _ClassVar[int]
    sensor_id: str
    eval_id: str
    cursor: str
    expected_state_version: int
    def __init__(self, sensor_id: _Optional[str] = ..., eval_id: _Optional[str] = ..., cursor: _Optional[str] = ..., expected_state_version: _Optional[int] = ...) -> None: ...

class TaskOutput(_message.Message):
    __slots__ = ("materialization_id", "row_count", "byte_size", "output_path", "delta_table", "delta_version", "delta_partition", "output_visibility_state", "published_at", "publish_error")
    MATERIALIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    ROW_COUNT_FIELD_NUMBER: _ClassVar[int]
    BYTE_SIZE_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_PATH_FIELD_NUMBER: _ClassVar[int]
    DELTA_TABLE_FIELD_NUMBER: _ClassVar[int]
    DELTA_VERSION_FIELD_NUMBER: _ClassVar[int]
    DELTA_PARTITION_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_VISIBILITY_STATE_FIELD_NUMBER: _ClassVar[int]
    PUBLISHED_AT_FIELD_NUMBER: _ClassVar[int]
    PUBLISH_ERROR_FIELD_NUMBER: _ClassVar[int]
    materialization_id: str
    row_count: int
    byte_size: int
    output_path: str
    delta_table: str
    delta_version: int
    delta_partition: str
    output_visibility_state: str
    published_at: _timestamp_pb2.Timestamp
    publish_error: str
    def __init__(self, materialization_id: _Optional[str] = ..., row_count: _Optional[int] = ..., byte_size: _Optional[int] = ..., output_path: _Optional[str] = ..., delta_table: _Optional[str] = ..., delta_version: _Optional[int] = ..., delta_partition: _Optional[str] = ..., output_visibility_state: _Optional[str] = ..., published_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., publish_error: _Optional[str] = ...) -> None: ...

class TaskError(_message.Message):
    __slots__ = ("category", "message", "stack_trace", "retryable")
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    STACK_TRACE_FIELD_NUMBER: _ClassVar[int]
    RETRYABLE_FIELD_NUMBER: _ClassVar[int]
    category: str
    message: str
    stack_trace: str
    retryable: bool
    def __init__(self, category: _Optional[str] = ..., message: _Optional[str] = ..., stack_trace: _Optional[str] = ..., retryable: _Optional[bool] = ...) -> None: ...

class TaskMetrics(_message.Message):
    __slots__ = ("cpu_time_ms", "peak_memory_bytes", "io_read_bytes", "io_write_bytes")
    CPU_TIME_MS_FIELD_NUMBER: _ClassVar[int]
    PEAK_MEMORY_BYTES_FIELD_NUMBER: _ClassVar[int]
    IO_READ_BYTES_FIELD_NUMBER: _ClassVar[int]
    IO_WRITE_BYTES_FIELD_NUMBER: _ClassVar[int]
    cpu_time_ms: int
    peak_memory_bytes: int
    io_read_bytes: int
    io_write_bytes: int
    def __init__(self, cpu_time_ms: _Optional[int] = ..., peak_memory_bytes: _Optional[int] = ..., io_read_bytes: _Optional[int] = ..., io_write_bytes: _Optional[int] = ...) -> None: ...

class CallbackError(_message.Message):
    __slots__ = ("error", "message", "state", "expected_attempt", "received_attempt", "expected_attempt_id", "received_attempt_id")
    ERROR_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_ATTEMPT_ID_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_ATTEMPT_ID_FIELD_NUMBER: _ClassVar[int]
    error: str
    message: str
    state: str
    expected_attempt: int
    received_attempt: int
    expected_attempt_id: str
    received_attempt_id: str
    def __init__(self, error: _Optional[str] = ..., message: _Optional[str] = ..., state: _Optional[str] = ..., expected_attempt: _Optional[int] = ..., received_attempt: _Optional[int] = ..., expected_attempt_id: _Optional[str] = ..., received_attempt_id: _Optional[str] = ...) -> None: ...
