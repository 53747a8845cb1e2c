"""Identifiers: monotonic ULIDs and the deterministic ids of the orchestration domain."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
import threading
from dataclasses import dataclass

from arco_core.clock import Clock, SystemClock
from arco_core.errors import InvalidArgument

__all__ = [
    "TimerId",
    "UlidGenerator",
    "callback_task_id",
    "cloud_task_id",
    "cron_timer_id",
    "deterministic_attempt_id",
    "dispatch_id",
    "heartbeat_timer_id",
    "is_ulid",
    "new_ulid",
    "parse_callback_task_id",
    "parse_timer_id",
    "plan_id_for_run",
    "retry_timer_id",
    "run_id_from_run_key",
    "run_key_hash",
    "sla_timer_id",
    "ulid_floor",
    "ulid_timestamp_ms",
]

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_DECODE = {c: i for i, c in enumerate(_CROCKFORD)}
# 26 chars; the first one carries only 3 bits, so it is at most "7".
_ULID_RE = re.compile(r"^[0-7][0-9A-HJKMNP-TV-Z]{25}$")
_MAX_TIME = (1 << 48) - 1
_MAX_RANDOM = (1 << 80) - 1


def _encode_ulid(timestamp_ms: int, randomness: int) -> str:
    value = (timestamp_ms << 80) | randomness
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 0x1F])
        value >>= 5
    return "".join(reversed(chars))


class UlidGenerator:
    """Thread-safe monotonic ULID generator.

    Within one millisecond (or if the clock steps backwards) the 80-bit random part is
    incremented, so ids from one generator are strictly increasing in generation order.
    """

    def __init__(self, clock: Clock | None = None) -> None:
        self._clock: Clock = clock or SystemClock()
        self._lock = threading.Lock()
        self._last_ms = -1
        self._last_random = 0

    def new(self) -> str:
        with self._lock:
            now = self._clock.now_ms()
            if now > self._last_ms:
                self._last_ms = now
                self._last_random = secrets.randbits(80)
            elif self._last_random < _MAX_RANDOM:
                self._last_random += 1
            else:
                # Random space of this millisecond is exhausted: borrow the next one.
                self._last_ms += 1
                self._last_random = secrets.randbits(79)
            if self._last_ms > _MAX_TIME:
                raise InvalidArgument("clock beyond the ULID time range", reason="invalid_clock")
            return _encode_ulid(self._last_ms, self._last_random)


# The single documented module-level mutable: ULID monotonicity is a per-process property
# (ids generated anywhere in this process must sort in generation order), so every caller
# that does not inject its own generator shares this one.
_DEFAULT_GENERATOR = UlidGenerator(SystemClock())


def new_ulid() -> str:
    """A new ULID from the process-wide monotonic generator."""
    return _DEFAULT_GENERATOR.new()


def ulid_floor(timestamp_ms: int) -> str:
    """The smallest ULID of ``timestamp_ms``: ids of that millisecond or later sort after
    (or equal) it, so it serves as a listing offset by time."""
    if not 0 <= timestamp_ms <= _MAX_TIME:
        raise InvalidArgument(
            f"{timestamp_ms} is outside the ULID time range", reason="invalid_ulid"
        )
    return _encode_ulid(timestamp_ms, 0)


def is_ulid(value: object) -> bool:
    """True for a 26-character uppercase Crockford ULID."""
    return isinstance(value, str) and _ULID_RE.fullmatch(value) is not None


def ulid_timestamp_ms(ulid: str) -> int:
    """The millisecond timestamp embedded in ``ulid``."""
    if not is_ulid(ulid):
        raise InvalidArgument(f"not a ULID: {ulid!r}", reason="invalid_ulid")
    value = 0
    for char in ulid[:10]:
        value = (value << 5) | _DECODE[char]
    return value


# Deterministic orchestration ids ------------------------------------------------------------


def dispatch_id(run_id: str, task_key: str, attempt: int) -> str:
    return f"dispatch:{run_id}:{task_key}:{attempt}"


def deterministic_attempt_id(dispatch_id_value: str) -> str:
    digest = hashlib.sha256(b"attempt:" + dispatch_id_value.encode("utf-8")).hexdigest()
    return "att_" + digest[:24]


def _b32_lower_nopad(data: bytes) -> str:
    return base64.b32encode(data).decode("ascii").rstrip("=").lower()


def cloud_task_id(prefix: str, internal_id: str) -> str:
    """Provider-safe task name: ``{prefix}_`` + 26 chars of base32(sha256(internal_id))."""
    if not re.fullmatch(r"[a-z][a-z0-9]*", prefix):
        raise InvalidArgument(f"invalid cloud task id prefix {prefix!r}", reason="invalid_prefix")
    digest = hashlib.sha256(internal_id.encode("utf-8")).digest()
    return f"{prefix}_{_b32_lower_nopad(digest)[:26]}"


_CT1_PREFIX = "ct1_"


def callback_task_id(run_id: str, task_key: str) -> str:
    """Opaque callback ``taskId``: ``ct1_`` + base64url-nopad(run_id NUL task_key)."""
    if not run_id or not task_key or "\0" in run_id or "\0" in task_key:
        raise InvalidArgument(
            "run_id and task_key must be non-empty and contain no NUL", reason="invalid_payload"
        )
    raw = run_id.encode("utf-8") + b"\0" + task_key.encode("utf-8")
    return _CT1_PREFIX + base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def parse_callback_task_id(task_id: str) -> tuple[str, str]:
    """Inverse of :func:`callback_task_id`; returns ``(run_id, task_key)``."""
    if not task_id.startswith(_CT1_PREFIX):
        raise InvalidArgument(
            f"callback task id must start with {_CT1_PREFIX!r}", reason="missing_prefix"
        )
    body = task_id[len(_CT1_PREFIX) :]
    if not re.fullmatch(r"[A-Za-z0-9_-]*", body) or len(body) % 4 == 1:
        raise InvalidArgument("callback task id is not base64url", reason="invalid_base64")
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except (binascii.Error, ValueError) as exc:
        raise InvalidArgument("callback task id is not base64url", reason="invalid_base64") from exc
    parts = raw.split(b"\0")
    if len(parts) != 2 or not parts[0] or not parts[1]:
        raise InvalidArgument(
            "callback task id payload must be run_id NUL task_key", reason="invalid_payload"
        )
    try:
        return parts[0].decode("utf-8"), parts[1].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidArgument(
            "callback task id payload is not UTF-8", reason="invalid_utf8"
        ) from exc


def retry_timer_id(run_id: str, task_key: str, attempt: int, fire_epoch: int) -> str:
    return f"timer:retry:{run_id}:{task_key}:{attempt}:{fire_epoch}"


def heartbeat_timer_id(run_id: str, task_key: str, attempt: int, check_epoch: int) -> str:
    return f"timer:heartbeat:{run_id}:{task_key}:{attempt}:{check_epoch}"


def sla_timer_id(run_id: str, task_key: str, attempt: int, epoch: int) -> str:
    return f"timer:sla:{run_id}:{task_key}:{attempt}:{epoch}"


def cron_timer_id(schedule_id: str, fire_epoch: int) -> str:
    return f"timer:cron:{schedule_id}:{fire_epoch}"


@dataclass(frozen=True, slots=True)
class TimerId:
    """A parsed timer id. ``run_id``/``task_key``/``attempt`` are None for cron timers."""

    timer_type: str  # retry | heartbeat | sla | cron
    epoch: int
    run_id: str | None = None
    task_key: str | None = None
    attempt: int | None = None
    schedule_id: str | None = None


def parse_timer_id(timer_id: str) -> TimerId:
    """Parse any ``timer:...`` id. Run and task ids may themselves contain ``:``."""

    def bad() -> InvalidArgument:
        return InvalidArgument(f"invalid timer id {timer_id!r}", reason="invalid_timer_id")

    parts = timer_id.split(":")
    if len(parts) < 4 or parts[0] != "timer":
        raise bad()
    kind = parts[1]
    if not re.fullmatch(r"[0-9]+", parts[-1]):
        raise bad()
    epoch = int(parts[-1])
    if kind == "cron":
        schedule = ":".join(parts[2:-1])
        if not schedule:
            raise bad()
        return TimerId(timer_type="cron", epoch=epoch, schedule_id=schedule)
    if (
        kind not in ("retry", "heartbeat", "sla")
        or len(parts) < 6
        or not re.fullmatch(r"[0-9]+", parts[-2])
    ):
        raise bad()
    # Task keys never contain ":" (asset keys are dotted); run ids might, so the run id
    # takes the remaining leading segments.
    run_id = ":".join(parts[2:-3])
    task_key = parts[-3]
    if not run_id or not task_key:
        raise bad()
    return TimerId(
        timer_type=kind, epoch=epoch, run_id=run_id, task_key=task_key, attempt=int(parts[-2])
    )


def run_id_from_run_key(secret: bytes, tenant_id: str, workspace_id: str, run_key: str) -> str:
    """Deterministic run id for automation runs: a keyed hash, so keys cannot be guessed."""
    mac = hmac.new(secret, f"{tenant_id}:{workspace_id}:{run_key}".encode(), hashlib.sha256)
    return "run_" + _b32_lower_nopad(mac.digest()[:16])[:26]


def plan_id_for_run(run_id: str) -> str:
    return f"plan_{run_id}"


def run_key_hash(run_key: str) -> str:
    """The 40-hex-char digest naming a run-key reservation object."""
    return hashlib.sha256(run_key.encode("utf-8")).hexdigest()[:40]
