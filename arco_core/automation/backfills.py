"""Backfills: which partitions one covers, how they are cut into chunks, which chunks may
be planned next, and how its state moves. Pure functions of their inputs (no clock, no
storage), so the service that plans chunks and a replay of its events agree.

Partition keys are canonical (:mod:`arco_core.partition`): ``date=d:2025-01-15``. A range
really resolves against the asset's partition dimensions: the one time dimension (daily or
hourly) is walked from start to end inclusive, crossed with every value of each static
dimension. Beyond the reference: chunks finish, so a backfill ends SUCCEEDED or FAILED.
"""

from __future__ import annotations

import enum
import hashlib
import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final, TypeAlias

from arco_core.errors import Conflict, InvalidArgument
from arco_core.partition import PartitionKey, ScalarValue, parse_partition_key

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "DEFAULT_MAX_CONCURRENT_RUNS",
    "MAX_BACKFILL_PARTITIONS",
    "BackfillState",
    "Chunk",
    "ChunkState",
    "Dimension",
    "ExplicitSelector",
    "PartitionSelector",
    "Progress",
    "RangeSelector",
    "chunk_at",
    "chunk_count",
    "chunks_to_plan",
    "dimensions_from_manifest",
    "finished_state",
    "parse_selector",
    "progress",
    "resolve_partitions",
    "retry_failed_selector",
    "selector_to_json",
    "transition",
]

DEFAULT_CHUNK_SIZE: Final = 10
DEFAULT_MAX_CONCURRENT_RUNS: Final = 2
# A backfill names its partitions in its chunks; beyond this, split it.
MAX_BACKFILL_PARTITIONS: Final = 100_000


def _invalid(message: str, reason: str = "invalid_partition_selector") -> InvalidArgument:
    return InvalidArgument(message, reason=reason)


# -- the asset's partitions ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Dimension:
    """One partition dimension of a deployed asset (the manifest's wire form)."""

    name: str
    kind: str  # "time" or "static"
    granularity: str | None = None  # "day" or "hour" for time
    values: tuple[str, ...] = ()  # for static

    def check(self, value: ScalarValue) -> None:
        if self.kind == "static":
            if value.kind != "string" or value.value not in self.values:
                raise _invalid(
                    f"partition {self.name} must be one of {', '.join(self.values)}, "
                    f"got {value.value!r}"
                )
            return
        if self.granularity == "day":
            if value.kind != "date":
                raise _invalid(f"partition {self.name} must be a date (d:YYYY-MM-DD)")
            return
        stamp = value.value
        if value.kind != "timestamp" or not isinstance(stamp, datetime):
            raise _invalid(f"partition {self.name} must be an hour (t:YYYY-MM-DDTHH:00:00Z)")
        if (stamp.minute, stamp.second, stamp.microsecond) != (0, 0, 0):
            raise _invalid(f"partition {self.name} must be aligned to the hour")

    def coerce(self, text: str) -> ScalarValue:
        """A bare value (``2025-01-15``) typed by this dimension."""
        if self.kind == "static":
            value = ScalarValue("string", text)
        elif self.granularity == "day":
            value = ScalarValue("date", _date(text, self.name))
        else:
            value = ScalarValue.from_value(_hour(text, self.name))
        self.check(value)
        return value


def dimensions_from_manifest(partitioning: Mapping[str, Any] | None) -> tuple[Dimension, ...]:
    """The dimensions of an asset's ``partitioning`` object in a stored manifest."""
    out = []
    for raw in (partitioning or {}).get("dimensions") or ():
        kind = raw.get("kind")
        if kind == "time":
            out.append(Dimension(raw["name"], "time", granularity=raw.get("granularity", "day")))
        elif kind == "static":
            out.append(Dimension(raw["name"], "static", values=tuple(raw.get("values") or ())))
        else:
            raise _invalid(f"unknown partition dimension kind {kind!r}")
    return tuple(out)


def _date(text: str, name: str) -> date:
    try:
        return date.fromisoformat(text)
    except (TypeError, ValueError):
        raise _invalid(f"{name}: {text!r} is not a date (YYYY-MM-DD)") from None


