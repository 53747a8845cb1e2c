"""Fixtures for the arco_core unit suites (storage backends live in tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.backends import Backend
from tests.support.reference import reference_path

__all__ = ["Backend"]


@pytest.fixture(scope="session")
def vectors_dir() -> Path:
    return reference_path("contracts/vectors")
