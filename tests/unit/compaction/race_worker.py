"""Child process of the compactor race test: one compactor folding its share of batches."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from arco_core.compaction.engine import Compactor
from arco_core.paths import Scope
from arco_core.projections import OrchestrationAdapter
from arco_core.storage import Role, ScopedStorage, open_object_store


@dataclass(frozen=True)
class CompactJob:
    url: str
    env: dict[str, str]
    tenant: str
    workspace: str
    batches: list[list[str]]
    start_at: float


async def _run(job: CompactJob) -> list[int]:
    store = open_object_store(job.url, job.env)
    storage = ScopedStorage(store, Scope(job.tenant, job.workspace), Role.COMPACTOR)
    engine = Compactor(storage, OrchestrationAdapter())
    await engine.open()
    await asyncio.sleep(max(0.0, job.start_at - time.time()))
    seqs = []
    for batch in job.batches:
        result = await engine.compact(batch)
        assert result.seq is not None
        seqs.append(result.seq)
    return seqs


def compact_batches(job: CompactJob) -> list[int]:
    return asyncio.run(_run(job))
