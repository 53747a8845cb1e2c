"""Schedules: camelCase, the reference's shapes.

* get, upsert, enable and disable answer the bare schedule (``unwrap``);
* upsert answers 201 for a new schedule and 200 for an update or an unchanged one;
* the ``status`` filter of the tick list takes the public names.
"""

from __future__ import annotations

from arco.orchestration.v1 import types_pb2

from gateway.mappers.render import Casing, View, enum_values
from gateway.mappers.replies import QueryParam

TICK_STATUSES = {
    name: f"TICK_STATUS_{name}" for name in enum_values(types_pb2.TickStatus.DESCRIPTOR)
}

SCHEDULE_LIST = View(Casing.CAMEL)
SCHEDULE = View(Casing.CAMEL, unwrap="schedule")
TICK_LIST = View(Casing.CAMEL)

LIMIT = QueryParam("limit", "limit", "integer", "page size (default 50, max 200)")
CURSOR = QueryParam("cursor", "cursor", "string", "nextCursor of the previous page")
TICK_STATUS = QueryParam("status", "status", "enum", "only ticks with this status", TICK_STATUSES)
