"""The HTTP/JSON gateway: translates /api/v1 REST calls to the api's gRPC services.

It only translates protocols; it never imports domain code. Per request, in order:
request id (kept or minted, echoed on every response) -> route match (404/405 envelopes)
-> authentication (user JWT / dev headers; task routes forward their bearer token) ->
workspace check -> per-tenant rate limit -> body limit and JSON parse -> request mapper
-> one unary gRPC call over the channel created in the lifespan -> reply mapper.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import json
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any

import grpc
import structlog
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from arco_runtime.identity import sign_identity
from arco_runtime.ratelimit import RateLimiter
from arco_runtime.rpc import LATENCY_BUCKETS, MAX_MESSAGE_BYTES
from arco_runtime.tls import aio_channel
from gateway import errors
from gateway.auth import Authenticator, bearer_token
from gateway.config import GatewayConfig
from gateway.errors import ApiError
from gateway.mappers.replies import JSON, Inbound, Reply
from gateway.openapi import OPENAPI_PATH, build_openapi
from gateway.request_id import accept_or_new
from gateway.routes import Auth, Content, RateClass, RouteSpec, route_table

log = structlog.get_logger(__name__)

REQUEST_ID_HEADER = "x-request-id"
FORWARDED_HEADERS = ("traceparent", "idempotency-key")
# gRPC ASCII metadata values are printable ASCII only; anything else fails the call
# client-side (a 500), so header values are checked before they are forwarded.
_METADATA_VALUE = re.compile(r"[\x20-\x7e]*")
# Optional route modules: each exposes routes(config) and is mounted when importable.
OPTIONAL_ROUTE_MODULES = ("gateway.signed_files", "gateway.console", "gateway.ui")


class RequestIdMiddleware:
    """Keeps or mints the request id, binds it for logs, echoes it on every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        header = None
        for name, value in scope.get("headers", ()):
            if name == b"x-request-id":
                header = value.decode("latin-1")
                break
        request_id = accept_or_new(header)
        scope.setdefault("state", {})["request_id"] = request_id
        structlog.contextvars.bind_contextvars(request_id=request_id)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if REQUEST_ID_HEADER not in headers:
                    headers[REQUEST_ID_HEADER] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            structlog.contextvars.unbind_contextvars("request_id")


class _Metrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "arco_gateway_requests",
            "REST requests answered, by operation and HTTP status.",
            ["operation", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "arco_gateway_request_latency_seconds",
            "REST request latency.",
            ["operation"],
            registry=registry,
            buckets=LATENCY_BUCKETS,
        )


def request_id_of(request: Request) -> str:
    return str(request.scope.get("state", {}).get("request_id") or accept_or_new(None))


async def read_body(request: Request, limit: int) -> bytes:
    too_large = ApiError(
        413, f"request body exceeds {limit} bytes", callback_error="payload_too_large"
    )
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


def parse_json_object(raw: bytes, content_type: str) -> dict[str, Any]:
    if not raw.strip():
        return {}
    media = content_type.split(";", 1)[0].strip().lower()
    if media and media != "application/json" and not media.endswith("+json"):
        raise ApiError(415, "Content-Type must be application/json")
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise errors.bad_request(f"malformed JSON body: {exc}") from None
    except RecursionError:
        raise errors.bad_request("JSON body nested too deeply") from None
    if not isinstance(body, dict):
        raise errors.bad_request("request body must be a JSON object")
    return body


def metadata_safe(value: str) -> bool:
    return _METADATA_VALUE.fullmatch(value) is not None


def forwarded_headers(headers: Mapping[str, str]) -> list[tuple[str, str]]:
    """Headers forwarded as metadata: an unsendable Idempotency-Key is the caller's error
    (400); an unsendable traceparent is dropped, as W3C trace context does."""
    forwarded: list[tuple[str, str]] = []
    for name in FORWARDED_HEADERS:
        value = headers.get(name)
        if not value:
            continue
        if not metadata_safe(value):
            if name == "idempotency-key":
                raise errors.bad_request("Idempotency-Key must be printable ASCII")
            continue
        forwarded.append((name, value))
    return forwarded


def render_reply(reply: Reply, content: Content) -> Response:
    headers = dict(reply.headers)
    if content is Content.NONE or reply.status == 204:
        return Response(status_code=reply.status, headers=headers)
    if reply.media_type == JSON and reply.content is None:
        return Response(
            json.dumps(reply.body, separators=(",", ":"), ensure_ascii=False),
            status_code=reply.status,
            media_type=JSON,
            headers=headers,
        )
    return Response(
        reply.content or b"", status_code=reply.status, media_type=reply.media_type, headers=headers
    )


