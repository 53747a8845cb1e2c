"""Commit protocol without compare-and-swap.

Manifests are immutable objects ``manifests/{domain}/{seq:020d}.json`` created with
create-if-absent, so exactly one writer wins each sequence number and the sequence is
contiguous from 0. The head is the highest existing sequence. ``_head.json`` is an
advisory hint (overwritten after each publish, possibly stale or lost); readers start from
it and probe forward, so they always find the true head.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import structlog

from arco_core.canonical_json import canonical_bytes, parse_json_object
from arco_core.clock import Clock, SystemClock, rfc3339_ms
from arco_core.errors import (
    ArcoError,
    CommitConflict,
    InternalError,
    InvalidArgument,
    ObjectAlreadyExists,
    ObjectNotFound,
    StaleFencingToken,
)
from arco_core.paths import (
    manifest_floor_path,
    manifest_head_hint_path,
    manifest_path,
    validate_domain,
)
from arco_core.storage import ScopedStorage

__all__ = [
    "RESERVED_MANIFEST_FIELDS",
    "Head",
    "ManifestStore",
    "find_last_sequence",
]

_log = structlog.get_logger(__name__)

RESERVED_MANIFEST_FIELDS: Final = frozenset({"seq", "previous_seq", "epoch", "published_at"})


async def find_last_sequence(
    exists: Callable[[int], Awaitable[bool]], hint: int | None, *, first: int = 0
) -> int | None:
    """Highest ``n >= first`` with ``exists(n)``, for a set that is contiguous from ``first``.

    Starts at the hint when it exists, gallops forward (1, 2, 4 ...) until a miss, then
    binary-searches the gap. A hint beyond the head (it should never be, but hints are not
    trusted) bounds the search from above instead. Returns None if ``first`` is missing.
    """
    lo: int
    hi: int | None = None  # smallest index known to be missing
    if hint is not None and hint >= first and await exists(hint):
        lo = hint
    else:
        if hint is not None and hint > first:
            hi = hint
        if not await exists(first):
            return None
        lo = first
    if hi is None:
        step = 1
        while await exists(lo + step):
            lo += step
            step *= 2
        hi = lo + step
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if await exists(mid):
            lo = mid
        else:
            hi = mid
    return lo


def read_hint(data: bytes) -> int | None:
    """Parse ``{"seq": n}``; anything unreadable is no hint at all."""
    try:
        value = parse_json_object(data).get("seq")
    except ArcoError:
        return None
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


@dataclass(frozen=True)
class Head:
    """One published manifest. ``body`` holds the caller's fields only."""

    seq: int
    previous_seq: int | None
    epoch: int
    published_at: str
    body: Mapping[str, Any] = field(hash=False)
    path: str = ""

    def to_json_dict(self) -> dict[str, Any]:
        return {
            **self.body,
            "seq": self.seq,
            "previous_seq": self.previous_seq,
            "epoch": self.epoch,
            "published_at": self.published_at,
        }


def _check_epoch(epoch: int) -> int:
    if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
        raise InvalidArgument(f"epoch must be a non-negative integer, got {epoch!r}")
    return epoch


