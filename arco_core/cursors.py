"""The opaque page cursor of every keyset-paginated list (catalog and orchestration).

A cursor is base64url without padding of canonical JSON: ``{"key": last}`` when a list is
ordered by one key, ``{"keys": [...]}`` when by several. Clients treat it as opaque; the
server rejects anything it did not mint the same way (InvalidArgument, reason
``invalid_cursor``), so a hand-edited cursor never turns into a server error.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from typing import Any

from arco_core.canonical_json import canonical_bytes
from arco_core.errors import InvalidArgument

__all__ = ["decode_cursor", "decode_keys_cursor", "encode_cursor", "encode_keys_cursor"]


def _encode(value: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(canonical_bytes(value)).decode("ascii").rstrip("=")


def _invalid() -> InvalidArgument:
    return InvalidArgument("invalid cursor", reason="invalid_cursor")


def _decode(cursor: str, field: str) -> object:
    if not cursor or "=" in cursor or len(cursor) % 4 == 1:
        raise _invalid()
    try:
        raw = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True)
        decoded = json.loads(raw.decode("utf-8"))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise _invalid() from None
    if not isinstance(decoded, dict) or set(decoded) != {field}:
        raise _invalid()
    return decoded[field]


def encode_cursor(key: str) -> str:
    """The cursor that resumes after ``key``."""
    return _encode({"key": key})


def decode_cursor(cursor: str) -> str:
    """The last key encoded in ``cursor``."""
    key = _decode(cursor, "key")
    if not isinstance(key, str) or not key:
        raise _invalid()
    return key


def encode_keys_cursor(keys: Sequence[str]) -> str:
    """The cursor that resumes after the row whose sort keys are ``keys``."""
    return _encode({"keys": list(keys)})


def decode_keys_cursor(cursor: str, arity: int) -> list[str]:
    """The ``arity`` sort keys encoded in ``cursor``."""
    keys = _decode(cursor, "keys")
    if not (
        isinstance(keys, list) and len(keys) == arity and all(isinstance(k, str) for k in keys)
    ):
        raise _invalid()
    return keys
