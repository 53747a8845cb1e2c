"""The sweeper folds a ledger object below the watermark (a writer killed before asking
for its compaction), against a real compactor and sweeper with mutual TLS."""

from __future__ import annotations

import time
from pathlib import Path

from arco.compactor.v1 import compactor_service_pb2 as pb
from arco.compactor.v1 import compactor_service_pb2_grpc as pb_grpc
from arco.sweeper.v1 import sweeper_service_pb2 as spb
from arco.sweeper.v1 import sweeper_service_pb2_grpc as spb_grpc

from arco_core.clock import SystemClock
from arco_core.ledger import LedgerWriter
from arco_core.paths import Scope
from arco_core.storage import Role, ScopedStorage, open_object_store
from arco_runtime.tls import Role as MeshRole
from tests.support.processes import start_service
from tests.support.tls import mesh_channel
from tests.unit.orchestration.orch_support import TENANT, WORKSPACE, Events

ENV = {"ARCO_TENANT_ID": TENANT, "ARCO_WORKSPACE_ID": WORKSPACE}


async def test_sweeper_folds_a_hole_below_the_watermark(tmp_path: Path) -> None:
    storage = ScopedStorage(
        open_object_store((tmp_path / "data").as_uri(), {}), Scope(TENANT, WORKSPACE), Role.API
    )
    ledger = LedgerWriter(storage, "orchestration", SystemClock())
    # Ids of now: the hole must sit inside the sweeper's look-back.
    ev = Events(start_ms=int(time.time() * 1000))
    hole = ev.trigger("r-hole")
    later = ev.trigger("r-later")
    assert hole.event_id < later.event_id
    # The killed writer: appended, never asked for compaction.
    await ledger.append(hole)
    later_path = await ledger.append(later)

    compactor = start_service(
        "services.compactor", tmp_path, {**ENV, "ARCO_COMPACTOR_DOMAIN": "orchestration"}
    )
    compactor.wait_ready(10)
    sweeper = None
    try:
        async with mesh_channel(compactor.grpc_address, MeshRole.API) as channel:
            stub = pb_grpc.CompactorServiceStub(channel)
            folded = await stub.CompactEvents(pb.CompactEventsRequest(event_paths=[later_path]))
            assert folded.events_applied == 1
            # The watermark moved past the hole.
            head = await stub.GetHead(pb.GetHeadRequest())
            assert head.last_event_id == later.event_id > hole.event_id

        sweeper = start_service(
            "services.sweeper",
            tmp_path,
            {**ENV, "ARCO_ORCH_COMPACTOR_ADDRESS": compactor.grpc_address},
        )
        sweeper.wait_ready(10)
        async with mesh_channel(sweeper.grpc_address, MeshRole.OPERATOR) as channel:
            await spb_grpc.SweeperServiceStub(channel).RunSweep(spb.RunSweepRequest())

        async with mesh_channel(compactor.grpc_address, MeshRole.OPERATOR) as operator:
            verified = await pb_grpc.CompactorServiceStub(operator).VerifyProjection(
                pb.VerifyProjectionRequest()
            )
        assert verified.events_replayed == 2
        runs = {t.table: t for t in verified.tables}["runs"]
        assert (runs.published_rows, runs.replayed_rows) == (2, 2), sweeper.log()
        assert verified.matches, [t for t in verified.tables if not t.matches]
    finally:
        if sweeper is not None:
            assert sweeper.terminate() == 0, sweeper.log()
        assert compactor.terminate() == 0, compactor.log()
