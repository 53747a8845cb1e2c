"""A fenced lease lock that needs only create-if-absent (works on LocalStore).

Each acquisition creates ``locks/{name}/{epoch:020d}.json``; the creator of epoch ``n`` holds
fencing token ``n``. Epochs are contiguous from 1, so the current epoch is found by the same
hint-then-probe search as manifest heads. An epoch ends when it expires or when its holder
creates ``{epoch:020d}.released``. Nothing is ever overwritten except the advisory hint.
There is no renewal: a holder that needs longer must re-acquire (and gets a new token).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final

import structlog

from arco_core.canonical_json import canonical_bytes, parse_json_object
from arco_core.clock import Clock, parse_rfc3339_ms, rfc3339_ms
from arco_core.commit import find_last_sequence, read_hint
from arco_core.errors import (
    ArcoError,
    InternalError,
    InvalidArgument,
    ObjectAlreadyExists,
    ObjectNotFound,
    StaleFencingToken,
    Unavailable,
)
from arco_core.paths import lock_epoch_path, lock_head_hint_path, lock_prefix, lock_release_path
from arco_core.storage import ScopedStorage

__all__ = ["DEFAULT_LOCK_TTL_MS", "Lease", "LeaseLock", "LockRecord"]

_log = structlog.get_logger(__name__)

DEFAULT_LOCK_TTL_MS: Final = 30_000
_BACKOFF_START_S: Final = 0.02
_BACKOFF_CAP_S: Final = 1.0


@dataclass(frozen=True, slots=True)
class LockRecord:
    """The content of one epoch object."""

    epoch: int
    holder_id: str
    acquired_at_ms: int
    expires_at_ms: int

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "epoch": self.epoch,
            "holderId": self.holder_id,
            "acquiredAt": rfc3339_ms(self.acquired_at_ms),
            "expiresAt": rfc3339_ms(self.expires_at_ms),
        }

    @classmethod
    def from_bytes(cls, data: bytes) -> LockRecord:
        doc = parse_json_object(data)
        try:
            epoch = doc["epoch"]
            holder = doc["holderId"]
            if not isinstance(epoch, int) or not isinstance(holder, str):
                raise TypeError
            return cls(
                epoch=epoch,
                holder_id=holder,
                acquired_at_ms=parse_rfc3339_ms(doc["acquiredAt"]),
                expires_at_ms=parse_rfc3339_ms(doc["expiresAt"]),
            )
        except (KeyError, TypeError, InvalidArgument) as exc:
            raise InternalError("lock record is corrupt", reason="lock_corrupt") from exc


@dataclass(frozen=True, slots=True)
class Lease:
    """A held lock. ``token`` (the epoch) is the fencing token to hand to writers."""

    name: str
    token: int
    holder_id: str
    expires_at_ms: int


class LeaseLock:
    """One named lock in one scope. Writing requires a role that owns ``locks/`` (API)."""

    def __init__(
        self,
        storage: ScopedStorage,
        name: str,
        clock: Clock,
        *,
        ttl_ms: int = DEFAULT_LOCK_TTL_MS,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        lock_prefix(name)  # validates the name before any I/O
        if ttl_ms <= 0:
            raise InvalidArgument("lock ttl must be positive")
        self._storage = storage
        self._name = name
        self._clock = clock
        self._ttl_ms = ttl_ms
        self._sleep = sleep
        self._rng = rng or random.Random()

    @property
    def name(self) -> str:
        return self._name

    async def _epoch_exists(self, epoch: int) -> bool:
        return await self._storage.exists(lock_epoch_path(self._name, epoch))

    async def current_epoch(self) -> int:
        """Highest created epoch (0 if the lock was never taken)."""
        try:
            hint = read_hint(await self._storage.get(lock_head_hint_path(self._name)))
        except ObjectNotFound:
            hint = None
        found = await find_last_sequence(self._epoch_exists, hint, first=1)
        return found or 0

    async def read(self, epoch: int) -> LockRecord:
        record = LockRecord.from_bytes(await self._storage.get(lock_epoch_path(self._name, epoch)))
        if record.epoch != epoch:
            raise InternalError(f"lock epoch {epoch} is corrupt", reason="lock_corrupt")
        return record

    async def is_released(self, epoch: int) -> bool:
        return await self._storage.exists(lock_release_path(self._name, epoch))

    async def _is_free(self, epoch: int) -> tuple[bool, int]:
        """(free?, ms until the current holder's lease expires)."""
        if epoch == 0:
            return True, 0
        record = await self.read(epoch)
        remaining = record.expires_at_ms - self._clock.now_ms()
        if remaining <= 0 or await self.is_released(epoch):
            return True, 0
        return False, remaining

    async def try_acquire(self, holder_id: str, *, ttl_ms: int | None = None) -> Lease | None:
        """One attempt: a Lease if the lock was free and this caller won the next epoch."""
        if not holder_id:
            raise InvalidArgument("holder_id must not be empty")
        epoch = await self.current_epoch()
        free, _ = await self._is_free(epoch)
        if not free:
            return None
        return await self._take(epoch + 1, holder_id, ttl_ms or self._ttl_ms)

    async def _take(self, epoch: int, holder_id: str, ttl_ms: int) -> Lease | None:
        now = self._clock.now_ms()
        record = LockRecord(epoch, holder_id, now, now + ttl_ms)
        try:
            await self._storage.create(
                lock_epoch_path(self._name, epoch), canonical_bytes(record.to_json_dict())
            )
        except ObjectAlreadyExists:
            return None
        try:
            await self._storage.overwrite(
                lock_head_hint_path(self._name), canonical_bytes({"seq": epoch})
            )
        except Exception as exc:  # advisory only
            _log.warning("lock_hint_failed", lock=self._name, epoch=epoch, error=repr(exc))
        _log.info("lock_acquired", lock=self._name, epoch=epoch, holder_id=holder_id)
        return Lease(self._name, epoch, holder_id, record.expires_at_ms)

    async def acquire(
        self, holder_id: str, *, timeout_s: float = 10.0, ttl_ms: int | None = None
    ) -> Lease:
        """Wait (jittered exponential backoff) until the lock is won or ``timeout_s`` passes.

        Raises Unavailable (reason ``lock_unavailable``) on timeout.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        delay = _BACKOFF_START_S
        while True:
            epoch = await self.current_epoch()
            free, remaining_ms = await self._is_free(epoch)
            if free:
                lease = await self._take(epoch + 1, holder_id, ttl_ms or self._ttl_ms)
                if lease is not None:
                    return lease
                # Lost the race for this epoch: look again right away.
                continue
            left = deadline - loop.time()
            if left <= 0:
                raise Unavailable(
                    f"lock {self._name} is held (epoch {epoch})",
                    reason="lock_unavailable",
                    metadata={"lock": self._name, "epoch": str(epoch)},
                )
            pause = min(delay, remaining_ms / 1000, left) * self._rng.uniform(0.5, 1.0)
            await self._sleep(max(pause, 0.001))
            delay = min(delay * 2, _BACKOFF_CAP_S)

    async def release(self, lease: Lease) -> None:
        """End ``lease``. Idempotent; harmless if the lease already expired or was taken."""
        if lease.name != self._name:
            raise InvalidArgument("lease belongs to another lock")
        marker = {"epoch": lease.token, "holderId": lease.holder_id}
        try:
            await self._storage.create_or_verify(
                lock_release_path(self._name, lease.token), canonical_bytes(marker)
            )
        except ArcoError as exc:
            if exc.reason != "object_content_conflict":
                raise
            raise InvalidArgument(
                f"epoch {lease.token} was released by another holder", reason="not_lock_holder"
            ) from exc
        _log.info("lock_released", lock=self._name, epoch=lease.token)

    async def validate(self, token: int | Lease) -> LockRecord:
        """Check the token is the current, unexpired, unreleased epoch; StaleFencingToken
        otherwise. Returns the current lock record."""
        epoch = token.token if isinstance(token, Lease) else token
        if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 1:
            raise StaleFencingToken(f"invalid fencing token {epoch!r}")
        current = await self.current_epoch()
        if epoch != current:
            raise StaleFencingToken(
                f"fencing token {epoch} is not the current epoch {current} of {self._name}",
                metadata={"token": str(epoch), "current": str(current)},
            )
        record = await self.read(epoch)
        if record.expires_at_ms <= self._clock.now_ms():
            raise StaleFencingToken(f"fencing token {epoch} of {self._name} has expired")
        if await self.is_released(epoch):
            raise StaleFencingToken(f"fencing token {epoch} of {self._name} was released")
        return record
