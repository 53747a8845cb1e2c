"""The Cloud Tasks dispatch adapter against the real ``gcloud-tasks-emulator`` on loopback.

The emulator pins protobuf 4, so it lives in its own virtual environment
(``.venv-emulator/``, git-ignored), created here on first use from PyPI. A failed
install fails the tests: it never skips them. The emulator runs as a subprocess bound to
127.0.0.1 on a kernel-chosen port and is stopped by PID.

Unlike Cloud Tasks, the emulator accepts a duplicate task name, so ALREADY_EXISTS (and
RESOURCE_EXHAUSTED) are injected by a grpc.aio client interceptor in front of the real
emulator; everything else is real: task creation, named tasks, HTTP delivery to the
target with the task's headers and body, and a whole run through the mesh.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import grpc
import pytest
from arco.orchestration.v1 import worker_protocol_pb2 as worker_pb
from google.protobuf import struct_pb2

from arco_core.envelope import EventEnvelope
from arco_core.ids import callback_task_id, cloud_task_id, dispatch_id
from arco_core.ledger import LedgerReader
from arco_core.paths import Scope
from arco_core.storage import Role, ScopedStorage, open_object_store
from arco_core.wire.worker_protocol import parse_envelope
from arco_runtime.settings import ConfigError
from arco_runtime.tls import TlsConfig
from services.common.cloud_tasks import CloudTasksAdapter
from services.common.dispatch import (
    DISPATCH_SECRET_HEADER,
    CloudTasksConfig,
    SendOutcome,
    _Router,
    build_adapter,
)
from services.mesh import Mesh, RunningService, ServiceSpec
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.slow

EMULATOR_VERSION = "0.6.2"
EMULATOR_VENV = REPO_ROOT / ".venv-emulator"
PROJECT, LOCATION = "arco-test", "local"
QUEUES = ("default-queue", "gpu")
SECRET = "cloud-tasks-test-secret"

# Runs inside the emulator's venv: the stock server, but its gRPC API bound to loopback
# on a port the kernel picks (the stock CLI binds [::] on a fixed port).
_LAUNCHER = r"""
import json, logging, os, sys
from concurrent import futures
import grpc
from gcloud_tasks_emulator import server as emu

ready_file, max_retries, *queues = sys.argv[1:]

def run(self):
    self._httpd = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    emu.add_CloudTasksServicer_to_server(emu.Greeter(self._state), self._httpd)
    port = self._httpd.add_insecure_port("127.0.0.1:0")
    self._httpd.start()
    tmp = ready_file + ".tmp"
    with open(tmp, "w") as f:
        json.dump({"pid": os.getpid(), "address": f"127.0.0.1:{port}"}, f)
    os.replace(tmp, ready_file)

