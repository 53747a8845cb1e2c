"""Fixtures for the arco_core unit suites (storage backends live in tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import SHARED_DIR
from tests.support.backends import Backend

__all__ = ["Backend"]

VECTORS_DIR = SHARED_DIR / "contracts" / "vectors"


@pytest.fixture(scope="session")
def vectors_dir() -> Path:
    if not VECTORS_DIR.is_dir():
        pytest.fail(f"shared contract vectors not found at {VECTORS_DIR}")
    return VECTORS_DIR
