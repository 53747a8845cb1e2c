"""The ``arco`` command line.

Settings come from, in order of precedence: command-line flags, the environment
(``ARCO_API_URL``, ``ARCO_TOKEN``, ``ARCO_TENANT_ID``, ``ARCO_WORKSPACE_ID``), and the
project's ``arco.toml`` (found in the current directory or a parent). Expected failures
(server errors, invalid assets, bad arguments) print a message — with the server's
request id when there is one — and exit non-zero, never with a traceback.

One module on purpose (~950 lines): it is the whole ``arco`` surface, its commands in
``--help`` order with the few private helpers they share; each command is a thin layer
over ``ArcoClient``, the manifest builder or the worker. The operator commands that talk
to compactors over the mesh (``arco admin``) live in ``arco_sdk.admin``.
"""

# Typer commands take their options as parameters; the framework calls them by keyword.
# ruff: noqa: PLR0917

from __future__ import annotations

import csv
import functools
import json
import os
import re
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from arco_core.errors import ArcoError
from arco_core.partition import PartitionKey, ScalarValue, parse_partition_key
from arco_sdk.admin import admin_app
from arco_sdk.assets import AssetKey, PartitionDimension
from arco_sdk.client import ArcoClient
from arco_sdk.errors import ArcoApiError, AssetDefinitionError, DiscoveryError, GraphError
from arco_sdk.manifest import (
    AssetGraph,
    build_manifest,
    discover,
    git_info,
    manifest_fingerprint,
    manifest_json,
)
from arco_sdk.sensors import discover_sensors
from arco_sdk.types import Backfill, CreatedBackfill, Run, ScheduleInfo
from arco_sdk.worker.__main__ import main as worker_main

__all__ = ["CliConfig", "app", "load_config", "main"]

CONFIG_FILE = "arco.toml"
TERMINAL_RUN_STATES = frozenset({"SUCCEEDED", "FAILED", "CANCELLED", "TIMED_OUT"})
TERMINAL_BACKFILL_STATES = frozenset({"SUCCEEDED", "FAILED", "CANCELLED"})
DEFAULT_API_URL = "http://127.0.0.1:8080"
F = TypeVar("F", bound=Callable[..., Any])