class ManifestStore:
    """Publishes and reads the manifest chain of one domain."""

    def __init__(self, storage: ScopedStorage, domain: str, clock: Clock | None = None) -> None:
        self._storage = storage
        self._domain = validate_domain(domain)
        self._clock: Clock = clock or SystemClock()

    @property
    def domain(self) -> str:
        return self._domain

    async def _exists(self, seq: int) -> bool:
        return await self._storage.exists(manifest_path(self._domain, seq))

    async def _hint(self) -> int | None:
        try:
            return read_hint(await self._storage.get(manifest_head_hint_path(self._domain)))
        except ObjectNotFound:
            return None

    async def head_seq(self) -> int | None:
        """The true head sequence (None before the first publish)."""
        hint = await self._hint()
        found = await find_last_sequence(self._exists, hint)
        if found is not None:
            return found
        # Nothing at 0: nothing was published yet, or retention removed the oldest manifests.
        floor = await self.floor()
        return None if floor == 0 else await find_last_sequence(self._exists, hint, first=floor)

    async def _floor_marker(self) -> tuple[int, int] | None:
        """The newest floor marker: (its index, the floor it records)."""

        async def exists(n: int) -> bool:
            return await self._storage.exists(manifest_floor_path(self._domain, n))

        last = await find_last_sequence(exists, None)
        if last is None:
            return None
        value = read_hint(await self._storage.get(manifest_floor_path(self._domain, last)))
        if value is None:
            raise InternalError(f"floor marker {last} of {self._domain} is corrupt")
        return last, value

    async def floor(self) -> int:
        """The lowest sequence still kept: manifests below it were removed by retention."""
        marker = await self._floor_marker()
        return 0 if marker is None else marker[1]

    async def raise_floor(self, seq: int) -> None:
        """Record that manifests below ``seq`` may be removed. Markers are create-only and
        numbered from 0, so a reader finds the newest without listing; the floor only rises.
        Call before removing anything: a reader whose head hint is gone searches up from it.
        """
        while True:
            marker = await self._floor_marker()
            if marker is not None and marker[1] >= seq:
                return
            n = 0 if marker is None else marker[0] + 1
            try:
                await self._storage.create(
                    manifest_floor_path(self._domain, n), canonical_bytes({"seq": seq})
                )
                return
            except ObjectAlreadyExists:
                continue  # another compactor raised it meanwhile: look again

    async def head(self) -> Head | None:
        seq = await self.head_seq()
        return None if seq is None else await self.read(seq)

    async def read(self, seq: int) -> Head:
        """The manifest at ``seq``; ObjectNotFound if it was never published."""
        path = manifest_path(self._domain, seq)
        doc = parse_json_object(await self._storage.get(path))
        stored_seq = doc.get("seq")
        epoch = doc.get("epoch")
        previous = doc.get("previous_seq")
        published_at = doc.get("published_at")
        if (
            stored_seq != seq
            or not isinstance(epoch, int)
            or not isinstance(published_at, str)
            or (previous is not None and previous != seq - 1)
        ):
            raise InternalError(f"manifest {path} is corrupt", reason="manifest_corrupt")
        body = {k: v for k, v in doc.items() if k not in RESERVED_MANIFEST_FIELDS}
        return Head(
            seq=seq,
            previous_seq=previous,
            epoch=epoch,
            published_at=published_at,
            body=body,
            path=path,
        )

    async def publish(
        self, expected_prev_seq: int | None, body: Mapping[str, Any], epoch: int
    ) -> Head:
        """Create manifest ``expected_prev_seq + 1`` (``0`` when None).

        Raises CommitConflict if another writer already published that sequence (reload
        and retry), StaleFencingToken if ``epoch`` is lower than the previous manifest's.
        """
        _check_epoch(epoch)
        if not isinstance(body, Mapping):
            raise InvalidArgument("manifest body must be an object")
        clash = RESERVED_MANIFEST_FIELDS.intersection(body)
        if clash:
            raise InvalidArgument(f"manifest body uses reserved fields: {sorted(clash)}")
        if expected_prev_seq is None:
            if await self.floor() > 0:  # manifest 0 was published and removed since
                raise CommitConflict(f"{self._domain} has manifests: reload the head")
            seq = 0
        else:
            try:
                previous = await self.read(expected_prev_seq)
            except ObjectNotFound:
                raise CommitConflict(
                    f"previous manifest {expected_prev_seq} does not exist",
                    metadata={"expected_prev_seq": str(expected_prev_seq)},
                ) from None
            if epoch < previous.epoch:
                raise StaleFencingToken(
                    f"epoch {epoch} is older than the head's epoch {previous.epoch}",
                    metadata={"epoch": str(epoch), "head_epoch": str(previous.epoch)},
                )
            seq = expected_prev_seq + 1
        head = Head(
            seq=seq,
            previous_seq=expected_prev_seq,
            epoch=epoch,
            published_at=rfc3339_ms(self._clock.now_ms()),
            body=dict(body),
            path=manifest_path(self._domain, seq),
        )
        data = canonical_bytes(head.to_json_dict())
        try:
            await self._storage.create(head.path, data)
        except ObjectAlreadyExists:
            raise CommitConflict(
                f"manifest {seq} of {self._domain} was published by another writer",
                metadata={"seq": str(seq)},
            ) from None
        await self._write_hint(seq)
        _log.info("manifest_published", domain=self._domain, seq=seq, epoch=epoch)
        return head

    async def _write_hint(self, seq: int) -> None:
        try:
            await self._storage.overwrite(
                manifest_head_hint_path(self._domain), canonical_bytes({"seq": seq})
            )
        except Exception as exc:  # the hint is advisory: readers probe past a stale one
            _log.warning("manifest_head_hint_failed", domain=self._domain, seq=seq, error=repr(exc))
