"""The worker runtime: receives WorkerDispatchEnvelopes, executes assets, calls back.

Run one with ``python -m arco_sdk.worker`` or ``arco worker``; embed one with
:class:`WorkerServer`.
"""

from __future__ import annotations

from arco_sdk.worker.config import WorkerConfig
from arco_sdk.worker.heartbeat import heartbeat_interval
from arco_sdk.worker.runtime import WorkerRuntime
from arco_sdk.worker.server import WorkerServer

__all__ = ["WorkerConfig", "WorkerRuntime", "WorkerServer", "heartbeat_interval"]
