"""End-to-end benchmark: whole runs through the mesh against Dagster on the same DAGs.

Run: ``.venv/bin/python bench/e2e_bench.py [--workers 2] [--concurrency 32]
[--fanout 500] [--chain 50] [--callbacks api|gateway] [--no-plaintext]``

The mesh runs as separate processes on loopback (orchestration + catalog compactors,
api, gateway, dispatcher, sweeper, N workers) on a LocalStore in a temp dir. The assets
do nothing (no I/O, return None), so the numbers are pure orchestration:

  * a fan-out: one root and ``fanout - 1`` leaves depending on it (``fanout`` tasks);
  * a chain of ``chain`` tasks, each depending on the previous one.

The mesh runs in production posture (mutual TLS on every gRPC hop); workers call back
straight to the api's TaskCallbackService over gRPC (``--callbacks gateway``: through the
gateway's REST routes, as before). A second mesh with
``ARCO_TLS=off`` (plaintext, loopback) runs the same DAGs interleaved with it, so the cost
of the boundary prints as a ratio measured under the same load (``--no-plaintext`` skips
it).

For each DAG it prints the run wall time (trigger → run SUCCEEDED, as the client sees it),
tasks/s, and the callback latency p50/p99 (started/heartbeat/completed, from the api's
``arco_rpc_latency_seconds`` histogram for ``TaskCallbackService`` methods, the delta over
that run, read from its Prometheus endpoint).

The same DAGs run on Dagster (installed into ``.venv-dagster/`` by this script on first
use; git-ignored) in a long-lived process of its own, in three modes: ``materialize`` of
assets with an ephemeral instance, the same with a sqlite instance (``DagsterInstance`` in
a temp DAGSTER_HOME), and an op job run with ``execute_in_process`` on an in-memory
instance (its fastest mode). Runs are interleaved: every mesh run of a DAG is followed at
once by the same DAG on Dagster, ``--repeat`` times (default 3), so each ratio pairs runs
made under the same load of a shared host. It prints the median wall time of each system,
the per-stage breakdown of a chain hop, and the medians of the paired ratios against the
targets as PASS/FAIL:

  * fan-out tasks/s >= 1.0x Dagster's in-process op job;
  * 50-chain wall time <= 0.25x Dagster with sqlite;
  * chain TaskStarted and TaskCompleted p99 <= 10 ms at the api;
  * GetRun through the gateway >= 2,000 req/s with 8 clients.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO_ROOT / "gen"), str(REPO_ROOT)]


from arco_core.envelope import EventEnvelope  # noqa: E402
from arco_core.ledger import LedgerReader  # noqa: E402
from arco_core.paths import Scope  # noqa: E402
from arco_core.storage import Role, ScopedStorage, open_object_store  # noqa: E402
from arco_sdk.client import ArcoClient  # noqa: E402
from arco_sdk.manifest import AssetGraph, build_manifest, discover  # noqa: E402
from services.mesh import Mesh  # noqa: E402

DAGSTER_VENV = REPO_ROOT / ".venv-dagster"
DAGSTER_REQUIREMENT = "dagster"
TERMINAL = frozenset({"SUCCEEDED", "FAILED", "CANCELLED"})
CALLBACK_SERVICE = "TaskCallbackService"
ASSET_MODULE = "arco_e2e_bench_assets"


# -- the DAGs ---------------------------------------------------------------------------


def asset_module_source(fanout: int, chain: int) -> str:
    """One module with both DAGs as no-op Arco assets (ordering-only deps)."""
    lines = [
        "from arco_sdk import asset",
        "",
        "",
        "def _make(namespace, name, deps):",
        "    def fn(ctx):",
        "        return None",
        "",
        "    fn.__name__ = name",
        "    fn.__qualname__ = name",
        "    # discover() collects module attributes: each asset gets its own global name",
        "    globals()[f'{namespace}__{name}'] = asset(",
        "        namespace=namespace, name=name, deps=deps, max_retries=0",
        "    )(fn)",
        "",
        "",
        "_make('fan', 'root', [])",
        f"for _i in range({fanout - 1}):",
        "    _make('fan', f'leaf_{_i:04d}', ['fan.root'])",
        f"for _i in range({chain}):",
        "    _make('chain', f'link_{_i:03d}', [f'chain.link_{_i - 1:03d}'] if _i else [])",
        "_make('warm', 'root', [])",
        "for _i in range(3):",
        "    _make('warm', f'leaf_{_i}', ['warm.root'])",
        "",
    ]
    return "\n".join(lines)


def fanout_keys(fanout: int) -> list[str]:
    return ["fan.root", *(f"fan.leaf_{i:04d}" for i in range(fanout - 1))]


def chain_keys(chain: int) -> list[str]:
    return [f"chain.link_{i:03d}" for i in range(chain)]


# -- metrics ----------------------------------------------------------------------------


def scrape(metrics_address: str) -> dict[str, dict[float, float]]:
    """Cumulative bucket counts of arco_rpc_latency_seconds per callback method."""
    with urllib.request.urlopen(f"http://{metrics_address}/metrics", timeout=10) as response:
        text = response.read().decode()
    buckets: dict[str, dict[float, float]] = {}
    pattern = re.compile(
        r"^arco_rpc_latency_seconds_bucket\{(?P<labels>[^}]*)\} (?P<value>\S+)$", re.M
    )
    for match in pattern.finditer(text):
        labels = dict(re.findall(r'(\w+)="([^"]*)"', match["labels"]))
        method = labels.get("method", "")
        if CALLBACK_SERVICE not in method:
            continue
        le = labels["le"]
        bound = float("inf") if le == "+Inf" else float(le)
        buckets.setdefault(method.rsplit("/", 1)[-1], {})[bound] = float(match["value"])
    return buckets


def delta(
    after: Mapping[str, Mapping[float, float]], before: Mapping[str, Mapping[float, float]]
) -> dict[str, dict[float, float]]:
    return {
        method: {le: count - before.get(method, {}).get(le, 0.0) for le, count in series.items()}
        for method, series in after.items()
    }


def combine(series: Mapping[str, Mapping[float, float]]) -> dict[float, float]:
    total: dict[float, float] = {}
    for buckets in series.values():
        for le, count in buckets.items():
            total[le] = total.get(le, 0.0) + count
    return total


def quantile(buckets: Mapping[float, float], q: float) -> float:
    """Prometheus-style histogram_quantile (linear inside the bucket)."""
    bounds = sorted(buckets)
    if not bounds or buckets[bounds[-1]] <= 0:
        return float("nan")
    rank = q * buckets[bounds[-1]]
    prev_bound, prev_count = 0.0, 0.0
    for bound in bounds:
        count = buckets[bound]
        if count >= rank:
            if bound == float("inf"):
                return prev_bound
            if count == prev_count:
                return bound
            return prev_bound + (bound - prev_bound) * (rank - prev_count) / (count - prev_count)
        prev_bound, prev_count = bound, count
    return prev_bound


# -- where a hop's time goes ----------------------------------------------------------

# A chain hop, from the ledger's own event times (each stamped by its writer when created):
# decided (DispatchRequested, dispatcher) -> started (TaskStarted, api: the envelope sent,
# received and the start callback) -> completed (TaskFinished, api: the task and the
# completion callback) -> the next link decided (the fold, the head reaching the dispatcher,
# its decision). DispatchEnqueued is left out: it is written after the worker's answer,
# which comes after its start callback.
STAGES = ("decided->started", "started->completed", "completed->next decided")
_STAGE_EVENTS = ("DispatchRequested", "TaskStarted", "TaskFinished")
# The api records a worker's completion as TaskCompletionRecorded (a TaskFinished).
_COMPLETION_ALIASES = {"TaskCompletionRecorded": "TaskFinished"}


def hop_stages(storage_url: str, run_id: str, keys: list[str]) -> dict[str, list[float]]:
    """Milliseconds per stage for every link of a chain run but the last."""
    store = open_object_store(storage_url, {})
    storage = ScopedStorage(store, Scope("local", "default"), Role.SWEEPER)
    reader = LedgerReader(storage, "orchestration")

    async def scan() -> list[EventEnvelope]:
        return list(await reader.read(await reader.scan_paths_after(None)))

    first: dict[tuple[str, str], int] = {}
    for event in asyncio.run(scan()):
        kind = _COMPLETION_ALIASES.get(event.event_type, event.event_type)
        if event.data.get("run_id") != run_id or kind not in _STAGE_EVENTS:
            continue
        key = (kind, str(event.data.get("task_key")))
        first[key] = min(first.get(key, event.timestamp_ms), event.timestamp_ms)
    stages: dict[str, list[float]] = {stage: [] for stage in STAGES}
    for link, following in itertools.pairwise(keys):
        times = [first.get((kind, link)) for kind in _STAGE_EVENTS]
        times.append(first.get(("DispatchRequested", following)))
        known = [t for t in times if t is not None]
        if len(known) != len(times):
            continue
        for stage, (a, b) in zip(STAGES, itertools.pairwise(known), strict=True):
            stages[stage].append(float(b - a))
    return stages


def read_throughput(url: str, clients: int, seconds: float) -> float:
    """Requests per second of GET ``url`` from ``clients`` threads, one connection each."""
    stop = time.perf_counter() + seconds
    counts = [0] * clients

    def hammer(slot: int) -> None:
        headers = {"X-Tenant-Id": "local", "X-Workspace-Id": "default"}
        with httpx.Client(timeout=10, headers=headers) as http:
            while time.perf_counter() < stop:
                if http.get(url).status_code == 200:
                    counts[slot] += 1

    threads = [threading.Thread(target=hammer, args=(n,)) for n in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts) / (time.perf_counter() - started)


# -- the mesh ---------------------------------------------------------------------------


@dataclass
class MeshResult:
    name: str
    tasks: int
    wall_sec: float
    callbacks: dict[str, dict[float, float]]
    run_id: str = ""

    @property
    def tasks_per_sec(self) -> float:
        return self.tasks / self.wall_sec


def run_on_mesh(
    client: ArcoClient, metrics_address: str, name: str, keys: list[str], timeout: float
) -> MeshResult:
    before = scrape(metrics_address)
    started = time.perf_counter()
    run_id = client.trigger_run(keys).run_id
    deadline = time.monotonic() + timeout
    while True:
        run = client.get_run(run_id)
        if run.state in TERMINAL:
            break
        if time.monotonic() > deadline:
            states: dict[str, int] = {}
            for task in run.tasks:
                states[task.state] = states.get(task.state, 0) + 1
            raise SystemExit(f"{name}: run {run_id} not done after {timeout:.0f}s: {states}")
        time.sleep(0.05)
    wall = time.perf_counter() - started
    if run.state != "SUCCEEDED":
        raise SystemExit(f"{name}: run {run_id} ended {run.state}")
    if len(run.tasks) != len(keys):
        raise SystemExit(f"{name}: {len(run.tasks)} tasks, expected {len(keys)}")
    time.sleep(0.5)  # let the last callbacks' histogram observations land
    return MeshResult(name, len(keys), wall, delta(scrape(metrics_address), before), run_id)


@dataclass
class Pair:
    """One DAG run on the mesh and, right after it, on Dagster (same host conditions)."""

    mesh: MeshResult
    dagster: dict[str, float]  # mode -> wall seconds
    plaintext: MeshResult | None = None  # the same DAG on the mesh with ARCO_TLS=off


def write_asset_module(args: argparse.Namespace, home: Path) -> None:
    module_dir = home / "modules"
    module_dir.mkdir(parents=True)
    (module_dir / f"{ASSET_MODULE}.py").write_text(asset_module_source(args.fanout, args.chain))
    # Workers (and discover() here) import the generated module from this directory.
    os.environ["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(module_dir), os.environ.get("PYTHONPATH", "")])
    )
    sys.path.insert(0, str(module_dir))


def start_mesh(args: argparse.Namespace, home: Path, *, tls: bool) -> Mesh:
    mesh = Mesh(
        home / ("mesh" if tls else "mesh-plaintext"),
        tls=tls,
        callbacks=args.callbacks,
        workers=args.workers,
        worker_modules=[ASSET_MODULE],
        worker_env={
            "ARCO_WORKER_CONCURRENCY": str(args.concurrency),
            "ARCO_WORKER_UPLOAD_LOGS": "false",
            "ARCO_WORKER_LOG_LEVEL": "WARNING",
        },
        # The client polls GetRun every 50 ms: the per-tenant rate limit is not what is measured.
        extra_env={
            "ARCO_LOG_LEVEL": "WARNING",
            "ARCO_GATEWAY_RATE_LIMIT_PER_MIN": "0",
            **dict(args.env),
        },
    )
    print(
        f"starting the mesh ({'mTLS' if tls else 'plaintext'}): {args.workers} workers x "
        f"concurrency {args.concurrency} ...",
        flush=True,
    )
    mesh.start()
    return mesh


class MeshUnderTest:
    """A started mesh with its asset module deployed and warmed up."""

    def __init__(self, args: argparse.Namespace, home: Path, *, tls: bool) -> None:
        self.mesh = start_mesh(args, home, tls=tls)
        self.metrics = str(self.mesh.services["api"].ready["metrics_address"])
        self.client = ArcoClient(
            f"http://{self.mesh.address('gateway')}", tenant_id="local", workspace_id="default"
        )
        definitions, _ = discover(ASSET_MODULE)
        self.client.deploy_manifest(
            build_manifest(AssetGraph(definitions), code_version_id="bench")
        )
        warm = ["warm.root", *(f"warm.leaf_{i}" for i in range(3))]
        run_on_mesh(self.client, self.metrics, "warm-up", warm, 60)

    def run(self, dag: str, keys: list[str]) -> MeshResult:
        return run_on_mesh(self.client, self.metrics, dag, keys, 600)

    def stop(self) -> None:
        self.client.close()
        codes = self.mesh.stop()
        bad = {name: code for name, code in codes.items() if code != 0}
        if bad:
            print(f"warning: non-zero exits at mesh stop: {bad}", file=sys.stderr)


@dataclass
class Extras:
    """What the mTLS mesh measured besides wall times."""

    stages: dict[str, list[float]]  # chain hop stage -> ms, every link of every chain run
    get_run_rps: float  # GetRun through the gateway
    healthz_rps: float  # the gateway's /healthz, same clients: the HTTP layer alone


def run_benchmark(
    args: argparse.Namespace, home: Path
) -> tuple[list[Pair], str | None, Extras | None]:
    """Each DAG ``--repeat`` times: on the mTLS mesh, on the plaintext mesh, then on
    Dagster, so each ratio compares runs made under the same load on a shared host."""
    dagster = None if args.skip_dagster else DagsterBaseline(args.fanout, args.chain)
    write_asset_module(args, home)
    meshes: list[MeshUnderTest] = []
    pairs: list[Pair] = []
    extras = None
    try:
        meshes.append(MeshUnderTest(args, home, tls=True))
        if not args.no_plaintext:
            meshes.append(MeshUnderTest(args, home, tls=False))
        mtls, plain = meshes[0], (meshes[1] if len(meshes) > 1 else None)
        for n in range(args.repeat):
            for dag, keys in (
                ("fan-out", fanout_keys(args.fanout)),
                ("chain", chain_keys(args.chain)),
            ):
                result = mtls.run(dag, keys)
                plaintext = plain.run(dag, keys) if plain else None
                walls = {mode: dagster.run(dag, mode) for mode in DAGSTER_MODES} if dagster else {}
                pairs.append(Pair(result, walls, plaintext))
                shown = "".join(f", dagster-{m} {w:.2f}s" for m, w in walls.items())
                plain_shown = f", plaintext {plaintext.wall_sec:.2f}s" if plaintext else ""
                print(
                    f"  [{n + 1}/{args.repeat}] {dag:<8} mesh {result.wall_sec:.2f}s"
                    f"{plain_shown}{shown}",
                    flush=True,
                )
        extras = measure_extras(args, mtls, pairs)
    finally:
        for mesh in meshes:
            mesh.stop()
        version = dagster.close() if dagster else None
    return pairs, version, extras


def measure_extras(args: argparse.Namespace, mesh: MeshUnderTest, pairs: list[Pair]) -> Extras:
    stages: dict[str, list[float]] = {stage: [] for stage in STAGES}
    chains = [p.mesh for p in pairs if p.mesh.name == "chain"]
    for result in chains:
        for stage, values in hop_stages(
            mesh.mesh.storage_url, result.run_id, chain_keys(args.chain)
        ).items():
            stages[stage].extend(values)
    gateway = f"http://{mesh.mesh.address('gateway')}"
    run_url = f"{gateway}/api/v1/workspaces/default/runs/{chains[-1].run_id}"
    print(f"reads: {args.read_clients} clients x {args.read_seconds:.0f}s ...", flush=True)
    healthz = read_throughput(f"{gateway}/healthz", args.read_clients, args.read_seconds)
    get_run = read_throughput(run_url, args.read_clients, args.read_seconds)
    return Extras(stages, get_run, healthz)


# -- Dagster ----------------------------------------------------------------------------

# ephemeral/sqlite: ``materialize`` of assets; inprocess: an op job run with
# ``execute_in_process`` on an in-memory instance (Dagster's fastest mode).
DAGSTER_MODES = ("ephemeral", "sqlite", "inprocess")

# A long-lived Dagster process: one line per run on stdin ("<dag> <mode>"), one RESULT
# line per run on stdout. Imports and first-use costs are paid before READY.
_DAGSTER_SCRIPT = r"""
import json, sys, tempfile, time, warnings
warnings.filterwarnings("ignore")
import dagster as dg

