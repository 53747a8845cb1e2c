"""Orchestration (runs, logs) and manifests: camelCase.

Differences from ProtoJSON handled here:
* enums lose their prefix (``RUN_STATUS_RUNNING`` -> ``"RUNNING"``; see ``render``);
* ``RerunMode`` is public as ``fromFailure``/``subset``;
* the ``state`` filter of list runs takes the public names;
* trigger, rerun and deploy answer 201 for a new resource and 200 for a replay;
* ``GET .../logs`` is ``text/plain`` with the next page cursor in ``x-arco-next-cursor``.
"""

from __future__ import annotations

from collections.abc import Sequence

from arco.orchestration.v1 import orchestration_service_pb2 as orch_pb
from arco.orchestration.v1 import types_pb2
from google.protobuf.message import Message

from gateway.errors import bad_request
from gateway.mappers.render import Casing, View, enum_public_name, enum_values
from gateway.mappers.replies import Inbound, QueryParam, Reply, build_request

NEXT_CURSOR_HEADER = "x-arco-next-cursor"
TEXT = "text/plain; charset=utf-8"

RERUN_MODES = {
    "fromFailure": "RERUN_MODE_FROM_FAILURE",
    "subset": "RERUN_MODE_SUBSET",
}
RUN_STATES = {name: f"RUN_STATUS_{name}" for name in enum_values(types_pb2.RunStatus.DESCRIPTOR)}

RUN = View(Casing.CAMEL)
TRIGGERED = View(Casing.CAMEL)
RUN_LIST = View(Casing.CAMEL)
CANCELLED = View(Casing.CAMEL)
RERUN = View(Casing.CAMEL)
LOGS_UPLOADED = View(Casing.CAMEL)
DEPLOYED = View(Casing.CAMEL)
WORKSPACE_CREATED = View(Casing.CAMEL)
WORKSPACE_LIST = View(Casing.CAMEL)
MANIFEST_LIST = View(Casing.CAMEL)
MANIFEST = View(Casing.CAMEL, unwrap="manifest")

LIMIT = QueryParam("limit", "limit", "integer", "page size")
CURSOR = QueryParam("cursor", "cursor", "string", "opaque cursor from the previous page")
RUN_STATE = QueryParam("state", "state", "enum", "only runs in this state", RUN_STATES)
ASSET_KEY = QueryParam("assetKey", "asset_key", "string", "only this asset's partitions")
STALE_ONLY = QueryParam("staleOnly", "stale_only", "boolean", "only stale partitions")
PARTITION_LIST = View(Casing.CAMEL)
PARTITION_SUMMARY = View(Casing.CAMEL)
RUN_KEY_BACKFILLED = View(Casing.CAMEL)
TASK_KEY = QueryParam("taskKey", "task_key", "string", "only this task's logs")


def rerun_request(
    request_type: type[Message], inbound: Inbound, query: Sequence[QueryParam]
) -> Message:
    body = dict(inbound.body or {})
    mode = body.pop("mode", None)
    if mode not in RERUN_MODES:
        raise bad_request("mode must be one of: fromFailure, subset")
    body["mode"] = RERUN_MODES[mode]
    return build_request(request_type, inbound, query, body=body)


def rerun_kind_name(kind: int) -> str | None:
    return enum_public_name(types_pb2.RerunKind.DESCRIPTOR, kind)


def logs_reply(response: Message, inbound: Inbound) -> Reply:
    assert isinstance(response, orch_pb.GetRunLogsResponse)
    headers = {}
    if response.HasField("next_cursor") and response.next_cursor:
        headers[NEXT_CURSOR_HEADER] = response.next_cursor
    return Reply(200, content=response.text.encode("utf-8"), media_type=TEXT, headers=headers)
