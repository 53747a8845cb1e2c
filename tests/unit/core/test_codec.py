"""The declarative codec's rules (the event fixture pins the events themselves)."""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Annotated, ClassVar

import pytest

from arco_core.codec import Codec, Declared, Dialect, Int, Nested, Problem, Str
from arco_core.errors import InvalidArgument

_CODEC = Codec(
    Dialect(
        envelope="{owner}/{message}",
        reason="bad_thing",
        templates=MappingProxyType(
            {
                Problem.NOT_STRING: "{key} not a string",
                Problem.NOT_NONEMPTY_STRING: "{key} not a string",
                Problem.EMPTY: "{key} empty",
                Problem.NOT_INT: "{key} below {minimum}",
                Problem.NOT_RECORD: "{key} not an object",
                Problem.MISSING: "{key} missing",
            }
        ),
        owner_attr="TYPE",
        nested_owner_is_parent=True,
    )
)


@dataclass(frozen=True, slots=True)
class _Inner:
    name: Annotated[str, Str(nonempty=True, wire="innerName", alias="inner_name")]


@dataclass(frozen=True, slots=True)
class _Thing(Declared):
    TYPE: ClassVar[str] = "thing"
    CODEC: ClassVar[Codec] = _CODEC

    count: Annotated[int, Int(minimum=1, optional=True, default=7)] = 7
    note: Annotated[str | None, Str(optional=True, keep_null=True)] = None
    queue: Annotated[str, Str(optional=True, default="q")] = "q"
    inner: Annotated[_Inner | None, Nested(_Inner, optional=True)] = None


@dataclass(frozen=True, slots=True)
class _Undeclared(Declared):
    TYPE: ClassVar[str] = "undeclared"
    CODEC: ClassVar[Codec] = _CODEC

    name: str


def test_encoding_writes_wire_names_keeps_declared_nulls_and_drops_other_nulls() -> None:
    assert _Thing(inner=_Inner("a")).to_data() == {
        "type": "thing",
        "count": 7,
        "note": None,
        "queue": "q",
        "inner": {"innerName": "a"},
    }


def test_decoding_fills_defaults_reads_aliases_and_ignores_unknown_keys() -> None:
    thing = _Thing.from_data({"note": None, "queue": "", "inner": {"inner_name": "b"}, "x": 1})
    assert thing == _Thing(count=7, note=None, queue="q", inner=_Inner("b"))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "thing/note missing"),
        ({"note": None, "count": 0}, "thing/count below 1"),
        ({"note": None, "inner": []}, "thing/inner not an object"),
        ({"note": None, "inner": {"innerName": "", "inner_name": ""}}, "thing/innerName empty"),
    ],
)
def test_decode_errors_use_the_dialect(data: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidArgument, match=message) as caught:
        _Thing.from_data(data)
    assert caught.value.reason == "bad_thing"


def test_a_field_without_a_rule_is_a_declaration_error() -> None:
    with pytest.raises(TypeError, match="needs exactly one wire rule"):
        _Undeclared("a").to_data()
