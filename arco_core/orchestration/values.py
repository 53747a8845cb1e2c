"""Value records carried inside orchestration event payloads (and the enums they use).

They are declared for :mod:`arco_core.codec` like the payloads in
:mod:`arco_core.orchestration.events`; worker-contract objects (``TaskError``) keep the
worker's camelCase keys.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Annotated, Any

from arco_core.codec import Bool, Choice, Codec, Dialect, Int, Problem, Str, StrList, Timestamp
from arco_core.orchestration.state import DEFAULT_WORKER_QUEUE

__all__ = [
    "ORCHESTRATION_CODEC",
    "TRIGGER_FIELDS",
    "ErrorCategory",
    "OutputVisibility",
    "TaskDef",
    "TaskError",
    "TriggerInfo",
    "VisibilityState",
]

ORCHESTRATION_CODEC = Codec(
    Dialect(
        envelope="{owner}: {message}",
        reason="invalid_event_payload",
        templates=MappingProxyType(
            {
                Problem.NOT_STRING: "field {key!r} must be a string",
                Problem.NOT_NONEMPTY_STRING: "field {key!r} must be a string",
                Problem.EMPTY: "field {key!r} must not be empty",
                Problem.NOT_INT: "field {key!r} must be an integer >= {minimum}",
                Problem.NOT_BOOL: "field {key!r} must be a boolean",
                Problem.NOT_OBJECT: "field {key!r} must be an object",
                Problem.NOT_RECORD: "must be an object",
                Problem.NOT_TIMESTAMP: "field {key!r} must be an RFC 3339 timestamp",
                Problem.MISSING: "field {key!r} is required",
                Problem.NOT_STR_LIST: "field {key!r} must be a list of strings",
                Problem.NOT_STR_MAP: "field {key!r} must map strings to strings",
                Problem.NOT_LIST: "field {key!r} must be a list",
                Problem.UNKNOWN_CHOICE: "unknown {label} {value!r}",
            }
        ),
        owner_attr="EVENT_TYPE",
        nested_owner_is_parent=False,
    )
)


class VisibilityState(enum.StrEnum):
    PENDING = "pending"
    VISIBLE = "visible"
    FAILED = "failed"


class ErrorCategory(enum.StrEnum):
    USER_CODE = "USER_CODE"
    DATA_QUALITY = "DATA_QUALITY"
    INFRASTRUCTURE = "INFRASTRUCTURE"
    CONFIGURATION = "CONFIGURATION"
    TIMEOUT = "TIMEOUT"
    CANCELLED = "CANCELLED"

    @property
    def retryable_by_default(self) -> bool:
        return self in (
            ErrorCategory.USER_CODE,
            ErrorCategory.INFRASTRUCTURE,
            ErrorCategory.TIMEOUT,
        )


# The detail keys each trigger type carries, in wire order.
TRIGGER_FIELDS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "cron": ("schedule_id",),
        "manual": ("user_id",),
        "materialization": ("upstream_materialization_id",),
        "webhook": ("webhook_id",),
        "sensor": ("sensor_id", "cursor"),
    }
)
_TRIGGER_TAG = Str(nonempty=True)
_TRIGGER_DETAIL = Str(optional=True)


@dataclass(frozen=True, slots=True)
class TriggerInfo:
    """How a run was triggered: a tagged union (``kind`` is the JSON ``type`` tag) whose
    detail keys depend on the tag, so it has its own wire form."""

    kind: str
    fields: Mapping[str, str | None] = field(default_factory=dict)

    @classmethod
    def manual(cls, user_id: str) -> TriggerInfo:
        return cls("manual", {"user_id": user_id})

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.kind}
        for name in TRIGGER_FIELDS.get(self.kind, tuple(sorted(self.fields))):
            if self.fields.get(name) is not None:
                out[name] = self.fields[name]
        return out

    @classmethod
    def from_json(cls, d: Any) -> TriggerInfo:
        codec, owner = ORCHESTRATION_CODEC, cls.__name__
        if not isinstance(d, Mapping):
            raise codec.error(owner, "must be an object")
        kind: str = codec.read(d, "type", _TRIGGER_TAG, owner)
        names = TRIGGER_FIELDS.get(kind)
        if names is None:
            raise codec.error(owner, f"unknown trigger type {kind!r}")
        return cls(kind, {n: codec.read(d, n, _TRIGGER_DETAIL, owner) for n in names})


@dataclass(frozen=True, slots=True)
class TaskDef:
    key: Annotated[str, Str(nonempty=True)]
    depends_on: Annotated[tuple[str, ...], StrList()] = ()
    asset_key: Annotated[str | None, Str(optional=True)] = None
    partition_key: Annotated[str | None, Str(optional=True)] = None
    max_attempts: Annotated[int, Int(minimum=1, optional=True, default=3)] = 3
    heartbeat_timeout_sec: Annotated[int, Int(minimum=0, optional=True, default=300)] = 300
    requires_visible_output: Annotated[bool, Bool(optional=True, default=False)] = False
    worker_queue: Annotated[str, Str(optional=True, default=DEFAULT_WORKER_QUEUE)] = (
        DEFAULT_WORKER_QUEUE
    )


@dataclass(frozen=True, slots=True)
class TaskError:
    """Worker error object (camelCase on the wire; ``stack_trace`` is also accepted)."""

    category: Annotated[str, Str(nonempty=True)]
    message: Annotated[str, Str()]
    stack_trace: Annotated[
        str | None, Str(optional=True, wire="stackTrace", alias="stack_trace")
    ] = None
    retryable: Annotated[bool | None, Bool(optional=True)] = None

    def effective_retryable(self) -> bool:
        if self.retryable is not None:
            return self.retryable
        try:
            return ErrorCategory(self.category.upper()).retryable_by_default
        except ValueError:
            # An unknown category comes from a newer worker; failing safe means retrying.
            return True


@dataclass(frozen=True, slots=True)
class OutputVisibility:
    visibility_state: Annotated[VisibilityState, Choice(VisibilityState, "visibility state")]
    published_at: Annotated[int | None, Timestamp()] = None  # epoch ms
    publish_error: Annotated[str | None, Str(optional=True)] = None
