import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CompactEventsRequest(_message.Message):
    __slots__ = ("event_paths", "request_id", "tenant_id", "workspace_id")
    EVENT_PATHS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    WORKSPACE_ID_FIELD_NUMBER: _ClassVar[int]
    event_paths: _containers.RepeatedScalarFieldContainer[str]
    request_id: str
    tenant_id: str
    workspace_id: str
    def __init__(self, event_paths: _Optional[_Iterable[str]] = ..., request_id: _Optional[str] = ..., tenant_id: _Optional[str] = ..., workspace_id: _Optional[str] = ...) -> None: ...

class CompactEventsResponse(_message.Message):
    __slots__ = ("manifest_seq", "events_applied", "events_skipped", "group_size")
    MANIFEST_SEQ_FIELD_NUMBER: _ClassVar[int]
    EVENTS_APPLIED_FIELD_NUMBER: _ClassVar[int]
    EVENTS_SKIPPED_FIELD_NUMBER: _ClassVar[int]
    GROUP_SIZE_FIELD_NUMBER: _ClassVar[int]
    manifest_seq: int
    events_applied: int
    events_skipped: int
    group_size: int
    def __init__(self, manifest_seq: _Optional[int] = ..., events_applied: _Optional[int] = ..., events_skipped: _Optional[int] = ..., group_size: _Optional[int] = ...) -> None: ...

class SyncCompactRequest(_message.Message):
    __slots__ = ("event_paths", "fencing_token", "lock_name", "request_id", "tenant_id", "workspace_id")
    EVENT_PATHS_FIELD_NUMBER: _ClassVar[int]
    FENCING_TOKEN_FIELD_NUMBER: _ClassVar[int]
    LOCK_NAME_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    WORKSPACE_ID_FIELD_NUMBER: _ClassVar[int]
    event_paths: _containers.RepeatedScalarFieldContainer[str]
    fencing_token: int
    lock_name: str
    request_id: str
    tenant_id: str
    workspace_id: str
    def __init__(self, event_paths: _Optional[_Iterable[str]] = ..., fencing_token: _Optional[int] = ..., lock_name: _Optional[str] = ..., request_id: _Optional[str] = ..., tenant_id: _Optional[str] = ..., workspace_id: _Optional[str] = ...) -> None: ...

class SyncCompactResponse(_message.Message):
    __slots__ = ("manifest_seq", "events_applied", "events_skipped")
    MANIFEST_SEQ_FIELD_NUMBER: _ClassVar[int]
    EVENTS_APPLIED_FIELD_NUMBER: _ClassVar[int]
    EVENTS_SKIPPED_FIELD_NUMBER: _ClassVar[int]
    manifest_seq: int
    events_applied: int
    events_skipped: int
    def __init__(self, manifest_seq: _Optional[int] = ..., events_applied: _Optional[int] = ..., events_skipped: _Optional[int] = ...) -> None: ...

class WatchHeadRequest(_message.Message):
    __slots__ = ("after_seq", "tenant_id", "workspace_id")
    AFTER_SEQ_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    WORKSPACE_ID_FIELD_NUMBER: _ClassVar[int]
    after_seq: int
    tenant_id: str
    workspace_id: str
    def __init__(self, after_seq: _Optional[int] = ..., tenant_id: _Optional[str] = ..., workspace_id: _Optional[str] = ...) -> None: ...

class WatchHeadResponse(_message.Message):
    __slots__ = ("domain", "manifest_seq", "manifest_path", "published_at", "last_event_id")
    DOMAIN_FIELD_NUMBER: _ClassVar[int]
    MANIFEST_SEQ_FIELD_NUMBER: _ClassVar[int]
    MANIFEST_PATH_FIELD_NUMBER: _ClassVar[int]
    PUBLISHED_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    domain: str
    manifest_seq: int
    manifest_path: str
    published_at: _timestamp_pb2.Timestamp
    last_event_id: str
    def __init__(self, domain: _Optional[str] = ..., manifest_seq: _Optional[int] = ..., manifest_path: _Optional[str] = ..., published_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_event_id: _Optional[str] = ...) -> None: ...

class GetHeadRequest(_message.Message):
    __slots__ = ("tenant_id", "workspace_id")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    WORKSPACE_ID_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    workspace_id: str
    def __init__(self, tenant_id: _Optional[str] = ..., workspace_id: _Optional[str] = ...) -> None: ...

class GetHeadResponse(_message.Message):
    __slots__ = ("domain", "manifest_seq", "manifest_path", "published_at", "last_event_id")
    DOMAIN_FIELD_NUMBER: _ClassVar[int]
    MANIFEST_SEQ_FIELD_NUMBER: _ClassVar[int]
    MANIFEST_PATH_FIELD_NUMBER: _ClassVar[int]
    PUBLISHED_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    domain: str
    manifest_seq: int
    manifest_path: str
    published_at: _timestamp_pb2.Timestamp
    last_event_id: str
    def __init__(self, domain: _Optional[str] = ..., manifest_seq: _Optional[int] = ..., manifest_path: _Optional[str] = ..., published_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_event_id: _Optional[str] = ...) -> None: ...