app = typer.Typer(
    name="arco",
    help="Define, deploy, run and watch Arco asset pipelines.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@dataclass
class CliConfig:
    api_url: str = DEFAULT_API_URL
    token: str | None = None
    tenant_id: str | None = None
    workspace_id: str = "default"
    assets: list[str] = field(default_factory=list)
    project_dir: Path = field(default_factory=Path.cwd)
    output_dir: str = ".arco/outputs"
    config_file: Path | None = None


def _find_config(start: Path) -> Path | None:
    for directory in (start, *start.parents):
        candidate = directory / CONFIG_FILE
        if candidate.is_file():
            return candidate
    return None


def load_config(
    flags: Mapping[str, Any],
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    config_path: Path | None = None,
) -> CliConfig:
    """flags > env > arco.toml > defaults."""
    environ = os.environ if env is None else env
    here = cwd or Path.cwd()
    path = config_path or _find_config(here)
    file_values: dict[str, Any] = {}
    project_dir = here
    if path is not None:
        try:
            data = tomllib.loads(path.read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise typer.BadParameter(f"cannot read {path}: {exc}") from None
        project_dir = path.parent.resolve()
        api = data.get("api", {})
        project = data.get("project", {})
        worker = data.get("worker", {})
        file_values = {
            "api_url": api.get("url"),
            "token": api.get("token"),
            "tenant_id": api.get("tenant_id"),
            "workspace_id": api.get("workspace_id"),
            "assets": project.get("assets"),
            "output_dir": worker.get("output_dir"),
        }
    env_values = {
        "api_url": environ.get("ARCO_API_URL"),
        "token": environ.get("ARCO_TOKEN"),
        "tenant_id": environ.get("ARCO_TENANT_ID"),
        "workspace_id": environ.get("ARCO_WORKSPACE_ID"),
    }
    config = CliConfig(project_dir=project_dir, config_file=path)
    sources = (("flags", flags), ("env", env_values), ("file", file_values))
    for name in ("api_url", "token", "tenant_id", "workspace_id", "assets", "output_dir"):
        for label, source in sources:
            value = source.get(name)
            if value in (None, "", [], ()):
                continue
            if name == "assets":
                value = [value] if isinstance(value, str) else list(value)
                if label == "file":
                    # Targets in arco.toml are relative to the project, not the cwd.
                    value = [_project_relative(project_dir, target) for target in value]
            elif name == "output_dir" and label == "file":
                value = str(project_dir / value)
            setattr(config, name, value)
            break
    return config


def _project_relative(project_dir: Path, target: str) -> str:
    candidate = project_dir / target
    return str(candidate) if candidate.exists() else target


# -- plumbing ----------------------------------------------------------------------------------


def _console() -> Console:
    return Console(highlight=False, soft_wrap=True)


def _err_console() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


def _fail(message: str, code: int = 1) -> typer.Exit:
    _err_console().print(Text(f"error: {message}", style="red"))
    return typer.Exit(code)


def _handles_errors(fn: F) -> F:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ArcoApiError as exc:
            rid = f" (request id {exc.request_id})" if exc.request_id else ""
            status = f"{exc.status} " if exc.status else ""
            raise _fail(f"{status}{exc.code}: {exc.message}{rid}") from None
        except (DiscoveryError, GraphError, AssetDefinitionError) as exc:
            raise _fail(str(exc)) from None
        except ArcoError as exc:
            raise _fail(exc.message) from None
        except (ValueError, OSError) as exc:
            raise _fail(str(exc)) from None

    return wrapper  # type: ignore[return-value]


def _config(ctx: typer.Context) -> CliConfig:
    obj = ctx.ensure_object(dict)
    if "config" not in obj:
        obj["config"] = load_config(obj.get("flags", {}), config_path=obj.get("config_path"))
    config: CliConfig = obj["config"]
    return config


def _client(ctx: typer.Context) -> ArcoClient:
    config = _config(ctx)
    obj = ctx.ensure_object(dict)
    client: ArcoClient = obj.get("client_factory", ArcoClient)(
        config.api_url,
        token=config.token,
        tenant_id=config.tenant_id,
        workspace_id=config.workspace_id,
    )
    ctx.call_on_close(client.close)
    return client


def _graph(config: CliConfig, targets: Sequence[str] | None = None) -> tuple[AssetGraph, Any]:
    chosen = list(targets or config.assets)
    if not chosen:
        raise ValueError(
            f"no asset modules: pass --assets or set [project] assets in {CONFIG_FILE}"
        )
    definitions, schedules = discover(chosen)
    return AssetGraph(definitions), schedules


def _kv_pairs(values: Sequence[str], what: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"{what} must look like key=value, got {item!r}")
        pairs[key.strip()] = value
    return pairs


_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _typed_partition(
    pairs: Mapping[str, str], dims: Mapping[str, PartitionDimension]
) -> PartitionKey:
    values: dict[str, ScalarValue] = {}
    for name, text in pairs.items():
        dim = dims.get(name)
        if dim is not None:
            values[name] = dim.coerce(text)
        elif _DATE_RE.fullmatch(text):
            values[name] = ScalarValue("date", date.fromisoformat(text))
        else:
            values[name] = ScalarValue("string", text)
    return PartitionKey.of(values)


def _dimensions_for(config: CliConfig, selection: Sequence[str]) -> dict[str, PartitionDimension]:
    """The selected assets' partition dimensions, when the project can be loaded."""
    if not config.assets:
        return {}
    try:
        graph, _ = _graph(config)
    except (DiscoveryError, GraphError, ValueError):
        return {}
    dims: dict[str, PartitionDimension] = {}
    for key in selection:
        definition = graph.get(key)
        if definition is not None:
            dims.update({dim.name: dim for dim in definition.partitions})
    return dims


def _normalize_selection(assets: Sequence[str]) -> list[str]:
    return [str(AssetKey.parse(a.strip())) for a in assets]


# -- commands ----------------------------------------------------------------------------------


@app.callback()
def _root(
    ctx: typer.Context,
    api_url: Annotated[str | None, typer.Option("--api-url", help="gateway root URL")] = None,
    token: Annotated[str | None, typer.Option("--token", help="bearer token")] = None,
    tenant: Annotated[str | None, typer.Option("--tenant", help="tenant id (dev headers)")] = None,
    workspace: Annotated[str | None, typer.Option("--workspace", "-w", help="workspace id")] = None,
    config_path: Annotated[
        Path | None, typer.Option("--config", help=f"path to {CONFIG_FILE}")
    ] = None,
) -> None:
    obj = ctx.ensure_object(dict)
    obj["flags"] = {
        "api_url": api_url,
        "token": token,
        "tenant_id": tenant,
        "workspace_id": workspace,
    }
    obj["config_path"] = config_path


_EXAMPLE_ASSET = '''"""Example assets: edit or replace them, then `arco validate` and `arco deploy`."""

from __future__ import annotations

import pyarrow as pa

from arco_sdk import AssetContext, AssetInput, RowCountCheck, asset


@asset(namespace="raw", owners=["you@example.com"])
def numbers(ctx: AssetContext) -> pa.Table:
    """The numbers 1 to 100."""
    ctx.log.info("generating numbers")
    return pa.table({{"n": list(range(1, 101))}})


@asset(namespace="{package}", checks=[RowCountCheck(min_rows=1)])
def squares(ctx: AssetContext, numbers: AssetInput) -> pa.Table:
    """Each number with its square."""
    table = numbers.read()
    return table.append_column("square", pa.array([n * n for n in table["n"].to_pylist()]))
'''

_CONFIG_TEMPLATE = """# arco project configuration. Flags and ARCO_* environment variables override it.
[project]
name = "{name}"
assets = ["{package}"]

[api]
url = "{api_url}"
tenant_id = "local"
workspace_id = "default"
# token = "..."   # or ARCO_TOKEN

[worker]
output_dir = ".arco/outputs"
"""


@app.command()
@_handles_errors
def init(
    name: Annotated[str, typer.Argument(help="project directory to create")],
    api_url: Annotated[str, typer.Option(help="API URL written to arco.toml")] = DEFAULT_API_URL,
) -> None:
    """Scaffold a project: arco.toml and a package with example assets."""
    root = Path(name)
    if root.exists() and any(root.iterdir()):
        raise ValueError(f"{root} already exists and is not empty")
    package = re.sub(r"[^a-z0-9_]", "_", root.name.lower()).lstrip("_0123456789") or "project"
    (root / package).mkdir(parents=True, exist_ok=True)
    (root / package / "__init__.py").write_text(f'"""Assets of the {root.name} project."""\n')
    (root / package / "example.py").write_text(_EXAMPLE_ASSET.format(package=package))
    (root / CONFIG_FILE).write_text(
        _CONFIG_TEMPLATE.format(name=root.name, package=package, api_url=api_url)
    )
    (root / ".gitignore").write_text(".arco/\n__pycache__/\n")
    console = _console()
    console.print(f"created {root}/ with {CONFIG_FILE} and {package}/example.py")
    console.print(f"next: cd {root} && arco validate && arco deploy --dry-run")


@app.command()
@_handles_errors
def validate(
    ctx: typer.Context,
    assets: Annotated[
        list[str] | None, typer.Option("--assets", "-a", help="modules, packages or paths")
    ] = None,
) -> None:
    """Discover the assets and check the graph (keys, dependencies, cycles, partitions)."""
    graph, schedules = _graph(_config(ctx), assets)
    table = Table(title=f"{len(graph)} assets", show_lines=False)
    for column in ("asset", "depends on", "partitions", "checks"):
        table.add_column(column)
    for key in graph.asset_keys():
        definition = graph.assets[key]
        table.add_row(
            str(key),
            ", ".join(str(d.upstream) for d in graph.upstream(key)) or "-",
            ", ".join(dim.name for dim in definition.partitions) or "-",
            ", ".join(check.name for check in definition.checks) or "-",
        )
    console = _console()
    console.print(table)
    if schedules:
        console.print(f"{len(schedules)} schedules")
    console.print("ok: the asset graph is valid")


@app.command()
@_handles_errors
def deploy(
    ctx: typer.Context,
    assets: Annotated[list[str] | None, typer.Option("--assets", "-a")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="build, print, do not send")] = False,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="write JSON here")] = None,
    code_version: Annotated[str | None, typer.Option(help="codeVersionId override")] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="print the server answer as JSON")
    ] = False,
) -> None:
    """Build the deploy manifest and send it (Idempotency-Key = manifest fingerprint)."""
    config = _config(ctx)
    graph, schedules = _graph(config, assets)
    manifest = build_manifest(
        graph,
        schedules=schedules,
        sensors=discover_sensors(list(assets or config.assets)),
        code_version_id=code_version,
        git=git_info(config.project_dir),
        base_dir=config.project_dir,
    )
    fingerprint = manifest_fingerprint(manifest)
    if output is not None:
        output.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    console = _console()
    if dry_run:
        if output is None:
            console.print_json(manifest_json(manifest))
        console.print(f"{len(graph)} assets, fingerprint {fingerprint} (dry run, not deployed)")
        return
    answer = _client(ctx).deploy_manifest(manifest, idempotency_key=fingerprint)
    if as_json:
        console.print_json(json.dumps(answer.to_json()))
        return
    console.print(
        f"deployed manifest {answer.manifest_id} "
        f"({answer.asset_count or len(graph)} assets, fingerprint "
        f"{answer.fingerprint or fingerprint})"
    )


