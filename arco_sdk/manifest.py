"""Discovery, graph validation and the deploy manifest.

* :func:`discover` imports asset modules (a dotted module/package name, or a file or
  directory path) and returns every :class:`AssetDefinition` found as a module attribute.
* :class:`AssetGraph` resolves input parameters to upstream keys and validates the graph
  (duplicate keys, unknown or ambiguous dependencies, cycles, partition compatibility),
  reporting every problem at once, each naming the assets involved.
* :func:`build_manifest` renders the ``DeployManifestRequest`` body (camelCase, sorted,
  no wall-clock fields) so that the same code always yields the same bytes and
  fingerprint; :func:`manifest_fingerprint` is the sha256 of its canonical JSON.
"""

from __future__ import annotations

import getpass
import hashlib
import importlib
import os
import pkgutil
import subprocess
import sys
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from arco_core.canonical_json import canonical_bytes, canonical_dumps
from arco_sdk.assets import AssetDefinition, AssetKey
from arco_sdk.errors import DiscoveryError, GraphError

if TYPE_CHECKING:
    from arco_sdk.sensors import SensorDefinition

__all__ = [
    "MANIFEST_VERSION",
    "AssetGraph",
    "ResolvedDependency",
    "Schedule",
    "asset_id",
    "build_manifest",
    "discover",
    "git_info",
    "manifest_fingerprint",
    "manifest_json",
]

MANIFEST_VERSION = "1.0"
# Asset ids are stable UUIDs derived from the key: redeploying keeps them.
_ASSET_ID_NAMESPACE = uuid.UUID("6f1d8e0a-3c52-5b7e-9a41-2d0c7e5f8b13")
_SKIP_DIRS = frozenset(
    {
        "__pycache__",
        ".venv",
        "venv",
        ".git",
        "tests",
        ".mypy_cache",
        ".ruff_cache",
        ".pytest_cache",
        "site-packages",
        "node_modules",
    }
)


def asset_id(key: AssetKey) -> str:
    return str(uuid.uuid5(_ASSET_ID_NAMESPACE, f"arco.asset:{key}"))


@dataclass(frozen=True, slots=True)
class Schedule:
    """A cron schedule over some assets (deployed with the manifest)."""

    id: str
    cron: str
    assets: tuple[str, ...]
    timezone: str = "UTC"

    def to_wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "cron": self.cron,
            "timezone": self.timezone,
            "assets": sorted(str(AssetKey.parse(a)) for a in self.assets),
        }


# -- discovery -------------------------------------------------------------------------------


def _skip_file(path: Path) -> bool:
    name = path.name
    return name.startswith(("test_", "conftest")) or name.endswith("_test.py")


def _package_root(directory: Path) -> tuple[Path, str]:
    """For a directory inside packages: (sys.path entry, dotted package name)."""
    parts: list[str] = []
    current = directory
    while (current / "__init__.py").is_file():
        parts.insert(0, current.name)
        current = current.parent
    return current, ".".join(parts)


