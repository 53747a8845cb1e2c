"""Errors raised by the SDK, and the exceptions asset code raises to steer retries.

Two families:

* **Definition and API errors** (:class:`AssetDefinitionError`, :class:`GraphError`,
  :class:`ArcoApiError`, :class:`CallbackRejected`): something the user or the server
  rejected. Their messages are meant to be shown as they are.
* **Task failures** (:class:`TaskFailure` and subclasses): raised *inside* an asset to
  tell the worker how to report the failure — the error category and whether the
  control plane should retry the task.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

__all__ = [
    "ArcoApiError",
    "ArcoConnectionError",
    "AssetDefinitionError",
    "CallbackRejected",
    "ConfigurationError",
    "DataQualityError",
    "DiscoveryError",
    "GraphError",
    "InfrastructureError",
    "NonRetryableError",
    "RetryableError",
    "TaskCancelled",
    "TaskFailure",
]


class AssetDefinitionError(ValueError):
    """An ``@asset`` definition is invalid (bad key, bad parameters, bad policy)."""


class DiscoveryError(RuntimeError):
    """Asset modules could not be imported; ``failures`` maps module name to the reason."""

    def __init__(self, failures: Mapping[str, str]) -> None:
        self.failures = dict(failures)
        lines = [f"  {module}: {reason}" for module, reason in sorted(self.failures.items())]
        super().__init__("asset discovery failed:\n" + "\n".join(lines))


class GraphError(ValueError):
    """The asset graph is invalid; ``problems`` lists every problem found, each naming
    the assets involved."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("invalid asset graph:\n" + "\n".join(f"  - {p}" for p in problems))


class ArcoApiError(Exception):
    """A REST call failed. ``message`` is the server's own message when it sent one."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        request_id: str | None = None,
        details: Any = None,
    ) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.request_id = request_id
        self.details = details
        suffix = f" (request id {request_id})" if request_id else ""
        super().__init__(f"{status} {code}: {message}{suffix}")


class ArcoConnectionError(ArcoApiError):
    """The server could not be reached (or did not answer in time). Status is 0."""

    def __init__(self, message: str, request_id: str | None = None) -> None:
        super().__init__(0, "UNAVAILABLE", message, request_id)


class CallbackRejected(ArcoApiError):
    """A task callback was refused with a ``CallbackErrorResponse`` body (400, 401, 404,
    409, 410). ``error`` is the machine-readable reason, e.g. ``task_already_terminal``."""

    def __init__(
        self,
        status: int,
        error: str,
        message: str,
        *,
        state: str | None = None,
        expected_attempt: int | None = None,
        received_attempt: int | None = None,
        expected_attempt_id: str | None = None,
        received_attempt_id: str | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(status, error, message, request_id)
        self.error = error
        self.state = state
        self.expected_attempt = expected_attempt
        self.received_attempt = received_attempt
        self.expected_attempt_id = expected_attempt_id
        self.received_attempt_id = received_attempt_id

    # Started/completed answers that mean "this attempt is over; do not (re)execute".
    TERMINAL_ERRORS: ClassVar[frozenset[str]] = frozenset(
        {
            "task_already_terminal",
            "attempt_already_completed",
            "attempt_mismatch",
            "attempt_id_mismatch",
            "attempt_claimed",
        }
    )

    @property
    def is_terminal(self) -> bool:
        """True when the control plane says this attempt must not run (any more)."""
        return self.status == 409 and self.error in self.TERMINAL_ERRORS

    @property
    def is_gone(self) -> bool:
        return self.status == 410


class TaskFailure(Exception):
    """Base of the exceptions asset code raises to control how a failure is reported.

    ``category`` is the worker-protocol error category; ``retryable`` overrides the
    category's default retryability when given.
    """

    category: ClassVar[str] = "USER_CODE"
    default_retryable: ClassVar[bool] = True

    def __init__(self, message: str, *, retryable: bool | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = self.default_retryable if retryable is None else retryable


class RetryableError(TaskFailure):
    """A failure worth retrying (category USER_CODE, retryable)."""


class NonRetryableError(TaskFailure):
    """A failure that retrying cannot fix (category USER_CODE, not retryable)."""

    default_retryable = False


class DataQualityError(TaskFailure):
    """The data is wrong (category DATA_QUALITY, not retryable)."""

    category = "DATA_QUALITY"
    default_retryable = False


class ConfigurationError(TaskFailure):
    """Missing or invalid configuration (category CONFIGURATION, not retryable)."""

    category = "CONFIGURATION"
    default_retryable = False


class InfrastructureError(TaskFailure):
    """A transient platform failure (category INFRASTRUCTURE, retryable)."""

    category = "INFRASTRUCTURE"


class TaskCancelled(TaskFailure):
    """Raised by :meth:`AssetContext.raise_if_cancelled`; reported as CANCELLED."""

    category = "CANCELLED"
    default_retryable = False
