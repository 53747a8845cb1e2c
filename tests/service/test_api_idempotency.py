"""The api's one Idempotency-Key store: first marker wins, a different request conflicts."""

from __future__ import annotations

import pytest

from arco_core.canonical_json import parse_json_object
from arco_core.clock import FakeClock
from arco_core.errors import Conflict
from arco_core.paths import Scope
from arco_core.storage import Role, ScopedStorage, open_object_store
from services.api.idempotency import IdempotencyMarkers, MarkerKey


@pytest.fixture
def storage() -> ScopedStorage:
    return ScopedStorage(open_object_store("memory://", {}), Scope("acme", "prod"), Role.API)


def _key(digest: str = "d1", op: str = "create_namespace") -> MarkerKey:
    key = IdempotencyMarkers.key("catalog.create_namespace", op, "k-1", digest)
    assert key is not None
    return key


async def test_a_call_without_a_key_has_no_marker() -> None:
    assert IdempotencyMarkers.key("manifests", "deploy_manifest", None, "d") is None
    assert IdempotencyMarkers.key("manifests", "deploy_manifest", "", "d") is None


async def test_first_marker_wins_and_is_read_back(storage: ScopedStorage) -> None:
    markers = IdempotencyMarkers(storage, FakeClock(1_000))
    assert await markers.held(_key()) is None
    first = await markers.reserve(_key(), {"entity_id": "e1"})
    again = await markers.reserve(_key(), {"entity_id": "e2"})
    assert again == first == await markers.held(_key())
    assert first == {
        "version": 1,
        "op": "create_namespace",
        "request_sha256": "d1",
        "created_at_ms": 1_000,
        "entity_id": "e1",
    }
    stored = parse_json_object(await storage.get(_key().path))
    assert stored == first and _key().path.startswith("idempotency/catalog.create_namespace/")


@pytest.mark.parametrize("other", [_key(digest="d2"), _key(op="register_table")])
async def test_a_key_reused_for_another_request_conflicts(
    storage: ScopedStorage, other: MarkerKey
) -> None:
    markers = IdempotencyMarkers(storage, FakeClock())
    await markers.reserve(_key(), {})
    for attempt in (markers.held(other), markers.reserve(other, {})):
        with pytest.raises(Conflict) as caught:
            await attempt
        assert caught.value.reason == "idempotency_key_conflict"
        assert str(caught.value) == "Idempotency-Key already used with different request body"
