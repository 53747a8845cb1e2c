"""Process-level helpers every Arco process shares: services, gateway and the SDK worker.

This package is neutral ground. It imports no domain code (`arco_core`), no service code and no
SDK code, so the gateway (which may not import the domain) and the SDK worker (which may not
import services) use the same logging set-up, settings declarations, retry policy, ready file
and wire helpers as the services do.
"""