def _run_table(run: Run) -> Group:
    counts = run.task_counts.to_json() if run.task_counts else {}
    summary = ", ".join(f"{k} {v}" for k, v in counts.items() if v and k != "total")
    extra = ""
    if run.parent_run_id:
        extra = f"  rerun of {run.parent_run_id} ({run.rerun_kind or ''})"
    header = Text(f"run {run.run_id}  {run.state}  {summary}{extra}")
    table = Table(show_edge=False)
    for column in ("task", "state", "attempt", "started", "completed", "error"):
        table.add_column(column)
    for task in run.tasks:
        table.add_row(
            task.task_key,
            task.state,
            str(task.attempt),
            task.started_at or "-",
            task.completed_at or "-",
            task.error_message or "",
        )
    return Group(header, table)


def _watch(client: ArcoClient, run_id: str, timeout: float, interval: float, live: bool) -> Run:
    deadline = time.monotonic() + timeout
    run = client.get_run(run_id)
    console = _console()

    def poll() -> Iterator[Run]:
        nonlocal run
        while run.state not in TERMINAL_RUN_STATES:
            if time.monotonic() > deadline:
                raise TimeoutError(f"run {run_id} not finished after {timeout:.0f}s")
            time.sleep(interval)
            run = client.get_run(run_id)
            yield run

    if live and console.is_terminal:
        with Live(_run_table(run), console=console, refresh_per_second=4) as display:
            for update in poll():
                display.update(_run_table(update))
    else:
        last_states: dict[str, str] = {}
        for update in (run, *poll()):
            for task in update.tasks:
                key, state = task.task_key, task.state
                if last_states.get(key) != state:
                    last_states[key] = state
                    console.print(f"{key}: {state}")
        console.print(_run_table(run))
    return run