class RebuildRequest(_message.Message):
    __slots__ = ("event_paths", "request_id", "partial", "tenant_id", "workspace_id")
    EVENT_PATHS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    PARTIAL_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    WORKSPACE_ID_FIELD_NUMBER: _ClassVar[int]
    event_paths: _containers.RepeatedScalarFieldContainer[str]
    request_id: str
    partial: bool
    tenant_id: str
    workspace_id: str
    def __init__(self, event_paths: _Optional[_Iterable[str]] = ..., request_id: _Optional[str] = ..., partial: _Optional[bool] = ..., tenant_id: _Optional[str] = ..., workspace_id: _Optional[str] = ...) -> None: ...

class RebuildResponse(_message.Message):
    __slots__ = ("manifest_seq", "events_applied", "events_skipped", "paths_read", "tables", "whole")
    MANIFEST_SEQ_FIELD_NUMBER: _ClassVar[int]
    EVENTS_APPLIED_FIELD_NUMBER: _ClassVar[int]
    EVENTS_SKIPPED_FIELD_NUMBER: _ClassVar[int]
    PATHS_READ_FIELD_NUMBER: _ClassVar[int]
    TABLES_FIELD_NUMBER: _ClassVar[int]
    WHOLE_FIELD_NUMBER: _ClassVar[int]
    manifest_seq: int
    events_applied: int
    events_skipped: int
    paths_read: int
    tables: _containers.RepeatedCompositeFieldContainer[TableRows]
    whole: bool
    def __init__(self, manifest_seq: _Optional[int] = ..., events_applied: _Optional[int] = ..., events_skipped: _Optional[int] = ..., paths_read: _Optional[int] = ..., tables: _Optional[_Iterable[_Union[TableRows, _Mapping]]] = ..., whole: _Optional[bool] = ...) -> None: ...

class TableRows(_message.Message):
    __slots__ = ("table", "rows")
    TABLE_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    table: str
    rows: int
    def __init__(self, table: _Optional[str] = ..., rows: _Optional[int] = ...) -> None: ...

class VerifyProjectionRequest(_message.Message):
    __slots__ = ("tenant_id", "workspace_id")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    WORKSPACE_ID_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    workspace_id: str
    def __init__(self, tenant_id: _Optional[str] = ..., workspace_id: _Optional[str] = ...) -> None: ...

class VerifyProjectionResponse(_message.Message):
    __slots__ = ("matches", "manifest_seq", "events_replayed", "tables", "published_last_event_id", "ledger_last_event_id")
    MATCHES_FIELD_NUMBER: _ClassVar[int]
    MANIFEST_SEQ_FIELD_NUMBER: _ClassVar[int]
    EVENTS_REPLAYED_FIELD_NUMBER: _ClassVar[int]
    TABLES_FIELD_NUMBER: _ClassVar[int]
    PUBLISHED_LAST_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    LEDGER_LAST_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    matches: bool
    manifest_seq: int
    events_replayed: int
    tables: _containers.RepeatedCompositeFieldContainer[TableComparison]
    published_last_event_id: str
    ledger_last_event_id: str
    def __init__(self, matches: _Optional[bool] = ..., manifest_seq: _Optional[int] = ..., events_replayed: _Optional[int] = ..., tables: _Optional[_Iterable[_Union[TableComparison, _Mapping]]] = ..., published_last_event_id: _Optional[str] = ..., ledger_last_event_id: _Optional[str] = ...) -> None: ...

class TableComparison(_message.Message):
    __slots__ = ("table", "published_rows", "replayed_rows", "matches", "only_published", "only_replayed", "differing", "sample_keys")
    TABLE_FIELD_NUMBER: _ClassVar[int]
    PUBLISHED_ROWS_FIELD_NUMBER: _ClassVar[int]
    REPLAYED_ROWS_FIELD_NUMBER: _ClassVar[int]
    MATCHES_FIELD_NUMBER: _ClassVar[int]
    ONLY_PUBLISHED_FIELD_NUMBER: _ClassVar[int]
    ONLY_REPLAYED_FIELD_NUMBER: _ClassVar[int]
    DIFFERING_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_KEYS_FIELD_NUMBER: _ClassVar[int]
    table: str
    published_rows: int
    replayed_rows: int
    matches: bool
    only_published: int
    only_replayed: int
    differing: int
    sample_keys: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, table: _Optional[str] = ..., published_rows: _Optional[int] = ..., replayed_rows: _Optional[int] = ..., matches: _Optional[bool] = ..., only_published: _Optional[int] = ..., only_replayed: _Optional[int] = ..., differing: _Optional[int] = ..., sample_keys: _Optional[_Iterable[str]] = ...) -> None: ...
