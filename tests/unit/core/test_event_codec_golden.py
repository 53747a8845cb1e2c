"""Event bytes and decode outcomes stay what the hand-written codecs produced."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.unit.core.event_golden import FIXTURE, cases

_EXPECTED: list[dict[str, Any]] = json.loads(FIXTURE.read_text())
_ACTUAL = cases()


def _label(case: dict[str, Any]) -> str:
    return f"{case['domain']}:{case.get('index', '-')}:{case['class']}"


def test_the_same_cases_are_generated() -> None:
    assert [_label(c) for c in _ACTUAL] == [_label(c) for c in _EXPECTED]


@pytest.mark.parametrize("index", range(len(_EXPECTED)), ids=[_label(c) for c in _EXPECTED])
def test_case_matches_the_fixture(index: int) -> None:
    expected, actual = _EXPECTED[index], _ACTUAL[index]
    assert actual.get("envelope") == expected.get("envelope")
    assert actual.get("roundtrip") == expected.get("roundtrip")
    assert set(actual["decodes"]) == set(expected["decodes"])
    for label, outcome in expected["decodes"].items():
        assert actual["decodes"][label] == outcome, label
