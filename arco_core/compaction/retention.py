"""Retention: what the compactor removes so that state and storage stay bounded.

Two kinds of removal, both run by the compactor when it is idle (``Retention.apply``):

* **Rows.** Terminal runs completed before the run cutoff (with their tasks, edges, outbox
  rows and timers) and idempotency records older than the key cutoff leave the projection
  as an ordinary commit of tombstones. The cutoffs are published in the manifest, so a
  verification or a ``Rebuild`` that replays the ledger applies them too: the ledger stays
  the source of truth, and what retention removed does not come back.
* **Objects.** Manifests older than the ``asOf`` window (the head is always kept), the
  state and snapshot objects that no kept manifest references, fold records older than
  their window, and the api's task logs and idempotency markers past their retention.

Which objects a kept manifest references is decided without reading every kept
manifest: a delta or base stays in the chain from the manifest that first lists it until
a merge or rebuild drops it, and it is written shortly (less than ``grace_sec``) before
that first manifest. So with ``F`` the oldest kept manifest, an object is live if ``F``
or the head lists it, or if its id (a ULID) is younger than the publish time of ``F + 1``
(or, when ``F`` is the head, now: a publish may be on its way) less the grace; everything
else is garbage. Manifests below ``F`` are removed in ascending order
after the floor marker is raised, so the kept ones are always contiguous
(:meth:`arco_core.commit.ManifestStore.raise_floor`).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Final, Generic

import structlog

from arco_core.clock import Clock, datetime_to_ms, parse_rfc3339_ms
from arco_core.commit import Head, ManifestStore
from arco_core.errors import InvalidPath
from arco_core.folding import RetentionCutoffs
from arco_core.ids import is_ulid, ulid_timestamp_ms
from arco_core.paths import (
    fold_records_prefix,
    manifest_path,
    manifests_prefix,
    parse_manifest_path,
    validate_domain,
)
from arco_core.projections import S
from arco_core.published import ManifestBody, Snapshot
from arco_core.storage import ObjectMeta, ScopedStorage

__all__ = ["Collected", "GarbageCollector", "Retention", "RetentionPolicy"]

log = structlog.get_logger(__name__)

_DAY_SEC: Final = 86_400
_DELETE_CONCURRENCY: Final = 16


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """How long things are kept, in seconds (the defaults follow the reference)."""

    terminal_runs_sec: int = 90 * _DAY_SEC
    idempotency_keys_sec: int = 30 * _DAY_SEC
    task_logs_sec: int = 90 * _DAY_SEC
    # The asOf window: manifests published within it stay readable.
    manifests_sec: int = _DAY_SEC
    fold_records_sec: int = 7 * _DAY_SEC
    # Longer than any write-then-publish (a merge writing a large base) takes.
    grace_sec: int = 3600

    def cutoffs(self, now_ms: int) -> RetentionCutoffs:
        return RetentionCutoffs(
            terminal_runs_before_ms=now_ms - self.terminal_runs_sec * 1000,
            idempotency_keys_before_ms=now_ms - self.idempotency_keys_sec * 1000,
        )


@dataclass(frozen=True, slots=True)
class Collected:
    """What one collection removed."""

    floor: int
    manifests: int = 0
    state_objects: int = 0
    fold_records: int = 0
    task_logs: int = 0
    idempotency_markers: int = 0


def _modified_ms(meta: ObjectMeta) -> int:
    return datetime_to_ms(meta.last_modified)


class GarbageCollector:
    """Removes one domain's objects that retention no longer keeps (see the module doc).

    ``api_objects``: also the scope's task logs and idempotency markers (one compactor per
    scope should do it: the orchestration one, which knows the runs).
    """

    def __init__(
        self,
        storage: ScopedStorage,
        domain: str,
        policy: RetentionPolicy,
        clock: Clock,
        *,
        api_objects: bool = False,
    ) -> None:
        self._storage = storage
        self._domain = validate_domain(domain)
        self._policy = policy
        self._clock = clock
        self._manifests = ManifestStore(storage, domain, clock)
        self._api_objects = api_objects

    async def collect(self, head: Head, active_run: Callable[[str], bool]) -> Collected:
        """Collect garbage with ``head`` the published head; ``active_run(run_id)`` says
        whether a run's logs must be kept whatever their age (it has not finished)."""
        now = self._clock.now_ms()
        seqs = await self._manifest_seqs()
        oldest = await self._oldest_kept(seqs, head, now - self._policy.manifests_sec * 1000)
        floor = oldest.seq
        # An object a kept manifest lists and ``oldest`` does not was first listed by a
        # later one, and written at most the grace before it was published.
        first_later = now
        if floor < head.seq:
            later = await self._manifests.read(floor + 1)
            first_later = min(parse_rfc3339_ms(later.published_at), now)
        horizon = first_later - self._policy.grace_sec * 1000
        live = {art.path for m in (oldest, head) for _, art in ManifestBody.from_head(m).files()}
        state_prefixes = (f"state/{self._domain}/l0/", f"snapshots/{self._domain}/")
        listed = [(prefix, await self._storage.list(prefix)) for prefix in state_prefixes]
        state = await self._remove(
            meta.path
            for prefix, metas in listed
            for meta in metas
            if meta.path not in live and _older_than(meta, prefix, horizon)
        )
        manifests = await self._remove_manifests_below(floor, seqs)
        records = await self._remove_older(
            fold_records_prefix(self._domain), now - self._policy.fold_records_sec * 1000
        )
        logs = markers = 0
        if self._api_objects:
            log_objects = await self._storage.list("logs/")
            logs = await self._remove(
                meta.path
                for meta in log_objects
                if _modified_ms(meta) < now - self._policy.task_logs_sec * 1000
                and not active_run(meta.path.split("/")[1])
            )
            markers = await self._remove_older(
                "idempotency/", now - self._policy.idempotency_keys_sec * 1000
            )
        collected = Collected(floor, manifests, state, records, logs, markers)
        log.info("retention_collected", domain=self._domain, **dataclasses.asdict(collected))
        return collected

    async def _manifest_seqs(self) -> list[int]:
        out = []
        for meta in await self._storage.list(manifests_prefix(self._domain)):
            try:
                _, seq = parse_manifest_path(meta.path)
            except InvalidPath:
                continue  # the head hint and the floor markers
            out.append(seq)
        return sorted(out)

    async def _oldest_kept(self, seqs: list[int], head: Head, keep_from_ms: int) -> Head:
        """The first manifest published at or after ``keep_from_ms`` (the head if none):
        publish times rise with the sequence, so a binary search reads O(log n) of them."""
        candidates = [seq for seq in seqs if seq < head.seq]
        found = head
        lo, hi = 0, len(candidates)
        while lo < hi:
            mid = (lo + hi) // 2
            manifest = await self._manifests.read(candidates[mid])
            if parse_rfc3339_ms(manifest.published_at) >= keep_from_ms:
                found, hi = manifest, mid
            else:
                lo = mid + 1
        return found

    async def _remove_manifests_below(self, floor: int, seqs: list[int]) -> int:
        doomed = [seq for seq in seqs if seq < floor]
        if not doomed:
            return 0
        await self._manifests.raise_floor(floor)
        # One at a time, oldest first: what is left stays contiguous up to the head.
        for seq in doomed:
            await self._storage.delete(manifest_path(self._domain, seq))
        return len(doomed)

    async def _remove_older(self, prefix: str, before_ms: int) -> int:
        listed = await self._storage.list(prefix)
        return await self._remove(m.path for m in listed if _modified_ms(m) < before_ms)

    async def _remove(self, paths: Iterable[str]) -> int:
        doomed = list(paths)
        gate = asyncio.Semaphore(_DELETE_CONCURRENCY)

        async def remove(path: str) -> None:
            async with gate:
                await self._storage.delete(path)

        await asyncio.gather(*(remove(path) for path in doomed))
        return len(doomed)


