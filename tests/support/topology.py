"""A replicated mesh for the topology test: several replicas of each kind as real processes
on SeaweedFS S3, with the real Envoy in front, in staging posture (mTLS on every hop, user
JWTs at the edge).

A :class:`Topology` is made of cells. A cell is one set of processes and one Envoy in front
of its gateway and api replicas (the committed ``envoy.yaml``, rendered for loopback with
several endpoints per cluster and quick health checks). Today every service serves one
scope, so each workspace is its own cell; once one set of replicas serves many workspaces,
the same workspaces become one cell and the callers (:meth:`Topology.client`,
:meth:`Topology.edge`, :meth:`Topology.cell`) do not change.

Every cell shares the store (one bucket and prefix: scopes are key prefixes), the mesh CA
and the secrets (JWT key, task-token, identity and URL-signing secrets), so a workspace's
isolation never rests on a secret the others lack.

Replicas reach each other as production does through a Service: the api's compactor
address and the gateway's api address list every replica (``ipv4:h:p1,h:p2``, see
:mod:`arco_runtime.tls`); the dispatchers and the sweeper push to every worker; workers
call back through the cell's Envoy (the dispatchers stamp one callback base URL into every
envelope and a worker accepts only its own, so that one URL must reach every gateway
replica: here the edge, in production the gateway's Service). :meth:`Topology.restart`
kills a replica with SIGKILL (its PID) and starts it again on the same ports, so Envoy,
the address lists and the dispatch targets find it again.
"""

from __future__ import annotations

import contextlib
import dataclasses
import secrets
import ssl
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

import httpx
import jwt

from arco_runtime.tls import MeshCertificates, Role, mint_mesh
from arco_sdk.client import ArcoClient
from services.mesh import Mesh, ServiceSpec
from tests.integration.e2e_assets.markers import MARKER_DIR_ENV
from tests.support.envoy import Edge, healthy_endpoints, running_envoy, wait_rest_routable
from tests.support.seaweed import SeaweedServer

TENANT = "acme"
ISSUER, AUDIENCE = "https://issuer.test", "arco"
OPERATORS, VIEWERS, ADMINS = "engineers", "analysts", "admins"
HEALTH_INTERVAL = "1s"  # Envoy's active health checks (production: 10 s)


@dataclasses.dataclass(frozen=True)
class Replicas:
    """How many processes of each kind a cell runs (the catalog compactor: one)."""

    gateways: int = 2
    apis: int = 2
    orch_compactors: int = 2
    dispatchers: int = 2
    sweepers: int = 1
    workers: int = 3

    @classmethod
    def single(cls) -> Replicas:
        return cls(1, 1, 1, 1, 1, 1)


KINDS = {
    "gateway": "gateways",
    "api": "apis",
    "compactor-orchestration": "orch_compactors",
    "dispatcher": "dispatchers",
    "sweeper": "sweepers",
    "worker": "workers",
}


def replica_list(addresses: Sequence[str]) -> str:
    """One gRPC target naming every replica (a single address stays as it is)."""
    return addresses[0] if len(addresses) == 1 else "ipv4:" + ",".join(addresses)


