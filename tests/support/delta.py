"""Delta Lake commit payloads for tests: a Parquet file and the actions that add it."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

SCHEMA = pa.schema([("id", pa.int64()), ("name", pa.string())])
_DELTA_SCHEMA = {
    "type": "struct",
    "fields": [
        {"name": "id", "type": "long", "nullable": True, "metadata": {}},
        {"name": "name", "type": "string", "nullable": True, "metadata": {}},
    ],
}


def write_parquet(table_dir: Path, name: str, rows: list[tuple[int, str]]) -> dict[str, object]:
    """Write ``rows`` to ``table_dir/name`` and return the Delta ``add`` action for it."""
    table_dir.mkdir(parents=True, exist_ok=True)
    data = pa.table({"id": [r[0] for r in rows], "name": [r[1] for r in rows]}, schema=SCHEMA)
    pq.write_table(data, table_dir / name)
    return {
        "add": {
            "path": name,
            "partitionValues": {},
            "size": (table_dir / name).stat().st_size,
            "modificationTime": int(time.time() * 1000),
            "dataChange": True,
        }
    }


def create_actions(table_id: str) -> list[dict[str, object]]:
    """The protocol and metadata actions of a table's first commit."""
    return [
        {"protocol": {"minReaderVersion": 1, "minWriterVersion": 2}},
        {
            "metaData": {
                "id": table_id,
                "format": {"provider": "parquet", "options": {}},
                "schemaString": json.dumps(_DELTA_SCHEMA),
                "partitionColumns": [],
                "configuration": {},
                "createdTime": int(time.time() * 1000),
            }
        },
    ]


def payload(actions: list[dict[str, object]]) -> str:
    return "".join(json.dumps(action) + "\n" for action in actions)