def _hour(text: str, name: str) -> datetime:
    try:
        stamp = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (TypeError, ValueError):
        raise _invalid(f"{name}: {text!r} is not a timestamp (YYYY-MM-DDTHH:00:00Z)") from None
    return stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp.astimezone(UTC)


# -- selectors -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RangeSelector:
    """From ``start`` through ``end`` inclusive (dates, or hours for an hourly dimension)."""

    start: str
    end: str


@dataclass(frozen=True, slots=True)
class ExplicitSelector:
    partitions: tuple[str, ...]


PartitionSelector: TypeAlias = RangeSelector | ExplicitSelector

_FILTER_BOUNDS: Final = {"start": "start", "partition_start": "start", "end": "end"}
_FILTER_BOUNDS_ALL: Final = {**_FILTER_BOUNDS, "partition_end": "end"}


def parse_selector(raw: object) -> PartitionSelector:
    """A selector from its JSON form: ``{"type": "range", "start", "end"}``,
    ``{"type": "explicit", "partitions": [...]}`` or ``{"type": "filter", "filters":
    {start|partition_start, end|partition_end}}`` (stored as a range)."""
    if not isinstance(raw, Mapping):
        raise _invalid("partitionSelector must be an object with a type")
    kind = raw.get("type")
    if kind == "range":
        start, end = raw.get("start"), raw.get("end")
        if not isinstance(start, str) or not isinstance(end, str) or not start or not end:
            raise _invalid("a range selector needs start and end")
        return RangeSelector(start, end)
    if kind == "explicit":
        keys = raw.get("partitions")
        if not isinstance(keys, list) or not keys:
            raise _invalid("an explicit selector needs a non-empty partitions list")
        if not all(isinstance(k, str) and k for k in keys):
            raise _invalid("explicit partitions must be non-empty strings")
        return ExplicitSelector(tuple(keys))
    if kind == "filter":
        return _filter_selector(raw.get("filters"))
    raise _invalid(f"unknown partition selector type {kind!r} (range, explicit or filter)")


def _filter_selector(filters: object) -> RangeSelector:
    if not isinstance(filters, Mapping):
        raise _invalid("a filter selector needs a filters object")
    unknown = sorted(set(filters) - set(_FILTER_BOUNDS_ALL))
    if unknown:
        raise _invalid(f"unknown filter keys {unknown} (start, end, partition_start, ...)")
    bounds: dict[str, str] = {}
    for key, bound in _FILTER_BOUNDS_ALL.items():
        value = filters.get(key)
        if value is None:
            continue
        if not isinstance(value, str) or (bound in bounds and bounds[bound] != value):
            raise _invalid(f"filter bound {bound} is given twice with different values")
        bounds[bound] = value
    if set(bounds) != {"start", "end"}:
        raise _invalid("a filter selector needs both a start and an end bound")
    return RangeSelector(bounds["start"], bounds["end"])


def selector_to_json(selector: PartitionSelector) -> dict[str, Any]:
    if isinstance(selector, RangeSelector):
        return {"type": "range", "start": selector.start, "end": selector.end}
    return {"type": "explicit", "partitions": list(selector.partitions)}


def resolve_partitions(
    selector: PartitionSelector, dimensions: Sequence[Dimension], *, asset: str = "the asset"
) -> tuple[str, ...]:
    """The canonical partition keys ``selector`` names for an asset with ``dimensions``,
    in order and without repeats; 400 for anything the asset cannot have."""
    if not dimensions:
        raise _invalid(f"{asset} is not partitioned: a backfill needs partitions")
    if isinstance(selector, ExplicitSelector):
        keys = [_explicit_key(text, dimensions, asset) for text in selector.partitions]
    else:
        keys = _range_keys(selector, dimensions, asset)
    unique = tuple(dict.fromkeys(keys))
    if len(unique) > MAX_BACKFILL_PARTITIONS:
        raise _invalid(
            f"the selector names {len(unique)} partitions; a backfill takes at most "
            f"{MAX_BACKFILL_PARTITIONS}",
            reason="too_many_partitions",
        )
    return unique