def _module_names_under(directory: Path, prefix: str) -> list[str]:
    names: list[str] = []
    for path in sorted(directory.rglob("*.py")):
        relative = path.relative_to(directory)
        if any(part in _SKIP_DIRS or part.startswith(".") for part in relative.parts[:-1]):
            continue
        if _skip_file(path):
            continue
        parts = list(relative.with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        if not all(part.isidentifier() for part in parts):
            continue
        # Modules in a directory without __init__.py are not importable as a package.
        if len(parts) > 1 and not all(
            (directory.joinpath(*parts[:i]) / "__init__.py").is_file() for i in range(1, len(parts))
        ):
            continue
        dotted = ".".join(filter(None, [prefix, *parts]))
        if dotted:
            names.append(dotted)
    return names


def _resolve_targets(target: str | Path) -> tuple[list[str], Path | None]:
    """Module names to import for ``target`` and the sys.path entry they need."""
    text = str(target)
    is_path = (
        isinstance(target, Path) or os.sep in text or text.endswith(".py") or Path(text).exists()
    )
    if not is_path:
        return [text], None
    path = Path(target).resolve()
    if not path.exists():
        raise DiscoveryError({text: "no such file or directory"})
    if path.is_file():
        root, package = _package_root(path.parent)
        return [".".join(filter(None, [package, path.stem]))], root
    root, package = _package_root(path)
    if package:
        return _module_names_under(path, package), root
    return _module_names_under(path, ""), path


def _walk_package(module: ModuleType) -> list[str]:
    paths = getattr(module, "__path__", None)
    if not paths:
        return []
    names = []
    for info in pkgutil.walk_packages(paths, prefix=module.__name__ + "."):
        leaf = info.name.rsplit(".", 1)[-1]
        if leaf in _SKIP_DIRS or leaf.startswith(("test_", "conftest")) or leaf.endswith("_test"):
            continue
        names.append(info.name)
    return sorted(names)


def discover(
    targets: str | Path | Sequence[str | Path],
) -> tuple[list[AssetDefinition], list[Schedule]]:
    """Import every module of ``targets`` and collect its assets and schedules.

    A target is a dotted module or package name (packages are walked), a ``.py`` file or
    a directory. Import failures are collected and raised together as
    :class:`DiscoveryError`. Two different definitions with the same key raise
    :class:`GraphError` naming both locations.
    """
    if isinstance(targets, (str, Path)):
        targets = [targets]
    failures: dict[str, str] = {}
    modules: list[ModuleType] = []
    seen_names: set[str] = set()
    for target in targets:
        names, sys_path_entry = _resolve_targets(target)
        if sys_path_entry is not None and str(sys_path_entry) not in sys.path:
            sys.path.insert(0, str(sys_path_entry))
        queue = list(names)
        while queue:
            name = queue.pop(0)
            if name in seen_names:
                continue
            seen_names.add(name)
            try:
                module = importlib.import_module(name)
            except Exception as exc:  # user code: report every failure, not the first
                failures[name] = f"{type(exc).__name__}: {exc}"
                continue
            modules.append(module)
            queue.extend(n for n in _walk_package(module) if n not in seen_names)
    if failures:
        raise DiscoveryError(failures)

    found: dict[int, AssetDefinition] = {}
    schedules: dict[str, Schedule] = {}
    for module in modules:
        for value in vars(module).values():
            if isinstance(value, AssetDefinition):
                found.setdefault(id(value), value)
            elif isinstance(value, Schedule):
                schedules.setdefault(value.id, value)
    by_key: dict[AssetKey, AssetDefinition] = {}
    problems: list[str] = []
    for definition in sorted(
        found.values(), key=lambda d: (str(d.key), d.file_path, d.line_number)
    ):
        other = by_key.get(definition.key)
        if other is not None:
            problems.append(
                f"duplicate asset key {definition.key}: defined at {_where(other)} and at "
                f"{_where(definition)}"
            )
            continue
        by_key[definition.key] = definition
    if problems:
        raise GraphError(problems)
    return [by_key[key] for key in sorted(by_key, key=str)], [
        schedules[k] for k in sorted(schedules)
    ]


def _where(definition: AssetDefinition) -> str:
    return f"{definition.file_path or definition.module}:{definition.line_number}"


# -- the graph -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ResolvedDependency:
    upstream: AssetKey
    parameter_name: str | None


class AssetGraph:
    """A validated asset graph. Construction raises :class:`GraphError` listing every
    problem found."""

    def __init__(self, definitions: Iterable[AssetDefinition]) -> None:
        problems: list[str] = []
        assets: dict[AssetKey, AssetDefinition] = {}
        for definition in definitions:
            if definition.key in assets and assets[definition.key] is not definition:
                problems.append(
                    f"duplicate asset key {definition.key}: defined at "
                    f"{_where(assets[definition.key])} and at {_where(definition)}"
                )
                continue
            assets[definition.key] = definition
        by_name: dict[str, list[AssetKey]] = {}
        for key in assets:
            by_name.setdefault(key.name, []).append(key)
            by_name.setdefault(f"{key.namespace}_{key.name}", []).append(key)

        dependencies: dict[AssetKey, tuple[ResolvedDependency, ...]] = {}
        for key in sorted(assets, key=str):
            definition = assets[key]
            resolved: list[ResolvedDependency] = []
            for spec in definition.inputs:
                if spec.key is not None:
                    if spec.key not in assets:
                        problems.append(f"asset {key} depends on unknown asset {spec.key}")
                        continue
                    resolved.append(ResolvedDependency(spec.key, spec.parameter_name))
                    continue
                assert spec.parameter_name is not None
                candidates = sorted(set(by_name.get(spec.parameter_name, [])), key=str)
                if not candidates:
                    problems.append(
                        f"asset {key}: parameter {spec.parameter_name!r} does not name any "
                        f"asset; rename it after an upstream asset or bind it with "
                        f"deps={{{spec.parameter_name!r}: 'namespace.name'}}"
                    )
                elif len(candidates) > 1:
                    problems.append(
                        f"asset {key}: parameter {spec.parameter_name!r} is ambiguous "
                        f"({', '.join(map(str, candidates))}); bind it with deps="
                    )
                else:
                    resolved.append(ResolvedDependency(candidates[0], spec.parameter_name))
            for dep in resolved:
                if dep.upstream == key:
                    problems.append(f"asset {key} depends on itself")
            dependencies[key] = tuple(
                sorted(resolved, key=lambda d: (str(d.upstream), d.parameter_name or ""))
            )

        for key, deps in dependencies.items():
            dims = {dim.name for dim in assets[key].partitions}
            for dep in deps:
                if dep.upstream not in assets or dep.upstream == key:
                    continue
                upstream_dims = {dim.name for dim in assets[dep.upstream].partitions}
                if not upstream_dims <= dims:
                    problems.append(
                        f"asset {key} reads {dep.upstream}, which is partitioned by "
                        f"{', '.join(sorted(upstream_dims - dims))}; a downstream asset must "
                        "carry every partition dimension of its upstreams"
                    )
        if not problems:
            problems.extend(_find_cycles(dependencies))
        if problems:
            raise GraphError(problems)
        self.assets = assets
        self.dependencies = dependencies

    def __contains__(self, key: object) -> bool:
        return key in self.assets

    def __len__(self) -> int:
        return len(self.assets)

    def get(self, key: str | AssetKey) -> AssetDefinition | None:
        return self.assets.get(AssetKey.parse(key))

    def asset_keys(self) -> list[AssetKey]:
        return sorted(self.assets, key=str)

    def upstream(self, key: AssetKey) -> tuple[ResolvedDependency, ...]:
        return self.dependencies.get(key, ())

    def topological_order(self) -> list[AssetKey]:
        """Upstreams first; ties broken by key so the order is deterministic."""
        remaining = {key: {d.upstream for d in deps} for key, deps in self.dependencies.items()}
        order: list[AssetKey] = []
        while remaining:
            ready = sorted((k for k, ups in remaining.items() if not ups), key=str)
            for key in ready:
                order.append(key)
                del remaining[key]
            for ups in remaining.values():
                ups.difference_update(ready)
        return order


def _find_cycles(dependencies: Mapping[AssetKey, tuple[ResolvedDependency, ...]]) -> list[str]:
    """Every back edge found depth-first, with an explicit stack (no recursion limit)."""
    done: set[AssetKey] = set()
    cycles: list[str] = []
    for root in sorted(dependencies, key=str):
        if root in done:
            continue
        stack: list[AssetKey] = [root]
        on_stack = {root}
        pending = [iter(dependencies.get(root, ()))]
        while pending:
            dep = next(pending[-1], None)
            if dep is None:
                pending.pop()
                done.add(stack[-1])
                on_stack.discard(stack.pop())
                continue
            nxt = dep.upstream
            if nxt in on_stack:
                cycle = [*stack[stack.index(nxt) :], nxt]
                cycles.append("dependency cycle: " + " -> ".join(str(k) for k in reversed(cycle)))
            elif nxt not in done and nxt in dependencies:
                stack.append(nxt)
                on_stack.add(nxt)
                pending.append(iter(dependencies.get(nxt, ())))
    return cycles


# -- the manifest ----------------------------------------------------------------------------


def git_info(directory: Path | str) -> dict[str, Any] | None:
    """``{repository, branch, commitSha, commitMessage, author, dirty}``, or None when
    ``directory`` is not in a git work tree (or git is missing)."""

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", *args],
            cwd=directory,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
        return done.stdout.strip()

    try:
        sha = git("rev-parse", "HEAD")
    except (OSError, subprocess.SubprocessError):
        return None
    info: dict[str, Any] = {"commitSha": sha}
    for field_name, args in (
        ("repository", ("remote", "get-url", "origin")),
        ("branch", ("branch", "--show-current")),
        ("commitMessage", ("log", "-1", "--format=%s")),
        ("author", ("log", "-1", "--format=%ae")),
    ):
        try:
            info[field_name] = git(*args)
        except (OSError, subprocess.SubprocessError):
            info[field_name] = ""
    try:
        info["dirty"] = bool(git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError):
        info["dirty"] = False
    return info


def _relative_path(file_path: str, base_dir: Path | None) -> str:
    if not file_path:
        return ""
    path = Path(file_path)
    if base_dir is not None:
        try:
            return path.resolve().relative_to(base_dir.resolve()).as_posix()
        except ValueError:
            pass
    return path.as_posix()


def _asset_entry(
    graph: AssetGraph, definition: AssetDefinition, base_dir: Path | None
) -> dict[str, Any]:
    dependencies = []
    for dep in graph.upstream(definition.key):
        entry: dict[str, Any] = {"upstreamKey": dep.upstream.to_wire(), "mapping": "identity"}
        if dep.parameter_name:
            entry["parameterName"] = dep.parameter_name
        dependencies.append(entry)
    return {
        "key": definition.key.to_wire(),
        "id": asset_id(definition.key),
        "description": definition.description,
        "owners": sorted(definition.owners),
        "tags": dict(sorted(definition.tags.items())),
        "partitioning": {
            "isPartitioned": definition.is_partitioned,
            "dimensions": [dim.to_wire() for dim in definition.partitions],
        },
        "code": {
            "module": definition.module,
            "function": definition.function,
            "filePath": _relative_path(definition.file_path, base_dir),
            "lineNumber": definition.line_number,
        },
        "execution": definition.execution.to_wire(),
        "io": definition.io.to_wire(),
        "resources": definition.resources.to_wire(),
        "transformFingerprint": definition.transform_fingerprint,
        "checks": [check.to_wire() for check in definition.checks],
        "dependencies": dependencies,
    }


def build_manifest(
    graph: AssetGraph,
    *,
    schedules: Sequence[Schedule] = (),
    sensors: Sequence[SensorDefinition] = (),
    code_version_id: str | None = None,
    deployed_by: str | None = None,
    git: Mapping[str, Any] | None = None,
    metadata: Mapping[str, Any] | None = None,
    base_dir: Path | str | None = None,
) -> dict[str, Any]:
    """The ``DeployManifestRequest`` JSON body.

    Deterministic: assets are sorted by key, file paths are relative to ``base_dir``, and
    there is no build timestamp. ``codeVersionId`` defaults to a content hash of the
    asset entries (``cv_`` + 32 hex), so identical code gives an identical manifest, an
    identical fingerprint and therefore an idempotent redeploy.
    """
    base = Path(base_dir) if base_dir is not None else None
    assets = [_asset_entry(graph, graph.assets[key], base) for key in graph.asset_keys()]
    schedule_entries = sorted((s.to_wire() for s in schedules), key=lambda s: (s["id"], s["cron"]))
    known = {str(key) for key in graph.asset_keys()}
    problems = [
        f"schedule {entry['id']} names unknown asset {name}"
        for entry in schedule_entries
        for name in entry["assets"]
        if name not in known
    ]
    sensor_entries = [s.to_wire() for s in sorted(sensors, key=lambda s: s.id)]
    problems += [
        f"sensor {entry['id']} names unknown asset {name}"
        for entry in sensor_entries
        for name in entry["assets"]
        if name not in known
    ]
    if problems:
        raise GraphError(problems)
    if code_version_id is None:
        digest = hashlib.sha256(canonical_bytes({"assets": assets, "schedules": schedule_entries}))
        code_version_id = "cv_" + digest.hexdigest()[:32]
    if deployed_by is None:
        try:
            deployed_by = getpass.getuser()
        except (OSError, KeyError):
            deployed_by = "unknown"
    manifest: dict[str, Any] = {
        "manifestVersion": MANIFEST_VERSION,
        "codeVersionId": code_version_id,
        "assets": assets,
        "schedules": schedule_entries,
        "deployedBy": deployed_by,
        "metadata": dict(metadata or {}),
    }
    if sensor_entries:
        manifest["sensors"] = sensor_entries
    if git:
        manifest["git"] = dict(git)
    return manifest


def manifest_json(manifest: Mapping[str, Any]) -> str:
    """Canonical JSON (sorted keys, compact, integers only)."""
    return canonical_dumps(manifest)


def manifest_fingerprint(manifest: Mapping[str, Any]) -> str:
    """sha256 hex of the manifest's canonical JSON; used as the deploy Idempotency-Key."""
    return hashlib.sha256(canonical_bytes(manifest)).hexdigest()