class Gateway:
    """The route handlers and their dependencies (one per app)."""

    def __init__(
        self,
        config: GatewayConfig,
        routes: Sequence[RouteSpec],
        metrics: _Metrics,
        *,
        clock: Callable[[], float],
        wall_clock: Callable[[], float],
    ) -> None:
        self.config = config
        self.routes = tuple(routes)
        self.metrics = metrics
        self.wall_clock = wall_clock
        self.authenticator = Authenticator(config)
        limits = config.rate_limit
        self.limiters: dict[RateClass, RateLimiter] = {}
        if limits.enabled:
            self.limiters = {
                RateClass.DEFAULT: RateLimiter(
                    limits.per_minute, limits.burst, limits.max_keys, clock
                ),
                RateClass.URL_MINT: RateLimiter(
                    limits.url_per_minute, limits.url_burst, limits.max_keys, clock
                ),
            }
        self.calls: dict[str, grpc.aio.UnaryUnaryMultiCallable[Any, Any]] = {}

    def bind(self, channel: grpc.aio.Channel) -> None:
        self.calls = {
            spec.operation_id: channel.unary_unary(
                spec.grpc_method,
                request_serializer=spec.request_type.SerializeToString,
                response_deserializer=spec.response_type.FromString,
            )
            for spec in self.routes
        }

    def endpoint(self, spec: RouteSpec) -> Callable[[Request], Any]:
        async def handle(request: Request) -> Response:
            started = time.perf_counter()
            request_id = request_id_of(request)
            extra_headers: dict[str, str] = {}
            callback = spec.auth is Auth.TASK
            try:
                reply = await self._dispatch(spec, request, request_id, extra_headers)
                response = render_reply(reply, spec.content)
            except ApiError as exc:
                response = errors.render_api_error(exc, request_id, callback=callback)
            except grpc.aio.AioRpcError as exc:
                response = errors.render_upstream_error(
                    errors.from_rpc_error(exc), request_id, callback=callback
                )
            except Exception as exc:
                error_id = uuid.uuid4().hex
                log.error("gateway_internal_error", error_id=error_id, exc_info=exc)
                response = errors.internal_error(request_id, error_id)
            for name, value in extra_headers.items():
                response.headers.setdefault(name, value)
            elapsed = time.perf_counter() - started
            self.metrics.requests.labels(spec.operation_id, str(response.status_code)).inc()
            self.metrics.latency.labels(spec.operation_id).observe(elapsed)
            log.info(
                "http_request",
                operation=spec.operation_id,
                method=spec.method,
                status=response.status_code,
                ms=round(elapsed * 1e3, 3),
            )
            return response

        return handle

    async def _dispatch(
        self, spec: RouteSpec, request: Request, request_id: str, out_headers: dict[str, str]
    ) -> Reply:
        headers = request.headers
        metadata: list[tuple[str, str]] = [(REQUEST_ID_HEADER, request_id)]
        if spec.auth is Auth.USER:
            caller = self.authenticator.authenticate(headers)
            workspace = request.path_params.get("workspace_id")
            if workspace is not None and workspace != caller.workspace:
                raise errors.not_found("workspace not found")
            rate_key: str | None = f"tenant:{caller.tenant}"
            if self.config.identity_secret:
                metadata.extend(
                    sign_identity(
                        caller.tenant,
                        caller.workspace,
                        caller.user,
                        caller.groups,
                        secret=self.config.identity_secret,
                        now=self.wall_clock(),
                        ttl_sec=self.config.identity_ttl_sec,
                    )
                )
        else:
            # Task token: forwarded untouched, validated by the api. Only its presence
            # is checked here, so an anonymous request never reaches the api.
            if bearer_token(headers) is None:
                raise ApiError(
                    401,
                    "missing bearer token",
                    code="MISSING_AUTH",
                    callback_error="invalid_token",
                    headers={"WWW-Authenticate": 'Bearer realm="arco-task"'},
                )
            if not metadata_safe(headers["authorization"]):
                raise ApiError(
                    401,
                    "invalid bearer token",
                    code="INVALID_TOKEN",
                    callback_error="invalid_token",
                    headers={"WWW-Authenticate": 'Bearer realm="arco-task"'},
                )
            metadata.append(("authorization", headers["authorization"]))
            if self.config.dev_auth:
                metadata.extend(
                    (name, headers[name])
                    for name in ("x-tenant-id", "x-workspace-id")
                    if name in headers and metadata_safe(headers[name])
                )
            # Not limited here: a task id in the path is the caller's to choose. The api
            # limits callbacks by the verified token's run (services/api/callback_limits).
            rate_key = None
        if rate_key is not None:
            self._rate_limit(spec, rate_key, out_headers)

        body: dict[str, Any] | None = None
        if spec.body:
            raw = await read_body(request, self.config.max_body_bytes)
            body = parse_json_object(raw, headers.get("content-type", ""))
        query: dict[str, list[str]] = {}
        for key, value in request.query_params.multi_items():
            query.setdefault(key, []).append(value)
        inbound = Inbound(
            path=dict(request.path_params), query=query, body=body, headers=dict(headers)
        )
        message = spec.request(spec.request_type, inbound, spec.query)
        metadata.extend(forwarded_headers(headers))
        response = await self.calls[spec.operation_id](
            message, metadata=metadata, timeout=self.config.upstream_timeout_sec
        )
        return spec.reply(response, inbound)

    def _rate_limit(self, spec: RouteSpec, key: str, out_headers: dict[str, str]) -> None:
        limiter = self.limiters.get(spec.rate_class)
        if limiter is None:
            return
        decision = limiter.check(key)
        out_headers["X-RateLimit-Limit"] = str(decision.limit)
        out_headers["X-RateLimit-Remaining"] = str(decision.remaining)
        if not decision.allowed:
            log.info("rate_limited", key_kind=key.split(":", 1)[0], operation=spec.operation_id)
            raise ApiError(
                429,
                f"Rate limit exceeded. Limit: {decision.limit} requests per minute. "
                f"Retry after {decision.retry_after_sec} seconds.",
                code="RATE_LIMITED",
                headers={
                    "Retry-After": str(decision.retry_after_sec),
                    "X-RateLimit-Limit": str(decision.limit),
                    "X-RateLimit-Remaining": "0",
                },
            )


