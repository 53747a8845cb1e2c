"""The one domain error hierarchy.

Every error carries a transport-neutral ``code`` and a stable ``reason`` string. Each class
registers itself under ``(code, default_reason)``; clients rebuild the specific class from
the reason on the wire (:func:`error_class`). The gRPC status is the code's name
(``services.common.status``); the HTTP status is the gateway's table for that gRPC status
unless the class pins ``http_status`` (a status gRPC cannot express, such as 410). Reasons
are public contract: never rename one.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import ClassVar


class ErrorCode(enum.Enum):
    """Transport-neutral error classes (a subset of the canonical gRPC codes)."""

    INVALID_ARGUMENT = "INVALID_ARGUMENT"
    NOT_FOUND = "NOT_FOUND"
    ALREADY_EXISTS = "ALREADY_EXISTS"
    FAILED_PRECONDITION = "FAILED_PRECONDITION"
    ABORTED = "ABORTED"
    PERMISSION_DENIED = "PERMISSION_DENIED"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    RESOURCE_EXHAUSTED = "RESOURCE_EXHAUSTED"
    UNAVAILABLE = "UNAVAILABLE"
    DEADLINE_EXCEEDED = "DEADLINE_EXCEEDED"
    UNIMPLEMENTED = "UNIMPLEMENTED"
    INTERNAL = "INTERNAL"


_BY_REASON: dict[tuple[ErrorCode, str], type[ArcoError]] = {}
_BY_CODE: dict[ErrorCode, type[ArcoError]] = {}


class ArcoError(Exception):
    """Base of every domain error. Subclasses fix ``code`` and a default ``reason``."""

    code: ClassVar[ErrorCode] = ErrorCode.INTERNAL
    default_reason: ClassVar[str] = "internal"
    # An HTTP status the gRPC code cannot express; None: the gateway's table decides.
    http_status: ClassVar[int | None] = None

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        key = (cls.code, cls.default_reason)
        if key in _BY_REASON:
            raise TypeError(f"{cls.__name__} repeats {_BY_REASON[key].__name__}'s {key}")
        _BY_REASON[key] = cls
        _BY_CODE.setdefault(cls.code, cls)  # the first class of a code is its base

    def __init__(
        self,
        message: str,
        *,
        reason: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason or self.default_reason
        self.metadata: dict[str, str] = dict(metadata or {})

    def __repr__(self) -> str:
        return f"{type(self).__name__}(reason={self.reason!r}, message={self.message!r})"


class InvalidArgument(ArcoError):
    code = ErrorCode.INVALID_ARGUMENT
    default_reason = "invalid_argument"


class NotFound(ArcoError):
    code = ErrorCode.NOT_FOUND
    default_reason = "not_found"


class AlreadyExists(ArcoError):
    code = ErrorCode.ALREADY_EXISTS
    default_reason = "already_exists"


class Conflict(ArcoError):
    """A well-formed request that conflicts with current state (HTTP 409)."""

    code = ErrorCode.ABORTED
    default_reason = "conflict"


class FailedPrecondition(ArcoError):
    code = ErrorCode.FAILED_PRECONDITION
    default_reason = "failed_precondition"


class PermissionDenied(ArcoError):
    code = ErrorCode.PERMISSION_DENIED
    default_reason = "permission_denied"


class Unauthenticated(ArcoError):
    code = ErrorCode.UNAUTHENTICATED
    default_reason = "unauthenticated"


class ResourceExhausted(ArcoError):
    code = ErrorCode.RESOURCE_EXHAUSTED
    default_reason = "resource_exhausted"


class PayloadTooLarge(ResourceExhausted):
    """A request over a size limit of the service. RESOURCE_EXHAUSTED, as gRPC answers a
    message over its own limit; pinned to 413 because the table's 429 means "slow down"."""

    default_reason = "payload_too_large"
    http_status = 413


class Unavailable(ArcoError):
    code = ErrorCode.UNAVAILABLE
    default_reason = "unavailable"


class Unimplemented(ArcoError):
    code = ErrorCode.UNIMPLEMENTED
    default_reason = "unimplemented"


class InternalError(ArcoError):
    code = ErrorCode.INTERNAL
    default_reason = "internal"


class DeadlineExceeded(Unavailable):
    """The call ran out of time; callers retry it like any other unavailability."""

    code = ErrorCode.DEADLINE_EXCEEDED
    default_reason = "deadline_exceeded"


# Storage-level errors -------------------------------------------------------------------


class StorageError(ArcoError):
    """An object store failure that is not the caller's fault (retryable by callers)."""

    code = ErrorCode.UNAVAILABLE
    default_reason = "storage_unavailable"


class ObjectNotFound(NotFound):
    default_reason = "object_not_found"


class ObjectAlreadyExists(AlreadyExists):
    """A create-if-absent write lost to an existing object."""

    default_reason = "object_already_exists"


class InvalidPath(InvalidArgument):
    default_reason = "invalid_path"


class RoleWriteDenied(PermissionDenied):
    """A storage handle tried to write outside the prefixes its role owns."""

    default_reason = "role_write_denied"


class StaleFencingToken(FailedPrecondition):
    default_reason = "stale_fencing_token"


class ScopeViolation(PermissionDenied):
    """Work or data for another tenant/workspace reached this process."""

    default_reason = "scope_violation"


class CommitConflict(Conflict):
    """Another writer already published the sequence number this writer tried to create."""

    default_reason = "commit_conflict"


# Task-callback errors: the worker protocol documents each reason and its HTTP status ---------


class TaskNotFound(NotFound):
    default_reason = "task_not_found"


class TaskIdAmbiguous(InvalidArgument):
    default_reason = "task_id_ambiguous"


class InvalidToken(Unauthenticated):
    default_reason = "invalid_token"


class TaskAlreadyTerminal(Conflict):
    default_reason = "task_already_terminal"


class AttemptMismatch(Conflict):
    default_reason = "attempt_mismatch"


class AttemptIdMismatch(Conflict):
    default_reason = "attempt_id_mismatch"


class AttemptAlreadyCompleted(Conflict):
    default_reason = "attempt_already_completed"


class AttemptNotStarted(Conflict):
    default_reason = "attempt_not_started"


class AttemptClaimed(Conflict):
    """``started`` for an attempt another worker already started: this one must not run it."""

    default_reason = "attempt_claimed"


class TaskExpired(FailedPrecondition):
    """A heartbeat for a task that is no longer active: the worker must stop."""

    default_reason = "task_expired"
    http_status = 410  # Gone; gRPC has no such code


# Delta commit errors --------------------------------------------------------------------


class StaleReadVersion(Conflict):
    """A Delta commit whose read_version is not the table's latest version."""

    default_reason = "stale_read_version"


# Schedule errors ------------------------------------------------------------------------


class InvalidCronExpression(InvalidArgument):
    default_reason = "invalid_cron"


class UnknownTimezone(InvalidArgument):
    default_reason = "unknown_timezone"


def error_classes() -> tuple[type[ArcoError], ...]:
    """Every registered error class (the contract tests walk them)."""
    return tuple(_BY_REASON.values())


def error_class(code: ErrorCode, reason: str) -> type[ArcoError]:
    """The class a client rebuilds for ``(code, reason)``: the specific one, else the code's base."""
    return _BY_REASON.get((code, reason)) or _BY_CODE.get(code, InternalError)
