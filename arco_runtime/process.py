"""Process life-cycle helpers every Arco process shares: the ready file and late signals."""

from __future__ import annotations

import json
import os
import signal
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["ignore_late_signals", "write_ready_file"]


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
