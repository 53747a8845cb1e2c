"""Fixtures for the arco_core unit suites."""

from __future__ import annotations

from pathlib import Path

import pytest

# tests/unit/core/conftest.py -> repo root is parents[3]; shared/ sits next to the repo.
REPO_ROOT = Path(__file__).resolve().parents[3]
SHARED_DIR = REPO_ROOT.parent / "shared"
VECTORS_DIR = SHARED_DIR / "contracts" / "vectors"


@pytest.fixture(scope="session")
def vectors_dir() -> Path:
    if not VECTORS_DIR.is_dir():
        pytest.fail(f"shared contract vectors not found at {VECTORS_DIR}")
    return VECTORS_DIR
