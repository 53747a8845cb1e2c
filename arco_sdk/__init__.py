"""Arco SDK: what a data engineer installs — assets, manifests, the client, the worker
runtime and the ``arco`` CLI. It imports no service code."""
