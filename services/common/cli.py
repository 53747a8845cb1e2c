"""Entry-point helper: ``python -m services.<name>`` with a --help that lists ARCO_* vars."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import Any

import uvloop

from arco_runtime.process import ignore_late_signals
from services.common.config import ConfigError

COMMON_ENV = (
    ("ARCO_TENANT_ID", "tenant served by this process (default: local)"),
    ("ARCO_WORKSPACE_ID", "workspace served by this process (default: default)"),
    (
        "ARCO_STORAGE_URL",
        "object store URL: file:///abs/dir (default ./.arco/data), memory://, s3://bucket/prefix",
    ),
    ("ARCO_LISTEN_ADDRESS", "gRPC listen host:port (port 0 picks a free port)"),
    ("ARCO_METRICS_ADDRESS", "Prometheus /metrics host:port (default 127.0.0.1:0)"),
    ("ARCO_LOG_LEVEL", "DEBUG, INFO (default), WARNING, ERROR"),
    ("ARCO_LOG_FORMAT", "json (default) or console"),
    ("ARCO_READY_FILE", "write bound addresses here as JSON once SERVING"),
    ("ARCO_SHUTDOWN_GRACE_SEC", "seconds in-flight work gets on SIGTERM (default 5)"),
)


def run_main(
    prog: str,
    description: str,
    service_env: Sequence[tuple[str, str]],
    run: Callable[[Mapping[str, str]], Coroutine[Any, Any, int]],
    argv: Sequence[str] | None = None,
) -> int:
    epilog = "environment:\n" + "\n".join(
        f"  {name:<34} {text}" for name, text in (*COMMON_ENV, *service_env)
    )
    parser = argparse.ArgumentParser(
        prog=prog,
        description=description,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.parse_args(argv)
    try:
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            code: int = runner.run(run(dict(os.environ)))
    except ConfigError as exc:
        # Configuration errors: one clear line, no traceback.
        print(f"{prog}: {exc}", file=sys.stderr)
        return 2
    ignore_late_signals()
    return code
