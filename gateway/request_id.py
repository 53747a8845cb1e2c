"""Request ids: a caller's X-Request-Id is kept (when sane), otherwise a new ULID."""

from __future__ import annotations

import os
import re
import time

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_ACCEPTABLE = re.compile(r"^[A-Za-z0-9._:/+=-]{1,128}$")


def new_ulid(now: float | None = None) -> str:
    millis = int((time.time() if now is None else now) * 1000) & ((1 << 48) - 1)
    value = (millis << 80) | int.from_bytes(os.urandom(10), "big")
    return "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


def accept_or_new(header: str | None) -> str:
    """The caller's id if it is short printable ASCII (it is echoed and logged)."""
    if header and _ACCEPTABLE.fullmatch(header):
        return header
    return new_ulid()
