from __future__ import annotations

import pytest
from catalog_support import Harness


@pytest.fixture
def harness() -> Harness:
    return Harness()
