"""Parquet artifacts: deterministic bytes, content-addressed immutable names."""

from __future__ import annotations

import hashlib
import io

import pyarrow as pa
import pyarrow.parquet as pq

from arco_core.published import Artifact

WRITER_METADATA = {b"created_by": b"arco-mesh"}


# Below this many rows dictionary pages cost more to write than they save (most of an
# L0 delta is a handful of rows).
DICTIONARY_MIN_ROWS = 1000


def table_to_parquet(table: pa.Table) -> bytes:
    buffer = io.BytesIO()
    metadata = {**(table.schema.metadata or {}), **WRITER_METADATA}
    # Snappy keeps the files readable by every engine we ship, DuckDB-WASM included.
    pq.write_table(
        table.replace_schema_metadata(metadata),
        buffer,
        compression="snappy",
        use_dictionary=table.num_rows >= DICTIONARY_MIN_ROWS,
    )
    return buffer.getvalue()


def artifact_for(directory: str, stem: str, table: pa.Table) -> tuple[Artifact, bytes]:
    """The immutable artifact ``{directory}/{stem}.{sha12}.parquet`` and its bytes."""
    data = table_to_parquet(table)
    digest = hashlib.sha256(data).hexdigest()
    artifact = Artifact(
        path=f"{directory}/{stem}.{digest[:12]}.parquet",
        rows=table.num_rows,
        bytes=len(data),
        sha256=f"sha256:{digest}",
    )
    return artifact, data
