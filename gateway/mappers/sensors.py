"""Sensors (camelCase): list, get, evaluation history and pushed messages.

The evaluation ``status`` is a nested object (``{"status": "error", "message": …}``) in
the history and flattened into the body of a pushed message's answer, as the reference
has them.
"""

from __future__ import annotations

from gateway.mappers.render import Casing, View
from gateway.mappers.replies import QueryParam

EVAL_STATUSES = {s: s for s in ("TRIGGERED", "NO_NEW_DATA", "ERROR", "SKIPPED_STALE_CURSOR")}

LIMIT = QueryParam("limit", "limit", "integer", "page size (default 50, max 200)")
CURSOR = QueryParam("cursor", "cursor", "string", "nextCursor of the previous page")
SINCE = QueryParam("since", "since", "string", "evaluated at or after (RFC 3339)")
UNTIL = QueryParam("until", "until", "string", "evaluated at or before (RFC 3339)")
STATUS = QueryParam("status", "status", "enum", "only evaluations with this status", EVAL_STATUSES)

SENSOR_LIST = View(Casing.CAMEL)
SENSOR = View(Casing.CAMEL, unwrap="sensor")
EVAL_LIST = View(Casing.CAMEL)
EVALUATED = View(Casing.CAMEL)
ANSWERED = View(Casing.CAMEL)
