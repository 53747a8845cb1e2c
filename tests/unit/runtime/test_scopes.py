"""OpenScopes and ServedScopes (services/common/scopes.py) over a real workspace registry
on a LocalStore: which scopes open, when they close, and that one scope's failure stays
its own. Time is an injected monotonic clock, never a sleep."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
from collections import Counter
from pathlib import Path

import pytest

from arco_core.clock import FakeClock
from arco_core.errors import NotFound
from arco_core.paths import Scope
from arco_core.registry import ShardSpec, WorkspaceRegistry, shard_of
from arco_core.storage import open_object_store
from services.common.scopes import OpenScopes, ScopeLimits, ServedScopes

A = Scope("acme", "a")
B = Scope("acme", "b")
C = Scope("acme", "c")
# Only a bound on waiting for a background step that must happen; never a measure.
STEP_SEC = 10.0


class Loop:
    """A scope's background loop: runs until shut down, or fails when told to."""

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.stopped = asyncio.Event()
        self.shutdown_called = False
        self._fail = asyncio.Event()
        self._stop = asyncio.Event()

    async def run(self) -> None:
        self.started.set()
        try:
            stop = asyncio.ensure_future(self._stop.wait())
            fail = asyncio.ensure_future(self._fail.wait())
            await asyncio.wait({stop, fail}, return_when=asyncio.FIRST_COMPLETED)
            stop.cancel()
            fail.cancel()
            if self._fail.is_set() and not self._stop.is_set():
                raise RuntimeError("the head stream broke")
        finally:
            self.stopped.set()

    async def shutdown(self) -> None:
        self.shutdown_called = True
        self._stop.set()

    def fail(self) -> None:
        self._fail.set()


@dataclasses.dataclass
class Parts:
    scope: Scope
    loops: list[Loop]
    closed: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)

    async def close(self) -> None:
        self.closed.set()


class Opener:
    """open_parts for the scopes under test, remembering every Parts it made."""

    def __init__(self) -> None:
        self.made: list[Parts] = []

    async def __call__(self, scope: Scope) -> Parts:
        parts = Parts(scope, [Loop()])
        self.made.append(parts)
        return parts

    def opened(self) -> Counter[Scope]:
        return Counter(p.scope for p in self.made)

    def latest(self, scope: Scope) -> Parts:
        return [p for p in self.made if p.scope == scope][-1]


class Monotonic:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def closed(parts: Parts) -> None:
    """Wait for a scope's close, which runs as its own task."""
    await asyncio.wait_for(parts.closed.wait(), STEP_SEC)
    assert all(loop.shutdown_called and loop.stopped.is_set() for loop in parts.loops)


@pytest.fixture
def registry(tmp_path: Path) -> WorkspaceRegistry:
    return WorkspaceRegistry(open_object_store((tmp_path / "store").as_uri(), {}), FakeClock())


async def register(registry: WorkspaceRegistry, *scopes: Scope) -> None:
    for scope in scopes:
        await registry.create(scope)


def lru(
    registry: WorkspaceRegistry, opener: Opener, clock: Monotonic, *, max_open: int = 8
) -> OpenScopes[Parts]:
    return OpenScopes(opener, registry, ScopeLimits(max_open, idle_sec=60.0), monotonic=clock)


# -- OpenScopes -------------------------------------------------------------------------


async def test_a_registered_scope_opens_on_first_use_once(registry: WorkspaceRegistry) -> None:
    await register(registry, A)
    opener = Opener()
    scopes = lru(registry, opener, Monotonic())
    assert len(scopes) == 0 and opener.made == []  # nothing opens before it is used
    async with scopes.use(A) as first, scopes.use(A) as second:
        assert first is second
    # Two first uses at once still open the scope once.
    others = lru(registry, Opener(), Monotonic())

    async def use_a() -> Parts:
        async with others.use(A) as parts:
            return parts

    one, two = await asyncio.gather(use_a(), use_a())
    assert one is two
    assert opener.opened() == Counter({A: 1}) and scopes.open_scopes() == [A]
    await asyncio.wait_for(first.loops[0].started.wait(), STEP_SEC)
    await scopes.shutdown()
    await others.shutdown()
    await closed(first)


