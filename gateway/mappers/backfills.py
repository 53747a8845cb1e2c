"""Backfills: camelCase, the reference's shapes. Beyond the reference: pause, resume,
cancel and retry-failed routes, ``totalPartitions``/``parentBackfillId`` on a backfill,
``created`` on a create answer, and a CANCELLED chunk state.

* create (and retry-failed) answer 202 for a new backfill and 200 for an existing one;
* get and the state moves answer the backfill itself (unwrapped);
* the ``state`` filters take the public names.
"""

from __future__ import annotations

from arco.orchestration.v1 import orchestration_service_pb2 as orch_pb
from google.protobuf.message import Message

from gateway.mappers.render import Casing, View, enum_values
from gateway.mappers.replies import Inbound, QueryParam, Reply

BACKFILL_STATES = {
    name: f"BACKFILL_STATE_{name}" for name in enum_values(orch_pb.BackfillState.DESCRIPTOR)
}
CHUNK_STATES = {name: f"CHUNK_STATE_{name}" for name in enum_values(orch_pb.ChunkState.DESCRIPTOR)}

BACKFILL_STATE = QueryParam(
    "state", "state", "enum", "only backfills in this state", BACKFILL_STATES
)
CHUNK_STATE = QueryParam("state", "state", "enum", "only chunks in this state", CHUNK_STATES)

CREATED = View(Casing.CAMEL)
BACKFILL_LIST = View(Casing.CAMEL)
BACKFILL = View(Casing.CAMEL, unwrap="backfill")
CHUNK_LIST = View(Casing.CAMEL)


def accepted_or_ok(response: Message, inbound: Inbound) -> Reply:
    """202 when a new backfill was accepted, 200 when an existing one is returned."""
    assert isinstance(
        response, orch_pb.CreateBackfillResponse | orch_pb.RetryFailedBackfillResponse
    )
    return Reply(202 if response.created else 200, CREATED.render(response))