def _explicit_key(text: str, dimensions: Sequence[Dimension], asset: str) -> str:
    expected = {dim.name for dim in dimensions}
    if "=" not in text:
        if len(dimensions) > 1:
            raise _invalid(
                f"partition {text!r} of {asset} must name exactly {', '.join(sorted(expected))}"
            )
        dim = dimensions[0]
        return PartitionKey.of({dim.name: dim.coerce(text)}).canonical()
    try:
        key = parse_partition_key(text, allow_untagged=True)
    except InvalidArgument as exc:
        raise _invalid(f"partition {text!r}: {exc.message}") from None
    names = {name for name, _ in key}
    if names != expected:
        raise _invalid(
            f"partition {text!r} of {asset} must name exactly {', '.join(sorted(expected))}"
        )
    by_name = dict(key)
    for dim in dimensions:
        value = by_name[dim.name]
        if value.kind == "string" and dim.kind == "time":
            value = dim.coerce(str(value.value))  # untagged text: type it by the dimension
            by_name[dim.name] = value
        dim.check(value)
    return PartitionKey.of(by_name).canonical()


def _range_keys(selector: RangeSelector, dimensions: Sequence[Dimension], asset: str) -> list[str]:
    times = [dim for dim in dimensions if dim.kind == "time"]
    if len(times) != 1:
        raise _invalid(
            f"a range selects along one time dimension; {asset} has {len(times)} "
            "(use an explicit selector)"
        )
    axis = times[0]
    steps = _time_values(axis, selector.start, selector.end)
    if len(steps) > MAX_BACKFILL_PARTITIONS:
        raise _invalid(
            f"the range spans {len(steps)} {axis.granularity}s; a backfill takes at most "
            f"{MAX_BACKFILL_PARTITIONS} partitions",
            reason="too_many_partitions",
        )
    axes: list[list[ScalarValue]] = [
        steps if dim is axis else [ScalarValue("string", v) for v in dim.values]
        for dim in dimensions
    ]
    names = [dim.name for dim in dimensions]
    return [
        PartitionKey.of(dict(zip(names, combo, strict=True))).canonical()
        for combo in itertools.product(*axes)
    ]


def _time_values(axis: Dimension, start: str, end: str) -> list[ScalarValue]:
    if axis.granularity == "day":
        first, last = _date(start, "start"), _date(end, "end")
        if first > last:
            raise _invalid(f"range start {start} is after its end {end}")
        days = (last - first).days + 1
        if days > MAX_BACKFILL_PARTITIONS:
            return [ScalarValue("date", first)] * days  # counted, refused by the caller
        return [ScalarValue("date", first + timedelta(days=i)) for i in range(days)]
    lo = _hour_bound(start, "start", end_of_day=False)
    hi = _hour_bound(end, "end", end_of_day=True)
    if lo > hi:
        raise _invalid(f"range start {start} is after its end {end}")
    hours = int((hi - lo) / timedelta(hours=1)) + 1
    if hours > MAX_BACKFILL_PARTITIONS:
        return [ScalarValue.from_value(lo)] * hours
    return [ScalarValue.from_value(lo + timedelta(hours=i)) for i in range(hours)]


def _hour_bound(text: str, name: str, *, end_of_day: bool) -> datetime:
    """A date bound covers its whole day; a timestamp bound must be on the hour."""
    if len(text) == 10:
        day = _date(text, name)
        stamp = datetime(day.year, day.month, day.day, tzinfo=UTC)
        return stamp + timedelta(hours=23) if end_of_day else stamp
    stamp = _hour(text, name)
    if (stamp.minute, stamp.second, stamp.microsecond) != (0, 0, 0):
        raise _invalid(f"range {name} {text} must be on the hour")
    return stamp


# -- chunks --------------------------------------------------------------------------------


class ChunkState(enum.StrEnum):
    PLANNED = "PLANNED"  # its run was requested
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"

    @property
    def is_active(self) -> bool:
        return self in (ChunkState.PLANNED, ChunkState.RUNNING)


@dataclass(frozen=True, slots=True)
class Chunk:
    backfill_id: str
    index: int
    partition_keys: tuple[str, ...]

    @property
    def chunk_id(self) -> str:
        return f"{self.backfill_id}:{self.index}"

    @property
    def run_key(self) -> str:
        """One run per chunk, whoever plans it and however often."""
        return f"backfill:{self.backfill_id}:chunk:{self.index}"

    @property
    def fingerprint(self) -> str:
        digest = hashlib.sha256("".join(f"{key}|" for key in self.partition_keys).encode())
        return digest.digest()[:16].hex()


