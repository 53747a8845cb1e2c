"""Process-level helpers every Arco process shares: services, gateway and the SDK worker.

This package is neutral ground. It imports no domain code (`arco_core`), no service code and no
SDK code, so the gateway (which may not import the domain or the services) and the SDK worker
(which may not import services) use the same helpers as the services do:

- ``settings``: one ``Setting`` row per environment variable, and the rows several kinds of
  process share;
- ``logging``: ``configure_logging``;
- ``process``: the ready file and late-signal handling;
- ``retry``: ``RetryPolicy``;
- ``identity``: the caller identity the gateway signs and the api verifies.
"""
