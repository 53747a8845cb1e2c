from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DispatchError(_message.Message):
    __slots__ = ("kind", "id", "message")
    KIND_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    kind: str
    id: str
    message: str
    def __init__(self, kind: _Optional[str] = ..., id: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class RunDispatchRequest(_message.Message):
    __slots__ = ("tenant_id", "workspace_id")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    WORKSPACE_ID_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    workspace_id: str
    def __init__(self, tenant_id: _Optional[str] = ..., workspace_id: _Optional[str] = ...) -> None: ...

class RunDispatchResponse(_message.Message):
    __slots__ = ("ready_dispatch_emitted", "ready_dispatch_skipped", "dispatch_actions", "dispatch_enqueued", "dispatch_deduplicated", "dispatch_failed", "errors", "manifest_seq")
    READY_DISPATCH_EMITTED_FIELD_NUMBER: _ClassVar[int]
    READY_DISPATCH_SKIPPED_FIELD_NUMBER: _ClassVar[int]
    DISPATCH_ACTIONS_FIELD_NUMBER: _ClassVar[int]
    DISPATCH_ENQUEUED_FIELD_NUMBER: _ClassVar[int]
    DISPATCH_DEDUPLICATED_FIELD_NUMBER: _ClassVar[int]
    DISPATCH_FAILED_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    MANIFEST_SEQ_FIELD_NUMBER: _ClassVar[int]
    ready_dispatch_emitted: int
    ready_dispatch_skipped: int
    dispatch_actions: int
    dispatch_enqueued: int
    dispatch_deduplicated: int
    dispatch_failed: int
    errors: _containers.RepeatedCompositeFieldContainer[DispatchError]
    manifest_seq: int
    def __init__(self, ready_dispatch_emitted: _Optional[int] = ..., ready_dispatch_skipped: _Optional[int] = ..., dispatch_actions: _Optional[int] = ..., dispatch_enqueued: _Optional[int] = ..., dispatch_deduplicated: _Optional[int] = ..., dispatch_failed: _Optional[int] = ..., errors: _Optional[_Iterable[_Union[DispatchError, _Mapping]]] = ..., manifest_seq: _Optional[int] = ...) -> None: ...

class GetDispatcherStatusRequest(_message.Message):
    __slots__ = ("tenant_id", "workspace_id")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    WORKSPACE_ID_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    workspace_id: str
    def __init__(self, tenant_id: _Optional[str] = ..., workspace_id: _Optional[str] = ...) -> None: ...

class GetDispatcherStatusResponse(_message.Message):
    __slots__ = ("adapter", "last_seen_manifest_seq", "passes", "envelopes_sent")
    ADAPTER_FIELD_NUMBER: _ClassVar[int]
    LAST_SEEN_MANIFEST_SEQ_FIELD_NUMBER: _ClassVar[int]
    PASSES_FIELD_NUMBER: _ClassVar[int]
    ENVELOPES_SENT_FIELD_NUMBER: _ClassVar[int]
    adapter: str
    last_seen_manifest_seq: int
    passes: int
    envelopes_sent: int
    def __init__(self, adapter: _Optional[str] = ..., last_seen_manifest_seq: _Optional[int] = ..., passes: _Optional[int] = ..., envelopes_sent: _Optional[int] = ...) -> None: ...
