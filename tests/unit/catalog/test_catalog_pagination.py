from __future__ import annotations

import base64
import json

import pytest

from arco_core.catalog.pagination import decode_cursor, encode_cursor, paginate, resolve_limit
from arco_core.errors import InvalidArgument


def test_cursor_round_trip_and_wire_format() -> None:
    cursor = encode_cursor("orders")
    assert "=" not in cursor
    raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    assert json.loads(raw) == {"key": "orders"}
    assert decode_cursor(cursor) == "orders"
    assert decode_cursor(encode_cursor("ünïcode-ß")) == "ünïcode-ß"


def test_limits() -> None:
    assert resolve_limit(None) == 100
    assert resolve_limit(1) == 1
    assert resolve_limit(500) == 500
    for bad in (0, 501, -1):
        with pytest.raises(InvalidArgument, match="limit must be between 1 and 500"):
            resolve_limit(bad)
    with pytest.raises(InvalidArgument):
        resolve_limit(True)


@pytest.mark.parametrize(
    "cursor",
    [
        "!!!",
        "abc=",
        "a",
        base64.urlsafe_b64encode(b"not json").decode().rstrip("="),
        base64.urlsafe_b64encode(b'["key"]').decode().rstrip("="),
        base64.urlsafe_b64encode(b'{"key": 3}').decode().rstrip("="),
        base64.urlsafe_b64encode(b'{"key": "a", "x": 1}').decode().rstrip("="),
        base64.urlsafe_b64encode(b"\xff\xfe").decode().rstrip("="),
    ],
)
def test_bad_cursor(cursor: str) -> None:
    with pytest.raises(InvalidArgument) as exc:
        decode_cursor(cursor)
    assert exc.value.message == "invalid cursor"


def test_walks_every_item_once_in_name_order() -> None:
    names = [f"t{i:03d}" for i in range(250)][::-1]
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        page = paginate(names, key=lambda n: n, limit=100, cursor=cursor)
        seen.extend(page.items)
        pages += 1
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == sorted(names)
    assert pages == 3


def test_no_next_cursor_when_page_is_exactly_full() -> None:
    page = paginate(["a", "b"], key=lambda n: n, limit=2)
    assert page.items == ("a", "b")
    assert page.next_cursor is None


def test_bad_input_fails_even_on_empty_list() -> None:
    with pytest.raises(InvalidArgument):
        paginate([], key=lambda n: n, limit=0)
    with pytest.raises(InvalidArgument):
        paginate([], key=lambda n: n, cursor="%%")


def test_cursor_after_deleted_item_resumes_after_it() -> None:
    cursor = encode_cursor("b")
    assert paginate(["a", "c", "d"], key=lambda n: n, cursor=cursor).items == ("c", "d")
