from __future__ import annotations

import hashlib
import struct

import pytest

from arco_core.canonical_json import canonical_dumps
from arco_core.catalog import events as ev
from arco_core.envelope import EventEnvelope
from arco_core.errors import InvalidArgument

SAMPLES: list[ev.CatalogEventPayload] = [
    ev.CatalogCreated("c1", "default", 10),
    ev.CatalogCreated("c2", "lake", 10, description="Lake"),
    ev.SchemaCreated("s1", "c1", "sales", 11, description="Sales"),
    ev.NamespaceDeleted("s1", "sales", 12),
    ev.TableRegistered(
        "t1",
        "s1",
        "orders",
        "delta",
        13,
        columns=(
            ev.ColumnRecord("k1", "id", "bigint", False, 0),
            ev.ColumnRecord("k2", "note", "string", True, 1, "text"),
        ),
    ),
    ev.TableRegistered("t2", "s1", "events", "parquet", 13, location="s3://b/e.parquet"),
    ev.TableUpdated("t1", "new", 14),
    ev.TableUpdated("t1", None, 15),
    ev.TableDropped("t1", "s1", "orders", 16),
    ev.LineageEdgesAdded(
        (
            ev.EdgeRecord.build("a", "b", "derives_from"),
            ev.EdgeRecord.build("a", "b", "derives_from", "r1"),
        ),
        17,
    ),
]


@pytest.mark.parametrize("payload", SAMPLES, ids=lambda p: type(p).__name__)
def test_payload_round_trip(payload: ev.CatalogEventPayload) -> None:
    data = payload.to_data()
    assert data["type"] == payload.TYPE
    # Optional nulls are omitted (except table_updated, where null means "clear").
    if not isinstance(payload, ev.TableUpdated):
        assert None not in data.values()
    # The wire form survives canonical JSON.
    canonical_dumps(data)
    assert ev.payload_from_data(data) == payload


def test_event_types_and_domains() -> None:
    assert ev.EVENT_TYPES == (
        "catalog_created",
        "schema_created",
        "namespace_deleted",
        "table_registered",
        "table_updated",
        "table_dropped",
        "lineage_edges_added",
    )
    assert ev.event_type_for(SAMPLES[0]) == "CatalogCreated"
    assert ev.domain_for(SAMPLES[0]) == "catalog"
    assert ev.domain_for(SAMPLES[-1]) == "lineage"


def test_unknown_type_decodes_to_unknown() -> None:
    parsed = ev.payload_from_data({"type": "catalog_renamed", "x": 1})
    assert isinstance(parsed, ev.UnknownCatalogEvent)
    assert parsed.type == "catalog_renamed"


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"type": 3},
        {"type": "catalog_created", "catalog_id": "c", "name": "n"},
        {"type": "catalog_created", "catalog_id": "c", "name": "n", "created_at": True},
        {"type": "table_updated", "table_id": "t", "updated_at": 1},
        {
            "type": "table_registered",
            "table_id": "t",
            "namespace_id": "n",
            "name": "x",
            "format": "delta",
            "created_at": 1,
            "columns": "nope",
        },
        {"type": "lineage_edges_added", "edges": [{"edge_id": "e"}], "created_at": 1},
    ],
)
def test_malformed_data_raises(data: dict[str, object]) -> None:
    with pytest.raises(InvalidArgument):
        ev.payload_from_data(data)


def _expected_edge_id(source: str, target: str, edge_type: str, run_id: str | None) -> str:
    def lp(s: str) -> bytes:
        raw = s.encode()
        return struct.pack(">Q", len(raw)) + raw

    tail = b"\x00" if run_id is None else b"\x01" + lp(run_id)
    return hashlib.sha256(
        b"arco-lineage-edge-v1" + lp(source) + lp(target) + lp(edge_type) + tail
    ).hexdigest()


