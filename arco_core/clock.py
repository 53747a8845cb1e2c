"""Time source abstraction and the RFC 3339 millisecond format used on the wire."""

from __future__ import annotations

import re
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable

from arco_core.errors import InvalidArgument

__all__ = [
    "Clock",
    "FakeClock",
    "SystemClock",
    "WarpedClock",
    "datetime_to_ms",
    "ms_to_datetime",
    "parse_rfc3339_ms",
    "rfc3339_ms",
]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# Full date-time with a mandatory zone designator; fraction optional.
_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$", re.ASCII
)


@runtime_checkable
class Clock(Protocol):
    """Injected wherever code needs "now", so tests can control time."""

    def now_ms(self) -> int:
        """Milliseconds since the Unix epoch."""
        ...

    def now(self) -> datetime:
        """Timezone-aware UTC datetime."""
        ...


def ms_to_datetime(epoch_ms: int) -> datetime:
    return _EPOCH + timedelta(milliseconds=epoch_ms)


def datetime_to_ms(value: datetime) -> int:
    if value.tzinfo is None:
        # Naive datetimes are treated as UTC: the domain never uses local time.
        value = value.replace(tzinfo=UTC)
    delta = value - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


class SystemClock:
    """Wall clock."""

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000

    def now(self) -> datetime:
        return ms_to_datetime(self.now_ms())


class FakeClock:
    """A manually driven clock for tests. Thread-safe."""

    def __init__(self, start_ms: int = 1_767_225_600_000) -> None:  # 2026-01-01T00:00:00Z
        self._lock = threading.Lock()
        self._ms = start_ms

    def now_ms(self) -> int:
        with self._lock:
            return self._ms

    def now(self) -> datetime:
        return ms_to_datetime(self.now_ms())

    def set_ms(self, epoch_ms: int) -> None:
        with self._lock:
            self._ms = epoch_ms

    def advance(self, delta: int | timedelta) -> int:
        """Move forward by ``delta`` (milliseconds or a timedelta); return the new time."""
        step = datetime_to_ms(_EPOCH + delta) if isinstance(delta, timedelta) else delta
        with self._lock:
            self._ms += step
            return self._ms


class WarpedClock:
    """Starts at ``start_ms`` and runs ``rate`` times as fast as real time (tests of
    processes: a time-driven service sees any instant, and hours pass in seconds)."""

    def __init__(self, start_ms: int, rate: float = 1.0) -> None:
        if rate <= 0:
            raise InvalidArgument(f"clock rate must be positive, got {rate}")
        self._start_ms = start_ms
        self._origin_ns = time.monotonic_ns()
        self.rate = rate

    def now_ms(self) -> int:
        elapsed_ms = (time.monotonic_ns() - self._origin_ns) / 1_000_000
        return self._start_ms + int(elapsed_ms * self.rate)

    def now(self) -> datetime:
        return ms_to_datetime(self.now_ms())


def rfc3339_ms(epoch_ms: int) -> str:
    """Format as ``YYYY-MM-DDTHH:MM:SS.mmmZ`` (UTC, exactly three fraction digits)."""
    d = ms_to_datetime(epoch_ms)
    # Formatted by hand: strftime("%Y") does not zero-pad years below 1000.
    return (
        f"{d.year:04d}-{d.month:02d}-{d.day:02d}T{d.hour:02d}:{d.minute:02d}:{d.second:02d}"
        f".{d.microsecond // 1000:03d}Z"
    )


def parse_rfc3339_ms(value: str) -> int:
    """Parse an RFC 3339 timestamp with a zone designator into epoch milliseconds.

    Fractions finer than a millisecond are truncated toward the past.
    """
    if not isinstance(value, str) or not _RFC3339.fullmatch(value):
        raise InvalidArgument(f"invalid RFC 3339 timestamp: {value!r}", reason="invalid_timestamp")
    text = value.upper()
    frac_ns = 0
    match = re.search(r"\.([0-9]+)", text)
    if match:
        digits = match.group(1)
        frac_ns = int(digits.ljust(9, "0"))
        text = text[: match.start()] + text[match.end() :]
    try:
        base = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise InvalidArgument(
            f"invalid RFC 3339 timestamp: {value!r}", reason="invalid_timestamp"
        ) from exc
    return datetime_to_ms(base) + frac_ns // 1_000_000
