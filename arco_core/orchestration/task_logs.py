"""One attempt's stored log: its stdout, then its stderr, within the upload limit.

A worker caps each stream and marks a cut; the two capped streams plus the separator can
still exceed the limit. Refusing them would lose both, so each stream keeps at most its
share of the limit, cut with a marker, and the whole always fits.
"""

from __future__ import annotations

__all__ = ["STDERR_HEADER", "task_log_bytes"]

STDERR_HEADER = "--- stderr ---\n"
_JOIN = b"\n"


def _marker(stream: str, kept: int) -> bytes:
    return f"\n[arco: {stream} truncated to {kept} bytes at upload]\n".encode()


def _capped(stream: str, raw: bytes, room: int) -> bytes:
    if len(raw) <= room:
        return raw
    kept = max(0, room - len(_marker(stream, room)))
    # Cut on a character boundary: the stored log stays valid UTF-8.
    head = raw[:kept].decode("utf-8", "ignore").encode()
    return head + _marker(stream, len(head))


def task_log_bytes(stdout: str, stderr: str, limit: int) -> bytes:
    """The stored bytes of one attempt's output, at most ``limit`` bytes when ``limit``
    leaves room for the markers (a smaller limit yields the markers alone)."""
    out = stdout.encode()
    err = (STDERR_HEADER + stderr).encode() if stderr else b""
    if len(out) + len(_JOIN) * bool(out and err) + len(err) <= limit:
        return _JOIN.join(part for part in (out, err) if part)
    share = (limit - len(_JOIN)) // 2 if out and err else limit
    # A stream shorter than its share leaves the rest to the other.
    if out and err:
        out_room = max(share, limit - len(_JOIN) - len(err))
        out = _capped("stdout", out, out_room)
        err_room = limit - len(_JOIN) - len(out)
        err = STDERR_HEADER.encode() + _capped(
            "stderr", err[len(STDERR_HEADER) :], err_room - len(STDERR_HEADER)
        )
        return out + _JOIN + err
    if out:
        return _capped("stdout", out, share)
    return STDERR_HEADER.encode() + _capped(
        "stderr", err[len(STDERR_HEADER) :], share - len(STDERR_HEADER)
    )
