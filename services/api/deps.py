"""The api's dependencies of one scope, built when the scope opens and passed to that
scope's servicers."""

from __future__ import annotations

import dataclasses

from arco_core.browser import LocalUrlSigner
from arco_core.catalog import CatalogState
from arco_core.clock import Clock
from arco_core.delta import DeltaCommits
from arco_core.locks import LeaseLock
from arco_core.orchestration.fold import FoldState
from arco_core.paths import Scope
from arco_core.storage import ScopedStorage
from arco_core.tokens import TaskTokenSigner, TaskTokenVerifier
from services.api.config import ApiConfig
from services.common.committer import EventCommitter
from services.common.head_follower import HeadFollower


@dataclasses.dataclass
class ApiDeps:
    config: ApiConfig
    scope: Scope
    clock: Clock
    # Writes: ledger/, locks/, idempotency/, logs/, run_keys/ only (Role.API).
    storage: ScopedStorage
    # Reads of published state (Role.READER).
    reader_storage: ScopedStorage
    orchestration: EventCommitter[FoldState]
    # Follows the orchestration compactor's heads (a background loop of the api).
    orchestration_heads: HeadFollower[FoldState]
    catalog: EventCommitter[CatalogState]
    catalog_lock: LeaseLock
    # Delta commit coordination, over its own Role.DELTA handle (delta/ and tables/ only).
    delta: DeltaCommits
    # Verifies the bearer task tokens of worker callbacks.
    task_tokens: TaskTokenVerifier
    # Renews them in heartbeat answers (same key, issuer and audience).
    task_token_signer: TaskTokenSigner
    # Gateway-served browser URLs for a local store (None: no ARCO_BROWSER_URL_SECRET).
    url_signer: LocalUrlSigner | None = None
