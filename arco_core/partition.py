"""Canonical partition-key strings.

Grammar::

    key   := "" | dim ("," dim)*        (dims sorted by name; "" means unpartitioned)
    dim   := name "=" tag ":" value     name := [a-z][a-z0-9_]*
    s:<base64url-nopad(utf-8)>  i:<decimal int64>  b:true|false  d:YYYY-MM-DD
    t:YYYY-MM-DDTHH:MM:SS.ffffffZ  n:null

Strings are base64url-encoded so that no value can inject ``,``, ``=``, ``/`` or other
path-hostile characters into keys or object paths. Parsing is strict: a string is accepted
only if formatting its parsed value reproduces it byte for byte.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Literal, TypeAlias

from arco_core.errors import InvalidArgument

__all__ = [
    "PartitionKey",
    "ScalarKind",
    "ScalarValue",
    "format_partition_key",
    "parse_partition_key",
]

ScalarKind: TypeAlias = Literal["string", "int64", "bool", "date", "timestamp", "null"]
PythonScalar: TypeAlias = str | int | bool | date | datetime | None

_TAGS: dict[str, ScalarKind] = {
    "s": "string",
    "i": "int64",
    "b": "bool",
    "d": "date",
    "t": "timestamp",
    "n": "null",
}
_TAG_OF: dict[ScalarKind, str] = {kind: tag for tag, kind in _TAGS.items()}
_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_INT_RE = re.compile(r"^-?(0|[1-9][0-9]*)$")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$", re.ASCII)
_TS_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$", re.ASCII)
_B64URL_RE = re.compile(r"^[A-Za-z0-9_-]*$")
_I64_MIN, _I64_MAX = -(2**63), 2**63 - 1


def _invalid(message: str) -> InvalidArgument:
    return InvalidArgument(message, reason="invalid_partition_key")


@dataclass(frozen=True, slots=True)
class ScalarValue:
    """One typed partition dimension value. ``value`` is the Python value for ``kind``."""

    kind: ScalarKind
    value: PythonScalar

    @classmethod
    def from_value(cls, value: object) -> ScalarValue:
        """Type a Python value. bool before int (bool is an int); floats are refused."""
        if value is None:
            return cls("null", None)
        if isinstance(value, bool):
            return cls("bool", value)
        if isinstance(value, int):
            if not _I64_MIN <= value <= _I64_MAX:
                raise _invalid(f"partition int {value} is outside int64")
            return cls("int64", value)
        if isinstance(value, float):
            raise _invalid("float partition values are not allowed")
        if isinstance(value, datetime):
            aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
            return cls("timestamp", aware.astimezone(UTC))
        if isinstance(value, date):
            return cls("date", value)
        if isinstance(value, str):
            return cls("string", value)
        raise _invalid(f"unsupported partition value type {type(value).__name__}")

    @classmethod
    def from_typed(cls, kind: str, text: str) -> ScalarValue:
        """Build from a (kind, textual value) pair, e.g. ``("date", "2025-01-15")``."""
        if kind not in _TAG_OF:
            raise _invalid(f"unknown partition value kind {kind!r}")
        if kind == "string":
            return cls("string", text)
        return cls.decode(f"{_TAG_OF[kind]}:{text}")

    def encode(self) -> str:
        """The tagged form, e.g. ``d:2025-01-15``."""
        value = self.value
        if self.kind == "string" and isinstance(value, str):
            b64 = base64.urlsafe_b64encode(value.encode("utf-8")).decode("ascii")
            return "s:" + b64.rstrip("=")
        if self.kind == "bool" and isinstance(value, bool):
            return "b:true" if value else "b:false"
        if self.kind == "int64" and isinstance(value, int) and not isinstance(value, bool):
            return f"i:{value}"
        if self.kind == "timestamp" and isinstance(value, datetime):
            u = value.astimezone(UTC)
            # Formatted by hand: strftime("%Y") does not zero-pad years below 1000.
            return (
                f"t:{u.year:04d}-{u.month:02d}-{u.day:02d}T"
                f"{u.hour:02d}:{u.minute:02d}:{u.second:02d}.{u.microsecond:06d}Z"
            )
        if self.kind == "date" and isinstance(value, date) and not isinstance(value, datetime):
            return f"d:{value.year:04d}-{value.month:02d}-{value.day:02d}"
        if self.kind == "null" and value is None:
            return "n:null"
        raise _invalid(f"value {value!r} does not match partition kind {self.kind}")

    @classmethod
    def decode(cls, tagged: str) -> ScalarValue:
        """Parse the tagged form; strict (the result re-encodes to the same text)."""
        tag, sep, text = tagged.partition(":")
        if not sep or tag not in _TAGS:
            raise _invalid(f"unknown or missing partition value tag in {tagged!r}")
        kind = _TAGS[tag]
        result: ScalarValue
        if kind == "string":
            if not _B64URL_RE.fullmatch(text) or len(text) % 4 == 1:
                raise _invalid("partition string is not base64url without padding")
            try:
                raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
                result = cls("string", raw.decode("utf-8"))
            except (binascii.Error, ValueError) as exc:
                raise _invalid("partition string is not valid base64url UTF-8") from exc
        elif kind == "int64":
            if not _INT_RE.fullmatch(text) or text == "-0":
                raise _invalid(f"invalid partition int {text!r}")
            number = int(text)
            if not _I64_MIN <= number <= _I64_MAX:
                raise _invalid(f"partition int {text} is outside int64")
            result = cls("int64", number)
        elif kind == "bool":
            if text not in ("true", "false"):
                raise _invalid(f"invalid partition bool {text!r}")
            result = cls("bool", text == "true")
        elif kind == "date":
            if not _DATE_RE.fullmatch(text):
                raise _invalid(f"invalid partition date {text!r}")
            try:
                parsed = date.fromisoformat(text)
            except ValueError as exc:
                raise _invalid(f"invalid partition date {text!r}") from exc
            if parsed.year < 1970:
                raise _invalid(f"partition date {text!r} is before 1970")
            result = cls("date", parsed)
        elif kind == "timestamp":
            if not _TS_RE.fullmatch(text):
                raise _invalid(f"invalid partition timestamp {text!r}")
            try:
                stamp = datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
            except ValueError as exc:
                raise _invalid(f"invalid partition timestamp {text!r}") from exc
            result = cls("timestamp", stamp)
        else:
            if text != "null":
                raise _invalid(f"invalid partition null {text!r}")
            result = cls("null", None)
        if result.encode() != tagged:
            raise _invalid(f"partition value {tagged!r} is not canonical")
        return result


@dataclass(frozen=True, slots=True)
class PartitionKey:
    """An immutable, sorted set of named dimensions. Empty means unpartitioned."""

    dimensions: tuple[tuple[str, ScalarValue], ...] = ()

    def __post_init__(self) -> None:
        names = [name for name, _ in self.dimensions]
        for name in names:
            if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
                raise _invalid(f"Invalid partition dimension key {name!r}")
        if len(set(names)) != len(names):
            raise _invalid("Duplicate partition dimension key")
        ordered = tuple(sorted(self.dimensions, key=lambda item: item[0].encode("utf-8")))
        object.__setattr__(self, "dimensions", ordered)

    @classmethod
    def of(cls, values: Mapping[str, object]) -> PartitionKey:
        """From Python values; ScalarValue instances are taken as they are."""
        return cls(
            tuple(
                (name, v if isinstance(v, ScalarValue) else ScalarValue.from_value(v))
                for name, v in values.items()
            )
        )

    @classmethod
    def parse(cls, text: str) -> PartitionKey:
        return parse_partition_key(text)

    def canonical(self) -> str:
        return ",".join(f"{name}={value.encode()}" for name, value in self.dimensions)

    def __str__(self) -> str:
        return self.canonical()

    def __iter__(self) -> Iterator[tuple[str, ScalarValue]]:
        return iter(self.dimensions)

    def __len__(self) -> int:
        return len(self.dimensions)

    def get(self, name: str) -> ScalarValue | None:
        for key, value in self.dimensions:
            if key == name:
                return value
        return None

    def to_python(self) -> dict[str, PythonScalar]:
        return {name: value.value for name, value in self.dimensions}

    def fingerprint(self) -> str:
        """sha256 hex of the canonical string."""
        return hashlib.sha256(self.canonical().encode("utf-8")).hexdigest()

    def partition_id(self, asset_id: str) -> str:
        digest = hashlib.sha256(f"{asset_id}:{self.canonical()}".encode()).hexdigest()
        return "part_" + digest[:32]


def format_partition_key(values: Mapping[str, object]) -> str:
    """Canonical string for a mapping of Python (or ScalarValue) values."""
    return PartitionKey.of(values).canonical()


def parse_partition_key(text: str, *, allow_untagged: bool = False) -> PartitionKey:
    """Parse a canonical partition-key string.

    With ``allow_untagged`` a value without a known ``tag:`` prefix is taken as a plain
    string (``date=2026-01-01``), which workers accept from hand-written keys; the result
    is then no longer byte-identical to the input.
    """
    if text == "":
        return PartitionKey()
    dims: list[tuple[str, ScalarValue]] = []
    seen: set[str] = set()
    for segment in text.split(","):
        name, eq, raw = segment.partition("=")
        if not eq:
            raise _invalid(f"Invalid partition key segment {segment!r}")
        if not _NAME_RE.fullmatch(name):
            raise _invalid(f"Invalid partition dimension key {name!r}")
        if name in seen:
            raise _invalid(f"Duplicate partition dimension key {name!r}")
        seen.add(name)
        tag = raw.partition(":")[0]
        if allow_untagged and (":" not in raw or tag not in _TAGS):
            dims.append((name, ScalarValue("string", raw)))
        else:
            dims.append((name, ScalarValue.decode(raw)))
    key = PartitionKey(tuple(dims))
    if not allow_untagged and key.canonical() != text:
        raise _invalid(f"partition key {text!r} is not canonical (dimensions must be sorted)")
    return key
