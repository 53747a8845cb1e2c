"""Keyset pagination for the snake_case catalog list routes.

Every list is sorted by name; a page resumes strictly after the last name of the previous
page, so concurrent inserts never shift or repeat items the caller has already seen. The
cursor is opaque to clients: base64url without padding of the JSON ``{"key": last_name}``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from arco_core.cursors import decode_cursor, encode_cursor
from arco_core.errors import InvalidArgument

__all__ = [
    "DEFAULT_PAGE_LIMIT",
    "MAX_PAGE_LIMIT",
    "Page",
    "decode_cursor",
    "encode_cursor",
    "paginate",
    "resolve_limit",
]

DEFAULT_PAGE_LIMIT = 100
MAX_PAGE_LIMIT = 500

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a sorted list; ``next_cursor`` is None on the last page."""

    items: tuple[T, ...]
    next_cursor: str | None = None


def resolve_limit(limit: int | None) -> int:
    """The effective page size: None means the default; 0, negatives and >500 are rejected."""
    if limit is None:
        return DEFAULT_PAGE_LIMIT
    # bool is an int subclass; a JSON ``true`` must not become a page size of 1.
    if isinstance(limit, bool) or not isinstance(limit, int):
        raise InvalidArgument("limit must be an integer", reason="invalid_limit")
    if limit < 1 or limit > MAX_PAGE_LIMIT:
        raise InvalidArgument(
            f"limit must be between 1 and {MAX_PAGE_LIMIT}", reason="invalid_limit"
        )
    return limit


def paginate(
    items: Sequence[T],
    *,
    key: Callable[[T], str],
    limit: int | None = None,
    cursor: str | None = None,
) -> Page[T]:
    """Sort ``items`` by ``key`` and return the page after ``cursor``.

    Validation of ``limit`` and ``cursor`` happens before anything else so a bad request
    fails the same way whether or not the list is empty.
    """
    size = resolve_limit(limit)
    after = decode_cursor(cursor) if cursor is not None and cursor != "" else None
    ordered = sorted(items, key=key)
    if after is not None:
        ordered = [item for item in ordered if key(item) > after]
    page = tuple(ordered[:size])
    next_cursor = encode_cursor(key(page[-1])) if len(ordered) > size else None
    return Page(items=page, next_cursor=next_cursor)
