from arco.orchestration.v1 import worker_protocol_pb2 as _worker_protocol_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DispatchDisposition(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DISPATCH_DISPOSITION_UNSPECIFIED: _ClassVar[DispatchDisposition]
    DISPATCH_DISPOSITION_ACCEPTED: _ClassVar[DispatchDisposition]
    DISPATCH_DISPOSITION_DUPLICATE: _ClassVar[DispatchDisposition]
    DISPATCH_DISPOSITION_IN_FLIGHT: _ClassVar[DispatchDisposition]
DISPATCH_DISPOSITION_UNSPECIFIED: DispatchDisposition
DISPATCH_DISPOSITION_ACCEPTED: DispatchDisposition
DISPATCH_DISPOSITION_DUPLICATE: DispatchDisposition
DISPATCH_DISPOSITION_IN_FLIGHT: DispatchDisposition

class DispatchRequest(_message.Message):
    __slots__ = ("envelope",)
    ENVELOPE_FIELD_NUMBER: _ClassVar[int]
    envelope: _worker_protocol_pb2.WorkerDispatchEnvelope
    def __init__(self, envelope: _Optional[_Union[_worker_protocol_pb2.WorkerDispatchEnvelope, _Mapping]] = ...) -> None: ...

class DispatchResponse(_message.Message):
    __slots__ = ("disposition", "worker_id")
    DISPOSITION_FIELD_NUMBER: _ClassVar[int]
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    disposition: DispatchDisposition
    worker_id: str
    def __init__(self, disposition: _Optional[_Union[DispatchDisposition, str]] = ..., worker_id: _Optional[str] = ...) -> None: ...
