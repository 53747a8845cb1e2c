"""Append events to a domain's ledger and wait until its compactor has published them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Generic

from arco_core.clock import Clock
from arco_core.envelope import EventEnvelope
from arco_core.ledger import LedgerWriter
from arco_core.ledger_batching import BatchingLedgerWriter
from arco_core.orchestration.fold import FoldState
from arco_core.paths import Scope
from arco_core.projections import OrchestrationAdapter, S
from arco_core.published import ProjectionReader, Snapshot
from arco_core.storage import Role, ScopedStorage
from arco_core.storage_faults import FaultyStore
from services.common.compactor_client import CompactorClient

if TYPE_CHECKING:
    from obstore.store import ObjectStore


class EventCommitter(Generic[S]):
    """Append events to one domain's ledger, have its compactor fold exactly those paths,
    and return the published state that contains them (read-your-writes).

    Appends go through a group-appending writer: events of concurrent callers share one
    ledger segment object, so a busy service pays one durable put per group instead of
    one per event (ARCHITECTURE §11).
    """

    def __init__(
        self, writer: LedgerWriter, compactor: CompactorClient, reader: ProjectionReader[S]
    ) -> None:
        self.writer = BatchingLedgerWriter(writer)
        self.compactor = compactor
        self.reader = reader

    async def append(self, events: Sequence[EventEnvelope]) -> list[str]:
        return await self.writer.append(list(events))

    async def commit(self, events: Sequence[EventEnvelope], *, request_id: str = "") -> Snapshot[S]:
        seq = await self.compact(await self.append(events), request_id=request_id)
        return await self.reader.refresh(min_seq=seq)

    async def compact(self, paths: Sequence[str], *, request_id: str = "") -> int:
        """Have the compactor fold ledger objects already appended; the manifest sequence
        at which they are visible."""
        answer = await self.compactor.compact(paths, request_id=request_id)
        return answer.manifest_seq

    async def commit_fenced(
        self, events: Sequence[EventEnvelope], *, token: int, lock_name: str, request_id: str = ""
    ) -> Snapshot[S]:
        paths = await self.append(events)
        answer = await self.compactor.sync_compact(
            paths, fencing_token=token, lock_name=lock_name, request_id=request_id
        )
        return await self.reader.refresh(min_seq=answer.manifest_seq)


def orchestration_committer(
    store: ObjectStore | FaultyStore,
    scope: Scope,
    role: Role,
    compactor: CompactorClient,
    clock: Clock,
) -> EventCommitter[FoldState]:
    """The committer of a service that writes orchestration events under ``role`` and
    reads the published projection with a reader-role handle on the same store."""
    return EventCommitter(
        LedgerWriter(ScopedStorage(store, scope, role), "orchestration", clock),
        compactor,
        ProjectionReader(ScopedStorage(store, scope, Role.READER), OrchestrationAdapter(), scope),
    )
