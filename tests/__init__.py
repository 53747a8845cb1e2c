"""The test suite. It starts services as child processes while its own gRPC channels are
open: gRPC's fork handlers are off for the reason given in ``services/__init__.py``."""

import os

os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "0")
