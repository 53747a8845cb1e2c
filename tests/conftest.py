"""Suite-wide fixtures: repository and shared-contract locations, configured logging."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from services.common.logging import configure_logging

REPO_ROOT = Path(__file__).resolve().parent.parent
# shared/ (contracts, fixtures, vectors) sits beside the checkout; tests read it in place.
SHARED_DIR = REPO_ROOT.parent / "shared"
VENV_BIN = Path(sys.executable).parent

configure_logging("WARNING", "json")


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED_DIR.is_dir():
        pytest.fail(f"shared contracts not found at {SHARED_DIR}")
    return SHARED_DIR