def _finish(run: Run) -> None:
    if run.state != "SUCCEEDED":
        failed = [t for t in run.tasks if t.state == "FAILED"]
        details = "; ".join(f"{t.task_key}: {t.error_message or 'failed'}" for t in failed)
        raise _fail(f"run {run.run_id} finished {run.state}" + (f" ({details})" if details else ""))
    _console().print(f"run {run.run_id} SUCCEEDED")


@app.command()
@_handles_errors
def run(
    ctx: typer.Context,
    assets: Annotated[list[str], typer.Argument(help="assets to run (namespace.name)")],
    include_upstream: Annotated[bool, typer.Option("--include-upstream", "-u")] = False,
    include_downstream: Annotated[bool, typer.Option("--include-downstream", "-d")] = False,
    partition: Annotated[
        list[str] | None, typer.Option("--partition", "-p", help="dimension=value")
    ] = None,
    partition_key: Annotated[
        str | None, typer.Option("--partition-key", help="canonical partition key")
    ] = None,
    run_key: Annotated[str | None, typer.Option("--run-key", help="idempotency key")] = None,
    label: Annotated[list[str] | None, typer.Option("--label", "-l", help="key=value")] = None,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="follow until done")] = False,
    timeout: Annotated[float, typer.Option(help="--wait gives up after this many seconds")] = 3600,
    poll_interval: Annotated[float, typer.Option(help="seconds between polls")] = 1.0,
) -> None:
    """Trigger a run of the selected assets."""
    config = _config(ctx)
    selection = _normalize_selection(assets)
    if partition and partition_key:
        raise ValueError("give --partition or --partition-key, not both")
    key: str | None = None
    if partition_key is not None:
        key = parse_partition_key(partition_key).canonical()
    elif partition:
        key = _typed_partition(
            _kv_pairs(partition, "--partition"), _dimensions_for(config, selection)
        ).canonical()
    client = _client(ctx)
    answer = client.trigger_run(
        selection,
        partition_key=key,
        include_upstream=include_upstream,
        include_downstream=include_downstream,
        run_key=run_key,
        labels=_kv_pairs(label or [], "--label"),
    )
    run_id = answer.run_id
    created = "" if answer.created else " (existing run for this run key)"
    _console().print(f"run {run_id} {answer.state}{created}")
    if wait:
        _finish(_watch(client, run_id, timeout, poll_interval, live=True))


@app.command()
@_handles_errors
def status(
    ctx: typer.Context,
    run_id: Annotated[str | None, typer.Argument(help="a run id; omit to list runs")] = None,
    watch: Annotated[bool, typer.Option("--watch", help="refresh until the run ends")] = False,
    limit: Annotated[int, typer.Option("--limit", "-n")] = 10,
    timeout: Annotated[float, typer.Option(help="--watch gives up after this long")] = 3600,
    poll_interval: Annotated[float, typer.Option(help="seconds between polls")] = 1.0,
) -> None:
    """Show one run (its tasks) or list recent runs."""
    client = _client(ctx)
    console = _console()
    if run_id is None:
        body = client.list_runs(limit=limit)
        table = Table(title="runs")
        for column in ("run", "state", "created", "completed", "tasks", "failed"):
            table.add_column(column)
        for item in body.runs:
            table.add_row(
                item.run_id,
                item.state,
                item.created_at or "-",
                item.completed_at or "-",
                str(item.task_count),
                str(item.tasks_failed),
            )
        console.print(table)
        return
    if watch:
        current = _watch(client, run_id, timeout, poll_interval, live=True)
        if current.state != "SUCCEEDED":
            raise typer.Exit(1)
        return
    console.print(_run_table(client.get_run(run_id)))


