"""``/query`` and ``/query-data``: the result is bytes, not JSON we render.

Format: ``?format=json|arrow`` wins; otherwise an ``Accept`` naming ``application/json``
selects JSON; anything else gets the Arrow IPC stream (the default).
"""

from __future__ import annotations

from collections.abc import Sequence

from arco.query.v1 import query_service_pb2 as query_pb
from google.protobuf.message import Message

from gateway.errors import bad_request
from gateway.mappers.replies import Inbound, QueryParam, Reply, build_request

ARROW_STREAM = "application/vnd.apache.arrow.stream"
JSON_ROWS = "application/json"
FORMATS: dict[str, int] = {
    "json": query_pb.RESULT_FORMAT_JSON,
    "arrow": query_pb.RESULT_FORMAT_ARROW,
}
MEDIA_TYPES: dict[int, str] = {
    query_pb.RESULT_FORMAT_JSON: JSON_ROWS,
    query_pb.RESULT_FORMAT_ARROW: ARROW_STREAM,
}


def negotiate(inbound: Inbound) -> int:
    requested = inbound.query_value("format")
    if requested is not None:
        if requested.lower() not in FORMATS:
            raise bad_request("format must be one of: json, arrow")
        return FORMATS[requested.lower()]
    if "application/json" in inbound.headers.get("accept", "").lower():
        return query_pb.RESULT_FORMAT_JSON
    return query_pb.RESULT_FORMAT_ARROW


def request(request_type: type[Message], inbound: Inbound, query: Sequence[QueryParam]) -> Message:
    """The body's sql (and as_of); the format comes from negotiation, never the body."""
    body = {k: v for k, v in (inbound.body or {}).items() if k != "format"}
    message = build_request(request_type, inbound, body=body)
    message.format = negotiate(inbound)  # type: ignore[attr-defined]
    return message


def reply(response: Message, inbound: Inbound) -> Reply:
    fmt = negotiate(inbound)
    media_type = response.content_type or MEDIA_TYPES[fmt]  # type: ignore[attr-defined]
    return Reply(
        200,
        content=response.data,  # type: ignore[attr-defined]
        media_type=media_type,
        headers={
            "x-arco-row-count": str(response.row_count),  # type: ignore[attr-defined]
            "x-arco-truncated": "true" if response.truncated else "false",  # type: ignore[attr-defined]
        },
    )
