"""gRPC settings every Arco process uses the same way, declared once."""

from __future__ import annotations

from typing import Final

# The largest gRPC message a server accepts or a client receives (query results, logs).
MAX_MESSAGE_BYTES: Final = 64 * 1024 * 1024

# Request-latency histogram buckets, seconds: the services and the gateway report alike.
LATENCY_BUCKETS: Final = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