def optional_routes(config: GatewayConfig) -> list[BaseRoute]:
    """Routes of gateway modules other engineers own, when they exist (routes(config))."""
    mounted: list[BaseRoute] = []
    for name in OPTIONAL_ROUTE_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        factory = getattr(module, "routes", None)
        if not callable(factory):
            continue
        takes_config = bool(inspect.signature(factory).parameters)
        mounted.extend(factory(config) if takes_config else factory())
    return mounted


def create_app(
    config: GatewayConfig,
    registry: CollectorRegistry | None = None,
    *,
    routes: Sequence[RouteSpec] | None = None,
    clock: Callable[[], float] = time.monotonic,
    wall_clock: Callable[[], float] = time.time,
    extra_routes: Sequence[BaseRoute] | None = None,
) -> Starlette:
    metrics_registry = registry or CollectorRegistry()
    specs = tuple(routes if routes is not None else route_table())
    gateway = Gateway(config, specs, _Metrics(metrics_registry), clock=clock, wall_clock=wall_clock)
    openapi_document = build_openapi(specs)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # grpc.aio channels are bound to the running loop: create them here, never at import.
        channel = aio_channel(
            config.api_address,
            config.tls,
            [
                ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
                ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            ],
        )
        app.state.channel = channel
        gateway.bind(channel)
        try:
            yield
        finally:
            await channel.close()

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        stub: Any = health_pb2_grpc.HealthStub(request.app.state.channel)
        try:
            answer = await stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=2.0)
        except grpc.aio.AioRpcError as exc:
            return JSONResponse(
                {"ready": False, "message": f"api unavailable: {exc.code().name}"}, status_code=503
            )
        ready = answer.status == health_pb2.HealthCheckResponse.SERVING
        return JSONResponse({"ready": ready}, status_code=200 if ready else 503)

    async def metrics(request: Request) -> Response:
        return Response(generate_latest(metrics_registry), media_type=CONTENT_TYPE_LATEST)

    async def openapi(request: Request) -> Response:
        return JSONResponse(openapi_document)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        request_id = request_id_of(request)
        if exc.status_code == 404:
            return errors.envelope(
                404, f"no route for {request.method} {request.url.path}", request_id
            )
        if exc.status_code == 405:
            allowed: Mapping[str, str] = exc.headers or {}
            return errors.envelope(
                405,
                f"method {request.method} not allowed on {request.url.path}",
                request_id,
                headers=allowed,
            )
        return errors.envelope(exc.status_code, str(exc.detail), request_id)

    app_routes: list[BaseRoute] = [
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/metrics", metrics),
        Route(OPENAPI_PATH, openapi, methods=["GET"]),
        *(Route(spec.path, gateway.endpoint(spec), methods=[spec.method]) for spec in specs),
        *(extra_routes if extra_routes is not None else optional_routes(config)),
    ]
    return Starlette(
        routes=app_routes,
        middleware=[Middleware(RequestIdMiddleware)],
        exception_handlers={HTTPException: http_error},
        lifespan=lifespan,
    )