def chunk_count(partitions: int, chunk_size: int) -> int:
    return math.ceil(partitions / chunk_size)


def chunk_at(backfill_id: str, keys: Sequence[str], chunk_size: int, index: int) -> Chunk:
    if not 0 <= index < chunk_count(len(keys), chunk_size):
        raise IndexError(f"backfill {backfill_id} has no chunk {index}")
    return Chunk(backfill_id, index, tuple(keys[index * chunk_size : (index + 1) * chunk_size]))


# -- state ---------------------------------------------------------------------------------


class BackfillState(enum.StrEnum):
    RUNNING = "RUNNING"
    PAUSED = "PAUSED"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"

    @property
    def is_terminal(self) -> bool:
        return self in (BackfillState.SUCCEEDED, BackfillState.FAILED, BackfillState.CANCELLED)


_MOVES: Final[Mapping[BackfillState, frozenset[BackfillState]]] = {
    BackfillState.RUNNING: frozenset(
        {
            BackfillState.PAUSED,
            BackfillState.SUCCEEDED,
            BackfillState.FAILED,
            BackfillState.CANCELLED,
        }
    ),
    BackfillState.PAUSED: frozenset({BackfillState.RUNNING, BackfillState.CANCELLED}),
}


def transition(
    current: BackfillState, version: int, to: BackfillState, expected_version: int | None = None
) -> int:
    """The state version after moving ``current`` to ``to``; 409 for a move the state does
    not allow or when the caller's ``expected_version`` is not the current one."""
    if expected_version is not None and expected_version != version:
        raise Conflict(
            f"backfill is at state version {version}, not {expected_version}",
            reason="backfill_version_conflict",
        )
    if to not in _MOVES.get(current, frozenset()):
        raise Conflict(
            f"a {current.value} backfill cannot become {to.value}",
            reason="invalid_backfill_transition",
        )
    return version + 1


def chunks_to_plan(
    state: BackfillState,
    total_chunks: int,
    chunks: Mapping[int, ChunkState],
    max_concurrent_runs: int,
) -> list[int]:
    """The chunk indexes to plan now, oldest first: only while RUNNING, and never more
    active (planned or running) chunks than ``max_concurrent_runs``."""
    if state is not BackfillState.RUNNING:
        return []
    free = max_concurrent_runs - sum(1 for s in chunks.values() if s.is_active)
    if free <= 0:
        return []
    unplanned = (i for i in range(total_chunks) if i not in chunks)
    return list(itertools.islice(unplanned, free))


def finished_state(total_chunks: int, chunks: Mapping[int, ChunkState]) -> BackfillState | None:
    """SUCCEEDED or FAILED once every chunk ran to an end (None before)."""
    if len(chunks) < total_chunks or any(s.is_active for s in chunks.values()):
        return None
    if any(s in (ChunkState.FAILED, ChunkState.CANCELLED) for s in chunks.values()):
        return BackfillState.FAILED
    return BackfillState.SUCCEEDED


def retry_failed_selector(
    keys: Sequence[str], chunk_size: int, chunks: Mapping[int, ChunkState]
) -> ExplicitSelector:
    """An explicit selector of the partitions of the failed (or cancelled) chunks."""
    failed = sorted(i for i, s in chunks.items() if s in (ChunkState.FAILED, ChunkState.CANCELLED))
    if not failed:
        raise Conflict("the backfill has no failed chunks to retry", reason="nothing_to_retry")
    return ExplicitSelector(
        tuple(
            dict.fromkeys(
                key for i in failed for key in keys[i * chunk_size : (i + 1) * chunk_size]
            )
        )
    )


@dataclass(frozen=True, slots=True)
class Progress:
    total: int
    pending: int  # not planned yet
    running: int  # planned or running
    succeeded: int
    failed: int  # failed or cancelled


def progress(total_chunks: int, chunks: Iterable[ChunkState]) -> Progress:
    states = list(chunks)
    running = sum(1 for s in states if s.is_active)
    succeeded = states.count(ChunkState.SUCCEEDED)
    failed = states.count(ChunkState.FAILED) + states.count(ChunkState.CANCELLED)
    return Progress(total_chunks, total_chunks - len(states), running, succeeded, failed)