emu.APIThread.run = run
logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
emu.create_server("127.0.0.1", 0, "127.0.0.1", 9, queues, int(max_retries)).run()
"""


# -- the emulator -----------------------------------------------------------------------


def emulator_python() -> Path:
    """The emulator venv's python, created (once, under a lock) with pip from PyPI."""
    python = EMULATOR_VENV / "bin" / "python"
    stamp = EMULATOR_VENV / f".installed-gcloud-tasks-emulator-{EMULATOR_VERSION}"
    EMULATOR_VENV.parent.mkdir(parents=True, exist_ok=True)
    with open(REPO_ROOT / ".venv-emulator.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if stamp.exists() and python.exists():
            return python
        steps = [
            [sys.executable, "-m", "venv", "--clear", str(EMULATOR_VENV)],
            [str(python), "-m", "pip", "install", "--quiet", "--upgrade", "pip"],
            [
                str(python),
                "-m",
                "pip",
                "install",
                "--quiet",
                f"gcloud-tasks-emulator=={EMULATOR_VERSION}",
            ],
        ]
        for step in steps:
            done = subprocess.run(step, capture_output=True, text=True, timeout=600)
            if done.returncode != 0:
                pytest.fail(
                    f"could not set up the Cloud Tasks emulator venv ({' '.join(step)}):\n"
                    + done.stdout[-2000:]
                    + done.stderr[-2000:]
                )
        stamp.touch()
    return python


@dataclass
class Emulator:
    process: subprocess.Popen[bytes]
    address: str
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def created_tasks(self) -> list[str]:
        return re.findall(r"^\[TASKS\] Created task (\S+)$", self.log(), flags=re.M)

    def delivered_tasks(self) -> list[str]:
        return re.findall(r"^\[TASKS\] Submitting task (\S+)$", self.log(), flags=re.M)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_emulator(python: Path, home: Path, *, max_retries: int = 20) -> Emulator:
    home.mkdir(parents=True, exist_ok=True)
    ready = home / "emulator.ready.json"
    log_path = home / "emulator.log"
    queues = [f"projects/{PROJECT}/locations/{LOCATION}/queues/{q}" for q in QUEUES]
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [str(python), "-c", _LAUNCHER, str(ready), str(max_retries), *queues],
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"emulator exited {process.returncode}:\n{log_path.read_text()}")
        if ready.exists():
            info = json.loads(ready.read_text())
            emulator = Emulator(process, str(info["address"]), log_path)
            if _grpc_ready(emulator.address):
                return emulator
        time.sleep(0.05)
    process.kill()
    process.wait()
    raise AssertionError(f"emulator not ready:\n{log_path.read_text()}")


def _grpc_ready(address: str) -> bool:
    with grpc.insecure_channel(address) as channel:
        try:
            grpc.channel_ready_future(channel).result(timeout=2)
        except grpc.FutureTimeoutError:
            return False
    return True


@pytest.fixture(scope="session")
def emulator_venv() -> Path:
    return emulator_python()


@pytest.fixture
def emulator(emulator_venv: Path, tmp_path: Path) -> Iterator[Emulator]:
    server = start_emulator(emulator_venv, tmp_path / "emulator")
    try:
        yield server
    finally:
        server.stop()


# -- a recording HTTP target ------------------------------------------------------------


@dataclass
class Delivery:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    server: ThreadingHTTPServer
    deliveries: list[Delivery] = field(default_factory=list)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}/dispatch"

    def wait_for(self, count: int, timeout: float = 20.0) -> list[Delivery]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and len(self.deliveries) < count:
            time.sleep(0.02)
        return list(self.deliveries)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    deliveries: list[Delivery] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            deliveries.append(Delivery(self.path, dict(self.headers.items()), body))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Receiver(server, deliveries)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# -- injected provider errors -----------------------------------------------------------


class ProviderSemantics(grpc.aio.UnaryUnaryClientInterceptor):  # type: ignore[misc]
    """What the emulator lacks: Cloud Tasks refuses a task name it has seen
    (ALREADY_EXISTS); ``full_queues`` answer RESOURCE_EXHAUSTED (HTTP 429)."""

    def __init__(self, *, full_queues: frozenset[str] = frozenset()) -> None:
        self.created: set[str] = set()
        self.refused: list[tuple[str, grpc.StatusCode]] = []
        self.full_queues = full_queues

    async def intercept_unary_unary(
        self,
        continuation: Callable[[Any, Any], Awaitable[Any]],
        client_call_details: Any,
        request: Any,
    ) -> Any:
        method = client_call_details.method
        method = method.decode() if isinstance(method, bytes) else method
        if not method.endswith("/CreateTask"):
            return await continuation(client_call_details, request)
        name = request.task.name
        if request.parent in self.full_queues:
            self._refuse(name, grpc.StatusCode.RESOURCE_EXHAUSTED, "Queue is full")
        if name in self.created:
            self._refuse(name, grpc.StatusCode.ALREADY_EXISTS, "Requested entity already exists")
        call = await continuation(client_call_details, request)
        await call  # raises the emulator's own errors unchanged
        self.created.add(name)
        return call

    def _refuse(self, name: str, code: grpc.StatusCode, details: str) -> None:
        self.refused.append((name, code))
        raise grpc.aio.AioRpcError(code, grpc.aio.Metadata(), grpc.aio.Metadata(), details)


