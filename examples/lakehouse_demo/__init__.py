"""A small lakehouse pipeline for Arco.

    raw.events ─┐
                ├─> staging.cleaned_events ─┬─> marts.daily_metrics ───┐
    raw.users ──┘                           └─> marts.country_metrics ─┴─> marts.report

Every asset writes one Parquet file under the worker's output directory
(``ARCO_WORKER_OUTPUT_DIR``) and returns its row count. The raw data is generated
deterministically, so every run produces the same numbers.
"""