class Cell(Mesh):
    """One scope's replicas: ``<kind>-<n>`` processes, plus ``compactor-catalog``."""

    def __init__(
        self,
        home: Path,
        *,
        workspace_id: str,
        replicas: Replicas,
        storage_url: str,
        shared_secrets: Mapping[str, str],
        certs: MeshCertificates,
        worker_modules: Sequence[str],
        extra_env: Mapping[str, str],
        front: Callable[[list[str], list[str]], Edge],
    ) -> None:
        super().__init__(
            home,
            storage_url=storage_url,
            tenant_id=TENANT,
            workspace_id=workspace_id,
            extra_env=extra_env,
            worker_modules=worker_modules,
            worker_env={MARKER_DIR_ENV: str(home.resolve() / "markers")},
        )
        self.replicas = replicas
        self.secrets = dict(shared_secrets)
        self.certs = certs
        # Starts the Envoy in front of (gateways, apis) once they listen.
        self._front = front
        self.edge: Edge | None = None

    def names(self, kind: str) -> list[str]:
        return [f"{kind}-{n + 1}" for n in range(getattr(self.replicas, KINDS[kind]))]

    def addresses(self, kind: str) -> list[str]:
        return [self.address(name) for name in self.names(kind)]

    def start(self) -> None:
        self.prepare()
        try:
            self._start_all()
        except BaseException:
            self.stop()
            raise

    def _start_all(self) -> None:
        for name in self.names("compactor-orchestration"):
            self._spec(name, "services.compactor", Role.COMPACTOR, ARCO_COMPACTOR_DOMAIN="orchestration")  # fmt: skip
        self._spec("compactor-catalog", "services.compactor", Role.COMPACTOR, ARCO_COMPACTOR_DOMAIN="catalog")  # fmt: skip
        orch = replica_list(self.addresses("compactor-orchestration"))
        for name in self.names("api"):
            self._spec(
                name,
                "services.api",
                Role.API,
                ARCO_ORCH_COMPACTOR_ADDRESS=orch,
                ARCO_CATALOG_COMPACTOR_ADDRESS=self.address("compactor-catalog"),
            )
        apis = replica_list(self.addresses("api"))
        for name in self.names("gateway"):
            self._spec(name, "gateway", Role.GATEWAY, ARCO_API_ADDRESS=apis, ARCO_GATEWAY_LISTEN_ADDRESS="127.0.0.1:0")  # fmt: skip
        self.edge = self._front(self.addresses("gateway"), self.addresses("api"))
        self.worker_env["SSL_CERT_FILE"] = str(self.edge.public_ca)  # the edge's public CA
        for name in self.names("worker"):
            self.start_worker(name, self.edge.url)
        peers = {
            "ARCO_ORCH_COMPACTOR_ADDRESS": orch,
            "ARCO_CALLBACK_BASE_URL": self.edge.url,
            "ARCO_DISPATCH_ADAPTER": "grpc",
            "ARCO_WORKER_TARGETS": ",".join(
                str(self.services[w].ready["grpc_address"]) for w in self.names("worker")
            ),
        }
        for name in self.names("dispatcher"):
            self._spec(name, "services.dispatcher", Role.DISPATCHER, **peers)
        for name in self.names("sweeper"):
            self._spec(name, "services.sweeper", Role.SWEEPER, **peers)

    def _spec(self, name: str, module: str, role: Role, **env: str) -> None:
        self._start(ServiceSpec(name, module, env, role))


@dataclasses.dataclass
class Topology:
    cells: dict[str, Cell]  # by workspace
    edges: dict[str, Edge]  # by workspace
    jwt_secret: str

    @property
    def workspaces(self) -> list[str]:
        return list(self.cells)

    def cell(self, workspace: str) -> Cell:
        return self.cells[workspace]

    def edge(self, workspace: str) -> Edge:
        return self.edges[workspace]

    def token(self, workspace: str, *groups: str, user: str = "topo", ttl_sec: int = 1800) -> str:
        """A user JWT of ``workspace`` (operator by default)."""
        now = int(time.time())
        claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": user, "tenant": TENANT,
                  "workspace": workspace, "groups": list(groups or (OPERATORS,)),
                  "iat": now, "exp": now + ttl_sec}  # fmt: skip
        return jwt.encode(claims, self.jwt_secret, algorithm="HS256")

    def client(self, workspace: str, *, through: str | None = None) -> ArcoClient:
        """The REST client of a user of ``workspace`` through the edge in front of
        ``through``'s replicas (default: its own), retrying reads through restarts."""
        front = self.edge(through or workspace)
        verify = ssl.create_default_context(cafile=str(front.public_ca))
        return ArcoClient(
            front.url,
            token=self.token(workspace),
            workspace_id=workspace,
            transport=httpx.HTTPTransport(verify=verify),
            timeout=15.0,
            max_attempts=10,
            deadline=90.0,
        )

    def restart(self, workspace: str, name: str) -> None:
        """SIGKILL the replica ``name`` by its PID and start it again on its ports."""
        self.cell(workspace).restart(name)

    def wait_edge_healthy(self, workspace: str, timeout: float = 30.0) -> None:
        """Until Envoy's health checks pass every gateway and api replica of the cell."""
        cell, front = self.cell(workspace), self.edge(workspace)
        wanted = {
            "gateway_http": set(cell.addresses("gateway")),
            "api_grpc": set(cell.addresses("api")),
        }
        deadline = time.monotonic() + timeout
        while True:
            missing = {c: want - healthy_endpoints(front, c) for c, want in wanted.items()}
            if not any(missing.values()):
                return
            assert time.monotonic() < deadline, f"unhealthy behind envoy: {missing}"
            time.sleep(0.2)