# -- adapter tests ----------------------------------------------------------------------


def make_envelope(run_id: str, task_key: str, *, worker_queue: str = "default-queue") -> Any:
    envelope = worker_pb.WorkerDispatchEnvelope(
        tenant_id="local",
        workspace_id="default",
        task_id=callback_task_id(run_id, task_key),
        task_key=task_key,
        run_id=run_id,
        attempt=1,
        attempt_id="att_0123456789abcdef01234567",
        dispatch_id=dispatch_id(run_id, task_key, 1),
        worker_queue=worker_queue,
        callback_base_url="http://127.0.0.1:8080",
        task_token="token",
        payload=struct_pb2.Struct(),
    )
    envelope.token_expires_at.FromMilliseconds(1_900_000_000_000)
    return envelope


def adapter_config(emulator: Emulator, receiver: Receiver, **extra: str) -> CloudTasksConfig:
    return CloudTasksConfig.from_env(
        {
            "ARCO_CLOUD_TASKS_PROJECT": PROJECT,
            "ARCO_CLOUD_TASKS_LOCATION": LOCATION,
            "ARCO_CLOUD_TASKS_QUEUE": "default-queue",
            "ARCO_CLOUD_TASKS_TARGET_URL": receiver.url,
            "ARCO_CLOUD_TASKS_EMULATOR_HOST": emulator.address,
            **extra,
        }
    )


def expected_name(queue: str, cloud_id: str) -> str:
    return f"projects/{PROJECT}/locations/{LOCATION}/queues/{queue}/tasks/{cloud_id}"


async def test_task_is_created_by_name_and_delivered_to_the_worker_endpoint(
    emulator: Emulator, receiver: Receiver
) -> None:
    adapter = build_adapter(
        "cloud_tasks",
        "",
        SECRET,
        TlsConfig.plaintext(),
        cloud_tasks=adapter_config(emulator, receiver),
    )
    assert isinstance(adapter, CloudTasksAdapter)
    envelope = make_envelope("run-1", "raw.events")
    cloud_id = cloud_task_id("d", envelope.dispatch_id)
    try:
        result = await adapter.send(envelope, cloud_id)
    finally:
        await adapter.close()
    name = expected_name("default-queue", cloud_id)
    assert result.outcome is SendOutcome.ENQUEUED, result
    assert result.target == name
    assert re.fullmatch(r"d_[a-z2-7]{26}", cloud_id)
    [delivery] = receiver.wait_for(1)
    assert emulator.created_tasks() == [name]
    assert delivery.path == "/dispatch"
    headers = {k.lower(): v for k, v in delivery.headers.items()}
    assert headers[DISPATCH_SECRET_HEADER.lower()] == SECRET
    assert headers["content-type"] == "application/json"
    assert headers["x-cloudtasks-taskname"] == cloud_id  # Cloud Tasks' own header
    body = json.loads(delivery.body)
    assert body["dispatchId"] == envelope.dispatch_id  # camelCase contract JSON
    assert parse_envelope(body) == envelope


