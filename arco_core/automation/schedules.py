"""Schedules: validation, tick times in the schedule's zone, catch-up plans, and the ids that
give one run per tick.

Instants are epoch milliseconds (as :class:`arco_core.clock.Clock` gives them); a tick is a
whole UTC second. The cron dialect is five Unix fields (``minute hour day-of-month month
day-of-week``; day-of-week 0 or 7 is Sunday, 1 is Monday; three-letter month and day names;
``*``, lists, ranges and steps). Daylight saving time, decided once for every schedule:

- A local time that does not exist (the spring gap) fires once, at the first instant after
  the gap, when the hour field names specific hours; an every-hour schedule skips it, since
  its real hours keep their cadence.
- A local time that happens twice (the autumn overlap) fires once, at its first occurrence,
  when the hour field names specific hours; an every-hour schedule fires in both, because
  each is a real hour of its own.
"""

from __future__ import annotations

import functools
import heapq
import re
import zoneinfo
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from croniter import CroniterBadDateError, CroniterError, croniter

from arco_core.errors import InvalidArgument, InvalidCronExpression, UnknownTimezone

__all__ = [
    "DEFAULT_CATCHUP_WINDOW_SECONDS",
    "DEFAULT_MAX_CATCHUP_TICKS",
    "SKIP_MAX_CATCHUP_TICKS",
    "SKIP_OUTSIDE_CATCHUP_WINDOW",
    "SKIP_PAUSED",
    "ExpiredTicks",
    "ScheduleSpec",
    "ScheduleState",
    "SkippedTick",
    "Tick",
    "TickPlan",
    "new_schedule_state",
    "next_ticks",
    "plan_ticks",
    "run_key",
    "set_enabled",
    "tick_id",
    "ticks_between",
]

DEFAULT_CATCHUP_WINDOW_SECONDS = 24 * 3600
DEFAULT_MAX_CATCHUP_TICKS = 1
# Leaves room in the 256-character run key (``sched:{id}:{epoch}``).
MAX_SCHEDULE_ID_LENGTH = 200

SKIP_PAUSED = "paused"
SKIP_MAX_CATCHUP_TICKS = "max_catchup_ticks"
SKIP_OUTSIDE_CATCHUP_WINDOW = "outside_catchup_window"

_SECOND = timedelta(seconds=1)
_EPOCH = datetime(1970, 1, 1)  # naive UTC: the arithmetic below is on naive wall times
_MONTHS = {"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}
_WEEKDAYS = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"}
_NUMERIC_FIELD = re.compile(r"^[0-9*,/-]+$", re.ASCII)
_NAMED_FIELD = re.compile(r"^[0-9A-Za-z*,/-]+$", re.ASCII)
_FIELD_NAMES = ("minute", "hour", "day-of-month", "month", "day-of-week")
# Names in the tz database that are not places: the host's own zone and a placeholder.
_NOT_IANA_ZONES = {"localtime", "posixrules", "Factory"}


# -- validation --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Cron:
    expression: str
    every_hour: bool


@functools.lru_cache(maxsize=1024)
def _parse_cron(expression: str) -> _Cron:
    fields = expression.split()
    if len(fields) != len(_FIELD_NAMES):
        raise InvalidCronExpression(
            f"cron expression must have 5 fields (minute hour day-of-month month day-of-week), "
            f"got {len(fields)}: {expression!r}"
        )
    for index, text in enumerate(fields):
        names = {3: _MONTHS, 4: _WEEKDAYS}.get(index)
        pattern = _NAMED_FIELD if names else _NUMERIC_FIELD
        words = re.findall(r"[A-Za-z]+", text)
        if not pattern.fullmatch(text) or any(w.lower() not in (names or ()) for w in words):
            raise InvalidCronExpression(
                f"cron {_FIELD_NAMES[index]} field {text!r} uses syntax outside the 5-field "
                f"Unix dialect: {expression!r}"
            )
    normalized = " ".join(fields)
    try:
        parsed = croniter(normalized, datetime(2000, 1, 1))
        parsed.get_next(datetime)
    except CroniterBadDateError:
        raise InvalidCronExpression(f"cron expression never fires: {expression!r}") from None
    except (CroniterError, ValueError, KeyError) as exc:
        raise InvalidCronExpression(f"invalid cron expression {expression!r}: {exc}") from None
    hours = parsed.expanded[1]
    return _Cron(normalized, hours == ["*"] or set(hours) == set(range(24)))


@functools.cache
def _iana_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones() - _NOT_IANA_ZONES)


def _zone(name: str) -> zoneinfo.ZoneInfo:
    if name not in _iana_zones():
        raise UnknownTimezone(f"unknown IANA time zone: {name!r}")
    return zoneinfo.ZoneInfo(name)


