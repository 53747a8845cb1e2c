"""The rows of the api's query settings: its worker pool (read-only SQL runs in worker
processes) and the cache of published states the queries read."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from arco_runtime.settings import Setting, integer, number, setting_field

MIB = 1024 * 1024

QUERY_WORKERS = integer(
    "ARCO_QUERY_WORKERS",
    "query worker processes of the api; each runs one query at a time, more wait for a free "
    "one (at most the time limit, then 429 query_pool_busy)",
    2,
    minimum=1,
)
QUERY_WORKER_MEMORY_BYTES = integer(
    "ARCO_QUERY_WORKER_MEMORY_BYTES",
    "hard address-space cap (RLIMIT_AS) of each query worker, bytes; a query that needs more "
    "fails with 429 query_too_expensive and its worker is replaced. A worker needs about "
    "600 MiB of address space before its first query",
    2048 * MIB,
    minimum=768 * MIB,
)
QUERY_TIMEOUT_SEC = number(
    "ARCO_QUERY_TIMEOUT_SEC",
    "time limit of one query; a worker still running it half a second later is killed and "
    "replaced (400 query_timeout)",
    10.0,
    minimum=0.1,
)
QUERY_STATE_CACHE_ENTRIES = integer(
    "ARCO_QUERY_STATE_CACHE_ENTRIES",
    "published states (a domain at one version, converted to Arrow) the api keeps for "
    "/query and /query-data, least recently used evicted first; the head and each asOf "
    "version queried is one",
    16,
    minimum=1,
)
QUERY_STATE_CACHE_ROWS = integer(
    "ARCO_QUERY_STATE_CACHE_ROWS",
    "rows those cached states may hold together (the newest stays even when it alone is "
    "over); about 100 to 250 bytes of api memory a row",
    1_000_000,
    minimum=1,
)

QUERY_SETTINGS: tuple[Setting[Any], ...] = (
    QUERY_WORKERS,
    QUERY_WORKER_MEMORY_BYTES,
    QUERY_TIMEOUT_SEC,
    QUERY_STATE_CACHE_ENTRIES,
    QUERY_STATE_CACHE_ROWS,
)


@dataclasses.dataclass(frozen=True)
class QueryConfig:
    workers: int = setting_field(QUERY_WORKERS)
    worker_memory_bytes: int = setting_field(QUERY_WORKER_MEMORY_BYTES)
    timeout_sec: float = setting_field(QUERY_TIMEOUT_SEC)
    state_cache_entries: int = setting_field(QUERY_STATE_CACHE_ENTRIES)
    state_cache_rows: int = setting_field(QUERY_STATE_CACHE_ROWS)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> QueryConfig:
        return cls(
            workers=QUERY_WORKERS.read(env),
            worker_memory_bytes=QUERY_WORKER_MEMORY_BYTES.read(env),
            timeout_sec=QUERY_TIMEOUT_SEC.read(env),
            state_cache_entries=QUERY_STATE_CACHE_ENTRIES.read(env),
            state_cache_rows=QUERY_STATE_CACHE_ROWS.read(env),
        )