async def test_an_unregistered_scope_is_refused_and_opens_nothing(
    registry: WorkspaceRegistry,
) -> None:
    await register(registry, A)
    opener = Opener()
    scopes = lru(registry, opener, Monotonic())
    for attempt in (scopes.require(B), scopes.use(B).__aenter__()):
        with pytest.raises(NotFound) as info:
            await attempt
        assert info.value.reason == "workspace_not_found"
    assert opener.made == [] and len(scopes) == 0
    await scopes.require(A)  # a registered scope passes without being opened
    assert opener.made == []


async def test_over_the_limit_the_least_recently_used_idle_scope_closes(
    registry: WorkspaceRegistry,
) -> None:
    await register(registry, A, B, C)
    opener = Opener()
    scopes = lru(registry, opener, Monotonic(), max_open=2)
    for scope in (A, B, A):  # A used last: B is the least recently used
        async with scopes.use(scope):
            pass
    async with scopes.use(C):
        pass
    await closed(opener.latest(B))
    assert sorted(scopes.open_scopes(), key=str) == [A, C]
    assert not opener.latest(A).closed.is_set() and not opener.latest(C).closed.is_set()
    await scopes.shutdown()


async def test_a_scope_in_use_is_never_closed_even_over_the_limit(
    registry: WorkspaceRegistry,
) -> None:
    await register(registry, A, B)
    opener = Opener()
    clock = Monotonic()
    scopes = lru(registry, opener, clock, max_open=1)
    async with scopes.use(A) as held:
        async with scopes.use(B) as b_parts:
            # Opened over the limit while A is held, B is in use too: it stays open now.
            await asyncio.wait_for(b_parts.loops[0].started.wait(), STEP_SEC)
            for _ in range(5):
                await asyncio.sleep(0)  # let any close already scheduled take its steps
            assert not b_parts.loops[0].shutdown_called and not b_parts.closed.is_set()
            assert sorted(scopes.open_scopes(), key=str) == [A, B]
        # Released over the limit, B is the idle one to close; A stays while held,
        # even idle far beyond the idle time.
        await closed(b_parts)
        clock.now += 3600
        scopes.close_idle()
        assert scopes.open_scopes() == [A] and not held.closed.is_set()
        assert not held.loops[0].shutdown_called
    await scopes.shutdown()
    await closed(held)


async def test_an_idle_scope_closes_after_the_idle_time_with_its_loops_shut_down(
    registry: WorkspaceRegistry,
) -> None:
    await register(registry, A, B)
    opener = Opener()
    clock = Monotonic()
    scopes = lru(registry, opener, clock)
    async with scopes.use(A) as a_parts:
        pass
    clock.now += 30
    async with scopes.use(B):
        pass
    clock.now += 29.5  # A idle 59.5 s of 60
    scopes.close_idle()
    assert sorted(scopes.open_scopes(), key=str) == [A, B]
    clock.now += 0.5
    scopes.close_idle()
    await closed(a_parts)
    assert scopes.open_scopes() == [B]
    assert not opener.latest(B).closed.is_set()
    await scopes.shutdown()


async def test_a_closed_scope_reopens_afresh_on_its_next_use(
    registry: WorkspaceRegistry,
) -> None:
    await register(registry, A)
    opener = Opener()
    clock = Monotonic()
    scopes = lru(registry, opener, clock)
    async with scopes.use(A) as before:
        pass
    clock.now += 60
    scopes.close_idle()
    await closed(before)
    async with scopes.use(A) as after:
        assert after is not before
        await asyncio.wait_for(after.loops[0].started.wait(), STEP_SEC)
    assert opener.opened() == Counter({A: 2})
    assert not after.closed.is_set()
    await scopes.shutdown()
    await closed(after)


async def test_run_closes_idle_scopes_and_shutdown_closes_the_rest(
    registry: WorkspaceRegistry,
) -> None:
    await register(registry, A)
    opener = Opener()
    scopes = OpenScopes(opener, registry, ScopeLimits(8, idle_sec=1.0), monotonic=Monotonic())
    runner = asyncio.create_task(scopes.run())
    async with scopes.use(A) as parts:
        pass
    await scopes.shutdown()
    await asyncio.wait_for(runner, STEP_SEC)
    await closed(parts)
    assert len(scopes) == 0


