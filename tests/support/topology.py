"""A replicated mesh for the topology test: one cell of replicas of each kind as real
processes on SeaweedFS S3, with the real Envoy in front, in staging posture (mTLS on every
hop, user JWTs at the edge), serving several workspaces of one tenant.

The cell's processes start serving only the launch workspace :data:`LAUNCH_WORKSPACE`
(created by :meth:`Mesh.prepare`, as any launcher's is); the test creates its workspaces
through the admin route while everything runs, and every replica picks them up from the
registry. Only the workers are told the names ahead: a worker accepts the envelopes of the
workspaces it lists.

Replicas reach each other as production does through a Service: the gateway's api address
lists every api replica (``ipv4:h:p1,h:p2``, see :mod:`arco_runtime.tls`); the
orchestration compactors are shards (``ARCO_SHARD=i/N``), so their callers list them
comma-separated in shard order; the dispatchers and the sweeper push to every worker;
workers call back through the Envoy (the dispatchers stamp one callback base URL into every
envelope and a worker accepts only its own, so that one URL must reach every gateway
replica: here the edge, in production the gateway's Service). :meth:`Topology.restart`
kills a replica with SIGKILL (its PID) and starts it again on the same ports and with the
same settings (a compactor keeps its shard), so Envoy, the address lists and the dispatch
targets find it again.
"""

from __future__ import annotations

import contextlib
import dataclasses
import secrets
import ssl
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import httpx
import jwt

from arco_core.paths import Scope
from arco_core.registry import shard_of
from arco_runtime.tls import Role
from arco_sdk.client import ArcoClient
from services.mesh import Mesh, ServiceSpec
from tests.integration.e2e_assets.markers import MARKER_DIR_ENV
from tests.support.envoy import Edge, healthy_endpoints, running_envoy, wait_rest_routable
from tests.support.seaweed import SeaweedServer

# The tenant is chosen so that alpha, beta and gamma fall on both shards of two
# (globex/alpha on 1, beta and gamma on 0); the test asserts it.
TENANT = "globex"
LAUNCH_WORKSPACE = "ops"
ISSUER, AUDIENCE = "https://issuer.test", "arco"
OPERATORS, VIEWERS, ADMINS = "engineers", "analysts", "admins"
HEALTH_INTERVAL = "1s"  # Envoy's active health checks (production: 10 s)


