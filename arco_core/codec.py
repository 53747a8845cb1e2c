"""One declarative codec for ledger event payloads and the value records inside them.

A payload is a frozen dataclass whose fields are annotated with their wire rule, e.g.
``run_id: Annotated[str, Str(nonempty=True)]``; :class:`Codec` reads those annotations to
build the JSON ``data`` object of an envelope and to decode one, raising InvalidArgument
(never KeyError/TypeError) for bad input. Optional fields are omitted when null unless the
rule says ``keep_null``. Unknown wire keys are ignored, so newer writers stay readable.

The two domains word their decode errors differently (each wording is pinned by tests and
reaches API clients), so a :class:`Dialect` supplies the reason, the message templates and
whose name a nested record's error carries.

Stored-schema ownership: the orchestration payloads are mirrored field for field by
``proto/arco/orchestration/v1/events.proto`` (checked by ``tests/contract/test_event_schema.py``);
the catalog payloads have no proto, this module's declarations are their only schema.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, fields, is_dataclass
from types import MappingProxyType
from typing import (
    Annotated,
    Any,
    ClassVar,
    Self,
    TypeVar,
    cast,
    get_args,
    get_origin,
    get_type_hints,
)

from arco_core.clock import parse_rfc3339_ms, rfc3339_ms
from arco_core.errors import InvalidArgument

__all__ = [
    "Bool",
    "Choice",
    "Codec",
    "Custom",
    "Declared",
    "DeclaredField",
    "Dialect",
    "Int",
    "Json",
    "Nested",
    "NestedList",
    "Problem",
    "Rule",
    "Str",
    "StrList",
    "StrMap",
    "Timestamp",
]


class Problem(enum.Enum):
    """What is wrong with one wire value; a dialect turns it into its message."""

    NOT_STRING = "not_string"
    NOT_NONEMPTY_STRING = "not_nonempty_string"
    EMPTY = "empty"
    NOT_INT = "not_int"
    NOT_BOOL = "not_bool"
    NOT_OBJECT = "not_object"
    NOT_RECORD = "not_record"
    NOT_TIMESTAMP = "not_timestamp"
    MISSING = "missing"
    NOT_STR_LIST = "not_str_list"
    NOT_STR_MAP = "not_str_map"
    NOT_LIST = "not_list"
    UNKNOWN_CHOICE = "unknown_choice"


@dataclass(frozen=True, slots=True)
class Dialect:
    """A domain's error wording: ``{owner}`` and ``{message}`` go into ``envelope``; the
    templates see ``key``, ``minimum``, ``label`` and ``value``. ``owner_attr`` names the
    class attribute an error is attributed to; records without it borrow their parent's
    owner when ``nested_owner_is_parent``, else use their class name. A dialect needs a
    template for each problem its declarations can raise (a missing one is a KeyError)."""

    envelope: str
    reason: str
    templates: Mapping[Problem, str]
    owner_attr: str
    nested_owner_is_parent: bool

    def error(self, owner: str, message: str) -> InvalidArgument:
        return InvalidArgument(
            self.envelope.format(owner=owner, message=message), reason=self.reason
        )


@dataclass(frozen=True, slots=True)
class At:
    """The record being read (one per record, not per field: decoding is on the fold's
    hot path); errors name ``owner`` and the wire key."""

    codec: Codec
    owner: str

    def fail(self, key: str, problem: Problem, **detail: object) -> InvalidArgument:
        template = self.codec.dialect.templates[problem]
        return self.codec.dialect.error(self.owner, template.format(key=key, **detail))


_ABSENT: Any = object()  # a key missing from the wire object (distinct from an explicit null)
OMIT: Any = object()  # an encoded value that is left out of the wire object
_T = TypeVar("_T")


class Rule:
    """One field's wire rule. ``wire`` renames the key (camelCase worker objects)."""

    __slots__ = ()
    wire: str | None

    def decode(self, raw: Any, at: At, key: str) -> Any:
        raise NotImplementedError

    def encode(self, value: Any, codec: Codec) -> Any:
        return OMIT if value is None else value


@dataclass(frozen=True, slots=True)
class Str(Rule):
    """A string. ``optional``: null/absent decodes to None (or ``default``, which also
    replaces an empty string); ``alias``: read this key when the main one is null/empty."""

    nonempty: bool = False
    optional: bool = False
    default: str | None = None
    keep_null: bool = False
    alias: str | None = None
    wire: str | None = None

    def decode(self, raw: Any, at: At, key: str) -> Any:
        if self.keep_null and raw is _ABSENT:
            raise at.fail(key, Problem.MISSING)
        if raw is None or raw is _ABSENT:
            if not self.optional:
                raise at.fail(
                    key, Problem.NOT_NONEMPTY_STRING if self.nonempty else Problem.NOT_STRING
                )
            return self.default
        if not isinstance(raw, str):
            raise at.fail(key, Problem.NOT_NONEMPTY_STRING if self.nonempty else Problem.NOT_STRING)
        if self.nonempty and not raw:
            raise at.fail(key, Problem.EMPTY)
        if not raw and self.default is not None:
            return self.default
        return raw

    def encode(self, value: Any, codec: Codec) -> Any:
        return value if value is not None or self.keep_null else OMIT


