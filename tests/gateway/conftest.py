"""Gateway tests run the real app against a real grpc.aio server on 127.0.0.1:0.

The gateway runs in staging posture and talks to that server over mutual TLS with the
tests' mesh certificates (the gateway's role gateway, the server's role api), as in
production. The server hosts scripted test servicers for every method the route table calls: each
call is recorded (method, request, metadata) and answered with the scripted response or
status (UNIMPLEMENTED when nothing is scripted). The gateway is the unit under test.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any

import grpc
import httpx
import jwt
import pytest
from google.protobuf import any_pb2
from google.protobuf.message import Message
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from arco_core.errors import ArcoError
from arco_runtime.tls import Role
from gateway.app import create_app
from gateway.config import GatewayConfig, JwtConfig, RateLimitConfig
from gateway.routes import RouteSpec, route_table
from services.common.status import to_status
from tests.support.tls import tls_config

JWT_SECRET = "test-jwt-secret-0123456789abcdef0123"
IDENTITY_SECRET = "test-identity-secret-0123456789abcdef"
ISSUER = "https://issuer.test"
AUDIENCE = "arco-api"
TENANT = "acme"
WORKSPACE = "analytics"


@dataclasses.dataclass
class Fail:
    """A scripted failure: status code, message and an optional ErrorInfo."""

    code: grpc.StatusCode
    message: str
    reason: str = ""
    metadata: Mapping[str, str] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class Call:
    method: str
    request: Any
    metadata: dict[str, str]


class Upstream:
    """The scripted api: ``script[rpc_name] = response | Fail | ArcoError | callable(request)``."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.script: dict[str, Any] = {}
        self.port = 0

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def reset(self) -> None:
        self.calls.clear()
        self.script.clear()

    def last(self, method: str | None = None) -> Call:
        calls = [c for c in self.calls if method is None or c.method == method]
        assert calls, f"no upstream call to {method}"
        return calls[-1]

    def handler(self, rpc: str, response_type: type[Message]) -> Callable[..., Any]:
        async def handle(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            metadata = dict(context.invocation_metadata() or ())
            self.calls.append(Call(rpc, request, metadata))
            answer = self.script.get(rpc)
            if callable(answer) and not isinstance(answer, Message):
                answer = answer(request)
            if answer is None:
                await context.abort(grpc.StatusCode.UNIMPLEMENTED, f"{rpc} not scripted")
            if isinstance(answer, ArcoError):  # what a real servicer sends for it
                await context.abort_with_status(to_status(answer))
            if isinstance(answer, Fail):
                details = []
                if answer.reason or answer.metadata:
                    packed = any_pb2.Any()
                    packed.Pack(
                        error_details_pb2.ErrorInfo(
                            reason=answer.reason, domain="arco.dev", metadata=answer.metadata
                        )
                    )
                    details.append(packed)
                await context.abort_with_status(
                    rpc_status.to_status(
                        status_pb2.Status(
                            code=answer.code.value[0], message=answer.message, details=details
                        )
                    )
                )
            return answer

        return handle


def _generic_handlers(upstream: Upstream, specs: Sequence[RouteSpec]) -> list[Any]:
    by_service: dict[str, dict[str, Any]] = {}
    for spec in specs:
        by_service.setdefault(spec.service, {})[spec.rpc] = grpc.unary_unary_rpc_method_handler(
            upstream.handler(spec.rpc, spec.response_type),
            request_deserializer=spec.request_type.FromString,
            response_serializer=spec.response_type.SerializeToString,
        )
    return [
        grpc.method_handlers_generic_handler(name, methods) for name, methods in by_service.items()
    ]


@pytest.fixture(scope="session")
async def upstream_server() -> AsyncIterator[Upstream]:
    upstream = Upstream()
    server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
    server.add_generic_rpc_handlers(_generic_handlers(upstream, route_table()))
    upstream.port = server.add_secure_port("127.0.0.1:0", tls_config(Role.API).server_credentials())
    await server.start()
    try:
        yield upstream
    finally:
        await server.stop(grace=None)


@pytest.fixture
def upstream(upstream_server: Upstream) -> Upstream:
    upstream_server.reset()
    return upstream_server


def make_config(address: str, **overrides: Any) -> GatewayConfig:
    base: dict[str, Any] = {
        "api_address": address,
        "environment": "staging",
        "jwt": JwtConfig(secret=JWT_SECRET, issuer=ISSUER, audience=AUDIENCE),
        "identity_secret": IDENTITY_SECRET,
        "rate_limit": RateLimitConfig(per_minute=0),
        "upstream_timeout_sec": 5.0,
        "tls": tls_config(Role.GATEWAY),
    }
    base.update(overrides)
    return GatewayConfig(**base)


def make_token(
    secret: str = JWT_SECRET, algorithm: str = "HS256", drop: Sequence[str] = (), **claims: Any
) -> str:
    now = int(time.time())
    payload: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "alice",
        "tenant": TENANT,
        "workspace": WORKSPACE,
        "groups": ["eng"],
        "iat": now,
        "exp": now + 300,
    }
    payload.update(claims)
    for key in drop:
        payload.pop(key, None)
    return jwt.encode(payload, secret, algorithm=algorithm)


def auth_headers(**claims: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {make_token(**claims)}"}


class GatewayClient:
    """An httpx client on the app (lifespan running) plus the upstream it talks to."""

    def __init__(self, client: httpx.AsyncClient, upstream: Upstream) -> None:
        self.http = client
        self.upstream = upstream

    async def request(
        self, method: str, url: str, *, auth: bool = True, **kwargs: Any
    ) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}) or {})
        if auth and "Authorization" not in headers:
            headers.update(auth_headers())
        return await self.http.request(method, url, headers=headers, **kwargs)


@contextlib.asynccontextmanager
async def open_client(
    config: GatewayConfig, upstream: Upstream, **app_kwargs: Any
) -> AsyncIterator[GatewayClient]:
    app = create_app(config, **app_kwargs)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as c:
            yield GatewayClient(c, upstream)


@pytest.fixture
async def gw(upstream: Upstream) -> AsyncIterator[GatewayClient]:
    async with open_client(make_config(upstream.address), upstream) as client:
        yield client
