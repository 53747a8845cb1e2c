"""The one page-cursor codec: what it mints it reads back, and nothing else."""

from __future__ import annotations

import base64

import pytest

from arco_core.cursors import decode_cursor, decode_keys_cursor, encode_cursor, encode_keys_cursor
from arco_core.errors import InvalidArgument


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def test_single_and_multi_key_cursors_round_trip() -> None:
    assert decode_cursor(encode_cursor("run/ü-1")) == "run/ü-1"
    assert decode_keys_cursor(encode_keys_cursor(["a", "2026-01-01"]), 2) == ["a", "2026-01-01"]


@pytest.mark.parametrize(
    "cursor",
    [
        encode_keys_cursor(["a"]),  # the other shape
        _b64(b'{"key": ""}'),
        _b64(b'{"key": "a", "more": 1}'),
        "not base64!",
    ],
)
def test_a_cursor_it_did_not_mint_as_single_key_is_invalid_cursor(cursor: str) -> None:
    with pytest.raises(InvalidArgument) as exc:
        decode_cursor(cursor)
    assert exc.value.reason == "invalid_cursor"


@pytest.mark.parametrize(
    "cursor",
    [encode_keys_cursor(["a"]), encode_keys_cursor(["a", "b", "c"]), _b64(b'{"keys": ["a", 2]}')],
)
def test_a_keys_cursor_of_another_arity_or_type_is_invalid(cursor: str) -> None:
    with pytest.raises(InvalidArgument) as exc:
        decode_keys_cursor(cursor, 2)
    assert exc.value.reason == "invalid_cursor"
