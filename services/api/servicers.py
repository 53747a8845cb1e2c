"""The api's public gRPC services, one module each."""

from __future__ import annotations

from services.api.browser import BrowserServicer
from services.api.callbacks import TaskCallbackServicer
from services.api.catalog import CatalogServicer
from services.api.orchestration import OrchestrationServicer
from services.api.query import QueryServicer

__all__ = [
    "BrowserServicer",
    "CatalogServicer",
    "OrchestrationServicer",
    "QueryServicer",
    "TaskCallbackServicer",
]
