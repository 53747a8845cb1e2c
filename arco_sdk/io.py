"""Where asset outputs live: one Parquet file per asset and partition under a root dir.

The location is a pure function of ``(asset key, partition key)``, so a downstream asset
finds what its upstream wrote without asking the control plane — the same way a table
location works in a lakehouse. A write goes to a temporary file in the same directory
and is renamed into place, so readers never see half a file and a retried attempt simply
replaces the previous output.
"""

from __future__ import annotations

import os
import tempfile
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.parquet as pq

from arco_core.ids import new_ulid
from arco_core.partition import PartitionKey

if TYPE_CHECKING:
    from arco_sdk.assets import AssetKey

__all__ = ["OutputInfo", "ParquetStore"]

_UNPARTITIONED = "_unpartitioned"


@dataclass(frozen=True, slots=True)
class OutputInfo:
    """What one write produced."""

    path: Path
    row_count: int
    byte_size: int
    materialization_id: str


class ParquetStore:
    """Reads and writes asset outputs under ``root``."""

    def __init__(self, root: Path | str, *, compression: str = "snappy") -> None:
        self.root = Path(root)
        self.compression = compression

    def path_for(self, key: AssetKey, partition: PartitionKey | None = None) -> Path:
        """``root/<namespace>/<name>/<partition dirs>/data.parquet``."""
        base = self.root / key.namespace / key.name
        if partition is None or len(partition) == 0:
            return base / _UNPARTITIONED / "data.parquet"
        for name, value in partition:
            # The tagged value is path-safe except for ':' (and '/' never occurs:
            # strings are base64url). Quote it anyway so the mapping stays reversible.
            base = base / f"{name}={urllib.parse.quote(value.encode(), safe='-_.')}"
        return base / "data.parquet"

    def write(
        self, key: AssetKey, table: pa.Table, partition: PartitionKey | None = None
    ) -> OutputInfo:
        target = self.path_for(key, partition)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".write-", suffix=".parquet")
        os.close(fd)
        try:
            pq.write_table(table, tmp, compression=self.compression)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return OutputInfo(
            path=target,
            row_count=int(table.num_rows),
            byte_size=target.stat().st_size,
            materialization_id=new_ulid(),
        )

    def exists(self, key: AssetKey, partition: PartitionKey | None = None) -> bool:
        return self.path_for(key, partition).is_file()

    def read(self, key: AssetKey, partition: PartitionKey | None = None) -> pa.Table:
        path = self.path_for(key, partition)
        if not path.is_file():
            raise FileNotFoundError(f"no output for {key} at {path}: has it been materialized?")
        return pq.read_table(path)

    def row_count(self, key: AssetKey, partition: PartitionKey | None = None) -> int:
        return int(pq.ParquetFile(self.path_for(key, partition)).metadata.num_rows)
