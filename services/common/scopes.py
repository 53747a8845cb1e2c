"""Serving many tenant/workspace scopes from one process.

:class:`OpenScopes` keeps the per-scope parts of a process (storage handles, readers,
head followers, committers, caches) in a bounded LRU: a scope is opened on first use,
only if the workspace registry holds it, and closed (its loops shut down) when it has
been idle too long or the LRU needs the room. A scope in use is never closed.

:class:`ServedScopes` is the other shape: the dispatcher, sweeper and automation serve
every registered scope of their shard, re-reading the registry so a new workspace is
picked up without a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any, Generic, Protocol, TypeVar

import structlog

from arco_core.errors import FailedPrecondition, InvalidArgument, StorageError
from arco_core.paths import Scope
from arco_core.registry import ShardSpec, WorkspaceRegistry, parse_scope, shard_of
from arco_runtime.retry import RetryPolicy
from arco_runtime.settings import ConfigError, Setting, integer, number, text
from services.common.config import CommonConfig
from services.common.runner import BackgroundLoop

log = structlog.get_logger(__name__)

SHARD = text(
    "ARCO_SHARD",
    "this replica's shard i/N of the registered scopes (sha256 of tenant/workspace mod N); "
    "empty: every scope",
    "",
)
MAX_OPEN_SCOPES = integer(
    "ARCO_MAX_OPEN_SCOPES",
    "scopes kept open at once (LRU; one in use is never closed)",
    64,
    minimum=1,
)
SCOPE_IDLE_SEC = number(
    "ARCO_SCOPE_IDLE_SEC", "an open scope unused this many seconds is closed", 600.0, minimum=1.0
)
SCOPE_REFRESH_SEC = number(
    "ARCO_SCOPE_REFRESH_SEC",
    "seconds between reads of the workspace registry for new scopes to serve",
    5.0,
    minimum=0.1,
)

REGISTER_RETRY = RetryPolicy(initial_backoff_sec=0.1, max_backoff_sec=2.0, deadline_sec=60.0)
LRU_SETTINGS: tuple[Setting[Any], ...] = (MAX_OPEN_SCOPES, SCOPE_IDLE_SEC)
SERVED_SETTINGS: tuple[Setting[Any], ...] = (SHARD, SCOPE_REFRESH_SEC)


def read_shard(env: Mapping[str, str]) -> ShardSpec:
    try:
        return ShardSpec.parse(SHARD.read(env))
    except InvalidArgument as exc:
        raise ConfigError(f"{SHARD.name}: {exc.message}") from None


async def register_dev_default(common: CommonConfig, registry: WorkspaceRegistry) -> None:
    """In dev the default scope exists from the start, as it did when it was the only one
    (idempotent: every service of a dev mesh registers it)."""
    if common.dev:
        # A dev store may inject faults (ARCO_STORAGE_FAULTS): start-up must not fail on one.
        await REGISTER_RETRY.call_async(
            lambda _timeout: registry.create(common.default_scope),
            retry_if=lambda exc: isinstance(exc, StorageError),
        )


class _ScopedRequest(Protocol):
    tenant_id: str
    workspace_id: str


def request_scope(request: _ScopedRequest, default: Scope, shard: ShardSpec) -> Scope:
    """The scope an internal request names (empty ids: the dev default), refused with
    FAILED_PRECONDITION ``scope_not_in_shard`` unless this replica's shard owns it."""
    if not request.tenant_id and not request.workspace_id:
        scope = default
    else:
        scope = parse_scope(request.tenant_id, request.workspace_id)
    if not shard.owns(scope):
        raise FailedPrecondition(
            f"scope {scope.tenant_id}/{scope.workspace_id} belongs to shard "
            f"{shard_of(scope, shard.count)}/{shard.count}; this replica serves shard {shard}",
            reason="scope_not_in_shard",
        )
    return scope


@dataclasses.dataclass(frozen=True)
class ScopeLimits:
    max_open: int
    idle_sec: float

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ScopeLimits:
        return cls(MAX_OPEN_SCOPES.read(env), SCOPE_IDLE_SEC.read(env))