@app.command()
@_handles_errors
def partitions(
    ctx: typer.Context,
    asset: Annotated[str, typer.Argument(help="asset key, namespace.name")],
    stale: Annotated[bool, typer.Option("--stale", help="only stale partitions")] = False,
) -> None:
    """Show an asset's partitions: last materialization, last attempt, staleness."""
    client = _client(ctx)
    summary = client.partition_summary(asset)
    table = Table(
        title=f"{asset}: {summary.total_partitions} partitions, "
        f"{summary.materialized_partitions} materialized, {summary.stale_partitions} stale, "
        f"{summary.missing_partitions} missing"
    )
    for column in ("partition", "materialized by", "at", "last attempt", "stale since"):
        table.add_column(column)
    cursor: str | None = None
    while True:
        page = client.list_partitions(asset_key=asset, stale_only=stale, cursor=cursor, limit=200)
        for item in page.partitions:
            table.add_row(
                item.partition_key,
                item.last_materialization_run_id or "-",
                item.last_materialization_at or "-",
                f"{item.last_attempt_outcome or '-'} ({item.last_attempt_run_id or '-'})",
                item.stale_since or "-",
            )
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    _console().print(table)


# -- backfills ---------------------------------------------------------------------------------

backfill_app = typer.Typer(
    name="backfill",
    help="Rerun one asset over many of its partitions, in chunks: create, watch, steer.",
    no_args_is_help=True,
)


def _progress(backfill: Backfill) -> str:
    counts = backfill.chunk_counts
    parent = f"  retry of {backfill.parent_backfill_id}" if backfill.parent_backfill_id else ""
    return (
        f"backfill {backfill.backfill_id}  {backfill.state}  "
        f"chunks {counts.succeeded}/{counts.total} succeeded, {counts.running} running, "
        f"{counts.pending} pending, {counts.failed} failed{parent}"
    )


def _created_line(answer: CreatedBackfill, backfill: Backfill, what: str) -> str:
    assets = ", ".join(backfill.asset_selection)
    how = what if answer.created else "exists (same request id)"
    return (
        f"backfill {backfill.backfill_id} {how}: {assets}, {backfill.total_partitions} "
        f"partitions in {backfill.chunk_counts.total} chunks of at most {backfill.chunk_size}, "
        f"at most {backfill.max_concurrent_runs} runs at a time"
    )


def _watch_backfill(
    client: ArcoClient, backfill_id: str, timeout: float, interval: float
) -> Backfill:
    """Print the progress line whenever it changes, until the backfill ends."""
    deadline = time.monotonic() + timeout
    console = _console()
    last = ""
    while True:
        backfill = client.get_backfill(backfill_id)
        line = _progress(backfill)
        if line != last:
            console.print(line)
            last = line
        if backfill.state in TERMINAL_BACKFILL_STATES:
            return backfill
        if time.monotonic() > deadline:
            raise TimeoutError(f"backfill {backfill_id} not finished after {timeout:.0f}s")
        time.sleep(interval)


def _finish_backfill(backfill: Backfill) -> None:
    if backfill.state != "SUCCEEDED":
        failed = backfill.chunk_counts.failed
        raise _fail(
            f"backfill {backfill.backfill_id} finished {backfill.state} ({failed} failed chunks; "
            f"arco backfill retry-failed {backfill.backfill_id} reruns them)"
        )


def _selector(
    partitions: Sequence[str], start: str | None, end: str | None, only: str | None
) -> dict[str, Any]:
    if partitions and (start or end):
        raise ValueError("give --partition or --start/--end, not both")
    if partitions:
        if only:
            raise ValueError("--only applies to a --start/--end range")
        return {"type": "explicit", "partitions": list(partitions)}
    if not (start and end):
        raise ValueError("give --partition (repeatable) or both --start and --end")
    if only:
        if only not in ("missing", "failed"):
            raise ValueError("--only must be missing or failed")
        return {"type": "filter", "filters": {"start": start, "end": end, "status": only}}
    return {"type": "range", "start": start, "end": end}


@backfill_app.command("create")
@_handles_errors
def backfill_create(
    ctx: typer.Context,
    asset: Annotated[str, typer.Argument(help="the partitioned asset, namespace.name")],
    partition: Annotated[
        list[str] | None,
        typer.Option("--partition", "-p", help="a partition (2026-01-01 or date=2026-01-01)"),
    ] = None,
    start: Annotated[str | None, typer.Option(help="first partition of a range")] = None,
    end: Annotated[str | None, typer.Option(help="last partition of a range (included)")] = None,
    only: Annotated[
        str | None, typer.Option("--only", help="of the range, only missing or failed ones")
    ] = None,
    chunk_size: Annotated[int | None, typer.Option(help="partitions per run (10)")] = None,
    max_concurrent_runs: Annotated[
        int | None, typer.Option(help="chunk runs active at a time (2)")
    ] = None,
    request_id: Annotated[
        str | None, typer.Option(help="idempotency key: the same id returns the same backfill")
    ] = None,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="follow until done")] = False,
    timeout: Annotated[float, typer.Option(help="--wait gives up after this many seconds")] = 3600,
    poll_interval: Annotated[float, typer.Option(help="seconds between polls")] = 1.0,
) -> None:
    """Backfill an asset over a list or a range of its partitions."""
    selector = _selector(partition or [], start, end, only)
    client = _client(ctx)
    answer = client.create_backfill(
        str(AssetKey.parse(asset.strip())),
        selector,
        chunk_size=chunk_size,
        max_concurrent_runs=max_concurrent_runs,
        client_request_id=request_id,
    )
    backfill = client.get_backfill(answer.backfill_id)
    _console().print(_created_line(answer, backfill, "created"))
    if wait:
        _finish_backfill(_watch_backfill(client, answer.backfill_id, timeout, poll_interval))


