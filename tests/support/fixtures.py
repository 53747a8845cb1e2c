"""The fixtures this project owns (``tests/fixtures``, written by ``scripts/gen_fixtures.py``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.support.reference import reference_path

FIXTURES_DIR = Path(__file__).resolve().parents[1] / "fixtures"
WORKER_PROTOCOL_DIR = FIXTURES_DIR / "worker_protocol"
GOLDEN_SCHEMAS_DIR = FIXTURES_DIR / "golden_schemas"


def protocol_fixture(name: str) -> Any:
    """One worker-protocol example document, e.g. ``task_started_request.json``."""
    return json.loads((WORKER_PROTOCOL_DIR / name).read_text())


# Tests that check a document shape run on the owned examples, and on the reference's
# examples when ../shared is beside the checkout.
PROTOCOL_SOURCES = ("own", "reference")


def protocol_dir(source: str) -> Path:
    if source == "own":
        return WORKER_PROTOCOL_DIR
    return reference_path("contracts/fixtures/worker_protocol")
