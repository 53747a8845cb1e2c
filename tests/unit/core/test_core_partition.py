from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from arco_core.errors import InvalidArgument
from arco_core.partition import (
    PartitionKey,
    ScalarValue,
    format_partition_key,
    parse_partition_key,
)


def _cases(vectors_dir: Path) -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = json.loads(
        (vectors_dir / "partition_key_cases.json").read_text("utf-8")
    )
    assert len(cases) >= 19
    return cases


def test_every_vector_formats_and_parses(vectors_dir: Path) -> None:
    for case in _cases(vectors_dir):
        expected = case["expected_canonical"]
        if "expected_error" in case:  # the file has no error cases today; honour any added
            with pytest.raises(InvalidArgument):
                parse_partition_key(expected)
            continue
        key = PartitionKey(
            tuple(
                (name, ScalarValue.from_typed(dim["type"], dim["value"]))
                for name, dim in case["dimensions"].items()
            )
        )
        assert key.canonical() == expected, case["name"]
        parsed = parse_partition_key(expected)
        assert parsed == key, case["name"]
        assert parsed.canonical() == expected


def test_python_values() -> None:
    assert (
        format_partition_key(
            {"date": date(2025, 1, 15), "region": "us-east-1", "version": 42, "active": True}
        )
        == "active=b:true,date=d:2025-01-15,region=s:dXMtZWFzdC0x,version=i:42"
    )
    assert format_partition_key({"tenant": "acme", "date": "2025-01-15"}) == (
        "date=s:MjAyNS0wMS0xNQ,tenant=s:YWNtZQ"
    )
    assert format_partition_key({"hour": datetime(2025, 1, 15, 10, tzinfo=UTC)}) == (
        "hour=t:2025-01-15T10:00:00.000000Z"
    )
    plus2 = timezone(timedelta(hours=2))
    assert format_partition_key({"ts": datetime(2025, 1, 15, 1, 2, 3, 456000, tzinfo=plus2)}) == (
        "ts=t:2025-01-14T23:02:03.456000Z"
    )
    assert format_partition_key({}) == ""
    assert parse_partition_key("") == PartitionKey()


def test_fingerprint_and_partition_id() -> None:
    key = parse_partition_key("date=d:2025-01-15")
    assert key.fingerprint() == "ee0203050dd666794a352f3127980fd351c839794bee2ed12db12096bb9daa43"
    assert (
        key.partition_id("01930a0b-1234-7abc-9def-0123456789ab")
        == "part_d6abb069bae7cb7af28672bf7a40f2e5"
    )


@pytest.mark.parametrize(
    "text",
    [
        "date",
        "date=d:2025-01-15,date=d:2025-01-16",
        "Date=d:2025-01-01",
        "region=s:dXMtZWFzdA,date=d:2025-01-15",  # unsorted
        "x=q:1",
        "x=i:01",
        "x=i:-0",
        "x=i:1.5",
        "x=i:9223372036854775808",
        "x=b:True",
        "x=d:2025-13-01",
        "x=d:1969-12-31",
        "x=d:2025-1-01",
        "x=t:2025-01-15T10:30:00Z",
        "x=n:nil",
        "x=s:dGVzdA==",
        "x=s:a",
        "x=s:_w",  # 0xff is not UTF-8
        "x=s:dGVzdB",  # non-canonical trailing bits
        ",",
    ],
)
def test_invalid_keys(text: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        parse_partition_key(text)
    assert info.value.reason == "invalid_partition_key"


def test_invalid_python_values() -> None:
    for bad in ({"rate": 0.5}, {"Date": "x"}, {"big": 2**63}, {"b": b"x"}):
        with pytest.raises(InvalidArgument):
            format_partition_key(bad)


def test_untagged_values_are_plain_strings_when_allowed() -> None:
    key = parse_partition_key("date=2026-01-01", allow_untagged=True)
    assert key.to_python() == {"date": "2026-01-01"}
    with pytest.raises(InvalidArgument):
        parse_partition_key("date=2026-01-01")


_names = st.from_regex(r"[a-z][a-z0-9_]{0,6}", fullmatch=True)
_values = (
    st.text()
    | st.integers(-(2**63), 2**63 - 1)
    | st.booleans()
    | st.none()
    | st.dates(min_value=date(1970, 1, 1))
    | st.datetimes(timezones=st.just(UTC))
)


@given(st.dictionaries(_names, _values, max_size=5))
def test_roundtrip(values: dict[str, object]) -> None:
    text = format_partition_key(values)
    assert parse_partition_key(text).canonical() == text
    assert parse_partition_key(text) == PartitionKey.of(values)
