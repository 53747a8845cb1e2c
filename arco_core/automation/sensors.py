"""Sensors: when a poll sensor is due, what an evaluation may return, and how its result
moves the sensor's cursor. Pure functions (no clock, no storage, no user code).

The user's function never runs in the control plane: a worker evaluates it and answers
with a cursor and run requests (:func:`parse_evaluation`). The answer names the state
version it started from, so of two concurrent evaluations only the first to be applied
moves the cursor; the other is recorded as ``SKIPPED_STALE_CURSOR`` and its run requests
are dropped (:func:`apply_evaluation`). A push message is evaluated once per message id.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final

from arco_core.canonical_json import canonical_bytes
from arco_core.errors import InvalidArgument

__all__ = [
    "DEFAULT_MINIMUM_INTERVAL_SECONDS",
    "MAX_CURSOR_BYTES",
    "MAX_RUN_REQUESTS",
    "EvaluationRecord",
    "EvaluationResult",
    "EvaluationStatus",
    "SensorKind",
    "SensorRunRequest",
    "SensorSpec",
    "SensorState",
    "SensorStatus",
    "apply_evaluation",
    "next_poll_ms",
    "parse_evaluation",
    "push_evaluation_key",
    "requested_runs",
]

DEFAULT_MINIMUM_INTERVAL_SECONDS: Final = 30
MAX_SENSOR_ID_LENGTH: Final = 256
MAX_CURSOR_BYTES: Final = 64 * 1024
MAX_RUN_REQUESTS: Final = 1000
MAX_RUN_KEY_LENGTH: Final = 512


def _invalid(message: str, reason: str) -> InvalidArgument:
    return InvalidArgument(message, reason=reason)


class SensorKind(enum.StrEnum):
    POLL = "poll"  # evaluated on a worker at most every minimum interval
    PUSH = "push"  # evaluated when a message is posted to it


class SensorStatus(enum.StrEnum):
    ACTIVE = "ACTIVE"
    PAUSED = "PAUSED"


@dataclass(frozen=True, slots=True)
class SensorSpec:
    """A validated sensor definition (from the SDK's ``@sensor`` via the manifest)."""

    sensor_id: str
    kind: SensorKind = SensorKind.POLL
    minimum_interval_seconds: int = DEFAULT_MINIMUM_INTERVAL_SECONDS

    def __post_init__(self) -> None:
        sid = self.sensor_id
        if not sid or len(sid) > MAX_SENSOR_ID_LENGTH or not sid.isprintable():
            raise _invalid(
                f"sensor id must be 1..{MAX_SENSOR_ID_LENGTH} printable characters, got {sid!r}",
                "invalid_sensor_id",
            )
        object.__setattr__(self, "kind", SensorKind(self.kind))
        if self.minimum_interval_seconds < 1:
            raise _invalid(
                "a sensor's minimum interval must be at least 1 second, "
                f"got {self.minimum_interval_seconds}",
                "invalid_minimum_interval",
            )


@dataclass(frozen=True, slots=True)
class SensorState:
    """What the projection keeps per sensor; ``state_version`` counts applied evaluations."""

    cursor: str | None = None
    last_evaluation_at_ms: int | None = None
    last_eval_id: str | None = None
    status: SensorStatus = SensorStatus.ACTIVE
    state_version: int = 0


def next_poll_ms(spec: SensorSpec, state: SensorState) -> int | None:
    """When a poll sensor is next due (None: not polled: a push sensor, or paused); a
    sensor never evaluated is due at once (0)."""
    if spec.kind is not SensorKind.POLL or state.status is not SensorStatus.ACTIVE:
        return None
    if state.last_evaluation_at_ms is None:
        return 0
    return state.last_evaluation_at_ms + spec.minimum_interval_seconds * 1000


def push_evaluation_key(sensor_id: str, message_id: str) -> str:
    """The idempotency key of a pushed message's evaluation: redelivery evaluates once."""
    if not message_id:
        raise _invalid("a pushed message needs a message id", "invalid_message_id")
    return f"sensor_eval:{sensor_id}:msg:{message_id}"


# -- a worker's answer ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SensorRunRequest:
    """A run a sensor asks for. ``run_key`` is the user's; the run is keyed
    ``sensor:{sensor_id}:{run_key}``, so asking twice (or from a replayed evaluation)
    yields one run, and no sensor can take a schedule's or another sensor's key."""

    run_key: str
    assets: tuple[str, ...]
    partition_keys: tuple[str, ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict)

    def scoped_run_key(self, sensor_id: str) -> str:
        return f"sensor:{sensor_id}:{self.run_key}"

    @property
    def fingerprint(self) -> str:
        body = {
            "assets": sorted(self.assets),
            "partitions": list(self.partition_keys),
            "labels": dict(self.labels),
        }
        return hashlib.sha256(canonical_bytes(body)).hexdigest()


@dataclass(frozen=True, slots=True)
class EvaluationResult:
    """A worker's answer: the new cursor and run requests, or an error message."""

    cursor: str | None
    run_requests: tuple[SensorRunRequest, ...] = ()
    error: str | None = None


def _text_list(raw: object, what: str) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(x, str) and x for x in raw):
        raise _invalid(f"{what} must be a list of non-empty strings", "invalid_sensor_result")
    return tuple(raw)


