"""Folds ledger events into published Parquet state for one domain of one scope.

Each commit folds a batch into the in-memory state, writes the changed rows (an L0
delta) or a full snapshot as immutable Parquet objects, and publishes manifest N+1 with
create-if-absent. Losing the race for N+1 to another compactor rolls the fold back,
catches up with the winner's manifest and retries: no event is lost or applied twice,
because the fold is idempotent per event and the state always matches a published
manifest. Deltas are merged into a new base by ``merge()`` (called when the writer is
idle), so the cost of a commit follows its batch, not the history.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Generic

import pyarrow as pa
import structlog

from arco_core.clock import Clock, SystemClock
from arco_core.commit import ManifestStore
from arco_core.compaction.parquet import artifact_for
from arco_core.compaction.verify import Verification, compare_tables
from arco_core.envelope import EventEnvelope
from arco_core.errors import CommitConflict, InvalidArgument, Unavailable
from arco_core.fold_records import FoldRecordWriter
from arco_core.folding import RetentionCutoffs
from arco_core.ids import new_ulid
from arco_core.ledger import LedgerReader
from arco_core.locks import LeaseLock
from arco_core.paths import Scope
from arco_core.projections import DomainAdapter, FoldOutcome, S
from arco_core.published import (
    Artifact,
    Base,
    Delta,
    ManifestBody,
    Snapshot,
    advance_snapshot,
    load_snapshot,
)
from arco_core.storage import Role, ScopedStorage

log = structlog.get_logger(__name__)

MAX_COMMIT_ATTEMPTS = 16


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic GC around a synchronous, allocation-heavy step.

    A fold allocates thousands of rows that live on, so young-generation collections
    find nothing to free, and with a large state in memory the older generations are
    expensive to scan. Rows hold no reference cycles; reference counting frees them.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@dataclass(frozen=True)
class CommitResult:
    seq: int | None
    applied: int
    skipped: int
    published: bool
    attempts: int = 1
    applied_ids: frozenset[str] = frozenset()
    # Per requested path (event or segment), the ids of the events it holds.
    event_ids: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


class Compactor(Generic[S]):
    def __init__(
        self,
        storage: ScopedStorage,
        adapter: DomainAdapter[S],
        *,
        clock: Clock | None = None,
        l0_max_deltas: int = 10,
        l0_max_rows: int = 100_000,
        fold_records: bool = False,
    ) -> None:
        if storage.role is not Role.COMPACTOR:
            raise InvalidArgument("the compactor needs a compactor-role storage handle")
        self._storage = storage
        self._scope: Scope = storage.scope
        self._adapter = adapter
        self._clock: Clock = clock or SystemClock()
        self._manifests = ManifestStore(storage, adapter.domain, self._clock)
        self._ledger = LedgerReader(storage, adapter.domain)
        self._l0_max_deltas = l0_max_deltas
        self._l0_max_rows = l0_max_rows
        self._lock = asyncio.Lock()
        self._snapshot: Snapshot[S] | None = None
        self._head_changed = asyncio.Condition()
        # Records of the ledger objects each commit folded, for the sweeper's hole repair.
        self._fold_records = (
            FoldRecordWriter(storage, adapter.domain, self._clock) if fold_records else None
        )
        self._recording: set[asyncio.Task[None]] = set()

    @property
    def domain(self) -> str:
        return self._adapter.domain

    @property
    def snapshot(self) -> Snapshot[S]:
        if self._snapshot is None:
            raise RuntimeError("Compactor.open() has not run")
        return self._snapshot

    async def open(self) -> Snapshot[S]:
        async with self._lock:
            head = await self._manifests.head()
            self._snapshot = await load_snapshot(self._storage, self._adapter, self._scope, head)
            log.info("compactor_opened", domain=self.domain, seq=self._snapshot.seq)
            return self._snapshot

    # -- watching ---------------------------------------------------------------------

    async def wait_for_head(
        self, after_seq: int | None, timeout: float | None = None
    ) -> Snapshot[S]:
        """Return once the published head is above ``after_seq`` (or on timeout)."""

        def moved() -> bool:
            seq = self.snapshot.seq
            return seq is not None and (after_seq is None or seq > after_seq)

        async with self._head_changed:
            if timeout is None:
                await self._head_changed.wait_for(moved)
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._head_changed.wait_for(moved), timeout)
        return self.snapshot

    async def _notify(self) -> None:
        async with self._head_changed:
            self._head_changed.notify_all()

    # -- committing -------------------------------------------------------------------

    async def compact(
        self,
        event_paths: Iterable[str],
        *,
        fencing_token: int | None = None,
        lock_name: str | None = None,
    ) -> CommitResult:
        """Fold the events at ``event_paths`` (event or segment objects) and publish (a
        no-op batch publishes nothing)."""
        paths = list(dict.fromkeys(event_paths))
        batch = await self._ledger.read_batch(paths)  # canonical paths and scope checked first
        fence: LeaseLock | None = None
        if fencing_token is not None:
            if not lock_name:
                raise InvalidArgument("a fencing token needs the lock name it belongs to")
            fence = LeaseLock(self._storage, lock_name, self._clock)
        async with self._lock:
            result = await self._commit_with_retries(batch.events, fencing_token, fence)
        self._record_folded(paths, result.seq)
        return dataclasses.replace(result, event_ids=batch.event_ids)

    def _record_folded(self, paths: Sequence[str], seq: int | None) -> None:
        """Record, in the background, that the published state holds ``paths``' events:
        the caller does not wait for it, and a lost record only means the sweeper asks for
        those objects again."""
        if self._fold_records is None or not paths:
            return
        writer = self._fold_records

        async def write() -> None:
            try:
                await writer.write(paths, seq)
            except Exception as exc:
                log.warning(
                    "fold_record_failed", domain=self.domain, paths=len(paths), error=repr(exc)
                )

        task = asyncio.create_task(write(), name="compactor-fold-record")
        self._recording.add(task)
        task.add_done_callback(self._recording.discard)

    async def flush_fold_records(self) -> None:
        """Wait for the records being written (a clean shutdown; tests)."""
        while self._recording:
            await asyncio.gather(*self._recording, return_exceptions=True)

    async def _commit_with_retries(
        self,
        events: Sequence[EventEnvelope],
        fencing_token: int | None,
        fence: LeaseLock | None,
    ) -> CommitResult:
        for attempt in range(1, MAX_COMMIT_ATTEMPTS + 1):
            await self._catch_up()
            if fence is not None and fencing_token is not None:
                await fence.validate(fencing_token)
            snapshot = self.snapshot
            with gc_paused():
                outcome = self._adapter.fold(snapshot.state, events, self._scope)
            watermark = _max_event_id(snapshot.manifest, events)
            previous_watermark = snapshot.manifest.last_event_id if snapshot.manifest else None
            if not outcome.changed and watermark == previous_watermark:
                outcome.rollback()
                return CommitResult(snapshot.seq, 0, len(events), published=False, attempts=attempt)
            try:
                if fence is not None and fencing_token is not None:
                    await fence.validate(fencing_token)  # again: the lock may have expired
                await self._publish(snapshot, outcome, events, watermark, fencing_token)
            except CommitConflict:
                outcome.rollback()
                log.info("compaction_commit_conflict", domain=self.domain, attempt=attempt)
                await asyncio.sleep(min(0.001 * 2**attempt, 0.05))
                continue
            except BaseException:
                outcome.rollback()
                raise
            await self._notify()
            return CommitResult(
                self.snapshot.seq,
                outcome.applied,
                outcome.skipped,
                published=True,
                attempts=attempt,
                applied_ids=outcome.applied_ids,
            )
        raise Unavailable(
            f"could not publish {self.domain} after {MAX_COMMIT_ATTEMPTS} attempts",
            reason="commit_contention",
        )

    async def adopt_published_head(self) -> bool:
        """Adopt (and announce to watchers) a head another writer published; True if the
        head moved. Waits for a commit in progress, which catches up on its own."""
        async with self._lock:
            before = self.snapshot.seq
            await self._catch_up()
            moved = self.snapshot.seq != before
        if moved:
            await self._notify()
        return moved

    async def _catch_up(self) -> None:
        """Adopt manifests another writer published since our last commit."""
        current = self.snapshot
        seq = await self._manifests.head_seq()
        if seq == current.seq:
            return
        head = await self._manifests.read(seq) if seq is not None else None
        if head is None:
            return
        if current.manifest is None:
            self._snapshot = await load_snapshot(self._storage, self._adapter, self._scope, head)
        else:
            self._snapshot = await advance_snapshot(
                self._storage, self._adapter, self._scope, current, head
            )
        log.info("compactor_caught_up", domain=self.domain, seq=seq)

    async def _publish(
        self,
        snapshot: Snapshot[S],
        outcome: FoldOutcome[S],
        events: Sequence[EventEnvelope],
        watermark: str | None,
        fencing_token: int | None,
        *,
        retention: RetentionCutoffs | None = None,
    ) -> None:
        previous = snapshot.manifest
        next_seq = 0 if snapshot.seq is None else snapshot.seq + 1
        epoch = max(snapshot.head.epoch if snapshot.head else 0, fencing_token or 0)
        self._adapter.stamp_commit(outcome, seq=next_seq, epoch=epoch, now_ms=self._clock.now_ms())
        deltas = previous.deltas if previous else ()
        base = previous.base if previous else None
        hard_cap = 2 * self._l0_max_deltas
        if self._adapter.full_snapshots or base is None or len(deltas) + 1 > hard_cap:
            base = await self._write_base(outcome.state)
            deltas = ()
        elif outcome.upserts or outcome.tombstones:
            deltas = (*deltas, await self._write_delta(outcome, events))
        body = ManifestBody(
            domain=self.domain,
            base=base,
            deltas=tuple(deltas),
            last_event_id=watermark,
            events_applied=(previous.events_applied if previous else 0) + outcome.applied,
            fencing_token=fencing_token,
            retention=retention or (previous.retention if previous else RetentionCutoffs()),
        )
        head = await self._manifests.publish(snapshot.seq, body.to_json(), epoch)
        self._snapshot = Snapshot(
            seq=head.seq,
            state=outcome.state,
            manifest=body,
            head=head,
            applied_delta_ids=tuple(d.delta_id for d in body.deltas),
        )

    async def _write_tables(
        self, directory: str, tables: Mapping[str, pa.Table], suffix: str = ""
    ) -> dict[str, Artifact]:
        return await self._put_artifacts(_encode(directory, tables, suffix))

    async def _put_artifacts(
        self, built: Mapping[str, tuple[Artifact, bytes]]
    ) -> dict[str, Artifact]:
        await asyncio.gather(
            *(self._storage.create_or_verify(art.path, data) for art, data in built.values())
        )
        return {name: art for name, (art, _) in built.items()}

    async def _write_base(self, state: S) -> Base:
        return await self._write_base_tables(self._adapter.tables(state))

    async def _write_base_tables(self, tables: Mapping[str, pa.Table]) -> Base:
        """A new base of ``tables``, encoded in a worker thread (Arrow releases the GIL)."""
        snapshot_id = new_ulid()
        directory = f"snapshots/{self.domain}/{snapshot_id}"
        built = await asyncio.to_thread(_encode, directory, tables)
        return Base(snapshot_id=snapshot_id, tables=await self._put_artifacts(built))

    async def _write_delta(self, outcome: FoldOutcome[S], events: Sequence[EventEnvelope]) -> Delta:
        delta_id = new_ulid()
        directory = f"state/{self.domain}/l0/{delta_id}"
        upserts = await self._write_tables(directory, outcome.upserts)
        tombstones = await self._write_tables(directory, outcome.tombstones, ".tombstones")
        return Delta(
            delta_id=delta_id,
            tables=upserts,
            tombstones=tombstones,
            first_event_id=events[0].event_id if events else None,
            last_event_id=events[-1].event_id if events else None,
            event_count=len(events),
        )

    # -- maintenance ------------------------------------------------------------------

    async def expire(self, cutoffs: RetentionCutoffs) -> CommitResult:
        """Remove the rows retention no longer keeps and publish that, with the cutoffs
        (which only rise), as one commit of tombstones; nothing to remove publishes nothing."""
        async with self._lock:
            for attempt in range(1, MAX_COMMIT_ATTEMPTS + 1):
                await self._catch_up()
                snapshot = self.snapshot
                previous = snapshot.manifest.retention if snapshot.manifest else None
                if previous is None:
                    return CommitResult(snapshot.seq, 0, 0, published=False, attempts=attempt)
                raised = previous.raised_to(cutoffs)
                with gc_paused():
                    outcome = self._adapter.expire(snapshot.state, raised)
                if outcome is None or not outcome.changed:
                    if outcome is not None:
                        outcome.rollback()
                    return CommitResult(snapshot.seq, 0, 0, published=False, attempts=attempt)
                watermark = snapshot.manifest.last_event_id if snapshot.manifest else None
                try:
                    await self._publish(snapshot, outcome, (), watermark, None, retention=raised)
                except CommitConflict:
                    outcome.rollback()
                    continue
                except BaseException:
                    outcome.rollback()
                    raise
                await self._notify()
                removed = sum(t.num_rows for t in outcome.tombstones.values())
                log.info(
                    "compactor_expired", domain=self.domain, seq=self.snapshot.seq, rows=removed
                )
                return CommitResult(self.snapshot.seq, 0, 0, published=True, attempts=attempt)
        raise Unavailable(f"could not expire {self.domain}", reason="commit_contention")

    def merge_due(self) -> bool:
        manifest = self._snapshot.manifest if self._snapshot else None
        if manifest is None or not manifest.deltas:
            return False
        rows = sum(
            a.rows for d in manifest.deltas for a in (*d.tables.values(), *d.tombstones.values())
        )
        return len(manifest.deltas) >= self._l0_max_deltas or rows >= self._l0_max_rows

    async def merge(self) -> CommitResult:
        """Write the current state as a new base and publish it, rebasing the deltas
        committed meanwhile onto it.

        Only taking the tables happens under the commit lock; encoding (in a worker
        thread) and writing the base do not, so commits go on while a large base is
        built. The published manifest holds exactly the state of the one before it.
        """
        for attempt in range(1, MAX_COMMIT_ATTEMPTS + 1):
            async with self._lock:
                await self._catch_up()
                origin = self.snapshot
                if origin.manifest is None or not origin.manifest.deltas:
                    return CommitResult(origin.seq, 0, 0, published=False, attempts=attempt)
                tables = self._adapter.tables(origin.state)  # a copy, as of origin.seq
            log.info(
                "compactor_merge_started",
                domain=self.domain,
                seq=origin.seq,
                deltas=len(origin.manifest.deltas),
            )
            base = await self._write_base_tables(tables)
            async with self._lock:
                await self._catch_up()
                current = self.snapshot
                body, folded = current.manifest, origin.manifest.deltas
                if (
                    body is None
                    or body.base != origin.manifest.base
                    or body.deltas[: len(folded)] != folded
                ):
                    continue  # a rebuild or another merge replaced the base: start over
                later = body.deltas[len(folded) :]
                merged = dataclasses.replace(
                    body, base=base, deltas=later, merged_from_seq=current.seq
                )
                epoch = current.head.epoch if current.head else 0
                try:
                    head = await self._manifests.publish(current.seq, merged.to_json(), epoch)
                except CommitConflict:
                    continue
                self._snapshot = Snapshot(
                    head.seq, current.state, merged, head, tuple(d.delta_id for d in later)
                )
            log.info("compactor_merged_base", domain=self.domain, seq=head.seq, rebased=len(later))
            await self._notify()
            return CommitResult(head.seq, 0, 0, published=True, attempts=attempt)
        raise Unavailable(f"could not merge {self.domain}", reason="commit_contention")

    async def _whole_ledger(self) -> list[str]:
        """Every event and segment path of this domain's ledger in the scope."""
        return await self._ledger.scan_paths_after(None)

    async def rebuild(self, event_paths: Sequence[str] | None = None) -> Rebuilt:
        """Replay the whole ledger (or, for a partial rebuild, only ``event_paths``) from
        scratch in event_id order and publish the result as a new base; the published
        state then equals what was replayed, whatever came before."""
        whole = event_paths is None
        paths = await self._whole_ledger() if event_paths is None else list(event_paths)
        paths = list(dict.fromkeys(paths))
        events = await self._ledger.read(paths)
        async with self._lock:
            for attempt in range(1, MAX_COMMIT_ATTEMPTS + 1):
                await self._catch_up()
                snapshot = self.snapshot
                retention = snapshot.manifest.retention if snapshot.manifest else None
                with gc_paused():
                    outcome = self._adapter.fold(
                        self._adapter.empty_state(self._scope), events, self._scope
                    )
                    if retention is not None:
                        # What retention removed stays removed: the replay applies it too.
                        self._adapter.expire(outcome.state, retention)
                next_seq = 0 if snapshot.seq is None else snapshot.seq + 1
                epoch = snapshot.head.epoch if snapshot.head else 0
                self._adapter.stamp_commit(
                    outcome, seq=next_seq, epoch=epoch, now_ms=self._clock.now_ms()
                )
                tables = self._adapter.tables(outcome.state)
                base = await self._write_base_tables(tables)
                body = ManifestBody(
                    domain=self.domain,
                    base=base,
                    deltas=(),
                    last_event_id=events[-1].event_id if events else None,
                    events_applied=outcome.applied,
                    retention=retention or RetentionCutoffs(),
                )
                try:
                    head = await self._manifests.publish(snapshot.seq, body.to_json(), epoch)
                except CommitConflict:
                    continue
                self._snapshot = Snapshot(head.seq, outcome.state, body, head, ())
                await self._notify()
                self._record_folded(paths, head.seq)
                log.info(
                    "compactor_rebuilt",
                    domain=self.domain,
                    seq=head.seq,
                    events=len(events),
                    whole=whole,
                )
                commit = CommitResult(
                    head.seq, outcome.applied, outcome.skipped, True, attempt, outcome.applied_ids
                )
                return Rebuilt(
                    commit=commit,
                    paths_read=len(paths),
                    table_rows={name: t.num_rows for name, t in sorted(tables.items())},
                    whole=whole,
                )
        raise Unavailable(f"could not rebuild {self.domain}", reason="commit_contention")

    async def verify(self) -> Verification:
        """Replay the whole ledger into a fresh state in memory (nothing is written) and
        compare it, table by table, with the latest published state."""
        async with self._lock:
            await self._catch_up()
            snapshot = self.snapshot
            published = self._adapter.tables(snapshot.state)  # a copy, as of snapshot.seq
        events = await self._ledger.read(await self._whole_ledger())
        with gc_paused():
            outcome = self._adapter.fold(
                self._adapter.empty_state(self._scope), events, self._scope
            )
            if snapshot.manifest is not None:
                self._adapter.expire(outcome.state, snapshot.manifest.retention)
        replayed = self._adapter.tables(outcome.state)
        diffs = compare_tables(
            published, replayed, self._adapter.table_key, self._adapter.publish_log_tables()
        )
        return Verification(
            seq=snapshot.seq,
            events_replayed=outcome.applied,
            tables=diffs,
            published_last_event_id=snapshot.manifest.last_event_id if snapshot.manifest else None,
            ledger_last_event_id=events[-1].event_id if events else None,
        )


@dataclass(frozen=True)
class Rebuilt:
    commit: CommitResult
    # Ledger objects (event or segment files) read.
    paths_read: int
    table_rows: Mapping[str, int]
    # False for a partial rebuild from the paths the caller named.
    whole: bool


def _encode(
    directory: str, tables: Mapping[str, pa.Table], suffix: str = ""
) -> dict[str, tuple[Artifact, bytes]]:
    """Each table as its Parquet artifact under ``directory`` and the bytes to write."""
    return {
        name: artifact_for(directory, f"{name}{suffix}", table)
        for name, table in sorted(tables.items())
    }


def _max_event_id(manifest: ManifestBody | None, events: Sequence[EventEnvelope]) -> str | None:
    previous = manifest.last_event_id if manifest else None
    batch = events[-1].event_id if events else None
    if previous is None:
        return batch
    if batch is None:
        return previous
    return max(previous, batch)
