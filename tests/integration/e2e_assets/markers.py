"""Marker files shared by the e2e assets (in worker processes) and the tests."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

MARKER_DIR_ENV = "E2E_MARKER_DIR"


def marker_dir() -> Path:
    path = Path(os.environ[MARKER_DIR_ENV])
    path.mkdir(parents=True, exist_ok=True)
    return path


def marker(run_id: str, name: str) -> Path:
    return marker_dir() / f"{run_id}.{name}"


def worker_id() -> str:
    return os.environ.get("ARCO_WORKER_WORKER_ID", f"pid-{os.getpid()}")


def record(run_id: str, name: str, **fields: Any) -> Path:
    """Write ``{run}.{name}.json`` atomically with who/when plus ``fields``."""
    path = marker(run_id, f"{name}.json")
    body = {"worker": worker_id(), "pid": os.getpid(), "at_ms": int(time.time() * 1000), **fields}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(body))
    tmp.replace(path)
    return path


def append_line(run_id: str, name: str, line: str) -> None:
    with marker(run_id, name).open("a") as out:
        out.write(line + "\n")
