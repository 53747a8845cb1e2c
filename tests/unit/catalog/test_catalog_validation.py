from __future__ import annotations

import uuid

import pytest

from arco_core.catalog import validation as v
from arco_core.catalog.events import new_uuid7
from arco_core.errors import InvalidArgument


def _msg(exc: pytest.ExceptionInfo[InvalidArgument]) -> str:
    return exc.value.message


@pytest.mark.parametrize("name", ["sales", "raw_events", "A-1", "_private", "x" * 255])
def test_valid_names(name: str) -> None:
    assert v.validate_name(name) == name


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("", "must not be empty"),
        ("x" * 256, "at most 255 bytes"),
        ("a.b", "may contain only"),
        ("a/b", "may contain only"),
        ("-lead", "may contain only"),
        ("white space", "may contain only"),
        ("tab\there", "may contain only"),
        (None, "name is required"),
        (42, "must be a string"),
    ],
)
def test_invalid_names(name: object, fragment: str) -> None:
    with pytest.raises(InvalidArgument) as exc:
        v.validate_create_namespace(name)
    assert fragment in _msg(exc)


def test_description_limits() -> None:
    assert v.validate_description("line one\nline two\ttab") == "line one\nline two\ttab"
    assert v.validate_description(None) is None
    with pytest.raises(InvalidArgument, match="at most 4096 bytes"):
        v.validate_description("é" * 2049)  # 4098 bytes
    with pytest.raises(InvalidArgument, match="control characters"):
        v.validate_description("bell\x07")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(None, "delta"), ("DELTA", "delta"), ("Iceberg", "iceberg"), ("parquet", "parquet")],
)
def test_format_is_case_insensitive_with_delta_default(raw: str | None, expected: str) -> None:
    assert v.validate_format(raw) == expected


def test_unknown_format_is_rejected() -> None:
    with pytest.raises(InvalidArgument, match="must be one of delta, iceberg, parquet"):
        v.validate_format("hudi")


def test_register_table_normalises_columns() -> None:
    request = v.validate_register_table(
        "orders",
        [
            {"name": "id", "data_type": "bigint", "nullable": False},
            {"name": "note", "data_type": "string", "description": "free text"},
            v.ColumnSpec("amount", "decimal(10,2)"),
        ],
        format="ICEBERG",
    )
    assert request.format == "iceberg"
    assert request.location is None
    assert [c.name for c in request.columns] == ["id", "note", "amount"]
    assert request.columns[0].nullable is False
    assert request.columns[1].nullable is True  # default
    assert request.columns[1].description == "free text"


@pytest.mark.parametrize(
    ("columns", "fragment"),
    [
        (None, "columns is required"),
        ([], "columns must not be empty"),
        ("id:int", "columns must be an array"),
        ([{"data_type": "int"}], "columns[0].name is required"),
        ([{"name": "id"}], "columns[0].data_type is required"),
        ([{"name": "", "data_type": "int"}], "columns[0].name must not be empty"),
        ([{"name": "id", "data_type": "int", "nullable": "yes"}], "nullable must be a boolean"),
        ([{"name": "a", "data_type": "int"}, {"name": "a", "data_type": "int"}], "duplicate"),
        ([{"name": "a\x00", "data_type": "int"}], "control characters"),
        (["id"], "columns[0] must be an object"),
    ],
)
def test_register_table_column_errors(columns: object, fragment: str) -> None:
    with pytest.raises(InvalidArgument) as exc:
        v.validate_register_table("t", columns)
    assert fragment in _msg(exc)


def test_location_only_on_schema_route() -> None:
    cols = [{"name": "id", "data_type": "int"}]
    with pytest.raises(InvalidArgument, match="location is not accepted"):
        v.validate_register_table("t", cols, location="s3://b/t")
    request = v.validate_register_table("t", cols, location="s3://b/t", allow_location=True)
    assert request.location == "s3://b/t"
    with pytest.raises(InvalidArgument, match="location must not be empty"):
        v.validate_register_table("t", cols, location="", allow_location=True)


def test_update_table() -> None:
    assert v.validate_update_table("new").description == "new"
    assert v.validate_update_table().description is None


def test_add_edges_defaults_and_limits() -> None:
    request = v.validate_add_edges([{"source_id": "a", "target_id": "b"}])
    assert request.edges[0].edge_type == "derives_from"
    assert request.edges[0].run_id is None
    assert len(v.validate_add_edges([{"source_id": "a", "target_id": "b"}] * 1000).edges) == 1000


@pytest.mark.parametrize(
    ("edges", "fragment"),
    [
        (None, "edges is required"),
        ([], "at least one edge"),
        ([{"source_id": "a", "target_id": "b"}] * 1001, "at most 1000 edges"),
        ([{"target_id": "b"}], "edges[0].source_id is required"),
        ([{"source_id": "", "target_id": "b"}], "edges[0].source_id must not be empty"),
        ([{"source_id": "a" * 257, "target_id": "b"}], "at most 256 bytes"),
        ([{"source_id": "a", "target_id": "b" * 257}], "edges[0].target_id must be at most"),
        ([{"source_id": "a", "target_id": "b", "edge_type": "t" * 65}], "at most 64 bytes"),
        ([{"source_id": "a", "target_id": "b", "edge_type": ""}], "edge_type must not be empty"),
        ([{"source_id": "a", "target_id": "b", "run_id": "r" * 257}], "run_id must be at most"),
        ([{"source_id": "a\n", "target_id": "b"}], "control characters"),
        ([{"source_id": "a", "target_id": "b\x7f"}], "control characters"),
    ],
)
def test_add_edges_errors(edges: object, fragment: str) -> None:
    with pytest.raises(InvalidArgument) as exc:
        v.validate_add_edges(edges)
    assert fragment in _msg(exc)


def test_lineage_limits_count_bytes_not_characters() -> None:
    # 128 two-byte characters are 256 bytes: allowed; one more byte is not.
    assert v.validate_add_edges([{"source_id": "é" * 128, "target_id": "b"}])
    with pytest.raises(InvalidArgument, match="at most 256 bytes"):
        v.validate_add_edges([{"source_id": "é" * 128 + "x", "target_id": "b"}])


def test_idempotency_key_must_be_uuid7() -> None:
    key = new_uuid7()
    assert v.validate_idempotency_key(key) == key
    assert v.validate_idempotency_key(key.upper()) == key
    assert v.validate_idempotency_key(None) is None
    for bad in [str(uuid.uuid4()), "not-a-uuid", "", key.replace("-", ""), "{" + key + "}"]:
        with pytest.raises(InvalidArgument, match="Idempotency-Key must be a UUIDv7"):
            v.validate_idempotency_key(bad)


def test_new_uuid7_layout() -> None:
    parsed = uuid.UUID(new_uuid7(1_767_225_600_000))
    assert parsed.version == 7
    assert parsed.variant == uuid.RFC_4122
    assert parsed.int >> 80 == 1_767_225_600_000
    assert len({new_uuid7(5) for _ in range(100)}) == 100
