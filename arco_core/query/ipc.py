"""The frames a query pool and its worker processes exchange over a pipe.

A frame is a JSON header and zero or more binary blobs (Arrow IPC streams of tables going
to the worker, the encoded result coming back)::

    u32 big-endian header length | header (UTF-8 JSON, with "blobs": [len, ...]) | blobs

The worker side is blocking (:func:`read_frame`, :func:`write_frame`); the pool side is
asyncio (:func:`read_frame_async`, :func:`write_frame_async`).
"""

from __future__ import annotations

import asyncio
import io
import json
import struct
from collections.abc import Sequence
from typing import Any, BinaryIO

import pyarrow as pa

__all__ = [
    "Frame",
    "decode_table",
    "encode_table",
    "read_frame",
    "read_frame_async",
    "write_frame",
    "write_frame_async",
]

_LENGTH = struct.Struct(">I")
_MAX_HEADER = 16 * 1024 * 1024

Frame = tuple[dict[str, Any], list[bytes]]


def _header_bytes(header: dict[str, Any], blobs: Sequence[bytes]) -> bytes:
    body = json.dumps({**header, "blobs": [len(b) for b in blobs]}, separators=(",", ":"))
    raw = body.encode("utf-8")
    return _LENGTH.pack(len(raw)) + raw


def _parse_header(raw: bytes) -> tuple[dict[str, Any], list[int]]:
    header = json.loads(raw)
    if not isinstance(header, dict):
        raise ValueError("frame header is not an object")
    sizes = header.pop("blobs", [])
    if not isinstance(sizes, list) or not all(isinstance(n, int) and n >= 0 for n in sizes):
        raise ValueError("frame header has no valid blob sizes")
    return header, sizes


def _check_length(length: int) -> None:
    if length > _MAX_HEADER:
        raise ValueError(f"frame header of {length} bytes exceeds {_MAX_HEADER}")


def _read_exact(stream: BinaryIO, size: int) -> bytes:
    chunks: list[bytes] = []
    left = size
    while left:
        chunk = stream.read(left)
        if not chunk:
            raise EOFError("the pipe closed mid-frame" if chunks or size else "the pipe closed")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def read_frame(stream: BinaryIO) -> Frame:
    """The next frame (EOFError: the other side closed the pipe)."""
    (length,) = _LENGTH.unpack(_read_exact(stream, _LENGTH.size))
    _check_length(length)
    header, sizes = _parse_header(_read_exact(stream, length))
    return header, [_read_exact(stream, size) for size in sizes]


def write_frame(stream: BinaryIO, header: dict[str, Any], blobs: Sequence[bytes] = ()) -> None:
    stream.write(_header_bytes(header, blobs))
    for blob in blobs:
        stream.write(blob)
    stream.flush()


async def read_frame_async(reader: asyncio.StreamReader) -> Frame:
    """The next frame (asyncio.IncompleteReadError: the worker closed its end)."""
    (length,) = _LENGTH.unpack(await reader.readexactly(_LENGTH.size))
    _check_length(length)
    header, sizes = _parse_header(await reader.readexactly(length))
    return header, [await reader.readexactly(size) for size in sizes]


async def write_frame_async(
    writer: asyncio.StreamWriter, header: dict[str, Any], blobs: Sequence[bytes] = ()
) -> None:
    writer.write(_header_bytes(header, blobs))
    for blob in blobs:
        writer.write(blob)
    await writer.drain()


def encode_table(table: pa.Table) -> bytes:
    """``table`` as an Arrow IPC stream."""
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue()


def decode_table(blob: bytes) -> pa.Table:
    """An Arrow IPC stream as a table (its buffers point into ``blob``)."""
    return pa.ipc.open_stream(pa.py_buffer(blob)).read_all()
