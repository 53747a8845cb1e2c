"""Task callbacks: camelCase bodies; the path task id fills ``task_id``.

Errors of these routes use the callback error body (see ``gateway.errors``).
"""

from __future__ import annotations

from gateway.mappers.render import Casing, View

STARTED = View(Casing.CAMEL)
HEARTBEAT = View(Casing.CAMEL)
COMPLETED = View(Casing.CAMEL)