@dataclass(frozen=True, slots=True)
class Int(Rule):
    """An integer (never a bool) ``>= minimum``; ``optional`` as for :class:`Str`, and a
    ``default`` also replaces zero."""

    minimum: int | None = None
    optional: bool = False
    default: int | None = None
    wire: str | None = None

    def decode(self, raw: Any, at: At, key: str) -> Any:
        if self.optional and (raw is None or raw is _ABSENT):
            return self.default
        if (
            not isinstance(raw, int)
            or isinstance(raw, bool)
            or (self.minimum is not None and raw < self.minimum)
        ):
            raise at.fail(key, Problem.NOT_INT, minimum=self.minimum)
        return raw if raw or self.default is None else self.default


@dataclass(frozen=True, slots=True)
class Bool(Rule):
    """A boolean; ``optional`` decodes null/absent to ``default``."""

    optional: bool = False
    default: bool | None = None
    wire: str | None = None

    def decode(self, raw: Any, at: At, key: str) -> Any:
        if self.optional and (raw is None or raw is _ABSENT):
            return self.default
        if not isinstance(raw, bool):
            raise at.fail(key, Problem.NOT_BOOL)
        return raw


@dataclass(frozen=True, slots=True)
class Timestamp(Rule):
    """Epoch milliseconds in memory, an RFC 3339 string on the wire."""

    optional: bool = True
    wire: str | None = None

    def decode(self, raw: Any, at: At, key: str) -> Any:
        if raw is None or raw is _ABSENT:
            if self.optional:
                return None
            raise at.fail(key, Problem.MISSING)
        if not isinstance(raw, str):
            raise at.fail(key, Problem.NOT_TIMESTAMP)
        return parse_rfc3339_ms(raw)

    def encode(self, value: Any, codec: Codec) -> Any:
        return OMIT if value is None else rfc3339_ms(value)


@dataclass(frozen=True, slots=True)
class StrList(Rule):
    """A list of strings, a tuple in memory; absent means empty, always written."""

    wire: str | None = None

    def decode(self, raw: Any, at: At, key: str) -> Any:
        value = [] if raw is _ABSENT else raw
        if not isinstance(value, list | tuple) or not all(isinstance(x, str) for x in value):
            raise at.fail(key, Problem.NOT_STR_LIST)
        return tuple(value)

    def encode(self, value: Any, codec: Codec) -> Any:
        return list(value)


