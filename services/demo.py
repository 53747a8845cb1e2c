"""The main job: the whole story on the embedded default storage.

Starts the mesh with two workers, deploys the example pipeline (real assets that write
Parquet and record row counts) with a daily-partitioned example asset, runs the pipeline
with a live progress display, shows the final run state with per-task timings and row
counts, backfills three days of the daily asset (planned by the automation service, one
chunk run per day) showing its progress until done, and stops everything.
"""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

import pyarrow.parquet as pq
from rich.console import Console
from rich.live import Live
from rich.table import Table

from arco_core.automation.schedules import ScheduleSpec, next_ticks
from arco_core.clock import rfc3339_ms
from arco_sdk.client import ArcoClient
from arco_sdk.errors import ArcoApiError
from arco_sdk.manifest import AssetGraph, build_manifest, discover
from arco_sdk.types import Backfill, Run, TaskCounts, TaskSummary
from services.mesh import Mesh, MeshError

EXAMPLE = "examples.lakehouse_demo"
DAILY_EXAMPLE = "examples.daily_sales"
BACKFILL_ASSET = "sales.daily_orders"
BACKFILL_DAYS = ("2026-01-01", "2026-01-03")
BACKFILL_TERMINAL = ("SUCCEEDED", "FAILED", "CANCELLED")
TERMINAL = ("SUCCEEDED", "FAILED", "CANCELLED", "TIMED_OUT")
STYLE = {
    "SUCCEEDED": "green",
    "FAILED": "red",
    "SKIPPED": "yellow",
    "CANCELLED": "yellow",
    "RUNNING": "cyan",
    "QUEUED": "blue",
}


def _seconds(task: TaskSummary) -> str:
    started, completed = task.started_at, task.completed_at
    if started is None or completed is None:
        return "-"
    delta = datetime.fromisoformat(completed.replace("Z", "+00:00")) - datetime.fromisoformat(
        started.replace("Z", "+00:00")
    )
    return f"{delta.total_seconds():.2f}s"


def _rows(output_dir: Path, task_key: str) -> str:
    namespace, _, name = task_key.partition(".")
    files = sorted((output_dir / namespace / name).rglob("*.parquet"))
    return str(sum(pq.ParquetFile(f).metadata.num_rows for f in files)) if files else "-"


def _table(run: Run, output_dir: Path, *, final: bool) -> Table:
    table = Table(title=f"run {run.run_id} — {run.state}")
    table.add_column("task")
    table.add_column("state")
    table.add_column("attempt", justify="right")
    if final:
        table.add_column("time", justify="right")
        table.add_column("rows", justify="right")
    for task in run.tasks:
        cells = [
            task.task_key,
            f"[{STYLE.get(task.state, 'white')}]{task.state}",
            str(task.attempt),
        ]
        if final:
            cells += [_seconds(task), _rows(output_dir, task.task_key)]
        table.add_row(*cells)
    return table


def _backfill_line(backfill: Backfill) -> str:
    counts = backfill.chunk_counts
    return (
        f"backfill {backfill.backfill_id} — [{STYLE.get(backfill.state, 'white')}]"
        f"{backfill.state}[/] — chunks {counts.succeeded}/{counts.total} succeeded, "
        f"{counts.running} running, {counts.pending} pending, {counts.failed} failed"
    )


def _run_backfill(client: ArcoClient, console: Console, deadline: float) -> bool:
    """Backfill three days of the daily asset and show its progress until it ends."""
    start, end = BACKFILL_DAYS
    created = client.create_backfill(
        BACKFILL_ASSET,
        {"type": "range", "start": start, "end": end},
        chunk_size=1,
        max_concurrent_runs=2,
    )
    console.print(
        f"backfill {created.backfill_id}: {BACKFILL_ASSET} from {start} to {end}, one run per "
        "day, at most 2 at a time"
    )
    with Live(console=console, refresh_per_second=8) as live:
        while True:
            backfill = client.get_backfill(created.backfill_id)
            live.update(_backfill_line(backfill))
            if backfill.state in BACKFILL_TERMINAL or time.monotonic() > deadline:
                break
            time.sleep(0.25)
    chunks = client.list_backfill_chunks(created.backfill_id).chunks
    table = Table(title=f"backfill {backfill.backfill_id} — {backfill.state}")
    for column in ("chunk", "partition", "run", "state"):
        table.add_column(column)
    for chunk in chunks:
        table.add_row(
            str(chunk.chunk_index),
            ", ".join(chunk.partition_keys),
            chunk.run_id or "-",
            f"[{STYLE.get(chunk.state, 'white')}]{chunk.state}",
        )
    console.print(table)
    console.print(_backfill_line(backfill))
    return backfill.state == "SUCCEEDED"


SECOND_WORKSPACE = "second"
DEFAULT_WORKSPACE = "default"  # the mesh's dev default workspace


