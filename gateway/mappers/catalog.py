"""Catalog, namespace, table, lineage and Delta commit families: snake_case, entities unwrapped.

The api wraps each entity (``CreateNamespaceResponse{namespace}``); the public shape is
the entity itself. Creates answer 201, deletes 204 with no body.
"""

from __future__ import annotations

from gateway.mappers.render import Casing, View

LIST = View(Casing.SNAKE)
NAMESPACE = View(Casing.SNAKE, unwrap="namespace")
TABLE = View(Casing.SNAKE, unwrap="table")
CATALOG = View(Casing.SNAKE, unwrap="catalog")
SCHEMA = View(Casing.SNAKE, unwrap="schema")
LINEAGE = View(Casing.SNAKE)
EDGES_ADDED = View(Casing.SNAKE)
DELTA_STAGED = View(Casing.SNAKE)
DELTA_COMMITTED = View(Casing.SNAKE)
INVENTORY = View(Casing.SNAKE)
