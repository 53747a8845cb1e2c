"""The whole mesh in staging posture (mTLS on every hop, users with JWTs at the edge) with
Envoy in front, for the web UI's browser test and bench: start it, mint user tokens,
deploy a module's assets through the edge."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

import jwt

from arco_runtime.tls import Role
from arco_sdk.manifest import AssetGraph, build_manifest, discover
from arco_sdk.sensors import discover_sensors
from services.mesh import Mesh
from tests.support.envoy import Edge, running_envoy, wait_rest_routable

JWT_SECRET = "staging-test-jwt-secret-0123456789abcdef"
ISSUER, AUDIENCE = "https://issuer.test", "arco"
TENANT, WORKSPACE = "acme", "web"
OPERATORS, VIEWERS, ADMINS = "engineers", "analysts", "admins"


def user_jwt(*groups: str, user: str, ttl_sec: int = 1800) -> str:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": user, "tenant": TENANT,
              "workspace": WORKSPACE, "groups": list(groups), "iat": now, "exp": now + ttl_sec}  # fmt: skip
    return jwt.encode(claims, JWT_SECRET, algorithm="HS256")


@contextlib.contextmanager
def staging_mesh(home: Path, worker_modules: list[str]) -> Iterator[Mesh]:
    with Mesh(
        home / "mesh",
        tenant_id=TENANT,
        workspace_id=WORKSPACE,
        workers=1,
        worker_modules=worker_modules,
        extra_env={
            "ARCO_ENVIRONMENT": "staging",
            "ARCO_GATEWAY_DEV_AUTH": "false",
            "ARCO_JWT_SECRET": JWT_SECRET,
            "ARCO_JWT_ISSUER": ISSUER,
            "ARCO_JWT_AUDIENCE": AUDIENCE,
            "ARCO_AUTH_GROUP_ROLES": f"{VIEWERS}=viewer,{OPERATORS}=operator,{ADMINS}=admin",
            "ARCO_DISPATCH_SAFETY_TICK_SEC": "1",
        },
    ) as running:
        yield running


@contextlib.contextmanager
def edge_of(mesh: Mesh, tmp_path: Path) -> Iterator[Edge]:
    """Envoy in front of the mesh's gateway and api, routable when it yields."""
    assert mesh.certs is not None, "the mesh runs with mTLS"
    with running_envoy(
        tmp_path,
        gateway=mesh.address("gateway"),
        api=mesh.address("api"),
        edge=mesh.certs.for_role(Role.EDGE),
    ) as front:
        wait_rest_routable(front)
        yield front


def deploy(edge: Edge, module: str, code_version_id: str) -> str:
    """Deploys ``module``'s assets, schedules and sensors through the edge's REST api as an
    operator."""
    definitions, schedules = discover(module)
    manifest = build_manifest(
        AssetGraph(definitions),
        schedules=schedules,
        sensors=discover_sensors(module),
        code_version_id=code_version_id,
    )
    manifest["workspaceId"] = WORKSPACE
    with edge.http() as http:
        deployed = http.post(
            f"{edge.url}/api/v1/workspaces/{WORKSPACE}/manifests",
            json=manifest,
            headers={"authorization": f"Bearer {user_jwt(OPERATORS, user='deployer')}"},
        )
    assert deployed.status_code == 201, deployed.text
    return str(deployed.json()["manifestId"])