@dataclass(frozen=True, slots=True)
class ScheduleSpec:
    """A validated schedule definition; constructing one with bad fields raises.

    ``catchup_window_seconds`` bounds how late a tick may still run; ``max_catchup_ticks``
    bounds how many ticks one evaluation runs.
    """

    schedule_id: str
    cron: str
    assets: tuple[str, ...]
    timezone: str = "UTC"
    catchup_window_seconds: int = DEFAULT_CATCHUP_WINDOW_SECONDS
    max_catchup_ticks: int = DEFAULT_MAX_CATCHUP_TICKS

    def __post_init__(self) -> None:
        sid = self.schedule_id
        if not sid or len(sid) > MAX_SCHEDULE_ID_LENGTH or not sid.isprintable():
            raise InvalidArgument(
                f"schedule id must be 1..{MAX_SCHEDULE_ID_LENGTH} printable characters, "
                f"got {sid!r}",
                reason="invalid_schedule_id",
            )
        object.__setattr__(self, "cron", _parse_cron(self.cron).expression)
        _zone(self.timezone)
        if not self.assets or not all(self.assets):
            raise InvalidArgument(
                f"schedule {sid} needs a non-empty asset selection without empty names",
                reason="invalid_asset_selection",
            )
        object.__setattr__(self, "assets", tuple(sorted(set(self.assets))))
        if self.catchup_window_seconds < 1:
            raise InvalidArgument(
                f"catch-up window must be at least 1 second, got {self.catchup_window_seconds}",
                reason="invalid_catchup_window",
            )
        if self.max_catchup_ticks < 1:
            raise InvalidArgument(
                f"max catch-up ticks must be at least 1, got {self.max_catchup_ticks}",
                reason="invalid_max_catchup_ticks",
            )


# -- tick times --------------------------------------------------------------------------


def _epoch_s(wall: datetime, offset: timedelta) -> int:
    return (wall - offset - _EPOCH) // _SECOND


def _offset_at(zone: zoneinfo.ZoneInfo, epoch_s: int) -> timedelta:
    offset = datetime.fromtimestamp(epoch_s, zone).utcoffset()
    assert offset is not None  # a ZoneInfo always knows its offset
    return offset


def _first_instant_after_gap(zone: zoneinfo.ZoneInfo, before: int, after: int) -> int:
    """The transition instant in ``(before, after]``, where the zone's offset changes."""
    target = _offset_at(zone, after)
    while after - before > 1:
        middle = (before + after) // 2
        if _offset_at(zone, middle) == target:
            after = middle
        else:
            before = middle
    return after


def _occurrences(wall: datetime, zone: zoneinfo.ZoneInfo, every_hour: bool) -> tuple[int, ...]:
    """The UTC seconds at which one matching local wall time fires (ascending)."""
    first = wall.replace(tzinfo=zone, fold=0).utcoffset()
    second = wall.replace(tzinfo=zone, fold=1).utcoffset()
    assert first is not None and second is not None
    if first == second:
        return (_epoch_s(wall, first),)
    if first > second:  # the wall time happens twice: fold 0 is the earlier instant
        earlier, later = _epoch_s(wall, first), _epoch_s(wall, second)
        return (earlier, later) if every_hour else (earlier,)
    if every_hour:  # in the gap, and the hours around it keep their cadence
        return ()
    # In the gap: fold 1 reads it with the later offset (an instant before the gap), fold 0
    # with the earlier one (an instant after it); the transition lies between.
    return (_first_instant_after_gap(zone, _epoch_s(wall, second), _epoch_s(wall, first)),)


def _tick_seconds(spec: ScheduleSpec, after_s: int) -> Iterator[int]:
    """Every tick strictly after ``after_s`` (UTC seconds), ascending, each once."""
    zone = _zone(spec.timezone)
    cron = _parse_cron(spec.cron)
    # Wall times before the one of ``after_s`` can still fire after it when an autumn
    # overlap is near (their second occurrence), so the walk starts one overlap earlier.
    overlap = max(timedelta(0), _offset_at(zone, after_s) - _offset_at(zone, after_s + 86_400))
    start = datetime.fromtimestamp(after_s, zone).replace(tzinfo=None) - overlap - _SECOND
    walls = croniter(cron.expression, start)
    pending: list[int] = []  # second occurrences, which come after later wall times' first
    last = after_s
    while True:
        try:
            wall = walls.get_next(datetime)
        except CroniterBadDateError:  # no further match (a date that stops existing)
            break
        occurrences = _occurrences(wall, zone, cron.every_hour)
        if not occurrences:
            continue
        first = occurrences[0]
        for instant in occurrences[1:]:
            heapq.heappush(pending, instant)
        while pending and pending[0] <= first:
            instant = heapq.heappop(pending)
            if instant > last:
                last = instant
                yield instant
        if first > last:
            last = first
            yield first
    while pending:
        instant = heapq.heappop(pending)
        if instant > last:
            last = instant
            yield instant


