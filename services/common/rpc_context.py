"""What servicers read off an RPC: its metadata, its request id, and proto timestamps."""

from __future__ import annotations

import uuid
from typing import overload

import structlog
from google.protobuf import timestamp_pb2

from services.common.interceptors import REQUEST_ID_KEY
from services.common.server import RpcContext


def metadata(context: RpcContext, key: str) -> str | None:
    """The first value of metadata ``key`` (binary values decoded leniently), or None."""
    for name, value in context.invocation_metadata() or ():
        if name == key:
            return value if isinstance(value, str) else value.decode("utf-8", "replace")
    return None


def request_id(context: RpcContext) -> str:
    """The RPC's request id: the one the server interceptor bound to the log context (the
    caller's ``x-request-id`` or a fresh one), never empty."""
    bound = structlog.contextvars.get_contextvars().get("request_id")
    return str(bound or metadata(context, REQUEST_ID_KEY) or uuid.uuid4().hex)


@overload
def timestamp_from_ms(epoch_ms: int) -> timestamp_pb2.Timestamp: ...


@overload
def timestamp_from_ms(epoch_ms: int | None) -> timestamp_pb2.Timestamp | None: ...


def timestamp_from_ms(epoch_ms: int | None) -> timestamp_pb2.Timestamp | None:
    """Epoch milliseconds as a ``Timestamp``; an absent time stays absent."""
    if epoch_ms is None:
        return None
    stamp = timestamp_pb2.Timestamp()
    stamp.FromMilliseconds(epoch_ms)
    return stamp