def _second_workspace(
    gateway: str,
    mesh: Mesh,
    keys: list[str],
    *,
    first_run_id: str,
    console: Console,
    deadline: float,
) -> bool:
    """A second workspace, created through the route while everything runs: the same
    pipeline runs in it, and neither workspace sees the other's run."""
    with (
        ArcoClient(gateway, tenant_id=mesh.tenant_id, workspace_id=mesh.workspace_id) as first,
        ArcoClient(gateway, tenant_id=mesh.tenant_id, workspace_id=SECOND_WORKSPACE) as second,
    ):
        created = first.create_workspace(SECOND_WORKSPACE)
        console.print(
            f"workspace {mesh.tenant_id}/{SECOND_WORKSPACE} "
            + ("created" if created.created else "already existed")
            + " (no restart)"
        )
        definitions, schedules = discover([EXAMPLE, DAILY_EXAMPLE])
        second.deploy_manifest(
            build_manifest(AssetGraph(definitions), schedules=schedules, deployed_by="make demo")
        )
        run = second.trigger_run(keys)
        while True:
            current = second.get_run(run.run_id)
            if current.state in TERMINAL or time.monotonic() > deadline:
                break
            time.sleep(0.25)
        console.print(f"run {run.run_id} in {SECOND_WORKSPACE}: {current.state}")
        isolated = _not_found(first, run.run_id) and _not_found(second, first_run_id)
        console.print(
            "each workspace's run is NOT_FOUND from the other"
            if isolated
            else "[red]a run was visible from the other workspace[/red]"
        )
        return current.state == "SUCCEEDED" and isolated


def _not_found(client: ArcoClient, run_id: str) -> bool:
    try:
        client.get_run(run_id)
    except ArcoApiError as exc:
        return exc.status == 404
    return False


def run_demo(home: Path, storage_url: str | None, timeout_sec: float = 300.0) -> int:
    console = Console()
    mesh = Mesh(
        home,
        storage_url=storage_url,
        workers=2,
        worker_modules=[EXAMPLE, DAILY_EXAMPLE],
        # The demo's workers run the example for both workspaces.
        worker_env={"ARCO_WORKER_WORKSPACE_ID": f"{DEFAULT_WORKSPACE},{SECOND_WORKSPACE}"},
    )
    console.print(f"starting the Arco mesh in {mesh.home} (storage {mesh.storage_url}) ...")
    try:
        mesh.start()
    except MeshError as exc:
        console.print(f"[red]mesh failed to start:[/red] {exc}")
        return 1
    ok = False
    try:
        for name, pid, address, _ in mesh.describe():
            console.print(f"  {name:<26} pid {pid:<8} {address}")
        if mesh.certs is not None:
            console.print(
                f"every gRPC hop is mutual TLS (mesh CA and per-role certificates in "
                f"{mesh.certs.ca_cert.parent})"
            )
        gateway = f"http://{mesh.address('gateway')}"
        with ArcoClient(
            gateway, tenant_id=mesh.tenant_id, workspace_id=mesh.workspace_id
        ) as client:
            definitions, schedules = discover([EXAMPLE, DAILY_EXAMPLE])
            graph = AssetGraph(definitions)
            deployed = client.deploy_manifest(
                build_manifest(graph, schedules=schedules, deployed_by="make demo")
            )
            console.print(
                f"deployed manifest {deployed.manifest_id} ({deployed.asset_count} assets)"
            )
            now_ms = int(time.time() * 1000)
            for schedule in schedules:
                spec = ScheduleSpec(schedule.id, schedule.cron, schedule.assets, schedule.timezone)
                upcoming = ", ".join(rfc3339_ms(tick.at_ms) for tick in next_ticks(spec, now_ms, 3))
                console.print(
                    f"schedule {spec.schedule_id} ({spec.cron}, {spec.timezone}) fires next at "
                    f"{upcoming}"
                )
            # The pipeline run takes the unpartitioned assets; the daily one is backfilled.
            keys = [str(key) for key in graph.asset_keys() if str(key) != BACKFILL_ASSET]
            run = client.trigger_run(keys)
            console.print(f"triggered run {run.run_id} over {len(keys)} assets")
            output_dir = mesh.home / "output"
            deadline = time.monotonic() + timeout_sec
            with Live(console=console, refresh_per_second=8) as live:
                while True:
                    current = client.get_run(run.run_id)
                    live.update(_table(current, output_dir, final=False))
                    if current.state in TERMINAL or time.monotonic() > deadline:
                        break
                    time.sleep(0.25)
            console.print(_table(current, output_dir, final=True))
            counts = current.task_counts or TaskCounts()
            console.print(
                f"run {current.run_id}: {current.state} — "
                f"{counts.succeeded}/{counts.total} tasks succeeded"
            )
            ok = current.state == "SUCCEEDED" and _run_backfill(client, console, deadline)
            ok = ok and _second_workspace(
                gateway, mesh, keys, first_run_id=run.run_id, console=console, deadline=deadline
            )
    finally:
        codes = mesh.stop()
    clean = all(code == 0 for code in codes.values())
    console.print("mesh stopped " + ("cleanly" if clean else f"with exit codes {codes}"))
    return 0 if ok and clean else 1
