"""python -m services.api.query_worker CAP_BYTES: one query worker of the api's pool.

Started by :class:`arco_core.query.pool.QueryPool`, never by hand. The address-space cap
(``RLIMIT_AS``) and the lower CPU priority are applied here, before DataFusion is
imported: its allocator reserves address space when it loads, so a cap applied later
would not hold. Only then is the worker loop (:mod:`arco_core.query.worker`) imported.
"""

from __future__ import annotations

import os
import resource
import sys

# Queries yield the CPU to the control plane (callbacks, reads) of the same host.
NICENESS = 10


def main(argv: list[str]) -> int:
    if len(argv) != 1 or not argv[0].isdigit():
        print("usage: python -m services.api.query_worker CAP_BYTES", file=sys.stderr)
        return 2
    cap = int(argv[0])
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    os.nice(NICENESS)
    # Deliberately late: DataFusion must load under the cap.
    from arco_core.query.worker import serve  # noqa: PLC0415

    return serve(cap)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
