"""Per-task capture of what asset code prints and logs.

``contextlib.redirect_stdout`` swaps a process-wide object, so concurrent tasks would
interleave their output. Instead the worker installs, once, a stdout/stderr proxy (and a
``logging`` handler) that looks up the *current task's* capture in a context variable:
writes from a task's thread or coroutine land in that task's buffers, everything else
goes to the real streams. The variable is set only in the context that runs user code
(the executor call or the asset's own asyncio task), never around the worker's own logs.

Threads that asset code starts itself do not inherit the context; their output goes to
the real streams.
"""

from __future__ import annotations

import contextlib
import contextvars
import io
import logging
import sys
import threading
from collections.abc import Iterator
from typing import TextIO

__all__ = ["OutputRouter", "TaskCapture"]

DEFAULT_LIMIT_BYTES = 1024 * 1024  # per stream; the logs route takes 2 MiB per attempt


class TaskCapture:
    """Bounded stdout/stderr buffers of one task attempt. Thread-safe."""

    def __init__(self, limit_bytes: int = DEFAULT_LIMIT_BYTES) -> None:
        self._limit = limit_bytes
        self._lock = threading.Lock()
        self._parts: dict[str, list[str]] = {"stdout": [], "stderr": []}
        self._sizes = {"stdout": 0, "stderr": 0}
        self._truncated = {"stdout": False, "stderr": False}

    def write(self, stream: str, text: str) -> None:
        if not text:
            return
        with self._lock:
            room = self._limit - self._sizes[stream]
            if room <= 0:
                self._truncated[stream] = True
                return
            encoded = text.encode("utf-8", "replace")
            if len(encoded) > room:
                text = encoded[:room].decode("utf-8", "ignore")
                self._truncated[stream] = True
            self._parts[stream].append(text)
            self._sizes[stream] += len(text.encode("utf-8", "replace"))

    def write_stdout(self, text: str) -> None:
        self.write("stdout", text)

    def write_stderr(self, text: str) -> None:
        self.write("stderr", text)

    def text(self, stream: str) -> str:
        with self._lock:
            body = "".join(self._parts[stream])
            if self._truncated[stream]:
                body += f"\n[arco: {stream} truncated at {self._limit} bytes]\n"
            return body

    @property
    def stdout(self) -> str:
        return self.text("stdout")

    @property
    def stderr(self) -> str:
        return self.text("stderr")


class _RoutedStream(io.TextIOBase):
    def __init__(
        self,
        original: TextIO,
        current: contextvars.ContextVar[TaskCapture | None],
        stream: str,
    ) -> None:
        super().__init__()
        self._original = original
        self._current = current
        self._stream = stream

    @property
    def original(self) -> TextIO:
        return self._original

    def write(self, text: str) -> int:
        capture = self._current.get()
        if capture is None:
            return self._original.write(text)
        capture.write(self._stream, text)
        return len(text)

    def flush(self) -> None:
        if self._current.get() is None:
            self._original.flush()

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return self._current.get() is None and self._original.isatty()

    def fileno(self) -> int:
        return self._original.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self._original, "encoding", "utf-8") or "utf-8"


class _CaptureLogHandler(logging.Handler):
    """Routes stdlib log records emitted inside a task to that task's stderr."""

    def __init__(self, current: contextvars.ContextVar[TaskCapture | None]) -> None:
        super().__init__(logging.NOTSET)
        self._current = current
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        capture = self._current.get()
        if capture is None:
            return
        try:
            capture.write_stderr(self.format(record) + "\n")
        except Exception:
            self.handleError(record)


class OutputRouter:
    """Owns the stdout/stderr proxies. ``install()`` once per worker process;
    ``uninstall()`` restores the previous streams (if nobody replaced them since)."""

    def __init__(self) -> None:
        self._current: contextvars.ContextVar[TaskCapture | None] = contextvars.ContextVar(
            "arco_task_capture", default=None
        )
        self._stdout: _RoutedStream | None = None
        self._stderr: _RoutedStream | None = None
        self._handler = _CaptureLogHandler(self._current)

    @property
    def installed(self) -> bool:
        return self._stdout is not None

    def install(self) -> None:
        if self._stdout is not None:
            return
        self._stdout = _RoutedStream(sys.stdout, self._current, "stdout")
        self._stderr = _RoutedStream(sys.stderr, self._current, "stderr")
        sys.stdout = self._stdout
        sys.stderr = self._stderr
        logging.getLogger().addHandler(self._handler)

    def ensure(self) -> None:
        """Re-wrap the streams if something replaced them since :meth:`install` (test
        harnesses and some libraries swap ``sys.stdout``); called before each task."""
        if self._stdout is None or self._stderr is None:
            return
        if sys.stdout is not self._stdout:
            self._stdout = _RoutedStream(sys.stdout, self._current, "stdout")
            sys.stdout = self._stdout
        if sys.stderr is not self._stderr:
            self._stderr = _RoutedStream(sys.stderr, self._current, "stderr")
            sys.stderr = self._stderr

    def uninstall(self) -> None:
        if self._stdout is None or self._stderr is None:
            return
        if sys.stdout is self._stdout:
            sys.stdout = self._stdout.original
        if sys.stderr is self._stderr:
            sys.stderr = self._stderr.original
        logging.getLogger().removeHandler(self._handler)
        self._stdout = self._stderr = None

    def context_for(self, capture: TaskCapture) -> contextvars.Context:
        """A copy of the current context in which ``capture`` is the active capture."""
        context = contextvars.copy_context()
        context.run(self._current.set, capture)
        return context

    @contextlib.contextmanager
    def capturing(self, capture: TaskCapture) -> Iterator[None]:
        token = self._current.set(capture)
        try:
            yield
        finally:
            self._current.reset(token)