def _run_request(raw: object, index: int) -> SensorRunRequest:
    if not isinstance(raw, Mapping):
        raise _invalid(f"runRequests[{index}] must be an object", "invalid_sensor_result")
    key = raw.get("runKey")
    if not isinstance(key, str) or not key or len(key) > MAX_RUN_KEY_LENGTH:
        raise _invalid(
            f"runRequests[{index}].runKey must be 1..{MAX_RUN_KEY_LENGTH} characters",
            "invalid_sensor_result",
        )
    assets = _text_list(raw.get("assets"), f"runRequests[{index}].assets")
    if not assets:
        raise _invalid(f"runRequests[{index}] selects no assets", "invalid_sensor_result")
    labels = raw.get("labels") or {}
    if not isinstance(labels, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in labels.items()
    ):
        raise _invalid(
            f"runRequests[{index}].labels must map strings to strings", "invalid_sensor_result"
        )
    partitions = _text_list(raw.get("partitions"), f"runRequests[{index}].partitions")
    return SensorRunRequest(key, tuple(dict.fromkeys(assets)), partitions, dict(labels))


def parse_evaluation(raw: Mapping[str, Any]) -> EvaluationResult:
    """A worker's evaluation answer (``{cursor?, runRequests?[], error?}``), bounded."""
    cursor = raw.get("cursor")
    if cursor is not None and not isinstance(cursor, str):
        raise _invalid("cursor must be a string or null", "invalid_sensor_result")
    if cursor is not None and len(cursor.encode()) > MAX_CURSOR_BYTES:
        raise _invalid(
            f"cursor is {len(cursor.encode())} bytes; at most {MAX_CURSOR_BYTES}",
            "sensor_cursor_too_large",
        )
    error = raw.get("error")
    if error is not None and not isinstance(error, str):
        raise _invalid("error must be a string", "invalid_sensor_result")
    requests = raw.get("runRequests") or []
    if not isinstance(requests, list):
        raise _invalid("runRequests must be a list", "invalid_sensor_result")
    if len(requests) > MAX_RUN_REQUESTS:
        raise _invalid(
            f"an evaluation may request at most {MAX_RUN_REQUESTS} runs, got {len(requests)}",
            "too_many_run_requests",
        )
    if error is not None and requests:
        raise _invalid("a failed evaluation requests no runs", "invalid_sensor_result")
    parsed = tuple(_run_request(item, i) for i, item in enumerate(requests))
    keys = [r.run_key for r in parsed]
    if len(set(keys)) != len(keys):
        raise _invalid("run keys repeat within one evaluation", "invalid_sensor_result")
    return EvaluationResult(cursor, parsed, error)


# -- applying an answer --------------------------------------------------------------------


class EvaluationStatus(enum.StrEnum):
    TRIGGERED = "TRIGGERED"
    NO_NEW_DATA = "NO_NEW_DATA"
    ERROR = "ERROR"
    SKIPPED_STALE_CURSOR = "SKIPPED_STALE_CURSOR"


@dataclass(frozen=True, slots=True)
class EvaluationRecord:
    """One entry of a sensor's evaluation history."""

    eval_id: str
    status: EvaluationStatus
    cursor_before: str | None
    cursor_after: str | None
    evaluated_at_ms: int
    run_requests: tuple[SensorRunRequest, ...]
    error: str | None = None


def apply_evaluation(
    state: SensorState,
    result: EvaluationResult,
    *,
    eval_id: str,
    at_ms: int,
    expected_state_version: int | None,
) -> tuple[SensorState, EvaluationRecord]:
    """The state after applying one evaluation and its history record.

    An evaluation that started from another state version than the current one is stale:
    the state is left as it is and its run requests are dropped. A failed one keeps the
    cursor but still counts as an evaluation (the minimum interval applies to retries).
    """
    if expected_state_version is not None and expected_state_version != state.state_version:
        return state, EvaluationRecord(
            eval_id,
            EvaluationStatus.SKIPPED_STALE_CURSOR,
            state.cursor,
            state.cursor,
            at_ms,
            (),
        )
    if result.error is not None:
        status, cursor_after = EvaluationStatus.ERROR, state.cursor
    else:
        status = EvaluationStatus.TRIGGERED if result.run_requests else EvaluationStatus.NO_NEW_DATA
        cursor_after = result.cursor
    record = EvaluationRecord(
        eval_id, status, state.cursor, cursor_after, at_ms, result.run_requests, result.error
    )
    after = replace(
        state,
        cursor=cursor_after,
        last_evaluation_at_ms=at_ms,
        last_eval_id=eval_id,
        state_version=state.state_version + 1,
    )
    return after, record


def requested_runs(
    sensor_id: str, record: EvaluationRecord
) -> Sequence[tuple[str, SensorRunRequest]]:
    """The (run key, request) pairs an applied evaluation starts."""
    return [(r.scoped_run_key(sensor_id), r) for r in record.run_requests]