# -- ServedScopes -----------------------------------------------------------------------


def served_scopes(
    registry: WorkspaceRegistry, opener: Opener, shard: ShardSpec | None = None
) -> ServedScopes[Parts]:
    return ServedScopes(opener, registry, shard or ShardSpec(), refresh_sec=0.05)


async def test_a_workspace_registered_while_serving_is_picked_up_without_a_restart(
    registry: WorkspaceRegistry,
) -> None:
    await register(registry, A)
    opener = Opener()
    served = served_scopes(registry, opener)
    runner = asyncio.create_task(served.run())
    await asyncio.wait_for(served.refreshed.wait(), STEP_SEC)
    assert served.served() == [A]
    await register(registry, B)

    async def until_served() -> None:
        while B not in served.served():
            served.refreshed.clear()
            await served.refreshed.wait()

    await asyncio.wait_for(until_served(), STEP_SEC)
    await asyncio.wait_for(opener.latest(B).loops[0].started.wait(), STEP_SEC)
    # A kept its first parts: the new scope opened beside it, nothing restarted.
    assert opener.opened() == Counter({A: 1, B: 1})
    assert not opener.latest(A).closed.is_set()
    await served.shutdown()
    await asyncio.wait_for(runner, STEP_SEC)
    await closed(opener.latest(A))
    await closed(opener.latest(B))


async def test_a_replica_serves_only_the_scopes_of_its_shard(
    registry: WorkspaceRegistry,
) -> None:
    scopes = [Scope("acme", f"w{i}") for i in range(12)]
    await register(registry, *scopes)
    by_shard = {i: {s for s in scopes if shard_of(s, 2) == i} for i in (0, 1)}
    assert by_shard[0] and by_shard[1]  # the test means something only if both are used
    for index in (0, 1):
        opener = Opener()
        served = served_scopes(registry, opener, ShardSpec(index, 2))
        await served.refresh()
        assert set(served.served()) == by_shard[index]
        assert set(opener.opened()) == by_shard[index]
        await served.shutdown()


async def test_a_failing_scope_loop_closes_and_reopens_that_scope_alone(
    registry: WorkspaceRegistry,
) -> None:
    await register(registry, A, B)
    opener = Opener()
    served = served_scopes(registry, opener)
    await served.refresh()
    first_a, only_b = opener.latest(A), opener.latest(B)
    for parts in (first_a, only_b):
        await asyncio.wait_for(parts.loops[0].started.wait(), STEP_SEC)
    first_a.loops[0].fail()
    await closed(first_a)
    assert served.served() == [B]
    assert not only_b.closed.is_set() and not only_b.loops[0].stopped.is_set()
    await served.refresh()
    second_a = opener.latest(A)
    assert second_a is not first_a
    await asyncio.wait_for(second_a.loops[0].started.wait(), STEP_SEC)
    assert sorted(served.served(), key=str) == [A, B]
    assert opener.opened() == Counter({A: 2, B: 1})
    assert opener.latest(B) is only_b and not only_b.loops[0].stopped.is_set()
    await served.shutdown()
    for parts in (second_a, only_b):
        await closed(parts)


async def test_a_scope_that_fails_to_open_does_not_keep_the_others_from_serving(
    registry: WorkspaceRegistry,
) -> None:
    await register(registry, A, B)
    attempts = itertools.count()
    opener = Opener()

    async def flaky(scope: Scope) -> Parts:
        if scope == A and next(attempts) == 0:
            raise RuntimeError("the store was briefly down")
        return await opener(scope)

    served = ServedScopes(flaky, registry, ShardSpec(), refresh_sec=0.05)
    await served.refresh()
    assert served.served() == [B]
    await served.refresh()  # the next read tries A again
    assert sorted(served.served(), key=str) == [A, B]
    assert opener.opened() == Counter({A: 1, B: 1})
    await served.shutdown()