@backfill_app.command("status")
@_handles_errors
def backfill_status(
    ctx: typer.Context,
    backfill_id: Annotated[str | None, typer.Argument(help="a backfill; omit to list")] = None,
    watch: Annotated[bool, typer.Option("--watch", help="follow until it ends")] = False,
    state: Annotated[str | None, typer.Option(help="list only backfills in this state")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n")] = 20,
    timeout: Annotated[float, typer.Option(help="--watch gives up after this long")] = 3600,
    poll_interval: Annotated[float, typer.Option(help="seconds between polls")] = 1.0,
) -> None:
    """Show one backfill (progress and chunks) or list recent backfills."""
    client = _client(ctx)
    console = _console()
    if backfill_id is None:
        listed = client.list_backfills(limit=limit, state=state)
        table = Table(title="backfills")
        for column in ("backfill", "asset", "state", "partitions", "chunks done", "failed"):
            table.add_column(column)
        for item in listed.backfills:
            counts = item.chunk_counts
            table.add_row(
                item.backfill_id,
                ", ".join(item.asset_selection),
                item.state,
                str(item.total_partitions),
                f"{counts.succeeded}/{counts.total}",
                str(counts.failed),
            )
        console.print(table)
        return
    if watch:
        _finish_backfill(_watch_backfill(client, backfill_id, timeout, poll_interval))
        return
    backfill = client.get_backfill(backfill_id)
    console.print(_progress(backfill))
    table = Table(show_edge=False)
    for column in ("chunk", "partitions", "run", "state"):
        table.add_column(column)
    cursor: str | None = None
    while True:
        page = client.list_backfill_chunks(backfill_id, cursor=cursor, limit=200)
        for chunk in page.chunks:
            table.add_row(
                str(chunk.chunk_index),
                ", ".join(chunk.partition_keys),
                chunk.run_id or "-",
                chunk.state,
            )
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    console.print(table)


ExpectedVersion = Annotated[
    int | None,
    typer.Option("--expected-version", help="refuse (409) unless at this state version"),
]


@backfill_app.command("pause")
@_handles_errors
def backfill_pause(
    ctx: typer.Context, backfill_id: str, expected_version: ExpectedVersion = None
) -> None:
    """Stop planning new chunks (requested runs finish)."""
    moved = _client(ctx).pause_backfill(backfill_id, expected_state_version=expected_version)
    _console().print(_progress(moved))


@backfill_app.command("resume")
@_handles_errors
def backfill_resume(
    ctx: typer.Context, backfill_id: str, expected_version: ExpectedVersion = None
) -> None:
    """Plan chunks of a paused backfill again."""
    moved = _client(ctx).resume_backfill(backfill_id, expected_state_version=expected_version)
    _console().print(_progress(moved))


@backfill_app.command("cancel")
@_handles_errors
def backfill_cancel(
    ctx: typer.Context, backfill_id: str, expected_version: ExpectedVersion = None
) -> None:
    """End a backfill: nothing more is planned (requested runs finish)."""
    moved = _client(ctx).cancel_backfill(backfill_id, expected_state_version=expected_version)
    _console().print(_progress(moved))


@backfill_app.command("retry-failed")
@_handles_errors
def backfill_retry_failed(
    ctx: typer.Context,
    backfill_id: Annotated[str, typer.Argument(help="a FAILED or CANCELLED backfill")],
    request_id: Annotated[
        str | None, typer.Option(help="another id makes another retry (default: one per parent)")
    ] = None,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="follow until done")] = False,
    timeout: Annotated[float, typer.Option(help="--wait gives up after this many seconds")] = 3600,
    poll_interval: Annotated[float, typer.Option(help="seconds between polls")] = 1.0,
) -> None:
    """Backfill again the partitions of a finished backfill's failed chunks."""
    client = _client(ctx)
    answer = client.retry_failed_backfill(backfill_id, client_request_id=request_id)
    backfill = client.get_backfill(answer.backfill_id)
    _console().print(_created_line(answer, backfill, f"created (retry of {backfill_id})"))
    if wait:
        _finish_backfill(_watch_backfill(client, answer.backfill_id, timeout, poll_interval))


