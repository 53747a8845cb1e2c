"""The local mesh launcher: every service as its own process on loopback.

``python -m services.mesh up`` starts the orchestration and catalog compactors, the api,
the gateway, the dispatcher, the sweeper and the automation service on the embedded
default storage (a local directory), waits until every one is healthy, prints where each listens, and stops them
all cleanly on Ctrl-C. Services bind port 0 and report their addresses through ready
files, so several meshes (or test runs) can share a machine.

Every gRPC hop is mutual TLS: at start the launcher mints a mesh CA and one certificate
per role under ``<home>/run/tls`` (the same files a deployment brings from its own CA)
and hands each service its own; ``tls=False`` runs the mesh plaintext (dev debugging,
and the benchmark's cost-of-the-boundary comparison).

``Mesh.restart(name)`` kills a service with SIGKILL and starts the same spec again on the
addresses it had (chaos tests); ``worker_transport="http"`` makes the dispatcher and the
sweeper push envelopes to the workers' HTTP ``/dispatch`` (the JSON contract) instead of
gRPC.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from arco_core.clock import SystemClock
from arco_core.paths import Scope
from arco_core.registry import WorkspaceRegistry
from arco_core.storage import open_object_store
from arco_runtime.tls import MeshCertificates, Role, TlsConfig, mint_mesh, sync_channel

REPO_ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT_SEC = 30.0
STOP_TIMEOUT_SEC = 15.0


@dataclasses.dataclass(frozen=True)
class ServiceSpec:
    name: str
    module: str
    env: Mapping[str, str]
    role: Role


@dataclasses.dataclass
class RunningService:
    spec: ServiceSpec
    process: subprocess.Popen[bytes]
    log_path: Path
    ready: dict[str, object]
    ready_env: str = "ARCO_READY_FILE"

    @property
    def address(self) -> str:
        return str(self.ready.get("grpc_address") or self.ready.get("http_address"))


class MeshError(RuntimeError):
    pass


class Mesh:
    """Starts and stops one local mesh rooted at ``home`` (data, logs, ready files)."""

    def __init__(
        self,
        home: Path,
        *,
        storage_url: str | None = None,
        tenant_id: str = "local",
        workspace_id: str = "default",
        extra_env: Mapping[str, str] | None = None,
        log_format: str = "json",
        workers: int = 0,
        worker_modules: Sequence[str] = (),
        worker_env: Mapping[str, str] | None = None,
        worker_transport: str = "grpc",
        callbacks: str = "gateway",
        tls: bool = True,
    ) -> None:
        if worker_transport not in ("grpc", "http"):
            raise ValueError("worker_transport must be 'grpc' or 'http'")
        if callbacks not in ("gateway", "api"):
            raise ValueError("callbacks must be 'gateway' or 'api'")
        self.home = home.resolve()
        self.run_dir = self.home / "run"
        self.storage_url = storage_url or (self.home / "data").as_uri()
        self.tenant_id = tenant_id
        self.workspace_id = workspace_id
        self.extra_env = dict(extra_env or {})
        self.log_format = log_format
        self.workers = workers
        self.worker_modules = list(worker_modules)
        self.worker_env = dict(worker_env or {})
        # How the dispatcher and sweeper reach the workers: gRPC Dispatch (default) or the
        # JSON contract over HTTP POST {worker}/dispatch.
        self.worker_transport = worker_transport
        # How workers call back: the REST routes through the gateway, or the api's
        # TaskCallbackService over gRPC (ARCO_WORKER_CALLBACK_ADDRESS, one hop fewer).
        self.callbacks = callbacks
        # One set of shared secrets per mesh: minted tokens must verify at the api.
        self.secrets = {
            "ARCO_TASK_TOKEN_SECRET": secrets.token_urlsafe(32),
            "ARCO_WORKER_DISPATCH_SECRET": secrets.token_urlsafe(32),
            "ARCO_IDENTITY_SECRET": secrets.token_urlsafe(32),
            "ARCO_BROWSER_URL_SECRET": secrets.token_urlsafe(32),
        }
        self.services: dict[str, RunningService] = {}
        self.tls = tls
        self.certs: MeshCertificates | None = None
        # The lifeline: every service gets the read end; only this process holds the write
        # end, so when it ends (even by SIGKILL) every service sees end-of-file and stops.
        self._lifeline: tuple[int, int] | None = None

    # -- lifecycle ---------------------------------------------------------------------

    def prepare(self) -> None:
        """What every launch needs before its first process: run directory, certificates,
        the lifeline, the storage root and the mesh's workspace."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        if self.tls and self.certs is None:
            self.certs = mint_mesh(self.run_dir / "tls")
        if self._lifeline is None:
            self._lifeline = os.pipe()
            os.set_inheritable(self._lifeline[0], False)
        if self.storage_url.startswith("file://"):
            Path(self.storage_url.removeprefix("file://")).mkdir(parents=True, exist_ok=True)
        # The launcher is its mesh's operator: its workspace exists in every posture (dev
        # services also register it; outside dev nothing else would).
        create_workspace(
            self.storage_url, self.base_env(), Scope(self.tenant_id, self.workspace_id)
        )

    def start(self) -> None:
        self.prepare()
        try:
            orch = self._start(
                ServiceSpec(
                    "compactor-orchestration",
                    "services.compactor",
                    {"ARCO_COMPACTOR_DOMAIN": "orchestration"},
                    Role.COMPACTOR,
                )
            )
            catalog = self._start(
                ServiceSpec(
                    "compactor-catalog",
                    "services.compactor",
                    {"ARCO_COMPACTOR_DOMAIN": "catalog"},
                    Role.COMPACTOR,
                )
            )
            api = self._start(
                ServiceSpec(
                    "api",
                    "services.api",
                    {
                        "ARCO_ORCH_COMPACTOR_ADDRESS": orch.address,
                        "ARCO_CATALOG_COMPACTOR_ADDRESS": catalog.address,
                    },
                    Role.API,
                )
            )
            gateway = self._start(
                ServiceSpec(
                    "gateway",
                    "gateway",
                    {
                        "ARCO_API_ADDRESS": api.address,
                        "ARCO_GATEWAY_LISTEN_ADDRESS": "127.0.0.1:0",
                    },
                    Role.GATEWAY,
                )
            )
            callback_base = f"http://{gateway.address}"
            workers = [
                self.start_worker(f"worker-{n + 1}", callback_base) for n in range(self.workers)
            ]
            if self.worker_transport == "http":
                targets = [f"http://{w.ready['http_address']}" for w in workers]
            else:
                targets = [str(w.ready["grpc_address"]) for w in workers]
            peers = {
                "ARCO_ORCH_COMPACTOR_ADDRESS": orch.address,
                "ARCO_CALLBACK_BASE_URL": callback_base,
                "ARCO_DISPATCH_ADAPTER": self.worker_transport,
                "ARCO_WORKER_TARGETS": ",".join(targets),
            }
            self._start(ServiceSpec("dispatcher", "services.dispatcher", peers, Role.DISPATCHER))
            self._start(ServiceSpec("sweeper", "services.sweeper", peers, Role.SWEEPER))
            self._start(
                ServiceSpec(
                    "automation",
                    "services.automation",
                    {"ARCO_ORCH_COMPACTOR_ADDRESS": orch.address},
                    Role.AUTOMATION,
                )
            )
        except BaseException:
            self.stop()
            raise

    def stop(self) -> dict[str, int | None]:
        """SIGTERM every service in reverse start order; SIGKILL any that hangs."""
        codes: dict[str, int | None] = {}
        for name in reversed(list(self.services)):
            running = self.services[name]
            if running.process.poll() is None:
                running.process.send_signal(signal.SIGTERM)
            try:
                codes[name] = running.process.wait(timeout=STOP_TIMEOUT_SEC)
            except subprocess.TimeoutExpired:
                running.process.kill()
                codes[name] = running.process.wait()
        self.services.clear()
        if self._lifeline is not None:
            for fd in self._lifeline:
                os.close(fd)
            self._lifeline = None
        return codes

    def __enter__(self) -> Mesh:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- helpers -----------------------------------------------------------------------

    def base_env(self) -> dict[str, str]:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith("ARCO_")  # the mesh decides every ARCO_* setting
        }
        env.update(
            {
                "PYTHONPATH": os.pathsep.join(
                    [str(REPO_ROOT / "gen"), str(REPO_ROOT)]
                    + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])
                ),
                "ARCO_TENANT_ID": self.tenant_id,
                "ARCO_WORKSPACE_ID": self.workspace_id,
                "ARCO_STORAGE_URL": self.storage_url,
                "ARCO_LISTEN_ADDRESS": "127.0.0.1:0",
                "ARCO_METRICS_ADDRESS": "127.0.0.1:0",
                "ARCO_LOG_FORMAT": self.log_format,
                # The local mesh is dev posture on loopback (mTLS on unless tls=False): the
                # gateway takes X-Tenant-Id headers.
                "ARCO_ENVIRONMENT": "dev",
                "ARCO_GATEWAY_DEV_AUTH": "true",
                **self.secrets,
                **self.extra_env,
            }
        )
        return env

    def tls_env(self, role: Role) -> dict[str, str]:
        """The ARCO_TLS_* settings of a process of ``role``."""
        if self.certs is None:
            return {"ARCO_TLS": "off"}
        return self.certs.for_role(role).env()

    def tls_config(self, role: Role = Role.OPERATOR) -> TlsConfig:
        """Credentials of ``role`` for clients of this mesh (tests, tools, the demo)."""
        return self.certs.config(role) if self.certs is not None else TlsConfig.plaintext()

    def start_worker(self, name: str, callback_base: str | None = None) -> RunningService:
        """Start (or restart) a worker process serving gRPC and HTTP dispatch."""
        base = callback_base or f"http://{self.address('gateway')}"
        direct = (
            {"ARCO_WORKER_CALLBACK_ADDRESS": self.address("api")} if self.callbacks == "api" else {}
        )
        return self._start(
            ServiceSpec(
                name,
                "arco_sdk.worker",
                {
                    "ARCO_WORKER_API_URL": base,
                    "ARCO_WORKER_TENANT_ID": self.tenant_id,
                    "ARCO_WORKER_WORKSPACE_ID": self.workspace_id,
                    "ARCO_WORKER_DISPATCH_SECRET": self.secrets["ARCO_WORKER_DISPATCH_SECRET"],
                    "ARCO_WORKER_GRPC_ADDRESS": "127.0.0.1:0",
                    "ARCO_WORKER_HTTP_ADDRESS": "127.0.0.1:0",
                    "ARCO_WORKER_WORKER_ID": name,
                    "ARCO_WORKER_OUTPUT_DIR": str(self.home / "output"),
                    "ARCO_WORKER_MODULES": ",".join(self.worker_modules),
                    **direct,
                    **self.worker_env,
                },
                Role.WORKER,
            ),
            ready_env="ARCO_WORKER_READY_FILE",
        )

    def restart(self, name: str, *, attempts: int = 3) -> RunningService:
        """Kill -9 ``name`` (if still running) and start the same spec on the same addresses.

        The replacement is pinned to the listen addresses its predecessor reported, so
        dependents (the gateway's api address, the dispatcher's worker targets, ...) need
        no update. Only the metrics port is new. A start that fails (e.g. the port is not
        yet free) is retried a few times.
        """
        running = self.services[name]
        if running.process.poll() is None:
            running.process.kill()
        running.process.wait()
        spec = ServiceSpec(
            running.spec.name,
            running.spec.module,
            {**running.spec.env, **_pinned_addresses(running)},
            running.spec.role,
        )
        for attempt in range(attempts):
            try:
                return self._start(spec, ready_env=running.ready_env)
            except MeshError:
                failed = self.services[name].process
                if failed.poll() is None:  # not healthy in time: do not leak it
                    failed.kill()
                    failed.wait()
                if attempt + 1 >= attempts:
                    raise
                time.sleep(0.5)
        raise AssertionError("unreachable")

    def _start(self, spec: ServiceSpec, ready_env: str = "ARCO_READY_FILE") -> RunningService:
        ready_file = self.run_dir / f"{spec.name}.ready.json"
        ready_file.unlink(missing_ok=True)
        log_path = self.run_dir / f"{spec.name}.log"
        env = {**self.base_env(), **self.tls_env(spec.role), **spec.env, ready_env: str(ready_file)}
        lifeline = () if self._lifeline is None else (self._lifeline[0],)
        if lifeline:
            env["ARCO_LIFELINE_FD"] = str(lifeline[0])
        with log_path.open("ab") as log_file:
            process = subprocess.Popen(
                [sys.executable, "-m", spec.module],
                env=env,
                cwd=REPO_ROOT,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                pass_fds=lifeline,
                # Own session: a terminal Ctrl-C reaches only the launcher, which then
                # stops the services in order.
                start_new_session=True,
            )
        running = RunningService(spec, process, log_path, {}, ready_env)
        self.services[spec.name] = running
        running.ready = self._wait_ready(running, ready_file)
        return running

    def _wait_ready(self, running: RunningService, ready_file: Path) -> dict[str, object]:
        deadline = time.monotonic() + START_TIMEOUT_SEC
        while time.monotonic() < deadline:
            if running.process.poll() is not None:
                raise MeshError(
                    f"{running.spec.name} exited with {running.process.returncode} during start:\n"
                    + tail(running.log_path)
                )
            if ready_file.exists():
                info: dict[str, object] = json.loads(ready_file.read_text())
                if _healthy(info, self.tls_config()):
                    return info
            time.sleep(0.05)
        raise MeshError(
            f"{running.spec.name} not healthy after {START_TIMEOUT_SEC:.0f}s:\n"
            + tail(running.log_path)
        )

    def describe(self) -> list[tuple[str, int, str, str]]:
        rows = []
        for name, running in self.services.items():
            rows.append(
                (
                    name,
                    running.process.pid,
                    running.address,
                    str(running.ready.get("metrics_address", "-")),
                )
            )
        return rows

    def address(self, name: str) -> str:
        return self.services[name].address


