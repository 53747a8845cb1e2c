"""The workspace registry: which tenant/workspace scopes exist, outside every scope.

Each workspace is one object ``_registry/workspaces/tenant={t}/workspace={w}.json``
written create-if-absent, the only conditional write every store supports: of two
racing creates one writes the entry and the other reads it back, so both answer the
same entry, and creating an existing workspace changes nothing. Entries are never
rewritten or removed. ``list`` is one listing of the prefix.

Services that serve many scopes pick theirs with :class:`ShardSpec` (``ARCO_SHARD=i/N``):
a scope belongs to shard ``sha256("tenant/workspace") mod N``, the same on every
replica and across restarts.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from typing import TYPE_CHECKING

from arco_core.canonical_json import canonical_bytes, parse_json_object
from arco_core.clock import Clock
from arco_core.errors import InvalidArgument, NotFound, ObjectAlreadyExists, ObjectNotFound
from arco_core.paths import Scope
from arco_core.storage import ScopedStorage

if TYPE_CHECKING:
    from obstore.store import ObjectStore

    from arco_core.storage_faults import FaultyStore

ENTRY_PREFIX = "workspaces/"
_ENTRY_KEY = re.compile(r"^workspaces/tenant=([a-z0-9_-]+)/workspace=([a-z0-9_-]+)\.json$")
_SHARD = re.compile(r"^(\d+)/(\d+)$")
MAX_ID_CHARS = 128


def workspace_not_found() -> NotFound:
    """What a caller hears for a scope the registry does not hold (or not theirs)."""
    return NotFound("workspace not found", reason="workspace_not_found")


def parse_scope(tenant_id: str, workspace_id: str) -> Scope:
    """A scope from request ids, as stored (lower-cased); InvalidArgument otherwise."""
    for label, value in (("tenant_id", tenant_id), ("workspace_id", workspace_id)):
        if len(value) > MAX_ID_CHARS:
            raise InvalidArgument(
                f"{label} is longer than {MAX_ID_CHARS} characters", reason="invalid_scope"
            )
    return Scope.normalized(tenant_id, workspace_id)


def entry_path(scope: Scope) -> str:
    return f"{ENTRY_PREFIX}tenant={scope.tenant_id}/workspace={scope.workspace_id}.json"


@dataclasses.dataclass(frozen=True, slots=True)
class Workspace:
    scope: Scope
    created_at_ms: int

    def to_bytes(self) -> bytes:
        return canonical_bytes(
            {
                "tenant_id": self.scope.tenant_id,
                "workspace_id": self.scope.workspace_id,
                "created_at_ms": self.created_at_ms,
            }
        )

    @classmethod
    def from_bytes(cls, raw: bytes) -> Workspace:
        body = parse_json_object(raw)
        return cls(
            Scope(str(body["tenant_id"]), str(body["workspace_id"])),
            int(body["created_at_ms"]),
        )


class WorkspaceRegistry:
    """Create, look up and list the workspaces of one object store."""

    def __init__(self, store: ObjectStore | FaultyStore, clock: Clock) -> None:
        self._storage = ScopedStorage.registry(store)
        self._clock = clock

    async def create(self, scope: Scope) -> tuple[Workspace, bool]:
        """The workspace's entry, and whether this call created it (False: it existed,
        the entry returned is the one first written)."""
        entry = Workspace(scope, self._clock.now_ms())
        try:
            await self._storage.create(entry_path(scope), entry.to_bytes())
        except ObjectAlreadyExists:
            existing = await self.get(scope)
            if existing is None:  # unreachable: entries are never removed
                raise
            return existing, False
        return entry, True

    async def get(self, scope: Scope) -> Workspace | None:
        try:
            return Workspace.from_bytes(await self._storage.get(entry_path(scope)))
        except ObjectNotFound:
            return None

    async def require(self, scope: Scope) -> Workspace:
        """The entry, or NOT_FOUND ``workspace_not_found``."""
        entry = await self.get(scope)
        if entry is None:
            raise workspace_not_found()
        return entry

    async def list(self, *, tenant_id: str | None = None) -> list[Scope]:
        """Every registered scope (of one tenant when given), sorted."""
        prefix = ENTRY_PREFIX + (f"tenant={tenant_id}/" if tenant_id is not None else "")
        scopes = []
        for meta in await self._storage.list(prefix):
            match = _ENTRY_KEY.fullmatch(meta.path)
            if match is not None:  # anything else under the prefix is not an entry
                scopes.append(Scope(match.group(1), match.group(2)))
        return sorted(scopes, key=lambda s: (s.tenant_id, s.workspace_id))


def shard_of(scope: Scope, count: int) -> int:
    """The shard (0..count-1) that serves ``scope``: stable across processes and runs."""
    digest = hashlib.sha256(f"{scope.tenant_id}/{scope.workspace_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % count


@dataclasses.dataclass(frozen=True, slots=True)
class ShardSpec:
    """This replica's shard ``index`` of ``count`` (``count`` 1: every scope)."""

    index: int = 0
    count: int = 1

    def __post_init__(self) -> None:
        if self.count < 1 or not 0 <= self.index < self.count:
            raise InvalidArgument(
                f"shard {self.index}/{self.count}: needs 0 <= index < count",
                reason="invalid_shard",
            )

    @classmethod
    def parse(cls, text: str) -> ShardSpec:
        """``"i/N"``; empty means unsharded (``0/1``)."""
        if not text.strip():
            return cls()
        match = _SHARD.fullmatch(text.strip())
        if match is None:
            raise InvalidArgument(
                f"shard must be i/N (e.g. 0/3), got {text!r}", reason="invalid_shard"
            )
        return cls(int(match.group(1)), int(match.group(2)))

    def owns(self, scope: Scope) -> bool:
        return shard_of(scope, self.count) == self.index

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"
