"""Sensors: ``@sensor`` declares a function the mesh evaluates on a worker.

A poll sensor is evaluated at most every ``minimum_interval_seconds``: the worker calls
the function with the sensor's cursor and reports the new cursor and the runs it asks
for. A push sensor is evaluated when a message is posted to
``POST /api/v1/workspaces/{ws}/sensors/{id}/evaluate``: each message id runs the
sensor's ``assets`` once (its function is not called).

    @sensor("new-files", minimum_interval_seconds=60, assets=["raw.events"])
    def new_files(context: SensorContext) -> SensorResult:
        seen = int(context.cursor or 0)
        latest = count_files()
        requests = [RunRequest(f"files-{latest}")] if latest > seen else []
        return SensorResult(cursor=str(latest), run_requests=requests)
"""

from __future__ import annotations

import asyncio
import inspect
import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from arco_sdk.assets import AssetKey
from arco_sdk.manifest import discover

__all__ = [
    "RunRequest",
    "SensorContext",
    "SensorDefinition",
    "SensorResult",
    "discover_sensors",
    "sensor",
]

DEFAULT_MINIMUM_INTERVAL_SECONDS = 30


@dataclass(frozen=True, slots=True)
class RunRequest:
    """A run a sensor asks for; the same ``run_key`` asked twice makes one run."""

    run_key: str
    assets: Sequence[str] = ()  # empty: the sensor's own assets
    partitions: Sequence[str] = ()
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SensorResult:
    cursor: str | None = None
    run_requests: Sequence[RunRequest] = ()


@dataclass(frozen=True, slots=True)
class SensorContext:
    sensor_id: str
    cursor: str | None


SensorFunction = Callable[[SensorContext], "SensorResult | Awaitable[SensorResult | None] | None"]


@dataclass(frozen=True)
class SensorDefinition:
    """A declared sensor (deployed with the manifest, evaluated by workers)."""

    id: str
    fn: SensorFunction | None
    minimum_interval_seconds: int = DEFAULT_MINIMUM_INTERVAL_SECONDS
    assets: tuple[str, ...] = ()
    kind: str = "poll"

    def __post_init__(self) -> None:
        if self.kind not in ("poll", "push"):
            raise ValueError(f"sensor {self.id}: kind must be 'poll' or 'push'")
        if self.minimum_interval_seconds < 1:
            raise ValueError(f"sensor {self.id}: minimum_interval_seconds must be >= 1")
        if self.kind == "poll" and self.fn is None:
            raise ValueError(f"poll sensor {self.id} needs a function")

    def to_wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "minimumIntervalSeconds": self.minimum_interval_seconds,
            "assets": sorted(str(AssetKey.parse(a)) for a in self.assets),
        }

    async def evaluate(self, cursor: str | None) -> dict[str, Any]:
        """Run the function; the answer as the api takes it (cursor, runRequests)."""
        assert self.fn is not None
        context = SensorContext(self.id, cursor)
        if inspect.iscoroutinefunction(self.fn):
            outcome = await self.fn(context)
        else:  # a blocking function must not hold the worker's event loop
            outcome = await asyncio.to_thread(self.fn, context)
        if inspect.isawaitable(outcome):
            outcome = await outcome
        if outcome is None:
            return {"cursor": cursor, "runRequests": []}
        if not isinstance(outcome, SensorResult):
            raise TypeError(f"sensor {self.id} returned {type(outcome).__name__}, not SensorResult")
        return {
            "cursor": outcome.cursor,
            "runRequests": [
                {
                    "runKey": r.run_key,
                    "assets": [str(AssetKey.parse(a)) for a in (r.assets or self.assets)],
                    "partitions": list(r.partitions),
                    "labels": dict(r.labels),
                }
                for r in outcome.run_requests
            ],
        }


def sensor(
    name: str | None = None,
    *,
    minimum_interval_seconds: int = DEFAULT_MINIMUM_INTERVAL_SECONDS,
    assets: Sequence[str] = (),
    kind: str = "poll",
) -> Callable[[SensorFunction], SensorDefinition]:
    """Declare a sensor; the decorated name becomes a :class:`SensorDefinition`."""

    def wrap(fn: SensorFunction) -> SensorDefinition:
        return SensorDefinition(
            name or fn.__name__.replace("_", "-"),
            fn,
            minimum_interval_seconds,
            tuple(assets),
            kind,
        )

    return wrap


def discover_sensors(targets: str | Path | Sequence[str | Path]) -> list[SensorDefinition]:
    """The sensors of the modules :func:`arco_sdk.manifest.discover` imports, by id."""
    discover(targets)  # imports every module of the targets (and raises their failures)
    found: dict[str, SensorDefinition] = {}
    for module in list(sys.modules.values()):
        if module is None or not _under(module, targets):
            continue
        for value in vars(module).values():
            if isinstance(value, SensorDefinition):
                other = found.setdefault(value.id, value)
                if other is not value:
                    raise ValueError(f"two sensors are named {value.id}")
    return [found[k] for k in sorted(found)]


def _under(module: Any, targets: str | Path | Sequence[str | Path]) -> bool:
    names = [targets] if isinstance(targets, (str, Path)) else list(targets)
    name = getattr(module, "__name__", "")
    file = getattr(module, "__file__", None)
    for target in names:
        text = str(target)
        if name == text or name.startswith(f"{text}."):
            return True
        path = Path(text)
        if file and path.exists() and Path(file).resolve().is_relative_to(path.resolve()):
            return True
    return False
