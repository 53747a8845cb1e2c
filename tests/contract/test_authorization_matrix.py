"""Issue #11 acceptance: the authorization matrix is total, and every server enforces it.

Totality: every RPC declared in ``proto/`` (the generated descriptors under ``gen/``),
plus gRPC health and reflection, has exactly one row, and no row names an RPC that does
not exist. Enforcement: a real mesh (every service its own process, mutual TLS with the
test CA); every RPC of every server is called with an empty request over a channel
presenting each role's certificate. A role the matrix refuses gets PERMISSION_DENIED
naming the role and the RPC; an admitted role gets anything else (an empty request is
mostly INVALID_ARGUMENT or UNAUTHENTICATED). The cases are generated from the
descriptors, so a new RPC is called for every role without editing this file.

Every admitted call is harmless with an empty request: the write RPCs (Rebuild,
CompactEvents, SyncCompact, the catalog DDL, DeployManifest, ...) reject a request
without paths or names before touching storage, and RunDispatch / RunSweep run one
ordinary pass on an idle mesh.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import message_factory
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor
from grpc_health.v1 import health_pb2
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from arco_runtime.authz import MATRIX, Grant, refusal
from arco_runtime.tls import Role, mint_mesh, sync_channel
from services.mesh import Mesh
from tests.conftest import REPO_ROOT
from tests.integration.e2e_assets.harness import DAG_MODULE
from tests.support import tls as test_tls

HEALTH = "grpc.health.v1.Health"
REFLECTION = "grpc.reflection.v1alpha.ServerReflection"
UNARY_TIMEOUT = 10.0
STREAM_TIMEOUT = 2.0  # an admitted watch may wait for news: any status but a refusal


def _declared_services() -> Iterator[ServiceDescriptor]:
    # gen/arco is a namespace package (no __init__.py), which pkgutil does not walk.
    gen = REPO_ROOT / "gen"
    for path in sorted(gen.glob("arco/**/*_pb2.py")):
        name = ".".join(path.relative_to(gen).with_suffix("").parts)
        yield from importlib.import_module(name).DESCRIPTOR.services_by_name.values()
    yield from health_pb2.DESCRIPTOR.services_by_name.values()
    yield from reflection_pb2.DESCRIPTOR.services_by_name.values()


SERVICES: dict[str, ServiceDescriptor] = {s.full_name: s for s in _declared_services()}


def declared_rpcs(services: Iterable[ServiceDescriptor]) -> list[tuple[str, str]]:
    """Every (service, method) of ``services``, each once per declaration."""
    return [(service.full_name, method.name) for service in services for method in service.methods]


def matrix_gaps(
    declared: Iterable[tuple[str, str]], matrix: Mapping[str, Mapping[str, Grant]]
) -> list[str]:
    """What keeps ``matrix`` from having exactly one row per declared RPC, one line each."""
    problems: list[str] = []
    seen: set[tuple[str, str]] = set()
    for rpc in declared:
        if rpc in seen:
            problems.append(f"declared twice: {rpc[0]}/{rpc[1]}")
        seen.add(rpc)
    rows = {(service, name) for service, methods in matrix.items() for name in methods}
    problems += [f"no matrix row for {s}/{m}" for s, m in sorted(seen - rows)]
    problems += [
        f"matrix row for an RPC that does not exist: {s}/{m}" for s, m in sorted(rows - seen)
    ]
    problems += [f"empty matrix service: {s}" for s, methods in matrix.items() if not methods]
    return problems


# -- totality ---------------------------------------------------------------------------


def test_every_declared_rpc_has_exactly_one_row() -> None:
    problems = matrix_gaps(declared_rpcs(SERVICES.values()), MATRIX)
    assert not problems, "the authorization matrix does not fit proto/:\n" + "\n".join(problems)


def test_the_totality_check_names_missing_and_extra_rows() -> None:
    declared = [("pkg.S", "Kept"), ("pkg.S", "New")]
    matrix = {"pkg.S": {"Kept": Grant(frozenset()), "Gone": Grant(frozenset())}}
    assert matrix_gaps(declared, matrix) == [
        "no matrix row for pkg.S/New",
        "matrix row for an RPC that does not exist: pkg.S/Gone",
    ]
    assert matrix_gaps(
        [*declared, ("pkg.S", "New")],
        {"pkg.S": {"Kept": Grant(frozenset()), "New": Grant(frozenset())}, "pkg.T": {}},
    ) == [
        "declared twice: pkg.S/New",
        "empty matrix service: pkg.T",
    ]


def test_every_grant_names_a_mesh_role() -> None:
    for service, methods in MATRIX.items():
        for name, grant in methods.items():
            assert grant.roles, f"{service}/{name} is granted to no role"
            assert all(isinstance(role, Role) for role in grant.roles)


# -- enforcement on the real servers ------------------------------------------------------

# What each server of the mesh serves beside health and reflection (the worker's gRPC
# server serves only dispatch).
SERVERS: dict[str, tuple[str, ...]] = {
    "api": (
        "arco.orchestration.v1.OrchestrationService",
        "arco.orchestration.v1.TaskCallbackService",
        "arco.catalog.v1.CatalogService",
        "arco.query.v1.QueryService",
        "arco.browser.v1.BrowserService",
        HEALTH,
        REFLECTION,
    ),
    "compactor-orchestration": ("arco.compactor.v1.CompactorService", HEALTH, REFLECTION),
    "compactor-catalog": ("arco.compactor.v1.CompactorService", HEALTH, REFLECTION),
    "dispatcher": ("arco.dispatch.v1.DispatcherService", HEALTH, REFLECTION),
    "sweeper": ("arco.sweeper.v1.SweeperService", HEALTH, REFLECTION),
    "worker-1": ("arco.worker.v1.WorkerService",),
}


def test_every_declared_service_is_served_by_a_server_of_the_matrix_test() -> None:
    served = {service for services in SERVERS.values() for service in services}
    assert served == set(SERVICES), "add the new service to SERVERS so its RPCs are called"


def _cases() -> Iterator[Any]:
    for server, services in SERVERS.items():
        for service_name in services:
            for method in SERVICES[service_name].methods:
                for role in Role:
                    yield pytest.param(
                        server, method, role, id=f"{server}-{method.name}-{role.value}"
                    )


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mesh]:
    running = Mesh(tmp_path_factory.mktemp("authz-mesh"), workers=1, worker_modules=[DAG_MODULE])
    running.certs = test_tls.test_certs()  # every process (and every test client) from the test CA
    running.start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def channels(mesh: Mesh) -> Iterator[dict[tuple[str, Role], grpc.Channel]]:
    """One channel per (server, role), opened on first use."""
    opened: dict[tuple[str, Role], grpc.Channel] = {}
    try:
        yield opened
    finally:
        for channel in opened.values():
            channel.close()


def _channel(
    mesh: Mesh, channels: dict[tuple[str, Role], grpc.Channel], server: str, role: Role
) -> grpc.Channel:
    if (server, role) not in channels:
        channels[server, role] = sync_channel(
            mesh.address(server), test_tls.test_certs().config(role)
        )
    return channels[server, role]


def call_empty(channel: grpc.Channel, method: MethodDescriptor) -> tuple[grpc.StatusCode, str]:
    """Call ``method`` with a default request; its status (OK once a first message came)."""
    request_type = message_factory.GetMessageClass(method.input_type)
    response_type = message_factory.GetMessageClass(method.output_type)
    path = f"/{method.containing_service.full_name}/{method.name}"
    serialize = request_type.SerializeToString
    deserialize = response_type.FromString
    request = request_type()
    try:
        if not method.client_streaming and not method.server_streaming:
            channel.unary_unary(path, serialize, deserialize)(request, timeout=UNARY_TIMEOUT)
            return grpc.StatusCode.OK, ""
        if method.client_streaming:
            stream = channel.stream_stream(path, serialize, deserialize)
            responses = stream(iter([request]), timeout=STREAM_TIMEOUT)
        else:
            responses = channel.unary_stream(path, serialize, deserialize)(
                request, timeout=STREAM_TIMEOUT
            )
        try:
            next(responses)
        finally:
            responses.cancel()
        return grpc.StatusCode.OK, ""
    except StopIteration:
        return grpc.StatusCode.OK, ""
    except grpc.RpcError as exc:
        return exc.code(), exc.details() or ""


@pytest.mark.parametrize(("server", "method", "role"), list(_cases()))
def test_every_rpc_admits_exactly_the_roles_of_its_row(
    mesh: Mesh,
    channels: dict[tuple[str, Role], grpc.Channel],
    server: str,
    method: MethodDescriptor,
    role: Role,
) -> None:
    grant = MATRIX[method.containing_service.full_name][method.name]
    full = f"/{method.containing_service.full_name}/{method.name}"
    code, details = call_empty(_channel(mesh, channels, server, role), method)
    if role in grant.roles:
        # The handshake went through and the call reached the server's handlers.
        assert code is not grpc.StatusCode.UNAVAILABLE, f"{full} as {role.value}: {details}"
        assert code is not grpc.StatusCode.PERMISSION_DENIED, (
            f"{role.value} is granted {full} but {server} said {details}"
        )
    else:
        assert code is grpc.StatusCode.PERMISSION_DENIED, (
            f"{role.value} may not call {full} but {server} answered {code.name}: {details}"
        )
        assert details == refusal(role, full)
        assert role.value in details and full in details


@pytest.mark.parametrize("server", [name for name, s in SERVERS.items() if REFLECTION in s])
def test_every_served_service_has_rows(
    mesh: Mesh, channels: dict[tuple[str, Role], grpc.Channel], server: str
) -> None:
    """What a server really registers (its reflection list) is what the test calls."""
    stub = reflection_pb2_grpc.ServerReflectionStub(_channel(mesh, channels, server, Role.OPERATOR))
    answers = stub.ServerReflectionInfo(
        iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=UNARY_TIMEOUT
    )
    served = {s.name for answer in answers for s in answer.list_services_response.service}
    assert served == set(SERVERS[server])
    assert served <= set(MATRIX)


# -- no mesh certificate: no handshake ----------------------------------------------------


def _refused(channel: grpc.Channel) -> grpc.StatusCode:
    with channel:
        check = channel.unary_unary(
            f"/{HEALTH}/Check",
            health_pb2.HealthCheckRequest.SerializeToString,
            health_pb2.HealthCheckResponse.FromString,
        )
        with pytest.raises(grpc.RpcError) as refused:
            check(health_pb2.HealthCheckRequest(), timeout=UNARY_TIMEOUT)
    code: grpc.StatusCode = refused.value.code()
    return code


@pytest.mark.parametrize("server", list(SERVERS))
def test_a_client_without_a_mesh_certificate_is_refused(
    mesh: Mesh, server: str, tmp_path: Path
) -> None:
    address = mesh.address(server)
    ca = test_tls.test_certs().ca_cert.read_bytes()
    # TLS that trusts the mesh CA but presents no client certificate.
    tls_only = grpc.secure_channel(address, grpc.ssl_channel_credentials(root_certificates=ca))
    assert _refused(tls_only) is grpc.StatusCode.UNAVAILABLE
    assert _refused(grpc.insecure_channel(address)) is grpc.StatusCode.UNAVAILABLE
    # A certificate of the right shape (operator URI SAN) from another CA.
    foreign = mint_mesh(tmp_path / "foreign-ca", [Role.OPERATOR]).for_role(Role.OPERATOR)
    presented = grpc.ssl_channel_credentials(
        root_certificates=ca,
        private_key=foreign.key.read_bytes(),
        certificate_chain=foreign.cert.read_bytes(),
    )
    assert _refused(grpc.secure_channel(address, presented)) is grpc.StatusCode.UNAVAILABLE
    # The other CA's whole mesh view: it does not trust our servers either.
    other = sync_channel(address, mint_mesh(tmp_path / "foreign-mesh").config(Role.OPERATOR))
    assert _refused(other) is grpc.StatusCode.UNAVAILABLE
    # ... while the operator's mesh certificate is admitted (the refusals are the CA's).
    with sync_channel(address, test_tls.test_certs().config(Role.OPERATOR)) as good:
        if server.startswith("worker"):
            return  # the worker serves no health; its admission is the Dispatch cases above
        answer = good.unary_unary(
            f"/{HEALTH}/Check",
            health_pb2.HealthCheckRequest.SerializeToString,
            health_pb2.HealthCheckResponse.FromString,
        )(health_pb2.HealthCheckRequest(), timeout=UNARY_TIMEOUT)
        assert answer.status == health_pb2.HealthCheckResponse.SERVING
