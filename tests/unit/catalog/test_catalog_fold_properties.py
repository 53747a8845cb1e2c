"""Property: any permutation/duplication of a valid history folds to the in-order state."""

from __future__ import annotations

import itertools

from catalog_support import Harness
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from arco_core.catalog import (
    CatalogState,
    fold,
    list_namespaces,
    list_tables,
    plan_add_edges,
    plan_create_catalog,
    plan_create_namespace,
    plan_create_schema,
    plan_delete_namespace,
    plan_drop_table,
    plan_register_schema_table,
    plan_register_table,
    plan_update_table,
    validate_add_edges,
    validate_create_catalog,
    validate_create_namespace,
    validate_create_schema,
    validate_register_table,
    validate_update_table,
)
from arco_core.catalog.projection import state_from_tables, state_to_tables
from arco_core.envelope import EventEnvelope
from arco_core.errors import ArcoError

KINDS = [
    "create_ns",
    "create_ns",
    "delete_ns",
    "create_catalog",
    "create_schema",
    "register",
    "register",
    "register",
    "register_in_schema",
    "update",
    "update",
    "drop",
    "edges",
]
COLUMNS = [{"name": "id", "data_type": "int"}, {"name": "v", "data_type": "string"}]


def _pick(data: st.DataObject, existing: list[str], fresh: list[str]) -> str:
    """Mostly an existing name (so the operation succeeds), sometimes another one."""
    return data.draw(
        st.sampled_from(sorted(existing) + fresh) if existing else st.sampled_from(fresh)
    )


def run_history(data: st.DataObject, steps: int) -> Harness:
    """Drive the API planners with state-aware random operations; refused ones append
    nothing, so the resulting event list is a valid in-order history."""
    h = Harness()
    for _ in range(steps):
        kind = data.draw(st.sampled_from(KINDS))
        s = h.state
        namespaces = [n.name for n in list_namespaces(s, limit=500).items]
        catalogs = [c.name for c in s.catalogs.values()]
        now = h.now_ms
        try:
            if kind == "create_ns":
                name = data.draw(st.sampled_from(["a", "b", "c"]))
                payloads = plan_create_namespace(s, validate_create_namespace(name), now_ms=now)
            elif kind == "delete_ns":
                payloads = plan_delete_namespace(s, _pick(data, namespaces, ["zz"]), now_ms=now)
            elif kind == "create_catalog":
                name = data.draw(st.sampled_from(["default", "lake"]))
                payloads = plan_create_catalog(s, validate_create_catalog(name), now_ms=now)
            elif kind == "create_schema":
                catalog = _pick(data, catalogs, ["nope"])
                name = data.draw(st.sampled_from(["a", "s"]))
                payloads = plan_create_schema(s, catalog, validate_create_schema(name), now_ms=now)
            elif kind in ("register", "update", "drop"):
                ns = _pick(data, namespaces, ["zz"])
                tables = (
                    [t.name for t in list_tables(s, ns, limit=500).items]
                    if ns in namespaces
                    else []
                )
                if kind == "register":
                    name = data.draw(st.sampled_from(["t1", "t2", "t3"]))
                    request = validate_register_table(name, COLUMNS)
                    payloads = plan_register_table(s, ns, request, now_ms=now)
                elif kind == "update":
                    update = validate_update_table(data.draw(st.sampled_from(["x", "y", None])))
                    payloads = plan_update_table(
                        s, ns, _pick(data, tables, ["t9"]), update, now_ms=now
                    )
                else:
                    payloads = plan_drop_table(s, ns, _pick(data, tables, ["t9"]), now_ms=now)
            elif kind == "register_in_schema":
                catalog = _pick(data, catalogs, ["nope"])
                schema = data.draw(st.sampled_from(["a", "s"]))
                request = validate_register_table(
                    "t1", COLUMNS, location="s3://b/t1", allow_location=True
                )
                payloads = plan_register_schema_table(s, catalog, schema, request, now_ms=now)
            else:
                pairs = data.draw(
                    st.lists(
                        st.tuples(st.sampled_from("ab"), st.sampled_from("bc")),
                        min_size=1,
                        max_size=3,
                    )
                )
                request = validate_add_edges([{"source_id": a, "target_id": b} for a, b in pairs])
                payloads = [plan_add_edges(request, now_ms=now)]
        except ArcoError:
            continue
        h.commit(payloads)
    return h


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.integers(min_value=1, max_value=40), data=st.data())
def test_permuted_and_duplicated_history_folds_to_same_state(
    steps: int, data: st.DataObject
) -> None:
    h = run_history(data, steps)
    in_order = h.state
    # Folding the whole history at once equals committing it step by step.
    assert fold(h.events).state == in_order

    shuffled = data.draw(st.permutations(h.events), label="permutation")
    duplicates = data.draw(
        st.lists(st.sampled_from(h.events), max_size=10) if h.events else st.just([]),
        label="duplicates",
    )
    mixed: list[EventEnvelope] = data.draw(st.permutations([*shuffled, *duplicates]), label="mixed")
    assert fold(mixed).state == in_order

    # Contiguous batches (in event_id order, each batch internally scrambled), each folded
    # into the previous result, also converge; re-delivering an old batch is harmless.
    cuts = sorted(data.draw(st.lists(st.integers(0, len(h.events)), max_size=4), label="cuts"))
    bounds = [0, *cuts, len(h.events)]
    state = CatalogState()
    for lo, hi in itertools.pairwise(bounds):
        batch = list(reversed(h.events[lo:hi]))
        state = fold(batch, state).state
        state = fold(h.events[:hi], state).state
    assert state == in_order

    # The snapshot projection round-trips the state exactly.
    assert (
        state_from_tables(state_to_tables(in_order), watermark_event_id=in_order.watermark_event_id)
        == in_order
    )
