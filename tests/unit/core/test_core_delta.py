"""The pure parts of Delta commit coordination: table roots, payloads, requests."""

from __future__ import annotations

import pytest

from arco_core.delta import (
    MAX_PAYLOAD_BYTES,
    delta_table_root,
    validate_commit_request,
    validate_payload,
)
from arco_core.errors import Conflict, InvalidArgument, PayloadTooLarge
from arco_core.paths import Scope

SCOPE = Scope("acme", "prod")
TABLE = "0190a5d1-ac96-774b-bcce-b302099a8057"
KEY = "01890a5d-ac96-774b-bcce-b302099a8057"


@pytest.mark.parametrize(
    ("location", "root"),
    [
        (None, f"tables/{TABLE}"),
        ("", f"tables/{TABLE}"),
        ("tables/sales", "tables/sales"),
        ("tables/sales/", "tables/sales"),
        ("s3://bucket/tenant=acme/workspace=prod/tables/sales", "tables/sales"),
        ("gs://bucket/tables/sales/", "tables/sales"),
        ("tenant=acme/workspace=prod/tables/a/b", "tables/a/b"),
    ],
)
def test_table_root_strips_the_store_and_the_scope(location: str | None, root: str) -> None:
    assert delta_table_root(SCOPE, TABLE, location) == root


@pytest.mark.parametrize(
    "location",
    [
        "tenant=other/workspace=prod/tables/sales",
        "tables/../ledger",
        "tables/a%2Fb",
        "tables\\sales",
        "tables/a\nb",
        "warehouse/sales",
        "ledger/catalog",
        "s3://bucket/",
    ],
)
def test_unusable_table_roots_are_conflicts(location: str) -> None:
    with pytest.raises(Conflict) as info:
        delta_table_root(SCOPE, TABLE, location)
    assert info.value.reason == "unsupported_table_location"


def test_payload_is_json_lines_of_objects_within_the_limit() -> None:
    assert validate_payload('{"add": {}}\n\n{"remove": {}}\n') == b'{"add": {}}\n\n{"remove": {}}\n'
    for bad in ("\ud800", "", "\n \n", "[]", '{"a": 1}\n{"a": 1, "a": 2}', "{nan}", '{"a": NaN}'):
        with pytest.raises(InvalidArgument) as info:
            validate_payload(bad)
        assert info.value.reason == "invalid_delta_payload", bad
    with pytest.raises(PayloadTooLarge):
        validate_payload('{"a": "' + "x" * MAX_PAYLOAD_BYTES + '"}')


def test_commit_request_validation() -> None:
    staged = f"delta/staging/{TABLE}/01ARZ3NDEKTSV4RRFFQ69G5FAV.json"
    request = validate_commit_request(TABLE, KEY, -1, staged, "v")
    assert request.version == 0
    # The request hash covers every field, so any change is another request.
    assert request.request_hash != validate_commit_request(TABLE, KEY, 0, staged, "v").request_hash
    cases = [
        ((TABLE.upper(), KEY, 0, staged, "v"), "invalid_table_id"),
        ((TABLE, None, 0, staged, "v"), "missing_idempotency_key"),
        ((TABLE, KEY.upper(), 0, staged, "v"), "invalid_idempotency_key"),
        ((TABLE, TABLE.replace("774b", "474b"), 0, staged, "v"), "invalid_idempotency_key"),
        ((TABLE, KEY, None, staged, "v"), "missing_field"),
        ((TABLE, KEY, -2, staged, "v"), "invalid_argument"),
        ((TABLE, KEY, 0, "delta/staging/other/x.json", "v"), "invalid_staged_path"),
        ((TABLE, KEY, 0, f"delta/staging/{TABLE}/../x.json", "v"), "invalid_staged_path"),
        ((TABLE, KEY, 0, staged, ""), "missing_field"),
    ]
    for args, reason in cases:
        with pytest.raises(InvalidArgument) as info:
            validate_commit_request(*args)  # type: ignore[arg-type]
        assert info.value.reason == reason, args
