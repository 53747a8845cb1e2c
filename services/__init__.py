"""The mesh's services.

They start child processes (the api's query workers, the launcher's services) while gRPC
threads run. gRPC's fork handlers serve only fork-without-exec, and running them here
broke the parent's TLS connections (TSI_DATA_CORRUPTED, handshakes closed), so they are
off unless the environment says otherwise. Set before anything imports grpc.
"""

import os

os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "0")
