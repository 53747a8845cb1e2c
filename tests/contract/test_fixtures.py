"""The owned fixtures are what the code generates, and mirror the reference's where present."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.support.fixtures import GOLDEN_SCHEMAS_DIR, WORKER_PROTOCOL_DIR
from tests.support.reference import reference_path

ROOT = Path(__file__).resolve().parents[2]


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_fixtures", ROOT / "scripts/gen_fixtures.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_owned_fixtures_are_what_the_code_generates() -> None:
    generator = _generator()
    expected = generator.fixtures()
    assert generator.stale(expected) == [], "run: python scripts/gen_fixtures.py"
    assert {p.parent for p in expected} >= {
        WORKER_PROTOCOL_DIR,
        GOLDEN_SCHEMAS_DIR / "catalog",
        GOLDEN_SCHEMAS_DIR / "orchestration",
    }


def test_a_drifted_fixture_is_reported(tmp_path: Path) -> None:
    generator = _generator()
    expected = generator.fixtures()
    path = next(iter(expected))
    changed = {**expected, path: expected[path] + " "}
    assert generator.stale(changed) == [str(path.relative_to(ROOT))]


def _shape(value: Any) -> Any:
    """Keys and JSON types, not values."""
    if isinstance(value, dict):
        return {key: _shape(item) for key, item in value.items()}
    return type(value).__name__


@pytest.mark.parametrize(
    "name", sorted(p.name for p in WORKER_PROTOCOL_DIR.glob("*.json")), ids=str
)
def test_owned_protocol_examples_have_the_reference_shape(name: str) -> None:
    reference = reference_path("contracts/fixtures/worker_protocol") / name
    assert reference.exists(), f"the reference has no {name}"
    ours = json.loads((WORKER_PROTOCOL_DIR / name).read_text())
    theirs = json.loads(reference.read_text())
    assert _shape(ours) == _shape(theirs)
