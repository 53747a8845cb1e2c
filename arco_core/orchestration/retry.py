"""Retry policy for failed attempts: how long a task waits before its next attempt.

Policy, not fold: the fold only stamps the deadline this module computes.
"""

from __future__ import annotations

from typing import Final

_INT64_MAX: Final = 2**63 - 1
_RETRY_BASE_MS: Final = 30_000
_RETRY_CAP_MS: Final = 900_000


def retry_backoff_ms(attempt: int) -> int:
    """30 s doubling per attempt, capped at 900 s (attempt is 1-based)."""
    exponent = min(max(attempt - 1, 0), 6)  # 2**6 * 30 s already exceeds the cap
    return min(_RETRY_BASE_MS << exponent, _RETRY_CAP_MS)


def retry_deadline_ms(anchor_ms: int, attempt: int) -> int | None:
    """Deadline anchored on the event's ULID time; None ("retry now") if not representable."""
    deadline = anchor_ms + retry_backoff_ms(attempt)
    return deadline if 0 <= deadline <= _INT64_MAX else None
