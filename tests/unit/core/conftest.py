"""Fixtures for the arco_core unit suites.

``backend`` parametrises a test over LocalStore (tmp_path), MemoryStore and a real SeaweedFS
S3 server (session-scoped, marked ``s3``). Each test gets its own scope, and on S3 its own
key prefix, so tests never see each other's objects.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from arco_core.paths import Scope
from arco_core.storage import AuditHook, Role, ScopedStorage, open_object_store
from tests.support.seaweed import SeaweedServer, start_seaweed

if TYPE_CHECKING:
    from obstore.store import ObjectStore

# tests/unit/core/conftest.py -> repo root is parents[3]; shared/ sits next to the repo.
REPO_ROOT = Path(__file__).resolve().parents[3]
SHARED_DIR = REPO_ROOT.parent / "shared"
VECTORS_DIR = SHARED_DIR / "contracts" / "vectors"


@pytest.fixture(scope="session")
def vectors_dir() -> Path:
    if not VECTORS_DIR.is_dir():
        pytest.fail(f"shared contract vectors not found at {VECTORS_DIR}")
    return VECTORS_DIR


@pytest.fixture(scope="session")
def seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedServer]:
    server = start_seaweed(tmp_path_factory.mktemp("seaweed"))
    try:
        yield server
    finally:
        server.stop()


@dataclass
class Backend:
    """One object store plus what a second process needs to open the same store."""

    kind: str
    url: str
    env: dict[str, str]
    store: ObjectStore
    scope: Scope = field(default_factory=lambda: Scope(f"t{uuid.uuid4().hex[:10]}", "ws"))

    def storage(
        self, role: Role, *, scope: Scope | None = None, audit: AuditHook | None = None
    ) -> ScopedStorage:
        return ScopedStorage(self.store, scope or self.scope, role, audit=audit)

    def reopen(self) -> ObjectStore:
        """A fresh client on the same data (MemoryStore: the same instance)."""
        if self.kind == "memory":
            return self.store
        return open_object_store(self.url, self.env)


@pytest.fixture(
    params=[
        pytest.param("local", id="local"),
        pytest.param("memory", id="memory"),
        pytest.param("s3", id="s3", marks=pytest.mark.s3),
    ]
)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    return _make_backend(request.param, request, tmp_path)


@pytest.fixture(
    params=[
        pytest.param("local", id="local"),
        pytest.param("s3", id="s3", marks=pytest.mark.s3),
    ]
)
def shared_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    """A backend several processes can open (a MemoryStore lives in one process only)."""
    return _make_backend(request.param, request, tmp_path)


def _make_backend(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if kind == "local":
        url, env = (tmp_path / "store").as_uri(), {}
    elif kind == "memory":
        url, env = "memory://", {}
    else:
        server: SeaweedServer = request.getfixturevalue("seaweed")
        url, env = server.url(f"t-{uuid.uuid4().hex[:12]}"), server.env()
    return Backend(kind=kind, url=url, env=env, store=open_object_store(url, env))
