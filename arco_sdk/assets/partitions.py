"""Partition dimensions: daily and hourly time dimensions and static value sets; each
types user-supplied values and validates partition key values."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Literal

from arco_core.errors import InvalidArgument
from arco_core.partition import ScalarValue
from arco_sdk.assets.keys import NAME_PATTERN
from arco_sdk.errors import AssetDefinitionError

__all__ = ["DailyPartition", "HourlyPartition", "PartitionDimension", "StaticPartition"]


class PartitionDimension:
    """One partition dimension. Subclasses describe the allowed values."""

    name: str
    kind: str

    def _check_name(self) -> None:
        if not NAME_PATTERN.fullmatch(self.name):
            raise AssetDefinitionError(
                f"invalid partition dimension name {self.name!r}: must match [a-z][a-z0-9_]*"
            )

    def to_wire(self) -> dict[str, Any]:
        raise NotImplementedError

    def coerce(self, text: str) -> ScalarValue:
        """Type a user-supplied value (e.g. from ``arco run -p date=2026-01-01``)."""
        raise NotImplementedError

    def validate(self, value: ScalarValue) -> None:
        """Raise :class:`InvalidArgument` if ``value`` is not allowed here."""
        raise NotImplementedError


@dataclass(frozen=True)
class _TimeDimension(PartitionDimension):
    name: str
    granularity: Literal["day", "hour"]
    kind: str = field(default="time", init=False)

    def __post_init__(self) -> None:
        self._check_name()

    def to_wire(self) -> dict[str, Any]:
        return {"name": self.name, "kind": "time", "granularity": self.granularity}

    def coerce(self, text: str) -> ScalarValue:
        if self.granularity == "day":
            try:
                return ScalarValue("date", date.fromisoformat(text))
            except ValueError:
                raise InvalidArgument(
                    f"partition {self.name}: {text!r} is not a date (YYYY-MM-DD)"
                ) from None
        try:
            stamp = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise InvalidArgument(
                f"partition {self.name}: {text!r} is not a timestamp (YYYY-MM-DDTHH:00:00Z)"
            ) from None
        value = ScalarValue.from_value(stamp)
        self.validate(value)
        return value

    def validate(self, value: ScalarValue) -> None:
        if self.granularity == "day":
            if value.kind != "date":
                raise InvalidArgument(f"partition {self.name} must be a date (d:YYYY-MM-DD)")
            return
        if value.kind != "timestamp" or not isinstance(value.value, datetime):
            raise InvalidArgument(f"partition {self.name} must be a timestamp (t:...)")
        stamp = value.value.astimezone(UTC)
        if (stamp.minute, stamp.second, stamp.microsecond) != (0, 0, 0):
            raise InvalidArgument(f"partition {self.name} must be aligned to the hour")


def DailyPartition(name: str = "date") -> PartitionDimension:
    """A day-granular time dimension (values ``d:YYYY-MM-DD``)."""
    return _TimeDimension(name, "day")


def HourlyPartition(name: str = "hour") -> PartitionDimension:
    """An hour-granular time dimension (values ``t:YYYY-MM-DDTHH:00:00.000000Z``)."""
    return _TimeDimension(name, "hour")


@dataclass(frozen=True)
class StaticPartition(PartitionDimension):
    """A dimension over a fixed set of string values."""

    name: str
    values: tuple[str, ...]
    kind: str = field(default="static", init=False)

    def __init__(self, name: str, values: Sequence[str]) -> None:
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "values", tuple(values))
        self._check_name()
        if not self.values or len(set(self.values)) != len(self.values):
            raise AssetDefinitionError(
                f"static partition {name!r} needs distinct values, got {list(values)!r}"
            )

    def to_wire(self) -> dict[str, Any]:
        return {"name": self.name, "kind": "static", "values": list(self.values)}

    def coerce(self, text: str) -> ScalarValue:
        value = ScalarValue("string", text)
        self.validate(value)
        return value

    def validate(self, value: ScalarValue) -> None:
        if value.kind != "string" or value.value not in self.values:
            raise InvalidArgument(
                f"partition {self.name} must be one of {', '.join(self.values)}; "
                f"got {value.value!r}"
            )
