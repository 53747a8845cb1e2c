"""deploy/k8s/base/envoy/envoy.yaml: validated by the real Envoy binary, and run on loopback in front of a
real mesh (both compactors, the api and the gateway as processes, staging posture, mutual
TLS, users with JWTs): REST and the public gRPC services pass, with the user's JWT verified
by the api; /metrics in any spelling, escaped slashes, internal services, health and
reflection do not."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import grpc
import jwt
import pytest
from arco.catalog.v1 import catalog_service_pb2 as catalog_pb
from arco.catalog.v1 import catalog_service_pb2_grpc as catalog_grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2

from arco_runtime.authz import MATRIX
from arco_runtime.tls import Role
from tests.support.envoy import (
    CONFIG,
    Edge,
    render_config,
    running_envoy,
    validate,
    wait_rest_routable,
)
from tests.support.processes import ServiceProcess, start_service


def test_committed_config_has_no_machine_paths() -> None:
    text = CONFIG.read_text()
    assert "/tmp" not in text and "/work" not in text and "/home" not in text
    assert "/etc/arco/tls/tls.crt" in text and "/etc/arco/mesh/edge.crt" in text


def test_only_the_public_services_are_routed() -> None:
    """The gRPC routes name exactly the services the matrix opens to users."""
    text = CONFIG.read_text()
    public = {s for s, rpcs in MATRIX.items() if any(g.user for g in rpcs.values())}
    routed = {
        line.split('"/')[1].rstrip('/"')
        for line in text.splitlines()
        if line.strip().startswith('prefix: "/arco.')
    }
    assert public and routed == public
    for service, rpcs in MATRIX.items():
        if service not in public:
            assert f"/{service}/" not in text
        # The edge's certificate is admitted to the users' RPCs and nothing else (not the
        # task-token log upload that shares a public service, not health beyond peers).
        assert all((Role.EDGE in g.roles) == bool(g.user) for g in rpcs.values()) or (
            service == "grpc.health.v1.Health"  # every mesh peer; the edge routes none
        )


def test_envoy_validates_the_config(tmp_path: Path) -> None:
    result = validate(render_config(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "OK" in result.stdout + result.stderr
    # The check is real: a typo in the config fails validation.
    broken = tmp_path / "broken.yaml"
    broken.write_text((tmp_path / "envoy.yaml").read_text().replace("stat_prefix:", "stat_prefx:"))
    assert validate(broken).returncode != 0


JWT_SECRET = "edge-test-jwt-secret-0123456789abcdef"
ISSUER, AUDIENCE = "https://issuer.test", "arco"
TENANT, WORKSPACE = "acme", "prod"


def user_jwt(*groups: str, user: str = "ana") -> str:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": user, "tenant": TENANT,
              "workspace": WORKSPACE, "groups": list(groups), "iat": now, "exp": now + 300}  # fmt: skip
    return jwt.encode(claims, JWT_SECRET, algorithm="HS256")


def _stop(processes: list[ServiceProcess]) -> None:
    for process in reversed(processes):
        process.terminate()


@pytest.fixture(scope="module")
def edge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Edge]:
    """Compactors, api and gateway in staging posture (users need a JWT), Envoy in front."""
    tmp_path = tmp_path_factory.mktemp("envoy-edge")
    posture = {
        "ARCO_ENVIRONMENT": "staging",
        "ARCO_TENANT_ID": TENANT,
        "ARCO_WORKSPACE_ID": WORKSPACE,
        "ARCO_TASK_TOKEN_SECRET": "edge-test-task-token-secret-0123456789",
        "ARCO_WORKER_DISPATCH_SECRET": "edge-test-dispatch-secret-0123456789",
        "ARCO_IDENTITY_SECRET": "edge-test-identity-secret-0123456789",
        "ARCO_BROWSER_URL_SECRET": "edge-test-browser-secret-0123456789",
        "ARCO_JWT_SECRET": JWT_SECRET,
        "ARCO_JWT_ISSUER": ISSUER,
        "ARCO_JWT_AUDIENCE": AUDIENCE,
        "ARCO_AUTH_GROUP_ROLES": "analysts=viewer,platform=admin",
    }
    started: list[ServiceProcess] = []
    try:
        compactors = {}
        for domain in ("orchestration", "catalog"):
            compactor = start_service(
                "services.compactor", tmp_path, {**posture, "ARCO_COMPACTOR_DOMAIN": domain},
                name=f"compactor-{domain}",
            )  # fmt: skip
            started.append(compactor)
            compactor.wait_ready(timeout=30)
            compactors[domain] = compactor.grpc_address
        api = start_service(
            "services.api",
            tmp_path,
            {
                **posture,
                "ARCO_ORCH_COMPACTOR_ADDRESS": compactors["orchestration"],
                "ARCO_CATALOG_COMPACTOR_ADDRESS": compactors["catalog"],
            },
            name="api",
        )
        started.append(api)
        api.wait_ready(timeout=30)
        gateway = start_service(
            "gateway", tmp_path, {**posture, "ARCO_API_ADDRESS": api.grpc_address}, name="gateway"
        )
        started.append(gateway)
        gateway_address = str(gateway.wait_ready(timeout=30)["http_address"])
        with running_envoy(tmp_path, gateway=gateway_address, api=api.grpc_address) as front:
            _wait_routable(front)
            yield front
    finally:
        _stop(started)


def _wait_routable(front: Edge) -> None:
    wait_rest_routable(front)
    deadline = time.monotonic() + 30
    with front.channel() as channel:
        stub = catalog_grpc.CatalogServiceStub(channel)
        while True:
            try:
                stub.ListNamespaces(catalog_pb.ListNamespacesRequest(), timeout=5)
            except grpc.RpcError as exc:
                if exc.code() is grpc.StatusCode.UNAVAILABLE and time.monotonic() < deadline:
                    time.sleep(0.2)
                    continue
            return


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_rest_passes_through_to_the_gateway(edge: Edge) -> None:
    with edge.http() as client:
        response = client.get(f"{edge.url}/api/v1/namespaces", headers={"X-Request-Id": "edge-1"})
        # No credentials: the gateway's own envelope (staging posture, JWT required).
        assert response.status_code == 401, response.text
        assert response.json()["code"] == "MISSING_AUTH"
        assert response.headers["x-request-id"] == "edge-1"
        spec = client.get(f"{edge.url}/api/v1/openapi.json")
        assert spec.status_code == 200 and spec.json()["openapi"].startswith("3.")
        # A normalised path still reaches the gateway.
        again = client.get(f"{edge.url}/api/v1/x/../openapi.json")
        assert again.status_code == 200 and again.json()["openapi"].startswith("3.")


@pytest.mark.parametrize(
    "path",
    ["/metrics", "/%6Detrics", "/%6d%65trics", "//metrics", "/api/v1/../metrics",
     "/api/v1/%2E%2E/metrics", "/./metrics", "/METRICS", "/metrics/", "/metrics?x=1"],
)  # fmt: skip
def test_metrics_is_unreachable_in_any_spelling(edge: Edge, path: str) -> None:
    # httpx would normalise dot segments itself: send the raw target.
    with edge.http() as client:
        request = client.build_request("GET", edge.url)
        request.url = request.url.copy_with(raw_path=path.encode())
        response = client.send(request)
    assert response.status_code in (403, 404), (path, response.status_code)
    assert "python_gc" not in response.text and "# HELP" not in response.text


@pytest.mark.parametrize(
    "path", ["/api/v1/namespaces%2Fx", "/api/v1/namespaces%2fx", "/metrics%2F", "/api/v1%5Cmetrics"]
)
def test_an_escaped_slash_is_rejected(edge: Edge, path: str) -> None:
    with edge.http() as client:
        request = client.build_request("GET", edge.url)
        request.url = request.url.copy_with(raw_path=path.encode())
        assert client.send(request).status_code == 400


# Internal RPCs (and health, reflection) a caller might try through the edge.
INTERNAL_RPCS = [
    "/arco.compactor.v1.CompactorService/GetHead",
    "/arco.compactor.v1.CompactorService/Rebuild",
    "/arco.dispatch.v1.DispatcherService/RunDispatch",
    "/arco.sweeper.v1.SweeperService/RunSweep",
    "/arco.worker.v1.WorkerService/Dispatch",
    "/arco.orchestration.v1.TaskCallbackService/TaskStarted",
    "/grpc.health.v1.Health/Check",
]


def test_internal_grpc_services_health_and_reflection_are_not_routed(edge: Edge) -> None:
    metadata = (("authorization", f"Bearer {user_jwt('platform')}"),)
    refused: dict[str, grpc.StatusCode] = {}
    with edge.channel() as channel:
        for path in INTERNAL_RPCS:
            call: grpc.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary(path)
            with pytest.raises(grpc.RpcError) as caught:
                call(b"", metadata=metadata, timeout=10)
            refused[path] = caught.value.code()
        # Health is answered by the api to every mesh peer, so the edge must not route it.
        with pytest.raises(grpc.RpcError) as caught:
            health_pb2_grpc.HealthStub(channel).Check(  # type: ignore[attr-defined]
                health_pb2.HealthCheckRequest(), timeout=10
            )
        refused["health stub"] = caught.value.code()
        reflection: grpc.StreamStreamMultiCallable[Any, bytes] = channel.stream_stream(
            "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
            request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
        )
        with pytest.raises(grpc.RpcError) as caught:
            list(reflection(iter([reflection_pb2.ServerReflectionRequest(list_services="")])))
        refused["reflection"] = caught.value.code()
    assert set(refused.values()) == {grpc.StatusCode.UNIMPLEMENTED}, refused


def test_public_grpc_with_a_user_jwt_succeeds_end_to_end(edge: Edge) -> None:
    admin, viewer = user_jwt("platform"), user_jwt("analysts", user="vic")
    with edge.channel() as channel:
        stub = catalog_grpc.CatalogServiceStub(channel)
        created = stub.CreateNamespace(
            catalog_pb.CreateNamespaceRequest(name="edge_ns"),
            metadata=(("authorization", f"Bearer {admin}"),),
            timeout=15,
        )
        assert created.namespace.name == "edge_ns"
        # A forged gateway identity is dropped at the edge: the JWT decides.
        listed = stub.ListNamespaces(
            catalog_pb.ListNamespacesRequest(),
            metadata=(
                ("authorization", f"Bearer {viewer}"),
                ("x-arco-identity", "forged"),
                ("x-arco-identity-sig", "forged"),
            ),
            timeout=15,
        )
        assert "edge_ns" in [ns.name for ns in listed.namespaces]
        # The viewer may read but not create: the api judged the JWT's user, not the edge.
        with pytest.raises(grpc.RpcError) as denied:
            stub.CreateNamespace(
                catalog_pb.CreateNamespaceRequest(name="nope"),
                metadata=(("authorization", f"Bearer {viewer}"),),
                timeout=15,
            )
        assert denied.value.code() is grpc.StatusCode.PERMISSION_DENIED
    # The same namespace through REST, with the same JWT, verified by the gateway.
    with edge.http() as client:
        response = client.get(f"{edge.url}/api/v1/namespaces", headers=_bearer(viewer))
        assert response.status_code == 200, response.text
        assert "edge_ns" in response.text


def test_public_grpc_without_a_valid_jwt_is_unauthenticated(edge: Edge) -> None:
    with edge.channel() as channel:
        stub = catalog_grpc.CatalogServiceStub(channel)
        metadatas: list[tuple[tuple[str, str], ...]] = [
            (),
            (("authorization", "Bearer not-a-jwt"),),
            (("x-arco-identity", "forged"), ("x-arco-identity-sig", "forged")),
        ]
        for metadata in metadatas:
            with pytest.raises(grpc.RpcError) as caught:
                stub.ListNamespaces(
                    catalog_pb.ListNamespacesRequest(), metadata=metadata, timeout=10
                )
            assert caught.value.code() is grpc.StatusCode.UNAUTHENTICATED, metadata


def _grpc_web_call(
    edge: Edge, path: str, message: bytes, token: str
) -> tuple[int, bytes, dict[str, str]]:
    """One unary gRPC-web call: the HTTP status, the message frames and the trailers."""
    body = b"\x00" + len(message).to_bytes(4, "big") + message
    with edge.http() as client:
        response = client.post(
            f"{edge.url}{path}",
            content=body,
            headers={
                "content-type": "application/grpc-web+proto",
                "x-grpc-web": "1",
                "authorization": f"Bearer {token}",
            },
        )
    payload, trailers, data = b"", dict(response.headers), response.content
    while data:
        flag, size = data[0], int.from_bytes(data[1:5], "big")
        frame, data = data[5 : 5 + size], data[5 + size :]
        if flag & 0x80:  # the trailer frame
            for line in frame.decode().strip().split("\r\n"):
                key, _, value = line.partition(":")
                trailers[key.strip().lower()] = value.strip()
        else:
            payload += frame
    return response.status_code, payload, trailers


def test_grpc_web_reaches_the_public_services_and_not_the_internal_ones(edge: Edge) -> None:
    viewer = user_jwt("analysts", user="vic")
    request = catalog_pb.ListNamespacesRequest().SerializeToString()
    status, payload, trailers = _grpc_web_call(
        edge, "/arco.catalog.v1.CatalogService/ListNamespaces", request, viewer
    )
    assert (status, trailers["grpc-status"]) == (200, "0"), trailers
    assert isinstance(catalog_pb.ListNamespacesResponse.FromString(payload).namespaces, Iterable)
    # An internal service over gRPC-web is not routed either: HTTP 404, which gRPC-web
    # clients read as UNIMPLEMENTED; nothing reaches the api.
    status, payload, _ = _grpc_web_call(
        edge, "/arco.compactor.v1.CompactorService/GetHead", b"", viewer
    )
    assert (status, payload) == (404, b"")


@pytest.mark.parametrize(
    ("origin", "allowed"), [("https://console.arco.example", True), ("https://evil.example", False)]
)
def test_cors_preflight_admits_only_the_console_origin(
    edge: Edge, origin: str, allowed: bool
) -> None:
    with edge.http() as client:
        response = client.options(
            f"{edge.url}/arco.orchestration.v1.OrchestrationService/ListRuns",
            headers={
                "origin": origin,
                "access-control-request-method": "POST",
                "access-control-request-headers": "content-type,x-grpc-web,authorization",
            },
        )
    if allowed:
        assert response.headers.get("access-control-allow-origin") == origin
        assert "authorization" in response.headers["access-control-allow-headers"]
        assert "grpc-status" in response.headers["access-control-expose-headers"]
    else:
        assert "access-control-allow-origin" not in response.headers
