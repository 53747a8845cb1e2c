"""The compactor: the only code that writes Parquet state, snapshots and manifests."""
