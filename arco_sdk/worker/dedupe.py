"""Dispatch de-duplication: which dispatch ids are executing here and which recently
finished, so a redelivery is answered IN_FLIGHT or DUPLICATE instead of running twice."""

from __future__ import annotations

from collections import OrderedDict
from typing import Literal

__all__ = ["DispatchLedger"]


class DispatchLedger:
    """In-flight and recently completed dispatch ids (process memory; the durable guard
    is the control plane's answer to ``started``). Used from the event loop only."""

    def __init__(self, recent_limit: int = 1024) -> None:
        self._limit = recent_limit
        self._in_flight: set[str] = set()
        self._recent: OrderedDict[str, None] = OrderedDict()

    def claim(self, dispatch_id: str) -> Literal["claimed", "in_flight", "duplicate"]:
        if dispatch_id in self._recent:
            self._recent.move_to_end(dispatch_id)
            return "duplicate"
        if dispatch_id in self._in_flight:
            return "in_flight"
        self._in_flight.add(dispatch_id)
        return "claimed"

    def finish(self, dispatch_id: str, *, done: bool) -> None:
        """Release the claim; ``done`` records the id as completed."""
        self._in_flight.discard(dispatch_id)
        if done:
            self._recent[dispatch_id] = None
            self._recent.move_to_end(dispatch_id)
            while len(self._recent) > self._limit:
                self._recent.popitem(last=False)

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)