class ScopeParts(Protocol):
    """What a process holds for one scope: its background loops, and what to close."""

    @property
    def loops(self) -> Sequence[BackgroundLoop]: ...

    async def close(self) -> None: ...


P = TypeVar("P", bound=ScopeParts)


@dataclasses.dataclass
class _Open(Generic[P]):
    parts: P
    tasks: list[asyncio.Task[None]]
    users: int = 0
    last_used: float = 0.0
    evicted: bool = False


class OpenScopes(Generic[P]):
    """A bounded LRU of open scopes; a background loop (``run()``/``shutdown()``) that
    closes the idle ones. Use a scope with ``async with scopes.use(scope) as parts``."""

    def __init__(
        self,
        open_parts: Callable[[Scope], Awaitable[P]],
        registry: WorkspaceRegistry,
        limits: ScopeLimits,
        *,
        drain_sec: float = 5.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._open_parts = open_parts
        self._registry = registry
        self._limits = limits
        self._drain_sec = drain_sec
        self._monotonic = monotonic
        self._open: OrderedDict[Scope, _Open[P]] = OrderedDict()
        self._opening: dict[Scope, asyncio.Future[_Open[P]]] = {}
        self._stopping = asyncio.Event()
        self._closing: set[asyncio.Task[None]] = set()

    def __len__(self) -> int:
        return len(self._open)

    def open_scopes(self) -> list[Scope]:
        return list(self._open)

    async def require(self, scope: Scope) -> None:
        """NOT_FOUND ``workspace_not_found`` unless the registry holds ``scope`` (an open
        scope is known to)."""
        if scope not in self._open:
            await self._registry_require(scope)

    async def _registry_require(self, scope: Scope) -> None:
        # A read the store fails now and then must not refuse the scope.
        await REGISTER_RETRY.call_async(
            lambda _timeout: self._registry.require(scope),
            retry_if=lambda exc: isinstance(exc, StorageError),
        )

    @contextlib.asynccontextmanager
    async def use(self, scope: Scope) -> AsyncIterator[P]:
        """The scope's parts, opened if need be (NOT_FOUND ``workspace_not_found`` for a
        scope the registry does not hold; nothing is opened for it)."""
        entry = await self._acquire(scope)
        try:
            yield entry.parts
        finally:
            entry.users -= 1
            entry.last_used = self._monotonic()
            # Scopes held while others opened may have left the LRU over its bound.
            self._evict_over_limit()

    async def _acquire(self, scope: Scope) -> _Open[P]:
        """The open entry, with this caller counted as a user before anything can close it."""
        while True:
            entry = self._open.get(scope)
            if entry is None:
                pending = self._opening.get(scope)
                if pending is None:
                    pending = asyncio.ensure_future(self._open_new(scope))
                    self._opening[scope] = pending
                    pending.add_done_callback(lambda _: self._opening.pop(scope, None))
                entry = await asyncio.shield(pending)
            if self._open.get(scope) is entry:
                self._open.move_to_end(scope)
                entry.users += 1
                return entry
            # Between the open and this waiter resuming, another open evicted it: open again.
            # A scope closed by its failing loop is handed out once (its next use reopens),
            # so a loop that always fails cannot spin here.
            if not entry.evicted:
                entry.users += 1
                return entry

    async def _open_new(self, scope: Scope) -> _Open[P]:
        await self._registry_require(scope)
        parts = await self._open_parts(scope)
        tasks = [
            asyncio.create_task(self._run_loop(scope, item), name=f"{type(item).__name__}")
            for item in parts.loops
        ]
        entry = _Open(parts, tasks, last_used=self._monotonic())
        self._open[scope] = entry
        log.info("scope_opened", tenant_id=scope.tenant_id, workspace_id=scope.workspace_id)
        # Never the scope just opened: its caller has not counted itself a user yet.
        self._evict_over_limit(keep=scope)
        return entry

    async def _run_loop(self, scope: Scope, item: BackgroundLoop) -> None:
        try:
            await item.run()
        except asyncio.CancelledError:
            raise
        except Exception:
            # One scope's failure closes that scope only; its next use opens it afresh.
            log.exception(
                "scope_loop_failed",
                loop=type(item).__name__,
                tenant_id=scope.tenant_id,
                workspace_id=scope.workspace_id,
            )
            self._close_later(scope)

    def _evict_over_limit(self, keep: Scope | None = None) -> None:
        idle = [scope for scope, entry in self._open.items() if entry.users == 0 and scope != keep]
        while len(self._open) > self._limits.max_open and idle:
            scope = idle.pop(0)  # least recently used first
            self._open[scope].evicted = True
            self._close_later(scope)

    def _close_later(self, scope: Scope) -> None:
        entry = self._open.pop(scope, None)
        if entry is None:
            return
        task = asyncio.create_task(self._close(scope, entry))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def _close(self, scope: Scope, entry: _Open[P]) -> None:
        for item in entry.parts.loops:
            await item.shutdown()
        pending: set[asyncio.Task[None]] = set()
        if entry.tasks:
            _, pending = await asyncio.wait(entry.tasks, timeout=self._drain_sec)
        for task in pending:
            task.cancel()
        for task in pending:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await entry.parts.close()
        log.info("scope_closed", tenant_id=scope.tenant_id, workspace_id=scope.workspace_id)

    def close_idle(self) -> None:
        """Close every scope unused for the idle time."""
        now = self._monotonic()
        for scope, entry in list(self._open.items()):
            if entry.users == 0 and now - entry.last_used >= self._limits.idle_sec:
                self._close_later(scope)

    async def run(self) -> None:
        interval = min(max(self._limits.idle_sec / 4, 0.5), 30.0)
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=interval)
            self.close_idle()

    async def shutdown(self) -> None:
        self._stopping.set()
        await self.close_all()

    async def close_all(self) -> None:
        for scope in list(self._open):
            self._close_later(scope)
        while self._closing:
            await asyncio.gather(*list(self._closing), return_exceptions=True)


