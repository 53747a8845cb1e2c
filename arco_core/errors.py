"""The one domain error hierarchy.

Every error carries a transport-neutral ``code`` and a stable ``reason`` string. The single
mapping to gRPC status lives in ``services.common.status``; the single mapping from gRPC
status to HTTP lives in ``gateway.errors``. Reasons are public contract: never rename one.
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


class ArcoError(Exception):
    """Base of every domain error. Subclasses fix ``code`` and a default ``reason``."""

    code: ClassVar[ErrorCode] = ErrorCode.INTERNAL
    default_reason: ClassVar[str] = "internal"

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


class Unavailable(ArcoError):
    code = ErrorCode.UNAVAILABLE
    default_reason = "unavailable"


class Unimplemented(ArcoError):
    code = ErrorCode.UNIMPLEMENTED
    default_reason = "unimplemented"


class InternalError(ArcoError):
    code = ErrorCode.INTERNAL
    default_reason = "internal"


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
