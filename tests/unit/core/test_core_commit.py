from __future__ import annotations

import asyncio
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor

import pytest
from structlog.testing import capture_logs

from arco_core.canonical_json import canonical_bytes
from arco_core.clock import FakeClock
from arco_core.commit import ManifestStore, find_last_sequence
from arco_core.errors import CommitConflict, InvalidArgument, RoleWriteDenied, StaleFencingToken
from arco_core.paths import manifest_head_hint_path, manifest_path
from arco_core.storage import AuditHook, Role
from tests.unit.core.conftest import Backend
from tests.unit.core.race_worker import RaceJob, publish_many


def _manifests(
    backend: Backend, role: Role = Role.COMPACTOR, audit: AuditHook | None = None
) -> ManifestStore:
    return ManifestStore(backend.storage(role, audit=audit), "orchestration", FakeClock())


async def test_publish_chain_and_head(backend: Backend) -> None:
    store = _manifests(backend)
    assert await store.head() is None
    first = await store.publish(None, {"tables": {"runs": "a.parquet"}}, epoch=1)
    assert (first.seq, first.previous_seq, first.epoch) == (0, None, 1)
    assert first.published_at == "2026-01-01T00:00:00.000Z"
    second = await store.publish(0, {"tables": {"runs": "b.parquet"}}, epoch=2)
    assert (second.seq, second.previous_seq) == (1, 0)
    head = await store.head()
    assert head == second
    assert head is not None and head.body == {"tables": {"runs": "b.parquet"}}
    assert await store.read(0) == first
    reader = _manifests(backend, Role.READER)
    assert await reader.head() == second


async def test_concurrent_publishers_one_winner_per_seq(backend: Backend) -> None:
    store = _manifests(backend)
    await store.publish(None, {"n": 0}, epoch=1)
    results = await asyncio.gather(
        *(_manifests(backend).publish(0, {"writer": i}, epoch=1) for i in range(6)),
        return_exceptions=True,
    )
    winners = [r for r in results if not isinstance(r, BaseException)]
    losers = [r for r in results if isinstance(r, BaseException)]
    assert len(winners) == 1 and winners[0].seq == 1
    assert all(isinstance(r, CommitConflict) and r.reason == "commit_conflict" for r in losers)
    assert await store.head() == winners[0]


async def test_contended_writers_produce_a_gapless_chain(backend: Backend) -> None:
    async def writer(name: str, count: int) -> list[int]:
        store = _manifests(backend)
        won: list[int] = []
        while len(won) < count:
            head = await store.head()
            try:
                published = await store.publish(
                    None if head is None else head.seq, {"w": name}, epoch=1
                )
            except CommitConflict:
                continue
            won.append(published.seq)
        return won

    results = await asyncio.gather(*(writer(f"w{i}", 5) for i in range(4)))
    seqs = sorted(s for won in results for s in won)
    assert seqs == list(range(20))
    head = await _manifests(backend).head()
    assert head is not None and head.seq == 19


async def test_head_probes_past_stale_missing_or_bogus_hint(backend: Backend) -> None:
    store = _manifests(backend)
    prev = None
    for i in range(13):
        prev = (await store.publish(prev, {"i": i}, epoch=1)).seq
    storage = backend.storage(Role.COMPACTOR)
    hint = manifest_head_hint_path("orchestration")
    for content in (canonical_bytes({"seq": 2}), b"not json", canonical_bytes({"seq": 999})):
        await storage.overwrite(hint, content)
        head = await store.head()
        assert head is not None and head.seq == 12
    await storage.overwrite(hint, canonical_bytes({"seq": 12}))
    counted = _manifests(backend)
    assert await counted.head_seq() == 12


async def test_find_last_sequence_probe_counts() -> None:
    for head in (None, 0, 1, 2, 7, 100, 1_000_000):
        calls: list[int] = []

        async def exists(n: int, head: int | None = head, calls: list[int] = calls) -> bool:
            calls.append(n)
            return head is not None and n <= head

        for hint in (None, 0, 3, head, 2_000_000):
            calls.clear()
            assert await find_last_sequence(exists, hint) == head
            assert len(calls) <= 2 * 21 + 3  # logarithmic, never a linear scan

    async def one_based(n: int) -> bool:
        return 1 <= n <= 4

    assert await find_last_sequence(one_based, None, first=1) == 4


async def test_epoch_regression_refused(backend: Backend) -> None:
    store = _manifests(backend)
    await store.publish(None, {}, epoch=5)
    with pytest.raises(StaleFencingToken):
        await store.publish(0, {}, epoch=4)
    assert not await backend.storage(Role.READER).exists(manifest_path("orchestration", 1))
    assert (await store.publish(0, {}, epoch=5)).seq == 1
    assert (await store.publish(1, {}, epoch=9)).epoch == 9


async def test_publish_argument_checks(backend: Backend) -> None:
    store = _manifests(backend)
    with pytest.raises(InvalidArgument):
        await store.publish(None, {"seq": 3}, epoch=1)
    with pytest.raises(InvalidArgument):
        await store.publish(None, {}, epoch=-1)
    with pytest.raises(InvalidArgument):
        await store.publish(None, {"x": 0.5}, epoch=1)
    with pytest.raises(CommitConflict):
        await store.publish(7, {}, epoch=1)  # would leave a gap
    await store.publish(None, {}, epoch=1)
    with pytest.raises(CommitConflict):
        await store.publish(None, {}, epoch=1)


async def test_only_the_compactor_publishes(backend: Backend) -> None:
    for role in (Role.API, Role.DISPATCHER, Role.SWEEPER, Role.READER):
        with pytest.raises(RoleWriteDenied):
            await _manifests(backend, role).publish(None, {}, epoch=1)


async def test_hint_failure_is_logged_not_raised(backend: Backend) -> None:
    def audit(role: Role, op: str, key: str) -> None:
        if op == "overwrite":
            raise RuntimeError("hint store down")

    store = _manifests(backend, audit=audit)
    with capture_logs() as logs:
        head = await store.publish(None, {}, epoch=1)
    assert head.seq == 0
    assert any(e["event"] == "manifest_head_hint_failed" for e in logs)
    assert await store.head() == head


async def test_two_processes_race_for_sequences(shared_backend: Backend) -> None:
    backend = shared_backend
    count = 15
    start_at = time.time() + 1.5  # both children start publishing at the same moment
    ctx = multiprocessing.get_context("spawn")  # never fork after obstore is in use
    with ProcessPoolExecutor(max_workers=2, mp_context=ctx) as pool:
        futures = [
            asyncio.wrap_future(
                pool.submit(
                    publish_many,
                    RaceJob(
                        backend.url, backend.env, backend.scope.tenant_id, f"p{i}", count, start_at
                    ),
                )
            )
            for i in range(2)
        ]
        won = await asyncio.wait_for(asyncio.gather(*futures), timeout=120)
    for seqs in won:
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)  # strictly increasing
    assert sorted(won[0] + won[1]) == list(range(2 * count))  # no duplicates, no gaps
    store = _manifests(backend)
    assert await store.head_seq() == 2 * count - 1
    for i, seqs in enumerate(won):
        bodies = [(await store.read(seq)).body for seq in seqs]
        assert bodies == [{"writer": f"p{i}", "n": n} for n in range(count)]
    for seq in range(1, 2 * count):
        assert (await store.read(seq)).previous_seq == seq - 1
