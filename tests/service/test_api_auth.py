"""Every user RPC of the api is authenticated and authorized, by the interceptor and not by
its servicer.

The RPCs come from the generated descriptors of the services the api registers, so a
new RPC (or a new service) is covered the day it exists; the role each needs comes from
the authorization matrix. The api runs in-process on a real grpc.aio server over mutual
TLS (the tests' mesh certificates) outside dev posture, its compactors unreachable:
every request here is refused or answered before a compactor would be needed.

Two credentials reach it: the gateway's signed identity (only from role gateway) and a
user's bearer JWT (the Envoy edge, tools), verified with the gateway's settings.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import grpc
import jwt
import pytest
from arco.orchestration.v1 import orchestration_service_pb2 as orch_pb
from google.protobuf import message_factory
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor
from prometheus_client import CollectorRegistry

from arco_core.clock import SystemClock
from arco_core.paths import Scope
from arco_core.registry import WorkspaceRegistry
from arco_core.storage import open_object_store
from arco_runtime.authz import UserRole, grant_for
from arco_runtime.identity import sign_identity
from arco_runtime.rpc_errors import parse_rpc_error
from arco_runtime.tls import Role
from services.api import servicers, wiring
from services.api.auth import TENANT_METHODS, takes_user
from services.api.config import ApiConfig
from services.common.server import build_server
from tests.support.tls import mesh_channel, tls_config, tls_env

TENANT, WORKSPACE = "acme", "prod"
SECRET = "identity-secret-for-tests-0123456789"
JWT_SECRET = "jwt-secret-for-tests-0123456789abcdef"
ISSUER, AUDIENCE = "https://issuer.test", "arco-api"
# The configured mapping of the staging api: one group per role, and a group of none.
GROUP_ROLES = "analysts=viewer,data-eng=operator,platform=admin"
GROUP_OF = {UserRole.VIEWER: "analysts", UserRole.OPERATOR: "data-eng", UserRole.ADMIN: "platform"}
ADMITTED_NOT = {
    grpc.StatusCode.UNAUTHENTICATED,
    grpc.StatusCode.PERMISSION_DENIED,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.INTERNAL,
    grpc.StatusCode.UNIMPLEMENTED,
}


def _api_services() -> list[ServiceDescriptor]:
    """The generated service of each api servicer (its generated base ``<Service>Servicer``,
    wherever mixins of RPC families put it in the method resolution order)."""
    found = []
    for name in servicers.__all__:
        mro = getattr(servicers, name).__mro__
        base = next(c for c in mro if c.__module__.endswith("_pb2_grpc"))
        pb2 = sys.modules[base.__module__.removesuffix("_grpc")]
        found.append(pb2.DESCRIPTOR.services_by_name[base.__name__.removesuffix("Servicer")])
    return found


USER_RPCS = [
    method
    for service in _api_services()
    for method in service.methods
    if takes_user(f"/{service.full_name}/{method.name}")
]


def _rpc_id(method: MethodDescriptor) -> str:
    return f"{method.containing_service.name}.{method.name}"


def _path(method: MethodDescriptor) -> str:
    return f"/{method.containing_service.full_name}/{method.name}"


def _needed(method: MethodDescriptor) -> UserRole:
    grant = grant_for(_path(method))
    assert grant is not None and grant.user is not None, f"{_path(method)} has no user role"
    return grant.user


def _identity(
    groups: list[str], tenant: str = TENANT, workspace: str = WORKSPACE, user: str = "ana"
) -> list[tuple[str, str]]:
    return sign_identity(tenant, workspace, user, groups, secret=SECRET, now=time.time())


def _jwt(
    groups: list[str], *, secret: str = JWT_SECRET, user: str = "ana", **claims: Any
) -> list[tuple[str, str]]:
    now = int(time.time())
    payload = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": user,
        "tenant": TENANT,
        "workspace": WORKSPACE,
        "groups": groups,
        "iat": now,
        "exp": now + 300,
        **claims,
    }
    return [("authorization", f"Bearer {jwt.encode(payload, secret, algorithm='HS256')}")]


class Api:
    """One in-process api server and a channel per mesh role, opened on first use."""

    def __init__(self, address: str) -> None:
        self.address = address
        self._channels: dict[Role, grpc.aio.Channel] = {}

    def channel(self, role: Role) -> grpc.aio.Channel:
        if role not in self._channels:
            self._channels[role] = mesh_channel(self.address, role)
        return self._channels[role]

    async def close(self) -> None:
        for channel in self._channels.values():
            await channel.close()


def _env(storage: Path, environment: str, **extra: str) -> dict[str, str]:
    return {
        "ARCO_ENVIRONMENT": environment,
        **tls_env(Role.API),
        "ARCO_IDENTITY_SECRET": SECRET,
        "ARCO_TASK_TOKEN_SECRET": "task-token-secret-of-32-bytes-at-least",
        "ARCO_BROWSER_URL_SECRET": "browser-url-secret-of-32-bytes-at-least",
        "ARCO_JWT_SECRET": JWT_SECRET,
        "ARCO_JWT_ISSUER": ISSUER,
        "ARCO_JWT_AUDIENCE": AUDIENCE,
        "ARCO_TENANT_ID": TENANT,
        "ARCO_WORKSPACE_ID": WORKSPACE,
        "ARCO_STORAGE_URL": storage.as_uri(),
        # Nothing listens here: a request that reached a compactor would time out.
        "ARCO_ORCH_COMPACTOR_ADDRESS": "127.0.0.1:9",
        "ARCO_CATALOG_COMPACTOR_ADDRESS": "127.0.0.1:9",
        **extra,
    }


@contextlib.asynccontextmanager
async def _serve(env: Mapping[str, str]) -> AsyncIterator[Api]:
    # Outside dev no workspace exists until an admin creates it; this one is the callers'.
    store = open_object_store(env["ARCO_STORAGE_URL"], {})
    await WorkspaceRegistry(store, SystemClock()).create(Scope(TENANT, WORKSPACE))
    registry = CollectorRegistry()
    parts = await wiring.build(ApiConfig.from_env(env), registry, env)
    built = await build_server(
        parts.registrations, "127.0.0.1:0", registry, tls_config(Role.API), parts.interceptors
    )
    assert set(built.service_names) == {s.full_name for s in _api_services()}
    api = Api(f"127.0.0.1:{built.port}")
    try:
        yield api
    finally:
        await api.close()
        await built.server.stop(0)
        if parts.close is not None:
            await parts.close()


@pytest.fixture(scope="module")
async def api(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Api]:
    env = _env(tmp_path_factory.mktemp("api-auth"), "staging", ARCO_AUTH_GROUP_ROLES=GROUP_ROLES)
    async with _serve(env) as served:
        yield served


@pytest.fixture(scope="module")
async def dev_api(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Api]:
    async with _serve(_env(tmp_path_factory.mktemp("api-auth-dev"), "dev")) as served:
        yield served


async def _call(
    channel: grpc.aio.Channel,
    method: MethodDescriptor,
    metadata: list[tuple[str, str]],
    **fields: str,
) -> grpc.aio.AioRpcError | None:
    """The error the RPC ended with (None: it succeeded)."""
    request = message_factory.GetMessageClass(method.input_type)(**fields)
    try:
        if method.server_streaming:
            stream = channel.unary_stream(
                _path(method), request_serializer=type(request).SerializeToString
            )
            async for _ in stream(request, metadata=metadata, timeout=10):
                pass
        else:
            unary = channel.unary_unary(
                _path(method), request_serializer=type(request).SerializeToString
            )
            await unary(request, metadata=metadata, timeout=10)
    except grpc.aio.AioRpcError as exc:
        return exc
    return None


async def _code(
    channel: grpc.aio.Channel, method: MethodDescriptor, metadata: list[tuple[str, str]]
) -> grpc.StatusCode:
    error = await _call(channel, method, metadata)
    return grpc.StatusCode.OK if error is None else error.code()


async def _refusal(
    channel: grpc.aio.Channel, method: MethodDescriptor, metadata: list[tuple[str, str]]
) -> tuple[grpc.StatusCode, str, str]:
    """(status, reason, message) of a call that must fail."""
    error = await _call(channel, method, metadata)
    assert error is not None, f"{_path(method)} was answered"
    wire = parse_rpc_error(error)
    return error.code(), wire.reason, wire.message


def test_the_api_serves_user_rpcs_and_exempts_only_task_token_calls() -> None:
    assert len(USER_RPCS) > 30
    exempt = {
        f"{service.name}.{method.name}"
        for service in _api_services()
        for method in service.methods
        if not takes_user(f"/{service.full_name}/{method.name}")
    }
    assert exempt == {
        "TaskCallbackService.TaskStarted",
        "TaskCallbackService.TaskHeartbeat",
        "TaskCallbackService.TaskCompleted",
        "TaskCallbackService.SensorEvaluated",
        "OrchestrationService.UploadTaskLogs",
    }
    assert all(_needed(method) for method in USER_RPCS)  # the matrix names a role for each


@pytest.mark.parametrize("method", USER_RPCS, ids=_rpc_id)
async def test_every_user_rpc_without_credentials_is_unauthenticated(
    api: Api, method: MethodDescriptor
) -> None:
    for role in (Role.GATEWAY, Role.EDGE, Role.OPERATOR):
        code, reason, _ = await _refusal(api.channel(role), method, [])
        assert (code, reason) == (grpc.StatusCode.UNAUTHENTICATED, "missing_credentials"), role
    gateway = api.channel(Role.GATEWAY)
    forged = [(key, value[:-2] + "AA") for key, value in _identity(["platform"])]
    code, reason, _ = await _refusal(gateway, method, forged)
    assert (code, reason) == (grpc.StatusCode.UNAUTHENTICATED, "invalid_identity")
    for bad in (
        _jwt(["platform"], secret="not-the-key-of-this-api-0123456789ab"),
        _jwt(["platform"], exp=int(time.time()) - 3600),
        _jwt(["platform"], iss="https://evil.test"),
        [("authorization", "Basic YW5hOnB3")],
    ):
        code, reason, message = await _refusal(api.channel(Role.EDGE), method, bad)
        assert (code, reason, message) == (
            grpc.StatusCode.UNAUTHENTICATED,
            "invalid_token",
            "invalid bearer token",  # the cause is logged, not told
        )
    # Admitted: the servicer answers (an empty request is mostly invalid or not found).
    assert await _code(gateway, method, _identity(["platform"])) not in ADMITTED_NOT


@pytest.mark.parametrize("role", [Role.EDGE, Role.OPERATOR, Role.GATEWAY])
@pytest.mark.parametrize("method", USER_RPCS, ids=_rpc_id)
async def test_a_users_jwt_is_accepted_from_any_public_role(
    api: Api, method: MethodDescriptor, role: Role
) -> None:
    assert await _code(api.channel(role), method, _jwt(["platform"])) not in ADMITTED_NOT


@pytest.mark.parametrize("role", [role for role in Role if role is not Role.GATEWAY])
async def test_a_signed_identity_from_a_non_gateway_role_is_refused(api: Api, role: Role) -> None:
    method = next(m for m in USER_RPCS if m.name == "ListNamespaces")
    channel = api.channel(role)
    code, reason, message = await _refusal(channel, method, _identity(["platform"]))
    if role in (Role.EDGE, Role.OPERATOR):  # public roles: they must bring the user's JWT
        assert (code, reason) == (grpc.StatusCode.UNAUTHENTICATED, "identity_not_from_gateway")
        assert f"role {role.value} must present the user's bearer JWT" in message
        # ... even alongside a valid JWT: a forwarded identity is never taken from them
        both = [*_identity(["platform"]), *_jwt(["platform"])]
        assert (await _refusal(channel, method, both))[1] == "identity_not_from_gateway"
        assert await _code(channel, method, _jwt(["platform"])) not in ADMITTED_NOT
    else:  # no user RPC is granted to the other mesh roles at all
        assert code == grpc.StatusCode.PERMISSION_DENIED
        assert message == f"role {role.value} may not call {_path(method)}"


USER_ROLES = [None, *UserRole]


@pytest.mark.parametrize("credential", ["jwt_from_edge", "identity_from_gateway"])
@pytest.mark.parametrize("user_role", USER_ROLES, ids=lambda r: r.label if r else "no_role")
@pytest.mark.parametrize("method", USER_RPCS, ids=_rpc_id)
async def test_every_public_rpc_by_user_role_is_as_the_matrix_says(
    api: Api, method: MethodDescriptor, user_role: UserRole | None, credential: str
) -> None:
    groups = ["eng"] + ([GROUP_OF[user_role]] if user_role else [])
    if credential == "jwt_from_edge":
        channel, metadata = api.channel(Role.EDGE), _jwt(groups)
    else:
        channel, metadata = api.channel(Role.GATEWAY), _identity(groups)
    needed = _needed(method)
    error = await _call(channel, method, metadata)
    if user_role is not None and user_role >= needed:
        assert error is None or error.code() not in ADMITTED_NOT, error
        return
    assert error is not None and error.code() == grpc.StatusCode.PERMISSION_DENIED
    wire = parse_rpc_error(error)
    held = user_role.label if user_role else "none"
    assert wire.reason == "insufficient_role"
    assert wire.message == (
        f"user 'ana' has roles [{held}] (groups: {', '.join(sorted(groups))}); "
        f"{_path(method).lstrip('/')} needs role {needed.label}"
    )
    assert wire.metadata == {"required_role": needed.label, "roles": held}


async def test_a_user_holds_the_highest_role_of_their_groups(api: Api) -> None:
    method = next(m for m in USER_RPCS if m.name == "CreateNamespace")
    channel = api.channel(Role.EDGE)
    assert await _code(channel, method, _jwt(["analysts", "data-eng"])) == (
        grpc.StatusCode.PERMISSION_DENIED
    )
    assert await _code(channel, method, _jwt(["analysts", "platform"])) not in ADMITTED_NOT
    # The configured mapping replaces the default: a group named admin is nobody here.
    code, _, message = await _refusal(channel, method, _jwt(["admin"]))
    assert code == grpc.StatusCode.PERMISSION_DENIED and "has roles [none]" in message


# Workspace RPCs are of the caller's tenant, whatever workspace the caller names.
SCOPED_USER_RPCS = [method for method in USER_RPCS if _path(method) not in TENANT_METHODS]


@pytest.mark.parametrize("method", SCOPED_USER_RPCS, ids=_rpc_id)
async def test_another_scope_sees_nothing(api: Api, method: MethodDescriptor) -> None:
    gateway, edge = api.channel(Role.GATEWAY), api.channel(Role.EDGE)
    other = _identity(["platform"], tenant="other")
    assert await _code(gateway, method, other) == grpc.StatusCode.NOT_FOUND
    # before any role check: another scope learns nothing, not even that it lacks a role
    assert await _code(gateway, method, _identity([], tenant="other")) == (
        grpc.StatusCode.NOT_FOUND
    )
    assert await _code(edge, method, _jwt(["platform"], tenant="other")) == (
        grpc.StatusCode.NOT_FOUND
    )
    if "workspace_id" in method.input_type.fields_by_name:
        error = await _call(gateway, method, _identity(["platform"]), workspace_id="other")
        assert error is not None and error.code() == grpc.StatusCode.NOT_FOUND


ADMIN_RPCS = [method for method in USER_RPCS if _needed(method) is UserRole.ADMIN]


async def test_workspaces_are_created_by_an_admin_in_their_own_tenant_only(api: Api) -> None:
    service = next(s for s in _api_services() if s.name == "OrchestrationService")
    create, listing = (service.methods_by_name[n] for n in ("CreateWorkspace", "ListWorkspaces"))
    gateway = api.channel(Role.GATEWAY)
    # An admin of tenant "other", whose own workspace does not exist yet: allowed.
    assert await _call(gateway, create, _identity(["platform"], tenant="other"),
                       new_workspace_id="first") is None  # fmt: skip
    error = await _call(
        gateway, create, _identity(["platform"], tenant="other"), new_workspace_id="x",
        tenant_id=TENANT,
    )  # fmt: skip
    assert error is not None and error.code() == grpc.StatusCode.PERMISSION_DENIED
    assert parse_rpc_error(error).reason == "foreign_tenant"
    # An operator is not an admin.
    error = await _call(gateway, create, _identity(["data-eng"]), new_workspace_id="y")
    assert error is not None and error.code() == grpc.StatusCode.PERMISSION_DENIED
    error = await _call(gateway, create, _identity(["platform"]), new_workspace_id="Bad/Id")
    assert error is not None and error.code() == grpc.StatusCode.INVALID_ARGUMENT
    # Each tenant lists its own workspaces.
    lister = gateway.unary_unary(
        _path(listing),
        request_serializer=orch_pb.ListWorkspacesRequest.SerializeToString,
        response_deserializer=orch_pb.ListWorkspacesResponse.FromString,
    )
    for tenant, expected in (("other", [("other", "first")]), (TENANT, [(TENANT, WORKSPACE)])):
        answer = await lister(
            orch_pb.ListWorkspacesRequest(), metadata=_identity(["analysts"], tenant=tenant)
        )
        assert [(w.tenant_id, w.workspace_id) for w in answer.workspaces] == expected


@pytest.mark.parametrize("method", ADMIN_RPCS, ids=_rpc_id)
async def test_dev_posture_maps_every_caller_to_admin(
    dev_api: Api, method: MethodDescriptor
) -> None:
    assert ADMIN_RPCS
    # no credentials at all: this api's own scope, as admin (local tools)
    assert await _code(dev_api.channel(Role.OPERATOR), method, []) not in ADMITTED_NOT
    # a verified user of no group, by JWT or forwarded by the gateway: admin too
    assert await _code(dev_api.channel(Role.EDGE), method, _jwt([])) not in ADMITTED_NOT
    assert await _code(dev_api.channel(Role.GATEWAY), method, _identity([])) not in ADMITTED_NOT
    # a bad credential is refused in dev as anywhere
    bad = _jwt([], secret="not-the-key-of-this-api-0123456789ab")
    assert await _code(dev_api.channel(Role.EDGE), method, bad) == grpc.StatusCode.UNAUTHENTICATED
    # and the forwarded identity still only from the gateway
    assert (await _refusal(dev_api.channel(Role.EDGE), method, _identity([])))[1] == (
        "identity_not_from_gateway"
    )


async def test_dev_posture_with_a_mapping_applies_it(tmp_path: Path) -> None:
    env = _env(tmp_path, "dev", ARCO_AUTH_GROUP_ROLES="analysts=viewer")
    method = next(m for m in USER_RPCS if m.name == "CreateNamespace")
    async with _serve(env) as served:
        edge = served.channel(Role.EDGE)
        code, _, message = await _refusal(edge, method, _jwt(["analysts"]))
        assert code == grpc.StatusCode.PERMISSION_DENIED
        assert "has roles [viewer]" in message and "needs role admin" in message
        # the caller with no credentials is still the local admin
        assert await _code(served.channel(Role.OPERATOR), method, []) not in ADMITTED_NOT