class ServedScopes(Generic[P]):
    """Every registered scope of this replica's shard kept open, the registry re-read
    every ``refresh_sec``; a background loop. A scope that fails to open is logged and
    tried again at the next read, and never delays the others."""

    def __init__(
        self,
        open_parts: Callable[[Scope], Awaitable[P]],
        registry: WorkspaceRegistry,
        shard: ShardSpec,
        *,
        refresh_sec: float,
        drain_sec: float = 5.0,
    ) -> None:
        self._registry = registry
        self._shard = shard
        self._refresh_sec = refresh_sec
        # Never idle and never over the bound: a served scope stays open.
        self._scopes: OpenScopes[P] = OpenScopes(
            open_parts,
            registry,
            ScopeLimits(max_open=1 << 30, idle_sec=float("inf")),
            drain_sec=drain_sec,
        )
        self._stopping = asyncio.Event()
        self.refreshed = asyncio.Event()

    def served(self) -> list[Scope]:
        return self._scopes.open_scopes()

    def use(self, scope: Scope) -> contextlib.AbstractAsyncContextManager[P]:
        return self._scopes.use(scope)

    async def refresh(self) -> None:
        try:
            wanted = [scope for scope in await self._registry.list() if self._shard.owns(scope)]
        except Exception as exc:  # the store may be briefly down: serve what is open
            log.warning("registry_read_failed", error=repr(exc))
            return
        opened = set(self.served())
        if self._stopping.is_set():
            return

        async def open_one(scope: Scope) -> None:
            try:
                async with self._scopes.use(scope):
                    pass
            except Exception as exc:
                log.warning(
                    "scope_open_failed",
                    tenant_id=scope.tenant_id,
                    workspace_id=scope.workspace_id,
                    error=repr(exc),
                )

        await asyncio.gather(*(open_one(scope) for scope in wanted if scope not in opened))
        self.refreshed.set()

    async def run(self) -> None:
        while not self._stopping.is_set():
            await self.refresh()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=self._refresh_sec)

    async def shutdown(self) -> None:
        self._stopping.set()
        await self._scopes.close_all()
