"""The TypeScript SDK (sdk/typescript) against a real mesh, in Node with its own test runner:
the whole mesh as processes in staging posture (mTLS on every hop, users with JWTs, workers),
Envoy in front. sdk/typescript/test/mesh.test.mjs drives it over gRPC straight to the api and
over gRPC-web through Envoy."""

from __future__ import annotations

import importlib
import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest

from arco_runtime.tls import Role
from arco_sdk.manifest import AssetGraph, build_manifest, discover
from services.mesh import Mesh
from tests.conftest import REPO_ROOT
from tests.sdk import ts_assets
from tests.support.envoy import Edge, running_envoy, wait_rest_routable

SDK = REPO_ROOT / "sdk" / "typescript"
JWT_SECRET = "ts-sdk-test-jwt-secret-0123456789abcdef"
ISSUER, AUDIENCE = "https://issuer.test", "arco"
TENANT, WORKSPACE = "acme", "web"


def user_jwt(*groups: str, user: str) -> str:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": user, "tenant": TENANT,
              "workspace": WORKSPACE, "groups": list(groups), "iat": now, "exp": now + 900}  # fmt: skip
    return jwt.encode(claims, JWT_SECRET, algorithm="HS256")


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mesh]:
    home = tmp_path_factory.mktemp("ts-sdk")
    with Mesh(
        home / "mesh",
        tenant_id=TENANT,
        workspace_id=WORKSPACE,
        workers=1,
        worker_modules=["tests.sdk.ts_assets"],
        extra_env={
            "ARCO_ENVIRONMENT": "staging",
            "ARCO_GATEWAY_DEV_AUTH": "false",
            "ARCO_JWT_SECRET": JWT_SECRET,
            "ARCO_JWT_ISSUER": ISSUER,
            "ARCO_JWT_AUDIENCE": AUDIENCE,
            "ARCO_AUTH_GROUP_ROLES": "analysts=viewer,engineers=operator",
            "ARCO_DISPATCH_SAFETY_TICK_SEC": "1",
        },
    ) as running:
        yield running


@pytest.fixture(scope="module")
def edge(mesh: Mesh, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Edge]:
    tmp_path = tmp_path_factory.mktemp("ts-edge")
    assert mesh.certs is not None, "the mesh runs with mTLS"
    with running_envoy(
        tmp_path,
        gateway=mesh.address("gateway"),
        api=mesh.address("api"),
        edge=mesh.certs.for_role(Role.EDGE),
    ) as front:
        wait_rest_routable(front)
        yield front


def test_the_node_sdk_runs_a_pipeline_over_grpc_and_grpc_web(
    mesh: Mesh, edge: Edge, tmp_path: Path
) -> None:
    node = shutil.which("node")
    assert node, "node is installed by `make system-deps`"
    assert (SDK / "dist" / "src" / "node.js").exists(), "built by scripts/install_sdk_typescript.sh"
    definitions, _ = discover("tests.sdk.ts_assets")
    manifest = build_manifest(AssetGraph(definitions), code_version_id="ts1")
    manifest["workspaceId"] = WORKSPACE
    manifest_file = tmp_path / "manifest.json"
    manifest_file.write_text(json.dumps(manifest))
    operator = mesh.certs.for_role(Role.OPERATOR) if mesh.certs else None
    assert operator is not None, "the mesh runs with mTLS"
    env = {
        "PATH": str(Path(node).parent),
        "ARCO_TEST_WORKSPACE": WORKSPACE,
        "ARCO_TEST_MANIFEST": str(manifest_file),
        "ARCO_TEST_SELECTION": "ts.source,ts.doubled",
        "ARCO_TEST_LOG_LINE": ts_assets.LOG_LINE,
        "ARCO_TEST_API_URL": f"https://{mesh.address('api')}",
        "ARCO_TEST_MESH_CA": str(operator.ca),
        "ARCO_TEST_CLIENT_CERT": str(operator.cert),
        "ARCO_TEST_CLIENT_KEY": str(operator.key),
        "ARCO_TEST_EDGE_URL": edge.url,
        "ARCO_TEST_EDGE_CA": str(edge.public_ca),
        "ARCO_TEST_OPERATOR_TOKEN": user_jwt("engineers", user="olga"),
        "ARCO_TEST_VIEWER_TOKEN": user_jwt("analysts", user="vic"),
    }
    result = subprocess.run(
        [node, "--test", "--test-reporter=tap", "test/"],
        cwd=SDK,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    # Both transports ran all four cases (node's runner prints its totals).
    assert "# pass 8" in output and "# fail 0" in output, output


def _python_methods(service: str) -> set[str]:
    package, _, name = service.rpartition(".")
    for module_name in _PROTO_MODULES[package]:
        module = importlib.import_module(module_name)
        if name in module.DESCRIPTOR.services_by_name:
            return {m.name for m in module.DESCRIPTOR.services_by_name[name].methods}
    raise AssertionError(f"{service} is not in the Python generated code")


_PROTO_MODULES = {
    "arco.orchestration.v1": [
        "arco.orchestration.v1.orchestration_service_pb2",
        "arco.orchestration.v1.task_callback_service_pb2",
    ],
    "arco.catalog.v1": ["arco.catalog.v1.catalog_service_pb2"],
    "arco.query.v1": ["arco.query.v1.query_service_pb2"],
    "arco.browser.v1": ["arco.browser.v1.browser_service_pb2"],
}

_LIST_TS_METHODS = """
import { PUBLIC_SERVICES } from "./dist/src/node.js";
const out = {};
for (const service of Object.values(PUBLIC_SERVICES)) {
  out[service.typeName] = service.methods.map((m) => m.name);
}
console.log(JSON.stringify(out));
"""


def test_every_public_rpc_is_reachable_from_both_sdks() -> None:
    """The public services are the ones the matrix opens to users; the TypeScript client
    exposes each with every RPC the Python generated code has (both come from the same
    descriptors, so this fails when a service is left out of either)."""
    from arco_runtime.authz import MATRIX

    node = shutil.which("node")
    assert node, "node is installed by `make system-deps`"
    listed = subprocess.run(
        [node, "--input-type=module", "-e", _LIST_TS_METHODS],
        cwd=SDK,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    typescript = {name: set(methods) for name, methods in json.loads(listed.stdout).items()}
    public = {s for s, rpcs in MATRIX.items() if any(grant.user for grant in rpcs.values())}
    assert set(typescript) == public
    for service in public:
        user_rpcs = {rpc for rpc, grant in MATRIX[service].items() if grant.user}
        assert typescript[service] == _python_methods(service), service
        assert user_rpcs <= typescript[service], service
