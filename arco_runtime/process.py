"""Process life-cycle helpers every Arco process shares: the ready file, the launcher's
lifeline and late signals."""

from __future__ import annotations

import json
import os
import signal
import tempfile
import threading
from pathlib import Path
from typing import Any

from arco_runtime.settings import ConfigError, text

__all__ = ["LIFELINE_FD", "ignore_late_signals", "watch_lifeline", "write_ready_file"]

LIFELINE_FD = text(
    "ARCO_LIFELINE_FD",
    "set by the mesh launcher: the read end of a pipe it holds open; when it closes (the "
    "launcher died, even by SIGKILL) the process shuts down as on SIGTERM",
)


def write_ready_file(path: str, info: dict[str, Any]) -> None:
    """Publish ``info`` as JSON atomically: a temp file beside the target, then a rename, so
    readers never see half a file (the temp file is removed if writing fails)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".ready-")
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(info, handle)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def ignore_late_signals() -> None:
    """Shutdown has drained: a second signal during interpreter teardown must not turn
    the clean exit into death-by-signal."""
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, signal.SIG_IGN)


def watch_lifeline(raw: str) -> bool:
    """If the launcher handed this process a lifeline (``raw``, the value of
    ``ARCO_LIFELINE_FD``), SIGTERM ourselves when it breaks.

    The launcher keeps the write end; the kernel closes it whatever way the launcher
    ends, so the read below returns end-of-file and the process drains like on any
    SIGTERM instead of living on as an orphan. True when a lifeline is watched.
    """
    if not raw:
        return False
    try:
        fd = int(raw)
        os.fstat(fd)
    except (ValueError, OSError):
        raise ConfigError(f"{LIFELINE_FD.name}={raw!r} is not an open file descriptor") from None

    def wait() -> None:
        while True:
            try:
                if not os.read(fd, 1):
                    break
            except InterruptedError:
                continue
            except OSError:
                break
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=wait, name="arco-lifeline", daemon=True).start()
    return True