@dataclasses.dataclass(frozen=True)
class Replicas:
    """How many processes of each kind the cell runs (the catalog compactor: one)."""

    gateways: int = 2
    apis: int = 2
    orch_compactors: int = 2  # one shard each
    dispatchers: int = 2
    sweepers: int = 1
    workers: int = 3


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
    """The replicas: ``<kind>-<n>`` processes, ``compactor-catalog`` and the Envoy."""

    def __init__(
        self,
        home: Path,
        *,
        workspaces: Sequence[str],
        replicas: Replicas,
        storage_url: str,
        worker_modules: Sequence[str],
        extra_env: Mapping[str, str],
    ) -> None:
        super().__init__(
            home,
            storage_url=storage_url,
            tenant_id=TENANT,
            workspace_id=LAUNCH_WORKSPACE,
            extra_env=extra_env,
            worker_modules=worker_modules,
            worker_env={
                MARKER_DIR_ENV: str(home.resolve() / "markers"),
                "ARCO_WORKER_WORKSPACE_ID": ",".join(workspaces),
            },
        )
        self.replicas = replicas
        self._envoy = contextlib.ExitStack()
        self.edge: Edge | None = None

    def names(self, kind: str) -> list[str]:
        return [f"{kind}-{n + 1}" for n in range(getattr(self.replicas, KINDS[kind]))]

    def addresses(self, kind: str) -> list[str]:
        return [self.address(name) for name in self.names(kind)]

    def compactor_of(self, workspace: str) -> str:
        """The orchestration compactor whose shard serves ``workspace``."""
        shards = self.names("compactor-orchestration")
        return shards[shard_of(Scope(self.tenant_id, workspace), len(shards))]

    def start(self) -> None:
        self.prepare()
        try:
            self._start_all()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> dict[str, int | None]:
        codes = super().stop()
        self._envoy.close()  # after the processes behind it
        self.edge = None
        return codes

    def _start_all(self) -> None:
        shards = self.names("compactor-orchestration")
        for index, name in enumerate(shards):
            self._spec(name, "services.compactor", Role.COMPACTOR, ARCO_COMPACTOR_DOMAIN="orchestration", ARCO_SHARD=f"{index}/{len(shards)}")  # fmt: skip
        self._spec("compactor-catalog", "services.compactor", Role.COMPACTOR, ARCO_COMPACTOR_DOMAIN="catalog")  # fmt: skip
        orch = ",".join(self.addresses("compactor-orchestration"))  # in shard order
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
        assert self.certs is not None  # minted by prepare()
        envoy_home = self.home / "envoy"
        envoy_home.mkdir(parents=True, exist_ok=True)
        self.edge = self._envoy.enter_context(
            running_envoy(
                envoy_home,
                gateway=self.addresses("gateway"),
                api=self.addresses("api"),
                edge=self.certs.for_role(Role.EDGE),
                health_interval=HEALTH_INTERVAL,
            )
        )
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
    cell: Cell
    edge: Edge
    workspaces: list[str]  # to be created by the test, through the admin route
    jwt_secret: str

    def scope(self, workspace: str) -> Scope:
        return Scope(TENANT, workspace)

    def token(self, workspace: str, *groups: str, user: str = "topo", ttl_sec: int = 1800) -> str:
        """A user JWT of ``workspace`` (operator by default)."""
        now = int(time.time())
        claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": user, "tenant": TENANT,
                  "workspace": workspace, "groups": list(groups or (OPERATORS,)),
                  "iat": now, "exp": now + ttl_sec}  # fmt: skip
        return jwt.encode(claims, self.jwt_secret, algorithm="HS256")

    def client(self, workspace: str) -> ArcoClient:
        """The REST client of a user of ``workspace`` through the edge, retrying reads
        through restarts."""
        verify = ssl.create_default_context(cafile=str(self.edge.public_ca))
        return ArcoClient(
            self.edge.url,
            token=self.token(workspace),
            workspace_id=workspace,
            transport=httpx.HTTPTransport(verify=verify),
            timeout=15.0,
            max_attempts=10,
            deadline=90.0,
        )

    def restart(self, name: str) -> None:
        """SIGKILL the replica ``name`` by its PID and start it again on its ports."""
        self.cell.restart(name)

    def wait_edge_healthy(self, timeout: float = 30.0) -> None:
        """Until Envoy's health checks pass every gateway and api replica."""
        wanted = {
            "gateway_http": set(self.cell.addresses("gateway")),
            "api_grpc": set(self.cell.addresses("api")),
        }
        deadline = time.monotonic() + timeout
        while True:
            missing = {c: want - healthy_endpoints(self.edge, c) for c, want in wanted.items()}
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
        # New workspaces are served within a second of their creation.
        "ARCO_SCOPE_REFRESH_SEC": "1",
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
    workspaces: Sequence[str],
    worker_modules: Sequence[str],
) -> Iterator[Topology]:
    """Start the cell (processes and Envoy) on ``server``; stop all on exit."""
    jwt_secret = secrets.token_urlsafe(32)
    cell = Cell(
        home.resolve(),
        workspaces=workspaces,
        replicas=Replicas(),
        storage_url=server.url(f"topo-{secrets.token_hex(5)}"),
        worker_modules=worker_modules,
        extra_env=_posture(server, jwt_secret),
    )
    with cell:
        assert cell.edge is not None
        built = Topology(cell, cell.edge, list(workspaces), jwt_secret)
        wait_rest_routable(built.edge)
        built.wait_edge_healthy()
        yield built
