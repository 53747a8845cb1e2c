"""Shared helpers of the catalog domain tests: a tiny "API" that plans, wraps and folds."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence

from arco_core.catalog import CatalogEventPayload, CatalogState, fold, make_event
from arco_core.envelope import EventEnvelope

TENANT = "acme"
WORKSPACE = "prod"
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z


def ulid_like(n: int) -> str:
    """A 26-char id that sorts by ``n`` (digits are valid Crockford characters)."""
    return f"01K{n:023d}"


class Harness:
    """Appends planned payloads as envelopes with increasing ids and folds them."""

    def __init__(self) -> None:
        self.state = CatalogState()
        self.events: list[EventEnvelope] = []
        self._seq: Iterator[int] = itertools.count(1)
        self.now_ms = T0

    def wrap(self, payloads: Sequence[CatalogEventPayload]) -> list[EventEnvelope]:
        return [
            make_event(
                p,
                tenant_id=TENANT,
                workspace_id=WORKSPACE,
                timestamp_ms=self.now_ms,
                event_id=ulid_like(next(self._seq)),
            )
            for p in payloads
        ]

    def commit(self, payloads: Sequence[CatalogEventPayload]) -> list[EventEnvelope]:
        envelopes = self.wrap(payloads)
        self.events.extend(envelopes)
        self.state = fold(envelopes, self.state).state
        self.now_ms += 1000
        return envelopes