def create_workspace(storage_url: str, env: Mapping[str, str], scope: Scope) -> None:
    """Register ``scope`` in the store's workspace registry (a no-op if it exists), on its
    own thread and loop so a caller inside a running event loop may call it too."""
    errors: list[BaseException] = []

    def create() -> None:
        try:
            store = open_object_store(storage_url, env)
            asyncio.run(WorkspaceRegistry(store, SystemClock()).create(scope))
        except BaseException as exc:  # re-raised on the caller's thread
            errors.append(exc)

    worker = threading.Thread(target=create, name="create-workspace")
    worker.start()
    worker.join()
    if errors:
        raise errors[0]


def _pinned_addresses(running: RunningService) -> dict[str, str]:
    """The env that makes a restarted service listen where ``running`` listened."""
    ready = running.ready
    if running.spec.module == "arco_sdk.worker":
        return {
            "ARCO_WORKER_GRPC_ADDRESS": str(ready.get("grpc_address") or ""),
            "ARCO_WORKER_HTTP_ADDRESS": str(ready.get("http_address") or ""),
        }
    if running.spec.module == "gateway":
        return {"ARCO_GATEWAY_LISTEN_ADDRESS": str(ready["http_address"])}
    return {"ARCO_LISTEN_ADDRESS": str(ready["grpc_address"])}


