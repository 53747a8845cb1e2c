from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from arco_core.canonical_json import canonical_bytes, canonical_dumps, parse_json_object
from arco_core.errors import InvalidArgument


def _vectors(vectors_dir: Path) -> list[dict[str, Any]]:
    doc = json.loads((vectors_dir / "canonical_json_vectors.json").read_text("utf-8"))
    vectors: list[dict[str, Any]] = doc["vectors"]
    assert len(vectors) >= 12
    return vectors


def test_every_golden_vector(vectors_dir: Path) -> None:
    for vector in _vectors(vectors_dir):
        assert canonical_dumps(vector["input"]) == vector["expected_canonical"], vector["name"]
        assert canonical_bytes(vector["input"]) == vector["expected_canonical"].encode("utf-8")


def test_non_ascii_is_not_escaped() -> None:
    assert canonical_bytes({"k": "日本"}) == '{"k":"日本"}'.encode()


@pytest.mark.parametrize(
    "value", [{"x": 1.25}, [math.nan], [math.inf], [-math.inf], {"a": [{"b": 0.1}]}]
)
def test_non_integral_floats_rejected(value: object) -> None:
    with pytest.raises(InvalidArgument) as info:
        canonical_dumps(value)
    assert "float" in info.value.message
    assert info.value.reason == "non_canonical_json"


def test_integral_floats_become_integers() -> None:
    # protobuf Struct turns every number into a double; integral ones are kept as ints.
    assert canonical_dumps({"n": 3.0, "m": -0.0}) == '{"m":0,"n":3}'


@pytest.mark.parametrize("value", [{1: "a"}, {"a": b"x"}, {"a": object()}, 2**64, -(2**63) - 1])
def test_other_invalid_values(value: object) -> None:
    with pytest.raises(InvalidArgument):
        canonical_dumps(value)


def test_key_order_is_code_point_order() -> None:
    # U+FF5E sorts after U+1F389 in UTF-16 but before it in UTF-8 / code points.
    assert canonical_dumps({"\U0001f389": 1, "\uff5e": 2, "Z": 3, "a": 4}) == (
        '{"Z":3,"a":4,"\uff5e":2,"\U0001f389":1}'
    )


def test_tuples_serialise_as_arrays() -> None:
    assert canonical_dumps({"t": (1, 2)}) == '{"t":[1,2]}'


def test_parse_json_object() -> None:
    assert parse_json_object(b'{"a": 1}') == {"a": 1}
    for bad in (b"[1]", b"{", b'{"a":NaN}', b'{"a":1,"a":2}', b"\xff\xfe", b"null"):
        with pytest.raises(InvalidArgument):
            parse_json_object(bad)


_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=20,
)


@given(_json)
def test_roundtrip_is_a_fixed_point(value: object) -> None:
    text = canonical_dumps(value)
    assert canonical_dumps(json.loads(text)) == text
    assert json.loads(text) == value


def test_lone_surrogates_are_bad_input_not_a_crash() -> None:
    # Found by schemathesis: a manifest description with a lone surrogate gave a 500.
    from arco_core.canonical_json import canonical_bytes
    from arco_core.errors import InvalidArgument

    with pytest.raises(InvalidArgument, match="lone surrogate"):
        canonical_bytes({"description": "\uda43\udef2"})
