"""Proto -> public JSON, with the rules the public contract needs (not ProtoJSON's).

* field names: snake_case (catalog, query, browser) or camelCase (orchestration,
  manifests, callbacks), chosen per family;
* 64-bit integers are JSON numbers, not strings;
* enums drop their type prefix (``RUN_STATUS_RUNNING`` -> ``"RUNNING"``); the zero
  ``*_UNSPECIFIED`` value means "not set" and is omitted;
* fields with explicit presence (``optional`` scalars, messages) are omitted when unset,
  never rendered as ``null``; repeated fields and maps are always present (maybe empty);
  plain scalars are always present (``false``/``0``/``""`` included);
* ``Timestamp`` is RFC 3339 (UTC, ``Z``); ``Struct``/``Value`` render as JSON with
  integral numbers as integers (protobuf stores them as doubles).

``openapi.py`` derives its schemas from the same rules (``field_name``, ``enum_values``).
"""

from __future__ import annotations

import base64
import dataclasses
import enum
import functools
import re
from collections.abc import Iterable, Mapping
from typing import Any

from google.protobuf import json_format, struct_pb2, timestamp_pb2
from google.protobuf.descriptor import EnumDescriptor, FieldDescriptor
from google.protobuf.message import Message

JSON_VALUE_TYPES = frozenset(
    {
        struct_pb2.Struct.DESCRIPTOR.full_name,
        struct_pb2.Value.DESCRIPTOR.full_name,
        struct_pb2.ListValue.DESCRIPTOR.full_name,
    }
)
TIMESTAMP = timestamp_pb2.Timestamp.DESCRIPTOR.full_name


class Casing(enum.Enum):
    SNAKE = "snake_case"
    CAMEL = "camelCase"


def field_name(field: Any, casing: Casing) -> str:
    return str(field.name if casing is Casing.SNAKE else field.json_name)


@functools.cache
def enum_prefix(enum_type: EnumDescriptor) -> str:
    """``RunStatus`` -> ``RUN_STATUS_``."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", enum_type.name).upper() + "_"


@functools.cache
def _enum_names(enum_type: EnumDescriptor) -> dict[int, str]:
    prefix = enum_prefix(enum_type)
    return {
        value.number: value.name.removeprefix(prefix)
        for value in enum_type.values
        if value.number != 0
    }


def enum_public_name(enum_type: EnumDescriptor, number: int) -> str | None:
    if number == 0:
        return None
    return _enum_names(enum_type).get(number)


def enum_values(enum_type: EnumDescriptor) -> list[str]:
    return [
        name
        for value in enum_type.values
        if (name := enum_public_name(enum_type, value.number)) is not None
    ]


def integral(value: Any) -> Any:
    """JSON from Struct/Value: 3.0 -> 3 (protobuf keeps every number as a double)."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    if isinstance(value, dict):
        return {key: integral(item) for key, item in value.items()}
    if isinstance(value, list):
        return [integral(item) for item in value]
    return value


def _scalar(field: Any, value: Any, casing: Casing) -> Any:
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        return render(value, casing)
    if field.type == FieldDescriptor.TYPE_ENUM:
        return enum_public_name(field.enum_type, value)
    if field.type == FieldDescriptor.TYPE_BYTES:
        return base64.b64encode(value).decode("ascii")
    return value


def render(message: Message, casing: Casing, drop: Iterable[str] = ()) -> Any:
    """The public JSON of ``message`` (a dict, or a string/JSON value for well-known types)."""
    descriptor = message.DESCRIPTOR
    if descriptor.full_name == TIMESTAMP:
        return message.ToJsonString()  # type: ignore[attr-defined]
    if descriptor.full_name in JSON_VALUE_TYPES:
        return integral(json_format.MessageToDict(message))
    dropped = frozenset(drop)
    out: dict[str, Any] = {}
    for field, name, map_value in _plan(descriptor, casing):
        if field.name in dropped:
            continue
        value = getattr(message, field.name)
        if field.is_repeated:
            if map_value is not None:
                out[name] = {
                    str(key): _scalar(map_value, item, casing) for key, item in value.items()
                }
            else:
                out[name] = [_scalar(field, item, casing) for item in value]
            continue
        if field.has_presence and not message.HasField(field.name):
            continue
        rendered = _scalar(field, value, casing)
        if rendered is not None:
            out[name] = rendered
    return out


@functools.cache
def _plan(descriptor: Any, casing: Casing) -> tuple[tuple[Any, str, Any], ...]:
    """Per message type and casing, once: (field, public name, map value field or None).
    Descriptor option look-ups are slow; the reply hot path must not repeat them."""
    plan = []
    for field in descriptor.fields:
        entry = field.message_type
        is_map = field.is_repeated and entry is not None and entry.GetOptions().map_entry
        plan.append(
            (field, field_name(field, casing), entry.fields_by_name["value"] if is_map else None)
        )
    return tuple(plan)


@dataclasses.dataclass(frozen=True)
class View:
    """How one response message is shown: casing, an optional wrapper field to unwrap,
    and fields that are not part of the public shape."""

    casing: Casing
    unwrap: str = ""
    drop: frozenset[str] = frozenset()

    def message_descriptor(self, response: Any) -> Any:
        if not self.unwrap:
            return response
        inner = response.fields_by_name[self.unwrap].message_type
        assert inner is not None, f"{response.full_name}.{self.unwrap} is not a message"
        return inner

    def render(self, response: Message) -> Any:
        target = getattr(response, self.unwrap) if self.unwrap else response
        return render(target, self.casing, self.drop)


def pick(mapping: Mapping[str, Any], *keys: str) -> dict[str, Any]:
    return {key: mapping[key] for key in keys if key in mapping}