def _older_than(meta: ObjectMeta, prefix: str, horizon_ms: int) -> bool:
    """True if the object (``{prefix}{ulid}/...``) was written before ``horizon_ms``."""
    object_id = meta.path[len(prefix) :].split("/", 1)[0]
    if not is_ulid(object_id):
        return False  # not written by a compactor: leave it
    return ulid_timestamp_ms(object_id) < horizon_ms and _modified_ms(meta) < horizon_ms


class Retention(Generic[S]):
    """One retention pass of a compactor: expire rows, then collect objects."""

    def __init__(
        self,
        *,
        expire: Callable[[RetentionCutoffs], Awaitable[Any]],
        snapshot: Callable[[], Snapshot[S]],
        collector: GarbageCollector,
        policy: RetentionPolicy,
        clock: Clock,
        active_run: Callable[[S, str], bool],
    ) -> None:
        self._expire = expire
        self._snapshot = snapshot
        self._collector = collector
        self._policy = policy
        self._clock = clock
        self._active_run = active_run

    async def apply(self) -> Collected | None:
        await self._expire(self._policy.cutoffs(self._clock.now_ms()))
        snapshot = self._snapshot()
        if snapshot.head is None:
            return None
        state = snapshot.state
        return await self._collector.collect(
            snapshot.head, lambda run_id: self._active_run(state, run_id)
        )
