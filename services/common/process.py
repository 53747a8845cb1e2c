"""Process-level helpers shared by every service, including the gateway."""

from __future__ import annotations

import json
import os
import signal
import tempfile
from pathlib import Path
from typing import Any


def write_ready_file(path: str, info: dict[str, Any]) -> None:
    """Atomically publish the bound addresses (rename, so readers never see half a file)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".ready-")
    with os.fdopen(fd, "w") as handle:
        json.dump(info, handle)
    os.replace(tmp, target)


def ignore_late_signals() -> None:
    """Shutdown has drained: a second signal during interpreter teardown must not turn
    the clean exit into death-by-signal."""
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, signal.SIG_IGN)