def _healthy(info: Mapping[str, object], tls: TlsConfig) -> bool:
    """Services answer gRPC health; workers and the gateway answer HTTP /health(z)."""
    if info.get("service") == "worker":
        return http_ok(f"http://{info['http_address']}/health")
    if "grpc_address" in info:
        return grpc_serving(str(info["grpc_address"]), tls)
    return True


def http_ok(url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def grpc_serving(address: str, tls: TlsConfig, service: str = "", timeout: float = 2.0) -> bool:
    with sync_channel(address, tls) as channel:
        try:
            answer = health_pb2_grpc.HealthStub(channel).Check(  # type: ignore[attr-defined]
                health_pb2.HealthCheckRequest(service=service), timeout=timeout
            )
        except grpc.RpcError:
            return False
    return bool(answer.status == health_pb2.HealthCheckResponse.SERVING)


def tail(path: Path, lines: int = 20) -> str:
    with contextlib.suppress(FileNotFoundError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    return "(no log)"


@contextlib.contextmanager
def _interrupts_ignored() -> Iterator[None]:
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _up(args: argparse.Namespace) -> int:
    mesh = Mesh(Path(args.home), storage_url=args.storage_url)
    # Installed before anything starts: a Ctrl-C at any moment stops what is running.
    stop = {"now": False}

    def _request_stop(signum: int, frame: object) -> None:
        stop["now"] = True

    signal.signal(signal.SIGINT, _request_stop)
    signal.signal(signal.SIGTERM, _request_stop)
    print(f"starting the Arco mesh in {mesh.home} (storage {mesh.storage_url}) ...", flush=True)
    try:
        mesh.start()
    except MeshError as exc:
        print(f"mesh failed to start: {exc}", file=sys.stderr)
        return 1
    print(f"{'service':<26}{'pid':>8}  {'listens on':<22} metrics")
    for name, pid, address, metrics in mesh.describe():
        print(f"{name:<26}{pid:>8}  {address:<22} {metrics}")
    print(f"REST: http://{mesh.address('gateway')}/api/v1  logs: {mesh.run_dir}")
    if mesh.certs is not None:
        print(
            f"mTLS: CA and per-role certificates in {mesh.certs.ca_cert.parent} (tools: operator.crt)"
        )
    print("press Ctrl-C to stop", flush=True)
    try:
        while not stop["now"]:
            for name, running in mesh.services.items():
                if running.process.poll() is not None:
                    print(f"{name} exited unexpectedly:\n{tail(running.log_path)}", file=sys.stderr)
                    stop["now"] = True
            time.sleep(0.2)
    finally:
        print("stopping ...", flush=True)
        with _interrupts_ignored():
            codes = mesh.stop()
    failed = {name: code for name, code in codes.items() if code != 0}
    print("stopped" + (f" (non-zero exits: {failed})" if failed else " cleanly"))
    return 1 if failed else 0


def _demo(args: argparse.Namespace) -> int:
    # Imported here: only the demo needs the SDK, `up` starts without it.
    from services.demo import run_demo  # noqa: PLC0415

    return run_demo(Path(args.home), args.storage_url)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m services.mesh",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start the whole mesh and wait for Ctrl-C")
    up.add_argument("--home", default=".arco", help="data, logs and ready files (default .arco)")
    up.add_argument(
        "--storage-url",
        default=None,
        help="object store URL (default: file://<home>/data, the embedded LocalStore)",
    )
    up.set_defaults(func=_up)
    demo = sub.add_parser(
        "demo", help="start the mesh and two workers, run the example pipeline and a backfill, stop"
    )
    demo.add_argument("--home", default=".arco", help="data, logs and ready files (default .arco)")
    demo.add_argument("--storage-url", default=None, help="object store URL (default: embedded)")
    demo.set_defaults(func=_demo)
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
