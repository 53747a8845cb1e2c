"""gRPC settings every Arco process uses the same way, declared once."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Final, TypeAlias

import grpc

# The largest gRPC message a server accepts or a client receives (query results, logs).
MAX_MESSAGE_BYTES: Final = 64 * 1024 * 1024

# Request-latency histogram buckets, seconds: the services and the gateway report alike.
LATENCY_BUCKETS: Final = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


# A grpc.aio behaviour: a coroutine (unary response) or an async generator (streaming
# response) of the request (or request iterator) and the servicer context.
Behaviour: TypeAlias = Callable[[Any, Any], Any]
_KINDS: Final = (
    ("unary_unary", grpc.unary_unary_rpc_method_handler, False),
    ("unary_stream", grpc.unary_stream_rpc_method_handler, True),
    ("stream_unary", grpc.stream_unary_rpc_method_handler, False),
    ("stream_stream", grpc.stream_stream_rpc_method_handler, True),
)


def rewrap_handler(
    handler: grpc.RpcMethodHandler[Any, Any], wrap: Callable[[Behaviour, bool], Behaviour]
) -> grpc.RpcMethodHandler[Any, Any]:
    """``handler`` with its behaviour replaced by ``wrap(behaviour, streams_responses)``,
    whatever its kind: the one place server interceptors rebuild a method handler."""
    for attribute, make, streaming in _KINDS:
        behaviour = getattr(handler, attribute)
        if behaviour is not None:
            return make(
                wrap(behaviour, streaming),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
    return handler


def admitting(
    handler: grpc.RpcMethodHandler[Any, Any], admit: Callable[[Any, Any], Awaitable[None]]
) -> grpc.RpcMethodHandler[Any, Any]:
    """``handler`` that first awaits ``admit(request, context)`` (which aborts the RPC to
    refuse it): the shape of every per-RPC check."""

    def wrap(inner: Behaviour, streaming: bool) -> Behaviour:
        if streaming:

            async def guarded_stream(request: Any, context: Any) -> AsyncIterator[Any]:
                await admit(request, context)
                async for response in inner(request, context):
                    yield response

            return guarded_stream

        async def guarded(request: Any, context: Any) -> Any:
            await admit(request, context)
            return await inner(request, context)

        return guarded

    return rewrap_handler(handler, wrap)