async def test_already_exists_is_deduplicated_and_queue_full_is_reported(
    emulator: Emulator, receiver: Receiver
) -> None:
    semantics = ProviderSemantics(
        full_queues=frozenset({f"projects/{PROJECT}/locations/{LOCATION}/queues/gpu"})
    )
    adapter = CloudTasksAdapter(
        adapter_config(emulator, receiver), SECRET, interceptors=[semantics]
    )
    envelope = make_envelope("run-2", "marts.report")
    cloud_id = cloud_task_id("d", envelope.dispatch_id)
    gpu = make_envelope("run-2", "marts.train", worker_queue="gpu")
    try:
        first = await adapter.send(envelope, cloud_id)
        again = await adapter.send(envelope, cloud_id)
        full = await adapter.send(gpu, cloud_task_id("d", gpu.dispatch_id))
    finally:
        await adapter.close()
    name = expected_name("default-queue", cloud_id)
    assert first.outcome is SendOutcome.ENQUEUED
    assert again.outcome is SendOutcome.DEDUPLICATED  # success, acknowledged
    assert again.outcome.acknowledged and again.target == name
    assert full.outcome is SendOutcome.QUEUE_FULL
    assert not full.outcome.acknowledged
    assert semantics.refused == [
        (name, grpc.StatusCode.ALREADY_EXISTS),
        (
            expected_name("gpu", cloud_task_id("d", gpu.dispatch_id)),
            grpc.StatusCode.RESOURCE_EXHAUSTED,
        ),
    ]
    assert len(receiver.wait_for(1)) == 1
    assert emulator.created_tasks() == [name]  # the duplicate never reached the provider


async def test_worker_queue_routes_to_its_own_queue_and_target(
    emulator: Emulator, receiver: Receiver
) -> None:
    config = adapter_config(
        emulator,
        receiver,
        ARCO_CLOUD_TASKS_TARGETS=f"gpu={receiver.url.replace('/dispatch', '/gpu/dispatch')}",
    )
    adapter = CloudTasksAdapter(config, SECRET)
    gpu = make_envelope("run-3", "marts.train", worker_queue="gpu")
    unknown = make_envelope("run-3", "marts.other", worker_queue="no-such-queue")
    try:
        routed = await adapter.send(gpu, cloud_task_id("d", gpu.dispatch_id))
        # The emulator's own error for a queue it does not know is a failure, not an ack.
        failed = await adapter.send(unknown, cloud_task_id("d", unknown.dispatch_id))
    finally:
        await adapter.close()
    assert routed.outcome is SendOutcome.ENQUEUED
    assert routed.target == expected_name("gpu", cloud_task_id("d", gpu.dispatch_id))
    [delivery] = receiver.wait_for(1)
    assert delivery.path == "/gpu/dispatch"
    assert failed.outcome is SendOutcome.FAILED
    assert "FailedPrecondition" in failed.error


def test_sends_rotate_over_every_target_of_a_queue() -> None:
    router = _Router({"default-queue": ["a", "b", "c"], "gpu": ["g"]})
    starts = [router.candidates("default-queue")[0] for _ in range(6)]
    assert starts == ["a", "b", "c", "a", "b", "c"]  # every worker gets work, in turn
    assert router.candidates("default-queue") == ["a", "b", "c"]  # the rest are fallbacks
    assert router.candidates("gpu") == ["g"]
    assert router.candidates("unknown")[0] == "b"  # unknown queues use the default queue
    assert _Router({}).candidates("default-queue") == []


def test_configuration_is_checked() -> None:
    with pytest.raises(ConfigError, match="ARCO_CLOUD_TASKS_PROJECT"):
        build_adapter(
            "cloud_tasks", "", SECRET, TlsConfig.plaintext(), cloud_tasks=CloudTasksConfig()
        )
    config = CloudTasksConfig(project="p", location="l")
    with pytest.raises(ConfigError, match="TARGET_URL"):
        build_adapter("cloud_tasks", "", SECRET, TlsConfig.plaintext(), cloud_tasks=config)
    config = CloudTasksConfig(project="p", location="l", target_url="127.0.0.1:1")
    with pytest.raises(ConfigError, match="http"):
        build_adapter("cloud_tasks", "", SECRET, TlsConfig.plaintext(), cloud_tasks=config)
    config = CloudTasksConfig(project="p", location="l", target_url="http://127.0.0.1:1/d")
    with pytest.raises(ConfigError, match="SECRET"):
        build_adapter("cloud_tasks", "", "", TlsConfig.plaintext(), cloud_tasks=config)


# -- the whole mesh through the emulator ------------------------------------------------


