"""Every user RPC of the api is authenticated, by the interceptor and not by its servicer.

The RPCs come from the generated descriptors of the services the api registers, so a
new RPC (or a new service) is covered the day it exists. The api runs in-process on a
real grpc.aio server outside dev posture, its compactors unreachable: every request
here is refused or answered before a compactor would be needed.
"""

from __future__ import annotations

import sys
import time
from collections.abc import AsyncIterator

import grpc
import pytest
from google.protobuf import message_factory
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor
from prometheus_client import CollectorRegistry

from arco_runtime.identity import sign_identity
from services.api import servicers, wiring
from services.api.auth import OPEN_SERVICES
from services.api.config import ApiConfig
from services.common.server import build_server
from services.common.status import error_info

TENANT, WORKSPACE = "acme", "prod"
SECRET = "identity-secret-for-tests"


def _api_services() -> list[ServiceDescriptor]:
    """The generated service of each api servicer (its base class is ``<Service>Servicer``)."""
    found = []
    for name in servicers.__all__:
        base = getattr(servicers, name).__mro__[1]
        pb2 = sys.modules[base.__module__.removesuffix("_grpc")]
        found.append(pb2.DESCRIPTOR.services_by_name[base.__name__.removesuffix("Servicer")])
    return found


USER_RPCS = [
    method
    for service in _api_services()
    if service.full_name not in OPEN_SERVICES
    for method in service.methods
]


def _rpc_id(method: MethodDescriptor) -> str:
    return f"{method.containing_service.name}.{method.name}"


def _credentials(tenant: str = TENANT, workspace: str = WORKSPACE) -> list[tuple[str, str]]:
    return sign_identity(tenant, workspace, "ana", ["eng"], secret=SECRET, now=time.time())


@pytest.fixture(scope="module")
async def api(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[grpc.aio.Channel]:
    env = {
        "ARCO_ENVIRONMENT": "staging",
        "ARCO_IDENTITY_SECRET": SECRET,
        "ARCO_TASK_TOKEN_SECRET": "task-token-secret-of-32-bytes-at-least",
        "ARCO_TENANT_ID": TENANT,
        "ARCO_WORKSPACE_ID": WORKSPACE,
        "ARCO_STORAGE_URL": tmp_path_factory.mktemp("api-auth").as_uri(),
        # Nothing listens here: a request that reached a compactor would time out.
        "ARCO_ORCH_COMPACTOR_ADDRESS": "127.0.0.1:9",
        "ARCO_CATALOG_COMPACTOR_ADDRESS": "127.0.0.1:9",
    }
    registry = CollectorRegistry()
    parts = await wiring.build(ApiConfig.from_env(env), registry, env)
    built = await build_server(parts.registrations, "127.0.0.1:0", registry, parts.interceptors)
    assert set(built.service_names) == {s.full_name for s in _api_services()}
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{built.port}") as channel:
            yield channel
    finally:
        await built.server.stop(0)
        if parts.close is not None:
            await parts.close()


async def _call(
    channel: grpc.aio.Channel,
    method: MethodDescriptor,
    metadata: list[tuple[str, str]],
    **fields: str,
) -> grpc.StatusCode:
    request = message_factory.GetMessageClass(method.input_type)(**fields)
    path = f"/{method.containing_service.full_name}/{method.name}"
    try:
        if method.server_streaming:
            stream = channel.unary_stream(path, request_serializer=type(request).SerializeToString)
            async for _ in stream(request, metadata=metadata, timeout=10):
                pass
        else:
            unary = channel.unary_unary(path, request_serializer=type(request).SerializeToString)
            await unary(request, metadata=metadata, timeout=10)
    except grpc.aio.AioRpcError as exc:
        if exc.code() == grpc.StatusCode.UNAUTHENTICATED:
            assert error_info(exc).reason == "invalid_identity"
        return exc.code()
    return grpc.StatusCode.OK


def test_the_api_serves_user_rpcs_and_exempts_only_worker_callbacks() -> None:
    assert len(USER_RPCS) > 30
    exempt = {s.full_name for s in _api_services()} & OPEN_SERVICES
    assert exempt == {"arco.orchestration.v1.TaskCallbackService"}


@pytest.mark.parametrize("method", USER_RPCS, ids=_rpc_id)
async def test_every_user_rpc_needs_a_signed_identity(
    api: grpc.aio.Channel, method: MethodDescriptor
) -> None:
    assert await _call(api, method, []) == grpc.StatusCode.UNAUTHENTICATED
    forged = [(key, value[:-2] + "AA") for key, value in _credentials()]
    assert await _call(api, method, forged) == grpc.StatusCode.UNAUTHENTICATED
    code = await _call(api, method, _credentials())
    # Admitted: the servicer answers (an empty request is mostly invalid or not found).
    assert code not in {
        grpc.StatusCode.UNAUTHENTICATED,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNIMPLEMENTED,
    }


@pytest.mark.parametrize("method", USER_RPCS, ids=_rpc_id)
async def test_another_scope_sees_nothing(api: grpc.aio.Channel, method: MethodDescriptor) -> None:
    assert await _call(api, method, _credentials(tenant="other")) == grpc.StatusCode.NOT_FOUND
    if "workspace_id" in method.input_type.fields_by_name:
        code = await _call(api, method, _credentials(), workspace_id="other")
        assert code == grpc.StatusCode.NOT_FOUND