fanout, chain = (int(x) for x in sys.argv[1:3])

def make(name, deps):
    @dg.asset(name=name, deps=deps)
    def fn() -> None:
        return None
    return fn

def fan_assets():
    root = make("fan_root", [])
    return [root, *(make(f"fan_leaf_{i:04d}", ["fan_root"]) for i in range(fanout - 1))]

def chain_assets():
    return [make(f"chain_link_{i:03d}", [f"chain_link_{i-1:03d}"] if i else []) for i in range(chain)]

def timed(assets, instance):
    start = time.perf_counter()
    result = dg.materialize(assets, instance=instance)
    wall = time.perf_counter() - start
    assert result.success
    return wall

def op_job(dag):
    @dg.op
    def noop(upstream=None) -> int:
        return 0
    @dg.job
    def job():
        if dag == "fan-out":
            root = noop.alias("fan_root")()
            for i in range(fanout - 1):
                noop.alias(f"fan_leaf_{i:04d}")(root)
        else:
            previous = None
            for i in range(chain):
                step = noop.alias(f"chain_link_{i:03d}")
                previous = step(previous) if previous is not None else step()
    return job

jobs = {dag: op_job(dag) for dag in ("fan-out", "chain")}

def timed_job(job):
    start = time.perf_counter()
    result = job.execute_in_process()
    wall = time.perf_counter() - start
    assert result.success
    return wall

