"""A fault-injecting object store for dev and tests (``ARCO_STORAGE_FAULTS``).

:class:`FaultyStore` wraps a real obstore store. :class:`~arco_core.storage.ScopedStorage`
unwraps it and, before each operation, asks it whether to fail: a chosen fraction of puts
(``create``/``overwrite``), gets (``get``/``get_range``/``head``) and lists fail with
``obstore.exceptions.GenericError`` -- the error the real store raises for a network failure,
so callers see the usual :class:`~arco_core.errors.StorageError` (UNAVAILABLE, retryable).
Every operation also sleeps ``latency_ms`` first. A failed put never reaches the store.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING

import obstore.exceptions as obs_exc

from arco_core.errors import InvalidArgument

if TYPE_CHECKING:
    from obstore.store import ObjectStore

__all__ = ["FaultSpec", "FaultyStore", "parse_fault_spec"]

_PUT_OPS = frozenset({"create", "overwrite", "delete"})
_GET_OPS = frozenset({"get", "get_range", "head"})
_LIST_OPS = frozenset({"list"})
_RATE_KEYS = ("put", "get", "list")


@dataclass(frozen=True, slots=True)
class FaultSpec:
    """Failure fractions per operation kind, added latency and the RNG seed."""

    put: float = 0.0
    get: float = 0.0
    list: float = 0.0
    latency_ms: float = 0.0
    seed: int | None = None

    def rate(self, op: str) -> float:
        if op in _PUT_OPS:
            return self.put
        if op in _GET_OPS:
            return self.get
        if op in _LIST_OPS:
            return self.list
        return 0.0

    def to_text(self) -> str:
        parts = [f"put={self.put}", f"get={self.get}", f"list={self.list}"]
        parts.append(f"latency_ms={self.latency_ms}")
        if self.seed is not None:
            parts.append(f"seed={self.seed}")
        return ",".join(parts)


def parse_fault_spec(text: str) -> FaultSpec | None:
    """``put=0.05,get=0.05,list=0.05,latency_ms=5,seed=1`` (any subset); "" is None."""
    text = text.strip()
    if not text:
        return None
    values: dict[str, float] = {}
    seed: int | None = None
    for item in text.split(","):
        key, sep, raw = item.strip().partition("=")
        key = key.strip()
        if not sep or key in values or (key == "seed" and seed is not None):
            raise InvalidArgument(f"storage fault spec item {item!r} must be a new key=value")
        try:
            if key == "seed":
                seed = int(raw)
                continue
            value = float(raw)
        except ValueError:
            raise InvalidArgument(f"storage fault spec {key} is not a number: {raw!r}") from None
        if key in _RATE_KEYS:
            if not 0.0 <= value <= 1.0:
                raise InvalidArgument(f"storage fault rate {key} must be in [0, 1], got {value}")
        elif key == "latency_ms":
            if not 0.0 <= value <= 60_000.0:
                raise InvalidArgument(f"storage fault latency_ms out of range: {value}")
        else:
            raise InvalidArgument(f"unknown storage fault spec key {key!r}")
        values[key] = value
    return FaultSpec(
        put=values.get("put", 0.0),
        get=values.get("get", 0.0),
        list=values.get("list", 0.0),
        latency_ms=values.get("latency_ms", 0.0),
        seed=seed,
    )


class FaultyStore:
    """A real store plus a :class:`FaultSpec`; only ScopedStorage knows how to use it."""

    def __init__(self, inner: ObjectStore, spec: FaultSpec) -> None:
        self.inner = inner
        self.spec = spec
        self._rng = random.Random(spec.seed)
        self.injected: dict[str, int] = {}

    async def before(self, op: str) -> None:
        """Sleep the latency, then maybe raise the network-failure error for ``op``."""
        if self.spec.latency_ms > 0:
            await asyncio.sleep(self.spec.latency_ms / 1000.0)
        rate = self.spec.rate(op)
        if rate > 0 and self._rng.random() < rate:
            self.injected[op] = self.injected.get(op, 0) + 1
            raise obs_exc.GenericError(f"injected storage fault: {op} (ARCO_STORAGE_FAULTS)")
