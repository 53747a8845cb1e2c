"""Suite-wide fixtures: repository and shared-contract locations, configured logging."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from arco_runtime.logging import configure_logging

REPO_ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent

configure_logging("WARNING", "json")

# Imported after REPO_ROOT exists: the support modules import it from here.
from tests.support.backends import Backend, make_backend  # noqa: E402
from tests.support.reference import reference_path  # noqa: E402
from tests.support.seaweed import SeaweedServer, start_seaweed  # noqa: E402


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The reference data beside the checkout; tests using it skip when it is absent."""
    return reference_path("contracts").parent


@pytest.fixture(scope="session")
def seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedServer]:
    """A real SeaweedFS S3 server on 127.0.0.1, stopped by PID at the end of the session."""
    server = start_seaweed(tmp_path_factory.mktemp("seaweed"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(
    params=[
        pytest.param("local", id="local"),
        pytest.param("memory", id="memory"),
        pytest.param("s3", id="s3", marks=pytest.mark.s3),
    ]
)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    """The same suite against LocalStore, MemoryStore and a real SeaweedFS S3 server."""
    return make_backend(request.param, request, tmp_path)


@pytest.fixture(
    params=[
        pytest.param("local", id="local"),
        pytest.param("s3", id="s3", marks=pytest.mark.s3),
    ]
)
def shared_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    """A backend several processes can open (a MemoryStore lives in one process only)."""
    return make_backend(request.param, request, tmp_path)