warm = [make("warm_root", []), make("warm_leaf", ["warm_root"])]
dg.materialize(warm)
for job in jobs.values():
    job.execute_in_process()  # definition and first-run costs outside the timing
print("READY " + dg.__version__, flush=True)
for line in sys.stdin:
    dag, mode = line.split()
    assets = fan_assets() if dag == "fan-out" else chain_assets()
    if mode == "inprocess":
        wall = timed_job(jobs[dag])
    elif mode == "ephemeral":
        wall = timed(assets, None)
    else:
        with tempfile.TemporaryDirectory() as home:
            with dg.DagsterInstance.local_temp(tempdir=home) as instance:
                dg.materialize(warm, instance=instance)  # schema creation outside the timing
                wall = timed(assets, instance)
    print("RESULT " + json.dumps({"dag": dag, "mode": mode, "wall": wall}), flush=True)
"""


def dagster_python() -> Path:
    python = DAGSTER_VENV / "bin" / "python"
    probe = (
        subprocess.run([str(python), "-c", "import dagster"], capture_output=True, check=False)
        if python.exists()
        else None
    )
    if probe is None or probe.returncode != 0:
        print(f"installing {DAGSTER_REQUIREMENT} into {DAGSTER_VENV} ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(DAGSTER_VENV)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", DAGSTER_REQUIREMENT], check=True
        )
    return python


class DagsterBaseline:
    """The same DAGs on Dagster's in-process executor, in its own venv and process."""

    def __init__(self, fanout: int, chain: int) -> None:
        self._home = tempfile.TemporaryDirectory(prefix="arco-dagster-")
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("DAGSTER_", "PYTHONPATH"))
        }
        env["DAGSTER_HOME"] = self._home.name
        self._log = open(Path(self._home.name) / "dagster.log", "w+b")  # noqa: SIM115
        self._process = subprocess.Popen(
            [str(dagster_python()), "-c", _DAGSTER_SCRIPT, str(fanout), str(chain)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            env=env,
            cwd=self._home.name,
        )
        self.version = self._expect("READY ")

    def _expect(self, prefix: str) -> str:
        assert self._process.stdout is not None
        for line in self._process.stdout:
            if line.startswith(prefix):
                return line.removeprefix(prefix).strip()
        self._log.seek(0)
        tail = self._log.read()[-3000:].decode(errors="replace")
        raise SystemExit(f"dagster baseline failed (exit {self._process.wait()}):\n{tail}")

    def run(self, dag: str, mode: str) -> float:
        assert self._process.stdin is not None
        self._process.stdin.write(f"{dag} {mode}\n")
        self._process.stdin.flush()
        return float(json.loads(self._expect("RESULT "))["wall"])

    def close(self) -> str:
        if self._process.stdin is not None:
            self._process.stdin.close()
        self._process.wait(timeout=60)
        self._log.close()
        self._home.cleanup()
        return self.version


# -- report -----------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=32, help="per worker")
    parser.add_argument("--fanout", type=int, default=500, help="tasks in the fan-out DAG")
    parser.add_argument("--chain", type=int, default=50, help="tasks in the chain DAG")
    parser.add_argument(
        "--repeat", type=int, default=3, help="interleaved runs of each DAG (median kept)"
    )
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        type=lambda s: tuple(s.split("=", 1)),
        help="extra ARCO_* setting for every service, NAME=VALUE (repeatable)",
    )
    parser.add_argument(
        "--callbacks",
        choices=("api", "gateway"),
        default="api",
        help="workers call back straight to the api over gRPC (default) or through the "
        "gateway's REST routes",
    )
    parser.add_argument("--skip-dagster", action="store_true")
    parser.add_argument("--read-clients", type=int, default=8, help="GetRun read clients")
    parser.add_argument("--read-seconds", type=float, default=5.0, help="GetRun read duration")
    parser.add_argument(
        "--no-plaintext",
        action="store_true",
        help="skip the plaintext (ARCO_TLS=off) mesh that measures the cost of mTLS",
    )
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="arco-e2e-bench-") as tmp:
        pairs, version, extras = run_benchmark(args, Path(tmp))

    print()
    print(
        f"e2e benchmark: {args.fanout}-task fan-out, {args.chain}-task chain, no-op assets; "
        f"mesh on LocalStore, {args.workers} workers x concurrency {args.concurrency}; "
        f"{args.repeat} interleaved runs per DAG, medians"
        + (f"; Dagster {version} in-process executor" if version else "")
    )
    print(f"{'dag':<9}{'system':<20}{'tasks':>6}{'wall s':>9}{'tasks/s':>9}  runs (wall s)")
    for dag in ("fan-out", "chain"):
        mine = [p for p in pairs if p.mesh.name == dag]
        n = mine[0].mesh.tasks
        systems = {"mesh (mTLS)": [p.mesh.wall_sec for p in mine]}
        if mine[0].plaintext:
            systems["mesh (plaintext)"] = [p.plaintext.wall_sec for p in mine if p.plaintext]
        for mode in DAGSTER_MODES if version else ():
            systems[f"dagster-{mode}"] = [p.dagster[mode] for p in mine]
        for system, walls in systems.items():
            wall = statistics.median(walls)
            runs = " ".join(f"{w:.2f}" for w in walls)
            print(f"{dag:<9}{system:<20}{n:>6}{wall:>9.2f}{n / wall:>9.1f}  {runs}")

    print("callback latency (api TaskCallbackService, arco_rpc_latency_seconds), per run:")
    for pair in pairs:
        result = pair.mesh
        parts = []
        for method, buckets in sorted(result.callbacks.items()):
            count = buckets.get(float("inf"), 0.0)
            if count:
                parts.append(
                    f"{method} n={count:.0f} p50={quantile(buckets, 0.5) * 1000:.1f}ms "
                    f"p99={quantile(buckets, 0.99) * 1000:.1f}ms"
                )
        total = combine(result.callbacks)
        print(
            f"  {result.name:<8} all p50={quantile(total, 0.5) * 1000:.1f}ms "
            f"p99={quantile(total, 0.99) * 1000:.1f}ms | " + "; ".join(parts)
        )

    if any(p.plaintext for p in pairs):
        print("cost of the boundary (mTLS wall / plaintext wall; median of the paired ratios):")
        for dag in ("fan-out", "chain"):
            ratios = [
                p.mesh.wall_sec / p.plaintext.wall_sec
                for p in pairs
                if p.mesh.name == dag and p.plaintext
            ]
            print(
                f"  {dag:<8} {statistics.median(ratios):.2f}x "
                f"({' '.join(f'{r:.2f}' for r in ratios)})"
            )

    if extras is not None:
        print(f"where a chain hop's time goes (ms over {len(extras.stages[STAGES[0]])} hops):")
        for stage, values in extras.stages.items():
            if values:
                ordered = sorted(values)
                p90 = ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]
                print(f"  {stage:<24} p50 {statistics.median(values):6.1f}  p90 {p90:6.1f}")
        print(
            f"reads ({args.read_clients} clients): GetRun {extras.get_run_rps:.0f} req/s, "
            f"gateway /healthz {extras.healthz_rps:.0f} req/s "
            f"(GetRun at {extras.get_run_rps / extras.healthz_rps:.2f}x the HTTP layer alone)"
        )

    def verdict(ok: bool) -> str:
        return "PASS" if ok else "FAIL"

    print("targets (medians of the paired ratios, mesh in production posture):")
    if version:
        # Each ratio pairs a mesh run with the Dagster runs made right after it.
        fan = [p.dagster["inprocess"] / p.mesh.wall_sec for p in pairs if p.mesh.name == "fan-out"]
        chain = [p.mesh.wall_sec / p.dagster["sqlite"] for p in pairs if p.mesh.name == "chain"]
        fan_ratio, chain_ratio = statistics.median(fan), statistics.median(chain)
        print(
            f"  fan-out tasks/s >= 1.0x Dagster in-process op job: {fan_ratio:.2f}x "
            f"({' '.join(f'{r:.2f}' for r in fan)}) -> {verdict(fan_ratio >= 1.0)}"
        )
        print(
            f"  {args.chain}-chain wall <= 0.25x Dagster-sqlite: {chain_ratio:.2f}x "
            f"({' '.join(f'{r:.2f}' for r in chain)}) -> {verdict(chain_ratio <= 0.25)}"
        )
    for method in ("TaskStarted", "TaskCompleted"):
        p99s = [
            quantile(buckets, 0.99) * 1000
            for p in pairs
            if p.mesh.name == "chain"
            for name, buckets in p.mesh.callbacks.items()
            if name == method and buckets.get(float("inf"))
        ]
        if p99s:
            p99 = statistics.median(p99s)
            print(f"  chain {method} p99 <= 10 ms at the api: {p99:.1f} ms -> {verdict(p99 <= 10)}")
    if extras is not None:
        print(
            f"  GetRun through the gateway >= 2,000 req/s with {args.read_clients} clients: "
            f"{extras.get_run_rps:.0f} -> {verdict(extras.get_run_rps >= 2000)}"
        )
    if version:
        others = {
            mode: {
                dag: statistics.median(
                    p.dagster[mode] / p.mesh.wall_sec for p in pairs if p.mesh.name == dag
                )
                for dag in ("fan-out", "chain")
            }
            for mode in DAGSTER_MODES
        }
        for mode, by_dag in others.items():
            print(
                f"  (vs Dagster {mode}: the mesh runs the fan-out {by_dag['fan-out']:.2f}x and "
                f"the chain {by_dag['chain']:.2f}x as fast)"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
