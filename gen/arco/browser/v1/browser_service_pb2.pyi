import datetime

from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class MintUrlsRequest(_message.Message):
    __slots__ = ("domain", "paths", "ttl_seconds")
    DOMAIN_FIELD_NUMBER: _ClassVar[int]
    PATHS_FIELD_NUMBER: _ClassVar[int]
    TTL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    domain: str
    paths: _containers.RepeatedScalarFieldContainer[str]
    ttl_seconds: int
    def __init__(self, domain: _Optional[str] = ..., paths: _Optional[_Iterable[str]] = ..., ttl_seconds: _Optional[int] = ...) -> None: ...

class SignedUrl(_message.Message):
    __slots__ = ("path", "url")
    PATH_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    path: str
    url: str
    def __init__(self, path: _Optional[str] = ..., url: _Optional[str] = ...) -> None: ...

class MintUrlsResponse(_message.Message):
    __slots__ = ("urls", "ttl_seconds", "expires_at")
    URLS_FIELD_NUMBER: _ClassVar[int]
    TTL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    urls: _containers.RepeatedCompositeFieldContainer[SignedUrl]
    ttl_seconds: int
    expires_at: _timestamp_pb2.Timestamp
    def __init__(self, urls: _Optional[_Iterable[_Union[SignedUrl, _Mapping]]] = ..., ttl_seconds: _Optional[int] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListBrowsableFilesRequest(_message.Message):
    __slots__ = ("domain",)
    DOMAIN_FIELD_NUMBER: _ClassVar[int]
    domain: str
    def __init__(self, domain: _Optional[str] = ...) -> None: ...

class BrowsableFile(_message.Message):
    __slots__ = ("domain", "table", "path", "size_bytes")
    DOMAIN_FIELD_NUMBER: _ClassVar[int]
    TABLE_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    domain: str
    table: str
    path: str
    size_bytes: int
    def __init__(self, domain: _Optional[str] = ..., table: _Optional[str] = ..., path: _Optional[str] = ..., size_bytes: _Optional[int] = ...) -> None: ...

class ListBrowsableFilesResponse(_message.Message):
    __slots__ = ("files", "state_versions")
    class StateVersionsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    FILES_FIELD_NUMBER: _ClassVar[int]
    STATE_VERSIONS_FIELD_NUMBER: _ClassVar[int]
    files: _containers.RepeatedCompositeFieldContainer[BrowsableFile]
    state_versions: _containers.ScalarMap[str, int]
    def __init__(self, files: _Optional[_Iterable[_Union[BrowsableFile, _Mapping]]] = ..., state_versions: _Optional[_Mapping[str, int]] = ...) -> None: ...
