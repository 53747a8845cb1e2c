from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SweepError(_message.Message):
    __slots__ = ("kind", "id", "message")
    KIND_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    kind: str
    id: str
    message: str
    def __init__(self, kind: _Optional[str] = ..., id: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class RunSweepRequest(_message.Message):
    __slots__ = ("dry_run", "tenant_id", "workspace_id")
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    WORKSPACE_ID_FIELD_NUMBER: _ClassVar[int]
    dry_run: bool
    tenant_id: str
    workspace_id: str
    def __init__(self, dry_run: _Optional[bool] = ..., tenant_id: _Optional[str] = ..., workspace_id: _Optional[str] = ...) -> None: ...

class RunSweepResponse(_message.Message):
    __slots__ = ("repairs_created", "redispatch_attempted", "redispatch_enqueued", "redispatch_deduplicated", "redispatch_failed", "tasks_force_failed", "skipped_due_to_lag", "errors", "manifest_seq")
    REPAIRS_CREATED_FIELD_NUMBER: _ClassVar[int]
    REDISPATCH_ATTEMPTED_FIELD_NUMBER: _ClassVar[int]
    REDISPATCH_ENQUEUED_FIELD_NUMBER: _ClassVar[int]
    REDISPATCH_DEDUPLICATED_FIELD_NUMBER: _ClassVar[int]
    REDISPATCH_FAILED_FIELD_NUMBER: _ClassVar[int]
    TASKS_FORCE_FAILED_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_DUE_TO_LAG_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    MANIFEST_SEQ_FIELD_NUMBER: _ClassVar[int]
    repairs_created: int
    redispatch_attempted: int
    redispatch_enqueued: int
    redispatch_deduplicated: int
    redispatch_failed: int
    tasks_force_failed: int
    skipped_due_to_lag: int
    errors: _containers.RepeatedCompositeFieldContainer[SweepError]
    manifest_seq: int
    def __init__(self, repairs_created: _Optional[int] = ..., redispatch_attempted: _Optional[int] = ..., redispatch_enqueued: _Optional[int] = ..., redispatch_deduplicated: _Optional[int] = ..., redispatch_failed: _Optional[int] = ..., tasks_force_failed: _Optional[int] = ..., skipped_due_to_lag: _Optional[int] = ..., errors: _Optional[_Iterable[_Union[SweepError, _Mapping]]] = ..., manifest_seq: _Optional[int] = ...) -> None: ...
