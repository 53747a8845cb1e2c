"""Object-store backends for parametrised suites: LocalStore, MemoryStore, real S3.

Each test gets its own scope, and on S3 its own key prefix, so tests never see each
other's objects.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from arco_core.paths import Scope
from arco_core.storage import AuditHook, Role, ScopedStorage, open_object_store
from tests.support.seaweed import SeaweedServer

if TYPE_CHECKING:
    from obstore.store import ObjectStore


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


def make_backend(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if kind == "local":
        url, env = (tmp_path / "store").as_uri(), {}
    elif kind == "memory":
        url, env = "memory://", {}
    else:
        server: SeaweedServer = request.getfixturevalue("seaweed")
        url, env = server.url(f"t-{uuid.uuid4().hex[:12]}"), server.env()
    return Backend(kind=kind, url=url, env=env, store=open_object_store(url, env))