workspaces_app = typer.Typer(
    name="workspaces",
    help="The workspaces of your tenant: create one (admin), list them.",
    no_args_is_help=True,
)


@workspaces_app.command("create")
@_handles_errors
def workspaces_create(
    ctx: typer.Context, workspace_id: Annotated[str, typer.Argument(help="the new workspace id")]
) -> None:
    """Create a workspace in your tenant; the services serve it at once (no restart)."""
    answer = _client(ctx).create_workspace(workspace_id)
    info = answer.workspace
    state = "created" if answer.created else "already existed"
    _console().print(f"workspace {info.tenant_id}/{info.workspace_id} {state}")


@workspaces_app.command("list")
@_handles_errors
def workspaces_list(ctx: typer.Context) -> None:
    """Every workspace of your tenant."""
    table = Table(title="workspaces")
    for column in ("tenant", "workspace", "created at"):
        table.add_column(column)
    for info in _client(ctx).list_workspaces():
        table.add_row(info.tenant_id, info.workspace_id, info.created_at or "-")
    _console().print(table)


schedules_app = typer.Typer(
    name="schedules",
    help="Stored schedules: list, inspect, enable, disable, and their tick history.",
    no_args_is_help=True,
)


def _schedule_line(item: ScheduleInfo) -> str:
    state = "enabled" if item.enabled else "disabled"
    return f"{item.schedule_id} {state} {item.cron_expression!r} {item.timezone}"


@schedules_app.command("list")
@_handles_errors
def schedules_list(ctx: typer.Context) -> None:
    """Every schedule: state, cron, zone, assets, last tick."""
    client = _client(ctx)
    table = Table(title="schedules")
    for column in ("schedule", "state", "cron", "timezone", "assets", "last tick", "last run key"):
        table.add_column(column)
    cursor: str | None = None
    while True:
        page = client.list_schedules(cursor=cursor, limit=200)
        for item in page.schedules:
            table.add_row(
                item.schedule_id,
                "enabled" if item.enabled else "disabled",
                item.cron_expression,
                item.timezone,
                ", ".join(item.asset_selection),
                item.last_scheduled_for or "-",
                item.last_run_key or "-",
            )
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    _console().print(table)


@schedules_app.command("get")
@_handles_errors
def schedules_get(ctx: typer.Context, schedule_id: Annotated[str, typer.Argument()]) -> None:
    """One schedule as JSON."""
    item = _client(ctx).get_schedule(schedule_id)
    sys.stdout.write(json.dumps(item.to_json(), indent=2) + "\n")


@schedules_app.command("enable")
@_handles_errors
def schedules_enable(ctx: typer.Context, schedule_id: Annotated[str, typer.Argument()]) -> None:
    """Enable a schedule: its ticks request runs again, from now on."""
    _console().print(_schedule_line(_client(ctx).set_schedule_enabled(schedule_id, True)))


@schedules_app.command("disable")
@_handles_errors
def schedules_disable(ctx: typer.Context, schedule_id: Annotated[str, typer.Argument()]) -> None:
    """Disable a schedule: its ticks are recorded as skipped (paused), with no runs."""
    _console().print(_schedule_line(_client(ctx).set_schedule_enabled(schedule_id, False)))


@schedules_app.command("ticks")
@_handles_errors
def schedules_ticks(
    ctx: typer.Context,
    schedule_id: Annotated[str, typer.Argument()],
    status: Annotated[
        str | None, typer.Option("--status", help="TRIGGERED, SKIPPED or FAILED")
    ] = None,
    limit: Annotated[int, typer.Option(help="how many of the newest ticks")] = 50,
) -> None:
    """A schedule's newest ticks: when, status, why skipped, the run requested."""
    page = _client(ctx).list_schedule_ticks(schedule_id, status=status, limit=limit)
    table = Table(title=f"{schedule_id}: {len(page.ticks)} ticks, newest first")
    for column in ("scheduled for", "status", "reason", "run"):
        table.add_column(column)
    for tick in page.ticks:
        table.add_row(
            tick.scheduled_for,
            tick.status,
            tick.skip_reason or tick.error_message or "-",
            tick.run_id or "-",
        )
    _console().print(table)


@app.command()
@_handles_errors
def logs(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument()],
    task: Annotated[str | None, typer.Option("--task", "-t", help="only this task key")] = None,
    page_size: Annotated[int | None, typer.Option(help="log objects per request")] = None,
) -> None:
    """Print a run's logs (every page)."""
    for page in _client(ctx).iter_logs(run_id, task_key=task, limit=page_size):
        sys.stdout.write(page.text)
    sys.stdout.flush()


