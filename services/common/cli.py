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
from arco_runtime.settings import ConfigError, Setting, epilog
from services.common.config import COMMON_SETTINGS


def run_main(
    prog: str,
    description: str,
    service_settings: Sequence[Setting[Any]],
    run: Callable[[Mapping[str, str]], Coroutine[Any, Any, int]],
    argv: Sequence[str] | None = None,
) -> int:
    parser = argparse.ArgumentParser(
        prog=prog,
        description=description,
        epilog=epilog((*COMMON_SETTINGS, *service_settings)),
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
