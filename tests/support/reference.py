"""The reference data beside the checkout (``../shared``), used only where it is present.

Tests that compare the project with the reference read it through these helpers, which
skip with a plain reason on a clone that has no ``../shared`` beside it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

REFERENCE_DIR = Path(__file__).resolve().parents[2].parent / "shared"


def reference_present(relative: str = "contracts") -> bool:
    return (REFERENCE_DIR / relative).exists()


def reference_path(relative: str) -> Path:
    """``../shared/<relative>``, or skip the test when the reference data is not there."""
    path = REFERENCE_DIR / relative
    if not path.exists():
        pytest.skip(f"reference contracts not present: ../shared/{relative}")
    return path