async def ledger_events(storage_url: str) -> list[EventEnvelope]:
    store = open_object_store(storage_url, {})
    storage = ScopedStorage(store, Scope("local", "default"), Role.SWEEPER)
    return await LedgerReader(storage, "orchestration").scan_after(None)


class CloudTasksMesh(Mesh):
    """The local mesh with the dispatcher and sweeper on the Cloud Tasks adapter,
    targeting the workers' HTTP ``/dispatch`` endpoints through the emulator."""

    def __init__(self, home: Path, emulator: Emulator, **kwargs: Any) -> None:
        super().__init__(home, **kwargs)
        self.emulator = emulator
        self.worker_urls: list[str] = []

    def _start(self, spec: ServiceSpec, ready_env: str = "ARCO_READY_FILE") -> RunningService:
        if spec.module in ("services.dispatcher", "services.sweeper"):
            spec = ServiceSpec(
                spec.name,
                spec.module,
                {
                    **spec.env,
                    "ARCO_DISPATCH_ADAPTER": "cloud_tasks",
                    "ARCO_CLOUD_TASKS_PROJECT": PROJECT,
                    "ARCO_CLOUD_TASKS_LOCATION": LOCATION,
                    "ARCO_CLOUD_TASKS_QUEUE": "default-queue",
                    "ARCO_CLOUD_TASKS_TARGETS": "default-queue=" + ",".join(self.worker_urls),
                    "ARCO_CLOUD_TASKS_EMULATOR_HOST": self.emulator.address,
                },
                spec.role,
            )
        running = super()._start(spec, ready_env)
        if spec.module == "arco_sdk.worker":
            self.worker_urls.append(f"http://{running.ready['http_address']}/dispatch")
        return running


def test_a_run_goes_end_to_end_through_the_emulator(emulator: Emulator, tmp_path: Path) -> None:
    from arco_sdk.client import ArcoClient
    from arco_sdk.manifest import AssetGraph, build_manifest, discover

    mesh = CloudTasksMesh(
        tmp_path / "mesh",
        emulator,
        workers=2,
        worker_modules=["examples.lakehouse_demo"],
    )
    mesh.start()
    try:
        defs, _ = discover("examples.lakehouse_demo")
        manifest = build_manifest(AssetGraph(defs), code_version_id="v1")
        keys = [f"{a['key']['namespace']}.{a['key']['name']}" for a in manifest["assets"]]
        with ArcoClient(
            f"http://{mesh.address('gateway')}", tenant_id="local", workspace_id="default"
        ) as client:
            client.deploy_manifest(manifest)
            run_id = client.trigger_run(keys).run_id
            deadline = time.monotonic() + 120
            run = client.get_run(run_id)
            while run.state not in ("SUCCEEDED", "FAILED", "CANCELLED"):
                assert time.monotonic() < deadline, (run, emulator.log()[-3000:])
                time.sleep(0.3)
                run = client.get_run(run_id)
            assert run.state == "SUCCEEDED", run
            task_keys = sorted(t.task_key for t in run.tasks)
    finally:
        codes = mesh.stop()
    assert all(code == 0 for code in codes.values()), codes
    assert len(task_keys) == len(keys)
    expected = {key: cloud_task_id("d", dispatch_id(run_id, key, 1)) for key in task_keys}
    # The ids the dispatcher acknowledged (its DispatchEnqueued events in the ledger) ...
    acknowledged = {
        event.data["dispatch_id"]: event.data["cloud_task_id"]
        for event in asyncio.run(ledger_events(mesh.storage_url))
        if event.event_type == "DispatchEnqueued"
    }
    assert acknowledged == {dispatch_id(run_id, key, 1): cid for key, cid in expected.items()}
    # ... are exactly the task names the emulator created and delivered, once each.
    names = sorted(expected_name("default-queue", cid) for cid in expected.values())
    assert sorted(emulator.created_tasks()) == names
    assert sorted(set(emulator.delivered_tasks())) == names
    for cid in expected.values():
        assert re.fullmatch(r"d_[a-z2-7]{26}", cid)