def _posture(server: SeaweedServer, jwt_secret: str) -> dict[str, str]:
    return {
        **server.env(),
        "ARCO_ENVIRONMENT": "staging",
        "ARCO_GATEWAY_DEV_AUTH": "false",
        "ARCO_JWT_SECRET": jwt_secret,
        "ARCO_JWT_ISSUER": ISSUER,
        "ARCO_JWT_AUDIENCE": AUDIENCE,
        "ARCO_AUTH_GROUP_ROLES": f"{VIEWERS}=viewer,{OPERATORS}=operator,{ADMINS}=admin",
        "ARCO_LOG_LEVEL": "INFO",
        # Quick repairs: the sweeper every half second, short grace and redelivery times.
        "ARCO_SWEEP_INTERVAL_SEC": "0.5",
        "ARCO_SWEEP_RUNNING_GRACE_SEC": "1",
        "ARCO_SWEEP_READY_TIMEOUT_SEC": "5",
        "ARCO_SWEEP_DISPATCH_TIMEOUT_SEC": "10",
        "ARCO_DISPATCH_SAFETY_TICK_SEC": "1",
    }


@contextlib.contextmanager
def topology(
    home: Path,
    server: SeaweedServer,
    *,
    workspaces: Mapping[str, Replicas],
    worker_modules: Sequence[str],
) -> Iterator[Topology]:
    """Start one cell (processes and Envoy) per workspace on ``server``; stop all on exit."""
    home = home.resolve()
    jwt_secret = secrets.token_urlsafe(32)
    certs = mint_mesh(home / "tls")
    shared = {
        name: secrets.token_urlsafe(32)
        for name in (
            "ARCO_TASK_TOKEN_SECRET",
            "ARCO_WORKER_DISPATCH_SECRET",
            "ARCO_IDENTITY_SECRET",
            "ARCO_BROWSER_URL_SECRET",
        )
    }
    storage_url = server.url(f"topo-{secrets.token_hex(5)}")
    with contextlib.ExitStack() as stack:
        cells: dict[str, Cell] = {}
        for workspace, replicas in workspaces.items():
            envoy_home = home / workspace / "envoy"

            def front(gateways: list[str], apis: list[str], envoy_home: Path = envoy_home) -> Edge:
                envoy_home.mkdir(parents=True, exist_ok=True)
                return stack.enter_context(
                    running_envoy(
                        envoy_home,
                        gateway=gateways,
                        api=apis,
                        edge=certs.for_role(Role.EDGE),
                        health_interval=HEALTH_INTERVAL,
                    )
                )

            cell = Cell(
                home / workspace,
                workspace_id=workspace,
                replicas=replicas,
                storage_url=storage_url,
                shared_secrets=shared,
                certs=certs,
                worker_modules=worker_modules,
                extra_env=_posture(server, jwt_secret),
                front=front,
            )
            # Its Envoy, entered while the cell starts, stops after the cell's processes.
            cells[workspace] = stack.enter_context(cell)
        edges = {workspace: cell.edge for workspace, cell in cells.items() if cell.edge}
        built = Topology(cells, edges, jwt_secret)
        for workspace, front_edge in edges.items():
            wait_rest_routable(front_edge)
            built.wait_edge_healthy(workspace)
        yield built