@dataclass(frozen=True, slots=True)
class Tick:
    """One scheduled instant of one schedule."""

    schedule_id: str
    at_ms: int

    @property
    def tick_id(self) -> str:
        return tick_id(self.schedule_id, self.at_ms)

    @property
    def run_key(self) -> str:
        return run_key(self.schedule_id, self.at_ms)


def tick_id(schedule_id: str, at_ms: int) -> str:
    """``{schedule_id}:{epoch seconds}``: the same tick gets the same id in every process."""
    return f"{schedule_id}:{at_ms // 1000}"


def run_key(schedule_id: str, at_ms: int) -> str:
    """``sched:{schedule_id}:{epoch seconds}``: triggering it twice yields one run."""
    return f"sched:{schedule_id}:{at_ms // 1000}"


def ticks_between(spec: ScheduleSpec, after_ms: int, through_ms: int) -> list[Tick]:
    """The ticks in ``(after_ms, through_ms]``, oldest first."""
    ticks: list[Tick] = []
    for second in _tick_seconds(spec, after_ms // 1000):
        if second * 1000 > through_ms:
            break
        if second * 1000 > after_ms:
            ticks.append(Tick(spec.schedule_id, second * 1000))
    return ticks


def next_ticks(spec: ScheduleSpec, after_ms: int, count: int) -> list[Tick]:
    """The first ``count`` ticks strictly after ``after_ms``, oldest first."""
    ticks: list[Tick] = []
    if count < 1:
        return ticks
    for second in _tick_seconds(spec, after_ms // 1000):
        if second * 1000 > after_ms:
            ticks.append(Tick(spec.schedule_id, second * 1000))
            if len(ticks) == count:
                break
    return ticks


# -- evaluation --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ScheduleState:
    """What an evaluation needs besides the spec: every tick at or before
    ``evaluated_through_ms`` has been handled (run or skipped)."""

    enabled: bool
    evaluated_through_ms: int


def new_schedule_state(created_at_ms: int, *, enabled: bool = True) -> ScheduleState:
    """A new schedule owes nothing from before it existed."""
    return ScheduleState(enabled=enabled, evaluated_through_ms=created_at_ms)


def set_enabled(state: ScheduleState, enabled: bool, at_ms: int) -> ScheduleState:
    """Enable or disable at ``at_ms``. Re-enabling starts from ``at_ms``: the disabled period
    is never caught up. Setting the current value changes nothing."""
    if enabled == state.enabled:
        return state
    if enabled:
        return ScheduleState(True, max(state.evaluated_through_ms, at_ms))
    return ScheduleState(False, state.evaluated_through_ms)


@dataclass(frozen=True, slots=True)
class SkippedTick:
    tick: Tick
    reason: str


@dataclass(frozen=True, slots=True)
class ExpiredTicks:
    """Missed ticks older than the catch-up window: ``first`` and every later tick up to
    ``through_ms``. Not listed one by one, since an outage can be arbitrarily long."""

    first: Tick
    through_ms: int
    reason: str = SKIP_OUTSIDE_CATCHUP_WINDOW


@dataclass(frozen=True, slots=True)
class TickPlan:
    """One evaluation's result. ``due`` and ``skipped`` are oldest first and disjoint."""

    due: tuple[Tick, ...]
    skipped: tuple[SkippedTick, ...]
    expired: ExpiredTicks | None
    evaluated_through_ms: int

    def advance(self, state: ScheduleState) -> ScheduleState:
        return ScheduleState(state.enabled, self.evaluated_through_ms)


def plan_ticks(spec: ScheduleSpec, state: ScheduleState, now_ms: int) -> TickPlan:
    """The ticks after ``state.evaluated_through_ms`` and at or before ``now_ms``.

    Ticks no older than the catch-up window are considered: an enabled schedule runs the
    most recent ``max_catchup_ticks`` of them and skips the older ones; a disabled one skips
    them all as paused. Older ticks are reported as expired. Evaluating again from the
    returned ``evaluated_through_ms`` never returns a tick twice.
    """
    after = state.evaluated_through_ms
    if now_ms <= after:
        return TickPlan((), (), None, after)
    window_start = now_ms - spec.catchup_window_seconds * 1000
    expired = None
    if after < window_start:
        first = next_ticks(spec, after, 1)
        if first and first[0].at_ms <= window_start:
            expired = ExpiredTicks(first[0], window_start)
    candidates = ticks_between(spec, max(after, window_start), now_ms)
    if not state.enabled:
        due: Sequence[Tick] = ()
        skipped = [SkippedTick(t, SKIP_PAUSED) for t in candidates]
    else:
        cut = max(0, len(candidates) - spec.max_catchup_ticks)
        due = candidates[cut:]
        skipped = [SkippedTick(t, SKIP_MAX_CATCHUP_TICKS) for t in candidates[:cut]]
    if candidates:
        through = candidates[-1].at_ms
    elif expired is not None:
        through = window_start
    else:
        through = after
    return TickPlan(tuple(due), tuple(skipped), expired, through)
