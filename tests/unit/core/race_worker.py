"""Worker for the two-process commit race test (imported by spawned children)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from arco_core.clock import SystemClock
from arco_core.commit import ManifestStore
from arco_core.errors import CommitConflict
from arco_core.paths import Scope
from arco_core.storage import Role, ScopedStorage, open_object_store


@dataclass(frozen=True)
class RaceJob:
    url: str
    env: dict[str, str]
    tenant: str
    writer: str
    count: int
    start_at: float  # wall-clock time at which every worker starts publishing


async def _publish(job: RaceJob) -> list[int]:
    store = open_object_store(job.url, job.env)
    storage = ScopedStorage(store, Scope(job.tenant, "ws"), Role.COMPACTOR)
    manifests = ManifestStore(storage, "orchestration", SystemClock())
    await asyncio.sleep(max(0.0, job.start_at - time.time()))
    won: list[int] = []
    for n in range(job.count):
        while True:
            head = await manifests.head()
            prev = None if head is None else head.seq
            try:
                published = await manifests.publish(prev, {"writer": job.writer, "n": n}, epoch=1)
            except CommitConflict:
                continue
            won.append(published.seq)
            break
    return won


def publish_many(job: RaceJob) -> list[int]:
    """Publish ``job.count`` manifests, retrying on conflicts; returns the sequences won."""
    return asyncio.run(_publish(job))
