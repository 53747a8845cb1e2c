from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ResultFormat(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RESULT_FORMAT_UNSPECIFIED: _ClassVar[ResultFormat]
    RESULT_FORMAT_ARROW: _ClassVar[ResultFormat]
    RESULT_FORMAT_JSON: _ClassVar[ResultFormat]
RESULT_FORMAT_UNSPECIFIED: ResultFormat
RESULT_FORMAT_ARROW: ResultFormat
RESULT_FORMAT_JSON: ResultFormat

class QueryRequest(_message.Message):
    __slots__ = ("sql", "format", "as_of")
    SQL_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    sql: str
    format: ResultFormat
    as_of: int
    def __init__(self, sql: _Optional[str] = ..., format: _Optional[_Union[ResultFormat, str]] = ..., as_of: _Optional[int] = ...) -> None: ...

class QueryResponse(_message.Message):
    __slots__ = ("data", "content_type", "row_count", "truncated", "state_versions")
    class StateVersionsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    DATA_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    ROW_COUNT_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    STATE_VERSIONS_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    content_type: str
    row_count: int
    truncated: bool
    state_versions: _containers.ScalarMap[str, int]
    def __init__(self, data: _Optional[bytes] = ..., content_type: _Optional[str] = ..., row_count: _Optional[int] = ..., truncated: _Optional[bool] = ..., state_versions: _Optional[_Mapping[str, int]] = ...) -> None: ...

class QueryDataRequest(_message.Message):
    __slots__ = ("sql", "format", "as_of")
    SQL_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    sql: str
    format: ResultFormat
    as_of: int
    def __init__(self, sql: _Optional[str] = ..., format: _Optional[_Union[ResultFormat, str]] = ..., as_of: _Optional[int] = ...) -> None: ...

class QueryDataResponse(_message.Message):
    __slots__ = ("data", "content_type", "row_count", "truncated", "state_versions")
    class StateVersionsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    DATA_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    ROW_COUNT_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    STATE_VERSIONS_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    content_type: str
    row_count: int
    truncated: bool
    state_versions: _containers.ScalarMap[str, int]
    def __init__(self, data: _Optional[bytes] = ..., content_type: _Optional[str] = ..., row_count: _Optional[int] = ..., truncated: _Optional[bool] = ..., state_versions: _Optional[_Mapping[str, int]] = ...) -> None: ...
