"""Gateway benchmark: REST requests/s through the gateway vs direct gRPC to the api.

Run: ``.venv/bin/python bench/gateway_bench.py [--clients 2] [--concurrency 8] [--duration 5]``

Starts the mesh (compactors, api, gateway, dispatcher, sweeper; no workers) on loopback
with per-tenant rate limiting off, deploys the example manifest and triggers one run,
then measures one cheap read, ``GetRun`` of that run:

  * direct: ``OrchestrationService/GetRun`` on the api's gRPC port, with the signed
    identity metadata the gateway would forward;
  * REST: ``GET /api/v1/workspaces/{ws}/runs/{id}`` through the gateway (dev headers).

Both use the same number of client processes (``--clients``), each keeping
``--concurrency`` requests in flight over one connection, for ``--duration`` seconds
after a one-second warm-up. Every answer is checked (a non-200/OK answer aborts). It
prints both rates, the ratio and PASS/FAIL for the target REST >= 0.5x direct gRPC.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import sys
import tempfile
import time
from pathlib import Path

sys.path[:0] = [
    str(Path(__file__).resolve().parent.parent / "gen"),
    str(Path(__file__).resolve().parent.parent),
]

import httpx  # noqa: E402
from arco.orchestration.v1 import orchestration_service_pb2 as orch_pb  # noqa: E402
from arco.orchestration.v1 import orchestration_service_pb2_grpc as orch_grpc  # noqa: E402

from arco_runtime.identity import sign_identity  # noqa: E402
from arco_runtime.tls import Role, TlsConfig, aio_channel  # noqa: E402
from arco_sdk.manifest import AssetGraph, build_manifest, discover  # noqa: E402
from services.mesh import Mesh  # noqa: E402

TARGET_RATIO = 0.5
WARMUP_SEC = 1.0


async def _drive(call: object, concurrency: int, duration: float) -> int:
    """Keep ``concurrency`` calls in flight; count those completed after the warm-up."""
    assert callable(call)
    start = time.monotonic()
    measure_from = start + WARMUP_SEC
    stop_at = measure_from + duration
    counted = 0

    async def loop() -> None:
        nonlocal counted
        while True:
            await call()
            now = time.monotonic()
            if now >= stop_at:
                return
            if now >= measure_from:
                counted += 1

    await asyncio.gather(*(loop() for _ in range(concurrency)))
    return counted


async def _grpc_client(
    address: str, tls: TlsConfig, secret: str, run_id: str, *, concurrency: int, duration: float
) -> int:
    metadata = (
        ("x-request-id", "bench"),
        *sign_identity(
            "local", "default", "bench", (), secret=secret, now=time.time(), ttl_sec=600
        ),
    )
    request = orch_pb.GetRunRequest(workspace_id="default", run_id=run_id)
    # The api takes a signed identity only from the gateway's certificate: the direct
    # client stands in for the gateway, over the same mutual TLS.
    async with aio_channel(address, tls) as channel:
        stub = orch_grpc.OrchestrationServiceStub(channel)  # type: ignore[no-untyped-call]

        async def call() -> None:
            reply = await stub.GetRun(request, metadata=metadata, timeout=10)
            assert reply.run_id == run_id

        return await _drive(call, concurrency, duration)


async def _rest_client(base: str, run_id: str, concurrency: int, duration: float) -> int:
    """Keep-alive HTTP/1.1 over raw asyncio streams.

    The load generator must not be the bottleneck on 2 shared cores: a full Python HTTP
    client (httpx) costs more CPU per request than the gateway hop being measured, while
    the gRPC side's client is mostly C. This one sends a fixed request and reads the
    status line, headers and Content-Length body, nothing more.
    """
    host, _, port = base.removeprefix("http://").partition(":")
    request = (
        f"GET /api/v1/workspaces/default/runs/{run_id} HTTP/1.1\r\n"
        f"Host: {host}:{port}\r\nX-Tenant-Id: local\r\nX-Workspace-Id: default\r\n\r\n"
    ).encode()
    connections = [await asyncio.open_connection(host, int(port)) for _ in range(concurrency)]
    free: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()
    for pair in connections:
        free.put_nowait(pair)

    async def call() -> None:
        reader, writer = await free.get()
        writer.write(request)
        status = await reader.readline()
        assert status.startswith(b"HTTP/1.1 200"), status
        length = 0
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        await reader.readexactly(length)
        free.put_nowait((reader, writer))

    try:
        return await _drive(call, concurrency, duration)
    finally:
        for _, writer in connections:
            writer.close()


def _worker(kind: str, args: tuple[object, ...], results: multiprocessing.Queue[int]) -> None:
    if kind == "grpc":
        address, tls, secret, run_id, concurrency, duration = args
        assert isinstance(tls, TlsConfig)
        count = asyncio.run(
            _grpc_client(
                str(address), tls, str(secret), str(run_id), int(concurrency), float(duration)
            )  # type: ignore[call-overload]
        )
    else:
        base, run_id, concurrency, duration = args
        count = asyncio.run(_rest_client(str(base), str(run_id), int(concurrency), float(duration)))  # type: ignore[call-overload]
    results.put(count)


def _measure(kind: str, args: tuple[object, ...], clients: int, duration: float) -> float:
    ctx = multiprocessing.get_context("spawn")
    results: multiprocessing.Queue[int] = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(kind, args, results)) for _ in range(clients)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=WARMUP_SEC + duration + 60)
        if proc.exitcode != 0:
            proc.kill()
            raise SystemExit(f"{kind} client exited {proc.exitcode}")
    return sum(results.get(timeout=5) for _ in procs) / duration


def _seed(base: str) -> str:
    headers = {"X-Tenant-Id": "local", "X-Workspace-Id": "default"}
    ws = f"{base}/api/v1/workspaces/default"
    definitions, schedules = discover("examples.lakehouse_demo")
    graph = AssetGraph(definitions)
    with httpx.Client(headers=headers, timeout=30) as http:
        deployed = http.post(
            f"{ws}/manifests", json=build_manifest(graph, schedules=schedules, deployed_by="bench")
        )
        assert deployed.status_code in {200, 201}, deployed.text
        run = http.post(f"{ws}/runs", json={"selection": [str(k) for k in graph.asset_keys()]})
        assert run.status_code in {200, 201}, run.text
        return str(run.json()["runId"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=2, help="client processes per side")
    parser.add_argument("--concurrency", type=int, default=8, help="in flight per process")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds measured per side")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="arco-gateway-bench-") as home:
        mesh = Mesh(
            Path(home),
            extra_env={"ARCO_GATEWAY_RATE_LIMIT_PER_MIN": "0", "ARCO_LOG_LEVEL": "warning"},
        )
        mesh.start()
        try:
            base = f"http://{mesh.address('gateway')}"
            run_id = _seed(base)
            secret = mesh.secrets["ARCO_IDENTITY_SECRET"]
            common = (args.concurrency, args.duration)
            direct = _measure(
                "grpc",
                (mesh.address("api"), mesh.tls_config(Role.GATEWAY), secret, run_id, *common),
                args.clients,
                args.duration,
            )
            rest = _measure("rest", (base, run_id, *common), args.clients, args.duration)
        finally:
            mesh.stop()
    ratio = rest / direct if direct else 0.0
    verdict = "PASS" if ratio >= TARGET_RATIO else "FAIL"
    print(
        f"GetRun, {args.clients} client processes x {args.concurrency} in flight, "
        f"{args.duration:.0f}s each (after {WARMUP_SEC:.0f}s warm-up), loopback"
    )
    print(f"direct gRPC (api)      : {direct:9.1f} req/s")
    print(f"REST through gateway   : {rest:9.1f} req/s")
    print(f"ratio REST/gRPC        : {ratio:9.2f}  (target >= {TARGET_RATIO})  {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