@pytest.mark.parametrize(
    "fields",
    [
        ("a", "b", "derives_from", None),
        ("a", "b", "derives_from", "run-1"),
        ("ünï", "cødé", "copies", ""),
        ("ab", "c", "x", None),
    ],
)
def test_edge_id_is_content_derived(fields: tuple[str, str, str, str | None]) -> None:
    edge_id = ev.lineage_edge_id(*fields)
    assert edge_id == _expected_edge_id(*fields)
    assert len(edge_id) == 64


def test_edge_id_fields_cannot_be_confused() -> None:
    # Length prefixes keep ("ab","c") and ("a","bc") apart; absent and empty run ids differ.
    assert ev.lineage_edge_id("ab", "c", "t", None) != ev.lineage_edge_id("a", "bc", "t", None)
    assert ev.lineage_edge_id("a", "b", "t", None) != ev.lineage_edge_id("a", "b", "t", "")


def test_make_event_envelope() -> None:
    payload = SAMPLES[2]
    envelope = ev.make_event(
        payload,
        tenant_id="acme",
        workspace_id="prod",
        timestamp_ms=1_767_225_600_000,
        causation_id="req-1",
    )
    assert isinstance(envelope, EventEnvelope)
    assert envelope.event_type == "SchemaCreated"
    assert envelope.event_version == 1
    assert envelope.timestamp == "2026-01-01T00:00:00.000Z"
    assert envelope.source == "arco-catalog/acme/prod"
    assert envelope.causation_id == "req-1"
    assert envelope.data_type == "schema_created"
    assert ev.parse_event(envelope) == payload
    assert envelope.idempotency_key == ev.idempotency_key_for(payload)
    # The envelope's JSON form round-trips and still decodes to the same payload.
    again = EventEnvelope.from_json_dict(envelope.to_json_dict())
    assert ev.parse_event(again) == payload
    # Fresh ids are increasing ULIDs.
    second = ev.make_event(payload, tenant_id="acme", workspace_id="prod")
    assert second.event_id > envelope.event_id
    # Without a timestamp the envelope carries the ULID time of its id.
    assert second.timestamp_ms == second.event_time_ms
    assert (
        ev.make_event(
            payload, tenant_id="a", workspace_id="b", idempotency_key="k", timestamp_ms=1
        ).idempotency_key
        == "k"
    )
    with pytest.raises(InvalidArgument):
        ev.make_event(payload, tenant_id="a", workspace_id="b", event_id="not-a-ulid")


def test_event_ids_after_uses_fresh_ids_when_they_already_sort_after() -> None:
    from arco_core.ids import UlidGenerator

    gen = UlidGenerator()
    watermark = gen.new()
    ids = ev.event_ids_after(watermark, 3, new_id=gen.new)
    assert ids == sorted(ids) and len(set(ids)) == 3 and ids[0] > watermark
    assert ev.event_ids_after(None, 2, new_id=gen.new) < [gen.new()]
    assert ev.event_ids_after(watermark, 0) == []


def test_event_ids_after_jumps_past_a_watermark_from_a_faster_clock() -> None:
    from arco_core.clock import FakeClock
    from arco_core.ids import UlidGenerator, ulid_timestamp_ms

    ahead = UlidGenerator(FakeClock(2_000_000_000_000)).new()
    behind = UlidGenerator(FakeClock(1_000_000_000_000))
    ids = ev.event_ids_after(ahead, 4, new_id=behind.new)
    assert all(i > ahead for i in ids)
    assert ids == sorted(ids) and len(set(ids)) == 4
    assert {ulid_timestamp_ms(i) for i in ids} == {ulid_timestamp_ms(ahead) + 1}


def test_event_ids_after_refuses_non_monotonic_factories() -> None:
    with pytest.raises(InvalidArgument):
        ev.event_ids_after(None, 2, new_id=lambda: "01ARZ3NDEKTSV4RRFFQ69G5FAV")
    with pytest.raises(InvalidArgument):
        ev.event_ids_after(None, 1, new_id=lambda: "not-a-ulid")
    with pytest.raises(InvalidArgument):
        ev.event_ids_after(None, -1)
