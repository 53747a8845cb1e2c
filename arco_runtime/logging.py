"""structlog set-up for Arco processes: services, the gateway and the SDK worker.

Libraries never configure logging; each process entry point calls ``configure_logging``
once, before it logs anything.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, TextIO

import structlog

__all__ = ["configure_logging"]


class _StderrProxy:
    """Resolves sys.stderr at write time, so test capture and redirection keep working (and
    the SDK worker's own lines, written outside any task context, bypass task capture)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def configure_logging(
    level: str = "INFO",
    fmt: str = "json",
    stream: TextIO | None = None,
    *,
    cache_loggers: bool = True,
) -> None:
    """JSON lines (``fmt="json"``, the default) or plain console lines, filtered at ``level``.

    ``cache_loggers=False`` lets a later call reconfigure loggers already used; the SDK
    worker needs that because ``arco worker`` runs it inside the CLI process.
    """
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.StackInfoRenderer(),
            structlog.processors.dict_tracebacks,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
        ),
        logger_factory=structlog.WriteLoggerFactory(file=stream or _StderrProxy()),  # type: ignore[arg-type]
        cache_logger_on_first_use=cache_loggers,
    )
