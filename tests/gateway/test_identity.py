"""The signed identity the gateway forwards to the api."""

from __future__ import annotations

import base64
import json

import pytest

from arco_runtime.identity import (
    IDENTITY_KEY,
    SIGNATURE_KEY,
    Identity,
    IdentityError,
    sign_identity,
    verify_identity,
)

SECRET = "s3cret-identity-key"
NOW = 1_800_000_000.0


def _signed(**overrides: object) -> list[tuple[str, str]]:
    args: dict[str, object] = {
        "tenant": "acme",
        "workspace": "prod",
        "user": "alice@example.com",
        "groups": ["eng", "admins", "eng"],
    }
    args.update(overrides)
    return sign_identity(**args, secret=SECRET, now=NOW, ttl_sec=60)  # type: ignore[arg-type]


def test_round_trip() -> None:
    identity = verify_identity(_signed(), SECRET, NOW + 1)
    assert identity == Identity(
        tenant="acme",
        workspace="prod",
        user="alice@example.com",
        groups=("admins", "eng"),
        expires_at=int(NOW + 60),
    )


def test_metadata_is_ascii_and_accepts_bytes_values() -> None:
    metadata = _signed(user="zoë")
    assert {key for key, _ in metadata} == {IDENTITY_KEY, SIGNATURE_KEY}
    for _, value in metadata:
        value.encode("ascii")
    as_bytes = [(key, value.encode()) for key, value in metadata]
    assert verify_identity(as_bytes, SECRET, NOW).user == "zoë"


def test_expired_is_rejected() -> None:
    with pytest.raises(IdentityError) as info:
        verify_identity(_signed(), SECRET, NOW + 60)
    assert info.value.reason == "expired"


def test_wrong_secret_is_rejected() -> None:
    with pytest.raises(IdentityError) as info:
        verify_identity(_signed(), "another-secret", NOW)
    assert info.value.reason == "bad_signature"


def test_empty_verifier_secret_accepts_nothing() -> None:
    with pytest.raises(IdentityError) as info:
        verify_identity(_signed(), "", NOW)
    assert info.value.reason == "bad_signature"


@pytest.mark.parametrize("field", ["tenant", "workspace", "user", "groups", "exp"])
def test_any_tampered_field_breaks_the_signature(field: str) -> None:
    metadata = dict(_signed())
    payload = json.loads(base64.urlsafe_b64decode(metadata[IDENTITY_KEY] + "=="))
    payload[field] = {
        "tenant": "evil",
        "workspace": "other",
        "user": "mallory",
        "groups": ["admins", "root"],
        "exp": int(NOW + 10_000),
    }[field]
    forged = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    with pytest.raises(IdentityError) as info:
        verify_identity(
            [(IDENTITY_KEY, forged), (SIGNATURE_KEY, metadata[SIGNATURE_KEY])], SECRET, NOW
        )
    assert info.value.reason == "bad_signature"


def test_missing_duplicate_and_garbage_metadata() -> None:
    metadata = _signed()
    with pytest.raises(IdentityError) as info:
        verify_identity(metadata[:1], SECRET, NOW)
    assert info.value.reason == "missing"
    with pytest.raises(IdentityError) as info:
        verify_identity([*metadata, metadata[0]], SECRET, NOW)
    assert info.value.reason == "malformed"
    with pytest.raises(IdentityError) as info:
        verify_identity([(IDENTITY_KEY, "!!!"), (SIGNATURE_KEY, "???")], SECRET, NOW)
    assert info.value.reason in {"malformed", "bad_signature"}


def test_sign_validates_scope_ids_and_requires_a_secret() -> None:
    with pytest.raises(IdentityError):
        _signed(tenant="Acme/other")
    with pytest.raises(IdentityError):
        _signed(user="bad\nuser")
    with pytest.raises(ValueError):
        sign_identity("acme", "prod", "u", [], secret="", now=NOW)