@dataclass(frozen=True, slots=True)
class StrMap(Rule):
    """A string-to-string object; null/absent means empty, and empty is not written."""

    wire: str | None = None

    def decode(self, raw: Any, at: At, key: str) -> Any:
        value = raw if raw is not _ABSENT and raw else {}
        if not isinstance(value, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            raise at.fail(key, Problem.NOT_STR_MAP)
        return MappingProxyType(dict(value))

    def encode(self, value: Any, codec: Codec) -> Any:
        return dict(value) if value else OMIT


@dataclass(frozen=True, slots=True)
class Json(Rule):
    """An opaque optional JSON object kept as read (the worker's camelCase shapes)."""

    wire: str | None = None

    def decode(self, raw: Any, at: At, key: str) -> Any:
        if raw is None or raw is _ABSENT:
            return None
        if not isinstance(raw, Mapping):
            raise at.fail(key, Problem.NOT_OBJECT)
        return MappingProxyType(dict(raw))

    def encode(self, value: Any, codec: Codec) -> Any:
        return OMIT if value is None else dict(value)


@dataclass(frozen=True, slots=True)
class Choice(Rule):
    """A string enum, matched case-insensitively; ``label`` names it in errors."""

    enum_type: type[enum.StrEnum]
    label: str
    wire: str | None = None

    def decode(self, raw: Any, at: At, key: str) -> Any:
        if not isinstance(raw, str):
            raise at.fail(key, Problem.NOT_STRING)
        try:
            return self.enum_type(raw.lower())
        except ValueError:
            raise at.fail(key, Problem.UNKNOWN_CHOICE, label=self.label, value=raw) from None

    def encode(self, value: Any, codec: Codec) -> Any:
        return value.value


@dataclass(frozen=True, slots=True)
class Nested(Rule):
    """A declared record; ``optional`` means null/absent decodes to None (and None is
    not written)."""

    record: type[Any]
    optional: bool = False
    wire: str | None = None

    def decode(self, raw: Any, at: At, key: str) -> Any:
        if self.optional and (raw is None or raw is _ABSENT):
            return None
        return at.codec.decode_record(self.record, None if raw is _ABSENT else raw, at, key)

    def encode(self, value: Any, codec: Codec) -> Any:
        return OMIT if value is None else codec.encode(value)


@dataclass(frozen=True, slots=True)
class NestedList(Rule):
    """A list of declared records, a tuple in memory; always written."""

    record: type[Any]
    wire: str | None = None

    def decode(self, raw: Any, at: At, key: str) -> Any:
        if not isinstance(raw, list):
            raise at.fail(key, Problem.NOT_LIST)
        return tuple(at.codec.decode_record(self.record, item, at, key) for item in raw)

    def encode(self, value: Any, codec: Codec) -> Any:
        return [codec.encode(item) for item in value]


@dataclass(frozen=True, slots=True)
class Custom(Rule):
    """A value with its own wire form (e.g. a tagged union); ``decode`` gets the raw value
    (None when absent) and raises its own errors."""

    read: Callable[[Any], Any]
    write: Callable[[Any], Any]
    wire: str | None = None

    def decode(self, raw: Any, at: At, key: str) -> Any:
        return self.read(None if raw is _ABSENT else raw)

    def encode(self, value: Any, codec: Codec) -> Any:
        return self.write(value)


@dataclass(frozen=True, slots=True)
class DeclaredField:
    """One declared field: its attribute, wire key and rule."""

    attr: str
    key: str
    rule: Rule
    alias: str | None


def _slots(record: type[Any]) -> tuple[DeclaredField, ...]:
    return _declared_slots(cast(Hashable, record))


@functools.cache
def _declared_slots(record: Any) -> tuple[DeclaredField, ...]:
    """The declared fields of ``record`` in declaration order (computed once per class)."""
    if not isinstance(record, type) or not is_dataclass(record):
        raise TypeError(f"{record!r} is not a dataclass")
    hints = get_type_hints(record, include_extras=True)
    out: list[DeclaredField] = []
    for f in fields(record):
        hint = hints[f.name]
        rules = (
            [a for a in get_args(hint) if isinstance(a, Rule)]
            if get_origin(hint) is Annotated
            else []
        )
        if len(rules) != 1:
            raise TypeError(f"{record.__name__}.{f.name} needs exactly one wire rule")
        rule = rules[0]
        out.append(DeclaredField(f.name, rule.wire or f.name, rule, getattr(rule, "alias", None)))
    return tuple(out)


@dataclass(frozen=True, slots=True)
class Codec:
    """Encodes and decodes declared records in one domain's dialect."""

    dialect: Dialect

    def declared(self, record: type[Any]) -> tuple[DeclaredField, ...]:
        """The fields ``record`` declares, in declaration order (for schema checks)."""
        return _slots(record)

    def encode(self, value: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for slot in _slots(type(value)):
            encoded = slot.rule.encode(getattr(value, slot.attr), self)
            if encoded is not OMIT:
                out[slot.key] = encoded
        return out

    def decode(self, record: type[_T], data: Mapping[str, Any]) -> _T:
        return self.decode_record(record, data, None, "")

    def decode_record(self, record: type[_T], raw: Any, parent: At | None, key: str) -> _T:
        """Decode ``raw`` as ``record``; ``parent`` and ``key`` say where it sits."""
        owner = getattr(record, self.dialect.owner_attr, None)
        if owner is None:
            inherit = parent is not None and self.dialect.nested_owner_is_parent
            owner = parent.owner if inherit and parent is not None else record.__name__
        at = At(self, owner)
        if not isinstance(raw, Mapping):
            raise at.fail(key, Problem.NOT_RECORD)
        get = raw.get
        values: dict[str, Any] = {}
        for slot in _slots(record):
            value = get(slot.key, _ABSENT)
            if slot.alias is not None and (value is _ABSENT or value is None or value == ""):
                value = get(slot.alias, _ABSENT)
            values[slot.attr] = slot.rule.decode(value, at, slot.key)
        return record(**values)

    def read(self, data: Mapping[str, Any], key: str, rule: Rule, owner: str) -> Any:
        """Decode one value by ``rule``, for the few hand-written wire forms."""
        return rule.decode(data.get(key, _ABSENT), At(self, owner), key)

    def error(self, owner: str, message: str) -> InvalidArgument:
        return self.dialect.error(owner, message)


class Declared:
    """Mixin for a payload: ``TYPE`` (the wire tag) and the domain's ``CODEC``."""

    __slots__ = ()
    TYPE: ClassVar[str]
    CODEC: ClassVar[Codec]

    def to_data(self) -> dict[str, Any]:
        """The envelope's ``data`` object, ``type`` tag included."""
        return {"type": self.TYPE, **self.CODEC.encode(self)}

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Self:
        return cls.CODEC.decode(cls, data)
