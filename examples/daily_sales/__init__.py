"""A daily-partitioned asset for Arco's backfills: each partition is one day of orders.

    sales.daily_orders (partitioned by date, one run per day or per chunk of days)

``make demo`` backfills three of its days; by hand::

    arco backfill create sales.daily_orders --start 2026-01-01 --end 2026-01-03 --wait
"""
