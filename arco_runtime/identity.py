"""The caller identity the gateway forwards to the api, signed with a shared secret.

The gateway authenticates the public caller (JWT, or dev headers in dev posture) and
forwards the result as two gRPC metadata entries:

``x-arco-identity``
    base64url (no padding) of a compact JSON object
    ``{"v": 1, "tenant": ..., "workspace": ..., "user": ..., "groups": [...], "exp": <epoch s>}``
``x-arco-identity-sig``
    base64url (no padding) of HMAC-SHA256(``ARCO_IDENTITY_SECRET``, the exact decoded bytes
    of ``x-arco-identity``)

The MAC covers tenant, workspace, user, groups and the expiry together, so none of them
can be altered or replayed after the expiry. The api calls ``verify_identity`` on every
RPC that needs a caller; any failure is an ``IdentityError`` with a stable ``reason``.

Pure standard library: the gateway (which must not import the domain core) uses it too.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import hmac
import json
import re
from collections.abc import Iterable, Sequence

IDENTITY_KEY = "x-arco-identity"
SIGNATURE_KEY = "x-arco-identity-sig"
VERSION = 1
DEFAULT_TTL_SEC = 60.0

# Tenant and workspace ids are the storage scope: lower-case, no separators.
_SCOPE_ID = re.compile(r"^[a-z0-9_-]{1,128}$")
MAX_PRINCIPAL_TEXT = 512


class IdentityError(ValueError):
    """The forwarded identity is missing, malformed, forged or expired.

    ``reason`` is one of ``missing``, ``malformed``, ``bad_signature``, ``expired`` or
    ``invalid`` (a field fails validation); the message never echoes the secret.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclasses.dataclass(frozen=True)
class Identity:
    """An authenticated caller, scoped to exactly one tenant and workspace."""

    tenant: str
    workspace: str
    user: str = ""
    groups: tuple[str, ...] = ()
    expires_at: int = 0

    def __post_init__(self) -> None:
        for name in ("tenant", "workspace"):
            value = getattr(self, name)
            if not isinstance(value, str) or not _SCOPE_ID.fullmatch(value):
                raise IdentityError("invalid", f"{name} must match [a-z0-9_-]{{1,128}}")
        for value in (self.user, *self.groups):
            if not isinstance(value, str) or not principal_text_ok(value):
                raise IdentityError("invalid", "user and groups must be short printable strings")


def principal_text_ok(text: str) -> bool:
    """A user id or group a caller may carry: at most 512 characters, no control ones."""
    return len(text) <= MAX_PRINCIPAL_TEXT and not any(
        ord(char) < 0x20 or ord(char) == 0x7F for char in text
    )


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: str, payload: bytes) -> bytes:
    return hmac.new(secret.encode("utf-8"), payload, hashlib.sha256).digest()


def sign_identity(
    tenant: str,
    workspace: str,
    user: str,
    groups: Sequence[str],
    *,
    secret: str,
    now: float,
    ttl_sec: float = DEFAULT_TTL_SEC,
) -> list[tuple[str, str]]:
    """The gRPC metadata entries carrying this identity, valid until ``now + ttl_sec``."""
    if not secret:
        raise ValueError("an identity secret is required to sign")
    if ttl_sec <= 0:
        raise ValueError("ttl_sec must be positive")
    identity = Identity(
        tenant=tenant,
        workspace=workspace,
        user=user,
        groups=tuple(sorted(set(groups))),
        expires_at=int(now + ttl_sec),
    )
    payload = json.dumps(
        {
            "v": VERSION,
            "tenant": identity.tenant,
            "workspace": identity.workspace,
            "user": identity.user,
            "groups": list(identity.groups),
            "exp": identity.expires_at,
        },
        separators=(",", ":"),
        sort_keys=True,
        ensure_ascii=True,
    ).encode("ascii")
    return [
        (IDENTITY_KEY, _b64encode(payload)),
        (SIGNATURE_KEY, _b64encode(_mac(secret, payload))),
    ]


def _single(metadata: Iterable[tuple[str, str | bytes]], key: str) -> str:
    values = [value for name, value in metadata if name.lower() == key]
    if not values:
        raise IdentityError("missing", f"no {key} metadata")
    if len(values) > 1:
        raise IdentityError("malformed", f"{key} given more than once")
    value = values[0]
    if isinstance(value, bytes):
        try:
            value = value.decode("ascii")
        except UnicodeDecodeError:
            raise IdentityError("malformed", f"{key} is not ASCII") from None
    return value


def verify_identity(
    metadata: Iterable[tuple[str, str | bytes]], secret: str, now: float
) -> Identity:
    """The identity in ``metadata`` if its signature verifies and it has not expired.

    Raises ``IdentityError`` otherwise (also when ``secret`` is empty: an unconfigured
    verifier accepts nothing).
    """
    entries = list(metadata)
    encoded = _single(entries, IDENTITY_KEY)
    signature_text = _single(entries, SIGNATURE_KEY)
    if not secret:
        raise IdentityError("bad_signature", "no identity secret configured")
    try:
        payload = _b64decode(encoded)
        signature = _b64decode(signature_text)
    except (binascii.Error, ValueError):
        raise IdentityError("malformed", "identity metadata is not base64url") from None
    if not hmac.compare_digest(_mac(secret, payload), signature):
        raise IdentityError("bad_signature", "identity signature does not verify")
    try:
        claims = json.loads(payload)
    except ValueError:
        raise IdentityError("malformed", "identity payload is not JSON") from None
    if not isinstance(claims, dict) or claims.get("v") != VERSION:
        raise IdentityError("malformed", "unsupported identity payload version")
    expires_at = claims.get("exp")
    groups = claims.get("groups")
    if (
        not isinstance(expires_at, int)
        or isinstance(expires_at, bool)
        or not isinstance(groups, list)
    ):
        raise IdentityError("malformed", "identity payload has wrong field types")
    if now >= expires_at:
        raise IdentityError("expired", "identity has expired")
    return Identity(
        tenant=claims.get("tenant", ""),  # type-checked by Identity itself
        workspace=claims.get("workspace", ""),
        user=claims.get("user", ""),
        groups=tuple(groups),
        expires_at=expires_at,
    )
