"""The api's dependencies, built once per process and passed to every servicer."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from arco_core.browser import LocalUrlSigner
from arco_core.clock import Clock
from arco_core.ledger import EventEnvelope, LedgerWriter
from arco_core.locks import LeaseLock
from arco_core.paths import Scope
from arco_core.published import ProjectionReader, Snapshot
from arco_core.storage import ScopedStorage
from arco_core.tokens import TaskTokenVerifier
from services.api.auth import CallerAuth
from services.api.config import ApiConfig
from services.common.compactor_client import CompactorClient


class EventCommitter:
    """Append events to one domain's ledger, have its compactor fold exactly those paths,
    and return the published state that contains them (read-your-writes)."""

    def __init__(
        self, writer: LedgerWriter, compactor: CompactorClient, reader: ProjectionReader
    ) -> None:
        self.writer = writer
        self.compactor = compactor
        self.reader = reader

    async def append(self, events: Sequence[EventEnvelope]) -> list[str]:
        return await self.writer.append_all(list(events))

    async def commit(self, events: Sequence[EventEnvelope], *, request_id: str = "") -> Snapshot:
        paths = await self.append(events)
        answer = await self.compactor.compact(paths, request_id=request_id)
        return await self.reader.refresh(min_seq=answer.manifest_seq)

    async def commit_fenced(
        self, events: Sequence[EventEnvelope], *, token: int, lock_name: str, request_id: str = ""
    ) -> Snapshot:
        paths = await self.append(events)
        answer = await self.compactor.sync_compact(
            paths, fencing_token=token, lock_name=lock_name, request_id=request_id
        )
        return await self.reader.refresh(min_seq=answer.manifest_seq)


@dataclasses.dataclass
class ApiDeps:
    config: ApiConfig
    scope: Scope
    clock: Clock
    # Writes: ledger/, locks/, idempotency/, logs/, run_keys/ only (Role.API).
    storage: ScopedStorage
    # Reads of published state (Role.READER).
    reader_storage: ScopedStorage
    auth: CallerAuth
    orchestration: EventCommitter
    catalog: EventCommitter
    catalog_lock: LeaseLock
    # Verifies the bearer task tokens of worker callbacks.
    task_tokens: TaskTokenVerifier
    # Gateway-served browser URLs for a local store (None: no ARCO_BROWSER_URL_SECRET).
    url_signer: LocalUrlSigner | None = None

    async def close(self) -> None:
        await self.orchestration.compactor.close()
        await self.catalog.compactor.close()
