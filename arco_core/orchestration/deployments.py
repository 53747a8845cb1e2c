"""Deploying a code manifest (pure: no I/O, no grpc).

Validates a manifest, fingerprints it for idempotent redeploys, plans the
`ManifestDeployed` event, and reads the asset graph back out of a stored manifest; run
planning (`arco_core.orchestration.runs`) plans tasks over that graph.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from arco_core.automation.schedules import ScheduleSpec
from arco_core.automation.sensors import DEFAULT_MINIMUM_INTERVAL_SECONDS, SensorKind, SensorSpec
from arco_core.canonical_json import canonical_bytes, canonical_dumps
from arco_core.errors import InvalidArgument, PayloadTooLarge
from arco_core.orchestration.events import ManifestDeployed
from arco_core.orchestration.state import DEFAULT_WORKER_QUEUE, CodeManifestRow

MAX_KEY_LENGTH = 256
MIN_HEARTBEAT_TIMEOUT_SEC = 30
DEFAULT_HEARTBEAT_TIMEOUT_SEC = 300
DEFAULT_MAX_ATTEMPTS = 3


def asset_key_of(key: Mapping[str, Any]) -> str:
    namespace, name = str(key.get("namespace") or ""), str(key.get("name") or "")
    if not namespace or not name:
        raise InvalidArgument("asset key needs a namespace and a name")
    for part in (namespace, name):
        if (
            len(part) > MAX_KEY_LENGTH
            or not part.isprintable()
            or any(c in part for c in "./ %\\")
            or any("\ud800" <= c <= "\udfff" for c in part)
        ):
            raise InvalidArgument(f"invalid asset key part {part!r}")
    return f"{namespace}.{name}"


@dataclass(frozen=True)
class ManifestLimits:
    """The largest manifest a deploy accepts (the api sets them from its config)."""

    max_bytes: int = 8 * 1024 * 1024  # of its canonical JSON
    max_assets: int = 10_000


DEFAULT_MANIFEST_LIMITS = ManifestLimits()


@dataclass(frozen=True)
class DeployPlan:
    event: ManifestDeployed
    stored: dict[str, Any]


def validate_manifest(
    manifest: Mapping[str, Any], limits: ManifestLimits = DEFAULT_MANIFEST_LIMITS
) -> None:
    """Every rule a deployable manifest must meet (InvalidArgument naming the first miss,
    PayloadTooLarge over the size limit)."""
    assets = list(manifest.get("assets") or [])
    # The limits first: the rules below walk every asset.
    if len(assets) > limits.max_assets:
        raise InvalidArgument(
            f"manifest has {len(assets)} assets, more than the limit of {limits.max_assets}",
            reason="too_many_assets",
            metadata={"limit": str(limits.max_assets), "actual": str(len(assets))},
        )
    size = len(canonical_bytes(manifest))
    if size > limits.max_bytes:
        raise PayloadTooLarge(
            f"manifest is {size} bytes of canonical JSON, more than the limit of "
            f"{limits.max_bytes} bytes",
            metadata={"limit": str(limits.max_bytes), "actual": str(size)},
        )
    if not str(manifest.get("manifestVersion") or "").strip():
        raise InvalidArgument("manifestVersion is required")
    if not str(manifest.get("codeVersionId") or "").strip():
        raise InvalidArgument("codeVersionId is required")
    if not assets:
        raise InvalidArgument("a manifest needs at least one asset")
    keys: set[str] = set()
    for asset in assets:
        key = asset_key_of(asset.get("key") or {})
        if key in keys:
            raise InvalidArgument(f"duplicate asset key {key}")
        if not str(asset.get("id") or "").strip():
            raise InvalidArgument(f"asset {key} needs an id")
        keys.add(key)
    for asset in assets:
        for dep in asset.get("dependencies") or []:
            upstream = asset_key_of(dep.get("upstreamKey") or {})
            if upstream not in keys:
                raise InvalidArgument(
                    f"asset {asset_key_of(asset['key'])} depends on unknown asset {upstream}"
                )
    _check_acyclic({asset_key_of(a["key"]): _deps_of(a) for a in assets})
    schedule_ids: set[str] = set()
    for schedule in manifest.get("schedules") or []:
        sid = str(schedule.get("id") or "")
        if not sid or sid in schedule_ids:
            raise InvalidArgument(f"schedule ids must be unique and non-empty, got {sid!r}")
        schedule_ids.add(sid)
        unknown = [a for a in schedule.get("assets") or [] if a not in keys]
        if not schedule.get("assets") or unknown:
            raise InvalidArgument(f"schedule {sid} names unknown or no assets: {unknown}")
        # A cron or zone that cannot fire is refused here, not discovered at the first tick.
        ScheduleSpec(
            sid,
            str(schedule.get("cron") or ""),
            tuple(schedule["assets"]),
            str(schedule.get("timezone") or "UTC"),
        )
    _validate_sensors(manifest.get("sensors") or [], keys)


def _validate_sensors(sensors: list[Any], keys: set[str]) -> None:
    sensor_ids: set[str] = set()
    for sensor in sensors:
        sid = str(sensor.get("id") or "")
        if not sid or sid in sensor_ids:
            raise InvalidArgument(f"sensor ids must be unique and non-empty, got {sid!r}")
        sensor_ids.add(sid)
        unknown = [a for a in sensor.get("assets") or [] if a not in keys]
        if unknown:
            raise InvalidArgument(f"sensor {sid} names unknown assets: {unknown}")
        kind = str(sensor.get("kind") or SensorKind.POLL)
        if kind not in set(SensorKind):
            raise InvalidArgument(f"sensor {sid}: kind must be poll or push, got {kind!r}")
        interval = sensor.get("minimumIntervalSeconds") or DEFAULT_MINIMUM_INTERVAL_SECONDS
        SensorSpec(sid, SensorKind(kind), int(interval))


def manifest_fingerprint(manifest: Mapping[str, Any]) -> str:
    """sha256 over the canonical manifest content (assets and schedules sorted)."""
    assets = sorted(
        manifest.get("assets", []),
        key=lambda a: (a["key"]["namespace"], a["key"]["name"], a.get("id", "")),
    )
    schedules = sorted(
        manifest.get("schedules", []), key=lambda s: (s.get("id", ""), s.get("cron", ""))
    )
    content = {
        "manifestVersion": manifest.get("manifestVersion"),
        "codeVersionId": manifest.get("codeVersionId"),
        "git": manifest.get("git") or {},
        "assets": assets,
        "schedules": schedules,
        "metadata": manifest.get("metadata"),
    }
    if manifest.get("sensors"):  # absent from older manifests, whose fingerprints stay
        content["sensors"] = sorted(manifest["sensors"], key=lambda s: str(s.get("id", "")))
    return "sha256:" + hashlib.sha256(canonical_bytes(content)).hexdigest()


def plan_deploy(
    manifest: Mapping[str, Any],
    *,
    manifest_id: str,
    tenant_id: str,
    workspace_id: str,
    deployed_by: str,
    deployed_at: str,
    limits: ManifestLimits = DEFAULT_MANIFEST_LIMITS,
) -> DeployPlan:
    """Validate a DeployManifestRequest (camelCase JSON) and build its ManifestDeployed."""
    validate_manifest(manifest, limits)
    assets = list(manifest["assets"])
    fingerprint = manifest_fingerprint(manifest)
    git = manifest.get("git") or {}
    stored = {
        "manifestId": manifest_id,
        "tenantId": tenant_id,
        "workspaceId": workspace_id,
        "manifestVersion": manifest["manifestVersion"],
        "codeVersionId": manifest["codeVersionId"],
        "fingerprint": fingerprint,
        "git": git,
        "assets": assets,
        "schedules": list(manifest.get("schedules") or []),
        "deployedAt": deployed_at,
        "deployedBy": deployed_by,
        "metadata": manifest.get("metadata"),
    }
    if manifest.get("sensors"):
        stored["sensors"] = list(manifest["sensors"])
    event = ManifestDeployed(
        manifest_id=manifest_id,
        code_version_id=str(manifest["codeVersionId"]),
        fingerprint=fingerprint,
        asset_count=len(assets),
        deployed_by=deployed_by,
        manifest_json=canonical_dumps(stored),
        git_branch=git.get("branch") or None,
        git_commit=git.get("commitSha") or None,
    )
    return DeployPlan(event=event, stored=stored)


def stored_manifest(row: CodeManifestRow) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(row.manifest_json)
    return data


def _deps_of(asset: Mapping[str, Any]) -> list[str]:
    return sorted({asset_key_of(d["upstreamKey"]) for d in asset.get("dependencies") or []})


def _cycle_text(cycle: Sequence[str], shown: int = 8) -> str:
    """A cycle for an error message: a long one is elided in the middle, with its length."""
    if len(cycle) <= shown:
        return " -> ".join(cycle)
    head, tail = cycle[: shown // 2], cycle[-(shown // 2) :]
    return f"{' -> '.join(head)} -> ... -> {' -> '.join(tail)} ({len(cycle) - 1} assets)"


def _check_acyclic(graph: Mapping[str, Sequence[str]]) -> None:
    """Depth-first with an explicit stack: a chain of any length is no deeper than one
    call (recursion failed at about 1,000 assets)."""
    done: set[str] = set()
    for root in sorted(graph):
        if root in done:
            continue
        path: list[str] = [root]
        on_path = {root}
        pending = [iter(graph.get(root, ()))]
        while pending:
            upstream = next(pending[-1], None)
            if upstream is None:
                pending.pop()
                done.add(path[-1])
                on_path.discard(path.pop())
                continue
            if upstream in on_path:
                cycle = [*path[path.index(upstream) :], upstream]
                raise InvalidArgument(f"asset dependencies form a cycle: {_cycle_text(cycle)}")
            if upstream not in done:
                path.append(upstream)
                on_path.add(upstream)
                pending.append(iter(graph.get(upstream, ())))


# -- the asset graph a deployment declares --------------------------------------------


@dataclass(frozen=True)
class AssetNode:
    key: str
    depends_on: tuple[str, ...]
    max_attempts: int
    heartbeat_timeout_sec: int
    worker_queue: str
    partitioned: bool


def asset_graph(manifest: Mapping[str, Any]) -> dict[str, AssetNode]:
    nodes: dict[str, AssetNode] = {}
    for asset in manifest.get("assets", []):
        key = asset_key_of(asset["key"])
        execution = asset.get("execution") or {}
        retries = int(execution.get("maxRetries", DEFAULT_MAX_ATTEMPTS - 1) or 0)
        timeout = int(execution.get("heartbeatTimeoutSeconds") or DEFAULT_HEARTBEAT_TIMEOUT_SEC)
        partitioning = asset.get("partitioning") or {}
        nodes[key] = AssetNode(
            key=key,
            depends_on=tuple(_deps_of(asset)),
            max_attempts=max(1, retries + 1),
            heartbeat_timeout_sec=max(MIN_HEARTBEAT_TIMEOUT_SEC, timeout),
            worker_queue=str(execution.get("workerQueue") or DEFAULT_WORKER_QUEUE),
            partitioned=bool(partitioning.get("isPartitioned") or partitioning.get("dimensions")),
        )
    return nodes