@app.command()
@_handles_errors
def cancel(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument()],
    reason: Annotated[str | None, typer.Option(help="recorded with the cancellation")] = None,
) -> None:
    """Cancel a run."""
    answer = _client(ctx).cancel_run(run_id, reason=reason)
    _console().print(f"run {answer.run_id} {answer.state}")


@app.command()
@_handles_errors
def rerun(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(help="the parent run")],
    from_failure: Annotated[bool, typer.Option("--from-failure", help="rerun what failed")] = False,
    subset: Annotated[
        list[str] | None, typer.Option("--subset", "-s", help="assets to rerun")
    ] = None,
    include_upstream: Annotated[bool, typer.Option("--include-upstream", "-u")] = False,
    include_downstream: Annotated[bool, typer.Option("--include-downstream", "-d")] = False,
    run_key: Annotated[str | None, typer.Option("--run-key")] = None,
    wait: Annotated[bool, typer.Option("--wait/--no-wait")] = False,
    timeout: Annotated[float, typer.Option()] = 3600,
    poll_interval: Annotated[float, typer.Option()] = 1.0,
) -> None:
    """Rerun a run from its failure, or a subset of its assets."""
    if from_failure == bool(subset):
        raise ValueError("choose exactly one of --from-failure or --subset ASSET")
    if from_failure and (include_upstream or include_downstream):
        raise ValueError("--from-failure takes no --include-* flags")
    client = _client(ctx)
    answer = client.rerun(
        run_id,
        mode="fromFailure" if from_failure else "subset",
        selection=_normalize_selection(subset or []),
        include_upstream=include_upstream,
        include_downstream=include_downstream,
        run_key=run_key,
    )
    new_id = answer.run_id
    _console().print(
        f"run {new_id} {answer.state} (rerun of {answer.parent_run_id or run_id}, "
        f"{answer.rerun_kind or ''})"
    )
    if wait:
        _finish(_watch(client, new_id, timeout, poll_interval, live=True))


@app.command()
@_handles_errors
def query(
    ctx: typer.Context,
    sql: Annotated[str, typer.Argument(help="one SELECT or WITH statement")],
    output: Annotated[str, typer.Option("--format", "-f", help="table, json or csv")] = "table",
) -> None:
    """Run read-only SQL and print the rows."""
    if output not in ("table", "json", "csv"):
        raise ValueError("--format must be table, json or csv")
    rows = _client(ctx).query(sql, format="json")
    console = _console()
    if output == "json":
        sys.stdout.write(json.dumps(rows, indent=2, default=str) + "\n")
        return
    columns: list[str] = []
    for row in rows:
        columns.extend(c for c in row if c not in columns)
    if output == "csv":
        writer = csv.DictWriter(sys.stdout, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
        return
    table = Table(title=f"{len(rows)} rows")
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*("" if row.get(c) is None else str(row.get(c)) for c in columns))
    console.print(table)


@app.command(
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
)
def worker(
    ctx: typer.Context,
    assets: Annotated[list[str] | None, typer.Option("--assets", "-a")] = None,
) -> None:
    """Start a worker for the project's assets (other options: arco worker --help-worker).

    Extra options are passed to ``python -m arco_sdk.worker`` (e.g. --http-address,
    --grpc-address, --dispatch-secret, --concurrency, --output-dir, --ready-file).
    """
    config = _config(ctx)
    extra = list(ctx.args)
    if "--help-worker" in extra:
        raise typer.Exit(worker_main(["--help"]))
    argv = [*(assets or config.assets)]
    given = set(extra)

    def add(flag: str, value: str | None) -> None:
        if value and flag not in given:
            argv.extend([flag, value])

    add("--api-url", config.api_url)
    add("--tenant-id", config.tenant_id)
    add("--workspace-id", config.workspace_id)
    add("--api-token", config.token)
    if "ARCO_WORKER_OUTPUT_DIR" not in os.environ:
        add("--output-dir", config.output_dir)
    raise typer.Exit(worker_main([*argv, *extra]))


@app.command()
def up(
    home: Annotated[str, typer.Option(help="mesh data, logs and ready files")] = ".arco",
    storage_url: Annotated[str | None, typer.Option(help="object store URL")] = None,
) -> None:
    """Start the local mesh (python -m services.mesh up) until Ctrl-C."""
    command = [sys.executable, "-m", "services.mesh", "up", "--home", home]
    if storage_url:
        command.extend(["--storage-url", storage_url])
    try:
        process = subprocess.Popen(command)
    except OSError as exc:
        raise _fail(f"cannot start the mesh: {exc}") from None
    try:
        code = process.wait()
    except KeyboardInterrupt:
        # The launcher got the same Ctrl-C and stops the services in order.
        code = process.wait()
    raise typer.Exit(code)


app.add_typer(backfill_app)
app.add_typer(admin_app)
app.add_typer(schedules_app)
app.add_typer(workspaces_app)


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point."""
    app(args=list(argv) if argv is not None else None, prog_name="arco")
