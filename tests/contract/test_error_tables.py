"""The error tables are the registry: every class has a gRPC and an HTTP row, survives the
wire as itself, and every class that pins an HTTP status is raised by real code."""

from __future__ import annotations

import ast
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from prometheus_client import CollectorRegistry

from arco_core import errors
from arco_runtime.rpc_errors import HTTP_BY_GRPC
from gateway.errors import from_rpc_error as gateway_from_rpc_error
from services.common.interceptors import RpcMetrics, ServerInterceptor
from services.common.status import GRPC_STATUS, from_rpc_error

ROOT = Path(__file__).resolve().parents[2]
# Rebuilt by clients from a transport status; no server code raises it.
CLIENT_SIDE_ONLY = {errors.DeadlineExceeded}
CLASSES = errors.error_classes()
METHOD = "/arco.test.v1.Errors/Raise"


def _http_row(error_class: type[errors.ArcoError]) -> int:
    return error_class.http_status or HTTP_BY_GRPC[GRPC_STATUS[error_class.code]]


def test_every_error_code_and_class_has_a_grpc_and_an_http_row() -> None:
    assert set(GRPC_STATUS) == set(errors.ErrorCode)
    for error_class in CLASSES:
        assert GRPC_STATUS[error_class.code] in HTTP_BY_GRPC, error_class
        assert 400 <= _http_row(error_class) <= 599, error_class


def test_registry_keys_are_unique_and_rebuild_their_class() -> None:
    keys = [(c.code, c.default_reason) for c in CLASSES]
    assert len(keys) == len(set(keys))
    for error_class in CLASSES:
        assert errors.error_class(error_class.code, error_class.default_reason) is error_class
    # An unregistered reason rebuilds the code's base class, keeping the reason.
    assert errors.error_class(errors.ErrorCode.NOT_FOUND, "no_such_reason") is errors.NotFound
    with pytest.raises(TypeError, match="repeats"):
        type("Twin", (errors.NotFound,), {"default_reason": "task_not_found"})


def _constructed_names(paths: list[Path]) -> set[str]:
    names: set[str] = set()
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                func = node.func
                if isinstance(func, ast.Name):
                    names.add(func.id)
                elif isinstance(func, ast.Attribute):
                    names.add(func.attr)
    return names


def test_every_error_class_is_raised_by_server_code() -> None:
    sources = [
        p
        for package in ("arco_core", "services")
        for p in (ROOT / package).rglob("*.py")
        if p != ROOT / "arco_core" / "errors.py"
    ]
    constructed = _constructed_names(sources)
    unused = [c.__name__ for c in CLASSES if c not in CLIENT_SIDE_ONLY]
    unused = [name for name in unused if name not in constructed]
    assert unused == [], f"error classes no server code raises: {unused}"
    pinned = [c for c in CLASSES if c.http_status is not None]
    assert pinned, "the registry pins at least 410 task_expired"


class _Raising:
    """A generic handler that raises the error class named in the request bytes."""

    def __init__(self) -> None:
        self.by_name = {c.__name__: c for c in CLASSES}

    async def handle(
        self, request: bytes, context: grpc.aio.ServicerContext[bytes, bytes]
    ) -> bytes:
        error_class = self.by_name[request.decode()]
        raise error_class(f"{error_class.__name__} raised", metadata={"detail": "kept"})


@pytest.fixture
async def channel() -> AsyncIterator[grpc.aio.Channel]:
    server = grpc.aio.server(interceptors=[ServerInterceptor(RpcMetrics(CollectorRegistry()))])
    handler = grpc.method_handlers_generic_handler(
        "arco.test.v1.Errors",
        {"Raise": grpc.unary_unary_rpc_method_handler(_Raising().handle)},
    )
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as chan:
            yield chan
    finally:
        await server.stop(None)


@pytest.mark.parametrize("error_class", CLASSES, ids=lambda c: c.__name__)
async def test_each_class_crosses_a_real_grpc_call_as_itself(
    channel: grpc.aio.Channel, error_class: type[errors.ArcoError]
) -> None:
    call = channel.unary_unary(METHOD)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call(error_class.__name__.encode())
    assert info.value.code() == GRPC_STATUS[error_class.code]
    rebuilt = from_rpc_error(info.value)
    assert type(rebuilt) is error_class
    assert (rebuilt.reason, rebuilt.message) == (
        error_class.default_reason,
        f"{error_class.__name__} raised",
    )
    assert rebuilt.metadata == {"detail": "kept"}  # the HTTP pin stays on the wire
    upstream = gateway_from_rpc_error(info.value)
    assert upstream.status == _http_row(error_class)
    assert upstream.reason == error_class.default_reason
    assert dict(upstream.metadata) == {"detail": "kept"}
