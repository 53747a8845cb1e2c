"""Canonical JSON: the one byte encoding for everything that is hashed, compared or stored.

Rules: object keys sorted by code point (equal to UTF-8 byte order), compact separators,
UTF-8 output without ``\\u`` escaping of non-ASCII, arrays in order, integers only.
Integers must fit in the signed/unsigned 64-bit range so that other languages can read them.
Integral floats (``1.0``, which protobuf ``Struct`` produces for every number) are emitted as
integers; any other float, NaN or infinity raises :class:`InvalidArgument`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

from arco_core.errors import InvalidArgument

__all__ = ["canonical_bytes", "canonical_dumps", "normalize", "parse_json_object"]

_MIN_INT = -(2**63)
_MAX_INT = 2**64 - 1


def normalize(value: Any, *, _path: str = "$") -> Any:
    """Return a plain JSON tree (dict/list/str/int/bool/None) or raise InvalidArgument.

    Accepts any Mapping with string keys and any non-string Sequence (tuples become arrays).
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        if not _MIN_INT <= value <= _MAX_INT:
            raise InvalidArgument(
                f"integer out of 64-bit range at {_path}", reason="non_canonical_json"
            )
        return value
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer():
            return normalize(int(value), _path=_path)
        raise InvalidArgument(
            f"float value {value!r} at {_path} is not allowed in canonical JSON",
            reason="non_canonical_json",
        )
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidArgument(
                    f"object key {key!r} at {_path} is not a string", reason="non_canonical_json"
                )
            out[key] = normalize(item, _path=f"{_path}.{key}")
        return out
    if isinstance(value, Sequence) and not isinstance(value, (bytes, bytearray, memoryview)):
        return [normalize(item, _path=f"{_path}[{i}]") for i, item in enumerate(value)]
    raise InvalidArgument(
        f"value of type {type(value).__name__} at {_path} is not JSON-serialisable",
        reason="non_canonical_json",
    )


def canonical_dumps(value: Any) -> str:
    """Serialise ``value`` to its canonical JSON text."""
    return json.dumps(
        normalize(value),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    )


def canonical_bytes(value: Any) -> bytes:
    """Serialise ``value`` to canonical JSON, UTF-8 encoded.

    Text with lone surrogates (JSON allows ``"\\ud800"``) has no UTF-8 form: that is the
    caller's bad input, not a server failure.
    """
    try:
        return canonical_dumps(value).encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidArgument(
            "text is not valid Unicode (it contains a lone surrogate)", reason="invalid_unicode"
        ) from None


def _reject_constant(name: str) -> Any:
    raise InvalidArgument(f"JSON constant {name} is not allowed", reason="invalid_json")


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, item in pairs:
        if key in out:
            # Duplicate keys make two readers see two different documents.
            raise InvalidArgument(f"duplicate JSON object key {key!r}", reason="invalid_json")
        out[key] = item
    return out


def parse_json_object(data: bytes | bytearray | memoryview | str) -> dict[str, Any]:
    """Parse UTF-8 JSON that must be an object; reject NaN/Infinity and duplicate keys."""
    try:
        text = data if isinstance(data, str) else bytes(data).decode("utf-8")
        parsed = json.loads(
            text,
            parse_constant=_reject_constant,
            object_pairs_hook=_no_duplicate_keys,
        )
    except UnicodeDecodeError as exc:
        raise InvalidArgument("JSON document is not valid UTF-8", reason="invalid_json") from exc
    except json.JSONDecodeError as exc:
        raise InvalidArgument(f"invalid JSON: {exc.msg}", reason="invalid_json") from exc
    except RecursionError as exc:
        raise InvalidArgument("JSON document is nested too deeply", reason="invalid_json") from exc
    if not isinstance(parsed, dict):
        raise InvalidArgument("JSON document is not an object", reason="invalid_json")
    return parsed
